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
 * Payload fields are u8/u16/u32/u64 big-endian and str (u32 length, bytes;
 * at most CTL_MAX_STR).  Decoding is strict: a short field or bytes left
 * over make the message malformed, and a malformed message closes the peer.
 */
#ifndef OTAD_CTL_H
#define OTAD_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CTL_VERSION		1
#define CTL_HEADER_LEN		12
#define CTL_MAX_PAYLOAD		(1024 * 1024)
#define CTL_MAX_STR		(64 * 1024)

enum ctl_type {
	/* peer -> admind, request: u32 version, str role ("hwd", "fwstore")
	 * reply CTL_OK or CTL_ERROR */
	CTL_HELLO = 1,

	/* hwd -> admind, request: str token, str remote_addr
	 * reply CTL_AUTH_REPLY */
	CTL_AUTH = 10,
	/* hwd -> admind: forget every online device (sent after each
	 * (re)connect, followed by CTL_ONLINE and CTL_INFO for each) */
	CTL_ONLINE_RESET = 11,
	/* hwd -> admind: u64 device_id, u64 conn_id, str remote_addr,
	 * str local_addr (the address the device connected to).  Between
	 * CTL_ONLINE_RESET and CTL_ONLINE_DONE it is a resync, not a login. */
	CTL_ONLINE = 12,
	/* hwd -> admind: u64 device_id, u64 conn_id, u32 n, n x (str key,
	 * str value): the hardware info exactly as the device sent it */
	CTL_INFO = 13,
	/* hwd -> admind: u64 device_id, u64 conn_id */
	CTL_OFFLINE = 14,
	/* hwd -> admind: u64 device_id, u64 delivery_id, u32 connections
	 * the command reached, str error ("" when sent) */
	CTL_OTA_SENT = 15,
	/* hwd -> admind: u64 device_id, str name, str description */
	CTL_EVENT = 16,
	/* hwd -> admind: the resync list that CTL_ONLINE_RESET began is
	 * complete (empty payload) */
	CTL_ONLINE_DONE = 17,
	/* hwd -> admind, every few seconds: u64 connections open now, u64
	 * connections refused past max_connections since hwd started */
	CTL_HWD_STATS = 18,

	/* admind -> hwd: u64 device_id, u64 delivery_id, str path
	 * ("/ota/<ticket>"); hwd answers with CTL_OTA_SENT */
	CTL_OTA_SEND = 20,
	/* admind -> hwd: u64 device_id, u8 forget, str reason: close every
	 * connection of the device; forget (the device was deleted) drops
	 * its kept pin values too (a rotated token keeps them) */
	CTL_DEVICE_DROP = 21,

	/* fwstore -> admind, request: str ticket, str remote_addr, u8 head,
	 * u32 n, n x (str name, str value): the request's device headers
	 * (names lower-case).  reply CTL_FW_GRANT */
	CTL_FW_CHECK = 30,
	/* fwstore -> admind: u64 delivery_id, u8 ctl_progress, u64 bytes
	 * the device acknowledged (the union over the delivery's requests;
	 * COMPLETE only when it is the whole image), u64 total */
	CTL_FW_PROGRESS = 31,
	/* fwstore -> admind, request: GET /update?auth=<token> of a plain
	 * ESP8266httpUpdate/HTTPUpdate fleet.  Payload as CTL_FW_CHECK with
	 * the device token in place of the ticket; reply CTL_FW_GRANT (304:
	 * nothing pending; 200: the device's pending delivery, now sent).
	 * In both, a header named ":auth" carries the request's ?auth=
	 * query parameter when present. */
	CTL_FW_POLL = 32,

	CTL_REPLY_BASE = 0x8000,
	/* empty */
	CTL_OK = CTL_REPLY_BASE + 1,
	/* str message */
	CTL_ERROR = CTL_REPLY_BASE + 2,
	/* u8 ctl_auth_result, u64 device_id, str device name */
	CTL_AUTH_REPLY = CTL_REPLY_BASE + 3,
	/* u16 http status (200, 304, 403, 404, 409, 413, 503), str reason (one line
	 * for the device), u64 delivery_id, str sha256 hex (the file name),
	 * u64 size, str md5 hex, str sha256 base64, str version,
	 * u64 uploaded_at (unix seconds) */
	CTL_FW_GRANT = CTL_REPLY_BASE + 4,
};

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
long	 ctl_frame_decode(const void *in, size_t len, struct ctl_frame *);
int	 ctl_type_known(uint16_t);
/* Why a decoded request or notification from a peer of role from ("" before
 * its hello) must be refused before any handler sees it, or NULL: the
 * wrong sender, a request without an id, a notification with one.  Replies
 * are matched to requests by the transport. */
const char *ctl_frame_refusal(const struct ctl_frame *, const char *from);
const char *ctl_type_name(uint16_t);

#endif
