// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vector table: reading the active generation, committing a new one,
 * and the `set` / `unset` verbs.
 *
 * A commit writes the whole table into the inactive generation, maps new
 * ports to their slots, flips ag_config.gen, then unmaps ports that left.
 * The XDP program reads gen once per packet and checks that the slot it
 * found still belongs to the packet's port, so every packet is judged by
 * one whole table, old or new.
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ampguard.h"

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

int ag_policy_read(int config_fd, int policy_fd, struct ag_policy tbl[AG_MAX_VECTORS])
{
	struct ag_config cfg;
	int err;

	err = read_config(config_fd, &cfg);
	return err ?: read_gen(policy_fd, cfg.gen, tbl);
}

static int map_port(int port_vec_fd, __u32 port, __u32 slot)
{
	return bpf_map_update_elem(port_vec_fd, &port, &slot, 0) ? -errno : 0;
}

int ag_policy_commit(const struct ag_state *st, const struct ag_policy tbl[AG_MAX_VECTORS])
{
	struct ag_policy old[AG_MAX_VECTORS];
	struct ag_config cfg;
	__u32 next, slot, key, cur;
	int err;

	err = read_config(st->config_fd, &cfg);
	err = err ?: read_gen(st->policy_fd, cfg.gen, old);
	if (err)
		return err;
	next = !cfg.gen;

	for (slot = 0; slot < AG_MAX_VECTORS; slot++) {
		key = next * AG_MAX_VECTORS + slot;
		if (bpf_map_update_elem(st->policy_fd, &key, &tbl[slot], 0))
			return -errno;
	}
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (tbl[slot].in_use && (err = map_port(st->port_vec_fd, tbl[slot].port, slot)))
			return err;
	}

	cfg.gen = next;
	if (bpf_map_update_elem(st->config_fd, &(__u32){ 0 }, &cfg, 0))
		return -errno;

	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		__u32 port = old[slot].port;

		if (!old[slot].in_use || (tbl[slot].in_use && tbl[slot].port == port))
			continue;
		if (bpf_map_lookup_elem(st->port_vec_fd, &port, &cur) == 0 && cur == slot &&
		    (err = map_port(st->port_vec_fd, port, 0)))
			return err;
	}
	return 0;
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
static int alloc_slot(const struct ag_state *st, struct ag_policy tbl[AG_MAX_VECTORS], int port)
{
	struct { const struct ag_state *st; unsigned int slot; } arg = { st, 0 };
	unsigned int slot;
	int err;

	for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++) {
		if (tbl[slot].in_use)
			continue;
		arg.slot = slot;
		err = ag_for_each_iface(st, zero_iface_slot, &arg);
		if (err)
			return err;
		tbl[slot] = (struct ag_policy){ .port = port, .in_use = 1,
						.track_timeout_ms = AG_DEFAULT_TRACK_MS };
		return slot;
	}
	ag_err("no free vector slot for port %d (%u custom ports at most): free one with 'ampguard unset PORT'",
	       port, AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT);
	return -ENOSPC;
}

static void usage_set(FILE *f)
{
	fprintf(f, "usage: ampguard set VECTOR|PORT [ACTION] [--track-timeout DURATION]\n"
		   "  Sets what happens to unsolicited UDP from a vector's source port; takes effect on\n"
		   "  the next packet, counters are kept.\n"
		   "  VECTOR  a name from 'ampguard vectors', or any UDP source port 1-65535\n"
		   "  ACTION  pass | monitor (count as would-drop, pass) | drop\n"
		   "  --track-timeout  how long after a request its replies count as solicited:\n"
		   "                   500ms, 5s, 2m (at most 1 hour), or off\n");
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

struct set_req {
	const char *spec;
	int action;     /* -1: unchanged */
	long timeout_ms; /* -1: unchanged */
};

static int parse_set(int argc, char **argv, struct set_req *req)
{
	static const struct option opts[] = {
		{ "track-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned long ms;
	int c, nargs;

	req->action = -1;
	req->timeout_ms = -1;
	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (ag_parse_duration_ms(optarg, &ms)) {
				ag_err("bad --track-timeout '%s': use e.g. 500ms, 5s, 2m (at most 1 hour) or off",
				       optarg);
				return -EINVAL;
			}
			req->timeout_ms = ms;
			break;
		case 'h':
			usage_set(stdout);
			return 1;
		default:
			usage_set(stderr);
			return -EINVAL;
		}
	}
	nargs = argc - optind;
	if (nargs < 1 || nargs > 2 || (nargs == 1 && req->timeout_ms < 0)) {
		usage_set(stderr);
		return -EINVAL;
	}
	req->spec = argv[optind];
	if (nargs == 2) {
		req->action = ag_action_parse(argv[optind + 1]);
		if (req->action < 0) {
			ag_err("unknown action '%s': use pass, monitor or drop", argv[optind + 1]);
			return -EINVAL;
		}
	}
	return 0;
}

static int bad_vector(const char *spec)
{
	ag_err("unknown vector '%s': use a name from 'ampguard vectors' or a port number 1-65535",
	       spec);
	return -EINVAL;
}

int cmd_set(int argc, char **argv)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct set_req req;
	struct ag_state st;
	int slot, port = 0, err;
	char name[32], timeout[16];

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
	if (req.action >= 0)
		tbl[slot].action = req.action;
	if (req.timeout_ms >= 0)
		tbl[slot].track_timeout_ms = req.timeout_ms;
	err = ag_policy_commit(&st, tbl);
	if (err) {
		ag_bpf_err(err, "writing policy");
		goto out;
	}
	ag_vector_name(&tbl[slot], slot, name, sizeof(name));
	ag_fmt_duration(timeout, sizeof(timeout), tbl[slot].track_timeout_ms);
	printf("%s (udp source port %u): %s, tracking timeout %s\n", name, tbl[slot].port,
	       ag_action_name(tbl[slot].action), timeout);
out:
	ag_state_close(&st);
	return err;
}

int cmd_unset(int argc, char **argv)
{
	struct ag_policy tbl[AG_MAX_VECTORS], defaults[AG_MAX_VECTORS];
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
	tbl[slot] = defaults[slot];
	err = ag_policy_commit(&st, tbl);
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
