// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reference for benchmarks: the least a source-port classifier does on
 * ampguard's vector-drop path. Parse Ethernet, IPv4 (any header length) or
 * IPv6 (no extension headers), then UDP; look the source port up in an
 * array; count the verdict per CPU. No VLANs, lists, fragments, policy
 * generations, served ports or tracking. Not a filter to deploy: a bound
 * to read ampguard's cost against.
 *
 * Invariants: drop_port is filled before the run and not changed during
 * it; every frame adds one to exactly one of the two verdict counters.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* UDP source port -> non-zero: drop. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} drop_port SEC(".maps");

/* Frames by verdict: [0] passed, [1] dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline struct udphdr *udp_of(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct ipv6hdr *ip6 = data + sizeof(*eth);

	if ((void *)(eth + 1) > end)
		return NULL;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP)
			return NULL;
		return (void *)ip + ip->ihl * 4;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return NULL;
		return (void *)(ip6 + 1);
	}
	return NULL;
}

SEC("xdp")
int bench_portfilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct udphdr *udp = udp_of(data, end);
	__u32 port, drop = 0;
	__u64 *n;
	__u8 *v;

	if (udp && (void *)(udp + 1) <= end) {
		port = bpf_ntohs(udp->source);
		v = bpf_map_lookup_elem(&drop_port, &port);
		drop = v && *v;
	}
	n = bpf_map_lookup_elem(&verdicts, &drop);
	if (n)
		(*n)++;
	return drop ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
