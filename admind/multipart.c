/* SPDX-License-Identifier: MIT */
/*
 * A streaming multipart/form-data parser (RFC 7578, RFC 2046) for admind's
 * firmware uploads.  It is fed the request body in pieces of any size and
 * hands each part's content to the caller as it arrives: the only bytes it
 * holds are one part's header block (capped) and how many bytes of a
 * possible delimiter it has matched so far (those bytes are the delimiter's
 * own prefix, so they need no copy).
 *
 * The delimiter is CRLF "--" boundary.  The body is treated as if a CRLF
 * came before its first byte, so a body that starts with "--boundary" and
 * one with a preamble are handled alike.  After a delimiter come either
 * "--" (the close delimiter; everything after it is the epilogue and is
 * ignored) or optional spaces and tabs and CRLF, then the part's header
 * block up to an empty line.  Header lines may end in a bare LF; the
 * delimiter itself must be preceded by CRLF.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

#define MP_DELIM_MAX	(4 + MULTIPART_MAX_BOUNDARY)

enum mp_state {
	MP_PREAMBLE,		/* before the first delimiter: discarded */
	MP_DATA,		/* part content */
	MP_AFTER_DELIM,		/* just past a delimiter */
	MP_PADDING,		/* spaces or tabs after a delimiter */
	MP_DELIM_CR,		/* CR after a delimiter, LF expected */
	MP_CLOSE_DASH,		/* "-" after a delimiter, "-" expected */
	MP_HEADERS,		/* a part's header block */
	MP_EPILOGUE,		/* after the close delimiter: done */
	MP_ERROR,
};

struct multipart {
	enum mp_state		 state;
	char			 delim[MP_DELIM_MAX + 1];
	size_t			 dlen;
	size_t			 match;		/* delimiter bytes matched */
	char			 hdr[MULTIPART_MAX_HEADERS];
	size_t			 hlen;
	size_t			 hline;		/* start of the current line */
	int			 nparts;
	struct multipart_part	 part;
	struct multipart_cb	 cb;
	void			*arg;
	char			 err[160];
	int			 has_err;
};

static int	mp_boundary(const char *, char *, size_t, char *, size_t);
static int	mp_param(const char **, char **, char **);
static char	*mp_value(const char **);
static const char *mp_token_end(const char *);
static int	mp_body(struct multipart *, const char *, size_t, size_t *);
static int	mp_data(struct multipart *, const char *, size_t);
static int	mp_delimiter(struct multipart *);
static int	mp_after_delim(struct multipart *, char);
static int	mp_header_byte(struct multipart *, char);
static int	mp_headers_done(struct multipart *);
static int	mp_header_line(struct multipart *, char *, size_t, int *);
static int	mp_disposition(struct multipart *, const char *);
static void	mp_part_clear(struct multipart_part *);
static int	mp_fail(struct multipart *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

struct multipart *
multipart_new(const char *content_type, const struct multipart_cb *cb,
    void *arg, char *err, size_t errlen)
{
	struct multipart	*mp;
	char			 boundary[MULTIPART_MAX_BOUNDARY + 1];

	if (mp_boundary(content_type, boundary, sizeof(boundary), err,
	    errlen) == -1)
		return NULL;
	if ((mp = calloc(1, sizeof(*mp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mp->dlen = snprintf(mp->delim, sizeof(mp->delim), "\r\n--%s",
	    boundary);
	/* As if the body began with CRLF. */
	mp->match = 2;
	mp->state = MP_PREAMBLE;
	mp->cb = *cb;
	mp->arg = arg;
	return mp;
}

int
multipart_feed(struct multipart *mp, const char *p, size_t len)
{
	size_t	 off = 0;

	while (off < len) {
		switch (mp->state) {
		case MP_ERROR:
			return -1;
		case MP_EPILOGUE:
			return 0;
		case MP_PREAMBLE:
		case MP_DATA:
			if (mp_body(mp, p, len, &off) == -1)
				return -1;
			break;
		case MP_HEADERS:
			if (mp_header_byte(mp, p[off++]) == -1)
				return -1;
			break;
		default:
			if (mp_after_delim(mp, p[off++]) == -1)
				return -1;
			break;
		}
	}
	return mp->state == MP_ERROR ? -1 : 0;
}

int
multipart_done(const struct multipart *mp)
{
	return mp->state == MP_EPILOGUE;
}

const char *
multipart_error(const struct multipart *mp)
{
	return mp->has_err ? mp->err : NULL;
}

void
multipart_free(struct multipart *mp)
{
	if (mp == NULL)
		return;
	mp_part_clear(&mp->part);
	free(mp);
}

/*
 * The Content-Type header: "multipart/form-data" and a boundary parameter
 * of 1 to 70 characters from RFC 2046's bchars, not ending in a space.
 */
static int
mp_boundary(const char *ct, char *out, size_t outlen, char *err,
    size_t errlen)
{
	static const char	 type[] = "multipart/form-data";
	const char		*p = ct, *e;
	char			*name, *value;
	size_t			 n;
	int			 found = 0;

	p += strspn(p, " \t");
	e = p + strcspn(p, "; \t");
	if ((size_t)(e - p) != sizeof(type) - 1 ||
	    strncasecmp(p, type, e - p) != 0) {
		snprintf(err, errlen, "the upload is not multipart/form-data "
		    "(use curl -F file=@image.bin)");
		return -1;
	}
	p = e;
	for (;;) {
		if (mp_param(&p, &name, &value) == -1) {
			snprintf(err, errlen, "malformed multipart/form-data "
			    "content type");
			return -1;
		}
		if (name == NULL)
			break;
		if (strcasecmp(name, "boundary") == 0 && !found) {
			found = 1;
			n = strlen(value);
			if (n == 0 || n >= outlen || value[n - 1] == ' ' ||
			    strspn(value, "0123456789abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ") != n)
				found = -1;
			else
				memcpy(out, value, n + 1);
		}
		free(name);
		free(value);
	}
	if (found != 1) {
		snprintf(err, errlen, "%s multipart boundary", found == 0 ?
		    "missing" : "invalid or too long");
		return -1;
	}
	return 0;
}

/*
 * One "; name=value" parameter at *pp (value a token or a quoted string);
 * name NULL at the end of the text.  Trailing ';' are tolerated.
 */
static int
mp_param(const char **pp, char **name, char **value)
{
	const char	*p = *pp, *e;

	*name = *value = NULL;
	p += strspn(p, " \t");
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	if (*p++ != ';')
		return -1;
	p += strspn(p, " \t");
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	if ((e = mp_token_end(p)) == p)
		return -1;
	if ((*name = strndup(p, e - p)) == NULL)
		return -1;
	p = e + strspn(e, " \t");
	if (*p++ != '=')
		goto fail;
	p += strspn(p, " \t");
	if ((*value = mp_value(&p)) == NULL)
		goto fail;
	*pp = p;
	return 0;
fail:
	free(*name);
	*name = NULL;
	return -1;
}

/* A token or a quoted string with backslash escapes, decoded. */
static char *
mp_value(const char **pp)
{
	const char	*p = *pp, *e;
	char		*v, *o;

	if (*p != '"') {
		if ((e = mp_token_end(p)) == p)
			return NULL;
		*pp = e;
		return strndup(p, e - p);
	}
	if ((v = o = malloc(strlen(p))) == NULL)
		return NULL;
	for (p++; *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0') {
			free(v);
			return NULL;
		}
		*o++ = *p;
	}
	*o = '\0';
	*pp = p + 1;
	return v;
}

/* End of an RFC 7230 token starting at p. */
static const char *
mp_token_end(const char *p)
{
	return p + strspn(p, "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

/*
 * Content (or preamble) bytes: hands runs without CR over at once and
 * matches the delimiter byte by byte.  Only CR starts the delimiter and no
 * other delimiter byte is a CR, so after a mismatch the matched prefix is
 * content and matching restarts at the mismatching byte.
 */
static int
mp_body(struct multipart *mp, const char *p, size_t len, size_t *off)
{
	const char	*cr;
	size_t		 n;

	while (*off < len) {
		if (mp->match == 0) {
			cr = memchr(p + *off, '\r', len - *off);
			n = cr != NULL ? (size_t)(cr - (p + *off)) : len - *off;
			if (mp_data(mp, p + *off, n) == -1)
				return -1;
			*off += n;
			if (cr == NULL)
				return 0;
			mp->match = 1;
			(*off)++;
		} else if (p[*off] == mp->delim[mp->match]) {
			(*off)++;
			if (++mp->match == mp->dlen)
				return mp_delimiter(mp);
		} else {
			n = mp->match;
			mp->match = 0;
			if (mp_data(mp, mp->delim, n) == -1)
				return -1;
		}
	}
	return 0;
}

static int
mp_data(struct multipart *mp, const char *p, size_t n)
{
	if (n == 0 || mp->state != MP_DATA || mp->cb.on_data == NULL)
		return 0;
	if (mp->cb.on_data(mp->arg, p, n) == -1) {
		mp->state = MP_ERROR;
		return -1;
	}
	return 0;
}

static int
mp_delimiter(struct multipart *mp)
{
	mp->match = 0;
	if (mp->state == MP_DATA && mp->cb.on_part_end != NULL &&
	    mp->cb.on_part_end(mp->arg) == -1) {
		mp->state = MP_ERROR;
		return -1;
	}
	mp->state = MP_AFTER_DELIM;
	return 0;
}

/* The rest of a delimiter line: "--", or padding and CRLF (or LF). */
static int
mp_after_delim(struct multipart *mp, char c)
{
	switch (mp->state) {
	case MP_AFTER_DELIM:
		if (c == '-') {
			mp->state = MP_CLOSE_DASH;
			return 0;
		}
		/* FALLTHROUGH */
	case MP_PADDING:
		if (c == ' ' || c == '\t')
			mp->state = MP_PADDING;
		else if (c == '\r')
			mp->state = MP_DELIM_CR;
		else if (c == '\n')
			break;
		else
			return mp_fail(mp, "unexpected bytes after a "
			    "multipart boundary");
		return 0;
	case MP_DELIM_CR:
		if (c != '\n')
			return mp_fail(mp, "CR without LF after a multipart "
			    "boundary");
		break;
	case MP_CLOSE_DASH:
		if (c != '-')
			return mp_fail(mp, "unexpected bytes after a "
			    "multipart boundary");
		mp->state = MP_EPILOGUE;
		return 0;
	default:
		return mp_fail(mp, "internal error");
	}
	if (++mp->nparts > MULTIPART_MAX_PARTS)
		return mp_fail(mp, "more than %d parts in the upload",
		    MULTIPART_MAX_PARTS);
	mp->state = MP_HEADERS;
	mp->hlen = mp->hline = 0;
	return 0;
}

/* One byte of a header block, which ends with an empty line. */
static int
mp_header_byte(struct multipart *mp, char c)
{
	size_t	 n;

	if (mp->hlen == sizeof(mp->hdr))
		return mp_fail(mp, "a part's headers exceed %d bytes",
		    MULTIPART_MAX_HEADERS);
	mp->hdr[mp->hlen++] = c;
	if (c != '\n')
		return 0;
	n = mp->hlen - mp->hline;
	if (n == 1 || (n == 2 && mp->hdr[mp->hline] == '\r'))
		return mp_headers_done(mp);
	mp->hline = mp->hlen;
	return 0;
}

static int
mp_headers_done(struct multipart *mp)
{
	size_t	 start = 0, end;
	int	 seen_cd = 0;

	mp_part_clear(&mp->part);
	while (start < mp->hline) {
		end = start;
		while (mp->hdr[end] != '\n')
			end++;
		if (mp_header_line(mp, mp->hdr + start, end - start,
		    &seen_cd) == -1)
			return -1;
		start = end + 1;
	}
	if (mp->part.name == NULL && (mp->part.name = strdup("")) == NULL)
		return mp_fail(mp, "out of memory");
	mp->state = MP_DATA;
	if (mp->cb.on_part != NULL &&
	    mp->cb.on_part(mp->arg, &mp->part) == -1) {
		mp->state = MP_ERROR;
		return -1;
	}
	return 0;
}

/* One header line (without its LF): Content-Disposition, Content-Type. */
static int
mp_header_line(struct multipart *mp, char *line, size_t len, int *seen_cd)
{
	char	*colon, *v, *e;
	size_t	 i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			return mp_fail(mp, "control character in a part's "
			    "headers");
	colon = strchr(line, ':');
	if (colon == NULL || colon == line ||
	    mp_token_end(line) != colon)
		return mp_fail(mp, "malformed header line in a part");
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	for (e = line + len; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (strcasecmp(line, "Content-Disposition") == 0) {
		if ((*seen_cd)++)
			return mp_fail(mp, "two Content-Disposition headers "
			    "in a part");
		return mp_disposition(mp, v);
	}
	if (strcasecmp(line, "Content-Type") == 0) {
		free(mp->part.content_type);
		if ((mp->part.content_type = strdup(v)) == NULL)
			return mp_fail(mp, "out of memory");
	}
	return 0;
}

/* form-data; name="..."; filename="..." (filename* is ignored). */
static int
mp_disposition(struct multipart *mp, const char *v)
{
	const char	*e;
	char		*name, *value, **slot;

	e = mp_token_end(v);
	if ((size_t)(e - v) != 9 || strncasecmp(v, "form-data", 9) != 0)
		return mp_fail(mp, "a part's Content-Disposition is not "
		    "form-data");
	for (;;) {
		if (mp_param(&e, &name, &value) == -1)
			return mp_fail(mp, "malformed Content-Disposition");
		if (name == NULL)
			return 0;
		slot = NULL;
		if (strcasecmp(name, "name") == 0)
			slot = &mp->part.name;
		else if (strcasecmp(name, "filename") == 0)
			slot = &mp->part.filename;
		free(name);
		if (slot == NULL) {
			free(value);
			continue;
		}
		if (*slot != NULL) {
			free(value);
			return mp_fail(mp, "a parameter is repeated in "
			    "Content-Disposition");
		}
		*slot = value;
	}
}

static void
mp_part_clear(struct multipart_part *part)
{
	free(part->name);
	free(part->filename);
	free(part->content_type);
	memset(part, 0, sizeof(*part));
}

static int
mp_fail(struct multipart *mp, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(mp->err, sizeof(mp->err), fmt, ap);
	va_end(ap);
	mp->has_err = 1;
	mp->state = MP_ERROR;
	return -1;
}
