/* SPDX-License-Identifier: MIT */
/*
 * Unit test of otad-hwd's Blynk codec (hwd/proto.c): frame decoding fed
 * whole, byte by byte and several frames at once, the frames hwd writes
 * (the OTA command byte for byte as PROTOCOL.md 1.6 shows it), and the
 * hardware info key sets of every library generation (PROTOCOL.md 1.4),
 * the pin bodies of HARDWARE and HARDWARE_SYNC, and random bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "check.h"



#define STREQ(a, b)	((a) != NULL && strcmp((a), (b)) == 0)

static const uint8_t login_frame[] = {
	0x1d, 0x00, 0x01, 0x00, 0x20,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd',
	'e', 'f', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b',
	'c', 'd', 'e', 'f',
};

static void
test_decode_whole(void)
{
	struct hwd_frame f;

	CHECK(hwd_proto_decode(login_frame, sizeof(login_frame), 1024, &f) ==
	    (long)sizeof(login_frame));
	CHECK(f.cmd == HWD_CMD_HW_LOGIN);
	CHECK(f.msg_id == 1);
	CHECK(f.len == 32);
	CHECK(memcmp(f.body, "0123456789abcdef0123456789abcdef", 32) == 0);

	/* Header only, then a partial body: need more. */
	CHECK(hwd_proto_decode(login_frame, 0, 1024, &f) == 0);
	CHECK(hwd_proto_decode(login_frame, 4, 1024, &f) == 0);
	CHECK(hwd_proto_decode(login_frame, 5, 1024, &f) == 0);
	CHECK(hwd_proto_decode(login_frame, sizeof(login_frame) - 1, 1024,
	    &f) == 0);
}

static void
test_decode_response_and_ping(void)
{
	const uint8_t	 resp[] = { 0x00, 0x00, 0x07, 0x00, 0xc8 };
	const uint8_t	 ping[] = { 0x06, 0x12, 0x34, 0x00, 0x00 };
	struct hwd_frame f;

	CHECK(hwd_proto_decode(resp, sizeof(resp), 0, &f) == 5);
	CHECK(f.cmd == HWD_CMD_RESPONSE && f.msg_id == 7 && f.status == 200 &&
	    f.len == 0);
	CHECK(hwd_proto_decode(ping, sizeof(ping), 0, &f) == 5);
	CHECK(f.cmd == HWD_CMD_PING && f.msg_id == 0x1234 && f.len == 0);
}

/* Feeds the bytes one at a time through a carry buffer, as conn.c does. */
static void
test_decode_bytewise(void)
{
	uint8_t		 carry[64];
	size_t		 n = 0, frames = 0;
	struct hwd_frame f;
	long		 rc;

	for (size_t i = 0; i < sizeof(login_frame); i++) {
		carry[n++] = login_frame[i];
		rc = hwd_proto_decode(carry, n, 1024, &f);
		CHECK(rc >= 0);
		if (rc > 0) {
			CHECK(i == sizeof(login_frame) - 1);
			CHECK(f.cmd == HWD_CMD_HW_LOGIN && f.len == 32);
			frames++;
			n = 0;
		}
	}
	CHECK(frames == 1);
}

static void
test_decode_several(void)
{
	uint8_t		 in[128];
	struct hwd_frame f;
	size_t		 len = 0, off = 0;
	long		 rc;
	uint8_t		 want[] = { HWD_CMD_HW_LOGIN, HWD_CMD_PING,
	    HWD_CMD_HARDWARE, HWD_CMD_RESPONSE };
	int		 i = 0;
	const uint8_t	 ping[] = { 0x06, 0x00, 0x02, 0x00, 0x00 };
	const uint8_t	 hw[] = { 0x14, 0x00, 0x03, 0x00, 0x07,
	    'v', 'w', 0, '1', 0, '4', '2' };
	const uint8_t	 resp[] = { 0x00, 0x00, 0x04, 0x00, 0xc8 };

	memcpy(in + len, login_frame, sizeof(login_frame));
	len += sizeof(login_frame);
	memcpy(in + len, ping, sizeof(ping));
	len += sizeof(ping);
	memcpy(in + len, hw, sizeof(hw));
	len += sizeof(hw);
	memcpy(in + len, resp, sizeof(resp));
	len += sizeof(resp);
	/* and the first two bytes of another frame */
	in[len++] = 0x06;
	in[len++] = 0x00;

	while ((rc = hwd_proto_decode(in + off, len - off, 1024, &f)) > 0) {
		CHECK(i < 4 && f.cmd == want[i]);
		CHECK(f.msg_id == i + 1);
		off += (size_t)rc;
		i++;
	}
	CHECK(rc == 0);
	CHECK(i == 4);
	CHECK(len - off == 2);
}

static void
test_decode_errors(void)
{
	const uint8_t	 zero[] = { 0x06, 0x00, 0x00, 0x00, 0x00 };
	const uint8_t	 zero_resp[] = { 0x00, 0x00, 0x00, 0x00, 0xc8 };
	const uint8_t	 big[] = { 0x14, 0x00, 0x01, 0x04, 0x01 };
	const uint8_t	 max[] = { 0x14, 0x00, 0x01, 0x04, 0x00 };
	struct hwd_frame f;

	CHECK(hwd_proto_decode(zero, sizeof(zero), 1024, &f) ==
	    HWD_PROTO_EMSGID);
	CHECK(hwd_proto_decode(zero_resp, sizeof(zero_resp), 1024, &f) ==
	    HWD_PROTO_EMSGID);
	/* 1025 declared, 1024 allowed: an error from the header alone. */
	CHECK(hwd_proto_decode(big, sizeof(big), 1024, &f) ==
	    HWD_PROTO_ETOOBIG);
	/* exactly the maximum: wait for the body */
	CHECK(hwd_proto_decode(max, sizeof(max), 1024, &f) == 0);
	/* RESPONSE status is not a length */
	CHECK(hwd_proto_decode((const uint8_t[]){ 0, 0, 1, 0xff, 0xff }, 5,
	    16, &f) == 5);
}

static void
test_encode(void)
{
	uint8_t		 r[5];
	struct buf	 b = BUF_INIT;
	const uint8_t	 want_r[] = { 0x00, 0x00, 0x01, 0x00, 0xc8 };
	const uint8_t	 want_9[] = { 0x00, 0x12, 0x34, 0x00, 0x09 };
	const uint8_t	 want_rtc[] = { 0x11, 0x00, 0x05, 0x00, 0x06,
	    'r', 't', 'c', 0, '4', '2' };

	hwd_proto_response(r, 1, HWD_STATUS_OK);
	CHECK(memcmp(r, want_r, 5) == 0);
	hwd_proto_response(r, 0x1234, HWD_STATUS_INVALID_TOKEN);
	CHECK(memcmp(r, want_9, 5) == 0);
	CHECK(hwd_proto_encode(&b, HWD_CMD_INTERNAL, 5, "rtc\0" "42", 6) == 0);
	CHECK(b.len == sizeof(want_rtc) &&
	    memcmp(b.data, want_rtc, b.len) == 0);
	buf_reset(&b);
	CHECK(hwd_proto_encode(&b, HWD_CMD_PING, 9, NULL, 0) == 0);
	CHECK(b.len == 5 && memcmp(b.data, "\x06\x00\x09\x00\x00", 5) == 0);
	buf_free(&b);
}

static void
test_ota(void)
{
	const char	*url = "http://127.0.0.1:8080/fw.bin";
	const uint8_t	 head[] = { 0x11, 0x00, 0x64, 0x00, 0x20,
	    0x6f, 0x74, 0x61, 0x00 };
	struct buf	 b = BUF_INIT;
	struct hwd_frame f;

	CHECK(strlen(url) == 28);
	CHECK(hwd_proto_ota_body_len(url) == 32);
	CHECK(hwd_proto_ota(&b, 100, url, HWD_PROTO_DEFAULT_BUFF_IN) == 0);
	CHECK(b.len == sizeof(head) + 28);
	CHECK(memcmp(b.data, head, sizeof(head)) == 0);
	CHECK(memcmp(b.data + sizeof(head), url, 28) == 0);
	/* it decodes back */
	CHECK(hwd_proto_decode(b.data, b.len, 1024, &f) == (long)b.len);
	CHECK(f.cmd == HWD_CMD_INTERNAL && f.msg_id == 100 && f.len == 32);
	buf_reset(&b);

	/* exactly buff-in fits; one byte less does not, nothing written */
	CHECK(hwd_proto_ota(&b, 1, url, 32) == 0);
	buf_reset(&b);
	CHECK(hwd_proto_ota(&b, 1, url, 31) == HWD_PROTO_ETOOBIG);
	CHECK(b.len == 0);
	buf_free(&b);
}

/* body as a string literal with embedded NULs; len excludes the literal's
 * own terminator, which stands for the caller's NUL at body[len]. */
#define INFO(info, lit)	hwd_proto_info_parse((info), (lit), sizeof(lit) - 1)

static void
test_info_arduino_13(void)
{
	struct hwd_info	 in;
	size_t		 n;

	n = INFO(&in, "mcu\0" "0.1.2\0" "fw-type\0" "TMPL1234\0"
	    "build\0" "Nov 23 2026 21:19:37\0" "blynk\0" "1.3.2\0"
	    "h-beat\0" "45\0" "buff-in\0" "1024\0" "dev\0" "NodeMCU\0"
	    "cpu\0" "ESP8266\0" "con\0" "WiFi\0" "tmpl\0" "TMPL1234\0");
	CHECK(n == 10);
	CHECK(in.npairs == 10);
	CHECK(STREQ(in.fw_version, "0.1.2"));
	CHECK(STREQ(in.fw_type, "TMPL1234"));
	CHECK(STREQ(in.build, "Nov 23 2026 21:19:37"));
	CHECK(STREQ(in.lib_version, "1.3.2"));
	CHECK(STREQ(in.board, "NodeMCU"));
	CHECK(in.h_beat == 45);
	CHECK(in.buff_in == 1024);
	CHECK(hwd_proto_idle_timeout(in.h_beat, 23) == 104);	/* 103.5 */
}

static void
test_info_arduino_06(void)
{
	struct hwd_info	 in;

	/* 0.6 - 1.2, no trailing NUL */
	CHECK(INFO(&in, "ver\0" "0.6.1\0" "h-beat\0" "10\0" "buff-in\0"
	    "256\0" "dev\0" "Arduino Uno\0" "cpu\0" "ATmega328P\0"
	    "con\0" "W5100\0" "fw-type\0" "XYZ\0" "fw\0" "2.0\0"
	    "build\0" "Jan  2 2020 10:00:00") == 9);
	CHECK(STREQ(in.fw_version, "2.0"));
	CHECK(STREQ(in.lib_version, "0.6.1"));
	CHECK(STREQ(in.board, "Arduino Uno"));
	CHECK(STREQ(in.build, "Jan  2 2020 10:00:00"));
	CHECK(STREQ(in.fw_type, "XYZ"));
	CHECK(in.buff_in == 256);
	CHECK(in.h_beat == 10);
	CHECK(hwd_proto_idle_timeout(in.h_beat, 23) == 23);
}

static void
test_info_old_no_fw(void)
{
	struct hwd_info	 in;

	/* old build: ver is the library, no firmware version at all */
	CHECK(INFO(&in, "ver\0" "0.4.0\0" "h-beat\0" "10\0" "buff-in\0"
	    "256\0" "dev\0" "ESP8266\0") == 4);
	CHECK(in.fw_version == NULL);
	CHECK(STREQ(in.lib_version, "0.4.0"));
	CHECK(in.build == NULL && in.fw_type == NULL);
}

static void
test_info_linux_python(void)
{
	struct hwd_info	 in;

	/* Linux port: 0.6 keys plus conn */
	CHECK(INFO(&in, "ver\0" "0.6.1\0" "h-beat\0" "10\0" "buff-in\0"
	    "4096\0" "dev\0" "Linux\0" "con\0" "Socket\0" "conn\0" "TCP\0"
	    "build\0" "Mar  1 2021 12:00:00\0") == 7);
	CHECK(in.buff_in == 4096);
	CHECK(STREQ(in.board, "Linux"));

	/* Python: ver, h-beat, buff-in, dev, then tmpl, fw-type, fw;
	 * without a trailing NUL */
	CHECK(INFO(&in, "ver\0" "0.2.6\0" "h-beat\0" "50\0" "buff-in\0"
	    "1024\0" "dev\0" "python\0" "tmpl\0" "TMPLx\0" "fw-type\0"
	    "TMPLx\0" "fw\0" "1.0.0") == 7);
	CHECK(STREQ(in.fw_version, "1.0.0"));
	CHECK(STREQ(in.lib_version, "0.2.6"));
	CHECK(in.h_beat == 50);
	CHECK(hwd_proto_idle_timeout(in.h_beat, 23) == 115);
}

static void
test_info_order_and_defaults(void)
{
	struct hwd_info	 in;

	/* mcu after fw still wins; blynk after ver still wins */
	CHECK(INFO(&in, "fw\0" "old\0" "ver\0" "0.6\0" "mcu\0" "new\0"
	    "blynk\0" "1.4.0") == 4);
	CHECK(STREQ(in.fw_version, "new"));
	CHECK(STREQ(in.lib_version, "1.4.0"));
	/* 0.5.x: with blynk, ver is the firmware, in either order */
	CHECK(INFO(&in, "ver\0" "1.2.3\0" "blynk\0" "0.5.4\0" "build\0"
	    "Jan  2 2018 01:02:03") == 3);
	CHECK(STREQ(in.fw_version, "1.2.3"));
	CHECK(STREQ(in.lib_version, "0.5.4"));
	CHECK(INFO(&in, "blynk\0" "0.5.4\0" "ver\0" "1.2.3") == 2);
	CHECK(STREQ(in.fw_version, "1.2.3"));
	/* blynklib 0.2.6: ver alone is the library, no firmware */
	CHECK(INFO(&in, "ver\0" "0.2.6\0" "buff-in\0" "1024") == 2);
	CHECK(in.fw_version == NULL && STREQ(in.lib_version, "0.2.6"));
	/* buff-in absent, zero, negative or junk: 250 */
	CHECK(INFO(&in, "h-beat\0" "40\0") == 1);
	CHECK(in.buff_in == 250 && in.h_beat == 40);
	CHECK(INFO(&in, "buff-in\0" "0\0") == 1 && in.buff_in == 250);
	CHECK(INFO(&in, "buff-in\0" "-5\0") == 1 && in.buff_in == 250);
	CHECK(INFO(&in, "buff-in\0" "12x") == 1 && in.buff_in == 250);
	CHECK(INFO(&in, "h-beat\0" "abc") == 1 && in.h_beat == 0);
	CHECK(hwd_proto_idle_timeout(0, 23) == 23);
	/* not hardware info */
	CHECK(INFO(&in, "rtc") == 0);
	CHECK(in.npairs == 0);
	CHECK(INFO(&in, "") == 0);
	/* a dangling key is dropped */
	CHECK(INFO(&in, "dev\0" "ESP32\0" "h-beat") == 1);
	CHECK(in.npairs == 1 && in.h_beat == 0);
	CHECK(INFO(&in, "dev\0" "ESP32\0" "h-beat\0") == 1);
	/* an empty value is a value */
	CHECK(INFO(&in, "dev\0" "\0" "fw\0" "1\0") == 2);
	CHECK(STREQ(in.board, "") && STREQ(in.fw_version, "1"));
}

static void
test_info_walk(void)
{
	const char	 body[] = "a\0" "1\0" "b\0" "2";
	const char	*k, *v;
	size_t		 pos = 0;
	int		 n = 0;

	while (hwd_proto_info_next(body, sizeof(body) - 1, &pos, &k, &v)) {
		CHECK(n != 0 || (STREQ(k, "a") && STREQ(v, "1")));
		CHECK(n != 1 || (STREQ(k, "b") && STREQ(v, "2")));
		n++;
	}
	CHECK(n == 2);
}

static void
test_pins(void)
{
	struct hwd_pin_write w;
	struct buf	 b = BUF_INIT;
	size_t		 pos;
	unsigned	 pin, pins[4], n = 0;
	char		 type;
	const char	 multi[] = "vw\0" "12\0" "a\0" "b";
	const uint8_t	 want[] = { 0x14, 0x00, 0x07, 0x00, 0x0a,
	    'v', 'w', 0, '1', '2', 0, 'a', 0, 'b', 0 };

	CHECK(hwd_proto_pin_write("vw\0" "1\0" "42", 7, &w) == 0);
	CHECK(w.type == 'v' && w.pin == 1 && w.len == 2 &&
	    memcmp(w.value, "42", 2) == 0);
	/* a multi-value write keeps its NULs */
	CHECK(hwd_proto_pin_write(multi, sizeof(multi) - 1, &w) == 0);
	CHECK(w.pin == 12 && w.len == 3 && memcmp(w.value, "a\0b", 3) == 0);
	CHECK(hwd_proto_pin_write("dw\0" "13\0" "", 6, &w) == 0 &&
	    w.type == 'd' && w.len == 0);
	CHECK(hwd_proto_pin_write("aw\0" "255\0" "1", 8, &w) == 0);
	/* not writes: pm, vr, no value, a bad pin */
	CHECK(hwd_proto_pin_write("pm\0" "13\0" "out", 9, &w) == -1);
	CHECK(hwd_proto_pin_write("vr\0" "1", 4, &w) == -1);
	CHECK(hwd_proto_pin_write("vw\0" "1", 4, &w) == -1);
	CHECK(hwd_proto_pin_write("vw\0" "256\0" "1", 8, &w) == -1);
	CHECK(hwd_proto_pin_write("vw\0" "x\0" "1", 6, &w) == -1);
	CHECK(hwd_proto_pin_write("vw\0" "\0" "1", 5, &w) == -1);
	CHECK(hwd_proto_pin_write("", 0, &w) == -1);

	/* read lists: junk entries skipped */
	CHECK(hwd_proto_pin_read("vr\0" "1\0" "x\0" "300\0" "7\0", 13,
	    &type, &pos) == 0 && type == 'v');
	while (n < 4 && hwd_proto_pin_next("vr\0" "1\0" "x\0" "300\0" "7\0",
	    13, &pos, &pin))
		pins[n++] = pin;
	CHECK(n == 2 && pins[0] == 1 && pins[1] == 7);
	CHECK(hwd_proto_pin_read("dr", 2, &type, &pos) == 0 && type == 'd');
	CHECK(!hwd_proto_pin_next("dr", 2, &pos, &pin));
	CHECK(hwd_proto_pin_read("vw\0" "1", 4, &type, &pos) == -1);
	CHECK(hwd_proto_pin_read("vrx", 3, &type, &pos) == -1);

	/* the HARDWARE frame a sync sends */
	CHECK(hwd_proto_hardware_len(12, 4) == 10);
	CHECK(hwd_proto_hardware(&b, 7, 'v', 12, "a\0b\0", 4) == 0);
	CHECK(b.len == sizeof(want) && memcmp(b.data, want, b.len) == 0);
	buf_reset(&b);
	CHECK(hwd_proto_hardware(&b, 1, 'd', 0, "1", 1) == 0);
	CHECK(b.len == 5 + 6 && memcmp(b.data + 5, "dw\0" "0\0" "1", 6) == 0);
	CHECK(hwd_proto_hardware_len(0, 1) == 6);
	buf_free(&b);
}

/* Random bytes through the decoder and the parsers: no crash, results in
 * bounds. */
static void
test_garbage(void)
{
	uint8_t		 in[512];
	struct hwd_frame f;
	struct hwd_info	 info;
	struct hwd_pin_write w;
	char		 body[513];
	unsigned	 seed = 12345, pin;
	size_t		 len, pos;
	long		 rc;
	char		 type;

	for (int round = 0; round < 20000; round++) {
		len = (size_t)(rand_r(&seed) % sizeof(in));
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)rand_r(&seed);
		rc = hwd_proto_decode(in, len, 256, &f);
		CHECK(rc <= (long)len);
		CHECK(rc <= 0 || f.len <= 256);
		memcpy(body, in, len);
		body[len] = '\0';
		hwd_proto_info_parse(&info, body, len);
		CHECK(info.buff_in > 0 && info.buff_in <= 65535);
		if (hwd_proto_pin_write(body, len, &w) == 0)
			CHECK(w.value + w.len == body + len && w.pin <= 255);
		if (hwd_proto_pin_read(body, len, &type, &pos) == 0)
			while (hwd_proto_pin_next(body, len, &pos, &pin))
				CHECK(pin <= 255);
	}
}

/* The values of sendInternal("utc", what), as InternalPinUTC reads them. */
static void
test_utc(void)
{
	char	 v[64];

	CHECK(hwd_proto_utc_value("time", 1733140800123LL, v, sizeof(v)) == 0);
	CHECK(strcmp(v, "1733140800123") == 0);
	CHECK(hwd_proto_utc_value("iso", 1733140800123LL, v, sizeof(v)) == 0);
	CHECK(strcmp(v, "2024-12-02T12:00:00+00:00") == 0);
	CHECK(hwd_proto_utc_value("tz", 0, v, sizeof(v)) == 0 &&
	    strcmp(v, "0") == 0);
	CHECK(hwd_proto_utc_value("tz_rule", 0, v, sizeof(v)) == 0 &&
	    strcmp(v, "UTC0") == 0);
	CHECK(hwd_proto_utc_value("tz_name", 0, v, sizeof(v)) == 0 &&
	    strcmp(v, "UTC") == 0);
	CHECK(hwd_proto_utc_value("", 0, v, sizeof(v)) == -1);
	CHECK(hwd_proto_utc_value("timezone", 0, v, sizeof(v)) == -1);
	CHECK(strcmp(hwd_proto_cmd_name(HWD_CMD_EVENT_CLEAR), "EVENT_CLEAR")
	    == 0 && strcmp(hwd_proto_cmd_name(HWD_CMD_GROUP), "GROUP") == 0);
}

int
main(void)
{
	test_utc();
	test_decode_whole();
	test_decode_response_and_ping();
	test_decode_bytewise();
	test_decode_several();
	test_decode_errors();
	test_encode();
	test_ota();
	test_info_arduino_13();
	test_info_arduino_06();
	test_info_old_no_fw();
	test_info_linux_python();
	test_info_order_and_defaults();
	test_info_walk();
	test_pins();
	test_garbage();
	return check_exit("test_blynk");
}
