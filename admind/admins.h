/* SPDX-License-Identifier: MIT */
/*
 * The admins file (/etc/otad/admins): one "user:crypt-hash" line per admin,
 * '#' comments and blank lines allowed.  Hashes are what crypt(3) accepts:
 * yescrypt ($y$, mkpasswd), sha512crypt ($6$, openssl passwd -6), bcrypt
 * ($2b$/$2y$, htpasswd -B).  Run by admind and `otad init`.
 */
#ifndef OTAD_ADMINS_H
#define OTAD_ADMINS_H

#include <stddef.h>

struct admins;

/* NULL with a sentence naming the file and line in err.  A file with no
 * usable line is an error too. */
struct admins *admins_load(const char *path, char *err, size_t errlen);
void	 admins_free(struct admins *);
size_t	 admins_count(const struct admins *);
/* 1 when user exists and password matches (constant work whether or not
 * the user exists), 0 otherwise. */
int	 admins_check(const struct admins *, const char *user,
	    const char *password);
/* A yescrypt hash of password into out; -1 on failure. */
int	 admins_hash(const char *password, char *out, size_t outlen);

#endif
