/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of admind/window.c: times of day, days and zones as the API
 * takes them, the canonical JSON both ways, whether a window is open and
 * when that changes (a window past midnight, a days filter, the DST change
 * days of Europe/Berlin), start_at with a window, RFC 3339 times, and that
 * the process's TZ is left as it was.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "window.h"

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static void
test_fields(void)
{
	unsigned	 days;
	int		 m;

	CHECK(window_time("02:00", &m) == 0 && m == 120);
	CHECK(window_time("23:59", &m) == 0 && m == 23 * 60 + 59);
	CHECK(window_time("00:00", &m) == 0 && m == 0);
	CHECK(window_time("24:00", &m) == -1);
	CHECK(window_time("02:60", &m) == -1);
	CHECK(window_time("2:00", &m) == -1);
	CHECK(window_time("02:00:00", &m) == -1);
	CHECK(window_time("", &m) == -1);
	CHECK(window_time(NULL, &m) == -1);
	CHECK(window_day("mon") == 0 && window_day("sun") == 6);
	CHECK(window_day("Mon") == -1 && window_day("monday") == -1);
	CHECK(window_days("mon,tue", &days) == 0 && days == 3);
	CHECK(window_days("sun", &days) == 0 && days == 0x40);
	CHECK(window_days("", &days) == -1);
	CHECK(window_days("mon,,tue", &days) == -1);
	CHECK(window_days("mon,xyz", &days) == -1);
	CHECK(window_days("mon, tue", &days) == -1);
}

static void
test_zones(void)
{
	struct window	 w;

	CHECK(window_zone("Europe/Berlin") == 0);
	CHECK(window_zone("UTC") == 0);
	CHECK(window_zone("America/Argentina/Buenos_Aires") == 0);
	CHECK(window_zone("Mars/Olympus_Mons") == -1);	/* unknown */
	CHECK(window_zone("Europe") == -1);		/* a directory */
	CHECK(window_zone("zone.tab") == -1);		/* no TZif */
	CHECK(window_zone("../../../etc/passwd") == -1);
	CHECK(window_zone("Europe/../Europe/Berlin") == -1);
	CHECK(window_zone("/usr/share/zoneinfo/UTC") == -1);
	CHECK(window_zone("") == -1 && window_zone(NULL) == -1);
	CHECK(window_set(&w, "02:00", "05:00", "Mars/Olympus_Mons", 0) ==
	    WINDOW_BAD_ZONE);
	CHECK(window_set(&w, "2", "05:00", NULL, 0) == WINDOW_BAD_START);
	CHECK(window_set(&w, "02:00", "5pm", NULL, 0) == WINDOW_BAD_END);
	CHECK(window_set(&w, "02:00", "02:00", NULL, 0) == WINDOW_EMPTY);
	CHECK(window_set(&w, "02:00", "05:00", NULL, 0x80) == WINDOW_BAD_DAYS);
	CHECK(window_set(&w, "22:00", "04:00", NULL, 0) == WINDOW_FINE);
	CHECK(strcmp(w.zone, "UTC") == 0 && w.days == WINDOW_DAYS_ALL);
}

static void
test_json(void)
{
	struct window	 w, r;
	struct buf	 b = BUF_INIT;

	CHECK(window_set(&w, "02:00", "05:30", "Europe/Berlin", 0x1f) ==
	    WINDOW_FINE);
	window_json(&b, &w);
	CHECK(strcmp(buf_cstr(&b), "{\"start\":\"02:00\",\"end\":\"05:30\","
	    "\"timezone\":\"Europe/Berlin\",\"days\":[\"mon\",\"tue\",\"wed\","
	    "\"thu\",\"fri\"]}") == 0);
	CHECK(window_parse(buf_cstr(&b), &r) == 0);
	CHECK(r.start == 120 && r.end == 330 && r.days == 0x1f &&
	    strcmp(r.zone, "Europe/Berlin") == 0);
	CHECK(window_parse("", &r) == -1);
	CHECK(window_parse("{\"start\":\"02:00\"}", &r) == -1);
	buf_free(&b);
}

static void
test_utc(void)
{
	struct window	 w;
	int64_t		 t = utc(2026, 12, 2, 1, 0);	/* a Wednesday */

	CHECK(window_set(&w, "02:00", "05:00", "UTC", 0) == WINDOW_FINE);
	CHECK(!window_is_open(&w, t));
	CHECK(window_next_change(&w, t) == utc(2026, 12, 2, 2, 0));
	CHECK(window_is_open(&w, utc(2026, 12, 2, 2, 0)));
	CHECK(!window_is_open(&w, utc(2026, 12, 2, 1, 59) + 59));
	CHECK(window_next_change(&w, utc(2026, 12, 2, 3, 0)) ==
	    utc(2026, 12, 2, 5, 0));
	CHECK(!window_is_open(&w, utc(2026, 12, 2, 5, 0)));
	CHECK(window_next_change(&w, utc(2026, 12, 2, 5, 0)) ==
	    utc(2026, 12, 3, 2, 0));
}

static void
test_midnight(void)
{
	struct window	 w;

	CHECK(window_set(&w, "22:00", "04:00", "UTC", 0) == WINDOW_FINE);
	CHECK(window_is_open(&w, utc(2026, 12, 2, 23, 0)));
	CHECK(window_is_open(&w, utc(2026, 12, 3, 3, 59)));
	CHECK(!window_is_open(&w, utc(2026, 12, 3, 4, 0)));
	CHECK(!window_is_open(&w, utc(2026, 12, 3, 12, 0)));
	CHECK(window_next_change(&w, utc(2026, 12, 2, 23, 0)) ==
	    utc(2026, 12, 3, 4, 0));
	CHECK(window_next_change(&w, utc(2026, 12, 3, 12, 0)) ==
	    utc(2026, 12, 3, 22, 0));
	/* an end of 00:00: open until midnight */
	CHECK(window_set(&w, "22:00", "00:00", "UTC", 0) == WINDOW_FINE);
	CHECK(window_next_change(&w, utc(2026, 12, 2, 23, 0)) ==
	    utc(2026, 12, 3, 0, 0));
}

static void
test_days(void)
{
	struct window	 w;
	unsigned	 days;

	/* 2026-12-02 is a Wednesday: a Monday-only window opens on the 7th */
	CHECK(window_days("mon", &days) == 0);
	CHECK(window_set(&w, "02:00", "05:00", "UTC", days) == WINDOW_FINE);
	CHECK(!window_is_open(&w, utc(2026, 12, 2, 3, 0)));
	CHECK(window_next_change(&w, utc(2026, 12, 2, 3, 0)) ==
	    utc(2026, 12, 7, 2, 0));
	CHECK(window_is_open(&w, utc(2026, 12, 7, 3, 0)));
	/* past midnight, the day is the one it opened on: Friday 22:00 to
	 * Saturday 04:00 */
	CHECK(window_days("fri", &days) == 0);
	CHECK(window_set(&w, "22:00", "04:00", "UTC", days) == WINDOW_FINE);
	CHECK(window_is_open(&w, utc(2026, 12, 5, 1, 0)));	/* Sat */
	CHECK(!window_is_open(&w, utc(2026, 12, 4, 1, 0)));	/* Fri */
	CHECK(window_is_open(&w, utc(2026, 12, 4, 23, 0)));	/* Fri */
	CHECK(window_next_change(&w, utc(2026, 12, 2, 12, 0)) ==
	    utc(2026, 12, 4, 22, 0));
}

static void
test_dst(void)
{
	struct window	 w;

	CHECK(window_set(&w, "02:00", "05:00", "Europe/Berlin", 0) ==
	    WINDOW_FINE);
	/* the day before: CET, 02:00-05:00 is 01:00-04:00 UTC */
	CHECK(window_next_change(&w, utc(2026, 3, 28, 0, 0)) ==
	    utc(2026, 3, 28, 1, 0));
	/* 29 March 2026: 02:00 CET is 03:00 CEST (01:00 UTC); 02:00 never
	 * shows, the window opens as the clock jumps past it and closes at
	 * 05:00 CEST, 03:00 UTC */
	CHECK(!window_is_open(&w, utc(2026, 3, 29, 0, 59)));
	CHECK(window_next_change(&w, utc(2026, 3, 29, 0, 0)) ==
	    utc(2026, 3, 29, 1, 0));
	CHECK(window_is_open(&w, utc(2026, 3, 29, 1, 0)));
	CHECK(window_next_change(&w, utc(2026, 3, 29, 1, 0)) ==
	    utc(2026, 3, 29, 3, 0));
	/* the day after: CEST, 00:00-03:00 UTC */
	CHECK(window_next_change(&w, utc(2026, 3, 29, 12, 0)) ==
	    utc(2026, 3, 30, 0, 0));
	/* 25 October 2026: 03:00 CEST becomes 02:00 CET; opens 02:00 CEST
	 * (00:00 UTC), closes 05:00 CET (04:00 UTC): four hours */
	CHECK(window_next_change(&w, utc(2026, 10, 24, 23, 0)) ==
	    utc(2026, 10, 25, 0, 0));
	CHECK(window_next_change(&w, utc(2026, 10, 25, 0, 0)) ==
	    utc(2026, 10, 25, 4, 0));
	CHECK(window_is_open(&w, utc(2026, 10, 25, 3, 59)));
}

static void
test_start_at(void)
{
	struct window	 w;
	int64_t		 now = utc(2026, 12, 2, 1, 0), t;

	CHECK(window_may_start(0, NULL, now));
	CHECK(!window_may_start(now + 5, NULL, now));
	CHECK(window_may_start(now, NULL, now));
	CHECK(window_next_start_change(now + 5, NULL, now) == now + 5);
	CHECK(window_next_start_change(0, NULL, now) == 0);
	CHECK(window_set(&w, "02:00", "05:00", "UTC", 0) == WINDOW_FINE);
	CHECK(!window_may_start(0, &w, now));
	CHECK(window_next_start_change(0, &w, now) == utc(2026, 12, 2, 2, 0));
	/* start_at inside a later window: start_at; after it: the opening */
	t = utc(2026, 12, 3, 3, 0);
	CHECK(window_next_start_change(t, &w, now) == t);
	t = utc(2026, 12, 3, 6, 0);
	CHECK(window_next_start_change(t, &w, now) == utc(2026, 12, 4, 2, 0));
	CHECK(window_next_start_change(0, &w, utc(2026, 12, 2, 3, 0)) ==
	    utc(2026, 12, 2, 5, 0));
}

static void
test_job(void)
{
	int64_t		 now = utc(2026, 12, 2, 1, 0), next;
	const char	*w = "{\"start\":\"02:00\",\"end\":\"05:00\","
			    "\"timezone\":\"UTC\",\"days\":[\"wed\"]}";

	CHECK(window_job(0, "", now, &next) == 1 && next == 0);
	CHECK(window_job(now + 5, "", now, &next) == 0 && next == now + 5);
	CHECK(window_job(0, w, now, &next) == 0 &&
	    next == utc(2026, 12, 2, 2, 0));
	CHECK(window_job(0, w, utc(2026, 12, 2, 2, 0), &next) == 1 &&
	    next == utc(2026, 12, 2, 5, 0));
	CHECK(window_job(0, "{}", now, &next) == -1);
}

static void
test_rfc3339(void)
{
	int64_t	 t;

	CHECK(window_rfc3339("2026-12-03T02:00:00+01:00", &t) == 0 &&
	    t == utc(2026, 12, 3, 1, 0));
	CHECK(window_rfc3339("2026-12-03T01:00:00Z", &t) == 0 &&
	    t == utc(2026, 12, 3, 1, 0));
	CHECK(window_rfc3339("2026-12-03t01:00z", &t) == 0 &&
	    t == utc(2026, 12, 3, 1, 0));
	CHECK(window_rfc3339("2026-12-02T20:30:15.250-04:30", &t) == 0 &&
	    t == utc(2026, 12, 3, 1, 0) + 15);
	CHECK(window_rfc3339("2028-02-29T00:00:00Z", &t) == 0);
	CHECK(window_rfc3339("2026-02-29T00:00:00Z", &t) == -1);
	CHECK(window_rfc3339("2026-13-01T00:00:00Z", &t) == -1);
	CHECK(window_rfc3339("2026-12-03T24:00:00Z", &t) == -1);
	CHECK(window_rfc3339("2026-12-03T02:00:00", &t) == -1);	/* zone */
	CHECK(window_rfc3339("2026-12-03T02:00:00+0100", &t) == -1);
	CHECK(window_rfc3339("2026-12-03", &t) == -1);
	CHECK(window_rfc3339("tomorrow", &t) == -1);
	CHECK(window_rfc3339("", &t) == -1 && window_rfc3339(NULL, &t) == -1);
}

/* Whatever TZ admind runs with is left as it was. */
static void
test_tz_kept(void)
{
	struct window	 w;
	const char	*tz;

	CHECK(window_set(&w, "02:00", "05:00", "Asia/Tokyo", 0) ==
	    WINDOW_FINE);
	setenv("TZ", "America/New_York", 1);
	(void)window_next_change(&w, utc(2026, 12, 2, 0, 0));
	tz = getenv("TZ");
	CHECK(tz != NULL && strcmp(tz, "America/New_York") == 0);
	unsetenv("TZ");
	(void)window_is_open(&w, utc(2026, 12, 2, 0, 0));
	CHECK(getenv("TZ") == NULL);
}

int
main(void)
{
	test_fields();
	test_zones();
	test_json();
	test_utc();
	test_midnight();
	test_days();
	test_dst();
	test_start_at();
	test_job();
	test_rfc3339();
	test_tz_kept();
	return check_exit("test_window");
}
