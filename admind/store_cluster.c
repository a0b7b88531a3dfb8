/* SPDX-License-Identifier: MIT */
/*
 * What nodes sharing one database keep there (see store.h), written only
 * when the store is shared (PostgreSQL): which node holds each device
 * (sessions, light writes: a crash leaves rows that the node clears when
 * it starts, and the other nodes when its heartbeat stops), and the
 * notices that tell the other nodes of work for them (pg_notify, delivered
 * when the writer's transaction commits).  Part of the store that admind
 * and `otad init` link.
 */
#include "store_int.h"

static const struct store_query q_session_add = { .slot = Q_SESSION_ADD,
    .name = "session add",
    .sql = "INSERT INTO sessions (device_id, node, since) VALUES (?, ?, ?)"
	" ON CONFLICT (device_id, node) DO NOTHING",
    .light = 1,
    .answerless = 1 };
static const struct store_query q_session_remove = {
    .slot = Q_SESSION_REMOVE,
    .name = "session remove",
    .sql = "DELETE FROM sessions WHERE device_id = ? AND node = ?",
    .light = 1,
    .answerless = 1 };
static const struct store_query q_sessions_clear = {
    .slot = Q_SESSIONS_CLEAR,
    .name = "sessions clear",
    .sql = "DELETE FROM sessions WHERE node = ?" };
static const struct store_query q_session_nodes = { .slot = Q_SESSION_NODES,
    .name = "session nodes",
    .sql = "SELECT node FROM sessions WHERE device_id = ? ORDER BY since" };
static const struct store_query q_notify = { .slot = Q_NOTIFY,
    .name = "notify",
    .sql = "SELECT 0 WHERE ?1 <> ?2",	/* SQLite: no other node */
    .sql_pg = "SELECT 0 FROM pg_notify(?1, ?2)",
    .answerless = 1 };

int
store_shared(const struct store *st)
{
	return st->engine->shared;
}

int
store_session_add(struct store *st, int64_t device_id, const char *node,
    int64_t since)
{
	return store_run(st, &q_session_add, "IsI", device_id, node, since);
}

int
store_session_remove(struct store *st, int64_t device_id, const char *node)
{
	return store_run(st, &q_session_remove, "Is", device_id, node);
}

int
store_sessions_clear(struct store *st, const char *node)
{
	return store_run(st, &q_sessions_clear, "s", node);
}

/* The first node holding the device into node (size len): 1, 0 none. */
int
store_session_node(struct store *st, int64_t device_id, char *node,
    size_t len)
{
	const struct store_cur *s;
	int		 rc;

	node[0] = '\0';
	if ((s = store_start(st, &q_session_nodes, "I", device_id)) == NULL)
		return -1;
	if ((rc = store_step(st, &q_session_nodes)) == STORE_ROW)
		store_col_copy(s, 0, node, len);
	store_done(st, &q_session_nodes);
	return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : -1;
}

int
store_notify(struct store *st, const char *channel, const char *payload)
{
	int64_t	 none;

	return store_one(st, &q_notify, &store_id_row, &none, "ss", channel,
	    payload) == -1 ? -1 : 0;
}
