/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the `otad` command: picks the subcommand (init, run,
 * admin, version) and hands it its arguments.  The daemons themselves are the
 * otad-hwd, otad-admind and otad-fwstore binaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otad.h"

static const char usage_text[] =
    "usage: otad init [--force] [--no-start-hint] DIR\n"
    "       otad run [-v] [-c FILE]\n"
    "       otad admin [-c FILE] add|passwd|remove USER\n"
    "       otad admin [-c FILE] list\n"
    "       otad version\n"
    "\n"
    "  init DIR   write a working configuration into DIR (otad.conf, a\n"
    "             self-signed certificate, an admin password and a demo\n"
    "             device); --force overwrites an existing one;\n"
    "             --no-start-hint leaves out how to start it\n"
    "  run        run otad-admind, otad-hwd and otad-fwstore in the\n"
    "             foreground, restart one that dies, stop all on Ctrl-C\n"
    "             or when one cannot start; SIGHUP reloads admind;\n"
    "             -c FILE (default /etc/otad/otad.conf), -v more logs\n"
    "  admin      edit the admins file of otad-admind ([admind]\n"
    "             admins_file in FILE, default /etc/otad/otad.conf): add\n"
    "             an admin or change a password (asked twice on a\n"
    "             terminal, else the first line of stdin), remove one,\n"
    "             list them; then: systemctl reload otad-admind\n"
    "  version    print the version\n"
    "\n"
    "See otad(1).\n";

void
otad_usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	exit(status);
}

int
main(int argc, char **argv)
{
	const char	*cmd;

	if (argc < 2)
		otad_usage(2);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0)
		otad_usage(0);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("otad %s\n", OTAD_VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") == 0)
		return otad_init(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return otad_run(argc - 1, argv + 1);
	if (strcmp(cmd, "admin") == 0)
		return otad_admin(argc - 1, argv + 1);
	fprintf(stderr, "otad: unknown command \"%s\"\n", cmd);
	otad_usage(2);
}
