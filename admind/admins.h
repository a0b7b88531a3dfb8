/* SPDX-License-Identifier: MIT */
/*
 * The admins file (/etc/otad/admins): one "user:crypt-hash" line per admin,
 * '#' comments and blank lines allowed.  Hashes are what crypt(3) accepts:
 * yescrypt ($y$, mkpasswd), sha512crypt ($6$, openssl passwd -6), bcrypt
 * ($2b$/$2y$, htpasswd -B).  Run by admind, `otad init` and `otad admin`.
 */
#ifndef OTAD_ADMINS_H
#define OTAD_ADMINS_H

#include <stddef.h>

struct admins;
struct buf;

/* NULL with a sentence naming the file and line in err.  A file with no
 * usable line is an error too. */
struct admins *admins_load(const char *path, char *err, size_t errlen);
/* The same for the text of a file not yet written, called name. */
struct admins *admins_parse(const char *text, size_t len, const char *name,
	    char *err, size_t errlen);
void	 admins_free(struct admins *);
size_t	 admins_count(const struct admins *);
/* The i-th user name in file order, NULL past the last. */
const char *admins_user(const struct admins *, size_t i);
int	 admins_has(const struct admins *, const char *user);
/* What changed from old to new, for a log line: "added bob; removed
 * alice; new password for carol" (user names only) appended to out; the
 * number of users changed, -1 out of memory. */
int	 admins_changes(const struct admins *old, const struct admins *new,
	    struct buf *out);
/* 1 when user exists and password matches (constant work whether or not
 * the user exists), 0 otherwise. */
int	 admins_check(const struct admins *, const char *user,
	    const char *password);
/* A yescrypt hash of password into out; -1 on failure. */
int	 admins_hash(const char *password, char *out, size_t outlen);

#endif
