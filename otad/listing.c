/* SPDX-License-Identifier: MIT */
/*
 * The `otad` client commands that read admind's state or stop a job:
 * `otad status` (the daemons, devices online, active jobs, the last
 * failures), `otad devices [--tag NAME]`, `otad jobs [ID]` and
 * `otad stop JOB`.  Aligned tables for people; --json prints the API's
 * own answer for scripts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "otad.h"

#define LISTING_PAGE		500	/* devices a request */
#define LISTING_RECENT_JOBS	"5"	/* whose failures status shows */
#define LISTING_LAST_ERRORS	5

static const struct option listing_options[] = {
	CLIENT_LONGOPTS,
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static const struct option devices_options[] = {
	CLIENT_LONGOPTS,
	{ "tag",	required_argument,	NULL, 't' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static int	 listing_tag(void *, int, const char *);
static const char *listing_trim(struct buf *);
static void	 listing_print_raw(struct client *, const char *path);
static int	 listing_devices_page(struct client *, struct table *,
		    const char *tag, int64_t offset);
static void	 listing_jobs_table(const struct json_value *jobs);
static void	 listing_job(struct client *, int64_t id);
static void	 listing_counts(const struct json_value *job, char *out,
		    size_t len);
static void	 listing_last_errors(struct client *,
		    const struct json_value *jobs);
static int	 listing_true(const struct json_value *, const char *);
static void	 listing_daemon(const struct json_value *, const char *name,
		    const char *role, const char *down);

int
otad_status(int argc, char **argv)
{
	struct client	*c;
	struct json_value *health, *devs, *active, *recent;
	struct buf	 health_raw = BUF_INIT, active_raw = BUF_INIT;
	const struct json_value *total, *list;
	int		 rc;

	c = client_args(argc, argv, "h", listing_options, NULL, NULL);
	if (argc != optind)
		otad_usage(OTAD_EXIT_USAGE);
	health = client_json(c, "GET", "/admin/health", NULL, &health_raw);
	/* the health answer needs no login: this one checks it */
	devs = client_json(c, "GET", "/admin/devices?limit=1", NULL, NULL);
	active = client_json(c, "GET", "/admin/jobs?state=active", NULL,
	    &active_raw);
	recent = client_json(c, "GET", "/admin/jobs?limit="
	    LISTING_RECENT_JOBS, NULL, NULL);
	total = json_get(devs, "total");
	list = json_get(active, "jobs");
	/* a daemon away is a failure a monitoring script should see */
	rc = listing_true(health, "hwd_connected") &&
	    listing_true(health, "fwstore_connected") ? OTAD_EXIT_OK :
	    OTAD_EXIT_FAILED;
	if (client_conf(c)->json) {
		printf("{\"health\":%s,\"devices\":%s,\"active_jobs\":%s}\n",
		    listing_trim(&health_raw), total ? total->str : "null",
		    listing_trim(&active_raw));
		goto out;
	}
	printf("otad %s at %s\n", table_cell(health, "version", NULL, 0),
	    client_conf(c)->url);
	printf("  otad-admind   up\n");
	listing_daemon(health, "otad-hwd", "hwd",
	    "NOT CONNECTED: devices cannot log in");
	listing_daemon(health, "otad-fwstore", "fwstore",
	    "NOT CONNECTED: no downloads");
	printf("devices: %s, %s online\n", total ? total->str : "?",
	    json_get(health, "devices_online") ? json_get(health,
	    "devices_online")->str : "?");
	printf("active jobs: %zu\n", list ? list->n : 0);
	if (list && list->n)
		listing_jobs_table(active);
	listing_last_errors(c, recent);
out:
	json_free(health);
	json_free(devs);
	json_free(active);
	json_free(recent);
	buf_free(&health_raw);
	buf_free(&active_raw);
	client_close(c);
	return rc;
}


/* "  otad-hwd      connected (2 workers)", or why not. */
static void
listing_daemon(const struct json_value *health, const char *name,
    const char *role, const char *down)
{
	char	 key[32], tmp[32];

	snprintf(key, sizeof(key), "%s_connected", role);
	if (!listing_true(health, key)) {
		printf("  %-13s %s\n", name, down);
		return;
	}
	snprintf(key, sizeof(key), "%s_workers", role);
	printf("  %-13s connected (%s worker%s)\n", name,
	    table_cell(health, key, tmp, sizeof(tmp)),
	    strcmp(tmp, "1") == 0 ? "" : "s");
}

int
otad_devices(int argc, char **argv)
{
	static const char *const heads[] = { "ID", "NAME", "ONLINE", "VERSION",
	    "BUILD", "BOARD", "TAGS", "LAST SEEN" };
	struct client	*c;
	struct table	*t;
	struct buf	 path = BUF_INIT;
	const char	*tag = NULL;
	int64_t		 offset = 0;
	int		 got;

	c = client_args(argc, argv, "ht:", devices_options, listing_tag, &tag);
	if (argc != optind)
		otad_usage(OTAD_EXIT_USAGE);
	if (client_conf(c)->json) {
		buf_adds(&path, "/admin/devices");
		if (tag != NULL) {
			buf_adds(&path, "?tag=");
			client_query_add(&path, tag);
		}
		listing_print_raw(c, buf_cstr(&path));
		buf_free(&path);
		client_close(c);
		return OTAD_EXIT_OK;
	}
	t = table_new(nitems(heads), heads);
	while ((got = listing_devices_page(c, t, tag, offset)) > 0)
		offset += got;
	table_print(t);
	client_close(c);
	return OTAD_EXIT_OK;
}

int
otad_jobs(int argc, char **argv)
{
	struct client	*c;
	struct json_value *jobs;
	c = client_args(argc, argv, "h", listing_options, NULL, NULL);
	if (argc - optind > 1)
		otad_usage(OTAD_EXIT_USAGE);
	if (argc - optind == 1) {
		listing_job(c, client_id_arg("job", argv[optind]));
	} else if (client_conf(c)->json) {
		listing_print_raw(c, "/admin/jobs");
	} else {
		jobs = client_json(c, "GET", "/admin/jobs", NULL, NULL);
		listing_jobs_table(jobs);
		json_free(jobs);
	}
	client_close(c);
	return OTAD_EXIT_OK;
}

int
otad_stop(int argc, char **argv)
{
	struct client	*c;
	struct json_value *job;
	struct buf	 raw = BUF_INIT;
	const struct json_value *canceled;
	char		 path[80];
	int64_t		 id;

	c = client_args(argc, argv, "h", listing_options, NULL, NULL);
	if (argc - optind != 1)
		otad_usage(OTAD_EXIT_USAGE);
	id = client_id_arg("job", argv[optind]);
	snprintf(path, sizeof(path), "/admin/jobs/%" PRId64 "/stop", id);
	job = client_json(c, "POST", path, NULL, &raw);
	canceled = json_get(job, "deliveries_canceled");
	if (client_conf(c)->json)
		printf("%s\n", buf_cstr(&raw));
	else
		printf("job %" PRId64 " stopped; %s pending deliver%s "
		    "canceled\n", id, canceled ? canceled->str : "no",
		    canceled && canceled->num == 1 ? "y" : "ies");
	json_free(job);
	buf_free(&raw);
	client_close(c);
	return OTAD_EXIT_OK;
}

static int
listing_tag(void *arg, int ch, const char *value)
{
	if (ch != 't')
		return -1;
	*(const char **)arg = value;
	return 0;
}

/* An answer without its final newlines, to print or embed. */
static const char *
listing_trim(struct buf *raw)
{
	while (raw->len && raw->data[raw->len - 1] == '\n')
		raw->len--;
	return buf_cstr(raw);
}

/* The API's answer as it came, for --json. */
static void
listing_print_raw(struct client *c, const char *path)
{
	struct buf	 raw = BUF_INIT;

	json_free(client_json(c, "GET", path, NULL, &raw));
	printf("%s\n", listing_trim(&raw));
	buf_free(&raw);
}

/* One page of devices into t: how many it held. */
static int
listing_devices_page(struct client *c, struct table *t, const char *tag,
    int64_t offset)
{
	struct buf	 path = BUF_INIT;
	struct json_value *page;
	const struct json_value *list, *d;
	char		 id[24], tags[200], online[8];
	const char	*seen;
	int		 n = 0;

	buf_printf(&path, "/admin/devices?limit=%d&offset=%" PRId64,
	    LISTING_PAGE, offset);
	if (tag != NULL) {
		buf_adds(&path, "&tag=");
		client_query_add(&path, tag);
	}
	page = client_json(c, "GET", buf_cstr(&path), NULL, NULL);
	list = json_get(page, "devices");
	for (size_t i = 0; list && list->kind == JSON_ARRAY && i < list->n;
	    i++, n++) {
		d = &list->items[i];
		seen = table_cell(d, "last_seen", NULL, 0);
		table_add(t, (const char *const[]){
		    table_cell(d, "id", id, sizeof(id)),
		    table_cell(d, "name", NULL, 0),
		    table_cell(d, "online", online, sizeof(online)),
		    table_cell(d, "fw_version", NULL, 0),
		    table_cell(d, "build", NULL, 0),
		    table_cell(d, "board", NULL, 0),
		    table_cell(d, "tags", tags, sizeof(tags)),
		    *seen ? seen : "never" });
	}
	json_free(page);
	buf_free(&path);
	return n == LISTING_PAGE ? n : 0;
}

static void
listing_jobs_table(const struct json_value *jobs)
{
	static const char *const heads[] = { "JOB", "STATE", "FIRMWARE",
	    "TARGET", "CREATED", "DELIVERIES" };
	const struct json_value *list = json_get(jobs, "jobs"), *j, *fw;
	struct table	*t = table_new(nitems(heads), heads);
	char		 id[24], target[120], firmware[120], counts[200];

	for (size_t i = 0; list && list->kind == JSON_ARRAY && i < list->n;
	    i++) {
		j = &list->items[i];
		fw = json_get(j, "firmware");
		snprintf(firmware, sizeof(firmware), "%s %s",
		    fw ? table_cell(fw, "filename", NULL, 0) : "?",
		    fw ? table_cell(fw, "version", NULL, 0) : "");
		snprintf(target, sizeof(target), "%s %s",
		    table_cell(j, "target_kind", NULL, 0),
		    table_cell(j, "target", NULL, 0));
		listing_counts(j, counts, sizeof(counts));
		table_add(t, (const char *const[]){
		    table_cell(j, "id", id, sizeof(id)),
		    table_cell(j, "state", NULL, 0), firmware, target,
		    table_cell(j, "created_at", NULL, 0), counts });
	}
	table_print(t);
}

/* "12: succeeded 10, failed 2" of a job's counts. */
static void
listing_counts(const struct json_value *job, char *out, size_t len)
{
	const struct json_value *counts = json_get(job, "counts");
	const struct json_value *n = json_get(job, "deliveries");

	snprintf(out, len, "%s", n ? n->str : "0");
	for (size_t i = 0; counts && counts->kind == JSON_OBJECT &&
	    i < counts->n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s %s",
		    i ? ", " : ": ", counts->keys[i], counts->items[i].str);
}

/* One job: its settings, counts and every delivery. */
static void
listing_job(struct client *c, int64_t id)
{
	static const char *const heads[] = { "DEVICE", "STATE", "ATTEMPTS",
	    "PERCENT", "UPDATED", "LAST ERROR" };
	struct json_value *job, *ds;
	struct buf	 job_raw = BUF_INIT, ds_raw = BUF_INIT;
	const struct json_value *list, *d, *fw;
	struct table	*t;
	char		 path[80], dev[24], att[24], pct[24], counts[200];

	snprintf(path, sizeof(path), "/admin/jobs/%" PRId64, id);
	job = client_json(c, "GET", path, NULL, &job_raw);
	snprintf(path, sizeof(path), "/admin/jobs/%" PRId64 "/deliveries", id);
	ds = client_json(c, "GET", path, NULL, &ds_raw);
	if (client_conf(c)->json) {
		printf("{\"job\":%s,\"deliveries\":%s}\n",
		    listing_trim(&job_raw), listing_trim(&ds_raw));
		goto out;
	}
	fw = json_get(job, "firmware");
	listing_counts(job, counts, sizeof(counts));
	printf("job %" PRId64 ": %s, created %s by %s\n", id,
	    table_cell(job, "state", NULL, 0),
	    table_cell(job, "created_at", NULL, 0),
	    table_cell(job, "created_by", NULL, 0));
	printf("  firmware  %s %s (%s)\n", fw ? table_cell(fw, "filename",
	    NULL, 0) : "?", fw ? table_cell(fw, "version", NULL, 0) : "",
	    fw ? table_cell(fw, "sha256", NULL, 0) : "");
	printf("  target    %s %s\n", table_cell(job, "target_kind", NULL, 0),
	    table_cell(job, "target", NULL, 0));
	printf("  deliveries %s\n\n", counts);
	t = table_new(nitems(heads), heads);
	list = json_get(ds, "deliveries");
	for (size_t i = 0; list && list->kind == JSON_ARRAY && i < list->n;
	    i++) {
		d = &list->items[i];
		table_add(t, (const char *const[]){
		    table_cell(d, "device_id", dev, sizeof(dev)),
		    table_cell(d, "state", NULL, 0),
		    table_cell(d, "attempts", att, sizeof(att)),
		    table_cell(d, "percent", pct, sizeof(pct)),
		    table_cell(d, "updated_at", NULL, 0),
		    table_cell(d, "last_error", NULL, 0) });
	}
	table_print(t);
out:
	json_free(ds);
	json_free(job);
	buf_free(&job_raw);
	buf_free(&ds_raw);
}

static int
listing_true(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v != NULL && v->kind == JSON_TRUE;
}

/* The newest failures of the recent jobs, newest first. */
static void
listing_last_errors(struct client *c, const struct json_value *jobs)
{
	static const char *const heads[] = { "WHEN", "JOB", "DEVICE",
	    "ERROR" };
	const struct json_value *list = json_get(jobs, "jobs"), *ds, *d;
	struct json_value *answer;
	struct table	*t = table_new(nitems(heads), heads);
	char		 path[80], dev[24];
	size_t		 shown = 0;

	for (size_t i = 0; list && list->kind == JSON_ARRAY && i < list->n &&
	    shown < LISTING_LAST_ERRORS; i++) {
		snprintf(path, sizeof(path), "/admin/jobs/%s/deliveries?"
		    "state=failed", table_cell(&list->items[i], "id", dev,
		    sizeof(dev)));
		answer = client_json(c, "GET", path, NULL, NULL);
		ds = json_get(answer, "deliveries");
		for (size_t k = 0; ds && ds->kind == JSON_ARRAY && k < ds->n &&
		    shown < LISTING_LAST_ERRORS; k++, shown++) {
			d = &ds->items[k];
			table_add(t, (const char *const[]){
			    table_cell(d, "updated_at", NULL, 0),
			    table_cell(&list->items[i], "id", path,
			    sizeof(path)),
			    table_cell(d, "device_id", dev, sizeof(dev)),
			    table_cell(d, "last_error", NULL, 0) });
		}
		json_free(answer);
	}
	if (shown == 0) {
		printf("no failed deliveries in the last %s jobs\n",
		    LISTING_RECENT_JOBS);
		table_free(t);
		return;
	}
	printf("last failures:\n");
	table_print(t);
}
