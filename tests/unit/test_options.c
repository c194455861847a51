// SPDX-License-Identifier: GPL-2.0-only
/*
 * The verbs' dispatcher (user/cmd/options.c) against one test verb with an
 * option of every type. Each row is an argv and what must come of it: the
 * return code, the parsed fields, and the exact first line on stderr (or
 * stdout for --help). The verb's run() only records that it ran and what
 * it got, so no row touches any state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "fixture.h"

struct targs {
	const char *pos;
	long ports[4];
	unsigned int nr_ports;
	bool flag;
	long u;
	long long rate;
	long dur;
	int e;
	const char *ifs[3];
	unsigned int nr_ifs;
	const char *cidr;
	bool usage_please;
};

static int parse_ab(const char *s)
{
	if (!strcmp(s, "a"))
		return 0;
	if (!strcmp(s, "b"))
		return 1;
	return -1;
}

static const struct ag_opt t_opts[] = {
	{ .name = "flag",
	  .letter = 'f',
	  .type = OPT_FLAG,
	  .off = offsetof(struct targs, flag),
	  .help = "a flag" },
	{ .name = "uint",
	  .letter = 'u',
	  .type = OPT_UINT,
	  .off = offsetof(struct targs, u),
	  .metavar = "N",
	  .min = 1,
	  .max = 10,
	  .help = "1 to 10" },
	{ .name = "rate",
	  .type = OPT_RATE,
	  .off = offsetof(struct targs, rate),
	  .metavar = "R",
	  .max = AG_MAX_PKTS_RATE,
	  .help = "a rate" },
	{ .name = "dur",
	  .type = OPT_DURATION,
	  .off = offsetof(struct targs, dur),
	  .metavar = "D",
	  .help = "a duration" },
	{ .name = "enum",
	  .type = OPT_ENUM,
	  .off = offsetof(struct targs, e),
	  .metavar = "E",
	  .parse = parse_ab,
	  .values = "a or b",
	  .help = "a or b" },
	{ .name = "if",
	  .type = OPT_IFACE,
	  .off = offsetof(struct targs, ifs),
	  .metavar = "IFACE",
	  .repeat = 3,
	  .count_off = offsetof(struct targs, nr_ifs),
	  .bad = "'%s' is no name",
	  .help = "an interface,\nrepeatable" },
	{ .name = "cidr",
	  .type = OPT_CIDR,
	  .off = offsetof(struct targs, cidr),
	  .metavar = "C",
	  .help = "a CIDR" },
	{ .name = "usage",
	  .type = OPT_FLAG,
	  .off = offsetof(struct targs, usage_please),
	  .help = "check() asks for the usage" },
	AG_OPT_END,
};

static const struct ag_opt t_args[] = {
	{ .name = "POS", .type = OPT_STRING, .off = offsetof(struct targs, pos), .help = "a word" },
	{ .name = "PORT",
	  .type = OPT_PORT,
	  .off = offsetof(struct targs, ports),
	  .repeat = 4,
	  .count_off = offsetof(struct targs, nr_ports),
	  .optional = true },
	AG_OPT_END,
};

static struct targs got;
static int runs;

static int t_check(void *a)
{
	return ((struct targs *)a)->usage_please ? AG_CMD_USAGE : 0;
}

static int t_run(struct ag_state *st, void *a)
{
	(void)st;
	got = *(struct targs *)a;
	runs++;
	return 0;
}

static const struct ag_cmd t_cmd = {
	.name = "t",
	.summary = "test verb",
	.help = "  A verb with every type.\n",
	.opts = t_opts,
	.args = t_args,
	.size = sizeof(struct targs),
	.state = CMD_NO_STATE,
	.check = t_check,
	.run = t_run,
};

/*
 * Runs argv (words split on spaces) through the dispatcher, capturing both
 * streams. The words live until the next row: the fields point into them.
 */
static int dispatch(const char *line, char *out, size_t out_len, char *err, size_t err_len)
{
	static char *copy;
	char *argv[16], *save = NULL, *w;
	FILE *fo = tmpfile(), *fe = tmpfile();
	int argc = 0, rc, o1 = dup(1), o2 = dup(2);
	size_t n;

	free(copy);
	copy = strdup(line);
	for (w = strtok_r(copy, " ", &save); w && argc < 15; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	fflush(stdout);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	rc = ag_cmd_dispatch(&t_cmd, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	rewind(fo);
	rewind(fe);
	n = fread(out, 1, out_len - 1, fo);
	out[n] = '\0';
	n = fread(err, 1, err_len - 1, fe);
	err[n] = '\0';
	fclose(fo);
	fclose(fe);
	return rc;
}

static void first_line(char *s)
{
	char *nl = strchr(s, '\n');

	if (nl)
		*nl = '\0';
}

/* A row that must parse: the fields it sets are checked by the caller. */
static void parses(const char *line)
{
	char out[4096], err[4096];
	int before = runs, rc;

	rc = dispatch(line, out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0, "'%s': rc %d, stderr '%s'", line, rc, err);
	CHECK(runs == before + 1, "'%s': run() not called", line);
	CHECK(!*err, "'%s': stderr '%s'", line, err);
}

/* A row that must be refused with exactly this first line on stderr, run() never called. */
static void refused(const char *line, const char *want)
{
	char out[4096], err[4096];
	int before = runs, rc;

	rc = dispatch(line, out, sizeof(out), err, sizeof(err));
	first_line(err);
	CHECK(rc == -EINVAL, "'%s': rc %d, want -EINVAL", line, rc);
	CHECK(runs == before, "'%s': run() called", line);
	CHECK(!strcmp(err, want), "'%s': stderr\n    '%s'\n  want\n    '%s'", line, err, want);
}

static void test_defaults_mean_absent(void)
{
	parses("t word");
	CHECK(!strcmp(got.pos, "word"), "pos '%s'", got.pos);
	CHECK(got.nr_ports == 0 && !got.flag && got.u == -1 && got.rate == -1 && got.dur == -1 &&
		      got.e == -1 && got.nr_ifs == 0 && !got.cidr,
	      "u %ld rate %lld dur %ld e %d", got.u, got.rate, got.dur, got.e);
}

static void test_values_by_type(void)
{
	parses("t --flag word -u 10 --rate 1.5M --dur 500ms --enum b --cidr 2001:db8::/32");
	CHECK(got.flag, "flag");
	CHECK(got.u == 10, "u %ld", got.u);
	CHECK(got.rate == 1500000, "rate %lld", got.rate);
	CHECK(got.dur == 500, "dur %ld", got.dur);
	CHECK(got.e == 1, "e %d", got.e);
	CHECK(got.cidr && !strcmp(got.cidr, "2001:db8::/32"), "cidr");
	parses("t word --rate 0 --dur off --enum a");
	CHECK(got.rate == 0 && got.dur == 0 && got.e == 0, "rate %lld dur %ld e %d", got.rate,
	      got.dur, got.e);
}

static void test_options_after_operands(void)
{
	parses("t word 53 -f 123");
	CHECK(got.flag && got.nr_ports == 2 && got.ports[0] == 53 && got.ports[1] == 123,
	      "flag %d ports %u", got.flag, got.nr_ports);
}

static void test_repeatable(void)
{
	parses("t w --if eth0 --if eth1 --if eth2");
	CHECK(got.nr_ifs == 3 && !strcmp(got.ifs[2], "eth2"), "nr %u", got.nr_ifs);
	refused("t w --if a --if b --if c --if d", "ampguard: --if given more than 3 times");
	refused("t w 1 2 3 4 5", "ampguard: PORT given more than 4 times");
}

static void test_refusals_name_the_fix(void)
{
	refused("t w -u 0", "ampguard: bad --uint '0': use a whole number from 1 to 10");
	refused("t w --uint 11", "ampguard: bad --uint '11': use a whole number from 1 to 10");
	refused("t w --rate 2G",
		"ampguard: bad --rate '2G': use a whole number with an optional k, M or G suffix "
		"(e.g. 20k, 50M), at most 1G");
	refused("t w --dur 2h",
		"ampguard: bad --dur '2h': use e.g. 500ms, 5s, 2m (at most 1 hour) or off");
	refused("t w --enum c", "ampguard: bad --enum 'c': use a or b");
	refused("t w --if a/b", "ampguard: 'a/b' is no name");
	refused("t w --cidr 192.0.2.1/24",
		"ampguard: bad --cidr '192.0.2.1/24': host bits are set (did you mean 192.0.2.0/24?)");
	refused("t w 0", "ampguard: bad PORT '0': use a number from 1 to 65535");
}

static void test_usage_errors(void)
{
	refused("t", "usage: ampguard t POS [PORT...] [OPTIONS]");
	refused("t w --usage", "usage: ampguard t POS [PORT...] [OPTIONS]");
	refused("t w --bogus", "t: unrecognized option '--bogus'");
}

static void test_help_text(void)
{
	static const char want[] = "usage: ampguard t POS [PORT...] [OPTIONS]\n"
				   "  A verb with every type.\n"
				   "  POS                    a word\n"
				   "  -f, --flag             a flag\n"
				   "  -u, --uint N           1 to 10\n"
				   "  --rate R               a rate\n"
				   "  --dur D                a duration\n"
				   "  --enum E               a or b\n"
				   "  --if IFACE             an interface,\n"
				   "                         repeatable\n"
				   "  --cidr C               a CIDR\n"
				   "  --usage                check() asks for the usage\n"
				   "  -h, --help             this text\n";
	char out[4096], err[4096];
	int before = runs, rc;

	rc = dispatch("t --help", out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0, "rc %d", rc);
	CHECK(runs == before, "run() called");
	CHECK(!*err, "stderr '%s'", err);
	CHECK(!strcmp(out, want), "help:\n%s\nwant:\n%s", out, want);
}

int main(void)
{
	RUN(test_defaults_mean_absent);
	RUN(test_values_by_type);
	RUN(test_options_after_operands);
	RUN(test_repeatable);
	RUN(test_refusals_name_the_fix);
	RUN(test_usage_errors);
	RUN(test_help_text);
	return fixture_done();
}
