/* SPDX-License-Identifier: GPL-2.0-only */
/* CIDR allow and deny lists, consulted before anything else. */
#ifndef AMPGUARD_LISTS_H
#define AMPGUARD_LISTS_H

#include "parse.h"
#include "maps.h"

/* AG_R_DENYLIST, AG_R_ALLOWLIST, or PARSE_OK when the source is on neither. */
static __always_inline int list_verdict(const struct pkt *p, const void *end, __u32 gen,
					__u32 lists)
{
	if (p->eth_proto == ETH_P_IP) {
		const struct iphdr *ip = p->l3;
		struct ag_lpm4 k = { .prefixlen = AG_LPM_GEN_BITS + 32, .gen = gen };

		if (!(lists & (AG_LIST_DENY4 | AG_LIST_ALLOW4)) || (const void *)(ip + 1) > end)
			return PARSE_OK;
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		if ((lists & AG_LIST_DENY4) && bpf_map_lookup_elem(&deny4, &k))
			return AG_R_DENYLIST;
		if ((lists & AG_LIST_ALLOW4) && bpf_map_lookup_elem(&allow4, &k))
			return AG_R_ALLOWLIST;
	} else {
		const struct ipv6hdr *ip6 = p->l3;
		struct ag_lpm6 k = { .prefixlen = AG_LPM_GEN_BITS + 128, .gen = gen };

		if (!(lists & (AG_LIST_DENY6 | AG_LIST_ALLOW6)) || (const void *)(ip6 + 1) > end)
			return PARSE_OK;
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		if ((lists & AG_LIST_DENY6) && bpf_map_lookup_elem(&deny6, &k))
			return AG_R_DENYLIST;
		if ((lists & AG_LIST_ALLOW6) && bpf_map_lookup_elem(&allow6, &k))
			return AG_R_ALLOWLIST;
	}
	return PARSE_OK;
}

#endif /* AMPGUARD_LISTS_H */
