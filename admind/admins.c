/* SPDX-License-Identifier: MIT */
/*
 * The admins file for admind's HTTP Basic auth and for `otad init` (see
 * admins.h): "user:crypt-hash" lines checked with crypt_r(3) from
 * libxcrypt.  A check costs one hash whether or not the user exists: for
 * an unknown user we hash against the first admin's hash (so with the
 * same method and cost) and throw the result away.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admins.h"
#include "buf.h"
#include "log.h"

struct admin {
	char	*user;
	char	*hash;
};

struct admins {
	struct admin	*admin;
	size_t		 n;
};

static struct admins *admins_read(FILE *, const char *, char *, size_t);
static int	admins_line(struct admins *, char *, const char *, size_t,
		    char *, size_t);
static int	admins_add(struct admins *, const char *, const char *);
static const char *admins_hash_problem(const char *);
static const char *admins_hash_complete(const char *);
static int	admins_equal(const char *, const char *);

struct admins *
admins_load(const char *path, char *err, size_t errlen)
{
	struct admins	*a;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	a = admins_read(fp, path, err, errlen);
	fclose(fp);
	return a;
}

struct admins *
admins_parse(const char *text, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct admins	*a;
	FILE		*fp;

	if (len == 0) {
		snprintf(err, errlen, "%s: no admin defined (add a "
		    "user:hash line)", name);
		return NULL;
	}
	if ((fp = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return NULL;
	}
	a = admins_read(fp, name, err, errlen);
	fclose(fp);
	return a;
}

/* The lines of fp; name is the file's name in the messages. */
static struct admins *
admins_read(FILE *fp, const char *name, char *err, size_t errlen)
{
	struct admins	*a;
	char		*line = NULL;
	size_t		 linesz = 0, lineno = 0;
	ssize_t		 len;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	while ((len = getline(&line, &linesz, fp)) != -1) {
		lineno++;
		if (strlen(line) != (size_t)len) {
			snprintf(err, errlen, "%s line %zu: NUL byte in the "
			    "line", name, lineno);
			goto fail;
		}
		if (admins_line(a, line, name, lineno, err, errlen) == -1)
			goto fail;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto fail;
	}
	if (a->n == 0) {
		snprintf(err, errlen, "%s: no admin defined (add a "
		    "user:hash line)", name);
		goto fail;
	}
	free(line);
	return a;
fail:
	free(line);
	admins_free(a);
	return NULL;
}

void
admins_free(struct admins *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->admin[i].user);
		free(a->admin[i].hash);
	}
	free(a->admin);
	free(a);
}

size_t
admins_count(const struct admins *a)
{
	return a->n;
}

const char *
admins_user(const struct admins *a, size_t i)
{
	return i < a->n ? a->admin[i].user : NULL;
}

/* The hash of user in a, NULL when a has no such user. */
static const char *
admins_find(const struct admins *a, const char *user)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->admin[i].user, user) == 0)
			return a->admin[i].hash;
	return NULL;
}

int
admins_has(const struct admins *a, const char *user)
{
	return admins_find(a, user) != NULL;
}

/* Appends "; <what> u1, u2" for the users of a that pass the test. */
static int
admins_list_changes(const struct admins *a, const struct admins *other,
    int changed, const char *what, struct buf *out)
{
	const char	*sep = "";
	const char	*h;
	int		 n = 0;

	for (size_t i = 0; i < a->n; i++) {
		h = admins_find(other, a->admin[i].user);
		if (changed ? h == NULL || strcmp(h, a->admin[i].hash) == 0 :
		    h != NULL)
			continue;
		if (n++ == 0)
			sep = out->len > 0 ? "; " : "";
		if (buf_printf(out, "%s%s%s", sep, n == 1 ? what : "",
		    a->admin[i].user) == -1)
			return -1;
		sep = ", ";
	}
	return n;
}

int
admins_changes(const struct admins *old, const struct admins *new,
    struct buf *out)
{
	int	 added, removed, changed;

	if ((added = admins_list_changes(new, old, 0, "added ", out)) == -1 ||
	    (removed = admins_list_changes(old, new, 0, "removed ", out)) ==
	    -1 || (changed = admins_list_changes(new, old, 1,
	    "new password for ", out)) == -1)
		return -1;
	return added + removed + changed;
}

int
admins_check(const struct admins *a, const char *user, const char *password)
{
	struct crypt_data	*cd;
	const char		*hash, *out;
	int			 ok;

	if (a == NULL || a->n == 0 || user == NULL || password == NULL)
		return 0;
	hash = admins_find(a, user);
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		log_warn("admins: crypt_data");
		return 0;
	}
	/* An unknown user costs a hash all the same. */
	out = crypt_r(password, hash != NULL ? hash : a->admin[0].hash, cd);
	ok = hash != NULL && out != NULL && out[0] != '*' &&
	    admins_equal(out, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
admins_hash(const char *password, char *out, size_t outlen)
{
	struct crypt_data	*cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;
	int			 rc = -1;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		log_warn("admins: crypt_gensalt_rn");
		return -1;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		log_warn("admins: crypt_data");
		return -1;
	}
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] == '*')
		log_warnx("admins: crypt_r failed");
	else if (strlen(h) >= outlen)
		log_warnx("admins: hash longer than %zu bytes", outlen);
	else {
		memcpy(out, h, strlen(h) + 1);
		rc = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* One line: blank, "# comment", or "user:hash". */
static int
admins_line(struct admins *a, char *line, const char *path, size_t lineno,
    char *err, size_t errlen)
{
	char		*p, *e, *colon;
	const char	*problem;

	p = line + strspn(line, " \t");
	for (e = p + strlen(p); e > p && strchr(" \t\r\n", e[-1]) != NULL; e--)
		;
	*e = '\0';
	if (*p == '\0' || *p == '#')
		return 0;
	if ((colon = strchr(p, ':')) == NULL) {
		snprintf(err, errlen, "%s line %zu: expected user:hash",
		    path, lineno);
		return -1;
	}
	*colon = '\0';
	if (*p == '\0' || strpbrk(p, " \t") != NULL) {
		snprintf(err, errlen, "%s line %zu: empty user name or "
		    "blanks in it", path, lineno);
		return -1;
	}
	if ((problem = admins_hash_problem(colon + 1)) != NULL) {
		snprintf(err, errlen, "%s line %zu: %s for user %s", path,
		    lineno, problem, p);
		return -1;
	}
	if (admins_find(a, p) != NULL) {
		snprintf(err, errlen, "%s line %zu: user %s appears twice",
		    path, lineno, p);
		return -1;
	}
	if (admins_add(a, p, colon + 1) == -1) {
		snprintf(err, errlen, "%s line %zu: out of memory", path,
		    lineno);
		return -1;
	}
	return 0;
}

static int
admins_add(struct admins *a, const char *user, const char *hash)
{
	struct admin	*v;
	char		*u, *h;

	if ((v = reallocarray(a->admin, a->n + 1, sizeof(*v))) == NULL)
		return -1;
	a->admin = v;
	u = strdup(user);
	h = strdup(hash);
	if (u == NULL || h == NULL) {
		free(u);
		free(h);
		return -1;
	}
	v[a->n].user = u;
	v[a->n].hash = h;
	a->n++;
	return 0;
}

/* Why crypt(3) will not take this hash, or NULL when it will. */
static const char *
admins_hash_problem(const char *hash)
{
	if (*hash == '\0')
		return "empty hash";
	if (hash[0] != '$' || strpbrk(hash, ": \t") != NULL)
		return "not a crypt hash (make one with openssl passwd -6 "
		    "or mkpasswd)";
	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_TOO_CHEAP:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		return "hash method too weak (use openssl passwd -6 or "
		    "mkpasswd)";
	default:
		return "hash method not supported by crypt(3)";
	}
	return admins_hash_complete(hash);
}

/* A trial hash: a damaged hash fails or comes out with another length. */
static const char *
admins_hash_complete(const char *hash)
{
	struct crypt_data	*cd;
	const char		*out, *problem = NULL;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return "out of memory";
	out = crypt_r("", hash, cd);
	if (out == NULL || out[0] == '*' || strlen(out) != strlen(hash))
		problem = "damaged hash (copy the whole output of openssl "
		    "passwd -6 or mkpasswd)";
	free(cd);
	return problem;
}

/* Equal strings, in time that depends only on their lengths. */
static int
admins_equal(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b), i;
	unsigned char	 diff = la != lb;

	if (la != lb)
		return 0;
	for (i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}
