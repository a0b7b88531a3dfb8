/* SPDX-License-Identifier: MIT */
/*
 * Where the `otad` client commands find admind and how they log in: the
 * command line (--url, --user, --api-token, --insecure, --pin), then the
 * environment (OTAD_PASSWORD, OTAD_TOKEN), then ~/.config/otad/client.conf
 * (key = value), then the defaults (https://localhost:9443, user admin, the
 * password asked on a terminal).  Run by hand, never by a daemon.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <ini.h>

#include "util.h"

#include "otad.h"

#define CONF_DEFAULT_URL	"https://localhost:9443"
#define CONF_DEFAULT_USER	"admin"
#define CONF_MAX_PASSWORD	256

struct conf_file {
	struct client_conf	*conf;
	const char		*path;
	int			 secret;	/* holds a password or token */
	char			 bad[64];	/* the first unknown key */
};

static void	 conf_set(char **, const char *);
static void	 conf_file(struct client_conf *);
static int	 conf_file_key(void *, const char *, const char *,
		    const char *);
static void	 conf_password(struct client_conf *);
static int	 conf_bool(const char *);

int
client_conf_option(struct client_conf *conf, int ch, const char *arg)
{
	switch (ch) {
	case CLIENT_OPT_URL:
		conf_set(&conf->url, arg);
		break;
	case CLIENT_OPT_USER:
		conf_set(&conf->user, arg);
		conf->cli_user = 1;
		break;
	case CLIENT_OPT_TOKEN:
		conf_set(&conf->token, arg);
		break;
	case CLIENT_OPT_INSECURE:
		conf->insecure = 1;
		break;
	case CLIENT_OPT_PIN:
		free(conf->pin);
		if (client_conf_pin(arg, &conf->pin) == -1) {
			fprintf(stderr, "otad: --pin %s is not a pin; give "
			    "sha256: and the 64 hex digits `otad init` printed "
			    "(see README, \"The otad command\")\n", arg);
			exit(OTAD_EXIT_USAGE);
		}
		break;
	case CLIENT_OPT_JSON:
		conf->json = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

struct client *
client_args(int argc, char **argv, const char *shortopts,
    const struct option *longopts,
    int (*on_opt)(void *, int, const char *), void *arg)
{
	struct client_conf *conf;
	int		 ch;

	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		fprintf(stderr, "otad: out of memory\n");
		exit(OTAD_EXIT_USAGE);
	}
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h')
			otad_usage(0);
		if (client_conf_option(conf, ch, optarg))
			continue;
		if (ch == '?' || on_opt == NULL ||
		    on_opt(arg, ch, optarg) == -1)
			otad_usage(OTAD_EXIT_USAGE);
	}
	client_conf_finish(conf);
	return client_open(conf);
}

int64_t
client_id_arg(const char *what, const char *arg)
{
	uint64_t	 v;

	if (arg == NULL)
		otad_usage(OTAD_EXIT_USAGE);
	if (util_parse_u64(arg, &v) == -1 || v == 0 || v > INT64_MAX) {
		fprintf(stderr, "otad: \"%s\" is no %s id; ids are whole "
		    "numbers from 1 (otad %ss lists them)\n", arg, what, what);
		exit(OTAD_EXIT_USAGE);
	}
	return (int64_t)v;
}

void
client_conf_finish(struct client_conf *conf)
{
	const char	*env;

	if (conf->token == NULL && !conf->cli_user &&
	    (env = getenv("OTAD_TOKEN")) != NULL && *env != '\0')
		conf_set(&conf->token, env);
	if ((env = getenv("OTAD_PASSWORD")) != NULL && *env != '\0')
		conf_set(&conf->password, env);
	conf_file(conf);
	if (conf->url == NULL)
		conf_set(&conf->url, CONF_DEFAULT_URL);
	while (*conf->url && conf->url[strlen(conf->url) - 1] == '/')
		conf->url[strlen(conf->url) - 1] = '\0';
	if (strncmp(conf->url, "https://", 8) != 0) {
		fprintf(stderr, "otad: --url %s: the admin API speaks HTTPS "
		    "only; give https://HOST:PORT\n", conf->url);
		exit(OTAD_EXIT_USAGE);
	}
	if (conf->cli_user || conf->token == NULL) {
		free(conf->token);
		conf->token = NULL;
		if (conf->user == NULL)
			conf_set(&conf->user, CONF_DEFAULT_USER);
		conf_password(conf);
	}
}

int
client_conf_pin(const char *text, char **out)
{
	uint8_t		 key[32];
	char		 b64[45];
	unsigned	 byte;

	if (strncmp(text, "sha256:", 7) != 0 || strlen(text + 7) != 64)
		return -1;
	for (size_t i = 0; i < sizeof(key); i++) {
		if (strspn(text + 7 + 2 * i, "0123456789abcdefABCDEF") < 2 ||
		    sscanf(text + 7 + 2 * i, "%2x", &byte) != 1)
			return -1;
		key[i] = (uint8_t)byte;
	}
	util_base64(key, sizeof(key), b64);
	if (asprintf(out, "sha256//%s", b64) == -1) {
		*out = NULL;
		return -1;
	}
	return 0;
}

/* *field = a copy of value; exits when memory is out. */
static void
conf_set(char **field, const char *value)
{
	free(*field);
	if ((*field = strdup(value)) == NULL) {
		fprintf(stderr, "otad: out of memory\n");
		exit(OTAD_EXIT_USAGE);
	}
}

/* $XDG_CONFIG_HOME/otad/client.conf, or ~/.config/otad/client.conf. */
static void
conf_file(struct client_conf *conf)
{
	struct conf_file cf = { .conf = conf };
	struct stat	 st;
	const char	*base = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char		 path[PATH_MAX];
	int		 line;

	if (base != NULL && *base != '\0')
		snprintf(path, sizeof(path), "%s/otad/client.conf", base);
	else if (home != NULL && *home != '\0')
		snprintf(path, sizeof(path), "%s/.config/otad/client.conf",
		    home);
	else
		return;
	if (stat(path, &st) == -1)
		return;
	cf.path = path;
	if ((line = ini_parse(path, conf_file_key, &cf)) != 0) {
		if (line == -1)
			fprintf(stderr, "otad: cannot read %s: %s\n", path,
			    strerror(errno));
		else if (cf.bad[0])
			fprintf(stderr, "otad: %s line %d: unknown key \"%s\"; "
			    "the keys are url, user, password, token, insecure "
			    "and pin\n", path, line, cf.bad);
		else
			fprintf(stderr, "otad: %s line %d: not a key = value "
			    "line\n", path, line);
		exit(OTAD_EXIT_USAGE);
	}
	if (cf.secret && (st.st_mode & 0004))
		fprintf(stderr, "otad: warning: %s holds a secret and every "
		    "user can read it; chmod 600 %s\n", path, path);
}

/* One key = value of the config file: the command line and the
 * environment win. */
static int
conf_file_key(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_file *cf = arg;
	struct client_conf *conf = cf->conf;
	int		 b;

	if (strcmp(name, "url") == 0 && conf->url == NULL)
		conf_set(&conf->url, value);
	else if (strcmp(name, "user") == 0 && conf->user == NULL)
		conf_set(&conf->user, value);
	else if (strcmp(name, "password") == 0) {
		cf->secret = 1;
		if (conf->password == NULL)
			conf_set(&conf->password, value);
	} else if (strcmp(name, "token") == 0) {
		cf->secret = 1;
		if (conf->token == NULL && !conf->cli_user)
			conf_set(&conf->token, value);
	} else if (strcmp(name, "insecure") == 0) {
		if ((b = conf_bool(value)) == -1)
			return 0;
		conf->insecure |= b;
	} else if (strcmp(name, "pin") == 0) {
		if (conf->pin == NULL && client_conf_pin(value, &conf->pin) == -1)
			return 0;
	} else {
		snprintf(cf->bad, sizeof(cf->bad), "%s", name);
		return 0;
	}
	return 1;
}

static int
conf_bool(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* The password, asked without echo when there is a terminal. */
static void
conf_password(struct client_conf *conf)
{
	struct termios	 saved, quiet;
	char		 line[CONF_MAX_PASSWORD];
	FILE		*tty;

	if (conf->password != NULL)
		return;
	if (!isatty(STDIN_FILENO) || (tty = fopen("/dev/tty", "r+")) == NULL) {
		fprintf(stderr, "otad: no password for %s: set OTAD_PASSWORD, "
		    "put password = ... into ~/.config/otad/client.conf, or "
		    "use an API token (--api-token or OTAD_TOKEN)\n",
		    conf->user);
		exit(OTAD_EXIT_USAGE);
	}
	/* echo off before the prompt shows, and what was typed ahead
	 * (a paste) kept */
	tcgetattr(fileno(tty), &saved);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSANOW, &quiet);
	fprintf(tty, "password for %s at %s: ", conf->user, conf->url);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL)
		line[0] = '\0';
	tcsetattr(fileno(tty), TCSANOW, &saved);
	fputc('\n', tty);
	fclose(tty);
	line[strcspn(line, "\r\n")] = '\0';
	conf_set(&conf->password, line);
	explicit_bzero(line, sizeof(line));
}
