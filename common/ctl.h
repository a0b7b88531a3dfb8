/* SPDX-License-Identifier: MIT */
/*
 * The control protocol between hwd, fwstore and admind (DESIGN.md section 2):
 * framed messages over the Unix socket /run/otad/control.sock.
 *
 * Frame: a 12-byte header, big-endian: u16 type, u16 zero, u32 request id,
 * u32 payload length (at most CTL_MAX_PAYLOAD), then the payload.  Requests
 * carry a non-zero id and get exactly one reply (a type >= CTL_REPLY_BASE)
 * with the same id; notifications carry id 0.
 *
 * The messages, their senders and their payload fields are listed once, in
 * ctl_msgs.h; each has a struct here (struct ctl_msg_<id>) and one strict
 * codec: a short field or bytes left over make the message malformed, and
 * a malformed message closes the peer.
 */
#ifndef OTAD_CTL_H
#define OTAD_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CTL_VERSION		2
#define CTL_HEADER_LEN		12
#define CTL_MAX_PAYLOAD		(1024 * 1024)
#define CTL_MAX_STR		(64 * 1024)

#define CTL_REPLY_BASE		0x8000
#define CTL_MAX_PAIRS		64	/* of a pairs field */

enum ctl_kind {
	CTL_REQUEST,
	CTL_NOTIFICATION,
	CTL_REPLY,
};

#include "ctl_msgs.h"

#define CTL_ENUM(ID, id, num, name, from, kind, fields)	CTL_##ID = num,
enum ctl_type {
	CTL_MSGS(CTL_ENUM, )
};
#undef CTL_ENUM

/* A pairs field: key/value strings (the device's info, the request's
 * headers). */
struct ctl_pairs {
	uint32_t	 n;
	char		*key[CTL_MAX_PAIRS];
	char		*value[CTL_MAX_PAIRS];
};

/* A bytes field: any bytes, NULs too (a device's frame body); data is
 * NUL-terminated after len when decoded. */
struct ctl_bytes {
	uint32_t	 len;
	char		*data;
};

#define CTL_FIELD_TYPE_u8	uint8_t
#define CTL_FIELD_TYPE_u16	uint16_t
#define CTL_FIELD_TYPE_u32	uint32_t
#define CTL_FIELD_TYPE_u64	uint64_t
#define CTL_FIELD_TYPE_str	char *
#define CTL_FIELD_TYPE_pairs	struct ctl_pairs
#define CTL_FIELD_TYPE_bytes	struct ctl_bytes
#define CTL_FIELD(type, field)	CTL_FIELD_TYPE_##type field;
#define CTL_STRUCT(ID, id, num, name, from, kind, fields)		\
	struct ctl_msg_##id { fields };
CTL_MSGS(CTL_STRUCT, CTL_FIELD)
#undef CTL_STRUCT

/* Any message: big enough for each. */
#define CTL_UNION(ID, id, num, name, from, kind, fields)		\
	struct ctl_msg_##id id;
union ctl_msg_any {
	CTL_MSGS(CTL_UNION, )
};
#undef CTL_UNION

enum ctl_auth_result {
	CTL_AUTH_OK = 0,
	CTL_AUTH_UNKNOWN = 1,	/* the token is really not known */
	CTL_AUTH_FAULT = 2,	/* could not check now: try again */
};

enum ctl_progress {
	CTL_PROGRESS_STARTED = 0,
	CTL_PROGRESS_RUNNING = 1,
	CTL_PROGRESS_COMPLETE = 2,
	CTL_PROGRESS_ABORTED = 3,
};

/* Encoding: append to a payload buffer.  -1 only on allocation failure or a
 * string over CTL_MAX_STR. */
int	 ctl_put_u8(struct buf *, uint8_t);
int	 ctl_put_u16(struct buf *, uint16_t);
int	 ctl_put_u32(struct buf *, uint32_t);
int	 ctl_put_u64(struct buf *, uint64_t);
int	 ctl_put_str(struct buf *, const char *);
int	 ctl_put_strn(struct buf *, const char *, size_t);

/* Decoding: a cursor over one payload.  Every get returns -1 when the field
 * is short (and marks the reader failed); ctl_get_end() returns -1 unless
 * the payload was consumed exactly and nothing failed. */
struct ctl_reader {
	const uint8_t	*p;
	size_t		 len;
	size_t		 pos;
	int		 failed;
};

void	 ctl_reader_init(struct ctl_reader *, const void *, size_t);
int	 ctl_get_u8(struct ctl_reader *, uint8_t *);
int	 ctl_get_u16(struct ctl_reader *, uint16_t *);
int	 ctl_get_u32(struct ctl_reader *, uint32_t *);
int	 ctl_get_u64(struct ctl_reader *, uint64_t *);
/* A copy, NUL-terminated, malloc'd (caller frees); embedded NUL bytes make
 * the field malformed. */
int	 ctl_get_str(struct ctl_reader *, char **);
int	 ctl_get_end(struct ctl_reader *);

/*
 * The messages' codec, from the table.  msg points to the type's struct.
 * ctl_msg_encode appends the payload (-1 on allocation failure, a string
 * over CTL_MAX_STR or over CTL_MAX_PAIRS pairs; b is then as it was).
 * ctl_msg_decode fills msg from the whole payload (strings malloc'd), or
 * returns -1 when it is malformed, having freed what it had decoded.
 * ctl_msg_free frees a decoded message's strings (safe on a zeroed one).
 */
int	 ctl_msg_encode(struct buf *, uint16_t type, const void *msg);
int	 ctl_msg_decode(uint16_t type, struct ctl_reader *, void *msg);
void	 ctl_msg_free(uint16_t type, void *msg);
/* The table by position, for tests and the fuzzer: 0 past the end. */
uint16_t ctl_msg_type(size_t);

/* Frame codec.  ctl_frame_encode appends header and payload to out.
 * ctl_frame_decode looks at the start of in: returns 0 when more bytes are
 * needed, -1 when the header is invalid (length over the maximum, reserved
 * bits set, unknown type), else the whole frame's length with the fields
 * filled in (payload points into in). */
struct ctl_frame {
	uint16_t	 type;
	uint32_t	 reqid;
	const uint8_t	*payload;
	uint32_t	 len;
};

int	 ctl_frame_encode(struct buf *out, uint16_t type, uint32_t reqid,
	    const void *payload, size_t len);
/* The frame of a message from its struct (ctl_msg_encode). */
int	 ctl_frame_encode_msg(struct buf *out, uint16_t type, uint32_t reqid,
	    const void *msg);
long	 ctl_frame_decode(const void *in, size_t len, struct ctl_frame *);
int	 ctl_type_known(uint16_t);
/* Why a decoded request or notification from a peer of role from ("" before
 * its hello) must be refused before any handler sees it, or NULL: the
 * wrong sender, a request without an id, a notification with one.  Replies
 * are matched to requests by the transport (ctl_conn.c), which refuses one
 * that answers no request. */
const char *ctl_frame_refusal(const struct ctl_frame *, const char *from);
const char *ctl_type_name(uint16_t);

#endif
