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
#include <time.h>

#include "admind.h"
#include "log.h"

#define CLUSTER_MAX_NOTICE	7900	/* bytes; PostgreSQL takes < 8000 */

static int	 cluster_is_on, cluster_is_leader, cluster_redecide_due;

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

void
cluster_event(const char *kind, int64_t device_id, int64_t job_id,
    const char *data)
{
	cluster_notify("%s event 0 %s %" PRId64 " %" PRId64 " %s",
	    env->cfg.node, kind, device_id, job_id, data);
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

