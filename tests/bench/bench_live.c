// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live-frame throughput of ampguard beside a bare XDP_DROP, xdp-filter,
 * nftables and iptables, on veth pairs in network namespaces that
 * scripts/bench.sh sets up (one namespace per contender, so a rule of one
 * never touches the frames of another).
 *
 * Frames are injected with BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES) with the protected veth as the ingress
 * interface: frames the program passes go up that interface's stack inside
 * the same call. The cost of a frame is the CPU time of the injecting
 * thread over the call divided by the frames: the XDP program, the
 * kernel's frame handling, and for passed frames the receive path up to
 * where the stack drops them. The kernel's own per-frame `duration`
 * (whole nanoseconds) is reported beside it.
 *
 * Every contender runs behind the same source-rotating front end
 * (bench_gen, loaded once per family); bench_portfilter is a
 * reference for the least a source-port classifier does. All rows of a
 * round run before any row of the next, so drift hits them alike; the
 * tables show medians with min-max over the rounds. Each row's frames are accounted
 * for: ampguard's counters by reason, the namespace's IP and L4 counters
 * (frames that must reach the stack did, frames that must not did not).
 *
 * Scaling: a few rows also run on two CPUs at once, each CPU its own
 * thread with its own test run of the same program and frame, started
 * together; their throughput together is compared with the same row's on
 * one CPU in the same round. The one-CPU rows run on one CPU as before:
 * the main thread pins itself there.
 *
 * Invariants: a row whose frames are not all accounted for is an error,
 * not a measurement (on two CPUs, the frames of both); the front end of a
 * family and source count is loaded once and shared by every row that
 * needs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"
#include "xdp_floor.skel.h"
#include "bench_gen.skel.h"
#include "bench_portfilter.skel.h"
#include "frames.h"
#include "fixture.h"

#define MAX_ROUNDS 31
#define DEFAULT_ROUNDS 9
#define BATCH 64
#define FRAME_LEN 64
#define ETH_LEN 14
/* Frames per row and round: 0.2-2 s each; the stack rows are the noisier. */
#define FRAMES_XDP 4000000
#define FRAMES_STACK 2000000
/* The largest source set, cycled at least a few times per round. */
#define MANY_SOURCES 1000000

/* The protected veth's addresses (scripts/bench.sh assigns them). */
#define LOCAL4 "198.51.100.1"
#define LOCAL6 "2001:db8::1"
/* The remote side before the front end rewrites it; for IPv6 it keeps the /96. */
#define REMOTE4 "192.0.2.2"
#define REMOTE6 "2001:db8:ffff::2"
/* A resolver that is not a source of any row: its request only marks a port in use. */
#define RESOLVER4 "192.0.2.53"
#define RESOLVER6 "2001:db8::53"

enum netns_role { NS_BASE, NS_NFT, NS_IPT, NS_IPT_LEGACY, NS_XDP_FILTER, NR_NS };

static const char *const role_names[NR_NS] = {
	[NS_BASE] = "base",
	[NS_NFT] = "nft",
	[NS_IPT] = "iptables",
	[NS_IPT_LEGACY] = "iptables-legacy",
	[NS_XDP_FILTER] = "xdp-filter",
};

struct netns {
	const char *name;
	int fd;
	int ifindex;
};

/*
 * T_AG_UNSAMPLED: the product program loaded with the destination sample
 * off; T_AG_NOCAPTURE: without the capture check (the program as it was
 * before capture). Both on the same maps as T_AMPGUARD.
 */
enum prog {
	T_DROP,
	T_PASS,
	T_AMPGUARD,
	T_AG_UNSAMPLED,
	T_AG_NOCAPTURE,
	T_XDP_FILTER,
	T_PORTFILTER,
	NR_TARGETS
};

enum traffic {
	TR_DNS_UNSOL,
	TR_DNS_SOL,
	TR_DNS_PORT,
	TR_WSD,
	TR_MEMC,
	TR_BENIGN,
	TR_TCP,
	NR_TRAFFIC,
};

struct traffic_spec {
	const char *label;
	__u8 proto;
	__u16 sport;
	__u16 dport;
};

static const struct traffic_spec traffic[NR_TRAFFIC] = {
	/* to a port this host sent no request from */
	[TR_DNS_UNSOL] = { "udp 53>40001", IPPROTO_UDP, 53, 40001 },
	/* the reply to the recorded request */
	[TR_DNS_SOL] = { "udp 53>40000", IPPROTO_UDP, 53, 40000 },
	/* to a port with a recent request, but to another server */
	[TR_DNS_PORT] = { "udp 53>40002", IPPROTO_UDP, 53, 40002 },
	[TR_WSD] = { "udp 3702>40001", IPPROTO_UDP, 3702, 40001 },
	[TR_MEMC] = { "udp 11211>40001", IPPROTO_UDP, 11211, 40001 },
	[TR_BENIGN] = { "udp 40000>53", IPPROTO_UDP, 40000, 53 },
	[TR_TCP] = { "tcp 443>40000 RST", IPPROTO_TCP, 443, 40000 },
};

/* Where a row's frames must end; checked against the namespace's counters. */
enum end {
	END_XDP,        /* dropped by the XDP program: the stack sees none */
	END_INGRESS,    /* passed, dropped by the netdev ingress hook: IP sees none */
	END_PREROUTING, /* passed, dropped in PREROUTING: IP sees all, L4 none */
	END_STACK,      /* passed up to L4, which finds no socket */
	END_MIXED,      /* ampguard's rate limiter: IP sees exactly what it passed */
};

static const char *const end_names[] = {
	[END_XDP] = "XDP",
	[END_INGRESS] = "ingress hook",
	[END_PREROUTING] = "PREROUTING",
	[END_STACK] = "L4 (no socket)",
	[END_MIXED] = "XDP (a few: stack)",
};

struct row {
	int family;
	const char *contender;
	const char *path;
	enum netns_role role;
	enum prog target;
	__u32 sources;
	enum traffic tr;
	enum end end;
	int reason;  /* ampguard: every frame counted under it; -1: not ampguard or mixed */
	int capture; /* a capture runs during the row: 1 in this many frames sampled */
	/* The rate limiter reads a constant instead of the clock: what the read costs. */
	bool fixed_clock;
	/* filled in */
	bool pair;                    /* also measured on two CPUs at once (scale_rows) */
	double pair_t[2][MAX_ROUNDS]; /* ns per frame on each CPU of the pair, by round */
	int prog_fd;
	struct frame frame;
	double t[MAX_ROUNDS]; /* ns per frame, by round */
	double duration[MAX_ROUNDS];
	__u64 injected;
	__u64 mix[AG_REASON__MAX]; /* ampguard rows: frames by reason, last round */
	bool skipped;
};

#define DROP_FLOOR "return XDP_DROP"
#define VECTOR_DROP "vector drop, no tracking (ws-discovery)"
#define TRACKED_DROP "unsolicited drop, tracking lookup (dns)"
#define PORT_DROP "unsolicited drop, tracking lookup, port in use (dns)"
#define UNSAMPLED_DROP "vector drop, destination sample off (ws-discovery)"
#define NOCAPTURE_DROP "vector drop, no capture check (ws-discovery)"
#define CAPTURE_DROP "vector drop, capture on, 1 in 1000 (ws-discovery)"
#define CAPTURE_SAMPLE 1000
#define RL_1M "rate-limit, 1M sources (memcached)"
#define RL_1M_FIXED "rate-limit, 1M sources, no clock read (memcached)"
#define PASS_FLOOR "return XDP_PASS, no rule"
/* tests/bench/bpf/bench_portfilter.bpf.c: what any source-port classifier must do */
#define PORTFILTER "src port drop: parse to UDP, 1 array lookup, 1 counter"

#define AG4(path, tr, end, reason)                                           \
	{                                                                    \
		4, "ampguard", path, NS_BASE, T_AMPGUARD, 1, tr, end, reason \
	}
#define AG6(path, tr, end, reason)                                           \
	{                                                                    \
		6, "ampguard", path, NS_BASE, T_AMPGUARD, 1, tr, end, reason \
	}

static struct row rows[] = {
	{ 4, "floor", DROP_FLOOR, NS_BASE, T_DROP, 1, TR_DNS_UNSOL, END_XDP, -1 },
	AG4(VECTOR_DROP, TR_WSD, END_XDP, AG_R_POLICY_DROP),
	{ 4, "ampguard", UNSAMPLED_DROP, NS_BASE, T_AG_UNSAMPLED, 1, TR_WSD, END_XDP,
	  AG_R_POLICY_DROP },
	{ 4, "ampguard", NOCAPTURE_DROP, NS_BASE, T_AG_NOCAPTURE, 1, TR_WSD, END_XDP,
	  AG_R_POLICY_DROP },
	{ 4, "ampguard", CAPTURE_DROP, NS_BASE, T_AMPGUARD, 1, TR_WSD, END_XDP, AG_R_POLICY_DROP,
	  CAPTURE_SAMPLE },
	AG4(TRACKED_DROP, TR_DNS_UNSOL, END_XDP, AG_R_POLICY_DROP),
	AG4(PORT_DROP, TR_DNS_PORT, END_XDP, AG_R_POLICY_DROP),
	AG4("rate-limit, 1 source (memcached)", TR_MEMC, END_MIXED, -1),
	{ 4, "ampguard", "rate-limit, 1k sources (memcached)", NS_BASE, T_AMPGUARD, 1000, TR_MEMC,
	  END_MIXED, -1 },
	{ 4, "ampguard", RL_1M, NS_BASE, T_AMPGUARD, MANY_SOURCES, TR_MEMC, END_MIXED, -1 },
	{ 4, "ampguard", RL_1M_FIXED, NS_BASE, T_AMPGUARD, MANY_SOURCES, TR_MEMC, END_MIXED, -1, 0,
	  true },
	{ 4, "xdp-filter", "src port 53 drop", NS_XDP_FILTER, T_XDP_FILTER, 1, TR_DNS_UNSOL,
	  END_XDP, -1 },
	{ 4, "reference", PORTFILTER, NS_BASE, T_PORTFILTER, 1, TR_WSD, END_XDP, -1 },
	{ 4, "floor", PASS_FLOOR, NS_BASE, T_PASS, 1, TR_DNS_UNSOL, END_STACK, -1 },
	AG4("non-vector UDP pass", TR_BENIGN, END_STACK, AG_R_NO_VECTOR),
	AG4("solicited pass (dns, tracked request)", TR_DNS_SOL, END_STACK, AG_R_SOLICITED),
	{ 4, "nftables", "XDP_PASS + netdev ingress drop", NS_NFT, T_PASS, 1, TR_DNS_UNSOL,
	  END_INGRESS, -1 },
	{ 4, "iptables (nft)", "XDP_PASS + raw PREROUTING drop", NS_IPT, T_PASS, 1, TR_DNS_UNSOL,
	  END_PREROUTING, -1 },
	{ 4, "iptables-legacy", "XDP_PASS + raw PREROUTING drop", NS_IPT_LEGACY, T_PASS, 1,
	  TR_DNS_UNSOL, END_PREROUTING, -1 },
	{ 4, "floor", PASS_FLOOR, NS_BASE, T_PASS, 1, TR_TCP, END_STACK, -1 },
	AG4("TCP pass", TR_TCP, END_STACK, AG_R_NOT_UDP),

	{ 6, "floor", DROP_FLOOR, NS_BASE, T_DROP, 1, TR_DNS_UNSOL, END_XDP, -1 },
	AG6(VECTOR_DROP, TR_WSD, END_XDP, AG_R_POLICY_DROP),
	{ 6, "ampguard", UNSAMPLED_DROP, NS_BASE, T_AG_UNSAMPLED, 1, TR_WSD, END_XDP,
	  AG_R_POLICY_DROP },
	{ 6, "ampguard", NOCAPTURE_DROP, NS_BASE, T_AG_NOCAPTURE, 1, TR_WSD, END_XDP,
	  AG_R_POLICY_DROP },
	{ 6, "ampguard", CAPTURE_DROP, NS_BASE, T_AMPGUARD, 1, TR_WSD, END_XDP, AG_R_POLICY_DROP,
	  CAPTURE_SAMPLE },
	AG6(TRACKED_DROP, TR_DNS_UNSOL, END_XDP, AG_R_POLICY_DROP),
	AG6(PORT_DROP, TR_DNS_PORT, END_XDP, AG_R_POLICY_DROP),
	{ 6, "ampguard", RL_1M, NS_BASE, T_AMPGUARD, MANY_SOURCES, TR_MEMC, END_MIXED, -1 },
	{ 6, "ampguard", RL_1M_FIXED, NS_BASE, T_AMPGUARD, MANY_SOURCES, TR_MEMC, END_MIXED, -1, 0,
	  true },
	{ 6, "xdp-filter", "src port 53 drop", NS_XDP_FILTER, T_XDP_FILTER, 1, TR_DNS_UNSOL,
	  END_XDP, -1 },
	{ 6, "reference", PORTFILTER, NS_BASE, T_PORTFILTER, 1, TR_WSD, END_XDP, -1 },
	{ 6, "floor", PASS_FLOOR, NS_BASE, T_PASS, 1, TR_DNS_UNSOL, END_STACK, -1 },
	AG6("non-vector UDP pass", TR_BENIGN, END_STACK, AG_R_NO_VECTOR),
	AG6("solicited pass (dns, tracked request)", TR_DNS_SOL, END_STACK, AG_R_SOLICITED),
	{ 6, "nftables", "XDP_PASS + netdev ingress drop", NS_NFT, T_PASS, 1, TR_DNS_UNSOL,
	  END_INGRESS, -1 },
	{ 6, "ip6tables (nft)", "XDP_PASS + raw PREROUTING drop", NS_IPT, T_PASS, 1, TR_DNS_UNSOL,
	  END_PREROUTING, -1 },
	{ 6, "ip6tables-legacy", "XDP_PASS + raw PREROUTING drop", NS_IPT_LEGACY, T_PASS, 1,
	  TR_DNS_UNSOL, END_PREROUTING, -1 },
};

#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))

/* A row by what tells it apart: its family, contender, path and frame. */
struct row_ref {
	int family;
	const char *contender;
	const char *path;
	enum traffic tr;
};

/*
 * The rows also run on two CPUs at once: every ampguard path a flood
 * takes (the rate limiter's shared buckets included), with the floor and
 * xdp-filter beside them, and the passes to tell ampguard's scaling from
 * the stack's.
 */
static const struct row_ref scale_rows[] = {
	{ 4, "floor", DROP_FLOOR, TR_DNS_UNSOL },
	{ 4, "ampguard", VECTOR_DROP, TR_WSD },
	{ 4, "ampguard", TRACKED_DROP, TR_DNS_UNSOL },
	{ 4, "ampguard", PORT_DROP, TR_DNS_PORT },
	{ 4, "ampguard", "rate-limit, 1 source (memcached)", TR_MEMC },
	{ 4, "ampguard", RL_1M, TR_MEMC },
	{ 4, "xdp-filter", "src port 53 drop", TR_DNS_UNSOL },
	{ 4, "floor", PASS_FLOOR, TR_DNS_UNSOL },
	{ 4, "ampguard", "non-vector UDP pass", TR_BENIGN },
	{ 6, "ampguard", RL_1M, TR_MEMC },
};

/* What two CPUs at once must reach, as a multiple of one CPU's throughput. */
#define SCALING_GOAL 1.8

/* One front end per (family, program under test, source count). */
struct front {
	int family;
	int target_fd;
	__u32 sources;
	struct bench_gen *gen;
	int fd;
};

/* At most one per row. */
#define MAX_FRONTS NR_ROWS

static struct {
	struct netns ns[NR_NS];
	const char *dev;
	int rounds;
	double scale;
	const char *counts_path;
	const char *only; /* run only the rows whose name contains one of these ('|') */
	int cpu;          /* the one-CPU rows' CPU, -1: not pinned */
	int pair_cpu;     /* the other CPU of the two-CPU rows, -1: none run */
	double overlap;   /* the least share of a two-CPU run both CPUs spent injecting */
	int target_fd[NR_TARGETS];
	char xdp_filter_name[BPF_OBJ_NAME_LEN];
	struct ampguard_xdp *ag;
	struct ampguard_xdp *ag_unsampled;
	struct ampguard_xdp *ag_nocapture;
	struct perf_buffer *capture_pb;
	pthread_t capture_reader;
	volatile int capture_stop;
	struct ampguard_tc *tc;
	struct xdp_floor *floor;
	struct bench_portfilter *portfilter;
	struct front fronts[MAX_FRONTS];
	int nr_fronts;
	__u8 remote[2][16]; /* [family == 6]: the source the front end writes for one source */
} bench = { .dev = "agp",
	    .rounds = DEFAULT_ROUNDS,
	    .scale = 1.0,
	    .cpu = -1,
	    .pair_cpu = -1,
	    .overlap = 1.0 };

static int fam_idx(int family)
{
	return family == 6;
}

/* ---- frames ---- */

static __u32 csum_add(__u32 sum, const void *data, size_t len)
{
	const __u8 *b = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static size_t addr_len(int family)
{
	return family == 6 ? 16 : 4;
}

static __u8 *frame_saddr(struct frame *f, int family)
{
	__u8 *l3 = f->data + f->l3_off;

	return family == 6 ? (__u8 *)&((struct ipv6hdr *)l3)->saddr :
			     (__u8 *)&((struct iphdr *)l3)->saddr;
}

static __u8 *frame_daddr(struct frame *f, int family)
{
	__u8 *l3 = f->data + f->l3_off;

	return family == 6 ? (__u8 *)&((struct ipv6hdr *)l3)->daddr :
			     (__u8 *)&((struct iphdr *)l3)->daddr;
}

/* Valid IPv4 header and L4 checksums, so the stack takes passed frames in. */
static void frame_checksums(struct frame *f, int family, __u8 proto)
{
	__u8 *l4 = f->data + f->l4_off, *l3 = f->data + f->l3_off;
	size_t l4_len;
	__u16 *check;
	__u32 sum;

	if (family == 4) {
		struct iphdr *ip = (struct iphdr *)l3;

		ip->check = 0;
		ip->check = csum_fold(csum_add(0, ip, ip->ihl * 4));
		l4_len = ntohs(ip->tot_len) - ip->ihl * 4;
	} else {
		l4_len = ntohs(((struct ipv6hdr *)l3)->payload_len);
	}
	check = proto == IPPROTO_TCP ? &((struct tcphdr *)l4)->check :
				       &((struct udphdr *)l4)->check;
	*check = 0;
	sum = csum_add(0, frame_saddr(f, family), addr_len(family));
	sum = csum_add(sum, frame_daddr(f, family), addr_len(family));
	sum += proto + l4_len;
	*check = csum_fold(csum_add(sum, l4, l4_len));
	if (proto == IPPROTO_UDP && !*check)
		*check = 0xffff;
}

/*
 * A 64-byte frame of the given traffic, from remote to local (or the
 * other way for an outgoing request), with valid checksums.
 */
static void frame_make(struct frame *f, int family, const struct traffic_spec *t,
		       const __u8 *remote, bool outgoing)
{
	size_t hdrs = ETH_LEN + (family == 6 ? 40 : 20) + (t->proto == IPPROTO_TCP ? 20 : 8);
	struct frame_spec s = { .ipv6 = family == 6,
				.l4 = t->proto,
				.sport = t->sport,
				.dport = t->dport,
				.payload = FRAME_LEN - (int)hdrs };
	__u8 local[16];

	frame_build(&s, f);
	inet_pton(family == 6 ? AF_INET6 : AF_INET, family == 6 ? LOCAL6 : LOCAL4, local);
	memcpy(frame_saddr(f, family), outgoing ? local : remote, addr_len(family));
	memcpy(frame_daddr(f, family), outgoing ? remote : local, addr_len(family));
	if (t->proto == IPPROTO_TCP) {
		/* A reset to a closed port: the stack takes it in and answers nothing. */
		struct tcphdr *th = (struct tcphdr *)(f->data + f->l4_off);

		th->syn = 0;
		th->rst = 1;
	}
	frame_checksums(f, family, t->proto);
}

/* ---- programs ---- */

static struct front *front_find(int family, int target_fd, __u32 sources)
{
	int i;

	for (i = 0; i < bench.nr_fronts; i++) {
		struct front *fe = &bench.fronts[i];

		if (fe->family == family && fe->target_fd == target_fd && fe->sources == sources)
			return fe;
	}
	return NULL;
}

/* Loads the front end for fe's family and sources; its target map's fd or negative errno. */
static int front_load(struct front *fe)
{
	fe->gen = bench_gen__open();
	if (!fe->gen)
		return -errno;
	fe->gen->rodata->nr_sources = fe->sources;
	fe->gen->rodata->ipv6 = fe->family == 6;
	if (bench_gen__load(fe->gen))
		return -errno;
	fe->fd = bpf_program__fd(fe->gen->progs.bench_gen);
	return bpf_map__fd(fe->gen->maps.target);
}

/* The front end's program fd, loading it on first use; negative errno on failure. */
static int front_fd(int family, int target_fd, __u32 sources)
{
	struct front *fe = front_find(family, target_fd, sources);
	__u32 zero = 0;
	int map_fd;

	if (fe)
		return fe->fd;
	if (bench.nr_fronts == MAX_FRONTS)
		return -ENOSPC;
	fe = &bench.fronts[bench.nr_fronts++];
	*fe = (struct front){ .family = family, .target_fd = target_fd, .sources = sources };
	map_fd = front_load(fe);
	if (map_fd < 0)
		return map_fd;
	if (bpf_map_update_elem(map_fd, &zero, &target_fd, 0))
		return -errno;
	return fe->fd;
}

static void fronts_destroy(void)
{
	int i;

	for (i = 0; i < bench.nr_fronts; i++)
		bench_gen__destroy(bench.fronts[i].gen);
}

static int enter_ns(enum netns_role role)
{
	if (setns(bench.ns[role].fd, CLONE_NEWNET))
		return -errno;
	return 0;
}

/* The source a single-source front end writes, read back from a frame it passed. */
static int learn_remote(int family)
{
	struct frame in, out;
	struct fixture_run run = { .data = in.data, .out = out.data, .out_size = sizeof(out.data) };
	__u8 remote[16];
	int fd, err;

	inet_pton(family == 6 ? AF_INET6 : AF_INET, family == 6 ? REMOTE6 : REMOTE4, remote);
	frame_make(&in, family, &traffic[TR_DNS_UNSOL], remote, false);
	run.len = in.len;
	fd = front_fd(family, bench.target_fd[T_PASS], 1);
	if (fd < 0)
		return fd;
	err = fixture_run(fd, &run);
	if (err)
		return err;
	if (run.retval != XDP_PASS)
		return -EPROTO;
	out.l3_off = in.l3_off;
	memcpy(bench.remote[fam_idx(family)], frame_saddr(&out, family), addr_len(family));
	return 0;
}

/*
 * ampguard's policy for the run: ws-discovery dropped without tracking;
 * dns dropped unless solicited, tracked for an hour so the recorded
 * request outlives the run; memcached rate-limited (per source 100 pps,
 * aggregate 10 kpps, so a flood is almost all dropped and the few admitted
 * frames barely touch the stack).
 */
static int ampguard_policy(struct ampguard_xdp *ag)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_policy *memc;
	struct ag_state st;
	int err;

	ag_state_from_obj(&st, ag->obj);
	err = ag_state_init_maps(&st);
	if (err)
		return err;
	ag_policy_defaults(tbl);
	tbl[ag_builtin_slot("ws-discovery")].track_timeout_ms = 0;
	tbl[ag_builtin_slot("dns")].action = AG_ACT_DROP;
	tbl[ag_builtin_slot("dns")].track_timeout_ms = 3600000;
	memc = &tbl[ag_builtin_slot("memcached")];
	memc->action = AG_ACT_RATELIMIT;
	ag_rate_set(&memc->agg_pps, 10000, 0, false);
	ag_rate_set(&memc->src_pps, 100, 0, false);
	err = ag_policy_commit(&st, tbl);
	if (err)
		return err;
	err = ag_state_share(&st, bench.tc->obj);
	return err ? err : ag_tc_load(bench.tc, fixture_kernel());
}

/* A DNS request this host sends to remote, from local port sport. */
static int ampguard_request(int family, const __u8 *remote, __u16 sport)
{
	const struct traffic_spec req = { "", IPPROTO_UDP, sport, 53 };
	struct frame f;
	struct fixture_run run = { .data = f.data };
	int err;

	frame_make(&f, family, &req, remote, true);
	run.len = f.len;
	err = fixture_run(bpf_program__fd(bench.tc->progs.ampguard_tc_egress), &run);
	if (err)
		return err;
	return run.retval == TC_ACT_OK ? 0 : -EPROTO;
}

/*
 * The requests the solicited rows answer (to the front end's source, from
 * the port the solicited frames go to), and one to another server that
 * puts the port-in-use rows' port in use.
 */
static int ampguard_requests(int family)
{
	__u8 resolver[16];

	inet_pton(family == 6 ? AF_INET6 : AF_INET, family == 6 ? RESOLVER6 : RESOLVER4, resolver);
	return ampguard_request(family, bench.remote[fam_idx(family)], traffic[TR_DNS_SOL].dport) ?:
		       ampguard_request(family, resolver, traffic[TR_DNS_PORT].dport);
}

/* xdp-filter's program, as attached to its namespace's veth by xdp-filter itself. */
static int xdp_filter_fd(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	err = enter_ns(NS_XDP_FILTER);
	if (err)
		return err;
	if (bpf_xdp_query(bench.ns[NS_XDP_FILTER].ifindex, 0, &q))
		return -errno;
	if (!q.prog_id)
		return -ENOENT;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	snprintf(bench.xdp_filter_name, sizeof(bench.xdp_filter_name), "%s", info.name);
	return fd;
}

/* The reference filter drops what ampguard's drop rows send. */
static int portfilter_ports(struct bench_portfilter *pf)
{
	static const __u32 ports[] = { 53, 3702 };
	__u8 one = 1;
	unsigned int i;

	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (bpf_map_update_elem(bpf_map__fd(pf->maps.drop_port), &ports[i], &one, 0))
			return -errno;
	return 0;
}

/* The product program again, without the destination sample or the capture check, on the first one's maps. */
static struct ampguard_xdp *variant_load(const struct ag_state *loaded, bool unsampled,
					 bool nocapture)
{
	struct ampguard_xdp *ag = ag_xdp_open(fixture_kernel());
	int err;

	if (!ag)
		return NULL;
	ag->rodata->dst_sample_off = unsampled;
	ag->rodata->capture_compiled_out = nocapture;
	err = ag_state_share(loaded, ag->obj)                                                ?:
		      bpf_map__reuse_fd(ag->maps.stats, bpf_map__fd(bench.ag->maps.stats))   ?:
		      bpf_map__reuse_fd(ag->maps.ifinfo, bpf_map__fd(bench.ag->maps.ifinfo)) ?:
		      ag_xdp_load(ag, fixture_kernel());
	if (err) {
		ampguard_xdp__destroy(ag);
		errno = -err;
		return NULL;
	}
	return ag;
}

/* ---- capture rows: a real reader drains what the sampled row hands over ---- */

static void capture_discard(void *arg, int cpu, void *data, __u32 size)
{
	(void)arg, (void)cpu, (void)data, (void)size;
}

static void *capture_read(void *arg)
{
	(void)arg;
	while (!bench.capture_stop)
		perf_buffer__poll(bench.capture_pb, 100);
	return NULL;
}

static int capture_reader_start(void)
{
	int fd = bpf_map__fd(bench.ag->maps.capture_events);

	bench.capture_pb = perf_buffer__new(fd, 64, capture_discard, NULL, NULL, NULL);
	if (!bench.capture_pb)
		return -errno;
	return -pthread_create(&bench.capture_reader, NULL, capture_read, NULL);
}

static void capture_reader_stop(void)
{
	if (!bench.capture_pb)
		return;
	bench.capture_stop = 1;
	pthread_join(bench.capture_reader, NULL);
	perf_buffer__free(bench.capture_pb);
	bench.capture_pb = NULL;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* A capture of every frame's reason and vector, 1 in sample, no rate cap; 0: off. */
static int capture_set(unsigned int sample)
{
	struct ag_capture c = { .vectors = ~0ULL,
				.reasons = ~0U,
				.sample = sample,
				.snaplen = 256,
				.owner = getpid() };
	struct ag_capture_bucket b = { .inc_ns = 1, .tol_ns = 1000000000ULL };
	struct ag_state st;
	__u32 zero = 0;

	if (sample)
		c.until_ns = clock_ns(CLOCK_MONOTONIC) + 3600000000000ULL;
	ag_state_from_obj(&st, bench.ag->obj);
	if (bpf_map_update_elem(st.capture_bucket_fd, &zero, &b, 0))
		return -errno;
	return ag_capture_set(&st, &c);
}

/*
 * With on, the rate limiter's clock stands still at the current time (its
 * test override): the buckets run dry and every frame takes the aggregate
 * drop, the path of a flood, without the clock read.
 */
static int clock_fix(bool on)
{
	bench.ag->bss->clock_override_ns = on ? clock_ns(CLOCK_MONOTONIC) : 0;
	return 0;
}

static int programs_load(void)
{
	struct ag_state loaded;
	int err;

	bench.ag = fixture_xdp(&loaded);
	bench.ag_unsampled = variant_load(&loaded, true, false);
	bench.ag_nocapture = variant_load(&loaded, false, true);
	bench.tc = ag_tc_open(fixture_kernel());
	bench.floor = xdp_floor__open_and_load();
	bench.portfilter = bench_portfilter__open_and_load();
	if (!bench.ag || !bench.ag_unsampled || !bench.ag_nocapture || !bench.tc || !bench.floor ||
	    !bench.portfilter)
		return -errno;
	err = portfilter_ports(bench.portfilter);
	if (err)
		return err;
	bench.target_fd[T_DROP] = bpf_program__fd(bench.floor->progs.xdp_drop_all);
	bench.target_fd[T_PASS] = bpf_program__fd(bench.floor->progs.xdp_pass_all);
	bench.target_fd[T_AMPGUARD] = bpf_program__fd(bench.ag->progs.ampguard_xdp);
	bench.target_fd[T_AG_UNSAMPLED] = bpf_program__fd(bench.ag_unsampled->progs.ampguard_xdp);
	bench.target_fd[T_AG_NOCAPTURE] = bpf_program__fd(bench.ag_nocapture->progs.ampguard_xdp);
	bench.target_fd[T_PORTFILTER] = bpf_program__fd(bench.portfilter->progs.bench_portfilter);
	bench.target_fd[T_XDP_FILTER] = -1;
	if (bench.ns[NS_XDP_FILTER].name) {
		bench.target_fd[T_XDP_FILTER] = xdp_filter_fd();
		if (bench.target_fd[T_XDP_FILTER] < 0)
			return bench.target_fd[T_XDP_FILTER];
	}
	err = capture_reader_start();
	return err ?: ampguard_policy(bench.ag);
}

static void programs_destroy(void)
{
	fronts_destroy();
	ampguard_tc__destroy(bench.tc);
	capture_reader_stop();
	ampguard_xdp__destroy(bench.ag_nocapture);
	ampguard_xdp__destroy(bench.ag_unsampled);
	ampguard_xdp__destroy(bench.ag);
	xdp_floor__destroy(bench.floor);
	bench_portfilter__destroy(bench.portfilter);
}

/* ---- counters ---- */

struct snap {
	__u64 ip_in; /* IP datagrams received (InReceives) */
	__u64 l4;    /* UDP NoPorts or TCP InSegs: frames that got to L4 */
	struct ag_counter ag[AG_NR_STATS];
};

/* A field of a /proc/net/snmp table ("Ip:" header line, then values). */
static int snmp_field(const char *table, const char *field, __u64 *out)
{
	char head[4096], vals[4096], *hs, *vs, *h, *v;
	size_t tlen = strlen(table);
	FILE *f = fopen("/proc/self/net/snmp", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(head, table, tlen) || head[tlen] != ':')
			continue;
		h = strtok_r(head + tlen + 1, " \n", &hs);
		v = strtok_r(vals + tlen + 1, " \n", &vs);
		for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs)) {
			if (!strcmp(h, field)) {
				*out = strtoull(v, NULL, 10);
				err = 0;
			}
		}
		break;
	}
	fclose(f);
	return err;
}

/* A counter of an snmp6 file ("Name value" lines) under /proc/self/net. */
static int snmp6_field(const char *file, const char *field, __u64 *out)
{
	char path[PATH_MAX], name[128];
	unsigned long long v;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fscanf(f, "%127s %llu", name, &v) == 2) {
		if (!strcmp(name, field)) {
			*out = v;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int snap_take(const struct row *r, struct snap *s)
{
	bool tcp = traffic[r->tr].proto == IPPROTO_TCP;
	int err;

	if (r->family == 4) {
		err = snmp_field("Ip", "InReceives", &s->ip_in) ?:
			      snmp_field(tcp ? "Tcp" : "Udp", tcp ? "InSegs" : "NoPorts", &s->l4);
	} else {
		/* The veth's own IPv6 counters: the peer's link-local chatter
		 * (MLD, solicitations) lands in the namespace-wide ones. */
		char dev[PATH_MAX];

		snprintf(dev, sizeof(dev), "dev_snmp6/%s", bench.dev);
		err = snmp6_field(dev, "Ip6InReceives", &s->ip_in) ?:
			      tcp ? snmp_field("Tcp", "InSegs", &s->l4) /* both families */
				    :
				    snmp6_field("snmp6", "Udp6NoPorts", &s->l4);
	}
	if (err ||
	    (r->target != T_AMPGUARD && r->target != T_AG_UNSAMPLED && r->target != T_AG_NOCAPTURE))
		return err;
	return ag_stats_read(bpf_map__fd(bench.ag->maps.stats), s->ag);
}

/* Frames ampguard counted under reason between two snapshots, any vector. */
static __u64 ag_delta(const struct snap *a, const struct snap *b, int reason)
{
	__u64 n = 0;
	int vec;

	for (vec = 0; vec < AG_MAX_VECTORS; vec++) {
		const struct ag_counter *x = &a->ag[AG_STATS_IDX(vec, reason)];
		const struct ag_counter *y = &b->ag[AG_STATS_IDX(vec, reason)];

		n += y->packets - x->packets;
	}
	return n;
}

static __u64 ag_passed(const struct snap *a, const struct snap *b)
{
	__u64 n = 0;
	int reason;

	for (reason = 0; reason < AG_REASON__MAX; reason++)
		if (!ag_reason_drops(reason))
			n += ag_delta(a, b, reason);
	return n;
}

/* Did every frame of the row end where it must? */
static int row_verify(const struct row *r, const struct snap *a, const struct snap *b, __u64 n,
		      __u64 *mix)
{
	__u64 ip = b->ip_in - a->ip_in, l4 = b->l4 - a->l4, want_ip = 0, want_l4 = 0;
	int reason;

	if (r->end == END_PREROUTING || r->end == END_STACK)
		want_ip = n;
	if (r->end == END_STACK)
		want_l4 = n;
	if (r->target == T_AMPGUARD || r->target == T_AG_UNSAMPLED || r->target == T_AG_NOCAPTURE) {
		for (reason = 0; reason < AG_REASON__MAX; reason++)
			mix[reason] = ag_delta(a, b, reason);
		if (r->reason >= 0 && mix[r->reason] != n) {
			fprintf(stderr, "%s: ampguard counted %llu of %llu frames as %s\n", r->path,
				(unsigned long long)mix[r->reason], (unsigned long long)n,
				ag_reason_name(r->reason));
			return -EPROTO;
		}
		/* The rate limiter admits a few; rotated sources leave stale checksums
		 * on those, so only IP's count is certain. */
		if (r->end == END_MIXED)
			want_ip = ag_passed(a, b);
	}
	if (ip != want_ip || (r->end != END_MIXED && l4 != want_l4)) {
		fprintf(stderr,
			"IPv%d %s %s: %llu frames, the stack took in %llu (want %llu), "
			"L4 saw %llu (want %llu)\n",
			r->family, r->contender, r->path, (unsigned long long)n,
			(unsigned long long)ip, (unsigned long long)want_ip, (unsigned long long)l4,
			(unsigned long long)want_l4);
		return -EPROTO;
	}
	return 0;
}

/* ---- measuring ---- */

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

/* Injects n copies of the row's frame into its namespace's veth. */
static int inject(const struct row *r, __u32 n, double *ns, double *duration)
{
	struct xdp_md ctx = { .data_end = r->frame.len,
			      .ingress_ifindex = bench.ns[r->role].ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->frame.data, .data_size_in = r->frame.len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = BATCH);
	__u64 t0, t1;
	int err;

	t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	err = bpf_prog_test_run_opts(r->prog_fd, &opts);
	t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (err)
		return -errno;
	*ns = (double)(t1 - t0) / n;
	*duration = opts.duration;
	return 0;
}

static __u32 frames_for(enum end end, __u32 sources)
{
	double n = end == END_XDP || end == END_MIXED ? FRAMES_XDP : FRAMES_STACK;

	n *= bench.scale;
	if (sources == MANY_SOURCES && n < 2.0 * MANY_SOURCES)
		n = 2.0 * MANY_SOURCES;
	return n < BATCH ? BATCH : (__u32)n;
}

static __u32 row_frames(const struct row *r)
{
	return frames_for(r->end, r->sources);
}

static int row_run(struct row *r, int round, __u32 n)
{
	struct snap *a = calloc(2, sizeof(*a)), *b;
	double ns = 0, dur = 0;
	int err;

	if (!a)
		return -ENOMEM;
	b = a + 1;
	err = enter_ns(r->role)                 ?:
		      capture_set(r->capture)   ?:
		      clock_fix(r->fixed_clock) ?:
		      snap_take(r, a)           ?:
		      inject(r, n, &ns, &dur)   ?:
		      snap_take(r, b)           ?:
		      clock_fix(false)          ?:
		      capture_set(0)            ?:
						  row_verify(r, a, b, n, r->mix);
	free(a);
	if (err)
		return err;
	r->injected += n;
	if (round < 0)
		return 0;
	r->t[round] = ns;
	r->duration[round] = dur;
	if (getenv("BENCH_VERBOSE"))
		fprintf(stderr, "IPv%d %-16s %-44s cpu %7.1f duration %5.0f ns\n", r->family,
			r->contender, r->path, ns, dur);
	return 0;
}

/* One CPU of a two-CPU run: its own thread, namespace and test run. */
struct pair_worker {
	const struct row *r;
	__u32 n;
	pthread_barrier_t *start;
	const bool *abort; /* set before the barrier when the other thread did not start */
	double ns, duration;
	double begin, end; /* wall clock around the call, to check that the two overlapped */
	int err;
};

static void *pair_work(void *arg)
{
	struct pair_worker *w = arg;
	/* setns() moves the calling thread only */
	int err = enter_ns(w->r->role);

	/* Waits even after an error, or the other thread would wait forever. */
	pthread_barrier_wait(w->start);
	if (!err && !*w->abort) {
		w->begin = (double)clock_ns(CLOCK_MONOTONIC);
		err = inject(w->r, w->n, &w->ns, &w->duration);
		w->end = (double)clock_ns(CLOCK_MONOTONIC);
	}
	w->err = err;
	return NULL;
}

/*
 * Starts the second CPU of the pair half-way through the front end's
 * source set (its cursor is per CPU): otherwise both would write the same
 * sources in lockstep, and a per-source table would see two CPUs update
 * the same entry at once, which a real flood spread over CPUs does not do.
 */
static int cursor_seed(const struct row *r)
{
	const struct front *fe = front_find(r->family, bench.target_fd[r->target], r->sources);
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 zero = 0, *v;

	if (!fe || ncpu <= bench.cpu || ncpu <= bench.pair_cpu)
		return -EINVAL;
	/* a per-CPU map's values, each rounded up to 8 bytes */
	v = calloc(ncpu, 2 * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[2 * bench.cpu] = r->sources / 2;
	if (bpf_map_update_elem(bpf_map__fd(fe->gen->maps.cursor), &zero, v, 0))
		err = -errno;
	free(v);
	return err;
}

static int pair_start(pthread_t *t, struct pair_worker *w, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_attr_init(&attr);
	if (err)
		return -err;
	err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set) ?:
		      pthread_create(t, &attr, pair_work, w);
	pthread_attr_destroy(&attr);
	return -err;
}

/*
 * The row on both CPUs at once, n frames each, checked like row_run()
 * checks one CPU's (the counters are per CPU and summed, so the check
 * covers both threads' frames).
 */
static int pair_run(struct row *r, int round, __u32 n)
{
	struct snap *a = calloc(2, sizeof(*a)), *b;
	const int cpus[2] = { bench.pair_cpu, bench.cpu };
	struct pair_worker w[2];
	__u64 mix[AG_REASON__MAX];
	pthread_barrier_t start;
	pthread_t t[2];
	bool abort = false;
	double over, longest;
	int i, started = 0, err;

	if (!a)
		return -ENOMEM;
	b = a + 1;
	err = -pthread_barrier_init(&start, NULL, 2);
	if (err) {
		free(a);
		return err;
	}
	for (i = 0; i < 2; i++)
		w[i] = (struct pair_worker){ .r = r, .n = n, .start = &start, .abort = &abort };
	err = enter_ns(r->role) ?: cursor_seed(r) ?: snap_take(r, a);
	for (i = 0; !err && i < 2; i++) {
		err = pair_start(&t[i], &w[i], cpus[i]);
		started += !err;
	}
	/* The first thread waits at the barrier: take the second's place there. */
	if (started == 1) {
		abort = true;
		pthread_barrier_wait(&start);
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	if (!err)
		err = w[0].err ?: w[1].err ?: snap_take(r, b) ?: row_verify(r, a, b, 2ULL * n, mix);
	free(a);
	if (err)
		return err;
	r->injected += 2ULL * n;
	if (round < 0)
		return 0;
	for (i = 0; i < 2; i++)
		r->pair_t[i][round] = w[i].ns;
	/* Both inject from the later start to the earlier end. */
	over = dmin(w[0].end, w[1].end) - dmax(w[0].begin, w[1].begin);
	longest = dmax(w[0].end - w[0].begin, w[1].end - w[1].begin);
	bench.overlap = dmin(bench.overlap, dmax(over, 0) / longest);
	if (getenv("BENCH_VERBOSE"))
		fprintf(stderr,
			"IPv%d %-16s %-44s CPUs %d+%d: cpu %7.1f + %7.1f ns, wall %.0f + %.0f ms, "
			"start %+.1f ms, overlap %.0f%%\n",
			r->family, r->contender, r->path, cpus[0], cpus[1], w[0].ns, w[1].ns,
			(w[0].end - w[0].begin) / 1e6, (w[1].end - w[1].begin) / 1e6,
			(w[1].begin - w[0].begin) / 1e6, 100.0 * dmax(over, 0) / longest);
	return 0;
}

/* Does the row's name contain one of the alternatives of --only ('|' between them)? */
static bool only_match(const char *name)
{
	const char *alt = bench.only, *bar;
	size_t len;

	if (!alt)
		return true;
	for (;;) {
		bar = strchr(alt, '|');
		len = bar ? (size_t)(bar - alt) : strlen(alt);
		if (len && memmem(name, strlen(name), alt, len))
			return true;
		if (!bar)
			return false;
		alt = bar + 1;
	}
}

static int row_prepare(struct row *r)
{
	int fd = bench.target_fd[r->target];
	char name[256];

	snprintf(name, sizeof(name), "IPv%d %s %s", r->family, r->contender, r->path);
	if (!only_match(name)) {
		r->skipped = true;
		return 0;
	}
	if (fd < 0 || !bench.ns[r->role].name) {
		r->skipped = true;
		return 0;
	}
	r->prog_fd = front_fd(r->family, fd, r->sources);
	if (r->prog_fd < 0)
		return r->prog_fd;
	frame_make(&r->frame, r->family, &traffic[r->tr], bench.remote[fam_idx(r->family)], false);
	return 0;
}

static int rounds_run(void)
{
	unsigned int i;
	int round, err;

	/* round -1 warms caches, page pools and the rate limiter's tables */
	for (round = -1; round < bench.rounds; round++) {
		for (i = 0; i < NR_ROWS; i++) {
			struct row *r = &rows[i];
			__u32 n = row_frames(r);

			if (r->skipped)
				continue;
			n = round < 0 ? n / 4 : n;
			err = row_run(r, round, n);
			/* right after the one-CPU run it is compared with, so drift
			 * between the two stays small */
			if (!err && r->pair)
				err = pair_run(r, round, n);
			if (err) {
				fprintf(stderr, "IPv%d %s, %s%s: %s\n", r->family, r->contender,
					r->path, r->pair ? " (one or two CPUs)" : "",
					strerror(-err));
				return err;
			}
		}
		fprintf(stderr, "round %d of %d done\n", round + 1, bench.rounds);
	}
	return 0;
}

/* ---- the report ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct spread {
	double med, min, max;
};

static struct spread spread_of(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return (struct spread){ n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1] };
}

/* Median over the rounds of r against ref in the same round: a ratio or a difference. */
static double paired(const struct row *r, const struct row *ref, bool diff)
{
	double v[MAX_ROUNDS];
	int i;

	for (i = 0; i < bench.rounds; i++)
		v[i] = diff ? r->t[i] - ref->t[i] : r->t[i] / ref->t[i];
	return spread_of(v, bench.rounds).med;
}

static struct row *row_find(int family, const char *contender, const char *path, enum traffic tr)
{
	unsigned int i;

	for (i = 0; i < NR_ROWS; i++) {
		struct row *r = &rows[i];

		if (r->family == family && !strcmp(r->contender, contender) &&
		    !strcmp(r->path, path) && r->tr == tr && !r->skipped)
			return r;
	}
	return NULL;
}

/* The XDP_PASS floor a row that reaches the stack compares with: same family and L4. */
static const struct row *pass_floor(const struct row *r)
{
	enum traffic tr = traffic[r->tr].proto == IPPROTO_TCP ? TR_TCP : TR_DNS_UNSOL;

	if (r->end == END_XDP || r->end == END_MIXED)
		return NULL;
	return row_find(r->family, "floor", PASS_FLOOR, tr);
}

static void row_print(const struct row *r, const struct row *floor)
{
	const struct row *pf = pass_floor(r);
	struct spread t = spread_of(r->t, bench.rounds);
	char path[128], delta[32] = "", ratio[32] = "-";

	if (r->target == T_XDP_FILTER)
		snprintf(path, sizeof(path), "%s (%s)", r->path, bench.xdp_filter_name);
	else
		snprintf(path, sizeof(path), "%s", r->path);
	if (pf && pf != r)
		snprintf(delta, sizeof(delta), "%+.1f ns", paired(r, pf, true));
	if (floor)
		snprintf(ratio, sizeof(ratio), "%.2f", paired(r, floor, false));
	printf("| %s | %s | %s | %s | %.1f (%.1f-%.1f) | %.2f | %s | %s |\n", r->contender, path,
	       traffic[r->tr].label, end_names[r->end], t.med, t.min, t.max, 1000.0 / t.med, ratio,
	       delta);
}

static void table_print(int family)
{
	const struct row *floor = row_find(family, "floor", DROP_FLOOR, TR_DNS_UNSOL);
	unsigned int i;

	printf("\n### IPv%d\n\n", family);
	printf("| contender | path | frame | frames end in | ns/frame, median (min-max) | Mpps "
	       "| x floor | vs XDP_PASS |\n");
	printf("|---|---|---|---|---:|---:|---:|---:|\n");
	for (i = 0; i < NR_ROWS; i++)
		if (rows[i].family == family && !rows[i].skipped)
			row_print(&rows[i], floor);
}

/* What the rate limiter did with the frames of its rows in the last round. */
static void mix_print(void)
{
	unsigned int i;
	int reason;

	if (!row_find(4, "ampguard", "rate-limit, 1 source (memcached)", TR_MEMC))
		return;
	printf("\nRate-limit rows, ampguard's verdicts in the last round:\n");
	for (i = 0; i < NR_ROWS; i++) {
		const struct row *r = &rows[i];
		__u64 total = 0;

		if (r->end != END_MIXED || r->skipped)
			continue;
		for (reason = 0; reason < AG_REASON__MAX; reason++)
			total += r->mix[reason];
		printf("\n- IPv%d, %s:", r->family, r->path);
		for (reason = 0; reason < AG_REASON__MAX; reason++)
			if (r->mix[reason])
				printf(" %s %.2f%%", ag_reason_name(reason),
				       100.0 * r->mix[reason] / total);
	}
	printf("\n");
}

/* Two CPUs' throughput together over one CPU's in round k: 1/t0 + 1/t1 against 1/t. */
static double pair_scaling(const struct row *r, int k)
{
	return r->t[k] / r->pair_t[0][k] + r->t[k] / r->pair_t[1][k];
}

static struct spread pair_spread(const struct row *r)
{
	double v[MAX_ROUNDS];
	int k;

	for (k = 0; k < bench.rounds; k++)
		v[k] = pair_scaling(r, k);
	return spread_of(v, bench.rounds);
}

/* Judged as printed (two decimals), so "1.80" never reads as missed. */
static bool scaling_met(double v)
{
	return (int)(v * 100 + 0.5) >= (int)(SCALING_GOAL * 100 + 0.5);
}

static bool pair_any(void)
{
	unsigned int i;

	for (i = 0; i < NR_ROWS; i++)
		if (rows[i].pair && !rows[i].skipped)
			return true;
	return false;
}

static void pair_print(void)
{
	unsigned int i;

	if (!pair_any())
		return;
	printf("\n### Two CPUs at once\n\n");
	printf("CPUs %d and %d injecting at once, each its own test run of the row's program, "
	       "frame and frame count (see Method). Scaling: their frames per CPU-second together "
	       "over the same row's on CPU %d alone in the same round, the median of the "
	       "per-round ratios (min-max); 2.00 is perfect. The two runs overlapped for at least "
	       "%.0f%% of the longer one's wall-clock time.\n\n",
	       bench.pair_cpu, bench.cpu, bench.cpu, 100.0 * bench.overlap);
	printf("| IP | contender | path | frame | one CPU, ns/frame | CPU %d, both running | "
	       "CPU %d, both running | scaling, median (min-max) | goal >= %.2f |\n",
	       bench.pair_cpu, bench.cpu, SCALING_GOAL);
	printf("|---|---|---|---|---:|---:|---:|---:|---|\n");
	for (i = 0; i < NR_ROWS; i++) {
		const struct row *r = &rows[i];
		const char *verdict;
		struct spread s;

		if (!r->pair || r->skipped)
			continue;
		s = pair_spread(r);
		/* the goal is ampguard's; the others are there to compare with */
		if (strcmp(r->contender, "ampguard"))
			verdict = "-";
		else
			verdict = scaling_met(s.med) ? "met" : "missed";
		printf("| IPv%d | %s | %s | %s | %.1f | %.1f | %.1f | %.2f (%.2f-%.2f) | %s |\n",
		       r->family, r->contender, r->path, traffic[r->tr].label,
		       spread_of(r->t, bench.rounds).med, spread_of(r->pair_t[0], bench.rounds).med,
		       spread_of(r->pair_t[1], bench.rounds).med, s.med, s.min, s.max, verdict);
	}
}

/* The target line for scaling: ampguard's worst path of the family. */
static void pair_goal_print(void)
{
	int family;

	if (!pair_any())
		return;
	printf("| two CPUs at once / one CPU, ampguard's worst path | >= %.2f |", SCALING_GOAL);
	for (family = 4; family <= 6; family += 2) {
		const struct row *worst = NULL;
		double v = 0;
		unsigned int i;

		for (i = 0; i < NR_ROWS; i++) {
			const struct row *r = &rows[i];
			double m;

			if (!r->pair || r->skipped || r->family != family ||
			    strcmp(r->contender, "ampguard"))
				continue;
			m = pair_spread(r).med;
			if (!worst || m < v) {
				worst = r;
				v = m;
			}
		}
		if (worst)
			printf(" %.2f (%s), %s |", v, worst->path,
			       scaling_met(v) ? "met" : "missed");
		else
			printf(" - |");
	}
	printf("\n");
}

struct goal {
	const char *what;
	const char *goal;
	double limit;
	bool at_least;    /* measured must be >= limit, else <= */
	bool diff;        /* ns above the reference, else a ratio */
	bool inverse;     /* the reference's cost over ampguard's */
	const char *path; /* ampguard's row */
	enum traffic tr;
	const char *ref_contender, *ref_path;
	enum traffic ref_tr;
	bool info; /* shown beside a goal, judged by none */
};

#define NFT_DROP "XDP_PASS + netdev ingress drop"

static const struct goal goals[] = {
	{ "vector drop with tracking / xdp-filter, same frame", "<= 1.02", 1.02, false, false,
	  false, TRACKED_DROP, TR_DNS_UNSOL, "xdp-filter", "src port 53 drop", TR_DNS_UNSOL },
	{ "vector drop with tracking - xdp-filter, same frame", "(in ns)", 0, false, true, false,
	  TRACKED_DROP, TR_DNS_UNSOL, "xdp-filter", "src port 53 drop", TR_DNS_UNSOL, true },
	{ "vector drop without tracking / xdp-filter", "(ratio)", 0, false, false, false,
	  VECTOR_DROP, TR_WSD, "xdp-filter", "src port 53 drop", TR_DNS_UNSOL, true },
	{ "unsolicited drop with tracking lookup / floor", "<= 1.25", 1.25, false, false, false,
	  TRACKED_DROP, TR_DNS_UNSOL, "floor", DROP_FLOOR, TR_DNS_UNSOL },
	{ "rate-limit at 1M sources / floor", "<= 1.50", 1.50, false, false, false, RL_1M, TR_MEMC,
	  "floor", DROP_FLOOR, TR_DNS_UNSOL },
	{ "rate-limit at 1M sources - the same without the clock read", "(in ns)", 0, false, true,
	  false, RL_1M, TR_MEMC, "ampguard", RL_1M_FIXED, TR_MEMC, true },
	{ "benign UDP pass - XDP_PASS, no rule", "<= +10 ns", 10, false, true, false,
	  "non-vector UDP pass", TR_BENIGN, "floor", PASS_FLOOR, TR_DNS_UNSOL },
	{ "TCP pass - XDP_PASS, no rule", "<= +10 ns", 10, false, true, false, "TCP pass", TR_TCP,
	  "floor", PASS_FLOOR, TR_TCP },
	{ "nftables netdev drop / ampguard drop, same frame", ">= 4", 4, true, false, true,
	  TRACKED_DROP, TR_DNS_UNSOL, "nftables", NFT_DROP, TR_DNS_UNSOL },
	{ "destination sample on the vector drop", "<= +2 ns", 2, false, true, false, VECTOR_DROP,
	  TR_WSD, "ampguard", UNSAMPLED_DROP, TR_WSD },
	{ "capture check, no capture running, on the vector drop", "<= +1 ns", 1, false, true,
	  false, VECTOR_DROP, TR_WSD, "ampguard", NOCAPTURE_DROP, TR_WSD },
	{ "capture on, 1 in 1000, on the vector drop", "<= +30 ns", 30, false, true, false,
	  CAPTURE_DROP, TR_WSD, "ampguard", VECTOR_DROP, TR_WSD },
};

static bool goal_value(const struct goal *g, int family, double *v)
{
	const struct row *r = row_find(family, "ampguard", g->path, g->tr);
	const struct row *ref = row_find(family, g->ref_contender, g->ref_path, g->ref_tr);

	if (!r || !ref)
		return false;
	if (g->inverse)
		*v = paired(ref, r, false);
	else
		*v = paired(r, ref, g->diff);
	return true;
}

static void goals_print(void)
{
	unsigned int i;
	int family;

	printf("\n### Targets\n\n| target | goal | IPv4 | IPv6 |\n|---|---|---|---|\n");
	for (i = 0; i < sizeof(goals) / sizeof(goals[0]); i++) {
		const struct goal *g = &goals[i];

		printf("| %s | %s |", g->what, g->goal);
		for (family = 4; family <= 6; family += 2) {
			double v;
			bool met;

			if (!goal_value(g, family, &v)) {
				printf(" - |");
				continue;
			}
			met = g->at_least ? v >= g->limit : v <= g->limit;
			if (g->diff)
				printf(" %+.1f ns", v);
			else
				printf(" %.2f", v);
			printf("%s |", g->info ? "" : met ? ", met" : ", missed");
		}
		printf("\n");
	}
	pair_goal_print();
}

/* How the kernel's duration compares with the thread's CPU time. */
static void duration_print(void)
{
	unsigned int i, agree = 0, total = 0;
	double most_under = 0;
	int k;

	for (i = 0; i < NR_ROWS; i++) {
		for (k = 0; k < bench.rounds && !rows[i].skipped; k++) {
			double cpu = rows[i].t[k], dur = rows[i].duration[k];
			double gap = cpu - dur, tol = dur * 0.02 > 1 ? dur * 0.02 : 1;

			total++;
			agree += gap <= tol && gap >= -tol;
			if (gap / dur > most_under)
				most_under = gap / dur;
		}
	}
	printf("The kernel's `duration` and the CPU time agree within 2%% (or 1 ns) in %u of %u "
	       "measurements; the CPU time exceeds it by at most %.1f%%. Where they differ, "
	       "`duration` is larger: it also counts time the thread spent preempted (the "
	       "live-frames loop disables migration, not preemption).\n",
	       agree, total, 100.0 * most_under);
}

static void prog_print(const char *what, int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	printf("| %s | %s | %u | %u |\n", what, info.name,
	       info.xlated_prog_len / (__u32)sizeof(struct bpf_insn), info.jited_prog_len);
}

/* Sizes of the programs as the kernel runs them (the whole program, not one path). */
static void programs_print(void)
{
	printf("\n### Programs\n\n| program | name | BPF instructions (xlated) | JIT bytes |\n"
	       "|---|---|---:|---:|\n");
	prog_print("front end, IPv4", front_fd(4, bench.target_fd[T_DROP], 1));
	prog_print("front end, IPv6", front_fd(6, bench.target_fd[T_DROP], 1));
	prog_print("floor", bench.target_fd[T_DROP]);
	prog_print("ampguard", bench.target_fd[T_AMPGUARD]);
	prog_print("xdp-filter", bench.target_fd[T_XDP_FILTER]);
	prog_print("reference port filter", bench.target_fd[T_PORTFILTER]);
}

static void report(void)
{
	printf("%d rounds after a warm-up round. Per round and row: %u frames when XDP drops "
	       "them, %u when they go up the stack; batches of %d. \"x floor\" and \"vs "
	       "XDP_PASS\" are medians of per-round ratios and differences.\n\n",
	       bench.rounds, frames_for(END_XDP, 1), frames_for(END_STACK, 1), BATCH);
	duration_print();
	table_print(4);
	table_print(6);
	mix_print();
	pair_print();
	goals_print();
	programs_print();
}

/* Frames each namespace's rules must have seen, for scripts/bench.sh to compare. */
static int counts_write(void)
{
	FILE *f;
	unsigned int i;

	if (!bench.counts_path)
		return 0;
	f = fopen(bench.counts_path, "w");
	if (!f)
		return -errno;
	for (i = 0; i < NR_ROWS; i++)
		if (!rows[i].skipped)
			fprintf(f, "%s %d %llu\n", role_names[rows[i].role], rows[i].family,
				(unsigned long long)rows[i].injected);
	return fclose(f) ? -errno : 0;
}

/* ---- setup ---- */

static int ns_open(enum netns_role role)
{
	char path[PATH_MAX];
	struct netns *ns = &bench.ns[role];

	if (!ns->name)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", ns->name);
	ns->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->fd < 0 || setns(ns->fd, CLONE_NEWNET))
		return -errno;
	ns->ifindex = if_nametoindex(bench.dev);
	return ns->ifindex ? 0 : -ENODEV;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_live --netns ROLE=NAME... [--dev NAME] [--rounds N] [--scale X]\n"
		"                  [--counts FILE] [--only TEXT] [--cpu N [--pair-cpu M]]\n"
		"ROLE: base (required), nft, iptables, iptables-legacy, xdp-filter; each\n"
		"namespace holds the veth NAME (default agp) the frames come in on.\n"
		"--only: just the rows whose \"IPvN contender path\" contains TEXT, e.g.\n"
		"\"IPv4 ampguard vector drop\", to profile one path; \"A|B\" for either.\n"
		"--cpu: the CPU the one-CPU rows run on; --pair-cpu: the other CPU of the\n"
		"two-CPU rows (none run without it). BENCH_VERBOSE=1 in the environment\n"
		"prints every measurement to stderr as it is taken.\n");
}

static int parse_netns(const char *arg)
{
	const char *eq = strchr(arg, '=');
	int role;

	for (role = 0; eq && role < NR_NS; role++) {
		if ((size_t)(eq - arg) == strlen(role_names[role]) &&
		    !strncmp(arg, role_names[role], eq - arg)) {
			bench.ns[role].name = eq + 1;
			return 0;
		}
	}
	fprintf(stderr, "bench_live: bad --netns %s: want ROLE=NAME\n", arg);
	return -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "dev", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "scale", required_argument, NULL, 's' },
		{ "counts", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "cpu", required_argument, NULL, 'p' },
		{ "pair-cpu", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_netns(optarg))
				return -EINVAL;
			break;
		case 'd':
			bench.dev = optarg;
			break;
		case 'r':
			bench.rounds = atoi(optarg);
			break;
		case 's':
			bench.scale = atof(optarg);
			break;
		case 'c':
			bench.counts_path = optarg;
			break;
		case 'o':
			bench.only = optarg;
			break;
		case 'p':
			bench.cpu = atoi(optarg);
			break;
		case 'P':
			bench.pair_cpu = atoi(optarg);
			break;
		default:
			usage();
			return -EINVAL;
		}
	}
	if (!bench.ns[NS_BASE].name || bench.rounds < 1 || bench.rounds > MAX_ROUNDS ||
	    bench.scale <= 0 || bench.cpu >= CPU_SETSIZE || bench.pair_cpu >= CPU_SETSIZE ||
	    (bench.pair_cpu >= 0 && (bench.cpu < 0 || bench.pair_cpu == bench.cpu))) {
		usage();
		return -EINVAL;
	}
	return 0;
}

static int setup(void)
{
	unsigned int i;
	int role, err;

	for (role = 0; role < NR_NS; role++) {
		err = ns_open(role);
		if (err) {
			fprintf(stderr, "bench_live: namespace %s, device %s: %s\n",
				bench.ns[role].name, bench.dev, strerror(-err));
			return err;
		}
	}
	err = programs_load();
	if (err) {
		fprintf(stderr, "bench_live: loading programs: %s\n", strerror(-err));
		return err;
	}
	err = learn_remote(4) ?: learn_remote(6) ?: ampguard_requests(4) ?: ampguard_requests(6);
	for (i = 0; !err && i < NR_ROWS; i++)
		err = row_prepare(&rows[i]);
	for (i = 0; !err && bench.pair_cpu >= 0 && i < sizeof(scale_rows) / sizeof(scale_rows[0]);
	     i++) {
		const struct row_ref *p = &scale_rows[i];
		struct row *r = row_find(p->family, p->contender, p->path, p->tr);

		if (r)
			r->pair = true;
	}
	if (err)
		fprintf(stderr, "bench_live: setting up: %s\n", strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	int err;

	if (parse_args(argc, argv))
		return 2;
	/* Before any thread starts: those not pinned otherwise inherit it. */
	if (bench.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(bench.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "bench_live: pinning to CPU %d: %s\n", bench.cpu,
				strerror(errno));
			return 1;
		}
	}
	libbpf_set_print(NULL);
	err = setup() ?: rounds_run() ?: counts_write();
	if (!err)
		report();
	programs_destroy();
	return err ? 1 : 0;
}
