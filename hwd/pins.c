/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's pin values: the last value each device wrote with HARDWARE
 * (vw, dw, aw), kept in memory per device and sent back by HARDWARE_SYNC as
 * the HARDWARE frames the Blynk library expects (PROTOCOL.md 1.2).  otad is
 * an OTA server, not an IoT cloud: this only keeps a sketch that restores
 * its pins after a reboot working.  Bounded per device, lost when hwd
 * restarts.  A write to the pin admind asked consent on goes to admind
 * as the device's answer too.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwd.h"
#include "log.h"
#include "proto.h"

#define HWD_PINS_MAX		64	/* pins kept per device */
#define HWD_PINS_MAX_VALUE	1024	/* bytes of one value */
#define HWD_PINS_MAX_BYTES	4096	/* bytes of all values of a device */

static struct hwd_pin *
hwd_pins_find(struct hwd_device *d, char type, unsigned pin)
{
	for (uint16_t i = 0; i < d->npins; i++)
		if (d->pins[i].type == type && d->pins[i].pin == pin)
			return &d->pins[i];
	return NULL;
}

static struct hwd_pin *
hwd_pins_add(struct hwd_device *d, char type, unsigned pin)
{
	struct hwd_pin	*pins, *p;

	if (d->npins >= HWD_PINS_MAX)
		return NULL;
	if ((pins = reallocarray(d->pins, d->npins + 1u,
	    sizeof(*pins))) == NULL)
		return NULL;
	d->pins = pins;
	p = &pins[d->npins++];
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->pin = (uint8_t)pin;
	return p;
}

/* -1 when the value is not kept (a limit, or out of memory). */
static int
hwd_pins_set(struct hwd_device *d, const struct hwd_pin_write *w)
{
	struct hwd_pin	*p = hwd_pins_find(d, w->type, w->pin);
	size_t		 old = p ? p->len : 0;
	char		*v;

	if (w->len > HWD_PINS_MAX_VALUE ||
	    d->pins_bytes - old + w->len > HWD_PINS_MAX_BYTES)
		return -1;
	if (p != NULL && p->len == w->len && memcmp(p->value, w->value,
	    w->len) == 0)
		return 0;
	if ((v = malloc(w->len ? w->len : 1)) == NULL)
		return -1;
	if (p == NULL && (p = hwd_pins_add(d, w->type, w->pin)) == NULL) {
		free(v);
		return -1;
	}
	memcpy(v, w->value, w->len);
	free(p->value);
	p->value = v;
	d->pins_bytes = (uint16_t)(d->pins_bytes - old + w->len);
	p->len = (uint16_t)w->len;
	return 0;
}

/* Keeps a HARDWARE body's pin value for device d; other bodies (pm, vr)
 * keep nothing.  -1 when a write was not kept. */
int
hwd_pins_store(struct hwd_device *d, const char *body, size_t len)
{
	struct hwd_pin_write w;

	if (hwd_proto_pin_write(body, len, &w) == -1)
		return 0;
	return hwd_pins_set(d, &w);
}

/* HARDWARE from a logged-in device: kept, never answered.  A write to
 * the device's consent pin is also its answer to admind: the pin admind
 * asked on here, else [admind] consent_pin (the question may have come
 * over another worker before the device logged in again here; admind
 * ignores an answer nothing waits for). */
int
hwd_pins_hardware(struct hwd_conn *c, const char *body, size_t len)
{
	struct hwd_device *d = c->device;
	struct hwd_pin_write w;
	unsigned	  pin = d->consent_asked ? d->consent_pin :
			    hwd_env.cfg.admind.consent_pin;

	if (hwd_pins_store(d, body, len) == -1)
		hwd_conn_log(c, LOG_DEBUG, "pin value not kept: over %u pins "
		    "or %u bytes per device", HWD_PINS_MAX,
		    HWD_PINS_MAX_BYTES);
	if (hwd_proto_pin_write(body, len, &w) == 0 && w.type == 'v' &&
	    w.pin == pin)
		hwd_admind_consent(c, pin, w.value, w.len);
	return 0;
}

static int
hwd_pins_send(struct hwd_conn *c, uint16_t msg_id, const struct hwd_pin *p)
{
	struct buf	 frame = BUF_INIT;
	int		 rc;

	if (hwd_proto_hardware_len(p->pin, p->len) > c->buff_in) {
		hwd_conn_log(c, LOG_DEBUG, "pin %c%u not synced: over the "
		    "device's buff-in %u", p->type, p->pin, c->buff_in);
		return 0;
	}
	if (hwd_proto_hardware(&frame, msg_id, p->type, p->pin, p->value,
	    p->len) == -1) {
		buf_free(&frame);
		return 0;
	}
	rc = hwd_conn_send(c, frame.data, frame.len);
	buf_free(&frame);
	return rc;
}

/*
 * HARDWARE_SYNC: an empty body asks for every kept value, "vr\0pin..."
 * for those pins.  Each value goes back as one HARDWARE frame with the
 * request's msg_id, as the legacy server did; pins never written send
 * nothing.  -1 when the connection closed.
 */
int
hwd_pins_sync(struct hwd_conn *c, uint16_t msg_id, const char *body,
    size_t len)
{
	struct hwd_device *d = c->device;
	struct hwd_pin	  *p;
	size_t		   pos;
	unsigned	   pin;
	char		   type;

	if (len == 0) {
		for (uint16_t i = 0; i < d->npins; i++)
			if (hwd_pins_send(c, msg_id, &d->pins[i]) == -1)
				return -1;
		return 0;
	}
	if (hwd_proto_pin_read(body, len, &type, &pos) == -1)
		return hwd_conn_respond(c, msg_id, HWD_STATUS_ILLEGAL_BODY);
	while (hwd_proto_pin_next(body, len, &pos, &pin))
		if ((p = hwd_pins_find(d, type, pin)) != NULL &&
		    hwd_pins_send(c, msg_id, p) == -1)
			return -1;
	return 0;
}

void
hwd_pins_free(struct hwd_device *d)
{
	for (uint16_t i = 0; i < d->npins; i++)
		free(d->pins[i].value);
	free(d->pins);
	d->pins = NULL;
	d->npins = 0;
	d->pins_bytes = 0;
}

/* Every kept value as a HARDWARE frame, one after the other: what admind
 * keeps while the device is offline. */
int
hwd_pins_save(const struct hwd_device *d, struct buf *out)
{
	for (uint16_t i = 0; i < d->npins; i++)
		if (hwd_proto_hardware(out, 1, d->pins[i].type,
		    d->pins[i].pin, d->pins[i].value, d->pins[i].len) == -1)
			return -1;
	return 0;
}

/* The values hwd_pins_save() wrote, kept again (decoded and checked as
 * any device frame: what is not a whole HARDWARE frame ends the list);
 * replace 0: a pin that has a value keeps it. */
void
hwd_pins_load(struct hwd_device *d, const char *p, size_t len, int replace)
{
	struct hwd_pin_write w;
	struct hwd_frame f;
	size_t		 off = 0;
	long		 n;

	while ((n = hwd_proto_decode(p + off, len - off, HWD_PROTO_MAX_BODY,
	    &f)) > 0 && f.cmd == HWD_CMD_HARDWARE) {
		if (replace || hwd_proto_pin_write(f.body, f.len, &w) == -1 ||
		    hwd_pins_find(d, w.type, w.pin) == NULL)
			(void)hwd_pins_store(d, f.body, f.len);
		off += (size_t)n;
	}
}
