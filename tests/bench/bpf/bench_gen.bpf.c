// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark front end: each frame gets the next source address of a
 * rotating set, then the program under test runs through a tail call, so
 * per-source state sees as many distinct sources as a real flood would.
 *
 * Invariants:
 * - ipv6 and nr_sources are set before load and never change after, so
 *   the verifier prunes the other family's branch and both families cost
 *   the same: one per-CPU lookup, one 4-byte store, one tail call.
 * - IPv4 sources count up from 198.18.0.0 (the benchmarking range; larger
 *   sets run on past it). IPv6 sources count up from 1 in the low 32 bits
 *   under the frame's own /96 prefix.
 * - A frame too short for its family's header, or a missing target, is
 *   XDP_ABORTED, so a broken setup never passes for a verdict.
 * - The cursor is per CPU and is the only thing written here: CPUs
 *   injecting at once share no written cache line in the front end, so
 *   the two-CPU rows measure the program under test, not the bench. The
 *   driver may seed each CPU's cursor (any value below nr_sources).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SOURCE_BASE4 0xc6120000
#define SOURCE_BASE6 1

const volatile __u32 nr_sources = 1;
const volatile __u8 ipv6;

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

/* Writes base + the next index of the rotation, big-endian, to *field. */
static __always_inline int rotate_source(__u32 *field, __u32 base)
{
	__u32 zero = 0, *next;

	next = bpf_map_lookup_elem(&cursor, &zero);
	if (!next)
		return -1;
	if (++*next >= nr_sources)
		*next = 0;
	*field = bpf_htonl(base + *next);
	return 0;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if (ipv6) {
		if ((void *)(ip6 + 1) > end ||
		    rotate_source(&ip6->saddr.in6_u.u6_addr32[3], SOURCE_BASE6))
			return XDP_ABORTED;
	} else {
		if ((void *)(ip + 1) > end || rotate_source(&ip->saddr, SOURCE_BASE4))
			return XDP_ABORTED;
	}
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
