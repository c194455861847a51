/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel layer: what the running kernel offers (probes, HZ), the
 * datapath objects built and loaded for it, and whole-array map reads
 * that work on every kernel of the supported range. No pinned state.
 */
#ifndef AG_KERNEL_H
#define AG_KERNEL_H

#include "base.h"

/* maps.c: whole array maps, on every kernel */
int ag_array_read(int fd, __u32 n, void *values, size_t value_size);
/* Zeroed room for n per-CPU values of every possible CPU; NULL with -errno in *ncpu. */
void *ag_percpu_buf(size_t n, size_t value_size, int *ncpu);

/* kernel.c: what the running kernel offers */
struct ag_kernel {
	char release[65]; /* uname -r */
	__u32 hz;         /* jiffies per second, measured */
	bool atomics;     /* BPF compare-and-swap (Linux 5.12) */
};

int ag_kernel_probe(struct ag_kernel *k);

/* progs.c: the datapath built and set up for the running kernel */
struct ampguard_xdp;
struct ampguard_tc;
struct bpf_object;
struct ampguard_xdp *ag_xdp_open(const struct ag_kernel *k);
struct ampguard_tc *ag_tc_open(const struct ag_kernel *k);
int ag_xdp_load(struct ampguard_xdp *skel, const struct ag_kernel *k);
int ag_tc_load(struct ampguard_tc *skel, const struct ag_kernel *k);
int ag_skel_load(struct bpf_object *obj, int (*load)(void *skel), void *skel,
		 const struct ag_kernel *k);

#endif /* AG_KERNEL_H */
