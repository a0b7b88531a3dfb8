/* SPDX-License-Identifier: MIT */
/*
 * admind's SQLite store (DESIGN.md section 3): one database file in WAL
 * mode, schema migrations by PRAGMA user_version at open, and the queries
 * the API and the scheduler need.  Only admind (and `otad init`) open it.
 * Times are unix seconds (UTC).  Functions return 0 on success, -1 on a
 * database error (logged once here), and where noted 1 for "found".
 */
#ifndef OTAD_STORE_H
#define OTAD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"

#define STORE_WUR	__attribute__((warn_unused_result))

struct store;

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
};

/* Opens (creating) the database and runs the migrations.  NULL with a
 * sentence naming the file in err. */
struct store *store_open(const char *path, char *err, size_t errlen);
void	 store_close(struct store *);
int	 store_begin(struct store *);
/* Facts that are no state transition join one batch without an fsync,
 * committed by store_flush() once per loop turn (and before any other
 * write). */
int	 store_light(struct store *);
void	 store_flush(struct store *);
int	 store_commit(struct store *);
int	 store_rollback(struct store *);
int	 store_schema_version(struct store *);
/* 1 when a write failed on a full disk since the last call (then 0). */
int	 store_disk_full(struct store *);

/* Devices.  store_device_create returns -2 when the token hash exists. */
int	 store_device_create(struct store *, const char *name,
	    const char *token_sha256, const char *tags, int64_t *id);
int	 store_device_get(struct store *, int64_t id, struct device *); /* 1 */
int	 store_device_by_token(struct store *, const char *token_sha256,
	    struct device *);						/* 1 */
/* All devices ordered by id, limit < 0 for all; *total counts all. */
int	 store_device_list(struct store *, int64_t limit, int64_t offset,
	    struct device **out, size_t *n, int64_t *total);
int	 store_device_seen(struct store *, int64_t id, const char *addr,
	    int64_t when);
int	 store_device_set_info(struct store *, int64_t id,
	    const char *fw_version, const char *build, const char *fw_type,
	    const char *board, const char *lib_version);
/* The device's buff-in and h-beat, from its hardware info. */
int	 store_device_set_link(struct store *, int64_t id, int buff_in,
	    int h_beat);
/* Every device id, ascending (for jobs that target all). */
int	 store_device_ids(struct store *, int64_t **ids, size_t *n);
void	 device_free(struct device *);
void	 device_list_free(struct device *, size_t);

/* Firmware.  Identical images (same sha256) share one row: *id is the
 * existing row's and *created 0. */
int	 store_firmware_add(struct store *, const struct firmware *,
	    int64_t *id, int *created);
int	 store_firmware_get(struct store *, int64_t id, struct firmware *);/* 1 */
void	 firmware_free(struct firmware *);

/* Jobs. */
int	 store_job_create(struct store *, const struct job *, int64_t *id);
int	 store_job_get(struct store *, int64_t id, struct job *);	/* 1 */
/* Ids of jobs in state active, ascending. */
int	 store_jobs_active(struct store *, int64_t **ids, size_t *n);
/* Moves the job from one state to another: 1 moved, 0 it was not in
 * from (nothing written), -1.  Only jobs.c calls it. */
int	 store_job_set_state(struct store *, int64_t id, enum job_state from,
	    enum job_state to) STORE_WUR;
/* Cancels the job's unfinished deliveries with why as their last error
 * (keeping their tickets, which fwstore then answers 403).  *canceled gets
 * how many.  Only delivery.c calls it. */
int	 store_job_cancel(struct store *, int64_t id, const char *why,
	    int *canceled) STORE_WUR;
void	 job_free(struct job *);

/* Deliveries.  Unfinished: queued, sent, downloading, downloaded. */
int	 store_delivery_create(struct store *, int64_t job_id,
	    int64_t device_id, int64_t *id);
int	 store_delivery_get(struct store *, int64_t id, struct delivery *);/* 1 */
int	 store_delivery_by_ticket(struct store *, const char *ticket,
	    struct delivery *);						/* 1 */
/* The newest unfinished delivery of an active job for the device. */
int	 store_delivery_pending(struct store *, int64_t device_id,
	    struct delivery *);						/* 1 */
/* From state from to state to, with last_error (NULL keeps it) and ticket
 * (NULL keeps it, "" clears it); updated_at = now; attempts += attempt_inc.  1 moved, 0
 * the row was not in from (nothing written), -1.  Only delivery.c calls
 * it. */
int	 store_delivery_update(struct store *, int64_t id,
	    enum delivery_state from, enum delivery_state to,
	    const char *ticket, const char *last_error, int attempt_inc)
	    STORE_WUR;
int	 store_delivery_progress(struct store *, int64_t id, uint64_t bytes);
/* Cancels the unfinished deliveries of other jobs for the job's devices
 * (a newer job supersedes them), with why as their last error.  Only
 * delivery.c calls it. */
int	 store_job_cancel_older(struct store *, int64_t job_id,
	    const char *why) STORE_WUR;
/* Ids of the jobs other than job_id with an unfinished delivery for one
 * of job_id's devices (device_id 0), or for device_id. */
int	 store_jobs_sharing(struct store *, int64_t job_id, int64_t device_id,
	    int64_t **ids, size_t *n) STORE_WUR;
/* Deliveries of a job, ascending id. */
int	 store_job_deliveries(struct store *, int64_t job_id,
	    struct delivery **out, size_t *n);
/* The job's deliveries counted per state: calls cb for each state. */
int	 store_job_counts(struct store *, int64_t job_id,
	    void (*cb)(void *, const char *state, int64_t count), void *arg);
void	 delivery_free(struct delivery *);
void	 delivery_list_free(struct delivery *, size_t);

/* Audit log: an admin action or a delivery transition. */
int	 store_event(struct store *, const char *kind, const char *actor,
	    const char *remote, int64_t device_id, int64_t job_id,
	    const char *text);
/* Retention: deletes events older than before (Unix s; 0: none by age),
 * then the oldest beyond the newest keep (0: none by count), at most max
 * rows in all, looking at no more than max rows: how many went, or -1. */
int	 store_events_prune(struct store *, int64_t before, int64_t keep,
	    int64_t max);

/* Jobs and the OTA lifecycle. */
/* Jobs newest first; state NULL or "" for all (else a job state name);
 * limit < 0 for all. */
int	 store_job_list(struct store *, const char *state, int64_t limit,
	    int64_t offset, struct job **out, size_t *n, int64_t *total);
void	 job_list_free(struct job *, size_t);
/* Deliveries of active jobs in state whose updated_at is before. */
int	 store_deliveries_stale(struct store *, enum delivery_state,
	    int64_t before, struct delivery **out, size_t *n);
/* Up to max queued deliveries of the job with an id above after,
 * ascending: a scheduler pages through them. */
int	 store_job_queued(struct store *, int64_t job_id, int64_t after,
	    int64_t max, struct delivery **out, size_t *n);
/* How many of the job's deliveries are unfinished. */
int	 store_job_unfinished(struct store *, int64_t job_id, int64_t *count);

/* Devices, firmware, API tokens and metrics of the admin API. */
struct device_filter {
	const char	*tag;		/* "" matches all */
	const char	*fw_version;
	const char	*board;
	const char	*text;		/* in the name or tags, or the id */
};
/* Devices matching f ordered by id, limit < 0 for all; *total counts the
 * matches. */
int	 store_device_search(struct store *, const struct device_filter *f,
	    int64_t limit, int64_t offset, struct device **out, size_t *n,
	    int64_t *total);
int	 store_device_count(struct store *, int64_t *count);
/* name or tags NULL: unchanged.  1 updated, 0 no such device. */
int	 store_device_update(struct store *, int64_t id, const char *name,
	    const char *tags);
/* 1 set, 0 no such device, -2 another device has this token. */
int	 store_device_set_token(struct store *, int64_t id,
	    const char *token_sha256);
/* 1 deleted with its deliveries, 0 no such device. */
int	 store_device_delete(struct store *, int64_t id);
/* Ids of the devices with the tag, ascending. */
int	 store_device_ids_by_tag(struct store *, const char *tag,
	    int64_t **ids, size_t *n);
/* A device's deliveries newest first, with the firmware of their job. */
struct device_delivery {
	struct delivery	 delivery;
	int64_t		 firmware_id;
	char		*fw_version;
	char		*fw_filename;
};
int	 store_device_history(struct store *, int64_t device_id,
	    int64_t limit, struct device_delivery **out, size_t *n);
void	 device_history_free(struct device_delivery *, size_t);

/* Live (not deleted) firmware newest first; format, board "" for all. */
int	 store_firmware_list(struct store *, const char *format,
	    const char *board, int64_t limit, int64_t offset,
	    struct firmware **out, size_t *n, int64_t *total);
void	 firmware_list_free(struct firmware *, size_t);
int	 store_firmware_count(struct store *, int64_t *count);
int	 store_firmware_jobs(struct store *, int64_t firmware_id,
	    struct job **out, size_t *n);
/* Ids of the active or paused jobs using the firmware. */
int	 store_firmware_in_use(struct store *, int64_t firmware_id,
	    int64_t **ids, size_t *n);
/* Deleted firmware keeps its row while jobs name it (deleted_at set);
 * store_firmware_get still finds it: check store_firmware_deleted_at
 * (1 found, *when 0 while live) before starting a job on a firmware id. */
int	 store_firmware_deleted_at(struct store *, int64_t id, int64_t *when);
int	 store_firmware_delete(struct store *, int64_t id);
int	 store_firmware_restore(struct store *, int64_t id);
/* Counts per state over all deliveries / jobs. */
int	 store_delivery_states(struct store *,
	    void (*cb)(void *, const char *state, int64_t count), void *arg);
int	 store_job_states(struct store *,
	    void (*cb)(void *, const char *state, int64_t count), void *arg);

/* API tokens for scripts (Authorization: Bearer), stored as SHA-256. */
struct api_token {
	int64_t	 id;
	char	*name;
	int64_t	 created_at;
	char	*created_by;
	int64_t	 last_used_at;	/* 0: never; updated at most each minute */
};
int	 store_api_token_create(struct store *, const char *name,
	    const char *token_sha256, const char *created_by, int64_t *id);
int	 store_api_token_list(struct store *, struct api_token **, size_t *);
int	 store_api_token_get(struct store *, int64_t id, struct api_token *);
int	 store_api_token_by_hash(struct store *, const char *token_sha256,
	    struct api_token *);					/* 1 */
int	 store_api_token_delete(struct store *, int64_t id);	/* 1 */
int	 store_api_token_used(struct store *, int64_t id);
void	 api_token_free(struct api_token *);
void	 api_token_list_free(struct api_token *, size_t);

#endif
