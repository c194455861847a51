// SPDX-License-Identifier: GPL-2.0-only
/*
 * `attach` and `detach`: protection of one interface, added or removed.
 * Both take the writer lock; an attach that fails leaves nothing behind
 * (user/lib/attach.c).
 */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"

struct attach_args {
	const char *ifname;
	int mode;
	bool force;
	const char *track_on[AG_MAX_TRACK_IFACES - 1];
	unsigned int nr_track_on;
	const char *config;
};

static const struct ag_opt attach_opts[] = {
	{ .name = "mode",
	  .letter = 'm',
	  .type = OPT_ENUM,
	  .off = offsetof(struct attach_args, mode),
	  .metavar = "MODE",
	  .parse = ag_attach_mode_parse,
	  .bad = "unknown mode '%s': use auto, native or generic",
	  .help = "auto (default): native, or generic with a warning when the\n"
		  "driver lacks XDP; native; generic" },
	{ .name = "track-on",
	  .letter = 't',
	  .type = OPT_IFACE,
	  .off = offsetof(struct attach_args, track_on),
	  .metavar = "IFACE",
	  .repeat = AG_MAX_TRACK_IFACES - 1,
	  .count_off = offsetof(struct attach_args, nr_track_on),
	  .bad = "'%s' is not an interface name: see 'ip link'",
	  .help = "also record requests leaving through IFACE (gateways whose\n"
		  "requests leave elsewhere than the replies arrive); repeatable" },
	{ .name = "force",
	  .letter = 'f',
	  .type = OPT_FLAG,
	  .off = offsetof(struct attach_args, force),
	  .help = "replace an XDP program that ampguard did not attach" },
	{ .name = "config",
	  .letter = 'c',
	  .type = OPT_STRING,
	  .off = offsetof(struct attach_args, config),
	  .metavar = "FILE",
	  .help = "then apply configuration FILE (its entry for IFACE, if any, gives\n"
		  "the mode and track-on; other interfaces in FILE are left alone)" },
	AG_OPT_END,
};

static const struct ag_opt attach_positional[] = {
	{ .name = "IFACE",
	  .type = OPT_IFACE,
	  .off = offsetof(struct attach_args, ifname),
	  .bad = "'%s' is not an interface name: see 'ip link'" },
	AG_OPT_END,
};

static const struct ag_opt detach_positional[] = {
	{ .name = "IFACE",
	  .type = OPT_IFACE,
	  .off = offsetof(struct attach_args, ifname),
	  .bad = "'%s' is not an interface name: see 'ampguard status'" },
	AG_OPT_END,
};

static int do_attach(struct ag_state *unused, void *p)
{
	const struct attach_args *a = p;
	struct ag_attach_req req = {
		.ifname = a->ifname,
		.mode = a->mode < 0 ? AG_MODE_AUTO : a->mode,
		.force = a->force,
		.config = a->config,
	};
	struct ag_state st;
	unsigned int i;
	int err;

	(void)unused;
	req.track_names[0] = a->ifname;
	for (i = 0; i < a->nr_track_on; i++)
		req.track_names[i + 1] = a->track_on[i];
	req.nr_track = a->nr_track_on + 1;
	if (req.config)
		return ag_conf_attach(&req);
	ag_state_reset(&st);
	err = ag_attach_resolve(&req);
	err = err ?: ag_state_lock_create(&st);
	if (err)
		return err;
	err = ag_attach_locked(&st, &req);
	ag_state_close(&st);
	return err;
}

static int do_detach(struct ag_state *unused, void *p)
{
	const struct attach_args *a = p;
	int ret;

	(void)unused;
	ret = ag_detach(a->ifname);
	if (ret == 1)
		printf("%s: detached (what an interrupted attach left is removed)\n", a->ifname);
	else if (!ret)
		printf("%s: detached\n", a->ifname);
	return ret < 0 ? ret : 0;
}

const struct ag_cmd cmd_attach = {
	.name = "attach",
	.summary = "protect an interface",
	.help = "  Attaches the XDP classifier to IFACE and the request tracker to its egress;\n"
		"  protection stays after ampguard exits.\n",
	.opts = attach_opts,
	.args = attach_positional,
	.size = sizeof(struct attach_args),
	.state = CMD_NO_STATE,
	.run = do_attach,
};

const struct ag_cmd cmd_detach = {
	.name = "detach",
	.summary = "remove protection from an interface",
	.help = "  Removes the program from IFACE and everything pinned for it; the shared\n"
		"  policy goes with the last interface.\n",
	.args = detach_positional,
	.size = sizeof(struct attach_args),
	.state = CMD_NO_STATE,
	.run = do_detach,
};
