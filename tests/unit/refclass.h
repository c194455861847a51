/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A reference model of the XDP classifier, written from the README's
 * "How it decides" and the ABI header only: given a frame, a configuration
 * and the tables the datapath keeps (requests sent, first fragments seen),
 * it says what the program must do with the frame: the verdict, the vector
 * slot the frame is counted under and the reason. It also models the TC
 * egress recorder, so a test can mirror the tracking table.
 *
 * Time is left out: tracked requests are either live or expired (decided
 * by whoever adds them), first fragments never expire, and the ratelimit
 * action and the ratelimit orphan policy are not modelled.
 */
#ifndef AMPGUARD_REFCLASS_H
#define AMPGUARD_REFCLASS_H

#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "ampguard_abi.h"

#define REF_MAX_CIDRS 64

struct ref_vector {
	__u16 port; /* UDP source port the slot matches */
	__u8 in_use;
	__u8 action;            /* AG_ACT_PASS, AG_ACT_MONITOR or AG_ACT_DROP */
	__u32 track_timeout_ms; /* 0: tracking off for this vector */
};

struct ref_cidr {
	__u8 family; /* 4 or 6 */
	__u8 prefixlen;
	__u8 addr[16]; /* network order; IPv4 uses the first 4 bytes */
};

struct ref_config {
	struct ref_vector vec[AG_MAX_VECTORS]; /* by slot; slot 0 never matches */
	__u32 served[AG_NR_PORTS / 32];        /* destination ports served, bit per port */
	struct ref_cidr allow[REF_MAX_CIDRS];
	struct ref_cidr deny[REF_MAX_CIDRS];
	unsigned int nr_allow, nr_deny;
	__u32 orphan; /* AG_ORPHAN_PASS or AG_ORPHAN_DROP */
};

/* A fixed-size open-addressing table with byte keys; entries are never removed. */
struct ref_table {
	size_t key_size, val_size, cap, n;
	unsigned char *used;
	unsigned char *keys;
	unsigned char *vals;
};

struct ref_track_val {
	int expired; /* recorded longer ago than any timeout */
};

struct ref_frag_val {
	__u32 vec;
	__u32 drop;
};

/* What the datapath remembers between frames. */
struct ref_state {
	struct ref_table track; /* struct ag_track_key -> struct ref_track_val */
	struct ref_table frags; /* struct ag_frag_key -> struct ref_frag_val */
};

struct ref_verdict {
	int xdp;       /* XDP_PASS or XDP_DROP */
	__u32 vec;     /* slot counted under */
	__u32 reason;  /* enum ag_reason */
	char why[400]; /* how the verdict was reached, for reports */
};

void ref_config_init(struct ref_config *c);
void ref_serve(struct ref_config *c, __u16 port, int on);
int ref_served(const struct ref_config *c, __u16 port);
/* The slot whose vector matches source port port, or 0. */
unsigned int ref_vector_slot(const struct ref_config *c, __u16 port);

int ref_state_init(struct ref_state *s, size_t capacity);
void ref_state_clear(struct ref_state *s);
void ref_state_free(struct ref_state *s);

/* Table access, for mirroring and comparing with the maps. */
void *ref_table_get(const struct ref_table *t, const void *key);
int ref_table_put(struct ref_table *t, const void *key, const void *val);
/* The i-th occupied entry (0 <= i < cap), or NULL when slot i is empty. */
const void *ref_table_key_at(const struct ref_table *t, size_t i);
void *ref_table_val_at(const struct ref_table *t, size_t i);

/* Adds a tracked request directly (e.g. an entry written into the map by a test). */
int ref_track_add(struct ref_state *s, const struct ag_track_key *k, int expired);

/*
 * Classifies one received frame as the XDP program must, and records what
 * the program would remember (a first fragment's verdict) in s.
 */
void ref_classify(const struct ref_config *c, struct ref_state *s, const __u8 *frame, size_t len,
		  struct ref_verdict *v);

/*
 * The TC egress recorder: a frame sent by this host. Returns 1 and fills
 * *k when it is a request the recorder must remember (the entry is added to
 * s as live), 0 otherwise.
 */
int ref_record_request(const struct ref_config *c, struct ref_state *s, const __u8 *frame,
		       size_t len, struct ag_track_key *k);

const char *ref_reason_name(unsigned int reason);
void ref_format_addr(const __u8 addr[16], char *buf, size_t len);

#endif
