// SPDX-License-Identifier: GPL-2.0-only
/*
 * `daemon`: the one long-running process. It serves /metrics, applies the
 * configuration file at start and on SIGHUP (a bad file keeps what runs,
 * thresholds included), runs detection every interval and exits on SIGINT
 * or SIGTERM. Protection never depends on it: programs and maps live in
 * pins, and what it escalated is in the state directory for the next
 * daemon to carry on. Signals are taken synchronously here; the HTTP and
 * webhook threads never see them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

struct daemon_args {
	const char *listen;
	const char *config;
};

static const struct ag_opt daemon_opts[] = {
	{ .name = "config",
	  .letter = 'c',
	  .type = OPT_STRING,
	  .off = offsetof(struct daemon_args, config),
	  .metavar = "FILE",
	  .help = "apply FILE at start and again on SIGHUP (all or nothing; a bad\n"
		  "file is logged and the running state kept); its detection and\n"
		  "notify sections drive the daemon" },
	{ .name = "listen",
	  .letter = 'l',
	  .type = OPT_STRING,
	  .off = offsetof(struct daemon_args, listen),
	  .metavar = "ADDRESS:PORT",
	  .help = "serve /metrics here (default: the file's exporter.listen, else\n" AG_DEFAULT_LISTEN
		  ", loopback only)" },
	AG_OPT_END,
};

struct daemon {
	const struct daemon_args *a;
	struct ag_conf conf;
	struct ag_detector *det;
	struct ag_exporter *http;
};

/* The file's settings take over only once the file is applied whole. */
static int load(struct daemon *d, bool reload)
{
	struct ag_conf c;
	int err;

	if (!d->a->config)
		return 0;
	err = ag_conf_apply_logged(d->a->config, &c, reload, ag_detector_overlay, d->det);
	if (err)
		return err;
	ag_conf_free(&d->conf);
	d->conf = c;
	return 0;
}

static void configure(struct daemon *d)
{
	ag_detector_configure(d->det, &d->conf);
	if (ag_webhooks_start(d->conf.webhooks, d->conf.nr_webhooks))
		ag_log("webhooks off until the configuration is fixed");
}

static int start(struct daemon *d)
{
	const char *listen = d->a->listen;
	int err;

	ag_conf_init(&d->conf);
	/* First the records: the file applied next must not undo an escalation. */
	d->det = ag_detector_new(&d->conf);
	if (!d->det)
		return -ENOMEM;
	err = load(d, false);
	if (err)
		return err;
	if (!listen)
		listen = *d->conf.listen ? d->conf.listen : AG_DEFAULT_LISTEN;
	d->http = ag_exporter_start(listen);
	if (!d->http)
		return -EIO;
	configure(d);
	ag_log("daemon: metrics on http://%s/metrics, detection every %lu ms", listen,
	       d->conf.detection.interval_ms);
	return 0;
}

static void stop(struct daemon *d)
{
	ag_webhooks_stop();
	ag_detector_free(d->det);
	ag_exporter_stop(d->http);
	ag_conf_free(&d->conf);
}

/* Ticks on a fixed grid, so a slow interval does not shift every later one. */
static void run(struct daemon *d, const sigset_t *set)
{
	double next = ag_mono_s(), left;
	struct timespec ts;
	int sig;

	for (;;) {
		left = next - ag_mono_s();
		if (left <= 0) {
			ag_detector_step(d->det);
			next += d->conf.detection.interval_ms / 1000.0;
			if (next < ag_mono_s())
				next = ag_mono_s() + d->conf.detection.interval_ms / 1000.0;
			continue;
		}
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGHUP) {
			if (!load(d, true))
				configure(d);
		} else if (sig == SIGINT || sig == SIGTERM) {
			ag_log("daemon: stopping (signal %d)", sig);
			return;
		}
	}
}

static int do_daemon(struct ag_state *unused, void *p)
{
	struct daemon d = { .a = p };
	sigset_t set;
	int err;

	(void)unused;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Events go to stdout: a reader that goes away must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	err = start(&d);
	if (!err)
		run(&d, &set);
	stop(&d);
	return err;
}

const struct ag_cmd cmd_daemon = {
	.name = "daemon",
	.summary = "detect attacks, escalate, notify and serve metrics (long-running)",
	.help = "  Serves Prometheus metrics, applies FILE, and every detection interval\n"
		"  computes each protected interface and vector's unsolicited rate: an attack\n"
		"  starts and ends by the thresholds in FILE (detection: and each vector's auto:),\n"
		"  escalates vectors that ask for it, and is told as JSON lines on stdout, in\n"
		"  'ampguard events' and to webhooks. Runs until SIGINT or SIGTERM.\n",
	.opts = daemon_opts,
	.size = sizeof(struct daemon_args),
	.state = CMD_NO_STATE,
	.run = do_daemon,
};
