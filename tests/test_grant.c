/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of admind's answers to fwstore (admind/grant_policy.c): the
 * ESP8266httpUpdate and HTTPUpdate headers and their absence, the chip
 * family, whether the device runs the image (sketch hash before version),
 * every refusal with its bytes, the ?auth= token check, what an ended or
 * waiting ticket answers, the poll verdict after a download, the updater
 * info a poll records, and the download counters and 10 % steps.
 */
#include <stdarg.h>
#include <string.h>

#include "check.h"
#include "ctl.h"
#include "grant_policy.h"

#define MD5	"0123456789abcdef0123456789abcdef"
#define SHA	"00112233445566778899aabbccddeeff" \
		"00112233445566778899aabbccddeeff"

struct hdrs {
	char			*names[16];
	char			*values[16];
	struct grant_headers	 h;
};

/* The headers name, value, ..., NULL. */
static const struct grant_headers *
hdrs(struct hdrs *x, ...)
{
	va_list	 ap;
	char	*name;

	memset(x, 0, sizeof(*x));
	va_start(ap, x);
	while ((name = va_arg(ap, char *)) != NULL && x->h.n < 16) {
		x->names[x->h.n] = name;
		x->values[x->h.n++] = va_arg(ap, char *);
	}
	va_end(ap);
	x->h.names = x->names;
	x->h.values = x->values;
	return &x->h;
}

static struct firmware
image(char *format, char *version, char *build, uint64_t size)
{
	struct firmware	 fw = { .md5 = MD5, .sha256 = SHA, .size = size,
	    .format = format, .version = version, .build = build };

	return fw;
}

static void
test_headers(void)
{
	struct hdrs	 x;
	const struct grant_headers *h;

	h = hdrs(&x, NULL);
	CHECK(grant_policy_header(h, "user-agent") == NULL);
	CHECK(grant_policy_hdr2(h, "version") == NULL);
	CHECK(!grant_policy_quiet(h, 0));
	CHECK(grant_policy_quiet(h, 1));	/* HEAD */
	h = hdrs(&x, "User-Agent", "ESP8266-http-Update",
	    "x-esp8266-version", "1.0", "x-esp32-version", "2.0", NULL);
	CHECK(strcmp(grant_policy_header(h, "user-agent"),
	    "ESP8266-http-Update") == 0);
	/* the ESP8266 header before the ESP32 one */
	CHECK(strcmp(grant_policy_hdr2(h, "version"), "1.0") == 0);
	h = hdrs(&x, "x-esp32-version", "2.0", "x-esp32-mode", "VERSION",
	    NULL);
	CHECK(strcmp(grant_policy_hdr2(h, "version"), "2.0") == 0);
	CHECK(grant_policy_quiet(h, 0));	/* a version check */
	h = hdrs(&x, "x-esp8266-mode", "sketch", NULL);
	CHECK(!grant_policy_quiet(h, 0));
	h = hdrs(&x, "x-esp8266-mode", "version", NULL);
	CHECK(grant_policy_quiet(h, 0));
}

static void
test_family(void)
{
	struct hdrs	 x;
	struct firmware	 fw = image("esp8266", "", "", 0);

	CHECK(grant_policy_req_family(hdrs(&x, NULL)) == NULL);
	CHECK(grant_policy_req_family(hdrs(&x, "user-agent", "curl/8.5",
	    NULL)) == NULL);
	CHECK(strcmp(grant_policy_req_family(hdrs(&x, "user-agent",
	    "ESP8266-http-Update", NULL)), "esp8266") == 0);
	CHECK(strcmp(grant_policy_req_family(hdrs(&x, "user-agent",
	    "esp32-http-update", NULL)), "esp32") == 0);
	/* HTTPUpdate's x-esp32-* headers, no user-agent of its own */
	CHECK(strcmp(grant_policy_req_family(hdrs(&x, "user-agent", "x",
	    "x-esp32-chip-size", "4194304", NULL)), "esp32") == 0);
	CHECK(strcmp(grant_policy_req_family(hdrs(&x, "x-esp8266-free-space",
	    "1", NULL)), "esp8266") == 0);
	/* the user-agent decides before the headers */
	CHECK(strcmp(grant_policy_req_family(hdrs(&x, "x-esp8266-mode", "a",
	    "user-agent", "ESP32-http-Update", NULL)), "esp32") == 0);
	CHECK(strcmp(grant_policy_fw_family(&fw), "esp8266") == 0);
	fw.format = "esp8266-gzip";
	CHECK(strcmp(grant_policy_fw_family(&fw), "esp8266") == 0);
	fw.format = "esp32";
	CHECK(strcmp(grant_policy_fw_family(&fw), "esp32") == 0);
	fw.format = "unknown";
	CHECK(grant_policy_fw_family(&fw) == NULL);
}

static void
test_match(void)
{
	struct hdrs	 x;
	struct firmware	 fw = image("esp8266", "1.2", "", 1000);
	const char	*by;

	CHECK(grant_policy_match(hdrs(&x, NULL), &fw, &by) == REPORT_UNKNOWN);
	CHECK(strcmp(by, "") == 0);
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-version", "1.2", NULL),
	    &fw, &by) == REPORT_SAME);
	CHECK(strcmp(by, "version") == 0);
	CHECK(grant_policy_match(hdrs(&x, "x-esp32-version", "1.1", NULL),
	    &fw, &by) == REPORT_OTHER);
	CHECK(strcmp(by, "version") == 0);
	/* the sketch hash wins over another version (case aside) */
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-version", "0.9",
	    "x-esp8266-sketch-md5", "0123456789ABCDEF0123456789ABCDEF",
	    NULL), &fw, &by) == REPORT_SAME);
	CHECK(strcmp(by, "sketch hash") == 0);
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-sketch-md5",
	    "ffffffffffffffffffffffffffffffff", NULL), &fw, &by) ==
	    REPORT_OTHER);
	CHECK(strcmp(by, "sketch hash") == 0);
	/* another hash but the same version: the version says it runs it */
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-version", "1.2",
	    "x-esp8266-sketch-md5", "ffffffffffffffffffffffffffffffff",
	    NULL), &fw, &by) == REPORT_SAME);
	CHECK(strcmp(by, "version") == 0);
	/* HTTPUpdate's SHA-256; the MD5 header comes first */
	CHECK(grant_policy_match(hdrs(&x, "x-esp32-sketch-sha256", SHA, NULL),
	    &fw, &by) == REPORT_SAME);
	CHECK(strcmp(by, "sketch hash") == 0);
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-sketch-md5",
	    "ffffffffffffffffffffffffffffffff", "x-esp32-sketch-sha256", SHA,
	    NULL), &fw, &by) == REPORT_OTHER);
	/* an updater reports no build: the image's build does not stop a
	 * version from deciding */
	fw.build = "42";
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-version", "1.2", NULL),
	    &fw, &by) == REPORT_SAME);
	CHECK(strcmp(by, "version") == 0);
	/* an image without a version: only a hash can tell */
	fw.version = "";
	CHECK(grant_policy_match(hdrs(&x, "x-esp8266-version", "1.2", NULL),
	    &fw, &by) == REPORT_UNKNOWN);
}

static void
test_refusal(void)
{
	struct hdrs	 x;
	struct firmware	 fw = image("esp32", "1.2", "", 1000);
	char		 why[200];

	CHECK(grant_policy_refusal(hdrs(&x, NULL), &fw, why, sizeof(why)) ==
	    0);
	CHECK(grant_policy_refusal(hdrs(&x, "user-agent", "curl/8.5", NULL),
	    &fw, why, sizeof(why)) == 0);
	CHECK(grant_policy_refusal(hdrs(&x, "user-agent",
	    "ESP8266-http-Update", NULL), &fw, why, sizeof(why)) == 409);
	CHECK(strcmp(why, "The image is for esp32, the device is an "
	    "esp8266.") == 0);
	fw.format = "esp8266-gzip";
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp32-mode", "sketch", NULL),
	    &fw, why, sizeof(why)) == 409);
	CHECK(strcmp(why, "The image is for esp8266, the device is an "
	    "esp32.") == 0);
	/* an unknown format fits any chip */
	fw.format = "unknown";
	CHECK(grant_policy_refusal(hdrs(&x, "user-agent",
	    "ESP32-http-Update", NULL), &fw, why, sizeof(why)) == 0);
	fw.format = "esp8266";
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-mode", "SPIFFS", NULL),
	    &fw, why, sizeof(why)) == 409);
	CHECK(strcmp(why, "The device asked for a file-system image, this is "
	    "a sketch.") == 0);
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-free-space", "999",
	    NULL), &fw, why, sizeof(why)) == 413);
	CHECK(strcmp(why, "The image is 1000 bytes, the device has 999 bytes "
	    "free.") == 0);
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-free-space", "1000",
	    NULL), &fw, why, sizeof(why)) == 0);
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-free-space", "lots",
	    NULL), &fw, why, sizeof(why)) == 0);
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-free-space", "-1",
	    NULL), &fw, why, sizeof(why)) == 0);
	/* the chip family first, then the mode, then the space */
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp32-free-space", "1",
	    "x-esp32-mode", "spiffs", NULL), &fw, why, sizeof(why)) == 409);
	CHECK(strstr(why, "is an esp32") != NULL);
	CHECK(grant_policy_refusal(hdrs(&x, "x-esp8266-free-space", "1",
	    "x-esp8266-mode", "spiffs", NULL), &fw, why, sizeof(why)) == 409);
	CHECK(strstr(why, "file-system") != NULL);
}

static void
test_current(void)
{
	CHECK(grant_policy_current(DELIVERY_SENT, 0) == DELIVERY_CURRENT);
	CHECK(grant_policy_current(DELIVERY_DOWNLOADING, 0) ==
	    DELIVERY_CURRENT);
	CHECK(grant_policy_current(DELIVERY_QUEUED, 0) == DELIVERY_CURRENT);
	CHECK(grant_policy_current(DELIVERY_DOWNLOADED, 0) ==
	    DELIVERY_VERIFIED);
	/* waiting for its window or consent: 304, nothing moves */
	CHECK(grant_policy_current(DELIVERY_SCHEDULED, 0) == DELIVERY_NEVENTS);
	CHECK(grant_policy_current(DELIVERY_AWAITING_CONSENT, 0) ==
	    DELIVERY_NEVENTS);
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		/* HEAD or a version check moves nothing */
		CHECK(grant_policy_current(s, 1) == DELIVERY_NEVENTS);
		/* an ended delivery still hears 304, unchanged */
		if (delivery_state_ended(s))
			CHECK(grant_policy_current(s, 0) == DELIVERY_NEVENTS);
	}
}

static void
test_other_device(void)
{
	CHECK(grant_policy_other_device(1, 7, 7) == NULL);
	CHECK(strcmp(grant_policy_other_device(1, 8, 7),
	    "This download is for another device.") == 0);
	CHECK(strcmp(grant_policy_other_device(0, 0, 7),
	    "The ?auth= token is no device's token.") == 0);
	CHECK(strcmp(grant_policy_other_device(-1, 0, 7),
	    "The ?auth= token could not be checked; try again later.") == 0);
}

static void
test_offered(void)
{
	char	 why[160];

	CHECK(grant_policy_offered(DELIVERY_SENT, why, sizeof(why)) == 0);
	CHECK(grant_policy_offered(DELIVERY_DOWNLOADING, why, sizeof(why)) ==
	    0);
	CHECK(grant_policy_offered(DELIVERY_DOWNLOADED, why, sizeof(why)) ==
	    0);
	CHECK(grant_policy_offered(DELIVERY_SCHEDULED, why, sizeof(why)) ==
	    403);
	CHECK(strstr(why, "is scheduled") != NULL);
	CHECK(grant_policy_offered(DELIVERY_AWAITING_CONSENT, why,
	    sizeof(why)) == 403);
	CHECK(grant_policy_offered(DELIVERY_DECLINED, why, sizeof(why)) ==
	    403);
	CHECK(grant_policy_offered(DELIVERY_QUEUED, why, sizeof(why)) == 403);
	CHECK(strcmp(why, "This download is not offered now: the update "
	    "waits for its next attempt.") == 0);
	CHECK(grant_policy_offered(DELIVERY_SUCCEEDED, why, sizeof(why)) ==
	    403);
	CHECK(strcmp(why, "This update already ended (succeeded): the "
	    "download is no longer offered.") == 0);
	CHECK(grant_policy_offered(DELIVERY_ALREADY_CURRENT, why,
	    sizeof(why)) == 403);
	CHECK(strcmp(why, "This update already ended (already-current): the "
	    "download is no longer offered.") == 0);
	CHECK(grant_policy_offered(DELIVERY_FAILED, why, sizeof(why)) == 403);
	CHECK(grant_policy_offered(DELIVERY_INCOMPATIBLE, why, sizeof(why)) ==
	    403);
	CHECK(grant_policy_offered(DELIVERY_CANCELED, why, sizeof(why)) ==
	    403);
	CHECK(strstr(why, "(canceled)") != NULL);
}

static void
test_poll_verdict(void)
{
	struct hdrs	 x;
	struct firmware	 fw = image("esp8266", "1.2", "", 1000);
	char		 why[200];

	CHECK(grant_policy_poll_verdict(hdrs(&x, "user-agent",
	    "ESP8266-http-Update", NULL), &fw, 1, 3, why, sizeof(why)) ==
	    DELIVERY_UNVERIFIED);
	CHECK(strcmp(why, "unverified: the updater reports no version or "
	    "sketch hash; the image was downloaded completely") == 0);
	CHECK(grant_policy_poll_verdict(hdrs(&x, "x-esp8266-version", "1.1",
	    NULL), &fw, 1, 3, why, sizeof(why)) == DELIVERY_RETRY);
	CHECK(strcmp(why, "still on the old image after downloading (by its "
	    "version); attempt 1 of 3") == 0);
	CHECK(grant_policy_poll_verdict(hdrs(&x, "x-esp8266-sketch-md5",
	    "ffffffffffffffffffffffffffffffff", NULL), &fw, 3, 3, why,
	    sizeof(why)) == DELIVERY_GIVE_UP);
	CHECK(strcmp(why, "still on the old image after downloading (by its "
	    "sketch hash); attempt 3 of 3, giving up") == 0);
	CHECK(grant_policy_poll_verdict(hdrs(&x, "x-esp32-version", "1.2",
	    NULL), &fw, 2, 3, why, sizeof(why)) == DELIVERY_VERIFIED);
}

static void
test_updater(void)
{
	struct hdrs		 x;
	struct device		 dev = { .fw_version = "1.0",
	    .lib_version = "ESP8266-http-Update 2.2.2" };
	struct grant_updater	 u;

	grant_policy_updater(hdrs(&x, "user-agent", "ESP8266-http-Update",
	    "x-esp8266-sdk-version", "2.2.2", "x-esp8266-version", "1.0",
	    NULL), &dev, &u);
	CHECK(strcmp(u.lib, "ESP8266-http-Update 2.2.2") == 0);
	CHECK(strcmp(u.version, "1.0") == 0);
	CHECK(!u.changed);
	grant_policy_updater(hdrs(&x, "user-agent", "ESP8266-http-Update",
	    "x-esp8266-sdk-version", "2.2.2", "x-esp8266-version", "1.1",
	    "x-esp8266-sketch-md5", MD5, NULL), &dev, &u);
	CHECK(u.changed);
	CHECK(strcmp(u.text, "updater poll: version 1.1, sketch " MD5 ", chip "
	    "esp8266, ESP8266-http-Update 2.2.2") == 0);
	/* no version header: the device's stays; HTTPUpdate's headers */
	grant_policy_updater(hdrs(&x, "user-agent", "ESP32-http-Update",
	    "x-esp32-sdk-version", "v4.4", "x-esp32-sketch-sha256", SHA, NULL),
	    &dev, &u);
	CHECK(strcmp(u.version, "1.0") == 0);
	CHECK(strcmp(u.lib, "ESP32-http-Update v4.4") == 0);
	CHECK(u.changed);
	CHECK(strcmp(u.text, "updater poll: version 1.0, sketch " SHA ", chip "
	    "esp32, ESP32-http-Update v4.4") == 0);
	/* nothing said at all */
	dev.fw_version = "";
	grant_policy_updater(hdrs(&x, NULL), &dev, &u);
	CHECK(strcmp(u.lib, "") == 0);
	CHECK(u.changed);		/* the device's lib was set */
	CHECK(strcmp(u.text, "updater poll: version -, sketch -, chip -, -") ==
	    0);
	dev.lib_version = "";
	grant_policy_updater(hdrs(&x, NULL), &dev, &u);
	CHECK(!u.changed);
	/* an SDK version without a user-agent */
	grant_policy_updater(hdrs(&x, "x-esp8266-sdk-version", "3.0", NULL),
	    &dev, &u);
	CHECK(strcmp(u.lib, " 3.0") == 0);
}

static void
test_count(void)
{
	struct grant_counters n = { 0, 0, 0 };

	grant_policy_count(&n, 0, CTL_PROGRESS_STARTED, 0);
	CHECK(n.downloads == 1 && n.in_flight == 1 && n.bytes_served == 0);
	grant_policy_count(&n, 0, CTL_PROGRESS_RUNNING, 400);
	CHECK(n.bytes_served == 400 && n.in_flight == 1);
	grant_policy_count(&n, 400, CTL_PROGRESS_COMPLETE, 1000);
	CHECK(n.bytes_served == 1000 && n.in_flight == 0 && n.downloads == 1);
	/* a second download starts from 0: its bytes count whole */
	grant_policy_count(&n, 1000, CTL_PROGRESS_STARTED, 0);
	grant_policy_count(&n, 1000, CTL_PROGRESS_RUNNING, 300);
	CHECK(n.downloads == 2 && n.bytes_served == 1300);
	grant_policy_count(&n, 300, CTL_PROGRESS_ABORTED, 300);
	CHECK(n.in_flight == 0 && n.bytes_served == 1300);
	/* never below zero (admind restarted mid-download) */
	grant_policy_count(&n, 0, CTL_PROGRESS_COMPLETE, 0);
	CHECK(n.in_flight == 0);
}

static void
test_steps(void)
{
	unsigned	 first;

	CHECK(grant_policy_progress_applies(DELIVERY_SENT));
	CHECK(grant_policy_progress_applies(DELIVERY_DOWNLOADING));
	CHECK(grant_policy_progress_applies(DELIVERY_DOWNLOADED));
	CHECK(!grant_policy_progress_applies(DELIVERY_QUEUED));
	CHECK(!grant_policy_progress_applies(DELIVERY_SCHEDULED));
	CHECK(!grant_policy_progress_applies(DELIVERY_AWAITING_CONSENT));
	CHECK(!grant_policy_progress_applies(DELIVERY_DECLINED));
	CHECK(!grant_policy_progress_applies(DELIVERY_SUCCEEDED));
	CHECK(!grant_policy_progress_applies(DELIVERY_CANCELED));
	/* several steps at once */
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 0, 350, 1000, &first) ==
	    3 && first == 1);
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 350, 399, 1000,
	    &first) == 0);
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 350, 400, 1000,
	    &first) == 1 && first == 4);
	/* complete at once: 10 to 90 %, 100 % is the downloaded event */
	CHECK(grant_policy_steps(CTL_PROGRESS_COMPLETE, 0, 1000, 1000,
	    &first) == 9 && first == 1);
	CHECK(grant_policy_steps(CTL_PROGRESS_COMPLETE, 850, 1000, 1000,
	    &first) == 1 && first == 9);
	CHECK(grant_policy_steps(CTL_PROGRESS_COMPLETE, 950, 1000, 1000,
	    &first) == 0);
	/* no steps for the other reports, nothing to divide, no growth */
	CHECK(grant_policy_steps(CTL_PROGRESS_STARTED, 0, 500, 1000,
	    &first) == 0);
	CHECK(grant_policy_steps(CTL_PROGRESS_ABORTED, 0, 500, 1000,
	    &first) == 0);
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 0, 500, 0, &first) ==
	    0);
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 600, 500, 1000,
	    &first) == 0);
	/* bytes past the announced total */
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 500, 5000, 1000,
	    &first) == 4 && first == 6);
	CHECK(grant_policy_steps(CTL_PROGRESS_RUNNING, 2000, 5000, 1000,
	    &first) == 0);
}

static void
test_step_json(void)
{
	struct delivery	 d = { .id = 5, .job_id = 2, .device_id = 9,
	    .attempts = 1 };
	char		 out[256];

	grant_policy_step_json(&d, 350, 1000, 30, out, sizeof(out));
	CHECK(strcmp(out, "{\"delivery_id\":5,\"device_id\":9,\"job_id\":2,"
	    "\"from\":\"downloading\",\"state\":\"downloading\",\"attempts\":1,"
	    "\"bytes_sent\":350,\"total\":1000,\"percent\":30,\"error\":\"\"}") ==
	    0);
}

static void
test_progress_event(void)
{
	char	 why[128] = "x";

	CHECK(grant_policy_progress_event(CTL_PROGRESS_STARTED, 0, 1000, why,
	    sizeof(why)) == DELIVERY_STARTED && *why == '\0');
	CHECK(grant_policy_progress_event(CTL_PROGRESS_RUNNING, 10, 1000, why,
	    sizeof(why)) == DELIVERY_NEVENTS);
	CHECK(grant_policy_progress_event(CTL_PROGRESS_COMPLETE, 1000, 1000,
	    why, sizeof(why)) == DELIVERY_COMPLETE && *why == '\0');
	CHECK(grant_policy_progress_event(CTL_PROGRESS_ABORTED, 300, 1000, why,
	    sizeof(why)) == DELIVERY_ABORTED);
	CHECK(strcmp(why, "the download stopped after 300 of 1000 bytes") ==
	    0);
}

int
main(void)
{
	test_headers();
	test_family();
	test_match();
	test_refusal();
	test_current();
	test_other_device();
	test_offered();
	test_poll_verdict();
	test_updater();
	test_count();
	test_steps();
	test_step_json();
	test_progress_event();
	return check_exit("test_grant");
}
