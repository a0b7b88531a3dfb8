/* SPDX-License-Identifier: MIT */
/*
 * The firmware directory as admind writes it: an image is a file named
 * by its SHA-256, written through a temporary .upload-* file (which
 * admind's start sweeps) and made visible by an fsync and a rename, never
 * half.  fwstore serves those files and nothing else.
 *
 * On a store that several nodes share (store_shared), the database holds
 * every image's bytes too, in chunks of FWCACHE_CHUNK (firmware_data):
 * fwcache_put writes them in the upload's transaction, and fwcache_ensure
 * fills a node's directory from them before admind grants a download of
 * an image that node has not got, verified against the image's size and
 * SHA-256 before the rename.  A damaged copy is never served (and read
 * again at most every FWCACHE_DAMAGED_MS, however often asked).  Deleting
 * an image deletes its chunks and this node's file; the files other
 * nodes cached stay on their disks (fwstore serves only what admind
 * grants, so they are dead bytes) until the same image comes again.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "admind.h"
#include "log.h"
#include "util.h"

#define FWCACHE_CHUNK	(1024 * 1024)	/* bytes per firmware_data row */
#define FWCACHE_DAMAGED	8		/* damaged copies remembered */
#define FWCACHE_DAMAGED_MS 5000		/* for so long */

/* Copies found damaged lately: a fleet asking again and again for an
 * image reads it from the database (and logs why it is refused) once in
 * FWCACHE_DAMAGED_MS, not at every request. */
static struct {
	char		 sha256[65];
	uint64_t	 until;		/* ms */
} fwcache_damaged[FWCACHE_DAMAGED];
static unsigned	 fwcache_damaged_next;

/* A copy being read from the database into a temporary file. */
struct fwcache_fill {
	int		 fd;
	const char	*tmp;
	EVP_MD_CTX	*sha256;
	uint64_t	 got, size;
	char		 why[160];	/* the copy is damaged: how */
};

int
fwcache_tmp(char *path, size_t len)
{
	int	 fd;

	snprintf(path, len, "%s/.upload-XXXXXX", env->firmware_dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		log_warn("firmware directory: %s", path);
		*path = '\0';
		return -1;
	}
	fchmod(fd, 0640);
	return fd;
}

int
fwcache_commit(int fd, const char *tmp, const char *sha256)
{
	char	 path[PATH_MAX];
	int	 dfd, saved;

	if (fsync(fd) == -1) {
		saved = errno;
		log_warn("firmware directory: fsync %s", tmp);
		errno = saved;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", env->firmware_dir, sha256);
	if (rename(tmp, path) == -1) {
		saved = errno;
		log_warn("firmware directory: rename %s to %s", tmp, path);
		errno = saved;
		return -1;
	}
	/* The rename is durable once the directory is synced. */
	if ((dfd = open(env->firmware_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Reads up to len bytes of the open file: fewer only at its end. */
static ssize_t
fwcache_read(int fd, uint8_t *p, size_t len)
{
	size_t	 n = 0;
	ssize_t	 r;

	while (n < len) {
		if ((r = read(fd, p + n, len - n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

int
fwcache_put(const char *sha256)
{
	char		 path[PATH_MAX];
	uint8_t		*chunk;
	ssize_t		 n = 0;
	int		 fd, seq = 0, rc = 0;

	if (!store_shared(env->store))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", env->firmware_dir, sha256);
	if ((chunk = malloc(FWCACHE_CHUNK)) == NULL) {
		log_warnx("firmware %s: out of memory for its chunks", sha256);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("firmware %s: cannot read it back for the database",
		    path);
		free(chunk);
		return -1;
	}
	while (rc == 0 && (n = fwcache_read(fd, chunk, FWCACHE_CHUNK)) > 0)
		rc = store_firmware_data_put(env->store, sha256, seq++, chunk,
		    (size_t)n);
	if (rc == 0 && n == -1) {
		log_warn("firmware %s: read", path);
		rc = -1;
	}
	close(fd);
	free(chunk);
	return rc;
}

/* One chunk from the database, in seq order, into the temporary file. */
static int
fwcache_chunk(void *arg, const void *data, size_t len)
{
	struct fwcache_fill	*f = arg;
	const uint8_t		*p = data;
	ssize_t			 w;

	if (len == 0 || len > f->size - f->got) {
		snprintf(f->why, sizeof(f->why), "chunk of %zu bytes after %"
		    PRIu64 " of the image's %" PRIu64, len, f->got, f->size);
		return -1;
	}
	EVP_DigestUpdate(f->sha256, p, len);
	f->got += len;
	while (len > 0) {
		if ((w = write(f->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("firmware directory: write %s", f->tmp);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Every chunk of the image into f's file, then its SHA-256 checked:
 * 0, -1 the store or the disk failed, -2 the copy is damaged (f->why). */
static int
fwcache_fetch(struct fwcache_fill *f, const struct firmware *fw)
{
	uint8_t		 md[32];
	unsigned int	 mdlen;
	char		 hex[65];
	int		 seq, rc;

	for (seq = 0; f->got < f->size; seq++) {
		rc = store_firmware_data_get(env->store, fw->sha256, seq,
		    fwcache_chunk, f);
		if (rc == 0)
			snprintf(f->why, sizeof(f->why), "chunk %d is missing "
			    "after %" PRIu64 " of %" PRIu64 " bytes", seq,
			    f->got, f->size);
		if (rc != 1)
			return *f->why ? -2 : -1;
	}
	EVP_DigestFinal_ex(f->sha256, md, &mdlen);
	util_hex(md, sizeof(md), hex);
	if (strcmp(hex, fw->sha256) != 0) {
		snprintf(f->why, sizeof(f->why), "its bytes have the SHA-256 "
		    "%s", hex);
		return -2;
	}
	return 0;
}

static int
fwcache_known_damaged(const char *sha256)
{
	uint64_t	 now = util_now_ms();

	for (size_t i = 0; i < FWCACHE_DAMAGED; i++)
		if (now < fwcache_damaged[i].until &&
		    strcmp(fwcache_damaged[i].sha256, sha256) == 0)
			return 1;
	return 0;
}

/* Why the image was not copied, logged; a damaged copy remembered. */
static void
fwcache_failed(const struct firmware *fw, int rc, const char *why)
{
	char		 field[96];
	unsigned	 i;

	snprintf(field, sizeof(field), "FIRMWARE_SHA256=%s", fw->sha256);
	if (rc == -1) {
		log_fields(LOG_WARNING, (const char *[]){ field, NULL },
		    "firmware %" PRId64 " (sha256 %s): not copied from the "
		    "database to this node (see above); its downloads are "
		    "answered 503 until it is", fw->id, fw->sha256);
		return;
	}
	log_fields(LOG_WARNING, (const char *[]){ field, NULL },
	    "firmware %" PRId64 " (sha256 %s): the database's copy is "
	    "damaged, %s; this node does not serve the image (its downloads "
	    "fail as for a missing file). Upload the image again to repair "
	    "the copy", fw->id, fw->sha256, why);
	i = fwcache_damaged_next++ % FWCACHE_DAMAGED;
	memcpy(fwcache_damaged[i].sha256, fw->sha256,
	    sizeof(fwcache_damaged[i].sha256));
	fwcache_damaged[i].until = util_now_ms() + FWCACHE_DAMAGED_MS;
}

int
fwcache_ensure(const struct firmware *fw)
{
	struct fwcache_fill	 f = { .size = fw->size };
	struct stat		 sb;
	char			 path[PATH_MAX], tmp[PATH_MAX];
	int			 rc;

	if (!store_shared(env->store))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", env->firmware_dir, fw->sha256);
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size == fw->size)
		return 0;
	if (fwcache_known_damaged(fw->sha256))
		return -2;
	if ((f.sha256 = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(f.sha256, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(f.sha256);
		log_warnx("firmware %s: out of memory", fw->sha256);
		return -1;
	}
	if ((f.fd = fwcache_tmp(tmp, sizeof(tmp))) == -1) {
		EVP_MD_CTX_free(f.sha256);
		return -1;
	}
	f.tmp = tmp;
	if ((rc = fwcache_fetch(&f, fw)) == 0 &&
	    fwcache_commit(f.fd, tmp, fw->sha256) == 0)
		log_info("firmware %s: %" PRIu64 " bytes copied from the "
		    "database to %s, verified", fw->sha256, fw->size, path);
	else if (rc == 0)
		rc = -1;
	close(f.fd);
	EVP_MD_CTX_free(f.sha256);
	if (rc != 0) {
		unlink(tmp);
		fwcache_failed(fw, rc, f.why);
	}
	return rc;
}
