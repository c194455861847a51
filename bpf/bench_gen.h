/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the benchmark front ends share: each frame gets the next source
 * address of a rotating set, then the program under test runs through a
 * tail call, so per-source state sees as many distinct sources as a real
 * flood would. Every contender runs behind the same front end, and the
 * IPv4 and IPv6 ones pay the same cost: one per-CPU lookup, one 4-byte store.
 */
#ifndef AMPGUARD_BENCH_GEN_H
#define AMPGUARD_BENCH_GEN_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 nr_sources = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cursor SEC(".maps");

/* Writes base + the next index of the rotation, big-endian, to *field. */
static __always_inline int rotate_source(__u32 *field, __u32 base)
{
	__u32 zero = 0, *next;

	next = bpf_map_lookup_elem(&cursor, &zero);
	if (!next)
		return -1;
	if (++*next >= nr_sources)
		*next = 0;
	*field = bpf_htonl(base + *next);
	return 0;
}

#endif /* AMPGUARD_BENCH_GEN_H */
