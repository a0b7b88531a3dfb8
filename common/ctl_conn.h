/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's transport over libuv pipes: a peer connection that
 * frames, sends and receives messages and matches replies to requests, the
 * listening side admind runs, and the reconnecting client that hwd and
 * fwstore run (hello first, then backoff 0.1 s doubling to 5 s on loss).
 */
#ifndef OTAD_CTL_CONN_H
#define OTAD_CTL_CONN_H

#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "ctl.h"

#define CTL_MAX_QUEUE	(64 * 1024 * 1024)	/* bytes unsent: peer is stuck */

struct ctl_conn;

/* A reply (type >= CTL_REPLY_BASE) or type 0 with r == NULL when the
 * connection went away before the reply came.  Return -1 when the reply
 * is malformed or not the one the request expects: the connection is
 * closed and logged, as for on_msg. */
typedef int (*ctl_reply_cb)(void *arg, uint16_t type, struct ctl_reader *r);

struct ctl_conn_ops {
	/* A request (reqid != 0) or notification (reqid 0).  Return -1 when
	 * the message is malformed or not allowed: the connection is closed
	 * and logged. */
	int	(*on_msg)(struct ctl_conn *, uint16_t type, uint32_t reqid,
		    struct ctl_reader *);
	/* The connection is gone (after its pending replies were failed). */
	void	(*on_close)(struct ctl_conn *);
};

struct ctl_pending;

struct ctl_conn {
	uv_pipe_t		 pipe;
	const struct ctl_conn_ops *ops;
	void			*data;		/* owner's */
	struct buf		 in;
	struct buf		 out;		/* this loop turn's messages */
	uv_idle_t		 flush;		/* sends out, once a turn */
	int			 handles;	/* open: pipe and flush */
	size_t			 queued;	/* bytes in flight */
	uint32_t		 next_reqid;
	struct ctl_pending	*pending;	/* oldest first */
	struct ctl_pending     **pending_tail;
	char			 role[16];	/* peer's role after hello */
	unsigned		 worker;	/* its worker number, 1-based */
	uid_t			 peer_uid;
	int			 closing;
	int			 freed_on_close;
};

/* Sends a notification (reqid 0) or a reply (reqid of the request). */
int	 ctl_send(struct ctl_conn *, uint16_t type, uint32_t reqid,
	    const struct buf *payload);
/* Sends a request; cb is called exactly once, with the reply or with
 * type 0 when the connection closes first. */
int	 ctl_request(struct ctl_conn *, uint16_t type, const struct buf *payload,
	    ctl_reply_cb cb, void *arg);
void	 ctl_conn_close(struct ctl_conn *);
/* Sends what this turn queued now, not when the loop next waits: for a
 * loop turn that runs long (a batch committed in parts). */
void	 ctl_conn_flush(struct ctl_conn *);
/* The same with the message's struct (ctl.h) for the payload; the typed
 * ctl_send_<id>() and ctl_request_<id>() below call them. */
int	 ctl_send_msg(struct ctl_conn *, uint16_t type, uint32_t reqid,
	    const void *msg);
int	 ctl_request_msg(struct ctl_conn *, uint16_t type, const void *msg,
	    ctl_reply_cb cb, void *arg);

#define CTL_SEND_FN(ID, id, num, name, from, kind, fields)		\
static inline int							\
ctl_send_##id(struct ctl_conn *c, uint32_t reqid,			\
    const struct ctl_msg_##id *m)					\
{									\
	return ctl_send_msg(c, CTL_##ID, reqid, m);			\
}									\
static inline int							\
ctl_request_##id(struct ctl_conn *c, const struct ctl_msg_##id *m,	\
    ctl_reply_cb cb, void *arg)						\
{									\
	return ctl_request_msg(c, CTL_##ID, m, cb, arg);		\
}
CTL_MSGS(CTL_SEND_FN, )
#undef CTL_SEND_FN

/* A role a hello may name and the uid its peer must have ((uid_t)-1: any,
 * when every daemon runs as one user and the uid tells nothing). */
struct ctl_role {
	const char		*name;
	uid_t			 uid;
};

/* admind: listens on path (removing a stale socket first).  Each accepted
 * peer gets a ctl_conn allocated here and freed after on_close.  A hello
 * must name a role of roles (ended by a NULL name) from that role's uid;
 * on_accept then runs (conn->role set) and may set conn->data, or log why
 * and return -1 to refuse the hello. */
struct ctl_server {
	uv_pipe_t		 pipe;
	const struct ctl_conn_ops *ops;
	const struct ctl_role	*roles;
	int			(*on_accept)(struct ctl_conn *);
	void			*data;
};

int	 ctl_server_listen(uv_loop_t *, struct ctl_server *, const char *path);

/* hwd, fwstore: connects to path, says hello with role, and keeps
 * reconnecting.  on_ready runs after each accepted hello; on_down when an
 * established connection is lost. */
struct ctl_client {
	uv_loop_t		*loop;
	char			*path;
	const char		*role;
	unsigned		 worker;	/* said in the hello, 1-based */
	struct ctl_conn		*conn;		/* NULL while disconnected */
	int			 ready;		/* hello accepted */
	uv_timer_t		 retry;
	uint64_t		 backoff_ms;
	const struct ctl_conn_ops *ops;		/* on_msg for admind's messages */
	void			(*on_ready)(struct ctl_client *);
	void			(*on_down)(struct ctl_client *);
	void			*data;
};

int	 ctl_client_start(uv_loop_t *, struct ctl_client *, const char *path,
	    const char *role);

#endif
