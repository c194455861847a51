// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "frames.h"

static void put16(__u8 *p, __u16 v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static size_t put_eth(const struct frame_spec *s, __u8 *p)
{
	static const __u8 dst[6] = { 0x02, 0, 0, 0, 0, 0x01 }, src[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	size_t off = 12;
	int i;

	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	for (i = 0; i < s->vlan_tags; i++) {
		put16(p + off, i == 0 && s->vlan_tags > 1 ? ETH_P_8021AD : ETH_P_8021Q);
		put16(p + off + 2, 100 + i);
		off += 4;
	}
	if (s->ethertype)
		put16(p + off, s->ethertype);
	else
		put16(p + off, s->ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	return off + 2;
}

static __u16 csum(const void *data, size_t len)
{
	const __u8 *b = data;
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static size_t put_l4(const struct frame_spec *s, __u8 *p, __u8 proto)
{
	size_t hlen;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *t = (struct tcphdr *)p;

		memset(t, 0, sizeof(*t));
		t->source = htons(s->sport);
		t->dest = htons(s->dport);
		t->doff = 5;
		t->syn = 1;
		hlen = sizeof(*t);
	} else if (proto == IPPROTO_ICMP) {
		memset(p, 0, 8);
		p[0] = 8; /* echo request */
		hlen = 8;
	} else {
		struct udphdr *u = (struct udphdr *)p;

		u->source = htons(s->sport);
		u->dest = htons(s->dport);
		u->len = htons(sizeof(*u) + s->payload);
		u->check = 0;
		hlen = sizeof(*u);
	}
	memset(p + hlen, 0xab, s->payload);
	return hlen + s->payload;
}

static size_t put_ipv4(const struct frame_spec *s, __u8 *p, struct frame *f)
{
	struct iphdr *ip = (struct iphdr *)p;
	size_t hlen = 20 + 4 * s->ip_opt_words, l4len;
	__u8 proto = s->l4 ? s->l4 : IPPROTO_UDP;

	memset(ip, 0, hlen);
	ip->version = 4;
	ip->ihl = hlen / 4;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->id = htons(s->frag_id ? s->frag_id : 0x1234);
	ip->saddr = htonl(s->saddr4 ? s->saddr4 : 0xc0000200 | s->saddr_last); /* 192.0.2.x */
	ip->daddr = htonl(0xc6336400 | (s->daddr_last ? s->daddr_last : 1));   /* 198.51.100.x */
	if (s->outgoing) {
		__be32 t = ip->saddr;

		ip->saddr = ip->daddr;
		ip->daddr = t;
	}
	if (s->ip_opt_words)
		memset(p + 20, 1, hlen - 20); /* NOP options */
	if (s->frag == FF_FIRST)
		ip->frag_off = htons(0x2000);
	else if (s->frag == FF_LATER)
		ip->frag_off = htons(185); /* offset 1480 bytes */
	f->l4_off = (p - f->data) + hlen;
	l4len = put_l4(s, p + hlen, proto);
	ip->tot_len = htons(hlen + l4len);
	ip->check = htons(csum(ip, hlen));
	return hlen + l4len;
}

static size_t put_ipv6(const struct frame_spec *s, __u8 *p, struct frame *f)
{
	struct ipv6hdr *ip6 = (struct ipv6hdr *)p;
	__u8 proto = s->l4 ? s->l4 : IPPROTO_UDP, *nexthdr = &ip6->nexthdr;
	size_t off = sizeof(*ip6), l4len;
	int i;

	memset(ip6, 0, sizeof(*ip6));
	ip6->version = 6;
	ip6->hop_limit = 64;
	inet_pton(AF_INET6, "2001:db8::2", &ip6->saddr);
	inet_pton(AF_INET6, "2001:db8::1", &ip6->daddr);
	ip6->saddr.s6_addr[15] = s->saddr_last;
	if (s->daddr_last)
		ip6->daddr.s6_addr[15] = s->daddr_last;
	if (s->outgoing) {
		struct in6_addr t = ip6->saddr;

		ip6->saddr = ip6->daddr;
		ip6->daddr = t;
	}
	for (i = 0; i < s->ext_hdrs; i++) {
		*nexthdr = IPPROTO_DSTOPTS;
		memset(p + off, 0, 8);
		p[off + 2] = 1; /* PadN covering the rest */
		p[off + 3] = 4;
		nexthdr = p + off;
		off += 8;
	}
	if (s->frag) {
		*nexthdr = IPPROTO_FRAGMENT;
		memset(p + off, 0, 8);
		put16(p + off + 2, s->frag == FF_FIRST ? 1 : 1480); /* offset | M */
		put16(p + off + 6, s->frag_id ? s->frag_id : 0x1234);
		nexthdr = p + off;
		off += 8;
	}
	*nexthdr = proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : proto;
	f->l4_off = (p - f->data) + off;
	l4len = put_l4(s, p + off, proto);
	ip6->payload_len = htons(off - sizeof(*ip6) + l4len);
	return off + l4len;
}

size_t frame_build(const struct frame_spec *s, struct frame *f)
{
	size_t off;

	memset(f, 0, sizeof(*f));
	off = put_eth(s, f->data);
	f->l3_off = off;
	if (s->ethertype && s->ethertype != 0x0800 && s->ethertype != 0x86dd) {
		memset(f->data + off, 0, 28); /* ARP-sized body */
		off += 28;
	} else if (s->ipv6 || s->ethertype == 0x86dd) {
		off += put_ipv6(s, f->data + off, f);
	} else {
		off += put_ipv4(s, f->data + off, f);
	}
	f->len = off < 60 ? 60 : off; /* Ethernet minimum, zero padded */
	return f->len;
}

size_t frame_udp4(struct frame *f, __u16 sport, __u16 dport)
{
	struct frame_spec s = { .sport = sport, .dport = dport, .payload = 32 };

	return frame_build(&s, f);
}
