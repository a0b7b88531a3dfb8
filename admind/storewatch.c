/* SPDX-License-Identifier: MIT */
/*
 * The loop's watch on the store's connection (a database shared by nodes;
 * SQLite has nothing to watch): its socket wakes the loop when answers
 * come, which store_poll reads and tells, and while the database cannot
 * be reached a connection attempt moves on every STOREWATCH_RETRY_MS
 * whatever else happens (store_poll never waits).  storewatch_update
 * runs after each turn of the loop (main.c) and follows a new connection;
 * storewatch_start before the loop runs.
 */
#include <stdlib.h>

#include "admind.h"
#include "log.h"

#define STOREWATCH_RETRY_MS	50

static uv_poll_t	*watch;
static int		 watch_fd = -1;
static unsigned		 watch_serial;
static uv_timer_t	 retry;

static void
storewatch_closed(uv_handle_t *h)
{
	free(h);
}

static void
storewatch_readable(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)status;
	(void)events;
	store_poll(env->store);
	storewatch_update();
}

static void
storewatch_retry(uv_timer_t *t)
{
	(void)t;
	store_poll(env->store);
	storewatch_update();
}

/* Watches fd (the connection serial's), or nothing (-1). */
static void
storewatch_socket(int fd, unsigned serial)
{
	if (watch != NULL) {
		uv_poll_stop(watch);
		uv_close((uv_handle_t *)watch, storewatch_closed);
		watch = NULL;
	}
	watch_fd = fd;
	watch_serial = serial;
	if (fd < 0)
		return;
	if ((watch = malloc(sizeof(*watch))) == NULL ||
	    uv_poll_init_socket(env->loop, watch, fd) != 0) {
		log_warnx("store: the database's answers are read at the "
		    "loop's turns only: cannot watch its socket");
		free(watch);
		watch = NULL;
		return;
	}
	uv_poll_start(watch, UV_READABLE, storewatch_readable);
}

void
storewatch_update(void)
{
	unsigned	 serial;
	int		 fd = store_socket(env->store, &serial);

	if (fd != watch_fd || serial != watch_serial)
		storewatch_socket(fd, serial);
	if (!store_unreachable(env->store))
		uv_timer_stop(&retry);
	else if (!uv_is_active((uv_handle_t *)&retry))
		uv_timer_start(&retry, storewatch_retry, STOREWATCH_RETRY_MS,
		    STOREWATCH_RETRY_MS);
}

void
storewatch_start(void)
{
	uv_timer_init(env->loop, &retry);
}

void
storewatch_stop(void)
{
	storewatch_socket(-1, 0);
	uv_timer_stop(&retry);
}
