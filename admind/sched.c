/* SPDX-License-Identifier: MIT */
/*
 * admind's OTA scheduler (DESIGN.md section 4): decides, when a device is
 * online and has said what it runs, whether its pending delivery is
 * already current, incompatible, or sent now; verifies the update when the
 * device returns; retries up to the job's attempt limit.  Every transition
 * is committed to the database before it is acted on.  The decisions
 * themselves are pure functions in sched_policy.c; this file gathers
 * their facts and acts on their answers.  What is in flight, and since
 * when, is counted in flight.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "sched_policy.h"
#include "util.h"
#include "window.h"

struct sched_ctx {
	struct delivery	 d;
	struct job	 job;
	struct firmware	 fw;
	struct device	 dev;
	struct device_report report;	/* what the device said this login */
	int		 cached;	/* job and fw belong to sched_cache */
};

/* The job and firmware of the last decision, kept while a batch runs: a
 * job for 100,000 devices reads them once, not once per device.  (What a
 * decision uses of them does not change; a job's state is checked by the
 * pending-delivery query.) */
static struct {
	int		 valid;
	struct job	 job;
	struct firmware	 fw;
} sched_cache;
static int	 sched_batching;	/* depth: kicks nest */
/* Devices a batch reads at once, and commits together on a shared
 * database. */
#define SCHED_CHUNK	128
_Static_assert(SCHED_CHUNK <= STORE_PENDING_MAX, "a part is one read");

/* Whether a job may start, for one second: a batch reads its window
 * once. */
static struct {
	int64_t		 job_id, now, next;
	int		 may;
} sched_when;

/* Jobs started, in order, whose devices the next turn decides. */
struct sched_started {
	struct sched_started *next;
	int64_t		 job_id;
	int64_t		*devices;	/* NULL: the job's online ones */
	size_t		 n;
};
static struct sched_started *sched_started, **sched_started_tail =
    &sched_started;
static uv_timer_t sched_started_timer;

static void	sched_run(int64_t device_id);

static void
sched_ctx_free(struct sched_ctx *x)
{
	delivery_free(&x->d);
	if (!x->cached) {
		job_free(&x->job);
		firmware_free(&x->fw);
	}
	device_free(&x->dev);
}

static void
sched_cache_clear(void)
{
	if (sched_cache.valid) {
		job_free(&sched_cache.job);
		firmware_free(&sched_cache.fw);
	}
	sched_cache.valid = 0;
}

/* x's job and firmware, from the cache while a batch runs. */
static int
sched_load_job(struct sched_ctx *x)
{
	if (sched_cache.valid && sched_cache.job.id == x->d.job_id) {
		x->job = sched_cache.job;
		x->fw = sched_cache.fw;
		x->cached = 1;
		return 0;
	}
	if (store_job_get(env->store, x->d.job_id, &x->job) != 1)
		return -1;
	if (store_firmware_get(env->store, x->job.firmware_id, &x->fw) != 1) {
		job_free(&x->job);
		return -1;
	}
	if (sched_batching) {
		sched_cache_clear();
		sched_cache.job = x->job;
		sched_cache.fw = x->fw;
		sched_cache.valid = 1;
		x->cached = 1;
	}
	return 0;
}

/* x from a pending delivery and its device's row, which it takes. */
static int
sched_take(struct pending_delivery *pd, struct sched_ctx *x)
{
	struct online	*o = online_get(pd->d.device_id);

	memset(x, 0, sizeof(*x));
	x->d = pd->d;
	x->dev = pd->dev;
	memset(pd, 0, sizeof(*pd));
	if (sched_load_job(x) == -1) {
		delivery_free(&x->d);
		device_free(&x->dev);
		return -1;
	}
	/* A device that sent no hardware info since it logged in reports
	 * nothing, whatever an earlier login left in its row. */
	if (o != NULL && o->has_info) {
		x->report.version = x->dev.fw_version;
		x->report.build = x->dev.build;
	}
	return 0;
}

static int
sched_load(int64_t device_id, struct sched_ctx *x)
{
	struct pending_delivery pd;

	memset(&pd, 0, sizeof(pd));
	if (store_delivery_pending(env->store, device_id, &pd.d) != 1)
		return -1;
	if (store_device_get(env->store, device_id, &pd.dev) != 1) {
		delivery_free(&pd.d);
		return -1;
	}
	return sched_take(&pd, x);
}

/* How the device's report compares with the job's image. */
static enum report_match
sched_match(const struct sched_ctx *x, const char **by)
{
	struct image_facts fw = { x->fw.version, x->fw.build, x->fw.md5,
	    x->fw.sha256 };

	return report_compare(&fw, &x->report, by);
}

/* The online devices whose queued delivery waits for a slot of its job
 * (max_parallel; flight.c counts the slots), first come first served. */
struct sched_waiting {
	struct sched_waiting	*next;
	int64_t			 job_id;
	int64_t			*devices;	/* FIFO */
	size_t			 head, tail, cap;
};

static struct sched_waiting *sched_waiting_list;

/* The job's waiting list; created on first use when create is set. */
static struct sched_waiting *
sched_waiting_get(int64_t job_id, int create)
{
	struct sched_waiting *w;

	for (w = sched_waiting_list; w; w = w->next)
		if (w->job_id == job_id)
			return w;
	if (!create || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->job_id = job_id;
	w->next = sched_waiting_list;
	sched_waiting_list = w;
	return w;
}

static void
sched_wait(int64_t job_id, int64_t device_id)
{
	struct sched_waiting *w = sched_waiting_get(job_id, 1);
	int64_t	*p;

	if (w == NULL)
		return;		/* found again by its next login */
	if (w->tail == w->cap) {
		if (w->head > 0) {		/* slide down first */
			memmove(w->devices, w->devices + w->head,
			    (w->tail - w->head) * sizeof(*p));
			w->tail -= w->head;
			w->head = 0;
		} else {
			size_t cap = w->cap ? w->cap * 2 : 64;

			if ((p = reallocarray(w->devices, cap, sizeof(*p))) ==
			    NULL)
				return;	/* found again by its next login */
			w->devices = p;
			w->cap = cap;
		}
	}
	w->devices[w->tail++] = device_id;
}

/* The job may send one more delivery now (max_parallel). */
int
sched_has_slot(const struct job *job)
{
	int64_t	 busy;

	return flight_busy(job->id, &busy) == 0 &&
	    sched_policy_has_slot(busy, job->max_parallel);
}

/* A kick decides for many devices: their transitions commit together, and
 * the commands go out after that commit (tx.c). */
static void
sched_batch_begin(void)
{
	if (tx_begin() == -1)		/* each begin has its end */
		tx_fail();
	sched_batching++;
}

static void
sched_batch_end(void)
{
	if (--sched_batching == 0)
		sched_cache_clear();
	if (tx_commit() == -1) {	/* logged; nothing of it is acted on */
		flight_forget();
		cluster_redecide();	/* another node's lock, a deadlock */
	}
}

/*
 * Before the i-th device of a long batch: on a shared database the batch
 * commits every SCHED_CHUNK devices, so that the job rows it locks are
 * the other nodes' again soon, and one that failed (a lock that waited
 * too long, a deadlock: cluster_redecide decides them again) does not
 * take the rest with it.
 */
static void
sched_batch_next(size_t i)
{
	if (!store_shared(env->store) || sched_batching != 1 ||
	    !tx_outermost() || (i % SCHED_CHUNK != 0 && tx_ok()) || i == 0)
		return;
	sched_batch_end();
	peers_send_flush();	/* the part's commands go out now */
	sched_batch_begin();
}

/* The job may start now (start_at, its window); *next when it may, when
 * not.  A stored window that does not read holds nothing back. */
static int
sched_may_start(const struct job *job, int64_t now, int64_t *next)
{
	if (sched_when.job_id != job->id || sched_when.now != now) {
		sched_when.job_id = job->id;
		sched_when.now = now;
		sched_when.may = window_job(job->start_at, job->window, now,
		    &sched_when.next);
		if (sched_when.may == -1)
			log_warnx("job %" PRId64 ": its window does not read: "
			    "%s", job->id, job->window);
	}
	*next = sched_when.next;
	return sched_when.may != 0;
}

static void
sched_asked_run(void *arg, int committed)
{
	int64_t		*id = arg;
	struct delivery	 d;
	struct job	 job;

	if (committed && store_delivery_get(env->store, *id, &d) == 1) {
		if (d.state == DELIVERY_AWAITING_CONSENT &&
		    store_job_get(env->store, d.job_id, &job) == 1) {
			if (consent_ask(&d, &job) == -1)
				log_warnx("delivery %" PRId64 ": the device "
				    "could not be asked", d.id);
			job_free(&job);
		}
		delivery_free(&d);
	}
	free(id);
}

/* Waits for the window or start_at (scheduled), or asks for consent
 * (awaiting-consent, then consent_ask after the commit): 1 held back, 0
 * it goes on to a slot, -1 the transition failed. */
static int
sched_hold_one(struct delivery *d, const struct job *job)
{
	int64_t		 now = time(NULL), next, *id;
	char		 why[120], when[21] = "";
	int		 may = sched_may_start(job, now, &next);

	switch (sched_policy_hold(may, job->confirm, d->consented)) {
	case SCHED_SCHEDULE:
		if (next > 0)
			util_iso8601((time_t)next, when);
		snprintf(why, sizeof(why), "waits for its %s%s%s",
		    job->start_at > now ? "start_at" : "window", *when ?
		    ", opening at " : "", when);
		return delivery_apply_at(d, DELIVERY_WAIT, why, next) == -1 ?
		    -1 : 1;
	case SCHED_ASK:
		if ((id = malloc(sizeof(*id))) == NULL)
			return -1;
		*id = d->id;
		if (tx_begin() == -1) {
			tx_rollback();
			free(id);
			return -1;
		}
		/* deferred first: a rollback frees id */
		if (tx_defer(sched_asked_run, id) == -1 ||
		    delivery_apply(d, DELIVERY_ASK, NULL) == -1)
			tx_fail();
		return tx_commit() == -1 ? -1 : 1;
	default:
		return 0;
	}
}

/* A delivery that is or becomes scheduled or awaiting-consent is not
 * sent (an updater's poll, grant.c): 1, 0 it may be, -1. */
int
sched_hold(struct delivery *d, const struct job *job)
{
	if (d->state == DELIVERY_SCHEDULED ||
	    d->state == DELIVERY_AWAITING_CONSENT)
		return 1;
	return d->state == DELIVERY_QUEUED ? sched_hold_one(d, job) : 0;
}

static void
sched_queued(struct sched_ctx *x)
{
	const char	*by;
	char		 why[256];
	enum report_match m = sched_match(x, &by);
	enum sched_action action;
	int		 mismatch, slot, rc = 0;

	/* each fact only when it can matter: a slot may be counted from
	 * the database */
	mismatch = m != REPORT_SAME && !x->job.force &&
	    sched_policy_mismatch(&x->dev, &x->fw, why, sizeof(why)) != NULL;
	slot = m != REPORT_SAME && !mismatch && sched_has_slot(&x->job);
	action = sched_policy_queued(m, x->job.force, mismatch, slot);
	/* the window and consent before a slot */
	if ((action == SCHED_SEND || action == SCHED_WAIT) &&
	    (rc = sched_hold_one(&x->d, &x->job)) != 0)
		action = SCHED_HOLD;
	switch (action) {
	case SCHED_CURRENT:
		snprintf(why, sizeof(why), "the device reports the image's %s",
		    by);
		rc = delivery_apply(&x->d, DELIVERY_CURRENT, why);
		break;
	case SCHED_INCOMPATIBLE:
		rc = delivery_apply(&x->d, DELIVERY_INCOMPATIBLE_EV, why);
		break;
	case SCHED_SEND:
		rc = delivery_send(&x->d, &x->job, 1, NULL);
		break;
	case SCHED_HOLD:
		break;
	default:
		sched_wait(x->job.id, x->d.device_id);
		break;
	}
	/* A transition that failed is logged and nothing of it happened:
	 * the device's next login decides again. */
	if (rc == -1)
		log_debug("device %" PRId64 ": delivery %" PRId64 " stays %s",
		    x->d.device_id, x->d.id, delivery_state_name(x->d.state));
}

/* The device's pending delivery, if it is queued: decide now. */
static void
sched_decide(int64_t device_id)
{
	struct sched_ctx x;

	if (sched_load(device_id, &x) == -1)
		return;
	if (x.d.state == DELIVERY_QUEUED)
		sched_queued(&x);
	sched_ctx_free(&x);
}

static int
sched_ready(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	return o != NULL && (o->has_info || o->decided);
}

/* What an attempt that did not take says: "came back on build X". */
static void
sched_came_back(const struct sched_ctx *x, const char *by, char *why,
    size_t len)
{
	const char	*what = strcmp(by, "version") == 0 ? x->report.version :
			    x->report.build;

	snprintf(why, len, "came back on %s %s after downloading; attempt %d "
	    "of %d%s", by, what && *what ? what : "(unknown)", x->d.attempts,
	    x->job.attempt_limit, sched_policy_failed(x->d.attempts,
	    x->job.attempt_limit) == DELIVERY_GIVE_UP ? ", giving up" : "");
}

/*
 * The device came back after a complete download: its report decides
 * (lifecycle.c, report_verdict).  1 when the delivery is queued again and
 * the caller decides anew.
 */
static int
sched_verify(struct sched_ctx *x)
{
	const char		*by;
	enum report_match	 m = sched_match(x, &by);
	enum delivery_event	 ev = report_verdict(m, x->d.attempts,
				    x->job.attempt_limit);
	char			 why[256] = "";

	if (ev == DELIVERY_UNVERIFIED)
		snprintf(why, sizeof(why), "unverified: %s; the image was "
		    "downloaded completely", *x->fw.build || *x->fw.version ?
		    "the device reports no build or version to compare" :
		    "the image carries no version or build to compare");
	else if (ev == DELIVERY_VERIFIED && strcmp(by, "build") != 0)
		snprintf(why, sizeof(why), "verified by %s %s: the device "
		    "reports no build", by, x->report.version);
	else if (ev != DELIVERY_VERIFIED)
		sched_came_back(x, by, why, sizeof(why));
	if (delivery_apply(&x->d, ev, why) == -1)
		return 0;
	if (ev == DELIVERY_RETRY)
		return 1;
	sched_slot_freed(x->job.id);
	return 0;
}

/* A delivery in flight (sent, downloading, downloaded) whose device is
 * back.  A login after the command without the image: send it again (the
 * same ticket); a resync after admind restarted: wait, nothing is sent
 * twice. */
static int
sched_in_flight(struct sched_ctx *x, struct online *o)
{
	const char	*by = "";
	enum report_match m = REPORT_UNKNOWN;

	if (x->d.state != DELIVERY_DOWNLOADED)
		m = sched_match(x, &by);
	switch (sched_policy_back(x->d.state, m, o->resync)) {
	case SCHED_VERIFIED:
		if (delivery_apply(&x->d, DELIVERY_VERIFIED, strcmp(by,
		    "build") == 0 ? "" : "verified by version: the device "
		    "reports no build") == 0)
			sched_slot_freed(x->job.id);
		break;
	case SCHED_VERIFY:
		return sched_verify(x);
	case SCHED_AWAIT:
		/* back before fwstore reported the download's end (it waits
		 * for the last acknowledgement): decide when it does */
		o->awaiting = 1;
		break;
	case SCHED_RESEND:
		if (delivery_command(&x->d) == -1)
			log_warnx("device %" PRId64 ": the command could not "
			    "be sent again", x->d.device_id);
		break;
	default:		/* HOLD */
		break;
	}
	return 0;
}

/* A device without a pending delivery (most logins) costs one read and no
 * transaction. */
static void
sched_run(int64_t device_id)
{
	struct sched_ctx x;
	struct online	*o = online_get(device_id);
	int		 again, asking, rounds = 0;

	if (o == NULL)
		return;
	o->decided = 1;
	if (sched_load(device_id, &x) == -1)
		return;
	sched_batch_begin();
	do {
		asking = x.d.state == DELIVERY_AWAITING_CONSENT;
		again = 0;
		/* scheduled stays so until its window or start_at; consent
		 * is asked for again below */
		if (x.d.state == DELIVERY_QUEUED)
			sched_queued(&x);
		else if (x.d.state != DELIVERY_SCHEDULED && !asking)
			again = sched_in_flight(&x, o);
		sched_ctx_free(&x);
	} while (again && ++rounds < 3 && sched_load(device_id, &x) == 0);
	sched_batch_end();
	if (asking)
		consent_device_back(device_id);
}

/* No hardware info within ADMIND_INFO_WAIT_MS of the login (infowait.c). */
static void
sched_info_timeout(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	if (o != NULL && !o->decided)
		sched_run(device_id);
}

/* A login (peers.c: the first connection of the device on its worker):
 * decided once its hardware info came, or after ADMIND_INFO_WAIT_MS. */
void
sched_device_online(int64_t device_id, const char *remote)
{
	struct online	*o = online_get(device_id);

	if (o == NULL)
		return;
	o->decided = 0;
	o->has_info = 0;
	o->awaiting = 0;
	o->consent_asked = 0;
	if (infowait_start(o) == -1)
		log_warnx("device %" PRId64 ": decided at its hardware info "
		    "only: out of memory", device_id);
}

void
sched_device_info(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	if (o == NULL)
		return;
	infowait_stop(o);
	sched_run(device_id);
}

void
sched_device_decide(int64_t device_id)
{
	if (!sched_ready(device_id))
		return;
	sched_batch_begin();
	sched_decide(device_id);
	sched_batch_end();
}

/* The device has a delivery in the job. */
static int
sched_in_job(int64_t job_id, int64_t device_id)
{
	struct delivery	 d;

	if (store_delivery_of(env->store, job_id, device_id, &d) != 1)
		return 0;
	delivery_free(&d);
	return 1;
}

/*
 * The ready devices of ids[first..first+SCHED_CHUNK) decided with one
 * read for all their pending deliveries and rows.  job_id > 0: only those
 * with a delivery of that job (their pending one is then decided, as for
 * one device at its login).
 */
static void
sched_decide_part(int64_t job_id, const int64_t *ids, size_t n,
    size_t first)
{
	int64_t			 part[SCHED_CHUNK];
	struct pending_delivery	*pd;
	struct sched_ctx	 x;
	size_t			 np = 0, npd;

	for (size_t i = first; i < n && i < first + SCHED_CHUNK; i++)
		if (sched_ready(ids[i]))
			part[np++] = ids[i];
	if (np == 0 ||
	    store_deliveries_pending(env->store, part, np, &pd, &npd) == -1)
		return;
	for (size_t i = 0; i < npd; i++) {
		/* commits at the part's start, or after a failed one */
		sched_batch_next(first + i);
		if (pd[i].d.state != DELIVERY_QUEUED || (job_id > 0 &&
		    pd[i].d.job_id != job_id &&
		    !sched_in_job(job_id, pd[i].d.device_id)) ||
		    sched_take(&pd[i], &x) == -1)
			continue;
		sched_queued(&x);
		sched_ctx_free(&x);
	}
	pending_list_free(pd, npd);
}

/* Many devices decided at once (a job started, the deliveries another
 * node could not send), job_id as for sched_decide_part. */
static void
sched_decide_many(int64_t job_id, const int64_t *ids, size_t n)
{
	sched_batch_begin();
	for (size_t first = 0; first < n; first += SCHED_CHUNK)
		sched_decide_part(job_id, ids, n, first);
	sched_batch_end();
}

/* A started job's online targets.  A job for all devices or a tag
 * (devices NULL) looks at the devices online, not at its million rows. */
static void
sched_started_run(const struct sched_started *s)
{
	int64_t	*online = NULL;
	size_t	 n;

	if (s->devices != NULL) {
		sched_decide_many(0, s->devices, s->n);
		return;
	}
	if (online_ids(&online, &n) == -1)
		return;		/* decided at their next login */
	sched_decide_many(s->job_id, online, n);
	free(online);
}

static void
sched_started_cb(uv_timer_t *t)
{
	struct sched_started *s, *next;

	s = sched_started;
	sched_started = NULL;
	sched_started_tail = &sched_started;
	for (; s != NULL; s = next) {
		next = s->next;
		sched_started_run(s);
		free(s->devices);
		free(s);
	}
}

/* A job was committed (jobs_admin.c, or another node's: cluster.c): its
 * online targets (devices, which it takes, or NULL for all of the job's)
 * are decided on the loop's next turn, so that the request that made it
 * is answered first.  Were admind to stop before, their next login
 * decides them. */
void
sched_job_started(int64_t job_id, int64_t *devices, size_t n)
{
	struct sched_started *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("job %" PRId64 ": its devices are decided at their "
		    "next login", job_id);
		free(devices);
		return;
	}
	s->job_id = job_id;
	s->devices = devices;
	s->n = n;
	*sched_started_tail = s;
	sched_started_tail = &s->next;
	if (!uv_is_active((uv_handle_t *)&sched_started_timer))
		uv_timer_start(&sched_started_timer, sched_started_cb, 0, 0);
}

void
sched_devices_again(const int64_t *ids, size_t n)
{
	sched_decide_many(0, ids, n);
}

/* A delivery of the job ended: its slot goes to a device waiting here,
 * or on another node. */
void
sched_slot_freed(int64_t job_id)
{
	cluster_kick(job_id);
	sched_job_kick(job_id);
}

/* A job may have free slots: the online devices waiting for one get
 * them, first come first served. */
void
sched_job_kick(int64_t job_id)
{
	struct sched_waiting *w;
	struct job	 job;
	int64_t		 device_id;

	if (store_job_get(env->store, job_id, &job) != 1)
		return;
	if (job.state != JOB_ACTIVE) {
		job_free(&job);
		return;
	}
	sched_batch_begin();
	while (sched_has_slot(&job) &&
	    (w = sched_waiting_get(job_id, 0)) != NULL && w->head < w->tail) {
		device_id = w->devices[w->head++];
		if (sched_ready(device_id))
			sched_decide(device_id);
	}
	sched_batch_end();
	job_free(&job);
}

/* A resumed job (jobs_admin.c, after the commit): its waiting list may
 * have missed logins while it was paused, so look at every queued
 * delivery once. */
#define SCHED_RESUME_PAGE	512

void
sched_job_resumed(int64_t job_id)
{
	struct delivery	*ds;
	int64_t		 after = 0;
	size_t		 n;

	sched_batch_begin();
	do {
		if (store_job_queued(env->store, job_id, after,
		    SCHED_RESUME_PAGE, &ds, &n) == -1)
			break;
		for (size_t i = 0; i < n; i++) {
			after = ds[i].id;
			if (sched_ready(ds[i].device_id))
				sched_decide(ds[i].device_id);
		}
		delivery_list_free(ds, n);
	} while (n == SCHED_RESUME_PAGE);
	sched_batch_end();
}

/* A new device joins the newest active job for all devices. */
void
sched_device_created(int64_t device_id)
{
	struct job	 job;
	int64_t		*ids = NULL, id;
	size_t		 n = 0;

	if (store_jobs_active(env->store, &ids, &n) == -1)
		return;
	while (n-- > 0) {
		if (store_job_get(env->store, ids[n], &job) != 1)
			continue;
		if (job.target_kind == JOB_TARGET_ALL) {
			if (store_delivery_create(env->store, job.id,
			    device_id, &id) == -1)
				log_warnx("device %" PRId64 " could not join "
				    "job %" PRId64, device_id, job.id);
			n = 0;
		}
		job_free(&job);
	}
	free(ids);
}

/* A device that came back while its download was still reported under
 * way is decided now: verified after a complete one, sent the command
 * again after an aborted one. */
void
sched_download_ended(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	if (o == NULL || !o->awaiting)
		return;
	o->awaiting = 0;
	sched_run(device_id);
}

/* hwd could not deliver the command: offline, the attempt does not
 * count; any other reason ends the delivery. */
void
sched_ota_sent(int64_t device_id, int64_t delivery_id, unsigned reached,
    const char *error)
{
	struct delivery	 d;
	enum delivery_event ev = sched_policy_ota_sent(reached, error);

	if (ev == DELIVERY_NEVENTS)
		return;
	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (d.device_id == device_id && d.state == DELIVERY_SENT &&
	    delivery_apply(&d, ev, error) == -1)
		log_warnx("delivery %" PRId64 ": hwd's report is not stored",
		    d.id);
	delivery_free(&d);
}

/* A command that led to no download within sent_timeout (the device may
 * have missed it), or a download that stopped reporting: back to queued,
 * and that attempt counts.  Nodes sharing a database: the delivery may
 * be one adopted from a node that died, its device online on another
 * node, which decides for it then. */
static void
sched_expire(int64_t delivery_id)
{
	struct delivery	 d;
	struct job	 job;
	enum delivery_event ev;
	char		 why[200];

	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (!delivery_state_in_flight(d.state)) {
		flight_drop(d.id);	/* ended outside a transition */
	} else if (store_shared(env->store) && sched_policy_moved_lately(
	    (int64_t)time(NULL), d.updated_at, env->cfg.admind.sent_timeout)) {
		flight_touch(d.id);	/* watched since it was adopted, but
					 * another node moved it since */
	} else if (store_job_get(env->store, d.job_id, &job) == 1) {
		if (job.state == JOB_ACTIVE) {
			ev = sched_policy_failed(d.attempts,
			    job.attempt_limit);
			snprintf(why, sizeof(why), "no %s within %u s of the "
			    "command; attempt %d of %d%s", d.state ==
			    DELIVERY_SENT ? "download" : "progress",
			    env->cfg.admind.sent_timeout, d.attempts,
			    job.attempt_limit, ev == DELIVERY_GIVE_UP ?
			    ", giving up" : "");
			if (delivery_apply(&d, ev, why) == -1)
				flight_touch(d.id);	/* try again later */
			sched_slot_freed(job.id);
			if (sched_ready(d.device_id))	/* still online */
				sched_decide(d.device_id);
			else		/* or online on another node */
				cluster_decide(d.device_id);
		}
		job_free(&job);
	}
	delivery_free(&d);
}

static void
sched_sweep(uv_timer_t *t)
{
	flight_expired(uv_now(env->loop), env->cfg.admind.sent_timeout,
	    sched_expire);
}

/* Jobs left active by an older otad whose deliveries all ended. */
static void
sched_jobs_settle(void)
{
	int64_t	*ids = NULL;
	size_t	 n = 0;

	if (store_jobs_active(env->store, &ids, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		if (tx_begin() == -1 || jobs_settle(ids[i]) == -1)
			tx_fail();
		if (tx_commit() == -1)
			log_warnx("job %" PRId64 " could not be settled", ids[i]);
	}
	free(ids);
}

void
sched_start(void)
{
	uint64_t every;

	every = sched_policy_sweep_every(env->cfg.admind.sent_timeout);

	flight_load();
	sched_jobs_settle();
	infowait_init(sched_info_timeout);
	uv_timer_init(env->loop, &sched_started_timer);
	uv_timer_init(env->loop, &env->sweep);
	uv_unref((uv_handle_t *)&env->sweep);
	uv_timer_start(&env->sweep, sched_sweep, every, every);
}
