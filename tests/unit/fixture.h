/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the BPF unit suites, the datapath fuzzer and the micro-benchmark
 * share: loading the real objects as attach does, running a program on
 * one frame with BPF_PROG_TEST_RUN, and counting checks.
 *
 * Invariants:
 * - fixture_run() is the only place a test calls BPF_PROG_TEST_RUN, so
 *   every caller gets the same frame, repeat and output handling.
 * - A failed check records itself and the test carries on: one run shows
 *   every difference, not only the first.
 * - Each test prints one "ok" or "not ok" line; fixture_done() prints
 *   "N passed, N failed" (tests, not checks) as the last line on stdout,
 *   which tests/run.sh reads. Check failures go to stderr.
 * - A suite that cannot start still ends with that line, so a runner
 *   counts it as a failure rather than as nothing.
 */
#ifndef AMPGUARD_FIXTURE_H
#define AMPGUARD_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"

/*
 * Tests passed and failed, and checks passed and failed in the running
 * test. Not every includer runs tests, hence unused.
 */
static int fx_passed __attribute__((unused)), fx_failed __attribute__((unused));
static int fx_checks_passed __attribute__((unused)), fx_checks_failed __attribute__((unused));

static inline void fixture_check(bool ok)
{
	if (ok)
		fx_checks_passed++;
	else
		fx_checks_failed++;
}

/* CHECK(cond, fmt, ...): a condition with its own message. */
#define CHECK(cond, fmt, ...)                                                                \
	do {                                                                                 \
		bool ___ok = (cond);                                                         \
		fixture_check(___ok);                                                        \
		if (!___ok)                                                                  \
			fprintf(stderr, "  %s:%d: %s: " fmt "\n", __FILE__, __LINE__, #cond, \
				##__VA_ARGS__);                                              \
	} while (0)

/*
 * ASSERT_EQ(actual, expected, name): both sides are evaluated once and
 * compared as long long, so an unsigned verdict compares with a signed
 * constant without a sign warning. Yields whether they were equal.
 */
#define ASSERT_EQ(actual, expected, name)                                                          \
	({                                                                                         \
		long long ___act = (long long)(actual), ___exp = (long long)(expected);            \
		bool ___ok = ___act == ___exp;                                                     \
		fixture_check(___ok);                                                              \
		if (!___ok)                                                                        \
			fprintf(stderr, "  %s:%d: %s: %s is %lld, expected %s = %lld\n", __FILE__, \
				__LINE__, (name), #actual, ___act, #expected, ___exp);             \
		___ok;                                                                             \
	})

/* ASSERT_OK(err, name): err is 0 or a negative errno, as libbpf returns. */
#define ASSERT_OK(err, name)                                                                    \
	({                                                                                      \
		long long ___err = (long long)(err);                                            \
		bool ___ok = ___err == 0;                                                       \
		fixture_check(___ok);                                                           \
		if (!___ok)                                                                     \
			fprintf(stderr, "  %s:%d: %s: %s is %lld (%s), expected 0\n", __FILE__, \
				__LINE__, (name), #err, ___err,                                 \
				strerror(___err < 0 ? (int)-___err : (int)___err));             \
		___ok;                                                                          \
	})

static inline void fixture_test(const char *name, void (*fn)(void))
{
	fx_checks_passed = 0;
	fx_checks_failed = 0;
	fn();
	if (fx_checks_failed) {
		fx_failed++;
		printf("not ok - %s (%d of %d checks failed)\n", name, fx_checks_failed,
		       fx_checks_failed + fx_checks_passed);
	} else {
		fx_passed++;
		printf("ok - %s\n", name);
	}
	fflush(stdout);
}

#define RUN(fn) fixture_test(#fn, fn)

/* Prints the closing line; the exit status for main. */
static inline int fixture_done(void)
{
	printf("%d passed, %d failed\n", fx_passed, fx_failed);
	return fx_failed ? 1 : 0;
}

/*
 * One BPF_PROG_TEST_RUN. The caller fills the frame and, when it wants
 * them, repeat and the room for the output frame; the kernel fills the
 * rest. repeat 0 runs once, as the kernel does.
 */
struct fixture_run {
	const void *data;
	size_t len;
	unsigned int repeat;
	void *out; /* when set, the frame as the program left it */
	size_t out_size;
	__u32 out_len;
	__u32 retval;   /* the verdict */
	__u32 duration; /* mean ns per run, whole nanoseconds */
};

/* Runs the program on r's frame; 0 or a negative errno. */
static inline int fixture_run(int prog_fd, struct fixture_run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->data, .data_size_in = r->len,
		    .data_out = r->out, .data_size_out = r->out ? r->out_size : 0,
		    .repeat = r->repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	r->out_len = opts.data_size_out;
	r->retval = opts.retval;
	r->duration = opts.duration;
	return err;
}

/* A suite that cannot start reports one failure, so the runner counts it. */
static inline void __attribute__((noreturn)) fixture_fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err < 0 ? -err : err));
	printf("0 passed, 1 failed\n");
	exit(1);
}

/* The running kernel, probed once, as attach probes it. */
static inline const struct ag_kernel *fixture_kernel(void)
{
	static struct ag_kernel kern;
	static bool probed;
	int err;

	if (!probed) {
		err = ag_kernel_probe(&kern);
		if (err)
			fixture_fail("probing the kernel", err);
		probed = true;
	}
	return &kern;
}

/* Loads the XDP object as attach does and gives its shared maps the default policy. */
static inline struct ampguard_xdp *fixture_xdp(struct ag_state *st)
{
	struct ampguard_xdp *skel;
	int err;

	libbpf_set_print(NULL);
	skel = ag_xdp_open(fixture_kernel());
	if (!skel)
		fixture_fail("opening the XDP object", errno);
	err = ag_xdp_load(skel, fixture_kernel());
	if (err)
		fixture_fail("loading the XDP object", err);
	ag_state_from_obj(st, skel->obj);
	err = ag_state_init_maps(st);
	if (err)
		fixture_fail("initialising maps", err);
	return skel;
}

/* Loads the egress recorder on the maps of st, as attach does. */
static inline struct ampguard_tc *fixture_tc(struct ag_state *st)
{
	struct ampguard_tc *tc = ag_tc_open(fixture_kernel());
	int err;

	if (!tc)
		fixture_fail("opening the recorder", errno);
	err = ag_state_share(st, tc->obj) ?: ag_tc_load(tc, fixture_kernel());
	if (err)
		fixture_fail("loading the recorder", err);
	return tc;
}

#endif
