// SPDX-License-Identifier: GPL-2.0-only
/*
 * `upstream`: what the daemon asks of the upstream router. Without a
 * subcommand it lists the BGP neighbors and the rules from the daemon's
 * record (upstream.json in the state directory); announce and withdraw
 * go to the running daemon over its control socket, which owns ExaBGP;
 * bridge is the process ExaBGP runs to reach the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "cmd.h"

enum up_sub { UP_LIST, UP_ANNOUNCE, UP_WITHDRAW, UP_BRIDGE };

struct upstream_args {
	const char *words[3];
	unsigned int nr_words;
	int action;
	long long rate;
	long for_ms;
	bool all;
	bool json;
	enum up_sub sub;
};

static int action_parse(const char *s)
{
	return ag_up_action_parse(s);
}

static const struct ag_opt upstream_opts[] = {
	{ .name = "action",
	  .letter = 'a',
	  .type = OPT_ENUM,
	  .off = offsetof(struct upstream_args, action),
	  .metavar = "A",
	  .parse = action_parse,
	  .values = "discard, rate-limit or rtbh",
	  .help = "announce: discard | rate-limit | rtbh (default: the file's action)" },
	{ .name = "rate",
	  .letter = 'r',
	  .type = OPT_RATE,
	  .off = offsetof(struct upstream_args, rate),
	  .metavar = "BPS",
	  .min = 8,
	  .max = AG_MAX_BITS_RATE,
	  .help = "announce: the rate-limit in bits/s (default: the file's rate-limit-bps)" },
	{ .name = "for",
	  .letter = 'f',
	  .type = OPT_DURATION,
	  .off = offsetof(struct upstream_args, for_ms),
	  .metavar = "DURATION",
	  .help = "announce: withdraw by itself after DURATION (default: until withdrawn)" },
	{ .name = "all",
	  .type = OPT_FLAG,
	  .off = offsetof(struct upstream_args, all),
	  .help = "withdraw: every rule, automatic ones included" },
	AG_OPT_JSON(struct upstream_args, "list: {\"neighbors\": [...], \"rules\": [...]}"),
	AG_OPT_END,
};

static const struct ag_opt upstream_positional[] = {
	{ .name = "SUBCOMMAND",
	  .type = OPT_STRING,
	  .off = offsetof(struct upstream_args, words),
	  .repeat = 3,
	  .count_off = offsetof(struct upstream_args, nr_words),
	  .optional = true,
	  .help = "announce VECTOR DESTINATION | withdraw VECTOR DESTINATION |\n"
		  "withdraw --all | bridge SOCKET" },
	AG_OPT_END,
};

static int usage_error(const char *what)
{
	ag_err("upstream: %s", what);
	return AG_CMD_USAGE;
}

static int check_upstream(void *p)
{
	struct upstream_args *a = p;
	const char *sub = a->nr_words ? a->words[0] : "";
	unsigned int want;
	__u8 addr[16];
	int family;

	if (!a->nr_words) {
		a->sub = UP_LIST;
		want = 0;
	} else if (!strcmp(sub, "announce")) {
		a->sub = UP_ANNOUNCE;
		want = 3;
	} else if (!strcmp(sub, "withdraw")) {
		a->sub = UP_WITHDRAW;
		want = a->all ? 1 : 3;
	} else if (!strcmp(sub, "bridge")) {
		a->sub = UP_BRIDGE;
		want = 2;
	} else {
		return usage_error("unknown subcommand: use announce, withdraw or bridge");
	}
	if (a->sub && a->nr_words != want)
		return usage_error(a->sub == UP_ANNOUNCE ? "announce takes VECTOR DESTINATION" :
				   a->sub == UP_BRIDGE   ? "bridge takes the daemon's SOCKET" :
				   a->all                ? "withdraw --all takes nothing else" :
					    "withdraw takes VECTOR DESTINATION, or --all");
	if ((a->action >= 0 || a->rate >= 0 || a->for_ms >= 0) && a->sub != UP_ANNOUNCE)
		return usage_error("--action, --rate and --for go with announce");
	if (a->all && a->sub != UP_WITHDRAW)
		return usage_error("--all goes with withdraw");
	if (a->json && a->sub != UP_LIST)
		return usage_error("--json goes with the list");
	if (want == 3 && ag_up_addr_parse(a->words[2], &family, addr)) {
		ag_err("upstream: bad destination '%s': one IPv4 or IPv6 address (the attacked one, not a network)",
		       a->words[2]);
		return -EINVAL;
	}
	if (a->rate >= 0 && a->action != AG_UP_RATE_LIMIT)
		return usage_error("--rate goes with --action rate-limit");
	return 0;
}

static int ask(const char *req)
{
	char ans[512];
	int err = ag_upstream_request(req, ans, sizeof(ans));

	if (err == -ENOENT || err == -ECONNREFUSED) {
		ag_err("upstream: no daemon answers on %s/%s: start 'ampguard daemon --config FILE' with an upstream: section",
		       ag_state_dir(), AG_UP_CTL_SOCK);
		return err;
	}
	if (err) {
		ag_err("upstream: asking the daemon: %s", strerror(-err));
		return err;
	}
	if (!strncmp(ans, "ok ", 3)) {
		printf("%s\n", ans + 3);
		return 0;
	}
	ag_err("upstream: %s", strncmp(ans, "error ", 6) ? ans : ans + 6);
	return -EPERM;
}

/* The record, if a daemon that runs now wrote it. */
static json_object *record(void)
{
	json_object *o;
	int err = ag_daemon_record_read(AG_UP_RECORD, &o);

	if (err == -EINVAL)
		ag_err("upstream: %s/%s is unreadable", ag_state_dir(), AG_UP_RECORD);
	else if (err == -ESRCH)
		ag_err("upstream: the daemon that wrote %s/%s is not running: nothing is announced by it now",
		       ag_state_dir(), AG_UP_RECORD);
	else if (err)
		ag_err("upstream: no daemon has run with an upstream: section here (%s/%s: %s)",
		       ag_state_dir(), AG_UP_RECORD, strerror(-err));
	return err ? NULL : o;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

static int list(bool json)
{
	json_object *o = record(), *nbs, *rules, *out, *x;
	size_t i;

	if (!o)
		return -ENOENT;
	json_object_object_get_ex(o, "neighbors", &nbs);
	json_object_object_get_ex(o, "rules", &rules);
	if (json) {
		out = json_object_new_object();
		json_object_object_add(out, "neighbors", json_object_get(nbs));
		json_object_object_add(out, "rules", json_object_get(rules));
		/* The record's own fields for the next daemon are not the interface. */
		for (i = 0; i < json_object_array_length(rules); i++) {
			x = json_object_array_get_idx(rules, i);
			json_object_object_del(x, "slot");
			json_object_object_del(x, "since_s");
			json_object_object_del(x, "expires_s");
			json_object_object_del(x, "fragments");
		}
		ag_json_print(out, true);
		json_object_put(o);
		return 0;
	}
	printf("%-39s %-10s %s\n", "NEIGHBOR", "PEER AS", "STATE");
	for (i = 0; i < json_object_array_length(nbs); i++) {
		x = json_object_array_get_idx(nbs, i);
		printf("%-39s %-10s %s\n", str(x, "address"), str(x, "peer_as"), str(x, "state"));
	}
	printf("\n%-16s %-39s %-10s %-7s %s\n", "VECTOR(PORT)", "DESTINATION", "ACTION", "ORIGIN",
	       "SINCE");
	for (i = 0; i < json_object_array_length(rules); i++) {
		char vec[64];

		x = json_object_array_get_idx(rules, i);
		snprintf(vec, sizeof(vec), "%s(%s)", str(x, "vector"), str(x, "port"));
		printf("%-16s %-39s %-10s %-7s %s%s%s\n", vec, str(x, "destination"),
		       str(x, "action"), str(x, "origin"), str(x, "since"),
		       json_object_object_get_ex(x, "expires", NULL) ? " until " : "",
		       json_object_object_get_ex(x, "expires", NULL) ? str(x, "expires") : "");
	}
	if (!json_object_array_length(rules))
		printf("(no rules)\n");
	json_object_put(o);
	return 0;
}

static int do_upstream(struct ag_state *unused, void *p)
{
	struct upstream_args *a = p;
	char req[256];

	(void)unused;
	switch (a->sub) {
	case UP_LIST:
		return list(a->json);
	case UP_ANNOUNCE:
		snprintf(req, sizeof(req), "announce %s %s %s %lld %ld\n", a->words[1], a->words[2],
			 a->action >= 0 ? ag_up_action_name(a->action) : "default",
			 a->rate > 0 ? a->rate : 0, a->for_ms > 0 ? (a->for_ms + 999) / 1000 : 0);
		return ask(req);
	case UP_WITHDRAW:
		if (a->all)
			return ask("withdraw-all\n");
		snprintf(req, sizeof(req), "withdraw %s %s\n", a->words[1], a->words[2]);
		return ask(req);
	default:
		return ag_bridge_run(a->words[1]);
	}
}

const struct ag_cmd cmd_upstream = {
	.name = "upstream",
	.summary = "BGP FlowSpec/RTBH rules at the upstream router: list, announce, withdraw",
	.help = "  Lists the daemon's BGP neighbors and the rules it announces through ExaBGP\n"
		"  (automatic ones from detection, manual ones from here). announce asks the\n"
		"  router to discard, rate-limit or blackhole one vector's traffic to one\n"
		"  protected address; withdraw takes it back. bridge SOCKET is what ExaBGP runs\n"
		"  (process ... { run ampguard upstream bridge SOCKET; encoder json; }).\n",
	.opts = upstream_opts,
	.args = upstream_positional,
	.size = sizeof(struct upstream_args),
	.state = CMD_NO_STATE,
	.check = check_upstream,
	.run = do_upstream,
};
