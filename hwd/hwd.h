/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's private header: the device connection, the devices table, the
 * link to admind and the timeout wheel, shared by the files of the daemon
 * only.  The Blynk codec has its own header, proto.h.
 */
#ifndef OTAD_HWD_H
#define OTAD_HWD_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "cfg.h"
#include "ctl.h"
#include "ctl_conn.h"
#include "netaddr.h"
#include "stream.h"

#define HWD_MAX_TOKEN		256	/* bytes of a login's token */

enum hwd_conn_state {
	HWD_CONN_NEW,		/* accepted, waiting for LOGIN */
	HWD_CONN_AUTH,		/* LOGIN asked admind; reading paused */
	HWD_CONN_ONLINE,	/* logged in, registered under its device */
	HWD_CONN_CLOSING,	/* last reply draining, then closed */
};

struct hwd_device;
struct hwd_bridge;

/* One device connection.  Small on purpose: no read buffer while idle,
 * carry holds only a partial frame, info only what the device reported. */
struct hwd_conn {
	struct stream		 stream;
	LIST_ENTRY(hwd_conn)	 all_entry;	/* every connection */
	LIST_ENTRY(hwd_conn)	 dev_entry;	/* its device's connections */
	LIST_ENTRY(hwd_conn)	 wheel_entry;	/* timeout wheel slot */
	struct hwd_device	*device;	/* NULL until logged in */
	struct hwd_bridge	*bridges;	/* BRIDGE channels, NULL: none */
	uint64_t		 id;
	struct buf		 carry;		/* a frame split over reads */
	char			*info;		/* hardware info body, NUL-ended */
	uint16_t		 info_len;
	uint16_t		 buff_in;
	uint16_t		 h_beat;
	uint16_t		 login_msg_id;
	uint32_t		 since;		/* clock s: accept, last frame,
						 * or start of the closing */
	uint32_t		 quota_at;	/* clock s of the last RESPONSE 1 */
	uint8_t			 state;		/* enum hwd_conn_state */
	uint8_t			 nbridges;
	unsigned		 in_wheel:1;
	unsigned		 auth_pending:1; /* an admind reply holds it,
						 * reading paused */
	unsigned		 quota_told:1;	/* quota_at is set */
	unsigned		 closed:1;	/* stream handle closed */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}			 remote;
};

/* The last value the device wrote to one of its pins (pins.c). */
struct hwd_pin {
	char			 type;		/* 'v', 'd', 'a' */
	uint8_t			 pin;
	uint16_t		 len;
	char			*value;
};

/* The logged-in connections of one device id, and its pins.  The entry
 * outlives its connections while it holds pin values, so that a device
 * that reboots gets them back with HARDWARE_SYNC. */
struct hwd_device {
	struct hwd_device	*next;		/* hash chain */
	uint64_t		 id;
	char			*name;
	LIST_HEAD(, hwd_conn)	 conns;
	unsigned		 nconns;
	struct hwd_pin		*pins;
	uint16_t		 npins;
	uint16_t		 pins_bytes;	/* sum of the values' lengths */
	uint32_t		 rate_second;	/* clock s of rate_count */
	uint32_t		 rate_count;	/* messages in rate_second, over
						 * all its connections */
	uint8_t			 consent_pin;	/* the virtual pin admind asked
						 * consent on (CTL_CONSENT_ASK) */
	unsigned		 consent_asked:1; /* consent_pin is set */
};

struct hwd {
	uv_loop_t		*loop;
	struct cfg		 cfg;
	struct ctl_client	 ctl;
	int			 stopping;
};

extern struct hwd	 hwd_env;

struct hwd_frame;

/* conn.c */
int	 hwd_conn_listen(void);
void	 hwd_conn_stop(void);
uint32_t hwd_conn_deadline(struct hwd_conn *);
void	 hwd_conn_expire(struct hwd_conn *);
void	 hwd_conn_drop(struct hwd_conn *, const char *why);
void	 hwd_conn_close(struct hwd_conn *);
void	 hwd_conn_finish(struct hwd_conn *);
unsigned hwd_conn_count(void);
uint64_t hwd_conn_refused(void);
void	 hwd_conn_remote(struct hwd_conn *, char *, size_t);
void	 hwd_conn_local(struct hwd_conn *, char *, size_t);
void	 hwd_conn_log(struct hwd_conn *, int prio, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 hwd_conn_send(struct hwd_conn *, const void *, size_t);
int	 hwd_conn_respond(struct hwd_conn *, uint16_t msg_id, uint16_t status);
int	 hwd_conn_release(struct hwd_conn *);
void	 hwd_conn_carry_frames(struct hwd_conn *);
void	 hwd_conn_foreach(void (*)(struct hwd_conn *, void *), void *);

/* conn_session.c */
int	 hwd_conn_dispatch(struct hwd_conn *, const struct hwd_frame *);
/* admind's answer to the login's token (its pins: values kept for it). */
void	 hwd_conn_auth_done(struct hwd_conn *,
	    const struct ctl_msg_auth_reply *);
void	 hwd_conn_continue(struct hwd_conn *);

/* conn_ota.c */
int	 hwd_conn_ota(struct hwd_conn *, uint64_t delivery_id,
	    const char *path, char *err, size_t errlen);
int	 hwd_conn_consent_ask(struct hwd_conn *, unsigned pin,
	    const struct buf *value);

/* policy.c: pure, tested by tests/test_hwd.c */
enum hwd_rate {
	HWD_RATE_PASS,		/* counted, handled */
	HWD_RATE_DROP,		/* over the limit: dropped */
	HWD_RATE_TELL		/* dropped, and RESPONSE 1 is due */
};
enum hwd_rate hwd_policy_rate(struct hwd_device *, struct hwd_conn *,
	    unsigned limit, uint32_t now);
uint32_t hwd_policy_deadline(const struct hwd_conn *, unsigned login_timeout,
	    unsigned idle_timeout);
size_t	 hwd_policy_max_body(enum hwd_conn_state, unsigned max_body);
size_t	 hwd_policy_carry_max(unsigned max_body);
int	 hwd_policy_ota_base(struct buf *, const char *public_url,
	    const struct sockaddr *local, int port);
int	 hwd_policy_consent_ask(struct buf *value, const char *version,
	    uint64_t size, uint64_t job_id);
int	 hwd_policy_consent(const char *value, size_t len, char *answer,
	    size_t answer_len, uint32_t *minutes);

/* pins.c */
int	 hwd_pins_hardware(struct hwd_conn *, const char *, size_t);
int	 hwd_pins_store(struct hwd_device *, const char *, size_t);
int	 hwd_pins_sync(struct hwd_conn *, uint16_t msg_id, const char *,
	    size_t);
void	 hwd_pins_free(struct hwd_device *);
int	 hwd_pins_save(const struct hwd_device *, struct buf *);
void	 hwd_pins_load(struct hwd_device *, const char *, size_t,
	    int replace);

/* internal.c */
int	 hwd_internal_is_request(const struct hwd_frame *);
int	 hwd_internal_request(struct hwd_conn *, const struct hwd_frame *);

/* bridge.c */
int	 hwd_bridge_message(struct hwd_conn *, uint16_t msg_id, const char *,
	    size_t);
void	 hwd_bridge_auth_done(struct hwd_conn *, int result,
	    uint64_t device_id, const char *channel, uint16_t msg_id);
void	 hwd_bridge_free(struct hwd_conn *);
int	 hwd_bridge_deliver(uint64_t device_id, uint16_t msg_id,
	    const char *body, size_t len);
void	 hwd_bridge_write_done(struct hwd_conn *, uint16_t msg_id,
	    int delivered);
void	 hwd_bridge_revoke(uint64_t device_id, const char *why);

/* devices.c */
struct hwd_device *hwd_devices_find(uint64_t);
int	 hwd_devices_attach(struct hwd_conn *, uint64_t id, const char *name);
void	 hwd_devices_detach(struct hwd_conn *);
void	 hwd_devices_limit(struct hwd_conn *);
void	 hwd_devices_drop(uint64_t id, int forget, const char *why);
void	 hwd_devices_release(struct hwd_device *);
void	 hwd_devices_foreach(void (*)(struct hwd_device *, void *), void *);
size_t	 hwd_devices_count(void);
void	 hwd_devices_free(void);

/* admind.c */
/* Connects to admind as hwd worker (1-based). */
int	 hwd_admind_start(unsigned worker);
void	 hwd_admind_stop(void);
int	 hwd_admind_auth(struct hwd_conn *, const char *token, size_t len);
int	 hwd_admind_pins(struct hwd_device *);
int	 hwd_admind_bridge_write(struct hwd_conn *, uint64_t device_id,
	    uint16_t msg_id, const char *body, size_t len);
int	 hwd_admind_bridge_auth(struct hwd_conn *, const char *token,
	    size_t len, const char *channel, uint16_t msg_id);
void	 hwd_admind_online(struct hwd_conn *);
void	 hwd_admind_info(struct hwd_conn *);
void	 hwd_admind_offline(struct hwd_conn *);
void	 hwd_admind_event(struct hwd_conn *, const char *name,
	    const char *description);
void	 hwd_admind_consent(struct hwd_conn *, unsigned pin,
	    const char *value, size_t len);

/* timeout.c */
void	 hwd_timeout_start(void);
void	 hwd_timeout_stop(void);
uint32_t hwd_timeout_now(void);
void	 hwd_timeout_add(struct hwd_conn *);
void	 hwd_timeout_remove(struct hwd_conn *);

#endif
