/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for admind/image.c: synthetic ESP8266, ESP32, gzip and random
 * images fed in pieces of many sizes (1 byte, across the scanner's window
 * edges, all at once), with Blynk tags, bare build strings and junk that
 * looks like either.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "image.h"
#include "check.h"



static const size_t steps[] = { 1, 2, 3, 7, 64, 511, 512, 513, 4095, 4096,
    4097, 8192, 65536, 0 };

struct want {
	const char	*format, *chip, *version, *build, *fw_type, *board;
	const char	*blynk, *project;
	int		 has_blnkinf;
};

static const char tag_new[] = "blnkinf\0mcu\0" "0.2.1\0fw-type\0TMPL1234\0"
    "build\0Aug 14 2017 20:31:49\0blynk\0" "1.0.1\0h-beat\0" "45\0"
    "buff-in\0" "1024\0dev\0NodeMCU\0cpu\0ESP8266\0con\0WiFi\0";

static uint32_t	rnd_state = 12345;

static uint8_t
rnd(void)
{
	rnd_state = rnd_state * 1103515245 + 12345;
	/* No 'b' and no NUL: filler never starts a candidate by chance. */
	return (uint8_t)(rnd_state >> 16) % 200 + 40 == 'b' ? 'c' :
	    (uint8_t)(rnd_state >> 16) % 200 + 40;
}

static void
filler(struct buf *b, size_t n)
{
	while (n-- > 0)
		buf_addc(b, (char)rnd());
}

static void
esp8266_header(struct buf *b)
{
	/* E9, 1 segment, DIO, 4M/40MHz, entry 0x40100000. */
	buf_add(b, "\xe9\x01\x02\x40\x00\x00\x10\x40", 8);
}

static void
esp32_header(struct buf *b, unsigned int chip, const char *version,
    const char *project)
{
	uint8_t	 h[256];

	memset(h, 0, sizeof(h));
	memcpy(h, "\xe9\x05\x02\x20\x58\x0f\x38\x40\xee\x00\x00\x00", 12);
	h[12] = chip & 0xff;
	h[13] = chip >> 8;
	h[23] = 1;				/* hash_appended */
	memcpy(h + 24, "\x20\x00\x10\x3f\x30\x8f\x00\x00", 8);
	memcpy(h + 32, "\x32\x54\xcd\xab", 4);
	strncpy((char *)h + 48, version, 32);
	strncpy((char *)h + 80, project, 32);
	memcpy(h + 112, "20:31:49", 8);
	memcpy(h + 128, "Aug 14 2023", 11);
	memcpy(h + 144, "v5.1.2", 6);
	buf_add(b, h, sizeof(h));
}

static void
scan(const struct buf *img, size_t step, struct image_info *info)
{
	struct image_scan	*is;
	size_t			 off, n;

	is = image_scan_new();
	if (is == NULL) {
		fprintf(stderr, "image_scan_new failed\n");
		exit(1);
	}
	if (step == 0)
		step = img->len ? img->len : 1;
	for (off = 0; off < img->len; off += n) {
		n = img->len - off < step ? img->len - off : step;
		image_scan_feed(is, (const uint8_t *)img->data + off, n);
	}
	image_scan_finish(is, info);
	image_scan_free(is);
}

static int
field_ok(int line, size_t step, const char *name, const char *got,
    const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "%s:%d: FAIL step %zu: %s is [%s], want [%s]\n",
	    __FILE__, line, step, name, got, want);
	check_failed++;
	return 0;
}

/* Scans img in every piece size and compares all fields. */
static void
check_image(int line, const struct buf *img, const struct want *w)
{
	struct image_info	 info;
	size_t			 i;
	int			 ok;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		memset(&info, 'X', sizeof(info));
		scan(img, steps[i], &info);
		ok = field_ok(line, steps[i], "format", info.format, w->format);
		ok &= field_ok(line, steps[i], "chip", info.chip, w->chip);
		ok &= field_ok(line, steps[i], "version", info.version,
		    w->version);
		ok &= field_ok(line, steps[i], "build", info.build, w->build);
		ok &= field_ok(line, steps[i], "fw_type", info.fw_type,
		    w->fw_type);
		ok &= field_ok(line, steps[i], "board", info.board, w->board);
		ok &= field_ok(line, steps[i], "blynk", info.blynk, w->blynk);
		ok &= field_ok(line, steps[i], "project", info.project,
		    w->project);
		if (info.has_blnkinf != w->has_blnkinf) {
			fprintf(stderr, "%s:%d: FAIL step %zu: has_blnkinf "
			    "%d\n", __FILE__, line, steps[i],
			    info.has_blnkinf);
			check_failed++;
			ok = 0;
		}
		if (!ok)
			return;
	}
}
#define CHECK_IMAGE(img, ...) do {					\
	struct want w_ = __VA_ARGS__;					\
	check_image(__LINE__, img, &w_);				\
} while (0)

static const struct want want_tag_new = { "esp8266", "", "0.2.1",
    "Aug 14 2017 20:31:49", "TMPL1234", "NodeMCU", "1.0.1", "", 1 };

static void
test_esp8266_tag(void)
{
	struct buf	 img = BUF_INIT;

	esp8266_header(&img);
	filler(&img, 9000);
	/* Junk that starts like a tag, abandoned one after the other. */
	buf_add(&img, "blnkin", 6);
	buf_add(&img, "blnkinf\0\0", 9);			/* no pairs */
	buf_add(&img, "blnkinf\0mcu\0\x01\x02\0\0", 16);	/* binary */
	buf_add(&img, "blnkinf\0mcu\0", 12);			/* too long */
	filler(&img, 64);
	buf_add(&img, "\0\0", 2);
	/* A key longer than 31 characters. */
	buf_add(&img, "blnkinf\0abcdefghijklmnopqrstuvwxyz012345\0x\0\0", 45);
	filler(&img, 100);
	buf_add(&img, tag_new, sizeof(tag_new));	/* with the end NUL */
	filler(&img, 30000);
	CHECK_IMAGE(&img, want_tag_new);
	buf_free(&img);
}

/* The same tag at every offset around the window's block edges. */
static void
test_tag_straddles(void)
{
	struct buf		 img = BUF_INIT;
	struct image_info	 info;
	size_t			 at, i;
	int			 bad = 0;

	for (at = 8; at < 8 + 600; at += 13) {
		for (i = 0; i < 3; i++) {
			buf_reset(&img);
			esp8266_header(&img);
			filler(&img, at - 8 + i * 4096 + 3500);
			buf_add(&img, tag_new, sizeof(tag_new));
			filler(&img, 1000);
			scan(&img, i == 0 ? 4096 : 1000 + at, &info);
			if (strcmp(info.version, "0.2.1") != 0 ||
			    strcmp(info.build, "Aug 14 2017 20:31:49") != 0 ||
			    strcmp(info.board, "NodeMCU") != 0 ||
			    !info.has_blnkinf)
				bad++;
		}
	}
	CHECK(bad == 0);

	/* The tag as the very first and the very last bytes. */
	buf_reset(&img);
	buf_add(&img, tag_new, sizeof(tag_new));
	CHECK_IMAGE(&img, { "unknown", "", "0.2.1", "Aug 14 2017 20:31:49",
	    "TMPL1234", "NodeMCU", "1.0.1", "", 1 });
	buf_reset(&img);
	esp8266_header(&img);
	filler(&img, 12345);
	buf_add(&img, tag_new, sizeof(tag_new));
	CHECK_IMAGE(&img, want_tag_new);
	/* Cut before its final NUL: not a tag, but the build is there. */
	img.len--;
	CHECK_IMAGE(&img, { "esp8266", "", "", "Aug 14 2017 20:31:49", "", "",
	    "", "", 0 });
	buf_free(&img);
}

/* Library 0.6 - 1.2: "ver" is the library, "fw" the firmware. */
static void
test_old_tag(void)
{
	static const char tag[] = "blnkinf\0ver\0" "0.4.7\0h-beat\0" "10\0"
	    "buff-in\0" "256\0dev\0Arduino Uno\0fw\0" "1.0.0\0"
	    "build\0Jan  2 2016 01:02:03\0";
	struct buf	 img = BUF_INIT;

	esp8266_header(&img);
	filler(&img, 5000);
	buf_add(&img, tag, sizeof(tag));
	filler(&img, 5000);
	CHECK_IMAGE(&img, { "esp8266", "", "1.0.0", "Jan  2 2016 01:02:03",
	    "", "Arduino Uno", "0.4.7", "", 1 });
	buf_free(&img);
}

/* Library 0.5.x: with "blynk" present, "ver" is the firmware. */
static void
test_legacy_tag(void)
{
	static const char tag[] = "blnkinf\0ver\0" "1.2.3\0blynk\0" "0.5.4\0"
	    "dev\0NodeMCU\0build\0Jan  2 2018 01:02:03\0";
	struct buf	 img = BUF_INIT;

	esp8266_header(&img);
	filler(&img, 5000);
	buf_add(&img, tag, sizeof(tag));
	filler(&img, 5000);
	CHECK_IMAGE(&img, { "esp8266", "", "1.2.3", "Jan  2 2018 01:02:03",
	    "", "NodeMCU", "0.5.4", "", 1 });
	buf_free(&img);
}

/* No tag: the bare "\0build\0<date>\0" string, junk lookalikes first. */
static void
test_bare_build(void)
{
	struct buf	 img = BUF_INIT;

	esp8266_header(&img);
	filler(&img, 4090);
	buf_add(&img, "\0build\0", 7);
	buf_add(&img, "not a date at all!!!", 21);
	buf_add(&img, "\0build\0Foo 14 2017 20:31:49\0", 28);
	buf_add(&img, "\0build\0Aug 14 2017 20:31:4\0", 27);
	buf_add(&img, "\0build\0Aug 14 2017 20:31:49x", 28);
	buf_add(&img, "\0build\0Aug 44 2017 20:31:49\0", 28);
	filler(&img, 3);
	buf_add(&img, "\0build\0Aug  4 2017 09:05:01\0", 28);
	filler(&img, 100);
	buf_add(&img, "\0build\0Sep 30 2019 10:00:00\0", 28);	/* second */
	filler(&img, 7000);
	CHECK_IMAGE(&img, { "esp8266", "", "", "Aug  4 2017 09:05:01", "", "",
	    "", "", 0 });
	buf_free(&img);
}

static void
test_esp32(void)
{
	static const struct {
		unsigned int	 id;
		const char	*chip;
	} chips[] = {
		{ 0x00, "esp32" }, { 0x02, "esp32s2" }, { 0x05, "esp32c3" },
		{ 0x09, "esp32s3" }, { 0x0c, "esp32c2" }, { 0x0d, "esp32c6" },
		{ 0x10, "esp32h2" }, { 0x99, "" }, { 0x0100, "" },
	};
	struct buf	 img = BUF_INIT;
	struct want	 w = { "esp32", NULL, "1.2.3", "", "", "", "",
	    "blink", 0 };
	size_t		 i;

	for (i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		buf_reset(&img);
		esp32_header(&img, chips[i].id, "1.2.3", "blink");
		filler(&img, 3000);
		w.chip = chips[i].chip;
		check_image(__LINE__, &img, &w);
	}

	/* With a Blynk tag, its firmware version wins; the project stays. */
	buf_reset(&img);
	esp32_header(&img, 0x09, "esp-idf-v5", "Edgent_ESP32");
	filler(&img, 70000);
	buf_add(&img, tag_new, sizeof(tag_new));
	filler(&img, 70000);
	CHECK_IMAGE(&img, { "esp32", "esp32s3", "0.2.1",
	    "Aug 14 2017 20:31:49", "TMPL1234", "NodeMCU", "1.0.1",
	    "Edgent_ESP32", 1 });

	/* 32 characters without NUL, and a control byte. */
	buf_reset(&img);
	esp32_header(&img, 0x05, "0123456789abcdef0123456789ABCDEF",
	    "bad\x01name");
	CHECK_IMAGE(&img, { "esp32", "esp32c3",
	    "0123456789abcdef0123456789ABCDEF", "", "", "", "", "bad?name",
	    0 });

	/* E9 without the descriptor magic is an ESP8266 image. */
	buf_reset(&img);
	esp32_header(&img, 0x05, "1.2.3", "blink");
	img.data[33] = 0x55;
	CHECK_IMAGE(&img, { "esp8266", "", "", "", "", "", "", "", 0 });
	/* Cut before the magic is complete. */
	buf_reset(&img);
	esp32_header(&img, 0x05, "1.2.3", "blink");
	img.len = 35;
	CHECK_IMAGE(&img, { "esp8266", "", "", "", "", "", "", "", 0 });
	/* Magic but cut inside the version: chip known, no strings. */
	img.len = 60;
	CHECK_IMAGE(&img, { "esp32", "esp32c3", "", "", "", "", "", "", 0 });
	buf_free(&img);
}

static void
test_other_formats(void)
{
	struct buf	 img = BUF_INIT;
	size_t		 i;

	buf_add(&img, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
	filler(&img, 5000);
	CHECK_IMAGE(&img, { "esp8266-gzip", "", "", "", "", "", "", "", 0 });

	/* Random bytes (NULs and 'b's allowed this time). */
	buf_reset(&img);
	for (i = 0; i < 100000; i++) {
		rnd_state = rnd_state * 1103515245 + 12345;
		buf_addc(&img, (char)(rnd_state >> 16));
	}
	img.data[0] = 'M';
	CHECK_IMAGE(&img, { "unknown", "", "", "", "", "", "", "", 0 });

	/* Nothing at all, and a lone E9 or 1F. */
	buf_reset(&img);
	CHECK_IMAGE(&img, { "unknown", "", "", "", "", "", "", "", 0 });
	buf_add(&img, "\xe9", 1);
	CHECK_IMAGE(&img, { "esp8266", "", "", "", "", "", "", "", 0 });
	buf_reset(&img);
	buf_add(&img, "\x1f", 1);
	CHECK_IMAGE(&img, { "unknown", "", "", "", "", "", "", "", 0 });
	buf_free(&img);
}

/* Bounds: 32 pairs pass, 33 do not; a 63-character value passes. */
static void
test_tag_limits(void)
{
	struct buf	 img = BUF_INIT;
	char		 v63[64];
	int		 i;

	memset(v63, 'v', 63);
	v63[63] = '\0';
	esp8266_header(&img);
	buf_add(&img, "blnkinf\0", 8);
	buf_printf(&img, "mcu%c%s%c", 0, v63, 0);
	for (i = 1; i < 32; i++)
		buf_printf(&img, "k%d%cv%c", i, 0, 0);
	buf_addc(&img, '\0');
	filler(&img, 10);
	CHECK_IMAGE(&img, { "esp8266", "", v63, "", "", "", "", "", 1 });

	buf_reset(&img);
	esp8266_header(&img);
	buf_add(&img, "blnkinf\0", 8);
	for (i = 0; i < 33; i++)
		buf_printf(&img, "k%d%cv%c", i, 0, 0);
	buf_add(&img, "\0", 1);
	filler(&img, 10);
	CHECK_IMAGE(&img, { "esp8266", "", "", "", "", "", "", "", 0 });

	/* A 64-character value abandons the tag; a later one is found. */
	buf_reset(&img);
	esp8266_header(&img);
	buf_printf(&img, "blnkinf%cmcu%c%sv%c%c", 0, 0, v63, 0, 0);
	buf_add(&img, tag_new, sizeof(tag_new));
	CHECK_IMAGE(&img, want_tag_new);
	buf_free(&img);
}

int
main(void)
{
	test_esp8266_tag();
	test_tag_straddles();
	test_old_tag();
	test_legacy_tag();
	test_bare_build();
	test_esp32();
	test_other_formats();
	test_tag_limits();
	return check_exit("test_image");
}
