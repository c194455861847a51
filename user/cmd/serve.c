// SPDX-License-Identifier: GPL-2.0-only
/*
 * `serve`: the UDP ports this host offers as a service. Datagrams to them
 * are requests, never reflected replies. Every port of one invocation
 * changes in one commit.
 */
#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>

#include "cmd.h"

struct serve_args {
	long ports[AG_NR_PORTS];
	unsigned int nr_ports;
	bool del;
	bool json;
};

static const struct ag_opt serve_opts[] = {
	{ .name = "delete",
	  .letter = 'd',
	  .type = OPT_FLAG,
	  .off = offsetof(struct serve_args, del),
	  .help = "no longer served" },
	AG_OPT_JSON(struct serve_args, "machine-readable list"),
	AG_OPT_END,
};

static const struct ag_opt serve_positional[] = {
	{ .name = "PORT",
	  .type = OPT_PORT,
	  .off = offsetof(struct serve_args, ports),
	  .repeat = AG_NR_PORTS,
	  .count_off = offsetof(struct serve_args, nr_ports),
	  .optional = true,
	  .bad = "bad port '%s': use a number from 1 to 65535" },
	AG_OPT_END,
};

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

static bool serve_writes(const void *p)
{
	return ((const struct serve_args *)p)->nr_ports > 0;
}

static int do_serve(struct ag_state *st, void *p)
{
	struct serve_args *a = p;
	struct ag_served s;
	unsigned int i, port;
	int err;

	err = ag_served_read(st, &s);
	if (err)
		return ag_bpf_err(err, "reading served ports");
	if (!a->nr_ports) {
		print_served(&s, a->json);
		return 0;
	}
	for (i = 0; i < a->nr_ports; i++) {
		port = a->ports[i];
		if (a->del)
			s.bits[port / 32] &= ~(1U << (port % 32));
		else
			s.bits[port / 32] |= 1U << (port % 32);
	}
	/* One commit: every listed port changes at once or none does. */
	err = ag_commit(st, &(struct ag_change){ .served = &s });
	if (err)
		return ag_bpf_err(err, "writing served ports");
	for (i = 0; i < a->nr_ports; i++)
		printf("udp port %ld: %s\n", a->ports[i], a->del ? "no longer served" : "served");
	return 0;
}

const struct ag_cmd cmd_serve = {
	.name = "serve",
	.summary = "mark ports this host serves (their requests always pass)",
	.help = "  Marks UDP ports this host offers as a service (an NTP server on 123, symmetric\n"
		"  NTP peers, a DNS server on 53): datagrams to them are requests, never dropped as\n"
		"  reflected replies. Without PORT, lists the served ports.\n",
	.opts = serve_opts,
	.args = serve_positional,
	.size = sizeof(struct serve_args),
	.state = CMD_READ_OR_WRITE,
	.writes = serve_writes,
	.run = do_serve,
};
