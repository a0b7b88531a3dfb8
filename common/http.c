/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x server connections over llhttp (see http.h), run by admind (over
 * TLS) and fwstore (plain).  One request is handled at a time: the parser
 * pauses after the head until the handler answers or accepts the body, and
 * after the message until the answer is queued; input that arrives
 * meanwhile is kept and fed again on resumption.  A connection that will
 * not be kept ends with a lingering close, so clients read our answer.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llhttp.h"
#include <uv.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "netaddr.h"
#include "stream.h"

#define HTTP_HEAD_MS_DEFAULT	10000
#define HTTP_IDLE_MS_DEFAULT	60000
#define HTTP_LINGER_MS		2000
#define HTTP_LINGER_BYTES	(1024 * 1024)
#define HTTP_MAX_INBUF		(256 * 1024)
#define HTTP_MAX_STRANGERS	16	/* open at once, told 403 */
#define HTTP_BUSY_RETRY_S	"10"

/* Where the current request is (conn->state). */
enum http_state {
	HTTP_S_IDLE,		/* before a request */
	HTTP_S_HEAD,		/* reading a head */
	HTTP_S_HANDLER,		/* head handed over, body not accepted */
	HTTP_S_BODY,		/* reading an accepted body */
	HTTP_S_DONE,		/* message read, answer pending or queued */
};

/* A connection with what http.h need not show. */
struct http_xconn {
	struct http_conn	 conn;
	struct buf		 url;
	struct buf		 heads;		/* name\0value\0...target... */
	struct buf		 inbuf;		/* input held while paused */
	uint64_t		 stream_left;
	size_t			 discarded;
	size_t			 nheads;
	unsigned		 nrequests;
	unsigned		 in_parser:1;
	unsigned		 paused:1;	/* parser paused by us */
	unsigned		 has_body:1;
	unsigned		 msg_complete:1;
	unsigned		 complete_called:1;
	unsigned		 keep_after:1;	/* of a streamed answer */
	unsigned		 no_body:1;	/* streamed answer is bodiless */
	unsigned		 peer_eof:1;
	unsigned		 kick_pending:1;
};

#define XCONN(c)	((struct http_xconn *)(c))

static void	http_on_conn(uv_stream_t *, int);
static int	http_conn_admit(struct http_conn *, int);
static void	http_conn_peer(struct http_conn *);
static void	http_on_read(struct stream *, const char *, size_t);
static void	http_on_eof(struct stream *);
static void	http_on_drain(struct stream *);
static void	http_on_stream_close(struct stream *);
static void	http_on_timer_close(uv_handle_t *);
static int	http_cb_message_begin(llhttp_t *);
static int	http_cb_url(llhttp_t *, const char *, size_t);
static int	http_cb_header_field(llhttp_t *, const char *, size_t);
static int	http_cb_header_value(llhttp_t *, const char *, size_t);
static int	http_cb_header_value_complete(llhttp_t *);
static int	http_cb_headers_complete(llhttp_t *);
static int	http_cb_body(llhttp_t *, const char *, size_t);
static int	http_cb_message_complete(llhttp_t *);
static void	http_feed(struct http_conn *, const char *, size_t);
static void	http_parse_error(struct http_conn *, llhttp_errno_t);
static void	http_discard(struct http_conn *, size_t);
static int	http_head_grow(struct http_conn *, size_t);
static int	http_make_request(struct http_conn *);
static int	http_split_target(struct http_xconn *, const char *);
static int	http_decode_path(char *);
static void	http_kick(struct http_conn *);
static void	http_kick_cb(uv_timer_t *);
static void	http_proceed(struct http_conn *);
static int	http_can_proceed(struct http_conn *);
static void	http_request_finish(struct http_conn *);
static void	http_arm(struct http_conn *);
static void	http_head_timeout_cb(uv_timer_t *);
static void	http_close_cb(uv_timer_t *);
static int	http_can_respond(struct http_conn *);
static int	http_keep(struct http_conn *);
static int	http_head(struct http_conn *, struct buf *, int, const char *,
		    const char *, uint64_t, int);
static void	http_after_response(struct http_conn *, int);
static void	http_linger(struct http_conn *);
static const char *http_date(void);

static const struct stream_ops http_stream_ops = {
	.on_read = http_on_read,
	.on_eof = http_on_eof,
	.on_drain = http_on_drain,
	.on_close = http_on_stream_close,
};

static const llhttp_settings_t http_settings = {
	.on_message_begin = http_cb_message_begin,
	.on_url = http_cb_url,
	.on_header_field = http_cb_header_field,
	.on_header_value = http_cb_header_value,
	.on_header_value_complete = http_cb_header_value_complete,
	.on_headers_complete = http_cb_headers_complete,
	.on_body = http_cb_body,
	.on_message_complete = http_cb_message_complete,
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

const char *
http_header(const struct http_request *req, const char *lcname)
{
	size_t	 i;

	for (i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, lcname) == 0)
			return req->headers[i].value;
	return NULL;
}

void
http_accept_body(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (c->body_accepted || !http_can_respond(c))
		return;
	c->body_accepted = 1;
	if (x->has_body && !x->msg_complete) {
		c->state = HTTP_S_BODY;
		if (c->req.expect_continue &&
		    stream_write(&c->stream, cont, sizeof(cont) - 1) == -1) {
			http_conn_close(c);
			return;
		}
	}
	if (!x->in_parser)
		http_kick(c);
	else
		http_arm(c);
}

int
http_respond(struct http_conn *c, int status, const char *content_type,
    const char *extra_headers, const void *body, size_t len)
{
	struct buf	 b = BUF_INIT;
	int		 keep, rc;

	if (!http_can_respond(c))
		return -1;
	keep = http_keep(c);
	rc = http_head(c, &b, status, content_type, extra_headers, len, keep);
	if (rc == 0 && c->req.method != HTTP_HEAD && status != 204 &&
	    status != 304)
		rc = buf_add(&b, body, len);
	if (rc == 0)
		rc = stream_write(&c->stream, b.data, b.len);
	buf_free(&b);
	if (rc == -1) {
		log_debug("http: %s: cannot queue the response", c->peer_str);
		http_conn_close(c);
		return -1;
	}
	c->responded = 1;
	http_after_response(c, keep);
	return 0;
}

int
http_refuse(struct http_conn *c, int status, const char *content_type,
    const char *extra_headers, const void *body, size_t len)
{
	if (!http_can_respond(c))
		return -1;
	c->close_after = 1;
	return http_respond(c, status, content_type, extra_headers, body, len);
}

int
http_stream_begin(struct http_conn *c, int status, const char *content_type,
    const char *extra_headers, uint64_t total)
{
	struct http_xconn	*x = XCONN(c);
	struct buf		 b = BUF_INIT;
	int			 keep, rc;

	if (!http_can_respond(c))
		return -1;
	keep = total != HTTP_LENGTH_UNKNOWN && http_keep(c);
	rc = http_head(c, &b, status, content_type, extra_headers, total,
	    keep);
	if (rc == 0)
		rc = stream_write(&c->stream, b.data, b.len);
	buf_free(&b);
	if (rc == -1) {
		http_conn_close(c);
		return -1;
	}
	c->streaming = 1;
	x->keep_after = keep;
	x->no_body = c->req.method == HTTP_HEAD || status == 204 ||
	    status == 304;
	x->stream_left = x->no_body ? 0 : total;
	http_arm(c);
	return 0;
}

int
http_stream_write(struct http_conn *c, const void *p, size_t n)
{
	struct http_xconn	*x = XCONN(c);

	if (!c->streaming || c->stream.closing)
		return -1;
	if (x->no_body)
		return 0;
	if (n > x->stream_left) {
		log_warnx("http: %s: response body longer than announced",
		    c->peer_str);
		return -1;
	}
	if (stream_write(&c->stream, p, n) == -1)
		return -1;
	x->stream_left -= n;
	return 0;
}

void
http_stream_end(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	if (!c->streaming)
		return;
	c->streaming = 0;
	c->responded = 1;
	if (x->stream_left != 0) {
		log_warnx("http: %s: response body %" PRIu64 " bytes short",
		    c->peer_str, x->stream_left);
		http_conn_close(c);
		return;
	}
	http_after_response(c, x->keep_after);
}

void
http_conn_close(struct http_conn *c)
{
	if (!c->stream.closing)
		uv_timer_stop(&c->timer);
	stream_close(&c->stream);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return status < 300 ? "OK" : status < 400 ? "Redirect" :
	    status < 500 ? "Client Error" : "Server Error";
	}
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
	llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
	c->parser.data = c;
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
	if (stream_local_addr(&c->stream, &c->local) == -1)
		log_debug("http: %s: no local address", c->peer_str);
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
	if (srv->acl != NULL && !netaddr_acl_match(srv->acl, peer)) {
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

/* Parsing. */

static void
http_feed(struct http_conn *c, const char *p, size_t n)
{
	struct http_xconn	*x = XCONN(c);
	llhttp_errno_t		 e;
	const char		*pos;
	size_t			 rest;

	x->in_parser = 1;
	e = llhttp_execute(&c->parser, p, n);
	x->in_parser = 0;
	if (e == HPE_OK || c->stream.closing)
		return;
	pos = llhttp_get_error_pos(&c->parser);
	rest = pos != NULL && pos >= p && pos <= p + n ? (size_t)(p + n - pos) :
	    0;
	if (c->lingering) {
		http_discard(c, rest);
		return;
	}
	if (e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
		http_parse_error(c, e);
		return;
	}
	x->paused = 1;
	stream_pause(&c->stream);
	if (rest > 0 && buf_add(&x->inbuf, pos, rest) == -1)
		http_conn_close(c);
}

static void
http_parse_error(struct http_conn *c, llhttp_errno_t e)
{
	char	 msg[160];
	int	 n;

	if (c->responded || c->streaming) {
		http_conn_close(c);
		return;
	}
	log_debug("http: %s: bad request: %s (%s)", c->peer_str,
	    llhttp_errno_name(e), llhttp_get_error_reason(&c->parser));
	n = snprintf(msg, sizeof(msg), "Bad request: %s\n",
	    llhttp_get_error_reason(&c->parser));
	if (n < 0 || n >= (int)sizeof(msg))
		n = snprintf(msg, sizeof(msg), "Bad request\n");
	http_refuse(c, 400, "text/plain", NULL, msg, n);
}

/* Input after a refusal: counted, dropped, bounded. */
static void
http_discard(struct http_conn *c, size_t n)
{
	struct http_xconn	*x = XCONN(c);

	x->discarded += n;
	if (x->discarded > HTTP_LINGER_BYTES) {
		log_debug("http: %s: closing, too much unwanted input",
		    c->peer_str);
		http_conn_close(c);
	}
}

static int
http_cb_message_begin(llhttp_t *p)
{
	struct http_conn	*c = p->data;
	struct http_xconn	*x = XCONN(c);

	c->state = HTTP_S_HEAD;
	x->nrequests++;
	http_arm(c);
	/* one answer in flight: a pipelined request waits for the drain */
	return c->stream.queued > 0 ? HPE_PAUSED : 0;
}

static int
http_cb_url(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn	*c = p->data;
	struct http_xconn	*x = XCONN(c);
	static const char	 msg[] = "Request target too long\n";

	if (x->url.len + n > HTTP_MAX_URL) {
		log_debug("http: %s: request target too long", c->peer_str);
		http_refuse(c, 414, "text/plain", NULL, msg, sizeof(msg) - 1);
		return HPE_USER;
	}
	return buf_add(&x->url, at, n) == 0 ? 0 : HPE_USER;
}

/* Counts head bytes; past the cap answers 431. */
static int
http_head_grow(struct http_conn *c, size_t n)
{
	static const char	 msg[] = "Request header fields too large\n";

	c->head_bytes += n;
	if (c->head_bytes <= HTTP_MAX_HEAD &&
	    XCONN(c)->nheads <= HTTP_MAX_HEADERS)
		return 0;
	log_debug("http: %s: request head too large", c->peer_str);
	http_refuse(c, 431, "text/plain", NULL, msg, sizeof(msg) - 1);
	return -1;
}

static int
http_cb_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn	*c = p->data;

	if (c->state != HTTP_S_HEAD)
		return 0;	/* trailers are ignored */
	if (http_head_grow(c, n) == -1 || buf_add(&c->field, at, n) == -1)
		return HPE_USER;
	return 0;
}

static int
http_cb_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn	*c = p->data;

	if (c->state != HTTP_S_HEAD)
		return 0;
	if (http_head_grow(c, n) == -1 || buf_add(&c->value, at, n) == -1)
		return HPE_USER;
	return 0;
}

/* Appends "name\0value\0" to heads: name lower-cased, value trimmed. */
static int
http_cb_header_value_complete(llhttp_t *p)
{
	struct http_conn	*c = p->data;
	struct http_xconn	*x = XCONN(c);
	const char		*v = c->value.data;
	size_t			 i, vlen = c->value.len;

	if (c->state != HTTP_S_HEAD)
		return 0;
	x->nheads++;
	if (http_head_grow(c, 0) == -1)
		return HPE_USER;
	for (i = 0; i < c->field.len; i++)
		c->field.data[i] = tolower((unsigned char)c->field.data[i]);
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (buf_add(&x->heads, c->field.data, c->field.len) == -1 ||
	    buf_addc(&x->heads, '\0') == -1 ||
	    buf_add(&x->heads, v, vlen) == -1 ||
	    buf_addc(&x->heads, '\0') == -1)
		return HPE_USER;
	buf_reset(&c->field);
	buf_reset(&c->value);
	return 0;
}

static int
http_cb_headers_complete(llhttp_t *p)
{
	struct http_conn	*c = p->data;
	struct http_xconn	*x = XCONN(c);
	static const char	 msg[] = "Bad request: malformed path\n";

	if (http_make_request(c) == -1) {
		if (!c->lingering)
			http_refuse(c, 400, "text/plain", NULL, msg,
			    sizeof(msg) - 1);
		return HPE_PAUSED;
	}
	c->state = HTTP_S_HANDLER;
	http_arm(c);
	c->server->handler->on_request(c, &c->req);
	if (c->lingering || c->stream.closing)
		return HPE_PAUSED;
	if (c->body_accepted || ((c->responded || c->streaming) &&
	    !x->has_body))
		return 0;
	return HPE_PAUSED;
}

static int
http_cb_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn	*c = p->data;
	const struct http_handler *h = c->server->handler;

	if (!c->body_accepted || c->responded || c->streaming)
		return 0;
	http_arm(c);
	if (h->on_body != NULL && h->on_body(c, at, n) != 0) {
		if (!c->responded && !c->lingering)
			http_conn_close(c);
		return HPE_USER;
	}
	if (c->lingering || c->stream.closing)
		return HPE_USER;
	return 0;
}

static int
http_cb_message_complete(llhttp_t *p)
{
	struct http_conn	*c = p->data;
	struct http_xconn	*x = XCONN(c);
	const struct http_handler *h = c->server->handler;

	x->msg_complete = 1;
	c->state = HTTP_S_DONE;
	http_arm(c);
	if (!c->responded && !c->streaming && !x->complete_called) {
		x->complete_called = 1;
		if (h->on_complete != NULL)
			h->on_complete(c);
	}
	if (c->lingering || c->stream.closing)
		return HPE_PAUSED;
	if (c->responded) {
		http_request_finish(c);
		return 0;
	}
	return HPE_PAUSED;
}

/* Fills c->req from what the callbacks gathered. */
static int
http_make_request(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);
	struct http_request	*req = &c->req;
	const char		*e;
	size_t			 off, i;

	memset(req, 0, sizeof(*req));
	for (off = 0, i = 0; i < x->nheads && i < HTTP_MAX_HEADERS &&
	    off < x->heads.len; i++) {
		req->headers[i].name = x->heads.data + off;
		off += strlen(x->heads.data + off) + 1;
		req->headers[i].value = x->heads.data + off;
		off += strlen(x->heads.data + off) + 1;
	}
	req->nheaders = i;
	if (http_split_target(x, buf_cstr(&x->url) ? x->url.data : "") == -1)
		return -1;
	req->method = c->parser.method;
	req->method_name = llhttp_method_name(req->method);
	req->http_major = c->parser.http_major;
	req->http_minor = c->parser.http_minor;
	req->has_length = (c->parser.flags & F_CONTENT_LENGTH) != 0;
	req->chunked = (c->parser.flags & F_CHUNKED) != 0;
	req->content_length = req->has_length ? c->parser.content_length : 0;
	req->keep_alive = llhttp_should_keep_alive(&c->parser);
	e = http_header(req, "expect");
	req->expect_continue = e != NULL && strcasecmp(e, "100-continue") == 0;
	x->has_body = req->chunked || req->content_length > 0;
	if (c->parser.upgrade)
		c->close_after = 1;	/* no upgrades: answer, then close */
	return 0;
}

/*
 * Appends target, path and query to heads and points the request at them.
 * heads is complete, so the header pointers (into heads) must be redone.
 */
static int
http_split_target(struct http_xconn *x, const char *url)
{
	struct http_request	*req = &x->conn.req;
	const char		*path, *q;
	char			*base;
	size_t			 ulen = strlen(url), plen, qlen, t, pt, qt, i;
	ptrdiff_t		 moved;

	path = url;
	if (strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0) {
		path = strstr(url, "://") + 3;
		path += strcspn(path, "/");	/* absolute form: drop host */
	}
	plen = strcspn(path, "?#");
	q = path[plen] == '?' ? path + plen + 1 : path + plen;
	qlen = strcspn(q, "#");
	base = x->heads.data;
	t = x->heads.len;
	if (buf_add(&x->heads, url, ulen) == -1 ||
	    buf_addc(&x->heads, '\0') == -1)
		return -1;
	pt = x->heads.len;
	if ((plen == 0 && buf_addc(&x->heads, '/') == -1) ||
	    buf_add(&x->heads, path, plen) == -1 ||
	    buf_addc(&x->heads, '\0') == -1)
		return -1;
	qt = x->heads.len;
	if (buf_add(&x->heads, q, qlen) == -1 ||
	    buf_addc(&x->heads, '\0') == -1)
		return -1;
	moved = base != NULL ? x->heads.data - base : 0;
	for (i = 0; i < req->nheaders && moved != 0; i++) {
		req->headers[i].name += moved;
		req->headers[i].value += moved;
	}
	req->target = x->heads.data + t;
	req->path = x->heads.data + pt;
	req->query = x->heads.data + qt;
	return http_decode_path(req->path);
}

/* Decodes %XX in place; refuses bad escapes and NUL. */
static int
http_decode_path(char *s)
{
	char	*d = s;
	int	 hi, lo;

	if (*s != '/' && strcmp(s, "*") != 0)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*d++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			return -1;
		hi = isdigit((unsigned char)s[1]) ? s[1] - '0' :
		    (tolower((unsigned char)s[1]) - 'a' + 10);
		lo = isdigit((unsigned char)s[2]) ? s[2] - '0' :
		    (tolower((unsigned char)s[2]) - 'a' + 10);
		if ((*d = (char)(hi << 4 | lo)) == '\0')
			return -1;
		d++;
		s += 2;
	}
	*d = '\0';
	return 0;
}

/* Flow: resuming the parser after the handler or the socket moved. */

static void
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
static void
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
static void
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
		    c->stream.queued == 0 ? HTTP_LINGER_MS : idle, 0);
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

/* Answers. */

static int
http_can_respond(struct http_conn *c)
{
	return !c->stream.closing && !c->lingering && !c->responded &&
	    !c->streaming;
}

/* Whether the connection can take another request after this answer. */
static int
http_keep(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	if (!c->req.keep_alive || c->close_after || x->peer_eof)
		return 0;
	/* an unread body would be taken for the next request */
	return x->msg_complete || !x->has_body;
}

static int
http_head(struct http_conn *c, struct buf *b, int status, const char *ctype,
    const char *extra, uint64_t len, int keep)
{
	int	 rc;

	rc = buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: otad\r\n",
	    status, http_status_text(status), http_date());
	if (rc == 0 && status >= 200 && status != 204 &&
	    len != HTTP_LENGTH_UNKNOWN)
		rc = buf_printf(b, "Content-Length: %" PRIu64 "\r\n", len);
	if (rc == 0)
		rc = buf_printf(b, "Connection: %s\r\n", keep ? "keep-alive" :
		    "close");
	if (rc == 0 && ctype != NULL)
		rc = buf_printf(b, "Content-Type: %s\r\n", ctype);
	if (rc == 0 && extra != NULL)
		rc = buf_adds(b, extra);
	if (rc == 0)
		rc = buf_adds(b, "\r\n");
	return rc;
}

static void
http_after_response(struct http_conn *c, int keep)
{
	if (!keep)
		http_linger(c);
	else if (!XCONN(c)->in_parser)
		http_kick(c);
}

/*
 * Lingering close: the answer goes out, then FIN; what the client still
 * sends is read and dropped (bounded in time and size) so that its kernel
 * does not see a reset before it read the answer.
 */
static void
http_linger(struct http_conn *c)
{
	struct http_xconn	*x = XCONN(c);

	if (c->lingering || c->stream.closing)
		return;
	c->lingering = 1;
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

static const char *
http_date(void)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static char		 date[32];
	static time_t		 last = -1;
	time_t			 now = time(NULL);
	struct tm		 tm;

	if (now == last)
		return date;
	gmtime_r(&now, &tm);
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	last = now;
	return date;
}
