/* SPDX-License-Identifier: MIT */
/*
 * admind's answer for a device whose update waits for a yes: POST
 * /admin/jobs/{id}/deliveries/{device}/confirm (an awaiting-consent
 * delivery is sent as soon as the scheduler allows) and .../decline (a
 * queued, scheduled or awaiting-consent one ends declined), each with an
 * optional {"reason": "..."} and an audit event naming the admin.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"

#define API_CONSENT_MAX_REASON	200

/* The optional "reason" of the body into reason; -1 after answering 400. */
static int
api_consent_reason(struct http_conn *c, struct api_req *ar, char *reason,
    size_t len)
{
	struct json_value *v;
	const char	*r;
	char		 err[200];
	int		 rc = -1;

	*reason = '\0';
	if (ar->body.len == 0)
		return 0;
	if ((v = json_parse(ar->body.data, ar->body.len, err,
	    sizeof(err))) == NULL || v->kind != JSON_OBJECT) {
		api_error(c, 400, "request.bad_json", "The body must be a JSON "
		    "object such as {\"reason\": \"after the harvest\"}, or "
		    "empty%s%s.", v ? "" : ": ", v ? "" : err);
	} else if (v->n > (json_get(v, "reason") ? 1u : 0u)) {
		api_error(c, 400, "request.unknown_field", "The body takes "
		    "only \"reason\".");
	} else if (json_get(v, "reason") != NULL &&
	    ((r = json_get_str(v, "reason")) == NULL ||
	    strlen(r) > API_CONSENT_MAX_REASON)) {
		api_error(c, 400, "request.bad_field", "\"reason\" is a text "
		    "of at most %d bytes.", API_CONSENT_MAX_REASON);
	} else {
		if ((r = json_get_str(v, "reason")) != NULL)
			snprintf(reason, len, "%s", r);
		rc = 0;
	}
	json_free(v);
	return rc;
}

/* The job's delivery for the route's device; -1 after answering 404. */
static int
api_consent_delivery(struct http_conn *c, struct api_req *ar,
    struct delivery *d)
{
	struct job	 job;
	int		 found;

	if (api_job_load(c, ar->id, &job) == -1)
		return -1;
	job_free(&job);
	if ((found = store_delivery_of(env->store, ar->id, ar->id2, d)) == 1)
		return 0;
	if (found == -1)
		api_internal(c, "The database could not be read");
	else
		api_error(c, 404, "delivery.not_found", "Job %" PRId64 " has no "
		    "delivery for device %" PRId64 "; GET /admin/jobs/%" PRId64
		    "/deliveries lists them.", ar->id, ar->id2, ar->id);
	return -1;
}

/* The delivery as it is now, 200. */
static void
api_consent_view(struct http_conn *c, int64_t id)
{
	struct delivery	 d;
	struct buf	 b = BUF_INIT;

	if (store_delivery_get(env->store, id, &d) != 1) {
		api_internal(c, "The delivery could not be read back");
		return;
	}
	api_delivery_json(&b, &d, 0);
	api_json(c, 200, &b);
	buf_free(&b);
	delivery_free(&d);
}

/* The states the table lets ev leave, as "an awaiting-consent" or "a
 * queued, scheduled or awaiting-consent". */
static void
api_consent_states(enum delivery_event ev, char *out, size_t len)
{
	enum delivery_state s, to;
	const char	*name[DELIVERY_NSTATES];
	size_t		 n = 0, at;

	for (s = 0; s < DELIVERY_NSTATES; s++)
		if (delivery_next(s, ev, &to) == 0)
			name[n++] = delivery_state_name(s);
	at = (size_t)snprintf(out, len, "%s", n > 0 &&
	    strchr("aeiou", name[0][0]) != NULL ? "an" : "a");
	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%s",
		    i == 0 ? " " : i + 1 == n ? " or " : ", ", name[i]);
}

static void
api_consent(struct http_conn *c, struct api_req *ar, enum delivery_event ev)
{
	struct delivery	 d;
	enum delivery_state to;
	char		 reason[API_CONSENT_MAX_REASON + 1], from[120];

	if (api_consent_reason(c, ar, reason, sizeof(reason)) == -1 ||
	    api_consent_delivery(c, ar, &d) == -1)
		return;
	if (delivery_next(d.state, ev, &to) == -1) {
		api_consent_states(ev, from, sizeof(from));
		api_error(c, 409, "delivery.state", "The delivery of job %"
		    PRId64 " to device %" PRId64 " is %s; only %s one can be "
		    "%s.", d.job_id, d.device_id, delivery_state_name(d.state),
		    from, ev == DELIVERY_ACCEPT ? "confirmed" : "declined");
	}
	else if (consent_admin(&d, ev, ar->user, c->peer_str, reason) == -1)
		api_internal(c, "The delivery could not be %s",
		    ev == DELIVERY_ACCEPT ? "confirmed" : "declined");
	else {
		if (ev == DELIVERY_ACCEPT)
			sched_device_decide(d.device_id);
		api_consent_view(c, d.id);
	}
	delivery_free(&d);
}

void
api_consent_confirm(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	api_consent(c, ar, DELIVERY_ACCEPT);
}

void
api_consent_decline(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	api_consent(c, ar, DELIVERY_DECLINE);
}
