/* SPDX-License-Identifier: MIT */
/*
 * admind's side of the control socket: the messages hwd and fwstore may
 * send, each accepted only from its own role (a compromised front end can
 * only say what the protocol lets it say); what admind sends to hwd is
 * peers_send.c.  What the hardware info says and whether uids vouch for
 * roles are peers_policy.c's decisions.
 */
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "peers_policy.h"
#include "sandbox.h"
#include "util.h"

static uint64_t	 peers_serial;	/* connections accepted */

static int
peers_is_hwd(const struct ctl_conn *c)
{
	return strcmp(c->role, "hwd") == 0;
}

static void
peers_closed(struct ctl_conn *c)
{
	struct peer	*p = c->data;
	size_t		 n;

	if (p == NULL || p->conn != c)
		return;
	p->conn = NULL;
	if (peers_is_hwd(c)) {
		env->nhwd--;
		n = online_clear_peer(p->slot);
		cluster_sessions_stale();
		log_warnx("hwd worker %u disconnected from the control socket: "
		    "its %zu device%s offline until they log in again",
		    c->worker, n, n == 1 ? " is" : "s are");
	} else {
		env->nfwstore--;
		log_warnx("fwstore worker %u disconnected from the control "
		    "socket", c->worker);
	}
}

/*
 * Each role has as many peers as its [section] workers asks for.  Past
 * that, a hello is refused while the others are alive: a stranger on the
 * socket must not pose as a worker.  A restarted worker's old connection
 * is gone by then (the kernel closed it with the process); if its EOF is
 * not read yet, the newcomer's backoff (0.1 s) brings it back after it
 * was.
 */
int
peers_accept(struct ctl_conn *c)
{
	int		 hwd = peers_is_hwd(c);
	struct peer	*slots = hwd ? env->hwd : env->fwstore;
	unsigned	*n = hwd ? &env->nhwd : &env->nfwstore;
	unsigned	 max = workers_count(hwd ? env->cfg.hwd.workers :
			    env->cfg.fwstore.workers);

	for (unsigned i = 0; i < max && *n < max; i++) {
		if (slots[i].conn != NULL && !slots[i].conn->closing)
			continue;
		memset(&slots[i], 0, sizeof(slots[i]));
		slots[i].conn = c;
		slots[i].serial = ++peers_serial;
		slots[i].slot = i;
		c->data = &slots[i];
		(*n)++;
		return 0;
	}
	log_warnx("control peer uid %u said it is %s worker %u, but %u %s "
	    "worker%s ([%s] workers) %s connected already: refused",
	    (unsigned)c->peer_uid, c->role, c->worker, max, c->role,
	    max == 1 ? "" : "s", c->role, max == 1 ? "is" : "are");
	return -1;
}

/* The user's uid into uid; 0 when there is no such user, else 1. */
static int
peers_user_uid(const char *user, uid_t *uid)
{
	struct passwd	*pw = getpwnam(user);

	if (pw == NULL)
		return 0;
	*uid = pw->pw_uid;
	return 1;
}

/*
 * The roles a hello may name and each one's uid.  The uid is checked when
 * the daemons run as the package's users: admind as root or otad-admin
 * (its launcher was root, so hwd and fwstore were switched too) and users
 * otad-hwd and otad-fw distinct.  Else (one user for all, as in the tests
 * and `otad run` by a user) the uid tells nothing: said once in the log.
 */
const struct ctl_role *
peers_roles(void)
{
	static struct ctl_role roles[] = {
		{ "hwd", (uid_t)-1 }, { "fwstore", (uid_t)-1 }, { NULL, 0 } };
	struct peers_users u = { .me = geteuid() };

	u.has_hwd = peers_user_uid(SANDBOX_USER_HWD, &u.hwd);
	u.has_fw = peers_user_uid(SANDBOX_USER_FWSTORE, &u.fw);
	u.has_admin = peers_user_uid(SANDBOX_USER_ADMIND, &u.admin);
	if (peers_policy_uids_checked(&u)) {
		roles[0].uid = u.hwd;
		roles[1].uid = u.fw;
		log_info("control socket: hwd must connect as uid %u (%s), "
		    "fwstore as uid %u (%s)", (unsigned)u.hwd, SANDBOX_USER_HWD,
		    (unsigned)u.fw, SANDBOX_USER_FWSTORE);
	} else
		log_info("control socket: the daemons do not run as the "
		    "package's users %s, %s and %s (admind is uid %u): a "
		    "peer's role cannot be checked against its uid",
		    SANDBOX_USER_ADMIND, SANDBOX_USER_HWD, SANDBOX_USER_FWSTORE,
		    (unsigned)u.me);
	return roles;
}

#define PEERS_PARK_MS	1000

/* A login on its way to the database: whom to answer. */
struct peers_login {
	struct peers_login *next;	/* parked */
	unsigned	 slot;
	uint64_t	 serial;
	uint32_t	 reqid;
	int64_t		 device_id;
	uint64_t	 due;		/* ms: parked until */
	int		 parked;
	char		 hash[65];
	char		 remote[];
};

static struct peers_login *peers_parked;
static uv_timer_t	 peers_park_timer;

static void	 peers_auth_answer(void *, int, const struct device *,
		    const void *, size_t);

/* Another connected hwd worker than slot holds the device. */
static int
peers_held_elsewhere(int64_t device_id, unsigned slot)
{
	struct ctl_conn	*w[WORKERS_MAX];

	return online_workers(online_get(device_id), slot, w) > 0;
}

/* Asks the database again for each parked login of the device that no
 * other worker holds now (device_id 0: each whose time is up). */
static void
peers_unpark(int64_t device_id)
{
	struct peers_login **pp, *l, *go = NULL;
	uint64_t	 now = util_now_ms();

	for (pp = &peers_parked; (l = *pp) != NULL;) {
		if (device_id == 0 ? now >= l->due : l->device_id ==
		    device_id && !peers_held_elsewhere(device_id, l->slot)) {
			*pp = l->next;
			l->next = go;
			go = l;
		} else
			pp = &l->next;
	}
	while ((l = go) != NULL) {
		go = l->next;
		store_device_login(env->store, l->hash, peers_auth_answer, l);
	}
	if (peers_parked == NULL)
		uv_timer_stop(&peers_park_timer);
}

static void
peers_park_expired(uv_timer_t *t)
{
	(void)t;
	peers_unpark(0);
}

/*
 * A login through one worker while another still holds the device is
 * most likely the device back before that worker reported its close,
 * with the pin values it kept there: the answer waits for that close
 * (the pins come just before it), PEERS_PARK_MS at most.
 */
static void
peers_park(struct peers_login *l, int64_t device_id)
{
	l->parked = 1;
	l->device_id = device_id;
	l->due = util_now_ms() + PEERS_PARK_MS;
	l->next = peers_parked;
	peers_parked = l;
	if (!uv_is_active((uv_handle_t *)&peers_park_timer))
		uv_timer_start(&peers_park_timer, peers_park_expired, 100, 100);
}

void
peers_start(void)
{
	uv_timer_init(env->loop, &peers_park_timer);
}

static void
peers_auth_answer(void *arg, int found, const struct device *dev,
    const void *pins, size_t npins)
{
	struct peers_login *l = arg;
	struct peer	*p = &env->hwd[l->slot];
	struct ctl_msg_auth_reply reply = { CTL_AUTH_FAULT, 0, "", { 0, NULL } };

	if (found == 1 && !l->parked &&
	    peers_held_elsewhere(dev->id, l->slot)) {
		peers_park(l, dev->id);
		return;
	}
	if (found == 1) {
		reply.result = CTL_AUTH_OK;
		reply.device_id = (uint64_t)dev->id;
		reply.name = dev->name;
		reply.pins.data = (void *)pins;
		reply.pins.len = (uint32_t)npins;
	} else if (found == 0) {
		reply.result = CTL_AUTH_UNKNOWN;
		env->stats.unknown_tokens++;
		log_fields(LOG_WARNING, NULL, "login from %s with an unknown "
		    "token", l->remote);
	}
	/* the worker that asked may have gone meanwhile */
	if (p->conn != NULL && p->serial == l->serial)
		(void)ctl_send_auth_reply(p->conn, l->reqid, &reply);
	free(l);
}

static void
peers_auth(struct ctl_conn *c, uint32_t reqid, const struct ctl_msg_auth *m)
{
	struct peer	*p = c->data;
	struct peers_login *l;
	size_t		 n = strlen(m->remote_addr);

	if ((l = malloc(sizeof(*l) + n + 1)) == NULL) {
		struct ctl_msg_auth_reply fault = { CTL_AUTH_FAULT, 0, "",
		    { 0, NULL } };

		(void)ctl_send_auth_reply(c, reqid, &fault);
		return;
	}
	l->next = NULL;
	l->slot = p->slot;
	l->serial = p->serial;
	l->reqid = reqid;
	l->parked = 0;
	memcpy(l->remote, m->remote_addr, n + 1);
	util_sha256_hex(m->token, l->hash);
	store_device_login(env->store, l->hash, peers_auth_answer, l);
}

static void
peers_publish(const char *kind, int64_t id, const char *remote)
{
	struct buf	 b = BUF_INIT;

	if (!events_heard())
		return;
	buf_printf(&b, "{\"device_id\":%" PRId64 ",\"remote\":", id);
	json_str(&b, remote);
	buf_addc(&b, '}');
	events_publish(kind, id, 0, buf_cstr(&b));
	buf_free(&b);
}

static int
peers_device_exists(int64_t id)
{
	struct device	 dev;

	if (store_device_get(env->store, id, &dev) != 1)
		return 0;
	device_free(&dev);
	return 1;
}

static void
peers_online(struct peer *p, const struct ctl_msg_online *m)
{
	int64_t		 id = (int64_t)m->device_id;
	const char	*remote = m->remote_addr;
	struct online	*o = online_get(id);
	/* A login, not a further connection, when this worker held none of
	 * the device's: a device that reconnected through another worker
	 * may be heard before the old worker reports its close. */
	int		 login = !online_held(o, p->slot);
	int		 first = o == NULL;	/* on this node */

	if (p->resyncing && !peers_device_exists((int64_t)id)) {
		peers_send_drop((int64_t)id, 1, "the device was deleted");
	} else if ((o = online_add((int64_t)id, remote, p->slot)) != NULL) {
		/* bounded: a lost ONLINE_DONE must not hold deliveries */
		o->resync = p->resyncing &&
		    util_now_ms() < p->resync_since + 10000;
		if (!o->resync)
			env->stats.device_logins++;
		if (store_light(env->store) == -1 ||
		    store_device_seen(env->store, (int64_t)id, remote,
		    time(NULL)) == -1)
			log_warnx("device %" PRIu64 ": its login is not "
			    "stored", id);
		/* a replay to a new admind is no login: the device never
		 * went away (the stream and webhooks hear of logins only) */
		if (first)
			cluster_session((int64_t)id, 1);
		if (!o->resync)
			peers_publish("device.online", (int64_t)id, remote);
		if (login)
			sched_device_online((int64_t)id, remote);
	}
}

static void
peers_store_info(int64_t id, const struct ctl_msg_info *m)
{
	struct peers_hw_info i;

	peers_policy_info(m->info.key, m->info.value, m->info.n, &i);
	if (store_light(env->store) == -1 ||
	    store_device_set_link(env->store, id, i.buff_in, i.h_beat) == -1 ||
	    store_device_set_info(env->store, id, i.fw_version, i.build,
	    i.fw_type, i.board, i.lib_version) == -1)
		log_warnx("device %" PRId64 ": its hardware info is not "
		    "stored", id);
}

static void
peers_info(const struct ctl_msg_info *m)
{
	int64_t		 id = (int64_t)m->device_id;

	if (online_get(id) == NULL)
		return;
	peers_store_info(id, m);
	online_get(id)->has_info = 1;
	sched_device_info(id);
}

static void
peers_offline(struct peer *p, const struct ctl_msg_offline *m)
{
	/* Its deliveries in flight wait for the device to come back. */
	if (online_remove((int64_t)m->device_id, p->slot, m->left)) {
		cluster_session((int64_t)m->device_id, 0);
		peers_publish("device.offline", (int64_t)m->device_id, "");
	}
	peers_unpark((int64_t)m->device_id);
}

/* A worker's report on an OTA command, which went to every worker
 * holding the device: one that reached none of its connections speaks
 * only when no other worker holds the device (that one's report
 * decides; a worker whose connection closed said offline first). */
static void
peers_ota_sent(struct peer *p, const struct ctl_msg_ota_sent *m)
{
	struct ctl_conn	*others[WORKERS_MAX];

	if (m->reached == 0 && online_workers(online_get((int64_t)
	    m->device_id), p->slot, others) > 0)
		return;
	sched_ota_sent((int64_t)m->device_id, (int64_t)m->delivery_id,
	    m->reached, m->error);
}

/* A BRIDGE write to a device the sender's worker does not hold: to the
 * workers that do; the sender answers NOT_IN_NETWORK when none does. */
static void
peers_bridge_write(struct ctl_conn *c, uint32_t reqid,
    const struct ctl_msg_bridge_write *m)
{
	struct peer	*p = c->data;
	struct ctl_msg_error e = { .message = "the device is offline" };

	if (peers_send_device_write((int64_t)m->device_id, m->msg_id, &m->body,
	    p->slot) > 0)
		(void)ctl_send(c, CTL_OK, reqid, NULL);
	else
		(void)ctl_send_error(c, reqid, &e);
}

/* The device's answer on its consent pin; an accept is sent as soon as
 * the scheduler allows. */
static void
peers_consent(const struct ctl_msg_consent *m)
{
	int64_t	 id = (int64_t)m->device_id;

	if (consent_answer(id, m->answer, m->minutes) == 1)
		sched_device_decide(id);
}

/* hwd's messages, decoded (ctl_conn let only hwd's role's through). */
static int
peers_dispatch_hwd(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    const union ctl_msg_any *m)
{
	struct peer	*p = c->data;

	switch (type) {
	case CTL_AUTH:
		peers_auth(c, reqid, &m->auth);
		return 0;
	case CTL_ONLINE_RESET:
		(void)online_clear_peer(p->slot);
		cluster_sessions_stale();
		p->resyncing = 1;
		p->resync_since = util_now_ms();
		return 0;
	case CTL_ONLINE_DONE:
		p->resyncing = 0;
		return 0;
	case CTL_ONLINE:
		peers_online(p, &m->online);
		return 0;
	case CTL_INFO:
		peers_info(&m->info);
		return 0;
	case CTL_OFFLINE:
		peers_offline(p, &m->offline);
		return 0;
	case CTL_OTA_SENT:
		peers_ota_sent(p, &m->ota_sent);
		return 0;
	case CTL_EVENT:
		devevents_add((int64_t)m->event.device_id, m->event.name,
		    m->event.description);
		return 0;
	case CTL_CONSENT:
		peers_consent(&m->consent);
		return 0;
	case CTL_PINS:
		if (store_light(env->store) == -1 ||
		    store_device_pins_set(env->store,
		    (int64_t)m->pins.device_id, m->pins.pins.data,
		    m->pins.pins.len) == -1)
			log_warnx("device %" PRIu64 ": its pin values are not "
			    "kept", m->pins.device_id);
		/* its next login, through another worker, came first */
		peers_send_pins((int64_t)m->pins.device_id, &m->pins.pins,
		    p->slot);
		return 0;
	case CTL_BRIDGE_WRITE:
		peers_bridge_write(c, reqid, &m->bridge_write);
		return 0;
	case CTL_HWD_STATS:
		p->connections = m->hwd_stats.connections;
		p->refused = m->hwd_stats.refused;
		return 0;
	default:
		return -1;
	}
}

/* Each message is decoded here, once, and freed after its handler. */
static int
peers_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	union ctl_msg_any m;
	int		 rc = -1;

	if (ctl_msg_decode(type, r, &m) == -1)
		return -1;
	if (peers_is_hwd(c))
		rc = peers_dispatch_hwd(c, type, reqid, &m);
	else
		rc = grant_dispatch(c, type, reqid, &m);
	ctl_msg_free(type, &m);
	return rc;
}

const struct ctl_conn_ops admind_peer_ops = {
	.on_msg = peers_msg,
	.on_close = peers_closed,
};
