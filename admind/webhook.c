/* SPDX-License-Identifier: MIT */
/*
 * admind's webhooks: every event of the live stream whose kind [admind]
 * webhook_events selects is queued in the database, one row per URL of
 * webhook_url (in the transaction that stored the fact, or the loop
 * turn's light batch), then POSTed with libcurl's multi interface driven
 * by admind's libuv loop (a uv_poll per socket, a uv_timer for curl's
 * timeouts), so that a slow or dead receiver never holds the loop.  Each
 * URL gets its events in order, one at a time: a 2xx deletes the row, any
 * other answer retries it after a backoff (webhook_policy.c) and the
 * events behind it wait.  Past webhook_queue_max waiting events for a URL
 * the oldest is dropped, counted and logged.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <uv.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "webhook_policy.h"

#define WEBHOOK_CONNECT_TIMEOUT_MS	10000
#define WEBHOOK_TIMEOUT_MS		30000
#define WEBHOOK_DROP_LOG_MS		10000	/* one drop line at most */

/* One receiver URL and the event in flight to it. */
struct webhook_target {
	char			*url;
	char			 origin[128];	/* for log lines */
	int64_t			 queued;	/* events waiting, in the db */
	int64_t			 sending;	/* the row in flight, 0: none */
	unsigned		 failures;	/* in a row */
	uv_timer_t		 retry;
	int			 waiting;	/* retry is running */
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 body;
	char			 error[CURL_ERROR_SIZE];
};

/* A socket curl asked us to watch; freed in its close callback. */
struct webhook_sock {
	uv_poll_t	 poll;
	curl_socket_t	 fd;
};

static struct {
	CURLM			*multi;
	uv_timer_t		 timeout;	/* curl's */
	struct webhook_target	 targets[CFG_MAX_WEBHOOKS];
	size_t			 n;
	struct webhook_counters	 count;
	uint64_t		 drop_logged;	/* ms of the last drop line */
	uint64_t		 drops_unlogged;
} wh;

static void	 webhook_next(struct webhook_target *);

/* The queue's counts from the database (at start, after a rollback). */
static void
webhook_count_cb(void *arg, const char *url, int64_t n)
{
	for (size_t i = 0; i < wh.n; i++)
		if (url != NULL && strcmp(wh.targets[i].url, url) == 0)
			wh.targets[i].queued = n;
}

static void
webhook_recount(void)
{
	for (size_t i = 0; i < wh.n; i++)
		wh.targets[i].queued = 0;
	if (store_webhook_counts(env->store, webhook_count_cb, NULL) == -1)
		log_warnx("webhooks: the queue could not be counted");
}

/* After the event's transaction: sent now, or counted again when it was
 * rolled back. */
static void
webhook_settled(void *arg, int committed)
{
	if (!committed)
		webhook_recount();
	for (size_t i = 0; i < wh.n; i++)
		webhook_next(&wh.targets[i]);
}

/* Past webhook_queue_max: the oldest goes, in a log line at most every
 * WEBHOOK_DROP_LOG_MS with how many went since the last. */
static void
webhook_drop_oldest(struct webhook_target *t)
{
	uint64_t	 now = uv_now(env->loop);
	int		 rc;

	if ((rc = store_webhook_drop_oldest(env->store, t->url)) == -1) {
		tx_fail();
		return;
	}
	if (rc == 0) {
		t->queued = 0;
		return;
	}
	t->queued--;
	wh.count.dropped++;
	wh.drops_unlogged++;
	if (wh.drop_logged != 0 && now - wh.drop_logged < WEBHOOK_DROP_LOG_MS)
		return;
	log_warnx("webhook %s: %u events wait for it ([admind] "
	    "webhook_queue_max): dropped the oldest, %" PRIu64 " since the "
	    "last such line, %" PRIu64 " in all", t->origin,
	    env->cfg.admind.webhook_queue_max, wh.drops_unlogged,
	    wh.count.dropped);
	wh.drop_logged = now;
	wh.drops_unlogged = 0;
}

/* An audit event's own kind ("job.finished"), or NULL; caller frees. */
static char *
webhook_subkind(const char *kind, const char *data)
{
	struct json_value	*v;
	const char		*s;
	char			 err[128], *sub = NULL;

	if (strcmp(kind, "audit") != 0 ||
	    (v = json_parse(data, strlen(data), err, sizeof(err))) == NULL)
		return NULL;
	if ((s = json_get_str(v, "kind")) != NULL)
		sub = strdup(s);
	json_free(v);
	return sub;
}

static int
webhook_selected(const char *kind, const char *data)
{
	const char	*events = env->cfg.admind.webhook_events;
	char		*sub;
	int		 yes;

	if (webhook_policy_selected(events, kind, NULL))
		return 1;
	sub = webhook_subkind(kind, data);
	yes = sub != NULL && webhook_policy_selected(events, kind, sub);
	free(sub);
	return yes;
}

int
webhook_on(void)
{
	return wh.n > 0;
}

void
webhook_event(const char *kind, int64_t device_id, int64_t job_id,
    const char *data)
{
	struct buf	 b = BUF_INIT;
	int		 rc = 0;

	if (wh.n == 0 || !webhook_selected(kind, data))
		return;
	if (webhook_policy_event(&b, kind, device_id, job_id, data,
	    (int64_t)time(NULL)) == -1 || store_light(env->store) == -1) {
		log_warnx("webhooks: a %s event could not be queued", kind);
		buf_free(&b);
		tx_fail();
		return;
	}
	for (size_t i = 0; i < wh.n && rc == 0; i++) {
		struct webhook_target *t = &wh.targets[i];

		if (t->queued >= env->cfg.admind.webhook_queue_max)
			webhook_drop_oldest(t);
		if ((rc = store_webhook_add(env->store, t->url, kind,
		    buf_cstr(&b))) == 0)
			t->queued++;
	}
	buf_free(&b);
	if (rc == -1)
		tx_fail();
	if (tx_defer(webhook_settled, NULL) == -1)
		log_warnx("webhooks: out of memory");
}

/* The headers of one POST; the signature is over exactly the body. */
static int
webhook_headers(struct webhook_target *t, const char *kind)
{
	char		 sig[WEBHOOK_SIG_LEN + 1], lines[2][128];
	const char	*all[] = { "Content-Type: application/json",
			    "Expect:", "User-Agent: otad/" OTAD_VERSION,
			    lines[0], lines[1] };
	struct curl_slist *h = NULL, *p;

	if (webhook_policy_sign(env->cfg.admind.webhook_secret, t->body.data,
	    t->body.len, sig) == -1)
		return -1;
	snprintf(lines[0], sizeof(lines[0]), "X-Otad-Signature: %s", sig);
	snprintf(lines[1], sizeof(lines[1]), "X-Otad-Event: %.80s", kind);
	for (size_t i = 0; i < nitems(all); i++) {
		if ((p = curl_slist_append(h, all[i])) == NULL) {
			curl_slist_free_all(h);
			return -1;
		}
		h = p;
	}
	curl_slist_free_all(t->headers);
	t->headers = h;
	return 0;
}

/* The event's POST on t's handle, added to the multi handle. */
static int
webhook_post(struct webhook_target *t, const struct webhook_event *e)
{
	buf_reset(&t->body);
	if (webhook_policy_body(&t->body, e->body, e->id) == -1 ||
	    webhook_headers(t, e->kind) == -1)
		return -1;
	t->error[0] = '\0';
	if (curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body.data) ||
	    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)t->body.len) ||
	    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers) ||
	    curl_multi_add_handle(wh.multi, t->easy) != CURLM_OK)
		return -1;
	t->sending = e->id;
	return 0;
}

/* Tries again after the backoff of t's failures so far. */
static void
webhook_retry_cb(uv_timer_t *h)
{
	struct webhook_target *t = h->data;

	t->waiting = 0;
	webhook_next(t);
}

static void
webhook_wait(struct webhook_target *t, uint64_t ms)
{
	t->waiting = 1;
	uv_timer_start(&t->retry, webhook_retry_cb, ms, 0);
}

/* The oldest event for t goes out, unless one is in flight or t waits. */
static void
webhook_next(struct webhook_target *t)
{
	struct webhook_event e;
	int		 rc;

	if (t->sending != 0 || t->waiting || wh.multi == NULL ||
	    !cluster_leader())
		return;
	if ((rc = store_webhook_head(env->store, t->url, &e)) == -1) {
		webhook_wait(t, WEBHOOK_BACKOFF_MIN_MS);
		return;
	}
	if (rc == 0) {
		t->queued = 0;
		return;
	}
	if ((unsigned)e.attempts > t->failures)
		t->failures = (unsigned)e.attempts;	/* before a restart */
	if (webhook_post(t, &e) == -1) {
		log_warnx("webhook %s: event %" PRId64 " could not be prepared;"
		    " trying again in %u s", t->origin, e.id,
		    WEBHOOK_BACKOFF_MIN_MS / 1000);
		webhook_wait(t, WEBHOOK_BACKOFF_MIN_MS);
	}
	webhook_event_free(&e);
}

static void
webhook_delivered(struct webhook_target *t, int64_t id)
{
	int	 rc;

	wh.count.delivered++;
	if (t->failures > 0)
		log_info("webhook %s: delivered again after %u failed "
		    "attempts", t->origin, t->failures);
	t->failures = 0;
	if (store_light(env->store) == -1 ||
	    (rc = store_webhook_delete(env->store, id)) == -1) {
		webhook_wait(t, WEBHOOK_BACKOFF_MIN_MS);
		return;
	}
	if (rc == 1 && t->queued > 0)		/* 0: dropped meanwhile */
		t->queued--;
	webhook_next(t);
}

static void
webhook_failed(struct webhook_target *t, int64_t id, CURLcode res,
    long status)
{
	char		 why[CURL_ERROR_SIZE + 32];
	uint64_t	 ms;

	wh.count.failed_attempts++;
	ms = webhook_policy_backoff_ms(++t->failures);
	if (res != CURLE_OK)
		snprintf(why, sizeof(why), "%s", *t->error ? t->error :
		    curl_easy_strerror(res));
	else
		snprintf(why, sizeof(why), "HTTP status %ld", status);
	log_warnx("webhook %s: event %" PRId64 " not delivered (attempt %u): "
	    "%s; next attempt in %" PRIu64 " s", t->origin, id, t->failures,
	    why, ms / 1000);
	if (store_light(env->store) == -1 || store_webhook_failed(env->store,
	    id, (int64_t)time(NULL) + (int64_t)(ms / 1000)) == -1)
		log_debug("webhook %s: the attempt was not recorded",
		    t->origin);
	webhook_wait(t, ms);
}

/* Every transfer curl finished: delivered, or tried again later. */
static void
webhook_finished(void)
{
	struct webhook_target *t;
	CURLMsg		*m;
	CURLcode	 res;
	CURL		*easy;
	char		*priv;
	long		 status = 0;
	int		 left;
	int64_t		 id;

	while ((m = curl_multi_info_read(wh.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		easy = m->easy_handle;
		res = m->data.result;
		priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(wh.multi, easy);
		if ((t = (struct webhook_target *)(void *)priv) == NULL)
			continue;
		id = t->sending;
		t->sending = 0;
		if (res == CURLE_OK && webhook_policy_delivered(status))
			webhook_delivered(t, id);
		else
			webhook_failed(t, id, res, status);
	}
}

static void
webhook_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
webhook_poll_cb(uv_poll_t *h, int status, int events)
{
	struct webhook_sock *s = h->data;
	int		 flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(wh.multi, s->fd, flags, &running);
	webhook_finished();
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl waits for. */
static int
webhook_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct webhook_sock *s = sockp;
	int		 events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(wh.multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, webhook_sock_closed);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    uv_poll_init_socket(env->loop, &s->poll, fd) != 0) {
			log_warnx("webhooks: cannot watch a socket");
			free(s);
			return -1;
		}
		s->fd = fd;
		s->poll.data = s;
		curl_multi_assign(wh.multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, webhook_poll_cb);
	return 0;
}

static void
webhook_timeout_cb(uv_timer_t *h)
{
	int	 running;

	curl_multi_socket_action(wh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	webhook_finished();
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called in ms (-1: never). */
static int
webhook_timer_cb(CURLM *multi, long ms, void *arg)
{
	if (ms < 0)
		uv_timer_stop(&wh.timeout);
	else
		uv_timer_start(&wh.timeout, webhook_timeout_cb, (uint64_t)ms,
		    0);
	return 0;
}

static size_t
webhook_discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;	/* the receiver's answer is its status */
}

/* t's handle: the options every POST to its URL shares. */
static int
webhook_easy(struct webhook_target *t)
{
	CURL	*e;

	if ((t->easy = e = curl_easy_init()) == NULL)
		return -1;
	return curl_easy_setopt(e, CURLOPT_URL, t->url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, webhook_discard) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)WEBHOOK_CONNECT_TIMEOUT_MS) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)WEBHOOK_TIMEOUT_MS) ? -1 : 0;
}

static void
webhook_target_add(const char *url, size_t len)
{
	struct webhook_target *t = &wh.targets[wh.n];

	if ((t->url = strndup(url, len)) == NULL)
		fatal("webhooks");
	webhook_policy_url_safe(t->url, t->origin, sizeof(t->origin));
	if (webhook_easy(t) == -1)
		fatalx("webhook %s: libcurl refused its options", t->origin);
	uv_timer_init(env->loop, &t->retry);
	t->retry.data = t;
	wh.n++;
}

/* Events queued for a URL no longer in webhook_url are dropped. */
struct webhook_stale {
	char	*urls[64];
	int64_t	 counts[64];
	size_t	 n;
};

static void
webhook_stale_cb(void *arg, const char *url, int64_t n)
{
	struct webhook_stale *st = arg;

	for (size_t i = 0; i < wh.n; i++)
		if (url == NULL || strcmp(wh.targets[i].url, url) == 0)
			return;
	if (st->n < nitems(st->urls) && (st->urls[st->n] = strdup(url)))
		st->counts[st->n++] = n;
}

static void
webhook_forget_stale(void)
{
	struct webhook_stale st = { .n = 0 };
	char		 origin[128];
	int64_t		 n;

	if (store_webhook_counts(env->store, webhook_stale_cb, &st) == -1)
		fatalx("webhooks: cannot read the queue");
	for (size_t i = 0; i < st.n; i++) {
		webhook_policy_url_safe(st.urls[i], origin, sizeof(origin));
		if (store_webhook_forget(env->store, st.urls[i], &n) == -1)
			fatalx("webhooks: cannot clean the queue");
		log_warnx("webhook %s is no longer in [admind] webhook_url: "
		    "dropped the %" PRId64 " events that waited for it",
		    origin, n);
		free(st.urls[i]);
	}
}

void
webhook_start(void)
{
	const char	*p = env->cfg.admind.webhook_url, *url;
	size_t		 len;

	while ((url = util_word(&p, " \t", &len)) != NULL &&
	    wh.n < CFG_MAX_WEBHOOKS) {
		if (wh.n == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			fatalx("webhooks: libcurl could not start");
		webhook_target_add(url, len);
	}
	webhook_forget_stale();
	if (wh.n == 0)
		return;
	if ((wh.multi = curl_multi_init()) == NULL)
		fatalx("webhooks: libcurl could not start");
	uv_timer_init(env->loop, &wh.timeout);
	curl_multi_setopt(wh.multi, CURLMOPT_SOCKETFUNCTION, webhook_socket_cb);
	curl_multi_setopt(wh.multi, CURLMOPT_TIMERFUNCTION, webhook_timer_cb);
	webhook_recount();
	for (size_t i = 0; i < wh.n; i++) {
		log_info("webhook %s: %" PRId64 " events waiting",
		    wh.targets[i].origin, wh.targets[i].queued);
		webhook_next(&wh.targets[i]);
	}
}

void
webhook_resume(void)
{
	for (size_t i = 0; i < wh.n; i++)
		webhook_next(&wh.targets[i]);
}

void
webhook_counters(struct webhook_counters *c)
{
	*c = wh.count;
	c->queued = 0;
	for (size_t i = 0; i < wh.n; i++)
		c->queued += (uint64_t)wh.targets[i].queued;
}
