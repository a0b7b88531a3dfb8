/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets bound by a daemon's supervisor before it forks its
 * workers ([hwd] workers, [fwstore] workers; workers.c): each worker has
 * its own socket on every address, all of them SO_REUSEPORT, so the
 * kernel spreads new connections over the workers.  The supervisor keeps
 * every socket open, so a restarted worker takes its own over (no bind
 * under Landlock) and connections hashed to it wait in its backlog.
 * stream_listen() takes a worker's sockets instead of binding.
 */
#ifndef OTAD_LISTEN_H
#define OTAD_LISTEN_H

#include <stddef.h>

#define LISTEN_BACKLOG	1024	/* every listener's, stream.c's too */

/* Binds worker's sockets for every address of the netaddr list.  The
 * first worker's bind first checks that no other process (a second otad)
 * holds an address, which SO_REUSEPORT alone would let it share.  -1
 * with a sentence in err. */
int	 listen_bind(const char *list, unsigned worker, char *err,
	    size_t errlen);
/* After every worker's bind: each client address always reaches the same
 * of the n workers (what a worker knows of a client's requests, such as
 * the byte ranges of its download, stays whole).  -1 with err. */
int	 listen_steer(const char *list, unsigned n, char *err, size_t errlen);
/* In a forked worker: the other workers' sockets are closed. */
void	 listen_keep(unsigned worker);
/* The sockets bound for list that this process keeps, into fds (handed
 * over: forgotten here); 0 when none were bound (bind as usual). */
int	 listen_take(const char *list, int *fds, int max);

#endif
