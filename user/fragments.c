// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `fragments` verb: the per-interface policy for orphan fragments,
 * later fragments whose first fragment was never seen.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "ampguard.h"

static const char *const orphan_names[AG_ORPHAN__MAX] = {
	[AG_ORPHAN_PASS] = "pass",
	[AG_ORPHAN_RATELIMIT] = "ratelimit",
	[AG_ORPHAN_DROP] = "drop",
};

const char *ag_orphan_name(unsigned int v)
{
	return v < AG_ORPHAN__MAX ? orphan_names[v] : "unknown";
}

static int orphan_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < AG_ORPHAN__MAX; i++)
		if (!strcmp(s, orphan_names[i]))
			return i;
	return -1;
}

/*
 * Orphans are rare in honest traffic (a reordered or lost first fragment)
 * and the whole of a fragment flood: a small budget keeps the former and
 * caps the latter.
 */
void ag_orphan_defaults(struct ag_orphan_cfg *o)
{
	o->mode = AG_ORPHAN_RATELIMIT;
	ag_rate_set(&o->pps, AG_ORPHAN_DEFAULT_PPS, 0, false);
}

struct frag_req {
	int orphan;          /* -1: unchanged */
	long long pps;       /* -1: unchanged */
	long long burst;
	bool json;
	json_object *arr;
	const struct ag_state *st;
	bool write;
};

static int show_or_set(const char *ifname, void *arg)
{
	struct frag_req *r = arg;
	struct ag_orphan_op op = { .ifname = ifname };
	struct ag_ifinfo info;
	char rate[32] = "";
	__u32 gen = ag_active_gen(r->st);
	int err;

	err = ag_iface_info(r->st, ifname, &info);
	if (err)
		return err == -ENOENT ? 0 : err;
	op.cfg = info.orphan[gen];
	if (r->write) {
		if (r->orphan >= 0)
			op.cfg.mode = r->orphan;
		err = ag_rate_update(&op.cfg.pps, r->pps, r->burst, false, "burst");
		if (err)
			return err;
		if (op.cfg.mode == AG_ORPHAN_RATELIMIT && !op.cfg.pps.rate)
			ag_rate_set(&op.cfg.pps, AG_ORPHAN_DEFAULT_PPS, 0, false);
		err = ag_commit(r->st, &(struct ag_change){ .orphans = &op, .nr_orphans = 1 });
		if (err)
			return err;
	}
	if (op.cfg.mode == AG_ORPHAN_RATELIMIT)
		snprintf(rate, sizeof(rate), " %llu pps (burst %llu)",
			 (unsigned long long)op.cfg.pps.rate, (unsigned long long)op.cfg.pps.burst);
	if (r->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "interface", json_object_new_string(ifname));
		json_object_object_add(o, "orphans", json_object_new_string(ag_orphan_name(op.cfg.mode)));
		json_object_object_add(o, "pps", json_object_new_uint64(op.cfg.pps.rate));
		json_object_object_add(o, "burst", json_object_new_uint64(op.cfg.pps.burst));
		json_object_array_add(r->arr, o);
	} else {
		printf("%s: orphan fragments %s%s\n", ifname, ag_orphan_name(op.cfg.mode), rate);
	}
	return 0;
}

static void usage_fragments(FILE *f)
{
	fprintf(f, "usage: ampguard fragments [IFACE] [--orphans pass|ratelimit|drop] [--pps N] [--burst N] [--json]\n"
		   "  Later fragments follow the verdict of their datagram's first fragment. Orphans,\n"
		   "  whose first fragment was not seen, get this per-interface policy (default:\n"
		   "  ratelimit %d pps). Without options, shows it.\n",
		AG_ORPHAN_DEFAULT_PPS);
}

int cmd_fragments(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "orphans", required_argument, NULL, 'o' },
		{ "pps", required_argument, NULL, 'p' },
		{ "burst", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct frag_req r = { .orphan = -1, .pps = -1, .burst = -1 };
	const char *ifname = NULL;
	unsigned long long v;
	char path[PATH_MAX];
	struct ag_state st;
	int c, err;

	while ((c = getopt_long(argc, argv, "o:p:b:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			r.orphan = orphan_parse(optarg);
			if (r.orphan < 0) {
				ag_err("bad --orphans '%s': use pass, ratelimit or drop", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
		case 'b':
			if (ag_parse_rate(optarg, 1000000000ULL, &v) || !v) {
				ag_err("bad --%s '%s': use a whole number from 1 to 1G (k, M, G allowed)",
				       c == 'p' ? "pps" : "burst", optarg);
				return -EINVAL;
			}
			*(c == 'p' ? &r.pps : &r.burst) = v;
			break;
		case 'j':
			r.json = true;
			break;
		case 'h':
			usage_fragments(stdout);
			return 0;
		default:
			usage_fragments(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind > 1) {
		usage_fragments(stderr);
		return -EINVAL;
	}
	if (optind < argc)
		ifname = argv[optind];
	r.write = r.orphan >= 0 || r.pps >= 0 || r.burst >= 0;
	if (r.write && !ifname) {
		ag_err("name the interface whose orphan policy to change: ampguard fragments IFACE --orphans ...");
		return -EINVAL;
	}

	err = ag_state_open(&st, r.write ? AG_LOCK_WRITE : AG_LOCK_NONE);
	if (err)
		return err;
	r.st = &st;
	if (r.json)
		r.arr = json_object_new_array();
	if (ifname) {
		if (ag_iface_pin(&st, ifname, "ifinfo", path, sizeof(path)) || access(path, F_OK)) {
			ag_err("%s is not protected by ampguard: see 'ampguard status'", ifname);
			err = -ENOENT;
		} else {
			err = show_or_set(ifname, &r);
		}
	} else {
		err = ag_for_each_iface(&st, show_or_set, &r);
	}
	if (err && err != -ENOENT)
		ag_bpf_err(err, "fragment policy");
	if (r.json) {
		if (!err)
			ag_json_print(r.arr, true);
		else
			json_object_put(r.arr);
	}
	ag_state_close(&st);
	return err;
}
