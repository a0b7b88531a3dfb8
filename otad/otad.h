/* SPDX-License-Identifier: MIT */
/*
 * The `otad` command: private prototypes shared by main.c (argument
 * dispatch), init.c (`otad init DIR`), run.c (`otad run`, the foreground
 * supervisor of the three daemons), admin.c with askpass.c (`otad admin`,
 * the admins file), the admin API client (client*.c and the commands on
 * it: push, watch, status, devices, jobs, stop) and backup.c (`otad
 * backup`, `otad restore`).
 */
#ifndef OTAD_OTAD_H
#define OTAD_OTAD_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

/* What every client command exits with. */
#define OTAD_EXIT_OK		0	/* done; every delivery succeeded */
#define OTAD_EXIT_FAILED	1	/* done, but a delivery failed */
#define OTAD_EXIT_USAGE		2	/* not done: usage, connection,
					 * login, or the server said no */

/* main.c */
void	 otad_usage(int status) __attribute__((noreturn));

/* init.c */
int	 otad_init(int argc, char **argv);

/* admin.c */
int	 otad_admin(int argc, char **argv);

/* askpass.c */
#define OTAD_PASSWORD_MAX	256	/* bytes */
/* The new password of user into out (OTAD_PASSWORD_MAX + 2 bytes): twice
 * without echo on a terminal, else stdin's first line; -1 (said why). */
int	 otad_askpass(const char *user, char *out, size_t outlen);

/* run.c */
int	 otad_run(int argc, char **argv);

/* client_conf.c: where the admin API is and who we are there. */
struct client_conf {
	char	*url;		/* without a trailing slash */
	char	*user;
	char	*password;
	char	*token;		/* an API token: Authorization: Bearer */
	char	*pin;		/* "sha256//BASE64" of the server's key */
	int	 insecure;	/* no certificate check at all */
	int	 json;		/* --json: print the API's answers */
	int	 cli_user;	/* --user given: a password login */
};

enum {
	CLIENT_OPT_URL = 0x100, CLIENT_OPT_USER, CLIENT_OPT_TOKEN,
	CLIENT_OPT_INSECURE, CLIENT_OPT_PIN, CLIENT_OPT_JSON,
};
/* The long options every client command takes, first in its table. */
#define CLIENT_LONGOPTS \
	{ "url", required_argument, NULL, CLIENT_OPT_URL }, \
	{ "user", required_argument, NULL, CLIENT_OPT_USER }, \
	{ "api-token", required_argument, NULL, CLIENT_OPT_TOKEN }, \
	{ "insecure", no_argument, NULL, CLIENT_OPT_INSECURE }, \
	{ "pin", required_argument, NULL, CLIENT_OPT_PIN }, \
	{ "json", no_argument, NULL, CLIENT_OPT_JSON }

/* 1 when ch is one of CLIENT_LONGOPTS (taken into conf), else 0. */
int	 client_conf_option(struct client_conf *, int ch, const char *arg);
/* The config file and the environment under the command line's choices,
 * the password asked on a terminal; exits 2 with a sentence when
 * something needed is missing or wrong. */
void	 client_conf_finish(struct client_conf *);
/* "sha256:HEX" as curl takes it; -1 when it is no such pin. */
int	 client_conf_pin(const char *, char **out);
/* The client after the options of argv (getopt_long with longopts, which
 * start with CLIENT_LONGOPTS; -h is help); the others go to on_opt, where
 * -1 means usage. */
struct client *client_args(int argc, char **argv, const char *shortopts,
	    const struct option *longopts,
	    int (*on_opt)(void *, int ch, const char *arg), void *arg);
/* The decimal id of a command's argument, or usage. */
int64_t	 client_id_arg(const char *what, const char *arg);

/* client.c: HTTPS requests to admind (libcurl). */
struct client;

struct client *client_open(struct client_conf *);
void	 client_close(struct client *);
const struct client_conf *client_conf(const struct client *);
/* The status of METHOD path with an optional JSON body, the answer in
 * *answer; exits 2 with a sentence when there is no answer. */
long	 client_call(struct client *, const char *method, const char *path,
	    const char *body, struct buf *answer);
/* client_call() that wants a 2xx JSON answer: parsed, the raw text in
 * *answer when not NULL; otherwise prints the server's sentence and exits
 * 2. */
struct json_value *client_json(struct client *, const char *method,
	    const char *path, const char *body, struct buf *answer);
/* Prints the error answer's message (or what the status means) and
 * exits 2. */
void	 client_refused(const struct client *, long status,
	    struct buf *answer) __attribute__((noreturn));
/* POST path with file as the multipart field "file", with progress. */
long	 client_upload(struct client *, const char *path, const char *file,
	    struct buf *answer);
/* Reads the server-sent events of path, one call of on_event per event
 * (its kind and its data; "open" once the server has subscribed us,
 * "alive" at each keep-alive), until on_event returns 1 (then 0), or the
 * stream ends or cannot be had (-1: admind may be restarting); exits 2
 * when another attempt cannot help (TLS, login).  on_event may make
 * requests. */
int	 client_stream(struct client *, const char *path,
	    int (*on_event)(void *, const char *kind, const char *data),
	    void *arg);

/* value percent-encoded as a query parameter's value, added to b. */
void	 client_query_add(struct buf *, const char *value);

/* progress.c: a bar on a terminal, a line every 10 % otherwise; nothing
 * with a NULL label. */
struct progress {
	const char	*label;
	uint64_t	 total;
	uint64_t	 done;
	uint64_t	 started_ms;
	uint64_t	 drawn_ms;
	uint64_t	 drawn;		/* done at the last draw */
	int		 tty;
	int		 tenth;		/* last tenth printed, not a tty */
};

void	 progress_begin(struct progress *, const char *label, uint64_t total);
void	 progress_update(struct progress *, uint64_t done);
void	 progress_end(struct progress *);
/* "1.4 MiB" into out (16 bytes). */
void	 progress_bytes(uint64_t, char *out);
/* [#####.....] of width cells for done/total into out (width+3 bytes). */
void	 progress_bar(uint64_t done, uint64_t total, int width, char *out);

/* table.c: aligned columns. */
struct table;

struct table *table_new(int ncols, const char *const *heads);
void	 table_add(struct table *, const char *const *cells);
void	 table_print(struct table *);	/* and frees it */
void	 table_free(struct table *);
/* A JSON member as text for a cell ("" for null, "yes"/"no"). */
const char *table_cell(const struct json_value *, const char *key,
	    char *tmp, size_t len);

/* push.c */
int	 otad_push(int argc, char **argv);

/* watch.c */
int	 otad_watch(int argc, char **argv);
/* Follows job_id live until it ends; OTAD_EXIT_OK or _FAILED. */
int	 watch_job(struct client *, int64_t job_id);

/* listing.c */
int	 otad_status(int argc, char **argv);
int	 otad_devices(int argc, char **argv);
int	 otad_jobs(int argc, char **argv);
int	 otad_stop(int argc, char **argv);

/* backup.c */
int	 otad_backup(int argc, char **argv);
int	 otad_restore(int argc, char **argv);

#endif
