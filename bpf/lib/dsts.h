/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-destination sample of unsolicited vector traffic (struct
 * ag_dst_key in the ABI). Called from the counter update with the frame's
 * number in its counter, so the frames not taken pay one multiply and one
 * branch; a sample costs one hash lookup and two atomic adds, or an insert
 * for a destination not seen yet (a lost race loses one sample, never
 * corrupts one).
 */
#ifndef AMPGUARD_DSTS_H
#define AMPGUARD_DSTS_H

#include "parse.h"
#include "maps.h"

/* Set at load time only by the benchmarks, to price the sample. */
const volatile __u8 dst_sample_off;

static __always_inline void dst_add(const struct pkt *p, const void *end, __u32 vec)
{
	struct ag_dst_key key = { .vec = vec };
	struct ag_dst_val *val, fresh;
	__u64 bytes = (__u64)p->len << AG_DST_SAMPLE_SHIFT;

	if (!p->l3 || ip_dst(p, end, key.addr))
		return;
	val = bpf_map_lookup_elem(&dsts, &key);
	if (val) {
		__sync_fetch_and_add(&val->packets, AG_DST_SAMPLE);
		__sync_fetch_and_add(&val->bytes, bytes);
		return;
	}
	fresh.packets = AG_DST_SAMPLE;
	fresh.bytes = bytes;
	bpf_map_update_elem(&dsts, &key, &fresh, BPF_NOEXIST);
}

/* After the nth frame (n >= 1) of a counter of vector vec for reason. */
static __always_inline void dst_sample(const struct pkt *p, const void *end, __u32 vec,
				       __u32 reason, __u64 n)
{
	if (ag_dst_sampled(n) && !dst_sample_off && vec && ag_reason_unsolicited(reason))
		dst_add(p, end, vec);
}

#endif /* AMPGUARD_DSTS_H */
