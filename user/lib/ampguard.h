/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ampguard library, whole: for the verbs (user/cmd), the tests and the
 * benchmarks. Library files include their own layer's header instead.
 */
#ifndef AMPGUARD_H
#define AMPGUARD_H

#include "capture.h"

#endif /* AMPGUARD_H */
