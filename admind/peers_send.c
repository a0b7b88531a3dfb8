/* SPDX-License-Identifier: MIT */
/*
 * What admind tells hwd over the control socket: the OTA command of a
 * delivery that was sent (delivery.c, after its transition committed),
 * the drop of a deleted device's or a rotated token's connections, and the
 * question whether a device consents to its update (consent.c).  It
 * sits below the rest of admind and calls nothing of it.
 */
#include <inttypes.h>
#include <stdio.h>

#include "admind.h"
#include "log.h"

int
peers_send_ota(int64_t device_id, int64_t delivery_id, const char *ticket)
{
	char		 path[80];
	struct ctl_msg_ota_send m = { (uint64_t)device_id,
	    (uint64_t)delivery_id, path };

	if (env->hwd == NULL)
		return -1;
	snprintf(path, sizeof(path), "/ota/%s", ticket);
	return ctl_send_ota_send(env->hwd, 0, &m);
}

/* Closes the device's connections in hwd (deleted: forget, or its token
 * rotated).  Without hwd there is nothing to close: a resync names the
 * devices hwd still holds, and peers_online() drops deleted ones then. */
void
peers_send_drop(int64_t device_id, int forget, const char *why)
{
	struct ctl_msg_device_drop m = { (uint64_t)device_id, forget ? 1 : 0,
	    (char *)why };

	if (env->hwd == NULL)
		return;
	/* a failed send has closed hwd's connection: its resync follows */
	if (ctl_send_device_drop(env->hwd, 0, &m) == -1)
		log_warnx("device %" PRId64 ": not dropped in hwd: the control "
		    "connection failed", device_id);
}

/* The consent pin's "pending" write to the device's connections: 0 sent
 * (hwd writes it when the device is connected), -1 not. */
int
peers_send_consent(int64_t device_id, unsigned pin, const char *version,
    uint64_t size, int64_t job_id)
{
	struct ctl_msg_consent_ask m = { (uint64_t)device_id, (uint8_t)pin,
	    (char *)version, size, (uint64_t)job_id };

	if (env->hwd == NULL)
		return -1;
	return ctl_send_consent_ask(env->hwd, 0, &m);
}
