/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for admind/multipart.c: curl-style uploads fed in every piece
 * size, content that looks like a boundary, text fields, truncated bodies,
 * limits and bad content types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "multipart.h"
#include "check.h"

#define BOUNDARY	"------------------------d74496d66958873e"
#define CTYPE		"multipart/form-data; boundary=" BOUNDARY
#define MAXPARTS	20



/* What the callbacks saw. */
struct rec {
	struct buf	 log;		/* "part name=.. file=..;end;" */
	struct buf	 data[MAXPARTS];
	int		 nparts;
	int		 ndata;		/* on_data calls */
	int		 in_part;
	int		 stop_on_part;	/* on_part returns -1 for this part */
};

static int
rec_part(void *arg, const struct multipart_part *p)
{
	struct rec	*r = arg;

	if (r->in_part)
		buf_adds(&r->log, "NESTED;");
	r->in_part = 1;
	buf_printf(&r->log, "part name=%s file=%s type=%s;", p->name,
	    p->filename ? p->filename : "(null)",
	    p->content_type ? p->content_type : "(null)");
	r->nparts++;
	if (r->stop_on_part == r->nparts)
		return -1;
	return 0;
}

static int
rec_data(void *arg, const char *p, size_t n)
{
	struct rec	*r = arg;

	if (!r->in_part || n == 0)
		buf_adds(&r->log, "BADDATA;");
	else
		buf_add(&r->data[r->nparts - 1], p, n);
	r->ndata++;
	return 0;
}

static int
rec_end(void *arg)
{
	struct rec	*r = arg;

	if (!r->in_part)
		buf_adds(&r->log, "BADEND;");
	r->in_part = 0;
	buf_adds(&r->log, "end;");
	return 0;
}

static const struct multipart_cb rec_cb = { rec_part, rec_data, rec_end };

static void
rec_free(struct rec *r)
{
	int	 i;

	buf_free(&r->log);
	for (i = 0; i < MAXPARTS; i++)
		buf_free(&r->data[i]);
	memset(r, 0, sizeof(*r));
}

/*
 * Feeds body in pieces of size step (0: all at once); returns the last
 * multipart_feed result, sets *done.
 */
static int
run(const char *ctype, const char *body, size_t len, size_t step,
    struct rec *r, int *done, char *err, size_t errlen)
{
	struct multipart	*mp;
	size_t			 off, n;
	int			 rc = 0;

	memset(r, 0, sizeof(*r));
	if ((mp = multipart_new(ctype, &rec_cb, r, err, errlen)) == NULL)
		return -2;
	if (step == 0)
		step = len ? len : 1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		rc = multipart_feed(mp, body + off, n);
	}
	*done = multipart_done(mp);
	snprintf(err, errlen, "%s", multipart_error(mp) ?
	    multipart_error(mp) : "(none)");
	multipart_free(mp);
	return rc;
}

static int
data_is(const struct buf *b, const char *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* The firmware content: binary, CRLFs and partial boundaries. */
static void
make_content(struct buf *c)
{
	int	 i;

	buf_add(c, "\xe9\x01\x02\x40\x00\x10\x10\x40", 8);
	for (i = 0; i < 64; i++)
		buf_addc(c, (char)(i * 37));
	buf_adds(c, "\r\n");
	buf_adds(c, "\r\n--");
	buf_adds(c, "\r\n--------");
	buf_adds(c, "\r\n------------------------d7449");	/* truncated */
	buf_adds(c, "\r\n------------------------d74496d66958873f");
	buf_adds(c, "\r\r\n\r\n-");
	buf_adds(c, "\n--" BOUNDARY);		/* no CR: not a delimiter */
	buf_adds(c, "\r--" BOUNDARY);		/* no LF: not one either */
	buf_add(c, "\0\0\xff\r", 4);
	for (i = 0; i < 200; i++)
		buf_addc(c, 'A' + i % 26);
	buf_adds(c, "\r\n-");			/* right before the real one */
}

static void
make_body(struct buf *body, const struct buf *content)
{
	buf_adds(body, "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"fw.bin\"\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "\r\n");
	buf_add(body, content->data, content->len);
	buf_adds(body, "\r\n--" BOUNDARY "--\r\n");
}

static void
test_curl_file_every_split(void)
{
	struct buf	 content = BUF_INIT, body = BUF_INIT;
	struct rec	 r;
	char		 err[200];
	size_t		 step;
	int		 done, rc, bad = 0;

	make_content(&content);
	make_body(&body, &content);
	for (step = 1; step <= body.len; step++) {
		rc = run(CTYPE, body.data, body.len, step, &r, &done, err,
		    sizeof(err));
		if (rc != 0 || !done || r.nparts != 1 ||
		    strcmp(buf_cstr(&r.log), "part name=file file=fw.bin "
		    "type=application/octet-stream;end;") != 0 ||
		    !data_is(&r.data[0], content.data, content.len)) {
			if (bad++ < 3)
				fprintf(stderr, "step %zu: rc %d done %d log "
				    "%s len %zu/%zu err %s\n", step, rc, done,
				    buf_cstr(&r.log), r.data[0].len,
				    content.len, err);
		}
		rec_free(&r);
	}
	CHECK(bad == 0);

	/* In one piece, content comes in a handful of calls, not per byte. */
	rc = run(CTYPE, body.data, body.len, 0, &r, &done, err, sizeof(err));
	CHECK(rc == 0 && done && r.ndata < 40);
	rec_free(&r);
	buf_free(&content);
	buf_free(&body);
}

/* Content is handed over as it arrives; only a possible delimiter waits. */
static void
test_no_buffering(void)
{
	struct multipart	*mp;
	struct rec		 r;
	char			 err[200];
	const char		*head = "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"fw.bin\"\r\n\r\n";

	memset(&r, 0, sizeof(r));
	mp = multipart_new(CTYPE, &rec_cb, &r, err, sizeof(err));
	CHECK(mp != NULL);
	CHECK(multipart_feed(mp, head, strlen(head)) == 0);
	CHECK(r.nparts == 1 && r.data[0].len == 0);
	CHECK(multipart_feed(mp, "0123456789", 10) == 0);
	CHECK(data_is(&r.data[0], "0123456789", 10));
	/* A possible delimiter is held back ... */
	CHECK(multipart_feed(mp, "ab\r\n--------", 12) == 0);
	CHECK(data_is(&r.data[0], "0123456789ab", 12));
	/* ... and released as content when it turns out not to be one. */
	CHECK(multipart_feed(mp, "x", 1) == 0);
	CHECK(data_is(&r.data[0], "0123456789ab\r\n--------x", 23));
	CHECK(multipart_done(mp) == 0);
	CHECK(multipart_feed(mp, "\r\n--" BOUNDARY "--", 4 + 40 + 2) == 0);
	CHECK(multipart_done(mp) == 1);
	CHECK(data_is(&r.data[0], "0123456789ab\r\n--------x", 23));
	/* The epilogue is ignored. */
	CHECK(multipart_feed(mp, "\r\ntrailing junk --" BOUNDARY, 58) == 0);
	CHECK(strcmp(buf_cstr(&r.log), "part name=file file=fw.bin "
	    "type=(null);end;") == 0);
	multipart_free(mp);
	rec_free(&r);
}

/* curl -F file=fw.bin (no @): a text field, filename NULL. */
static void
test_text_field(void)
{
	static const char body[] = "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data; name=\"file\"\r\n"
	    "\r\n"
	    "fw.bin\r\n"
	    "--" BOUNDARY "--\r\n";
	struct rec	 r;
	char		 err[200];
	size_t		 step;
	int		 done;

	for (step = 1; step <= sizeof(body) - 1; step++) {
		CHECK(run(CTYPE, body, sizeof(body) - 1, step, &r, &done, err,
		    sizeof(err)) == 0);
		CHECK(done == 1);
		CHECK(strcmp(buf_cstr(&r.log),
		    "part name=file file=(null) type=(null);end;") == 0);
		CHECK(data_is(&r.data[0], "fw.bin", 6));
		rec_free(&r);
	}
}

static void
test_several_parts(void)
{
	static const char body[] = "This is the preamble.\r\n"
	    "--" BOUNDARY "  \t\r\n"
	    "content-disposition: FORM-DATA; NAME=token\n"
	    "\n"
	    "abc\r\n"
	    "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data ; name = \"f\" ; "
	    "filename=\"a\\\"b\\\\c.bin\"; filename*=UTF-8''x.bin;\r\n"
	    "X-Other: ignored\r\n"
	    "Content-Type:  text/plain \r\n"
	    "\r\n"
	    "\r\n"
	    "--" BOUNDARY "\r\n"
	    "\r\n"
	    "no headers\r\n"
	    "--" BOUNDARY "--";
	struct rec	 r;
	char		 err[200];
	size_t		 step;
	int		 done;

	for (step = 1; step <= sizeof(body) - 1; step++) {
		CHECK(run(CTYPE, body, sizeof(body) - 1, step, &r, &done, err,
		    sizeof(err)) == 0);
		CHECK(done == 1);
		CHECK(strcmp(buf_cstr(&r.log),
		    "part name=token file=(null) type=(null);end;"
		    "part name=f file=a\"b\\c.bin type=text/plain;end;"
		    "part name= file=(null) type=(null);end;") == 0);
		CHECK(data_is(&r.data[0], "abc", 3));
		CHECK(data_is(&r.data[1], "", 0));
		CHECK(data_is(&r.data[2], "no headers", 10));
		rec_free(&r);
	}

	/* The body may also start with CRLF before the first delimiter. */
	CHECK(run(CTYPE, "\r\n--" BOUNDARY "\r\n\r\nx\r\n--" BOUNDARY "--",
	    4 + 40 + 5 + 4 + 40 + 2, 1, &r, &done, err, sizeof(err)) == 0);
	CHECK(done == 1 && r.nparts == 1 && data_is(&r.data[0], "x", 1));
	rec_free(&r);
}

static void
test_truncated(void)
{
	struct buf	 content = BUF_INIT, body = BUF_INIT;
	struct rec	 r;
	char		 err[200];
	size_t		 cut;
	int		 done;

	make_content(&content);
	make_body(&body, &content);
	/* Every cut before the final "--" leaves the body unfinished. */
	for (cut = 0; cut < body.len - 2; cut++) {
		CHECK(run(CTYPE, body.data, cut, 7, &r, &done, err,
		    sizeof(err)) == 0);
		CHECK(done == 0);
		CHECK(r.data[0].len <= content.len);
		rec_free(&r);
	}
	CHECK(run(CTYPE, body.data, body.len - 2, 7, &r, &done, err,
	    sizeof(err)) == 0 && done == 1);
	rec_free(&r);
	/* No delimiter at all: all preamble, nothing reported. */
	CHECK(run(CTYPE, "hello world\r\n", 13, 1, &r, &done, err,
	    sizeof(err)) == 0 && done == 0 && r.nparts == 0 && r.ndata == 0);
	rec_free(&r);
	buf_free(&content);
	buf_free(&body);
}

static void
check_ctype(int line, const char *ctype, const char *want_err)
{
	struct multipart	*mp;
	char			 err[200] = "";

	mp = multipart_new(ctype, &rec_cb, NULL, err, sizeof(err));
	if (want_err == NULL ? mp == NULL : (mp != NULL ||
	    strcmp(err, want_err) != 0)) {
		fprintf(stderr, "%s:%d: FAIL content type [%s]: %s\n",
		    __FILE__, line, ctype, mp ? "accepted" : err);
		check_failed++;
	}
	multipart_free(mp);
}
#define CTYPE_OK(s)	check_ctype(__LINE__, s, NULL)
#define CTYPE_BAD(s, e)	check_ctype(__LINE__, s, e)

static void
test_content_types(void)
{
	char	 b70[100], b71[100];

	CTYPE_OK(CTYPE);
	CTYPE_OK("Multipart/Form-Data;BOUNDARY=x");
	CTYPE_OK("multipart/form-data; charset=utf-8; "
	    "boundary=\"a b'()+_,-./:=?\"");
	CTYPE_OK("multipart/form-data; boundary=x;");
	CTYPE_BAD("application/octet-stream", "the upload is not "
	    "multipart/form-data (use curl -F file=@image.bin)");
	CTYPE_BAD("", "the upload is not multipart/form-data "
	    "(use curl -F file=@image.bin)");
	CTYPE_BAD("multipart/mixed; boundary=x", "the upload is not "
	    "multipart/form-data (use curl -F file=@image.bin)");
	CTYPE_BAD("multipart/form-dataX; boundary=x", "the upload is not "
	    "multipart/form-data (use curl -F file=@image.bin)");
	CTYPE_BAD("multipart/form-data", "missing multipart boundary");
	CTYPE_BAD("multipart/form-data; charset=utf-8",
	    "missing multipart boundary");
	CTYPE_BAD("multipart/form-data; boundary=\"\"",
	    "invalid or too long multipart boundary");
	CTYPE_BAD("multipart/form-data; boundary=\"ab \"",
	    "invalid or too long multipart boundary");
	CTYPE_BAD("multipart/form-data; boundary=\"a\\\"b\"",
	    "invalid or too long multipart boundary");
	CTYPE_BAD("multipart/form-data; boundary=",
	    "malformed multipart/form-data content type");
	CTYPE_BAD("multipart/form-data; boundary=\"abc",
	    "malformed multipart/form-data content type");
	CTYPE_BAD("multipart/form-data boundary=x",
	    "malformed multipart/form-data content type");
	memset(b70, 'b', 70);
	b70[70] = '\0';
	memset(b71, 'b', 71);
	b71[71] = '\0';
	{
		char	 ct[200];

		snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s",
		    b70);
		CTYPE_OK(ct);
		snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s",
		    b71);
		CTYPE_BAD(ct, "invalid or too long multipart boundary");
	}
}

/* A body that must fail with err. */
static void
check_bad(int line, const char *body, size_t len, const char *want)
{
	struct rec	 r;
	char		 err[200];
	size_t		 step;
	int		 done, rc;

	for (step = 1; step <= len; step += step < 8 ? 1 : 61) {
		rc = run(CTYPE, body, len, step, &r, &done, err, sizeof(err));
		if (rc != -1 || done || strcmp(err, want) != 0) {
			fprintf(stderr, "%s:%d: FAIL step %zu rc %d err [%s] "
			    "want [%s]\n", __FILE__, line, step, rc, err, want);
			check_failed++;
			rec_free(&r);
			return;
		}
		rec_free(&r);
	}
}
#define BAD(s, e)	check_bad(__LINE__, s, sizeof(s) - 1, e)

static void
test_malformed(void)
{
	struct buf	 b = BUF_INIT;
	struct rec	 r;
	char		 err[200];
	int		 i, done;

	BAD("--" BOUNDARY "X\r\n\r\n", "unexpected bytes after a multipart "
	    "boundary");
	BAD("--" BOUNDARY "-x", "unexpected bytes after a multipart boundary");
	BAD("--" BOUNDARY " x\r\n", "unexpected bytes after a multipart "
	    "boundary");
	BAD("--" BOUNDARY "\rx", "CR without LF after a multipart boundary");
	BAD("--" BOUNDARY "\r\nno colon here\r\n\r\n",
	    "malformed header line in a part");
	BAD("--" BOUNDARY "\r\n: empty name\r\n\r\n",
	    "malformed header line in a part");
	BAD("--" BOUNDARY "\r\n folded: x\r\n\r\n",
	    "malformed header line in a part");
	BAD("--" BOUNDARY "\r\nX-A: a\rb\r\n\r\n",
	    "control character in a part's headers");
	BAD("--" BOUNDARY "\r\nContent-Disposition: attachment; name=x\r\n\r\n",
	    "a part's Content-Disposition is not form-data");
	BAD("--" BOUNDARY "\r\nContent-Disposition: form-data; "
	    "name=\"x\r\n\r\n",
	    "malformed Content-Disposition");
	BAD("--" BOUNDARY "\r\nContent-Disposition: form-data; name\r\n\r\n",
	    "malformed Content-Disposition");
	BAD("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a; "
	    "name=b\r\n\r\n", "a parameter is repeated in Content-Disposition");
	BAD("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n"
	    "Content-Disposition: form-data; name=b\r\n\r\n",
	    "two Content-Disposition headers in a part");

	/* A header block of exactly the limit passes; one byte more fails. */
	buf_adds(&b, "--" BOUNDARY "\r\nX-Pad: ");
	i = MULTIPART_MAX_HEADERS - (int)strlen("X-Pad: ") - 4;
	while (i-- > 0)
		buf_addc(&b, 'p');
	buf_adds(&b, "\r\n\r\nx\r\n--" BOUNDARY "--");
	CHECK(run(CTYPE, b.data, b.len, 100, &r, &done, err,
	    sizeof(err)) == 0 && done == 1 && r.nparts == 1);
	rec_free(&r);
	buf_reset(&b);
	buf_adds(&b, "--" BOUNDARY "\r\nX-Pad: ");
	i = MULTIPART_MAX_HEADERS - (int)strlen("X-Pad: ") - 3;
	while (i-- > 0)
		buf_addc(&b, 'p');
	buf_adds(&b, "\r\n\r\nx\r\n--" BOUNDARY "--");
	CHECK(run(CTYPE, b.data, b.len, 100, &r, &done, err,
	    sizeof(err)) == -1 && r.nparts == 0);
	CHECK(strcmp(err, "a part's headers exceed 4096 bytes") == 0);
	rec_free(&r);

	/* MULTIPART_MAX_PARTS parts pass, one more fails. */
	buf_reset(&b);
	for (i = 0; i < MULTIPART_MAX_PARTS; i++)
		buf_printf(&b, "--" BOUNDARY "\r\nContent-Disposition: "
		    "form-data; name=\"f%d\"\r\n\r\n%d\r\n", i, i);
	buf_adds(&b, "--" BOUNDARY "--");
	CHECK(run(CTYPE, b.data, b.len, 3, &r, &done, err, sizeof(err)) == 0);
	CHECK(done == 1 && r.nparts == MULTIPART_MAX_PARTS);
	CHECK(data_is(&r.data[15], "15", 2));
	rec_free(&r);
	b.len -= strlen("--" BOUNDARY "--");
	buf_adds(&b, "--" BOUNDARY "\r\n\r\nx\r\n--" BOUNDARY "--");
	CHECK(run(CTYPE, b.data, b.len, 3, &r, &done, err, sizeof(err)) == -1);
	CHECK(done == 0 && r.nparts == MULTIPART_MAX_PARTS);
	CHECK(strcmp(err, "more than 16 parts in the upload") == 0);
	rec_free(&r);
	buf_free(&b);
}

/* A callback's -1 stops the parse without an error sentence. */
static void
test_callback_stop(void)
{
	static const char body[] = "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
	    "--" BOUNDARY "\r\n"
	    "Content-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
	    "--" BOUNDARY "--";
	struct multipart	*mp;
	struct rec		 r;
	char			 err[200];

	memset(&r, 0, sizeof(r));
	r.stop_on_part = 2;
	mp = multipart_new(CTYPE, &rec_cb, &r, err, sizeof(err));
	CHECK(multipart_feed(mp, body, sizeof(body) - 1) == -1);
	CHECK(multipart_error(mp) == NULL);
	CHECK(multipart_done(mp) == 0);
	CHECK(r.nparts == 2 && data_is(&r.data[0], "1", 1) &&
	    r.data[1].len == 0);
	/* Once stopped it stays stopped. */
	CHECK(multipart_feed(mp, "x", 1) == -1);
	multipart_free(mp);
	rec_free(&r);
}

int
main(void)
{
	test_curl_file_every_split();
	test_no_buffering();
	test_text_field();
	test_several_parts();
	test_truncated();
	test_content_types();
	test_malformed();
	test_callback_stop();
	return check_exit("test_multipart");
}
