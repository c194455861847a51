// SPDX-License-Identifier: GPL-2.0-only
/*
 * `events`: the daemon's event history, newest last, from the state
 * directory: there whether or not a daemon runs now, and after restarts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "cmd.h"

struct events_args {
	long n;
	bool json;
};

static const struct ag_opt events_opts[] = {
	{ .letter = 'n',
	  .type = OPT_UINT,
	  .off = offsetof(struct events_args, n),
	  .metavar = "N",
	  .min = 1,
	  .max = AG_EVENTS_KEPT,
	  .help = "the newest N events (default 20)" },
	AG_OPT_JSON(struct events_args, "a JSON array of the events as the daemon wrote them"),
	AG_OPT_END,
};

static const char *field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

/* TIME EVENT INTERFACE VECTOR(PORT) and the rest of the fields as key=value. */
static void print_line(const char *line)
{
	json_object *o = json_tokener_parse(line);
	struct json_object_iter it;

	if (!o) {
		printf("%s\n", line);
		return;
	}
	printf("%-20s %-12s %-15s %s(%s)", field(o, "time"), field(o, "event"),
	       field(o, "interface"), field(o, "vector"), field(o, "port"));
	json_object_object_foreachC(o, it)
	{
		if (strcmp(it.key, "time") && strcmp(it.key, "event") &&
		    strcmp(it.key, "interface") && strcmp(it.key, "vector") &&
		    strcmp(it.key, "port"))
			printf(" %s=%s", it.key,
			       json_object_to_json_string_ext(it.val, JSON_C_TO_STRING_PLAIN));
	}
	printf("\n");
	json_object_put(o);
}

static int do_events(struct ag_state *unused, void *p)
{
	const struct events_args *a = p;
	size_t n, i, from, want = a->n > 0 ? (size_t)a->n : 20;
	json_object *arr = NULL, *o;
	char **lines;
	int err;

	(void)unused;
	err = ag_events_read(&lines, &n);
	if (err) {
		ag_err("reading %s/events.jsonl: %s", ag_state_dir(), strerror(-err));
		return err;
	}
	from = n > want ? n - want : 0;
	if (a->json)
		arr = json_object_new_array();
	else if (!n)
		printf("(no events in %s)\n", ag_state_dir());
	for (i = from; i < n; i++) {
		if (!a->json) {
			print_line(lines[i]);
			continue;
		}
		o = json_tokener_parse(lines[i]);
		if (o)
			json_object_array_add(arr, o);
	}
	if (a->json)
		ag_json_print(arr, true);
	ag_events_free(lines, n);
	return 0;
}

const struct ag_cmd cmd_events = {
	.name = "events",
	.summary = "the daemon's attack events, newest last",
	.help = "  Attack starts and ends, escalations and releases, as the daemon recorded them\n"
		"  (the newest " AG_STR(AG_EVENTS_KEPT) " are kept).\n",
	.opts = events_opts,
	.size = sizeof(struct events_args),
	.state = CMD_NO_STATE,
	.run = do_events,
};
