// SPDX-License-Identifier: GPL-2.0-only
/*
 * The active generation: which half of the double-buffered tables the
 * datapath reads now (commit.c flips it). Readers take the generation
 * from the config map first, then the table of that generation, so what
 * they see is one whole table even while a writer prepares the other.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "tables.h"

static int read_config(int config_fd, struct ag_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(config_fd, &zero, cfg) ? -errno : 0;
}

static int read_gen(int policy_fd, __u32 gen, struct ag_policy tbl[AG_MAX_VECTORS])
{
	__u32 slot, key;

	for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
		key = (gen & 1) * AG_MAX_VECTORS + slot;
		if (bpf_map_lookup_elem(policy_fd, &key, &tbl[slot]))
			return -errno;
	}
	return 0;
}

__u32 ag_active_gen(const struct ag_state *st)
{
	struct ag_config cfg = { 0 };

	read_config(st->config_fd, &cfg);
	return cfg.gen & 1;
}

int ag_policy_read(int config_fd, int policy_fd, struct ag_policy tbl[AG_MAX_VECTORS])
{
	struct ag_config cfg;
	int err;

	err = read_config(config_fd, &cfg);
	return err ?: read_gen(policy_fd, cfg.gen, tbl);
}
