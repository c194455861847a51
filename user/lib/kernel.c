// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the running kernel offers, found by asking it, never by reading its
 * config (containers and minimal images have none). ag_kernel_probe()
 * refuses a kernel that lacks anything ampguard needs, in one line naming
 * the kernel, the feature and the release that brought it, before anything
 * is loaded or pinned; where a kernel lacks only a faster way (BPF atomics),
 * it records which build of the classifier to load instead.
 *
 * AMPGUARD_PROBE_FAIL=NAME makes the probe NAME report its feature missing,
 * so the refusal path can be tested on any kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kernel.h"

#define AG_KERNEL_FLOOR "5.10"

/* Enough to build the few instructions the probes need. */
#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define INSN_CALL(fn) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define INSN_MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define INSN_EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int load_xdp_insns(const struct bpf_insn *insns, size_t n)
{
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "ag_probe", "GPL", insns, n, NULL);

	return fd < 0 ? -errno : fd;
}

/* 1 present, 0 absent, < 0 the probe itself failed. */
typedef int (*probe_fn)(int arg);

static int probe_prog_type(int type)
{
	return libbpf_probe_bpf_prog_type(type, NULL);
}

static int probe_map_type(int type)
{
	return libbpf_probe_bpf_map_type(type, NULL);
}

static int probe_xdp_helper(int helper)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, helper, NULL);
}

static int probe_tc_helper(int helper)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, helper, NULL);
}

/* Maps whose values hold spin locks need the kernel to take BTF. */
static int probe_btf(int unused)
{
	struct btf *btf = btf__new_empty();
	int err, fd;

	(void)unused;
	if (!btf)
		return -errno;
	err = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	if (err < 0) {
		btf__free(btf);
		return err;
	}
	err = btf__load_into_kernel(btf);
	fd = btf__fd(btf);
	if (!err && fd >= 0)
		err = 1;
	else if (err == -EINVAL || err == -ENOSYS || err == -EOPNOTSUPP)
		err = 0;
	btf__free(btf);
	return err;
}

/*
 * XDP through a bpf_link. A link request naming no program fails with
 * EBADF on kernels that know the XDP attach type (or look the program up
 * first, as every later one does) and with EINVAL before 5.9.
 */
static int probe_xdp_link(int unused)
{
	int fd;

	(void)unused;
	fd = bpf_link_create(-1, 0, BPF_XDP, NULL);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == EBADF)
		return 1;
	return errno == EINVAL ? 0 : -errno;
}

static const struct feature {
	const char *name; /* for AMPGUARD_PROBE_FAIL */
	const char *what;
	const char *since;
	probe_fn probe;
	int arg;
} features[] = {
	{ "btf", "BTF", "4.18", probe_btf, 0 },
	{ "xdp", "XDP programs", "4.8", probe_prog_type, BPF_PROG_TYPE_XDP },
	{ "tc", "TC (cls_bpf) programs", "4.1", probe_prog_type, BPF_PROG_TYPE_SCHED_CLS },
	{ "array", "array maps", "3.19", probe_map_type, BPF_MAP_TYPE_ARRAY },
	{ "percpu_array", "per-CPU array maps", "4.6", probe_map_type, BPF_MAP_TYPE_PERCPU_ARRAY },
	{ "lru_hash", "LRU hash maps", "4.10", probe_map_type, BPF_MAP_TYPE_LRU_HASH },
	{ "lpm_trie", "LPM trie maps", "4.11", probe_map_type, BPF_MAP_TYPE_LPM_TRIE },
	{ "ktime", "the bpf_ktime_get_ns helper", "4.1", probe_xdp_helper, BPF_FUNC_ktime_get_ns },
	{ "jiffies64", "the bpf_jiffies64 helper", "5.5", probe_xdp_helper, BPF_FUNC_jiffies64 },
	{ "spin_lock", "the bpf_spin_lock helper in XDP", "5.1", probe_xdp_helper,
	  BPF_FUNC_spin_lock },
	{ "skb_pull_data", "the bpf_skb_pull_data helper", "4.9", probe_tc_helper,
	  BPF_FUNC_skb_pull_data },
	{ "xdp_link", "XDP attachment through bpf_link", "5.9", probe_xdp_link, 0 },
};

static bool forced_missing(const char *name)
{
	const char *env = getenv("AMPGUARD_PROBE_FAIL");
	size_t len = strlen(name);

	while (env && *env) {
		if (!strncmp(env, name, len) && (env[len] == ',' || env[len] == '\0'))
			return true;
		env = strchr(env, ',');
		env = env ? env + 1 : NULL;
	}
	return false;
}

/* BPF compare-and-swap (Linux 5.12): without it the locked build is loaded. */
static int probe_atomics(void)
{
	const struct bpf_insn insns[] = {
		INSN_MOV_IMM(BPF_REG_1, 0),
		INSN(BPF_STX | BPF_DW | BPF_MEM, BPF_REG_10, BPF_REG_1, -8, 0),
		INSN_MOV_IMM(BPF_REG_0, 0),
		INSN(BPF_STX | BPF_DW | BPF_ATOMIC, BPF_REG_10, BPF_REG_1, -8, BPF_CMPXCHG),
		INSN_MOV_IMM(BPF_REG_0, XDP_PASS),
		INSN_EXIT(),
	};
	int fd;

	if (forced_missing("atomics"))
		return 0;
	fd = load_xdp_insns(insns, sizeof(insns) / sizeof(insns[0]));
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return fd == -EINVAL ? 0 : fd;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One read of the kernel's jiffies (low 32 bits), at the middle of [*before, *after]. */
static int read_jiffies(int prog_fd, __u32 *j, __u64 *at, __u64 *len)
{
	__u8 frame[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame));
	__u64 before = mono_ns(), after;

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	after = mono_ns();
	*j = opts.retval;
	*at = before + (after - before) / 2;
	*len = after - before;
	return 0;
}

/*
 * The monotonic time at which jiffies change next, to within `slack` ns:
 * the change must fall between two reads at most that far apart (a read
 * preempted or slowed by a busy machine is not taken; the next edge is).
 * -ETIME when no edge could be timed that closely within a second.
 */
static int next_tick(int prog_fd, __u64 slack, __u32 *j, __u64 *edge)
{
	__u64 t, prev_t, len, deadline = mono_ns() + 1000000000ULL;
	__u32 start, now;
	int err;

	err = read_jiffies(prog_fd, &start, &prev_t, &len);
	while (!err) {
		err = read_jiffies(prog_fd, &now, &t, &len);
		if (err)
			break;
		if (now != start) {
			if (t - prev_t <= slack && len <= slack) {
				*j = now;
				*edge = prev_t + (t - prev_t) / 2;
				return 0;
			}
			start = now;
		}
		prev_t = t;
		if (t > deadline)
			return -ETIME;
	}
	return err;
}

/*
 * Both edges of a span of at least `min_span` ns, the slack doubled (and
 * the span with it) while no edge can be timed.
 */
static int time_span(int fd, __u64 slack, __u64 min_span, __u32 *j0, __u64 *t0, __u32 *j1,
		     __u64 *t1)
{
	__u64 span;
	int err = -ETIME, tries;

	for (tries = 0; tries < 8 && err == -ETIME; tries++, slack *= 2) {
		span = 100 * slack < min_span ? min_span : 100 * slack;
		if (span > 2000000000)
			span = 2000000000;
		err = next_tick(fd, slack, j0, t0);
		if (err)
			continue;
		usleep(span / 1000);
		err = next_tick(fd, slack, j1, t1);
	}
	return err;
}

static const __u32 common_hz[] = { 100, 250, 300, 1000 };

/* The HZ Linux configures nearest to `measured` when within `tolerance` of it; 0 if none. */
static __u32 snap_hz(double measured, double tolerance)
{
	unsigned int i;

	for (i = 0; i < sizeof(common_hz) / sizeof(common_hz[0]); i++)
		if (measured > common_hz[i] * (1 - tolerance) &&
		    measured < common_hz[i] * (1 + tolerance))
			return common_hz[i];
	return 0;
}

/*
 * HZ: the ticks between two tick edges, over the time between them. An
 * edge is timed to within a few test runs of the jiffies-reading program,
 * but the tick itself comes late when the machine is busy (a guest whose
 * CPU the host took away, an interrupt held off), and at 250 HZ a 50 ms
 * span is 12 ticks: a tick 2 ms late is 4% of error. So the span starts
 * at 50 ms (a quiet machine needs no more) and doubles, up to 800 ms,
 * until the rate is within 2% of a value Linux configures. 250 and 300,
 * the closest pair, are 20% apart: the last span's rate is snapped to
 * the nearest within 8%, and taken as measured otherwise.
 */
static int measure_hz(__u32 *hz)
{
	const struct bpf_insn insns[] = {
		INSN_CALL(BPF_FUNC_jiffies64),
		INSN_EXIT(),
	};
	__u64 t0, t1, len, run = ~0ULL, min_span;
	__u32 j0, j1;
	double measured = 0;
	unsigned int i;
	int fd, err = 0;

	fd = load_xdp_insns(insns, sizeof(insns) / sizeof(insns[0]));
	if (fd < 0)
		return fd;
	for (i = 0; i < 20 && !err; i++) {
		err = read_jiffies(fd, &j0, &t0, &len);
		if (len < run)
			run = len;
	}
	for (min_span = 50000000; !err && min_span <= 800000000; min_span *= 2) {
		err = time_span(fd, 4 * run + 20000, min_span, &j0, &t0, &j1, &t1);
		if (err)
			break;
		measured = (double)(__u32)(j1 - j0) * 1e9 / (double)(t1 - t0);
		if (snap_hz(measured, 0.02))
			break;
	}
	close(fd);
	if (err)
		return err;
	*hz = snap_hz(measured, 0.08);
	if (!*hz)
		*hz = (__u32)(measured + 0.5);
	return *hz ? 0 : -ERANGE;
}

int ag_kernel_probe(struct ag_kernel *k)
{
	struct utsname u;
	unsigned int i;
	int have, err;

	memset(k, 0, sizeof(*k));
	if (!uname(&u))
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	for (i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];

		have = forced_missing(f->name) ? 0 : f->probe(f->arg);
		if (have < 0)
			return ag_bpf_err(have, "probing the kernel's BPF features");
		if (!have) {
			ag_err("Linux %s lacks %s (since Linux %s): ampguard needs Linux %s or later",
			       k->release, f->what, f->since, AG_KERNEL_FLOOR);
			return -EOPNOTSUPP;
		}
	}
	have = probe_atomics();
	if (have < 0)
		return ag_bpf_err(have, "probing the kernel's BPF features");
	k->atomics = have;
	err = measure_hz(&k->hz);
	if (err)
		return ag_bpf_err(err, "measuring the kernel's tick rate (HZ)");
	return 0;
}
