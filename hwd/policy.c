/* SPDX-License-Identifier: MIT */
/*
 * The decisions of otad-hwd's device connections as pure functions: the
 * per-device message rate limit, when a connection times out, how many
 * bytes a frame and the carry buffer may hold, the URL a device is told
 * to download from, and the consent pin's words (an update pending, the
 * device's answer).  They read only what they are given (no hwd_env, no
 * event loop); conn.c, conn_ota.c and admind.c gather the facts, and
 * tests/test_hwd.c checks the answers.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hwd.h"
#include "netaddr.h"
#include "proto.h"
#include "util.h"

#define HWD_LINGER		2	/* s to drain a last reply */
#define HWD_PRELOGIN_MAX_BODY	(HWD_MAX_TOKEN + 64)
#define HWD_QUOTA_REPEAT_S	60	/* s between RESPONSE 1s, at least */
#define HWD_CARRY_SLACK		(128 * 1024)	/* a read while paused */
#define HWD_CONSENT_MAX_FIELD	10	/* digits of a u32 */

/*
 * The legacy rate limit (PROTOCOL.md 1.7), counted per device over all its
 * connections (one token must not multiply it by opening more): at most
 * limit messages in clock second now; past it messages are dropped, and
 * each connection hears RESPONSE 1 (QUOTA_LIMIT) at most once a minute.
 * Moves d's count and c's quota time.
 */
enum hwd_rate
hwd_policy_rate(struct hwd_device *d, struct hwd_conn *c, unsigned limit,
    uint32_t now)
{
	if (limit == 0 || c->state != HWD_CONN_ONLINE || d == NULL)
		return HWD_RATE_PASS;
	if (d->rate_second != now) {
		d->rate_second = now;
		d->rate_count = 0;
	}
	if (d->rate_count < limit) {
		d->rate_count++;
		return HWD_RATE_PASS;
	}
	if (c->quota_told && now - c->quota_at < HWD_QUOTA_REPEAT_S)
		return HWD_RATE_DROP;
	c->quota_told = 1;
	c->quota_at = now;
	return HWD_RATE_TELL;
}

/* The clock second c times out at: login_timeout before login,
 * idle_timeout (or 2.3 heartbeats) once online, HWD_LINGER closing. */
uint32_t
hwd_policy_deadline(const struct hwd_conn *c, unsigned login_timeout,
    unsigned idle_timeout)
{
	switch (c->state) {
	case HWD_CONN_NEW:
	case HWD_CONN_AUTH:
		return c->since + login_timeout;
	case HWD_CONN_ONLINE:
		return c->since + hwd_proto_idle_timeout(c->h_beat,
		    idle_timeout);
	default:
		return c->since + HWD_LINGER;
	}
}

/* The largest frame body accepted in state: before login, a login. */
size_t
hwd_policy_max_body(enum hwd_conn_state state, unsigned max_body)
{
	return state == HWD_CONN_NEW ? HWD_PRELOGIN_MAX_BODY : max_body;
}

/* What the carry buffer may hold: a partial frame, plus one read that
 * arrived while paused. */
size_t
hwd_policy_carry_max(unsigned max_body)
{
	return HWD_PROTO_HEADER_LEN + max_body + HWD_CARRY_SLACK;
}

/*
 * The start of the URL a device downloads from (DESIGN.md section 4):
 * public_url without a trailing slash, else http://<local>:<port> with the
 * address the device connected to (NULL: unknown, "localhost").  -1 when
 * url could not grow.
 */
int
hwd_policy_ota_base(struct buf *url, const char *public_url,
    const struct sockaddr *local, int port)
{
	size_t	 len = strlen(public_url);
	char	 host[NETADDR_STRLEN];

	if (len > 0) {
		if (public_url[len - 1] == '/')
			len--;
		return buf_add(url, public_url, len);
	}
	if (local == NULL)
		snprintf(host, sizeof(host), "localhost");
	else
		netaddr_format(local, host, sizeof(host), 0);
	return buf_printf(url, "http://%s:%d", host, port);
}

/* The consent pin's value for an update pending: "pending\0<version>\0
 * <size>\0<job id>".  -1 when value could not grow. */
int
hwd_policy_consent_ask(struct buf *value, const char *version, uint64_t size,
    uint64_t job_id)
{
	if (buf_adds(value, "pending") == -1 || buf_addc(value, '\0') == -1 ||
	    buf_adds(value, version) == -1 || buf_addc(value, '\0') == -1)
		return -1;
	return buf_printf(value, "%" PRIu64 "%c%" PRIu64, size, '\0',
	    job_id);
}

/* The field of a pin value that starts at *pos, up to the next NUL or the
 * end, with *pos past it: its length, or -1 at the end. */
static long
hwd_policy_field(const char *value, size_t len, size_t *pos,
    const char **field)
{
	const char	*nul;
	size_t		 n;

	if (*pos > len || (*pos == len && *pos > 0))
		return -1;
	*field = value + *pos;
	nul = memchr(*field, '\0', len - *pos);
	n = nul ? (size_t)(nul - *field) : len - *pos;
	*pos += n + 1;
	return (long)n;
}

static int
hwd_policy_word(const char *field, long n, const char *word)
{
	return n == (long)strlen(word) && memcmp(field, word, (size_t)n) == 0;
}

/*
 * The device's write to its consent pin: "accept", "decline", or "defer"
 * with a whole number of minutes as the next value (one trailing NUL
 * allowed).  0 with the word in answer (answer_len at least 8) and
 * *minutes (0 unless defer), -1 for anything else.  admind decides what
 * the numbers may be.
 */
int
hwd_policy_consent(const char *value, size_t len, char *answer,
    size_t answer_len, uint32_t *minutes)
{
	char		 digits[HWD_CONSENT_MAX_FIELD + 1];
	const char	*word, *num;
	size_t		 pos = 0;
	long		 n, m;
	uint64_t	 v = 0;

	if (len > 0 && value[len - 1] == '\0')
		len--;
	if ((n = hwd_policy_field(value, len, &pos, &word)) == -1)
		return -1;
	if (hwd_policy_word(word, n, "defer")) {
		if ((m = hwd_policy_field(value, len, &pos, &num)) < 1 ||
		    m > HWD_CONSENT_MAX_FIELD)
			return -1;
		memcpy(digits, num, (size_t)m);
		digits[m] = '\0';
		if (util_parse_u64(digits, &v) == -1 || v > UINT32_MAX)
			return -1;
	} else if (!hwd_policy_word(word, n, "accept") &&
	    !hwd_policy_word(word, n, "decline"))
		return -1;
	if (pos <= len || answer_len <= (size_t)n)
		return -1;		/* more values follow */
	memcpy(answer, word, (size_t)n);
	answer[n] = '\0';
	*minutes = (uint32_t)v;
	return 0;
}
