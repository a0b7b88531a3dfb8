/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the admins file parser (admind/admins.h): the input
 * is written to a file and loaded, then a login is checked against it.
 * Hash parameters that make crypt(3) slow on purpose (rounds=, yescrypt and
 * bcrypt costs over the defaults) are left out: they cost time, not
 * safety, and the file is root's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admins.h"
#include "fuzz_file.h"

static int	fuzz_costly(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	atexit(fuzz_file_cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admins	*a;
	char		 err[256];

	if (fuzz_costly(data, size))
		return 0;
	err[0] = '\0';
	if ((a = admins_load(fuzz_file(data, size), err, sizeof(err))) ==
	    NULL) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (admins_count(a) == 0)
		abort();
	/* one check: a hash per call whatever the user */
	admins_check(a, "admin", "password");
	admins_free(a);
	return 0;
}

/* Inputs whose hashes ask crypt(3) for more work than the defaults. */
static int
fuzz_costly(const uint8_t *p, size_t n)
{
	static const char *const slow[] = { "rounds=", "$7$", "$gy$", "$sha1$",
	    "$md5", NULL };
	const char	*const *s;
	const uint8_t	*y;
	size_t		 nhash = 0, i;

	for (s = slow; *s != NULL; s++)
		if (memmem(p, n, *s, strlen(*s)) != NULL)
			return 1;
	for (i = 0; i < n; i++)
		if (p[i] == '$' && i + 1 < n && p[i + 1] != '$')
			nhash++;
	if (nhash > 6)
		return 1;
	/* yescrypt only with the default parameters j9T, bcrypt cost <= 05 */
	for (y = p; (y = memmem(y, n - (size_t)(y - p), "$y$", 3)) != NULL;
	    y += 3)
		if ((size_t)(p + n - y) < 7 || memcmp(y + 3, "j9T$", 4) != 0)
			return 1;
	for (y = p; (y = memmem(y, n - (size_t)(y - p), "$2", 2)) != NULL;
	    y += 2)
		if ((size_t)(p + n - y) >= 6 && y[3] == '$' &&
		    memcmp(y + 4, "05", 2) > 0)
			return 1;
	return 0;
}
