/* SPDX-License-Identifier: MIT */
/*
 * A minimal assertion helper for otad's unit test programs: CHECK prints
 * the failing expression with its line and counts it; check_exit(name)
 * says how it went and gives main's exit status (0 when every check
 * passed).
 */
#ifndef OTAD_CHECK_H
#define OTAD_CHECK_H

#include <stdio.h>

static int check_failed;

#define CHECK(expr) do {						\
	if (!(expr)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #expr);					\
		check_failed++;						\
	}								\
} while (0)

static inline int
check_exit(const char *name)
{
	if (check_failed) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failed);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif
