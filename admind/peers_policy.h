/* SPDX-License-Identifier: MIT */
/*
 * The decisions of admind's control-socket side (peers.c) as pure
 * functions: what a device's Blynk hardware info says (PROTOCOL.md 1.4)
 * and whether a peer's uid can vouch for its role.  No env, no store:
 * peers.c gathers the facts and acts, tests/test_peers.c checks them.
 */
#ifndef OTAD_PEERS_POLICY_H
#define OTAD_PEERS_POLICY_H

#include <sys/types.h>

#include <stdint.h>

/* A device's hardware info as admind stores it; "" or 0 for what the
 * device does not say. */
struct peers_hw_info {
	const char	*fw_version;	/* mcu, else fw, else ver (0.5.x) */
	const char	*build;
	const char	*fw_type;
	const char	*board;		/* dev */
	const char	*lib_version;	/* blynk, else ver */
	int		 buff_in;
	int		 h_beat;
};

/* The key/value pairs of a CTL_INFO message into info (pointing into
 * values). */
void	 peers_policy_info(char *const *keys, char *const *values,
	    uint32_t n, struct peers_hw_info *);

/* The uids of the package's users; has_*: the user exists. */
struct peers_users {
	uid_t	 me;		/* admind's effective uid */
	int	 has_admin, has_hwd, has_fw;
	uid_t	 admin, hwd, fw;
};

/* The daemons run as the package's users (admind as root or otad-admin,
 * otad-hwd and otad-fw distinct and not admind's), so a peer's uid tells
 * its role: 1, else 0. */
int	 peers_policy_uids_checked(const struct peers_users *);

#endif
