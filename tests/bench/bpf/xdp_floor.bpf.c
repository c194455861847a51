// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reference programs for benchmarks: the cheapest possible verdicts.
 *
 * Invariants: no map, no helper and no packet access, so their cost is the
 * hook's alone; the VM self-test also attaches xdp_drop_all natively.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass_all(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
