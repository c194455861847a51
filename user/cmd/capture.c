// SPDX-License-Identifier: GPL-2.0-only
/*
 * `capture`: samples of what the datapath judges, to pcapng (with each
 * packet's verdict, reason and vector) or classic pcap. Every selection
 * but the filter expression is made in the datapath before any copy.
 * Reason and vector names are checked before the state is touched; the
 * vectors are resolved against the running policy.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define MAX_WORDS 64

enum verdict { V_DROP, V_PASS, V_ALL };

struct capture_args {
	const char *file;
	int verdict;
	const char *reasons;
	const char *vectors;
	long sample;
	long max_pps;
	long snaplen;
	long count;
	long duration_ms;
	int format; /* 0 pcapng, 1 pcap */
	const char *words[MAX_WORDS];
	unsigned int nr_words;
	__u32 reason_mask;
	const char *iface; /* the first word, when it names an interface */
	char filter[4096];
};

static int verdict_parse(const char *s)
{
	return !strcmp(s, "drop") ? V_DROP :
	       !strcmp(s, "pass") ? V_PASS :
	       !strcmp(s, "all")  ? V_ALL :
				    -1;
}

static int format_parse(const char *s)
{
	return !strcmp(s, "pcapng") ? 0 : !strcmp(s, "pcap") ? 1 : -1;
}

static const struct ag_opt capture_opts[] = {
	{ .letter = 'w',
	  .type = OPT_STRING,
	  .off = offsetof(struct capture_args, file),
	  .metavar = "FILE|-",
	  .help = "write to FILE, or to stdout (-), flushed per batch" },
	{ .name = "verdict",
	  .type = OPT_ENUM,
	  .off = offsetof(struct capture_args, verdict),
	  .metavar = "V",
	  .parse = verdict_parse,
	  .values = "drop, pass or all",
	  .help = "drop (default) | pass | all" },
	{ .name = "reason",
	  .type = OPT_STRING,
	  .off = offsetof(struct capture_args, reasons),
	  .metavar = "R[,R...]",
	  .help = "only these reasons (as 'ampguard stats' names them)" },
	{ .name = "vector",
	  .type = OPT_STRING,
	  .off = offsetof(struct capture_args, vectors),
	  .metavar = "V[,V...]",
	  .help = "only these vectors (names or ports; 'none' for traffic of no vector)" },
	{ .name = "sample",
	  .type = OPT_UINT,
	  .off = offsetof(struct capture_args, sample),
	  .metavar = "N",
	  .min = 1,
	  .max = 1000000000,
	  .help = "one in N of the matching frames, per CPU (default 1)" },
	{ .name = "max-pps",
	  .type = OPT_UINT,
	  .off = offsetof(struct capture_args, max_pps),
	  .metavar = "N",
	  .min = 1,
	  .max = 10000000,
	  .help = "at most N samples per second across CPUs, burst N/10 (default 1000)" },
	{ .name = "snaplen",
	  .type = OPT_UINT,
	  .off = offsetof(struct capture_args, snaplen),
	  .metavar = "BYTES",
	  .min = 64,
	  .max = 65535,
	  .help = "bytes kept of each frame (default 256)" },
	{ .letter = 'c',
	  .type = OPT_UINT,
	  .off = offsetof(struct capture_args, count),
	  .metavar = "COUNT",
	  .min = 1,
	  .max = 1000000000,
	  .help = "stop after COUNT packets written" },
	{ .name = "duration",
	  .type = OPT_DURATION,
	  .off = offsetof(struct capture_args, duration_ms),
	  .metavar = "DURATION",
	  .help = "stop after DURATION (at most 1h)" },
	{ .name = "format",
	  .type = OPT_ENUM,
	  .off = offsetof(struct capture_args, format),
	  .metavar = "F",
	  .parse = format_parse,
	  .values = "pcapng or pcap",
	  .help = "pcapng (default: verdict comments) | pcap (classic, no metadata)" },
	AG_OPT_END,
};

static const struct ag_opt capture_positional[] = {
	{ .name = "[IFACE] [FILTER EXPRESSION]",
	  .type = OPT_STRING,
	  .off = offsetof(struct capture_args, words),
	  .repeat = MAX_WORDS,
	  .count_off = offsetof(struct capture_args, nr_words),
	  .optional = true,
	  .help = "a protected interface (default: all), then a tcpdump filter\n"
		  "applied to the samples" },
	AG_OPT_END,
};

static int reason_of(const char *name)
{
	unsigned int r;

	for (r = 0; r < AG_REASON__MAX; r++)
		if (!strcmp(ag_reason_name(r), name))
			return r;
	return -1;
}

static __u32 verdict_mask(int verdict)
{
	__u32 m = 0;
	unsigned int r;

	for (r = 0; r < AG_REASON__MAX; r++)
		if (verdict == V_ALL || (verdict == V_DROP) == !!ag_reason_drops(r))
			m |= 1U << r;
	return m;
}

static int check_capture(void *p)
{
	struct capture_args *a = p;
	char list[1024], *tok, *save, why[256];
	unsigned int i, start = 0;
	__u32 named = 0;
	size_t used = 0;
	int r;

	if (!a->file) {
		ag_err("capture: -w FILE is required (- for stdout)");
		return AG_CMD_USAGE;
	}
	a->reason_mask = verdict_mask(a->verdict < 0 ? V_DROP : a->verdict);
	if (a->reasons) {
		snprintf(list, sizeof(list), "%s", a->reasons);
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			r = reason_of(tok);
			if (r < 0) {
				ag_err("capture: unknown reason '%s' (the names 'ampguard stats' shows)",
				       tok);
				return -EINVAL;
			}
			named |= 1U << r;
		}
		a->reason_mask &= named;
		if (!a->reason_mask) {
			ag_err("capture: no reason given has verdict %s: add --verdict all",
			       a->verdict == V_PASS ? "pass" : "drop");
			return -EINVAL;
		}
	}
	/* The first word names an interface only when it is not filter syntax. */
	if (a->nr_words && ag_ifname_valid(a->words[0]) && if_nametoindex(a->words[0])) {
		a->iface = a->words[0];
		start = 1;
	}
	for (i = start; i < a->nr_words; i++) {
		r = snprintf(a->filter + used, sizeof(a->filter) - used, "%s%s",
			     i > start ? " " : "", a->words[i]);
		if (r < 0 || (size_t)r >= sizeof(a->filter) - used) {
			ag_err("capture: the filter expression is too long");
			return -EINVAL;
		}
		used += r;
	}
	if (*a->filter && ag_capture_filter_check(a->filter, why, sizeof(why))) {
		ag_err("capture: bad filter expression '%s': %s", a->filter, why);
		return -EINVAL;
	}
	return 0;
}

/* The vector mask from names or ports, against the running policy. */
static int vector_mask(const char *spec, __u64 *mask)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	char list[1024], *tok, *save;
	struct ag_state st;
	int err, slot, port;

	*mask = ~0ULL;
	if (!spec)
		return 0;
	err = ag_state_open(&st, AG_LOCK_NONE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	ag_state_close(&st);
	if (err)
		return err;
	*mask = 0;
	snprintf(list, sizeof(list), "%s", spec);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "none")) {
			*mask |= 1;
			continue;
		}
		slot = ag_policy_find(tbl, tok, &port);
		if (slot <= 0 || !tbl[slot].in_use) {
			ag_err("capture: no vector '%s' runs here (see 'ampguard vectors')", tok);
			return -ENOENT;
		}
		*mask |= 1ULL << slot;
	}
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int do_capture(struct ag_state *unused, void *p)
{
	struct capture_args *a = p;
	struct ag_capture_req r = {
		.iface = a->iface,
		.reasons = a->reason_mask,
		.sample = a->sample > 0 ? a->sample : 1,
		.max_pps = a->max_pps > 0 ? a->max_pps : 1000,
		.snaplen = a->snaplen > 0 ? a->snaplen : 256,
		.count = a->count > 0 ? a->count : 0,
		.duration_ms = a->duration_ms > 0 ? a->duration_ms : 0,
		.filter = *a->filter ? a->filter : NULL,
		.pcap = a->format == 1,
		.stop = &stop,
	};
	struct ag_capture_summary sum;
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	(void)unused;
	err = vector_mask(a->vectors, &r.vectors);
	if (err)
		return err;
	r.path = a->file;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader of -w - that goes away ends the capture, not the process. */
	signal(SIGPIPE, SIG_IGN);
	err = ag_capture_run(&r, &sum);
	if (err && !sum.sampled && err != -EPIPE)
		return err == -EBUSY || err == -ENOENT || err == -EINVAL ?
			       err :
			       ag_bpf_err(err, "capture");
	fprintf(stderr, "capture: sampled %llu, written %llu, filtered out %llu, lost %llu\n",
		(unsigned long long)sum.sampled, (unsigned long long)sum.written,
		(unsigned long long)sum.filtered, (unsigned long long)sum.lost);
	if (err && err != -EPIPE)
		return ag_bpf_err(err, "capture");
	return 0;
}

const struct ag_cmd cmd_capture = {
	.name = "capture",
	.summary = "samples of what is dropped (or passed) to pcapng, with the verdict",
	.help = "  Writes samples of the frames the datapath judges, chosen in the datapath by\n"
		"  verdict, reason, vector and interface, 1 in N and under a rate cap, as pcapng\n"
		"  with 'ampguard verdict=... reason=... vector=... port=... iface=... sample=1/N'\n"
		"  on every packet. Stops at COUNT, after DURATION, or on Ctrl-C, and prints a\n"
		"  summary line on stderr. One capture at a time.\n",
	.opts = capture_opts,
	.args = capture_positional,
	.size = sizeof(struct capture_args),
	.state = CMD_NO_STATE,
	.check = check_capture,
	.run = do_capture,
};
