// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vector table: reading the active generation, committing a new one
 * (see commit.c), and the `set` / `unset` verbs. A port keeps its slot; the
 * XDP program checks that the slot it found still belongs to the packet's
 * port, so a slot handed to another port never judges the old one.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ampguard.h"

#define MAX_PKTS 1000000000ULL      /* 1 G packets/s */
#define MAX_BITS 10000000000000ULL  /* 10 Tbit/s */

void ag_policy_defaults(struct ag_policy tbl[AG_MAX_VECTORS])
{
	unsigned int i;

	memset(tbl, 0, sizeof(*tbl) * AG_MAX_VECTORS);
	for (i = 0; i < ag_nr_builtins; i++) {
		tbl[i + 1].port = ag_builtins[i].port;
		tbl[i + 1].action = ag_builtins[i].action;
		tbl[i + 1].track_timeout_ms = ag_builtins[i].track_timeout_ms;
		tbl[i + 1].in_use = 1;
	}
}

static int read_config(int config_fd, struct ag_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(config_fd, &zero, cfg) ? -errno : 0;
}

static int read_gen(int policy_fd, __u32 gen, struct ag_policy tbl[AG_MAX_VECTORS])
{
	__u32 slot, key;

	for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
		key = (gen & 1) * AG_MAX_VECTORS + slot;
		if (bpf_map_lookup_elem(policy_fd, &key, &tbl[slot]))
			return -errno;
	}
	return 0;
}

__u32 ag_active_gen(const struct ag_state *st)
{
	struct ag_config cfg = { 0 };

	read_config(st->config_fd, &cfg);
	return cfg.gen & 1;
}

int ag_policy_read(int config_fd, int policy_fd, struct ag_policy tbl[AG_MAX_VECTORS])
{
	struct ag_config cfg;
	int err;

	err = read_config(config_fd, &cfg);
	return err ?: read_gen(policy_fd, cfg.gen, tbl);
}

int ag_policy_commit(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS])
{
	return ag_commit(st, &(struct ag_change){ .tbl = tbl });
}

/*
 * Finds the slot a vector name or port number refers to. Returns the slot,
 * -ENOENT for a valid port without a slot (*port_out set), -EINVAL for
 * anything else.
 */
int ag_policy_find(const struct ag_policy tbl[AG_MAX_VECTORS], const char *spec, int *port_out)
{
	unsigned long port;
	unsigned int slot;
	int builtin;

	builtin = ag_builtin_slot(spec);
	if (builtin > 0)
		return builtin;
	if (!strncmp(spec, "port-", 5))
		spec += 5;
	if (ag_parse_uint(spec, 65535, &port) || port == 0)
		return -EINVAL;
	for (slot = 1; slot < AG_MAX_VECTORS; slot++)
		if (tbl[slot].in_use && tbl[slot].port == port)
			return slot;
	*port_out = port;
	return -ENOENT;
}

static int zero_iface_slot(const char *ifname, void *arg)
{
	const struct { const struct ag_state *st; unsigned int slot; } *a = arg;
	char path[PATH_MAX];
	int fd, err;

	if (ag_iface_pin(a->st, ifname, "stats", path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	err = ag_stats_zero_slot(fd, a->slot);
	close(fd);
	return err;
}

/*
 * A freed slot may still hold counts of the port that had it; they must not
 * show up under the new port's name.
 */
/* The free custom slot best suited to port, or -1. */
static int pick_slot(const struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	unsigned int slot, pass;

	/*
	 * The slot that last held this port keeps its counts; then slots never
	 * used; a slot freed by another port comes last (its counts must go).
	 */
	for (pass = 0; pass < 3; pass++)
		for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++)
			if (!tbl[slot].in_use &&
			    (pass == 2 || tbl[slot].port == (pass == 0 ? port : 0)))
				return slot;
	return -1;
}

/* Gives port a custom slot in tbl (not yet committed); -ENOSPC when none is free. */
int ag_policy_alloc(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	struct { const struct ag_state *st; unsigned int slot; } arg = { st, 0 };
	int slot = pick_slot(tbl, port), err;

	if (slot >= 0) {
		if (tbl[slot].port != port) {
			arg.slot = slot;
			err = ag_for_each_iface(st, zero_iface_slot, &arg);
			if (err)
				return err;
		}
		tbl[slot] = (struct ag_policy){ .port = port, .in_use = 1,
						.track_timeout_ms = AG_DEFAULT_TRACK_MS };
		return slot;
	}
	return -ENOSPC;
}

static int alloc_slot(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	int slot = ag_policy_alloc(st, tbl, port);

	if (slot != -ENOSPC)
		return slot;
	ag_err("no free vector slot for port %d (%u custom ports at most): free one with 'ampguard unset PORT'",
	       port, AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT);
	return -ENOSPC;
}

static void usage_set(FILE *f)
{
	fprintf(f, "usage: ampguard set VECTOR|PORT [ACTION] [OPTIONS]\n"
		   "  Sets what happens to unsolicited UDP from a vector's source port; takes effect on\n"
		   "  the next packet, counters are kept.\n"
		   "  VECTOR  a name from 'ampguard vectors', or any UDP source port 1-65535\n"
		   "  ACTION  pass | monitor (count as would-drop, pass) | drop |\n"
		   "          ratelimit (admit up to the budgets below, drop the excess)\n"
		   "  --track-timeout D         how long after a request its replies count as\n"
		   "                            solicited: 500ms, 5s, 2m (at most 1 hour), or off\n"
		   "  --pps N, --burst N        aggregate budget in packets/s and packets\n"
		   "  --bps N, --bps-burst N    aggregate budget in bits/s and bits\n"
		   "  --per-source-pps N, --per-source-burst N, --per-source-bps N,\n"
		   "  --per-source-bps-burst N  the same for each source address\n"
		   "  --source-table-full P     a new source when the per-source table is full:\n"
		   "                            evict (default) | aggregate | drop\n"
		   "  Numbers take k, M, G (x1000); a rate of 0 removes that budget; a burst defaults\n"
		   "  to a tenth of a second's worth.\n");
}

static void usage_unset(FILE *f)
{
	fprintf(f, "usage: ampguard unset VECTOR|PORT\n"
		   "  Returns a built-in vector to its default action; removes a custom port's policy.\n");
}

static int parse_help(int argc, char **argv, void (*usage)(FILE *))
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, {} };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

enum budget {
	B_PPS, B_PPS_BURST, B_BPS, B_BPS_BURST,
	B_SRC_PPS, B_SRC_PPS_BURST, B_SRC_BPS, B_SRC_BPS_BURST,
	B__MAX,
};

struct set_req {
	const char *spec;
	int action;      /* -1: unchanged */
	long timeout_ms; /* -1: unchanged */
	int src_full;    /* -1: unchanged */
	long long budget[B__MAX]; /* -1: unchanged */
};

static const struct option set_opts[] = {
	{ "track-timeout", required_argument, NULL, 't' },
	{ "source-table-full", required_argument, NULL, 'f' },
	{ "pps", required_argument, NULL, 0x100 + B_PPS },
	{ "burst", required_argument, NULL, 0x100 + B_PPS_BURST },
	{ "bps", required_argument, NULL, 0x100 + B_BPS },
	{ "bps-burst", required_argument, NULL, 0x100 + B_BPS_BURST },
	{ "per-source-pps", required_argument, NULL, 0x100 + B_SRC_PPS },
	{ "per-source-burst", required_argument, NULL, 0x100 + B_SRC_PPS_BURST },
	{ "per-source-bps", required_argument, NULL, 0x100 + B_SRC_BPS },
	{ "per-source-bps-burst", required_argument, NULL, 0x100 + B_SRC_BPS_BURST },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int parse_budget(int c, const char *arg, struct set_req *req)
{
	unsigned int b = c - 0x100;
	bool bits = b == B_BPS || b == B_BPS_BURST || b == B_SRC_BPS || b == B_SRC_BPS_BURST;
	unsigned long long v;
	const char *name = set_opts[b + 2].name;

	if (ag_parse_rate(arg, bits ? MAX_BITS : MAX_PKTS, &v)) {
		ag_err("bad --%s '%s': use a whole number with an optional k, M or G suffix (e.g. 20k, 50M), at most %s",
		       name, arg, bits ? "10T" : "1G");
		return -EINVAL;
	}
	req->budget[b] = v;
	return 0;
}

static bool has_budget(const struct set_req *req)
{
	unsigned int b;

	for (b = 0; b < B__MAX; b++)
		if (req->budget[b] >= 0)
			return true;
	return false;
}

static int parse_set(int argc, char **argv, struct set_req *req)
{
	unsigned long ms;
	unsigned int b;
	int c, nargs;

	req->action = -1;
	req->timeout_ms = -1;
	req->src_full = -1;
	for (b = 0; b < B__MAX; b++)
		req->budget[b] = -1;
	while ((c = getopt_long(argc, argv, "t:h", set_opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (ag_parse_duration_ms(optarg, &ms)) {
				ag_err("bad --track-timeout '%s': use e.g. 500ms, 5s, 2m (at most 1 hour) or off",
				       optarg);
				return -EINVAL;
			}
			req->timeout_ms = ms;
			break;
		case 'f':
			req->src_full = ag_src_full_parse(optarg);
			if (req->src_full < 0) {
				ag_err("bad --source-table-full '%s': use evict, aggregate or drop",
				       optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage_set(stdout);
			return 1;
		default:
			if (c >= 0x100 && c < 0x100 + B__MAX) {
				if (parse_budget(c, optarg, req))
					return -EINVAL;
				break;
			}
			usage_set(stderr);
			return -EINVAL;
		}
	}
	nargs = argc - optind;
	if (nargs < 1 || nargs > 2 ||
	    (nargs == 1 && req->timeout_ms < 0 && req->src_full < 0 && !has_budget(req))) {
		usage_set(stderr);
		return -EINVAL;
	}
	req->spec = argv[optind];
	if (nargs == 2) {
		req->action = ag_action_parse(argv[optind + 1]);
		if (req->action < 0) {
			ag_err("unknown action '%s': use pass, monitor, drop or ratelimit",
			       argv[optind + 1]);
			return -EINVAL;
		}
	}
	return 0;
}

static int apply_set(struct ag_policy *p, const struct set_req *req)
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
	err = err ?: ag_rate_update(&p->src_pps, b[B_SRC_PPS], b[B_SRC_PPS_BURST], false,
				  "per-source-burst");
	err = err ?: ag_rate_update(&p->src_bps, b[B_SRC_BPS], b[B_SRC_BPS_BURST], true,
				  "per-source-bps-burst");
	if (err)
		return err;
	if (p->action == AG_ACT_RATELIMIT && !p->agg_pps.rate && !p->agg_bps.rate &&
	    !p->src_pps.rate && !p->src_bps.rate) {
		ag_err("ratelimit needs a budget: give --pps, --bps, --per-source-pps or --per-source-bps");
		return -EINVAL;
	}
	return 0;
}

static int bad_vector(const char *spec)
{
	ag_err("unknown vector '%s': use a name from 'ampguard vectors' or a port number 1-65535",
	       spec);
	return -EINVAL;
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

/* Per-source state of a vector that no longer limits per source is freed. */
int ag_policy_settle(const struct ag_state *st, const struct ag_policy *old,
		     const struct ag_policy *now, unsigned int slot)
{
	if (ag_policy_src_active(old) && !ag_policy_src_active(now))
		ag_src_free(st, slot);
	if (memcmp(&old->agg_pps, &now->agg_pps, sizeof(old->agg_pps)) ||
	    memcmp(&old->agg_bps, &now->agg_bps, sizeof(old->agg_bps)))
		return ag_rl_reset(st, slot);
	return 0;
}

int cmd_set(int argc, char **argv)
{
	struct ag_policy tbl[AG_MAX_VECTORS], old;
	struct set_req req;
	struct ag_state st;
	int slot, port = 0, err;

	err = parse_set(argc, argv, &req);
	if (err)
		return err < 0 ? err : 0;
	/* Validate before touching state, so a typo needs no root. */
	ag_policy_defaults(tbl);
	if (ag_policy_find(tbl, req.spec, &port) == -EINVAL)
		return bad_vector(req.spec);

	err = ag_state_open(&st, AG_LOCK_WRITE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	if (err) {
		ag_bpf_err(err, "reading policy");
		goto out;
	}
	slot = ag_policy_find(tbl, req.spec, &port);
	if (slot == -ENOENT)
		slot = alloc_slot(&st, tbl, port);
	if (slot < 0) {
		err = slot;
		goto out;
	}
	old = tbl[slot];
	err = apply_set(&tbl[slot], &req);
	if (err)
		goto out;
	err = ag_policy_commit(&st, tbl);
	err = err ?: ag_policy_settle(&st, &old, &tbl[slot], slot);
	if (err) {
		ag_bpf_err(err, "writing policy");
		goto out;
	}
	print_vector(&tbl[slot], slot);
out:
	ag_state_close(&st);
	return err;
}

int cmd_unset(int argc, char **argv)
{
	struct ag_policy tbl[AG_MAX_VECTORS], defaults[AG_MAX_VECTORS], old;
	struct ag_state st;
	const char *spec;
	int slot, port = 0, err;
	char name[32];

	err = parse_help(argc, argv, usage_unset);
	if (err)
		return err < 0 ? err : 0;
	if (argc - optind != 1) {
		usage_unset(stderr);
		return -EINVAL;
	}
	spec = argv[optind];
	ag_policy_defaults(defaults);
	if (ag_policy_find(defaults, spec, &port) == -EINVAL)
		return bad_vector(spec);

	err = ag_state_open(&st, AG_LOCK_WRITE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	if (err) {
		ag_bpf_err(err, "reading policy");
		goto out;
	}
	slot = ag_policy_find(tbl, spec, &port);
	if (slot < 0) {
		ag_err("port %d has no policy: nothing to unset", port);
		err = -ENOENT;
		goto out;
	}
	ag_vector_name(&tbl[slot], slot, name, sizeof(name));
	old = tbl[slot];
	tbl[slot] = defaults[slot];
	/* A freed slot keeps its port, so its earlier counts keep their name. */
	if (!tbl[slot].in_use)
		tbl[slot].port = old.port;
	err = ag_policy_commit(&st, tbl);
	err = err ?: ag_policy_settle(&st, &old, &tbl[slot], slot);
	if (err) {
		ag_bpf_err(err, "writing policy");
		goto out;
	}
	if (tbl[slot].in_use)
		printf("%s: back to default %s\n", name, ag_action_name(tbl[slot].action));
	else
		printf("%s: removed\n", name);
out:
	ag_state_close(&st);
	return err;
}
