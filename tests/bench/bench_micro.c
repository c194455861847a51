// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-packet cost of each datapath path, measured with BPF_PROG_TEST_RUN
 * and `repeat`, beside programs that only return XDP_DROP or XDP_PASS and
 * the reference port filter (the least a source-port classifier does).
 * All paths run interleaved within each round so drift hits them alike;
 * the table shows medians and min-max over the rounds.
 *
 * Invariants: every run checks its path's verdict (except the 1k and 1M
 * source rate-limit paths, whose verdict changes with the source), so a
 * path that stops doing what its name says fails instead of timing
 * something else. The front end, the floor and the reference are the
 * objects bench_live runs, built from tests/bench/bpf/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>
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

#define ROUNDS 15
#define REPEAT 2000000

enum prog {
	FLOOR_DROP,
	FLOOR_PASS,
	AMPGUARD,
	REFERENCE, /* tests/bench/bpf/bench_portfilter.bpf.c */
	/* behind the source-rotating front end, with 1, 1k and 1M sources */
	GEN_FLOOR_1,
	GEN_RL_1,
	GEN_RL_1K,
	GEN_RL_1M,
	NR_PROGS,
};

struct path {
	const char *name;
	enum prog prog;
	struct frame_spec spec;
	int verdict;
	double ns[ROUNDS];
};

/* Rate-limited vector for the GEN_RL paths: per source 100 pps, aggregate 1 Mpps. */
#define RL_PORT 11211

/* Untracked vector (ws-discovery) for the vector drop, which the reference filter drops too. */
#define DROP_PORT 3702

static struct path paths[] = {
	{ "floor: return XDP_DROP",
	  FLOOR_DROP,
	  { .sport = 53, .dport = 40000, .payload = 18 },
	  XDP_DROP },
	{ "floor: return XDP_PASS",
	  FLOOR_PASS,
	  { .sport = 53, .dport = 40000, .payload = 18 },
	  XDP_PASS },
	{ "vector drop, no tracking",
	  AMPGUARD,
	  { .sport = DROP_PORT, .dport = 40000, .payload = 18 },
	  XDP_DROP },
	{ "unsolicited drop (miss)",
	  AMPGUARD,
	  { .sport = 53, .dport = 40001, .payload = 18 },
	  XDP_DROP },
	{ "solicited pass (hit)",
	  AMPGUARD,
	  { .sport = 53, .dport = 40000, .payload = 18 },
	  XDP_PASS },
	{ "non-vector udp pass",
	  AMPGUARD,
	  { .sport = 40000, .dport = 53, .payload = 18 },
	  XDP_PASS },
	{ "reference: port drop",
	  REFERENCE,
	  { .sport = DROP_PORT, .dport = 40000, .payload = 18 },
	  XDP_DROP },
	{ "tcp pass", AMPGUARD, { .l4 = 6, .sport = 53, .dport = 40000 }, XDP_PASS },
	{ "ipv6 ext-header drop",
	  AMPGUARD,
	  { .ipv6 = 1, .ext_hdrs = 2, .sport = 53, .dport = 40000 },
	  XDP_DROP },
	{ "gen + floor XDP_DROP",
	  GEN_FLOOR_1,
	  { .sport = RL_PORT, .dport = 40000, .payload = 18 },
	  XDP_DROP },
	{ "gen + ratelimit, 1 source",
	  GEN_RL_1,
	  { .sport = RL_PORT, .dport = 40000, .payload = 18 },
	  XDP_DROP },
	{ "gen + ratelimit, 1k sources",
	  GEN_RL_1K,
	  { .sport = RL_PORT, .dport = 40000, .payload = 18 },
	  -1 },
	{ "gen + ratelimit, 1M sources",
	  GEN_RL_1M,
	  { .sport = RL_PORT, .dport = 40000, .payload = 18 },
	  -1 },
};

#define NR_PATHS (sizeof(paths) / sizeof(paths[0]))

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * Runs f repeat times; checks the verdict unless it is -1 and gives the
 * mean ns per run. Timed by this thread's CPU time around the call rather
 * than by the kernel's duration, which is whole nanoseconds: a path's cost
 * differs from another's by less than one.
 */
static int run(int prog_fd, const struct frame *f, int verdict, double *ns, int repeat)
{
	struct fixture_run r = { .data = f->data, .len = f->len, .repeat = repeat };
	double start = thread_cpu_ns(), per_run;
	int err;

	err = fixture_run(prog_fd, &r);
	if (err)
		return err;
	per_run = (thread_cpu_ns() - start) / (repeat ? repeat : 1);
	if (verdict >= 0 && (int)r.retval != verdict) {
		fprintf(stderr, "unexpected verdict %u (want %d)\n", r.retval, verdict);
		return -EINVAL;
	}
	if (ns)
		*ns = per_run;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v, so v[0] and v[n-1] are min and max afterwards. */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Policy for the run: ws-discovery untracked, dns tracked for an hour (so
 * the hit path's entry outlives the run), one DNS request recorded.
 */
static int setup(struct ampguard_xdp *ag, struct ampguard_tc *tc)
{
	struct frame_spec q = { .outgoing = 1, .sport = 40000, .dport = 53, .payload = 18 };
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_state st;
	struct frame f;
	int err;

	ag_state_from_obj(&st, ag->obj);
	err = ag_state_init_maps(&st);
	if (err)
		return err;
	ag_policy_defaults(tbl);
	tbl[ag_builtin_slot("ws-discovery")].track_timeout_ms = 0;
	tbl[ag_builtin_slot("dns")].track_timeout_ms = 3600000;
	tbl[ag_builtin_slot("memcached")].action = AG_ACT_RATELIMIT;
	ag_rate_set(&tbl[ag_builtin_slot("memcached")].agg_pps, 1000000, 0, false);
	ag_rate_set(&tbl[ag_builtin_slot("memcached")].src_pps, 100, 0, false);
	err = ag_policy_commit(&st, tbl);
	if (err)
		return err;

	err = ag_state_share(&st, tc->obj) ?: ag_tc_load(tc, fixture_kernel());
	if (err)
		return err;
	frame_build(&q, &f);
	return run(bpf_program__fd(tc->progs.ampguard_tc_egress), &f, TC_ACT_OK, NULL, 1);
}

static int reference_ports(struct bench_portfilter *ref)
{
	__u32 port = DROP_PORT;
	__u8 one = 1;

	return bpf_map_update_elem(bpf_map__fd(ref->maps.drop_port), &port, &one, 0) ? -errno : 0;
}

static void print_table(void)
{
	double floor_drop = 0, floor_pass = 0, med[NR_PATHS];
	unsigned int p;

	for (p = 0; p < NR_PATHS; p++) {
		med[p] = median(paths[p].ns, ROUNDS);
		if (paths[p].prog == FLOOR_DROP)
			floor_drop = med[p];
		if (paths[p].prog == FLOOR_PASS)
			floor_pass = med[p];
	}

	printf("BPF_PROG_TEST_RUN, %d rounds x %d repeats, thread CPU time per run, medians (min-max)\n\n",
	       ROUNDS, REPEAT);
	printf("| %-26s | %-18s | %-9s | %-15s |\n", "path", "ns/pkt", "x floor", "- pass floor");
	printf("|----------------------------|--------------------|-----------|-----------------|\n");
	for (p = 0; p < NR_PATHS; p++) {
		char cell[32];

		snprintf(cell, sizeof(cell), "%.1f (%.1f-%.1f)", med[p], paths[p].ns[0],
			 paths[p].ns[ROUNDS - 1]);
		printf("| %-26s | %-18s | %9.2f | %+12.1f ns |\n", paths[p].name, cell,
		       floor_drop > 0 ? med[p] / floor_drop : 0, med[p] - floor_pass);
	}
}

/* A front end rotating over nr sources, tail-calling target. */
static struct bench_gen *front_end(__u32 nr, int target_fd)
{
	struct bench_gen *g = bench_gen__open();

	if (!g)
		return NULL;
	g->rodata->nr_sources = nr;
	if (bench_gen__load(g) ||
	    bpf_map_update_elem(bpf_map__fd(g->maps.target), &(__u32){ 0 }, &target_fd, 0)) {
		bench_gen__destroy(g);
		return NULL;
	}
	return g;
}

int main(void)
{
	static const __u32 gen_sources[] = {
		[GEN_FLOOR_1] = 1, [GEN_RL_1] = 1, [GEN_RL_1K] = 1000, [GEN_RL_1M] = 1000000
	};
	struct bench_gen *gens[NR_PROGS] = {};
	struct bench_portfilter *ref;
	struct ampguard_xdp *ag;
	struct ampguard_tc *tc;
	struct ag_state loaded;
	struct xdp_floor *floor;
	struct frame f[NR_PATHS];
	unsigned int p;
	int r, err, fds[NR_PROGS];

	libbpf_set_print(NULL);
	ag = fixture_xdp(&loaded);
	tc = ag_tc_open(fixture_kernel());
	floor = xdp_floor__open_and_load();
	ref = bench_portfilter__open_and_load();
	if (!ag || !tc || !floor || !ref) {
		fprintf(stderr, "loading programs: %s\n", strerror(errno));
		return 1;
	}
	err = setup(ag, tc) ?: reference_ports(ref);
	if (err) {
		fprintf(stderr, "setting up: %s\n", strerror(-err));
		return 1;
	}
	fds[FLOOR_DROP] = bpf_program__fd(floor->progs.xdp_drop_all);
	fds[FLOOR_PASS] = bpf_program__fd(floor->progs.xdp_pass_all);
	fds[AMPGUARD] = bpf_program__fd(ag->progs.ampguard_xdp);
	fds[REFERENCE] = bpf_program__fd(ref->progs.bench_portfilter);
	for (p = GEN_FLOOR_1; p < NR_PROGS; p++) {
		gens[p] = front_end(gen_sources[p],
				    p == GEN_FLOOR_1 ? fds[FLOOR_DROP] : fds[AMPGUARD]);
		if (!gens[p]) {
			fprintf(stderr, "loading the front end: %s\n", strerror(errno));
			return 1;
		}
		fds[p] = bpf_program__fd(gens[p]->progs.bench_gen);
	}
	for (p = 0; p < NR_PATHS; p++)
		frame_build(&paths[p].spec, &f[p]);

	for (r = 0; r < ROUNDS; r++) {
		for (p = 0; p < NR_PATHS; p++) {
			err = run(fds[paths[p].prog], &f[p], paths[p].verdict, &paths[p].ns[r],
				  REPEAT);
			if (err) {
				fprintf(stderr, "%s: %s\n", paths[p].name, strerror(-err));
				return 1;
			}
		}
	}
	print_table();
	for (p = GEN_FLOOR_1; p < NR_PROGS; p++)
		bench_gen__destroy(gens[p]);
	ampguard_tc__destroy(tc);
	ampguard_xdp__destroy(ag);
	xdp_floor__destroy(floor);
	bench_portfilter__destroy(ref);
	return 0;
}
