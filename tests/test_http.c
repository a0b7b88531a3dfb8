/* SPDX-License-Identifier: MIT */
/*
 * Tests the HTTP server glue (common/http*.c over stream.c and tls.c): a
 * server runs on loopback in the main thread's libuv loop, and a client
 * thread talks to it with raw sockets (and OpenSSL for TLS), checking the
 * exact bytes a client sees and what the connection accessors say.
 * Exit 0: pass, 1: fail.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "tls.h"

#define STREAM_TOTAL	100000
#define BIG_BODY	(1024 * 1024)
#define OWN_BODY	"the handler's own bytes\n"

struct client {
	int	 fd;
	SSL	*ssl;
	char	*buf;
	size_t	 len;
};

struct resp {
	int	 status;
	char	 line[256];
	char	 head[8192];
	char	*body;
	size_t	 bodylen;
};

/* per-request handler state */
struct req_state {
	struct buf	 body;
	size_t		 sent;
	int		 own;		/* /own: the body written on the fd */
};

static uv_loop_t		*loop;
static struct http_server	 srv_plain, srv_tls, srv_timeout, srv_full;
static uv_async_t		 done_async;
static uv_timer_t		 async_timer;
static struct http_conn		*async_conn;
static int			 ports[4];
static struct http_conn		*own_conn;	/* /own, until it closes */
static volatile int		 own_closing;	/* 1: fd open in on_closing */
static const char		*tls_cafile;
static int			 failures;

static void
fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

#define CHECK(cond, ...) do {			\
	if (!(cond))				\
		fail(__VA_ARGS__);		\
} while (0)

/* The server side. */

static struct req_state *
state_of(struct http_conn *c)
{
	if (c->data == NULL)
		c->data = calloc(1, sizeof(struct req_state));
	return c->data;
}

static void
state_clear(struct http_conn *c)
{
	struct req_state	*st = c->data;

	if (st != NULL) {
		buf_free(&st->body);
		free(st);
		c->data = NULL;
	}
}

static void
async_fire(uv_timer_t *t)
{
	static const char	 msg[] = "late\n";

	if (async_conn != NULL)
		http_respond(async_conn, 200, "text/plain", NULL, msg,
		    sizeof(msg) - 1);
	async_conn = NULL;
}

static void
stream_next(struct http_conn *c)
{
	struct req_state	*st = state_of(c);
	char			 chunk[16384];
	size_t			 i, n;

	if (st->sent == STREAM_TOTAL) {
		http_stream_end(c);
		state_clear(c);
		return;
	}
	n = STREAM_TOTAL - st->sent;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	for (i = 0; i < n; i++)
		chunk[i] = 'a' + (st->sent + i) % 26;
	if (http_stream_write(c, chunk, n) == -1) {
		http_conn_close(c);
		return;
	}
	st->sent += n;
}

/* The body of /own goes on the socket around the connection (as fwstore's
 * sendfile does), is counted with http_stream_sent, and the answer ends
 * with the connection's FIN while the handler watches. */
static void
own_body(struct http_conn *c)
{
	static const char	 body[] = OWN_BODY;
	int			 fd = http_conn_fd(c);

	state_clear(c);
	CHECK(fd >= 0 && write(fd, body, sizeof(body) - 1) ==
	    (ssize_t)sizeof(body) - 1, "own: write on the socket");
	CHECK(http_stream_sent(c, sizeof(body) - 1) == 0, "own: counted");
	CHECK(http_stream_sent(c, 1) == -1, "own: a byte past the length");
	own_conn = c;
	http_conn_watch(c, 1);
	http_stream_end(c);
}

static void
on_closing(struct http_conn *c)
{
	if (c == own_conn)
		own_closing = http_conn_fd(c) >= 0 ? 1 : -1;
}

static void
on_request(struct http_conn *c, struct http_request *req)
{
	char		 out[1024];
	const char	*foo;
	int		 n;

	state_clear(c);
	if (strcmp(req->path, "/hello") == 0) {
		http_respond(c, 200, "text/plain", "X-Test: 1\r\n", "hello\n",
		    6);
	} else if (strncmp(req->path, "/info", 5) == 0) {
		foo = http_header(req, "x-foo");
		n = snprintf(out, sizeof(out), "%s %s|%s|%s|%d\n",
		    req->method_name, req->path, req->query,
		    foo ? foo : "-", req->keep_alive);
		http_respond(c, 200, "text/plain", NULL, out, n);
	} else if (strcmp(req->path, "/conn") == 0) {
		/* what the accessors say of the connection */
		n = snprintf(out, sizeof(out), "%d %d %zu\n",
		    http_conn_fd(c) >= 0, http_conn_tls(c),
		    http_conn_queued(c));
		http_respond(c, 200, "text/plain", NULL, out, n);
	} else if (strcmp(req->path, "/echo") == 0) {
		state_of(c);
		http_accept_body(c);
	} else if (strcmp(req->path, "/refuse") == 0) {
		http_refuse(c, 401, "text/plain",
		    "WWW-Authenticate: Basic realm=\"otad\"\r\n", "no\n", 3);
	} else if (strcmp(req->path, "/async") == 0) {
		async_conn = c;
		uv_timer_start(&async_timer, async_fire, 50, 0);
	} else if (strcmp(req->path, "/own") == 0) {
		state_of(c)->own = 1;
		http_stream_begin(c, 200, "text/plain", NULL,
		    sizeof(OWN_BODY) - 1);
	} else if (strcmp(req->path, "/stream") == 0) {
		state_of(c);
		http_stream_begin(c, 200, "application/octet-stream", NULL,
		    STREAM_TOTAL);
		if (req->method == HTTP_HEAD) {
			http_stream_end(c);
			state_clear(c);
		}
	} else
		http_respond(c, 404, "text/plain", NULL, "not found\n", 10);
}

static int
on_body(struct http_conn *c, const char *p, size_t n)
{
	return buf_add(&state_of(c)->body, p, n);
}

static void
on_complete(struct http_conn *c)
{
	struct req_state	*st = state_of(c);

	http_respond(c, 200, "application/octet-stream", NULL, st->body.data,
	    st->body.len);
	state_clear(c);
}

static void
on_drain(struct http_conn *c)
{
	struct req_state	*st = c->data;

	if (st != NULL && st->own)
		own_body(c);
	else if (st != NULL)
		stream_next(c);
}

static void
on_close(struct http_conn *c)
{
	if (async_conn == c)
		async_conn = NULL;
	if (own_conn == c)
		own_conn = NULL;
	state_clear(c);
}

static const struct http_handler handler = {
	.on_request = on_request,
	.on_body = on_body,
	.on_complete = on_complete,
	.on_drain = on_drain,
	.on_closing = on_closing,
	.on_close = on_close,
};

static int
start_server(struct http_server *srv, SSL_CTX *tls, unsigned head_ms,
    unsigned idle_ms, unsigned max_conns)
{
	struct sockaddr_storage	 ss;
	char			 err[256];
	int			 len = sizeof(ss);

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->tls = tls;
	srv->handler = &handler;
	srv->head_timeout_ms = head_ms;
	srv->idle_timeout_ms = idle_ms;
	srv->max_conns = max_conns;
	if (http_server_start(srv, "127.0.0.1:0", err, sizeof(err)) == -1) {
		fprintf(stderr, "http_server_start: %s\n", err);
		exit(1);
	}
	if (srv->nlisteners != 1 || uv_tcp_getsockname(&srv->listeners[0],
	    (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "no listener\n");
		exit(1);
	}
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
on_done(uv_async_t *a)
{
	uv_stop(loop);
}

/* The client side. */

static void
cl_open(struct client *cl, int port, SSL_CTX *ctx)
{
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 5, 0 };
	int			 one = 1;

	memset(cl, 0, sizeof(*cl));
	if ((cl->buf = malloc(4 * BIG_BODY)) == NULL)
		abort();
	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("connect");
		exit(1);
	}
	if (ctx == NULL)
		return;
	cl->ssl = SSL_new(ctx);
	SSL_set_fd(cl->ssl, cl->fd);
	SSL_set_tlsext_host_name(cl->ssl, "localhost");
	SSL_set1_host(cl->ssl, "localhost");
	if (SSL_connect(cl->ssl) != 1) {
		fail("TLS handshake: %s",
		    ERR_reason_error_string(ERR_get_error()));
		SSL_free(cl->ssl);
		cl->ssl = NULL;
	}
}

static void
cl_close(struct client *cl)
{
	if (cl->ssl != NULL) {
		SSL_shutdown(cl->ssl);
		SSL_free(cl->ssl);
	}
	close(cl->fd);
	free(cl->buf);
}

static int
cl_send(struct client *cl, const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 r;

	while (n > 0) {
		if (cl->ssl != NULL)
			r = SSL_write(cl->ssl, s, n);
		else
			r = send(cl->fd, s, n, MSG_NOSIGNAL);
		if (r <= 0)
			return -1;
		s += r;
		n -= r;
	}
	return 0;
}

static int
cl_sends(struct client *cl, const char *s)
{
	return cl_send(cl, s, strlen(s));
}

/* Reads more into cl->buf: >0 bytes, 0 at EOF, -1 on error. */
static ssize_t
cl_fill(struct client *cl)
{
	ssize_t	 r;

	if (cl->ssl != NULL) {
		r = SSL_read(cl->ssl, cl->buf + cl->len, 65536);
		if (r <= 0)
			return SSL_get_error(cl->ssl, r) ==
			    SSL_ERROR_ZERO_RETURN ? 0 : -1;
	} else
		r = recv(cl->fd, cl->buf + cl->len, 65536, 0);
	if (r > 0)
		cl->len += r;
	return r;
}

static void
cl_consume(struct client *cl, size_t n)
{
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
}

/* One response; nobody: a HEAD request's.  0, or -1 (reported). */
static int
cl_response(struct client *cl, struct resp *r, int nobody)
{
	char		*end, *cl_hdr;
	size_t		 hlen, clen = 0;

	free(r->body);
	memset(r, 0, sizeof(*r));
	for (;;) {
		cl->buf[cl->len] = '\0';
		if ((end = strstr(cl->buf, "\r\n\r\n")) != NULL)
			break;
		if (cl_fill(cl) <= 0) {
			fail("no complete response head (%s)",
			    strerror(errno));
			return -1;
		}
	}
	hlen = end + 4 - cl->buf;
	if (hlen >= sizeof(r->head)) {
		fail("response head too long");
		return -1;
	}
	memcpy(r->head, cl->buf, hlen);
	r->head[hlen] = '\0';
	snprintf(r->line, sizeof(r->line), "%.*s",
	    (int)strcspn(r->head, "\r"), r->head);
	r->status = atoi(r->head + 9);
	if ((cl_hdr = strcasestr(r->head, "\r\ncontent-length: ")) != NULL)
		clen = strtoul(cl_hdr + 18, NULL, 10);
	else if (r->status >= 200)
		fail("%s: no Content-Length", r->line);
	if (nobody || r->status < 200)
		clen = 0;
	while (cl->len < hlen + clen)
		if (cl_fill(cl) <= 0) {
			fail("%s: short body", r->line);
			return -1;
		}
	r->body = malloc(clen + 1);
	memcpy(r->body, cl->buf + hlen, clen);
	r->body[clen] = '\0';
	r->bodylen = clen;
	cl_consume(cl, hlen + clen);
	return 0;
}

static int
has_header(const struct resp *r, const char *line)
{
	char	 pat[512];

	snprintf(pat, sizeof(pat), "\r\n%s\r\n", line);
	return strstr(r->head, pat) != NULL;
}

static void
expect(struct client *cl, struct resp *r, int nobody, const char *what,
    const char *line, const char *body)
{
	if (cl_response(cl, r, nobody) == -1) {
		fail("%s: no response", what);
		return;
	}
	CHECK(strcmp(r->line, line) == 0, "%s: status \"%s\", want \"%s\"",
	    what, r->line, line);
	if (r->status >= 200) {
		CHECK(has_header(r, "Server: otad"), "%s: no Server", what);
		CHECK(strstr(r->head, "\r\nDate: ") != NULL &&
		    strstr(r->head, " GMT\r\n") != NULL, "%s: no Date", what);
	}
	CHECK(strcasestr(r->head, "chunked") == NULL, "%s: chunked", what);
	if (body != NULL)
		CHECK(strcmp(r->body, body) == 0, "%s: body \"%s\", want "
		    "\"%s\"", what, r->body, body);
}

/* The server closed gracefully: EOF, not a reset. */
static void
expect_eof(struct client *cl, const char *what)
{
	ssize_t	 r;

	cl->len = 0;
	r = cl_fill(cl);
	CHECK(r == 0, "%s: want EOF, got %zd (%s)", what, r,
	    r < 0 ? strerror(errno) : "data");
}

static void
test_keepalive(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 0, "keep-alive 1", "HTTP/1.1 200 OK", "hello\n");
	CHECK(has_header(&r, "Content-Length: 6"), "keep-alive 1: length");
	CHECK(has_header(&r, "Connection: keep-alive"), "keep-alive 1: conn");
	CHECK(has_header(&r, "Content-Type: text/plain"), "keep-alive 1: type");
	CHECK(has_header(&r, "X-Test: 1"), "keep-alive 1: extra header");
	cl_sends(&cl, "GET /conn HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 0, "accessors", "HTTP/1.1 200 OK", "1 0 0\n");
	cl_sends(&cl, "OPTIONS /info HTTP/1.1\r\nX-Foo:\r\n\r\n");
	expect(&cl, &r, 0, "empty value", "HTTP/1.1 200 OK",
	    "OPTIONS /info|||1\n");
	cl_sends(&cl, "GET /info/a%20b%2Fc?q=1&r=%20 HTTP/1.1\r\nHost: x\r\n"
	    "X-Foo:   bar baz  \r\nConnection: close\r\n\r\n");
	expect(&cl, &r, 0, "keep-alive 2", "HTTP/1.1 200 OK",
	    "GET /info/a b/c|q=1&r=%20|bar baz|0\n");
	CHECK(has_header(&r, "Connection: close"), "keep-alive 2: conn");
	expect_eof(&cl, "keep-alive 2");
	cl_close(&cl);
	free(r.body);
}

static void
test_head(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 1, "HEAD", "HTTP/1.1 200 OK", "");
	CHECK(has_header(&r, "Content-Length: 6"), "HEAD: length");
	cl_sends(&cl, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 1, "HEAD stream", "HTTP/1.1 200 OK", "");
	CHECK(has_header(&r, "Content-Length: 100000"), "HEAD stream: length");
	cl_sends(&cl, "GET /nothing HTTP/1.0\r\n\r\n");
	expect(&cl, &r, 0, "after HEAD", "HTTP/1.1 404 Not Found",
	    "not found\n");
	CHECK(has_header(&r, "Connection: close"), "HTTP/1.0: close");
	expect_eof(&cl, "HTTP/1.0");
	cl_close(&cl);
	free(r.body);
}

static void
test_pipeline(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /async HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /info?2 HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /info?4 HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 0, "pipeline 1", "HTTP/1.1 200 OK", "hello\n");
	expect(&cl, &r, 0, "pipeline 2", "HTTP/1.1 200 OK", "late\n");
	expect(&cl, &r, 0, "pipeline 3", "HTTP/1.1 200 OK",
	    "GET /info|2|-|1\n");
	expect(&cl, &r, 0, "pipeline 4", "HTTP/1.1 200 OK", "abc");
	expect(&cl, &r, 0, "pipeline 5", "HTTP/1.1 200 OK",
	    "GET /info|4|-|1\n");
	cl_close(&cl);
	free(r.body);
}

static void
test_bytewise(void)
{
	static const char	 req[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
	    "6\r\n world\r\n0\r\n\r\nGET /info HTTP/1.1\r\n\r\n";
	struct client		 cl;
	struct resp		 r = { 0 };
	size_t			 i;

	cl_open(&cl, ports[0], NULL);
	for (i = 0; i < sizeof(req) - 1; i++) {
		cl_send(&cl, req + i, 1);
		usleep(500);
	}
	expect(&cl, &r, 0, "bytewise", "HTTP/1.1 200 OK", "hello world");
	expect(&cl, &r, 0, "bytewise 2", "HTTP/1.1 200 OK",
	    "GET /info||-|1\n");
	cl_close(&cl);
	free(r.body);
}

static void
test_continue(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
	    "Expect: 100-continue\r\n\r\n");
	expect(&cl, &r, 0, "continue", "HTTP/1.1 100 Continue", NULL);
	CHECK(strcmp(r.head, "HTTP/1.1 100 Continue\r\n\r\n") == 0,
	    "continue: exact bytes");
	cl_sends(&cl, "0123456789");
	expect(&cl, &r, 0, "continue body", "HTTP/1.1 200 OK", "0123456789");
	CHECK(has_header(&r, "Content-Length: 10"), "continue: length");
	CHECK(has_header(&r, "Connection: keep-alive"), "continue: conn");
	cl_close(&cl);
	free(r.body);
}

/* 401 before the body; sendfirst: the client sends the 1 MiB first. */
static void
test_refuse(int sendfirst)
{
	struct client	 cl;
	struct resp	 r = { 0 };
	char		*body, head[256];
	const char	*what = sendfirst ? "refuse (sent)" : "refuse";

	body = malloc(BIG_BODY);
	memset(body, 'x', BIG_BODY);
	snprintf(head, sizeof(head), "POST /refuse HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", BIG_BODY);
	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, head);
	if (sendfirst)
		CHECK(cl_send(&cl, body, BIG_BODY) == 0, "%s: send: %s", what,
		    strerror(errno));
	expect(&cl, &r, 0, what, "HTTP/1.1 401 Unauthorized", "no\n");
	CHECK(has_header(&r, "WWW-Authenticate: Basic realm=\"otad\""),
	    "%s: challenge", what);
	CHECK(has_header(&r, "Connection: close"), "%s: conn", what);
	if (!sendfirst)
		CHECK(cl_send(&cl, body, BIG_BODY) == 0, "%s: send: %s", what,
		    strerror(errno));
	expect_eof(&cl, what);
	cl_close(&cl);
	free(body);
	free(r.body);
}

static void
test_oversized(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };
	struct buf	 b = BUF_INIT;
	int		 i;

	buf_adds(&b, "GET /hello HTTP/1.1\r\nX-Big: ");
	for (i = 0; i < HTTP_MAX_HEAD + 10; i++)
		buf_addc(&b, 'a');
	buf_adds(&b, "\r\n\r\n");
	cl_open(&cl, ports[0], NULL);
	cl_send(&cl, b.data, b.len);
	expect(&cl, &r, 0, "big header",
	    "HTTP/1.1 431 Request Header Fields Too Large", NULL);
	CHECK(has_header(&r, "Connection: close"), "big header: conn");
	expect_eof(&cl, "big header");
	cl_close(&cl);

	buf_reset(&b);
	buf_adds(&b, "GET /hello HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		buf_printf(&b, "X-H%d: %d\r\n", i, i);
	buf_adds(&b, "\r\n");
	cl_open(&cl, ports[0], NULL);
	cl_send(&cl, b.data, b.len);
	expect(&cl, &r, 0, "many headers",
	    "HTTP/1.1 431 Request Header Fields Too Large", NULL);
	cl_close(&cl);

	buf_reset(&b);
	buf_adds(&b, "GET /");
	for (i = 0; i < HTTP_MAX_URL; i++)
		buf_addc(&b, 'u');
	buf_adds(&b, " HTTP/1.1\r\n\r\n");
	cl_open(&cl, ports[0], NULL);
	cl_send(&cl, b.data, b.len);
	expect(&cl, &r, 0, "long url", "HTTP/1.1 414 URI Too Long", NULL);
	cl_close(&cl);

	/* just within the limits */
	buf_reset(&b);
	buf_adds(&b, "GET /info HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS - 1; i++)
		buf_printf(&b, "X-H%d: %d\r\n", i, i);
	buf_adds(&b, "X-Foo: last\r\n\r\n");
	cl_open(&cl, ports[0], NULL);
	cl_send(&cl, b.data, b.len);
	expect(&cl, &r, 0, "48 headers", "HTTP/1.1 200 OK",
	    "GET /info||last|1\n");
	cl_close(&cl);
	buf_free(&b);
	free(r.body);
}

static void
test_garbage(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "\x01\x02garbage here\r\n\r\n");
	expect(&cl, &r, 0, "garbage", "HTTP/1.1 400 Bad Request", NULL);
	CHECK(strncmp(r.body, "Bad request", 11) == 0 &&
	    strchr(r.body, '\n') == r.body + r.bodylen - 1,
	    "garbage: body \"%s\"", r.body);
	CHECK(has_header(&r, "Content-Type: text/plain"), "garbage: type");
	CHECK(has_header(&r, "Connection: close"), "garbage: conn");
	expect_eof(&cl, "garbage");
	cl_close(&cl);

	/* plain text to TLS: a clear-text hint, then the end */
	cl_open(&cl, ports[1], NULL);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\n\r\n");
	expect(&cl, &r, 0, "plain to TLS", "HTTP/1.1 400 Bad Request", NULL);
	CHECK(strncmp(r.body, "This is an HTTPS port: use https://127.0.0.1:",
	    45) == 0 && strchr(r.body, '\n') == r.body + r.bodylen - 1,
	    "plain to TLS: body \"%s\"", r.body);
	CHECK(has_header(&r, "Connection: close"), "plain to TLS: conn");
	expect_eof(&cl, "plain to TLS");
	cl_close(&cl);

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "GET /a%zz HTTP/1.1\r\n\r\n");
	expect(&cl, &r, 0, "bad escape", "HTTP/1.1 400 Bad Request", NULL);
	cl_close(&cl);

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\nab");
	expect(&cl, &r, 0, "double length", "HTTP/1.1 400 Bad Request", NULL);
	cl_close(&cl);
	free(r.body);
}

static void
test_stream(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };
	size_t		 i;
	int		 ok = 1;

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "GET /stream?x HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 0, "stream", "HTTP/1.1 200 OK", NULL);
	CHECK(has_header(&r, "Content-Length: 100000"), "stream: length");
	CHECK(r.bodylen == STREAM_TOTAL, "stream: %zu bytes", r.bodylen);
	for (i = 0; i < r.bodylen && ok; i++)
		ok = r.body[i] == 'a' + (char)(i % 26);
	CHECK(ok, "stream: body differs at %zu", i - 1);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(&cl, &r, 0, "after stream", "HTTP/1.1 200 OK", "hello\n");
	cl_close(&cl);
	free(r.body);
}

/* A body the handler wrote on the socket itself: the client sees the
 * length, the bytes and the FIN; on_closing runs with the socket open. */
static void
test_own_body(void)
{
	struct client	 cl;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[0], NULL);
	cl_sends(&cl, "GET /own HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "\r\n");
	expect(&cl, &r, 0, "own", "HTTP/1.1 200 OK", OWN_BODY);
	CHECK(has_header(&r, "Content-Length: 24"), "own: length");
	CHECK(has_header(&r, "Connection: close"), "own: conn");
	expect_eof(&cl, "own: FIN after the body");
	cl_close(&cl);
	for (int i = 0; i < 100 && own_closing == 0; i++)
		usleep(10000);
	CHECK(own_closing == 1, "own: on_closing saw the socket (%d)",
	    own_closing);
	free(r.body);
}

static void
test_timeouts(void)
{
	struct client	 cl, cl2;
	struct resp	 r = { 0 };

	cl_open(&cl, ports[2], NULL);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\n");
	expect(&cl, &r, 0, "head timeout", "HTTP/1.1 408 Request Timeout",
	    NULL);
	CHECK(has_header(&r, "Connection: close"), "head timeout: conn");
	expect_eof(&cl, "head timeout");
	cl_close(&cl);

	cl_open(&cl, ports[2], NULL);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\n\r\n");
	expect(&cl, &r, 0, "idle", "HTTP/1.1 200 OK", "hello\n");
	expect_eof(&cl, "idle timeout");
	cl_close(&cl);

	cl_open(&cl, ports[3], NULL);
	usleep(100000);
	cl_open(&cl2, ports[3], NULL);
	expect_eof(&cl2, "max_conns");
	cl_close(&cl2);
	cl_sends(&cl, "GET /hello HTTP/1.1\r\n\r\n");
	expect(&cl, &r, 0, "under max_conns", "HTTP/1.1 200 OK", "hello\n");
	cl_close(&cl);
	free(r.body);
}

static void
test_tls(void)
{
	SSL_CTX		*ctx;
	struct client	 cl;
	struct resp	 r = { 0 };

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, tls_cafile, NULL) != 1) {
		fail("TLS: cannot load %s", tls_cafile);
		return;
	}
	cl_open(&cl, ports[1], ctx);
	if (cl.ssl != NULL) {
		cl_sends(&cl, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
		expect(&cl, &r, 0, "TLS", "HTTP/1.1 200 OK", "hello\n");
		CHECK(has_header(&r, "Content-Length: 6"), "TLS: length");
		CHECK(has_header(&r, "Connection: keep-alive"), "TLS: conn");
		cl_sends(&cl, "GET /conn HTTP/1.1\r\nHost: x\r\n\r\n");
		expect(&cl, &r, 0, "TLS accessors", "HTTP/1.1 200 OK",
		    "1 1 0\n");
		cl_sends(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
		expect(&cl, &r, 0, "TLS continue", "HTTP/1.1 100 Continue",
		    NULL);
		cl_sends(&cl, "tls!!");
		expect(&cl, &r, 0, "TLS echo", "HTTP/1.1 200 OK", "tls!!");
		cl_sends(&cl, "GET /stream HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n");
		expect(&cl, &r, 0, "TLS stream", "HTTP/1.1 200 OK", NULL);
		CHECK(r.bodylen == STREAM_TOTAL, "TLS stream: %zu", r.bodylen);
		expect_eof(&cl, "TLS close");
	}
	cl_close(&cl);
	SSL_CTX_free(ctx);
	free(r.body);
}

static void *
client_main(void *arg)
{
	test_keepalive();
	test_head();
	test_pipeline();
	test_bytewise();
	test_continue();
	test_refuse(0);
	test_refuse(1);
	test_oversized();
	test_garbage();
	test_stream();
	test_own_body();
	test_timeouts();
	test_tls();
	uv_async_send(&done_async);
	return NULL;
}

static SSL_CTX *
make_tls(char *dir)
{
	static char	 cert[512], key[512];
	char		 err[256];
	SSL_CTX		*ctx;
	struct stat	 st;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (tls_make_self_signed(cert, key, "otad-test", err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "tls_make_self_signed: %s\n", err);
		exit(1);
	}
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "key mode %o", st.st_mode & 0777);
	if ((ctx = tls_server_ctx(cert, key, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tls_server_ctx: %s\n", err);
		exit(1);
	}
	CHECK(tls_server_ctx(cert, "/nonexistent/key", err, sizeof(err)) ==
	    NULL && strstr(err, "/nonexistent/key") != NULL,
	    "missing key: \"%s\"", err);
	CHECK(tls_server_ctx(key, key, err, sizeof(err)) == NULL &&
	    strstr(err, key) != NULL, "key as cert: \"%s\"", err);
	tls_cafile = cert;
	return ctx;
}

int
main(void)
{
	char		 dir[] = "/tmp/test_http.XXXXXX";
	char		 cmd[128];
	pthread_t	 th;
	SSL_CTX		*ctx;

	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	log_init("test_http", getenv("TEST_VERBOSE") != NULL);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ctx = make_tls(dir);
	loop = uv_default_loop();
	uv_timer_init(loop, &async_timer);
	uv_async_init(loop, &done_async, on_done);
	ports[0] = start_server(&srv_plain, NULL, 0, 0, 0);
	ports[1] = start_server(&srv_tls, ctx, 0, 0, 0);
	ports[2] = start_server(&srv_timeout, NULL, 200, 200, 0);
	ports[3] = start_server(&srv_full, NULL, 0, 0, 1);
	pthread_create(&th, NULL, client_main, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	if (failures > 0) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
