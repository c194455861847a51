/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon layer, above configuration: attack detection and automatic
 * escalation over the counters, and the events that tell people (stdout,
 * the history in the state directory, webhooks).
 */
#ifndef AG_DAEMON_H
#define AG_DAEMON_H

#include "config.h"

/* detect.c */
struct ag_detector;
struct ag_detector *ag_detector_new(const struct ag_conf *c);
void ag_detector_configure(struct ag_detector *d, const struct ag_conf *c);
void ag_detector_step(struct ag_detector *d);
void ag_detector_overlay(struct ag_conf *c, void *detector);
bool ag_detector_attacked(const struct ag_detector *d, unsigned int slot);
void ag_detector_free(struct ag_detector *d);

/* events.c */
struct json_object;
void ag_event_publish(struct json_object *ev);

/* webhook.c: POSTs off the detection path, bounded in time and memory */
int ag_webhooks_start(const char (*urls)[256], unsigned int n);
void ag_webhooks_post(const char *body);
void ag_webhooks_stop(void);

#endif /* AG_DAEMON_H */
