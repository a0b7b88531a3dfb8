/* SPDX-License-Identifier: MIT */
/*
 * API tokens in admind's SQLite store (see store.h): the tokens scripts
 * send as "Authorization: Bearer", kept only as their SHA-256, with when
 * each was last used (written at most once a minute).  Part of the store
 * that admind links.
 */
#include <stdlib.h>
#include <string.h>


#include "store_int.h"

#define TOKEN_COLS	"id, name, created_at, created_by, last_used_at"

static const struct store_query q_token_create = { .slot = Q_TOKEN_CREATE,
    .name = "API token create",
    .sql = "INSERT INTO api_tokens (name, token_sha256, created_by,"
	" created_at) VALUES (?, ?, ?, ?) RETURNING id",
    .unique_ok = 1 };
static const struct store_query q_token_list = { .slot = Q_TOKEN_LIST,
    .name = "API token list",
    .sql = "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id" };
static const struct store_query q_token_get = { .slot = Q_TOKEN_GET,
    .name = "API token get",
    .sql = "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?" };
static const struct store_query q_token_by_hash = { .slot = Q_TOKEN_BY_HASH,
    .name = "API token by hash",
    .sql = "SELECT " TOKEN_COLS " FROM api_tokens WHERE token_sha256 = ?" };
static const struct store_query q_token_delete = { .slot = Q_TOKEN_DELETE,
    .name = "API token delete",
    .sql = "DELETE FROM api_tokens WHERE id = ?" };
static const struct store_query q_token_used = { .slot = Q_TOKEN_USED,
    .name = "API token used",
    .sql = "UPDATE api_tokens SET last_used_at = ?2"
	" WHERE id = ?1 AND last_used_at < ?2 - 60" };

static int	 api_token_read(const struct store_cur *, void *);
static void	 api_token_free_row(void *);

static const struct store_row api_token_row =
    { sizeof(struct api_token), api_token_read, api_token_free_row };

/* -2 when the hash exists already. */
int
store_api_token_create(struct store *st, const char *name,
    const char *token_sha256, const char *created_by, int64_t *id)
{
	int	 rv;

	rv = store_one(st, &q_token_create, &store_id_row, id, "sssI", name,
	    token_sha256, created_by, store_now());
	return rv == 1 ? 0 : rv == 0 ? -1 : rv;
}

int
store_api_token_list(struct store *st, struct api_token **out, size_t *n)
{
	return store_list(st, &q_token_list, &api_token_row, out, n, "");
}

int
store_api_token_get(struct store *st, int64_t id, struct api_token *t)
{
	return store_one(st, &q_token_get, &api_token_row, t, "I", id);
}

int
store_api_token_by_hash(struct store *st, const char *token_sha256,
    struct api_token *t)
{
	return store_one(st, &q_token_by_hash, &api_token_row, t, "s",
	    token_sha256);
}

/* 1 deleted, 0 no such token, -1. */
int
store_api_token_delete(struct store *st, int64_t id)
{
	if (store_run(st, &q_token_delete, "I", id) == -1)
		return -1;
	return store_changes(st) > 0;
}

/* Records a use, at most one write a minute per token. */
int
store_api_token_used(struct store *st, int64_t id)
{
	return store_run(st, &q_token_used, "II", id, store_now());
}

void
api_token_free(struct api_token *t)
{
	free(t->name);
	free(t->created_by);
	memset(t, 0, sizeof(*t));
}

void
api_token_list_free(struct api_token *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		api_token_free(&t[i]);
	free(t);
}

static int
api_token_read(const struct store_cur *s, void *p)
{
	struct api_token	*t = p;
	int			 fail = 0;

	t->id = store_col_int64(s, 0);
	t->name = store_col_text(s, 1, &fail);
	t->created_at = store_col_int64(s, 2);
	t->created_by = store_col_text(s, 3, &fail);
	t->last_used_at = store_col_int64(s, 4);
	if (fail) {
		api_token_free(t);
		return store_nomem();
	}
	return 0;
}

static void
api_token_free_row(void *p)
{
	api_token_free(p);
}
