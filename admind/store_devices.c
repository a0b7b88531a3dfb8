/* SPDX-License-Identifier: MIT */
/*
 * Devices in admind's SQLite store (see store.h): creating them with their
 * token's hash, finding them by id or token, the facts a device reports
 * (when seen, its hardware info; light writes), the admin API's search,
 * edit and delete, and a device's delivery history.  Part of the store
 * that admind and `otad init` link.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

#define DEVICE_COLS	"id, name, tags, created_at, last_seen, " \
			"last_addr, fw_version, build, fw_type, board, " \
			"lib_version, buff_in, h_beat"
/* ?1 tag (one of the comma-separated tags), ?2 fw_version, ?3 board, ?4
 * text in the name or the tags, or the id (case-insensitive); "" matches
 * all. */
#define DEVICE_FILTER	" WHERE (?1 = '' OR" \
			" instr(',' || tags || ',', ',' || ?1 || ',') > 0)" \
			" AND (?2 = '' OR fw_version = ?2)" \
			" AND (?3 = '' OR board = ?3)" \
			" AND (?4 = '' OR instr(lower(name), lower(?4)) > 0" \
			"  OR instr(lower(tags), lower(?4)) > 0" \
			"  OR CAST(id AS TEXT) = ?4)"

static const struct store_query q_device_create = { .slot = Q_DEVICE_CREATE,
    .name = "device create",
    .sql = "INSERT INTO devices (id, name, token_sha256, tags, created_at)"
	" VALUES ((SELECT last + 1 FROM device_ids), ?, ?, ?, ?)",
    .unique_ok = 1 };
static const struct store_query q_device_get = { .slot = Q_DEVICE_GET,
    .name = "device get",
    .sql = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?" };
static const struct store_query q_device_by_token = { .slot = Q_DEVICE_BY_TOKEN,
    .name = "device by token",
    .sql = "SELECT " DEVICE_COLS " FROM devices WHERE token_sha256 = ?" };
static const struct store_query q_device_list = { .slot = Q_DEVICE_LIST,
    .name = "device list",
    .sql = "SELECT " DEVICE_COLS " FROM devices ORDER BY id"
	" LIMIT ? OFFSET ?" };
static const struct store_query q_device_count = { .slot = Q_DEVICE_COUNT,
    .name = "device count",
    .sql = "SELECT count(*) FROM devices" };
static const struct store_query q_device_seen = { .slot = Q_DEVICE_SEEN,
    .name = "device seen",
    .sql = "UPDATE devices SET last_seen = ?, last_addr = ? WHERE id = ?",
    .light = 1 };
static const struct store_query q_device_set_link = { .slot = Q_DEVICE_SET_LINK,
    .name = "device link",
    .sql = "UPDATE devices SET buff_in = ?, h_beat = ? WHERE id = ?",
    .light = 1 };
static const struct store_query q_device_set_info = { .slot = Q_DEVICE_SET_INFO,
    .name = "device info",
    .sql = "UPDATE devices SET fw_version = ?, build = ?, fw_type = ?,"
	" board = ?, lib_version = ? WHERE id = ?",
    .light = 1 };
static const struct store_query q_device_ids = { .slot = Q_DEVICE_IDS,
    .name = "device ids",
    .sql = "SELECT id FROM devices ORDER BY id" };
static const struct store_query q_device_search = { .slot = Q_DEVICE_SEARCH,
    .name = "device search",
    .sql = "SELECT " DEVICE_COLS " FROM devices" DEVICE_FILTER
	" ORDER BY id LIMIT ?5 OFFSET ?6" };
static const struct store_query q_device_search_count = {
    .slot = Q_DEVICE_SEARCH_COUNT,
    .name = "device search count",
    .sql = "SELECT count(*) FROM devices" DEVICE_FILTER };
static const struct store_query q_device_update = { .slot = Q_DEVICE_UPDATE,
    .name = "device update",
    .sql = "UPDATE devices SET name = coalesce(?2, name),"
	" tags = coalesce(?3, tags) WHERE id = ?1" };
static const struct store_query q_device_set_token = {
    .slot = Q_DEVICE_SET_TOKEN,
    .name = "device token",
    .sql = "UPDATE devices SET token_sha256 = ?2 WHERE id = ?1",
    .unique_ok = 1 };
static const struct store_query q_device_delete = { .slot = Q_DEVICE_DELETE,
    .name = "device delete",
    .sql = "DELETE FROM devices WHERE id = ?" };
static const struct store_query q_device_history = { .slot = Q_DEVICE_HISTORY,
    .name = "device history",
    .sql = "SELECT " DELIVERY_COLS ", j.firmware_id, f.version, f.filename"
	" FROM deliveries d JOIN jobs j ON j.id = d.job_id"
	" JOIN firmware f ON f.id = j.firmware_id"
	" WHERE d.device_id = ? ORDER BY d.id DESC LIMIT ?" };
static const struct store_query q_device_ids_by_tag = {
    .slot = Q_DEVICE_IDS_BY_TAG,
    .name = "device ids by tag",
    .sql = "SELECT id FROM devices"
	" WHERE instr(',' || tags || ',', ',' || ?1 || ',') > 0"
	" ORDER BY id" };

static int	 device_read(sqlite3_stmt *, void *);
static void	 device_free_row(void *);
static int	 device_history_read(sqlite3_stmt *, void *);
static void	 device_history_free_row(void *);

static const struct store_row device_row =
    { sizeof(struct device), device_read, device_free_row };
static const struct store_row device_history_row = { sizeof(struct
    device_delivery), device_history_read, device_history_free_row };

int
store_device_create(struct store *st, const char *name,
    const char *token_sha256, const char *tags, int64_t *id)
{
	int	 rv;

	rv = store_run(st, &q_device_create, "sssI", name, token_sha256, tags,
	    store_now());
	if (rv == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rv;
}

int
store_device_get(struct store *st, int64_t id, struct device *d)
{
	return store_one(st, &q_device_get, &device_row, d, "I", id);
}

void
store_device_label(struct store *st, int64_t id, char *out, size_t len)
{
	struct device	 d;

	if (store_device_get(st, id, &d) != 1) {
		snprintf(out, len, "device %" PRId64, id);
		return;
	}
	snprintf(out, len, "device %" PRId64 " \"%s\"", id, d.name);
	device_free(&d);
}

int
store_device_by_token(struct store *st, const char *token_sha256,
    struct device *d)
{
	return store_one(st, &q_device_by_token, &device_row, d, "s",
	    token_sha256);
}

int
store_device_list(struct store *st, int64_t limit, int64_t offset,
    struct device **out, size_t *n, int64_t *total)
{
	int64_t	 count;

	*out = NULL;
	*n = 0;
	if (store_one(st, &q_device_count, &store_id_row, &count, "") != 1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, &q_device_list, &device_row, out, n, "II",
	    limit < 0 ? (int64_t)-1 : limit, offset < 0 ? (int64_t)0 : offset);
}

int
store_device_seen(struct store *st, int64_t id, const char *addr,
    int64_t when)
{
	return store_run(st, &q_device_seen, "IsI", when, addr, id);
}

int
store_device_set_link(struct store *st, int64_t id, int buff_in, int h_beat)
{
	return store_run(st, &q_device_set_link, "iiI", buff_in, h_beat, id);
}

int
store_device_set_info(struct store *st, int64_t id, const char *fw_version,
    const char *build, const char *fw_type, const char *board,
    const char *lib_version)
{
	return store_run(st, &q_device_set_info, "sssssI", fw_version, build,
	    fw_type, board, lib_version, id);
}

int
store_device_ids(struct store *st, int64_t **ids, size_t *n)
{
	return store_list(st, &q_device_ids, &store_id_row, ids, n, "");
}

int
store_device_search(struct store *st, const struct device_filter *f,
    int64_t limit, int64_t offset, struct device **out, size_t *n,
    int64_t *total)
{
	int64_t	 count = 0;

	*out = NULL;
	*n = 0;
	if (store_one(st, &q_device_search_count, &store_id_row, &count, "ssss",
	    f->tag, f->fw_version, f->board, f->text) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, &q_device_search, &device_row, out, n, "ssssII",
	    f->tag, f->fw_version, f->board, f->text,
	    limit < 0 ? (int64_t)-1 : limit,
	    offset < 0 ? (int64_t)0 : offset);
}

int
store_device_count(struct store *st, int64_t *count)
{
	*count = 0;
	return store_one(st, &q_device_count, &store_id_row, count, "") == -1 ?
	    -1 : 0;
}

/* 1 updated, 0 no such device, -1. */
int
store_device_update(struct store *st, int64_t id, const char *name,
    const char *tags)
{
	if (store_run(st, &q_device_update, "Inn", id, name, tags) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

/* 1 set, 0 no such device, -2 the hash belongs to another device, -1. */
int
store_device_set_token(struct store *st, int64_t id, const char *token_sha256)
{
	int	 rv;

	if ((rv = store_run(st, &q_device_set_token, "Is", id,
	    token_sha256)) != 0)
		return rv;
	return sqlite3_changes(st->db) > 0;
}

/* 1 deleted (with its deliveries), 0 no such device, -1. */
int
store_device_delete(struct store *st, int64_t id)
{
	if (store_run(st, &q_device_delete, "I", id) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

int
store_device_ids_by_tag(struct store *st, const char *tag, int64_t **ids,
    size_t *n)
{
	return store_list(st, &q_device_ids_by_tag, &store_id_row, ids, n, "s",
	    tag);
}

int
store_device_history(struct store *st, int64_t device_id, int64_t limit,
    struct device_delivery **out, size_t *n)
{
	return store_list(st, &q_device_history, &device_history_row, out, n,
	    "II", device_id, limit < 0 ? (int64_t)-1 : limit);
}

void
device_free(struct device *d)
{
	free(d->name);
	free(d->tags);
	free(d->last_addr);
	free(d->fw_version);
	free(d->build);
	free(d->fw_type);
	free(d->board);
	free(d->lib_version);
	memset(d, 0, sizeof(*d));
}

void
device_list_free(struct device *d, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		device_free(&d[i]);
	free(d);
}

void
device_history_free(struct device_delivery *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		device_history_free_row(&h[i]);
	free(h);
}

static int
device_read(sqlite3_stmt *s, void *p)
{
	struct device	*d = p;
	int		 fail = 0;

	d->id = sqlite3_column_int64(s, 0);
	d->name = store_col_text(s, 1, &fail);
	d->tags = store_col_text(s, 2, &fail);
	d->created_at = sqlite3_column_int64(s, 3);
	d->last_seen = sqlite3_column_int64(s, 4);
	d->last_addr = store_col_text(s, 5, &fail);
	d->fw_version = store_col_text(s, 6, &fail);
	d->build = store_col_text(s, 7, &fail);
	d->fw_type = store_col_text(s, 8, &fail);
	d->board = store_col_text(s, 9, &fail);
	d->lib_version = store_col_text(s, 10, &fail);
	d->buff_in = sqlite3_column_int(s, 11);
	d->h_beat = sqlite3_column_int(s, 12);
	if (fail) {
		device_free(d);
		return store_nomem();
	}
	return 0;
}

static void
device_free_row(void *p)
{
	device_free(p);
}

static int
device_history_read(sqlite3_stmt *s, void *p)
{
	struct device_delivery	*h = p;
	int			 fail = 0;

	if (store_delivery_row.read(s, &h->delivery) == -1)
		return -1;
	h->firmware_id = sqlite3_column_int64(s, DELIVERY_NCOLS);
	h->fw_version = store_col_text(s, DELIVERY_NCOLS + 1, &fail);
	h->fw_filename = store_col_text(s, DELIVERY_NCOLS + 2, &fail);
	if (fail) {
		device_history_free_row(h);
		return store_nomem();
	}
	return 0;
}

static void
device_history_free_row(void *p)
{
	struct device_delivery	*h = p;

	delivery_free(&h->delivery);
	free(h->fw_version);
	free(h->fw_filename);
	memset(h, 0, sizeof(*h));
}
