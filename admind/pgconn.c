/* SPDX-License-Identifier: MIT */
/*
 * admind's connections to PostgreSQL (see pgconn.h).  Every wait is
 * bounded: connect 3 s; a statement 30 s (a job for a million devices is
 * one INSERT); a lock 5 s; a transaction left idle 60 s; a server gone
 * silent noticed by TCP within 5 s and by keepalives within 20 s.
 * A statement outside a transaction commits without waiting for the
 * server's disk (store.c's light facts); the store's transactions wait.
 */
#include <stdio.h>
#include <string.h>

#include "pgconn.h"

/* The server's notices ("already exists, skipping") are not news. */
static void
pgconn_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *
pgconn_open(const char *uri, const char *application)
{
	const char *const keys[] = { "connect_timeout", "tcp_user_timeout",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "application_name", "options", "dbname", NULL };
	const char *const values[] = { "3", "5000", "10", "5", "2",
	    application, "-c statement_timeout=30s -c lock_timeout=5s "
	    "-c idle_in_transaction_session_timeout=60s "
	    "-c synchronous_commit=off", uri, NULL };
	PGconn	*conn = PQconnectdbParams(keys, values, 1);

	if (conn != NULL)
		PQsetNoticeProcessor(conn, pgconn_notice, NULL);
	return conn;
}

const char *
pgconn_why(PGconn *conn, const PGresult *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s", r != NULL ? PQresultErrorMessage(r) :
	    conn != NULL ? PQerrorMessage(conn) : "no connection");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}
