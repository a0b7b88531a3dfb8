/* SPDX-License-Identifier: MIT */
/*
 * Firmware image indexing for admind's uploads (PROTOCOL.md section 3).
 * The image arrives in pieces of any size; we keep its first bytes (the
 * ESP8266/ESP32 header and the ESP32 app descriptor) and scan the rest
 * through a fixed window for the Blynk info tag ("blnkinf\0key\0value\0
 * ...\0\0") or, failing that, the bare "\0build\0Mmm dd yyyy hh:mm:ss\0"
 * of older images.  Memory is constant whatever the image size.
 *
 * A candidate that reaches the end of the window is kept for the next
 * piece (the window carries over every byte from the oldest undecided
 * candidate on); a candidate is bounded in length, so the carry-over is
 * too.  A candidate with junk in it (non-printable bytes, too many pairs,
 * too long a key or value) is abandoned and the scan goes on.  The first
 * complete tag wins; a gzip image is not inflated, so only its header is
 * read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define IMAGE_HEAD		256	/* kept: header and app descriptor */
#define IMAGE_TAG_PAIRS		32
#define IMAGE_TAG_KEY		31
#define IMAGE_TAG_VALUE		(IMAGE_FIELD_MAX - 1)
#define IMAGE_TAG_MAGIC		"blnkinf"	/* and its NUL */
#define IMAGE_TAG_MAX		(8 + IMAGE_TAG_PAIRS * \
				    (IMAGE_TAG_KEY + IMAGE_TAG_VALUE + 2) + 1)
#define IMAGE_BUILD_MAGIC	"\0build"	/* and its NUL */
#define IMAGE_DATE_LEN		20	/* "Aug 14 2017 20:31:49" */
#define IMAGE_CARRY		4096
#define IMAGE_BLOCK		4096

#define ESP_MAGIC		0xe9
#define ESP32_DESC_OFF		32
#define ESP32_DESC_MAGIC	"\x32\x54\xcd\xab"
#define ESP32_VERSION_OFF	48
#define ESP32_PROJECT_OFF	80
#define ESP32_FIELD_LEN		32

#if IMAGE_CARRY < IMAGE_TAG_MAX
#error "the carry-over window must hold the longest tag"
#endif

#define IMAGE_SET(f, s)		image_set((f), sizeof(f), (s))

enum image_match { IMAGE_NO, IMAGE_YES, IMAGE_MORE };

struct image_tag {
	char	mcu[IMAGE_FIELD_MAX];
	char	fw[IMAGE_FIELD_MAX];
	char	build[IMAGE_FIELD_MAX];
	char	fw_type[IMAGE_FIELD_MAX];
	char	dev[IMAGE_FIELD_MAX];
	char	blynk[IMAGE_FIELD_MAX];
	char	ver[IMAGE_FIELD_MAX];
};

struct image_scan {
	uint8_t		 head[IMAGE_HEAD];
	size_t		 headlen;
	uint8_t		 win[IMAGE_CARRY + IMAGE_BLOCK];
	size_t		 winlen;
	size_t		 next;		/* first candidate not yet decided */
	int		 have_tag;
	struct image_tag tag;
	int		 have_build;
	char		 build[IMAGE_DATE_LEN + 1];
};

static void	image_scan_window(struct image_scan *, int);
static enum image_match image_try_tag(const uint8_t *, size_t,
		    struct image_tag *);
static enum image_match image_tag_string(const uint8_t **, const uint8_t *,
		    size_t, char *);
static void	image_tag_set(struct image_tag *, const char *, const char *);
static enum image_match image_try_build(const uint8_t *, size_t, char *);
static int	image_is_date(const uint8_t *);
static void	image_header(const struct image_scan *, struct image_info *);
static const char *image_chip(unsigned int);
static void	image_copy(char *, size_t, const uint8_t *, size_t);
static void	image_set(char *, size_t, const char *);

struct image_scan *
image_scan_new(void)
{
	return calloc(1, sizeof(struct image_scan));
}

void
image_scan_free(struct image_scan *is)
{
	free(is);
}

void
image_scan_feed(struct image_scan *is, const uint8_t *p, size_t len)
{
	size_t	 n;

	if (is->headlen < IMAGE_HEAD) {
		n = IMAGE_HEAD - is->headlen < len ? IMAGE_HEAD - is->headlen :
		    len;
		memcpy(is->head + is->headlen, p, n);
		is->headlen += n;
	}
	while (len > 0 && !is->have_tag) {
		n = sizeof(is->win) - is->winlen;
		if (n > len)
			n = len;
		memcpy(is->win + is->winlen, p, n);
		is->winlen += n;
		p += n;
		len -= n;
		image_scan_window(is, 0);
		/* Keep only what the undecided candidate needs. */
		memmove(is->win, is->win + is->next, is->winlen - is->next);
		is->winlen -= is->next;
		is->next = 0;
	}
}

void
image_scan_finish(struct image_scan *is, struct image_info *info)
{
	const struct image_tag	*t = &is->tag;

	if (!is->have_tag)
		image_scan_window(is, 1);
	memset(info, 0, sizeof(*info));
	image_header(is, info);
	if (is->have_tag) {
		info->has_blnkinf = 1;
		/* as a device reports it: mcu, else fw, else ver when
		 * blynk names the library (0.5.x) */
		if (t->mcu[0] != '\0')
			IMAGE_SET(info->version, t->mcu);
		else if (t->fw[0] != '\0')
			IMAGE_SET(info->version, t->fw);
		else if (t->blynk[0] != '\0')
			IMAGE_SET(info->version, t->ver);
		IMAGE_SET(info->build, t->build);
		IMAGE_SET(info->fw_type, t->fw_type);
		IMAGE_SET(info->board, t->dev);
		/* Without blynk, "ver" is the library version. */
		IMAGE_SET(info->blynk, t->blynk[0] != '\0' ? t->blynk : t->ver);
	}
	if (info->build[0] == '\0' && is->have_build)
		IMAGE_SET(info->build, is->build);
}

/*
 * Examines candidates from is->next on.  A candidate that needs bytes
 * beyond the window stops the scan there, unless this is the end of the
 * image (final), where it is simply not a match.
 */
static void
image_scan_window(struct image_scan *is, int final)
{
	const uint8_t		*w = is->win;
	enum image_match	 m;
	size_t			 s;

	for (s = is->next; s < is->winlen; s++) {
		m = IMAGE_NO;
		if (w[s] == 'b')
			m = image_try_tag(w + s, is->winlen - s, &is->tag);
		else if (w[s] == '\0' && !is->have_build)
			m = image_try_build(w + s, is->winlen - s, is->build);
		if (m == IMAGE_MORE && !final) {
			is->next = s;
			return;
		}
		if (m == IMAGE_YES && w[s] == 'b') {
			is->have_tag = 1;
			break;
		}
		if (m == IMAGE_YES)
			is->have_build = 1;
	}
	is->next = is->winlen;
}

/* "blnkinf\0" then key\0value\0 pairs, then an empty key; one pair at least. */
static enum image_match
image_try_tag(const uint8_t *p, size_t avail, struct image_tag *out)
{
	const uint8_t		*end = p + avail;
	struct image_tag	 t;
	char			 key[IMAGE_TAG_KEY + 1];
	char			 value[IMAGE_TAG_VALUE + 1];
	enum image_match	 m;
	int			 pairs;

	if (avail < sizeof(IMAGE_TAG_MAGIC))
		return memcmp(p, IMAGE_TAG_MAGIC, avail) == 0 ? IMAGE_MORE :
		    IMAGE_NO;
	if (memcmp(p, IMAGE_TAG_MAGIC, sizeof(IMAGE_TAG_MAGIC)) != 0)
		return IMAGE_NO;
	p += sizeof(IMAGE_TAG_MAGIC);
	memset(&t, 0, sizeof(t));
	for (pairs = 0;; pairs++) {
		if ((m = image_tag_string(&p, end, IMAGE_TAG_KEY, key)) !=
		    IMAGE_YES)
			return m;
		if (key[0] == '\0')
			break;
		if (pairs == IMAGE_TAG_PAIRS)
			return IMAGE_NO;
		if ((m = image_tag_string(&p, end, IMAGE_TAG_VALUE, value)) !=
		    IMAGE_YES)
			return m;
		image_tag_set(&t, key, value);
	}
	if (pairs == 0)
		return IMAGE_NO;
	*out = t;
	return IMAGE_YES;
}

/* A NUL-terminated run of at most max printable ASCII characters. */
static enum image_match
image_tag_string(const uint8_t **pp, const uint8_t *end, size_t max,
    char *out)
{
	const uint8_t	*p = *pp;
	size_t		 n;

	for (n = 0; p + n < end && p[n] != '\0'; n++)
		if (n == max || p[n] < 0x20 || p[n] > 0x7e)
			return IMAGE_NO;
	if (p + n == end)
		return IMAGE_MORE;
	memcpy(out, p, n);
	out[n] = '\0';
	*pp = p + n + 1;
	return IMAGE_YES;
}

static void
image_tag_set(struct image_tag *t, const char *key, const char *value)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} keys[] = {
		{ "mcu", offsetof(struct image_tag, mcu) },
		{ "fw", offsetof(struct image_tag, fw) },
		{ "build", offsetof(struct image_tag, build) },
		{ "fw-type", offsetof(struct image_tag, fw_type) },
		{ "dev", offsetof(struct image_tag, dev) },
		{ "blynk", offsetof(struct image_tag, blynk) },
		{ "ver", offsetof(struct image_tag, ver) },
	};
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i].key) == 0)
			image_set((char *)t + keys[i].off, IMAGE_FIELD_MAX,
			    value);
}

/* "\0build\0" then a __DATE__ " " __TIME__ string and its NUL. */
static enum image_match
image_try_build(const uint8_t *p, size_t avail, char *out)
{
	const size_t	 mlen = sizeof(IMAGE_BUILD_MAGIC);
	const size_t	 need = mlen + IMAGE_DATE_LEN + 1;
	size_t		 n;

	n = avail < mlen ? avail : mlen;
	if (memcmp(p, IMAGE_BUILD_MAGIC, n) != 0)
		return IMAGE_NO;
	if (avail < need)
		return IMAGE_MORE;
	if (!image_is_date(p + mlen) || p[need - 1] != '\0')
		return IMAGE_NO;
	memcpy(out, p + mlen, IMAGE_DATE_LEN);
	out[IMAGE_DATE_LEN] = '\0';
	return IMAGE_YES;
}

/* "Mmm dd yyyy hh:mm:ss", the day padded with a space as __DATE__ does. */
static int
image_is_date(const uint8_t *d)
{
	static const char	 months[] =
	    "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char	 shape[] = "Aaa 9d dddd dd:dd:dd";
	size_t			 i;

	for (i = 0; i < 12; i++)
		if (memcmp(d, months + 3 * i, 3) == 0)
			break;
	if (i == 12)
		return 0;
	for (i = 3; i < IMAGE_DATE_LEN; i++) {
		switch (shape[i]) {
		case 'd':
			if (d[i] < '0' || d[i] > '9')
				return 0;
			break;
		case '9':
			if (d[i] != ' ' && (d[i] < '0' || d[i] > '3'))
				return 0;
			break;
		default:
			if (d[i] != (uint8_t)shape[i])
				return 0;
		}
	}
	return 1;
}

/* The format from the first bytes; the ESP32 chip and app descriptor. */
static void
image_header(const struct image_scan *is, struct image_info *info)
{
	const uint8_t	*h = is->head;

	IMAGE_SET(info->format, "unknown");
	if (is->headlen >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
		IMAGE_SET(info->format, "esp8266-gzip");
		return;
	}
	if (is->headlen < 1 || h[0] != ESP_MAGIC)
		return;
	if (is->headlen < ESP32_DESC_OFF + 4 || memcmp(h + ESP32_DESC_OFF,
	    ESP32_DESC_MAGIC, 4) != 0) {
		IMAGE_SET(info->format, "esp8266");
		return;
	}
	IMAGE_SET(info->format, "esp32");
	IMAGE_SET(info->chip, image_chip(h[12] | h[13] << 8));
	if (is->headlen >= ESP32_VERSION_OFF + ESP32_FIELD_LEN)
		image_copy(info->version, sizeof(info->version),
		    h + ESP32_VERSION_OFF, ESP32_FIELD_LEN);
	if (is->headlen >= ESP32_PROJECT_OFF + ESP32_FIELD_LEN)
		image_copy(info->project, sizeof(info->project),
		    h + ESP32_PROJECT_OFF, ESP32_FIELD_LEN);
}

static const char *
image_chip(unsigned int id)
{
	switch (id) {
	case 0x00:
		return "esp32";
	case 0x02:
		return "esp32s2";
	case 0x05:
		return "esp32c3";
	case 0x09:
		return "esp32s3";
	case 0x0c:
		return "esp32c2";
	case 0x0d:
		return "esp32c6";
	case 0x10:
		return "esp32h2";
	default:
		return "";
	}
}

/* A fixed-size, maybe unterminated field: printable ASCII up to its NUL,
 * anything else as '?'. */
static void
image_copy(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && i + 1 < outlen && p[i] != '\0'; i++)
		out[i] = p[i] >= 0x20 && p[i] <= 0x7e ? p[i] : '?';
	out[i] = '\0';
}

/* Copies s into a field of size bytes, cut to fit. */
static void
image_set(char *field, size_t size, const char *s)
{
	size_t	 n = strlen(s);

	if (n >= size)
		n = size - 1;
	memcpy(field, s, n);
	field[n] = '\0';
}
