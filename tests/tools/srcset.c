// SPDX-License-Identifier: GPL-2.0-only
/*
 * srcset: prints source addresses that compete for one set of the
 * per-source rate-limit table, for the end-to-end tests.
 *
 *   srcset -s BASE -v SLOT -n COUNT
 *
 * Walks the addresses BASE+1, BASE+2, ... (IPv6, or IPv4 written as an
 * IPv4-mapped address the way the datapath keys them) and prints, one per
 * line, the first COUNT that ag_src_set() puts in the set of BASE+1 for
 * vector slot SLOT. The hash is the one the datapath uses, taken from the
 * ABI header, so the addresses collide whatever the hash becomes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ampguard_abi.h"

#define MAX_TRIES (1UL << 26)

static void usage(void)
{
	fprintf(stderr, "usage: srcset -s BASE -v SLOT -n COUNT\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		usage();
	return v;
}

/* a += 1 over all 16 bytes, big-endian. */
static void increment(__u8 a[16])
{
	int i;

	for (i = 15; i >= 0; i--)
		if (++a[i])
			break;
}

int main(int argc, char **argv)
{
	char text[INET6_ADDRSTRLEN];
	struct in_addr a4;
	unsigned long count = 0, slot = 0, tries, found = 0;
	const char *base = NULL;
	__u8 addr[16];
	bool v4 = false;
	__u32 target = 0;
	int c;

	while ((c = getopt(argc, argv, "s:v:n:")) != -1) {
		switch (c) {
		case 's':
			base = optarg;
			break;
		case 'v':
			slot = number(optarg, 1000);
			break;
		case 'n':
			count = number(optarg, 16);
			break;
		default:
			usage();
		}
	}
	if (!base || !slot || !count || optind != argc)
		usage();
	memset(addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, base, &a4) == 1) {
		v4 = true;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, base, addr) != 1) {
		fprintf(stderr, "srcset: '%s' is not an address\n", base);
		return 2;
	}
	for (tries = 0; tries < MAX_TRIES && found < count; tries++) {
		increment(addr);
		if (tries == 0)
			target = ag_src_set(addr, slot);
		else if (ag_src_set(addr, slot) != target)
			continue;
		if (v4)
			inet_ntop(AF_INET, addr + 12, text, sizeof(text));
		else
			inet_ntop(AF_INET6, addr, text, sizeof(text));
		printf("%s\n", text);
		found++;
	}
	if (found < count) {
		fprintf(stderr, "srcset: found %lu of %lu addresses in one set\n", found, count);
		return 1;
	}
	return 0;
}
