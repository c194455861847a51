// SPDX-License-Identifier: GPL-2.0-only
/* ampguard: the command line. Global options, then one verb. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "ampguard.h"

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct verb verbs[] = {
	{ "attach", cmd_attach, "protect an interface" },
	{ "detach", cmd_detach, "remove protection from an interface" },
	{ "status", cmd_status, "protected interfaces and the vector table" },
	{ "stats", cmd_stats, "counters per interface, vector and reason" },
	{ "set", cmd_set, "set a vector's or port's action, live" },
	{ "unset", cmd_unset, "return a vector to its default, or drop a port's policy" },
	{ "serve", cmd_serve, "mark ports this host serves (their requests always pass)" },
	{ "top", cmd_top, "sources with the most dropped and admitted packets" },
	{ "allow", cmd_allow, "CIDRs whose traffic always passes" },
	{ "deny", cmd_deny, "CIDRs whose traffic is always dropped" },
	{ "fragments", cmd_fragments, "what happens to fragments whose first was not seen" },
	{ "apply", cmd_apply, "make the running state equal to a configuration file" },
	{ "config", cmd_config, "show the running state as a configuration, or check a file" },
	{ "exporter", cmd_exporter, "serve Prometheus metrics over HTTP" },
	{ "vectors", cmd_vectors, "list the built-in vectors" },
};

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: ampguard [--root DIR] VERB [ARGS]\n\n"
		   "Drops UDP reflection floods at the NIC with XDP.\n\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  --root DIR   pinned state directory (default %s, or $%s)\n"
		   "  --version    print the version\n"
		   "  --help       this text; 'ampguard VERB --help' for a verb\n",
		AG_DEFAULT_ROOT, AG_ROOT_ENV);
}

/* libbpf's own messages repeat what our one-line errors say. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("AMPGUARD_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG && getenv("AMPGUARD_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned int i;
	int c;

	libbpf_set_print(quiet_libbpf);
	/* '+' stops at the verb: its options are its own. */
	while ((c = getopt_long(argc, argv, "+r:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ag_set_root(optarg);
			break;
		case 'V':
			printf("ampguard %s (ABI %d, libbpf %s)\n", AG_VERSION, AG_ABI_VERSION,
			       libbpf_version_string());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[optind], verbs[i].name))
			continue;
		argc -= optind;
		argv += optind;
		/* 0, not 1: glibc then starts afresh, permuting options after operands. */
		optind = 0;
		return verbs[i].fn(argc, argv) ? 1 : 0;
	}
	ag_err("unknown verb '%s': see 'ampguard --help'", argv[optind]);
	return 2;
}
