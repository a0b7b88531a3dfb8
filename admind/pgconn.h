/* SPDX-License-Identifier: MIT */
/*
 * admind's connections to PostgreSQL (pgconn.c): the store's
 * (store_pg.c) and the cluster listener's (cluster.c), opened with the
 * same timeouts, their errors read the same way.
 */
#ifndef OTAD_PGCONN_H
#define OTAD_PGCONN_H

#include <stddef.h>

#include <libpq-fe.h>

/* A connection to uri (check PQstatus), otad's timeouts unless the URI
 * sets its own; the server's notices are not logged. */
PGconn		*pgconn_open(const char *uri, const char *application);
/* Why r (or, r NULL, the connection) failed: libpq's first line, in buf. */
const char	*pgconn_why(PGconn *, const PGresult *, char *buf, size_t len);

#endif
