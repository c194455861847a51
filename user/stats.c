// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counters: summing the per-CPU stats maps, and the `stats` verb with its
 * table, JSON and --watch views.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "ampguard.h"

/* Sums the per-CPU counters. */
int ag_stats_read(int stats_fd, struct ag_counter out[AG_NR_STATS])
{
	int ncpu = libbpf_num_possible_cpus();
	struct ag_counter *percpu;
	__u32 idx;
	int cpu, err;

	if (ncpu <= 0)
		return ncpu ?: -EINVAL;
	percpu = calloc((size_t)ncpu * AG_NR_STATS, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	err = ag_array_read(stats_fd, AG_NR_STATS, percpu, ncpu * sizeof(*percpu));
	for (idx = 0; !err && idx < AG_NR_STATS; idx++) {
		const struct ag_counter *row = &percpu[(size_t)idx * ncpu];

		out[idx] = (struct ag_counter){ 0 };
		for (cpu = 0; cpu < ncpu; cpu++) {
			out[idx].packets += row[cpu].packets;
			out[idx].bytes += row[cpu].bytes;
		}
	}
	free(percpu);
	return err;
}

int ag_stats_zero_slot(int stats_fd, unsigned int slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct ag_counter *zero;
	__u32 reason, idx;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ?: -EINVAL;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (reason = 0; reason < AG_REASON__MAX && !err; reason++) {
		idx = AG_STATS_IDX(slot, reason);
		if (bpf_map_update_elem(stats_fd, &idx, zero, 0))
			err = -errno;
	}
	free(zero);
	return err;
}

struct collect_arg {
	const struct ag_state *st;
	const char *only;
	struct ag_snapshot *snap;
};

static bool iface_has_link(const struct ag_state *st, const char *ifname)
{
	char path[PATH_MAX];

	return !ag_iface_pin(st, ifname, "link", path, sizeof(path)) && access(path, F_OK) == 0;
}

static int collect_iface(const char *ifname, void *arg)
{
	struct collect_arg *a = arg;
	struct ag_iface_counters *ifc, *grown;
	char path[PATH_MAX];
	int fd, err;

	if (a->only && strcmp(a->only, ifname))
		return 0;
	if (ag_iface_pin(a->st, ifname, "stats", path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0 && iface_has_link(a->st, ifname))
		ag_warn("%s: its counters' pin is missing: any change, such as 'ampguard attach %s', restores it",
			ifname, ifname);
	if (fd < 0)
		return 0; /* detached while we looked */
	grown = realloc(a->snap->ifs, (a->snap->n + 1) * sizeof(*grown));
	if (!grown) {
		close(fd);
		return -ENOMEM;
	}
	a->snap->ifs = grown;
	ifc = &grown[a->snap->n];
	snprintf(ifc->name, sizeof(ifc->name), "%s", ifname);
	err = ag_stats_read(fd, ifc->c);
	close(fd);
	if (!err)
		a->snap->n++;
	return err;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Counters of every protected interface (or only one) and the active policy. */
int ag_snapshot_take(const struct ag_state *st, const char *only, struct ag_snapshot *snap)
{
	struct collect_arg arg = { .st = st, .only = only, .snap = snap };
	int err;

	snap->n = 0;
	err = ag_policy_read(st->config_fd, st->policy_fd, snap->tbl);
	err = err ?: ag_for_each_iface(st, collect_iface, &arg);
	snap->when = now_mono();
	return err;
}

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

				ag_fmt_rate(pps, sizeof(pps), (c->packets - pc->packets) / dt, "pps");
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

static void usage_stats(FILE *f)
{
	fprintf(f, "usage: ampguard stats [IFACE] [--json] [--watch SECONDS]\n"
		   "  Packets and bytes per interface x vector x reason, since attach.\n"
		   "  --json           machine-readable output (schema in README)\n"
		   "  --watch SECONDS  redraw every SECONDS with rates; with --json, one object per line\n");
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

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct ag_snapshot cur = { 0 }, prev = { 0 };
	unsigned long interval = 0;
	const char *only = NULL;
	struct ag_state st;
	bool json = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "jw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			if (ag_parse_uint(optarg, 86400, &interval) || !interval) {
				ag_err("--watch takes a whole number of seconds from 1 to 86400, not '%s'",
				       optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage_stats(stdout);
			return 0;
		default:
			usage_stats(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind > 1) {
		usage_stats(stderr);
		return -EINVAL;
	}
	if (optind < argc)
		only = argv[optind];

	err = ag_state_open(&st, AG_LOCK_NONE);
	if (err)
		return err;
	if (only && !iface_known(&st, only)) {
		ag_err("%s is not protected by ampguard: see 'ampguard status'", only);
		err = -ENOENT;
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = ag_snapshot_take(&st, only, &cur);
	if (err) {
		ag_bpf_err(err, "reading counters");
		goto out;
	}
	/* Watched JSON is one object per line from the first, for line-based readers. */
	emit(&cur, NULL, json, interval != 0);
	while (interval && !stop) {
		struct ag_snapshot tmp;

		sleep(interval);
		if (stop)
			break;
		tmp = prev;
		prev = cur;
		cur = tmp;
		err = ag_snapshot_take(&st, only, &cur);
		if (err) {
			ag_bpf_err(err, "reading counters");
			break;
		}
		emit(&cur, &prev, json, true);
	}
out:
	free(cur.ifs);
	free(prev.ifs);
	ag_state_close(&st);
	return err;
}
