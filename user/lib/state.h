/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The state layer: the pinned maps under the root directory, the writer
 * lock (flock on the root), interface directories and their staging
 * twins. Opening and locking only: repairs live in the attach layer.
 */
#ifndef AG_STATE_H
#define AG_STATE_H

#include "kernel.h"

/* state.c: the pinned state under the root directory */
struct ag_state {
	char root[PATH_MAX];
	int lock_fd;
	int config_fd;
	int port_vec_fd;
	int policy_fd;
	int track_fd;
	int track_ports_fd;
	int served_fd;
	int rl_agg_fd;
	int rl_src_fd;
	int deny4_fd;
	int deny6_fd;
	int allow4_fd;
	int allow6_fd;
	int frags_fd;
};

/* The maps every interface shares, pinned at the root under these names. */
struct ag_shared_map {
	const char *name;
	size_t fd_offset; /* of the fd in struct ag_state */
};

extern const struct ag_shared_map ag_shared_maps[];
extern const unsigned int ag_nr_shared_maps;

enum ag_lock_mode {
	AG_LOCK_NONE,  /* readers: stats, status */
	AG_LOCK_WRITE, /* writers: serialised on the root directory */
};

void ag_set_root(const char *root);
const char *ag_root(void);
void ag_state_reset(struct ag_state *st);
bool ag_writer_active(const struct ag_state *st);
bool ag_stale_staging(const struct ag_state *st);
int ag_state_open_quiet(struct ag_state *st);
int ag_state_flock(struct ag_state *st, bool create);
int ag_state_open_maps(struct ag_state *st);
void ag_state_close(struct ag_state *st);
int ag_state_init_maps(const struct ag_state *maps);
struct bpf_object;
void ag_state_from_obj(struct ag_state *st, const struct bpf_object *obj);
int ag_state_share(const struct ag_state *st, struct bpf_object *obj);
int ag_check_abi(int config_fd);
int ag_ensure_bpffs(const char *root);

typedef int (*ag_iface_fn)(const char *ifname, void *arg);
int ag_for_each_iface(const struct ag_state *st, ag_iface_fn fn, void *arg);
int ag_count_ifaces(const struct ag_state *st, unsigned int *n);
typedef int (*ag_staging_fn)(const char *ifname, const char *dir, void *arg);
int ag_for_each_staging(const struct ag_state *st, ag_staging_fn fn, void *arg);
bool ag_ifname_valid(const char *name);
int ag_iface_info(const struct ag_state *st, const char *ifname, struct ag_ifinfo *info);
int ag_dir_ifinfo(const char *dir, struct ag_ifinfo *info);
struct bpf_link_info;
int ag_dir_link(const char *dir, struct bpf_link_info *info);
int ag_iface_info_write(const struct ag_state *st, const char *ifname,
			const struct ag_ifinfo *info);
int ag_iface_pin(const struct ag_state *st, const char *ifname, const char *obj, char *buf,
		 size_t len);
int ag_iface_staging(const struct ag_state *st, const char *ifname, char *buf, size_t len);
int ag_remove_tree(const char *dir);

void ag_state_remove_if_unused(const struct ag_state *st);
void ag_unpin_shared(const struct ag_state *st);

#endif /* AG_STATE_H */
