// SPDX-License-Identifier: GPL-2.0-only
/*
 * Upstream rules: which (vector, destination) pairs the router is asked
 * to discard, rate-limit or blackhole, and keeping ExaBGP's routes equal
 * to what the rules want.
 *
 * - Automatic: every detection interval, a vector under attack whose
 *   unsolicited traffic to one local address (the datapath's sampled
 *   per-destination counts) reaches announce-at of link-bps gets a rule
 *   for that address; the rule is withdrawn hold after the vector's last
 *   attack ends.
 * - Manual: `ampguard upstream announce|withdraw` over the control socket;
 *   kept until withdrawn or until its --for runs out.
 * - Safety: a destination outside `protect` (default: the protected
 *   interfaces' own addresses) is refused, as is a rule whose routes would
 *   take the total past max-rules. Refusals are logged and counted.
 * - The routes are derived from the rules (routes.c) and synced: what is
 *   wanted and not announced is announced, what is announced and no longer
 *   wanted is withdrawn. A new ExaBGP gets everything again; a neighbor
 *   whose session comes up gets every route again.
 * - upstream.json in the state directory holds the neighbors, the rules
 *   and the counters after every change (for `ampguard upstream`, the
 *   metrics, and the next daemon, which takes over the rules).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <json-c/json.h>

#include "upstream.h"

#define MAX_ROUTES 10000 /* max-rules' own bound */
#define CTL_TIMEOUT_MS 500

struct ag_upstream {
	struct ag_upstream_conf conf;
	struct ag_speaker *sp;
	int ctl_fd;
	char ctl_path[PATH_MAX];
	struct ag_up_rule *rules;
	size_t n, cap;
	struct ag_up_route *sent; /* announced and not withdrawn since */
	size_t nr_sent;
	struct ag_up_route *want; /* scratch for sync */
	struct ag_cidr_set allow; /* the allowlist at the last step */
	struct ag_dst_entry *prev;
	size_t nr_prev;
	double prev_when;
	__u64 frag_prev[AG_MAX_VECTORS];
	double frag_seen[AG_MAX_VECTORS]; /* monotonic: later fragments last dropped */
	bool have_frag;
	bool attacked[AG_MAX_VECTORS];
	unsigned long refused;
	bool dirty;
	/* What the record on disk says of the speaker, to write it only on a change. */
	int saved_state[AG_UP_MAX_NEIGHBORS];
	unsigned long saved_errors;
};

/* ---- records and events ---------------------------------------------------- */

static json_object *rule_json(const struct ag_up_rule *r, bool record)
{
	json_object *o = json_object_new_object();
	char addr[INET6_ADDRSTRLEN], when[32];

	ag_up_addr_str(r->family, r->addr, addr, sizeof(addr));
	ag_fmt_time(when, sizeof(when), r->since);
	json_object_object_add(o, "vector", json_object_new_string(r->vector));
	json_object_object_add(o, "port", json_object_new_int(r->port));
	json_object_object_add(o, "destination", json_object_new_string(addr));
	json_object_object_add(o, "action", json_object_new_string(ag_up_action_name(r->action)));
	json_object_object_add(o, "origin", json_object_new_string(r->manual ? "manual" : "auto"));
	json_object_object_add(o, "since", json_object_new_string(when));
	if (r->action == AG_UP_RATE_LIMIT)
		json_object_object_add(o, "rate_bps", json_object_new_int64(r->rate_bps));
	if (r->expires) {
		ag_fmt_time(when, sizeof(when), r->expires);
		json_object_object_add(o, "expires", json_object_new_string(when));
	}
	if (record) {
		json_object_object_add(o, "slot", json_object_new_int(r->slot));
		json_object_object_add(o, "since_s", json_object_new_int64(r->since));
		json_object_object_add(o, "expires_s", json_object_new_int64(r->expires));
		json_object_object_add(o, "fragments", json_object_new_boolean(r->fragments));
	}
	return o;
}

static size_t nr_routes(const struct ag_upstream *up);

/* Has the speaker moved on (a session state, a refusal) since the record was written? */
static bool record_behind(const struct ag_upstream *up)
{
	unsigned int i;

	for (i = 0; i < up->conf.nr_neighbors; i++)
		if (ag_speaker_state(up->sp, i) != up->saved_state[i])
			return true;
	return ag_speaker_errors(up->sp) != up->saved_errors;
}

static void save(struct ag_upstream *up)
{
	json_object *o = json_object_new_object(), *nbs = json_object_new_array();
	json_object *rules = json_object_new_array(), *nb;
	unsigned int i;
	int err;

	for (i = 0; i < up->conf.nr_neighbors; i++) {
		up->saved_state[i] = ag_speaker_state(up->sp, i);
		nb = json_object_new_object();
		json_object_object_add(nb, "address",
				       json_object_new_string(up->conf.neighbors[i].address));
		json_object_object_add(nb, "peer_as",
				       json_object_new_int64(up->conf.neighbors[i].peer_as));
		json_object_object_add(nb, "state",
				       json_object_new_string(
					       ag_bgp_state_name(ag_speaker_state(up->sp, i))));
		json_object_array_add(nbs, nb);
	}
	for (i = 0; i < up->n; i++)
		json_object_array_add(rules, rule_json(&up->rules[i], true));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "neighbors", nbs);
	json_object_object_add(o, "rules", rules);
	json_object_object_add(o, "routes", json_object_new_int64(nr_routes(up)));
	up->saved_errors = ag_speaker_errors(up->sp);
	json_object_object_add(o, "errors", json_object_new_int64(up->saved_errors));
	json_object_object_add(o, "refused", json_object_new_int64(up->refused));
	err = ag_state_file_write(AG_UP_RECORD,
				  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	if (err)
		ag_log("upstream: keeping %s/%s: %s", ag_state_dir(), AG_UP_RECORD, strerror(-err));
	json_object_put(o);
	up->dirty = false;
}

static void publish(const char *name, const struct ag_up_rule *r, const char *why)
{
	json_object *ev = json_object_new_object(), *rule = rule_json(r, false);
	struct json_object_iterator it, end;
	char when[32];

	ag_fmt_time(when, sizeof(when), time(NULL));
	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "time", json_object_new_string(when));
	it = json_object_iter_begin(rule);
	end = json_object_iter_end(rule);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (strcmp(json_object_iter_peek_name(&it), "since"))
			json_object_object_add(ev, json_object_iter_peek_name(&it),
					       json_object_get(json_object_iter_peek_value(&it)));
	if (!r->manual && r->bps)
		json_object_object_add(ev, "bps", json_object_new_int64(r->bps));
	if (why)
		json_object_object_add(ev, "reason", json_object_new_string(why));
	json_object_put(rule);
	ag_event_publish(ev);
}

/* The rules a previous daemon left: taken over, due withdrawals included. */
static void restore(struct ag_upstream *up)
{
	json_object *o = NULL, *rules, *r, *v;
	struct ag_up_rule rule;
	char *text = NULL;
	size_t i;

	if (ag_state_file_read(AG_UP_RECORD, &text) || !(o = json_tokener_parse(text)) ||
	    !json_object_object_get_ex(o, "rules", &rules)) {
		free(text);
		json_object_put(o);
		return;
	}
	for (i = 0; i < json_object_array_length(rules); i++) {
		r = json_object_array_get_idx(rules, i);
		memset(&rule, 0, sizeof(rule));
		if (!json_object_object_get_ex(r, "destination", &v) ||
		    ag_up_addr_parse(json_object_get_string(v), &rule.family, rule.addr))
			continue;
		if (json_object_object_get_ex(r, "vector", &v))
			snprintf(rule.vector, sizeof(rule.vector), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(r, "slot", &v))
			rule.slot = json_object_get_int(v);
		if (json_object_object_get_ex(r, "port", &v))
			rule.port = json_object_get_int(v);
		if (json_object_object_get_ex(r, "action", &v))
			rule.action = ag_up_action_parse(json_object_get_string(v));
		if (json_object_object_get_ex(r, "rate_bps", &v))
			rule.rate_bps = json_object_get_int64(v);
		if (json_object_object_get_ex(r, "origin", &v))
			rule.manual = !strcmp(json_object_get_string(v), "manual");
		if (json_object_object_get_ex(r, "since_s", &v))
			rule.since = json_object_get_int64(v);
		if (json_object_object_get_ex(r, "expires_s", &v))
			rule.expires = json_object_get_int64(v);
		if (json_object_object_get_ex(r, "fragments", &v))
			rule.fragments = json_object_get_boolean(v);
		if (rule.action < 0 || !rule.slot || rule.slot >= AG_MAX_VECTORS || !rule.port)
			continue;
		if (up->n < up->cap)
			up->rules[up->n++] = rule;
	}
	if (up->n)
		ag_log("upstream: took over %zu rule(s) from the previous daemon", up->n);
	free(text);
	json_object_put(o);
}

/* ---- rules ----------------------------------------------------------------- */

static struct ag_up_rule *find_rule(struct ag_upstream *up, unsigned int slot, int family,
				    const __u8 addr[16])
{
	size_t i;

	for (i = 0; i < up->n; i++)
		if (up->rules[i].slot == slot && up->rules[i].family == family &&
		    !memcmp(up->rules[i].addr, addr, 16))
			return &up->rules[i];
	return NULL;
}

static void remove_rule(struct ag_upstream *up, struct ag_up_rule *r, const char *why)
{
	publish("withdraw", r, why);
	*r = up->rules[--up->n];
	up->dirty = true;
}

static size_t routes_of(const struct ag_upstream *up, const struct ag_up_rule *r,
			struct ag_up_route *out, size_t max)
{
	int n = ag_up_routes(r, &up->conf, up->allow.v, up->allow.n, out, max);

	return n < 0 ? max + 1 : (size_t)n;
}

static size_t nr_routes(const struct ag_upstream *up)
{
	size_t i, total = 0;

	for (i = 0; i < up->n; i++)
		total += routes_of(up, &up->rules[i], up->want, MAX_ROUTES);
	return total;
}

/* Is addr one of a protected interface's own addresses (protect's default)? */
static bool own_address(int family, const __u8 addr[16])
{
	struct ag_ifinfo info;
	struct ifaddrs *ifa, *i;
	struct ag_state st;
	bool found = false;

	if (ag_state_open_quiet(&st))
		return false;
	if (getifaddrs(&ifa)) {
		ag_state_close(&st);
		return false;
	}
	for (i = ifa; i && !found; i = i->ifa_next) {
		const void *a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		a = family == AF_INET ?
			    (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
			    (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		found = !memcmp(a, addr, family == AF_INET ? 4 : 16) &&
			!ag_iface_info(&st, i->ifa_name, &info);
	}
	freeifaddrs(ifa);
	ag_state_close(&st);
	return found;
}

static bool protected(const struct ag_upstream *up, int family, const __u8 addr[16])
{
	unsigned int i;

	if (!up->conf.nr_protect)
		return own_address(family, addr);
	for (i = 0; i < up->conf.nr_protect; i++)
		if (ag_up_addr_in(family, addr, &up->conf.protect[i]))
			return true;
	return false;
}

/*
 * Adds a rule, or refreshes the one for the same vector and destination
 * (a manual request replaces an automatic rule). 0, or a negative errno
 * with why filled in.
 */
static int add_rule(struct ag_upstream *up, const struct ag_up_rule *want, char *why, size_t len)
{
	struct ag_up_rule *old = find_rule(up, want->slot, want->family, want->addr);
	char addr[INET6_ADDRSTRLEN];
	size_t have, need;

	ag_up_addr_str(want->family, want->addr, addr, sizeof(addr));
	if (!protected(up, want->family, want->addr)) {
		snprintf(why, len,
			 "%s is outside the protected prefixes (upstream: protect, default the protected interfaces' addresses)",
			 addr);
		return -EPERM;
	}
	if (old && !want->manual)
		return 0; /* an automatic rule never replaces one that runs */
	if (want->action == AG_UP_RTBH && !ag_up_next_hop(&up->conf, want->family)) {
		snprintf(why, len,
			 "blackholing %s needs an IPv6 next hop: set upstream: next-hop6 (or an IPv6 local-address)",
			 addr);
		return -EAFNOSUPPORT;
	}
	have = nr_routes(up) - (old ? routes_of(up, old, up->want, MAX_ROUTES) : 0);
	need = routes_of(up, want, up->want, MAX_ROUTES);
	if (have + need > up->conf.max_rules) {
		snprintf(why, len,
			 "max-rules %u reached: %zu route(s) announced, %s to %s needs %zu (one per allowlisted source, one for fragments)",
			 up->conf.max_rules, have, want->vector, addr, need);
		return -ENOSPC;
	}
	if (!old && up->n == up->cap) {
		size_t cap = up->cap ? 2 * up->cap : 16;
		struct ag_up_rule *grown = realloc(up->rules, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		up->rules = grown;
		up->cap = cap;
	}
	if (!old)
		old = &up->rules[up->n++];
	*old = *want;
	up->dirty = true;
	publish("announce", old, NULL);
	return 0;
}

/* ---- syncing ExaBGP -------------------------------------------------------- */

static bool route_in(const struct ag_up_route *v, size_t n, const char *text)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].text, text))
			return true;
	return false;
}

static void sync_routes(struct ag_upstream *up)
{
	size_t i, j, nw = 0, k;
	int n;

	if (!ag_speaker_connected(up->sp))
		return;
	for (i = 0; i < up->n; i++) {
		n = ag_up_routes(&up->rules[i], &up->conf, up->allow.v, up->allow.n, up->want + nw,
				 MAX_ROUTES - nw);
		if (n < 0)
			continue;
		/* Two vectors blackholing one address share the route. */
		for (k = nw, j = nw; k < nw + (size_t)n; k++)
			if (!route_in(up->want, j, up->want[k].text))
				up->want[j++] = up->want[k];
		nw = j;
	}
	for (i = 0; i < up->nr_sent;) {
		if (route_in(up->want, nw, up->sent[i].text)) {
			i++;
			continue;
		}
		ag_speaker_send(up->sp, "withdraw %s", up->sent[i].text);
		up->sent[i] = up->sent[--up->nr_sent];
	}
	for (i = 0; i < nw; i++) {
		if (route_in(up->sent, up->nr_sent, up->want[i].text))
			continue;
		if (ag_speaker_send(up->sp, "announce %s", up->want[i].text))
			break;
		up->sent[up->nr_sent++] = up->want[i];
	}
}

/* A new ExaBGP knows nothing; a neighbor that came up gets everything again. */
static void on_sync(void *arg, int neighbor)
{
	struct ag_upstream *up = arg;
	size_t i;

	if (neighbor < 0) {
		up->nr_sent = 0;
		sync_routes(up);
	} else {
		for (i = 0; i < up->nr_sent; i++)
			ag_speaker_send(up->sp, "neighbor %s announce %s",
					up->conf.neighbors[neighbor].address, up->sent[i].text);
	}
	up->dirty = true;
}

/* ---- the automatic rules --------------------------------------------------- */

static void read_allowlist(struct ag_upstream *up, const struct ag_state *st)
{
	struct ag_cidr_set now = { 0 };

	if (ag_list_collect(st, AG_LIST_ALLOW, &now)) {
		free(now.v);
		return;
	}
	ag_sort(now.v, now.n, sizeof(*now.v), ag_cidr_cmp);
	free(up->allow.v);
	up->allow = now;
}

/* Later fragments dropped per vector, for the fragment rule. */
static void watch_fragments(struct ag_upstream *up, const struct ag_snapshot *s, double now)
{
	__u64 sum[AG_MAX_VECTORS] = { 0 };
	unsigned int i, slot;

	for (i = 0; i < s->n; i++)
		for (slot = 1; slot < AG_MAX_VECTORS; slot++)
			sum[slot] += s->ifs[i].c[AG_STATS_IDX(slot, AG_R_FRAG_DROP)].packets;
	for (slot = 1; slot < AG_MAX_VECTORS && up->have_frag; slot++)
		if (sum[slot] > up->frag_prev[slot])
			up->frag_seen[slot] = now;
	memcpy(up->frag_prev, sum, sizeof(sum));
	up->have_frag = true;
}

static bool drops_fragments(const struct ag_upstream *up, unsigned int slot, double now)
{
	return up->frag_seen[slot] && now - up->frag_seen[slot] <= up->conf.hold_ms / 1000.0;
}

static void auto_rule(struct ag_upstream *up, const struct ag_policy *tbl,
		      const struct ag_dst_entry *e, double bps, double now)
{
	struct ag_up_rule r = { .slot = e->key.vec, .action = up->conf.action };
	char why[256];
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(e->key.addr, mapped, sizeof(mapped))) {
		r.family = AF_INET;
		memcpy(r.addr, &e->key.addr[12], 4);
	} else {
		r.family = AF_INET6;
		memcpy(r.addr, e->key.addr, 16);
	}
	if (find_rule(up, r.slot, r.family, r.addr))
		return;
	r.port = tbl[r.slot].port;
	ag_vector_name(&tbl[r.slot], r.slot, r.vector, sizeof(r.vector));
	r.rate_bps = up->conf.rate_limit_bps;
	r.since = time(NULL);
	r.bps = (unsigned long long)bps;
	r.fragments = drops_fragments(up, r.slot, now);
	if (add_rule(up, &r, why, sizeof(why))) {
		up->refused++;
		up->dirty = true;
		ag_log("upstream: not announcing: %s", why);
	}
}

static void find_targets(struct ag_upstream *up, const struct ag_state *st,
			 const struct ag_policy *tbl, double now)
{
	struct ag_dst_entry *cur = NULL;
	struct ag_dst_val d;
	double dt, bps, at;
	size_t i, n = 0;

	if (ag_dsts_read(st->dsts_fd, &cur, &n))
		return;
	ag_dsts_sort(cur, n);
	dt = up->prev_when ? now - up->prev_when : 0;
	at = (double)up->conf.link_bps * up->conf.announce_at / 100.0;
	for (i = 0; i < n && dt > 0 && up->conf.link_bps; i++) {
		if (cur[i].key.vec >= AG_MAX_VECTORS || !up->attacked[cur[i].key.vec] ||
		    !tbl[cur[i].key.vec].in_use)
			continue;
		ag_dst_delta(&cur[i], ag_dsts_find(up->prev, up->nr_prev, &cur[i].key), &d);
		bps = d.bytes * 8.0 / dt;
		if (bps >= at)
			auto_rule(up, tbl, &cur[i], bps, now);
	}
	free(up->prev);
	up->prev = cur;
	up->nr_prev = n;
	up->prev_when = now;
}

static void expire(struct ag_upstream *up, double now)
{
	time_t wall = time(NULL);
	size_t i;

	for (i = 0; i < up->n;) {
		struct ag_up_rule *r = &up->rules[i];

		if (r->manual && r->expires && wall >= r->expires) {
			remove_rule(up, r, "expired");
			continue;
		}
		if (!r->manual) {
			if (up->attacked[r->slot])
				r->quiet_since = 0;
			else if (!r->quiet_since)
				r->quiet_since = now;
			if (r->quiet_since && now - r->quiet_since >= up->conf.hold_ms / 1000.0) {
				remove_rule(up, r, "attack over");
				continue;
			}
		}
		if (!r->fragments && drops_fragments(up, r->slot, now)) {
			r->fragments = true;
			up->dirty = true;
		}
		i++;
	}
}

void ag_upstream_step(struct ag_upstream *up, const struct ag_detector *det)
{
	struct ag_snapshot s = { 0 };
	double now = ag_mono_s();
	struct ag_state st;
	unsigned int slot;

	if (!up)
		return;
	for (slot = 0; slot < AG_MAX_VECTORS; slot++)
		up->attacked[slot] = ag_detector_attacked(det, slot);
	if (!ag_state_open_quiet(&st)) {
		if (!ag_snapshot_take(&st, NULL, &s)) {
			read_allowlist(up, &st);
			watch_fragments(up, &s, now);
			find_targets(up, &st, s.tbl, now);
		}
		free(s.ifs);
		ag_state_close(&st);
	}
	expire(up, now);
	sync_routes(up);
	ag_speaker_events(up->sp, NULL, 0); /* supervision */
	if (up->dirty || record_behind(up))
		save(up);
}

/* ---- the control socket ---------------------------------------------------- */

/* The vector by name or port, and the allowlist as it is now. */
static int vector_of(struct ag_upstream *up, const char *name, unsigned int *slot, __u16 *port,
		     char *vec, size_t len)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_state st;
	int err, s, p = 0;

	err = ag_state_open_quiet(&st);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	if (!err) {
		read_allowlist(up, &st);
		s = ag_policy_find(tbl, name, &p);
		if (s < 0 || !tbl[s].in_use) {
			err = -ENOENT;
		} else {
			*slot = s;
			*port = tbl[s].port;
			ag_vector_name(&tbl[s], s, vec, len);
		}
	}
	ag_state_close(&st);
	return err;
}

/* "announce VECTOR DEST ACTION RATE_BPS FOR_S" */
static void ctl_announce(struct ag_upstream *up, char *args, char *ans, size_t len)
{
	char vector[64], dest[INET6_ADDRSTRLEN], action[16], why[256];
	unsigned long long rate, for_s;
	struct ag_up_rule r = { .manual = true };

	if (sscanf(args, "%63s %45s %15s %llu %llu", vector, dest, action, &rate, &for_s) != 5 ||
	    ag_up_addr_parse(dest, &r.family, r.addr) ||
	    (r.action = strcmp(action, "default") ? ag_up_action_parse(action) : up->conf.action) <
		    0) {
		snprintf(ans, len, "error malformed request");
		return;
	}
	if (vector_of(up, vector, &r.slot, &r.port, r.vector, sizeof(r.vector))) {
		snprintf(ans, len,
			 "error no vector '%s' is protected here (see 'ampguard vectors')", vector);
		return;
	}
	r.rate_bps = rate ? rate : up->conf.rate_limit_bps;
	if (r.action == AG_UP_RATE_LIMIT && !r.rate_bps) {
		snprintf(ans, len, "error rate-limit needs --rate (or rate-limit-bps in the file)");
		return;
	}
	r.since = time(NULL);
	r.expires = for_s ? r.since + (time_t)for_s : 0;
	r.fragments = drops_fragments(up, r.slot, ag_mono_s());
	if (add_rule(up, &r, why, sizeof(why))) {
		up->refused++;
		up->dirty = true;
		ag_log("upstream: refused: %s", why);
		snprintf(ans, len, "error %s", why);
		return;
	}
	snprintf(ans, len, "ok %s %s to %s%s", ag_up_action_name(r.action), r.vector, dest,
		 ag_speaker_connected(up->sp) ? "" :
						" (ExaBGP is not connected yet: sent when it is)");
}

/* "withdraw VECTOR DEST" or "withdraw-all" */
static void ctl_withdraw(struct ag_upstream *up, char *args, bool all, char *ans, size_t len)
{
	char vector[64], dest[INET6_ADDRSTRLEN], name[32];
	struct ag_up_rule *r;
	unsigned int slot;
	__u8 addr[16];
	size_t n = up->n;
	__u16 port;
	int family;

	if (all) {
		while (up->n)
			remove_rule(up, &up->rules[up->n - 1], "operator");
		snprintf(ans, len, "ok withdrew %zu rule(s)", n);
		return;
	}
	if (sscanf(args, "%63s %45s", vector, dest) != 2 || ag_up_addr_parse(dest, &family, addr)) {
		snprintf(ans, len, "error malformed request");
		return;
	}
	r = NULL;
	if (!vector_of(up, vector, &slot, &port, name, sizeof(name)))
		r = find_rule(up, slot, family, addr);
	if (!r) {
		snprintf(ans, len, "error no rule for %s to %s (see 'ampguard upstream')", vector,
			 dest);
		return;
	}
	remove_rule(up, r, "operator");
	snprintf(ans, len, "ok withdrew %s to %s", name, dest);
}

static void ctl_serve(struct ag_upstream *up)
{
	struct timeval tv = { .tv_usec = CTL_TIMEOUT_MS * 1000 };
	char req[512], ans[512];
	ssize_t n;
	int fd;

	fd = accept4(up->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recv(fd, req, sizeof(req) - 1, 0);
	if (n > 0) {
		req[n] = '\0';
		req[strcspn(req, "\n")] = '\0';
		if (!strncmp(req, "announce ", 9))
			ctl_announce(up, req + 9, ans, sizeof(ans));
		else if (!strncmp(req, "withdraw ", 9))
			ctl_withdraw(up, req + 9, false, ans, sizeof(ans));
		else if (!strcmp(req, "withdraw-all"))
			ctl_withdraw(up, req, true, ans, sizeof(ans));
		else
			snprintf(ans, sizeof(ans), "error unknown request");
		sync_routes(up);
		if (up->dirty)
			save(up);
		strncat(ans, "\n", sizeof(ans) - strlen(ans) - 1);
		if (send(fd, ans, strlen(ans), MSG_NOSIGNAL) < 0)
			ag_log("upstream: answering a request: %s", strerror(errno));
	}
	close(fd);
}

static int ctl_listen(struct ag_upstream *up)
{
	int fd;

	if (ag_path(up->ctl_path, sizeof(up->ctl_path), "%s/%s", ag_state_dir(), AG_UP_CTL_SOCK))
		return -ENAMETOOLONG;
	fd = ag_unix_listen(up->ctl_path, 16);
	if (fd < 0)
		return fd;
	up->ctl_fd = fd;
	return 0;
}

int ag_upstream_request(const char *request, char *answer, size_t len)
{
	struct timeval tv = { .tv_sec = 10 };
	char path[PATH_MAX];
	ssize_t n;
	int fd, err = 0;

	if (ag_path(path, sizeof(path), "%s/%s", ag_state_dir(), AG_UP_CTL_SOCK))
		return -ENAMETOOLONG;
	fd = ag_unix_connect(path);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n = recv(fd, answer, len - 1, MSG_WAITALL);
	if (n <= 0)
		err = n < 0 ? -errno : -EPIPE;
	else
		answer[n - (answer[n - 1] == '\n')] = '\0';
	close(fd);
	return err;
}

/* ---- life ------------------------------------------------------------------ */

struct ag_upstream *ag_upstream_start(const struct ag_conf *c)
{
	struct ag_upstream *up;
	int err;

	if (!c->upstream.enabled)
		return NULL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->conf = c->upstream;
	up->ctl_fd = -1;
	up->cap = 16;
	up->rules = calloc(up->cap, sizeof(*up->rules));
	up->sent = calloc(MAX_ROUTES, sizeof(*up->sent));
	up->want = calloc(MAX_ROUTES, sizeof(*up->want));
	if (!up->rules || !up->sent || !up->want) {
		ag_upstream_stop(up);
		return NULL;
	}
	restore(up);
	err = ctl_listen(up);
	if (err)
		ag_log("upstream: no control socket at %s: %s ('ampguard upstream announce' will not reach this daemon)",
		       up->ctl_path, strerror(-err));
	up->sp = ag_speaker_start(&up->conf, on_sync, up);
	if (!up->sp) {
		ag_upstream_stop(up);
		return NULL;
	}
	save(up);
	return up;
}

void ag_upstream_configure(struct ag_upstream *up, const struct ag_conf *c)
{
	if (!up)
		return;
	up->conf = c->upstream;
	if (ag_speaker_configure(up->sp, &up->conf))
		up->nr_sent = 0;
	sync_routes(up);
	save(up);
}

int ag_upstream_fds(const struct ag_upstream *up, struct pollfd *fds)
{
	int n = 0;

	if (!up)
		return 0;
	if (up->ctl_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = up->ctl_fd, .events = POLLIN };
	return n + ag_speaker_fds(up->sp, fds + n);
}

void ag_upstream_events(struct ag_upstream *up, const struct pollfd *fds, int n)
{
	int i;

	if (!up)
		return;
	for (i = 0; i < n; i++)
		if (fds[i].fd == up->ctl_fd && fds[i].revents)
			ctl_serve(up);
	ag_speaker_events(up->sp, fds, n);
	if (up->dirty || record_behind(up))
		save(up);
}

/* A clean stop withdraws every rule, unless withdraw-on-exit is false. */
void ag_upstream_stop(struct ag_upstream *up)
{
	if (!up)
		return;
	if (up->sp && up->conf.withdraw_on_exit && up->n) {
		while (up->n)
			remove_rule(up, &up->rules[up->n - 1], "exit");
		sync_routes(up);
	}
	if (up->sp)
		save(up);
	ag_speaker_stop(up->sp);
	if (up->ctl_fd >= 0) {
		close(up->ctl_fd);
		unlink(up->ctl_path);
	}
	free(up->rules);
	free(up->sent);
	free(up->want);
	free(up->allow.v);
	free(up->prev);
	free(up);
}
