/* SPDX-License-Identifier: MIT */
/*
 * admind's device resource: POST /admin/devices creates a device (its
 * token generated, or imported for a device already flashed with one;
 * returned once and stored only as its SHA-256) and GET /admin/devices
 * lists devices with their hardware info and online state.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define DEVICE_TOKEN_LEN	32
#define DEVICE_MAX_NAME		128
#define DEVICE_MAX_TOKEN	128

static void
api_tags_json(struct buf *b, const char *tags)
{
	const char	*p = tags, *comma;
	int		 first = 1;

	buf_addc(b, '[');
	while (p && *p) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma > p) {
			if (!first)
				buf_addc(b, ',');
			json_strn(b, p, (size_t)(comma - p));
			first = 0;
		}
		p = *comma ? comma + 1 : comma;
	}
	buf_addc(b, ']');
}

void
api_device_json(struct buf *b, const struct device *d)
{
	struct online	*o = online_get(d->id);
	char		 when[21];

	buf_printf(b, "{\"id\":%" PRId64 ",\"name\":", d->id);
	json_str(b, d->name);
	buf_adds(b, ",\"tags\":");
	api_tags_json(b, d->tags);
	buf_printf(b, ",\"online\":%s,\"connections\":%u,\"last_seen\":",
	    o ? "true" : "false", o ? o->conns : 0);
	if (d->last_seen) {
		util_iso8601((time_t)d->last_seen, when);
		json_str(b, when);
	} else {
		buf_adds(b, "null");
	}
	buf_adds(b, ",\"last_addr\":");
	json_str(b, d->last_addr);
	buf_adds(b, ",\"fw_version\":");
	json_str(b, d->fw_version);
	buf_adds(b, ",\"build\":");
	json_str(b, d->build);
	buf_adds(b, ",\"fw_type\":");
	json_str(b, d->fw_type);
	buf_adds(b, ",\"board\":");
	json_str(b, d->board);
	buf_adds(b, ",\"lib_version\":");
	json_str(b, d->lib_version);
	buf_addc(b, '}');
}

/* Checks the request's JSON; fills name, token (generated when absent)
 * and tags, or answers 400 and returns -1. */
static int
api_device_input(struct http_conn *c, struct api_req *ar, char *name,
    char *token, char *tags)
{
	struct json_value *v;
	const char	*s;
	char		 err[200];

	if ((v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len,
	    err, sizeof(err))) == NULL || v->kind != JSON_OBJECT) {
		api_error(c, 400, "request.bad_json", "The body must be a JSON "
		    "object such as {\"name\": \"kitchen\"}%s%s.", v ? "" : ": ",
		    v ? "" : err);
		json_free(v);
		return -1;
	}
	s = json_get_str(v, "name");
	snprintf(name, DEVICE_MAX_NAME + 1, "%s", s ? s : "");
	s = json_get_str(v, "tags");
	snprintf(tags, 256, "%s", s ? s : "");
	s = json_get_str(v, "token");
	if (s && (strlen(s) < 8 || strlen(s) > DEVICE_MAX_TOKEN)) {
		json_free(v);
		api_error(c, 400, "device.bad_token", "An imported token must "
		    "be 8 to %d characters long.", DEVICE_MAX_TOKEN);
		return -1;
	}
	if (s)
		snprintf(token, DEVICE_MAX_TOKEN + 1, "%s", s);
	else
		util_random_token(token, DEVICE_TOKEN_LEN);
	json_free(v);
	if (*name == '\0') {
		api_error(c, 400, "device.name_missing", "Give the device a "
		    "name: {\"name\": \"kitchen\"}.");
		return -1;
	}
	return 0;
}

void
api_devices_create(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	char		 name[DEVICE_MAX_NAME + 1], token[DEVICE_MAX_TOKEN + 1];
	char		 tags[256], hash[65];
	struct device	 dev;
	struct buf	 b = BUF_INIT;
	int64_t		 id;
	int		 rc;

	if (api_device_input(c, ar, name, token, tags) == -1)
		return;
	util_sha256_hex(token, hash);
	rc = store_device_create(env->store, name, hash, tags, &id);
	if (rc == -2) {
		api_error(c, 409, "device.token_exists", "Another device "
		    "already has this token. Tokens identify devices: give "
		    "each device its own.");
		return;
	}
	if (rc == -1 || store_device_get(env->store, id, &dev) != 1) {
		api_error(c, 500, "internal", "The device could not be saved; "
		    "see the log of otad-admind.");
		return;
	}
	store_event(env->store, "device.created", ar->user, c->peer_str, id,
	    0, name);
	log_info("%s from %s created device %" PRId64 " (%s)", ar->user,
	    c->peer_str, id, name);
	sched_device_created(id);
	api_device_json(&b, &dev);
	b.len--;	/* reopen the object to add the token, shown once */
	buf_adds(&b, ",\"token\":");
	json_str(&b, token);
	buf_addc(&b, '}');
	buf_addc(&b, '\n');
	{
		char loc[64];

		snprintf(loc, sizeof(loc), "Location: /admin/devices/%" PRId64
		    "\r\n", id);
		http_respond(c, 201, "application/json", loc, b.data, b.len);
	}
	device_free(&dev);
	buf_free(&b);
}

void
api_devices_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device	*devs = NULL;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0;
	int64_t		 total = 0, limit = -1, offset = 0;
	uint64_t	 v;
	char		*s;

	if ((s = api_query(req, "limit")) != NULL) {
		if (util_parse_u64(s, &v) == 0)
			limit = (int64_t)v;
		free(s);
	}
	if ((s = api_query(req, "offset")) != NULL) {
		if (util_parse_u64(s, &v) == 0)
			offset = (int64_t)v;
		free(s);
	}
	if (store_device_list(env->store, limit, offset, &devs, &n,
	    &total) == -1) {
		api_error(c, 500, "internal", "The database could not be read; "
		    "see the log of otad-admind.");
		return;
	}
	buf_adds(&b, "{\"devices\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		api_device_json(&b, &devs[i]);
	}
	buf_printf(&b, "],\"total\":%" PRId64 "}", total);
	api_json(c, 200, &b);
	buf_free(&b);
	device_list_free(devs, n);
}
