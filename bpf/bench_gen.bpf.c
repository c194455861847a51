// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark front end: gives each IPv4 frame the next source address of a
 * rotating set, then tail-calls the program under test, so per-source
 * state sees as many distinct sources as a real flood would. Every
 * contender runs behind the same front end.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* 198.18.0.0, the benchmarking range; larger sets run on past it. */
#define SOURCE_BASE 0xc6120000

const volatile __u32 nr_sources = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cursor SEC(".maps");

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u32 zero = 0, *next;

	if ((void *)(ip + 1) > end)
		return XDP_ABORTED;
	next = bpf_map_lookup_elem(&cursor, &zero);
	if (!next)
		return XDP_ABORTED;
	if (++*next >= nr_sources)
		*next = 0;
	ip->saddr = bpf_htonl(SOURCE_BASE + *next);
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
