/* SPDX-License-Identifier: MIT */
/*
 * admind's private header: the daemon's state and the prototypes of its
 * files.  admind is the control plane: the only process that opens the
 * database or writes firmware files, serving the HTTPS admin API and the
 * control socket that hwd and fwstore talk to.
 */
#ifndef OTAD_ADMIND_H
#define OTAD_ADMIND_H

#include <stdint.h>

#include <uv.h>

#include "admins.h"
#include "buf.h"
#include "cfg.h"
#include "ctl_conn.h"
#include "http.h"
#include "netaddr.h"
#include "store.h"
#include "workers.h"

#define ADMIND_INFO_WAIT_MS	3000	/* decide without hardware info */

/* A device hwd reports online, with what it told us of itself. */
struct online {
	struct online	*next;		/* hash chain */
	int64_t		 device_id;
	uint64_t	 peers;		/* bit per hwd worker (struct peer's
					 * slot) holding a connection */
	uint16_t	 conns;		/* hwd connections logged in */
	unsigned	 has_info:1;
	unsigned	 decided:1;	/* a decision ran since login */
	unsigned	 resync:1;	/* reported by hwd's resync, not a login */
	unsigned	 awaiting:1;	/* logged in while fwstore still reports
					 * its download: decide at its end */
	int64_t		 consent_asked;	/* the delivery whose consent pin was
					 * written since this login */
	uint64_t	 info_due;	/* infowait.c: decided by then, 0 */
	char		 remote[NETADDR_STRLEN];
};

/* A worker of hwd or fwstore connected to the control socket. */
struct peer {
	struct ctl_conn	*conn;		/* NULL: the slot is free */
	uint64_t	 serial;	/* of the connection in the slot */
	unsigned	 slot;		/* index in env->hwd or env->fwstore */
	int		 resyncing;	/* hwd replays who is online */
	uint64_t	 resync_since;	/* ms */
	uint64_t	 connections;	/* hwd's last report: open now */
	uint64_t	 refused;	/* past max_connections */
};

struct admind {
	uv_loop_t		*loop;
	struct cfg		 cfg;
	struct store		*store;
	struct admins		*admins;
	struct netaddr_acl	 acl;
	struct netaddr_acl	 trusted_proxies;
	char			*firmware_dir;
	struct http_server	 http;
	struct ctl_server	 ctl;
	struct peer		 hwd[WORKERS_MAX];
	struct peer		 fwstore[WORKERS_MAX];
	unsigned		 nhwd, nfwstore; /* connected now */
	struct online		**online;	/* hash by device id */
	size_t			 online_buckets;
	size_t			 nonline;
	uv_timer_t		 sweep;		/* sent deliveries timing out */
	uv_check_t		 flush;		/* commits the light batch */
	struct {
		uint64_t	 device_logins;	/* since start */
		uint64_t	 unknown_tokens; /* logins refused */
		uint64_t	 downloads;	/* started since start */
		int64_t		 in_flight;	/* downloads under way */
		uint64_t	 bytes_served;
	} stats;			/* for GET /metrics */
};

/* When a job may send, as the API takes it (api_job_options.c). */
struct job_options {
	int64_t		 start_at;	/* 0: none */
	char		 window[256];	/* window_json's text, "" none */
	enum job_confirm confirm;
};

/* One API request's state, kept in http_conn->data. */
struct api_route;
struct api_req {
	char		 user[64];	/* the authenticated admin */
	const struct api_route *route;
	struct http_request *req;	/* valid until the response */
	int64_t		 id;		/* the {id} of the route's path */
	int64_t		 id2;		/* its {device} */
	struct buf	 body;		/* BODY_JSON routes: the whole body */
	void		*upload;	/* struct upload *, BODY_STREAM routes */
	/* BODY_STREAM: called when the body is complete. */
	void		(*finish)(struct http_conn *, struct api_req *);
	int64_t		 device_id;	/* ?token= of /admin/ota/start */
	int		 force;		/* ?force=true */
	char		 tag[65];	/* ?tag= of /admin/ota/start */
	struct job_options opts;	/* its ?start_at=, ?window_*=, ?confirm= */
	void		*sse;		/* GET /admin/events subscription */
};

/* Why an input was refused, answered later with api_fault_answer(). */
struct api_fault {
	int		 status;
	const char	*code;
	char		 msg[400];
};

#define DEVICE_MAX_NAME		128
#define DEVICE_MAX_TOKEN	128
#define DEVICE_MAX_TAGS		255	/* the stored "a,b,c" */

/* What a device create, an import row or an update asks for. */
struct device_input {
	char	 name[DEVICE_MAX_NAME + 1];
	char	 token[DEVICE_MAX_TOKEN + 1];
	char	 tags[DEVICE_MAX_TAGS + 1];
	int	 has_name, has_token, has_tags;
};

struct json_value;
struct upload;

extern struct admind	*env;

/* api_router.c: the route table, the allow-list and login first */
extern const struct http_handler api_router_handler;

/* api.c: answers and query parameters for every handler */
int	 api_json(struct http_conn *, int status, struct buf *body);
int	 api_error(struct http_conn *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same, with extra headers ("WWW-Authenticate: ...\r\n"). */
int	 api_error_h(struct http_conn *, int status, const char *code,
	    const char *headers, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* 500 internal, "<what failed>; see the log of otad-admind." */
int	 api_internal(struct http_conn *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* 500 internal, out of memory. */
int	 api_nomem(struct http_conn *);
/* Fills the fault; returns -1. */
int	 api_fault(struct api_fault *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A 500 internal fault, worded as api_internal's; returns -1. */
int	 api_fault_internal(struct api_fault *, const char *what);
int	 api_fault_answer(struct http_conn *, const struct api_fault *);
/* The value of a query parameter (decoded), or NULL; caller frees. */
char	*api_query(const struct http_request *, const char *name);
/* ?name=true or ?name=1. */
int	 api_query_bool(const struct http_request *, const char *name);
/* ?limit= and ?offset= (limit -1: all); -1 after answering 400. */
int	 api_query_id(struct http_conn *, struct http_request *,
	    const char *name, int64_t *out);
int	 api_paging(struct http_conn *, struct http_request *, int64_t *limit,
	    int64_t *offset);
/* 1 when name (n bytes) is in allowed, a list ",a,b," ("*": any name). */
int	 api_name_allowed(const char *allowed, const char *name, size_t n);

/* api_json.c: the JSON several resources show */
/* "key":"value" (NULL: ""), then a comma when comma is set. */
void	 api_json_kv(struct buf *, const char *key, const char *value,
	    int comma);
void	 api_json_firmware(struct buf *, const struct firmware *);
void	 api_json_job(struct buf *, const struct job *);
/* A JSON whole number from 1 to 2^53 (ids): 0, else -1. */
int	 api_json_id(const struct json_value *, int64_t *);

/* auth.c */
/* 1 authorised (user filled), 0 refused (response sent). */
int	 auth_check(struct http_conn *, struct http_request *, char *user,
	    size_t userlen);
int	 auth_ip_allowed(struct http_conn *);
/* The sign-in form's check, throttled and counted as a Basic login, and
 * refused (403) from another site's page: 1 right, 0 refused (answer
 * sent). */
int	 auth_password(struct http_conn *, const struct http_request *,
	    const char *user, const char *password);
/* The client of this request (c->client, c->peer_str): the peer, or the
 * address a peer in trusted_proxies names in X-Forwarded-For.  1, or 0
 * when it names none (400 sent). */
int	 auth_client(struct http_conn *, struct http_request *);
/* SIGHUP: the admins file again; a bad one keeps the current admins. */
void	 auth_reload_admins(void);
/* Since start: authenticated requests, failed and throttled logins. */
struct auth_counters {
	uint64_t	 ok, failed, throttled;
};
const struct auth_counters *auth_stats(void);

/* api_session.c: POST, GET and DELETE /admin/session */
void	 api_session_create(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_session_get(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_session_delete(struct http_conn *, struct http_request *,
	    struct api_req *);

/* throughput.c: download bytes per 10 s over the last hour */
#define THROUGHPUT_STEP_S	10
#define THROUGHPUT_SLOTS	360
void	 throughput_add(uint64_t bytes);
void	 throughput_json(struct buf *);

/* api_audit.c: GET /admin/audit */
void	 api_audit_list(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_charts.c: the numbers of the web page's charts */
void	 api_fleet_versions(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_progress(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_stats_throughput(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_devices.c */
void	 api_devices_create(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_devices_list(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_device_get(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_device_update(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_device_token(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_device_delete(struct http_conn *, struct http_request *,
	    struct api_req *);
/* The device JSON with its token, shown this once. */
void	 api_device_json_token(struct buf *, const struct device *,
	    const char *token);
/* Checks of what is asked for; 0, or -1 with the fault filled. */
int	 api_device_input_name(struct device_input *, const char *,
	    struct api_fault *);
int	 api_device_input_token(struct device_input *, const char *,
	    struct api_fault *);
/* A JSON object's fields; only the keys in allowed (",a,b,"). */
int	 api_device_input_json(struct device_input *, const struct json_value *,
	    const char *allowed, struct api_fault *);
/* "a, b,c" into the stored form "a,b,c". */
int	 api_device_tags(const char *, char *out, struct api_fault *);
int	 api_device_create(struct device_input *, struct device *,
	    struct api_fault *);

/* api_import.c: POST /admin/devices/import */
void	 api_import(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_firmware.c */
void	 api_firmware_upload_begin(struct http_conn *, struct http_request *,
	    struct api_req *, void (*)(struct http_conn *, struct api_req *));
/* Stores an uploaded image's row, and its bytes on a shared store, in one
 * transaction: *status 201 new, 200 already there (a deleted one is
 * restored). */
int	 api_firmware_save(struct api_req *, struct firmware *, int *status);
void	 api_firmware_upload(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_firmware_list(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_firmware_get(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_firmware_delete(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_jobs.c */
void	 api_jobs_create(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_list(struct http_conn *, struct http_request *,
	    struct api_req *);
/* The job, or -1 answered (404, or the database's failure). */
int	 api_job_load(struct http_conn *, int64_t, struct job *);
void	 api_jobs_get(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_deliveries(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_stop(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_pause(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_jobs_resume(struct http_conn *, struct http_request *,
	    struct api_req *);
/* The device is connected to this node or (nodes sharing a database)
 * another. */
int	 api_device_online(int64_t device_id);
/* A delivery's JSON; size: its image's, for the percent. */
void	 api_delivery_json(struct buf *, const struct delivery *,
	    uint64_t size);
/* 507 storage.full or 500 internal: the job was not committed. */
void	 api_job_unsaved(struct http_conn *);
/* Some device has the tag; -1 after answering 404 tag.no_devices. */
int	 api_jobs_tag_check(struct http_conn *, const char *tag);

/* api_consent.c: an admin's confirm or decline of a delivery */
void	 api_consent_confirm(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_consent_decline(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_job_options.c: start_at, window and confirm; 0, or -1 with a 400
 * job.option fault naming the field */
int	 api_job_options_json(const struct json_value *body,
	    struct job_options *, struct api_fault *);
int	 api_job_options_query(const struct http_request *,
	    struct job_options *, struct api_fault *);
/* The job takes them (its window points into o). */
void	 api_job_options_set(struct job *, struct job_options *o);

/* api_ota.c */
void	 api_ota_start_request(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_ota_stop(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_tokens.c */
void	 api_tokens_create(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_tokens_list(struct http_conn *, struct http_request *,
	    struct api_req *);
void	 api_tokens_delete(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_lifecycle.c: GET /admin/lifecycle */
void	 api_lifecycle(struct http_conn *, struct http_request *,
	    struct api_req *);

/* api_metrics.c: GET /metrics */
void	 api_metrics(struct http_conn *);

/* api_web.c: the web admin page and its files */
void	 api_web(struct http_conn *, struct http_request *, struct api_req *);

/* fwcache.c: the firmware directory's files, and on a shared store the
 * database's copy of each image. */
/* A new temporary file in the firmware directory (path holds its name,
 * "" on failure): its descriptor, or -1 (logged). */
int	 fwcache_tmp(char *path, size_t len);
/* fsync, then the temporary file becomes the image's: 0, or -1 (logged)
 * with errno. */
int	 fwcache_commit(int fd, const char *tmp, const char *sha256);
/* On a shared store, the image's file into the database in chunks, inside
 * the caller's transaction: 0 or -1 (logged).  0 at once on SQLite. */
int	 fwcache_put(const char *sha256);
/* The image's file is in the firmware directory, fetched from the
 * database and verified if it was not: 0, -1 the store or the disk failed
 * (worth a retry), -2 the database's copy is damaged (or was a few
 * seconds ago).  Logged.  0 at once on SQLite. */
int	 fwcache_ensure(const struct firmware *);

/* upload.c */
struct upload *upload_new(const char *content_type, uint64_t max_size,
	    char *err, size_t errlen);
/* -1: the upload is refused; code/message tell why. */
int	 upload_feed(struct upload *, const char *, size_t);
/* Finishes: the file is fsynced and renamed to its SHA-256; fw filled
 * (strings borrowed from the upload).  -1 with code/message. */
int	 upload_finish(struct upload *, int allow_unknown, struct firmware *);
int	 upload_status(const struct upload *);	/* HTTP status on error */
const char *upload_code(const struct upload *);
const char *upload_message(const struct upload *);
void	 upload_free(struct upload *);

/* events.c: GET /admin/events */
void	 events_subscribe(struct http_conn *, struct http_request *,
	    struct api_req *);
/* data is a JSON object; sent to the subscribers whose filter matches and
 * queued for the webhooks.  Inside a transaction the webhook rows join it
 * and the subscribers hear of it after the commit; outside, at once. */
void	 events_publish(const char *kind, int64_t device_id, int64_t job_id,
	    const char *data);
void	 events_unsubscribe(void *);
/* Closes the streams of web page sessions that ended (signed out or
 * expired); the keep-alive timer runs it too. */
void	 events_sessions_check(void);
/* 1 when a subscriber or a webhook may take an event: else there is no
 * need to build one (a login, a delivery's move). */
int	 events_heard(void);
/* An event another node published ("KIND DEVICE JOB DATA", cluster.c):
 * to this node's subscribers only. */
void	 events_heard_from(const char *);
/* This node has event stream subscribers. */
int	 events_watched(void);

/* webhook.c: events POSTed to [admind] webhook_url */
struct webhook_counters {
	uint64_t	 queued;		/* waiting now, every URL */
	uint64_t	 delivered;		/* since start */
	uint64_t	 failed_attempts;
	uint64_t	 dropped;		/* past webhook_queue_max */
};
/* Sends what is queued; drops what waits for a URL no longer listed. */
void	 webhook_start(void);
/* Queues a selected event for each URL: in the caller's transaction
 * (dooming it when the row cannot be written), else in the light batch. */
void	 webhook_event(const char *kind, int64_t device_id, int64_t job_id,
	    const char *data);
void	 webhook_counters(struct webhook_counters *);
/* 1 when a webhook_url is configured. */
int	 webhook_on(void);
/* Sends what waits, now that this node runs the shared chores (or other
 * nodes may have queued more). */
void	 webhook_resume(void);

/* cluster_tell.c: what this node tells the others sharing its database;
 * none of it does anything on a single node (SQLite). */
int	 cluster_on(void);
/* This node runs the shared chores (webhooks, silent nodes): always 1 on
 * a single node. */
int	 cluster_leader(void);
void	 cluster_set(int on, int leader);
/* The other nodes decide for their devices in a job that started. */
void	 cluster_job(int64_t job_id);
/* A job's slot came free: the other nodes' waiting devices may take it. */
void	 cluster_kick(int64_t job_id);
/* The device's delivery was queued again here (sent_timeout of a delivery
 * adopted from a node that died): the node holding it decides now. */
void	 cluster_decide(int64_t device_id);
/* The device's connections on the other nodes close (forget: deleted). */
void	 cluster_drop(int64_t device_id, int forget, const char *why);
/* An event for the other nodes' subscribers, while any of them has one
 * (cluster_watched); sent with the turn's others by cluster_flush. */
void	 cluster_event(const char *kind, int64_t device_id, int64_t job_id,
	    const char *data);
void	 cluster_flush(void);
int	 cluster_watched(void);
/* This node has event stream subscribers: the others send their events
 * for the next few seconds (cluster_watch_heard, there). */
void	 cluster_watch(void);
void	 cluster_watch_heard(void);
/* The device's first connection on this node came (on), or its last
 * went: the sessions table follows (a light write). */
void	 cluster_session(int64_t device_id, int on);
/* Decisions this node made were lost (a transaction that failed on the
 * shared database: a lock waited too long, a deadlock): the devices it
 * holds are decided again at the next tick.  cluster_redecide_take()
 * says whether one is due, and clears it. */
void	 cluster_redecide(void);
int	 cluster_redecide_take(void);

/* storewatch.c: the loop wakes for the database's answers and moves its
 * connection attempts on (after each turn; stop at exit). */
void	 storewatch_start(void);
void	 storewatch_update(void);
void	 storewatch_stop(void);

/* cluster.c: listening to the other nodes, the shared chores' lock */
void	 cluster_start(void);
void	 cluster_stop(void);
/* A worker's devices all went at once: the sessions are stored again. */
void	 cluster_sessions_stale(void);

/* audit.c */
/* An admin action or a notable fact: the events table now, the log and
 * the event stream once the transaction commits; -1 when not stored. */
int	 audit(const char *kind, const char *actor, const char *remote,
	    int64_t device_id, int64_t job_id, const char *text);

/* tx.c: transactions whose effects run after the commit */
int	 tx_begin(void);			/* nests */
int	 tx_commit(void) __attribute__((warn_unused_result));
void	 tx_rollback(void);
void	 tx_fail(void);				/* dooms the open one */
int	 tx_ok(void);
/* The outermost open transaction's number (each begin takes the next);
 * 0 outside one. */
uint64_t tx_number(void);
/* 1 inside the outermost transaction only (not a nested one). */
int	 tx_outermost(void);
/* fn(arg, 1) after the outermost commit, fn(arg, 0) after a rollback. */
int	 tx_defer(void (*fn)(void *arg, int committed), void *arg);

/*
 * The delivery core, lowest layer first: flight.c, jobs.c, delivery.c,
 * sched.c, timetable.c, jobs_admin.c.  Each calls, of these, only the ones before it.
 */
#define ADMIND_WUR	__attribute__((warn_unused_result))

/* flight.c: the deliveries in flight, per job and since when */
/* The job's deliveries in flight, counted from the database when unknown;
 * -1 when they could not be counted. */
int	 flight_busy(int64_t job_id, int64_t *busy) ADMIND_WUR;
/* The counts are read again when next asked (after a rollback). */
void	 flight_forget(void);
void	 flight_forget_cb(void *, int);
/* A stored transition: the counts and the sent_timeout follow it. */
void	 flight_moved(const struct delivery *, enum delivery_state to);
/* A delivery in flight moved (progress): its sent_timeout starts again. */
void	 flight_touch(int64_t delivery_id);
void	 flight_drop(int64_t delivery_id);
/* expire(id) for each delivery in flight that did not move for timeout
 * seconds before now (uv_now()). */
void	 flight_expired(uint64_t now, unsigned timeout,
	    void (*expire)(int64_t delivery_id));
/* Every delivery in flight in the database not watched yet gets a full
 * timeout. */
void	 flight_load(void);

/* jobs.c: a job's state changes; its slots are counted again after */
int	 jobs_apply(const struct job *, enum job_event, const char *actor,
	    const char *remote, const char *why) ADMIND_WUR;
/* Finishes a job with nothing left, pauses one past its threshold. */
int	 jobs_settle(int64_t job_id) ADMIND_WUR;

/* delivery.c: every delivery state change; -1 when it was not stored */
int	 delivery_apply(const struct delivery *, enum delivery_event,
	    const char *error) ADMIND_WUR;
/* The same, setting the delivery's next_at (0: none; delivery_apply
 * clears it): wait (the next opening) and defer (when to ask again).
 * accept also marks the delivery consented. */
int	 delivery_apply_at(const struct delivery *, enum delivery_event,
	    const char *error, int64_t next_at) ADMIND_WUR;
/* queued -> sent with a ticket (d->ticket filled) and attempt + 1; the
 * OTA command follows the commit when command is set. */
int	 delivery_send(struct delivery *, const struct job *, int command,
	    const char *error) ADMIND_WUR;
/* The command of a sent delivery again, after the commit. */
int	 delivery_command(const struct delivery *) ADMIND_WUR;
int	 delivery_cancel_job(int64_t job_id, const char *why, int *canceled)
	    ADMIND_WUR;
/* Every delivery of the job in state from takes event ev (wait, open),
 * with next_at, and one audit event names how many (*moved). */
int	 delivery_move_job(int64_t job_id, enum delivery_event ev,
	    enum delivery_state from, int64_t next_at, const char *why,
	    int *moved) ADMIND_WUR;
int	 delivery_cancel_older(int64_t job_id) ADMIND_WUR;
/* Deletes the device with its deliveries and settles their jobs: 1, 0 no
 * such device, -1. */
int	 delivery_device_delete(int64_t device_id) ADMIND_WUR;

/* sched.c */
void	 sched_device_online(int64_t device_id, const char *remote);
void	 sched_device_info(int64_t device_id);
/* devices (malloc'd, taken) or NULL: the job's online devices (a job for
 * all or a tag). */
void	 sched_job_started(int64_t job_id, int64_t *devices, size_t n);
/* A resumed job, after the commit: its queued deliveries are decided. */
void	 sched_job_resumed(int64_t job_id);
void	 sched_job_kick(int64_t job_id);
/* A delivery of the job ended: sched_job_kick here and on the other
 * nodes. */
void	 sched_slot_freed(int64_t job_id);
/* These online devices are decided again (a node that lost the other
 * nodes' notices for a while). */
void	 sched_devices_again(const int64_t *ids, size_t n);
int	 sched_has_slot(const struct job *);
/* A delivery scheduled or awaiting consent, or queued and now held back
 * (its window, start_at or consent), is not sent: 1; 0 it may be; -1. */
int	 sched_hold(struct delivery *, const struct job *);
void	 sched_device_created(int64_t device_id);
void	 sched_start(void);
/* fwstore's report of a download ended (complete or aborted). */
void	 sched_download_ended(int64_t device_id);
void	 sched_ota_sent(int64_t device_id, int64_t delivery_id,
	    unsigned reached, const char *error);
/* A delivery queued outside the scheduler (consent given): its device
 * is decided now when it is online. */
void	 sched_device_decide(int64_t device_id);

/* consent.c: asking a device (or an admin) before its update is sent */
/* The delivery moved to awaiting-consent (after the commit): a job with
 * confirm "device" writes the device's consent pin; "admin" writes
 * nothing.  -1 when the pin write could not be sent. */
int	 consent_ask(const struct delivery *d, const struct job *job);
/* A device logged in (sched.c, after deciding): each of its
 * awaiting-consent deliveries whose next_at has passed is asked again. */
void	 consent_device_back(int64_t device_id);
/* hwd's CTL_CONSENT: 1 when the device's delivery is queued now (the
 * caller has it decided), 0 nothing to do, -1 not stored. */
int	 consent_answer(int64_t device_id, const char *answer,
	    uint32_t minutes);
/* An admin's confirm (DELIVERY_ACCEPT) or DELIVERY_DECLINE, audited. */
int	 consent_admin(const struct delivery *, enum delivery_event,
	    const char *actor, const char *remote, const char *reason)
	    ADMIND_WUR;
/* The timer that asks again when a defer runs out. */
void	 consent_start(void);

/* timetable.c: jobs' windows and start_at on the clock */
void	 timetable_start(void);
/* Every active job follows its window now; the timer is set again. */
void	 timetable_kick(void);
/* tx_defer's form: the kick after a commit. */
void	 timetable_kick_cb(void *, int committed);

/* jobs_admin.c: what an admin does to jobs */
/* The job, its deliveries and its audit event in one transaction: for
 * the *n devices, or (devices NULL) for every device or the job's tag's,
 * picked by the store, *n set to how many. */
int	 jobs_admin_create(struct job *, const int64_t *devices, size_t *n,
	    const char *actor, const char *remote) ADMIND_WUR;
/* Stop (canceling its deliveries), pause or resume. */
int	 jobs_admin_change(const struct job *, enum job_event,
	    const char *actor, const char *remote, const char *why,
	    int *canceled) ADMIND_WUR;

/* devevents.c */
void	 devevents_add(int64_t device_id, const char *name, const char *text);
void	 devevents_start(void);

/* grant.c */
int	 grant_dispatch(struct ctl_conn *, uint16_t type, uint32_t reqid,
	    const union ctl_msg_any *);

/* infowait.c */
void	 infowait_init(void (*expired)(int64_t device_id));
int	 infowait_start(struct online *);
void	 infowait_stop(struct online *);

/* online.c */
struct online *online_get(int64_t device_id);
struct online *online_add(int64_t device_id, const char *remote,
	    unsigned slot);
int	 online_remove(int64_t device_id, unsigned slot, unsigned left);
size_t	 online_clear_peer(unsigned slot);
int	 online_held(const struct online *, unsigned slot);
unsigned online_workers(const struct online *, unsigned except,
	    struct ctl_conn **out);
int	 online_ids(int64_t **ids, size_t *n);

/* peers.c */
extern const struct ctl_conn_ops admind_peer_ops;
int	 peers_accept(struct ctl_conn *);
const struct ctl_role *peers_roles(void);
/* Before the loop runs: the timer of logins held for another worker's
 * close. */
void	 peers_start(void);

/* peers_send.c */
void	 peers_send_flush(void);
int	 peers_send_ota(int64_t device_id, int64_t delivery_id,
	    const char *ticket);
void	 peers_send_drop(int64_t device_id, int forget, const char *why);
unsigned peers_send_device_write(int64_t device_id, uint16_t msg_id,
	    const struct ctl_bytes *body, unsigned except);
void	 peers_send_pins(int64_t device_id, const struct ctl_bytes *pins,
	    unsigned except);
int	 peers_send_consent(int64_t device_id, unsigned pin,
	    const char *version, uint64_t size, int64_t job_id);

#endif
