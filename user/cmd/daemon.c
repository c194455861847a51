// SPDX-License-Identifier: GPL-2.0-only
/*
 * `daemon`: the one long-running process. It serves /metrics, applies the
 * configuration file at start and on SIGHUP (a bad file keeps what runs,
 * thresholds included), runs detection every interval and exits on SIGINT
 * or SIGTERM. Protection never depends on it: programs and maps live in
 * pins, and what it escalated is in the state directory for the next
 * daemon to carry on. With an upstream: section it also runs the BGP
 * speaker and answers `ampguard upstream` on its control socket. Signals
 * are taken synchronously here (a signalfd in the one poll loop); the HTTP
 * and webhook threads never see them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>

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
	struct ag_upstream *up;
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
	if (d->up && !d->conf.upstream.enabled) {
		ag_log("upstream: section removed: withdrawing and stopping the speaker");
		ag_upstream_stop(d->up);
		d->up = NULL;
	} else if (d->up) {
		ag_upstream_configure(d->up, &d->conf);
	} else if (d->conf.upstream.enabled) {
		d->up = ag_upstream_start(&d->conf);
		if (!d->up)
			ag_log("upstream: not started; fix the upstream: section and send SIGHUP");
	}
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
	/* Withdrawals are events too: before the webhooks stop. */
	ag_upstream_stop(d->up);
	ag_webhooks_stop();
	ag_detector_free(d->det);
	ag_exporter_stop(d->http);
	ag_conf_free(&d->conf);
}

/* 1 to stop. */
static int on_signal(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		if (!load(d, true))
			configure(d);
		return 0;
	}
	ag_log("daemon: stopping (signal %u)", si.ssi_signo);
	return 1;
}

/*
 * Ticks on a fixed grid, so a slow interval does not shift every later
 * one. Between ticks: signals, and the upstream's sockets. A managed
 * ExaBGP's death is noticed at the next tick or socket event.
 */
static void run(struct daemon *d, int sfd)
{
	struct pollfd fds[1 + AG_UP_FDS];
	double next = ag_mono_s(), left;
	int n;

	for (;;) {
		left = next - ag_mono_s();
		if (left <= 0) {
			ag_detector_step(d->det);
			ag_upstream_step(d->up, d->det);
			next += d->conf.detection.interval_ms / 1000.0;
			if (next < ag_mono_s())
				next = ag_mono_s() + d->conf.detection.interval_ms / 1000.0;
			continue;
		}
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		n = 1 + ag_upstream_fds(d->up, fds + 1);
		if (poll(fds, n, (int)(left * 1000) + 1) <= 0)
			continue;
		if (fds[0].revents && on_signal(d, sfd))
			return;
		ag_upstream_events(d->up, fds + 1, n - 1);
	}
}

static int do_daemon(struct ag_state *unused, void *p)
{
	struct daemon d = { .a = p };
	sigset_t set;
	int err, sfd;

	(void)unused;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Events go to stdout: a reader that goes away must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	err = start(&d);
	if (!err)
		run(&d, sfd);
	stop(&d);
	close(sfd);
	return err;
}

const struct ag_cmd cmd_daemon = {
	.name = "daemon",
	.summary = "detect attacks, escalate, notify and serve metrics (long-running)",
	.help = "  Serves Prometheus metrics, applies FILE, and every detection interval\n"
		"  computes each protected interface and vector's unsolicited rate: an attack\n"
		"  starts and ends by the thresholds in FILE (detection: and each vector's auto:),\n"
		"  escalates vectors that ask for it, and is told as JSON lines on stdout, in\n"
		"  'ampguard events' and to webhooks. With an upstream: section it runs ExaBGP\n"
		"  and asks the upstream router (BGP FlowSpec or RTBH) to drop what fills the\n"
		"  uplink (see 'ampguard upstream'). Runs until SIGINT or SIGTERM.\n",
	.opts = daemon_opts,
	.size = sizeof(struct daemon_args),
	.state = CMD_NO_STATE,
	.run = do_daemon,
};
