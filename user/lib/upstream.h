/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The upstream layer, above the daemon layer: asking the router for help
 * when the uplink itself is full. Rules (vector x attacked destination)
 * become BGP FlowSpec or RTBH routes that ExaBGP announces; automatic ones
 * come from the detector and the datapath's per-destination sample, manual
 * ones from `ampguard upstream announce` over the daemon's control socket.
 */
#ifndef AG_UPSTREAM_H
#define AG_UPSTREAM_H

#include "daemon.h"

#define AG_UP_BRIDGE_SOCK "exabgp.sock"  /* in the state directory: the bridge */
#define AG_UP_CTL_SOCK "upstream.sock"   /* in the state directory: the CLI */
#define AG_UP_RTBH_COMMUNITY "65535:666" /* BLACKHOLE, RFC 7999 */

enum ag_bgp_state { AG_BGP_DOWN, AG_BGP_CONNECTED, AG_BGP_UP };

/* routes.c: what a rule asks of the router, as ExaBGP API text */
struct ag_up_rule {
	char vector[32];
	unsigned int slot;
	__u16 port;
	int family;    /* AF_INET or AF_INET6 */
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	int action;    /* enum ag_up_action */
	unsigned long long rate_bps;
	bool manual;
	bool fragments; /* the vector drops later fragments: match them too */
	time_t since;
	time_t expires;         /* manual --for; 0: until withdrawn */
	double quiet_since;     /* automatic: when the vector's attack ended; 0 while it lasts */
	unsigned long long bps; /* automatic: the destination's rate when announced */
};

#define AG_UP_ROUTE_LEN 512

struct ag_up_route {
	char text[AG_UP_ROUTE_LEN]; /* after "announce " or "withdraw " */
};

bool ag_same_ip(const char *a, const char *b);
int ag_up_addr_parse(const char *s, int *family, __u8 addr[16]);
void ag_up_addr_str(int family, const __u8 addr[16], char *buf, size_t len);
const char *ag_up_next_hop(const struct ag_upstream_conf *u, int family);
bool ag_up_addr_in(int family, const __u8 addr[16], const struct ag_cidr *c);
int ag_up_routes(const struct ag_up_rule *r, const struct ag_upstream_conf *u,
		 const struct ag_cidr *allow, size_t nr_allow, struct ag_up_route *out, size_t max);

/* speaker.c: ExaBGP, managed or external, over its process API */
struct ag_speaker;
struct pollfd;
const char *ag_bgp_state_name(int state);
struct ag_speaker *ag_speaker_start(const struct ag_upstream_conf *u,
				    void (*on_sync)(void *arg, int neighbor), void *arg);
bool ag_speaker_configure(struct ag_speaker *sp, const struct ag_upstream_conf *u);
int ag_speaker_fds(const struct ag_speaker *sp, struct pollfd *fds);
void ag_speaker_events(struct ag_speaker *sp, const struct pollfd *fds, int n);
int ag_speaker_send(struct ag_speaker *sp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool ag_speaker_connected(const struct ag_speaker *sp);
int ag_speaker_state(const struct ag_speaker *sp, unsigned int neighbor);
unsigned long ag_speaker_errors(const struct ag_speaker *sp);
void ag_speaker_stop(struct ag_speaker *sp);

/* bridge.c: the process ExaBGP runs, relaying its API to the daemon */
int ag_bridge_run(const char *sock_path);

/* upstream.c: the rules, automatic and manual, and the control socket */
#define AG_UP_FDS 4 /* at most this many pollfds from ag_upstream_fds */
struct ag_upstream;
struct ag_upstream *ag_upstream_start(const struct ag_conf *c);
void ag_upstream_configure(struct ag_upstream *up, const struct ag_conf *c);
void ag_upstream_step(struct ag_upstream *up, const struct ag_detector *det);
int ag_upstream_fds(const struct ag_upstream *up, struct pollfd *fds);
void ag_upstream_events(struct ag_upstream *up, const struct pollfd *fds, int n);
void ag_upstream_stop(struct ag_upstream *up);

/* The CLI's side of the control socket: one request line, one answer line. */
int ag_upstream_request(const char *request, char *answer, size_t len);

#endif /* AG_UPSTREAM_H */
