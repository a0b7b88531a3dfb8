/* SPDX-License-Identifier: MIT */
/*
 * The webhook queue in admind's SQLite store (see store.h): one row per
 * event and receiver URL until the receiver took it, with its attempts
 * and when the next one is due, so that no event is lost across a
 * restart.  Every write is light: it joins the caller's transaction (an
 * event of a stored transition) or the loop turn's batch.  Part of the
 * store that admind links.
 */
#include <stdlib.h>
#include <string.h>


#include "store_int.h"

static const struct store_query q_webhook_add = { .slot = Q_WEBHOOK_ADD,
    .name = "webhook queue add",
    .sql = "INSERT INTO webhook_queue (url, kind, body, created_at)"
	" VALUES (?, ?, ?, ?)",
    .light = 1 };
static const struct store_query q_webhook_head = { .slot = Q_WEBHOOK_HEAD,
    .name = "webhook queue head",
    .sql = "SELECT id, kind, body, attempts, created_at FROM webhook_queue"
	" WHERE url = ? ORDER BY id LIMIT 1" };
static const struct store_query q_webhook_delete = { .slot = Q_WEBHOOK_DELETE,
    .name = "webhook queue delete",
    .sql = "DELETE FROM webhook_queue WHERE id = ?",
    .light = 1 };
static const struct store_query q_webhook_failed = { .slot = Q_WEBHOOK_FAILED,
    .name = "webhook queue failed attempt",
    .sql = "UPDATE webhook_queue SET attempts = attempts + 1, next_at = ?"
	" WHERE id = ?",
    .light = 1 };
static const struct store_query q_webhook_drop = { .slot = Q_WEBHOOK_DROP,
    .name = "webhook queue drop oldest",
    .sql = "DELETE FROM webhook_queue WHERE id = (SELECT min(id)"
	" FROM webhook_queue WHERE url = ?)",
    .light = 1 };
static const struct store_query q_webhook_counts = { .slot = Q_WEBHOOK_COUNTS,
    .name = "webhook queue counts",
    .sql = "SELECT url, count(*) FROM webhook_queue GROUP BY url" };
static const struct store_query q_webhook_forget = { .slot = Q_WEBHOOK_FORGET,
    .name = "webhook queue forget URL",
    .sql = "DELETE FROM webhook_queue WHERE url = ?",
    .light = 1 };

static int	 webhook_event_read(const struct store_cur *, void *);

static const struct store_row webhook_event_row =
    { sizeof(struct webhook_event), webhook_event_read, NULL };

int
store_webhook_add(struct store *st, const char *url, const char *kind,
    const char *body)
{
	return store_run(st, &q_webhook_add, "sssI", url, kind, body,
	    store_now());
}

int
store_webhook_head(struct store *st, const char *url, struct webhook_event *e)
{
	return store_one(st, &q_webhook_head, &webhook_event_row, e, "s", url);
}

int
store_webhook_delete(struct store *st, int64_t id)
{
	if (store_run(st, &q_webhook_delete, "I", id) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_webhook_failed(struct store *st, int64_t id, int64_t next_at)
{
	return store_run(st, &q_webhook_failed, "II", next_at, id);
}

int
store_webhook_drop_oldest(struct store *st, const char *url)
{
	if (store_run(st, &q_webhook_drop, "s", url) == -1)
		return -1;
	return store_changes(st) > 0;
}

int
store_webhook_counts(struct store *st,
    void (*cb)(void *, const char *, int64_t), void *arg)
{
	const struct store_cur *s;
	int		 rc;

	if ((s = store_start(st, &q_webhook_counts, "")) == NULL)
		return -1;
	while ((rc = store_step(st, &q_webhook_counts)) == STORE_ROW)
		cb(arg, store_col_str(s, 0),
		    store_col_int64(s, 1));
	store_done(st, &q_webhook_counts);
	return rc == STORE_DONE ? 0 : -1;
}

int
store_webhook_forget(struct store *st, const char *url, int64_t *n)
{
	*n = 0;
	if (store_run(st, &q_webhook_forget, "s", url) == -1)
		return -1;
	*n = store_changes(st);
	return 0;
}

void
webhook_event_free(struct webhook_event *e)
{
	free(e->kind);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

static int
webhook_event_read(const struct store_cur *s, void *p)
{
	struct webhook_event	*e = p;
	int			 fail = 0;

	e->id = store_col_int64(s, 0);
	e->kind = store_col_text(s, 1, &fail);
	e->body = store_col_text(s, 2, &fail);
	e->attempts = store_col_int(s, 3);
	e->created_at = store_col_int64(s, 4);
	if (fail) {
		webhook_event_free(e);
		return store_nomem();
	}
	return 0;
}
