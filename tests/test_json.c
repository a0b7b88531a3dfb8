/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for common/json.c: the string writer's escaping and UTF-8
 * repair, and the strict reader's tree, limits and error offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "check.h"



/* json_strn of (s, n) equals want. */
static void
check_write(int line, const char *s, size_t n, const char *want)
{
	struct buf	 b = BUF_INIT;

	if (json_strn(&b, s, n) == -1 || b.len != strlen(want) ||
	    memcmp(b.data, want, b.len) != 0) {
		fprintf(stderr, "%s:%d: FAIL write: got [%.*s] want [%s]\n",
		    __FILE__, line, (int)b.len, b.data ? b.data : "", want);
		check_failed++;
	}
	buf_free(&b);
}
#define WRITE(s, want)	check_write(__LINE__, s, sizeof(s) - 1, want)

/* Parses text that must be rejected; the error names want_off. */
static void
check_bad(int line, const char *text, size_t len, size_t want_off)
{
	struct json_value	*v;
	char			 err[200], want[64];

	v = json_parse(text, len, err, sizeof(err));
	snprintf(want, sizeof(want), "invalid JSON at offset %zu:", want_off);
	if (v != NULL || strncmp(err, want, strlen(want)) != 0) {
		fprintf(stderr, "%s:%d: FAIL bad [%.*s]: %s (want %s)\n",
		    __FILE__, line, (int)len, text, v ? "accepted" : err, want);
		check_failed++;
	}
	json_free(v);
}
#define BAD(s, off)	check_bad(__LINE__, s, sizeof(s) - 1, off)

static struct json_value *
parse(const char *s)
{
	char	 err[200];
	struct json_value *v;

	if ((v = json_parse(s, strlen(s), err, sizeof(err))) == NULL)
		fprintf(stderr, "parse [%s]: %s\n", s, err);
	return v;
}

static void
test_writer(void)
{
	struct buf	 b = BUF_INIT;

	WRITE("plain", "\"plain\"");
	WRITE("", "\"\"");
	WRITE("a\"b\\c", "\"a\\\"b\\\\c\"");
	WRITE("\n\t\x01\x1f", "\"\\u000a\\u0009\\u0001\\u001f\"");
	WRITE("nul\0in", "\"nul\\u0000in\"");
	WRITE("/ and \x7f", "\"/ and \x7f\"");
	/* Valid UTF-8 passes through: é, €, U+1F600. */
	WRITE("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* Invalid bytes: each becomes U+FFFD. */
	WRITE("a\xff" "b", "\"a\xef\xbf\xbd" "b\"");
	WRITE("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");	/* overlong */
	WRITE("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	WRITE("x\xe2\x82", "\"x\xef\xbf\xbd\xef\xbf\xbd\"");	/* truncated */
	WRITE("\xf4\x90\x80\x80",				/* > U+10FFFF */
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");

	CHECK(buf_addc(&b, '{') == 0);
	CHECK(json_key(&b, "na\"me") == 0);
	CHECK(json_str(&b, "v") == 0);
	CHECK(buf_addc(&b, '}') == 0);
	CHECK(strcmp(buf_cstr(&b), "{\"na\\\"me\":\"v\"}") == 0);
	buf_free(&b);
}

static void
test_reader_tree(void)
{
	struct json_value	*v;
	const struct json_value	*m;

	v = parse(" {\"name\": \"dev\\u00e9 \\ud83d\\ude00\\n\", "
	    "\"n\": -12.5e1, \"ok\": true, \"no\": false, \"z\": null, "
	    "\"ids\": [1, 2, 3], \"o\": {\"a\": []}, \"e\": \"\"} \r\n");
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(v->kind == JSON_OBJECT && v->n == 8);
	CHECK(strcmp(json_get_str(v, "name"),
	    "dev\xc3\xa9 \xf0\x9f\x98\x80\n") == 0);
	m = json_get(v, "n");
	CHECK(m != NULL && m->kind == JSON_NUMBER && m->num == -125.0 &&
	    strcmp(m->str, "-12.5e1") == 0);
	CHECK(json_get_str(v, "n") == NULL);
	CHECK(json_get(v, "ok")->kind == JSON_TRUE);
	CHECK(json_get(v, "no")->kind == JSON_FALSE);
	CHECK(json_get(v, "z")->kind == JSON_NULL);
	m = json_get(v, "ids");
	CHECK(m->kind == JSON_ARRAY && m->n == 3 && m->items[2].num == 3.0 &&
	    strcmp(m->items[0].str, "1") == 0);
	m = json_get(v, "o");
	CHECK(m->kind == JSON_OBJECT && m->n == 1 &&
	    json_get(m, "a")->kind == JSON_ARRAY && json_get(m, "a")->n == 0);
	CHECK(strcmp(json_get_str(v, "e"), "") == 0);
	CHECK(json_get(v, "missing") == NULL);
	CHECK(json_get(json_get(v, "ids"), "x") == NULL);
	json_free(v);

	/* Duplicate keys are allowed; the last wins. */
	v = parse("{\"a\":\"1\",\"b\":2,\"a\":\"3\"}");
	CHECK(v != NULL && v->n == 3 && strcmp(json_get_str(v, "a"), "3") == 0);
	json_free(v);

	/* Scalars at the top level, and every simple escape. */
	v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	CHECK(v != NULL && v->kind == JSON_STRING &&
	    strcmp(v->str, "\"\\/\b\f\n\r\t") == 0);
	json_free(v);
	v = parse("0");
	CHECK(v != NULL && v->kind == JSON_NUMBER && v->num == 0.0);
	json_free(v);
	v = parse("-0.001E+3");
	CHECK(v != NULL && v->num == -1.0 && strcmp(v->str, "-0.001E+3") == 0);
	json_free(v);
	v = parse("9007199254740993");
	CHECK(v != NULL && strcmp(v->str, "9007199254740993") == 0);
	json_free(v);
	json_free(NULL);
}

static void
test_reader_errors(void)
{
	struct json_value	*v;
	char			 err[200];

	BAD("", 0);
	BAD("   ", 3);
	BAD("{} x", 3);
	BAD("{}{}", 2);
	BAD("[1,]", 3);
	BAD("{\"a\":1,}", 7);
	BAD("{'a':1}", 1);
	BAD("{\"a\" 1}", 5);
	BAD("{a:1}", 1);
	BAD("[1 2]", 3);
	BAD("01", 1);
	BAD("1.", 0);
	BAD(".5", 0);
	BAD("-", 0);
	BAD("+1", 0);
	BAD("1e", 0);
	BAD("1e999", 0);
	BAD("NaN", 0);
	BAD("tru", 0);
	BAD("nul", 0);
	BAD("\xef\xbb\xbf{}", 0);		/* BOM */
	BAD("\"abc", 4);
	BAD("\"a\\u0000b\"", 8);
	BAD("\"a\0b\"", 2);
	BAD("\"a\nb\"", 2);
	BAD("\"\\x\"", 2);
	BAD("\"\\u12G4\"", 3);
	BAD("\"\\u12\"", 3);
	BAD("\"\\ud800\"", 7);		/* lone high surrogate */
	BAD("\"\\ud800\\u0041\"", 13);
	BAD("\"\\udc00\"", 7);		/* lone low surrogate */
	BAD("\"\xff\"", 1);
	BAD("\"\xc0\xaf\"", 1);
	BAD("\"\xed\xa0\x80\"", 1);
	BAD("[1] \x00", 4);
	BAD("\"ok\"\0", 4);
	/* 65 characters of number. */
	BAD("1000000000000000000000000000000000000000000000000000000000000000"
	    "0", 0);

	/* No error buffer at all. */
	CHECK(json_parse("[", 1, NULL, 0) == NULL);
	/* The message is a sentence with the offset. */
	CHECK(json_parse("[1,,2]", 6, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "invalid JSON at offset 3: expected a value") == 0);
	/* A length shorter than the text is honoured. */
	v = json_parse("[1] garbage", 3, err, sizeof(err));
	CHECK(v != NULL && v->kind == JSON_ARRAY && v->n == 1);
	json_free(v);
}

static void
test_limits(void)
{
	struct json_value	*v;
	struct buf		 b = BUF_INIT;
	char			 err[200];
	int			 i;

	/* JSON_MAX_DEPTH nested containers parse; one more does not. */
	for (i = 0; i < JSON_MAX_DEPTH - 1; i++)
		buf_adds(&b, "[");
	buf_adds(&b, "{\"k\":1}");
	for (i = 0; i < JSON_MAX_DEPTH - 1; i++)
		buf_adds(&b, "]");
	v = json_parse(b.data, b.len, err, sizeof(err));
	CHECK(v != NULL);
	json_free(v);
	buf_reset(&b);
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_adds(&b, "[");
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_adds(&b, "]");
	CHECK(json_parse(b.data, b.len, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "invalid JSON at offset 16: nested deeper than 16")
	    == 0);

	/* An array of JSON_MAX_ITEMS - 1 values is JSON_MAX_ITEMS values. */
	buf_reset(&b);
	buf_adds(&b, "[0");
	for (i = 1; i < JSON_MAX_ITEMS - 1; i++)
		buf_adds(&b, ",0");
	buf_adds(&b, "]");
	v = json_parse(b.data, b.len, err, sizeof(err));
	CHECK(v != NULL && v->n == JSON_MAX_ITEMS - 1);
	json_free(v);
	b.len--;
	buf_adds(&b, ",0]");
	CHECK(json_parse(b.data, b.len, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "more than 100000 values") != NULL);

	/* A 1 MiB string parses, one byte more does not. */
	buf_reset(&b);
	buf_addc(&b, '"');
	for (i = 0; i < 1024 * 1024; i++)
		buf_addc(&b, 'x');
	buf_addc(&b, '"');
	v = json_parse(b.data, b.len, err, sizeof(err));
	CHECK(v != NULL && strlen(v->str) == 1024 * 1024);
	json_free(v);
	b.data[b.len - 1] = 'x';
	buf_addc(&b, '"');
	CHECK(json_parse(b.data, b.len, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "string longer than") != NULL);
	buf_free(&b);
}

static void
test_roundtrip(void)
{
	struct buf		 b = BUF_INIT;
	struct json_value	*v;
	char			 err[200];
	char			 all[256];
	int			 i;

	/* Every byte but NUL, written and read back. */
	for (i = 1; i < 128; i++)
		all[i - 1] = i;
	all[127] = '\0';
	CHECK(json_str(&b, all) == 0);
	v = json_parse(b.data, b.len, err, sizeof(err));
	CHECK(v != NULL && v->kind == JSON_STRING && strcmp(v->str, all) == 0);
	json_free(v);

	/* Invalid UTF-8 comes back as U+FFFD, never as the raw byte. */
	buf_reset(&b);
	CHECK(json_str(&b, "fw\x80.bin") == 0);
	v = json_parse(b.data, b.len, err, sizeof(err));
	CHECK(v != NULL && strcmp(v->str, "fw\xef\xbf\xbd.bin") == 0);
	json_free(v);
	buf_free(&b);
}

int
main(void)
{
	test_writer();
	test_reader_tree();
	test_reader_errors();
	test_limits();
	test_roundtrip();
	return check_exit("test_json");
}
