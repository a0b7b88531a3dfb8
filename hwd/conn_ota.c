/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd: the OTA command (PROTOCOL.md 1.6) to one device connection,
 * as admind asks for it: the URL the device downloads from (policy.c
 * builds it from public_url or the address the device connected to) with
 * the delivery's ticket path, in one frame that fits the device's buff-in;
 * and, before it, the consent pin's write that tells a sketch an update
 * is pending (an update that waits for the device's consent).
 */
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hwd.h"
#include "log.h"
#include "proto.h"

static uint16_t	 hwd_next_msg_id;

static uint16_t
hwd_conn_msg_id(void)
{
	if (++hwd_next_msg_id == 0)
		hwd_next_msg_id = 1;
	return hwd_next_msg_id;
}

/* public_url, else http://<address the device connected to>:<port>. */
static int
hwd_conn_ota_base(struct hwd_conn *c, struct buf *url)
{
	struct sockaddr_storage ss;
	const struct sockaddr	*local = (struct sockaddr *)&ss;

	if (stream_local_addr(&c->stream, &ss) == -1)
		local = NULL;
	return hwd_policy_ota_base(url, hwd_env.cfg.fwstore.public_url, local,
	    cfg_fwstore_port(&hwd_env.cfg));
}

int
hwd_conn_ota(struct hwd_conn *c, uint64_t delivery_id, const char *path,
    char *err, size_t errlen)
{
	struct buf	 url = BUF_INIT, frame = BUF_INIT;
	size_t		 baselen;
	int		 rc;

	rc = hwd_conn_ota_base(c, &url);
	baselen = url.len;
	if (rc == -1 || buf_adds(&url, path) == -1 || buf_cstr(&url) == NULL) {
		snprintf(err, errlen, "out of memory");
		buf_free(&url);
		return -1;
	}
	rc = hwd_proto_ota(&frame, hwd_conn_msg_id(), url.data, c->buff_in);
	if (rc == HWD_PROTO_ETOOBIG)
		snprintf(err, errlen, "OTA command too large for the device: "
		    "%zu bytes, buff-in %u", hwd_proto_ota_body_len(url.data),
		    c->buff_in);
	else if (rc == -1)
		snprintf(err, errlen, "out of memory");
	else if ((rc = hwd_conn_send(c, frame.data, frame.len)) == -1)
		snprintf(err, errlen, "device connection failed");
	/* the path holds the download ticket: log the host only */
	url.data[baselen] = '\0';
	if (rc == 0)
		hwd_conn_log(c, LOG_INFO, "OTA command for delivery %llu sent "
		    "(download from %s)", (unsigned long long)delivery_id,
		    url.data);
	else
		hwd_conn_log(c, LOG_WARNING, "OTA command for delivery %llu "
		    "not sent: %s", (unsigned long long)delivery_id, err);
	buf_free(&url);
	buf_free(&frame);
	return rc == 0 ? 0 : -1;
}

/* HARDWARE "vw\0<pin>\0<value>": an update waits for the device's answer
 * on that pin.  -1 when it was not sent (too large, or the connection
 * failed and closed). */
int
hwd_conn_consent_ask(struct hwd_conn *c, unsigned pin, const struct buf *value)
{
	struct buf	 frame = BUF_INIT;
	int		 rc;

	if (hwd_proto_hardware_len(pin, value->len) > c->buff_in) {
		hwd_conn_log(c, LOG_WARNING, "consent pin V%u not written: "
		    "over the device's buff-in %u", pin, c->buff_in);
		return -1;
	}
	if (hwd_proto_hardware(&frame, hwd_conn_msg_id(), 'v', pin,
	    value->data, value->len) == -1) {
		buf_free(&frame);
		return -1;
	}
	if ((rc = hwd_conn_send(c, frame.data, frame.len)) == 0)
		hwd_conn_log(c, LOG_INFO, "update pending: consent asked on "
		    "pin V%u", pin);
	buf_free(&frame);
	return rc;
}
