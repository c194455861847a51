// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Prometheus text exposition (format 0.0.4) of the pinned state.
 * Labels are bounded: interface, vector, port, verdict, reason, action,
 * scope, list, neighbor; never a source or destination address. The attack
 * and upstream families come from the daemon's records in the state
 * directory; the upstream ones only while the daemon that wrote them runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "config.h"

/* Label values may hold '\', '"' and newlines; escape them. */
static void label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fputc('\\', f), fputc(*value, f);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void vector_labels(FILE *f, const struct ag_policy *tbl, unsigned int slot, bool first)
{
	char name[32], port[8];

	ag_vector_name(&tbl[slot], slot, name, sizeof(name));
	snprintf(port, sizeof(port), "%u", slot ? tbl[slot].port : 0);
	label(f, "vector", name, first);
	label(f, "port", port, false);
}

/* Slot 0 and the slots in use, plus freed ones that still hold counts. */
static bool slot_shown(const struct ag_snapshot *s, unsigned int slot)
{
	unsigned int i, r;

	if (slot == 0 || s->tbl[slot].in_use)
		return true;
	for (i = 0; i < s->n; i++)
		for (r = 0; r < AG_REASON__MAX; r++)
			if (s->ifs[i].c[AG_STATS_IDX(slot, r)].packets)
				return true;
	return false;
}

static void counters(FILE *f, const struct ag_snapshot *s, bool bytes)
{
	unsigned int i, slot, r;

	if (bytes)
		family(f, "ampguard_bytes_total", "counter",
		       "Bytes of classified frames, by interface, vector, verdict and reason.");
	else
		family(f, "ampguard_packets_total", "counter",
		       "Classified frames, by interface, vector, verdict and reason.");
	for (i = 0; i < s->n; i++) {
		for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
			if (!slot_shown(s, slot))
				continue;
			for (r = 0; r < AG_REASON__MAX; r++) {
				const struct ag_counter *c = &s->ifs[i].c[AG_STATS_IDX(slot, r)];

				fprintf(f, "%s{",
					bytes ? "ampguard_bytes_total" : "ampguard_packets_total");
				label(f, "interface", s->ifs[i].name, true);
				vector_labels(f, s->tbl, slot, false);
				label(f, "verdict", ag_reason_drops(r) ? "drop" : "pass", false);
				label(f, "reason", ag_reason_name(r), false);
				fprintf(f, "} %llu\n",
					(unsigned long long)(bytes ? c->bytes : c->packets));
			}
		}
	}
}

static void limit(FILE *f, const char *metric, const struct ag_policy *tbl, unsigned int slot,
		  const char *scope, const struct ag_rate *r)
{
	if (!r->rate)
		return;
	fprintf(f, "%s{", metric);
	vector_labels(f, tbl, slot, true);
	label(f, "scope", scope, false);
	fprintf(f, "} %llu\n", (unsigned long long)r->rate);
}

static void vectors(FILE *f, const struct ag_policy *tbl)
{
	unsigned int slot, a;

	family(f, "ampguard_vector_action", "gauge",
	       "1 for the action each vector applies to unsolicited traffic.");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		for (a = 0; tbl[slot].in_use && a < AG_ACT__MAX; a++) {
			fprintf(f, "ampguard_vector_action{");
			vector_labels(f, tbl, slot, true);
			label(f, "action", ag_action_name(a), false);
			fprintf(f, "} %d\n", tbl[slot].action == a);
		}
	}
	family(f, "ampguard_vector_track_timeout_seconds", "gauge",
	       "How long a request makes replies solicited; 0 when tracking is off.");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (!tbl[slot].in_use)
			continue;
		fprintf(f, "ampguard_vector_track_timeout_seconds{");
		vector_labels(f, tbl, slot, true);
		fprintf(f, "} %g\n", tbl[slot].track_timeout_ms / 1000.0);
	}
	family(f, "ampguard_vector_limit_packets_per_second", "gauge",
	       "Configured rate limits in packets per second, by scope (aggregate, source).");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (!tbl[slot].in_use || tbl[slot].action != AG_ACT_RATELIMIT)
			continue;
		limit(f, "ampguard_vector_limit_packets_per_second", tbl, slot, "aggregate",
		      &tbl[slot].agg_pps);
		limit(f, "ampguard_vector_limit_packets_per_second", tbl, slot, "source",
		      &tbl[slot].src_pps);
	}
	family(f, "ampguard_vector_limit_bits_per_second", "gauge",
	       "Configured rate limits in bits per second, by scope (aggregate, source).");
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (!tbl[slot].in_use || tbl[slot].action != AG_ACT_RATELIMIT)
			continue;
		limit(f, "ampguard_vector_limit_bits_per_second", tbl, slot, "aggregate",
		      &tbl[slot].agg_bps);
		limit(f, "ampguard_vector_limit_bits_per_second", tbl, slot, "source",
		      &tbl[slot].src_bps);
	}
}

static void gauge(FILE *f, const char *name, const char *help, unsigned long long v)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %llu\n", name, v);
}

static int iface_info(const char *ifname, void *arg)
{
	const struct ag_state *st = ((void **)arg)[0];
	FILE *f = ((void **)arg)[1];
	struct ag_ifinfo info = { 0 };

	ag_iface_info(st, ifname, &info);
	fprintf(f, "ampguard_interface_info{");
	label(f, "interface", ifname, true);
	label(f, "mode", ag_mode_name(info.mode), false);
	label(f, "orphan_fragments", ag_orphan_name(info.orphan[ag_active_gen(st)].mode), false);
	fprintf(f, "} 1\n");
	return 0;
}

static void tables(FILE *f, const struct ag_state *st, const struct ag_policy *tbl)
{
	struct ag_config cfg = { 0 };
	unsigned long track = 0, held = 0;

	ag_track_count(st->track_fd, &track);
	ag_src_held(st, tbl, &held);
	bpf_map_lookup_elem(st->config_fd, &(__u32){ 0 }, &cfg);
	gauge(f, "ampguard_tracking_entries", "Tracked requests in the solicited-response table.",
	      track);
	gauge(f, "ampguard_tracking_capacity", "Capacity of the solicited-response table.",
	      AG_TRACK_ENTRIES);
	gauge(f, "ampguard_sources_entries", "Slots held in the per-source rate-limit table.",
	      held);
	gauge(f, "ampguard_sources_capacity", "Slots of the per-source rate-limit table.",
	      AG_SRC_ENTRIES);
	family(f, "ampguard_list_entries", "gauge", "CIDRs on the allow and deny lists.");
	fprintf(f, "ampguard_list_entries{list=\"allow\"} %u\n", cfg.allow_n);
	fprintf(f, "ampguard_list_entries{list=\"deny\"} %u\n", cfg.deny_n);
}

static void attack_family(FILE *f, const struct ag_attacks *rec, const char *name, const char *type,
			  const char *help, int what)
{
	size_t i;

	family(f, name, type, help);
	for (i = 0; i < rec->n; i++) {
		const struct ag_attack *a = &rec->v[i];
		unsigned long long v = what == 0 ? a->active :
				       what == 1 ? a->attacks_total :
						   a->active && ag_attacks_escalated(rec, a->slot);

		fprintf(f, "%s{", name);
		label(f, "interface", a->ifname, true);
		label(f, "vector", a->vector, false);
		fprintf(f, "} %llu\n", v);
	}
}

/* What the daemon's detection sees, from its records (none when it never ran). */
static void attacks(FILE *f)
{
	struct ag_attacks rec;

	if (ag_attacks_read(&rec))
		return;
	attack_family(f, &rec, "ampguard_attack_active", "gauge",
		      "1 while detection sees an attack on the interface and vector.", 0);
	attack_family(f, &rec, "ampguard_attacks_total", "counter",
		      "Attacks detection has seen start on the interface and vector.", 1);
	attack_family(f, &rec, "ampguard_escalated", "gauge",
		      "1 while the vector is escalated for an attack on the interface.", 2);
	ag_attacks_free(&rec);
}

static void upstream(FILE *f)
{
	json_object *o, *arr, *x, *v;
	unsigned long long by_action[AG_UP__MAX] = { 0 };
	size_t i;
	int a;

	if (ag_daemon_record_read(AG_UP_RECORD, &o))
		return;
	family(f, "ampguard_upstream_rules", "gauge",
	       "Rules the daemon has the upstream router apply, by action.");
	if (json_object_object_get_ex(o, "rules", &arr))
		for (i = 0; i < json_object_array_length(arr); i++) {
			x = json_object_array_get_idx(arr, i);
			a = json_object_object_get_ex(x, "action", &v) ?
				    ag_up_action_parse(json_object_get_string(v)) :
				    -1;
			if (a >= 0)
				by_action[a]++;
		}
	for (a = 0; a < AG_UP__MAX; a++)
		fprintf(f, "ampguard_upstream_rules{action=\"%s\"} %llu\n", ag_up_action_name(a),
			by_action[a]);
	family(f, "ampguard_bgp_session_up", "gauge",
	       "1 while the BGP session to the neighbor is established.");
	if (json_object_object_get_ex(o, "neighbors", &arr))
		for (i = 0; i < json_object_array_length(arr); i++) {
			x = json_object_array_get_idx(arr, i);
			fprintf(f, "ampguard_bgp_session_up{");
			label(f, "neighbor",
			      json_object_object_get_ex(x, "address", &v) ?
				      json_object_get_string(v) :
				      "?",
			      true);
			fprintf(f, "} %d\n",
				json_object_object_get_ex(x, "state", &v) &&
					!strcmp(json_object_get_string(v), "up"));
		}
	family(f, "ampguard_upstream_errors_total", "counter",
	       "Commands ExaBGP refused (the daemon's log says which).");
	fprintf(f, "ampguard_upstream_errors_total %lld\n",
		json_object_object_get_ex(o, "errors", &v) ? (long long)json_object_get_int64(v) :
							     0);
	family(f, "ampguard_upstream_refused_total", "counter",
	       "Rules not announced: destination outside protect, or max-rules reached.");
	fprintf(f, "ampguard_upstream_refused_total %lld\n",
		json_object_object_get_ex(o, "refused", &v) ? (long long)json_object_get_int64(v) :
							      0);
	json_object_put(o);
}

/* Whether a capture holds the lease now, and what the datapath handed it in all. */
static void capture(FILE *f, const struct ag_state *st)
{
	struct ag_capture cap;
	struct ag_capture_cpu sum;
	struct timespec now;

	if (ag_capture_read(st, &cap, &sum))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	gauge(f, "ampguard_capture_active", "1 while an ampguard capture holds its lease.",
	      cap.until_ns > (__u64)now.tv_sec * 1000000000ULL + now.tv_nsec);
	family(f, "ampguard_capture_samples_total", "counter",
	       "Frames the datapath handed to captures, every CPU and interface.");
	fprintf(f, "ampguard_capture_samples_total %llu\n", (unsigned long long)sum.sampled);
}

static void build_info(FILE *f)
{
	family(f, "ampguard_build_info", "gauge", "Version of the exporting ampguard; always 1.");
	fprintf(f, "ampguard_build_info{version=\"%s\",abi=\"%d\",libbpf=\"%s\"} 1\n", AG_VERSION,
		AG_ABI_VERSION, libbpf_version_string());
}

/* Renders everything into a malloc'd buffer. With nothing attached, only what is known. */
int ag_metrics_render(char **out, size_t *len)
{
	struct ag_snapshot snap = { 0 };
	struct ag_state st;
	void *arg[2];
	FILE *f;
	int err;

	f = open_memstream(out, len);
	if (!f)
		return -errno;
	build_info(f);
	err = ag_state_open_quiet(&st);
	if (err) {
		gauge(f, "ampguard_protected_interfaces", "Interfaces ampguard protects.", 0);
		fclose(f);
		return err == -ENOENT ? 0 : err;
	}
	err = ag_snapshot_take(&st, NULL, &snap);
	if (!err) {
		gauge(f, "ampguard_protected_interfaces", "Interfaces ampguard protects.", snap.n);
		family(f, "ampguard_interface_info", "gauge",
		       "Protected interfaces with their attach mode and orphan-fragment policy.");
		arg[0] = &st;
		arg[1] = f;
		ag_for_each_iface(&st, iface_info, arg);
		counters(f, &snap, false);
		counters(f, &snap, true);
		vectors(f, snap.tbl);
		tables(f, &st, snap.tbl);
		attacks(f);
		upstream(f);
		capture(f, &st);
	}
	free(snap.ifs);
	ag_state_close(&st);
	fclose(f);
	return err;
}
