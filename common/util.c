/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the daemons (see util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

void
util_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
util_base64(const uint8_t *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

int
util_random_token(char *out, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t	 r[64];
	size_t	 i = 0, k = sizeof(r);

	/* One getrandom() per 64 bytes: a byte at a time made a job for
	 * 100,000 devices spend most of its time in the kernel. */
	while (i < len) {
		if (k == sizeof(r)) {
			if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
				return -1;
			k = 0;
		}
		if (r[k] < 248)		/* 248 = 4 * 62: no modulo bias */
			out[i++] = alphabet[r[k] % 62];
		k++;
	}
	explicit_bzero(r, sizeof(r));
	out[len] = '\0';
	return 0;
}

void
util_sha256_hex(const char *s, char *out)
{
	uint8_t		 md[32];
	unsigned int	 mdlen = sizeof(md);

	EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL);
	util_hex(md, 32, out);
}

void
util_iso8601(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
util_mkdirs(const char *path, int mode)
{
	char	 tmp[PATH_MAX];
	size_t	 len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
util_write_file(const char *path, const void *data, size_t len, int mode)
{
	struct stat	 st;
	char		 tmp[PATH_MAX];
	int		 fd, saved, existed;
	ssize_t		 n;
	size_t		 off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((existed = stat(path, &st) == 0))
		mode = (int)(st.st_mode & 07777);
	/* a stale temporary would keep its own mode and owner */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    (mode_t)mode)) == -1)
		return -1;
	if (existed && (fchmod(fd, st.st_mode & 07777) == -1 ||
	    ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) == -1)))
		goto fail;
	while (off < len) {
		if ((n = write(fd, (const char *)data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

const char *
util_word(const char **p, const char *seps, size_t *len)
{
	const char	*w = *p + strspn(*p, seps);

	if (*w == '\0')
		return NULL;
	*len = strcspn(w, seps);
	*p = w + *len;
	return w;
}

int
util_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char	*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}
