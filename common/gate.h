/* SPDX-License-Identifier: MIT */
/*
 * Admission of new connections, for hwd (devices) and the HTTP glue (admind,
 * fwstore): the open-file limit raised to its hard limit and turned into a
 * connection cap, listeners that wait at that cap instead of failing in
 * accept, a limit per client address, and refusal warnings at most twice a
 * minute per reason, with a count.
 */
#ifndef OTAD_GATE_H
#define OTAD_GATE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <uv.h>

#define GATE_RESERVE		64	/* descriptors kept for all else */
#define GATE_BUCKETS		1024
#define GATE_MAX_WAITING	16	/* listeners per gate */
#define GATE_MAX_SPARES		64	/* listeners per process */

/* Why a connection was refused or had to wait (one counter each). */
enum gate_why {
	GATE_WHY_FDS,		/* at the cap the open-file limit allows */
	GATE_WHY_EMFILE,	/* accept failed: out of descriptors */
	GATE_WHY_ADDRESS,	/* past the limit per client address */
	GATE_WHY_ACL,		/* not in allowed_ips */
	GATE_WHY_MAX
};

struct gate_client;

struct gate {
	uv_loop_t		*loop;
	const char		*what;		/* "devices", "downloads" */
	const char		*key;		/* "[hwd] max_connections_per_address" */
	uint64_t		 nofile;	/* the open-file limit */
	unsigned		 cap;		/* connections at once */
	unsigned		 per_address;	/* 0: no limit */
	unsigned		 nconns;
	uv_stream_t		*waiting[GATE_MAX_WAITING];
	int			 nwaiting;
	uv_timer_t		 resume;	/* a slot freed: accept again */
	uv_timer_t		 window;	/* the minute of the counts */
	uint64_t		 counts[GATE_WHY_MAX];
	char			 last[GATE_WHY_MAX][64];	/* client */
	struct gate_client	*clients[GATE_BUCKETS];
	unsigned		 started:1;
};

/* Raises the soft RLIMIT_NOFILE to the hard limit (once) and returns the
 * soft limit in force. */
uint64_t gate_nofile(void);
/* Connections nofile descriptors allow, fds_per_conn each, after
 * GATE_RESERVE; at most configured (0: no configured limit); at least 1. */
unsigned gate_cap(uint64_t nofile, unsigned fds_per_conn, unsigned configured);
/* -t: a warning line on errs when configured cannot be reached; 1 then. */
int	 gate_check_cap(FILE *errs, const char *prog, const char *key,
	    unsigned configured, unsigned cap);

/* Starts g on loop for listeners of what: they wait at cap (from
 * gate_cap(), without the configured limit, which the daemon enforces by
 * refusing).  Logs the effective limit, the lower of the two. */
int	 gate_start(struct gate *, uv_loop_t *, const char *what,
	    unsigned cap, unsigned configured, unsigned per_address,
	    const char *key);
void	 gate_stop(struct gate *);
/* Each listener keeps a spare descriptor (process-wide pool) for the day
 * accept(2) runs out of them anyway; -1 when none could be made. */
int	 gate_add_listener(struct gate *, uv_stream_t *);
/* In a listener's connection callback, before uv_accept(): 1 to accept;
 * 0 at the cap or while a spare is missing: the connection stays pending
 * and libuv stops watching the listener until a slot frees (then the
 * callback runs again).  status < 0 is handled here too (0): on EMFILE a
 * spare is given back to refuse one connection. */
int	 gate_admit(struct gate *, uv_stream_t *listener, int status);
/* An accepted connection counts from peer's client address; -1 when that
 * address is past per_address (counted all the same: gate_leave it). */
int	 gate_enter(struct gate *, const struct sockaddr *peer);
void	 gate_leave(struct gate *, const struct sockaddr *peer);
/* A refusal for why, from peer (may be NULL), into the minute's count. */
void	 gate_refused(struct gate *, enum gate_why, const struct sockaddr *);

#endif
