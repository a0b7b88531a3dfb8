/* SPDX-License-Identifier: MIT */
/*
 * What this node tells the other nodes sharing its database, and whether
 * it runs the cluster's shared chores (cluster.c, which listens, keeps
 * that state).  Notices go through the store (pg_notify on channel
 * "otad").  Two ways, by what losing one costs: a job started, a device
 * to drop or to decide for are sent inside the writer's transaction
 * (cluster_notify), so that they go exactly when it commits, even if
 * admind dies right after; events and freed slots, many and best effort,
 * are gathered after their commit into one notice per turn of the loop
 * (cluster_flush).  Without a shared database nothing is sent, and this
 * node runs every chore.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
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
static struct buf cluster_lines;	/* committed, not sent yet */
static int64_t	 cluster_kicked[16];	/* jobs among them */
static size_t	 cluster_nkicked;

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
cluster_decide(int64_t device_id)
{
	cluster_notify("%s decide %" PRId64, env->cfg.node, device_id);
}

void
cluster_drop(int64_t device_id, int forget, const char *why)
{
	cluster_notify("%s %s %" PRId64 " %s", env->cfg.node,
	    forget ? "forget" : "drop", device_id, why);
}

/*
 * Events go to the other nodes only while one of them has event stream
 * subscribers (it says "watch" at once, then every tick).  Events and
 * kicks committed during a turn of the loop go together, as the lines of
 * one notice at its end (cluster_flush), not a transaction each; a job's
 * slots freed in a turn make one kick.
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
	cluster_nkicked = 0;
	if (cluster_lines.len == 0)
		return;
	if (store_notify(env->store, "otad", buf_cstr(&cluster_lines)) == -1)
		log_warnx("cluster: the other nodes were not told of some "
		    "events and free slots");
	buf_reset(&cluster_lines);
}

/* A line for the turn's notice. */
static void
cluster_append(const char *line)
{
	size_t	 n = strlen(line);

	if (n > CLUSTER_MAX_NOTICE)
		return;
	if (cluster_lines.len + 1 + n > CLUSTER_MAX_NOTICE)
		cluster_flush();
	if (cluster_lines.len > 0)
		buf_addc(&cluster_lines, '\n');
	buf_add(&cluster_lines, line, n);
}

static void
cluster_line_committed(void *arg, int committed)
{
	if (committed)
		cluster_append(arg);
	free(arg);
}

static void
cluster_kick_committed(void *arg, int committed)
{
	int64_t	 job_id = (int64_t)(intptr_t)arg;
	char	 line[CFG_NODE_MAX + 48];
	size_t	 i;

	for (i = 0; i < cluster_nkicked; i++)
		if (cluster_kicked[i] == job_id)
			return;
	if (!committed)
		return;
	if (cluster_nkicked < nitems(cluster_kicked))
		cluster_kicked[cluster_nkicked++] = job_id;
	snprintf(line, sizeof(line), "%s kick %" PRId64, env->cfg.node,
	    job_id);
	cluster_append(line);
}

void
cluster_kick(int64_t job_id)
{
	if (cluster_is_on)
		(void)tx_defer(cluster_kick_committed,
		    (void *)(intptr_t)job_id);
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
	(void)tx_defer(cluster_line_committed, line);
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

