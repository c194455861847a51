// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bucket arithmetic of the ratelimit action, driven through the XDP
 * program with BPF_PROG_TEST_RUN on a clock the test sets (the program's
 * clock_override_ns), so every admission count is exact.
 *
 * Invariants: only test_accuracy_across_cpus and test_tick_clock run the
 * program on the real clock (the first's counts are bounded, not exact, and
 * depend on the machine's load; the second holds jiffies still and stays on
 * one CPU, so its counts are exact too); every other test that runs frames
 * sets the clock itself and expects exact counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "frames.h"
#include "fixture.h"
#include "cpus.h"

#define DNS 1
#define MS 1000000ULL
#define T0 (1000000ULL * MS) /* any clock value far from 0 */

static struct ampguard_xdp *skel;
static struct ag_state st;
static __u64 now_ns;

static void set_clock(__u64 t)
{
	now_ns = t;
	skel->bss->clock_override_ns = t;
}

static void advance(__u64 ns)
{
	set_clock(now_ns + ns);
}

struct result {
	unsigned int pass, agg, src, other;
};

/* Sends n dns frames from source address ...x (IPv6 when v6) and tallies reasons. */
static struct result send_spec(unsigned int n, struct frame_spec s)
{
	struct ag_counter before[AG_NR_STATS], after[AG_NR_STATS];
	int fd = bpf_program__fd(skel->progs.ampguard_xdp), stats = bpf_map__fd(skel->maps.stats);
	struct result r = { 0 };
	struct frame f;
	struct fixture_run run = { .data = f.data };
	unsigned int i;

	run.len = frame_build(&s, &f);
	for (i = 0; i < n; i++) {
		ag_stats_read(stats, before);
		ASSERT_OK(fixture_run(fd, &run), "test run");
		ag_stats_read(stats, after);
#define GREW(reason) \
	(after[AG_STATS_IDX(DNS, reason)].packets != before[AG_STATS_IDX(DNS, reason)].packets)
		if (GREW(AG_R_RL_PASS)) {
			r.pass++;
			CHECK(run.retval == XDP_PASS, "admitted but verdict %u", run.retval);
		} else if (GREW(AG_R_RL_AGGREGATE)) {
			r.agg++;
			CHECK(run.retval == XDP_DROP, "aggregate excess passed");
		} else if (GREW(AG_R_RL_SOURCE)) {
			r.src++;
			CHECK(run.retval == XDP_DROP, "per-source excess passed");
		} else {
			r.other++;
		}
#undef GREW
	}
	return r;
}

static struct result send_from(unsigned int n, __u8 src, int v6, int payload)
{
	struct frame_spec s = {
		.ipv6 = v6, .sport = 53, .dport = 40000, .payload = payload, .saddr_last = src
	};

	return send_spec(n, s);
}

/* IPv4 source address as the table keys it. */
static void mapped(__u32 addr, __u8 out[16])
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = addr >> 24, out[13] = addr >> 16, out[14] = addr >> 8, out[15] = addr;
}

/* The slot a source holds, or NULL. */
static struct ag_src_entry *find_src(struct ag_src_entry *all, __u32 addr)
{
	__u8 a[16];
	__u32 set, i;

	mapped(addr, a);
	set = ag_src_set(a, DNS);
	for (i = set; i < set + 2; i++)
		if (all[i].vec == DNS && !memcmp(all[i].addr, a, 16))
			return &all[i];
	return NULL;
}

static struct result send_n(unsigned int n)
{
	return send_from(n, 1, 0, 18);
}

/* Sets dns to ratelimit with the given budgets, as `ampguard set` does. */
static void limit(unsigned long long pps, unsigned long long burst, unsigned long long bps,
		  unsigned long long bps_burst, unsigned long long src_pps,
		  unsigned long long src_burst, int src_full)
{
	struct ag_policy tbl[AG_MAX_VECTORS];

	ag_policy_read(st.config_fd, st.policy_fd, tbl);
	tbl[DNS].action = AG_ACT_RATELIMIT;
	tbl[DNS].track_timeout_ms = 0;
	tbl[DNS].src_full = src_full;
	ag_rate_set(&tbl[DNS].agg_pps, pps, burst, false);
	ag_rate_set(&tbl[DNS].agg_bps, bps, bps_burst, true);
	ag_rate_set(&tbl[DNS].src_pps, src_pps, src_burst, false);
	CHECK(ag_policy_commit(&st, tbl) == 0, "commit");
	CHECK(ag_rl_reset(&st, DNS) == 0, "reset");
	ag_src_free(&st, DNS);
}

static void expect(struct result r, unsigned int pass, unsigned int agg, unsigned int src,
		   const char *what)
{
	CHECK(r.pass == pass && r.agg == agg && r.src == src && r.other == 0,
	      "%s: admitted %u, aggregate %u, source %u, other %u; want %u, %u, %u", what, r.pass,
	      r.agg, r.src, r.other, pass, agg, src);
}

static void test_pps_burst_and_refill(void)
{
	set_clock(T0);
	limit(10, 5, 0, 0, 0, 0, AG_SRC_FULL_EVICT);
	expect(send_n(10), 5, 5, 0, "10 at once against burst 5");
	advance(100 * MS);
	expect(send_n(3), 1, 2, 0, "100 ms at 10 pps refills one");
	advance(250 * MS);
	expect(send_n(3), 2, 1, 0, "250 ms refills two (a half is kept)");
	advance(50 * MS);
	expect(send_n(1), 1, 0, 0, "the half plus 50 ms make one");
	advance(10000 * MS);
	expect(send_n(20), 5, 15, 0, "a long pause refills no more than the burst");
}

static void test_steady_rate_is_exact(void)
{
	unsigned int i, admitted = 0;

	set_clock(T0);
	limit(1000, 1, 0, 0, 0, 0, AG_SRC_FULL_EVICT);
	/* 3000 packets at 2000 pps for 1.5 s: 1000 pps with burst 1 admits every other one. */
	for (i = 0; i < 3000; i++) {
		admitted += send_n(1).pass;
		advance(500000);
	}
	CHECK(admitted == 1500, "admitted %u of 3000 at twice the rate, want 1500", admitted);
}

static void test_bps_budget(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 58 };
	struct frame f;

	frame_build(&s, &f); /* 14 + 20 + 8 + 58 = 100 bytes */
	CHECK(f.len == 100, "frame is %zu bytes", f.len);
	set_clock(T0);
	/* 8000 bit/s = 1000 B/s: a 100-byte frame costs 100 ms; burst 8000 bits = 1000 bytes. */
	limit(0, 0, 8000, 8000, 0, 0, AG_SRC_FULL_EVICT);
	expect(send_from(20, 1, 0, 58), 11, 9, 0, "burst of 1000 bytes, to within a frame");
	advance(1000 * MS);
	expect(send_from(20, 1, 0, 58), 10, 10, 0, "one second refills 1000 bytes");
}

static void test_pps_and_bps_together(void)
{
	set_clock(T0);
	/* Packets allow 10, bytes allow 11 frames of 100 bytes: packets bind. */
	limit(10, 10, 8000, 8000, 0, 0, AG_SRC_FULL_EVICT);
	expect(send_from(20, 1, 0, 58), 10, 10, 0, "the tighter budget (packets) binds");
	advance(2000 * MS);
	/* Packets allow 100, bytes 11 frames: bytes bind. */
	limit(100, 100, 8000, 8000, 0, 0, AG_SRC_FULL_EVICT);
	expect(send_from(20, 1, 0, 58), 11, 9, 0, "the tighter budget (bytes) binds");
}

static void test_per_source_isolation(void)
{
	set_clock(T0);
	limit(0, 0, 0, 0, 2, 2, AG_SRC_FULL_EVICT);
	expect(send_from(10, 1, 0, 18), 2, 0, 8, "heavy source A");
	expect(send_from(2, 2, 0, 18), 2, 0, 0, "source B keeps its own budget");
	expect(send_from(3, 1, 1, 18), 2, 0, 1, "an ipv6 source has its own budget");
	advance(500 * MS);
	expect(send_from(3, 1, 0, 18), 1, 0, 2, "A refills at its own rate");
}

static void test_aggregate_refunds_source(void)
{
	struct ag_src_entry *all, *b;

	set_clock(T0);
	limit(4, 3, 0, 0, 10, 10, AG_SRC_FULL_EVICT);
	expect(send_from(3, 1, 0, 18), 3, 0, 0, "A takes the whole burst of the aggregate");
	expect(send_from(1, 2, 0, 18), 0, 1, 0, "B, at once: the aggregate is spent");
	all = ag_src_read(&st);
	CHECK(all && !find_src(all, 0xc0000202),
	      "over the aggregate, B's slot was not even claimed");
	free(all);

	/*
	 * A quarter second on, the aggregate has room for one: C's first packet
	 * passes both budgets; its second passes C's own budget, is refused by the
	 * aggregate, and C's budget is given back.
	 */
	advance(250 * MS);
	expect(send_from(2, 3, 0, 18), 1, 1, 0, "C: one fits, one is over the aggregate");
	all = ag_src_read(&st);
	b = all ? find_src(all, 0xc0000203) : NULL;
	CHECK(b, "C holds a slot");
	if (b)
		CHECK(b->admitted == 1, "C admitted %llu", (unsigned long long)b->admitted);
	free(all);
}

/* Two IPv4 sources other than a whose slots are in a's set. */
static void set_mates(__u32 a, __u32 *b, __u32 *c)
{
	__u8 aa[16], x[16];
	__u32 set, cand;
	int found = 0;

	mapped(a, aa);
	set = ag_src_set(aa, DNS);
	for (cand = 0xc6120000; found < 2 && cand < 0xc6120000 + (1U << 24); cand++) {
		mapped(cand, x);
		if (cand == a || ag_src_set(x, DNS) != set)
			continue;
		*(found++ ? c : b) = cand;
	}
	CHECK(found == 2, "found %d sources sharing a set", found);
}

static struct result send4(unsigned int n, __u32 addr)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 18, .saddr4 = addr };

	return send_spec(n, s);
}

static void test_full_set_policies(void)
{
	__u32 a = 0xcb007101, b, c; /* 203.0.113.1 */
	struct ag_src_entry *all;

	set_mates(a, &b, &c);

	/* b and c hold the set and have spent budget: the set is full for a. */
	set_clock(T0);
	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_DROP);
	expect(send4(2, b), 2, 0, 0, "b takes a slot");
	expect(send4(2, c), 2, 0, 0, "c takes the other");
	expect(send4(2, a), 0, 0, 2, "full, drop: the newcomer is dropped");
	expect(send4(3, b), 3, 0, 0, "full, drop: b keeps its budget (3 left of 5)");

	limit(10, 10, 0, 0, 5, 5, AG_SRC_FULL_AGGREGATE);
	expect(send4(2, b), 2, 0, 0, "b again");
	expect(send4(2, c), 2, 0, 0, "c again");
	/* Tracked, a would stop at 5; untracked, only the 6 left of the aggregate bind. */
	expect(send4(12, a), 6, 6, 0, "full, aggregate: the newcomer is judged by the aggregate");
	all = ag_src_read(&st);
	CHECK(all && !find_src(all, a), "the untracked newcomer took a slot");
	free(all);

	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_EVICT);
	expect(send4(1, b), 1, 0, 0, "b at T");
	advance(1 * MS);
	expect(send4(1, c), 1, 0, 0, "c at T + 1 ms");
	expect(send4(6, a), 5, 0, 1, "full, evict: the newcomer gets a fresh bucket");
	expect(send4(1, c), 1, 0, 0, "c, the more recently active, kept its slot");
	expect(send4(6, b), 5, 0, 1, "b lost its slot and starts afresh");

	/* A source whose bucket has refilled frees its slot without loss. */
	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_DROP);
	expect(send4(1, b), 1, 0, 0, "b");
	expect(send4(1, c), 1, 0, 0, "c");
	advance(300 * MS);
	expect(send4(5, a), 5, 0, 0, "refilled slots are free even under drop");
}

static void test_removing_limit_frees_sources(void)
{
	struct ag_src_entry *all;

	set_clock(T0);
	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_EVICT);
	send_from(1, 1, 0, 18);
	send_from(1, 2, 0, 18);
	all = ag_src_read(&st);
	CHECK(all && ag_src_in_use(all) == 2, "%lu sources held", all ? ag_src_in_use(all) : 0);
	free(all);
	CHECK(ag_src_free(&st, DNS) == 0, "free");
	all = ag_src_read(&st);
	CHECK(all && ag_src_in_use(all) == 0, "%lu sources after free",
	      all ? ag_src_in_use(all) : 0);
	free(all);
}

/* A source's drops as read (the CPUs' pending runs added in), and its slot's own count. */
static void expect_drops(__u32 addr, __u64 want_read, __u64 want_slot, const char *what)
{
	struct ag_src_entry *all = ag_src_read(&st), raw = { 0 }, *e;
	__u64 read = ~0ULL, in_slot = ~0ULL;
	__u32 idx;

	e = all ? find_src(all, addr) : NULL;
	if (e) {
		idx = e - all;
		read = e->dropped;
		if (bpf_map_lookup_elem(st.rl_src_fd, &idx, &raw) == 0)
			in_slot = raw.dropped;
	}
	free(all);
	CHECK(read == want_read && in_slot == want_slot,
	      "%s: read %llu, in the slot %llu; want %llu, %llu", what, (unsigned long long)read,
	      (unsigned long long)in_slot, (unsigned long long)want_read,
	      (unsigned long long)want_slot);
}

/*
 * A source's drops on one CPU after its first are held in that CPU's
 * pending run, so CPUs sharing a flooding source do not write its slot per
 * frame; the table as read still counts every drop, and a run held for a
 * slot's previous holder is never added to the next.
 */
static void test_source_drops_across_cpus(void)
{
	const __u32 a = 0xc0000201, b = 0xc0000202;
	cpu_set_t was;

	cpus_save(&was);
	set_clock(T0);
	limit(0, 0, 0, 0, 2, 2, AG_SRC_FULL_EVICT);
	cpus_pin(0);
	expect(send4(10, a), 2, 0, 8, "a on CPU 0");
	expect_drops(a, 8, 1, "a's first drop in its slot, 7 pending on CPU 0");
	cpus_pin(1);
	expect(send4(5, a), 0, 0, 5, "a on CPU 1");
	expect_drops(a, 13, 2, "and 4 more pending on CPU 1");
	cpus_pin(0);
	expect(send4(3, b), 2, 0, 1, "b on CPU 0");
	expect_drops(a, 13, 9, "b's drop adds CPU 0's run of a to a's slot");
	expect_drops(b, 1, 1, "b's own first drop");

	/* a's slot is emptied and taken again: CPU 1's run of the old holder stays out. */
	limit(0, 0, 0, 0, 2, 2, AG_SRC_FULL_EVICT);
	expect(send4(3, a), 2, 0, 1, "a again, on CPU 0");
	expect_drops(a, 1, 1, "a afresh, without CPU 1's 4 of before");
	cpus_pin(1);
	expect(send4(1, b), 1, 0, 0, "b on CPU 1");
	expect(send4(2, b), 1, 0, 1, "b over its budget on CPU 1");
	expect_drops(a, 1, 1, "CPU 1 dropped its run of a's previous holder");
	cpus_restore(&was);
}

/*
 * Buckets whose burst spans two ticks read the clock once per tick and CPU:
 * with jiffies held still their time stands still, however long the test
 * waits, until jiffies move. A burst shorter than that reads the clock per
 * frame. (With jiffies still, the tick clock is read once, at the first
 * frame.)
 */
static void test_tick_clock(void)
{
	const __u64 j0 = 5000000;
	struct timespec pause = { .tv_nsec = 30 * MS };
	cpu_set_t was;

	/*
	 * The tick's reading is cached per CPU: a thread that moves to another
	 * CPU meets that CPU's own reading, later than this one's, and the
	 * bucket refills by the difference. Stay on one CPU to see one reading.
	 */
	cpus_save(&was);
	cpus_pin(sched_getcpu());
	CHECK(skel->rodata->kern_hz >= 100 && skel->rodata->kern_hz <= 1000, "HZ %u",
	      skel->rodata->kern_hz);
	skel->bss->clock_override_ns = 0;
	skel->bss->jiffies_override = j0;
	/* 1000 pps, a burst of 100: 99 ms of tolerance, more than two ticks at any HZ. */
	limit(1000, 100, 0, 0, 0, 0, AG_SRC_FULL_EVICT);
	expect(send_n(150), 100, 50, 0, "the burst, on one reading of the clock");
	nanosleep(&pause, NULL);
	expect(send_n(10), 0, 10, 0, "30 ms later, jiffies still: time stood still");
	skel->bss->jiffies_override = j0 + 1;
	expect(send_n(10), 10, 0, 0, "jiffies moved: the clock is read again, 30 ms refilled");

	/* A burst of 1 has no tolerance: the clock per frame, jiffies or not. */
	limit(1000, 1, 0, 0, 0, 0, AG_SRC_FULL_EVICT);
	send_n(5);
	nanosleep(&pause, NULL);
	expect(send_n(1), 1, 0, 0, "burst 1: 30 ms later one is admitted, jiffies still");
	skel->bss->jiffies_override = 0;
	cpus_restore(&was);
}

struct offer {
	int cpu;
	double until; /* CLOCK_MONOTONIC seconds */
	unsigned long long offered;
	double grace;   /* seconds: the budget's burst / rate */
	double stalled; /* seconds the thread offered nothing beyond grace (see offer_load) */
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Runs dns frames through the program on one CPU, as fast as it can, until
 * told. A run slower than the quickest one had its CPU taken away for the
 * difference; what a full bucket could not hold of that time (beyond
 * o->grace) is added to o->stalled. On an idle machine here a run took
 * 0.1 ms (two CPUs offering) to 14 ms (one), and one run in twenty took
 * 5 to 10 ms more than the quickest: far less than a grace of 0.5 s.
 */
static void *offer_load(void *arg)
{
	struct offer *o = arg;
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 18 };
	struct frame f;
	struct fixture_run run = { .data = f.data, .repeat = 2000 };
	int fd = bpf_program__fd(skel->progs.ampguard_xdp), err;
	double t0, t1 = mono_s(), quickest = 1e9;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(o->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	run.len = frame_build(&s, &f);
	while (t1 < o->until) {
		t0 = t1;
		err = fixture_run(fd, &run);
		if (err && err != -EINTR) {
			fprintf(stderr, "  test run on CPU %d: %s\n", o->cpu, strerror(-err));
			break;
		}
		/* A signal (SIGSTOP, SIGCONT) ends a run early: its frames are not offered. */
		if (!err)
			o->offered += run.repeat;
		t1 = mono_s();
		if (t1 - t0 < quickest)
			quickest = t1 - t0;
		else if (t1 - t0 - quickest > o->grace)
			o->stalled += t1 - t0 - quickest - o->grace;
	}
	return NULL;
}

/*
 * Admissions on the real clock, with every CPU offering far more than the
 * budget: over 3 s, rate x time + burst, within 10%. The burst is half a
 * second's worth, so a busy machine that leaves an offering thread off
 * its CPU for a while does not starve the bucket of arrivals; for the
 * least allowed, the time every thread stalled is left out as well.
 */
static double accuracy(unsigned long long rate, int cpus)
{
	struct ag_counter c[AG_NR_STATS];
	unsigned long long burst = rate / 2, before, admitted;
	struct offer o[2] = { { .cpu = 0, .grace = (double)burst / rate },
			      { .cpu = 1, .grace = (double)burst / rate } };
	pthread_t t[2];
	double start, elapsed, want, want_lo, offered, stalled;
	int i;

	set_clock(0); /* the program's own clock */
	limit(rate, burst, 0, 0, 0, 0, AG_SRC_FULL_EVICT);
	ag_stats_read(bpf_map__fd(skel->maps.stats), c);
	before = c[AG_STATS_IDX(DNS, AG_R_RL_PASS)].packets;
	start = mono_s();
	for (i = 0; i < cpus; i++) {
		o[i].until = start + 3.0;
		pthread_create(&t[i], NULL, offer_load, &o[i]);
	}
	for (i = 0; i < cpus; i++)
		pthread_join(t[i], NULL);
	elapsed = mono_s() - start;
	ag_stats_read(bpf_map__fd(skel->maps.stats), c);
	admitted = c[AG_STATS_IDX(DNS, AG_R_RL_PASS)].packets - before;
	want = rate * elapsed + burst;
	stalled = cpus == 2 && o[1].stalled < o[0].stalled ? o[1].stalled : o[0].stalled;
	want_lo = rate * (elapsed - stalled) + burst;
	offered = o[0].offered + o[1].offered;
	printf("  %llu pps on %d CPU(s): offered %.0f pps, admitted %llu in %.3f s (stalled "
	       "%.3f s), %.3f of rate x time + burst\n",
	       rate, cpus, offered / elapsed, admitted, elapsed, stalled, admitted / want);
	/* Only an offer well above the budget measures the budget. */
	CHECK(offered >= 2 * want_lo,
	      "%llu pps on %d CPUs: the machine offered only %.0f pps (is it busy?)", rate, cpus,
	      offered / elapsed);
	CHECK(admitted >= want_lo * 0.9 && admitted <= want * 1.1,
	      "%llu pps on %d CPUs: admitted %llu, want %.0f to %.0f +-10%%", rate, cpus, admitted,
	      want_lo, want);
	return offered / elapsed;
}

/*
 * A single offering thread reaches only some 100 kpps through test runs on
 * this kind of VM, so the one-CPU case is checked at a rate it can exceed;
 * the netns suite checks one CPU up to 100 kpps with real packets. The
 * high two-CPU rate is 1M pps (AG_RL_HIGH_PPS on an emulated machine), or
 * less where the two CPUs have just offered under 3.5 times that: each run
 * needs an offer of twice its budget, and that leaves room for the machine
 * to be busier during the run than it was before it.
 */
static void test_accuracy_across_cpus(void)
{
	const char *high = getenv("AG_RL_HIGH_PPS");
	unsigned long long rate = high ? strtoull(high, NULL, 10) : 1000000;
	double offered = accuracy(1000, 2);

	if (rate > offered / 3.5) {
		rate = offered / 3.5;
		printf("  the two CPUs offered %.0f pps: the high rate is %llu pps\n", offered,
		       rate);
	}
	accuracy(rate, 2);
	accuracy(1000, 1);
}

/* Spoofed floods come from one prefix: its sources must not crowd a few sets. */
static void test_source_sets_spread(void)
{
	static bool seen[AG_SRC_ENTRIES];
	unsigned int i, sets = 0;
	__u8 a[16];

	for (i = 0; i < 256; i++) {
		mapped(0xcb007100 + i, a); /* 203.0.113.0/24 */
		sets += !seen[ag_src_set(a, DNS)];
		seen[ag_src_set(a, DNS)] = true;
	}
	CHECK(sets >= 250, "a /24 lands in %u sets", sets);
}

static void test_rate_parsing(void)
{
	unsigned long long v;

	CHECK(ag_parse_rate("20000", 1000000000ULL, &v) == 0 && v == 20000, "20000");
	CHECK(ag_parse_rate("20k", 1000000000ULL, &v) == 0 && v == 20000, "20k");
	CHECK(ag_parse_rate("1.5M", 1000000000ULL, &v) == 0 && v == 1500000, "1.5M");
	CHECK(ag_parse_rate("50M", 10000000000000ULL, &v) == 0 && v == 50000000, "50M");
	CHECK(ag_parse_rate("1G", 1000000000ULL, &v) == 0 && v == 1000000000, "1G");
	CHECK(ag_parse_rate("2G", 1000000000ULL, &v) == -ERANGE, "2G over the maximum");
	CHECK(ag_parse_rate("1.5", 1000000000ULL, &v) == -ERANGE, "fraction of a packet");
	CHECK(ag_parse_rate("5X", 1000000000ULL, &v) == -EINVAL, "5X");
	CHECK(ag_parse_rate("5kk", 1000000000ULL, &v) == -EINVAL, "5kk");
	CHECK(ag_parse_rate("-5", 1000000000ULL, &v) == -EINVAL, "-5");
	CHECK(ag_parse_rate("", 1000000000ULL, &v) == -EINVAL, "empty");
	CHECK(ag_parse_rate("k", 1000000000ULL, &v) == -EINVAL, "k alone");
}

int main(void)
{
	skel = fixture_xdp(&st);
	RUN(test_rate_parsing);
	RUN(test_source_sets_spread);
	RUN(test_accuracy_across_cpus);
	RUN(test_pps_burst_and_refill);
	RUN(test_steady_rate_is_exact);
	RUN(test_bps_budget);
	RUN(test_pps_and_bps_together);
	RUN(test_per_source_isolation);
	RUN(test_aggregate_refunds_source);
	RUN(test_full_set_policies);
	RUN(test_removing_limit_frees_sources);
	RUN(test_source_drops_across_cpus);
	RUN(test_tick_clock);
	ampguard_xdp__destroy(skel);
	return fixture_done();
}
