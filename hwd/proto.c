/* SPDX-License-Identifier: MIT */
/*
 * The Blynk frame codec and hardware info parser of otad-hwd (see proto.h
 * and PROTOCOL.md section 1).  It only turns bytes into frames and frames
 * into bytes; the connection logic that uses it lives in conn.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"

#define HWD_OTA_PREFIX		"ota"
#define HWD_OTA_PREFIX_LEN	4	/* "ota" and its NUL */

static const char *
hwd_proto_token(const char *body, size_t len, size_t *pos)
{
	const char	*tok = body + *pos;
	const char	*nul;

	nul = memchr(tok, '\0', len - *pos);
	*pos = nul ? (size_t)(nul - body) + 1 : len + 1;
	return tok;
}

long
hwd_proto_decode(const void *in, size_t len, size_t max_body,
    struct hwd_frame *f)
{
	const uint8_t	*p = in;
	uint16_t	 field;

	if (len < HWD_PROTO_HEADER_LEN)
		return 0;
	f->cmd = p[0];
	f->msg_id = (uint16_t)(p[1] << 8 | p[2]);
	field = (uint16_t)(p[3] << 8 | p[4]);
	if (f->msg_id == 0)
		return HWD_PROTO_EMSGID;
	f->body = (const char *)p + HWD_PROTO_HEADER_LEN;
	if (f->cmd == HWD_CMD_RESPONSE) {
		f->status = field;
		f->len = 0;
		return HWD_PROTO_HEADER_LEN;
	}
	f->status = 0;
	f->len = field;
	if (f->len > max_body)
		return HWD_PROTO_ETOOBIG;
	if (len - HWD_PROTO_HEADER_LEN < f->len)
		return 0;
	return (long)(HWD_PROTO_HEADER_LEN + f->len);
}

void
hwd_proto_response(uint8_t out[HWD_PROTO_HEADER_LEN], uint16_t msg_id,
    uint16_t status)
{
	out[0] = HWD_CMD_RESPONSE;
	out[1] = (uint8_t)(msg_id >> 8);
	out[2] = (uint8_t)msg_id;
	out[3] = (uint8_t)(status >> 8);
	out[4] = (uint8_t)status;
}

int
hwd_proto_encode(struct buf *out, uint8_t cmd, uint16_t msg_id,
    const void *body, size_t len)
{
	uint8_t	 h[HWD_PROTO_HEADER_LEN];

	if (len > HWD_PROTO_MAX_BODY)
		return -1;
	h[0] = cmd;
	h[1] = (uint8_t)(msg_id >> 8);
	h[2] = (uint8_t)msg_id;
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
	if (buf_reserve(out, sizeof(h) + len) == -1 ||
	    buf_add(out, h, sizeof(h)) == -1 || buf_add(out, body, len) == -1)
		return -1;
	return 0;
}

size_t
hwd_proto_ota_body_len(const char *url)
{
	return HWD_OTA_PREFIX_LEN + strlen(url);
}

int
hwd_proto_ota(struct buf *out, uint16_t msg_id, const char *url,
    unsigned buff_in)
{
	struct buf	 body = BUF_INIT;
	int		 rc;

	if (hwd_proto_ota_body_len(url) > buff_in ||
	    hwd_proto_ota_body_len(url) > HWD_PROTO_MAX_BODY)
		return HWD_PROTO_ETOOBIG;
	if (buf_add(&body, HWD_OTA_PREFIX, HWD_OTA_PREFIX_LEN) == -1 ||
	    buf_adds(&body, url) == -1) {
		buf_free(&body);
		return -1;
	}
	rc = hwd_proto_encode(out, HWD_CMD_INTERNAL, msg_id, body.data,
	    body.len);
	buf_free(&body);
	return rc;
}

int
hwd_proto_utc_value(const char *what, int64_t now_ms, char *out, size_t len)
{
	time_t		 t = (time_t)(now_ms / 1000);
	struct tm	 tm;

	if (strcmp(what, "time") == 0)
		snprintf(out, len, "%lld", (long long)now_ms);
	else if (strcmp(what, "iso") == 0 && gmtime_r(&t, &tm) != NULL)
		strftime(out, len, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	else if (strcmp(what, "tz") == 0)
		snprintf(out, len, "0");
	else if (strcmp(what, "tz_name") == 0)
		snprintf(out, len, "UTC");
	else if (strcmp(what, "tz_rule") == 0)
		snprintf(out, len, "UTC0");
	else
		return -1;
	return 0;
}

int
hwd_proto_info_next(const char *body, size_t len, size_t *pos,
    const char **key, const char **value)
{
	if (*pos >= len)
		return 0;
	*key = hwd_proto_token(body, len, pos);
	if (*pos >= len)
		return 0;	/* a key without a value */
	*value = hwd_proto_token(body, len, pos);
	return 1;
}

/* A positive decimal up to 65535, else 0. */
static unsigned
hwd_proto_info_uint(const char *s)
{
	char	*end;
	long	 v;

	if (*s < '0' || *s > '9')
		return 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v <= 0 || v > HWD_PROTO_MAX_BODY)
		return 0;
	return (unsigned)v;
}

static int
hwd_proto_info_key(struct hwd_info *info, const char *key, const char *value)
{
	/* resolved in hwd_proto_info_parse, whatever the order */
	if (strcmp(key, "mcu") == 0)
		info->fw_version = value;
	else if (strcmp(key, "fw") == 0)
		info->fw = value;
	else if (strcmp(key, "blynk") == 0)
		info->lib_version = value;
	else if (strcmp(key, "ver") == 0)
		info->ver = value;
	else if (strcmp(key, "build") == 0)
		info->build = value;
	else if (strcmp(key, "fw-type") == 0)
		info->fw_type = value;
	else if (strcmp(key, "dev") == 0)
		info->board = value;
	else if (strcmp(key, "buff-in") == 0)
		info->buff_in = hwd_proto_info_uint(value);
	else if (strcmp(key, "h-beat") == 0)
		info->h_beat = hwd_proto_info_uint(value);
	else if (strcmp(key, "cpu") != 0 && strcmp(key, "con") != 0 &&
	    strcmp(key, "conn") != 0 && strcmp(key, "tmpl") != 0)
		return 0;
	return 1;
}

size_t
hwd_proto_info_parse(struct hwd_info *info, const char *body, size_t len)
{
	const char	*key, *value;
	size_t		 pos = 0;

	memset(info, 0, sizeof(*info));
	while (hwd_proto_info_next(body, len, &pos, &key, &value)) {
		info->npairs++;
		info->nknown += (size_t)hwd_proto_info_key(info, key, value);
	}
	/* The firmware is mcu, else fw, else ver when blynk names the
	 * library (0.5.x); the library is blynk, else ver. */
	if (info->fw_version == NULL)
		info->fw_version = info->fw != NULL ? info->fw :
		    info->lib_version != NULL ? info->ver : NULL;
	if (info->lib_version == NULL)
		info->lib_version = info->ver;
	if (info->buff_in == 0)
		info->buff_in = HWD_PROTO_DEFAULT_BUFF_IN;
	return info->nknown;
}

/* A pin number: 1-3 digits, at most HWD_PROTO_MAX_PIN; -1 otherwise. */
static int
hwd_proto_pin_number(const char *s, size_t len)
{
	unsigned	 v = 0;

	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v > HWD_PROTO_MAX_PIN ? -1 : (int)v;
}

static int
hwd_proto_pin_type(char c)
{
	return c == 'v' || c == 'd' || c == 'a';
}

int
hwd_proto_pin_write(const char *body, size_t len, struct hwd_pin_write *w)
{
	const char	*nul;
	int		 pin;

	if (len < 5 || !hwd_proto_pin_type(body[0]) || body[1] != 'w' ||
	    body[2] != '\0')
		return -1;
	if ((nul = memchr(body + 3, '\0', len - 3)) == NULL)
		return -1;		/* no value */
	if ((pin = hwd_proto_pin_number(body + 3,
	    (size_t)(nul - body) - 3)) == -1)
		return -1;
	w->type = body[0];
	w->pin = (unsigned)pin;
	w->value = nul + 1;
	w->len = len - (size_t)(nul + 1 - body);
	return 0;
}

int
hwd_proto_pin_read(const char *body, size_t len, char *type, size_t *pos)
{
	if (len < 2 || !hwd_proto_pin_type(body[0]) || body[1] != 'r' ||
	    (len > 2 && body[2] != '\0'))
		return -1;
	*type = body[0];
	*pos = 3;
	return 0;
}

int
hwd_proto_pin_next(const char *body, size_t len, size_t *pos, unsigned *pin)
{
	const char	*tok, *nul;
	size_t		 n;
	int		 v;

	while (*pos < len) {
		tok = body + *pos;
		nul = memchr(tok, '\0', len - *pos);
		n = nul ? (size_t)(nul - tok) : len - *pos;
		*pos += n + 1;
		if ((v = hwd_proto_pin_number(tok, n)) != -1) {
			*pin = (unsigned)v;
			return 1;
		}
	}
	return 0;
}

size_t
hwd_proto_hardware_len(unsigned pin, size_t vlen)
{
	return 3 + (pin >= 100 ? 3 : pin >= 10 ? 2 : 1) + 1 + vlen;
}

int
hwd_proto_hardware(struct buf *out, uint16_t msg_id, char type,
    unsigned pin, const char *value, size_t vlen)
{
	struct buf	 body = BUF_INIT;
	char		 head[8];
	int		 n, rc = -1;

	/* "vw", NUL, the pin, NUL: the NULs are written by hand */
	n = snprintf(head, sizeof(head), "%cw_%u_", type, pin % 1000);
	head[2] = head[n - 1] = '\0';
	if (buf_add(&body, head, (size_t)n) != -1 &&
	    buf_add(&body, value, vlen) != -1)
		rc = hwd_proto_encode(out, HWD_CMD_HARDWARE, msg_id, body.data,
		    body.len);
	buf_free(&body);
	return rc;
}

unsigned
hwd_proto_idle_timeout(unsigned h_beat, unsigned fallback)
{
	if (h_beat == 0)
		return fallback;
	return (h_beat * 23 + 9) / 10;
}

const char *
hwd_proto_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case HWD_CMD_RESPONSE:		return "RESPONSE";
	case HWD_CMD_LOGIN:		return "LOGIN";
	case HWD_CMD_PING:		return "PING";
	case HWD_CMD_TWEET:		return "TWEET";
	case HWD_CMD_EMAIL:		return "EMAIL";
	case HWD_CMD_NOTIFY:		return "NOTIFY";
	case HWD_CMD_BRIDGE:		return "BRIDGE";
	case HWD_CMD_HARDWARE_SYNC:	return "HARDWARE_SYNC";
	case HWD_CMD_INTERNAL:		return "INTERNAL";
	case HWD_CMD_SMS:		return "SMS";
	case HWD_CMD_PROPERTY:		return "PROPERTY";
	case HWD_CMD_HARDWARE:		return "HARDWARE";
	case HWD_CMD_HW_LOGIN:		return "HW_LOGIN";
	case HWD_CMD_REDIRECT:		return "REDIRECT";
	case HWD_CMD_DEBUG_PRINT:	return "DEBUG_PRINT";
	case HWD_CMD_EVENT_LOG:		return "EVENT_LOG";
	case HWD_CMD_GROUP:		return "GROUP";
	case HWD_CMD_EVENT_CLEAR:	return "EVENT_CLEAR";
	default:			return "unknown";
	}
}
