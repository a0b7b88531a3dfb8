/* SPDX-License-Identifier: MIT */
/*
 * The numbers behind the web page's charts: GET /admin/fleet/versions
 * (how many devices run which firmware version, in all and per tag), GET
 * /admin/jobs/{id}/progress (the job's deliveries counted per state over
 * time, replayed from the audit log's delivery rows and ending with the
 * counts now: what left no row there, such as deliveries a newer job
 * superseded, or rows the retention pruned, shows only in that last
 * sample) and GET /admin/stats/throughput (throughput.c's buckets).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "json.h"
#include "util.h"

#define VERSIONS_MAX	512	/* (tag, version) pairs answered */
#define PROGRESS_POINTS	300	/* samples of a job's progress at most */

/* One count of devices: a tag ("" for the whole fleet) and a version. */
struct version_count {
	char		 tag[65];
	char		 version[129];	/* a longer one counts as its start */
	int64_t		 count;
};

struct version_tally {
	struct version_count	 rows[VERSIONS_MAX];
	size_t			 n;
	int			 truncated;
};

static void
version_add(struct version_tally *t, const char *tag, size_t taglen,
    const char *version, int64_t count)
{
	struct version_count *r;
	char		 v[sizeof(r->version)];

	snprintf(v, sizeof(v), "%s", version);
	for (size_t i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if (strlen(r->tag) == taglen && strncmp(r->tag, tag,
		    taglen) == 0 && strcmp(r->version, v) == 0) {
			r->count += count;
			return;
		}
	}
	if (t->n == VERSIONS_MAX || taglen >= sizeof(r->tag)) {
		t->truncated = 1;
		return;
	}
	r = &t->rows[t->n++];
	snprintf(r->tag, sizeof(r->tag), "%.*s", (int)taglen, tag);
	memcpy(r->version, v, sizeof(v));
	r->count = count;
}

static void
version_cb(void *arg, const char *tags, const char *version, int64_t count)
{
	struct version_tally *t = arg;
	const char	*p = tags ? tags : "", *word;
	size_t		 n;

	version_add(t, "", 0, version ? version : "", count);
	while ((word = util_word(&p, ",", &n)) != NULL)
		version_add(t, word, n, version ? version : "", count);
}

static void
versions_json(struct buf *b, const struct version_tally *t, int tagged)
{
	const struct version_count *r;
	int		 first = 1;

	for (size_t i = 0; i < t->n; i++) {
		r = &t->rows[i];
		if ((r->tag[0] != '\0') != tagged)
			continue;
		buf_adds(b, first ? "{" : ",{");
		first = 0;
		if (tagged) {
			buf_adds(b, "\"tag\":");
			json_str(b, r->tag);
			buf_addc(b, ',');
		}
		buf_adds(b, "\"fw_version\":");
		json_str(b, r->version);
		buf_printf(b, ",\"count\":%" PRId64 "}", r->count);
	}
}

void
api_fleet_versions(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct version_tally *t;
	struct buf	 b = BUF_INIT;

	(void)req;
	(void)ar;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		api_nomem(c);
		return;
	}
	if (store_device_versions(env->store, version_cb, t) == -1) {
		free(t);
		api_internal(c, "The devices could not be read");
		return;
	}
	buf_adds(&b, "{\"versions\":[");
	versions_json(&b, t, 0);
	buf_adds(&b, "],\"tags\":[");
	versions_json(&b, t, 1);
	buf_printf(&b, "],\"truncated\":%s}", t->truncated ? "true" : "false");
	api_json(c, 200, &b);
	buf_free(&b);
	free(t);
}

/* The replay of a job's deliveries, one sample per PROGRESS_POINTS-th of
 * its life. */
struct progress {
	int64_t		 counts[DELIVERY_NSTATES];
	int64_t		 bucket;	/* seconds a sample covers */
	int64_t		 at;		/* the pending sample's time; 0 none */
	int		 points;
	struct buf	*b;
};

static void
progress_sample(struct progress *p, int64_t at)
{
	int	 first = 1;

	buf_adds(p->b, p->points++ ? ",{" : "{");
	json_key(p->b, "at");
	json_time(p->b, at);
	buf_adds(p->b, ",\"counts\":{");
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		if (p->counts[s] == 0)
			continue;
		buf_printf(p->b, "%s", first ? "" : ",");
		json_key(p->b, delivery_state_name(s));
		buf_printf(p->b, "%" PRId64, p->counts[s]);
		first = 0;
	}
	buf_adds(p->b, "}}");
}

static void
progress_move(struct progress *p, const char *from, const char *to,
    int64_t n)
{
	enum delivery_state f, t;

	if (delivery_state_parse(from, &f) == -1 ||
	    delivery_state_parse(to, &t) == -1)
		return;
	if (n > p->counts[f])
		n = p->counts[f];
	p->counts[f] -= n;
	p->counts[t] += n;
}

/* Applies one audit row: "a -> b[: why]" (one delivery), "N deliveries a
 * -> b: why" (a bulk move) or "N unfinished deliveries canceled: why". */
static void
progress_row(struct progress *p, const char *kind, const char *text)
{
	char		 from[32], to[32];
	long long	 n;

	if (strcmp(kind, "delivery.canceled") == 0) {
		for (int s = 0; s < DELIVERY_NSTATES; s++)
			if (!delivery_state_ended(s) && s != DELIVERY_CANCELED) {
				p->counts[DELIVERY_CANCELED] += p->counts[s];
				p->counts[s] = 0;
			}
	} else if (sscanf(text, "%lld deliver%*[a-z] %31[a-z-] -> %31[a-z-]",
	    &n, from, to) == 3)
		progress_move(p, from, to, n);
	else if (sscanf(text, "%31[a-z-] -> %31[a-z-]", from, to) == 2)
		progress_move(p, from, to, 1);
}

static void
progress_cb(void *arg, int64_t at, const char *kind, const char *text)
{
	struct progress *p = arg;

	if (p->at != 0 && at >= p->at + p->bucket) {
		progress_sample(p, p->at);
		p->at = 0;
	}
	progress_row(p, kind, text ? text : "");
	if (p->at == 0)
		p->at = at;
}

static void
progress_now_cb(void *arg, const char *state, int64_t count)
{
	struct progress *p = arg;
	enum delivery_state s;

	if (delivery_state_parse(state, &s) == 0)
		p->counts[s] = count;
}

void
api_jobs_progress(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct progress	 p;
	struct job	 job;
	struct buf	 b = BUF_INIT;
	int64_t		 now = (int64_t)time(NULL), total = 0;

	(void)req;
	if (api_job_load(c, ar->id, &job) == -1)
		return;
	memset(&p, 0, sizeof(p));
	p.b = &b;
	if (store_job_counts(env->store, job.id, progress_now_cb, &p) == -1)
		goto fail;
	for (int s = 0; s < DELIVERY_NSTATES; s++)
		total += p.counts[s];
	memset(p.counts, 0, sizeof(p.counts));
	p.counts[DELIVERY_QUEUED] = total;
	p.bucket = (now - job.created_at) / PROGRESS_POINTS + 1;
	buf_printf(&b, "{\"job_id\":%" PRId64 ",\"samples\":[", job.id);
	progress_sample(&p, job.created_at);
	if (store_events_of_job(env->store, job.id, progress_cb, &p) == -1)
		goto fail;
	if (p.at != 0)
		progress_sample(&p, p.at);
	memset(p.counts, 0, sizeof(p.counts));
	if (store_job_counts(env->store, job.id, progress_now_cb, &p) == -1)
		goto fail;
	progress_sample(&p, now);
	buf_adds(&b, "]}");
	api_json(c, 200, &b);
	buf_free(&b);
	job_free(&job);
	return;
fail:
	buf_free(&b);
	job_free(&job);
	api_internal(c, "The job's progress could not be read");
}

void
api_stats_throughput(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct buf	 b = BUF_INIT;

	(void)req;
	(void)ar;
	throughput_json(&b);
	api_json(c, 200, &b);
	buf_free(&b);
}
