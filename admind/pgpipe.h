/* SPDX-License-Identifier: MIT */
/*
 * The store's connection to PostgreSQL (pgpipe.c), in libpq's pipeline
 * mode: a statement that needs no answer is sent and not waited for, the
 * others wait only for their own answer, and a lost connection is made
 * again by attempts that never wait.  store_pg.c runs the store's
 * statements on it.
 */
#ifndef OTAD_PGPIPE_H
#define OTAD_PGPIPE_H

#include <stdint.h>

#include <libpq-fe.h>

struct pgpipe;

/* One statement to send: prepared under name with params, or, name
 * NULL, the commands of sql (no parameters).  what names it in logs. */
struct pgpipe_cmd {
	const char	*what;
	const char	*name;
	const char	*sql;
	int		 nparams;
	const char *const *values;
	const int	*lengths;
	const int	*formats;
};

/* A connected conn, taken over (NULL and err set on failure). */
struct pgpipe	*pgpipe_new(PGconn *, const char *uri, char *err, size_t);
void		 pgpipe_free(struct pgpipe *);
PGconn		*pgpipe_conn(struct pgpipe *);

/* Before a statement: 0 connected (after a new connection, *fresh is
 * set: prepared statements are gone), -1 not now (logged). */
int		 pgpipe_ready(struct pgpipe *, int *fresh, int rollback);
/* Between the loop's turns: reads the answers already here, tells the
 * questions answered (pgpipe_ask), moves a connection attempt on; never
 * waits.  1 when connected again. */
int		 pgpipe_poll(struct pgpipe *);
int		 pgpipe_unreachable(struct pgpipe *);
/* The connection's socket to watch for answers (-1: none now); serial
 * changes with each new connection, as the number may not. */
int		 pgpipe_socket(struct pgpipe *, unsigned *serial);
int		 pgpipe_in_tx(struct pgpipe *);

/* Prepares name, sent with the next pgpipe_run; *prepared is set now,
 * and cleared again should the server refuse it. */
int		 pgpipe_prepare(struct pgpipe *, const char *name,
		    const char *sql, int n, const Oid *, int *prepared);
/* Sends cmd; waits for its answer (returned; NULL: the connection is
 * lost) unless answerless: then NULL and *sent set, its failure logged
 * when its answer comes (inside a transaction, it aborts it). */
PGresult	*pgpipe_run(struct pgpipe *, const struct pgpipe_cmd *,
		    int answerless, int *sent);
/* Sends cmd and returns: fn(arg, r) hears its answer (r NULL: the
 * connection was lost) from a later pgpipe_poll, never from inside
 * another statement's wait.  -1: not sent (fn is not called). */
typedef void	 pgpipe_answer_fn(void *arg, PGresult *);
int		 pgpipe_ask(struct pgpipe *, const struct pgpipe_cmd *,
		    pgpipe_answer_fn *, void *arg);
/* Runs a script of commands outside the pipeline: 0 or -1 with why. */
int		 pgpipe_script(struct pgpipe *, const char *sql, char *why,
		    size_t);

#endif
