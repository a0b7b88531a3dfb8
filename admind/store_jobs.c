/* SPDX-License-Identifier: MIT */
/*
 * OTA jobs and their deliveries in admind's SQLite store (see store.h):
 * creating them, the guarded state changes delivery.c and jobs.c make
 * (each moves a row only from the state the caller expects), the
 * scheduler's queries (pending, queued, stale, unfinished) and the counts
 * per state of the API and the metrics.  Part of the store that admind and
 * `otad init` link.
 */
#include <stdlib.h>
#include <string.h>


#include "log.h"
#include "store_int.h"
#include "util.h"

static const struct store_query q_job_create = { .slot = Q_JOB_CREATE,
    .name = "job create",
    .sql = "INSERT INTO jobs (firmware_id, target_kind, target, force,"
	" max_parallel, attempt_limit, failure_threshold, state,"
	" created_at, created_by, start_at, \"window\", confirm)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id" };
static const struct store_query q_job_get = { .slot = Q_JOB_GET,
    .name = "job get",
    .sql = "SELECT " JOB_COLS " FROM jobs WHERE id = ?" };
static const struct store_query q_jobs_active = { .slot = Q_JOBS_ACTIVE,
    .name = "active jobs",
    .sql = "SELECT id FROM jobs WHERE state = 'active' ORDER BY id" };
static const struct store_query q_job_set_state = { .slot = Q_JOB_SET_STATE,
    .name = "job state",
    .sql = "UPDATE jobs SET state = ?3 WHERE id = ?1 AND state = ?2" };
static const struct store_query q_job_cancel = { .slot = Q_JOB_CANCEL,
    .name = "job cancel",
    .sql = "UPDATE deliveries SET state = 'canceled', last_error = ?3,"
	" updated_at = ?1 WHERE job_id = ?2 AND " UNFINISHED("state") };
static const struct store_query q_job_move = { .slot = Q_JOB_MOVE,
    .name = "job deliveries move",
    .sql = "UPDATE deliveries SET state = ?3, next_at = ?4, updated_at = ?5"
	" WHERE job_id = ?1 AND state = ?2" };
/* The unfinished deliveries of other jobs for a device of job ?1.  Only
 * active and paused jobs have any (a stopped job's were canceled, a
 * finished one's all ended): their deliveries are read, not every job's,
 * and a job for a million devices that is the only one reads none. */
#define OLDER_OF(job)	" FROM jobs j JOIN deliveries o ON o.job_id = j.id" \
			" WHERE j.id <> " job " AND (j.state = 'active'" \
			" OR j.state = 'paused') AND " UNFINISHED("o.state") \
			" AND EXISTS (SELECT 1 FROM deliveries n" \
			"  WHERE n.job_id = " job " AND n.device_id = o.device_id)"
static const struct store_query q_jobs_sharing = { .slot = Q_JOBS_SHARING,
    .name = "jobs sharing devices",
    .sql = "SELECT DISTINCT o.job_id" OLDER_OF("?1") " ORDER BY o.job_id" };
static const struct store_query q_jobs_sharing_device = {
    .slot = Q_JOBS_SHARING_DEVICE,
    .name = "jobs of a device",
    .sql = "SELECT DISTINCT job_id FROM deliveries"
	" WHERE device_id = ?2 AND job_id <> ?1"
	" AND " UNFINISHED("state") " ORDER BY job_id" };
static const struct store_query q_job_cancel_older = {
    .slot = Q_JOB_CANCEL_OLDER,
    .name = "cancel older deliveries of a job's devices",
    .sql = "UPDATE deliveries SET state = 'canceled', updated_at = ?2,"
	" last_error = ?3 WHERE id IN (SELECT o.id" OLDER_OF("?1") ")" };
static const struct store_query q_job_deliveries = { .slot = Q_JOB_DELIVERIES,
    .name = "job deliveries",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.job_id = ?"
	" ORDER BY d.id" };
static const struct store_query q_job_counts = { .slot = Q_JOB_COUNTS,
    .name = "job counts",
    .sql = "SELECT state, count(*) FROM deliveries WHERE job_id = ?"
	" GROUP BY state ORDER BY state" };
/* One range of the (job_id, state) index, whatever the job's size. */
static const struct store_query q_job_count_state = {
    .slot = Q_JOB_COUNT_STATE,
    .name = "job count of a state",
    .sql = "SELECT count(*) FROM deliveries WHERE job_id = ? AND state = ?" };
/* Nodes sharing PostgreSQL take turns at a job's slots: the row stays
 * locked until the caller's transaction ends.  NO KEY: a delivery or an
 * event that names the job may still be written meanwhile.  (SQLite's
 * single writer needs no lock.) */
static const struct store_query q_job_lock = { .slot = Q_JOB_LOCK,
    .name = "job lock",
    .sql = "SELECT id FROM jobs WHERE id = ?",
    .sql_pg = "SELECT id FROM jobs WHERE id = ? FOR NO KEY UPDATE" };
static const struct store_query q_job_list = { .slot = Q_JOB_LIST,
    .name = "job list",
    .sql = "SELECT " JOB_COLS " FROM jobs WHERE ?1 = '' OR state = ?1"
	" ORDER BY id DESC LIMIT ?2 OFFSET ?3" };
static const struct store_query q_job_list_count = { .slot = Q_JOB_LIST_COUNT,
    .name = "job count",
    .sql = "SELECT count(*) FROM jobs WHERE ?1 = '' OR state = ?1" };
static const struct store_query q_job_queued = { .slot = Q_JOB_QUEUED,
    .name = "job queued",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.job_id = ?"
	" AND d.state = 'queued' AND d.id > ? ORDER BY d.id LIMIT ?" };
static const struct store_query q_job_unfinished = { .slot = Q_JOB_UNFINISHED,
    .name = "job unfinished",
    .sql = "SELECT count(*) FROM deliveries WHERE job_id = ?"
	" AND " UNFINISHED("state") };
static const struct store_query q_job_states = { .slot = Q_JOB_STATES,
    .name = "job states",
    .sql = "SELECT state, count(*) FROM jobs GROUP BY state" };
static const struct store_query q_delivery_create = { .slot = Q_DELIVERY_CREATE,
    .name = "delivery create",
    .sql = "INSERT INTO deliveries (job_id, device_id, state, created_at,"
	" updated_at) VALUES (?1, ?2, 'queued', ?3, ?3) RETURNING id" };
/* Every device, or those with the tag ?3, in one statement. */
static const struct store_query q_job_add_all = { .slot = Q_JOB_ADD_ALL,
    .name = "job deliveries for all devices",
    .sql = "INSERT INTO deliveries (job_id, device_id, state, created_at,"
	" updated_at) SELECT ?1, id, 'queued', ?2, ?2 FROM devices ORDER BY id" };
static const struct store_query q_job_add_tag = { .slot = Q_JOB_ADD_TAG,
    .name = "job deliveries for a tag",
    .sql = "INSERT INTO deliveries (job_id, device_id, state, created_at,"
	" updated_at) SELECT ?1, device_id, 'queued', ?2, ?2 FROM device_tags"
	" WHERE tag = ?3 ORDER BY device_id" };
static const struct store_query q_delivery_get = { .slot = Q_DELIVERY_GET,
    .name = "delivery get",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.id = ?" };
static const struct store_query q_delivery_by_ticket = {
    .slot = Q_DELIVERY_BY_TICKET,
    .name = "delivery by ticket",
    .sql = "SELECT " DELIVERY_COLS ", " FIRMWARE_COLS " FROM deliveries d"
	" LEFT JOIN jobs j ON j.id = d.job_id"
	" LEFT JOIN firmware f ON f.id = j.firmware_id"
	" WHERE d.ticket = ?" };
static const struct store_query q_delivery_pending = {
    .slot = Q_DELIVERY_PENDING,
    .name = "pending delivery",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d"
	" JOIN jobs j ON j.id = d.job_id"
	" WHERE d.device_id = ? AND " UNFINISHED("d.state")
	" AND j.state = 'active' ORDER BY d.id DESC LIMIT 1" };
static const struct store_query q_delivery_update = { .slot = Q_DELIVERY_UPDATE,
    .name = "delivery update",
    .sql = "UPDATE deliveries SET state = ?1, ticket = CASE WHEN ?2 IS NULL"
	"  THEN ticket ELSE nullif(?2, '') END,"
	" last_error = coalesce(?3, last_error),"
	" attempts = attempts + ?4, updated_at = ?5, next_at = ?8"
	" WHERE id = ?6 AND state = ?7" };
static const struct store_query q_delivery_consent = {
    .slot = Q_DELIVERY_CONSENT,
    .name = "delivery consent",
    .sql = "UPDATE deliveries SET consented = 1 WHERE id = ?" };
static const struct store_query q_delivery_progress = {
    .slot = Q_DELIVERY_PROGRESS,
    .name = "delivery progress",
    .sql = "UPDATE deliveries SET bytes_sent = ?, updated_at = ?"
	" WHERE id = ?",
    .light = 1,
    .answerless = 1 };
static const struct store_query q_deliveries_stale = {
    .slot = Q_DELIVERIES_STALE,
    .name = "stale deliveries",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d"
	" JOIN jobs j ON j.id = d.job_id"
	" WHERE d.state = ?1 AND d.updated_at < ?2 AND j.state = 'active'"
	" ORDER BY d.id" };
static const struct store_query q_delivery_of = { .slot = Q_DELIVERY_OF,
    .name = "delivery of a job's device",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d"
	" WHERE d.job_id = ? AND d.device_id = ?" };
static const struct store_query q_deliveries_due = { .slot = Q_DELIVERIES_DUE,
    .name = "deliveries due",
    .sql = "SELECT " DELIVERY_COLS " FROM deliveries d"
	" JOIN jobs j ON j.id = d.job_id"
	" WHERE d.state = ?1 AND d.next_at > ?2 AND d.next_at <= ?3"
	" AND j.state = 'active' ORDER BY d.next_at, d.id" };
static const struct store_query q_deliveries_next = {
    .slot = Q_DELIVERIES_NEXT,
    .name = "next delivery due",
    .sql = "SELECT coalesce(min(d.next_at), 0) FROM deliveries d"
	" JOIN jobs j ON j.id = d.job_id"
	" WHERE d.state = ?1 AND d.next_at > ?2 AND j.state = 'active'" };
static const struct store_query q_delivery_states = { .slot = Q_DELIVERY_STATES,
    .name = "delivery states",
    .sql = "SELECT state, count(*) FROM deliveries GROUP BY state" };

static int	 store_count_states(struct store *, const struct store_query *,
		    void (*)(void *, const char *, int64_t), void *);
static int	 job_read(const struct store_cur *, void *);
static void	 job_free_row(void *);
static int	 delivery_read(const struct store_cur *, void *);
static void	 delivery_free_row(void *);

const struct store_row store_job_row =
    { sizeof(struct job), job_read, job_free_row };
const struct store_row store_delivery_row =
    { sizeof(struct delivery), delivery_read, delivery_free_row };

static const char *const job_targets[] = {
	[JOB_TARGET_DEVICES] = "devices",
	[JOB_TARGET_TAG] = "tag",
	[JOB_TARGET_ALL] = "all",
};

int
store_job_create(struct store *st, const struct job *j, int64_t *id)
{
	int64_t		 at = j->created_at > 0 ? j->created_at : store_now();

	if ((unsigned)j->target_kind >= nitems(job_targets)) {
		log_warnx("store: job create: bad target kind %d",
		    (int)j->target_kind);
		return -1;
	}
	if (store_one(st, &q_job_create, &store_id_row, id, "IssiiiisisIss",
	    j->firmware_id, job_targets[j->target_kind], j->target, j->force,
	    j->max_parallel, j->attempt_limit, j->failure_threshold,
	    job_state_name(j->state), at, j->created_by, j->start_at,
	    j->window ? j->window : "", job_confirm_name(j->confirm)) != 1)
		return -1;
	return 0;
}

int
store_job_get(struct store *st, int64_t id, struct job *j)
{
	return store_one(st, &q_job_get, &store_job_row, j, "I", id);
}

int
store_jobs_active(struct store *st, int64_t **ids, size_t *n)
{
	return store_list(st, &q_jobs_active, &store_id_row, ids, n, "");
}

int
store_job_set_state(struct store *st, int64_t id, enum job_state from,
    enum job_state to)
{
	if (store_run(st, &q_job_set_state, "Iss", id, job_state_name(from),
	    job_state_name(to)) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_job_cancel(struct store *st, int64_t id, const char *why,
    int *canceled)
{
	*canceled = 0;
	if (store_run(st, &q_job_cancel, "IIs", store_now(), id, why) == -1)
		return -1;
	*canceled = store_changes(st);
	return 0;
}

int
store_job_move(struct store *st, int64_t id, enum delivery_state from,
    enum delivery_state to, int64_t next_at, int *moved)
{
	*moved = 0;
	if (store_run(st, &q_job_move, "IssII", id, delivery_state_name(from),
	    delivery_state_name(to), next_at, store_now()) == -1)
		return -1;
	*moved = store_changes(st);
	return 0;
}

int
store_jobs_sharing(struct store *st, int64_t job_id, int64_t device_id,
    int64_t **ids, size_t *n)
{
	if (device_id > 0)
		return store_list(st, &q_jobs_sharing_device, &store_id_row,
		    ids, n, "II", job_id, device_id);
	return store_list(st, &q_jobs_sharing, &store_id_row, ids, n, "I",
	    job_id);
}

/* For every device of a new job, in one statement. */
int
store_job_cancel_older(struct store *st, int64_t job_id, const char *why)
{
	return store_run(st, &q_job_cancel_older, "IIs", job_id, store_now(),
	    why);
}

int
store_job_deliveries(struct store *st, int64_t job_id, struct delivery **out,
    size_t *n)
{
	return store_list(st, &q_job_deliveries, &store_delivery_row, out, n,
	    "I", job_id);
}

int
store_job_lock(struct store *st, int64_t job_id)
{
	int64_t	 id;

	return store_one(st, &q_job_lock, &store_id_row, &id, "I", job_id) ==
	    -1 ? -1 : 0;
}

int
store_job_count_state(struct store *st, int64_t job_id,
    enum delivery_state state, int64_t *n)
{
	return store_one(st, &q_job_count_state, &store_id_row, n, "Is",
	    job_id, delivery_state_name(state)) == 1 ? 0 : -1;
}

/* cb must not call store_job_counts itself: the statement is in use. */
int
store_job_counts(struct store *st, int64_t job_id,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	const struct store_cur *s;
	int		 rc;

	if ((s = store_start(st, &q_job_counts, "I", job_id)) == NULL)
		return -1;
	while ((rc = store_step(st, &q_job_counts)) == STORE_ROW)
		cb(arg, store_col_str(s, 0),
		    store_col_int64(s, 1));
	store_done(st, &q_job_counts);
	return rc == STORE_DONE ? 0 : -1;
}

int
store_job_list(struct store *st, const char *state, int64_t limit,
    int64_t offset, struct job **out, size_t *n, int64_t *total)
{
	int64_t	 count = 0;

	if (state == NULL)
		state = "";
	if (store_one(st, &q_job_list_count, &store_id_row, &count, "s",
	    state) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, &q_job_list, &store_job_row, out, n, "sII", state,
	    limit, offset);
}

int
store_job_queued(struct store *st, int64_t job_id, int64_t after,
    int64_t max, struct delivery **out, size_t *n)
{
	return store_list(st, &q_job_queued, &store_delivery_row, out, n, "III",
	    job_id, after, max);
}

int
store_job_unfinished(struct store *st, int64_t job_id, int64_t *count)
{
	*count = 0;
	return store_one(st, &q_job_unfinished, &store_id_row, count, "I",
	    job_id) == -1 ? -1 : 0;
}

int
store_job_states(struct store *st, void (*cb)(void *, const char *, int64_t),
    void *arg)
{
	return store_count_states(st, &q_job_states, cb, arg);
}

void
job_free(struct job *j)
{
	free(j->target);
	free(j->created_by);
	free(j->window);
	memset(j, 0, sizeof(*j));
}

void
job_list_free(struct job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		job_free(&jobs[i]);
	free(jobs);
}

int
store_delivery_create(struct store *st, int64_t job_id, int64_t device_id,
    int64_t *id)
{
	if (store_one(st, &q_delivery_create, &store_id_row, id, "III", job_id,
	    device_id, store_now()) != 1)
		return -1;
	return 0;
}

int
store_job_add_devices(struct store *st, int64_t job_id, const char *tag,
    int64_t *added)
{
	int	 rc;

	*added = 0;
	rc = tag != NULL ?
	    store_run(st, &q_job_add_tag, "IIs", job_id, store_now(), tag) :
	    store_run(st, &q_job_add_all, "II", job_id, store_now());
	if (rc == -1)
		return -1;
	*added = store_changes(st);
	return 0;
}

int
store_delivery_get(struct store *st, int64_t id, struct delivery *dl)
{
	return store_one(st, &q_delivery_get, &store_delivery_row, dl, "I", id);
}

/* A ticket's delivery and the firmware its job names, in one statement:
 * what a download's check reads. */
struct ticket_row {
	struct delivery	 dl;
	struct firmware	 fw;
};

static int
ticket_read(const struct store_cur *s, void *p)
{
	struct ticket_row	*t = p;

	if (delivery_read(s, &t->dl) == -1)
		return -1;
	if (!store_col_null(s, DELIVERY_NCOLS) &&
	    store_firmware_cols(s, DELIVERY_NCOLS, &t->fw) == -1) {
		delivery_free(&t->dl);
		return -1;
	}
	return 0;
}

static void
ticket_free_row(void *p)
{
	struct ticket_row	*t = p;

	delivery_free(&t->dl);
	firmware_free(&t->fw);
}

static const struct store_row ticket_row =
    { sizeof(struct ticket_row), ticket_read, ticket_free_row };

int
store_delivery_by_ticket(struct store *st, const char *ticket,
    struct delivery *dl, struct firmware *fw)
{
	struct ticket_row	 t;
	int			 rc;

	memset(dl, 0, sizeof(*dl));
	if (fw != NULL)
		memset(fw, 0, sizeof(*fw));
	if (ticket == NULL || *ticket == '\0')
		return 0;
	rc = store_one(st, &q_delivery_by_ticket, &ticket_row, &t, "s",
	    ticket);
	if (rc != 1)
		return rc;
	*dl = t.dl;
	if (fw != NULL)
		*fw = t.fw;
	else
		firmware_free(&t.fw);
	return 1;
}

int
store_delivery_pending(struct store *st, int64_t device_id,
    struct delivery *dl)
{
	return store_one(st, &q_delivery_pending, &store_delivery_row, dl, "I",
	    device_id);
}

int
store_delivery_update(struct store *st, int64_t id, enum delivery_state from,
    enum delivery_state to, const char *ticket, const char *last_error,
    int attempt_inc, int64_t next_at)
{
	if (store_run(st, &q_delivery_update, "snniIIsI",
	    delivery_state_name(to), ticket, last_error, attempt_inc,
	    store_now(), id, delivery_state_name(from), next_at) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_delivery_consent(struct store *st, int64_t id)
{
	if (store_run(st, &q_delivery_consent, "I", id) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_delivery_progress(struct store *st, int64_t id, uint64_t bytes)
{
	return store_run(st, &q_delivery_progress, "UII", bytes, store_now(),
	    id);
}

int
store_deliveries_stale(struct store *st, enum delivery_state state,
    int64_t before, struct delivery **out, size_t *n)
{
	return store_list(st, &q_deliveries_stale, &store_delivery_row, out, n,
	    "sI", delivery_state_name(state), before);
}

int
store_delivery_of(struct store *st, int64_t job_id, int64_t device_id,
    struct delivery *dl)
{
	return store_one(st, &q_delivery_of, &store_delivery_row, dl, "II",
	    job_id, device_id);
}

int
store_deliveries_due(struct store *st, enum delivery_state state,
    int64_t after, int64_t before, struct delivery **out, size_t *n)
{
	return store_list(st, &q_deliveries_due, &store_delivery_row, out, n,
	    "sII", delivery_state_name(state), after, before);
}

int
store_deliveries_next(struct store *st, enum delivery_state state,
    int64_t after, int64_t *next_at)
{
	return store_one(st, &q_deliveries_next, &store_id_row, next_at, "sI",
	    delivery_state_name(state), after) == -1 ? -1 : 0;
}

int
store_delivery_states(struct store *st,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	return store_count_states(st, &q_delivery_states, cb, arg);
}

static int
store_count_states(struct store *st, const struct store_query *q,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	const struct store_cur *s;
	int		 rc;

	if ((s = store_start(st, q, "")) == NULL)
		return -1;
	while ((rc = store_step(st, q)) == STORE_ROW)
		cb(arg, store_col_str(s, 0),
		    store_col_int64(s, 1));
	store_done(st, q);
	return rc == STORE_DONE ? 0 : -1;
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

static int
job_read(const struct store_cur *s, void *p)
{
	struct job	*j = p;
	const char	*kind = store_col_str(s, 2);
	int		 fail = 0;

	j->id = store_col_int64(s, 0);
	j->firmware_id = store_col_int64(s, 1);
	if (kind != NULL && strcmp(kind, "tag") == 0)
		j->target_kind = JOB_TARGET_TAG;
	else if (kind != NULL && strcmp(kind, "all") == 0)
		j->target_kind = JOB_TARGET_ALL;
	else
		j->target_kind = JOB_TARGET_DEVICES;
	j->target = store_col_text(s, 3, &fail);
	j->force = store_col_int(s, 4);
	j->max_parallel = store_col_int(s, 5);
	j->attempt_limit = store_col_int(s, 6);
	j->failure_threshold = store_col_int(s, 7);
	if (job_state_parse(store_col_str(s, 8),
	    &j->state) == -1) {
		log_warnx("store: job %lld has an unknown state",
		    (long long)j->id);
		fail = 1;
	}
	j->created_at = store_col_int64(s, 9);
	j->created_by = store_col_text(s, 10, &fail);
	j->start_at = store_col_int64(s, 11);
	j->window = store_col_text(s, 12, &fail);
	if (job_confirm_parse(store_col_str(s, 13),
	    &j->confirm) == -1) {
		log_warnx("store: job %lld has an unknown confirm",
		    (long long)j->id);
		fail = 1;
	}
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
delivery_read(const struct store_cur *s, void *p)
{
	struct delivery	*dl = p;
	int		 fail = 0;

	dl->id = store_col_int64(s, 0);
	dl->job_id = store_col_int64(s, 1);
	dl->device_id = store_col_int64(s, 2);
	if (delivery_state_parse(store_col_str(s, 3),
	    &dl->state) == -1) {
		log_warnx("store: delivery %lld has an unknown state",
		    (long long)dl->id);
		fail = 1;
	}
	dl->attempts = store_col_int(s, 4);
	store_col_copy(s, 5, dl->ticket, sizeof(dl->ticket));
	dl->bytes_sent = (uint64_t)store_col_int64(s, 6);
	dl->created_at = store_col_int64(s, 7);
	dl->updated_at = store_col_int64(s, 8);
	dl->last_error = store_col_text(s, 9, &fail);
	dl->consented = store_col_int(s, 10);
	dl->next_at = store_col_int64(s, 11);
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
