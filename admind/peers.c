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

static void
peers_closed(struct ctl_conn *c)
{
	if (env->hwd == c) {
		env->hwd = NULL;
		online_clear();
		log_warnx("hwd disconnected from the control socket");
	}
	if (env->fwstore == c) {
		env->fwstore = NULL;
		log_warnx("fwstore disconnected from the control socket");
	}
}

/*
 * A second hello for a role that is connected is refused while the first
 * peer is alive: a stranger on the socket must not displace the real hwd
 * or fwstore.  A restarted daemon's old connection is gone by then (the
 * kernel closed it with the process); if its EOF is not read yet, the
 * newcomer's backoff (0.1 s) brings it back after it was.
 */
int
peers_accept(struct ctl_conn *c)
{
	struct ctl_conn **slot = strcmp(c->role, "hwd") == 0 ? &env->hwd :
	    &env->fwstore;

	if (*slot != NULL && !(*slot)->closing) {
		log_warnx("control peer uid %u said it is %s, but %s is "
		    "connected already (uid %u): refused", (unsigned)c->peer_uid,
		    c->role, c->role, (unsigned)(*slot)->peer_uid);
		return -1;
	}
	*slot = c;
	return 0;
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

static void
peers_auth(struct ctl_conn *c, uint32_t reqid, const struct ctl_msg_auth *m)
{
	struct ctl_msg_auth_reply reply = { CTL_AUTH_FAULT, 0, "" };
	struct device	 dev;
	char		 hash[65];
	int		 found;

	util_sha256_hex(m->token, hash);
	found = store_device_by_token(env->store, hash, &dev);
	if (found == 1) {
		reply.result = CTL_AUTH_OK;
		reply.device_id = (uint64_t)dev.id;
		reply.name = dev.name;
	} else if (found == 0) {
		reply.result = CTL_AUTH_UNKNOWN;
		env->stats.unknown_tokens++;
		log_fields(LOG_WARNING, NULL, "login from %s with an unknown "
		    "token", m->remote_addr);
	}
	(void)ctl_send_auth_reply(c, reqid, &reply);
	if (found == 1)
		device_free(&dev);
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
peers_online(const struct ctl_msg_online *m)
{
	int64_t		 id = (int64_t)m->device_id;
	const char	*remote = m->remote_addr;
	struct online	*o;

	if (env->resyncing && !peers_device_exists((int64_t)id)) {
		peers_send_drop((int64_t)id, 1, "the device was deleted");
	} else if ((o = online_add((int64_t)id, remote)) != NULL) {
		/* bounded: a lost ONLINE_DONE must not hold deliveries */
		o->resync = env->resyncing &&
		    util_now_ms() < env->resync_since + 10000;
		if (!o->resync)
			env->stats.device_logins++;
		if (store_light(env->store) == -1 ||
		    store_device_seen(env->store, (int64_t)id, remote,
		    time(NULL)) == -1)
			log_warnx("device %" PRIu64 ": its login is not "
			    "stored", id);
		/* a replay to a new admind is no login: the device never
		 * went away (the stream and webhooks hear of logins only) */
		if (!o->resync)
			peers_publish("device.online", (int64_t)id, remote);
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
peers_offline(const struct ctl_msg_offline *m)
{
	/* Its deliveries in flight wait for the device to come back. */
	if (online_remove((int64_t)m->device_id))
		peers_publish("device.offline", (int64_t)m->device_id, "");
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
	switch (type) {
	case CTL_AUTH:
		peers_auth(c, reqid, &m->auth);
		return 0;
	case CTL_ONLINE_RESET:
		online_clear();
		env->resyncing = 1;
		env->resync_since = util_now_ms();
		return 0;
	case CTL_ONLINE_DONE:
		env->resyncing = 0;
		return 0;
	case CTL_ONLINE:
		peers_online(&m->online);
		return 0;
	case CTL_INFO:
		peers_info(&m->info);
		return 0;
	case CTL_OFFLINE:
		peers_offline(&m->offline);
		return 0;
	case CTL_OTA_SENT:
		sched_ota_sent((int64_t)m->ota_sent.device_id,
		    (int64_t)m->ota_sent.delivery_id, m->ota_sent.reached,
		    m->ota_sent.error);
		return 0;
	case CTL_EVENT:
		devevents_add((int64_t)m->event.device_id, m->event.name,
		    m->event.description);
		return 0;
	case CTL_CONSENT:
		peers_consent(&m->consent);
		return 0;
	case CTL_HWD_STATS:
		env->stats.hwd_connections = m->hwd_stats.connections;
		env->stats.hwd_refused = m->hwd_stats.refused;
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
	if (c == env->hwd)
		rc = peers_dispatch_hwd(c, type, reqid, &m);
	else if (c == env->fwstore)
		rc = grant_dispatch(c, type, reqid, &m);
	ctl_msg_free(type, &m);
	return rc;
}

const struct ctl_conn_ops admind_peer_ops = {
	.on_msg = peers_msg,
	.on_close = peers_closed,
};
