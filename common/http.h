/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x server glue over llhttp (compiled from /usr/share/llhttp), for
 * admind (over TLS) and fwstore (plain).  Parses one request at a time with
 * limits on every field, hands the handler the request head, then its body
 * in pieces, and writes responses with the status line and every header in
 * a single write.  Supports Expect: 100-continue (sent only when the handler
 * accepts the body) and a lingering close after early refusals, so curl
 * sees a 401 or 413 instead of a connection reset.
 */
#ifndef OTAD_HTTP_H
#define OTAD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "llhttp.h"
#include <uv.h>

#include "buf.h"
#include "gate.h"
#include "netaddr.h"
#include "stream.h"

#define HTTP_MAX_HEADERS	48
#define HTTP_MAX_URL		4096
#define HTTP_MAX_HEAD		(16 * 1024)	/* all header bytes together */

struct http_header {
	char	*name;		/* lower-cased */
	char	*value;		/* leading/trailing blanks removed */
};

struct http_request {
	llhttp_method_t		 method;
	const char		*method_name;	/* "GET" */
	char			*target;	/* as sent: path?query */
	char			*path;		/* percent-decoded path */
	char			*query;		/* raw, after '?', or "" */
	int			 http_major, http_minor;
	struct http_header	 headers[HTTP_MAX_HEADERS];
	size_t			 nheaders;
	int			 has_length;	/* Content-Length present */
	uint64_t		 content_length;
	int			 chunked;
	int			 keep_alive;	/* per version and Connection */
	int			 expect_continue;
};

struct http_conn;

struct http_handler {
	/* Head complete.  The handler either answers now (http_respond /
	 * http_refuse) or calls http_accept_body() to receive the body;
	 * a request without a body may also be answered later. */
	void	(*on_request)(struct http_conn *, struct http_request *);
	/* A piece of the body (only after http_accept_body). */
	int	(*on_body)(struct http_conn *, const char *, size_t);
	/* The whole body arrived (or there was none and the handler has not
	 * answered yet).  The handler must answer, now or later. */
	void	(*on_complete)(struct http_conn *);
	/* The response body written with http_stream_* drained. */
	void	(*on_drain)(struct http_conn *);
	/* Optional: the connection is closing and its socket still open (a
	 * handler that sent around the connection takes a last look). */
	void	(*on_closing)(struct http_conn *);
	/* The connection is going away; free the request state in data. */
	void	(*on_close)(struct http_conn *);
};

struct http_server {
	uv_loop_t		*loop;
	uv_tcp_t		 listeners[8];
	int			 nlisteners;
	SSL_CTX			*tls;		/* NULL: plain HTTP; may be
						 * swapped for reloads */
	const struct http_handler *handler;
	void			*data;		/* owner's */
	unsigned		 max_conns;
	unsigned		 nconns;	/* not yet lingering: max_conns
						 * counts these */
	unsigned		 head_timeout_ms;	/* whole head must come, and
							 * the next one after an
							 * answer (keep-alive) */
	unsigned		 idle_timeout_ms;	/* body / answer stall */
	/* Admission (gate.h): conn_cap from gate_cap() (0: one descriptor
	 * per connection), per_address connections per client (0: off,
	 * per_address_key names it in logs), and acl: other addresses are
	 * told 403 by the handler while few, else closed before TLS. */
	const char		*what;		/* "downloads", for logs */
	unsigned		 conn_cap;
	unsigned		 per_address;
	const char		*per_address_key;
	const struct netaddr_acl *acl;
	/* Reverse proxies: admitted as if in acl, since the handler checks
	 * the client each forwards (http_conn.client). */
	const struct netaddr_acl *trusted;
	unsigned		 nstrangers;	/* open, not in acl */
	struct gate		 gate;
};

struct http_conn {
	struct stream		 stream;
	struct http_server	*server;
	llhttp_t		 parser;
	struct http_request	 req;
	void			*data;		/* handler's, per request */
	struct sockaddr_storage	 peer;
	/* The client of the current request: the peer, unless the handler
	 * learnt from a trusted proxy whom it forwards (admind's auth.c);
	 * peer_str shows the client. */
	struct sockaddr_storage	 client;
	char			 peer_str[64];	/* printable, IPv4 unmapped */
	/* internal */
	struct buf		 field, value;
	size_t			 head_bytes;
	uv_timer_t		 timer;
	unsigned		 state;
	unsigned		 body_accepted:1;
	unsigned		 responded:1;
	unsigned		 close_after:1;
	unsigned		 lingering:1;
	unsigned		 streaming:1;
	unsigned		 stranger:1;	/* not in the server's acl */
	unsigned		 brief:1;	/* refused: closed once the
						 * answer is written */
	unsigned		 watched:1;	/* the handler waits on the
						 * socket: linger for idle */
};

/* Starts listening on a netaddr list; -1 with a sentence in err. */
int	 http_server_start(struct http_server *, const char *listen,
	    char *err, size_t errlen);

const char *http_header(const struct http_request *, const char *lcname);

/* The handler wants the body: sends "100 Continue" when the client
 * expects it. */
void	 http_accept_body(struct http_conn *);

/* A whole response in one write: status line, Date, Server, Content-Length,
 * Connection, Content-Type (when given), extra_headers ("Name: v\r\n"...,
 * may be NULL) and the body (omitted for HEAD).  After it the connection
 * is kept for the next request or closed, per keep_alive. */
int	 http_respond(struct http_conn *, int status, const char *content_type,
	    const char *extra_headers, const void *body, size_t len);
/* As http_respond, then close with a lingering close (the request body is
 * not wanted: read and discard for a bounded time and size). */
int	 http_refuse(struct http_conn *, int status, const char *content_type,
	    const char *extra_headers, const void *body, size_t len);

/* Streaming: the head (with Content-Length total) now, the body through
 * http_stream_write; on_drain asks for more.  http_stream_end when all of
 * total was written.  total HTTP_LENGTH_UNKNOWN (server-sent events, never
 * to a device): no Content-Length, and the body ends when the connection
 * closes. */
#define HTTP_LENGTH_UNKNOWN	UINT64_MAX
int	 http_stream_begin(struct http_conn *, int status,
	    const char *content_type, const char *extra_headers,
	    uint64_t total);
int	 http_stream_write(struct http_conn *, const void *, size_t);
/* n bytes of the body the handler put on the socket itself (sendfile), the
 * connection's writes drained first; -1 past the announced total. */
int	 http_stream_sent(struct http_conn *, uint64_t n);
void	 http_stream_end(struct http_conn *);
/* Abort: close the connection now. */
void	 http_conn_close(struct http_conn *);
/* Its idle timer starts again: the connection moved outside its own reads
 * and writes (a download's bytes were acknowledged). */
void	 http_conn_touch(struct http_conn *);
/* While watched, the lingering close after the answer waits up to the idle
 * timeout (touched as the peer acknowledges) instead of a short linger:
 * the handler still waits for the peer to acknowledge the body. */
void	 http_conn_watch(struct http_conn *, int);
/* The connection under a request, for a handler that sends around it
 * (fwstore's sendfile and acknowledgement count): the socket's descriptor
 * (-1 when there is none), 1 when it speaks TLS, and the bytes written but
 * not yet in the kernel. */
int	 http_conn_fd(struct http_conn *);
int	 http_conn_tls(const struct http_conn *);
size_t	 http_conn_queued(const struct http_conn *);

const char *http_status_text(int);

#endif
