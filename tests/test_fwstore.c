/* SPDX-License-Identifier: MIT */
/*
 * Unit test: what otad-fwstore makes of a download request and how it
 * answers (fwstore/route.c, fwstore/answer.c), from plain request facts and
 * admind's grant: the route and ?auth=, Range and If-Range in every form
 * the end-to-end tests send, the image headers, the version check, HEAD,
 * 206 and 416, admind's refusals and the short one-line answers, byte for
 * byte as they go to common/http.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwstore.h"
#include "check.h"

#define SIZE		614400
#define SHA256		"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db" \
			"02258717921a4881"
#define SHA256_B64	"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE="
#define MD5		"9dd4e461268c8034f5c8564e155c67a6"
#define UPLOADED	1700000000		/* its HTTP date below */
#define UPLOADED_DATE	"Tue, 14 Nov 2023 22:13:20 GMT"
#define IMAGE_HEADERS	"x-MD5: " MD5 "\r\n" \
			"X-SHA256: " SHA256_B64 "\r\n" \
			"ETag: \"" SHA256 "\"\r\n" \
			"Accept-Ranges: bytes\r\n" \
			"Last-Modified: " UPLOADED_DATE "\r\n" \
			"x-version: 0.3.09\r\n"

/* The status fwstore_route gives method path?query; r filled. */
static int
route(llhttp_method_t method, char *path, char *query,
    struct fwstore_route *r)
{
	struct http_request	 req = { .method = method, .path = path,
				    .query = query };

	return fwstore_route(&req, r);
}

static void
test_route(void)
{
	struct fwstore_route	 r;
	char			 t64[5 + 64 + 2];

	CHECK(route(HTTP_GET, "/ota/abc123", "", &r) == 0);
	CHECK(r.type == CTL_FW_CHECK && strcmp(r.ticket, "abc123") == 0);
	CHECK(r.auth[0] == '\0' && !r.auth_bad);
	CHECK(route(HTTP_HEAD, "/ota/abc123", "x=1&auth=tok-1_Z&y", &r) == 0);
	CHECK(r.type == CTL_FW_CHECK && strcmp(r.auth, "tok-1_Z") == 0);
	CHECK(route(HTTP_GET, "/update", "auth=tok", &r) == 0);
	CHECK(r.type == CTL_FW_POLL && strcmp(r.ticket, "tok") == 0);
	CHECK(route(HTTP_GET, "/ota/abc", "authx=1", &r) == 0);
	CHECK(r.auth[0] == '\0');
	/* ?auth= missing or malformed */
	CHECK(route(HTTP_GET, "/update", "", &r) == 403 && !r.auth_bad);
	CHECK(route(HTTP_GET, "/update", "auth=", &r) == 403 && r.auth_bad);
	CHECK(route(HTTP_GET, "/update", "auth", &r) == 403 && r.auth_bad);
	CHECK(route(HTTP_GET, "/ota/abc", "auth=a&auth=a", &r) == 403 &&
	    r.auth_bad);
	CHECK(route(HTTP_GET, "/ota/abc", "auth=a.b", &r) == 403 &&
	    r.auth_bad);
	CHECK(route(HTTP_GET, "/ota/abc", "auth=a%00", &r) == 403 &&
	    r.auth_bad);
	/* tickets: 1 to 64 letters and digits */
	memcpy(t64, "/ota/", 5);
	memset(t64 + 5, 'a', 64);
	t64[5 + 64] = '\0';
	CHECK(route(HTTP_GET, t64, "", &r) == 0);
	t64[5 + 64] = 'a';
	t64[5 + 65] = '\0';
	CHECK(route(HTTP_GET, t64, "", &r) == 404);
	CHECK(route(HTTP_GET, "/ota/", "", &r) == 404);
	CHECK(route(HTTP_GET, "/ota/ab-c", "", &r) == 404);
	CHECK(route(HTTP_GET, "/ota/ab/c", "", &r) == 404);
	CHECK(route(HTTP_GET, "/", "", &r) == 404);
	/* the method after the path */
	CHECK(route(HTTP_POST, "/ota/abc", "", &r) == 405);
	CHECK(route(HTTP_PUT, "/update", "auth=tok", &r) == 405);
	CHECK(route(HTTP_POST, "/nothing", "", &r) == 404);
}

static void
test_quiet(void)
{
	struct http_request	 req = { .method = HTTP_HEAD };

	CHECK(fwstore_route_quiet(&req));
	req.method = HTTP_GET;
	CHECK(!fwstore_route_quiet(&req));
	req.nheaders = 1;
	req.headers[0].name = "x-esp8266-mode";
	req.headers[0].value = "VERSION";
	CHECK(fwstore_route_quiet(&req));
	req.headers[0].value = "sketch";
	CHECK(!fwstore_route_quiet(&req));
	req.headers[0].name = "x-esp32-mode";
	req.headers[0].value = "version";
	CHECK(fwstore_route_quiet(&req));
}

/* What a request that was not routed hears. */
static void
test_unrouted(void)
{
	struct fwstore_route	 r = { .auth_bad = 1 };
	struct fwstore_answer	 a;

	fwstore_answer_unrouted(&a, 403, &r);
	CHECK(a.status == 403 &&
	    strncmp(a.body, "malformed ?auth=: ", 18) == 0);
	r.auth_bad = 0;
	fwstore_answer_unrouted(&a, 403, &r);
	CHECK(a.body_len == 29 &&
	    memcmp(a.body, "missing ?auth=<device token>\n", 29) == 0);
	fwstore_answer_unrouted(&a, 404, &r);
	CHECK(a.body_len == 13 && memcmp(a.body, "no such file\n", 13) == 0);
	fwstore_answer_unrouted(&a, 405, &r);
	CHECK(a.body_len == 19 &&
	    memcmp(a.body, "Method Not Allowed\n", 19) == 0);
	CHECK(strcmp(a.headers, "Allow: GET, HEAD\r\n") == 0);
}

static struct fwstore_grant
grant(void)
{
	struct fwstore_grant	 g = {
		.status = 200,
		.delivery_id = 7,
		.sha256 = SHA256,
		.size = SIZE,
		.md5 = MD5,
		.sha256_b64 = SHA256_B64,
		.version = "0.3.09",
		.uploaded_at = UPLOADED,
	};

	return g;
}

/* The status fwstore_answer_range gives range (and if_range), with
 * [first, end) checked against want_first, want_end. */
static int
range_is(const char *range, const char *if_range, int status,
    uint64_t want_first, uint64_t want_end)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_ask	 q = { .range = range, .if_range = if_range };
	uint64_t		 first = 1, end = 1;
	int			 rc;

	rc = fwstore_answer_range(&q, &g, &first, &end);
	return rc == status && first == want_first && end == want_end;
}

static void
test_range(void)
{
	CHECK(range_is(NULL, NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=100-1123", NULL, 206, 100, 1124));
	CHECK(range_is("bytes=0-999", NULL, 206, 0, 1000));
	CHECK(range_is("bytes=1000-", NULL, 206, 1000, SIZE));
	CHECK(range_is("bytes=-1", NULL, 206, SIZE - 1, SIZE));
	CHECK(range_is("bytes=-50", NULL, 206, SIZE - 50, SIZE));
	CHECK(range_is("BYTES=0-0", NULL, 206, 0, 1));
	/* past the end: cut at the size, or the whole image */
	CHECK(range_is("bytes=0-99999999", NULL, 206, 0, SIZE));
	CHECK(range_is("bytes=-99999999", NULL, 206, 0, SIZE));
	/* unsatisfiable */
	CHECK(range_is("bytes=614400-", NULL, 416, 0, SIZE));
	CHECK(range_is("bytes=700000-700010", NULL, 416, 0, SIZE));
	CHECK(range_is("bytes=-0", NULL, 416, 0, SIZE));
	/* not served as a range: the whole image */
	CHECK(range_is("bytes=5-2", NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=0-9,20-29", NULL, 200, 0, SIZE));
	CHECK(range_is("items=0-9", NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=abc", NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=a-9", NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=-", NULL, 200, 0, SIZE));
	CHECK(range_is("bytes=99999999999999999999999-", NULL, 200, 0, SIZE));
	/* If-Range: our ETag or our date keep the range, anything else not */
	CHECK(range_is("bytes=-50", "\"" SHA256 "\"", 206, SIZE - 50, SIZE));
	CHECK(range_is("bytes=-50", UPLOADED_DATE, 206, SIZE - 50, SIZE));
	CHECK(range_is("bytes=0-9", "\"0000\"", 200, 0, SIZE));
	CHECK(range_is("bytes=0-9", SHA256, 200, 0, SIZE));
}

static void
test_range_empty_image(void)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_ask	 q = { .range = "bytes=-5" };
	uint64_t		 first, end;

	g.size = 0;
	CHECK(fwstore_answer_range(&q, &g, &first, &end) == 416);
	q.range = "bytes=0-";
	CHECK(fwstore_answer_range(&q, &g, &first, &end) == 416);
	CHECK(first == 0 && end == 0);
}

static void
test_image(void)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_ask	 q = { 0 };
	struct fwstore_answer	 a;

	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 200 && a.how == FWSTORE_ANSWER_BODY);
	CHECK(strcmp(a.content_type, "application/octet-stream") == 0);
	CHECK(strcmp(a.headers, IMAGE_HEADERS) == 0);
	CHECK(a.first == 0 && a.end == SIZE && a.length == SIZE);
	CHECK(a.body_len == 0);

	q.range = "bytes=100-1123";
	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 206 && a.how == FWSTORE_ANSWER_BODY);
	CHECK(strcmp(a.headers, IMAGE_HEADERS
	    "Content-Range: bytes 100-1123/614400\r\n") == 0);
	CHECK(a.first == 100 && a.end == 1124 && a.length == 1024);

	q.head = 1;		/* HEAD of a range: the range's headers */
	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 206 && a.how == FWSTORE_ANSWER_HEAD);
	CHECK(a.length == 1024);

	q.range = NULL;
	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 200 && a.how == FWSTORE_ANSWER_HEAD);
	CHECK(a.length == SIZE && strcmp(a.headers, IMAGE_HEADERS) == 0);
}

/* x-ESP8266-mode: version: the image's headers, Content-Length 0, even
 * with a Range. */
static void
test_version_check(void)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_ask	 q = { .version_check = 1,
				    .range = "bytes=700000-" };
	struct fwstore_answer	 a;

	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 200 && a.how == FWSTORE_ANSWER_HEAD);
	CHECK(a.length == 0 && strcmp(a.headers, IMAGE_HEADERS) == 0);
	CHECK(strcmp(a.content_type, "application/octet-stream") == 0);
}

/* 416: the size in Content-Range, a text body, none of the image's
 * headers; for HEAD too (common/http.c drops the body). */
static void
test_unsatisfiable(void)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_ask	 q = { .range = "bytes=614400-" };
	struct fwstore_answer	 a;
	static const char	 body[] = "range not satisfiable\n";

	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 416 && a.how == FWSTORE_ANSWER_RESPOND);
	CHECK(strcmp(a.headers, "Content-Range: bytes */614400\r\n") == 0);
	CHECK(strcmp(a.content_type, "text/plain") == 0);
	CHECK(a.body_len == sizeof(body) - 1 &&
	    memcmp(a.body, body, a.body_len) == 0);
	q.head = 1;
	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(a.status == 416 && a.how == FWSTORE_ANSWER_RESPOND);
}

/* Hashes that could split a header or lie to the device: no answer. */
static void
test_malformed_grant(void)
{
	struct fwstore_grant	 g;
	struct fwstore_ask	 q = { 0 };
	struct fwstore_answer	 a;

	g = grant();
	g.md5 = "9DD4E461268C8034F5C8564E155C67A6";
	CHECK(fwstore_answer_image(&a, &q, &g) == -1);
	g = grant();
	g.sha256_b64 = "LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE\r";
	CHECK(fwstore_answer_image(&a, &q, &g) == -1);
	g = grant();
	g.sha256 = NULL;
	CHECK(fwstore_answer_image(&a, &q, &g) == -1);
	/* a version that is no token, no upload date: left out */
	g = grant();
	g.version = "1.0\r\nX-Evil: 1";
	g.uploaded_at = 0;
	CHECK(fwstore_answer_image(&a, &q, &g) == 0);
	CHECK(strcmp(a.headers, "x-MD5: " MD5 "\r\nX-SHA256: " SHA256_B64
	    "\r\nETag: \"" SHA256 "\"\r\nAccept-Ranges: bytes\r\n") == 0);
}

static void
test_refusal(void)
{
	struct fwstore_grant	 g = grant();
	struct fwstore_answer	 a;
	static const uint16_t	 passed[] = { 403, 404, 409, 413, 503 };
	size_t			 i;

	g.status = 304;
	CHECK(fwstore_answer_refusal(&a, &g) == 0);
	CHECK(a.status == 304 && a.how == FWSTORE_ANSWER_RESPOND);
	CHECK(a.content_type == NULL && a.body_len == 0);
	CHECK(strcmp(a.headers, "ETag: \"" SHA256 "\"\r\n") == 0);
	g.sha256 = "not-a-hash";
	CHECK(fwstore_answer_refusal(&a, &g) == 0);
	CHECK(a.status == 304 && a.headers[0] == '\0');

	g.reason = "the device is not in this job";
	for (i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
		g.status = passed[i];
		CHECK(fwstore_answer_refusal(&a, &g) == 0);
		CHECK(a.status == passed[i]);
		CHECK(a.body_len == strlen(g.reason) + 1 &&
		    memcmp(a.body, "the device is not in this job\n",
		    a.body_len) == 0);
		CHECK(strcmp(a.headers, passed[i] == 503 ?
		    "Retry-After: 5\r\n" : "") == 0);
	}
	g.status = 418;
	CHECK(fwstore_answer_refusal(&a, &g) == -1);
	CHECK(a.status == 500 && a.body_len == strlen("firmware service "
	    "error\n"));
}

static void
test_reply(void)
{
	struct fwstore_answer	 a;
	char			 longer[300];

	fwstore_answer_reply(&a, 404, NULL, 0);
	CHECK(a.body_len == 10 && memcmp(a.body, "Not Found\n", 10) == 0);
	CHECK(strcmp(a.content_type, "text/plain") == 0);
	fwstore_answer_reply(&a, 403, "\x01hidden", 0);	/* status text */
	CHECK(a.body_len == 10 && memcmp(a.body, "Forbidden\n", 10) == 0);
	fwstore_answer_reply(&a, 403, "line one\r\nX-Evil: 1", 0);
	CHECK(a.body_len == 9 && memcmp(a.body, "line one\n", 9) == 0);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	fwstore_answer_reply(&a, 409, longer, 0);
	CHECK(a.body_len == FWSTORE_REASON_MAX + 1 &&
	    a.body[FWSTORE_REASON_MAX] == '\n');
	fwstore_answer_reply(&a, 405, NULL, 0);
	CHECK(strcmp(a.headers, "Allow: GET, HEAD\r\n") == 0);
	fwstore_answer_reply(&a, 503, "too many downloads, retry later", 0);
	CHECK(strcmp(a.headers, "Retry-After: 5\r\n") == 0);
	CHECK(a.how == FWSTORE_ANSWER_RESPOND);
	fwstore_answer_body_refused(&a);
	CHECK(a.status == 400 && a.how == FWSTORE_ANSWER_REFUSE);
	CHECK(a.body_len == 31 &&
	    memcmp(a.body, "a download request has no body\n", 31) == 0);
}

int
main(void)
{
	test_route();
	test_quiet();
	test_unrouted();
	test_range();
	test_range_empty_image();
	test_image();
	test_version_check();
	test_unsatisfiable();
	test_malformed_grant();
	test_refusal();
	test_reply();
	return check_exit("test_fwstore");
}
