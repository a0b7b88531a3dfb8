/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the union of acknowledged byte ranges per delivery
 * (fwstore/coverage.c): merging, the bytes counted, whether the whole image
 * is covered, and the bounds (ranges per delivery, deliveries remembered),
 * which may forget bytes but never count one that was not acknowledged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwstore.h"
#include "check.h"

#define SIZE	614400

static struct fwstore_coverage	table;	/* large: not on the stack */

/* 1 when c holds exactly the n spans given as first, end pairs. */
static int
spans_are(const struct fwstore_cover *c, unsigned n, const uint64_t *p)
{
	unsigned	 i;

	if (c->nspans != n)
		return 0;
	for (i = 0; i < n; i++)
		if (c->spans[i].first != p[2 * i] ||
		    c->spans[i].end != p[2 * i + 1])
			return 0;
	return 1;
}

static void
test_merge(void)
{
	struct fwstore_cover	 c = { .delivery_id = 1, .size = SIZE };

	CHECK(fwstore_cover_bytes(&c) == 0 && !fwstore_cover_all(&c));
	fwstore_cover_add(&c, SIZE - 1, SIZE);		/* bytes=-1 */
	CHECK(fwstore_cover_bytes(&c) == 1 && !fwstore_cover_all(&c));
	fwstore_cover_add(&c, 0, 1000);
	CHECK(spans_are(&c, 2, (uint64_t[]){ 0, 1000, SIZE - 1, SIZE }));
	fwstore_cover_add(&c, 0, 1000);			/* again: no change */
	CHECK(fwstore_cover_bytes(&c) == 1001);
	fwstore_cover_add(&c, 5000, 6000);
	fwstore_cover_add(&c, 3000, 4000);
	CHECK(spans_are(&c, 4, (uint64_t[]){ 0, 1000, 3000, 4000, 5000, 6000,
	    SIZE - 1, SIZE }));
	fwstore_cover_add(&c, 4000, 5000);		/* touches both */
	CHECK(spans_are(&c, 3, (uint64_t[]){ 0, 1000, 3000, 6000, SIZE - 1,
	    SIZE }));
	fwstore_cover_add(&c, 500, 3500);		/* overlaps two */
	CHECK(spans_are(&c, 2, (uint64_t[]){ 0, 6000, SIZE - 1, SIZE }));
	fwstore_cover_add(&c, 7000, 7000);		/* empty */
	fwstore_cover_add(&c, 9000, 8000);		/* backwards */
	CHECK(fwstore_cover_bytes(&c) == 6001 && c.nspans == 2);
	fwstore_cover_add(&c, 1000, SIZE + 500);	/* cut at the size */
	CHECK(spans_are(&c, 1, (uint64_t[]){ 0, SIZE }));
	CHECK(fwstore_cover_bytes(&c) == SIZE && fwstore_cover_all(&c));
}

/* A download resumed from where it stopped, with the range growing as
 * the acknowledgements come, as fwstore adds it. */
static void
test_resume(void)
{
	struct fwstore_cover	 c = { .delivery_id = 2, .size = SIZE };
	uint64_t		 acked;

	for (acked = 0; acked <= 300000; acked += 60000)
		fwstore_cover_add(&c, 0, acked);
	CHECK(fwstore_cover_bytes(&c) == 300000 && c.nspans == 1);
	for (acked = 250000; acked < SIZE; acked += 70000) {
		fwstore_cover_add(&c, 250000, acked);
		CHECK(!fwstore_cover_all(&c));
	}
	fwstore_cover_add(&c, 250000, SIZE);
	CHECK(fwstore_cover_all(&c));
}

/* Past FWSTORE_COVER_SPANS disjoint ranges the smallest is forgotten:
 * fewer bytes, never more. */
static void
test_span_bound(void)
{
	struct fwstore_cover	 c = { .delivery_id = 3, .size = SIZE };
	unsigned		 i;

	for (i = 0; i < FWSTORE_COVER_SPANS; i++)
		fwstore_cover_add(&c, i * 1000, i * 1000 + 10 + i);
	CHECK(c.nspans == FWSTORE_COVER_SPANS);
	CHECK(c.spans[0].first == 0 && c.spans[0].end == 10);
	fwstore_cover_add(&c, 100000, 100100);
	CHECK(c.nspans == FWSTORE_COVER_SPANS);
	CHECK(c.spans[0].first == 1000);		/* [0, 10) went */
	CHECK(c.spans[FWSTORE_COVER_SPANS - 1].first == 100000);
	fwstore_cover_add(&c, 200000, 200001);		/* the smallest */
	CHECK(c.nspans == FWSTORE_COVER_SPANS);
	CHECK(c.spans[FWSTORE_COVER_SPANS - 1].first == 100000);
	for (i = 1; i < c.nspans; i++)
		CHECK(c.spans[i - 1].end < c.spans[i].first);
	fwstore_cover_add(&c, 0, SIZE);
	CHECK(fwstore_cover_all(&c) && c.nspans == 1);
}

static void
test_empty_image(void)
{
	struct fwstore_cover	 c = { .delivery_id = 4, .size = 0 };

	fwstore_cover_add(&c, 0, 10);
	CHECK(c.nspans == 0 && fwstore_cover_bytes(&c) == 0);
	CHECK(fwstore_cover_all(&c));
}

static void
test_table(void)
{
	struct fwstore_cover	*a, *b, *c;
	uint64_t		 id;

	memset(&table, 0, sizeof(table));
	a = fwstore_cover_get(&table, 10, SIZE);
	fwstore_cover_add(a, 0, 1000);
	b = fwstore_cover_get(&table, 11, SIZE);
	CHECK(b != a && fwstore_cover_bytes(b) == 0);
	CHECK(fwstore_cover_get(&table, 10, SIZE) == a);
	CHECK(fwstore_cover_bytes(a) == 1000);
	/* another size is another image: start again */
	c = fwstore_cover_get(&table, 10, SIZE / 2);
	CHECK(c != a && fwstore_cover_bytes(c) == 0);
	fwstore_cover_drop(&table, 10);
	a = fwstore_cover_get(&table, 10, SIZE);
	CHECK(fwstore_cover_bytes(a) == 0);
	fwstore_cover_add(a, 0, 2000);

	/* full: a new delivery takes the entry used longest ago (100); those
	 * used since stay */
	for (id = 100; id < 100 + FWSTORE_COVER_DELIVERIES - 2; id++)
		fwstore_cover_add(fwstore_cover_get(&table, id, SIZE), 0, 1);
	CHECK(fwstore_cover_bytes(fwstore_cover_get(&table, 10, SIZE)) == 2000);
	fwstore_cover_add(fwstore_cover_get(&table, 11, SIZE), 0, 5);
	fwstore_cover_get(&table, 99999, SIZE);		/* evicts 100 */
	CHECK(fwstore_cover_bytes(fwstore_cover_get(&table, 10, SIZE)) == 2000);
	CHECK(fwstore_cover_bytes(fwstore_cover_get(&table, 11, SIZE)) == 5);
	CHECK(fwstore_cover_bytes(fwstore_cover_get(&table, 101, SIZE)) == 1);
	CHECK(fwstore_cover_bytes(fwstore_cover_get(&table, 100, SIZE)) == 0);
}

int
main(void)
{
	test_merge();
	test_resume();
	test_span_bound();
	test_empty_image();
	test_table();
	return check_exit("test_coverage");
}
