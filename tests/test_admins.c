/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for admind/admins.c: loading admins files (comments, blanks,
 * CRLF, errors naming file and line), checking yescrypt, sha512crypt and
 * bcrypt hashes, and an unknown user costing a hash all the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admins.h"
#include "buf.h"
#include "check.h"

/* openssl passwd -6 -salt abcdefgh secret */
#define SHA512_SECRET	"$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNG" \
			"Stk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."
/* crypt_r("correct horse", crypt_gensalt_rn("$2b$", 5, ...)) */
#define BCRYPT_2B	"$2b$05$73TmATKIS1BnSDZHD4nF9ODn0ajiX2hUWjjD.OyfZgY" \
			"RX4EwKoDrW"
/* The same with "$2y$", the prefix htpasswd -B writes. */
#define BCRYPT_2Y	"$2y$05$aLnk2.GUBsSs6pC5jbtPJu7QtlTERj4ks2MVdpch7Bm" \
			"jhghMMBR9m"
/* openssl passwd -1 -salt abcdefgh secret */
#define MD5_SECRET	"$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"

static char	dir[] = "/tmp/test_admins.XXXXXX";


static const char *
write_file(const char *name, const char *text)
{
	static char	 path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF) {
		perror(path);
		exit(1);
	}
	return path;
}

/* Loading text must fail with "<path>" want. */
static void
check_bad(int line, const char *text, const char *want)
{
	struct admins	*a;
	const char	*path;
	char		 err[512], full[512];

	path = write_file("bad", text);
	snprintf(full, sizeof(full), "%s%s", path, want);
	a = admins_load(path, err, sizeof(err));
	if (a != NULL || strcmp(err, full) != 0) {
		fprintf(stderr, "%s:%d: FAIL got [%s] want [%s]\n", __FILE__,
		    line, a ? "loaded" : err, full);
		check_failed++;
	}
	admins_free(a);
}
#define BAD(text, want)	check_bad(__LINE__, text, want)

static double
seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_hash_and_check(void)
{
	struct admins	*a;
	char		 yes[256], yes2[256], text[2048], err[512];
	const char	*path;

	CHECK(admins_hash("s3cret pass", yes, sizeof(yes)) == 0);
	CHECK(strncmp(yes, "$y$", 3) == 0 && strlen(yes) > 40);
	CHECK(admins_hash("s3cret pass", yes2, sizeof(yes2)) == 0);
	CHECK(strcmp(yes, yes2) != 0);		/* a fresh salt each time */
	CHECK(admins_hash("x", yes2, 10) == -1);	/* does not fit */

	snprintf(text, sizeof(text),
	    "# otad admins\n"
	    "\n"
	    "admin@blynk.cc:%s\n"
	    "   \t\n"
	    "  # indented comment\n"
	    "ops:" SHA512_SECRET "\r\n"
	    "\tbob:" BCRYPT_2B "  \n"
	    "carol:" BCRYPT_2Y,
	    yes);
	path = write_file("admins", text);
	a = admins_load(path, err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(admins_count(a) == 4);

	CHECK(admins_check(a, "admin@blynk.cc", "s3cret pass") == 1);
	CHECK(admins_check(a, "ops", "secret") == 1);
	CHECK(admins_check(a, "bob", "correct horse") == 1);
	CHECK(admins_check(a, "carol", "correct horse") == 1);

	CHECK(admins_check(a, "admin@blynk.cc", "s3cret pas") == 0);
	CHECK(admins_check(a, "admin@blynk.cc", "") == 0);
	CHECK(admins_check(a, "ops", "Secret") == 0);
	CHECK(admins_check(a, "ops", "secret ") == 0);
	CHECK(admins_check(a, "bob", "correct horsE") == 0);
	CHECK(admins_check(a, "carol", "secret") == 0);
	/* One admin's password does not open another's account. */
	CHECK(admins_check(a, "bob", "secret") == 0);
	CHECK(admins_check(a, "ops", "s3cret pass") == 0);

	CHECK(admins_check(a, "mallory", "s3cret pass") == 0);
	CHECK(admins_check(a, "admin", "s3cret pass") == 0);
	CHECK(admins_check(a, "", "") == 0);
	CHECK(admins_check(a, "# otad admins", "") == 0);
	CHECK(admins_check(a, NULL, "secret") == 0);
	CHECK(admins_check(a, "ops", NULL) == 0);
	admins_free(a);
	admins_free(NULL);
}

/* An unknown user costs about what a known one does. */
static void
test_unknown_user_timing(void)
{
	struct admins	*a;
	char		 yes[256], text[512], err[512];
	double		 t, known = 1e9, unknown = 1e9;
	int		 i;

	CHECK(admins_hash("pw", yes, sizeof(yes)) == 0);
	snprintf(text, sizeof(text), "root:%s\n", yes);
	a = admins_load(write_file("timing", text), err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL)
		return;
	for (i = 0; i < 3; i++) {
		t = seconds();
		CHECK(admins_check(a, "root", "wrong") == 0);
		t = seconds() - t;
		known = t < known ? t : known;
		t = seconds();
		CHECK(admins_check(a, "nobody", "wrong") == 0);
		t = seconds() - t;
		unknown = t < unknown ? t : unknown;
	}
	if (!(unknown > known / 3)) {
		fprintf(stderr, "unknown user %.6fs, known %.6fs\n", unknown,
		    known);
		check_failed++;
	}
	admins_free(a);
}

static void
test_malformed(void)
{
	struct admins	*a;
	char		 err[512], want[512], path[256];

	BAD("# ok\nadmin " SHA512_SECRET "\n",
	    " line 2: expected user:hash");
	BAD("ops:" SHA512_SECRET "\n:" SHA512_SECRET "\n",
	    " line 2: empty user name or blanks in it");
	BAD("my admin:" SHA512_SECRET "\n",
	    " line 1: empty user name or blanks in it");
	BAD("\n\n\nadmin:\n", " line 4: empty hash for user admin");
	BAD("admin:secret\n", " line 1: not a crypt hash (make one with "
	    "openssl passwd -6 or mkpasswd) for user admin");
	BAD("admin:" SHA512_SECRET ":0:99999\n", " line 1: not a crypt hash "
	    "(make one with openssl passwd -6 or mkpasswd) for user admin");
	BAD("admin:" MD5_SECRET "\n", " line 1: hash method too weak (use "
	    "openssl passwd -6 or mkpasswd) for user admin");
	BAD("admin:$9$abc$def\n", " line 1: hash method not supported by "
	    "crypt(3) for user admin");
	/* The hash cut short when pasted. */
	BAD("admin:$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil\n", " line 1: "
	    "damaged hash (copy the whole output of openssl passwd -6 or "
	    "mkpasswd) for user admin");
	BAD("ops:" SHA512_SECRET "\n#\nops:" BCRYPT_2B "\n",
	    " line 3: user ops appears twice");
	BAD("# nothing here\n\n", ": no admin defined (add a user:hash line)");
	BAD("", ": no admin defined (add a user:hash line)");

	snprintf(path, sizeof(path), "%s/missing", dir);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	a = admins_load(path, err, sizeof(err));
	CHECK(a == NULL && strcmp(err, want) == 0);
}

/* admins_parse reads text as admins_load reads a file; admins_changes
 * names the users added, removed and with a new hash, never a hash. */
static void
test_parse_and_changes(void)
{
	static const char old_text[] = "# ops\nalice:" SHA512_SECRET "\n"
	    "bob:" SHA512_SECRET "\ncarol:" BCRYPT_2B "\n";
	static const char new_text[] = "alice:" SHA512_SECRET "\n"
	    "carol:" BCRYPT_2Y "\ndave:" MD5_SECRET "\n";
	static const char new_ok[] = "alice:" SHA512_SECRET "\n"
	    "carol:" BCRYPT_2Y "\ndave:" BCRYPT_2B "\nerin:" BCRYPT_2B;
	struct admins	*old, *new;
	struct buf	 out = BUF_INIT;
	char		 err[512];

	old = admins_parse(old_text, strlen(old_text), "mem", err,
	    sizeof(err));
	CHECK(old != NULL && admins_count(old) == 3);
	CHECK(old != NULL && strcmp(admins_user(old, 1), "bob") == 0 &&
	    admins_user(old, 3) == NULL);
	CHECK(old != NULL && admins_has(old, "carol") && !admins_has(old,
	    "car"));
	new = admins_parse(new_text, strlen(new_text), "mem", err,
	    sizeof(err));
	CHECK(new == NULL && strcmp(err, "mem line 3: hash method too weak "
	    "(use openssl passwd -6 or mkpasswd) for user dave") == 0);
	CHECK(admins_parse("", 0, "mem", err, sizeof(err)) == NULL &&
	    strstr(err, "no admin defined") != NULL);
	new = admins_parse(new_ok, strlen(new_ok), "mem", err, sizeof(err));
	CHECK(new != NULL && admins_count(new) == 4);
	if (old == NULL || new == NULL)
		return;
	CHECK(admins_changes(old, new, &out) == 4);
	CHECK(strcmp(buf_cstr(&out), "added dave, erin; removed bob; "
	    "new password for carol") == 0);
	buf_reset(&out);
	CHECK(admins_changes(new, new, &out) == 0 && out.len == 0);
	buf_free(&out);
	admins_free(old);
	admins_free(new);
}

int
main(void)
{
	char	 cmd[300];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_hash_and_check();
	test_unknown_user_timing();
	test_malformed();
	test_parse_and_changes();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_exit("test_admins");
}
