/* SPDX-License-Identifier: MIT */
/*
 * Firmware files as otad-fwstore serves them: opens the one file admind
 * granted, by its SHA-256 name in the firmware directory and nothing else,
 * and checks it against the grant.  The headers that describe the image
 * are answer.c's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#include "fwstore.h"

/* Returns an open descriptor on the granted file, or -1 (logged). */
int
fwstore_firmware_open(struct fwstore *fw, const struct fwstore_grant *g)
{
	char		 path[4096];
	struct stat	 st;
	int		 fd, n;

	if (!fwstore_is_hex(g->sha256, 64)) {
		log_warnx("admind granted a bad firmware name");
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", fw->firmware_dir,
	    g->sha256);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("firmware path too long");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_warn("firmware %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("firmware %s: fstat", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != g->size) {
		log_warnx("firmware %s: %lld bytes, admind says %llu", path,
		    (long long)st.st_size, (unsigned long long)g->size);
		close(fd);
		return -1;
	}
	return fd;
}
