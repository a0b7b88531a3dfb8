/* SPDX-License-Identifier: MIT */
/*
 * admind's jobs through their lifecycle (lifecycle.h has the rules):
 * jobs_apply() stores a job event (pause, resume, stop, finish) with its
 * audit event, and jobs_settle() ends a job whose last delivery ended, or
 * pauses one past its failure threshold.  A job for all devices stays
 * active until it is stopped.  What an admin does to a job, with its
 * deliveries and the scheduler, is jobs_admin.c, a layer above.
 */
#include <inttypes.h>
#include <stdio.h>

#include "admind.h"
#include "log.h"

static const char *const jobs_audit_kinds[JOB_NEVENTS] = {
	[JOB_PAUSE] = "job.paused",
	[JOB_RESUME] = "job.resumed",
	[JOB_STOP] = "job.stopped",
	[JOB_FINISH] = "job.finished",
};

/* The job's slots are counted again after the commit (flight.c), or
 * after a rollback. */
int
jobs_apply(const struct job *job, enum job_event ev, const char *actor,
    const char *remote, const char *why)
{
	enum job_state	 to;
	int		 rc;

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
	    tx_defer(flight_forget_cb, NULL) == -1) {
		if (rc == 0)
			log_warnx("job %" PRId64 " is no longer %s", job->id,
			    job_state_name(job->state));
		tx_fail();
	}
	return tx_commit();
}

struct jobs_tally {
	int64_t	 failed;
	int64_t	 finished;	/* ended, but not canceled or declined */
	int64_t	 unfinished;
};

static void
jobs_tally_cb(void *arg, const char *name, int64_t count)
{
	struct jobs_tally	*t = arg;
	enum delivery_state	 s;

	if (delivery_state_parse(name, &s) == -1 || s == DELIVERY_CANCELED ||
	    s == DELIVERY_DECLINED)
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
		return jobs_apply(job, JOB_PAUSE, "otad", "", why);
	}
	if (t.unfinished == 0 && job->target_kind != JOB_TARGET_ALL)
		return jobs_apply(job, JOB_FINISH, "otad", "", "every delivery "
		    "ended");
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
