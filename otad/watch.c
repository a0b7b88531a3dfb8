/* SPDX-License-Identifier: MIT */
/*
 * `otad watch JOB` (and `otad push --watch`): follows a job live over
 * admind's event stream (GET /admin/events?job=ID): each device's state,
 * counts per state and an overall bar on a terminal (a line per change
 * otherwise), each failure with its reason as it happens, until the job
 * finishes, is stopped or paused, or (a job for all devices) every
 * delivery it has ended.  Exit 0 when every delivery succeeded or was
 * current already, 1 otherwise.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"
#include "util.h"

#include "otad.h"

#define WATCH_BAR_CELLS	24
#define WATCH_RECONNECTS	30	/* a second apart: admind restarts */

/* Done well: the device runs the image. */
#define WATCH_GOOD(s)	((s) == DELIVERY_SUCCEEDED || \
			    (s) == DELIVERY_ALREADY_CURRENT)

struct watch_delivery {
	int64_t			 device_id;
	enum delivery_state	 state;	/* DELIVERY_NSTATES: not known */
};

struct watch {
	struct client		*client;
	int64_t			 job_id;
	int			 all;		/* a job for all devices */
	int			 tty;
	int			 done;
	struct watch_delivery	*d;
	size_t			 n;
};

static int	 watch_event(void *, const char *, const char *);
static void	 watch_snapshot(struct watch *);
static int	 watch_job_state(struct watch *, char *, size_t);
static void	 watch_delivery(struct watch *, const struct json_value *);
static void	 watch_set(struct watch *, int64_t device, const char *state,
		    const char *error, int quiet);
static int	 watch_audit(struct watch *, const struct json_value *);
static int	 watch_all_ended(const struct watch *);
static void	 watch_draw(const struct watch *);
static void	 watch_say(const struct watch *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 watch_result(const struct watch *);

static const struct option watch_options[] = {
	CLIENT_LONGOPTS,
	{ "help",	no_argument,	NULL, 'h' },
	{ NULL,		0,		NULL, 0 }
};

int
otad_watch(int argc, char **argv)
{
	struct client	*c;
	int64_t		 id;
	int		 rc;

	c = client_args(argc, argv, "h", watch_options, NULL, NULL);
	if (argc - optind != 1)
		otad_usage(OTAD_EXIT_USAGE);
	id = client_id_arg("job", argv[optind]);
	rc = watch_job(c, id);
	client_close(c);
	return rc;
}

/* Ctrl-C on a terminal: the bar's line ends before the shell's prompt. */
static void
watch_interrupted(int sig)
{
	(void)write(STDOUT_FILENO, "\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

int
watch_job(struct client *c, int64_t job_id)
{
	struct watch	 w = { .client = c, .job_id = job_id };
	char		 path[64];
	int		 rc, tries;

	if ((w.tty = isatty(STDOUT_FILENO)))
		signal(SIGINT, watch_interrupted);
	snprintf(path, sizeof(path), "/admin/events?job=%" PRId64, job_id);
	printf("watching job %" PRId64 " (Ctrl-C leaves it; the job goes "
	    "on)\n", job_id);
	fflush(stdout);
	/* a lost stream is taken again; its snapshot fills the gap */
	for (tries = 0; client_stream(c, path, watch_event, &w) == -1;
	    tries++) {
		if (tries == WATCH_RECONNECTS) {
			fprintf(stderr, "otad: lost the event stream of %s and "
			    "could not get it back for %d s; is otad-admind "
			    "running? otad watch %" PRId64 " follows the job "
			    "again\n", client_conf(c)->url, WATCH_RECONNECTS,
			    job_id);
			exit(OTAD_EXIT_USAGE);
		}
		if (tries == 0)
			watch_say(&w, "lost the event stream (otad-admind "
			    "restarting?); taking it again");
		sleep(1);
	}
	rc = watch_result(&w);
	free(w.d);
	return rc;
}

static int
watch_event(void *arg, const char *kind, const char *data)
{
	struct watch	*w = arg;
	struct json_value *v;

	if (strcmp(kind, "open") == 0) {
		/* subscribed: what happened before is in the snapshot */
		watch_snapshot(w);
		return w->done;
	}
	if (strcmp(kind, "alive") == 0) {
		/* a quiet while: the job as it is, in case we missed its
		 * end */
		watch_snapshot(w);
		return w->done;
	}
	if ((v = json_parse(data, strlen(data), NULL, 0)) == NULL)
		return 0;
	if (strcmp(kind, "delivery") == 0)
		watch_delivery(w, v);
	else if (strcmp(kind, "audit") == 0)
		w->done = watch_audit(w, v);
	json_free(v);
	if (!w->done && w->all && watch_all_ended(w)) {
		watch_say(w, "every delivery of job %" PRId64 " ended; the job "
		    "stays active for devices added later (otad stop %" PRId64
		    " ends it)", w->job_id, w->job_id);
		w->done = 1;
	}
	watch_draw(w);
	return w->done;
}

/* The job and its deliveries as they are now: the job first, so that
 * when it has ended the deliveries read after it are its last. */
static void
watch_snapshot(struct watch *w)
{
	struct json_value *ds;
	const struct json_value *list, *d, *dev;
	char		 path[80], state[32];
	int		 ended = watch_job_state(w, state, sizeof(state));

	snprintf(path, sizeof(path), "/admin/jobs/%" PRId64 "/deliveries",
	    w->job_id);
	ds = client_json(w->client, "GET", path, NULL, NULL);
	if ((list = json_get(ds, "deliveries")) != NULL &&
	    list->kind == JSON_ARRAY)
		for (size_t i = 0; i < list->n; i++) {
			d = &list->items[i];
			if ((dev = json_get(d, "device_id")) != NULL)
				watch_set(w, (int64_t)dev->num,
				    json_get_str(d, "state"),
				    json_get_str(d, "last_error"), 0);
		}
	json_free(ds);
	if (ended) {
		watch_say(w, "job %" PRId64 " is %s", w->job_id, state);
		w->done = 1;
	} else if (w->all && watch_all_ended(w))
		w->done = 1;
	watch_draw(w);
}

/* 1 when the job has ended or is paused (its state in out), else 0. */
static int
watch_job_state(struct watch *w, char *out, size_t len)
{
	struct json_value *job;
	const char	*state, *kind;
	char		 path[64];
	int		 ended;

	snprintf(path, sizeof(path), "/admin/jobs/%" PRId64, w->job_id);
	job = client_json(w->client, "GET", path, NULL, NULL);
	state = json_get_str(job, "state");
	kind = json_get_str(job, "target_kind");
	w->all = kind != NULL && strcmp(kind, "all") == 0;
	ended = state != NULL && strcmp(state, "active") != 0;
	snprintf(out, len, "%s", state ? state : "");
	json_free(job);
	return ended;
}

static void
watch_delivery(struct watch *w, const struct json_value *ev)
{
	const struct json_value *dev = json_get(ev, "device_id");
	const struct json_value *pct = json_get(ev, "percent");
	const char	*state = json_get_str(ev, "state");

	if (dev == NULL || state == NULL)
		return;
	if (pct != NULL && !w->tty) {
		printf("device %" PRId64 ": downloading, %s %%\n",
		    (int64_t)dev->num, pct->str);
		return;
	}
	watch_set(w, (int64_t)dev->num, state, json_get_str(ev, "error"),
	    !w->tty ? 0 : 1);
}

/* The device's delivery is now in state; says a failure (and, without a
 * terminal, every change unless quiet). */
static void
watch_set(struct watch *w, int64_t device, const char *state,
    const char *error, int quiet)
{
	struct watch_delivery *d = NULL, *p;
	enum delivery_state s;
	size_t		 i;

	if (state == NULL || delivery_state_parse(state, &s) == -1)
		return;
	for (i = 0; i < w->n && d == NULL; i++)
		if (w->d[i].device_id == device)
			d = &w->d[i];
	if (d == NULL) {
		if ((p = reallocarray(w->d, w->n + 1, sizeof(*p))) == NULL)
			return;
		w->d = p;
		d = &w->d[w->n++];
		d->device_id = device;
		d->state = DELIVERY_NSTATES;
	}
	if (d->state == s)
		return;
	d->state = s;
	if (error != NULL && *error && delivery_state_ended(s) &&
	    !WATCH_GOOD(s))
		watch_say(w, "device %" PRId64 " %s: %s", device, state, error);
	else if (error != NULL && *error && s == DELIVERY_QUEUED)
		watch_say(w, "device %" PRId64 " will retry: %s", device, error);
	else if (!quiet)
		watch_say(w, "device %" PRId64 ": %s", device, state);
}

/* 1 when the audit event ends the watch: the job finished, stopped or
 * paused. */
static int
watch_audit(struct watch *w, const struct json_value *ev)
{
	const char	*kind = json_get_str(ev, "kind");
	const char	*text = json_get_str(ev, "text");

	if (kind == NULL || strncmp(kind, "job.", 4) != 0)
		return 0;
	if (strcmp(kind, "job.finished") != 0 &&
	    strcmp(kind, "job.stopped") != 0 && strcmp(kind, "job.paused") != 0)
		return 0;
	watch_say(w, "job %" PRId64 " %s: %s", w->job_id, kind + 4,
	    text ? text : "");
	return 1;
}

static int
watch_all_ended(const struct watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->d[i].state >= DELIVERY_NSTATES ||
		    !delivery_state_ended(w->d[i].state))
			return 0;
	return w->n > 0;
}

/* The bar and the counts, redrawn in place on a terminal. */
static void
watch_draw(const struct watch *w)
{
	size_t		 count[DELIVERY_NSTATES] = { 0 }, ended = 0;
	char		 bar[WATCH_BAR_CELLS + 3];

	if (!w->tty)
		return;
	for (size_t i = 0; i < w->n; i++)
		if (w->d[i].state < DELIVERY_NSTATES) {
			count[w->d[i].state]++;
			ended += delivery_state_ended(w->d[i].state) != 0;
		}
	progress_bar(ended, w->n, WATCH_BAR_CELLS, bar);
	printf("\r\033[K%s %zu/%zu ended", bar, ended, w->n);
	for (int s = 0; s < DELIVERY_NSTATES; s++)
		if (count[s])
			printf("  %s %zu", delivery_state_name(s), count[s]);
	fflush(stdout);
}

/* A line above the bar. */
static void
watch_say(const struct watch *w, const char *fmt, ...)
{
	va_list	 ap;

	if (w->tty)
		fputs("\r\033[K", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Counts on one line; 0 when every delivery is succeeded or
 * already-current. */
static int
watch_result(const struct watch *w)
{
	size_t	 count[DELIVERY_NSTATES] = { 0 }, bad = 0;

	for (size_t i = 0; i < w->n; i++) {
		if (w->d[i].state >= DELIVERY_NSTATES)
			continue;
		count[w->d[i].state]++;
		bad += !WATCH_GOOD(w->d[i].state);
	}
	if (w->tty)
		fputs("\r\033[K", stdout);
	printf("job %" PRId64 ": %zu deliver%s", w->job_id, w->n,
	    w->n == 1 ? "y" : "ies");
	for (int s = 0; s < DELIVERY_NSTATES; s++)
		if (count[s])
			printf(", %zu %s", count[s], delivery_state_name(s));
	printf("\n");
	fflush(stdout);
	return bad ? OTAD_EXIT_FAILED : OTAD_EXIT_OK;
}
