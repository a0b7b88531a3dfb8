/* SPDX-License-Identifier: MIT */
/*
 * admind's deliveries in flight (sent or downloading): how many each job
 * has, for the scheduler's max_parallel pacing, and since when each one
 * last moved, for sent_timeout.  Every stored transition moves both at
 * once (delivery.c), so that pacing holds within a batch; after a
 * rollback the counts are forgotten and counted again from the database.
 * The lowest layer of admind's delivery core: it calls only the store
 * and pure functions (lifecycle.c, sched_policy.c).
 */
#include <stdlib.h>

#include "admind.h"
#include "sched_policy.h"
#include "util.h"

/*
 * How many of a job's deliveries are in flight, kept in memory and moved
 * by every transition, so that pacing costs O(1) per decision.  Counted
 * from the database the first time a job is asked.
 */
struct flight_job {
	struct flight_job	*next;
	int64_t			 job_id;
	int			 counted;	/* busy is known */
	uint64_t		 counted_tx;	/* in this transaction */
	int64_t			 busy;
};

static struct flight_job *flight_jobs;

/*
 * When each delivery in flight last moved, on the monotonic clock:
 * sent_timeout is measured with it, so a wall-clock jump neither expires
 * nor freezes deliveries.  After a restart every delivery in flight gets
 * a full timeout again.
 */
#define FLIGHT_BUCKETS	4096

struct flight {
	struct flight	*next;
	int64_t		 delivery_id;
	uint64_t	 since;		/* uv_now() */
};

static struct flight *flights[FLIGHT_BUCKETS];

/* The job's deliveries in flight, one state at a time: each is a range
 * of an index, whatever the job's size. */
static int
flight_count(int64_t job_id, int64_t *busy)
{
	int64_t	 n;

	*busy = 0;
	for (int s = 0; s < DELIVERY_NSTATES; s++) {
		if (!delivery_state_in_flight((enum delivery_state)s))
			continue;
		if (store_job_count_state(env->store, job_id,
		    (enum delivery_state)s, &n) == -1)
			return -1;
		*busy += n;
	}
	return 0;
}

/* The job's entry, created on first use; counted when busy is unknown. */
static struct flight_job *
flight_job_get(int64_t job_id)
{
	struct flight_job *j;

	for (j = flight_jobs; j; j = j->next)
		if (j->job_id == job_id)
			break;
	if (j == NULL) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			return NULL;
		j->job_id = job_id;
		j->next = flight_jobs;
		flight_jobs = j;
	}
	/* other nodes sharing the database move its deliveries too: they
	 * are counted once a transaction, the job's row locked until it
	 * ends, and followed by flight_moved within it */
	if (!j->counted || (store_shared(env->store) &&
	    (tx_number() == 0 || j->counted_tx != tx_number()))) {
		if ((store_shared(env->store) &&
		    store_job_lock(env->store, job_id) == -1) ||
		    flight_count(job_id, &j->busy) == -1) {
			j->counted = 0;
			return NULL;
		}
		j->counted = 1;
		j->counted_tx = tx_number();
	}
	return j;
}

int
flight_busy(int64_t job_id, int64_t *busy)
{
	struct flight_job *j = flight_job_get(job_id);

	if (j == NULL)
		return -1;
	*busy = j->busy;
	return 0;
}

void
flight_forget(void)
{
	for (struct flight_job *j = flight_jobs; j; j = j->next)
		j->counted = 0;
}

void
flight_forget_cb(void *arg, int committed)
{
	flight_forget();
}

/* A stored transition (delivery.c): the job's count and the delivery's
 * sent_timeout follow it at once, so that pacing holds within a batch. */
void
flight_moved(const struct delivery *d, enum delivery_state to)
{
	for (struct flight_job *j = flight_jobs; j; j = j->next)
		if (j->job_id == d->job_id && j->counted)
			j->busy += delivery_state_in_flight(to) -
			    delivery_state_in_flight(d->state);
	if (delivery_state_in_flight(to))
		flight_touch(d->id);
	else
		flight_drop(d->id);
}

static struct flight **
flight_slot(int64_t delivery_id)
{
	struct flight **pp;

	pp = &flights[(uint64_t)delivery_id % FLIGHT_BUCKETS];
	while (*pp != NULL && (*pp)->delivery_id != delivery_id)
		pp = &(*pp)->next;
	return pp;
}

void
flight_touch(int64_t delivery_id)
{
	struct flight **pp = flight_slot(delivery_id);

	if (*pp == NULL) {
		if ((*pp = calloc(1, sizeof(**pp))) == NULL)
			return;
		(*pp)->delivery_id = delivery_id;
	}
	(*pp)->since = uv_now(env->loop);
}

void
flight_drop(int64_t delivery_id)
{
	struct flight **pp = flight_slot(delivery_id), *f;

	if ((f = *pp) != NULL) {
		*pp = f->next;
		free(f);
	}
}

/* The deliveries that did not move for timeout seconds go to expire(),
 * which may touch or drop them: they are gathered first. */
void
flight_expired(uint64_t now, unsigned timeout, void (*expire)(int64_t))
{
	int64_t	*due = NULL, *p;
	size_t	 n = 0, cap = 0;

	for (size_t b = 0; b < FLIGHT_BUCKETS; b++) {
		for (struct flight *f = flights[b]; f; f = f->next) {
			if (!sched_policy_expired(now, f->since, timeout))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((p = reallocarray(due, cap, sizeof(*p))) ==
				    NULL)
					break;
				due = p;
			}
			due[n++] = f->delivery_id;
		}
	}
	for (size_t i = 0; i < n; i++)
		expire(due[i]);
	free(due);
}

/* Deliveries in flight when admind starts get a full timeout from now;
 * those it watches already keep theirs (a node that runs the cluster's
 * chores adopts the deliveries of a node that died). */
void
flight_load(void)
{
	static const enum delivery_state states[] = { DELIVERY_SENT,
	    DELIVERY_DOWNLOADING };
	struct delivery	*ds;
	size_t		 n;

	for (size_t s = 0; s < nitems(states); s++) {
		if (store_deliveries_stale(env->store, states[s], INT64_MAX,
		    &ds, &n) == -1)
			continue;
		for (size_t i = 0; i < n; i++)
			if (*flight_slot(ds[i].id) == NULL)
				flight_touch(ds[i].id);
		delivery_list_free(ds, n);
	}
}
