/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps shared by every program instance. Userspace pins them once under
 * the state root and hands the same fds to each interface's program.
 */
#ifndef AMPGUARD_MAPS_H
#define AMPGUARD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ampguard_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_config);
} config SEC(".maps");

/* UDP port -> its vector in each generation (struct ag_port). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_PORTS);
	__type(key, __u32);
	__type(value, struct ag_port);
} port_vec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_GENERATIONS * AG_MAX_VECTORS);
	__type(key, __u32);
	__type(value, struct ag_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AG_TRACK_ENTRIES);
	__type(key, struct ag_track_key);
	__type(value, struct ag_track_val);
} track SEC(".maps");

/* Local port -> time of the latest request recorded from it (tracking
 * clock): a reply to a port with no recent request is unsolicited without
 * a hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_PORTS);
	__type(key, __u32);
	__type(value, __u64);
} track_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_GENERATIONS);
	__type(key, __u32);
	__type(value, struct ag_served);
} served SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_MAX_VECTORS);
	__type(key, __u32);
	__type(value, struct ag_rl_agg);
} rl_agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_SRC_ENTRIES);
	__type(key, __u32);
	__type(value, struct ag_src_entry);
} rl_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_src_pending);
} rl_src_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, AG_LIST_MAP_ENTRIES);
	__type(key, struct ag_lpm4);
	__type(value, __u8);
} deny4 SEC(".maps"), allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, AG_LIST_MAP_ENTRIES);
	__type(key, struct ag_lpm6);
	__type(value, __u8);
} deny6 SEC(".maps"), allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AG_FRAG_ENTRIES);
	__type(key, struct ag_frag_key);
	__type(value, struct ag_frag_val);
} frags SEC(".maps");

/* Sampled unsolicited traffic per (vector, destination); see ag_dst_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AG_DST_ENTRIES);
	__type(key, struct ag_dst_key);
	__type(value, struct ag_dst_val);
} dsts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_capture);
} capture SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_capture_bucket);
} capture_bucket SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_capture_cpu);
} capture_cpu SEC(".maps");

/* One perf ring per CPU (libbpf sizes it to the possible CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} capture_events SEC(".maps");

static __always_inline const struct ag_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

/* The vector a UDP port belongs to in generation gen, or NULL. */
static __always_inline const struct ag_port_gen *port_of(__u32 gen, __u16 port)
{
	const struct ag_port_gen *g;
	const struct ag_port *e;
	__u32 key = port;

	e = bpf_map_lookup_elem(&port_vec, &key);
	if (!e)
		return NULL;
	g = &e->gen[gen & 1];
	return g->slot ? g : NULL;
}

/* The policy of slot vec in generation gen; only the paths that need more than the action. */
static __always_inline const struct ag_policy *policy_of(__u32 gen, __u32 vec)
{
	__u32 idx = (gen & 1) * AG_MAX_VECTORS + (vec & (AG_MAX_VECTORS - 1));

	return bpf_map_lookup_elem(&policy, &idx);
}

#endif /* AMPGUARD_MAPS_H */
