/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's codec (see ctl.h): typed payload fields and the
 * 12-byte frame header.  Shared by admind, hwd and fwstore; decoding is
 * strict so a peer's malformed message is caught here, never half-used.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int
ctl_put_be(struct buf *b, uint64_t v, int n)
{
	uint8_t	 p[8];

	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_add(b, p, (size_t)n);
}

int
ctl_put_u8(struct buf *b, uint8_t v)
{
	return ctl_put_be(b, v, 1);
}

int
ctl_put_u16(struct buf *b, uint16_t v)
{
	return ctl_put_be(b, v, 2);
}

int
ctl_put_u32(struct buf *b, uint32_t v)
{
	return ctl_put_be(b, v, 4);
}

int
ctl_put_u64(struct buf *b, uint64_t v)
{
	return ctl_put_be(b, v, 8);
}

int
ctl_put_strn(struct buf *b, const char *s, size_t n)
{
	if (n > CTL_MAX_STR || ctl_put_u32(b, (uint32_t)n) == -1)
		return -1;
	return buf_add(b, s, n);
}

int
ctl_put_str(struct buf *b, const char *s)
{
	return ctl_put_strn(b, s ? s : "", s ? strlen(s) : 0);
}

void
ctl_reader_init(struct ctl_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->failed = 0;
}

static int
ctl_get_be(struct ctl_reader *r, uint64_t *v, int n)
{
	if (r->failed || r->len - r->pos < (size_t)n) {
		r->failed = 1;
		return -1;
	}
	*v = 0;
	for (int i = 0; i < n; i++)
		*v = (*v << 8) | r->p[r->pos++];
	return 0;
}

int
ctl_get_u8(struct ctl_reader *r, uint8_t *v)
{
	uint64_t x;

	if (ctl_get_be(r, &x, 1) == -1)
		return -1;
	*v = (uint8_t)x;
	return 0;
}

int
ctl_get_u16(struct ctl_reader *r, uint16_t *v)
{
	uint64_t x;

	if (ctl_get_be(r, &x, 2) == -1)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int
ctl_get_u32(struct ctl_reader *r, uint32_t *v)
{
	uint64_t x;

	if (ctl_get_be(r, &x, 4) == -1)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int
ctl_get_u64(struct ctl_reader *r, uint64_t *v)
{
	return ctl_get_be(r, v, 8);
}

int
ctl_get_str(struct ctl_reader *r, char **out)
{
	uint32_t n;
	char	*s;

	*out = NULL;
	if (ctl_get_u32(r, &n) == -1)
		return -1;
	if (n > CTL_MAX_STR || r->len - r->pos < n ||
	    memchr(r->p + r->pos, '\0', n) != NULL) {
		r->failed = 1;
		return -1;
	}
	if ((s = malloc((size_t)n + 1)) == NULL) {
		r->failed = 1;
		return -1;
	}
	memcpy(s, r->p + r->pos, n);
	s[n] = '\0';
	r->pos += n;
	*out = s;
	return 0;
}

int
ctl_get_end(struct ctl_reader *r)
{
	if (r->failed || r->pos != r->len) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

/* Each message: its name, who may send it ("": a peer before its hello;
 * NULL: anyone, for replies) and whether it is a request (an id, one
 * reply) or a notification (id 0). */
static const struct ctl_type_info {
	uint16_t	 type;
	const char	*name;
	const char	*from;
	int		 request;
} ctl_types[] = {
	{ CTL_HELLO, "hello", "", 1 },
	{ CTL_AUTH, "auth", "hwd", 1 },
	{ CTL_ONLINE_RESET, "online-reset", "hwd", 0 },
	{ CTL_ONLINE, "online", "hwd", 0 },
	{ CTL_INFO, "info", "hwd", 0 },
	{ CTL_OFFLINE, "offline", "hwd", 0 },
	{ CTL_OTA_SENT, "ota-sent", "hwd", 0 },
	{ CTL_EVENT, "event", "hwd", 0 },
	{ CTL_ONLINE_DONE, "online-done", "hwd", 0 },
	{ CTL_HWD_STATS, "hwd-stats", "hwd", 0 },
	{ CTL_OTA_SEND, "ota-send", "admind", 0 },
	{ CTL_DEVICE_DROP, "device-drop", "admind", 0 },
	{ CTL_FW_CHECK, "fw-check", "fwstore", 1 },
	{ CTL_FW_PROGRESS, "fw-progress", "fwstore", 0 },
	{ CTL_FW_POLL, "fw-poll", "fwstore", 1 },
	{ CTL_OK, "ok", NULL, 0 },
	{ CTL_ERROR, "error", NULL, 0 },
	{ CTL_AUTH_REPLY, "auth-reply", NULL, 0 },
	{ CTL_FW_GRANT, "fw-grant", NULL, 0 },
};

static const struct ctl_type_info *
ctl_type_info(uint16_t type)
{
	for (size_t i = 0; i < sizeof(ctl_types) / sizeof(ctl_types[0]); i++)
		if (ctl_types[i].type == type)
			return &ctl_types[i];
	return NULL;
}

const char *
ctl_type_name(uint16_t type)
{
	const struct ctl_type_info *t = ctl_type_info(type);

	return t ? t->name : "unknown";
}

const char *
ctl_frame_refusal(const struct ctl_frame *f, const char *from)
{
	const struct ctl_type_info *t = ctl_type_info(f->type);

	if (t == NULL)
		return "an unknown message type";
	if (t->from != NULL && strcmp(t->from, from) != 0)
		return *from ? "a message this role may not send" :
		    "a message before the hello";
	if (t->request && f->reqid == 0)
		return "a request without a request id";
	if (!t->request && t->from != NULL && f->reqid != 0)
		return "a notification with a request id";
	return NULL;
}

int
ctl_type_known(uint16_t type)
{
	return strcmp(ctl_type_name(type), "unknown") != 0;
}

int
ctl_frame_encode(struct buf *out, uint16_t type, uint32_t reqid,
    const void *payload, size_t len)
{
	if (len > CTL_MAX_PAYLOAD)
		return -1;
	if (ctl_put_u16(out, type) == -1 || ctl_put_u16(out, 0) == -1 ||
	    ctl_put_u32(out, reqid) == -1 || ctl_put_u32(out, (uint32_t)len) == -1)
		return -1;
	return buf_add(out, payload, len);
}

long
ctl_frame_decode(const void *in, size_t len, struct ctl_frame *f)
{
	struct ctl_reader r;
	uint16_t	 zero;
	uint32_t	 plen;

	if (len < CTL_HEADER_LEN)
		return 0;
	ctl_reader_init(&r, in, len);
	ctl_get_u16(&r, &f->type);
	ctl_get_u16(&r, &zero);
	ctl_get_u32(&r, &f->reqid);
	ctl_get_u32(&r, &plen);
	if (zero != 0 || plen > CTL_MAX_PAYLOAD || !ctl_type_known(f->type))
		return -1;
	if (f->type >= CTL_REPLY_BASE && f->reqid == 0)
		return -1;
	if (len - CTL_HEADER_LEN < plen)
		return 0;
	f->payload = (const uint8_t *)in + CTL_HEADER_LEN;
	f->len = plen;
	return (long)(CTL_HEADER_LEN + plen);
}
