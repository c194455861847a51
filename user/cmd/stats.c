// SPDX-License-Identifier: GPL-2.0-only
/*
 * `stats`: packets and bytes per interface x vector x reason, as a table
 * or JSON, once or every --watch seconds with rates against the previous
 * snapshot. Reads only: no lock, so it never waits for a writer.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cmd.h"

/* Matching counters of the previous snapshot, for rates; NULL if none. */
static const struct ag_iface_counters *previous(const struct ag_snapshot *prev, const char *name)
{
	unsigned int i;

	for (i = 0; prev && i < prev->n; i++)
		if (!strcmp(prev->ifs[i].name, name))
			return &prev->ifs[i];
	return NULL;
}

static json_object *counter_json(const struct ag_snapshot *s, unsigned int idx,
				 const struct ag_counter *c, const struct ag_counter *p, double dt)
{
	unsigned int slot = idx / AG_REASON__MAX, reason = idx % AG_REASON__MAX;
	json_object *o = json_object_new_object();
	char name[32];

	ag_vector_name(&s->tbl[slot], slot, name, sizeof(name));
	json_object_object_add(o, "vector", json_object_new_string(name));
	json_object_object_add(o, "port", json_object_new_int(slot ? s->tbl[slot].port : 0));
	json_object_object_add(o, "reason", json_object_new_string(ag_reason_name(reason)));
	json_object_object_add(o, "verdict",
			       json_object_new_string(ag_reason_drops(reason) ? "drop" : "pass"));
	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	if (p && dt > 0) {
		json_object_object_add(o, "pps",
				       json_object_new_double((c->packets - p->packets) / dt));
		json_object_object_add(o, "bps",
				       json_object_new_double((c->bytes - p->bytes) * 8.0 / dt));
	}
	return o;
}

static json_object *snapshot_json(const struct ag_snapshot *s, const struct ag_snapshot *prev)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	unsigned int i, idx;

	json_object_object_add(root, "version", json_object_new_int(AG_JSON_VERSION));
	json_object_object_add(root, "timestamp", json_object_new_int64(time(NULL)));
	for (i = 0; i < s->n; i++) {
		const struct ag_iface_counters *ifc = &s->ifs[i], *p = previous(prev, ifc->name);
		json_object *o = json_object_new_object(), *ctrs = json_object_new_array();
		__u64 tot[2][2] = { { 0 } };

		for (idx = 0; idx < AG_NR_STATS; idx++) {
			const struct ag_counter *c = &ifc->c[idx];
			int drop = ag_reason_drops(idx % AG_REASON__MAX);

			if (!c->packets)
				continue;
			tot[drop][0] += c->packets;
			tot[drop][1] += c->bytes;
			json_object_array_add(ctrs, counter_json(s, idx, c, p ? &p->c[idx] : NULL,
								 prev ? s->when - prev->when : 0));
		}
		json_object_object_add(o, "interface", json_object_new_string(ifc->name));
		json_object_object_add(o, "passed_packets", json_object_new_uint64(tot[0][0]));
		json_object_object_add(o, "passed_bytes", json_object_new_uint64(tot[0][1]));
		json_object_object_add(o, "dropped_packets", json_object_new_uint64(tot[1][0]));
		json_object_object_add(o, "dropped_bytes", json_object_new_uint64(tot[1][1]));
		json_object_object_add(o, "counters", ctrs);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "interfaces", arr);
	return root;
}

static void print_table(const struct ag_snapshot *s, const struct ag_snapshot *prev)
{
	char name[32], vec[48], pkts[24], bytes[24], pps[24], bps[24];
	double dt = prev ? s->when - prev->when : 0;
	unsigned int i, idx, rows = 0;

	printf("%-15s %-20s %-19s %-7s %14s %16s", "INTERFACE", "VECTOR", "REASON", "VERDICT",
	       "PACKETS", "BYTES");
	printf(dt > 0 ? " %14s %16s\n" : "\n", "RATE", "BANDWIDTH");
	for (i = 0; i < s->n; i++) {
		const struct ag_iface_counters *ifc = &s->ifs[i], *p = previous(prev, ifc->name);

		for (idx = 0; idx < AG_NR_STATS; idx++) {
			unsigned int slot = idx / AG_REASON__MAX, reason = idx % AG_REASON__MAX;
			const struct ag_counter *c = &ifc->c[idx];

			if (!c->packets)
				continue;
			rows++;
			ag_vector_name(&s->tbl[slot], slot, name, sizeof(name));
			if (slot)
				snprintf(vec, sizeof(vec), "%s(%u)", name, s->tbl[slot].port);
			else
				snprintf(vec, sizeof(vec), "%s", name);
			snprintf(pkts, sizeof(pkts), "%llu", (unsigned long long)c->packets);
			snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)c->bytes);
			printf("%-15s %-20s %-19s %-7s %14s %16s", ifc->name, vec,
			       ag_reason_name(reason), ag_reason_drops(reason) ? "drop" : "pass",
			       pkts, bytes);
			if (dt > 0) {
				const struct ag_counter *pc = p ? &p->c[idx] : c;

				ag_fmt_rate(pps, sizeof(pps), (c->packets - pc->packets) / dt,
					    "pps");
				ag_fmt_rate(bps, sizeof(bps), (c->bytes - pc->bytes) * 8.0 / dt,
					    "bit/s");
				printf(" %14s %16s", pps, bps);
			}
			putchar('\n');
		}
	}
	if (!rows)
		printf("(no traffic counted yet)\n");
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int iface_known(const struct ag_state *st, const char *ifname)
{
	char path[PATH_MAX];

	if (ag_iface_pin(st, ifname, "stats", path, sizeof(path)))
		return 0;
	return access(path, F_OK) == 0;
}

static void emit(const struct ag_snapshot *s, const struct ag_snapshot *prev, bool json, bool watch)
{
	if (json) {
		ag_json_print(snapshot_json(s, prev), !watch);
	} else {
		if (watch)
			printf("\033[H\033[2J");
		print_table(s, prev);
	}
	fflush(stdout);
}

struct stats_args {
	const char *only;
	long watch;
	bool json;
};

static const struct ag_opt stats_opts[] = {
	AG_OPT_JSON(struct stats_args, "machine-readable output (schema in README)"),
	{ .name = "watch",
	  .letter = 'w',
	  .type = OPT_UINT,
	  .off = offsetof(struct stats_args, watch),
	  .metavar = "SECONDS",
	  .min = 1,
	  .max = 86400,
	  .bad = "--watch takes a whole number of seconds from 1 to 86400, not '%s'",
	  .help = "redraw every SECONDS with rates; with --json, one object per line" },
	AG_OPT_END,
};

static const struct ag_opt stats_positional[] = {
	{ .name = "IFACE",
	  .type = OPT_STRING,
	  .off = offsetof(struct stats_args, only),
	  .optional = true },
	AG_OPT_END,
};

static int do_stats(struct ag_state *st, void *p)
{
	const struct stats_args *a = p;
	struct ag_snapshot cur = { 0 }, prev = { 0 };
	unsigned long interval = a->watch > 0 ? a->watch : 0;
	int err;

	if (a->only && !iface_known(st, a->only)) {
		ag_err("%s is not protected by ampguard: see 'ampguard status'", a->only);
		return -ENOENT;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = ag_snapshot_take(st, a->only, &cur);
	if (err) {
		ag_bpf_err(err, "reading counters");
		goto out;
	}
	/* Watched JSON is one object per line from the first, for line-based readers. */
	emit(&cur, NULL, a->json, interval != 0);
	while (interval && !stop) {
		struct ag_snapshot tmp;

		sleep(interval);
		if (stop)
			break;
		tmp = prev;
		prev = cur;
		cur = tmp;
		err = ag_snapshot_take(st, a->only, &cur);
		if (err) {
			ag_bpf_err(err, "reading counters");
			break;
		}
		emit(&cur, &prev, a->json, true);
	}
out:
	free(cur.ifs);
	free(prev.ifs);
	return err;
}

const struct ag_cmd cmd_stats = {
	.name = "stats",
	.summary = "counters per interface, vector and reason",
	.help = "  Packets and bytes per interface x vector x reason, since attach.\n",
	.opts = stats_opts,
	.args = stats_positional,
	.size = sizeof(struct stats_args),
	.state = CMD_READ,
	.run = do_stats,
};
