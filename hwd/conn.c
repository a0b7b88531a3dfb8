/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's device connections: the TCP and TLS listeners, accepting and
 * refusing devices, and per connection its life (timeouts, closing), its
 * input cut into Blynk frames (PROTOCOL.md section 1) and its output.  What
 * a frame means is conn_session.c's; the OTA command is conn_ota.c's; the
 * decisions are policy.c's.  Every frame hwd sends goes out in one write;
 * a connection's unsent output and its unread input are bounded.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "gate.h"
#include "hwd.h"
#include "log.h"
#include "proto.h"
#include "tls.h"

/*
 * Output: the kernel holds at most HWD_SNDBUF (doubled by Linux) per
 * device, libuv at most HWD_QUEUE_LIMIT more; a device that stops reading
 * is closed when both are full, never buffered without limit.
 */
#define HWD_QUEUE_LIMIT		(16 * 1024)	/* bytes libuv holds */
#define HWD_SNDBUF		(16 * 1024)
#define HWD_REFUSE_LOG_S	10

struct hwd_listener {
	uv_tcp_t	 tcp[NETADDR_MAX_LISTEN];
	int		 n;
	SSL_CTX		*ctx;		/* NULL: plain TCP */
};

static void	hwd_conn_accept(uv_stream_t *, int);
static void	hwd_conn_read(struct stream *, const char *, size_t);
static void	hwd_conn_eof(struct stream *);
static void	hwd_conn_drained(struct stream *);
static void	hwd_conn_closed(struct stream *);
static long	hwd_conn_frames(struct hwd_conn *, const char *, size_t);
static void	hwd_conn_detach(struct hwd_conn *);

static const struct stream_ops hwd_conn_ops = {
	.on_read = hwd_conn_read,
	.on_eof = hwd_conn_eof,
	.on_drain = hwd_conn_drained,
	.on_close = hwd_conn_closed,
};

static struct hwd_listener hwd_plain, hwd_tls;
static LIST_HEAD(, hwd_conn) hwd_conns = LIST_HEAD_INITIALIZER(hwd_conns);
static unsigned		 hwd_nconns;
static uint64_t		 hwd_refused;		/* past max_connections or
							 * per address */
static struct gate	 hwd_gate;
static uint64_t		 hwd_next_conn_id;

static int
hwd_conn_listen_on(struct hwd_listener *l, const char *list, const char *what)
{
	char	 err[256];

	l->n = stream_listen(hwd_env.loop, list, l->tcp, NETADDR_MAX_LISTEN,
	    hwd_conn_accept, l, err, sizeof(err));
	if (l->n == -1) {
		log_warnx("%s: %s", what, err);
		return -1;
	}
	for (int i = 0; i < l->n; i++)
		if (gate_add_listener(&hwd_gate, (uv_stream_t *)&l->tcp[i]) ==
		    -1)
			log_warnx("%s: no spare descriptor", what);
	log_info("listening for devices on %s%s", list,
	    l->ctx ? " (TLS)" : "");
	return 0;
}

int
hwd_conn_listen(void)
{
	struct cfg	*cfg = &hwd_env.cfg;
	char		 err[256];

	if (gate_start(&hwd_gate, hwd_env.loop, "devices",
	    gate_cap(gate_nofile(), 1, 0), cfg->hwd.max_connections,
	    cfg->hwd.max_connections_per_address,
	    "[hwd] max_connections_per_address") == -1)
		return -1;
	if (*cfg->hwd.listen != '\0' &&
	    hwd_conn_listen_on(&hwd_plain, cfg->hwd.listen, "[hwd] listen") == -1)
		return -1;
	if (*cfg->hwd.tls_listen == '\0')
		return 0;
	if ((hwd_tls.ctx = tls_server_ctx(cfg->hwd.tls_cert, cfg->hwd.tls_key,
	    err, sizeof(err))) == NULL) {
		log_warnx("[hwd] tls_listen: %s", err);
		return -1;
	}
	return hwd_conn_listen_on(&hwd_tls, cfg->hwd.tls_listen,
	    "[hwd] tls_listen");
}

static void
hwd_conn_unlisten(struct hwd_listener *l)
{
	for (int i = 0; i < l->n; i++)
		if (!uv_is_closing((uv_handle_t *)&l->tcp[i]))
			uv_close((uv_handle_t *)&l->tcp[i], NULL);
	l->n = 0;
}

/* Stops accepting and closes every device connection. */
void
hwd_conn_stop(void)
{
	struct hwd_conn	*c;

	hwd_conn_unlisten(&hwd_plain);
	hwd_conn_unlisten(&hwd_tls);
	gate_stop(&hwd_gate);
	LIST_FOREACH(c, &hwd_conns, all_entry)
		hwd_conn_close(c);
	SSL_CTX_free(hwd_tls.ctx);
	hwd_tls.ctx = NULL;
}

static void
hwd_conn_refused_closed(uv_handle_t *h)
{
	free(h);
}

/* Past max_connections: take the connection off the queue and close it. */
static void
hwd_conn_refuse(uv_stream_t *server)
{
	static uint64_t	 last_log;
	uv_tcp_t	*t;
	uint64_t	 now = uv_now(hwd_env.loop);

	if ((t = malloc(sizeof(*t))) == NULL)
		return;
	uv_tcp_init(hwd_env.loop, t);
	uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, hwd_conn_refused_closed);
	if (hwd_env.stopping)
		return;
	hwd_refused++;
	if (last_log == 0 || now - last_log >= HWD_REFUSE_LOG_S * 1000) {
		log_warnx("max_connections (%u) reached: refusing devices "
		    "(%llu refused since start)",
		    hwd_env.cfg.hwd.max_connections,
		    (unsigned long long)hwd_refused);
		last_log = now;
	}
}

/* Calls cb for every connection; cb may not close one. */
void
hwd_conn_foreach(void (*cb)(struct hwd_conn *, void *), void *arg)
{
	struct hwd_conn	*c;

	LIST_FOREACH(c, &hwd_conns, all_entry)
		cb(c, arg);
}

/* For CTL_HWD_STATS. */
unsigned
hwd_conn_count(void)
{
	return hwd_nconns;
}

uint64_t
hwd_conn_refused(void)
{
	return hwd_refused;
}

/* A small kernel send buffer: device frames are tiny, and a device that
 * stops reading must show in write_queue_size soon. */
static void
hwd_conn_sndbuf(struct hwd_conn *c)
{
	uv_os_fd_t	 fd;
	int		 size = HWD_SNDBUF;

	if (uv_fileno((uv_handle_t *)&c->stream.tcp, &fd) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) == -1)
		log_debug("SO_SNDBUF: %s", strerror(errno));
}

static void
hwd_conn_accept(uv_stream_t *server, int status)
{
	struct hwd_listener	*l = server->data;
	struct hwd_conn		*c;
	struct sockaddr_storage	 ss;
	char			 addr[NETADDR_STRLEN];

	if (!gate_admit(&hwd_gate, server, status))
		return;		/* waits for a free descriptor */
	if (hwd_env.stopping || hwd_nconns >= hwd_env.cfg.hwd.max_connections ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		hwd_conn_refuse(server);
		return;
	}
	if (stream_accept(server, &c->stream, l->ctx, &hwd_conn_ops, c) == -1) {
		free(c);
		return;
	}
	c->id = ++hwd_next_conn_id;
	c->state = HWD_CONN_NEW;
	c->since = hwd_timeout_now();
	c->buff_in = HWD_PROTO_DEFAULT_BUFF_IN;
	hwd_conn_sndbuf(c);
	if (stream_peer_addr(&c->stream, &ss) == 0)
		memcpy(&c->remote, &ss, sizeof(c->remote));
	LIST_INSERT_HEAD(&hwd_conns, c, all_entry);
	hwd_nconns++;
	hwd_timeout_add(c);
	if (gate_enter(&hwd_gate, &c->remote.sa) == -1) {
		hwd_refused++;
		hwd_conn_close(c);
		return;
	}
	if (log_verbose()) {
		hwd_conn_remote(c, addr, sizeof(addr));
		log_debug("connection %llu from %s%s", (unsigned long long)c->id,
		    addr, l->ctx ? " (TLS)" : "");
	}
}

void
hwd_conn_remote(struct hwd_conn *c, char *out, size_t len)
{
	if (c->remote.sa.sa_family == 0)
		snprintf(out, len, "unknown");
	else
		netaddr_format(&c->remote.sa, out, len, 1);
}

void
hwd_conn_local(struct hwd_conn *c, char *out, size_t len)
{
	struct sockaddr_storage	 ss;

	if (stream_local_addr(&c->stream, &ss) == -1)
		snprintf(out, len, "unknown");
	else
		netaddr_format((struct sockaddr *)&ss, out, len, 1);
}

/* A line with the DEVICE_ID, DEVICE_NAME and REMOTE_ADDR fields, whose
 * text names a logged-in device too: "device 42 \"kitchen\" logged out",
 * "device 42 \"kitchen\": closing: ..."; device text in it is escaped by
 * log.c, as on every line. */
void
hwd_conn_log(struct hwd_conn *c, int prio, const char *fmt, ...)
{
	char		 msg[1024], idf[48], namef[160], addrf[96];
	char		 addr[NETADDR_STRLEN];
	const char	*fields[4], *text;
	int		 n = 0, said;
	va_list		 ap;

	if (prio == LOG_DEBUG && !log_verbose())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text = msg;
	if (c->device != NULL) {
		snprintf(idf, sizeof(idf), "DEVICE_ID=%llu",
		    (unsigned long long)c->device->id);
		snprintf(namef, sizeof(namef), "DEVICE_NAME=%s",
		    c->device->name);
		fields[n++] = idf;
		fields[n++] = namef;
	}
	hwd_conn_remote(c, addr, sizeof(addr));
	snprintf(addrf, sizeof(addrf), "REMOTE_ADDR=%s", addr);
	fields[n++] = addrf;
	fields[n] = NULL;
	if (c->device == NULL) {
		log_fields(prio, fields, "%s", msg);
		return;
	}
	said = strncmp(msg, "device ", 7) == 0;
	if (said)
		text += 7;
	log_fields(prio, fields, "device %llu \"%s\"%s%s",
	    (unsigned long long)c->device->id, c->device->name,
	    said ? " " : ": ", text);
}

/* Timeouts (timeout.c asks). */
uint32_t
hwd_conn_deadline(struct hwd_conn *c)
{
	return hwd_policy_deadline(c, hwd_env.cfg.hwd.login_timeout,
	    hwd_env.cfg.hwd.idle_timeout);
}

void
hwd_conn_expire(struct hwd_conn *c)
{
	switch (c->state) {
	case HWD_CONN_NEW:
	case HWD_CONN_AUTH:
		hwd_conn_log(c, LOG_DEBUG, "no login within %u s, closing",
		    hwd_env.cfg.hwd.login_timeout);
		break;
	case HWD_CONN_ONLINE:
		hwd_conn_log(c, LOG_INFO, "device silent for %u s, closing",
		    hwd_proto_idle_timeout(c->h_beat,
		    hwd_env.cfg.hwd.idle_timeout));
		break;
	}
	hwd_conn_close(c);
}

/* admind deleted the device or rotated its token: the connection goes. */
void
hwd_conn_drop(struct hwd_conn *c, const char *why)
{
	hwd_conn_log(c, LOG_INFO, "closing: %s", why);
	hwd_conn_close(c);
}

/* Closing: report the logout, then close the handle; freed in closed(). */
void
hwd_conn_close(struct hwd_conn *c)
{
	hwd_conn_detach(c);
	c->state = HWD_CONN_CLOSING;
	hwd_timeout_remove(c);
	stream_close(&c->stream);
}

/* Sends the last reply and closes as soon as it is written (a refused
 * login holds no descriptor longer); the linger (policy.c) bounds a device
 * that does not read it. */
void
hwd_conn_finish(struct hwd_conn *c)
{
	hwd_conn_detach(c);
	c->state = HWD_CONN_CLOSING;
	c->since = hwd_timeout_now();
	hwd_timeout_add(c);
	stream_shutdown(&c->stream);
	if (c->stream.queued == 0)
		hwd_conn_close(c);
}

static void
hwd_conn_drained(struct stream *s)
{
	struct hwd_conn	*c = s->data;

	if (c->state == HWD_CONN_CLOSING && s->write_shut)
		hwd_conn_close(c);
}

static void
hwd_conn_detach(struct hwd_conn *c)
{
	if (c->device == NULL)
		return;
	hwd_conn_log(c, LOG_INFO, "device logged out");
	/* the pin values first: admind answers a login of the device through
	 * another worker once this one's close is heard, with them */
	if (c->device->nconns == 1 && c->device->npins > 0 &&
	    hwd_admind_pins(c->device) == 0)
		hwd_pins_free(c->device);
	hwd_admind_offline(c);
	hwd_devices_detach(c);
}

static void
hwd_conn_free(struct hwd_conn *c)
{
	buf_free(&c->carry);
	hwd_bridge_free(c);
	free(c->info);
	free(c);
}

static void
hwd_conn_closed(struct stream *s)
{
	struct hwd_conn	*c = s->data;

	hwd_conn_detach(c);
	hwd_timeout_remove(c);
	LIST_REMOVE(c, all_entry);
	hwd_nconns--;
	gate_leave(&hwd_gate, &c->remote.sa);
	c->closed = 1;
	c->state = HWD_CONN_CLOSING;
	if (log_verbose())
		log_debug("connection %llu closed", (unsigned long long)c->id);
	if (!c->auth_pending)
		hwd_conn_free(c);
}

/* An admind reply that held c came: 0 when c is still open, -1 when it
 * was closed meanwhile (and is freed now). */
int
hwd_conn_release(struct hwd_conn *c)
{
	c->auth_pending = 0;
	if (c->closed) {
		hwd_conn_free(c);
		return -1;
	}
	return c->state == HWD_CONN_CLOSING ? -1 : 0;
}

static void
hwd_conn_eof(struct stream *s)
{
	hwd_conn_close(s->data);
}

/* One frame in one write; -1 when the connection closed. */
int
hwd_conn_send(struct hwd_conn *c, const void *p, size_t len)
{
	size_t	 held;

	if (c->state == HWD_CONN_CLOSING && c->stream.write_shut)
		return -1;
	held = uv_stream_get_write_queue_size((uv_stream_t *)&c->stream.tcp);
	if (held + len > HWD_QUEUE_LIMIT) {
		hwd_conn_log(c, LOG_INFO, "device stopped reading (%zu bytes "
		    "unsent), closing", held);
		hwd_conn_close(c);
		return -1;
	}
	if (stream_write(&c->stream, p, len) == -1) {
		if (c->state != HWD_CONN_CLOSING)
			hwd_conn_log(c, LOG_DEBUG, "cannot write to the "
			    "device, closing");
		hwd_conn_close(c);
		return -1;
	}
	return 0;
}

int
hwd_conn_respond(struct hwd_conn *c, uint16_t msg_id, uint16_t status)
{
	uint8_t	 frame[HWD_PROTO_HEADER_LEN];

	hwd_proto_response(frame, msg_id, status);
	return hwd_conn_send(c, frame, sizeof(frame));
}

/* Reading: frames straight from the loop's buffer, a split one carried. */

static void
hwd_conn_read(struct stream *s, const char *p, size_t len)
{
	struct hwd_conn	*c = s->data;
	long		 used;

	if (c->state == HWD_CONN_CLOSING)
		return;			/* draining: discard */
	if (c->state == HWD_CONN_ONLINE)
		c->since = hwd_timeout_now();
	if (c->carry.len == 0 && !c->auth_pending) {
		if ((used = hwd_conn_frames(c, p, len)) == -1)
			return;
		p += used;
		len -= (size_t)used;
		if (len == 0)
			return;
	}
	if (c->carry.len + len > hwd_policy_carry_max(hwd_env.cfg.hwd.max_body)
	    || buf_add(&c->carry, p, len) == -1) {
		hwd_conn_log(c, LOG_DEBUG, "too much unread input, closing");
		hwd_conn_close(c);
		return;
	}
	if (!c->auth_pending)
		hwd_conn_carry_frames(c);
}

/* Handles the whole frames of the carry buffer. */
void
hwd_conn_carry_frames(struct hwd_conn *c)
{
	long	 used;

	if ((used = hwd_conn_frames(c, c->carry.data, c->carry.len)) == -1)
		return;
	buf_consume(&c->carry, (size_t)used);
	if (c->carry.len == 0)
		buf_free(&c->carry);	/* idle again: hold no memory */
}

/* Bytes of whole frames handled, or -1 when the connection closed. */
static long
hwd_conn_frames(struct hwd_conn *c, const char *p, size_t len)
{
	struct hwd_frame f;
	size_t		 off = 0;
	long		 n;

	while (off < len && !c->auth_pending) {
		n = hwd_proto_decode(p + off, len - off, hwd_policy_max_body(
		    c->state, hwd_env.cfg.hwd.max_body), &f);
		if (n == 0)
			break;
		if (n < 0) {
			hwd_conn_log(c, LOG_DEBUG, "%s, closing",
			    n == HWD_PROTO_EMSGID ? "frame with msg_id 0" :
			    "frame body over max_body");
			hwd_conn_close(c);
			return -1;
		}
		if (hwd_conn_dispatch(c, &f) == -1 ||
		    c->state == HWD_CONN_CLOSING)
			return -1;
		off += (size_t)n;
	}
	return (long)off;
}
