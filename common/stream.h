/* SPDX-License-Identifier: MIT */
/*
 * A TCP connection accepted by a daemon, plain or TLS (OpenSSL with memory
 * BIOs over libuv).  The owner sees decrypted bytes in on_read and writes
 * plaintext with stream_write; every stream_write becomes at most one
 * uv_write of the (encrypted) bytes, so a device frame written with one call
 * goes out in one segment.
 *
 * Memory: a stream holds no read buffer while idle; reads land in one
 * buffer per loop and on_read must consume them before returning.
 */
#ifndef OTAD_STREAM_H
#define OTAD_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <uv.h>

struct stream;

struct stream_ops {
	/* Bytes received (decrypted).  The stream may be closed inside. */
	void	(*on_read)(struct stream *, const char *, size_t);
	/* The peer closed, or a read/TLS error (logged at debug).  The owner
	 * normally calls stream_close().  Optional: default closes. */
	void	(*on_eof)(struct stream *);
	/* Everything written so far has reached the kernel.  Optional. */
	void	(*on_drain)(struct stream *);
	/* The handle is closed; the owner may free the stream now. */
	void	(*on_close)(struct stream *);
	/* A TLS stream whose first byte is no TLS handshake record (plain
	 * HTTP sent to an HTTPS port): the stream is plain TCP from here on,
	 * p holds what came; the owner may answer in clear text and close.
	 * Optional: the handshake fails and the stream closes. */
	void	(*on_not_tls)(struct stream *, const char *p, size_t n);
};

struct stream {
	uv_tcp_t		 tcp;
	const struct stream_ops	*ops;
	void			*data;		/* owner's */
	SSL			*ssl;		/* NULL: plain TCP */
	size_t			 queued;	/* bytes written, not yet sent */
	size_t			 queue_limit;	/* 0: no limit */
	unsigned		 closing:1;
	unsigned		 paused:1;	/* owner stopped reading */
	unsigned		 eof:1;
	unsigned		 write_shut:1;
	unsigned		 handshake_done:1;
	unsigned		 tls_seen:1;	/* the first byte was read */
};

/* Accepts a pending connection from server into s (which the caller
 * allocated and keeps alive until on_close).  ctx NULL: plain TCP.
 * Starts reading.  -1 on failure (s is then not initialised). */
int	 stream_accept(uv_stream_t *server, struct stream *s, SSL_CTX *ctx,
	    const struct stream_ops *ops, void *data);
/* Copies the bytes and queues them.  -1 when the stream is closing or the
 * queue would pass queue_limit (the caller then closes). */
int	 stream_write(struct stream *, const void *, size_t);
void	 stream_pause(struct stream *);
void	 stream_resume(struct stream *);
/* Sends what is queued, then shuts down the write side (TLS close_notify
 * first); plain TCP with nothing queued sends its FIN at once.  Reading
 * continues, so a lingering close can drain the peer. */
void	 stream_shutdown(struct stream *);
/* Closes now (idempotent); on_close follows. */
void	 stream_close(struct stream *);
int	 stream_peer_addr(struct stream *, struct sockaddr_storage *);
int	 stream_local_addr(struct stream *, struct sockaddr_storage *);

/* Listens on every address of a netaddr list ("[::]:8442, ..."), calling
 * on_conn(server, status) for each new connection.  Up to max handles are
 * written to servers; returns how many, or -1 with a sentence in err.  IPv6
 * wildcard listeners take IPv4 too. */
int	 stream_listen(uv_loop_t *, const char *list, uv_tcp_t *servers,
	    int max, uv_connection_cb on_conn, void *data, char *err,
	    size_t errlen);

#endif
