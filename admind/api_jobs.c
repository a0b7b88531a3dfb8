/* SPDX-License-Identifier: MIT */
/*
 * admind's jobs resource: POST /admin/jobs rolls a stored firmware out to
 * devices (a list of ids or tokens, a tag, or all devices including those
 * added later) with its options; GET lists jobs, shows one with its
 * deliveries counted per state, and lists its deliveries; stop, pause and
 * resume change its course.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define JOB_MAX_TARGETS		100000
#define JOB_FIELDS	",firmware_id,force,max_parallel,attempt_limit," \
			"failure_threshold,devices,tokens,tag,all," \
			"start_at,window,confirm,"

struct job_input {
	struct job	 job;
	int64_t		*ids;
	size_t		 n;
	char		 target[256];
	struct job_options opts;
};

void
api_delivery_json(struct buf *b, const struct delivery *d, uint64_t size)
{
	char	 created[21], updated[21];

	util_iso8601((time_t)d->created_at, created);
	util_iso8601((time_t)d->updated_at, updated);
	buf_printf(b, "{\"id\":%" PRId64 ",\"job_id\":%" PRId64 ",\"device_id\":%"
	    PRId64 ",\"state\":", d->id, d->job_id, d->device_id);
	json_str(b, delivery_state_name(d->state));
	buf_printf(b, ",\"attempts\":%d,\"bytes_sent\":%" PRIu64 ",\"percent\":%d,"
	    "\"created_at\":\"%s\",\"updated_at\":\"%s\",\"last_error\":",
	    d->attempts, d->bytes_sent, size ? (int)(d->bytes_sent * 100 /
	    size) : 0, created, updated);
	json_str(b, d->last_error);
	buf_adds(b, ",\"next_at\":");
	json_time(b, d->next_at);
	buf_printf(b, ",\"consented\":%s,\"device_online\":%s}",
	    d->consented ? "true" : "false",
	    api_device_online(d->device_id) ? "true" : "false");
}

static int
job_add_id(struct job_input *in, int64_t id)
{
	int64_t	*p;

	if (in->n >= JOB_MAX_TARGETS ||
	    (p = reallocarray(in->ids, in->n + 1, sizeof(*p))) == NULL)
		return -1;
	in->ids = p;
	in->ids[in->n++] = id;
	return 0;
}

/* A job that could not be committed: nothing of it was kept. */
void
api_job_unsaved(struct http_conn *c)
{
	if (store_disk_full(env->store))
		api_error(c, 507, "storage.full", "The server's disk is full; "
		    "nothing of the job was kept. Free space in the state "
		    "directory and try again.");
	else
		api_internal(c, "The job could not be saved, nothing of it was "
		    "kept");
}

/* Some device has the tag, else answers 404 tag.no_devices (or 500)
 * itself and returns -1. */
int
api_jobs_tag_check(struct http_conn *c, const char *tag)
{
	int64_t	 n;

	if (store_device_count_tag(env->store, tag, &n) == -1) {
		api_internal(c, "The database could not be read");
		return -1;
	}
	if (n > 0)
		return 0;
	api_error(c, 404, "tag.no_devices", "No device has the tag \"%s\". "
	    "Tag devices with PATCH /admin/devices/ID {\"tags\": [\"%s\"]}, "
	    "or check the spelling.", tag, tag);
	return -1;
}

/* One target form: "devices" (ids), "tokens", "tag" or "all": true.
 * Answers 400/404 itself and returns -1. */
static int
job_targets(struct http_conn *c, const struct json_value *v,
    struct job_input *in)
{
	const struct json_value *devs = json_get(v, "devices");
	const struct json_value *toks = json_get(v, "tokens");
	const struct json_value *all = json_get(v, "all");
	const char	*tag = json_get_str(v, "tag");
	struct device	 d;
	char		 hash[65];
	int		 forms = (devs != NULL) + (toks != NULL) + (tag != NULL) +
			    (all != NULL && all->kind == JSON_TRUE);

	if (forms != 1) {
		api_error(c, 400, "job.target", "Say which devices get the "
		    "update with exactly one of \"devices\": [ids], \"tokens\": "
		    "[tokens], \"tag\": \"name\" or \"all\": true.");
		return -1;
	}
	/* all and tag: the store picks the devices (in->ids NULL) */
	if (all) {
		in->job.target_kind = JOB_TARGET_ALL;
		return 0;
	}
	if (tag) {
		in->job.target_kind = JOB_TARGET_TAG;
		snprintf(in->target, sizeof(in->target), "%s", tag);
		return api_jobs_tag_check(c, tag);
	}
	in->job.target_kind = JOB_TARGET_DEVICES;
	v = devs ? devs : toks;
	if (v->kind != JSON_ARRAY || v->n == 0) {
		api_error(c, 400, "job.target", "\"%s\" must be a non-empty "
		    "list.", devs ? "devices" : "tokens");
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct json_value *e = &v->items[i];
		int64_t	 id;
		int	 found;

		if (devs && e->kind == JSON_NUMBER && api_json_id(e, &id) == -1) {
			api_error(c, 400, "request.bad_number", "Target %zu of "
			    "\"devices\" is no device id: ids are whole "
			    "numbers from 1.", i + 1);
			return -1;
		}
		if (devs && e->kind == JSON_NUMBER)
			found = store_device_get(env->store, id, &d);
		else if (toks && e->kind == JSON_STRING) {
			util_sha256_hex(e->str, hash);
			found = store_device_by_token(env->store, hash, &d);
		} else
			found = 0;
		if (found != 1) {
			api_error(c, 404, "device.not_found", "Target %zu of "
			    "\"%s\" is not a known device%s.", i + 1, devs ?
			    "devices" : "tokens", devs ? " id" : " token");
			return -1;
		}
		found = job_add_id(in, d.id);
		device_free(&d);
		if (found == -1) {
			api_error(c, 400, "job.target", "A job takes at most %d "
			    "devices; use a tag or \"all\": true for more.",
			    JOB_MAX_TARGETS);
			return -1;
		}
	}
	return 0;
}

static int
job_option(struct http_conn *c, const struct json_value *v, const char *name,
    int min, int max, int *out)
{
	const struct json_value *o = json_get(v, name);

	if (o == NULL)
		return 0;
	if (o->kind != JSON_NUMBER || o->num < min || o->num > max ||
	    o->num != (int)o->num) {
		api_error(c, 400, "job.option", "\"%s\" must be a whole number "
		    "from %d to %d.", name, min, max);
		return -1;
	}
	*out = (int)o->num;
	return 0;
}

/* Every field of the body is one a job takes, else 400 and -1. */
static int
job_fields(struct http_conn *c, const struct json_value *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (!api_name_allowed(JOB_FIELDS, v->keys[i],
		    strlen(v->keys[i]))) {
			api_error(c, 400, "request.unknown_field", "\"%s\" is "
			    "not a field of a job; the fields are %.*s.",
			    v->keys[i], (int)strlen(JOB_FIELDS) - 2,
			    &JOB_FIELDS[1]);
			return -1;
		}
	return 0;
}

static int
job_input(struct http_conn *c, struct api_req *ar, struct job_input *in)
{
	struct json_value *v;
	const struct json_value *fid, *force;
	struct firmware	 fw;
	struct api_fault fault;
	char		 err[200];
	int64_t		 deleted = 0, fw_id = 0;
	int		 rc = -1;

	memset(in, 0, sizeof(*in));
	memset(&fw, 0, sizeof(fw));
	in->job.max_parallel = 100;
	in->job.attempt_limit = 3;
	if ((v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len,
	    err, sizeof(err))) == NULL || v->kind != JSON_OBJECT) {
		api_error(c, 400, "request.bad_json", "The body must be a JSON "
		    "object such as {\"firmware_id\": 1, \"all\": true}%s%s.",
		    v ? "" : ": ", v ? "" : err);
		goto out;
	}
	if (job_fields(c, v) == -1)
		goto out;
	fid = json_get(v, "firmware_id");
	if (fid != NULL && fid->kind == JSON_NUMBER &&
	    api_json_id(fid, &fw_id) == -1) {
		api_error(c, 400, "request.bad_number", "\"firmware_id\" is "
		    "a whole number from 1, the id of an uploaded image (GET "
		    "/admin/firmware lists them).");
		goto out;
	}
	if (fid == NULL || fid->kind != JSON_NUMBER ||
	    store_firmware_get(env->store, fw_id, &fw) != 1 ||
	    store_firmware_deleted_at(env->store, fw.id, &deleted) != 1 ||
	    deleted > 0) {
		if (fid && fid->kind == JSON_NUMBER && fw.id)
			firmware_free(&fw);
		api_error(c, fid ? 404 : 400, "firmware.not_found", "Give "
		    "\"firmware_id\", the id of an uploaded image (GET "
		    "/admin/firmware lists them).");
		goto out;
	}
	in->job.firmware_id = fw.id;
	firmware_free(&fw);
	force = json_get(v, "force");
	in->job.force = force && force->kind == JSON_TRUE;
	if (job_option(c, v, "max_parallel", 1, 100000,
	    &in->job.max_parallel) == -1 ||
	    job_option(c, v, "attempt_limit", 1, 100,
	    &in->job.attempt_limit) == -1 ||
	    job_option(c, v, "failure_threshold", 0, 100,
	    &in->job.failure_threshold) == -1)
		goto out;
	if (api_job_options_json(v, &in->opts, &fault) == -1) {
		api_fault_answer(c, &fault);
		goto out;
	}
	if (job_targets(c, v, in) == -1)
		goto out;
	rc = 0;
out:
	json_free(v);
	return rc;
}

static int
api_job_view(struct buf *b, const struct job *job);

void
api_jobs_create(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct job_input in;
	struct buf	 b = BUF_INIT;
	char		 loc[64];

	if (job_input(c, ar, &in) == -1) {
		free(in.ids);
		return;
	}
	in.job.target = in.target;
	api_job_options_set(&in.job, &in.opts);
	in.job.created_by = ar->user;
	in.job.created_at = time(NULL);
	(void)store_disk_full(env->store);
	if (jobs_admin_create(&in.job, in.ids, &in.n, ar->user,
	    c->peer_str) == -1) {
		free(in.ids);
		api_job_unsaved(c);
		return;
	}
	free(in.ids);
	if (api_job_view(&b, &in.job) == -1) {
		buf_free(&b);
		api_internal(c, "Job %" PRId64 " was created but could not be "
		    "read back", in.job.id);
		return;
	}
	buf_addc(&b, '\n');
	snprintf(loc, sizeof(loc), "Location: /admin/jobs/%" PRId64 "\r\n",
	    in.job.id);
	http_respond(c, 201, "application/json", loc, b.data, b.len);
	buf_free(&b);
}

struct job_counts {
	struct buf	*b;
	int		 first;
	int64_t		 total;
};

static void
job_count_cb(void *arg, const char *state, int64_t count)
{
	struct job_counts *jc = arg;

	buf_printf(jc->b, "%s\"%s\":%" PRId64, jc->first ? "" : ",", state,
	    count);
	jc->first = 0;
	jc->total += count;
}

/* The job, its firmware, and its deliveries counted per state; -1 when
 * the database could not be read (logged by the store). */
static int
api_job_view(struct buf *b, const struct job *job)
{
	struct job_counts jc = { b, 1, 0 };
	struct job	 stored;
	struct firmware	 fw;
	int		 rv;

	if (store_job_get(env->store, job->id, &stored) != 1)
		return -1;
	api_json_job(b, &stored);
	b->len--;	/* reopen the object */
	if (store_firmware_get(env->store, stored.firmware_id, &fw) == 1) {
		buf_adds(b, ",\"firmware\":");
		api_json_firmware(b, &fw);
		firmware_free(&fw);
	}
	buf_adds(b, ",\"counts\":{");
	rv = store_job_counts(env->store, job->id, job_count_cb, &jc);
	buf_printf(b, "},\"deliveries\":%" PRId64 "}", jc.total);
	job_free(&stored);
	return rv;
}

void
api_jobs_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct job	*jobs = NULL;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0, i;
	int64_t		 total = 0, limit, offset;
	char		*state;
	enum job_state	 js;

	if (api_paging(c, req, &limit, &offset) == -1)
		return;
	if (limit == -1)
		limit = 100;
	state = api_query(req, "state");
	if (state && *state && job_state_parse(state, &js) == -1) {
		api_error(c, 400, "job.state", "?state= is one of active, "
		    "paused, stopped or finished.");
		free(state);
		return;
	}
	if (store_job_list(env->store, state, limit, offset, &jobs, &n,
	    &total) == -1) {
		free(state);
		api_internal(c, "The database could not be read");
		return;
	}
	buf_adds(&b, "{\"jobs\":[");
	for (i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		if (api_job_view(&b, &jobs[i]) == -1)
			break;
	}
	if (i < n)
		api_internal(c, "The database could not be read");
	else {
		buf_printf(&b, "],\"total\":%" PRId64 "}", total);
		api_json(c, 200, &b);
	}
	buf_free(&b);
	job_list_free(jobs, n);
	free(state);
}

/* The job, or -1 answered: 404 when there is none, else the database's
 * failure (503 while it cannot be reached). */
int
api_job_load(struct http_conn *c, int64_t id, struct job *job)
{
	switch (store_job_get(env->store, id, job)) {
	case 1:
		return 0;
	case 0:
		api_error(c, 404, "job.not_found", "There is no job %" PRId64
		    "; GET /admin/jobs lists them.", id);
		return -1;
	default:
		api_internal(c, "Job %" PRId64 " could not be read", id);
		return -1;
	}
}

void
api_jobs_get(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct job	 job;
	struct buf	 b = BUF_INIT;

	if (api_job_load(c, ar->id, &job) == -1)
		return;
	if (api_job_view(&b, &job) == -1)
		api_internal(c, "The database could not be read");
	else
		api_json(c, 200, &b);
	buf_free(&b);
	job_free(&job);
}

void
api_jobs_deliveries(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct delivery	*ds = NULL;
	struct firmware	 fw;
	struct job	 job;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0, shown = 0;
	char		*state = api_query(req, "state");
	char		*dev = api_query(req, "device");
	uint64_t	 devid = 0, size = 0;
	enum delivery_state want = DELIVERY_NSTATES;

	if (dev && util_parse_u64(dev, &devid) == -1) {
		api_error(c, 400, "request.bad_filter", "?device= is a device "
		    "id, a whole number.");
		goto out;
	}
	if (state && delivery_state_parse(state, &want) == -1) {
		api_error(c, 400, "delivery.state", "?state= names a delivery "
		    "state, such as queued, sent or succeeded.");
		goto out;
	}
	if (api_job_load(c, ar->id, &job) == -1)
		goto out;
	if (store_firmware_get(env->store, job.firmware_id, &fw) == 1) {
		size = fw.size;
		firmware_free(&fw);
	}
	if (store_job_deliveries(env->store, ar->id, &ds, &n) == -1) {
		api_internal(c, "The database could not be read");
		job_free(&job);
		goto out;
	}
	buf_adds(&b, "{\"deliveries\":[");
	for (size_t i = 0; i < n; i++) {
		if (want != DELIVERY_NSTATES && ds[i].state != want)
			continue;
		if (devid && (uint64_t)ds[i].device_id != devid)
			continue;
		if (shown++)
			buf_addc(&b, ',');
		api_delivery_json(&b, &ds[i], size);
	}
	buf_printf(&b, "],\"total\":%zu}", shown);
	api_json(c, 200, &b);
	buf_free(&b);
	delivery_list_free(ds, n);
	job_free(&job);
out:
	free(state);
	free(dev);
}

static void
api_jobs_change(struct http_conn *c, struct api_req *ar, enum job_event ev,
    const char *verb)
{
	struct job	 job;
	struct buf	 b = BUF_INIT;
	enum job_state	 to;
	int		 canceled;

	if (api_job_load(c, ar->id, &job) == -1)
		return;
	if (job_next(job.state, ev, &to) == -1) {
		api_error(c, 409, "job.state", "Job %" PRId64 " is %s; it cannot "
		    "be %s.", job.id, job_state_name(job.state), verb);
	} else if (jobs_admin_change(&job, ev, ar->user, c->peer_str, verb,
	    &canceled) == -1) {
		api_internal(c, "Job %" PRId64 " could not be %s", job.id,
		    verb);
	} else if (api_job_view(&b, &job) == -1) {
		api_internal(c, "Job %" PRId64 " was %s but could not be read "
		    "back", job.id,
		    verb);
	} else {
		if (canceled > 0) {
			b.len--;
			buf_printf(&b, ",\"deliveries_canceled\":%d}",
			    canceled);
		}
		api_json(c, 200, &b);
	}
	buf_free(&b);
	job_free(&job);
}

void
api_jobs_stop(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	api_jobs_change(c, ar, JOB_STOP, "stopped");
}

void
api_jobs_pause(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	api_jobs_change(c, ar, JOB_PAUSE, "paused");
}

void
api_jobs_resume(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	api_jobs_change(c, ar, JOB_RESUME, "resumed");
}
