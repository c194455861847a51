// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vector table: committing a new one (commit.c), finding and
 * allocating a port's slot, and settling what a changed policy leaves in
 * the rate-limit tables. A port keeps its slot; the XDP program checks
 * that the slot it found still belongs to the packet's port, so a slot
 * handed to another port never judges the old one.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "commit.h"

int ag_policy_commit(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS])
{
	return ag_commit(st, &(struct ag_change){ .tbl = tbl });
}

/*
 * Finds the slot a vector name or port number refers to. Returns the slot,
 * -ENOENT for a valid port without a slot (*port_out set), -EINVAL for
 * anything else.
 */
int ag_policy_find(const struct ag_policy tbl[AG_MAX_VECTORS], const char *spec, int *port_out)
{
	unsigned long port;
	unsigned int slot;
	int builtin;

	builtin = ag_builtin_slot(spec);
	if (builtin > 0)
		return builtin;
	if (!strncmp(spec, "port-", 5))
		spec += 5;
	if (ag_parse_uint(spec, 65535, &port) || port == 0)
		return -EINVAL;
	for (slot = 1; slot < AG_MAX_VECTORS; slot++)
		if (tbl[slot].in_use && tbl[slot].port == port)
			return slot;
	*port_out = port;
	return -ENOENT;
}

static int zero_iface_slot(const char *ifname, void *arg)
{
	const struct {
		const struct ag_state *st;
		unsigned int slot;
	} *a = arg;
	char path[PATH_MAX];
	int fd, err;

	if (ag_iface_pin(a->st, ifname, "stats", path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	err = ag_stats_zero_slot(fd, a->slot);
	close(fd);
	return err;
}

/*
 * A freed slot may still hold counts of the port that had it; they must not
 * show up under the new port's name.
 */
/* The free custom slot best suited to port, or -1. */
static int pick_slot(const struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	unsigned int slot, pass;

	/*
	 * The slot that last held this port keeps its counts; then slots never
	 * used; a slot freed by another port comes last (its counts must go).
	 */
	for (pass = 0; pass < 3; pass++)
		for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++)
			if (!tbl[slot].in_use &&
			    (pass == 2 || tbl[slot].port == (pass == 0 ? port : 0)))
				return slot;
	return -1;
}

/* Gives port a custom slot in tbl (not yet committed); -ENOSPC when none is free. */
int ag_policy_alloc(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	struct {
		const struct ag_state *st;
		unsigned int slot;
	} arg = { st, 0 };
	int slot = pick_slot(tbl, port), err;

	if (slot >= 0) {
		if (tbl[slot].port != port) {
			arg.slot = slot;
			err = ag_for_each_iface(st, zero_iface_slot, &arg);
			if (err)
				return err;
		}
		tbl[slot] = (struct ag_policy){ .port = port,
						.in_use = 1,
						.track_timeout_ms = AG_DEFAULT_TRACK_MS };
		return slot;
	}
	return -ENOSPC;
}

/* Per-source state of a vector that no longer limits per source is freed. */
int ag_policy_settle(const struct ag_state *st, const struct ag_policy *old,
		     const struct ag_policy *now, unsigned int slot)
{
	if (ag_policy_src_active(old) && !ag_policy_src_active(now))
		ag_src_free(st, slot);
	if (memcmp(&old->agg_pps, &now->agg_pps, sizeof(old->agg_pps)) ||
	    memcmp(&old->agg_bps, &now->agg_bps, sizeof(old->agg_bps)))
		return ag_rl_reset(st, slot);
	return 0;
}
