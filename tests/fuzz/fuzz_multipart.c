/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for admind's multipart/form-data parser
 * (admind/multipart.h).  The input is "Content-Type value\n" then the body;
 * the body is fed in pieces whose sizes come from the Content-Type line's
 * length, so one input also checks that splitting changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

struct fuzz_mp {
	size_t	 parts, data, ends;
	int	 in_part;
};

static int	fuzz_on_part(void *, const struct multipart_part *);
static int	fuzz_on_data(void *, const char *, size_t);
static int	fuzz_on_part_end(void *);
static int	fuzz_run(const char *, const char *, size_t, size_t,
		    struct fuzz_mp *);

static const struct multipart_cb fuzz_cb = {
	fuzz_on_part, fuzz_on_data, fuzz_on_part_end,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mp	 whole, split;
	const char	*nl;
	char		*ctype;
	size_t		 clen, step;
	int		 r1, r2;

	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	clen = (size_t)(nl - (const char *)data);
	if ((ctype = strndup((const char *)data, clen)) == NULL)
		return 0;
	step = clen % 7 + 1;
	r1 = fuzz_run(ctype, nl + 1, size - clen - 1, size, &whole);
	r2 = fuzz_run(ctype, nl + 1, size - clen - 1, step, &split);
	/* a parse is the same whatever the pieces */
	if (r1 != r2 || whole.parts != split.parts || whole.data != split.data ||
	    whole.ends != split.ends)
		abort();
	free(ctype);
	return 0;
}

/* 1 done, 0 truncated, -1 error, -2 refused; counts in mp. */
static int
fuzz_run(const char *ctype, const char *body, size_t len, size_t step,
    struct fuzz_mp *mp)
{
	struct multipart	*m;
	char			 err[128];
	size_t			 off, n;
	int			 rc = 0;

	memset(mp, 0, sizeof(*mp));
	if ((m = multipart_new(ctype, &fuzz_cb, mp, err, sizeof(err))) ==
	    NULL) {
		if (strlen(err) == 0)
			abort();
		return -2;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		if (multipart_feed(m, body + off, n) == -1) {
			if (multipart_error(m) == NULL)
				abort();
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		rc = multipart_done(m);
	if (mp->parts > MULTIPART_MAX_PARTS)
		abort();
	multipart_free(m);
	return rc;
}

static int
fuzz_on_part(void *arg, const struct multipart_part *p)
{
	struct fuzz_mp	*mp = arg;

	if (p->name == NULL || mp->in_part)
		abort();
	strlen(p->name);
	if (p->filename != NULL)
		strlen(p->filename);
	if (p->content_type != NULL)
		strlen(p->content_type);
	mp->in_part = 1;
	mp->parts++;
	return 0;
}

static int
fuzz_on_data(void *arg, const char *p, size_t n)
{
	struct fuzz_mp	*mp = arg;
	volatile char	 sink = 0;
	size_t		 i;

	if (!mp->in_part)
		abort();
	for (i = 0; i < n; i++)
		sink ^= p[i];
	mp->data += n;
	return 0;
}

static int
fuzz_on_part_end(void *arg)
{
	struct fuzz_mp	*mp = arg;

	if (!mp->in_part)
		abort();
	mp->in_part = 0;
	mp->ends++;
	return 0;
}
