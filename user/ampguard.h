/* SPDX-License-Identifier: GPL-2.0-only */
/* The ampguard library: helpers shared by the verbs, the tests and the bench. */
#ifndef AMPGUARD_H
#define AMPGUARD_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "ampguard_abi.h"

#define AG_DEFAULT_ROOT "/sys/fs/bpf/ampguard"
#define AG_ROOT_ENV "AMPGUARD_ROOT"
#define AG_JSON_VERSION 1
#define AG_DEFAULT_TRACK_MS 5000 /* for ports an operator adds */

/* util.c */
void ag_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ag_bpf_err(int err, const char *what);
int ag_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ag_parse_uint(const char *s, unsigned long max, unsigned long *out);
void ag_fmt_rate(char *buf, size_t len, double value, const char *unit);
void ag_fmt_count(char *buf, size_t len, double value);
int ag_parse_duration_ms(const char *s, unsigned long *ms);
void ag_fmt_duration(char *buf, size_t len, unsigned long ms);
void ag_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
struct json_object;
void ag_json_print(struct json_object *o, bool pretty);

/* maps.c: whole array maps, on every kernel */
int ag_array_read(int fd, __u32 n, void *values, size_t value_size);

/* kernel.c: what the running kernel offers */
struct ag_kernel {
	char release[65]; /* uname -r */
	__u32 hz;         /* jiffies per second, measured */
	bool atomics;     /* BPF compare-and-swap (Linux 5.12) */
};

int ag_kernel_probe(struct ag_kernel *k);

/* progs.c: the datapath built and set up for the running kernel */
struct ampguard_xdp;
struct ampguard_tc;
struct bpf_object;
struct ampguard_xdp *ag_xdp_open(const struct ag_kernel *k);
struct ampguard_tc *ag_tc_open(const struct ag_kernel *k);
int ag_xdp_load(struct ampguard_xdp *skel, const struct ag_kernel *k);
int ag_tc_load(struct ampguard_tc *skel, const struct ag_kernel *k);
int ag_skel_load(struct bpf_object *obj, int (*load)(void *skel), void *skel,
		 const struct ag_kernel *k);

/* vectors.c: the built-in table and names of actions and reasons */
struct ag_builtin {
	const char *name;
	__u16 port;
	__u8 action;
	__u32 track_timeout_ms;
	const char *desc;
};

extern const struct ag_builtin ag_builtins[];
extern const unsigned int ag_nr_builtins;

#define AG_FIRST_CUSTOM_SLOT (ag_nr_builtins + 1)

const char *ag_action_name(unsigned int action);
int ag_action_parse(const char *s);
const char *ag_reason_name(unsigned int reason);
const char *ag_mode_name(unsigned int mode);
int ag_builtin_slot(const char *name);
void ag_vector_name(const struct ag_policy *pol, unsigned int slot, char *buf,
		    size_t len);

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
	AG_LOCK_NONE,   /* readers: stats, status */
	AG_LOCK_WRITE,  /* writers: serialised on the root directory */
};

void ag_set_root(const char *root);
const char *ag_root(void);
void ag_state_reset(struct ag_state *st);
int ag_state_open(struct ag_state *st, enum ag_lock_mode lock);
bool ag_writer_active(const struct ag_state *st);
bool ag_stale_staging(const struct ag_state *st);
int ag_state_open_quiet(struct ag_state *st);
int ag_state_lock(struct ag_state *st, bool create);
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
int ag_iface_pin(const struct ag_state *st, const char *ifname,
		 const char *obj, char *buf, size_t len);
int ag_iface_staging(const struct ag_state *st, const char *ifname,
		     char *buf, size_t len);
int ag_remove_tree(const char *dir);

/* commit.c: changes to what packets are judged by, applied atomically per packet */
enum ag_list_kind { AG_LIST_ALLOW, AG_LIST_DENY };

struct ag_list_op {
	__u8 list;      /* enum ag_list_kind */
	__u8 del;       /* remove instead of add */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u32 prefixlen; /* of the CIDR itself */
	__u8 addr[16];
};

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
__u32 ag_active_gen(const struct ag_state *st);
int ag_policy_read(int config_fd, int policy_fd,
		   struct ag_policy tbl[AG_MAX_VECTORS]);
int ag_policy_commit(const struct ag_state *st,
		     const struct ag_policy tbl[AG_MAX_VECTORS]);
void ag_policy_defaults(struct ag_policy tbl[AG_MAX_VECTORS]);
int ag_policy_find(const struct ag_policy tbl[AG_MAX_VECTORS], const char *spec,
		   int *port_out);
int ag_policy_alloc(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port);
int ag_policy_settle(const struct ag_state *st, const struct ag_policy *old,
		     const struct ag_policy *now, unsigned int slot);

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

/* ratelimit.c */
int ag_parse_rate(const char *s, unsigned long long max, unsigned long long *out);
void ag_rate_set(struct ag_rate *r, unsigned long long rate, unsigned long long burst, bool bits);
unsigned long long ag_rate_default_burst(unsigned long long rate, bool bits);
int ag_rate_update(struct ag_rate *r, long long rate, long long burst, bool bits,
		   const char *burst_opt);
bool ag_policy_src_active(const struct ag_policy *p);
const char *ag_src_full_name(unsigned int v);
int ag_src_full_parse(const char *s);
int ag_src_free(const struct ag_state *st, unsigned int slot);
struct ag_src_entry *ag_src_read(int rl_src_fd);
unsigned long ag_src_in_use(const struct ag_src_entry *all);
int ag_src_held(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS],
		unsigned long *held);
int ag_rl_reset(const struct ag_state *st, unsigned int slot);
void ag_fmt_limits(const struct ag_policy *p, char *buf, size_t len);

/* lists.c */
int ag_cidr_parse(const char *s, int *family, struct ag_lpm6 *key, char *why, size_t why_len);
int ag_lists_read(const struct ag_state *st, struct ag_list_op **out, size_t *n);
int ag_lists_refresh_flags(const struct ag_state *st);

/* fragments.c */
void ag_orphan_defaults(struct ag_orphan_cfg *o);
const char *ag_orphan_name(unsigned int v);

/* attach.c */
enum { AG_MODE_AUTO = 0 };

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
int ag_state_lock_create(struct ag_state *st);
int ag_attach_locked(const struct ag_state *st, const struct ag_attach_req *req);
int ag_detach_locked(const struct ag_state *st, const char *ifname);
void ag_state_remove_if_unused(const struct ag_state *st);
void ag_unpin_shared(const struct ag_state *st);
void ag_untrack_unknown(const struct ag_state *st, const char *ifname);

/* repair.c */
void ag_state_repair(const struct ag_state *st);

/* config_yaml.c, config.c: declarative configuration */
struct ag_conf_iface {
	char name[IF_NAMESIZE];
	int mode; /* AG_MODE_AUTO or enum ag_attach_mode */
	char track_on[AG_MAX_TRACK_IFACES - 1][IF_NAMESIZE];
	unsigned int nr_track;
	struct ag_orphan_cfg orphan;
	/* where the file names it and its track-on entries; 0: not from a file */
	int line, col;
	int track_line[AG_MAX_TRACK_IFACES - 1], track_col[AG_MAX_TRACK_IFACES - 1];
};

struct ag_conf_port {
	struct ag_policy pol; /* pol.port is the port */
};

struct ag_conf {
	struct ag_policy builtin[AG_MAX_VECTORS]; /* by slot; custom slots unused */
	struct ag_conf_port *ports;
	size_t nr_ports;
	struct ag_served served;
	struct ag_list_op *lists; /* allow and deny entries */
	size_t nr_lists;
	bool has_ifaces; /* an interfaces section was given */
	struct ag_conf_iface *ifaces;
	size_t nr_ifaces;
	char listen[64]; /* exporter address, "" when not given */
	char fname[256]; /* the file it came from, for messages */
};

void ag_conf_init(struct ag_conf *c);
void ag_conf_free(struct ag_conf *c);
int ag_conf_parse(const char *buf, size_t len, const char *fname, bool read_files,
		  struct ag_conf *c, char *err, size_t errlen);
int ag_conf_load(const char *path, struct ag_conf *c, char *err, size_t errlen);
int ag_conf_apply(struct ag_conf *c, const char *only, bool dry_run);
int ag_conf_apply_file(const char *path, const char *only_iface, bool dry_run);
int ag_conf_attach(const struct ag_attach_req *req);

/* verbs */
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_unset(int argc, char **argv);
int cmd_vectors(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_allow(int argc, char **argv);
int cmd_deny(int argc, char **argv);
int cmd_fragments(int argc, char **argv);
int cmd_exporter(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_config(int argc, char **argv);

/* metrics.c */
int ag_metrics_render(char **out, size_t *len);

/* tracking.c */
int ag_served_read(const struct ag_state *st, struct ag_served *s);
int ag_tc_attach(int ifindex, int prog_fd, bool replace, __u8 *made_qdisc);
void ag_tc_detach(int ifindex, bool made_qdisc);
void ag_track_detach_all(const struct ag_ifinfo *info);
__u32 ag_tc_prog_id(int ifindex);
int ag_track_count(int track_fd, unsigned long *entries);

#endif /* AMPGUARD_H */
