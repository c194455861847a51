/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The top layer: declarative configuration (YAML in, YAML out, apply all
 * or nothing), the Prometheus rendering of the state, and its server.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

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

int ag_conf_write_running(const struct ag_state *st, FILE *f);

/* metrics.c */
int ag_metrics_render(char **out, size_t *len);

/* exporter.c: the metrics server */
#define AG_DEFAULT_LISTEN "127.0.0.1:9717"

struct ag_exporter;
struct ag_exporter *ag_exporter_start(const char *listen_spec);
void ag_exporter_stop(struct ag_exporter *e);

#endif /* AG_CONFIG_H */
