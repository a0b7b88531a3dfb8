/* SPDX-License-Identifier: MIT */
/*
 * The store's connection to PostgreSQL (see pgpipe.h), in libpq's
 * pipeline mode.
 *
 * Every statement goes out with a sync of its own, so that each is its
 * own implicit transaction when outside the caller's.  Those that need no
 * answer (the light facts: a device seen, download progress, a session,
 * a notice; an audit event) are not waited for: their answers are read
 * when they come, between the loop's turns, or before the next statement
 * that waits, and a failure among them is logged with the statement's
 * name.  Inside a transaction such a failure aborts it, so the next
 * statement that waits fails, and so does the COMMIT (store_pg.c).  The
 * server runs them in order, so a later read sees them.  A statement
 * that waits waits for its own answer only (the earlier ones' come
 * first).
 *
 * An answer waited for comes within PGPIPE_ANSWER_MS or the connection
 * is closed: a server that stopped, or a network that drops everything,
 * holds admind's loop that long at most.
 *
 * A lost connection fails the statement.  Inside a transaction every
 * later statement fails too, until the caller's rollback; outside one,
 * the next statement or pgpipe_poll starts a new connection attempt,
 * at most one every PGPIPE_RETRY_MS, which never waits (pgconn_start):
 * meanwhile statements fail at once and the API answers 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
#include "pgpipe.h"
#include "util.h"

#define PGPIPE_RETRY_MS		2000
#define PGPIPE_ANSWER_MS	10000	/* then the connection is closed */
#define PGPIPE_MAX_SENT		4096	/* answers not read yet; more wait */

/* A question (pgpipe_ask): its answer, then its turn to be told. */
struct pgpipe_asked {
	struct pgpipe_asked *next;	/* in the answered list */
	pgpipe_answer_fn *fn;
	void		*arg;
	PGresult	*res;		/* the answer; NULL: none (lost) */
	int		 failed;	/* res is the failure */
};

/* A statement sent without waiting: its answer is still to come. */
struct pgpipe_sent {
	const char	*what;
	struct pgpipe_asked *asked;	/* NULL: only a failure is logged */
	int		*preparing;	/* its prepare's flag, if one went */
	int		 cmd;		/* commands answered */
};

struct pgpipe {
	PGconn		*conn;
	char		*uri;
	int		 tx;		/* inside a transaction */
	int		 lost_in_tx;	/* the connection was lost inside one */
	int		 connecting;	/* an attempt is under way */
	PostgresPollingStatusType last;	/* the attempt's last step */
	uint64_t	 give_up;	/* ms: the attempt has failed */
	uint64_t	 retry_at;	/* ms: the next attempt */
	int		 queued;	/* commands sent since the last sync */
	int		*preparing;	/* a prepare among them: its flag */
	struct pgpipe_sent sent[PGPIPE_MAX_SENT];	/* a ring */
	unsigned	 first, nsent;
	int		 answered;	/* the oldest's command answered, the
					 * end of its answer not read yet */
	struct pgpipe_asked *told, **told_tail;	/* answered, to tell */
	unsigned	 serial;	/* connections made */
};

/* A question answered (or lost): told at the next pgpipe_poll. */
static void
pgpipe_answered(struct pgpipe *pp, struct pgpipe_asked *a)
{
	a->next = NULL;
	*pp->told_tail = a;
	pp->told_tail = &a->next;
}

/* The connection is gone: so are the answers still to come. */
static void
pgpipe_forget_sent(struct pgpipe *pp)
{
	struct pgpipe_asked *a;

	for (; pp->nsent > 0; pp->nsent--) {
		if ((a = pp->sent[pp->first].asked) != NULL) {
			PQclear(a->res);
			a->res = NULL;
			pgpipe_answered(pp, a);
		}
		pp->first = (pp->first + 1) % PGPIPE_MAX_SENT;
	}
	pp->first = 0;
	pp->answered = 0;
	pp->queued = 0;
	pp->preparing = NULL;
}

/* Tells the questions answered, in order; what they ask in turn waits
 * for the next poll. */
static void
pgpipe_tell(struct pgpipe *pp)
{
	struct pgpipe_asked *a, *list = pp->told;

	pp->told = NULL;
	pp->told_tail = &pp->told;
	while ((a = list) != NULL) {
		list = a->next;
		a->fn(a->arg, a->res);
		PQclear(a->res);
		free(a);
	}
}

struct pgpipe *
pgpipe_new(PGconn *conn, const char *uri, char *err, size_t errlen)
{
	struct pgpipe	*pp;

	if ((pp = calloc(1, sizeof(*pp))) == NULL ||
	    (pp->uri = strdup(uri)) == NULL) {
		free(pp);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQsetnonblocking(conn, 1) == -1 || !PQenterPipelineMode(conn)) {
		pgconn_why(conn, NULL, err, errlen);
		free(pp->uri);
		free(pp);
		return NULL;
	}
	pp->conn = conn;
	pp->told_tail = &pp->told;
	return pp;
}

PGconn *
pgpipe_conn(struct pgpipe *pp)
{
	return pp->conn;
}

/* The connection failed under a statement: inside a transaction, every
 * statement fails until the caller's rollback. */
static void
pgpipe_lost(struct pgpipe *pp)
{
	pp->lost_in_tx = pp->tx;
	pgpipe_forget_sent(pp);
}

/* Waits for an answer until deadline: 1 it is there, 0 the connection
 * is lost, or closed here when the server said nothing in time (a server
 * stopped, a network that drops everything: TCP alone would wait on). */
static int
pgpipe_await(struct pgpipe *pp, uint64_t deadline)
{
	if (pgconn_wait(pp->conn, deadline) == 0)
		return 1;
	if (PQstatus(pp->conn) == CONNECTION_OK) {
		log_warnx("store: the database did not answer within %d s: "
		    "its connection is closed", PGPIPE_ANSWER_MS / 1000);
		PQfinish(pp->conn);
		pp->conn = NULL;
	}
	pgpipe_lost(pp);
	return 0;
}

/* One answer (a result, or NULL: a command's end) for the oldest
 * statement sent without waiting; r is taken. */
static void
pgpipe_sent_answer(struct pgpipe *pp, PGresult *r)
{
	struct pgpipe_sent *e = &pp->sent[pp->first];
	struct pgpipe_asked *a = e->asked;
	ExecStatusType	 st = PQresultStatus(r);
	char		 why[512];

	if (r == NULL) {
		if (!pp->answered) {	/* nothing was due: lost */
			pgpipe_forget_sent(pp);
			return;
		}
		pp->answered = 0;
		e->cmd++;
		return;
	}
	pp->answered = st != PGRES_PIPELINE_SYNC;
	if (st == PGRES_PIPELINE_SYNC) {
		PQclear(r);
		if (a != NULL)
			pgpipe_answered(pp, a);
		pp->first = (pp->first + 1) % PGPIPE_MAX_SENT;
		pp->nsent--;
		return;
	}
	if (st == PGRES_FATAL_ERROR && e->cmd == 0 && e->preparing != NULL)
		*e->preparing = 0;	/* the prepare was refused */
	if (st == PGRES_FATAL_ERROR && a == NULL)
		log_warnx("store: %s: %s", e->what,
		    pgconn_why(pp->conn, r, why, sizeof(why)));
	if (a != NULL && !a->failed && st != PGRES_PIPELINE_ABORTED) {
		PQclear(a->res);	/* the last command's is the answer */
		a->res = r;
		a->failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
		return;
	}
	PQclear(r);
}

/* Reads the answers of the statements sent without waiting: all of them
 * (block), or those already here. */
static void
pgpipe_drain(struct pgpipe *pp, int block)
{
	uint64_t	 deadline = util_now_ms() + PGPIPE_ANSWER_MS;
	PGresult	*r;

	while (pp->nsent > 0) {
		if (PQstatus(pp->conn) != CONNECTION_OK) {
			pgpipe_forget_sent(pp);
			return;
		}
		if (block && !pgpipe_await(pp, deadline))
			return;
		if (!block && (PQflush(pp->conn) == -1 ||
		    !PQconsumeInput(pp->conn) || PQisBusy(pp->conn)))
			return;
		r = PQgetResult(pp->conn);
		pgpipe_sent_answer(pp, r);
	}
}

void
pgpipe_free(struct pgpipe *pp)
{
	if (pp == NULL)
		return;
	pgpipe_drain(pp, 1);	/* what was sent is written before we go */
	pgpipe_forget_sent(pp);
	pgpipe_tell(pp);
	PQfinish(pp->conn);
	free(pp->uri);
	free(pp);
}

/* A new connection attempt, or the one under way moved on: 1 connected
 * now, 0 not (yet). */
static int
pgpipe_connect(struct pgpipe *pp)
{
	uint64_t	 now = util_now_ms();
	char		 why[256];
	int		 rc;

	if (!pp->connecting) {
		if (now < pp->retry_at)
			return 0;
		PQfinish(pp->conn);
		pgpipe_forget_sent(pp);
		pp->conn = pgconn_start(pp->uri, "otad-admind");
		pp->last = PGRES_POLLING_WRITING;
		pp->connecting = 1;
		pp->give_up = now + PGCONN_CONNECT_MS;
	}
	if ((rc = pgconn_advance(pp->conn, &pp->last)) == 0 &&
	    now < pp->give_up)
		return 0;
	pp->connecting = 0;
	if (rc == 1 && PQsetnonblocking(pp->conn, 1) == 0 &&
	    PQenterPipelineMode(pp->conn)) {
		pp->tx = 0;
		pp->serial++;
		log_info("store: connected to the database again");
		return 1;
	}
	pp->retry_at = now + PGPIPE_RETRY_MS;
	log_warnx("store: the database is unreachable: %s; trying again in "
	    "%d s", rc == 0 ? "no answer within 3 s" :
	    pgconn_why(pp->conn, NULL, why, sizeof(why)),
	    PGPIPE_RETRY_MS / 1000);
	PQfinish(pp->conn);
	pp->conn = NULL;
	return 0;
}

int
pgpipe_ready(struct pgpipe *pp, int *fresh, int rollback)
{
	*fresh = 0;
	if (!pp->connecting && PQstatus(pp->conn) == CONNECTION_OK)
		return 0;
	if (pp->lost_in_tx) {
		if (rollback)
			pp->lost_in_tx = 0;
		return -1;
	}
	if (!pgpipe_connect(pp))
		return -1;
	*fresh = 1;
	return 0;
}

int
pgpipe_poll(struct pgpipe *pp)
{
	int	 made = 0;

	if (!pp->connecting && PQstatus(pp->conn) == CONNECTION_OK) {
		/* what came, read even when nothing is due (an EOF) */
		if (PQflush(pp->conn) == -1 || !PQconsumeInput(pp->conn))
			pgpipe_forget_sent(pp);
		pgpipe_drain(pp, 0);
	} else
		made = !pp->lost_in_tx && pgpipe_connect(pp);
	pgpipe_tell(pp);
	return made;
}

int
pgpipe_socket(struct pgpipe *pp, unsigned *serial)
{
	*serial = pp->serial;
	return pp->connecting || PQstatus(pp->conn) != CONNECTION_OK ? -1 :
	    PQsocket(pp->conn);
}

int
pgpipe_unreachable(struct pgpipe *pp)
{
	return pp->connecting || PQstatus(pp->conn) != CONNECTION_OK;
}

int
pgpipe_in_tx(struct pgpipe *pp)
{
	return PQstatus(pp->conn) == CONNECTION_OK ? pp->tx : pp->lost_in_tx;
}

int
pgpipe_prepare(struct pgpipe *pp, const char *name, const char *sql, int n,
    const Oid *types, int *prepared)
{
	if (!PQsendPrepare(pp->conn, name, sql, n, types))
		return -1;
	pp->queued++;
	pp->preparing = prepared;
	*prepared = 1;
	return 0;
}

/* Sends cmd's commands and a sync; the number of commands, or -1. */
static int
pgpipe_send(struct pgpipe *pp, const struct pgpipe_cmd *cmd)
{
	const char	*p, *end;
	char		 one[256];
	int		 n = 0;

	if (cmd->name != NULL) {
		if (!PQsendQueryPrepared(pp->conn, cmd->name, cmd->nparams,
		    cmd->values, cmd->lengths, cmd->formats, 0))
			return -1;
		n = 1;
	} else
		for (p = cmd->sql; *p != '\0'; p = *end ? end + 1 : end) {
			end = p + strcspn(p, ";");
			snprintf(one, sizeof(one), "%.*s", (int)(end - p), p);
			if (!PQsendQueryParams(pp->conn, one, 0, NULL, NULL,
			    NULL, NULL, 0))
				return -1;
			n++;
		}
	if (!PQpipelineSync(pp->conn))
		return -1;
	n += pp->queued;
	pp->queued = 0;
	return n;
}

/* Waits for the answers of cmds commands and their sync: the first
 * failure, else the last command's result; NULL when the connection is
 * lost.  A refused prepare clears its flag. */
static PGresult *
pgpipe_wait(struct pgpipe *pp, int cmds)
{
	uint64_t	 deadline = util_now_ms() + PGPIPE_ANSWER_MS;
	PGresult	*r, *fail = NULL, *last = NULL;
	int		*preparing = pp->preparing;
	int		 i, up = 1;

	pp->preparing = NULL;
	for (i = 0; i < cmds && up; i++)
		while ((up = pgpipe_await(pp, deadline)) &&
		    (r = PQgetResult(pp->conn)) != NULL) {
			if (PQresultStatus(r) == PGRES_FATAL_ERROR &&
			    fail == NULL) {
				if (i == 0 && preparing != NULL)
					*preparing = 0;
				fail = r;
			} else if (i == cmds - 1) {
				PQclear(last);
				last = r;
			} else
				PQclear(r);
		}
	if (fail != NULL) {
		PQclear(last);
		last = fail;
	}
	if (up && pgpipe_await(pp, deadline) &&
	    PQstatus(pp->conn) == CONNECTION_OK) {
		PQclear(PQgetResult(pp->conn));		/* the sync */
		pp->tx = PQtransactionStatus(pp->conn) != PQTRANS_IDLE;
		return last;
	}
	pgpipe_lost(pp);
	PQclear(last);
	return NULL;
}

/* Sends cmd without waiting: its answer is read when it comes, and told
 * to asked (NULL: only a failure is logged).  0, or -1 not sent. */
static int
pgpipe_send_later(struct pgpipe *pp, const struct pgpipe_cmd *cmd,
    struct pgpipe_asked *asked)
{
	struct pgpipe_sent *e;
	int		*preparing = pp->preparing;

	if (pp->nsent == PGPIPE_MAX_SENT)
		pgpipe_drain(pp, 1);
	pp->preparing = NULL;
	if (pgpipe_send(pp, cmd) == -1) {
		pgpipe_lost(pp);
		return -1;
	}
	e = &pp->sent[(pp->first + pp->nsent) % PGPIPE_MAX_SENT];
	memset(e, 0, sizeof(*e));
	e->what = cmd->what;
	e->asked = asked;
	e->preparing = preparing;
	pp->nsent++;
	(void)PQflush(pp->conn);	/* the rest at the next poll */
	return 0;
}

PGresult *
pgpipe_run(struct pgpipe *pp, const struct pgpipe_cmd *cmd, int answerless,
    int *sent)
{
	int	 n;

	*sent = 0;
	if (answerless) {
		*sent = pgpipe_send_later(pp, cmd, NULL) == 0;
		return NULL;
	}
	if ((n = pgpipe_send(pp, cmd)) == -1) {
		pgpipe_lost(pp);
		return NULL;
	}
	pgpipe_drain(pp, 1);
	return pgpipe_wait(pp, n);
}

int
pgpipe_ask(struct pgpipe *pp, const struct pgpipe_cmd *cmd,
    pgpipe_answer_fn *fn, void *arg)
{
	struct pgpipe_asked *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->fn = fn;
	a->arg = arg;
	if (pgpipe_send_later(pp, cmd, a) == -1) {
		free(a);
		return -1;
	}
	return 0;
}

int
pgpipe_script(struct pgpipe *pp, const char *sql, char *why, size_t len)
{
	PGresult	*r;
	int		 rc = 0;

	pgpipe_drain(pp, 1);
	if (!PQexitPipelineMode(pp->conn)) {
		pgconn_why(pp->conn, NULL, why, len);
		return -1;
	}
	r = PQexec(pp->conn, sql);
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		break;
	default:
		pgconn_why(pp->conn, r, why, len);
		rc = -1;
	}
	PQclear(r);
	pp->tx = PQtransactionStatus(pp->conn) != PQTRANS_IDLE;
	if (!PQenterPipelineMode(pp->conn) && rc == 0) {
		pgconn_why(pp->conn, NULL, why, len);
		rc = -1;
	}
	return rc;
}
