/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the control protocol decoder (common/ctl.h): frames
 * cut from a byte stream as a daemon reads its socket, and each payload
 * decoded as its type's struct by the codec the message table
 * (common/ctl_msgs.h) generates, as admind, hwd and fwstore decode them.
 * Checks that a frame stays within the input, and that an accepted payload
 * was consumed exactly and encodes back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static void	fuzz_payload(uint16_t, const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_frame	 f;
	size_t			 off = 0;
	long			 n;
	uint16_t		 type;

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
	/* the raw bytes as the payload of every message in the table */
	for (size_t i = 0; (type = ctl_msg_type(i)) != 0; i++)
		fuzz_payload(type, data, size);
	return 0;
}

/* Decodes the payload as type's struct; when accepted, it was read to its
 * end and encodes back to the same bytes. */
static void
fuzz_payload(uint16_t type, const uint8_t *p, size_t len)
{
	union ctl_msg_any	 m;
	struct ctl_reader	 r;
	struct buf		 out = BUF_INIT;

	ctl_reader_init(&r, p, len);
	if (ctl_msg_decode(type, &r, &m) == -1) {
		if (!r.failed || r.pos > len)
			abort();
		return;
	}
	if (r.failed || r.pos != len)
		abort();
	if (ctl_msg_encode(&out, type, &m) == -1 || out.len != len ||
	    (len > 0 && memcmp(out.data, p, len) != 0))
		abort();
	buf_free(&out);
	ctl_msg_free(type, &m);
}
