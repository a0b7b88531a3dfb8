/* SPDX-License-Identifier: MIT */
/*
 * admind's GET /admin/lifecycle: the delivery and job states, which of
 * them are ended (and, for deliveries, which are in flight: sent to the
 * device and not ended), and every allowed transition, read from lifecycle.c's
 * tables, so that the web page and scripts take the names from the one
 * place the daemon itself uses.
 */
#include "admind.h"
#include "json.h"

/* "key":{"states":[...],"ended":[...],"transitions":[...]} */
static void
lifecycle_json(struct buf *b, const char *key,
    const struct lifecycle_machine *m)
{
	int	 n = 0;

	buf_printf(b, "\"%s\":{\"states\":[", key);
	for (int s = 0; s < m->nstates; s++) {
		buf_adds(b, s ? "," : "");
		json_str(b, lifecycle_state(m, s));
	}
	buf_adds(b, "],\"ended\":[");
	for (int s = 0; s < m->nstates; s++) {
		if (!lifecycle_ended(m, s))
			continue;
		buf_adds(b, n++ ? "," : "");
		json_str(b, lifecycle_state(m, s));
	}
	buf_adds(b, "],\"transitions\":[");
	for (size_t i = 0; i < m->nmoves; i++)
		buf_printf(b, "%s{\"from\":\"%s\",\"event\":\"%s\","
		    "\"to\":\"%s\"}", i ? "," : "",
		    lifecycle_state(m, m->moves[i].from),
		    lifecycle_event(m, m->moves[i].event),
		    lifecycle_state(m, m->moves[i].to));
	buf_adds(b, "]}");
}

/* ,"in_flight":[...] inside the delivery object. */
static void
lifecycle_in_flight(struct buf *b)
{
	int	 n = 0;

	b->len--;
	buf_adds(b, ",\"in_flight\":[");
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		if (!delivery_state_in_flight(s))
			continue;
		buf_adds(b, n++ ? "," : "");
		json_str(b, delivery_state_name(s));
	}
	buf_adds(b, "]}");
}

void
api_lifecycle(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct buf	 b = BUF_INIT;

	buf_addc(&b, '{');
	lifecycle_json(&b, "delivery", &delivery_machine);
	lifecycle_in_flight(&b);
	buf_addc(&b, ',');
	lifecycle_json(&b, "job", &job_machine);
	buf_addc(&b, '}');
	api_json(c, 200, &b);
	buf_free(&b);
}
