/* SPDX-License-Identifier: MIT */
/*
 * A consistent copy of admind's database while admind runs, for `otad
 * backup`: SQLite's online backup API, all of it read in one snapshot (one
 * read transaction held across the steps, which in WAL mode blocks no
 * writer of admind's), a few pages a step with a pause between steps so
 * that the disk stays admind's too; then the copy is checked and asked
 * which firmware files it names.  Part of the store that `otad` links.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define BACKUP_PAGES_PER_STEP	256	/* 1 MiB of 4 KiB pages */
#define BACKUP_PAUSE_MS		2
#define BACKUP_BUSY_MS		10000

static int	 backup_fail(sqlite3 *, const char *, const char *, char *,
		    size_t);
static int	 backup_copy(sqlite3 *, sqlite3 *, const char *, char *,
		    size_t);

int
store_backup(const char *src_path, const char *dst_path, char *err,
    size_t errlen)
{
	sqlite3		*src = NULL, *dst = NULL;
	int		 rc = -1;

	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		backup_fail(src, src_path, "cannot open", err, errlen);
		goto out;
	}
	sqlite3_busy_timeout(src, BACKUP_BUSY_MS);
	/* one snapshot for every step: the copy is one moment of admind's */
	if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;",
	    NULL, NULL, NULL) != SQLITE_OK) {
		backup_fail(src, src_path, "cannot read", err, errlen);
		goto out;
	}
	if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		backup_fail(dst, dst_path, "cannot create", err, errlen);
		goto out;
	}
	if (backup_copy(src, dst, dst_path, err, errlen) == -1)
		goto out;
	/* everything into the one file, checked */
	if (sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL,
	    NULL) != SQLITE_OK) {
		backup_fail(dst, dst_path, "cannot write", err, errlen);
		goto out;
	}
	rc = 0;
out:
	if (src != NULL && !sqlite3_get_autocommit(src))
		sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(src);
	if (sqlite3_close(dst) != SQLITE_OK && rc == 0)
		rc = backup_fail(dst, dst_path, "cannot close", err, errlen);
	return rc;
}

int
store_backup_check(const char *path, int *schema_version,
    int (*firmware)(void *, const char *sha256, uint64_t size), void *arg,
    char *err, size_t errlen)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*s = NULL;
	const char	*ok;
	int		 rc = -1, step;

	/* read-write: its close leaves no -wal or -shm beside the copy */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		backup_fail(db, path, "cannot check", err, errlen);
		goto out;
	}
	ok = (const char *)sqlite3_column_text(s, 0);
	if (ok == NULL || strcmp(ok, "ok") != 0) {
		snprintf(err, errlen, "%s: the copy is damaged: %s", path,
		    ok ? ok : "?");
		goto out;
	}
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		backup_fail(db, path, "cannot read the schema version of", err,
		    errlen);
		goto out;
	}
	*schema_version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, "SELECT sha256, size FROM firmware WHERE "
	    "deleted_at = 0 ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
		backup_fail(db, path, "cannot list the firmware of", err,
		    errlen);
		goto out;
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if (firmware(arg, (const char *)sqlite3_column_text(s, 0),
		    (uint64_t)sqlite3_column_int64(s, 1)) == -1) {
			snprintf(err, errlen, "%s: a firmware file could not "
			    "be copied", path);
			goto out;
		}
	if (step != SQLITE_DONE) {
		backup_fail(db, path, "cannot list the firmware of", err,
		    errlen);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

/* The pages, a step at a time; a busy source waits and tries again. */
static int
backup_copy(sqlite3 *src, sqlite3 *dst, const char *dst_path, char *err,
    size_t errlen)
{
	sqlite3_backup	*b;
	int		 rc;

	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL)
		return backup_fail(dst, dst_path, "cannot start the copy to",
		    err, errlen);
	do {
		rc = sqlite3_backup_step(b, BACKUP_PAGES_PER_STEP);
		if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(BACKUP_PAUSE_MS);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return backup_fail(dst, dst_path, "cannot copy the database "
		    "to", err, errlen);
	return 0;
}

static int
backup_fail(sqlite3 *db, const char *path, const char *what, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s %s: %s", what, path, db != NULL ?
	    sqlite3_errmsg(db) : "out of memory");
	return -1;
}
