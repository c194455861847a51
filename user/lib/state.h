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
	int rl_src_pending_fd;
	int deny4_fd;
	int deny6_fd;
	int allow4_fd;
	int allow6_fd;
	int frags_fd;
	int dsts_fd;
	int capture_fd;
	int capture_bucket_fd;
	int capture_cpu_fd;
	int capture_events_fd;
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

/* attacks.c: the daemon's records, as files in the state directory */
#define AG_EVENTS_KEPT 1000 /* the history's length */

struct ag_attack { /* one interface x vector, as detection sees it */
	char ifname[IF_NAMESIZE];
	char vector[32];
	__u32 slot;
	__u16 port;
	bool active;
	__u64 since; /* unix seconds the attack started */
	double peak_pps, peak_bps;
	__u64 attacks_total;
	__u64 dropped_base; /* the vector's dropped packets on the interface at the start */
};

struct ag_escalation { /* a vector the daemon escalated */
	__u32 slot;
	char ifname[IF_NAMESIZE]; /* where the attack that escalated it was */
	struct ag_policy base;    /* what ran before */
	struct ag_policy set;     /* what the daemon set */
};

struct ag_attacks {
	struct ag_attack *v;
	size_t n;
	struct ag_escalation esc[AG_MAX_VECTORS];
	size_t nr_esc;
};

void ag_set_state_dir(const char *dir);
const char *ag_state_dir(void);
int ag_state_file_write(const char *name, const char *text);
int ag_state_file_read(const char *name, char **text);
struct json_object;
int ag_daemon_record_read(const char *name, struct json_object **out);
int ag_attacks_read(struct ag_attacks *a);
int ag_attacks_write(const struct ag_attacks *a);
void ag_attacks_free(struct ag_attacks *a);
bool ag_attacks_escalated(const struct ag_attacks *a, unsigned int slot);
int ag_events_append(const char *line);
int ag_events_read(char ***lines, size_t *n);
void ag_events_free(char **lines, size_t n);

#endif /* AG_STATE_H */
