// SPDX-License-Identifier: GPL-2.0-only
/*
 * A program every verifier rejects (a map value read past its end), for
 * testing how ampguard reports a rejection. Never loaded by ampguard itself.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} small SEC(".maps");

SEC("xdp")
int rejected_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0, *v = bpf_map_lookup_elem(&small, &zero);

	/* Four bytes past the one-word value. */
	return v ? v[1] : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
