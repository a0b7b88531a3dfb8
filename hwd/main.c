/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd: the device-connection daemon.  It holds the TCP and TLS
 * connections of the ESP devices (the Blynk hardware protocol), checks
 * their tokens with admind and sends them the OTA commands admind asks for.
 * It keeps no state on disk; this file starts it and stops it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "cfg.h"
#include "gate.h"
#include "hwd.h"
#include "listen.h"
#include "log.h"
#include "sandbox.h"
#include "tls.h"
#include "workers.h"

#define HWD_STOP_GRACE_MS	3000

struct hwd		 hwd_env;

static uv_signal_t	 hwd_sigint, hwd_sigterm;
static uv_timer_t	 hwd_stop_timer;

/* -t: the configuration, and the TLS files hwd would load. */
static int
hwd_check(struct cfg *cfg, int problems)
{
	SSL_CTX	*ctx;
	char	 err[256];

	if (problems == 0 && *cfg->hwd.tls_listen != '\0') {
		if ((ctx = tls_server_ctx(cfg->hwd.tls_cert, cfg->hwd.tls_key,
		    err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s: [hwd] %s\n", cfg->path, err);
			problems++;
		}
		SSL_CTX_free(ctx);
	}
	gate_check_cap(stderr, "otad-hwd", "[hwd] max_connections",
	    cfg->hwd.max_connections,
	    gate_cap(gate_nofile(), 1, cfg->hwd.max_connections));
	if (problems == 0)
		fprintf(stderr, "%s: configuration OK\n", cfg->path);
	return problems == 0 ? 0 : 1;
}

static void
hwd_stop_timeout(uv_timer_t *t)
{
	log_warnx("still busy %d ms after the stop request; leaving",
	    HWD_STOP_GRACE_MS);
	uv_stop(hwd_env.loop);
}

static void
hwd_signal(uv_signal_t *sig, int signum)
{
	if (hwd_env.stopping)
		return;
	hwd_env.stopping = 1;
	log_info("stopping on %s", strsignal(signum));
	hwd_conn_stop();
	hwd_admind_stop();
	hwd_timeout_stop();
	uv_close((uv_handle_t *)&hwd_sigint, NULL);
	uv_close((uv_handle_t *)&hwd_sigterm, NULL);
	/* The loop ends when every handle is closed; this bounds the wait. */
	uv_timer_init(hwd_env.loop, &hwd_stop_timer);
	uv_timer_start(&hwd_stop_timer, hwd_stop_timeout, HWD_STOP_GRACE_MS,
	    0);
	uv_unref((uv_handle_t *)&hwd_stop_timer);
}

static void
hwd_close_handle(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
hwd_run(void)
{
	uv_signal_init(hwd_env.loop, &hwd_sigint);
	uv_signal_init(hwd_env.loop, &hwd_sigterm);
	uv_signal_start(&hwd_sigint, hwd_signal, SIGINT);
	uv_signal_start(&hwd_sigterm, hwd_signal, SIGTERM);
	sandbox_ready(hwd_env.loop, "serving devices on %s",
	    hwd_env.cfg.hwd.listen);
	log_info("otad-hwd %s started", OTAD_VERSION);
	uv_run(hwd_env.loop, UV_RUN_DEFAULT);
	sandbox_stopping();
	/* Whatever is still open (a stuck handle, a reconnect in flight). */
	uv_walk(hwd_env.loop, hwd_close_handle, NULL);
	uv_run(hwd_env.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(hwd_env.loop) != 0)
		log_debug("event loop not empty at exit");
}

/* Worker w's listening sockets, bound by the supervisor (listen.h). */
static int
hwd_bind(unsigned w, void *arg, char *err, size_t len)
{
	struct cfg	*cfg = &hwd_env.cfg;
	char		 why[200];

	if (*cfg->hwd.listen != '\0' &&
	    listen_bind(cfg->hwd.listen, w, why, sizeof(why)) == -1) {
		snprintf(err, len, "[hwd] listen: %s", why);
		return -1;
	}
	if (*cfg->hwd.tls_listen != '\0' &&
	    listen_bind(cfg->hwd.tls_listen, w, why, sizeof(why)) == -1) {
		snprintf(err, len, "[hwd] tls_listen: %s", why);
		return -1;
	}
	return 0;
}

/* hwd itself, or worker w of several: its exit status. */
static int
hwd_worker(unsigned w, void *arg)
{
	hwd_env.loop = uv_default_loop();
	hwd_timeout_start();
	if (hwd_conn_listen() == -1)
		return EX_UNAVAILABLE;
	if (hwd_admind_start(w + 1) == -1)
		return 1;
	/* Sockets bound, TLS key read: nothing on disk from here on. */
	sandbox_drop(SANDBOX_USER_HWD);
	sandbox_landlock(NULL);
	hwd_run();
	hwd_devices_free();
	free(hwd_env.ctl.path);
	log_info("stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cfg_args	 args;
	struct workers_spec spec = { "otad-hwd", 0, "serving devices",
	    hwd_bind, hwd_worker, NULL };
	int		 problems, rc;

	cfg_args(argc, argv, "otad-hwd", &args);
	problems = cfg_load(&hwd_env.cfg, args.path, stderr);
	if (args.check)
		return hwd_check(&hwd_env.cfg, problems);
	if (problems)
		fatalx_status(EX_CONFIG, "%s: %d configuration problem%s",
		    args.path, problems, problems == 1 ? "" : "s");
	signal(SIGPIPE, SIG_IGN);
	spec.n = workers_count(hwd_env.cfg.hwd.workers);
	rc = spec.n == 1 ? hwd_worker(0, NULL) : workers_run(&spec);
	cfg_free(&hwd_env.cfg);
	return rc;
}
