/* SPDX-License-Identifier: MIT */
/*
 * What admind tells hwd over the control socket: the OTA command of a
 * delivery that was sent (delivery.c, after its transition committed),
 * the drop of a deleted device's or a rotated token's connections, and the
 * question whether a device consents to its update (consent.c), each to
 * the hwd workers that hold the device (online.c).  It sits below the rest
 * of admind and calls nothing of it but the online table.
 */
#include <inttypes.h>
#include <stdio.h>

#include "admind.h"
#include "log.h"

/* Any connected hwd worker, else NULL. */
static struct ctl_conn *
peers_send_any(void)
{
	for (unsigned i = 0; i < WORKERS_MAX; i++)
		if (env->hwd[i].conn != NULL)
			return env->hwd[i].conn;
	return NULL;
}

/* What was queued for the hwd workers goes now (sched.c, between the
 * parts of a long batch), not when the loop next waits. */
void
peers_send_flush(void)
{
	for (unsigned i = 0; i < WORKERS_MAX; i++)
		if (env->hwd[i].conn != NULL)
			ctl_conn_flush(env->hwd[i].conn);
}

/* msg of type to every connected hwd worker holding a connection of the
 * device but except (WORKERS_MAX: none): how many took it. */
static unsigned
peers_send_holding(int64_t device_id, unsigned except, uint16_t type,
    const void *msg)
{
	struct ctl_conn	*to[WORKERS_MAX];
	unsigned	 n, sent = 0;

	n = online_workers(online_get(device_id), except, to);
	for (unsigned i = 0; i < n; i++)
		sent += ctl_send_msg(to[i], type, 0, msg) == 0;
	return sent;
}

/*
 * The OTA command to every hwd worker holding a connection of the device
 * (each writes it to its connections and reports; peers.c weighs the
 * reports); to any worker when none does, which answers that the device
 * is offline.  -1 when no worker is connected.
 */
int
peers_send_ota(int64_t device_id, int64_t delivery_id, const char *ticket)
{
	char		 path[80];
	struct ctl_msg_ota_send m = { (uint64_t)device_id,
	    (uint64_t)delivery_id, path };
	struct ctl_conn	*any;

	snprintf(path, sizeof(path), "/ota/%s", ticket);
	if (peers_send_holding(device_id, WORKERS_MAX, CTL_OTA_SEND, &m) > 0)
		return 0;
	if ((any = peers_send_any()) == NULL)
		return -1;
	return ctl_send_ota_send(any, 0, &m);
}

/* Closes the device's connections in every hwd worker (deleted: forget,
 * or its token rotated): a login may be under way on any of them.  Without
 * hwd there is nothing to close: a resync names the devices a worker still
 * holds, and peers_online() drops deleted ones then. */
void
peers_send_drop(int64_t device_id, int forget, const char *why)
{
	struct ctl_msg_device_drop m = { (uint64_t)device_id, forget ? 1 : 0,
	    (char *)why };

	for (unsigned i = 0; i < WORKERS_MAX; i++) {
		if (env->hwd[i].conn == NULL)
			continue;
		/* a failed send has closed the connection: a resync follows */
		if (ctl_send_device_drop(env->hwd[i].conn, 0, &m) == -1)
			log_warnx("device %" PRId64 ": not dropped in hwd "
			    "worker %u: the control connection failed",
			    device_id, env->hwd[i].conn->worker);
	}
}

/* The consent pin's "pending" write to the device's connections, on every
 * worker that holds one: 0 sent, -1 not (offline). */
int
peers_send_consent(int64_t device_id, unsigned pin, const char *version,
    uint64_t size, int64_t job_id)
{
	struct ctl_msg_consent_ask m = { (uint64_t)device_id, (uint8_t)pin,
	    (char *)version, size, (uint64_t)job_id };

	return peers_send_holding(device_id, WORKERS_MAX, CTL_CONSENT_ASK,
	    &m) > 0 ? 0 : -1;
}

/* A bridge write from a device on hwd worker except to the other
 * workers holding device_id: how many it went to. */
unsigned
peers_send_device_write(int64_t device_id, uint16_t msg_id,
    const struct ctl_bytes *body, unsigned except)
{
	struct ctl_msg_device_write m = { (uint64_t)device_id, msg_id, *body };

	return peers_send_holding(device_id, except, CTL_DEVICE_WRITE, &m);
}

/* Pin values a worker handed over at the device's logout to the other
 * workers that hold it already (its next login was heard first). */
void
peers_send_pins(int64_t device_id, const struct ctl_bytes *pins,
    unsigned except)
{
	struct ctl_msg_pins_keep m = { (uint64_t)device_id, *pins };

	(void)peers_send_holding(device_id, except, CTL_PINS_KEEP, &m);
}
