/* SPDX-License-Identifier: MIT */
/*
 * Which bytes of an image otad-fwstore knows a device has: per delivery, the
 * union of the byte ranges its peers acknowledged, across the requests of
 * that delivery (a resumed download is several).  A delivery is downloaded
 * when the union is the whole image.  Pure functions over a fixed table,
 * bounded in ranges per delivery and in deliveries; when a bound is hit the
 * table forgets bytes, so that it may under-count but never over-count.
 */
#include <stdint.h>
#include <string.h>

#include "fwstore.h"

static void	fwstore_cover_drop_smallest(struct fwstore_span *, unsigned *);

/*
 * Adds [first, end) (cut at the image's size) to the union.  Past
 * FWSTORE_COVER_SPANS disjoint ranges the smallest one is forgotten.
 */
void
fwstore_cover_add(struct fwstore_cover *c, uint64_t first, uint64_t end)
{
	struct fwstore_span	 out[FWSTORE_COVER_SPANS + 1];
	struct fwstore_span	 add = { first, end < c->size ? end : c->size };
	unsigned		 i, n = 0, placed = 0;

	if (add.first >= add.end)
		return;
	for (i = 0; i < c->nspans; i++) {
		const struct fwstore_span *s = &c->spans[i];

		if (s->end < add.first)
			out[n++] = *s;
		else if (s->first > add.end) {
			if (!placed)
				out[n++] = add;
			placed = 1;
			out[n++] = *s;
		} else {			/* overlaps or touches */
			add.first = s->first < add.first ? s->first : add.first;
			add.end = s->end > add.end ? s->end : add.end;
		}
	}
	if (!placed)
		out[n++] = add;
	if (n > FWSTORE_COVER_SPANS)
		fwstore_cover_drop_smallest(out, &n);
	memcpy(c->spans, out, n * sizeof(out[0]));
	c->nspans = n;
}

/* Bytes in the union. */
uint64_t
fwstore_cover_bytes(const struct fwstore_cover *c)
{
	uint64_t	 n = 0;
	unsigned	 i;

	for (i = 0; i < c->nspans; i++)
		n += c->spans[i].end - c->spans[i].first;
	return n;
}

/* 1 when the union is [0, size): every byte of the image arrived. */
int
fwstore_cover_all(const struct fwstore_cover *c)
{
	if (c->size == 0)
		return 1;
	return c->nspans == 1 && c->spans[0].first == 0 &&
	    c->spans[0].end == c->size;
}

/*
 * The delivery's entry, made empty when it is new (or its size changed);
 * a new entry takes a free slot or the one used longest ago.
 */
struct fwstore_cover *
fwstore_cover_get(struct fwstore_coverage *t, uint64_t delivery_id,
    uint64_t size)
{
	struct fwstore_cover	*c, *oldest = &t->entries[0];
	unsigned		 i;

	t->clock++;
	for (i = 0; i < FWSTORE_COVER_DELIVERIES; i++) {
		c = &t->entries[i];
		if (c->used != 0 && c->delivery_id == delivery_id &&
		    c->size == size) {
			c->used = t->clock;
			return c;
		}
		if (c->used < oldest->used)
			oldest = c;
	}
	memset(oldest, 0, sizeof(*oldest));
	oldest->delivery_id = delivery_id;
	oldest->size = size;
	oldest->used = t->clock;
	return oldest;
}

/* Forgets the delivery (its download was reported complete). */
void
fwstore_cover_drop(struct fwstore_coverage *t, uint64_t delivery_id)
{
	unsigned	 i;

	for (i = 0; i < FWSTORE_COVER_DELIVERIES; i++)
		if (t->entries[i].used != 0 &&
		    t->entries[i].delivery_id == delivery_id)
			memset(&t->entries[i], 0, sizeof(t->entries[i]));
}

static void
fwstore_cover_drop_smallest(struct fwstore_span *s, unsigned *n)
{
	unsigned	 i, min = 0;

	for (i = 1; i < *n; i++)
		if (s[i].end - s[i].first < s[min].end - s[min].first)
			min = i;
	memmove(&s[min], &s[min + 1], (*n - min - 1) * sizeof(s[0]));
	(*n)--;
}
