/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for admind's control-socket handlers: all of admind but
 * main() with a real database in a temporary directory, its libuv loop and
 * its control socket.  Each input is one peer: the first byte picks the role
 * (hwd or fwstore), a valid hello follows, then the rest of the input as the
 * peer's bytes, so every handler of that role sees them after the transport's
 * checks.  admind must answer or close the peer, never crash or leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "admind.h"
#include "ctl.h"
#include "log.h"
#include "util.h"

#define FUZZ_TOKEN	"fuzz-token-0123456789"
#define FUZZ_TURNS	1000		/* loop turns an input may take */

struct admind	*env;

static struct admind	 fuzz_admind;
static char		 fuzz_sock[PATH_MAX];

/* A device (token FUZZ_TOKEN) so that auth, online and info reach it. */
static void
fuzz_seed(void)
{
	char	 hash[65];
	int64_t	 id;

	util_sha256_hex(FUZZ_TOKEN, hash);
	if (store_device_create(env->store, "fuzz", hash, "", &id) != 0)
		abort();
}

static void
fuzz_init(void)
{
	static char	 dir[] = "/tmp/fuzz_peers.XXXXXX";
	char		 path[PATH_MAX], err[512];
	struct admind	*a = &fuzz_admind;

	if (mkdtemp(dir) == NULL)
		abort();
	env = a;
	a->loop = uv_default_loop();
	cfg_defaults(&a->cfg);
	free(a->cfg.state_dir);
	if ((a->cfg.state_dir = strdup(dir)) == NULL)
		abort();
	a->online_buckets = 64;
	if ((a->online = calloc(a->online_buckets, sizeof(*a->online))) ==
	    NULL || (a->firmware_dir = cfg_firmware_dir(&a->cfg)) == NULL ||
	    util_mkdirs(a->firmware_dir, 0750) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/otad.db", dir);
	if ((a->store = store_open(path, err, sizeof(err))) == NULL)
		abort();
	fuzz_seed();
	sched_start();
	peers_start();
	snprintf(fuzz_sock, sizeof(fuzz_sock), "%s/control.sock", dir);
	a->ctl.ops = &admind_peer_ops;
	a->ctl.on_accept = peers_accept;
	a->ctl.roles = peers_roles();
	if (ctl_server_listen(a->loop, &a->ctl, fuzz_sock) == -1)
		abort();
}

/* The peer's socket with the hello and the input queued, write side shut:
 * admind reads it all, then EOF. */
static int
fuzz_peer(const uint8_t *data, size_t size)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl_msg_hello hello = { CTL_VERSION,
	    data[0] & 1 ? "fwstore" : "hwd", 1 };
	struct buf	 out = BUF_INIT;
	int		 s;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fuzz_sock);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	if (ctl_frame_encode_msg(&out, CTL_HELLO, 1, &hello) == -1 ||
	    buf_add(&out, data + 1, size - 1) == -1)
		abort();
	/* the socket buffer holds -max_len=16384 bytes and more */
	if (write(s, out.data, out.len) != (ssize_t)out.len ||
	    shutdown(s, SHUT_WR) == -1)
		abort();
	buf_free(&out);
	return s;
}

/* Runs admind until it closed the peer (EOF on our side) and forgot it. */
static void
fuzz_run(int s)
{
	char	 drain[65536];
	ssize_t	 n = -1;

	for (int turn = 0; turn < FUZZ_TURNS; turn++) {
		uv_run(env->loop, UV_RUN_NOWAIT);
		while ((n = read(s, drain, sizeof(drain))) > 0)
			;
		if (n == 0 && env->nhwd == 0 && env->nfwstore == 0)
			break;
		if (n == -1 && errno != EAGAIN)
			break;
	}
	if (env->nhwd != 0 || env->nfwstore != 0)
		abort();	/* admind kept a peer whose bytes all ended */
	close(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;

	if (!ready) {
		log_init("fuzz_peers", 0);
		fuzz_init();
		ready = 1;
	}
	if (size < 1)
		return 0;
	fuzz_run(fuzz_peer(data, size));
	return 0;
}
