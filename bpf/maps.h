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

/* UDP source port -> vector slot (0: none). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} port_vec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_NR_GENERATIONS * AG_MAX_VECTORS);
	__type(key, __u32);
	__type(value, struct ag_policy);
} policy SEC(".maps");

#endif /* AMPGUARD_MAPS_H */
