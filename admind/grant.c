/* SPDX-License-Identifier: MIT */
/*
 * admind's answers to fwstore: may this download go ahead (CTL_FW_CHECK,
 * the ticket is the credential; CTL_FW_POLL, the device token of a plain
 * ESP8266httpUpdate/HTTPUpdate fleet asking whether it has an update), and
 * the progress of downloads that did, which moves a delivery from sent to
 * downloading to downloaded.  The updater's own headers can show that the
 * device already runs the image (304, already-current) or cannot take it
 * (other chip family, too little space, file-system mode: refused, and the
 * delivery becomes incompatible with the reason).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admind.h"
#include "log.h"
#include "util.h"

/* The request's fields, borrowed from its decoded message. */
struct grant_req {
	char	*ticket;	/* CTL_FW_POLL: the device token */
	char	*remote;
	uint8_t	 head;
	uint32_t nheaders;
	char	*const *names;
	char	*const *values;
	int	 quiet;		/* HEAD or a version check: no transitions */
};

static void	grant_decode(const struct ctl_msg_fw_check *,
		    struct grant_req *);
static const char *grant_header(const struct grant_req *, const char *);
static const char *grant_hdr2(const struct grant_req *, const char *);
static const char *grant_req_family(const struct grant_req *);
static const char *grant_fw_family(const struct firmware *);
static enum report_match grant_match(const struct grant_req *,
		    const struct firmware *, const char **);
static int	grant_refusal(const struct grant_req *, const struct firmware *,
		    char *, size_t);
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
	const char	*mode;

	g->ticket = m->ticket;
	g->remote = m->remote_addr;
	g->head = m->head;
	g->nheaders = m->headers.n;
	g->names = m->headers.key;
	g->values = m->headers.value;
	mode = grant_hdr2(g, "mode");
	g->quiet = g->head || (mode != NULL && strcasecmp(mode, "version") == 0);
}

static const char *
grant_header(const struct grant_req *g, const char *name)
{
	for (uint32_t i = 0; i < g->nheaders; i++)
		if (strcasecmp(g->names[i], name) == 0)
			return g->values[i];
	return NULL;
}

/* x-ESP8266-<name>, else x-ESP32-<name>. */
static const char *
grant_hdr2(const struct grant_req *g, const char *name)
{
	char		 h[64];
	const char	*v;

	snprintf(h, sizeof(h), "x-esp8266-%s", name);
	if ((v = grant_header(g, h)) != NULL)
		return v;
	snprintf(h, sizeof(h), "x-esp32-%s", name);
	return grant_header(g, h);
}

/* The chip family of the updater asking, or NULL when it does not say
 * (Edgent, curl). */
static const char *
grant_req_family(const struct grant_req *g)
{
	const char	*ua = grant_header(g, "user-agent");

	if (ua != NULL && strncasecmp(ua, "ESP8266-http-Update", 19) == 0)
		return "esp8266";
	if (ua != NULL && strncasecmp(ua, "ESP32-http-Update", 17) == 0)
		return "esp32";
	for (uint32_t i = 0; i < g->nheaders; i++) {
		if (strncasecmp(g->names[i], "x-esp8266-", 10) == 0)
			return "esp8266";
		if (strncasecmp(g->names[i], "x-esp32-", 8) == 0)
			return "esp32";
	}
	return NULL;
}

static const char *
grant_fw_family(const struct firmware *fw)
{
	if (strncmp(fw->format, "esp8266", 7) == 0)
		return "esp8266";
	if (strncmp(fw->format, "esp32", 5) == 0)
		return "esp32";
	return NULL;
}

/* What the updater's own headers say of the image it runs. */
static enum report_match
grant_match(const struct grant_req *g, const struct firmware *fw,
    const char **by)
{
	const char	*md5 = grant_header(g, "x-esp8266-sketch-md5");
	struct device_report r = { grant_hdr2(g, "version"), NULL,
	    md5 ? md5 : grant_header(g, "x-esp32-sketch-sha256") };
	struct image_facts f = { fw->version, fw->build, fw->md5, fw->sha256 };

	return report_compare(&f, &r, by);
}

/* Why the updater cannot take the image, with the HTTP status to answer,
 * or 0. */
static int
grant_refusal(const struct grant_req *g, const struct firmware *fw,
    char *why, size_t len)
{
	const char	*mode = grant_hdr2(g, "mode");
	const char	*free_space = grant_hdr2(g, "free-space");
	const char	*want = grant_req_family(g), *have = grant_fw_family(fw);
	uint64_t	 room;

	if (want != NULL && have != NULL && strcmp(want, have) != 0) {
		snprintf(why, len, "The image is for %s, the device is an %s.",
		    have, want);
		return 409;
	}
	if (mode != NULL && strcasecmp(mode, "spiffs") == 0) {
		snprintf(why, len, "The device asked for a file-system image, "
		    "this is a sketch.");
		return 409;
	}
	if (free_space != NULL && util_parse_u64(free_space, &room) == 0 &&
	    fw->size > room) {
		snprintf(why, len, "The image is %" PRIu64 " bytes, the device "
		    "has %" PRIu64 " bytes free.", fw->size, room);
		return 413;
	}
	return 0;
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

/* A transition that could not be stored: nothing happened, the updater
 * asks again later. */
static void
grant_retry_later(struct ctl_conn *c, uint32_t reqid, const struct delivery *d)
{
	grant_reply(c, reqid, 503, "Try again later.", d->id, NULL);
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
	const char	*by;
	char		 why[120];
	int		 rc = 0;

	if (grant_match(g, fw, &by) != REPORT_SAME)
		return 0;
	snprintf(why, sizeof(why), "the device's updater reports the image's "
	    "%s", by);
	if (g->quiet || delivery_state_ended(d->state))
		;
	else if (d->state == DELIVERY_DOWNLOADED)
		rc = delivery_apply(d, DELIVERY_VERIFIED, why);
	else
		rc = delivery_apply(d, DELIVERY_CURRENT, why);
	if (rc == -1)
		grant_retry_later(c, reqid, d);
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

	if ((status = grant_refusal(g, fw, why, sizeof(why))) == 0)
		return 0;
	if (!g->quiet && delivery_apply(d, DELIVERY_INCOMPATIBLE_EV, why) == -1)
		grant_retry_later(c, reqid, d);
	else
		grant_reply(c, reqid, status, why, d->id, NULL);
	return 1;
}

/*
 * Why a ?auth= token refuses the delivery (403), or NULL: a token given
 * must be the delivery's device's.  An unknown one (a typo, a rotated
 * token, a decorated "TOKEN." fwstore let through) is no "no auth".
 */
static const char *
grant_other_device(const struct grant_req *g, const struct delivery *d)
{
	const char	*auth = grant_header(g, ":auth");
	struct device	 dev;
	char		 hash[65];
	int		 found, other;

	if (auth == NULL)
		return NULL;
	util_sha256_hex(auth, hash);
	if ((found = store_device_by_token(env->store, hash, &dev)) != 1)
		return found == 0 ? "The ?auth= token is no device's token." :
		    "The ?auth= token could not be checked; try again later.";
	other = dev.id != d->device_id;
	device_free(&dev);
	return other ? "This download is for another device." : NULL;
}

static void
grant_check(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g)
{
	struct delivery	 d;
	struct job	 job;
	struct firmware	 fw;
	const char	*why_auth;
	char		 why[160];

	memset(&job, 0, sizeof(job));
	memset(&fw, 0, sizeof(fw));
	if (store_delivery_by_ticket(env->store, g->ticket, &d) != 1) {
		grant_reply(c, reqid, 404, "Unknown download ticket.", 0, NULL);
		return;
	}
	if ((why_auth = grant_other_device(g, &d)) != NULL) {
		grant_reply(c, reqid, 403, why_auth, d.id, NULL);
	} else if (store_job_get(env->store, d.job_id, &job) != 1 ||
	    store_firmware_get(env->store, job.firmware_id, &fw) != 1) {
		grant_reply(c, reqid, 404, "The firmware is gone.", d.id, NULL);
	} else if (grant_current(c, reqid, g, &d, &fw)) {
		;
	} else if (delivery_state_ended(d.state)) {
		snprintf(why, sizeof(why), "This update already ended (%s): "
		    "the download is no longer offered.",
		    delivery_state_name(d.state));
		grant_reply(c, reqid, 403, why, d.id, NULL);
	} else if (d.state == DELIVERY_QUEUED) {
		grant_reply(c, reqid, 403, "This download is not offered now: "
		    "the update waits for its next attempt.", d.id, NULL);
	} else if (!grant_refuse(c, reqid, g, &d, &fw)) {
		grant_reply(c, reqid, 200, "", d.id, &fw);
	}
	firmware_free(&fw);
	job_free(&job);
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
	if (*g->ticket == '\0' ||
	    store_device_by_token(env->store, hash, &dev) != 1) {
		grant_reply(c, reqid, 403, "Unknown device token.", 0, NULL);
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
	    grant_refuse(c, reqid, g, &d, &fw))
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
	const char	*ver = grant_hdr2(g, "version");
	const char	*md5 = grant_header(g, "x-esp8266-sketch-md5");
	const char	*sha = grant_header(g, "x-esp32-sketch-sha256");
	const char	*ua = grant_header(g, "user-agent");
	const char	*sdk = grant_hdr2(g, "sdk-version");
	const char	*family = grant_req_family(g);
	char		 lib[160], text[400];

	if (store_device_seen(env->store, dev->id, g->remote, time(NULL)) ==
	    -1)
		log_warnx("device %" PRId64 ": its poll is not stored",
		    dev->id);
	snprintf(lib, sizeof(lib), "%s%s%s", ua ? ua : "", sdk ? " " : "",
	    sdk ? sdk : "");
	if (ver == NULL)
		ver = dev->fw_version;
	if (strcmp(ver, dev->fw_version) == 0 &&
	    strcmp(lib, dev->lib_version) == 0)
		return;
	snprintf(text, sizeof(text), "updater poll: version %s, sketch %s, "
	    "chip %s, %s", *ver ? ver : "-", md5 ? md5 : sha ? sha : "-",
	    family ? family : "-", *lib ? lib : "-");
	if (store_device_set_info(env->store, dev->id, ver, dev->build,
	    dev->fw_type, dev->board, lib) == -1 ||
	    store_event(env->store, "device.info", "otad", g->remote, dev->id,
	    0, text) == -1)
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
	const char		*by;
	enum report_match	 m = grant_match(g, fw, &by);
	enum delivery_event	 ev = report_verdict(m, d->attempts,
				    job->attempt_limit);
	char			 why[200];

	if (ev == DELIVERY_UNVERIFIED)
		snprintf(why, sizeof(why), "unverified: the updater reports no "
		    "version or sketch hash; the image was downloaded "
		    "completely");
	else
		snprintf(why, sizeof(why), "still on the old image after "
		    "downloading (by its %s); attempt %d of %d%s", by,
		    d->attempts, job->attempt_limit, ev == DELIVERY_GIVE_UP ?
		    ", giving up" : "");
	if (delivery_apply(d, ev, why) == -1) {
		grant_retry_later(c, reqid, d);
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
	if (d->state == DELIVERY_DOWNLOADED &&
	    grant_poll_verify(c, reqid, d, job, g, fw) == -1)
		return -1;
	if (d->state != DELIVERY_QUEUED)
		return 0;
	/* paced like a Blynk fleet: no free slot, ask again later */
	if (!sched_has_slot(job)) {
		grant_reply(c, reqid, 304, "No update for now: the job's "
		    "max_parallel downloads are under way.", d->id, NULL);
		return -1;
	}
	if (delivery_send(d, job, 0, NULL) == -1) {
		grant_retry_later(c, reqid, d);
		return -1;
	}
	return 0;
}

/* Downloads under way and bytes served, for GET /metrics. */
static void
grant_count(const struct delivery *d, uint8_t what, uint64_t bytes)
{
	if (what == CTL_PROGRESS_STARTED) {
		env->stats.downloads++;
		env->stats.in_flight++;
		return;
	}
	/* bytes is the total so far; a new download started from 0 */
	env->stats.bytes_served += bytes >= d->bytes_sent ?
	    bytes - d->bytes_sent : bytes;
	if ((what == CTL_PROGRESS_COMPLETE || what == CTL_PROGRESS_ABORTED) &&
	    env->stats.in_flight > 0)
		env->stats.in_flight--;
}

/* One "delivery" event for each 10 % step the download crossed: still
 * downloading, with the bytes so far (the web page's percentage). */
static void
grant_publish_progress(const struct delivery *d, uint64_t bytes,
    uint64_t total)
{
	unsigned	 from, to;
	char		 data[256];

	if (total == 0 || bytes <= d->bytes_sent)
		return;
	from = (unsigned)(d->bytes_sent * 10 / total);
	to = (unsigned)(bytes * 10 / total);
	for (unsigned step = from + 1; step <= to && step < 10; step++) {
		snprintf(data, sizeof(data), "{\"delivery_id\":%" PRId64
		    ",\"device_id\":%" PRId64 ",\"job_id\":%" PRId64
		    ",\"from\":\"downloading\",\"state\":\"downloading\","
		    "\"attempts\":%d,\"bytes_sent\":%" PRIu64 ",\"total\":%"
		    PRIu64 ",\"percent\":%u,\"error\":\"\"}", d->id,
		    d->device_id, d->job_id, d->attempts, bytes, total,
		    step * 10);
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
		sched_job_kick(d->job_id);
	if (ev == DELIVERY_COMPLETE || ev == DELIVERY_ABORTED)
		sched_download_ended(d->device_id);
}

static void
grant_progress(int64_t delivery_id, uint8_t what, uint64_t bytes,
    uint64_t total)
{
	struct delivery	 d;
	char		 why[128];

	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (d.state == DELIVERY_QUEUED || delivery_state_ended(d.state)) {
		delivery_free(&d);
		return;
	}
	grant_count(&d, what, bytes);
	if (what == CTL_PROGRESS_RUNNING)
		flight_touch(d.id);
	/* a download acknowledged at once still shows its 10 % steps */
	if (what == CTL_PROGRESS_RUNNING || what == CTL_PROGRESS_COMPLETE)
		grant_publish_progress(&d, bytes, total);
	/* Progress is no transition: no fsync for it.  bytes_sent is a
	 * statistic the next report writes again: a failed write (logged by
	 * the store) does not stop the report's events. */
	if (store_light(env->store) == -1 ||
	    store_delivery_progress(env->store, delivery_id, bytes) == -1)
		log_debug("delivery %" PRId64 ": progress not stored",
		    delivery_id);
	if (what == CTL_PROGRESS_STARTED)
		grant_progress_event(&d, DELIVERY_STARTED, "");
	else if (what == CTL_PROGRESS_COMPLETE)
		grant_progress_event(&d, DELIVERY_COMPLETE, "");
	else if (what == CTL_PROGRESS_ABORTED) {
		snprintf(why, sizeof(why), "the download stopped after %" PRIu64
		    " of %" PRIu64 " bytes", bytes, total);
		grant_progress_event(&d, DELIVERY_ABORTED, why);
	}
	delivery_free(&d);
}
