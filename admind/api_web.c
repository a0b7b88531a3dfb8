/* SPDX-License-Identifier: MIT */
/*
 * admind's web admin page: GET /admin/ (the page) and GET /admin/ui/<file>
 * (its script, style sheet and icon), the files of admind/web/ embedded
 * into otad-admind at build time (web_assets.c, made by web/embed.py),
 * with Debian's Chart.js.  They pass the allow-list but need no login:
 * they hold nothing of the fleet, and the page signs in with its own form
 * (api_session.c), whose cookie its fetch() and EventSource calls then
 * carry.  Everything is served from this origin
 * under a Content-Security-Policy of default-src 'self'; GET / and
 * GET /admin lead to the page.
 */
#include <string.h>

#include "admind.h"
#include "web_assets.h"

#define WEB_PREFIX	"/admin/ui/"
#define WEB_INDEX	"index.html"

/* Every answer of this file: revalidate (ETag), this origin only. */
#define WEB_HEADERS							\
	"Cache-Control: no-cache\r\n"					\
	"Content-Security-Policy: default-src 'self'; base-uri 'none'; "	\
	    "form-action 'self'; frame-ancestors 'none'\r\n"		\
	"X-Content-Type-Options: nosniff\r\n"				\
	"X-Frame-Options: DENY\r\n"					\
	"Referrer-Policy: no-referrer\r\n"

static const struct web_asset *
web_find(const char *name)
{
	for (size_t i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].name, name) == 0)
			return &web_assets[i];
	return NULL;
}

/* 1 when the client's If-None-Match names the asset's ETag. */
static int
web_fresh(struct http_request *req, const struct web_asset *a)
{
	const char	*inm = http_header(req, "if-none-match");

	return inm != NULL && (strstr(inm, a->etag) != NULL ||
	    strcmp(inm, "*") == 0);
}

void
api_web(struct http_conn *c, struct http_request *req, struct api_req *ar)
{
	const struct web_asset *a;
	const char	*name;
	char		 hdr[512];

	if (strcmp(req->path, "/") == 0 || strcmp(req->path, "/admin") == 0) {
		http_respond(c, 302, "text/plain; charset=utf-8",
		    WEB_HEADERS "Location: /admin/\r\n", "/admin/\n", 8);
		return;
	}
	if (strcmp(req->path, "/admin/") == 0)
		name = WEB_INDEX;
	else
		name = req->path + strlen(WEB_PREFIX);
	if ((a = web_find(name)) == NULL) {
		api_error(c, 404, "not_found", "There is no %s. The admin page "
		    "is at /admin/.", req->path);
		return;
	}
	snprintf(hdr, sizeof(hdr), WEB_HEADERS "ETag: %s\r\n", a->etag);
	if (web_fresh(req, a))
		http_respond(c, 304, NULL, hdr, NULL, 0);
	else
		http_respond(c, 200, a->type, hdr, a->data, a->len);
}
