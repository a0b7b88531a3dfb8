/* SPDX-License-Identifier: MIT */
/*
 * The decisions of admind's scheduler, pure (see sched_policy.h): whether
 * a queued delivery is current, incompatible, sent, waits for its window
 * or start_at, asks for consent or waits for a slot;
 * what a device back during a delivery gets; when an attempt gives up and
 * when a delivery in flight has timed out.  Linked into admindcore so that
 * tests/test_sched.c checks them without a daemon.
 */
#include <stdio.h>
#include <string.h>

#include "sched_policy.h"

#define SCHED_SWEEP_MIN_MS	250

int
sched_policy_has_slot(int64_t busy, int max_parallel)
{
	return busy < max_parallel;
}

const char *
sched_policy_mismatch(const struct device *dev, const struct firmware *fw,
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

enum sched_action
sched_policy_queued(enum report_match m, int force, int mismatch,
    int has_slot)
{
	if (m == REPORT_SAME)
		return SCHED_CURRENT;
	if (!force && mismatch)
		return SCHED_INCOMPATIBLE;
	return has_slot ? SCHED_SEND : SCHED_WAIT;
}

enum sched_action
sched_policy_hold(int may_start, enum job_confirm confirm, int consented)
{
	if (!may_start)
		return SCHED_SCHEDULE;
	if (confirm != JOB_CONFIRM_NONE && !consented)
		return SCHED_ASK;
	return SCHED_SEND;
}

enum sched_action
sched_policy_back(enum delivery_state s, enum report_match m, int resync)
{
	if (s != DELIVERY_DOWNLOADED && m == REPORT_SAME)
		return SCHED_VERIFIED;
	if (resync)
		return SCHED_HOLD;
	if (s == DELIVERY_DOWNLOADED)
		return SCHED_VERIFY;
	if (s == DELIVERY_DOWNLOADING)
		return SCHED_AWAIT;
	return SCHED_RESEND;
}

enum delivery_event
sched_policy_failed(int attempts, int attempt_limit)
{
	return attempts >= attempt_limit ? DELIVERY_GIVE_UP : DELIVERY_RETRY;
}

int
sched_policy_expired(uint64_t now, uint64_t since, unsigned sent_timeout)
{
	return now - since >= (uint64_t)sent_timeout * 1000;
}

int
sched_policy_moved_lately(int64_t now, int64_t updated_at,
    unsigned sent_timeout)
{
	return now - updated_at + 1 < (int64_t)sent_timeout;
}

uint64_t
sched_policy_sweep_every(unsigned sent_timeout)
{
	uint64_t every = (uint64_t)sent_timeout * 1000 / 4;

	return every < SCHED_SWEEP_MIN_MS ? SCHED_SWEEP_MIN_MS : every;
}

enum delivery_event
sched_policy_ota_sent(unsigned reached, const char *error)
{
	if (reached > 0 || *error == '\0')
		return DELIVERY_NEVENTS;
	return strcmp(error, "device offline") == 0 ? DELIVERY_UNSENT :
	    DELIVERY_GIVE_UP;
}
