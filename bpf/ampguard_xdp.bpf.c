// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP ingress classifier. In order: parse; deny and allow lists; later
 * fragments follow their first; the vector by UDP source port; let through
 * what this host asked for or serves; the vector's action for the
 * unsolicited rest; count, sample where unsolicited traffic goes, and hand
 * frames to a capture when one runs. One instance is loaded per protected interface:
 * the policy maps are shared, stats and ifinfo are the interface's own.
 */
#include "parse.h"
#include "maps.h"
#include "track.h"
#include "ratelimit.h"
#include "lists.h"
#include "frag.h"
#include "dsts.h"
#include "capture.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_NR_STATS);
	__type(key, __u32);
	__type(value, struct ag_counter);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_ifinfo);
} ifinfo SEC(".maps");

static __always_inline int count(struct xdp_md *ctx, __u32 capture, const struct pkt *p,
				 const void *end, __u32 vec, __u32 reason)
{
	__u32 idx = AG_STATS_IDX(vec, reason);
	struct ag_counter *ctr;

	ctr = bpf_map_lookup_elem(&stats, &idx);
	if (ctr) {
		ctr->packets++;
		ctr->bytes += p->len;
		dst_sample(p, end, vec, reason, ctr->packets);
	}
	capture_check(ctx, capture, vec, reason);
	return ag_reason_drops(reason) ? XDP_DROP : XDP_PASS;
}

/*
 * The vector's verdict on a parsed UDP datagram (or first fragment). The
 * port's entry alone judges a vector that passes, or drops without
 * tracking; the policy is read only for a rate limit, or for the tracking
 * timeout of a reply to a port this host has sent requests from.
 */
static __always_inline int judge_udp(const struct pkt *p, const void *end, __u32 gen, __u32 *vec)
{
	const struct ag_port_gen *port;
	const struct ag_policy *pol = NULL;
	__u64 last;
	__u8 action;

	port = port_of(gen, p->sport);
	if (!port) {
		*vec = 0;
		return AG_R_NO_VECTOR;
	}
	*vec = port->slot;
	action = port->action;
	if (action == AG_ACT_PASS)
		return AG_R_POLICY_PASS;
	if (is_served(gen, p->dport))
		return AG_R_SERVED;
	if (port->flags & AG_PORT_TRACKED) {
		last = port_last_request(p->dport);
		if (last) {
			pol = policy_of(gen, *vec);
			if (pol && is_solicited(p, end, pol, last))
				return AG_R_SOLICITED;
		}
	}

	switch (action) {
	case AG_ACT_DROP:
		return AG_R_POLICY_DROP;
	case AG_ACT_MONITOR:
		return AG_R_MONITOR;
	case AG_ACT_RATELIMIT:
		if (!pol)
			pol = policy_of(gen, *vec);
		return pol ? ratelimit(p, end, *vec, pol) : AG_R_POLICY_PASS;
	default:
		return AG_R_POLICY_PASS;
	}
}

SEC("xdp")
int ampguard_xdp(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct pkt p = { .len = c.end - c.pos };
	const struct ag_config *cfg = config_get();
	__u32 vec = 0, zero = 0, gen, lists, capture;
	int ret, reason;

	if (!cfg)
		return XDP_PASS;
	/* Read once: everything below is judged by this generation. */
	gen = cfg->gen & 1;
	lists = cfg->lists[gen];
	capture = cfg->capture;
	ret = parse_frame(&c, &p);

	if (p.l3 && lists) {
		reason = list_verdict(&p, c.end, gen, lists);
		if (reason != PARSE_OK)
			goto out;
	}

	if (ret == PARSE_LATER_FRAGMENT) {
		reason = frag_follow(&p, c.end, bpf_map_lookup_elem(&ifinfo, &zero), gen, &vec);
		goto out;
	}
	if (ret == PARSE_OK)
		reason = judge_udp(&p, c.end, gen, &vec);
	else
		reason = ret;
	/* Whatever the protocol, the rest of the datagram follows its first fragment. */
	if (p.frag == FRAG_FIRST && p.l3)
		frag_remember(&p, c.end, vec, ag_reason_drops(reason));
out:
	return count(ctx, capture, &p, c.end, vec, reason);
}

char LICENSE[] SEC("license") = "GPL";
