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
 * run sends the same sequence). --rate is required: the flood is paced at
 * PPS, each datagram at its due time, in small bursts only to catch up. A
 * run stops after 120 s whatever COUNT says, or at SIGTERM or SIGINT (a
 * flood as long as something else takes). Prints "sent N" when it stops,
 * and nothing before.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>

#include "rawudp.h"

#define MAX_SECONDS 120
#define MAX_PAYLOAD 1400
#define MAX_SPORTS 16
/* At most this many datagrams in one go when the sender fell behind. */
#define MAX_BURST 32

struct flood {
	struct raw_addrs a;
	const char *src_str, *dst_str;
	unsigned long count, size, rate, sources, seed;
	unsigned int sports[MAX_SPORTS], nr_sports;
	unsigned int dport_lo, dport_hi;
	uint64_t rng;
	unsigned char pkt[sizeof(struct ip6_hdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
};

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
			f->a.family = AF_INET6;
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
	if (!f->src_str || !f->dst_str || !f->nr_sports || !dports || f->count == ~0UL || !f->rate)
		die("-s, -d, --sport, --dport, -n and --rate are required");
}

/* xorshift64*: cheap, and the same sequence for the same seed. */
static uint32_t next_rand(struct flood *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (f->rng * 0x2545F4914F6CDD1DULL) >> 32;
}

/* Builds datagram i in f->pkt and returns its length. */
static size_t build(struct flood *f, unsigned long i)
{
	uint32_t n = f->sources > 1 ? next_rand(f) % f->sources : 0;
	uint16_t sport = f->sports[next_rand(f) % f->nr_sports];
	uint16_t dport = f->dport_lo + next_rand(f) % (f->dport_hi - f->dport_lo + 1);

	return build_datagram(f->pkt, &f->a, n, sport, dport, f->size, i & 0xffff);
}

/*
 * Sleeps until datagram i is due, i / rate s after start: one wakeup per
 * datagram at most, so that ten slow floods do not load an emulated
 * machine with wakeups. A signal ends the sleep early.
 */
static void sleep_until_due(const struct timespec *start, unsigned long i, unsigned long rate)
{
	unsigned long long ns = ((unsigned long long)i * 1000000000ULL + rate - 1) / rate;
	struct timespec due = {
		.tv_sec = start->tv_sec + ns / 1000000000ULL,
		.tv_nsec = start->tv_nsec + ns % 1000000000ULL,
	};

	if (due.tv_nsec >= 1000000000L) {
		due.tv_sec++;
		due.tv_nsec -= 1000000000L;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
}

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	static struct flood f = { .a.family = AF_INET, .count = ~0UL, .size = 32, .seed = 1 };
	struct sockaddr_storage to;
	struct timespec start;
	unsigned long i = 0, due, burst;
	socklen_t to_len;
	double t;
	size_t len;
	int fd;

	stop_on_signals();
	raw_prog = "udpflood";
	parse_args(&f, argc, argv);
	parse_addrs(&f.a, f.src_str, f.dst_str);
	f.rng = f.seed * 0x9E3779B97F4A7C15ULL + 1;
	memset(f.pkt, 'a', sizeof(f.pkt));
	fd = open_raw(&f.a, &to, &to_len);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (i < f.count && !stop_requested) {
		t = elapsed(&start);
		if (t >= MAX_SECONDS)
			break;
		due = (unsigned long)(t * f.rate) + 1;
		if (due > f.count)
			due = f.count;
		if (due <= i) {
			sleep_until_due(&start, i, f.rate);
			continue;
		}
		/* Behind schedule after a stall: catch up in small bursts only. */
		for (burst = 0; i < due && burst < MAX_BURST; burst++, i++) {
			len = build(&f, i);
			send_one(fd, f.pkt, len, &to, to_len);
		}
	}
	close(fd);
	printf("sent %lu\n", i);
	if (i < f.count && !stop_requested) {
		fprintf(stderr, "udpflood: stopped after %d s with %lu of %lu sent\n", MAX_SECONDS,
			i, f.count);
		return 1;
	}
	return 0;
}
