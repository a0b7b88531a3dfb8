/* SPDX-License-Identifier: MIT */
/*
 * Logging for all daemons: levels, errno variants, fatal exits, and one
 * structured call whose fields become journal fields (DEVICE_ID=42) and are
 * shown in brackets on a terminal.  Never pass a token, password or key.
 */
#ifndef OTAD_LOG_H
#define OTAD_LOG_H

#include <stddef.h>
#include <syslog.h>

void	log_init(const char *ident, int verbose);
int	log_verbose(void);
/* This process is worker n (1-based) of its daemon: journal lines get
 * WORKER=n, terminal lines "hwd/n:". */
void	log_worker(unsigned n);
/* The daemon serves (sandbox_ready): from now on a busy journal costs a
 * line rather than a wait. */
void	log_serving_now(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
/* fatalx() with an exit status that tells a supervisor (`otad run`,
 * systemd's RestartPreventExitStatus=) a restart cannot help: EX_CONFIG
 * for a bad configuration, EX_UNAVAILABLE for an address in use. */
void	fatalx_status(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Structured line: fields is a NULL-terminated array of "KEY=value"
 * strings (journal field names: upper case, digits, underscore).
 *	log_fields(LOG_INFO, (const char *[]){ "DEVICE_ID=42", NULL },
 *	    "device %s online", name);
 */
void	log_fields(int prio, const char *const *fields, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Every line of every daemon goes through this before it is written, its
 * message and each field's value: control bytes (newline, ESC, DEL, the C1
 * range), a backslash and bytes that are not UTF-8 become \xNN (a backslash
 * \\), so that text from a device or a client can neither start a line of
 * its own nor drive a terminal.  Cut at outlen - 1 bytes, never inside an
 * escape; returns out.
 */
char	*log_escape(char *out, size_t outlen, const char *in);

#endif
