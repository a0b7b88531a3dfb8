/* SPDX-License-Identifier: MIT */
/*
 * Download throughput for the web page's chart: the firmware bytes fwstore
 * reports as written to devices, summed into THROUGHPUT_SLOTS buckets of
 * THROUGHPUT_STEP_S seconds (the last hour), in otad-admind's memory.
 */
#include <inttypes.h>
#include <time.h>

#include "admind.h"
#include "json.h"

struct throughput_slot {
	int64_t		 start;		/* Unix s, a multiple of the step */
	uint64_t	 bytes;
};

static struct throughput_slot	throughput[THROUGHPUT_SLOTS];

void
throughput_add(uint64_t bytes)
{
	int64_t		 start = (int64_t)time(NULL);
	struct throughput_slot *s;

	if (bytes == 0)
		return;
	start -= start % THROUGHPUT_STEP_S;
	s = &throughput[(start / THROUGHPUT_STEP_S) % THROUGHPUT_SLOTS];
	if (s->start != start) {
		s->start = start;
		s->bytes = 0;
	}
	s->bytes += bytes;
}

/* {"step_s":10,"samples":[{"at":...,"bytes":n},...]}, oldest first, a
 * sample for every step of the last hour (0 when nothing was sent). */
void
throughput_json(struct buf *b)
{
	int64_t		 now = (int64_t)time(NULL), start;
	const struct throughput_slot *s;

	now -= now % THROUGHPUT_STEP_S;
	buf_printf(b, "{\"step_s\":%d,\"samples\":[", THROUGHPUT_STEP_S);
	for (int i = THROUGHPUT_SLOTS - 1; i >= 0; i--) {
		start = now - (int64_t)i * THROUGHPUT_STEP_S;
		s = &throughput[(start / THROUGHPUT_STEP_S) % THROUGHPUT_SLOTS];
		buf_adds(b, "{");
		json_key(b, "at");
		json_time(b, start);
		buf_printf(b, ",\"bytes\":%" PRIu64 "}%s",
		    s->start == start ? s->bytes : 0, i ? "," : "");
	}
	buf_adds(b, "]}");
}
