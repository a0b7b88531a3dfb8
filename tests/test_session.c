/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for admind/session.c: the otad_session value found among
 * other cookies and refused when malformed; a session's user and end;
 * sign-out; ids that differ each time; at most SESSION_MAX live, the
 * oldest giving way.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "session.h"

static void
test_cookie(void)
{
	char	 id[SESSION_ID_LEN + 1], hdr[200];
	const char *v = "abcdefghijABCDEFGHIJ0123456789abcdefghijABCD";

	CHECK(strlen(v) == SESSION_ID_LEN);
	snprintf(hdr, sizeof(hdr), "otad_session=%s", v);
	CHECK(session_cookie(hdr, id) == 1 && strcmp(id, v) == 0);
	snprintf(hdr, sizeof(hdr), "theme=dark; otad_session=%s; lang=en", v);
	CHECK(session_cookie(hdr, id) == 1 && strcmp(id, v) == 0);
	snprintf(hdr, sizeof(hdr), "xotad_session=%s", v);
	CHECK(session_cookie(hdr, id) == 0);
	CHECK(session_cookie("otad_session=short", id) == 0);
	CHECK(session_cookie("otad_session=", id) == 0);
	CHECK(session_cookie("", id) == 0);
	snprintf(hdr, sizeof(hdr), "otad_session=%sX", v);
	CHECK(session_cookie(hdr, id) == 0);
}

static void
test_life(void)
{
	char	 a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1], user[64];
	int64_t	 ends = 0;
	time_t	 now = time(NULL);

	CHECK(session_create("alice", a) == 0 && strlen(a) == SESSION_ID_LEN);
	CHECK(session_create("bob", b) == 0 && strcmp(a, b) != 0);
	CHECK(session_user(a, user, sizeof(user), &ends) == 1);
	CHECK(strcmp(user, "alice") == 0);
	CHECK(ends >= now + SESSION_TTL_S - 1 && ends <= now + SESSION_TTL_S + 1);
	CHECK(session_user(b, user, sizeof(user), NULL) == 1 &&
	    strcmp(user, "bob") == 0);
	a[0] = a[0] == 'A' ? 'B' : 'A';		/* one character off */
	CHECK(session_user(a, user, sizeof(user), NULL) == 0);
	CHECK(session_user("", user, sizeof(user), NULL) == 0);
	CHECK(session_end(b) == 1);
	CHECK(session_user(b, user, sizeof(user), NULL) == 0);
	CHECK(session_end(b) == 0);
}

static void
test_cap(void)
{
	char	 first[SESSION_ID_LEN + 1], id[SESSION_ID_LEN + 1], user[64];

	CHECK(session_create("first", first) == 0);
	nanosleep(&(struct timespec){ 0, 3 * 1000 * 1000 }, NULL);	/* older */
	for (int i = 0; i < SESSION_MAX - 1; i++)
		CHECK(session_create("next", id) == 0);
	CHECK(session_count() == SESSION_MAX);
	CHECK(session_user(first, user, sizeof(user), NULL) == 1);
	CHECK(session_create("last", id) == 0);	/* one too many */
	CHECK(session_count() == SESSION_MAX);
	CHECK(session_user(first, user, sizeof(user), NULL) == 0);
	CHECK(session_user(id, user, sizeof(user), NULL) == 1 &&
	    strcmp(user, "last") == 0);
}

int
main(void)
{
	test_cookie();
	test_life();	/* first: an empty table, nothing given way */
	test_cap();
	return check_exit("test_session");
}
