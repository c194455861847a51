// SPDX-License-Identifier: GPL-2.0-only
/*
 * Addresses: CIDRs as operators write them, to LPM keys with the host bits
 * refused, and the per-source table's addresses back to text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* The bits of address byte i that lie past a prefix of plen bits. */
static __u8 host_bits(unsigned int i, unsigned long plen)
{
	if (i * 8 >= plen)
		return 0xff;
	if (i * 8 + 8 <= plen)
		return 0;
	return 0xff >> (plen - i * 8);
}

/*
 * "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). The
 * prefix goes in key->prefixlen, the address in key->addr (4 or 16 bytes).
 */
int ag_cidr_parse(const char *s, int *family, struct ag_lpm6 *key, char *why, size_t why_len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	unsigned long plen, max;
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int i, dirty = 0;

	memset(key, 0, sizeof(*key));
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, why_len, "not an address");
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, key->addr) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, key->addr) == 1) {
		*family = AF_INET6;
		max = 128;
	} else {
		snprintf(why, why_len, "'%s' is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	plen = max;
	if (slash && ag_parse_uint(slash + 1, max, &plen)) {
		snprintf(why, why_len, "prefix length must be 0-%lu", max);
		return -EINVAL;
	}
	for (i = 0; i < max / 8; i++)
		dirty |= key->addr[i] & host_bits(i, plen);
	if (dirty) {
		/* name the network the operator probably meant */
		for (i = 0; i < max / 8; i++)
			key->addr[i] &= ~host_bits(i, plen);
		inet_ntop(*family, key->addr, addr, sizeof(addr));
		snprintf(why, why_len, "host bits are set (did you mean %s/%lu?)", addr, plen);
		return -EINVAL;
	}
	key->prefixlen = plen;
	return 0;
}

/* A per-source table address (IPv4 mapped into IPv6) as text. */
void ag_fmt_src_addr(const __u8 *a, char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}
