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
static void	fwstore_ctl_headers(struct ctl_pairs *,
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
 * CTL_FW_CHECK, or CTL_FW_POLL with the device token for ticket (the two
 * have the same fields: filled as fw_check, sent as type); a ":auth"
 * header carries the request's ?auth= when present.
 */
int
fwstore_ctl_check(struct fwstore *fw, uint16_t type,
    const struct http_request *req, const char *ticket, const char *auth,
    const char *remote_addr, int head, ctl_reply_cb cb, void *arg)
{
	union ctl_msg_any m;
	int		 rv;

	if (!fwstore_ctl_ready(fw))
		return -1;
	m.fw_check.ticket = (char *)ticket;
	m.fw_check.remote_addr = (char *)remote_addr;
	m.fw_check.head = head ? 1 : 0;
	fwstore_ctl_headers(&m.fw_check.headers, req, auth);
	if ((rv = ctl_request_msg(fw->ctl.conn, type, &m, cb, arg)) == -1)
		log_warnx("cannot send a firmware check to admind");
	return rv;
}

/* CTL_FW_GRANT into g (its strings g's own), or -1 when malformed. */
int
fwstore_ctl_grant(struct ctl_reader *r, struct fwstore_grant *g)
{
	struct ctl_msg_fw_grant m;

	memset(g, 0, sizeof(*g));
	if (ctl_msg_decode(CTL_FW_GRANT, r, &m) == -1)
		return -1;
	g->status = m.status;
	g->reason = m.reason;
	g->delivery_id = m.delivery_id;
	g->sha256 = m.sha256;
	g->size = m.size;
	g->md5 = m.md5;
	g->sha256_b64 = m.sha256_b64;
	g->version = m.version;
	g->uploaded_at = m.uploaded_at;
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
	struct ctl_msg_fw_progress m = { delivery_id, (uint8_t)what, sent,
	    total };

	if (!fwstore_ctl_ready(fw)) {
		log_debug("admind away: progress of delivery %llu lost",
		    (unsigned long long)delivery_id);
		return;
	}
	if (ctl_send_fw_progress(fw->ctl.conn, 0, &m) == -1)
		log_warnx("cannot send download progress to admind");
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

/* ":auth" first when present, then the device's headers in order
 * (HTTP_MAX_HEADERS + 1 < CTL_MAX_PAIRS: all fit). */
static void
fwstore_ctl_headers(struct ctl_pairs *p, const struct http_request *req,
    const char *auth)
{
	p->n = 0;
	if (auth != NULL) {
		p->key[p->n] = ":auth";
		p->value[p->n++] = (char *)auth;
	}
	for (size_t i = 0; i < req->nheaders && p->n < CTL_MAX_PAIRS; i++) {
		if (!fwstore_ctl_device_header(req->headers[i].name))
			continue;
		p->key[p->n] = req->headers[i].name;
		p->value[p->n++] = req->headers[i].value;
	}
}
