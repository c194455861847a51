/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The verbs: each one is a table of options and arguments plus a do_VERB
 * function (struct ag_cmd). The dispatcher (options.c) parses argv into
 * the verb's own argument struct, checks every value by its type, prints
 * usage and 'VERB --help', opens the state with the lock the verb
 * declares, and only then calls do_VERB. Verbs call the library
 * (user/lib) and nothing else; the library never sees argv.
 */
#ifndef AG_CMD_H
#define AG_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "ampguard.h"

enum ag_opt_type {
	OPT_FLAG,     /* bool, set when given */
	OPT_STRING,   /* const char *, any text (file names) */
	OPT_IFACE,    /* const char *, a well-formed interface name; repeatable */
	OPT_UINT,     /* long, min..max; -1 when not given */
	OPT_PORT,     /* long, 1..65535; -1 when not given */
	OPT_RATE,     /* long long, k/M/G suffixes, min..max; -1 when not given */
	OPT_DURATION, /* long milliseconds, "off" is 0, at most an hour; -1 when not given */
	OPT_ENUM,     /* int from .parse; -1 when not given */
	OPT_CIDR,     /* const char *, checked by ag_cidr_parse */
};

/*
 * One option, or one positional argument (name in capitals, no dash).
 * Values land at .off in the verb's argument struct; a repeatable option
 * or argument (.repeat > 1) fills an array of .repeat values there, its
 * count an unsigned int at .count_off.
 */
struct ag_opt {
	const char *name; /* long option without "--"; NULL for a short-only one */
	char letter;      /* short option, 0 for none */
	enum ag_opt_type type;
	size_t off;
	const char *metavar; /* the value in usage; NULL for flags */
	const char *help;
	unsigned long long min, max; /* OPT_UINT, OPT_RATE */
	int (*parse)(const char *s); /* OPT_ENUM: value, or < 0 when unknown */
	unsigned int repeat;         /* > 1: repeatable up to this many times */
	size_t count_off;
	bool optional;      /* positional arguments only */
	const char *values; /* OPT_ENUM: the accepted words, for the refusal */
	const char *bad;    /* refusal, "%s" the value (OPT_CIDR: then the reason) */
};

/* What the verb needs opened before do_VERB runs. */
enum ag_cmd_state {
	CMD_NO_STATE,      /* do_VERB gets NULL and opens what it needs itself */
	CMD_READ,          /* the maps, no lock */
	CMD_WRITE,         /* the maps under the writer lock */
	CMD_READ_OR_WRITE, /* the writer lock when .writes() says the request changes state */
};

struct ag_cmd {
	const char *name;
	const char *summary;       /* the line in 'ampguard --help' */
	const char *help;          /* 'VERB --help' text after the synopsis */
	const struct ag_opt *opts; /* ends with an all-zero entry */
	const struct ag_opt *args; /* positional, in order; ends with an all-zero entry */
	size_t size;               /* of the argument struct */
	enum ag_cmd_state state;
	/*
	 * Cross-field checks before any state is touched (a typo needs no
	 * root): 0, a negative errno after saying why, or AG_CMD_USAGE.
	 */
	int (*check)(void *a);
	bool (*writes)(const void *a);
	int (*run)(struct ag_state *st, void *a);
	/* Frees what check() or run() kept in the argument struct; always called. */
	void (*release)(void *a);
};

/* clang-format off */
#define AG_OPT_END { 0 }
/* --json, -j: the same flag in every verb that has it, in its struct's field json. */
#define AG_OPT_JSON(args, text) \
	{ .name = "json", .letter = 'j', .type = OPT_FLAG, .off = offsetof(args, json), .help = text }
/* clang-format on */
#define AG_CMD_USAGE 1 /* from check(): print the usage, refuse */

/* options.c */
int ag_cmd_dispatch(const struct ag_cmd *cmd, int argc, char **argv);
void ag_cmd_usage(const struct ag_cmd *cmd, FILE *f);

/* The verbs, in the order 'ampguard --help' lists them. */
extern const struct ag_cmd cmd_attach, cmd_detach, cmd_status, cmd_stats, cmd_set, cmd_unset,
	cmd_serve, cmd_top, cmd_allow, cmd_deny, cmd_fragments, cmd_apply, cmd_config, cmd_exporter,
	cmd_vectors, cmd_daemon, cmd_events, cmd_upstream, cmd_capture;

#endif /* AG_CMD_H */
