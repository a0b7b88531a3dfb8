/* SPDX-License-Identifier: MIT */
/*
 * admind's transactions with effects: what a change makes happen outside
 * the database (an OTA command to hwd, a journal line, a live event) is
 * deferred with tx_defer() and runs only once the transaction that stored
 * the change has committed; a rollback drops it.  Transactions nest: only
 * the outermost commits, and one failed write dooms the whole of it, so
 * nothing is ever acted on that was not stored.
 */
#include <stdlib.h>

#include "admind.h"
#include "log.h"

struct tx_effect {
	void	(*fn)(void *arg, int committed);
	void	*arg;
};

static unsigned		 tx_depth;
static uint64_t		 tx_serial;
static int		 tx_doomed;
static struct tx_effect	*tx_effects;
static size_t		 tx_neffects, tx_cap;

/* Runs (committed) or drops the deferred effects, in order. */
static void
tx_settle(int committed)
{
	struct tx_effect *e = tx_effects;
	size_t		 n = tx_neffects;

	tx_effects = NULL;
	tx_neffects = tx_cap = 0;
	for (size_t i = 0; i < n; i++)
		e[i].fn(e[i].arg, committed);
	free(e);
}

int
tx_begin(void)
{
	if (tx_depth > 0) {
		tx_depth++;
		return tx_doomed ? -1 : 0;
	}
	if (store_begin(env->store) == -1)
		return -1;
	tx_depth = 1;
	tx_serial++;
	tx_doomed = 0;
	return 0;
}

void
tx_fail(void)
{
	tx_doomed = 1;
}

int
tx_ok(void)
{
	return tx_depth > 0 && !tx_doomed;
}

uint64_t
tx_number(void)
{
	return tx_depth > 0 ? tx_serial : 0;
}

int
tx_outermost(void)
{
	return tx_depth == 1;
}

int
tx_commit(void)
{
	if (tx_depth == 0)
		return -1;
	if (--tx_depth > 0)
		return tx_doomed ? -1 : 0;
	if (tx_doomed || store_commit(env->store) == -1) {
		if (!tx_doomed)
			log_warnx("a transaction could not be committed; "
			    "nothing of it is acted on");
		store_rollback(env->store);
		tx_settle(0);
		return -1;
	}
	tx_settle(1);
	return 0;
}

void
tx_rollback(void)
{
	tx_doomed = 1;
	if (tx_commit() == 0)
		log_warnx("tx: a rolled back transaction committed");
}

int
tx_defer(void (*fn)(void *, int), void *arg)
{
	struct tx_effect *p;

	if (tx_depth == 0) {		/* nothing pending: at once */
		fn(arg, 1);
		return 0;
	}
	if (tx_neffects == tx_cap) {
		size_t cap = tx_cap ? tx_cap * 2 : 64;

		if ((p = reallocarray(tx_effects, cap, sizeof(*p))) == NULL) {
			log_warnx("out of memory: a transaction is abandoned");
			fn(arg, 0);
			tx_doomed = 1;
			return -1;
		}
		tx_effects = p;
		tx_cap = cap;
	}
	tx_effects[tx_neffects].fn = fn;
	tx_effects[tx_neffects++].arg = arg;
	return 0;
}
