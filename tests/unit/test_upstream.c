// SPDX-License-Identifier: GPL-2.0-only
/*
 * The upstream layer's pure parts: the exact ExaBGP text of every kind of
 * rule (the routers' side is tested end to end), the protect prefixes'
 * matching, and the upstream: section of the configuration file, each
 * refusal by its message. Rows, one per expected behaviour; no state.
 */
#include <string.h>
#include <arpa/inet.h>

#include "ampguard.h"
#include "fixture.h"

static struct ag_upstream_conf conf(void)
{
	struct ag_upstream_conf u = { .local_as = 65001, .max_rules = 64 };

	strcpy(u.local_address, "198.18.0.1");
	return u;
}

static struct ag_up_rule rule(const char *dst, __u16 port, int action)
{
	struct ag_up_rule r = { .port = port, .action = action, .rate_bps = 1000000 };

	ag_up_addr_parse(dst, &r.family, r.addr);
	return r;
}

static struct ag_cidr cidr(const char *s)
{
	struct ag_cidr c;
	char why[64];

	ag_cidr_parse(s, &c.family, &c.key, why, sizeof(why));
	return c;
}

/* The routes of r as one string, "|" between routes, or "E<errno>". */
static const char *routes(const struct ag_up_rule *r, const struct ag_upstream_conf *u,
			  const struct ag_cidr *allow, size_t n, size_t max)
{
	static char out[4096];
	struct ag_up_route v[8];
	int i, got = ag_up_routes(r, u, allow, n, v, max);

	if (got < 0) {
		snprintf(out, sizeof(out), "E%d", -got);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < got; i++) {
		strcat(out, i ? "|" : "");
		strcat(out, v[i].text);
	}
	return out;
}

#define ROUTES(r, u, allow, n, max, want)                                 \
	CHECK(!strcmp(routes(&(r), &(u), allow, n, max), want), "got %s", \
	      routes(&(r), &(u), allow, n, max))

static void test_flow_discard_and_rate_limit(void)
{
	struct ag_upstream_conf u = conf();
	struct ag_up_rule r = rule("192.0.2.2", 53, AG_UP_DISCARD);

	ROUTES(r, u, NULL, 0, 8,
	       "flow route { match { destination 192.0.2.2/32; protocol udp; source-port =53; } then { discard; } }");
	r.action = AG_UP_RATE_LIMIT;
	ROUTES(r, u, NULL, 0, 8,
	       "flow route { match { destination 192.0.2.2/32; protocol udp; source-port =53; } then { rate-limit 125000; } }");
	r = rule("2001:db8::2", 3702, AG_UP_DISCARD);
	ROUTES(r, u, NULL, 0, 8,
	       "flow route { match { destination 2001:db8::2/128/0; next-header udp; source-port =3702; } then { discard; } }");
}

static void test_allowlisted_sources_and_fragments(void)
{
	struct ag_upstream_conf u = conf();
	struct ag_up_rule r = rule("192.0.2.2", 53, AG_UP_DISCARD);
	struct ag_cidr allow[] = { cidr("198.51.100.53"), cidr("2001:db8:53::/48"),
				   cidr("203.0.113.0/24") };

	r.fragments = true;
	/* The IPv6 source is of the other family: no rule for it. */
	ROUTES(r, u, allow, 3, 8,
	       "flow route { match { destination 192.0.2.2/32; protocol udp; source-port =53; } then { discard; } }"
	       "|flow route { match { source 198.51.100.53/32; destination 192.0.2.2/32; protocol udp; source-port =53; } then { accept; } }"
	       "|flow route { match { source 203.0.113.0/24; destination 192.0.2.2/32; protocol udp; source-port =53; } then { accept; } }"
	       "|flow route { match { destination 192.0.2.2/32; protocol udp; fragment [ is-fragment ]; } then { discard; } }");
	ROUTES(r, u, allow, 3, 3, "E28"); /* ENOSPC: four routes, room for three */
	r = rule("2001:db8::2", 53, AG_UP_DISCARD);
	ROUTES(r, u, allow, 3, 8,
	       "flow route { match { destination 2001:db8::2/128/0; next-header udp; source-port =53; } then { discard; } }"
	       "|flow route { match { source 2001:db8:53::/48/0; destination 2001:db8::2/128/0; next-header udp; source-port =53; } then { accept; } }");
}

static void test_rtbh(void)
{
	struct ag_upstream_conf u = conf();
	struct ag_up_rule r = rule("192.0.2.2", 53, AG_UP_RTBH);

	ROUTES(r, u, NULL, 0, 8, "route 192.0.2.2/32 next-hop 198.18.0.1 community [65535:666]");
	r = rule("2001:db8::2", 53, AG_UP_RTBH);
	ROUTES(r, u, NULL, 0, 8, "E97"); /* EAFNOSUPPORT: no IPv6 next hop */
	strcpy(u.next_hop6, "2001:db8:ff::1");
	ROUTES(r, u, NULL, 0, 8,
	       "route 2001:db8::2/128 next-hop 2001:db8:ff::1 community [65535:666]");
	strcpy(u.local_address, "2001:db8:ff::9");
	u.next_hop6[0] = '\0';
	ROUTES(r, u, NULL, 0, 8,
	       "route 2001:db8::2/128 next-hop 2001:db8:ff::9 community [65535:666]");
	r = rule("192.0.2.2", 53, AG_UP_RTBH);
	ROUTES(r, u, NULL, 0, 8, "route 192.0.2.2/32 next-hop self community [65535:666]");
}

static void test_protect_prefixes(void)
{
	static const struct {
		const char *prefix, *addr;
		bool in;
	} rows[] = {
		{ "192.0.2.0/24", "192.0.2.2", true },
		{ "192.0.2.0/24", "192.0.3.2", false },
		{ "192.0.2.128/25", "192.0.2.127", false },
		{ "192.0.2.128/25", "192.0.2.200", true },
		{ "192.0.2.2/32", "192.0.2.2", true },
		{ "0.0.0.0/0", "203.0.113.9", true },
		{ "2001:db8::/64", "2001:db8::2", true },
		{ "2001:db8::/64", "2001:db8:1::2", false },
		{ "2001:db8::/64", "192.0.2.2", false },
		{ "192.0.2.0/24", "::ffff:192.0.2.2", false },
		{ "2001:db8::/61", "2001:db8:0:7::1", true },
		{ "2001:db8::/61", "2001:db8:0:8::1", false },
	};
	unsigned int i;
	__u8 a[16];
	int fam;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ag_cidr c = cidr(rows[i].prefix);

		ag_up_addr_parse(rows[i].addr, &fam, a);
		CHECK(ag_up_addr_in(fam, a, &c) == rows[i].in, "%s in %s", rows[i].addr,
		      rows[i].prefix);
	}
	CHECK(ag_same_ip("2001:db8::2", "2001:0db8:0::2"), "same address, two spellings");
	CHECK(!ag_same_ip("192.0.2.2", "192.0.2.3"), "different addresses");
}

/* A file's upstream: section: 0 and the fields, or the exact error line. */
static int parse(const char *yaml, struct ag_conf *c, char *err, size_t len)
{
	ag_conf_init(c);
	return ag_conf_parse(yaml, strlen(yaml), "t.yaml", false, c, err, len);
}

#define UP_HEAD                          \
	"upstream:\n  local-as: 65001\n" \
	"  router-id: 198.18.0.1\n"      \
	"  local-address: 198.18.0.1\n"  \
	"  neighbors:\n    - { address: 198.18.0.2, peer-as: 65000 }\n"

static void test_config_section(void)
{
	struct ag_conf c;
	char err[256] = "";

	ASSERT_OK(parse(UP_HEAD "  protect: [ 192.0.2.0/24, 2001:db8::/64 ]\n  link-bps: 10G\n"
				"  announce-at: 50%\n  action: rate-limit\n  rate-limit-bps: 100M\n"
				"  hold: 5m\n  max-rules: 64\n  withdraw-on-exit: false\n",
			&c, err, sizeof(err)),
		  err);
	ASSERT_EQ(c.upstream.enabled, 1, "enabled");
	ASSERT_EQ(c.upstream.local_as, 65001, "local-as");
	ASSERT_EQ(c.upstream.nr_neighbors, 1, "neighbors");
	ASSERT_EQ(c.upstream.neighbors[0].peer_as, 65000, "peer-as");
	ASSERT_EQ(c.upstream.nr_protect, 2, "protect");
	ASSERT_EQ(c.upstream.link_bps, 10000000000ULL, "link-bps");
	ASSERT_EQ(c.upstream.announce_at, 50, "announce-at");
	ASSERT_EQ(c.upstream.action, AG_UP_RATE_LIMIT, "action");
	ASSERT_EQ(c.upstream.rate_limit_bps, 100000000, "rate-limit-bps");
	ASSERT_EQ(c.upstream.hold_ms, 300000, "hold");
	ASSERT_EQ(c.upstream.withdraw_on_exit, 0, "withdraw-on-exit");
	ag_conf_free(&c);

	ASSERT_OK(parse(UP_HEAD, &c, err, sizeof(err)), err);
	ASSERT_EQ(c.upstream.action, AG_UP_DISCARD, "default action");
	ASSERT_EQ(c.upstream.hold_ms, AG_UP_HOLD_MS, "default hold");
	ASSERT_EQ(c.upstream.max_rules, AG_UP_MAX_RULES, "default max-rules");
	ASSERT_EQ(c.upstream.withdraw_on_exit, 1, "default withdraw-on-exit");
	ASSERT_EQ(c.upstream.link_bps, 0, "no link-bps: no automatic rules");
	ag_conf_free(&c);
	parse("detection: { interval: 1s }\n", &c, err, sizeof(err));
	ASSERT_EQ(c.upstream.enabled, 0, "no section, no upstream");
	ag_conf_free(&c);
}

static void test_config_refusals(void)
{
	static const struct {
		const char *yaml, *err;
	} rows[] = {
		{ "upstream:\n  local-as: 65001\n",
		  "t.yaml:2:3: upstream needs local-as, router-id, local-address and at least one neighbor" },
		{ UP_HEAD "  action: drop\n",
		  "t.yaml:7:11: bad action 'drop': use discard, rate-limit or rtbh" },
		{ UP_HEAD "  action: rate-limit\n",
		  "t.yaml:2:3: action rate-limit needs rate-limit-bps (the rate the router lets through)" },
		{ UP_HEAD "  announce-at: 50\n",
		  "t.yaml:7:16: bad announce-at '50': use a percentage of link-bps, e.g. 50%" },
		{ UP_HEAD "  announce-at: 150%\n",
		  "t.yaml:7:16: bad announce-at '150%': use 1% to 100%" },
		{ UP_HEAD "  protect: [ 192.0.2.1/24 ]\n",
		  "t.yaml:7:14: bad protect prefix '192.0.2.1/24': host bits are set (did you mean 192.0.2.0/24?)" },
		{ UP_HEAD "  router-id: 2001:db8::1\n",
		  "t.yaml:7:3: duplicate key 'router-id' (first at line 3)" },
		{ "upstream:\n  local-as: 0\n",
		  "t.yaml:2:13: bad local-as '0': use an AS number from 1 to 4294967295" },
		{ UP_HEAD "  max-rules: 0\n",
		  "t.yaml:7:14: max-rules must be a count from 1 to 10000" },
		{ UP_HEAD "  speaker: bird\n",
		  "t.yaml:7:12: bad speaker 'bird': use exabgp (the daemon runs it) or external (you run it)" },
		{ UP_HEAD "  next-hop6: 192.0.2.1\n",
		  "t.yaml:7:14: next-hop6 must be an IPv6 address" },
		{ UP_HEAD "  withdraw-on-exit: maybe\n",
		  "t.yaml:7:21: bad withdraw-on-exit 'maybe': use true or false" },
		{ UP_HEAD "  neighbours: []\n",
		  "t.yaml:7:3: unknown key 'neighbours' in upstream" },
	};
	struct ag_conf c;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		CHECK(parse(rows[i].yaml, &c, err, sizeof(err)) != 0, "row %u accepted", i);
		CHECK(!strcmp(err, rows[i].err), "row %u: got '%s'", i, err);
		ag_conf_free(&c);
	}
}

int main(void)
{
	RUN(test_flow_discard_and_rate_limit);
	RUN(test_allowlisted_sources_and_fragments);
	RUN(test_rtbh);
	RUN(test_protect_prefixes);
	RUN(test_config_section);
	RUN(test_config_refusals);
	return fixture_done();
}
