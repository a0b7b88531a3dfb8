/* SPDX-License-Identifier: MIT */
/*
 * Growable byte buffers, used by every daemon for frames, responses and
 * accumulated request fields.  A buf never holds more than its owner's cap;
 * the caller checks the return of buf_add() and rejects the input.
 */
#ifndef OTAD_BUF_H
#define OTAD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0 }

int	 buf_reserve(struct buf *, size_t);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addc(struct buf *, char);
int	 buf_adds(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list);
void	 buf_consume(struct buf *, size_t);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
/* NUL-terminates the contents (not counted in len) and returns data. */
char	*buf_cstr(struct buf *);

#endif
