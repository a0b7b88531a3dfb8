/* SPDX-License-Identifier: MIT */
/*
 * admind's HTTP router: every request passes the IP allow-list and the
 * login (auth.c) before anything else (so a refused upload is never read
 * or stored), then goes to its resource's handler through the route table.
 * GET /admin/health and GET /metrics are answered here, before the login;
 * the routes marked open (the web page's files and its sign-in, which
 * hold nothing of the fleet) need the allow-list only.
 */
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define API_MAX_JSON_BODY	(1024 * 1024)
#define API_MAX_OPEN_BODY	4096	/* a route without login: the sign-in */

static void
api_req_free(struct api_req *ar)
{
	if (ar == NULL)
		return;
	if (ar->upload)
		upload_free(ar->upload);
	if (ar->sse)
		events_unsubscribe(ar->sse);
	buf_free(&ar->body);
	free(ar);
}

static void
api_health(struct http_conn *c)
{
	struct buf	 b = BUF_INIT;

	buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\","
	    "\"hwd_connected\":%s,\"fwstore_connected\":%s,"
	    "\"hwd_workers\":%u,\"fwstore_workers\":%u,"
	    "\"devices_online\":%zu,\"database\":\"%s\",\"node\":",
	    OTAD_VERSION, env->nhwd ? "true" : "false",
	    env->nfwstore ? "true" : "false", env->nhwd, env->nfwstore,
	    env->nonline, cluster_on() ? "postgresql" : "sqlite");
	json_str(&b, env->cfg.node);
	buf_printf(&b, ",\"scheduler\":%s,\"database_reachable\":%s}",
	    cluster_leader() ? "true" : "false",
	    store_unreachable(env->store) ? "false" : "true");
	api_json(c, 200, &b);
	buf_free(&b);
}

/*
 * The routes.  A pattern segment "{id}" matches a decimal id, passed to
 * the handler in ar->id; "{device}" likewise in ar->id2.  BODY_NONE handlers answer at once; BODY_JSON
 * handlers get the body (at most API_MAX_JSON_BODY) in ar->body when it
 * is complete; BODY_STREAM handlers set up ar->upload themselves.  A
 * trailing "*" matches any non-empty rest of the path.
 */
enum api_body { BODY_NONE, BODY_JSON, BODY_STREAM };

struct api_route {
	const char	*method;
	const char	*pattern;
	enum api_body	 body;
	void		(*handler)(struct http_conn *, struct http_request *,
			    struct api_req *);
	const char	*query;		/* ",a,b,": the query parameters it
					 * takes; NULL: none; "*": any */
	int		 open;		/* 1: no login needed */
};

#define API_Q_PAGING	"limit,offset,"

static const struct api_route api_routes[] = {
	/* user and project: the legacy server's, taken and ignored (otad
	 * has one fleet; ?tag= narrows it) */
	{ "POST", "/admin/ota/start", BODY_STREAM, api_ota_start_request,
	    ",token,tag,force,user,project,start_at,window_start,window_end,"
	    "window_timezone,window_days,confirm,", 0 },
	{ "GET", "/admin/ota/stop", BODY_NONE, api_ota_stop, NULL, 0 },
	{ "POST", "/admin/ota/stop", BODY_JSON, api_ota_stop, NULL, 0 },
	{ "GET", "/admin/devices", BODY_NONE, api_devices_list,
	    "," API_Q_PAGING "after,online,tag,fw_version,board,q,", 0 },
	{ "POST", "/admin/devices", BODY_JSON, api_devices_create, NULL, 0 },
	{ "GET", "/admin/events", BODY_NONE, events_subscribe,
	    ",job,device,", 0 },
	{ "POST", "/admin/jobs", BODY_JSON, api_jobs_create, NULL, 0 },
	{ "GET", "/admin/lifecycle", BODY_NONE, api_lifecycle, NULL, 0 },
	{ "GET", "/admin/jobs", BODY_NONE, api_jobs_list,
	    ",state," API_Q_PAGING, 0 },
	{ "GET", "/admin/jobs/{id}", BODY_NONE, api_jobs_get, NULL, 0 },
	{ "GET", "/admin/jobs/{id}/deliveries", BODY_NONE, api_jobs_deliveries,
	    ",state,device,", 0 },
	{ "POST", "/admin/jobs/{id}/stop", BODY_JSON, api_jobs_stop, NULL, 0 },
	{ "POST", "/admin/jobs/{id}/pause", BODY_JSON, api_jobs_pause, NULL, 0 },
	{ "POST", "/admin/jobs/{id}/resume", BODY_JSON, api_jobs_resume, NULL, 0 },
	{ "POST", "/admin/jobs/{id}/deliveries/{device}/confirm", BODY_JSON,
	    api_consent_confirm, NULL, 0 },
	{ "POST", "/admin/jobs/{id}/deliveries/{device}/decline", BODY_JSON,
	    api_consent_decline, NULL, 0 },
	{ "POST", "/admin/devices/import", BODY_JSON, api_import, NULL, 0 },
	{ "GET", "/admin/devices/{id}", BODY_NONE, api_device_get, NULL, 0 },
	{ "PATCH", "/admin/devices/{id}", BODY_JSON, api_device_update, NULL, 0 },
	{ "DELETE", "/admin/devices/{id}", BODY_NONE, api_device_delete, NULL, 0 },
	{ "POST", "/admin/devices/{id}/token", BODY_JSON, api_device_token,
	    NULL, 0 },
	{ "POST", "/admin/firmware", BODY_STREAM, api_firmware_upload,
	    ",force,", 0 },
	{ "GET", "/admin/firmware", BODY_NONE, api_firmware_list,
	    "," API_Q_PAGING "format,board,", 0 },
	{ "GET", "/admin/firmware/{id}", BODY_NONE, api_firmware_get, NULL, 0 },
	{ "DELETE", "/admin/firmware/{id}", BODY_NONE, api_firmware_delete,
	    NULL, 0 },
	{ "POST", "/admin/tokens", BODY_JSON, api_tokens_create, NULL, 0 },
	{ "GET", "/admin/tokens", BODY_NONE, api_tokens_list, NULL, 0 },
	{ "DELETE", "/admin/tokens/{id}", BODY_NONE, api_tokens_delete, NULL, 0 },
	{ "GET", "/admin/audit", BODY_NONE, api_audit_list,
	    "," API_Q_PAGING "actor,kind,since,until,device,", 0 },
	{ "GET", "/admin/fleet/versions", BODY_NONE, api_fleet_versions, NULL,
	    0 },
	{ "GET", "/admin/jobs/{id}/progress", BODY_NONE, api_jobs_progress,
	    NULL, 0 },
	{ "GET", "/admin/stats/throughput", BODY_NONE, api_stats_throughput,
	    NULL, 0 },
	{ "POST", "/admin/session", BODY_JSON, api_session_create, NULL, 1 },
	{ "GET", "/admin/session", BODY_NONE, api_session_get, NULL, 0 },
	{ "DELETE", "/admin/session", BODY_NONE, api_session_delete, NULL, 0 },
	{ "GET", "/admin/", BODY_NONE, api_web, "*", 1 },
	{ "GET", "/admin/ui/*", BODY_NONE, api_web, "*", 1 },
	{ "GET", "/admin", BODY_NONE, api_web, "*", 1 },
	{ "GET", "/", BODY_NONE, api_web, "*", 1 },
};

/* The decimal id at the start of path into *id: its length, or 0. */
static size_t
api_match_id(const char *path, int64_t *id)
{
	uint64_t	 v;
	char		 seg[32];
	size_t		 n;

	n = strcspn(path, "/");
	if (n == 0 || n >= sizeof(seg))
		return 0;
	memcpy(seg, path, n);
	seg[n] = '\0';
	if (util_parse_u64(seg, &v) == -1 || v > INT64_MAX)
		return 0;
	*id = (int64_t)v;
	return n;
}

static int
api_match(const char *pattern, const char *path, int64_t *id, int64_t *id2)
{
	size_t		 n;

	while (*pattern && *path) {
		if (strcmp(pattern, "*") == 0)	/* a trailing "*": the rest */
			return 1;
		if (strncmp(pattern, "{id}", 4) == 0) {
			if ((n = api_match_id(path, id)) == 0)
				return 0;
			pattern += 4;
			path += n;
			continue;
		}
		if (strncmp(pattern, "{device}", 8) == 0) {
			if ((n = api_match_id(path, id2)) == 0)
				return 0;
			pattern += 8;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

static const struct api_route *
api_find(const struct http_request *req, struct api_req *ar, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < nitems(api_routes); i++) {
		if (!api_match(api_routes[i].pattern, req->path, &ar->id,
		    &ar->id2))
			continue;
		*path_known = 1;
		if (strcmp(api_routes[i].method, req->method_name) == 0)
			return &api_routes[i];
	}
	return NULL;
}

/* The largest body the route takes: less from who has not logged in. */
static size_t
api_body_max(const struct api_route *r)
{
	return r != NULL && r->open ? API_MAX_OPEN_BODY : API_MAX_JSON_BODY;
}

/* Every query parameter is one the route takes, else 400 and 0: a
 * misspelt filter must not list everything. */
static int
api_query_allowed(struct http_conn *c, const struct http_request *req,
    const struct api_route *r)
{
	const char	*p = req->query;
	struct buf	 names = BUF_INIT;
	size_t		 n = 0, bad;

	for (; p != NULL && *p != '\0'; p += *p == '&') {
		bad = strcspn(p, "&=");
		if (*p != '&' && !api_name_allowed(r->query, p, bad))
			break;
		p += strcspn(p, "&");
	}
	if (p == NULL || *p == '\0')
		return 1;
	for (const char *q = r->query; q && q[0] == ',' && q[1]; q += n + 1) {
		n = strcspn(q + 1, ",");
		buf_printf(&names, "%s?%.*s", names.len ? ", " : "", (int)n,
		    q + 1);
	}
	api_error(c, 400, "request.unknown_parameter", "%s %s takes no "
	    "?%.*s=; %s%s.", req->method_name, req->path,
	    (int)(bad > 40 ? 40 : bad), p, names.len ? "it takes " :
	    "it takes no query parameters", buf_cstr(&names));
	buf_free(&names);
	return 0;
}

static void
api_route(struct http_conn *c, struct http_request *req, struct api_req *ar)
{
	const struct api_route *r;
	int		 known;

	if ((r = api_find(req, ar, &known)) == NULL) {
		if (known)
			api_error(c, 405, "method_not_allowed", "%s is not "
			    "allowed on %s; see the README for the methods "
			    "each resource takes.", req->method_name,
			    req->path);
		else
			api_error(c, 404, "not_found", "There is no %s %s. The "
			    "admin API lives under /admin/ (for example GET "
			    "/admin/devices, POST /admin/ota/start); see the "
			    "README.", req->method_name, req->path);
		return;
	}
	if (!api_query_allowed(c, req, r))
		return;
	ar->route = r;
	switch (r->body) {
	case BODY_NONE:
		r->handler(c, req, ar);
		break;
	case BODY_JSON:
		if (req->has_length && req->content_length > api_body_max(r)) {
			api_error(c, 413, "request.too_large", "The request "
			    "body is over %zu bytes.", api_body_max(r));
			return;
		}
		ar->req = req;
		http_accept_body(c);
		break;
	case BODY_STREAM:
		r->handler(c, req, ar);
		break;
	}
}

/* 1 when the request's route needs no login. */
static int
api_open(const struct http_request *req, struct api_req *ar)
{
	const struct api_route *r;
	int		 known;

	return (r = api_find(req, ar, &known)) != NULL && r->open;
}

static void
api_on_request(struct http_conn *c, struct http_request *req)
{
	struct api_req	*ar;

	api_req_free(c->data);
	c->data = NULL;
	if (!auth_client(c, req) || !auth_ip_allowed(c))
		return;
	if (strcmp(req->method_name, "GET") == 0 &&
	    strcmp(req->path, "/admin/health") == 0) {
		api_health(c);
		return;
	}
	if (strcmp(req->method_name, "GET") == 0 &&
	    strcmp(req->path, "/metrics") == 0) {
		api_metrics(c);		/* like health: allowed_ips only */
		return;
	}
	if ((ar = calloc(1, sizeof(*ar))) == NULL) {
		api_nomem(c);
		return;
	}
	c->data = ar;
	if (!api_open(req, ar) &&
	    auth_check(c, req, ar->user, sizeof(ar->user)) != 1)
		return;
	api_route(c, req, ar);
}

static int
api_on_body(struct http_conn *c, const char *p, size_t n)
{
	struct api_req	*ar = c->data;

	if (ar == NULL || c->responded)
		return 0;
	if (ar->upload) {
		if (upload_feed(ar->upload, p, n) == -1) {
			api_error(c, upload_status(ar->upload),
			    upload_code(ar->upload), "%s",
			    upload_message(ar->upload));
			/* The temporary file goes now, not at close. */
			upload_free(ar->upload);
			ar->upload = NULL;
		}
		return 0;
	}
	if (ar->body.len + n > api_body_max(ar->route)) {
		api_error(c, 413, "request.too_large", "The request body is "
		    "over %zu bytes.", api_body_max(ar->route));
		return 0;
	}
	buf_add(&ar->body, p, n);
	return 0;
}

static void
api_on_complete(struct http_conn *c)
{
	struct api_req	*ar = c->data;

	if (ar == NULL || c->responded || ar->route == NULL)
		return;
	if (ar->route->body == BODY_JSON)
		ar->route->handler(c, ar->req, ar);
	else if (ar->route->body == BODY_STREAM && ar->finish)
		ar->finish(c, ar);
}

static void
api_on_close(struct http_conn *c)
{
	api_req_free(c->data);
	c->data = NULL;
}

const struct http_handler api_router_handler = {
	.on_request = api_on_request,
	.on_body = api_on_body,
	.on_complete = api_on_complete,
	.on_close = api_on_close,
};
