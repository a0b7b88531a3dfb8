/* SPDX-License-Identifier: MIT */
/*
 * admind's answers to fwstore: may this download go ahead (CTL_FW_CHECK,
 * the ticket is the credential; CTL_FW_POLL, the device token of a plain
 * ESP8266httpUpdate/HTTPUpdate fleet asking whether it has an update), and
 * the progress of downloads that did, which moves a delivery from sent to
 * downloading to downloaded.  The updater's own headers can show that the
 * device already runs the image (304, already-current) or cannot take it
 * (other chip family, too little space, file-system mode: refused, and the
 * delivery becomes incompatible with the reason).  A granted image is on
 * this node's disk first (fwcache.c).  The decisions are
 * grant_policy.c's: this file gathers the facts, asks, and acts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "grant_policy.h"
#include "log.h"
#include "util.h"

/* The request's fields, borrowed from its decoded message. */
struct grant_req {
	char	*ticket;	/* CTL_FW_POLL: the device token */
	char	*remote;
	uint8_t	 head;
	struct grant_headers h;
	int	 quiet;		/* HEAD or a version check: no transitions */
};

static void	grant_decode(const struct ctl_msg_fw_check *,
		    struct grant_req *);
static void	grant_reply(struct ctl_conn *, uint32_t, int, const char *,
		    int64_t, const struct firmware *);
static int	grant_current(struct ctl_conn *, uint32_t,
		    const struct grant_req *, const struct delivery *,
		    const struct firmware *);
static int	grant_refuse(struct ctl_conn *, uint32_t,
		    const struct grant_req *, const struct delivery *,
		    const struct firmware *);
static const char *grant_other_device(const struct grant_req *,
		    const struct delivery *);
static void	grant_check(struct ctl_conn *, uint32_t,
		    const struct grant_req *);
static void	grant_poll(struct ctl_conn *, uint32_t,
		    const struct grant_req *);
static void	grant_poll_record(const struct grant_req *,
		    const struct device *);
static int	grant_poll_send(struct ctl_conn *, uint32_t,
		    struct delivery *, const struct job *,
		    const struct grant_req *, const struct firmware *);
static void	grant_progress(int64_t, uint8_t, uint64_t, uint64_t);

/* fwstore's messages, decoded (peers.c frees them after). */
int
grant_dispatch(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    const union ctl_msg_any *m)
{
	const struct ctl_msg_fw_progress *p = &m->fw_progress;
	struct grant_req g;

	switch (type) {
	case CTL_FW_CHECK:
	case CTL_FW_POLL:
		/* fw-poll's fields are fw-check's */
		grant_decode(&m->fw_check, &g);
		if (type == CTL_FW_CHECK)
			grant_check(c, reqid, &g);
		else
			grant_poll(c, reqid, &g);
		return 0;
	case CTL_FW_PROGRESS:
		if (p->what > CTL_PROGRESS_ABORTED)
			return -1;
		grant_progress((int64_t)p->delivery_id, p->what, p->bytes,
		    p->total);
		return 0;
	default:
		return -1;
	}
}

static void
grant_decode(const struct ctl_msg_fw_check *m, struct grant_req *g)
{
	g->ticket = m->ticket;
	g->remote = m->remote_addr;
	g->head = m->head;
	g->h.n = m->headers.n;
	g->h.names = m->headers.key;
	g->h.values = m->headers.value;
	g->quiet = grant_policy_quiet(&g->h, g->head);
}

static void
grant_reply(struct ctl_conn *c, uint32_t reqid, int status,
    const char *reason, int64_t delivery_id, const struct firmware *fw)
{
	struct ctl_msg_fw_grant m = { .status = (uint16_t)status,
	    .reason = (char *)reason, .delivery_id = (uint64_t)delivery_id };

	/* a NULL string goes as "" */
	if (fw != NULL) {
		m.sha256 = (char *)fw->sha256;
		m.size = fw->size;
		m.md5 = (char *)fw->md5;
		m.sha256_b64 = (char *)fw->sha256_b64;
		m.version = fw->version;
		m.uploaded_at = (uint64_t)fw->uploaded_at;
	}
	if (ctl_send_fw_grant(c, reqid, &m) == -1)
		log_warnx("cannot answer fwstore's firmware check");
}

/* A transition that could not be stored, an image not yet on this node's
 * disk, the database failing: nothing happened, the updater asks again
 * later.  delivery_id 0: none was read. */
static void
grant_retry_later(struct ctl_conn *c, uint32_t reqid, int64_t delivery_id)
{
	grant_reply(c, reqid, 503, "Try again later.", delivery_id, NULL);
}

/*
 * 304 when the updater reports the image: before a complete download the
 * device needed none (already-current), after it the update took
 * (succeeded), and an ended delivery hears the same.  The ticket stays,
 * so a later request still hears 304.
 */
static int
grant_current(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g,
    const struct delivery *d, const struct firmware *fw)
{
	const char		*by;
	char			 why[120];
	enum delivery_event	 ev;
	int			 rc = 0;

	if (grant_policy_match(&g->h, fw, &by) != REPORT_SAME)
		return 0;
	snprintf(why, sizeof(why), "the device's updater reports the image's "
	    "%s", by);
	if ((ev = grant_policy_current(d->state, g->quiet)) != DELIVERY_NEVENTS)
		rc = delivery_apply(d, ev, why);
	if (rc == -1)
		grant_retry_later(c, reqid, d->id);
	else
		grant_reply(c, reqid, 304, "Already up to date.", d->id, fw);
	return 1;
}

/* The updater cannot take the image: the delivery is incompatible. */
static int
grant_refuse(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g,
    const struct delivery *d, const struct firmware *fw)
{
	char	 why[200];
	int	 status;

	if ((status = grant_policy_refusal(&g->h, fw, why, sizeof(why))) == 0)
		return 0;
	if (!g->quiet && delivery_apply(d, DELIVERY_INCOMPATIBLE_EV, why) == -1)
		grant_retry_later(c, reqid, d->id);
	else
		grant_reply(c, reqid, status, why, d->id, NULL);
	return 1;
}

/* Why a ?auth= token refuses the delivery (403), or NULL: a token given
 * must be the delivery's device's. */
static const char *
grant_other_device(const struct grant_req *g, const struct delivery *d)
{
	const char	*auth = grant_policy_header(&g->h, ":auth");
	struct device	 dev;
	char		 hash[65];
	int		 found;
	int64_t		 id = 0;

	if (auth == NULL)
		return NULL;
	util_sha256_hex(auth, hash);
	if ((found = store_device_by_token(env->store, hash, &dev)) == 1) {
		id = dev.id;
		device_free(&dev);
	}
	return grant_policy_other_device(found, id, d->device_id);
}

/*
 * The image's file is on this node's disk before a download is granted
 * (on a shared store it may have to come from the database first): -1
 * after answering 503 when it could not be fetched now.  A damaged copy
 * in the database (logged) is granted as before: fwstore finds no file
 * and answers as it does for any missing one.
 */
static int
grant_fetch(struct ctl_conn *c, uint32_t reqid, const struct delivery *d,
    const struct firmware *fw)
{
	if (fwcache_ensure(fw) != -1)
		return 0;
	grant_retry_later(c, reqid, d->id);
	return -1;
}

/* The ticket's delivery and its job's firmware come from one statement:
 * a download's check reads the store once (twice with ?auth=). */
static void
grant_check(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g)
{
	struct delivery	 d;
	struct firmware	 fw;
	const char	*why_auth;
	char		 why[160];
	int		 status;

	switch (store_delivery_by_ticket(env->store, g->ticket, &d, &fw)) {
	case 1:
		break;
	case 0:
		grant_reply(c, reqid, 404, "Unknown download ticket.", 0, NULL);
		return;
	default:	/* the database failed: the ticket may be good */
		grant_retry_later(c, reqid, 0);
		return;
	}
	if ((why_auth = grant_other_device(g, &d)) != NULL) {
		grant_reply(c, reqid, 403, why_auth, d.id, NULL);
	} else if (fw.id == 0) {
		grant_reply(c, reqid, 404, "The firmware is gone.", d.id, NULL);
	} else if (grant_current(c, reqid, g, &d, &fw)) {
		;
	} else if ((status = grant_policy_offered(d.state, why,
	    sizeof(why))) != 0) {
		grant_reply(c, reqid, status, why, d.id, NULL);
	} else if (!grant_refuse(c, reqid, g, &d, &fw) &&
	    grant_fetch(c, reqid, &d, &fw) == 0) {
		grant_reply(c, reqid, 200, "", d.id, &fw);
	}
	firmware_free(&fw);
	delivery_free(&d);
}

/*
 * GET /update?auth=<token>: the device's pending delivery, if any, decided
 * as the scheduler would for a device online, and sent now.
 */
static void
grant_poll(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g)
{
	struct device	 dev;
	struct delivery	 d;
	struct job	 job;
	struct firmware	 fw;
	char		 hash[65];

	memset(&job, 0, sizeof(job));
	memset(&fw, 0, sizeof(fw));
	util_sha256_hex(g->ticket, hash);
	switch (*g->ticket == '\0' ? 0 :
	    store_device_by_token(env->store, hash, &dev)) {
	case 1:
		break;
	case 0:
		grant_reply(c, reqid, 403, "Unknown device token.", 0, NULL);
		return;
	default:
		grant_retry_later(c, reqid, 0);
		return;
	}
	if (!g->quiet)
		grant_poll_record(g, &dev);
	if (store_delivery_pending(env->store, dev.id, &d) != 1) {
		grant_reply(c, reqid, 304, "No update pending.", 0, NULL);
		device_free(&dev);
		return;
	}
	if (store_job_get(env->store, d.job_id, &job) != 1 ||
	    store_firmware_get(env->store, job.firmware_id, &fw) != 1)
		grant_reply(c, reqid, 404, "The firmware is gone.", d.id, NULL);
	else if (grant_current(c, reqid, g, &d, &fw) ||
	    grant_refuse(c, reqid, g, &d, &fw) ||
	    grant_fetch(c, reqid, &d, &fw) == -1)
		;
	else if (g->quiet || grant_poll_send(c, reqid, &d, &job, g, &fw) == 0)
		grant_reply(c, reqid, 200, "", d.id, &fw);
	firmware_free(&fw);
	job_free(&job);
	delivery_free(&d);
	device_free(&dev);
}

/* The updater's headers as the device's hardware info: its version and
 * updater in the device row, the whole set in an event when they change. */
static void
grant_poll_record(const struct grant_req *g, const struct device *dev)
{
	struct grant_updater	 u;

	if (store_device_seen(env->store, dev->id, g->remote, time(NULL)) ==
	    -1)
		log_warnx("device %" PRId64 ": its poll is not stored",
		    dev->id);
	grant_policy_updater(&g->h, dev, &u);
	if (!u.changed)
		return;
	if (store_device_set_info(env->store, dev->id, u.version, dev->build,
	    dev->fw_type, dev->board, u.lib) == -1 ||
	    store_event(env->store, "device.info", "otad", g->remote, dev->id,
	    0, u.text) == -1)
		log_warnx("device %" PRId64 ": its updater's info is not "
		    "stored", dev->id);
}

/*
 * After a complete download the device polls again without reporting the
 * image (grant_current answered those): its report decides, as for a
 * Blynk device that logs in again.  -1 after answering 304.
 */
static int
grant_poll_verify(struct ctl_conn *c, uint32_t reqid, struct delivery *d,
    const struct job *job, const struct grant_req *g,
    const struct firmware *fw)
{
	char			 why[200];
	enum delivery_event	 ev = grant_policy_poll_verdict(&g->h, fw,
				    d->attempts, job->attempt_limit, why,
				    sizeof(why));

	if (delivery_apply(d, ev, why) == -1) {
		grant_retry_later(c, reqid, d->id);
		return -1;
	}
	if (ev == DELIVERY_RETRY) {
		d->state = DELIVERY_QUEUED;
		d->ticket[0] = '\0';
		return 0;
	}
	grant_reply(c, reqid, 304, "No update pending.", d->id, NULL);
	return -1;
}

/*
 * The delivery goes out now: queued gets its ticket and becomes sent; sent
 * or downloading is offered again.  A job with no free slot answers 304:
 * the updater asks again at its next poll.  0 when the image is to be
 * sent.
 */
static int
grant_poll_send(struct ctl_conn *c, uint32_t reqid, struct delivery *d,
    const struct job *job, const struct grant_req *g,
    const struct firmware *fw)
{
	int	 held;

	if (d->state == DELIVERY_DOWNLOADED &&
	    grant_poll_verify(c, reqid, d, job, g, fw) == -1)
		return -1;
	if (d->state != DELIVERY_QUEUED && d->state != DELIVERY_SCHEDULED &&
	    d->state != DELIVERY_AWAITING_CONSENT)
		return 0;
	/* its window, start_at or consent first (sched.c) */
	if ((held = sched_hold(d, job)) != 0) {
		if (held == -1)
			grant_retry_later(c, reqid, d->id);
		else
			grant_reply(c, reqid, 304, "No update for now: the "
			    "update waits for its window, its start time or "
			    "consent.", d->id, NULL);
		return -1;
	}
	/* paced like a Blynk fleet: no free slot, ask again later */
	if (!sched_has_slot(job)) {
		grant_reply(c, reqid, 304, "No update for now: the job's "
		    "max_parallel downloads are under way.", d->id, NULL);
		return -1;
	}
	if (delivery_send(d, job, 0, NULL) == -1) {
		grant_retry_later(c, reqid, d->id);
		return -1;
	}
	return 0;
}

/* Downloads under way and bytes served, for GET /metrics. */
static void
grant_count(const struct delivery *d, uint8_t what, uint64_t bytes)
{
	struct grant_counters n = { env->stats.downloads,
	    env->stats.in_flight, env->stats.bytes_served };

	grant_policy_count(&n, d->bytes_sent, what, bytes);
	throughput_add(n.bytes_served - env->stats.bytes_served);
	env->stats.downloads = n.downloads;
	env->stats.in_flight = n.in_flight;
	env->stats.bytes_served = n.bytes_served;
}

/* One "delivery" event for each 10 % step the download crossed: still
 * downloading, with the bytes so far (the web page's percentage). */
static void
grant_publish_progress(const struct delivery *d, uint8_t what,
    uint64_t bytes, uint64_t total)
{
	unsigned	 first, n;
	char		 data[256];

	if (!events_heard())
		return;
	n = grant_policy_steps(what, d->bytes_sent, bytes, total, &first);
	for (unsigned step = first; step < first + n; step++) {
		grant_policy_step_json(d, bytes, total, step * 10, data,
		    sizeof(data));
		events_publish("delivery", d->device_id, d->job_id, data);
	}
}

/* The event fwstore reported, if the delivery's state allows it. */
static void
grant_progress_event(struct delivery *d, enum delivery_event ev,
    const char *why)
{
	enum delivery_state to;

	if (delivery_next(d->state, ev, &to) == -1)
		return;		/* e.g. a second download of a downloaded one */
	if (delivery_apply(d, ev, why) == -1)
		return;		/* logged; fwstore's next report tries again */
	if (ev == DELIVERY_COMPLETE)
		sched_slot_freed(d->job_id);
	if (ev == DELIVERY_COMPLETE || ev == DELIVERY_ABORTED)
		sched_download_ended(d->device_id);
}

static void
grant_progress(int64_t delivery_id, uint8_t what, uint64_t bytes,
    uint64_t total)
{
	struct delivery		 d;
	char			 why[128];
	enum delivery_event	 ev;

	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (!grant_policy_progress_applies(d.state)) {
		delivery_free(&d);
		return;
	}
	grant_count(&d, what, bytes);
	if (what == CTL_PROGRESS_RUNNING)
		flight_touch(d.id);
	grant_publish_progress(&d, what, bytes, total);
	/* Progress is no transition: no fsync for it.  bytes_sent is a
	 * statistic the next report writes again: a failed write (logged by
	 * the store) does not stop the report's events. */
	if (store_light(env->store) == -1 ||
	    store_delivery_progress(env->store, delivery_id, bytes) == -1)
		log_debug("delivery %" PRId64 ": progress not stored",
		    delivery_id);
	ev = grant_policy_progress_event(what, bytes, total, why, sizeof(why));
	if (ev != DELIVERY_NEVENTS)
		grant_progress_event(&d, ev, why);
	delivery_free(&d);
}
