/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for hwd's Blynk parsers (hwd/proto.h): the frame decoder
 * run over a byte stream as hwd reads it, then the hardware info, the pin
 * write and the pin read list over every frame body.  Checks what the
 * decoder promises: a frame never reaches past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void	fuzz_body(const char *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hwd_frame	 f;
	size_t			 off = 0, max_body;
	long			 n;

	/* the first byte picks the declared-body cap, as hwd's config would */
	max_body = size > 0 && (data[0] & 1) ? HWD_PROTO_MAX_BODY :
	    HWD_PROTO_DEFAULT_BUFF_IN * 4;
	while (off < size) {
		n = hwd_proto_decode(data + off, size - off, max_body, &f);
		if (n <= 0)
			break;
		if ((size_t)n > size - off || n < HWD_PROTO_HEADER_LEN)
			abort();
		if (f.len > max_body || (f.len > 0 &&
		    (f.body < (const char *)data + off ||
		    f.body + f.len > (const char *)data + off + n)))
			abort();
		fuzz_body(f.body, f.len);
		hwd_proto_cmd_name(f.cmd);
		off += (size_t)n;
	}
	fuzz_body((const char *)data, size);
	return 0;
}

/* Every body parser over one body, NUL-ended in its own copy as hwd does. */
static void
fuzz_body(const char *body, size_t len)
{
	struct hwd_info		 info;
	struct hwd_pin_write	 w;
	const char		*key, *value;
	char			*copy, type;
	size_t			 pos = 0, npairs = 0;
	unsigned		 pin;

	if ((copy = malloc(len + 1)) == NULL)
		return;
	if (len > 0)
		memcpy(copy, body, len);
	copy[len] = '\0';
	hwd_proto_info_parse(&info, copy, len);
	if (info.nknown > info.npairs)
		abort();
	while (hwd_proto_info_next(copy, len, &pos, &key, &value) == 1) {
		if (strlen(key) + strlen(value) > len || ++npairs > len)
			abort();
	}
	if (hwd_proto_pin_write(copy, len, &w) == 0 &&
	    (w.pin > HWD_PROTO_MAX_PIN || w.value + w.len != copy + len))
		abort();
	if (hwd_proto_pin_read(copy, len, &type, &pos) == 0) {
		while (hwd_proto_pin_next(copy, len, &pos, &pin) == 1)
			if (pin > HWD_PROTO_MAX_PIN)
				abort();
	}
	free(copy);
}
