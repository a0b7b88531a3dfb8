/* SPDX-License-Identifier: MIT */
/*
 * Private header of otad-fwstore, the firmware download daemon: serves
 * GET and HEAD /ota/<ticket> over plain HTTP, asking admind over the
 * control socket whether each download may go ahead and reporting its
 * progress back.
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

struct fwstore {
	uv_loop_t		*loop;
	struct cfg		*cfg;
	char			*firmware_dir;
	struct http_server	 http;
	struct ctl_client	 ctl;
	unsigned		 ndownloads;	/* GETs holding a slot */
	uv_signal_t		 sigint, sigterm;
};

/* What admind answered to CTL_FW_CHECK. */
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

/* control.c */
int	 fwstore_ctl_start(struct fwstore *);
int	 fwstore_ctl_ready(struct fwstore *);
int	 fwstore_ctl_check(struct fwstore *, const struct http_request *,
	    const char *ticket, const char *remote_addr, int head,
	    ctl_reply_cb, void *);
int	 fwstore_ctl_grant(struct ctl_reader *, struct fwstore_grant *);
void	 fwstore_ctl_grant_free(struct fwstore_grant *);
void	 fwstore_ctl_progress(struct fwstore *, uint64_t delivery_id,
	    enum ctl_progress, uint64_t sent, uint64_t total);
void	 fwstore_ctl_malformed(struct fwstore *);

/* download.c */
int	 fwstore_download_start(struct fwstore *, char *err, size_t errlen);

/* firmware.c */
int	 fwstore_firmware_open(struct fwstore *, const struct fwstore_grant *);
int	 fwstore_firmware_headers(const struct fwstore_grant *, char *out,
	    size_t outlen);
int	 fwstore_is_hex(const char *, size_t len);

#endif
