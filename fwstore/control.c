/* SPDX-License-Identifier: MIT */
/*
 * otad-fwstore's side of the control protocol: the reconnecting client to
 * admind, the CTL_FW_CHECK (or CTL_FW_POLL) request sent for each download,
 * the decoding of admind's CTL_FW_GRANT, and the CTL_FW_PROGRESS
 * notifications.
 */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "buf.h"
#include "ctl.h"
#include "ctl_conn.h"
#include "http.h"
#include "log.h"

#include "fwstore.h"

static int	fwstore_ctl_on_msg(struct ctl_conn *, uint16_t, uint32_t,
		    struct ctl_reader *);
static int	fwstore_ctl_device_header(const char *);
static int	fwstore_ctl_put_headers(struct buf *,
		    const struct http_request *, const char *);

static const struct ctl_conn_ops fwstore_ctl_ops = {
	.on_msg = fwstore_ctl_on_msg,
};

int
fwstore_ctl_start(struct fwstore *fw)
{
	/* ctl_conn logs connects and losses; while admind is away new
	 * downloads get 503 and those under way go on. */
	fw->ctl.ops = &fwstore_ctl_ops;
	fw->ctl.data = fw;
	if (ctl_client_start(fw->loop, &fw->ctl, fw->cfg->control_socket,
	    "fwstore") == -1) {
		log_warnx("control socket %s: cannot start the client",
		    fw->cfg->control_socket);
		return -1;
	}
	return 0;
}

int
fwstore_ctl_ready(struct fwstore *fw)
{
	return fw->ctl.conn != NULL && fw->ctl.ready;
}

/*
 * CTL_FW_CHECK (or CTL_FW_POLL with the device token for ticket): str
 * ticket, str remote_addr, u8 head, u32 n, n x (str name, str value); a
 * ":auth" entry carries the request's ?auth= when present.
 */
int
fwstore_ctl_check(struct fwstore *fw, uint16_t type,
    const struct http_request *req, const char *ticket, const char *auth,
    const char *remote_addr, int head, ctl_reply_cb cb, void *arg)
{
	struct buf	 p = BUF_INIT;
	int		 rv = -1;

	if (!fwstore_ctl_ready(fw))
		return -1;
	if (ctl_put_str(&p, ticket) == -1 ||
	    ctl_put_str(&p, remote_addr) == -1 ||
	    ctl_put_u8(&p, head ? 1 : 0) == -1 ||
	    fwstore_ctl_put_headers(&p, req, auth) == -1)
		log_warnx("cannot encode a firmware check");
	else if ((rv = ctl_request(fw->ctl.conn, type, &p, cb, arg)) == -1)
		log_warnx("cannot send a firmware check to admind");
	buf_free(&p);
	return rv;
}

/*
 * CTL_FW_GRANT: u16 status, str reason, u64 delivery_id, str sha256 hex,
 * u64 size, str md5 hex, str sha256 base64, str version, u64 uploaded_at.
 */
int
fwstore_ctl_grant(struct ctl_reader *r, struct fwstore_grant *g)
{
	memset(g, 0, sizeof(*g));
	ctl_get_u16(r, &g->status);
	ctl_get_str(r, &g->reason);
	ctl_get_u64(r, &g->delivery_id);
	ctl_get_str(r, &g->sha256);
	ctl_get_u64(r, &g->size);
	ctl_get_str(r, &g->md5);
	ctl_get_str(r, &g->sha256_b64);
	ctl_get_str(r, &g->version);
	ctl_get_u64(r, &g->uploaded_at);
	if (ctl_get_end(r) == -1) {
		fwstore_ctl_grant_free(g);
		return -1;
	}
	return 0;
}

void
fwstore_ctl_grant_free(struct fwstore_grant *g)
{
	free(g->reason);
	free(g->sha256);
	free(g->md5);
	free(g->sha256_b64);
	free(g->version);
	memset(g, 0, sizeof(*g));
}

/*
 * CTL_FW_PROGRESS: u64 delivery_id, u8 ctl_progress, u64 sent, u64 total.
 * While admind is away the notification is dropped: the transfer goes on.
 */
void
fwstore_ctl_progress(struct fwstore *fw, uint64_t delivery_id,
    enum ctl_progress what, uint64_t sent, uint64_t total)
{
	struct buf	 p = BUF_INIT;

	if (!fwstore_ctl_ready(fw)) {
		log_debug("admind away: progress of delivery %llu lost",
		    (unsigned long long)delivery_id);
		return;
	}
	if (ctl_put_u64(&p, delivery_id) == -1 ||
	    ctl_put_u8(&p, (uint8_t)what) == -1 ||
	    ctl_put_u64(&p, sent) == -1 ||
	    ctl_put_u64(&p, total) == -1)
		log_warnx("cannot encode download progress");
	else if (ctl_send(fw->ctl.conn, CTL_FW_PROGRESS, 0, &p) == -1)
		log_warnx("cannot send download progress to admind");
	buf_free(&p);
}

/* A reply admind should not have sent: drop the connection (it is
 * reopened with backoff). */
void
fwstore_ctl_malformed(struct fwstore *fw)
{
	log_warnx("malformed firmware grant from admind: reconnecting");
	if (fw->ctl.conn != NULL)
		ctl_conn_close(fw->ctl.conn);
}

/* admind sends fwstore nothing but replies: anything else closes the
 * connection (ctl_conn logs it). */
static int
fwstore_ctl_on_msg(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	return -1;
}

/* The headers admind decides with: the updater's own and User-Agent. */
static int
fwstore_ctl_device_header(const char *lcname)
{
	return strncmp(lcname, "x-esp8266-", 10) == 0 ||
	    strncmp(lcname, "x-esp32-", 8) == 0 ||
	    strcmp(lcname, "user-agent") == 0;
}

static int
fwstore_ctl_put_headers(struct buf *p, const struct http_request *req,
    const char *auth)
{
	uint32_t	 n = auth != NULL ? 1 : 0;
	size_t		 i;

	for (i = 0; i < req->nheaders; i++)
		if (fwstore_ctl_device_header(req->headers[i].name))
			n++;
	if (ctl_put_u32(p, n) == -1)
		return -1;
	if (auth != NULL && (ctl_put_str(p, ":auth") == -1 ||
	    ctl_put_str(p, auth) == -1))
		return -1;
	for (i = 0; i < req->nheaders; i++) {
		if (!fwstore_ctl_device_header(req->headers[i].name))
			continue;
		if (ctl_put_str(p, req->headers[i].name) == -1 ||
		    ctl_put_str(p, req->headers[i].value) == -1)
			return -1;
	}
	return 0;
}
