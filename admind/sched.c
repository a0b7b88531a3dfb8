/* SPDX-License-Identifier: MIT */
/*
 * admind's OTA scheduler (DESIGN.md section 4): decides, when a device is
 * online and has said what it runs, whether its pending delivery is
 * already current, incompatible, or sent now; verifies the update when the
 * device returns; retries up to the job's attempt limit.  Every transition
 * is committed to the database before it is acted on.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define SCHED_TICKET_LEN	32

struct sched_ctx {
	struct delivery	 d;
	struct job	 job;
	struct firmware	 fw;
	struct device	 dev;
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

static void	sched_run(int64_t device_id);
static void	sched_job_settle(int64_t job_id);
static void	sched_busy_move(int64_t, const char *, const char *);
static int	sched_in_flight_state(const char *);
static void	sched_flight_drop(int64_t);

static int
sched_terminal(const char *state)
{
	return strcmp(state, "succeeded") == 0 ||
	    strcmp(state, "failed") == 0 ||
	    strcmp(state, "already-current") == 0 ||
	    strcmp(state, "incompatible") == 0 ||
	    strcmp(state, "canceled") == 0;
}

static void
sched_publish(const struct delivery *d, const char *state, const char *error,
    int attempt_inc)
{
	struct buf	 b = BUF_INIT;

	buf_printf(&b, "{\"delivery_id\":%" PRId64 ",\"device_id\":%" PRId64
	    ",\"job_id\":%" PRId64 ",\"from\":", d->id, d->device_id,
	    d->job_id);
	json_str(&b, d->state);
	buf_adds(&b, ",\"state\":");
	json_str(&b, state);
	buf_printf(&b, ",\"attempts\":%d,\"bytes_sent\":%" PRIu64
	    ",\"error\":", d->attempts + attempt_inc, d->bytes_sent);
	json_str(&b, error ? error : d->last_error);
	buf_addc(&b, '}');
	events_publish("delivery", d->device_id, d->job_id, buf_cstr(&b));
	buf_free(&b);
}

void
delivery_transition(const struct delivery *d, const char *state,
    const char *ticket, const char *error, int attempt_inc)
{
	char	 fdev[48], fjob[48], fstate[48];

	if (store_delivery_update(env->store, d->id, state, ticket, error,
	    attempt_inc) == -1)
		return;
	sched_busy_move(d->job_id, d->state, state);
	if (sched_in_flight_state(state))
		sched_touch(d->id);
	else
		sched_flight_drop(d->id);
	store_event(env->store, "delivery.transition", "otad", "",
	    d->device_id, d->job_id, state);
	snprintf(fdev, sizeof(fdev), "DEVICE_ID=%" PRId64, d->device_id);
	snprintf(fjob, sizeof(fjob), "JOB_ID=%" PRId64, d->job_id);
	snprintf(fstate, sizeof(fstate), "OTA_STATE=%s", state);
	log_fields(LOG_INFO, (const char *[]){ fdev, fjob, fstate, NULL },
	    "device %" PRId64 " job %" PRId64 ": %s -> %s%s%s", d->device_id,
	    d->job_id, d->state, state, error && *error ? ": " : "",
	    error ? error : "");
	sched_publish(d, state, error, attempt_inc);
	if (sched_terminal(state))
		sched_job_settle(d->job_id);
}

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

static int
sched_load(int64_t device_id, struct sched_ctx *x)
{
	memset(x, 0, sizeof(*x));
	if (store_delivery_pending(env->store, device_id, &x->d) != 1)
		return -1;
	if (sched_load_job(x) == -1) {
		delivery_free(&x->d);
		return -1;
	}
	if (store_device_get(env->store, device_id, &x->dev) != 1) {
		sched_ctx_free(x);
		return -1;
	}
	return 0;
}

static int
sched_runs_image(const struct device *dev, const struct firmware *fw)
{
	if (*fw->build)
		return strcmp(dev->build, fw->build) == 0 &&
		    (*fw->version == '\0' ||
		    strcmp(dev->fw_version, fw->version) == 0);
	return *fw->version && strcmp(dev->fw_version, fw->version) == 0;
}

/* Why the image does not fit the device, or NULL. */
static const char *
sched_mismatch(const struct device *dev, const struct firmware *fw,
    char *why, size_t len)
{
	if (*fw->fw_type && *dev->fw_type &&
	    strcmp(fw->fw_type, dev->fw_type) != 0) {
		snprintf(why, len, "the image is for fw-type %s, the device "
		    "reports %s (use force to send it anyway)", fw->fw_type,
		    dev->fw_type);
		return why;
	}
	if (*fw->board && *dev->board && strcmp(fw->board, dev->board) != 0) {
		snprintf(why, len, "the image is for board %s, the device is "
		    "%s (use force to send it anyway)", fw->board, dev->board);
		return why;
	}
	return NULL;
}

/*
 * How many of a job's deliveries are in flight (sent or downloading), kept
 * in memory and moved by every transition, so that pacing costs O(1) per
 * decision.  Counted from the database the first time a job is asked.
 */
struct sched_busy {
	struct sched_busy	*next;
	int64_t			 job_id;
	int			 counted;	/* busy is known */
	int64_t			 busy;
	/* online devices whose queued delivery waits for a slot, FIFO */
	int64_t			*waiting;
	size_t			 head, tail, cap;
};

static struct sched_busy *sched_busy_list;

static int
sched_in_flight_state(const char *state)
{
	return strcmp(state, "sent") == 0 || strcmp(state, "downloading") == 0;
}

static void
sched_count_cb(void *arg, const char *state, int64_t count)
{
	if (sched_in_flight_state(state))
		*(int64_t *)arg += count;
}

/* The job's entry, created on first use; counted when busy is unknown. */
static struct sched_busy *
sched_busy_get(int64_t job_id)
{
	struct sched_busy *b;

	for (b = sched_busy_list; b; b = b->next)
		if (b->job_id == job_id)
			break;
	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return NULL;
		b->job_id = job_id;
		b->next = sched_busy_list;
		sched_busy_list = b;
	}
	if (!b->counted) {
		b->busy = 0;
		if (store_job_counts(env->store, job_id, sched_count_cb,
		    &b->busy) == -1)
			return NULL;
		b->counted = 1;
	}
	return b;
}

/* A job changed state or its counts are in doubt: count again. */
static void
sched_busy_forget(int64_t job_id)
{
	for (struct sched_busy *b = sched_busy_list; b; b = b->next)
		if (b->job_id == job_id)
			b->counted = 0;
}

static void
sched_busy_move(int64_t job_id, const char *from, const char *to)
{
	for (struct sched_busy *b = sched_busy_list; b; b = b->next)
		if (b->job_id == job_id && b->counted)
			b->busy += sched_in_flight_state(to) -
			    sched_in_flight_state(from);
}

static void
sched_busy_list_clear(void)
{
	for (struct sched_busy *b = sched_busy_list; b; b = b->next)
		b->counted = 0;
}

static void
sched_wait(struct sched_busy *b, int64_t device_id)
{
	int64_t	*p;

	if (b->tail == b->cap) {
		if (b->head > 0) {		/* slide down first */
			memmove(b->waiting, b->waiting + b->head,
			    (b->tail - b->head) * sizeof(*p));
			b->tail -= b->head;
			b->head = 0;
		} else {
			size_t cap = b->cap ? b->cap * 2 : 64;

			if ((p = reallocarray(b->waiting, cap, sizeof(*p))) ==
			    NULL)
				return;	/* found again by its next login */
			b->waiting = p;
			b->cap = cap;
		}
	}
	b->waiting[b->tail++] = device_id;
}

/* The job may send one more delivery now (max_parallel). */
int
sched_has_slot(const struct job *job)
{
	struct sched_busy *b = sched_busy_get(job->id);

	return b != NULL && b->busy < job->max_parallel;
}

/*
 * When each delivery in flight (sent, downloading) last moved, on the
 * monotonic clock: sent_timeout is measured with it, so a wall-clock jump
 * neither expires nor freezes deliveries.  After a restart every delivery
 * in flight gets a full timeout again.
 */
#define SCHED_FLIGHT_BUCKETS	4096

struct sched_flight {
	struct sched_flight	*next;
	int64_t			 delivery_id;
	uint64_t		 since;		/* uv_now() */
};

static struct sched_flight *sched_flights[SCHED_FLIGHT_BUCKETS];

static struct sched_flight **
sched_flight_slot(int64_t delivery_id)
{
	struct sched_flight **pp;

	pp = &sched_flights[(uint64_t)delivery_id % SCHED_FLIGHT_BUCKETS];
	while (*pp != NULL && (*pp)->delivery_id != delivery_id)
		pp = &(*pp)->next;
	return pp;
}

void
sched_touch(int64_t delivery_id)
{
	struct sched_flight **pp = sched_flight_slot(delivery_id);

	if (*pp == NULL) {
		if ((*pp = calloc(1, sizeof(**pp))) == NULL)
			return;
		(*pp)->delivery_id = delivery_id;
	}
	(*pp)->since = uv_now(env->loop);
}

static void
sched_flight_drop(int64_t delivery_id)
{
	struct sched_flight **pp = sched_flight_slot(delivery_id), *f;

	if ((f = *pp) != NULL) {
		*pp = f->next;
		free(f);
	}
}

/*
 * A kick sends many commands: their transitions are committed together,
 * and the commands go out only after that commit.
 */
struct sched_pending_send {
	int64_t	 device_id;
	int64_t	 delivery_id;
	char	 ticket[SCHED_TICKET_LEN + 1];
};

static struct sched_pending_send *sched_sends;
static size_t	 sched_nsends, sched_capsends;

static void
sched_command(int64_t device_id, int64_t delivery_id, const char *ticket)
{
	struct sched_pending_send *p;

	if (!sched_batching) {
		peers_send_ota(device_id, delivery_id, ticket);
		return;
	}
	if (sched_nsends == sched_capsends) {
		size_t cap = sched_capsends ? sched_capsends * 2 : 64;

		if ((p = reallocarray(sched_sends, cap, sizeof(*p))) == NULL)
			return;		/* the sweep requeues it */
		sched_sends = p;
		sched_capsends = cap;
	}
	p = &sched_sends[sched_nsends++];
	p->device_id = device_id;
	p->delivery_id = delivery_id;
	snprintf(p->ticket, sizeof(p->ticket), "%s", ticket);
}

static void
sched_batch_begin(void)
{
	if (sched_batching > 0)
		sched_batching++;
	else if (store_begin(env->store) == 0)
		sched_batching = 1;
}

static void
sched_batch_end(void)
{
	if (sched_batching == 0 || --sched_batching > 0)
		return;
	sched_cache_clear();
	if (store_commit(env->store) == -1) {
		store_rollback(env->store);
		sched_nsends = 0;
		sched_busy_list_clear();
		return;
	}
	for (size_t i = 0; i < sched_nsends; i++)
		peers_send_ota(sched_sends[i].device_id,
		    sched_sends[i].delivery_id, sched_sends[i].ticket);
	sched_nsends = 0;
}

static void
sched_send(struct sched_ctx *x)
{
	char	 ticket[SCHED_TICKET_LEN + 1];

	if (*x->d.ticket)
		snprintf(ticket, sizeof(ticket), "%s", x->d.ticket);
	else if (util_random_token(ticket, SCHED_TICKET_LEN) == -1)
		return;
	/* The last error stays visible while the delivery is retried. */
	if (strcmp(x->d.state, "queued") == 0)
		delivery_transition(&x->d, "sent", ticket, NULL, 1);
	sched_command(x->d.device_id, x->d.id, ticket);
}

static void
sched_queued(struct sched_ctx *x)
{
	char	 why[256];

	if (sched_runs_image(&x->dev, &x->fw)) {
		delivery_transition(&x->d, "already-current", "", "", 0);
		return;
	}
	if (!x->job.force && sched_mismatch(&x->dev, &x->fw, why,
	    sizeof(why))) {
		delivery_transition(&x->d, "incompatible", "", why, 0);
		return;
	}
	if (sched_has_slot(&x->job))
		sched_send(x);
	else if (sched_busy_get(x->job.id) != NULL)
		sched_wait(sched_busy_get(x->job.id), x->d.device_id);
}

/* The device's pending delivery, if it is queued: decide now. */
static void
sched_decide(int64_t device_id)
{
	struct sched_ctx x;

	if (sched_load(device_id, &x) == -1)
		return;
	if (strcmp(x.d.state, "queued") == 0)
		sched_queued(&x);
	sched_ctx_free(&x);
}

static int
sched_ready(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	return o != NULL && (o->has_info || o->decided);
}

/* The device came back after downloading: did the update take? */
static void
sched_verify(struct sched_ctx *x)
{
	char	 why[256];

	if (*x->fw.build == '\0' && *x->fw.version == '\0') {
		delivery_transition(&x->d, "succeeded", "", "unverified: the "
		    "image carries no version or build to compare", 0);
	} else if (x->d.attempts >= x->job.attempt_limit) {
		snprintf(why, sizeof(why), "came back on build %s after "
		    "downloading; attempt %d of %d, giving up",
		    *x->dev.build ? x->dev.build : "(unknown)", x->d.attempts,
		    x->job.attempt_limit);
		delivery_transition(&x->d, "failed", "", why, 0);
	} else {
		snprintf(why, sizeof(why), "came back on build %s after "
		    "downloading; attempt %d of %d",
		    *x->dev.build ? x->dev.build : "(unknown)", x->d.attempts,
		    x->job.attempt_limit);
		delivery_transition(&x->d, "queued", "", why, 0);
		return;		/* the caller decides again */
	}
	sched_job_kick(x->job.id);
}

/* A delivery in flight (sent, downloading, downloaded) whose device is
 * back.  A login after the command without the image: send it again (the
 * same ticket); a resync after admind restarted: wait, nothing is sent
 * twice. */
static int
sched_in_flight(struct sched_ctx *x, const struct online *o)
{
	if (sched_runs_image(&x->dev, &x->fw)) {
		delivery_transition(&x->d, "succeeded", "", "", 0);
		sched_job_kick(x->job.id);
		return 1;
	}
	if (o->resync)
		return 0;
	if (strcmp(x->d.state, "downloaded") == 0) {
		sched_verify(x);
		return 1;
	}
	if (!o->resync)
		sched_send(x);
	return 0;
}

static void
sched_run(int64_t device_id)
{
	struct sched_ctx x;
	struct online	*o = online_get(device_id);
	int		 again, rounds = 0;

	if (o == NULL)
		return;
	o->decided = 1;
	do {
		if (sched_load(device_id, &x) == -1)
			return;
		if (strcmp(x.d.state, "queued") == 0) {
			sched_queued(&x);
			again = 0;
		} else {
			again = sched_in_flight(&x, o);
		}
		sched_ctx_free(&x);
	} while (again && ++rounds < 3);
}

static void
sched_info_timeout(uv_timer_t *t)
{
	struct online	*o = t->data;

	if (!o->decided)
		sched_run(o->device_id);
}

void
sched_device_online(int64_t device_id, const char *remote)
{
	struct online	*o = online_get(device_id);

	if (o == NULL || o->conns > 1)
		return;
	o->decided = 0;
	o->has_info = 0;
	if (o->info_wait == NULL) {
		if ((o->info_wait = malloc(sizeof(*o->info_wait))) == NULL)
			return;
		uv_timer_init(env->loop, o->info_wait);
		o->info_wait->data = o;
	}
	uv_timer_start(o->info_wait, sched_info_timeout, ADMIND_INFO_WAIT_MS,
	    0);
}

void
sched_device_info(int64_t device_id)
{
	struct online	*o = online_get(device_id);

	if (o == NULL)
		return;
	if (o->info_wait)
		uv_timer_stop(o->info_wait);
	sched_run(device_id);
}

int
sched_job_start(const struct job *job, const int64_t *devices, size_t n)
{
	int64_t	 id;
	int	 created = 0;

	store_begin(env->store);
	sched_busy_list_clear();	/* older jobs lose deliveries */
	for (size_t i = 0; i < n; i++)
		if (store_delivery_create(env->store, job->id, devices[i],
		    &id) == 0)
			created++;
	if (store_job_cancel_older(env->store, job->id) == -1 ||
	    store_commit(env->store) == -1) {
		store_rollback(env->store);
		return 0;
	}
	sched_batch_begin();
	for (size_t i = 0; i < n; i++)
		if (sched_ready(devices[i]))
			sched_decide(devices[i]);
	sched_batch_end();
	return created;
}

/* A job may have free slots: the online devices waiting for one get
 * them, first come first served. */
void
sched_job_kick(int64_t job_id)
{
	struct sched_busy *b;
	struct job	 job;
	int64_t		 device_id;

	if (store_job_get(env->store, job_id, &job) != 1)
		return;
	if (strcmp(job.state, "active") != 0) {
		job_free(&job);
		return;
	}
	sched_batch_begin();
	while (sched_has_slot(&job) && (b = sched_busy_get(job_id)) != NULL &&
	    b->head < b->tail) {
		device_id = b->waiting[b->head++];
		if (sched_ready(device_id))
			sched_decide(device_id);
	}
	sched_batch_end();
	job_free(&job);
}

/* A resumed job: its waiting list may have missed logins while it was
 * paused, so look at every queued delivery once. */
#define SCHED_RESUME_PAGE	512

static void
sched_job_resume(int64_t job_id)
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

void
sched_device_created(int64_t device_id)
{
	struct job	 job;
	int64_t		*ids = NULL, id;
	size_t		 n = 0;

	if (store_jobs_active(env->store, &ids, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		if (store_job_get(env->store, ids[i], &job) != 1)
			continue;
		if (job.target_kind == JOB_TARGET_ALL) {
			sched_busy_list_clear();
			store_delivery_cancel_older(env->store, device_id,
			    job.id, NULL);
			store_delivery_create(env->store, job.id, device_id,
			    &id);
		}
		job_free(&job);
	}
	free(ids);
}

void
sched_ota_sent(int64_t device_id, int64_t delivery_id, unsigned reached,
    const char *error)
{
	struct delivery	 d;

	if (reached > 0 || *error == '\0')
		return;
	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (d.device_id == device_id && strcmp(d.state, "sent") == 0) {
		if (strcmp(error, "device offline") == 0)
			delivery_transition(&d, "queued", NULL, error, -1);
		else
			delivery_transition(&d, "failed", "", error, 0);
	}
	delivery_free(&d);
}

struct sched_tally {
	int64_t	 failed;
	int64_t	 finished;	/* terminal, but not canceled */
	int64_t	 unfinished;
};

static void
sched_tally_cb(void *arg, const char *state, int64_t count)
{
	struct sched_tally *t = arg;

	if (strcmp(state, "failed") == 0)
		t->failed += count;
	if (strcmp(state, "canceled") == 0)
		return;
	if (sched_terminal(state))
		t->finished += count;
	else
		t->unfinished += count;
}

/* After a delivery ended: pause the job when too many failed (rollout
 * safety), finish it when nothing is left to do. */
static void
sched_job_settle(int64_t job_id)
{
	struct sched_tally t = { 0, 0, 0 };
	struct job	 job;
	char		 why[160];

	if (store_job_get(env->store, job_id, &job) != 1)
		return;
	if (strcmp(job.state, "active") != 0 ||
	    store_job_counts(env->store, job_id, sched_tally_cb, &t) == -1) {
		job_free(&job);
		return;
	}
	if (job.failure_threshold > 0 && t.finished > 0 &&
	    t.failed * 100 > (int64_t)job.failure_threshold * t.finished) {
		store_job_set_state(env->store, job_id, "paused", NULL);
		snprintf(why, sizeof(why), "job paused itself: %" PRId64 " of %"
		    PRId64 " finished deliveries failed, over its failure "
		    "threshold of %d%%; resume or stop it", t.failed,
		    t.finished, job.failure_threshold);
		audit("job.paused", "otad", "", 0, job_id, why);
	} else if (t.unfinished == 0 && job.target_kind != JOB_TARGET_ALL) {
		store_job_set_state(env->store, job_id, "finished", NULL);
		audit("job.finished", "otad", "", 0, job_id, "every delivery "
		    "ended");
	}
	job_free(&job);
}

/* The API changes a job's state: stopped cancels its unfinished
 * deliveries (their tickets stop working at once), active resumes it. */
int
sched_job_state(int64_t job_id, const char *state)
{
	struct delivery	*ds = NULL;
	size_t		 n = 0;
	int		 canceled = 0;

	if (strcmp(state, "stopped") == 0 &&
	    store_job_deliveries(env->store, job_id, &ds, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!sched_terminal(ds[i].state))
				sched_publish(&ds[i], "canceled", "the job was "
				    "stopped", 0);
		delivery_list_free(ds, n);
	}
	if (store_job_set_state(env->store, job_id, state, &canceled) == -1)
		return -1;
	sched_busy_forget(job_id);
	if (strcmp(state, "active") == 0)
		sched_job_resume(job_id);
	return canceled;
}

/* A command that led to no download within sent_timeout (the device may
 * have missed it), or a download that stopped reporting: back to queued,
 * and that attempt counts. */
static void
sched_expire(int64_t delivery_id)
{
	struct delivery	 d;
	struct job	 job;
	char		 why[200];

	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (!sched_in_flight_state(d.state)) {
		sched_flight_drop(d.id);	/* ended outside a transition */
	} else if (store_job_get(env->store, d.job_id, &job) == 1) {
		if (strcmp(job.state, "active") == 0) {
			snprintf(why, sizeof(why), "no %s within %u s of the "
			    "command; attempt %d of %d%s", strcmp(d.state,
			    "sent") == 0 ? "download" : "progress",
			    env->cfg.admind.sent_timeout, d.attempts,
			    job.attempt_limit, d.attempts >= job.attempt_limit ?
			    ", giving up" : "");
			delivery_transition(&d, d.attempts >= job.attempt_limit ?
			    "failed" : "queued", "", why, 0);
			sched_job_kick(job.id);
			if (sched_ready(d.device_id))	/* still online */
				sched_decide(d.device_id);
		}
		job_free(&job);
	}
	delivery_free(&d);
}

static void
sched_sweep(uv_timer_t *t)
{
	uint64_t	 limit = (uint64_t)env->cfg.admind.sent_timeout * 1000;
	uint64_t	 now = uv_now(env->loop);
	int64_t		*due = NULL, *p;
	size_t		 n = 0, cap = 0;

	for (size_t b = 0; b < SCHED_FLIGHT_BUCKETS; b++) {
		for (struct sched_flight *f = sched_flights[b]; f; f = f->next) {
			if (now - f->since < limit)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((p = reallocarray(due, cap, sizeof(*p))) ==
				    NULL)
					break;
				due = p;
			}
			due[n++] = f->delivery_id;
		}
	}
	for (size_t i = 0; i < n; i++)
		sched_expire(due[i]);
	free(due);
}

/* Deliveries in flight when admind starts get a full timeout from now. */
static void
sched_flights_load(void)
{
	static const char *const states[] = { "sent", "downloading" };
	struct delivery	*ds;
	size_t		 n;

	for (size_t s = 0; s < nitems(states); s++) {
		if (store_deliveries_stale(env->store, states[s], INT64_MAX,
		    &ds, &n) == -1)
			continue;
		for (size_t i = 0; i < n; i++)
			sched_touch(ds[i].id);
		delivery_list_free(ds, n);
	}
}

void
sched_start(void)
{
	sched_flights_load();
	uint64_t every = env->cfg.admind.sent_timeout * 1000 / 4;

	if (every < 250)
		every = 250;
	uv_timer_init(env->loop, &env->sweep);
	uv_unref((uv_handle_t *)&env->sweep);
	uv_timer_start(&env->sweep, sched_sweep, every, every);
}
