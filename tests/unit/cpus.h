/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Keeping a test's thread on one CPU, for the tests that read per-CPU
 * state (counters, pending runs, cached clock readings) or that place
 * load on given CPUs.
 *
 * Invariants: the includer defines _GNU_SOURCE before any system header;
 * a test that pins gives its thread back the CPUs it had (cpus_save,
 * cpus_restore), so the tests after it run where the runner put them.
 */
#ifndef AMPGUARD_TEST_CPUS_H
#define AMPGUARD_TEST_CPUS_H

#ifndef _GNU_SOURCE
#error "cpus.h needs _GNU_SOURCE defined before the first include"
#endif

#include <sched.h>

#include "fixture.h"

static inline void cpus_save(cpu_set_t *was)
{
	CHECK(sched_getaffinity(0, sizeof(*was), was) == 0, "sched_getaffinity: %s",
	      strerror(errno));
}

static inline void cpus_pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CHECK(sched_setaffinity(0, sizeof(one), &one) == 0, "pinning to CPU %d: %s", cpu,
	      strerror(errno));
}

static inline void cpus_restore(const cpu_set_t *was)
{
	sched_setaffinity(0, sizeof(*was), was);
}

#endif /* AMPGUARD_TEST_CPUS_H */
