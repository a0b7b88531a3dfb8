/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for admind's firmware image indexer (admind/image.h):
 * ESP8266 (plain and gzip), ESP32 with its app descriptor, the Blynk info
 * tag.  The image is fed whole and again in pieces; both must index the
 * same, and every field must be printable and NUL-ended, as image.h says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static void	fuzz_scan(const uint8_t *, size_t, size_t, struct image_info *);
static void	fuzz_field(const char *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_info	 whole, split;
	size_t			 step;

	step = size > 0 ? data[size - 1] % 61 + 1 : 1;
	fuzz_scan(data, size, size, &whole);
	fuzz_scan(data, size, step, &split);
	if (memcmp(&whole, &split, sizeof(whole)) != 0)
		abort();
	fuzz_field(whole.format, sizeof(whole.format));
	fuzz_field(whole.chip, sizeof(whole.chip));
	fuzz_field(whole.version, sizeof(whole.version));
	fuzz_field(whole.build, sizeof(whole.build));
	fuzz_field(whole.fw_type, sizeof(whole.fw_type));
	fuzz_field(whole.board, sizeof(whole.board));
	fuzz_field(whole.blynk, sizeof(whole.blynk));
	fuzz_field(whole.project, sizeof(whole.project));
	return 0;
}

static void
fuzz_scan(const uint8_t *p, size_t len, size_t step, struct image_info *info)
{
	struct image_scan	*s;
	size_t			 off, n;

	if ((s = image_scan_new()) == NULL)
		abort();
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		image_scan_feed(s, p + off, n);
	}
	memset(info, 0, sizeof(*info));
	image_scan_finish(s, info);
	image_scan_free(s);
}

/* NUL-ended within its array, printable ASCII before. */
static void
fuzz_field(const char *f, size_t size)
{
	size_t	 i;

	for (i = 0; i < size && f[i] != '\0'; i++)
		if (f[i] < 0x20 || f[i] > 0x7e)
			abort();
	if (i == size)
		abort();
}
