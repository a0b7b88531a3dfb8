/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's link to admind over the control socket: token checks for
 * logins, online/offline/info/event reports and consent answers, and
 * admind's OTA commands and consent questions.
 * Devices stay connected while admind is away; after each (re)connect hwd
 * tells admind again which devices are online.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "hwd.h"
#include "log.h"
#include "proto.h"

#define HWD_STATS_MS		2000
#define HWD_ADMIND_MAX_TOKEN	256	/* >= conn.c's and bridge.c's */
#define HWD_ADMIND_MAX_ANSWER	16	/* "accept", "defer", "decline" */

static int	hwd_dispatch_admind(struct ctl_conn *, uint16_t, uint32_t,
		    struct ctl_reader *);
static void	hwd_admind_ready(struct ctl_client *);
static void	hwd_admind_stats(uv_timer_t *);

static uv_timer_t	 hwd_stats_timer;

static const struct ctl_conn_ops hwd_admind_ops = {
	.on_msg = hwd_dispatch_admind,
};

int
hwd_admind_start(unsigned worker)
{
	struct ctl_client *cl = &hwd_env.ctl;

	cl->worker = worker;
	cl->ops = &hwd_admind_ops;
	cl->on_ready = hwd_admind_ready;
	cl->on_down = NULL;
	if (ctl_client_start(hwd_env.loop, cl, hwd_env.cfg.control_socket,
	    "hwd") == -1) {
		log_warnx("cannot start the control client");
		return -1;
	}
	uv_timer_init(hwd_env.loop, &hwd_stats_timer);
	uv_unref((uv_handle_t *)&hwd_stats_timer);
	uv_timer_start(&hwd_stats_timer, hwd_admind_stats, HWD_STATS_MS,
	    HWD_STATS_MS);
	return 0;
}

void
hwd_admind_stop(void)
{
	struct ctl_client *cl = &hwd_env.ctl;

	/* Close the retry timer first: a closing connection re-arms it.
	 * Not ready any more: a stop is not a lost connection. */
	if (!uv_is_closing((uv_handle_t *)&cl->retry))
		uv_close((uv_handle_t *)&cl->retry, NULL);
	if (!uv_is_closing((uv_handle_t *)&hwd_stats_timer))
		uv_close((uv_handle_t *)&hwd_stats_timer, NULL);
	cl->ready = 0;
	if (cl->conn != NULL)
		ctl_conn_close(cl->conn);
}

/* The connection when admind accepted our hello, else NULL. */
static struct ctl_conn *
hwd_admind_conn(void)
{
	struct ctl_client *cl = &hwd_env.ctl;

	return cl->ready && cl->conn != NULL && !cl->conn->closing ?
	    cl->conn : NULL;
}

/*
 * An auth reply into m: CTL_AUTH_FAULT when the connection went away
 * first; -1 when the reply is malformed or of another type (ctl_conn
 * closes the connection; the caller answers the login as a fault).
 */
static int
hwd_admind_auth_result(uint16_t type, struct ctl_reader *r,
    struct ctl_msg_auth_reply *m)
{
	if (type == CTL_AUTH_REPLY)
		return ctl_msg_decode(type, r, m);
	memset(m, 0, sizeof(*m));
	m->result = CTL_AUTH_FAULT;
	if (type != 0) {
		log_warnx("admind answered %s to a token check",
		    ctl_type_name(type));
		return -1;
	}
	return 0;
}

static int
hwd_admind_auth_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct hwd_conn	*c = arg;
	struct ctl_msg_auth_reply m;
	int		 rc;

	if ((rc = hwd_admind_auth_result(type, r, &m)) == -1)
		m.result = CTL_AUTH_FAULT;
	hwd_conn_auth_done(c, &m);
	ctl_msg_free(CTL_AUTH_REPLY, &m);
	return rc;
}

static int
hwd_admind_token(struct hwd_conn *c, const char *token, size_t len,
    ctl_reply_cb cb, void *arg)
{
	struct ctl_conn	*cc = hwd_admind_conn();
	char		 addr[NETADDR_STRLEN], tok[HWD_ADMIND_MAX_TOKEN + 1];
	struct ctl_msg_auth m = { tok, addr };

	if (cc == NULL || len > HWD_ADMIND_MAX_TOKEN)
		return -1;
	memcpy(tok, token, len);
	tok[len] = '\0';
	hwd_conn_remote(c, addr, sizeof(addr));
	return ctl_request_auth(cc, &m, cb, arg);
}

/* Asks admind about a login token; -1 when admind is not connected. */
int
hwd_admind_auth(struct hwd_conn *c, const char *token, size_t len)
{
	return hwd_admind_token(c, token, len, hwd_admind_auth_reply, c);
}

/* A BRIDGE channel being opened, or a write over one passed on (no
 * channel), waiting for admind's answer. */
struct hwd_bridge_req {
	struct hwd_conn	*c;
	uint16_t	 msg_id;
	char		 channel[8];
};

static int
hwd_admind_bridge_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct hwd_bridge_req *br = arg;
	struct ctl_msg_auth_reply m;
	int		 rc;

	if ((rc = hwd_admind_auth_result(type, r, &m)) == -1)
		m.result = CTL_AUTH_FAULT;
	if (hwd_conn_release(br->c) == 0)
		hwd_bridge_auth_done(br->c, m.result, m.device_id,
		    br->channel, br->msg_id);
	ctl_msg_free(CTL_AUTH_REPLY, &m);
	free(br);
	return rc;
}

/* Asks admind about a bridge's token; -1 when admind is not connected. */
int
hwd_admind_bridge_auth(struct hwd_conn *c, const char *token, size_t len,
    const char *channel, uint16_t msg_id)
{
	struct hwd_bridge_req *br;

	if (strlen(channel) >= sizeof(br->channel) ||
	    (br = calloc(1, sizeof(*br))) == NULL)
		return -1;
	br->c = c;
	br->msg_id = msg_id;
	memcpy(br->channel, channel, strlen(channel) + 1);
	if (hwd_admind_token(c, token, len, hwd_admind_bridge_reply,
	    br) == -1) {
		free(br);
		return -1;
	}
	return 0;
}

/* admind's answer to a bridge write passed on (a struct hwd_bridge_req
 * without a channel). */
static int
hwd_admind_bridge_write_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct hwd_bridge_req *bw = arg;

	if (hwd_conn_release(bw->c) == 0)
		hwd_bridge_write_done(bw->c, bw->msg_id, type == CTL_OK);
	free(bw);
	return 0;
}

/* A bridge write to a device this worker does not hold, to admind; -1
 * when admind is not connected. */
int
hwd_admind_bridge_write(struct hwd_conn *c, uint64_t device_id,
    uint16_t msg_id, const char *body, size_t len)
{
	struct ctl_conn	*cc = hwd_admind_conn();
	struct ctl_msg_bridge_write m = { device_id, msg_id,
	    { (uint32_t)len, (char *)body } };
	struct hwd_bridge_req *bw;

	if (cc == NULL || (bw = calloc(1, sizeof(*bw))) == NULL)
		return -1;
	bw->c = c;
	bw->msg_id = msg_id;
	if (ctl_request_bridge_write(cc, &m, hwd_admind_bridge_write_reply,
	    bw) == -1) {
		free(bw);
		return -1;
	}
	return 0;
}

/* A notification; dropped while admind is away (it hears the whole state
 * again on reconnect). */
static void
hwd_admind_send(uint16_t type, const void *msg)
{
	struct ctl_conn	*cc = hwd_admind_conn();

	if (cc != NULL)
		(void)ctl_send_msg(cc, type, 0, msg);
}

void
hwd_admind_online(struct hwd_conn *c)
{
	char		 remote[NETADDR_STRLEN], local[NETADDR_STRLEN];
	struct ctl_msg_online m = { c->device->id, c->id, remote, local };

	hwd_conn_remote(c, remote, sizeof(remote));
	hwd_conn_local(c, local, sizeof(local));
	hwd_admind_send(CTL_ONLINE, &m);
}

/* The hardware info pairs exactly as the device sent them (the first
 * CTL_MAX_PAIRS: admind takes no more; real devices send about 10). */
void
hwd_admind_info(struct hwd_conn *c)
{
	struct ctl_msg_info m;
	const char	*key, *value;
	size_t		 pos = 0;

	if (c->info == NULL)
		return;
	m.device_id = c->device->id;
	m.conn_id = c->id;
	m.info.n = 0;
	while (m.info.n < CTL_MAX_PAIRS &&
	    hwd_proto_info_next(c->info, c->info_len, &pos, &key, &value)) {
		m.info.key[m.info.n] = (char *)key;
		m.info.value[m.info.n++] = (char *)value;
	}
	hwd_admind_send(CTL_INFO, &m);
}

/* The device's last connection here is closing: its pin values go to
 * admind for its next login, wherever that lands; -1 when admind is away
 * (this worker keeps them). */
int
hwd_admind_pins(struct hwd_device *d)
{
	struct ctl_conn	*cc = hwd_admind_conn();
	struct buf	 pins = BUF_INIT;
	struct ctl_msg_pins m = { d->id, { 0, NULL } };
	int		 rc = -1;

	if (cc != NULL && hwd_pins_save(d, &pins) == 0) {
		m.pins.data = pins.data;
		m.pins.len = (uint32_t)pins.len;
		rc = ctl_send_pins(cc, 0, &m);
	}
	buf_free(&pins);
	return rc;
}

void
hwd_admind_offline(struct hwd_conn *c)
{
	/* c still counts among the device's connections here */
	struct ctl_msg_offline m = { c->device->id, c->id,
	    c->device->nconns - 1 };

	hwd_admind_send(CTL_OFFLINE, &m);
}

void
hwd_admind_event(struct hwd_conn *c, const char *name,
    const char *description)
{
	struct ctl_msg_event m = { c->device->id, (char *)name,
	    (char *)description };

	hwd_admind_send(CTL_EVENT, &m);
}

/* The device wrote its consent pin: its answer to admind, if it is one
 * (policy.c); the write is kept as any pin write (pins.c). */
void
hwd_admind_consent(struct hwd_conn *c, unsigned pin, const char *value,
    size_t len)
{
	char		 answer[HWD_ADMIND_MAX_ANSWER];
	struct ctl_msg_consent m = { c->device->id, answer, 0 };

	if (hwd_policy_consent(value, len, answer, sizeof(answer),
	    &m.minutes) == -1) {
		hwd_conn_log(c, LOG_DEBUG, "consent pin V%u: not an answer "
		    "(accept, defer with minutes, or decline): ignored", pin);
		return;
	}
	hwd_conn_log(c, LOG_DEBUG, "consent pin V%u: %s %u", pin, answer,
	    m.minutes);
	hwd_admind_send(CTL_CONSENT, &m);
}

static void
hwd_admind_replay_device(struct hwd_device *d, void *arg)
{
	struct hwd_conn	*c;
	size_t		*n = arg;

	if (d->nconns > 0)
		n[1]++;
	LIST_FOREACH(c, &d->conns, dev_entry) {
		hwd_admind_online(c);
		hwd_admind_info(c);
		n[0]++;
	}
}

/* After each accepted hello: admind forgets, then hears who is online. */
static void
hwd_admind_ready(struct ctl_client *cl)
{
	struct ctl_msg_online_reset reset;
	struct ctl_msg_online_done done;
	size_t		 n[2] = { 0, 0 };	/* connections, devices */

	hwd_admind_send(CTL_ONLINE_RESET, &reset);
	hwd_devices_foreach(hwd_admind_replay_device, n);
	hwd_admind_send(CTL_ONLINE_DONE, &done);
	log_info("told admind about %zu online connection%s of %zu device%s",
	    n[0], n[0] == 1 ? "" : "s", n[1], n[1] == 1 ? "" : "s");
}

static void
hwd_admind_ota_sent(uint64_t device_id, uint64_t delivery_id,
    uint32_t reached, const char *error)
{
	struct ctl_msg_ota_sent m = { device_id, delivery_id, reached,
	    (char *)error };

	hwd_admind_send(CTL_OTA_SENT, &m);
}

/* For admind's GET /metrics: connections open and refused. */
static void
hwd_admind_stats(uv_timer_t *t)
{
	struct ctl_msg_hwd_stats m = { hwd_conn_count(), hwd_conn_refused() };

	hwd_admind_send(CTL_HWD_STATS, &m);
}

/* CTL_OTA_SEND: the command to every connection of the device. */
static void
hwd_admind_ota(uint64_t device_id, uint64_t delivery_id, const char *path)
{
	struct hwd_device *d = hwd_devices_find(device_id);
	struct hwd_conn	  *c, *next;
	char		   err[256] = "device offline";
	uint32_t	   reached = 0;

	if (d == NULL)
		log_info("OTA for delivery %llu: device %llu is offline",
		    (unsigned long long)delivery_id,
		    (unsigned long long)device_id);
	else {
		/* A failed write closes its connection (and may free d). */
		for (c = LIST_FIRST(&d->conns); c != NULL; c = next) {
			next = LIST_NEXT(c, dev_entry);
			if (hwd_conn_ota(c, delivery_id, path, err,
			    sizeof(err)) == 0)
				reached++;
		}
	}
	hwd_admind_ota_sent(device_id, delivery_id, reached,
	    reached > 0 ? "" : err);
}

/* CTL_CONSENT_ASK: the consent pin's write to every connection of the
 * device; its pin is remembered for the answer. */
static void
hwd_admind_consent_ask(const struct ctl_msg_consent_ask *m)
{
	struct hwd_device *d = hwd_devices_find(m->device_id);
	struct hwd_conn	  *c, *next;
	struct buf	   value = BUF_INIT;

	if (d == NULL || d->nconns == 0) {
		log_info("consent for job %llu: device %llu is offline",
		    (unsigned long long)m->job_id,
		    (unsigned long long)m->device_id);
		return;
	}
	if (hwd_policy_consent_ask(&value, m->version, m->size,
	    m->job_id) == -1) {
		log_warnx("out of memory asking a device's consent");
		buf_free(&value);
		return;
	}
	d->consent_pin = m->pin;
	d->consent_asked = 1;
	/* A failed write closes its connection (and may free d). */
	for (c = LIST_FIRST(&d->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, dev_entry);
		(void)hwd_conn_consent_ask(c, m->pin, &value);
	}
	buf_free(&value);
}

/* CTL_PINS_KEEP: values the device wrote over another worker, kept here
 * (those it wrote since it logged in here stay). */
static void
hwd_admind_pins_keep(const struct ctl_msg_pins_keep *m)
{
	struct hwd_device *d = hwd_devices_find(m->device_id);

	if (d != NULL && d->nconns > 0)
		hwd_pins_load(d, m->pins.data, m->pins.len, 0);
}

/* admind's CTL_OTA_SEND, CTL_DEVICE_DROP, CTL_CONSENT_ASK and
 * CTL_DEVICE_WRITE (ctl_conn
 * let no other message of admind's role through). */
static int
hwd_dispatch_admind(struct ctl_conn *cc, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	union ctl_msg_any m;
	int		 rc = 0;

	if (ctl_msg_decode(type, r, &m) == -1)
		return -1;
	if (type == CTL_DEVICE_DROP)
		hwd_devices_drop(m.device_drop.device_id,
		    m.device_drop.forget, m.device_drop.reason);
	else if (type == CTL_OTA_SEND && m.ota_send.path[0] == '/')
		hwd_admind_ota(m.ota_send.device_id, m.ota_send.delivery_id,
		    m.ota_send.path);
	else if (type == CTL_CONSENT_ASK)
		hwd_admind_consent_ask(&m.consent_ask);
	else if (type == CTL_PINS_KEEP)
		hwd_admind_pins_keep(&m.pins_keep);
	else if (type == CTL_DEVICE_WRITE)
		(void)hwd_bridge_deliver(m.device_write.device_id,
		    m.device_write.msg_id, m.device_write.body.data,
		    m.device_write.body.len);
	else
		rc = -1;
	ctl_msg_free(type, &m);
	return rc;
}
