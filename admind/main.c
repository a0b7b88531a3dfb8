/* SPDX-License-Identifier: MIT */
/*
 * otad-admind: the admin daemon.  Reads the configuration, opens the
 * database (running migrations), loads the admins file and the TLS
 * certificate (making a self-signed one in state_dir when none is set),
 * then serves the HTTPS admin API and the control socket until SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <uv.h>

#include "admind.h"
#include "gate.h"
#include "log.h"
#include "sandbox.h"
#include "tls.h"
#include "util.h"

#define ADMIND_MAX_CONNS	1024	/* admin API connections at once */

struct admind	*env;

/* The admin certificate and key: the configured pair (returns 1), or the
 * self-signed pair in state_dir (returns 0).  Both hold PATH_MAX. */
static int
admind_tls_files(const struct cfg *cfg, char *cert, char *key)
{
	if (*cfg->admind.tls_cert && *cfg->admind.tls_key) {
		snprintf(cert, PATH_MAX, "%s", cfg->admind.tls_cert);
		snprintf(key, PATH_MAX, "%s", cfg->admind.tls_key);
		return 1;
	}
	snprintf(cert, PATH_MAX, "%s/admin.crt", cfg->state_dir);
	snprintf(key, PATH_MAX, "%s/admin.key", cfg->state_dir);
	return 0;
}

/* The certificate's pin, for `otad --pin` against a self-signed one. */
static void
admind_tls_pin(SSL_CTX *ctx, const char *cert)
{
	char	 pin[TLS_PIN_LEN];

	if (tls_key_pin(ctx, pin) == 0)
		log_info("admin API certificate %s, public key pin %s (otad "
		    "--pin)", cert, pin);
}

static SSL_CTX *
admind_tls(const struct cfg *cfg)
{
	char	 cert[PATH_MAX], key[PATH_MAX], host[256], err[512];
	SSL_CTX	*ctx;

	if (!admind_tls_files(cfg, cert, key)) {
		if (access(cert, R_OK) == -1 || access(key, R_OK) == -1) {
			if (gethostname(host, sizeof(host)) == -1)
				snprintf(host, sizeof(host), "localhost");
			if (tls_make_self_signed(cert, key, host, err,
			    sizeof(err)) == -1)
				fatalx_status(EX_CONFIG, "%s", err);
			log_info("no tls_cert configured: made a self-signed "
			    "certificate %s", cert);
		}
	}
	if ((ctx = tls_server_ctx(cert, key, err, sizeof(err))) == NULL)
		fatalx_status(EX_CONFIG, "%s", err);
	admind_tls_pin(ctx, cert);
	return ctx;
}

/*
 * SIGHUP: read the TLS certificate and key again, so that a certbot
 * deploy hook renews them without a restart.  New connections get the
 * new context (each open one keeps a reference to its own); when the
 * files do not load, the old context stays and the log says why.
 */
static void
admind_reload_tls(void)
{
	char	 cert[PATH_MAX], key[PATH_MAX], err[512];
	SSL_CTX	*ctx;

	admind_tls_files(&env->cfg, cert, key);
	if ((ctx = tls_server_ctx(cert, key, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: kept the current TLS certificate: %s", err);
		return;
	}
	SSL_CTX_free(env->http.tls);
	env->http.tls = ctx;
	admind_tls_pin(ctx, cert);
	log_info("SIGHUP: reloaded the TLS certificate %s and key %s", cert,
	    key);
}

/* SIGHUP (`systemctl reload otad-admind`): the TLS files and the admins
 * file again, each kept as it is when its new version does not load. */
static void
admind_reload(uv_signal_t *s, int signum)
{
	admind_reload_tls();
	auth_reload_admins();
}

/* Once a turn: the events of the turn go to the other nodes, the light
 * batch commits, the database's answers are told. */
static void
admind_flush(uv_check_t *h)
{
	store_poll(env->store);
	cluster_flush();
	store_flush(env->store);
	storewatch_update();
}

static void
admind_signal(uv_signal_t *s, int signum)
{
	log_info("signal %d: stopping", signum);
	uv_stop(s->loop);
}

/* Uploads cut short by a crash leave .upload-* temporaries: never half
 * visible, and gone at the next start. */
static void
admind_sweep_uploads(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".upload-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_info("removed %s, left by an interrupted upload",
			    path);
	}
	closedir(d);
}

static void
admind_open(struct admind *a)
{
	char	 path[PATH_MAX], err[512];

	if (util_mkdirs(a->cfg.state_dir, 0750) == -1)
		fatal("state_dir %s", a->cfg.state_dir);
	if ((a->firmware_dir = cfg_firmware_dir(&a->cfg)) == NULL ||
	    util_mkdirs(a->firmware_dir, 0750) == -1)
		fatal("firmware directory %s/firmware", a->cfg.state_dir);
	admind_sweep_uploads(a->firmware_dir);
	snprintf(path, sizeof(path), "%s/otad.db", a->cfg.state_dir);
	if ((a->store = store_open(*a->cfg.database ? a->cfg.database : path,
	    err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((a->admins = admins_load(a->cfg.admind.admins_file, err,
	    sizeof(err))) == NULL)
		fatalx_status(EX_CONFIG, "%s", err);
	if (netaddr_acl_parse(&a->acl, a->cfg.admind.allowed_ips, err,
	    sizeof(err)) == -1)
		fatalx_status(EX_CONFIG, "allowed_ips: %s", err);
	if (netaddr_acl_parse(&a->trusted_proxies,
	    a->cfg.admind.trusted_proxies, err, sizeof(err)) == -1)
		fatalx_status(EX_CONFIG, "trusted_proxies: %s", err);
}

static void
admind_listen(struct admind *a)
{
	char	 err[512];

	a->http.loop = a->loop;
	a->http.tls = admind_tls(&a->cfg);
	a->http.handler = &api_router_handler;
	a->http.data = a;
	a->http.max_conns = ADMIND_MAX_CONNS;
	/* a connection may hold an upload's file too */
	a->http.conn_cap = gate_cap(gate_nofile(), 2, 0);
	a->http.what = "admin API";
	a->http.per_address = a->cfg.admind.max_connections_per_address;
	a->http.per_address_key = "[admind] max_connections_per_address";
	a->http.acl = &a->acl;	/* refused before TLS when many */
	a->http.trusted = &a->trusted_proxies;
	a->http.head_timeout_ms = a->cfg.admind.head_timeout * 1000;
	a->http.idle_timeout_ms = 60000;
	if (http_server_start(&a->http, a->cfg.admind.listen, err,
	    sizeof(err)) == -1)
		fatalx_status(EX_UNAVAILABLE, "admin API listen %s: %s",
		    a->cfg.admind.listen, err);
	a->ctl.ops = &admind_peer_ops;
	a->ctl.on_accept = peers_accept;
	a->ctl.roles = peers_roles();
	a->ctl.data = a;
	if (ctl_server_listen(a->loop, &a->ctl, a->cfg.control_socket) == -1)
		fatalx("cannot listen on the control socket %s",
		    a->cfg.control_socket);
}

int
main(int argc, char *argv[])
{
	static struct admind a;
	struct cfg_args	 args;
	uv_signal_t	 sigint, sigterm, sighup;

	cfg_args(argc, argv, "otad-admind", &args);
	if (cfg_load(&a.cfg, args.path, stderr) != 0)
		exit(args.check ? 1 : EX_CONFIG);
	if (args.check) {
		gate_check_cap(stderr, "otad-admind", "the admin API's "
		    "connection limit", ADMIND_MAX_CONNS,
		    gate_cap(gate_nofile(), 2, ADMIND_MAX_CONNS));
		fprintf(stderr, "%s: configuration OK\n", args.path);
		exit(0);
	}
	signal(SIGPIPE, SIG_IGN);
	env = &a;
	a.loop = uv_default_loop();
	a.online_buckets = 4096;
	if ((a.online = calloc(a.online_buckets, sizeof(*a.online))) == NULL)
		fatal("calloc");
	/* As root: the state must belong to otad-admin from the start. */
	sandbox_drop(SANDBOX_USER_ADMIND);
	admind_open(&a);
	admind_listen(&a);
	/* hwd and fwstore (their own users) may connect and read firmware. */
	if (sandbox_share(a.cfg.control_socket, SANDBOX_GROUP_CONTROL,
	    0660) == -1 || sandbox_share(a.firmware_dir,
	    SANDBOX_GROUP_FIRMWARE, 02750) == -1)
		exit(1);
	/* window.c switches TZ while it reads a window's zone; set now, the
	 * variable is only ever replaced in place, never added or removed
	 * while libcurl's resolver threads may read the environment */
	if (getenv("TZ") == NULL && setenv("TZ", ":/etc/localtime", 1) == -1)
		fatal("setenv TZ");
	/* before anything that may publish an event (sched_start settles
	 * jobs) */
	webhook_start();
	sched_start();
	consent_start();
	timetable_start();
	devevents_start();
	cluster_start();
	storewatch_start();
	peers_start();
	/* The batch of non-transition writes is committed once per turn. */
	uv_check_init(a.loop, &a.flush);
	uv_check_start(&a.flush, admind_flush);
	uv_unref((uv_handle_t *)&a.flush);
	uv_signal_init(a.loop, &sigint);
	uv_signal_start(&sigint, admind_signal, SIGINT);
	uv_signal_init(a.loop, &sigterm);
	uv_signal_start(&sigterm, admind_signal, SIGTERM);
	uv_signal_init(a.loop, &sighup);
	uv_signal_start(&sighup, admind_reload, SIGHUP);
	if (*a.cfg.database)
		log_info("admin API on %s, control socket %s, database "
		    "PostgreSQL, node %s", a.cfg.admind.listen,
		    a.cfg.control_socket, a.cfg.node);
	else
		log_info("admin API on %s, control socket %s, database "
		    "%s/otad.db", a.cfg.admind.listen, a.cfg.control_socket,
		    a.cfg.state_dir);
	sandbox_ready(a.loop, "admin API on %s", a.cfg.admind.listen);
	uv_run(a.loop, UV_RUN_DEFAULT);
	sandbox_stopping();
	unlink(a.cfg.control_socket);
	cluster_stop();
	storewatch_stop();
	store_flush(a.store);
	store_close(a.store);
	return 0;
}
