/* SPDX-License-Identifier: MIT */
/* Unit test: the control protocol codec (common/ctl.c) and the messages'
 * codec generated from the table (common/ctl_msgs.h), the checks every
 * message passes before a handler, the hello's uid per role, and the peer
 * closed for a refused or malformed message or reply (common/ctl_conn.c)
 * over real sockets. */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
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

/* A payload of each field type, as the table lays it out. */
static void
test_put_u8(struct buf *b, const char *field)
{
	ctl_put_u8(b, (uint8_t)strlen(field));
}

static void
test_put_u16(struct buf *b, const char *field)
{
	ctl_put_u16(b, (uint16_t)(0x100 + strlen(field)));
}

static void
test_put_u32(struct buf *b, const char *field)
{
	ctl_put_u32(b, 0x10000 + (uint32_t)strlen(field));
}

static void
test_put_u64(struct buf *b, const char *field)
{
	ctl_put_u64(b, 0x100000000ULL + strlen(field));
}

static void
test_put_str(struct buf *b, const char *field)
{
	ctl_put_str(b, field);
}

static void
test_put_pairs(struct buf *b, const char *field)
{
	ctl_put_u32(b, 2);
	ctl_put_str(b, field);
	ctl_put_str(b, "v1");
	ctl_put_str(b, "k2");
	ctl_put_str(b, "");
}

/* bytes with a NUL inside, as a Blynk body has */
static void
test_put_bytes(struct buf *b, const char *field)
{
	ctl_put_u32(b, (uint32_t)strlen(field) + 2);
	buf_add(b, field, strlen(field));
	buf_add(b, "\0x", 2);
}

#define TEST_PUT(type, field)	test_put_##type(b, #field);
#define TEST_PAYLOAD(ID, id, num, name, from, kind, fields)		\
	case CTL_##ID:							\
		fields							\
		break;

static void
test_payload(uint16_t type, struct buf *b)
{
	switch (type) {
	CTL_MSGS(TEST_PAYLOAD, TEST_PUT)
	}
}

/* Today's numbers and names: the wire and the logs must not change. */
static void
test_table(void)
{
	size_t	 n = 0;

	CHECK(CTL_HELLO == 1 && CTL_AUTH == 10 && CTL_HWD_STATS == 18);
	CHECK(CTL_CONSENT == 19);
	CHECK(CTL_OTA_SEND == 20 && CTL_DEVICE_DROP == 21);
	CHECK(CTL_CONSENT_ASK == 22);
	CHECK(CTL_BRIDGE_WRITE == 23 && CTL_DEVICE_WRITE == 24);
	CHECK(CTL_PINS == 25 && CTL_PINS_KEEP == 26);
	CHECK(CTL_FW_CHECK == 30 && CTL_FW_POLL == 32);
	CHECK(CTL_OK == 0x8001 && CTL_FW_GRANT == 0x8004);
	CHECK(strcmp(ctl_type_name(CTL_ONLINE_RESET), "online-reset") == 0);
	CHECK(strcmp(ctl_type_name(CTL_FW_GRANT), "fw-grant") == 0);
	CHECK(strcmp(ctl_type_name(CTL_CONSENT_ASK), "consent-ask") == 0);
	CHECK(strcmp(ctl_type_name(99), "unknown") == 0);
	while (ctl_msg_type(n) != 0)
		CHECK(ctl_type_known(ctl_msg_type(n++)));
	CHECK(n == 25);
}

/* Every message: decoded, re-encoded to the same bytes; every shorter
 * payload and one byte more refused. */
static void
test_msgs_round_trip(void)
{
	union ctl_msg_any m;
	struct buf	 b = BUF_INIT, out = BUF_INIT;
	struct ctl_reader r;
	uint16_t	 type;

	for (size_t i = 0; (type = ctl_msg_type(i)) != 0; i++) {
		buf_reset(&b);
		buf_reset(&out);
		test_payload(type, &b);
		ctl_reader_init(&r, b.data, b.len);
		CHECK(ctl_msg_decode(type, &r, &m) == 0);
		CHECK(ctl_msg_encode(&out, type, &m) == 0);
		CHECK(out.len == b.len && memcmp(out.data, b.data, b.len) == 0);
		ctl_msg_free(type, &m);
		for (size_t len = 0; len < b.len; len++) {
			ctl_reader_init(&r, b.data, len);
			CHECK(ctl_msg_decode(type, &r, &m) == -1);
		}
		buf_addc(&b, 0);
		ctl_reader_init(&r, b.data, b.len);
		CHECK(ctl_msg_decode(type, &r, &m) == -1);
	}
	buf_free(&b);
	buf_free(&out);
}

/* A struct's frame is the layout the daemons wrote by hand before. */
static void
test_msgs_wire(void)
{
	struct ctl_msg_online on = { 42, 7, "1.2.3.4:5", "" };
	struct ctl_msg_fw_grant g = { .status = 304, .reason = "none" };
	struct buf	 a = BUF_INIT, b = BUF_INIT;

	CHECK(ctl_frame_encode_msg(&a, CTL_ONLINE, 0, &on) == 0);
	ctl_put_u64(&b, 42);
	ctl_put_u64(&b, 7);
	ctl_put_str(&b, "1.2.3.4:5");
	ctl_put_str(&b, "");
	CHECK(a.len == CTL_HEADER_LEN + b.len);
	CHECK(memcmp(a.data, "\x00\x0c\0\0\0\0\0\0\0\0\0\x21", 12) == 0);
	CHECK(memcmp(a.data + CTL_HEADER_LEN, b.data, b.len) == 0);
	buf_reset(&a);
	buf_reset(&b);
	/* NULL strings go as "" */
	CHECK(ctl_msg_encode(&a, CTL_FW_GRANT, &g) == 0);
	ctl_put_u16(&b, 304);
	ctl_put_str(&b, "none");
	ctl_put_u64(&b, 0);
	ctl_put_str(&b, "");
	ctl_put_u64(&b, 0);
	ctl_put_str(&b, "");
	ctl_put_str(&b, "");
	ctl_put_str(&b, "");
	ctl_put_u64(&b, 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, b.len) == 0);
	buf_free(&a);
	buf_free(&b);
}

/* Strings up to CTL_MAX_STR, pairs up to CTL_MAX_PAIRS; beyond, neither
 * encoded (the buffer as it was) nor decoded. */
static void
test_msgs_limits(void)
{
	struct ctl_msg_error e;
	struct ctl_msg_info info = { 1, 2, { 0 } };
	struct buf	 b = BUF_INIT;
	struct ctl_reader r;
	char		*big = malloc(CTL_MAX_STR + 2);

	CHECK(big != NULL);
	memset(big, 'a', CTL_MAX_STR + 1);
	big[CTL_MAX_STR] = '\0';
	e.message = big;
	CHECK(ctl_msg_encode(&b, CTL_ERROR, &e) == 0);
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_msg_decode(CTL_ERROR, &r, &e) == 0 &&
	    strlen(e.message) == CTL_MAX_STR);
	ctl_msg_free(CTL_ERROR, &e);
	big[CTL_MAX_STR] = 'a';
	big[CTL_MAX_STR + 1] = '\0';
	e.message = big;
	buf_reset(&b);
	CHECK(ctl_msg_encode(&b, CTL_ERROR, &e) == -1 && b.len == 0);
	ctl_put_strn(&b, big, CTL_MAX_STR);
	b.data[3] += 1;		/* the length says one more */
	buf_addc(&b, 'a');
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_msg_decode(CTL_ERROR, &r, &e) == -1 && e.message == NULL);
	free(big);

	for (info.info.n = 0; info.info.n < CTL_MAX_PAIRS; info.info.n++) {
		info.info.key[info.info.n] = "k";
		info.info.value[info.info.n] = "v";
	}
	buf_reset(&b);
	CHECK(ctl_msg_encode(&b, CTL_INFO, &info) == 0);
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_msg_decode(CTL_INFO, &r, &info) == 0 &&
	    info.info.n == CTL_MAX_PAIRS);
	ctl_msg_free(CTL_INFO, &info);
	info.info.n = CTL_MAX_PAIRS + 1;
	buf_reset(&b);
	CHECK(ctl_msg_encode(&b, CTL_INFO, &info) == -1 && b.len == 0);
	ctl_put_u64(&b, 1);
	ctl_put_u64(&b, 2);
	ctl_put_u32(&b, CTL_MAX_PAIRS + 1);
	for (int i = 0; i < CTL_MAX_PAIRS + 1; i++) {
		ctl_put_str(&b, "k");
		ctl_put_str(&b, "v");
	}
	ctl_reader_init(&r, b.data, b.len);
	CHECK(ctl_msg_decode(CTL_INFO, &r, &info) == -1);
	buf_free(&b);
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

/* Runs loop for ms milliseconds. */
static void
test_run(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t	 stop;

	uv_timer_init(loop, &stop);
	uv_timer_start(&stop, test_stop, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&stop, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs loop until *counter is want, or 5 s (a loaded machine). */
static void
test_run_until(uv_loop_t *loop, const int *counter, int want)
{
	for (int i = 0; i < 250 && *counter != want; i++)
		test_run(loop, 20);
}

/* stderr (the log) into a file while a test runs; test_log_end() gives
 * what was logged (malloc'd) and stderr back. */
static int	test_saved_stderr = -1;
static FILE	*test_log_file;

static void
test_log_begin(void)
{
	test_log_file = tmpfile();
	test_saved_stderr = dup(2);
	dup2(fileno(test_log_file), 2);
}

static char *
test_log_end(void)
{
	char	*text = calloc(1, 65536);

	dup2(test_saved_stderr, 2);
	close(test_saved_stderr);
	rewind(test_log_file);
	if (text != NULL)
		(void)fread(text, 1, 65535, test_log_file);
	fclose(test_log_file);
	return text;
}

static int
test_unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int		 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
test_unix_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int		 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 4) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes frame (type, reqid, payload from msg, or raw bytes). */
static void
test_write(int fd, uint16_t type, uint32_t reqid, const void *msg,
    const char *raw, size_t rawlen)
{
	struct buf	 b = BUF_INIT;

	if (msg != NULL)
		CHECK(ctl_frame_encode_msg(&b, type, reqid, msg) == 0);
	else
		CHECK(ctl_frame_encode(&b, type, reqid, raw, rawlen) == 0);
	CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
	buf_free(&b);
}

/* Reads what the peer sent without waiting: 1 when the peer then closed
 * the connection, 0 when it is still open. */
static int
test_closed(int fd, size_t *got)
{
	char	 bytes[4096];
	ssize_t	 n;

	*got = 0;
	while ((n = recv(fd, bytes, sizeof(bytes), MSG_DONTWAIT)) > 0)
		*got += (size_t)n;
	return n == 0 || (n == -1 && errno == ECONNRESET);
}

static int	test_handled, test_peers_closed;

/* A handler as admind's: decodes, counts. */
static int
test_on_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	union ctl_msg_any m;

	if (ctl_msg_decode(type, r, &m) == -1)
		return -1;
	ctl_msg_free(type, &m);
	test_handled++;
	return 0;
}

static void
test_on_close(struct ctl_conn *c)
{
	test_peers_closed++;
}

/*
 * admind's side: each peer that sends a message of another role, a request
 * without an id, a reply to no request or a malformed message is closed,
 * logged, before any handler; a well-behaved peer beside them stays.
 */
static void
test_server_refusals(void)
{
	static uv_loop_t loop;
	static struct ctl_role roles[] = { { "hwd", (uid_t)-1 },
	    { "fwstore", (uid_t)-1 }, { NULL, 0 } };
	static const struct ctl_conn_ops ops = { test_on_msg, test_on_close };
	static struct ctl_server srv = { .ops = &ops, .roles = roles };
	struct ctl_msg_ota_send ota = { 1, 2, "/ota/x" };
	struct ctl_msg_auth auth = { "tok", "1.2.3.4:5" };
	struct ctl_msg_hello hwd = { CTL_VERSION, "hwd", 1 },
	    fw = { CTL_VERSION, "fwstore", 1 };
	int		 fd[5];
	size_t		 got;
	char		 path[64], *log;

	snprintf(path, sizeof(path), "/tmp/test_ctl_srv.%d.sock", (int)getpid());
	uv_loop_init(&loop);
	CHECK(ctl_server_listen(&loop, &srv, path) == 0);
	for (int i = 0; i < 5; i++) {
		CHECK((fd[i] = test_unix_connect(path)) != -1);
		test_write(fd[i], CTL_HELLO, 1, i == 4 ? &fw : &hwd, NULL, 0);
	}
	test_write(fd[0], CTL_OTA_SEND, 0, &ota, NULL, 0);
	test_write(fd[1], CTL_AUTH, 0, &auth, NULL, 0);
	test_write(fd[2], CTL_OK, 9, NULL, NULL, 0);
	test_write(fd[3], CTL_OFFLINE, 0, NULL, "\0\0\0", 3);
	test_write(fd[4], CTL_FW_PROGRESS, 0, &(struct ctl_msg_fw_progress){
	    1, CTL_PROGRESS_RUNNING, 10, 100 }, NULL, 0);
	test_log_begin();
	test_run_until(&loop, &test_peers_closed, 4);
	test_run_until(&loop, &test_handled, 1);
	log = test_log_end();
	for (int i = 0; i < 4; i++) {
		CHECK(test_closed(fd[i], &got) == 1);
		CHECK(got == CTL_HEADER_LEN);		/* the hello's ok */
		close(fd[i]);
	}
	CHECK(log != NULL);
	CHECK(strstr(log, "refused ota-send (request id 0): a message this "
	    "role may not send; closing") != NULL);
	CHECK(strstr(log, "refused auth (request id 0): a request without a "
	    "request id; closing") != NULL);
	CHECK(strstr(log, "refused ok (request id 9): a reply to no request; "
	    "closing") != NULL);
	CHECK(strstr(log, "bad or unexpected offline message, closing") != NULL);
	free(log);
	/* only the fwstore's progress reached a handler; it stays */
	CHECK(test_handled == 1 && test_peers_closed == 4);
	CHECK(test_closed(fd[4], &got) == 0 && got == CTL_HEADER_LEN);
	close(fd[4]);
	unlink(path);
}

static int	test_downs;

static void
test_on_down(struct ctl_client *cl)
{
	test_downs++;
}

/* The hello a raw admind accepted on listener lfd (non-blocking): the
 * peer's fd. */
static int
test_accept_hello(uv_loop_t *loop, int lfd)
{
	char	 hello[64];
	size_t	 got = 0;
	ssize_t	 n;
	int	 fd = -1;

	/* 12 + u32 version + str "hwd" + u32 worker */
	for (int i = 0; i < 250 && got < 12 + 4 + 4 + 3 + 4; i++) {
		test_run(loop, 20);
		if (fd == -1 && (fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		if ((n = recv(fd, hello, sizeof(hello), MSG_DONTWAIT)) > 0)
			got += (size_t)n;
	}
	CHECK(got == 12 + 4 + 4 + 3 + 4);
	return fd;
}

/*
 * hwd's and fwstore's side: a reply to no request closes the connection
 * to admind with a log line, and so does a malformed reply (the reply
 * callback's -1); the client then reconnects.
 */
static void
test_client_replies(void)
{
	static uv_loop_t loop;
	static struct ctl_client cl;
	char		 path[64], *log;
	size_t		 got;
	int		 lfd, fd;

	snprintf(path, sizeof(path), "/tmp/test_ctl_cl.%d.sock", (int)getpid());
	CHECK((lfd = test_unix_listen(path)) != -1);
	CHECK(fcntl(lfd, F_SETFL, O_NONBLOCK) == 0);
	uv_loop_init(&loop);
	test_ready = 0;
	cl.on_ready = test_on_ready;
	cl.on_down = test_on_down;
	test_log_begin();
	CHECK(ctl_client_start(&loop, &cl, path, "hwd") == 0);
	CHECK((fd = test_accept_hello(&loop, lfd)) != -1);
	test_write(fd, CTL_OK, 1, NULL, NULL, 0);
	test_write(fd, CTL_OK, 9, NULL, NULL, 0);
	test_run_until(&loop, &test_downs, 1);
	CHECK(test_ready == 1 && test_downs == 1 && cl.ready == 0);
	CHECK(test_closed(fd, &got) == 1 && got == 0);
	close(fd);

	/* after the backoff (0.1 s), a malformed answer to the hello */
	CHECK((fd = test_accept_hello(&loop, lfd)) != -1);
	test_write(fd, CTL_OK, 1, NULL, "x", 1);
	for (int i = 0; i < 250 && !test_closed(fd, &got); i++)
		test_run(&loop, 20);
	log = test_log_end();
	CHECK(test_ready == 1 && test_downs == 1 && cl.ready == 0);
	CHECK(test_closed(fd, &got) == 1);
	close(fd);
	CHECK(log != NULL);
	CHECK(strstr(log, "refused ok (request id 9): a reply to no request; "
	    "closing") != NULL);
	CHECK(strstr(log, "bad or unexpected ok message, closing") != NULL);
	free(log);
	uv_timer_stop(&cl.retry);
	close(lfd);
	unlink(path);
	test_ready = 0;
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
	test_table();
	test_msgs_round_trip();
	test_msgs_wire();
	test_msgs_limits();
	test_server_refusals();
	test_client_replies();
	test_uid_per_role();
	return check_exit("test_ctl");
}
