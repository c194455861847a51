/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The datapath's coarse clock: jiffies. Tracking timeouts (whole
 * milliseconds) and fragment lifetimes (seconds) are far coarser than a
 * tick, and bpf_jiffies64() is inlined by the verifier into one load where
 * the ns clocks are helper calls (costly behind return-thunk mitigations).
 *
 * The kernel's HZ is not read from its config (containers and minimal
 * images have none): userspace measures it before load and sets kern_hz.
 * A program loaded with kern_hz left at 0 holds every recorded time past
 * its tick as expired: replies count as unsolicited, never the reverse.
 */
#ifndef AMPGUARD_CLOCK_H
#define AMPGUARD_CLOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Jiffies per second of the running kernel, set at load. */
const volatile __u32 kern_hz;

/* Tests set it to run on a clock of their own; 0 in use. */
volatile __u64 jiffies_override;

static __always_inline __u64 jiffies_now(void)
{
	__u64 t = jiffies_override;

	return t ? t : bpf_jiffies64();
}

/*
 * Is age (jiffies) more than ms * frac / 1000 milliseconds? Compared
 * without a division. Neither side wraps: ages from 2^40 jiffies on (3500
 * years at HZ 10000) are older than anything, ms * frac stays under 2^42
 * and kern_hz under 2^20.
 */
static __always_inline int jiffies_older(__u64 age, __u64 ms, __u32 frac)
{
	return age >= (1ULL << 40) || age * 1000000 > ms * kern_hz * frac;
}

#endif /* AMPGUARD_CLOCK_H */
