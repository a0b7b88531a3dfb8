/* SPDX-License-Identifier: MIT */
/*
 * admind's side of the control socket: the messages hwd and fwstore may
 * send, each accepted only from its own role (a compromised front end can
 * only say what the protocol lets it say), and the OTA commands admind
 * sends to hwd.
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
#include "sandbox.h"
#include "util.h"

#define PEER_MAX_INFO_PAIRS	64

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

/* The user's uid into uid; -1 when there is no such user. */
static int
peers_user_uid(const char *user, uid_t *uid)
{
	struct passwd	*pw = getpwnam(user);

	if (pw == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
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
	uid_t		 me = geteuid(), admin, hwd, fw;

	if (peers_user_uid(SANDBOX_USER_HWD, &hwd) == 0 &&
	    peers_user_uid(SANDBOX_USER_FWSTORE, &fw) == 0 && hwd != fw &&
	    hwd != me && fw != me && (me == 0 || (peers_user_uid(
	    SANDBOX_USER_ADMIND, &admin) == 0 && admin == me))) {
		roles[0].uid = hwd;
		roles[1].uid = fw;
		log_info("control socket: hwd must connect as uid %u (%s), "
		    "fwstore as uid %u (%s)", (unsigned)hwd, SANDBOX_USER_HWD,
		    (unsigned)fw, SANDBOX_USER_FWSTORE);
	} else
		log_info("control socket: the daemons do not run as the "
		    "package's users %s, %s and %s (admind is uid %u): a "
		    "peer's role cannot be checked against its uid",
		    SANDBOX_USER_ADMIND, SANDBOX_USER_HWD, SANDBOX_USER_FWSTORE,
		    (unsigned)me);
	return roles;
}

static int
peers_auth(struct ctl_conn *c, uint32_t reqid, struct ctl_reader *r)
{
	struct buf	 reply = BUF_INIT;
	struct device	 dev;
	char		*token = NULL, *remote = NULL, hash[65];
	int		 found;

	if (ctl_get_str(r, &token) == -1 || ctl_get_str(r, &remote) == -1 ||
	    ctl_get_end(r) == -1 || reqid == 0) {
		free(token);
		free(remote);
		return -1;
	}
	util_sha256_hex(token, hash);
	free(token);
	found = store_device_by_token(env->store, hash, &dev);
	ctl_put_u8(&reply, found == 1 ? CTL_AUTH_OK : found == 0 ?
	    CTL_AUTH_UNKNOWN : CTL_AUTH_FAULT);
	ctl_put_u64(&reply, found == 1 ? (uint64_t)dev.id : 0);
	ctl_put_str(&reply, found == 1 ? dev.name : "");
	if (found == 0) {
		env->stats.unknown_tokens++;
		log_fields(LOG_WARNING, NULL, "login from %s with an unknown "
		    "token", remote);
	}
	ctl_send(c, CTL_AUTH_REPLY, reqid, &reply);
	if (found == 1)
		device_free(&dev);
	buf_free(&reply);
	free(remote);
	return 0;
}

static void
peers_publish(const char *kind, int64_t id, const char *remote)
{
	struct buf	 b = BUF_INIT;

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

static int
peers_online(struct ctl_reader *r)
{
	uint64_t	 id, conn;
	char		*remote = NULL, *local = NULL;
	struct online	*o;

	if (ctl_get_u64(r, &id) == -1 || ctl_get_u64(r, &conn) == -1 ||
	    ctl_get_str(r, &remote) == -1 || ctl_get_str(r, &local) == -1 ||
	    ctl_get_end(r) == -1) {
		free(remote);
		free(local);
		return -1;
	}
	if (env->resyncing && !peers_device_exists((int64_t)id)) {
		peers_drop_device((int64_t)id, 1, "the device was deleted");
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
		peers_publish("device.online", (int64_t)id, remote);
		sched_device_online((int64_t)id, remote);
	}
	free(remote);
	free(local);
	return 0;
}

static const char *
peers_pair(char **keys, char **values, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return values[i];
	return NULL;
}

/* A positive decimal value of the info, else 0. */
static int
peers_int(char **k, char **v, uint32_t n, const char *key)
{
	const char	*s = peers_pair(k, v, n, key);
	uint64_t	 x;

	if (s == NULL || util_parse_u64(s, &x) == -1 || x > 1000000)
		return 0;
	return (int)x;
}

/* PROTOCOL.md 1.4: parse by key; the firmware version is mcu, else fw,
 * else ver when blynk names the library (0.5.x); the library version is
 * blynk, else ver. */
static void
peers_store_info(int64_t id, char **k, char **v, uint32_t n)
{
	const char *fw = peers_pair(k, v, n, "mcu");
	const char *lib = peers_pair(k, v, n, "blynk");
	const char *ver = peers_pair(k, v, n, "ver");
	const char *build = peers_pair(k, v, n, "build");
	const char *type = peers_pair(k, v, n, "fw-type");
	const char *board = peers_pair(k, v, n, "dev");

	if (fw == NULL)
		fw = peers_pair(k, v, n, "fw");
	if (fw == NULL && lib != NULL)
		fw = ver;
	if (lib == NULL)
		lib = ver;
	if (store_light(env->store) == -1 ||
	    store_device_set_link(env->store, id, peers_int(k, v, n,
	    "buff-in"), peers_int(k, v, n, "h-beat")) == -1 ||
	    store_device_set_info(env->store, id, fw ? fw : "",
	    build ? build : "", type ? type : "", board ? board : "",
	    lib ? lib : "") == -1)
		log_warnx("device %" PRId64 ": its hardware info is not "
		    "stored", id);
}

static int
peers_info(struct ctl_reader *r)
{
	uint64_t	 id, conn;
	uint32_t	 n, i = 0;
	char		*keys[PEER_MAX_INFO_PAIRS], *values[PEER_MAX_INFO_PAIRS];
	int		 rc = -1;

	if (ctl_get_u64(r, &id) == -1 || ctl_get_u64(r, &conn) == -1 ||
	    ctl_get_u32(r, &n) == -1 || n > PEER_MAX_INFO_PAIRS)
		return -1;
	for (; i < n; i++) {
		values[i] = NULL;
		if (ctl_get_str(r, &keys[i]) == -1 ||
		    ctl_get_str(r, &values[i]) == -1) {
			free(keys[i]);
			free(values[i]);
			goto out;
		}
	}
	if (ctl_get_end(r) == -1)
		goto out;
	rc = 0;
	if (online_get((int64_t)id) == NULL)
		goto out;
	peers_store_info((int64_t)id, keys, values, n);
	online_get((int64_t)id)->has_info = 1;
	sched_device_info((int64_t)id);
out:
	while (i-- > 0) {
		free(keys[i]);
		free(values[i]);
	}
	return rc;
}

static int
peers_offline(struct ctl_reader *r)
{
	uint64_t	 id, conn;

	if (ctl_get_u64(r, &id) == -1 || ctl_get_u64(r, &conn) == -1 ||
	    ctl_get_end(r) == -1)
		return -1;
	/* Its deliveries in flight wait for the device to come back. */
	if (online_remove((int64_t)id))
		peers_publish("device.offline", (int64_t)id, "");
	return 0;
}

static int
peers_ota_sent(struct ctl_reader *r)
{
	uint64_t	 id, delivery;
	uint32_t	 reached;
	char		*error = NULL;

	if (ctl_get_u64(r, &id) == -1 || ctl_get_u64(r, &delivery) == -1 ||
	    ctl_get_u32(r, &reached) == -1 || ctl_get_str(r, &error) == -1 ||
	    ctl_get_end(r) == -1) {
		free(error);
		return -1;
	}
	sched_ota_sent((int64_t)id, (int64_t)delivery, reached, error);
	free(error);
	return 0;
}

static int
peers_event(struct ctl_reader *r)
{
	uint64_t	 id;
	char		*name = NULL, *text = NULL;

	if (ctl_get_u64(r, &id) == -1 || ctl_get_str(r, &name) == -1 ||
	    ctl_get_str(r, &text) == -1 || ctl_get_end(r) == -1) {
		free(name);
		free(text);
		return -1;
	}
	devevents_add((int64_t)id, name, text);
	free(name);
	free(text);
	return 0;
}

static int
peers_dispatch_hwd(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	switch (type) {
	case CTL_AUTH:
		return peers_auth(c, reqid, r);
	case CTL_ONLINE_RESET:
		if (ctl_get_end(r) == -1)
			return -1;
		online_clear();
		env->resyncing = 1;
		env->resync_since = util_now_ms();
		return 0;
	case CTL_ONLINE_DONE:
		if (ctl_get_end(r) == -1)
			return -1;
		env->resyncing = 0;
		return 0;
	case CTL_ONLINE:
		return peers_online(r);
	case CTL_INFO:
		return peers_info(r);
	case CTL_OFFLINE:
		return peers_offline(r);
	case CTL_OTA_SENT:
		return peers_ota_sent(r);
	case CTL_EVENT:
		return peers_event(r);
	case CTL_HWD_STATS:
		return ctl_get_u64(r, &env->stats.hwd_connections) == -1 ||
		    ctl_get_u64(r, &env->stats.hwd_refused) == -1 ||
		    ctl_get_end(r) == -1 ? -1 : 0;
	default:
		return -1;
	}
}

static int
peers_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	if (c == env->hwd)
		return peers_dispatch_hwd(c, type, reqid, r);
	if (c == env->fwstore)
		return grant_dispatch(c, type, reqid, r);
	return -1;
}

const struct ctl_conn_ops admind_peer_ops = {
	.on_msg = peers_msg,
	.on_close = peers_closed,
};

int
peers_send_ota(int64_t device_id, int64_t delivery_id, const char *ticket)
{
	struct buf	 b = BUF_INIT;
	char		 path[80];
	int		 rc;

	if (env->hwd == NULL)
		return -1;
	snprintf(path, sizeof(path), "/ota/%s", ticket);
	ctl_put_u64(&b, (uint64_t)device_id);
	ctl_put_u64(&b, (uint64_t)delivery_id);
	ctl_put_str(&b, path);
	rc = ctl_send(env->hwd, CTL_OTA_SEND, 0, &b);
	buf_free(&b);
	return rc;
}

/* Closes the device's connections in hwd (deleted: forget, or its token
 * rotated).  Without hwd there is nothing to close: a resync names the
 * devices hwd still holds, and peers_online() drops deleted ones then. */
void
peers_drop_device(int64_t device_id, int forget, const char *why)
{
	struct buf	 b = BUF_INIT;

	if (env->hwd == NULL)
		return;
	ctl_put_u64(&b, (uint64_t)device_id);
	ctl_put_u8(&b, forget ? 1 : 0);
	ctl_put_str(&b, why);
	ctl_send(env->hwd, CTL_DEVICE_DROP, 0, &b);
	buf_free(&b);
}
