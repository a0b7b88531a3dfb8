/* SPDX-License-Identifier: MIT */
/*
 * The `otad` client commands' HTTPS link to otad-admind's admin API, over
 * libcurl: one handle whose connection the requests of a command share,
 * Basic or Bearer auth, the certificate checked by the system's CAs, by a
 * pinned public key (--pin) or not at all (--insecure); JSON requests,
 * a multipart upload with a progress bar, and the server-sent event
 * stream.  Every failure becomes one sentence that says what to do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "util.h"

#include "otad.h"

#define CLIENT_CONNECT_TIMEOUT	10L	/* s */
#define CLIENT_STALL_TIME	60L	/* s without a byte: gone */
#define CLIENT_MAX_ANSWER	(64L * 1024 * 1024)
#define CLIENT_MAX_EVENT	(1024 * 1024)

/* One libcurl handle with its request's headers and error text. */
struct client_handle {
	CURL			*curl;
	struct curl_slist	*headers;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* Requests go over req; an event stream over its own handle, so that
 * its callback may make requests. */
struct client {
	struct client_conf	*conf;
	struct client_handle	 req;
	struct client_handle	 stream;
};

/* The state of one event stream being read. */
struct client_sse {
	CURL		*curl;
	long		 status;	/* of the answer, once known */
	struct buf	 error;		/* the answer when it is no stream */
	struct buf	 line;
	struct buf	 data;
	char		 kind[64];
	int		 stop;
	int		 opened;	/* "open" was told */
	int		(*on_event)(void *, const char *, const char *);
	void		*arg;
};

static CURL	*client_prepare(struct client *, struct client_handle *,
		    const char *method, const char *path);
static size_t	 client_collect(char *, size_t, size_t, void *);
static void	 client_unreachable(const struct client *,
		    const struct client_handle *, CURLcode)
		    __attribute__((noreturn));
static int	 client_upload_progress(void *, curl_off_t, curl_off_t,
		    curl_off_t, curl_off_t);
static size_t	 client_sse_write(char *, size_t, size_t, void *);
static void	 client_sse_line(struct client_sse *);

struct client *
client_open(struct client_conf *conf)
{
	struct client	*c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = calloc(1, sizeof(*c))) == NULL ||
	    (c->req.curl = curl_easy_init()) == NULL ||
	    (c->stream.curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "otad: cannot set up libcurl (out of "
		    "memory?)\n");
		exit(OTAD_EXIT_USAGE);
	}
	c->conf = conf;
	return c;
}

void
client_close(struct client *c)
{
	if (c == NULL)
		return;
	curl_slist_free_all(c->req.headers);
	curl_slist_free_all(c->stream.headers);
	curl_easy_cleanup(c->req.curl);
	curl_easy_cleanup(c->stream.curl);
	curl_global_cleanup();
	if (c->conf->password)
		explicit_bzero(c->conf->password, strlen(c->conf->password));
	free(c->conf->url);
	free(c->conf->user);
	free(c->conf->password);
	free(c->conf->token);
	free(c->conf->pin);
	free(c->conf);
	free(c);
}

const struct client_conf *
client_conf(const struct client *c)
{
	return c->conf;
}

long
client_call(struct client *c, const char *method, const char *path,
    const char *body, struct buf *answer)
{
	CURL		*curl = client_prepare(c, &c->req, method, path);
	CURLcode	 rc;
	long		 status = 0;

	if (body != NULL) {
		c->req.headers = curl_slist_append(c->req.headers,
		    "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	} else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, c->req.headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
	if ((rc = curl_easy_perform(curl)) != CURLE_OK)
		client_unreachable(c, &c->req, rc);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

struct json_value *
client_json(struct client *c, const char *method, const char *path,
    const char *body, struct buf *answer)
{
	struct buf	 own = BUF_INIT, *b = answer ? answer : &own;
	struct json_value *v;
	char		 err[200];
	long		 status;

	status = client_call(c, method, path, body, b);
	if (status < 200 || status > 299)
		client_refused(c, status, b);
	if ((v = json_parse(b->data ? b->data : "", b->len, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "otad: %s%s answered something that is not "
		    "JSON (%s); is --url the admin API of otad?\n",
		    c->conf->url, path, err);
		exit(OTAD_EXIT_USAGE);
	}
	buf_free(&own);
	return v;
}

/* The server's sentences speak of curl and query parameters: what the
 * same is with the otad command, by error code. */
static const struct {
	const char	*code;
	const char	*hint;
} client_hints[] = {
	{ "auth.required", "check the user and password (--user, "
	    "OTAD_PASSWORD) or the API token (--api-token, OTAD_TOKEN)" },
	{ "firmware.unknown_format", "otad push --force sends it anyway" },
};

void
client_refused(const struct client *c, long status, struct buf *answer)
{
	struct json_value *v;
	const struct json_value *e = NULL;
	const char	*msg = NULL, *code = NULL;
	char		 err[200];

	v = json_parse(buf_cstr(answer), answer->len, err, sizeof(err));
	if (v != NULL && (e = json_get(v, "error")) != NULL) {
		msg = json_get_str(e, "message");
		code = json_get_str(e, "code");
	}
	if (msg != NULL)
		fprintf(stderr, "otad: %s\n", msg);
	else
		fprintf(stderr, "otad: %s answered HTTP %ld; is --url the "
		    "admin API of otad?\n", c->conf->url, status);
	for (size_t i = 0; code != NULL && i < nitems(client_hints); i++)
		if (strcmp(code, client_hints[i].code) == 0)
			fprintf(stderr, "otad: %s\n", client_hints[i].hint);
	json_free(v);
	exit(OTAD_EXIT_USAGE);
}

long
client_upload(struct client *c, const char *path, const char *file,
    struct buf *answer)
{
	struct progress	 bar;
	struct stat	 st;
	curl_mime	*mime;
	curl_mimepart	*part;
	const char	*name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	CURL		*curl;
	CURLcode	 rc;
	long		 status = 0;

	if (stat(file, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "otad: %s: %s\n", file, errno ? strerror(errno) :
		    "not a regular file");
		exit(OTAD_EXIT_USAGE);
	}
	curl = client_prepare(c, &c->req, "POST", path);
	mime = curl_mime_init(curl);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "file");
	if (curl_mime_filedata(part, file) != CURLE_OK) {
		fprintf(stderr, "otad: cannot read %s\n", file);
		exit(OTAD_EXIT_USAGE);
	}
	curl_mime_filename(part, name);
	curl_mime_type(part, "application/octet-stream");
	/* admind refuses an image over max_firmware_size, or a login, before
	 * the body: curl then reads the answer instead of failing to send */
	c->req.headers = curl_slist_append(c->req.headers,
	    "Expect: 100-continue");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, c->req.headers);
	curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
	progress_begin(&bar, c->conf->json ? NULL : name, (uint64_t)st.st_size);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
	    client_upload_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &bar);
	rc = curl_easy_perform(curl);
	progress_end(&bar);
	curl_mime_free(mime);
	if (rc != CURLE_OK)
		client_unreachable(c, &c->req, rc);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

int
client_stream(struct client *c, const char *path,
    int (*on_event)(void *, const char *, const char *), void *arg)
{
	CURL		*curl = client_prepare(c, &c->stream, "GET", path);
	struct client_sse sse = { curl, 0, BUF_INIT, BUF_INIT, BUF_INIT,
			    "", 0, 0, on_event, arg };
	CURLcode	 rc;

	c->stream.headers = curl_slist_append(c->stream.headers,
	    "Accept: text/event-stream");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, c->stream.headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, client_sse_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sse);
	rc = curl_easy_perform(curl);
	if (sse.status != 200 && sse.status != 0)
		client_refused(c, sse.status, &sse.error);
	buf_free(&sse.error);
	buf_free(&sse.line);
	buf_free(&sse.data);
	if (sse.stop)
		return 0;
	switch (rc) {
	case CURLE_OK:			/* the server ended it */
	case CURLE_COULDNT_CONNECT:	/* it is not back yet */
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
		return -1;
	default:
		client_unreachable(c, &c->stream, rc);
	}
}

void
client_query_add(struct buf *b, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			buf_addc(b, (char)*p);
		else
			buf_printf(b, "%%%02X", *p);
}

/* h's handle reset for METHOD url+path with the connection's options. */
static CURL *
client_prepare(struct client *c, struct client_handle *h, const char *method,
    const char *path)
{
	const struct client_conf *conf = c->conf;
	CURL		*curl = h->curl;
	char		*url, *auth;

	curl_easy_reset(curl);
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	h->errbuf[0] = '\0';
	if (asprintf(&url, "%s%s", conf->url, path) == -1) {
		fprintf(stderr, "otad: out of memory\n");
		exit(OTAD_EXIT_USAGE);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, CLIENT_STALL_TIME);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "otad/" OTAD_VERSION);
	if (conf->insecure || conf->pin) {
		/* a pin replaces the CA check: the key is the identity */
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (conf->pin && !conf->insecure)
		curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, conf->pin);
	if (conf->token != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s", conf->token) ==
		    -1)
			exit(OTAD_EXIT_USAGE);
		h->headers = curl_slist_append(h->headers, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, conf->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, conf->password);
	}
	return curl;
}

static size_t
client_collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;

	if (b->len + n > CLIENT_MAX_ANSWER || buf_add(b, p, n) == -1)
		return 0;
	return n;
}

/* No HTTP answer: why, and what to do. */
static void
client_unreachable(const struct client *c, const struct client_handle *h,
    CURLcode rc)
{
	const char	*url = c->conf->url;
	const char	*why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		fprintf(stderr, "otad: cannot connect to %s: %s — is "
		    "otad-admind running? (--url)\n", url, why);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		fprintf(stderr, "otad: cannot find the host of %s: %s "
		    "(--url)\n", url, why);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		fprintf(stderr, "otad: %s: the server's certificate is not "
		    "trusted (%s); give --pin with the sha256: pin `otad init` "
		    "printed, or --insecure\n", url, why);
		break;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		fprintf(stderr, "otad: %s: the server's public key is not the "
		    "one --pin names: a different server, or its key was "
		    "replaced; check and update the pin\n", url);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		fprintf(stderr, "otad: %s did not answer in time: %s\n", url,
		    why);
		break;
	default:
		fprintf(stderr, "otad: %s: %s\n", url, why);
		break;
	}
	exit(OTAD_EXIT_USAGE);
}

static int
client_upload_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	progress_update(arg, ulnow > 0 ? (uint64_t)ulnow : 0);
	return 0;
}

/* Lines of the event stream; an error answer is kept whole in
 * sse->error for client_refused. */
static size_t
client_sse_write(char *p, size_t size, size_t n, void *arg)
{
	struct client_sse *sse = arg;
	size_t		 i;

	if (sse->status == 0)
		curl_easy_getinfo(sse->curl, CURLINFO_RESPONSE_CODE,
		    &sse->status);
	if (sse->status != 200)
		return client_collect(p, size, n, &sse->error);
	for (i = 0; i < n && !sse->stop; i++) {
		if (p[i] != '\n') {
			if (sse->line.len >= CLIENT_MAX_EVENT)
				return 0;
			buf_addc(&sse->line, p[i]);
			continue;
		}
		client_sse_line(sse);
		buf_reset(&sse->line);
	}
	return sse->stop ? 0 : n;
}

/* "event: K", "data: D" (several join with \n), "" ends the event. */
static void
client_sse_line(struct client_sse *sse)
{
	char	*line = buf_cstr(&sse->line);

	if (line != NULL && *line == ':') {	/* a comment: open, alive */
		if (sse->on_event(sse->arg, sse->opened ? "alive" : "open",
		    "") == 1)
			sse->stop = 1;
		sse->opened = 1;
		return;
	}
	if (line == NULL || *line == '\0') {
		if (sse->data.len > 0 && sse->on_event(sse->arg,
		    sse->kind[0] ? sse->kind : "message",
		    buf_cstr(&sse->data)) == 1)
			sse->stop = 1;
		buf_reset(&sse->data);
		sse->kind[0] = '\0';
		return;
	}
	if (strncmp(line, "event:", 6) == 0)
		snprintf(sse->kind, sizeof(sse->kind), "%s", line + 6 +
		    (line[6] == ' '));
	else if (strncmp(line, "data:", 5) == 0) {
		if (sse->data.len > 0)
			buf_addc(&sse->data, '\n');
		if (sse->data.len + sse->line.len > CLIENT_MAX_EVENT)
			return;
		buf_adds(&sse->data, line + 5 + (line[5] == ' '));
	}
}
