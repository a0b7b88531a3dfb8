/* SPDX-License-Identifier: MIT */
/*
 * Unit test of the connection gate (common/gate.c): the connection cap an
 * open-file limit allows, the count per client (an IPv4 address, an IPv6
 * /64), and the -t warning when a configured cap cannot be reached.
 */
#include <sys/resource.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "gate.h"
#include "netaddr.h"
#include "sandbox.h"
#include "check.h"

#define EMFILE_WAVE	40	/* connections per wave of the client */

static struct gate	 emfile_gate;
static uv_tcp_t		 emfile_conns[64];
static int		 emfile_accepted;

/* "192.0.2.1:1", "[2001:db8::1]:1" as a peer address. */
static struct sockaddr_storage
addr(const char *hostport)
{
	struct sockaddr_storage ss;
	char	 err[128];

	memset(&ss, 0, sizeof(ss));
	CHECK(netaddr_parse_list(hostport, &ss, 1, err, sizeof(err)) == 1);
	return ss;
}

static void
test_cap(void)
{
	CHECK(gate_cap(1024, 1, 0) == 1024 - GATE_RESERVE);
	CHECK(gate_cap(1024, 2, 0) == (1024 - GATE_RESERVE) / 2);
	CHECK(gate_cap(1024, 1, 500) == 500);
	CHECK(gate_cap(20000, 1, 200000) == 20000 - GATE_RESERVE);
	CHECK(gate_cap(1048576, 1, 200000) == 200000);
	CHECK(gate_cap(100, 1, 0) == 50);	/* tiny limits: half */
	CHECK(gate_cap(0, 1, 0) == 1);
	CHECK(gate_cap(UINT64_MAX, 1, 0) == UINT32_MAX);
}

static void
test_per_address(void)
{
	static struct gate	 g;
	struct sockaddr_storage	 a = addr("192.0.2.1:1"), b = addr("192.0.2.2:1");
	struct sockaddr_storage	 v6a = addr("[2001:db8:1:2::1]:1");
	struct sockaddr_storage	 v6b = addr("[2001:db8:1:2:ffff::9]:2");
	struct sockaddr_storage	 v6c = addr("[2001:db8:1:3::1]:1");

	g.what = "test";
	g.key = "max_connections_per_address";
	g.per_address = 2;
	CHECK(gate_enter(&g, (void *)&a) == 0);
	CHECK(gate_enter(&g, (void *)&a) == 0);
	CHECK(gate_enter(&g, (void *)&a) == -1);
	CHECK(gate_enter(&g, (void *)&b) == 0);
	gate_leave(&g, (void *)&a);
	gate_leave(&g, (void *)&a);
	CHECK(gate_enter(&g, (void *)&a) == 0);		/* one left: 2 */
	CHECK(gate_enter(&g, (void *)&a) == -1);
	gate_leave(&g, (void *)&a);
	CHECK(gate_enter(&g, (void *)&v6a) == 0);
	CHECK(gate_enter(&g, (void *)&v6b) == 0);
	CHECK(gate_enter(&g, (void *)&v6b) == -1);	/* the same /64 */
	CHECK(gate_enter(&g, (void *)&v6c) == 0);
	CHECK(g.counts[GATE_WHY_ADDRESS] == 3);
	CHECK(g.nconns == 7);
	gate_leave(&g, (void *)&a);
	gate_leave(&g, (void *)&a);
	gate_leave(&g, (void *)&b);
	gate_leave(&g, (void *)&v6a);
	gate_leave(&g, (void *)&v6b);
	gate_leave(&g, (void *)&v6b);
	gate_leave(&g, (void *)&v6c);
	CHECK(g.nconns == 0);
	for (size_t i = 0; i < GATE_BUCKETS; i++)
		CHECK(g.clients[i] == NULL);
}

static void
test_check_cap(void)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&out, &len);

	if (f == NULL)
		exit(77);
	CHECK(gate_check_cap(f, "otad-hwd", "[hwd] max_connections", 200000,
	    960) == 1);
	CHECK(gate_check_cap(f, "otad-hwd", "[hwd] max_connections", 500,
	    500) == 0);
	fclose(f);
	CHECK(out != NULL && strstr(out, "otad-hwd: warning: [hwd] "
	    "max_connections = 200000 cannot be reached: the open-file limit ")
	    != NULL && strstr(out, " allows 960;") != NULL);
	CHECK(out != NULL && strchr(out, '\n') == out + len - 1);
	free(out);
}

/* The connection callback of a daemon whose cap is wrong (1000). */
static void
emfile_on_conn(uv_stream_t *listener, int status)
{
	uv_tcp_t	*t;

	if (!gate_admit(&emfile_gate, listener, status) ||
	    emfile_accepted == (int)(sizeof(emfile_conns) /
	    sizeof(emfile_conns[0])))
		return;
	t = &emfile_conns[emfile_accepted];
	uv_tcp_init(listener->loop, t);
	if (uv_accept(listener, (uv_stream_t *)t) == 0)
		emfile_accepted++;
}

static void
emfile_stop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* The open-file limit that leaves exactly free descriptors unused. */
static int
emfile_limit(int free)
{
	static char	 used[4096];
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	int		 fd, limit;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if ((fd = atoi(e->d_name)) > 0 && fd < (int)sizeof(used))
			used[fd] = 1;
	closedir(d);	/* its own descriptor was the lowest free one */
	for (limit = 0; limit < (int)sizeof(used) && free > 0; limit++)
		if (!used[limit] && limit > 2)
			free--;
	return limit;
}

/* Two waves of connections from a child, 0.3 s apart. */
static pid_t
emfile_client(int port)
{
	struct sockaddr_in	 sin;
	pid_t			 pid;

	if ((pid = fork()) != 0)
		return pid;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int wave = 0; wave < 2; wave++) {
		usleep(300000);
		for (int i = 0; i < EMFILE_WAVE; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd != -1 && connect(fd, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1)
				close(fd);
		}
	}
	sleep(2);
	_exit(0);
}

/*
 * Landlock forbids libuv to reopen its spare descriptor after its first
 * EMFILE; from then on accept fails for good and libuv calls back at once,
 * again and again.  The gate must refuse through its own spare, and the
 * loop must come back.  In a child: Landlock cannot be undone, and the
 * leak checker could not read /proc under it.
 */
static int
emfile_run(void)
{
	uv_loop_t		*loop = uv_default_loop();
	uv_tcp_t		 listener;
	uv_timer_t		 timer;
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	struct rusage		 ru0, ru1;
	int			 len = sizeof(sin), fd = -1, end;
	long			 cpu_ms;
	pid_t			 child;

	CHECK(gate_start(&emfile_gate, loop, "test", 1000, 0, 0, "k") == 0);
	uv_ip4_addr("127.0.0.1", 0, &sin);
	uv_tcp_init(loop, &listener);
	CHECK(uv_tcp_bind(&listener, (struct sockaddr *)&sin, 0) == 0);
	CHECK(uv_listen((uv_stream_t *)&listener, 128, emfile_on_conn) == 0);
	CHECK(gate_add_listener(&emfile_gate, (uv_stream_t *)&listener) == 0);
	uv_tcp_getsockname(&listener, (struct sockaddr *)&sin, &len);
	uv_timer_init(loop, &timer);
	child = emfile_client(ntohs(sin.sin_port));
	end = emfile_limit(8);
	sandbox_landlock(NULL);
	if (end == -1 || (fd = open("/dev/null", O_RDONLY)) != -1) {
		if (fd != -1)
			close(fd);
		fprintf(stderr, "test_gate: no Landlock, EMFILE part skipped\n");
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return 0;
	}
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = (rlim_t)end;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	alarm(20);	/* a spinning loop never reaches the timer */
	uv_timer_start(&timer, emfile_stop, 1500, 0);
	getrusage(RUSAGE_SELF, &ru0);
	uv_run(loop, UV_RUN_DEFAULT);
	alarm(0);
	getrusage(RUSAGE_SELF, &ru1);
	cpu_ms = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
	    ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000 +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
	    ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1000;
	CHECK(cpu_ms < 500);		/* of 1,500 ms: not spinning */
	CHECK(emfile_accepted > 0 && emfile_accepted < 2 * EMFILE_WAVE);
	/* out of descriptors: refused with a spare, or parked */
	CHECK(emfile_gate.counts[GATE_WHY_EMFILE] > 0 ||
	    emfile_gate.nwaiting > 0);
	waitpid(child, NULL, 0);
	return check_failed != 0;
}

static void
test_emfile(void)
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	if ((pid = fork()) == 0)
		_exit(emfile_run());
	CHECK(pid != -1 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int
main(void)
{
	test_cap();
	test_per_address();
	test_check_cap();
	test_emfile();
	return check_exit("test_gate");
}
