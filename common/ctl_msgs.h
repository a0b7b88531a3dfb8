/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's messages, written once (DESIGN.md section 2): each
 * line of CTL_MSGS names a message's type number, its name in logs, the
 * role that may send it, its kind and its payload fields in order.  ctl.h
 * makes the enum, one struct per message and the strict codec from it;
 * ctl.c the name/role/kind table.  Adding a message is one line here plus
 * its handler.
 *
 * Roles: "hwd", "fwstore", "admind"; "" is a peer before its hello; replies
 * name none (they are matched to a request of ours).  Kinds: a request
 * carries a non-zero id and gets one reply with that id, a notification
 * carries id 0.  Fields: u8/u16/u32/u64 big-endian, str (u32 length, bytes,
 * at most CTL_MAX_STR, no NUL), pairs (u32 n, n x (str, str), at most
 * CTL_MAX_PAIRS).  In a message's struct a str is a char *: malloc'd by
 * the decoder and freed by ctl_msg_free(); a sender points it at its own
 * string (NULL goes as "").
 */
#ifndef OTAD_CTL_MSGS_H
#define OTAD_CTL_MSGS_H

/*
 * M(ID, id, number, "name", "from", kind, fields) where fields is a list of
 * F(type, field).  Included only through ctl.h.
 */
#define CTL_MSGS(M, F)							\
	/* peer -> admind: the first message; reply CTL_OK or CTL_ERROR. \
	 * worker: which of the daemon's workers (1-based) */		\
	M(HELLO, hello, 1, "hello", "", CTL_REQUEST,			\
	    F(u32, version) F(str, role) F(u32, worker))		\
	/* the device's login token; reply CTL_AUTH_REPLY */		\
	M(AUTH, auth, 10, "auth", "hwd", CTL_REQUEST,			\
	    F(str, token) F(str, remote_addr))				\
	/* forget every online device: CTL_ONLINE and CTL_INFO of each	\
	 * follow, then CTL_ONLINE_DONE (sent after each (re)connect) */ \
	M(ONLINE_RESET, online_reset, 11, "online-reset", "hwd",	\
	    CTL_NOTIFICATION, )						\
	/* a login; between CTL_ONLINE_RESET and CTL_ONLINE_DONE a	\
	 * resync.  local_addr: the address the device connected to */	\
	M(ONLINE, online, 12, "online", "hwd", CTL_NOTIFICATION,	\
	    F(u64, device_id) F(u64, conn_id) F(str, remote_addr)	\
	    F(str, local_addr))						\
	/* the hardware info exactly as the device sent it */		\
	M(INFO, info, 13, "info", "hwd", CTL_NOTIFICATION,		\
	    F(u64, device_id) F(u64, conn_id) F(pairs, info))		\
	/* a connection closed; left: the device's connections this	\
	 * hwd worker still holds */					\
	M(OFFLINE, offline, 14, "offline", "hwd", CTL_NOTIFICATION,	\
	    F(u64, device_id) F(u64, conn_id) F(u32, left))		\
	/* the connections CTL_OTA_SEND reached; error "" when sent */	\
	M(OTA_SENT, ota_sent, 15, "ota-sent", "hwd", CTL_NOTIFICATION,	\
	    F(u64, device_id) F(u64, delivery_id) F(u32, reached)	\
	    F(str, error))						\
	M(EVENT, event, 16, "event", "hwd", CTL_NOTIFICATION,		\
	    F(u64, device_id) F(str, name) F(str, description))		\
	/* the resync list CTL_ONLINE_RESET began is complete */	\
	M(ONLINE_DONE, online_done, 17, "online-done", "hwd",		\
	    CTL_NOTIFICATION, )						\
	/* every few seconds: connections open now, connections refused	\
	 * past max_connections since hwd started */			\
	M(HWD_STATS, hwd_stats, 18, "hwd-stats", "hwd", CTL_NOTIFICATION, \
	    F(u64, connections) F(u64, refused))			\
	/* the device wrote its consent pin (the one CTL_CONSENT_ASK	\
	 * named): answer "accept", "defer" (minutes) or "decline" */	\
	M(CONSENT, consent, 19, "consent", "hwd", CTL_NOTIFICATION,	\
	    F(u64, device_id) F(str, answer) F(u32, minutes))		\
	/* path "/ota/<ticket>"; hwd answers with CTL_OTA_SENT */	\
	M(OTA_SEND, ota_send, 20, "ota-send", "admind", CTL_NOTIFICATION, \
	    F(u64, device_id) F(u64, delivery_id) F(str, path))		\
	/* close every connection of the device; forget (it was deleted) \
	 * drops its kept pin values too (a rotated token keeps them) */ \
	M(DEVICE_DROP, device_drop, 21, "device-drop", "admind",	\
	    CTL_NOTIFICATION,						\
	    F(u64, device_id) F(u8, forget) F(str, reason))		\
	/* an update waits for the device's consent: hwd writes virtual	\
	 * pin "pending\0<version>\0<size>\0<job id>" to every		\
	 * connection of the device and reports its writes to that pin	\
	 * with CTL_CONSENT */						\
	M(CONSENT_ASK, consent_ask, 22, "consent-ask", "admind",	\
	    CTL_NOTIFICATION,						\
	    F(u64, device_id) F(u8, pin) F(str, version) F(u64, size)	\
	    F(u64, job_id))						\
	/* a BRIDGE write to a device this hwd worker does not hold:	\
	 * admind passes it on to the workers that do; reply CTL_OK,	\
	 * or CTL_ERROR when the device is offline */			\
	M(BRIDGE_WRITE, bridge_write, 23, "bridge-write", "hwd",	\
	    CTL_REQUEST,						\
	    F(u64, device_id) F(u16, msg_id) F(bytes, body))		\
	/* the device's last connection on this worker closed: the pin	\
	 * values it wrote (HARDWARE frames), for its next login on any	\
	 * worker (CTL_AUTH_REPLY) */					\
	M(PINS, pins, 25, "pins", "hwd", CTL_NOTIFICATION,		\
	    F(u64, device_id) F(bytes, pins))				\
	/* the pin values another worker handed over (CTL_PINS) after	\
	 * the device's next login here was answered: kept, not written \
	 * to the device */						\
	M(PINS_KEEP, pins_keep, 26, "pins-keep", "admind",		\
	    CTL_NOTIFICATION, F(u64, device_id) F(bytes, pins))	\
	/* a BRIDGE write from a device on another worker: kept as the	\
	 * device's pin value and written to its connections */	\
	M(DEVICE_WRITE, device_write, 24, "device-write", "admind",	\
	    CTL_NOTIFICATION,						\
	    F(u64, device_id) F(u16, msg_id) F(bytes, body))		\
	/* may this download go ahead: the ticket, the request's device	\
	 * headers (names lower-case; ":auth" carries ?auth= when	\
	 * present); reply CTL_FW_GRANT */				\
	M(FW_CHECK, fw_check, 30, "fw-check", "fwstore", CTL_REQUEST,	\
	    F(str, ticket) F(str, remote_addr) F(u8, head)		\
	    F(pairs, headers))						\
	/* what ctl_progress: bytes the device acknowledged (the union	\
	 * over the delivery's requests; COMPLETE only when it is the	\
	 * whole image) of total */					\
	M(FW_PROGRESS, fw_progress, 31, "fw-progress", "fwstore",	\
	    CTL_NOTIFICATION,						\
	    F(u64, delivery_id) F(u8, what) F(u64, bytes) F(u64, total)) \
	/* GET /update?auth=<token> of a plain ESP8266httpUpdate/	\
	 * HTTPUpdate fleet: as CTL_FW_CHECK with the device token in	\
	 * ticket; reply CTL_FW_GRANT (304: nothing pending; 200: the	\
	 * device's pending delivery, now sent) */			\
	M(FW_POLL, fw_poll, 32, "fw-poll", "fwstore", CTL_REQUEST,	\
	    F(str, ticket) F(str, remote_addr) F(u8, head)		\
	    F(pairs, headers))						\
	M(OK, ok, 0x8001, "ok", NULL, CTL_REPLY, )			\
	M(ERROR, error, 0x8002, "error", NULL, CTL_REPLY,		\
	    F(str, message))						\
	/* result: enum ctl_auth_result */				\
	/* pins: the values hwd handed over at the device's last logout	\
	 * (CTL_PINS), to keep again */					\
	M(AUTH_REPLY, auth_reply, 0x8003, "auth-reply", NULL, CTL_REPLY, \
	    F(u8, result) F(u64, device_id) F(str, name) F(bytes, pins))	\
	/* status 200, 304, 403, 404, 409, 413 or 503; reason one line	\
	 * for the device; sha256 hex (the file name), uploaded_at unix	\
	 * seconds */							\
	M(FW_GRANT, fw_grant, 0x8004, "fw-grant", NULL, CTL_REPLY,	\
	    F(u16, status) F(str, reason) F(u64, delivery_id)		\
	    F(str, sha256) F(u64, size) F(str, md5) F(str, sha256_b64)	\
	    F(str, version) F(u64, uploaded_at))

#endif
