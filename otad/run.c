/* SPDX-License-Identifier: MIT */
/*
 * `otad run`: the foreground supervisor for development, tests and
 * containers.  Starts otad-admind, otad-hwd and otad-fwstore as children
 * (as their own users when started as root), restarts one that dies with
 * a backoff, passes SIGHUP on to admind (which reloads its admins file and
 * certificate) and stops all of them on SIGINT or SIGTERM.  A daemon that
 * says a restart cannot help (exit status EX_CONFIG or EX_UNAVAILABLE:
 * a bad configuration, an address in use), or that keeps dying within
 * seconds of its start, stops the whole run with status 1.  Plain
 * fork/exec: signals stay blocked and are taken with sigtimedwait(2), so
 * the whole supervisor is one loop without handlers.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "util.h"

#include "otad.h"

#define RUN_BACKOFF_MIN_MS	1000
#define RUN_BACKOFF_MAX_MS	30000
#define RUN_STABLE_MS		60000	/* a run this long resets the backoff */
#define RUN_STOP_MS		5000	/* SIGTERM to SIGKILL */
#define RUN_QUICK_MS		5000	/* a run this short failed to start */
#define RUN_QUICK_MAX		5	/* ... so many times in a row: give up */

struct child {
	const char	*name;		/* "admind" */
	const char	*binary;	/* "otad-admind" */
	const char	*user;		/* "otad-admin" */
	char		 path[PATH_MAX];
	int		 drop;		/* switch to uid/gid before exec */
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;		/* 0: waiting for restart_ms */
	uint64_t	 started_ms;
	uint64_t	 restart_ms;
	unsigned	 backoff_ms;
	unsigned	 quick_exits;	/* in a row, each within RUN_QUICK_MS */
};

struct run {
	const char	*conf;
	int		 verbose;
	pid_t		 parent;
	sigset_t	 waitset;	/* blocked, taken with sigtimedwait */
	sigset_t	 oldmask;	/* restored in the children */
};

/* In start order: hwd and fwstore connect to admind's control socket. */
static struct child run_children[] = {
	{ .name = "admind", .binary = "otad-admind", .user = "otad-admin" },
	{ .name = "hwd", .binary = "otad-hwd", .user = "otad-hwd" },
	{ .name = "fwstore", .binary = "otad-fwstore", .user = "otad-fw" },
};

#define RUN_FOREACH(c) \
	for (struct child *c = run_children; \
	    c < run_children + nitems(run_children); c++)

static void	 run_check_config(const char *);
static void	 run_find_binaries(void);
static void	 run_set_paths(const char *, int);
static int	 run_paths_exist(void);
static void	 run_find_users(void);
static void	 run_hand_over(const char *);
static void	 run_start(const struct run *, struct child *);
static void	 run_exec(const struct run *, const struct child *)
		    __attribute__((noreturn));
static int	 run_loop(const struct run *);
static int	 run_wait(const struct run *, int64_t);
static int64_t	 run_next_restart(void);
static int	 run_reap(int);
static int	 run_exited(struct child *, int);
static int	 run_hopeless(const struct child *, int, char *, size_t);
static void	 run_stop(const struct run *, int);
static int	 run_running(void);
static int	 run_is_stop_signal(int);

int
otad_run(int argc, char **argv)
{
	struct run	 r = { .conf = CFG_DEFAULT_PATH };
	int		 ch, sig;

	while ((ch = getopt(argc, argv, "c:hv")) != -1) {
		switch (ch) {
		case 'c':
			r.conf = optarg;
			break;
		case 'h':
			otad_usage(0);
		case 'v':
			r.verbose = 1;
			break;
		default:
			otad_usage(2);
		}
	}
	if (optind != argc)
		otad_usage(2);
	log_init("otad", r.verbose);
	run_check_config(r.conf);
	run_find_binaries();
	run_find_users();
	run_hand_over(r.conf);

	r.parent = getpid();
	sigemptyset(&r.waitset);
	sigaddset(&r.waitset, SIGCHLD);
	sigaddset(&r.waitset, SIGINT);
	sigaddset(&r.waitset, SIGTERM);
	sigaddset(&r.waitset, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &r.waitset, &r.oldmask) == -1)
		fatal("sigprocmask");

	RUN_FOREACH(c)
		run_start(&r, c);
	printf("otad: running hwd (pid %d), admind (pid %d), fwstore "
	    "(pid %d); Ctrl-C stops\n", (int)run_children[1].pid,
	    (int)run_children[0].pid, (int)run_children[2].pid);
	fflush(stdout);

	sig = run_loop(&r);
	run_stop(&r, sig);
	return sig == 0 ? 1 : 0;
}

/* The daemons would refuse a bad file one by one: say it once, here. */
static void
run_check_config(const char *path)
{
	struct cfg	 cfg;
	int		 problems;

	problems = cfg_load(&cfg, path, stderr);
	cfg_free(&cfg);
	if (problems > 0) {
		fprintf(stderr, "otad: %s: %d problem%s, not starting\n", path,
		    problems, problems == 1 ? "" : "s");
		exit(1);
	}
}

/*
 * $OTAD_SBINDIR; else next to this executable (an installed tree);
 * else the meson build tree (build/otad/otad, build/hwd/otad-hwd, ...);
 * else the configured sbindir.
 */
static void
run_find_binaries(void)
{
	const char	*env = getenv("OTAD_SBINDIR");
	char		 self[PATH_MAX], *dir;
	ssize_t		 n;

	if (env != NULL && *env != '\0') {
		run_set_paths(env, 0);
	} else if ((n = readlink("/proc/self/exe", self,
	    sizeof(self) - 1)) != -1) {
		self[n] = '\0';
		dir = dirname(self);
		run_set_paths(dir, 0);
		if (!run_paths_exist())
			run_set_paths(dir, 1);
		if (!run_paths_exist())
			run_set_paths(OTAD_SBINDIR, 0);
	} else {
		run_set_paths(OTAD_SBINDIR, 0);
	}
	RUN_FOREACH(c)
		if (access(c->path, X_OK) == -1)
			fatalx("%s: %s; set OTAD_SBINDIR to the directory "
			    "that holds the otad daemons", c->path,
			    strerror(errno));
}

/* dir/otad-hwd, or in the build tree dir/../hwd/otad-hwd. */
static void
run_set_paths(const char *dir, int build_tree)
{
	char	 path[PATH_MAX];
	int	 n;

	RUN_FOREACH(c) {
		if (build_tree)
			n = snprintf(path, sizeof(path), "%s/../%s/%s", dir,
			    c->name, c->binary);
		else
			n = snprintf(path, sizeof(path), "%s/%s", dir,
			    c->binary);
		if (n < 0 || n >= (int)sizeof(path))
			fatalx("%s: path too long", dir);
		if (realpath(path, c->path) == NULL)
			memcpy(c->path, path, (size_t)n + 1);
	}
}

static int
run_paths_exist(void)
{
	RUN_FOREACH(c)
		if (access(c->path, X_OK) == -1)
			return 0;
	return 1;
}

/* As root, each daemon runs as its own user when that user exists. */
static void
run_find_users(void)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	RUN_FOREACH(c) {
		if ((pw = getpwnam(c->user)) == NULL) {
			log_warnx("user %s does not exist: running %s as root",
			    c->user, c->name);
			continue;
		}
		c->drop = 1;
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	}
}

/*
 * As root with the users present, what `otad init` (run as root) left to
 * root goes to the daemons: the state and the socket's directory to
 * otad-admin, and read access through a group to the files they read
 * (group otad: the configuration; otad-admin: the admins file and the
 * admin TLS files).  Paths other users may already read stay as they are.
 */
static uid_t	 run_admin_uid;
static gid_t	 run_admin_gid;

static int
run_own_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (st->st_uid == 0 && lchown(path, run_admin_uid, run_admin_gid) == -1)
		log_warn("chown %s", path);
	return 0;
}

static void
run_group_read(const char *path, const char *group, mode_t bits)
{
	struct group	*gr;
	struct stat	 st;

	if (*path == '\0' || (gr = getgrnam(group)) == NULL ||
	    stat(path, &st) == -1 || (st.st_mode & (bits >> 3)) == (bits >> 3))
		return;
	if (chown(path, (uid_t)-1, gr->gr_gid) == -1 ||
	    chmod(path, (st.st_mode & 07777) | bits) == -1)
		log_warn("cannot give group %s access to %s", group, path);
}

/* Only a directory that is otad's state (or new) changes hands. */
static void
run_own_state(const char *state_dir)
{
	char		 db[PATH_MAX];
	struct stat	 st;

	snprintf(db, sizeof(db), "%s/otad.db", state_dir);
	if (stat(state_dir, &st) == 0 && (st.st_uid != 0 ||
	    stat(db, &st) == -1))
		return;
	if (util_mkdirs(state_dir, 0750) == -1 ||
	    nftw(state_dir, run_own_entry, 16, FTW_PHYS) == -1) {
		log_warn("%s", state_dir);
		return;
	}
	/* fwstore passes through to firmware/ (group otad-fw). */
	run_group_read(state_dir, "otad", 0010);
}

static void
run_hand_over(const char *conf)
{
	struct passwd	*pw;
	struct stat	 st;
	struct cfg	 cfg;
	char		 dir[PATH_MAX], confdir[PATH_MAX];
	int		 made;

	if (!run_children[0].drop || (pw = getpwnam("otad-admin")) == NULL)
		return;
	run_admin_uid = pw->pw_uid;
	run_admin_gid = pw->pw_gid;
	cfg_load(&cfg, conf, stderr);
	run_own_state(cfg.state_dir);
	/* The socket's directory: only one made here or otad init's. */
	snprintf(dir, sizeof(dir), "%s", cfg.control_socket);
	snprintf(confdir, sizeof(confdir), "%s", conf);
	made = stat(dirname(dir), &st) == -1;
	if (util_mkdirs(dir, 0755) == -1)
		log_warn("%s", dir);
	else if ((made || strcmp(dir, dirname(confdir)) == 0) &&
	    stat(dir, &st) == 0 && st.st_uid == 0 &&
	    chown(dir, run_admin_uid, (gid_t)-1) == -1)
		log_warn("chown %s", dir);
	snprintf(dir, sizeof(dir), "%s", conf);
	run_group_read(dirname(dir), "otad", 0050);
	run_group_read(conf, "otad", 0040);
	run_group_read(cfg.admind.admins_file, "otad-admin", 0040);
	run_group_read(cfg.admind.tls_cert, "otad-admin", 0040);
	run_group_read(cfg.admind.tls_key, "otad-admin", 0040);
	cfg_free(&cfg);
}

static void
run_start(const struct run *r, struct child *c)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("cannot start %s: fork", c->name);
		run_exited(c, -1);
		return;
	}
	if (pid == 0)
		run_exec(r, c);
	c->pid = pid;
	c->started_ms = util_now_ms();
	if (c->backoff_ms == 0)
		c->backoff_ms = RUN_BACKOFF_MIN_MS;
	log_debug("started %s (pid %d)", c->path, (int)pid);
}

/* In the child: unblock signals, become the daemon's user, exec. */
static void
run_exec(const struct run *r, const struct child *c)
{
	char	*argv[5];
	int	 n = 0;

	argv[n++] = (char *)c->path;
	argv[n++] = "-c";
	argv[n++] = (char *)r->conf;
	if (r->verbose)
		argv[n++] = "-v";
	argv[n] = NULL;

	if (sigprocmask(SIG_SETMASK, &r->oldmask, NULL) == -1)
		fatal("%s: sigprocmask", c->name);
	if (c->drop && (initgroups(c->user, c->gid) == -1 ||
	    setgid(c->gid) == -1 || setuid(c->uid) == -1))
		fatal("%s: cannot switch to user %s", c->name, c->user);
	/* Die with otad even when it is killed without a chance to stop
	 * us; set after setuid, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("%s: prctl", c->name);
	if (getppid() != r->parent)
		_exit(1);
	execv(c->path, argv);
	fatal("cannot run %s", c->path);
}

/* Runs until a stop signal arrives and returns it; 0 when a daemon
 * cannot be started. */
static int
run_loop(const struct run *r)
{
	int	 sig;

	for (;;) {
		sig = run_wait(r, run_next_restart());
		if (run_is_stop_signal(sig))
			return sig;
		if (sig == SIGHUP && run_children[0].pid != 0) {
			log_info("SIGHUP: passed to admind, which reloads its "
			    "admins file and TLS certificate");
			kill(run_children[0].pid, SIGHUP);
		}
		if (sig == SIGCHLD && run_reap(0) == -1)
			return 0;
		RUN_FOREACH(c)
			if (c->pid == 0 && c->restart_ms <= util_now_ms())
				run_start(r, c);
	}
}

/* One signal of the wait set, or 0 after timeout_ms (< 0: no limit). */
static int
run_wait(const struct run *r, int64_t timeout_ms)
{
	struct timespec	 ts;
	int		 sig;

	if (timeout_ms < 0) {
		sig = sigwaitinfo(&r->waitset, NULL);
	} else {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (timeout_ms % 1000) * 1000000;
		sig = sigtimedwait(&r->waitset, NULL, &ts);
	}
	if (sig == -1 && errno != EAGAIN && errno != EINTR)
		fatal("sigtimedwait");
	return sig == -1 ? 0 : sig;
}

/* Milliseconds until the next child is due to restart, -1 for none. */
static int64_t
run_next_restart(void)
{
	uint64_t	 now = util_now_ms();
	int64_t		 next = -1, left;

	RUN_FOREACH(c) {
		if (c->pid != 0)
			continue;
		left = c->restart_ms > now ? (int64_t)(c->restart_ms - now) : 0;
		if (next == -1 || left < next)
			next = left;
	}
	return next;
}

/* Collects every exited child; schedules restarts unless stopping.  -1:
 * one of them cannot be started (said). */
static int
run_reap(int stopping)
{
	pid_t	 pid;
	int	 status, rc = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		RUN_FOREACH(c) {
			if (c->pid != pid)
				continue;
			if (stopping)
				c->pid = 0;
			else if (run_exited(c, status) == -1)
				rc = -1;
		}
	}
	return rc;
}

/* Logs the exit (status -1: the fork failed) and schedules the restart;
 * -1 when a restart cannot help (said). */
static int
run_exited(struct child *c, int status)
{
	uint64_t	 now = util_now_ms();
	char		 how[128], why[256];

	if (status == -1)
		snprintf(how, sizeof(how), "could not be started");
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "(pid %d) was killed by signal %d "
		    "(%s)", (int)c->pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "(pid %d) exited with status %d",
		    (int)c->pid, WEXITSTATUS(status));
	if (c->pid != 0 && now - c->started_ms >= RUN_STABLE_MS)
		c->backoff_ms = RUN_BACKOFF_MIN_MS;
	if (c->pid != 0 && now - c->started_ms < RUN_QUICK_MS)
		c->quick_exits++;
	else
		c->quick_exits = 0;
	if (run_hopeless(c, status, why, sizeof(why))) {
		log_warnx("%s %s; not restarting it: %s", c->name, how, why);
		c->pid = 0;
		return -1;
	}
	if (c->backoff_ms == 0)
		c->backoff_ms = RUN_BACKOFF_MIN_MS;
	log_warnx("%s %s; restarting it in %u s", c->name, how,
	    c->backoff_ms / 1000);
	c->pid = 0;
	c->restart_ms = now + c->backoff_ms;
	c->backoff_ms *= 2;
	if (c->backoff_ms > RUN_BACKOFF_MAX_MS)
		c->backoff_ms = RUN_BACKOFF_MAX_MS;
	return 0;
}

/* A daemon that said a restart cannot help, or failed to start again and
 * again: 1, with what to do in why. */
static int
run_hopeless(const struct child *c, int status, char *why, size_t len)
{
	int	 code = status != -1 && WIFEXITED(status) ?
		    WEXITSTATUS(status) : -1;

	if (code == EX_CONFIG)
		snprintf(why, len, "it cannot start with this configuration "
		    "(see its message above): fix it, then start otad run "
		    "again");
	else if (code == EX_UNAVAILABLE)
		snprintf(why, len, "it cannot open what it needs (see its "
		    "message above: an address in use by another program?): "
		    "free it or change the configuration, then start otad run "
		    "again");
	else if (c->quick_exits >= RUN_QUICK_MAX)
		snprintf(why, len, "it failed %d times in a row within %d s "
		    "of its start (see its messages above)", RUN_QUICK_MAX,
		    RUN_QUICK_MS / 1000);
	else
		return 0;
	return 1;
}

/* SIGTERM to all, up to RUN_STOP_MS (or a second stop signal) for them
 * to exit, then SIGKILL to the rest. */
static void
run_stop(const struct run *r, int sig)
{
	uint64_t	 deadline = util_now_ms() + RUN_STOP_MS, now;

	if (sig != 0)
		log_info("%s: stopping the daemons", strsignal(sig));
	else
		log_warnx("stopping the other daemons");
	RUN_FOREACH(c)
		if (c->pid != 0 && kill(c->pid, SIGTERM) == -1)
			log_warn("%s: kill", c->name);
	for (;;) {
		run_reap(1);
		now = util_now_ms();
		if (!run_running() || now >= deadline)
			break;
		if (run_is_stop_signal(run_wait(r,
		    (int64_t)(deadline - now))))
			break;
	}
	RUN_FOREACH(c) {
		if (c->pid == 0)
			continue;
		log_warnx("%s (pid %d) did not stop: killing it", c->name,
		    (int)c->pid);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
}

static int
run_running(void)
{
	RUN_FOREACH(c)
		if (c->pid != 0)
			return 1;
	return 0;
}

static int
run_is_stop_signal(int sig)
{
	return sig == SIGINT || sig == SIGTERM;
}
