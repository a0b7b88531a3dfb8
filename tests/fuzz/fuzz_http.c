/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the HTTP request glue (common/http.h) as admind and
 * fwstore run it: a real http_server on a loopback port, and a client in
 * the same libuv loop that sends the input in pieces, half-closes and reads
 * until the server closes.  Every callback of http.c runs as in a daemon
 * (pauses, pipelining, 100-continue, refusals with a lingering close,
 * streamed answers).  The handler checks what http.h promises about the
 * parsed request.  No change to http.c was needed to drive it.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "log.h"

struct fuzz_req {
	uv_timer_t	 later;		/* an answer after a loop turn */
	struct http_conn *conn;
	uint64_t	 body;		/* bytes received */
	uint64_t	 left;		/* of a streamed answer */
	int		 fail_body;
};

struct fuzz_client {
	uv_tcp_t	 tcp;
	uv_connect_t	 connect;
	uv_write_t	 write;
	uv_shutdown_t	 shutdown;
	const uint8_t	*data;
	size_t		 size, off, step;
	int		 closed;
};

static void	fuzz_on_request(struct http_conn *, struct http_request *);
static int	fuzz_on_body(struct http_conn *, const char *, size_t);
static void	fuzz_on_complete(struct http_conn *);
static void	fuzz_on_drain(struct http_conn *);
static void	fuzz_on_close(struct http_conn *);
static void	fuzz_check(const struct http_request *);
static void	fuzz_later(uv_timer_t *);
static void	fuzz_req_free(uv_handle_t *);
static void	fuzz_connected(uv_connect_t *, int);
static void	fuzz_written(uv_write_t *, int);
static void	fuzz_alloc(uv_handle_t *, size_t, uv_buf_t *);
static void	fuzz_read(uv_stream_t *, ssize_t, const uv_buf_t *);
static void	fuzz_client_close(struct fuzz_client *);
static void	fuzz_client_closed(uv_handle_t *);

static const struct http_handler fuzz_handler = {
	fuzz_on_request, fuzz_on_body, fuzz_on_complete, fuzz_on_drain,
	fuzz_on_close,
};
static uv_loop_t		 fuzz_loop;
static struct http_server	 fuzz_srv;
static struct sockaddr_storage	 fuzz_addr;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[256];
	int	 len = sizeof(fuzz_addr);

	signal(SIGPIPE, SIG_IGN);	/* as the daemons: EPIPE, not a signal */
	log_init("fuzz_http", 0);
	uv_loop_init(&fuzz_loop);
	fuzz_srv.loop = &fuzz_loop;
	fuzz_srv.handler = &fuzz_handler;
	fuzz_srv.max_conns = 4;
	fuzz_srv.head_timeout_ms = 1000;
	fuzz_srv.idle_timeout_ms = 1000;
	if (http_server_start(&fuzz_srv, "127.0.0.1:0", err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		exit(1);
	}
	uv_tcp_getsockname(&fuzz_srv.listeners[0],
	    (struct sockaddr *)&fuzz_addr, &len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_client	 cl;

	memset(&cl, 0, sizeof(cl));
	cl.data = data;
	cl.size = size;
	/* the last byte picks the piece size: whole, or 1..64 bytes */
	cl.step = size == 0 || data[size - 1] % 4 == 0 ? size :
	    data[size - 1] % 64 + 1;
	uv_tcp_init(&fuzz_loop, &cl.tcp);
	cl.tcp.data = &cl;
	if (uv_tcp_connect(&cl.connect, &cl.tcp,
	    (struct sockaddr *)&fuzz_addr, fuzz_connected) != 0)
		abort();
	/* until the client is closed and the server freed its connection */
	while (!cl.closed || fuzz_srv.nconns > 0)
		uv_run(&fuzz_loop, UV_RUN_ONCE);
	return 0;
}

/* The server side: a handler like admind's and fwstore's. */

static void
fuzz_on_request(struct http_conn *c, struct http_request *req)
{
	struct fuzz_req	*fr;
	static const char no[] = "no\n";

	fuzz_check(req);
	if (c->data == NULL) {
		if ((fr = calloc(1, sizeof(*fr))) == NULL)
			abort();
		uv_timer_init(&fuzz_loop, &fr->later);
		fr->later.data = fr;
		fr->conn = c;
		c->data = fr;
	}
	fr = c->data;
	fr->body = fr->left = 0;
	fr->fail_body = 0;
	http_header(req, "host");
	if (strncmp(req->path, "/refuse", 7) == 0) {
		http_refuse(c, 401, "text/plain", "WWW-Authenticate: Basic\r\n",
		    no, sizeof(no) - 1);
	} else if (strncmp(req->path, "/stream", 7) == 0) {
		fr->left = 100000;
		if (http_stream_begin(c, 200, "application/octet-stream",
		    NULL, fr->left) == 0)
			fuzz_on_drain(c);
	} else if (req->has_length || req->chunked) {
		fr->fail_body = strncmp(req->path, "/fail", 5) == 0;
		http_accept_body(c);
	} else if (req->path[1] == 'a')
		http_respond(c, 200, "text/plain", NULL, "ok\n", 3);
	else if (req->path[1] == 'l')	/* as fwstore after admind's reply */
		uv_timer_start(&fr->later, fuzz_later, 0, 0);
	else				/* as admind: on_complete answers */
		http_accept_body(c);
}

static void
fuzz_later(uv_timer_t *t)
{
	struct fuzz_req	*fr = t->data;

	http_respond(fr->conn, 200, "text/plain", NULL, "later\n", 6);
}

static int
fuzz_on_body(struct http_conn *c, const char *p, size_t n)
{
	struct fuzz_req	*fr = c->data;

	fr->body += n;
	if (fr->fail_body && fr->body > 16) {
		http_refuse(c, 413, "text/plain", NULL, "big\n", 4);
		return -1;
	}
	return 0;
}

static void
fuzz_on_complete(struct http_conn *c)
{
	char	 msg[64];
	int	 n;

	n = snprintf(msg, sizeof(msg), "%llu\n", c->data != NULL ?
	    (unsigned long long)((struct fuzz_req *)c->data)->body : 0ULL);
	http_respond(c, 200, "text/plain", NULL, msg, (size_t)n);
}

static void
fuzz_on_drain(struct http_conn *c)
{
	static char	 block[16384];
	struct fuzz_req	*fr = c->data;
	size_t		 n;

	if (fr == NULL || fr->left == 0)
		return;
	n = fr->left < sizeof(block) ? fr->left : sizeof(block);
	fr->left -= n;
	if (http_stream_write(c, block, n) == -1) {
		http_conn_close(c);
		return;
	}
	if (fr->left == 0)
		http_stream_end(c);
}

static void
fuzz_on_close(struct http_conn *c)
{
	struct fuzz_req	*fr = c->data;

	if (fr != NULL)
		uv_close((uv_handle_t *)&fr->later, fuzz_req_free);
	c->data = NULL;
}

static void
fuzz_req_free(uv_handle_t *h)
{
	free(h->data);
}

/* What http.h promises about a request head. */
static void
fuzz_check(const struct http_request *req)
{
	size_t	 i;
	const char *p;

	if (req->method_name == NULL || req->target == NULL ||
	    req->path == NULL || req->query == NULL ||
	    req->path[0] != '/' || strlen(req->target) > HTTP_MAX_URL ||
	    req->nheaders > HTTP_MAX_HEADERS)
		abort();
	for (i = 0; i < req->nheaders; i++) {
		for (p = req->headers[i].name; *p != '\0'; p++)
			if (isupper((unsigned char)*p))
				abort();
		p = req->headers[i].value;
		if (*p == ' ' || *p == '\t' || (*p != '\0' &&
		    (p[strlen(p) - 1] == ' ' || p[strlen(p) - 1] == '\t')))
			abort();
	}
}

/* The client side. */

static void
fuzz_connected(uv_connect_t *req, int status)
{
	struct fuzz_client	*cl = req->handle->data;

	if (status != 0) {
		fprintf(stderr, "fuzz_http: connect: %s\n", uv_strerror(status));
		abort();
	}
	uv_read_start((uv_stream_t *)&cl->tcp, fuzz_alloc, fuzz_read);
	fuzz_written(&cl->write, 0);
}

/* Writes the next piece, or half-closes after the last. */
static void
fuzz_written(uv_write_t *w, int status)
{
	struct fuzz_client	*cl = (struct fuzz_client *)((char *)w -
	    offsetof(struct fuzz_client, write));
	uv_buf_t		 b;
	size_t			 n;

	if (status != 0 || cl->closed)
		return;		/* the server closed first: reads see it */
	if (cl->off >= cl->size) {
		uv_shutdown(&cl->shutdown, (uv_stream_t *)&cl->tcp, NULL);
		return;
	}
	n = cl->size - cl->off < cl->step ? cl->size - cl->off : cl->step;
	b = uv_buf_init((char *)cl->data + cl->off, (unsigned)n);
	cl->off += n;
	if (uv_write(&cl->write, (uv_stream_t *)&cl->tcp, &b, 1,
	    fuzz_written) != 0)
		return;
}

static void
fuzz_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char	 rbuf[65536];

	*b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void
fuzz_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	if (n < 0)
		fuzz_client_close(s->data);
}

/* Closes with a reset: no TIME_WAIT left for hours of connections. */
static void
fuzz_client_close(struct fuzz_client *cl)
{
	struct linger	 l = { 1, 0 };
	uv_os_fd_t	 fd;

	if (uv_is_closing((uv_handle_t *)&cl->tcp))
		return;
	if (uv_fileno((uv_handle_t *)&cl->tcp, &fd) == 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	uv_close((uv_handle_t *)&cl->tcp, fuzz_client_closed);
}

static void
fuzz_client_closed(uv_handle_t *h)
{
	struct fuzz_client	*cl = h->data;

	cl->closed = 1;
}
