/* SPDX-License-Identifier: MIT */
/*
 * Firmware uploads into admind: the multipart body is parsed as it
 * streams in, the "file" part goes to a temporary file in the firmware
 * directory while its MD5 and SHA-256 are computed and the image is
 * indexed, and on success the file is fsynced and renamed to its SHA-256
 * (never half visible; fwcache.c's files).  Memory stays constant whatever the image size.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "admind.h"
#include "image.h"
#include "log.h"
#include "multipart.h"
#include "util.h"

struct upload {
	struct multipart	*mp;
	int			 fd;
	char			 tmp[PATH_MAX];
	uint64_t		 size;
	uint64_t		 max_size;
	EVP_MD_CTX		*md5, *sha256;
	struct image_scan	*scan;
	struct image_info	 info;
	char			*filename;
	int			 in_file;	/* inside the "file" part */
	int			 have_file;
	int			 status;
	const char		*code;
	char			 message[512];
};

static int
upload_fail(struct upload *u, int status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* A failed upload leaves nothing behind, before its error is answered. */
static void
upload_discard(struct upload *u)
{
	if (u->fd != -1) {
		close(u->fd);
		u->fd = -1;
	}
	if (u->tmp[0]) {
		unlink(u->tmp);
		u->tmp[0] = '\0';
	}
}

static int
upload_fail(struct upload *u, int status, const char *code, const char *fmt,
    ...)
{
	va_list	 ap;

	if (u->status)
		return -1;
	u->status = status;
	u->code = code;
	va_start(ap, fmt);
	vsnprintf(u->message, sizeof(u->message), fmt, ap);
	va_end(ap);
	upload_discard(u);
	return -1;
}

static int
upload_on_part(void *arg, const struct multipart_part *part)
{
	struct upload	*u = arg;

	u->in_file = 0;
	if (strcmp(part->name, "file") != 0)
		return 0;
	if (part->filename == NULL)
		return upload_fail(u, 400, "upload.not_a_file", "The field "
		    "\"file\" holds text, not a file: curl -F file=fw.bin sends "
		    "the words \"fw.bin\". Put an @ before the file name to "
		    "upload the file: curl -F file=@fw.bin");
	if (u->have_file)
		return upload_fail(u, 400, "upload.two_files", "The request "
		    "has two \"file\" fields; send one image per upload.");
	free(u->filename);
	if ((u->filename = strdup(part->filename)) == NULL)
		return upload_fail(u, 500, "internal", "Out of memory.");
	u->in_file = 1;
	u->have_file = 1;
	return 0;
}

static int
upload_write(struct upload *u, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(u->fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("firmware upload: write %s", u->tmp);
			if (errno == ENOSPC || errno == EDQUOT)
				return upload_fail(u, 507, "storage.full",
				    "The server's disk is full; the upload was "
				    "not stored. Free space in the state "
				    "directory and try again.");
			return upload_fail(u, 500, "storage.error", "The "
			    "server could not write the image (%s); nothing "
			    "was stored.", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
upload_on_data(void *arg, const char *p, size_t n)
{
	struct upload	*u = arg;

	if (!u->in_file)
		return 0;
	if (u->size + n > u->max_size)
		return upload_fail(u, 413, "firmware.too_large", "The image "
		    "is larger than max_firmware_size (%llu bytes). Raise "
		    "max_firmware_size in [admind] if this image is right.",
		    (unsigned long long)u->max_size);
	u->size += n;
	EVP_DigestUpdate(u->md5, p, n);
	EVP_DigestUpdate(u->sha256, p, n);
	image_scan_feed(u->scan, (const uint8_t *)p, n);
	return upload_write(u, p, n);
}

static int
upload_on_part_end(void *arg)
{
	((struct upload *)arg)->in_file = 0;
	return 0;
}

static const struct multipart_cb upload_cb = {
	.on_part = upload_on_part,
	.on_data = upload_on_data,
	.on_part_end = upload_on_part_end,
};

struct upload *
upload_new(const char *content_type, uint64_t max_size, char *err,
    size_t errlen)
{
	struct upload	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->fd = -1;
	u->max_size = max_size;
	if ((u->mp = multipart_new(content_type ? content_type : "",
	    &upload_cb, u, err, errlen)) == NULL)
		goto fail;
	if ((u->fd = fwcache_tmp(u->tmp, sizeof(u->tmp))) == -1) {
		snprintf(err, errlen, "the server cannot create a file in "
		    "its firmware directory");
		goto fail;
	}
	u->md5 = EVP_MD_CTX_new();
	u->sha256 = EVP_MD_CTX_new();
	u->scan = image_scan_new();
	if (u->md5 == NULL || u->sha256 == NULL || u->scan == NULL ||
	    !EVP_DigestInit_ex(u->md5, EVP_md5(), NULL) ||
	    !EVP_DigestInit_ex(u->sha256, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return u;
fail:
	upload_free(u);
	return NULL;
}

int
upload_feed(struct upload *u, const char *p, size_t n)
{
	if (u->status)
		return -1;
	if (multipart_feed(u->mp, p, n) == -1) {
		if (!u->status)
			upload_fail(u, 400, "upload.malformed", "The upload is "
			    "not valid multipart/form-data: %s. Send it with "
			    "curl -F file=@fw.bin.", multipart_error(u->mp));
		return -1;
	}
	return 0;
}

/* The image becomes the file named by its SHA-256. */
static int
upload_store(struct upload *u, const char *sha256)
{
	if (fwcache_commit(u->fd, u->tmp, sha256) == -1)
		return upload_fail(u, errno == ENOSPC ? 507 : 500,
		    errno == ENOSPC ? "storage.full" : "storage.error",
		    "The server could not save the image (%s); nothing was "
		    "stored.", strerror(errno));
	u->tmp[0] = '\0';
	return 0;
}

int
upload_finish(struct upload *u, int allow_unknown, struct firmware *fw)
{
	uint8_t		 md[32];
	unsigned int	 mdlen;

	if (u->status)
		return -1;
	if (!multipart_done(u->mp))
		return upload_fail(u, 400, "upload.truncated", "The upload "
		    "ended before its closing boundary: the request body was "
		    "cut short. Nothing was stored; send it again.");
	if (!u->have_file)
		return upload_fail(u, 400, "upload.no_file", "The request has "
		    "no \"file\" field. Upload the image as curl -F "
		    "file=@fw.bin.");
	if (u->size == 0)
		return upload_fail(u, 400, "upload.empty", "The uploaded file "
		    "\"%s\" is empty.", u->filename);
	memset(fw, 0, sizeof(*fw));
	EVP_DigestFinal_ex(u->md5, md, &mdlen);
	util_hex(md, 16, fw->md5);
	EVP_DigestFinal_ex(u->sha256, md, &mdlen);
	util_hex(md, 32, fw->sha256);
	util_base64(md, 32, fw->sha256_b64);
	image_scan_finish(u->scan, &u->info);
	if (strcmp(u->info.format, "unknown") == 0 && !allow_unknown)
		return upload_fail(u, 422, "firmware.unknown_format", "\"%s\" "
		    "is not an ESP firmware image: it starts with neither E9 "
		    "(ESP8266, ESP32) nor 1F 8B (gzip-compressed ESP8266). Upload "
		    "the .bin the Arduino IDE exports, or add ?force=true to "
		    "send it anyway.", u->filename);
	if (upload_store(u, fw->sha256) == -1)
		return -1;
	fw->size = u->size;
	fw->filename = u->filename;
	fw->format = u->info.format;
	fw->chip = u->info.chip;
	fw->version = u->info.version;
	fw->build = u->info.build;
	fw->fw_type = u->info.fw_type;
	fw->board = u->info.board;
	fw->project = u->info.project;
	return 0;
}

int
upload_status(const struct upload *u)
{
	return u->status ? u->status : 400;
}

const char *
upload_code(const struct upload *u)
{
	return u->code ? u->code : "upload.malformed";
}

const char *
upload_message(const struct upload *u)
{
	return u->message;
}

void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	upload_discard(u);
	multipart_free(u->mp);
	EVP_MD_CTX_free(u->md5);
	EVP_MD_CTX_free(u->sha256);
	image_scan_free(u->scan);
	free(u->filename);
	free(u);
}
