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


#include "buf.h"
#include "store_int.h"

#define DEVICE_COLS	DEVICE_COLS_OF("")
#define DEVICE_COLS_OF(d) d "id, " d "name, " d "tags, " d "created_at, " \
			d "last_seen, " d "last_addr, " d "fw_version, " \
			d "build, " d "fw_type, " d "board, " d "lib_version, " \
			d "buff_in, " d "h_beat"
/* ?2 fw_version, ?3 board, ?4 text in the name or the tags, or the id
 * (case-insensitive); "" matches all. */
#define DEVICE_REST	DEVICE_KIND \
			" AND (?4 = '' OR instr(lower(d.name), lower(?4)) > 0" \
			"  OR instr(lower(d.tags), lower(?4)) > 0" \
			"  OR CAST(d.id AS TEXT) = ?4)"
#define DEVICE_KIND	" AND (?2 = '' OR d.fw_version = ?2)" \
			" AND (?3 = '' OR d.board = ?3)"
/* ?1 a tag: its devices from device_tags, in id order. */
#define DEVICE_TAGGED	" FROM device_tags t CROSS JOIN devices d" \
			" ON d.id = t.device_id WHERE t.tag = ?1"
/* ?8 ?4 as trigram phrases (device_phrase): ?4's devices in id order. */
#define DEVICE_TEXT	" FROM devices_text CROSS JOIN devices d" \
			" ON d.id = devices_text.rowid" \
			" WHERE devices_text MATCH ?8 AND ?1 = '' AND ?4 <> ''"
/* PostgreSQL: ?4 in the name or the tags (pg_trgm's indexes of the
 * lowercase text, store_pg_schema.c), or the whole id; ?8 unused. */
#define DEVICE_TEXT_PG	" FROM devices d WHERE ?1 = '' AND ?4 <> ''" \
			" AND ?8 <> '' AND (" DEVICE_LIKE("?4") ")"
#define DEVICE_LIKE(t)	"lower(d.name) LIKE '%' || otad_like(lower(" t \
			")) || '%' OR lower(d.tags) LIKE '%' ||" \
			" otad_like(lower(" t ")) || '%' OR" \
			" CAST(d.id AS TEXT) = " t
#define TRIGRAM_MIN	3	/* characters a phrase needs to use it */

static const struct store_query q_device_create = { .slot = Q_DEVICE_CREATE,
    .name = "device create",
    .sql = "INSERT INTO devices (id, name, token_sha256, tags, created_at)"
	" VALUES ((SELECT last + 1 FROM device_ids), ?, ?, ?, ?) RETURNING id",
    .unique_ok = 1 };
static const struct store_query q_device_get = { .slot = Q_DEVICE_GET,
    .name = "device get",
    .sql = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?" };
/* q_delivery_pending for the devices of the JSON array ?1, with their
 * rows: one statement for a batch of the scheduler's devices. */
#define PENDING_OF(list, value) "SELECT " DELIVERY_COLS ", " \
	DEVICE_COLS_OF("v.") " FROM deliveries d" \
	" JOIN devices v ON v.id = d.device_id" \
	" WHERE d.id IN (SELECT (SELECT p.id FROM deliveries p" \
	"  JOIN jobs j ON j.id = p.job_id WHERE p.device_id = " value \
	"  AND " UNFINISHED("p.state") " AND j.state = 'active'" \
	"  ORDER BY p.id DESC LIMIT 1) FROM " list " e)" \
	" ORDER BY d.device_id"
static const struct store_query q_deliveries_pending = {
    .slot = Q_DELIVERIES_PENDING,
    .name = "pending deliveries",
    .sql = PENDING_OF("json_each(?1)", "e.value"),
    .sql_pg = PENDING_OF("json_array_elements_text(?1::json)",
	"e.value::bigint") };
static const struct store_query q_device_by_token = { .slot = Q_DEVICE_BY_TOKEN,
    .name = "device by token",
    .sql = "SELECT " DEVICE_COLS " FROM devices WHERE token_sha256 = ?" };
static const struct store_query q_device_list = { .slot = Q_DEVICE_LIST,
    .name = "device list",
    .sql = "SELECT " DEVICE_COLS " FROM devices ORDER BY id"
	" LIMIT ? OFFSET ?" };
static const struct store_query q_device_count = { .slot = Q_DEVICE_COUNT,
    .name = "device count",
    .sql = "SELECT n FROM device_ids" };
static const struct store_query q_device_seen = { .slot = Q_DEVICE_SEEN,
    .name = "device seen",
    .sql = "UPDATE devices SET last_seen = ?, last_addr = ? WHERE id = ?",
    .light = 1,
    .answerless = 1 };
static const struct store_query q_device_set_link = { .slot = Q_DEVICE_SET_LINK,
    .name = "device link",
    .sql = "UPDATE devices SET buff_in = ?, h_beat = ? WHERE id = ?",
    .light = 1,
    .answerless = 1 };
static const struct store_query q_device_set_info = { .slot = Q_DEVICE_SET_INFO,
    .name = "device info",
    .sql = "UPDATE devices SET fw_version = ?, build = ?, fw_type = ?,"
	" board = ?, lib_version = ? WHERE id = ?",
    .light = 1,
    .answerless = 1 };
/* A page of devices from rows in key order: ?5 limit, ?6 offset, ?7 the
 * id the page starts after. */
#define DEVICE_PAGE(from, key, rest) \
			"SELECT " DEVICE_COLS_OF("d.") from " AND " key \
			" > ?7" rest " ORDER BY " key " LIMIT ?5 OFFSET ?6"
static const struct store_query q_device_search = { .slot = Q_DEVICE_SEARCH,
    .name = "device search",
    .sql = DEVICE_PAGE(" FROM devices d WHERE ?1 = ''", "d.id",
	DEVICE_REST) };
static const struct store_query q_device_search_count = {
    .slot = Q_DEVICE_SEARCH_COUNT,
    .name = "device search count",
    .sql = "SELECT count(*) FROM devices d WHERE ?1 = ''" DEVICE_REST };
static const struct store_query q_device_versions = {
    .slot = Q_DEVICE_VERSIONS,
    .name = "device versions",
    .sql = "SELECT tags, fw_version, count(*) FROM devices"
	" GROUP BY tags, fw_version" };
static const struct store_query q_device_search_tag = {
    .slot = Q_DEVICE_SEARCH_TAG,
    .name = "device search by tag",
    .sql = DEVICE_PAGE(DEVICE_TAGGED, "t.device_id", DEVICE_REST) };
static const struct store_query q_device_search_tag_count = {
    .slot = Q_DEVICE_SEARCH_TAG_COUNT,
    .name = "device search by tag count",
    .sql = "SELECT count(*)" DEVICE_TAGGED DEVICE_REST };
static const struct store_query q_device_search_text = {
    .slot = Q_DEVICE_SEARCH_TEXT,
    .name = "device search by text",
    .sql = DEVICE_PAGE(DEVICE_TEXT, "devices_text.rowid", DEVICE_KIND),
    .sql_pg = DEVICE_PAGE(DEVICE_TEXT_PG, "d.id", DEVICE_KIND) };
static const struct store_query q_device_search_text_count = {
    .slot = Q_DEVICE_SEARCH_TEXT_COUNT,
    .name = "device search by text count",
    .sql = "SELECT count(*)" DEVICE_TEXT DEVICE_KIND,
    .sql_pg = "SELECT count(*)" DEVICE_TEXT_PG DEVICE_KIND };
static const struct store_query q_device_count_text = {
    .slot = Q_DEVICE_COUNT_TEXT,
    .name = "device count by text",
    .sql = "SELECT count(*) FROM devices_text WHERE devices_text MATCH ?1",
    .sql_pg = "SELECT count(*) FROM devices d WHERE ?1 <> '' AND ("
	DEVICE_LIKE("?2") ")" };
static const struct store_query q_device_count_tag = {
    .slot = Q_DEVICE_COUNT_TAG,
    .name = "device count by tag",
    .sql = "SELECT count(*) FROM device_tags WHERE tag = ?" };
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
static int	 device_read(const struct store_cur *, void *);
static int	 device_cols(const struct store_cur *, int, struct device *);
static void	 device_free_row(void *);
static int	 device_history_read(const struct store_cur *, void *);
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

	rv = store_one(st, &q_device_create, &store_id_row, id, "sssI", name,
	    token_sha256, tags, store_now());
	return rv == 1 ? 0 : rv == 0 ? -1 : rv;
}

int
store_device_get(struct store *st, int64_t id, struct device *d)
{
	return store_one(st, &q_device_get, &device_row, d, "I", id);
}

/* The pending deliveries of a batch of devices, with their rows. */
static int
pending_read(const struct store_cur *s, void *p)
{
	struct pending_delivery *pd = p;

	if (store_delivery_row.read(s, &pd->d) == -1)
		return -1;
	if (device_cols(s, DELIVERY_NCOLS, &pd->dev) == -1) {
		delivery_free(&pd->d);
		return -1;
	}
	return 0;
}

static void
pending_free_row(void *p)
{
	struct pending_delivery *pd = p;

	delivery_free(&pd->d);
	device_free(&pd->dev);
}

int
store_deliveries_pending(struct store *st, const int64_t *ids, size_t n,
    struct pending_delivery **out, size_t *nout)
{
	static const struct store_row row = { sizeof(struct pending_delivery),
	    pending_read, pending_free_row };
	struct buf	 list = BUF_INIT;
	const char	*text;
	int		 fail, rc = -1;

	*out = NULL;
	*nout = 0;
	if (n > STORE_PENDING_MAX)
		return -1;
	fail = buf_addc(&list, '[') == -1;
	for (size_t i = 0; i < n; i++)
		fail |= buf_printf(&list, "%s%" PRId64, i ? "," : "",
		    ids[i]) == -1;
	fail |= buf_addc(&list, ']') == -1;
	if (!fail && (text = buf_cstr(&list)) != NULL)
		rc = store_list(st, &q_deliveries_pending, &row, out, nout, "s",
		    text);
	buf_free(&list);
	return rc;
}

void
pending_list_free(struct pending_delivery *pd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pending_free_row(&pd[i]);
	free(pd);
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

static const struct store_query q_device_login = {
    .slot = Q_DEVICE_LOGIN, .name = "device login",
    .sql = "SELECT " DEVICE_COLS_OF("d.") ", p.pins FROM devices d"
	" LEFT JOIN device_pins p ON p.device_id = d.id"
	" WHERE d.token_sha256 = ?" };
static const struct store_query q_device_pins_set = {
    .slot = Q_DEVICE_PINS_SET, .name = "device pins kept",
    .sql = "INSERT INTO device_pins (device_id, pins) SELECT id, ? FROM"
    " devices WHERE id = ? ON CONFLICT (device_id) DO UPDATE SET"
    " pins = excluded.pins", .light = 1,
    .answerless = 1 };

/* A login asked (store_device_login). */
struct device_login {
	store_login_fn	*fn;
	void		*arg;
};

static void
device_login_answer(void *arg, int rc, const struct store_cur *c)
{
	struct device_login *k = arg;
	struct device	 d;
	const void	*pins = NULL;
	size_t		 n = 0;

	if (rc == 1 && device_read(c, &d) == -1)
		rc = -1;
	if (rc == 1)
		pins = store_col_blob(c, 13, &n);
	k->fn(k->arg, rc, rc == 1 ? &d : NULL, pins, pins != NULL ? n : 0);
	if (rc == 1)
		device_free(&d);
	free(k);
}

void
store_device_login(struct store *st, const char *token_sha256,
    store_login_fn *fn, void *arg)
{
	struct device_login *k;

	if ((k = malloc(sizeof(*k))) == NULL) {
		fn(arg, store_nomem(), NULL, NULL, 0);
		return;
	}
	k->fn = fn;
	k->arg = arg;
	store_ask(st, &q_device_login, device_login_answer, k, "s",
	    token_sha256);
}

int
store_device_pins_set(struct store *st, int64_t id, const void *pins,
    size_t len)
{
	return store_run(st, &q_device_pins_set, "bI", pins, len, id);
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

/* One trigram phrase: text quoted, its quotes doubled. */
static void
device_phrase_add(struct buf *p, const char *pre, const char *text,
    const char *post)
{
	buf_printf(p, "\"%s", pre);
	for (const char *s = text; *s; s++) {
		if (*s == '"')
			buf_addc(p, '"');
		buf_addc(p, *s);
	}
	buf_printf(p, "%s\"", post);
}

/* ?q=text for the trigram index (in p): in the name or the tags, or the
 * whole id ("#ID#"); 0 when text is shorter than TRIGRAM_MIN characters
 * (a trigram index finds nothing shorter: the list is scanned). */
static int
device_phrase(const char *text, struct buf *p)
{
	size_t	 chars = 0;

	for (const char *s = text; *s; s++)
		chars += ((unsigned char)*s & 0xc0) != 0x80;
	if (chars < TRIGRAM_MIN)
		return 0;
	buf_adds(p, "{name tags} : ");
	device_phrase_add(p, "", text, "");
	if (strspn(text, "0123456789") == strlen(text)) {
		buf_adds(p, " OR id : ");
		device_phrase_add(p, "#", text, "#");
	}
	return 1;
}

/* The total: one b-tree counted when only a tag (or nothing) is asked. */
static int
store_device_total(struct store *st, const struct device_filter *f,
    const char *phrase, int64_t *total)
{
	int	 rest = *f->fw_version || *f->board || *f->text;

	*total = 0;
	if (!rest && *f->tag)
		return store_device_count_tag(st, f->tag, total);
	if (!rest)
		return store_device_count(st, total);
	if (phrase != NULL && !*f->fw_version && !*f->board)
		return store_one(st, &q_device_count_text, &store_id_row,
		    total, "ss", phrase, f->text) == -1 ? -1 : 0;
	if (phrase != NULL)
		return store_one(st, &q_device_search_text_count,
		    &store_id_row, total, "ssssIIIs", f->tag, f->fw_version,
		    f->board, f->text, (int64_t)0, (int64_t)0, (int64_t)0,
		    phrase) == -1 ? -1 : 0;	/* ?5 to ?7 unused */
	return store_one(st, *f->tag ? &q_device_search_tag_count :
	    &q_device_search_count, &store_id_row, total, "ssss", f->tag,
	    f->fw_version, f->board, f->text) == -1 ? -1 : 0;
}

/* Driven by the tag's index, else by the text's, else by the ids. */
int
store_device_search(struct store *st, const struct device_filter *f,
    const struct device_page *pg, struct device **out, size_t *n,
    int64_t *total)
{
	struct buf	 phrase = BUF_INIT;
	const char	*ph = NULL;
	int64_t		 limit = pg->limit < 0 ? -1 : pg->limit;
	int64_t		 offset = pg->offset < 0 ? 0 : pg->offset;
	int64_t		 after = pg->after < 0 ? 0 : pg->after;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (!*f->tag && device_phrase(f->text, &phrase))
		ph = buf_cstr(&phrase);
	if (total != NULL && store_device_total(st, f, ph, total) == -1)
		rc = -1;
	else if (ph != NULL)
		rc = store_list(st, &q_device_search_text, &device_row, out, n,
		    "ssssIIIs", f->tag, f->fw_version, f->board, f->text,
		    limit, offset, after, ph);
	else
		rc = store_list(st, *f->tag ? &q_device_search_tag :
		    &q_device_search, &device_row, out, n, "ssssIII", f->tag,
		    f->fw_version, f->board, f->text, limit, offset, after);
	buf_free(&phrase);
	return rc;
}

int
store_device_count(struct store *st, int64_t *count)
{
	*count = 0;
	return store_one(st, &q_device_count, &store_id_row, count, "") == -1 ?
	    -1 : 0;
}

int
store_device_versions(struct store *st,
    void (*cb)(void *, const char *, const char *, int64_t), void *arg)
{
	const struct store_cur *s;
	int		 rc;

	if ((s = store_start(st, &q_device_versions, "")) == NULL)
		return -1;
	while ((rc = store_step(st, &q_device_versions)) == STORE_ROW)
		cb(arg, store_col_str(s, 0),
		    store_col_str(s, 1),
		    store_col_int64(s, 2));
	store_done(st, &q_device_versions);
	return rc == STORE_DONE ? 0 : -1;
}

/* 1 updated, 0 no such device, -1. */
int
store_device_update(struct store *st, int64_t id, const char *name,
    const char *tags)
{
	if (store_run(st, &q_device_update, "Inn", id, name, tags) == -1)
		return -1;
	return store_changes(st) > 0;
}

/* 1 set, 0 no such device, -2 the hash belongs to another device, -1. */
int
store_device_set_token(struct store *st, int64_t id, const char *token_sha256)
{
	int	 rv;

	if ((rv = store_run(st, &q_device_set_token, "Is", id,
	    token_sha256)) != 0)
		return rv;
	return store_changes(st) > 0;
}

/* 1 deleted (with its deliveries), 0 no such device, -1. */
int
store_device_delete(struct store *st, int64_t id)
{
	if (store_run(st, &q_device_delete, "I", id) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_device_count_tag(struct store *st, const char *tag, int64_t *count)
{
	*count = 0;
	return store_one(st, &q_device_count_tag, &store_id_row, count, "s",
	    tag) == -1 ? -1 : 0;
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
device_read(const struct store_cur *s, void *p)
{
	return device_cols(s, 0, p);
}

/* A device row from column i on; -1 out of memory (nothing left to
 * free). */
static int
device_cols(const struct store_cur *s, int i, struct device *d)
{
	int		 fail = 0;

	d->id = store_col_int64(s, i);
	d->name = store_col_text(s, i + 1, &fail);
	d->tags = store_col_text(s, i + 2, &fail);
	d->created_at = store_col_int64(s, i + 3);
	d->last_seen = store_col_int64(s, i + 4);
	d->last_addr = store_col_text(s, i + 5, &fail);
	d->fw_version = store_col_text(s, i + 6, &fail);
	d->build = store_col_text(s, i + 7, &fail);
	d->fw_type = store_col_text(s, i + 8, &fail);
	d->board = store_col_text(s, i + 9, &fail);
	d->lib_version = store_col_text(s, i + 10, &fail);
	d->buff_in = store_col_int(s, i + 11);
	d->h_beat = store_col_int(s, i + 12);
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
device_history_read(const struct store_cur *s, void *p)
{
	struct device_delivery	*h = p;
	int			 fail = 0;

	if (store_delivery_row.read(s, &h->delivery) == -1)
		return -1;
	h->firmware_id = store_col_int64(s, DELIVERY_NCOLS);
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
