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
 * whatever COUNT says (exit 1), or at SIGTERM or SIGINT (exit 0: a flood
 * as long as the samples taken under it). Prints "sent N"; with --report,
 * the line goes on with " start_ns T0 end_ns T1 stalled_ns S":
 * CLOCK_MONOTONIC (the clock XDP programs read with bpf_ktime_get_ns) just
 * before the first datagram and just after the last one was handed to the
 * kernel, and S the time the sender offered nothing: each wait between two
 * datagrams beyond the pace interval, summed over the waits that exceeded
 * it by STALL_MIN_NS. A budget saturated by this sender alone was not
 * saturated for that long; shorter waits are covered by a burst of
 * STALL_MIN_NS worth of tokens.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>

#include "rawudp.h"

#define MAX_SECONDS 60
#define MAX_PAYLOAD 65000
#define NSEC 1000000000ULL
#define STALL_MIN_NS 10000000ULL

struct gen {
	struct raw_addrs a;
	const char *src_str, *dst_str;
	unsigned long sport, dport, count, size, rate, sources;
	bool report, no_late_sleep;
	unsigned char pkt[sizeof(struct ip6_hdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
};

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
			g->a.family = AF_INET6;
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

static unsigned long long ts_ns(const struct timespec *t)
{
	return (unsigned long long)t->tv_sec * NSEC + t->tv_nsec;
}

/*
 * Sleeps until packet i is due at the configured rate; with --no-late-sleep,
 * not at all when it is already due (now is the current time). True when it
 * slept.
 */
static bool pace(const struct gen *g, const struct timespec *start, const struct timespec *now,
		 unsigned long i)
{
	unsigned long long ns;
	struct timespec t = *start;

	if (!g->rate)
		return false;
	ns = (unsigned long long)i * NSEC / g->rate + t.tv_nsec;
	t.tv_sec += ns / NSEC;
	t.tv_nsec = ns % NSEC;
	if (g->no_late_sleep &&
	    (now->tv_sec > t.tv_sec || (now->tv_sec == t.tv_sec && now->tv_nsec >= t.tv_nsec)))
		return false;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR &&
	       !stop_requested)
		;
	return true;
}

int main(int argc, char **argv)
{
	static struct gen g = {
		.a.family = AF_INET, .sport = ~0UL, .dport = ~0UL, .count = ~0UL, .size = 32
	};
	struct sockaddr_storage to;
	struct timespec start, now;
	unsigned long long t0, t1, sent_ns, prev_ns = 0, stalled_ns = 0;
	unsigned long long interval_ns;
	unsigned long i;
	socklen_t to_len;
	size_t len;
	int fd;

	stop_on_signals();
	raw_prog = "udpgen";
	parse_args(&g, argc, argv);
	parse_addrs(&g.a, g.src_str, g.dst_str);
	memset(g.pkt + raw_header_len(g.a.family) + sizeof(struct udphdr), 'a', g.size);
	fd = open_raw(&g.a, &to, &to_len);

	interval_ns = g.rate ? NSEC / g.rate : 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < g.count && !stop_requested; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= MAX_SECONDS)
			break;
		if (pace(&g, &start, &now, i))
			clock_gettime(CLOCK_MONOTONIC, &now);
		sent_ns = ts_ns(&now);
		if (i && sent_ns - prev_ns >= interval_ns + STALL_MIN_NS)
			stalled_ns += sent_ns - prev_ns - interval_ns;
		prev_ns = sent_ns;
		/* The i-th source: SRCADDR + (i mod sources). */
		len = build_datagram(g.pkt, &g.a, g.sources ? i % g.sources : 0, g.sport, g.dport,
				     g.size, i & 0xffff);
		send_one(fd, g.pkt, len, &to, to_len);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	close(fd);
	if (g.report) {
		t0 = ts_ns(&start);
		t1 = ts_ns(&now);
		printf("sent %lu start_ns %llu end_ns %llu stalled_ns %llu\n", i, t0, t1,
		       stalled_ns);
	} else {
		printf("sent %lu\n", i);
	}
	if (i < g.count && !stop_requested) {
		fprintf(stderr, "udpgen: stopped after %d s with %lu of %lu sent\n", MAX_SECONDS, i,
			g.count);
		return 1;
	}
	return 0;
}
