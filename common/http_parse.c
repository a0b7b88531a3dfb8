/* SPDX-License-Identifier: MIT */
/*
 * Reading HTTP requests for common's HTTP server (http.h), in admind and
 * fwstore: llhttp's callbacks gather the method, the target (split and
 * percent-decoded) and the headers under limits on each (414, 431, 400),
 * hand the head to the handler and the body in pieces, and pause the
 * parser where http.c resumes it.  Input after a refusal is dropped here.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "llhttp.h"

#include "buf.h"
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "stream.h"

#define HTTP_LINGER_BYTES	(1024 * 1024)

static int	http_cb_message_begin(llhttp_t *);
static int	http_cb_url(llhttp_t *, const char *, size_t);
static int	http_cb_header_field(llhttp_t *, const char *, size_t);
static int	http_cb_header_value(llhttp_t *, const char *, size_t);
static int	http_cb_header_value_complete(llhttp_t *);
static int	http_cb_headers_complete(llhttp_t *);
static int	http_cb_body(llhttp_t *, const char *, size_t);
static int	http_cb_message_complete(llhttp_t *);
static void	http_parse_error(struct http_conn *, llhttp_errno_t);
static int	http_head_grow(struct http_conn *, size_t);
static int	http_make_request(struct http_conn *);
static int	http_split_target(struct http_xconn *, const char *);
static int	http_decode_path(char *);

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

/* A new connection's parser. */
void
http_parser_start(struct http_conn *c)
{
	llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
	c->parser.data = c;
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
void
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
