/* SPDX-License-Identifier: MIT */
/*
 * The decisions behind admind's answers to fwstore (grant.c) as pure
 * functions: what the updater's headers say (chip family, the image it
 * runs, free space, mode), why a download is refused, what an ended or
 * waiting ticket answers, the verdict of a poll after a download, and the
 * progress steps and counters of a download.  No env, no store, no event
 * loop: grant.c gathers the facts and acts on the answer, the unit tests
 * (tests/test_grant.c) check every answer.
 */
#ifndef OTAD_GRANT_POLICY_H
#define OTAD_GRANT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"
#include "store.h"

/* The updater's request headers as fwstore passed them (lower-case names,
 * plus ":auth" for a ?auth= token). */
struct grant_headers {
	uint32_t	 n;
	char *const	*names;
	char *const	*values;
};

/* The header's value (name compared without case), or NULL. */
const char *grant_policy_header(const struct grant_headers *,
	    const char *name);

/* x-ESP8266-<name>, else x-ESP32-<name>, or NULL. */
const char *grant_policy_hdr2(const struct grant_headers *,
	    const char *name);

/* A HEAD request or a version check (x-*-mode: version): answered, but no
 * transition. */
int	 grant_policy_quiet(const struct grant_headers *, int head);

/* The chip family of the updater asking ("esp8266", "esp32"), or NULL
 * when it does not say (Edgent, curl). */
const char *grant_policy_req_family(const struct grant_headers *);

/* The chip family of the image, or NULL for an unknown format. */
const char *grant_policy_fw_family(const struct firmware *);

/* What the updater's own headers say of the image it runs; *by names what
 * decided (report_compare). */
enum report_match grant_policy_match(const struct grant_headers *,
	    const struct firmware *, const char **by);

/* Why the updater cannot take the image (other chip family, file-system
 * mode, too little free space), written into why, with the HTTP status
 * to answer (409, 413); 0 when it can. */
int	 grant_policy_refusal(const struct grant_headers *,
	    const struct firmware *, char *why, size_t len);

/* The updater reports the image (304): the transition it makes of a
 * delivery in state, VERIFIED after a complete download, else CURRENT;
 * DELIVERY_NEVENTS when none (quiet, or the delivery ended). */
enum delivery_event grant_policy_current(enum delivery_state, int quiet);

/* Why a ?auth= token refuses the delivery (403), or NULL.  found is what
 * the store said of the token (1 found, 0 unknown, -1 failed), token_device
 * its device when found. */
const char *grant_policy_other_device(int found, int64_t token_device,
	    int64_t delivery_device);

/* A ticket whose delivery is in state: 403 with the reason in why when
 * the download is not offered (ended, or queued for its next attempt),
 * else 0. */
int	 grant_policy_offered(enum delivery_state, char *why, size_t len);

/* A poll after a complete download, the updater not reporting the image:
 * VERIFIED, UNVERIFIED, RETRY or GIVE_UP (report_verdict), with the reason
 * in why. */
enum delivery_event grant_policy_poll_verdict(const struct grant_headers *,
	    const struct firmware *, int attempts, int attempt_limit,
	    char *why, size_t len);

/* What a poll's headers tell of the device's updater. */
struct grant_updater {
	const char	*version;	/* the header's, else the device's */
	char		 lib[160];	/* user-agent and SDK version */
	char		 text[400];	/* the device.info event's text */
	int		 changed;	/* version or lib differ from dev's */
};

void	 grant_policy_updater(const struct grant_headers *,
	    const struct device *, struct grant_updater *);

/* The GET /metrics counters a download report moves. */
struct grant_counters {
	uint64_t	 downloads;	/* started */
	int64_t		 in_flight;	/* under way */
	uint64_t	 bytes_served;
};

/* A report (CTL_PROGRESS_*) of bytes so far on a delivery that had
 * bytes_sent before. */
void	 grant_policy_count(struct grant_counters *, uint64_t bytes_sent,
	    uint8_t what, uint64_t bytes);

/* A report counts for a delivery in state (not queued, not ended). */
int	 grant_policy_progress_applies(enum delivery_state);

/* The 10 % steps a report crossed, each one "delivery" event: how many,
 * the first (1 to 9, tens of percent) in *first.  Only RUNNING and
 * COMPLETE reports show steps, and 100 % is the downloaded event's. */
unsigned grant_policy_steps(uint8_t what, uint64_t bytes_sent,
	    uint64_t bytes, uint64_t total, unsigned *first);

/* The "delivery" event's JSON for a step of percent. */
void	 grant_policy_step_json(const struct delivery *, uint64_t bytes,
	    uint64_t total, unsigned percent, char *out, size_t len);

/* The transition a report asks (STARTED, COMPLETE, ABORTED with the
 * reason in why), or DELIVERY_NEVENTS for a running one. */
enum delivery_event grant_policy_progress_event(uint8_t what,
	    uint64_t bytes, uint64_t total, char *why, size_t len);

#endif
