/* SPDX-License-Identifier: MIT */
/*
 * admind's GET /admin/lifecycle: the delivery and job states, which of
 * them are ended, and every allowed transition, read from lifecycle.c's
 * tables, so that the web page and scripts take the names from the one
 * place the daemon itself uses.
 */
#include "admind.h"
#include "json.h"

static void
lifecycle_delivery(struct buf *b)
{
	enum delivery_state to;
	int		 n = 0;

	buf_adds(b, "\"delivery\":{\"states\":[");
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		buf_adds(b, s ? "," : "");
		json_str(b, delivery_state_name(s));
	}
	buf_adds(b, "],\"ended\":[");
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		if (!delivery_state_ended(s))
			continue;
		buf_adds(b, n++ ? "," : "");
		json_str(b, delivery_state_name(s));
	}
	buf_adds(b, "],\"transitions\":[");
	n = 0;
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		for (int e = 0; e < DELIVERY_NEVENTS; e++) {
			if (delivery_next(s, e, &to) == -1)
				continue;
			buf_printf(b, "%s{\"from\":\"%s\",\"event\":\"%s\","
			    "\"to\":\"%s\"}", n++ ? "," : "",
			    delivery_state_name(s), delivery_event_name(e),
			    delivery_state_name(to));
		}
	}
	buf_adds(b, "]}");
}

static void
lifecycle_job(struct buf *b)
{
	enum job_state	 to;
	int		 n = 0;

	buf_adds(b, "\"job\":{\"states\":[");
	for (int s = 0; s < JOB_NSTATES; s++) {
		buf_adds(b, s ? "," : "");
		json_str(b, job_state_name(s));
	}
	buf_adds(b, "],\"ended\":[");
	for (int s = 0; s < JOB_NSTATES; s++) {
		if (!job_state_ended(s))
			continue;
		buf_adds(b, n++ ? "," : "");
		json_str(b, job_state_name(s));
	}
	buf_adds(b, "],\"transitions\":[");
	n = 0;
	for (int s = 0; s < JOB_NSTATES; s++) {
		for (int e = 0; e < JOB_NEVENTS; e++) {
			if (job_next(s, e, &to) == -1)
				continue;
			buf_printf(b, "%s{\"from\":\"%s\",\"event\":\"%s\","
			    "\"to\":\"%s\"}", n++ ? "," : "", job_state_name(s),
			    job_event_name(e), job_state_name(to));
		}
	}
	buf_adds(b, "]}");
}

void
api_lifecycle(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct buf	 b = BUF_INIT;

	buf_addc(&b, '{');
	lifecycle_delivery(&b);
	buf_addc(&b, ',');
	lifecycle_job(&b);
	buf_addc(&b, '}');
	api_json(c, 200, &b);
	buf_free(&b);
}
