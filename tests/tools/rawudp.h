/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the raw-socket UDP senders (udpgen, udpflood) share: argument
 * checks, addresses, building an IPv4 or IPv6 + UDP datagram with correct
 * checksums, sending it through an IPPROTO_RAW socket, and stopping at
 * SIGTERM or SIGINT as if the count had run out. Each sender sets raw_prog
 * to its name before anything can fail.
 */
#ifndef RAWUDP_H
#define RAWUDP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *raw_prog = "rawudp";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", raw_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static unsigned long number(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		die("%s takes a number from %lu to %lu, not '%s'", opt, min, max, s);
	return v;
}

/* A sender's source base address and its destination. */
struct raw_addrs {
	int family;
	struct in_addr src4, dst4;
	struct in6_addr src6, dst6;
};

static void parse_addrs(struct raw_addrs *a, const char *src, const char *dst)
{
	bool v6 = a->family == AF_INET6;
	const char *fam = v6 ? "IPv6 address" : "IPv4 address (-6 for IPv6)";

	if (inet_pton(a->family, src, v6 ? (void *)&a->src6 : (void *)&a->src4) != 1)
		die("source '%s' is not an %s", src, fam);
	if (inet_pton(a->family, dst, v6 ? (void *)&a->dst6 : (void *)&a->dst4) != 1)
		die("destination '%s' is not an %s", dst, fam);
}

/* The source base address plus n, carrying through every byte. */
static void nth_source(const struct raw_addrs *a, uint32_t n, void *out)
{
	struct in6_addr a6 = a->src6;
	int b;

	if (a->family == AF_INET) {
		((struct in_addr *)out)->s_addr = htonl(ntohl(a->src4.s_addr) + n);
		return;
	}
	for (b = 15; b >= 0 && n; b--) {
		n += a6.s6_addr[b];
		a6.s6_addr[b] = n & 0xff;
		n >>= 8;
	}
	memcpy(out, &a6, sizeof(a6));
}

/* One's complement sum of big-endian 16-bit words. */
static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static size_t raw_header_len(int family)
{
	return family == AF_INET6 ? sizeof(struct ip6_hdr) : sizeof(struct iphdr);
}

static void fill_udp(struct udphdr *udp, const void *src, const void *dst, size_t addr_len,
		     uint16_t sport, uint16_t dport, size_t size)
{
	uint16_t ulen = sizeof(*udp) + size;
	uint16_t csum;
	uint32_t sum;

	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons(ulen);
	udp->check = 0;
	sum = sum16(src, addr_len, 0);
	sum = sum16(dst, addr_len, sum);
	sum += IPPROTO_UDP + ulen;
	csum = fold(sum16(udp, ulen, sum));
	udp->check = htons(csum ? csum : 0xffff);
}

/*
 * Builds a datagram in pkt, whose size payload bytes already sit after the
 * headers: source = base + src_n, IPv4 ID id. Returns its length.
 */
static size_t build_datagram(unsigned char *pkt, const struct raw_addrs *a, uint32_t src_n,
			     uint16_t sport, uint16_t dport, size_t size, uint16_t id)
{
	if (a->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)pkt;

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = sizeof(*ip) / 4;
		ip->tot_len = htons(sizeof(*ip) + sizeof(struct udphdr) + size);
		ip->id = htons(id);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		nth_source(a, src_n, &ip->saddr);
		ip->daddr = a->dst4.s_addr;
		ip->check = htons(fold(sum16(ip, sizeof(*ip), 0)));
		fill_udp((struct udphdr *)(ip + 1), &ip->saddr, &ip->daddr, 4, sport, dport, size);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;

		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(struct udphdr) + size);
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		nth_source(a, src_n, &ip6->ip6_src);
		ip6->ip6_dst = a->dst6;
		fill_udp((struct udphdr *)(ip6 + 1), &ip6->ip6_src, &ip6->ip6_dst, 16, sport, dport,
			 size);
	}
	return raw_header_len(a->family) + sizeof(struct udphdr) + size;
}

/* An IPPROTO_RAW socket (header included) and the address datagrams go to. */
static int open_raw(const struct raw_addrs *a, struct sockaddr_storage *to, socklen_t *to_len)
{
	int fd, one = 1;

	memset(to, 0, sizeof(*to));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)to;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->dst6;
		*to_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)to;

		s4->sin_family = AF_INET;
		s4->sin_addr = a->dst4;
		*to_len = sizeof(*s4);
	}
	fd = socket(a->family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket: %s (needs CAP_NET_RAW)", strerror(errno));
	if (a->family == AF_INET && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)))
		die("IP_HDRINCL: %s", strerror(errno));
	return fd;
}

/* Sends one datagram, waiting out a full transmit queue. */
static void send_one(int fd, const void *pkt, size_t len, const struct sockaddr_storage *to,
		     socklen_t to_len)
{
	const struct timespec wait = { .tv_nsec = 1000000 };
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (sendto(fd, pkt, len, 0, (const struct sockaddr *)to, to_len) == (ssize_t)len)
			return;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			break;
		nanosleep(&wait, NULL);
	}
	die("sendto: %s", strerror(errno));
}

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/*
 * A stop asked for ends a flood as a count reached would: the sender
 * reports and exits 0, so that a flood can be sized for longer than what
 * runs under it and stopped once that is done. No SA_RESTART: a pacing
 * sleep ends at the signal.
 */
static void stop_on_signals(void)
{
	struct sigaction sa = { .sa_handler = request_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

#endif /* RAWUDP_H */
