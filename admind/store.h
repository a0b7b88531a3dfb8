/* SPDX-License-Identifier: MIT */
/*
 * admind's store (DESIGN.md section 3): devices, firmware, OTA jobs and
 * their deliveries, API tokens and the audit log, behind functions that
 * name no database engine.  SQLite implements them, one file per heading
 * below (store_int.h is those files' private header); a second engine
 * would implement exactly these functions.  Only admind (and `otad init`)
 * open a store; one loop uses it, from one thread.
 *
 * The contract, for every function unless its comment says otherwise:
 * - Results.  0 done.  -1 the database failed: the store has logged it
 *   once, naming the query; the caller fails its request (503 or 500 in
 *   the API) and may log its own context.  Where noted: 1 found, moved,
 *   changed or deleted, and 0 not found or nothing to change (nothing
 *   written); -2 a conflict: a unique value (a token's hash) is taken
 *   already, not logged.  Every fallible function is STORE_WUR.
 * - Transactions.  A write is durable (fsync'd) when it returns, in a
 *   transaction of its own, unless the caller holds one (store_begin ...
 *   store_commit or store_rollback): then it is part of the caller's and
 *   lasts only if that commits.  Reads see the caller's transaction.
 * - Light writes (marked "Light"): facts that are no state transition.
 *   After store_light() they join one batch without an fsync, which
 *   store_flush() commits once per loop turn and any other write commits
 *   first; a daemon's crash loses none of it, a power loss may lose the
 *   last batch.  Without store_light() they are ordinary writes.
 * - Records.  A found record's strings are malloc'd, never NULL ("" when
 *   empty), freed with its *_free; lists are malloc'd arrays of *n records
 *   (NULL and 0 when empty or on error) freed with the matching
 *   *_list_free or free(3) for ids.  limit < 0 means all; *total, when not
 *   NULL, counts every match before limit and offset.  Strings passed in
 *   are only read during the call.
 * - Values.  Times are Unix seconds (UTC), 0 for never; ids are > 0 and a
 *   device's or an API token's is never given again.  States are the
 *   enums of lifecycle.h, or their names as job_state_name() and
 *   delivery_state_name() give them where a function passes text.
 * - Callbacks run during the call and must not call the store.
 */
#ifndef OTAD_STORE_H
#define OTAD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"

struct buf;

#define STORE_WUR	__attribute__((warn_unused_result))

struct store;

/* The records the store reads and writes. */
struct device {
	int64_t	 id;
	char	*name;
	char	*tags;		/* comma-separated, "" when none */
	int64_t	 created_at;
	int64_t	 last_seen;	/* 0: never */
	char	*last_addr;	/* "" when never */
	char	*fw_version;	/* hardware info last reported; "" unknown */
	char	*build;
	char	*fw_type;
	char	*board;
	char	*lib_version;
	int	 buff_in;	/* largest frame body it accepts; 0 unknown */
	int	 h_beat;	/* heartbeat seconds; 0 unknown */
};

struct firmware {
	int64_t	 id;
	char	 sha256[65];	/* hex, the file name in firmware/ */
	char	 sha256_b64[45];
	char	 md5[33];
	uint64_t size;
	char	*filename;	/* as uploaded */
	int64_t	 uploaded_at;
	char	*uploaded_by;
	char	*format;	/* esp8266, esp8266-gzip, esp32, unknown */
	char	*chip;		/* esp32 family or "" */
	char	*version;	/* "" when the image has none */
	char	*build;
	char	*fw_type;
	char	*board;
	char	*project;
};

enum job_target { JOB_TARGET_DEVICES, JOB_TARGET_TAG, JOB_TARGET_ALL };

struct job {
	int64_t		 id;
	int64_t		 firmware_id;
	enum job_target	 target_kind;
	char		*target;	/* device ids "1,2,3", a tag, or "" */
	int		 force;
	int		 max_parallel;
	int		 attempt_limit;
	int		 failure_threshold;	/* percent, 0: none */
	enum job_state	 state;
	int64_t		 created_at;
	char		*created_by;
	int64_t		 start_at;	/* nothing sent before; 0: none */
	char		*window;	/* canonical JSON (window.c); "": none */
	enum job_confirm confirm;
};

struct delivery {
	int64_t	 id;
	int64_t	 job_id;
	int64_t	 device_id;
	enum delivery_state state;
	int	 attempts;
	char	 ticket[33];	/* "" when none */
	uint64_t bytes_sent;
	int64_t	 created_at;
	int64_t	 updated_at;
	char	*last_error;	/* "" when none */
	int	 consented;	/* the job's confirm was given */
	int64_t	 next_at;	/* scheduled: the next opening; awaiting-consent:
				 * when to ask again; 0: none */
};

/* A device's pending delivery with the device's row (the scheduler's
 * reads for a batch of devices, store_deliveries_pending). */
struct pending_delivery {
	struct delivery	 d;
	struct device	 dev;
};

/* API tokens for scripts (Authorization: Bearer), stored as SHA-256. */
struct api_token {
	int64_t	 id;
	char	*name;
	int64_t	 created_at;
	char	*created_by;
	int64_t	 last_used_at;	/* 0: never; updated at most each minute */
};

/* An event waiting for one webhook receiver (store_webhooks.c). */
struct webhook_event {
	int64_t	 id;		/* the "id" its receiver sees */
	char	*kind;		/* the event stream's kind */
	char	*body;		/* the stored JSON object, without "id" */
	int	 attempts;	/* failed so far */
	int64_t	 created_at;
};

/* store.c */
/* Commits a light batch, then closes; NULL is ignored. */
void	 store_close(struct store *);
/* The caller's transaction: what is written until store_commit lasts
 * together or not at all. */
int	 store_begin(struct store *) STORE_WUR;
int	 store_commit(struct store *) STORE_WUR;
/* Ends the caller's transaction, dropping its writes; nothing to do when
 * it has ended already (a failed statement may have rolled it back).  A
 * failure is logged: the writes are not kept either way. */
void	 store_rollback(struct store *);
/* Opens a light batch (see above) unless one or the caller's transaction
 * is open: then the light writes join that. */
int	 store_light(struct store *) STORE_WUR;
/* Commits the light batch if one is open; a failure is logged and loses
 * the batch's facts, as a power loss could. */
void	 store_flush(struct store *);
/* Between the loop's turns, never inside another store call: reads the
 * answers that came, tells the questions answered (store_device_login),
 * moves a connection attempt on; never waits. */
void	 store_poll(struct store *);
/* The socket whose answers store_poll reads (-1: none now; SQLite has
 * none); serial changes with each new connection. */
int	 store_socket(struct store *, unsigned *serial);
/* 1 when a write failed on a full disk since the last call (then 0);
 * cannot fail, so a call only to clear the flag may drop the result. */
int	 store_disk_full(struct store *);

/* store_schema.c */
/* Opens (creating) the database and brings its schema up to date.  NULL
 * with a sentence naming the file in err. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* The schema version of the open database (>= 1), or -1. */
int	 store_schema_version(struct store *) STORE_WUR;

/* store_devices.c */
/* -2 when the token hash belongs to another device. */
int	 store_device_create(struct store *, const char *name,
	    const char *token_sha256, const char *tags, int64_t *id)
	    STORE_WUR;
/* "device 42 \"kitchen\"" (or "device 42" when it cannot be read): how
 * a log line names a device in its text, beside its DEVICE_ID field. */
#define STORE_DEVICE_LABEL	160
void	 store_device_label(struct store *, int64_t id, char *out,
	    size_t len);
int	 store_device_get(struct store *, int64_t id, struct device *)
	    STORE_WUR;							/* 1 */
int	 store_device_by_token(struct store *, const char *token_sha256,
	    struct device *) STORE_WUR;					/* 1 */
/* All devices ordered by id. */
int	 store_device_list(struct store *, int64_t limit, int64_t offset,
	    struct device **out, size_t *n, int64_t *total) STORE_WUR;
/* Light: when the device was last seen and from where. */
int	 store_device_seen(struct store *, int64_t id, const char *addr,
	    int64_t when) STORE_WUR;
/* Light: the hardware info the device reported. */
int	 store_device_set_info(struct store *, int64_t id,
	    const char *fw_version, const char *build, const char *fw_type,
	    const char *board, const char *lib_version) STORE_WUR;
/* Light: the device's buff-in and h-beat, from its hardware info. */
/* A login: the device with that token, and the pin values hwd handed
 * over when it last went offline (none: NULL), in one read, told to
 * fn(arg, found: 1, 0 no such device, -1) exactly once: at once on
 * SQLite; on a shared store from a later store_poll, so that the logins
 * of a fleet reconnecting wait on the database together, not in turn. */
typedef void	 store_login_fn(void *arg, int found, const struct device *,
		    const void *pins, size_t npins);
void	 store_device_login(struct store *, const char *token_sha256,
	    store_login_fn *fn, void *arg);
/* Keeps them (a light write; a deleted device keeps none). */
int	 store_device_pins_set(struct store *, int64_t id, const void *pins,
	    size_t len) STORE_WUR;
int	 store_device_set_link(struct store *, int64_t id, int buff_in,
	    int h_beat) STORE_WUR;
struct device_filter {
	const char	*tag;		/* "" matches all */
	const char	*fw_version;
	const char	*board;
	const char	*text;		/* in the name or tags, or the id */
};
/* A page of a list: up to limit (-1: all) devices with an id above after
 * (0: from the first), offset of them skipped. */
struct device_page {
	int64_t		 limit, offset, after;
};
/* Devices matching f ordered by id, a page of them; *total (when not
 * NULL) gets how many match in all. */
int	 store_device_search(struct store *, const struct device_filter *f,
	    const struct device_page *, struct device **out, size_t *n,
	    int64_t *total) STORE_WUR;
int	 store_device_count(struct store *, int64_t *count) STORE_WUR;
/* The devices counted by their tags and firmware version: cb(arg, tags,
 * fw_version, count) for each pair that has any. */
int	 store_device_versions(struct store *,
	    void (*cb)(void *, const char *tags, const char *fw_version,
	    int64_t count), void *arg) STORE_WUR;
/* name or tags NULL: unchanged.  1 updated, 0 no such device. */
int	 store_device_update(struct store *, int64_t id, const char *name,
	    const char *tags) STORE_WUR;
/* 1 set, 0 no such device, -2 another device has this token. */
int	 store_device_set_token(struct store *, int64_t id,
	    const char *token_sha256) STORE_WUR;
/* 1 deleted with its deliveries, 0 no such device. */
int	 store_device_delete(struct store *, int64_t id) STORE_WUR;
/* How many devices have the tag. */
int	 store_device_count_tag(struct store *, const char *tag,
	    int64_t *count) STORE_WUR;
/* A device's deliveries newest first, with the firmware of their job. */
struct device_delivery {
	struct delivery	 delivery;
	int64_t		 firmware_id;
	char		*fw_version;
	char		*fw_filename;
};
int	 store_device_history(struct store *, int64_t device_id,
	    int64_t limit, struct device_delivery **out, size_t *n) STORE_WUR;
void	 device_free(struct device *);
void	 device_list_free(struct device *, size_t);
void	 device_history_free(struct device_delivery *, size_t);

/* store_firmware.c */
/* Identical images (same sha256) share one row: *id is the existing
 * row's and *created 0 (see store_firmware_restore). */
int	 store_firmware_add(struct store *, const struct firmware *,
	    int64_t *id, int *created) STORE_WUR;
/* Finds deleted rows too (see store_firmware_deleted_at). */
int	 store_firmware_get(struct store *, int64_t id, struct firmware *)
	    STORE_WUR;							/* 1 */
/* Live (not deleted) firmware newest first; format, board "" for all. */
int	 store_firmware_list(struct store *, const char *format,
	    const char *board, int64_t limit, int64_t offset,
	    struct firmware **out, size_t *n, int64_t *total) STORE_WUR;
/* How many live firmware rows. */
int	 store_firmware_count(struct store *, int64_t *count) STORE_WUR;
/* The jobs that use the firmware, newest first. */
int	 store_firmware_jobs(struct store *, int64_t firmware_id,
	    struct job **out, size_t *n) STORE_WUR;
/* Ids of the active or paused jobs using the firmware. */
int	 store_firmware_in_use(struct store *, int64_t firmware_id,
	    int64_t **ids, size_t *n) STORE_WUR;
/* Deleted firmware keeps its row while jobs name it: 1 found with *when
 * its deletion time (0 while live), 0 no such row.  Check it before
 * starting a job on a firmware id. */
int	 store_firmware_deleted_at(struct store *, int64_t id, int64_t *when)
	    STORE_WUR;
/* Deletes the row, or marks it deleted while jobs name it, and the
 * image's bytes in the database, in one transaction (its own unless the
 * caller holds one).  The caller removes the file. */
int	 store_firmware_delete(struct store *, int64_t id) STORE_WUR;
/* Makes a deleted row live again (an identical image uploaded again). */
int	 store_firmware_restore(struct store *, int64_t id) STORE_WUR;
/* An image's bytes in the database, chunk seq (0, 1, ...) of them: put
 * writes it (a chunk that is there with other bytes is replaced, one with
 * the same bytes left alone); get calls chunk() with its bytes, valid for
 * the call only: 1 found (and chunk() gave 0), 0 no such chunk, -1 (the
 * store failed, or chunk() did).  store_firmware_delete deletes them. */
int	 store_firmware_data_put(struct store *, const char *sha256, int seq,
	    const void *data, size_t len) STORE_WUR;
int	 store_firmware_data_get(struct store *, const char *sha256, int seq,
	    int (*chunk)(void *, const void *, size_t), void *arg) STORE_WUR;
void	 firmware_free(struct firmware *);
void	 firmware_list_free(struct firmware *, size_t);

/* store_jobs.c: jobs, then their deliveries.  Unfinished deliveries are
 * those queued, scheduled, awaiting-consent, sent, downloading or
 * downloaded. */
int	 store_job_create(struct store *, const struct job *, int64_t *id)
	    STORE_WUR;
int	 store_job_get(struct store *, int64_t id, struct job *)
	    STORE_WUR;							/* 1 */
/* Ids of jobs in state active, ascending. */
int	 store_jobs_active(struct store *, int64_t **ids, size_t *n)
	    STORE_WUR;
/* Moves the job from one state to another: 1 moved, 0 it was not in
 * from (nothing written).  Only jobs.c calls it. */
int	 store_job_set_state(struct store *, int64_t id, enum job_state from,
	    enum job_state to) STORE_WUR;
/* Cancels the job's unfinished deliveries with why as their last error
 * (keeping their tickets, which fwstore then answers 403).  *canceled gets
 * how many.  Only delivery.c calls it. */
int	 store_job_cancel(struct store *, int64_t id, const char *why,
	    int *canceled) STORE_WUR;
/* Moves every delivery of the job in state from to state to with next_at
 * (0: none); *moved gets how many.  Only delivery.c calls it (it checks
 * the move against the table). */
int	 store_job_move(struct store *, int64_t id, enum delivery_state from,
	    enum delivery_state to, int64_t next_at, int *moved) STORE_WUR;
/* Ids of the jobs other than job_id with an unfinished delivery for one
 * of job_id's devices (device_id 0), or for device_id. */
int	 store_jobs_sharing(struct store *, int64_t job_id, int64_t device_id,
	    int64_t **ids, size_t *n) STORE_WUR;
/* Cancels the unfinished deliveries of other jobs for the job's devices
 * (a newer job supersedes them), with why as their last error.  Only
 * delivery.c calls it. */
int	 store_job_cancel_older(struct store *, int64_t job_id,
	    const char *why) STORE_WUR;
/* Deliveries of a job, ascending id. */
int	 store_job_deliveries(struct store *, int64_t job_id,
	    struct delivery **out, size_t *n) STORE_WUR;
/* The job's row is this transaction's until it ends (other nodes sharing
 * PostgreSQL wait for it): its slots are counted by one node at a time. */
int	 store_job_lock(struct store *, int64_t job_id) STORE_WUR;
/* How many of the job's deliveries are in that state. */
int	 store_job_count_state(struct store *, int64_t job_id,
	    enum delivery_state, int64_t *n) STORE_WUR;
/* The job's deliveries counted per state: calls cb for each state that
 * has any, with the state's name, in the order of the names. */
int	 store_job_counts(struct store *, int64_t job_id,
	    void (*cb)(void *, const char *state, int64_t count), void *arg)
	    STORE_WUR;
/* Jobs newest first; state NULL or "" for all, else a job state's name
 * (the caller has checked it with job_state_parse). */
int	 store_job_list(struct store *, const char *state, int64_t limit,
	    int64_t offset, struct job **out, size_t *n, int64_t *total)
	    STORE_WUR;
/* Up to max queued deliveries of the job with an id above after,
 * ascending: a scheduler pages through them. */
int	 store_job_queued(struct store *, int64_t job_id, int64_t after,
	    int64_t max, struct delivery **out, size_t *n) STORE_WUR;
/* How many of the job's deliveries are unfinished. */
int	 store_job_unfinished(struct store *, int64_t job_id, int64_t *count)
	    STORE_WUR;
/* All jobs counted per state: calls cb for each state that has any. */
int	 store_job_states(struct store *,
	    void (*cb)(void *, const char *state, int64_t count), void *arg)
	    STORE_WUR;
void	 job_free(struct job *);
void	 job_list_free(struct job *, size_t);

/* A queued delivery of the job for every device (tag NULL) or for those
 * with the tag, in one statement; *added gets how many. */
int	 store_job_add_devices(struct store *, int64_t job_id, const char *tag,
	    int64_t *added) STORE_WUR;
/* A new delivery, queued.  -1 also when the job has one for the device. */
int	 store_delivery_create(struct store *, int64_t job_id,
	    int64_t device_id, int64_t *id) STORE_WUR;
int	 store_delivery_get(struct store *, int64_t id, struct delivery *)
	    STORE_WUR;							/* 1 */
/* 0 for a NULL or "" ticket.  fw (unless NULL): the firmware the
 * delivery's job names, id 0 when the job or the firmware is gone. */
int	 store_delivery_by_ticket(struct store *, const char *ticket,
	    struct delivery *, struct firmware *fw) STORE_WUR;		/* 1 */
/* The newest unfinished delivery of an active job for the device. */
int	 store_delivery_pending(struct store *, int64_t device_id,
	    struct delivery *) STORE_WUR;				/* 1 */
/* The same for n devices at once (at most STORE_PENDING_MAX), with their
 * rows, in device order; a device without one is not in *out. */
#define STORE_PENDING_MAX	256
int	 store_deliveries_pending(struct store *, const int64_t *device_ids,
	    size_t n, struct pending_delivery **out, size_t *nout) STORE_WUR;
void	 pending_list_free(struct pending_delivery *, size_t);
/* From state from to state to, with last_error (NULL keeps it) and ticket
 * (NULL keeps it, "" clears it); updated_at = now; attempts +=
 * attempt_inc; next_at = next_at (0: none).  1 moved, 0 the row was not
 * in from (nothing written).  Only delivery.c calls it. */
int	 store_delivery_update(struct store *, int64_t id,
	    enum delivery_state from, enum delivery_state to,
	    const char *ticket, const char *last_error, int attempt_inc,
	    int64_t next_at) STORE_WUR;
/* The delivery's consent was given (consented = 1): 1, 0 no such
 * delivery.  Only delivery.c calls it. */
int	 store_delivery_consent(struct store *, int64_t id) STORE_WUR;
/* The job's delivery for the device. */
int	 store_delivery_of(struct store *, int64_t job_id, int64_t device_id,
	    struct delivery *) STORE_WUR;				/* 1 */
/* Deliveries of active jobs in state with after < next_at <= before,
 * by next_at. */
int	 store_deliveries_due(struct store *, enum delivery_state,
	    int64_t after, int64_t before, struct delivery **out, size_t *n)
	    STORE_WUR;
/* The smallest next_at above after among deliveries of active jobs in
 * state, 0 when there is none. */
int	 store_deliveries_next(struct store *, enum delivery_state,
	    int64_t after, int64_t *next_at) STORE_WUR;
/* Light: the bytes fwstore has sent of the delivery's image. */
int	 store_delivery_progress(struct store *, int64_t id, uint64_t bytes)
	    STORE_WUR;
/* Deliveries of active jobs in state whose updated_at is before,
 * ascending id. */
int	 store_deliveries_stale(struct store *, enum delivery_state,
	    int64_t before, struct delivery **out, size_t *n) STORE_WUR;
/* All deliveries counted per state: calls cb for each state that has
 * any. */
int	 store_delivery_states(struct store *,
	    void (*cb)(void *, const char *state, int64_t count), void *arg)
	    STORE_WUR;
void	 delivery_free(struct delivery *);
void	 delivery_list_free(struct delivery *, size_t);

/* store_tokens.c */
/* -2 when the hash exists already. */
int	 store_api_token_create(struct store *, const char *name,
	    const char *token_sha256, const char *created_by, int64_t *id)
	    STORE_WUR;
/* All tokens, ascending id. */
int	 store_api_token_list(struct store *, struct api_token **, size_t *)
	    STORE_WUR;
int	 store_api_token_get(struct store *, int64_t id, struct api_token *)
	    STORE_WUR;							/* 1 */
int	 store_api_token_by_hash(struct store *, const char *token_sha256,
	    struct api_token *) STORE_WUR;				/* 1 */
/* 1 deleted, 0 no such token. */
int	 store_api_token_delete(struct store *, int64_t id) STORE_WUR;
/* Records a use now; written at most once a minute per token. */
int	 store_api_token_used(struct store *, int64_t id) STORE_WUR;
void	 api_token_free(struct api_token *);
void	 api_token_list_free(struct api_token *, size_t);

/* store_events.c */
/* Audit log: an admin action or a delivery transition; device_id and
 * job_id 0 when none. */
int	 store_event(struct store *, const char *kind, const char *actor,
	    const char *remote, int64_t device_id, int64_t job_id,
	    const char *text) STORE_WUR;
/* Retention: deletes events older than before (Unix s; 0: none by age),
 * then the oldest beyond the newest keep (0: none by count), at most max
 * rows in all, looking at no more than max rows: how many went, or -1. */
int	 store_events_prune(struct store *, int64_t before, int64_t keep,
	    int64_t max) STORE_WUR;
/* One row of the audit log. */
struct audit_event {
	int64_t	 id;
	int64_t	 at;
	char	*kind;
	char	*actor;
	char	*remote;
	int64_t	 device_id;	/* 0: none */
	int64_t	 job_id;
	char	*text;
};
struct audit_filter {
	const char	*actor;		/* "" matches all */
	const char	*kind;		/* a kind, or its prefix ending in "." */
	int64_t		 since, until;	/* Unix s, inclusive; 0: open */
	int64_t		 device_id;	/* 0: all */
};
/* Audit rows matching f, newest first. */
int	 store_events_list(struct store *, const struct audit_filter *f,
	    int64_t limit, int64_t offset, struct audit_event **out,
	    size_t *n, int64_t *total) STORE_WUR;
/* The job's delivery rows of the audit log, oldest first: cb(arg, at,
 * kind, text) for each. */
int	 store_events_of_job(struct store *, int64_t job_id,
	    void (*cb)(void *, int64_t at, const char *kind, const char *text),
	    void *arg) STORE_WUR;
void	 audit_event_list_free(struct audit_event *, size_t);

/* store_webhooks.c: the webhook queue; every write is Light. */
int	 store_webhook_add(struct store *, const char *url, const char *kind,
	    const char *body) STORE_WUR;
/* The oldest event waiting for url: 1 found, 0 none. */
int	 store_webhook_head(struct store *, const char *url,
	    struct webhook_event *) STORE_WUR;
/* 1 deleted, 0 no such row. */
int	 store_webhook_delete(struct store *, int64_t id) STORE_WUR;
/* One more failed attempt; the next is due at next_at. */
int	 store_webhook_failed(struct store *, int64_t id, int64_t next_at)
	    STORE_WUR;
/* Deletes the oldest event waiting for url: 1 deleted, 0 none. */
int	 store_webhook_drop_oldest(struct store *, const char *url) STORE_WUR;
/* cb(arg, url, count) for each URL with events waiting. */
int	 store_webhook_counts(struct store *,
	    void (*cb)(void *, const char *, int64_t), void *arg) STORE_WUR;
/* Deletes every event waiting for url; *n says how many. */
int	 store_webhook_forget(struct store *, const char *url, int64_t *n)
	    STORE_WUR;
void	 webhook_event_free(struct webhook_event *);

/* 1 when the database cannot be reached now (a PostgreSQL server down or
 * cut off; the store tries again at its next statement). */
int	 store_unreachable(struct store *);

/* store_cluster.c: nodes sharing the database (only when it is shared). */
/* 1 when several nodes may share the database (PostgreSQL): an image's
 * bytes are kept in it too (store_firmware_data_*), for every node's
 * disk cache (fwcache.c).  0 for SQLite: its firmware files are the only
 * copy. */
int	 store_shared(const struct store *);
/* The device holds connections on node since then (Light). */
int	 store_session_add(struct store *, int64_t, const char *, int64_t)
	    STORE_WUR;
/* It holds none there any more (Light). */
int	 store_session_remove(struct store *, int64_t, const char *)
	    STORE_WUR;
/* Every session of node: at its start, and for a node gone silent. */
int	 store_sessions_clear(struct store *, const char *) STORE_WUR;
/* The node holding the device (the oldest, when several), into a buffer
 * of len bytes: 1, 0 when none. */
int	 store_session_node(struct store *, int64_t, char *, size_t)
	    STORE_WUR;
/* payload to every node listening on channel, when the caller's
 * transaction (or this call) commits. */
int	 store_notify(struct store *, const char *, const char *) STORE_WUR;

/* store_backup.c: for `otad backup`, not admind. */
/* A consistent copy of the database at src into the new file dst while
 * admind uses src (one snapshot, read in steps); 0, or -1 with a sentence
 * in err. */
int	 store_backup(const char *src, const char *dst, char *err,
	    size_t errlen) STORE_WUR;
/* Checks the copy at path (quick_check), gives its schema version and
 * calls firmware() for each live image it names (-1 there stops: -1). */
int	 store_backup_check(const char *path, int *schema_version,
	    int (*firmware)(void *, const char *sha256, uint64_t size),
	    void *arg, char *err, size_t errlen) STORE_WUR;

#endif
