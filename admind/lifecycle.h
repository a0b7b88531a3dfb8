/* SPDX-License-Identifier: MIT */
/*
 * The rules of the OTA lifecycle (DESIGN.md sections 3 and 4): the states
 * of a delivery and of a job, their names, the events that move them and
 * the one table of allowed transitions each, and how a device's report is
 * compared with an image.  Pure functions: admind's delivery.c and jobs.c
 * apply them, the store reads and writes the names, the unit tests check
 * every row.
 */
#ifndef OTAD_LIFECYCLE_H
#define OTAD_LIFECYCLE_H

#include <stddef.h>

enum delivery_state {
	DELIVERY_QUEUED,
	DELIVERY_SCHEDULED,	/* waits for start_at or the window */
	DELIVERY_AWAITING_CONSENT, /* waits for the device's or an admin's yes */
	DELIVERY_SENT,
	DELIVERY_DOWNLOADING,
	DELIVERY_DOWNLOADED,
	DELIVERY_SUCCEEDED,
	DELIVERY_FAILED,
	DELIVERY_ALREADY_CURRENT,
	DELIVERY_INCOMPATIBLE,
	DELIVERY_CANCELED,
	DELIVERY_DECLINED,	/* the device or an admin said no */
	DELIVERY_NSTATES
};

enum delivery_event {
	DELIVERY_SEND,		/* the command goes out (or a poll gets it) */
	DELIVERY_UNSENT,	/* the command never reached the device */
	DELIVERY_STARTED,	/* fwstore started the download */
	DELIVERY_ABORTED,	/* the download stopped short */
	DELIVERY_COMPLETE,	/* every byte reached the device */
	DELIVERY_VERIFIED,	/* the device reports the image */
	DELIVERY_UNVERIFIED,	/* downloaded; nothing to compare */
	DELIVERY_RETRY,		/* that attempt failed; attempts remain */
	DELIVERY_GIVE_UP,	/* that attempt failed; none remain */
	DELIVERY_CURRENT,	/* the device runs the image already */
	DELIVERY_INCOMPATIBLE_EV, /* the image does not fit the device */
	DELIVERY_CANCEL,	/* a newer job, a stop, a deleted device */
	DELIVERY_WAIT,		/* before start_at, or the window is closed */
	DELIVERY_OPEN,		/* start_at reached, or the window opened */
	DELIVERY_ASK,		/* the job needs consent before sending */
	DELIVERY_ACCEPT,	/* consent given */
	DELIVERY_DEFER,		/* ask again later (next_at) */
	DELIVERY_DECLINE,	/* consent refused */
	DELIVERY_NEVENTS
};

enum job_state {
	JOB_ACTIVE,
	JOB_PAUSED,
	JOB_STOPPED,
	JOB_FINISHED,
	JOB_NSTATES
};

/* Who must say yes before a job's delivery is sent (its confirm). */
enum job_confirm {
	JOB_CONFIRM_NONE,
	JOB_CONFIRM_DEVICE,	/* the device, over its Blynk connection */
	JOB_CONFIRM_ADMIN	/* an admin, through the API */
};

enum job_event {
	JOB_PAUSE,		/* an admin, or the failure threshold */
	JOB_RESUME,
	JOB_STOP,
	JOB_FINISH,		/* its last delivery ended */
	JOB_NEVENTS
};

/* A state machine as data: names and the {from, event, to} table. */
struct lifecycle_move {
	int	 from, event, to;
};

struct lifecycle_machine {
	const char *const		*states;
	int				 nstates;
	const char *const		*events;
	int				 nevents;
	const struct lifecycle_move	*moves;
	size_t				 nmoves;
};

extern const struct lifecycle_machine delivery_machine, job_machine;

const char	*lifecycle_state(const struct lifecycle_machine *, int);
const char	*lifecycle_event(const struct lifecycle_machine *, int);
int		 lifecycle_parse(const struct lifecycle_machine *,
		    const char *, int *);
int		 lifecycle_next(const struct lifecycle_machine *, int from,
		    int event, int *to);
/* No event leaves the state. */
int		 lifecycle_ended(const struct lifecycle_machine *, int);

/* The same, typed, for each machine. */
const char	*delivery_state_name(enum delivery_state);
/* 0 and *s set, or -1 for a name that is no state. */
int		 delivery_state_parse(const char *, enum delivery_state *s);
const char	*delivery_event_name(enum delivery_event);
/* Terminal: nothing happens to the delivery any more. */
int		 delivery_state_ended(enum delivery_state);
/* sent or downloading: holds one of the job's max_parallel slots (scheduled
 * and awaiting-consent hold none). */
int		 delivery_state_in_flight(enum delivery_state);
/* The target of event in state from: 0 and *to, or -1 (not allowed). */
int		 delivery_next(enum delivery_state from, enum delivery_event,
		    enum delivery_state *to);

const char	*job_state_name(enum job_state);
int		 job_state_parse(const char *, enum job_state *s);
const char	*job_event_name(enum job_event);
int		 job_state_ended(enum job_state);
int		 job_next(enum job_state from, enum job_event,
		    enum job_state *to);
/* "" (none), "device" or "admin"; parse: 0, or -1 for another name. */
const char	*job_confirm_name(enum job_confirm);
int		 job_confirm_parse(const char *, enum job_confirm *);

/*
 * What a device says it runs: its Blynk hardware info (firmware version,
 * build) or its HTTP updater's headers (version, sketch MD5 or SHA-256).
 * NULL or "" for what it does not report.
 */
struct device_report {
	const char	*version;
	const char	*build;
	const char	*sketch_hash;	/* MD5 (32 hex) or SHA-256 (64 hex) */
};

/* What an image carries to compare with. */
struct image_facts {
	const char	*version;
	const char	*build;
	const char	*md5;
	const char	*sha256;
};

enum report_match {
	REPORT_SAME,		/* the device runs the image */
	REPORT_OTHER,		/* it runs something else */
	REPORT_UNKNOWN		/* nothing the two share to compare */
};

/*
 * SAME when the updater's sketch hash equals the image's; else the build
 * decides when both carry one; else SAME when the versions are equal,
 * OTHER when the hash or the version differs, UNKNOWN when the two share
 * nothing to compare.  *by names what decided ("sketch hash", "build",
 * "version", or "").
 */
enum report_match report_compare(const struct image_facts *,
		    const struct device_report *, const char **by);

/* After a complete download, the device's report decides: VERIFIED,
 * RETRY (or GIVE_UP when attempts reached the limit) or UNVERIFIED. */
enum delivery_event report_verdict(enum report_match, int attempts,
		    int attempt_limit);

#endif
