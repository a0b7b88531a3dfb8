/* SPDX-License-Identifier: MIT */
/*
 * When a job may send (issue 16): its maintenance window, a time of day
 * from start to end in an IANA time zone on some days of the week, and
 * its start_at, an RFC 3339 time.  Pure functions over the system's tz
 * database: admind's API checks the options with them, the scheduler and
 * its timetable ask whether a job may start now and when that changes,
 * tests/test_window.c checks them (across midnight, on DST change days).
 */
#ifndef OTAD_WINDOW_H
#define OTAD_WINDOW_H

#include <stdint.h>

#include "buf.h"

#define WINDOW_ZONE_MAX		64
#define WINDOW_DAYS_ALL		0x7f	/* bit 0 monday ... bit 6 sunday */
#define WINDOW_JSON_MAX		256	/* window_json's longest */

struct window {
	int		 start, end;	/* minutes of the day, local time */
	unsigned	 days;		/* the days the window opens on */
	char		 zone[WINDOW_ZONE_MAX + 1];
};

/* What window_set found wrong. */
enum window_fault {
	WINDOW_FINE,
	WINDOW_BAD_START,	/* not HH:MM */
	WINDOW_BAD_END,
	WINDOW_EMPTY,		/* end == start */
	WINDOW_BAD_ZONE,	/* no zone of the tz database */
	WINDOW_BAD_DAYS		/* no day */
};

/* "HH:MM" (00:00 to 23:59) into minutes of the day: 0, or -1. */
int	 window_time(const char *, int *minutes);
/* "mon" ... "sun": 0 to 6, or -1. */
int	 window_day(const char *);
/* "mon,tue" (no spaces) into day bits: 0, or -1 for an empty list or a
 * name that is no day. */
int	 window_days(const char *list, unsigned *days);
/* A file of the tz database under /usr/share/zoneinfo: no "..", not
 * absolute, a TZif file.  0, or -1. */
int	 window_zone(const char *);
/* Checks and fills w; zone NULL means "UTC", days 0 every day. */
enum window_fault window_set(struct window *w, const char *start,
	    const char *end, const char *zone, unsigned days);
/* The canonical JSON the API shows and the store keeps:
 * {"start":"02:00","end":"05:00","timezone":"UTC","days":["mon",...]}. */
void	 window_json(struct buf *, const struct window *);
/* Reads window_json's text back: 0, or -1. */
int	 window_parse(const char *json, struct window *w);

/* The window is open at t (Unix seconds): the local time is within
 * [start, end) of a day it opens on (past midnight: the day it opened). */
int	 window_is_open(const struct window *, int64_t t);
/* The next instant after t at which window_is_open changes: the opening
 * when closed, the closing when open; 0 when it never changes. */
int64_t	 window_next_change(const struct window *, int64_t t);

/* A job with start_at (0: none) and a window (NULL: none) may start at
 * now. */
int	 window_may_start(int64_t start_at, const struct window *,
	    int64_t now);
/* The next instant after now at which window_may_start changes, 0 never. */
int64_t	 window_next_start_change(int64_t start_at, const struct window *,
	    int64_t now);

/* A job's start_at (0: none) and stored window (window_json's text, ""
 * none) at now: 1 it may start (*next its window's closing, or 0), 0 it
 * may not (*next when it may, or 0 never), -1 the window does not parse. */
int	 window_job(int64_t start_at, const char *window, int64_t now,
	    int64_t *next);

/* RFC 3339 ("2026-12-03T02:00:00+01:00", "...Z", seconds optional, a
 * fraction ignored) into Unix seconds: 0, or -1. */
int	 window_rfc3339(const char *, int64_t *t);

#endif
