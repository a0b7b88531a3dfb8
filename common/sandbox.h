/* SPDX-License-Identifier: MIT */
/*
 * What each daemon gives up after start-up, and how it talks to systemd:
 * the switch to the daemon's own user when started as root, Landlock
 * (hwd: no file system at all; fwstore: the firmware directory read-only),
 * group access to shared paths, and sd_notify (READY=1, STATUS=, a
 * watchdog driven by a libuv timer).  Used by hwd, admind and fwstore.
 */
#ifndef OTAD_SANDBOX_H
#define OTAD_SANDBOX_H

#include <sys/types.h>

#include <uv.h>

/* The system users and groups of the Debian package (sysusers.d). */
#define SANDBOX_USER_HWD	"otad-hwd"
#define SANDBOX_USER_ADMIND	"otad-admin"
#define SANDBOX_USER_FWSTORE	"otad-fw"
#define SANDBOX_GROUP_CONTROL	"otad"		/* may use the control socket */
#define SANDBOX_GROUP_FIRMWARE	"otad-fw"	/* reads the firmware files */

/*
 * Started as root: become user (its groups, then its gid and uid) when the
 * user exists, else stay root with a log line (development).  Exits on
 * failure; a no-op when not root.
 */
void	sandbox_drop(const char *user);

/*
 * Landlock: from now on the process may only read beneath the directories
 * of ro_dirs (NULL-terminated; NULL or empty: no file system at all) and
 * may open no new TCP sockets where the kernel can say so.  Falls back
 * with a log line where the kernel lacks Landlock.  Open files, listening
 * sockets and Unix socket connects are not affected.
 */
void	sandbox_landlock(const char *const *ro_dirs);

/*
 * Gives group (when it exists and we may) to path and sets mode: the
 * control socket (group otad, 0660) and the firmware directory (group
 * otad-fw, 02750: new files inherit the group).  0 also when the group
 * does not exist (development: one user); -1 logged.
 */
int	sandbox_share(const char *path, const char *group, mode_t mode);

/*
 * Tells systemd READY=1 with a STATUS= line and starts the watchdog
 * (WATCHDOG=1 every half WATCHDOG_USEC) on loop.  No-ops outside systemd.
 */
void	sandbox_ready(uv_loop_t *loop, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	sandbox_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* STOPPING=1 and the watchdog timer closed. */
void	sandbox_stopping(void);

#endif
