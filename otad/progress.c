/* SPDX-License-Identifier: MIT */
/*
 * Progress of the `otad` client commands: on a terminal one line redrawn
 * in place (a bar, bytes, rate and time left), otherwise a plain line at
 * each tenth so that a log or a CI job reads it too.  Also the byte sizes
 * and the bar that `otad watch` draws for a job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#include "otad.h"

#define PROGRESS_REDRAW_MS	100
#define PROGRESS_BAR_CELLS	24

void
progress_bytes(uint64_t n, char *out)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double		 v = (double)n;
	size_t		 u = 0;

	if (n < 1024) {
		snprintf(out, 16, "%" PRIu64 " B", n);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < nitems(units); u++)
		v /= 1024;
	snprintf(out, 16, "%.1f %s", v, units[u]);
}

void
progress_bar(uint64_t done, uint64_t total, int width, char *out)
{
	int	 full = total ? (int)(done * (uint64_t)width / total) : width;

	if (full > width)
		full = width;
	out[0] = '[';
	memset(out + 1, '#', (size_t)full);
	memset(out + 1 + full, '.', (size_t)(width - full));
	out[width + 1] = ']';
	out[width + 2] = '\0';
}

void
progress_begin(struct progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->started_ms = util_now_ms();
	p->tty = isatty(STDOUT_FILENO);
	p->tenth = -1;
}

/* The terminal line: bar, percent, bytes, rate, time left. */
static void
progress_draw(struct progress *p, uint64_t now)
{
	char		 bar[PROGRESS_BAR_CELLS + 3], done[16], total[16], rate[16];
	uint64_t	 ms = now - p->started_ms, bps, left = 0;

	bps = ms ? p->done * 1000 / ms : 0;
	if (bps > 0 && p->total > p->done)
		left = (p->total - p->done) / bps;
	progress_bar(p->done, p->total, PROGRESS_BAR_CELLS, bar);
	progress_bytes(p->done, done);
	progress_bytes(p->total, total);
	progress_bytes(bps, rate);
	printf("\r%s %s %3d%%  %s / %s  %s/s  %" PRIu64 ":%02" PRIu64
	    " left  ", p->label, bar, p->total ? (int)(p->done * 100 /
	    p->total) : 100, done, total, rate, left / 60, left % 60);
	fflush(stdout);
}

void
progress_update(struct progress *p, uint64_t done)
{
	uint64_t	 now = util_now_ms();
	int		 tenth;

	if (p->label == NULL)
		return;
	if (done > p->total)
		done = p->total;
	p->done = done;
	if (p->tty) {
		if (done != p->drawn && (now - p->drawn_ms >=
		    PROGRESS_REDRAW_MS || done == p->total)) {
			p->drawn_ms = now;
			p->drawn = done;
			progress_draw(p, now);
		}
		return;
	}
	tenth = p->total ? (int)(done * 10 / p->total) : 10;
	if (tenth == p->tenth)
		return;
	p->tenth = tenth;
	printf("uploading %s: %d%% (%" PRIu64 " of %" PRIu64 " bytes)\n",
	    p->label, tenth * 10, done, p->total);
	fflush(stdout);
}

void
progress_end(struct progress *p)
{
	char		 sent[16], rate[16];
	uint64_t	 ms = util_now_ms() - p->started_ms;

	if (p->label == NULL)
		return;
	if (p->tty)
		fputs("\r\033[K", stdout);
	progress_bytes(p->done, sent);
	progress_bytes(ms ? p->done * 1000 / ms : p->done, rate);
	if (p->done == p->total)
		printf("uploaded %s: %s in %.1f s (%s/s)\n", p->label, sent,
		    (double)ms / 1000, rate);
	else
		printf("upload of %s stopped after %s of %" PRIu64 " bytes\n",
		    p->label, sent, p->total);
	fflush(stdout);
}
