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
	char		*state;		/* active, paused, stopped, finished */
	int64_t		 created_at;
	char		*created_by;
};

struct delivery {
	int64_t	 id;
	int64_t	 job_id;
	int64_t	 device_id;
	char	*state;		/* queued, sent, downloading, downloaded,
				 * succeeded, failed, already-current,
				 * incompatible, canceled */
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
int	 store_commit(struct store *);
int	 store_rollback(struct store *);
int	 store_schema_version(struct store *);

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
/* Sets state; for "stopped" also cancels the job's unfinished deliveries
 * (clearing their tickets).  *canceled gets how many (may be NULL). */
int	 store_job_set_state(struct store *, int64_t id, const char *state,
	    int *canceled);
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
/* state, with last_error (NULL keeps it) and ticket (NULL keeps, "" clears);
 * updated_at = now; attempts += attempt_inc. */
int	 store_delivery_update(struct store *, int64_t id, const char *state,
	    const char *ticket, const char *last_error, int attempt_inc);
int	 store_delivery_progress(struct store *, int64_t id, uint64_t bytes);
/* Cancels the device's unfinished deliveries of jobs other than keep_job. */
int	 store_delivery_cancel_older(struct store *, int64_t device_id,
	    int64_t keep_job, int *canceled);
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

#endif
