/* SPDX-License-Identifier: MIT */
/*
 * admind's in-memory view of which devices are online, as hwd reports
 * them: a hash table by device id with the number of hwd connections each
 * device has.  Rebuilt from hwd's list whenever hwd (re)connects.
 */
#include <stdlib.h>
#include <string.h>

#include "admind.h"

static size_t
online_bucket(int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (env->online_buckets - 1);
}

struct online *
online_get(int64_t device_id)
{
	struct online *o;

	for (o = env->online[online_bucket(device_id)]; o; o = o->next)
		if (o->device_id == device_id)
			return o;
	return NULL;
}

static void
online_rehash(void)
{
	struct online	**old = env->online, *o, *next, **nb;
	size_t		 oldn = env->online_buckets;

	if ((nb = calloc(oldn * 2, sizeof(*nb))) == NULL)
		return;
	env->online = nb;
	env->online_buckets = oldn * 2;
	for (size_t i = 0; i < oldn; i++) {
		for (o = old[i]; o; o = next) {
			next = o->next;
			o->next = nb[online_bucket(o->device_id)];
			nb[online_bucket(o->device_id)] = o;
		}
	}
	free(old);
}

/* A connection of the device logged in; returns its entry, new or not. */
struct online *
online_add(int64_t device_id, const char *remote)
{
	struct online	*o;
	size_t		 b;

	if ((o = online_get(device_id)) == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL)
			return NULL;
		o->device_id = device_id;
		if (env->nonline >= env->online_buckets)
			online_rehash();
		b = online_bucket(device_id);
		o->next = env->online[b];
		env->online[b] = o;
		env->nonline++;
	}
	o->conns++;
	snprintf(o->remote, sizeof(o->remote), "%s", remote);
	return o;
}

static void
online_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void
online_free(struct online *o)
{
	if (o->info_wait)
		uv_close((uv_handle_t *)o->info_wait, online_timer_closed);
	free(o);
}

/* A connection went away; returns 1 when it was the device's last. */
int
online_remove(int64_t device_id)
{
	struct online	**pp, *o;

	for (pp = &env->online[online_bucket(device_id)]; (o = *pp);
	    pp = &o->next) {
		if (o->device_id != device_id)
			continue;
		if (--o->conns > 0)
			return 0;
		*pp = o->next;
		online_free(o);
		env->nonline--;
		return 1;
	}
	return 0;
}

void
online_clear(void)
{
	struct online *o, *next;

	for (size_t i = 0; i < env->online_buckets; i++) {
		for (o = env->online[i]; o; o = next) {
			next = o->next;
			online_free(o);
		}
		env->online[i] = NULL;
	}
	env->nonline = 0;
}

static int
online_id_cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The ids of the devices online now, ascending (a job's slots go to its
 * devices in id order, as when the job listed them); *ids is freed by
 * the caller.  -1 out of memory. */
int
online_ids(int64_t **ids, size_t *n)
{
	struct online	*o;
	size_t		 k = 0;

	*n = 0;
	if ((*ids = calloc(env->nonline ? env->nonline : 1,
	    sizeof(**ids))) == NULL)
		return -1;
	for (size_t i = 0; i < env->online_buckets; i++)
		for (o = env->online[i]; o && k < env->nonline; o = o->next)
			(*ids)[k++] = o->device_id;
	qsort(*ids, k, sizeof(**ids), online_id_cmp);
	*n = k;
	return 0;
}
