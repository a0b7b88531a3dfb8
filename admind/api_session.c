/* SPDX-License-Identifier: MIT */
/*
 * The web page's sign-in, /admin/session: POST signs in with the admin's
 * user and password (no login needed; throttled like a Basic login) and
 * sets the otad_session cookie (HttpOnly, Secure, SameSite=Strict, Path
 * /admin, Max-Age the session's life); GET says who is signed in and how;
 * DELETE signs out and clears the cookie.  The sessions are session.c's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admind.h"
#include "session.h"
#include "json.h"
#include "util.h"

#define SESSION_COOKIE_ATTRS	"; Path=/admin; HttpOnly; Secure; " \
				"SameSite=Strict"

static void
session_json(struct buf *b, const char *user, const char *via,
    int64_t expires)
{
	buf_adds(b, "{\"user\":");
	json_str(b, user);
	buf_adds(b, ",\"via\":");
	json_str(b, via);
	buf_addc(b, ',');
	json_key(b, "expires_at");
	json_time(b, expires);
	buf_addc(b, '}');
}

void
api_session_create(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct json_value *v;
	const char	*user, *password;
	char		 err[200], id[SESSION_ID_LEN + 1], hdr[200];
	struct buf	 b = BUF_INIT;

	v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len, err,
	    sizeof(err));
	user = v ? json_get_str(v, "user") : NULL;
	password = v ? json_get_str(v, "password") : NULL;
	if (user == NULL || password == NULL || *user == '\0' ||
	    strlen(user) >= sizeof(ar->user)) {
		api_error(c, 400, "session.bad_request", "Sign in with a JSON "
		    "object such as {\"user\": \"admin\", \"password\": "
		    "\"...\"}%s%s.", v ? "" : ": ", v ? "" : err);
		json_free(v);
		return;
	}
	if (auth_password(c, req, user, password) != 1) {
		json_free(v);
		return;
	}
	if (session_create(user, id) == -1) {
		json_free(v);
		api_internal(c, "No random session id could be made");
		return;
	}
	snprintf(ar->user, sizeof(ar->user), "%s", user);
	json_free(v);
	(void)audit("admin.signed_in", ar->user, c->peer_str, 0, 0,
	    "signed in on the web page");
	snprintf(hdr, sizeof(hdr), "Set-Cookie: " SESSION_COOKIE "=%s; "
	    "Max-Age=%d" SESSION_COOKIE_ATTRS "\r\n", id, SESSION_TTL_S);
	session_json(&b, ar->user, "session", (int64_t)time(NULL) +
	    SESSION_TTL_S);
	buf_addc(&b, '\n');
	http_respond(c, 200, "application/json", hdr, b.data, b.len);
	OPENSSL_cleanse(id, sizeof(id));
	OPENSSL_cleanse(hdr, sizeof(hdr));
	buf_free(&b);
}

/* How the request was let in: "basic", "token" or "session". */
static const char *
session_via(const struct http_request *req)
{
	const char	*h = http_header(req, "authorization");

	if (h == NULL)
		return "session";
	return strncasecmp(h, "Bearer ", 7) == 0 ? "token" : "basic";
}

void
api_session_get(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	const char	*cookie = http_header(req, "cookie");
	const char	*via = session_via(req);
	char		 id[SESSION_ID_LEN + 1], user[64];
	int64_t		 expires = 0;
	struct buf	 b = BUF_INIT;

	if (strcmp(via, "session") == 0 && cookie != NULL &&
	    session_cookie(cookie, id))
		(void)session_user(id, user, sizeof(user), &expires);
	session_json(&b, ar->user, via, expires);
	api_json(c, 200, &b);
	buf_free(&b);
}

void
api_session_delete(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	const char	*cookie = http_header(req, "cookie");
	char		 id[SESSION_ID_LEN + 1];
	struct buf	 b = BUF_INIT;

	if (strcmp(session_via(req), "session") != 0 || cookie == NULL ||
	    !session_cookie(cookie, id) || !session_end(id)) {
		api_error(c, 409, "session.none", "This request was not made "
		    "with a session (Basic auth and API tokens have none to "
		    "end); nothing was signed out.");
		return;
	}
	(void)audit("admin.signed_out", ar->user, c->peer_str, 0, 0,
	    "signed out of the web page");
	events_sessions_check();	/* its live streams end too */
	buf_adds(&b, "{\"signed_out\":true}\n");
	http_respond(c, 200, "application/json", "Set-Cookie: "
	    SESSION_COOKIE "=; Max-Age=0" SESSION_COOKIE_ATTRS "\r\n",
	    b.data, b.len);
	buf_free(&b);
}
