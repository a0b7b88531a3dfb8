/* SPDX-License-Identifier: MIT */
/*
 * Firmware images in admind's store (see store.h): one row per distinct
 * image (by SHA-256), listed and counted for the admin API, the jobs that
 * name an image, and deletion that keeps the row (marked deleted) while
 * jobs still name it.  On a store that nodes share, the image's bytes in
 * chunks too (firmware_data, for fwcache.c).  Part of the store that
 * admind and `otad init` link.
 */
#include <stdlib.h>
#include <string.h>


#include "log.h"
#include "store_int.h"

/* Live firmware; ?1 format, ?2 board, "" matches all. */
#define FIRMWARE_FILTER	" WHERE deleted_at = 0 AND (?1 = '' OR format = ?1)" \
			" AND (?2 = '' OR board = ?2)"

/* A new image's row; an id is taken only when one is written (a
 * conflict would leave a gap in PostgreSQL's ids). */
static const struct store_query q_firmware_add = { .slot = Q_FIRMWARE_ADD,
    .name = "firmware add",
    .sql = "INSERT INTO firmware (sha256, sha256_b64, md5, size, filename,"
	" uploaded_at, uploaded_by, format, chip, version, build, fw_type,"
	" board, project)"
	" SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14"
	" WHERE NOT EXISTS (SELECT 1 FROM firmware WHERE sha256 = ?1)"
	" ON CONFLICT (sha256) DO NOTHING RETURNING id" };
static const struct store_query q_firmware_by_sha = { .slot = Q_FIRMWARE_BY_SHA,
    .name = "firmware by sha256",
    .sql = "SELECT id FROM firmware WHERE sha256 = ?" };
static const struct store_query q_firmware_get = { .slot = Q_FIRMWARE_GET,
    .name = "firmware get",
    .sql = "SELECT " FIRMWARE_COLS " FROM firmware f WHERE id = ?" };
static const struct store_query q_firmware_list = { .slot = Q_FIRMWARE_LIST,
    .name = "firmware list",
    .sql = "SELECT " FIRMWARE_COLS " FROM firmware f" FIRMWARE_FILTER
	" ORDER BY id DESC LIMIT ?3 OFFSET ?4" };
static const struct store_query q_firmware_count = { .slot = Q_FIRMWARE_COUNT,
    .name = "firmware count",
    .sql = "SELECT count(*) FROM firmware" FIRMWARE_FILTER };
static const struct store_query q_firmware_jobs = { .slot = Q_FIRMWARE_JOBS,
    .name = "firmware jobs",
    .sql = "SELECT " JOB_COLS " FROM jobs WHERE firmware_id = ?"
	" ORDER BY id DESC" };
static const struct store_query q_firmware_in_use = { .slot = Q_FIRMWARE_IN_USE,
    .name = "firmware in use",
    .sql = "SELECT id FROM jobs WHERE firmware_id = ?"
	" AND state IN ('active', 'paused') ORDER BY id" };
static const struct store_query q_firmware_refs = { .slot = Q_FIRMWARE_REFS,
    .name = "firmware references",
    .sql = "SELECT count(*) FROM jobs WHERE firmware_id = ?" };
static const struct store_query q_firmware_delete = { .slot = Q_FIRMWARE_DELETE,
    .name = "firmware delete",
    .sql = "DELETE FROM firmware WHERE id = ?" };
static const struct store_query q_firmware_set_deleted = {
    .slot = Q_FIRMWARE_SET_DELETED,
    .name = "firmware deleted",
    .sql = "UPDATE firmware SET deleted_at = ?2 WHERE id = ?1" };
static const struct store_query q_firmware_deleted_at = {
    .slot = Q_FIRMWARE_DELETED_AT,
    .name = "firmware deleted at",
    .sql = "SELECT deleted_at FROM firmware WHERE id = ?" };

/* A chunk written again with other bytes (a damaged copy repaired by a
 * new upload) is replaced; with the same bytes it is left as it is. */
static const struct store_query q_firmware_data_put = {
    .slot = Q_FIRMWARE_DATA_PUT,
    .name = "firmware data put",
    .sql = "INSERT INTO firmware_data (sha256, seq, data) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (sha256, seq) DO UPDATE SET data = excluded.data"
	" WHERE firmware_data.data <> excluded.data" };
static const struct store_query q_firmware_data_get = {
    .slot = Q_FIRMWARE_DATA_GET,
    .name = "firmware data get",
    .sql = "SELECT data FROM firmware_data WHERE sha256 = ?1 AND seq = ?2" };
static const struct store_query q_firmware_data_delete = {
    .slot = Q_FIRMWARE_DATA_DELETE,
    .name = "firmware data delete",
    .sql = "DELETE FROM firmware_data WHERE sha256 IN"
	" (SELECT sha256 FROM firmware WHERE id = ?)" };

static int	 firmware_read(const struct store_cur *, void *);
static void	 firmware_free_row(void *);

static const struct store_row firmware_row =
    { sizeof(struct firmware), firmware_read, firmware_free_row };

int
store_firmware_add(struct store *st, const struct firmware *f, int64_t *id,
    int *created)
{
	int64_t	 at = f->uploaded_at > 0 ? f->uploaded_at : store_now();

	switch (store_one(st, &q_firmware_add, &store_id_row, id,
	    "sssUsIssssssss", f->sha256, f->sha256_b64, f->md5, f->size,
	    f->filename, at, f->uploaded_by, f->format, f->chip, f->version,
	    f->build, f->fw_type, f->board, f->project)) {
	case 1:
		*created = 1;
		return 0;
	case -1:
		return -1;
	}
	*created = 0;
	switch (store_one(st, &q_firmware_by_sha, &store_id_row, id, "s",
	    f->sha256)) {
	case 1:
		return 0;
	case 0:
		log_warnx("store: firmware add: %s neither added nor found",
		    f->sha256);
		return -1;
	default:
		return -1;
	}
}

int
store_firmware_get(struct store *st, int64_t id, struct firmware *f)
{
	return store_one(st, &q_firmware_get, &firmware_row, f, "I", id);
}

int
store_firmware_list(struct store *st, const char *format, const char *board,
    int64_t limit, int64_t offset, struct firmware **out, size_t *n,
    int64_t *total)
{
	int64_t	 count = 0;

	*out = NULL;
	*n = 0;
	if (store_one(st, &q_firmware_count, &store_id_row, &count, "ss",
	    format, board) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, &q_firmware_list, &firmware_row, out, n, "ssII",
	    format, board, limit < 0 ? (int64_t)-1 : limit,
	    offset < 0 ? (int64_t)0 : offset);
}

int
store_firmware_count(struct store *st, int64_t *count)
{
	*count = 0;
	return store_one(st, &q_firmware_count, &store_id_row, count, "ss", "",
	    "") == -1 ? -1 : 0;
}

/* Jobs that use the firmware, newest first. */
int
store_firmware_jobs(struct store *st, int64_t firmware_id, struct job **out,
    size_t *n)
{
	return store_list(st, &q_firmware_jobs, &store_job_row, out, n, "I",
	    firmware_id);
}

/* Ids of the active or paused jobs that use the firmware. */
int
store_firmware_in_use(struct store *st, int64_t firmware_id, int64_t **ids,
    size_t *n)
{
	return store_list(st, &q_firmware_in_use, &store_id_row, ids, n, "I",
	    firmware_id);
}

/* The deletion time of a firmware row, 0 while it is live. 1 found. */
int
store_firmware_deleted_at(struct store *st, int64_t id, int64_t *when)
{
	return store_one(st, &q_firmware_deleted_at, &store_id_row, when, "I",
	    id);
}

/*
 * Deletes a firmware row, or, when jobs still name it (their history must
 * stay readable), marks it deleted.  The caller removes the file.
 */
int
store_firmware_delete(struct store *st, int64_t id)
{
	int64_t	 refs = 0;
	int	 own, rv;

	if (store_tx_open(st, &own) == -1)
		return -1;
	rv = store_one(st, &q_firmware_refs, &store_id_row, &refs, "I",
	    id) == -1 ? -1 : 0;
	if (rv == 0)
		rv = store_run(st, &q_firmware_data_delete, "I", id);
	if (rv == 0 && refs == 0)
		rv = store_run(st, &q_firmware_delete, "I", id);
	else if (rv == 0)
		rv = store_run(st, &q_firmware_set_deleted, "II", id,
		    store_now());
	return store_tx_close(st, own, rv);
}

/* An identical image uploaded again brings a deleted row back. */
int
store_firmware_restore(struct store *st, int64_t id)
{
	return store_run(st, &q_firmware_set_deleted, "II", id, (int64_t)0);
}

int
store_firmware_data_put(struct store *st, const char *sha256, int seq,
    const void *data, size_t len)
{
	return store_run(st, &q_firmware_data_put, "sib", sha256, seq, data,
	    len);
}

int
store_firmware_data_get(struct store *st, const char *sha256, int seq,
    int (*chunk)(void *, const void *, size_t), void *arg)
{
	const struct store_cur	*c;
	const void		*data;
	size_t			 len;
	int			 rc;

	if ((c = store_start(st, &q_firmware_data_get, "si", sha256, seq)) ==
	    NULL)
		return -1;
	if ((rc = store_step(st, &q_firmware_data_get)) == STORE_ROW) {
		data = store_col_blob(c, 0, &len);
		rc = chunk(arg, data, len) == -1 ? -1 : 1;
	}
	store_done(st, &q_firmware_data_get);
	return rc;
}

void
firmware_free(struct firmware *f)
{
	free(f->filename);
	free(f->uploaded_by);
	free(f->format);
	free(f->chip);
	free(f->version);
	free(f->build);
	free(f->fw_type);
	free(f->board);
	free(f->project);
	memset(f, 0, sizeof(*f));
}

void
firmware_list_free(struct firmware *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		firmware_free(&f[i]);
	free(f);
}

static int
firmware_read(const struct store_cur *s, void *p)
{
	return store_firmware_cols(s, 0, p);
}

int
store_firmware_cols(const struct store_cur *s, int c, struct firmware *f)
{
	int	 fail = 0;

	f->id = store_col_int64(s, c);
	store_col_copy(s, c + 1, f->sha256, sizeof(f->sha256));
	store_col_copy(s, c + 2, f->sha256_b64, sizeof(f->sha256_b64));
	store_col_copy(s, c + 3, f->md5, sizeof(f->md5));
	f->size = (uint64_t)store_col_int64(s, c + 4);
	f->filename = store_col_text(s, c + 5, &fail);
	f->uploaded_at = store_col_int64(s, c + 6);
	f->uploaded_by = store_col_text(s, c + 7, &fail);
	f->format = store_col_text(s, c + 8, &fail);
	f->chip = store_col_text(s, c + 9, &fail);
	f->version = store_col_text(s, c + 10, &fail);
	f->build = store_col_text(s, c + 11, &fail);
	f->fw_type = store_col_text(s, c + 12, &fail);
	f->board = store_col_text(s, c + 13, &fail);
	f->project = store_col_text(s, c + 14, &fail);
	if (fail) {
		firmware_free(f);
		return store_nomem();
	}
	return 0;
}

static void
firmware_free_row(void *p)
{
	firmware_free(p);
}
