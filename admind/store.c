/* SPDX-License-Identifier: MIT */
/*
 * admind's SQLite store, its core (see store.h and store_int.h): closes
 * the database (store_schema.c opens it), runs the transactions (with
 * synchronous=FULL every committed transition survives a crash) and the
 * light batches, and binds, steps and reads the per-store cached prepared
 * statements whose SQL lives in store_schema.c and the store_<entity>.c
 * files.  Only admind (and `otad init`) link it; the database has a single
 * connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

static const struct store_query q_begin = { .slot = Q_BEGIN,
    .name = "begin",
    .sql = "BEGIN IMMEDIATE" };
static const struct store_query q_commit = { .slot = Q_COMMIT,
    .name = "commit",
    .sql = "COMMIT",
    .light = 1 };
static const struct store_query q_rollback = { .slot = Q_ROLLBACK,
    .name = "rollback",
    .sql = "ROLLBACK",
    .light = 1 };
static const struct store_query q_sync_normal = { .slot = Q_SYNC_NORMAL,
    .name = "light sync",
    .sql = "PRAGMA synchronous = NORMAL",
    .light = 1 };
static const struct store_query q_sync_full = { .slot = Q_SYNC_FULL,
    .name = "full sync",
    .sql = "PRAGMA synchronous = FULL",
    .light = 1 };

static void	 store_sync_full(struct store *);
static int	 store_batchable(const struct store_query *);
static sqlite3_stmt *store_prepare(struct store *, const struct store_query *,
		    const char *, va_list);
static int	 store_bind(struct store *, const struct store_query *,
		    const char *, va_list);
static int	 store_cache(struct store *, const struct store_query *);
static int	 store_fail(struct store *, const struct store_query *);
static int	 id_read(sqlite3_stmt *, void *);

const struct store_row store_id_row = { sizeof(int64_t), id_read, NULL };

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	store_flush(st);
	for (i = 0; i < Q_MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
	free(st);
}

int
store_begin(struct store *st)
{
	return store_run(st, &q_begin, "");
}

/*
 * Facts that are no state transition (when a device was seen, what it
 * reports, download progress) are grouped: store_light() opens one
 * transaction for them with synchronous=NORMAL and store_flush() commits
 * it, once per turn of the daemon's loop.  Any other write commits that
 * batch first (store_prepare), so a transition is never part of it and is
 * still committed, with an fsync, before it is acted on.  In WAL mode a
 * batch survives any daemon being killed; only a power loss may take the
 * last of it.
 */
int
store_light(struct store *st)
{
	if (st->batch || !sqlite3_get_autocommit(st->db))
		return 0;		/* joins the open batch or transaction */
	if (store_run(st, &q_sync_normal, "") == -1)
		return -1;
	if (store_run(st, &q_begin, "") == 0) {
		st->batch = 1;
		return 0;
	}
	store_sync_full(st);
	return -1;
}

void
store_flush(struct store *st)
{
	if (!st->batch)
		return;
	st->batch = 0;
	if (store_run(st, &q_commit, "") == -1)
		store_rollback(st);
	store_sync_full(st);
}

/* Back to synchronous=FULL after a light batch.  A pragma on the
 * connection does no I/O; should it fail all the same (logged by
 * store_run), say what that means. */
static void
store_sync_full(struct store *st)
{
	if (store_run(st, &q_sync_full, "") == -1)
		log_warnx("store: commits may go without an fsync until the "
		    "next light batch ends");
}

/* May this statement run inside a batch?  Reads and the batch's writes. */
static int
store_batchable(const struct store_query *q)
{
	return q->light || strncmp(q->sql, "SELECT", 6) == 0;
}

int
store_commit(struct store *st)
{
	return store_run(st, &q_commit, "");
}

/* A failed statement may have rolled back already: then nothing to do.
 * A failed ROLLBACK is logged by store_run; the caller, on its failure
 * path already, could do nothing better with it. */
void
store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return;
	if (store_run(st, &q_rollback, "") == -1 &&
	    !sqlite3_get_autocommit(st->db))
		log_warnx("store: the transaction is still open after a "
		    "failed rollback");
}

int
store_disk_full(struct store *st)
{
	int	 full = st->full;

	st->full = 0;
	return full;
}

/* The cached statement for q, prepared on first use, with fmt bound. */
static sqlite3_stmt *
store_prepare(struct store *st, const struct store_query *q, const char *fmt,
    va_list ap)
{
	if (st->batch && !store_batchable(q))
		store_flush(st);
	if (st->query[q->slot] != q && store_cache(st, q) == -1)
		return NULL;
	if (store_bind(st, q, fmt, ap) == -1) {
		store_done(st, q);
		return NULL;
	}
	return st->stmt[q->slot];
}

/* Prepares q into its slot of the cache; a slot taken by another query is
 * a mistake in store_int.h's enum store_q, refused. */
static int
store_cache(struct store *st, const struct store_query *q)
{
	if (st->query[q->slot] != NULL) {
		log_warnx("store: %s: its slot is taken by %s", q->name,
		    st->query[q->slot]->name);
		return -1;
	}
	if (sqlite3_prepare_v3(st->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st->stmt[q->slot], NULL) != SQLITE_OK)
		return store_fail(st, q);
	st->query[q->slot] = q;
	return 0;
}

/*
 * Binds parameters 1, 2, ... from ap, one per fmt character:
 *	i int, I int64_t, U uint64_t, N int64_t id (<= 0 binds NULL),
 *	s text (NULL binds ""), n text (NULL binds NULL),
 *	b a blob: a pointer, then its size_t length.
 * Text is bound without a copy: it must live until store_done().
 */
static int
store_bind(struct store *st, const struct store_query *q, const char *fmt,
    va_list ap)
{
	sqlite3_stmt	*s = st->stmt[q->slot];
	const char	*str;
	int64_t		 v;
	int		 i, rc = SQLITE_OK;

	for (i = 1; fmt[i - 1] != '\0' && rc == SQLITE_OK; i++) {
		switch (fmt[i - 1]) {
		case 'i':
			rc = sqlite3_bind_int(s, i, va_arg(ap, int));
			break;
		case 'I':
			rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 'U':
			rc = sqlite3_bind_int64(s, i,
			    (int64_t)va_arg(ap, uint64_t));
			break;
		case 'N':
			v = va_arg(ap, int64_t);
			rc = v > 0 ? sqlite3_bind_int64(s, i, v) :
			    sqlite3_bind_null(s, i);
			break;
		case 's':
			str = va_arg(ap, const char *);
			rc = sqlite3_bind_text(s, i, str != NULL ? str : "", -1,
			    SQLITE_STATIC);
			break;
		case 'n':
			str = va_arg(ap, const char *);
			rc = str != NULL ? sqlite3_bind_text(s, i, str, -1,
			    SQLITE_STATIC) : sqlite3_bind_null(s, i);
			break;
		case 'b':
			str = va_arg(ap, const char *);
			rc = sqlite3_bind_blob64(s, i, str,
			    (sqlite3_uint64)va_arg(ap, size_t), SQLITE_STATIC);
			break;
		default:
			log_warnx("store: %s: bad bind format '%c'",
			    q->name, fmt[i - 1]);
			return -1;
		}
	}
	if (rc != SQLITE_OK)
		return store_fail(st, q);
	return 0;
}

sqlite3_stmt *
store_start(struct store *st, const struct store_query *q, const char *fmt, ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;

	va_start(ap, fmt);
	s = store_prepare(st, q, fmt, ap);
	va_end(ap);
	return s;
}

/* SQLITE_ROW, SQLITE_DONE, -2 for an expected UNIQUE violation, or -1. */
int
store_step(struct store *st, const struct store_query *q)
{
	int	 rc;

	rc = sqlite3_step(st->stmt[q->slot]);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	if (rc == SQLITE_CONSTRAINT_UNIQUE && q->unique_ok)
		return -2;
	return store_fail(st, q);
}

void
store_done(struct store *st, const struct store_query *q)
{
	sqlite3_reset(st->stmt[q->slot]);
	sqlite3_clear_bindings(st->stmt[q->slot]);
}

/* Runs a statement that returns no rows: 0, -2 (see store_step) or -1. */
int
store_run(struct store *st, const struct store_query *q, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	if (store_prepare(st, q, fmt, ap) == NULL) {
		va_end(ap);
		return -1;
	}
	va_end(ap);
	rc = store_step(st, q);
	store_done(st, q);
	if (rc == SQLITE_ROW) {
		log_warnx("store: %s: unexpected row", q->name);
		return -1;
	}
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Reads the first row into out (zeroed first): 1 found, 0 none, -1. */
int
store_one(struct store *st, const struct store_query *q,
    const struct store_row *row, void *out, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	memset(out, 0, row->size);
	va_start(ap, fmt);
	if (store_prepare(st, q, fmt, ap) == NULL) {
		va_end(ap);
		return -1;
	}
	va_end(ap);
	rc = store_step(st, q);
	if (rc == SQLITE_ROW)
		rc = row->read(st->stmt[q->slot], out) == -1 ? -1 : 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	store_done(st, q);
	return rc;
}

/* Reads every row into a malloc'd array at *(void **)out. */
int
store_list(struct store *st, const struct store_query *q,
    const struct store_row *row, void *out, size_t *n, const char *fmt, ...)
{
	va_list	 ap;
	char	*arr = NULL, *p;
	size_t	 cap = 0, cnt = 0, i;
	int	 rc;

	*(void **)out = NULL;
	*n = 0;
	va_start(ap, fmt);
	if (store_prepare(st, q, fmt, ap) == NULL) {
		va_end(ap);
		return -1;
	}
	va_end(ap);
	while ((rc = store_step(st, q)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((p = reallocarray(arr, cap, row->size)) == NULL) {
				rc = store_nomem();
				break;
			}
			arr = p;
		}
		if (row->read(st->stmt[q->slot], arr + cnt * row->size) == -1) {
			rc = -1;
			break;
		}
		cnt++;
	}
	store_done(st, q);
	if (rc != SQLITE_DONE) {
		for (i = 0; row->free != NULL && i < cnt; i++)
			row->free(arr + i * row->size);
		free(arr);
		return -1;
	}
	*(void **)out = arr;
	*n = cnt;
	return 0;
}

/* Opens a transaction unless the caller holds one; *own says which. */
int
store_tx_open(struct store *st, int *own)
{
	store_flush(st);
	*own = sqlite3_get_autocommit(st->db) != 0;
	return *own ? store_begin(st) : 0;
}

/* Commits an own transaction when rv is 0, else rolls it back. */
int
store_tx_close(struct store *st, int own, int rv)
{
	if (!own)
		return rv;
	if (rv == 0 && store_commit(st) == 0)
		return 0;
	store_rollback(st);
	return -1;
}

static int
store_fail(struct store *st, const struct store_query *q)
{
	if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_FULL)
		st->full = 1;
	log_warnx("store: %s: %s", q->name, sqlite3_errmsg(st->db));
	return -1;
}

int
store_nomem(void)
{
	log_warnx("store: out of memory");
	return -1;
}

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* A malloc'd copy of a text column, "" for NULL; sets *fail on ENOMEM. */
char *
store_col_text(sqlite3_stmt *s, int i, int *fail)
{
	const unsigned char	*t = sqlite3_column_text(s, i);
	char			*p;

	if ((p = strdup(t != NULL ? (const char *)t : "")) == NULL)
		*fail = 1;
	return p;
}

void
store_col_copy(sqlite3_stmt *s, int i, char *buf, size_t size)
{
	const unsigned char	*t = sqlite3_column_text(s, i);

	snprintf(buf, size, "%s", t != NULL ? (const char *)t : "");
}

static int
id_read(sqlite3_stmt *s, void *p)
{
	*(int64_t *)p = sqlite3_column_int64(s, 0);
	return 0;
}
