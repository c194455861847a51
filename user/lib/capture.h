/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The capture layer, at the top: `ampguard capture` as a library call.
 * The datapath filters by reason, vector and interface, samples 1 in N and
 * caps the rate before anything is copied (struct ag_capture); here the
 * samples are read from the perf event array, filtered by an optional
 * tcpdump expression (libpcap's compiler) and written as pcapng with each
 * packet's verdict, or as classic pcap.
 */
#ifndef AG_CAPTURE_H
#define AG_CAPTURE_H

#include <signal.h>

#include "upstream.h"

struct ag_capture_req {
	const char *iface; /* NULL: every protected interface */
	const char *path;  /* "-": stdout; opened only once the capture may run */
	bool pcap;         /* classic pcap through libpcap (no metadata) */
	__u32 reasons;     /* bit per enum ag_reason */
	__u64 vectors;     /* bit per slot */
	__u32 sample;      /* 1 in N */
	__u64 max_pps;     /* across CPUs */
	__u32 snaplen;
	__u64 count;               /* packets written; 0: no limit */
	unsigned long duration_ms; /* 0: no limit */
	const char *filter;        /* tcpdump expression, or NULL */
	volatile sig_atomic_t *stop;
};

struct ag_capture_summary {
	__u64 sampled;  /* samples read */
	__u64 written;  /* packets written */
	__u64 filtered; /* samples the expression left out */
	__u64 lost;     /* samples lost to a full buffer */
};

int ag_capture_filter_check(const char *expr, char *why, size_t len);
int ag_capture_run(const struct ag_capture_req *r, struct ag_capture_summary *sum);

#endif /* AG_CAPTURE_H */
