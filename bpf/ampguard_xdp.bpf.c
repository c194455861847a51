// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP ingress classifier: parse, find the vector by UDP source port, let
 * through what this host asked for or serves, apply the vector's action to
 * the unsolicited rest, count. One instance is loaded per protected
 * interface; the policy maps are shared, the stats map is the interface's.
 */
#include "parse.h"
#include "maps.h"
#include "track.h"
#include "ratelimit.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_NR_STATS);
	__type(key, __u32);
	__type(value, struct ag_counter);
} stats SEC(".maps");

/* Written by attach, read by status; the program never touches it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_ifinfo);
} ifinfo SEC(".maps");

static __always_inline int count(__u32 vec, __u32 reason, __u32 len, int verdict)
{
	__u32 idx = AG_STATS_IDX(vec, reason);
	struct ag_counter *ctr;

	ctr = bpf_map_lookup_elem(&stats, &idx);
	if (ctr) {
		ctr->packets++;
		ctr->bytes += len;
	}
	return verdict;
}

SEC("xdp")
int ampguard_xdp(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct pkt p = { .len = c.end - c.pos };
	const struct ag_policy *pol;
	__u32 vec;
	int ret;

	ret = parse_frame(&c, &p);
	if (ret != PARSE_OK)
		return count(0, ret, p.len, XDP_PASS);

	pol = vector_of(p.sport, &vec);
	if (!pol)
		return count(0, AG_R_NO_VECTOR, p.len, XDP_PASS);
	if (pol->action == AG_ACT_PASS)
		return count(vec, AG_R_POLICY_PASS, p.len, XDP_PASS);
	if (is_served(p.dport))
		return count(vec, AG_R_SERVED, p.len, XDP_PASS);
	if (is_solicited(&p, c.end, pol))
		return count(vec, AG_R_SOLICITED, p.len, XDP_PASS);

	switch (pol->action) {
	case AG_ACT_DROP:
		return count(vec, AG_R_POLICY_DROP, p.len, XDP_DROP);
	case AG_ACT_MONITOR:
		return count(vec, AG_R_MONITOR, p.len, XDP_PASS);
	case AG_ACT_RATELIMIT:
		ret = ratelimit(&p, c.end, vec, pol);
		return count(vec, ret, p.len, ret == AG_R_RL_PASS ? XDP_PASS : XDP_DROP);
	default:
		return count(vec, AG_R_POLICY_PASS, p.len, XDP_PASS);
	}
}

char LICENSE[] SEC("license") = "GPL";
