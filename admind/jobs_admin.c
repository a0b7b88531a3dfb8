/* SPDX-License-Identifier: MIT */
/*
 * What an admin does to admind's jobs, above jobs.c, delivery.c and the
 * scheduler: jobs_admin_create() stores a job with all its deliveries,
 * cancels what older jobs still had for those devices and writes the
 * audit event, in one transaction (both the JSON API and the legacy
 * upload use it), its deliveries scheduled when it may not start yet; jobs_admin_change() stops, pauses or resumes one, with
 * its deliveries.  The scheduler hears of a new or resumed job once the
 * transaction committed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "util.h"
#include "window.h"

struct jobs_admin_started {
	int64_t	 job_id;
	int64_t	*devices;
	size_t	 n;
};

static void
jobs_admin_started_run(void *arg, int committed)
{
	struct jobs_admin_started *s = arg;

	if (committed) {
		cluster_job(s->job_id);
		sched_job_started(s->job_id, s->devices, s->n);
		s->devices = NULL;
	}
	free(s->devices);
	free(s);
}

/* After the commit, the online devices among the targets are decided. */
static int
jobs_admin_defer_started(int64_t job_id, const int64_t *devices, size_t n)
{
	struct jobs_admin_started *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->job_id = job_id;
	s->n = n;
	if (n > 0 && (s->devices = malloc(n * sizeof(*devices))) == NULL) {
		free(s);
		return -1;
	}
	if (n > 0)
		memcpy(s->devices, devices, n * sizeof(*devices));
	return tx_defer(jobs_admin_started_run, s);
}

/* The job's deliveries: for the devices given, or in one statement for
 * all devices or the job's tag (devices NULL). */
static int
jobs_admin_deliveries(const struct job *job, const int64_t *devices,
    size_t *n)
{
	int64_t	 id, added;

	if (devices == NULL) {
		if (store_job_add_devices(env->store, job->id,
		    job->target_kind == JOB_TARGET_TAG ? job->target : NULL,
		    &added) == -1)
			return -1;
		*n = (size_t)added;
		return 0;
	}
	for (size_t i = 0; i < *n; i++)
		if (store_delivery_create(env->store, job->id, devices[i],
		    &id) == -1)
			return -1;
	return 0;
}

/* A job created before its start_at or outside its window: its
 * deliveries are scheduled at once, until the opening. */
static int
jobs_admin_schedule(const struct job *job)
{
	int64_t	 now = time(NULL), next;
	int	 n, may = window_job(job->start_at, job->window, now, &next);
	char	 why[120], when[21] = "";

	if (may != 0)
		return may == 1 ? 0 : -1;
	if (next > 0)
		util_iso8601((time_t)next, when);
	snprintf(why, sizeof(why), "waits for its %s%s%s", job->start_at >
	    now ? "start_at" : "window", *when ? ", opening at " : "", when);
	return delivery_move_job(job->id, DELIVERY_WAIT, DELIVERY_QUEUED, next,
	    why, &n);
}

int
jobs_admin_create(struct job *job, const int64_t *devices, size_t *np,
    const char *actor, const char *remote)
{
	char	 text[160];
	size_t	 n;

	job->state = JOB_ACTIVE;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (store_job_create(env->store, job, &job->id) == -1 ||
	    jobs_admin_deliveries(job, devices, np) == -1 ||
	    delivery_cancel_older(job->id) == -1 ||
	    jobs_admin_schedule(job) == -1)
		tx_fail();
	n = *np;
	snprintf(text, sizeof(text), "created for firmware %" PRId64 ", %zu "
	    "device%s%s", job->firmware_id, n, n == 1 ? "" : "s",
	    job->target_kind == JOB_TARGET_ALL ? " now and every device "
	    "added later" : "");
	if (!tx_ok() || audit("job.created", actor, remote,
	    job->target_kind == JOB_TARGET_DEVICES && n == 1 ? devices[0] : 0,
	    job->id, text) == -1 ||
	    jobs_admin_defer_started(job->id, devices, devices ? n : 0) == -1 ||
	    tx_defer(timetable_kick_cb, NULL) == -1)
		tx_fail();
	return tx_commit();
}

static void
jobs_admin_resumed_run(void *arg, int committed)
{
	int64_t	*job_id = arg;

	if (committed) {
		cluster_job(*job_id);
		sched_job_resumed(*job_id);
	}
	free(job_id);
}

/* After the commit, the resumed job's queued deliveries are looked at. */
static int
jobs_admin_defer_resumed(int64_t job_id)
{
	int64_t	*p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -1;
	*p = job_id;
	return tx_defer(jobs_admin_resumed_run, p);
}

int
jobs_admin_change(const struct job *job, enum job_event ev,
    const char *actor, const char *remote, const char *why, int *canceled)
{
	int	 n = 0;

	*canceled = 0;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (jobs_apply(job, ev, actor, remote, why) == -1 ||
	    (ev == JOB_STOP && delivery_cancel_job(job->id, "the job was "
	    "stopped", &n) == -1) ||
	    (ev == JOB_RESUME && (jobs_admin_defer_resumed(job->id) == -1 ||
	    tx_defer(timetable_kick_cb, NULL) == -1)))
		tx_fail();
	if (tx_commit() == -1)
		return -1;
	*canceled = n;
	return 0;
}
