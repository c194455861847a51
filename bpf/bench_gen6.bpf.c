// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark front end for IPv6 frames (see bench_gen.h): the rotation is in
 * the low 32 bits of the source, counting up from 1 under the frame's own
 * /96 prefix.
 */
#include <linux/ipv6.h>

#include "bench_gen.h"

#define SOURCE_BASE 1

SEC("xdp")
int bench_gen6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

	if ((void *)(ip6 + 1) > end || rotate_source(&ip6->saddr.in6_u.u6_addr32[3], SOURCE_BASE))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
