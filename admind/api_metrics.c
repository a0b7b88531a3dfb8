/* SPDX-License-Identifier: MIT */
/*
 * admind's GET /metrics: Prometheus text exposition (version 0.0.4) of the
 * fleet (devices known and online, deliveries and jobs by state, firmware
 * images), of the admin API (logins, failed and throttled logins) and of
 * the webhooks (events waiting, delivered, failed attempts, dropped).
 * Like /admin/health it needs only an address in allowed_ips, no login,
 * so a Prometheus scraper needs no password.
 */
#include <inttypes.h>
#include <string.h>

#include "admind.h"
#include "session.h"
#include "log.h"
#include "util.h"

/* The state names come from lifecycle.c, in the order of its enums. */
struct metrics_states {
	const char	*(*name)(int);
	int		 n;
	int64_t		 count[16];
};

static const char *
metrics_delivery_name(int s)
{
	return delivery_state_name((enum delivery_state)s);
}

static const char *
metrics_job_name(int s)
{
	return job_state_name((enum job_state)s);
}

static void
metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_value(struct buf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	metrics_head(b, name, type, help);
	buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void
metrics_state_cb(void *arg, const char *state, int64_t count)
{
	struct metrics_states *ms = arg;

	for (int i = 0; i < ms->n && i < (int)nitems(ms->count); i++)
		if (state != NULL && strcmp(ms->name(i), state) == 0)
			ms->count[i] = count;
}

static int
metrics_states(struct buf *b, const char *name, const char *help,
    const char *(*names)(int), int n,
    int (*query)(struct store *, void (*)(void *, const char *, int64_t),
    void *))
{
	struct metrics_states ms = { names, n, { 0 } };

	if (query(env->store, metrics_state_cb, &ms) == -1)
		return -1;
	metrics_head(b, name, "gauge", help);
	for (int i = 0; i < n; i++)
		buf_printf(b, "%s{state=\"%s\"} %" PRId64 "\n", name, names(i),
		    ms.count[i]);
	return 0;
}

/* hwd's connections, summed over its workers and per worker (each
 * reports every 2 s). */
static void
metrics_hwd(struct buf *b)
{
	uint64_t	 open = 0, refused = 0;
	const char	*name = "otad_hwd_worker_connections";

	for (unsigned i = 0; i < WORKERS_MAX; i++) {
		if (env->hwd[i].conn == NULL)
			continue;	/* a gone worker's last report */
		open += env->hwd[i].connections;
		refused += env->hwd[i].refused;
	}
	metrics_value(b, "otad_hwd_connections", "gauge", "TCP and TLS "
	    "connections open in otad-hwd's workers, logged in or not (their "
	    "last reports, every 2 s).", open);
	metrics_value(b, "otad_hwd_connections_refused_total", "counter",
	    "Connections otad-hwd's workers closed at once because "
	    "max_connections was reached, since they started.", refused);
	metrics_head(b, name, "gauge", "TCP and TLS connections open in each "
	    "connected otad-hwd worker.");
	for (unsigned i = 0; i < WORKERS_MAX; i++)
		if (env->hwd[i].conn != NULL)
			buf_printf(b, "%s{worker=\"%u\"} %" PRIu64 "\n", name,
			    env->hwd[i].conn->worker, env->hwd[i].connections);
}

static void
metrics_webhooks(struct buf *b)
{
	struct webhook_counters wc;

	webhook_counters(&wc);
	metrics_value(b, "otad_webhook_queued", "gauge", "Events waiting "
	    "for a webhook receiver, every URL of webhook_url.", wc.queued);
	metrics_value(b, "otad_webhook_delivered_total", "counter", "Events "
	    "a webhook receiver took (2xx) since otad-admind started.",
	    wc.delivered);
	metrics_value(b, "otad_webhook_failed_attempts_total", "counter",
	    "Webhook POSTs that failed (no answer or not 2xx) since "
	    "otad-admind started; each is tried again.", wc.failed_attempts);
	metrics_value(b, "otad_webhook_dropped_total", "counter", "Events "
	    "dropped, oldest first, past webhook_queue_max since otad-admind "
	    "started.", wc.dropped);
}

void
api_metrics(struct http_conn *c)
{
	const struct auth_counters *ac = auth_stats();
	struct buf	 b = BUF_INIT;
	int64_t		 devices, firmware;

	if (store_device_count(env->store, &devices) == -1 ||
	    store_firmware_count(env->store, &firmware) == -1 ||
	    metrics_states(&b, "otad_deliveries", "Deliveries by state.",
	    metrics_delivery_name, DELIVERY_NSTATES,
	    store_delivery_states) == -1 ||
	    metrics_states(&b, "otad_jobs", "OTA jobs by state.",
	    metrics_job_name, JOB_NSTATES, store_job_states) == -1) {
		buf_free(&b);
		api_internal(c, "The database could not be read");
		return;
	}
	metrics_value(&b, "otad_devices", "gauge", "Devices known.",
	    (uint64_t)devices);
	metrics_value(&b, "otad_devices_online", "gauge", "Devices logged in "
	    "to otad-hwd now.", env->nonline);
	metrics_value(&b, "otad_firmware", "gauge", "Firmware images stored.",
	    (uint64_t)firmware);
	metrics_value(&b, "otad_admin_requests_authenticated_total", "counter", "Admin API "
	    "requests that passed authentication (password or API token).",
	    ac->ok);
	metrics_value(&b, "otad_admin_login_failures_total", "counter",
	    "Admin API logins refused for wrong credentials.", ac->failed);
	metrics_value(&b, "otad_admin_logins_throttled_total", "counter",
	    "Admin API requests refused with 429 after too many failed "
	    "logins.", ac->throttled);
	metrics_value(&b, "otad_admin_sessions", "gauge", "Web page "
	    "sessions signed in now.", (uint64_t)session_count());
	metrics_value(&b, "otad_device_logins_total", "counter", "Device "
	    "logins through otad-hwd since otad-admind started.",
	    env->stats.device_logins);
	metrics_value(&b, "otad_device_logins_refused_total", "counter",
	    "Device logins refused because admind does not know the token, "
	    "since otad-admind started.", env->stats.unknown_tokens);
	metrics_hwd(&b);
	metrics_value(&b, "otad_downloads_total", "counter", "Firmware "
	    "downloads started since otad-admind started.",
	    env->stats.downloads);
	metrics_value(&b, "otad_downloads_in_flight", "gauge", "Firmware "
	    "downloads under way now.", (uint64_t)env->stats.in_flight);
	metrics_value(&b, "otad_bytes_served_total", "counter", "Firmware "
	    "bytes written to devices since otad-admind started.",
	    env->stats.bytes_served);
	metrics_value(&b, "otad_hwd_connected", "gauge", "otad-hwd workers "
	    "connected to otad-admind now (of [hwd] workers).", env->nhwd);
	metrics_value(&b, "otad_fwstore_connected", "gauge", "otad-fwstore "
	    "workers connected to otad-admind now (of [fwstore] workers).",
	    env->nfwstore);
	metrics_webhooks(&b);
	http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
	    b.data, b.len);
	buf_free(&b);
}
