/* SPDX-License-Identifier: MIT */
/*
 * For the harnesses of parsers that read a file (the configuration and the
 * admins file): the input written to one temporary file per process.
 */
#ifndef OTAD_FUZZ_FILE_H
#define OTAD_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path of a file now holding exactly data; exits when it cannot. */
static const char *
fuzz_file(const uint8_t *data, size_t size)
{
	static char	 path[] = "/tmp/otad-fuzz-XXXXXX";
	static int	 made;
	FILE		*f;
	int		 fd;

	if (!made) {
		if ((fd = mkstemp(path)) == -1) {
			perror("mkstemp");
			exit(1);
		}
		close(fd);
		made = 1;
	}
	if ((f = fopen(path, "w")) == NULL ||
	    (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

/* Removes the file at exit (libFuzzer ends with exit()). */
static void
fuzz_file_cleanup(void)
{
	unlink(fuzz_file(NULL, 0));
}

#endif
