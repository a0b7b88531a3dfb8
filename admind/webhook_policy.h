/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of admind's webhooks (webhook.c sends them): which event
 * kinds [admind] webhook_events selects, the JSON an event is stored as
 * and the body POSTed from it, its X-Otad-Signature, the wait after a
 * failed attempt and a URL fit for a log line.  No env, no store, no
 * event loop: tests/test_webhook.c checks each against known values.
 */
#ifndef OTAD_WEBHOOK_POLICY_H
#define OTAD_WEBHOOK_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* "sha256=" and 64 hex digits. */
#define WEBHOOK_SIG_LEN		(7 + 64)
#define WEBHOOK_BACKOFF_MIN_MS	1000
#define WEBHOOK_BACKOFF_MAX_MS	(10 * 60 * 1000)

/* 1 when the space-separated selectors ("" selects all) take an event of
 * this kind; subkind is an audit event's own kind ("job.finished") or
 * NULL.  A selector takes a kind equal to it or beginning with it and a
 * dot: "device" takes "device.online" and the audit "device.created". */
int	 webhook_policy_selected(const char *selectors, const char *kind,
	    const char *subkind);

/* The event as stored, a JSON object: {"kind":..., "device_id":...,
 * "job_id":..., "data":<data, a JSON object>, "time":"<RFC 3339>"}. */
int	 webhook_policy_event(struct buf *, const char *kind,
	    int64_t device_id, int64_t job_id, const char *data, int64_t when);

/* The body POSTed for a stored event: the same object with "id":<id>
 * last.  -1 when stored is no JSON object's text. */
int	 webhook_policy_body(struct buf *, const char *stored, int64_t id);

/* "sha256=<hex HMAC-SHA256 of body keyed with secret>" into out
 * (WEBHOOK_SIG_LEN + 1 bytes): 0, or -1 when OpenSSL failed. */
int	 webhook_policy_sign(const char *secret, const void *body, size_t len,
	    char *out);

/* The wait before the next attempt after n failures in a row (n >= 1):
 * 1 s, doubling, at most 10 min. */
uint64_t webhook_policy_backoff_ms(unsigned failures);

/* 1 for an HTTP status that means delivered (2xx). */
int	 webhook_policy_delivered(long status);

/* The URL's scheme, host and port only, for log lines: a user and
 * password, a path or a query may hold a receiver's own secret. */
void	 webhook_policy_url_safe(const char *url, char *out, size_t outlen);

#endif
