// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bucket arithmetic of the ratelimit action, driven through the XDP
 * program with BPF_PROG_TEST_RUN on a clock the test sets (the program's
 * clock_override_ns), so every admission count is exact.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "frames.h"
#include "harness.h"

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
static struct result send_from(unsigned int n, __u8 src, int v6, int payload)
{
	struct frame_spec s = { .ipv6 = v6, .sport = 53, .dport = 40000, .payload = payload,
				.saddr_last = src };
	struct ag_counter before[AG_NR_STATS], after[AG_NR_STATS];
	int fd = bpf_program__fd(skel->progs.ampguard_xdp), stats = bpf_map__fd(skel->maps.stats);
	struct result r = { 0 };
	struct frame f;
	unsigned int i;

	frame_build(&s, &f);
	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data, .data_size_in = f.len,
			    .repeat = 1);

		ag_stats_read(stats, before);
		CHECK(bpf_prog_test_run_opts(fd, &opts) == 0, "test run");
		ag_stats_read(stats, after);
#define GREW(reason) (after[AG_STATS_IDX(DNS, reason)].packets != before[AG_STATS_IDX(DNS, reason)].packets)
		if (GREW(AG_R_RL_PASS)) {
			r.pass++;
			CHECK(opts.retval == XDP_PASS, "admitted but verdict %u", opts.retval);
		} else if (GREW(AG_R_RL_AGGREGATE)) {
			r.agg++;
			CHECK(opts.retval == XDP_DROP, "aggregate excess passed");
		} else if (GREW(AG_R_RL_SOURCE)) {
			r.src++;
			CHECK(opts.retval == XDP_DROP, "per-source excess passed");
		} else {
			r.other++;
		}
#undef GREW
	}
	return r;
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
	struct ag_src_key key = { .vec = DNS };
	struct ag_src_state val;

	set_clock(T0);
	limit(3, 3, 0, 0, 10, 10, AG_SRC_FULL_EVICT);
	expect(send_from(3, 1, 0, 18), 3, 0, 0, "A takes the whole aggregate");
	expect(send_from(1, 2, 0, 18), 0, 1, 0, "B is over the aggregate");
	key.addr[10] = key.addr[11] = 0xff;
	key.addr[12] = 192, key.addr[13] = 0, key.addr[14] = 2, key.addr[15] = 2;
	CHECK(bpf_map_lookup_elem(st.rl_src_fd, &key, &val) == 0, "B's entry");
	CHECK(val.admitted == 0 && val.dropped == 1, "B admitted %llu dropped %llu",
	      (unsigned long long)val.admitted, (unsigned long long)val.dropped);
	CHECK(val.tat_pkt <= now_ns, "B's budget was charged for a packet the aggregate dropped");
}

static void fill_table(void)
{
	struct ag_src_meta meta = { .inserted = AG_SRC_ENTRIES };

	bpf_map_update_elem(st.rl_src_meta_fd, &(__u32){ 0 }, &meta, 0);
}

static void test_table_full_policies(void)
{
	unsigned long before;
	struct ag_src_meta meta;

	set_clock(T0);
	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_DROP);
	expect(send_from(1, 1, 0, 18), 1, 0, 0, "known source A");
	fill_table();
	expect(send_from(2, 3, 0, 18), 0, 0, 2, "full, drop: a new source is dropped");
	expect(send_from(1, 1, 0, 18), 1, 0, 0, "full, drop: known A keeps its budget");

	limit(1, 1, 0, 0, 5, 5, AG_SRC_FULL_AGGREGATE);
	fill_table();
	expect(send_from(2, 4, 0, 18), 1, 1, 0, "full, aggregate: new source judged by aggregate");
	ag_track_count(st.rl_src_fd, &before);
	CHECK(before == 0, "aggregate mode inserted the newcomer (%lu entries)", before);

	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_EVICT);
	fill_table();
	expect(send_from(6, 5, 0, 18), 5, 0, 1, "full, evict: newcomer gets a fresh bucket");
	bpf_map_lookup_elem(st.rl_src_meta_fd, &(__u32){ 0 }, &meta);
	CHECK(meta.inserted == AG_SRC_ENTRIES + 1, "insert count %llu",
	      (unsigned long long)meta.inserted);
}

static void test_removing_limit_frees_sources(void)
{
	struct ag_src_meta meta;
	unsigned long n;

	set_clock(T0);
	limit(0, 0, 0, 0, 5, 5, AG_SRC_FULL_EVICT);
	meta.inserted = 0; /* undo the fake fills of earlier tests */
	bpf_map_update_elem(st.rl_src_meta_fd, &(__u32){ 0 }, &meta, 0);
	send_from(1, 1, 0, 18);
	send_from(1, 2, 0, 18);
	ag_track_count(st.rl_src_fd, &n);
	CHECK(n == 2, "%lu sources tracked", n);
	ag_src_free(&st, DNS);
	ag_track_count(st.rl_src_fd, &n);
	bpf_map_lookup_elem(st.rl_src_meta_fd, &(__u32){ 0 }, &meta);
	CHECK(n == 0 && meta.inserted == 0, "%lu sources, insert count %llu after free", n,
	      (unsigned long long)meta.inserted);
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
	int err;

	libbpf_set_print(NULL);
	skel = ampguard_xdp__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	ag_state_from_obj(&st, skel->obj);
	err = ag_state_init_maps(&st);
	if (err) {
		fprintf(stderr, "init: %s\n", strerror(-err));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	RUN(test_rate_parsing);
	RUN(test_pps_burst_and_refill);
	RUN(test_steady_rate_is_exact);
	RUN(test_bps_budget);
	RUN(test_pps_and_bps_together);
	RUN(test_per_source_isolation);
	RUN(test_aggregate_refunds_source);
	RUN(test_table_full_policies);
	RUN(test_removing_limit_frees_sources);
	ampguard_xdp__destroy(skel);
	return harness_done();
}
