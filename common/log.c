/* SPDX-License-Identifier: MIT */
/*
 * Logging for all daemons (see log.h).  When stderr is connected to the
 * journal (JOURNAL_STREAM names it), or goes nowhere (closed, /dev/null)
 * while the journal socket exists, lines go out through the native journal
 * protocol with their structured fields, over a datagram socket connected
 * once in log_init (before any sandbox) and never waited on: under a flood
 * lines are dropped and counted, and one line says how many.  Otherwise
 * they are plain lines on stderr, with the fields shown in brackets.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define LOG_MAX_FIELDS	16
#define LOG_FIELD_MAX	512	/* one escaped KEY=value */
#define LOG_JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define LOG_JOURNAL_SNDBUF	(8 * 1024 * 1024)

static const char	*log_ident = "otad";
static unsigned		 log_worker_no;	/* 0: not a worker */
static int		 log_serving;	/* log_serving(): lines never wait */
static int		 log_verbosity;
static int		 log_to_journal;
static int		 log_journal_fd = -1;
static unsigned long	 log_dropped;

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

/* stderr closed or /dev/null: nobody would read plain lines. */
static int
log_stderr_is_nowhere(void)
{
	struct stat	 st;

	if (fstat(STDERR_FILENO, &st) == -1)
		return errno == EBADF;
	return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static int
log_journal_connect(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd, sndbuf = LOG_JOURNAL_SNDBUF;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", LOG_JOURNAL_SOCKET);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
log_init(const char *ident, int verbose)
{
	log_ident = ident;
	log_verbosity = verbose;
	if (log_journal_fd != -1 || (!log_stderr_is_journal() &&
	    !log_stderr_is_nowhere()))
		return;
	log_journal_fd = log_journal_connect();
	log_to_journal = log_journal_fd != -1;
}

void
log_serving_now(void)
{
	log_serving = 1;
}

void
log_worker(unsigned n)
{
	log_worker_no = n;
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

/* One field; a value with a line break takes the binary form
 * (NAME\n, 64-bit little-endian length, value\n). */
static int
log_journal_field(struct iovec *iov, uint64_t *len_le, const char *f)
{
	const char	*eq = strchr(f, '=');
	size_t		 vlen;
	uint64_t	 v;

	if (eq == NULL || strchr(eq, '\n') == NULL) {
		iov[0] = (struct iovec){ (void *)f, strlen(f) };
		iov[1] = (struct iovec){ "\n", 1 };
		return 2;
	}
	vlen = strlen(eq + 1);
	v = htole64((uint64_t)vlen);
	memcpy(len_le, &v, sizeof(v));
	iov[0] = (struct iovec){ (void *)f, (size_t)(eq - f) };
	iov[1] = (struct iovec){ "\n", 1 };
	iov[2] = (struct iovec){ len_le, sizeof(*len_le) };
	iov[3] = (struct iovec){ (void *)(eq + 1), vlen };
	iov[4] = (struct iovec){ "\n", 1 };
	return 5;
}

/*
 * One datagram.  Until the daemon serves, a busy journal is waited for (a
 * second at most): start-up lines are a few and say how the daemon is
 * restricted; once it serves, a line never waits (a flood must not stall
 * the loop).
 */
static int
log_journal_sendmsg(const struct msghdr *mh)
{
	struct pollfd	 pfd = { log_journal_fd, POLLOUT, 0 };

	if (sendmsg(log_journal_fd, mh, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
		return 0;
	if (log_serving || errno != EAGAIN || poll(&pfd, 1, 1000) != 1)
		return -1;
	return sendmsg(log_journal_fd, mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    -1 ? -1 : 0;
}

/* 0 sent, -1 not sent (counted by the caller). */
static int
log_journal_send(int prio, const char *const *fields, const char *msg)
{
	struct iovec	 iov[(LOG_MAX_FIELDS + 4) * 5];
	uint64_t	 lens[LOG_MAX_FIELDS + 4];
	struct msghdr	 mh;
	char		 pbuf[32], mbuf[4096], ibuf[64], wbuf[32];
	const char	*all[LOG_MAX_FIELDS + 5];
	int		 n = 0, k = 0;

	snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", prio);
	snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
	snprintf(ibuf, sizeof(ibuf), "SYSLOG_IDENTIFIER=%s", log_ident);
	all[k++] = pbuf;
	all[k++] = mbuf;
	all[k++] = ibuf;
	if (log_worker_no != 0) {
		snprintf(wbuf, sizeof(wbuf), "WORKER=%u", log_worker_no);
		all[k++] = wbuf;
	}
	for (; fields && *fields && k < LOG_MAX_FIELDS + 4; fields++)
		all[k++] = *fields;
	for (int i = 0; i < k; i++)
		n += log_journal_field(iov + n, &lens[i], all[i]);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	return log_journal_sendmsg(&mh);
}

/* Never waits: a busy journal costs lines, counted and reported once it
 * takes lines again. */
static void
log_journal(int prio, const char *const *fields, const char *msg)
{
	char	 note[128];

	if (log_dropped > 0) {
		snprintf(note, sizeof(note), "dropped %lu log line%s: the "
		    "journal was busy", log_dropped, log_dropped == 1 ? "" :
		    "s");
		if (log_journal_send(LOG_WARNING, NULL, note) == -1) {
			log_dropped++;
			return;
		}
		log_dropped = 0;
	}
	if (log_journal_send(prio, fields, msg) == -1)
		log_dropped++;
}

/* Appends to line (cap bytes), cutting what does not fit; the new length. */
static size_t
log_append(char *line, size_t len, size_t cap, const char *a, const char *b)
{
	int	 n = snprintf(line + len, cap - len, "%s%s", a, b);

	if (n < 0)
		return len;
	return len + (size_t)n < cap ? len + (size_t)n : cap - 1;
}

/*
 * One line, one write(2): stderr is unbuffered, and a line written in
 * pieces costs a system call each and mixes with the other daemons' lines
 * under `otad run` (they share one output).
 */
static void
log_stderr(int prio, const char *const *fields, const char *msg)
{
	char	 line[4096], worker[16] = "";
	size_t	 len = 0, off = 0;
	ssize_t	 w;

	if (log_worker_no != 0)
		snprintf(worker, sizeof(worker), "/%u", log_worker_no);
	len = log_append(line, len, sizeof(line) - 2, log_ident, worker);
	len = log_append(line, len, sizeof(line) - 2, ": ", "");
	len = log_append(line, len, sizeof(line) - 2, log_level_name(prio),
	    ": ");
	len = log_append(line, len, sizeof(line) - 2, msg, "");
	for (const char *const *f = fields; f && *f; f++)
		len = log_append(line, len, sizeof(line) - 2,
		    f == fields ? " [" : " ", *f);
	if (fields && *fields)
		line[len++] = ']';
	line[len++] = '\n';
	while (off < len) {
		if ((w = write(STDERR_FILENO, line + off, len - off)) > 0)
			off += (size_t)w;
		else if (w == 0 || errno != EINTR)
			return;
	}
}

/* The length of the valid UTF-8 sequence at s, other than a C1 control;
 * 0 when s does not start one. */
static size_t
log_utf8_len(const unsigned char *s)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 n;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xc2)
		lo = 0xa0;		/* U+0080-U+009F: C1 controls */
	else if (c == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (c == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (c == 0xf0)
		lo = 0x90;		/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

char *
log_escape(char *out, size_t outlen, const char *in)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 o = 0, n;

	if (outlen == 0)
		return out;
	while (*s != '\0') {
		n = *s >= 0x20 && *s < 0x7f && *s != '\\' ? 1 :
		    log_utf8_len(s);
		if (o + (n > 0 ? n : 4) >= outlen)
			break;
		if (n > 0) {
			memcpy(out + o, s, n);
			o += n;
			s += n;
		} else if (*s++ == '\\') {
			memcpy(out + o, "\\\\", 2);
			o += 2;
		} else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", s[-1]);
	}
	out[o] = '\0';
	return out;
}

/* fields with their values escaped, in bufs; NULL-ended in out. */
static void
log_escape_fields(const char *const *fields, char bufs[][LOG_FIELD_MAX],
    const char **out)
{
	const char	*eq;
	size_t		 k = 0, klen;

	for (; fields && *fields && k < LOG_MAX_FIELDS; fields++, k++) {
		eq = strchr(*fields, '=');
		klen = eq ? (size_t)(eq - *fields) + 1 : 0;
		if (klen >= LOG_FIELD_MAX / 2)
			klen = 0;
		memcpy(bufs[k], *fields, klen);
		log_escape(bufs[k] + klen, LOG_FIELD_MAX - klen,
		    *fields + klen);
		out[k] = bufs[k];
	}
	out[k] = NULL;
}

static void
log_emit(int prio, const char *const *fields, const char *fmt, va_list ap)
{
	char		 msg[2048], esc[4096];
	char		 fbufs[LOG_MAX_FIELDS][LOG_FIELD_MAX];
	const char	*fesc[LOG_MAX_FIELDS + 1];
	int		 saved = errno;

	if (prio == LOG_DEBUG && !log_verbosity)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(esc, sizeof(esc), msg);
	log_escape_fields(fields, fbufs, fesc);
	if (log_to_journal)
		log_journal(prio, fesc, esc);
	else
		log_stderr(prio, fesc, esc);
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

void
fatalx_status(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
