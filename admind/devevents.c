/* SPDX-License-Identifier: MIT */
/*
 * The events devices report (EVENT_LOG through hwd) as admind keeps them,
 * and the retention of the whole events table.  A device's identical
 * events in a row become one row and one log line, then "repeated N times"
 * once a minute or when something else comes; descriptions are cut to a
 * bound; a timer deletes events past event_max_days and event_max_rows in
 * small batches, so that neither one device nor time fills the disk and
 * the loop never waits on a large delete.  A device's rows are also held
 * to [hwd] rate_limit a second here, over all the hwd workers its
 * connections reach (each worker counts only its own); what is over
 * becomes one "dropped" row a second.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "log.h"
#include "util.h"

#define DEVEVENTS_BUCKETS	1024
#define DEVEVENTS_MAX_NAME	64	/* bytes of a name kept */
#define DEVEVENTS_MAX_TEXT	512	/* bytes of a description kept */
#define DEVEVENTS_REPEAT_MS	60000	/* a "repeated" row at most this often */
#define DEVEVENTS_TICK_MS	1000
#define DEVEVENTS_PRUNE_BATCH	500	/* rows a tick deletes at most */
#define DEVEVENTS_PRUNE_IDLE_MS	60000	/* after a tick with nothing to do */

/* A device's last event, while it may repeat. */
struct devevent {
	struct devevent	*next;
	int64_t		 device_id;
	char		 name[DEVEVENTS_MAX_NAME + 1];
	char		 text[DEVEVENTS_MAX_TEXT + 1];
	uint64_t	 repeats;	/* identical ones since its last row */
	uint64_t	 since_ms;	/* its last row */
	uint64_t	 last_ms;	/* the last one */
	uint64_t	 second;	/* the clock second rows counts */
	unsigned	 rows;		/* rows stored in it */
	uint64_t	 dropped;	/* events over the rate since */
};

static struct devevent	*devevents[DEVEVENTS_BUCKETS];
static uv_timer_t	 devevents_timer;
static uint64_t		 devevents_prune_at;	/* ms: next prune */

/* in cut to at most max bytes, not inside a UTF-8 sequence. */
static void
devevents_cut(char *out, const char *in, size_t max)
{
	size_t	 n = strlen(in);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)in[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, in, n);
	out[n] = '\0';
}

/* One row and one log line; a failed write is logged by the store and
 * the event stays in the log line only. */
static void
devevents_store(int64_t device_id, const char *name, const char *text)
{
	char	 field[64], label[STORE_DEVICE_LABEL];

	snprintf(field, sizeof(field), "DEVICE_ID=%" PRId64, device_id);
	store_device_label(env->store, device_id, label, sizeof(label));
	log_fields(LOG_INFO, (const char *[]){ field, NULL },
	    "%s event %s: %s", label, name, text);
	if (store_light(env->store) == -1 || store_event(env->store, name,
	    "device", "", device_id, 0, text) == -1)
		return;
	devevents_prune_at = 0;		/* the next tick looks again */
}

static void
devevents_flush(struct devevent *e, uint64_t now)
{
	char	 text[DEVEVENTS_MAX_TEXT + 64];

	if (e->repeats == 0)
		return;
	snprintf(text, sizeof(text), "repeated %" PRIu64 " time%s: %s",
	    e->repeats, e->repeats == 1 ? "" : "s", e->text);
	devevents_store(e->device_id, e->name, text);
	e->repeats = 0;
	e->since_ms = now;
}

/* The row saying how many events were over the device's rate. */
static void
devevents_flush_dropped(struct devevent *e)
{
	char	 text[128];

	if (e->dropped == 0)
		return;
	snprintf(text, sizeof(text), "dropped %" PRIu64 " event%s over "
	    "[hwd] rate_limit (%u a second)", e->dropped,
	    e->dropped == 1 ? "" : "s", env->cfg.hwd.rate_limit);
	e->dropped = 0;
	devevents_store(e->device_id, "otad", text);
}

/* Whether e's device may have one more row in clock second now. */
static int
devevents_within_rate(struct devevent *e, uint64_t now)
{
	unsigned	 limit = env->cfg.hwd.rate_limit;

	if (e->second != now / 1000) {
		devevents_flush_dropped(e);	/* the second before's */
		e->second = now / 1000;
		e->rows = 0;
	}
	if (limit != 0 && e->rows >= limit) {
		e->dropped++;
		return 0;
	}
	e->rows++;
	return 1;
}

static struct devevent **
devevents_slot(int64_t device_id)
{
	struct devevent	**pp;

	pp = &devevents[(uint64_t)device_id % DEVEVENTS_BUCKETS];
	while (*pp != NULL && (*pp)->device_id != device_id)
		pp = &(*pp)->next;
	return pp;
}

/* CTL_EVENT from hwd: a row, unless it repeats the device's last one. */
void
devevents_add(int64_t device_id, const char *name, const char *text)
{
	struct devevent	**pp = devevents_slot(device_id), *e = *pp;
	char		  n[DEVEVENTS_MAX_NAME + 1], t[DEVEVENTS_MAX_TEXT + 1];
	uint64_t	  now = util_now_ms();

	devevents_cut(n, name, DEVEVENTS_MAX_NAME);
	devevents_cut(t, text, DEVEVENTS_MAX_TEXT);
	if (e != NULL && strcmp(e->name, n) == 0 && strcmp(e->text, t) == 0) {
		e->repeats++;
		e->last_ms = now;
		return;
	}
	if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		e->device_id = device_id;
		*pp = e;
	}
	if (e != NULL && !devevents_within_rate(e, now))
		return;
	if (e != NULL) {
		devevents_flush(e, now);
		memcpy(e->name, n, sizeof(n));
		memcpy(e->text, t, sizeof(t));
		e->since_ms = e->last_ms = now;
	}
	devevents_store(device_id, n, t);
}

/* Repeats a minute old become their row; quiet devices are forgotten. */
static void
devevents_sweep(uint64_t now)
{
	struct devevent	**pp, *e;

	for (size_t i = 0; i < DEVEVENTS_BUCKETS; i++) {
		pp = &devevents[i];
		while ((e = *pp) != NULL) {
			if (now - e->since_ms >= DEVEVENTS_REPEAT_MS)
				devevents_flush(e, now);
			if (e->second != now / 1000)
				devevents_flush_dropped(e);
			if (e->repeats == 0 && e->dropped == 0 &&
			    now - e->last_ms >= DEVEVENTS_REPEAT_MS) {
				*pp = e->next;
				free(e);
			} else
				pp = &e->next;
		}
	}
}

/* One batch of retention; the next tick goes on while batches are full. */
static void
devevents_prune(uint64_t now)
{
	const struct cfg *cfg = &env->cfg;
	int64_t		  before = 0;
	int		  n;

	if (now < devevents_prune_at || (cfg->admind.event_max_days == 0 &&
	    cfg->admind.event_max_rows == 0))
		return;
	if (cfg->admind.event_max_days > 0)
		before = (int64_t)time(NULL) -
		    (int64_t)cfg->admind.event_max_days * 86400;
	if (store_light(env->store) == -1 ||
	    (n = store_events_prune(env->store, before,
	    cfg->admind.event_max_rows, DEVEVENTS_PRUNE_BATCH)) == -1) {
		devevents_prune_at = now + DEVEVENTS_PRUNE_IDLE_MS;
		return;
	}
	if (n < DEVEVENTS_PRUNE_BATCH)
		devevents_prune_at = now + DEVEVENTS_PRUNE_IDLE_MS;
}

static void
devevents_tick(uv_timer_t *t)
{
	uint64_t	 now = util_now_ms();

	(void)t;
	devevents_sweep(now);
	devevents_prune(now);
}

void
devevents_start(void)
{
	uv_timer_init(env->loop, &devevents_timer);
	uv_unref((uv_handle_t *)&devevents_timer);
	uv_timer_start(&devevents_timer, devevents_tick, DEVEVENTS_TICK_MS,
	    DEVEVENTS_TICK_MS);
}
