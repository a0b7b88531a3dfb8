/* SPDX-License-Identifier: MIT */
/*
 * The INTERNAL requests a sketch makes of otad-hwd with the Blynk
 * library's sendInternal(): "rtc", "utc" and "meta", each answered as the
 * library's handler for it expects.  Hardware info, the other INTERNAL a
 * device sends, stays in conn.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hwd.h"
#include "log.h"
#include "proto.h"

#define HWD_INTERNAL_MAX	128	/* a request body we read */

/* The body as NUL-separated words, up to max of them, in copy (f->len + 1
 * bytes). */
static size_t
hwd_internal_words(const struct hwd_frame *f, char *copy, const char **words,
    size_t max)
{
	size_t	 n = 0, pos = 0;

	memcpy(copy, f->body, f->len);
	copy[f->len] = '\0';
	while (pos <= f->len && n < max) {
		words[n++] = copy + pos;
		pos += strlen(copy + pos) + 1;
	}
	return n;
}

int
hwd_internal_is_request(const struct hwd_frame *f)
{
	static const char *const names[] = { "rtc", "utc", "meta" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t	 n = strlen(names[i]);

		if ((f->len == n || (f->len > n && f->body[n] == '\0')) &&
		    memcmp(f->body, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* INTERNAL with the request's msg_id: "<cmd>\0<a>[\0<b>]". */
static int
hwd_internal_reply(struct hwd_conn *c, uint16_t msg_id, const char *cmd,
    const char *a, const char *b)
{
	struct buf	 body = BUF_INIT, frame = BUF_INIT;
	int		 rc = 0;

	if (buf_add(&body, cmd, strlen(cmd) + 1) == -1 ||
	    buf_add(&body, a, strlen(a) + (b != NULL)) == -1 ||
	    (b != NULL && buf_adds(&body, b) == -1) ||
	    hwd_proto_encode(&frame, HWD_CMD_INTERNAL, msg_id, body.data,
	    body.len) == -1)
		rc = hwd_conn_respond(c, msg_id, HWD_STATUS_SERVER_ERROR);
	else if (body.len > c->buff_in)
		rc = hwd_conn_respond(c, msg_id, HWD_STATUS_ILLEGAL_BODY);
	else
		rc = hwd_conn_send(c, frame.data, frame.len);
	buf_free(&body);
	buf_free(&frame);
	return rc;
}

/*
 * "utc\0<what>": the library hands the reply's words after "utc" to
 * BLYNK_WRITE(InternalPinUTC), where sketches read param[0] as the what
 * they asked for and param[1] as its value: "time" as Unix ms
 * (asLongLong, then setTime(t / 1000, t % 1000)), "iso" as an ISO 8601
 * string cut at 'T' and '+', "tz" as minutes, "tz_rule" as a POSIX TZ rule
 * for setPosix().  A what we do not know gets RESPONSE 11, which the
 * library ignores.
 */
static int
hwd_internal_utc(struct hwd_conn *c, uint16_t msg_id, const char *what)
{
	struct timespec	 ts;
	char		 value[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (hwd_proto_utc_value(what, (int64_t)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000, value, sizeof(value)) == -1) {
		hwd_conn_log(c, LOG_DEBUG, "utc %s: not a request the "
		    "library defines", what);
		return hwd_conn_respond(c, msg_id, HWD_STATUS_ILLEGAL_BODY);
	}
	return hwd_internal_reply(c, msg_id, "utc", what, value);
}

/*
 * "rtc" (any words after it): "rtc\0<Unix seconds>", which the library's
 * InternalPinRTC handler reads with param.asLong().  "meta\0get\0<field>"
 * would be answered "meta\0<field>\0<value>" for InternalPinMETA, but otad
 * keeps no device metadata: RESPONSE 17 (NO_DATA) says so, and the library
 * ignores a RESPONSE, so the handler does not fire with an invented value;
 * "meta\0set..." is taken with 200 and not kept.
 */
int
hwd_internal_request(struct hwd_conn *c, const struct hwd_frame *f)
{
	char		 copy[HWD_INTERNAL_MAX + 1], now[32];
	const char	*w[3];
	size_t		 n;

	if (f->len > HWD_INTERNAL_MAX)
		return hwd_conn_respond(c, f->msg_id, HWD_STATUS_ILLEGAL_BODY);
	n = hwd_internal_words(f, copy, w, 3);
	if (strcmp(w[0], "rtc") == 0) {
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		return hwd_internal_reply(c, f->msg_id, "rtc", now, NULL);
	}
	if (strcmp(w[0], "utc") == 0)
		return hwd_internal_utc(c, f->msg_id, n > 1 ? w[1] : "");
	return hwd_conn_respond(c, f->msg_id, n > 1 &&
	    strcmp(w[1], "set") == 0 ? HWD_STATUS_OK : HWD_STATUS_NO_DATA);
}
