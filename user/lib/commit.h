/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The commit layer: changes to what packets are judged by (vector table,
 * served ports, lists, orphan policy) written to the inactive generation
 * and made live by one flip, so a packet sees all of a change or none.
 */
#ifndef AG_COMMIT_H
#define AG_COMMIT_H

#include "tables.h"

struct ag_orphan_op {
	const char *ifname;
	struct ag_orphan_cfg cfg;
};

struct ag_change {
	const struct ag_policy *tbl;    /* the whole vector table, or NULL */
	const struct ag_served *served; /* or NULL */
	const struct ag_list_op *ops;
	size_t nr_ops;
	const struct ag_orphan_op *orphans;
	size_t nr_orphans;
};

int ag_commit(const struct ag_state *st, const struct ag_change *ch);

/* policy.c */
int ag_policy_commit(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS]);
int ag_policy_find(const struct ag_policy tbl[AG_MAX_VECTORS], const char *spec, int *port_out);
int ag_policy_alloc(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port);
int ag_policy_settle(const struct ag_state *st, const struct ag_policy *old,
		     const struct ag_policy *now, unsigned int slot);

#endif /* AG_COMMIT_H */
