/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the one escape every log line goes through (common/log.c).
 * Text from a device or a client must not start a line of its own, reach
 * the terminal as an escape sequence, or carry bytes that are not UTF-8;
 * what is plain stays as it was.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "check.h"

static int
escapes_to(const char *in, const char *want)
{
	char	 out[256];

	log_escape(out, sizeof(out), in);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "escape: got \"%s\", want \"%s\"\n", out, want);
	return strcmp(out, want) == 0;
}

static void
test_escape(void)
{
	char	 small[8];

	CHECK(escapes_to("device kitchen online", "device kitchen online"));
	CHECK(escapes_to("x\nadmind: info: FAKE", "x\\x0aadmind: info: FAKE"));
	CHECK(escapes_to("\r\t\x7f", "\\x0d\\x09\\x7f"));
	CHECK(escapes_to("\x1b[31mred", "\\x1b[31mred"));
	CHECK(escapes_to("a\\x0a", "a\\\\x0a"));
	/* UTF-8 passes; C1 controls, overlongs, surrogates and stray bytes
	 * do not */
	CHECK(escapes_to("K\xc3\xbc" "che \xe2\x82\xac \xf0\x9f\x98\x80",
	    "K\xc3\xbc" "che \xe2\x82\xac \xf0\x9f\x98\x80"));
	CHECK(escapes_to("\xc2\x9b" "2J", "\\xc2\\x9b2J"));
	CHECK(escapes_to("\xc0\xaf", "\\xc0\\xaf"));
	CHECK(escapes_to("\xed\xa0\x80", "\\xed\\xa0\\x80"));
	CHECK(escapes_to("\xff\xe2\x82", "\\xff\\xe2\\x82"));
	CHECK(escapes_to("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"));
	/* cut whole: never half an escape or half a character */
	log_escape(small, sizeof(small), "abcd\n");
	CHECK(strcmp(small, "abcd") == 0);
	log_escape(small, sizeof(small), "abcde\xe2\x82\xac");
	CHECK(strcmp(small, "abcde") == 0);
	log_escape(small, 1, "abc");
	CHECK(small[0] == '\0');
}

/* A forged line in the message or a field value stays on one line. */
static void
test_line(void)
{
	FILE	*f = tmpfile();
	char	 line[512];
	int	 lines = 0, saved = dup(STDERR_FILENO);

	CHECK(f != NULL && saved != -1);
	if (f == NULL || saved == -1 ||
	    dup2(fileno(f), STDERR_FILENO) == -1)
		return;
	log_init("test", 0);
	log_fields(LOG_INFO, (const char *[]){ "DEVICE_NAME=a\nb\x1b", NULL },
	    "event %s", "x\ntest: info: FAKE");
	dup2(saved, STDERR_FILENO);	/* CHECK's own lines go out again */
	close(saved);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		CHECK(strncmp(line, "test: info: FAKE", 16) != 0);
		CHECK(strchr(line, '\x1b') == NULL);
	}
	CHECK(lines == 1);
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL && strcmp(line,
	    "test: info: event x\\x0atest: info: FAKE "
	    "[DEVICE_NAME=a\\x0ab\\x1b]\n") == 0);
	fclose(f);
}

int
main(void)
{
	test_escape();
	test_line();
	return check_exit("test_log");
}
