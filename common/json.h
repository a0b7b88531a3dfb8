/* SPDX-License-Identifier: MIT */
/*
 * JSON for the admin API: a writer that escapes into a buf, and a small
 * strict reader for request bodies (objects of strings, numbers, booleans,
 * null and arrays of those, nested objects allowed), with limits on depth,
 * size and count so a hostile body costs little.
 */
#ifndef OTAD_JSON_H
#define OTAD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Writer.  Comma placement is the caller's: json_str writes a quoted,
 * escaped string (invalid UTF-8 bytes become U+FFFD). */
int	 json_str(struct buf *, const char *);
int	 json_strn(struct buf *, const char *, size_t);
/* "key": */
int	 json_key(struct buf *, const char *);
/* Unix seconds as a quoted RFC 3339 UTC time, or null for 0. */
int	 json_time(struct buf *, int64_t);

/* Reader: parses text into a tree. */
enum json_kind {
	JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT,
};

struct json_value {
	enum json_kind		 kind;
	char			*str;		/* STRING (NUL-free); NUMBER text */
	double			 num;
	struct json_value	*items;		/* ARRAY/OBJECT children */
	char			**keys;		/* OBJECT keys */
	size_t			 n;
};

#define JSON_MAX_DEPTH	16
#define JSON_MAX_ITEMS	100000

/* NULL on error with a sentence naming the offset in err. */
struct json_value *json_parse(const char *, size_t, char *err, size_t errlen);
void	 json_free(struct json_value *);
/* Member of an object, or NULL.  Duplicate keys are kept by the reader;
 * json_get returns the last one (the last duplicate wins). */
const struct json_value *json_get(const struct json_value *, const char *);
/* String member or NULL when absent or not a string. */
const char *json_get_str(const struct json_value *, const char *);

#endif
