// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpgen: sends UDP datagrams with any source address and port through a
 * raw socket, for the end-to-end tests.
 *
 *   udpgen [-6] -s SRCADDR -d DSTADDR --sport PORT --dport PORT -n COUNT
 *          [--size BYTES] [--rate PPS] [--no-late-sleep] [--sources N]
 *          [--report]
 *
 * --size is the UDP payload (default 32). --rate bounds packets per second
 * (default: as fast as the socket takes them): each datagram sleeps until
 * it is due, even one already late, which costs a timer interrupt and caps
 * the rate at some 50k pps in a VM. --no-late-sleep sends a datagram that
 * is already due at once: higher rates are reached, and a sender that fell
 * behind catches up back to back. --sources N cycles the source address
 * over N consecutive addresses from SRCADDR. A run stops after 60 s
 * whatever COUNT says. Prints "sent N"; with --report, the line goes on
 * with " start_ns T0 end_ns T1": CLOCK_MONOTONIC (the clock XDP programs
 * read with bpf_ktime_get_ns) just before the first datagram and just after
 * the last one was handed to the kernel.
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
#define MAX_PAYLOAD 65000
#define NSEC 1000000000ULL

struct gen {
	int family;
	const char *src_str, *dst_str;
	unsigned long sport, dport, count, size, rate, sources;
	bool report, no_late_sleep;
	struct in6_addr src6, dst6;
	struct in_addr src4, dst4;
	unsigned char pkt[sizeof(struct ip6_hdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "udpgen: ");
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

static void parse_args(struct gen *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sport", required_argument, NULL, 'S' },
		{ "dport", required_argument, NULL, 'D' },
		{ "size", required_argument, NULL, 'z' },
		{ "rate", required_argument, NULL, 'R' },
		{ "sources", required_argument, NULL, 'N' },
		{ "report", no_argument, NULL, 'T' },
		{ "no-late-sleep", no_argument, NULL, 'L' },
		{},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "6s:d:n:", opts, NULL)) != -1) {
		switch (c) {
		case '6':
			g->family = AF_INET6;
			break;
		case 's':
			g->src_str = optarg;
			break;
		case 'd':
			g->dst_str = optarg;
			break;
		case 'n':
			g->count = number("-n", optarg, 0, 100000000);
			break;
		case 'S':
			g->sport = number("--sport", optarg, 0, 65535);
			break;
		case 'D':
			g->dport = number("--dport", optarg, 0, 65535);
			break;
		case 'z':
			g->size = number("--size", optarg, 0, MAX_PAYLOAD);
			break;
		case 'R':
			g->rate = number("--rate", optarg, 1, 100000000);
			break;
		case 'N':
			g->sources = number("--sources", optarg, 1, 65536);
			break;
		case 'T':
			g->report = true;
			break;
		case 'L':
			g->no_late_sleep = true;
			break;
		default:
			die("bad option '%s'; usage: udpgen [-6] -s SRCADDR -d DSTADDR --sport PORT --dport PORT -n COUNT [--size BYTES] [--rate PPS] [--no-late-sleep] [--sources N] [--report]",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!g->src_str || !g->dst_str || g->sport > 65535 || g->dport > 65535 || g->count == ~0UL)
		die("-s, -d, --sport, --dport and -n are required");
}

static void parse_addrs(struct gen *g)
{
	bool v6 = g->family == AF_INET6;
	const char *fam = v6 ? "IPv6 address" : "IPv4 address (-6 for IPv6)";

	if (inet_pton(g->family, g->src_str, v6 ? (void *)&g->src6 : (void *)&g->src4) != 1)
		die("source '%s' is not an %s", g->src_str, fam);
	if (inet_pton(g->family, g->dst_str, v6 ? (void *)&g->dst6 : (void *)&g->dst4) != 1)
		die("destination '%s' is not an %s", g->dst_str, fam);
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

/* The i-th source address: SRCADDR + (i mod sources). */
static void source_addr(const struct gen *g, unsigned long i, void *out)
{
	uint32_t add = g->sources ? i % g->sources : 0;
	struct in6_addr a6 = g->src6;
	int b;

	if (g->family == AF_INET) {
		((struct in_addr *)out)->s_addr = htonl(ntohl(g->src4.s_addr) + add);
		return;
	}
	for (b = 15; b >= 0 && add; b--) {
		add += a6.s6_addr[b];
		a6.s6_addr[b] = add & 0xff;
		add >>= 8;
	}
	memcpy(out, &a6, sizeof(a6));
}

static void build_udp(struct gen *g, struct udphdr *udp, const void *src, const void *dst,
		      size_t addr_len)
{
	uint16_t ulen = sizeof(*udp) + g->size;
	uint16_t csum;
	uint32_t sum;

	udp->source = htons(g->sport);
	udp->dest = htons(g->dport);
	udp->len = htons(ulen);
	udp->check = 0;
	sum = sum16(src, addr_len, 0);
	sum = sum16(dst, addr_len, sum);
	sum += IPPROTO_UDP + ulen;
	csum = fold(sum16(udp, ulen, sum));
	udp->check = htons(csum ? csum : 0xffff);
}

static void build_ipv4(struct gen *g, unsigned long i)
{
	struct iphdr *ip = (struct iphdr *)g->pkt;

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->tot_len = htons(sizeof(*ip) + sizeof(struct udphdr) + g->size);
	ip->id = htons(i & 0xffff);
	ip->frag_off = htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	source_addr(g, i, &ip->saddr);
	ip->daddr = g->dst4.s_addr;
	ip->check = htons(fold(sum16(ip, sizeof(*ip), 0)));
	build_udp(g, (struct udphdr *)(ip + 1), &ip->saddr, &ip->daddr, 4);
}

static void build_ipv6(struct gen *g, unsigned long i)
{
	struct ip6_hdr *ip6 = (struct ip6_hdr *)g->pkt;

	memset(ip6, 0, sizeof(*ip6));
	ip6->ip6_flow = htonl(6u << 28);
	ip6->ip6_plen = htons(sizeof(struct udphdr) + g->size);
	ip6->ip6_nxt = IPPROTO_UDP;
	ip6->ip6_hlim = 64;
	source_addr(g, i, &ip6->ip6_src);
	ip6->ip6_dst = g->dst6;
	build_udp(g, (struct udphdr *)(ip6 + 1), &ip6->ip6_src, &ip6->ip6_dst, 16);
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

/*
 * Sleeps until packet i is due at the configured rate; with --no-late-sleep,
 * not at all when it is already due (now is the current time).
 */
static void pace(const struct gen *g, const struct timespec *start, const struct timespec *now,
		 unsigned long i)
{
	unsigned long long ns;
	struct timespec t = *start;

	if (!g->rate)
		return;
	ns = (unsigned long long)i * NSEC / g->rate + t.tv_nsec;
	t.tv_sec += ns / NSEC;
	t.tv_nsec = ns % NSEC;
	if (g->no_late_sleep &&
	    (now->tv_sec > t.tv_sec || (now->tv_sec == t.tv_sec && now->tv_nsec >= t.tv_nsec)))
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* Sends one packet, waiting out a full transmit queue. */
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

int main(int argc, char **argv)
{
	static struct gen g = { .family = AF_INET, .sport = ~0UL, .dport = ~0UL,
				.count = ~0UL, .size = 32 };
	struct sockaddr_in to4 = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6 };
	struct timespec start, now;
	unsigned long long t0, t1;
	unsigned long i;
	size_t hdr_len, len;
	int fd;

	parse_args(&g, argc, argv);
	parse_addrs(&g);
	hdr_len = g.family == AF_INET6 ? sizeof(struct ip6_hdr) : sizeof(struct iphdr);
	len = hdr_len + sizeof(struct udphdr) + g.size;
	memset(g.pkt + hdr_len + sizeof(struct udphdr), 'a', g.size);
	to4.sin_addr = g.dst4;
	to6.sin6_addr = g.dst6;
	fd = open_raw(g.family);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < g.count; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= MAX_SECONDS)
			break;
		pace(&g, &start, &now, i);
		if (g.family == AF_INET6) {
			build_ipv6(&g, i);
			send_one(fd, g.pkt, len, (struct sockaddr *)&to6, sizeof(to6));
		} else {
			build_ipv4(&g, i);
			send_one(fd, g.pkt, len, (struct sockaddr *)&to4, sizeof(to4));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	close(fd);
	if (g.report) {
		t0 = (unsigned long long)start.tv_sec * NSEC + start.tv_nsec;
		t1 = (unsigned long long)now.tv_sec * NSEC + now.tv_nsec;
		printf("sent %lu start_ns %llu end_ns %llu\n", i, t0, t1);
	} else {
		printf("sent %lu\n", i);
	}
	if (i < g.count) {
		fprintf(stderr, "udpgen: stopped after %d s with %lu of %lu sent\n", MAX_SECONDS,
			i, g.count);
		return 1;
	}
	return 0;
}
