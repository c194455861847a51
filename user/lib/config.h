/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The top layer: declarative configuration (YAML in, YAML out, apply all
 * or nothing), the Prometheus rendering of the state, and its server.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <netinet/in.h>

#include "attach.h"

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

/*
 * Detection of one vector (its `auto:`), or the defaults of every vector
 * (`detection:`). -1: not given, the level above decides.
 */
struct ag_auto {
	long long trigger_pps, trigger_bps;
	long long release_pps, release_bps;
	long hold_ms;
	int escalate; /* AG_ACT_DROP or AG_ACT_RATELIMIT; -1: events only */
};

struct ag_detection {
	unsigned long interval_ms;
	unsigned long detect; /* consecutive intervals at or above the trigger */
	struct ag_auto dflt;
};

#define AG_DETECT_INTERVAL_MS 1000
#define AG_DETECT_INTERVALS 2
#define AG_DETECT_TRIGGER_PPS 10000
#define AG_DETECT_HOLD_MS 120000
#define AG_MAX_WEBHOOKS 8

/* `upstream:`: BGP FlowSpec and RTBH through ExaBGP (the daemon's business). */
#define AG_UP_MAX_NEIGHBORS 8
#define AG_UP_MAX_PROTECT 64
#define AG_UP_HOLD_MS 300000
#define AG_UP_MAX_RULES 64
#define AG_UP_ANNOUNCE_AT 50

#define AG_UP_RECORD "upstream.json" /* in the state directory, written by the daemon */

enum ag_up_action { AG_UP_DISCARD, AG_UP_RATE_LIMIT, AG_UP_RTBH, AG_UP__MAX };

struct ag_up_neighbor {
	char address[INET6_ADDRSTRLEN];
	unsigned long peer_as;
};

struct ag_upstream_conf {
	bool enabled; /* the section was given */
	unsigned long local_as;
	char router_id[INET_ADDRSTRLEN];
	char local_address[INET6_ADDRSTRLEN];
	char next_hop6[INET6_ADDRSTRLEN]; /* IPv6 RTBH routes; "": local-address if IPv6 */
	struct ag_up_neighbor neighbors[AG_UP_MAX_NEIGHBORS];
	unsigned int nr_neighbors;
	struct ag_cidr protect[AG_UP_MAX_PROTECT]; /* none: the protected interfaces' addresses */
	unsigned int nr_protect;
	unsigned long long link_bps; /* 0: no automatic rules */
	unsigned int announce_at;    /* percent of link_bps */
	int action;                  /* enum ag_up_action */
	unsigned long long rate_limit_bps;
	unsigned long hold_ms;
	unsigned int max_rules;
	bool withdraw_on_exit;
	bool external;    /* speaker: external; the operator runs ExaBGP */
	char exabgp[256]; /* the program, for speaker: exabgp */
};

struct ag_conf_port {
	struct ag_policy pol; /* pol.port is the port */
	struct ag_auto au;
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
	struct ag_detection detection;
	struct ag_auto builtin_auto[AG_MAX_VECTORS]; /* by slot, like builtin */
	char webhooks[AG_MAX_WEBHOOKS][256];
	unsigned int nr_webhooks;
	struct ag_upstream_conf upstream;
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

int ag_conf_write_running(const struct ag_state *st, FILE *f);
void ag_auto_init(struct ag_auto *au);
const char *ag_up_action_name(int action);
int ag_up_action_parse(const char *s);
int ag_conf_apply_logged(const char *path, struct ag_conf *c, bool reload,
			 void (*adjust)(struct ag_conf *c, void *arg), void *arg);

/* metrics.c */
int ag_metrics_render(char **out, size_t *len);

/* exporter.c: the metrics server */
#define AG_DEFAULT_LISTEN "127.0.0.1:9717"

struct ag_exporter;
struct ag_exporter *ag_exporter_start(const char *listen_spec);
void ag_exporter_stop(struct ag_exporter *e);

#endif /* AG_CONFIG_H */
