/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every daemon needs: hex and base64, random tokens,
 * ISO-8601 times, directories, whole-file writes done safely.
 */
#ifndef OTAD_UTIL_H
#define OTAD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* out must hold 2*n+1 bytes; lower-case. */
void	 util_hex(const uint8_t *, size_t n, char *out);
/* out must hold 4*((n+2)/3)+1 bytes. */
void	 util_base64(const uint8_t *, size_t n, char *out);
/* len printable characters [A-Za-z0-9] from the kernel's CSPRNG; out holds
 * len+1.  -1 on failure. */
int	 util_random_token(char *out, size_t len);
/* SHA-256 of a string as 64 lower-case hex characters (out holds 65). */
void	 util_sha256_hex(const char *, char *out);
/* "2026-11-23T21:19:37Z"; out holds 21 bytes. */
void	 util_iso8601(time_t, char *out);
/* Milliseconds on the monotonic clock. */
uint64_t util_now_ms(void);
/* mkdir -p with mode; 0 or -1 with errno. */
int	 util_mkdirs(const char *, int mode);
/* Writes data to path through path.tmp, fsync and rename; a path that
 * exists keeps its mode and owner, a new one gets mode. */
int	 util_write_file(const char *path, const void *, size_t, int mode);
/* The next word at *p of a list separated by any of the bytes in seps:
 * its start, its length in *len, and *p moved past it; NULL when no word
 * is left. */
const char *util_word(const char **p, const char *seps, size_t *len);
/* Strict decimal parse of an unsigned value; -1 on junk or overflow. */
int	 util_parse_u64(const char *, uint64_t *);

#endif
