/* SPDX-License-Identifier: MIT */
/*
 * otad-fwstore: the firmware download daemon.  Reads the configuration,
 * connects to admind over the control socket, serves firmware downloads on
 * cfg.fwstore.listen (and HTTPS on tls_listen) until SIGINT or SIGTERM.
 * Runs as user otad-fw with read-only access to the firmware directory.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <uv.h>

#include "cfg.h"
#include "gate.h"
#include "listen.h"
#include "log.h"
#include "tls.h"
#include "sandbox.h"
#include "workers.h"

#include "fwstore.h"

static int	fwstore_check(struct cfg *, const char *, int);
static void	fwstore_on_signal(uv_signal_t *, int);
static void	fwstore_signals(struct fwstore *);

static struct cfg	 fwstore_cfg;
static unsigned		 fwstore_workers;

/* Worker w's listening sockets, bound by the supervisor (listen.h). */
static int
fwstore_bind(unsigned w, void *arg, char *err, size_t len)
{
	struct cfg	*cfg = &fwstore_cfg;
	char		 why[200];

	if (listen_bind(cfg->fwstore.listen, w, why, sizeof(why)) == -1) {
		snprintf(err, len, "[fwstore] listen: %s", why);
		return -1;
	}
	if (*cfg->fwstore.tls_listen != '\0' &&
	    listen_bind(cfg->fwstore.tls_listen, w, why, sizeof(why)) == -1) {
		snprintf(err, len, "[fwstore] tls_listen: %s", why);
		return -1;
	}
	/* A client's requests (a resumed download's ranges) meet in one
	 * worker, and its per-address count is exact. */
	if (w + 1 == fwstore_workers &&
	    (listen_steer(cfg->fwstore.listen, w + 1, err, len) == -1 ||
	    (*cfg->fwstore.tls_listen != '\0' &&
	    listen_steer(cfg->fwstore.tls_listen, w + 1, err, len) == -1)))
		return -1;
	return 0;
}

/* fwstore itself, or worker w of several: its exit status. */
static int
fwstore_worker(unsigned w, void *arg)
{
	struct cfg	*cfg = &fwstore_cfg;
	struct fwstore	 fw;
	char		 err[256];

	memset(&fw, 0, sizeof(fw));
	fw.loop = uv_default_loop();
	fw.cfg = cfg;
	fw.ctl.worker = w + 1;
	if ((fw.firmware_dir = cfg_firmware_dir(cfg)) == NULL)
		fatalx("cannot name the firmware directory");
	fwstore_signals(&fw);
	if (fwstore_ctl_start(&fw) == -1)
		fatalx("cannot start the control client");
	if (fwstore_download_start(&fw, err, sizeof(err)) == -1)
		fatalx_status(EX_UNAVAILABLE, "%s", err);
	sandbox_drop(SANDBOX_USER_FWSTORE);
	sandbox_landlock((const char *[]){ fw.firmware_dir, NULL });
	log_info("serving firmware from %s on %s", fw.firmware_dir,
	    cfg->fwstore.listen);
	sandbox_ready(fw.loop, "serving firmware on %s", cfg->fwstore.listen);

	uv_run(fw.loop, UV_RUN_DEFAULT);

	sandbox_stopping();
	log_info("stopped");
	free(fw.firmware_dir);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cfg_args	 args;
	struct workers_spec spec = { "otad-fwstore", 0, "serving firmware",
	    fwstore_bind, fwstore_worker, NULL };
	int		 rc;

	cfg_args(argc, argv, "otad-fwstore", &args);
	if (fwstore_check(&fwstore_cfg, args.path, args.check) == -1)
		return args.check ? 1 : EX_CONFIG;
	if (args.check) {
		cfg_free(&fwstore_cfg);
		return 0;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	spec.n = fwstore_workers = workers_count(fwstore_cfg.fwstore.workers);
	rc = spec.n == 1 ? fwstore_worker(0, NULL) : workers_run(&spec);
	cfg_free(&fwstore_cfg);
	return rc;
}

/* Loads the configuration; with -t also the TLS files of tls_listen, says
 * so, and the caller exits. */
static int
fwstore_check(struct cfg *cfg, const char *path, int check)
{
	SSL_CTX	*ctx;
	char	 err[256];
	int	 problems;

	if ((problems = cfg_load(cfg, path, stderr)) != 0) {
		fprintf(stderr, "otad-fwstore: %s: %d problem%s\n", path,
		    problems, problems == 1 ? "" : "s");
		cfg_free(cfg);
		return -1;
	}
	if (check && *cfg->fwstore.tls_listen != '\0') {
		if ((ctx = tls_server_ctx(cfg->fwstore.tls_cert,
		    cfg->fwstore.tls_key, err, sizeof(err))) == NULL) {
			fprintf(stderr, "otad-fwstore: %s: [fwstore] %s\n",
			    path, err);
			cfg_free(cfg);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	if (check) {
		gate_check_cap(stderr, "otad-fwstore", "[fwstore] max_downloads",
		    cfg->fwstore.max_downloads, fwstore_max_downloads(cfg));
		fprintf(stderr, "otad-fwstore: %s: configuration OK\n", path);
	}
	return 0;
}

static void
fwstore_signals(struct fwstore *fw)
{
	if (uv_signal_init(fw->loop, &fw->sigint) != 0 ||
	    uv_signal_init(fw->loop, &fw->sigterm) != 0)
		fatalx("cannot watch signals");
	fw->sigint.data = fw->sigterm.data = fw;
	if (uv_signal_start(&fw->sigint, fwstore_on_signal, SIGINT) != 0 ||
	    uv_signal_start(&fw->sigterm, fwstore_on_signal, SIGTERM) != 0)
		fatalx("cannot watch signals");
}

/* Downloads under way are cut: the devices retry, admind hears nothing
 * more and times them out. */
static void
fwstore_on_signal(uv_signal_t *sig, int signum)
{
	struct fwstore	*fw = sig->data;

	log_info("%s: stopping", strsignal(signum));
	uv_stop(fw->loop);
}
