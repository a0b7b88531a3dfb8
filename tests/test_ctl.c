/* SPDX-License-Identifier: MIT */
/* Unit test: the control protocol codec (common/ctl.c), the checks every
 * message passes before a handler, and the hello's uid per role
 * (common/ctl_conn.c) over a real socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "check.h"

static int	test_accepted;		/* hellos admitted */
static int	test_ready;		/* clients told their hello was OK */

static void
test_fields(void)
{
	struct buf	 b = BUF_INIT;
	struct ctl_reader r;
	uint8_t		 u8;
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	char		*s;

	ctl_put_u8(&b, 7);
	ctl_put_u16(&b, 0xbeef);
	ctl_put_u32(&b, 0xdeadbeef);
	ctl_put_u64(&b, 0x0102030405060708ULL);
	ctl_put_str(&b, "token");
	CHECK(b.len == 1 + 2 + 4 + 8 + 4 + 5);
	CHECK(memcmp(b.data + 1, "\xbe\xef\xde\xad\xbe\xef", 6) == 0);

	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_get_u8(&r, &u8) == 0 && u8 == 7);
	CHECK(ctl_get_u16(&r, &u16) == 0 && u16 == 0xbeef);
	CHECK(ctl_get_u32(&r, &u32) == 0 && u32 == 0xdeadbeef);
	CHECK(ctl_get_u64(&r, &u64) == 0 && u64 == 0x0102030405060708ULL);
	CHECK(ctl_get_str(&r, &s) == 0 && strcmp(s, "token") == 0);
	free(s);
	CHECK(ctl_get_end(&r) == 0);

	/* Extra bytes make the message malformed. */
	ctl_reader_init(&r, b.data, b.len);
	ctl_get_u8(&r, &u8);
	CHECK(ctl_get_end(&r) == -1);

	/* Short fields fail, and the failure sticks. */
	ctl_reader_init(&r, b.data, 3);
	CHECK(ctl_get_u32(&r, &u32) == -1);
	CHECK(ctl_get_u8(&r, &u8) == -1);
	CHECK(ctl_get_end(&r) == -1);
	buf_free(&b);

	/* A string with a NUL inside, and one longer than the payload. */
	ctl_put_strn(&b, "a\0b", 3);
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_get_str(&r, &s) == -1 && s == NULL);
	buf_reset(&b);
	ctl_put_u32(&b, 100);
	buf_adds(&b, "abc");
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_get_str(&r, &s) == -1);
	buf_free(&b);
}

static void
test_frames(void)
{
	struct buf	 b = BUF_INIT, p = BUF_INIT;
	struct ctl_frame f;

	ctl_put_str(&p, "abc");
	CHECK(ctl_frame_encode(&b, CTL_AUTH, 5, p.data, p.len) == 0);
	CHECK(b.len == CTL_HEADER_LEN + 7);
	CHECK(memcmp(b.data, "\x00\x0a\x00\x00\x00\x00\x00\x05\x00\x00\x00\x07",
	    12) == 0);
	for (size_t i = 0; i < b.len; i++)
		CHECK(ctl_frame_decode(b.data, i, &f) == 0);
	CHECK(ctl_frame_decode(b.data, b.len, &f) == (long)b.len);
	CHECK(f.type == CTL_AUTH && f.reqid == 5 && f.len == 7);

	/* Two frames back to back: the first is returned alone. */
	ctl_frame_encode(&b, CTL_OFFLINE, 0, NULL, 0);
	CHECK(ctl_frame_decode(b.data, b.len, &f) == CTL_HEADER_LEN + 7);

	/* Unknown type, reserved bits, oversized length, reply without id. */
	CHECK(ctl_frame_decode("\x12\x34\0\0\0\0\0\0\0\0\0\0", 12, &f) == -1);
	CHECK(ctl_frame_decode("\x00\x0a\0\1\0\0\0\0\0\0\0\0", 12, &f) == -1);
	CHECK(ctl_frame_decode("\x00\x0a\0\0\0\0\0\0\x7f\0\0\0", 12, &f) == -1);
	CHECK(ctl_frame_decode("\x80\x01\0\0\0\0\0\0\0\0\0\0", 12, &f) == -1);
	CHECK(ctl_frame_encode(&b, CTL_INFO, 0, p.data,
	    CTL_MAX_PAYLOAD + 1) == -1);
	buf_free(&b);
	buf_free(&p);
}

static void
test_refusals(void)
{
	struct ctl_frame f = { .type = CTL_ONLINE_DONE, .reqid = 5 };

	CHECK(strstr(ctl_frame_refusal(&f, "hwd"), "notification") != NULL);
	f.reqid = 0;
	CHECK(ctl_frame_refusal(&f, "hwd") == NULL);
	CHECK(strstr(ctl_frame_refusal(&f, "fwstore"), "may not") != NULL);
	CHECK(strstr(ctl_frame_refusal(&f, ""), "before the hello") != NULL);
	f.type = CTL_AUTH;
	CHECK(strstr(ctl_frame_refusal(&f, "hwd"), "without a request id") !=
	    NULL);
	f.type = CTL_HELLO;
	f.reqid = 1;
	CHECK(ctl_frame_refusal(&f, "") == NULL);
	CHECK(ctl_frame_refusal(&f, "hwd") != NULL);
	f.type = CTL_OTA_SEND;
	f.reqid = 0;
	CHECK(ctl_frame_refusal(&f, "admind") == NULL);
	CHECK(ctl_frame_refusal(&f, "hwd") != NULL);
}

static int
test_on_accept(struct ctl_conn *c)
{
	test_accepted++;
	return 0;
}

static void
test_on_ready(struct ctl_client *cl)
{
	test_ready++;
}

static void
test_stop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* hwd's user is someone else: our hello as hwd is refused, as fwstore
 * (our uid) admitted. */
static void
test_uid_per_role(void)
{
	static struct ctl_role roles[3];
	static struct ctl_server srv;
	static struct ctl_client hwd, fw;
	uv_loop_t	*loop = uv_default_loop();
	uv_timer_t	 stop;
	char		 path[64];

	roles[0] = (struct ctl_role){ "hwd", getuid() + 1 };
	roles[1] = (struct ctl_role){ "fwstore", getuid() };
	snprintf(path, sizeof(path), "/tmp/test_ctl.%d.sock", (int)getpid());
	srv.roles = roles;
	srv.on_accept = test_on_accept;
	CHECK(ctl_server_listen(loop, &srv, path) == 0);
	hwd.on_ready = fw.on_ready = test_on_ready;
	CHECK(ctl_client_start(loop, &hwd, path, "hwd") == 0);
	CHECK(ctl_client_start(loop, &fw, path, "fwstore") == 0);
	uv_timer_init(loop, &stop);
	uv_timer_start(&stop, test_stop, 300, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK(test_accepted == 1 && test_ready == 1);
	CHECK(fw.ready == 1 && hwd.ready == 0);
	unlink(path);
}

int
main(void)
{
	test_fields();
	test_frames();
	test_refusals();
	test_uid_per_role();
	return check_exit("test_ctl");
}
