/* SPDX-License-Identifier: MIT */
/*
 * The web page's sign-in sessions of otad-admind (session.c), in memory:
 * random ids sent as the otad_session cookie, kept as their SHA-256 with
 * the admin's name and an end.
 */
#ifndef OTAD_SESSION_H
#define OTAD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_COOKIE	"otad_session"
#define SESSION_ID_LEN	44		/* base62: 261 random bits */
#define SESSION_TTL_S	(12 * 3600)
/* A new session of user: its id into id; -1 when no randomness. */
int	 session_create(const char *user, char id[SESSION_ID_LEN + 1]);
/* 1 and the admin's name (and when it ends, Unix s) for a live id. */
int	 session_user(const char *id, char *user, size_t userlen,
	    int64_t *expires);
/* 1 ended, 0 no such live session. */
int	 session_end(const char *id);
void	 session_end_all(void);
size_t	 session_count(void);
/* The session id in a Cookie header: 1 found (into id), 0 none. */
int	 session_cookie(const char *header, char id[SESSION_ID_LEN + 1]);
/* At most this many live at once. */
#define SESSION_MAX	64

#endif
