// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `fragments` verb: the per-interface policy for orphan fragments,
 * later fragments whose first fragment was never seen.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cmd.h"

struct frag_req {
	const char *ifname;
	int orphan;    /* -1: unchanged */
	long long pps; /* -1: unchanged */
	long long burst;
	bool json;
	json_object *arr;
	const struct ag_state *st;
	bool write;
};

static const struct ag_opt frag_opts[] = {
	{ .name = "orphans",
	  .letter = 'o',
	  .type = OPT_ENUM,
	  .off = offsetof(struct frag_req, orphan),
	  .metavar = "P",
	  .parse = ag_orphan_parse,
	  .values = "pass, ratelimit or drop",
	  .help = "pass | ratelimit | drop" },
	{ .name = "pps",
	  .letter = 'p',
	  .type = OPT_RATE,
	  .off = offsetof(struct frag_req, pps),
	  .metavar = "N",
	  .min = 1,
	  .max = AG_MAX_PKTS_RATE,
	  .help = "the orphans' budget in packets/s" },
	{ .name = "burst",
	  .letter = 'b',
	  .type = OPT_RATE,
	  .off = offsetof(struct frag_req, burst),
	  .metavar = "N",
	  .min = 1,
	  .max = AG_MAX_PKTS_RATE,
	  .help = "its burst in packets" },
	AG_OPT_JSON(struct frag_req, "machine-readable output"),
	AG_OPT_END,
};

static const struct ag_opt frag_positional[] = {
	{ .name = "IFACE",
	  .type = OPT_STRING,
	  .off = offsetof(struct frag_req, ifname),
	  .optional = true },
	AG_OPT_END,
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
		json_object_object_add(o, "orphans",
				       json_object_new_string(ag_orphan_name(op.cfg.mode)));
		json_object_object_add(o, "pps", json_object_new_uint64(op.cfg.pps.rate));
		json_object_object_add(o, "burst", json_object_new_uint64(op.cfg.pps.burst));
		json_object_array_add(r->arr, o);
	} else {
		printf("%s: orphan fragments %s%s\n", ifname, ag_orphan_name(op.cfg.mode), rate);
	}
	return 0;
}

static bool frag_writes(const void *p)
{
	const struct frag_req *r = p;

	return r->orphan >= 0 || r->pps >= 0 || r->burst >= 0;
}

static int check_fragments(void *p)
{
	struct frag_req *r = p;

	r->write = frag_writes(r);
	if (r->write && !r->ifname) {
		ag_err("name the interface whose orphan policy to change: ampguard fragments IFACE --orphans ...");
		return -EINVAL;
	}
	return 0;
}

static int do_fragments(struct ag_state *st, void *p)
{
	struct frag_req *r = p;
	char path[PATH_MAX];
	int err;

	r->st = st;
	if (r->json)
		r->arr = json_object_new_array();
	if (r->ifname) {
		if (ag_iface_pin(st, r->ifname, "ifinfo", path, sizeof(path)) ||
		    access(path, F_OK)) {
			ag_err("%s is not protected by ampguard: see 'ampguard status'", r->ifname);
			err = -ENOENT;
		} else {
			err = show_or_set(r->ifname, r);
		}
	} else {
		err = ag_for_each_iface(st, show_or_set, r);
	}
	if (err && err != -ENOENT)
		ag_bpf_err(err, "fragment policy");
	if (r->json) {
		if (!err)
			ag_json_print(r->arr, true);
		else
			json_object_put(r->arr);
	}
	return err;
}

const struct ag_cmd cmd_fragments = {
	.name = "fragments",
	.summary = "what happens to fragments whose first was not seen",
	.help = "  Later fragments follow the verdict of their datagram's first fragment. Orphans,\n"
		"  whose first fragment was not seen, get this per-interface policy (default:\n"
		"  ratelimit " AG_STR(AG_ORPHAN_DEFAULT_PPS) " pps). Without options, shows it.\n",
	.opts = frag_opts,
	.args = frag_positional,
	.size = sizeof(struct frag_req),
	.state = CMD_READ_OR_WRITE,
	.check = check_fragments,
	.writes = frag_writes,
	.run = do_fragments,
};
