// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference classifier (refclass.c) against hand-written expectations
 * taken from the README, without any BPF: so that when fuzz_datapath finds
 * the program and the reference agreeing, the reference itself is known
 * to say what the documentation says.
 *
 * Invariants: no BPF object is loaded and no kernel is needed; the
 * expectations come from the README, never from running refclass.c.
 */
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/in.h>

#include "ampguard.h"
#include "fixture.h"
#include "frames.h"
#include "refclass.h"

static struct ref_config cfg;
static struct ref_state rs;

static void defaults(void)
{
	unsigned int i;

	ref_config_init(&cfg);
	for (i = 0; i < ag_nr_builtins; i++) {
		cfg.vec[i + 1].port = ag_builtins[i].port;
		cfg.vec[i + 1].action = ag_builtins[i].action;
		cfg.vec[i + 1].track_timeout_ms = ag_builtins[i].track_timeout_ms;
		cfg.vec[i + 1].in_use = 1;
	}
	ref_state_clear(&rs);
}

static void expect_bytes(const __u8 *d, size_t len, unsigned int slot, unsigned int reason,
			 const char *what)
{
	struct ref_verdict v;
	int drop = reason == AG_R_POLICY_DROP || reason == AG_R_DENYLIST ||
		   reason == AG_R_FRAG_DROP || reason == AG_R_ORPHAN_DROP;

	ref_classify(&cfg, &rs, d, len, &v);
	CHECK(v.vec == slot && v.reason == reason && v.xdp == (drop ? XDP_DROP : XDP_PASS),
	      "%s: got slot %u %s (%s), want slot %u %s", what, v.vec, ref_reason_name(v.reason),
	      v.why, slot, ref_reason_name(reason));
}

static void expect(const struct frame_spec *s, unsigned int slot, unsigned int reason,
		   const char *what)
{
	struct frame f;

	frame_build(s, &f);
	expect_bytes(f.data, f.len, slot, reason, what);
}

static void test_vectors_and_protocols(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 20 };
	unsigned int i;

	defaults();
	for (i = 0; i < ag_nr_builtins; i++) {
		s.sport = ag_builtins[i].port;
		expect(&s, i + 1,
		       ag_builtins[i].action == AG_ACT_DROP ? AG_R_POLICY_DROP : AG_R_MONITOR,
		       ag_builtins[i].name);
	}
	s.sport = 40000;
	expect(&s, 0, AG_R_NO_VECTOR, "udp from 40000");
	expect(&(struct frame_spec){ .l4 = IPPROTO_TCP, .sport = 53 }, 0, AG_R_NOT_UDP, "tcp");
	expect(&(struct frame_spec){ .l4 = IPPROTO_ICMP, .ipv6 = 1 }, 0, AG_R_NOT_UDP, "icmpv6");
	expect(&(struct frame_spec){ .ethertype = 0x0806 }, 0, AG_R_NOT_IP, "arp");
	cfg.vec[1].action = AG_ACT_PASS;
	expect(&(struct frame_spec){ .sport = 53, .dport = 40000 }, 1, AG_R_POLICY_PASS,
	       "dns set to pass");
}

static void test_header_chains(void)
{
	struct frame_spec s = { .sport = 123, .dport = 40000, .payload = 48 };
	char what[64];
	int n;

	defaults();
	for (n = 0; n <= 2; n++) {
		s.vlan_tags = n;
		expect(&s, 2, AG_R_POLICY_DROP, "tagged");
	}
	s.vlan_tags = 3;
	expect(&s, 0, AG_R_PARSE_LIMIT, "three tags");
	s.vlan_tags = 0;
	s.ipv6 = 1;
	for (n = 0; n <= AG_MAX_EXT_HDRS; n++) {
		s.ext_hdrs = n;
		snprintf(what, sizeof(what), "%d extension headers", n);
		expect(&s, 2, AG_R_POLICY_DROP, what);
	}
	s.ext_hdrs = AG_MAX_EXT_HDRS + 1;
	expect(&s, 0, AG_R_PARSE_LIMIT, "nine extension headers");
	s.ipv6 = 0;
	s.ext_hdrs = 0;
	for (s.ip_opt_words = 1; s.ip_opt_words <= 10; s.ip_opt_words++)
		expect(&s, 2, AG_R_POLICY_DROP, "ipv4 options");
}

/* "A frame that cannot be parsed completely is passed": every cut of a valid frame. */
static void test_truncations(void)
{
	struct frame_spec specs[] = {
		{ .sport = 53, .dport = 40000, .payload = 40, .ip_opt_words = 2 },
		{ .ipv6 = 1, .sport = 53, .dport = 40000, .payload = 40, .ext_hdrs = 2 },
		{ .vlan_tags = 2, .sport = 53, .dport = 40000, .payload = 40 },
	};
	struct ref_verdict v;
	struct frame f;
	unsigned int i;
	size_t len;

	defaults();
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		frame_build(&specs[i], &f);
		for (len = 14; len < f.len; len++) {
			ref_classify(&cfg, &rs, f.data, len, &v);
			CHECK(v.xdp == XDP_PASS && v.vec == 0 &&
				      (v.reason == AG_R_TRUNCATED || v.reason == AG_R_MALFORMED),
			      "spec %u cut to %zu: %s", i, len, v.why);
		}
	}
}

static void test_malformed(void)
{
	struct frame_spec s = { .sport = 53, .dport = 40000, .payload = 40 };
	struct frame f;

	defaults();
	frame_build(&s, &f);
	f.data[f.l3_off] = 0x43;
	expect_bytes(f.data, f.len, 0, AG_R_MALFORMED, "IHL 3");
	frame_build(&s, &f);
	f.data[f.l3_off] = 0x55;
	expect_bytes(f.data, f.len, 0, AG_R_MALFORMED, "version 5");
	frame_build(&s, &f);
	f.data[f.l3_off + 2] = 0x7f;
	expect_bytes(f.data, f.len, 0, AG_R_TRUNCATED, "total length past the frame");
	frame_build(&s, &f);
	f.data[f.l4_off + 4] = 0x02;
	expect_bytes(f.data, f.len, 0, AG_R_MALFORMED, "udp length past the datagram");
	frame_build(&s, &f);
	f.data[f.l4_off + 4] = 0;
	f.data[f.l4_off + 5] = 4;
	expect_bytes(f.data, f.len, 0, AG_R_MALFORMED, "udp length below its header");
	s.payload = 0;
	frame_build(&s, &f); /* 42 bytes padded to 60: padding is not a header */
	expect_bytes(f.data, f.len, 1, AG_R_POLICY_DROP, "padded frame");
}

static void add_cidr(struct ref_cidr *l, unsigned int *n, const char *addr, int plen)
{
	struct ref_cidr *c = &l[(*n)++];

	memset(c, 0, sizeof(*c));
	c->family = strchr(addr, ':') ? 6 : 4;
	c->prefixlen = plen;
	inet_pton(c->family == 6 ? AF_INET6 : AF_INET, addr, c->addr);
}

static void test_lists(void)
{
	struct frame_spec dns = { .sport = 53, .dport = 40000, .saddr_last = 7 };
	struct frame_spec tcp = { .l4 = IPPROTO_TCP, .sport = 40000, .dport = 80, .saddr_last = 7 };
	struct frame f;

	defaults();
	add_cidr(cfg.allow, &cfg.nr_allow, "192.0.2.0", 24);
	expect(&dns, 0, AG_R_ALLOWLIST, "allowed");
	add_cidr(cfg.deny, &cfg.nr_deny, "192.0.2.4", 30);
	expect(&dns, 0, AG_R_DENYLIST, "deny wins");
	expect(&tcp, 0, AG_R_DENYLIST, "deny applies to tcp");
	dns.saddr_last = 8;
	expect(&dns, 0, AG_R_ALLOWLIST, "outside the /30");
	/* The source of a datagram cut after its IP header is still judged. */
	dns.saddr_last = 7;
	frame_build(&dns, &f);
	expect_bytes(f.data, f.l3_off + 20, 0, AG_R_DENYLIST, "denied, truncated");
	dns.ipv6 = 1;
	expect(&dns, 1, AG_R_POLICY_DROP, "ipv6 lists empty");
	add_cidr(cfg.deny, &cfg.nr_deny, "2001:db8::", 32);
	expect(&dns, 0, AG_R_DENYLIST, "ipv6 deny");
}

static void test_fragments(void)
{
	struct frame_spec first = {
		.sport = 53, .dport = 40000, .payload = 64, .frag = FF_FIRST, .frag_id = 100
	};
	struct frame_spec later = first;

	defaults();
	later.frag = FF_LATER;
	expect(&later, 0, AG_R_ORPHAN_PASS, "orphan");
	cfg.orphan = AG_ORPHAN_DROP;
	expect(&later, 0, AG_R_ORPHAN_DROP, "orphan, dropped");
	expect(&first, 1, AG_R_POLICY_DROP, "first");
	expect(&later, 1, AG_R_FRAG_DROP, "later follows");
	later.saddr_last = 9;
	expect(&later, 0, AG_R_ORPHAN_DROP, "same id, other source");
	later.saddr_last = 0;
	later.l4 = IPPROTO_TCP;
	expect(&later, 0, AG_R_ORPHAN_DROP, "same id, other protocol");
	first.sport = 40000;
	first.frag_id = later.frag_id = 101;
	later.l4 = 0;
	expect(&first, 0, AG_R_NO_VECTOR, "first, no vector");
	expect(&later, 0, AG_R_FRAG_PASS, "later passes");
	first.ipv6 = later.ipv6 = 1;
	first.ext_hdrs = later.ext_hdrs = 2;
	first.sport = 123;
	expect(&first, 2, AG_R_POLICY_DROP, "ipv6 first");
	expect(&later, 2, AG_R_FRAG_DROP, "ipv6 later");
	first.l4 = later.l4 = IPPROTO_ICMP;
	first.frag_id = later.frag_id = 102;
	first.ipv6 = later.ipv6 = 0;
	expect(&first, 0, AG_R_NOT_UDP, "icmp first");
	expect(&later, 0, AG_R_FRAG_PASS, "icmp later is not an orphan");
}

static void test_served_and_tracking(void)
{
	struct frame_spec reply = { .sport = 53, .dport = 40000, .payload = 40 };
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30, .outgoing = 1 };
	struct ag_track_key k;
	struct frame f;

	defaults();
	ref_serve(&cfg, 123, 1);
	expect(&(struct frame_spec){ .sport = 123, .dport = 123 }, 2, AG_R_SERVED, "served");
	expect(&(struct frame_spec){ .sport = 123, .dport = 124 }, 2, AG_R_POLICY_DROP,
	       "not served");

	expect(&reply, 1, AG_R_POLICY_DROP, "before the request");
	frame_build(&q, &f);
	CHECK(ref_record_request(&cfg, &rs, f.data, f.len, &k) == 1, "request recorded");
	expect(&reply, 1, AG_R_SOLICITED, "reply");
	reply.dport = 40001;
	expect(&reply, 1, AG_R_POLICY_DROP, "to another local port");
	reply.dport = 40000;
	reply.saddr_last = 9;
	expect(&reply, 1, AG_R_POLICY_DROP, "from another server");
	reply.saddr_last = 0;
	cfg.vec[1].track_timeout_ms = 0;
	expect(&reply, 1, AG_R_POLICY_DROP, "tracking off");
	cfg.vec[1].track_timeout_ms = 5000;
	ref_track_add(&rs, &k, 1);
	expect(&reply, 1, AG_R_POLICY_DROP, "expired");

	q.dport = 8080;
	frame_build(&q, &f);
	CHECK(ref_record_request(&cfg, &rs, f.data, f.len, &k) == 0, "no vector: not recorded");
	q.dport = 53;
	q.l4 = IPPROTO_TCP;
	frame_build(&q, &f);
	CHECK(ref_record_request(&cfg, &rs, f.data, f.len, &k) == 0, "tcp: not recorded");
}

int main(void)
{
	if (ref_state_init(&rs, 1024)) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	RUN(test_vectors_and_protocols);
	RUN(test_header_chains);
	RUN(test_truncations);
	RUN(test_malformed);
	RUN(test_lists);
	RUN(test_fragments);
	RUN(test_served_and_tracking);
	ref_state_free(&rs);
	return fixture_done();
}
