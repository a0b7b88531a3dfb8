/* SPDX-License-Identifier: MIT */
/*
 * admind's API tokens, /admin/tokens: tokens for scripts, sent as
 * "Authorization: Bearer TOKEN" instead of an admin password.  A token is
 * shown once when created and stored only as its SHA-256; revoking it
 * (DELETE) takes effect on the next request.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define API_TOKEN_LEN		40
#define API_TOKEN_MAX_NAME	48	/* "token:NAME" fits api_req.user */

static void
api_token_json(struct buf *b, const struct api_token *t)
{
	char	 when[21];

	buf_printf(b, "{\"id\":%" PRId64 ",\"name\":", t->id);
	json_str(b, t->name);
	util_iso8601((time_t)t->created_at, when);
	buf_adds(b, ",\"created_at\":");
	json_str(b, when);
	buf_adds(b, ",\"created_by\":");
	json_str(b, t->created_by);
	buf_adds(b, ",\"last_used_at\":");
	if (t->last_used_at > 0) {
		util_iso8601((time_t)t->last_used_at, when);
		json_str(b, when);
	} else {
		buf_adds(b, "null");
	}
	buf_addc(b, '}');
}

/* The "name" of the body, checked; NULL after answering 400. */
static char *
api_token_name(struct http_conn *c, struct api_req *ar)
{
	struct json_value *v;
	const char	*name;
	char		 err[200], *out = NULL;
	size_t		 n;

	if ((v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len,
	    err, sizeof(err))) == NULL || v->kind != JSON_OBJECT) {
		api_error(c, 400, "request.bad_json", "The body must be a JSON "
		    "object such as {\"name\": \"ci-deploy\"}%s%s.",
		    v ? "" : ": ", v ? "" : err);
		json_free(v);
		return NULL;
	}
	name = json_get_str(v, "name");
	n = name ? strlen(name) : 0;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)name[i]) && name[i] != ' ')
			n = 0;
	if (n == 0 || n > API_TOKEN_MAX_NAME)
		api_error(c, 400, "token.bad_name", "Name the token after what "
		    "uses it, 1 to %d printable characters: {\"name\": "
		    "\"ci-deploy\"}.", API_TOKEN_MAX_NAME);
	else if ((out = strdup(name)) == NULL)
		api_nomem(c);
	json_free(v);
	return out;
}

void
api_tokens_create(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct api_token t;
	struct buf	 b = BUF_INIT;
	char		*name, token[API_TOKEN_LEN + 1], hash[65], loc[64];
	int64_t		 id;

	if ((name = api_token_name(c, ar)) == NULL)
		return;
	if (util_random_token(token, API_TOKEN_LEN) == 0)
		util_sha256_hex(token, hash);
	else
		hash[0] = '\0';
	if (hash[0] == '\0' || store_api_token_create(env->store, name, hash,
	    ar->user, &id) != 0 || store_api_token_get(env->store, id, &t) != 1) {
		api_internal(c, "The token could not be made");
		free(name);
		return;
	}
	audit("token.created", ar->user, c->peer_str, 0, 0, name);
	api_token_json(&b, &t);
	b.len--;
	buf_adds(&b, ",\"token\":");
	json_str(&b, token);
	buf_adds(&b, ",\"message\":\"Keep the token now: it is not shown "
	    "again. Use it as curl -H 'Authorization: Bearer TOKEN'.\"}\n");
	snprintf(loc, sizeof(loc), "Location: /admin/tokens/%" PRId64 "\r\n",
	    id);
	http_respond(c, 201, "application/json", loc, b.data, b.len);
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	api_token_free(&t);
	free(name);
}

void
api_tokens_list(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct api_token *t = NULL;
	struct buf	 b = BUF_INIT;
	size_t		 n = 0;

	if (store_api_token_list(env->store, &t, &n) == -1) {
		api_internal(c, "The database could not be read");
		return;
	}
	buf_adds(&b, "{\"tokens\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&b, ',');
		api_token_json(&b, &t[i]);
	}
	buf_printf(&b, "],\"total\":%zu}", n);
	api_json(c, 200, &b);
	buf_free(&b);
	api_token_list_free(t, n);
}

void
api_tokens_delete(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct api_token t;
	int		 found;

	if ((found = store_api_token_get(env->store, ar->id, &t)) != 1 ||
	    store_api_token_delete(env->store, ar->id) != 1) {
		if (found == 0)
			api_error(c, 404, "token.not_found", "There is no API "
			    "token %" PRId64 "; GET /admin/tokens lists them.",
			    ar->id);
		else
			api_internal(c, "The token could not be revoked");
		if (found == 1)
			api_token_free(&t);
		return;
	}
	audit("token.revoked", ar->user, c->peer_str, 0, 0, t.name);
	http_respond(c, 204, NULL, NULL, NULL, 0);
	api_token_free(&t);
}
