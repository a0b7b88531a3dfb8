/* SPDX-License-Identifier: MIT */
/*
 * A streaming multipart/form-data parser (RFC 7578) for uploads: fed the
 * body in pieces of any size, it reports each part's headers and hands over
 * the part's bytes as they arrive, never buffering a part's content.  Limits
 * on boundary, header block size and number of parts.
 */
#ifndef OTAD_MULTIPART_H
#define OTAD_MULTIPART_H

#include <stddef.h>

#define MULTIPART_MAX_BOUNDARY	70	/* RFC 2046 */
#define MULTIPART_MAX_HEADERS	4096	/* one part's header block */
#define MULTIPART_MAX_PARTS	16

struct multipart_part {
	char	*name;		/* form field name, "" when none */
	char	*filename;	/* NULL: a plain field (no filename param) */
	char	*content_type;	/* NULL when absent */
};

struct multipart_cb {
	/* A part's headers are complete.  Return -1 to stop parsing.  The
	 * part's strings stay valid until the next on_part or
	 * multipart_free: copy what you keep. */
	int	(*on_part)(void *arg, const struct multipart_part *);
	/* Part content bytes (any number of calls). */
	int	(*on_data)(void *arg, const char *, size_t);
	/* The part's content ended. */
	int	(*on_part_end)(void *arg);
};

struct multipart;

/* From a Content-Type header value ("multipart/form-data; boundary=..."):
 * NULL with a sentence in err when it is not multipart/form-data or the
 * boundary is missing or invalid. */
struct multipart *multipart_new(const char *content_type,
	    const struct multipart_cb *, void *arg, char *err, size_t errlen);
/* Feeds bytes; -1 on malformed input or a callback's -1 (err set unless
 * a callback stopped it). */
int	 multipart_feed(struct multipart *, const char *, size_t);
/* 1 when the closing boundary was seen, 0 otherwise (a truncated body). */
int	 multipart_done(const struct multipart *);
/* The sentence for the -1, or NULL when there was none (no error, or a
 * callback stopped the parse). */
const char *multipart_error(const struct multipart *);
void	 multipart_free(struct multipart *);

#endif
