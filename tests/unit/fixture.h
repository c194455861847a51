/* SPDX-License-Identifier: GPL-2.0-only */
/* The common start of the BPF unit suites: the real XDP object, fresh maps. */
#ifndef AMPGUARD_FIXTURE_H
#define AMPGUARD_FIXTURE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"

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
