/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd: what a device connection's frames mean, the Blynk session of
 * PROTOCOL.md section 1.  Before login only a login is accepted, and it
 * is checked by admind with reading paused; after login, ping, hardware
 * info, the messages a sketch sends, bridges and events, under the
 * per-device rate limit.  conn.c cuts the input into frames.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwd.h"
#include "log.h"
#include "proto.h"

/* Login. */

static int
hwd_conn_login(struct hwd_conn *c, const struct hwd_frame *f)
{
	size_t	 len = f->len;

	if (c->state == HWD_CONN_ONLINE)
		return hwd_conn_respond(c, f->msg_id,
		    HWD_STATUS_ALREADY_REGISTERED);
	/* Some clients end the token with a NUL. */
	if (len > 0 && f->body[len - 1] == '\0')
		len--;
	c->login_msg_id = f->msg_id;
	if (len == 0 || len > HWD_MAX_TOKEN || memchr(f->body, '\0', len)) {
		/* no token of ours looks like this: really unknown */
		hwd_conn_log(c, LOG_INFO, "login with a malformed token");
		hwd_conn_respond(c, f->msg_id, HWD_STATUS_INVALID_TOKEN);
		hwd_conn_finish(c);
		return -1;
	}
	if (hwd_admind_auth(c, f->body, len) == -1) {
		hwd_conn_log(c, LOG_INFO, "login refused for now: admind "
		    "is not connected");
		hwd_conn_respond(c, f->msg_id, HWD_STATUS_SERVER_ERROR);
		hwd_conn_finish(c);
		return -1;
	}
	c->auth_pending = 1;
	c->state = HWD_CONN_AUTH;
	stream_pause(&c->stream);
	return 0;
}

static void
hwd_conn_online(struct hwd_conn *c, const struct ctl_msg_auth_reply *m)
{
	if (hwd_devices_attach(c, m->device_id, m->name) == -1) {
		log_warnx("out of memory registering a device");
		hwd_conn_respond(c, c->login_msg_id, HWD_STATUS_SERVER_ERROR);
		hwd_conn_finish(c);
		return;
	}
	if (m->pins.len > 0)
		hwd_pins_load(c->device, m->pins.data, m->pins.len, 1);
	c->state = HWD_CONN_ONLINE;
	c->since = hwd_timeout_now();
	hwd_timeout_add(c);
	hwd_devices_limit(c);
	if (hwd_conn_respond(c, c->login_msg_id, HWD_STATUS_OK) == -1)
		return;
	hwd_conn_log(c, LOG_INFO, "device logged in (%u connection%s)",
	    c->device->nconns, c->device->nconns == 1 ? "" : "s");
	hwd_admind_online(c);
	hwd_conn_continue(c);
}

/* Reading again after an admind reply: first the frames that came behind
 * the request. */
void
hwd_conn_continue(struct hwd_conn *c)
{
	if (c->state == HWD_CONN_CLOSING || c->auth_pending)
		return;
	stream_resume(&c->stream);
	if (c->carry.len > 0)
		hwd_conn_carry_frames(c);
}

/* admind's answer to the login (admind.c); result is enum ctl_auth_result. */
void
hwd_conn_auth_done(struct hwd_conn *c, const struct ctl_msg_auth_reply *m)
{
	if (hwd_conn_release(c) == -1 || c->state != HWD_CONN_AUTH)
		return;
	switch (m->result) {
	case CTL_AUTH_OK:
		hwd_conn_online(c, m);
		break;
	case CTL_AUTH_UNKNOWN:
		hwd_conn_log(c, LOG_INFO, "login with an unknown token");
		hwd_conn_respond(c, c->login_msg_id, HWD_STATUS_INVALID_TOKEN);
		hwd_conn_finish(c);
		break;
	default:
		hwd_conn_log(c, LOG_INFO, "login could not be checked now");
		hwd_conn_respond(c, c->login_msg_id, HWD_STATUS_SERVER_ERROR);
		hwd_conn_finish(c);
		break;
	}
}

/* After login. */

static int
hwd_conn_info(struct hwd_conn *c, const struct hwd_frame *f)
{
	struct hwd_info	 info;
	char		*body;

	if ((body = malloc(f->len + 1)) == NULL)
		return hwd_conn_respond(c, f->msg_id, HWD_STATUS_SERVER_ERROR);
	memcpy(body, f->body, f->len);
	body[f->len] = '\0';
	if (hwd_proto_info_parse(&info, body, f->len) == 0) {
		free(body);
		hwd_conn_log(c, LOG_DEBUG, "INTERNAL message ignored");
		return 0;
	}
	free(c->info);
	c->info = body;
	c->info_len = (uint16_t)f->len;
	c->buff_in = (uint16_t)info.buff_in;
	c->h_beat = (uint16_t)info.h_beat;
	hwd_timeout_add(c);
	hwd_conn_log(c, LOG_DEBUG, "hardware info: firmware %s, build %s, "
	    "board %s, library %s, h-beat %u, buff-in %u",
	    info.fw_version ? info.fw_version : "-",
	    info.build ? info.build : "-", info.board ? info.board : "-",
	    info.lib_version ? info.lib_version : "-", info.h_beat,
	    info.buff_in);
	if (hwd_conn_respond(c, f->msg_id, HWD_STATUS_OK) == -1)
		return -1;
	hwd_admind_info(c);
	return 0;
}

static int
hwd_conn_internal(struct hwd_conn *c, const struct hwd_frame *f)
{
	if (hwd_internal_is_request(f))
		return hwd_internal_request(c, f);
	return hwd_conn_info(c, f);
}

/* "name[\0description]": sys_ota and the sketch's own events. */
static int
hwd_conn_event(struct hwd_conn *c, const struct hwd_frame *f)
{
	char		*body;
	const char	*desc;
	size_t		 nlen;

	if ((body = malloc(f->len + 2)) == NULL)
		return hwd_conn_respond(c, f->msg_id, HWD_STATUS_SERVER_ERROR);
	memcpy(body, f->body, f->len);
	body[f->len] = body[f->len + 1] = '\0';
	nlen = strlen(body);
	desc = nlen < f->len ? body + nlen + 1 : "";
	if (*body != '\0') {
		hwd_conn_log(c, strcmp(body, "sys_ota") == 0 ? LOG_INFO :
		    LOG_DEBUG, "event %s: %s", body, desc);
		hwd_admind_event(c, body, desc);
	}
	free(body);
	return hwd_conn_respond(c, f->msg_id, HWD_STATUS_OK);
}

/* The per-device rate limit (policy.c): 1 when f is to be dropped. */
static int
hwd_conn_over_rate(struct hwd_conn *c, const struct hwd_frame *f)
{
	unsigned	 limit = hwd_env.cfg.hwd.rate_limit;

	switch (hwd_policy_rate(c->device, c, limit, hwd_timeout_now())) {
	case HWD_RATE_PASS:
		return 0;
	case HWD_RATE_TELL:
		hwd_conn_log(c, LOG_INFO, "device over %u messages a second "
		    "(all its connections): dropping messages", limit);
		hwd_conn_respond(c, f->msg_id, HWD_STATUS_QUOTA_LIMIT);
		return 1;
	default:
		return 1;
	}
}

/* One frame of c's; -1 when c closed. */
int
hwd_conn_dispatch(struct hwd_conn *c, const struct hwd_frame *f)
{
	if (c->state == HWD_CONN_NEW && f->cmd != HWD_CMD_LOGIN &&
	    f->cmd != HWD_CMD_HW_LOGIN) {
		hwd_conn_log(c, LOG_DEBUG, "%s (%u) before login, closing",
		    hwd_proto_cmd_name(f->cmd), f->cmd);
		hwd_conn_close(c);
		return -1;
	}
	if (hwd_conn_over_rate(c, f))
		return c->state == HWD_CONN_CLOSING ? -1 : 0;
	switch (f->cmd) {
	case HWD_CMD_LOGIN:
	case HWD_CMD_HW_LOGIN:
		return hwd_conn_login(c, f);
	case HWD_CMD_RESPONSE:
		return 0;
	case HWD_CMD_HARDWARE:
		return hwd_pins_hardware(c, f->body, f->len);
	case HWD_CMD_HARDWARE_SYNC:
		return hwd_pins_sync(c, f->msg_id, f->body, f->len);
	case HWD_CMD_PING:
	case HWD_CMD_PROPERTY:
	case HWD_CMD_GROUP:		/* the library sends, never waits */
	case HWD_CMD_EVENT_CLEAR:
	case HWD_CMD_TWEET:
	case HWD_CMD_EMAIL:
	case HWD_CMD_NOTIFY:
	case HWD_CMD_SMS:
		return hwd_conn_respond(c, f->msg_id, HWD_STATUS_OK);
	case HWD_CMD_INTERNAL:
		return hwd_conn_internal(c, f);
	case HWD_CMD_BRIDGE:
		return hwd_bridge_message(c, f->msg_id, f->body, f->len);
	case HWD_CMD_EVENT_LOG:
		return hwd_conn_event(c, f);
	default:
		hwd_conn_log(c, LOG_DEBUG, "command %u not handled",
		    f->cmd);
		return hwd_conn_respond(c, f->msg_id,
		    HWD_STATUS_ILLEGAL_COMMAND);
	}
}
