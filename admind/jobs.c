/* SPDX-License-Identifier: MIT */
/*
 * admind's jobs through their lifecycle (lifecycle.h has the rules): one
 * function creates a job with all its deliveries and its audit event in
 * one transaction (both the JSON API and the legacy upload use it), one
 * applies a job event (pause, resume, stop, finish), and jobs_settle()
 * ends a job whose last delivery ended, or pauses one past its failure
 * threshold.  A job for all devices stays active until it is stopped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "log.h"

static const char *const jobs_audit_kinds[JOB_NEVENTS] = {
	[JOB_PAUSE] = "job.paused",
	[JOB_RESUME] = "job.resumed",
	[JOB_STOP] = "job.stopped",
	[JOB_FINISH] = "job.finished",
};

struct jobs_started {
	int64_t	 job_id;
	int64_t	*devices;
	size_t	 n;
};

struct jobs_changed {
	int64_t		 job_id;
	enum job_state	 to;
};

static void
jobs_changed_run(void *arg, int committed)
{
	struct jobs_changed *c = arg;

	if (committed)
		sched_job_changed(c->job_id, c->to);
	else
		flight_forget();
	free(c);
}

static int
jobs_defer_changed(int64_t job_id, enum job_state to)
{
	struct jobs_changed *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->job_id = job_id;
	c->to = to;
	return tx_defer(jobs_changed_run, c);
}

int
jobs_apply(const struct job *job, enum job_event ev, const char *actor,
    const char *remote, const char *why, int *canceled)
{
	enum job_state	 to;
	int		 n = 0, rc;

	if (canceled != NULL)
		*canceled = 0;
	if (job_next(job->state, ev, &to) == -1) {
		log_warnx("job %" PRId64 ": %s is not allowed in state %s",
		    job->id, job_event_name(ev), job_state_name(job->state));
		return -1;
	}
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if ((rc = store_job_set_state(env->store, job->id, job->state,
	    to)) != 1 ||
	    audit(jobs_audit_kinds[ev], actor, remote, 0, job->id, why) == -1 ||
	    (ev == JOB_STOP && delivery_cancel_job(job->id, "the job was "
	    "stopped", &n) == -1) ||
	    jobs_defer_changed(job->id, to) == -1) {
		if (rc == 0)
			log_warnx("job %" PRId64 " is no longer %s", job->id,
			    job_state_name(job->state));
		tx_fail();
	}
	if (tx_commit() == -1)
		return -1;
	if (canceled != NULL)
		*canceled = n;
	return 0;
}

struct jobs_tally {
	int64_t	 failed;
	int64_t	 finished;	/* ended, but not canceled */
	int64_t	 unfinished;
};

static void
jobs_tally_cb(void *arg, const char *name, int64_t count)
{
	struct jobs_tally	*t = arg;
	enum delivery_state	 s;

	if (delivery_state_parse(name, &s) == -1 || s == DELIVERY_CANCELED)
		return;
	if (s == DELIVERY_FAILED)
		t->failed += count;
	if (delivery_state_ended(s))
		t->finished += count;
	else
		t->unfinished += count;
}

/* Paused for too many failures, finished with nothing left, or as is. */
static int
jobs_settle_one(const struct job *job)
{
	struct jobs_tally t = { 0, 0, 0 };
	char		 why[200];

	if (store_job_counts(env->store, job->id, jobs_tally_cb, &t) == -1)
		return -1;
	if (job->state == JOB_ACTIVE && job->failure_threshold > 0 &&
	    t.finished > 0 &&
	    t.failed * 100 > (int64_t)job->failure_threshold * t.finished) {
		snprintf(why, sizeof(why), "job paused itself: %" PRId64 " of %"
		    PRId64 " finished deliveries failed, over its failure "
		    "threshold of %d%%; resume or stop it", t.failed,
		    t.finished, job->failure_threshold);
		return jobs_apply(job, JOB_PAUSE, "otad", "", why, NULL);
	}
	if (t.unfinished == 0 && job->target_kind != JOB_TARGET_ALL)
		return jobs_apply(job, JOB_FINISH, "otad", "", "every delivery "
		    "ended", NULL);
	return 0;
}

int
jobs_settle(int64_t job_id)
{
	struct job	 job;
	int		 rc = 0;

	if (store_job_get(env->store, job_id, &job) != 1)
		return -1;
	if (!job_state_ended(job.state))
		rc = jobs_settle_one(&job);
	job_free(&job);
	return rc;
}

static void
jobs_started_run(void *arg, int committed)
{
	struct jobs_started *s = arg;

	if (committed)
		sched_job_started(s->job_id, s->devices, s->n);
	free(s->devices);
	free(s);
}

/* After the commit, the online devices among the targets are decided. */
static int
jobs_defer_started(int64_t job_id, const int64_t *devices, size_t n)
{
	struct jobs_started *s;

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
	return tx_defer(jobs_started_run, s);
}

static int
jobs_deliveries(const struct job *job, const int64_t *devices, size_t n)
{
	int64_t	 id;

	for (size_t i = 0; i < n; i++)
		if (store_delivery_create(env->store, job->id, devices[i],
		    &id) == -1)
			return -1;
	return 0;
}

int
jobs_create(struct job *job, const int64_t *devices, size_t n,
    const char *actor, const char *remote)
{
	char	 text[160];

	job->state = JOB_ACTIVE;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (store_job_create(env->store, job, &job->id) == -1 ||
	    jobs_deliveries(job, devices, n) == -1 ||
	    delivery_cancel_older(job->id) == -1)
		tx_fail();
	snprintf(text, sizeof(text), "created for firmware %" PRId64 ", %zu "
	    "device%s%s", job->firmware_id, n, n == 1 ? "" : "s",
	    job->target_kind == JOB_TARGET_ALL ? " now and every device "
	    "added later" : "");
	if (!tx_ok() || audit("job.created", actor, remote,
	    job->target_kind == JOB_TARGET_DEVICES && n == 1 ? devices[0] : 0,
	    job->id, text) == -1 ||
	    jobs_defer_started(job->id, devices, n) == -1)
		tx_fail();
	return tx_commit();
}
