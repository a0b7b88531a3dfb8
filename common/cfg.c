/* SPDX-License-Identifier: MIT */
/*
 * Reads /etc/otad/otad.conf with libinih into struct cfg (see cfg.h) and
 * checks every value, so `otad-* -t` reports each problem on its own line
 * and a daemon never starts on a half-understood file.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "cfg.h"
#include "log.h"
#include "netaddr.h"
#include "util.h"
#include "workers.h"

struct cfg_parse {
	struct cfg	*cfg;
	FILE		*errs;
	int		 problems;
};

enum cfg_kind { CFG_STR, CFG_UINT, CFG_SIZE, CFG_LISTEN, CFG_ACL, CFG_URL,
	CFG_URLS, CFG_KINDS, CFG_DATABASE, CFG_NODE };

struct cfg_key {
	const char	*section;
	const char	*name;
	enum cfg_kind	 kind;
	size_t		 offset;
	const char	*def;
};

#define K(sec, name, kind, member, def) \
	{ sec, name, kind, offsetof(struct cfg, member), def }

static const struct cfg_key cfg_keys[] = {
	K("otad", "state_dir", CFG_STR, state_dir, "/var/lib/otad"),
	K("otad", "control_socket", CFG_STR, control_socket,
	    "/run/otad/control.sock"),
	K("otad", "database", CFG_DATABASE, database, ""),
	K("otad", "node", CFG_NODE, node, ""),
	K("hwd", "listen", CFG_LISTEN, hwd.listen, "[::]:8442"),
	K("hwd", "tls_listen", CFG_LISTEN, hwd.tls_listen, ""),
	K("hwd", "tls_cert", CFG_STR, hwd.tls_cert, ""),
	K("hwd", "tls_key", CFG_STR, hwd.tls_key, ""),
	K("hwd", "max_connections", CFG_UINT, hwd.max_connections, "200000"),
	K("hwd", "max_connections_per_address", CFG_UINT,
	    hwd.max_connections_per_address, "1000"),
	K("hwd", "login_timeout", CFG_UINT, hwd.login_timeout, "10"),
	K("hwd", "idle_timeout", CFG_UINT, hwd.idle_timeout, "23"),
	K("hwd", "max_body", CFG_UINT, hwd.max_body, "4096"),
	K("hwd", "rate_limit", CFG_UINT, hwd.rate_limit, "100"),
	K("hwd", "max_device_connections", CFG_UINT,
	    hwd.max_device_connections, "4"),
	K("hwd", "workers", CFG_UINT, hwd.workers, "0"),
	K("admind", "listen", CFG_LISTEN, admind.listen, "[::]:9443"),
	K("admind", "tls_cert", CFG_STR, admind.tls_cert, ""),
	K("admind", "tls_key", CFG_STR, admind.tls_key, ""),
	K("admind", "admins_file", CFG_STR, admind.admins_file,
	    "/etc/otad/admins"),
	K("admind", "allowed_ips", CFG_ACL, admind.allowed_ips,
	    "127.0.0.0/8, ::1"),
	K("admind", "trusted_proxies", CFG_ACL, admind.trusted_proxies, ""),
	K("admind", "max_firmware_size", CFG_SIZE, admind.max_firmware_size,
	    "16M"),
	K("admind", "sent_timeout", CFG_UINT, admind.sent_timeout, "300"),
	K("admind", "head_timeout", CFG_UINT, admind.head_timeout, "30"),
	K("admind", "max_connections_per_address", CFG_UINT,
	    admind.max_connections_per_address, "64"),
	K("admind", "event_max_days", CFG_UINT, admind.event_max_days, "90"),
	K("admind", "event_max_rows", CFG_UINT, admind.event_max_rows,
	    "100000"),
	K("admind", "consent_pin", CFG_UINT, admind.consent_pin, "127"),
	K("admind", "consent_defer_max", CFG_UINT, admind.consent_defer_max,
	    "1440"),
	K("admind", "webhook_url", CFG_URLS, admind.webhook_url, ""),
	K("admind", "webhook_secret", CFG_STR, admind.webhook_secret, ""),
	K("admind", "webhook_events", CFG_KINDS, admind.webhook_events, ""),
	K("admind", "webhook_queue_max", CFG_UINT, admind.webhook_queue_max,
	    "10000"),
	K("fwstore", "listen", CFG_LISTEN, fwstore.listen, "[::]:8080"),
	K("fwstore", "public_url", CFG_URL, fwstore.public_url, ""),
	K("fwstore", "max_downloads", CFG_UINT, fwstore.max_downloads, "1000"),
	K("fwstore", "stall_timeout", CFG_UINT, fwstore.stall_timeout, "60"),
	K("fwstore", "head_timeout", CFG_UINT, fwstore.head_timeout, "10"),
	K("fwstore", "max_connections_per_address", CFG_UINT,
	    fwstore.max_connections_per_address, "256"),
	K("fwstore", "tls_listen", CFG_LISTEN, fwstore.tls_listen, ""),
	K("fwstore", "tls_cert", CFG_STR, fwstore.tls_cert, ""),
	K("fwstore", "tls_key", CFG_STR, fwstore.tls_key, ""),
	K("fwstore", "workers", CFG_UINT, fwstore.workers, "0"),
};

int
cfg_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char	*end;
	int	 shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* The keys whose whole number has a narrower range. */
static int
cfg_check_range(const struct cfg_key *k, uint64_t v, char *err, size_t errlen)
{
	if (strcmp(k->name, "consent_pin") == 0 && v > 255) {
		snprintf(err, errlen, "must be a virtual pin from 0 to 255 "
		    "(e.g. 127 for V127)");
		return -1;
	}
	if (strcmp(k->name, "consent_defer_max") == 0 && v == 0) {
		snprintf(err, errlen, "must be at least 1 (minutes)");
		return -1;
	}
	if (strcmp(k->name, "workers") == 0 && v > WORKERS_MAX) {
		snprintf(err, errlen, "must be at most %d (0: one per CPU)",
		    WORKERS_MAX);
		return -1;
	}
	if (strcmp(k->name, "webhook_queue_max") == 0 && v == 0) {
		snprintf(err, errlen, "must be at least 1");
		return -1;
	}
	return 0;
}

/* The event kinds of admind's event stream, and the families of its audit
 * kinds, that [admind] webhook_events may name (with a dotted suffix). */
static const char *const cfg_event_kinds[] = {
	"audit", "delivery", "device", "firmware", "job", "token",
};

/* One URL of [admind] webhook_url: http(s)://host..., n bytes. */
static int
cfg_check_url(const char *u, size_t n, char *err, size_t errlen)
{
	size_t	 skip = strncmp(u, "http://", 7) == 0 ? 7 :
		    strncmp(u, "https://", 8) == 0 ? 8 : 0;

	if (skip == 0 || n == skip || strchr("/?#@:", u[skip]) != NULL) {
		snprintf(err, errlen, "\"%.*s\" is no http:// or https:// URL "
		    "with a host (e.g. https://hooks.example.com/otad)",
		    (int)(n > 200 ? 200 : n), u);
		return -1;
	}
	if (n > 2000) {
		snprintf(err, errlen, "a URL is longer than 2000 bytes");
		return -1;
	}
	return 0;
}

static int
cfg_check_urls(const char *value, char *err, size_t errlen)
{
	const char	*p = value, *w;
	size_t		 n;
	int		 count = 0;

	while ((w = util_word(&p, " \t", &n)) != NULL) {
		if (cfg_check_url(w, n, err, errlen) == -1)
			return -1;
		if (++count > CFG_MAX_WEBHOOKS) {
			snprintf(err, errlen, "more than %d URLs",
			    CFG_MAX_WEBHOOKS);
			return -1;
		}
	}
	return 0;
}

/* One word of [admind] webhook_events, n bytes: a known kind, or one with
 * a dotted suffix ("device.online", "job.finished"). */
static int
cfg_check_kind(const char *w, size_t n, char *err, size_t errlen)
{
	size_t	 head = strcspn(w, ".");

	if (head > n)
		head = n;
	for (size_t i = 0; i < nitems(cfg_event_kinds); i++)
		if (strlen(cfg_event_kinds[i]) == head &&
		    strncmp(w, cfg_event_kinds[i], head) == 0 &&
		    strspn(w, "abcdefghijklmnopqrstuvwxyz._") >= n &&
		    (head == n || head + 1 < n))
			return 0;
	snprintf(err, errlen, "\"%.*s\" is no event kind; name some of "
	    "delivery, device, audit, job, firmware, token (or one such as "
	    "device.online or job.finished), separated by spaces or commas",
	    (int)(n > 64 ? 64 : n), w);
	return -1;
}

static int
cfg_check_kinds(const char *value, char *err, size_t errlen)
{
	const char	*p = value, *w;
	size_t		 n;

	while ((w = util_word(&p, CFG_KIND_SEPS, &n)) != NULL) {
		if (cfg_check_kind(w, n, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* [otad] database: empty (SQLite in state_dir) or a libpq connection URI.
 * The value is not repeated: it may hold a password. */
int
cfg_check_database(const char *value, char *err, size_t errlen)
{
	size_t	 n = strlen(value);

	if (n == 0)
		return 0;
	if ((strncmp(value, "postgresql://", 13) != 0 &&
	    strncmp(value, "postgres://", 11) != 0) ||
	    value[strcspn(value, " \t\r\n")] != '\0') {
		snprintf(err, errlen, "must be a PostgreSQL connection URI "
		    "starting with postgresql:// or postgres:// (e.g. "
		    "postgresql://otad@db.example:5432/otad), or empty for "
		    "SQLite in state_dir");
		return -1;
	}
	if (n > CFG_DATABASE_MAX) {
		snprintf(err, errlen, "is longer than %d bytes",
		    CFG_DATABASE_MAX);
		return -1;
	}
	return 0;
}

/* [otad] node: at most CFG_NODE_MAX bytes of [A-Za-z0-9._-], starting with
 * a letter or digit; empty: the host name. */
int
cfg_check_node(const char *value, char *err, size_t errlen)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t	 n = strlen(value);

	if (n > CFG_NODE_MAX || strspn(value, chars) != n ||
	    (n > 0 && strchr("._-", *value) != NULL)) {
		snprintf(err, errlen, "\"%.*s\" is no node name: at most %d "
		    "letters, digits, '.', '_' or '-', starting with a letter "
		    "or digit (e.g. ota-1)", (int)(n > 80 ? 80 : n), value,
		    CFG_NODE_MAX);
		return -1;
	}
	return 0;
}

static int
cfg_check(const struct cfg_key *k, const char *value, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss[NETADDR_MAX_LISTEN];
	struct netaddr_acl acl;
	uint64_t	 v;

	switch (k->kind) {
	case CFG_UINT:
		if (util_parse_u64(value, &v) == -1 || v > UINT_MAX) {
			snprintf(err, errlen, "\"%s\" is not a whole number",
			    value);
			return -1;
		}
		if (v == 0 && strstr(k->name, "_timeout") != NULL) {
			snprintf(err, errlen, "must be at least 1 (seconds)");
			return -1;
		}
		return cfg_check_range(k, v, err, errlen);
	case CFG_SIZE:
		if (cfg_parse_size(value, &v) == -1 || v == 0) {
			snprintf(err, errlen, "\"%s\" is not a size such as "
			    "16M or 512K", value);
			return -1;
		}
		return 0;
	case CFG_LISTEN:
		if (*value == '\0' && strcmp(k->name, "tls_listen") == 0)
			return 0;
		return netaddr_parse_list(value, ss, NETADDR_MAX_LISTEN, err,
		    errlen) == -1 ? -1 : 0;
	case CFG_ACL:
		if (netaddr_acl_parse(&acl, value, err, errlen) == -1)
			return -1;
		netaddr_acl_free(&acl);
		return 0;
	case CFG_URL:
		if (*value && strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(err, errlen, "\"%s\" must start with http:// "
			    "(e.g. http://ota.example.com:8080)", value);
			return -1;
		}
		return 0;
	case CFG_URLS:
		return cfg_check_urls(value, err, errlen);
	case CFG_KINDS:
		return cfg_check_kinds(value, err, errlen);
	case CFG_DATABASE:
		return cfg_check_database(value, err, errlen);
	case CFG_NODE:
		return cfg_check_node(value, err, errlen);
	default:
		return 0;
	}
}

static int
cfg_set(struct cfg *cfg, const struct cfg_key *k, const char *value)
{
	char		*p = (char *)cfg + k->offset;
	uint64_t	 v = 0;
	char		*s;

	switch (k->kind) {
	case CFG_UINT:
		util_parse_u64(value, &v);
		*(unsigned *)(void *)p = (unsigned)v;
		return 0;
	case CFG_SIZE:
		cfg_parse_size(value, &v);
		*(uint64_t *)(void *)p = v;
		return 0;
	default:
		if ((s = strdup(value)) == NULL)
			return -1;
		free(*(char **)(void *)p);
		*(char **)(void *)p = s;
		return 0;
	}
}

static const struct cfg_key *
cfg_find(const char *section, const char *name)
{
	for (size_t i = 0; i < nitems(cfg_keys); i++)
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

static int
cfg_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse	*cp = user;
	const struct cfg_key	*k;
	char			 err[256];

	if ((k = cfg_find(section, name)) == NULL) {
		fprintf(cp->errs, "%s: unknown key \"%s\" in section [%s]\n",
		    cp->cfg->path, name, section);
		cp->problems++;
		return 1;
	}
	if (cfg_check(k, value, err, sizeof(err)) == -1) {
		fprintf(cp->errs, "%s: [%s] %s: %s\n", cp->cfg->path, section,
		    name, err);
		cp->problems++;
		return 1;
	}
	if (cfg_set(cp->cfg, k, value) == -1)
		cp->problems++;
	return 1;
}

/* An empty [otad] node is the host name.  A host name that is no node name
 * is a problem only where nodes share a database. */
static int
cfg_node_default(struct cfg *cfg, FILE *errs)
{
	char	 host[256], err[256];

	if (*cfg->node != '\0')
		return 0;
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (cfg_check_node(host, err, sizeof(err)) == -1 || *host == '\0') {
		if (*cfg->database == '\0')
			return 0;
		fprintf(errs, "%s: [otad] node: the host name %s; set node to "
		    "this machine's name in the cluster\n", cfg->path,
		    *host ? err : "\"\" is unknown");
		return 1;
	}
	free(cfg->node);
	if ((cfg->node = strdup(host)) == NULL)
		return 1;
	return 0;
}

void
cfg_defaults(struct cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < nitems(cfg_keys); i++)
		cfg_set(cfg, &cfg_keys[i], cfg_keys[i].def);
}

int
cfg_load(struct cfg *cfg, const char *path, FILE *errs)
{
	struct cfg_parse cp = { cfg, errs, 0 };
	int		 rc;

	cfg_defaults(cfg);
	cfg->path = strdup(path);
	rc = ini_parse(path, cfg_handler, &cp);
	if (rc == -1) {
		fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return cp.problems + 1;
	}
	if (rc > 0) {
		fprintf(errs, "%s: line %d: not a \"key = value\" line or "
		    "[section] header\n", path, rc);
		cp.problems++;
	}
	if (*cfg->hwd.tls_listen && (*cfg->hwd.tls_cert == '\0' ||
	    *cfg->hwd.tls_key == '\0')) {
		fprintf(errs, "%s: [hwd] tls_listen needs tls_cert and "
		    "tls_key\n", path);
		cp.problems++;
	}
	if (cfg->admind.webhook_url[strspn(cfg->admind.webhook_url, " \t")] &&
	    *cfg->admind.webhook_secret == '\0') {
		fprintf(errs, "%s: [admind] webhook_url needs webhook_secret, "
		    "the key receivers check X-Otad-Signature with (e.g. the "
		    "output of openssl rand -hex 32)\n", path);
		cp.problems++;
	}
	cp.problems += cfg_node_default(cfg, errs);
	return cp.problems;
}

void
cfg_free(struct cfg *cfg)
{
	for (size_t i = 0; i < nitems(cfg_keys); i++)
		if (cfg_keys[i].kind != CFG_UINT &&
		    cfg_keys[i].kind != CFG_SIZE)
			free(*(char **)(void *)((char *)cfg +
			    cfg_keys[i].offset));
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

char *
cfg_firmware_dir(const struct cfg *cfg)
{
	char	*p;

	if (asprintf(&p, "%s/firmware", cfg->state_dir) == -1)
		return NULL;
	return p;
}

int
cfg_fwstore_port(const struct cfg *cfg)
{
	struct sockaddr_storage ss[NETADDR_MAX_LISTEN];
	char	 err[128];

	if (netaddr_parse_list(cfg->fwstore.listen, ss, NETADDR_MAX_LISTEN,
	    err, sizeof(err)) < 1)
		return 8080;
	return netaddr_port((struct sockaddr *)&ss[0]);
}

static void
cfg_usage(FILE *fp, const char *prog)
{
	fprintf(fp, "usage: %s [-htv] [-c file]\n"
	    "  -c file  the configuration (default %s)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       more logs (debug)\n"
	    "  -h       this help\n"
	    "See %s(8) and otad.conf(5).\n", prog, CFG_DEFAULT_PATH, prog);
}

void
cfg_args(int argc, char *argv[], const char *prog, struct cfg_args *a)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	a->path = CFG_DEFAULT_PATH;
	a->check = a->verbose = 0;
	while ((ch = getopt_long(argc, argv, "c:htv", long_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->path = optarg;
			break;
		case 'h':
			cfg_usage(stdout, prog);
			exit(0);
		case 't':
			a->check = 1;
			break;
		case 'v':
			a->verbose++;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	log_init(prog, a->verbose);
	return;
usage:
	cfg_usage(stderr, prog);
	exit(2);
}
