/* SPDX-License-Identifier: MIT */
/*
 * What a request to otad-fwstore asks for: GET or HEAD /ota/<ticket> (with
 * an optional ?auth=<device token>) or /update?auth=<token>, read from the
 * parsed request alone, and whether it is quiet (HEAD or an updater's
 * version check: headers only, no download slot).  download.c routes every
 * request through here; tests/test_fwstore.c checks it.
 */
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "http.h"

#include "fwstore.h"

#define FWSTORE_PREFIX		"/ota/"
#define FWSTORE_POLL		"/update"

static int	fwstore_route_ticket(const char *);
static int	fwstore_query_auth(const char *, char *, size_t);

/*
 * 0 with the route for GET or HEAD /ota/<ticket> and /update?auth=, else
 * the status to answer.  The query string never changes which file is
 * served (req->path holds none).
 */
int
fwstore_route(const struct http_request *req, struct fwstore_route *r)
{
	memset(r, 0, sizeof(*r));
	if (fwstore_query_auth(req->query, r->auth, sizeof(r->auth)) == -1) {
		r->auth_bad = 1;
		return 403;
	}
	if (strcmp(req->path, FWSTORE_POLL) == 0) {
		if (r->auth[0] == '\0')
			return 403;
		r->type = CTL_FW_POLL;
		r->ticket = r->auth;
	} else if (strncmp(req->path, FWSTORE_PREFIX,
	    strlen(FWSTORE_PREFIX)) == 0 &&
	    fwstore_route_ticket(req->path + strlen(FWSTORE_PREFIX))) {
		r->type = CTL_FW_CHECK;
		r->ticket = req->path + strlen(FWSTORE_PREFIX);
	} else
		return 404;
	if (req->method != HTTP_GET && req->method != HTTP_HEAD)
		return 405;
	return 0;
}

/* 1 for 1 to FWSTORE_TICKET_MAX letters and digits. */
static int
fwstore_route_ticket(const char *t)
{
	size_t	 i;

	for (i = 0; t[i] != '\0'; i++) {
		if (i == FWSTORE_TICKET_MAX ||
		    !((t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= 'a' && t[i] <= 'z') ||
		    (t[i] >= '0' && t[i] <= '9')))
			return 0;
	}
	return i > 0;
}

/*
 * The auth parameter of a query string into out: 1 when there is one, 0
 * when there is none, -1 when it is malformed: empty, too long, anything
 * but letters, digits, '-' and '_' (a token with "%00" or "." after it is
 * not the token), or given twice.  Other parameters are tolerated.
 */
static int
fwstore_query_auth(const char *q, char *out, size_t outlen)
{
	size_t	 n;
	int	 found = 0;

	out[0] = '\0';
	for (; q != NULL && *q != '\0'; q += *q == '&') {
		n = strcspn(q, "&");
		if (strncmp(q, "auth", 4) == 0 && (q[4] == '=' || n == 4)) {
			if (found++ || n <= 5 || n - 5 >= outlen ||
			    strspn(q + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
			    "klmnopqrstuvwxyz0123456789-_") < n - 5)
				return -1;
			memcpy(out, q + 5, n - 5);
			out[n - 5] = '\0';
		}
		q += n;
	}
	return found;
}

/* HEAD, or an updater's version check: headers only, no download slot. */
int
fwstore_route_quiet(const struct http_request *req)
{
	const char	*mode = http_header(req, "x-esp8266-mode");

	if (mode == NULL)
		mode = http_header(req, "x-esp32-mode");
	return req->method == HTTP_HEAD ||
	    (mode != NULL && strcasecmp(mode, "version") == 0);
}
