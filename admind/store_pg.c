/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL engine of admind's store (store_int.h's struct
 * store_engine), for [otad] database = postgresql://...: several otad
 * nodes share one database.  One connection per admind (pgpipe.c, in
 * pipeline mode): a light fact is sent without waiting for its answer;
 * any other statement waits for its own answer only, bounded by pgconn.c's
 * timeouts.  A lost connection fails the statement (the API answers 503);
 * a new one is made by attempts that never wait, and prepares its
 * statements anew.
 *
 * The entity files' SQL is SQLite's dialect where both agree: ?N and ?
 * become $N here, "LIMIT $N" takes a negative N as no limit, as SQLite
 * does, and "CROSS JOIN ... ON" (SQLite's way to fix the join order) is
 * a plain JOIN.  Parameters are typed from the bind format (int4, int8,
 * text, bytea), so a statement is prepared at its first bind.  Results
 * come as text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "pgconn.h"
#include "pgpipe.h"
#include "store_int.h"
#include "util.h"

#define STORE_PG_MAX_PARAMS	24
#define STORE_PG_OID_INT4	23
#define STORE_PG_OID_INT8	20
#define STORE_PG_OID_TEXT	25
#define STORE_PG_OID_BYTEA	17

/* The connection. */
struct pg {
	struct pgpipe	*pp;
	int64_t		 changes;	/* rows the last statement wrote */
	unsigned	 serial;	/* names prepared statements */
};

/* One statement: its SQL in PostgreSQL's words, prepared at first bind. */
struct pg_stmt {
	char		*sql;
	char		 name[24];
	Oid		 types[STORE_PG_MAX_PARAMS];	/* prepared with */
	int		 prepared;
	int		 simple;	/* several commands, no parameters:
					 * sent as they are, unprepared */
	int		 nparams;
	const char	*values[STORE_PG_MAX_PARAMS];
	int		 lengths[STORE_PG_MAX_PARAMS];
	int		 formats[STORE_PG_MAX_PARAMS];
	char		 num[STORE_PG_MAX_PARAMS][24];
	PGresult	*res;
	int		 row;		/* the current row; -1 before */
	unsigned char	*blob;		/* the last bytea read */
};

/* Logs q's failure (r NULL: the connection's). */
static int
pg_log_fail(struct store *st, const struct store_query *q, const PGresult *r)
{
	struct pg	*pg = st->db;
	const char	*state = r != NULL ?
			    PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char		 msg[512];

	if (state != NULL && strcmp(state, "53100") == 0)
		st->full = 1;
	pgconn_why(pgpipe_conn(pg->pp), r, msg, sizeof(msg));
	if (pgpipe_unreachable(pg->pp))
		log_warnx("store: %s: the database connection is lost: %s",
		    q->name, msg);
	else
		log_warnx("store: %s: %s", q->name, msg);
	return -1;
}

/* q's SQL in PostgreSQL's words: ?N and ? as $N, LIMIT $N as no limit
 * when negative. */
static char *
pg_sql(const char *in)
{
	struct buf	 b = { 0 };
	int		 next = 1, n;
	char		 quote = 0;
	const char	*p;

	for (p = in; *p != '\0'; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			buf_addc(&b, *p);
			continue;
		}
		if (*p == '\'' || *p == '"') {
			quote = *p;
			buf_addc(&b, *p);
			continue;
		}
		if (strncmp(p, "CROSS JOIN ", 11) == 0) {
			p += 9;		/* at JOIN's N */
			buf_adds(&b, "JOIN");
			continue;
		}
		if (*p != '?') {
			buf_addc(&b, *p);
			continue;
		}
		n = next;
		if (p[1] >= '0' && p[1] <= '9')
			n = (int)strtol(p + 1, (char **)&p, 10), p--;
		next = n + 1;
		if (b.len >= 6 && strncasecmp((char *)b.data + b.len - 6,
		    "LIMIT ", 6) == 0)
			buf_printf(&b, "nullif(greatest($%d::int8, -1), -1)",
			    n);
		else
			buf_printf(&b, "$%d", n);
	}
	if (buf_addc(&b, '\0') == -1) {
		buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static int
pg_prepare(struct store *st, const struct store_query *q, void **h)
{
	struct pg_stmt	*s;

	(void)st;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sql = pg_sql(q->sql_pg != NULL ? q->sql_pg : q->sql)) ==
	    NULL) {
		free(s);
		return store_nomem();
	}
	s->simple = strchr(s->sql, ';') != NULL;
	s->row = -1;
	*h = s;
	return 0;
}

static void
pg_reset(struct store *st, void *h)
{
	struct pg_stmt	*s = h;

	(void)st;
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	PQfreemem(s->blob);
	s->blob = NULL;
}

/* Prepared statements go with their connection. */
static void
pg_finalize(struct store *st, void *h)
{
	struct pg_stmt	*s = h;

	pg_reset(st, s);
	free(s->sql);
	free(s);
}

static unsigned int
pg_oid(char type)
{
	switch (type) {
	case 'i':
		return STORE_PG_OID_INT4;
	case 's':
	case 'n':
		return STORE_PG_OID_TEXT;
	case 'b':
		return STORE_PG_OID_BYTEA;
	default:
		return STORE_PG_OID_INT8;
	}
}

/* Prepared with the parameter types of fmt (again, under a new name,
 * when they change); the prepare goes out with the statement. */
static int
pg_ready(struct store *st, struct pg_stmt *s, const struct store_query *q,
    const char *fmt)
{
	struct pg	*pg = st->db;
	Oid		 types[STORE_PG_MAX_PARAMS];
	size_t		 i, n = strlen(fmt);

	if (s->simple && n == 0)
		return 0;
	if (n > STORE_PG_MAX_PARAMS) {
		log_warnx("store: %s: too many parameters", q->name);
		return -1;
	}
	for (i = 0; i < n; i++)
		types[i] = pg_oid(fmt[i]);
	if (s->prepared && s->nparams == (int)n &&
	    memcmp(s->types, types, n * sizeof(*types)) == 0)
		return 0;
	snprintf(s->name, sizeof(s->name), "otad_%u", ++pg->serial);
	if (pgpipe_prepare(pg->pp, s->name, s->sql, (int)n, types,
	    &s->prepared) == -1)
		return pg_log_fail(st, q, NULL);
	memcpy(s->types, types, n * sizeof(*types));
	s->nparams = (int)n;
	return 0;
}

static int
pg_bind(struct store *st, void *h, const struct store_query *q,
    const char *fmt, va_list ap)
{
	struct pg_stmt	*s = h;
	const char	*str;
	int64_t		 v;
	int		 i;

	if (pg_ready(st, s, q, fmt) == -1)
		return -1;
	for (i = 0; fmt[i] != '\0'; i++) {
		s->formats[i] = 0;
		s->lengths[i] = 0;
		switch (fmt[i]) {
		case 'i':
			snprintf(s->num[i], sizeof(s->num[i]), "%d",
			    va_arg(ap, int));
			s->values[i] = s->num[i];
			break;
		case 'I':
			snprintf(s->num[i], sizeof(s->num[i]), "%" PRId64,
			    va_arg(ap, int64_t));
			s->values[i] = s->num[i];
			break;
		case 'U':
			snprintf(s->num[i], sizeof(s->num[i]), "%" PRId64,
			    (int64_t)va_arg(ap, uint64_t));
			s->values[i] = s->num[i];
			break;
		case 'N':
			v = va_arg(ap, int64_t);
			snprintf(s->num[i], sizeof(s->num[i]), "%" PRId64, v);
			s->values[i] = v > 0 ? s->num[i] : NULL;
			break;
		case 's':
			str = va_arg(ap, const char *);
			s->values[i] = str != NULL ? str : "";
			break;
		case 'n':
			s->values[i] = va_arg(ap, const char *);
			break;
		case 'b':
			s->values[i] = va_arg(ap, const char *);
			s->lengths[i] = (int)va_arg(ap, size_t);
			s->formats[i] = 1;
			break;
		default:
			log_warnx("store: %s: bad bind format '%c'",
			    q->name, fmt[i]);
			return -1;
		}
	}
	return 0;
}

/* The bound statement, as pgpipe sends it. */
static struct pgpipe_cmd
pg_cmd(const struct pg_stmt *s, const struct store_query *q)
{
	return (struct pgpipe_cmd){ q->name, s->simple ? NULL : s->name,
	    s->sql, s->nparams, s->values, s->lengths, s->formats };
}

/* Runs the statement at the first step (a light fact: sent, not waited
 * for), then walks its rows. */
static int
pg_step(struct store *st, void *h, const struct store_query *q)
{
	struct pg_stmt	*s = h;
	struct pg	*pg = st->db;
	const struct pgpipe_cmd cmd = pg_cmd(s, q);
	const char	*state;
	int		 sent;

	if (s->res == NULL) {
		s->res = pgpipe_run(pg->pp, &cmd, q->answerless, &sent);
		if (sent) {
			pg->changes = 0;
			return STORE_DONE;
		}
		switch (PQresultStatus(s->res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			pg->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
			if (q->slot == Q_COMMIT &&
			    strcmp(PQcmdStatus(s->res), "ROLLBACK") == 0) {
				log_warnx("store: commit: the transaction was "
				    "rolled back: a statement in it failed "
				    "(logged above)");
				return -1;
			}
			break;
		default:
			state = PQresultErrorField(s->res, PG_DIAG_SQLSTATE);
			if (state != NULL && strcmp(state, "23505") == 0 &&
			    q->unique_ok)
				return -2;
			return pg_log_fail(st, q, s->res);
		}
	}
	PQfreemem(s->blob);
	s->blob = NULL;
	if (++s->row < PQntuples(s->res))
		return STORE_ROW;
	return STORE_DONE;
}

/* A question on its way (pg_ask). */
struct pg_asked {
	struct store	*st;
	const struct store_query *q;
	store_answer_fn	*done;
	void		*arg;
};

static void
pg_answered(void *arg, PGresult *r)
{
	struct pg_asked	*k = arg;
	struct pg_stmt	 row = { .res = r, .row = 0 };
	struct store_cur cur = { k->st->engine, &row };
	ExecStatusType	 s = PQresultStatus(r);
	int		 rc;

	if (r == NULL || (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK))
		rc = pg_log_fail(k->st, k->q, r);
	else
		rc = PQntuples(r) > 0;
	k->done(k->arg, rc, rc == 1 ? &cur : NULL);
	PQfreemem(row.blob);
	free(k);
}

static int
pg_ask(struct store *st, void *h, const struct store_query *q,
    store_answer_fn *done, void *arg)
{
	struct pg_stmt	*s = h;
	struct pg	*pg = st->db;
	const struct pgpipe_cmd cmd = pg_cmd(s, q);
	struct pg_asked	*k;

	if ((k = malloc(sizeof(*k))) == NULL)
		return store_nomem();
	*k = (struct pg_asked){ st, q, done, arg };
	if (pgpipe_ask(pg->pp, &cmd, pg_answered, k) == -1) {
		free(k);
		return pg_log_fail(st, q, NULL);
	}
	return 0;
}

static int
pg_in_tx(struct store *st)
{
	return pgpipe_in_tx(((struct pg *)st->db)->pp);
}

/* Before a statement: a new connection has none of the old one's
 * prepared statements. */
static int
pg_check(struct store *st, const struct store_query *q)
{
	struct pg	*pg = st->db;
	int		 fresh;

	if (pgpipe_ready(pg->pp, &fresh, q->slot == Q_ROLLBACK) == -1)
		return -1;
	if (fresh)
		store_forget(st);
	return 0;
}

static void
pg_poll(struct store *st)
{
	struct pg	*pg = st->db;

	if (pg->pp != NULL && pgpipe_poll(pg->pp) == 1)
		store_forget(st);
}

static int
pg_socket(struct store *st, unsigned *serial)
{
	return pgpipe_socket(((struct pg *)st->db)->pp, serial);
}

static int
pg_unreachable(struct store *st)
{
	return pgpipe_unreachable(((struct pg *)st->db)->pp);
}

static int64_t
pg_changes(struct store *st)
{
	return ((struct pg *)st->db)->changes;
}

static void
pg_close(struct store *st)
{
	struct pg	*pg = st->db;

	if (pg == NULL)
		return;
	pgpipe_free(pg->pp);
	free(pg);
}

static int
pg_exec(struct store *st, const char *sql, char *err, size_t errlen)
{
	return pgpipe_script(((struct pg *)st->db)->pp, sql, err, errlen);
}

static int64_t
pg_col_int64(void *h, int i)
{
	struct pg_stmt	*s = h;

	if (PQgetisnull(s->res, s->row, i))
		return 0;
	return strtoll(PQgetvalue(s->res, s->row, i), NULL, 10);
}

static const char *
pg_col_str(void *h, int i)
{
	struct pg_stmt	*s = h;

	if (PQgetisnull(s->res, s->row, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static const void *
pg_col_blob(void *h, int i, size_t *len)
{
	struct pg_stmt	*s = h;

	*len = 0;
	if (PQgetisnull(s->res, s->row, i))
		return NULL;
	PQfreemem(s->blob);
	s->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res,
	    s->row, i), len);
	return s->blob;
}

static const struct store_engine store_pg = {
	.name = "PostgreSQL",
	.shared = 1,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.bind = pg_bind,
	.step = pg_step,
	.ask = pg_ask,
	.reset = pg_reset,
	.in_tx = pg_in_tx,
	.check = pg_check,
	.poll = pg_poll,
	.socket = pg_socket,
	.unreachable = pg_unreachable,
	.changes = pg_changes,
	.close = pg_close,
	.exec = pg_exec,
	.migrations = store_pg_migrations,
	.migrate_begin = "BEGIN; SELECT pg_advisory_xact_lock(7427001)",
	.set_version = "UPDATE otad_schema SET version = %d",
	.col_int64 = pg_col_int64,
	.col_str = pg_col_str,
	.col_blob = pg_col_blob,
};

/* The URI without its password, for messages. */
static void
pg_where(const char *uri, char *out, size_t len)
{
	const char	*at = strchr(uri, '@'), *colon;
	const char	*scheme = strstr(uri, "://");

	snprintf(out, len, "%s", uri);
	if (at == NULL || scheme == NULL)
		return;
	colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
	if (colon != NULL)
		snprintf(out, len, "%.*s:***%s", (int)(colon - uri), uri, at);
}

struct store *
store_pg_open(const char *uri, char *err, size_t errlen)
{
	struct store	*st;
	struct pg	*pg;
	PGconn		*conn;
	char		 where[256], why[512];

	pg_where(uri, where, sizeof(where));
	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (st = store_new(&store_pg, pg)) == NULL) {
		free(pg);
		snprintf(err, errlen, "%s: out of memory", where);
		return NULL;
	}
	conn = pgconn_open(uri, "otad-admind");
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: cannot connect: %s", where,
		    pgconn_why(conn, NULL, why, sizeof(why)));
		PQfinish(conn);
		store_close(st);
		return NULL;
	}
	if ((pg->pp = pgpipe_new(conn, uri, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", where, why);
		PQfinish(conn);
		store_close(st);
		return NULL;
	}
	if (pg_exec(st, "BEGIN; SELECT pg_advisory_xact_lock(7427001);"
	    "CREATE TABLE IF NOT EXISTS otad_schema (version integer NOT NULL);"
	    "INSERT INTO otad_schema SELECT 0 WHERE NOT EXISTS"
	    " (SELECT 1 FROM otad_schema); COMMIT", why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: cannot create the schema table: %s",
		    where, why);
		store_close(st);
		return NULL;
	}
	if (store_migrate(st, where, err, errlen) == -1) {
		store_close(st);
		return NULL;
	}
	return st;
}
