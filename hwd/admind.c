/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's link to admind over the control socket: token checks for
 * logins, online/offline/info/event reports, and admind's OTA commands.
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

/* admind takes at most 64 pairs; real devices send about 10. */
#define HWD_INFO_MAX_PAIRS	64

#define HWD_STATS_MS		2000

static int	hwd_dispatch_admind(struct ctl_conn *, uint16_t, uint32_t,
		    struct ctl_reader *);
static void	hwd_admind_ready(struct ctl_client *);
static void	hwd_admind_stats(uv_timer_t *);

static uv_timer_t	 hwd_stats_timer;

static const struct ctl_conn_ops hwd_admind_ops = {
	.on_msg = hwd_dispatch_admind,
};

int
hwd_admind_start(void)
{
	struct ctl_client *cl = &hwd_env.ctl;

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

/* A notification; dropped while admind is away (it hears the whole state
 * again on reconnect). */
static void
hwd_admind_send(uint16_t type, struct buf *payload)
{
	struct ctl_conn	*cc = hwd_admind_conn();

	if (cc != NULL)
		ctl_send(cc, type, 0, payload);
	buf_free(payload);
}

/* An auth reply: the result, CTL_AUTH_FAULT when admind could not say. */
static int
hwd_admind_auth_result(uint16_t type, struct ctl_reader *r,
    uint64_t *device_id, char **name)
{
	uint8_t		 result = CTL_AUTH_FAULT;

	*device_id = 0;
	*name = NULL;
	if (type == CTL_AUTH_REPLY) {
		if (ctl_get_u8(r, &result) == -1 ||
		    ctl_get_u64(r, device_id) == -1 ||
		    ctl_get_str(r, name) == -1 || ctl_get_end(r) == -1) {
			log_warnx("malformed auth reply from admind, closing "
			    "the control connection");
			result = CTL_AUTH_FAULT;
			if (hwd_env.ctl.conn != NULL)
				ctl_conn_close(hwd_env.ctl.conn);
		}
	} else if (type != 0)
		log_warnx("admind answered %s to a token check",
		    ctl_type_name(type));
	return result;
}

static void
hwd_admind_auth_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct hwd_conn	*c = arg;
	uint64_t	 device_id;
	char		*name;
	int		 result;

	result = hwd_admind_auth_result(type, r, &device_id, &name);
	hwd_conn_auth_done(c, result, device_id, name);
	free(name);
}

static int
hwd_admind_token(struct hwd_conn *c, const char *token, size_t len,
    ctl_reply_cb cb, void *arg)
{
	struct ctl_conn	*cc = hwd_admind_conn();
	struct buf	 p = BUF_INIT;
	char		 addr[NETADDR_STRLEN];
	int		 rc = -1;

	if (cc == NULL)
		return -1;
	hwd_conn_remote(c, addr, sizeof(addr));
	if (ctl_put_strn(&p, token, len) == 0 && ctl_put_str(&p, addr) == 0)
		rc = ctl_request(cc, CTL_AUTH, &p, cb, arg);
	buf_free(&p);
	return rc;
}

/* Asks admind about a login token; -1 when admind is not connected. */
int
hwd_admind_auth(struct hwd_conn *c, const char *token, size_t len)
{
	return hwd_admind_token(c, token, len, hwd_admind_auth_reply, c);
}

/* A BRIDGE channel being opened, waiting for admind's answer. */
struct hwd_bridge_req {
	struct hwd_conn	*c;
	uint16_t	 msg_id;
	char		 channel[8];
};

static void
hwd_admind_bridge_reply(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct hwd_bridge_req *br = arg;
	uint64_t	 device_id;
	char		*name;
	int		 result;

	result = hwd_admind_auth_result(type, r, &device_id, &name);
	free(name);
	if (hwd_conn_release(br->c) == 0)
		hwd_bridge_auth_done(br->c, result, device_id, br->channel,
		    br->msg_id);
	free(br);
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

static void
hwd_admind_put_conn(struct buf *p, struct hwd_conn *c)
{
	ctl_put_u64(p, c->device->id);
	ctl_put_u64(p, c->id);
}

void
hwd_admind_online(struct hwd_conn *c)
{
	struct buf	 p = BUF_INIT;
	char		 remote[NETADDR_STRLEN], local[NETADDR_STRLEN];

	hwd_conn_remote(c, remote, sizeof(remote));
	hwd_conn_local(c, local, sizeof(local));
	hwd_admind_put_conn(&p, c);
	ctl_put_str(&p, remote);
	ctl_put_str(&p, local);
	hwd_admind_send(CTL_ONLINE, &p);
}

/* The hardware info pairs exactly as the device sent them (the first
 * HWD_INFO_MAX_PAIRS). */
void
hwd_admind_info(struct hwd_conn *c)
{
	struct buf	 p = BUF_INIT;
	const char	*key, *value;
	size_t		 pos = 0, count_at;
	uint32_t	 n = 0;

	if (c->info == NULL)
		return;
	hwd_admind_put_conn(&p, c);
	count_at = p.len;
	ctl_put_u32(&p, 0);		/* the count, filled in below */
	while (n < HWD_INFO_MAX_PAIRS &&
	    hwd_proto_info_next(c->info, c->info_len, &pos, &key, &value)) {
		ctl_put_str(&p, key);
		ctl_put_str(&p, value);
		n++;
	}
	if (p.len < count_at + 4) {		/* out of memory */
		buf_free(&p);
		return;
	}
	for (int i = 0; i < 4; i++)
		p.data[count_at + i] = (char)(n >> (24 - 8 * i));
	hwd_admind_send(CTL_INFO, &p);
}

void
hwd_admind_offline(struct hwd_conn *c)
{
	struct buf	 p = BUF_INIT;

	hwd_admind_put_conn(&p, c);
	hwd_admind_send(CTL_OFFLINE, &p);
}

void
hwd_admind_event(struct hwd_conn *c, const char *name,
    const char *description)
{
	struct buf	 p = BUF_INIT;

	ctl_put_u64(&p, c->device->id);
	ctl_put_str(&p, name);
	ctl_put_str(&p, description);
	hwd_admind_send(CTL_EVENT, &p);
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
	struct buf	 p = BUF_INIT;
	size_t		 n[2] = { 0, 0 };	/* connections, devices */

	hwd_admind_send(CTL_ONLINE_RESET, &p);
	hwd_devices_foreach(hwd_admind_replay_device, n);
	hwd_admind_send(CTL_ONLINE_DONE, &p);
	log_info("told admind about %zu online connection%s of %zu device%s",
	    n[0], n[0] == 1 ? "" : "s", n[1], n[1] == 1 ? "" : "s");
}

static void
hwd_admind_ota_sent(uint64_t device_id, uint64_t delivery_id,
    uint32_t reached, const char *error)
{
	struct buf	 p = BUF_INIT;

	ctl_put_u64(&p, device_id);
	ctl_put_u64(&p, delivery_id);
	ctl_put_u32(&p, reached);
	ctl_put_str(&p, error);
	hwd_admind_send(CTL_OTA_SENT, &p);
}

/* For admind's GET /metrics: connections open and refused. */
static void
hwd_admind_stats(uv_timer_t *t)
{
	struct buf	 b = BUF_INIT;

	ctl_put_u64(&b, hwd_conn_count());
	ctl_put_u64(&b, hwd_conn_refused());
	hwd_admind_send(CTL_HWD_STATS, &b);
	buf_free(&b);
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

/* CTL_DEVICE_DROP: u64 device_id, u8 forget, str reason. */
static int
hwd_admind_drop(struct ctl_reader *r)
{
	uint64_t	 device_id;
	uint8_t		 forget;
	char		*why = NULL;

	if (ctl_get_u64(r, &device_id) == -1 || ctl_get_u8(r, &forget) == -1 ||
	    ctl_get_str(r, &why) == -1 || ctl_get_end(r) == -1) {
		free(why);
		return -1;
	}
	hwd_devices_drop(device_id, forget, why);
	free(why);
	return 0;
}

static int
hwd_dispatch_admind(struct ctl_conn *cc, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	uint64_t	 device_id, delivery_id;
	char		*path = NULL;

	if (type == CTL_DEVICE_DROP)
		return hwd_admind_drop(r);
	if (type != CTL_OTA_SEND) {
		log_warnx("unexpected %s message from admind",
		    ctl_type_name(type));
		return -1;
	}
	if (ctl_get_u64(r, &device_id) == -1 ||
	    ctl_get_u64(r, &delivery_id) == -1 ||
	    ctl_get_str(r, &path) == -1 || ctl_get_end(r) == -1 ||
	    path[0] != '/') {
		free(path);
		return -1;
	}
	hwd_admind_ota(device_id, delivery_id, path);
	free(path);
	return 0;
}
