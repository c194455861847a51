/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsing for the datapath. Every helper checks its bounds against
 * the frame end before it reads, and reports why it stopped as an
 * enum ag_reason, so a frame is either fully parsed or counted as unparsed.
 */
#ifndef AMPGUARD_PARSE_H
#define AMPGUARD_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ampguard_abi.h"

#define PARSE_OK (-1)
#define PARSE_LATER_FRAGMENT (-2) /* IP parsed; no ports in this fragment */

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define IP6_OFFSET 0xFFF8
#define IP6_MF 0x0001

enum frag_kind {
	FRAG_NONE = 0,
	FRAG_FIRST, /* offset 0, more to come: carries the UDP header */
	FRAG_LATER, /* offset > 0: no ports */
};

struct cursor {
	void *pos;
	void *end;
};

struct pkt {
	__u32 len;       /* whole frame, for byte counters */
	__u32 l3_len;    /* bytes of IP datagram from l3 start */
	void *l3;        /* start of the IP header */
	__u16 eth_proto; /* host order, after VLAN tags */
	__u8 l4_proto;
	__u8 frag;   /* enum frag_kind */
	__u16 sport; /* host order */
	__u16 dport;
	__u32 frag_id; /* IPv4 ID or IPv6 fragment identification, host order */
};

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct ip6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* Bytes left between the cursor and the end of the IP datagram. */
static __always_inline __u32 l3_remaining(const struct cursor *c, const struct pkt *p)
{
	__u32 used = c->pos - p->l3;

	return used > p->l3_len ? 0 : p->l3_len - used;
}

static __always_inline int parse_eth(struct cursor *c, struct pkt *p)
{
	struct ethhdr *eth = c->pos;
	struct vlan_tag *tag;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return AG_R_TRUNCATED;
	proto = bpf_ntohs(eth->h_proto);
	c->pos = eth + 1;

#pragma unroll
	for (i = 0; i < AG_MAX_VLAN_TAGS; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		tag = c->pos;
		if ((void *)(tag + 1) > c->end)
			return AG_R_TRUNCATED;
		proto = bpf_ntohs(tag->proto);
		c->pos = tag + 1;
	}
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD)
		return AG_R_PARSE_LIMIT;

	p->eth_proto = proto;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct cursor *c, struct pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot, avail;
	__u16 frag_off;

	if ((void *)(ip + 1) > c->end)
		return AG_R_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return AG_R_MALFORMED;
	/* The fixed header is sound: addresses can be judged from here on. */
	p->l3 = ip;

	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	avail = c->end - c->pos;
	if (hlen > avail)
		return AG_R_TRUNCATED;
	if (tot < hlen)
		return AG_R_MALFORMED;
	/* Ethernet padding may follow the datagram; a short frame may not. */
	if (tot > avail)
		return AG_R_TRUNCATED;

	frag_off = bpf_ntohs(ip->frag_off);
	if (frag_off & IP_OFFSET)
		p->frag = FRAG_LATER;
	else if (frag_off & IP_MF)
		p->frag = FRAG_FIRST;
	p->frag_id = bpf_ntohs(ip->id);

	p->l3_len = tot;
	p->l4_proto = ip->protocol;
	c->pos += hlen;
	return PARSE_OK;
}

static __always_inline int is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

/* One extension header; advances the cursor and updates *nexthdr. */
static __always_inline int parse_ipv6_ext(struct cursor *c, struct pkt *p, __u8 *nexthdr)
{
	struct ipv6_opt_hdr *opt = c->pos;
	struct ip6_frag *fh = c->pos;
	__u32 len;
	__u16 off;

	if (*nexthdr == IPPROTO_FRAGMENT) {
		if ((void *)(fh + 1) > c->end)
			return AG_R_TRUNCATED;
		if (sizeof(*fh) > l3_remaining(c, p))
			return AG_R_MALFORMED;
		off = bpf_ntohs(fh->frag_off);
		if (off & IP6_OFFSET)
			p->frag = FRAG_LATER;
		else if (off & IP6_MF)
			p->frag = FRAG_FIRST;
		p->frag_id = bpf_ntohl(fh->id);
		*nexthdr = fh->nexthdr;
		c->pos = fh + 1;
		return PARSE_OK;
	}

	if ((void *)(opt + 1) > c->end)
		return AG_R_TRUNCATED;
	len = (opt->hdrlen + 1) * 8;
	if (len > l3_remaining(c, p))
		return AG_R_MALFORMED;
	if (c->pos + len > c->end)
		return AG_R_TRUNCATED;
	*nexthdr = opt->nexthdr;
	c->pos += len;
	return PARSE_OK;
}

static __always_inline int parse_ipv6(struct cursor *c, struct pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 tot, avail;
	__u8 nexthdr;
	int i, ret;

	if ((void *)(ip6 + 1) > c->end)
		return AG_R_TRUNCATED;
	if (ip6->version != 6)
		return AG_R_MALFORMED;
	p->l3 = ip6;

	tot = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	avail = c->end - c->pos;
	if (tot > avail)
		return AG_R_TRUNCATED;
	p->l3_len = tot;
	nexthdr = ip6->nexthdr;
	c->pos = ip6 + 1;

#pragma unroll
	for (i = 0; i < AG_MAX_EXT_HDRS; i++) {
		if (!is_ipv6_ext(nexthdr))
			break;
		/* Later fragments hold payload, not headers. */
		if (p->frag == FRAG_LATER)
			break;
		ret = parse_ipv6_ext(c, p, &nexthdr);
		if (ret != PARSE_OK)
			return ret;
	}
	if (p->frag != FRAG_LATER && is_ipv6_ext(nexthdr))
		return AG_R_PARSE_LIMIT;

	p->l4_proto = nexthdr;
	return PARSE_OK;
}

static __always_inline int parse_udp(struct cursor *c, struct pkt *p)
{
	struct udphdr *udp = c->pos;
	__u32 ulen;

	if ((void *)(udp + 1) > c->end)
		return AG_R_TRUNCATED;
	if (sizeof(*udp) > l3_remaining(c, p))
		return AG_R_MALFORMED;

	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp))
		return AG_R_MALFORMED;
	/* A first fragment's UDP length covers the whole datagram. */
	if (p->frag == FRAG_NONE && ulen > l3_remaining(c, p))
		return AG_R_MALFORMED;

	p->sport = bpf_ntohs(udp->source);
	p->dport = bpf_ntohs(udp->dest);
	c->pos = udp + 1;
	return PARSE_OK;
}

/*
 * The frames of a flood, and most of the rest: untagged Ethernet, IPv4
 * without options or IPv6 without extension headers, unfragmented. A UDP
 * datagram is parsed to its ports, any other protocol is told apart at
 * once (AG_R_NOT_UDP). Judged after one bounds check, with the same checks
 * as the general parser below, and without byte swaps where a constant can
 * be swapped instead. Anything else (or anything this would count as
 * malformed or truncated) is left to the general parser, which names the
 * reason.
 */
#define PARSE_GENERAL (-3)

static __always_inline void fast_udp(struct cursor *c, struct pkt *p, void *l3, __u16 eth_proto,
				     __u32 l3_len, const struct udphdr *udp)
{
	p->l3 = l3;
	p->eth_proto = eth_proto;
	p->l3_len = l3_len;
	p->l4_proto = IPPROTO_UDP;
	p->sport = bpf_ntohs(udp->source);
	p->dport = bpf_ntohs(udp->dest);
	c->pos = (void *)(udp + 1);
}

/* An IP datagram that is not UDP: what the general parser records of it. */
static __always_inline int fast_not_udp(struct pkt *p, void *l3, __u16 eth_proto, __u32 l3_len,
					__u8 l4_proto)
{
	p->l3 = l3;
	p->eth_proto = eth_proto;
	p->l3_len = l3_len;
	p->l4_proto = l4_proto;
	return AG_R_NOT_UDP;
}

static __always_inline int parse_fast4(struct cursor *c, struct pkt *p, struct iphdr *ip)
{
	struct udphdr *udp = (void *)(ip + 1);
	__u32 tot, ulen;

	if ((void *)(udp + 1) > c->end)
		return PARSE_GENERAL;
	/* Version 4, 5 words of header; neither a later fragment nor a first one. */
	if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
		return PARSE_GENERAL;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) || tot > (__u32)(c->end - (void *)ip))
		return PARSE_GENERAL;
	if (ip->protocol != IPPROTO_UDP)
		return fast_not_udp(p, ip, ETH_P_IP, tot, ip->protocol);
	ulen = bpf_ntohs(udp->len);
	if (tot < sizeof(*ip) + sizeof(*udp) || ulen < sizeof(*udp) || ulen > tot - sizeof(*ip))
		return PARSE_GENERAL;
	/* Unfragmented: frag_id is read only for fragments, and stays 0. */
	fast_udp(c, p, ip, ETH_P_IP, tot, udp);
	return PARSE_OK;
}

static __always_inline int parse_fast6(struct cursor *c, struct pkt *p, struct ipv6hdr *ip6)
{
	struct udphdr *udp = (void *)(ip6 + 1);
	__u32 plen, ulen;
	__u8 next;

	if ((void *)(udp + 1) > c->end)
		return PARSE_GENERAL;
	if (ip6->version != 6)
		return PARSE_GENERAL;
	plen = bpf_ntohs(ip6->payload_len);
	if (sizeof(*ip6) + plen > (__u32)(c->end - (void *)ip6))
		return PARSE_GENERAL;
	next = ip6->nexthdr;
	if (next != IPPROTO_UDP) {
		if (is_ipv6_ext(next))
			return PARSE_GENERAL;
		return fast_not_udp(p, ip6, ETH_P_IPV6, sizeof(*ip6) + plen, next);
	}
	ulen = bpf_ntohs(udp->len);
	if (plen < sizeof(*udp) || ulen < sizeof(*udp) || ulen > plen)
		return PARSE_GENERAL;
	fast_udp(c, p, ip6, ETH_P_IPV6, sizeof(*ip6) + plen, udp);
	return PARSE_OK;
}

static __always_inline int parse_fast(struct cursor *c, struct pkt *p)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return PARSE_GENERAL;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return parse_fast4(c, p, (void *)(eth + 1));
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return parse_fast6(c, p, (void *)(eth + 1));
	return PARSE_GENERAL;
}

/*
 * Parses up to the UDP header. Returns PARSE_OK with p->sport/dport set for
 * a UDP datagram (or its first fragment), PARSE_LATER_FRAGMENT, or the
 * reason to count. p->l3 is set once the IP fixed header is sound, even
 * when a later header is not.
 */
static __always_inline int parse_frame(struct cursor *c, struct pkt *p)
{
	int ret;

	ret = parse_fast(c, p);
	if (ret != PARSE_GENERAL)
		return ret;
	ret = parse_eth(c, p);
	if (ret != PARSE_OK)
		return ret;

	if (p->eth_proto == ETH_P_IP)
		ret = parse_ipv4(c, p);
	else if (p->eth_proto == ETH_P_IPV6)
		ret = parse_ipv6(c, p);
	else
		return AG_R_NOT_IP;
	if (ret != PARSE_OK)
		return ret;

	if (p->frag == FRAG_LATER)
		return PARSE_LATER_FRAGMENT;
	if (p->l4_proto != IPPROTO_UDP)
		return AG_R_NOT_UDP;
	return parse_udp(c, p);
}

/* The source and destination addresses, IPv4 mapped into IPv6 form. */
static __always_inline int ip_addrs(const struct pkt *p, const void *end, __u8 src[16],
				    __u8 dst[16])
{
	if (p->eth_proto == ETH_P_IP) {
		const struct iphdr *ip = p->l3;

		if ((const void *)(ip + 1) > end)
			return -1;
		__builtin_memset(src, 0, 10);
		__builtin_memset(dst, 0, 10);
		src[10] = src[11] = dst[10] = dst[11] = 0xff;
		__builtin_memcpy(&src[12], &ip->saddr, 4);
		__builtin_memcpy(&dst[12], &ip->daddr, 4);
	} else {
		const struct ipv6hdr *ip6 = p->l3;

		if ((const void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(src, &ip6->saddr, 16);
		__builtin_memcpy(dst, &ip6->daddr, 16);
	}
	return 0;
}

/* The destination alone, in the same form as ip_addrs(). */
static __always_inline int ip_dst(const struct pkt *p, const void *end, __u8 dst[16])
{
	if (p->eth_proto == ETH_P_IP) {
		const struct iphdr *ip = p->l3;

		if ((const void *)(ip + 1) > end)
			return -1;
		__builtin_memset(dst, 0, 10);
		dst[10] = dst[11] = 0xff;
		__builtin_memcpy(&dst[12], &ip->daddr, 4);
	} else {
		const struct ipv6hdr *ip6 = p->l3;

		if ((const void *)(ip6 + 1) > end)
			return -1;
		__builtin_memcpy(dst, &ip6->daddr, 16);
	}
	return 0;
}

#endif /* AMPGUARD_PARSE_H */
