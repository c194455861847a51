// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counters: summing the per-CPU stats maps, zeroing a freed slot's, and
 * snapshots of every interface's counters with the policy they were
 * counted under; the capture's settings and counters.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "tables.h"

/* Sums the per-CPU counters. */
int ag_stats_read(int stats_fd, struct ag_counter out[AG_NR_STATS])
{
	struct ag_counter *percpu;
	int ncpu, cpu, err;
	__u32 idx;

	percpu = ag_percpu_buf(AG_NR_STATS, sizeof(*percpu), &ncpu);
	if (!percpu)
		return ncpu;
	err = ag_array_read(stats_fd, AG_NR_STATS, percpu, ncpu * sizeof(*percpu));
	for (idx = 0; !err && idx < AG_NR_STATS; idx++) {
		const struct ag_counter *row = &percpu[(size_t)idx * ncpu];

		out[idx] = (struct ag_counter){ 0 };
		for (cpu = 0; cpu < ncpu; cpu++) {
			out[idx].packets += row[cpu].packets;
			out[idx].bytes += row[cpu].bytes;
		}
	}
	free(percpu);
	return err;
}

int ag_stats_zero_slot(int stats_fd, unsigned int slot)
{
	struct ag_counter *zero;
	__u32 reason, idx;
	int ncpu, err = 0;

	zero = ag_percpu_buf(1, sizeof(*zero), &ncpu);
	if (!zero)
		return ncpu;
	for (reason = 0; reason < AG_REASON__MAX && !err; reason++) {
		idx = AG_STATS_IDX(slot, reason);
		if (bpf_map_update_elem(stats_fd, &idx, zero, 0))
			err = -errno;
	}
	free(zero);
	return err;
}

struct collect_arg {
	const struct ag_state *st;
	const char *only;
	struct ag_snapshot *snap;
};

static bool iface_has_link(const struct ag_state *st, const char *ifname)
{
	char path[PATH_MAX];

	return !ag_iface_pin(st, ifname, "link", path, sizeof(path)) && access(path, F_OK) == 0;
}

static int collect_iface(const char *ifname, void *arg)
{
	struct collect_arg *a = arg;
	struct ag_iface_counters *ifc, *grown;
	char path[PATH_MAX];
	int fd, err;

	if (a->only && strcmp(a->only, ifname))
		return 0;
	if (ag_iface_pin(a->st, ifname, "stats", path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0 && iface_has_link(a->st, ifname))
		ag_warn("%s: its counters' pin is missing: any change, such as 'ampguard attach %s', restores it",
			ifname, ifname);
	if (fd < 0)
		return 0; /* detached while we looked */
	grown = realloc(a->snap->ifs, (a->snap->n + 1) * sizeof(*grown));
	if (!grown) {
		close(fd);
		return -ENOMEM;
	}
	a->snap->ifs = grown;
	ifc = &grown[a->snap->n];
	snprintf(ifc->name, sizeof(ifc->name), "%s", ifname);
	err = ag_stats_read(fd, ifc->c);
	close(fd);
	if (!err)
		a->snap->n++;
	return err;
}

/* Counters of every protected interface (or only one) and the active policy. */
int ag_snapshot_take(const struct ag_state *st, const char *only, struct ag_snapshot *snap)
{
	struct collect_arg arg = { .st = st, .only = only, .snap = snap };
	int err;

	snap->n = 0;
	err = ag_policy_read(st->config_fd, st->policy_fd, snap->tbl);
	err = err ?: ag_for_each_iface(st, collect_iface, &arg);
	snap->when = ag_mono_s();
	return err;
}

/* The capture's settings and its per-CPU counters summed (zero when none ran). */
int ag_capture_read(const struct ag_state *st, struct ag_capture *cap, struct ag_capture_cpu *sum)
{
	struct ag_capture_cpu *percpu;
	int ncpu, cpu, err;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(st->capture_fd, &zero, cap))
		return -errno;
	percpu = ag_percpu_buf(1, sizeof(*percpu), &ncpu);
	if (!percpu)
		return ncpu;
	err = bpf_map_lookup_elem(st->capture_cpu_fd, &zero, percpu) ? -errno : 0;
	for (cpu = 0; !err && cpu < ncpu; cpu++) {
		sum->matched += percpu[cpu].matched;
		sum->sampled += percpu[cpu].sampled;
		sum->capped += percpu[cpu].capped;
		sum->failed += percpu[cpu].failed;
	}
	free(percpu);
	return err;
}

/*
 * Writes the capture's settings, then says in the configuration whether
 * a lease is set (until_ns), which is all the classifier reads of capture
 * while none is. The caller holds the writer lock: writers rewrite the
 * whole configuration.
 */
int ag_capture_set(const struct ag_state *st, const struct ag_capture *cap)
{
	struct ag_config cfg;
	__u32 zero = 0;

	if (bpf_map_update_elem(st->capture_fd, &zero, cap, 0) ||
	    bpf_map_lookup_elem(st->config_fd, &zero, &cfg))
		return -errno;
	cfg.capture = cap->until_ns != 0;
	return bpf_map_update_elem(st->config_fd, &zero, &cfg, 0) ? -errno : 0;
}
