/* SPDX-License-Identifier: MIT */
/*
 * The decisions of admind's answers to fwstore, pure (see grant_policy.h):
 * reading the ESP8266httpUpdate and HTTPUpdate headers, whether the device
 * runs the image or cannot take it, what a ticket not offered answers, the
 * verdict of a poll after a download, and the progress of a download as
 * 10 % steps and counters.  Linked into admindcore so that
 * tests/test_grant.c checks them without a daemon.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "grant_policy.h"
#include "util.h"

const char *
grant_policy_header(const struct grant_headers *h, const char *name)
{
	for (uint32_t i = 0; i < h->n; i++)
		if (strcasecmp(h->names[i], name) == 0)
			return h->values[i];
	return NULL;
}

const char *
grant_policy_hdr2(const struct grant_headers *h, const char *name)
{
	char		 hdr[64];
	const char	*v;

	snprintf(hdr, sizeof(hdr), "x-esp8266-%s", name);
	if ((v = grant_policy_header(h, hdr)) != NULL)
		return v;
	snprintf(hdr, sizeof(hdr), "x-esp32-%s", name);
	return grant_policy_header(h, hdr);
}

int
grant_policy_quiet(const struct grant_headers *h, int head)
{
	const char	*mode = grant_policy_hdr2(h, "mode");

	return head || (mode != NULL && strcasecmp(mode, "version") == 0);
}

const char *
grant_policy_req_family(const struct grant_headers *h)
{
	const char	*ua = grant_policy_header(h, "user-agent");

	if (ua != NULL && strncasecmp(ua, "ESP8266-http-Update", 19) == 0)
		return "esp8266";
	if (ua != NULL && strncasecmp(ua, "ESP32-http-Update", 17) == 0)
		return "esp32";
	for (uint32_t i = 0; i < h->n; i++) {
		if (strncasecmp(h->names[i], "x-esp8266-", 10) == 0)
			return "esp8266";
		if (strncasecmp(h->names[i], "x-esp32-", 8) == 0)
			return "esp32";
	}
	return NULL;
}

const char *
grant_policy_fw_family(const struct firmware *fw)
{
	if (strncmp(fw->format, "esp8266", 7) == 0)
		return "esp8266";
	if (strncmp(fw->format, "esp32", 5) == 0)
		return "esp32";
	return NULL;
}

enum report_match
grant_policy_match(const struct grant_headers *h, const struct firmware *fw,
    const char **by)
{
	const char	*md5 = grant_policy_header(h, "x-esp8266-sketch-md5");
	struct device_report r = { grant_policy_hdr2(h, "version"), NULL,
	    md5 ? md5 : grant_policy_header(h, "x-esp32-sketch-sha256") };
	struct image_facts f = { fw->version, fw->build, fw->md5, fw->sha256 };

	return report_compare(&f, &r, by);
}

int
grant_policy_refusal(const struct grant_headers *h,
    const struct firmware *fw, char *why, size_t len)
{
	const char	*mode = grant_policy_hdr2(h, "mode");
	const char	*free_space = grant_policy_hdr2(h, "free-space");
	const char	*want = grant_policy_req_family(h);
	const char	*have = grant_policy_fw_family(fw);
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

enum delivery_event
grant_policy_current(enum delivery_state s, int quiet)
{
	if (quiet || delivery_state_ended(s) || s == DELIVERY_SCHEDULED ||
	    s == DELIVERY_AWAITING_CONSENT)
		return DELIVERY_NEVENTS;
	return s == DELIVERY_DOWNLOADED ? DELIVERY_VERIFIED : DELIVERY_CURRENT;
}

/* An unknown token (a typo, a rotated token, a decorated "TOKEN." fwstore
 * let through) is no "no auth". */
const char *
grant_policy_other_device(int found, int64_t token_device,
    int64_t delivery_device)
{
	if (found != 1)
		return found == 0 ? "The ?auth= token is no device's token." :
		    "The ?auth= token could not be checked; try again later.";
	return token_device != delivery_device ?
	    "This download is for another device." : NULL;
}

int
grant_policy_offered(enum delivery_state s, char *why, size_t len)
{
	if (delivery_state_ended(s)) {
		snprintf(why, len, "This update already ended (%s): "
		    "the download is no longer offered.",
		    delivery_state_name(s));
		return 403;
	}
	if (s == DELIVERY_QUEUED) {
		snprintf(why, len, "This download is not offered now: "
		    "the update waits for its next attempt.");
		return 403;
	}
	if (s == DELIVERY_SCHEDULED || s == DELIVERY_AWAITING_CONSENT) {
		snprintf(why, len, "This download is not offered now: "
		    "the update is %s.", delivery_state_name(s));
		return 403;
	}
	return 0;
}

enum delivery_event
grant_policy_poll_verdict(const struct grant_headers *h,
    const struct firmware *fw, int attempts, int attempt_limit, char *why,
    size_t len)
{
	const char		*by;
	enum report_match	 m = grant_policy_match(h, fw, &by);
	enum delivery_event	 ev = report_verdict(m, attempts,
				    attempt_limit);

	if (ev == DELIVERY_UNVERIFIED)
		snprintf(why, len, "unverified: the updater reports no "
		    "version or sketch hash; the image was downloaded "
		    "completely");
	else
		snprintf(why, len, "still on the old image after "
		    "downloading (by its %s); attempt %d of %d%s", by,
		    attempts, attempt_limit, ev == DELIVERY_GIVE_UP ?
		    ", giving up" : "");
	return ev;
}

void
grant_policy_updater(const struct grant_headers *h, const struct device *dev,
    struct grant_updater *u)
{
	const char	*ver = grant_policy_hdr2(h, "version");
	const char	*md5 = grant_policy_header(h, "x-esp8266-sketch-md5");
	const char	*sha = grant_policy_header(h, "x-esp32-sketch-sha256");
	const char	*ua = grant_policy_header(h, "user-agent");
	const char	*sdk = grant_policy_hdr2(h, "sdk-version");
	const char	*family = grant_policy_req_family(h);

	snprintf(u->lib, sizeof(u->lib), "%s%s%s", ua ? ua : "",
	    sdk ? " " : "", sdk ? sdk : "");
	if (ver == NULL)
		ver = dev->fw_version;
	u->version = ver;
	u->changed = strcmp(ver, dev->fw_version) != 0 ||
	    strcmp(u->lib, dev->lib_version) != 0;
	snprintf(u->text, sizeof(u->text), "updater poll: version %s, sketch "
	    "%s, chip %s, %s", *ver ? ver : "-", md5 ? md5 : sha ? sha : "-",
	    family ? family : "-", *u->lib ? u->lib : "-");
}

void
grant_policy_count(struct grant_counters *n, uint64_t bytes_sent,
    uint8_t what, uint64_t bytes)
{
	if (what == CTL_PROGRESS_STARTED) {
		n->downloads++;
		n->in_flight++;
		return;
	}
	/* bytes is the total so far; a new download started from 0 */
	n->bytes_served += bytes >= bytes_sent ? bytes - bytes_sent : bytes;
	if ((what == CTL_PROGRESS_COMPLETE || what == CTL_PROGRESS_ABORTED) &&
	    n->in_flight > 0)
		n->in_flight--;
}

int
grant_policy_progress_applies(enum delivery_state s)
{
	return s != DELIVERY_QUEUED && s != DELIVERY_SCHEDULED &&
	    s != DELIVERY_AWAITING_CONSENT && !delivery_state_ended(s);
}

/* A download acknowledged at once still shows its 10 % steps. */
unsigned
grant_policy_steps(uint8_t what, uint64_t bytes_sent, uint64_t bytes,
    uint64_t total, unsigned *first)
{
	unsigned	 from, to;

	*first = 0;
	if (what != CTL_PROGRESS_RUNNING && what != CTL_PROGRESS_COMPLETE)
		return 0;
	if (total == 0 || bytes <= bytes_sent)
		return 0;
	from = (unsigned)(bytes_sent * 10 / total);
	to = (unsigned)(bytes * 10 / total);
	if (to > 9)
		to = 9;
	if (to <= from)
		return 0;
	*first = from + 1;
	return to - from;
}

void
grant_policy_step_json(const struct delivery *d, uint64_t bytes,
    uint64_t total, unsigned percent, char *out, size_t len)
{
	snprintf(out, len, "{\"delivery_id\":%" PRId64 ",\"device_id\":%"
	    PRId64 ",\"job_id\":%" PRId64 ",\"from\":\"downloading\","
	    "\"state\":\"downloading\",\"attempts\":%d,\"bytes_sent\":%"
	    PRIu64 ",\"total\":%" PRIu64 ",\"percent\":%u,\"error\":\"\"}",
	    d->id, d->device_id, d->job_id, d->attempts, bytes, total,
	    percent);
}

enum delivery_event
grant_policy_progress_event(uint8_t what, uint64_t bytes, uint64_t total,
    char *why, size_t len)
{
	if (len > 0)
		*why = '\0';
	switch (what) {
	case CTL_PROGRESS_STARTED:
		return DELIVERY_STARTED;
	case CTL_PROGRESS_COMPLETE:
		return DELIVERY_COMPLETE;
	case CTL_PROGRESS_ABORTED:
		snprintf(why, len, "the download stopped after %" PRIu64
		    " of %" PRIu64 " bytes", bytes, total);
		return DELIVERY_ABORTED;
	default:
		return DELIVERY_NEVENTS;
	}
}
