/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of admind's webhooks (see webhook_policy.h): selecting
 * event kinds, the stored event and the body POSTed, the HMAC-SHA256
 * signature, the backoff after failures and a URL safe to log.  Linked
 * into admindcore so that tests/test_webhook.c checks them alone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cfg.h"
#include "json.h"
#include "util.h"
#include "webhook_policy.h"

/* 1 when kind is name, or begins with name and a dot. */
static int
webhook_policy_name(const char *name, size_t n, const char *kind)
{
	if (kind == NULL || strncmp(kind, name, n) != 0)
		return 0;
	return kind[n] == '\0' || kind[n] == '.';
}

int
webhook_policy_selected(const char *selectors, const char *kind,
    const char *subkind)
{
	const char	*p = selectors, *w;
	size_t		 n;
	int		 any = 0;

	while ((w = util_word(&p, CFG_KIND_SEPS, &n)) != NULL) {
		any = 1;
		if (webhook_policy_name(w, n, kind) ||
		    webhook_policy_name(w, n, subkind))
			return 1;
	}
	return !any;
}

int
webhook_policy_event(struct buf *b, const char *kind, int64_t device_id,
    int64_t job_id, const char *data, int64_t when)
{
	char	 at[21];

	util_iso8601((time_t)when, at);
	if (buf_adds(b, "{\"kind\":") == -1 || json_str(b, kind) == -1 ||
	    buf_printf(b, ",\"device_id\":%" PRId64 ",\"job_id\":%" PRId64
	    ",\"data\":", device_id, job_id) == -1 ||
	    buf_adds(b, data) == -1 ||
	    buf_printf(b, ",\"time\":\"%s\"}", at) == -1)
		return -1;
	return 0;
}

int
webhook_policy_body(struct buf *b, const char *stored, int64_t id)
{
	size_t	 len = strlen(stored);

	while (len > 0 && strchr(" \t\r\n", stored[len - 1]) != NULL)
		len--;
	if (len < 2 || stored[0] != '{' || stored[len - 1] != '}')
		return -1;
	if (buf_add(b, stored, len - 1) == -1 ||
	    buf_printf(b, "%s\"id\":%" PRId64 "}", len > 2 ? "," : "",
	    id) == -1)
		return -1;
	return 0;
}

int
webhook_policy_sign(const char *secret, const void *body, size_t len,
    char *out)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md,
	    &mdlen) == NULL || mdlen != 32)
		return -1;
	memcpy(out, "sha256=", 7);
	util_hex(md, 32, out + 7);
	return 0;
}

uint64_t
webhook_policy_backoff_ms(unsigned failures)
{
	uint64_t	 ms = WEBHOOK_BACKOFF_MIN_MS;

	for (unsigned i = 1; i < failures && ms < WEBHOOK_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < WEBHOOK_BACKOFF_MAX_MS ? ms : WEBHOOK_BACKOFF_MAX_MS;
}

int
webhook_policy_delivered(long status)
{
	return status >= 200 && status <= 299;
}

void
webhook_policy_url_safe(const char *url, char *out, size_t outlen)
{
	const char	*host = strstr(url, "://"), *end, *at;

	if (host == NULL) {
		snprintf(out, outlen, "(not a URL)");
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	if ((at = memchr(host, '@', (size_t)(end - host))) != NULL)
		host = at + 1;
	snprintf(out, outlen, "%.*s%.*s", (int)(strstr(url, "://") + 3 - url),
	    url, (int)(end - host), host);
}
