/* SPDX-License-Identifier: MIT */
/*
 * Accepted TCP connections, plain or TLS, over libuv (see stream.h).  Used
 * by hwd for devices and, through http.c, by admind and fwstore.  TLS runs
 * OpenSSL over two memory BIOs: ciphertext read from the socket is written
 * into the read BIO, and whatever OpenSSL puts into the write BIO is sent
 * with one uv_write.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "listen.h"
#include "log.h"
#include "netaddr.h"
#include "stream.h"

#define STREAM_RBUF_SIZE	(64 * 1024)
#define STREAM_TLSBUF_SIZE	(16 * 1024)

struct stream_wreq {
	uv_write_t	 req;
	struct stream	*s;
	size_t		 len;
	char		 data[];
};

static void	stream_alloc_cb(uv_handle_t *, size_t, uv_buf_t *);
static void	stream_read_cb(uv_stream_t *, ssize_t, const uv_buf_t *);
static void	stream_write_cb(uv_write_t *, int);
static void	stream_shutdown_cb(uv_shutdown_t *, int);
static void	stream_close_cb(uv_handle_t *);
static int	stream_send(struct stream *, const void *, size_t);
static int	stream_tls_flush(struct stream *);
static void	stream_tls_input(struct stream *, const char *, size_t);
static int	stream_tls_handshake(struct stream *);
static void	stream_tls_read(struct stream *);
static void	stream_gone(struct stream *, const char *);
static void	stream_listen_close(uv_tcp_t *, int);

/*
 * Reads are consumed synchronously in the read callback, so one buffer
 * serves every stream of the (single-threaded) loop, and an idle stream
 * holds none.  The second buffer receives decrypted TLS bytes.
 */
static char	stream_rbuf[STREAM_RBUF_SIZE];
static char	stream_tlsbuf[STREAM_TLSBUF_SIZE];

int
stream_accept(uv_stream_t *server, struct stream *s, SSL_CTX *ctx,
    const struct stream_ops *ops, void *data)
{
	SSL	*ssl = NULL;
	BIO	*rbio, *wbio;

	/*
	 * uv_accept() on a fresh handle fails only when no connection is
	 * pending; check first, so that on failure s was never registered
	 * with the loop and the caller may free it at once.
	 */
	if (server->accepted_fd == -1)
		return -1;
	if (ctx != NULL) {
		ERR_clear_error();
		if ((ssl = SSL_new(ctx)) == NULL)
			goto ssl_fail;
		rbio = BIO_new(BIO_s_mem());
		wbio = BIO_new(BIO_s_mem());
		if (rbio == NULL || wbio == NULL) {
			BIO_free(rbio);
			BIO_free(wbio);
			goto ssl_fail;
		}
		BIO_set_mem_eof_return(rbio, -1);
		BIO_set_mem_eof_return(wbio, -1);
		SSL_set_bio(ssl, rbio, wbio);
		SSL_set_accept_state(ssl);
	}
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->data = data;
	s->ssl = ssl;
	s->handshake_done = ssl == NULL;
	uv_tcp_init(server->loop, &s->tcp);
	s->tcp.data = s;
	if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0) {
		/* Cannot happen (checked above); the handle must close. */
		log_warnx("stream: accept failed");
		stream_close(s);
		return 0;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	if (uv_read_start((uv_stream_t *)&s->tcp, stream_alloc_cb,
	    stream_read_cb) != 0) {
		log_warnx("stream: cannot start reading");
		stream_close(s);
	}
	return 0;

 ssl_fail:
	log_warnx("stream: cannot set up TLS: %s",
	    ERR_reason_error_string(ERR_peek_last_error()));
	SSL_free(ssl);
	return -1;
}

int
stream_write(struct stream *s, const void *p, size_t n)
{
	int	 r;

	if (s->closing || s->write_shut)
		return -1;
	if (n == 0)
		return 0;
	if (s->queue_limit != 0 && s->queued + n > s->queue_limit) {
		log_debug("stream: write queue full (%zu bytes)", s->queued);
		return -1;
	}
	if (s->ssl == NULL)
		return stream_send(s, p, n);
	if (n > INT_MAX)
		return -1;
	ERR_clear_error();
	if ((r = SSL_write(s->ssl, p, (int)n)) <= 0) {
		log_debug("stream: TLS write failed (%d)",
		    SSL_get_error(s->ssl, r));
		return -1;
	}
	return stream_tls_flush(s);
}

void
stream_pause(struct stream *s)
{
	s->paused = 1;
	if (!s->closing)
		uv_read_stop((uv_stream_t *)&s->tcp);
}

void
stream_resume(struct stream *s)
{
	if (!s->paused)
		return;
	s->paused = 0;
	if (s->closing || s->eof)
		return;
	if (uv_read_start((uv_stream_t *)&s->tcp, stream_alloc_cb,
	    stream_read_cb) != 0)
		stream_gone(s, "cannot resume reading");
}

void
stream_shutdown(struct stream *s)
{
	uv_shutdown_t	*req;
	uv_os_fd_t	 fd;

	if (s->closing || s->write_shut)
		return;
	if (s->ssl != NULL && s->handshake_done) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);	/* queues close_notify */
		if (stream_tls_flush(s) == -1)
			return;
	}
	s->write_shut = 1;
	if (s->queued == 0 && s->ssl == NULL &&
	    uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0) {
		/* nothing queued: the FIN goes now, without waiting for
		 * writability */
		if (shutdown(fd, SHUT_WR) == -1 && errno != ENOTCONN)
			stream_gone(s, "shutdown failed");
		return;
	}
	if ((req = malloc(sizeof(*req))) == NULL) {
		stream_gone(s, "out of memory");
		return;
	}
	req->data = s;
	if (uv_shutdown(req, (uv_stream_t *)&s->tcp, stream_shutdown_cb) != 0) {
		free(req);
		stream_gone(s, "shutdown failed");
	}
}

void
stream_close(struct stream *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	if (uv_is_closing((uv_handle_t *)&s->tcp))
		return;
	uv_read_stop((uv_stream_t *)&s->tcp);
	uv_close((uv_handle_t *)&s->tcp, stream_close_cb);
}

int
stream_peer_addr(struct stream *s, struct sockaddr_storage *ss)
{
	int	 len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	return uv_tcp_getpeername(&s->tcp, (struct sockaddr *)ss, &len) == 0 ?
	    0 : -1;
}

int
stream_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	int	 len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	return uv_tcp_getsockname(&s->tcp, (struct sockaddr *)ss, &len) == 0 ?
	    0 : -1;
}

/* A worker's sockets, bound before the fork (listen.h). */
static int
stream_listen_bound(uv_loop_t *loop, int *fds, int n, uv_tcp_t *servers,
    uv_connection_cb on_conn, void *data, char *err, size_t errlen)
{
	int	 i, r = 0;

	for (i = 0; i < n; i++) {
		uv_tcp_init(loop, &servers[i]);
		servers[i].data = data;
		if ((r = uv_tcp_open(&servers[i], fds[i])) == 0)
			r = uv_listen((uv_stream_t *)&servers[i],
			    LISTEN_BACKLOG, on_conn);
		if (r != 0)
			break;
	}
	if (r == 0)
		return n;
	snprintf(err, errlen, "cannot listen on a worker's socket: %s",
	    uv_strerror(r));
	stream_listen_close(servers, i + 1);
	for (i++; i < n; i++)
		close(fds[i]);
	return -1;
}

int
stream_listen(uv_loop_t *loop, const char *list, uv_tcp_t *servers, int max,
    uv_connection_cb on_conn, void *data, char *err, size_t errlen)
{
	struct sockaddr_storage	 addrs[NETADDR_MAX_LISTEN];
	char			 name[NETADDR_STRLEN];
	int			 fds[NETADDR_MAX_LISTEN];
	int			 n, i, r, k;

	n = netaddr_parse_list(list, addrs, NETADDR_MAX_LISTEN, err, errlen);
	if (n == -1)
		return -1;
	if (n > max) {
		snprintf(err, errlen, "too many listen addresses in \"%s\" "
		    "(at most %d)", list, max);
		return -1;
	}
	if ((k = listen_take(list, fds, max)) > 0)
		return stream_listen_bound(loop, fds, k, servers, on_conn,
		    data, err, errlen);
	for (i = 0; i < n; i++) {
		uv_tcp_init(loop, &servers[i]);
		servers[i].data = data;
		/* flags 0: IPv6 wildcards also take IPv4 (V6ONLY off) */
		r = uv_tcp_bind(&servers[i], (struct sockaddr *)&addrs[i], 0);
		if (r == 0)
			r = uv_listen((uv_stream_t *)&servers[i],
			    LISTEN_BACKLOG, on_conn);
		if (r != 0) {
			netaddr_format((struct sockaddr *)&addrs[i], name,
			    sizeof(name), 1);
			snprintf(err, errlen, "cannot listen on %s: %s", name,
			    uv_strerror(r));
			stream_listen_close(servers, i + 1);
			return -1;
		}
	}
	return n;
}

static void
stream_listen_close(uv_tcp_t *servers, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (!uv_is_closing((uv_handle_t *)&servers[i]))
			uv_close((uv_handle_t *)&servers[i], NULL);
}

static void
stream_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = stream_rbuf;
	buf->len = sizeof(stream_rbuf);
}

static void
stream_read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct stream	*s = h->data;

	if (s->closing || nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("stream: read: %s", uv_strerror(nread));
		stream_gone(s, NULL);
		return;
	}
	if (s->ssl != NULL)
		stream_tls_input(s, buf->base, nread);
	else
		s->ops->on_read(s, buf->base, nread);
}

/* The peer is gone or the stream failed: stop reading and tell the owner. */
static void
stream_gone(struct stream *s, const char *why)
{
	if (why != NULL)
		log_debug("stream: %s", why);
	if (s->closing)
		return;
	s->eof = 1;
	uv_read_stop((uv_stream_t *)&s->tcp);
	if (s->ops->on_eof != NULL)
		s->ops->on_eof(s);
	else
		stream_close(s);
}

/* One uv_write of a private copy of p. */
static int
stream_send(struct stream *s, const void *p, size_t n)
{
	struct stream_wreq	*w;
	uv_buf_t		 b;
	int			 r;

	if ((w = malloc(sizeof(*w) + n)) == NULL) {
		log_warn("stream: write of %zu bytes", n);
		return -1;
	}
	memcpy(w->data, p, n);
	w->s = s;
	w->len = n;
	b = uv_buf_init(w->data, n);
	if ((r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1,
	    stream_write_cb)) != 0) {
		log_debug("stream: write: %s", uv_strerror(r));
		free(w);
		return -1;
	}
	s->queued += n;
	return 0;
}

static void
stream_write_cb(uv_write_t *req, int status)
{
	struct stream_wreq	*w = (struct stream_wreq *)req;
	struct stream		*s = w->s;

	s->queued -= w->len;
	free(w);
	if (s->closing)
		return;
	if (status != 0) {
		log_debug("stream: write: %s", uv_strerror(status));
		stream_close(s);
		return;
	}
	if (s->queued == 0 && s->ops->on_drain != NULL)
		s->ops->on_drain(s);
}

static void
stream_shutdown_cb(uv_shutdown_t *req, int status)
{
	if (status != 0 && status != UV_ECANCELED)
		log_debug("stream: shutdown: %s", uv_strerror(status));
	free(req);
}

static void
stream_close_cb(uv_handle_t *h)
{
	struct stream	*s = h->data;

	SSL_free(s->ssl);
	s->ssl = NULL;
	if (s->ops->on_close != NULL)
		s->ops->on_close(s);
}

/* Sends whatever OpenSSL left in the write BIO, in one write. */
static int
stream_tls_flush(struct stream *s)
{
	BIO			*wbio = SSL_get_wbio(s->ssl);
	struct stream_wreq	*w;
	uv_buf_t		 b;
	size_t			 n;
	int			 r;

	if ((n = BIO_pending(wbio)) == 0)
		return 0;
	if ((w = malloc(sizeof(*w) + n)) == NULL) {
		log_warn("stream: TLS write of %zu bytes", n);
		stream_close(s);
		return -1;
	}
	if (BIO_read(wbio, w->data, n) != (int)n) {
		free(w);
		stream_close(s);
		return -1;
	}
	w->s = s;
	w->len = n;
	b = uv_buf_init(w->data, n);
	if ((r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1,
	    stream_write_cb)) != 0) {
		log_debug("stream: write: %s", uv_strerror(r));
		free(w);
		stream_close(s);
		return -1;
	}
	s->queued += n;
	return 0;
}

#define STREAM_TLS_HANDSHAKE	0x16	/* the record type a client starts with */

static void
stream_tls_input(struct stream *s, const char *p, size_t n)
{
	if (!s->tls_seen) {
		s->tls_seen = 1;
		if ((unsigned char)p[0] != STREAM_TLS_HANDSHAKE &&
		    s->ops->on_not_tls != NULL) {
			SSL_free(s->ssl);
			s->ssl = NULL;
			s->handshake_done = 1;
			s->ops->on_not_tls(s, p, n);
			return;
		}
	}
	if (BIO_write(SSL_get_rbio(s->ssl), p, n) != (int)n) {
		stream_gone(s, "TLS read buffer");
		return;
	}
	if (!s->handshake_done && stream_tls_handshake(s) != 1)
		return;
	stream_tls_read(s);
}

/* 1 when done, 0 when more bytes are needed, -1 on failure. */
static int
stream_tls_handshake(struct stream *s)
{
	int	 r, e;

	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (stream_tls_flush(s) == -1)
		return -1;
	if (r == 1) {
		s->handshake_done = 1;
		return 1;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (log_verbose())
		log_debug("stream: TLS handshake failed: %s", e == SSL_ERROR_SSL ?
		    ERR_reason_error_string(ERR_peek_last_error()) :
		    "connection closed");
	stream_gone(s, NULL);
	return -1;
}

/* Hands every decrypted byte to the owner. */
static void
stream_tls_read(struct stream *s)
{
	int	 r, e;

	for (;;) {
		ERR_clear_error();
		r = SSL_read(s->ssl, stream_tlsbuf, sizeof(stream_tlsbuf));
		if (r <= 0)
			break;
		s->ops->on_read(s, stream_tlsbuf, r);
		if (s->closing || s->ssl == NULL)
			return;
	}
	e = SSL_get_error(s->ssl, r);
	if (stream_tls_flush(s) == -1)
		return;
	if (e == SSL_ERROR_WANT_READ)
		return;
	if (e == SSL_ERROR_SSL)
		log_debug("stream: TLS read failed: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
	stream_gone(s, NULL);
}
