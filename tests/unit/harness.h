/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal test runner: CHECK records a failure with its location and
 * carries on; each TEST prints ok / not ok; harness_done prints the
 * "N passed, N failed" line CI reads and returns the exit code.
 */
#ifndef AMPGUARD_HARNESS_H
#define AMPGUARD_HARNESS_H

#include <stdio.h>

static int h_passed, h_failed, h_cur_failed;

#define CHECK(cond, fmt, ...)                                                    \
	do {                                                                     \
		if (!(cond)) {                                                   \
			h_cur_failed++;                                          \
			fprintf(stderr, "  %s:%d: %s: " fmt "\n", __FILE__,      \
				__LINE__, #cond, ##__VA_ARGS__);                 \
		}                                                                \
	} while (0)

static inline void harness_run(const char *name, void (*fn)(void))
{
	h_cur_failed = 0;
	fn();
	if (h_cur_failed) {
		h_failed++;
		printf("not ok - %s (%d checks failed)\n", name, h_cur_failed);
	} else {
		h_passed++;
		printf("ok - %s\n", name);
	}
	fflush(stdout);
}

#define RUN(fn) harness_run(#fn, fn)

static inline int harness_done(void)
{
	printf("%d passed, %d failed\n", h_passed, h_failed);
	return h_failed ? 1 : 0;
}

#endif
