/* SPDX-License-Identifier: MIT */
/*
 * admind's bulk device import, POST /admin/devices/import: devices from a
 * JSON list or from CSV, each row checked like a single create
 * (api_devices.c), in one transaction: every row is created or none, and
 * the answer names the first row refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define IMPORT_MAX_ROWS		10000
#define CSV_MAX_FIELDS		8

/* Puts what (a row of an import) before the fault's sentence. */
static int
fault_row(struct api_fault *f, const char *what, size_t row,
    const char *name)
{
	struct buf	 b = BUF_INIT;

	buf_printf(&b, "%s %zu", what, row);
	if (name != NULL && *name)
		buf_printf(&b, " (\"%s\")", name);
	buf_printf(&b, ": %s Nothing was imported.", f->msg);
	snprintf(f->msg, sizeof(f->msg), "%s", buf_cstr(&b));
	buf_free(&b);
	return -1;
}

/*
 * Bulk import.  JSON: [{"name":..,"token":..,"tags":..}, ...] or
 * {"devices": [...]}.  CSV (Content-Type: text/csv): a header line naming
 * the columns name, token, tags (any order; token and tags optional),
 * then one device a line; quote fields holding commas.  One transaction:
 * every row is created or none.
 */
struct import {
	struct buf	 out;		/* the created devices' JSON */
	int64_t		*ids;
	size_t		 n, cap;
	struct api_fault fault;
};

static int
import_row(struct import *im, struct device_input *in, const char *what,
    size_t row)
{
	struct device	 dev;
	int64_t		*p;

	if (im->n == IMPORT_MAX_ROWS)
		return api_fault(&im->fault, 413, "import.too_many",
		    "An import holds at most %d devices; split the file.",
		    IMPORT_MAX_ROWS);
	if (api_device_create(in, &dev, &im->fault) == -1)
		goto rowfail;
	if (im->n == im->cap) {
		im->cap = im->cap ? im->cap * 2 : 64;
		if ((p = reallocarray(im->ids, im->cap, sizeof(*p))) == NULL) {
			log_warn("device import: reallocarray");
			device_free(&dev);
			return api_fault_internal(&im->fault, "Out of memory");
		}
		im->ids = p;
	}
	im->ids[im->n++] = dev.id;
	if (im->n > 1)
		buf_addc(&im->out, ',');
	api_device_json_token(&im->out, &dev, in->token);
	device_free(&dev);
	return 0;
rowfail:
	return fault_row(&im->fault, what, row, in->name);
}

static int
import_json(struct import *im, const struct json_value *v)
{
	const struct json_value *list = v;
	struct device_input in;

	if (v->kind == JSON_OBJECT)
		list = json_get(v, "devices");
	if (list == NULL || list->kind != JSON_ARRAY)
		return api_fault(&im->fault, 400, "import.bad_format", "Send a "
		    "JSON list of devices, [{\"name\": \"kitchen\", \"token\": "
		    "\"...\", \"tags\": [\"floor-1\"]}], or CSV with "
		    "-H 'Content-Type: text/csv'.");
	for (size_t i = 0; i < list->n; i++) {
		if (api_device_input_json(&in, &list->items[i],
		    ",name,token,tags,", &im->fault) == -1)
			return fault_row(&im->fault, "Device", i + 1,
			    NULL);
		if (import_row(im, &in, "Device", i + 1) == -1)
			return -1;
	}
	return 0;
}

/* One CSV record from *pp: the fields NUL-terminated in b at off[].
 * 1 read, 0 at the end, -1 malformed. */
static int
csv_record(const char **pp, const char *end, struct buf *b, size_t *off,
    size_t *nf)
{
	const char	*p = *pp;

	buf_reset(b);
	*nf = 0;
	if (p >= end)
		return 0;
	for (;;) {
		if (*nf == CSV_MAX_FIELDS)
			return -1;
		off[(*nf)++] = b->len;
		if (p < end && *p == '"') {
			for (p++;; p++) {
				if (p >= end)
					return -1;
				if (*p == '"' && (p + 1 >= end || p[1] != '"'))
					break;
				if (*p == '"')
					p++;
				buf_addc(b, *p);
			}
			p++;
		} else {
			while (p < end && *p != ',' && *p != '\n' && *p != '\r')
				buf_addc(b, *p++);
		}
		buf_addc(b, '\0');
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p != '\n')
			return -1;
		if (p < end)
			p++;
		break;
	}
	*pp = p;
	return 1;
}

/* The header's column index of name, token and tags (-1: absent). */
static int
csv_columns(struct buf *b, const size_t *off, size_t nf, int col[3],
    struct api_fault *f)
{
	static const char *names[] = { "name", "token", "tags" };
	size_t		 i, k;

	col[0] = col[1] = col[2] = -1;
	for (i = 0; i < nf; i++) {
		for (k = 0; k < nitems(names); k++)
			if (strcasecmp(b->data + off[i], names[k]) == 0)
				break;
		if (k == nitems(names))
			return api_fault(f, 400, "import.bad_format", "The CSV "
			    "header names a column \"%s\"; the columns are "
			    "name, token and tags, e.g. \"name,token,tags\".",
			    b->data + off[i]);
		col[k] = (int)i;
	}
	if (col[0] == -1)
		return api_fault(f, 400, "import.bad_format",
		    "The first CSV line must name the columns, with at least "
		    "\"name\": e.g. "
		    "\"name,token,tags\".");
	return 0;
}

static int
csv_row(struct import *im, struct buf *b, const size_t *off, size_t nf,
    const int col[3], size_t line)
{
	struct device_input in;
	const char	*field[3];

	for (int k = 0; k < 3; k++)
		field[k] = col[k] >= 0 && (size_t)col[k] < nf ?
		    b->data + off[col[k]] : "";
	memset(&in, 0, sizeof(in));
	if (api_device_input_name(&in, field[0], &im->fault) == -1 ||
	    (*field[1] && api_device_input_token(&in, field[1],
	    &im->fault) == -1) ||
	    api_device_tags(field[2], in.tags, &im->fault) == -1)
		return fault_row(&im->fault, "CSV line", line, NULL);
	if (import_row(im, &in, "CSV line", line) == -1)
		return -1;
	return 0;
}

static int
import_csv(struct import *im, const char *p, size_t len)
{
	const char	*end = p + len;
	struct buf	 b = BUF_INIT;
	size_t		 off[CSV_MAX_FIELDS], nf, line = 0;
	int		 col[3], rc, header = 1;

	while ((rc = csv_record(&p, end, &b, off, &nf)) == 1) {
		line++;
		if (nf == 1 && b.data[off[0]] == '\0')
			continue;	/* a blank line */
		if (header) {
			if ((rc = csv_columns(&b, off, nf, col,
			    &im->fault)) == -1)
				break;
			header = 0;
			continue;
		}
		if ((rc = csv_row(im, &b, off, nf, col, line)) == -1)
			break;
	}
	buf_free(&b);
	if (rc == -1 && im->fault.code == NULL)
		api_fault(&im->fault, 400, "import.bad_format",
		    "CSV line %zu is malformed (an unclosed quote, or more "
		    "than %d fields). "
		    "Nothing was imported.", line + 1, CSV_MAX_FIELDS);
	if (rc == 0 && header)
		return api_fault(&im->fault, 400, "import.bad_format",
		    "The CSV is empty: the first line names the columns, e.g. "
		    "\"name,token,tags\", then one device a line.");
	return rc;
}

static int
import_body(struct http_request *req, struct api_req *ar, struct import *im)
{
	const char	*ct = http_header(req, "content-type");
	struct json_value *v;
	char		 err[200];
	int		 rc;

	if (ct != NULL && (strncasecmp(ct, "text/csv", 8) == 0 ||
	    strncasecmp(ct, "application/csv", 15) == 0))
		return import_csv(im, ar->body.data ? ar->body.data : "",
		    ar->body.len);
	if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0)
		return api_fault(&im->fault, 415, "import.content_type",
		    "Import takes application/json or text/csv, not %s.", ct);
	if ((v = json_parse(ar->body.data ? ar->body.data : "", ar->body.len,
	    err, sizeof(err))) == NULL)
		return api_fault(&im->fault, 400, "request.bad_json",
		    "The body is not JSON: %s.", err);
	rc = import_json(im, v);
	json_free(v);
	return rc;
}

void
api_import(struct http_conn *c, struct http_request *req,
    struct api_req *ar)
{
	struct import	 im;
	struct buf	 b = BUF_INIT;
	char		 text[96];
	int		 rc;

	memset(&im, 0, sizeof(im));
	if (store_begin(env->store) == -1) {
		api_internal(c, "The database is not available");
		return;
	}
	rc = import_body(req, ar, &im);
	if (rc == 0 && im.n == 0)
		rc = api_fault(&im.fault, 400, "import.empty",
		    "The import holds no device.");
	/* they join the job for all devices in this transaction: one commit
	 * for the import, not one per device */
	for (size_t i = 0; rc == 0 && i < im.n; i++)
		sched_device_created(im.ids[i]);
	if (rc == -1 || store_commit(env->store) == -1) {
		store_rollback(env->store);
		if (im.fault.code == NULL)
			api_fault_internal(&im.fault, "The import could not "
			    "be saved");
		api_fault_answer(c, &im.fault);
		goto done;
	}
	snprintf(text, sizeof(text), "%zu devices, ids %" PRId64 " to %"
	    PRId64, im.n, im.ids[0], im.ids[im.n - 1]);
	audit("device.imported", ar->user, c->peer_str, 0, 0, text);
	buf_printf(&b, "{\"imported\":%zu,\"devices\":[", im.n);
	buf_add(&b, im.out.data, im.out.len);
	buf_adds(&b, "]}");
	api_json(c, 201, &b);
	buf_free(&b);
done:
	buf_free(&im.out);
	free(im.ids);
}
