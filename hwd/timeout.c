/* SPDX-License-Identifier: MIT */
/*
 * Login, idle and closing timeouts of otad-hwd's device connections: one
 * timer wheel of one-second slots driven by a single libuv timer, instead
 * of a timer per connection.  A frame only stamps the connection; the wheel
 * checks the real deadline when the slot comes round and files the
 * connection again if it is not due yet.
 */
#include <sys/queue.h>
#include <stdint.h>

#include <uv.h>

#include "hwd.h"

#define HWD_WHEEL_SLOTS		64
#define HWD_WHEEL_TICK_MS	1000

static LIST_HEAD(hwd_wheel_slot, hwd_conn) hwd_wheel[HWD_WHEEL_SLOTS];
static uv_timer_t	 hwd_wheel_timer;
static uint32_t		 hwd_wheel_done;	/* last second processed */
static uint64_t		 hwd_wheel_epoch;	/* uv_now() at start */

static void	hwd_timeout_tick(uv_timer_t *);
static void	hwd_timeout_run_slot(unsigned, uint32_t);
static void	hwd_timeout_file(struct hwd_conn *, uint32_t);
static uint32_t	hwd_timeout_due(struct hwd_conn *);

void
hwd_timeout_start(void)
{
	for (unsigned i = 0; i < HWD_WHEEL_SLOTS; i++)
		LIST_INIT(&hwd_wheel[i]);
	hwd_wheel_epoch = uv_now(hwd_env.loop);
	hwd_wheel_done = 0;
	uv_timer_init(hwd_env.loop, &hwd_wheel_timer);
	uv_timer_start(&hwd_wheel_timer, hwd_timeout_tick, HWD_WHEEL_TICK_MS,
	    HWD_WHEEL_TICK_MS);
	/* The listeners keep the loop alive, not the wheel. */
	uv_unref((uv_handle_t *)&hwd_wheel_timer);
}

void
hwd_timeout_stop(void)
{
	if (!uv_is_closing((uv_handle_t *)&hwd_wheel_timer))
		uv_close((uv_handle_t *)&hwd_wheel_timer, NULL);
}

/* Seconds since start on the loop's clock. */
uint32_t
hwd_timeout_now(void)
{
	return (uint32_t)((uv_now(hwd_env.loop) - hwd_wheel_epoch) / 1000);
}

/*
 * The second whose tick may close c.  Stamps are whole seconds, so the
 * deadline second itself may be up to a second early: wait one more, and
 * a timeout is never cut short (it may run up to two seconds long).
 */
static uint32_t
hwd_timeout_due(struct hwd_conn *c)
{
	return hwd_conn_deadline(c) + 1;
}

/* Files c by its current deadline, moving it if it was filed already. */
void
hwd_timeout_add(struct hwd_conn *c)
{
	hwd_timeout_remove(c);
	hwd_timeout_file(c, hwd_timeout_due(c));
}

void
hwd_timeout_remove(struct hwd_conn *c)
{
	if (!c->in_wheel)
		return;
	LIST_REMOVE(c, wheel_entry);
	c->in_wheel = 0;
}

static void
hwd_timeout_file(struct hwd_conn *c, uint32_t deadline)
{
	/* Already due: the next tick sees it. */
	if (deadline <= hwd_wheel_done)
		deadline = hwd_wheel_done + 1;
	LIST_INSERT_HEAD(&hwd_wheel[deadline % HWD_WHEEL_SLOTS], c,
	    wheel_entry);
	c->in_wheel = 1;
}

static void
hwd_timeout_tick(uv_timer_t *t)
{
	uint32_t	 now = hwd_timeout_now();
	unsigned	 n = 0;

	/* Catch up on seconds a busy loop skipped, one turn at most. */
	while (hwd_wheel_done < now && n++ < HWD_WHEEL_SLOTS) {
		hwd_wheel_done++;
		hwd_timeout_run_slot(hwd_wheel_done % HWD_WHEEL_SLOTS, now);
	}
	if (hwd_wheel_done < now)
		hwd_wheel_done = now;
}

static void
hwd_timeout_run_slot(unsigned slot, uint32_t now)
{
	struct hwd_wheel_slot	 due = LIST_HEAD_INITIALIZER(due);
	struct hwd_conn		*c;
	uint32_t		 deadline;

	/* Move the slot aside: connections filed again may land in it. */
	while ((c = LIST_FIRST(&hwd_wheel[slot])) != NULL) {
		LIST_REMOVE(c, wheel_entry);
		LIST_INSERT_HEAD(&due, c, wheel_entry);
	}
	while ((c = LIST_FIRST(&due)) != NULL) {
		LIST_REMOVE(c, wheel_entry);
		c->in_wheel = 0;
		deadline = hwd_timeout_due(c);
		if (deadline <= now)
			hwd_conn_expire(c);
		else
			hwd_timeout_file(c, deadline);
	}
}
