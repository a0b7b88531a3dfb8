/* SPDX-License-Identifier: MIT */
/*
 * admind's access checks, run on every request before its body is read:
 * the client's address (the peer, or behind a reverse proxy listed in
 * trusted_proxies the right-most X-Forwarded-For address that is not a
 * proxy), the IP allow-list (allowed_ips; IPv4 rules match IPv4-mapped IPv6
 * clients), the failed-login throttle per client (an IPv4 address or an
 * IPv6 /64; 429 with Retry-After past AUTH_FAIL_MAX failures a minute, kept
 * until it expires), then HTTP Basic auth
 * against the admins file, an API token (Authorization: Bearer, stored
 * as its SHA-256) or the web page's session cookie (session.c; a request
 * that changes something must then come with this origin's Origin).  A
 * successful password check is cached for a minute so a busy script does
 * not pay the password hash on every request.  A browser's script (a
 * Sec-Fetch-Mode other than navigate) gets no Basic challenge: the page
 * shows its own sign-in form, never the browser's prompt.
 */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admind.h"
#include "buf.h"
#include "session.h"
#include "log.h"
#include "util.h"

#define AUTH_CACHE_SLOTS	16
#define AUTH_CACHE_MS		(60 * 1000)
#define AUTH_MAX_HEADER		1024
#define AUTH_MAX_BEARER		128
#define AUTH_FAIL_MAX		10		/* failed logins a window */
#define AUTH_FAIL_WINDOW_MS	(60 * 1000)
#define AUTH_THROTTLE_SLOTS	256
#define AUTH_FAIL_GLOBAL	1000		/* all clients a window: logged */

struct auth_cached {
	char		 key[65];	/* sha256 of "user:password" */
	uint64_t	 expires;
};

/* Failed logins of one client (netaddr_client) in the current window. */
struct auth_failures {
	char		 addr[64];
	uint64_t	 window_end;	/* ms; 0: slot free */
	unsigned	 count;
	unsigned	 refused;	/* 429s answered in this window */
};

static struct auth_cached	auth_cache[AUTH_CACHE_SLOTS];
static struct auth_failures	auth_fails[AUTH_THROTTLE_SLOTS];
static struct auth_counters	auth_counters;
static struct auth_failures	auth_global;	/* every client together */

int
auth_client(struct http_conn *c, struct http_request *req)
{
	const char	*xff = NULL;

	c->client = c->peer;
	if (netaddr_acl_match(&env->trusted_proxies,
	    (struct sockaddr *)&c->peer)) {
		/* the last one: a proxy that adds a header adds it last */
		for (size_t i = 0; i < req->nheaders; i++)
			if (strcmp(req->headers[i].name, "x-forwarded-for") ==
			    0)
				xff = req->headers[i].value;
	}
	if (xff != NULL &&
	    netaddr_forwarded(xff, &env->trusted_proxies, &c->client) == -1) {
		netaddr_format((struct sockaddr *)&c->peer, c->peer_str,
		    sizeof(c->peer_str), 0);
		log_warnx("admin API: proxy %s sent X-Forwarded-For \"%.100s\" "
		    "that names no client address", c->peer_str, xff);
		api_error(c, 400, "request.bad_forwarded_for", "The proxy "
		    "sent an X-Forwarded-For header that is not a list of "
		    "IP addresses.");
		return 0;
	}
	netaddr_format((struct sockaddr *)&c->client, c->peer_str,
	    sizeof(c->peer_str), 0);
	return 1;
}

int
auth_ip_allowed(struct http_conn *c)
{
	char	 field[96];

	if (netaddr_acl_match(&env->acl, (struct sockaddr *)&c->client))
		return 1;
	snprintf(field, sizeof(field), "REMOTE_ADDR=%s", c->peer_str);
	log_fields(LOG_WARNING, (const char *[]){ field, NULL },
	    "admin API: refused %s: not in allowed_ips", c->peer_str);
	api_error(c, 403, "auth.address_not_allowed", "Your address %s is "
	    "not allowed to use the admin API. Add it to allowed_ips in the "
	    "[admind] section of %s and restart otad-admind.", c->peer_str,
	    env->cfg.path);
	return 0;
}

const struct auth_counters *
auth_stats(void)
{
	return &auth_counters;
}

/* A slot a new client may take: a free or expired one, else the one of
 * the client that started counting first and is not throttled.  A
 * throttled client keeps its slot until its window ends, whatever others
 * fail: else 256 addresses failing once would lift its throttle. */
static struct auth_failures *
auth_fail_victim(uint64_t now)
{
	struct auth_failures *victim = NULL, *f;

	for (size_t i = 0; i < AUTH_THROTTLE_SLOTS; i++) {
		f = &auth_fails[i];
		if (f->window_end <= now)
			return f;
		if (f->count < AUTH_FAIL_MAX && (victim == NULL ||
		    f->window_end < victim->window_end))
			victim = f;
	}
	return victim;
}

/* The client's slot, or NULL; with create, a new one when there is room. */
static struct auth_failures *
auth_fail_slot(const char *client, int create)
{
	struct auth_failures *f;
	uint64_t	 now = util_now_ms();

	for (size_t i = 0; i < AUTH_THROTTLE_SLOTS; i++)
		if (auth_fails[i].window_end > now &&
		    strcmp(auth_fails[i].addr, client) == 0)
			return &auth_fails[i];
	if (!create || (f = auth_fail_victim(now)) == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	snprintf(f->addr, sizeof(f->addr), "%s", client);
	f->window_end = now + AUTH_FAIL_WINDOW_MS;
	return f;
}

/* Every client's failures together: logged once a window past the budget
 * (many addresses guessing slowly each stay under AUTH_FAIL_MAX). */
static void
auth_fail_global(void)
{
	uint64_t	 now = util_now_ms();

	if (auth_global.window_end <= now) {
		auth_global.window_end = now + AUTH_FAIL_WINDOW_MS;
		auth_global.count = 0;
	}
	if (++auth_global.count == AUTH_FAIL_GLOBAL + 1)
		log_fields(LOG_WARNING, NULL, "admin API: more than %u failed "
		    "logins within a minute from all addresses together; "
		    "someone may be guessing passwords from many addresses",
		    AUTH_FAIL_GLOBAL);
}

static void
auth_fail_count(struct http_conn *c)
{
	struct auth_failures *f;
	char		 client[64];

	netaddr_client((struct sockaddr *)&c->client, client, sizeof(client));
	auth_counters.failed++;
	auth_fail_global();
	if ((f = auth_fail_slot(client, 1)) == NULL)
		return;		/* every slot throttled: the budget counts it */
	if (++f->count == AUTH_FAIL_MAX)
		log_fields(LOG_WARNING, NULL, "admin API: %u failed logins "
		    "from %s within a minute; refusing it for %" PRIu64 " s",
		    f->count, client,
		    (f->window_end - util_now_ms() + 999) / 1000);
}

/* 1 when the client is throttled (429 sent). */
static int
auth_throttled(struct http_conn *c)
{
	struct auth_failures *f;
	char		 hdr[64], client[64];
	uint64_t	 wait;

	netaddr_client((struct sockaddr *)&c->client, client, sizeof(client));
	if ((f = auth_fail_slot(client, 0)) == NULL || f->count < AUTH_FAIL_MAX)
		return 0;
	wait = (f->window_end - util_now_ms() + 999) / 1000;
	if (f->refused++ == 0)
		log_fields(LOG_WARNING, NULL, "admin API: throttled %s after "
		    "%u failed logins", client, f->count);
	auth_counters.throttled++;
	snprintf(hdr, sizeof(hdr), "Retry-After: %" PRIu64 "\r\n", wait);
	api_error_h(c, 429, "auth.too_many_failures", hdr, "Too many failed "
	    "logins from %s (%u within a minute). Wait %" PRIu64 " seconds, "
	    "then try again with the right user and password.", c->peer_str,
	    f->count, wait);
	return 1;
}

static int
auth_cache_hit(const char *key)
{
	uint64_t now = util_now_ms();

	for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
		if (auth_cache[i].expires > now &&
		    CRYPTO_memcmp(auth_cache[i].key, key, 64) == 0)
			return 1;
	return 0;
}

static void
auth_cache_add(const char *key)
{
	size_t	 oldest = 0;

	for (size_t i = 1; i < AUTH_CACHE_SLOTS; i++)
		if (auth_cache[i].expires < auth_cache[oldest].expires)
			oldest = i;
	memcpy(auth_cache[oldest].key, key, 65);
	auth_cache[oldest].expires = util_now_ms() + AUTH_CACHE_MS;
}

/* Decodes "Basic base64(user:password)" into out; -1 when malformed. */
static int
auth_basic_decode(const char *header, char *out, size_t outlen)
{
	size_t	 n, pad = 0;
	int	 len;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return -1;
	header += 6;
	while (*header == ' ')
		header++;
	n = strlen(header);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= outlen)
		return -1;
	if ((len = EVP_DecodeBlock((unsigned char *)out,
	    (const unsigned char *)header, (int)n)) < 0)
		return -1;
	if (header[n - 1] == '=')
		pad++;
	if (header[n - 2] == '=')
		pad++;
	len -= (int)pad;
	out[len] = '\0';
	if (memchr(out, '\0', (size_t)len) != NULL || strchr(out, ':') == NULL)
		return -1;
	return 0;
}

/* 1 when a browser's script sent the request (fetch, EventSource): it
 * must not make the browser prompt for a password. */
static int
auth_from_script(const struct http_request *req)
{
	const char	*mode = http_header(req, "sec-fetch-mode");

	return mode != NULL && strcmp(mode, "navigate") != 0;
}

/* counted: a failed login (wrong credentials), not merely none sent. */
static int
auth_refuse(struct http_conn *c, const struct http_request *req,
    const char *why, int counted)
{
	log_fields(LOG_WARNING, NULL, "admin API: %s from %s", why,
	    c->peer_str);
	if (counted)
		auth_fail_count(c);
	api_error_h(c, 401, "auth.required", auth_from_script(req) ? NULL :
	    "WWW-Authenticate: Basic realm=\"otad\", charset=\"UTF-8\"\r\n",
	    "%s. Sign in on the page at /admin/, or give an admin user and password from the admins file, "
	    "e.g. curl -u admin:PASSWORD (otad init printed them; the "
	    "package keeps them in /etc/otad/admin-password), or an API "
	    "token: curl -H 'Authorization: Bearer TOKEN'.", why);
	return 0;
}

static void
auth_success(struct http_conn *c)
{
	struct auth_failures *f;
	char		 client[64];

	netaddr_client((struct sockaddr *)&c->client, client, sizeof(client));
	f = auth_fail_slot(client, 0);
	auth_counters.ok++;
	if (f != NULL)
		f->window_end = 0;	/* a good login forgives the typos */
}

/* Authorization: Bearer <API token>; user becomes "token:<name>". */
static int
auth_bearer(struct http_conn *c, const struct http_request *req,
    const char *h, char *user, size_t userlen)
{
	struct api_token t;
	char		 hash[65];
	int		 found;

	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0' || strlen(h) > AUTH_MAX_BEARER)
		return auth_refuse(c, req, "The Bearer token is empty or too long",
		    1);
	util_sha256_hex(h, hash);
	if ((found = store_api_token_by_hash(env->store, hash, &t)) == -1) {
		api_internal(c, "The database could not be read");
		return 0;
	}
	if (found == 0)
		return auth_refuse(c, req, "Unknown or revoked API token", 1);
	snprintf(user, userlen, "token:%s", t.name);
	/* When it was last used is a statistic: a failed write (logged by
	 * the store) does not refuse the request. */
	if (store_api_token_used(env->store, t.id) == -1)
		log_debug("API token %" PRId64 ": its use is not stored", t.id);
	api_token_free(&t);
	auth_success(c);
	return 1;
}

/* 1 when a request that may change something names this origin: the
 * scheme and the Host it was sent to; without an Origin, 1 only when
 * absent_ok (a script's sign-in: curl sends none, browsers always do). */
static int
auth_same_origin(const struct http_request *req, int absent_ok)
{
	const char	*origin = http_header(req, "origin");
	const char	*host = http_header(req, "host");
	const char	*rest;

	if (strcmp(req->method_name, "GET") == 0 ||
	    strcmp(req->method_name, "HEAD") == 0)
		return 1;
	if (origin == NULL)
		return absent_ok;
	if (host == NULL)
		return 0;
	if (strncmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else if (strncmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else
		return 0;
	return strcasecmp(rest, host) == 0;
}

/* No Authorization header: the session cookie of the web page. */
static int
auth_session(struct http_conn *c, const struct http_request *req, char *user,
    size_t userlen)
{
	const char	*cookie = http_header(req, "cookie");
	char		 id[SESSION_ID_LEN + 1];

	if ((cookie == NULL || !session_cookie(cookie, id)) &&
	    auth_from_script(req)) {
		api_error(c, 401, "auth.required", "You are not signed in, or "
		    "your session has ended (signed out, expired, or "
		    "otad-admind restarted). Sign in again at /admin/.");
		return 0;
	}
	if (cookie == NULL || !session_cookie(cookie, id))
		return auth_refuse(c, req, "No credentials were sent", 0);
	if (!session_user(id, user, userlen, NULL)) {
		log_fields(LOG_INFO, NULL, "admin API: an ended session from "
		    "%s", c->peer_str);
		api_error(c, 401, "auth.session_ended", "Your session has "
		    "ended (signed out, expired, or otad-admind restarted). "
		    "Sign in again at /admin/.");
		return 0;
	}
	if (!auth_same_origin(req, 0)) {
		log_fields(LOG_WARNING, NULL, "admin API: %s %s from %s with "
		    "a session cookie but another or no Origin: refused",
		    req->method_name, req->path, c->peer_str);
		api_error(c, 403, "auth.cross_origin", "A request that changes "
		    "something with the page's session must come from the page "
		    "itself (its Origin header must be this server). Use the "
		    "page at /admin/, or Basic auth or an API token from a "
		    "script.");
		return 0;
	}
	auth_counters.ok++;
	return 1;
}

int
auth_password(struct http_conn *c, const struct http_request *req,
    const char *user, const char *password)
{
	if (auth_throttled(c))
		return 0;
	if (!auth_same_origin(req, 1)) {
		log_fields(LOG_WARNING, NULL, "admin API: a sign-in from %s "
		    "sent by another site's page: refused", c->peer_str);
		api_error(c, 403, "auth.cross_origin", "Sign in on the page "
		    "at /admin/ of this server, not from another site.");
		return 0;
	}
	if (!admins_check(env->admins, user, password)) {
		log_fields(LOG_WARNING, NULL, "admin API: wrong user or "
		    "password at sign-in from %s", c->peer_str);
		auth_fail_count(c);
		api_error(c, 401, "auth.wrong_password", "Wrong user or "
		    "password. Check them and try again (otad init printed "
		    "them; the package keeps the first admin's password in "
		    "/etc/otad/admin-password).");
		return 0;
	}
	auth_success(c);
	return 1;
}

/*
 * SIGHUP: read the admins file again (`otad admin` edits it).  A file that
 * does not load leaves the current admins in place; the log names what
 * changed, never a hash.  Cached logins go: a removed admin or an old
 * password stops working at once.
 */
void
auth_reload_admins(void)
{
	struct admins	*a;
	struct buf	 changes = BUF_INIT;
	const char	*path = env->cfg.admind.admins_file;
	char		 err[512];
	int		 n;

	if ((a = admins_load(path, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: kept the current %zu admin(s): %s",
		    admins_count(env->admins), err);
		return;
	}
	if ((n = admins_changes(env->admins, a, &changes)) == -1) {
		log_warnx("SIGHUP: kept the current admins: out of memory");
		admins_free(a);
		buf_free(&changes);
		return;
	}
	admins_free(env->admins);
	env->admins = a;
	OPENSSL_cleanse(auth_cache, sizeof(auth_cache));
	if (n > 0 && session_count() > 0) {
		log_info("SIGHUP: the admins changed: the web page's %zu "
		    "session(s) end (sign in again)", session_count());
		session_end_all();
	}
	if (n == 0)
		log_info("SIGHUP: reloaded %s: no change (%zu admin(s))",
		    path, admins_count(a));
	else
		log_info("SIGHUP: reloaded %s: %s (%zu admin(s))", path,
		    buf_cstr(&changes), admins_count(a));
	buf_free(&changes);
}

int
auth_check(struct http_conn *c, struct http_request *req, char *user,
    size_t userlen)
{
	const char	*h = http_header(req, "authorization");
	char		 cred[AUTH_MAX_HEADER], key[65], *colon;
	int		 ok;

	if (auth_throttled(c))
		return 0;
	if (h == NULL)
		return auth_session(c, req, user, userlen);
	if (strncasecmp(h, "Bearer ", 7) == 0)
		return auth_bearer(c, req, h, user, userlen);
	if (strlen(h) > AUTH_MAX_HEADER / 2 ||
	    auth_basic_decode(h, cred, sizeof(cred)) == -1)
		return auth_refuse(c, req, "The Authorization header is not "
		    "HTTP Basic user:password", 1);
	util_sha256_hex(cred, key);
	colon = strchr(cred, ':');
	*colon = '\0';
	ok = auth_cache_hit(key) ||
	    admins_check(env->admins, cred, colon + 1);
	if (!ok) {
		OPENSSL_cleanse(cred, sizeof(cred));
		return auth_refuse(c, req, "Wrong user or password", 1);
	}
	auth_cache_add(key);
	snprintf(user, userlen, "%s", cred);
	OPENSSL_cleanse(cred, sizeof(cred));
	auth_success(c);
	return 1;
}
