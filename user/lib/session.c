// SPDX-License-Identifier: GPL-2.0-only
/*
 * A verb's session on the state root: the writer lock, then the repair of
 * whatever a crash left (repair.c), then the shared maps. Every writer
 * goes through ag_state_lock(), so no writer ever works on state another
 * left half-made.
 */
#include <errno.h>

#include "attach.h"

/*
 * Takes the writer lock, then repairs what a crash left. Errors are said
 * here, except -ENOENT for a root that does not exist (create false).
 */
int ag_state_lock(struct ag_state *st, bool create)
{
	int err = ag_state_flock(st, create);

	if (!err)
		ag_state_repair(st);
	return err;
}

/*
 * Opens existing state for a verb that needs it, with one line for the
 * usual reasons it cannot.
 */
int ag_state_open(struct ag_state *st, enum ag_lock_mode lock)
{
	int err;

	ag_state_reset(st);
	if (ag_path(st->root, sizeof(st->root), "%s", ag_root())) {
		ag_err("state root path too long: %s", ag_root());
		return -ENAMETOOLONG;
	}
	if (lock == AG_LOCK_WRITE) {
		err = ag_state_lock(st, false);
		if (err == -ENOENT)
			goto not_attached;
		if (err)
			return err;
	}
	err = ag_state_open_maps(st);
	if (err == -ENOENT)
		goto not_attached;
	if (err && err != -EPROTO && err != -EUCLEAN)
		ag_bpf_err(err, st->root);
	if (err)
		ag_state_close(st);
	return err;

not_attached:
	if (ag_stale_staging(st))
		ag_err("ampguard is not attached to any interface, but an interrupted attach left state in %s: 'ampguard detach IFACE' or 'ampguard attach IFACE' removes it",
		       st->root);
	else
		ag_err("ampguard is not attached to any interface (no state in %s): run 'ampguard attach IFACE' first",
		       st->root);
	ag_state_close(st);
	return -ENOENT;
}

/* Creates the state root if needed and takes the writer lock on it. */
int ag_state_lock_create(struct ag_state *st)
{
	int err;

	if (ag_path(st->root, sizeof(st->root), "%s", ag_root())) {
		ag_err("state root path too long: %s", ag_root());
		return -ENAMETOOLONG;
	}
	err = ag_ensure_bpffs(st->root);
	return err ?: ag_state_lock(st, true);
}
