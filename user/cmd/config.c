// SPDX-License-Identifier: GPL-2.0-only
/*
 * `apply` and `config`: the declarative face. apply makes the running state
 * equal to a file, all or nothing (user/lib/config.c); config shows the
 * running state as such a file, or checks one without applying it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

struct apply_args {
	const char *file;
	bool dry_run;
};

static const struct ag_opt apply_opts[] = {
	{ .name = "dry-run",
	  .letter = 'n',
	  .type = OPT_FLAG,
	  .off = offsetof(struct apply_args, dry_run),
	  .help = "list the changes without making them" },
	AG_OPT_END,
};

static const struct ag_opt apply_positional[] = {
	{ .name = "FILE", .type = OPT_STRING, .off = offsetof(struct apply_args, file) },
	AG_OPT_END,
};

static int do_apply(struct ag_state *unused, void *p)
{
	const struct apply_args *a = p;

	(void)unused;
	return ag_conf_apply_file(a->file, NULL, a->dry_run);
}

const struct ag_cmd cmd_apply = {
	.name = "apply",
	.summary = "make the running state equal to a configuration file",
	.help = "  Makes the running state equal to FILE, all at once or not at all: vectors,\n"
		"  custom ports, served ports, allow/deny lists, and (when FILE has an interfaces\n"
		"  section) which interfaces are protected. Vectors FILE leaves out take their\n"
		"  defaults.\n",
	.opts = apply_opts,
	.args = apply_positional,
	.size = sizeof(struct apply_args),
	.state = CMD_NO_STATE,
	.run = do_apply,
};

enum config_action { CONFIG_SHOW, CONFIG_CHECK };

struct config_args {
	int action;
	const char *file;
};

static int config_action_parse(const char *s)
{
	if (!strcmp(s, "show"))
		return CONFIG_SHOW;
	if (!strcmp(s, "check"))
		return CONFIG_CHECK;
	return -1;
}

static const struct ag_opt config_positional[] = {
	{ .name = "show|check",
	  .type = OPT_ENUM,
	  .off = offsetof(struct config_args, action),
	  .parse = config_action_parse,
	  .bad = "unknown config action '%s': use show or check",
	  .help = "show: the running state as a configuration file ('config show > f &&\n"
		  "ampguard apply f' changes nothing); check: validate FILE (and the\n"
		  "list files it names) without applying it" },
	{ .name = "FILE",
	  .type = OPT_STRING,
	  .off = offsetof(struct config_args, file),
	  .optional = true },
	AG_OPT_END,
};

/* show takes no file, check needs one. */
static int check_config(void *p)
{
	const struct config_args *a = p;

	return (a->action == CONFIG_CHECK) != (a->file != NULL) ? AG_CMD_USAGE : 0;
}

static int config_check(const char *file)
{
	struct ag_conf c;
	char err[512];
	int ret;

	ret = ag_conf_load(file, &c, err, sizeof(err));
	if (ret) {
		ag_err("%s", err);
		return ret;
	}
	printf("%s: valid\n", file);
	ag_conf_free(&c);
	return 0;
}

static int do_config(struct ag_state *unused, void *p)
{
	const struct config_args *a = p;
	struct ag_state st;
	int ret;

	(void)unused;
	if (a->action == CONFIG_CHECK)
		return config_check(a->file);
	ret = ag_state_open(&st, AG_LOCK_NONE);
	if (ret)
		return ret;
	ret = ag_conf_write_running(&st, stdout);
	ag_state_close(&st);
	return ret;
}

const struct ag_cmd cmd_config = {
	.name = "config",
	.summary = "show the running state as a configuration, or check a file",
	.help = "",
	.args = config_positional,
	.size = sizeof(struct config_args),
	.check = check_config,
	.state = CMD_NO_STATE,
	.run = do_config,
};
