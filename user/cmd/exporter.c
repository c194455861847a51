// SPDX-License-Identifier: GPL-2.0-only
/*
 * `exporter`: Prometheus metrics over HTTP until SIGINT or SIGTERM, the
 * configuration file applied at start and again on SIGHUP (a bad file on
 * reload is logged and what runs is kept). Signals are taken
 * synchronously here; the server's threads never see them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

struct exporter_args {
	const char *listen;
	const char *config;
	bool once;
};

static const struct ag_opt exporter_opts[] = {
	{ .name = "listen",
	  .letter = 'l',
	  .type = OPT_STRING,
	  .off = offsetof(struct exporter_args, listen),
	  .metavar = "ADDRESS:PORT",
	  .help = "where to serve (default " AG_DEFAULT_LISTEN ", loopback only)" },
	{ .name = "config",
	  .letter = 'c',
	  .type = OPT_STRING,
	  .off = offsetof(struct exporter_args, config),
	  .metavar = "FILE",
	  .help = "apply FILE at start and again on SIGHUP (all or nothing; a bad\n"
		  "file is logged and the running state kept); its exporter.listen\n"
		  "is the default address" },
	{ .name = "once",
	  .letter = 'o',
	  .type = OPT_FLAG,
	  .off = offsetof(struct exporter_args, once),
	  .help = "print the metrics to stdout and exit (promtool, textfile collectors)" },
	AG_OPT_END,
};

/* Applies the file; its exporter.listen, if any, goes to listen_buf. */
static int load_config(const char *path, char *listen_buf, size_t len, bool reload)
{
	struct ag_conf c;
	int ret;

	ret = ag_conf_apply_logged(path, &c, reload, NULL, NULL);
	if (ret)
		return ret;
	if (listen_buf && *c.listen)
		snprintf(listen_buf, len, "%s", c.listen);
	ag_conf_free(&c);
	return 0;
}

static int print_once(void)
{
	char *body = NULL;
	size_t len;
	int err;

	err = ag_metrics_render(&body, &len);
	if (!err)
		fwrite(body, 1, len, stdout);
	else
		ag_bpf_err(err, "reading state");
	free(body);
	return err;
}

static int do_exporter(struct ag_state *unused, void *p)
{
	const struct exporter_args *a = p;
	char file_listen[64] = AG_DEFAULT_LISTEN;
	const char *listen_spec = a->listen;
	struct ag_exporter *e;
	sigset_t set;
	int sig, err;

	(void)unused;
	if (a->once)
		return print_once();
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (a->config && (err = load_config(a->config, file_listen, sizeof(file_listen), false)))
		return err;
	if (!listen_spec)
		listen_spec = file_listen;
	e = ag_exporter_start(listen_spec);
	if (!e)
		return -EIO;
	fprintf(stderr, "ampguard: exporter listening on http://%s/metrics\n", listen_spec);
	while (!sigwait(&set, &sig) && sig == SIGHUP) {
		if (a->config)
			load_config(a->config, NULL, 0, true);
	}
	ag_exporter_stop(e);
	return 0;
}

const struct ag_cmd cmd_exporter = {
	.name = "exporter",
	.summary = "serve Prometheus metrics over HTTP",
	.help = "  Serves Prometheus metrics at http://ADDRESS:PORT/metrics until SIGINT or SIGTERM.\n",
	.opts = exporter_opts,
	.size = sizeof(struct exporter_args),
	.state = CMD_NO_STATE,
	.run = do_exporter,
};
