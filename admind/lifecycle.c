/* SPDX-License-Identifier: MIT */
/*
 * The rules of the OTA lifecycle, as tables: the names of delivery and job
 * states and events, every allowed {from, event, to}, and how a device's
 * report is compared with an image.  Linked into otad-admind (which applies
 * them in delivery.c and jobs.c), the store and the unit tests.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lifecycle.h"

static const char *const delivery_states[DELIVERY_NSTATES] = {
	[DELIVERY_QUEUED] = "queued",
	[DELIVERY_SCHEDULED] = "scheduled",
	[DELIVERY_AWAITING_CONSENT] = "awaiting-consent",
	[DELIVERY_SENT] = "sent",
	[DELIVERY_DOWNLOADING] = "downloading",
	[DELIVERY_DOWNLOADED] = "downloaded",
	[DELIVERY_SUCCEEDED] = "succeeded",
	[DELIVERY_FAILED] = "failed",
	[DELIVERY_ALREADY_CURRENT] = "already-current",
	[DELIVERY_INCOMPATIBLE] = "incompatible",
	[DELIVERY_CANCELED] = "canceled",
	[DELIVERY_DECLINED] = "declined",
};

static const char *const delivery_events[DELIVERY_NEVENTS] = {
	[DELIVERY_SEND] = "send",
	[DELIVERY_UNSENT] = "unsent",
	[DELIVERY_STARTED] = "started",
	[DELIVERY_ABORTED] = "aborted",
	[DELIVERY_COMPLETE] = "complete",
	[DELIVERY_VERIFIED] = "verified",
	[DELIVERY_UNVERIFIED] = "unverified",
	[DELIVERY_RETRY] = "retry",
	[DELIVERY_GIVE_UP] = "give-up",
	[DELIVERY_CURRENT] = "current",
	[DELIVERY_INCOMPATIBLE_EV] = "incompatible",
	[DELIVERY_CANCEL] = "cancel",
	[DELIVERY_WAIT] = "wait",
	[DELIVERY_OPEN] = "open",
	[DELIVERY_ASK] = "ask",
	[DELIVERY_ACCEPT] = "accept",
	[DELIVERY_DEFER] = "defer",
	[DELIVERY_DECLINE] = "decline",
};

#define Q	DELIVERY_QUEUED
#define S	DELIVERY_SENT
#define DL	DELIVERY_DOWNLOADING
#define DD	DELIVERY_DOWNLOADED
#define SC	DELIVERY_SCHEDULED
#define AC	DELIVERY_AWAITING_CONSENT

/* Every delivery transition there is; anything else is refused. */
static const struct lifecycle_move delivery_table[] = {
	{ Q, DELIVERY_SEND, S },
	{ Q, DELIVERY_CURRENT, DELIVERY_ALREADY_CURRENT },
	{ Q, DELIVERY_INCOMPATIBLE_EV, DELIVERY_INCOMPATIBLE },
	{ Q, DELIVERY_CANCEL, DELIVERY_CANCELED },
	{ Q, DELIVERY_WAIT, SC },
	{ Q, DELIVERY_ASK, AC },
	{ Q, DELIVERY_DECLINE, DELIVERY_DECLINED },

	/* waiting for start_at or the window: no slot, no sent_timeout */
	{ SC, DELIVERY_OPEN, Q },
	{ SC, DELIVERY_DECLINE, DELIVERY_DECLINED },
	{ SC, DELIVERY_CANCEL, DELIVERY_CANCELED },

	/* waiting for consent: no slot, no sent_timeout */
	{ AC, DELIVERY_ACCEPT, Q },
	{ AC, DELIVERY_DEFER, AC },
	{ AC, DELIVERY_DECLINE, DELIVERY_DECLINED },
	{ AC, DELIVERY_CANCEL, DELIVERY_CANCELED },

	{ S, DELIVERY_UNSENT, Q },
	{ S, DELIVERY_STARTED, DL },
	{ S, DELIVERY_COMPLETE, DD },
	{ S, DELIVERY_VERIFIED, DELIVERY_SUCCEEDED },
	{ S, DELIVERY_RETRY, Q },
	{ S, DELIVERY_GIVE_UP, DELIVERY_FAILED },
	{ S, DELIVERY_CURRENT, DELIVERY_ALREADY_CURRENT },
	{ S, DELIVERY_INCOMPATIBLE_EV, DELIVERY_INCOMPATIBLE },
	{ S, DELIVERY_CANCEL, DELIVERY_CANCELED },

	{ DL, DELIVERY_ABORTED, S },
	{ DL, DELIVERY_COMPLETE, DD },
	{ DL, DELIVERY_VERIFIED, DELIVERY_SUCCEEDED },
	{ DL, DELIVERY_RETRY, Q },
	{ DL, DELIVERY_GIVE_UP, DELIVERY_FAILED },
	{ DL, DELIVERY_CURRENT, DELIVERY_ALREADY_CURRENT },
	{ DL, DELIVERY_INCOMPATIBLE_EV, DELIVERY_INCOMPATIBLE },
	{ DL, DELIVERY_CANCEL, DELIVERY_CANCELED },

	{ DD, DELIVERY_VERIFIED, DELIVERY_SUCCEEDED },
	{ DD, DELIVERY_UNVERIFIED, DELIVERY_SUCCEEDED },
	{ DD, DELIVERY_RETRY, Q },
	{ DD, DELIVERY_GIVE_UP, DELIVERY_FAILED },
	{ DD, DELIVERY_INCOMPATIBLE_EV, DELIVERY_INCOMPATIBLE },
	{ DD, DELIVERY_CANCEL, DELIVERY_CANCELED },
};

#undef Q
#undef S
#undef DL
#undef DD
#undef SC
#undef AC

static const char *const job_states[JOB_NSTATES] = {
	[JOB_ACTIVE] = "active",
	[JOB_PAUSED] = "paused",
	[JOB_STOPPED] = "stopped",
	[JOB_FINISHED] = "finished",
};

static const char *const job_events[JOB_NEVENTS] = {
	[JOB_PAUSE] = "pause",
	[JOB_RESUME] = "resume",
	[JOB_STOP] = "stop",
	[JOB_FINISH] = "finish",
};

static const struct lifecycle_move job_table[] = {
	{ JOB_ACTIVE, JOB_PAUSE, JOB_PAUSED },
	{ JOB_ACTIVE, JOB_STOP, JOB_STOPPED },
	{ JOB_ACTIVE, JOB_FINISH, JOB_FINISHED },
	{ JOB_PAUSED, JOB_RESUME, JOB_ACTIVE },
	{ JOB_PAUSED, JOB_STOP, JOB_STOPPED },
	{ JOB_PAUSED, JOB_FINISH, JOB_FINISHED },
};

const struct lifecycle_machine delivery_machine = {
	delivery_states, DELIVERY_NSTATES, delivery_events, DELIVERY_NEVENTS,
	delivery_table, sizeof(delivery_table) / sizeof(delivery_table[0]),
};

const struct lifecycle_machine job_machine = {
	job_states, JOB_NSTATES, job_events, JOB_NEVENTS,
	job_table, sizeof(job_table) / sizeof(job_table[0]),
};

const char *
lifecycle_state(const struct lifecycle_machine *m, int s)
{
	return s >= 0 && s < m->nstates ? m->states[s] : "(invalid)";
}

const char *
lifecycle_event(const struct lifecycle_machine *m, int e)
{
	return e >= 0 && e < m->nevents ? m->events[e] : "(invalid)";
}

int
lifecycle_parse(const struct lifecycle_machine *m, const char *name, int *s)
{
	for (int i = 0; name != NULL && i < m->nstates; i++) {
		if (strcmp(m->states[i], name) == 0) {
			*s = i;
			return 0;
		}
	}
	return -1;
}

int
lifecycle_next(const struct lifecycle_machine *m, int from, int event,
    int *to)
{
	for (size_t i = 0; i < m->nmoves; i++) {
		if (m->moves[i].from == from && m->moves[i].event == event) {
			*to = m->moves[i].to;
			return 0;
		}
	}
	return -1;
}

/* A state no event leaves. */
int
lifecycle_ended(const struct lifecycle_machine *m, int state)
{
	for (size_t i = 0; i < m->nmoves; i++)
		if (m->moves[i].from == state)
			return 0;
	return 1;
}

const char *
delivery_state_name(enum delivery_state s)
{
	return lifecycle_state(&delivery_machine, (int)s);
}

int
delivery_state_parse(const char *name, enum delivery_state *s)
{
	int	 i;

	if (lifecycle_parse(&delivery_machine, name, &i) == -1)
		return -1;
	*s = (enum delivery_state)i;
	return 0;
}

const char *
delivery_event_name(enum delivery_event e)
{
	return lifecycle_event(&delivery_machine, (int)e);
}

int
delivery_state_ended(enum delivery_state s)
{
	return lifecycle_ended(&delivery_machine, (int)s);
}

int
delivery_state_in_flight(enum delivery_state s)
{
	return s == DELIVERY_SENT || s == DELIVERY_DOWNLOADING;
}

int
delivery_next(enum delivery_state from, enum delivery_event e,
    enum delivery_state *to)
{
	int	 t;

	if (lifecycle_next(&delivery_machine, (int)from, (int)e, &t) == -1)
		return -1;
	*to = (enum delivery_state)t;
	return 0;
}

const char *
job_state_name(enum job_state s)
{
	return lifecycle_state(&job_machine, (int)s);
}

int
job_state_parse(const char *name, enum job_state *s)
{
	int	 i;

	if (lifecycle_parse(&job_machine, name, &i) == -1)
		return -1;
	*s = (enum job_state)i;
	return 0;
}

const char *
job_event_name(enum job_event e)
{
	return lifecycle_event(&job_machine, (int)e);
}

int
job_state_ended(enum job_state s)
{
	return lifecycle_ended(&job_machine, (int)s);
}

int
job_next(enum job_state from, enum job_event e, enum job_state *to)
{
	int	 t;

	if (lifecycle_next(&job_machine, (int)from, (int)e, &t) == -1)
		return -1;
	*to = (enum job_state)t;
	return 0;
}

static const char *const job_confirms[] = {
	[JOB_CONFIRM_NONE] = "",
	[JOB_CONFIRM_DEVICE] = "device",
	[JOB_CONFIRM_ADMIN] = "admin",
};

const char *
job_confirm_name(enum job_confirm c)
{
	return (unsigned)c < sizeof(job_confirms) / sizeof(job_confirms[0]) ?
	    job_confirms[c] : "";
}

int
job_confirm_parse(const char *name, enum job_confirm *c)
{
	for (size_t i = 0; name != NULL &&
	    i < sizeof(job_confirms) / sizeof(job_confirms[0]); i++) {
		if (strcmp(job_confirms[i], name) == 0) {
			*c = (enum job_confirm)i;
			return 0;
		}
	}
	return -1;
}

static int
report_has(const char *s)
{
	return s != NULL && *s != '\0';
}

/* Both carry the value: SAME or OTHER; else UNKNOWN. */
static enum report_match
report_field(const char *image, const char *device, int nocase)
{
	if (!report_has(image) || !report_has(device))
		return REPORT_UNKNOWN;
	if (nocase)
		return strcasecmp(image, device) == 0 ? REPORT_SAME :
		    REPORT_OTHER;
	return strcmp(image, device) == 0 ? REPORT_SAME : REPORT_OTHER;
}

enum report_match
report_compare(const struct image_facts *fw, const struct device_report *r,
    const char **by)
{
	const char		*hash = r->sketch_hash;
	enum report_match	 mh = REPORT_UNKNOWN, mb, mv;

	if (report_has(hash))
		mh = report_field(strlen(hash) == 64 ? fw->sha256 : fw->md5,
		    hash, 1);
	mb = report_field(fw->build, r->build, 0);
	mv = report_field(fw->version, r->version, 0);
	/* an updater's sketch hash or version equal to the image's: it runs
	 * the image (PROTOCOL.md 2.1); a build, where both have one, decides
	 * before a version */
	*by = mh == REPORT_SAME ? "sketch hash" : mb != REPORT_UNKNOWN ?
	    "build" : mv == REPORT_SAME ? "version" : mh == REPORT_OTHER ?
	    "sketch hash" : mv == REPORT_OTHER ? "version" : "";
	if (mh == REPORT_SAME)
		return REPORT_SAME;
	if (mb != REPORT_UNKNOWN)
		return mb;
	if (mv == REPORT_SAME)
		return REPORT_SAME;
	return mh == REPORT_OTHER || mv == REPORT_OTHER ? REPORT_OTHER :
	    REPORT_UNKNOWN;
}

enum delivery_event
report_verdict(enum report_match m, int attempts, int attempt_limit)
{
	if (m == REPORT_SAME)
		return DELIVERY_VERIFIED;
	if (m == REPORT_UNKNOWN)
		return DELIVERY_UNVERIFIED;
	return attempts >= attempt_limit ? DELIVERY_GIVE_UP : DELIVERY_RETRY;
}
