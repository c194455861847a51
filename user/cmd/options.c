// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one dispatcher behind every verb: argv -> the verb's argument
 * struct, by its option table. Invariants: a value reaches do_VERB only
 * after its type's check passed; a usage error prints the verb's usage on
 * stderr and changes nothing; the state is opened (and closed) here, with
 * the lock the verb declares, after every check.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define OPT_VAL_BASE 0x100 /* getopt values of long-only options: base + index */
#define MAX_OPTS 32

static void *field(void *a, size_t off)
{
	return (char *)a + off;
}

static unsigned int nr_entries(const struct ag_opt *t)
{
	unsigned int n = 0;

	while (t && (t[n].name || t[n].letter))
		n++;
	return n;
}

/* 10000000000000 -> "10T": the limits as an operator would type them. */
static void fmt_si(char *buf, size_t len, unsigned long long v)
{
	static const char suffix[] = " kMGT";
	unsigned int i = 0;

	while (i < sizeof(suffix) - 2 && v >= 1000 && v % 1000 == 0) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%llu%c" : "%llu", v, suffix[i]);
}

/* "--name" for options, "NAME" for arguments: how messages call them. */
static void opt_label(const struct ag_opt *o, bool positional, char *buf, size_t len)
{
	if (positional)
		snprintf(buf, len, "%s", o->name);
	else if (o->name)
		snprintf(buf, len, "--%s", o->name);
	else
		snprintf(buf, len, "-%c", o->letter);
}

static int refuse(const struct ag_opt *o, bool positional, const char *s, const char *hint)
{
	char label[64];

	if (o->bad) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		ag_err(o->bad, s, hint);
#pragma GCC diagnostic pop
		return -EINVAL;
	}
	opt_label(o, positional, label, sizeof(label));
	ag_err("bad %s '%s': %s", label, s, hint);
	return -EINVAL;
}

/* The next free element of a repeatable option's array: its index, or -EINVAL when full. */
static int next_slot(const struct ag_opt *o, bool positional, void *a)
{
	unsigned int *count = field(a, o->count_off);
	char label[64];

	if (*count < o->repeat)
		return (*count)++;
	opt_label(o, positional, label, sizeof(label));
	ag_err("%s given more than %u times", label, o->repeat);
	return -EINVAL;
}

static int store_string(const struct ag_opt *o, bool positional, void *a, const char *s)
{
	int i;

	if (o->repeat <= 1) {
		*(const char **)field(a, o->off) = s;
		return 0;
	}
	i = next_slot(o, positional, a);
	if (i < 0)
		return i;
	((const char **)field(a, o->off))[i] = s;
	return 0;
}

static int parse_rate_value(const struct ag_opt *o, bool positional, void *a, const char *s)
{
	unsigned long long v;
	char max[16], hint[128];

	if (!ag_parse_rate(s, o->max, &v) && v >= o->min) {
		*(long long *)field(a, o->off) = v;
		return 0;
	}
	fmt_si(max, sizeof(max), o->max);
	if (o->min)
		snprintf(hint, sizeof(hint), "use a whole number from %llu to %s (k, M, G allowed)",
			 o->min, max);
	else
		snprintf(hint, sizeof(hint),
			 "use a whole number with an optional k, M or G suffix (e.g. 20k, 50M), at most %s",
			 max);
	return refuse(o, positional, s, hint);
}

/* One value of any type into the argument struct, or a one-line refusal. */
static int parse_value(const struct ag_opt *o, bool positional, void *a, const char *s)
{
	unsigned long v = 0, ms;
	char hint[128], why[128];
	struct ag_lpm6 key;
	int family, e;

	switch (o->type) {
	case OPT_FLAG:
		*(bool *)field(a, o->off) = true;
		return 0;
	case OPT_STRING:
		return store_string(o, positional, a, s);
	case OPT_IFACE:
		if (!ag_ifname_valid(s))
			return refuse(o, positional, s, "not an interface name: see 'ip link'");
		return store_string(o, positional, a, s);
	case OPT_CIDR:
		if (ag_cidr_parse(s, &family, &key, why, sizeof(why)))
			return refuse(o, positional, s, why);
		return store_string(o, positional, a, s);
	case OPT_PORT:
	case OPT_UINT:
		if (o->type == OPT_PORT) {
			if (!ag_parse_uint(s, 65535, &v) && v)
				break;
			return refuse(o, positional, s, "use a number from 1 to 65535");
		}
		if (!ag_parse_uint(s, o->max, &v) && v >= o->min)
			break;
		snprintf(hint, sizeof(hint), "use a whole number from %llu to %llu", o->min,
			 o->max);
		return refuse(o, positional, s, hint);
	case OPT_RATE:
		return parse_rate_value(o, positional, a, s);
	case OPT_DURATION:
		if (ag_parse_duration_ms(s, &ms))
			return refuse(o, positional, s,
				      "use e.g. 500ms, 5s, 2m (at most 1 hour) or off");
		*(long *)field(a, o->off) = ms;
		return 0;
	case OPT_ENUM:
		e = o->parse(s);
		if (e < 0) {
			snprintf(hint, sizeof(hint), "use %s", o->values);
			return refuse(o, positional, s, hint);
		}
		*(int *)field(a, o->off) = e;
		return 0;
	}
	if (o->repeat <= 1) {
		*(long *)field(a, o->off) = v;
		return 0;
	}
	e = next_slot(o, positional, a);
	if (e < 0)
		return e;
	((long *)field(a, o->off))[e] = v;
	return 0;
}

/* "Not given" for every option, so a verb tells 0 from absent. */
static void set_defaults(const struct ag_opt *t, void *a)
{
	unsigned int i;

	for (i = 0; i < nr_entries(t); i++) {
		switch (t[i].type) {
		case OPT_UINT:
		case OPT_PORT:
		case OPT_DURATION:
			if (t[i].repeat <= 1)
				*(long *)field(a, t[i].off) = -1;
			break;
		case OPT_RATE:
			*(long long *)field(a, t[i].off) = -1;
			break;
		case OPT_ENUM:
			*(int *)field(a, t[i].off) = -1;
			break;
		default:
			break;
		}
	}
}

static void arg_synopsis(const struct ag_opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", o->optional ? "[" : "", o->name, o->repeat > 1 ? "..." : "",
		 o->optional ? "]" : "");
}

static void opt_synopsis(const struct ag_opt *o, char *buf, size_t len)
{
	const char *mv = o->metavar ? o->metavar : "";
	const char *sp = o->metavar ? " " : "";

	if (o->name && o->letter)
		snprintf(buf, len, "-%c, --%s%s%s", o->letter, o->name, sp, mv);
	else if (o->name)
		snprintf(buf, len, "--%s%s%s", o->name, sp, mv);
	else
		snprintf(buf, len, "-%c%s%s", o->letter, sp, mv);
}

static void usage_row(FILE *f, const char *left, const char *help)
{
	const char *nl;

	fprintf(f, "  %-22s", left);
	if (strlen(left) > 22)
		fprintf(f, "\n  %-22s", "");
	/* Help text may run over lines: each continues under the first. */
	while ((nl = strchr(help, '\n'))) {
		fprintf(f, " %.*s\n  %-22s", (int)(nl - help), help, "");
		help = nl + 1;
	}
	fprintf(f, " %s\n", help);
}

void ag_cmd_usage(const struct ag_cmd *cmd, FILE *f)
{
	unsigned int i, nr_args = nr_entries(cmd->args), nr_opts = nr_entries(cmd->opts);
	char buf[64];

	fprintf(f, "usage: ampguard %s", cmd->name);
	for (i = 0; i < nr_args; i++) {
		arg_synopsis(&cmd->args[i], buf, sizeof(buf));
		fprintf(f, " %s", buf);
	}
	fprintf(f, "%s\n", nr_opts ? " [OPTIONS]" : "");
	fprintf(f, "%s", cmd->help);
	for (i = 0; i < nr_args; i++) {
		if (cmd->args[i].help)
			usage_row(f, cmd->args[i].name, cmd->args[i].help);
	}
	for (i = 0; i < nr_opts; i++) {
		opt_synopsis(&cmd->opts[i], buf, sizeof(buf));
		usage_row(f, buf, cmd->opts[i].help);
	}
	usage_row(f, "-h, --help", "this text");
}

/* getopt_long's tables from the verb's: long options map to their index. */
static int getopt_tables(const struct ag_opt *t, struct option *longs, char *shorts)
{
	unsigned int i, n = nr_entries(t), nl = 0;
	char *s = shorts;

	if (n >= MAX_OPTS)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		bool arg = t[i].type != OPT_FLAG;

		if (t[i].name)
			longs[nl++] = (struct option){ t[i].name,
						       arg ? required_argument : no_argument, NULL,
						       OPT_VAL_BASE + i };
		if (t[i].letter) {
			*s++ = t[i].letter;
			if (arg)
				*s++ = ':';
		}
	}
	longs[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
	longs[nl] = (struct option){ 0 };
	*s++ = 'h';
	*s = '\0';
	return 0;
}

static const struct ag_opt *opt_by_val(const struct ag_opt *t, int c)
{
	unsigned int i, n = nr_entries(t);

	if (c >= OPT_VAL_BASE && c < OPT_VAL_BASE + (int)n)
		return &t[c - OPT_VAL_BASE];
	for (i = 0; i < n; i++)
		if (t[i].letter && t[i].letter == c)
			return &t[i];
	return NULL;
}

/* 0, 1 after --help, or a negative errno after saying why. */
static int parse_opts(const struct ag_cmd *cmd, int argc, char **argv, void *a)
{
	struct option longs[MAX_OPTS + 1];
	char shorts[2 * MAX_OPTS + 2];
	const struct ag_opt *o;
	int c;

	if (getopt_tables(cmd->opts, longs, shorts))
		return -E2BIG;
	/* 0, not 1: glibc then starts afresh, permuting options after operands. */
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == 'h') {
			ag_cmd_usage(cmd, stdout);
			return 1;
		}
		o = opt_by_val(cmd->opts, c);
		if (!o) {
			ag_cmd_usage(cmd, stderr);
			return -EINVAL;
		}
		if (parse_value(o, false, a, optarg))
			return -EINVAL;
	}
	return 0;
}

static int parse_args(const struct ag_cmd *cmd, int argc, char **argv, void *a)
{
	unsigned int i, n = nr_entries(cmd->args);
	const struct ag_opt *o;

	for (i = 0; i < n; i++) {
		o = &cmd->args[i];
		if (optind >= argc) {
			if (o->optional)
				return 0;
			ag_cmd_usage(cmd, stderr);
			return -EINVAL;
		}
		do {
			if (parse_value(o, true, a, argv[optind++]))
				return -EINVAL;
		} while (o->repeat > 1 && optind < argc);
	}
	if (optind < argc) {
		ag_cmd_usage(cmd, stderr);
		return -EINVAL;
	}
	return 0;
}

static int run_verb(const struct ag_cmd *cmd, void *a)
{
	enum ag_lock_mode lock = AG_LOCK_NONE;
	struct ag_state st;
	int err;

	if (cmd->state == CMD_NO_STATE)
		return cmd->run(NULL, a);
	if (cmd->state == CMD_WRITE || (cmd->state == CMD_READ_OR_WRITE && cmd->writes(a)))
		lock = AG_LOCK_WRITE;
	err = ag_state_open(&st, lock);
	if (err)
		return err;
	err = cmd->run(&st, a);
	ag_state_close(&st);
	return err;
}

int ag_cmd_dispatch(const struct ag_cmd *cmd, int argc, char **argv)
{
	void *a = calloc(1, cmd->size ? cmd->size : 1);
	int err;

	if (!a)
		return -ENOMEM;
	set_defaults(cmd->opts, a);
	set_defaults(cmd->args, a);
	err = parse_opts(cmd, argc, argv, a);
	err = err ?: parse_args(cmd, argc, argv, a);
	if (!err && cmd->check) {
		err = cmd->check(a);
		if (err == AG_CMD_USAGE) {
			ag_cmd_usage(cmd, stderr);
			err = -EINVAL;
		}
	}
	if (!err)
		err = run_verb(cmd, a);
	if (cmd->release)
		cmd->release(a);
	free(a);
	return err > 0 ? 0 : err;
}
