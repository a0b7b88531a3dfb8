/* SPDX-License-Identifier: MIT */
/*
 * Which engine holds admind's store (store.h's store_open): PostgreSQL
 * when [otad] database names one (a libpq connection URI), else SQLite in
 * a file of state_dir.
 */
#include <string.h>

#include "store_int.h"

/* PostgreSQL when where is a connection URI, else SQLite at that path. */
struct store *
store_open(const char *where, char *err, size_t errlen)
{
	if (strncmp(where, "postgresql://", 13) == 0 ||
	    strncmp(where, "postgres://", 11) == 0)
		return store_pg_open(where, err, errlen);
	return store_sqlite_open(where, err, errlen);
}
