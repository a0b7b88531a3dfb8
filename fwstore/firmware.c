/* SPDX-License-Identifier: MIT */
/*
 * Firmware files as otad-fwstore serves them: opens the one file admind
 * granted, by its SHA-256 name in the firmware directory and nothing else,
 * checks it against the grant, builds the image headers every ESP updater
 * and Edgent wants (x-MD5, X-SHA256, ETag, Last-Modified, x-version), and
 * reads Range and If-Range.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "util.h"

#include "fwstore.h"

#define FWSTORE_SHA256_B64_LEN	44

static int	fwstore_is_base64(const char *, size_t);
static int	fwstore_is_token(const char *);
static int	fwstore_http_date(uint64_t, char *, size_t);
static int	fwstore_if_range(const char *, const struct fwstore_grant *);
static int	fwstore_range_spec(const char *, uint64_t, uint64_t *,
		    uint64_t *);

/* Returns an open descriptor on the granted file, or -1 (logged). */
int
fwstore_firmware_open(struct fwstore *fw, const struct fwstore_grant *g)
{
	char		 path[4096];
	struct stat	 st;
	int		 fd, n;

	if (!fwstore_is_hex(g->sha256, 64)) {
		log_warnx("admind granted a bad firmware name");
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", fw->firmware_dir,
	    g->sha256);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("firmware path too long");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_warn("firmware %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("firmware %s: fstat", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != g->size) {
		log_warnx("firmware %s: %lld bytes, admind says %llu", path,
		    (long long)st.st_size, (unsigned long long)g->size);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The image headers, "Name: value\r\n" each.  Every value comes from admind
 * and is checked here, so nothing can split a header.  -1 (logged) when a
 * hash is malformed.
 */
int
fwstore_firmware_headers(const struct fwstore_grant *g, char *out,
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

/*
 * The part of the file a GET wants: 206 with [first, end) for one
 * satisfiable range, 416 for one that is not, 200 with the whole file
 * without Range, when If-Range names another version, or for what we do
 * not serve as a range (several ranges, other units, junk: RFC 9110 lets
 * a server ignore Range).
 */
int
fwstore_firmware_range(const struct http_request *req,
    const struct fwstore_grant *g, uint64_t *first, uint64_t *end)
{
	const char	*range = http_header(req, "range");
	const char	*if_range = http_header(req, "if-range");
	int		 rc;

	*first = 0;
	*end = g->size;
	if (range == NULL || (if_range != NULL && !fwstore_if_range(if_range,
	    g)))
		return 200;
	if (strncasecmp(range, "bytes=", 6) != 0 || strchr(range, ',') != NULL)
		return 200;
	rc = fwstore_range_spec(range + 6, g->size, first, end);
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
