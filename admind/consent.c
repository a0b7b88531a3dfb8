/* SPDX-License-Identifier: MIT */
/*
 * admind's updates that wait for a yes (a job's confirm): asking the
 * device over its Blynk connection (hwd writes its consent pin), asking
 * again when it logs in and when a defer runs out, and the answers, the
 * device's (hwd's CTL_CONSENT) and an admin's (api_consent.c).  Every
 * answer is a transition through delivery.c; the scheduler, a layer
 * above, sends an accepted delivery as any queued one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "log.h"

static void	consent_timer_run(uv_timer_t *);

static uv_timer_t consent_timer;
static int	 consent_timer_on;
static int64_t	 consent_timer_at;	/* unix s the timer fires at */
static int64_t	 consent_checked;	/* defers up to this s were asked */

/* The pin write of an update pending, for a job with confirm "device";
 * nothing for "admin" (the admin's app tells whoever decides). */
int
consent_ask(const struct delivery *d, const struct job *job)
{
	struct firmware	 fw;
	struct online	*o = online_get(d->device_id);
	int		 rc;

	if (job->confirm != JOB_CONFIRM_DEVICE || o == NULL)
		return 0;	/* offline: asked at its login */
	if (store_firmware_get(env->store, job->firmware_id, &fw) != 1)
		return -1;
	rc = peers_send_consent(d->device_id, env->cfg.admind.consent_pin,
	    fw.version, fw.size, job->id);
	firmware_free(&fw);
	if (rc == 0)
		o->consent_asked = d->id;
	return rc;
}

/* Asks about d when the device is online (the job read for it). */
static void
consent_ask_again(const struct delivery *d)
{
	struct job	 job;

	if (store_job_get(env->store, d->job_id, &job) != 1)
		return;
	if (consent_ask(d, &job) == -1)
		log_warnx("device %" PRId64 ": its consent for job %" PRId64
		    " could not be asked", d->device_id, d->job_id);
	job_free(&job);
}

/* A login: the delivery that waits for the device's answer is asked
 * again, unless a defer still runs or the decision of this login asked
 * already. */
void
consent_device_back(int64_t device_id)
{
	struct online	*o = online_get(device_id);
	struct delivery	 d;

	if (o == NULL || store_delivery_pending(env->store, device_id,
	    &d) != 1)
		return;
	if (d.state == DELIVERY_AWAITING_CONSENT && d.next_at <= time(NULL) &&
	    o->consent_asked != d.id)
		consent_ask_again(&d);
	delivery_free(&d);
}

/* The timer fires at the earliest defer that runs out after the last
 * one asked; at is 0 or in the past: at once. */
static void
consent_timer_arm(int64_t at)
{
	int64_t	 now = time(NULL);

	if (at == 0 || (consent_timer_on && consent_timer_at <= at))
		return;
	consent_timer_on = 1;
	consent_timer_at = at;
	uv_timer_start(&consent_timer, consent_timer_run,
	    at > now ? (uint64_t)(at - now) * 1000 : 0, 0);
}

/* The defers that ran out: their devices that are online are asked
 * again; the others are asked at their login. */
static void
consent_timer_run(uv_timer_t *t)
{
	struct delivery	*ds = NULL;
	size_t		 n = 0;
	int64_t		 now = time(NULL), next = 0;

	consent_timer_on = 0;
	if (store_deliveries_due(env->store, DELIVERY_AWAITING_CONSENT,
	    consent_checked, now, &ds, &n) == -1) {
		consent_timer_arm(now + 60);	/* logged; try again */
		return;
	}
	consent_checked = now;
	for (size_t i = 0; i < n; i++)
		if (online_get(ds[i].device_id) != NULL)
			consent_ask_again(&ds[i]);
	delivery_list_free(ds, n);
	if (store_deliveries_next(env->store, DELIVERY_AWAITING_CONSENT, now,
	    &next) == 0)
		consent_timer_arm(next);
}

void
consent_start(void)
{
	int64_t	 next = 0;

	uv_timer_init(env->loop, &consent_timer);
	uv_unref((uv_handle_t *)&consent_timer);
	/* defers that ran out while admind was down: asked at each login */
	consent_checked = time(NULL);
	if (store_deliveries_next(env->store, DELIVERY_AWAITING_CONSENT,
	    consent_checked, &next) == 0)
		consent_timer_arm(next);
}

/* A defer of minutes (capped by consent_defer_max): asked again then. */
static int
consent_defer(const struct delivery *d, uint32_t minutes, const char *who)
{
	uint32_t	 max = env->cfg.admind.consent_defer_max;
	int64_t		 at;
	char		 why[160];

	if (minutes > max)
		minutes = max;
	at = time(NULL) + (int64_t)minutes * 60;
	snprintf(why, sizeof(why), "deferred by %s for %" PRIu32 " minute%s",
	    who, minutes, minutes == 1 ? "" : "s");
	if (delivery_apply_at(d, DELIVERY_DEFER, why, at) == -1)
		return -1;
	consent_timer_arm(at);
	return 0;
}

/* A device's answer that changes nothing: logged, at most one line a
 * second (a sketch may write its pin in a loop). */
static void
consent_ignored(int64_t device_id, const char *answer, const char *why)
{
	static time_t	 last;
	static uint64_t	 quiet;
	time_t		 now = time(NULL);

	if (now == last) {
		quiet++;
		return;
	}
	last = now;
	log_info("device %" PRId64 " answered \"%.16s\" on its consent pin: "
	    "%s; ignored (%" PRIu64 " more ignored in the second before)",
	    device_id, answer, why, quiet);
	quiet = 0;
}

static void
consent_accepted(int64_t device_id, int64_t job_id)
{
	char	 field[64], label[STORE_DEVICE_LABEL];

	snprintf(field, sizeof(field), "DEVICE_ID=%" PRId64, device_id);
	store_device_label(env->store, device_id, label, sizeof(label));
	log_fields(LOG_INFO, (const char *[]){ field, NULL },
	    "%s accepted the update of job %" PRId64, label, job_id);
}

/* The device's delivery that waits for the device's own answer: 1 and d,
 * else 0 (nothing waits, or an admin is to answer). */
static int
consent_waiting(int64_t device_id, struct delivery *d)
{
	struct job	 job;
	int		 own = 0;

	if (store_delivery_pending(env->store, device_id, d) != 1)
		return 0;
	if (d->state == DELIVERY_AWAITING_CONSENT &&
	    store_job_get(env->store, d->job_id, &job) == 1) {
		own = job.confirm == JOB_CONFIRM_DEVICE;
		job_free(&job);
	}
	if (!own)
		delivery_free(d);
	return own;
}

/*
 * The device's answer on its consent pin (hwd checked its form; what it
 * may say is checked here).  1 when its delivery is queued now (the
 * caller has the scheduler decide the device), 0 when nothing more is to
 * be done, -1 when the answer was not stored.
 */
int
consent_answer(int64_t device_id, const char *answer, uint32_t minutes)
{
	struct delivery	 d;
	int		 rc = 0;

	if (!consent_waiting(device_id, &d)) {
		consent_ignored(device_id, answer, "no update waits for its "
		    "consent");
		return 0;
	}
	if (strcmp(answer, "accept") == 0)
		rc = delivery_apply(&d, DELIVERY_ACCEPT, "") == -1 ? -1 : 1;
	else if (strcmp(answer, "decline") == 0)
		rc = delivery_apply(&d, DELIVERY_DECLINE, "declined by the "
		    "device");
	else if (strcmp(answer, "defer") == 0 && minutes > 0)
		rc = consent_defer(&d, minutes, "the device");
	else
		consent_ignored(device_id, answer, "not accept, decline, or "
		    "defer with at least 1 minute");
	if (rc == -1)
		log_warnx("device %" PRId64 ": its answer \"%.16s\" for "
		    "delivery %" PRId64 " is not stored", device_id, answer,
		    d.id);
	else if (rc == 1)
		consent_accepted(device_id, d.job_id);
	delivery_free(&d);
	return rc;
}

/* An admin's confirm (accept) or decline of d, with its audit event, in
 * one transaction. */
int
consent_admin(const struct delivery *d, enum delivery_event ev,
    const char *actor, const char *remote, const char *reason)
{
	char	 why[300];

	snprintf(why, sizeof(why), "%s by %s%s%s", ev == DELIVERY_ACCEPT ?
	    "confirmed" : "declined", actor, *reason ? ": " : "", reason);
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (delivery_apply(d, ev, ev == DELIVERY_ACCEPT ? "" : why) == -1 ||
	    audit(ev == DELIVERY_ACCEPT ? "delivery.confirmed" :
	    "delivery.declined", actor, remote, d->device_id, d->job_id,
	    why) == -1)
		tx_fail();
	return tx_commit();
}
