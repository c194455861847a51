// SPDX-License-Identifier: GPL-2.0-only
/* ampguard: the command line. Global options, then one verb (options.c parses its own). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "cmd.h"

static const struct ag_cmd *const verbs[] = {
	&cmd_attach, &cmd_detach,    &cmd_status,   &cmd_stats,   &cmd_set,
	&cmd_unset,  &cmd_serve,     &cmd_top,      &cmd_capture, &cmd_allow,
	&cmd_deny,   &cmd_fragments, &cmd_apply,    &cmd_config,  &cmd_daemon,
	&cmd_events, &cmd_upstream,  &cmd_exporter, &cmd_vectors,
};

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: ampguard [--root DIR] [--state-dir DIR] VERB [ARGS]\n\n"
		   "Drops UDP reflection floods at the NIC with XDP.\n\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-8s %s\n", verbs[i]->name, verbs[i]->summary);
	fprintf(f,
		"\nOptions:\n"
		"  --root DIR       pinned state directory (default %s, or $%s)\n"
		"  --state-dir DIR  the daemon's records (default %s, or $%s)\n"
		"  --version        print the version\n"
		"  --help           this text; 'ampguard VERB --help' for a verb\n",
		AG_DEFAULT_ROOT, AG_ROOT_ENV, AG_DEFAULT_STATE_DIR, AG_STATE_DIR_ENV);
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
		{ "state-dir", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned int i;
	int c;

	libbpf_set_print(quiet_libbpf);
	/* '+' stops at the verb: its options are its own. */
	while ((c = getopt_long(argc, argv, "+r:s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ag_set_root(optarg);
			break;
		case 's':
			ag_set_state_dir(optarg);
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
		if (strcmp(argv[optind], verbs[i]->name))
			continue;
		return ag_cmd_dispatch(verbs[i], argc - optind, argv + optind) ? 1 : 0;
	}
	ag_err("unknown verb '%s': see 'ampguard --help'", argv[optind]);
	return 2;
}
