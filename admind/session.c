/* SPDX-License-Identifier: MIT */
/*
 * The web page's sign-in sessions, kept in otad-admind's memory (a restart
 * signs everyone out): a session is a random 256-bit id (getrandom, 44
 * base62 characters) sent as the otad_session cookie, held here only as
 * its SHA-256 with the admin's name and an expiry.  At most SESSION_MAX
 * live at once (a new one then replaces the one nearest its end); looked
 * up with a constant-time compare over every slot.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "session.h"
#include "util.h"

struct session {
	char		 hash[65];	/* sha256 of the cookie; "" free */
	char		 user[64];
	uint64_t	 expires;	/* ms, util_now_ms()'s clock */
	int64_t		 ends_at;	/* the same moment, Unix s */
};

static struct session	sessions[SESSION_MAX];

/* A free or expired slot, else the one nearest its end. */
static struct session *
session_slot(uint64_t now)
{
	struct session	*s = &sessions[0];

	for (size_t i = 0; i < SESSION_MAX; i++) {
		if (sessions[i].expires <= now)
			return &sessions[i];
		if (sessions[i].expires < s->expires)
			s = &sessions[i];
	}
	return s;
}

int
session_create(const char *user, char id[SESSION_ID_LEN + 1])
{
	struct session	*s;
	uint64_t	 now = util_now_ms();

	if (util_random_token(id, SESSION_ID_LEN) == -1)
		return -1;
	s = session_slot(now);
	util_sha256_hex(id, s->hash);
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->expires = now + SESSION_TTL_S * 1000ULL;
	s->ends_at = (int64_t)time(NULL) + SESSION_TTL_S;
	return 0;
}

/* The live session of the cookie value, or NULL; every slot is compared
 * so the time taken says nothing of which matched. */
static struct session *
session_find(const char *id)
{
	struct session	*found = NULL;
	char		 hash[65];
	uint64_t	 now = util_now_ms();

	if (strlen(id) != SESSION_ID_LEN)
		return NULL;
	util_sha256_hex(id, hash);
	for (size_t i = 0; i < SESSION_MAX; i++)
		if (CRYPTO_memcmp(sessions[i].hash, hash, 64) == 0 &&
		    sessions[i].expires > now)
			found = &sessions[i];
	return found;
}

int
session_user(const char *id, char *user, size_t userlen, int64_t *expires)
{
	struct session	*s = session_find(id);

	if (s == NULL)
		return 0;
	snprintf(user, userlen, "%s", s->user);
	if (expires != NULL)
		*expires = s->ends_at;
	return 1;
}

int
session_end(const char *id)
{
	struct session	*s = session_find(id);

	if (s == NULL)
		return 0;
	memset(s, 0, sizeof(*s));
	return 1;
}

/* Every session (the admins changed: who signed in may no longer be
 * one, or with that password). */
void
session_end_all(void)
{
	memset(sessions, 0, sizeof(sessions));
}

size_t
session_count(void)
{
	uint64_t	 now = util_now_ms();
	size_t		 n = 0;

	for (size_t i = 0; i < SESSION_MAX; i++)
		n += sessions[i].expires > now;
	return n;
}

/* The otad_session value of a Cookie header into out (at most
 * SESSION_ID_LEN characters); 0 when there is none or it is malformed. */
int
session_cookie(const char *header, char out[SESSION_ID_LEN + 1])
{
	const char	*p = header, *name = SESSION_COOKIE "=";
	size_t		 n;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		n = strcspn(p, ";");
		if (strncmp(p, name, strlen(name)) == 0) {
			p += strlen(name);
			n -= strlen(name);
			if (n != SESSION_ID_LEN)
				return 0;
			memcpy(out, p, n);
			out[n] = '\0';
			return 1;
		}
		p += n;
	}
	return 0;
}
