/* SPDX-License-Identifier: MIT */
/*
 * admind's access checks, run on every request before its body is read:
 * the IP allow-list (allowed_ips; IPv4 rules match IPv4-mapped IPv6
 * clients) and HTTP Basic auth against the admins file.  A successful
 * check is cached for a minute so a busy script does not pay the password
 * hash on every request.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admind.h"
#include "log.h"
#include "util.h"

#define AUTH_CACHE_SLOTS	16
#define AUTH_CACHE_MS		(60 * 1000)
#define AUTH_MAX_HEADER		1024

struct auth_cached {
	char		 key[65];	/* sha256 of "user:password" */
	uint64_t	 expires;
};

static struct auth_cached auth_cache[AUTH_CACHE_SLOTS];

int
auth_ip_allowed(struct http_conn *c)
{
	char	 field[96];

	if (netaddr_acl_match(&env->acl, (struct sockaddr *)&c->peer))
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

static int
auth_refuse(struct http_conn *c, const char *why)
{
	log_fields(LOG_WARNING, NULL, "admin API: %s from %s", why,
	    c->peer_str);
	api_error_h(c, 401, "auth.required",
	    "WWW-Authenticate: Basic realm=\"otad\", charset=\"UTF-8\"\r\n",
	    "%s. Give an admin user and password from the admins file, "
	    "e.g. curl -u admin:PASSWORD (otad init printed them; the "
	    "package keeps them in /etc/otad/admin-password).", why);
	return 0;
}

int
auth_check(struct http_conn *c, struct http_request *req, char *user,
    size_t userlen)
{
	const char	*h = http_header(req, "authorization");
	char		 cred[AUTH_MAX_HEADER], key[65], *colon;
	int		 ok;

	if (h == NULL)
		return auth_refuse(c, "No credentials were sent");
	if (strlen(h) > AUTH_MAX_HEADER / 2 ||
	    auth_basic_decode(h, cred, sizeof(cred)) == -1)
		return auth_refuse(c, "The Authorization header is not "
		    "HTTP Basic user:password");
	util_sha256_hex(cred, key);
	colon = strchr(cred, ':');
	*colon = '\0';
	ok = auth_cache_hit(key) ||
	    admins_check(env->admins, cred, colon + 1);
	if (!ok) {
		OPENSSL_cleanse(cred, sizeof(cred));
		return auth_refuse(c, "Wrong user or password");
	}
	auth_cache_add(key);
	snprintf(user, userlen, "%s", cred);
	OPENSSL_cleanse(cred, sizeof(cred));
	return 1;
}
