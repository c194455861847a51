/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The library's lowest layer: errors, paths, numbers, durations, names,
 * rate arithmetic and CIDRs. Nothing here touches the kernel; every layer
 * above may use it. Layers, lowest first (scripts/check-layers.sh keeps
 * the order): base, kernel, state, tables, commit, attach, config, daemon.
 */
#ifndef AG_BASE_H
#define AG_BASE_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <linux/types.h>

#include "ampguard_abi.h"

#define AG_DEFAULT_ROOT "/sys/fs/bpf/ampguard"
#define AG_ROOT_ENV "AMPGUARD_ROOT"
#define AG_DEFAULT_STATE_DIR "/var/lib/ampguard" /* the daemon's files */
#define AG_STATE_DIR_ENV "AMPGUARD_STATE_DIR"
#define AG_JSON_VERSION 1
#define AG_DEFAULT_TRACK_MS 5000           /* for ports an operator adds */
#define AG_MAX_PKTS_RATE 1000000000ULL     /* 1 G packets/s */
#define AG_MAX_BITS_RATE 10000000000000ULL /* 10 Tbit/s */

#define AG_XSTR(x) #x
#define AG_STR(x) AG_XSTR(x)

/* util.c */
void ag_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ag_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ag_bpf_err(int err, const char *what);
int ag_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ag_parse_uint(const char *s, unsigned long max, unsigned long *out);
void ag_fmt_rate(char *buf, size_t len, double value, const char *unit);
void ag_fmt_count(char *buf, size_t len, double value);
int ag_parse_duration_ms(const char *s, unsigned long *ms);
void ag_fmt_duration(char *buf, size_t len, unsigned long ms);
void ag_fmt_time(char *buf, size_t len, time_t t);
double ag_mono_s(void);
int ag_unix_listen(const char *path, int backlog);
int ag_unix_connect(const char *path);

struct ag_url { /* http://HOST[:PORT][/PATH] */
	char host[256];
	char port[8];
	char path[256];
};

int ag_url_parse(const char *s, struct ag_url *u);
void ag_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
struct json_object;
void ag_json_print(struct json_object *o, bool pretty);

/* names.c: the built-in table, its defaults, and the names of things */
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
void ag_vector_name(const struct ag_policy *pol, unsigned int slot, char *buf, size_t len);

void ag_policy_defaults(struct ag_policy tbl[AG_MAX_VECTORS]);
bool ag_policy_same(const struct ag_policy *a, const struct ag_policy *b);
bool ag_policy_has_budget(const struct ag_policy *p);
int ag_attach_mode_parse(const char *s);
void ag_orphan_defaults(struct ag_orphan_cfg *o);
const char *ag_orphan_name(unsigned int v);
int ag_orphan_parse(const char *s);

/* rate.c: budgets in human units <-> GCRA parameters */
int ag_parse_rate(const char *s, unsigned long long max, unsigned long long *out);
void ag_rate_set(struct ag_rate *r, unsigned long long rate, unsigned long long burst, bool bits);
unsigned long long ag_rate_default_burst(unsigned long long rate, bool bits);
int ag_rate_update(struct ag_rate *r, long long rate, long long burst, bool bits,
		   const char *burst_opt);
bool ag_policy_src_active(const struct ag_policy *p);
const char *ag_src_full_name(unsigned int v);
int ag_src_full_parse(const char *s);
void ag_fmt_limits(const struct ag_policy *p, char *buf, size_t len);

/* cidr.c */
int ag_cidr_parse(const char *s, int *family, struct ag_lpm6 *key, char *why, size_t why_len);
void ag_fmt_src_addr(const __u8 *a, char *buf, size_t len);

/* The attach modes an operator asks for: AG_MODE_AUTO or enum ag_attach_mode. */
enum { AG_MODE_AUTO = 0 };

/* pcapng.c: writing pcapng (Section Header, Interface Description, Enhanced Packet blocks) */
struct ag_pcapng;
struct ag_pcapng *ag_pcapng_open(FILE *f, const char *app);
int ag_pcapng_iface(struct ag_pcapng *w, const char *name, unsigned int snaplen);
int ag_pcapng_packet(struct ag_pcapng *w, unsigned int iface, unsigned long long ts_ns,
		     const void *data, unsigned int caplen, unsigned int origlen,
		     const char *comment, bool inbound, int queue, long long dropcount);
int ag_pcapng_flush(struct ag_pcapng *w);
void ag_pcapng_close(struct ag_pcapng *w);

/* pcapfile.c: libpcap's filter compiler and classic pcap writer, behind plain types */
struct ag_pcap_filter;
struct ag_pcap_out;
struct ag_pcap_filter *ag_pcap_filter_new(const char *expr, unsigned int snaplen, char *why,
					  size_t len);
bool ag_pcap_filter_match(const struct ag_pcap_filter *f, const void *data, unsigned int caplen,
			  unsigned int len);
void ag_pcap_filter_free(struct ag_pcap_filter *f);
struct ag_pcap_out *ag_pcap_out_open(FILE *f, unsigned int snaplen);
int ag_pcap_out_write(struct ag_pcap_out *o, unsigned long long ts_ns, const void *data,
		      unsigned int caplen, unsigned int len);
int ag_pcap_out_flush(struct ag_pcap_out *o);
void ag_pcap_out_close(struct ag_pcap_out *o);

#endif /* AG_BASE_H */
