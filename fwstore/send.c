/* SPDX-License-Identifier: MIT */
/*
 * The body of a firmware download in otad-fwstore.  Plain HTTP to a client
 * that does not keep the connection (every ESP updater): once the head
 * reached the kernel the HTTP connection is let go and the bytes go with
 * sendfile(2) on a duplicate of the socket, watched by a uv_poll for
 * writability, with a stall timer and a lingering close.  TLS, or a client
 * that keeps the connection: 64 KiB preads through the connection, one
 * write in flight.  Progress goes to admind: started, every 10%, complete
 * (every byte in the kernel), aborted.
 */
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ctl.h"
#include "http.h"
#include "log.h"
#include "util.h"

#include "fwstore.h"

#define FWSTORE_BURST		(1024 * 1024)	/* sendfile per wakeup */
#define FWSTORE_LINGER_MS	2000
#define FWSTORE_LINGER_BYTES	(64 * 1024)

static void	fwstore_send_chunk(struct fwstore_download *);
static void	fwstore_send_step(struct fwstore_download *);
static void	fwstore_send_report(struct fwstore_download *);
static void	fwstore_send_copied(struct fwstore_download *);
static void	fwstore_send_handoff(struct fwstore_download *);
static void	fwstore_send_on_poll(uv_poll_t *, int, int);
static void	fwstore_send_burst(struct fwstore_download *);
static void	fwstore_send_sent(struct fwstore_download *);
static void	fwstore_send_linger(struct fwstore_download *);
static void	fwstore_send_on_timer(uv_timer_t *);
static void	fwstore_send_abort(struct fwstore_download *, const char *);
static void	fwstore_send_close(struct fwstore_download *);
static void	fwstore_send_on_close(uv_handle_t *);
static uint64_t	fwstore_send_stall_ms(struct fwstore_download *);
static const char *fwstore_send_error(struct fwstore_download *, int);

/*
 * Full segments only until the FIN: the head goes out with the first body
 * bytes, and sendfile's pieces leave as large packets (nginx's tcp_nopush).
 */
static void
fwstore_send_cork(struct http_conn *conn)
{
	uv_os_fd_t	 fd;
	int		 on = 1;

	if (uv_fileno((uv_handle_t *)&conn->stream.tcp, &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/*
 * The head (one write, Content-Length of [first, end)) and the start of
 * the body.  -1 when nothing was written.
 */
int
fwstore_send_begin(struct fwstore_download *dl, int status,
    const char *headers)
{
	struct http_conn	*conn = dl->conn;

	dl->zerocopy = conn->stream.ssl == NULL && !conn->req.keep_alive;
	if (dl->zerocopy)
		fwstore_send_cork(conn);
	if (http_stream_begin(conn, status, "application/octet-stream",
	    headers, dl->end - dl->first) == -1)
		return -1;
	dl->streaming = 1;
	dl->written = dl->sent = dl->first;
	dl->step = dl->size ? (unsigned)(dl->first * 10 / dl->size) : 0;
	dl->started_ms = util_now_ms();
	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_STARTED,
	    dl->first, dl->size);
	fwstore_download_log(dl, LOG_DEBUG, "download of delivery %llu "
	    "started: bytes %llu-%llu of %llu to %s%s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->first, (unsigned long long)dl->end,
	    (unsigned long long)dl->size, dl->remote,
	    dl->zerocopy ? " (sendfile)" : "");
	if (dl->first == dl->end)
		fwstore_send_copied(dl);
	else if (!dl->zerocopy)
		fwstore_send_chunk(dl);
	/* sendfile: once the head drained (fwstore_send_drain) */
	return 0;
}

/* What the connection had queued reached the kernel. */
void
fwstore_send_drain(struct fwstore_download *dl)
{
	if (dl->zerocopy) {
		fwstore_send_handoff(dl);
		return;
	}
	dl->sent = dl->written;
	if (dl->sent == dl->end) {
		fwstore_send_copied(dl);
		return;
	}
	fwstore_send_step(dl);
	fwstore_send_chunk(dl);
}

/* The body stops short: reported to admind and logged with why. */
static void
fwstore_send_aborted(struct fwstore_download *dl, const char *why)
{
	dl->streaming = 0;
	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_ABORTED,
	    dl->sent, dl->size);
	fwstore_download_log(dl, LOG_INFO, "download of delivery %llu "
	    "aborted after %llu of %llu bytes: %s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->sent, (unsigned long long)dl->size, why);
}

/* The connection closed under a body: the client left or stalled. */
void
fwstore_send_lost(struct fwstore_download *dl)
{
	fwstore_send_aborted(dl, "the connection closed");
}

/* Through the connection: the next chunk; on_drain calls again. */
static void
fwstore_send_chunk(struct fwstore_download *dl)
{
	static char	 chunk[FWSTORE_CHUNK];
	uint64_t	 left = dl->end - dl->written;
	size_t		 want = left < sizeof(chunk) ? (size_t)left :
			    sizeof(chunk);
	ssize_t		 n;

	if (dl->written != dl->sent)
		return;		/* a write is still in flight */
	do {
		n = pread(dl->fd, chunk, want, (off_t)dl->written);
	} while (n == -1 && errno == EINTR);
	if (n <= 0) {
		if (n == -1)
			log_warn("firmware %s: read", dl->sha256);
		else
			log_warnx("firmware %s: shorter than its grant",
			    dl->sha256);
		http_conn_close(dl->conn);	/* on_close reports */
		return;
	}
	dl->written += (uint64_t)n;
	if (http_stream_write(dl->conn, chunk, (size_t)n) == -1)
		http_conn_close(dl->conn);
}

/* RUNNING once per 10% step crossed (several steps crossed at once make
 * one report). */
static void
fwstore_send_step(struct fwstore_download *dl)
{
	unsigned	 step = (unsigned)(dl->sent * 10 / dl->size);

	if (step <= dl->step)
		return;
	dl->step = step;
	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_RUNNING,
	    dl->sent, dl->size);
}

/* The range is in the kernel: COMPLETE when it ended the file (a range
 * that stops short is progress). */
static void
fwstore_send_report(struct fwstore_download *dl)
{
	uint64_t	 ms = util_now_ms() - dl->started_ms;

	dl->streaming = 0;
	fwstore_ctl_progress(dl->fw, dl->delivery_id, dl->end == dl->size ?
	    CTL_PROGRESS_COMPLETE : CTL_PROGRESS_RUNNING, dl->end, dl->size);
	fwstore_download_log(dl, LOG_INFO, "download of delivery %llu "
	    "complete: bytes %llu-%llu of %llu in %llu.%03llu s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->first, (unsigned long long)dl->end,
	    (unsigned long long)dl->size, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));
}

/* Through the connection: done; the connection is kept or closed as the
 * client asked. */
static void
fwstore_send_copied(struct fwstore_download *dl)
{
	struct http_conn	*conn;

	fwstore_send_report(dl);
	conn = fwstore_download_detach(dl);
	fwstore_download_release(dl);
	http_stream_end(conn);
}

/*
 * The head is in the kernel: keep a duplicate of the socket, let the HTTP
 * connection go (its close leaves the socket open through the duplicate),
 * and watch the duplicate.
 */
static void
fwstore_send_handoff(struct fwstore_download *dl)
{
	struct http_conn	*conn = dl->conn;
	uv_os_fd_t		 fd;

	if (uv_fileno((uv_handle_t *)&conn->stream.tcp, &fd) != 0 ||
	    (dl->sock = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("download: cannot duplicate the socket");
		http_conn_close(conn);		/* on_close reports */
		return;
	}
	fwstore_download_detach(dl);
	http_conn_close(conn);
	if (uv_poll_init_socket(dl->fw->loop, &dl->poll, dl->sock) != 0) {
		log_warnx("download: cannot watch the socket");
		fwstore_send_lost(dl);
		fwstore_download_release(dl);
		return;
	}
	dl->poll.data = dl;
	dl->handles++;
	uv_timer_init(dl->fw->loop, &dl->timer);
	dl->timer.data = dl;
	dl->handles++;
	uv_timer_start(&dl->timer, fwstore_send_on_timer,
	    fwstore_send_stall_ms(dl), 0);
	uv_poll_start(&dl->poll, UV_WRITABLE, fwstore_send_on_poll);
}

static void
fwstore_send_on_poll(uv_poll_t *p, int status, int events)
{
	struct fwstore_download	*dl = p->data;

	if (dl->lingering) {
		fwstore_send_linger(dl);
		return;
	}
	if (status < 0) {
		fwstore_send_abort(dl, fwstore_send_error(dl, status));
		return;
	}
	fwstore_send_burst(dl);
}

/* sendfile until the socket is full or FWSTORE_BURST went out, so that
 * one fast client does not hold the loop. */
static void
fwstore_send_burst(struct fwstore_download *dl)
{
	uint64_t	 done = 0, want;
	off_t		 off;
	ssize_t		 n;

	while (dl->sent < dl->end && done < FWSTORE_BURST) {
		want = dl->end - dl->sent;
		if (want > FWSTORE_BURST - done)
			want = FWSTORE_BURST - done;
		off = (off_t)dl->sent;
		n = sendfile(dl->sock, dl->fd, &off, (size_t)want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			fwstore_send_abort(dl, n == 0 ? "the file is shorter "
			    "than its grant" : strerror(errno));
			return;
		}
		dl->sent += (uint64_t)n;
		done += (uint64_t)n;
	}
	if (done > 0) {
		uv_timer_start(&dl->timer, fwstore_send_on_timer,
		    fwstore_send_stall_ms(dl), 0);
		fwstore_send_step(dl);
	}
	if (dl->sent == dl->end)
		fwstore_send_sent(dl);
}

/* Every byte is in the kernel: report, give the slot back, then FIN and
 * a lingering close so that the client reads it all before we close. */
static void
fwstore_send_sent(struct fwstore_download *dl)
{
	fwstore_send_report(dl);
	fwstore_download_unslot(dl);
	dl->lingering = 1;
	if (shutdown(dl->sock, SHUT_WR) == -1) {
		fwstore_send_close(dl);
		return;
	}
	uv_poll_start(&dl->poll, UV_READABLE | UV_DISCONNECT,
	    fwstore_send_on_poll);
	uv_timer_start(&dl->timer, fwstore_send_on_timer, FWSTORE_LINGER_MS,
	    0);
}

/* Reads and drops what the client still sends; its FIN (or too much, or
 * an error) ends the download. */
static void
fwstore_send_linger(struct fwstore_download *dl)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		n = read(dl->sock, buf, sizeof(buf));
		if (n > 0) {
			dl->discarded += (uint64_t)n;
			if (dl->discarded <= FWSTORE_LINGER_BYTES)
				continue;
		} else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		fwstore_send_close(dl);
		return;
	}
}

static void
fwstore_send_on_timer(uv_timer_t *t)
{
	struct fwstore_download	*dl = t->data;
	char			 why[64];

	if (dl->lingering) {
		fwstore_send_close(dl);
		return;
	}
	(void)snprintf(why, sizeof(why), "no progress for %llu s",
	    (unsigned long long)fwstore_send_stall_ms(dl) / 1000);
	fwstore_send_abort(dl, why);
}

static void
fwstore_send_abort(struct fwstore_download *dl, const char *why)
{
	fwstore_send_aborted(dl, why);
	fwstore_send_close(dl);
}

/* Closes the handles; the last close callback frees the download (and
 * closes the socket). */
static void
fwstore_send_close(struct fwstore_download *dl)
{
	if (!uv_is_closing((uv_handle_t *)&dl->poll))
		uv_close((uv_handle_t *)&dl->poll, fwstore_send_on_close);
	if (!uv_is_closing((uv_handle_t *)&dl->timer))
		uv_close((uv_handle_t *)&dl->timer, fwstore_send_on_close);
}

static void
fwstore_send_on_close(uv_handle_t *h)
{
	struct fwstore_download	*dl = h->data;

	dl->handles--;
	fwstore_download_release(dl);
}

static uint64_t
fwstore_send_stall_ms(struct fwstore_download *dl)
{
	unsigned	 s = dl->fw->cfg->fwstore.stall_timeout;

	return (uint64_t)(s == 0 ? 60 : s) * 1000;
}

/* What broke the socket (libuv says EBADF for any POLLERR). */
static const char *
fwstore_send_error(struct fwstore_download *dl, int status)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(dl->sock, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0)
		return strerror(err);
	return uv_strerror(status);
}
