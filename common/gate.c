/* SPDX-License-Identifier: MIT */
/*
 * Admission of new connections (see gate.h), run by hwd for devices and by
 * the HTTP glue of admind and fwstore.  A daemon never lets accept(2) fail
 * for want of descriptors: libuv answers that by reopening a spare
 * descriptor, which Landlock forbids, and then spins in accept4 for good.
 * So each listener stops at the cap the open-file limit allows and waits
 * until a connection ends; one address may hold only so many connections.
 * Should accept fail all the same, a spare descriptor per listener is given
 * back to refuse one connection, and the listeners wait until the spares
 * are whole again.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "gate.h"
#include "log.h"
#include "netaddr.h"

#define GATE_WINDOW_MS		60000
#define GATE_RETRY_MS		1000	/* spares missing: try again */
#define GATE_NOFILE_FALLBACK	1048576	/* when the hard limit is infinite */

struct gate_client {
	struct gate_client	*next;
	unsigned		 nconns;
	char			 name[NETADDR_STRLEN];
};

static void	gate_resume_cb(uv_timer_t *);
static void	gate_window_cb(uv_timer_t *);
static void	gate_log(struct gate *, enum gate_why, uint64_t);
static void	gate_refuse_one(struct gate *, uv_stream_t *);
static int	gate_spares_fill(uv_loop_t *);
static int	gate_spare_give(void);
static void	gate_park(struct gate *, uv_stream_t *, int);
static struct gate_client **gate_find(struct gate *, const char *);
static const char *gate_thousands(uint64_t, char *, size_t);

/* The spare descriptors, one per listener of the process: -1 while given
 * back.  A listener is let go again only when all are whole, so accept(2)
 * can fail only while each listener holds a spare or a parked connection. */
static int	 gate_spares[GATE_MAX_SPARES];
static int	 gate_nspares;

uint64_t
gate_nofile(void)
{
	static uint64_t	 nofile;
	struct rlimit	 rl;

	if (nofile != 0)
		return nofile;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return nofile = 1024;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ?
		    GATE_NOFILE_FALLBACK : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("cannot raise the open-file limit to %llu",
			    (unsigned long long)rl.rlim_cur);
			if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
				return nofile = 1024;
		}
	}
	nofile = rl.rlim_cur == RLIM_INFINITY ? GATE_NOFILE_FALLBACK :
	    (uint64_t)rl.rlim_cur;
	return nofile;
}

unsigned
gate_cap(uint64_t nofile, unsigned fds_per_conn, unsigned configured)
{
	uint64_t	 room, cap;

	room = nofile > 2 * GATE_RESERVE ? nofile - GATE_RESERVE : nofile / 2;
	cap = room / (fds_per_conn == 0 ? 1 : fds_per_conn);
	if (configured != 0 && configured < cap)
		cap = configured;
	if (cap > UINT_MAX)
		cap = UINT_MAX;
	return cap == 0 ? 1 : (unsigned)cap;
}

int
gate_check_cap(FILE *errs, const char *prog, const char *key,
    unsigned configured, unsigned cap)
{
	if (configured == 0 || cap >= configured)
		return 0;
	fprintf(errs, "%s: warning: %s = %u cannot be reached: the open-file "
	    "limit %llu allows %u; raise it (LimitNOFILE=, ulimit -n)\n", prog,
	    key, configured, (unsigned long long)gate_nofile(), cap);
	return 1;
}

int
gate_start(struct gate *g, uv_loop_t *loop, const char *what, unsigned cap,
    unsigned configured, unsigned per_address, const char *key)
{
	memset(g, 0, sizeof(*g));
	g->loop = loop;
	g->what = what;
	g->key = key;
	g->nofile = gate_nofile();
	g->cap = cap;
	g->per_address = per_address;
	if (uv_timer_init(loop, &g->resume) != 0 ||
	    uv_timer_init(loop, &g->window) != 0) {
		log_warnx("%s: cannot start the connection gate", what);
		return -1;
	}
	g->resume.data = g->window.data = g;
	uv_unref((uv_handle_t *)&g->resume);
	uv_unref((uv_handle_t *)&g->window);
	g->started = 1;
	if (configured == 0 || configured > cap)
		configured = cap;
	if (per_address != 0)
		log_info("%s: at most %u connections at once (the open-file "
		    "limit %llu allows %u), %u per client", what, configured,
		    (unsigned long long)g->nofile, cap, per_address);
	else
		log_info("%s: at most %u connections at once (the open-file "
		    "limit %llu allows %u)", what, configured,
		    (unsigned long long)g->nofile, cap);
	return 0;
}

void
gate_stop(struct gate *g)
{
	struct gate_client	*cl, *next;

	if (!g->started)
		return;
	g->started = 0;
	g->nwaiting = 0;
	uv_close((uv_handle_t *)&g->resume, NULL);
	uv_close((uv_handle_t *)&g->window, NULL);
	for (size_t i = 0; i < GATE_BUCKETS; i++)
		for (cl = g->clients[i]; cl != NULL; cl = next) {
			next = cl->next;
			free(cl);
		}
	memset(g->clients, 0, sizeof(g->clients));
}

int
gate_add_listener(struct gate *g, uv_stream_t *listener)
{
	if (gate_nspares == GATE_MAX_SPARES) {
		log_warnx("%s: too many listeners for spare descriptors",
		    g->what);
		return -1;
	}
	gate_spares[gate_nspares++] = -1;
	return gate_spares_fill(g->loop);
}

int
gate_admit(struct gate *g, uv_stream_t *listener, int status)
{
	int	 whole;

	if (status == UV_EMFILE || status == UV_ENFILE) {
		gate_refuse_one(g, listener);
		return 0;
	}
	if (status < 0) {
		log_debug("%s: accept: %s", g->what, uv_strerror(status));
		return 0;
	}
	whole = gate_spares_fill(g->loop) == 0;
	if (g->nconns < g->cap && whole)
		return 1;
	gate_park(g, listener, whole);
	return 0;
}

/* The listener's pending connection waits (libuv stops watching it). */
static void
gate_park(struct gate *g, uv_stream_t *listener, int at_cap)
{
	for (int i = 0; i < g->nwaiting; i++)
		if (g->waiting[i] == listener)
			return;
	if (g->nwaiting == GATE_MAX_WAITING)
		return;		/* cannot happen: listeners are fewer */
	g->waiting[g->nwaiting++] = listener;
	if (at_cap)
		gate_refused(g, GATE_WHY_FDS, NULL);
	else if (g->started)
		uv_timer_start(&g->resume, gate_resume_cb, GATE_RETRY_MS, 0);
}

int
gate_enter(struct gate *g, const struct sockaddr *peer)
{
	struct gate_client	**slot, *cl;
	char			 name[NETADDR_STRLEN];

	g->nconns++;
	if (g->per_address == 0)
		return 0;	/* no limit: nothing to count per client */
	netaddr_client(peer, name, sizeof(name));
	slot = gate_find(g, name);
	if ((cl = *slot) == NULL) {
		if ((cl = calloc(1, sizeof(*cl))) == NULL) {
			log_warn("%s: client table", g->what);
			return 0;	/* uncounted: gate_leave finds none */
		}
		snprintf(cl->name, sizeof(cl->name), "%s", name);
		*slot = cl;
	}
	cl->nconns++;
	if (g->per_address == 0 || cl->nconns <= g->per_address)
		return 0;
	gate_refused(g, GATE_WHY_ADDRESS, peer);
	return -1;
}

void
gate_leave(struct gate *g, const struct sockaddr *peer)
{
	struct gate_client	**slot, *cl;
	char			 name[NETADDR_STRLEN];

	if (g->nconns > 0)
		g->nconns--;
	if (g->per_address != 0) {
		netaddr_client(peer, name, sizeof(name));
		slot = gate_find(g, name);
		if ((cl = *slot) != NULL && --cl->nconns == 0) {
			*slot = cl->next;
			free(cl);
		}
	}
	if (g->started && g->nwaiting > 0)
		uv_timer_start(&g->resume, gate_resume_cb, 0, 0);
}

void
gate_refused(struct gate *g, enum gate_why why, const struct sockaddr *peer)
{
	if (peer != NULL)
		netaddr_format(peer, g->last[why], sizeof(g->last[why]), 0);
	if (g->counts[why]++ == 0)
		gate_log(g, why, 1);
	if (g->started && !uv_is_active((uv_handle_t *)&g->window))
		uv_timer_start(&g->window, gate_window_cb, GATE_WINDOW_MS, 0);
}

/* A slot is free: the parked listeners' connection callbacks run again
 * and take their pending connections (uv_accept restarts the watching) -
 * once every spare is whole again and the cap allows. */
static void
gate_resume_cb(uv_timer_t *t)
{
	struct gate	*g = t->data;
	uv_stream_t	*waiting[GATE_MAX_WAITING];
	int		 n = g->nwaiting;

	if (gate_spares_fill(g->loop) == -1) {
		uv_timer_start(&g->resume, gate_resume_cb, GATE_RETRY_MS, 0);
		return;
	}
	if (n == 0 || g->nconns >= g->cap)
		return;
	memcpy(waiting, g->waiting, sizeof(waiting));
	g->nwaiting = 0;
	for (int i = 0; i < n; i++)
		if (!uv_is_closing((uv_handle_t *)waiting[i]) &&
		    waiting[i]->accepted_fd != -1)
			waiting[i]->connection_cb(waiting[i], 0);
}

static void
gate_window_cb(uv_timer_t *t)
{
	struct gate	*g = t->data;

	for (int why = 0; why < GATE_WHY_MAX; why++) {
		if (g->counts[why] > 1)
			gate_log(g, why, g->counts[why]);
		g->counts[why] = 0;
	}
}

static void
gate_log(struct gate *g, enum gate_why why, uint64_t n)
{
	char		 num[32];
	const char	*s = n == 1 ? "" : "s";

	gate_thousands(n, num, sizeof(num));
	switch (why) {
	case GATE_WHY_FDS:
		log_warnx("%s: %u connections open, the most the open-file "
		    "limit %llu allows: accepting paused %s time%s in the last "
		    "minute (new connections wait until one closes)", g->what,
		    g->nconns, (unsigned long long)g->nofile, num, s);
		break;
	case GATE_WHY_EMFILE:
		log_warnx("%s: refused %s connection%s in the last minute: "
		    "open-file limit %llu", g->what, num, s,
		    (unsigned long long)g->nofile);
		break;
	case GATE_WHY_ADDRESS:
		log_warnx("%s: refused %s connection%s in the last minute: "
		    "more than %s = %u (last from %s)", g->what, num, s,
		    g->key, g->per_address, g->last[why]);
		break;
	default:
		log_warnx("%s: refused %s connection%s in the last minute: "
		    "address not in allowed_ips (last from %s)", g->what, num,
		    s, g->last[why]);
		break;
	}
}

/*
 * accept(2) failed for want of descriptors although the cap should have
 * prevented it (something else holds them), and fails again however empty
 * the queue is: the kernel takes the descriptor first.  libuv calls back
 * at once, again and again, since Landlock keeps it from reopening its own
 * spare.  So give one of ours back and refuse one connection with it; the
 * free slot then ends libuv's loop (EAGAIN, or a connection gate_admit
 * parks until the spares are whole again).
 */
static void
gate_refuse_one(struct gate *g, uv_stream_t *listener)
{
	uv_os_fd_t	 lfd;
	int		 fd;

	if (uv_fileno((uv_handle_t *)listener, &lfd) != 0)
		return;
	if (gate_spare_give() == -1)
		log_warnx("%s: out of descriptors and of spares", g->what);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd != -1) {
		close(fd);
		gate_refused(g, GATE_WHY_EMFILE, NULL);
	}
	if (g->started && !uv_is_active((uv_handle_t *)&g->resume))
		uv_timer_start(&g->resume, gate_resume_cb, GATE_RETRY_MS, 0);
}

/* Makes the missing spares (duplicates of the loop's epoll descriptor:
 * no file system, so Landlock allows it); 0 when all are whole. */
static int
gate_spares_fill(uv_loop_t *loop)
{
	for (int i = 0; i < gate_nspares; i++) {
		if (gate_spares[i] != -1)
			continue;
		gate_spares[i] = fcntl(uv_backend_fd(loop), F_DUPFD_CLOEXEC, 0);
		if (gate_spares[i] == -1)
			return -1;
	}
	return 0;
}

static int
gate_spare_give(void)
{
	for (int i = 0; i < gate_nspares; i++)
		if (gate_spares[i] != -1) {
			close(gate_spares[i]);
			gate_spares[i] = -1;
			return 0;
		}
	return -1;
}

static struct gate_client **
gate_find(struct gate *g, const char *name)
{
	struct gate_client	**slot;
	uint32_t		 h = 2166136261u;

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (slot = &g->clients[h % GATE_BUCKETS]; *slot != NULL;
	    slot = &(*slot)->next)
		if (strcmp((*slot)->name, name) == 0)
			break;
	return slot;
}

/* 1234567 -> "1,234,567" */
static const char *
gate_thousands(uint64_t n, char *out, size_t len)
{
	char	 digits[32];
	size_t	 nd, o = 0;

	nd = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, n);
	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}
