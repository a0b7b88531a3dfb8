/* SPDX-License-Identifier: MIT */
/*
 * admind's firmware resource, /admin/firmware: upload (multipart "file",
 * streamed through upload.c into the firmware directory in constant
 * memory, indexed, deduplicated by SHA-256), list, get with the jobs that
 * use it, delete (409 while an active or paused job uses it; the file, and
 * the database's copy on a shared store, are removed, the row kept while
 * finished jobs still name it).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define FIRMWARE_FORMATS	",esp8266,esp8266-gzip,esp32,unknown,"

#define FIRMWARE_MULTIPART_SLACK	(64 * 1024)	/* boundaries, heads */

static void	api_firmware_uploaded(struct http_conn *, struct api_req *);

/* api_json_firmware with what only this resource shows. */
static void
firmware_json_full(struct buf *b, const struct firmware *fw,
    int64_t deleted_at)
{
	char	 when[21];

	api_json_firmware(b, fw);
	b->len--;
	buf_adds(b, ",\"project\":");
	json_str(b, fw->project ? fw->project : "");
	buf_adds(b, ",\"sha256_b64\":");
	json_str(b, fw->sha256_b64);
	buf_adds(b, ",\"deleted_at\":");
	if (deleted_at > 0) {
		util_iso8601((time_t)deleted_at, when);
		json_str(b, when);
	} else {
		buf_adds(b, "null");
	}
	buf_addc(b, '}');
}

/*
 * Starts streaming an image upload (POST /admin/firmware and the legacy
 * /admin/ota/start): a declared length over max_firmware_size is refused
 * before the body is read, a body that is not multipart with 415; finish
 * runs when the body is complete.
 */
void
api_firmware_upload_begin(struct http_conn *c, struct http_request *req,
    struct api_req *ar, void (*finish)(struct http_conn *, struct api_req *))
{
	uint64_t	 max = env->cfg.admind.max_firmware_size;
	char		 err[256];

	if (req->has_length &&
	    req->content_length > max + FIRMWARE_MULTIPART_SLACK) {
		api_error(c, 413, "firmware.too_large", "The upload (%" PRIu64
		    " bytes) is larger than max_firmware_size (%" PRIu64
		    " bytes). Raise max_firmware_size in [admind] if this "
		    "image is right.", req->content_length, max);
		return;
	}
	ar->upload = upload_new(http_header(req, "content-type"), max, err,
	    sizeof(err));
	if (ar->upload == NULL) {
		api_error(c, 415, "upload.content_type", "The image must be "
		    "sent as multipart/form-data with the field \"file\" "
		    "(curl -F file=@fw.bin ...): %s.", err);
		return;
	}
	ar->finish = finish;
	http_accept_body(c);
}

void
api_firmware_upload(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	ar->force = api_query_bool(req, "force");
	api_firmware_upload_begin(c, req, ar, api_firmware_uploaded);
}

/* The row for an uploaded image: *status 201 when new, 200 when an
 * identical image was there already (a deleted one comes back). */
static int
firmware_row(struct api_req *ar, struct firmware *fw, int *status)
{
	int64_t	 deleted_at = 0;
	int	 created;

	fw->uploaded_at = time(NULL);
	fw->uploaded_by = ar->user;
	if (store_firmware_add(env->store, fw, &fw->id, &created) == -1)
		return -1;
	*status = created ? 201 : 200;
	if (created)
		return 0;
	if (store_firmware_deleted_at(env->store, fw->id, &deleted_at) != 1)
		return -1;
	if (deleted_at > 0) {
		*status = 201;
		return store_firmware_restore(env->store, fw->id);
	}
	return 0;
}

/* Stores an uploaded image's row (see firmware_row) and, on a store
 * that nodes share, its bytes, in one transaction: all or nothing.  The
 * bytes go again for an identical image, which repairs a damaged copy
 * and adds nothing to a sound one. */
int
api_firmware_save(struct api_req *ar, struct firmware *fw, int *status)
{
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (firmware_row(ar, fw, status) == -1 || fwcache_put(fw->sha256) ==
	    -1)
		tx_fail();
	return tx_commit();
}

static void
api_firmware_uploaded(struct http_conn *c, struct api_req *ar)
{
	struct firmware	 fw, stored;
	struct buf	 b = BUF_INIT;
	char		 loc[64], text[256];
	int		 status;

	if (upload_finish(ar->upload, ar->force, &fw) == -1) {
		api_error(c, upload_status(ar->upload), upload_code(ar->upload),
		    "%s", upload_message(ar->upload));
		/* The temporary file goes now, not when the connection does. */
		upload_free(ar->upload);
		ar->upload = NULL;
		return;
	}
	if (api_firmware_save(ar, &fw, &status) == -1 ||
	    store_firmware_get(env->store, fw.id, &stored) != 1) {
		api_internal(c, "The firmware could not be saved");
		return;
	}
	snprintf(text, sizeof(text), "firmware %" PRId64 " %s (%s, %" PRIu64
	    " bytes, sha256 %s)%s", stored.id, fw.filename, stored.format,
	    stored.size, stored.sha256, status == 200 ?
	    ", identical to the stored image" : "");
	audit("firmware.uploaded", ar->user, c->peer_str, 0, 0, text);
	firmware_json_full(&b, &stored, 0);
	b.len--;
	buf_printf(&b, ",\"duplicate\":%s}\n", status == 200 ? "true" :
	    "false");
	snprintf(loc, sizeof(loc), "Location: /admin/firmware/%" PRId64 "\r\n",
	    stored.id);
	http_respond(c, status, "application/json", loc, b.data, b.len);
	buf_free(&b);
	firmware_free(&stored);
}

void
api_firmware_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct firmware	*fws = NULL;
	struct buf	 b = BUF_INIT;
	char		*format, *board;
	size_t		 n = 0;
	int64_t		 limit, offset, total = 0;
	int		 rc;

	if (api_paging(c, req, &limit, &offset) == -1)
		return;
	format = api_query(req, "format");
	if (format && *format && !api_name_allowed(FIRMWARE_FORMATS, format,
	    strlen(format))) {
		api_error(c, 400, "request.bad_filter", "?format= is one of "
		    "esp8266, esp8266-gzip, esp32 or unknown.");
		free(format);
		return;
	}
	board = api_query(req, "board");
	rc = store_firmware_list(env->store, format ? format : "",
	    board ? board : "", limit, offset, &fws, &n, &total);
	free(format);
	free(board);
	if (rc == -1) {
		api_internal(c, "The database could not be read");
		return;
	}
	buf_adds(&b, "{\"firmware\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		firmware_json_full(&b, &fws[i], 0);
	}
	buf_printf(&b, "],\"total\":%" PRId64 ",\"offset\":%" PRId64
	    ",\"limit\":", total, offset);
	if (limit >= 0)
		buf_printf(&b, "%" PRId64 "}", limit);
	else
		buf_adds(&b, "null}");
	api_json(c, 200, &b);
	buf_free(&b);
	firmware_list_free(fws, n);
}

/* The firmware of the route's {id} (deleted ones too), or 404 and -1. */
static int
firmware_load(struct http_conn *c, struct api_req *ar, struct firmware *fw,
    int64_t *deleted_at)
{
	int	 found = store_firmware_get(env->store, ar->id, fw);

	if (found == 1 &&
	    store_firmware_deleted_at(env->store, ar->id, deleted_at) == 1)
		return 0;
	if (found == 1)
		firmware_free(fw);
	if (found == 0)
		api_error(c, 404, "firmware.not_found", "There is no firmware %"
		    PRId64 "; GET /admin/firmware lists them.", ar->id);
	else
		api_internal(c, "The database could not be read");
	return -1;
}

void
api_firmware_get(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct firmware	 fw;
	struct job	*jobs = NULL;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0;
	int64_t		 deleted_at;

	if (firmware_load(c, ar, &fw, &deleted_at) == -1)
		return;
	if (store_firmware_jobs(env->store, fw.id, &jobs, &n) == -1) {
		firmware_free(&fw);
		api_internal(c, "The database could not be read");
		return;
	}
	firmware_json_full(&b, &fw, deleted_at);
	b.len--;
	buf_adds(&b, ",\"jobs\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		api_json_job(&b, &jobs[i]);
	}
	buf_adds(&b, "]}");
	api_json(c, 200, &b);
	buf_free(&b);
	job_list_free(jobs, n);
	firmware_free(&fw);
}

/* 409 naming the jobs that still use the firmware. */
static void
firmware_in_use(struct http_conn *c, int64_t id, const int64_t *jobs,
    size_t n)
{
	struct buf	 list = BUF_INIT;

	for (size_t i = 0; i < n && i < 20; i++)
		buf_printf(&list, "%s%" PRId64, i ? ", " : "", jobs[i]);
	if (n > 20)
		buf_adds(&list, ", ...");
	api_error(c, 409, "firmware.in_use", "Firmware %" PRId64 " is used "
	    "by %zu active or paused job%s (%s). Stop %s first (POST "
	    "/admin/jobs/ID/stop, or POST /admin/ota/stop for every job), "
	    "then delete the firmware.", id, n, n == 1 ? "" : "s",
	    buf_cstr(&list), n == 1 ? "it" : "them");
	buf_free(&list);
}

static void
firmware_unlink(const char *sha256)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", env->firmware_dir, sha256);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("firmware delete: %s", path);
}

void
api_firmware_delete(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct firmware	 fw;
	int64_t		*jobs = NULL, deleted_at;
	size_t		 n = 0;
	char		 text[160];

	if (firmware_load(c, ar, &fw, &deleted_at) == -1)
		return;
	if (deleted_at > 0) {
		api_error(c, 404, "firmware.not_found", "Firmware %" PRId64
		    " was deleted already.", fw.id);
		goto done;
	}
	if (store_firmware_in_use(env->store, fw.id, &jobs, &n) == -1 ||
	    (n == 0 && store_firmware_delete(env->store, fw.id) == -1)) {
		api_internal(c, "Firmware %" PRId64 " could not be deleted",
		    fw.id);
		goto done;
	}
	if (n > 0) {
		firmware_in_use(c, fw.id, jobs, n);
		goto done;
	}
	firmware_unlink(fw.sha256);
	snprintf(text, sizeof(text), "firmware %" PRId64 " %s (sha256 %s)",
	    fw.id, fw.filename, fw.sha256);
	audit("firmware.deleted", ar->user, c->peer_str, 0, 0, text);
	http_respond(c, 204, NULL, NULL, NULL, 0);
done:
	free(jobs);
	firmware_free(&fw);
}
