/* SPDX-License-Identifier: MIT */
/*
 * BRIDGE in otad-hwd: device-to-device writes, as the Blynk library's
 * WidgetBridge sends them.  "channel\0i\0token" opens a channel to the
 * device with that token (admind checks the token); "channel\0vw\0pin\0v"
 * and the like go to every connection of that device as HARDWARE frames
 * and update its kept pins.  Replies as the legacy server gave them:
 * 200 for an opened channel, 9 for an unknown token, 6 for a channel never
 * opened, 7 when the other device is offline.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwd.h"
#include "log.h"
#include "proto.h"

#define HWD_BRIDGES_MAX		16	/* channels per connection */
#define HWD_BRIDGE_CHANNEL	8	/* bytes of a channel name, with NUL */
#define HWD_BRIDGE_MAX_TOKEN	256

struct hwd_bridge {
	char		 channel[HWD_BRIDGE_CHANNEL];
	uint64_t	 device_id;
};

static struct hwd_bridge *
hwd_bridge_find(struct hwd_conn *c, const char *channel)
{
	for (uint8_t i = 0; i < c->nbridges; i++)
		if (strcmp(c->bridges[i].channel, channel) == 0)
			return &c->bridges[i];
	return NULL;
}

/* "channel\0i\0token[\0]": ask admind, reading paused until it answers. */
static int
hwd_bridge_open(struct hwd_conn *c, uint16_t msg_id, const char *channel,
    const char *token, size_t len)
{
	if (len > 0 && token[len - 1] == '\0')
		len--;
	if (len == 0 || len > HWD_BRIDGE_MAX_TOKEN ||
	    memchr(token, '\0', len) != NULL)
		return hwd_conn_respond(c, msg_id, HWD_STATUS_INVALID_TOKEN);
	if (hwd_admind_bridge_auth(c, token, len, channel, msg_id) == -1) {
		hwd_conn_log(c, LOG_INFO, "bridge %s not opened: admind is not "
		    "connected", channel);
		return hwd_conn_respond(c, msg_id, HWD_STATUS_SERVER_ERROR);
	}
	c->auth_pending = 1;
	stream_pause(&c->stream);
	return 0;
}

/* admind's answer to a bridge token (admind.c); c is open. */
void
hwd_bridge_auth_done(struct hwd_conn *c, int result, uint64_t device_id,
    const char *channel, uint16_t msg_id)
{
	struct hwd_bridge *b, *more;
	uint16_t	   status = HWD_STATUS_OK;

	if (result == CTL_AUTH_UNKNOWN)
		status = HWD_STATUS_INVALID_TOKEN;
	else if (result != CTL_AUTH_OK)
		status = HWD_STATUS_SERVER_ERROR;
	else if ((b = hwd_bridge_find(c, channel)) == NULL) {
		if (c->nbridges >= HWD_BRIDGES_MAX || (more = reallocarray(
		    c->bridges, c->nbridges + 1u, sizeof(*more))) == NULL)
			status = HWD_STATUS_NOT_ALLOWED;
		else {
			c->bridges = more;
			b = &more[c->nbridges++];
			memcpy(b->channel, channel, strlen(channel) + 1);
		}
	}
	if (status == HWD_STATUS_OK) {
		b->device_id = device_id;
		hwd_conn_log(c, LOG_DEBUG, "bridge %s to device %llu", channel,
		    (unsigned long long)device_id);
	}
	if (hwd_conn_respond(c, msg_id, status) == 0)
		hwd_conn_continue(c);
}

/*
 * A bridge write reaching device_id here: kept as its pin value and sent
 * as HARDWARE, with the sender's msg_id, to every connection of it this
 * worker holds.  -1 when it holds none.
 */
int
hwd_bridge_deliver(uint64_t device_id, uint16_t msg_id, const char *body,
    size_t len)
{
	struct hwd_device *d = hwd_devices_find(device_id);
	struct hwd_conn	  *t, *next;
	struct buf	   frame = BUF_INIT;

	if (d == NULL || d->nconns == 0)
		return -1;
	if (hwd_proto_encode(&frame, HWD_CMD_HARDWARE, msg_id, body,
	    len) == 0) {
		hwd_pins_store(d, body, len);
		/* A failed write closes that connection; d stays (it has
		 * pins or further connections) until the last one is gone. */
		for (t = LIST_FIRST(&d->conns); t != NULL; t = next) {
			next = LIST_NEXT(t, dev_entry);
			if (len <= t->buff_in)
				hwd_conn_send(t, frame.data, frame.len);
		}
	}
	buf_free(&frame);
	return 0;
}

/* A write over an open channel: to the target's connections here, else
 * through admind to the worker that holds it (reading paused until
 * admind says whether one does). */
static int
hwd_bridge_forward(struct hwd_conn *c, uint16_t msg_id, const char *channel,
    const char *body, size_t len)
{
	struct hwd_bridge *b = hwd_bridge_find(c, channel);

	if (b == NULL)
		return hwd_conn_respond(c, msg_id, HWD_STATUS_NOT_ALLOWED);
	if (hwd_bridge_deliver(b->device_id, msg_id, body, len) == 0)
		return c->state == HWD_CONN_CLOSING ? -1 : 0;
	if (hwd_admind_bridge_write(c, b->device_id, msg_id, body, len) == -1)
		return hwd_conn_respond(c, msg_id,
		    HWD_STATUS_NOT_IN_NETWORK);
	c->auth_pending = 1;
	stream_pause(&c->stream);
	return 0;
}

/* admind's answer to a write passed on (admind.c); c is open. */
void
hwd_bridge_write_done(struct hwd_conn *c, uint16_t msg_id, int delivered)
{
	if (delivered || hwd_conn_respond(c, msg_id,
	    HWD_STATUS_NOT_IN_NETWORK) == 0)
		hwd_conn_continue(c);
}

int
hwd_bridge_message(struct hwd_conn *c, uint16_t msg_id, const char *body,
    size_t len)
{
	const char	*nul = memchr(body, '\0', len);
	const char	*rest;
	char		 channel[HWD_BRIDGE_CHANNEL];
	size_t		 clen, rlen;

	if (nul == NULL || (clen = (size_t)(nul - body)) == 0 ||
	    clen >= sizeof(channel))
		return hwd_conn_respond(c, msg_id, HWD_STATUS_ILLEGAL_COMMAND);
	memcpy(channel, body, clen);
	channel[clen] = '\0';
	rest = nul + 1;
	rlen = len - clen - 1;
	if (rlen >= 1 && rest[0] == 'i' && (rlen == 1 || rest[1] == '\0'))
		return hwd_bridge_open(c, msg_id, channel,
		    rlen > 2 ? rest + 2 : "", rlen > 2 ? rlen - 2 : 0);
	if (rlen == 0)
		return hwd_conn_respond(c, msg_id, HWD_STATUS_ILLEGAL_COMMAND);
	return hwd_bridge_forward(c, msg_id, channel, rest, rlen);
}

struct hwd_bridge_revoke {
	uint64_t	 device_id;
	const char	*why;
};

static void
hwd_bridge_revoke_conn(struct hwd_conn *c, void *arg)
{
	struct hwd_bridge_revoke *r = arg;
	uint8_t			  i = 0;

	while (i < c->nbridges) {
		if (c->bridges[i].device_id != r->device_id) {
			i++;
			continue;
		}
		hwd_conn_log(c, LOG_INFO, "bridge %s to device %llu closed: "
		    "%s", c->bridges[i].channel,
		    (unsigned long long)r->device_id, r->why);
		c->bridges[i] = c->bridges[--c->nbridges];
	}
}

/*
 * CTL_DEVICE_DROP: the device's token was rotated or the device deleted,
 * so the channels other devices opened with that token end now, as the
 * device's own connections do.  A write over such a channel then hears 6
 * (a channel not open), and the sketch must open it again with the token
 * that is valid now.
 */
void
hwd_bridge_revoke(uint64_t device_id, const char *why)
{
	struct hwd_bridge_revoke r = { device_id, why };

	hwd_conn_foreach(hwd_bridge_revoke_conn, &r);
}

void
hwd_bridge_free(struct hwd_conn *c)
{
	free(c->bridges);
	c->bridges = NULL;
	c->nbridges = 0;
}
