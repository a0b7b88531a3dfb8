/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the `otad` command: picks the subcommand and hands it its
 * arguments.  init, run, admin, backup and restore work on this machine's
 * files; push, watch, status, devices, jobs and stop are clients of
 * otad-admind's HTTPS admin API.  The daemons themselves are the otad-hwd,
 * otad-admind and otad-fwstore binaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "otad.h"

static const char usage_text[] =
    "usage: otad init [--force] [--no-start-hint] [--database URI [--node NAME]] DIR\n"
    "       otad run [-v] [-c FILE]\n"
    "       otad admin [-c FILE] add|passwd|remove USER\n"
    "       otad admin [-c FILE] list\n"
    "       otad push FILE (--device ID... | --token T | --tag NAME | --all)\n"
    "            [--max-parallel N] [--attempts N] [--failure-threshold P]\n"
    "            [--force] [--watch]\n"
    "       otad watch JOB\n"
    "       otad status | devices [--tag NAME] | jobs [JOB] | stop JOB\n"
    "       otad backup [-c FILE] DIR\n"
    "       otad restore [--owner USER] BACKUP STATE_DIR\n"
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
    "  push       upload FILE and update the devices named: ids (--device\n"
    "             1,2 or repeated), device tokens, a tag or all devices;\n"
    "             --watch follows the job to its end\n"
    "  watch      follow a job live; exit 0 when every delivery succeeded\n"
    "             or was current already, 1 when one failed\n"
    "  status     the daemons, devices online, active jobs, last failures\n"
    "  devices    the devices (--tag NAME: those with the tag)\n"
    "  jobs       the jobs, or one job with each device's delivery\n"
    "  stop       stop a job; its pending deliveries are canceled\n"
    "  backup     a consistent copy of the database and the firmware while\n"
    "             otad runs, with a MANIFEST of sizes and SHA-256\n"
    "  restore    check a backup and copy it into a new state directory\n"
    "  version    print the version\n"
    "\n"
    "The API commands take --url URL (default https://localhost:9443),\n"
    "--user USER (default admin; the password from OTAD_PASSWORD or asked),\n"
    "--api-token T (or OTAD_TOKEN), --pin sha256:HEX (the server's public\n"
    "key, as otad init prints it) or --insecure, and --json (the API's\n"
    "answers, for scripts); ~/.config/otad/client.conf may hold url, user,\n"
    "password, token, insecure and pin.  They exit 2 when the command could\n"
    "not be done (usage, connection, login, the server's refusal).\n"
    "See otad(1).\n";

static const struct {
	const char	*name;
	int		(*run)(int, char **);
} otad_commands[] = {
	{ "init", otad_init }, { "run", otad_run }, { "push", otad_push },
	{ "watch", otad_watch }, { "status", otad_status },
	{ "devices", otad_devices }, { "jobs", otad_jobs },
	{ "stop", otad_stop }, { "backup", otad_backup },
	{ "restore", otad_restore }, { "admin", otad_admin },
};

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
	for (size_t i = 0; i < nitems(otad_commands); i++)
		if (strcmp(cmd, otad_commands[i].name) == 0)
			return otad_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "otad: unknown command \"%s\"\n", cmd);
	otad_usage(2);
}
