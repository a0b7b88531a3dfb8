/* SPDX-License-Identifier: MIT */
/*
 * Aligned text tables for the `otad` client commands (status, devices,
 * jobs): rows are collected, then printed with each column as wide as its
 * widest cell.  --json prints the API's answer instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otad.h"

#define TABLE_MAX_CELL	200

struct table {
	int	  ncols;
	size_t	  nrows;
	char	**cells;	/* nrows * ncols, row 0 the heads */
	size_t	 *width;
};

static void
table_oom(void)
{
	fprintf(stderr, "otad: out of memory\n");
	exit(OTAD_EXIT_USAGE);
}

struct table *
table_new(int ncols, const char *const *heads)
{
	struct table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->width = calloc((size_t)ncols, sizeof(*t->width))) == NULL)
		table_oom();
	t->ncols = ncols;
	table_add(t, heads);
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	char	**p;
	size_t	  len;

	p = reallocarray(t->cells, (t->nrows + 1) * (size_t)t->ncols,
	    sizeof(*p));
	if (p == NULL)
		table_oom();
	t->cells = p;
	for (int i = 0; i < t->ncols; i++) {
		if ((len = strlen(cells[i])) > TABLE_MAX_CELL)
			len = TABLE_MAX_CELL;
		if ((p[t->nrows * t->ncols + i] = strndup(cells[i], len)) ==
		    NULL)
			table_oom();
		if (len > t->width[i])
			t->width[i] = len;
	}
	t->nrows++;
}

void
table_print(struct table *t)
{
	const char	*cell;

	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			cell = t->cells[r * t->ncols + i];
			if (i == t->ncols - 1)
				printf("%s\n", cell);
			else
				printf("%-*s  ", (int)t->width[i], cell);
		}
	table_free(t);
}

void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

const char *
table_cell(const struct json_value *obj, const char *key, char *tmp,
    size_t len)
{
	const struct json_value *v = json_get(obj, key);

	if (v == NULL)
		return "";
	if (tmp == NULL || len == 0)	/* strings only */
		return v->kind == JSON_STRING ? v->str : "";
	switch (v->kind) {
	case JSON_STRING:
		return v->str;
	case JSON_NUMBER:
		snprintf(tmp, len, "%s", v->str);
		return tmp;
	case JSON_TRUE:
		return "yes";
	case JSON_FALSE:
		return "no";
	case JSON_ARRAY:
		tmp[0] = '\0';
		for (size_t i = 0; i < v->n; i++)
			if (v->items[i].kind == JSON_STRING)
				snprintf(tmp + strlen(tmp), len - strlen(tmp),
				    "%s%s", i ? "," : "", v->items[i].str);
		return tmp;
	default:
		return "";
	}
}
