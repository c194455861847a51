// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every change to what packets are judged by goes through ag_commit(): it
 * is written into the inactive generation, the generation flips, and once
 * no packet can still be reading the old generation (an RCU grace period:
 * XDP and TC programs run inside RCU read-side sections), the old one is
 * brought level. At rest both generations are equal, so a change costs
 * only its own size, twice.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>

#include "commit.h"

/* Waits until every CPU has left any RCU read-side section it was in. */
static void grace_period(void)
{
	/* MEMBARRIER_CMD_GLOBAL is implemented with synchronize_rcu(). */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	usleep(50000); /* far longer than any packet's trip through the programs */
}

/* Sets generation gen's half of a port's entry, leaving the other generation's as it is. */
static int set_port(const struct ag_state *st, __u32 gen, __u32 port, struct ag_port_gen want)
{
	struct ag_port cur;

	if (bpf_map_lookup_elem(st->port_vec_fd, &port, &cur))
		return -errno;
	if (!memcmp(&cur.gen[gen], &want, sizeof(want)))
		return 0;
	cur.gen[gen] = want;
	return bpf_map_update_elem(st->port_vec_fd, &port, &cur, 0) ? -errno : 0;
}

/* What generation gen's half of port's entry is under tbl. */
static struct ag_port_gen port_gen_in(const struct ag_policy *tbl, __u32 port)
{
	__u32 slot;

	for (slot = 1; slot < AG_MAX_VECTORS; slot++)
		if (tbl[slot].in_use && tbl[slot].port == port)
			return ag_port_gen_of(&tbl[slot], slot);
	return (struct ag_port_gen){ 0 };
}

/*
 * Generation gen's port entries for tbl. Only ports named by tbl or by
 * stale (what gen held before) can differ: the rest stay unmapped.
 */
static int write_ports(const struct ag_state *st, __u32 gen, const struct ag_policy *stale,
		       const struct ag_policy *tbl)
{
	const struct ag_port_gen none = { 0 };
	__u32 slot;
	int err = 0;

	/* The ports that leave, then the table's own. */
	for (slot = 1; slot < AG_MAX_VECTORS && !err; slot++)
		if (stale[slot].in_use && !port_gen_in(tbl, stale[slot].port).slot)
			err = set_port(st, gen, stale[slot].port, none);
	for (slot = 1; slot < AG_MAX_VECTORS && !err; slot++)
		if (tbl[slot].in_use)
			err = set_port(st, gen, tbl[slot].port, ag_port_gen_of(&tbl[slot], slot));
	return err;
}

/* The same when what gen held is not known (its writer died): every port is looked at. */
static void rewrite_ports(const struct ag_state *st, __u32 gen, const struct ag_policy *tbl)
{
	__u32 port;

	for (port = 0; port < AG_NR_PORTS; port++)
		set_port(st, gen, port, port_gen_in(tbl, port));
}

static int write_policy(const struct ag_state *st, __u32 gen, const struct ag_policy *stale,
			const struct ag_policy *tbl)
{
	__u32 slot, key;

	for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
		key = gen * AG_MAX_VECTORS + slot;
		if (bpf_map_update_elem(st->policy_fd, &key, &tbl[slot], 0))
			return -errno;
	}
	return write_ports(st, gen, stale, tbl);
}

static int list_fd(const struct ag_state *st, const struct ag_list_op *op)
{
	if (op->list == AG_LIST_ALLOW)
		return op->family == AF_INET ? st->allow4_fd : st->allow6_fd;
	return op->family == AF_INET ? st->deny4_fd : st->deny6_fd;
}

/* The map key of a list entry in generation gen. */
static void list_key(const struct ag_list_op *op, __u32 gen, struct ag_lpm6 *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = AG_LPM_GEN_BITS + op->prefixlen;
	key->gen = gen;
	memcpy(key->addr, op->addr, op->family == AF_INET ? 4 : 16);
}

static int list_apply(const struct ag_state *st, const struct ag_list_op *op, __u32 gen, bool undo)
{
	static const __u8 one = 1;
	struct ag_lpm6 key;
	bool del = op->del != undo;

	list_key(op, gen, &key);
	if (del)
		return bpf_map_delete_elem(list_fd(st, op), &key) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(list_fd(st, op), &key, &one, BPF_NOEXIST) && errno != EEXIST ?
		       -errno :
		       0;
}

static int write_lists(const struct ag_state *st, __u32 gen, const struct ag_change *ch)
{
	size_t i;
	int err = 0;

	for (i = 0; i < ch->nr_ops && !err; i++)
		err = list_apply(st, &ch->ops[i], gen, false);
	if (!err)
		return 0;
	while (i-- > 0)
		list_apply(st, &ch->ops[i], gen, true);
	return err;
}

static int write_orphans(const struct ag_state *st, __u32 gen, const struct ag_change *ch)
{
	struct ag_ifinfo info;
	size_t i;
	int err = 0;

	for (i = 0; i < ch->nr_orphans && !err; i++) {
		err = ag_iface_info(st, ch->orphans[i].ifname, &info);
		if (err)
			break;
		info.orphan[gen] = ch->orphans[i].cfg;
		info.orphan_tat = 0;
		err = ag_iface_info_write(st, ch->orphans[i].ifname, &info);
	}
	return err;
}

/* stale: generation gen's vector table before this change (read only with ch->tbl). */
static int write_gen(const struct ag_state *st, __u32 gen, const struct ag_policy *stale,
		     const struct ag_change *ch)
{
	int err = 0;

	if (ch->tbl)
		err = write_policy(st, gen, stale, ch->tbl);
	if (!err && ch->served && bpf_map_update_elem(st->served_fd, &gen, ch->served, 0))
		err = -errno;
	if (!err && ch->nr_ops)
		err = write_lists(st, gen, ch);
	if (!err && ch->nr_orphans)
		err = write_orphans(st, gen, ch);
	return err;
}

/* Copies generation from into to, for the parts a failed change touched. */
static void restore_gen(const struct ag_state *st, __u32 from, __u32 to, bool policy,
			bool served_too)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_served served;
	__u32 slot, key;
	bool whole = true;

	for (slot = 0; policy && slot < AG_MAX_VECTORS; slot++) {
		key = from * AG_MAX_VECTORS + slot;
		if (!bpf_map_lookup_elem(st->policy_fd, &key, &tbl[slot])) {
			key = to * AG_MAX_VECTORS + slot;
			bpf_map_update_elem(st->policy_fd, &key, &tbl[slot], 0);
		} else {
			whole = false;
		}
	}
	if (policy && whole)
		rewrite_ports(st, to, tbl);
	if (served_too && !bpf_map_lookup_elem(st->served_fd, &from, &served))
		bpf_map_update_elem(st->served_fd, &to, &served, 0);
	/* Lists were rolled back by write_lists(); orphans are written last. */
}

/* Flags and sizes of the lists in one generation. */
struct list_census {
	__u32 flags;
	__u32 allow_n;
	__u32 deny_n;
};

static void count_lists(const struct ag_state *st, __u32 gen, struct list_census *c)
{
	static const struct {
		size_t fd_off;
		__u32 bit;
		bool allow;
	} lists[] = {
		{ offsetof(struct ag_state, allow4_fd), AG_LIST_ALLOW4, true },
		{ offsetof(struct ag_state, allow6_fd), AG_LIST_ALLOW6, true },
		{ offsetof(struct ag_state, deny4_fd), AG_LIST_DENY4, false },
		{ offsetof(struct ag_state, deny6_fd), AG_LIST_DENY6, false },
	};
	struct ag_lpm6 key, next;
	unsigned int i;
	void *prev;
	__u32 n;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int fd = *(const int *)((const char *)st + lists[i].fd_off);

		/* ag_lpm4 is a prefix of ag_lpm6: one buffer serves both. */
		for (n = 0, prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
			key = next;
			n += key.gen == gen;
		}
		if (n)
			c->flags |= lists[i].bit;
		*(lists[i].allow ? &c->allow_n : &c->deny_n) += n;
	}
}

/*
 * Records generation gen's list flags; with activate, also makes gen the
 * active generation and its sizes the ones status shows, in one update, so
 * the sizes never lag a flip, even when the writer dies right after it.
 * The flags must be in place before that: a packet may read the new gen
 * and then the flags, which the update copies in after it.
 */
static int set_list_flags(const struct ag_state *st, __u32 gen, const struct list_census *c,
			  bool activate)
{
	struct ag_config cfg;

	if (bpf_map_lookup_elem(st->config_fd, &(__u32){ 0 }, &cfg))
		return -errno;
	cfg.lists[gen] = c->flags;
	if (activate) {
		cfg.gen = gen;
		cfg.allow_n = c->allow_n;
		cfg.deny_n = c->deny_n;
	}
	return bpf_map_update_elem(st->config_fd, &(__u32){ 0 }, &cfg, 0) ? -errno : 0;
}

/* Counts generation gen's lists and records them (see set_list_flags()). */
static int census_lists(const struct ag_state *st, __u32 gen, bool activate)
{
	struct list_census c;

	count_lists(st, gen, &c);
	return set_list_flags(st, gen, &c, activate);
}

static int set_config(const struct ag_state *st, int gen, int dirty)
{
	struct ag_config cfg;

	if (bpf_map_lookup_elem(st->config_fd, &(__u32){ 0 }, &cfg))
		return -errno;
	if (gen >= 0)
		cfg.gen = gen;
	if (dirty >= 0)
		cfg.dirty = dirty;
	return bpf_map_update_elem(st->config_fd, &(__u32){ 0 }, &cfg, 0) ? -errno : 0;
}

/* Replaces generation to's list entries with those of generation from. */
static void level_lists(const struct ag_state *st, __u32 from, __u32 to)
{
	const int fds[] = { st->allow4_fd, st->allow6_fd, st->deny4_fd, st->deny6_fd };
	static const __u8 one = 1;
	struct ag_lpm6 key, next, *keys;
	size_t n, cap, i;
	unsigned int f;
	void *prev;

	for (f = 0; f < sizeof(fds) / sizeof(fds[0]); f++) {
		keys = NULL;
		n = cap = 0;
		/* ag_lpm4 is a prefix of ag_lpm6: one buffer serves both. */
		for (prev = NULL; !bpf_map_get_next_key(fds[f], prev, &next); prev = &key) {
			key = next;
			if (n == cap) {
				struct ag_lpm6 *grown =
					realloc(keys, (cap = cap ? 2 * cap : 256) * sizeof(*keys));
				if (!grown)
					break;
				keys = grown;
			}
			keys[n++] = key;
		}
		for (i = 0; i < n; i++) {
			if (keys[i].gen == to) {
				bpf_map_delete_elem(fds[f], &keys[i]);
			} else if (keys[i].gen == from) {
				keys[i].gen = to;
				bpf_map_update_elem(fds[f], &keys[i], &one, 0);
			}
		}
		free(keys);
	}
}

static int level_orphans(const char *ifname, void *arg)
{
	const struct {
		const struct ag_state *st;
		__u32 from, to;
	} *a = arg;
	struct ag_ifinfo info;

	if (!ag_iface_info(a->st, ifname, &info)) {
		info.orphan[a->to] = info.orphan[a->from];
		ag_iface_info_write(a->st, ifname, &info);
	}
	return 0;
}

/*
 * A writer died between writing a generation and levelling the other: make
 * the inactive generation a copy of the active one again, so the next
 * change starts from what packets are judged by now.
 */
static int level_generations(const struct ag_state *st, __u32 active)
{
	struct {
		const struct ag_state *st;
		__u32 from, to;
	} arg = { st, active, !active };
	restore_gen(st, active, !active, true, true);
	level_lists(st, active, !active);
	ag_for_each_iface(st, level_orphans, &arg);
	census_lists(st, !active, false);
	return census_lists(st, active, true);
}

int ag_commit(const struct ag_state *st, const struct ag_change *ch)
{
	struct ag_policy old[AG_MAX_VECTORS];
	struct list_census lists;
	struct ag_config cfg;
	__u32 cur, next;
	int err;

	if (bpf_map_lookup_elem(st->config_fd, &(__u32){ 0 }, &cfg))
		return -errno;
	cur = cfg.gen & 1;
	next = !cur;
	if (cfg.dirty && (err = level_generations(st, cur)))
		return err;
	if (ch->tbl && (err = ag_policy_read(st->config_fd, st->policy_fd, old)))
		return err;

	err = set_config(st, -1, 1);
	/* At rest both generations hold the active one's table (levelled above if not). */
	err = err ?: write_gen(st, next, old, ch);
	if (!err && ch->nr_ops) {
		count_lists(st, next, &lists);
		err = set_list_flags(st, next, &lists, false);
	}
	if (err) {
		restore_gen(st, cur, next, ch->tbl, ch->served);
		return err;
	}
	/* The flip; with list changes, their sizes go in the same update. */
	err = ch->nr_ops ? set_list_flags(st, next, &lists, true) : set_config(st, next, -1);
	if (err)
		return err;
	grace_period();

	/* The old generation is idle now: bring it level with the new one. */
	err = write_gen(st, cur, old, ch);
	err = err ?: (ch->nr_ops ? census_lists(st, cur, false) : 0);
	/* Level again: the generations are equal at rest. */
	return err ?: set_config(st, -1, 0);
}
