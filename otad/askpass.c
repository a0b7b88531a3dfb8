/* SPDX-License-Identifier: MIT */
/*
 * The new password for `otad admin add|passwd`: asked twice without echo
 * when stdin is a terminal, else the first line of stdin (so that scripts
 * and tests can pipe it in).  Run by the `otad` command only.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "otad.h"

static struct termios	askpass_saved;

static int	 askpass_line(FILE *, char *, size_t);
static int	 askpass_prompt(const char *, char *, size_t);
static void	 askpass_restore(int);

int
otad_askpass(const char *user, char *out, size_t outlen)
{
	char	 again[OTAD_PASSWORD_MAX + 2], prompt[128];
	int	 rc;

	if (!isatty(STDIN_FILENO)) {
		if ((rc = askpass_line(stdin, out, outlen)) == -1)
			fprintf(stderr, "otad: no password on stdin: give it "
			    "as the first line\n");
		return rc == 0 ? 0 : -1;
	}
	snprintf(prompt, sizeof(prompt), "New password for %s: ", user);
	if (askpass_prompt(prompt, out, outlen) == -1)
		return -1;
	if (askpass_prompt("Again: ", again, sizeof(again)) == -1)
		return -1;
	rc = strcmp(out, again) == 0 ? 0 : -1;
	explicit_bzero(again, sizeof(again));
	if (rc == -1)
		fprintf(stderr, "otad: the two passwords differ; nothing "
		    "changed\n");
	return rc;
}

/* One line of fp without its line end into out (OTAD_PASSWORD_MAX + 2
 * bytes); -1 at EOF, -2 (said) when longer than OTAD_PASSWORD_MAX. */
static int
askpass_line(FILE *fp, char *out, size_t outlen)
{
	size_t	 n;

	if (fgets(out, (int)outlen, fp) == NULL)
		return -1;
	n = strcspn(out, "\r\n");
	if (n > OTAD_PASSWORD_MAX) {
		fprintf(stderr, "otad: the password is longer than %d "
		    "bytes\n", OTAD_PASSWORD_MAX);
		explicit_bzero(out, outlen);
		return -2;
	}
	out[n] = '\0';
	return 0;
}

/* prompt on stderr, a line from the terminal with echo off. */
static int
askpass_prompt(const char *prompt, char *out, size_t outlen)
{
	struct termios		 quiet;
	struct sigaction	 sa, oldint, oldterm;
	int			 rc;

	if (tcgetattr(STDIN_FILENO, &askpass_saved) == -1) {
		fprintf(stderr, "otad: cannot read the terminal settings: "
		    "%s\n", strerror(errno));
		return -1;
	}
	quiet = askpass_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	/* Ctrl-C must not leave the terminal without echo. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = askpass_restore;
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);
	/* The echo goes off (and what was typed before goes) first, then
	 * the prompt: a line typed once the prompt shows is kept. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
		fprintf(stderr, "otad: cannot turn the echo off: %s\n",
		    strerror(errno));
		rc = -1;
	} else {
		fputs(prompt, stderr);
		fflush(stderr);
		rc = askpass_line(stdin, out, outlen);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &askpass_saved);
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	return rc == 0 ? 0 : -1;
}

static void
askpass_restore(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &askpass_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}
