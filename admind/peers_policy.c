/* SPDX-License-Identifier: MIT */
/*
 * The decisions of admind's control-socket side, pure (see
 * peers_policy.h): reading a device's hardware info by key, with the
 * Blynk 0.5.x rule for "ver", and whether the peers' uids can be checked.
 * Linked into admindcore so that tests/test_peers.c checks them without a
 * daemon.
 */
#include <string.h>

#include "peers_policy.h"
#include "util.h"

#define PEERS_INT_MAX	1000000

static const char *
peers_policy_pair(char *const *keys, char *const *values, uint32_t n,
    const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return values[i];
	return NULL;
}

/* A positive decimal value of the info, else 0. */
static int
peers_policy_int(char *const *k, char *const *v, uint32_t n,
    const char *key)
{
	const char	*s = peers_policy_pair(k, v, n, key);
	uint64_t	 x;

	if (s == NULL || util_parse_u64(s, &x) == -1 || x > PEERS_INT_MAX)
		return 0;
	return (int)x;
}

/* PROTOCOL.md 1.4: parse by key; the firmware version is mcu, else fw,
 * else ver when blynk names the library (0.5.x); the library version is
 * blynk, else ver. */
void
peers_policy_info(char *const *k, char *const *v, uint32_t n,
    struct peers_hw_info *info)
{
	const char *fw = peers_policy_pair(k, v, n, "mcu");
	const char *lib = peers_policy_pair(k, v, n, "blynk");
	const char *ver = peers_policy_pair(k, v, n, "ver");
	const char *build = peers_policy_pair(k, v, n, "build");
	const char *type = peers_policy_pair(k, v, n, "fw-type");
	const char *board = peers_policy_pair(k, v, n, "dev");

	if (fw == NULL)
		fw = peers_policy_pair(k, v, n, "fw");
	if (fw == NULL && lib != NULL)
		fw = ver;
	if (lib == NULL)
		lib = ver;
	info->fw_version = fw ? fw : "";
	info->build = build ? build : "";
	info->fw_type = type ? type : "";
	info->board = board ? board : "";
	info->lib_version = lib ? lib : "";
	info->buff_in = peers_policy_int(k, v, n, "buff-in");
	info->h_beat = peers_policy_int(k, v, n, "h-beat");
}

int
peers_policy_uids_checked(const struct peers_users *u)
{
	if (!u->has_hwd || !u->has_fw || u->hwd == u->fw ||
	    u->hwd == u->me || u->fw == u->me)
		return 0;
	return u->me == 0 || (u->has_admin && u->admin == u->me);
}
