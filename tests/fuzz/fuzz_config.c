// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the configuration loader: any bytes must either
 * parse or give one "FILE:LINE:COLUMN: ..." error, without crashing,
 * leaking or tripping the sanitizers. List files are not read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ampguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_conf c;
	char err[512];

	if (ag_conf_parse((const char *)data, size, "fuzz.yaml", false, &c, err, sizeof(err)) == 0)
		ag_conf_free(&c);
	else if (strncmp(err, "fuzz.yaml:", 10))
		abort(); /* every error names the file and position */
	return 0;
}
