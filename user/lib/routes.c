// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one upstream rule asks of the router, as ExaBGP API route text.
 * Pure functions: no I/O, so the exact text is unit-tested.
 *
 * A FlowSpec rule matches the attacked address (/32 or /128), UDP and
 * the vector's source port, and discards or rate-limits (traffic-rate in
 * bytes per second, RFC 8955 section 7.3). A router cannot tell a reply
 * the host asked for from a reflected one, so every allowlisted source of
 * the same family gets a rule of its own with the same match plus its
 * source prefix and no action (accept): RFC 8955 section 5.1 orders a rule
 * with a source component before one without, so the router lets those
 * sources through. Where the vector's later fragments are dropped, one
 * more rule matches later fragments to the address (they carry no ports).
 * RTBH is a unicast route to the address with the BLACKHOLE community
 * (RFC 7999): everything to the address is dropped, allowlist or not.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "upstream.h"

bool ag_same_ip(const char *a, const char *b)
{
	__u8 x[16], y[16];
	int fx, fy;

	return !ag_up_addr_parse(a, &fx, x) && !ag_up_addr_parse(b, &fy, y) && fx == fy &&
	       !memcmp(x, y, fx == AF_INET ? 4 : 16);
}

int ag_up_addr_parse(const char *s, int *family, __u8 addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

void ag_up_addr_str(int family, const __u8 addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, len))
		snprintf(buf, len, "?");
}

bool ag_up_addr_in(int family, const __u8 addr[16], const struct ag_cidr *c)
{
	unsigned int plen = c->key.prefixlen, full = plen / 8, rest = plen % 8;

	if (c->family != family)
		return false;
	if (memcmp(addr, c->key.addr, full))
		return false;
	return !rest || !((addr[full] ^ c->key.addr[full]) & (0xff << (8 - rest)));
}

/* The next hop of a blackhole route: ExaBGP's "self" is wrong for IPv6. */
const char *ag_up_next_hop(const struct ag_upstream_conf *u, int family)
{
	bool local6 = strchr(u->local_address, ':');

	if (family == AF_INET)
		return local6 ? "self" : u->local_address;
	if (*u->next_hop6)
		return u->next_hop6;
	return local6 ? u->local_address : NULL;
}

static int add(struct ag_up_route *out, size_t max, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add(struct ag_up_route *out, size_t max, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (*n == max)
		return -ENOSPC;
	va_start(ap, fmt);
	len = vsnprintf(out[*n].text, sizeof(out[*n].text), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(out[*n].text))
		return -E2BIG;
	(*n)++;
	return 0;
}

/*
 * The routes of one rule, at most max, into out: their number, or
 * -ENOSPC when they do not fit (each allowlisted source costs one).
 */
int ag_up_routes(const struct ag_up_rule *r, const struct ag_upstream_conf *u,
		 const struct ag_cidr *allow, size_t nr_allow, struct ag_up_route *out, size_t max)
{
	bool v6 = r->family == AF_INET6;
	const char *proto = v6 ? "next-header udp" : "protocol udp";
	char dst[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN], src[INET6_ADDRSTRLEN + 8];
	char then[64];
	size_t i, n = 0;
	int err;

	ag_up_addr_str(r->family, r->addr, addr, sizeof(addr));
	/* ExaBGP's IPv6 FlowSpec prefixes carry an offset. */
	snprintf(dst, sizeof(dst), v6 ? "%s/128/0" : "%s/32", addr);
	if (r->action == AG_UP_RTBH) {
		const char *nh = ag_up_next_hop(u, r->family);

		if (!nh)
			return -EAFNOSUPPORT;
		err = add(out, max, &n, "route %s/%d next-hop %s community [%s]", addr,
			  v6 ? 128 : 32, nh, AG_UP_RTBH_COMMUNITY);
		return err ?: (int)n;
	}
	if (r->action == AG_UP_RATE_LIMIT)
		snprintf(then, sizeof(then), "rate-limit %llu;", r->rate_bps / 8);
	else
		snprintf(then, sizeof(then), "discard;");
	err = add(out, max, &n,
		  "flow route { match { destination %s; %s; source-port =%u; } then { %s } }", dst,
		  proto, r->port, then);
	for (i = 0; !err && i < nr_allow; i++) {
		if (allow[i].family != r->family)
			continue;
		ag_cidr_str(&allow[i], src, sizeof(src));
		if (v6)
			strncat(src, "/0", sizeof(src) - strlen(src) - 1);
		err = add(out, max, &n,
			  "flow route { match { source %s; destination %s; %s; source-port =%u; } then { accept; } }",
			  src, dst, proto, r->port);
	}
	if (!err && r->fragments)
		err = add(out, max, &n,
			  "flow route { match { destination %s; %s; fragment [ is-fragment ]; } then { %s } }",
			  dst, proto, then);
	return err ?: (int)n;
}
