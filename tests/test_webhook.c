/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the pure parts of admind's webhooks (admind/webhook_policy.c):
 * the signature against known HMAC-SHA256 values, the stored event and the
 * body POSTed, the backoff, the kinds selected, a URL fit for a log line;
 * and the queue in the store (admind/store_webhooks.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "webhook_policy.h"

#define CHECK_STR(a, b)	CHECK(strcmp((a), (b)) == 0)

static void
test_sign(void)
{
	char	 sig[WEBHOOK_SIG_LEN + 1];
	const char *body = "what do ya want for nothing?";

	/* RFC 4231 test case 2 */
	CHECK(webhook_policy_sign("Jefe", body, strlen(body), sig) == 0);
	CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	/* a body as otad sends it, checked with
	 * printf %s "$body" | openssl dgst -sha256 -hmac s3cret */
	body = "{\"kind\":\"audit\",\"id\":1}";
	CHECK(webhook_policy_sign("s3cret", body, strlen(body), sig) == 0);
	CHECK_STR(sig, "sha256=5ee6b150e810a2ba3c73ba11ed18d6c7"
	    "efcdcd7604d7a294e7504e7e200a8de0");
	CHECK(strlen(sig) == WEBHOOK_SIG_LEN);
}

static void
test_body(void)
{
	struct buf	 b = BUF_INIT, body = BUF_INIT;

	CHECK(webhook_policy_event(&b, "delivery", 7, 3,
	    "{\"state\":\"sent\"}", 1796212800) == 0);
	CHECK_STR(buf_cstr(&b), "{\"kind\":\"delivery\",\"device_id\":7,"
	    "\"job_id\":3,\"data\":{\"state\":\"sent\"},"
	    "\"time\":\"2026-12-02T12:00:00Z\"}");
	CHECK(webhook_policy_body(&body, buf_cstr(&b), 42) == 0);
	CHECK_STR(buf_cstr(&body), "{\"kind\":\"delivery\",\"device_id\":7,"
	    "\"job_id\":3,\"data\":{\"state\":\"sent\"},"
	    "\"time\":\"2026-12-02T12:00:00Z\",\"id\":42}");
	buf_reset(&b);
	CHECK(webhook_policy_event(&b, "a\"b", 0, 0, "{}", 0) == 0);
	CHECK(strncmp(buf_cstr(&b), "{\"kind\":\"a\\\"b\",", 15) == 0);
	buf_reset(&body);
	CHECK(webhook_policy_body(&body, "{}", 1) == 0);
	CHECK_STR(buf_cstr(&body), "{\"id\":1}");
	buf_reset(&body);
	CHECK(webhook_policy_body(&body, "{\"a\":1}\n", 9) == 0);
	CHECK_STR(buf_cstr(&body), "{\"a\":1,\"id\":9}");
	CHECK(webhook_policy_body(&body, "", 1) == -1);
	CHECK(webhook_policy_body(&body, "[1]", 1) == -1);
	CHECK(webhook_policy_body(&body, "{", 1) == -1);
	buf_free(&b);
	buf_free(&body);
}

static void
test_backoff(void)
{
	CHECK(webhook_policy_backoff_ms(0) == 1000);
	CHECK(webhook_policy_backoff_ms(1) == 1000);
	CHECK(webhook_policy_backoff_ms(2) == 2000);
	CHECK(webhook_policy_backoff_ms(3) == 4000);
	CHECK(webhook_policy_backoff_ms(10) == 512000);
	CHECK(webhook_policy_backoff_ms(11) == 600000);
	CHECK(webhook_policy_backoff_ms(1000) == 600000);
	CHECK(webhook_policy_backoff_ms(UINT_MAX) == 600000);
	CHECK(webhook_policy_delivered(200) && webhook_policy_delivered(204));
	CHECK(!webhook_policy_delivered(199) && !webhook_policy_delivered(301));
	CHECK(!webhook_policy_delivered(500) && !webhook_policy_delivered(0));
}

static void
test_selected(void)
{
	CHECK(webhook_policy_selected("", "delivery", NULL));
	CHECK(webhook_policy_selected("  ", "audit", "job.created"));
	CHECK(webhook_policy_selected("delivery", "delivery", NULL));
	CHECK(!webhook_policy_selected("delivery", "audit", "job.created"));
	CHECK(webhook_policy_selected("audit delivery", "audit",
	    "job.created"));
	CHECK(webhook_policy_selected("device", "device.online", NULL));
	CHECK(webhook_policy_selected("device", "audit", "device.created"));
	CHECK(!webhook_policy_selected("device", "devices", NULL));
	CHECK(!webhook_policy_selected("device.online", "device.offline",
	    NULL));
	CHECK(webhook_policy_selected("job", "audit", "job.finished"));
	CHECK(webhook_policy_selected("job.finished", "audit",
	    "job.finished"));
	CHECK(!webhook_policy_selected("job.finished", "audit",
	    "job.created"));
	CHECK(!webhook_policy_selected("jo", "audit", "job.created"));
	CHECK(webhook_policy_selected("x,delivery", "delivery", NULL));
}

static void
test_url_safe(void)
{
	char	 out[128];

	webhook_policy_url_safe("https://u:pw@hooks.example.com:8443/a/b?t=1",
	    out, sizeof(out));
	CHECK_STR(out, "https://hooks.example.com:8443");
	webhook_policy_url_safe("http://127.0.0.1:9", out, sizeof(out));
	CHECK_STR(out, "http://127.0.0.1:9");
	webhook_policy_url_safe("http://[::1]:80/x", out, sizeof(out));
	CHECK_STR(out, "http://[::1]:80");
	webhook_policy_url_safe("http://h/p@q", out, sizeof(out));
	CHECK_STR(out, "http://h");
	webhook_policy_url_safe("nonsense", out, sizeof(out));
	CHECK_STR(out, "(not a URL)");
}

struct counts {
	int64_t	 a, b;
};

static void
count_cb(void *arg, const char *url, int64_t n)
{
	struct counts *c = arg;

	if (strcmp(url, "http://a/") == 0)
		c->a = n;
	else if (strcmp(url, "http://b/") == 0)
		c->b = n;
}

/* The queue: in order per URL, failed attempts, drops, forget. */
static void
test_queue(const char *dir)
{
	char		 path[PATH_MAX + 16], err[512];
	struct store	*st;
	struct webhook_event e;
	struct counts	 c = { 0, 0 };
	int64_t		 n, first;

	snprintf(path, sizeof(path), "%s/otad.db", dir);
	CHECK((st = store_open(path, err, sizeof(err))) != NULL);
	if (st == NULL)
		return;
	CHECK(store_webhook_head(st, "http://a/", &e) == 0);
	CHECK(store_light(st) == 0);
	CHECK(store_webhook_add(st, "http://a/", "audit", "{\"n\":1}") == 0);
	CHECK(store_webhook_add(st, "http://b/", "audit", "{\"n\":1}") == 0);
	CHECK(store_webhook_add(st, "http://a/", "delivery", "{\"n\":2}") ==
	    0);
	store_flush(st);
	CHECK(store_webhook_counts(st, count_cb, &c) == 0);
	CHECK(c.a == 2 && c.b == 1);
	CHECK(store_webhook_head(st, "http://a/", &e) == 1);
	CHECK_STR(e.kind, "audit");
	CHECK_STR(e.body, "{\"n\":1}");
	CHECK(e.attempts == 0 && e.created_at > 0);
	first = e.id;
	webhook_event_free(&e);
	CHECK(store_webhook_failed(st, first, 99) == 0);
	CHECK(store_webhook_failed(st, first, 100) == 0);
	CHECK(store_webhook_head(st, "http://a/", &e) == 1);
	CHECK(e.id == first && e.attempts == 2);
	webhook_event_free(&e);
	CHECK(store_webhook_delete(st, first) == 1);
	CHECK(store_webhook_delete(st, first) == 0);
	CHECK(store_webhook_head(st, "http://a/", &e) == 1);
	CHECK_STR(e.kind, "delivery");
	webhook_event_free(&e);
	CHECK(store_webhook_drop_oldest(st, "http://a/") == 1);
	CHECK(store_webhook_drop_oldest(st, "http://a/") == 0);
	/* ids are never given again, even once the queue was empty */
	CHECK(store_webhook_add(st, "http://a/", "audit", "{}") == 0);
	CHECK(store_webhook_head(st, "http://a/", &e) == 1);
	CHECK(e.id > first + 2);
	webhook_event_free(&e);
	CHECK(store_webhook_forget(st, "http://b/", &n) == 0 && n == 1);
	c.a = c.b = 0;
	CHECK(store_webhook_counts(st, count_cb, &c) == 0);
	CHECK(c.a == 1 && c.b == 0);
	store_close(st);
	unlink(path);
	snprintf(path, sizeof(path), "%s/otad.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/otad.db-shm", dir);
	unlink(path);
}

int
main(void)
{
	char		 dir[PATH_MAX];
	const char	*tmp = getenv("TMPDIR");

	test_sign();
	test_body();
	test_backoff();
	test_selected();
	test_url_safe();
	snprintf(dir, sizeof(dir), "%s/test_webhook.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	test_queue(dir);
	rmdir(dir);
	return check_exit("test_webhook");
}
