/* SPDX-License-Identifier: MIT */
/*
 * GET /admin/audit: the audit log, newest first, paged, narrowed by
 * ?actor= (who: an admin, "token:NAME" or "otad"), ?kind= (a kind such as
 * device.deleted, or its family ending in a dot: device.) and ?since= /
 * ?until= (RFC 3339 times, inclusive), ?device= (one device's rows: what
 * admins did to it, its deliveries' moves, the events it reported).  The
 * rows are audit()'s, the lifecycle's and devevents.c's.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "window.h"

#define AUDIT_PAGE_MAX	500
#define AUDIT_PAGE	50

static void
audit_row_json(struct buf *b, const struct audit_event *e)
{
	buf_printf(b, "{\"id\":%" PRId64 ",", e->id);
	json_key(b, "at");
	json_time(b, e->at);
	buf_adds(b, ",\"kind\":");
	json_str(b, e->kind);
	buf_adds(b, ",\"actor\":");
	json_str(b, e->actor);
	buf_adds(b, ",\"remote\":");
	json_str(b, e->remote);
	buf_printf(b, ",\"device_id\":%" PRId64 ",\"job_id\":%" PRId64
	    ",\"text\":", e->device_id, e->job_id);
	json_str(b, e->text);
	buf_addc(b, '}');
}

/* ?name= as a time into *t (0 when absent); -1 after answering 400. */
static int
audit_time(struct http_conn *c, struct http_request *req, const char *name,
    int64_t *t)
{
	char	*s = api_query(req, name);
	int	 rc = 0;

	*t = 0;
	if (s != NULL && window_rfc3339(s, t) == -1) {
		api_error(c, 400, "audit.bad_time", "?%s=%s is not a time; "
		    "give one as 2026-12-03T00:00:00Z or with an offset "
		    "(+05:30).", name, s);
		rc = -1;
	}
	free(s);
	return rc;
}

void
api_audit_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct audit_filter f;
	struct audit_event *ev = NULL;
	struct buf	 b = BUF_INIT;
	char		*actor, *kind;
	int64_t		 limit, offset, total = 0;
	size_t		 n = 0;
	int		 rc;

	(void)ar;
	if (api_paging(c, req, &limit, &offset) == -1 ||
	    audit_time(c, req, "since", &f.since) == -1 ||
	    audit_time(c, req, "until", &f.until) == -1)
		return;
	if (api_query_id(c, req, "device", &f.device_id) == -1)
		return;
	if (limit < 0)
		limit = AUDIT_PAGE;
	if (limit > AUDIT_PAGE_MAX)
		limit = AUDIT_PAGE_MAX;
	actor = api_query(req, "actor");
	kind = api_query(req, "kind");
	f.actor = actor ? actor : "";
	f.kind = kind ? kind : "";
	rc = store_events_list(env->store, &f, limit, offset, &ev, &n, &total);
	free(actor);
	free(kind);
	if (rc == -1) {
		api_internal(c, "The audit log could not be read");
		return;
	}
	buf_adds(&b, "{\"events\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		audit_row_json(&b, &ev[i]);
	}
	buf_printf(&b, "],\"total\":%" PRId64 ",\"limit\":%" PRId64
	    ",\"offset\":%" PRId64 "}", total, limit, offset);
	api_json(c, 200, &b);
	buf_free(&b);
	audit_event_list_free(ev, n);
}
