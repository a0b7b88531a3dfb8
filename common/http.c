/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x server connections over llhttp (see http.h), run by admind (over
 * TLS) and fwstore (plain).  One request is handled at a time: the parser
 * pauses after the head until the handler answers or accepts the body, and
 * after the message until the answer is queued; input that arrives
 * meanwhile is kept and fed again on resumption.  A connection that will
 * not be kept ends with a lingering close, so clients read our answer.
 * This file holds the connections, that flow and their timers; reading a
 * request is http_parse.c's, writing an answer http_write.c's.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llhttp.h"
#include <uv.h>

#include "buf.h"
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "netaddr.h"
#include "stream.h"

#define HTTP_HEAD_MS_DEFAULT	10000
#define HTTP_IDLE_MS_DEFAULT	60000
#define HTTP_LINGER_MS		2000
#define HTTP_MAX_INBUF		(256 * 1024)
#define HTTP_MAX_STRANGERS	16	/* open at once, told 403 */
#define HTTP_BUSY_RETRY_S	"10"

static void	http_on_conn(uv_stream_t *, int);
static int	http_conn_admit(struct http_conn *, int);
static void	http_conn_peer(struct http_conn *);
static void	http_on_read(struct stream *, const char *, size_t);
static void	http_on_eof(struct stream *);
static void	http_on_not_tls(struct stream *, const char *, size_t);
static void	http_on_drain(struct stream *);
static void	http_on_stream_close(struct stream *);
static void	http_on_timer_close(uv_handle_t *);
static void	http_kick_cb(uv_timer_t *);
static void	http_proceed(struct http_conn *);
static int	http_can_proceed(struct http_conn *);
static void	http_head_timeout_cb(uv_timer_t *);
static void	http_close_cb(uv_timer_t *);

static const struct stream_ops http_stream_ops = {
	.on_read = http_on_read,
	.on_eof = http_on_eof,
	.on_drain = http_on_drain,
	.on_close = http_on_stream_close,
	.on_not_tls = http_on_not_tls,
};

int
http_server_start(struct http_server *srv, const char *listen, char *err,
    size_t errlen)
{
	unsigned cap;
	int	 n;

	cap = srv->conn_cap != 0 ? srv->conn_cap : gate_cap(gate_nofile(), 1, 0);
	if (gate_start(&srv->gate, srv->loop, srv->what ? srv->what : "http",
	    cap, srv->max_conns, srv->per_address, srv->per_address_key ?
	    srv->per_address_key : "max_connections_per_address") == -1) {
		snprintf(err, errlen, "cannot start the connection gate");
		return -1;
	}
	n = stream_listen(srv->loop, listen, srv->listeners,
	    (int)(sizeof(srv->listeners) / sizeof(srv->listeners[0])),
	    http_on_conn, srv, err, errlen);
	if (n == -1)
		return -1;
	srv->nlisteners = n;
	for (int i = 0; i < srv->nlisteners; i++)
		if (gate_add_listener(&srv->gate,
		    (uv_stream_t *)&srv->listeners[i]) == -1)
			log_warnx("%s: no spare descriptor", srv->what ?
			    srv->what : "http");
	return 0;
}

void
http_conn_close(struct http_conn *c)
{
	const struct http_handler *h = c->server->handler;

	if (c->stream.closing)
		return;
	uv_timer_stop(&c->timer);
	if (h->on_closing != NULL)
		h->on_closing(c);
	stream_close(&c->stream);
}

/* Connections. */

static void
http_on_conn(uv_stream_t *listener, int status)
{
	struct http_server	*srv = listener->data;
	struct http_xconn	*x;
	struct http_conn	*c;
	int			 full;

	if (!gate_admit(&srv->gate, listener, status))
		return;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warn("http: connection");
		return;
	}
	c = &x->conn;
	full = srv->max_conns != 0 && srv->nconns >= srv->max_conns;
	if (stream_accept(listener, &c->stream, full ? NULL : srv->tls,
	    &http_stream_ops, c) == -1) {
		free(x);
		return;
	}
	srv->nconns++;
	c->server = srv;
	http_parser_start(c);
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	http_conn_peer(c);
	if (http_conn_admit(c, full) == 0)
		http_arm(c);
}

static void
http_conn_peer(struct http_conn *c)
{
	if (stream_peer_addr(&c->stream, &c->peer) == 0)
		netaddr_format((struct sockaddr *)&c->peer, c->peer_str,
		    sizeof(c->peer_str), 0);
	else
		snprintf(c->peer_str, sizeof(c->peer_str), "?");
	c->client = c->peer;
}

/*
 * Past max_conns: closed.  Not in the acl: a few are told 403 by the
 * handler, the rest closed before TLS.  Past the limit per address: 503
 * with Retry-After over plain HTTP, closed over TLS.  0: go on.
 */
static int
http_conn_admit(struct http_conn *c, int full)
{
	struct http_server	*srv = c->server;
	struct sockaddr		*peer = (struct sockaddr *)&c->peer;
	static const char	 busy[] = "Too many connections from your "
	    "address; retry later\n";
	int			 over;

	over = gate_enter(&srv->gate, peer) == -1;
	if (full) {
		log_debug("http: %u connections, refusing one", srv->nconns - 1);
		http_conn_close(c);
		return -1;
	}
	if (srv->acl != NULL && !netaddr_acl_match(srv->acl, peer) &&
	    (srv->trusted == NULL || !netaddr_acl_match(srv->trusted, peer))) {
		if (srv->nstrangers >= HTTP_MAX_STRANGERS) {
			gate_refused(&srv->gate, GATE_WHY_ACL, peer);
			http_conn_close(c);
			return -1;
		}
		c->stranger = 1;
		srv->nstrangers++;
	}
	if (!over)
		return 0;
	c->brief = 1;	/* holds no slot while the flood goes on */
	if (srv->tls != NULL || http_refuse(c, 503, "text/plain",
	    "Retry-After: " HTTP_BUSY_RETRY_S "\r\n", busy,
	    sizeof(busy) - 1) == -1)
		http_conn_close(c);
	return -1;
}

static void
http_on_read(struct stream *s, const char *p, size_t n)
{
	struct http_conn	*c = s->data;
	struct http_xconn	*x = XCONN(c);

	if (c->lingering) {
		http_discard(c, n);
		return;
	}
	if (x->paused || x->inbuf.len > 0) {
		/* only the rest of one read arrives after stream_pause() */
		if (x->inbuf.len + n > HTTP_MAX_INBUF ||
		    buf_add(&x->inbuf, p, n) == -1)
			http_conn_close(c);
		return;
	}
	http_feed(c, p, n);
}

/* Plain HTTP sent to the HTTPS port: a clear-text line that says which
 * URL to use, where curl would otherwise show an empty reply. */
static void
http_on_not_tls(struct stream *s, const char *p, size_t n)
{
	struct http_conn	*c = s->data;
	struct sockaddr_storage	 local;
	char			 addr[NETADDR_STRLEN] = "HOST:PORT", body[160];
	int			 len;

	if (stream_local_addr(&c->stream, &local) == 0)
		netaddr_format((struct sockaddr *)&local, addr, sizeof(addr), 1);
	len = snprintf(body, sizeof(body), "This is an HTTPS port: use "
	    "https://%s/\n", addr);
	log_debug("http: %s: plain HTTP on the HTTPS port", c->peer_str);
	if (http_refuse(c, 400, "text/plain", NULL, body, (size_t)len) == -1)
		http_conn_close(c);
}

static void
http_on_eof(struct stream *s)
{
	struct http_conn	*c = s->data;
	struct http_xconn	*x = XCONN(c);

	if (c->lingering) {
		if (c->stream.queued == 0)
			http_conn_close(c);
		return;		/* closed when the answer drained */
	}
	/* a half-closed client still gets the answer to a whole request */
	if (c->state == HTTP_S_DONE || (c->state == HTTP_S_HANDLER && !x->has_body)) {
		x->peer_eof = 1;
		return;
	}
	if (c->stream.queued > 0)
		http_linger(c);		/* let the last answer out */
	else
		http_conn_close(c);
}

static void
http_on_drain(struct stream *s)
{
	struct http_conn	*c = s->data;
	struct http_xconn	*x = XCONN(c);

	if (c->lingering) {
		if (c->stream.eof || c->brief)
			http_conn_close(c);
		else
			http_arm(c);
		return;
	}
	if (c->streaming) {
		http_arm(c);
		if (c->server->handler->on_drain != NULL)
			c->server->handler->on_drain(c);
		return;
	}
	if (x->paused)
		http_kick(c);
}

static void
http_on_stream_close(struct stream *s)
{
	struct http_conn	*c = s->data;

	uv_close((uv_handle_t *)&c->timer, http_on_timer_close);
}

static void
http_on_timer_close(uv_handle_t *h)
{
	struct http_conn	*c = h->data;
	struct http_xconn	*x = XCONN(c);

	if (c->server->handler->on_close != NULL)
		c->server->handler->on_close(c);
	if (!c->lingering)
		c->server->nconns--;
	if (c->stranger)
		c->server->nstrangers--;
	gate_leave(&c->server->gate, (struct sockaddr *)&c->peer);
	buf_free(&c->field);
	buf_free(&c->value);
	buf_free(&x->url);
	buf_free(&x->heads);
	buf_free(&x->inbuf);
	free(x);
}

/* Flow: resuming the parser after the handler or the socket moved. */

void
http_kick(struct http_conn *c)
{
	if (c->stream.closing || c->lingering)
		return;
	XCONN(c)->kick_pending = 1;
	uv_timer_start(&c->timer, http_kick_cb, 0, 0);
}

static void
http_kick_cb(uv_timer_t *t)
{
	struct http_conn	*c = t->data;

	XCONN(c)->kick_pending = 0;
	http_proceed(c);
	http_arm(c);
}

static int
http_can_proceed(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	if (!x->paused || c->lingering || c->stream.closing)
		return 0;
	switch (c->state) {
	case HTTP_S_HEAD:
		return c->stream.queued == 0;
	case HTTP_S_HANDLER:
		return c->body_accepted || c->responded;
	case HTTP_S_DONE:
		return c->responded;
	default:
		return 0;
	}
}

static void
http_proceed(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);
	struct buf		 in;

	if (!http_can_proceed(c))
		return;
	if (c->state == HTTP_S_DONE)
		http_request_finish(c);
	x->paused = 0;
	llhttp_resume(&c->parser);
	in = x->inbuf;
	memset(&x->inbuf, 0, sizeof(x->inbuf));
	http_feed(c, in.len > 0 ? in.data : "", in.len);
	buf_free(&in);
	if (!x->paused && !c->lingering && !c->stream.closing)
		stream_resume(&c->stream);
}

/* The answer is queued and the message read: ready for the next one. */
void
http_request_finish(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	memset(&c->req, 0, sizeof(c->req));
	buf_free(&c->field);
	buf_free(&c->value);
	buf_free(&x->url);
	buf_free(&x->heads);
	c->head_bytes = 0;
	x->nheads = 0;
	c->state = HTTP_S_IDLE;
	c->body_accepted = c->responded = c->streaming = 0;
	x->has_body = x->msg_complete = x->complete_called = 0;
	http_arm(c);
}

/* Sets the one timer for the connection's current state. */
void
http_arm(struct http_conn *c)
{
	struct http_server	*srv = c->server;
	uint64_t		 head, idle;

	if (c->stream.closing || XCONN(c)->kick_pending)
		return;		/* the kick re-arms */
	head = srv->head_timeout_ms ? srv->head_timeout_ms :
	    HTTP_HEAD_MS_DEFAULT;
	idle = srv->idle_timeout_ms ? srv->idle_timeout_ms :
	    HTTP_IDLE_MS_DEFAULT;
	if (c->lingering) {
		uv_timer_start(&c->timer, http_close_cb,
		    c->stream.queued == 0 && !c->watched ? HTTP_LINGER_MS :
		    idle, 0);
		return;
	}
	if (c->streaming) {
		uv_timer_start(&c->timer, http_close_cb, idle, 0);
		return;
	}
	switch (c->state) {
	case HTTP_S_IDLE:
		/* between requests a client has what it has for a head */
		if (XCONN(c)->nrequests > 0)
			uv_timer_start(&c->timer, http_close_cb, head, 0);
		else
			uv_timer_start(&c->timer, http_head_timeout_cb, head, 0);
		break;
	case HTTP_S_HEAD:
		uv_timer_start(&c->timer, http_head_timeout_cb, head, 0);
		break;
	case HTTP_S_BODY:
		uv_timer_start(&c->timer, http_close_cb, idle, 0);
		break;
	default:
		uv_timer_stop(&c->timer);	/* the handler's turn */
		break;
	}
}

/* The connection moved outside its own reads and writes (a download's
 * bytes were acknowledged by the peer): its timer starts again. */
void
http_conn_touch(struct http_conn *c)
{
	http_arm(c);
}

void
http_conn_watch(struct http_conn *c, int on)
{
	c->watched = on != 0;
	http_arm(c);
}

int
http_conn_fd(struct http_conn *c)
{
	uv_os_fd_t	 fd;

	if (uv_fileno((uv_handle_t *)&c->stream.tcp, &fd) != 0)
		return -1;
	return fd;
}

int
http_conn_tls(const struct http_conn *c)
{
	return c->stream.ssl != NULL;
}

size_t
http_conn_queued(const struct http_conn *c)
{
	return c->stream.queued;
}

static void
http_head_timeout_cb(uv_timer_t *t)
{
	struct http_conn	*c = t->data;
	static const char	 msg[] = "Request timeout\n";

	log_debug("http: %s: request head timeout", c->peer_str);
	if (http_refuse(c, 408, "text/plain", NULL, msg, sizeof(msg) - 1) ==
	    -1)
		http_conn_close(c);
}

static void
http_close_cb(uv_timer_t *t)
{
	struct http_conn	*c = t->data;

	if (!c->lingering)
		log_debug("http: %s: idle timeout", c->peer_str);
	http_conn_close(c);
}

/*
 * Lingering close: the answer goes out, then FIN; what the client still
 * sends is read and dropped (bounded in time and size) so that its kernel
 * does not see a reset before it read the answer.
 */
void
http_linger(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	if (c->lingering || c->stream.closing)
		return;
	/* answered: it holds a descriptor (the gate counts it) until the
	 * client's FIN, but none of max_conns, which new clients need */
	c->lingering = 1;
	c->server->nconns--;
	x->paused = 0;
	x->discarded = x->inbuf.len;
	buf_free(&x->inbuf);
	stream_shutdown(&c->stream);
	if (c->stream.closing)
		return;
	if (c->stream.eof && c->stream.queued == 0) {
		http_conn_close(c);
		return;
	}
	stream_resume(&c->stream);
	http_arm(c);
}
