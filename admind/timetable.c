/* SPDX-License-Identifier: MIT */
/*
 * admind's timetable (issue 16): one timer that wakes when an active job's
 * start_at arrives or its window opens or closes (window.c does the clock
 * arithmetic).  At an opening the job's scheduled deliveries move back to
 * queued in one bulk move and its online devices are decided; at a closing
 * its queued deliveries (not yet sent) move to scheduled with the next
 * opening, while a download already under way finishes.  Above the
 * scheduler (sched.c), below jobs_admin.c, which kicks it after a job is
 * created or resumed.
 */
#include <sys/time.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "admind.h"
#include "log.h"
#include "util.h"
#include "window.h"

#define TIMETABLE_MAX_MS	(3600 * 1000)	/* look again at least hourly */
#define TIMETABLE_LATE_MS	20	/* wake just after the second */

static uv_timer_t	 timetable_timer;
static int		 timetable_ready;

static void	 timetable_wake(uv_timer_t *);

/* The job's deliveries follow its window and start_at now: the next
 * instant that changes, 0 none. */
static int64_t
timetable_job(const struct job *job, int64_t now)
{
	int64_t		 next;
	int		 may, n = 0;
	char		 why[120], when[21] = "";

	if (job->start_at == 0 && *job->window == '\0')
		return 0;
	if ((may = window_job(job->start_at, job->window, now, &next)) == -1)
		return 0;
	if (may) {
		if (delivery_move_job(job->id, DELIVERY_OPEN,
		    DELIVERY_SCHEDULED, 0, *job->window ? "the window is open" :
		    "start_at reached", &n) == -1)
			log_warnx("job %" PRId64 ": its scheduled deliveries "
			    "could not be queued", job->id);
		else if (n > 0)
			sched_job_resumed(job->id);
		return next;
	}
	if (next > 0)
		util_iso8601((time_t)next, when);
	snprintf(why, sizeof(why), "waits for its %s%s%s", job->start_at >
	    now ? "start_at" : "window", *when ? ", opening at " : "", when);
	if (delivery_move_job(job->id, DELIVERY_WAIT, DELIVERY_QUEUED, next,
	    why, &n) == -1)
		log_warnx("job %" PRId64 ": its queued deliveries could not "
		    "be scheduled", job->id);
	return next;
}

/* Every active job follows its window; the earliest change, 0 none. */
static int64_t
timetable_run(int64_t now)
{
	struct job	 job;
	int64_t		*ids = NULL, next, soonest = 0;
	size_t		 n = 0;

	if (store_jobs_active(env->store, &ids, &n) == -1)
		return now + 60;	/* try again in a minute */
	for (size_t i = 0; i < n; i++) {
		if (store_job_get(env->store, ids[i], &job) != 1)
			continue;
		next = timetable_job(&job, now);
		if (next > 0 && (soonest == 0 || next < soonest))
			soonest = next;
		job_free(&job);
	}
	free(ids);
	return soonest;
}

static void
timetable_arm(int64_t next)
{
	struct timeval	 tv;
	int64_t		 now_ms, ms = TIMETABLE_MAX_MS;

	gettimeofday(&tv, NULL);
	now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	if (next > 0 && next * 1000 - now_ms + TIMETABLE_LATE_MS < ms)
		ms = next * 1000 - now_ms + TIMETABLE_LATE_MS;
	if (ms < TIMETABLE_LATE_MS)
		ms = TIMETABLE_LATE_MS;
	uv_timer_start(&timetable_timer, timetable_wake, (uint64_t)ms, 0);
}

static void
timetable_wake(uv_timer_t *t)
{
	timetable_arm(timetable_run(time(NULL)));
}

void
timetable_kick(void)
{
	if (timetable_ready)
		timetable_wake(&timetable_timer);
}

void
timetable_kick_cb(void *arg, int committed)
{
	if (committed)
		timetable_kick();
}

void
timetable_start(void)
{
	uv_timer_init(env->loop, &timetable_timer);
	uv_unref((uv_handle_t *)&timetable_timer);
	timetable_ready = 1;
	timetable_kick();
}
