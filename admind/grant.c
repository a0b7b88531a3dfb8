/* SPDX-License-Identifier: MIT */
/*
 * admind's answers to fwstore: may this download go ahead (the ticket is
 * the credential; the device's own headers can show it already runs the
 * image), and the progress of downloads that did, which moves a delivery
 * from sent to downloading to downloaded.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admind.h"
#include "log.h"

#define GRANT_MAX_HEADERS	32

struct grant_req {
	char	*ticket;
	char	*remote;
	uint8_t	 head;
	uint32_t nheaders;
	char	*names[GRANT_MAX_HEADERS];
	char	*values[GRANT_MAX_HEADERS];
};

static void
grant_req_free(struct grant_req *g)
{
	free(g->ticket);
	free(g->remote);
	for (uint32_t i = 0; i < g->nheaders; i++) {
		free(g->names[i]);
		free(g->values[i]);
	}
}

static int
grant_decode(struct ctl_reader *r, struct grant_req *g)
{
	memset(g, 0, sizeof(*g));
	if (ctl_get_str(r, &g->ticket) == -1 ||
	    ctl_get_str(r, &g->remote) == -1 || ctl_get_u8(r, &g->head) == -1 ||
	    ctl_get_u32(r, &g->nheaders) == -1 ||
	    g->nheaders > GRANT_MAX_HEADERS) {
		g->nheaders = 0;
		return -1;
	}
	for (uint32_t i = 0; i < g->nheaders; i++) {
		if (ctl_get_str(r, &g->names[i]) == -1 ||
		    ctl_get_str(r, &g->values[i]) == -1) {
			g->nheaders = i + 1;
			return -1;
		}
	}
	return ctl_get_end(r);
}

static const char *
grant_header(const struct grant_req *g, const char *name)
{
	for (uint32_t i = 0; i < g->nheaders; i++)
		if (strcasecmp(g->names[i], name) == 0)
			return g->values[i];
	return NULL;
}

/* The device already runs the image, by its updater's own headers. */
static int
grant_not_modified(const struct grant_req *g, const struct firmware *fw)
{
	const char *md5 = grant_header(g, "x-esp8266-sketch-md5");
	const char *sha = grant_header(g, "x-esp32-sketch-sha256");
	const char *ver = grant_header(g, "x-esp8266-version");

	if (ver == NULL)
		ver = grant_header(g, "x-esp32-version");
	if (md5 && strcasecmp(md5, fw->md5) == 0)
		return 1;
	if (sha && strcasecmp(sha, fw->sha256) == 0)
		return 1;
	return ver && *fw->version && strcmp(ver, fw->version) == 0;
}

static void
grant_reply(struct ctl_conn *c, uint32_t reqid, int status,
    const char *reason, int64_t delivery_id, const struct firmware *fw)
{
	struct buf	 b = BUF_INIT;

	ctl_put_u16(&b, (uint16_t)status);
	ctl_put_str(&b, reason);
	ctl_put_u64(&b, (uint64_t)delivery_id);
	ctl_put_str(&b, fw ? fw->sha256 : "");
	ctl_put_u64(&b, fw ? fw->size : 0);
	ctl_put_str(&b, fw ? fw->md5 : "");
	ctl_put_str(&b, fw ? fw->sha256_b64 : "");
	ctl_put_str(&b, fw ? fw->version : "");
	ctl_put_u64(&b, fw ? (uint64_t)fw->uploaded_at : 0);
	ctl_send(c, CTL_FW_GRANT, reqid, &b);
	buf_free(&b);
}

static int
grant_usable(const struct delivery *d)
{
	return strcmp(d->state, "sent") == 0 ||
	    strcmp(d->state, "downloading") == 0 ||
	    strcmp(d->state, "downloaded") == 0;
}

static void
grant_check(struct ctl_conn *c, uint32_t reqid, const struct grant_req *g)
{
	struct delivery	 d;
	struct job	 job;
	struct firmware	 fw;
	char		 why[160];

	if (store_delivery_by_ticket(env->store, g->ticket, &d) != 1) {
		grant_reply(c, reqid, 404, "Unknown download ticket: it was "
		    "never issued, or its update was canceled.", 0, NULL);
		return;
	}
	if (!grant_usable(&d) || store_job_get(env->store, d.job_id,
	    &job) != 1) {
		snprintf(why, sizeof(why), "This download is no longer valid: "
		    "the update is %s.", d.state);
		grant_reply(c, reqid, 403, why, d.id, NULL);
		delivery_free(&d);
		return;
	}
	if (store_firmware_get(env->store, job.firmware_id, &fw) != 1) {
		grant_reply(c, reqid, 404, "The firmware file is gone.", d.id,
		    NULL);
	} else if (grant_not_modified(g, &fw)) {
		if (!g->head)
			delivery_transition(&d, "already-current", "", "the "
			    "device's updater reports it runs this image", 0);
		grant_reply(c, reqid, 304, "Already up to date.", d.id, &fw);
	} else {
		grant_reply(c, reqid, 200, "", d.id, &fw);
	}
	firmware_free(&fw);
	job_free(&job);
	delivery_free(&d);
}

static void
grant_progress(int64_t delivery_id, uint8_t what, uint64_t bytes,
    uint64_t total)
{
	struct delivery	 d;
	char		 why[128];

	if (store_delivery_get(env->store, delivery_id, &d) != 1)
		return;
	if (!grant_usable(&d)) {
		delivery_free(&d);
		return;
	}
	store_delivery_progress(env->store, delivery_id, bytes);
	if (what == CTL_PROGRESS_STARTED && strcmp(d.state, "sent") == 0) {
		delivery_transition(&d, "downloading", NULL, "", 0);
	} else if (what == CTL_PROGRESS_COMPLETE &&
	    strcmp(d.state, "downloaded") != 0) {
		delivery_transition(&d, "downloaded", NULL, "", 0);
		sched_job_kick(d.job_id);
	} else if (what == CTL_PROGRESS_ABORTED &&
	    strcmp(d.state, "downloading") == 0) {
		snprintf(why, sizeof(why), "the download stopped after %" PRIu64
		    " of %" PRIu64 " bytes", bytes, total);
		delivery_transition(&d, "sent", NULL, why, 0);
	}
	delivery_free(&d);
}

int
grant_dispatch(struct ctl_conn *c, uint16_t type, uint32_t reqid,
    struct ctl_reader *r)
{
	struct grant_req g;
	uint64_t	 id, bytes, total;
	uint8_t		 what;

	switch (type) {
	case CTL_FW_CHECK:
		if (reqid == 0 || grant_decode(r, &g) == -1) {
			grant_req_free(&g);
			return -1;
		}
		grant_check(c, reqid, &g);
		grant_req_free(&g);
		return 0;
	case CTL_FW_PROGRESS:
		if (ctl_get_u64(r, &id) == -1 || ctl_get_u8(r, &what) == -1 ||
		    ctl_get_u64(r, &bytes) == -1 ||
		    ctl_get_u64(r, &total) == -1 || ctl_get_end(r) == -1 ||
		    what > CTL_PROGRESS_ABORTED)
			return -1;
		grant_progress((int64_t)id, what, bytes, total);
		return 0;
	default:
		return -1;
	}
}
