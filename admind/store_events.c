/* SPDX-License-Identifier: MIT */
/*
 * The audit log in admind's SQLite store (see store.h): one row per admin
 * action or delivery transition, and the retention that prunes the oldest
 * rows in bounded batches.  Part of the store that admind links.
 */
#include <stdlib.h>
#include <string.h>


#include "store_int.h"

static const struct store_query q_event = { .slot = Q_EVENT,
    .name = "event",
    .sql = "INSERT INTO events (at, kind, actor, remote, device_id, job_id,"
	" text) VALUES (?, ?, ?, ?, ?, ?, ?)",
    .answerless = 1 };
/* Both look at no more than ?2 of the oldest rows, by the primary
 * key: a batch costs the same however large the table is. */
static const struct store_query q_events_prune_age = {
    .slot = Q_EVENTS_PRUNE_AGE,
    .name = "prune old events",
    .sql = "DELETE FROM events WHERE id IN"
	" (SELECT id FROM events ORDER BY id LIMIT ?2) AND at < ?1" };
static const struct store_query q_events_prune_rows = {
    .slot = Q_EVENTS_PRUNE_ROWS,
    .name = "prune events past the row limit",
    .sql = "DELETE FROM events WHERE id IN (SELECT id FROM events"
	" WHERE id <= (SELECT max(id) FROM events) - ?1"
	" ORDER BY id LIMIT ?2)" };

#define EVENT_COLS	"id, at, kind, actor, remote, coalesce(device_id, 0)," \
			" coalesce(job_id, 0), text"
/* ?1 actor, ?2 kind (a prefix when it ends in "."), ?3 since, ?4 until,
 * ?5 device */
#define EVENT_FILTER	" WHERE (?1 = '' OR actor = ?1)"			\
	" AND (?2 = '' OR kind = ?2 OR (substr(?2, length(?2)) = '.'"		\
	" AND substr(kind, 1, length(?2)) = ?2))"			\
	" AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at <= ?4)"		\
	" AND (?5 = 0 OR device_id = ?5)"
static const struct store_query q_events_list = { .slot = Q_EVENTS_LIST,
    .name = "audit list",
    .sql = "SELECT " EVENT_COLS " FROM events" EVENT_FILTER
	" ORDER BY id DESC LIMIT ?6 OFFSET ?7" };
static const struct store_query q_events_count = { .slot = Q_EVENTS_COUNT,
    .name = "audit count",
    .sql = "SELECT count(*) FROM events" EVENT_FILTER };
static const struct store_query q_events_of_job = { .slot = Q_EVENTS_OF_JOB,
    .name = "audit of a job",
    .sql = "SELECT at, kind, text FROM events WHERE job_id = ?"
	" AND kind LIKE 'delivery.%' ORDER BY id" };

static int	 audit_event_read(const struct store_cur *, void *);
static void	 audit_event_free_row(void *);

static const struct store_row audit_event_row =
    { sizeof(struct audit_event), audit_event_read, audit_event_free_row };

int
store_event(struct store *st, const char *kind, const char *actor,
    const char *remote, int64_t device_id, int64_t job_id, const char *text)
{
	return store_run(st, &q_event, "IsssNNs", store_now(), kind, actor,
	    remote, device_id, job_id, text);
}

int
store_events_prune(struct store *st, int64_t before, int64_t keep,
    int64_t max)
{
	int	 n = 0;

	if (before > 0) {
		if (store_run(st, &q_events_prune_age, "II", before, max) == -1)
			return -1;
		n = store_changes(st);
	}
	if (keep > 0 && n < max) {
		if (store_run(st, &q_events_prune_rows, "II", keep,
		    max - n) == -1)
			return -1;
		n += store_changes(st);
	}
	return n;
}

int
store_events_list(struct store *st, const struct audit_filter *f,
    int64_t limit, int64_t offset, struct audit_event **out, size_t *n,
    int64_t *total)
{
	int64_t	 count = 0;

	*out = NULL;
	*n = 0;
	if (store_one(st, &q_events_count, &store_id_row, &count, "ssIII",
	    f->actor, f->kind, f->since, f->until, f->device_id) == -1)
		return -1;
	if (total != NULL)
		*total = count;
	return store_list(st, &q_events_list, &audit_event_row, out, n,
	    "ssIIIII", f->actor, f->kind, f->since, f->until, f->device_id,
	    limit < 0 ? (int64_t)-1 : limit, offset < 0 ? (int64_t)0 : offset);
}

int
store_events_of_job(struct store *st, int64_t job_id,
    void (*cb)(void *, int64_t, const char *, const char *), void *arg)
{
	const struct store_cur *s;
	int		 rc;

	if ((s = store_start(st, &q_events_of_job, "I", job_id)) == NULL)
		return -1;
	while ((rc = store_step(st, &q_events_of_job)) == STORE_ROW)
		cb(arg, store_col_int64(s, 0),
		    store_col_str(s, 1),
		    store_col_str(s, 2));
	store_done(st, &q_events_of_job);
	return rc == STORE_DONE ? 0 : -1;
}

static void
audit_event_free(struct audit_event *e)
{
	free(e->kind);
	free(e->actor);
	free(e->remote);
	free(e->text);
	memset(e, 0, sizeof(*e));
}

void
audit_event_list_free(struct audit_event *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		audit_event_free(&e[i]);
	free(e);
}

static int
audit_event_read(const struct store_cur *s, void *p)
{
	struct audit_event *e = p;
	int		 fail = 0;

	e->id = store_col_int64(s, 0);
	e->at = store_col_int64(s, 1);
	e->kind = store_col_text(s, 2, &fail);
	e->actor = store_col_text(s, 3, &fail);
	e->remote = store_col_text(s, 4, &fail);
	e->device_id = store_col_int64(s, 5);
	e->job_id = store_col_int64(s, 6);
	e->text = store_col_text(s, 7, &fail);
	if (fail) {
		audit_event_free(e);
		return store_nomem();
	}
	return 0;
}

static void
audit_event_free_row(void *p)
{
	audit_event_free(p);
}
