/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the configuration parser (common/cfg.h): the input
 * is written to a file and read with cfg_load as every daemon does, then
 * the derived values are asked for.  Also cfg_parse_size on the raw bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz_file.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	atexit(fuzz_file_cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE	*devnull;
	struct cfg	 cfg;
	uint64_t	 bytes;
	char		*s, *dir;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg_load(&cfg, fuzz_file(data, size), devnull);
	if (cfg.state_dir == NULL || cfg.control_socket == NULL)
		abort();
	if ((dir = cfg_firmware_dir(&cfg)) != NULL)
		free(dir);
	cfg_fwstore_port(&cfg);
	cfg_free(&cfg);

	if ((s = strndup((const char *)data, size)) != NULL) {
		cfg_parse_size(s, &bytes);
		free(s);
	}
	return 0;
}
