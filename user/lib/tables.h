/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tables layer: reading and maintaining what the datapath keeps —
 * the active generation, counters, the per-source table, the CIDR lists,
 * the egress tracker and served ports. Nothing here flips a generation.
 */
#ifndef AG_TABLES_H
#define AG_TABLES_H

#include "state.h"

/* gen.c: the active generation */
__u32 ag_active_gen(const struct ag_state *st);
int ag_policy_read(int config_fd, int policy_fd, struct ag_policy tbl[AG_MAX_VECTORS]);

/* stats.c */
struct ag_iface_counters {
	char name[IF_NAMESIZE];
	struct ag_counter c[AG_NR_STATS];
};

struct ag_snapshot {
	struct ag_iface_counters *ifs; /* malloc'd */
	unsigned int n;
	struct ag_policy tbl[AG_MAX_VECTORS];
	double when; /* CLOCK_MONOTONIC seconds */
};

int ag_snapshot_take(const struct ag_state *st, const char *only, struct ag_snapshot *snap);
int ag_stats_read(int stats_fd, struct ag_counter out[AG_NR_STATS]);
int ag_stats_zero_slot(int stats_fd, unsigned int slot);
int ag_capture_read(const struct ag_state *st, struct ag_capture *cap, struct ag_capture_cpu *sum);
int ag_capture_set(const struct ag_state *st, const struct ag_capture *cap);

/* dsts.c: where unsolicited traffic goes, sampled (struct ag_dst_key) */
struct ag_dst_entry {
	struct ag_dst_key key;
	struct ag_dst_val val;
};

int ag_dsts_read(int dsts_fd, struct ag_dst_entry **out, size_t *n);
void ag_dsts_sort(struct ag_dst_entry *v, size_t n);
const struct ag_dst_entry *ag_dsts_find(const struct ag_dst_entry *v, size_t n,
					const struct ag_dst_key *key);
void ag_dst_delta(const struct ag_dst_entry *now, const struct ag_dst_entry *then,
		  struct ag_dst_val *d);

/* srctable.c: the per-source rate-limit table */
struct ag_src_entry *ag_src_read(const struct ag_state *st);
unsigned long ag_src_in_use(const struct ag_src_entry *all);
int ag_src_held(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS],
		unsigned long *held);
int ag_src_free(const struct ag_state *st, unsigned int slot);
int ag_rl_reset(const struct ag_state *st, unsigned int slot);

/* lists.c: the allow and deny lists */
enum ag_list_kind { AG_LIST_ALLOW, AG_LIST_DENY };

struct ag_list_op {
	__u8 list;       /* enum ag_list_kind */
	__u8 del;        /* remove instead of add */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u32 prefixlen; /* of the CIDR itself */
	__u8 addr[16];
};

struct ag_cidr {
	int family;
	struct ag_lpm6 key; /* an ag_lpm4 prefix when family is AF_INET */
};

struct ag_cidr_set {
	struct ag_cidr *v;
	size_t n, cap;
};

const char *ag_list_name(enum ag_list_kind list);
int ag_cidr_set_add(struct ag_cidr_set *set, const struct ag_cidr *c);
int ag_cidr_file_read(const char *path, struct ag_cidr_set *set);
void ag_cidr_str(const struct ag_cidr *c, char *buf, size_t len);
int ag_cidr_cmp(const void *a, const void *b);
int ag_list_collect(const struct ag_state *st, enum ag_list_kind list, struct ag_cidr_set *all);
int ag_list_plan(const struct ag_state *st, enum ag_list_kind list, struct ag_cidr_set *req,
		 bool del, struct ag_list_op **ops_out, size_t *n_out);
int ag_lists_read(const struct ag_state *st, struct ag_list_op **out, size_t *n);

/* tc.c: the egress request tracker and the served ports */
int ag_served_read(const struct ag_state *st, struct ag_served *s);
int ag_tc_attach(int ifindex, int prog_fd, bool replace, __u8 *made_qdisc);
void ag_tc_detach(int ifindex, bool made_qdisc);
void ag_track_detach_all(const struct ag_ifinfo *info);
__u32 ag_tc_prog_id(int ifindex);
int ag_track_count(int track_fd, unsigned long *entries);
bool ag_tracker_owned(const struct ag_state *st, __u32 ifindex);
void ag_untrack_unknown(const struct ag_state *st, const char *ifname);

#endif /* AG_TABLES_H */
