/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Solicited-response tracking, shared by the TC egress recorder and the
 * XDP ingress check. A request (local -> remote:vector port) and its reply
 * (remote:vector port -> local) build the same key.
 */
#ifndef AMPGUARD_TRACK_H
#define AMPGUARD_TRACK_H

#include "parse.h"
#include "maps.h"

enum track_dir {
	TRACK_REQUEST, /* egress: remote is the destination */
	TRACK_REPLY,   /* ingress: remote is the source */
};

static __always_inline int track_key(const struct pkt *p, const void *end, enum track_dir dir,
				     struct ag_track_key *k)
{
	int err;

	if (dir == TRACK_REPLY)
		err = ip_addrs(p, end, k->remote, k->local);
	else
		err = ip_addrs(p, end, k->local, k->remote);
	k->remote_port = dir == TRACK_REPLY ? p->sport : p->dport;
	k->local_port = dir == TRACK_REPLY ? p->dport : p->sport;
	return err;
}

/*
 * The tracking clock. Timeouts are whole milliseconds against a tick-grained
 * clock, so jiffies serve: bpf_jiffies64() is inlined by the verifier into
 * one load, where bpf_ktime_get_coarse_ns() is a helper call (and, on CPUs
 * with return-thunk mitigations, a costly return). Where the kernel's HZ is
 * unknown to libbpf (no kernel config to read), the coarse clock in ns.
 * Tests set track_clock_override to run on a clock of their own.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;
volatile __u64 track_clock_override;

static __always_inline __u64 track_now(void)
{
	__u64 t = track_clock_override;

	if (t)
		return t;
	return CONFIG_HZ ? bpf_jiffies64() : bpf_ktime_get_coarse_ns();
}

/* Clock units per second. */
static __always_inline __u64 track_hz(void)
{
	return CONFIG_HZ ?: 1000000000ULL;
}

/*
 * Is age (clock units) more than frac thousandths of the vector's timeout?
 * Compared without a division. Neither side wraps: ages from 2^44 units on
 * (jiffies: 2 million years; ns: 4.9 h, past AG_TRACK_TIMEOUT_MAX_MS) are
 * older than any timeout, and the timeout side stays under 2^62.
 */
static __always_inline int track_older(__u64 age, const struct ag_policy *pol, __u32 frac)
{
	return age >= (1ULL << 44) ||
	       age * 1000000 > (__u64)pol->track_timeout_ms * track_hz() * frac;
}

/* Does this reply answer a request recorded within the vector's timeout? */
static __always_inline int is_solicited(const struct pkt *p, const void *end,
					const struct ag_policy *pol)
{
	const struct ag_track_val *val;
	struct ag_track_key key;
	__u32 port = p->dport;
	const __u64 *last;
	__u64 now;

	if (!pol->track_timeout_ms)
		return 0;
	/* Most of a flood aims at ports this host sent nothing from lately. */
	now = track_now();
	last = bpf_map_lookup_elem(&track_ports, &port);
	if (!last || track_older(now - *last, pol, 1000))
		return 0;
	if (track_key(p, end, TRACK_REPLY, &key))
		return 0;
	val = bpf_map_lookup_elem(&track, &key);
	return val && !track_older(now - val->last_request, pol, 1000);
}

/* Records a request, unless a recent write already covers it. */
static __always_inline void record_request(const struct pkt *p, const void *end,
					   const struct ag_policy *pol)
{
	struct ag_track_val *val, fresh;
	struct ag_track_key key;
	__u32 port = p->sport;
	__u64 now;

	if (!pol->track_timeout_ms || track_key(p, end, TRACK_REQUEST, &key))
		return;
	now = track_now();
	val = bpf_map_lookup_elem(&track, &key);
	if (val && !track_older(now - val->last_request, pol, 1000 / AG_TRACK_REFRESH_DIV))
		return;
	fresh.last_request = now;
	bpf_map_update_elem(&track, &key, &fresh, BPF_ANY);
	/* Written with the entry, so it is never older than any entry of its port. */
	bpf_map_update_elem(&track_ports, &port, &now, BPF_ANY);
}

static __always_inline int is_served(__u32 gen, __u16 port)
{
	const struct ag_served *s;
	__u32 word = port / 32;

	s = bpf_map_lookup_elem(&served, &gen);
	if (!s || word >= AG_NR_PORTS / 32)
		return 0;
	return (s->bits[word] >> (port % 32)) & 1;
}

#endif /* AMPGUARD_TRACK_H */
