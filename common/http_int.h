/* SPDX-License-Identifier: MIT */
/*
 * What the files of common's HTTP server share and http.h need not show:
 * a connection's hidden half and the calls between http.c (connections,
 * flow, timers, lingering close), http_parse.c (llhttp, request limits)
 * and http_write.c (answers).  Included by those three files only.
 */
#ifndef OTAD_HTTP_INT_H
#define OTAD_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

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

/* http.c */
void	 http_arm(struct http_conn *);
void	 http_kick(struct http_conn *);
void	 http_request_finish(struct http_conn *);
void	 http_linger(struct http_conn *);

/* http_parse.c */
void	 http_parser_start(struct http_conn *);
void	 http_feed(struct http_conn *, const char *, size_t);
void	 http_discard(struct http_conn *, size_t);

#endif
