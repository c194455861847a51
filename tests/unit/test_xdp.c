// SPDX-License-Identifier: GPL-2.0-only
/*
 * Drives the real XDP object with BPF_PROG_TEST_RUN on hand-built frames
 * and asserts the verdict and the exact counter delta of every frame:
 * one packet and its bytes under the expected vector and reason, nothing
 * anywhere else.
 *
 * Invariants: one object is loaded for the whole run, with the default
 * policy; the tests that change the policy start from reset_policy() or
 * undo what they change, so none depends on another's. Counters are read
 * around each single frame, so a frame counted twice or under another
 * reason fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "frames.h"
#include "fixture.h"
#include "cpus.h"

#define WSD_SLOT 3 /* ws-discovery, port 3702 */

static struct ampguard_xdp *skel;
static struct ag_state st;
static struct ag_counter before[AG_NR_STATS], after[AG_NR_STATS];

static void read_counters(struct ag_counter *out)
{
	int err = ag_stats_read(bpf_map__fd(skel->maps.stats), out);

	CHECK(err == 0, "reading stats: %d", err);
}

/*
 * Runs one frame; checks the verdict and that exactly (slot, reason) grew
 * by one packet of len bytes.
 */
static void expect(const void *data, size_t len, int verdict, unsigned int slot,
		   unsigned int reason, const char *what)
{
	struct fixture_run r = { .data = data, .len = len };
	unsigned int idx, want = AG_STATS_IDX(slot, reason);
	int err;

	read_counters(before);
	err = fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r);
	read_counters(after);
	ASSERT_OK(err, what);
	ASSERT_EQ(r.retval, verdict, what);
	for (idx = 0; idx < AG_NR_STATS; idx++) {
		__u64 dp = after[idx].packets - before[idx].packets;
		__u64 db = after[idx].bytes - before[idx].bytes;

		if (idx == want) {
			CHECK(dp == 1 && db == len,
			      "%s: %s/%s grew by %llu pkts %llu bytes, want 1 and %zu", what,
			      ag_builtins[slot ? slot - 1 : 0].name, ag_reason_name(reason),
			      (unsigned long long)dp, (unsigned long long)db, len);
		} else {
			CHECK(dp == 0 && db == 0, "%s: unexpected count at slot %u reason %s", what,
			      idx / AG_REASON__MAX, ag_reason_name(idx % AG_REASON__MAX));
		}
	}
}

static void expect_frame(const struct frame *f, int verdict, unsigned int slot, unsigned int reason,
			 const char *what)
{
	expect(f->data, f->len, verdict, slot, reason, what);
}

static void set_action(unsigned int slot, int action)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	int err;

	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	tbl[slot].action = action;
	err = err ?: ag_policy_commit(&st, tbl);
	CHECK(err == 0, "policy commit: %d", err);
}

static void reset_policy(void)
{
	struct ag_policy tbl[AG_MAX_VECTORS];

	ag_policy_defaults(tbl);
	CHECK(ag_policy_commit(&st, tbl) == 0, "policy reset");
}

static void test_builtin_vectors_drop_pass_monitor(void)
{
	static const struct {
		int action, verdict;
		unsigned int reason;
	} cases[] = {
		{ AG_ACT_DROP, XDP_DROP, AG_R_POLICY_DROP },
		{ AG_ACT_PASS, XDP_PASS, AG_R_POLICY_PASS },
		{ AG_ACT_MONITOR, XDP_PASS, AG_R_MONITOR },
	};
	struct frame f;
	unsigned int i, c;
	char what[64];

	for (i = 0; i < ag_nr_builtins; i++) {
		frame_udp4(&f, ag_builtins[i].port, 40000);
		for (c = 0; c < 3; c++) {
			set_action(i + 1, cases[c].action);
			snprintf(what, sizeof(what), "%s %s", ag_builtins[i].name,
				 ag_action_name(cases[c].action));
			expect_frame(&f, cases[c].verdict, i + 1, cases[c].reason, what);
		}
	}
	reset_policy();
}

static void test_default_profile(void)
{
	struct frame f;
	unsigned int i;
	char what[64];

	reset_policy();
	for (i = 0; i < ag_nr_builtins; i++) {
		int drop = ag_builtins[i].action == AG_ACT_DROP;

		frame_udp4(&f, ag_builtins[i].port, 40000);
		snprintf(what, sizeof(what), "default %s", ag_builtins[i].name);
		expect_frame(&f, drop ? XDP_DROP : XDP_PASS, i + 1,
			     drop ? AG_R_POLICY_DROP : AG_R_MONITOR, what);
	}
}

static void test_non_vector_and_other_protocols(void)
{
	struct frame_spec tcp53 = { .l4 = IPPROTO_TCP, .sport = 53, .dport = 40000 };
	struct frame_spec icmp = { .l4 = IPPROTO_ICMP, .payload = 16 };
	struct frame_spec icmp6 = { .ipv6 = 1, .l4 = IPPROTO_ICMP, .payload = 16 };
	struct frame_spec arp = { .ethertype = 0x0806 };
	struct frame f;

	frame_udp4(&f, 40000, 53);
	expect_frame(&f, XDP_PASS, 0, AG_R_NO_VECTOR, "udp to port 53, from 40000");
	frame_udp4(&f, 5000, 5000);
	expect_frame(&f, XDP_PASS, 0, AG_R_NO_VECTOR, "udp from 5000");
	frame_build(&tcp53, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_NOT_UDP, "tcp from 53");
	frame_build(&icmp, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_NOT_UDP, "icmp");
	frame_build(&icmp6, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_NOT_UDP, "icmpv6");
	frame_build(&arp, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_NOT_IP, "arp");
}

static void test_vlan_qinq(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 20 };
	struct frame f;

	s.vlan_tags = 1;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_POLICY_DROP, "802.1Q dns");
	s.vlan_tags = 2;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_POLICY_DROP, "QinQ dns");
	s.ipv6 = 1;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_POLICY_DROP, "QinQ ipv6 dns");
	s.vlan_tags = 3;
	frame_build(&s, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_PARSE_LIMIT, "three tags");
}

static void test_ipv6_and_ext_headers(void)
{
	struct frame_spec s = { .ipv6 = 1, .sport = 123, .dport = 40000, .payload = 48 };
	struct frame f;
	char what[64];
	int n;

	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 2, AG_R_POLICY_DROP, "ipv6 ntp");
	for (n = 1; n <= AG_MAX_EXT_HDRS; n++) {
		s.ext_hdrs = n;
		frame_build(&s, &f);
		snprintf(what, sizeof(what), "ipv6 ntp behind %d ext headers", n);
		expect_frame(&f, XDP_DROP, 2, AG_R_POLICY_DROP, what);
	}
	s.ext_hdrs = AG_MAX_EXT_HDRS + 1;
	frame_build(&s, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_PARSE_LIMIT, "ext headers past the limit");

	/* Hop-by-hop and routing headers are walked like destination options. */
	s.ext_hdrs = 2;
	frame_build(&s, &f);
	f.data[f.l3_off + 6] = IPPROTO_HOPOPTS;
	f.data[f.l3_off + 40] = IPPROTO_ROUTING;
	expect_frame(&f, XDP_DROP, 2, AG_R_POLICY_DROP, "hop-by-hop + routing");
}

static void test_ipv4_options(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 10 };
	struct frame f;
	char what[64];

	for (s.ip_opt_words = 1; s.ip_opt_words <= 10; s.ip_opt_words++) {
		frame_build(&s, &f);
		snprintf(what, sizeof(what), "ws-discovery with IHL %d", 5 + s.ip_opt_words);
		expect_frame(&f, XDP_DROP, 3, AG_R_POLICY_DROP, what);
	}
}

static void check_truncations(const struct frame *f, const char *name)
{
	int fd = bpf_program__fd(skel->progs.ampguard_xdp);
	struct fixture_run r;
	unsigned int idx;
	char what[80];
	size_t len;
	int err;

	for (len = 14; len < f->len; len++) {
		snprintf(what, sizeof(what), "%s cut to %zu", name, len);
		r = (struct fixture_run){ .data = f->data, .len = len };
		read_counters(before);
		err = fixture_run(fd, &r);
		read_counters(after);
		CHECK(err == 0 && r.retval == XDP_PASS, "%s: verdict %u (err %d)", what, r.retval,
		      err);
		for (idx = 0; idx < AG_NR_STATS; idx++) {
			__u64 dp = after[idx].packets - before[idx].packets;
			unsigned int reason = idx % AG_REASON__MAX;

			if (dp)
				CHECK(dp == 1 && idx / AG_REASON__MAX == 0 &&
					      ag_reason_unparsed(reason),
				      "%s: counted as %s", what, ag_reason_name(reason));
		}
		/* exactly one counter moved */
		{
			__u64 total = 0;

			for (idx = 0; idx < AG_NR_STATS; idx++)
				total += after[idx].packets - before[idx].packets;
			CHECK(total == 1, "%s: %llu counters moved", what,
			      (unsigned long long)total);
		}
	}
	/*
	 * Frames shorter than an Ethernet header: the test runner of newer
	 * kernels refuses them; 5.10's runs them, and then they must pass as
	 * truncated.
	 */
	for (len = 0; len < 14; len++) {
		struct ag_counter before[AG_NR_STATS], after[AG_NR_STATS];

		r = (struct fixture_run){ .data = f->data, .len = len };
		read_counters(before);
		err = fixture_run(fd, &r);
		read_counters(after);
		if (err == -EINVAL)
			continue;
		CHECK(err == 0 && r.retval == XDP_PASS, "%s cut to %zu: err %d, verdict %u", name,
		      len, err, r.retval);
		CHECK(after[AG_STATS_IDX(0, AG_R_TRUNCATED)].packets ==
			      before[AG_STATS_IDX(0, AG_R_TRUNCATED)].packets + 1,
		      "%s cut to %zu: not counted as truncated", name, len);
	}
	expect_frame(f, XDP_DROP, 1, AG_R_POLICY_DROP, name);
}

static void test_truncations_never_drop(void)
{
	struct frame_spec v4 = { .sport = 53, .dport = 40000, .payload = 40, .ip_opt_words = 2 };
	struct frame_spec v6 = {
		.ipv6 = 1, .sport = 53, .dport = 40000, .payload = 40, .ext_hdrs = 2
	};
	struct frame_spec vlan = { .vlan_tags = 2, .sport = 53, .dport = 40000, .payload = 40 };
	struct frame f;

	frame_build(&v4, &f);
	check_truncations(&f, "ipv4 dns");
	frame_build(&v6, &f);
	check_truncations(&f, "ipv6 dns");
	frame_build(&vlan, &f);
	check_truncations(&f, "qinq dns");
}

/* Sequences are in test_lists_frags; here: each kind of fragment is classified. */
static void test_fragments(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 64 };
	struct frame f;

	s.frag = FF_LATER;
	frame_build(&s, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_ORPHAN_PASS, "ipv4 later fragment, first unseen");
	s.frag = FF_FIRST;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_POLICY_DROP, "ipv4 first fragment");
	s.frag = FF_LATER;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_FRAG_DROP, "ipv4 later fragment after its first");
	s.ipv6 = 1;
	s.frag = FF_FIRST;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_POLICY_DROP, "ipv6 first fragment");
	s.frag = FF_LATER;
	frame_build(&s, &f);
	expect_frame(&f, XDP_DROP, 1, AG_R_FRAG_DROP, "ipv6 later fragment after its first");
	s.ext_hdrs = 3;
	s.frag_id = 7;
	frame_build(&s, &f);
	expect_frame(&f, XDP_PASS, 0, AG_R_ORPHAN_PASS, "ipv6 orphan behind ext headers");
}

static void test_malformed_headers(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 40 };
	struct frame f;

	frame_build(&s, &f);
	f.data[f.l3_off] = 0x43; /* IHL 3 */
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "ipv4 IHL 3");
	frame_build(&s, &f);
	f.data[f.l3_off] = 0x4f; /* IHL 15: 60 bytes, longer than the datagram */
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "ipv4 IHL past total length");
	frame_build(&s, &f);
	f.data[f.l3_off] = 0x55;
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "ip version 5");
	frame_build(&s, &f);
	f.data[f.l3_off + 2] = 0x7f; /* total length far past the frame */
	expect_frame(&f, XDP_PASS, 0, AG_R_TRUNCATED, "ipv4 total length past frame");
	frame_build(&s, &f);
	f.data[f.l4_off + 4] = 0x02; /* UDP length 512+ in a short datagram */
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "udp length past frame");
	frame_build(&s, &f);
	f.data[f.l4_off + 4] = 0;
	f.data[f.l4_off + 5] = 4;
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "udp length below header");
	s.ipv6 = 1;
	frame_build(&s, &f);
	f.data[f.l3_off + 4] = 0x40; /* payload length past the frame */
	expect_frame(&f, XDP_PASS, 0, AG_R_TRUNCATED, "ipv6 payload length past frame");
	frame_build(&s, &f);
	f.data[f.l4_off + 4] = 0x02;
	expect_frame(&f, XDP_PASS, 0, AG_R_MALFORMED, "ipv6 udp length past frame");
}

static void test_padding_is_not_truncation(void)
{
	struct frame f;

	/* 14 + 20 + 8 + 0 = 42 bytes of headers, padded to 60 on the wire. */
	struct frame_spec s = { .sport = 123, .dport = 40000 };

	frame_build(&s, &f);
	CHECK(f.len == 60, "padded length %zu", f.len);
	expect_frame(&f, XDP_DROP, 2, AG_R_POLICY_DROP, "padded ntp");
}

static void test_custom_port_and_slot_reuse(void)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	unsigned int slot = AG_FIRST_CUSTOM_SLOT;
	struct frame f;

	reset_policy();
	ag_policy_read(st.config_fd, st.policy_fd, tbl);
	tbl[slot] = (struct ag_policy){ .port = 5000, .action = AG_ACT_DROP, .in_use = 1 };
	CHECK(ag_policy_commit(&st, tbl) == 0, "commit port 5000");
	frame_udp4(&f, 5000, 40000);
	expect_frame(&f, XDP_DROP, slot, AG_R_POLICY_DROP, "custom port 5000 drop");

	/* The slot moves to another port: 5000 must stop matching it. */
	tbl[slot] = (struct ag_policy){ .port = 6000, .action = AG_ACT_MONITOR, .in_use = 1 };
	CHECK(ag_policy_commit(&st, tbl) == 0, "commit port 6000");
	expect_frame(&f, XDP_PASS, 0, AG_R_NO_VECTOR, "port 5000 after its slot moved");
	frame_udp4(&f, 6000, 40000);
	expect_frame(&f, XDP_PASS, slot, AG_R_MONITOR, "custom port 6000 monitor");

	tbl[slot] = (struct ag_policy){ 0 };
	CHECK(ag_policy_commit(&st, tbl) == 0, "free slot");
	expect_frame(&f, XDP_PASS, 0, AG_R_NO_VECTOR, "port 6000 after unset");
}

static void test_generation_flip(void)
{
	struct ag_policy tbl[AG_MAX_VECTORS], back[AG_MAX_VECTORS];
	struct ag_config a, b;
	__u32 zero = 0;

	reset_policy();
	bpf_map_lookup_elem(st.config_fd, &zero, &a);
	ag_policy_read(st.config_fd, st.policy_fd, tbl);
	tbl[1].action = AG_ACT_PASS;
	CHECK(ag_policy_commit(&st, tbl) == 0, "commit");
	bpf_map_lookup_elem(st.config_fd, &zero, &b);
	CHECK(a.gen != b.gen, "generation did not flip (%u)", b.gen);
	CHECK(b.abi_version == AG_ABI_VERSION, "abi version %u", b.abi_version);
	ag_policy_read(st.config_fd, st.policy_fd, back);
	CHECK(!memcmp(tbl, back, sizeof(tbl)), "active table differs from what was committed");
	reset_policy();
}

/* The per-CPU count of (slot, reason) on this CPU: the sampler's frame number. */
static __u64 cpu_counter(unsigned int slot, unsigned int reason, int cpu)
{
	int ncpu = libbpf_num_possible_cpus();
	struct ag_counter *pc = calloc(ncpu, sizeof(*pc));
	__u32 idx = AG_STATS_IDX(slot, reason);
	__u64 n = 0;

	if (pc && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &idx, pc))
		n = pc[cpu].packets;
	free(pc);
	return n;
}

static void dsts_clear(void)
{
	struct ag_dst_key key;

	while (!bpf_map_get_next_key(st.dsts_fd, NULL, &key))
		bpf_map_delete_elem(st.dsts_fd, &key);
}

/* The entry of (slot, last byte of the local address) as the map holds it. */
static struct ag_dst_val dst_entry(unsigned int slot, int ipv6, __u8 last)
{
	struct ag_dst_key key = { .vec = slot };
	struct ag_dst_val val = { 0 };

	if (ipv6) {
		inet_pton(AF_INET6, "2001:db8::", key.addr);
	} else {
		key.addr[10] = key.addr[11] = 0xff;
		inet_pton(AF_INET, "198.51.100.0", &key.addr[12]);
	}
	key.addr[15] = last;
	bpf_map_lookup_elem(st.dsts_fd, &key, &val);
	return val;
}

static size_t dsts_count(void)
{
	struct ag_dst_entry *v;
	size_t n = 0;

	CHECK(ag_dsts_read(st.dsts_fd, &v, &n) == 0, "reading dsts");
	free(v);
	return n;
}

/*
 * Frames to two destinations in strict alternation: each destination's
 * entry holds exactly what the model (ag_dst_sampled over this CPU's frame
 * numbers) says, and the alternation does not alias with the sampling.
 */
static void test_dst_sample_model(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 100 };
	struct ag_dst_val want[2] = { { 0 } }, got;
	struct frame f[2];
	unsigned int i, n = 4096;
	cpu_set_t was;
	__u64 k;
	int cpu = sched_getcpu();

	cpus_save(&was);
	cpus_pin(cpu);
	reset_policy();
	dsts_clear();
	s.daddr_last = 1;
	frame_build(&s, &f[0]);
	s.daddr_last = 7;
	frame_build(&s, &f[1]);
	k = cpu_counter(WSD_SLOT, AG_R_POLICY_DROP, cpu);
	for (i = 0; i < n; i++) {
		struct fixture_run r = { .data = f[i & 1].data, .len = f[i & 1].len };

		ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "test run");
		if (ag_dst_sampled(++k)) {
			want[i & 1].packets += AG_DST_SAMPLE;
			want[i & 1].bytes += (__u64)f[i & 1].len * AG_DST_SAMPLE;
		}
	}
	for (i = 0; i < 2; i++) {
		got = dst_entry(WSD_SLOT, 0, i ? 7 : 1);
		ASSERT_EQ(got.packets, want[i].packets, "sampled packets");
		ASSERT_EQ(got.bytes, want[i].bytes, "sampled bytes");
		/* The estimate of 2048 frames each, from about 32 samples each. */
		CHECK(got.packets >= 1400 && got.packets <= 2700, "dst %u: %llu", i,
		      (unsigned long long)got.packets);
	}
	CHECK(dsts_count() == 2, "%zu entries", dsts_count());
	cpus_restore(&was);
}

/* Only unsolicited vector traffic is sampled, whatever the action did with it. */
static void test_dst_sample_which_reasons(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 20, .daddr_last = 9 };
	struct frame f;
	struct fixture_run r = { .data = f.data, .repeat = 256 };

	reset_policy();
	dsts_clear();
	r.len = frame_build(&s, &f);
	set_action(WSD_SLOT, AG_ACT_PASS);
	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "pass action");
	s.sport = 40001; /* no vector */
	r.len = frame_build(&s, &f);
	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "no vector");
	ASSERT_EQ(dsts_count(), 0, "entries from passed and non-vector traffic");

	s.sport = 3702;
	r.len = frame_build(&s, &f);
	set_action(WSD_SLOT, AG_ACT_MONITOR);
	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "monitor");
	CHECK(dst_entry(WSD_SLOT, 0, 9).packets >= AG_DST_SAMPLE, "monitored traffic not sampled");
	s.ipv6 = 1;
	r.len = frame_build(&s, &f);
	set_action(WSD_SLOT, AG_ACT_DROP);
	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "ipv6 drop");
	CHECK(dst_entry(WSD_SLOT, 1, 9).packets >= AG_DST_SAMPLE, "ipv6 drops not sampled");
	ASSERT_EQ(dsts_count(), 2, "entries");
	reset_policy();
}

/* ---- capture ---- */

struct cap_seen {
	unsigned int n;
	struct ag_capture_meta meta[64];
	__u8 first[64][16]; /* the first bytes of each sample */
	__u32 size[64];
};

static void cap_sample(void *arg, int cpu, void *raw, __u32 size)
{
	struct cap_seen *seen = arg;
	struct ag_capture_meta m;

	(void)cpu;
	if (seen->n < 64 && size >= sizeof(m)) {
		/* A perf record is only 4-byte aligned. */
		memcpy(&m, raw, sizeof(m));
		seen->meta[seen->n] = m;
		seen->size[seen->n] = size;
		memcpy(seen->first[seen->n], (const __u8 *)raw + sizeof(m),
		       m.caplen < 16 ? m.caplen : 16);
	}
	seen->n++;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Settings and an empty bucket: rate inc_ns per sample, burst tol_ns. */
static void cap_set(__u64 until, __u32 reasons, __u64 vectors, __u32 sample, __u64 inc, __u64 tol)
{
	struct ag_capture c = { .until_ns = until,
				.vectors = vectors,
				.reasons = reasons,
				.sample = sample,
				.snaplen = 64,
				.owner = getpid() };
	struct ag_capture_bucket b = { .inc_ns = inc, .tol_ns = tol };
	__u32 zero = 0;

	CHECK(!bpf_map_update_elem(st.capture_bucket_fd, &zero, &b, 0), "bucket");
	CHECK(!ag_capture_set(&st, &c), "capture");
}

static struct ag_capture_cpu cap_counts(void)
{
	struct ag_capture_cpu sum;
	struct ag_capture c;

	CHECK(ag_capture_read(&st, &c, &sum) == 0, "reading capture counters");
	return sum;
}

static void cap_run(const struct frame *f, unsigned int n)
{
	struct fixture_run r = { .data = f->data, .len = f->len, .repeat = n };

	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), "test run");
}

/*
 * The datapath's choice before any copy: reason and vector masks, then 1
 * in N per CPU; each sample carries the metadata and the frame's first
 * snaplen bytes.
 */
static void test_capture_masks_and_sampling(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 100 };
	struct ag_capture_cpu before, after;
	struct cap_seen seen = { 0 };
	struct perf_buffer *pb;
	struct frame wsd, dns;
	unsigned int i;

	reset_policy();
	frame_build(&s, &wsd);
	s.sport = 53;
	frame_build(&s, &dns);
	pb = perf_buffer__new(st.capture_events_fd, 8, cap_sample, NULL, &seen, NULL);
	CHECK(pb != NULL, "perf buffer");
	if (!pb)
		return;
	cap_set(mono_ns() + 10000000000ULL, 1U << AG_R_POLICY_DROP, 1ULL << WSD_SLOT, 4, 1,
		1000000000ULL);
	before = cap_counts();
	cap_run(&wsd, 40);
	cap_run(&dns, 10); /* not in the vector mask */
	perf_buffer__consume(pb);
	after = cap_counts();
	ASSERT_EQ(after.matched - before.matched, 40, "frames in the masks");
	ASSERT_EQ(after.sampled - before.sampled, 10, "one in four sampled");
	ASSERT_EQ(seen.n, 10, "samples read");
	for (i = 0; i < seen.n && i < 64; i++) {
		CHECK(seen.meta[i].vec == WSD_SLOT && seen.meta[i].reason == AG_R_POLICY_DROP,
		      "sample %u: vec %u reason %u", i, seen.meta[i].vec, seen.meta[i].reason);
		CHECK(seen.meta[i].len == wsd.len && seen.meta[i].caplen == 64,
		      "sample %u: len %u caplen %u", i, seen.meta[i].len, seen.meta[i].caplen);
		CHECK(!memcmp(seen.first[i], wsd.data, 16), "sample %u: the frame's bytes", i);
		CHECK(seen.size[i] >= sizeof(struct ag_capture_meta) + 64, "sample %u: size %u", i,
		      seen.size[i]);
	}
	cap_set(0, 0, 0, 1, 1, 1);
	perf_buffer__free(pb);
}

/* The shared rate cap: a burst of tol/inc + 1, then nothing until time passes. */
static void test_capture_rate_cap(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 20 };
	struct ag_capture_cpu before, after;
	struct cap_seen seen = { 0 };
	struct perf_buffer *pb;
	struct frame f;

	reset_policy();
	frame_build(&s, &f);
	pb = perf_buffer__new(st.capture_events_fd, 8, cap_sample, NULL, &seen, NULL);
	CHECK(pb != NULL, "perf buffer");
	if (!pb)
		return;
	/* One sample per 100 s, a burst of two. */
	cap_set(mono_ns() + 10000000000ULL, ~0U, ~0ULL, 1, 100000000000ULL, 100000000000ULL);
	before = cap_counts();
	cap_run(&f, 100);
	perf_buffer__consume(pb);
	after = cap_counts();
	ASSERT_EQ(after.sampled - before.sampled, 2, "the burst");
	ASSERT_EQ(after.capped - before.capped, 98, "the rest over the cap");
	ASSERT_EQ(seen.n, 2, "samples read");
	cap_set(0, 0, 0, 1, 1, 1);
	perf_buffer__free(pb);
}

/*
 * Off (0) counts nothing; so does a lease the configuration does not flag,
 * which the classifier never looks at; an expired lease is turned off by
 * the first frame that finds it.
 */
static void test_capture_off_and_expired(void)
{
	struct frame_spec s = { .sport = 3702, .dport = 40000, .payload = 20 };
	struct ag_capture_cpu before, after;
	struct ag_capture c;
	struct frame f;
	__u32 zero = 0;

	frame_build(&s, &f);
	cap_set(0, ~0U, ~0ULL, 1, 1, 1000000000ULL);
	before = cap_counts();
	cap_run(&f, 10);
	after = cap_counts();
	ASSERT_EQ(after.matched - before.matched, 0, "capture off");
	c = (struct ag_capture){ .until_ns = mono_ns() + 3600000000000ULL,
				 .vectors = ~0ULL,
				 .reasons = ~0U,
				 .sample = 1,
				 .snaplen = 64 };
	CHECK(!bpf_map_update_elem(st.capture_fd, &zero, &c, 0), "a lease, not flagged");
	cap_run(&f, 10);
	after = cap_counts();
	ASSERT_EQ(after.matched - before.matched, 0, "a lease without the configuration's flag");
	cap_set(mono_ns() - 1, ~0U, ~0ULL, 1, 1, 1000000000ULL);
	cap_run(&f, 10);
	after = cap_counts();
	/* The first frame finds the lease expired and turns capture off; the rest pay the check. */
	ASSERT_EQ(after.matched - before.matched, 1, "frames seen with the lease expired");
	ASSERT_EQ(after.sampled - before.sampled, 0, "samples with the lease expired");
	CHECK(ag_capture_read(&st, &c, &after) == 0, "reading the lease");
	ASSERT_EQ(c.until_ns, 0, "an expired lease is turned off by the first frame that sees it");
	cap_set(0, 0, 0, 1, 1, 1);
}

int main(void)
{
	skel = fixture_xdp(&st);
	RUN(test_default_profile);
	RUN(test_builtin_vectors_drop_pass_monitor);
	RUN(test_non_vector_and_other_protocols);
	RUN(test_vlan_qinq);
	RUN(test_ipv6_and_ext_headers);
	RUN(test_ipv4_options);
	RUN(test_truncations_never_drop);
	RUN(test_fragments);
	RUN(test_malformed_headers);
	RUN(test_padding_is_not_truncation);
	RUN(test_custom_port_and_slot_reuse);
	RUN(test_generation_flip);
	RUN(test_dst_sample_model);
	RUN(test_dst_sample_which_reasons);
	RUN(test_capture_masks_and_sampling);
	RUN(test_capture_rate_cap);
	RUN(test_capture_off_and_expired);

	ampguard_xdp__destroy(skel);
	return fixture_done();
}
