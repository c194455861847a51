// SPDX-License-Identifier: GPL-2.0-only
/*
 * `top`: the sources with the most dropped and admitted packets, from two
 * reads of the per-source table an interval apart. Rates are the
 * difference over that interval; a source evicted in between is not shown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cmd.h"

struct src_row {
	struct ag_src_entry e;
	double admitted_pps;
	double dropped_pps;
};

/* Growth of a count over the interval; a read may miss drops a CPU was adding to the slot. */
static __u64 grew(__u64 now, __u64 then, bool same)
{
	if (!same)
		return now;
	return now > then ? now - then : 0;
}

/* Held slots of now (of one vector, or all when vec < 0), with rates against before. */
static struct src_row *src_rows(const struct ag_src_entry *before, const struct ag_src_entry *now,
				int vec, double interval, unsigned int *n)
{
	struct src_row *rows = calloc(AG_SRC_ENTRIES, sizeof(*rows));
	__u32 i;

	*n = 0;
	for (i = 0; rows && i < AG_SRC_ENTRIES; i++) {
		const struct ag_src_entry *e = &now[i], *b = &before[i];
		struct src_row *r;
		bool same;

		if (!e->vec || (vec >= 0 && e->vec != (__u32)vec))
			continue;
		/* The slot may have changed hands between the samples. */
		same = b->claims == e->claims && b->vec == e->vec && !memcmp(b->addr, e->addr, 16);
		r = &rows[(*n)++];
		r->e = *e;
		r->admitted_pps = grew(e->admitted, b->admitted, same) / interval;
		r->dropped_pps = grew(e->dropped, b->dropped, same) / interval;
	}
	return rows;
}

static int by_dropped(const void *a, const void *b)
{
	const struct src_row *x = a, *y = b;

	if (x->e.dropped != y->e.dropped)
		return x->e.dropped < y->e.dropped ? 1 : -1;
	return x->e.admitted < y->e.admitted ? 1 : x->e.admitted > y->e.admitted ? -1 : 0;
}

static int by_admitted(const void *a, const void *b)
{
	const struct src_row *x = a, *y = b;

	if (x->e.admitted != y->e.admitted)
		return x->e.admitted < y->e.admitted ? 1 : -1;
	return x->e.dropped < y->e.dropped ? 1 : x->e.dropped > y->e.dropped ? -1 : 0;
}

static void print_rows(const char *title, struct src_row *rows, unsigned int n, unsigned int limit,
		       const struct ag_policy *tbl, json_object *arr)
{
	char src[INET6_ADDRSTRLEN], vec[32], a[24], d[24];
	unsigned int i;

	if (!arr)
		printf("%s\n  %-40s %-14s %14s %14s %12s %12s\n", title, "SOURCE", "VECTOR",
		       "DROPPED", "ADMITTED", "DROP RATE", "ADMIT RATE");
	for (i = 0; i < n && i < limit; i++) {
		const struct src_row *r = &rows[i];

		ag_fmt_src_addr(r->e.addr, src, sizeof(src));
		ag_vector_name(&tbl[r->e.vec % AG_MAX_VECTORS], r->e.vec, vec, sizeof(vec));
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "source", json_object_new_string(src));
			json_object_object_add(o, "vector", json_object_new_string(vec));
			json_object_object_add(o, "dropped", json_object_new_uint64(r->e.dropped));
			json_object_object_add(o, "admitted",
					       json_object_new_uint64(r->e.admitted));
			json_object_object_add(o, "dropped_pps",
					       json_object_new_double(r->dropped_pps));
			json_object_object_add(o, "admitted_pps",
					       json_object_new_double(r->admitted_pps));
			json_object_array_add(arr, o);
			continue;
		}
		ag_fmt_rate(d, sizeof(d), r->dropped_pps, "pps");
		ag_fmt_rate(a, sizeof(a), r->admitted_pps, "pps");
		printf("  %-40s %-14s %14llu %14llu %12s %12s\n", src, vec,
		       (unsigned long long)r->e.dropped, (unsigned long long)r->e.admitted, d, a);
	}
	if (!arr && !n)
		printf("  (no tracked sources)\n");
}

struct top_args {
	const char *vector;
	long limit;
	long interval;
	bool json;
};

static const struct ag_opt top_opts[] = {
	{ .letter = 'n',
	  .type = OPT_UINT,
	  .off = offsetof(struct top_args, limit),
	  .metavar = "N",
	  .min = 1,
	  .max = 100000,
	  .bad = "-n takes a count from 1 to 100000, not '%s'",
	  .help = "rows per list (default 10)" },
	{ .name = "interval",
	  .letter = 'i',
	  .type = OPT_UINT,
	  .off = offsetof(struct top_args, interval),
	  .metavar = "SECONDS",
	  .min = 1,
	  .max = 3600,
	  .bad = "--interval takes whole seconds from 1 to 3600, not '%s'",
	  .help = "rates over this many seconds (default 1)" },
	AG_OPT_JSON(struct top_args, "machine-readable output (schema in README)"),
	AG_OPT_END,
};

static const struct ag_opt top_positional[] = {
	{ .name = "VECTOR",
	  .type = OPT_STRING,
	  .off = offsetof(struct top_args, vector),
	  .optional = true },
	AG_OPT_END,
};

static int do_top(struct ag_state *st, void *p)
{
	const struct top_args *a = p;
	unsigned long limit = a->limit > 0 ? a->limit : 10;
	unsigned long interval = a->interval > 0 ? a->interval : 1;
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_src_entry *before = NULL, *now = NULL;
	struct src_row *rows = NULL;
	json_object *root = NULL, *bd = NULL, *ba = NULL;
	int vec = -1, port, err;
	unsigned int n;

	err = ag_policy_read(st->config_fd, st->policy_fd, tbl);
	if (err)
		return ag_bpf_err(err, "reading policy");
	if (a->vector) {
		vec = ag_policy_find(tbl, a->vector, &port);
		if (vec < 0) {
			ag_err("unknown vector '%s': see 'ampguard status'", a->vector);
			return -EINVAL;
		}
	}

	before = ag_src_read(st);
	if (before) {
		sleep(interval);
		now = ag_src_read(st);
	}
	rows = now ? src_rows(before, now, vec, interval, &n) : NULL;
	if (!rows) {
		err = ag_bpf_err(errno, "reading the per-source table");
		goto out;
	}
	if (a->json) {
		root = json_object_new_object();
		bd = json_object_new_array();
		ba = json_object_new_array();
		json_object_object_add(root, "version", json_object_new_int(AG_JSON_VERSION));
		json_object_object_add(root, "interval_s", json_object_new_int64(interval));
		json_object_object_add(root, "sources", json_object_new_int64(n));
	}
	ag_sort(rows, n, sizeof(*rows), by_dropped);
	print_rows("top sources by dropped packets:", rows, n, limit, tbl, bd);
	ag_sort(rows, n, sizeof(*rows), by_admitted);
	print_rows("top sources by admitted packets:", rows, n, limit, tbl, ba);
	if (a->json) {
		json_object_object_add(root, "by_dropped", bd);
		json_object_object_add(root, "by_admitted", ba);
		ag_json_print(root, true);
	}
out:
	free(rows);
	free(before);
	free(now);
	return err;
}

const struct ag_cmd cmd_top = {
	.name = "top",
	.summary = "sources with the most dropped and admitted packets",
	.help = "  The sources with the most dropped and the most admitted packets, with their\n"
		"  rates over the interval. Sources are tracked for vectors under 'ratelimit'\n"
		"  with a per-source budget.\n",
	.opts = top_opts,
	.args = top_positional,
	.size = sizeof(struct top_args),
	.state = CMD_READ,
	.run = do_top,
};
