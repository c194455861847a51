// SPDX-License-Identifier: GPL-2.0-only
/*
 * IPv6 twin of bench_gen: gives each IPv6 frame the next source address of
 * a rotating set (the low 32 bits of the source, counting up from 1 under
 * the frame's own /96 prefix), then tail-calls the program under test.
 * One 4-byte store and one per-CPU lookup, like the IPv4 front end, so the
 * two families pay the same wrapper cost.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SOURCE_BASE 1

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
int bench_gen6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	__u32 zero = 0, *next;

	if ((void *)(ip6 + 1) > end)
		return XDP_ABORTED;
	next = bpf_map_lookup_elem(&cursor, &zero);
	if (!next)
		return XDP_ABORTED;
	if (++*next >= nr_sources)
		*next = 0;
	ip6->saddr.in6_u.u6_addr32[3] = bpf_htonl(SOURCE_BASE + *next);
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
