/* SPDX-License-Identifier: MIT */
/*
 * Nodes sharing one PostgreSQL database (issue 18): each admind keeps a
 * second connection of its own, beside the store's, on which it
 *   - listens on channel "otad" for the other nodes' notices (store_notify
 *     sends them, inside the writer's transaction): a job that started or
 *     has a free slot ("job"/"kick": this node decides for the devices it
 *     holds), a device whose delivery another node queued again
 *     ("decide": the node holding it sends the next attempt), a device
 *     to drop ("drop"), an event for the stream ("event");
 *   - holds, when it can, the session-level advisory lock that makes this
 *     node the one that runs the cluster's shared chores (webhooks, the
 *     sessions of nodes gone silent, the in-flight deliveries of a node
 *     that died); the lock goes with the connection, so a node killed
 *     hands it on at once and another takes it within CLUSTER_TICK_MS;
 *   - writes this node's heartbeat.
 * NOTIFY does not replay: after a reconnect this node decides again for
 * every device it holds, and stores its sessions afresh.  Every delivery
 * transition is still a checked one in the shared database, so a notice
 * heard twice, or a decision made on two nodes, sends nothing twice.
 * With SQLite (a single node) none of this runs, and cluster_leader() is
 * always true.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admind.h"
#include "log.h"
#include "pgconn.h"
#include "util.h"

#define CLUSTER_TICK_MS		2000
#define CLUSTER_LEAD_AFTER	3	/* ticks a starting node leaves the
					 * lock to the running ones */
#define CLUSTER_SILENT_S	15	/* a node without heartbeat is gone */

#define CLUSTER_ANSWER_MS	5000	/* then the connection is closed */
#define CLUSTER_CONNECT_STEP_MS	50

static struct {
	PGconn		*conn;
	int		 connecting;	/* an attempt is under way */
	PostgresPollingStatusType last;	/* its last step */
	uint64_t	 give_up;	/* ms: it failed */
	uv_timer_t	 connect;	/* moves it on */
	uv_poll_t	 poll;
	int		 polling;
	uv_timer_t	 timer;
	int		 leader;
	int		 lost;		/* reconnect, then decide again */
	int		 stale;		/* store this node's sessions again */
	unsigned	 ticks;		/* since start */
} cl;

static void	 cluster_read(uv_poll_t *, int, int);
static void	 cluster_drain(void);
static void	 cluster_disconnect(void);
static void	 cluster_work(void);

/* libpq's message for the listener's connection, its first line. */
static const char *
cluster_why(void)
{
	static char	 why[256];

	return pgconn_why(cl.conn, NULL, why, sizeof(why));
}

/* One statement on the cluster connection: 0, or -1 logged; no answer
 * within CLUSTER_ANSWER_MS closes the connection (the next tick makes
 * another). */
static int
cluster_exec(const char *what, const char *sql, int nparams,
    const char *const *params, PGresult **out)
{
	PGresult	*r;
	ExecStatusType	 s;

	if (cl.conn == NULL || cl.connecting)
		return -1;
	r = pgconn_exec(cl.conn, sql, nparams, params, CLUSTER_ANSWER_MS);
	s = PQresultStatus(r);
	if (r == NULL && PQstatus(cl.conn) == CONNECTION_OK) {
		log_warnx("cluster: %s: the database did not answer within "
		    "%d s: the connection is closed", what,
		    CLUSTER_ANSWER_MS / 1000);
		cluster_disconnect();
		cl.lost = 1;
		return -1;
	}
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		log_warnx("cluster: %s: %s", what, cluster_why());
		PQclear(r);
		return -1;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static void
cluster_poll_closed(uv_handle_t *h)
{
	(void)h;
}

static void
cluster_disconnect(void)
{
	if (cl.connecting) {
		uv_timer_stop(&cl.connect);
		cl.connecting = 0;
	}
	if (cl.polling) {
		uv_poll_stop(&cl.poll);
		uv_close((uv_handle_t *)&cl.poll, cluster_poll_closed);
		cl.polling = 0;
	}
	if (cl.leader)
		log_warnx("cluster: node %s no longer runs the shared chores "
		    "(its database connection is lost)", env->cfg.node);
	cl.leader = 0;
	cluster_set(1, 0);
	PQfinish(cl.conn);
	cl.conn = NULL;
}

/* The connection made: listening; 0 or -1 (tried again next tick). */
static int
cluster_listen(void)
{
	if (cluster_exec("listen", "LISTEN otad", 0, NULL, NULL) == -1 ||
	    uv_poll_init(env->loop, &cl.poll, PQsocket(cl.conn)) != 0) {
		cluster_disconnect();
		return -1;
	}
	cl.polling = 1;
	uv_poll_start(&cl.poll, UV_READABLE, cluster_read);
	log_info("cluster: node %s listening to the other nodes",
	    env->cfg.node);
	return 0;
}

/* Moves the connection attempt on, never waiting; once made, the tick's
 * work runs at once. */
static void
cluster_connecting(uv_timer_t *t)
{
	int	 rc = pgconn_advance(cl.conn, &cl.last);

	if (rc == 0 && util_now_ms() < cl.give_up)
		return;
	uv_timer_stop(t);
	cl.connecting = 0;
	if (rc != 1 || PQsetnonblocking(cl.conn, 1) == -1) {
		log_warnx("cluster: cannot connect to the database: %s",
		    rc == 0 ? "no answer within 3 s" : cluster_why());
		cluster_disconnect();
		return;
	}
	if (cluster_listen() == 0)
		cluster_work();
}

static void
cluster_connect(void)
{
	cl.conn = pgconn_start(env->cfg.database, "otad-admind-cluster");
	cl.last = PGRES_POLLING_WRITING;
	cl.give_up = util_now_ms() + PGCONN_CONNECT_MS;
	cl.connecting = 1;
	uv_timer_start(&cl.connect, cluster_connecting, 0,
	    CLUSTER_CONNECT_STEP_MS);
}

/* This node's heartbeat; the node that runs the chores clears the
 * sessions of nodes gone silent. */
static void
cluster_heartbeat(void)
{
	char		 now[24], silent[24];
	const char	*p[] = { env->cfg.node, now };
	const char	*q[] = { silent, env->cfg.node };
	PGresult	*r;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	snprintf(silent, sizeof(silent), "%lld",
	    (long long)time(NULL) - CLUSTER_SILENT_S);
	(void)cluster_exec("heartbeat", "INSERT INTO nodes (name, seen_at,"
	    " started_at) VALUES ($1, $2, $2) ON CONFLICT (name) DO UPDATE"
	    " SET seen_at = excluded.seen_at", 2, p, NULL);
	if (!cl.leader || cluster_exec("silent nodes", "DELETE FROM sessions"
	    " WHERE node IN (SELECT name FROM nodes WHERE seen_at < $1::int8"
	    " AND name <> $2) RETURNING node", 2, q, &r) == -1)
		return;
	if (PQntuples(r) > 0) {
		log_warnx("cluster: node %s is silent: its %d device "
		    "connection(s) are forgotten, its deliveries in flight "
		    "watched here", PQgetvalue(r, 0, 0), PQntuples(r));
		flight_load();
	}
	PQclear(r);
}

/* Takes the chores when no other node has them. */
static void
cluster_try_lead(void)
{
	PGresult	*r;
	int		 got;

	if (cl.leader || cl.ticks < CLUSTER_LEAD_AFTER ||
	    cluster_exec("lock", "SELECT pg_try_advisory_lock("
	    "7427002)", 0, NULL, &r) == -1)
		return;
	got = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!got)
		return;
	cl.leader = 1;
	cluster_set(1, 1);
	log_info("cluster: node %s runs the shared chores now", env->cfg.node);
	flight_load();
	webhook_resume();
}

/* After a (re)connect: what this node holds, stored again and decided
 * again, since notices sent meanwhile are lost; or (stale) stored again
 * only, after a worker's devices all went at once. */
static void
cluster_resync(int decide)
{
	int64_t	*ids = NULL;
	size_t	 n = 0;

	if (store_sessions_clear(env->store, env->cfg.node) == -1 ||
	    online_ids(&ids, &n) == -1)
		return;
	cl.stale = 0;
	for (size_t i = 0; i < n; i++)
		cluster_session(ids[i], 1);
	if (decide) {
		cl.lost = 0;
		timetable_kick();
		sched_devices_again(ids, n);
	}
	free(ids);
}

void
cluster_sessions_stale(void)
{
	cl.stale = 1;
}

static void
cluster_tick(uv_timer_t *t)
{
	(void)t;
	cl.ticks++;
	if (cl.connecting)
		return;
	if (cl.conn != NULL && PQstatus(cl.conn) != CONNECTION_OK)
		cluster_disconnect();
	if (cl.conn == NULL) {
		cl.lost = 1;
		cluster_connect();
		return;
	}
	cluster_work();
}

/* A tick's work on a connection made. */
static void
cluster_work(void)
{
	if (cluster_redecide_take())
		cl.lost = 1;		/* decisions were lost: decide again */
	if (cl.lost || cl.stale)
		cluster_resync(cl.lost);
	cluster_heartbeat();
	if (events_watched())
		cluster_watch();
	cluster_try_lead();
	if (cl.leader)
		webhook_resume();	/* what the other nodes queued */
	cluster_drain();
}

/* One notice: "NODE VERB ID [REST]"; this node's own are not news. */
static void
cluster_heard_one(const char *payload)
{
	char		 node[CFG_NODE_MAX + 1], verb[16];
	long long	 id;
	int		 at = 0;

	if (sscanf(payload, "%63s %15s %lld %n", node, verb, &id, &at) < 3 ||
	    strcmp(node, env->cfg.node) == 0)
		return;
	if (strcmp(verb, "job") == 0) {
		timetable_kick();
		sched_job_started(id, NULL, 0);
	} else if (strcmp(verb, "kick") == 0)
		sched_job_kick(id);
	else if (strcmp(verb, "decide") == 0)
		sched_device_decide(id);
	else if (strcmp(verb, "drop") == 0 || strcmp(verb, "forget") == 0)
		peers_send_drop(id, verb[0] == 'f', payload + at);
	else if (strcmp(verb, "event") == 0)
		events_heard_from(payload + at);
	else if (strcmp(verb, "watch") == 0)
		cluster_watch_heard();
}

/* A notice holds one or more lines (cluster_flush's events). */
static void
cluster_heard(char *payload)
{
	char	*line, *next;

	for (line = payload; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		cluster_heard_one(line);
	}
}

/* The notices libpq holds: read with the socket, or taken in while a
 * statement of this connection waited for its answer. */
static void
cluster_drain(void)
{
	PGnotify	*n;

	while (cl.conn != NULL && (n = PQnotifies(cl.conn)) != NULL) {
		cluster_heard(n->extra);
		PQfreemem(n);
	}
}

static void
cluster_read(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0 || PQconsumeInput(cl.conn) == 0) {
		log_warnx("cluster: the database connection failed: %s",
		    cluster_why());
		cluster_disconnect();
		cl.lost = 1;
		return;
	}
	cluster_drain();
}

void
cluster_start(void)
{
	if (!store_shared(env->store))
		return;
	cluster_set(1, 0);
	cl.lost = 1;
	uv_timer_init(env->loop, &cl.timer);
	uv_unref((uv_handle_t *)&cl.timer);
	uv_timer_init(env->loop, &cl.connect);
	uv_unref((uv_handle_t *)&cl.connect);
	uv_timer_start(&cl.timer, cluster_tick, 0, CLUSTER_TICK_MS);
}

void
cluster_stop(void)
{
	if (!cluster_on())
		return;
	uv_timer_stop(&cl.timer);
	if (cl.conn != NULL &&
	    store_sessions_clear(env->store, env->cfg.node) == -1)
		log_warnx("cluster: this node's sessions stay stored until "
		    "another node finds it silent");
	cluster_disconnect();
}
