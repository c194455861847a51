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

/* A suite that cannot start reports one failure, so the runner counts it. */
static inline void __attribute__((noreturn)) fixture_fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err < 0 ? -err : err));
	printf("0 passed, 1 failed\n");
	exit(1);
}

/* Loads the XDP object and gives its shared maps the default policy. */
static inline struct ampguard_xdp *fixture_xdp(struct ag_state *st)
{
	struct ampguard_xdp *skel;
	int err;

	libbpf_set_print(NULL);
	skel = ampguard_xdp__open_and_load();
	if (!skel)
		fixture_fail("loading the XDP object", errno);
	ag_state_from_obj(st, skel->obj);
	err = ag_state_init_maps(st);
	if (err)
		fixture_fail("initialising maps", err);
	return skel;
}

#endif
