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

/*
 * Adds in what CPUs hold for a slot's current holder: with it, a slot's
 * dropped is every drop of that source since it took the slot. A CPU that
 * adds its count to the slot between the two reads has it seen in neither,
 * until the next read.
 */
static int src_add_pending(int pending_fd, struct ag_src_entry *all)
{
	const struct ag_src_pending *run;
	struct ag_src_pending *percpu;
	int ncpu, cpu, err;
	__u32 zero = 0;

	percpu = ag_percpu_buf(1, sizeof(*percpu), &ncpu);
	if (!percpu)
		return ncpu;
	err = bpf_map_lookup_elem(pending_fd, &zero, percpu) ? -errno : 0;
	for (cpu = 0; !err && cpu < ncpu; cpu++) {
		run = &percpu[cpu];
		if (run->dropped && run->slot < AG_SRC_ENTRIES && all[run->slot].vec &&
		    all[run->slot].claims == run->claims)
			all[run->slot].dropped += run->dropped;
	}
	free(percpu);
	return err;
}

/* The whole per-source table, pending drops added in; NULL with errno set on failure. */
struct ag_src_entry *ag_src_read(const struct ag_state *st)
{
	struct ag_src_entry *all = calloc(AG_SRC_ENTRIES, sizeof(*all));
	int err;

	if (!all)
		return NULL;
	err = ag_array_read(st->rl_src_fd, AG_SRC_ENTRIES, all, sizeof(*all)) ?:
		      src_add_pending(st->rl_src_pending_fd, all);
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
	all = ag_src_read(st);
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

/*
 * Empties a vector's per-source slots. A slot keeps its count of claims, so
 * drops a CPU still holds for the old holder never reach the next one.
 */
int ag_src_free(const struct ag_state *st, unsigned int slot)
{
	struct ag_src_entry *all = ag_src_read(st), empty;
	__u32 i;
	int err = 0;

	if (!all)
		return -errno;
	for (i = 0; i < AG_SRC_ENTRIES && !err; i++) {
		if (all[i].vec != slot)
			continue;
		empty = (struct ag_src_entry){ .claims = all[i].claims };
		if (bpf_map_update_elem(st->rl_src_fd, &i, &empty, 0))
			err = -errno;
	}
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
