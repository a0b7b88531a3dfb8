/* SPDX-License-Identifier: MIT */
/*
 * The workers' listening sockets, bound before the fork (see listen.h).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/filter.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "netaddr.h"

struct listen_set {
	struct listen_set *next;
	char		*list;
	unsigned	 worker;
	int		 n;
	int		 fds[NETADDR_MAX_LISTEN];
};

static struct listen_set *listen_sets;

/* A TCP socket bound to ss, listening; reuseport: one of a group. */
static int
listen_socket(const struct sockaddr_storage *ss, int reuseport)
{
	int	 fd, one = 1, zero = 0, saved;
	socklen_t len = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* IPv6 wildcards take IPv4 too, as stream_listen's binds do */
	if ((ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &zero, sizeof(zero)) == -1) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (const struct sockaddr *)ss, len) == -1 ||
	    (reuseport && listen(fd, LISTEN_BACKLOG) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
listen_close(struct listen_set *s)
{
	for (int i = 0; i < s->n; i++)
		close(s->fds[i]);
	free(s->list);
	free(s);
}

/* Binds the set's sockets; -1 with err. */
static int
listen_open(struct listen_set *s, const struct sockaddr_storage *addrs,
    int n, char *err, size_t errlen)
{
	char	 name[NETADDR_STRLEN];
	int	 fd;		/* -2: no probe */

	for (int i = 0; i < n; i++) {
		/* The first worker's: a plain bind fails where anyone (a
		 * second otad) listens already, which a group would join. */
		fd = s->worker == 0 ? listen_socket(&addrs[i], 0) : -2;
		if (fd >= 0)
			close(fd);
		if (fd != -1)		/* free (or not the first worker) */
			fd = listen_socket(&addrs[i], 1);
		if (fd == -1) {
			netaddr_format((const struct sockaddr *)&addrs[i],
			    name, sizeof(name), 1);
			snprintf(err, errlen, "cannot listen on %s: %s", name,
			    strerror(errno));
			return -1;
		}
		s->fds[s->n++] = fd;
	}
	return 0;
}

int
listen_bind(const char *list, unsigned worker, char *err, size_t errlen)
{
	struct sockaddr_storage	 addrs[NETADDR_MAX_LISTEN];
	struct listen_set	*s;
	int			 n;

	if ((n = netaddr_parse_list(list, addrs, NETADDR_MAX_LISTEN, err,
	    errlen)) == -1)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->list = strdup(list)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->worker = worker;
	if (listen_open(s, addrs, n, err, errlen) == -1) {
		listen_close(s);
		return -1;
	}
	s->next = listen_sets;
	listen_sets = s;
	return 0;
}

/*
 * Classic BPF for the group's socket choice: hash the client's address
 * (IPv4, or the last 32 bits of IPv6) and take it modulo n, so one client
 * always lands on the same worker.
 */
static int
listen_steer_fd(int fd, unsigned n)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 20),
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2654435761u),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog));
}

int
listen_steer(const char *list, unsigned n, char *err, size_t errlen)
{
	struct listen_set *s;

	for (s = listen_sets; s != NULL; s = s->next) {
		if (s->worker != 0 || strcmp(s->list, list) != 0)
			continue;
		for (int i = 0; i < s->n; i++)
			if (listen_steer_fd(s->fds[i], n) == -1) {
				snprintf(err, errlen, "cannot steer clients "
				    "to workers on %s: %s", list,
				    strerror(errno));
				return -1;
			}
	}
	return 0;
}

void
listen_keep(unsigned worker)
{
	struct listen_set **pp = &listen_sets, *s;

	while ((s = *pp) != NULL) {
		if (s->worker == worker) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		listen_close(s);
	}
}

int
listen_take(const char *list, int *fds, int max)
{
	struct listen_set **pp, *s;
	int		 n;

	for (pp = &listen_sets; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->list, list) != 0 || s->n > max)
			continue;
		n = s->n;
		memcpy(fds, s->fds, (size_t)n * sizeof(*fds));
		s->n = 0;		/* the caller owns them now */
		*pp = s->next;
		listen_close(s);
		return n;
	}
	return 0;
}
