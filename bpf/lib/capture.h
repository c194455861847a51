/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sampled capture (struct ag_capture in the ABI). Off, the classifier pays
 * one branch per frame, on the configuration's capture flag it read with
 * the generation; the capture map is looked up only while a capture holds
 * the lease (ag_config.capture), or after one died until the next one
 * ends. On, a frame is
 * filtered by its reason, vector and interface before anything is copied,
 * then 1 in N per CPU, then the lease and the shared rate cap; the perf
 * event array copies the frame's first bytes after the metadata. After a
 * capture died, its expired lease is turned off by the first frame taken
 * as 1 in N, at most N frames per CPU later. Only the XDP classifier
 * includes this.
 */
#ifndef AMPGUARD_CAPTURE_H
#define AMPGUARD_CAPTURE_H

#include "maps.h"
#include "ratelimit.h"

/* Set at load time only by the benchmarks: the classifier as before capture existed. */
const volatile __u8 capture_compiled_out;

/*
 * A lease that ran out (its capture died) is turned off by the first frame
 * that sees it, so that later frames pay only the check again. Only if it
 * is still the same lease: a new capture may have just taken it.
 */
static __always_inline void capture_expire(struct ag_capture *cap, __u64 until)
{
#ifdef AG_LOCKED_BUCKETS
	/* No atomics: a new capture that loses its first lease renews it within 0.5 s. */
	if (cap->until_ns == until)
		cap->until_ns = 0;
#else
	__sync_val_compare_and_swap(&cap->until_ns, until, 0);
#endif
}

static __attribute__((noinline)) int capture_frame(struct xdp_md *ctx, struct ag_capture *cap,
						   __u32 vec, __u32 reason)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ag_capture_meta meta = {};
	struct ag_capture_bucket *b;
	struct ag_capture_cpu *c;
	__u64 now, until, caplen;
	__u32 zero = 0;

	if (!((cap->reasons >> (reason & 31)) & 1) || !((cap->vectors >> (vec & 63)) & 1) ||
	    (cap->ifindex && cap->ifindex != ctx->ingress_ifindex))
		return 0;
	c = bpf_map_lookup_elem(&capture_cpu, &zero);
	if (!c)
		return 0;
	c->matched++;
	if (c->skip) {
		c->skip--;
		return 0;
	}
	c->skip = cap->sample ? cap->sample - 1 : 0;
	/* The clock only for frames that would be copied: it is the slow part. */
	now = bpf_ktime_get_ns();
	until = cap->until_ns;
	if (now >= until) {
		capture_expire(cap, until);
		return 0;
	}
	b = bpf_map_lookup_elem(&capture_bucket, &zero);
	if (!b)
		return 0;
	if (!gcra_take(&b->lock, &b->tat, now, b->inc_ns, b->tol_ns)) {
		c->capped++;
		return 0;
	}
	caplen = end - data;
	if (caplen > cap->snaplen)
		caplen = cap->snaplen;
	/* The helper copies at most what the frame holds; keep the bound visible. */
	caplen &= 0xffff;
	meta.ts_ns = now;
	meta.ifindex = ctx->ingress_ifindex;
	meta.rx_queue = ctx->rx_queue_index;
	meta.len = end - data;
	meta.caplen = caplen;
	meta.vec = vec;
	meta.reason = reason;
	if (bpf_perf_event_output(ctx, &capture_events, BPF_F_CURRENT_CPU | (caplen << 32), &meta,
				  sizeof(meta)))
		c->failed++;
	else
		c->sampled++;
	return 0;
}

/* flagged: ag_config.capture as the frame read it. */
static __always_inline void capture_check(struct xdp_md *ctx, __u32 flagged, __u32 vec,
					  __u32 reason)
{
	struct ag_capture *cap;
	__u32 zero = 0;

	if (capture_compiled_out || !flagged)
		return;
	cap = bpf_map_lookup_elem(&capture, &zero);
	if (cap && cap->until_ns)
		capture_frame(ctx, cap, vec, reason);
}

#endif /* AMPGUARD_CAPTURE_H */
