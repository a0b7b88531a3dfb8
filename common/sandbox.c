/* SPDX-License-Identifier: MIT */
/*
 * Privilege separation and systemd notification for all three daemons
 * (see sandbox.h).  Each daemon calls these once its sockets are bound and
 * its keys are read: the user switch when started as root, Landlock where
 * the kernel has it, and READY=1 with a watchdog timer on its libuv loop.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "log.h"
#include "sandbox.h"
#include "workers.h"

/* Rights newer than the build host's <linux/landlock.h> may know. */
#define SANDBOX_LL_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#define SANDBOX_LL_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#define SANDBOX_LL_BIND_TCP	(1ULL << 0)	/* ABI 4, net */
#define SANDBOX_LL_CONNECT_TCP	(1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 4; the size passed says how much
 * of it the kernel reads. */
struct sandbox_ruleset {
	uint64_t	 fs;
	uint64_t	 net;
};

static uv_timer_t	 sandbox_wd_timer;
static int		 sandbox_wd_on;

static void	 sandbox_status_v(const char *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

void
sandbox_drop(const char *user)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL) {
		log_info("user %s does not exist: staying root", user);
		return;
	}
	if (initgroups(user, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot switch to user %s", user);
	if (setuid(0) != -1)
		fatalx("still root after switching to user %s", user);
	log_info("running as user %s", user);
}

static int
sandbox_ll_abi(void)
{
	long	 abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? -1 : (int)abi;
}

/* Every file-system right this ABI knows: all are denied unless a rule
 * grants them. */
static uint64_t
sandbox_ll_fs_rights(int abi)
{
	uint64_t	 r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= SANDBOX_LL_TRUNCATE;
	if (abi >= 5)
		r |= SANDBOX_LL_IOCTL_DEV;
	return r;
}

static int
sandbox_ll_allow_read(int ruleset, const char *dir)
{
	struct landlock_path_beneath_attr rule;
	int		 rc;

	memset(&rule, 0, sizeof(rule));
	rule.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR;
	if ((rule.parent_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("landlock: %s", dir);
		return -1;
	}
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	if (rc == -1)
		log_warn("landlock: rule for %s", dir);
	close(rule.parent_fd);
	return rc;
}

void
sandbox_landlock(const char *const *ro_dirs)
{
	struct sandbox_ruleset	 attr;
	size_t			 size;
	int			 abi, ruleset;

	if ((abi = sandbox_ll_abi()) < 1) {
		log_info("landlock: not available (%s): no file system "
		    "restriction beyond the user's permissions",
		    strerror(errno));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.fs = sandbox_ll_fs_rights(abi);
	size = sizeof(attr.fs);
	if (abi >= 4) {
		attr.net = SANDBOX_LL_BIND_TCP | SANDBOX_LL_CONNECT_TCP;
		size = sizeof(attr);
	}
	if ((ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size,
	    0)) == -1)
		fatal("landlock: create ruleset");
	for (const char *const *d = ro_dirs; d != NULL && *d != NULL; d++)
		if (sandbox_ll_allow_read(ruleset, *d) == -1)
			fatalx("landlock: cannot allow %s", *d);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) == -1)
		fatal("landlock: restrict");
	close(ruleset);
	if (ro_dirs == NULL || *ro_dirs == NULL)
		log_info("landlock (ABI %d): no file system access%s", abi,
		    attr.net ? ", no new TCP sockets" : "");
	else
		log_info("landlock (ABI %d): file system read-only beneath %s%s%s",
		    abi, ro_dirs[0], ro_dirs[1] ? " and others" : "", attr.net ?
		    ", no new TCP sockets" : "");
}

int
sandbox_share(const char *path, const char *group, mode_t mode)
{
	struct group	*gr;
	struct stat	 st;

	if ((gr = getgrnam(group)) == NULL)
		return 0;
	if (stat(path, &st) == -1) {
		log_warn("%s", path);
		return -1;
	}
	/* Change only what differs: under systemd the set-group-ID bit is
	 * refused (RestrictSUIDSGID=), and tmpfiles.d has set it already. */
	if (st.st_gid != gr->gr_gid &&
	    chown(path, (uid_t)-1, gr->gr_gid) == -1) {
		/* Not a member, not root: the group cannot be ours. */
		if (errno == EPERM)
			return 0;
		log_warn("chgrp %s %s", group, path);
		return -1;
	}
	if ((st.st_mode & 07777) != mode && chmod(path, mode) == -1) {
		log_warn("chmod %o %s", (unsigned)mode, path);
		return -1;
	}
	return 0;
}

static void
sandbox_watchdog(uv_timer_t *t)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

/* A worker tells its supervisor it lives; the supervisor tells systemd. */
static void
sandbox_alive(uv_timer_t *t)
{
	(void)workers_report(WORKERS_ALIVE);
}

static void
sandbox_status_v(const char *prefix, const char *fmt, va_list ap)
{
	char	 msg[512];

	if (workers_is_worker())
		return;		/* systemd hears the main process only */

	vsnprintf(msg, sizeof(msg), fmt, ap);
	(void)sd_notifyf(0, "%sSTATUS=%s", prefix, msg);
}

void
sandbox_ready(uv_loop_t *loop, const char *fmt, ...)
{
	va_list		 ap;
	uint64_t	 usec;

	log_serving_now();
	if (workers_report(WORKERS_READY) == 0) {
		uv_timer_init(loop, &sandbox_wd_timer);
		uv_timer_start(&sandbox_wd_timer, sandbox_alive,
		    WORKERS_ALIVE_MS, WORKERS_ALIVE_MS);
		uv_unref((uv_handle_t *)&sandbox_wd_timer);
		sandbox_wd_on = 1;
		return;
	}
	va_start(ap, fmt);
	sandbox_status_v("READY=1\n", fmt, ap);
	va_end(ap);
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec < 2000)
		return;
	uv_timer_init(loop, &sandbox_wd_timer);
	uv_timer_start(&sandbox_wd_timer, sandbox_watchdog, 0, usec / 2000);
	/* The watchdog alone does not keep the loop running. */
	uv_unref((uv_handle_t *)&sandbox_wd_timer);
	sandbox_wd_on = 1;
	log_debug("watchdog every %llu ms",
	    (unsigned long long)(usec / 2000));
}

void
sandbox_status(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	sandbox_status_v("", fmt, ap);
	va_end(ap);
}

void
sandbox_stopping(void)
{
	if (!workers_is_worker())
		(void)sd_notify(0, "STOPPING=1");
	if (sandbox_wd_on && !uv_is_closing((uv_handle_t *)&sandbox_wd_timer))
		uv_close((uv_handle_t *)&sandbox_wd_timer, NULL);
	sandbox_wd_on = 0;
}
