/* SPDX-License-Identifier: MIT */
/*
 * The body of a firmware download in otad-fwstore.  Plain HTTP to a client
 * that does not keep the connection (every ESP updater): once the head
 * reached the kernel the bytes go with sendfile(2) on the connection's
 * socket until it is full.  When the whole body fit, the connection sends
 * the FIN and lingers (common/http.c) while the acknowledgements come in:
 * no other handle.  When the socket filled first, the HTTP connection is
 * let go and the rest goes on a duplicate of the socket, watched by a
 * uv_poll for writability, then FIN and a lingering close.  TLS, or a
 * client that keeps the connection: 64 KiB preads through the connection,
 * one write in flight.  Progress is what the peer acknowledged (the bytes
 * in the kernel less the socket's unacknowledged queue, read after every
 * write and on a tick), added to the delivery's coverage (coverage.c) and
 * told to admind: started, every 10% of the coverage, complete (the
 * coverage is the whole image), aborted (the peer left or stalled first).
 */
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <linux/sockios.h>
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
#define FWSTORE_TICK_MS		200		/* acks, stall */
#define FWSTORE_LINGER_MS	2000
#define FWSTORE_LINGER_BYTES	(64 * 1024)

static void	fwstore_send_started(struct fwstore_download *);
static void	fwstore_send_chunk(struct fwstore_download *);
static int	fwstore_send_check(struct fwstore_download *);
static int	fwstore_send_acks(struct fwstore_download *);
static int	fwstore_send_unacked(struct fwstore_download *, uint64_t *);
static uint64_t	fwstore_send_covered(struct fwstore_download *, int *);
static void	fwstore_send_note(struct fwstore_download *);
static void	fwstore_send_tell(struct fwstore_download *, enum ctl_progress,
		    uint64_t);
static void	fwstore_send_delivered(struct fwstore_download *);
static void	fwstore_send_report(struct fwstore_download *);
static void	fwstore_send_aborted(struct fwstore_download *, const char *);
static void	fwstore_send_handoff(struct fwstore_download *);
static void	fwstore_send_on_poll(uv_poll_t *, int, int);
static void	fwstore_send_burst(struct fwstore_download *);
static void	fwstore_send_sent(struct fwstore_download *);
static void	fwstore_send_linger(struct fwstore_download *);
static void	fwstore_send_hangup(struct fwstore_download *);
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
	int	 fd = http_conn_fd(conn), on = 1;

	if (fd != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/*
 * The head (one write, Content-Length of [first, end)) and the start of
 * the body; the tick runs until the download ends.  -1 when nothing was
 * written.
 */
int
fwstore_send_begin(struct fwstore_download *dl, int status,
    const char *headers)
{
	struct http_conn	*conn = dl->conn;

	dl->zerocopy = !http_conn_tls(conn) && !conn->req.keep_alive;
	if (dl->zerocopy)
		fwstore_send_cork(conn);
	if (http_stream_begin(conn, status, "application/octet-stream",
	    headers, dl->end - dl->first) == -1)
		return -1;
	dl->streaming = 1;
	dl->written = dl->sent = dl->acked = dl->first;
	dl->started_ms = dl->moved_ms = util_now_ms();
	fwstore_send_started(dl);
	uv_timer_init(dl->fw->loop, &dl->timer);
	dl->timer.data = dl;
	dl->handles++;
	uv_timer_start(&dl->timer, fwstore_send_on_timer, FWSTORE_TICK_MS,
	    FWSTORE_TICK_MS);
	if (!dl->zerocopy)
		fwstore_send_chunk(dl);
	/* sendfile: once the head drained (fwstore_send_drain) */
	return 0;
}

/* What the connection had queued reached the kernel. */
void
fwstore_send_drain(struct fwstore_download *dl)
{
	if (dl->zerocopy) {
		fwstore_send_burst(dl);
		return;
	}
	if (dl->sent != dl->written)
		dl->moved_ms = util_now_ms();
	dl->sent = dl->written;
	dl->draining = dl->sent == dl->end;
	if (fwstore_send_check(dl) == 0 && !dl->draining)
		fwstore_send_chunk(dl);
}

/* The connection is closing, its socket still open: once the body is all
 * in the kernel, a last look at the acknowledgements says whether the
 * client has it (its FIN, or the linger ended). */
void
fwstore_send_closing(struct fwstore_download *dl)
{
	if (dl->streaming && dl->draining)
		fwstore_send_hangup(dl);
}

/* The connection closed under a body: the client left or stalled. */
void
fwstore_send_lost(struct fwstore_download *dl)
{
	fwstore_send_aborted(dl, "the connection closed");
	fwstore_send_close(dl);
}

/* STARTED with what the delivery's peers acknowledged so far. */
static void
fwstore_send_started(struct fwstore_download *dl)
{
	uint64_t	 bytes;
	int		 all;

	bytes = fwstore_send_covered(dl, &all);
	dl->step = dl->size ? (unsigned)(bytes * 10 / dl->size) : 0;
	fwstore_send_tell(dl, CTL_PROGRESS_STARTED, bytes);
	fwstore_download_log(dl, LOG_DEBUG, "download of delivery %llu "
	    "started: bytes %llu-%llu of %llu to %s%s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->first, (unsigned long long)dl->end,
	    (unsigned long long)dl->size, dl->remote,
	    dl->zerocopy ? " (sendfile)" : "");
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

	if (dl->written != dl->sent || left == 0)
		return;		/* a write is still in flight, or done */
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

/*
 * Reads the acknowledgements; once the whole range is in the kernel and
 * acknowledged the download is delivered.  1 when the download ended
 * (delivered, or aborted because the socket cannot say), else 0.
 */
static int
fwstore_send_check(struct fwstore_download *dl)
{
	char	 why[96];

	if (fwstore_send_acks(dl) == -1) {
		(void)snprintf(why, sizeof(why), "cannot read the socket's "
		    "queue: %s", strerror(errno));
		fwstore_send_abort(dl, why);
		return 1;
	}
	if (dl->draining && dl->acked == dl->end) {
		fwstore_send_delivered(dl);
		return 1;
	}
	return 0;
}

/* How far the peer acknowledged; a move goes into the delivery's coverage
 * and, when it crossed a step, to admind.  -1 (errno set) when the socket
 * cannot say. */
static int
fwstore_send_acks(struct fwstore_download *dl)
{
	uint64_t	 unacked, acked;
	int		 rc;

	if ((rc = fwstore_send_unacked(dl, &unacked)) != 1)
		return rc;
	/* The head went before the body: while part of it waits, no body
	 * byte is acknowledged and unacked covers all that was sent. */
	acked = unacked < dl->sent - dl->first ? dl->sent - unacked :
	    dl->first;
	if (acked > dl->acked) {
		dl->acked = acked;
		dl->moved_ms = util_now_ms();
		if (dl->conn != NULL)	/* a slow reader is no idle one */
			http_conn_touch(dl->conn);
		fwstore_send_note(dl);
	}
	return 0;
}

/*
 * Bytes written to the socket that the peer has not acknowledged: its
 * unsent and unacknowledged queue, less our FIN.  Over TLS the queue holds
 * records, more bytes than the plain ones they carry: the plain bytes
 * acknowledged are under-estimated until the queue is empty.  1 with the
 * count, 0 when there is no socket to ask, -1 (errno set) on failure.
 */
static int
fwstore_send_unacked(struct fwstore_download *dl, uint64_t *unacked)
{
	int	 fd = dl->sock, outq;

	if (fd == -1 && (dl->conn == NULL ||
	    (fd = http_conn_fd(dl->conn)) == -1))
		return 0;		/* no socket yet or any more */
	if (ioctl(fd, SIOCOUTQ, &outq) == -1)
		return -1;
	if (outq < 0) {
		errno = EINVAL;
		return -1;
	}
	*unacked = (uint64_t)outq;
	if (dl->fin && *unacked > 0)
		(*unacked)--;
	return 1;
}

/* The delivery's acknowledged bytes, [first, acked) of this download
 * added; *all when they are the whole image. */
static uint64_t
fwstore_send_covered(struct fwstore_download *dl, int *all)
{
	struct fwstore_cover	*c;

	c = fwstore_cover_get(&dl->fw->coverage, dl->delivery_id, dl->size);
	fwstore_cover_add(c, dl->first, dl->acked);
	*all = fwstore_cover_all(c);
	return fwstore_cover_bytes(c);
}

/* COMPLETE once the coverage is the whole image (the entry is then
 * forgotten), else RUNNING when it crossed a 10% step. */
static void
fwstore_send_note(struct fwstore_download *dl)
{
	uint64_t	 bytes;
	unsigned	 step;
	int		 all;

	if (dl->completed)
		return;
	bytes = fwstore_send_covered(dl, &all);
	if (all) {
		dl->completed = 1;
		fwstore_cover_drop(&dl->fw->coverage, dl->delivery_id);
		fwstore_send_tell(dl, CTL_PROGRESS_COMPLETE, bytes);
		return;
	}
	step = (unsigned)(bytes * 10 / dl->size);
	if (step > dl->step) {
		dl->step = step;
		fwstore_send_tell(dl, CTL_PROGRESS_RUNNING, bytes);
	}
}

static void
fwstore_send_tell(struct fwstore_download *dl, enum ctl_progress what,
    uint64_t bytes)
{
	dl->told = bytes;
	fwstore_ctl_progress(dl->fw, dl->delivery_id, what, bytes, dl->size);
}

/* The whole range was acknowledged: through the connection, the
 * connection is kept or closed as the client asked; sendfile on the
 * connection: it lingers as a closed answer does; on the duplicate: our
 * linger. */
static void
fwstore_send_delivered(struct fwstore_download *dl)
{
	struct http_conn	*conn;

	fwstore_send_report(dl);
	if (dl->zerocopy && dl->sock != -1) {
		dl->lingering = 1;
		uv_timer_start(&dl->timer, fwstore_send_on_timer,
		    FWSTORE_LINGER_MS, 0);
		return;
	}
	if (dl->zerocopy) {
		http_conn_watch(dl->conn, 0);
		fwstore_send_close(dl);
		return;
	}
	conn = fwstore_download_detach(dl);
	fwstore_send_close(dl);
	http_stream_end(conn);
}

/* A range that stops short of the whole image is progress: the coverage
 * goes to admind when it changed since the last report. */
static void
fwstore_send_report(struct fwstore_download *dl)
{
	uint64_t	 ms = util_now_ms() - dl->started_ms, bytes;
	int		 all;

	dl->streaming = 0;
	fwstore_send_note(dl);
	if (!dl->completed &&
	    (bytes = fwstore_send_covered(dl, &all)) != dl->told)
		fwstore_send_tell(dl, CTL_PROGRESS_RUNNING, bytes);
	fwstore_download_log(dl, LOG_INFO, "download of delivery %llu "
	    "complete: bytes %llu-%llu of %llu acknowledged in %llu.%03llu s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->first, (unsigned long long)dl->end,
	    (unsigned long long)dl->size, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));
}

/* The body stops short: a last look at the acknowledgements, then
 * ABORTED with the delivery's coverage (unless that was the whole image
 * already), logged with why. */
static void
fwstore_send_aborted(struct fwstore_download *dl, const char *why)
{
	int	 all;

	(void)fwstore_send_acks(dl);
	dl->streaming = 0;
	if (!dl->completed)
		fwstore_send_tell(dl, CTL_PROGRESS_ABORTED,
		    fwstore_send_covered(dl, &all));
	fwstore_download_log(dl, LOG_INFO, "download of delivery %llu "
	    "aborted with bytes %llu-%llu of %llu acknowledged: %s",
	    (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->first, (unsigned long long)dl->acked,
	    (unsigned long long)dl->size, why);
}

/*
 * The socket is full before the body is all in the kernel: keep a
 * duplicate of the socket, let the HTTP connection go (its close leaves
 * the socket open through the duplicate), and watch the duplicate.
 */
static void
fwstore_send_handoff(struct fwstore_download *dl)
{
	struct http_conn	*conn = dl->conn;
	int			 fd = http_conn_fd(conn), sock;

	if (fd == -1 || (sock = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("download: cannot duplicate the socket");
		fwstore_send_abort(dl, "no duplicate of the socket");
		return;
	}
	fwstore_download_detach(dl);
	http_conn_close(conn);
	if (uv_poll_init_socket(dl->fw->loop, &dl->poll, sock) != 0) {
		log_warnx("download: cannot watch the socket");
		close(sock);
		fwstore_send_abort(dl, "the socket cannot be watched");
		return;
	}
	dl->sock = sock;
	dl->poll.data = dl;
	dl->handles++;
	uv_poll_start(&dl->poll, UV_WRITABLE, fwstore_send_on_poll);
}

static void
fwstore_send_on_poll(uv_poll_t *p, int status, int events)
{
	struct fwstore_download	*dl = p->data;

	if (dl->draining) {
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
 * one fast client does not hold the loop; on the connection's socket
 * first, on the duplicate once it was full. */
static void
fwstore_send_burst(struct fwstore_download *dl)
{
	uint64_t	 done = 0, want;
	off_t		 off;
	ssize_t		 n;
	int		 sock = dl->sock;

	if (sock == -1 && (sock = http_conn_fd(dl->conn)) == -1) {
		fwstore_send_abort(dl, "the connection has no socket");
		return;
	}
	while (dl->sent < dl->end && done < FWSTORE_BURST) {
		want = dl->end - dl->sent;
		if (want > FWSTORE_BURST - done)
			want = FWSTORE_BURST - done;
		off = (off_t)dl->sent;
		n = sendfile(sock, dl->fd, &off, (size_t)want);
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
	if (done > 0)
		dl->moved_ms = util_now_ms();
	if (dl->sock == -1 && http_stream_sent(dl->conn, done) == -1) {
		fwstore_send_abort(dl, "the body is longer than its head");
		return;
	}
	if (dl->sent == dl->end)
		fwstore_send_sent(dl);
	else if (dl->sock == -1)
		fwstore_send_handoff(dl);
	else
		(void)fwstore_send_check(dl);
}

/* Every byte is in the kernel: give the slot back, FIN (which uncorks),
 * then wait for the acknowledgements (the tick), reading what the client
 * sends.  On the connection, http.c sends the FIN at once (nothing is
 * queued on a plain socket) and lingers, for as long as we watch. */
static void
fwstore_send_sent(struct fwstore_download *dl)
{
	fwstore_download_unslot(dl);
	dl->draining = 1;
	if (dl->sock == -1) {
		dl->fin = 1;
		http_conn_watch(dl->conn, 1);
		http_stream_end(dl->conn);
		return;
	}
	if (shutdown(dl->sock, SHUT_WR) == -1) {
		fwstore_send_abort(dl, strerror(errno));
		return;
	}
	dl->fin = 1;
	uv_poll_start(&dl->poll, UV_READABLE | UV_DISCONNECT,
	    fwstore_send_on_poll);
	(void)fwstore_send_check(dl);
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
		fwstore_send_hangup(dl);
		return;
	}
}

/* The client is done: before the acknowledgements were all counted, a
 * last look says whether it has the whole range. */
static void
fwstore_send_hangup(struct fwstore_download *dl)
{
	if (dl->streaming) {
		if (fwstore_send_acks(dl) == 0 && dl->acked == dl->end)
			fwstore_send_report(dl);
		else
			fwstore_send_aborted(dl, "the client closed first");
	}
	fwstore_send_close(dl);
}

/* The tick: acknowledgements, and the stall timeout; or the end of the
 * linger. */
static void
fwstore_send_on_timer(uv_timer_t *t)
{
	struct fwstore_download	*dl = t->data;
	char			 why[64];

	if (dl->lingering) {
		fwstore_send_close(dl);
		return;
	}
	if (fwstore_send_check(dl) != 0 ||
	    util_now_ms() - dl->moved_ms < fwstore_send_stall_ms(dl))
		return;
	(void)snprintf(why, sizeof(why), "no progress for %llu s",
	    (unsigned long long)fwstore_send_stall_ms(dl) / 1000);
	fwstore_send_abort(dl, why);
}

/* Ends the download short: reported, handles closed, the connection (if
 * still ours) closed. */
static void
fwstore_send_abort(struct fwstore_download *dl, const char *why)
{
	struct http_conn	*conn = fwstore_download_detach(dl);

	fwstore_send_aborted(dl, why);
	fwstore_send_close(dl);
	if (conn != NULL)
		http_conn_close(conn);
}

/* Closes the handles; the last close callback frees the download (and
 * closes the socket).  The timer is open from fwstore_send_begin on, the
 * poll once the socket is ours. */
static void
fwstore_send_close(struct fwstore_download *dl)
{
	if (dl->sock != -1 && !uv_is_closing((uv_handle_t *)&dl->poll))
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
