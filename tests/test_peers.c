/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of admind's control-socket decisions (admind/peers_policy.c):
 * a device's hardware info as each Blynk library version sends it (mcu,
 * fw, the 0.5.x ver with blynk, a lone ver), the numbers it may carry,
 * and when a peer's uid can vouch for its role.
 */
#include <string.h>

#include "check.h"
#include "peers_policy.h"

#define N(a)	((uint32_t)(sizeof(a) / sizeof((a)[0])))

static int
info_is(const struct peers_hw_info *i, const char *fw, const char *build,
    const char *type, const char *board, const char *lib)
{
	return strcmp(i->fw_version, fw) == 0 && strcmp(i->build, build) == 0 &&
	    strcmp(i->fw_type, type) == 0 && strcmp(i->board, board) == 0 &&
	    strcmp(i->lib_version, lib) == 0;
}

static void
test_info_current(void)
{
	/* Blynk 1.x / Edgent */
	char	*k[] = { "mcu", "fw-type", "build", "blynk", "h-beat",
	    "buff-in", "dev", "ver" };
	char	*v[] = { "0.2.1", "TMPL123", "Mar  1 2024 10:00:00", "1.3.2",
	    "45", "1024", "ESP32", "ignored" };
	struct peers_hw_info i;

	peers_policy_info(k, v, N(k), &i);
	CHECK(info_is(&i, "0.2.1", "Mar  1 2024 10:00:00", "TMPL123", "ESP32",
	    "1.3.2"));
	CHECK(i.buff_in == 1024 && i.h_beat == 45);
}

static void
test_info_old(void)
{
	char	*k05[] = { "ver", "blynk", "h-beat" };
	char	*v05[] = { "0.5.4", "0.5.4", "10" };
	char	*kver[] = { "ver", "dev" };
	char	*vver[] = { "0.4.10", "Arduino" };
	char	*kfw[] = { "fw", "ver", "blynk" };
	char	*vfw[] = { "2.0", "0.5.4", "0.6.1" };
	struct peers_hw_info i;

	/* 0.5.x: ver is the firmware when blynk names the library */
	peers_policy_info(k05, v05, N(k05), &i);
	CHECK(info_is(&i, "0.5.4", "", "", "", "0.5.4"));
	CHECK(i.h_beat == 10 && i.buff_in == 0);
	/* a lone ver is the library's, no firmware version */
	peers_policy_info(kver, vver, N(kver), &i);
	CHECK(info_is(&i, "", "", "", "Arduino", "0.4.10"));
	/* fw before ver */
	peers_policy_info(kfw, vfw, N(kfw), &i);
	CHECK(info_is(&i, "2.0", "", "", "", "0.6.1"));
	/* nothing at all */
	peers_policy_info(NULL, NULL, 0, &i);
	CHECK(info_is(&i, "", "", "", "", ""));
	CHECK(i.buff_in == 0 && i.h_beat == 0);
}

static void
test_info_numbers(void)
{
	char	*k[] = { "buff-in", "h-beat" };
	char	*big[] = { "1000001", "1000000" };
	char	*bad[] = { "-5", "10s" };
	char	*zero[] = { "0", "" };
	struct peers_hw_info i;

	peers_policy_info(k, big, N(k), &i);
	CHECK(i.buff_in == 0 && i.h_beat == 1000000);
	peers_policy_info(k, bad, N(k), &i);
	CHECK(i.buff_in == 0 && i.h_beat == 0);
	peers_policy_info(k, zero, N(k), &i);
	CHECK(i.buff_in == 0 && i.h_beat == 0);
}

/* Keys are case-sensitive; the first of a repeated one counts. */
static void
test_info_keys(void)
{
	char	*k[] = { "MCU", "mcu", "mcu" };
	char	*v[] = { "9", "1.0", "2.0" };
	struct peers_hw_info i;

	peers_policy_info(k, v, N(k), &i);
	CHECK(strcmp(i.fw_version, "1.0") == 0);
}

static void
test_uids(void)
{
	struct peers_users u = { .me = 0, .has_admin = 1, .has_hwd = 1,
	    .has_fw = 1, .admin = 990, .hwd = 991, .fw = 992 };

	CHECK(peers_policy_uids_checked(&u));		/* admind as root */
	u.me = 990;
	CHECK(peers_policy_uids_checked(&u));		/* as otad-admin */
	u.me = 1000;
	CHECK(!peers_policy_uids_checked(&u));		/* a user's run */
	u.me = 990;
	u.has_admin = 0;
	CHECK(!peers_policy_uids_checked(&u));
	u.me = 0;
	CHECK(peers_policy_uids_checked(&u));		/* root needs none */
	u.has_hwd = 0;
	CHECK(!peers_policy_uids_checked(&u));
	u.has_hwd = 1;
	u.has_fw = 0;
	CHECK(!peers_policy_uids_checked(&u));
	u.has_fw = 1;
	u.fw = u.hwd;					/* one user for both */
	CHECK(!peers_policy_uids_checked(&u));
	u.fw = 992;
	u.hwd = 0;					/* hwd is admind's */
	CHECK(!peers_policy_uids_checked(&u));
	u.hwd = 991;
	u.fw = 0;
	CHECK(!peers_policy_uids_checked(&u));
}

int
main(void)
{
	test_info_current();
	test_info_old();
	test_info_numbers();
	test_info_keys();
	test_uids();
	return check_exit("test_peers");
}
