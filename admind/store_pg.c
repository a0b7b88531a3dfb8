/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL engine of admind's store (store_int.h's struct
 * store_engine), for [otad] database = postgresql://...: several otad
 * nodes share one database.  One connection per admind, with libpq's
 * synchronous calls bounded by pgconn.c's timeouts, so that the loop
 * waits on the database about as long as it waits on SQLite's fsync, and
 * never for ever.  A lost connection fails the statement (the API answers 503);
 * outside a transaction the next statement connects again, at most once
 * every STORE_PG_RETRY_MS, and prepares its statements anew.
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
#include "store_int.h"
#include "util.h"

#define STORE_PG_MAX_PARAMS	24
#define STORE_PG_RETRY_MS	2000
#define STORE_PG_OID_INT4	23
#define STORE_PG_OID_INT8	20
#define STORE_PG_OID_TEXT	25
#define STORE_PG_OID_BYTEA	17

/* The connection. */
struct pg {
	PGconn		*conn;
	int64_t		 changes;	/* rows the last statement wrote */
	int		 lost_in_tx;	/* lost inside a transaction */
	uint64_t	 retry_at;	/* ms: the next connection attempt */
	unsigned	 serial;	/* names prepared statements */
};

/* One statement: its SQL in PostgreSQL's words, prepared at first bind. */
struct pg_stmt {
	char		*sql;
	char		 name[24];
	char		 types[STORE_PG_MAX_PARAMS + 1];  /* fmt it has */
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

/* Logs q's failure; a lost connection inside a transaction (was) fails
 * every statement until the caller's rollback. */
static int	 pg_in_tx(struct store *);

static int
pg_log_fail(struct store *st, const struct store_query *q, const PGresult *r,
    int was)
{
	struct pg	*pg = st->db;
	const char	*state = r != NULL ?
			    PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char		 msg[512];

	if (state != NULL && strcmp(state, "53100") == 0)
		st->full = 1;
	pgconn_why(pg->conn, r, msg, sizeof(msg));
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		pg->lost_in_tx = was;
		log_warnx("store: %s: the database connection is lost: %s",
		    q->name, msg);
	} else
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

static void
pg_finalize(struct store *st, void *h)
{
	struct pg_stmt	*s = h;
	struct pg	*pg = st->db;
	char		 sql[64];
	PGresult	*r;

	pg_reset(st, s);
	if (s->prepared && PQstatus(pg->conn) == CONNECTION_OK) {
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
		r = PQexec(pg->conn, sql);
		PQclear(r);
	}
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

/* Prepared with the parameter types of fmt (again when they change). */
static int
pg_ready(struct store *st, struct pg_stmt *s, const struct store_query *q,
    const char *fmt)
{
	struct pg	*pg = st->db;
	Oid		 types[STORE_PG_MAX_PARAMS];
	PGresult	*r;
	char		 sql[64];
	size_t		 i, n = strlen(fmt);

	if (s->simple && *fmt == '\0')
		return 0;
	if (s->prepared && strcmp(s->types, fmt) == 0)
		return 0;
	if (n > STORE_PG_MAX_PARAMS) {
		log_warnx("store: %s: too many parameters", q->name);
		return -1;
	}
	if (s->prepared) {
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
		PQclear(PQexec(pg->conn, sql));
		s->prepared = 0;
	}
	for (i = 0; i < n; i++)
		types[i] = pg_oid(fmt[i]);
	snprintf(s->name, sizeof(s->name), "otad_%u", ++pg->serial);
	r = PQprepare(pg->conn, s->name, s->sql, (int)n, types);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_log_fail(st, q, r, pg_in_tx(st));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	memcpy(s->types, fmt, n + 1);
	s->nparams = (int)n;
	s->prepared = 1;
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

/* Runs the statement at the first step, then walks its rows. */
static int
pg_step(struct store *st, void *h, const struct store_query *q)
{
	struct pg_stmt	*s = h;
	struct pg	*pg = st->db;
	const char	*state;
	int		 was;

	if (s->res == NULL) {
		was = pg_in_tx(st);
		s->res = s->simple ? PQexec(pg->conn, s->sql) :
		    PQexecPrepared(pg->conn, s->name, s->nparams, s->values,
		    s->lengths, s->formats, 0);
		switch (PQresultStatus(s->res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			pg->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
			break;
		default:
			state = PQresultErrorField(s->res, PG_DIAG_SQLSTATE);
			if (state != NULL && strcmp(state, "23505") == 0 &&
			    q->unique_ok)
				return -2;
			return pg_log_fail(st, q, s->res, was);
		}
	}
	PQfreemem(s->blob);
	s->blob = NULL;
	if (++s->row < PQntuples(s->res))
		return STORE_ROW;
	return STORE_DONE;
}

static int
pg_in_tx(struct store *st)
{
	struct pg	*pg = st->db;

	if (PQstatus(pg->conn) == CONNECTION_BAD)
		return pg->lost_in_tx;
	return PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
}

/*
 * Before a statement: a lost connection inside a transaction fails every
 * statement until the caller rolls back (its writes are gone with the
 * connection; the rollback fails too, quietly, and ends that); outside
 * one, a new connection, without its old prepared statements.
 */
static int
pg_check(struct store *st, const struct store_query *q)
{
	struct pg	*pg = st->db;
	uint64_t	 now;
	char		 why[256];

	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	if (pg->lost_in_tx) {
		if (q->slot == Q_ROLLBACK)
			pg->lost_in_tx = 0;
		return -1;
	}
	if ((now = util_now_ms()) < pg->retry_at)
		return -1;
	pg->retry_at = now + STORE_PG_RETRY_MS;
	PQreset(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		log_warnx("store: the database is unreachable: %s; trying "
		    "again in %d s", pgconn_why(pg->conn, NULL, why,
		    sizeof(why)), STORE_PG_RETRY_MS / 1000);
		return -1;
	}
	log_info("store: connected to the database again");
	store_forget(st);
	return 0;
}

static int
pg_unreachable(struct store *st)
{
	return PQstatus(((struct pg *)st->db)->conn) != CONNECTION_OK;
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
	PQfinish(pg->conn);
	free(pg);
}

static int
pg_exec(struct store *st, const char *sql, char *err, size_t errlen)
{
	struct pg	*pg = st->db;
	PGresult	*r = PQexec(pg->conn, sql);
	int		 rc = 0;

	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		break;
	default:
		pgconn_why(pg->conn, r, err, errlen);
		rc = -1;
	}
	PQclear(r);
	return rc;
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
	.reset = pg_reset,
	.in_tx = pg_in_tx,
	.check = pg_check,
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
	char		 where[256], why[512];

	pg_where(uri, where, sizeof(where));
	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (st = store_new(&store_pg, pg)) == NULL) {
		free(pg);
		snprintf(err, errlen, "%s: out of memory", where);
		return NULL;
	}
	pg->conn = pgconn_open(uri, "otad-admind");
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: cannot connect: %s", where,
		    pgconn_why(pg->conn, NULL, why, sizeof(why)));
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
