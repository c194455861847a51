// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rate limits from userspace: parsing budgets in human units, deriving
 * the GCRA parameters the datapath uses, freeing per-source state, and
 * the `top` verb over the per-source table.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "ampguard.h"

#define NS_PER_S 1000000000ULL

/* "20000", "20k", "1.5M", "50M", "1G": whole units after scaling. */
int ag_parse_rate(const char *s, unsigned long long max, unsigned long long *out)
{
	double v, mult = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mult = 1e3;
	else if (*end == 'M')
		mult = 1e6;
	else if (*end == 'G')
		mult = 1e9;
	else if (*end)
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	v *= mult;
	if (v > (double)max || v != floor(v))
		return -ERANGE;
	*out = (unsigned long long)v;
	return 0;
}

/*
 * Sets a budget and derives its GCRA parameters. Packets: one packet costs
 * 1/rate s, and burst packets fit at once. Bits: a byte costs 8/rate s,
 * and burst bits fit at once (to within one packet).
 */
void ag_rate_set(struct ag_rate *r, unsigned long long rate, unsigned long long burst, bool bits)
{
	unsigned __int128 inc, tol;

	memset(r, 0, sizeof(*r));
	if (!rate)
		return;
	if (!burst)
		burst = ag_rate_default_burst(rate, bits);
	r->rate = rate;
	r->burst = burst;
	if (bits) {
		inc = ((unsigned __int128)8 * NS_PER_S << AG_RATE_SHIFT) / rate;
		tol = (inc * (burst / 8)) >> AG_RATE_SHIFT;
	} else {
		inc = ((unsigned __int128)NS_PER_S << AG_RATE_SHIFT) / rate;
		tol = (inc * (burst - 1)) >> AG_RATE_SHIFT;
	}
	r->inc_fp = inc ? inc : 1;
	r->tol_ns = tol > (1ULL << 62) ? (1ULL << 62) : (__u64)tol;
}

/* Applies one rate/burst option pair to a budget; -EINVAL for a burst without a rate. */
int ag_rate_update(struct ag_rate *r, long long rate, long long burst, bool bits,
		   const char *burst_opt)
{
	unsigned long long new_rate = rate >= 0 ? (unsigned long long)rate : r->rate;
	unsigned long long new_burst;

	if (rate < 0 && burst < 0)
		return 0;
	/* A new rate without a burst gets the default burst for that rate. */
	new_burst = burst >= 0 ? (unsigned long long)burst : rate >= 0 ? 0 : r->burst;
	if (!new_rate && burst > 0) {
		ag_err("--%s needs a rate for the same budget", burst_opt);
		return -EINVAL;
	}
	if (new_rate && burst == 0) {
		ag_err("--%s must be at least 1", burst_opt);
		return -EINVAL;
	}
	ag_rate_set(r, new_rate, new_burst, bits);
	return 0;
}

/* A tenth of a second's worth, at least one full-size packet. */
unsigned long long ag_rate_default_burst(unsigned long long rate, bool bits)
{
	unsigned long long b = rate / 10;

	if (bits)
		return b < 1500 * 8 ? 1500 * 8 : b;
	return b ? b : 1;
}

bool ag_policy_src_active(const struct ag_policy *p)
{
	return p->in_use && p->action == AG_ACT_RATELIMIT && (p->src_pps.rate || p->src_bps.rate);
}

static const char *const src_full_names[AG_SRC_FULL__MAX] = {
	[AG_SRC_FULL_EVICT] = "evict",
	[AG_SRC_FULL_AGGREGATE] = "aggregate",
	[AG_SRC_FULL_DROP] = "drop",
};

const char *ag_src_full_name(unsigned int v)
{
	return v < AG_SRC_FULL__MAX ? src_full_names[v] : "unknown";
}

int ag_src_full_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < AG_SRC_FULL__MAX; i++)
		if (!strcmp(s, src_full_names[i]))
			return i;
	return -1;
}

/* The whole per-source table; NULL with errno set on failure. */
struct ag_src_entry *ag_src_read(int rl_src_fd)
{
	struct ag_src_entry *all = calloc(AG_SRC_ENTRIES, sizeof(*all));
	int err;

	if (!all)
		return NULL;
	err = ag_array_read(rl_src_fd, AG_SRC_ENTRIES, all, sizeof(*all));
	if (err) {
		free(all);
		errno = -err;
		return NULL;
	}
	return all;
}

/*
 * Slots held in the per-source table. Reading the table costs a few tens of
 * milliseconds, so it is skipped when no vector limits per source: their
 * state is freed when they stop.
 */
int ag_src_held(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS],
		unsigned long *held)
{
	struct ag_src_entry *all;
	unsigned int slot;
	bool any = false;

	*held = 0;
	for (slot = 1; slot < AG_MAX_VECTORS; slot++)
		any |= ag_policy_src_active(&tbl[slot]);
	if (!any)
		return 0;
	all = ag_src_read(st->rl_src_fd);
	if (!all)
		return -errno;
	*held = ag_src_in_use(all);
	free(all);
	return 0;
}

unsigned long ag_src_in_use(const struct ag_src_entry *all)
{
	unsigned long n = 0;
	__u32 i;

	for (i = 0; i < AG_SRC_ENTRIES; i++)
		n += all[i].vec != 0;
	return n;
}

/* Empties a vector's per-source slots. */
int ag_src_free(const struct ag_state *st, unsigned int slot)
{
	struct ag_src_entry *all = ag_src_read(st->rl_src_fd), empty = { 0 };
	__u32 i;
	int err = 0;

	if (!all)
		return -errno;
	for (i = 0; i < AG_SRC_ENTRIES && !err; i++)
		if (all[i].vec == slot && bpf_map_update_elem(st->rl_src_fd, &i, &empty, 0))
			err = -errno;
	free(all);
	return err;
}

static int fmt_budget(char *buf, size_t len, const char *label, const struct ag_rate *r,
		      const char *unit, const char *burst_unit)
{
	char rate[24], burst[24];

	if (!r->rate)
		return 0;
	ag_fmt_rate(rate, sizeof(rate), r->rate, unit);
	ag_fmt_rate(burst, sizeof(burst), r->burst, burst_unit);
	return snprintf(buf, len, "%s%s (burst %s)", label, rate, burst);
}

/* "20.00 kpps (burst 40.00 k), per source 200 pps (burst 20)", or "" with no budget. */
void ag_fmt_limits(const struct ag_policy *p, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	o += fmt_budget(buf + o, len - o, "", &p->agg_pps, "pps", "pkts");
	if (o && p->agg_bps.rate && o < len)
		o += snprintf(buf + o, len - o, ", ");
	if (o < len)
		o += fmt_budget(buf + o, len - o, "", &p->agg_bps, "bit/s", "bit");
	if (o && (p->src_pps.rate || p->src_bps.rate) && o < len)
		o += snprintf(buf + o, len - o, ", ");
	if (o < len)
		o += fmt_budget(buf + o, len - o, "per source ", &p->src_pps, "pps", "pkts");
	if (p->src_pps.rate && p->src_bps.rate && o < len)
		o += snprintf(buf + o, len - o, ", ");
	if (o < len)
		o += fmt_budget(buf + o, len - o, "per source ", &p->src_bps, "bit/s", "bit");
	if ((p->src_pps.rate || p->src_bps.rate) && o < len)
		snprintf(buf + o, len - o, ", table full: %s", ag_src_full_name(p->src_full));
}

/* A changed budget starts from a full burst instead of the old arrival time. */
int ag_rl_reset(const struct ag_state *st, unsigned int slot)
{
	struct ag_rl_agg zero = { 0 };
	__u32 key = slot;

	return bpf_map_update_elem(st->rl_agg_fd, &key, &zero, 0) ? -errno : 0;
}

/* ---- top ------------------------------------------------------------ */

struct src_row {
	struct ag_src_entry e;
	double admitted_pps;
	double dropped_pps;
};

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
		same = b->vec == e->vec && !memcmp(b->addr, e->addr, 16) &&
		       b->admitted <= e->admitted && b->dropped <= e->dropped;
		r = &rows[(*n)++];
		r->e = *e;
		r->admitted_pps = (e->admitted - (same ? b->admitted : 0)) / interval;
		r->dropped_pps = (e->dropped - (same ? b->dropped : 0)) / interval;
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

static void addr_str(const __u8 *a, char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
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

		addr_str(r->e.addr, src, sizeof(src));
		ag_vector_name(&tbl[r->e.vec % AG_MAX_VECTORS], r->e.vec, vec, sizeof(vec));
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "source", json_object_new_string(src));
			json_object_object_add(o, "vector", json_object_new_string(vec));
			json_object_object_add(o, "dropped", json_object_new_uint64(r->e.dropped));
			json_object_object_add(o, "admitted", json_object_new_uint64(r->e.admitted));
			json_object_object_add(o, "dropped_pps", json_object_new_double(r->dropped_pps));
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

static void usage_top(FILE *f)
{
	fprintf(f, "usage: ampguard top [VECTOR] [-n N] [--interval SECONDS] [--json]\n"
		   "  The sources with the most dropped and the most admitted packets, with their\n"
		   "  rates over the interval (default 1 s). Sources are tracked for vectors under\n"
		   "  'ratelimit' with a per-source budget.\n");
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_src_entry *before = NULL, *now = NULL;
	struct src_row *rows = NULL;
	unsigned long limit = 10, interval = 1;
	json_object *root = NULL, *bd = NULL, *ba = NULL;
	struct ag_state st;
	int c, vec = -1, port, err;
	unsigned int n;
	bool json = false;

	while ((c = getopt_long(argc, argv, "jn:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'n':
			if (ag_parse_uint(optarg, 100000, &limit) || !limit) {
				ag_err("-n takes a count from 1 to 100000, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 'i':
			if (ag_parse_uint(optarg, 3600, &interval) || !interval) {
				ag_err("--interval takes whole seconds from 1 to 3600, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage_top(stdout);
			return 0;
		default:
			usage_top(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind > 1) {
		usage_top(stderr);
		return -EINVAL;
	}
	err = ag_state_open(&st, AG_LOCK_NONE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	if (err) {
		ag_bpf_err(err, "reading policy");
		goto out;
	}
	if (optind < argc) {
		vec = ag_policy_find(tbl, argv[optind], &port);
		if (vec < 0) {
			ag_err("unknown vector '%s': see 'ampguard status'", argv[optind]);
			err = -EINVAL;
			goto out;
		}
	}

	before = ag_src_read(st.rl_src_fd);
	if (before) {
		sleep(interval);
		now = ag_src_read(st.rl_src_fd);
	}
	rows = now ? src_rows(before, now, vec, interval, &n) : NULL;
	if (!rows) {
		err = ag_bpf_err(errno, "reading the per-source table");
		goto out;
	}
	if (json) {
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
	if (json) {
		json_object_object_add(root, "by_dropped", bd);
		json_object_object_add(root, "by_admitted", ba);
		ag_json_print(root, true);
	}
out:
	free(rows);
	free(before);
	free(now);
	ag_state_close(&st);
	return err;
}
