/* SPDX-License-Identifier: MIT */
/*
 * Writing HTTP answers for common's HTTP server (http.h), in admind and
 * fwstore: the status line, Date, Server, Content-Length, Connection and
 * Content-Type, the caller's headers and the body in one write, or a head
 * and then a streamed body; 100 Continue when the handler takes a body;
 * and whether the connection is kept after the answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "buf.h"
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "stream.h"

static int	http_can_respond(struct http_conn *);
static int	http_keep(struct http_conn *);
static int	http_head(struct http_conn *, struct buf *, int, const char *,
		    const char *, uint64_t, int);
static void	http_after_response(struct http_conn *, int);
static const char *http_date(void);

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

int
http_stream_sent(struct http_conn *c, uint64_t n)
{
	struct http_xconn	*x = XCONN(c);

	if (!c->streaming || c->stream.closing || n > x->stream_left)
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
