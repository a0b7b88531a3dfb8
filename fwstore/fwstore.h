/* SPDX-License-Identifier: MIT */
/*
 * Private header of otad-fwstore, the firmware download daemon: serves
 * GET and HEAD /ota/<ticket> and the /update?auth=<token> poll over HTTP
 * (and HTTPS when configured), asking admind over the control socket
 * whether each download may go ahead and reporting its progress back.
 */
#ifndef OTAD_FWSTORE_H
#define OTAD_FWSTORE_H

#include <stdint.h>

#include <uv.h>

#include "cfg.h"
#include "ctl.h"
#include "ctl_conn.h"
#include "http.h"

#define FWSTORE_CHUNK		(64 * 1024)	/* one pread, one write */
#define FWSTORE_TICKET_MAX	64
#define FWSTORE_RETRY_AFTER	"Retry-After: 5\r\n"
#define FWSTORE_COVER_SPANS	16	/* disjoint ranges per delivery */
#define FWSTORE_COVER_DELIVERIES 256	/* deliveries remembered */
#define FWSTORE_REASON_MAX	200	/* a refusal's one-line body */
#define FWSTORE_AUTH_MAX	128	/* ?auth= */

/* Bytes [first, end) of an image. */
struct fwstore_span {
	uint64_t	 first, end;
};

/* What one delivery's peers acknowledged: sorted, disjoint, not touching. */
struct fwstore_cover {
	uint64_t		 delivery_id;
	uint64_t		 size;		/* of the image */
	uint64_t		 used;		/* table clock; 0: free entry */
	unsigned		 nspans;
	struct fwstore_span	 spans[FWSTORE_COVER_SPANS];
};

/* The deliveries downloads are under way (or were left unfinished) for;
 * lost on a restart, which only makes a device download again. */
struct fwstore_coverage {
	struct fwstore_cover	 entries[FWSTORE_COVER_DELIVERIES];
	uint64_t		 clock;
};

struct fwstore {
	uv_loop_t		*loop;
	struct cfg		*cfg;
	char			*firmware_dir;
	struct http_server	 http;
	struct http_server	 https;		/* tls_listen, when set */
	struct ctl_client	 ctl;
	unsigned		 ndownloads;	/* GETs holding a slot */
	struct fwstore_coverage	 coverage;	/* acknowledged bytes */
	uv_signal_t		 sigint, sigterm;
};

/* What admind answered to CTL_FW_CHECK or CTL_FW_POLL. */
struct fwstore_grant {
	uint16_t	 status;
	char		*reason;
	uint64_t	 delivery_id;
	char		*sha256;	/* hex: the file name */
	uint64_t	 size;
	char		*md5;		/* hex */
	char		*sha256_b64;
	char		*version;
	uint64_t	 uploaded_at;	/* unix seconds */
};

/* What a request asks for (route.c). */
struct fwstore_route {
	uint16_t	 type;		/* CTL_FW_CHECK or CTL_FW_POLL */
	const char	*ticket;	/* or the device token */
	char		 auth[FWSTORE_AUTH_MAX + 1];	/* ?auth=, or "" */
	int		 auth_bad;	/* ?auth= malformed: 403 */
};

/* The facts of a request its answer depends on (answer.c). */
struct fwstore_ask {
	unsigned	 head:1;		/* HEAD */
	unsigned	 version_check:1;	/* x-ESP*-mode: version, GET */
	const char	*range;			/* Range, or NULL */
	const char	*if_range;		/* If-Range, or NULL */
};

/* How an answer goes out. */
enum fwstore_answer_how {
	FWSTORE_ANSWER_RESPOND,		/* status, headers, text body */
	FWSTORE_ANSWER_REFUSE,		/* the same, then close */
	FWSTORE_ANSWER_HEAD,		/* image headers, length, no body */
	FWSTORE_ANSWER_BODY,		/* image headers, [first, end) */
};

/* One answer to a download request, every header but the ones
 * common/http.c adds (status line, Date, Server, Content-Length,
 * Connection). */
struct fwstore_answer {
	int			 status;
	enum fwstore_answer_how	 how;
	const char		*content_type;	/* NULL: none */
	char			 headers[768];	/* "Name: value\r\n"... */
	char			 body[FWSTORE_REASON_MAX + 2];
	size_t			 body_len;	/* RESPOND, REFUSE */
	uint64_t		 length;	/* HEAD, BODY */
	uint64_t		 first, end;	/* BODY */
};

/*
 * One request on /ota/<ticket> or /update, from admind's check to the last
 * byte the peer acknowledged.  The body goes out through the connection
 * (TLS, or a client that keeps the connection), or with sendfile(2) on the
 * connection's socket once the head reached the kernel, and on a
 * duplicate of it (the HTTP connection let go) once it was full.
 * first <= acked <= sent <= written <= end.
 */
struct fwstore_download {
	struct fwstore		*fw;
	struct http_conn	*conn;		/* NULL once let go */
	int			 fd;		/* the firmware file */
	int			 sock;		/* the duplicate, or -1 */
	uv_poll_t		 poll;		/* the duplicate: writable,
						 * linger */
	uv_timer_t		 timer;		/* acks and stall; linger */
	unsigned		 handles;	/* open uv handles above */
	unsigned		 head:1;
	unsigned		 quiet:1;	/* HEAD or a version check */
	unsigned		 pending:1;	/* admind's reply awaited */
	unsigned		 slot:1;	/* counted in ndownloads */
	unsigned		 streaming:1;	/* body under way */
	unsigned		 zerocopy:1;	/* body by sendfile */
	unsigned		 draining:1;	/* body in the kernel: acks */
	unsigned		 fin:1;		/* sendfile: FIN after the body */
	unsigned		 lingering:1;	/* sendfile: body acknowledged */
	unsigned		 completed:1;	/* COMPLETE told to admind */
	uint64_t		 delivery_id;
	uint64_t		 size;		/* of the file */
	uint64_t		 first, end;	/* the bytes to send: [first, end) */
	uint64_t		 written;	/* offset handed to the connection */
	uint64_t		 sent;		/* offset that reached the kernel */
	uint64_t		 acked;		/* offset the peer acknowledged */
	uint64_t		 told;		/* bytes last told to admind */
	uint64_t		 discarded;	/* linger: bytes read and dropped */
	unsigned		 step;		/* last 10% step told */
	uint64_t		 started_ms;
	uint64_t		 moved_ms;	/* sent or acked last moved */
	char			 sha256[65];
	char			 remote[64];
};

/* control.c */
int	 fwstore_ctl_start(struct fwstore *);
int	 fwstore_ctl_ready(struct fwstore *);
int	 fwstore_ctl_check(struct fwstore *, uint16_t type,
	    const struct http_request *, const char *ticket, const char *auth,
	    const char *remote_addr, int head, ctl_reply_cb, void *);
int	 fwstore_ctl_grant(struct ctl_reader *, struct fwstore_grant *);
void	 fwstore_ctl_grant_free(struct fwstore_grant *);
void	 fwstore_ctl_progress(struct fwstore *, uint64_t delivery_id,
	    enum ctl_progress, uint64_t sent, uint64_t total);

/* download.c */
int	 fwstore_download_start(struct fwstore *, char *err, size_t errlen);
unsigned fwstore_max_downloads(const struct cfg *);
void	 fwstore_download_log(struct fwstore_download *, int prio,
	    const char *, ...)
	    __attribute__((format(printf, 3, 4)));
struct http_conn *fwstore_download_detach(struct fwstore_download *);
void	 fwstore_download_unslot(struct fwstore_download *);
void	 fwstore_download_release(struct fwstore_download *);

/* send.c */
int	 fwstore_send_begin(struct fwstore_download *, int status,
	    const char *headers);
void	 fwstore_send_drain(struct fwstore_download *);
void	 fwstore_send_closing(struct fwstore_download *);
void	 fwstore_send_lost(struct fwstore_download *);

/* coverage.c */
void	 fwstore_cover_add(struct fwstore_cover *, uint64_t first,
	    uint64_t end);
uint64_t fwstore_cover_bytes(const struct fwstore_cover *);
int	 fwstore_cover_all(const struct fwstore_cover *);
struct fwstore_cover *fwstore_cover_get(struct fwstore_coverage *,
	    uint64_t delivery_id, uint64_t size);
void	 fwstore_cover_drop(struct fwstore_coverage *, uint64_t delivery_id);

/* answer.c */
void	 fwstore_answer_reply(struct fwstore_answer *, int status,
	    const char *reason, uint64_t size);
void	 fwstore_answer_unrouted(struct fwstore_answer *, int status,
	    const struct fwstore_route *);
void	 fwstore_answer_body_refused(struct fwstore_answer *);
int	 fwstore_answer_image(struct fwstore_answer *,
	    const struct fwstore_ask *, const struct fwstore_grant *);
int	 fwstore_answer_refusal(struct fwstore_answer *,
	    const struct fwstore_grant *);
int	 fwstore_answer_range(const struct fwstore_ask *,
	    const struct fwstore_grant *, uint64_t *first, uint64_t *end);
int	 fwstore_is_hex(const char *, size_t len);

/* route.c */
int	 fwstore_route(const struct http_request *, struct fwstore_route *);
int	 fwstore_route_quiet(const struct http_request *);

/* firmware.c */
int	 fwstore_firmware_open(struct fwstore *, const struct fwstore_grant *);

#endif
