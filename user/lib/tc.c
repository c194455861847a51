// SPDX-License-Identifier: GPL-2.0-only
/*
 * Solicited-response tracking from userspace: the TC egress recorder on
 * clsact hooks (a hook ampguard made goes with its filter; one it found
 * stays), the served-port bitmap, and the tracked-request count.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tables.h"

static void tc_opts_init(struct bpf_tc_hook *hook, struct bpf_tc_opts *opts, int ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = BPF_TC_EGRESS;
	memset(opts, 0, sizeof(*opts));
	opts->sz = sizeof(*opts);
	opts->handle = AG_TC_HANDLE;
	opts->priority = AG_TC_PRIORITY;
}

/*
 * Puts the recorder on an interface's egress. replace swaps the program of
 * an existing ampguard filter in place.
 */
int ag_tc_attach(int ifindex, int prog_fd, bool replace, __u8 *made_qdisc)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	int err;

	tc_opts_init(&hook, &opts, ifindex);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (made_qdisc && !replace)
		*made_qdisc = !err;
	opts.prog_fd = prog_fd;
	opts.flags = replace ? BPF_TC_F_REPLACE : 0;
	err = bpf_tc_attach(&hook, &opts);
	if (err && made_qdisc && *made_qdisc && !replace) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		*made_qdisc = 0;
	}
	return err;
}

/* Removes ampguard's filter, and the clsact qdisc when ampguard made it. */
void ag_tc_detach(int ifindex, bool made_qdisc)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	tc_opts_init(&hook, &opts, ifindex);
	bpf_tc_detach(&hook, &opts);
	if (made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* Removes the egress filters of one protected interface. */
void ag_track_detach_all(const struct ag_ifinfo *info)
{
	unsigned int i;

	for (i = 0; i < AG_MAX_TRACK_IFACES && info->track_ifindex[i]; i++)
		ag_tc_detach(info->track_ifindex[i], info->track_made_qdisc[i]);
}

/* Program id of ampguard's filter on an interface's egress, 0 if none. */
__u32 ag_tc_prog_id(int ifindex)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	tc_opts_init(&hook, &opts, ifindex);
	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

/* The served ports of the active generation. */
int ag_served_read(const struct ag_state *st, struct ag_served *s)
{
	__u32 gen = ag_active_gen(st);

	return bpf_map_lookup_elem(st->served_fd, &gen, s) ? -errno : 0;
}

/* Entries in the tracking table, read in batches so a full table costs a few calls. */
int ag_track_count(int track_fd, unsigned long *entries)
{
	enum { CHUNK = 8192 };
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct ag_track_key *keys = calloc(CHUNK, sizeof(*keys));
	struct ag_track_val *vals = calloc(CHUNK, sizeof(*vals));
	__u32 token = 0, n;
	bool first = true;
	int err = 0;

	*entries = 0;
	while (keys && vals) {
		n = CHUNK;
		err = bpf_map_lookup_batch(track_fd, first ? NULL : &token, &token, keys, vals, &n,
					   &opts);
		first = false;
		*entries += n;
		if (err)
			break;
	}
	if (!keys || !vals)
		err = -ENOMEM;
	else if (err)
		err = errno == ENOENT ? 0 : -errno;
	free(keys);
	free(vals);
	return err;
}
struct owner_arg {
	const struct ag_state *st;
	__u32 ifindex;
	bool owned;
};

static int find_owner(const char *ifname, void *arg)
{
	struct owner_arg *a = arg;
	struct ag_ifinfo info;
	unsigned int i;

	if (!ag_iface_info(a->st, ifname, &info))
		for (i = 0; i < AG_MAX_TRACK_IFACES && info.track_ifindex[i]; i++)
			a->owned |= info.track_ifindex[i] == a->ifindex;
	return 0;
}

/* Does a protected interface list ifindex among its tracking interfaces? */
bool ag_tracker_owned(const struct ag_state *st, __u32 ifindex)
{
	struct owner_arg a = { .st = st, .ifindex = ifindex };

	ag_for_each_iface(st, find_owner, &a);
	return a.owned;
}

/*
 * Removes ampguard's egress filter from an interface whose ifinfo (the list
 * of filters it made) is lost, unless another protected interface owns it.
 * Filters on --track-on interfaces cannot be found this way.
 */
void ag_untrack_unknown(const struct ag_state *st, const char *ifname)
{
	__u32 ifindex = if_nametoindex(ifname);

	if (ifindex && !ag_tracker_owned(st, ifindex))
		ag_tc_detach(ifindex, false);
}
