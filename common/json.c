/* SPDX-License-Identifier: MIT */
/*
 * JSON for the admin API (see json.h), used by admind and by the tools that
 * talk to it: a writer that escapes strings into a buf, and a strict
 * recursive-descent reader with limits on depth, item count, string and
 * number length, so that a hostile request body costs little.
 *
 * The reader accepts RFC 8259 JSON and nothing else: no comments, no
 * trailing commas, no BOM, no invalid UTF-8, no lone surrogates, no raw
 * control characters and no U+0000 inside strings (we hand out C strings).
 * Duplicate object keys are kept; json_get() returns the last one, so the
 * last duplicate wins.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "util.h"

#define JSON_MAX_STRING	(1024 * 1024)	/* bytes in one decoded string */
#define JSON_MAX_NUMBER	64		/* characters of one number */

struct json_reader {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	size_t			 items;
	char			*err;
	size_t			 errlen;
};

static int	json_utf8_decode(const unsigned char *, size_t, uint32_t *);
static int	json_utf8_encode(uint32_t, struct buf *);
static int	json_fail(struct json_reader *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	json_ws(struct json_reader *);
static int	json_value(struct json_reader *, struct json_value *, int);
static int	json_literal(struct json_reader *, struct json_value *);
static int	json_number(struct json_reader *, struct json_value *);
static int	json_string(struct json_reader *, char **);
static int	json_escape(struct json_reader *, struct buf *);
static int	json_hex4(struct json_reader *, uint32_t *);
static int	json_array(struct json_reader *, struct json_value *, int);
static int	json_object(struct json_reader *, struct json_value *, int);
static int	json_grow(struct json_reader *, struct json_value *, size_t *,
		    int);
static void	json_clear(struct json_value *);

/*
 * Writer.
 */

int
json_str(struct buf *b, const char *s)
{
	return json_strn(b, s, strlen(s));
}

int
json_strn(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, start;
	uint32_t		 cp;
	int			 n;

	if (buf_addc(b, '"') == -1)
		return -1;
	while (i < len) {
		/* Copy runs of plain ASCII in one go. */
		start = i;
		while (i < len && p[i] >= 0x20 && p[i] < 0x80 &&
		    p[i] != '"' && p[i] != '\\')
			i++;
		if (buf_add(b, p + start, i - start) == -1)
			return -1;
		if (i == len)
			break;
		if (p[i] == '"' || p[i] == '\\') {
			if (buf_addc(b, '\\') == -1 || buf_addc(b, p[i]) == -1)
				return -1;
			i++;
		} else if (p[i] < 0x20) {
			if (buf_printf(b, "\\u%04x", p[i]) == -1)
				return -1;
			i++;
		} else if ((n = json_utf8_decode(p + i, len - i, &cp)) > 0) {
			if (buf_add(b, p + i, n) == -1)
				return -1;
			i += n;
		} else {
			/* One invalid byte, one replacement character. */
			if (buf_add(b, "\xef\xbf\xbd", 3) == -1)
				return -1;
			i++;
		}
	}
	return buf_addc(b, '"');
}

int
json_key(struct buf *b, const char *key)
{
	if (json_str(b, key) == -1)
		return -1;
	return buf_addc(b, ':');
}

int
json_time(struct buf *b, int64_t t)
{
	char	 when[21];

	if (t == 0)
		return buf_adds(b, "null");
	util_iso8601((time_t)t, when);
	return json_str(b, when);
}

/*
 * Reader.
 */

struct json_value *
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_reader	 r;
	struct json_value	*v;

	memset(&r, 0, sizeof(r));
	r.p = (const unsigned char *)text;
	r.len = len;
	r.err = err;
	r.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		json_fail(&r, "out of memory");
		return NULL;
	}
	json_ws(&r);
	if (json_value(&r, v, 0) == -1) {
		json_free(v);
		return NULL;
	}
	json_ws(&r);
	if (r.off != r.len) {
		json_fail(&r, "unexpected text after the JSON value");
		json_free(v);
		return NULL;
	}
	return v;
}

void
json_free(struct json_value *v)
{
	if (v == NULL)
		return;
	json_clear(v);
	free(v);
}

const struct json_value *
json_get(const struct json_value *v, const char *key)
{
	size_t	 i;

	if (v == NULL || v->kind != JSON_OBJECT)
		return NULL;
	/* From the end: the last of duplicate keys wins. */
	for (i = v->n; i > 0; i--)
		if (strcmp(v->keys[i - 1], key) == 0)
			return &v->items[i - 1];
	return NULL;
}

const char *
json_get_str(const struct json_value *v, const char *key)
{
	const struct json_value	*m;

	if ((m = json_get(v, key)) == NULL || m->kind != JSON_STRING)
		return NULL;
	return m->str;
}

static void
json_clear(struct json_value *v)
{
	size_t	 i;

	for (i = 0; i < v->n; i++) {
		if (v->items != NULL)
			json_clear(&v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

static int
json_fail(struct json_reader *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 what[128];

	/* Keep the first (innermost) error. */
	if (r->err == NULL || r->errlen == 0 || r->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "invalid JSON at offset %zu: %s",
	    r->off, what);
	return -1;
}

static void
json_ws(struct json_reader *r)
{
	while (r->off < r->len && (r->p[r->off] == ' ' ||
	    r->p[r->off] == '\t' || r->p[r->off] == '\n' ||
	    r->p[r->off] == '\r'))
		r->off++;
}

static int
json_value(struct json_reader *r, struct json_value *v, int depth)
{
	if (++r->items > JSON_MAX_ITEMS)
		return json_fail(r, "more than %d values", JSON_MAX_ITEMS);
	if (r->off == r->len)
		return json_fail(r, "unexpected end of text");
	switch (r->p[r->off]) {
	case '{':
		return json_object(r, v, depth + 1);
	case '[':
		return json_array(r, v, depth + 1);
	case '"':
		v->kind = JSON_STRING;
		return json_string(r, &v->str);
	case 't':
	case 'f':
	case 'n':
		return json_literal(r, v);
	default:
		return json_number(r, v);
	}
}

static int
json_literal(struct json_reader *r, struct json_value *v)
{
	static const struct {
		const char	*text;
		enum json_kind	 kind;
	} lits[] = {
		{ "true", JSON_TRUE }, { "false", JSON_FALSE },
		{ "null", JSON_NULL },
	};
	size_t	 i, n;

	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		n = strlen(lits[i].text);
		if (r->len - r->off >= n &&
		    memcmp(r->p + r->off, lits[i].text, n) == 0) {
			v->kind = lits[i].kind;
			r->off += n;
			return 0;
		}
	}
	return json_fail(r, "unknown literal");
}

static int
json_number(struct json_reader *r, struct json_value *v)
{
	const unsigned char	*p = r->p;
	size_t			 start = r->off, i = r->off;
	char			 text[JSON_MAX_NUMBER + 1], *end;

#define DIGIT(k)	((k) < r->len && p[k] >= '0' && p[k] <= '9')
	if (i < r->len && p[i] == '-')
		i++;
	if (!DIGIT(i))
		return json_fail(r, "expected a value");
	if (p[i] == '0')
		i++;
	else
		while (DIGIT(i))
			i++;
	if (i < r->len && p[i] == '.') {
		if (!DIGIT(i + 1))
			return json_fail(r, "expected a digit after '.'");
		for (i++; DIGIT(i); i++)
			;
	}
	if (i < r->len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < r->len && (p[i] == '+' || p[i] == '-'))
			i++;
		if (!DIGIT(i))
			return json_fail(r, "expected a digit in the exponent");
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	if (i - start > JSON_MAX_NUMBER)
		return json_fail(r, "number longer than %d characters",
		    JSON_MAX_NUMBER);
	memcpy(text, p + start, i - start);
	text[i - start] = '\0';
	v->num = strtod(text, &end);
	if (*end != '\0' || !isfinite(v->num))
		return json_fail(r, "number out of range");
	if ((v->str = strdup(text)) == NULL)
		return json_fail(r, "out of memory");
	v->kind = JSON_NUMBER;
	r->off = i;
	return 0;
}

/* Reads a string at r->off (the opening quote) into a new C string. */
static int
json_string(struct json_reader *r, char **out)
{
	struct buf	 b = BUF_INIT;
	uint32_t	 cp;
	size_t		 start;
	int		 n;

	r->off++;
	for (;;) {
		start = r->off;
		while (r->off < r->len && r->p[r->off] >= 0x20 &&
		    r->p[r->off] < 0x80 && r->p[r->off] != '"' &&
		    r->p[r->off] != '\\')
			r->off++;
		if (buf_add(&b, r->p + start, r->off - start) == -1)
			goto nomem;
		if (b.len > JSON_MAX_STRING) {
			json_fail(r, "string longer than %d bytes",
			    JSON_MAX_STRING);
			goto fail;
		}
		if (r->off == r->len) {
			json_fail(r, "unterminated string");
			goto fail;
		}
		if (r->p[r->off] == '"')
			break;
		if (r->p[r->off] == '\\') {
			if (json_escape(r, &b) == -1)
				goto fail;
		} else if (r->p[r->off] < 0x20) {
			json_fail(r, "control character in a string");
			goto fail;
		} else if ((n = json_utf8_decode(r->p + r->off,
		    r->len - r->off, &cp)) > 0) {
			if (buf_add(&b, r->p + r->off, n) == -1)
				goto nomem;
			r->off += n;
		} else {
			json_fail(r, "invalid UTF-8 in a string");
			goto fail;
		}
	}
	r->off++;
	if ((*out = buf_cstr(&b)) == NULL)
		goto nomem;
	return 0;
nomem:
	json_fail(r, "out of memory");
fail:
	buf_free(&b);
	return -1;
}

/* A backslash escape at r->off, appended to b as UTF-8. */
static int
json_escape(struct json_reader *r, struct buf *b)
{
	static const char	 from[] = "\"\\/bfnrt";
	static const char	 to[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	uint32_t		 cp, lo;

	if (r->off + 1 >= r->len)
		return json_fail(r, "unterminated string");
	r->off++;
	if (r->p[r->off] != 'u') {
		if (r->p[r->off] == '\0' ||
		    (e = strchr(from, r->p[r->off])) == NULL)
			return json_fail(r, "invalid escape");
		r->off++;
		return buf_addc(b, to[e - from]) == -1 ?
		    json_fail(r, "out of memory") : 0;
	}
	r->off++;
	if (json_hex4(r, &cp) == -1)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return json_fail(r, "unpaired low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->len - r->off < 2 || r->p[r->off] != '\\' ||
		    r->p[r->off + 1] != 'u')
			return json_fail(r, "unpaired high surrogate");
		r->off += 2;
		if (json_hex4(r, &lo) == -1)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return json_fail(r, "unpaired high surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return json_fail(r, "\\u0000 in a string");
	if (json_utf8_encode(cp, b) == -1)
		return json_fail(r, "out of memory");
	return 0;
}

static int
json_hex4(struct json_reader *r, uint32_t *cp)
{
	size_t		 i;
	unsigned char	 c;

	if (r->len - r->off < 4)
		return json_fail(r, "truncated \\u escape");
	*cp = 0;
	for (i = 0; i < 4; i++) {
		c = r->p[r->off + i];
		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*cp |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*cp |= c - 'A' + 10;
		else
			return json_fail(r, "invalid \\u escape");
	}
	r->off += 4;
	return 0;
}

static int
json_array(struct json_reader *r, struct json_value *v, int depth)
{
	size_t	 cap = 0;

	if (depth > JSON_MAX_DEPTH)
		return json_fail(r, "nested deeper than %d", JSON_MAX_DEPTH);
	v->kind = JSON_ARRAY;
	r->off++;
	json_ws(r);
	if (r->off < r->len && r->p[r->off] == ']') {
		r->off++;
		return 0;
	}
	for (;;) {
		if (json_grow(r, v, &cap, 0) == -1)
			return -1;
		if (json_value(r, &v->items[v->n++], depth) == -1)
			return -1;
		json_ws(r);
		if (r->off < r->len && r->p[r->off] == ',') {
			r->off++;
			json_ws(r);
			continue;
		}
		if (r->off < r->len && r->p[r->off] == ']') {
			r->off++;
			return 0;
		}
		return json_fail(r, "expected ',' or ']'");
	}
}

static int
json_object(struct json_reader *r, struct json_value *v, int depth)
{
	size_t	 cap = 0;

	if (depth > JSON_MAX_DEPTH)
		return json_fail(r, "nested deeper than %d", JSON_MAX_DEPTH);
	v->kind = JSON_OBJECT;
	r->off++;
	json_ws(r);
	if (r->off < r->len && r->p[r->off] == '}') {
		r->off++;
		return 0;
	}
	for (;;) {
		if (r->off == r->len || r->p[r->off] != '"')
			return json_fail(r, "expected a string key");
		if (json_grow(r, v, &cap, 1) == -1)
			return -1;
		/* Count the member now so json_clear() frees its key. */
		v->n++;
		if (json_string(r, &v->keys[v->n - 1]) == -1)
			return -1;
		json_ws(r);
		if (r->off == r->len || r->p[r->off] != ':')
			return json_fail(r, "expected ':'");
		r->off++;
		json_ws(r);
		if (json_value(r, &v->items[v->n - 1], depth) == -1)
			return -1;
		json_ws(r);
		if (r->off < r->len && r->p[r->off] == ',') {
			r->off++;
			json_ws(r);
			continue;
		}
		if (r->off < r->len && r->p[r->off] == '}') {
			r->off++;
			return 0;
		}
		return json_fail(r, "expected ',' or '}'");
	}
}

/* Room for one more child (and key); new slots are zeroed. */
static int
json_grow(struct json_reader *r, struct json_value *v, size_t *cap,
    int keys)
{
	struct json_value	*items;
	char			**k;
	size_t			 ncap;

	if (v->n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	if ((items = reallocarray(v->items, ncap, sizeof(*items))) == NULL)
		return json_fail(r, "out of memory");
	v->items = items;
	memset(items + *cap, 0, (ncap - *cap) * sizeof(*items));
	if (keys) {
		if ((k = reallocarray(v->keys, ncap, sizeof(*k))) == NULL)
			return json_fail(r, "out of memory");
		v->keys = k;
		memset(k + *cap, 0, (ncap - *cap) * sizeof(*k));
	}
	*cap = ncap;
	return 0;
}

/*
 * UTF-8: the length of the well-formed sequence at p (1-4) with its code
 * point, or 0 when it is invalid (overlong, surrogate, above U+10FFFF,
 * truncated).
 */
static int
json_utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	uint32_t	 c, min;
	int		 n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2; c = p[0] & 0x1f; min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3; c = p[0] & 0x0f; min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4; c = p[0] & 0x07; min = 0x10000;
	} else
		return 0;
	if (len < (size_t)n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int
json_utf8_encode(uint32_t cp, struct buf *b)
{
	unsigned char	 s[4];
	size_t		 n, i;

	if (cp < 0x80) {
		s[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (unsigned char)(0xc0 | cp >> 6);
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (unsigned char)(0xe0 | cp >> 12);
		n = 3;
	} else {
		s[0] = (unsigned char)(0xf0 | cp >> 18);
		n = 4;
	}
	/* Continuation bytes, six bits each, last first. */
	for (i = n - 1; i > 0; i--, cp >>= 6)
		s[i] = (unsigned char)(0x80 | (cp & 0x3f));
	return buf_add(b, s, n);
}
