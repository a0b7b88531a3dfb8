/* SPDX-License-Identifier: MIT */
/*
 * The options of an update that waits (issue 16), as admind's API takes
 * them: "start_at", "window" and "confirm" in the body of POST /admin/jobs,
 * or ?start_at=, ?window_start=, ?window_end=, ?window_timezone=,
 * ?window_days= and ?confirm= on the legacy POST /admin/ota/start.  A bad
 * value is a 400 job.option whose sentence names the field as the client
 * wrote it and gives an example; window.c does the checking.
 */
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "window.h"

#define OPT_WINDOW_FIELDS	",start,end,timezone,days,"

/* How the fields are named in the form the client used. */
struct opt_names {
	const char	*start_at, *start, *end, *zone, *days, *confirm;
	const char	*days_example;
};

static const struct opt_names opt_json = { "\"start_at\"", "\"window.start\"",
    "\"window.end\"", "\"window.timezone\"", "\"window.days\"",
    "\"confirm\"", "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]" };
static const struct opt_names opt_query = { "?start_at=", "?window_start=",
    "?window_end=", "?window_timezone=", "?window_days=", "?confirm=",
    "mon,tue,wed,thu,fri" };

static int
opt_fault(struct api_fault *f, const char *fmt, const char *a, const char *b)
{
	return api_fault(f, 400, "job.option", fmt, a, b);
}

static int
opt_start_at(const char *s, struct job_options *o, const struct opt_names *n,
    struct api_fault *f)
{
	if (window_rfc3339(s, &o->start_at) == 0 && o->start_at > 0)
		return 0;
	return opt_fault(f, "%s must be a time in RFC 3339 form with its "
	    "offset, e.g. \"2026-12-03T02:00:00+01:00\" or "
	    "\"2026-12-03T01:00:00Z\"%s.", n->start_at, "");
}

static int
opt_confirm(const char *s, struct job_options *o, const struct opt_names *n,
    struct api_fault *f)
{
	if (s != NULL && *s != '\0' && job_confirm_parse(s, &o->confirm) == 0)
		return 0;
	return opt_fault(f, "%s must be \"device\" or \"admin\"%s (leave it "
	    "out for no confirmation).", n->confirm, "");
}

/* The checked window into o->window, or the fault naming its field. */
static int
opt_window(const char *start, const char *end, const char *zone,
    unsigned days, struct job_options *o, const struct opt_names *n,
    struct api_fault *f)
{
	struct window	 w;
	struct buf	 b = BUF_INIT;

	switch (window_set(&w, start, end, zone, days)) {
	case WINDOW_BAD_START:
		return opt_fault(f, "%s must be a time of day as HH:MM, e.g. "
		    "\"02:00\"%s.", n->start, "");
	case WINDOW_BAD_END:
		return opt_fault(f, "%s must be a time of day as HH:MM, e.g. "
		    "\"05:00\"%s.", n->end, "");
	case WINDOW_EMPTY:
		return opt_fault(f, "%s must differ from %s; an end before the "
		    "start runs past midnight, e.g. \"22:00\" to \"04:00\".",
		    n->end, n->start);
	case WINDOW_BAD_ZONE:
		return opt_fault(f, "%s must name a time zone of the system's "
		    "tz database, e.g. \"Europe/Berlin\" or \"UTC\"%s.",
		    n->zone, "");
	case WINDOW_BAD_DAYS:
		return opt_fault(f, "%s must list days from mon to sun, e.g. "
		    "%s.", n->days, n->days_example);
	default:
		break;
	}
	window_json(&b, &w);
	if (b.len >= sizeof(o->window)) {
		buf_free(&b);
		return api_fault_internal(f, "The window could not be stored");
	}
	memcpy(o->window, b.data, b.len);
	o->window[b.len] = '\0';
	buf_free(&b);
	return 0;
}

/* A JSON string member, or the fault when it is there but no string. */
static int
opt_json_str(const struct json_value *v, const char *key, const char *name,
    const char *example, const char **out, struct api_fault *f)
{
	const struct json_value *m = json_get(v, key);

	*out = NULL;
	if (m == NULL)
		return 0;
	if (m->kind == JSON_STRING) {
		*out = m->str;
		return 0;
	}
	return opt_fault(f, "%s must be a string, e.g. %s.", name, example);
}

static int
opt_json_days(const struct json_value *v, unsigned *days,
    struct api_fault *f)
{
	const struct json_value *d = json_get(v, "days");
	size_t	 i = 0;
	int	 day;

	*days = 0;
	if (d == NULL)
		return 0;
	if (d->kind == JSON_ARRAY && d->n > 0) {
		for (i = 0; i < d->n; i++) {
			if (d->items[i].kind != JSON_STRING ||
			    (day = window_day(d->items[i].str)) == -1)
				break;
			*days |= 1u << day;
		}
		if (i == d->n)
			return 0;
	}
	return opt_fault(f, "%s must list days from mon to sun, e.g. %s.",
	    opt_json.days, opt_json.days_example);
}

static int
opt_json_window(const struct json_value *v, struct job_options *o,
    struct api_fault *f)
{
	const char	*start, *end, *zone;
	unsigned	 days;

	if (v->kind != JSON_OBJECT)
		return opt_fault(f, "%s must be an object such as {\"start\": "
		    "\"02:00\", \"end\": \"05:00\", \"timezone\": "
		    "\"Europe/Berlin\"}%s.", "\"window\"", "");
	for (size_t i = 0; i < v->n; i++)
		if (!api_name_allowed(OPT_WINDOW_FIELDS, v->keys[i],
		    strlen(v->keys[i])))
			return opt_fault(f, "\"window.%s\" is not a field of a "
			    "window; the fields are start, end, timezone and "
			    "days%s.", v->keys[i], "");
	if (opt_json_str(v, "start", opt_json.start, "\"02:00\"", &start,
	    f) == -1 ||
	    opt_json_str(v, "end", opt_json.end, "\"05:00\"", &end, f) == -1 ||
	    opt_json_str(v, "timezone", opt_json.zone, "\"Europe/Berlin\"",
	    &zone, f) == -1 || opt_json_days(v, &days, f) == -1)
		return -1;
	return opt_window(start, end, zone, days, o, &opt_json, f);
}

/* null is the same as leaving the field out. */
static const struct json_value *
opt_member(const struct json_value *body, const char *key)
{
	const struct json_value *m = json_get(body, key);

	return m != NULL && m->kind != JSON_NULL ? m : NULL;
}

int
api_job_options_json(const struct json_value *body, struct job_options *o,
    struct api_fault *f)
{
	const struct json_value *m;

	memset(o, 0, sizeof(*o));
	if ((m = opt_member(body, "start_at")) != NULL &&
	    opt_start_at(m->kind == JSON_STRING ? m->str : NULL, o, &opt_json,
	    f) == -1)
		return -1;
	if ((m = opt_member(body, "window")) != NULL &&
	    opt_json_window(m, o, f) == -1)
		return -1;
	if ((m = opt_member(body, "confirm")) != NULL &&
	    opt_confirm(m->kind == JSON_STRING ? m->str : NULL, o, &opt_json,
	    f) == -1)
		return -1;
	return 0;
}

struct opt_query_values {
	char	*start_at, *start, *end, *zone, *days, *confirm;
};

static int
opt_query_window(struct opt_query_values *q, struct job_options *o,
    struct api_fault *f)
{
	unsigned	 days = 0;

	if (q->start == NULL && q->end == NULL && q->zone == NULL &&
	    q->days == NULL)
		return 0;
	if (q->start == NULL || q->end == NULL)
		return opt_fault(f, "%s and %s give the window together, e.g. "
		    "?window_start=02:00&window_end=05:00.", opt_query.start,
		    opt_query.end);
	if (q->days != NULL && window_days(q->days, &days) == -1)
		return opt_fault(f, "%s must list days from mon to sun, e.g. "
		    "%s.", opt_query.days, opt_query.days_example);
	return opt_window(q->start, q->end, q->zone, days, o, &opt_query, f);
}

int
api_job_options_query(const struct http_request *req, struct job_options *o,
    struct api_fault *f)
{
	struct opt_query_values q;
	int	 rc = 0;

	memset(o, 0, sizeof(*o));
	q.start_at = api_query(req, "start_at");
	q.start = api_query(req, "window_start");
	q.end = api_query(req, "window_end");
	q.zone = api_query(req, "window_timezone");
	q.days = api_query(req, "window_days");
	q.confirm = api_query(req, "confirm");
	if ((q.start_at != NULL &&
	    opt_start_at(q.start_at, o, &opt_query, f) == -1) ||
	    opt_query_window(&q, o, f) == -1 ||
	    (q.confirm != NULL && opt_confirm(q.confirm, o, &opt_query,
	    f) == -1))
		rc = -1;
	free(q.start_at);
	free(q.start);
	free(q.end);
	free(q.zone);
	free(q.days);
	free(q.confirm);
	return rc;
}

void
api_job_options_set(struct job *job, struct job_options *o)
{
	job->start_at = o->start_at;
	job->window = o->window;
	job->confirm = o->confirm;
}
