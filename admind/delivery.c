/* SPDX-License-Identifier: MIT */
/*
 * admind's one way to change a delivery's state (lifecycle.h has the
 * rules): delivery_apply() checks the transition against the table and,
 * in one transaction, writes the row (only if it is still in the state the
 * caller read) and the audit event, then settles the job; the journal
 * line, the live event and any OTA command follow once that transaction
 * committed.  Every result must be checked: a transition that was not
 * stored returns -1 and nothing of it happens.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admind.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define DELIVERY_TICKET_LEN	32
#define DELIVERY_SHA_CACHE	64

/* What the journal and the event stream hear of a stored transition. */
struct delivery_notice {
	struct delivery		 d;		/* as it was, last_error owned */
	enum delivery_state	 to;
	int			 attempt_inc;
	int64_t			 next_at;	/* after the move */
	int			 consented;
	char			*error;		/* NULL: unchanged */
	char			 sha256[65];
};

struct delivery_command {
	int64_t	 device_id;
	int64_t	 delivery_id;
	char	 ticket[DELIVERY_TICKET_LEN + 1];
};

/* The firmware of recent jobs, for the journal's FIRMWARE_SHA256. */
static struct {
	int64_t	 job_id;
	char	 sha256[65];
} delivery_shas[DELIVERY_SHA_CACHE];
static unsigned	 delivery_sha_next;

static const char *
delivery_sha256(int64_t job_id)
{
	struct job	 job;
	struct firmware	 fw;
	unsigned	 i;

	for (i = 0; i < DELIVERY_SHA_CACHE; i++)
		if (delivery_shas[i].job_id == job_id)
			return delivery_shas[i].sha256;
	i = delivery_sha_next++ % DELIVERY_SHA_CACHE;
	delivery_shas[i].job_id = job_id;
	delivery_shas[i].sha256[0] = '\0';
	if (store_job_get(env->store, job_id, &job) != 1)
		return "";
	if (store_firmware_get(env->store, job.firmware_id, &fw) == 1) {
		memcpy(delivery_shas[i].sha256, fw.sha256, 65);
		firmware_free(&fw);
	}
	job_free(&job);
	return delivery_shas[i].sha256;
}

static void
delivery_publish(const struct delivery_notice *n)
{
	const struct delivery *d = &n->d;
	struct buf	 b = BUF_INIT;

	if (!events_heard())
		return;
	buf_printf(&b, "{\"delivery_id\":%" PRId64 ",\"device_id\":%" PRId64
	    ",\"job_id\":%" PRId64 ",\"from\":", d->id, d->device_id,
	    d->job_id);
	json_str(&b, delivery_state_name(d->state));
	buf_adds(&b, ",\"state\":");
	json_str(&b, delivery_state_name(n->to));
	buf_printf(&b, ",\"attempts\":%d,\"bytes_sent\":%" PRIu64
	    ",\"error\":", d->attempts + n->attempt_inc, d->bytes_sent);
	json_str(&b, n->error ? n->error : d->last_error);
	buf_adds(&b, ",\"next_at\":");
	json_time(&b, n->next_at);
	buf_printf(&b, ",\"consented\":%s}", n->consented ? "true" :
	    "false");
	events_publish("delivery", d->device_id, d->job_id, buf_cstr(&b));
	buf_free(&b);
}

static void
delivery_journal(const struct delivery_notice *n)
{
	const struct delivery *d = &n->d;
	char		 fdev[48], fjob[48], fstate[48], fsha[96];
	const char	*error = n->error ? n->error : "";
	char		 label[STORE_DEVICE_LABEL];

	snprintf(fdev, sizeof(fdev), "DEVICE_ID=%" PRId64, d->device_id);
	snprintf(fjob, sizeof(fjob), "JOB_ID=%" PRId64, d->job_id);
	snprintf(fstate, sizeof(fstate), "OTA_STATE=%s",
	    delivery_state_name(n->to));
	snprintf(fsha, sizeof(fsha), "FIRMWARE_SHA256=%s", n->sha256);
	store_device_label(env->store, d->device_id, label, sizeof(label));
	log_fields(LOG_INFO, (const char *[]){ fdev, fjob, fstate, fsha,
	    NULL }, "%s job %" PRId64 ": %s -> %s%s%s",
	    label, d->job_id, delivery_state_name(d->state),
	    delivery_state_name(n->to), *error ? ": " : "", error);
}

/* Deferred: after the commit, the journal hears of it; after a rollback
 * the flight counts (moved at once, for pacing within a batch) are
 * counted again. */
static void
delivery_notice_run(void *arg, int committed)
{
	struct delivery_notice *n = arg;

	if (committed) {
		delivery_journal(n);
	} else {
		flight_forget();
	}
	delivery_free(&n->d);
	free(n->error);
	free(n);
}

static int
delivery_notice(const struct delivery *d, enum delivery_state to,
    const char *error, int attempt_inc, int64_t next_at, int consented)
{
	struct delivery_notice *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	n->next_at = next_at;
	n->consented = consented;
	n->d = *d;
	n->d.last_error = strdup(d->last_error ? d->last_error : "");
	n->error = error ? strdup(error) : NULL;
	n->to = to;
	n->attempt_inc = attempt_inc;
	snprintf(n->sha256, sizeof(n->sha256), "%s",
	    delivery_sha256(d->job_id));
	if (n->d.last_error == NULL || (error && n->error == NULL)) {
		delivery_notice_run(n, 0);
		return -1;
	}
	/* in the transaction: its webhook rows are stored with it, the
	 * stream hears of it after the commit */
	delivery_publish(n);
	return tx_defer(delivery_notice_run, n);
}

/* The row and the audit event: 1 stored, 0 the row is no longer in the
 * state the caller read (nothing written), -1 a database error. */
static int
delivery_store(const struct delivery *d, enum delivery_state to,
    const char *ticket, const char *error, int attempt_inc, int64_t next_at)
{
	char	 text[300];
	int	 rc;

	rc = store_delivery_update(env->store, d->id, d->state, to, ticket,
	    error, attempt_inc, next_at);
	if (rc == 0)
		log_warnx("delivery %" PRId64 " is no longer %s: not moved to "
		    "%s", d->id, delivery_state_name(d->state),
		    delivery_state_name(to));
	if (rc != 1)
		return rc;
	/* "from -> to[: why]": api_charts.c replays a job's progress
	 * from these rows (and from the bulk ones below). */
	snprintf(text, sizeof(text), "%s -> %s%s%s",
	    delivery_state_name(d->state), delivery_state_name(to),
	    error && *error ? ": " : "", error ? error : "");
	return store_event(env->store, "delivery.transition", "otad", "",
	    d->device_id, d->job_id, text) == -1 ? -1 : 1;
}

static int
delivery_move(const struct delivery *d, enum delivery_event ev,
    const char *ticket, const char *error, int attempt_inc, int64_t next_at)
{
	enum delivery_state to;
	int		 rc;

	if (delivery_next(d->state, ev, &to) == -1) {
		log_warnx("delivery %" PRId64 ": %s is not allowed in state %s",
		    d->id, delivery_event_name(ev),
		    delivery_state_name(d->state));
		return -1;
	}
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	/* a stale read writes nothing and fails only this transition; a
	 * database error dooms the whole transaction */
	rc = delivery_store(d, to, ticket, error, attempt_inc, next_at);
	/* consent given holds for the delivery's every later attempt */
	if (rc == 1 && ev == DELIVERY_ACCEPT &&
	    store_delivery_consent(env->store, d->id) != 1)
		rc = -1;
	if (rc == -1 || (rc == 1 && delivery_notice(d, to, error,
	    attempt_inc, next_at, d->consented || ev == DELIVERY_ACCEPT) == -1))
		tx_fail();
	else if (rc == 1)
		flight_moved(d, to);
	if (rc == 1 && tx_ok() && delivery_state_ended(to) &&
	    jobs_settle(d->job_id) == -1)
		tx_fail();
	return tx_commit() == -1 || rc != 1 ? -1 : 0;
}

int
delivery_apply(const struct delivery *d, enum delivery_event ev,
    const char *error)
{
	return delivery_apply_at(d, ev, error, 0);
}

int
delivery_apply_at(const struct delivery *d, enum delivery_event ev,
    const char *error, int64_t next_at)
{
	if (ev == DELIVERY_SEND) {
		log_warnx("delivery %" PRId64 ": send goes through "
		    "delivery_send", d->id);
		return -1;
	}
	/* A new attempt gets a new ticket: an old attempt's URL is dead. */
	return delivery_move(d, ev, ev == DELIVERY_RETRY ? "" : NULL, error,
	    ev == DELIVERY_UNSENT ? -1 : 0, next_at);
}

static void
delivery_command_run(void *arg, int committed)
{
	struct delivery_command *c = arg;

	if (committed)
		peers_send_ota(c->device_id, c->delivery_id, c->ticket);
	free(c);
}

/* The OTA command for an already sent delivery goes out again (a device
 * that logged in again without downloading), after the commit. */
int
delivery_command(const struct delivery *d)
{
	struct delivery_command *c;

	if (*d->ticket == '\0' || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->device_id = d->device_id;
	c->delivery_id = d->id;
	memcpy(c->ticket, d->ticket, sizeof(c->ticket));
	return tx_defer(delivery_command_run, c);
}

int
delivery_send(struct delivery *d, const struct job *job, int command,
    const char *error)
{
	if (d->attempts >= job->attempt_limit) {
		log_warnx("delivery %" PRId64 ": attempt %d would pass the "
		    "job's limit of %d", d->id, d->attempts + 1,
		    job->attempt_limit);
		return -1;
	}
	if (*d->ticket == '\0' &&
	    util_random_token(d->ticket, DELIVERY_TICKET_LEN) == -1)
		return -1;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (delivery_move(d, DELIVERY_SEND, d->ticket, error, 1, 0) == -1 ||
	    (command && delivery_command(d) == -1))
		tx_fail();
	return tx_commit();
}

/* One live event per delivery a bulk change moves to state to: those in
 * state from, or with from < 0 every unfinished one (a cancel).  next_at
 * < 0 keeps each delivery's own. */
static int
delivery_bulk_notices(int64_t job_id, int from, enum delivery_state to,
    const char *why, int64_t next_at)
{
	struct delivery	*ds = NULL;
	size_t		 n = 0;
	int		 rc = 0;

	if (store_job_deliveries(env->store, job_id, &ds, &n) == -1)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (from < 0 ? !delivery_state_ended(ds[i].state) :
		    ds[i].state == (enum delivery_state)from)
			rc = delivery_notice(&ds[i], to, why, 0, next_at < 0 ?
			    ds[i].next_at : next_at, ds[i].consented);
	delivery_list_free(ds, n);
	return rc;
}

int
delivery_cancel_job(int64_t job_id, const char *why, int *canceled)
{
	char	 text[200];

	*canceled = 0;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (delivery_bulk_notices(job_id, -1, DELIVERY_CANCELED, why, -1) == -1 ||
	    store_job_cancel(env->store, job_id, why, canceled) == -1)
		tx_fail();
	snprintf(text, sizeof(text), "%d unfinished deliver%s canceled: %s",
	    *canceled, *canceled == 1 ? "y" : "ies", why);
	if (*canceled > 0 && store_event(env->store, "delivery.canceled",
	    "otad", "", 0, job_id, text) == -1)
		tx_fail();
	return tx_commit();
}

int
delivery_move_job(int64_t job_id, enum delivery_event ev,
    enum delivery_state from, int64_t next_at, const char *why, int *moved)
{
	int64_t		 count;
	enum delivery_state to;
	char		 text[300], kind[40];

	*moved = 0;
	if (delivery_next(from, ev, &to) == -1) {
		log_warnx("job %" PRId64 ": %s is not allowed in state %s",
		    job_id, delivery_event_name(ev), delivery_state_name(from));
		return -1;
	}
	/* most looks find nothing to move: no transaction, no list */
	if (store_job_count_state(env->store, job_id, from, &count) == -1)
		return -1;
	if (count == 0)
		return 0;
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (delivery_bulk_notices(job_id, from, to, NULL, next_at) == -1 ||
	    store_job_move(env->store, job_id, from, to, next_at, moved) == -1)
		tx_fail();
	snprintf(kind, sizeof(kind), "delivery.%s", delivery_event_name(ev));
	snprintf(text, sizeof(text), "%d deliver%s %s -> %s: %s", *moved,
	    *moved == 1 ? "y" : "ies", delivery_state_name(from),
	    delivery_state_name(to), why);
	if (tx_ok() && *moved > 0 && store_event(env->store, kind, "otad", "",
	    0, job_id, text) == -1)
		tx_fail();
	if (tx_commit() == -1) {
		*moved = 0;
		return -1;
	}
	return 0;
}

/* Settles each job; -1 when one failed. */
static int
delivery_settle_jobs(const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (jobs_settle(ids[i]) == -1)
			return -1;
	return 0;
}

int
delivery_cancel_older(int64_t job_id)
{
	int64_t	*ids = NULL;
	size_t	 n = 0;
	char	 why[80];

	snprintf(why, sizeof(why), "superseded by job %" PRId64, job_id);
	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (store_jobs_sharing(env->store, job_id, 0, &ids, &n) == -1 ||
	    store_job_cancel_older(env->store, job_id, why) == -1 ||
	    delivery_settle_jobs(ids, n) == -1)
		tx_fail();
	if (n > 0 && tx_defer(flight_forget_cb, NULL) == -1)
		tx_fail();
	free(ids);
	return tx_commit();
}

int
delivery_device_delete(int64_t device_id)
{
	int64_t	*ids = NULL;
	size_t	 n = 0;
	int	 rc = -1;

	if (tx_begin() == -1) {
		tx_rollback();
		return -1;
	}
	if (store_jobs_sharing(env->store, 0, device_id, &ids, &n) == -1 ||
	    (rc = store_device_delete(env->store, device_id)) == -1 ||
	    delivery_settle_jobs(ids, n) == -1 ||
	    tx_defer(flight_forget_cb, NULL) == -1)
		tx_fail();
	free(ids);
	if (tx_commit() == -1)
		return -1;
	return rc;
}
