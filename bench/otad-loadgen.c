/* SPDX-License-Identifier: MIT */
/*
 * otad-loadgen: the load generator of the benchmark runner (bench/run.py),
 * one libuv loop, run as a separate process by the runner (never by a
 * daemon).  Three modes drive otad and its peers with the same code:
 *
 *   blynk  COUNT idle Blynk devices: login with token bench%027d, hardware
 *          info, a PING every heartbeat; records when each gets its "ota"
 *          frame and the URL in it.
 *   mqtt   COUNT idle MQTT 3.1.1 clients: CONNECT, PINGREQ every keepalive.
 *   http   TOTAL downloads, CONC at a time, sent as ESP8266httpUpdate sends
 *          them (HTTP/1.0, Connection: close); every body is compared with
 *          the expected file.
 *
 * Idle modes print "ready ..." once every client is connected (or failed),
 * then obey stdin lines: "dump FILE" writes "index realtime_ns url" for
 * each ota frame received and prints "dumped N lost L"; "reset" forgets
 * the frames received; "quit" or EOF ends.
 * The http mode prints one "done ..." line and writes latencies to -o FILE.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <uv.h>

#define LG_MAX_SRC		64
#define LG_FRAME_MAX		(5 + 1024)
#define LG_HEAD_MAX		4096
#define LG_READ_BUF		(256 * 1024)
#define LG_BLYNK_PING		6
#define LG_BLYNK_INTERNAL	17
#define LG_BLYNK_LOGIN		29
#define LG_BLYNK_RESPONSE	0

enum lg_mode { LG_BLYNK, LG_MQTT, LG_HTTP };
enum lg_state { ST_CONNECTING, ST_LOGIN, ST_IDLE, ST_HEAD, ST_BODY, ST_DONE };

struct lg_opts {
	enum lg_mode	 mode;
	const char	*host;
	int		 port;
	struct sockaddr_in src[LG_MAX_SRC];
	int		 nsrc;
	long		 count;		/* idle clients, or downloads */
	long		 first;		/* index of the first client */
	int		 hbeat;		/* seconds */
	int		 inflight;	/* connects at a time / concurrency */
	const char	*urlfile;
	const char	*expect;
	const char	*out;
};

struct lg_client {
	uv_tcp_t	 tcp;
	uv_timer_t	 timer;
	uv_connect_t	 creq;
	long		 index;
	enum lg_state	 state;
	uint16_t	 msg_id;
	uint64_t	 t_start;	/* ns, monotonic */
	uint64_t	 ota_at;	/* ns, realtime; 0 until the frame */
	char		*ota_url;
	size_t		 rlen;		/* bytes in rbuf */
	uint8_t		*rbuf;		/* partial frame or HTTP head */
	int		 status;	/* HTTP */
	uint64_t	 clen, got;
	unsigned	 have_clen:1, bad:1, timer_on:1;
};

static struct lg_opts	 opt;
static uv_loop_t	*loop;
static uv_pipe_t	 in_pipe;
static struct lg_client	*clients;
static long		 nclients, started, connected, failed, lost, active;
static uint64_t		 t_begin, t_ready;
static char		 rdbuf[LG_READ_BUF];
static uint8_t		*expect_data;
static size_t		 expect_len;
static char		**urls;
static long		 nurls;
static long		 ok, busy, bad_status, corrupt, errors, done_total;
static uint64_t		 bytes_total;
static uint64_t		*lat;		/* ns per successful download */
static long		 nlat;
static int		 http_active;

static void	lg_start_next(void);
static int	lg_connect(struct lg_client *, long);
static void	lg_client_close(struct lg_client *, int);

static uint64_t
now_ns(void)
{
	return uv_hrtime();
}

static uint64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
lg_usage(void)
{
	fprintf(stderr, "usage: otad-loadgen blynk|mqtt -h HOST -p PORT -n COUNT "
	    "[-f FIRST] [-s SRC,...] [-H HBEAT] [-c INFLIGHT]\n"
	    "       otad-loadgen http -h HOST -p PORT -u URLFILE -e FILE "
	    "-n TOTAL -c CONC [-s SRC,...] [-o LATFILE]\n");
	exit(2);
}

static void
lg_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
lg_parse_src(const char *list)
{
	char	*copy, *tok, *save = NULL;

	if ((copy = strdup(list)) == NULL)
		exit(1);
	for (tok = strtok_r(copy, ",", &save); tok && opt.nsrc < LG_MAX_SRC;
	    tok = strtok_r(NULL, ",", &save)) {
		if (uv_ip4_addr(tok, 0, &opt.src[opt.nsrc]) != 0) {
			fprintf(stderr, "otad-loadgen: bad source address %s\n",
			    tok);
			exit(2);
		}
		opt.nsrc++;
	}
	free(copy);
}

static void
lg_parse(int argc, char **argv)
{
	int	 ch;

	if (argc < 2)
		lg_usage();
	if (strcmp(argv[1], "blynk") == 0)
		opt.mode = LG_BLYNK;
	else if (strcmp(argv[1], "mqtt") == 0)
		opt.mode = LG_MQTT;
	else if (strcmp(argv[1], "http") == 0)
		opt.mode = LG_HTTP;
	else
		lg_usage();
	opt.host = "127.0.0.1";
	opt.hbeat = 45;
	opt.inflight = 256;
	optind = 2;
	while ((ch = getopt(argc, argv, "h:p:n:f:s:H:c:u:e:o:")) != -1) {
		switch (ch) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'n':
			opt.count = atol(optarg);
			break;
		case 'f':
			opt.first = atol(optarg);
			break;
		case 's':
			lg_parse_src(optarg);
			break;
		case 'H':
			opt.hbeat = atoi(optarg);
			break;
		case 'c':
			opt.inflight = atoi(optarg);
			break;
		case 'u':
			opt.urlfile = optarg;
			break;
		case 'e':
			opt.expect = optarg;
			break;
		case 'o':
			opt.out = optarg;
			break;
		default:
			lg_usage();
		}
	}
	if (opt.port <= 0 || opt.count <= 0 || opt.inflight <= 0 ||
	    opt.hbeat <= 0)
		lg_usage();
	if (opt.mode == LG_HTTP && (opt.urlfile == NULL || opt.expect == NULL))
		lg_usage();
}

static void *
lg_read_file(const char *path, size_t *len)
{
	struct stat	 st;
	uint8_t		*p;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		fprintf(stderr, "otad-loadgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL)
		exit(1);
	while (off < (size_t)st.st_size) {
		if ((n = read(fd, p + off, (size_t)st.st_size - off)) <= 0) {
			fprintf(stderr, "otad-loadgen: %s: short read\n", path);
			exit(1);
		}
		off += (size_t)n;
	}
	p[off] = '\0';
	close(fd);
	*len = off;
	return p;
}

/* URL file: one path per line ("/ota/TICKET"). */
static void
lg_load_urls(void)
{
	size_t	 len;
	char	*data = lg_read_file(opt.urlfile, &len), *line, *save = NULL;

	for (line = strtok_r(data, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (*line == '\0')
			continue;
		if ((urls = realloc(urls, sizeof(*urls) * (nurls + 1))) == NULL)
			exit(1);
		urls[nurls++] = line;
	}
	if (nurls == 0) {
		fprintf(stderr, "otad-loadgen: %s: no URLs\n", opt.urlfile);
		exit(1);
	}
}

/* -- writing ------------------------------------------------------------- */

struct lg_write {
	uv_write_t	 req;
	uv_buf_t	 buf;
	char		 data[];
};

static void
lg_written(uv_write_t *req, int status)
{
	free(req->data);
}

static void
lg_send(struct lg_client *c, const void *data, size_t len)
{
	struct lg_write	*w;

	if ((w = malloc(sizeof(*w) + len)) == NULL)
		return;
	memcpy(w->data, data, len);
	w->buf = uv_buf_init(w->data, (unsigned)len);
	w->req.data = w;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1,
	    lg_written) != 0)
		free(w);
}

static void
lg_blynk_frame(struct lg_client *c, uint8_t cmd, const void *body,
    size_t len)
{
	uint8_t	 f[LG_FRAME_MAX];

	if (++c->msg_id == 0)
		c->msg_id = 1;
	f[0] = cmd;
	f[1] = c->msg_id >> 8;
	f[2] = c->msg_id & 0xff;
	f[3] = (len >> 8) & 0xff;
	f[4] = len & 0xff;
	memcpy(f + 5, body, len);
	lg_send(c, f, 5 + len);
}

static void
lg_blynk_login(struct lg_client *c)
{
	char	 token[40];

	snprintf(token, sizeof(token), "bench%027ld", c->index);
	c->msg_id = 0;
	lg_blynk_frame(c, LG_BLYNK_LOGIN, token, strlen(token));
}

static void
lg_blynk_info(struct lg_client *c)
{
	char	 body[256];
	int	 n;

	/* No fw-type, board NodeMCU as in the runner's images: compatible. */
	n = snprintf(body, sizeof(body), "mcu%c0.1.0%cbuild%cJan 01 2020 "
	    "00:00:00%cblynk%c1.3.2%ch-beat%c%d%cbuff-in%c1024%cdev%cNodeMCU",
	    0, 0, 0, 0, 0, 0, 0, opt.hbeat, 0, 0, 0, 0);
	lg_blynk_frame(c, LG_BLYNK_INTERNAL, body, (size_t)n);
}

static void
lg_mqtt_connect(struct lg_client *c)
{
	uint8_t	 p[64];
	char	 id[24];
	size_t	 idlen, rem;

	idlen = (size_t)snprintf(id, sizeof(id), "bench%ld", c->index);
	rem = 10 + 2 + idlen;
	p[0] = 0x10;
	p[1] = (uint8_t)rem;
	memcpy(p + 2, "\0\4MQTT\4\2", 8);
	p[10] = (uint8_t)(opt.hbeat >> 8);
	p[11] = (uint8_t)opt.hbeat;
	p[12] = 0;
	p[13] = (uint8_t)idlen;
	memcpy(p + 14, id, idlen);
	lg_send(c, p, 2 + rem);
}

/* -- idle clients: heartbeat ----------------------------------------------- */

static void
lg_heartbeat(uv_timer_t *t)
{
	struct lg_client *c = t->data;
	static const uint8_t pingreq[2] = { 0xc0, 0x00 };

	if (c->state != ST_IDLE)
		return;
	if (opt.mode == LG_BLYNK)
		lg_blynk_frame(c, LG_BLYNK_PING, "", 0);
	else
		lg_send(c, pingreq, sizeof(pingreq));
}

static void
lg_check_ready(void)
{
	if (t_ready || connected + failed < nclients)
		return;
	t_ready = now_ns();
	printf("ready ok=%ld failed=%ld secs=%.3f\n", connected, failed,
	    (double)(t_ready - t_begin) / 1e9);
	fflush(stdout);
}

static void
lg_idle(struct lg_client *c)
{
	uint64_t	 first;

	c->state = ST_IDLE;
	connected++;
	active--;
	/* Spread the pings over the heartbeat, as real devices do. */
	first = (uint64_t)opt.hbeat * 1000 * (uint64_t)(c->index % 1000) / 1000;
	uv_timer_start(&c->timer, lg_heartbeat, first + 1,
	    (uint64_t)opt.hbeat * 1000);
	lg_start_next();
	lg_check_ready();
}

/* -- idle clients: reading ------------------------------------------------- */

static void
lg_blynk_ota(struct lg_client *c, const uint8_t *body, size_t len)
{
	if (len < 4 || memcmp(body, "ota\0", 4) != 0 || c->ota_at)
		return;
	c->ota_at = real_ns();
	if ((c->ota_url = malloc(len - 4 + 1)) != NULL) {
		memcpy(c->ota_url, body + 4, len - 4);
		c->ota_url[len - 4] = '\0';
	}
}

/* One whole frame; returns -1 to drop the connection. */
static int
lg_blynk_handle(struct lg_client *c, const uint8_t *f, size_t blen)
{
	uint16_t	 third = (uint16_t)(f[3] << 8 | f[4]);

	if (f[0] == LG_BLYNK_RESPONSE) {
		if (c->state == ST_LOGIN) {
			if (third != 200 && third != 4) {
				fprintf(stderr, "otad-loadgen: device %ld: "
				    "login answered %u\n", c->index, third);
				return -1;
			}
			lg_blynk_info(c);
			lg_idle(c);
		}
		return 0;
	}
	if (f[0] == LG_BLYNK_INTERNAL)
		lg_blynk_ota(c, f + 5, blen);
	else if (f[0] == LG_BLYNK_PING)
		lg_send(c, (uint8_t[]){ 0, f[1], f[2], 0, 200 }, 5);
	return 0;
}

static int
lg_blynk_feed(struct lg_client *c, const uint8_t *p, size_t n)
{
	size_t	 need, take, blen;

	while (n > 0) {
		need = 5;
		if (c->rlen >= 5 && c->rbuf[0] != LG_BLYNK_RESPONSE)
			need += (size_t)(c->rbuf[3] << 8 | c->rbuf[4]);
		if (need > LG_FRAME_MAX)
			return -1;
		take = need - c->rlen < n ? need - c->rlen : n;
		memcpy(c->rbuf + c->rlen, p, take);
		c->rlen += take;
		p += take;
		n -= take;
		if (c->rlen < 5)
			continue;
		blen = c->rbuf[0] == LG_BLYNK_RESPONSE ? 0 :
		    (size_t)(c->rbuf[3] << 8 | c->rbuf[4]);
		if (c->rlen < 5 + blen)
			continue;
		c->rlen = 0;
		if (lg_blynk_handle(c, c->rbuf, blen) == -1)
			return -1;
	}
	return 0;
}

static int
lg_mqtt_feed(struct lg_client *c, const uint8_t *p, size_t n)
{
	/* Only CONNACK (4 bytes) and PINGRESP (2 bytes) come back. */
	for (size_t i = 0; i < n; i++) {
		if (c->rlen < 4)
			c->rbuf[c->rlen++] = p[i];
		if (c->rbuf[0] == 0xd0 && c->rlen == 2) {
			c->rlen = 0;
		} else if (c->rbuf[0] == 0x20 && c->rlen == 4) {
			c->rlen = 0;
			if (c->state == ST_LOGIN) {
				if (c->rbuf[3] != 0)
					return -1;
				lg_idle(c);
			}
		} else if (c->rbuf[0] != 0x20 && c->rbuf[0] != 0xd0) {
			return -1;
		}
	}
	return 0;
}

/* -- HTTP downloads ---------------------------------------------------------- */

static void
lg_http_request(struct lg_client *c)
{
	char	 req[1024];
	int	 n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n"
	    "Host: %s:%d\r\n"
	    "User-Agent: ESP8266-http-Update\r\n"
	    "Connection: close\r\n"
	    "x-ESP8266-Chip-ID: %ld\r\n"
	    "x-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\n"
	    "x-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n"
	    "x-ESP8266-free-space: 4194304\r\n"
	    "x-ESP8266-sketch-size: 400000\r\n"
	    "x-ESP8266-sketch-md5: 00112233445566778899aabbccddeeff\r\n"
	    "x-ESP8266-chip-size: 4194304\r\n"
	    "x-ESP8266-sdk-version: 2.2.2-dev(38a443e)\r\n"
	    "x-ESP8266-mode: sketch\r\n"
	    "Content-Length: 0\r\n\r\n", urls[c->index % nurls], opt.host,
	    opt.port, 15602487 + c->index);
	lg_send(c, req, (size_t)n);
}

static void
lg_http_head_done(struct lg_client *c, size_t hlen)
{
	char	*h = (char *)c->rbuf, *p;

	c->rbuf[hlen - 1] = '\0';
	if (sscanf(h, "HTTP/%*d.%*d %d", &c->status) != 1)
		c->status = -1;
	for (p = strchr(h, '\n'); p; p = strchr(p + 1, '\n')) {
		if (strncasecmp(p + 1, "content-length:", 15) == 0) {
			c->clen = strtoull(p + 16, NULL, 10);
			c->have_clen = 1;
		}
	}
	c->state = ST_BODY;
}

static void
lg_http_body(struct lg_client *c, const uint8_t *p, size_t n)
{
	if (c->status == 200 && !c->bad) {
		if (c->got + n > expect_len ||
		    memcmp(expect_data + c->got, p, n) != 0)
			c->bad = 1;
	}
	c->got += n;
}

static int
lg_http_feed(struct lg_client *c, const uint8_t *p, size_t n)
{
	size_t	 take, i, start;

	if (c->state == ST_BODY) {
		lg_http_body(c, p, n);
		return 0;
	}
	take = LG_HEAD_MAX - c->rlen < n ? LG_HEAD_MAX - c->rlen : n;
	start = c->rlen > 3 ? c->rlen - 3 : 0;
	memcpy(c->rbuf + c->rlen, p, take);
	c->rlen += take;
	for (i = start; i + 4 <= c->rlen; i++) {
		if (memcmp(c->rbuf + i, "\r\n\r\n", 4) == 0) {
			size_t hlen = i + 4, consumed = hlen - (c->rlen - take);

			lg_http_head_done(c, hlen);
			lg_http_body(c, p + consumed, n - consumed);
			return 0;
		}
	}
	return c->rlen >= LG_HEAD_MAX ? -1 : 0;
}

static void
lg_http_finish(struct lg_client *c, int eof)
{
	if (!eof) {
		errors++;
	} else if (c->status == 503) {
		busy++;
	} else if (c->status != 200) {
		bad_status++;
		if (bad_status <= 5)
			fprintf(stderr, "otad-loadgen: %s answered %d\n",
			    urls[c->index % nurls], c->status);
	} else if (c->bad || !c->have_clen || c->clen != expect_len ||
	    c->got != expect_len) {
		corrupt++;
		if (corrupt <= 5)
			fprintf(stderr, "otad-loadgen: %s: corrupt download "
			    "(%" PRIu64 " of %" PRIu64 " bytes, length %"
			    PRIu64 ", %s)\n", urls[c->index % nurls], c->got,
			    expect_len, c->clen, c->bad ? "bytes differ" :
			    "length differs");
	} else {
		ok++;
		lat[nlat++] = now_ns() - c->t_start;
	}
	bytes_total += c->got;
	done_total++;
}

/* -- connections ------------------------------------------------------------- */

static void
lg_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	*b = uv_buf_init(rdbuf, sizeof(rdbuf));
}

static void
lg_closed(uv_handle_t *h)
{
	struct lg_client *c = h->data;

	if (opt.mode == LG_HTTP) {
		free(c->rbuf);
		c->rbuf = NULL;
		if (started < opt.count) {
			lg_connect(c, started++);	/* the slot goes on */
			return;
		}
		if (--http_active == 0)
			uv_stop(loop);
	}
}

static void
lg_client_close(struct lg_client *c, int eof)
{
	enum lg_state	 was = c->state;

	if (was == ST_DONE)
		return;
	c->state = ST_DONE;
	if (opt.mode == LG_HTTP) {
		lg_http_finish(c, eof);
	} else if (was == ST_IDLE) {
		lost++;
	} else {
		failed++;
		active--;
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, lg_closed);
	if (opt.mode != LG_HTTP) {
		lg_start_next();
		lg_check_ready();
	}
}

static void
lg_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct lg_client *c = s->data;
	int		  rc;

	if (n == 0)
		return;
	if (n < 0) {
		lg_client_close(c, n == UV_EOF);
		return;
	}
	if (opt.mode == LG_BLYNK)
		rc = lg_blynk_feed(c, (uint8_t *)b->base, (size_t)n);
	else if (opt.mode == LG_MQTT)
		rc = lg_mqtt_feed(c, (uint8_t *)b->base, (size_t)n);
	else
		rc = lg_http_feed(c, (uint8_t *)b->base, (size_t)n);
	if (rc == -1)
		lg_client_close(c, 0);
}

static void
lg_connected(uv_connect_t *req, int status)
{
	struct lg_client *c = req->data;

	if (status != 0) {
		if (failed + errors < 5)
			fprintf(stderr, "otad-loadgen: connect: %s\n",
			    uv_strerror(status));
		lg_client_close(c, 0);
		return;
	}
	c->state = opt.mode == LG_HTTP ? ST_HEAD : ST_LOGIN;
	uv_read_start((uv_stream_t *)&c->tcp, lg_alloc, lg_read);
	if (opt.mode == LG_BLYNK)
		lg_blynk_login(c);
	else if (opt.mode == LG_MQTT)
		lg_mqtt_connect(c);
	else
		lg_http_request(c);
}

/*
 * Binds the client to a source address.  IP_BIND_ADDRESS_NO_PORT defers
 * the port choice to connect(), which picks it by the whole 4-tuple:
 * without it bind() searches for a port free for any destination, slowly
 * once thousands are taken, and the generator would measure itself.
 */
static void
lg_bind(struct lg_client *c, const struct sockaddr_in *src)
{
	int	 fd, one = 1, r;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		fprintf(stderr, "otad-loadgen: socket: %s\n", strerror(errno));
		return;
	}
#ifdef IP_BIND_ADDRESS_NO_PORT
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
#endif
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) == -1 ||
	    (r = uv_tcp_open(&c->tcp, fd)) != 0) {
		fprintf(stderr, "otad-loadgen: bind: %s\n", strerror(errno));
		close(fd);
	}
}

static int
lg_connect(struct lg_client *c, long seq)
{
	struct sockaddr_in dst;
	int		 r;

	memset(c, 0, sizeof(*c));
	c->index = opt.mode == LG_HTTP ? seq : opt.first + seq;
	c->state = ST_CONNECTING;
	c->t_start = now_ns();
	if ((c->rbuf = malloc(opt.mode == LG_HTTP ? LG_HEAD_MAX :
	    LG_FRAME_MAX)) == NULL)
		return -1;
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c->timer.data = c->creq.data = c;
	uv_ip4_addr(opt.host, opt.port, &dst);
	if (opt.nsrc > 0)
		lg_bind(c, &opt.src[seq % opt.nsrc]);
	uv_tcp_nodelay(&c->tcp, 1);
	if ((r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&dst,
	    lg_connected)) != 0) {
		if (failed < 5)
			fprintf(stderr, "otad-loadgen: connect: %s\n",
			    uv_strerror(r));
		c->state = ST_CONNECTING;
		lg_client_close(c, 0);
	}
	return 0;
}

static void
lg_start_next(void)
{
	if (opt.mode == LG_HTTP) {
		while (http_active < opt.inflight && started < opt.count) {
			http_active++;
			lg_connect(&clients[http_active - 1], started++);
		}
		return;
	}
	while (active < opt.inflight && started < nclients) {
		active++;
		lg_connect(&clients[started], started);
		started++;
	}
}

/* -- stdin commands (idle modes) ------------------------------------------------ */

static void
lg_dump(const char *path)
{
	FILE	*f;
	long	 n = 0;

	if ((f = fopen(path, "w")) == NULL) {
		printf("dumped -1 lost %ld\n", lost);
		fflush(stdout);
		return;
	}
	for (long i = 0; i < nclients; i++) {
		if (clients[i].ota_at == 0)
			continue;
		fprintf(f, "%ld %" PRIu64 " %s\n", clients[i].index,
		    clients[i].ota_at, clients[i].ota_url ?
		    clients[i].ota_url : "");
		n++;
	}
	fclose(f);
	printf("dumped %ld lost %ld\n", n, lost);
	fflush(stdout);
}

/* Forgets the ota frames received so far, before the next fan-out. */
static void
lg_reset(void)
{
	for (long i = 0; i < nclients; i++) {
		clients[i].ota_at = 0;
		free(clients[i].ota_url);
		clients[i].ota_url = NULL;
	}
	printf("reset\n");
	fflush(stdout);
}

static void
lg_close_all(void)
{
	uv_read_stop((uv_stream_t *)&in_pipe);
	uv_close((uv_handle_t *)&in_pipe, NULL);
	for (long i = 0; i < nclients; i++) {
		if (clients[i].state == ST_DONE)
			continue;
		clients[i].state = ST_DONE;
		uv_timer_stop(&clients[i].timer);
		uv_close((uv_handle_t *)&clients[i].tcp, NULL);
	}
}

static void
lg_stdin_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char	 line[1024];

	*b = uv_buf_init(line, sizeof(line) - 1);
}

static void
lg_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	char	*nl;

	if (n < 0) {
		lg_close_all();
		return;
	}
	b->base[n] = '\0';
	if ((nl = strchr(b->base, '\n')) != NULL)
		*nl = '\0';
	if (strncmp(b->base, "dump ", 5) == 0)
		lg_dump(b->base + 5);
	else if (strcmp(b->base, "reset") == 0)
		lg_reset();
	else if (strcmp(b->base, "quit") == 0)
		lg_close_all();
}

/* -- main -------------------------------------------------------------------------- */

static int
lg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
lg_http_report(double secs)
{
	FILE	*f;

	qsort(lat, (size_t)nlat, sizeof(*lat), lg_cmp);
	if (opt.out && (f = fopen(opt.out, "w")) != NULL) {
		for (long i = 0; i < nlat; i++)
			fprintf(f, "%" PRIu64 "\n", lat[i]);
		fclose(f);
	}
	printf("done ok=%ld busy=%ld bad_status=%ld corrupt=%ld errors=%ld "
	    "bytes=%" PRIu64 " secs=%.3f p50_ms=%.2f p99_ms=%.2f\n", ok, busy,
	    bad_status, corrupt, errors, bytes_total, secs,
	    nlat ? (double)lat[nlat / 2] / 1e6 : 0.0,
	    nlat ? (double)lat[(nlat * 99) / 100] / 1e6 : 0.0);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	lg_parse(argc, argv);
	lg_raise_nofile();
	loop = uv_default_loop();
	t_begin = now_ns();
	if (opt.mode == LG_HTTP) {
		lg_load_urls();
		expect_data = lg_read_file(opt.expect, &expect_len);
		clients = calloc((size_t)opt.inflight, sizeof(*clients));
		lat = calloc((size_t)opt.count, sizeof(*lat));
		if (clients == NULL || lat == NULL)
			return 1;
		lg_start_next();
		uv_run(loop, UV_RUN_DEFAULT);
		lg_http_report((double)(now_ns() - t_begin) / 1e9);
		return corrupt > 0 ? 3 : 0;
	}
	nclients = opt.count;
	if ((clients = calloc((size_t)nclients, sizeof(*clients))) == NULL)
		return 1;
	uv_pipe_init(loop, &in_pipe, 0);
	uv_pipe_open(&in_pipe, 0);
	uv_read_start((uv_stream_t *)&in_pipe, lg_stdin_alloc, lg_stdin);
	lg_start_next();
	uv_run(loop, UV_RUN_DEFAULT);
	printf("bye connected=%ld failed=%ld lost=%ld\n", connected, failed,
	    lost);
	return 0;
}
