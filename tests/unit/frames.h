/* SPDX-License-Identifier: GPL-2.0-only */
/* Hand-built Ethernet frames for driving the XDP program in tests and benchmarks. */
#ifndef AMPGUARD_FRAMES_H
#define AMPGUARD_FRAMES_H

#include <stddef.h>
#include <linux/types.h>

#define FRAME_MAX 2048

enum frame_frag {
	FF_NONE = 0,
	FF_FIRST, /* offset 0, more fragments */
	FF_LATER, /* offset > 0 */
};

struct frame_spec {
	__u16 ethertype; /* 0: IPv4, or IPv6 when ipv6 is set */
	int vlan_tags;   /* tags before the ethertype; outer 802.1ad, inner 802.1Q */
	int ipv6;
	int ip_opt_words; /* IPv4 options, in 4-byte words (0..10) */
	int ext_hdrs;     /* IPv6 destination-options headers before L4 */
	int frag;         /* enum frame_frag */
	__u8 l4;          /* IPPROTO_UDP (default when 0), IPPROTO_TCP, IPPROTO_ICMP */
	__u16 sport;
	__u16 dport;
	int payload;     /* L4 payload bytes */
	__u8 saddr_last; /* last byte of the remote address, to vary sources */
	int outgoing;    /* from the local host (198.51.100.1, 2001:db8::1) to the remote */
	__u32 saddr4;    /* when set, the whole IPv4 remote address (host order) */
	__u16 frag_id;   /* IPv4 ID / IPv6 fragment identification; 0: 0x1234 */
	__u8 daddr_last; /* last byte of the local address; 0: 1 */
};

struct frame {
	/* Two bytes ahead of the frame put its IP header on a 4-byte boundary. */
	__u8 align[2];
	__u8 data[FRAME_MAX];
	size_t len;
	size_t l3_off; /* offsets of the headers, for corrupting them */
	size_t l4_off;
} __attribute__((aligned(4)));

/* Builds the frame; returns its length. */
size_t frame_build(const struct frame_spec *spec, struct frame *f);

/* A plain IPv4 UDP datagram from sport to dport with a small payload. */
size_t frame_udp4(struct frame *f, __u16 sport, __u16 dport);

#endif
