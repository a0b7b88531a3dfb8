/* SPDX-License-Identifier: MIT */
/*
 * Logging for all daemons (see log.h).  When stderr is connected to the
 * journal (JOURNAL_STREAM names it) lines go out through the native journal
 * protocol with their structured fields; otherwise they are plain lines on
 * stderr, with the fields shown in brackets.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_MAX_FIELDS	16

static const char	*log_ident = "otad";
static int		 log_verbosity;
static int		 log_to_journal;

static void	log_emit(int, const char *const *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static int
log_stderr_is_journal(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void
log_init(const char *ident, int verbose)
{
	log_ident = ident;
	log_verbosity = verbose;
	log_to_journal = log_stderr_is_journal();
}

int
log_verbose(void)
{
	return log_verbosity;
}

static const char *
log_level_name(int prio)
{
	switch (prio) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT:
		return "fatal";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

static void
log_journal(int prio, const char *const *fields, const char *msg)
{
	struct iovec	 iov[LOG_MAX_FIELDS + 3];
	char		 pbuf[32], mbuf[4096], ibuf[64];
	int		 n = 0;

	snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", prio);
	snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
	snprintf(ibuf, sizeof(ibuf), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[n++] = (struct iovec){ pbuf, strlen(pbuf) };
	iov[n++] = (struct iovec){ mbuf, strlen(mbuf) };
	iov[n++] = (struct iovec){ ibuf, strlen(ibuf) };
	for (; fields && *fields && n < LOG_MAX_FIELDS + 3; fields++)
		iov[n++] = (struct iovec){ (void *)*fields, strlen(*fields) };
	sd_journal_sendv(iov, n);
}

static void
log_emit(int prio, const char *const *fields, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;

	if (prio == LOG_DEBUG && !log_verbosity)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal) {
		log_journal(prio, fields, msg);
	} else {
		flockfile(stderr);
		fprintf(stderr, "%s: %s: %s", log_ident, log_level_name(prio),
		    msg);
		if (fields && *fields) {
			fputs(" [", stderr);
			for (const char *const *f = fields; *f; f++)
				fprintf(stderr, "%s%s", f == fields ? "" : " ",
				    *f);
			fputc(']', stderr);
		}
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	errno = saved;
}

static void
log_errno(int prio, int err, const char *fmt, va_list ap)
{
	char	 msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		log_fields(prio, NULL, "%s: %s", msg, strerror(err));
	else
		log_fields(prio, NULL, "%s", msg);
}

void
log_fields(int prio, const char *const *fields, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(prio, fields, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_errno(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
