// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attaching and detaching one interface. An attach either completes (program attached
 * through a pinned bpf_link, maps pinned) or, when it fails, leaves nothing
 * behind: the interface's pins are assembled in a staging directory and
 * renamed into place last. One killed midway leaves that directory to the
 * next writer's ag_state_repair().
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"

/* The two programs of one protected interface. */
struct instance {
	struct ampguard_xdp *xdp;
	struct ampguard_tc *tc;
};

static void instance_destroy(struct instance *in)
{
	ampguard_tc__destroy(in->tc);
	ampguard_xdp__destroy(in->xdp);
	in->tc = NULL;
	in->xdp = NULL;
}

/* Points a map of the skeleton at an existing pin; *found says if there was one. */
static int reuse_pin(struct bpf_map *map, const char *path, bool *found)
{
	int fd, err;

	*found = false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(map, fd);
	close(fd);
	*found = !err;
	return err;
}

/*
 * Opens and loads the programs for one interface, sharing the policy and
 * tracking maps with the other interfaces. *fresh is set when this load
 * created the shared maps (nothing was attached before). Says why it
 * failed, in one line.
 */
static int load_instance(const struct ag_state *st, const char *ifdir, struct instance *in,
			 bool *fresh)
{
	struct ag_kernel kern;
	struct ag_state maps;
	char path[PATH_MAX];
	unsigned int i, found_n = 0;
	bool found;
	int err;

	err = ag_kernel_probe(&kern);
	if (err)
		return err;
	in->xdp = ag_xdp_open(&kern);
	in->tc = ag_tc_open(&kern);
	if (!in->xdp || !in->tc) {
		err = ag_bpf_err(errno, "opening the BPF programs");
		goto fail;
	}
	for (i = 0; i < ag_nr_shared_maps; i++) {
		if (ag_path(path, sizeof(path), "%s/%s", st->root, ag_shared_maps[i].name)) {
			err = ag_bpf_err(ENAMETOOLONG, st->root);
			goto fail;
		}
		err = reuse_pin(bpf_object__find_map_by_name(in->xdp->obj, ag_shared_maps[i].name),
				path, &found);
		if (err) {
			ag_bpf_err(err, path);
			goto fail;
		}
		found_n += found;
	}
	if (found_n && found_n != ag_nr_shared_maps) {
		ag_err("incomplete state in %s (shared maps are missing and no running program holds them): detach every interface, then attach again",
		       st->root);
		err = -EUCLEAN;
		goto fail;
	}
	*fresh = found_n == 0;
	if (ifdir) {
		if (ag_path(path, sizeof(path), "%s/stats", ifdir) ||
		    (err = reuse_pin(in->xdp->maps.stats, path, &found)) ||
		    ag_path(path, sizeof(path), "%s/ifinfo", ifdir) ||
		    (err = reuse_pin(in->xdp->maps.ifinfo, path, &found))) {
			err = ag_bpf_err(err ?: ENAMETOOLONG, path);
			goto fail;
		}
	}
	err = ag_xdp_load(in->xdp, &kern);
	if (err)
		goto fail;

	/* The recorder writes the very maps the classifier reads. */
	ag_state_from_obj(&maps, in->xdp->obj);
	err = ag_state_share(&maps, in->tc->obj);
	if (err) {
		ag_bpf_err(err, "sharing maps with the egress tracker");
		goto fail;
	}
	err = ag_tc_load(in->tc, &kern);
	if (err)
		goto fail;
	err = *fresh ? ag_state_init_maps(&maps) : ag_check_abi(maps.config_fd);
	if (err) {
		if (err != -EPROTO) /* said by ag_check_abi */
			ag_bpf_err(err, "initialising the shared maps");
		goto fail;
	}
	return 0;
fail:
	instance_destroy(in);
	return err ? err : -EINVAL;
}

static int prog_name_by_id(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int fd;

	snprintf(buf, len, "?");
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
		snprintf(buf, len, "%s", info.name);
	close(fd);
	return 0;
}

/*
 * Removes an XDP program ampguard did not attach, when it was attached
 * through netlink. A program held by another tool's bpf_link is left to
 * that tool: link ifindexes are per namespace, so a link cannot safely be
 * matched to this interface from here.
 */
static int remove_foreign(int ifindex, const struct bpf_xdp_query_opts *q)
{
	static const struct {
		size_t id_off;
		__u32 flags;
	} modes[] = {
		{ offsetof(struct bpf_xdp_query_opts, drv_prog_id), XDP_FLAGS_DRV_MODE },
		{ offsetof(struct bpf_xdp_query_opts, skb_prog_id), XDP_FLAGS_SKB_MODE },
		{ offsetof(struct bpf_xdp_query_opts, hw_prog_id), XDP_FLAGS_HW_MODE },
	};
	unsigned int i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!*(const __u32 *)((const char *)q + modes[i].id_off))
			continue;
		if (bpf_xdp_detach(ifindex, modes[i].flags, NULL))
			return -errno;
	}
	return 0;
}

static int check_foreign(const struct ag_attach_req *req)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[BPF_OBJ_NAME_LEN + 1];
	int err;

	err = bpf_xdp_query(req->ifindex, 0, &q);
	if (err)
		return ag_bpf_err(err, req->ifname);
	if (!q.prog_id && !q.drv_prog_id && !q.skb_prog_id && !q.hw_prog_id)
		return 0;
	if (!q.prog_id)
		q.prog_id = q.drv_prog_id ?: q.skb_prog_id ?: q.hw_prog_id;
	prog_name_by_id(q.prog_id, name, sizeof(name));
	if (!req->force) {
		ag_err("%s already runs XDP program '%s' (id %u) that ampguard did not attach: remove it, or replace it with 'ampguard attach %s --force'",
		       req->ifname, name, q.prog_id, req->ifname);
		return -EBUSY;
	}
	ag_warn("%s: removing XDP program '%s' (id %u) as --force asks", req->ifname, name,
		q.prog_id);
	err = remove_foreign(req->ifindex, &q);
	if (err == -EBUSY) {
		ag_err("%s: XDP program '%s' (id %u) is held by another tool's bpf_link: detach it with that tool",
		       req->ifname, name, q.prog_id);
		return err;
	}
	return err ? ag_bpf_err(err, "removing the foreign XDP program") : 0;
}

static char kernel_msg[200];

static int keep_kernel_msg(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static const char tag[] = "Kernel error message: ";
	char line[256];
	const char *msg;

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	msg = strstr(line, tag);
	if (msg)
		snprintf(kernel_msg, sizeof(kernel_msg), "%.*s",
			 (int)strcspn(msg + sizeof(tag) - 1, "\n"), msg + sizeof(tag) - 1);
	return 0;
}

/*
 * Why the driver refuses native XDP, in its own words where it gives them
 * ("MTU too large to enable XDP"): a link request carries no extended ack,
 * so the same request is made once more through netlink, which does. It
 * fails as the link did; should it ever succeed, it is taken back at once.
 */
static void native_refusal(int prog_fd, int ifindex, int err, char *buf, size_t len)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);
	libbpf_print_fn_t old;

	kernel_msg[0] = '\0';
	old = libbpf_set_print(keep_kernel_msg);
	if (!bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
			    NULL))
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &opts);
	libbpf_set_print(old);
	snprintf(buf, len, "%s%s%s", strerror(-err), kernel_msg[0] ? ": " : "", kernel_msg);
}

static int link_xdp(int prog_fd, const struct ag_attach_req *req, unsigned int *mode)
{
	char why[256];
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd, err;

	if (req->mode != AG_MODE_GENERIC) {
		opts.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(prog_fd, req->ifindex, BPF_XDP, &opts);
		if (fd >= 0) {
			*mode = AG_MODE_NATIVE;
			return fd;
		}
		err = -errno;
		native_refusal(prog_fd, req->ifindex, err, why, sizeof(why));
		if (req->mode == AG_MODE_NATIVE) {
			ag_err("native XDP attach to %s failed: %s (try --mode generic)",
			       req->ifname, why);
			return err;
		}
		ag_warn("native XDP unavailable on %s (%s): using generic mode, which is slower",
			req->ifname, why);
	}
	opts.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, req->ifindex, BPF_XDP, &opts);
	if (fd >= 0) {
		*mode = AG_MODE_GENERIC;
		return fd;
	}
	err = -errno;
	if (err == -EINVAL)
		ag_err("attaching to %s failed: %s (XDP links need Linux 5.9 or later)",
		       req->ifname, strerror(EINVAL));
	else
		ag_bpf_err(err, req->ifname);
	return err;
}

static int pin_fd(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (ag_path(path, sizeof(path), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

static int track_attach_all(const struct ag_state *st, const struct ag_attach_req *req, int prog_fd,
			    struct ag_ifinfo *info)
{
	unsigned int i;
	int err;

	for (i = 0; i < req->nr_track; i++) {
		err = ag_tc_attach(req->track_ifindex[i], prog_fd, false,
				   &info->track_made_qdisc[i]);
		/* An interrupted attach may have left our filter, owned by nobody: take it over. */
		if (err == -EEXIST && !ag_tracker_owned(st, req->track_ifindex[i]))
			err = ag_tc_attach(req->track_ifindex[i], prog_fd, true, NULL);
		if (err == -EEXIST) {
			ag_err("%s already has ampguard's egress tracker: a tracking interface serves one protected interface",
			       req->track_names[i]);
		} else if (err) {
			ag_err("attaching the egress tracker to %s: %s", req->track_names[i],
			       strerror(-err));
		}
		if (err)
			return err;
		info->track_ifindex[i] = req->track_ifindex[i];
	}
	return 0;
}

static int repin(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (ag_path(path, sizeof(path), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	unlink(path);
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

/* Same interface, still attached: swap in freshly loaded programs, no gap. */
static int reattach(const struct ag_state *st, const struct ag_attach_req *req, const char *ifdir,
		    int link_fd)
{
	struct instance in = {};
	struct ag_ifinfo info;
	unsigned int i;
	bool fresh;
	int err, tc_fd;

	err = load_instance(st, ifdir, &in, &fresh);
	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(in.xdp->maps.ifinfo), &(__u32){ 0 }, &info))
		info = (struct ag_ifinfo){ 0 };
	if (req->mode != AG_MODE_AUTO && info.mode && info.mode != (__u32)req->mode) {
		ag_err("%s is protected in %s mode: run 'ampguard detach %s' first to change the mode",
		       req->ifname, ag_mode_name(info.mode), req->ifname);
		err = -EEXIST;
		goto out;
	}
	for (i = 1; i < req->nr_track; i++) {
		if (info.track_ifindex[i] != req->track_ifindex[i]) {
			ag_err("%s is protected with other tracking interfaces: run 'ampguard detach %s' first to change them",
			       req->ifname, req->ifname);
			err = -EEXIST;
			goto out;
		}
	}
	tc_fd = bpf_program__fd(in.tc->progs.ampguard_tc_egress);
	for (i = 0; i < AG_MAX_TRACK_IFACES && info.track_ifindex[i]; i++) {
		err = ag_tc_attach(info.track_ifindex[i], tc_fd, true, NULL);
		if (err) {
			ag_bpf_err(err, "replacing the egress tracker");
			goto out;
		}
	}
	if (bpf_link_update(link_fd, bpf_program__fd(in.xdp->progs.ampguard_xdp), NULL)) {
		err = ag_bpf_err(errno, "replacing the program");
		goto out;
	}
	err = repin(tc_fd, ifdir, "tc_prog");
	if (err) {
		ag_bpf_err(err, "pinning the egress tracker");
		goto out;
	}
	if (!req->quiet)
		printf("%s: already protected (%s mode); programs replaced in place\n", req->ifname,
		       ag_mode_name(info.mode));
out:
	instance_destroy(&in);
	return err;
}

static int attach_new(const struct ag_state *st, const struct ag_attach_req *req, const char *ifdir)
{
	char staging[PATH_MAX] = "", path[PATH_MAX];
	struct ag_ifinfo info = { .ifindex = req->ifindex, .attached_at = time(NULL) };
	struct instance in = {};
	int link_fd = -1, err;
	bool fresh = false;
	unsigned int i;

	ag_orphan_defaults(&info.orphan[0]);
	info.orphan[1] = info.orphan[0];

	err = check_foreign(req);
	if (err) {
		ag_state_remove_if_unused(st);
		return err;
	}
	err = load_instance(st, NULL, &in, &fresh);
	if (err)
		goto fail;

	if (ag_path(path, sizeof(path), "%s/ifaces", st->root) ||
	    ag_iface_staging(st, req->ifname, staging, sizeof(staging))) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(path, 0700) && errno != EEXIST) {
		err = ag_bpf_err(errno, path);
		goto fail;
	}
	if (mkdir(staging, 0700)) {
		err = ag_bpf_err(errno, staging);
		staging[0] = '\0';
		goto fail;
	}

	/* Record requests before dropping anything, so no reply in flight is lost. */
	err = track_attach_all(st, req, bpf_program__fd(in.tc->progs.ampguard_tc_egress), &info);
	if (err)
		goto fail;
	link_fd = link_xdp(bpf_program__fd(in.xdp->progs.ampguard_xdp), req, &info.mode);
	if (link_fd < 0) {
		err = link_fd;
		goto fail;
	}
	if (bpf_map_update_elem(bpf_map__fd(in.xdp->maps.ifinfo), &(__u32){ 0 }, &info, 0) ||
	    (err = pin_fd(bpf_map__fd(in.xdp->maps.stats), staging, "stats")) ||
	    (err = pin_fd(bpf_map__fd(in.xdp->maps.ifinfo), staging, "ifinfo")) ||
	    (err = pin_fd(bpf_program__fd(in.tc->progs.ampguard_tc_egress), staging, "tc_prog")) ||
	    (err = pin_fd(link_fd, staging, "link"))) {
		err = ag_bpf_err(err ?: errno, "pinning interface state");
		goto fail;
	}
	for (i = 0; fresh && i < ag_nr_shared_maps; i++) {
		err = pin_fd(bpf_map__fd(bpf_object__find_map_by_name(in.xdp->obj,
								      ag_shared_maps[i].name)),
			     st->root, ag_shared_maps[i].name);
		if (err) {
			ag_bpf_err(err, "pinning shared maps");
			goto fail;
		}
	}
	if (rename(staging, ifdir)) {
		err = ag_bpf_err(errno, ifdir);
		goto fail;
	}
	close(link_fd);
	instance_destroy(&in);
	if (!req->quiet) {
		printf("%s: protected (%s mode), tracking requests on", req->ifname,
		       ag_mode_name(info.mode));
		for (i = 0; i < req->nr_track; i++)
			printf(" %s", req->track_names[i]);
		printf("\n");
	}
	return 0;

fail:
	/* Unpinned and closed, the link detaches the program by itself. */
	if (staging[0])
		ag_remove_tree(staging);
	if (link_fd >= 0)
		close(link_fd);
	ag_track_detach_all(&info);
	if (fresh)
		ag_unpin_shared(st);
	ag_state_remove_if_unused(st);
	instance_destroy(&in);
	return err;
}

int ag_attach_resolve(struct ag_attach_req *req)
{
	unsigned int i, j;

	for (i = 0; i < req->nr_track; i++) {
		if (!ag_ifname_valid(req->track_names[i])) {
			ag_err("'%s' is not an interface name: see 'ip link'", req->track_names[i]);
			return -EINVAL;
		}
		req->track_ifindex[i] = if_nametoindex(req->track_names[i]);
		if (!req->track_ifindex[i]) {
			ag_err("no such interface '%s': see 'ip link'", req->track_names[i]);
			return -ENODEV;
		}
		for (j = 0; j < i; j++) {
			if (req->track_ifindex[j] == req->track_ifindex[i]) {
				ag_err("%s is named twice for tracking", req->track_names[i]);
				return -EINVAL;
			}
		}
	}
	req->ifindex = req->track_ifindex[0];
	return 0;
}

/* The interface's pinned link, if ampguard has one for it: fd, or -1. */
static int open_iface_link(const struct ag_state *st, const char *ifname, __u32 *ifindex)
{
	struct bpf_link_info info;
	char dir[PATH_MAX];
	int fd;

	*ifindex = 0;
	if (ag_iface_pin(st, ifname, NULL, dir, sizeof(dir)))
		return -1;
	fd = ag_dir_link(dir, &info);
	*ifindex = info.xdp.ifindex;
	return fd < 0 ? -1 : fd;
}

/* Attaches (or re-attaches) one interface; the caller holds the writer lock. */
int ag_attach_locked(const struct ag_state *st, const struct ag_attach_req *req)
{
	char ifdir[PATH_MAX];
	__u32 linked_ifindex;
	int err, link_fd;

	if (ag_iface_pin(st, req->ifname, NULL, ifdir, sizeof(ifdir)))
		return -ENAMETOOLONG;
	link_fd = open_iface_link(st, req->ifname, &linked_ifindex);
	if (link_fd >= 0 && linked_ifindex == (__u32)req->ifindex) {
		err = reattach(st, req, ifdir, link_fd);
	} else {
		if (link_fd >= 0 || access(ifdir, F_OK) == 0) {
			/* The interface this was pinned for is gone (or was recreated). */
			struct ag_ifinfo old;

			ag_warn("%s: removing stale state of an earlier attach", req->ifname);
			if (!ag_iface_info(st, req->ifname, &old))
				ag_track_detach_all(&old);
			ag_remove_tree(ifdir);
		}
		err = attach_new(st, req, ifdir);
	}
	if (link_fd >= 0)
		close(link_fd);
	return err;
}

/*
 * Removes an interface's programs and pins; the shared state goes with the
 * last interface. The caller holds the writer lock.
 */
int ag_detach_locked(const struct ag_state *st, const char *ifname)
{
	struct ag_ifinfo info;
	char path[PATH_MAX];
	__u32 ifindex;
	int err, fd;

	if (!ag_iface_info(st, ifname, &info))
		ag_track_detach_all(&info);
	else
		ag_untrack_unknown(st, ifname);
	fd = open_iface_link(st, ifname, &ifindex);
	if (fd >= 0) {
		/* Detach now, even if another process still holds the link open. */
		if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
			ag_warn("%s: detaching the link: %s", ifname, strerror(errno));
		close(fd);
	}
	if (ag_iface_pin(st, ifname, NULL, path, sizeof(path)))
		return -ENAMETOOLONG;
	err = ag_remove_tree(path);
	if (err)
		ag_bpf_err(err, path);
	ag_state_remove_if_unused(st);
	return err;
}

struct staging_match {
	const char *ifname;
	bool found;
};

static int staging_of(const char *ifname, const char *dir, void *arg)
{
	struct staging_match *m = arg;

	(void)dir;
	m->found |= !strcmp(ifname, m->ifname);
	return 0;
}

/*
 * Detaches one interface under the writer lock: 0 when it was protected,
 * 1 when all it had was what an interrupted attach left (now removed), or
 * a negative errno after saying why.
 */
int ag_detach(const char *ifname)
{
	struct staging_match leftovers = { .ifname = ifname };
	char ifdir[PATH_MAX];
	struct ag_state st;
	int err;

	ag_state_reset(&st);
	if (ag_path(st.root, sizeof(st.root), "%s", ag_root()) ||
	    ag_iface_pin(&st, ifname, NULL, ifdir, sizeof(ifdir)))
		return -ENAMETOOLONG;

	/* Taking the lock repairs the state: note first whether it holds IFACE's leftovers. */
	ag_for_each_staging(&st, staging_of, &leftovers);
	err = ag_state_lock(&st, false);
	if (err && err != -ENOENT)
		return err;
	if (err || access(ifdir, F_OK)) {
		/* The last interface may have gone with an interrupted attach's leftovers. */
		if (!err)
			ag_state_remove_if_unused(&st);
		ag_state_close(&st);
		if (!err && leftovers.found)
			return 1;
		ag_err("%s is not protected by ampguard: see 'ampguard status'", ifname);
		return -ENOENT;
	}
	err = ag_detach_locked(&st, ifname);
	ag_state_close(&st);
	return err;
}
