// SPDX-License-Identifier: GPL-2.0-only
/* `status` (what is protected, how) and `vectors` (the built-in table). */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cmd.h"

struct iface_status {
	char name[IF_NAMESIZE];
	struct ag_ifinfo info;
	__u32 prog_id;
	__u32 link_id;
	__u32 linked_ifindex; /* 0 once the interface is gone */
	bool interrupted;     /* a staging directory an attach left */
};

/* Reads an interface's pins in dir (its directory, or an attach's staging one). */
static void read_iface(const char *dir, const char *ifname, struct iface_status *s)
{
	struct bpf_link_info li;
	int fd;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", ifname);
	ag_dir_ifinfo(dir, &s->info);
	fd = ag_dir_link(dir, &li);
	if (fd >= 0) {
		s->prog_id = li.prog_id;
		s->link_id = li.id;
		s->linked_ifindex = li.xdp.ifindex;
		close(fd);
	}
}

static const char *iface_state(const struct iface_status *s)
{
	if (s->interrupted)
		return "interrupted"; /* the next attach or detach removes it */
	if (!s->link_id)
		return "broken"; /* pins without a link: the link pin was removed */
	if (!s->linked_ifindex)
		return "gone"; /* the interface was deleted */
	return "protected";
}

struct status_arg {
	const struct ag_state *st;
	json_object *arr;
	__u32 gen;
	unsigned int interrupted;
};

static int status_one(const char *ifname, const char *dir, bool interrupted, struct status_arg *a)
{
	json_object *track = NULL, *o;
	char tname[IF_NAMESIZE];
	struct iface_status s;
	unsigned int i;

	read_iface(dir, ifname, &s);
	s.interrupted = interrupted;
	a->interrupted += interrupted;
	if (!a->arr) {
		printf("  %-15s %-9s %-8s ifindex %-4u prog %-6u link %-5u tracking on", s.name,
		       iface_state(&s), ag_mode_name(s.info.mode), s.info.ifindex, s.prog_id,
		       s.link_id);
	} else {
		track = json_object_new_array();
	}
	for (i = 0; i < AG_MAX_TRACK_IFACES && s.info.track_ifindex[i]; i++) {
		if (!if_indextoname(s.info.track_ifindex[i], tname))
			snprintf(tname, sizeof(tname), "#%u", s.info.track_ifindex[i]);
		if (track)
			json_object_array_add(track, json_object_new_string(tname));
		else
			printf(" %s", tname);
	}
	if (!a->arr) {
		printf(", orphan fragments %s\n", ag_orphan_name(s.info.orphan[a->gen].mode));
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(s.name));
	json_object_object_add(o, "state", json_object_new_string(iface_state(&s)));
	json_object_object_add(o, "mode", json_object_new_string(ag_mode_name(s.info.mode)));
	json_object_object_add(o, "ifindex", json_object_new_int64(s.info.ifindex));
	json_object_object_add(o, "prog_id", json_object_new_int64(s.prog_id));
	json_object_object_add(o, "link_id", json_object_new_int64(s.link_id));
	json_object_object_add(o, "attached_at", json_object_new_int64(s.info.attached_at));
	json_object_object_add(o, "track_on", track);
	json_object_object_add(o, "orphan_fragments",
			       json_object_new_string(ag_orphan_name(s.info.orphan[a->gen].mode)));
	json_object_object_add(o, "orphan_pps",
			       json_object_new_uint64(s.info.orphan[a->gen].pps.rate));
	json_object_array_add(a->arr, o);
	return 0;
}

static int status_iface(const char *ifname, void *arg)
{
	struct status_arg *a = arg;
	char dir[PATH_MAX];

	if (ag_iface_pin(a->st, ifname, NULL, dir, sizeof(dir)))
		return 0;
	return status_one(ifname, dir, false, a);
}

/* The remains of an attach that died midway (print_status checks no writer is in flight). */
static int status_staging(const char *ifname, const char *dir, void *arg)
{
	return status_one(ifname, dir, true, arg);
}

static void add_budget(json_object *o, const char *rate_key, const char *burst_key,
		       const struct ag_rate *r)
{
	json_object_object_add(o, rate_key, json_object_new_uint64(r->rate));
	json_object_object_add(o, burst_key, json_object_new_uint64(r->burst));
}

/* Configured budgets; a rate of 0 is no limit. Kept while another action is set. */
static json_object *limits_json(const struct ag_policy *pol)
{
	json_object *o = json_object_new_object();

	add_budget(o, "pps", "burst", &pol->agg_pps);
	add_budget(o, "bps", "bps_burst", &pol->agg_bps);
	add_budget(o, "per_source_pps", "per_source_burst", &pol->src_pps);
	add_budget(o, "per_source_bps", "per_source_bps_burst", &pol->src_bps);
	json_object_object_add(o, "source_table_full",
			       json_object_new_string(ag_src_full_name(pol->src_full)));
	return o;
}

/* What the daemon's records say of one vector, over every interface. */
struct vector_attack {
	bool active, escalated;
	__u64 since;
	double peak_pps, peak_bps;
	json_object *ifaces;
};

static void vector_attack(const struct ag_attacks *rec, unsigned int slot, struct vector_attack *v)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	v->escalated = ag_attacks_escalated(rec, slot);
	for (i = 0; i < rec->n; i++) {
		const struct ag_attack *a = &rec->v[i];

		if (a->slot != slot || !a->active)
			continue;
		if (!v->active || a->since < v->since)
			v->since = a->since;
		v->active = true;
		if (a->peak_pps > v->peak_pps)
			v->peak_pps = a->peak_pps;
		if (a->peak_bps > v->peak_bps)
			v->peak_bps = a->peak_bps;
		if (!v->ifaces)
			v->ifaces = json_object_new_array();
		json_object_array_add(v->ifaces, json_object_new_string(a->ifname));
	}
}

static json_object *detection_json(const struct ag_attacks *rec, unsigned int slot)
{
	json_object *o = json_object_new_object();
	struct vector_attack v;
	char when[32];

	vector_attack(rec, slot, &v);
	json_object_object_add(o, "attack", json_object_new_boolean(v.active));
	if (v.active) {
		ag_fmt_time(when, sizeof(when), v.since);
		json_object_object_add(o, "since", json_object_new_string(when));
	} else {
		json_object_object_add(o, "since", NULL);
	}
	json_object_object_add(o, "peak_pps", json_object_new_int64((long long)v.peak_pps));
	json_object_object_add(o, "peak_bps", json_object_new_int64((long long)v.peak_bps));
	json_object_object_add(o, "escalated", json_object_new_boolean(v.escalated));
	json_object_object_add(o, "interfaces", v.ifaces ? v.ifaces : json_object_new_array());
	return o;
}

/* The attacks under way, one line per vector. */
static void print_attacks(const struct ag_policy *tbl, const struct ag_attacks *rec)
{
	char name[32], when[32], pps[32], bps[32];
	struct vector_attack v;
	unsigned int slot, n = 0;

	printf("attacks:");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		vector_attack(rec, slot, &v);
		if (!v.active && !v.escalated)
			continue;
		ag_vector_name(&tbl[slot], slot, name, sizeof(name));
		ag_fmt_time(when, sizeof(when), v.since);
		ag_fmt_rate(pps, sizeof(pps), v.peak_pps, "pps");
		ag_fmt_rate(bps, sizeof(bps), v.peak_bps, "bit/s");
		printf("\n  %s(%u) on %s since %s, peak %s %s, %s%s", name, tbl[slot].port,
		       v.ifaces ? json_object_to_json_string_ext(v.ifaces, JSON_C_TO_STRING_PLAIN) :
				  "[]",
		       when, pps, bps, v.escalated ? "escalated to " : "not escalated",
		       v.escalated ? ag_action_name(tbl[slot].action) : "");
		json_object_put(v.ifaces);
		n++;
	}
	printf("%s\n", n ? "" : " none seen by the daemon");
}

static json_object *vector_json(const struct ag_policy *pol, unsigned int slot,
				const struct ag_attacks *rec)
{
	json_object *o = json_object_new_object();
	char name[32];

	ag_vector_name(pol, slot, name, sizeof(name));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "port", json_object_new_int(pol->port));
	json_object_object_add(o, "action", json_object_new_string(ag_action_name(pol->action)));
	json_object_object_add(o, "track_timeout_ms", json_object_new_int64(pol->track_timeout_ms));
	json_object_object_add(o, "builtin", json_object_new_boolean(slot <= ag_nr_builtins));
	json_object_object_add(o, "limits", limits_json(pol));
	json_object_object_add(o, "detection", detection_json(rec, slot));
	return o;
}

static json_object *served_json(const struct ag_served *sv)
{
	json_object *arr = json_object_new_array();
	unsigned int port;

	for (port = 0; port < AG_NR_PORTS; port++)
		if ((sv->bits[port / 32] >> (port % 32)) & 1)
			json_object_array_add(arr, json_object_new_int(port));
	return arr;
}

static void print_vectors(const struct ag_policy *tbl, json_object *vecs,
			  const struct ag_attacks *rec)
{
	char name[32], timeout[16], limits[256];
	unsigned int slot;

	if (!vecs)
		printf("vectors:\n  %-15s %6s  %-9s %-8s %s\n", "NAME", "PORT", "ACTION",
		       "TRACKING", "LIMITS");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (!tbl[slot].in_use)
			continue;
		if (vecs) {
			json_object_array_add(vecs, vector_json(&tbl[slot], slot, rec));
			continue;
		}
		ag_vector_name(&tbl[slot], slot, name, sizeof(name));
		ag_fmt_duration(timeout, sizeof(timeout), tbl[slot].track_timeout_ms);
		limits[0] = '\0';
		if (tbl[slot].action == AG_ACT_RATELIMIT)
			ag_fmt_limits(&tbl[slot], limits, sizeof(limits));
		printf("  %-15s %6u  %-9s %-8s %s\n", name, tbl[slot].port,
		       ag_action_name(tbl[slot].action), timeout, limits);
	}
}

static int print_status(const struct ag_state *st, bool json)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct status_arg arg = { .st = st, .gen = ag_active_gen(st) };
	json_object *root = NULL, *vecs = NULL, *track, *served, *sources, *lists;
	unsigned long entries = 0;
	unsigned long held = 0;
	struct ag_config cfg = { 0 };
	struct ag_attacks rec = { 0 };
	struct ag_served sv;
	int err;

	err = ag_policy_read(st->config_fd, st->policy_fd, tbl);
	err = err ?: ag_served_read(st, &sv);
	err = err ?: ag_track_count(st->track_fd, &entries);
	err = err ?: ag_src_held(st, tbl, &held);
	if (!err && bpf_map_lookup_elem(st->config_fd, &(__u32){ 0 }, &cfg))
		err = -errno;
	if (err)
		return ag_bpf_err(err, "reading state");
	if (json) {
		root = json_object_new_object();
		arg.arr = json_object_new_array();
		vecs = json_object_new_array();
		json_object_object_add(root, "version", json_object_new_int(AG_JSON_VERSION));
		json_object_object_add(root, "root", json_object_new_string(st->root));
	} else {
		printf("state: %s\ninterfaces:\n", st->root);
	}
	err = ag_for_each_iface(st, status_iface, &arg);
	if (!err && !ag_writer_active(st))
		err = ag_for_each_staging(st, status_staging, &arg);
	if (err)
		ag_bpf_err(err, "reading the interfaces");
	if (!json && arg.interrupted)
		printf("  (interrupted: an attach died midway; 'ampguard attach IFACE' or 'ampguard detach IFACE' clears it)\n");
	if (ag_attacks_read(&rec))
		ag_warn("the daemon's records in %s are unreadable: attacks not shown",
			ag_state_dir());
	print_vectors(tbl, vecs, &rec);
	served = served_json(&sv);
	if (!json) {
		printf("served ports: %s\n",
		       json_object_array_length(served) ?
			       json_object_to_json_string_ext(served, JSON_C_TO_STRING_PLAIN) :
			       "none");
		printf("tracked requests: %lu of %u entries\n", entries, AG_TRACK_ENTRIES);
		printf("rate-limited sources: %lu of %u entries\n", held, AG_SRC_ENTRIES);
		printf("allowlist: %u entries, denylist: %u entries\n", cfg.allow_n, cfg.deny_n);
		print_attacks(tbl, &rec);
		ag_attacks_free(&rec);
		json_object_put(served);
		return err;
	}
	track = json_object_new_object();
	json_object_object_add(track, "entries", json_object_new_int64(entries));
	json_object_object_add(track, "capacity", json_object_new_int64(AG_TRACK_ENTRIES));
	json_object_object_add(root, "interfaces", arg.arr);
	json_object_object_add(root, "vectors", vecs);
	json_object_object_add(root, "served_ports", served);
	json_object_object_add(root, "tracking", track);
	sources = json_object_new_object();
	json_object_object_add(sources, "entries", json_object_new_uint64(held));
	json_object_object_add(sources, "capacity", json_object_new_int64(AG_SRC_ENTRIES));
	json_object_object_add(root, "sources", sources);
	lists = json_object_new_object();
	json_object_object_add(lists, "allow", json_object_new_uint64(cfg.allow_n));
	json_object_object_add(lists, "deny", json_object_new_uint64(cfg.deny_n));
	json_object_object_add(root, "lists", lists);
	ag_json_print(root, true);
	ag_attacks_free(&rec);
	return err;
}

struct json_args {
	bool json;
};

static const struct ag_opt json_opts[] = {
	AG_OPT_JSON(struct json_args, "machine-readable output (schema in README)"),
	AG_OPT_END,
};

static int do_status(struct ag_state *st, void *p)
{
	return print_status(st, ((struct json_args *)p)->json);
}

static int do_vectors(struct ag_state *unused, void *p)
{
	bool json = ((struct json_args *)p)->json;
	json_object *arr = NULL, *o;
	unsigned int i;

	(void)unused;
	if (json)
		arr = json_object_new_array();
	else
		printf("%-15s %6s  %-8s %-8s %s\n", "NAME", "PORT", "DEFAULT", "TRACKING",
		       "REFLECTORS");
	for (i = 0; i < ag_nr_builtins; i++) {
		const struct ag_builtin *b = &ag_builtins[i];

		if (!json) {
			char timeout[16];

			ag_fmt_duration(timeout, sizeof(timeout), b->track_timeout_ms);
			printf("%-15s %6u  %-8s %-8s %s\n", b->name, b->port,
			       ag_action_name(b->action), timeout, b->desc);
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(b->name));
		json_object_object_add(o, "port", json_object_new_int(b->port));
		json_object_object_add(o, "default_action",
				       json_object_new_string(ag_action_name(b->action)));
		json_object_object_add(o, "track_timeout_ms",
				       json_object_new_int64(b->track_timeout_ms));
		json_object_object_add(o, "description", json_object_new_string(b->desc));
		json_object_array_add(arr, o);
	}
	if (json) {
		ag_json_print(arr, true);
	}
	return 0;
}

const struct ag_cmd cmd_status = {
	.name = "status",
	.summary = "protected interfaces and the vector table",
	.help = "  Protected interfaces, attach mode, program ids and the vector table.\n",
	.opts = json_opts,
	.size = sizeof(struct json_args),
	.state = CMD_READ,
	.run = do_status,
};

const struct ag_cmd cmd_vectors = {
	.name = "vectors",
	.summary = "list the built-in vectors",
	.help = "  The built-in vectors with their ports and default actions.\n",
	.opts = json_opts,
	.size = sizeof(struct json_args),
	.state = CMD_NO_STATE,
	.run = do_vectors,
};
