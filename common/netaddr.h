/* SPDX-License-Identifier: MIT */
/*
 * Socket address helpers shared by the daemons: "host:port" lists as the
 * config writes them ("[::]:8442, 127.0.0.1:9000"), printable addresses,
 * CIDR allow-lists where IPv4 rules also match IPv4-mapped IPv6 peers, and
 * the client behind a trusted proxy (X-Forwarded-For).
 */
#ifndef OTAD_NETADDR_H
#define OTAD_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETADDR_MAX_LISTEN	8
#define NETADDR_STRLEN		64	/* "[ffff:...]:65535" fits */

/* Parses a comma-separated host:port list.  Hosts are numeric IPv4,
 * [IPv6], "*" (same as [::]) or "localhost" (127.0.0.1).  Returns the number
 * of addresses, or -1 with a sentence in err. */
int	 netaddr_parse_list(const char *, struct sockaddr_storage *, int max,
	    char *err, size_t errlen);
/* "127.0.0.1:8080" / "[::1]:8080"; with_port 0 gives the bare host
 * ("127.0.0.1", "[::1]", the form a URL wants).  IPv4-mapped IPv6 is shown
 * as IPv4. */
void	 netaddr_format(const struct sockaddr *, char *, size_t, int with_port);
int	 netaddr_port(const struct sockaddr *);
/* The client a per-client limit counts: the IPv4 address, or the IPv6 /64
 * ("[2001:db8:1:2::]/64"), since one host may own a whole /64. */
void	 netaddr_client(const struct sockaddr *, char *, size_t);

struct netaddr_rule {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];
	int	 prefix;
};

struct netaddr_acl {
	struct netaddr_rule	*rules;
	size_t			 nrules;
};

/* "127.0.0.0/8, ::1, 10.1.2.3" ; -1 with a sentence in err. */
int	 netaddr_acl_parse(struct netaddr_acl *, const char *, char *err,
	    size_t errlen);
int	 netaddr_acl_match(const struct netaddr_acl *, const struct sockaddr *);
void	 netaddr_acl_free(struct netaddr_acl *);

/* The client an X-Forwarded-For header value names when the proxies in
 * trusted sent it: the right-most address that is not itself in trusted
 * (the left-most when all are).  Entries are addresses, with or without
 * a port ("192.0.2.1:5000", "[2001:db8::1]:443"); -1 when one of those
 * read is not, or past NETADDR_MAX_FORWARDED entries. */
#define NETADDR_MAX_FORWARDED	32
int	 netaddr_forwarded(const char *xff, const struct netaddr_acl *trusted,
	    struct sockaddr_storage *out);

#endif
