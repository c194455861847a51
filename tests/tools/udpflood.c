// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpflood: a paced reflection flood for the end-to-end tests. Sends UDP
 * datagrams through a raw socket from many spoofed source addresses, from
 * one or more source ports, to destination ports spread over a range.
 *
 *   udpflood [-6] -s SRCADDR [--sources N] -d DSTADDR --sport PORT[,PORT...]
 *            --dport LO[-HI] -n COUNT --rate PPS [--size BYTES] [--seed N]
 *
 * Each datagram takes a pseudo-random source address among the N that
 * start at SRCADDR, a pseudo-random source port of the list and a
 * pseudo-random destination port from LO to HI (fixed --seed: the same
 * run sends the same sequence). --rate is required: the flood is paced,
 * in small bursts, at PPS on average. A run stops after 60 s whatever
 * COUNT says. Prints "sent N".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 60
#define MAX_PAYLOAD 1400
#define MAX_SPORTS 16
/* At most this many datagrams in one go when the sender fell behind. */
#define MAX_BURST 32
#define NAP_NS 200000L

struct flood {
	int family;
	const char *src_str, *dst_str;
	unsigned long count, size, rate, sources, seed;
	unsigned int sports[MAX_SPORTS], nr_sports;
	unsigned int dport_lo, dport_hi;
	struct in6_addr src6, dst6;
	struct in_addr src4, dst4;
	uint64_t rng;
	unsigned char pkt[sizeof(struct ip6_hdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "udpflood: ");
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

static void parse_sports(struct flood *f, char *list)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (f->nr_sports == MAX_SPORTS)
			die("--sport takes at most %d ports", MAX_SPORTS);
		f->sports[f->nr_sports++] = number("--sport", tok, 0, 65535);
	}
	if (!f->nr_sports)
		die("--sport needs at least one port");
}

static void parse_dports(struct flood *f, const char *range)
{
	char lo[16];
	const char *dash = strchr(range, '-');
	size_t n = dash ? (size_t)(dash - range) : strlen(range);

	if (n >= sizeof(lo))
		die("--dport takes PORT or LO-HI, not '%s'", range);
	memcpy(lo, range, n);
	lo[n] = '\0';
	f->dport_lo = number("--dport", lo, 0, 65535);
	f->dport_hi = dash ? number("--dport", dash + 1, 0, 65535) : f->dport_lo;
	if (f->dport_hi < f->dport_lo)
		die("--dport %u-%u: the range is empty", f->dport_lo, f->dport_hi);
}

static void parse_args(struct flood *f, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sport", required_argument, NULL, 'S' },
		{ "dport", required_argument, NULL, 'D' },
		{ "size", required_argument, NULL, 'z' },
		{ "rate", required_argument, NULL, 'R' },
		{ "sources", required_argument, NULL, 'N' },
		{ "seed", required_argument, NULL, 'e' },
		{},
	};
	bool dports = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "6s:d:n:", opts, NULL)) != -1) {
		switch (c) {
		case '6':
			f->family = AF_INET6;
			break;
		case 's':
			f->src_str = optarg;
			break;
		case 'd':
			f->dst_str = optarg;
			break;
		case 'n':
			f->count = number("-n", optarg, 0, 100000000);
			break;
		case 'S':
			parse_sports(f, optarg);
			break;
		case 'D':
			parse_dports(f, optarg);
			dports = true;
			break;
		case 'z':
			f->size = number("--size", optarg, 0, MAX_PAYLOAD);
			break;
		case 'R':
			f->rate = number("--rate", optarg, 1, 10000000);
			break;
		case 'N':
			f->sources = number("--sources", optarg, 1, 1 << 24);
			break;
		case 'e':
			f->seed = number("--seed", optarg, 0, ~0UL - 1);
			break;
		default:
			die("bad option '%s'; usage: udpflood [-6] -s SRCADDR [--sources N] -d DSTADDR --sport PORT[,PORT...] --dport LO[-HI] -n COUNT --rate PPS [--size BYTES] [--seed N]",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!f->src_str || !f->dst_str || !f->nr_sports || !dports || f->count == ~0UL ||
	    !f->rate)
		die("-s, -d, --sport, --dport, -n and --rate are required");
}

static void parse_addrs(struct flood *f)
{
	bool v6 = f->family == AF_INET6;
	const char *fam = v6 ? "IPv6 address" : "IPv4 address (-6 for IPv6)";

	if (inet_pton(f->family, f->src_str, v6 ? (void *)&f->src6 : (void *)&f->src4) != 1)
		die("source '%s' is not an %s", f->src_str, fam);
	if (inet_pton(f->family, f->dst_str, v6 ? (void *)&f->dst6 : (void *)&f->dst4) != 1)
		die("destination '%s' is not an %s", f->dst_str, fam);
}

/* xorshift64*: cheap, and the same sequence for the same seed. */
static uint32_t next_rand(struct flood *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (f->rng * 0x2545F4914F6CDD1DULL) >> 32;
}

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

/* SRCADDR + n, carrying through every byte of the address. */
static void nth_source(const struct flood *f, uint32_t n, void *out)
{
	struct in6_addr a6 = f->src6;
	int b;

	if (f->family == AF_INET) {
		((struct in_addr *)out)->s_addr = htonl(ntohl(f->src4.s_addr) + n);
		return;
	}
	for (b = 15; b >= 0 && n; b--) {
		n += a6.s6_addr[b];
		a6.s6_addr[b] = n & 0xff;
		n >>= 8;
	}
	memcpy(out, &a6, sizeof(a6));
}

static void fill_udp(struct flood *f, struct udphdr *udp, const void *src, const void *dst,
		     size_t addr_len)
{
	uint16_t ulen = sizeof(*udp) + f->size;
	uint16_t csum;
	uint32_t sum;

	udp->source = htons(f->sports[next_rand(f) % f->nr_sports]);
	udp->dest = htons(f->dport_lo + next_rand(f) % (f->dport_hi - f->dport_lo + 1));
	udp->len = htons(ulen);
	udp->check = 0;
	sum = sum16(src, addr_len, 0);
	sum = sum16(dst, addr_len, sum);
	sum += IPPROTO_UDP + ulen;
	csum = fold(sum16(udp, ulen, sum));
	udp->check = htons(csum ? csum : 0xffff);
}

/* Builds datagram i in f->pkt and returns its length. */
static size_t build(struct flood *f, unsigned long i)
{
	uint32_t n = f->sources > 1 ? next_rand(f) % f->sources : 0;

	if (f->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)f->pkt;

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = sizeof(*ip) / 4;
		ip->tot_len = htons(sizeof(*ip) + sizeof(struct udphdr) + f->size);
		ip->id = htons(i & 0xffff);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		nth_source(f, n, &ip->saddr);
		ip->daddr = f->dst4.s_addr;
		ip->check = htons(fold(sum16(ip, sizeof(*ip), 0)));
		fill_udp(f, (struct udphdr *)(ip + 1), &ip->saddr, &ip->daddr, 4);
		return sizeof(*ip) + sizeof(struct udphdr) + f->size;
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)f->pkt;

		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(struct udphdr) + f->size);
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		nth_source(f, n, &ip6->ip6_src);
		ip6->ip6_dst = f->dst6;
		fill_udp(f, (struct udphdr *)(ip6 + 1), &ip6->ip6_src, &ip6->ip6_dst, 16);
		return sizeof(*ip6) + sizeof(struct udphdr) + f->size;
	}
}

static int open_raw(int family)
{
	int fd, one = 1;

	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket: %s (needs CAP_NET_RAW)", strerror(errno));
	if (family == AF_INET && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)))
		die("IP_HDRINCL: %s", strerror(errno));
	return fd;
}

/* Sends one datagram, waiting out a full transmit queue. */
static void send_one(int fd, const void *pkt, size_t len, const struct sockaddr *to,
		     socklen_t to_len)
{
	const struct timespec wait = { .tv_nsec = 1000000 };
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (sendto(fd, pkt, len, 0, to, to_len) == (ssize_t)len)
			return;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			break;
		nanosleep(&wait, NULL);
	}
	die("sendto: %s", strerror(errno));
}

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	static struct flood f = { .family = AF_INET, .count = ~0UL, .size = 32, .seed = 1 };
	const struct timespec nap = { .tv_nsec = NAP_NS };
	struct sockaddr_in to4 = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6 };
	struct sockaddr *to;
	struct timespec start;
	unsigned long i = 0, due, burst;
	socklen_t to_len;
	double t;
	size_t len;
	int fd;

	parse_args(&f, argc, argv);
	parse_addrs(&f);
	f.rng = f.seed * 0x9E3779B97F4A7C15ULL + 1;
	memset(f.pkt, 'a', sizeof(f.pkt));
	to4.sin_addr = f.dst4;
	to6.sin6_addr = f.dst6;
	to = f.family == AF_INET6 ? (struct sockaddr *)&to6 : (struct sockaddr *)&to4;
	to_len = f.family == AF_INET6 ? sizeof(to6) : sizeof(to4);
	fd = open_raw(f.family);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (i < f.count) {
		t = elapsed(&start);
		if (t >= MAX_SECONDS)
			break;
		due = (unsigned long)(t * f.rate) + 1;
		if (due > f.count)
			due = f.count;
		if (due <= i) {
			nanosleep(&nap, NULL);
			continue;
		}
		/* Behind schedule after a stall: catch up in small bursts only. */
		for (burst = 0; i < due && burst < MAX_BURST; burst++, i++) {
			len = build(&f, i);
			send_one(fd, f.pkt, len, to, to_len);
		}
	}
	close(fd);
	printf("sent %lu\n", i);
	if (i < f.count) {
		fprintf(stderr, "udpflood: stopped after %d s with %lu of %lu sent\n",
			MAX_SECONDS, i, f.count);
		return 1;
	}
	return 0;
}
