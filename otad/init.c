/* SPDX-License-Identifier: MIT */
/*
 * `otad init DIR`: writes a working development or container setup into
 * DIR: otad.conf with the state inside DIR, a self-signed certificate for
 * the admin API, an admins file with a random password, and a database
 * holding one demo device.  Prints the password, the device token and the
 * curl line to try.  Run by hand, never by a daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admins.h"
#include "cfg.h"
#include "log.h"
#include "store.h"
#include "tls.h"
#include "util.h"

#include "otad.h"

#define INIT_PASSWORD_LEN	20
#define INIT_TOKEN_LEN		32
#define INIT_DEMO_DEVICE	"demo"
#define INIT_ADMIN_USER		"admin"

struct init {
	char	 dir[PATH_MAX];		/* absolute */
	char	 state_dir[PATH_MAX];
	char	 password[INIT_PASSWORD_LEN + 1];
	char	 token[INIT_TOKEN_LEN + 1];
	char	 pin[TLS_PIN_LEN];	/* of the admin API's key */
	const char *database;		/* a PostgreSQL URI, or NULL */
	const char *node;		/* [otad] node, or NULL */
};

static void	 init_path(char *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 init_check_values(const struct init *);
static void	 init_check_target(const char *, int);
static void	 init_make_dir(struct init *, const char *);
static void	 init_tls(struct init *);
static void	 init_admins(const struct init *);
static void	 init_state(const struct init *);
static void	 init_secret(const struct init *, const char *, const char *);
static void	 init_config(const struct init *);
static void	 init_print(const struct init *, int);

static const struct option init_options[] = {
	{ "database",	required_argument, NULL, 'd' },
	{ "force",	no_argument,	NULL, 'f' },
	{ "node",	required_argument, NULL, 'N' },
	{ "help",	no_argument,	NULL, 'h' },
	{ "no-start-hint", no_argument,	NULL, 'n' },
	{ NULL,		0,		NULL, 0 }
};

int
otad_init(int argc, char **argv)
{
	struct init	 in;
	int		 ch, force = 0, hint = 1;

	memset(&in, 0, sizeof(in));
	while ((ch = getopt_long(argc, argv, "fh", init_options, NULL)) != -1) {
		switch (ch) {
		case 'd':
			in.database = optarg;
			break;
		case 'N':
			in.node = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'n':
			hint = 0;
			break;
		case 'h':
			otad_usage(0);
		default:
			otad_usage(2);
		}
	}
	if (argc - optind != 1)
		otad_usage(2);
	log_init("otad", 0);
	init_check_values(&in);
	init_check_target(argv[optind], force);
	init_make_dir(&in, argv[optind]);
	if (util_random_token(in.password, INIT_PASSWORD_LEN) == -1 ||
	    util_random_token(in.token, INIT_TOKEN_LEN) == -1)
		fatal("cannot read random bytes");
	init_tls(&in);
	init_admins(&in);
	init_state(&in);
	init_secret(&in, "admin-password", in.password);
	init_secret(&in, "demo-token", in.token);
	/* Last, so that an init that failed half-way can simply be rerun. */
	init_config(&in);
	init_print(&in, hint);
	return 0;
}

/* --database and --node as the configuration will check them. */
static void
init_check_values(const struct init *in)
{
	char	 err[256];

	if (in->database != NULL &&
	    cfg_check_database(in->database, err, sizeof(err)) == -1)
		fatalx("--database: %s", err);
	if (in->node != NULL && cfg_check_node(in->node, err, sizeof(err)) == -1)
		fatalx("--node: %s", err);
}

/* out (PATH_MAX bytes) = printf(fmt, ...); exits when it does not fit. */
static void
init_path(char *out, const char *what, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		fatalx("the path of %s is too long", what);
}

/* Refuses to overwrite an existing setup unless forced. */
static void
init_check_target(const char *dir, int force)
{
	char		 conf[PATH_MAX];
	struct stat	 st;

	init_path(conf, "otad.conf", "%s/otad.conf", dir);
	if (force || lstat(conf, &st) == -1)
		return;
	fprintf(stderr, "otad: %s already exists; use otad init --force %s "
	    "to overwrite it\n", conf, dir);
	exit(1);
}

static void
init_make_dir(struct init *in, const char *dir)
{
	if (util_mkdirs(dir, 0750) == -1)
		fatal("cannot create %s", dir);
	if (realpath(dir, in->dir) == NULL)
		fatal("%s", dir);
	/* The paths go into an INI file: no line breaks, no comments. */
	if (strpbrk(in->dir, "\n\r;") != NULL)
		fatalx("%s: the directory name must not contain a line break "
		    "or ';'", in->dir);
	init_path(in->state_dir, "the state directory", "%s/state", in->dir);
}

static void
init_tls(struct init *in)
{
	char	 cert[PATH_MAX], key[PATH_MAX], host[256], err[512];
	SSL_CTX	*ctx;

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	init_path(cert, "admin.crt", "%s/admin.crt", in->dir);
	init_path(key, "admin.key", "%s/admin.key", in->dir);
	if (tls_make_self_signed(cert, key, host, err, sizeof(err)) == -1 ||
	    (ctx = tls_server_ctx(cert, key, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (tls_key_pin(ctx, in->pin) == -1)
		fatalx("%s: cannot read its public key", cert);
	SSL_CTX_free(ctx);
}

static void
init_admins(const struct init *in)
{
	char	 path[PATH_MAX], hash[512], *line;
	int	 len;

	if (admins_hash(in->password, hash, sizeof(hash)) == -1)
		fatalx("cannot hash the admin password");
	init_path(path, "admins", "%s/admins", in->dir);
	if ((len = asprintf(&line, "%s:%s\n", INIT_ADMIN_USER, hash)) == -1)
		fatal("asprintf");
	if (util_write_file(path, line, (size_t)len, 0600) == -1)
		fatal("cannot write %s", path);
	free(line);
}

/* state_dir, its firmware/ directory, and the database with the demo
 * device. */
static void
init_state(const struct init *in)
{
	char		 path[PATH_MAX], err[512], hash[65];
	struct store	*st;
	int64_t		 id;

	init_path(path, "the firmware directory", "%s/firmware",
	    in->state_dir);
	if (util_mkdirs(path, 0750) == -1)
		fatal("cannot create %s", path);
	init_path(path, "the database", "%s/otad.db", in->state_dir);
	if ((st = store_open(in->database != NULL ? in->database : path, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	util_sha256_hex(in->token, hash);
	if (store_device_create(st, INIT_DEMO_DEVICE, hash, "", &id) != 0)
		fatalx("%s: cannot create the demo device",
		    in->database != NULL ? "the database" : path);
	store_close(st);
}

/* DIR/name holds a secret (no trailing newline) for scripts to read. */
static void
init_secret(const struct init *in, const char *name, const char *secret)
{
	char	 path[PATH_MAX];

	init_path(path, name, "%s/%s", in->dir, name);
	if (util_write_file(path, secret, strlen(secret), 0600) == -1)
		fatal("cannot write %s", path);
}

static const char init_config_fmt[] =
    "; otad configuration written by `otad init`.  Every key is optional;\n"
    "; comments go on their own line.\n"
    "\n"
    "[otad]\n"
    "; The database (otad.db) and the uploaded firmware (firmware/).\n"
    "state_dir = %1$s/state\n"
    "; Unix socket on which admind talks to hwd and fwstore.\n"
    "control_socket = %1$s/control.sock\n"
    "; PostgreSQL shared by several otad nodes, as a libpq URI; empty:\n"
    "; SQLite in state_dir.  This node's name in such a cluster (empty:\n"
    "; the host name).\n"
    "database = %2$s\n"
    "node = %3$s\n"
    "\n"
    "[hwd]\n"
    "; Devices connect here (Blynk protocol): comma-separated host:port\n"
    "; list; [::] also takes IPv4.\n"
    "listen = [::]:8442\n"
    "; Processes sharing the device connections (0: one per CPU).\n"
    "workers = 0\n"
    "\n"
    "[admind]\n"
    "; The admin API and the curl endpoints (HTTPS).\n"
    "listen = [::]:9443\n"
    "; Certificate and key of the admin API (self-signed by otad init).\n"
    "tls_cert = %1$s/admin.crt\n"
    "tls_key = %1$s/admin.key\n"
    "; user:crypt-hash lines; add one with otad admin -c %1$s/otad.conf\n"
    "; add USER (then SIGHUP to otad run or otad-admind).\n"
    "admins_file = %1$s/admins\n"
    "; Clients allowed to use the admin API: CIDR list.\n"
    "allowed_ips = 127.0.0.0/8, ::1\n"
    "; Jobs with \"confirm\": \"device\" ask the device on this virtual pin\n"
    "; (0-255) before the update; a \"defer\" waits at most consent_defer_max\n"
    "; minutes.\n"
    "consent_pin = 127\n"
    "consent_defer_max = 1440\n"
    "; Webhooks: each event is POSTed as JSON to these URLs (space-\n"
    "; separated; empty: none), signed with webhook_secret; webhook_events\n"
    "; names the kinds sent (empty: all), e.g. delivery job.\n"
    "webhook_url =\n"
    "webhook_secret =\n"
    "webhook_events =\n"
    "\n"
    "[fwstore]\n"
    "; Devices download firmware here (plain HTTP).\n"
    "listen = [::]:8080\n"
    "; Base URL sent to devices, e.g. http://ota.example.com:8080; empty:\n"
    "; the address each device connected to, with fwstore's port.\n"
    "public_url =\n"
    "; Processes sharing the downloads (0: one per CPU).\n"
    "workers = 0\n";

static void
init_config(const struct init *in)
{
	char	 path[PATH_MAX], *text;
	int	 len;

	init_path(path, "otad.conf", "%s/otad.conf", in->dir);
	if ((len = asprintf(&text, init_config_fmt, in->dir,
	    in->database != NULL ? in->database : "",
	    in->node != NULL ? in->node : "")) == -1)
		fatal("asprintf");
	if (util_write_file(path, text, (size_t)len, 0640) == -1)
		fatal("cannot write %s", path);
	free(text);
}

/* hint: say how to start it (not when the caller starts it next). */
static void
init_print(const struct init *in, int hint)
{
	printf("otad: wrote %s/otad.conf\n", in->dir);
	printf("admin user:        %s\n", INIT_ADMIN_USER);
	printf("admin password:    %s\n", in->password);
	printf("demo device token: %s\n", in->token);
	printf("certificate pin:   %s\n", in->pin);
	printf("\n");
	if (hint)
		printf("Start it:      otad run -c %s/otad.conf\n", in->dir);
	printf("Connect a device with the token above to port 8442 "
	    "(Blynk protocol), then push firmware:\n");
	printf("  curl -v -F file=@firmware.bin --insecure -u %s:%s "
	    "https://localhost:9443/admin/ota/start?token=%s\n",
	    INIT_ADMIN_USER, in->password, in->token);
	printf("or with the otad command (the pin checks the self-signed "
	    "certificate):\n");
	printf("  OTAD_PASSWORD=%s otad push firmware.bin --all --watch "
	    "--pin %s\n", in->password, in->pin);
}
