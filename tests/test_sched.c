/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of admind's scheduler decisions (admind/sched_policy.c): what
 * a queued delivery of a device that logged in gets (current, incompatible,
 * sent, waiting for a slot), what a device back during a delivery gets,
 * attempts against the limit, the sent_timeout boundary and hwd's report
 * on a command; and the same decisions fed from report_compare as sched.c
 * feeds them.
 */
#include <string.h>

#include "check.h"
#include "sched_policy.h"

static void
test_slot(void)
{
	CHECK(sched_policy_has_slot(0, 1));
	CHECK(!sched_policy_has_slot(1, 1));	/* limit reached exactly */
	CHECK(sched_policy_has_slot(9, 10));
	CHECK(!sched_policy_has_slot(10, 10));
	CHECK(!sched_policy_has_slot(11, 10));	/* over, after a pause */
	CHECK(!sched_policy_has_slot(0, 0));
}

static void
test_queued(void)
{
	static const enum report_match other[] = { REPORT_OTHER,
	    REPORT_UNKNOWN };

	/* the device runs the image: current, whatever else holds */
	for (int force = 0; force < 2; force++)
		for (int mis = 0; mis < 2; mis++)
			for (int slot = 0; slot < 2; slot++)
				CHECK(sched_policy_queued(REPORT_SAME, force,
				    mis, slot) == SCHED_CURRENT);
	for (size_t i = 0; i < 2; i++) {
		enum report_match m = other[i];

		CHECK(sched_policy_queued(m, 0, 1, 1) == SCHED_INCOMPATIBLE);
		CHECK(sched_policy_queued(m, 0, 1, 0) == SCHED_INCOMPATIBLE);
		/* force sends a misfit image anyway */
		CHECK(sched_policy_queued(m, 1, 1, 1) == SCHED_SEND);
		CHECK(sched_policy_queued(m, 1, 1, 0) == SCHED_WAIT);
		CHECK(sched_policy_queued(m, 0, 0, 1) == SCHED_SEND);
		CHECK(sched_policy_queued(m, 0, 0, 0) == SCHED_WAIT);
	}
}

/* Issue 16: the window and start_at come before consent, consent before
 * the slot. */
static void
test_hold(void)
{
	for (int c = JOB_CONFIRM_NONE; c <= JOB_CONFIRM_ADMIN; c++)
		for (int ok = 0; ok < 2; ok++)
			CHECK(sched_policy_hold(0, c, ok) == SCHED_SCHEDULE);
	CHECK(sched_policy_hold(1, JOB_CONFIRM_NONE, 0) == SCHED_SEND);
	CHECK(sched_policy_hold(1, JOB_CONFIRM_DEVICE, 0) == SCHED_ASK);
	CHECK(sched_policy_hold(1, JOB_CONFIRM_ADMIN, 0) == SCHED_ASK);
	CHECK(sched_policy_hold(1, JOB_CONFIRM_DEVICE, 1) == SCHED_SEND);
	CHECK(sched_policy_hold(1, JOB_CONFIRM_ADMIN, 1) == SCHED_SEND);
}

static void
test_mismatch(void)
{
	struct device	 dev = { .fw_type = "", .board = "" };
	struct firmware	 fw = { .fw_type = "", .board = "" };
	char		 why[256];

	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == NULL);
	fw.fw_type = "TMPL1";
	fw.board = "ESP32";
	/* the device names neither: nothing to compare, it fits */
	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == NULL);
	dev.fw_type = "TMPL1";
	dev.board = "ESP32";
	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == NULL);
	dev.board = "ESP8266";
	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == why);
	CHECK(strcmp(why, "the image is for board ESP32, the device is "
	    "ESP8266 (use force to send it anyway)") == 0);
	/* fw-type is told before board */
	dev.fw_type = "TMPL2";
	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == why);
	CHECK(strcmp(why, "the image is for fw-type TMPL1, the device "
	    "reports TMPL2 (use force to send it anyway)") == 0);
	/* the image names neither */
	fw.fw_type = "";
	fw.board = "";
	CHECK(sched_policy_mismatch(&dev, &fw, why, sizeof(why)) == NULL);
	/* a short buffer is cut, still a mismatch */
	fw.board = "ESP32";
	CHECK(sched_policy_mismatch(&dev, &fw, why, 8) == why &&
	    strlen(why) == 7);
}

static void
test_back(void)
{
	static const enum report_match ms[] = { REPORT_SAME, REPORT_OTHER,
	    REPORT_UNKNOWN };

	for (size_t i = 0; i < 3; i++) {
		enum report_match m = ms[i];
		int same = m == REPORT_SAME;

		/* it reports the image: verified, even on a resync */
		CHECK(sched_policy_back(DELIVERY_SENT, m, 0) ==
		    (same ? SCHED_VERIFIED : SCHED_RESEND));
		CHECK(sched_policy_back(DELIVERY_DOWNLOADING, m, 0) ==
		    (same ? SCHED_VERIFIED : SCHED_AWAIT));
		CHECK(sched_policy_back(DELIVERY_SENT, m, 1) ==
		    (same ? SCHED_VERIFIED : SCHED_HOLD));
		CHECK(sched_policy_back(DELIVERY_DOWNLOADING, m, 1) ==
		    (same ? SCHED_VERIFIED : SCHED_HOLD));
		/* downloaded: the report decides (report_verdict), except
		 * after a resync */
		CHECK(sched_policy_back(DELIVERY_DOWNLOADED, m, 0) ==
		    SCHED_VERIFY);
		CHECK(sched_policy_back(DELIVERY_DOWNLOADED, m, 1) ==
		    SCHED_HOLD);
	}
}

static void
test_failed(void)
{
	CHECK(sched_policy_failed(1, 3) == DELIVERY_RETRY);
	CHECK(sched_policy_failed(2, 3) == DELIVERY_RETRY);
	CHECK(sched_policy_failed(3, 3) == DELIVERY_GIVE_UP); /* exactly */
	CHECK(sched_policy_failed(4, 3) == DELIVERY_GIVE_UP);
	CHECK(sched_policy_failed(1, 1) == DELIVERY_GIVE_UP);
	CHECK(sched_policy_failed(0, 1) == DELIVERY_RETRY);
}

static void
test_expired(void)
{
	CHECK(!sched_policy_expired(1000, 1000, 300));
	CHECK(!sched_policy_expired(300999, 1000, 300));
	CHECK(sched_policy_expired(301000, 1000, 300)); /* the boundary */
	CHECK(sched_policy_expired(301001, 1000, 300));
	CHECK(sched_policy_expired(5, 5, 0));
	/* no overflow for a large timeout */
	CHECK(!sched_policy_expired(4000000000ULL, 0, 4000001));
	CHECK(sched_policy_expired(4000000000ULL, 0, 4000000));
	/* moved by another node within sent_timeout: not due; a second of
	 * slack for this node's own */
	CHECK(sched_policy_moved_lately(1000, 999, 300));
	CHECK(sched_policy_moved_lately(1000, 702, 300));
	CHECK(!sched_policy_moved_lately(1000, 701, 300));
	CHECK(!sched_policy_moved_lately(1000, 700, 300));
	CHECK(!sched_policy_moved_lately(1000, 1000, 1));
	CHECK(!sched_policy_moved_lately(1000, 1000, 0));
	CHECK(sched_policy_moved_lately(1000, 1005, 3));	/* its clock ahead */
	CHECK(sched_policy_sweep_every(300) == 75000);
	CHECK(sched_policy_sweep_every(1) == 250);
	CHECK(sched_policy_sweep_every(0) == 250);
	CHECK(sched_policy_sweep_every(2) == 500);
}

static void
test_ota_sent(void)
{
	CHECK(sched_policy_ota_sent(1, "") == DELIVERY_NEVENTS);
	CHECK(sched_policy_ota_sent(2, "device offline") == DELIVERY_NEVENTS);
	CHECK(sched_policy_ota_sent(0, "") == DELIVERY_NEVENTS);
	CHECK(sched_policy_ota_sent(0, "device offline") == DELIVERY_UNSENT);
	CHECK(sched_policy_ota_sent(0, "device offline ") ==
	    DELIVERY_GIVE_UP);
	CHECK(sched_policy_ota_sent(0, "OTA command too large for the "
	    "device: 300 bytes, buff-in 256") == DELIVERY_GIVE_UP);
}

/* A device logs in with a report; the queued delivery's verdict as
 * sched.c reaches it. */
static enum sched_action
login(const char *version, const char *build, int force, int mismatch,
    int64_t busy, int max_parallel)
{
	struct image_facts	 fw = { "1.2.0", "Jan  1 2026 10:00:00",
				    "0123456789abcdef0123456789abcdef", "" };
	struct device_report	 rep = { version, build, NULL };
	const char		*by;
	enum report_match	 m = report_compare(&fw, &rep, &by);

	return sched_policy_queued(m, force, mismatch,
	    sched_policy_has_slot(busy, max_parallel));
}

static void
test_login(void)
{
	CHECK(login("1.2.0", "Jan  1 2026 10:00:00", 0, 0, 0, 1) ==
	    SCHED_CURRENT);
	CHECK(login("1.2.0", NULL, 0, 0, 0, 1) == SCHED_CURRENT);
	/* same version, other build: the build decides */
	CHECK(login("1.2.0", "Feb  2 2026 10:00:00", 0, 0, 0, 1) ==
	    SCHED_SEND);
	CHECK(login("1.1.0", NULL, 0, 0, 0, 1) == SCHED_SEND);
	/* a device that says nothing gets the image */
	CHECK(login(NULL, NULL, 0, 0, 0, 1) == SCHED_SEND);
	CHECK(login("", "", 0, 0, 1, 1) == SCHED_WAIT);
	CHECK(login(NULL, NULL, 0, 1, 0, 1) == SCHED_INCOMPATIBLE);
	CHECK(login(NULL, NULL, 1, 1, 0, 1) == SCHED_SEND);
	CHECK(login("1.2.0", NULL, 0, 1, 5, 1) == SCHED_CURRENT);
}

int
main(void)
{
	test_slot();
	test_queued();
	test_hold();
	test_mismatch();
	test_back();
	test_failed();
	test_expired();
	test_ota_sent();
	test_login();
	return check_exit("test_sched");
}
