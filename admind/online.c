/* SPDX-License-Identifier: MIT */
/*
 * admind's in-memory view of which devices are online, as the hwd workers
 * report them: a hash table by device id with the number of connections
 * each device has and which workers hold them.  A worker's part is
 * rebuilt from its list whenever it (re)connects, and dropped when it goes.
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

/* A connection of the device logged in on hwd worker slot; returns its
 * entry, new or not. */
struct online *
online_add(int64_t device_id, const char *remote, unsigned slot)
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
	if (o->conns < UINT16_MAX)
		o->conns++;
	o->peers |= 1ULL << slot;
	snprintf(o->remote, sizeof(o->remote), "%s", remote);
	return o;
}

/* The entry at *pp lost slot's connections: unlinked and freed when no
 * worker holds one any more (returns 1). */
static int
online_unpeer(struct online **pp, unsigned slot)
{
	struct online	*o = *pp;

	o->peers &= ~(1ULL << slot);
	if (o->peers == 0 || o->conns == 0) {
		*pp = o->next;
		free(o);
		env->nonline--;
		return 1;
	}
	return 0;
}

/*
 * A connection on hwd worker slot went away, left: the device's
 * connections that worker still holds.  Returns 1 when it was the
 * device's last.
 */
int
online_remove(int64_t device_id, unsigned slot, unsigned left)
{
	struct online	**pp, *o;

	for (pp = &env->online[online_bucket(device_id)]; (o = *pp);
	    pp = &o->next) {
		if (o->device_id != device_id)
			continue;
		if (o->conns > 0)
			o->conns--;
		if (left > 0 && o->conns > 0)
			return 0;
		return online_unpeer(pp, slot);
	}
	return 0;
}

/*
 * hwd worker slot is gone or replays its list: its devices are offline
 * unless another worker holds them (their count is then at least one per
 * such worker: how many the gone one had is not known).  Returns how many
 * devices went offline.
 */
size_t
online_clear_peer(unsigned slot)
{
	struct online	**pp, *o;
	size_t		 n = 0;

	for (size_t i = 0; i < env->online_buckets; i++) {
		for (pp = &env->online[i]; (o = *pp) != NULL; ) {
			if ((o->peers & (1ULL << slot)) == 0) {
				pp = &o->next;
				continue;
			}
			o->conns = (uint16_t)__builtin_popcountll(o->peers &
			    ~(1ULL << slot));
			if (online_unpeer(pp, slot))
				n++;
			else
				pp = &o->next;
		}
	}
	return n;
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

/* Whether hwd worker slot holds a connection of the device. */
int
online_held(const struct online *o, unsigned slot)
{
	return o != NULL && (o->peers & (1ULL << slot)) != 0;
}

/* The connected hwd workers that hold a connection of the device (o NULL:
 * none), but the one of slot except (WORKERS_MAX: none), into out (room
 * for WORKERS_MAX); how many. */
unsigned
online_workers(const struct online *o, unsigned except, struct ctl_conn **out)
{
	unsigned	 n = 0;

	for (unsigned i = 0; i < WORKERS_MAX; i++)
		if (i != except && online_held(o, i) && env->hwd[i].conn != NULL)
			out[n++] = env->hwd[i].conn;
	return n;
}
