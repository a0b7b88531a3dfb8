/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of otad-hwd's connection decisions (hwd/policy.c): the
 * per-device rate limit over several connections and its once-a-minute
 * RESPONSE 1, the login, idle and closing deadlines, the frame and carry
 * size bounds, and the URL a device is told to download from for each
 * kind of address it connected to, with and without public_url, and the
 * consent pin's words: the update pending, the device's answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hwd.h"
#include "proto.h"

static void
test_rate(void)
{
	struct hwd_device	 dev;
	struct hwd_conn		*c1 = calloc(1, sizeof(*c1));
	struct hwd_conn		*c2 = calloc(1, sizeof(*c2));

	memset(&dev, 0, sizeof(dev));
	c1->state = c2->state = HWD_CONN_ONLINE;
	/* off, before login, or with no device: never counted */
	CHECK(hwd_policy_rate(&dev, c1, 0, 100) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(NULL, c1, 1, 100) == HWD_RATE_PASS);
	c1->state = HWD_CONN_AUTH;
	CHECK(hwd_policy_rate(&dev, c1, 1, 100) == HWD_RATE_PASS);
	CHECK(dev.rate_count == 0);
	c1->state = HWD_CONN_ONLINE;
	/* three a second, over both connections of the device */
	CHECK(hwd_policy_rate(&dev, c1, 3, 100) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c2, 3, 100) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c1, 3, 100) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c1, 3, 100) == HWD_RATE_TELL);
	CHECK(c1->quota_told && c1->quota_at == 100);
	CHECK(hwd_policy_rate(&dev, c1, 3, 100) == HWD_RATE_DROP);
	/* each connection is told once */
	CHECK(hwd_policy_rate(&dev, c2, 3, 100) == HWD_RATE_TELL);
	CHECK(hwd_policy_rate(&dev, c2, 3, 100) == HWD_RATE_DROP);
	/* a new second counts afresh */
	CHECK(hwd_policy_rate(&dev, c1, 3, 101) == HWD_RATE_PASS);
	CHECK(dev.rate_second == 101 && dev.rate_count == 1);
	CHECK(hwd_policy_rate(&dev, c1, 3, 101) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c1, 3, 101) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c1, 3, 101) == HWD_RATE_DROP);
	/* told again a minute after, not a second before */
	for (int i = 0; i < 4; i++)
		hwd_policy_rate(&dev, c1, 3, 159);
	CHECK(hwd_policy_rate(&dev, c1, 3, 159) == HWD_RATE_DROP);
	for (int i = 0; i < 3; i++)
		CHECK(hwd_policy_rate(&dev, c1, 3, 160) == HWD_RATE_PASS);
	CHECK(hwd_policy_rate(&dev, c1, 3, 160) == HWD_RATE_TELL);
	CHECK(c1->quota_at == 160);
	free(c1);
	free(c2);
}

static void
test_deadline(void)
{
	struct hwd_conn	*c = calloc(1, sizeof(*c));

	c->since = 1000;
	c->state = HWD_CONN_NEW;
	CHECK(hwd_policy_deadline(c, 10, 60) == 1010);
	c->state = HWD_CONN_AUTH;
	CHECK(hwd_policy_deadline(c, 10, 60) == 1010);
	c->state = HWD_CONN_ONLINE;
	CHECK(hwd_policy_deadline(c, 10, 60) == 1060);	/* no h-beat */
	c->h_beat = 10;					/* 2.3 of them */
	CHECK(hwd_policy_deadline(c, 10, 60) == 1023);
	c->h_beat = 45;
	CHECK(hwd_policy_deadline(c, 10, 60) == 1000 + (45 * 23 + 9) / 10);
	c->state = HWD_CONN_CLOSING;			/* the linger */
	CHECK(hwd_policy_deadline(c, 10, 60) == 1002);
	free(c);
}

static void
test_sizes(void)
{
	CHECK(hwd_policy_max_body(HWD_CONN_NEW, 1024) == HWD_MAX_TOKEN + 64);
	CHECK(hwd_policy_max_body(HWD_CONN_NEW, 100) == HWD_MAX_TOKEN + 64);
	CHECK(hwd_policy_max_body(HWD_CONN_AUTH, 1024) == 1024);
	CHECK(hwd_policy_max_body(HWD_CONN_ONLINE, 1024) == 1024);
	CHECK(hwd_policy_carry_max(1024) ==
	    HWD_PROTO_HEADER_LEN + 1024 + 128 * 1024);
	CHECK(hwd_policy_carry_max(0) == HWD_PROTO_HEADER_LEN + 128 * 1024);
}

/* The base URL for public_url and the address the device connected to
 * (NULL: unknown); 1 when it is want. */
static int
base_is(const char *pub, const struct sockaddr *local, int port,
    const char *want)
{
	struct buf	 url = BUF_INIT;
	int		 ok;

	ok = hwd_policy_ota_base(&url, pub, local, port) == 0 &&
	    buf_cstr(&url) != NULL && strcmp(url.data, want) == 0;
	if (!ok)
		fprintf(stderr, "  got %s, want %s\n", url.data ? url.data :
		    "(null)", want);
	buf_free(&url);
	return ok;
}

static void
test_ota_base(void)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(7443);	/* the device's port: not used */
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;

	CHECK(base_is("", (struct sockaddr *)&sin, 8080,
	    "http://192.0.2.7:8080"));
	inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
	CHECK(base_is("", (struct sockaddr *)&sin6, 8080,
	    "http://[2001:db8::5]:8080"));
	/* an IPv4 device on a dual-stack listener */
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	CHECK(base_is("", (struct sockaddr *)&sin6, 18080,
	    "http://127.0.0.1:18080"));
	CHECK(base_is("", NULL, 8080, "http://localhost:8080"));
	/* public_url wins, without its trailing slash */
	CHECK(base_is("https://ota.example.com", (struct sockaddr *)&sin,
	    8080, "https://ota.example.com"));
	CHECK(base_is("http://ota.example.com:8080/", (struct sockaddr *)&sin,
	    8080, "http://ota.example.com:8080"));
	CHECK(base_is("http://ota.example.com/fw/", NULL, 8080,
	    "http://ota.example.com/fw"));
}

/* The whole command as conn_ota.c builds it: PROTOCOL.md 1.6's example. */
static void
test_ota_command(void)
{
	static const uint8_t head[] = { 0x11, 0x00, 0x64, 0x00, 0x20, 'o', 't',
	    'a', 0x00 };
	struct sockaddr_in	 sin;
	struct buf		 url = BUF_INIT, frame = BUF_INIT;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	CHECK(hwd_policy_ota_base(&url, "", (struct sockaddr *)&sin,
	    8080) == 0);
	CHECK(buf_adds(&url, "/fw.bin") == 0 && buf_cstr(&url) != NULL);
	CHECK(hwd_proto_ota(&frame, 100, url.data, 1024) == 0);
	CHECK(frame.len == sizeof(head) + 28 &&
	    memcmp(frame.data, head, sizeof(head)) == 0 &&
	    memcmp(frame.data + sizeof(head), "http://127.0.0.1:8080/fw.bin",
	    28) == 0);
	buf_free(&frame);
	/* too large for a device's buff-in */
	CHECK(hwd_proto_ota(&frame, 100, url.data, 16) == HWD_PROTO_ETOOBIG);
	buf_free(&frame);
	buf_free(&url);
}

/* The pin write of an update pending, as a sketch's BLYNK_WRITE gets it. */
static void
test_consent_ask(void)
{
	static const char body[] = "vw\0" "127\0pending\0" "1.2.3\0"
	    "524288\0" "42";
	struct buf	 value = BUF_INIT, frame = BUF_INIT;

	CHECK(hwd_policy_consent_ask(&value, "1.2.3", 524288, 42) == 0);
	CHECK(value.len == sizeof(body) - 1 - 7 &&
	    memcmp(value.data, body + 7, value.len) == 0);
	CHECK(hwd_proto_hardware(&frame, 5, 'v', 127, value.data,
	    value.len) == 0);
	CHECK(frame.len == HWD_PROTO_HEADER_LEN + sizeof(body) - 1);
	CHECK(memcmp(frame.data, "\x14\x00\x05\x00", 4) == 0 &&
	    (uint8_t)frame.data[4] == sizeof(body) - 1);
	CHECK(memcmp(frame.data + HWD_PROTO_HEADER_LEN, body,
	    sizeof(body) - 1) == 0);
	buf_reset(&value);
	/* an image without a version: the field is empty */
	CHECK(hwd_policy_consent_ask(&value, "", 0, 1) == 0);
	CHECK(value.len == 12 && memcmp(value.data, "pending\0\0" "0\0" "1",
	    12) == 0);
	buf_free(&value);
	buf_free(&frame);
}

static int
consent_is(const char *value, size_t len, const char *answer,
    uint32_t minutes)
{
	char		 a[16] = "x";
	uint32_t	 m = 99;
	int		 rc = hwd_policy_consent(value, len, a, sizeof(a), &m);

	if (answer == NULL)
		return rc == -1;
	return rc == 0 && strcmp(a, answer) == 0 && m == minutes;
}

/* The device's answer: three words, defer with its minutes, junk. */
static void
test_consent_answer(void)
{
	char	 small[6];
	uint32_t m;

	CHECK(consent_is("accept", 6, "accept", 0));
	CHECK(consent_is("accept\0", 7, "accept", 0));	/* a trailing NUL */
	CHECK(consent_is("decline", 7, "decline", 0));
	CHECK(consent_is("defer\0" "30", 8, "defer", 30));
	CHECK(consent_is("defer\0" "0", 7, "defer", 0));	/* admind decides */
	CHECK(consent_is("defer\0" "4294967295", 16, "defer", 4294967295u));
	/* junk */
	CHECK(consent_is("", 0, NULL, 0));
	CHECK(consent_is("\0", 1, NULL, 0));
	CHECK(consent_is("yes", 3, NULL, 0));
	CHECK(consent_is("Accept", 6, NULL, 0));
	CHECK(consent_is("accepted", 8, NULL, 0));
	CHECK(consent_is("accept\0" "1", 8, NULL, 0));	/* more values */
	CHECK(consent_is("decline\0\0", 9, NULL, 0));
	CHECK(consent_is("defer", 5, NULL, 0));		/* no minutes */
	CHECK(consent_is("defer\0", 6, NULL, 0));
	CHECK(consent_is("defer\0\0", 7, NULL, 0));
	CHECK(consent_is("defer 30", 8, NULL, 0));
	CHECK(consent_is("defer\0" "-1", 8, NULL, 0));
	CHECK(consent_is("defer\0" "1.5", 9, NULL, 0));
	CHECK(consent_is("defer\0" "30x", 9, NULL, 0));
	CHECK(consent_is("defer\0" "4294967296", 16, NULL, 0));
	CHECK(consent_is("defer\0" "99999999999", 17, NULL, 0));
	CHECK(consent_is("defer\0" "30\0" "1", 10, NULL, 0));
	CHECK(consent_is("pending\0" "1.0\0" "10\0" "1", 16, NULL, 0));
	/* the word must fit the caller's buffer */
	CHECK(hwd_policy_consent("decline", 7, small, sizeof(small),
	    &m) == -1);
}

int
main(void)
{
	test_rate();
	test_deadline();
	test_sizes();
	test_ota_base();
	test_ota_command();
	test_consent_ask();
	test_consent_answer();
	return check_exit("test_hwd");
}
