// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allow/deny lists and fragment sequences through the XDP program with
 * BPF_PROG_TEST_RUN: verdicts and exact counter deltas, plus CIDR parsing.
 *
 * Invariants: every test that runs frames starts from reset(), so lists,
 * fragment entries and policy left by another test never decide a verdict;
 * every frame must move exactly one counter by one.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "frames.h"
#include "fixture.h"

#define DNS 1

static struct ampguard_xdp *skel;
static struct ag_state st;

/* Runs f; checks the verdict and that exactly (slot, reason) grew by one. */
static void expect(const struct frame *f, unsigned int slot, unsigned int reason, const char *what)
{
	struct ag_counter before[AG_NR_STATS], after[AG_NR_STATS];
	struct fixture_run r = { .data = f->data, .len = f->len };
	int stats = bpf_map__fd(skel->maps.stats);
	unsigned int idx, want = AG_STATS_IDX(slot, reason);
	__u64 total = 0;

	ag_stats_read(stats, before);
	ASSERT_OK(fixture_run(bpf_program__fd(skel->progs.ampguard_xdp), &r), what);
	ag_stats_read(stats, after);
	ASSERT_EQ(r.retval, ag_reason_drops(reason) ? XDP_DROP : XDP_PASS, what);
	for (idx = 0; idx < AG_NR_STATS; idx++)
		total += after[idx].packets - before[idx].packets;
	CHECK(total == 1 && after[want].packets == before[want].packets + 1,
	      "%s: not counted once as slot %u %s", what, slot, ag_reason_name(reason));
}

static void build(struct frame *f, struct frame_spec s)
{
	frame_build(&s, f);
}

static void reset(void)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_ifinfo info = { 0 };
	struct ag_frag_key k;

	while (!bpf_map_get_next_key(st.frags_fd, NULL, &k))
		bpf_map_delete_elem(st.frags_fd, &k);
	ag_policy_defaults(tbl);
	CHECK(ag_policy_commit(&st, tbl) == 0, "policy");
	bpf_map_update_elem(bpf_map__fd(skel->maps.ifinfo), &(__u32){ 0 }, &info, 0);
}

/* The test's program is not pinned: write both generations of its ifinfo directly. */
static void set_orphans(int mode, unsigned long long pps, unsigned long long burst)
{
	struct ag_ifinfo info = { 0 };

	info.orphan[0].mode = mode;
	ag_rate_set(&info.orphan[0].pps, pps, burst, false);
	info.orphan[1] = info.orphan[0];
	bpf_map_update_elem(bpf_map__fd(skel->maps.ifinfo), &(__u32){ 0 }, &info, 0);
}

static const struct frame_spec first4 = { .sport = 53,
					  .dport = 40000,
					  .payload = 64,
					  .frag = FF_FIRST,
					  .frag_id = 100 };
static const struct frame_spec later4 = { .sport = 53,
					  .dport = 40000,
					  .payload = 64,
					  .frag = FF_LATER,
					  .frag_id = 100 };

static void test_first_then_later(void)
{
	struct frame_spec a = first4, b = later4;
	struct frame f;

	reset();
	build(&f, a);
	expect(&f, DNS, AG_R_POLICY_DROP, "first fragment, unsolicited dns");
	build(&f, b);
	expect(&f, DNS, AG_R_FRAG_DROP, "later fragment follows the drop");
	expect(&f, DNS, AG_R_FRAG_DROP, "and the one after");

	a.sport = b.sport = 40000; /* no vector: the datagram passes */
	a.frag_id = b.frag_id = 101;
	build(&f, a);
	expect(&f, 0, AG_R_NO_VECTOR, "first fragment from a non-vector port");
	build(&f, b);
	expect(&f, 0, AG_R_FRAG_PASS, "its later fragment passes");
}

static void test_later_before_first(void)
{
	struct frame fa, fb;

	reset();
	build(&fb, later4);
	expect(&fb, 0, AG_R_ORPHAN_PASS, "later fragment first: an orphan");
	build(&fa, first4);
	expect(&fa, DNS, AG_R_POLICY_DROP, "then its first");
	expect(&fb, DNS, AG_R_FRAG_DROP, "a later one after the first follows it");
}

static void test_interleaved_datagrams(void)
{
	struct frame_spec a1 = first4, a2 = later4, b1 = first4, b2 = later4;
	struct frame f;

	reset();
	b1.sport = b2.sport = 40000;
	b1.frag_id = b2.frag_id = 200;
	build(&f, a1);
	expect(&f, DNS, AG_R_POLICY_DROP, "A first");
	build(&f, b1);
	expect(&f, 0, AG_R_NO_VECTOR, "B first");
	build(&f, a2);
	expect(&f, DNS, AG_R_FRAG_DROP, "A later");
	build(&f, b2);
	expect(&f, 0, AG_R_FRAG_PASS, "B later");
	/* Same ID, other source: another datagram. */
	a2.saddr_last = 9;
	build(&f, a2);
	expect(&f, 0, AG_R_ORPHAN_PASS, "same ID from another source");
}

static void test_ipv6_and_other_protocols(void)
{
	struct frame_spec a = first4, b = later4;
	struct frame f;

	reset();
	a.ipv6 = b.ipv6 = 1;
	a.ext_hdrs = b.ext_hdrs = 1;
	build(&f, a);
	expect(&f, DNS, AG_R_POLICY_DROP, "ipv6 first fragment");
	build(&f, b);
	expect(&f, DNS, AG_R_FRAG_DROP, "ipv6 later fragment");

	a = first4, b = later4;
	a.l4 = b.l4 = IPPROTO_ICMP;
	a.frag_id = b.frag_id = 300;
	build(&f, a);
	expect(&f, 0, AG_R_NOT_UDP, "icmp first fragment");
	build(&f, b);
	expect(&f, 0, AG_R_FRAG_PASS, "icmp later fragment is not an orphan");
}

static void test_orphan_policies(void)
{
	struct frame f;
	int i;

	reset();
	build(&f, later4);
	set_orphans(AG_ORPHAN_DROP, 0, 0);
	expect(&f, 0, AG_R_ORPHAN_DROP, "orphans: drop");
	set_orphans(AG_ORPHAN_PASS, 0, 0);
	expect(&f, 0, AG_R_ORPHAN_PASS, "orphans: pass");
	set_orphans(AG_ORPHAN_RATELIMIT, 1, 3); /* 3 at once, then one a second */
	skel->bss->clock_override_ns = 1000000000000ULL;
	for (i = 0; i < 3; i++)
		expect(&f, 0, AG_R_ORPHAN_PASS, "orphans: ratelimit, within burst");
	expect(&f, 0, AG_R_ORPHAN_DROP, "orphans: ratelimit, over it");
	skel->bss->clock_override_ns += 1000000000ULL;
	expect(&f, 0, AG_R_ORPHAN_PASS, "orphans: ratelimit, a second later");
	skel->bss->clock_override_ns = 0;
}

static void list_add(enum ag_list_kind list, const char *cidr)
{
	struct ag_list_op op = { .list = list };
	struct ag_lpm6 key;
	char why[128];
	int family;

	CHECK(ag_cidr_parse(cidr, &family, &key, why, sizeof(why)) == 0, "%s: %s", cidr, why);
	op.family = family;
	op.prefixlen = key.prefixlen;
	memcpy(op.addr, key.addr, 16);
	CHECK(ag_commit(&st, &(struct ag_change){ .ops = &op, .nr_ops = 1 }) == 0, "adding %s",
	      cidr);
}

static void test_lists_and_precedence(void)
{
	struct frame_spec dns = { .sport = 53, .dport = 40000, .payload = 20, .saddr_last = 7 };
	struct frame_spec tcp = { .l4 = IPPROTO_TCP, .sport = 40000, .dport = 80, .saddr_last = 7 };
	struct frame_spec dns6 = dns;
	struct ag_config cfg;
	struct frame f;

	reset();
	bpf_map_lookup_elem(st.config_fd, &(__u32){ 0 }, &cfg);
	CHECK(cfg.lists[0] == 0 && cfg.lists[1] == 0, "empty lists are flagged empty");

	list_add(AG_LIST_ALLOW, "192.0.2.0/24");
	build(&f, dns);
	expect(&f, 0, AG_R_ALLOWLIST, "allowlisted source passes a dropping vector");
	dns.saddr4 = 0xc6336407; /* 198.51.100.7: not listed */
	build(&f, dns);
	expect(&f, DNS, AG_R_POLICY_DROP, "an unlisted source meets the vector");
	dns.saddr4 = 0;

	list_add(AG_LIST_DENY, "192.0.2.4/30");
	build(&f, dns);
	expect(&f, 0, AG_R_DENYLIST, "deny wins over allow (192.0.2.7 in 192.0.2.4/30)");
	build(&f, tcp);
	expect(&f, 0, AG_R_DENYLIST, "deny applies to every protocol");
	dns.saddr_last = 8;
	build(&f, dns);
	expect(&f, 0, AG_R_ALLOWLIST, "192.0.2.8 is outside the /30");

	dns6.ipv6 = 1;
	build(&f, dns6);
	expect(&f, DNS, AG_R_POLICY_DROP, "ipv6 lists are empty");
	list_add(AG_LIST_DENY, "2001:db8::/32");
	expect(&f, 0, AG_R_DENYLIST, "ipv6 deny");
	list_add(AG_LIST_ALLOW, "2001:db8::7/128");
	expect(&f, 0, AG_R_DENYLIST, "ipv6 deny still wins over allow");

	bpf_map_lookup_elem(st.config_fd, &(__u32){ 0 }, &cfg);
	CHECK(cfg.lists[0] == (AG_LIST_ALLOW4 | AG_LIST_DENY4 | AG_LIST_DENY6 | AG_LIST_ALLOW6) &&
		      cfg.lists[1] == cfg.lists[0],
	      "list flags %#x %#x", cfg.lists[0], cfg.lists[1]);
	CHECK(cfg.allow_n == 2 && cfg.deny_n == 2, "counts %u %u", cfg.allow_n, cfg.deny_n);
}

static void test_cidr_parsing(void)
{
	static const char *const bad[] = { "300.1.2.3/8",
					   "2001:db8::/129",
					   "192.0.2.1/24",
					   "192.0.2.0/33",
					   "192.0.2.0/",
					   "/24",
					   "foo",
					   "192.0.2.0/-1",
					   "2001:db8::1/32",
					   "" };
	struct ag_lpm6 key;
	char why[128];
	unsigned int i;
	int family;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(ag_cidr_parse(bad[i], &family, &key, why, sizeof(why)) == -EINVAL,
		      "'%s' accepted", bad[i]);
	ag_cidr_parse("192.0.2.1/24", &family, &key, why, sizeof(why));
	CHECK(strstr(why, "192.0.2.0/24"), "host-bits hint: %s", why);
	CHECK(ag_cidr_parse("192.0.2.0/24", &family, &key, why, sizeof(why)) == 0 &&
		      family == AF_INET && key.prefixlen == 24 && key.addr[2] == 2,
	      "192.0.2.0/24");
	CHECK(ag_cidr_parse("2001:db8::/32", &family, &key, why, sizeof(why)) == 0 &&
		      family == AF_INET6 && key.prefixlen == 32,
	      "2001:db8::/32");
	CHECK(ag_cidr_parse("203.0.113.9", &family, &key, why, sizeof(why)) == 0 &&
		      key.prefixlen == 32,
	      "a bare address is a /32");
	CHECK(ag_cidr_parse("0.0.0.0/0", &family, &key, why, sizeof(why)) == 0 &&
		      key.prefixlen == 0,
	      "0.0.0.0/0");
}

int main(void)
{
	skel = fixture_xdp(&st);
	RUN(test_cidr_parsing);
	RUN(test_first_then_later);
	RUN(test_later_before_first);
	RUN(test_interleaved_datagrams);
	RUN(test_ipv6_and_other_protocols);
	RUN(test_orphan_policies);
	RUN(test_lists_and_precedence);
	ampguard_xdp__destroy(skel);
	return fixture_done();
}
