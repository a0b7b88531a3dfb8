/* SPDX-License-Identifier: MIT */
/*
 * The wait for a device's hardware info after its login: the device is
 * decided without it after ADMIND_INFO_WAIT_MS.  Every wait is as long,
 * so one timer and a queue in login order serve every device (a timer
 * each cost 150 bytes per online device); an entry whose device logged
 * in again, told its info or went away is passed over by its due time.
 */
#include <stdlib.h>

#include "admind.h"

struct infowait_entry {
	int64_t		 device_id;
	uint64_t	 due;		/* ms of the loop's clock */
};

static struct {
	struct infowait_entry *q;	/* a ring, oldest at head */
	size_t		 head, len, cap;
	uv_timer_t	 timer;
	void		(*expired)(int64_t device_id);
} iw;

static void	infowait_fire(uv_timer_t *);

void
infowait_init(void (*expired)(int64_t device_id))
{
	iw.expired = expired;
	uv_timer_init(env->loop, &iw.timer);
	uv_unref((uv_handle_t *)&iw.timer);
}

static int
infowait_grow(void)
{
	size_t		 cap = iw.cap ? iw.cap * 2 : 1024;
	struct infowait_entry *q;

	if ((q = calloc(cap, sizeof(*q))) == NULL)
		return -1;
	for (size_t i = 0; i < iw.len; i++)
		q[i] = iw.q[(iw.head + i) % iw.cap];
	free(iw.q);
	iw.q = q;
	iw.cap = cap;
	iw.head = 0;
	return 0;
}

/* The timer for the oldest entry. */
static void
infowait_arm(void)
{
	uint64_t	 now = uv_now(env->loop), due;

	if (iw.len == 0)
		return;
	due = iw.q[iw.head].due;
	uv_timer_start(&iw.timer, infowait_fire, due > now ? due - now : 0, 0);
}

/* The device logged in: decided at the latest ADMIND_INFO_WAIT_MS from
 * now.  -1 when out of memory (it is then decided at its info). */
int
infowait_start(struct online *o)
{
	if (iw.len == iw.cap && infowait_grow() == -1)
		return -1;
	o->info_due = uv_now(env->loop) + ADMIND_INFO_WAIT_MS;
	iw.q[(iw.head + iw.len++) % iw.cap] =
	    (struct infowait_entry){ o->device_id, o->info_due };
	if (iw.len == 1)
		infowait_arm();
	return 0;
}

/* Its info came (or it is decided otherwise): no wait any more. */
void
infowait_stop(struct online *o)
{
	o->info_due = 0;
}

static void
infowait_fire(uv_timer_t *t)
{
	uint64_t	 now = uv_now(env->loop);
	struct infowait_entry e;
	struct online	*o;

	while (iw.len > 0 && iw.q[iw.head].due <= now) {
		e = iw.q[iw.head];
		iw.head = (iw.head + 1) % iw.cap;
		iw.len--;
		if ((o = online_get(e.device_id)) == NULL || o->info_due != e.due)
			continue;
		o->info_due = 0;
		iw.expired(e.device_id);
	}
	if (iw.len == 0 && iw.cap > 1024) {	/* a login burst is over */
		free(iw.q);
		iw.q = NULL;
		iw.cap = iw.head = 0;
	}
	infowait_arm();
}
