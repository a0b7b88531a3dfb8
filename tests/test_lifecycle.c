/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of admind/lifecycle.c: every delivery and job transition
 * allowed and every one refused, the state names both ways, and every row
 * of the verification table (what each kind of client can report).
 */
#include <string.h>

#include "check.h"
#include "lifecycle.h"

#define Q	DELIVERY_QUEUED
#define SC	DELIVERY_SCHEDULED
#define AC	DELIVERY_AWAITING_CONSENT
#define S	DELIVERY_SENT
#define DL	DELIVERY_DOWNLOADING
#define DD	DELIVERY_DOWNLOADED
#define OK	DELIVERY_SUCCEEDED
#define CU	DELIVERY_ALREADY_CURRENT
#define IN	DELIVERY_INCOMPATIBLE
#define CA	DELIVERY_CANCELED
#define DE	DELIVERY_DECLINED
#define NO	DELIVERY_NSTATES	/* refused */
#define NONE	{ NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, \
		  NO, NO, NO, NO, NO, NO }

/* want[from][event]: the target state, or NO. */
static const enum delivery_state want[DELIVERY_NSTATES][DELIVERY_NEVENTS] = {
	/* send unsent started aborted complete verified unverified retry
	 * give-up current incompatible cancel
	 * wait open ask accept defer decline */
	[DELIVERY_QUEUED] = { S, NO, NO, NO, NO, NO, NO, NO, NO, CU, IN, CA,
	    SC, NO, AC, NO, NO, DE },
	[DELIVERY_SCHEDULED] = { NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
	    CA, NO, Q, NO, NO, NO, DE },
	[DELIVERY_AWAITING_CONSENT] = { NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
	    NO, CA, NO, NO, NO, Q, AC, DE },
	[DELIVERY_SENT] = { NO, Q, DL, NO, DD, OK, NO, Q, DELIVERY_FAILED,
	    CU, IN, CA, NO, NO, NO, NO, NO, NO },
	[DELIVERY_DOWNLOADING] = { NO, NO, NO, S, DD, OK, NO, Q,
	    DELIVERY_FAILED, CU, IN, CA, NO, NO, NO, NO, NO, NO },
	[DELIVERY_DOWNLOADED] = { NO, NO, NO, NO, NO, OK, OK, Q,
	    DELIVERY_FAILED, NO, IN, CA, NO, NO, NO, NO, NO, NO },
	[DELIVERY_SUCCEEDED] = NONE,
	[DELIVERY_FAILED] = NONE,
	[DELIVERY_ALREADY_CURRENT] = NONE,
	[DELIVERY_INCOMPATIBLE] = NONE,
	[DELIVERY_CANCELED] = NONE,
	[DELIVERY_DECLINED] = NONE,
};

static void
test_delivery_table(void)
{
	enum delivery_state to;

	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		for (int e = 0; e < DELIVERY_NEVENTS; e++) {
			int rc = delivery_next(s, e, &to);

			if (want[s][e] == NO)
				CHECK(rc == -1);
			else
				CHECK(rc == 0 && to == want[s][e]);
			if ((want[s][e] == NO) != (rc == -1))
				fprintf(stderr, "  %s + %s\n",
				    delivery_state_name(s),
				    delivery_event_name(e));
		}
	}
}

static void
test_delivery_states(void)
{
	static const char *const names[] = { "queued", "scheduled",
	    "awaiting-consent", "sent", "downloading", "downloaded",
	    "succeeded", "failed", "already-current", "incompatible",
	    "canceled", "declined" };
	enum delivery_state s;

	CHECK(sizeof(names) / sizeof(names[0]) == DELIVERY_NSTATES);
	for (int i = 0; i < DELIVERY_NSTATES; i++) {
		CHECK(strcmp(delivery_state_name(i), names[i]) == 0);
		CHECK(delivery_state_parse(names[i], &s) == 0 && (int)s == i);
		/* ended: no event leaves it; the six terminal states */
		CHECK(delivery_state_ended(i) == (i >= DELIVERY_SUCCEEDED));
		CHECK(delivery_state_in_flight(i) == (i == S || i == DL));
	}
	CHECK(delivery_state_parse("Queued", &s) == -1);
	CHECK(delivery_state_parse("", &s) == -1);
	CHECK(delivery_state_parse(NULL, &s) == -1);
	CHECK(strcmp(delivery_state_name(DELIVERY_NSTATES), "(invalid)") == 0);
}

static void
test_job_table(void)
{
	enum job_state	 to, s;

	CHECK(job_next(JOB_ACTIVE, JOB_PAUSE, &to) == 0 && to == JOB_PAUSED);
	CHECK(job_next(JOB_ACTIVE, JOB_STOP, &to) == 0 && to == JOB_STOPPED);
	CHECK(job_next(JOB_ACTIVE, JOB_FINISH, &to) == 0 && to == JOB_FINISHED);
	CHECK(job_next(JOB_ACTIVE, JOB_RESUME, &to) == -1);
	CHECK(job_next(JOB_PAUSED, JOB_RESUME, &to) == 0 && to == JOB_ACTIVE);
	CHECK(job_next(JOB_PAUSED, JOB_STOP, &to) == 0 && to == JOB_STOPPED);
	CHECK(job_next(JOB_PAUSED, JOB_FINISH, &to) == 0 && to == JOB_FINISHED);
	CHECK(job_next(JOB_PAUSED, JOB_PAUSE, &to) == -1);
	for (int e = 0; e < JOB_NEVENTS; e++) {
		CHECK(job_next(JOB_STOPPED, e, &to) == -1);
		CHECK(job_next(JOB_FINISHED, e, &to) == -1);
	}
	CHECK(!job_state_ended(JOB_ACTIVE) && !job_state_ended(JOB_PAUSED));
	CHECK(job_state_ended(JOB_STOPPED) && job_state_ended(JOB_FINISHED));
	CHECK(job_state_parse("finished", &s) == 0 && s == JOB_FINISHED);
	CHECK(job_state_parse("done", &s) == -1);
	CHECK(strcmp(job_state_name(JOB_PAUSED), "paused") == 0);
}

static void
test_job_confirm(void)
{
	enum job_confirm c;

	CHECK(job_confirm_parse("device", &c) == 0 && c == JOB_CONFIRM_DEVICE);
	CHECK(job_confirm_parse("admin", &c) == 0 && c == JOB_CONFIRM_ADMIN);
	CHECK(job_confirm_parse("", &c) == 0 && c == JOB_CONFIRM_NONE);
	CHECK(job_confirm_parse("Device", &c) == -1);
	CHECK(job_confirm_parse(NULL, &c) == -1);
	CHECK(strcmp(job_confirm_name(JOB_CONFIRM_DEVICE), "device") == 0);
	CHECK(strcmp(job_confirm_name(JOB_CONFIRM_NONE), "") == 0);
}

#define MD5	"0123456789abcdef0123456789abcdef"
#define SHA	"00112233445566778899aabbccddeeff" \
		"00112233445566778899aabbccddeeff"
#define BUILD	"Dec 01 2026 12:00:00"
#define OLD	"Nov 23 2026 10:00:00"

struct verify_row {
	struct image_facts	 fw;
	struct device_report	 dev;
	enum report_match	 match;
	const char		*by;
};

/* The table of issue 13 and the README, row by row. */
static const struct verify_row verify_rows[] = {
	/* Arduino 1.x: build known both sides decides */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", BUILD, NULL },
	    REPORT_SAME, "build" },
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", OLD, NULL },
	    REPORT_OTHER, "build" },
	/* build beats version: same version, other build is another image */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", OLD, "" },
	    REPORT_OTHER, "build" },
	/* Python BlynkLib 1.0: version only */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", NULL, NULL },
	    REPORT_SAME, "version" },
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.1.0", "", NULL },
	    REPORT_OTHER, "version" },
	/* blynklib 0.2.6: neither */
	{ { "0.2.0", BUILD, MD5, SHA }, { NULL, NULL, NULL },
	    REPORT_UNKNOWN, "" },
	{ { "0.2.0", BUILD, MD5, SHA }, { "", "", "" },
	    REPORT_UNKNOWN, "" },
	/* an image with nothing to compare */
	{ { "", "", MD5, SHA }, { "0.2.0", BUILD, NULL },
	    REPORT_UNKNOWN, "" },
	/* an image with a version but no build; a device with a build */
	{ { "0.2.0", "", MD5, SHA }, { "0.2.0", BUILD, NULL },
	    REPORT_SAME, "version" },
	{ { "", BUILD, MD5, SHA }, { "0.2.0", NULL, NULL },
	    REPORT_UNKNOWN, "" },
	/* HTTP updaters: the sketch hash decides first, any case */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.1.0", NULL,
	    "0123456789ABCDEF0123456789ABCDEF" }, REPORT_SAME, "sketch hash" },
	/* either the hash or the version equal: it runs the image */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", NULL,
	    "ffffffffffffffffffffffffffffffff" }, REPORT_SAME, "version" },
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.1.0", NULL,
	    "ffffffffffffffffffffffffffffffff" }, REPORT_OTHER, "sketch hash" },
	{ { "0.2.0", BUILD, MD5, SHA }, { NULL, NULL,
	    "ffffffffffffffffffffffffffffffff" }, REPORT_OTHER, "sketch hash" },
	{ { "0.2.0", BUILD, MD5, SHA }, { NULL, NULL, SHA },
	    REPORT_SAME, "sketch hash" },
	/* an updater with a version header only */
	{ { "0.2.0", BUILD, MD5, SHA }, { "0.2.0", NULL, NULL },
	    REPORT_SAME, "version" },
};

static void
test_verify_table(void)
{
	const char	*by;

	for (size_t i = 0; i < sizeof(verify_rows) / sizeof(verify_rows[0]);
	    i++) {
		const struct verify_row *r = &verify_rows[i];
		enum report_match m = report_compare(&r->fw, &r->dev, &by);

		CHECK(m == r->match && strcmp(by, r->by) == 0);
		if (m != r->match || strcmp(by, r->by) != 0)
			fprintf(stderr, "  row %zu: match %d by %s\n", i,
			    (int)m, by);
	}
}

static void
test_verdicts(void)
{
	CHECK(report_verdict(REPORT_SAME, 1, 3) == DELIVERY_VERIFIED);
	CHECK(report_verdict(REPORT_SAME, 3, 3) == DELIVERY_VERIFIED);
	CHECK(report_verdict(REPORT_UNKNOWN, 1, 3) == DELIVERY_UNVERIFIED);
	CHECK(report_verdict(REPORT_UNKNOWN, 3, 3) == DELIVERY_UNVERIFIED);
	CHECK(report_verdict(REPORT_OTHER, 1, 3) == DELIVERY_RETRY);
	CHECK(report_verdict(REPORT_OTHER, 2, 3) == DELIVERY_RETRY);
	CHECK(report_verdict(REPORT_OTHER, 3, 3) == DELIVERY_GIVE_UP);
	CHECK(report_verdict(REPORT_OTHER, 1, 1) == DELIVERY_GIVE_UP);
}

int
main(void)
{
	test_delivery_table();
	test_delivery_states();
	test_job_table();
	test_job_confirm();
	test_verify_table();
	test_verdicts();
	return check_exit("test_lifecycle");
}
