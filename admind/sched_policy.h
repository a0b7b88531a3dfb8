/* SPDX-License-Identifier: MIT */
/*
 * The scheduler's decisions (DESIGN.md section 4) as pure functions: given
 * what admind knows of a delivery, its job, the device's report and the
 * clock, each says what sched.c is to do.  No env, no store, no event
 * loop: sched.c gathers the facts and acts on the answer, the unit tests
 * (tests/test_sched.c) check every answer.
 */
#ifndef OTAD_SCHED_POLICY_H
#define OTAD_SCHED_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"
#include "store.h"

enum sched_action {
	/* a queued delivery */
	SCHED_CURRENT,		/* the device runs the image already */
	SCHED_INCOMPATIBLE,	/* the image does not fit (no force) */
	SCHED_SEND,		/* send the command now */
	SCHED_WAIT,		/* no free slot: wait in line */
	SCHED_SCHEDULE,		/* before start_at or outside the window */
	SCHED_ASK,		/* the job needs consent first */
	/* a delivery in flight whose device is back */
	SCHED_VERIFIED,		/* it reports the image already */
	SCHED_HOLD,		/* a resync: nothing is sent twice */
	SCHED_VERIFY,		/* downloaded: its report decides */
	SCHED_AWAIT,		/* downloading: decide at its end */
	SCHED_RESEND		/* sent: the same command again */
};

/* The job may send one more delivery (max_parallel against in flight). */
int	 sched_policy_has_slot(int64_t busy, int max_parallel);

/* Why the image does not fit the device (fw-type, then board, when both
 * name one), written into why; NULL when it fits. */
const char *sched_policy_mismatch(const struct device *,
	    const struct firmware *, char *why, size_t len);

/* A queued delivery of a device that is ready: CURRENT, INCOMPATIBLE,
 * SEND or WAIT.  mismatch: sched_policy_mismatch found one. */
enum sched_action sched_policy_queued(enum report_match, int force,
	    int mismatch, int has_slot);

/* A queued delivery that neither is current nor incompatible, before it
 * takes a slot: SCHEDULE when the job may not start now (start_at, its
 * window), ASK when the job has a confirm and the delivery no consent,
 * else SEND (it goes on to the slot). */
enum sched_action sched_policy_hold(int may_start, enum job_confirm,
	    int consented);

/* A delivery in flight (sent, downloading, downloaded) whose device is
 * back: VERIFIED, HOLD, VERIFY, AWAIT or RESEND.  resync: hwd replayed the
 * login after admind restarted. */
enum sched_action sched_policy_back(enum delivery_state, enum report_match,
	    int resync);

/* The attempt failed: RETRY while attempts remain, GIVE_UP at the limit. */
enum delivery_event sched_policy_failed(int attempts, int attempt_limit);

/* A delivery in flight since since (ms, monotonic) is due at now. */
int	 sched_policy_expired(uint64_t now, uint64_t since,
	    unsigned sent_timeout);

/* A delivery due by this node's clock that the shared database says was
 * moved at updated_at (s, wall clock) by another node (a transition,
 * progress) less than sent_timeout ago, at now: not due yet.  One second
 * of slack: this node's own moves are stored a little after its loop's
 * clock read them, and are due as that clock says. */
int	 sched_policy_moved_lately(int64_t now, int64_t updated_at,
	    unsigned sent_timeout);

/* How often the sent_timeout sweep runs, in ms. */
uint64_t sched_policy_sweep_every(unsigned sent_timeout);

/* hwd's report on a command: UNSENT (device offline: the attempt does
 * not count), GIVE_UP (any other error), or DELIVERY_NEVENTS when it
 * reached a connection or nothing went wrong. */
enum delivery_event sched_policy_ota_sent(unsigned reached,
	    const char *error);

#endif
