/* SPDX-License-Identifier: MIT */
/*
 * The configuration file /etc/otad/otad.conf (INI, read with libinih): one
 * section per daemon plus [otad].  Every key has a default that works; all
 * three daemons read the same file.
 */
#ifndef OTAD_CFG_H
#define OTAD_CFG_H

#include <stdint.h>
#include <stdio.h>

#define CFG_DEFAULT_PATH	"/etc/otad/otad.conf"

struct cfg {
	char	*path;
	char	*state_dir;		/* database and firmware/ */
	char	*control_socket;
	char	*database;		/* libpq URI, "": SQLite in state_dir */
	char	*node;			/* this node's name; unset: the
					 * host name ("" if it is none) */
	struct {
		char		*listen;
		char		*tls_listen;
		char		*tls_cert;
		char		*tls_key;
		unsigned	 max_connections;
		unsigned	 max_connections_per_address; /* 0: off */
		unsigned	 login_timeout;		/* seconds */
		unsigned	 idle_timeout;		/* seconds, before info */
		unsigned	 max_body;		/* declared frame body */
		unsigned	 rate_limit;		/* messages/s per device,
							 * 0: off */
		unsigned	 max_device_connections; /* per device, 0: off */
		unsigned	 workers;		/* processes, 0: per CPU */
	} hwd;
	struct {
		char		*listen;
		char		*tls_cert;		/* empty: state_dir */
		char		*tls_key;
		char		*admins_file;
		char		*allowed_ips;
		char		*trusted_proxies; /* X-Forwarded-For from */
		uint64_t	 max_firmware_size;
		unsigned	 sent_timeout;	/* s: command without download */
		unsigned	 head_timeout;	/* s for a request head */
		unsigned	 max_connections_per_address; /* 0: off */
		unsigned	 event_max_days; /* events older go, 0: kept */
		unsigned	 event_max_rows; /* oldest past it go, 0: all */
		unsigned	 consent_pin;	/* virtual pin, 0-255 */
		unsigned	 consent_defer_max; /* minutes a defer may ask */
		char		*webhook_url;	/* space-separated, "" none */
		char		*webhook_secret; /* HMAC key of the signature */
		char		*webhook_events; /* kinds sent, "" all */
		unsigned	 webhook_queue_max; /* events waiting per URL */
	} admind;
	struct {
		char		*listen;
		char		*public_url;
		unsigned	 max_downloads;
		unsigned	 max_connections_per_address; /* 0: off */
		unsigned	 stall_timeout;	/* s without progress */
		unsigned	 head_timeout;	/* s for a request head */
		char		*tls_listen;	/* HTTPS for ESP32 clients */
		char		*tls_cert;
		char		*tls_key;
		unsigned	 workers;	/* processes, 0: per CPU */
	} fwstore;
};

/* The daemons' command line (DESIGN.md section 8): -c FILE (default
 * CFG_DEFAULT_PATH), -t (check the file and exit), -v (more logs), -h or
 * --help (the usage on stdout, exit 0).  Anything else prints the usage
 * and exits 2.  Starts logging as prog. */
struct cfg_args {
	const char	*path;
	int		 check;
	int		 verbose;
};

void	 cfg_args(int argc, char *argv[], const char *prog, struct cfg_args *);

/* Fills defaults, then reads path.  Prints one line per problem to errs;
 * returns the number of problems (0: good).  A missing file is a problem. */
int	 cfg_load(struct cfg *, const char *path, FILE *errs);
void	 cfg_defaults(struct cfg *);
void	 cfg_free(struct cfg *);
/* "16M", "512K", "1G", "1048576" -> bytes; -1 on error. */
int	 cfg_parse_size(const char *, uint64_t *);
/* state_dir/firmware, allocated. */
char	*cfg_firmware_dir(const struct cfg *);
/* The URLs of a space-separated list, at most this many. */
#define CFG_MAX_WEBHOOKS	8
#define CFG_KIND_SEPS	" \t,"	/* between the words of webhook_events */
#define CFG_NODE_MAX	63	/* bytes of [otad] node */
#define CFG_DATABASE_MAX 1024	/* bytes of [otad] database */
/* Port of the first address in fwstore.listen (for download URLs). */
int	 cfg_fwstore_port(const struct cfg *);

/* [otad] database and node as the configuration checks them (for
 * `otad init --database --node`): 0, or -1 with why in err. */
int	 cfg_check_database(const char *, char *, size_t);
int	 cfg_check_node(const char *, char *, size_t);

#endif
