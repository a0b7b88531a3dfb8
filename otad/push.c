/* SPDX-License-Identifier: MIT */
/*
 * `otad push FILE TARGET [options]`: uploads an image to admind (POST
 * /admin/firmware, with a progress bar), says what otad read from it,
 * creates the job (POST /admin/jobs) for one or more devices, a tag or
 * all devices, says how many devices it reaches, and with --watch follows
 * it to its end (watch.c).  Exit 0: done (with --watch: every delivery
 * succeeded or was current already), 1: a delivery did not, 2: not done.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "otad.h"

#define PUSH_MAX_TARGETS	10000

struct push {
	struct buf	 devices;	/* "1,2,3" */
	struct buf	 tokens;	/* "\"t1\",\"t2\"" */
	const char	*tag;
	int		 all;
	int		 force;
	int		 watch;
	int		 max_parallel;	/* 0: the server's default */
	int		 attempts;
	int		 threshold;	/* -1: the server's default */
	int		 ntargets;
};

enum {
	PUSH_OPT_TOKEN = 0x200, PUSH_OPT_DEVICE, PUSH_OPT_TAG, PUSH_OPT_ALL,
	PUSH_OPT_PARALLEL, PUSH_OPT_ATTEMPTS, PUSH_OPT_THRESHOLD,
	PUSH_OPT_FORCE, PUSH_OPT_WATCH,
};

static const struct option push_options[] = {
	CLIENT_LONGOPTS,
	{ "token",		required_argument, NULL, PUSH_OPT_TOKEN },
	{ "device",		required_argument, NULL, PUSH_OPT_DEVICE },
	{ "tag",		required_argument, NULL, PUSH_OPT_TAG },
	{ "all",		no_argument,	   NULL, PUSH_OPT_ALL },
	{ "max-parallel",	required_argument, NULL, PUSH_OPT_PARALLEL },
	{ "attempts",		required_argument, NULL, PUSH_OPT_ATTEMPTS },
	{ "failure-threshold",	required_argument, NULL, PUSH_OPT_THRESHOLD },
	{ "force",		no_argument,	   NULL, PUSH_OPT_FORCE },
	{ "watch",		no_argument,	   NULL, PUSH_OPT_WATCH },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL,			0,		   NULL, 0 }
};

static int	 push_option(void *, int, const char *);
static int	 push_number(const char *, const char *, int, int, int *);
static int	 push_devices(struct push *, const char *);
static void	 push_tag_check(struct client *, const char *);
static void	 push_firmware_said(const struct json_value *);
static char	*push_job_body(const struct push *, const char *firmware_id);
static void	 push_job_said(const struct push *, const struct json_value *);

int
otad_push(int argc, char **argv)
{
	struct push	 p = { BUF_INIT, BUF_INIT, NULL, 0, 0, 0, 0, 0, -1, 0 };
	struct client	*c;
	struct json_value *fw, *job;
	struct buf	 fw_raw = BUF_INIT, job_raw = BUF_INIT;
	const struct json_value *id;
	const char	*file;
	char		*body;
	long		 status;
	int		 rc = OTAD_EXIT_OK;

	c = client_args(argc, argv, "h", push_options, push_option, &p);
	if (argc - optind != 1)
		otad_usage(OTAD_EXIT_USAGE);
	file = argv[optind];
	if (p.ntargets != 1) {
		fprintf(stderr, "otad: say which devices get %s with one of "
		    "--device ID, --token T, --tag NAME or --all\n", file);
		exit(OTAD_EXIT_USAGE);
	}
	if (p.tag != NULL)
		push_tag_check(c, p.tag);
	status = client_upload(c, p.force ? "/admin/firmware?force=true" :
	    "/admin/firmware", file, &fw_raw);
	if (status != 200 && status != 201)
		client_refused(c, status, &fw_raw);
	if ((fw = json_parse(buf_cstr(&fw_raw), fw_raw.len, NULL, 0)) == NULL ||
	    (id = json_get(fw, "id")) == NULL || id->kind != JSON_NUMBER) {
		fprintf(stderr, "otad: the upload's answer is not what otad-admind "
		    "sends; is --url the admin API of otad?\n");
		exit(OTAD_EXIT_USAGE);
	}
	if (!client_conf(c)->json)
		push_firmware_said(fw);
	body = push_job_body(&p, id->str);
	job = client_json(c, "POST", "/admin/jobs", body, &job_raw);
	if (client_conf(c)->json)
		printf("{\"firmware\":%s,\"job\":%s}\n", buf_cstr(&fw_raw),
		    buf_cstr(&job_raw));
	else
		push_job_said(&p, job);
	fflush(stdout);
	if (p.watch && (id = json_get(job, "id")) != NULL)
		rc = watch_job(c, (int64_t)id->num);
	free(body);
	json_free(fw);
	json_free(job);
	buf_free(&fw_raw);
	buf_free(&job_raw);
	buf_free(&p.devices);
	buf_free(&p.tokens);
	client_close(c);
	return rc;
}

static int
push_option(void *arg, int ch, const char *value)
{
	struct push	*p = arg;

	switch (ch) {
	case PUSH_OPT_TOKEN:
		if (p->tokens.len == 0)
			p->ntargets++;
		if (p->tokens.len)
			buf_addc(&p->tokens, ',');
		return json_str(&p->tokens, value);
	case PUSH_OPT_DEVICE:
		if (p->devices.len == 0)
			p->ntargets++;
		return push_devices(p, value);
	case PUSH_OPT_TAG:
		p->tag = value;
		p->ntargets++;
		return 0;
	case PUSH_OPT_ALL:
		p->all = 1;
		p->ntargets++;
		return 0;
	case PUSH_OPT_PARALLEL:
		return push_number("--max-parallel", value, 1, 100000,
		    &p->max_parallel);
	case PUSH_OPT_ATTEMPTS:
		return push_number("--attempts", value, 1, 100, &p->attempts);
	case PUSH_OPT_THRESHOLD:
		return push_number("--failure-threshold", value, 0, 100,
		    &p->threshold);
	case PUSH_OPT_FORCE:
		p->force = 1;
		return 0;
	case PUSH_OPT_WATCH:
		p->watch = 1;
		return 0;
	}
	return -1;
}

static int
push_number(const char *name, const char *value, int min, int max, int *out)
{
	uint64_t	 v;

	if (util_parse_u64(value, &v) == -1 || v < (uint64_t)min ||
	    v > (uint64_t)max) {
		fprintf(stderr, "otad: %s %s: give a whole number from %d to "
		    "%d\n", name, value, min, max);
		exit(OTAD_EXIT_USAGE);
	}
	*out = (int)v;
	return 0;
}

/* --device 3 --device 4,5: ids, checked here. */
static int
push_devices(struct push *p, const char *list)
{
	const char	*w;
	char		 id[24];
	size_t		 len;
	int		 n = 0;

	while ((w = util_word(&list, ", ", &len)) != NULL) {
		snprintf(id, sizeof(id), "%.*s", (int)(len < 23 ? len : 23), w);
		(void)client_id_arg("device", id);
		if (++n > PUSH_MAX_TARGETS)
			break;
		buf_printf(&p->devices, "%s%s", p->devices.len ? "," : "", id);
	}
	return 0;
}

/* A tag no device has stops the push before the upload, not after. */
static void
push_tag_check(struct client *c, const char *tag)
{
	struct buf	 path = BUF_INIT;
	struct json_value *devs;
	const struct json_value *total;

	buf_adds(&path, "/admin/devices?limit=1&tag=");
	client_query_add(&path, tag);
	devs = client_json(c, "GET", buf_cstr(&path), NULL, NULL);
	total = json_get(devs, "total");
	if (total == NULL || total->num < 1) {
		fprintf(stderr, "otad: no device has the tag \"%s\"; nothing "
		    "was uploaded. Check the spelling (otad devices lists the "
		    "tags)\n", tag);
		exit(OTAD_EXIT_USAGE);
	}
	json_free(devs);
	buf_free(&path);
}

/* What otad read from the image, as the upload answered. */
static void
push_firmware_said(const struct json_value *fw)
{
	const struct json_value *dup = json_get(fw, "duplicate");
	const char	*keys[] = { "version", "build", "chip", "board",
			    "fw_type" };
	const char	*names[] = { "version", "build", "chip", "board",
			    "fw-type" };
	const char	*v;
	char		 size[16];
	uint64_t	 bytes = 0;

	if (json_get(fw, "size"))
		bytes = (uint64_t)json_get(fw, "size")->num;
	progress_bytes(bytes, size);
	printf("firmware %s: %s, %s", json_get(fw, "id")->str,
	    json_get_str(fw, "filename") ? json_get_str(fw, "filename") : "",
	    json_get_str(fw, "format") ? json_get_str(fw, "format") : "?");
	for (size_t i = 0; i < nitems(keys); i++)
		if ((v = json_get_str(fw, keys[i])) != NULL && *v)
			printf(", %s %s", names[i], v);
	printf(", %s%s\n", size, dup && dup->kind == JSON_TRUE ?
	    " (stored already: the same image was uploaded before)" : "");
	if ((v = json_get_str(fw, "sha256")) != NULL)
		printf("  sha256 %s\n", v);
	if ((v = json_get_str(fw, "md5")) != NULL)
		printf("  md5    %s\n", v);
}

static char *
push_job_body(const struct push *p, const char *firmware_id)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	buf_printf(&b, "{\"firmware_id\":%s", firmware_id);
	if (p->devices.len)
		buf_printf(&b, ",\"devices\":[%s]", buf_cstr((struct buf *)
		    &p->devices));
	else if (p->tokens.len)
		buf_printf(&b, ",\"tokens\":[%s]", buf_cstr((struct buf *)
		    &p->tokens));
	else if (p->tag) {
		buf_adds(&b, ",\"tag\":");
		json_str(&b, p->tag);
	} else
		buf_adds(&b, ",\"all\":true");
	if (p->force)
		buf_adds(&b, ",\"force\":true");
	if (p->max_parallel)
		buf_printf(&b, ",\"max_parallel\":%d", p->max_parallel);
	if (p->attempts)
		buf_printf(&b, ",\"attempt_limit\":%d", p->attempts);
	if (p->threshold >= 0)
		buf_printf(&b, ",\"failure_threshold\":%d", p->threshold);
	buf_addc(&b, '}');
	if ((s = strdup(buf_cstr(&b))) == NULL)
		exit(OTAD_EXIT_USAGE);
	buf_free(&b);
	return s;
}

/* "job 4: 12 devices, at most 100 at a time, 3 attempts each". */
static void
push_job_said(const struct push *p, const struct json_value *job)
{
	const struct json_value *n = json_get(job, "deliveries");
	const struct json_value *mp = json_get(job, "max_parallel");
	const struct json_value *al = json_get(job, "attempt_limit");
	const struct json_value *ft = json_get(job, "failure_threshold");
	int		 count = n ? (int)n->num : 0;

	printf("job %s created: it reaches %d device%s", json_get(job,
	    "id")->str, count, count == 1 ? "" : "s");
	if (p->tag)
		printf(" with the tag \"%s\"", p->tag);
	printf(", at most %s at a time, %s attempt%s each",
	    mp ? mp->str : "?", al ? al->str : "?",
	    al && al->num == 1 ? "" : "s");
	if (ft && ft->num > 0)
		printf(", pausing when over %s %% fail", ft->str);
	printf(".\n");
	if (p->all)
		printf("Devices added later get it too, until the job is "
		    "stopped (otad stop %s).\n", json_get(job, "id")->str);
	if (!p->watch)
		printf("Each device gets it when it is online; follow it with "
		    "otad watch %s\n", json_get(job, "id")->str);
}
