/* SPDX-License-Identifier: MIT */
/*
 * otad-hwd's table of logged-in devices: a hash table from device id to the
 * list of that device's connections (several may log in with one token, and
 * an OTA command goes to all of them).  An entry exists while its device
 * has a connection or kept pin values (pins.c).
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwd.h"
#include "log.h"

#define HWD_DEVICES_MIN_BUCKETS	256

static struct hwd_device **hwd_buckets;
static size_t		   hwd_nbuckets;
static size_t		   hwd_ndevices;

static size_t
hwd_devices_hash(uint64_t id)
{
	/* splitmix64's finaliser */
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)id & (hwd_nbuckets - 1);
}

static int
hwd_devices_grow(void)
{
	struct hwd_device **old = hwd_buckets, *d, *next;
	size_t		    oldn = hwd_nbuckets, n, h;

	n = oldn ? oldn * 2 : HWD_DEVICES_MIN_BUCKETS;
	if ((hwd_buckets = calloc(n, sizeof(*hwd_buckets))) == NULL) {
		hwd_buckets = old;
		return oldn ? 0 : -1;	/* longer chains still work */
	}
	hwd_nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		for (d = old[i]; d != NULL; d = next) {
			next = d->next;
			h = hwd_devices_hash(d->id);
			d->next = hwd_buckets[h];
			hwd_buckets[h] = d;
		}
	}
	free(old);
	return 0;
}

struct hwd_device *
hwd_devices_find(uint64_t id)
{
	struct hwd_device *d;

	if (hwd_nbuckets == 0)
		return NULL;
	for (d = hwd_buckets[hwd_devices_hash(id)]; d != NULL; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static struct hwd_device *
hwd_devices_new(uint64_t id)
{
	struct hwd_device *d;
	size_t		   h;

	if ((hwd_nbuckets == 0 || hwd_ndevices >= hwd_nbuckets) &&
	    hwd_devices_grow() == -1)
		return NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->id = id;
	LIST_INIT(&d->conns);
	h = hwd_devices_hash(id);
	d->next = hwd_buckets[h];
	hwd_buckets[h] = d;
	hwd_ndevices++;
	return d;
}

/* Registers c under device id; the name is updated (a rename in admind
 * shows at the next login). */
int
hwd_devices_attach(struct hwd_conn *c, uint64_t id, const char *name)
{
	struct hwd_device *d;
	char		  *copy;

	if ((copy = strdup(name ? name : "")) == NULL)
		return -1;
	if ((d = hwd_devices_find(id)) == NULL &&
	    (d = hwd_devices_new(id)) == NULL) {
		free(copy);
		return -1;
	}
	free(d->name);
	d->name = copy;
	LIST_INSERT_HEAD(&d->conns, c, dev_entry);
	d->nconns++;
	c->device = d;
	return 0;
}

/* The connection of c's device heard from least recently, other than c;
 * of equals the oldest login (the list holds the newest first). */
static struct hwd_conn *
hwd_devices_stalest(struct hwd_conn *c)
{
	struct hwd_conn	*t, *old = NULL;

	LIST_FOREACH(t, &c->device->conns, dev_entry)
		if (t != c && (old == NULL || t->since <= old->since))
			old = t;
	return old;
}

/*
 * Past max_device_connections, a new login of the device closes the
 * connection it was heard from least recently: a device that reconnects
 * before its old socket timed out gets in, and one token cannot hold more
 * sockets than that.
 */
void
hwd_devices_limit(struct hwd_conn *c)
{
	unsigned	 max = hwd_env.cfg.hwd.max_device_connections;
	struct hwd_conn	*old;
	char		 why[128];

	if (max == 0 || c->device == NULL || c->device->nconns <= max)
		return;		/* every login but a token's surplus */
	snprintf(why, sizeof(why), "the device logged in on more than "
	    "max_device_connections (%u) connections, and this one was heard "
	    "from least recently", max);
	while (c->device->nconns > max && (old = hwd_devices_stalest(c)) !=
	    NULL)
		hwd_conn_drop(old, why);
}

static void
hwd_devices_unlink(struct hwd_device *d)
{
	struct hwd_device **pp;

	for (pp = &hwd_buckets[hwd_devices_hash(d->id)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			hwd_ndevices--;
			return;
		}
	}
}

void
hwd_devices_detach(struct hwd_conn *c)
{
	struct hwd_device *d = c->device;

	if (d == NULL)
		return;
	LIST_REMOVE(c, dev_entry);
	c->device = NULL;
	d->nconns--;
	hwd_devices_release(d);
}

/* Frees d when nothing holds it: no connection, no pin value. */
void
hwd_devices_release(struct hwd_device *d)
{
	if (d->nconns > 0 || d->npins > 0)
		return;
	hwd_devices_unlink(d);
	free(d->name);
	free(d);
}

/* CTL_DEVICE_DROP: every connection of the device and every bridge to it
 * is closed; forget (the device was deleted) drops its pin values too.
 * The last close frees d. */
void
hwd_devices_drop(uint64_t id, int forget, const char *why)
{
	struct hwd_device *d = hwd_devices_find(id);

	hwd_bridge_revoke(id, why);	/* even with no connection of its own */
	if (d == NULL)
		return;
	if (forget)
		hwd_pins_free(d);
	if (d->nconns == 0) {
		hwd_devices_release(d);
		return;
	}
	for (unsigned n = d->nconns; n > 0; n--)
		hwd_conn_drop(LIST_FIRST(&d->conns), why);
}

void
hwd_devices_foreach(void (*cb)(struct hwd_device *, void *), void *arg)
{
	struct hwd_device *d, *next;

	for (size_t i = 0; i < hwd_nbuckets; i++)
		for (d = hwd_buckets[i]; d != NULL; d = next) {
			next = d->next;
			cb(d, arg);
		}
}

size_t
hwd_devices_count(void)
{
	return hwd_ndevices;
}

/* At exit, after every connection is gone. */
void
hwd_devices_free(void)
{
	struct hwd_device *d, *next;

	for (size_t i = 0; i < hwd_nbuckets; i++)
		for (d = hwd_buckets[i]; d != NULL; d = next) {
			next = d->next;
			if (d->nconns != 0)
				log_debug("device %llu still connected at exit",
				    (unsigned long long)d->id);
			hwd_pins_free(d);
			free(d->name);
			free(d);
		}
	hwd_ndevices = 0;
	free(hwd_buckets);
	hwd_buckets = NULL;
	hwd_nbuckets = 0;
}
