/* SPDX-License-Identifier: MIT */
/*
 * Every answer otad-fwstore gives a download request, decided in one place
 * from plain facts: the request (its route, HEAD, a version check, Range,
 * If-Range) and admind's grant.  Builds the status, Content-Type, the
 * length and every header of the answer (x-MD5, X-SHA256, ETag,
 * Last-Modified, x-version, Content-Range, Retry-After, Allow) and its
 * one-line text body; download.c hands it to common/http.c, which adds
 * the status line, Date, Server, Content-Length (the length given here)
 * and Connection.  No libuv, no global state: tests/test_fwstore.c runs
 * it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "util.h"

#include "fwstore.h"

#define FWSTORE_SHA256_B64_LEN	44
#define FWSTORE_OCTETS		"application/octet-stream"
#define FWSTORE_BAD_AUTH	"malformed ?auth=: give one device token " \
				"(letters, digits, '-' and '_'), nothing else"

static int	fwstore_image_headers(const struct fwstore_grant *, char *,
		    size_t);
static int	fwstore_is_base64(const char *, size_t);
static int	fwstore_is_token(const char *);
static int	fwstore_http_date(uint64_t, char *, size_t);
static int	fwstore_if_range(const char *, const struct fwstore_grant *);
static int	fwstore_range_spec(const char *, uint64_t, uint64_t *,
		    uint64_t *);

/*
 * A short answer with a one-line text body: reason (printable ASCII only,
 * cut at the first control character) or the status text.  304 carries no
 * body, as HTTP requires; 503 says when to retry, 405 what is allowed,
 * 416 the size (of an image of size bytes).
 */
void
fwstore_answer_reply(struct fwstore_answer *a, int status,
    const char *reason, uint64_t size)
{
	size_t	 n = 0;

	memset(a, 0, sizeof(*a));
	a->status = status;
	a->how = FWSTORE_ANSWER_RESPOND;
	if (reason == NULL || reason[0] < ' ' || reason[0] > '~')
		reason = http_status_text(status);
	while (n < FWSTORE_REASON_MAX && reason[n] >= ' ' && reason[n] <= '~') {
		a->body[n] = reason[n];
		n++;
	}
	a->body[n++] = '\n';
	if (status == 503)
		(void)snprintf(a->headers, sizeof(a->headers), "%s",
		    FWSTORE_RETRY_AFTER);
	else if (status == 405)
		(void)snprintf(a->headers, sizeof(a->headers),
		    "Allow: GET, HEAD\r\n");
	else if (status == 416)
		(void)snprintf(a->headers, sizeof(a->headers), "Content-Range: "
		    "bytes */%llu\r\n", (unsigned long long)size);
	a->body_len = status == 304 ? 0 : n;
	a->content_type = a->body_len ? "text/plain" : NULL;
}

/* A request fwstore_route() did not route: its status, with why. */
void
fwstore_answer_unrouted(struct fwstore_answer *a, int status,
    const struct fwstore_route *r)
{
	const char	*why = NULL;

	if (status == 403)
		why = r->auth_bad ? FWSTORE_BAD_AUTH :
		    "missing ?auth=<device token>";
	else if (status == 404)
		why = "no such file";
	fwstore_answer_reply(a, status, why, 0);
}

/* A request with a body: 400, and the connection closes after it. */
void
fwstore_answer_body_refused(struct fwstore_answer *a)
{
	fwstore_answer_reply(a, 400, "a download request has no body", 0);
	a->how = FWSTORE_ANSWER_REFUSE;
}

/*
 * A granted image (g->status 200): the version check (headers, length 0),
 * 416, or the range or the whole image, as headers only for HEAD.  -1
 * (logged) when the grant cannot make headers.
 */
int
fwstore_answer_image(struct fwstore_answer *a, const struct fwstore_ask *q,
    const struct fwstore_grant *g)
{
	size_t	 hlen;
	int	 status;

	memset(a, 0, sizeof(*a));
	if (fwstore_image_headers(g, a->headers, sizeof(a->headers) - 80) == -1)
		return -1;
	a->content_type = FWSTORE_OCTETS;
	if (q->version_check) {
		a->status = 200;
		a->how = FWSTORE_ANSWER_HEAD;
		return 0;
	}
	status = fwstore_answer_range(q, g, &a->first, &a->end);
	if (status == 416) {
		fwstore_answer_reply(a, 416, "range not satisfiable", g->size);
		return 0;
	}
	hlen = strlen(a->headers);
	if (status == 206)
		(void)snprintf(a->headers + hlen, sizeof(a->headers) - hlen,
		    "Content-Range: bytes %llu-%llu/%llu\r\n",
		    (unsigned long long)a->first,
		    (unsigned long long)a->end - 1,
		    (unsigned long long)g->size);
	a->status = status;
	a->length = a->end - a->first;
	a->how = q->head ? FWSTORE_ANSWER_HEAD : FWSTORE_ANSWER_BODY;
	return 0;
}

/*
 * What admind's refusal (any status but 200) tells the client: 304 with
 * the image's ETag, admind's status with its reason, or -1 with a 500 for
 * a status fwstore does not pass on (the caller logs it).
 */
int
fwstore_answer_refusal(struct fwstore_answer *a,
    const struct fwstore_grant *g)
{
	switch (g->status) {
	case 304:
		fwstore_answer_reply(a, 304, NULL, 0);
		if (fwstore_is_hex(g->sha256, 64))
			(void)snprintf(a->headers, sizeof(a->headers),
			    "ETag: \"%s\"\r\n", g->sha256);
		return 0;
	case 403:
	case 404:
	case 409:
	case 413:
	case 503:
		fwstore_answer_reply(a, g->status, g->reason, 0);
		return 0;
	default:
		fwstore_answer_reply(a, 500, "firmware service error", 0);
		return -1;
	}
}

/*
 * The part of the file a GET wants: 206 with [first, end) for one
 * satisfiable range, 416 for one that is not, 200 with the whole file
 * without Range, when If-Range names another version, or for what we do
 * not serve as a range (several ranges, other units, junk: RFC 9110 lets
 * a server ignore Range).
 */
int
fwstore_answer_range(const struct fwstore_ask *q,
    const struct fwstore_grant *g, uint64_t *first, uint64_t *end)
{
	int	 rc;

	*first = 0;
	*end = g->size;
	if (q->range == NULL || (q->if_range != NULL &&
	    !fwstore_if_range(q->if_range, g)))
		return 200;
	if (strncasecmp(q->range, "bytes=", 6) != 0 ||
	    strchr(q->range, ',') != NULL)
		return 200;
	rc = fwstore_range_spec(q->range + 6, g->size, first, end);
	if (rc != 206) {
		*first = 0;
		*end = g->size;
	}
	return rc;
}

/* Exactly len lower-case hex digits (the names util_hex writes). */
int
fwstore_is_hex(const char *s, size_t len)
{
	size_t	 i;

	if (s == NULL || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * The image headers, "Name: value\r\n" each.  Every value comes from admind
 * and is checked here, so nothing can split a header.  -1 (logged) when a
 * hash is malformed.
 */
static int
fwstore_image_headers(const struct fwstore_grant *g, char *out,
    size_t outlen)
{
	char	 date[64] = "";
	int	 n;

	if (!fwstore_is_hex(g->sha256, 64) || !fwstore_is_hex(g->md5, 32) ||
	    !fwstore_is_base64(g->sha256_b64, FWSTORE_SHA256_B64_LEN)) {
		log_warnx("admind granted firmware with malformed hashes");
		return -1;
	}
	if (g->uploaded_at != 0 &&
	    fwstore_http_date(g->uploaded_at, date, sizeof(date)) == -1)
		date[0] = '\0';
	n = snprintf(out, outlen,
	    "x-MD5: %s\r\n"
	    "X-SHA256: %s\r\n"
	    "ETag: \"%s\"\r\n"
	    "Accept-Ranges: bytes\r\n"
	    "%s%s%s%s%s%s",
	    g->md5, g->sha256_b64, g->sha256,
	    date[0] ? "Last-Modified: " : "", date, date[0] ? "\r\n" : "",
	    fwstore_is_token(g->version) ? "x-version: " : "",
	    fwstore_is_token(g->version) ? g->version : "",
	    fwstore_is_token(g->version) ? "\r\n" : "");
	if (n < 0 || (size_t)n >= outlen) {
		log_warnx("firmware headers too long");
		return -1;
	}
	return 0;
}

static int
fwstore_is_base64(const char *s, size_t len)
{
	static const char	 alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i;

	/* 32 bytes encode to 43 characters and one '='. */
	if (s == NULL || strlen(s) != len || s[len - 1] != '=')
		return 0;
	for (i = 0; i < len - 1; i++)
		if (strchr(alphabet, s[i]) == NULL)
			return 0;
	return 1;
}

/* RFC 9110 IMF-fixdate, independent of the locale. */
static int
fwstore_http_date(uint64_t when, char *out, size_t outlen)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
				    "Fri", "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr", "May",
				    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
				    "Dec" };
	time_t			 t = (time_t)when;
	struct tm		 tm;
	int			 n;

	if ((uint64_t)t != when || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* A value that can go in a header as it is: printable, no blanks at the
 * ends, not empty. */
static int
fwstore_is_token(const char *s)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 64 || s[0] == ' ' ||
	    s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~')
			return 0;
	return 1;
}

/* If-Range holds our ETag or our Last-Modified date: the range is of
 * this image. */
static int
fwstore_if_range(const char *v, const struct fwstore_grant *g)
{
	char	 tag[80], date[64];

	(void)snprintf(tag, sizeof(tag), "\"%s\"", g->sha256);
	if (strcmp(v, tag) == 0)
		return 1;
	return g->uploaded_at != 0 &&
	    fwstore_http_date(g->uploaded_at, date, sizeof(date)) == 0 &&
	    strcmp(v, date) == 0;
}

/* "a-b", "a-" or "-n" against size: 206, 416, or 200 when malformed. */
static int
fwstore_range_spec(const char *s, uint64_t size, uint64_t *first,
    uint64_t *end)
{
	char		 a[24] = "", b[24] = "";
	const char	*dash = strchr(s, '-');
	uint64_t	 lo, hi;
	size_t		 alen;

	if (dash == NULL || (alen = (size_t)(dash - s)) >= sizeof(a) ||
	    strlen(dash + 1) >= sizeof(b))
		return 200;
	memcpy(a, s, alen);
	strcpy(b, dash + 1);
	if (*a == '\0') {			/* the last n bytes */
		if (util_parse_u64(b, &hi) == -1)
			return 200;
		if (hi == 0 || size == 0)
			return 416;
		*first = hi >= size ? 0 : size - hi;
		*end = size;
		return 206;
	}
	if (util_parse_u64(a, &lo) == -1 ||
	    (*b != '\0' && util_parse_u64(b, &hi) == -1))
		return 200;
	if (*b != '\0' && hi < lo)
		return 200;
	if (lo >= size)
		return 416;
	*first = lo;
	*end = *b == '\0' || hi >= size ? size : hi + 1;
	return 206;
}
