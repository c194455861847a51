// SPDX-License-Identifier: GPL-2.0-only
/*
 * `set` and `unset`: one vector's policy, changed live. The request is
 * checked whole (names, numbers, a ratelimit's budget) before the state is
 * touched, and lands in one commit: packets see the old policy or the new.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

enum budget {
	B_PPS,
	B_PPS_BURST,
	B_BPS,
	B_BPS_BURST,
	B_SRC_PPS,
	B_SRC_PPS_BURST,
	B_SRC_BPS,
	B_SRC_BPS_BURST,
	B__MAX,
};

struct set_args {
	const char *spec;
	int action;               /* -1: unchanged */
	long timeout_ms;          /* -1: unchanged */
	int src_full;             /* -1: unchanged */
	long long budget[B__MAX]; /* -1: unchanged */
};

#define BUDGET(n, b, bits, h)                                                                  \
	{                                                                                      \
		.name = n, .type = OPT_RATE, .off = offsetof(struct set_args, budget[b]),      \
		.metavar = "N", .max = (bits) ? AG_MAX_BITS_RATE : AG_MAX_PKTS_RATE, .help = h \
	}

static const struct ag_opt set_opts[] = {
	{ .name = "track-timeout",
	  .letter = 't',
	  .type = OPT_DURATION,
	  .off = offsetof(struct set_args, timeout_ms),
	  .metavar = "D",
	  .help = "how long after a request its replies count as solicited:\n"
		  "500ms, 5s, 2m (at most 1 hour), or off" },
	BUDGET("pps", B_PPS, false, "aggregate budget in packets/s"),
	BUDGET("burst", B_PPS_BURST, false, "its burst in packets"),
	BUDGET("bps", B_BPS, true, "aggregate budget in bits/s"),
	BUDGET("bps-burst", B_BPS_BURST, true, "its burst in bits"),
	BUDGET("per-source-pps", B_SRC_PPS, false, "budget of each source address in packets/s"),
	BUDGET("per-source-burst", B_SRC_PPS_BURST, false, "its burst in packets"),
	BUDGET("per-source-bps", B_SRC_BPS, true, "budget of each source address in bits/s"),
	BUDGET("per-source-bps-burst", B_SRC_BPS_BURST, true, "its burst in bits"),
	{ .name = "source-table-full",
	  .type = OPT_ENUM,
	  .off = offsetof(struct set_args, src_full),
	  .metavar = "P",
	  .parse = ag_src_full_parse,
	  .values = "evict, aggregate or drop",
	  .help = "a new source when the per-source table is full:\n"
		  "evict (default) | aggregate | drop" },
	AG_OPT_END,
};

static const struct ag_opt set_positional[] = {
	{ .name = "VECTOR|PORT",
	  .type = OPT_STRING,
	  .off = offsetof(struct set_args, spec),
	  .help = "a name from 'ampguard vectors', or any UDP source port 1-65535" },
	{ .name = "ACTION",
	  .type = OPT_ENUM,
	  .off = offsetof(struct set_args, action),
	  .parse = ag_action_parse,
	  .optional = true,
	  .bad = "unknown action '%s': use pass, monitor, drop or ratelimit",
	  .help = "pass | monitor (count as would-drop, pass) | drop |\n"
		  "ratelimit (admit up to the budgets, drop the excess)" },
	AG_OPT_END,
};

static const struct ag_opt unset_positional[] = {
	{ .name = "VECTOR|PORT", .type = OPT_STRING, .off = offsetof(struct set_args, spec) },
	AG_OPT_END,
};

static int alloc_slot(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	int slot = ag_policy_alloc(st, tbl, port);

	if (slot != -ENOSPC)
		return slot;
	ag_err("no free vector slot for port %d (%u custom ports at most): free one with 'ampguard unset PORT'",
	       port, AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT);
	return -ENOSPC;
}

static int bad_vector(const char *spec)
{
	ag_err("unknown vector '%s': use a name from 'ampguard vectors' or a port number 1-65535",
	       spec);
	return -EINVAL;
}

static bool changes_something(const struct set_args *a)
{
	unsigned int b;

	if (a->action >= 0 || a->timeout_ms >= 0 || a->src_full >= 0)
		return true;
	for (b = 0; b < B__MAX; b++)
		if (a->budget[b] >= 0)
			return true;
	return false;
}

/* Validate before touching state, so a typo needs no root. */
static int check_spec(const char *spec)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	int port = 0;

	ag_policy_defaults(tbl);
	if (ag_policy_find(tbl, spec, &port) == -EINVAL)
		return bad_vector(spec);
	return 0;
}

static int check_set(void *p)
{
	struct set_args *a = p;

	if (!changes_something(a))
		return AG_CMD_USAGE;
	return check_spec(a->spec);
}

static int check_unset(void *p)
{
	return check_spec(((struct set_args *)p)->spec);
}

static int apply_set(struct ag_policy *p, const struct set_args *req)
{
	const long long *b = req->budget;
	int err;

	if (req->action >= 0)
		p->action = req->action;
	if (req->timeout_ms >= 0)
		p->track_timeout_ms = req->timeout_ms;
	if (req->src_full >= 0)
		p->src_full = req->src_full;
	err = ag_rate_update(&p->agg_pps, b[B_PPS], b[B_PPS_BURST], false, "burst");
	err = err ?: ag_rate_update(&p->agg_bps, b[B_BPS], b[B_BPS_BURST], true, "bps-burst");
	err = err   ?:
		      ag_rate_update(&p->src_pps, b[B_SRC_PPS], b[B_SRC_PPS_BURST], false,
				     "per-source-burst");
	err = err   ?:
		      ag_rate_update(&p->src_bps, b[B_SRC_BPS], b[B_SRC_BPS_BURST], true,
				     "per-source-bps-burst");
	if (err)
		return err;
	if (p->action == AG_ACT_RATELIMIT && !ag_policy_has_budget(p)) {
		ag_err("ratelimit needs a budget: give --pps, --bps, --per-source-pps or --per-source-bps");
		return -EINVAL;
	}
	return 0;
}

static void print_vector(const struct ag_policy *p, unsigned int slot)
{
	char name[32], timeout[16], limits[256];

	ag_vector_name(p, slot, name, sizeof(name));
	ag_fmt_duration(timeout, sizeof(timeout), p->track_timeout_ms);
	limits[0] = '\0';
	if (p->action == AG_ACT_RATELIMIT)
		ag_fmt_limits(p, limits, sizeof(limits));
	printf("%s (udp source port %u): %s%s%s, tracking timeout %s\n", name, p->port,
	       ag_action_name(p->action), *limits ? " " : "", limits, timeout);
}

static int do_set(struct ag_state *st, void *p)
{
	struct ag_policy tbl[AG_MAX_VECTORS], old;
	struct set_args *req = p;
	int slot, port = 0, err;

	err = ag_policy_read(st->config_fd, st->policy_fd, tbl);
	if (err)
		return ag_bpf_err(err, "reading policy");
	slot = ag_policy_find(tbl, req->spec, &port);
	if (slot == -ENOENT)
		slot = alloc_slot(st, tbl, port);
	if (slot < 0)
		return slot;
	old = tbl[slot];
	err = apply_set(&tbl[slot], req);
	if (err)
		return err;
	err = ag_policy_commit(st, tbl);
	err = err ?: ag_policy_settle(st, &old, &tbl[slot], slot);
	if (err)
		return ag_bpf_err(err, "writing policy");
	print_vector(&tbl[slot], slot);
	return 0;
}

static int do_unset(struct ag_state *st, void *p)
{
	struct ag_policy tbl[AG_MAX_VECTORS], defaults[AG_MAX_VECTORS], old;
	const char *spec = ((struct set_args *)p)->spec;
	int slot, port = 0, err;
	char name[32];

	ag_policy_defaults(defaults);
	err = ag_policy_read(st->config_fd, st->policy_fd, tbl);
	if (err)
		return ag_bpf_err(err, "reading policy");
	slot = ag_policy_find(tbl, spec, &port);
	if (slot < 0) {
		ag_err("port %d has no policy: nothing to unset", port);
		return -ENOENT;
	}
	ag_vector_name(&tbl[slot], slot, name, sizeof(name));
	old = tbl[slot];
	tbl[slot] = defaults[slot];
	/* A freed slot keeps its port, so its earlier counts keep their name. */
	if (!tbl[slot].in_use)
		tbl[slot].port = old.port;
	err = ag_policy_commit(st, tbl);
	err = err ?: ag_policy_settle(st, &old, &tbl[slot], slot);
	if (err)
		return ag_bpf_err(err, "writing policy");
	if (tbl[slot].in_use)
		printf("%s: back to default %s\n", name, ag_action_name(tbl[slot].action));
	else
		printf("%s: removed\n", name);
	return 0;
}

const struct ag_cmd cmd_set = {
	.name = "set",
	.summary = "set a vector's or port's action, live",
	.help = "  Sets what happens to unsolicited UDP from a vector's source port; takes effect on\n"
		"  the next packet, counters are kept. Numbers take k, M, G (x1000); a rate of 0\n"
		"  removes that budget; a burst defaults to a tenth of a second's worth.\n",
	.opts = set_opts,
	.args = set_positional,
	.size = sizeof(struct set_args),
	.state = CMD_WRITE,
	.check = check_set,
	.run = do_set,
};

const struct ag_cmd cmd_unset = {
	.name = "unset",
	.summary = "return a vector to its default, or drop a port's policy",
	.help = "  Returns a built-in vector to its default action; removes a custom port's policy.\n",
	.args = unset_positional,
	.size = sizeof(struct set_args),
	.state = CMD_WRITE,
	.check = check_unset,
	.run = do_unset,
};
