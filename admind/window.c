/* SPDX-License-Identifier: MIT */
/*
 * A job's maintenance window and start_at (see window.h): checking them,
 * their canonical JSON, and the clock arithmetic of "is it open" and "when
 * does that change", in the window's own time zone with its DST rules.
 * Local time is glibc's: TZ is set to the window's zone around each
 * computation and restored after (admind runs one thread).  Linked into
 * admindcore for otad-admind and tests/test_window.c.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "window.h"

#define WINDOW_ZONEINFO	"/usr/share/zoneinfo/"
#define WINDOW_DAY	86400

static const char *const window_days_names[7] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};

/* The TZ the process had, while a window's zone is in force. */
struct window_tz {
	char	*saved;		/* NULL: TZ was unset */
	int	 had;
};

static void
window_tz_enter(const char *zone, struct window_tz *tz)
{
	const char	*cur = getenv("TZ");
	char		 spec[WINDOW_ZONE_MAX + 2];

	tz->had = cur != NULL;
	tz->saved = cur != NULL ? strdup(cur) : NULL;
	snprintf(spec, sizeof(spec), ":%s", zone);
	setenv("TZ", spec, 1);
	tzset();
}

/* admind sets TZ before any thread starts (main.c), so that here it is
 * only replaced in place; unset is for the unit tests. */
static void
window_tz_leave(struct window_tz *tz)
{
	if (tz->had && tz->saved != NULL)
		setenv("TZ", tz->saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(tz->saved);
}

static int
window_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
window_time(const char *s, int *minutes)
{
	int	 h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':' ||
	    window_digits(s, 2, &h) == -1 || window_digits(s + 3, 2, &m) == -1 ||
	    h > 23 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

int
window_day(const char *s)
{
	for (int i = 0; s != NULL && i < 7; i++)
		if (strcmp(s, window_days_names[i]) == 0)
			return i;
	return -1;
}

int
window_days(const char *list, unsigned *days)
{
	char	 name[8];
	size_t	 n;
	int	 d;

	*days = 0;
	while (list != NULL && *list != '\0') {
		n = strcspn(list, ",");
		if (n == 0 || n >= sizeof(name))
			return -1;
		memcpy(name, list, n);
		name[n] = '\0';
		if ((d = window_day(name)) == -1)
			return -1;
		*days |= 1u << d;
		list += n + (list[n] == ',');
	}
	return *days != 0 ? 0 : -1;
}

/* The name alone: letters, digits, "/", "_", "+", "-"; no "..". */
static int
window_zone_name(const char *z)
{
	size_t	 n = z != NULL ? strlen(z) : 0;

	if (n == 0 || n > WINDOW_ZONE_MAX || *z == '/' || z[n - 1] == '/' ||
	    strstr(z, "..") != NULL || strstr(z, "//") != NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)z[i]) && strchr("/_+-.", z[i]) ==
		    NULL)
			return -1;
	return 0;
}

int
window_zone(const char *z)
{
	char		 path[sizeof(WINDOW_ZONEINFO) + WINDOW_ZONE_MAX];
	char		 magic[4];
	struct stat	 st;
	int		 fd, ok;

	if (window_zone_name(z) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s%s", WINDOW_ZONEINFO, z);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok ? 0 : -1;
}

enum window_fault
window_set(struct window *w, const char *start, const char *end,
    const char *zone, unsigned days)
{
	memset(w, 0, sizeof(*w));
	if (window_time(start, &w->start) == -1)
		return WINDOW_BAD_START;
	if (window_time(end, &w->end) == -1)
		return WINDOW_BAD_END;
	if (w->end == w->start)
		return WINDOW_EMPTY;
	if (zone == NULL)
		zone = "UTC";
	if (window_zone(zone) == -1)
		return WINDOW_BAD_ZONE;
	snprintf(w->zone, sizeof(w->zone), "%s", zone);
	if ((days & ~(unsigned)WINDOW_DAYS_ALL) != 0)
		return WINDOW_BAD_DAYS;
	w->days = days ? days : WINDOW_DAYS_ALL;
	return WINDOW_FINE;
}

void
window_json(struct buf *b, const struct window *w)
{
	int	 n = 0;

	buf_printf(b, "{\"start\":\"%02d:%02d\",\"end\":\"%02d:%02d\","
	    "\"timezone\":", w->start / 60, w->start % 60, w->end / 60,
	    w->end % 60);
	json_str(b, w->zone);
	buf_adds(b, ",\"days\":[");
	for (int d = 0; d < 7; d++)
		if (w->days & (1u << d))
			buf_printf(b, "%s\"%s\"", n++ ? "," : "",
			    window_days_names[d]);
	buf_adds(b, "]}");
}

int
window_parse(const char *text, struct window *w)
{
	struct json_value	*v;
	const struct json_value	*days;
	char			 err[80];
	unsigned		 bits = 0;
	int			 rc = -1, d;

	if (text == NULL || (v = json_parse(text, strlen(text), err,
	    sizeof(err))) == NULL)
		return -1;
	days = json_get(v, "days");
	for (size_t i = 0; days != NULL && days->kind == JSON_ARRAY &&
	    i < days->n; i++)
		if (days->items[i].kind == JSON_STRING &&
		    (d = window_day(days->items[i].str)) != -1)
			bits |= 1u << d;
	if (v->kind == JSON_OBJECT && window_set(w, json_get_str(v, "start"),
	    json_get_str(v, "end"), json_get_str(v, "timezone"), bits) ==
	    WINDOW_FINE)
		rc = 0;
	json_free(v);
	return rc;
}

/* Open at t, in the zone already in force. */
static int
window_open_here(const struct window *w, int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;
	int		 m, wd;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	m = tm.tm_hour * 60 + tm.tm_min;
	wd = (tm.tm_wday + 6) % 7;
	if (w->start < w->end)
		return (w->days & (1u << wd)) && m >= w->start && m < w->end;
	return (m >= w->start && (w->days & (1u << wd))) ||
	    (m < w->end && (w->days & (1u << ((wd + 6) % 7))));
}

int
window_is_open(const struct window *w, int64_t t)
{
	struct window_tz tz;
	int		 open;

	window_tz_enter(w->zone, &tz);
	open = window_open_here(w, t);
	window_tz_leave(&tz);
	return open;
}

static long
window_offset(int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	return localtime_r(&tt, &tm) != NULL ? tm.tm_gmtoff : 0;
}

/* The local wall clock at t as if it were UTC. */
static int64_t
window_wall(int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The first second after lo at which the UTC offset is no longer lo's
 * (it is hi's by then). */
static int64_t
window_transition(int64_t lo, int64_t hi)
{
	long	 off = window_offset(lo);

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (window_offset(mid) == off)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* The candidate c counts when it is after t, changes the window from cur,
 * and comes before the best so far. */
static void
window_consider(const struct window *w, int64_t t, int cur, int64_t c,
    int64_t *best)
{
	if (c > t && (*best == 0 || c < *best) && window_open_here(w, c) != cur)
		*best = c;
}

/*
 * Every instant the window can change at is one where the wall clock reads
 * its start or end (once, twice in a repeated hour, or never in a skipped
 * one) or one where the UTC offset changes; the earliest of them after t
 * that changes it is the answer.  Days from the day before t (a window
 * open past midnight) to a week and a day after.
 */
static int64_t
window_next_here(const struct window *w, int64_t t)
{
	long		 offs[12];
	int		 noffs = 0, cur = window_open_here(w, t);
	int64_t		 best = 0, day0, prev, c;
	const int	 edges[2] = { w->start, w->end };

	for (int k = -1; k <= 9; k++) {
		long	 o = window_offset(t + (int64_t)k * WINDOW_DAY);
		int	 seen = 0;

		for (int i = 0; i < noffs; i++)
			seen |= offs[i] == o;
		if (!seen)
			offs[noffs++] = o;
		prev = t + (int64_t)(k - 1) * WINDOW_DAY;
		if (k > -1 && o != window_offset(prev))
			window_consider(w, t, cur, window_transition(prev,
			    t + (int64_t)k * WINDOW_DAY), &best);
	}
	day0 = window_wall(t) / WINDOW_DAY * WINDOW_DAY;
	for (int d = -1; d <= 8; d++) {
		for (int e = 0; e < 2; e++) {
			int64_t wall = day0 + (int64_t)d * WINDOW_DAY +
			    (int64_t)edges[e] * 60;

			for (int i = 0; i < noffs; i++) {
				c = wall - offs[i];
				if (window_wall(c) == wall)
					window_consider(w, t, cur, c, &best);
			}
		}
	}
	return best;
}

int64_t
window_next_change(const struct window *w, int64_t t)
{
	struct window_tz tz;
	int64_t		 next;

	window_tz_enter(w->zone, &tz);
	next = window_next_here(w, t);
	window_tz_leave(&tz);
	return next;
}

int
window_may_start(int64_t start_at, const struct window *w, int64_t now)
{
	return (start_at == 0 || now >= start_at) &&
	    (w == NULL || window_is_open(w, now));
}

int64_t
window_next_start_change(int64_t start_at, const struct window *w,
    int64_t now)
{
	if (start_at > now) {
		if (w == NULL || window_is_open(w, start_at))
			return start_at;
		return window_next_change(w, start_at);
	}
	return w != NULL ? window_next_change(w, now) : 0;
}

int
window_job(int64_t start_at, const char *text, int64_t now, int64_t *next)
{
	struct window	 w;
	int		 has = text != NULL && *text != '\0';

	*next = 0;
	if (has && window_parse(text, &w) == -1)
		return -1;
	*next = window_next_start_change(start_at, has ? &w : NULL, now);
	return window_may_start(start_at, has ? &w : NULL, now);
}

/* "+HH:MM", "-HH:MM", "Z": the offset in seconds east, or -1. */
static int
window_rfc3339_zone(const char *s, long *off)
{
	int	 h, m;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*off = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    window_digits(s + 1, 2, &h) == -1 ||
	    window_digits(s + 4, 2, &m) == -1 || h > 23 || m > 59)
		return -1;
	*off = (h * 3600L + m * 60L) * (s[0] == '-' ? -1 : 1);
	return 0;
}

int
window_rfc3339(const char *s, int64_t *t)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	struct tm	 tm;
	int		 y, mo, d, h, mi, sec = 0, leap;
	long		 off;

	if (s == NULL || strlen(s) < 17 || window_digits(s, 4, &y) == -1 ||
	    s[4] != '-' || window_digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    window_digits(s + 8, 2, &d) == -1 || strchr("Tt ", s[10]) == NULL ||
	    window_digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    window_digits(s + 14, 2, &mi) == -1)
		return -1;
	s += 16;
	if (*s == ':' && window_digits(s + 1, 2, &sec) == 0)
		s += 3;
	if (*s == '.' && isdigit((unsigned char)s[1]))
		for (s++; isdigit((unsigned char)*s); s++)
			;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60 ||
	    window_rfc3339_zone(s, &off) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t = (int64_t)timegm(&tm) - off;
	return 0;
}
