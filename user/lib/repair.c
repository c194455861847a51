// SPDX-License-Identifier: GPL-2.0-only
/*
 * Repairs what a crash or a careless hand left in the state root. Every
 * writer runs ag_state_repair() as soon as it holds the writer lock, so no
 * other writer can be half-way through what is being repaired:
 *
 *  - staging directories of an attach killed midway are taken apart (its
 *    XDP link detached, its egress filters removed, its pins unlinked);
 *  - a map pin removed from a protected interface, or from the shared
 *    maps, is pinned again from the program still running on the link:
 *    the kernel keeps a map alive as long as a program uses it, so nothing
 *    of the running configuration or the counters is lost.
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "attach.h"

/* Maps of one interface's program that are pinned in its directory. */
static const char *const iface_maps[] = { "stats", "ifinfo" };

/* Removes one staging directory and what its attach had put on interfaces. */
static int clear_one(const char *ifname, const char *dir, void *arg)
{
	const struct ag_state *st = arg;
	struct bpf_link_info li;
	struct ag_ifinfo info;
	int fd;

	if (!ag_dir_ifinfo(dir, &info))
		ag_track_detach_all(&info);
	else /* killed before its ifinfo was pinned: its filters are known only by where they are */
		ag_untrack_unknown(st, ifname);
	fd = ag_dir_link(dir, &li);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	ag_warn("%s: removing the leftovers of an interrupted attach", ifname);
	ag_remove_tree(dir);
	return 0;
}

/*
 * Where a map of the running program belongs when its pin is missing, or
 * "" when it has its pin (or is not one ampguard pins).
 */
static void missing_pin(const struct ag_state *st, const char *ifdir, const char *name, char *path,
			size_t len)
{
	unsigned int i;

	path[0] = '\0';
	for (i = 0; i < ag_nr_shared_maps; i++)
		if (!strcmp(name, ag_shared_maps[i].name) &&
		    ag_path(path, len, "%s/%s", st->root, name))
			path[0] = '\0';
	for (i = 0; i < sizeof(iface_maps) / sizeof(iface_maps[0]); i++)
		if (!strcmp(name, iface_maps[i]) && ag_path(path, len, "%s/%s", ifdir, name))
			path[0] = '\0';
	if (path[0] && access(path, F_OK) == 0)
		path[0] = '\0';
}

static bool any_pin_missing(const struct ag_state *st, const char *ifdir)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < ag_nr_shared_maps; i++) {
		missing_pin(st, ifdir, ag_shared_maps[i].name, path, sizeof(path));
		if (path[0])
			return true;
	}
	for (i = 0; i < sizeof(iface_maps) / sizeof(iface_maps[0]); i++) {
		missing_pin(st, ifdir, iface_maps[i], path, sizeof(path));
		if (path[0])
			return true;
	}
	return false;
}

/* The id of the program behind an interface's pinned XDP link, 0 if none. */
static __u32 linked_prog(const char *ifdir)
{
	struct bpf_link_info info;
	int fd = ag_dir_link(ifdir, &info);

	if (fd < 0)
		return 0;
	close(fd);
	return info.prog_id;
}

/* Pins again those maps of program prog_id whose pins are missing. */
static void repin_from_prog(const struct ag_state *st, const char *ifname, const char *ifdir,
			    __u32 prog_id)
{
	enum { MAX_MAPS = 64 };
	__u32 ids[MAX_MAPS], i, len;
	struct bpf_prog_info pinfo = {};
	struct bpf_map_info minfo;
	char path[PATH_MAX];
	int pfd, mfd;

	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return;
	pinfo.nr_map_ids = MAX_MAPS;
	pinfo.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pinfo);
	if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len))
		pinfo.nr_map_ids = 0;
	close(pfd);
	for (i = 0; i < pinfo.nr_map_ids && i < MAX_MAPS; i++) {
		mfd = bpf_map_get_fd_by_id(ids[i]);
		if (mfd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		len = sizeof(minfo);
		if (!bpf_obj_get_info_by_fd(mfd, &minfo, &len)) {
			missing_pin(st, ifdir, minfo.name, path, sizeof(path));
			if (path[0] && !bpf_obj_pin(mfd, path))
				ag_warn("%s: restored the missing pin %s from the running program",
					ifname, path);
		}
		close(mfd);
	}
}

static int repair_iface(const char *ifname, void *arg)
{
	const struct ag_state *st = arg;
	char ifdir[PATH_MAX];
	__u32 prog_id;

	if (ag_iface_pin(st, ifname, NULL, ifdir, sizeof(ifdir)) || !any_pin_missing(st, ifdir))
		return 0;
	/* Without a link there is no program to ask: attach or detach replaces it all. */
	prog_id = linked_prog(ifdir);
	if (prog_id)
		repin_from_prog(st, ifname, ifdir, prog_id);
	return 0;
}

void ag_state_repair(const struct ag_state *st)
{
	unsigned int n;

	ag_for_each_staging(st, clear_one, (void *)st);
	if (ag_count_ifaces(st, &n))
		return; /* unreadable: better nothing than the wrong thing */
	/* Shared maps without an interface: a detach or a first attach died midway. */
	if (!n)
		ag_unpin_shared(st);
	else
		ag_for_each_iface(st, repair_iface, (void *)st);
}
