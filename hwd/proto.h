/* SPDX-License-Identifier: MIT */
/*
 * The Blynk hardware protocol as otad-hwd speaks it (PROTOCOL.md section 1):
 * the 5-byte frame header, the frames hwd writes, and the hardware info a
 * device reports after login.  Pure functions, no I/O: the unit tests and
 * the daemon share them through the hwd_core library.
 */
#ifndef OTAD_HWD_PROTO_H
#define OTAD_HWD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HWD_PROTO_HEADER_LEN		5
#define HWD_PROTO_MAX_BODY		65535	/* a u16 length */
#define HWD_PROTO_DEFAULT_BUFF_IN	250

enum hwd_cmd {
	HWD_CMD_RESPONSE = 0,
	HWD_CMD_LOGIN = 2,
	HWD_CMD_PING = 6,
	HWD_CMD_TWEET = 12,
	HWD_CMD_EMAIL = 13,
	HWD_CMD_NOTIFY = 14,
	HWD_CMD_BRIDGE = 15,
	HWD_CMD_HARDWARE_SYNC = 16,
	HWD_CMD_INTERNAL = 17,
	HWD_CMD_SMS = 18,
	HWD_CMD_PROPERTY = 19,
	HWD_CMD_HARDWARE = 20,
	HWD_CMD_GROUP = 21,		/* beginGroup/endGroup (1.2+) */
	HWD_CMD_HW_LOGIN = 29,
	HWD_CMD_REDIRECT = 41,
	HWD_CMD_DEBUG_PRINT = 55,
	HWD_CMD_EVENT_LOG = 64,
	HWD_CMD_EVENT_CLEAR = 65,	/* resolveEvent/clearEvent (1.x) */
};

enum hwd_status {
	HWD_STATUS_OK = 200,
	HWD_STATUS_QUOTA_LIMIT = 1,
	HWD_STATUS_ILLEGAL_COMMAND = 2,
	HWD_STATUS_ALREADY_REGISTERED = 4,
	HWD_STATUS_NOT_AUTHENTICATED = 5,
	HWD_STATUS_NOT_ALLOWED = 6,
	HWD_STATUS_NOT_IN_NETWORK = 7,
	HWD_STATUS_INVALID_TOKEN = 9,
	HWD_STATUS_ILLEGAL_BODY = 11,
	HWD_STATUS_NO_DATA = 17,
	HWD_STATUS_SERVER_ERROR = 19,
};

/* Decoder results below zero. */
#define HWD_PROTO_EMSGID	(-1)	/* msg_id 0 */
#define HWD_PROTO_ETOOBIG	(-2)	/* declared body over the maximum */

struct hwd_frame {
	uint8_t		 cmd;
	uint16_t	 msg_id;
	uint16_t	 status;	/* RESPONSE only */
	const char	*body;		/* points into the input; not NUL-ended */
	size_t		 len;		/* body length; 0 for RESPONSE */
};

/*
 * Looks at the start of in: returns the whole frame's length with f filled
 * in, 0 when more bytes are needed, or HWD_PROTO_EMSGID / HWD_PROTO_ETOOBIG
 * as soon as the header shows it (the body is never waited for).
 */
long	 hwd_proto_decode(const void *in, size_t len, size_t max_body,
	    struct hwd_frame *f);
/* The 5 bytes of RESPONSE(status) for msg_id. */
void	 hwd_proto_response(uint8_t out[HWD_PROTO_HEADER_LEN],
	    uint16_t msg_id, uint16_t status);
/* Appends a command frame; -1 when the body is over 65535 bytes or on
 * allocation failure. */
int	 hwd_proto_encode(struct buf *, uint8_t cmd, uint16_t msg_id,
	    const void *body, size_t len);
/* Appends INTERNAL "ota\0<url>" (PROTOCOL.md 1.6); HWD_PROTO_ETOOBIG when
 * the body would not fit buff_in, -1 on allocation failure. */
int	 hwd_proto_ota(struct buf *, uint16_t msg_id, const char *url,
	    unsigned buff_in);
size_t	 hwd_proto_ota_body_len(const char *url);
/*
 * The value of the INTERNAL reply "utc\0<what>\0<value>" to the library's
 * sendInternal("utc", what), for the clock at now_ms (Unix ms): "time" the
 * Unix time in ms, "iso" ISO 8601 with offset, "tz" the offset in minutes,
 * "tz_name" and "tz_rule" the zone (hwd knows no device's zone: UTC).
 * -1 for a what the library does not define.
 */
int	 hwd_proto_utc_value(const char *what, int64_t now_ms, char *out,
	    size_t len);

/*
 * Hardware info (PROTOCOL.md 1.4), parsed by key.  The pointers point into
 * the body given to hwd_proto_info_parse, which must be NUL-terminated at
 * body[len] (the caller's copy); NULL when the key is absent.
 */
struct hwd_info {
	const char	*fw_version;	/* mcu, else fw, else ver with blynk */
	const char	*build;
	const char	*fw_type;
	const char	*board;		/* dev */
	const char	*lib_version;	/* blynk, else ver */
	const char	*fw, *ver;	/* as sent */
	unsigned	 buff_in;	/* HWD_PROTO_DEFAULT_BUFF_IN if absent */
	unsigned	 h_beat;	/* seconds; 0 when absent */
	size_t		 npairs;
	size_t		 nknown;	/* pairs with a key of the table */
};

/* Returns the number of known keys found (0: not hardware info). */
size_t	 hwd_proto_info_parse(struct hwd_info *, const char *body, size_t len);
/* Walks the key/value pairs: 1 with key and value set, 0 at the end.  A
 * trailing NUL ends the list; a key without a value is dropped.  *pos
 * starts at 0. */
int	 hwd_proto_info_next(const char *body, size_t len, size_t *pos,
	    const char **key, const char **value);
/*
 * Pins (HARDWARE and HARDWARE_SYNC bodies).  A write is "vw", "dw" or "aw",
 * NUL, the pin number (0-255), NUL, the value: everything after that NUL,
 * embedded NULs included (a multi-value write).  A read list is "vr", "dr"
 * or "ar" followed by NUL-separated pin numbers.
 */
#define HWD_PROTO_MAX_PIN	255

struct hwd_pin_write {
	char		 type;		/* 'v', 'd' or 'a' */
	unsigned	 pin;
	const char	*value;		/* points into the body */
	size_t		 len;
};

/* 0 for a pin write (w filled in), -1 for any other body (pm, vr, junk). */
int	 hwd_proto_pin_write(const char *body, size_t len,
	    struct hwd_pin_write *w);
/* For "vr\0pin...": the pin type, with *pos at the first pin; -1 when the
 * body is not a read list. */
int	 hwd_proto_pin_read(const char *body, size_t len, char *type,
	    size_t *pos);
/* The next pin number of a read list: 1 with *pin set, 0 at the end;
 * entries that are not a pin number are skipped. */
int	 hwd_proto_pin_next(const char *body, size_t len, size_t *pos,
	    unsigned *pin);
/* Body length of HARDWARE "<type>w\0<pin>\0<value>". */
size_t	 hwd_proto_hardware_len(unsigned pin, size_t vlen);
/* Appends HARDWARE "<type>w\0<pin>\0<value>"; -1 on allocation failure
 * or a body over 65535 bytes. */
int	 hwd_proto_hardware(struct buf *, uint16_t msg_id, char type,
	    unsigned pin, const char *value, size_t vlen);

/* ceil(h_beat * 2.3) seconds, or fallback when h_beat is 0. */
unsigned hwd_proto_idle_timeout(unsigned h_beat, unsigned fallback);
const char *hwd_proto_cmd_name(uint8_t);

#endif
