// SPDX-License-Identifier: GPL-2.0-only
/*
 * Solicited-response tracking from userspace: attaching the TC egress
 * recorder to clsact hooks, counting tracked requests, and the `serve`
 * verb for ports this host offers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "ampguard.h"

static void tc_opts_init(struct bpf_tc_hook *hook, struct bpf_tc_opts *opts, int ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = BPF_TC_EGRESS;
	memset(opts, 0, sizeof(*opts));
	opts->sz = sizeof(*opts);
	opts->handle = AG_TC_HANDLE;
	opts->priority = AG_TC_PRIORITY;
}

/*
 * Puts the recorder on an interface's egress. replace swaps the program of
 * an existing ampguard filter in place.
 */
int ag_tc_attach(int ifindex, int prog_fd, bool replace, __u8 *made_qdisc)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	int err;

	tc_opts_init(&hook, &opts, ifindex);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (made_qdisc && !replace)
		*made_qdisc = !err;
	opts.prog_fd = prog_fd;
	opts.flags = replace ? BPF_TC_F_REPLACE : 0;
	err = bpf_tc_attach(&hook, &opts);
	if (err && made_qdisc && *made_qdisc && !replace) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		*made_qdisc = 0;
	}
	return err;
}

/* Removes ampguard's filter, and the clsact qdisc when ampguard made it. */
void ag_tc_detach(int ifindex, bool made_qdisc)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	tc_opts_init(&hook, &opts, ifindex);
	bpf_tc_detach(&hook, &opts);
	if (made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* Removes the egress filters of one protected interface. */
void ag_track_detach_all(const struct ag_ifinfo *info)
{
	unsigned int i;

	for (i = 0; i < AG_MAX_TRACK_IFACES && info->track_ifindex[i]; i++)
		ag_tc_detach(info->track_ifindex[i], info->track_made_qdisc[i]);
}

/* Program id of ampguard's filter on an interface's egress, 0 if none. */
__u32 ag_tc_prog_id(int ifindex)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	tc_opts_init(&hook, &opts, ifindex);
	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

/* The served ports of the active generation. */
int ag_served_read(const struct ag_state *st, struct ag_served *s)
{
	__u32 gen = ag_active_gen(st);

	return bpf_map_lookup_elem(st->served_fd, &gen, s) ? -errno : 0;
}

/* Entries in the tracking table, read in batches so a full table costs a few calls. */
int ag_track_count(int track_fd, unsigned long *entries)
{
	enum { CHUNK = 8192 };
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct ag_track_key *keys = calloc(CHUNK, sizeof(*keys));
	struct ag_track_val *vals = calloc(CHUNK, sizeof(*vals));
	__u32 token = 0, n;
	bool first = true;
	int err = 0;

	*entries = 0;
	while (keys && vals) {
		n = CHUNK;
		err = bpf_map_lookup_batch(track_fd, first ? NULL : &token, &token, keys, vals, &n,
					   &opts);
		first = false;
		*entries += n;
		if (err)
			break;
	}
	if (!keys || !vals)
		err = -ENOMEM;
	else if (err)
		err = errno == ENOENT ? 0 : -errno;
	free(keys);
	free(vals);
	return err;
}

static void usage_serve(FILE *f)
{
	fprintf(f, "usage: ampguard serve [PORT... [--delete]] [--json]\n"
		   "  Marks UDP ports this host offers as a service (an NTP server on 123, symmetric\n"
		   "  NTP peers, a DNS server on 53): datagrams to them are requests, never dropped as\n"
		   "  reflected replies. Without PORT, lists the served ports.\n");
}

static void print_served(const struct ag_served *s, bool json)
{
	json_object *arr = json ? json_object_new_array() : NULL;
	unsigned int port, n = 0;

	for (port = 0; port < AG_NR_PORTS; port++) {
		if (!((s->bits[port / 32] >> (port % 32)) & 1))
			continue;
		n++;
		if (json)
			json_object_array_add(arr, json_object_new_int(port));
		else
			printf("%u\n", port);
	}
	if (json) {
		ag_json_print(arr, false);
	} else if (!n) {
		printf("(no served ports)\n");
	}
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delete", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool del = false, json = false;
	unsigned long port;
	struct ag_served s;
	struct ag_state st;
	int c, i, err;

	while ((c = getopt_long(argc, argv, "djh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			del = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_serve(stdout);
			return 0;
		default:
			usage_serve(stderr);
			return -EINVAL;
		}
	}
	for (i = optind; i < argc; i++) {
		if (ag_parse_uint(argv[i], 65535, &port) || !port) {
			ag_err("bad port '%s': use a number from 1 to 65535", argv[i]);
			return -EINVAL;
		}
	}
	err = ag_state_open(&st, optind < argc ? AG_LOCK_WRITE : AG_LOCK_NONE);
	if (err)
		return err;
	err = ag_served_read(&st, &s);
	if (err) {
		ag_bpf_err(err, "reading served ports");
		goto out;
	}
	if (optind == argc) {
		print_served(&s, json);
		goto out;
	}
	for (i = optind; i < argc; i++) {
		ag_parse_uint(argv[i], 65535, &port);
		if (del)
			s.bits[port / 32] &= ~(1U << (port % 32));
		else
			s.bits[port / 32] |= 1U << (port % 32);
	}
	/* One commit: every listed port changes at once or none does. */
	err = ag_commit(&st, &(struct ag_change){ .served = &s });
	if (err) {
		ag_bpf_err(err, "writing served ports");
		goto out;
	}
	for (i = optind; i < argc; i++)
		printf("udp port %s: %s\n", argv[i], del ? "no longer served" : "served");
out:
	ag_state_close(&st);
	return err;
}
