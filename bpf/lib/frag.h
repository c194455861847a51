/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fragments: only the first fragment of a datagram has ports. Its verdict
 * is remembered so the later fragments share it; later fragments whose
 * first was never seen (lost, reordered, or forged) are orphans and get
 * the interface's orphan policy.
 */
#ifndef AMPGUARD_FRAG_H
#define AMPGUARD_FRAG_H

#include "parse.h"
#include "maps.h"
#include "ratelimit.h"
#include "clock.h"

static __always_inline int frag_key(const struct pkt *p, const void *end, struct ag_frag_key *k)
{
	k->id = p->frag_id;
	/* IPv6 identifies a datagram by addresses and ID alone. */
	k->proto = p->eth_proto == ETH_P_IP ? p->l4_proto : 0;
	return ip_addrs(p, end, k->src, k->dst);
}

static __always_inline void frag_remember(const struct pkt *p, const void *end, __u32 vec, int drop)
{
	struct ag_frag_val val = { .seen = jiffies_now(), .vec = vec, .drop = drop };
	struct ag_frag_key key;

	if (!frag_key(p, end, &key))
		bpf_map_update_elem(&frags, &key, &val, BPF_ANY);
}

static __always_inline int orphan_verdict(struct ag_ifinfo *ifi, __u32 gen)
{
	const struct ag_orphan_cfg *o;
	const struct ag_rate *r;

	if (!ifi || gen >= AG_NR_GENERATIONS)
		return AG_R_ORPHAN_PASS;
	o = &ifi->orphan[gen];
	switch (o->mode) {
	case AG_ORPHAN_DROP:
		return AG_R_ORPHAN_DROP;
	case AG_ORPHAN_RATELIMIT:
		r = &o->pps;
		if (!r->rate || gcra_take(&ifi->orphan_lock, &ifi->orphan_tat,
					  rl_now(rl_tick_ok(r)), rate_cost(r, 1), r->tol_ns))
			return AG_R_ORPHAN_PASS;
		return AG_R_ORPHAN_DROP;
	default:
		return AG_R_ORPHAN_PASS;
	}
}

/* Verdict reason for a later fragment; *vec is its first fragment's vector. */
static __always_inline int frag_follow(const struct pkt *p, const void *end, struct ag_ifinfo *ifi,
				       __u32 gen, __u32 *vec)
{
	const struct ag_frag_val *val;
	struct ag_frag_key key;

	*vec = 0;
	if (frag_key(p, end, &key))
		return AG_R_ORPHAN_PASS;
	val = bpf_map_lookup_elem(&frags, &key);
	if (!val || jiffies_older(jiffies_now() - val->seen, AG_FRAG_TIMEOUT_MS, 1000))
		return orphan_verdict(ifi, gen);
	*vec = val->vec < AG_MAX_VECTORS ? val->vec : 0;
	return val->drop ? AG_R_FRAG_DROP : AG_R_FRAG_PASS;
}

#endif /* AMPGUARD_FRAG_H */
