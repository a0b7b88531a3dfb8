/* SPDX-License-Identifier: MIT */
/*
 * What this node tells the other nodes sharing its database, and whether
 * it runs the cluster's shared chores (cluster.c, which listens, keeps
 * that state).  Notices go through the store (pg_notify on channel
 * "otad"), so that one written inside a transaction is sent when it
 * commits, and not at all when it does not.  Without a shared database
 * nothing is sent, and this node runs every chore.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "buf.h"
#include "log.h"
#include "util.h"

#define CLUSTER_MAX_NOTICE	7900	/* bytes; PostgreSQL takes < 8000 */
#define CLUSTER_WATCH_MS	6000	/* a node's "watch" holds this long */

static int	 cluster_is_on, cluster_is_leader, cluster_redecide_due;
static uint64_t	 cluster_watched_until;	/* ms: another node has event
					 * stream subscribers */
static struct buf cluster_events;	/* committed, not sent yet: lines */

int
cluster_on(void)
{
	return cluster_is_on;
}

int
cluster_leader(void)
{
	return !cluster_is_on || cluster_is_leader;
}

void
cluster_redecide(void)
{
	if (cluster_is_on)
		cluster_redecide_due = 1;
}

int
cluster_redecide_take(void)
{
	int	 due = cluster_redecide_due;

	cluster_redecide_due = 0;
	return due;
}

void
cluster_set(int on, int leader)
{
	cluster_is_on = on;
	cluster_is_leader = leader;
}

/* A notice to the other nodes, sent when the caller's transaction
 * commits; what does not fit is not sent (logged). */
static void
cluster_notify(const char *fmt, ...)
{
	char	 text[CLUSTER_MAX_NOTICE + 1];
	va_list	 ap;
	int	 n;

	if (!cluster_is_on)
		return;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || n > CLUSTER_MAX_NOTICE) {
		log_warnx("cluster: a notice of %d bytes is too long for the "
		    "other nodes", n);
		return;
	}
	if (store_notify(env->store, "otad", text) == -1)
		log_warnx("cluster: the other nodes were not told: %.60s",
		    text);
}

void
cluster_job(int64_t job_id)
{
	cluster_notify("%s job %" PRId64, env->cfg.node, job_id);
}

void
cluster_kick(int64_t job_id)
{
	cluster_notify("%s kick %" PRId64, env->cfg.node, job_id);
}

void
cluster_drop(int64_t device_id, int forget, const char *why)
{
	cluster_notify("%s %s %" PRId64 " %s", env->cfg.node,
	    forget ? "forget" : "drop", device_id, why);
}

/*
 * Events go to the other nodes only while one of them has event stream
 * subscribers (it says "watch" at once, then every tick), and they go
 * together: those committed during a turn of the loop make one notice of
 * lines at its end (cluster_flush), not a transaction each.
 */
void
cluster_watch(void)
{
	cluster_notify("%s watch 0", env->cfg.node);
}

void
cluster_watch_heard(void)
{
	cluster_watched_until = util_now_ms() + CLUSTER_WATCH_MS;
}

int
cluster_watched(void)
{
	return cluster_is_on && util_now_ms() < cluster_watched_until;
}

void
cluster_flush(void)
{
	if (cluster_events.len == 0)
		return;
	if (store_notify(env->store, "otad", buf_cstr(&cluster_events)) == -1)
		log_warnx("cluster: the other nodes' event streams miss "
		    "some events");
	buf_reset(&cluster_events);
}

static void
cluster_event_committed(void *arg, int committed)
{
	char	*line = arg;
	size_t	 n = strlen(line);

	if (committed && n <= CLUSTER_MAX_NOTICE) {
		if (cluster_events.len + 1 + n > CLUSTER_MAX_NOTICE)
			cluster_flush();
		if (cluster_events.len > 0)
			buf_addc(&cluster_events, '\n');
		buf_add(&cluster_events, line, n);
	}
	free(line);
}

void
cluster_event(const char *kind, int64_t device_id, int64_t job_id,
    const char *data)
{
	char	*line;

	if (!cluster_watched())
		return;
	if (asprintf(&line, "%s event 0 %s %" PRId64 " %" PRId64 " %s",
	    env->cfg.node, kind, device_id, job_id, data) == -1) {
		log_warnx("cluster: out of memory: an event is not sent");
		return;
	}
	(void)tx_defer(cluster_event_committed, line);
}

/* The device's first connection on this node came (on) or its last
 * went: the sessions table says where it is. */
void
cluster_session(int64_t device_id, int on)
{
	if (!cluster_is_on)
		return;
	if (store_light(env->store) == -1 || (on ?
	    store_session_add(env->store, device_id, env->cfg.node,
	    (int64_t)time(NULL)) : store_session_remove(env->store,
	    device_id, env->cfg.node)) == -1)
		log_warnx("device %" PRId64 ": where it is connected is not "
		    "stored", device_id);
}

