/* SPDX-License-Identifier: MIT */
/*
 * The supervisor of a daemon's workers (see workers.h).  One poll(2) loop
 * over a signalfd and one pipe per worker, on which the worker writes a
 * byte when it is ready and every WORKERS_ALIVE_MS after.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "listen.h"
#include "log.h"
#include "workers.h"

#define WORKERS_BACKOFF_MS	500	/* first restart, doubling */
#define WORKERS_BACKOFF_MAX_MS	10000
#define WORKERS_STABLE_MS	30000	/* a longer run resets the backoff */
#define WORKERS_HANG_MS		30000	/* silent this long: killed */
#define WORKERS_GRACE_MS	5000	/* from SIGTERM to SIGKILL */

struct worker {
	pid_t		 pid;		/* 0: not running */
	int		 fd;		/* its reports, -1 none */
	int		 ready;
	uint64_t	 started;	/* ms */
	uint64_t	 heard;		/* its last report */
	uint64_t	 restart_at;	/* 0: none due */
	uint64_t	 backoff;
};

static const struct workers_spec *workers_spec;
static struct worker	 workers[WORKERS_MAX];
static int		 workers_sigfd = -1;
static int		 workers_report_fd = -1;	/* in a worker */
static sigset_t		 workers_oldmask;

static uint64_t
workers_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned
workers_count(unsigned configured)
{
	long	 n = configured;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

int
workers_report(char what)
{
	if (workers_report_fd == -1)
		return -1;
	/* Non-blocking: a busy supervisor costs a report, not the loop. */
	(void)write(workers_report_fd, &what, 1);
	return 0;
}

int
workers_is_worker(void)
{
	return workers_report_fd != -1;
}

/* In the new worker: nothing of the supervisor's but its own sockets. */
static void
workers_child(unsigned w, int report_fd)
{
	char	 name[16];

	for (unsigned i = 0; i < workers_spec->n; i++)
		if (workers[i].fd != -1)
			close(workers[i].fd);
	close(workers_sigfd);
	sigprocmask(SIG_SETMASK, &workers_oldmask, NULL);
	signal(SIGCHLD, SIG_DFL);
	snprintf(name, sizeof(name), "%s/%u", workers_spec->name, w + 1);
	(void)prctl(PR_SET_NAME, name);
	log_worker(w + 1);
	listen_keep(w);
	workers_report_fd = report_fd;
	exit(workers_spec->run(w, workers_spec->arg));
}

static int
workers_spawn(unsigned w)
{
	struct worker	*wk = &workers[w];
	pid_t		 me = getpid(), pid;
	int		 p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("worker %u: pipe", w + 1);
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("worker %u: fork", w + 1);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		/* The supervisor gone (kill -9), its workers go at once, as
		 * one process would: their sockets are free for the next. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)	/* it died before that */
			_exit(0);
		workers_child(w, p[1]);
	}
	close(p[1]);
	wk->pid = pid;
	wk->fd = p[0];
	wk->ready = 0;
	wk->started = wk->heard = workers_now();
	wk->restart_at = 0;
	log_info("worker %u started (pid %ld)", w + 1, (long)pid);
	return 0;
}

static void
workers_signal_all(int sig)
{
	for (unsigned i = 0; i < workers_spec->n; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, sig);
}

static struct worker *
workers_by_pid(pid_t pid)
{
	for (unsigned i = 0; i < workers_spec->n; i++)
		if (workers[i].pid == pid)
			return &workers[i];
	return NULL;
}

static unsigned
workers_alive(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < workers_spec->n; i++)
		n += workers[i].pid > 0;
	return n;
}

/* Waits for every worker to end, SIGKILL after the grace time. */
static void
workers_stop(void)
{
	uint64_t	 until = workers_now() + WORKERS_GRACE_MS;
	struct worker	*wk;
	pid_t		 pid;
	int		 st;

	(void)sd_notify(0, "STOPPING=1");
	workers_signal_all(SIGTERM);
	while (workers_alive() > 0) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			if ((wk = workers_by_pid(pid)) != NULL)
				wk->pid = 0;
		if (workers_alive() == 0)
			break;
		if (workers_now() >= until) {
			log_warnx("%u worker%s still running %d ms after "
			    "SIGTERM: killed", workers_alive(),
			    workers_alive() == 1 ? "" : "s", WORKERS_GRACE_MS);
			workers_signal_all(SIGKILL);
			until = UINT64_MAX;
		}
		usleep(20000);
	}
}

static void
workers_describe(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)",
		    WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "ended");
}

/*
 * A worker ended.  One that never was ready while the daemon starts
 * makes it give up (returns the status to exit with); else it is started
 * again after its backoff.  -1: go on.
 */
static int
workers_ended(struct worker *wk, int st, int started_up)
{
	unsigned	 w = (unsigned)(wk - workers);
	uint64_t	 now = workers_now();
	long		 pid = (long)wk->pid;
	char		 how[96];

	workers_describe(st, how, sizeof(how));
	wk->pid = 0;
	if (wk->fd != -1) {
		close(wk->fd);
		wk->fd = -1;
	}
	if (!started_up && !wk->ready) {
		log_warnx("worker %u %s before it was ready: giving up (see "
		    "its lines above)", w + 1, how);
		return WIFEXITED(st) && WEXITSTATUS(st) != 0 ?
		    WEXITSTATUS(st) : 1;
	}
	if (now - wk->started >= WORKERS_STABLE_MS || wk->backoff == 0)
		wk->backoff = WORKERS_BACKOFF_MS;
	else if ((wk->backoff *= 2) > WORKERS_BACKOFF_MAX_MS)
		wk->backoff = WORKERS_BACKOFF_MAX_MS;
	wk->restart_at = now + wk->backoff;
	log_warnx("worker %u (pid %ld) %s; starting it again in %llu ms",
	    w + 1, pid, how, (unsigned long long)wk->backoff);
	return -1;
}

/* SIGCHLD: every ended worker; the status to exit with, or -1. */
static int
workers_reap(int started_up)
{
	struct worker	*wk;
	pid_t		 pid;
	int		 st, rc;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((wk = workers_by_pid(pid)) != NULL &&
		    (rc = workers_ended(wk, st, started_up)) != -1)
			return rc;
	return -1;
}

/* A signal; the status to exit with, or -1 to go on. */
static int
workers_on_signal(int started_up)
{
	struct signalfd_siginfo si;

	if (read(workers_sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return -1;
	switch (si.ssi_signo) {
	case SIGCHLD:
		return workers_reap(started_up);
	case SIGHUP:
		log_info("SIGHUP: %s has nothing to reload (its configuration "
		    "is read at start: restart it)", workers_spec->name);
		return -1;
	default:
		log_info("stopping on %s", strsignal((int)si.ssi_signo));
		return 0;
	}
}

/* A worker's reports: ready, alive. */
static void
workers_on_report(struct worker *wk)
{
	char	 buf[64];
	ssize_t	 n;

	while ((n = read(wk->fd, buf, sizeof(buf))) > 0) {
		wk->heard = workers_now();
		if (memchr(buf, WORKERS_READY, (size_t)n) != NULL)
			wk->ready = 1;
	}
	if (n == 0) {		/* it is ending: SIGCHLD follows */
		close(wk->fd);
		wk->fd = -1;
	}
}

/* Restarts due, hung workers killed; the next deadline (ms from now). */
static uint64_t
workers_tend(uint64_t hang_ms)
{
	uint64_t	 now = workers_now(), next = WORKERS_ALIVE_MS;

	for (unsigned i = 0; i < workers_spec->n; i++) {
		struct worker *wk = &workers[i];

		if (wk->pid == 0 && wk->restart_at != 0) {
			if (wk->restart_at <= now && workers_spawn(i) == -1)
				wk->restart_at = now + WORKERS_BACKOFF_MAX_MS;
			if (wk->pid == 0 && wk->restart_at - now < next)
				next = wk->restart_at - now;
		} else if (wk->pid > 0 && now - wk->heard > hang_ms) {
			log_warnx("worker %u (pid %ld) said nothing for %llu "
			    "ms: killed", i + 1, (long)wk->pid,
			    (unsigned long long)(now - wk->heard));
			kill(wk->pid, SIGKILL);
			wk->heard = now;
		}
	}
	return next;
}

static int
workers_all_ready(void)
{
	for (unsigned i = 0; i < workers_spec->n; i++)
		if (!workers[i].ready)
			return 0;
	return 1;
}

static int
workers_poll(struct pollfd *pfd, struct worker **owner, uint64_t timeout)
{
	int	 n = 0;

	pfd[n].fd = workers_sigfd;
	pfd[n++].events = POLLIN;
	for (unsigned i = 0; i < workers_spec->n; i++) {
		if (workers[i].fd == -1)
			continue;
		owner[n] = &workers[i];
		pfd[n].fd = workers[i].fd;
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, (nfds_t)n, (int)timeout) == -1 && errno != EINTR)
		fatal("poll");
	return n;
}

/* Runs until a signal or a failed start says stop; the exit status. */
static int
workers_loop(void)
{
	struct pollfd	 pfd[WORKERS_MAX + 1];
	struct worker	*owner[WORKERS_MAX + 1];
	uint64_t	 usec = 0, hang = WORKERS_HANG_MS, next_wd = 0, wait;
	int		 started_up = 0, rc = -1, n;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000 &&
	    usec / 1000 > hang)
		hang = usec / 1000;
	while (rc == -1) {
		wait = workers_tend(hang);
		n = workers_poll(pfd, owner, wait);
		if (pfd[0].revents & POLLIN)
			rc = workers_on_signal(started_up);
		for (int i = 1; i < n; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP))
				workers_on_report(owner[i]);
		if (!started_up && workers_all_ready()) {
			started_up = 1;
			(void)sd_notifyf(0, "READY=1\nSTATUS=%u workers %s",
			    workers_spec->n, workers_spec->status);
			log_info("%u workers ready", workers_spec->n);
		}
		if (usec != 0 && workers_now() >= next_wd) {
			(void)sd_notify(0, "WATCHDOG=1");
			next_wd = workers_now() + usec / 2000;
		}
	}
	return rc;
}

int
workers_run(const struct workers_spec *spec)
{
	sigset_t	 mask;
	char		 err[256];
	int		 rc;

	workers_spec = spec;
	for (unsigned i = 0; i < spec->n; i++) {
		workers[i].fd = -1;
		if (spec->bind(i, spec->arg, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			return EX_UNAVAILABLE;	/* a restart cannot help */
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &workers_oldmask) == -1 ||
	    (workers_sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	log_info("starting %u workers", spec->n);
	for (unsigned i = 0; i < spec->n; i++)
		if (workers_spawn(i) == -1)
			fatalx("cannot start worker %u", i + 1);
	rc = workers_loop();
	workers_stop();
	close(workers_sigfd);
	return rc;
}
