/* SPDX-License-Identifier: MIT */
/*
 * admind's connections to PostgreSQL (pgconn.c): the store's
 * (store_pg.c) and the cluster listener's (cluster.c), opened with the
 * same timeouts, their errors read the same way.
 */
#ifndef OTAD_PGCONN_H
#define OTAD_PGCONN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* A connection to uri (check PQstatus), otad's timeouts unless the URI
 * sets its own; the server's notices are not logged. */
PGconn		*pgconn_open(const char *uri, const char *application);
/* The same connection as an attempt that never waits: move it on with
 * pgconn_advance, *last starting at PGRES_POLLING_WRITING, whenever
 * convenient; 1 connected, 0 not yet, -1 failed (pgconn_why says why).
 * Give up after PGCONN_CONNECT_MS. */
#define PGCONN_CONNECT_MS	3000
PGconn		*pgconn_start(const char *uri, const char *application);
int		 pgconn_advance(PGconn *, PostgresPollingStatusType *last);
/* Waits, flushing what is unsent, until conn's answer is there (then
 * PQgetResult does not wait): 0, or -1 when the connection failed or
 * deadline (util_now_ms) passed. */
int		 pgconn_wait(PGconn *, uint64_t deadline);
/* One statement (a connection in non-blocking mode), its last result;
 * NULL when the connection failed or gave no answer within timeout_ms. */
PGresult	*pgconn_exec(PGconn *, const char *sql, int nparams,
		    const char *const *params, unsigned timeout_ms);
/* Why r (or, r NULL, the connection) failed: libpq's first line, in buf. */
const char	*pgconn_why(PGconn *, const PGresult *, char *buf, size_t len);

#endif
