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
#include "clock.h"

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

/* Is age (jiffies) more than frac thousandths of the vector's timeout? */
static __always_inline int track_older(__u64 age, const struct ag_policy *pol, __u32 frac)
{
	return jiffies_older(age, pol->track_timeout_ms, frac);
}

/*
 * When this host last sent a request from local port (tracking clock); 0
 * if it never did. Most of a flood aims at such ports: they are judged
 * unsolicited before the vector's policy is read.
 */
static __always_inline __u64 port_last_request(__u16 port)
{
	__u32 key = port;
	const __u64 *last = bpf_map_lookup_elem(&track_ports, &key);

	return last ? *last : 0;
}

/*
 * Does this reply answer a request recorded within the vector's timeout?
 * last is port_last_request() of its destination port, not 0.
 */
static __always_inline int is_solicited(const struct pkt *p, const void *end,
					const struct ag_policy *pol, __u64 last)
{
	const struct ag_track_val *val;
	struct ag_track_key key;
	__u64 now;

	if (!pol->track_timeout_ms)
		return 0;
	now = jiffies_now();
	if (track_older(now - last, pol, 1000))
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
	now = jiffies_now();
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
	if (!s)
		return 0;
	/*
	 * Clang knows word < 2048 from the __u16 and drops a bounds check; the
	 * 6.1 and 6.12 verifiers lose that range through the byte swap. The
	 * barrier keeps a mask they can follow.
	 */
	barrier_var(word);
	word &= AG_NR_PORTS / 32 - 1;
	return (s->bits[word] >> (port % 32)) & 1;
}

#endif /* AMPGUARD_TRACK_H */
