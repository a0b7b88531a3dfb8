/* SPDX-License-Identifier: MIT */
/*
 * admind's live event stream, GET /admin/events (server-sent events):
 * delivery transitions, devices going online and offline, uploads and
 * admin actions, each as one JSON "data:" line, filterable by job or
 * device.  A subscriber that stops reading is dropped, never buffered
 * without limit; a comment line every 15 s keeps idle streams open.
 * audit.c records admin actions and publishes them here.  Every event
 * goes to webhook.c too; one published inside a transaction reaches the
 * subscribers once that commits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "session.h"
#include "log.h"

#define EVENTS_MAX_QUEUED	(1024 * 1024)
#define EVENTS_KEEPALIVE_MS	15000
#define EVENTS_MAX_SUBSCRIBERS	256

struct events_sub {
	struct events_sub	*next;
	struct http_conn	*conn;
	int64_t			 job_id;	/* 0: all */
	int64_t			 device_id;	/* 0: all */
	char			 session[SESSION_ID_LEN + 1];	/* the web
					 * page's session; "" Basic or token */
};

static struct events_sub *events_subs;
static unsigned		 events_nsubs;
static uint64_t		 events_seq;
static uv_timer_t	 events_timer;
static int		 events_timer_on;

static void
events_send(struct events_sub *s, const char *text, size_t len)
{
	if (http_conn_queued(s->conn) > EVENTS_MAX_QUEUED) {
		log_warnx("event stream to %s: client stopped reading, "
		    "closing it", s->conn->peer_str);
		http_conn_close(s->conn);
		return;
	}
	http_stream_write(s->conn, text, len);
}

/* 1 while the subscriber's session (if it came with one) is live. */
static int
events_signed_in(const struct events_sub *s)
{
	char	 user[64];

	return s->session[0] == '\0' ||
	    session_user(s->session, user, sizeof(user), NULL);
}

void
events_sessions_check(void)
{
	for (struct events_sub *s = events_subs; s; s = s->next)
		if (!events_signed_in(s) && !s->conn->stream.closing) {
			log_info("event stream to %s: its session ended, "
			    "closing it", s->conn->peer_str);
			http_conn_close(s->conn);
		}
}

static void
events_keepalive(uv_timer_t *t)
{
	events_sessions_check();
	for (struct events_sub *s = events_subs; s; s = s->next)
		if (!s->conn->stream.closing)
			events_send(s, ": keep-alive\n\n", 14);
}

/* An event for the subscribers, sent once its transaction committed. */
struct events_notice {
	int64_t	 device_id, job_id;
	size_t	 len;
	char	 text[];
};

static void
events_broadcast(void *arg, int committed)
{
	struct events_notice *n = arg;

	for (struct events_sub *s = events_subs; committed && s; s = s->next) {
		if (s->job_id && s->job_id != n->job_id)
			continue;
		if (s->device_id && s->device_id != n->device_id)
			continue;
		events_send(s, n->text, n->len);
	}
	free(n);
}

int
events_heard(void)
{
	return events_subs != NULL || webhook_on() || cluster_watched();
}

int
events_watched(void)
{
	return events_subs != NULL;
}

/* To this node's subscribers whose filter matches. */
static void
events_local(const char *kind, int64_t device_id, int64_t job_id,
    const char *data)
{
	struct events_notice *n;
	struct buf	 b = BUF_INIT;

	if (events_subs == NULL)
		return;
	buf_printf(&b, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n",
	    ++events_seq, kind, data);
	if (b.data != NULL && (n = malloc(sizeof(*n) + b.len)) != NULL) {
		n->device_id = device_id;
		n->job_id = job_id;
		n->len = b.len;
		memcpy(n->text, b.data, b.len);
		(void)tx_defer(events_broadcast, n);
	}
	buf_free(&b);
}

void
events_publish(const char *kind, int64_t device_id, int64_t job_id,
    const char *data)
{
	webhook_event(kind, device_id, job_id, data);
	cluster_event(kind, device_id, job_id, data);
	events_local(kind, device_id, job_id, data);
}

void
events_heard_from(const char *text)
{
	char		 kind[64];
	long long	 device_id, job_id;
	int		 at = 0;

	if (sscanf(text, "%63s %lld %lld %n", kind, &device_id, &job_id,
	    &at) == 3 && at > 0)
		events_local(kind, device_id, job_id, text + at);
}

void
events_unsubscribe(void *sub)
{
	struct events_sub **pp, *s;

	for (pp = &events_subs; (s = *pp) != NULL; pp = &s->next) {
		if (s != sub)
			continue;
		*pp = s->next;
		free(s);
		events_nsubs--;
		break;
	}
	if (events_subs == NULL && events_timer_on)
		uv_timer_stop(&events_timer);
}

void
events_subscribe(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct events_sub *s;

	if (events_nsubs >= EVENTS_MAX_SUBSCRIBERS) {
		api_error(c, 503, "events.too_many", "%u event streams are "
		    "open already; close one and try again.", events_nsubs);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		api_nomem(c);
		return;
	}
	s->conn = c;
	if (http_header(req, "authorization") == NULL &&
	    http_header(req, "cookie") != NULL)
		(void)session_cookie(http_header(req, "cookie"), s->session);
	if (api_query_id(c, req, "job", &s->job_id) == -1 ||
	    api_query_id(c, req, "device", &s->device_id) == -1 ||
	    http_stream_begin(c, 200, "text/event-stream",
	    "Cache-Control: no-cache\r\n", HTTP_LENGTH_UNKNOWN) == -1) {
		free(s);
		return;
	}
	if (events_subs == NULL)
		cluster_watch();	/* the other nodes' events, at once */
	s->next = events_subs;
	events_subs = s;
	events_nsubs++;
	ar->sse = s;
	if (!events_timer_on) {
		uv_timer_init(env->loop, &events_timer);
		uv_unref((uv_handle_t *)&events_timer);
		events_timer_on = 1;
	}
	if (!uv_is_active((uv_handle_t *)&events_timer))
		uv_timer_start(&events_timer, events_keepalive,
		    EVENTS_KEEPALIVE_MS, EVENTS_KEEPALIVE_MS);
	http_stream_write(c, ": otad events\n\n", 15);
}
