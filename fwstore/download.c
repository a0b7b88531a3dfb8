/* SPDX-License-Identifier: MIT */
/*
 * Firmware downloads in otad-fwstore: routes GET and HEAD /ota/<ticket>,
 * asks admind whether the ticket may download (CTL_FW_CHECK), then answers
 * admind's status or streams the granted file in 64 KiB chunks, one write
 * in flight, reporting progress to admind as it goes.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "http.h"
#include "log.h"
#include "util.h"

#include "fwstore.h"

#define FWSTORE_PREFIX		"/ota/"
#define FWSTORE_REASON_MAX	200
#define FWSTORE_HEAD_TIMEOUT	10000	/* ms for the whole request head */
#define FWSTORE_IDLE_TIMEOUT	60000	/* ms of keep-alive or stall */
#define FWSTORE_SPARE_CONNS	256	/* beyond max_downloads, to say 503 */
#define FWSTORE_NO_BODY		"a download request has no body\n"

/* One request on /ota/<ticket>, from the check to the last byte. */
struct fwstore_download {
	struct fwstore		*fw;
	struct http_conn	*conn;		/* NULL once the client left */
	int			 fd;
	unsigned		 head:1;
	unsigned		 pending:1;	/* FW_CHECK awaits its reply */
	unsigned		 slot:1;	/* counted in ndownloads */
	unsigned		 streaming:1;
	uint64_t		 delivery_id;
	uint64_t		 size;
	uint64_t		 written;	/* handed to the connection */
	uint64_t		 sent;		/* reached the kernel */
	unsigned		 step;		/* last 10% step reported */
	uint64_t		 started_ms;
	char			 sha256[65];
	char			 remote[64];
};

static void	fwstore_on_request(struct http_conn *, struct http_request *);
static void	fwstore_on_complete(struct http_conn *);
static void	fwstore_on_drain(struct http_conn *);
static void	fwstore_on_close(struct http_conn *);
static int	fwstore_route(const struct http_request *, const char **);
static void	fwstore_reply(struct http_conn *, int, const char *);
static void	fwstore_download_check(struct fwstore *, struct http_conn *,
		    struct http_request *, const char *);
static void	fwstore_download_on_grant(void *, uint16_t,
		    struct ctl_reader *);
static void	fwstore_download_orphan(struct fwstore_download *, uint16_t,
		    struct ctl_reader *);
static void	fwstore_download_granted(struct fwstore_download *,
		    const struct fwstore_grant *);
static void	fwstore_download_refused(struct fwstore_download *,
		    const struct fwstore_grant *);
static int	fwstore_download_begin(struct fwstore_download *,
		    const struct fwstore_grant *);
static void	fwstore_download_send(struct fwstore_download *);
static void	fwstore_download_step(struct fwstore_download *);
static void	fwstore_download_finish(struct fwstore_download *);
static void	fwstore_download_abort(struct fwstore_download *,
		    const char *);
static void	fwstore_download_fail(struct fwstore_download *, int,
		    const char *);
static struct http_conn *fwstore_download_detach(struct fwstore_download *);
static void	fwstore_download_free(struct fwstore_download *);
static void	fwstore_download_log(struct fwstore_download *, const char *,
		    ...) __attribute__((format(printf, 2, 3)));

static const struct http_handler fwstore_handler = {
	.on_request = fwstore_on_request,
	.on_complete = fwstore_on_complete,
	.on_drain = fwstore_on_drain,
	.on_close = fwstore_on_close,
};

/* Starts serving cfg.fwstore.listen; -1 with a sentence in err. */
int
fwstore_download_start(struct fwstore *fw, char *err, size_t errlen)
{
	struct http_server	*srv = &fw->http;
	unsigned		 max = fw->cfg->fwstore.max_downloads;

	srv->loop = fw->loop;
	srv->tls = NULL;
	srv->handler = &fwstore_handler;
	srv->data = fw;
	/* Room past the download limit, so that the next clients hear 503
	 * with Retry-After instead of a closed connection. */
	srv->max_conns = max > UINT_MAX / 2 ? max : max + FWSTORE_SPARE_CONNS;
	srv->head_timeout_ms = FWSTORE_HEAD_TIMEOUT;
	srv->idle_timeout_ms = FWSTORE_IDLE_TIMEOUT;
	return http_server_start(srv, fw->cfg->fwstore.listen, err, errlen);
}

static void
fwstore_on_request(struct http_conn *conn, struct http_request *req)
{
	struct fwstore	*fw = conn->server->data;
	const char	*ticket;
	int		 status;

	if ((status = fwstore_route(req, &ticket)) != 0) {
		log_debug("%s request from %s: %d", req->method_name,
		    conn->peer_str, status);
		fwstore_reply(conn, status, NULL);
		return;
	}
	if (req->chunked || (req->has_length && req->content_length > 0)) {
		log_debug("download request with a body from %s",
		    conn->peer_str);
		if (http_refuse(conn, 400, "text/plain", NULL, FWSTORE_NO_BODY,
		    strlen(FWSTORE_NO_BODY)) == -1)
			http_conn_close(conn);
		return;
	}
	if (req->method == HTTP_GET &&
	    fw->ndownloads >= fw->cfg->fwstore.max_downloads) {
		log_debug("download limit reached: 503 to %s", conn->peer_str);
		fwstore_reply(conn, 503, "too many downloads, retry later");
		return;
	}
	fwstore_download_check(fw, conn, req, ticket);
}

/* Nothing to do: the answer waits for admind's reply. */
static void
fwstore_on_complete(struct http_conn *conn)
{
}

static void
fwstore_on_drain(struct http_conn *conn)
{
	struct fwstore_download	*dl = conn->data;

	if (dl == NULL || !dl->streaming)
		return;
	dl->sent = dl->written;
	if (dl->sent == dl->size) {
		fwstore_download_finish(dl);
		return;
	}
	fwstore_download_step(dl);
	fwstore_download_send(dl);
}

static void
fwstore_on_close(struct http_conn *conn)
{
	struct fwstore_download	*dl = conn->data;

	if (dl == NULL)
		return;
	fwstore_download_detach(dl);
	if (dl->pending)
		return;		/* freed when admind's reply comes */
	if (dl->streaming) {
		fwstore_ctl_progress(dl->fw, dl->delivery_id,
		    CTL_PROGRESS_ABORTED, dl->sent, dl->size);
		fwstore_download_log(dl, "download of delivery %llu aborted "
		    "by the client after %llu of %llu bytes",
		    (unsigned long long)dl->delivery_id,
		    (unsigned long long)dl->sent, (unsigned long long)dl->size);
	}
	fwstore_download_free(dl);
}

/*
 * 0 and the ticket for GET or HEAD /ota/<ticket>, else the status to
 * answer.  The query string never takes part (req->path holds none).
 */
static int
fwstore_route(const struct http_request *req, const char **ticket)
{
	const char	*t;
	size_t		 i;

	if (strncmp(req->path, FWSTORE_PREFIX, strlen(FWSTORE_PREFIX)) != 0)
		return 404;
	t = req->path + strlen(FWSTORE_PREFIX);
	for (i = 0; t[i] != '\0'; i++) {
		if (i == FWSTORE_TICKET_MAX ||
		    !((t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= 'a' && t[i] <= 'z') ||
		    (t[i] >= '0' && t[i] <= '9')))
			return 404;
	}
	if (i == 0)
		return 404;
	if (req->method != HTTP_GET && req->method != HTTP_HEAD)
		return 405;
	*ticket = t;
	return 0;
}

/*
 * A short answer with a one-line text body: reason (printable ASCII only,
 * cut at the first control character) or the status text.  304 carries no
 * body, as HTTP requires.
 */
static void
fwstore_reply(struct http_conn *conn, int status, const char *reason)
{
	char		 body[FWSTORE_REASON_MAX + 2];
	const char	*extra = NULL;
	size_t		 n = 0;

	if (reason == NULL || reason[0] < ' ' || reason[0] > '~')
		reason = http_status_text(status);
	while (n < FWSTORE_REASON_MAX && reason[n] >= ' ' && reason[n] <= '~') {
		body[n] = reason[n];
		n++;
	}
	body[n++] = '\n';
	if (status == 503)
		extra = FWSTORE_RETRY_AFTER;
	else if (status == 405)
		extra = "Allow: GET, HEAD\r\n";
	if (status == 304)
		n = 0;
	if (http_respond(conn, status, n ? "text/plain" : NULL, extra, body,
	    n) == -1)
		http_conn_close(conn);
}

/* Asks admind; the connection waits (its parser paused) for the reply. */
static void
fwstore_download_check(struct fwstore *fw, struct http_conn *conn,
    struct http_request *req, const char *ticket)
{
	struct fwstore_download	*dl;
	int			 head = req->method == HTTP_HEAD;

	if (!fwstore_ctl_ready(fw)) {
		log_debug("admind away: 503 to %s", conn->peer_str);
		fwstore_reply(conn, 503, "firmware service unavailable, retry "
		    "later");
		return;
	}
	if ((dl = calloc(1, sizeof(*dl))) == NULL) {
		log_warn("download");
		fwstore_reply(conn, 503, "out of memory, retry later");
		return;
	}
	dl->fw = fw;
	dl->conn = conn;
	dl->fd = -1;
	dl->head = head;
	dl->pending = 1;
	(void)snprintf(dl->remote, sizeof(dl->remote), "%s", conn->peer_str);
	if (fwstore_ctl_check(fw, req, ticket, dl->remote, head,
	    fwstore_download_on_grant, dl) == -1) {
		free(dl);
		fwstore_reply(conn, 503, "firmware service unavailable, retry "
		    "later");
		return;
	}
	if (!head) {
		dl->slot = 1;
		fw->ndownloads++;
	}
	conn->data = dl;
}

/* admind's reply to CTL_FW_CHECK, or type 0 when the control connection
 * went away first. */
static void
fwstore_download_on_grant(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct fwstore_download	*dl = arg;
	struct fwstore		*fw = dl->fw;
	struct fwstore_grant	 g;
	char			*msg = NULL;

	dl->pending = 0;
	if (dl->conn == NULL) {
		fwstore_download_orphan(dl, type, r);
		return;
	}
	switch (type) {
	case CTL_FW_GRANT:
		if (fwstore_ctl_grant(r, &g) == -1) {
			fwstore_download_fail(dl, 500, "firmware service error");
			fwstore_ctl_malformed(fw);
			return;
		}
		if (g.status == 200)
			fwstore_download_granted(dl, &g);
		else
			fwstore_download_refused(dl, &g);
		fwstore_ctl_grant_free(&g);
		break;
	case CTL_ERROR:
		if (ctl_get_str(r, &msg) == 0 && ctl_get_end(r) == 0)
			log_warnx("admind could not check a download: %s", msg);
		free(msg);
		fwstore_download_fail(dl, 503, "firmware service busy, retry "
		    "later");
		break;
	default:
		fwstore_download_fail(dl, 503, "firmware service unavailable, "
		    "retry later");
		break;
	}
}

/* The client left while admind was deciding: a granted GET is over before
 * it began, which admind must hear. */
static void
fwstore_download_orphan(struct fwstore_download *dl, uint16_t type,
    struct ctl_reader *r)
{
	struct fwstore_grant	 g;

	if (type == CTL_FW_GRANT && fwstore_ctl_grant(r, &g) == 0) {
		if (g.status == 200 && !dl->head)
			fwstore_ctl_progress(dl->fw, g.delivery_id,
			    CTL_PROGRESS_ABORTED, 0, g.size);
		fwstore_ctl_grant_free(&g);
	}
	fwstore_download_free(dl);
}

static void
fwstore_download_granted(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	dl->delivery_id = g->delivery_id;
	dl->size = g->size;
	(void)snprintf(dl->sha256, sizeof(dl->sha256), "%s",
	    g->sha256 ? g->sha256 : "");
	if ((dl->fd = fwstore_firmware_open(dl->fw, g)) == -1 ||
	    fwstore_download_begin(dl, g) == -1) {
		if (!dl->head)
			fwstore_ctl_progress(dl->fw, dl->delivery_id,
			    CTL_PROGRESS_ABORTED, 0, dl->size);
		fwstore_download_fail(dl, 500, "firmware unavailable");
	}
}

static void
fwstore_download_refused(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	struct http_conn	*conn;
	char			 etag[80];

	switch (g->status) {
	case 304:
		conn = fwstore_download_detach(dl);
		fwstore_download_free(dl);
		etag[0] = '\0';
		if (fwstore_is_hex(g->sha256, 64))
			(void)snprintf(etag, sizeof(etag), "ETag: \"%s\"\r\n",
			    g->sha256);
		if (http_respond(conn, 304, NULL, etag[0] ? etag : NULL, NULL,
		    0) == -1)
			http_conn_close(conn);
		break;
	case 403:
	case 404:
	case 503:
		fwstore_download_fail(dl, g->status, g->reason);
		break;
	default:
		log_warnx("admind answered status %u to a download",
		    g->status);
		fwstore_download_fail(dl, 500, "firmware service error");
		break;
	}
}

/*
 * The head goes out in one write with Content-Length.  HEAD ends there;
 * GET streams from the first chunk on.  -1 when nothing was written.
 */
static int
fwstore_download_begin(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	struct http_conn	*conn;
	char			 headers[512];

	if (fwstore_firmware_headers(g, headers, sizeof(headers)) == -1)
		return -1;
	if (dl->head) {
		conn = fwstore_download_detach(dl);
		fwstore_download_free(dl);
		if (http_stream_begin(conn, 200, "application/octet-stream",
		    headers, g->size) == -1)
			http_conn_close(conn);
		else
			http_stream_end(conn);
		return 0;
	}
	if (http_stream_begin(dl->conn, 200, "application/octet-stream",
	    headers, dl->size) == -1)
		return -1;
	dl->streaming = 1;
	dl->started_ms = util_now_ms();
	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_STARTED, 0,
	    dl->size);
	fwstore_download_log(dl, "download of delivery %llu started: %llu "
	    "bytes to %s", (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->size, dl->remote);
	if (dl->size == 0)
		fwstore_download_finish(dl);
	else
		fwstore_download_send(dl);
	return 0;
}

/* The next chunk; on_drain calls again once it reached the kernel. */
static void
fwstore_download_send(struct fwstore_download *dl)
{
	static char	 chunk[FWSTORE_CHUNK];
	uint64_t	 left = dl->size - dl->written;
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
		fwstore_download_abort(dl, "a read failed");
		return;
	}
	dl->written += (uint64_t)n;
	if (http_stream_write(dl->conn, chunk, (size_t)n) == -1)
		fwstore_download_abort(dl, "a write failed");
}

/* RUNNING once per 10% step crossed (several steps crossed in one drain
 * make one report). */
static void
fwstore_download_step(struct fwstore_download *dl)
{
	unsigned	 step = (unsigned)(dl->sent * 10 / dl->size);

	if (step <= dl->step)
		return;
	dl->step = step;
	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_RUNNING,
	    dl->sent, dl->size);
}

/* Every byte reached the kernel. */
static void
fwstore_download_finish(struct fwstore_download *dl)
{
	struct http_conn	*conn;
	uint64_t		 ms = util_now_ms() - dl->started_ms;

	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_COMPLETE,
	    dl->size, dl->size);
	fwstore_download_log(dl, "download of delivery %llu complete: %llu "
	    "bytes in %llu.%03llu s", (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->size, (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));
	conn = fwstore_download_detach(dl);
	fwstore_download_free(dl);
	http_stream_end(conn);
}

/* A fault on our side mid-stream: the client cannot be told but by
 * closing before Content-Length was reached. */
static void
fwstore_download_abort(struct fwstore_download *dl, const char *why)
{
	struct http_conn	*conn;

	fwstore_ctl_progress(dl->fw, dl->delivery_id, CTL_PROGRESS_ABORTED,
	    dl->sent, dl->size);
	fwstore_download_log(dl, "download of delivery %llu aborted after "
	    "%llu of %llu bytes: %s", (unsigned long long)dl->delivery_id,
	    (unsigned long long)dl->sent, (unsigned long long)dl->size, why);
	conn = fwstore_download_detach(dl);
	fwstore_download_free(dl);
	http_conn_close(conn);
}

/* Answers status with a one-line reason; the download is over. */
static void
fwstore_download_fail(struct fwstore_download *dl, int status,
    const char *reason)
{
	struct http_conn	*conn;

	log_debug("download from %s: %d", dl->remote, status);
	conn = fwstore_download_detach(dl);
	fwstore_download_free(dl);
	fwstore_reply(conn, status, reason);
}

static struct http_conn *
fwstore_download_detach(struct fwstore_download *dl)
{
	struct http_conn	*conn = dl->conn;

	if (conn != NULL)
		conn->data = NULL;
	dl->conn = NULL;
	return conn;
}

static void
fwstore_download_free(struct fwstore_download *dl)
{
	if (dl->fd != -1)
		close(dl->fd);
	if (dl->slot)
		dl->fw->ndownloads--;
	free(dl);
}

static void
fwstore_download_log(struct fwstore_download *dl, const char *fmt, ...)
{
	char		 remote[96], sha[96], msg[512];
	const char	*fields[] = { remote, sha, NULL };
	va_list		 ap;

	(void)snprintf(remote, sizeof(remote), "REMOTE_ADDR=%s", dl->remote);
	(void)snprintf(sha, sizeof(sha), "FIRMWARE_SHA256=%s", dl->sha256);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields(LOG_INFO, fields, "%s", msg);
}
