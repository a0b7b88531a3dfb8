/* SPDX-License-Identifier: MIT */
/*
 * The SQLite engine of admind's store (store_int.h's struct store_engine),
 * the embedded default: one file in state_dir, opened with WAL,
 * synchronous=FULL (every committed transition survives a crash; light
 * batches go NORMAL), foreign keys and a 16 MiB page cache.  The only
 * file of admind's store that includes <sqlite3.h> (store_backup.c, for
 * `otad backup`, is the other user of SQLite).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store_int.h"

#define STORE_BUSY_MS	5000

static int
sqlite_fail(struct store *st, const struct store_query *q)
{
	if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_FULL)
		st->full = 1;
	log_warnx("store: %s: %s", q->name, sqlite3_errmsg(st->db));
	return -1;
}

static int
sqlite_prepare(struct store *st, const struct store_query *q, void **h)
{
	sqlite3_stmt	*s = NULL;

	if (sqlite3_prepare_v3(st->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &s, NULL) != SQLITE_OK)
		return sqlite_fail(st, q);
	*h = s;
	return 0;
}

static void
sqlite_finalize(struct store *st, void *h)
{
	(void)st;
	sqlite3_finalize(h);
}

static int
sqlite_bind(struct store *st, void *h, const struct store_query *q,
    const char *fmt, va_list ap)
{
	sqlite3_stmt	*s = h;
	const char	*str;
	int64_t		 v;
	int		 i, rc = SQLITE_OK;
	int		 max = sqlite3_bind_parameter_count(s);

	/* values past the statement's parameters (another engine's SQL
	 * may need them) are taken from ap and left */
	for (i = 1; fmt[i - 1] != '\0' && rc == SQLITE_OK; i++) {
		if (i > max) {
			if (fmt[i - 1] == 's' || fmt[i - 1] == 'n')
				(void)va_arg(ap, const char *);
			else if (fmt[i - 1] == 'i')
				(void)va_arg(ap, int);
			else if (fmt[i - 1] != 'b')
				(void)va_arg(ap, int64_t);
			else {
				(void)va_arg(ap, const char *);
				(void)va_arg(ap, size_t);
			}
			continue;
		}
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
		return sqlite_fail(st, q);
	return 0;
}

static int
sqlite_step(struct store *st, void *h, const struct store_query *q)
{
	int	 rc;

	rc = sqlite3_step(h);
	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE)
		return STORE_DONE;
	if (rc == SQLITE_CONSTRAINT_UNIQUE && q->unique_ok)
		return -2;
	return sqlite_fail(st, q);
}

static void
sqlite_reset(struct store *st, void *h)
{
	(void)st;
	sqlite3_reset(h);
	sqlite3_clear_bindings(h);
}

static int
sqlite_in_tx(struct store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

static int64_t
sqlite_changes(struct store *st)
{
	return sqlite3_changes64(st->db);
}

static void
sqlite_close(struct store *st)
{
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(st->db));
}

static int
sqlite_exec(struct store *st, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	return -1;
}

static int64_t
sqlite_col_int64(void *h, int i)
{
	return sqlite3_column_int64(h, i);
}

static const char *
sqlite_col_str(void *h, int i)
{
	return (const char *)sqlite3_column_text(h, i);
}

static const void *
sqlite_col_blob(void *h, int i, size_t *len)
{
	const void	*p = sqlite3_column_blob(h, i);

	*len = (size_t)sqlite3_column_bytes(h, i);
	return p;
}

static const struct store_engine store_sqlite = {
	.name = "SQLite",
	.prepare = sqlite_prepare,
	.finalize = sqlite_finalize,
	.bind = sqlite_bind,
	.step = sqlite_step,
	.reset = sqlite_reset,
	.in_tx = sqlite_in_tx,
	.changes = sqlite_changes,
	.close = sqlite_close,
	.exec = sqlite_exec,
	.migrations = store_sqlite_migrations,
	.migrate_begin = "BEGIN IMMEDIATE",
	.set_version = "PRAGMA user_version = %d",
	.col_int64 = sqlite_col_int64,
	.col_str = sqlite_col_str,
	.col_blob = sqlite_col_blob,
};

/* Connection settings; the first read also tells a non-database file. */
static int
sqlite_pragmas(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	const char	*mode;
	int		 rc;

	if ((rc = sqlite3_busy_timeout(db, STORE_BUSY_MS)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1,
	    &s, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_finalize(s);
		return -1;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL journal mode "
		    "(got %s)", path, mode != NULL ? mode : "nothing");
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	/* a 16 MiB page cache (2 MiB by default): a million devices' token
	 * and text indexes are written at random places */
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL;"
	    "PRAGMA cache_size = -16384;"
	    "PRAGMA foreign_keys = ON;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

struct store *
store_sqlite_open(const char *path, char *err, size_t errlen)
{
	struct store	*st;
	sqlite3		*db = NULL;
	int		 rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db, 1);
	if ((st = store_new(&store_sqlite, db)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		sqlite3_close(db);
		return NULL;
	}
	if (sqlite_pragmas(db, path, err, errlen) == -1 ||
	    store_migrate(st, path, err, errlen) == -1) {
		store_close(st);
		return NULL;
	}
	return st;
}
