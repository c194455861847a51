/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The attach layer: programs on interfaces (attach, re-attach, detach),
 * the repair of what a crash left, and sessions — the writer lock taken
 * and the state repaired before a verb touches anything.
 */
#ifndef AG_ATTACH_H
#define AG_ATTACH_H

#include "commit.h"

/* attach.c */
struct ag_attach_req {
	const char *ifname;
	int ifindex;
	int mode; /* AG_MODE_AUTO or enum ag_attach_mode */
	bool force;
	/* egress tracking: [0] the interface itself, then --track-on ones */
	const char *track_names[AG_MAX_TRACK_IFACES];
	__u32 track_ifindex[AG_MAX_TRACK_IFACES];
	unsigned int nr_track;
	const char *config; /* attach --config */
	bool quiet;         /* no success line (apply prints its own) */
};

int ag_attach_resolve(struct ag_attach_req *req);
int ag_attach_locked(const struct ag_state *st, const struct ag_attach_req *req);
int ag_detach_locked(const struct ag_state *st, const char *ifname);
int ag_detach(const char *ifname);

/* repair.c */
void ag_state_repair(const struct ag_state *st);

/* session.c: a verb's hold on the state */
int ag_state_lock(struct ag_state *st, bool create);
int ag_state_lock_create(struct ag_state *st);
int ag_state_open(struct ag_state *st, enum ag_lock_mode lock);

#endif /* AG_ATTACH_H */
