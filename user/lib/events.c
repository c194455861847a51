// SPDX-License-Identifier: GPL-2.0-only
/*
 * An event goes three ways: one JSON line on stdout (the journal), the
 * bounded history in the state directory (`ampguard events`), and every
 * webhook. Only the webhooks can be slow, and they run on their own
 * thread: publishing never waits for the network.
 */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "daemon.h"

void ag_event_publish(json_object *ev)
{
	const char *line = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
	int err;

	printf("%s\n", line);
	fflush(stdout);
	err = ag_events_append(line);
	if (err)
		ag_log("keeping the event history in %s: %s", ag_state_dir(), strerror(-err));
	ag_webhooks_post(line);
	json_object_put(ev);
}
