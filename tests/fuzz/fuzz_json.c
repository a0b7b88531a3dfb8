/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for admind's JSON request reader (common/json.h): parse,
 * walk the whole tree within its limits, look members up, and write every
 * string back through the escaping writer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static size_t	fuzz_walk(const struct json_value *, int, struct buf *);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_value	*v;
	struct buf		 out = BUF_INIT;
	char			 err[160];

	err[0] = '\0';
	if ((v = json_parse((const char *)data, size, err, sizeof(err))) ==
	    NULL) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (fuzz_walk(v, 0, &out) > JSON_MAX_ITEMS + 1)
		abort();
	if (v->kind == JSON_OBJECT) {
		json_get(v, "id");
		json_get_str(v, "name");
		json_get_str(v, "");
	}
	/* the writer's output of any string is valid UTF-8 without controls */
	if (out.len > 0 && memchr(out.data, 0, out.len) != NULL)
		abort();
	buf_free(&out);
	json_free(v);
	return 0;
}

static size_t
fuzz_walk(const struct json_value *v, int depth, struct buf *out)
{
	size_t	 i, n = 1;

	if (depth > JSON_MAX_DEPTH + 1)
		abort();
	switch (v->kind) {
	case JSON_STRING:
		if (v->str == NULL)
			abort();
		json_str(out, v->str);
		break;
	case JSON_NUMBER:
		if (v->str == NULL)
			abort();
		break;
	case JSON_OBJECT:
		for (i = 0; i < v->n; i++) {
			if (v->keys[i] == NULL)
				abort();
			json_key(out, v->keys[i]);
		}
		/* FALLTHROUGH */
	case JSON_ARRAY:
		for (i = 0; i < v->n; i++)
			n += fuzz_walk(&v->items[i], depth + 1, out);
		break;
	default:
		break;
	}
	return n;
}
