/* SPDX-License-Identifier: MIT */
/*
 * The JSON that several admind API resources share: a firmware image and
 * a job as the firmware, jobs and legacy OTA endpoints show them, and the
 * reading of an id from a JSON body.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "util.h"
#include "window.h"

#define API_MAX_JSON_ID		9007199254740992.0	/* 2^53: exact */

/* "key":"value", a comma after it when comma is set. */
void
api_json_kv(struct buf *b, const char *key, const char *value, int comma)
{
	json_key(b, key);
	json_str(b, value ? value : "");
	if (comma)
		buf_addc(b, ',');
}

void
api_json_firmware(struct buf *b, const struct firmware *fw)
{
	char	 when[21];

	util_iso8601((time_t)fw->uploaded_at, when);
	buf_printf(b, "{\"id\":%" PRId64 ",", fw->id);
	api_json_kv(b, "filename", fw->filename, 1);
	buf_printf(b, "\"size\":%" PRIu64 ",", fw->size);
	api_json_kv(b, "sha256", fw->sha256, 1);
	api_json_kv(b, "md5", fw->md5, 1);
	api_json_kv(b, "format", fw->format, 1);
	api_json_kv(b, "chip", fw->chip, 1);
	api_json_kv(b, "version", fw->version, 1);
	api_json_kv(b, "build", fw->build, 1);
	api_json_kv(b, "fw_type", fw->fw_type, 1);
	api_json_kv(b, "board", fw->board, 1);
	api_json_kv(b, "uploaded_at", when, 1);
	api_json_kv(b, "uploaded_by", fw->uploaded_by, 0);
	buf_addc(b, '}');
}

/* ,"start_at":...,"window":...,"confirm":..., and while the job has a
 * window whether it is open and when that changes. */
static void
api_json_when(struct buf *b, const struct job *job)
{
	struct window	 w;
	int64_t		 now = time(NULL);
	const char	*confirm = job_confirm_name(job->confirm);

	buf_adds(b, ",\"start_at\":");
	json_time(b, job->start_at);
	buf_adds(b, ",\"window\":");
	if (job->window == NULL || *job->window == '\0' ||
	    window_parse(job->window, &w) == -1)
		buf_adds(b, "null");
	else {
		buf_adds(b, job->window);
		buf_printf(b, ",\"window_open\":%s,\"next_change\":",
		    window_is_open(&w, now) ? "true" : "false");
		json_time(b, window_next_change(&w, now));
	}
	buf_adds(b, ",\"confirm\":");
	if (*confirm)
		json_str(b, confirm);
	else
		buf_adds(b, "null");
}

void
api_json_job(struct buf *b, const struct job *job)
{
	static const char *kinds[] = { "devices", "tag", "all" };
	char	 when[21];

	util_iso8601((time_t)job->created_at, when);
	buf_printf(b, "{\"id\":%" PRId64 ",\"firmware_id\":%" PRId64 ",",
	    job->id, job->firmware_id);
	api_json_kv(b, "target_kind", kinds[job->target_kind], 1);
	api_json_kv(b, "target", job->target, 1);
	buf_printf(b, "\"force\":%s,\"max_parallel\":%d,\"attempt_limit\":%d,"
	    "\"failure_threshold\":%d,", job->force ? "true" : "false",
	    job->max_parallel, job->attempt_limit, job->failure_threshold);
	api_json_kv(b, "state", job_state_name(job->state), 1);
	api_json_kv(b, "created_at", when, 1);
	api_json_kv(b, "created_by", job->created_by, 0);
	api_json_when(b, job);
	buf_addc(b, '}');
}

int
api_json_id(const struct json_value *v, int64_t *id)
{
	if (v == NULL || v->kind != JSON_NUMBER || v->num < 1 ||
	    v->num > API_MAX_JSON_ID || v->num != (double)(int64_t)v->num)
		return -1;
	*id = (int64_t)v->num;
	return 0;
}
