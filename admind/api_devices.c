/* SPDX-License-Identifier: MIT */
/*
 * admind's device resource, /admin/devices: create (the token generated,
 * or imported for a device already flashed with one; returned once and
 * stored only as its SHA-256), list with filters and paging, get with the
 * delivery history, update name and tags, rotate the token, delete; and
 * the checks of a device's name, token and tags that the bulk import
 * (api_import.c) shares.  Every change is audited: who, what, from where.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define DEVICE_TOKEN_LEN	32
#define DEVICE_MIN_TOKEN	8
#define DEVICE_MAX_TAG		64
#define DEVICE_HISTORY		50	/* deliveries shown by GET of a device */
#define API_DEVICE_ROTATED	"its token was rotated; log in with the new one"
#define API_DEVICE_DELETED	"the device was deleted"

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



/* "hwd_workers":[1,2], the hwd workers holding its connections. */
static void
api_device_workers(struct buf *b, const struct online *o)
{
	struct ctl_conn	*w[WORKERS_MAX];
	unsigned	 n = online_workers(o, WORKERS_MAX, w);

	buf_adds(b, "\"hwd_workers\":[");
	for (unsigned i = 0; i < n; i++)
		buf_printf(b, "%s%u", i ? "," : "", w[i]->worker);
	buf_adds(b, "],");
}

/* The node holding the device into node ("": none): this one, else the
 * one the sessions table names (nodes sharing a database). */
static void
api_device_node(int64_t id, char *node, size_t len)
{
	node[0] = '\0';
	if (online_get(id) != NULL)
		snprintf(node, len, "%s", env->cfg.node);
	else if (cluster_on() &&
	    store_session_node(env->store, id, node, len) != 1)
		node[0] = '\0';
}

int
api_device_online(int64_t id)
{
	char	 node[CFG_NODE_MAX + 1];

	api_device_node(id, node, sizeof(node));
	return node[0] != '\0';
}

/* "online" and "node" (null: offline). */
static void
api_device_where(struct buf *b, int64_t id)
{
	char	 node[CFG_NODE_MAX + 1];

	api_device_node(id, node, sizeof(node));
	buf_printf(b, ",\"online\":%s,\"node\":", *node ? "true" : "false");
	if (*node)
		json_str(b, node);
	else
		buf_adds(b, "null");
	buf_addc(b, ',');
}

static void
api_device_json(struct buf *b, const struct device *d)
{
	struct online	*o = online_get(d->id);

	buf_printf(b, "{\"id\":%" PRId64 ",\"name\":", d->id);
	json_str(b, d->name);
	buf_adds(b, ",\"tags\":");
	api_tags_json(b, d->tags);
	api_device_where(b, d->id);
	buf_printf(b, "\"connections\":%u,", o ? o->conns : 0);
	api_device_workers(b, o);
	json_key(b, "last_seen");
	json_time(b, d->last_seen);
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
	buf_printf(b, ",\"buff_in\":%d,\"h_beat\":%d", d->buff_in, d->h_beat);
	buf_addc(b, ',');
	json_key(b, "created_at");
	json_time(b, d->created_at);
	buf_addc(b, '}');
}

/* The device JSON with the token added (shown this once). */
void
api_device_json_token(struct buf *b, const struct device *d,
    const char *token)
{
	api_device_json(b, d);
	b->len--;
	buf_adds(b, ",\"token\":");
	json_str(b, token);
	buf_addc(b, '}');
}

/* One tag: trimmed, 1 to DEVICE_MAX_TAG printable characters, no comma
 * and no blank inside; appended to out unless already there. */
static int
tag_add(char *out, const char *p, size_t n, struct api_fault *f)
{
	char	 probe[DEVICE_MAX_TAGS + 3], needle[DEVICE_MAX_TAG + 3];

	while (n > 0 && isspace((unsigned char)*p))
		p++, n--;
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return 0;
	if (n > DEVICE_MAX_TAG)
		return api_fault(f, 400, "device.bad_tags", "A tag is %zu "
		    "characters long; tags have at most %d.", n,
		    DEVICE_MAX_TAG);
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)p[i]) || p[i] == ',')
			return api_fault(f, 400, "device.bad_tags", "Tags are "
			    "words without blanks or commas, like \"kitchen\" "
			    "or \"floor-2\"; \"%.*s\" is not one.", (int)n, p);
	snprintf(probe, sizeof(probe), ",%s,", out);
	snprintf(needle, sizeof(needle), ",%.*s,", (int)n, p);
	if (strstr(probe, needle) != NULL)
		return 0;
	if (strlen(out) + n + 1 > DEVICE_MAX_TAGS)
		return api_fault(f, 400, "device.bad_tags",
		    "The tags are longer than %d characters "
		    "together.", DEVICE_MAX_TAGS);
	if (*out)
		strcat(out, ",");
	strncat(out, p, n);
	return 0;
}

/* "a, b,c" into the stored form "a,b,c". */
int
api_device_tags(const char *s, char *out, struct api_fault *f)
{
	const char	*comma;

	*out = '\0';
	while (s && *s) {
		comma = strchr(s, ',');
		if (comma == NULL)
			comma = s + strlen(s);
		if (tag_add(out, s, (size_t)(comma - s), f) == -1)
			return -1;
		s = *comma ? comma + 1 : comma;
	}
	return 0;
}

/* "tags": a string "a,b" or an array of strings. */
static int
tags_from_json(const struct json_value *v, char *out, struct api_fault *f)
{
	*out = '\0';
	if (v->kind == JSON_STRING)
		return api_device_tags(v->str, out, f);
	if (v->kind != JSON_ARRAY)
		return api_fault(f, 400, "device.bad_tags",
		    "\"tags\" must be a list of strings, e.g. [\"kitchen\", "
		    "\"floor-2\"].");
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i].kind != JSON_STRING)
			return api_fault(f, 400, "device.bad_tags",
			    "\"tags\" must be a list of strings, e.g. "
			    "[\"kitchen\"].");
		if (strchr(v->items[i].str, ',') != NULL)
			return api_fault(f, 400, "device.bad_tags", "The tag "
			    "\"%s\" has a comma; give each tag as its own string.",
			    v->items[i].str);
		if (tag_add(out, v->items[i].str, strlen(v->items[i].str),
		    f) == -1)
			return -1;
	}
	return 0;
}

int
api_device_input_name(struct device_input *in, const char *name,
    struct api_fault *f)
{
	size_t	 n = strlen(name);

	if (n == 0)
		return api_fault(f, 400, "device.name_missing",
		    "Give the device a name: {\"name\": \"kitchen\"}.");
	if (n > DEVICE_MAX_NAME)
		return api_fault(f, 400, "device.bad_name", "The name is %zu "
		    "characters long; names have at most %d.", n,
		    DEVICE_MAX_NAME);
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)name[i]))
			return api_fault(f, 400, "device.bad_name",
			    "The name has a control character; use printable "
			    "text.");
	memcpy(in->name, name, n + 1);
	in->has_name = 1;
	return 0;
}

int
api_device_input_token(struct device_input *in, const char *token,
    struct api_fault *f)
{
	size_t	 n = strlen(token);

	if (n < DEVICE_MIN_TOKEN || n > DEVICE_MAX_TOKEN)
		return api_fault(f, 400, "device.bad_token",
		    "An imported token must be %d to %d characters "
		    "long.", DEVICE_MIN_TOKEN,
		    DEVICE_MAX_TOKEN);
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)token[i]))
			return api_fault(f, 400, "device.bad_token",
			    "A token is printable characters without blanks.");
	memcpy(in->token, token, n + 1);
	in->has_token = 1;
	return 0;
}

/* A JSON object's fields into in; only keys in allowed are accepted. */
int
api_device_input_json(struct device_input *in, const struct json_value *v,
    const char *allowed, struct api_fault *f)
{
	const struct json_value *m;

	memset(in, 0, sizeof(*in));
	if (v->kind != JSON_OBJECT)
		return api_fault(f, 400, "request.bad_json",
		    "A device is a JSON object such as {\"name\": "
		    "\"kitchen\"}.");
	for (size_t i = 0; i < v->n; i++) {
		if (!api_name_allowed(allowed, v->keys[i], strlen(v->keys[i])))
			return api_fault(f, 400, "request.unknown_field",
			    "\"%s\" is not a field here; the fields are %.*s.",
			    v->keys[i], (int)strlen(allowed) - 2, allowed + 1);
	}
	if ((m = json_get(v, "name")) != NULL) {
		if (m->kind != JSON_STRING)
			return api_fault(f, 400, "device.bad_name",
			    "\"name\" must be a string.");
		if (api_device_input_name(in, m->str, f) == -1)
			return -1;
	}
	if ((m = json_get(v, "token")) != NULL && m->kind != JSON_NULL) {
		if (m->kind != JSON_STRING)
			return api_fault(f, 400, "device.bad_token",
			    "\"token\" must be a string.");
		if (api_device_input_token(in, m->str, f) == -1)
			return -1;
	}
	if ((m = json_get(v, "tags")) != NULL) {
		if (tags_from_json(m, in->tags, f) == -1)
			return -1;
		in->has_tags = 1;
	}
	return 0;
}

/* The request body as JSON, or 400 and NULL.  An empty body may be
 * allowed (it reads as {}). */
static struct json_value *
api_body_json(struct http_conn *c, struct api_req *ar, int empty_ok)
{
	struct json_value *v;
	char		 err[200];

	if (ar->body.len == 0 && empty_ok)
		return json_parse("{}", 2, err, sizeof(err));
	if ((v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len,
	    err, sizeof(err))) == NULL)
		api_error(c, 400, "request.bad_json", "The body is not JSON: "
		    "%s. Send for example {\"name\": \"kitchen\"} with "
		    "-H 'Content-Type: application/json'.", err);
	return v;
}

/* Creates the device of in (a token generated when none was given):
 * 0 with the row in dev, or -1 with the fault. */
int
api_device_create(struct device_input *in, struct device *dev,
    struct api_fault *f)
{
	char	 hash[65];
	int64_t	 id;
	int	 rc;

	if (!in->has_name)
		return api_fault(f, 400, "device.name_missing",
		    "Give the device a name: {\"name\": \"kitchen\"}.");
	if (!in->has_token &&
	    util_random_token(in->token, DEVICE_TOKEN_LEN) == -1)
		return api_fault_internal(f, "No random token could be made");
	util_sha256_hex(in->token, hash);
	rc = store_device_create(env->store, in->name, hash, in->tags, &id);
	if (rc == -2)
		return api_fault(f, 409, "device.token_exists",
		    "Another device already has this token. Tokens identify "
		    "devices: give "
		    "each device its own.");
	if (rc != 0 || store_device_get(env->store, id, dev) != 1)
		return api_fault_internal(f, "The device could not be saved");
	return 0;
}

static void
api_respond_location(struct http_conn *c, int status, const char *path,
    int64_t id, struct buf *b)
{
	char	 loc[96];

	snprintf(loc, sizeof(loc), "Location: %s/%" PRId64 "\r\n", path, id);
	buf_addc(b, '\n');
	http_respond(c, status, "application/json", loc, b->data, b->len);
}

void
api_devices_create(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device_input in;
	struct api_fault f;
	struct json_value *v;
	struct device	 dev;
	struct buf	 b = BUF_INIT;
	int		 rc;

	if ((v = api_body_json(c, ar, 0)) == NULL)
		return;
	rc = api_device_input_json(&in, v, ",name,token,tags,", &f);
	json_free(v);
	if (rc == -1 || api_device_create(&in, &dev, &f) == -1) {
		api_fault_answer(c, &f);
		return;
	}
	audit("device.created", ar->user, c->peer_str, dev.id, 0, in.name);
	sched_device_created(dev.id);
	api_device_json_token(&b, &dev, in.token);
	api_respond_location(c, 201, "/admin/devices", dev.id, &b);
	OPENSSL_cleanse(in.token, sizeof(in.token));
	device_free(&dev);
	buf_free(&b);
}

/* Devices of the list, after the online filter and paging done here;
 * "next" is the cursor of the following page when this one is full, and
 * a cursor page (?after=) has no total (total -1). */
static void
list_json(struct buf *b, struct device *devs, size_t n, int online,
    const struct device_page *pg, int64_t total)
{
	int64_t	 seen = 0, shown = 0, last = 0;

	buf_adds(b, "{\"devices\":[");
	for (size_t i = 0; i < n; i++) {
		if (online >= 0 &&
		    (online_get(devs[i].id) != NULL) != online)
			continue;
		if (online >= 0 && (seen++ < pg->offset ||
		    (pg->limit >= 0 && shown >= pg->limit)))
			continue;
		if (shown++)
			buf_addc(b, ',');
		api_device_json(b, &devs[i]);
		last = devs[i].id;
	}
	if (online >= 0 && total >= 0)
		total = seen;
	buf_adds(b, "],\"total\":");
	if (total >= 0)
		buf_printf(b, "%" PRId64, total);
	else
		buf_adds(b, "null");
	buf_printf(b, ",\"offset\":%" PRId64 ",\"limit\":", pg->offset);
	if (pg->limit >= 0)
		buf_printf(b, "%" PRId64, pg->limit);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\"next\":");
	if (pg->limit > 0 && shown == pg->limit)
		buf_printf(b, "%" PRId64 "}", last);
	else
		buf_adds(b, "null}");
}

/* ?after=ID: the page starts after that device; 0 absent, -1 refused
 * (answered). */
static int
list_after(struct http_conn *c, struct http_request *req, int64_t *after)
{
	char		*s = api_query(req, "after");
	uint64_t	 v = 0;

	*after = 0;
	if (s == NULL)
		return 0;
	if (util_parse_u64(s, &v) == -1 || v > INT64_MAX) {
		api_error(c, 400, "request.bad_paging", "?after=%s is not a "
		    "device id; page on with the \"next\" of the page "
		    "before.", s);
		free(s);
		return -1;
	}
	free(s);
	*after = (int64_t)v;
	return 1;
}

/* ?online=true|false: 1, 0; -1 absent; -2 refused (answered). */
static int
list_online(struct http_conn *c, struct http_request *req)
{
	char	*s = api_query(req, "online");
	int	 v = -1;

	if (s == NULL)
		return -1;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		v = 0;
	else
		api_error(c, 400, "request.bad_filter", "?online= takes true "
		    "or false, not \"%s\".", s);
	free(s);
	return v == -1 ? -2 : v;
}

void
api_devices_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device_filter f;
	struct device_page pg, want;
	struct device	*devs = NULL;
	struct buf	 b = BUF_INIT;
	char		*tag, *fw, *board, *text;
	size_t		 n = 0;
	int64_t		 total = -1;
	int		 online, rc, cursor;

	if (api_paging(c, req, &pg.limit, &pg.offset) == -1 ||
	    (cursor = list_after(c, req, &pg.after)) == -1 ||
	    (online = list_online(c, req)) == -2)
		return;
	tag = api_query(req, "tag");
	fw = api_query(req, "fw_version");
	board = api_query(req, "board");
	text = api_query(req, "q");
	f.tag = tag ? tag : "";
	f.fw_version = fw ? fw : "";
	f.board = board ? board : "";
	f.text = text ? text : "";
	/* The online state lives in memory: filter and page it here. */
	want = pg;
	if (online >= 0) {
		want.limit = -1;
		want.offset = 0;
	}
	rc = store_device_search(env->store, &f, &want, &devs, &n,
	    cursor ? NULL : &total);
	free(tag);
	free(fw);
	free(board);
	free(text);
	if (rc == -1) {
		api_internal(c, "The database could not be read");
		return;
	}
	list_json(&b, devs, n, online, &pg, total);
	api_json(c, 200, &b);
	buf_free(&b);
	device_list_free(devs, n);
}

/* The device of the route's {id}, or 404 and -1. */
static int
api_device_load(struct http_conn *c, struct api_req *ar, struct device *dev)
{
	int	 found = store_device_get(env->store, ar->id, dev);

	if (found == 1)
		return 0;
	if (found == 0)
		api_error(c, 404, "device.not_found", "There is no device %"
		    PRId64 "; GET /admin/devices lists them.", ar->id);
	else
		api_internal(c, "The database could not be read");
	return -1;
}

static void
history_json(struct buf *b, const struct device_delivery *h, size_t n)
{
	const struct delivery *d;

	buf_adds(b, "[");
	for (size_t i = 0; i < n; i++) {
		d = &h[i].delivery;
		buf_printf(b, "%s{\"id\":%" PRId64 ",\"job_id\":%" PRId64
		    ",\"firmware_id\":%" PRId64 ",\"fw_version\":",
		    i ? "," : "", d->id, d->job_id, h[i].firmware_id);
		json_str(b, h[i].fw_version);
		buf_adds(b, ",\"filename\":");
		json_str(b, h[i].fw_filename);
		buf_adds(b, ",\"state\":");
		json_str(b, delivery_state_name(d->state));
		buf_printf(b, ",\"attempts\":%d,\"bytes_sent\":%" PRIu64 ",",
		    d->attempts, d->bytes_sent);
		json_key(b, "created_at");
		json_time(b, d->created_at);
		buf_addc(b, ',');
		json_key(b, "updated_at");
		json_time(b, d->updated_at);
		buf_adds(b, ",\"last_error\":");
		json_str(b, d->last_error);
		buf_adds(b, ",\"next_at\":");
		json_time(b, d->next_at);
		buf_printf(b, ",\"consented\":%s}", d->consented ? "true" :
		    "false");
	}
	buf_adds(b, "]");
}

void
api_device_get(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device	 dev;
	struct device_delivery *h = NULL;
	struct online	*o;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0;

	if (api_device_load(c, ar, &dev) == -1)
		return;
	if (store_device_history(env->store, dev.id, DEVICE_HISTORY, &h,
	    &n) == -1) {
		device_free(&dev);
		api_internal(c, "The database could not be read");
		return;
	}
	api_device_json(&b, &dev);
	b.len--;
	o = online_get(dev.id);
	buf_adds(&b, ",\"address\":");
	if (o != NULL)
		json_str(&b, o->remote);
	else
		buf_adds(&b, "null");
	buf_adds(&b, ",\"deliveries\":");
	history_json(&b, h, n);
	buf_addc(&b, '}');
	api_json(c, 200, &b);
	buf_free(&b);
	device_history_free(h, n);
	device_free(&dev);
}

void
api_device_update(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device_input in;
	struct api_fault f;
	struct json_value *v;
	struct device	 dev;
	struct buf	 b = BUF_INIT;
	char		 text[400];
	int		 rc;

	if ((v = api_body_json(c, ar, 0)) == NULL)
		return;
	rc = api_device_input_json(&in, v, ",name,tags,", &f);
	json_free(v);
	if (rc == 0 && !in.has_name && !in.has_tags)
		rc = api_fault(&f, 400, "device.nothing_to_change",
		    "Give a new \"name\" or \"tags\", e.g. {\"tags\": "
		    "[\"kitchen\"]}. To "
		    "change the token, POST /admin/devices/%" PRId64 "/token.",
		    ar->id);
	if (rc == -1) {
		api_fault_answer(c, &f);
		return;
	}
	rc = store_device_update(env->store, ar->id, in.has_name ? in.name :
	    NULL, in.has_tags ? in.tags : NULL);
	if (rc != 1) {
		if (rc == 0)
			api_error(c, 404, "device.not_found", "There is no "
			    "device %" PRId64 ".", ar->id);
		else
			api_internal(c, "The device could not be saved");
		return;
	}
	if (api_device_load(c, ar, &dev) == -1)
		return;
	snprintf(text, sizeof(text), "name \"%s\", tags \"%s\"", dev.name,
	    dev.tags);
	audit("device.updated", ar->user, c->peer_str, dev.id, 0, text);
	api_device_json(&b, &dev);
	api_json(c, 200, &b);
	buf_free(&b);
	device_free(&dev);
}

void
api_device_token(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device_input in;
	struct api_fault f;
	struct json_value *v;
	struct device	 dev;
	struct buf	 b = BUF_INIT;
	char		 hash[65];
	int		 rc;

	if ((v = api_body_json(c, ar, 1)) == NULL)
		return;
	rc = api_device_input_json(&in, v, ",token,", &f);
	json_free(v);
	if (rc == -1) {
		api_fault_answer(c, &f);
		return;
	}
	if (!in.has_token)
		util_random_token(in.token, DEVICE_TOKEN_LEN);
	util_sha256_hex(in.token, hash);
	rc = store_device_set_token(env->store, ar->id, hash);
	if (rc != 1) {
		if (rc == 0)
			api_error(c, 404, "device.not_found", "There is no "
			    "device %" PRId64 ".", ar->id);
		else if (rc == -2)
			api_error(c, 409, "device.token_exists", "Another "
			    "device already has this token.");
		else
			api_internal(c, "The token could not be saved");
		return;
	}
	if (api_device_load(c, ar, &dev) == -1)
		return;
	audit("device.token_rotated", ar->user, c->peer_str, dev.id, 0,
	    in.has_token ? "imported token" : "generated token");
	peers_send_drop(dev.id, 0, API_DEVICE_ROTATED);
	cluster_drop(dev.id, 0, API_DEVICE_ROTATED);
	api_device_json_token(&b, &dev, in.token);
	api_json(c, 200, &b);
	OPENSSL_cleanse(in.token, sizeof(in.token));
	buf_free(&b);
	device_free(&dev);
}

void
api_device_delete(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct device	 dev;
	int		 rc;

	if (api_device_load(c, ar, &dev) == -1)
		return;
	if ((rc = delivery_device_delete(dev.id)) != 1) {
		api_internal(c, "Device %" PRId64 " could not be deleted",
		    dev.id);
		device_free(&dev);
		return;
	}
	(void)audit("device.deleted", ar->user, c->peer_str, dev.id, 0,
	    dev.name);
	peers_send_drop(dev.id, 1, API_DEVICE_DELETED);
	cluster_drop(dev.id, 1, API_DEVICE_DELETED);
	http_respond(c, 204, NULL, NULL, NULL, 0);
	device_free(&dev);
}
