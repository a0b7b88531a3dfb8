/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's transport over libuv pipes (see ctl_conn.h).
 * admind runs the listening side, which takes each peer's hello before
 * anything else; hwd and fwstore run the reconnecting client.  A malformed
 * or unexpected message closes that peer with a log line, never the daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "log.h"

#define CTL_READ_CHUNK		(64 * 1024)
#define CTL_OUT_KEEP		(1024 * 1024)	/* a bigger batch buffer goes */
#define CTL_BACKOFF_MIN_MS	100
#define CTL_BACKOFF_MAX_MS	5000

struct ctl_pending {
	struct ctl_pending	*next;
	uint32_t		 reqid;
	ctl_reply_cb		 cb;
	void			*arg;
};

struct ctl_write {
	uv_write_t		 req;
	struct ctl_conn		*conn;
	size_t			 len;
	char			 bytes[];
};

static void	ctl_client_connect(struct ctl_client *);
static void	ctl_client_schedule(struct ctl_client *);

static void
ctl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
	struct ctl_conn	*c = h->data;

	if (buf_reserve(&c->in, CTL_READ_CHUNK) == -1) {
		*out = uv_buf_init(NULL, 0);
		return;
	}
	*out = uv_buf_init(c->in.data + c->in.len, CTL_READ_CHUNK);
}

/* The pipe and the flush handle of a new connection. */
static void
ctl_conn_init(uv_loop_t *loop, struct ctl_conn *c)
{
	uv_pipe_init(loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_idle_init(loop, &c->flush);
	c->flush.data = c;
	c->handles = 2;
}

/* Each of the two handles closes here; the second frees the connection. */
static void
ctl_closed(uv_handle_t *h)
{
	struct ctl_conn		*c = h->data;
	struct ctl_pending	*p;

	if (--c->handles > 0)
		return;
	while ((p = c->pending) != NULL) {
		c->pending = p->next;
		(void)p->cb(p->arg, 0, NULL);
		free(p);
	}
	if (c->ops && c->ops->on_close)
		c->ops->on_close(c);
	buf_free(&c->in);
	buf_free(&c->out);
	if (c->freed_on_close)
		free(c);
}

void
ctl_conn_close(struct ctl_conn *c)
{
	uv_buf_t	 ub;

	if (c->closing)
		return;
	c->closing = 1;
	/* a last message (a refused hello's error) still goes out */
	if (c->out.len > 0) {
		ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
		(void)uv_try_write((uv_stream_t *)&c->pipe, &ub, 1);
	}
	uv_close((uv_handle_t *)&c->pipe, ctl_closed);
	uv_close((uv_handle_t *)&c->flush, ctl_closed);
}

static void
ctl_written(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;

	w->conn->queued -= w->len;
	if (status < 0 && status != UV_ECANCELED) {
		log_warnx("control connection (%s): write: %s",
		    w->conn->role[0] ? w->conn->role : "peer",
		    uv_strerror(status));
		ctl_conn_close(w->conn);
	}
	free(w);
}

/*
 * Sends what this loop turn queued, in one write: at thousands of logins a
 * second a write per message was most of hwd's and admind's system time.
 * Runs from the idle handle (before the loop next waits) and never
 * reorders: a rest that did not fit goes behind any write in flight.
 */
static void
ctl_flush(uv_idle_t *h)
{
	struct ctl_conn	*c = h->data;
	struct ctl_write *w;
	uv_buf_t	 ub;
	size_t		 rest;
	int		 n;

	uv_idle_stop(&c->flush);
	if (c->closing || c->out.len == 0)
		return;
	ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
	if ((n = uv_try_write((uv_stream_t *)&c->pipe, &ub, 1)) == UV_EAGAIN)
		n = 0;
	if (n < 0) {
		log_warnx("control connection (%s): write: %s",
		    c->role[0] ? c->role : "peer", uv_strerror(n));
		ctl_conn_close(c);
		return;
	}
	rest = c->out.len - (size_t)n;
	if (rest > 0) {
		if ((w = malloc(sizeof(*w) + rest)) == NULL) {
			ctl_conn_close(c);
			return;
		}
		memcpy(w->bytes, c->out.data + n, rest);
		w->conn = c;
		w->len = rest;
		ub = uv_buf_init(w->bytes, (unsigned)rest);
		if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &ub, 1,
		    ctl_written)) {
			free(w);
			ctl_conn_close(c);
			return;
		}
		c->queued += rest;
	}
	if (c->out.cap > CTL_OUT_KEEP)
		buf_free(&c->out);
	else
		buf_reset(&c->out);
}

void
ctl_conn_flush(struct ctl_conn *c)
{
	if (uv_is_active((uv_handle_t *)&c->flush))
		ctl_flush(&c->flush);
}

/* Appends a frame to this turn's batch: the message's struct when msg is
 * set, else the raw payload (NULL: empty). */
static int
ctl_write_frame(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    const struct buf *payload, const void *msg)
{
	size_t	 before = c->out.len;
	int	 rc;

	if (c->closing)
		return -1;
	if (msg != NULL)
		rc = ctl_frame_encode_msg(&c->out, type, reqid, msg);
	else
		rc = ctl_frame_encode(&c->out, type, reqid, payload ?
		    payload->data : "", payload ? payload->len : 0);
	if (rc == -1) {
		c->out.len = before;
		log_warnx("control message %s too large", ctl_type_name(type));
		return -1;
	}
	if (c->queued + c->out.len > CTL_MAX_QUEUE) {
		c->out.len = before;
		log_warnx("control connection (%s) stuck: %zu bytes unsent, "
		    "closing", c->role[0] ? c->role : "peer",
		    c->queued + c->out.len);
		ctl_conn_close(c);
		return -1;
	}
	if (!uv_is_active((uv_handle_t *)&c->flush))
		uv_idle_start(&c->flush, ctl_flush);
	return 0;
}

int
ctl_send(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    const struct buf *payload)
{
	return ctl_write_frame(c, type, reqid, payload, NULL);
}

int
ctl_send_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    const void *msg)
{
	return ctl_write_frame(c, type, reqid, NULL, msg);
}

static int
ctl_request_frame(struct ctl_conn *c, uint16_t type,
    const struct buf *payload, const void *msg, ctl_reply_cb cb, void *arg)
{
	struct ctl_pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if (++c->next_reqid == 0)
		c->next_reqid = 1;
	p->reqid = c->next_reqid;
	p->cb = cb;
	p->arg = arg;
	if (ctl_write_frame(c, type, p->reqid, payload, msg) == -1) {
		free(p);
		return -1;
	}
	/* appended: replies come in order, so the match is at the head */
	*c->pending_tail = p;
	c->pending_tail = &p->next;
	return 0;
}

int
ctl_request(struct ctl_conn *c, uint16_t type, const struct buf *payload,
    ctl_reply_cb cb, void *arg)
{
	return ctl_request_frame(c, type, payload, NULL, cb, arg);
}

int
ctl_request_msg(struct ctl_conn *c, uint16_t type, const void *msg,
    ctl_reply_cb cb, void *arg)
{
	return ctl_request_frame(c, type, NULL, msg, cb, arg);
}

/* A refused message closes the peer here, logged once. */
static int
ctl_refuse(struct ctl_conn *c, const struct ctl_frame *f, const char *why)
{
	log_warnx("control connection (%s, uid %u): refused %s "
	    "(request id %u): %s; closing", c->role[0] ? c->role :
	    "peer", (unsigned)c->peer_uid, ctl_type_name(f->type),
	    (unsigned)f->reqid, why);
	ctl_conn_close(c);
	return 0;
}

/* The reply's callback; -1 from it (a malformed reply) closes the peer
 * as a malformed message does. */
static int
ctl_dispatch_reply(struct ctl_conn *c, const struct ctl_frame *f)
{
	struct ctl_pending **pp, *p;
	struct ctl_reader r;
	int		 rc;

	for (pp = &c->pending; (p = *pp) != NULL; pp = &p->next) {
		if (p->reqid != f->reqid)
			continue;
		if ((*pp = p->next) == NULL)
			c->pending_tail = pp;
		ctl_reader_init(&r, f->payload, f->len);
		rc = p->cb(p->arg, f->type, &r);
		free(p);
		return rc;
	}
	return ctl_refuse(c, f, "a reply to no request");
}

/* The generic checks (ctl_frame_refusal) before any handler: a refused
 * message closes the peer here, logged once. */
static int
ctl_dispatch(struct ctl_conn *c, const struct ctl_frame *f)
{
	struct ctl_reader r;
	const char	*why;

	if (f->type >= CTL_REPLY_BASE)
		return ctl_dispatch_reply(c, f);
	if ((why = ctl_frame_refusal(f, c->role)) != NULL)
		return ctl_refuse(c, f, why);
	ctl_reader_init(&r, f->payload, f->len);
	if (c->ops == NULL || c->ops->on_msg == NULL)
		return -1;
	return c->ops->on_msg(c, f->type, f->reqid, &r);
}

static void
ctl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
	struct ctl_conn	*c = s->data;
	struct ctl_frame f;
	long		 used = 0;
	size_t		 off = 0;

	if (n < 0) {
		if (n != UV_EOF)
			log_warnx("control connection (%s): read: %s",
			    c->role[0] ? c->role : "peer", uv_strerror((int)n));
		ctl_conn_close(c);
		return;
	}
	c->in.len += (size_t)n;
	while (!c->closing &&
	    (used = ctl_frame_decode(c->in.data + off, c->in.len - off, &f)) > 0) {
		if (ctl_dispatch(c, &f) == -1) {
			log_warnx("control connection (%s): bad or unexpected "
			    "%s message, closing", c->role[0] ? c->role : "peer",
			    ctl_type_name(f.type));
			ctl_conn_close(c);
			return;
		}
		off += (size_t)used;
	}
	if (used < 0 && !c->closing) {
		log_warnx("control connection (%s): malformed frame header, "
		    "closing", c->role[0] ? c->role : "peer");
		ctl_conn_close(c);
		return;
	}
	buf_consume(&c->in, off);
}

static int
ctl_conn_start(struct ctl_conn *c)
{
	c->pipe.data = c;
	return uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc, ctl_read);
}

/* admind's side: the first message must be a hello. */

/* The role's entry in the server's table, or NULL. */
static const struct ctl_role *
ctl_server_role(const struct ctl_server *srv, const char *name)
{
	for (const struct ctl_role *r = srv->roles; r && r->name; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* Why a hello naming role at version must be refused, or NULL. */
static const char *
ctl_server_hello_refusal(const struct ctl_server *srv, struct ctl_conn *c,
    const char *role, uint32_t version)
{
	const struct ctl_role *want = ctl_server_role(srv, role);

	if (version != CTL_VERSION || want == NULL)
		return "unknown role or protocol version";
	if (want->uid != (uid_t)-1 && want->uid != c->peer_uid)
		return "the peer's uid is not the role's user";
	return NULL;
}

/* The refused hello's answer, then the peer is closed. */
static void
ctl_server_refuse(struct ctl_conn *c, uint32_t reqid, const char *why)
{
	struct ctl_msg_error	 m = { .message = (char *)why };

	(void)ctl_send_error(c, reqid, &m);
	ctl_conn_close(c);
}

static int
ctl_server_hello(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	struct ctl_server *srv = c->data;
	struct ctl_msg_hello m;
	const char	*why;

	if (ctl_msg_decode(type, r, &m) == -1)
		return -1;
	if ((why = ctl_server_hello_refusal(srv, c, m.role,
	    m.version)) != NULL) {
		log_warnx("control peer uid %u: refused hello (role \"%s\", "
		    "version %u; this admind speaks version %u): %s",
		    (unsigned)c->peer_uid, m.role, m.version, CTL_VERSION, why);
		ctl_msg_free(type, &m);
		ctl_server_refuse(c, reqid, why);
		return 0;
	}
	snprintf(c->role, sizeof(c->role), "%s", m.role);
	c->worker = m.worker;
	ctl_msg_free(type, &m);
	c->data = NULL;
	if (srv->on_accept && srv->on_accept(c) == -1) {
		ctl_server_refuse(c, reqid, "the role is connected already");
		return 0;	/* on_accept said why */
	}
	c->ops = srv->ops;
	log_info("control peer %s worker %u connected (uid %u)", c->role,
	    c->worker, (unsigned)c->peer_uid);
	return ctl_send(c, CTL_OK, reqid, NULL);
}

static const struct ctl_conn_ops ctl_hello_ops = {
	.on_msg = ctl_server_hello,
};

static void
ctl_server_conn(uv_stream_t *server, int status)
{
	struct ctl_server *srv = server->data;
	struct ctl_conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	uv_os_fd_t	 fd;

	if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->freed_on_close = 1;
	c->pending_tail = &c->pending;
	ctl_conn_init(server->loop, c);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		ctl_conn_close(c);
		return;
	}
	c->peer_uid = (uid_t)-1;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		c->peer_uid = cred.uid;
	c->ops = &ctl_hello_ops;
	c->data = srv;
	if (ctl_conn_start(c) != 0)
		ctl_conn_close(c);
}

int
ctl_server_listen(uv_loop_t *loop, struct ctl_server *srv, const char *path)
{
	int	 rc;

	unlink(path);
	uv_pipe_init(loop, &srv->pipe, 0);
	srv->pipe.data = srv;
	if ((rc = uv_pipe_bind(&srv->pipe, path)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->pipe, 64,
	    ctl_server_conn)) != 0) {
		log_warnx("control socket %s: %s", path, uv_strerror(rc));
		return -1;
	}
	return 0;
}

/* hwd's and fwstore's side: connect, hello, reconnect with backoff. */

static void
ctl_client_conn_closed(struct ctl_conn *c)
{
	struct ctl_client *cl = c->data;

	if (cl->conn != c)
		return;
	cl->conn = NULL;
	if (cl->ready) {
		cl->ready = 0;
		log_warnx("lost the control connection to admind; "
		    "reconnecting");
		if (cl->on_down)
			cl->on_down(cl);
	}
	ctl_client_schedule(cl);
}

static int
ctl_client_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	struct ctl_client *cl = c->data;

	if (!cl->ready || cl->ops == NULL || cl->ops->on_msg == NULL)
		return -1;
	return cl->ops->on_msg(c, type, reqid, r);
}

static const struct ctl_conn_ops ctl_client_conn_ops = {
	.on_msg = ctl_client_msg,
	.on_close = ctl_client_conn_closed,
};

static int
ctl_client_hello_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct ctl_client *cl = arg;

	if (type != CTL_OK) {
		if (type != 0)
			log_warnx("admind refused our hello (role %s)",
			    cl->role);
		if (type != 0 && cl->conn)
			ctl_conn_close(cl->conn);
		return 0;
	}
	if (ctl_get_end(r) == -1)
		return -1;
	cl->ready = 1;
	cl->backoff_ms = 0;
	log_info("connected to admind at %s", cl->path);
	if (cl->on_ready)
		cl->on_ready(cl);
	return 0;
}

static void
ctl_client_connected(uv_connect_t *req, int status)
{
	struct ctl_conn	*c = req->data;
	struct ctl_client *cl = c->data;
	struct ctl_msg_hello hello = { CTL_VERSION, (char *)cl->role,
	    cl->worker };

	free(req);
	if (status < 0) {
		if (cl->backoff_ms >= CTL_BACKOFF_MAX_MS)
			log_debug("admind not reachable at %s: %s", cl->path,
			    uv_strerror(status));
		ctl_conn_close(c);
		return;
	}
	if (ctl_conn_start(c) != 0) {
		ctl_conn_close(c);
		return;
	}
	if (ctl_request_hello(c, &hello, ctl_client_hello_reply, cl) == -1)
		ctl_conn_close(c);
}

static void
ctl_client_connect(struct ctl_client *cl)
{
	struct ctl_conn	*c;
	uv_connect_t	*req;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		free(c);
		ctl_client_schedule(cl);
		return;
	}
	c->freed_on_close = 1;
	c->ops = &ctl_client_conn_ops;
	c->data = cl;
	snprintf(c->role, sizeof(c->role), "admind");
	c->pending_tail = &c->pending;
	ctl_conn_init(cl->loop, c);
	req->data = c;
	cl->conn = c;
	uv_pipe_connect(req, &c->pipe, cl->path, ctl_client_connected);
}

static void
ctl_client_retry(uv_timer_t *t)
{
	ctl_client_connect(t->data);
}

static void
ctl_client_schedule(struct ctl_client *cl)
{
	if (cl->backoff_ms == 0)
		cl->backoff_ms = CTL_BACKOFF_MIN_MS;
	else if ((cl->backoff_ms *= 2) > CTL_BACKOFF_MAX_MS)
		cl->backoff_ms = CTL_BACKOFF_MAX_MS;
	uv_timer_start(&cl->retry, ctl_client_retry, cl->backoff_ms, 0);
}

int
ctl_client_start(uv_loop_t *loop, struct ctl_client *cl, const char *path,
    const char *role)
{
	cl->loop = loop;
	if ((cl->path = strdup(path)) == NULL)
		return -1;
	cl->role = role;
	cl->conn = NULL;
	cl->ready = 0;
	cl->backoff_ms = 0;
	uv_timer_init(loop, &cl->retry);
	cl->retry.data = cl;
	/* Keep the loop alive only through real work, not the retry timer. */
	uv_unref((uv_handle_t *)&cl->retry);
	ctl_client_connect(cl);
	return 0;
}
