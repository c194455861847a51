/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rate limiting for the `ratelimit` action: an optional per-source budget,
 * then the vector's aggregate budget, each for packets and/or bytes.
 *
 * Every bucket is a single 64-bit theoretical arrival time (GCRA) shared
 * by all CPUs, so the admitted rate is exact whichever CPUs the traffic
 * lands on, and no update is lost. Where the kernel has BPF atomics (5.12
 * on) a bucket is advanced with compare-and-swap; built with
 * AG_LOCKED_BUCKETS (for older kernels, whose verifiers refuse the
 * instruction anywhere in a program) a bucket pair is advanced under the
 * spin lock beside it, with the same result. Userspace loads the build
 * the running kernel accepts.
 */
#ifndef AMPGUARD_RATELIMIT_H
#define AMPGUARD_RATELIMIT_H

#include "parse.h"
#include "maps.h"
#include "clock.h"

/* Contention on one bucket from more CPUs than this is treated as excess. */
#define GCRA_TRIES 4

/* Set by tests to drive the buckets with a clock they control; 0 in use. */
volatile __u64 clock_override_ns;

/*
 * The nanosecond clock as this CPU read it at its first rate-limited frame
 * since jiffies last moved. Reading the clock is the costliest step of a
 * flood's drop (a helper call and an ordered TSC read, far slower in some
 * virtual machines); this reads it once per tick and CPU instead. It is
 * this program's own: nothing else reads it.
 */
struct rl_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_clock);
} rl_clock SEC(".maps");

/*
 * May a bucket run on the tick's clock? It lags the true time by less than
 * a tick, in the same time base, so the admitted rate stays exact while the
 * bucket's tolerance covers the lag: when its burst spans two ticks or more
 * (a tenth of a second by default). A smaller burst would lose rate to the
 * lag: such a bucket reads the clock per frame. An unused bucket does not
 * care.
 */
static __always_inline int rl_tick_ok(const struct ag_rate *r)
{
	const __u64 two_ticks = 2000000000ULL; /* tol_ns * kern_hz, in ns x Hz */

	return !r->rate || r->tol_ns * kern_hz >= two_ticks;
}

static __always_inline __u64 rl_now(int tick_ok)
{
	__u64 t = clock_override_ns, j;
	struct rl_clock *c;
	__u32 zero = 0;

	if (t)
		return t;
	if (!tick_ok)
		return bpf_ktime_get_ns();
	c = bpf_map_lookup_elem(&rl_clock, &zero);
	if (!c)
		return bpf_ktime_get_ns();
	j = jiffies_now();
	if (c->jiffies != j || !c->ns) {
		c->jiffies = j;
		c->ns = bpf_ktime_get_ns();
	}
	return c->ns;
}

static __always_inline __u64 rate_cost(const struct ag_rate *r, __u32 units)
{
	return (units * r->inc_fp) >> AG_RATE_SHIFT;
}

/* Where a bucket's arrival time would go if it admitted cost now; 0 if the burst is spent. */
static __always_inline __u64 gcra_next(__u64 tat, __u64 now, __u64 cost, __u64 tol)
{
	__u64 base = tat > now ? tat : now;

	return base - now > tol ? 0 : base + cost;
}

#ifdef AG_LOCKED_BUCKETS

static __always_inline int gcra_take(struct bpf_spin_lock *lock, __u64 *tat, __u64 now, __u64 cost,
				     __u64 tol)
{
	__u64 next;

	bpf_spin_lock(lock);
	next = gcra_next(*tat, now, cost, tol);
	if (next)
		*tat = next;
	bpf_spin_unlock(lock);
	return next != 0;
}

/* Both budgets of a pair (packets, bytes) admit the packet, or neither is charged. */
static __always_inline int take_pair(struct bpf_spin_lock *lock, __u64 *tat_pkt, __u64 *tat_byte,
				     const struct ag_rate *pps, const struct ag_rate *bps,
				     __u64 now, __u32 len)
{
	__u64 pkt_cost = rate_cost(pps, 1), byte_cost = rate_cost(bps, len);
	__u64 pkt_next = 1, byte_next = 1;

	bpf_spin_lock(lock);
	if (pps->rate)
		pkt_next = gcra_next(*tat_pkt, now, pkt_cost, pps->tol_ns);
	if (bps->rate)
		byte_next = gcra_next(*tat_byte, now, byte_cost, bps->tol_ns);
	if (pkt_next && byte_next) {
		if (pps->rate)
			*tat_pkt = pkt_next;
		if (bps->rate)
			*tat_byte = byte_next;
	}
	bpf_spin_unlock(lock);
	return pkt_next && byte_next;
}

static __always_inline void refund_pair(struct bpf_spin_lock *lock, __u64 *tat_pkt, __u64 *tat_byte,
					const struct ag_rate *pps, const struct ag_rate *bps,
					__u32 len)
{
	__u64 pkt_cost = pps->rate ? rate_cost(pps, 1) : 0;
	__u64 byte_cost = bps->rate ? rate_cost(bps, len) : 0;

	bpf_spin_lock(lock);
	*tat_pkt -= pkt_cost;
	*tat_byte -= byte_cost;
	bpf_spin_unlock(lock);
}

#else /* BPF atomics */

static __always_inline int gcra_take(struct bpf_spin_lock *lock, __u64 *tat, __u64 now, __u64 cost,
				     __u64 tol)
{
	__u64 old, next;
	int i;

#pragma unroll
	for (i = 0; i < GCRA_TRIES; i++) {
		old = *(volatile __u64 *)tat;
		next = gcra_next(old, now, cost, tol);
		if (!next)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 1;
	}
	return 0;
}

static __always_inline void gcra_refund(__u64 *tat, __u64 cost)
{
	__sync_fetch_and_add(tat, -cost);
}

/* Both budgets of a pair (packets, bytes) admit the packet, or neither is charged. */
static __always_inline int take_pair(struct bpf_spin_lock *lock, __u64 *tat_pkt, __u64 *tat_byte,
				     const struct ag_rate *pps, const struct ag_rate *bps,
				     __u64 now, __u32 len)
{
	__u64 pkt_cost = rate_cost(pps, 1), byte_cost = rate_cost(bps, len);

	if (pps->rate && !gcra_take(lock, tat_pkt, now, pkt_cost, pps->tol_ns))
		return 0;
	if (bps->rate && !gcra_take(lock, tat_byte, now, byte_cost, bps->tol_ns)) {
		if (pps->rate)
			gcra_refund(tat_pkt, pkt_cost);
		return 0;
	}
	return 1;
}

static __always_inline void refund_pair(struct bpf_spin_lock *lock, __u64 *tat_pkt, __u64 *tat_byte,
					const struct ag_rate *pps, const struct ag_rate *bps,
					__u32 len)
{
	if (pps->rate)
		gcra_refund(tat_pkt, rate_cost(pps, 1));
	if (bps->rate)
		gcra_refund(tat_byte, rate_cost(bps, len));
}

#endif /* AG_LOCKED_BUCKETS */

static __always_inline int src_owns(const struct ag_src_entry *e, const __u8 addr[16], __u32 vec)
{
	const __u64 *a = (const __u64 *)addr, *b = (const __u64 *)e->addr;

	return e->vec == vec && a[0] == b[0] && a[1] == b[1];
}

/* Latest arrival time of a slot's buckets; not after now means both are full. */
static __always_inline __u64 src_busy_until(const struct ag_src_entry *e)
{
	return e->tat_pkt > e->tat_byte ? e->tat_pkt : e->tat_byte;
}

static __always_inline int src_free(const struct ag_src_entry *e, __u64 now)
{
	return !e->vec || src_busy_until(e) <= now;
}

/*
 * The source's slot, claiming one when it has none. NULL with *full_drop
 * set when the set is full and the policy drops newcomers; NULL alone when
 * the source is left to the aggregate budget.
 */
static __always_inline struct ag_src_entry *src_entry(const __u8 addr[16], __u32 vec,
						      const struct ag_policy *pol, __u64 now,
						      int *full_drop, __u32 *slot)
{
	struct ag_src_entry *a, *b, *victim;
	__u32 set = ag_src_set(addr, vec), next = set + 1;

	a = bpf_map_lookup_elem(&rl_src, &set);
	b = bpf_map_lookup_elem(&rl_src, &next);
	if (!a || !b)
		return NULL;
	*slot = set;
	if (src_owns(a, addr, vec))
		return a;
	*slot = next;
	if (src_owns(b, addr, vec))
		return b;

	if (src_free(a, now))
		victim = a;
	else if (src_free(b, now))
		victim = b;
	else if (pol->src_full == AG_SRC_FULL_EVICT)
		victim = src_busy_until(a) <= src_busy_until(b) ? a : b;
	else {
		*full_drop = pol->src_full == AG_SRC_FULL_DROP;
		return NULL;
	}
	*slot = victim == a ? set : next;
	__builtin_memcpy(victim->addr, addr, 16);
	victim->vec = vec;
	victim->tat_pkt = 0;
	victim->tat_byte = 0;
	victim->admitted = 0;
	victim->dropped = 0;
	victim->claims++;
	return victim;
}

/*
 * Counts a drop of the source in slot. A run of drops of one source on this
 * CPU is counted in the CPU's own pending count, so CPUs that share a
 * flooding source do not trade its slot's line on every frame; the first
 * drop of another source adds the run to its slot, unless the slot changed
 * hands meanwhile (its count began afresh then).
 */
static __always_inline void src_count_drop(struct ag_src_entry *src, __u32 slot)
{
	struct ag_src_pending *run;
	struct ag_src_entry *prev;
	__u32 zero = 0;

	run = bpf_map_lookup_elem(&rl_src_pending, &zero);
	if (!run) {
		__sync_fetch_and_add(&src->dropped, 1);
		return;
	}
	if (run->slot == slot && run->claims == src->claims) {
		run->dropped++;
		return;
	}
	if (run->dropped) {
		prev = bpf_map_lookup_elem(&rl_src, &run->slot);
		if (prev && prev->claims == run->claims)
			__sync_fetch_and_add(&prev->dropped, run->dropped);
	}
	/* The run starts with this drop on the slot itself: a flood from many
	 * sources, one frame each, leaves nothing pending. */
	__sync_fetch_and_add(&src->dropped, 1);
	run->slot = slot;
	run->claims = src->claims;
	run->dropped = 0;
}

/* Would the aggregate refuse anything now? One hot cache line, read only. */
static __always_inline int agg_exhausted(const struct ag_rl_agg *agg, const struct ag_policy *pol,
					 __u64 now)
{
	return (pol->agg_pps.rate && agg->tat_pkt > now + pol->agg_pps.tol_ns) ||
	       (pol->agg_bps.rate && agg->tat_byte > now + pol->agg_bps.tol_ns);
}

/* Returns the reason: AG_R_RL_PASS, AG_R_RL_SOURCE or AG_R_RL_AGGREGATE. */
static __always_inline int ratelimit(const struct pkt *p, const void *end, __u32 vec,
				     const struct ag_policy *pol)
{
	int agg_tick = rl_tick_ok(&pol->agg_pps) && rl_tick_ok(&pol->agg_bps), src_tick;
	struct ag_src_entry *src = NULL;
	__u64 now = rl_now(agg_tick), src_now;
	struct ag_rl_agg *agg;
	int full_drop = 0;
	__u32 slot = 0;
	__u8 addr[16], dst[16];

	/*
	 * Over the aggregate, a flood is dropped before its source's slot is
	 * touched: no cache miss on the source table, no claim, no refund.
	 */
	agg = bpf_map_lookup_elem(&rl_agg, &vec);
	if (agg && agg_exhausted(agg, pol, now))
		return AG_R_RL_AGGREGATE;

	if (pol->src_pps.rate || pol->src_bps.rate) {
		if (ip_addrs(p, end, addr, dst))
			return AG_R_RL_PASS;
		src_tick = rl_tick_ok(&pol->src_pps) && rl_tick_ok(&pol->src_bps);
		src_now = src_tick == agg_tick ? now : rl_now(src_tick);
		src = src_entry(addr, vec, pol, src_now, &full_drop, &slot);
		if (full_drop)
			return AG_R_RL_SOURCE;
		if (src && !take_pair(&src->lock, &src->tat_pkt, &src->tat_byte, &pol->src_pps,
				      &pol->src_bps, src_now, p->len)) {
			src_count_drop(src, slot);
			return AG_R_RL_SOURCE;
		}
	}

	if (agg && !take_pair(&agg->lock, &agg->tat_pkt, &agg->tat_byte, &pol->agg_pps,
			      &pol->agg_bps, now, p->len)) {
		if (src) {
			/* The source's budget was not used: give it back. */
			refund_pair(&src->lock, &src->tat_pkt, &src->tat_byte, &pol->src_pps,
				    &pol->src_bps, p->len);
			src_count_drop(src, slot);
		}
		return AG_R_RL_AGGREGATE;
	}
	if (src)
		__sync_fetch_and_add(&src->admitted, 1);
	return AG_R_RL_PASS;
}

#endif /* AMPGUARD_RATELIMIT_H */
