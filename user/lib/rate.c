// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rate arithmetic: budgets in human units (20k pps, 50M bit/s) to the
 * GCRA parameters the datapath uses, and back to text. Pure functions:
 * nothing here touches a map.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

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
