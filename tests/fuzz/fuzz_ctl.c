/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the control protocol decoder (common/ctl.h): frames
 * cut from a byte stream as a daemon reads its socket, and each payload read
 * with ctl_reader in the layout its type declares, as admind, hwd and
 * fwstore read them.  Checks that a frame stays within the input and that
 * an accepted payload was consumed exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int	fuzz_payload(uint16_t, const uint8_t *, size_t);
static int	fuzz_pairs(struct ctl_reader *);
static int	fuzz_strs(struct ctl_reader *, int);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_frame	 f;
	size_t			 off = 0;
	long			 n;

	while (off < size) {
		n = ctl_frame_decode(data + off, size - off, &f);
		if (n <= 0)
			break;
		if ((size_t)n > size - off || n < CTL_HEADER_LEN ||
		    (size_t)n != CTL_HEADER_LEN + f.len ||
		    f.len > CTL_MAX_PAYLOAD || !ctl_type_known(f.type))
			abort();
		if (f.len > 0 && (f.payload < data + off ||
		    f.payload + f.len > data + off + n))
			abort();
		ctl_type_name(f.type);
		fuzz_payload(f.type, f.payload, f.len);
		off += (size_t)n;
	}
	/* the raw bytes as a payload of every type, without a header */
	if (size >= 2)
		fuzz_payload((uint16_t)(data[0] << 8 | data[1]), data + 2,
		    size - 2);
	return 0;
}

/* Reads the payload as its type's layout (ctl.h); 0 when well-formed. */
static int
fuzz_payload(uint16_t type, const uint8_t *p, size_t len)
{
	struct ctl_reader	 r;
	uint64_t		 u64;
	uint32_t		 u32;
	uint16_t		 u16;
	uint8_t			 u8;

	ctl_reader_init(&r, p, len);
	switch (type) {
	case CTL_HELLO:
		ctl_get_u32(&r, &u32);
		fuzz_strs(&r, 1);
		break;
	case CTL_AUTH:
		fuzz_strs(&r, 2);
		break;
	case CTL_ONLINE:
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 2);
		break;
	case CTL_INFO:
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		fuzz_pairs(&r);
		break;
	case CTL_OFFLINE:
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		break;
	case CTL_OTA_SENT:
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		ctl_get_u32(&r, &u32);
		fuzz_strs(&r, 1);
		break;
	case CTL_EVENT:
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 2);
		break;
	case CTL_OTA_SEND:
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 1);
		break;
	case CTL_FW_CHECK:
	case CTL_FW_POLL:
		fuzz_strs(&r, 2);
		ctl_get_u8(&r, &u8);
		fuzz_pairs(&r);
		break;
	case CTL_FW_PROGRESS:
		ctl_get_u64(&r, &u64);
		ctl_get_u8(&r, &u8);
		ctl_get_u64(&r, &u64);
		ctl_get_u64(&r, &u64);
		break;
	case CTL_ERROR:
		fuzz_strs(&r, 1);
		break;
	case CTL_AUTH_REPLY:
		ctl_get_u8(&r, &u8);
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 1);
		break;
	case CTL_FW_GRANT:
		ctl_get_u16(&r, &u16);
		fuzz_strs(&r, 1);
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 1);
		ctl_get_u64(&r, &u64);
		fuzz_strs(&r, 3);
		ctl_get_u64(&r, &u64);
		break;
	default:	/* empty payloads: ONLINE_RESET, ONLINE_DONE, OK */
		break;
	}
	if (ctl_get_end(&r) == 0) {
		if (r.failed || r.pos != len)
			abort();
		return 0;
	}
	if (r.pos > len)
		abort();
	return -1;
}

/* u32 n, n x (str, str), as CTL_INFO and CTL_FW_CHECK carry them. */
static int
fuzz_pairs(struct ctl_reader *r)
{
	uint32_t	 n, i;

	if (ctl_get_u32(r, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (fuzz_strs(r, 2) == -1)
			return -1;
	return 0;
}

static int
fuzz_strs(struct ctl_reader *r, int n)
{
	char	*s;

	while (n-- > 0) {
		if (ctl_get_str(r, &s) == -1)
			return -1;
		if (strlen(s) > CTL_MAX_STR)
			abort();
		free(s);
	}
	return 0;
}
