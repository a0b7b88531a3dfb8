/* SPDX-License-Identifier: MIT */
/* Unit test: listen lists, address formatting and allow-lists
 * (common/netaddr.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"
#include "check.h"

static struct sockaddr_storage
addr(const char *host)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

/* What a per-client limit counts: an IPv4 address, an IPv6 /64. */
static void
check_client(void)
{
	static const char *const cases[][2] = {
		{ "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "[2001:db8:1:2::]/64" },
		{ "2001:db8:1:2::1", "[2001:db8:1:2::]/64" },
		{ "::ffff:10.1.2.3", "10.1.2.3" },
		{ "10.1.2.4", "10.1.2.4" },
	};
	struct sockaddr_storage a;
	char	 out[NETADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = addr(cases[i][0]);
		netaddr_client((void *)&a, out, sizeof(out));
		CHECK(strcmp(out, cases[i][1]) == 0);
	}
}

/* X-Forwarded-For from trusted proxies: the right-most address that is
 * not a trusted proxy; -1 for junk, "" for the client when all fail. */
static void
check_forwarded(void)
{
	static const char *const cases[][2] = {
		{ "203.0.113.7", "203.0.113.7" },
		{ "203.0.113.7, 10.0.0.2", "203.0.113.7" },
		/* the client forged an entry: the proxy appended the real one */
		{ "127.0.0.1, 198.51.100.9, 10.0.0.2", "198.51.100.9" },
		{ " 198.51.100.9:5123 ,10.0.0.3", "198.51.100.9" },
		{ "2001:db8::7", "[2001:db8::7]" },
		{ "[2001:db8::7]:443, 10.0.0.2", "[2001:db8::7]" },
		{ "[2001:db8::8]", "[2001:db8::8]" },
		{ "10.0.0.2, 10.0.0.3", "10.0.0.2" },	/* all trusted */
		{ "junk, 203.0.113.7", "203.0.113.7" },	/* left of it unread */
		{ "203.0.113.7, junk", "" },
		{ "", "" },
		{ "203.0.113.7,", "" },
		{ "1.2.3.4:", "" },
		{ "[2001:db8::7", "" },
		{ "[2001:db8::7]x", "" },
		{ "1.2.3.4:80:90", "" },
		{ "10.0.0.2 10.0.0.3", "" },
	};
	struct sockaddr_storage a;
	struct netaddr_acl trusted;
	char	 err[200], out[NETADDR_STRLEN], many[1024] = "";
	int	 rc;

	CHECK(netaddr_acl_parse(&trusted, "10.0.0.0/8", err,
	    sizeof(err)) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = netaddr_forwarded(cases[i][0], &trusted, &a);
		if (rc == 0)
			netaddr_format((void *)&a, out, sizeof(out), 0);
		if (*cases[i][1] == '\0' ? rc != -1 :
		    rc != 0 || strcmp(out, cases[i][1]) != 0) {
			fprintf(stderr, "forwarded \"%s\": got %s\n",
			    cases[i][0], rc == 0 ? out : "-1");
			check_failed++;
		}
	}
	/* a bounded walk: 40 trusted hops are refused */
	for (int i = 0; i < 40; i++)
		strcat(many, i ? ", 10.0.0.1" : "10.0.0.1");
	CHECK(netaddr_forwarded(many, &trusted, &a) == -1);
	netaddr_acl_free(&trusted);
}

int
main(void)
{
	struct sockaddr_storage ss[4], a;
	struct netaddr_acl acl;
	char	 err[200], out[NETADDR_STRLEN];

	check_client();
	check_forwarded();

	CHECK(netaddr_parse_list("[::]:8442, 127.0.0.1:9000", ss, 4, err,
	    sizeof(err)) == 2);
	CHECK(ss[0].ss_family == AF_INET6 && netaddr_port((void *)&ss[0]) ==
	    8442);
	netaddr_format((void *)&ss[1], out, sizeof(out), 1);
	CHECK(strcmp(out, "127.0.0.1:9000") == 0);
	netaddr_format((void *)&ss[0], out, sizeof(out), 0);
	CHECK(strcmp(out, "[::]") == 0);
	CHECK(netaddr_parse_list("localhost:1", ss, 4, err, sizeof(err)) == 1);
	CHECK(netaddr_parse_list("8442", ss, 4, err, sizeof(err)) == -1);
	CHECK(strstr(err, "\"8442\" is not an address:port") != NULL);
	CHECK(netaddr_parse_list("1.2.3.4:70000", ss, 4, err,
	    sizeof(err)) == -1);
	CHECK(netaddr_parse_list("", ss, 4, err, sizeof(err)) == -1);

	a = addr("::ffff:127.0.0.1");
	netaddr_format((void *)&a, out, sizeof(out), 0);
	CHECK(strcmp(out, "127.0.0.1") == 0);

	CHECK(netaddr_acl_parse(&acl, "127.0.0.0/8, ::1", err,
	    sizeof(err)) == 0);
	a = addr("127.0.0.1");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("::ffff:127.0.0.5");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("::1");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("128.0.0.1");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	a = addr("::2");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	netaddr_acl_free(&acl);

	CHECK(netaddr_acl_parse(&acl, "10.1.0.0/17 fd00::/8", err,
	    sizeof(err)) == 0);
	a = addr("10.1.127.255");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("10.1.128.0");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	a = addr("fdab::1");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	netaddr_acl_free(&acl);

	/* loopback is loopback: a rule for one family admits the other */
	CHECK(netaddr_acl_parse(&acl, "127.0.0.0/8", err, sizeof(err)) == 0);
	a = addr("::1");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("::2");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	netaddr_acl_free(&acl);
	CHECK(netaddr_acl_parse(&acl, "::1", err, sizeof(err)) == 0);
	a = addr("127.0.0.1");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("::ffff:127.9.9.9");
	CHECK(netaddr_acl_match(&acl, (void *)&a));
	a = addr("128.0.0.1");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	netaddr_acl_free(&acl);
	CHECK(netaddr_acl_parse(&acl, "10.0.0.0/8", err, sizeof(err)) == 0);
	a = addr("::1");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	a = addr("127.0.0.1");
	CHECK(!netaddr_acl_match(&acl, (void *)&a));
	netaddr_acl_free(&acl);

	CHECK(netaddr_acl_parse(&acl, "10.0.0.0/33", err, sizeof(err)) == -1);
	CHECK(strstr(err, "10.0.0.0/33") != NULL);
	return check_exit("test_netaddr");
}
