/* SPDX-License-Identifier: MIT */
/*
 * The answer and request helpers every admind API handler uses: JSON
 * responses, errors as {"error":{"code","message"}} (api_internal() for
 * every 500), query parameters and paging.  The route table that calls
 * the handlers is api_router.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Every 500 ends so: the failure itself was logged where it happened. */
#define API_SEE_LOG	"; see the log of otad-admind."

int
api_json(struct http_conn *c, int status, struct buf *body)
{
	buf_addc(body, '\n');
	return http_respond(c, status, "application/json", NULL, body->data,
	    body->len);
}

static int
api_error_v(struct http_conn *c, int status, const char *code,
    const char *extra_headers, int refuse, const char *fmt, va_list ap)
{
	struct buf	 msg = BUF_INIT, body = BUF_INIT;
	int		 rc;

	buf_vprintf(&msg, fmt, ap);
	buf_adds(&body, "{\"error\":{\"code\":");
	json_str(&body, code);
	buf_adds(&body, ",\"message\":");
	json_str(&body, buf_cstr(&msg));
	buf_adds(&body, "}}\n");
	if (refuse)
		rc = http_refuse(c, status, "application/json", extra_headers,
		    body.data, body.len);
	else
		rc = http_respond(c, status, "application/json", extra_headers,
		    body.data, body.len);
	buf_free(&msg);
	buf_free(&body);
	return rc;
}

int
api_error(struct http_conn *c, int status, const char *code,
    const char *fmt, ...)
{
	va_list		 ap;
	int		 rc;

	/* Errors end the connection with a lingering close: a request body
	 * may still be on its way, and curl must see the answer. */
	va_start(ap, fmt);
	rc = api_error_v(c, status, code, NULL, 1, fmt, ap);
	va_end(ap);
	return rc;
}

int
api_error_h(struct http_conn *c, int status, const char *code,
    const char *headers, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = api_error_v(c, status, code, headers, 1, fmt, ap);
	va_end(ap);
	return rc;
}

/* The 500 answers: "<what failed>" API_SEE_LOG. */
int
api_internal(struct http_conn *c, const char *fmt, ...)
{
	struct buf	 what = BUF_INIT;
	va_list		 ap;
	int		 rc;

	va_start(ap, fmt);
	buf_vprintf(&what, fmt, ap);
	va_end(ap);
	if (store_unreachable(env->store))
		rc = api_error(c, 503, "database.unreachable", "%s: the "
		    "database cannot be reached. otad connects again by "
		    "itself (every 2 s); devices stay connected meanwhile. "
		    "Try again in a moment; admind's log says why.",
		    buf_cstr(&what));
	else
		rc = api_error(c, 500, "internal", "%s" API_SEE_LOG,
		    buf_cstr(&what));
	buf_free(&what);
	return rc;
}

int
api_nomem(struct http_conn *c)
{
	return api_error(c, 500, "internal", "Out of memory; try again.");
}

int
api_fault(struct api_fault *f, int status, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	f->status = status;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
api_fault_internal(struct api_fault *f, const char *what)
{
	return api_fault(f, 500, "internal", "%s" API_SEE_LOG, what);
}

int
api_fault_answer(struct http_conn *c, const struct api_fault *f)
{
	return api_error(c, f->status, f->code, "%s", f->msg);
}

static int
api_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static char *
api_unescape(const char *s, size_t n)
{
	char	*out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    api_hexval(s[i + 1]) >= 0 && api_hexval(s[i + 2]) >= 0) {
			*o++ = (char)(api_hexval(s[i + 1]) * 16 +
			    api_hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

char *
api_query(const struct http_request *req, const char *name)
{
	const char	*p = req->query, *amp, *eq;
	size_t		 nlen = strlen(name);

	while (p && *p) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		if ((size_t)((eq ? eq : amp) - p) == nlen &&
		    strncmp(p, name, nlen) == 0)
			return eq ? api_unescape(eq + 1, (size_t)(amp - eq - 1))
			    : strdup("");
		p = *amp ? amp + 1 : amp;
	}
	return NULL;
}

int
api_name_allowed(const char *allowed, const char *name, size_t n)
{
	char	 probe[64];

	if (allowed == NULL || n == 0 || n > sizeof(probe) - 3)
		return 0;
	if (strcmp(allowed, "*") == 0)
		return 1;
	snprintf(probe, sizeof(probe), ",%.*s,", (int)n, name);
	return strstr(allowed, probe) != NULL;
}

int
api_query_bool(const struct http_request *req, const char *name)
{
	char	*s = api_query(req, name);
	int	 v;

	v = s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
	free(s);
	return v;
}

/* ?name= as an id filter (?job=, ?device=) into out, 0 when absent; -1
 * after a 400 when it is no id (a filter that read as "none" would match
 * everything). */
int
api_query_id(struct http_conn *c, struct http_request *req,
    const char *name, int64_t *out)
{
	uint64_t	 v = 0;
	char		*s = api_query(req, name);
	int		 rc = 0;

	if (s && (util_parse_u64(s, &v) == -1 || v > INT64_MAX)) {
		api_error(c, 400, "request.bad_filter", "?%s= is a %s id, a "
		    "whole number.", name, name);
		rc = -1;
	}
	free(s);
	*out = (int64_t)v;
	return rc;
}

int
api_paging(struct http_conn *c, struct http_request *req, int64_t *limit,
    int64_t *offset)
{
	static const char *names[] = { "limit", "offset" };
	int64_t		*out[] = { limit, offset };
	uint64_t	 v;
	char		*s;

	*limit = -1;
	*offset = 0;
	for (size_t i = 0; i < nitems(names); i++) {
		if ((s = api_query(req, names[i])) == NULL)
			continue;
		if (util_parse_u64(s, &v) == -1 || v > INT32_MAX) {
			api_error(c, 400, "request.bad_paging", "?%s=%s is not "
			    "a whole number; page with ?limit=50&offset=100.",
			    names[i], s);
			free(s);
			return -1;
		}
		*out[i] = (int64_t)v;
		free(s);
	}
	return 0;
}
