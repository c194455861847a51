// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC egress request recorder: remembers UDP requests this host (or, on a
 * gateway, the hosts behind it, post-NAT) sends to vector ports, so the
 * XDP ingress can tell their replies from a reflection flood. It never
 * changes or drops a packet.
 */
#include <linux/pkt_cls.h>

#include "parse.h"
#include "maps.h"
#include "track.h"

/* Enough for Ethernet, two tags, IPv6 with extension headers and UDP. */
#define PULL_LEN 256

static __always_inline int parse_skb(struct __sk_buff *skb, struct cursor *c, struct pkt *p)
{
	c->pos = (void *)(long)skb->data;
	c->end = (void *)(long)skb->data_end;
	return parse_frame(c, p);
}

SEC("tc")
int ampguard_tc_egress(struct __sk_buff *skb)
{
	const struct ag_config *cfg = config_get();
	const struct ag_port_gen *port;
	const struct ag_policy *pol;
	struct cursor c;
	struct pkt p = {};
	__u32 gen;
	int ret;

	ret = parse_skb(skb, &c, &p);
	/* Headers outside the linear area: pull them in once and retry. */
	if (ret == AG_R_TRUNCATED && skb->len > (__u32)(c.end - (void *)(long)skb->data)) {
		bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN);
		__builtin_memset(&p, 0, sizeof(p));
		ret = parse_skb(skb, &c, &p);
	}
	if (ret != PARSE_OK || !cfg)
		return TC_ACT_OK;

	/* Read once: the slot and its policy come from the same generation. */
	gen = cfg->gen;
	port = port_of(gen, p.dport);
	if (!port || !(port->flags & AG_PORT_TRACKED))
		return TC_ACT_OK;
	pol = policy_of(gen, port->slot);
	if (pol)
		record_request(&p, c.end, pol);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
