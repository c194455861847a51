/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the BPF programs and the ampguard binary: every map key,
 * value, enum and limit that both sides read. Nothing here is defined twice.
 *
 * Changing a layout here changes what is pinned in bpffs: bump
 * AG_ABI_VERSION so that a new binary refuses state written by an old one
 * instead of misreading it.
 */
#ifndef AMPGUARD_ABI_H
#define AMPGUARD_ABI_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock */

#define AG_ABI_VERSION 7

/* Vector slots: 0 is "no vector", built-ins follow in table order, then
 * ports an operator adds. A u8 in struct ag_port holds any slot. */
#define AG_MAX_VECTORS 64
#define AG_NR_PORTS 65536

/*
 * Everything a packet is judged by is double-buffered: the vector table,
 * served ports, allow/deny lists and orphan policies. Writers fill the
 * inactive generation, flip ag_config.gen, wait until no packet can still
 * be reading the old one, then bring it level. A packet reads gen once, so
 * it sees one whole configuration, old or new.
 */
#define AG_NR_GENERATIONS 2

/* Parser limits; a header chain that goes deeper is passed as unparsed. */
#define AG_MAX_VLAN_TAGS 2
#define AG_MAX_EXT_HDRS 8

enum ag_action {
	AG_ACT_PASS = 0,
	AG_ACT_MONITOR, /* count as would-drop, then pass */
	AG_ACT_DROP,
	AG_ACT_RATELIMIT, /* admit up to the vector's budgets, drop the excess */
	AG_ACT__MAX,
};

/*
 * Why a frame got its verdict. Counters are kept per vector x reason; the
 * verdict (pass or drop) follows from the reason, see ag_reason_drops().
 * New reasons are appended before AG_REASON__MAX.
 */
enum ag_reason {
	AG_R_NOT_IP = 0,   /* ARP, LLDP, ... */
	AG_R_NOT_UDP,      /* TCP, ICMP, ... */
	AG_R_NO_VECTOR,    /* UDP from a source port without a policy */
	AG_R_POLICY_PASS,  /* the vector's action is pass */
	AG_R_MONITOR,      /* the vector's action would drop it: passed */
	AG_R_POLICY_DROP,  /* dropped by the vector's action */
	AG_R_TRUNCATED,    /* a header runs past the end of the frame */
	AG_R_MALFORMED,    /* an impossible header field (IHL, version, lengths) */
	AG_R_PARSE_LIMIT,  /* more VLAN tags or IPv6 extension headers than parsed */
	AG_R_SOLICITED,    /* answers a request this host sent (tracked on egress) */
	AG_R_SERVED,       /* to a port this host serves: a request, not a reply */
	AG_R_RL_PASS,      /* unsolicited, within the vector's rate limits */
	AG_R_RL_AGGREGATE, /* over the vector's aggregate budget */
	AG_R_RL_SOURCE,    /* over its source's budget, or no room to track the source */
	AG_R_DENYLIST,     /* source on the denylist */
	AG_R_ALLOWLIST,    /* source on the allowlist */
	AG_R_FRAG_PASS,    /* later fragment of a datagram whose first fragment passed */
	AG_R_FRAG_DROP,    /* later fragment of a datagram whose first fragment was dropped */
	AG_R_ORPHAN_PASS, /* later fragment whose first was not seen: passed by the orphan policy */
	AG_R_ORPHAN_DROP, /* the same, dropped by the orphan policy */
	AG_REASON__MAX,
};

static inline int ag_reason_drops(unsigned int reason)
{
	return reason == AG_R_POLICY_DROP || reason == AG_R_RL_AGGREGATE ||
	       reason == AG_R_RL_SOURCE || reason == AG_R_DENYLIST || reason == AG_R_FRAG_DROP ||
	       reason == AG_R_ORPHAN_DROP;
}

/* Traffic of a vector that nobody on this host asked for, whatever its fate:
 * what fills the uplink in a reflection flood. */
static inline int ag_reason_unsolicited(unsigned int reason)
{
	return reason == AG_R_MONITOR || reason == AG_R_POLICY_DROP || reason == AG_R_RL_PASS ||
	       reason == AG_R_RL_AGGREGATE || reason == AG_R_RL_SOURCE || reason == AG_R_FRAG_DROP;
}

static inline int ag_reason_unparsed(unsigned int reason)
{
	return reason == AG_R_TRUNCATED || reason == AG_R_MALFORMED || reason == AG_R_PARSE_LIMIT;
}

/* Index into the per-interface stats map. */
#define AG_STATS_IDX(vec, reason) (AG_REASON__MAX * (vec) + (reason))
#define AG_NR_STATS (AG_MAX_VECTORS * AG_REASON__MAX)

struct ag_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * A rate budget, enforced as GCRA (virtual scheduling): one "theoretical
 * arrival time" per bucket, advanced by the cost of each admitted packet.
 * rate and burst are what the operator set; inc_fp and tol_ns are derived
 * from them by userspace so the datapath needs no division.
 */
struct ag_rate {
	__u64 rate;   /* packets/s, or bits/s; 0: no limit */
	__u64 burst;  /* packets, or bits */
	__u64 inc_fp; /* ns of budget per packet (or per byte), << AG_RATE_SHIFT */
	__u64 tol_ns; /* how far ahead of now the arrival time may run */
};

#define AG_RATE_SHIFT 16

/*
 * What a new source gets when both slots it may use in the per-source table
 * belong to sources that are still active (see struct ag_src_entry).
 */
enum ag_src_full {
	AG_SRC_FULL_EVICT = 0, /* it takes the slot of the less recently active source */
	AG_SRC_FULL_AGGREGATE, /* not tracked: judged by the aggregate budget only */
	AG_SRC_FULL_DROP,      /* dropped, so active sources keep their state */
	AG_SRC_FULL__MAX,
};

/*
 * port_vec, by UDP port: what the classifier needs of the port's vector in
 * each generation, so that most frames are judged after one lookup. It is
 * written with the policy of the same generation (the slot named here is
 * that generation's), and read for the source port of a reply and the
 * destination port of a request.
 */
enum ag_port_flags {
	AG_PORT_TRACKED = 1 << 0, /* the vector's track_timeout_ms is not 0 */
};

struct ag_port_gen {
	__u8 slot;   /* vector slot; 0: the port is no vector's in this generation */
	__u8 action; /* the slot's enum ag_action */
	__u8 flags;  /* enum ag_port_flags */
	__u8 pad;
};

struct ag_port {
	struct ag_port_gen gen[AG_NR_GENERATIONS];
};

/* One entry per vector slot and generation: policy[gen * AG_MAX_VECTORS + vec]. */
struct ag_policy {
	__u16 port;             /* UDP source port this vector matches; 0 in free slots */
	__u8 action;            /* enum ag_action, for unsolicited traffic */
	__u8 in_use;            /* slot assigned to a port */
	__u32 track_timeout_ms; /* how long a request makes replies solicited; 0: no tracking */
	__u8 src_full;          /* enum ag_src_full */
	__u8 pad[7];
	struct ag_rate agg_pps;
	struct ag_rate agg_bps;
	struct ag_rate src_pps;
	struct ag_rate src_bps;
};

/* The port_vec half of a generation whose policy has pol in this slot. */
static inline struct ag_port_gen ag_port_gen_of(const struct ag_policy *pol, unsigned int slot)
{
	struct ag_port_gen g = { 0 };

	if (pol->in_use) {
		g.slot = slot;
		g.action = pol->action;
		g.flags = pol->track_timeout_ms ? AG_PORT_TRACKED : 0;
	}
	return g;
}

/*
 * Aggregate bucket state, one cache line per vector. The lock guards the
 * arrival times only where the kernel lacks BPF atomics (see ratelimit.h).
 */
struct ag_rl_agg {
	__u64 tat_pkt; /* ns */
	__u64 tat_byte;
	struct bpf_spin_lock lock;
	__u32 pad0;
	__u64 pad[5];
};

/*
 * Per-source state lives in a 2-way set-associative table: a source (vector,
 * address) may occupy one of the two slots of its set. A slot whose source
 * has a full bucket again (arrival times not ahead of now) can be reused
 * without losing anything; only a set held by two active sources is "full".
 * One cache line per slot.
 */
struct ag_src_entry {
	__u8 addr[16];             /* IPv4-mapped for IPv4 */
	__u32 vec;                 /* 0: slot empty */
	struct bpf_spin_lock lock; /* as in struct ag_rl_agg */
	__u64 tat_pkt;             /* ns */
	__u64 tat_byte;
	__u64 admitted; /* packets, since the source took the slot */
	__u64 dropped;  /* the same, less what CPUs hold in ag_src_pending */
	__u64 claims;   /* times the slot was taken: tells one holder from the next */
};

#define AG_SRC_ENTRIES 131072 /* a power of two */

/*
 * Per CPU: drops of one slot's source counted on this CPU and not yet added
 * to the slot. A source over its budget on several CPUs would otherwise
 * have each of them write the slot's line on every frame. A CPU adds its
 * count to the slot when it next drops for another slot, if the slot still
 * has the same holder (claims); readers add in the counts of the CPUs that
 * hold one for the slot's current holder.
 */
struct ag_src_pending {
	__u32 slot; /* index into rl_src */
	__u32 pad;
	__u64 claims; /* the slot's claims when counting began */
	__u64 dropped;
};

/* First slot of the set a source belongs to; shared so userspace can tell
 * which sources compete. */
static inline __u32 ag_src_set(const __u8 addr[16], __u32 vec)
{
	__u32 h = vec * 0x9e3779b1U, w, i;

	for (i = 0; i < 16; i += 4) {
		w = (__u32)addr[i] | (__u32)addr[i + 1] << 8 | (__u32)addr[i + 2] << 16 |
		    (__u32)addr[i + 3] << 24;
		h ^= w;
		h *= 0x85ebca6bU;
		h ^= h >> 13;
	}
	/* Final avalanche, so sources that differ in one byte (a /24 of
	 * spoofed addresses) spread over all sets, not a few. */
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h & (AG_SRC_ENTRIES - 2);
}

/*
 * Solicited-response tracking: TC egress records requests to vector ports,
 * XDP ingress looks the mirror image of a reply up. IPv4 addresses are
 * stored IPv4-mapped (::ffff:a.b.c.d). Ports in host order.
 */
struct ag_track_key {
	__u8 remote[16];
	__u8 local[16];
	__u16 remote_port;
	__u16 local_port;
};

struct ag_track_val {
	__u64 last_request; /* when the latest request left, on the tracking
			     * clock: jiffies, or coarse monotonic ns on a
			     * kernel whose HZ is unknown (bpf/lib/track.h) */
};

#define AG_TRACK_ENTRIES 131072

/* A request refreshes its entry only when the entry is this far into its
 * timeout, so a busy flow does not write the map for every packet. */
#define AG_TRACK_REFRESH_DIV 8

/* The longest tracking timeout: longer makes every reply "solicited". The
 * datapath's timeout arithmetic (bpf/lib/track.h) relies on this bound. */
#define AG_TRACK_TIMEOUT_MAX_MS 3600000

/* Ports this host serves, as a bitmap: datagrams to them are requests.
 * One entry per generation. */
struct ag_served {
	__u32 bits[AG_NR_PORTS / 32];
};

/* Which allow/deny lists hold entries: empty ones are not looked up. */
enum ag_list_bits {
	AG_LIST_DENY4 = 1 << 0,
	AG_LIST_DENY6 = 1 << 1,
	AG_LIST_ALLOW4 = 1 << 2,
	AG_LIST_ALLOW6 = 1 << 3,
};

/* Single entry, key 0. */
struct ag_config {
	__u32 abi_version;
	__u32 gen;                      /* active generation, 0 or 1 */
	__u32 lists[AG_NR_GENERATIONS]; /* enum ag_list_bits, per generation */
	/* Entries on each list (both families), kept by userspace for status. */
	__u32 allow_n;
	__u32 deny_n;
	/* Set by a writer while the generations differ; a writer that finds it
	 * set (its predecessor died) levels them before its own change. */
	__u32 dirty;
	/* Set, under the writer lock, while a capture holds the lease (struct
	 * ag_capture): with it clear the classifier looks no further. */
	__u32 capture;
};

/*
 * CIDR list keys (LPM tries): the generation, then the address in network
 * order; prefixlen counts the generation byte, so a /24 is stored as 32.
 */
struct ag_lpm4 {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[4];
} __attribute__((packed));

struct ag_lpm6 {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16];
} __attribute__((packed));

#define AG_LPM_GEN_BITS 8

#define AG_LIST_ENTRIES 131072 /* per list and family, in each generation */
#define AG_LIST_MAP_ENTRIES (AG_LIST_ENTRIES * AG_NR_GENERATIONS)

/*
 * Fragments: a first fragment's verdict, kept for the later fragments of
 * its datagram (IPv4: addresses, protocol, IP ID; IPv6: addresses and
 * fragment identification, protocol 0).
 */
struct ag_frag_key {
	__u8 src[16]; /* IPv4-mapped for IPv4 */
	__u8 dst[16];
	__u32 id;
	__u32 proto;
};

struct ag_frag_val {
	__u64 seen; /* when the first fragment came, in jiffies */
	__u32 vec;  /* the first fragment's vector, for counters */
	__u32 drop;
};

#define AG_FRAG_ENTRIES 65536
#define AG_FRAG_TIMEOUT_MS 30000 /* Linux's ipfrag_time */

/* What happens to a later fragment whose first fragment was not seen. */
enum ag_orphan {
	AG_ORPHAN_PASS = 0,
	AG_ORPHAN_RATELIMIT,
	AG_ORPHAN_DROP,
	AG_ORPHAN__MAX,
};

#define AG_ORPHAN_DEFAULT_PPS 1000

struct ag_orphan_cfg {
	__u32 mode; /* enum ag_orphan */
	__u32 pad;
	struct ag_rate pps; /* for AG_ORPHAN_RATELIMIT */
};

/* Per-interface metadata and settings, single entry, key 0. Written by
 * userspace; the program reads the orphan policy and advances orphan_tat. */
enum ag_attach_mode {
	AG_MODE_NATIVE = 1,
	AG_MODE_GENERIC = 2,
};

#define AG_MAX_TRACK_IFACES 8

struct ag_ifinfo {
	__u32 ifindex;
	__u32 mode;        /* enum ag_attach_mode */
	__u64 attached_at; /* CLOCK_REALTIME seconds */
	/* Egress tracking: [0] is the protected interface itself, then
	 * --track-on interfaces; 0 ends the list. */
	__u32 track_ifindex[AG_MAX_TRACK_IFACES];
	__u8 track_made_qdisc[AG_MAX_TRACK_IFACES]; /* clsact created by ampguard */
	struct ag_orphan_cfg orphan[AG_NR_GENERATIONS];
	__u64 orphan_tat;                 /* the orphan rate limit's bucket */
	struct bpf_spin_lock orphan_lock; /* as in struct ag_rl_agg */
	__u32 pad;
};

/*
 * Which local addresses a vector's unsolicited traffic goes to, sampled:
 * an upstream rule must name the attacked address, not the whole host.
 * About one frame in AG_DST_SAMPLE of each vector's unsolicited frames
 * (per CPU and interface) adds AG_DST_SAMPLE frames and AG_DST_SAMPLE
 * times its length to its destination's entry, so the sums estimate the
 * traffic without a map write per frame. Which frames are taken follows a
 * Weyl sequence over the frame's number in its counter (ag_dst_sampled), so
 * destinations that alternate in any fixed pattern are sampled in their
 * true shares. Entries are never cleared: readers take differences.
 */
#define AG_DST_SAMPLE_SHIFT 6
#define AG_DST_SAMPLE (1U << AG_DST_SAMPLE_SHIFT)
#define AG_DST_ENTRIES 8192

struct ag_dst_key {
	__u32 vec;
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
};

struct ag_dst_val {
	__u64 packets; /* estimated: samples x AG_DST_SAMPLE */
	__u64 bytes;
};

/* Is the n-th frame of a counter (n >= 1) a sample? */
static inline int ag_dst_sampled(__u64 n)
{
	return (__u32)((__u32)n * 0x9e3779b9U) < (1U << (32 - AG_DST_SAMPLE_SHIFT));
}

/*
 * Sampled capture (`ampguard capture`). The datapath reads until_ns first:
 * 0 (no capture) costs one inlined array lookup and one branch. Otherwise
 * frames whose reason, vector and interface are in the masks are counted
 * per CPU, one in `sample` of them is checked against the lease
 * (bpf_ktime_get_ns() < until_ns, read only for these) and the shared rate
 * cap (a GCRA bucket, struct ag_capture_bucket), and goes to the perf
 * event array with its first min(snaplen, frame) bytes behind a struct
 * ag_capture_meta. The capture process renews until_ns every
 * AG_CAPTURE_RENEW_MS for AG_CAPTURE_LEASE_MS: a capture that dies stops
 * within the lease.
 */
#define AG_CAPTURE_LEASE_MS 2000
#define AG_CAPTURE_RENEW_MS 500

struct ag_capture {
	__u64 until_ns; /* lease end, on bpf_ktime_get_ns()'s clock; 0: off */
	__u64 vectors;  /* bit per slot */
	__u32 reasons;  /* bit per enum ag_reason */
	__u32 sample;   /* one in sample of the matching frames, per CPU; >= 1 */
	__u32 snaplen;
	__u32 owner;   /* pid of the capture */
	__u32 ifindex; /* 0: every protected interface */
	__u32 pad;
};

struct ag_capture_bucket {
	__u64 tat; /* GCRA, ns */
	__u64 inc_ns;
	__u64 tol_ns;
	struct bpf_spin_lock lock; /* as in struct ag_rl_agg */
	__u32 pad;
};

struct ag_capture_cpu {
	__u64 matched; /* frames in the masks while a lease was set */
	__u64 sampled; /* handed to the perf event array */
	__u64 capped;  /* sampled 1 in N but over the rate cap */
	__u64 failed;  /* the perf event array refused (no reader, buffer full) */
	__u64 skip;    /* frames still to pass over before the next of 1 in N */
};

struct ag_capture_meta {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u32 ifindex;
	__u32 rx_queue;
	__u32 len; /* the whole frame; the sample may be shorter */
	__u32 caplen;
	__u16 vec;
	__u8 reason;
	__u8 pad[5];
};

/* Where the egress tracker sits in a clsact hook; distinctive, so that
 * detach removes only its own filter. */
#define AG_TC_HANDLE 0xa9a9
#define AG_TC_PRIORITY 0xa9

#endif /* AMPGUARD_ABI_H */
