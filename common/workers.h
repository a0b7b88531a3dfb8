/* SPDX-License-Identifier: MIT */
/*
 * A daemon as several worker processes ([hwd] workers, [fwstore] workers):
 * the supervisor binds each worker's listening sockets (listen.h), forks
 * the workers, restarts one that dies (with backoff; one that hangs is
 * killed first), stops them all on SIGTERM or SIGINT,
 * and is the unit's main process for systemd: READY=1 once every worker
 * is, WATCHDOG=1 while it runs.  It reads no network input and uses no
 * event loop: a worker's loop is created after its fork.  A worker that
 * fails before it was ever ready makes the whole daemon give up with its
 * exit status: a restart cannot fix a bad configuration.
 */
#ifndef OTAD_WORKERS_H
#define OTAD_WORKERS_H

#include <stddef.h>

#define WORKERS_MAX	64	/* admind tracks hwd workers in a bit mask */

struct workers_spec {
	const char	*name;		/* "hwd": the log's and ps's name */
	unsigned	 n;		/* 2 or more */
	const char	*status;	/* systemd's STATUS= once ready */
	/* Supervisor, before the first fork: bind worker w's sockets
	 * (listen_bind); -1 with a sentence in err. */
	int		(*bind)(unsigned w, void *arg, char *err, size_t len);
	/* Worker w (0-based) after its fork: the daemon; its exit status. */
	int		(*run)(unsigned w, void *arg);
	void		*arg;
};

/* The supervisor, until it is told to stop: the daemon's exit status. */
int	 workers_run(const struct workers_spec *);
/* The number of workers [section] workers = configured asks for: 0 is
 * one per CPU. */
unsigned workers_count(unsigned configured);

/* A worker's reports to its supervisor (sandbox.c): -1 when this process
 * is no worker (it reports to systemd itself). */
#define WORKERS_READY	'R'
#define WORKERS_ALIVE	'A'
#define WORKERS_ALIVE_MS 1000
int	 workers_report(char what);
/* 1 in a worker, else 0. */
int	 workers_is_worker(void);

#endif
