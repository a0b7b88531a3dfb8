/* SPDX-License-Identifier: MIT */
/*
 * admind's store, its core (see store.h and store_int.h): opens the
 * database with its engine (SQLite in state_dir, or PostgreSQL at
 * [otad] database), runs the transactions (every committed transition is
 * on disk before it is acted on) and the light batches, and binds, steps
 * and reads the per-store cached prepared statements whose SQL lives in
 * the store_<entity>.c files.  Only admind (and `otad init`) link it; a
 * store has a single connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

static const struct store_query q_begin = { .slot = Q_BEGIN,
    .name = "begin",
    .sql = "BEGIN IMMEDIATE",
    .sql_pg = "BEGIN; SET LOCAL synchronous_commit = on" };
static const struct store_query q_commit = { .slot = Q_COMMIT,
    .name = "commit",
    .sql = "COMMIT",
    .light = 1 };
static const struct store_query q_rollback = { .slot = Q_ROLLBACK,
    .name = "rollback",
    .sql = "ROLLBACK",
    .light = 1 };
static const struct store_query q_sync_normal = { .slot = Q_SYNC_NORMAL,
    .name = "light sync",
    .sql = "PRAGMA synchronous = NORMAL",
    .light = 1 };
static const struct store_query q_sync_full = { .slot = Q_SYNC_FULL,
    .name = "full sync",
    .sql = "PRAGMA synchronous = FULL",
    .light = 1 };

static void	 store_sync_full(struct store *);
static int	 store_batchable(const struct store_query *);
static const struct store_cur *store_prepare(struct store *,
		    const struct store_query *, const char *, va_list);
static int	 store_cache(struct store *, const struct store_query *);
static int	 id_read(const struct store_cur *, void *);

const struct store_row store_id_row = { sizeof(int64_t), id_read, NULL };

struct store *
store_new(const struct store_engine *engine, void *db)
{
	struct store	*st;
	size_t		 i;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->engine = engine;
	st->db = db;
	for (i = 0; i < Q_MAX; i++)
		st->cur[i].engine = engine;
	return st;
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	store_flush(st);
	for (i = 0; i < Q_MAX; i++)
		if (st->cur[i].h != NULL)
			st->engine->finalize(st, st->cur[i].h);
	st->engine->close(st);
	free(st);
}

/* Forgets every prepared statement (a new connection has none). */
void
store_forget(struct store *st)
{
	size_t	 i;

	for (i = 0; i < Q_MAX; i++) {
		if (st->cur[i].h != NULL)
			st->engine->finalize(st, st->cur[i].h);
		st->cur[i].h = NULL;
		st->query[i] = NULL;
	}
	st->batch = 0;
}

int
store_begin(struct store *st)
{
	return store_run(st, &q_begin, "");
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
 *
 * On a database shared by several nodes a batch would hold its rows
 * locked until the loop's turn ends, and two nodes' batches, each
 * holding what the other wants, deadlock.  There each fact commits on
 * its own, without waiting for the server's disk (the engine's session
 * default; its transactions wait), which is the same promise.
 */
int
store_light(struct store *st)
{
	if (st->batch || st->engine->in_tx(st))
		return 0;		/* joins the open batch or transaction */
	if (st->engine->shared)
		return 0;		/* see below */
	if (store_run(st, &q_sync_normal, "") == -1)
		return -1;
	if (store_run(st, &q_begin, "") == 0) {
		st->batch = 1;
		return 0;
	}
	store_sync_full(st);
	return -1;
}

void
store_poll(struct store *st)
{
	if (st->engine->poll != NULL)
		st->engine->poll(st);
}

void
store_flush(struct store *st)
{
	if (!st->batch)
		return;
	st->batch = 0;
	if (store_run(st, &q_commit, "") == -1)
		store_rollback(st);
	store_sync_full(st);
}

/* Back to synchronous=FULL after a light batch.  A pragma on the
 * connection does no I/O; should it fail all the same (logged by
 * store_run), say what that means. */
static void
store_sync_full(struct store *st)
{
	if (store_run(st, &q_sync_full, "") == -1)
		log_warnx("store: commits may go without an fsync until the "
		    "next light batch ends");
}

/* May this statement run inside a batch?  Reads and the batch's writes. */
static int
store_batchable(const struct store_query *q)
{
	return q->light || strncmp(q->sql, "SELECT", 6) == 0;
}

int
store_commit(struct store *st)
{
	return store_run(st, &q_commit, "");
}

/* A failed statement may have rolled back already: then nothing to do.
 * A failed ROLLBACK is logged by store_run; the caller, on its failure
 * path already, could do nothing better with it. */
void
store_rollback(struct store *st)
{
	if (!st->engine->in_tx(st))
		return;
	if (store_run(st, &q_rollback, "") == -1 && st->engine->in_tx(st))
		log_warnx("store: the transaction is still open after a "
		    "failed rollback");
}

int
store_disk_full(struct store *st)
{
	int	 full = st->full;

	st->full = 0;
	return full;
}

/* The cached statement for q, prepared on first use, with fmt bound. */
static const struct store_cur *
store_prepare(struct store *st, const struct store_query *q, const char *fmt,
    va_list ap)
{
	if (st->batch && !store_batchable(q))
		store_flush(st);
	if (st->engine->check != NULL && st->engine->check(st, q) == -1)
		return NULL;
	if (st->query[q->slot] != q && store_cache(st, q) == -1)
		return NULL;
	if (st->engine->bind(st, st->cur[q->slot].h, q, fmt, ap) == -1) {
		store_done(st, q);
		return NULL;
	}
	return &st->cur[q->slot];
}

/* Prepares q into its slot of the cache; a slot taken by another query is
 * a mistake in store_int.h's enum store_q, refused. */
static int
store_cache(struct store *st, const struct store_query *q)
{
	if (st->query[q->slot] != NULL) {
		log_warnx("store: %s: its slot is taken by %s", q->name,
		    st->query[q->slot]->name);
		return -1;
	}
	if (st->engine->prepare(st, q, &st->cur[q->slot].h) == -1)
		return -1;
	st->query[q->slot] = q;
	return 0;
}

/*
 * store_start's, store_run's, store_one's and store_list's fmt: one
 * character per parameter 1, 2, ..., its value from the arguments:
 *	i int, I int64_t, U uint64_t, N int64_t id (<= 0 binds NULL),
 *	s text (NULL binds ""), n text (NULL binds NULL),
 *	b a blob: a pointer, then its size_t length.
 * Text is bound without a copy: it must live until store_done().
 */
const struct store_cur *
store_start(struct store *st, const struct store_query *q, const char *fmt,
    ...)
{
	const struct store_cur	*c;
	va_list			 ap;

	va_start(ap, fmt);
	c = store_prepare(st, q, fmt, ap);
	va_end(ap);
	return c;
}

/* STORE_ROW, STORE_DONE, -2 for an expected UNIQUE violation, or -1. */
int
store_step(struct store *st, const struct store_query *q)
{
	return st->engine->step(st, st->cur[q->slot].h, q);
}

void
store_done(struct store *st, const struct store_query *q)
{
	st->engine->reset(st, st->cur[q->slot].h);
}

int
store_socket(struct store *st, unsigned *serial)
{
	*serial = 0;
	return st->engine->socket != NULL ? st->engine->socket(st, serial) :
	    -1;
}

int
store_unreachable(struct store *st)
{
	return st->engine->unreachable != NULL && st->engine->unreachable(st);
}

int64_t
store_changes(struct store *st)
{
	return st->engine->changes(st);
}

/* Runs a statement that returns no rows: 0, -2 (see store_step) or -1. */
int
store_run(struct store *st, const struct store_query *q, const char *fmt, ...)
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
	if (rc == STORE_ROW) {
		log_warnx("store: %s: unexpected row", q->name);
		return -1;
	}
	return rc == STORE_DONE ? 0 : rc;
}

void
store_ask(struct store *st, const struct store_query *q,
    store_answer_fn *done, void *arg, const char *fmt, ...)
{
	const struct store_cur *c;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	c = store_prepare(st, q, fmt, ap);
	va_end(ap);
	if (c == NULL) {
		done(arg, -1, NULL);
		return;
	}
	if (st->engine->ask != NULL && !st->engine->in_tx(st)) {
		rc = st->engine->ask(st, c->h, q, done, arg);
		store_done(st, q);
		if (rc == -1)
			done(arg, -1, NULL);
		return;
	}
	rc = store_step(st, q);
	done(arg, rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : -1,
	    rc == STORE_ROW ? c : NULL);
	store_done(st, q);
}

/* Reads the first row into out (zeroed first): 1 found, 0 none, -1. */
int
store_one(struct store *st, const struct store_query *q,
    const struct store_row *row, void *out, const char *fmt, ...)
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
	if (rc == STORE_ROW)
		rc = row->read(&st->cur[q->slot], out) == -1 ? -1 : 1;
	store_done(st, q);
	return rc;
}

/* Reads every row into a malloc'd array at *(void **)out. */
int
store_list(struct store *st, const struct store_query *q,
    const struct store_row *row, void *out, size_t *n, const char *fmt, ...)
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
	while ((rc = store_step(st, q)) == STORE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((p = reallocarray(arr, cap, row->size)) == NULL) {
				rc = store_nomem();
				break;
			}
			arr = p;
		}
		if (row->read(&st->cur[q->slot], arr + cnt * row->size) == -1) {
			rc = -1;
			break;
		}
		cnt++;
	}
	store_done(st, q);
	if (rc != STORE_DONE) {
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
int
store_tx_open(struct store *st, int *own)
{
	store_flush(st);
	*own = !st->engine->in_tx(st);
	return *own ? store_begin(st) : 0;
}

/* Commits an own transaction when rv is 0, else rolls it back. */
int
store_tx_close(struct store *st, int own, int rv)
{
	if (!own)
		return rv;
	if (rv == 0 && store_commit(st) == 0)
		return 0;
	store_rollback(st);
	return -1;
}

int
store_nomem(void)
{
	log_warnx("store: out of memory");
	return -1;
}

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
store_col_int64(const struct store_cur *c, int i)
{
	return c->engine->col_int64(c->h, i);
}

int
store_col_int(const struct store_cur *c, int i)
{
	return (int)c->engine->col_int64(c->h, i);
}

int
store_col_null(const struct store_cur *c, int i)
{
	return c->engine->col_str(c->h, i) == NULL;
}

/* Column i's text, "" for NULL, valid until the next step. */
const char *
store_col_str(const struct store_cur *c, int i)
{
	const char	*t = c->engine->col_str(c->h, i);

	return t != NULL ? t : "";
}

const void *
store_col_blob(const struct store_cur *c, int i, size_t *len)
{
	return c->engine->col_blob(c->h, i, len);
}

/* A malloc'd copy of a text column, "" for NULL; sets *fail on ENOMEM. */
char *
store_col_text(const struct store_cur *c, int i, int *fail)
{
	char	*p;

	if ((p = strdup(store_col_str(c, i))) == NULL)
		*fail = 1;
	return p;
}

void
store_col_copy(const struct store_cur *c, int i, char *buf, size_t size)
{
	snprintf(buf, size, "%s", store_col_str(c, i));
}

static int
id_read(const struct store_cur *c, void *p)
{
	*(int64_t *)p = store_col_int64(c, 0);
	return 0;
}
