/* SPDX-License-Identifier: MIT */
/*
 * The legacy OTA endpoints of admind, as curl users type them:
 * POST /admin/ota/start[?token=T] uploads an image and creates a job for
 * one device or for all (including devices that connect later);
 * GET or POST /admin/ota/stop stops every active job.  Answers are JSON
 * with a "message" sentence for people reading curl -v.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define OTA_DEFAULT_PARALLEL	100
#define OTA_DEFAULT_ATTEMPTS	3

static void	api_ota_start_complete(struct http_conn *, struct api_req *);

/* ?tag=T: the job goes to the devices with tag T; -1 after answering. */
static int
api_ota_tag(struct http_conn *c, struct http_request *req, struct api_req *ar)
{
	char	*tag = api_query(req, "tag");
	int	 rc = -1;

	if (tag == NULL)
		return 0;
	if (ar->device_id)
		api_error(c, 400, "request.conflicting_targets", "Give ?token= "
		    "for one device or ?tag= for the devices with a tag, not "
		    "both.");
	else if (*tag == '\0' || strlen(tag) >= sizeof(ar->tag) ||
	    strchr(tag, ',') != NULL)
		api_error(c, 400, "device.bad_tags", "?tag= names one tag, "
		    "1 to %zu characters without commas.",
		    sizeof(ar->tag) - 1);
	else if (api_jobs_tag_check(c, tag) == 0) {
		snprintf(ar->tag, sizeof(ar->tag), "%s", tag);
		rc = 0;
	}
	free(tag);
	return rc;
}

void
api_ota_start_request(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device	 dev;
	struct api_fault fault;
	char		*token, hash[65];
	int		 found;


	ar->force = api_query_bool(req, "force");
	if (api_job_options_query(req, &ar->opts, &fault) == -1) {
		api_fault_answer(c, &fault);
		return;
	}
	if ((token = api_query(req, "token")) != NULL) {
		util_sha256_hex(token, hash);
		free(token);
		found = store_device_by_token(env->store, hash, &dev);
		if (found == 0) {
			api_error(c, 404, "device.not_found", "No device has "
			    "the token given in ?token=. Create the device "
			    "first (POST /admin/devices), or leave out ?token= "
			    "to update every device.");
			return;
		}
		if (found != 1) {
			api_internal(c, "The database could not be read");
			return;
		}
		ar->device_id = dev.id;
		device_free(&dev);
	}
	if (api_ota_tag(c, req, ar) == -1)
		return;
	api_firmware_upload_begin(c, req, ar, api_ota_start_complete);
}

/* job->target points into target, which the caller keeps. */
static void
api_ota_job(struct api_req *ar, int64_t firmware_id, struct job *job,
    char *target, size_t len)
{

	memset(job, 0, sizeof(*job));
	job->firmware_id = firmware_id;
	if (ar->device_id) {
		job->target_kind = JOB_TARGET_DEVICES;
		snprintf(target, len, "%" PRId64, ar->device_id);
	} else if (ar->tag[0]) {
		job->target_kind = JOB_TARGET_TAG;
		snprintf(target, len, "%s", ar->tag);
	} else {
		job->target_kind = JOB_TARGET_ALL;
		*target = '\0';
	}
	job->target = target;
	job->force = ar->force;
	api_job_options_set(job, &ar->opts);
	job->max_parallel = OTA_DEFAULT_PARALLEL;
	job->attempt_limit = OTA_DEFAULT_ATTEMPTS;
	job->created_at = time(NULL);
	job->created_by = ar->user;
}

static void
api_ota_started(struct http_conn *c, const struct firmware *fw,
    const struct job *job, int targeted)
{
	struct buf	 b = BUF_INIT, msg = BUF_INIT;

	buf_printf(&msg, "Job %" PRId64 " created: %s (%s, %" PRIu64 " bytes%s"
	    "%s) goes to %s%d device%s; each gets it when it is online.",
	    job->id, fw->filename, fw->format, fw->size,
	    *fw->build ? ", build " : "", fw->build,
	    job->target_kind == JOB_TARGET_ALL ? "all " : "", targeted,
	    targeted == 1 ? "" : "s");
	if (job->target_kind == JOB_TARGET_ALL)
		buf_adds(&msg, " Devices added later get it too.");
	buf_adds(&b, "{");
	api_json_kv(&b, "message", buf_cstr(&msg), 1);
	json_key(&b, "job");
	api_json_job(&b, job);
	buf_adds(&b, ",");
	json_key(&b, "firmware");
	api_json_firmware(&b, fw);
	buf_printf(&b, ",\"devices_targeted\":%d}", targeted);
	api_json(c, 201, &b);
	buf_free(&b);
	buf_free(&msg);
}

/* The image, the job, its deliveries and its audit event commit
 * together; the answer follows the commit. */
static void
api_ota_start_complete(struct http_conn *c, struct api_req *ar)
{
	struct firmware	 fw, stored;
	struct job	 job;
	int64_t		 one = ar->device_id;
	size_t		 n = 1;
	char		 target[72];
	int		 status;

	if (upload_finish(ar->upload, ar->force, &fw) == -1) {
		api_error(c, upload_status(ar->upload), upload_code(ar->upload),
		    "%s", upload_message(ar->upload));
		return;
	}
	(void)store_disk_full(env->store);
	if (tx_begin() == -1 || api_firmware_save(ar, &fw, &status) == -1)
		tx_fail();
	api_ota_job(ar, fw.id, &job, target, sizeof(target));
	/* a tag or all: the store picks the devices */
	if (!tx_ok() || jobs_admin_create(&job, one ? &one : NULL, &n,
	    ar->user, c->peer_str) == -1)
		tx_fail();
	if (tx_commit() == -1) {
		api_job_unsaved(c);
		return;
	}
	log_fields(LOG_INFO, NULL, "%s from %s uploaded %s (%s, sha256 %s) "
	    "and created job %" PRId64, ar->user, c->peer_str, fw.filename,
	    fw.format, fw.sha256, job.id);
	if (store_firmware_get(env->store, fw.id, &stored) == 1) {
		api_ota_started(c, &stored, &job, (int)n);
		firmware_free(&stored);
	} else {
		api_ota_started(c, &fw, &job, (int)n);
	}
}

void
api_ota_stop(struct http_conn *c, struct http_request *req, struct api_req *ar)
{
	struct buf	 b = BUF_INIT;
	struct job	 job;
	int64_t		*ids = NULL;
	size_t		 n = 0;
	int		 canceled, total = 0;

	if (store_jobs_active(env->store, &ids, &n) == -1) {
		api_internal(c, "The database could not be read");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (store_job_get(env->store, ids[i], &job) != 1)
			continue;
		if (jobs_admin_change(&job, JOB_STOP, ar->user, c->peer_str,
		    "stopped with GET/POST /admin/ota/stop", &canceled) == 0)
			total += canceled;
		job_free(&job);
	}
	log_info("%s from %s stopped %zu jobs (%d deliveries canceled)",
	    ar->user, c->peer_str, n, total);
	buf_printf(&b, "{\"message\":\"Stopped %zu job%s; %d pending "
	    "deliver%s canceled.\",\"jobs_stopped\":%zu,"
	    "\"deliveries_canceled\":%d}", n, n == 1 ? "" : "s", total,
	    total == 1 ? "y" : "ies", n, total);
	api_json(c, 200, &b);
	buf_free(&b);
	free(ids);
}
