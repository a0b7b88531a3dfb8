/* SPDX-License-Identifier: MIT */
/*
 * admind's SQLite store (see store.h): opens the database in WAL mode with
 * synchronous=FULL so that every committed transition survives a crash,
 * runs the schema migrations, and answers the queries of the admin API and
 * the OTA scheduler through per-store cached prepared statements.  Only
 * admind (and `otad init`) link it; the database has a single connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_BUSY_MS	5000
/* Comparisons, not IN (...): an IN list costs a temporary table per run. */
#define UNFINISHED(c)	"(" c " = 'queued' OR " c " = 'sent' OR " \
			c " = 'downloading' OR " c " = 'downloaded')"

#define DEVICE_COLS	"id, name, tags, created_at, last_seen, " \
			"last_addr, fw_version, build, fw_type, board, " \
			"lib_version, buff_in, h_beat"
#define FIRMWARE_COLS	"id, sha256, sha256_b64, md5, size, filename, " \
			"uploaded_at, uploaded_by, format, chip, version, " \
			"build, fw_type, board, project"
#define JOB_COLS	"id, firmware_id, target_kind, target, force, " \
			"max_parallel, attempt_limit, failure_threshold, " \
			"state, created_at, created_by"
#define DELIVERY_COLS	"d.id, d.job_id, d.device_id, d.state, " \
			"d.attempts, d.ticket, d.bytes_sent, d.created_at, " \
			"d.updated_at, d.last_error"
#define TOKEN_COLS	"id, name, created_at, created_by, last_used_at"
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
/* Live firmware; ?1 format, ?2 board, "" matches all. */
#define FIRMWARE_FILTER	" WHERE deleted_at = 0 AND (?1 = '' OR format = ?1)" \
			" AND (?2 = '' OR board = ?2)"

/*
 * Migration N (1-based) is store_migrations[N - 1]; each runs in its own
 * transaction together with PRAGMA user_version = N.  Never edit one that
 * has shipped: append a new one.
 */
static const char *const store_migrations[] = {
	/* 1: the initial schema (DESIGN.md section 3). */
	"CREATE TABLE devices ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" token_sha256 TEXT UNIQUE NOT NULL,"
	" tags TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" last_addr TEXT NOT NULL DEFAULT '',"
	" fw_version TEXT NOT NULL DEFAULT '',"
	" build TEXT NOT NULL DEFAULT '',"
	" fw_type TEXT NOT NULL DEFAULT '',"
	" board TEXT NOT NULL DEFAULT '',"
	" lib_version TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE firmware ("
	" id INTEGER PRIMARY KEY,"
	" sha256 TEXT UNIQUE NOT NULL,"
	" sha256_b64 TEXT NOT NULL,"
	" md5 TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" filename TEXT NOT NULL DEFAULT '',"
	" uploaded_at INTEGER NOT NULL,"
	" uploaded_by TEXT NOT NULL DEFAULT '',"
	" format TEXT NOT NULL,"
	" chip TEXT NOT NULL DEFAULT '',"
	" version TEXT NOT NULL DEFAULT '',"
	" build TEXT NOT NULL DEFAULT '',"
	" fw_type TEXT NOT NULL DEFAULT '',"
	" board TEXT NOT NULL DEFAULT '',"
	" project TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE jobs ("
	" id INTEGER PRIMARY KEY,"
	" firmware_id INTEGER NOT NULL REFERENCES firmware(id),"
	" target_kind TEXT NOT NULL"
	"  CHECK (target_kind IN ('devices', 'tag', 'all')),"
	" target TEXT NOT NULL DEFAULT '',"
	" force INTEGER NOT NULL DEFAULT 0,"
	" max_parallel INTEGER NOT NULL,"
	" attempt_limit INTEGER NOT NULL,"
	" failure_threshold INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL"
	"  CHECK (state IN ('active', 'paused', 'stopped', 'finished')),"
	" created_at INTEGER NOT NULL,"
	" created_by TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE deliveries ("
	" id INTEGER PRIMARY KEY,"
	" job_id INTEGER NOT NULL REFERENCES jobs(id),"
	" device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	" state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'downloading',"
	"  'downloaded', 'succeeded', 'failed', 'already-current',"
	"  'incompatible', 'canceled')),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" ticket TEXT UNIQUE,"
	" bytes_sent INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" last_error TEXT NOT NULL DEFAULT '',"
	" UNIQUE (job_id, device_id));"
	/* by ticket and by job: the UNIQUE constraints' own indexes. */
	"CREATE INDEX deliveries_device_state ON deliveries (device_id, state);"
	"CREATE INDEX jobs_state ON jobs (state);"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" at INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" actor TEXT NOT NULL DEFAULT '',"
	" remote TEXT NOT NULL DEFAULT '',"
	" device_id INTEGER,"
	" job_id INTEGER,"
	" text TEXT NOT NULL DEFAULT '');",
	/* 2: API tokens for scripts; firmware deleted while jobs name it. */
	"CREATE TABLE api_tokens ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* ids never reused */
	" name TEXT NOT NULL,"
	" token_sha256 TEXT UNIQUE NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" created_by TEXT NOT NULL DEFAULT '',"
	" last_used_at INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE firmware"
	" ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;",
	/* 3: the device's receive buffer and heartbeat, from its info. */
	"ALTER TABLE devices ADD COLUMN buff_in INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN h_beat INTEGER NOT NULL DEFAULT 0;",
	/* 4: device ids are never reused (an id in the event log, the journal
	 * or an operator's script names one device forever): the highest id
	 * ever given, moved by every insert. */
	"CREATE TABLE device_ids (last INTEGER NOT NULL);"
	"INSERT INTO device_ids SELECT max("
	" coalesce((SELECT max(id) FROM devices), 0),"
	" coalesce((SELECT max(device_id) FROM events), 0));"
	"CREATE TRIGGER device_ids_last AFTER INSERT ON devices BEGIN"
	" UPDATE device_ids SET last = max(last, NEW.id); END;",
	/* 5: a device's deliveries by device alone, newest last: the pending
	 * delivery is found without a sort. */
	"DROP INDEX deliveries_device_state;"
	"CREATE INDEX deliveries_device ON deliveries (device_id);",
};

enum store_q {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_USER_VERSION, Q_SYNC_NORMAL, Q_SYNC_FULL,
	Q_DEVICE_CREATE, Q_DEVICE_GET, Q_DEVICE_BY_TOKEN, Q_DEVICE_LIST,
	Q_DEVICE_COUNT, Q_DEVICE_SEEN, Q_DEVICE_SET_INFO, Q_DEVICE_IDS,
	Q_DEVICE_SET_LINK,
	Q_FIRMWARE_ADD, Q_FIRMWARE_BY_SHA, Q_FIRMWARE_GET,
	Q_JOB_CREATE, Q_JOB_GET, Q_JOBS_ACTIVE, Q_JOB_SET_STATE, Q_JOB_CANCEL,
	Q_JOBS_SHARING, Q_JOBS_SHARING_DEVICE,
	Q_DELIVERY_CREATE, Q_DELIVERY_GET, Q_DELIVERY_BY_TICKET,
	Q_DELIVERY_PENDING, Q_DELIVERY_UPDATE, Q_DELIVERY_PROGRESS,
	Q_JOB_CANCEL_OLDER, Q_JOB_DELIVERIES,
	Q_JOB_COUNTS,
	Q_EVENT, Q_EVENTS_PRUNE_AGE, Q_EVENTS_PRUNE_ROWS,
	/* jobs and the OTA lifecycle (sched.c, api_jobs.c) */
	Q_JOB_LIST, Q_JOB_LIST_COUNT, Q_DELIVERIES_STALE, Q_JOB_UNFINISHED,
	Q_JOB_QUEUED,
	/* devices, firmware, API tokens, metrics (api_devices.c,
	 * api_firmware.c, api_tokens.c, api_metrics.c) */
	Q_DEVICE_SEARCH, Q_DEVICE_SEARCH_COUNT, Q_DEVICE_UPDATE,
	Q_DEVICE_SET_TOKEN, Q_DEVICE_DELETE, Q_DEVICE_HISTORY,
	Q_DEVICE_IDS_BY_TAG,
	Q_FIRMWARE_LIST, Q_FIRMWARE_COUNT, Q_FIRMWARE_JOBS, Q_FIRMWARE_IN_USE,
	Q_FIRMWARE_REFS, Q_FIRMWARE_DELETE, Q_FIRMWARE_SET_DELETED,
	Q_FIRMWARE_DELETED_AT, Q_DELIVERY_STATES, Q_JOB_STATES,
	Q_TOKEN_CREATE, Q_TOKEN_LIST, Q_TOKEN_GET, Q_TOKEN_BY_HASH,
	Q_TOKEN_DELETE, Q_TOKEN_USED,
	Q_MAX
};

struct store_query {
	const char	*name;		/* for log lines */
	const char	*sql;
	int		 unique_ok;	/* UNIQUE violation: -2, not logged */
};

static const struct store_query store_queries[Q_MAX] = {
	[Q_BEGIN] = { "begin", "BEGIN IMMEDIATE" },
	[Q_COMMIT] = { "commit", "COMMIT" },
	[Q_ROLLBACK] = { "rollback", "ROLLBACK" },
	[Q_SYNC_NORMAL] = { "light sync", "PRAGMA synchronous = NORMAL" },
	[Q_SYNC_FULL] = { "full sync", "PRAGMA synchronous = FULL" },
	[Q_USER_VERSION] = { "schema version", "PRAGMA user_version" },
	[Q_DEVICE_CREATE] = { "device create",
	    "INSERT INTO devices (id, name, token_sha256, tags, created_at)"
	    " VALUES ((SELECT last + 1 FROM device_ids), ?, ?, ?, ?)", 1 },
	[Q_DEVICE_GET] = { "device get",
	    "SELECT " DEVICE_COLS " FROM devices WHERE id = ?" },
	[Q_DEVICE_BY_TOKEN] = { "device by token",
	    "SELECT " DEVICE_COLS " FROM devices WHERE token_sha256 = ?" },
	[Q_DEVICE_LIST] = { "device list",
	    "SELECT " DEVICE_COLS " FROM devices ORDER BY id"
	    " LIMIT ? OFFSET ?" },
	[Q_DEVICE_COUNT] = { "device count", "SELECT count(*) FROM devices" },
	[Q_DEVICE_SEEN] = { "device seen",
	    "UPDATE devices SET last_seen = ?, last_addr = ? WHERE id = ?" },
	[Q_DEVICE_SET_LINK] = { "device link",
	    "UPDATE devices SET buff_in = ?, h_beat = ? WHERE id = ?" },
	[Q_DEVICE_SET_INFO] = { "device info",
	    "UPDATE devices SET fw_version = ?, build = ?, fw_type = ?,"
	    " board = ?, lib_version = ? WHERE id = ?" },
	[Q_DEVICE_IDS] = { "device ids",
	    "SELECT id FROM devices ORDER BY id" },
	[Q_FIRMWARE_ADD] = { "firmware add",
	    "INSERT INTO firmware (sha256, sha256_b64, md5, size, filename,"
	    " uploaded_at, uploaded_by, format, chip, version, build, fw_type,"
	    " board, project)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT (sha256) DO NOTHING" },
	[Q_FIRMWARE_BY_SHA] = { "firmware by sha256",
	    "SELECT id FROM firmware WHERE sha256 = ?" },
	[Q_FIRMWARE_GET] = { "firmware get",
	    "SELECT " FIRMWARE_COLS " FROM firmware WHERE id = ?" },
	[Q_JOB_CREATE] = { "job create",
	    "INSERT INTO jobs (firmware_id, target_kind, target, force,"
	    " max_parallel, attempt_limit, failure_threshold, state,"
	    " created_at, created_by)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	[Q_JOB_GET] = { "job get",
	    "SELECT " JOB_COLS " FROM jobs WHERE id = ?" },
	[Q_JOBS_ACTIVE] = { "active jobs",
	    "SELECT id FROM jobs WHERE state = 'active' ORDER BY id" },
	[Q_JOB_SET_STATE] = { "job state",
	    "UPDATE jobs SET state = ?3 WHERE id = ?1 AND state = ?2" },
	[Q_JOB_CANCEL] = { "job cancel",
	    "UPDATE deliveries SET state = 'canceled', last_error = ?3,"
	    " updated_at = ?1 WHERE job_id = ?2 AND " UNFINISHED("state") },
	[Q_JOBS_SHARING] = { "jobs sharing devices",
	    "SELECT DISTINCT job_id FROM deliveries"
	    " WHERE job_id <> ?1 AND " UNFINISHED("state")
	    " AND device_id IN"
	    " (SELECT device_id FROM deliveries WHERE job_id = ?1)"
	    " ORDER BY job_id" },
	[Q_JOBS_SHARING_DEVICE] = { "jobs of a device",
	    "SELECT DISTINCT job_id FROM deliveries"
	    " WHERE device_id = ?2 AND job_id <> ?1"
	    " AND " UNFINISHED("state") " ORDER BY job_id" },
	[Q_DELIVERY_CREATE] = { "delivery create",
	    "INSERT INTO deliveries (job_id, device_id, state, created_at,"
	    " updated_at) VALUES (?1, ?2, 'queued', ?3, ?3)" },
	[Q_DELIVERY_GET] = { "delivery get",
	    "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.id = ?" },
	[Q_DELIVERY_BY_TICKET] = { "delivery by ticket",
	    "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.ticket = ?" },
	[Q_DELIVERY_PENDING] = { "pending delivery",
	    "SELECT " DELIVERY_COLS " FROM deliveries d"
	    " JOIN jobs j ON j.id = d.job_id"
	    " WHERE d.device_id = ? AND " UNFINISHED("d.state")
	    " AND j.state = 'active' ORDER BY d.id DESC LIMIT 1" },
	[Q_DELIVERY_UPDATE] = { "delivery update",
	    "UPDATE deliveries SET state = ?1, ticket = CASE WHEN ?2 IS NULL"
	    "  THEN ticket ELSE nullif(?2, '') END,"
	    " last_error = coalesce(?3, last_error),"
	    " attempts = attempts + ?4, updated_at = ?5"
	    " WHERE id = ?6 AND state = ?7" },
	[Q_DELIVERY_PROGRESS] = { "delivery progress",
	    "UPDATE deliveries SET bytes_sent = ?, updated_at = ?"
	    " WHERE id = ?" },
	[Q_JOB_CANCEL_OLDER] = { "cancel older deliveries of a job's devices",
	    "UPDATE deliveries SET state = 'canceled', updated_at = ?2,"
	    " last_error = ?3"
	    " WHERE job_id <> ?1 AND " UNFINISHED("state")
	    " AND device_id IN"
	    " (SELECT device_id FROM deliveries WHERE job_id = ?1)" },
	[Q_JOB_DELIVERIES] = { "job deliveries",
	    "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.job_id = ?"
	    " ORDER BY d.id" },
	[Q_JOB_COUNTS] = { "job counts",
	    "SELECT state, count(*) FROM deliveries WHERE job_id = ?"
	    " GROUP BY state ORDER BY state" },
	[Q_JOB_LIST] = { "job list",
	    "SELECT " JOB_COLS " FROM jobs WHERE ?1 = '' OR state = ?1"
	    " ORDER BY id DESC LIMIT ?2 OFFSET ?3" },
	[Q_JOB_LIST_COUNT] = { "job count",
	    "SELECT count(*) FROM jobs WHERE ?1 = '' OR state = ?1" },
	[Q_DELIVERIES_STALE] = { "stale deliveries",
	    "SELECT " DELIVERY_COLS " FROM deliveries d"
	    " JOIN jobs j ON j.id = d.job_id"
	    " WHERE d.state = ?1 AND d.updated_at < ?2 AND j.state = 'active'"
	    " ORDER BY d.id" },
	[Q_JOB_QUEUED] = { "job queued",
	    "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.job_id = ?"
	    " AND d.state = 'queued' AND d.id > ? ORDER BY d.id LIMIT ?" },
	[Q_JOB_UNFINISHED] = { "job unfinished",
	    "SELECT count(*) FROM deliveries WHERE job_id = ?"
	    " AND " UNFINISHED("state") },
	[Q_EVENT] = { "event",
	    "INSERT INTO events (at, kind, actor, remote, device_id, job_id,"
	    " text) VALUES (?, ?, ?, ?, ?, ?, ?)" },
	/* Both look at no more than ?2 of the oldest rows, by the primary
	 * key: a batch costs the same however large the table is. */
	[Q_EVENTS_PRUNE_AGE] = { "prune old events",
	    "DELETE FROM events WHERE id IN"
	    " (SELECT id FROM events ORDER BY id LIMIT ?2) AND at < ?1" },
	[Q_EVENTS_PRUNE_ROWS] = { "prune events past the row limit",
	    "DELETE FROM events WHERE id IN (SELECT id FROM events"
	    " WHERE id <= (SELECT max(id) FROM events) - ?1"
	    " ORDER BY id LIMIT ?2)" },
	[Q_DEVICE_SEARCH] = { "device search",
	    "SELECT " DEVICE_COLS " FROM devices" DEVICE_FILTER
	    " ORDER BY id LIMIT ?5 OFFSET ?6" },
	[Q_DEVICE_SEARCH_COUNT] = { "device search count",
	    "SELECT count(*) FROM devices" DEVICE_FILTER },
	[Q_DEVICE_UPDATE] = { "device update",
	    "UPDATE devices SET name = coalesce(?2, name),"
	    " tags = coalesce(?3, tags) WHERE id = ?1" },
	[Q_DEVICE_SET_TOKEN] = { "device token",
	    "UPDATE devices SET token_sha256 = ?2 WHERE id = ?1", 1 },
	[Q_DEVICE_DELETE] = { "device delete",
	    "DELETE FROM devices WHERE id = ?" },
	[Q_DEVICE_HISTORY] = { "device history",
	    "SELECT " DELIVERY_COLS ", j.firmware_id, f.version, f.filename"
	    " FROM deliveries d JOIN jobs j ON j.id = d.job_id"
	    " JOIN firmware f ON f.id = j.firmware_id"
	    " WHERE d.device_id = ? ORDER BY d.id DESC LIMIT ?" },
	[Q_DEVICE_IDS_BY_TAG] = { "device ids by tag",
	    "SELECT id FROM devices"
	    " WHERE instr(',' || tags || ',', ',' || ?1 || ',') > 0"
	    " ORDER BY id" },
	[Q_FIRMWARE_LIST] = { "firmware list",
	    "SELECT " FIRMWARE_COLS " FROM firmware" FIRMWARE_FILTER
	    " ORDER BY id DESC LIMIT ?3 OFFSET ?4" },
	[Q_FIRMWARE_COUNT] = { "firmware count",
	    "SELECT count(*) FROM firmware" FIRMWARE_FILTER },
	[Q_FIRMWARE_JOBS] = { "firmware jobs",
	    "SELECT " JOB_COLS " FROM jobs WHERE firmware_id = ?"
	    " ORDER BY id DESC" },
	[Q_FIRMWARE_IN_USE] = { "firmware in use",
	    "SELECT id FROM jobs WHERE firmware_id = ?"
	    " AND state IN ('active', 'paused') ORDER BY id" },
	[Q_FIRMWARE_REFS] = { "firmware references",
	    "SELECT count(*) FROM jobs WHERE firmware_id = ?" },
	[Q_FIRMWARE_DELETE] = { "firmware delete",
	    "DELETE FROM firmware WHERE id = ?" },
	[Q_FIRMWARE_SET_DELETED] = { "firmware deleted",
	    "UPDATE firmware SET deleted_at = ?2 WHERE id = ?1" },
	[Q_FIRMWARE_DELETED_AT] = { "firmware deleted at",
	    "SELECT deleted_at FROM firmware WHERE id = ?" },
	[Q_DELIVERY_STATES] = { "delivery states",
	    "SELECT state, count(*) FROM deliveries GROUP BY state" },
	[Q_JOB_STATES] = { "job states",
	    "SELECT state, count(*) FROM jobs GROUP BY state" },
	[Q_TOKEN_CREATE] = { "API token create",
	    "INSERT INTO api_tokens (name, token_sha256, created_by,"
	    " created_at) VALUES (?, ?, ?, ?)", 1 },
	[Q_TOKEN_LIST] = { "API token list",
	    "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id" },
	[Q_TOKEN_GET] = { "API token get",
	    "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?" },
	[Q_TOKEN_BY_HASH] = { "API token by hash",
	    "SELECT " TOKEN_COLS " FROM api_tokens WHERE token_sha256 = ?" },
	[Q_TOKEN_DELETE] = { "API token delete",
	    "DELETE FROM api_tokens WHERE id = ?" },
	[Q_TOKEN_USED] = { "API token used",
	    "UPDATE api_tokens SET last_used_at = ?2"
	    " WHERE id = ?1 AND last_used_at < ?2 - 60" },
};

struct store {
	sqlite3		*db;
	sqlite3_stmt	*stmt[Q_MAX];
	int		 batch;		/* store_light's transaction is open */
	int		 full;		/* a write found the disk full */
};

/* How to read one result row into a struct, and free it again. */
struct store_row {
	size_t	 size;
	int	(*read)(sqlite3_stmt *, void *);
	void	(*free)(void *);
};

static int	 store_batchable(enum store_q);
static int	 store_pragmas(struct store *, const char *, char *, size_t);
static int	 store_migrate(struct store *, const char *, char *, size_t);
static int	 store_migrate_one(struct store *, int, const char *, char *,
		    size_t);
static sqlite3_stmt *store_prepare(struct store *, enum store_q,
		    const char *, va_list);
static int	 store_bind(struct store *, enum store_q, const char *,
		    va_list);
static sqlite3_stmt *store_start(struct store *, enum store_q,
		    const char *, ...);
static int	 store_step(struct store *, enum store_q);
static void	 store_done(struct store *, enum store_q);
static int	 store_run(struct store *, enum store_q, const char *, ...);
static int	 store_one(struct store *, enum store_q,
		    const struct store_row *, void *, const char *, ...);
static int	 store_list(struct store *, enum store_q,
		    const struct store_row *, void *, size_t *,
		    const char *, ...);
static int	 store_tx_open(struct store *, int *);
static int	 store_tx_close(struct store *, int, int);
static int	 store_fail(struct store *, enum store_q);
static int	 store_nomem(void);
static int64_t	 store_now(void);
static char	*col_text(sqlite3_stmt *, int, int *);
static void	 col_copy(sqlite3_stmt *, int, char *, size_t);
static int	 device_read(sqlite3_stmt *, void *);
static void	 device_free_row(void *);
static int	 firmware_read(sqlite3_stmt *, void *);
static void	 firmware_free_row(void *);
static int	 job_read(sqlite3_stmt *, void *);
static void	 job_free_row(void *);
static int	 delivery_read(sqlite3_stmt *, void *);
static void	 delivery_free_row(void *);
static int	 id_read(sqlite3_stmt *, void *);

static const struct store_row device_row =
    { sizeof(struct device), device_read, device_free_row };
static const struct store_row firmware_row =
    { sizeof(struct firmware), firmware_read, firmware_free_row };
static const struct store_row job_row =
    { sizeof(struct job), job_read, job_free_row };
static const struct store_row delivery_row =
    { sizeof(struct delivery), delivery_read, delivery_free_row };
static const struct store_row id_row =
    { sizeof(int64_t), id_read, NULL };

static const char *const job_targets[] = {
	[JOB_TARGET_DEVICES] = "devices",
	[JOB_TARGET_TAG] = "tag",
	[JOB_TARGET_ALL] = "all",
};

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store	*st;
	int		 rc;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db != NULL ?
		    sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (store_pragmas(st, path, err, errlen) == -1 ||
	    store_migrate(st, path, err, errlen) == -1)
		goto fail;
	return st;
 fail:
	store_close(st);
	return NULL;
}

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
	return store_run(st, Q_BEGIN, "");
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
	if (store_run(st, Q_SYNC_NORMAL, "") == -1)
		return -1;
	if (store_run(st, Q_BEGIN, "") == 0) {
		st->batch = 1;
		return 0;
	}
	store_run(st, Q_SYNC_FULL, "");
	return -1;
}

void
store_flush(struct store *st)
{
	if (!st->batch)
		return;
	st->batch = 0;
	if (store_run(st, Q_COMMIT, "") == -1)
		store_rollback(st);
	store_run(st, Q_SYNC_FULL, "");
}

/* May this statement run inside a batch?  Reads and the batch's writes. */
static int
store_batchable(enum store_q q)
{
	switch (q) {
	case Q_DEVICE_SEEN:
	case Q_DEVICE_SET_INFO:
	case Q_DEVICE_SET_LINK:
	case Q_DELIVERY_PROGRESS:
	case Q_SYNC_NORMAL:
	case Q_SYNC_FULL:
	case Q_COMMIT:
	case Q_ROLLBACK:
		return 1;
	default:
		return strncmp(store_queries[q].sql, "SELECT", 6) == 0;
	}
}

int
store_commit(struct store *st)
{
	return store_run(st, Q_COMMIT, "");
}

/* A failed statement may have rolled back already: then nothing to do. */
int
store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return 0;
	return store_run(st, Q_ROLLBACK, "");
}

int
store_schema_version(struct store *st)
{
	int64_t	 version;

	if (store_one(st, Q_USER_VERSION, &id_row, &version, "") != 1)
		return -1;
	return (int)version;
}

int
store_device_create(struct store *st, const char *name,
    const char *token_sha256, const char *tags, int64_t *id)
{
	int	 rv;

	rv = store_run(st, Q_DEVICE_CREATE, "sssI", name, token_sha256, tags,
	    store_now());
	if (rv == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rv;
}

int
store_device_get(struct store *st, int64_t id, struct device *d)
{
	return store_one(st, Q_DEVICE_GET, &device_row, d, "I", id);
}

int
store_device_by_token(struct store *st, const char *token_sha256,
    struct device *d)
{
	return store_one(st, Q_DEVICE_BY_TOKEN, &device_row, d, "s",
	    token_sha256);
}

int
store_device_list(struct store *st, int64_t limit, int64_t offset,
    struct device **out, size_t *n, int64_t *total)
{
	int64_t	 count;

	*out = NULL;
	*n = 0;
	if (store_one(st, Q_DEVICE_COUNT, &id_row, &count, "") != 1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, Q_DEVICE_LIST, &device_row, out, n, "II",
	    limit < 0 ? (int64_t)-1 : limit, offset < 0 ? (int64_t)0 : offset);
}

int
store_device_seen(struct store *st, int64_t id, const char *addr,
    int64_t when)
{
	return store_run(st, Q_DEVICE_SEEN, "IsI", when, addr, id);
}

int
store_device_set_link(struct store *st, int64_t id, int buff_in, int h_beat)
{
	return store_run(st, Q_DEVICE_SET_LINK, "iiI", buff_in, h_beat, id);
}

int
store_device_set_info(struct store *st, int64_t id, const char *fw_version,
    const char *build, const char *fw_type, const char *board,
    const char *lib_version)
{
	return store_run(st, Q_DEVICE_SET_INFO, "sssssI", fw_version, build,
	    fw_type, board, lib_version, id);
}

int
store_device_ids(struct store *st, int64_t **ids, size_t *n)
{
	return store_list(st, Q_DEVICE_IDS, &id_row, ids, n, "");
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

int
store_firmware_add(struct store *st, const struct firmware *f, int64_t *id,
    int *created)
{
	int64_t	 at = f->uploaded_at > 0 ? f->uploaded_at : store_now();

	if (store_run(st, Q_FIRMWARE_ADD, "sssUsIssssssss", f->sha256,
	    f->sha256_b64, f->md5, f->size, f->filename, at, f->uploaded_by,
	    f->format, f->chip, f->version, f->build, f->fw_type, f->board,
	    f->project) == -1)
		return -1;
	if (sqlite3_changes(st->db) == 1) {
		*id = sqlite3_last_insert_rowid(st->db);
		*created = 1;
		return 0;
	}
	*created = 0;
	switch (store_one(st, Q_FIRMWARE_BY_SHA, &id_row, id, "s", f->sha256)) {
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
	return store_one(st, Q_FIRMWARE_GET, &firmware_row, f, "I", id);
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

int
store_job_create(struct store *st, const struct job *j, int64_t *id)
{
	int64_t		 at = j->created_at > 0 ? j->created_at : store_now();

	if ((unsigned)j->target_kind >= nitems(job_targets)) {
		log_warnx("store: job create: bad target kind %d",
		    (int)j->target_kind);
		return -1;
	}
	if (store_run(st, Q_JOB_CREATE, "Issiiiisis", j->firmware_id,
	    job_targets[j->target_kind], j->target, j->force, j->max_parallel,
	    j->attempt_limit, j->failure_threshold, job_state_name(j->state), at,
	    j->created_by) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_job_get(struct store *st, int64_t id, struct job *j)
{
	return store_one(st, Q_JOB_GET, &job_row, j, "I", id);
}

int
store_jobs_active(struct store *st, int64_t **ids, size_t *n)
{
	return store_list(st, Q_JOBS_ACTIVE, &id_row, ids, n, "");
}

int
store_job_set_state(struct store *st, int64_t id, enum job_state from,
    enum job_state to)
{
	if (store_run(st, Q_JOB_SET_STATE, "Iss", id, job_state_name(from),
	    job_state_name(to)) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

int
store_job_cancel(struct store *st, int64_t id, const char *why,
    int *canceled)
{
	*canceled = 0;
	if (store_run(st, Q_JOB_CANCEL, "IIs", store_now(), id, why) == -1)
		return -1;
	*canceled = sqlite3_changes(st->db);
	return 0;
}

int
store_jobs_sharing(struct store *st, int64_t job_id, int64_t device_id,
    int64_t **ids, size_t *n)
{
	if (device_id > 0)
		return store_list(st, Q_JOBS_SHARING_DEVICE, &id_row, ids, n,
		    "II", job_id, device_id);
	return store_list(st, Q_JOBS_SHARING, &id_row, ids, n, "I", job_id);
}

void
job_free(struct job *j)
{
	free(j->target);
	free(j->created_by);
	memset(j, 0, sizeof(*j));
}

int
store_delivery_create(struct store *st, int64_t job_id, int64_t device_id,
    int64_t *id)
{
	if (store_run(st, Q_DELIVERY_CREATE, "III", job_id, device_id,
	    store_now()) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_delivery_get(struct store *st, int64_t id, struct delivery *dl)
{
	return store_one(st, Q_DELIVERY_GET, &delivery_row, dl, "I", id);
}

int
store_delivery_by_ticket(struct store *st, const char *ticket,
    struct delivery *dl)
{
	memset(dl, 0, sizeof(*dl));
	if (ticket == NULL || *ticket == '\0')
		return 0;
	return store_one(st, Q_DELIVERY_BY_TICKET, &delivery_row, dl, "s",
	    ticket);
}

int
store_delivery_pending(struct store *st, int64_t device_id,
    struct delivery *dl)
{
	return store_one(st, Q_DELIVERY_PENDING, &delivery_row, dl, "I",
	    device_id);
}

int
store_delivery_update(struct store *st, int64_t id, enum delivery_state from,
    enum delivery_state to, const char *ticket, const char *last_error,
    int attempt_inc)
{
	if (store_run(st, Q_DELIVERY_UPDATE, "snniIIs", delivery_state_name(to),
	    ticket, last_error, attempt_inc, store_now(), id,
	    delivery_state_name(from)) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

int
store_delivery_progress(struct store *st, int64_t id, uint64_t bytes)
{
	return store_run(st, Q_DELIVERY_PROGRESS, "UII", bytes, store_now(),
	    id);
}

/* For every device of a new job, in one statement. */
int
store_job_cancel_older(struct store *st, int64_t job_id, const char *why)
{
	return store_run(st, Q_JOB_CANCEL_OLDER, "IIs", job_id, store_now(),
	    why);
}

int
store_job_deliveries(struct store *st, int64_t job_id, struct delivery **out,
    size_t *n)
{
	return store_list(st, Q_JOB_DELIVERIES, &delivery_row, out, n, "I",
	    job_id);
}

/* cb must not call store_job_counts itself: the statement is in use. */
int
store_job_counts(struct store *st, int64_t job_id,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_start(st, Q_JOB_COUNTS, "I", job_id)) == NULL)
		return -1;
	while ((rc = store_step(st, Q_JOB_COUNTS)) == SQLITE_ROW)
		cb(arg, (const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1));
	store_done(st, Q_JOB_COUNTS);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
delivery_free(struct delivery *dl)
{
	free(dl->last_error);
	memset(dl, 0, sizeof(*dl));
}

void
delivery_list_free(struct delivery *dl, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		delivery_free(&dl[i]);
	free(dl);
}

int
store_event(struct store *st, const char *kind, const char *actor,
    const char *remote, int64_t device_id, int64_t job_id, const char *text)
{
	return store_run(st, Q_EVENT, "IsssNNs", store_now(), kind, actor,
	    remote, device_id, job_id, text);
}

int
store_events_prune(struct store *st, int64_t before, int64_t keep,
    int64_t max)
{
	int	 n = 0;

	if (before > 0) {
		if (store_run(st, Q_EVENTS_PRUNE_AGE, "II", before, max) == -1)
			return -1;
		n = sqlite3_changes(st->db);
	}
	if (keep > 0 && n < max) {
		if (store_run(st, Q_EVENTS_PRUNE_ROWS, "II", keep,
		    max - n) == -1)
			return -1;
		n += sqlite3_changes(st->db);
	}
	return n;
}

/* Connection settings; the first read also tells a non-database file. */
static int
store_pragmas(struct store *st, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	const char	*mode;
	int		 rc;

	if ((rc = sqlite3_busy_timeout(st->db, STORE_BUSY_MS)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1,
	    &s, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
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
	if (sqlite3_exec(st->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

static int
store_migrate(struct store *st, const char *path, char *err, size_t errlen)
{
	const int	 known = nitems(store_migrations);
	int64_t		 version;
	int		 v;

	if (store_one(st, Q_USER_VERSION, &id_row, &version, "") != 1) {
		snprintf(err, errlen, "%s: cannot read the schema version: %s",
		    path, sqlite3_errmsg(st->db));
		return -1;
	}
	if (version > known) {
		snprintf(err, errlen, "%s: the database has schema version "
		    "%lld, newer than this otad knows (%d); run a newer otad "
		    "or restore a backup", path, (long long)version, known);
		return -1;
	}
	for (v = (int)version; v < known; v++)
		if (store_migrate_one(st, v, path, err, errlen) == -1)
			return -1;
	return 0;
}

/* Runs migration v + 1 and records it, all or nothing. */
static int
store_migrate_one(struct store *st, int v, const char *path, char *err,
    size_t errlen)
{
	char	 sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK &&
	    sqlite3_exec(st->db, store_migrations[v], NULL, NULL, NULL) ==
	    SQLITE_OK &&
	    sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: schema migration to version %d failed: %s",
	    path, v + 1, sqlite3_errmsg(st->db));
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* The cached statement for q, prepared on first use, with fmt bound. */
static sqlite3_stmt *
store_prepare(struct store *st, enum store_q q, const char *fmt, va_list ap)
{
	if (st->batch && !store_batchable(q))
		store_flush(st);
	if (st->stmt[q] == NULL && sqlite3_prepare_v3(st->db,
	    store_queries[q].sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[q],
	    NULL) != SQLITE_OK) {
		store_fail(st, q);
		return NULL;
	}
	if (store_bind(st, q, fmt, ap) == -1) {
		store_done(st, q);
		return NULL;
	}
	return st->stmt[q];
}

/*
 * Binds parameters 1, 2, ... from ap, one per fmt character:
 *	i int, I int64_t, U uint64_t, N int64_t id (<= 0 binds NULL),
 *	s text (NULL binds ""), n text (NULL binds NULL).
 * Text is bound without a copy: it must live until store_done().
 */
static int
store_bind(struct store *st, enum store_q q, const char *fmt, va_list ap)
{
	sqlite3_stmt	*s = st->stmt[q];
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
		default:
			log_warnx("store: %s: bad bind format '%c'",
			    store_queries[q].name, fmt[i - 1]);
			return -1;
		}
	}
	if (rc != SQLITE_OK)
		return store_fail(st, q);
	return 0;
}

static sqlite3_stmt *
store_start(struct store *st, enum store_q q, const char *fmt, ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;

	va_start(ap, fmt);
	s = store_prepare(st, q, fmt, ap);
	va_end(ap);
	return s;
}

/* SQLITE_ROW, SQLITE_DONE, -2 for an expected UNIQUE violation, or -1. */
static int
store_step(struct store *st, enum store_q q)
{
	int	 rc;

	rc = sqlite3_step(st->stmt[q]);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	if (rc == SQLITE_CONSTRAINT_UNIQUE && store_queries[q].unique_ok)
		return -2;
	return store_fail(st, q);
}

static void
store_done(struct store *st, enum store_q q)
{
	sqlite3_reset(st->stmt[q]);
	sqlite3_clear_bindings(st->stmt[q]);
}

/* Runs a statement that returns no rows: 0, -2 (see store_step) or -1. */
static int
store_run(struct store *st, enum store_q q, const char *fmt, ...)
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
		log_warnx("store: %s: unexpected row", store_queries[q].name);
		return -1;
	}
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Reads the first row into out (zeroed first): 1 found, 0 none, -1. */
static int
store_one(struct store *st, enum store_q q, const struct store_row *row,
    void *out, const char *fmt, ...)
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
		rc = row->read(st->stmt[q], out) == -1 ? -1 : 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	store_done(st, q);
	return rc;
}

/* Reads every row into a malloc'd array at *(void **)out. */
static int
store_list(struct store *st, enum store_q q, const struct store_row *row,
    void *out, size_t *n, const char *fmt, ...)
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
		if (row->read(st->stmt[q], arr + cnt * row->size) == -1) {
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
static int
store_tx_open(struct store *st, int *own)
{
	store_flush(st);
	*own = sqlite3_get_autocommit(st->db) != 0;
	return *own ? store_begin(st) : 0;
}

/* Commits an own transaction when rv is 0, else rolls it back. */
static int
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
store_fail(struct store *st, enum store_q q)
{
	if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_FULL)
		st->full = 1;
	log_warnx("store: %s: %s", store_queries[q].name,
	    sqlite3_errmsg(st->db));
	return -1;
}

int
store_disk_full(struct store *st)
{
	int	 full = st->full;

	st->full = 0;
	return full;
}

static int
store_nomem(void)
{
	log_warnx("store: out of memory");
	return -1;
}

static int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* A malloc'd copy of a text column, "" for NULL; sets *fail on ENOMEM. */
static char *
col_text(sqlite3_stmt *s, int i, int *fail)
{
	const unsigned char	*t = sqlite3_column_text(s, i);
	char			*p;

	if ((p = strdup(t != NULL ? (const char *)t : "")) == NULL)
		*fail = 1;
	return p;
}

static void
col_copy(sqlite3_stmt *s, int i, char *buf, size_t size)
{
	const unsigned char	*t = sqlite3_column_text(s, i);

	snprintf(buf, size, "%s", t != NULL ? (const char *)t : "");
}

static int
device_read(sqlite3_stmt *s, void *p)
{
	struct device	*d = p;
	int		 fail = 0;

	d->id = sqlite3_column_int64(s, 0);
	d->name = col_text(s, 1, &fail);
	d->tags = col_text(s, 2, &fail);
	d->created_at = sqlite3_column_int64(s, 3);
	d->last_seen = sqlite3_column_int64(s, 4);
	d->last_addr = col_text(s, 5, &fail);
	d->fw_version = col_text(s, 6, &fail);
	d->build = col_text(s, 7, &fail);
	d->fw_type = col_text(s, 8, &fail);
	d->board = col_text(s, 9, &fail);
	d->lib_version = col_text(s, 10, &fail);
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
firmware_read(sqlite3_stmt *s, void *p)
{
	struct firmware	*f = p;
	int		 fail = 0;

	f->id = sqlite3_column_int64(s, 0);
	col_copy(s, 1, f->sha256, sizeof(f->sha256));
	col_copy(s, 2, f->sha256_b64, sizeof(f->sha256_b64));
	col_copy(s, 3, f->md5, sizeof(f->md5));
	f->size = (uint64_t)sqlite3_column_int64(s, 4);
	f->filename = col_text(s, 5, &fail);
	f->uploaded_at = sqlite3_column_int64(s, 6);
	f->uploaded_by = col_text(s, 7, &fail);
	f->format = col_text(s, 8, &fail);
	f->chip = col_text(s, 9, &fail);
	f->version = col_text(s, 10, &fail);
	f->build = col_text(s, 11, &fail);
	f->fw_type = col_text(s, 12, &fail);
	f->board = col_text(s, 13, &fail);
	f->project = col_text(s, 14, &fail);
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

static int
job_read(sqlite3_stmt *s, void *p)
{
	struct job	*j = p;
	const char	*kind = (const char *)sqlite3_column_text(s, 2);
	int		 fail = 0;

	j->id = sqlite3_column_int64(s, 0);
	j->firmware_id = sqlite3_column_int64(s, 1);
	if (kind != NULL && strcmp(kind, "tag") == 0)
		j->target_kind = JOB_TARGET_TAG;
	else if (kind != NULL && strcmp(kind, "all") == 0)
		j->target_kind = JOB_TARGET_ALL;
	else
		j->target_kind = JOB_TARGET_DEVICES;
	j->target = col_text(s, 3, &fail);
	j->force = sqlite3_column_int(s, 4);
	j->max_parallel = sqlite3_column_int(s, 5);
	j->attempt_limit = sqlite3_column_int(s, 6);
	j->failure_threshold = sqlite3_column_int(s, 7);
	if (job_state_parse((const char *)sqlite3_column_text(s, 8),
	    &j->state) == -1) {
		log_warnx("store: job %lld has an unknown state",
		    (long long)j->id);
		fail = 1;
	}
	j->created_at = sqlite3_column_int64(s, 9);
	j->created_by = col_text(s, 10, &fail);
	if (fail) {
		job_free(j);
		return store_nomem();
	}
	return 0;
}

static void
job_free_row(void *p)
{
	job_free(p);
}

static int
delivery_read(sqlite3_stmt *s, void *p)
{
	struct delivery	*dl = p;
	int		 fail = 0;

	dl->id = sqlite3_column_int64(s, 0);
	dl->job_id = sqlite3_column_int64(s, 1);
	dl->device_id = sqlite3_column_int64(s, 2);
	if (delivery_state_parse((const char *)sqlite3_column_text(s, 3),
	    &dl->state) == -1) {
		log_warnx("store: delivery %lld has an unknown state",
		    (long long)dl->id);
		fail = 1;
	}
	dl->attempts = sqlite3_column_int(s, 4);
	col_copy(s, 5, dl->ticket, sizeof(dl->ticket));
	dl->bytes_sent = (uint64_t)sqlite3_column_int64(s, 6);
	dl->created_at = sqlite3_column_int64(s, 7);
	dl->updated_at = sqlite3_column_int64(s, 8);
	dl->last_error = col_text(s, 9, &fail);
	if (fail) {
		delivery_free(dl);
		return store_nomem();
	}
	return 0;
}

static void
delivery_free_row(void *p)
{
	delivery_free(p);
}

static int
id_read(sqlite3_stmt *s, void *p)
{
	*(int64_t *)p = sqlite3_column_int64(s, 0);
	return 0;
}

/* Jobs and the OTA lifecycle: the job list, deliveries stuck in a state,
 * and whether a job has work left. */

int
store_job_list(struct store *st, const char *state, int64_t limit,
    int64_t offset, struct job **out, size_t *n, int64_t *total)
{
	int64_t	 count = 0;

	if (state == NULL)
		state = "";
	if (store_one(st, Q_JOB_LIST_COUNT, &id_row, &count, "s", state) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, Q_JOB_LIST, &job_row, out, n, "sII", state,
	    limit, offset);
}

void
job_list_free(struct job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		job_free(&jobs[i]);
	free(jobs);
}

int
store_deliveries_stale(struct store *st, enum delivery_state state,
    int64_t before, struct delivery **out, size_t *n)
{
	return store_list(st, Q_DELIVERIES_STALE, &delivery_row, out, n, "sI",
	    delivery_state_name(state), before);
}

int
store_job_queued(struct store *st, int64_t job_id, int64_t after,
    int64_t max, struct delivery **out, size_t *n)
{
	return store_list(st, Q_JOB_QUEUED, &delivery_row, out, n, "III",
	    job_id, after, max);
}

int
store_job_unfinished(struct store *st, int64_t job_id, int64_t *count)
{
	*count = 0;
	return store_one(st, Q_JOB_UNFINISHED, &id_row, count, "I", job_id) ==
	    -1 ? -1 : 0;
}

/* Devices, firmware, API tokens and metrics of the admin API
 * (api_devices.c, api_firmware.c, api_tokens.c, api_metrics.c). */

static int	 device_history_read(sqlite3_stmt *, void *);
static void	 device_history_free_row(void *);
static int	 api_token_read(sqlite3_stmt *, void *);
static void	 api_token_free_row(void *);

static const struct store_row device_history_row = { sizeof(struct
    device_delivery), device_history_read, device_history_free_row };
static const struct store_row api_token_row =
    { sizeof(struct api_token), api_token_read, api_token_free_row };

int
store_device_search(struct store *st, const struct device_filter *f,
    int64_t limit, int64_t offset, struct device **out, size_t *n,
    int64_t *total)
{
	int64_t	 count = 0;

	*out = NULL;
	*n = 0;
	if (store_one(st, Q_DEVICE_SEARCH_COUNT, &id_row, &count, "ssss",
	    f->tag, f->fw_version, f->board, f->text) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, Q_DEVICE_SEARCH, &device_row, out, n, "ssssII",
	    f->tag, f->fw_version, f->board, f->text,
	    limit < 0 ? (int64_t)-1 : limit,
	    offset < 0 ? (int64_t)0 : offset);
}

int
store_device_count(struct store *st, int64_t *count)
{
	*count = 0;
	return store_one(st, Q_DEVICE_COUNT, &id_row, count, "") == -1 ? -1 : 0;
}

/* 1 updated, 0 no such device, -1. */
int
store_device_update(struct store *st, int64_t id, const char *name,
    const char *tags)
{
	if (store_run(st, Q_DEVICE_UPDATE, "Inn", id, name, tags) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

/* 1 set, 0 no such device, -2 the hash belongs to another device, -1. */
int
store_device_set_token(struct store *st, int64_t id, const char *token_sha256)
{
	int	 rv;

	if ((rv = store_run(st, Q_DEVICE_SET_TOKEN, "Is", id,
	    token_sha256)) != 0)
		return rv;
	return sqlite3_changes(st->db) > 0;
}

/* 1 deleted (with its deliveries), 0 no such device, -1. */
int
store_device_delete(struct store *st, int64_t id)
{
	if (store_run(st, Q_DEVICE_DELETE, "I", id) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

int
store_device_history(struct store *st, int64_t device_id, int64_t limit,
    struct device_delivery **out, size_t *n)
{
	return store_list(st, Q_DEVICE_HISTORY, &device_history_row, out, n,
	    "II", device_id, limit < 0 ? (int64_t)-1 : limit);
}

void
device_history_free(struct device_delivery *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		device_history_free_row(&h[i]);
	free(h);
}

int
store_device_ids_by_tag(struct store *st, const char *tag, int64_t **ids,
    size_t *n)
{
	return store_list(st, Q_DEVICE_IDS_BY_TAG, &id_row, ids, n, "s", tag);
}

int
store_firmware_list(struct store *st, const char *format, const char *board,
    int64_t limit, int64_t offset, struct firmware **out, size_t *n,
    int64_t *total)
{
	int64_t	 count = 0;

	*out = NULL;
	*n = 0;
	if (store_one(st, Q_FIRMWARE_COUNT, &id_row, &count, "ss", format,
	    board) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, Q_FIRMWARE_LIST, &firmware_row, out, n, "ssII",
	    format, board, limit < 0 ? (int64_t)-1 : limit,
	    offset < 0 ? (int64_t)0 : offset);
}

void
firmware_list_free(struct firmware *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		firmware_free(&f[i]);
	free(f);
}

/* Jobs that use the firmware, newest first. */
int
store_firmware_jobs(struct store *st, int64_t firmware_id, struct job **out,
    size_t *n)
{
	return store_list(st, Q_FIRMWARE_JOBS, &job_row, out, n, "I",
	    firmware_id);
}

/* Ids of the active or paused jobs that use the firmware. */
int
store_firmware_in_use(struct store *st, int64_t firmware_id, int64_t **ids,
    size_t *n)
{
	return store_list(st, Q_FIRMWARE_IN_USE, &id_row, ids, n, "I",
	    firmware_id);
}

/* The deletion time of a firmware row, 0 while it is live. 1 found. */
int
store_firmware_deleted_at(struct store *st, int64_t id, int64_t *when)
{
	return store_one(st, Q_FIRMWARE_DELETED_AT, &id_row, when, "I", id);
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
	rv = store_one(st, Q_FIRMWARE_REFS, &id_row, &refs, "I", id) == -1 ?
	    -1 : 0;
	if (rv == 0 && refs == 0)
		rv = store_run(st, Q_FIRMWARE_DELETE, "I", id);
	else if (rv == 0)
		rv = store_run(st, Q_FIRMWARE_SET_DELETED, "II", id,
		    store_now());
	return store_tx_close(st, own, rv);
}

/* An identical image uploaded again brings a deleted row back. */
int
store_firmware_restore(struct store *st, int64_t id)
{
	return store_run(st, Q_FIRMWARE_SET_DELETED, "II", id, (int64_t)0);
}

static int
store_count_states(struct store *st, enum store_q q,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = store_start(st, q, "")) == NULL)
		return -1;
	while ((rc = store_step(st, q)) == SQLITE_ROW)
		cb(arg, (const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1));
	store_done(st, q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_delivery_states(struct store *st,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	return store_count_states(st, Q_DELIVERY_STATES, cb, arg);
}

int
store_job_states(struct store *st, void (*cb)(void *, const char *, int64_t),
    void *arg)
{
	return store_count_states(st, Q_JOB_STATES, cb, arg);
}

int
store_firmware_count(struct store *st, int64_t *count)
{
	*count = 0;
	return store_one(st, Q_FIRMWARE_COUNT, &id_row, count, "ss", "", "") ==
	    -1 ? -1 : 0;
}

/* -2 when the hash exists already. */
int
store_api_token_create(struct store *st, const char *name,
    const char *token_sha256, const char *created_by, int64_t *id)
{
	int	 rv;

	if ((rv = store_run(st, Q_TOKEN_CREATE, "sssI", name, token_sha256,
	    created_by, store_now())) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rv;
}

int
store_api_token_list(struct store *st, struct api_token **out, size_t *n)
{
	return store_list(st, Q_TOKEN_LIST, &api_token_row, out, n, "");
}

int
store_api_token_get(struct store *st, int64_t id, struct api_token *t)
{
	return store_one(st, Q_TOKEN_GET, &api_token_row, t, "I", id);
}

int
store_api_token_by_hash(struct store *st, const char *token_sha256,
    struct api_token *t)
{
	return store_one(st, Q_TOKEN_BY_HASH, &api_token_row, t, "s",
	    token_sha256);
}

/* 1 deleted, 0 no such token, -1. */
int
store_api_token_delete(struct store *st, int64_t id)
{
	if (store_run(st, Q_TOKEN_DELETE, "I", id) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0;
}

/* Records a use, at most one write a minute per token. */
int
store_api_token_used(struct store *st, int64_t id)
{
	return store_run(st, Q_TOKEN_USED, "II", id, store_now());
}

void
api_token_free(struct api_token *t)
{
	free(t->name);
	free(t->created_by);
	memset(t, 0, sizeof(*t));
}

void
api_token_list_free(struct api_token *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		api_token_free(&t[i]);
	free(t);
}

static int
device_history_read(sqlite3_stmt *s, void *p)
{
	struct device_delivery	*h = p;
	int			 fail = 0;

	if (delivery_read(s, &h->delivery) == -1)
		return -1;
	h->firmware_id = sqlite3_column_int64(s, 10);
	h->fw_version = col_text(s, 11, &fail);
	h->fw_filename = col_text(s, 12, &fail);
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

static int
api_token_read(sqlite3_stmt *s, void *p)
{
	struct api_token	*t = p;
	int			 fail = 0;

	t->id = sqlite3_column_int64(s, 0);
	t->name = col_text(s, 1, &fail);
	t->created_at = sqlite3_column_int64(s, 2);
	t->created_by = col_text(s, 3, &fail);
	t->last_used_at = sqlite3_column_int64(s, 4);
	if (fail) {
		api_token_free(t);
		return store_nomem();
	}
	return 0;
}

static void
api_token_free_row(void *p)
{
	api_token_free(p);
}
