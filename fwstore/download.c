/* SPDX-License-Identifier: MIT */
/*
 * Firmware download requests in otad-fwstore: routes GET and HEAD
 * /ota/<ticket> and the /update?auth=<token> poll, asks admind whether the
 * download may go ahead (CTL_FW_CHECK, CTL_FW_POLL), then answers admind's
 * status, a version check, a HEAD, a range, or hands the body to send.c.
 * What a request asks for is route.c's, what each answer says answer.c's;
 * here it goes out through the connection, every answer but a body as one
 * write.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uv.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "gate.h"
#include "http.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#include "fwstore.h"

#define FWSTORE_SPARE_CONNS	256	/* beyond max_downloads, to say 503 */
#define FWSTORE_UNAVAILABLE	"firmware service unavailable, retry later"

static int	fwstore_listen(struct fwstore *, struct http_server *,
		    const char *, SSL_CTX *, char *, size_t);
static void	fwstore_on_request(struct http_conn *, struct http_request *);
static void	fwstore_on_complete(struct http_conn *);
static void	fwstore_on_drain(struct http_conn *);
static void	fwstore_on_closing(struct http_conn *);
static void	fwstore_on_close(struct http_conn *);
static void	fwstore_reply(struct http_conn *, int, const char *);
static void	fwstore_send_answer(struct http_conn *,
		    const struct fwstore_answer *);
static void	fwstore_download_check(struct fwstore *, struct http_conn *,
		    struct http_request *, const struct fwstore_route *);
static int	fwstore_download_on_grant(void *, uint16_t,
		    struct ctl_reader *);
static int	fwstore_download_orphan(struct fwstore_download *, uint16_t,
		    struct ctl_reader *);
static void	fwstore_download_granted(struct fwstore_download *,
		    const struct fwstore_grant *);
static void	fwstore_download_answer(struct fwstore_download *,
		    const struct fwstore_grant *);
static void	fwstore_download_refused(struct fwstore_download *,
		    const struct fwstore_grant *);
static void	fwstore_download_fail(struct fwstore_download *, int,
		    const char *);
static void	fwstore_download_over(struct fwstore_download *,
		    const struct fwstore_answer *);

static const struct http_handler fwstore_handler = {
	.on_request = fwstore_on_request,
	.on_complete = fwstore_on_complete,
	.on_drain = fwstore_on_drain,
	.on_closing = fwstore_on_closing,
	.on_close = fwstore_on_close,
};

/* Starts serving cfg.fwstore.listen, and tls_listen when set; -1 with a
 * sentence in err. */
int
fwstore_download_start(struct fwstore *fw, char *err, size_t errlen)
{
	struct cfg	*cfg = fw->cfg;
	SSL_CTX		*ctx;
	char		 why[256];
	unsigned	 max = fwstore_max_downloads(cfg);

	if (max < cfg->fwstore.max_downloads) {
		log_warnx("max_downloads = %u cannot be reached: the open-file "
		    "limit %llu allows %u", cfg->fwstore.max_downloads,
		    (unsigned long long)gate_nofile(), max);
		cfg->fwstore.max_downloads = max;
	}
	if (fwstore_listen(fw, &fw->http, cfg->fwstore.listen, NULL, err,
	    errlen) == -1)
		return -1;
	if (*cfg->fwstore.tls_listen == '\0')
		return 0;
	if ((ctx = tls_server_ctx(cfg->fwstore.tls_cert, cfg->fwstore.tls_key,
	    why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "[fwstore] tls_listen: %s", why);
		return -1;
	}
	return fwstore_listen(fw, &fw->https, cfg->fwstore.tls_listen, ctx,
	    err, errlen);
}

/* max_downloads as far as the open-file limit allows: each download holds
 * a socket and a file. */
unsigned
fwstore_max_downloads(const struct cfg *cfg)
{
	return gate_cap(gate_nofile(), 2, cfg->fwstore.max_downloads);
}

static int
fwstore_listen(struct fwstore *fw, struct http_server *srv,
    const char *listen, SSL_CTX *ctx, char *err, size_t errlen)
{
	unsigned	 max = fw->cfg->fwstore.max_downloads;
	unsigned	 stall = fw->cfg->fwstore.stall_timeout;
	unsigned	 servers = *fw->cfg->fwstore.tls_listen != '\0' ? 2 : 1;

	srv->loop = fw->loop;
	/* each download holds its file too: the rest is for connections,
	 * shared by the plain and the TLS server */
	srv->conn_cap = gate_cap(gate_nofile() - max, servers, 0);
	srv->what = ctx != NULL ? "downloads (TLS)" : "downloads";
	srv->per_address = fw->cfg->fwstore.max_connections_per_address;
	srv->per_address_key = "[fwstore] max_connections_per_address";
	srv->tls = ctx;
	srv->handler = &fwstore_handler;
	srv->data = fw;
	/* Room past the download limit, so that the next clients hear 503
	 * with Retry-After instead of a closed connection. */
	srv->max_conns = max > UINT_MAX / 2 ? max : max + FWSTORE_SPARE_CONNS;
	srv->head_timeout_ms = fw->cfg->fwstore.head_timeout * 1000;
	/* keep-alive, and a stalled body written through the connection */
	srv->idle_timeout_ms = (stall == 0 || stall > UINT_MAX / 1000 ? 60 :
	    stall) * 1000;
	return http_server_start(srv, listen, err, errlen);
}

static void
fwstore_on_request(struct http_conn *conn, struct http_request *req)
{
	struct fwstore		*fw = conn->server->data;
	struct fwstore_route	 route;
	struct fwstore_answer	 a;
	int			 status;

	if ((status = fwstore_route(req, &route)) != 0) {
		log_debug("%s request from %s: %d", req->method_name,
		    conn->peer_str, status);
		fwstore_answer_unrouted(&a, status, &route);
		fwstore_send_answer(conn, &a);
		return;
	}
	if (req->chunked || (req->has_length && req->content_length > 0)) {
		log_debug("download request with a body from %s",
		    conn->peer_str);
		fwstore_answer_body_refused(&a);
		fwstore_send_answer(conn, &a);
		return;
	}
	if (!fwstore_route_quiet(req) &&
	    fw->ndownloads >= fw->cfg->fwstore.max_downloads) {
		log_debug("download limit reached: 503 to %s", conn->peer_str);
		fwstore_reply(conn, 503, "too many downloads, retry later");
		return;
	}
	fwstore_download_check(fw, conn, req, &route);
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

	if (dl != NULL && dl->streaming)
		fwstore_send_drain(dl);
}

static void
fwstore_on_closing(struct http_conn *conn)
{
	struct fwstore_download	*dl = conn->data;

	if (dl != NULL)
		fwstore_send_closing(dl);
}

static void
fwstore_on_close(struct http_conn *conn)
{
	struct fwstore_download	*dl = conn->data;

	if (dl == NULL)
		return;
	fwstore_download_detach(dl);
	if (dl->streaming)
		fwstore_send_lost(dl);
	fwstore_download_release(dl);
}

/* A short answer with a one-line text body (answer.c). */
static void
fwstore_reply(struct http_conn *conn, int status, const char *reason)
{
	struct fwstore_answer	 a;

	fwstore_answer_reply(&a, status, reason, 0);
	fwstore_send_answer(conn, &a);
}

/* An answer without a body to stream, in one write; the connection is
 * closed when it cannot be queued. */
static void
fwstore_send_answer(struct http_conn *conn, const struct fwstore_answer *a)
{
	const char	*extra = a->headers[0] != '\0' ? a->headers : NULL;
	int		 rc;

	switch (a->how) {
	case FWSTORE_ANSWER_REFUSE:
		rc = http_refuse(conn, a->status, a->content_type, extra,
		    a->body, a->body_len);
		break;
	case FWSTORE_ANSWER_HEAD:
		/* HEAD: Content-Length of the image, no body; a version
		 * check: Content-Length 0 */
		if ((rc = http_stream_begin(conn, a->status, a->content_type,
		    extra, a->length)) == 0)
			http_stream_end(conn);
		return;
	default:
		rc = http_respond(conn, a->status, a->content_type, extra,
		    a->body, a->body_len);
		break;
	}
	if (rc == -1)
		http_conn_close(conn);
}

/* Asks admind; the connection waits (its parser paused) for the reply. */
static void
fwstore_download_check(struct fwstore *fw, struct http_conn *conn,
    struct http_request *req, const struct fwstore_route *route)
{
	struct fwstore_download	*dl;

	if (!fwstore_ctl_ready(fw)) {
		log_debug("admind away: 503 to %s", conn->peer_str);
		fwstore_reply(conn, 503, FWSTORE_UNAVAILABLE);
		return;
	}
	if ((dl = calloc(1, sizeof(*dl))) == NULL) {
		log_warn("download");
		fwstore_reply(conn, 503, "out of memory, retry later");
		return;
	}
	dl->fw = fw;
	dl->conn = conn;
	dl->fd = dl->sock = -1;
	dl->head = req->method == HTTP_HEAD;
	dl->quiet = fwstore_route_quiet(req);
	dl->pending = 1;
	(void)snprintf(dl->remote, sizeof(dl->remote), "%s", conn->peer_str);
	if (fwstore_ctl_check(fw, route->type, req, route->ticket,
	    route->type == CTL_FW_CHECK && route->auth[0] ? route->auth : NULL,
	    dl->remote, dl->quiet, fwstore_download_on_grant, dl) == -1) {
		free(dl);
		fwstore_reply(conn, 503, FWSTORE_UNAVAILABLE);
		return;
	}
	if (!dl->quiet) {
		dl->slot = 1;
		fw->ndownloads++;
	}
	conn->data = dl;
}

/* admind's reply, or type 0 when the control connection went away; -1
 * (a malformed reply) closes the control connection. */
static int
fwstore_download_on_grant(void *arg, uint16_t type, struct ctl_reader *r)
{
	struct fwstore_download	*dl = arg;
	struct fwstore_grant	 g;
	struct ctl_msg_error	 err;

	dl->pending = 0;
	if (dl->conn == NULL)
		return fwstore_download_orphan(dl, type, r);
	switch (type) {
	case CTL_FW_GRANT:
		if (fwstore_ctl_grant(r, &g) == -1) {
			fwstore_download_fail(dl, 500, "firmware service error");
			return -1;
		}
		if (g.status == 200)
			fwstore_download_granted(dl, &g);
		else
			fwstore_download_refused(dl, &g);
		fwstore_ctl_grant_free(&g);
		return 0;
	case CTL_ERROR:
		fwstore_download_fail(dl, 503, "firmware service busy, retry "
		    "later");
		if (ctl_msg_decode(type, r, &err) == -1)
			return -1;
		log_warnx("admind could not check a download: %s",
		    err.message);
		ctl_msg_free(type, &err);
		return 0;
	default:
		fwstore_download_fail(dl, 503, FWSTORE_UNAVAILABLE);
		return type == 0 ? 0 : -1;
	}
}

/* The client left while admind was deciding: nothing was sent, nothing
 * started, so admind need not hear of it. */
static int
fwstore_download_orphan(struct fwstore_download *dl, uint16_t type,
    struct ctl_reader *r)
{
	union ctl_msg_any	 m;
	int			 rc = 0;

	if (type != 0 && (rc = ctl_msg_decode(type, r, &m)) == 0)
		ctl_msg_free(type, &m);
	fwstore_download_release(dl);
	return rc;
}

static void
fwstore_download_granted(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	dl->delivery_id = g->delivery_id;
	dl->size = g->size;
	(void)snprintf(dl->sha256, sizeof(dl->sha256), "%s",
	    g->sha256 ? g->sha256 : "");
	if ((dl->fd = fwstore_firmware_open(dl->fw, g)) == -1) {
		fwstore_download_fail(dl, 500, "firmware unavailable");
		return;
	}
	fwstore_download_answer(dl, g);
}

/* A granted image: the version check, HEAD, 416, or the body. */
static void
fwstore_download_answer(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	const struct http_request *req = &dl->conn->req;
	struct fwstore_ask	 q = {
		.head = dl->head,
		.version_check = dl->quiet && !dl->head,
		.range = http_header(req, "range"),
		.if_range = http_header(req, "if-range"),
	};
	struct fwstore_answer	 a;

	if (fwstore_answer_image(&a, &q, g) == -1) {
		fwstore_download_fail(dl, 500, "firmware unavailable");
		return;
	}
	if (a.how != FWSTORE_ANSWER_BODY) {
		fwstore_download_over(dl, &a);
		return;
	}
	dl->first = a.first;
	dl->end = a.end;
	if (fwstore_send_begin(dl, a.status, a.headers) == -1)
		fwstore_download_fail(dl, 500, "firmware unavailable");
}

static void
fwstore_download_refused(struct fwstore_download *dl,
    const struct fwstore_grant *g)
{
	struct fwstore_answer	 a;

	if (fwstore_answer_refusal(&a, g) == -1)
		log_warnx("admind answered status %u to a download",
		    g->status);
	fwstore_download_over(dl, &a);
}

/* Answers status with a one-line reason; the download is over. */
static void
fwstore_download_fail(struct fwstore_download *dl, int status,
    const char *reason)
{
	struct fwstore_answer	 a;

	fwstore_answer_reply(&a, status, reason, dl->size);
	fwstore_download_over(dl, &a);
}

/* The download ends with an answer that has no body to stream. */
static void
fwstore_download_over(struct fwstore_download *dl,
    const struct fwstore_answer *a)
{
	struct http_conn	*conn;

	if (a->status >= 400)
		log_debug("download from %s: %d", dl->remote, a->status);
	conn = fwstore_download_detach(dl);
	fwstore_download_release(dl);
	fwstore_send_answer(conn, a);
}

struct http_conn *
fwstore_download_detach(struct fwstore_download *dl)
{
	struct http_conn	*conn = dl->conn;

	if (conn != NULL)
		conn->data = NULL;
	dl->conn = NULL;
	return conn;
}

/* The download no longer counts against max_downloads. */
void
fwstore_download_unslot(struct fwstore_download *dl)
{
	if (dl->slot) {
		dl->slot = 0;
		dl->fw->ndownloads--;
	}
}

/* Frees the download once nothing refers to it: no connection, no reply
 * awaited, no open handle. */
void
fwstore_download_release(struct fwstore_download *dl)
{
	if (dl->conn != NULL || dl->pending || dl->handles > 0)
		return;
	fwstore_download_unslot(dl);
	if (dl->fd != -1)
		close(dl->fd);
	if (dl->sock != -1)
		close(dl->sock);
	free(dl);
}

void
fwstore_download_log(struct fwstore_download *dl, int prio, const char *fmt,
    ...)
{
	char		 remote[96], sha[96], msg[512];
	const char	*fields[] = { remote, sha, NULL };
	va_list		 ap;

	if (prio == LOG_DEBUG && !log_verbose())
		return;		/* nothing to format */
	(void)snprintf(remote, sizeof(remote), "REMOTE_ADDR=%s", dl->remote);
	(void)snprintf(sha, sizeof(sha), "FIRMWARE_SHA256=%s", dl->sha256);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields(prio, fields, "%s", msg);
}
