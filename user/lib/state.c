// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pinned state. Layout under the root (default /sys/fs/bpf/ampguard):
 *
 *   config, port_vec, policy,     maps shared by every interface
 *   track, served, rl_*
 *   ifaces/IFNAME/link            the XDP bpf_link
 *   ifaces/IFNAME/stats, ifinfo   that interface's counters and metadata
 *
 * Writers serialise with flock() on the root directory.
 */
#include <dirent.h>
#include <stddef.h>
#include <net/if.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "state.h"

static const char *root_override;

/* The formatter would split the stringified name from its macro. */
/* clang-format off */
#define SHARED(name) { #name, offsetof(struct ag_state, name##_fd) }
const struct ag_shared_map ag_shared_maps[] = {
	SHARED(config), SHARED(port_vec), SHARED(policy), SHARED(track), SHARED(track_ports),
	SHARED(served), SHARED(rl_agg), SHARED(rl_src), SHARED(rl_src_pending), SHARED(deny4),
	SHARED(deny6), SHARED(allow4), SHARED(allow6), SHARED(frags), SHARED(dsts), SHARED(capture),
	SHARED(capture_bucket), SHARED(capture_cpu), SHARED(capture_events),
};
/* clang-format on */
const unsigned int ag_nr_shared_maps = sizeof(ag_shared_maps) / sizeof(ag_shared_maps[0]);

static int *shared_fd(struct ag_state *st, unsigned int i)
{
	return (int *)((char *)st + ag_shared_maps[i].fd_offset);
}

void ag_set_root(const char *root)
{
	root_override = root;
}

const char *ag_root(void)
{
	const char *env = getenv(AG_ROOT_ENV);

	if (root_override)
		return root_override;
	if (env && *env)
		return env;
	return AG_DEFAULT_ROOT;
}

/*
 * The root must live on bpffs. The standard mount point is mounted when
 * missing, as the kernel does not do it by itself on every distribution.
 */
int ag_ensure_bpffs(const char *root)
{
	char parent[PATH_MAX], *slash;
	struct statfs sfs;

	if (ag_path(parent, sizeof(parent), "%s", root))
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';

	if (statfs(parent, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!strcmp(parent, "/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0)
		return 0;
	ag_err("%s is not on a bpffs mount: run 'mount -t bpf bpf /sys/fs/bpf' or choose a root under bpffs with --root",
	       parent);
	return -ENOTSUP;
}

/*
 * Takes the writer lock (session.c repairs once it holds it). The
 * directory may be removed by a detach that held the lock before us; in
 * that case start over on the new one. Errors are said here, except
 * -ENOENT for a root that does not exist (create false).
 */
int ag_state_flock(struct ag_state *st, bool create)
{
	struct stat a, b;
	int fd, tries;

	for (tries = 0; tries < 10; tries++) {
		if (create && mkdir(st->root, 0700) && errno != EEXIST)
			return ag_bpf_err(errno, st->root);
		fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT && !create ? -ENOENT : ag_bpf_err(errno, st->root);
		if (flock(fd, LOCK_EX)) {
			int err = -errno;

			close(fd);
			return ag_bpf_err(err, st->root);
		}
		if (fstat(fd, &a) == 0 && stat(st->root, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			st->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	ag_err("%s keeps changing under us; is another ampguard looping?", st->root);
	return -EBUSY;
}

/* An fd on pin name in directory dir (the root, an interface's, a staging one), or -errno. */
static int dir_pin_fd(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (ag_path(path, sizeof(path), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int ag_check_abi(int config_fd)
{
	struct ag_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(config_fd, &zero, &cfg))
		return -errno;
	if (cfg.abi_version != AG_ABI_VERSION) {
		ag_err("pinned state has ABI version %u, this ampguard speaks %u: run 'ampguard detach' for every interface with the old binary first",
		       cfg.abi_version, AG_ABI_VERSION);
		return -EPROTO;
	}
	return 0;
}

static int count_entry(const char *ifname, void *arg)
{
	(void)ifname;
	++*(unsigned int *)arg;
	return 0;
}

/* How many interfaces are protected (have a directory); -errno when unreadable. */
int ag_count_ifaces(const struct ag_state *st, unsigned int *n)
{
	*n = 0;
	return ag_for_each_iface(st, count_entry, n);
}

/* Is a writer (maybe an attach assembling its staging directory) in flight? */
bool ag_writer_active(const struct ag_state *st)
{
	int fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

static int count_staging(const char *ifname, const char *dir, void *arg)
{
	(void)dir;
	return count_entry(ifname, arg);
}

/* Staging directories no writer is working on: an attach died midway. */
bool ag_stale_staging(const struct ag_state *st)
{
	unsigned int n = 0;

	return !ag_for_each_staging(st, count_staging, &n) && n && !ag_writer_active(st);
}

/*
 * Opens the shared maps; -ENOENT when nothing is attached, -EUCLEAN (said
 * in one line) when some of the state is there and some is not.
 */
int ag_state_open_maps(struct ag_state *st)
{
	unsigned int i, ifaces = 0, missing = 0, first_missing = 0;

	int fd, err;

	for (i = 0; i < ag_nr_shared_maps; i++) {
		fd = dir_pin_fd(st->root, ag_shared_maps[i].name);
		*shared_fd(st, i) = fd;
		if (fd == -ENOENT && !missing++)
			first_missing = i;
		else if (fd < 0)
			return fd; /* not for want of the pin: permissions, say */
	}
	if (!missing)
		return ag_check_abi(st->config_fd);
	err = ag_count_ifaces(st, &ifaces);
	if (err)
		return err;
	/*
	 * Maps without an interface: a last detach in progress, or one that
	 * died, which the next writer clears. Either way nothing is attached.
	 */
	if (!ifaces)
		return -ENOENT;
	ag_err("incomplete state in %s (shared map %s is missing): any change, such as 'ampguard attach IFACE', restores it from the running program; failing that, detach every interface, then attach again",
	       st->root, ag_shared_maps[first_missing].name);
	return -EUCLEAN;
}

void ag_state_reset(struct ag_state *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	for (i = 0; i < ag_nr_shared_maps; i++)
		*shared_fd(st, i) = -1;
}

/* Opens the shared maps without the writer lock; -ENOENT, silently, when nothing is attached. */
int ag_state_open_quiet(struct ag_state *st)
{
	int err;

	ag_state_reset(st);
	if (ag_path(st->root, sizeof(st->root), "%s", ag_root()))
		return -ENAMETOOLONG;
	err = ag_state_open_maps(st);
	if (err)
		ag_state_close(st);
	return err;
}

void ag_state_close(struct ag_state *st)
{
	unsigned int i;

	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
	for (i = 0; i < ag_nr_shared_maps; i++) {
		if (*shared_fd(st, i) >= 0)
			close(*shared_fd(st, i));
		*shared_fd(st, i) = -1;
	}
}

int ag_state_init_maps(const struct ag_state *maps)
{
	int config_fd = maps->config_fd, port_vec_fd = maps->port_vec_fd;
	int policy_fd = maps->policy_fd;
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_config cfg = { .abi_version = AG_ABI_VERSION, .gen = 0 };
	__u32 key, gen, zero = 0;
	unsigned int slot;

	ag_policy_defaults(tbl);
	for (gen = 0; gen < AG_NR_GENERATIONS; gen++) {
		for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
			key = gen * AG_MAX_VECTORS + slot;
			if (bpf_map_update_elem(policy_fd, &key, &tbl[slot], 0))
				return -errno;
		}
	}
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		__u32 port = tbl[slot].port;
		struct ag_port val;

		if (!tbl[slot].in_use)
			continue;
		for (gen = 0; gen < AG_NR_GENERATIONS; gen++)
			val.gen[gen] = ag_port_gen_of(&tbl[slot], slot);
		if (bpf_map_update_elem(port_vec_fd, &port, &val, 0))
			return -errno;
	}
	if (bpf_map_update_elem(config_fd, &zero, &cfg, 0))
		return -errno;
	return 0;
}

/*
 * bpffs refuses names with a dot, which interface names (eth0.100) may
 * have: '%' and '.' are written as %25 and %2e in directory names.
 */
static void iface_encode(const char *ifname, char *buf, size_t len)
{
	size_t o = 0;

	for (; *ifname && o + 4 < len; ifname++) {
		if (*ifname == '.' || *ifname == '%')
			o += snprintf(buf + o, len - o, "%%%02x", *ifname);
		else
			buf[o++] = *ifname;
	}
	buf[o] = '\0';
}

static void iface_decode(const char *name, char *buf, size_t len)
{
	size_t o = 0;
	unsigned int c;

	for (; *name && o + 1 < len; name++) {
		if (*name == '%' && sscanf(name + 1, "%2x", &c) == 1) {
			buf[o++] = c;
			name += 2;
		} else {
			buf[o++] = *name;
		}
	}
	buf[o] = '\0';
}

/* The shared maps of a loaded object, as a state without pins. */
void ag_state_from_obj(struct ag_state *st, const struct bpf_object *obj)
{
	unsigned int i;

	ag_state_reset(st);
	for (i = 0; i < ag_nr_shared_maps; i++)
		*shared_fd(st, i) =
			bpf_map__fd(bpf_object__find_map_by_name(obj, ag_shared_maps[i].name));
}

/* Points an unloaded object's shared maps at those of st. */
int ag_state_share(const struct ag_state *st, struct bpf_object *obj)
{
	unsigned int i;
	int err;

	for (i = 0; i < ag_nr_shared_maps; i++) {
		err = bpf_map__reuse_fd(bpf_object__find_map_by_name(obj, ag_shared_maps[i].name),
					*shared_fd((struct ag_state *)st, i));
		if (err)
			return err;
	}
	return 0;
}

/* What the kernel accepts as an interface name (dev_valid_name()). */
bool ag_ifname_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= IF_NAMESIZE || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (; *name; name++)
		if (*name == '/' || *name == ':' || *name == ' ' || *name == '\t' || *name == '\n')
			return false;
	return true;
}

int ag_iface_pin(const struct ag_state *st, const char *ifname, const char *obj, char *buf,
		 size_t len)
{
	char enc[IF_NAMESIZE * 3 + 1];

	/* Never a path that names the directory of all interfaces, or another. */
	if (!ag_ifname_valid(ifname))
		return -EINVAL;
	iface_encode(ifname, enc, sizeof(enc));
	if (obj)
		return ag_path(buf, len, "%s/ifaces/%s/%s", st->root, enc, obj);
	return ag_path(buf, len, "%s/ifaces/%s", st->root, enc);
}

/* The ifinfo pinned in an interface's directory (or an attach's staging one); on failure *info is left as it was. */
int ag_dir_ifinfo(const char *dir, struct ag_ifinfo *info)
{
	int fd = dir_pin_fd(dir, "ifinfo"), err;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &(__u32){ 0 }, info) ? -errno : 0;
	close(fd);
	return err;
}

/*
 * The XDP link pinned in such a directory: an fd the caller closes, with
 * *info filled (zeroed when the kernel will not say), or -errno.
 */
int ag_dir_link(const char *dir, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	int fd = dir_pin_fd(dir, "link");

	memset(info, 0, sizeof(*info));
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, info, &len))
		memset(info, 0, sizeof(*info));
	return fd;
}

/* An fd on an interface's pinned ifinfo, or -errno. */
static int iface_info_fd(const struct ag_state *st, const char *ifname)
{
	char dir[PATH_MAX];
	int err;

	err = ag_iface_pin(st, ifname, NULL, dir, sizeof(dir));
	return err ?: dir_pin_fd(dir, "ifinfo");
}

/* An interface's pinned ifinfo; on failure *info is left as it was. */
int ag_iface_info(const struct ag_state *st, const char *ifname, struct ag_ifinfo *info)
{
	char dir[PATH_MAX];
	int err;

	err = ag_iface_pin(st, ifname, NULL, dir, sizeof(dir));
	return err ?: ag_dir_ifinfo(dir, info);
}

/*
 * Writes an interface's pinned ifinfo. Writers hold the lock, so a read
 * through ag_iface_info() and this write are not interleaved with another
 * writer's. The datapath writes only orphan_tat: writing back a value read
 * a moment ago refunds at most that moment's orphan budget.
 */
int ag_iface_info_write(const struct ag_state *st, const char *ifname, const struct ag_ifinfo *info)
{
	int fd = iface_info_fd(st, ifname), err;

	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &(__u32){ 0 }, info, 0) ? -errno : 0;
	close(fd);
	return err;
}

/* A name no interface can have (':' is invalid in interface names). */
int ag_iface_staging(const struct ag_state *st, const char *ifname, char *buf, size_t len)
{
	char enc[IF_NAMESIZE * 3 + 1];

	iface_encode(ifname, enc, sizeof(enc));
	return ag_path(buf, len, "%s/ifaces/staging:%s:%d", st->root, enc, getpid());
}

/*
 * Calls fn(ifname, entry, arg) for the entries of ifaces/: the interfaces'
 * directories, or with staging, the staging directories of attaches (in
 * flight or dead), named staging:IFNAME:PID (':' is invalid in interface
 * names, so the two never mix).
 */
static int walk_ifaces(const struct ag_state *st, bool staging,
		       int (*fn)(const char *ifname, const char *entry, void *arg), void *arg)
{
	char path[PATH_MAX], ifname[IF_NAMESIZE], enc[IF_NAMESIZE * 3 + 1];
	struct dirent *de;
	const char *name;
	int err = 0;
	DIR *dir;

	if (ag_path(path, sizeof(path), "%s/ifaces", st->root))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (de = readdir(dir))) {
		name = de->d_name;
		if (staging && !strncmp(name, "staging:", 8))
			name += 8;
		else if (staging || name[0] == '.' || strchr(name, ':'))
			continue;
		snprintf(enc, sizeof(enc), "%.*s", (int)strcspn(name, ":"), name);
		iface_decode(enc, ifname, sizeof(ifname));
		err = fn(ifname, de->d_name, arg);
	}
	closedir(dir);
	return err;
}

struct walk_iface_arg {
	ag_iface_fn fn;
	void *arg;
};

static int walk_iface(const char *ifname, const char *entry, void *arg)
{
	const struct walk_iface_arg *a = arg;

	(void)entry;
	return a->fn(ifname, a->arg);
}

/* Calls fn for every protected interface, in directory order. */
int ag_for_each_iface(const struct ag_state *st, ag_iface_fn fn, void *arg)
{
	struct walk_iface_arg a = { fn, arg };

	return walk_ifaces(st, false, walk_iface, &a);
}

struct walk_staging_arg {
	const struct ag_state *st;
	ag_staging_fn fn;
	void *arg;
};

static int walk_staging(const char *ifname, const char *entry, void *arg)
{
	const struct walk_staging_arg *a = arg;
	char dir[PATH_MAX];

	if (ag_path(dir, sizeof(dir), "%s/ifaces/%s", a->st->root, entry))
		return 0;
	return a->fn(ifname, dir, a->arg);
}

/* Calls fn for every staging directory, with its path. */
int ag_for_each_staging(const struct ag_state *st, ag_staging_fn fn, void *arg)
{
	struct walk_staging_arg a = { st, fn, arg };

	return walk_ifaces(st, true, walk_staging, &a);
}

/* Removes a directory of pins (one level of subdirectories deep). */
int ag_remove_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ag_path(path, sizeof(path), "%s/%s", dir, de->d_name))
			continue;
		if (de->d_type == DT_DIR)
			err = ag_remove_tree(path) ?: err;
		else if (unlink(path))
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}
void ag_unpin_shared(const struct ag_state *st)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < ag_nr_shared_maps; i++)
		if (!ag_path(path, sizeof(path), "%s/%s", st->root, ag_shared_maps[i].name))
			unlink(path);
}

/* Removes the shared maps and the root once no interface is left. */
void ag_state_remove_if_unused(const struct ag_state *st)
{
	char path[PATH_MAX];

	if (ag_path(path, sizeof(path), "%s/ifaces", st->root))
		return;
	if (rmdir(path) && errno != ENOENT)
		return; /* other interfaces remain */
	ag_unpin_shared(st);
	rmdir(st->root);
}
