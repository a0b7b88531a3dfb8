/* SPDX-License-Identifier: MIT */
/*
 * Unit test for admind's SQLite store (admind/store*.c): schema creation
 * and reopening, devices and their edits, firmware dedupe and deletion,
 * jobs, the delivery lifecycle with tickets and cancellation, API tokens,
 * and refusal of foreign or future files.
 * Runs in a fresh temporary directory; exit 0 on success.
 */
#include <sys/wait.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "store.h"

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		exit(1);						\
	}								\
} while (0)
#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || strcmp(a_, b_) != 0) {			\
		fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n",	\
		    __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_);	\
		exit(1);						\
	}								\
} while (0)

static char	 dir[PATH_MAX - 64];
static char	 dbpath[PATH_MAX];

struct counts {
	int64_t	 queued, canceled, succeeded, other;
	int	 calls;
};

static struct store *
open_ok(void)
{
	struct store	*st;
	char		 err[256];

	st = store_open(dbpath, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	return st;
}

static void
count_cb(void *arg, const char *state, int64_t n)
{
	struct counts	*c = arg;

	c->calls++;
	if (strcmp(state, "queued") == 0)
		c->queued = n;
	else if (strcmp(state, "canceled") == 0)
		c->canceled = n;
	else if (strcmp(state, "succeeded") == 0)
		c->succeeded = n;
	else
		c->other += n;
}

static void
test_devices(struct store *st)
{
	struct device	 d, *list;
	size_t		 n;
	int64_t		 id, id2, total;
	char		 name[32], tok[65];
	int		 i;

	CHECK(store_device_create(st, "kitchen", "aa11", "home,esp32",
	    &id) == 0);
	CHECK(id == 1);
	CHECK(store_device_create(st, "other", "aa11", NULL, &id2) == -2);
	CHECK(store_device_get(st, id, &d) == 1);
	CHECK(d.id == 1);
	CHECK_STR(d.name, "kitchen");
	CHECK_STR(d.tags, "home,esp32");
	CHECK_STR(d.last_addr, "");
	CHECK_STR(d.fw_version, "");
	CHECK(d.last_seen == 0);
	CHECK(d.created_at > 0);
	device_free(&d);
	CHECK(store_device_get(st, 99, &d) == 0);
	device_free(&d);

	CHECK(store_device_seen(st, id, "192.0.2.7:5123", 1700000000) == 0);
	CHECK(store_device_set_info(st, id, "1.2.3", "Jan  1 2024", "kitchen",
	    "ESP32", "1.3.2") == 0);
	CHECK(store_device_by_token(st, "aa11", &d) == 1);
	CHECK(d.id == 1);
	CHECK(d.last_seen == 1700000000);
	CHECK_STR(d.last_addr, "192.0.2.7:5123");
	CHECK_STR(d.fw_version, "1.2.3");
	CHECK_STR(d.build, "Jan  1 2024");
	CHECK_STR(d.fw_type, "kitchen");
	CHECK_STR(d.board, "ESP32");
	CHECK_STR(d.lib_version, "1.3.2");
	device_free(&d);
	CHECK(store_device_by_token(st, "nope", &d) == 0);
	device_free(&d);

	/* Devices 2..5, then paging. */
	for (i = 2; i <= 5; i++) {
		snprintf(name, sizeof(name), "dev%d", i);
		snprintf(tok, sizeof(tok), "tok%d", i);
		CHECK(store_device_create(st, name, tok, "", &id2) == 0);
		CHECK(id2 == i);
	}
	CHECK(store_device_list(st, 2, 1, &list, &n, &total) == 0);
	CHECK(n == 2);
	CHECK(total == 5);
	CHECK(list[0].id == 2);
	CHECK_STR(list[0].name, "dev2");
	CHECK(list[1].id == 3);
	CHECK_STR(list[1].tags, "");
	device_list_free(list, n);
	CHECK(store_device_list(st, -1, 0, &list, &n, &total) == 0);
	CHECK(n == 5);
	CHECK(total == 5);
	CHECK(list[4].id == 5);
	device_list_free(list, n);
	CHECK(store_device_list(st, 10, 5, &list, &n, &total) == 0);
	CHECK(n == 0);
	CHECK(total == 5);
	device_list_free(list, n);

	/* An id is never given twice, even after the newest device went. */
	CHECK(store_device_create(st, "gone", "tok6", "", &id2) == 0);
	CHECK(id2 == 6);
	CHECK(store_device_delete(st, id2) == 1);
	CHECK(store_device_create(st, "next", "tok7", "", &id2) == 0);
	CHECK(id2 == 7);
	CHECK(store_device_delete(st, id2) == 1);
}

/* test_firmware's two images. */
#define SHA_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_C	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static int64_t
test_firmware(struct store *st)
{
	struct firmware	 f, g;
	int64_t		 id, id2;
	int		 created;

	memset(&f, 0, sizeof(f));
	memset(f.sha256, 'a', 64);
	snprintf(f.sha256_b64, sizeof(f.sha256_b64), "%s",
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=");
	memset(f.md5, 'b', 32);
	f.size = 1048576;
	f.filename = "fw.bin";
	f.uploaded_at = 1700000100;
	f.uploaded_by = "admin";
	f.format = "esp32";
	f.chip = "esp32";
	f.version = "2.0.0";
	f.build = "Feb  2 2024";
	f.fw_type = "kitchen";
	f.board = "ESP32";
	f.project = "blynk";
	CHECK(store_firmware_add(st, &f, &id, &created) == 0);
	CHECK(id == 1);
	CHECK(created == 1);
	f.filename = "again.bin";
	CHECK(store_firmware_add(st, &f, &id2, &created) == 0);
	CHECK(id2 == 1);
	CHECK(created == 0);

	CHECK(store_firmware_get(st, id, &g) == 1);
	CHECK(g.id == 1);
	CHECK(strlen(g.sha256) == 64 && g.sha256[63] == 'a');
	CHECK_STR(g.sha256_b64, f.sha256_b64);
	CHECK(strlen(g.md5) == 32);
	CHECK(g.size == 1048576);
	CHECK_STR(g.filename, "fw.bin");
	CHECK(g.uploaded_at == 1700000100);
	CHECK_STR(g.uploaded_by, "admin");
	CHECK_STR(g.format, "esp32");
	CHECK_STR(g.version, "2.0.0");
	CHECK_STR(g.project, "blynk");
	firmware_free(&g);
	CHECK(store_firmware_get(st, 7, &g) == 0);
	firmware_free(&g);

	/* Absent text comes back as "". */
	memset(&f, 0, sizeof(f));
	memset(f.sha256, 'c', 64);
	f.format = "unknown";
	CHECK(store_firmware_add(st, &f, &id2, &created) == 0);
	CHECK(id2 == 2 && created == 1);
	CHECK(store_firmware_get(st, id2, &g) == 1);
	CHECK_STR(g.version, "");
	CHECK_STR(g.filename, "");
	CHECK(g.uploaded_at > 0);
	firmware_free(&g);
	return id;
}

static int64_t
job_new(struct store *st, int64_t fw, enum job_target kind,
    const char *target)
{
	struct job	 j;
	int64_t		 id;

	memset(&j, 0, sizeof(j));
	j.firmware_id = fw;
	j.target_kind = kind;
	j.target = (char *)target;
	j.max_parallel = 10;
	j.attempt_limit = 3;
	j.failure_threshold = 20;
	j.created_by = "admin";
	CHECK(store_job_create(st, &j, &id) == 0);
	return id;
}

/* A job for unknown firmware breaks the foreign key.  Last: PostgreSQL's
 * failed insert takes an id all the same, which the others count on. */
static void
test_job_refused(struct store *st)
{
	struct job	 j;
	int64_t		 id;

	memset(&j, 0, sizeof(j));
	j.firmware_id = 99;
	j.target_kind = JOB_TARGET_ALL;
	j.max_parallel = 1;
	j.attempt_limit = 1;
	CHECK(store_job_create(st, &j, &id) == -1);
}

static void
test_jobs(struct store *st, int64_t fw)
{
	struct job	 j;
	int64_t		 id, *ids;
	size_t		 n;

	id = job_new(st, fw, JOB_TARGET_DEVICES, "1,2,3");
	CHECK(id == 1);
	CHECK(store_job_get(st, id, &j) == 1);
	CHECK(j.id == 1);
	CHECK(j.firmware_id == fw);
	CHECK(j.target_kind == JOB_TARGET_DEVICES);
	CHECK_STR(j.target, "1,2,3");
	CHECK(j.force == 0);
	CHECK(j.max_parallel == 10);
	CHECK(j.attempt_limit == 3);
	CHECK(j.failure_threshold == 20);
	CHECK(j.state == JOB_ACTIVE);
	CHECK_STR(j.created_by, "admin");
	CHECK(j.created_at > 0);
	job_free(&j);
	CHECK(store_job_get(st, 42, &j) == 0);
	job_free(&j);

	id = job_new(st, fw, JOB_TARGET_TAG, "home");
	CHECK(id == 2);
	CHECK(store_job_get(st, id, &j) == 1);
	CHECK(j.target_kind == JOB_TARGET_TAG);
	job_free(&j);
	CHECK(store_jobs_active(st, &ids, &n) == 0);
	CHECK(n == 2 && ids[0] == 1 && ids[1] == 2);
	free(ids);
	CHECK(store_job_set_state(st, 2, JOB_ACTIVE, JOB_PAUSED) == 1);
	CHECK(store_job_set_state(st, 2, JOB_ACTIVE, JOB_PAUSED) == 0);
	CHECK(store_jobs_active(st, &ids, &n) == 0);
	CHECK(n == 1 && ids[0] == 1);
	free(ids);
	CHECK(store_job_set_state(st, 2, JOB_PAUSED, JOB_NSTATES) == -1);
}

static void
test_deliveries(struct store *st, int64_t fw)
{
	struct delivery	 dl, *list;
	struct firmware	 f, tf;
	struct counts	 c;
	size_t		 n;
	int64_t		 d1, d2, d3, d4, job3, *ids;
	int		 canceled;

	/* Job 1 targets devices 1, 2, 3. */
	CHECK(store_delivery_create(st, 1, 1, &d1) == 0);
	CHECK(store_delivery_create(st, 1, 2, &d2) == 0);
	CHECK(store_delivery_create(st, 1, 3, &d3) == 0);
	CHECK(d1 == 1 && d2 == 2 && d3 == 3);
	CHECK(store_delivery_create(st, 1, 3, &d4) == -1);	/* twice */

	CHECK(store_delivery_get(st, d1, &dl) == 1);
	CHECK(dl.id == d1 && dl.job_id == 1 && dl.device_id == 1);
	CHECK(dl.state == DELIVERY_QUEUED);
	CHECK(dl.attempts == 0);
	CHECK_STR(dl.ticket, "");
	CHECK(dl.bytes_sent == 0);
	CHECK_STR(dl.last_error, "");
	CHECK(dl.created_at > 0 && dl.updated_at == dl.created_at);
	delivery_free(&dl);

	CHECK(store_delivery_pending(st, 1, &dl) == 1);
	CHECK(dl.id == d1);
	delivery_free(&dl);
	CHECK(store_delivery_pending(st, 5, &dl) == 0);
	delivery_free(&dl);

	/* Sent with a ticket, then progress. */
	CHECK(store_delivery_update(st, d1, DELIVERY_QUEUED, DELIVERY_SENT,
	    "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, 1, 0) == 1);
	CHECK(store_delivery_by_ticket(st, "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &dl, NULL) == 1);
	CHECK(dl.id == d1);
	CHECK(dl.state == DELIVERY_SENT);
	CHECK(dl.attempts == 1);
	CHECK_STR(dl.ticket, "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	delivery_free(&dl);
	/* with the firmware its job names, read in the same statement */
	CHECK(store_firmware_get(st, fw, &f) == 1);
	CHECK(store_delivery_by_ticket(st, "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &dl, &tf) == 1);
	CHECK(dl.id == d1 && tf.id == fw && tf.size == f.size);
	CHECK_STR(tf.sha256, f.sha256);
	CHECK_STR(tf.md5, f.md5);
	CHECK_STR(tf.sha256_b64, f.sha256_b64);
	CHECK_STR(tf.version, f.version);
	CHECK(tf.uploaded_at == f.uploaded_at);
	firmware_free(&f);
	firmware_free(&tf);
	delivery_free(&dl);
	CHECK(store_delivery_by_ticket(st, "unknown", &dl, &tf) == 0);
	CHECK(tf.id == 0);
	delivery_free(&dl);
	CHECK(store_delivery_by_ticket(st, "unknown", &dl, NULL) == 0);
	delivery_free(&dl);
	CHECK(store_delivery_by_ticket(st, "", &dl, NULL) == 0);
	delivery_free(&dl);
	/* A ticket is unique. */
	CHECK(store_delivery_update(st, d2, DELIVERY_QUEUED, DELIVERY_SENT,
	    "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, 1, 0) == -1);

	CHECK(store_delivery_update(st, d1, DELIVERY_SENT, DELIVERY_DOWNLOADING,
	    NULL, NULL, 0, 0) == 1);
	/* a stale read moves nothing */
	CHECK(store_delivery_update(st, d1, DELIVERY_SENT, DELIVERY_QUEUED,
	    NULL, NULL, 0, 0) == 0);
	CHECK(store_delivery_progress(st, d1, 65536) == 0);
	CHECK(store_delivery_get(st, d1, &dl) == 1);
	CHECK(dl.state == DELIVERY_DOWNLOADING);
	CHECK_STR(dl.ticket, "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK(dl.bytes_sent == 65536);
	CHECK(dl.attempts == 1);
	delivery_free(&dl);

	/* Device 2 fails once with an error, then succeeds. */
	CHECK(store_delivery_update(st, d2, DELIVERY_QUEUED, DELIVERY_SENT,
	    "T2", "timeout", 1, 0) == 1);
	CHECK(store_delivery_update(st, d2, DELIVERY_SENT, DELIVERY_SUCCEEDED,
	    NULL, NULL, 0, 0) == 1);
	CHECK(store_delivery_get(st, d2, &dl) == 1);
	CHECK(dl.state == DELIVERY_SUCCEEDED);
	CHECK_STR(dl.ticket, "T2");	/* kept: fwstore answers it 403 */
	CHECK_STR(dl.last_error, "timeout");
	CHECK(dl.attempts == 1);
	delivery_free(&dl);

	memset(&c, 0, sizeof(c));
	CHECK(store_job_counts(st, 1, count_cb, &c) == 0);
	CHECK(c.calls == 3);
	CHECK(c.queued == 1 && c.succeeded == 1 && c.other == 1);

	/* A newer job (3) for device 1 cancels job 1's delivery. */
	job3 = job_new(st, fw, JOB_TARGET_DEVICES, "1");
	CHECK(job3 == 3);
	CHECK(store_delivery_create(st, job3, 1, &d4) == 0);
	CHECK(store_delivery_pending(st, 1, &dl) == 1);
	CHECK(dl.id == d4);
	delivery_free(&dl);
	CHECK(store_jobs_sharing(st, job3, 0, &ids, &n) == 0);
	CHECK(n == 1 && ids[0] == 1);
	free(ids);
	CHECK(store_jobs_sharing(st, 0, 1, &ids, &n) == 0);
	CHECK(n == 2 && ids[0] == 1 && ids[1] == job3);
	free(ids);
	CHECK(store_job_cancel_older(st, job3, "superseded by job 3") == 0);
	CHECK(store_delivery_get(st, d1, &dl) == 1);
	CHECK(dl.state == DELIVERY_CANCELED);
	/* the ticket is kept: fwstore answers it 403, not 404 */
	CHECK_STR(dl.ticket, "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	delivery_free(&dl);
	CHECK(store_delivery_by_ticket(st,
	    "T1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &dl, NULL) == 1);
	CHECK(dl.state == DELIVERY_CANCELED);
	CHECK_STR(dl.last_error, "superseded by job 3");
	delivery_free(&dl);
	CHECK(store_jobs_sharing(st, job3, 0, &ids, &n) == 0);
	CHECK(n == 0);
	free(ids);

	/* Paused jobs have no pending deliveries. */
	CHECK(store_job_set_state(st, job3, JOB_ACTIVE, JOB_PAUSED) == 1);
	CHECK(store_delivery_pending(st, 1, &dl) == 0);
	delivery_free(&dl);
	CHECK(store_job_set_state(st, job3, JOB_PAUSED, JOB_ACTIVE) == 1);

	/* Stopping job 1 cancels device 3's one; its ticket now finds a
	 * canceled delivery. */
	CHECK(store_delivery_update(st, d3, DELIVERY_QUEUED,
	    DELIVERY_DOWNLOADED, "T3", NULL, 1, 0) == 1);
	CHECK(store_job_set_state(st, 1, JOB_ACTIVE, JOB_STOPPED) == 1);
	CHECK(store_job_cancel(st, 1, "the job was stopped", &canceled) == 0);
	CHECK(canceled == 1);
	CHECK(store_delivery_by_ticket(st, "T3", &dl, NULL) == 1);
	CHECK(dl.state == DELIVERY_CANCELED);
	delivery_free(&dl);
	CHECK(store_delivery_get(st, d3, &dl) == 1);
	CHECK(dl.state == DELIVERY_CANCELED);
	CHECK_STR(dl.ticket, "T3");
	delivery_free(&dl);
	CHECK(store_delivery_pending(st, 3, &dl) == 0);
	delivery_free(&dl);

	memset(&c, 0, sizeof(c));
	CHECK(store_job_counts(st, 1, count_cb, &c) == 0);
	CHECK(c.calls == 2);
	CHECK(c.canceled == 2 && c.succeeded == 1 && c.queued == 0);

	CHECK(store_job_deliveries(st, 1, &list, &n) == 0);
	CHECK(n == 3);
	CHECK(list[0].id == d1 && list[1].id == d2 && list[2].id == d3);
	CHECK(list[1].state == DELIVERY_SUCCEEDED);
	delivery_list_free(list, n);

	/* Stopping inside the caller's transaction, then rolling back. */
	CHECK(store_begin(st) == 0);
	CHECK(store_job_set_state(st, job3, JOB_ACTIVE, JOB_STOPPED) == 1);
	CHECK(store_job_cancel(st, job3, "stopped", &canceled) == 0);
	CHECK(canceled == 1);
	store_rollback(st);
	store_rollback(st);		/* ended already: nothing to do */
	CHECK(store_delivery_pending(st, 1, &dl) == 1);
	CHECK(dl.id == d4);
	CHECK(dl.state == DELIVERY_QUEUED);
	delivery_free(&dl);

	CHECK(store_event(st, "job.stop", "admin", "127.0.0.1", 0, 1,
	    "stopped by admin") == 0);
	CHECK(store_event(st, "delivery", "", "", 1, job3, "queued") == 0);
}

static void
check_events(void)
{
	sqlite3		*db;
	sqlite3_stmt	*s;

	CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*), "
	    "sum(device_id IS NULL), sum(job_id) FROM events", -1, &s,
	    NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK(sqlite3_column_int(s, 0) == 3);	/* two + test_batch's */
	CHECK(sqlite3_column_int(s, 1) == 1);
	CHECK(sqlite3_column_int(s, 2) == 4);
	sqlite3_finalize(s);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	    NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static int
count_events(const char *insert_ancient)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	int		 n = -1;

	CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
	if (insert_ancient != NULL)
		CHECK(sqlite3_exec(db, insert_ancient, NULL, NULL, NULL) ==
		    SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &s,
	    NULL) == SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* A login as store_device_login tells it. */
struct told_login {
	int		 told, found;
	int64_t		 id;
	char		 name[32];
	struct buf	 pins;
};

static void
told_login(void *arg, int found, const struct device *d, const void *pins,
    size_t n)
{
	struct told_login *t = arg;

	t->told++;
	t->found = found;
	if (found == 1) {
		t->id = d->id;
		snprintf(t->name, sizeof(t->name), "%s", d->name);
	}
	buf_reset(&t->pins);
	if (pins != NULL)
		CHECK(buf_add(&t->pins, pins, n) == 0);
}

/* Polls (a shared store tells later) until t was told, 5 s at most. */
static void
poll_until_told(struct store *st, const struct told_login *t)
{
	for (int i = 0; t->told == 0 && i < 50000; i++) {
		store_poll(st);
		usleep(100);
	}
}

/* Asks, then polls until told once. */
static int
login(struct store *st, const char *token, struct told_login *t)
{
	t->told = 0;
	store_device_login(st, token, told_login, t);
	poll_until_told(st, t);
	CHECK(t->told == 1);
	return t->found;
}

/* Pin values kept while a device is offline: the last handed over wins,
 * bytes with NULs come back as they went, a deleted device keeps none;
 * on a shared store, logins asked together are told later, in order. */
static void
test_device_pins(struct store *st)
{
	struct told_login t = { 0 }, many[3] = { 0 };
	int64_t		 id;

	CHECK(store_device_create(st, "pins", "pins1", "", &id) == 0);
	CHECK(login(st, "pins1", &t) == 1 && t.pins.len == 0);
	CHECK(t.id == id);
	CHECK_STR(t.name, "pins");
	CHECK(store_device_pins_set(st, id, "a\0b", 3) == 0);
	CHECK(store_device_pins_set(st, id, "vw\0001\0x", 7) == 0);
	CHECK(login(st, "pins1", &t) == 1);
	CHECK(t.pins.len == 7 && memcmp(t.pins.data, "vw\0001\0x", 7) == 0);
	CHECK(store_device_pins_set(st, 99999, "x", 1) == 0);
	CHECK(login(st, "nosuch", &t) == 0 && t.pins.len == 0);

	store_device_login(st, "pins1", told_login, &many[0]);
	store_device_login(st, "nosuch", told_login, &many[1]);
	store_device_login(st, "pins1", told_login, &many[2]);
	CHECK(many[0].told == !store_shared(st));	/* SQLite: at once */
	poll_until_told(st, &many[2]);
	CHECK(many[0].told == 1 && many[0].found == 1 && many[0].id == id);
	CHECK(many[1].told == 1 && many[1].found == 0);
	CHECK(many[2].told == 1 && many[2].found == 1);
	for (int i = 0; i < 3; i++)
		buf_free(&many[i].pins);

	CHECK(store_device_delete(st, id) == 1);
	CHECK(login(st, "pins1", &t) == 0);
	buf_free(&t.pins);
}

/* The admin API's device edits: search, tags, renaming, a new token. */
static void
test_device_edits(struct store *st)
{
	struct device_filter f = { "", "", "", "" };
	struct device_page all = { -1, 0, 0 };
	struct device	 d, *list;
	int64_t		 id, other, total;
	size_t		 n;

	CHECK(store_device_create(st, "garage door", "edit1", "out,gate",
	    &id) == 0);
	CHECK(store_device_update(st, id, "Garage", NULL) == 1);
	CHECK(store_device_update(st, 999, "x", "y") == 0);
	CHECK(store_device_set_link(st, id, 1024, 30) == 0);
	CHECK(store_device_get(st, id, &d) == 1);
	CHECK_STR(d.name, "Garage");
	CHECK_STR(d.tags, "out,gate");
	CHECK(d.buff_in == 1024 && d.h_beat == 30);
	device_free(&d);

	f.text = "gARAGE";
	CHECK(store_device_search(st, &f, &all, &list, &n, &total) == 0);
	CHECK(n == 1 && total == 1 && list[0].id == id);
	device_list_free(list, n);
	f.text = "";
	f.tag = "gate";
	CHECK(store_device_search(st, &f, &all, &list, &n, &total) == 0);
	CHECK(n == 1 && list[0].id == id);
	device_list_free(list, n);
	f.tag = "gat";			/* a whole tag, not a part of one */
	CHECK(store_device_search(st, &f, &all, &list, &n, &total) == 0);
	CHECK(n == 0 && total == 0);
	device_list_free(list, n);
	CHECK(store_device_count_tag(st, "out", &total) == 0 && total == 1);
	/* the tag index follows an edit of the tags */
	CHECK(store_device_update(st, id, NULL, "in,gate,\"q\\") == 1);
	CHECK(store_device_count_tag(st, "out", &total) == 0 && total == 0);
	CHECK(store_device_count_tag(st, "\"q\\", &total) == 0 && total == 1);
	f.tag = "in";
	CHECK(store_device_search(st, &f, &all, &list, &n, &total) == 0);
	CHECK(n == 1 && total == 1 && list[0].id == id);
	device_list_free(list, n);
	f.tag = "";

	/* A token is one device's: -2 for another's, 0 for no device. */
	CHECK(store_device_set_token(st, id, "tok2") == -2);
	CHECK(store_device_set_token(st, id, "edit2") == 1);
	CHECK(store_device_set_token(st, 999, "edit3") == 0);
	CHECK(store_device_by_token(st, "edit2", &d) == 1 && d.id == id);
	device_free(&d);
	CHECK(store_device_count(st, &total) == 0);
	CHECK(store_device_delete(st, id) == 1);
	CHECK(store_device_delete(st, id) == 0);
	CHECK(store_device_count(st, &other) == 0 && other == total - 1);
	CHECK(store_device_count_tag(st, "gate", &total) == 0 && total == 0);
}

/* Collects one chunk read back by store_firmware_data_get. */
struct chunk_got {
	uint8_t	 data[64];
	size_t	 len;
};

static int
chunk_read(void *arg, const void *data, size_t len)
{
	struct chunk_got	*g = arg;

	CHECK(len <= sizeof(g->data));
	memcpy(g->data, data, len);
	g->len = len;
	return 0;
}

static int
chunk_refuse(void *arg, const void *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	return -1;
}

/* An image's bytes in chunks, byte for byte (NUL and 0xff too), in
 * either engine; store_firmware_delete takes them (test_firmware_delete
 * checks).  sha_a and sha_c: test_firmware's two images. */
static void
test_firmware_data(struct store *st, const char *sha_a, const char *sha_c)
{
	const uint8_t	 one[] = { 0x00, 0xff, 'E', 0x9, 0x00, '\\' };
	const uint8_t	 two[] = { 0x1f, 0x8b };
	struct chunk_got g;

	CHECK(store_firmware_data_put(st, sha_c, 0, one, sizeof(one)) == 0);
	CHECK(store_firmware_data_put(st, sha_c, 1, two, sizeof(two)) == 0);
	CHECK(store_firmware_data_put(st, sha_a, 0, two, sizeof(two)) == 0);
	/* the same bytes again: nothing changes; other bytes: replaced */
	CHECK(store_firmware_data_put(st, sha_c, 1, two, sizeof(two)) == 0);
	CHECK(store_firmware_data_put(st, sha_a, 0, one, sizeof(one)) == 0);

	CHECK(store_firmware_data_get(st, sha_c, 0, chunk_read, &g) == 1);
	CHECK(g.len == sizeof(one) && memcmp(g.data, one, g.len) == 0);
	CHECK(store_firmware_data_get(st, sha_c, 1, chunk_read, &g) == 1);
	CHECK(g.len == sizeof(two) && memcmp(g.data, two, g.len) == 0);
	CHECK(store_firmware_data_get(st, sha_a, 0, chunk_read, &g) == 1);
	CHECK(g.len == sizeof(one) && memcmp(g.data, one, g.len) == 0);
	CHECK(store_firmware_data_get(st, sha_c, 2, chunk_read, &g) == 0);
	CHECK(store_firmware_data_get(st, sha_c, 0, chunk_refuse, &g) == -1);
}

/* Firmware that jobs name is only marked deleted, and comes back. */
static void
test_firmware_delete(struct store *st, int64_t fw)
{
	struct firmware	 f, *list;
	struct job	*jobs;
	int64_t		 when, total, count, *ids;
	size_t		 n;

	CHECK(store_firmware_jobs(st, fw, &jobs, &n) == 0);
	CHECK(n >= 2 && jobs[0].id > jobs[1].id);	/* newest first */
	job_list_free(jobs, n);
	CHECK(store_firmware_in_use(st, fw, &ids, &n) == 0);
	CHECK(n >= 1);
	free(ids);
	CHECK(store_firmware_count(st, &count) == 0 && count == 2);

	CHECK(store_firmware_delete(st, 2) == 0);	/* no job: gone */
	CHECK(store_firmware_get(st, 2, &f) == 0);
	firmware_free(&f);
	CHECK(store_firmware_deleted_at(st, 2, &when) == 0);

	CHECK(store_firmware_delete(st, fw) == 0);	/* kept, marked */
	CHECK(store_firmware_deleted_at(st, fw, &when) == 1 && when > 0);
	/* the bytes go with both (test_firmware_data put them) */
	CHECK(store_firmware_get(st, fw, &f) == 1);
	CHECK(store_firmware_data_get(st, f.sha256, 0, chunk_refuse, NULL) ==
	    0);
	memset(f.sha256, 'c', 64);
	CHECK(store_firmware_data_get(st, f.sha256, 1, chunk_refuse, NULL) ==
	    0);
	firmware_free(&f);
	CHECK(store_firmware_get(st, fw, &f) == 1);
	firmware_free(&f);
	CHECK(store_firmware_list(st, "", "", -1, 0, &list, &n, &total) == 0);
	CHECK(n == 0 && total == 0);
	firmware_list_free(list, n);
	CHECK(store_firmware_restore(st, fw) == 0);
	CHECK(store_firmware_deleted_at(st, fw, &when) == 1 && when == 0);
	CHECK(store_firmware_list(st, "esp32", "", -1, 0, &list, &n,
	    &total) == 0);
	CHECK(n == 1 && total == 1 && list[0].id == fw);
	firmware_list_free(list, n);
	CHECK(store_firmware_list(st, "esp8266", "", -1, 0, &list, &n,
	    &total) == 0);
	CHECK(n == 0 && total == 0);
	firmware_list_free(list, n);
}

/* API tokens: unique hashes, found by hash, last use, deletion. */
static void
test_api_tokens(struct store *st)
{
	struct api_token t, *list;
	int64_t		 id, id2;
	size_t		 n;

	CHECK(store_api_token_create(st, "ci", "hash1", "admin", &id) == 0);
	CHECK(store_api_token_create(st, "again", "hash1", "admin",
	    &id2) == -2);
	CHECK(store_api_token_create(st, "deploy", "hash2", "admin",
	    &id2) == 0);
	CHECK(id2 > id);
	CHECK(store_api_token_by_hash(st, "hash1", &t) == 1);
	CHECK(t.id == id && t.last_used_at == 0);
	CHECK_STR(t.name, "ci");
	CHECK_STR(t.created_by, "admin");
	api_token_free(&t);
	CHECK(store_api_token_by_hash(st, "nope", &t) == 0);
	api_token_free(&t);
	CHECK(store_api_token_used(st, id) == 0);
	CHECK(store_api_token_get(st, id, &t) == 1 && t.last_used_at > 0);
	api_token_free(&t);
	CHECK(store_api_token_list(st, &list, &n) == 0);
	CHECK(n == 2 && list[0].id == id && list[1].id == id2);
	api_token_list_free(list, n);
	CHECK(store_api_token_delete(st, id) == 1);
	CHECK(store_api_token_delete(st, id) == 0);
	CHECK(store_api_token_get(st, id, &t) == 0);
	api_token_free(&t);
}

/* Retention: by age and by count, never more than a batch at a time. */
static void
test_events_prune(struct store *st)
{
	/* the oldest ids, as rows written a long time ago have */
	const char	*ancient = "INSERT INTO events (id, at, kind) VALUES"
			    " (-5, 1, 'a'), (-4, 1, 'a'), (-3, 1, 'a'),"
			    " (-2, 1, 'a'), (-1, 1, 'a')";
	int64_t		 hour_ago = (int64_t)time(NULL) - 3600;
	int		 before = count_events(ancient);

	CHECK(store_events_prune(st, hour_ago, 0, 2) == 2);
	CHECK(store_events_prune(st, hour_ago, 0, 100) == 3);
	CHECK(store_events_prune(st, hour_ago, 0, 100) == 0);
	CHECK(count_events(NULL) == before - 5);
	for (int i = 0; i < 10; i++)
		CHECK(store_event(st, "x", "device", "", 1, 0, "y") == 0);
	CHECK(count_events(NULL) == before + 5);
	CHECK(store_events_prune(st, 0, 4, 3) == 3);
	CHECK(store_events_prune(st, hour_ago, 4, 100) == before + 5 - 7);
	CHECK(count_events(NULL) == 4);
	CHECK(store_events_prune(st, hour_ago, 4, 100) == 0);
	CHECK(store_events_prune(st, 0, 0, 100) == 0);
}

/* What another connection (another process) sees of device 1's address. */
static void
other_sees_addr(const char *want)
{
	struct store	*other = open_ok();
	struct device	 d;

	CHECK(store_device_get(other, 1, &d) == 1);
	CHECK_STR(d.last_addr, want);
	device_free(&d);
	store_close(other);
}

/* Non-transition writes are batched: invisible to others until the batch
 * is flushed, and flushed before any other write (on a shared database
 * each commits at once). */
static void
test_batch(struct store *st)
{
	struct device	 d;

	CHECK(store_light(st) == 0);
	CHECK(store_device_seen(st, 1, "10.0.0.1:1", 100) == 0);
	CHECK(store_light(st) == 0);		/* joins the open batch */
	CHECK(store_device_get(st, 1, &d) == 1);	/* reads see it */
	CHECK_STR(d.last_addr, "10.0.0.1:1");
	device_free(&d);
	/* shared by nodes, each fact commits at once (store.c) */
	other_sees_addr(store_shared(st) ? "10.0.0.1:1" : "10.0.0.9:9");
	store_flush(st);
	other_sees_addr("10.0.0.1:1");

	CHECK(store_light(st) == 0);
	CHECK(store_device_seen(st, 1, "10.0.0.2:2", 101) == 0);
	/* a transition (any other write) commits the batch first */
	CHECK(store_event(st, "test", "me", "", 1, 0, "x") == 0);
	other_sees_addr("10.0.0.2:2");
	CHECK(store_device_seen(st, 1, "10.0.0.9:9", 102) == 0);
}

static void
set_user_version(int v)
{
	sqlite3	*db;
	char	 sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void
test_refusals(void)
{
	char	 path[PATH_MAX + 16], err[512];
	FILE	*fp;
	int	 i;

	set_user_version(11);
	CHECK(store_open(dbpath, err, sizeof(err)) == NULL);
	fprintf(stderr, "future: %s\n", err);
	CHECK(strncmp(err, dbpath, strlen(dbpath)) == 0);
	CHECK(strstr(err, "schema version 11, newer than this otad knows (10)")
	    != NULL);
	set_user_version(10);

	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	CHECK((fp = fopen(path, "w")) != NULL);
	for (i = 0; i < 200; i++)
		fputs("this is not a database at all\n", fp);
	CHECK(fclose(fp) == 0);
	CHECK(store_open(path, err, sizeof(err)) == NULL);
	fprintf(stderr, "garbage: %s\n", err);
	snprintf(path + strlen(path), sizeof(path) - strlen(path),
	    ": file is not a database");
	CHECK_STR(err, path);

	snprintf(path, sizeof(path), "%s/nodir/otad.db", dir);
	CHECK(store_open(path, err, sizeof(err)) == NULL);
	fprintf(stderr, "missing dir: %s\n", err);
	CHECK(strncmp(err, path, strlen(path)) == 0);
}

/* A committed transition survives kill -9 of the process right after. */
static void
test_kill(void)
{
	struct store	*st;
	struct delivery	 dl;
	pid_t		 pid;
	int		 status;

	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		st = open_ok();
		if (store_delivery_update(st, 4, DELIVERY_QUEUED, DELIVERY_SENT,
		    "TK", NULL, 1, 0) != 1)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	st = open_ok();
	CHECK(store_delivery_by_ticket(st, "TK", &dl, NULL) == 1);
	CHECK(dl.id == 4);
	CHECK(dl.state == DELIVERY_SENT);
	CHECK(dl.attempts == 1);
	delivery_free(&dl);
	store_close(st);
}

/* Migrations 4 to 7 on a version 3 database: new device ids start above
 * every id the devices table or the event log has seen. */
static void
test_migrate_device_ids(void)
{
	struct store	*st;
	sqlite3		*db;
	int64_t		 id;

	CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP TRIGGER device_ids_last;"
	    "DROP TRIGGER device_ids_gone;"
	    "DROP TRIGGER devices_text_insert;"
	    "DROP TRIGGER devices_text_update;"
	    "DROP TRIGGER devices_text_delete;"
	    "DROP TABLE devices_text;"
	    "DROP TABLE device_ids;"
	    "DROP INDEX IF EXISTS deliveries_device;"
	    "CREATE INDEX deliveries_device_state ON deliveries"
	    " (device_id, state);"
	    "INSERT INTO events (at, kind, device_id) VALUES (1, 'x', 4000);"
	    "ALTER TABLE jobs DROP COLUMN start_at;"
	    "ALTER TABLE jobs DROP COLUMN \"window\";"
	    "ALTER TABLE jobs DROP COLUMN confirm;"
	    "DROP TABLE webhook_queue;"
	    "DROP TABLE device_pins;"
	    "DROP TRIGGER device_tags_insert;"
	    "DROP TRIGGER device_tags_update;"
	    "DROP TRIGGER device_tags_delete;"
	    "DROP TABLE device_tags;"
	    "DROP TRIGGER deliveries_device_gone;"
	    "DROP TABLE sessions;"
	    "DROP TABLE nodes;"
	    "DROP TABLE firmware_data;"
	    "INSERT INTO devices (id, name, token_sha256, tags, created_at)"
	    " VALUES (30, 'old', 'tok-old', 'old-a,o\"l\\d', 1);"
	    "PRAGMA user_version = 3;", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	st = open_ok();
	CHECK(store_schema_version(st) == 10);
	/* the tags of devices stored before, indexed by the migration */
	CHECK(store_device_count_tag(st, "o\"l\\d", &id) == 0 && id == 1);
	CHECK(store_device_count_tag(st, "old-a", &id) == 0 && id == 1);
	CHECK(store_device_create(st, "after", "tok-after", "", &id) == 0);
	CHECK(id == 4001);
	store_close(st);
}

/* Issue 17: a job's deliveries for all devices or a tag in one
 * statement, one each. */
static void
test_job_add(struct store *st, int64_t fw)
{
	struct device_filter f = { "", "", "", "" };
	struct device_page all = { -1, 0, 0 };
	struct device	*list;
	struct delivery	 dl;
	size_t		 n;
	int64_t		 devices, tagged, added, job, d;

	CHECK(store_device_create(st, "add1", "tok-add1", "x,add", &d) == 0);
	CHECK(store_device_create(st, "add2", "tok-add2", "add", &d) == 0);
	CHECK(store_device_count(st, &devices) == 0);
	CHECK(store_device_count_tag(st, "add", &tagged) == 0 && tagged == 2);
	job = job_new(st, fw, JOB_TARGET_ALL, "");
	CHECK(store_job_add_devices(st, job, NULL, &added) == 0);
	CHECK(added == devices);
	CHECK(store_device_search(st, &f, &all, &list, &n, NULL) == 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(store_delivery_of(st, job, list[i].id, &dl) == 1);
		CHECK(dl.state == DELIVERY_QUEUED && dl.attempts == 0);
		delivery_free(&dl);
	}
	device_list_free(list, n);
	/* twice for a device: refused, nothing added */
	CHECK(store_job_add_devices(st, job, NULL, &added) == -1);
	job = job_new(st, fw, JOB_TARGET_TAG, "add");
	CHECK(store_job_add_devices(st, job, "add", &added) == 0);
	CHECK(added == 2);
	CHECK(store_delivery_of(st, job, d, &dl) == 1);
	delivery_free(&dl);
	CHECK(store_job_add_devices(st, job_new(st, fw, JOB_TARGET_TAG,
	    "none"), "none", &added) == 0 && added == 0);
	/* a deleted device's deliveries go with it */
	CHECK(store_device_delete(st, d) == 1);
	CHECK(store_delivery_of(st, job, d, &dl) == 0);
	delivery_free(&dl);
}

/* Whether id is among ids[0..n). */
static int
has_id(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* How many devices ?q=text finds, their total agreeing; *first the
 * first one's id. */
static size_t
text_finds(struct store *st, const char *text, int64_t *first)
{
	struct device_filter f = { "", "", "", text };
	struct device_page all = { -1, 0, 0 };
	struct device	*list;
	size_t		 n;
	int64_t		 total;

	CHECK(store_device_search(st, &f, &all, &list, &n, &total) == 0);
	CHECK(total == (int64_t)n);
	*first = n > 0 ? list[0].id : 0;
	device_list_free(list, n);
	return n;
}

/* ?q= through the trigram index means what the scan meant: text in the
 * name or the tags in any case, or the id whole; renames and deletes
 * followed; short text still scanned. */
static void
test_text_search(struct store *st)
{
	struct device_filter f = { "", "", "", "" };
	struct device_page all = { -1, 0, 0 };
	struct device	*list;
	size_t		 n;
	int64_t		 id, other, first, count;

	CHECK(store_device_create(st, "Porch Light \"east\"", "tok-text1",
	    "outdoor,zone-b", &id) == 0);
	CHECK(store_device_create(st, "porch-lamp", "tok-text2", "",
	    &other) == 0);
	CHECK(text_finds(st, "PORCH", &first) == 2 && first == id);
	CHECK(text_finds(st, "light \"EAST", &first) == 1 && first == id);
	CHECK(text_finds(st, "zone-b", &first) == 1 && first == id);
	CHECK(text_finds(st, "ch-la", &first) == 1 && first == other);
	CHECK(text_finds(st, "h ", &first) == 1 && first == id); /* scanned */
	CHECK(text_finds(st, "no such text", &first) == 0);
	/* three characters and more: Unicode case folding */
	CHECK(store_device_create(st, "Kaffee \xc3\x89" "CLAIR", "tok-text3", "",
	    &count) == 0);
	CHECK(text_finds(st, "\xc3\xa9" "clair", &first) == 1 && first == count);
	CHECK(store_device_delete(st, count) == 1);
	/* the id whole, not a part of it */
	{
		char	 idtext[24];

		snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
		CHECK(strlen(idtext) >= 3);
		CHECK(text_finds(st, idtext, &first) >= 1 && first == id);
		idtext[strlen(idtext) - 1] = '\0';
		CHECK(text_finds(st, idtext, &first) == 0 || first != id);
	}
	CHECK(store_device_update(st, id, "attic fan", NULL) == 1);
	CHECK(text_finds(st, "porch", &first) == 1 && first == other);
	CHECK(text_finds(st, "ATTIC", &first) == 1 && first == id);
	CHECK(store_device_delete(st, other) == 1);
	CHECK(text_finds(st, "porch", &first) == 0);
	/* the count kept by triggers is the rows' */
	CHECK(store_device_search(st, &f, &all, &list, &n, &count) == 0);
	CHECK(count == (int64_t)n);
	device_list_free(list, n);
	CHECK(store_device_count(st, &count) == 0 && count == (int64_t)n);
}

static int
fleet(const struct device *d)
{
	return strncmp(d->name, "fleet-", 6) == 0;
}

/* One walk through the list by cursor, pages of 7, and between pages a
 * device added, one not reached yet deleted and one behind the cursor
 * deleted: every device there from start to end and every device added
 * is seen exactly once, in id order; none deleted before it was
 * reached. */
static void
walk_cursor(struct store *st, const char *tag)
{
	struct device_filter f = { tag, "", "", "" };
	struct device_page pg = { 7, 0, 0 }, all = { -1, 0, 0 };
	struct device	*list, *before;
	char		 name[48], tok[48];
	int64_t		 seen[512], added[128], ahead[128], id;
	size_t		 n, nbefore, nseen = 0, nadded = 0, nahead = 0;
	size_t		 page = 0;

	CHECK(store_device_search(st, &f, &all, &before, &nbefore, NULL) == 0);
	CHECK(nbefore > 50 && nbefore < 300);
	do {
		CHECK(store_device_search(st, &f, &pg, &list, &n, NULL) == 0);
		CHECK(n <= 7);
		for (size_t i = 0; i < n; i++) {
			/* ascending: nothing twice */
			CHECK(nseen == 0 || list[i].id > seen[nseen - 1]);
			CHECK(!has_id(ahead, nahead, list[i].id));
			seen[nseen++] = list[i].id;
		}
		if (n > 0)
			pg.after = list[n - 1].id;
		device_list_free(list, n);
		if (n < 7)
			break;		/* the end: nothing changes after it */
		snprintf(name, sizeof(name), "fleet-w-%s-%zu", tag, page);
		snprintf(tok, sizeof(tok), "tok-walk-%s-%zu", tag, page);
		CHECK(store_device_create(st, name, tok, "walk", &id) == 0);
		added[nadded++] = id;
		/* only the devices test_cursor_paging made: the others
		 * have deliveries the tests after this one read */
		id = before[nbefore - 1 - page].id;
		if (id > pg.after && fleet(&before[nbefore - 1 - page]) &&
		    store_device_delete(st, id) == 1)
			ahead[nahead++] = id;
		id = before[page].id;
		if (id <= pg.after && fleet(&before[page]))
			CHECK(store_device_delete(st, id) >= 0);
		page++;
	} while (page < nbefore);
	CHECK(nahead > 0);
	for (size_t i = 0; i < nbefore; i++)
		CHECK(has_id(ahead, nahead, before[i].id) ||
		    has_id(seen, nseen, before[i].id));
	for (size_t i = 0; i < nadded; i++)
		CHECK(has_id(seen, nseen, added[i]));
	CHECK(nseen == nbefore - nahead + nadded);
	device_list_free(before, nbefore);
}

static void
test_cursor_paging(struct store *st)
{
	char		 name[32], tok[32];
	int64_t		 id;

	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "fleet-%d", i);
		snprintf(tok, sizeof(tok), "tok-fleet-%d", i);
		CHECK(store_device_create(st, name, tok, i % 2 ? "walk,odd" :
		    "walk", &id) == 0);
	}
	walk_cursor(st, "");
	walk_cursor(st, "walk");
}

static void
cleanup(void)
{
	const char	*names[] = { "otad.db", "otad.db-wal", "otad.db-shm",
			    "garbage.db" };
	char		 path[PATH_MAX + 16];
	size_t		 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Issue 16: a job's start_at, window and confirm, a delivery's next_at
 * and consent, and the waiting states, written and read back. */
static void
test_waiting(struct store *st, int64_t fw)
{
	struct job	 j;
	struct delivery	 dl;
	struct counts	 c;
	int64_t		 dev, id, d;
	const char	*w = "{\"start\":\"02:00\",\"end\":\"05:00\","
			    "\"timezone\":\"Europe/Berlin\"}";

	CHECK(store_device_create(st, "waiter", "tok-waiter", "", &dev) == 0);
	memset(&j, 0, sizeof(j));
	j.firmware_id = fw;
	j.target_kind = JOB_TARGET_DEVICES;
	j.target = "";
	j.max_parallel = 1;
	j.attempt_limit = 1;
	j.start_at = 1796000000;
	j.window = (char *)w;
	j.confirm = JOB_CONFIRM_DEVICE;
	CHECK(store_job_create(st, &j, &id) == 0);
	CHECK(store_job_get(st, id, &j) == 1);
	CHECK(j.start_at == 1796000000);
	CHECK_STR(j.window, w);
	CHECK(j.confirm == JOB_CONFIRM_DEVICE);
	job_free(&j);

	CHECK(store_delivery_create(st, id, dev, &d) == 0);
	CHECK(store_delivery_get(st, d, &dl) == 1);
	CHECK(dl.consented == 0 && dl.next_at == 0);
	delivery_free(&dl);
	CHECK(store_delivery_update(st, d, DELIVERY_QUEUED, DELIVERY_SCHEDULED,
	    NULL, NULL, 0, 1796003600) == 1);
	/* scheduled is unfinished: the device's pending delivery */
	CHECK(store_delivery_pending(st, dev, &dl) == 1);
	CHECK(dl.id == d && dl.state == DELIVERY_SCHEDULED);
	CHECK(dl.next_at == 1796003600);
	delivery_free(&dl);
	CHECK(store_delivery_update(st, d, DELIVERY_SCHEDULED, DELIVERY_QUEUED,
	    NULL, NULL, 0, 0) == 1);
	CHECK(store_delivery_update(st, d, DELIVERY_QUEUED,
	    DELIVERY_AWAITING_CONSENT, NULL, NULL, 0, 0) == 1);
	CHECK(store_delivery_consent(st, d) == 1);
	CHECK(store_delivery_consent(st, 999999) == 0);
	CHECK(store_delivery_get(st, d, &dl) == 1);
	CHECK(dl.state == DELIVERY_AWAITING_CONSENT);
	CHECK(dl.consented == 1 && dl.next_at == 0);
	delivery_free(&dl);
	CHECK(store_delivery_update(st, d, DELIVERY_AWAITING_CONSENT,
	    DELIVERY_DECLINED, NULL, "declined by the device", 0, 0) == 1);
	CHECK(store_delivery_pending(st, dev, &dl) == 0);
	delivery_free(&dl);
	memset(&c, 0, sizeof(c));
	CHECK(store_job_counts(st, id, count_cb, &c) == 0);
	CHECK(c.calls == 1 && c.other == 1);
}

/* Consent's queries: a job's delivery for a device, the defers that ran
 * out and the next one. */
static void
test_consent(struct store *st, int64_t fw)
{
	struct delivery	 dl, *list;
	size_t		 n;
	int64_t		 dev1, dev2, job, d1, d2, next;

	CHECK(store_device_create(st, "asked1", "tok-asked1", "", &dev1) == 0);
	CHECK(store_device_create(st, "asked2", "tok-asked2", "", &dev2) == 0);
	job = job_new(st, fw, JOB_TARGET_DEVICES, "");
	CHECK(store_delivery_create(st, job, dev1, &d1) == 0);
	CHECK(store_delivery_create(st, job, dev2, &d2) == 0);
	CHECK(store_delivery_of(st, job, dev2, &dl) == 1 && dl.id == d2);
	delivery_free(&dl);
	CHECK(store_delivery_of(st, job, 999999, &dl) == 0);
	CHECK(store_delivery_of(st, 999999, dev1, &dl) == 0);
	CHECK(store_deliveries_next(st, DELIVERY_AWAITING_CONSENT, 0,
	    &next) == 0 && next == 0);
	CHECK(store_delivery_update(st, d1, DELIVERY_QUEUED,
	    DELIVERY_AWAITING_CONSENT, NULL, NULL, 0, 2000) == 1);
	CHECK(store_delivery_update(st, d2, DELIVERY_QUEUED,
	    DELIVERY_AWAITING_CONSENT, NULL, NULL, 0, 1000) == 1);
	CHECK(store_deliveries_next(st, DELIVERY_AWAITING_CONSENT, 0,
	    &next) == 0 && next == 1000);
	CHECK(store_deliveries_next(st, DELIVERY_AWAITING_CONSENT, 1000,
	    &next) == 0 && next == 2000);
	CHECK(store_deliveries_next(st, DELIVERY_SCHEDULED, 0,
	    &next) == 0 && next == 0);
	/* after < next_at <= before, by next_at */
	CHECK(store_deliveries_due(st, DELIVERY_AWAITING_CONSENT, 0, 2000,
	    &list, &n) == 0);
	CHECK(n == 2 && list[0].id == d2 && list[1].id == d1);
	delivery_list_free(list, n);
	CHECK(store_deliveries_due(st, DELIVERY_AWAITING_CONSENT, 1000, 1999,
	    &list, &n) == 0 && n == 0);
	delivery_list_free(list, n);
	/* a paused job's defers wait */
	CHECK(store_job_set_state(st, job, JOB_ACTIVE, JOB_PAUSED) == 1);
	CHECK(store_deliveries_due(st, DELIVERY_AWAITING_CONSENT, 0, 2000,
	    &list, &n) == 0 && n == 0);
	delivery_list_free(list, n);
	CHECK(store_deliveries_next(st, DELIVERY_AWAITING_CONSENT, 0,
	    &next) == 0 && next == 0);
}

/* Shared by nodes, an audit row is sent without waiting for its answer:
 * one the server refuses (text that is no UTF-8) inside a transaction
 * fails the commit, and nothing of the transaction is stored. */
static void
test_answerless_in_tx(struct store *st)
{
	struct audit_filter f = { "", "tx.answerless", 0, 0, 0 };
	struct audit_event *ev;
	size_t		 n;
	int64_t		 total;

	CHECK(store_begin(st) == 0);
	CHECK(store_event(st, "tx.answerless", "me", "", 0, 0, "kept?") == 0);
	CHECK(store_event(st, "tx.answerless", "\xff", "", 0, 0, "x") == 0);
	CHECK(store_commit(st) == -1);
	store_rollback(st);
	CHECK(store_events_list(st, &f, 10, 0, &ev, &n, &total) == 0);
	CHECK(n == 0 && total == 0);
	audit_event_list_free(ev, n);
	/* and the connection goes on */
	CHECK(store_event(st, "tx.answerless", "me", "", 0, 0, "after") == 0);
	CHECK(store_events_list(st, &f, 10, 0, &ev, &n, &total) == 0);
	CHECK(n == 1);
	audit_event_list_free(ev, n);
}

int
main(void)
{
	struct store	*st;
	struct device	 d;
	struct delivery	 dl;
	int64_t		 fw;
	const char	*tmp = getenv("TMPDIR");

	const char	*pg = getenv("OTAD_TEST_PG_URI");

	snprintf(dir, sizeof(dir), "%s/test_store.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(dbpath, sizeof(dbpath), "%s/otad.db", dir);
	/* PostgreSQL (tests/e2e/test_store_pg.py gives a fresh database):
	 * the same checks of the store's functions; those that read the
	 * SQLite file itself are SQLite's alone. */
	if (pg != NULL && *pg != '\0')
		snprintf(dbpath, sizeof(dbpath), "%s", pg);

	st = open_ok();
	CHECK(store_schema_version(st) == 10);
	test_devices(st);
	fw = test_firmware(st);
	test_jobs(st, fw);
	test_deliveries(st, fw);
	CHECK(store_device_seen(st, 1, "10.0.0.9:9", 99) == 0);
	test_batch(st);
	store_close(st);
	if (pg == NULL)
		check_events();

	/* Reopening keeps everything, and migrates nothing. */
	st = open_ok();
	CHECK(store_schema_version(st) == 10);
	CHECK(store_device_get(st, 1, &d) == 1);
	CHECK_STR(d.name, "kitchen");
	CHECK_STR(d.fw_version, "1.2.3");
	device_free(&d);
	CHECK(store_delivery_pending(st, 1, &dl) == 1);
	CHECK(dl.job_id == 3);
	delivery_free(&dl);
	if (pg == NULL)
		test_events_prune(st);
	test_device_edits(st);
	test_device_pins(st);
	CHECK(store_shared(st) == (pg != NULL && *pg != '\0'));
	test_firmware_data(st, SHA_A, SHA_C);
	test_firmware_delete(st, fw);
	test_api_tokens(st);
	test_waiting(st, fw);
	test_consent(st, fw);
	test_job_add(st, fw);
	test_cursor_paging(st);
	test_text_search(st);
	test_job_refused(st);
	if (pg != NULL && *pg != '\0')
		test_answerless_in_tx(st);
	store_close(st);

	if (pg == NULL) {
		test_migrate_device_ids();
		test_kill();
		test_refusals();
	}
	cleanup();
	printf("test_store: ok\n");
	return 0;
}
