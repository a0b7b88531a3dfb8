/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of otad-hwd's connection decisions (hwd/policy.c): the
 * per-device rate limit over several connections and its once-a-minute
 * RESPONSE 1, the login, idle and closing deadlines, the frame and carry
 * size bounds, and the URL a device is told to download from for each
 * kind of address it connected to, with and without public_url.
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

int
main(void)
{
	test_rate();
	test_deadline();
	test_sizes();
	test_ota_base();
	test_ota_command();
	return check_exit("test_hwd");
}
