/* SPDX-License-Identifier: MIT */
/*
 * The audit log in admind's SQLite store (see store.h): one row per admin
 * action or delivery transition, and the retention that prunes the oldest
 * rows in bounded batches.  Part of the store that admind links.
 */
#include <sqlite3.h>

#include "store_int.h"

static const struct store_query q_event = { .slot = Q_EVENT,
    .name = "event",
    .sql = "INSERT INTO events (at, kind, actor, remote, device_id, job_id,"
	" text) VALUES (?, ?, ?, ?, ?, ?, ?)" };
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
		n = sqlite3_changes(st->db);
	}
	if (keep > 0 && n < max) {
		if (store_run(st, &q_events_prune_rows, "II", keep,
		    max - n) == -1)
			return -1;
		n += sqlite3_changes(st->db);
	}
	return n;
}
