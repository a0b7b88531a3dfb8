/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's codec (see ctl.h): typed payload fields, each
 * message's encoder, decoder and freer and its name/role/kind row, all
 * made from the table in ctl_msgs.h, and the 12-byte frame header.  Shared
 * by admind, hwd and fwstore; decoding is strict so a peer's malformed
 * message is caught here, never half-used.
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

/* Bytes as a string's length and bytes, NULs allowed. */
static int
ctl_put_bytes(struct buf *b, const struct ctl_bytes *v)
{
	return ctl_put_strn(b, v->data ? v->data : "", v->data ? v->len : 0);
}

static int
ctl_get_bytes(struct ctl_reader *r, struct ctl_bytes *out)
{
	uint32_t n;

	out->data = NULL;
	out->len = 0;
	if (ctl_get_u32(r, &n) == -1)
		return -1;
	if (n > CTL_MAX_STR || r->len - r->pos < n ||
	    (out->data = malloc((size_t)n + 1)) == NULL) {
		r->failed = 1;
		return -1;
	}
	memcpy(out->data, r->p + r->pos, n);
	out->data[n] = '\0';
	out->len = n;
	r->pos += n;
	return 0;
}

/* A string: bytes without a NUL. */
int
ctl_get_str(struct ctl_reader *r, char **out)
{
	struct ctl_bytes b;

	*out = NULL;
	if (ctl_get_bytes(r, &b) == -1)
		return -1;
	if (memchr(b.data, '\0', b.len) != NULL) {
		free(b.data);
		r->failed = 1;
		return -1;
	}
	*out = b.data;
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

/* Each field type's codec, taking the field by pointer. */
#define ctl_enc_u8(b, v)	ctl_put_u8(b, *(v))
#define ctl_enc_u16(b, v)	ctl_put_u16(b, *(v))
#define ctl_enc_u32(b, v)	ctl_put_u32(b, *(v))
#define ctl_enc_u64(b, v)	ctl_put_u64(b, *(v))
#define ctl_enc_str(b, v)	ctl_put_str(b, *(v))
#define ctl_enc_pairs(b, v)	ctl_put_pairs(b, v)
#define ctl_enc_bytes(b, v)	ctl_put_bytes(b, v)
#define ctl_free_u8(v)		(void)(v)
#define ctl_free_u16(v)		(void)(v)
#define ctl_free_u32(v)		(void)(v)
#define ctl_free_u64(v)		(void)(v)
#define ctl_free_str(v)		(free(*(v)), *(v) = NULL)
#define ctl_free_pairs(v)	ctl_free_pairs_field(v)
#define ctl_free_bytes(v)	(free((v)->data), (v)->data = NULL)

static int
ctl_put_pairs(struct buf *b, const struct ctl_pairs *p)
{
	if (p->n > CTL_MAX_PAIRS || ctl_put_u32(b, p->n) == -1)
		return -1;
	for (uint32_t i = 0; i < p->n; i++)
		if (ctl_put_str(b, p->key[i]) == -1 ||
		    ctl_put_str(b, p->value[i]) == -1)
			return -1;
	return 0;
}

static int
ctl_get_pairs(struct ctl_reader *r, struct ctl_pairs *p)
{
	uint32_t	 n;

	if (ctl_get_u32(r, &n) == -1)
		return -1;
	if (n > CTL_MAX_PAIRS) {
		r->failed = 1;
		return -1;
	}
	for (p->n = 0; p->n < n; p->n++) {
		/* counted first: a value that fails leaves its key freed */
		p->value[p->n] = NULL;
		if (ctl_get_str(r, &p->key[p->n]) == -1)
			return -1;
		if (ctl_get_str(r, &p->value[p->n]) == -1) {
			p->n++;
			return -1;
		}
	}
	return 0;
}

static void
ctl_free_pairs_field(struct ctl_pairs *p)
{
	for (uint32_t i = 0; i < p->n; i++) {
		free(p->key[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

/* One encoder, decoder and freer per message, from the table. */
#define CTL_ENC_FIELD(type, field)					\
	if (ctl_enc_##type(b, &m->field) == -1)				\
		return -1;
#define CTL_DEC_FIELD(type, field)					\
	if (ctl_get_##type(r, &m->field) == -1)				\
		return -1;
#define CTL_FREE_FIELD(type, field)	ctl_free_##type(&m->field);
#define CTL_ENCODER(ID, id, num, name, from, kind, fields)		\
static int								\
ctl_enc_##id(struct buf *b, const void *msg)				\
{									\
	const struct ctl_msg_##id *m = msg;				\
									\
	fields								\
	(void)b;							\
	(void)m;							\
	return 0;							\
}
#define CTL_DECODER(ID, id, num, name, from, kind, fields)		\
static int								\
ctl_dec_##id(struct ctl_reader *r, void *msg)				\
{									\
	struct ctl_msg_##id *m = msg;					\
									\
	fields								\
	(void)m;							\
	return ctl_get_end(r);						\
}
#define CTL_FREER(ID, id, num, name, from, kind, fields)		\
static void								\
ctl_free_##id(void *msg)						\
{									\
	struct ctl_msg_##id *m = msg;					\
									\
	fields								\
	(void)m;							\
}
CTL_MSGS(CTL_ENCODER, CTL_ENC_FIELD)
CTL_MSGS(CTL_DECODER, CTL_DEC_FIELD)
CTL_MSGS(CTL_FREER, CTL_FREE_FIELD)

/* Each message's place in ctl_types[]. */
#define CTL_INDEX(ID, id, num, name, from, kind, fields)	CTL_INDEX_##ID,
enum { CTL_MSGS(CTL_INDEX, ) CTL_NTYPES };

/* Each message: its name, who may send it ("": a peer before its hello;
 * NULL: anyone, for replies), its kind and its codec. */
static const struct ctl_type_info {
	uint16_t	 type;
	const char	*name;
	const char	*from;
	enum ctl_kind	 kind;
	size_t		 size;
	int		(*enc)(struct buf *, const void *);
	int		(*dec)(struct ctl_reader *, void *);
	void		(*free)(void *);
} ctl_types[CTL_NTYPES] = {
#define CTL_INFO_ROW(ID, id, num, name, from, kind, fields)		\
	[CTL_INDEX_##ID] = { CTL_##ID, name, from, kind,		\
	    sizeof(struct ctl_msg_##id), ctl_enc_##id, ctl_dec_##id,	\
	    ctl_free_##id },
	CTL_MSGS(CTL_INFO_ROW, )
};

/* A switch, not a search: every frame looks its type up. */
static const struct ctl_type_info *
ctl_type_info(uint16_t type)
{
	switch (type) {
#define CTL_CASE(ID, id, num, name, from, kind, fields)			\
	case CTL_##ID:							\
		return &ctl_types[CTL_INDEX_##ID];
	CTL_MSGS(CTL_CASE, )
	default:
		return NULL;
	}
}

uint16_t
ctl_msg_type(size_t i)
{
	return i < CTL_NTYPES ? ctl_types[i].type : 0;
}

const char *
ctl_type_name(uint16_t type)
{
	const struct ctl_type_info *t = ctl_type_info(type);

	return t ? t->name : "unknown";
}

int
ctl_msg_encode(struct buf *b, uint16_t type, const void *msg)
{
	const struct ctl_type_info *t = ctl_type_info(type);
	size_t		 before = b->len;

	if (t == NULL || t->enc(b, msg) == -1) {
		b->len = before;
		return -1;
	}
	return 0;
}

int
ctl_msg_decode(uint16_t type, struct ctl_reader *r, void *msg)
{
	const struct ctl_type_info *t = ctl_type_info(type);

	if (t == NULL)
		return -1;
	memset(msg, 0, t->size);
	if (t->dec(r, msg) == -1) {
		r->failed = 1;
		t->free(msg);
		return -1;
	}
	return 0;
}

void
ctl_msg_free(uint16_t type, void *msg)
{
	const struct ctl_type_info *t = ctl_type_info(type);

	if (t != NULL)
		t->free(msg);
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
	if (t->kind == CTL_REQUEST && f->reqid == 0)
		return "a request without a request id";
	if (t->kind == CTL_NOTIFICATION && f->reqid != 0)
		return "a notification with a request id";
	return NULL;
}

int
ctl_type_known(uint16_t type)
{
	return ctl_type_info(type) != NULL;
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

/* The header with the length patched in after the payload. */
int
ctl_frame_encode_msg(struct buf *out, uint16_t type, uint32_t reqid,
    const void *msg)
{
	size_t	 before = out->len, len;

	if (ctl_frame_encode(out, type, reqid, "", 0) == -1 ||
	    ctl_msg_encode(out, type, msg) == -1 ||
	    (len = out->len - before - CTL_HEADER_LEN) > CTL_MAX_PAYLOAD) {
		out->len = before;
		return -1;
	}
	for (int i = 0; i < 4; i++)
		out->data[before + 8 + i] = (char)(len >> (24 - 8 * i));
	return 0;
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
