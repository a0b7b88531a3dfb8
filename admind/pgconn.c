/* SPDX-License-Identifier: MIT */
/*
 * admind's connections to PostgreSQL (see pgconn.h).  Every wait is
 * bounded: connect 3 s (pgconn_start's attempts do not wait at all); a
 * statement 30 s (a job for a million devices is one INSERT); a lock
 * 5 s; a transaction left idle 60 s; a server gone silent noticed by TCP
 * within 5 s and by keepalives within 20 s.  A statement outside a
 * transaction commits without waiting for the server's disk (store.c's
 * light facts); the store's transactions wait for it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pgconn.h"
#include "util.h"

/* The server's notices ("already exists, skipping") are not news. */
static void
pgconn_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static const char *const pgconn_keys[] = { "connect_timeout",
    "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "application_name", "options", "dbname", NULL };

static PGconn *
pgconn_made(PGconn *(*make)(const char *const *, const char *const *, int),
    const char *uri, const char *application)
{
	const char *const values[] = { "3", "5000", "10", "5", "2",
	    application, "-c statement_timeout=30s -c lock_timeout=5s "
	    "-c idle_in_transaction_session_timeout=60s "
	    "-c synchronous_commit=off", uri, NULL };
	PGconn	*conn = make(pgconn_keys, values, 1);

	if (conn != NULL)
		PQsetNoticeProcessor(conn, pgconn_notice, NULL);
	return conn;
}

PGconn *
pgconn_open(const char *uri, const char *application)
{
	return pgconn_made(PQconnectdbParams, uri, application);
}

PGconn *
pgconn_start(const char *uri, const char *application)
{
	return pgconn_made(PQconnectStartParams, uri, application);
}

int
pgconn_advance(PGconn *conn, PostgresPollingStatusType *last)
{
	struct pollfd	 pfd;

	for (;;) {
		if (conn == NULL || PQstatus(conn) == CONNECTION_BAD ||
		    *last == PGRES_POLLING_FAILED)
			return -1;
		if (*last == PGRES_POLLING_OK)
			return 1;
		pfd.fd = PQsocket(conn);	/* may change: another address */
		pfd.events = *last == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0)
			return 0;	/* not ready: it never waits */
		*last = PQconnectPoll(conn);
	}
}

const char *
pgconn_why(PGconn *conn, const PGresult *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s", r != NULL ? PQresultErrorMessage(r) :
	    conn != NULL ? PQerrorMessage(conn) : "no connection");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int
pgconn_wait(PGconn *conn, uint64_t deadline)
{
	struct pollfd	 pfd;
	uint64_t	 now;
	int		 unsent;

	if (conn == NULL)
		return -1;
	for (;;) {
		if ((unsent = PQflush(conn)) == -1)
			return -1;
		if (!unsent && !PQisBusy(conn))
			return 0;
		if ((now = util_now_ms()) >= deadline)
			return -1;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN | (unsent ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1 &&
		    errno != EINTR)
			return -1;
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
		    !PQconsumeInput(conn))
			return -1;
	}
}

PGresult *
pgconn_exec(PGconn *conn, const char *sql, int nparams,
    const char *const *params, unsigned timeout_ms)
{
	uint64_t	 deadline = util_now_ms() + timeout_ms;
	PGresult	*r, *last = NULL;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL,
	    0))
		return NULL;
	for (;;) {
		if (pgconn_wait(conn, deadline) == -1) {
			PQclear(last);
			return NULL;
		}
		if ((r = PQgetResult(conn)) == NULL)
			return last;
		PQclear(last);
		last = r;
	}
}
