/* SPDX-License-Identifier: MIT */
/*
 * Socket address helpers (see netaddr.h): listen lists from the config,
 * printable addresses, and CIDR allow-lists.  Used by all three daemons.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static int	netaddr_acl_match_raw(const struct netaddr_acl *, int,
	    const uint8_t *);

static char *
netaddr_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
netaddr_parse_one(char *item, struct sockaddr_storage *ss, char *err,
    size_t errlen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			*host = item, *port, *end;
	long			 p;

	if (*host == '[') {
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			goto bad;
		*end = '\0';
		host++;
		port = end + 2;
	} else {
		if ((port = strrchr(host, ':')) == NULL)
			goto bad;
		*port++ = '\0';
	}
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (strcmp(host, "*") == 0)
		host = "::";
	else if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		return 0;
	}
bad:
	snprintf(err, errlen, "\"%s\" is not an address:port such as "
	    "127.0.0.1:8442 or [::]:8442", item);
	return -1;
}

int
netaddr_parse_list(const char *list, struct sockaddr_storage *out, int max,
    char *err, size_t errlen)
{
	char	*copy, *save = NULL, *tok;
	int	 n = 0;

	if ((copy = strdup(list)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save)) {
		tok = netaddr_trim(tok);
		if (*tok == '\0')
			continue;
		if (n == max) {
			snprintf(err, errlen, "more than %d addresses", max);
			n = -1;
			break;
		}
		if (netaddr_parse_one(tok, &out[n], err, errlen) == -1) {
			n = -1;
			break;
		}
		n++;
	}
	free(copy);
	if (n == 0) {
		snprintf(err, errlen, "no address given");
		return -1;
	}
	return n;
}

void
netaddr_format(const struct sockaddr *sa, char *out, size_t len,
    int with_port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	char			 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host,
		    sizeof(host));
		if (with_port)
			snprintf(out, len, "%s:%d", host, netaddr_port(sa));
		else
			snprintf(out, len, "%s", host);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		if (with_port)
			snprintf(out, len, "[%s]:%d", host, netaddr_port(sa));
		else
			snprintf(out, len, "[%s]", host);
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		if (with_port)
			snprintf(out, len, "%s:%d", host, netaddr_port(sa));
		else
			snprintf(out, len, "%s", host);
	} else {
		snprintf(out, len, "unknown");
	}
}

int
netaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

static int
netaddr_rule_parse(char *item, struct netaddr_rule *rule)
{
	char	*slash, *end;
	long	 prefix;

	memset(rule, 0, sizeof(*rule));
	if ((slash = strchr(item, '/')) != NULL)
		*slash++ = '\0';
	if (strcmp(item, "localhost") == 0) {
		item = "127.0.0.1";
		slash = slash ? slash : "8";
	}
	if (inet_pton(AF_INET, item, rule->addr) == 1)
		rule->family = AF_INET;
	else if (inet_pton(AF_INET6, item, rule->addr) == 1)
		rule->family = AF_INET6;
	else
		return -1;
	rule->prefix = rule->family == AF_INET ? 32 : 128;
	if (slash) {
		prefix = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || prefix < 0 ||
		    prefix > rule->prefix)
			return -1;
		rule->prefix = (int)prefix;
	}
	return 0;
}

int
netaddr_acl_parse(struct netaddr_acl *acl, const char *list, char *err,
    size_t errlen)
{
	char	*copy, *save = NULL, *tok, orig[128];
	struct netaddr_rule *r;

	memset(acl, 0, sizeof(*acl));
	if ((copy = strdup(list)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if ((r = reallocarray(acl->rules, acl->nrules + 1,
		    sizeof(*r))) == NULL)
			goto fail;
		acl->rules = r;
		snprintf(orig, sizeof(orig), "%s", tok);
		if (netaddr_rule_parse(tok, &acl->rules[acl->nrules]) == -1) {
			snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 "
			    "address or CIDR block such as 10.0.0.0/8 or "
			    "fd00::/8", orig);
			goto fail;
		}
		acl->nrules++;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	netaddr_acl_free(acl);
	return -1;
}

static int
netaddr_prefix_match(const uint8_t *a, const uint8_t *b, int prefix)
{
	int	 bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits))) == 0;
}

int
netaddr_acl_match(const struct netaddr_acl *acl, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t		*addr;
	int			 family;

	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		family = AF_INET;
		addr = &sin6->sin6_addr.s6_addr[12];
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		addr = sin6->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	if (netaddr_acl_match_raw(acl, family, addr))
		return 1;
	/* loopback is loopback: a rule for one admits the other */
	if (family == AF_INET && addr[0] == 127)
		return netaddr_acl_match_raw(acl, AF_INET6,
		    in6addr_loopback.s6_addr);
	if (family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return netaddr_acl_match_raw(acl, AF_INET,
		    (const uint8_t []){ 127, 0, 0, 1 });
	return 0;
}

static int
netaddr_acl_match_raw(const struct netaddr_acl *acl, int family,
    const uint8_t *addr)
{
	for (size_t i = 0; i < acl->nrules; i++)
		if (acl->rules[i].family == family &&
		    netaddr_prefix_match(acl->rules[i].addr, addr,
		    acl->rules[i].prefix))
			return 1;
	return 0;
}

void
netaddr_acl_free(struct netaddr_acl *acl)
{
	free(acl->rules);
	acl->rules = NULL;
	acl->nrules = 0;
}

void
netaddr_client(const struct sockaddr *sa, char *out, size_t len)
{
	struct sockaddr_in6	 net;

	if (sa->sa_family != AF_INET6 ||
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		netaddr_format(sa, out, len, 0);
		return;
	}
	memcpy(&net, sa, sizeof(net));
	memset(&net.sin6_addr.s6_addr[8], 0, 8);
	netaddr_format((const struct sockaddr *)&net, out, len, 0);
	if (strlen(out) + 4 < len)
		strcat(out, "/64");
}

/* One entry of X-Forwarded-For, n bytes: "192.0.2.1", "192.0.2.1:5000",
 * "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443", into ss. */
static int
netaddr_forwarded_one(const char *p, size_t n, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN + 8];
	const char		*end;

	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL || (end[1] != '\0' &&
		    (end[1] != ':' || strspn(end + 2, "0123456789") !=
		    strlen(end + 2) || end[2] == '\0')))
			return -1;
		host[end - host] = '\0';
		memmove(host, host + 1, strlen(host));
	} else if (strchr(host, ':') == strrchr(host, ':') &&
	    (end = strchr(host, ':')) != NULL) {
		/* IPv4 with a port */
		if (end[1] == '\0' || strspn(end + 1, "0123456789") !=
		    strlen(end + 1))
			return -1;
		host[end - host] = '\0';
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

int
netaddr_forwarded(const char *xff, const struct netaddr_acl *trusted,
    struct sockaddr_storage *out)
{
	const char	*end = xff + strlen(xff), *start, *p, *q;
	int		 entries = 0;

	for (;;) {
		for (start = end; start > xff && start[-1] != ','; start--)
			;
		for (p = start; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		for (q = end; q > p && (q[-1] == ' ' || q[-1] == '\t'); q--)
			;
		if (++entries > NETADDR_MAX_FORWARDED ||
		    netaddr_forwarded_one(p, (size_t)(q - p), out) == -1)
			return -1;
		/* the left-most entry is the client, trusted or not */
		if (start == xff ||
		    !netaddr_acl_match(trusted, (struct sockaddr *)out))
			return 0;
		end = start - 1;
	}
}
