// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-source rate-limit table from userspace: reading it whole,
 * counting what each vector holds, freeing a vector's entries when it no
 * longer limits per source, and restarting a changed aggregate budget.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "tables.h"

/* The whole per-source table; NULL with errno set on failure. */
struct ag_src_entry *ag_src_read(int rl_src_fd)
{
	struct ag_src_entry *all = calloc(AG_SRC_ENTRIES, sizeof(*all));
	int err;

	if (!all)
		return NULL;
	err = ag_array_read(rl_src_fd, AG_SRC_ENTRIES, all, sizeof(*all));
	if (err) {
		free(all);
		errno = -err;
		return NULL;
	}
	return all;
}

/*
 * Slots held in the per-source table. Reading the table costs a few tens of
 * milliseconds, so it is skipped when no vector limits per source: their
 * state is freed when they stop.
 */
int ag_src_held(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS],
		unsigned long *held)
{
	struct ag_src_entry *all;
	unsigned int slot;
	bool any = false;

	*held = 0;
	for (slot = 1; slot < AG_MAX_VECTORS; slot++)
		any |= ag_policy_src_active(&tbl[slot]);
	if (!any)
		return 0;
	all = ag_src_read(st->rl_src_fd);
	if (!all)
		return -errno;
	*held = ag_src_in_use(all);
	free(all);
	return 0;
}

unsigned long ag_src_in_use(const struct ag_src_entry *all)
{
	unsigned long n = 0;
	__u32 i;

	for (i = 0; i < AG_SRC_ENTRIES; i++)
		n += all[i].vec != 0;
	return n;
}

/* Empties a vector's per-source slots. */
int ag_src_free(const struct ag_state *st, unsigned int slot)
{
	struct ag_src_entry *all = ag_src_read(st->rl_src_fd), empty = { 0 };
	__u32 i;
	int err = 0;

	if (!all)
		return -errno;
	for (i = 0; i < AG_SRC_ENTRIES && !err; i++)
		if (all[i].vec == slot && bpf_map_update_elem(st->rl_src_fd, &i, &empty, 0))
			err = -errno;
	free(all);
	return err;
}

/* A changed budget starts from a full burst instead of the old arrival time. */
int ag_rl_reset(const struct ag_state *st, unsigned int slot)
{
	struct ag_rl_agg zero = { 0 };
	__u32 key = slot;

	return bpf_map_update_elem(st->rl_agg_fd, &key, &zero, 0) ? -errno : 0;
}
