/* SPDX-License-Identifier: MIT */
/*
 * The inside of admind's store, shared by the store's own files and by no
 * other: the engine (SQLite in store_sqlite.c, PostgreSQL in store_pg.c)
 * behind struct store_engine, the cache of prepared statements, and the
 * helpers that bind, step and read rows.  The entity files
 * (store_<entity>.c) write their SQL once, in the dialect both engines
 * read (? or ?N parameters; PostgreSQL sees $N), with a .sql_pg where
 * PostgreSQL needs other words; they name neither library.  The rest of
 * otad sees store.h alone.
 */
#ifndef OTAD_STORE_INT_H
#define OTAD_STORE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* What store_step gives besides -1 and -2. */
#define STORE_DONE	0	/* no (more) rows */
#define STORE_ROW	1	/* a row to read */

/* The columns store_job_row and store_delivery_row read, in their order. */
#define JOB_COLS	"id, firmware_id, target_kind, target, force, " \
			"max_parallel, attempt_limit, failure_threshold, " \
			"state, created_at, created_by, start_at, " \
			"\"window\", confirm"
#define DELIVERY_COLS	"d.id, d.job_id, d.device_id, d.state, " \
			"d.attempts, d.ticket, d.bytes_sent, d.created_at, " \
			"d.updated_at, d.last_error, d.consented, d.next_at"
#define DELIVERY_NCOLS	12	/* a query's own columns follow */
/* A delivery not ended.  Comparisons, not IN (...): an IN list costs a
 * temporary table per run. */
#define UNFINISHED(c)	"(" c " = 'queued' OR " c " = 'sent' OR " \
			c " = 'downloading' OR " c " = 'downloaded' OR " \
			c " = 'scheduled' OR " c " = 'awaiting-consent')"
/* The columns store_firmware_cols reads, in its order (firmware as f). */
#define FIRMWARE_COLS	"f.id, f.sha256, f.sha256_b64, f.md5, f.size, " \
			"f.filename, f.uploaded_at, f.uploaded_by, f.format, " \
			"f.chip, f.version, f.build, f.fw_type, f.board, " \
			"f.project"

/*
 * Every statement's place in the per-store cache, grouped by the file that
 * holds its SQL.  A new query is one entry here and one struct store_query
 * in its entity's file.
 */
enum store_q {
	/* store.c */
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SYNC_NORMAL, Q_SYNC_FULL,
	/* store_schema.c */
	Q_USER_VERSION,
	/* store_devices.c */
	Q_DEVICE_CREATE, Q_DEVICE_GET, Q_DEVICE_BY_TOKEN, Q_DEVICE_LIST,
	Q_DEVICE_COUNT, Q_DEVICE_SEEN, Q_DEVICE_LOGIN, Q_DEVICE_PINS_SET,
	Q_DEVICE_SET_INFO,
	Q_DEVICE_SET_LINK, Q_DEVICE_SEARCH, Q_DEVICE_SEARCH_COUNT,
	Q_DEVICE_UPDATE, Q_DEVICE_SET_TOKEN, Q_DEVICE_DELETE,
	Q_DEVICE_HISTORY, Q_DEVICE_SEARCH_TAG, Q_DEVICE_SEARCH_TAG_COUNT,
	Q_DEVICE_COUNT_TAG, Q_DEVICE_SEARCH_TEXT, Q_DEVICE_SEARCH_TEXT_COUNT,
	Q_DEVICE_COUNT_TEXT, Q_DELIVERIES_PENDING,
	/* store_firmware.c */
	Q_FIRMWARE_ADD, Q_FIRMWARE_BY_SHA, Q_FIRMWARE_GET, Q_FIRMWARE_LIST,
	Q_FIRMWARE_COUNT, Q_FIRMWARE_JOBS, Q_FIRMWARE_IN_USE,
	Q_FIRMWARE_REFS, Q_FIRMWARE_DELETE, Q_FIRMWARE_SET_DELETED,
	Q_FIRMWARE_DELETED_AT, Q_FIRMWARE_DATA_PUT, Q_FIRMWARE_DATA_GET,
	Q_FIRMWARE_DATA_DELETE,
	/* store_jobs.c */
	Q_JOB_CREATE, Q_JOB_GET, Q_JOBS_ACTIVE, Q_JOB_SET_STATE, Q_JOB_CANCEL,
	Q_JOBS_SHARING, Q_JOBS_SHARING_DEVICE, Q_JOB_CANCEL_OLDER,
	Q_JOB_DELIVERIES, Q_JOB_COUNTS, Q_JOB_COUNT_STATE, Q_JOB_LOCK,
	Q_JOB_LIST, Q_JOB_LIST_COUNT,
	Q_JOB_QUEUED, Q_JOB_UNFINISHED, Q_JOB_STATES, Q_JOB_ADD_ALL,
	Q_JOB_ADD_TAG,
	Q_DELIVERY_CREATE, Q_DELIVERY_GET, Q_DELIVERY_BY_TICKET,
	Q_DELIVERY_PENDING, Q_DELIVERY_UPDATE, Q_DELIVERY_PROGRESS,
	Q_DELIVERIES_STALE, Q_DELIVERY_STATES, Q_DELIVERY_CONSENT,
	Q_DELIVERY_OF, Q_DELIVERIES_DUE, Q_DELIVERIES_NEXT, Q_JOB_MOVE,
	/* store_tokens.c */
	Q_TOKEN_CREATE, Q_TOKEN_LIST, Q_TOKEN_GET, Q_TOKEN_BY_HASH,
	Q_TOKEN_DELETE, Q_TOKEN_USED,
	/* store_events.c */
	Q_EVENT, Q_EVENTS_PRUNE_AGE, Q_EVENTS_PRUNE_ROWS, Q_EVENTS_LIST,
	Q_EVENTS_COUNT, Q_EVENTS_OF_JOB, Q_DEVICE_VERSIONS,
	/* store_webhooks.c */
	Q_WEBHOOK_ADD, Q_WEBHOOK_HEAD, Q_WEBHOOK_DELETE, Q_WEBHOOK_FAILED,
	Q_WEBHOOK_DROP, Q_WEBHOOK_COUNTS, Q_WEBHOOK_FORGET,
	/* store_cluster.c */
	Q_SESSION_ADD, Q_SESSION_REMOVE, Q_SESSIONS_CLEAR, Q_SESSION_NODES,
	Q_NOTIFY,
	Q_MAX
};

struct store_query {
	enum store_q	 slot;		/* its statement in st->stmt */
	const char	*name;		/* for log lines */
	const char	*sql;
	const char	*sql_pg;	/* PostgreSQL's words, when not sql's */
	int		 unique_ok;	/* UNIQUE violation: -2, not logged */
	int		 light;		/* a write that may join a batch */
	int		 answerless;	/* a shared store sends it without
					 * waiting for its answer: a failure
					 * is logged (inside a transaction,
					 * it fails the commit) */
};

/* A running statement's current row, as the entity files read it. */
struct store_cur {
	const struct store_engine *engine;
	void		*h;		/* the engine's statement */
};

/* A question's answer (store_ask): 1 and its first row, 0 none, -1. */
typedef void	 store_answer_fn(void *arg, int rc, const struct store_cur *);

/*
 * What an engine does.  Every function that fails logs once, naming the
 * query, and sets st->full when the disk is full.
 */
struct store_engine {
	const char	*name;
	int		 shared;	/* other nodes may use the database */
	/* The statement for q, prepared (q's .sql_pg or .sql as it needs). */
	int	 (*prepare)(struct store *, const struct store_query *,
		    void **);
	void	 (*finalize)(struct store *, void *);
	/* Binds fmt's values (store.c's store_bind says which). */
	int	 (*bind)(struct store *, void *, const struct store_query *,
		    const char *, va_list);
	/* STORE_ROW, STORE_DONE, -2 (an expected UNIQUE violation) or -1. */
	int	 (*step)(struct store *, void *, const struct store_query *);
	/* Sends the bound statement without waiting: done hears it from a
	 * later store_poll; -1 not sent (NULL: store_ask steps at once). */
	int	 (*ask)(struct store *, void *, const struct store_query *,
		    store_answer_fn *done, void *arg);
	/* Ready to bind and run again; the row's values are gone. */
	void	 (*reset)(struct store *, void *);
	/* Before q runs: 0 go on, -1 fail it (the engine logged why);
	 * NULL: always go on. */
	int	 (*check)(struct store *, const struct store_query *);
	/* Between the loop's turns, never waiting: reads the answers that
	 * came, moves a connection attempt on (NULL: nothing to do). */
	void	 (*poll)(struct store *);
	/* The socket answers come on (-1 none; NULL: no socket), and the
	 * connection's serial. */
	int	 (*socket)(struct store *, unsigned *);
	/* The database cannot be reached now (NULL: never). */
	int	 (*unreachable)(struct store *);
	/* Inside a transaction (the caller's or a batch)? */
	int	 (*in_tx)(struct store *);
	/* Rows the last finished statement wrote. */
	int64_t	 (*changes)(struct store *);
	void	 (*close)(struct store *);
	/* Runs a script of statements, no parameters, no rows: 0 or -1 with
	 * the database's words in err. */
	int	 (*exec)(struct store *, const char *, char *, size_t);
	/* The schema: migration N is migrations[N - 1]; a migration runs
	 * after migrate_begin, and set_version (a printf format taking N)
	 * records it in the same transaction. */
	const char *const *migrations;
	const char	*migrate_begin;
	const char	*set_version;
	/* The current row's column i: an integer (0 for NULL), text (NULL
	 * for NULL; valid until the next step), bytes. */
	int64_t	 (*col_int64)(void *, int);
	const char *(*col_str)(void *, int);
	const void *(*col_blob)(void *, int, size_t *);
};

struct store {
	const struct store_engine *engine;
	void			*db;	/* the engine's connection */
	struct store_cur	 cur[Q_MAX];
	const struct store_query *query[Q_MAX];	/* whose cur[] it is */
	int			 batch;	/* store_light's transaction is open */
	int			 full;	/* a write found the disk full */
};

/* How to read one result row into a struct, and free it again. */
struct store_row {
	size_t	 size;
	int	(*read)(const struct store_cur *, void *);
	void	(*free)(void *);
};

/* The engines' openers, for store.c's store_open. */
struct store	*store_sqlite_open(const char *, char *, size_t);
/* Runs q and tells done(arg, rc, first row) exactly once: at once on
 * SQLite or inside a transaction, else (a shared store) from a later
 * store_poll, so that many questions are on their way together. */
void	 store_ask(struct store *, const struct store_query *,
	    store_answer_fn *done, void *arg, const char *fmt, ...);
struct store	*store_pg_open(const char *, char *, size_t);
/* A new store of engine e on connection db (NULL: out of memory). */
struct store	*store_new(const struct store_engine *, void *);
/* Forgets every prepared statement (a new connection has none). */
void		 store_forget(struct store *);
/* store_schema.c: the numbered migrations, the same count for both
 * engines; store_migrate runs those the database has not had. */
#define STORE_SCHEMA_VERSIONS	10
/* Migration 10's tables, the same in both engines but for the bytes'
 * type.  sessions: a device's connections on a node (since: the first);
 * nodes: each node's last heartbeat; firmware_data: an image's bytes in
 * chunks of seq order. */
#define STORE_CLUSTER_TABLES(bytes) \
	"CREATE TABLE sessions (" \
	" device_id bigint NOT NULL," \
	" node text NOT NULL," \
	" since bigint NOT NULL," \
	" PRIMARY KEY (device_id, node));" \
	"CREATE INDEX sessions_node ON sessions (node);" \
	"CREATE TABLE nodes (" \
	" name text PRIMARY KEY," \
	" seen_at bigint NOT NULL," \
	" started_at bigint NOT NULL);" \
	"CREATE TABLE firmware_data (" \
	" sha256 text NOT NULL," \
	" seq integer NOT NULL," \
	" data " bytes " NOT NULL," \
	" PRIMARY KEY (sha256, seq));"
extern const char *const store_sqlite_migrations[STORE_SCHEMA_VERSIONS];
extern const char *const store_pg_migrations[STORE_SCHEMA_VERSIONS];
int		 store_migrate(struct store *, const char *, char *, size_t);

/* store.c: statements (see store_bind for fmt), transactions, columns. */
const struct store_cur *store_start(struct store *, const struct store_query *,
		    const char *, ...) STORE_WUR;
int		 store_step(struct store *, const struct store_query *)
		    STORE_WUR;
void		 store_done(struct store *, const struct store_query *);
int		 store_run(struct store *, const struct store_query *,
		    const char *, ...) STORE_WUR;
int		 store_one(struct store *, const struct store_query *,
		    const struct store_row *, void *, const char *, ...)
		    STORE_WUR;
int		 store_list(struct store *, const struct store_query *,
		    const struct store_row *, void *, size_t *,
		    const char *, ...) STORE_WUR;
int		 store_tx_open(struct store *, int *) STORE_WUR;
int		 store_tx_close(struct store *, int, int) STORE_WUR;
int64_t		 store_changes(struct store *);
int		 store_nomem(void);
int64_t		 store_now(void);
int64_t		 store_col_int64(const struct store_cur *, int);
int		 store_col_int(const struct store_cur *, int);
int		 store_col_null(const struct store_cur *, int);
const char	*store_col_str(const struct store_cur *, int);
const void	*store_col_blob(const struct store_cur *, int, size_t *);
char		*store_col_text(const struct store_cur *, int, int *);
void		 store_col_copy(const struct store_cur *, int, char *, size_t);
extern const struct store_row store_id_row;

/* store_firmware.c: a firmware row from column first on; -1 out of memory
 * (nothing left to free). */
int		 store_firmware_cols(const struct store_cur *, int first,
		    struct firmware *);

/* store_jobs.c */
extern const struct store_row store_job_row;
extern const struct store_row store_delivery_row;

#endif
