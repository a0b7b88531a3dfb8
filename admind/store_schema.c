/* SPDX-License-Identifier: MIT */
/*
 * admind's schema (DESIGN.md section 3) and its migrations, numbered the
 * same for both engines: SQLite's here, PostgreSQL's in
 * store_pg_schema.c.  store_migrate runs, each all or nothing, those the
 * database has not had, by the version it records (SQLite's PRAGMA
 * user_version, PostgreSQL's otad_schema table).  Part of the store that
 * admind and `otad init` link.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"
/* The comma-separated tags of column c as a JSON list of strings. */
#define TAGS_JSON(c)	"'[\"' || replace(replace(replace(" c ", '\\', " \
			"'\\\\'), '\"', '\\\"'), ',', '\",\"') || '\"]'"

/*
 * Migration N (1-based) is store_sqlite_migrations[N - 1]; each runs in
 * its own transaction together with PRAGMA user_version = N.  Never edit
 * one that has shipped: append a new one, here and in
 * store_pg_migrations.
 */
const char *const store_sqlite_migrations[STORE_SCHEMA_VERSIONS] = {
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
	/* 6: updates that wait (issue 16): a job's start_at, window and
	 * confirm; a delivery's consent and when it is next looked at, and
	 * the states scheduled, awaiting-consent and declined (a CHECK
	 * cannot be altered: the table is built again). */
	"ALTER TABLE jobs ADD COLUMN start_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN \"window\" TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE jobs ADD COLUMN confirm TEXT NOT NULL DEFAULT ''"
	" CHECK (confirm IN ('', 'device', 'admin'));"
	"CREATE TABLE deliveries6 ("
	" id INTEGER PRIMARY KEY,"
	" job_id INTEGER NOT NULL REFERENCES jobs(id),"
	" device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	" state TEXT NOT NULL CHECK (state IN ('queued', 'scheduled',"
	"  'awaiting-consent', 'sent', 'downloading', 'downloaded',"
	"  'succeeded', 'failed', 'already-current', 'incompatible',"
	"  'canceled', 'declined')),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" ticket TEXT UNIQUE,"
	" bytes_sent INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" last_error TEXT NOT NULL DEFAULT '',"
	" consented INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (job_id, device_id));"
	"INSERT INTO deliveries6 (id, job_id, device_id, state, attempts,"
	" ticket, bytes_sent, created_at, updated_at, last_error)"
	" SELECT id, job_id, device_id, state, attempts, ticket, bytes_sent,"
	" created_at, updated_at, last_error FROM deliveries;"
	"DROP TABLE deliveries;"
	"ALTER TABLE deliveries6 RENAME TO deliveries;"
	"CREATE INDEX deliveries_device ON deliveries (device_id);",
	/* 7: events waiting for a webhook receiver, one row per URL; ids are
	 * never reused (a receiver may tell a retry by its id). */
	"CREATE TABLE webhook_queue ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" url TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" body TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX webhook_queue_url ON webhook_queue (url, id);",
	/* 8: a million devices (issue 17): each tag of each device, kept by
	 * triggers from devices.tags, finds a tag's devices in id order
	 * without reading the others.  Tags are printable ASCII without
	 * commas (api_devices.c), so "a,b" reads as the JSON list
	 * ["a","b"] once \ and " are escaped. */
	"CREATE TABLE device_tags ("
	" tag TEXT NOT NULL,"
	" device_id INTEGER NOT NULL,"
	" PRIMARY KEY (tag, device_id)) WITHOUT ROWID;"
	"CREATE TRIGGER device_tags_insert AFTER INSERT ON devices BEGIN"
	" INSERT OR IGNORE INTO device_tags (tag, device_id)"
	"  SELECT value, NEW.id FROM json_each(" TAGS_JSON("NEW.tags") ")"
	"  WHERE value <> ''; END;"
	"CREATE TRIGGER device_tags_update AFTER UPDATE OF tags ON devices"
	" BEGIN"
	" DELETE FROM device_tags WHERE device_id = OLD.id AND tag IN"
	"  (SELECT value FROM json_each(" TAGS_JSON("OLD.tags") "));"
	" INSERT OR IGNORE INTO device_tags (tag, device_id)"
	"  SELECT value, NEW.id FROM json_each(" TAGS_JSON("NEW.tags") ")"
	"  WHERE value <> ''; END;"
	"CREATE TRIGGER device_tags_delete AFTER DELETE ON devices BEGIN"
	" DELETE FROM device_tags WHERE device_id = OLD.id AND tag IN"
	"  (SELECT value FROM json_each(" TAGS_JSON("OLD.tags") ")); END;"
	"INSERT OR IGNORE INTO device_tags (tag, device_id)"
	" SELECT j.value, d.id FROM devices d, json_each(" TAGS_JSON("d.tags")
	") j WHERE j.value <> '';"
	/* A job's million deliveries written in one statement: the state's
	 * CHECK as comparisons (an IN list built a temporary table for each
	 * row, a second per delivery), tickets indexed only once given (not
	 * a million NULLs), two indexes where there were three: a device's
	 * deliveries by (device_id, job_id), which also keeps one a job, and
	 * a job's by (job_id, state), counted per state from the index (the
	 * job view, settling a job, the timetable), and a device's deliveries
	 * deleted with it by a trigger, not a foreign key that looked the
	 * device up again for each of a job's million rows. */
	"CREATE TABLE deliveries8 ("
	" id INTEGER PRIMARY KEY,"
	" job_id INTEGER NOT NULL REFERENCES jobs(id),"
	" device_id INTEGER NOT NULL,"
	" state TEXT NOT NULL CHECK (state = 'queued' OR state = 'scheduled'"
	"  OR state = 'awaiting-consent' OR state = 'sent'"
	"  OR state = 'downloading' OR state = 'downloaded'"
	"  OR state = 'succeeded' OR state = 'failed'"
	"  OR state = 'already-current' OR state = 'incompatible'"
	"  OR state = 'canceled' OR state = 'declined'),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" ticket TEXT,"
	" bytes_sent INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" last_error TEXT NOT NULL DEFAULT '',"
	" consented INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (device_id, job_id));"
	"INSERT INTO deliveries8 SELECT id, job_id, device_id, state, attempts,"
	" ticket, bytes_sent, created_at, updated_at, last_error, consented,"
	" next_at FROM deliveries;"
	"DROP TABLE deliveries;"
	"ALTER TABLE deliveries8 RENAME TO deliveries;"
	"CREATE UNIQUE INDEX deliveries_ticket ON deliveries (ticket)"
	" WHERE ticket IS NOT NULL;"
	"CREATE INDEX deliveries_job_state ON deliveries (job_id, state);"
	"CREATE TRIGGER deliveries_device_gone AFTER DELETE ON devices BEGIN"
	" DELETE FROM deliveries WHERE device_id = OLD.id; END;"
	/* How many devices there are, kept with the highest id: the list's
	 * total without counting a million rows. */
	"ALTER TABLE device_ids ADD COLUMN n INTEGER NOT NULL DEFAULT 0;"
	"UPDATE device_ids SET n = (SELECT count(*) FROM devices);"
	"DROP TRIGGER device_ids_last;"
	"CREATE TRIGGER device_ids_last AFTER INSERT ON devices BEGIN"
	" UPDATE device_ids SET last = max(last, NEW.id), n = n + 1; END;"
	"CREATE TRIGGER device_ids_gone AFTER DELETE ON devices BEGIN"
	" UPDATE device_ids SET n = n - 1; END;"
	/* ?q= of three characters or more (text in the name or the tags,
	 * or the whole id) from a trigram index of the three, not a scan of
	 * every device; the id is indexed as "#ID#" so that a phrase finds it
	 * whole.  Contentless: it holds only the index. */
	"CREATE VIRTUAL TABLE devices_text USING fts5(name, tags, id,"
	" content='', columnsize=0, tokenize='trigram');"
	"CREATE TRIGGER devices_text_insert AFTER INSERT ON devices BEGIN"
	" INSERT INTO devices_text (rowid, name, tags, id)"
	"  VALUES (NEW.id, NEW.name, NEW.tags, '#' || NEW.id || '#'); END;"
	"CREATE TRIGGER devices_text_delete AFTER DELETE ON devices BEGIN"
	" INSERT INTO devices_text (devices_text, rowid, name, tags, id)"
	"  VALUES ('delete', OLD.id, OLD.name, OLD.tags,"
	"  '#' || OLD.id || '#'); END;"
	"CREATE TRIGGER devices_text_update AFTER UPDATE OF name, tags"
	" ON devices BEGIN"
	" INSERT INTO devices_text (devices_text, rowid, name, tags, id)"
	"  VALUES ('delete', OLD.id, OLD.name, OLD.tags,"
	"  '#' || OLD.id || '#');"
	" INSERT INTO devices_text (rowid, name, tags, id)"
	"  VALUES (NEW.id, NEW.name, NEW.tags, '#' || NEW.id || '#'); END;"
	"INSERT INTO devices_text (rowid, name, tags, id)"
	" SELECT id, name, tags, '#' || id || '#' FROM devices;",
	/* 9: the pin values a device wrote, kept while it is offline (hwd
	 * hands them over when its last connection closes and gets them
	 * back with the next login, on whichever worker that lands). */
	"CREATE TABLE device_pins ("
	" device_id INTEGER PRIMARY KEY REFERENCES devices(id)"
	" ON DELETE CASCADE,"
	" pins BLOB NOT NULL);",
	/* 10: nodes sharing one database (issue 18; PostgreSQL's are the
	 * ones used): which node holds each device, when each node was
	 * last heard, and firmware kept in the database in chunks for the
	 * nodes that have not got it on their disk. */
	STORE_CLUSTER_TABLES("BLOB"),
};

static const struct store_query q_user_version = { .slot = Q_USER_VERSION,
    .name = "schema version",
    .sql = "PRAGMA user_version",
    .sql_pg = "SELECT version FROM otad_schema" };

static int	 store_migrate_one(struct store *, int, const char *, char *,
		    size_t);

int
store_schema_version(struct store *st)
{
	int64_t	 version;

	if (store_one(st, &q_user_version, &store_id_row, &version, "") != 1)
		return -1;
	return (int)version;
}

/* Brings the database at where to the newest schema, or says why not. */
int
store_migrate(struct store *st, const char *where, char *err, size_t errlen)
{
	int	 version, v;

	if ((version = store_schema_version(st)) == -1) {
		snprintf(err, errlen, "%s: cannot read the schema version",
		    where);
		return -1;
	}
	if (version > STORE_SCHEMA_VERSIONS) {
		snprintf(err, errlen, "%s: the database has schema version "
		    "%d, newer than this otad knows (%d); run a newer otad "
		    "or restore a backup", where, version,
		    STORE_SCHEMA_VERSIONS);
		return -1;
	}
	for (v = version; v < STORE_SCHEMA_VERSIONS; v++)
		if (store_migrate_one(st, v, where, err, errlen) == -1)
			return -1;
	return 0;
}

/* Runs migration v + 1 and records it, all or nothing.  Another node may
 * have run it meanwhile (PostgreSQL's migrate_begin waits for it): then
 * there is nothing to do. */
static int
store_migrate_one(struct store *st, int v, const char *where, char *err,
    size_t errlen)
{
	const struct store_engine *e = st->engine;
	char		 sql[96], why[512] = "";
	int		 now;

	snprintf(sql, sizeof(sql), e->set_version, v + 1);
	if (e->exec(st, e->migrate_begin, why, sizeof(why)) == 0) {
		if ((now = store_schema_version(st)) > v)
			return store_commit(st) == 0 ? 0 : -1;
		if (now == v && e->exec(st, e->migrations[v], why,
		    sizeof(why)) == 0 && e->exec(st, sql, why,
		    sizeof(why)) == 0 && store_commit(st) == 0)
			return 0;
	}
	snprintf(err, errlen, "%s: schema migration to version %d failed: %s",
	    where, v + 1, why);
	store_rollback(st);
	return -1;
}
