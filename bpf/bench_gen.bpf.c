// SPDX-License-Identifier: GPL-2.0-only
/* Benchmark front end for IPv4 frames (see bench_gen.h). */
#include <linux/ip.h>

#include "bench_gen.h"

/* 198.18.0.0, the benchmarking range; larger sets run on past it. */
#define SOURCE_BASE 0xc6120000

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if ((void *)(ip + 1) > end || rotate_source(&ip->saddr, SOURCE_BASE))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
