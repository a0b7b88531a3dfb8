/* SPDX-License-Identifier: MIT */
/*
 * Firmware image indexing (PROTOCOL.md section 3): the format (ESP8266,
 * gzip-compressed ESP8266, ESP32 family with its chip), the ESP32 app
 * descriptor, and the Blynk info tag ("blnkinf") or, in older images, the
 * bare "\0build\0<date>\0" string.  Fed the image in pieces while it is
 * uploaded; keeps only a bounded window, never the whole image.
 */
#ifndef OTAD_IMAGE_H
#define OTAD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_FIELD_MAX	64

struct image_info {
	char	format[16];		/* esp8266, esp8266-gzip, esp32, unknown */
	char	chip[16];		/* esp32, esp32s2, esp32c3, esp32s3,
					 * esp32c2, esp32c6, esp32h2, "" */
	char	version[IMAGE_FIELD_MAX];	/* mcu/fw, else ESP32 app version */
	char	build[IMAGE_FIELD_MAX];		/* "Aug 14 2017 20:31:49" */
	char	fw_type[IMAGE_FIELD_MAX];
	char	board[IMAGE_FIELD_MAX];		/* "dev" key */
	char	blynk[IMAGE_FIELD_MAX];		/* library version */
	char	project[IMAGE_FIELD_MAX];	/* ESP32 project_name */
	int	has_blnkinf;
};

struct image_scan;

struct image_scan *image_scan_new(void);
void	 image_scan_feed(struct image_scan *, const uint8_t *, size_t);
/* Finishes and fills info (all strings NUL-terminated, printable ASCII). */
void	 image_scan_finish(struct image_scan *, struct image_info *);
void	 image_scan_free(struct image_scan *);

#endif
