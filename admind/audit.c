/* SPDX-License-Identifier: MIT */
/*
 * audit(), the one call that records an admin action or a notable fact of
 * admind: a row of the events table and the "audit" event (events.c: the
 * webhooks' rows) in the caller's transaction, then, once it commits, a
 * log line with the journal fields and the event on the live stream.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* What the log and the stream hear of an audit event, after the commit. */
struct audit_notice {
	int64_t	 device_id, job_id;
	char	*line;		/* the log line */
	char	*json;		/* the "audit" event */
};

static void
audit_run(void *arg, int committed)
{
	struct audit_notice *a = arg;
	char		 fdev[40], fjob[40];
	const char	*fields[3] = { NULL, NULL, NULL };
	int		 n = 0;

	if (committed) {
		snprintf(fdev, sizeof(fdev), "DEVICE_ID=%" PRId64, a->device_id);
		snprintf(fjob, sizeof(fjob), "JOB_ID=%" PRId64, a->job_id);
		if (a->device_id)
			fields[n++] = fdev;
		if (a->job_id)
			fields[n++] = fjob;
		log_fields(LOG_INFO, fields, "%s", a->line);
	}
	free(a->line);
	free(a->json);
	free(a);
}

static char *
audit_json(const char *kind, const char *actor, const char *remote,
    int64_t device_id, int64_t job_id, const char *text)
{
	struct buf	 b = BUF_INIT;
	char		 when[21], *s;

	util_iso8601(time(NULL), when);
	buf_adds(&b, "{\"kind\":");
	json_str(&b, kind);
	buf_adds(&b, ",\"actor\":");
	json_str(&b, actor);
	buf_adds(&b, ",\"remote\":");
	json_str(&b, remote);
	buf_printf(&b, ",\"device_id\":%" PRId64 ",\"job_id\":%" PRId64
	    ",\"text\":", device_id, job_id);
	json_str(&b, text);
	buf_printf(&b, ",\"at\":\"%s\"}", when);
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

int
audit(const char *kind, const char *actor, const char *remote,
    int64_t device_id, int64_t job_id, const char *text)
{
	struct audit_notice *a;

	if (store_event(env->store, kind, actor, remote, device_id, job_id,
	    text) == -1) {
		tx_fail();
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return 0;		/* stored; only the notice is lost */
	a->device_id = device_id;
	a->job_id = job_id;
	if (asprintf(&a->line, "%s: %s by %s from %s", kind, text, actor,
	    remote) == -1)
		a->line = NULL;
	a->json = audit_json(kind, actor, remote, device_id, job_id, text);
	if (a->line == NULL || a->json == NULL) {
		audit_run(a, 0);
		return 0;
	}
	/* in the caller's transaction, as the row (see events_publish) */
	events_publish("audit", device_id, job_id, a->json);
	return tx_defer(audit_run, a) == -1 ? -1 : 0;
}
