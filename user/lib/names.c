// SPDX-License-Identifier: GPL-2.0-only
/*
 * Names and defaults: the built-in vectors and their default table,
 * actions, reasons, attach modes, orphan-fragment policies. Pure data and
 * pure functions, shared by every layer above.
 */
#include <string.h>

#include "base.h"
#include "ampguard_vectors.h"

#define AG_BUILTIN_ENTRY(n, p, a, t, d) \
	{ .name = n, .port = p, .action = a, .track_timeout_ms = t, .desc = d },
const struct ag_builtin ag_builtins[] = { AG_BUILTIN_VECTORS(AG_BUILTIN_ENTRY) };
const unsigned int ag_nr_builtins = sizeof(ag_builtins) / sizeof(ag_builtins[0]);

_Static_assert(sizeof(ag_builtins) / sizeof(ag_builtins[0]) < AG_MAX_VECTORS,
	       "built-in vectors must leave slot 0 and room for custom ports");

static const char *const action_names[AG_ACT__MAX] = {
	[AG_ACT_PASS] = "pass",
	[AG_ACT_MONITOR] = "monitor",
	[AG_ACT_DROP] = "drop",
	[AG_ACT_RATELIMIT] = "ratelimit",
};

static const char *const reason_names[AG_REASON__MAX] = {
	[AG_R_NOT_IP] = "not_ip",
	[AG_R_NOT_UDP] = "not_udp",
	[AG_R_NO_VECTOR] = "no_vector",
	[AG_R_POLICY_PASS] = "policy_pass",
	[AG_R_MONITOR] = "monitor",
	[AG_R_POLICY_DROP] = "policy_drop",
	[AG_R_TRUNCATED] = "truncated",
	[AG_R_MALFORMED] = "malformed",
	[AG_R_PARSE_LIMIT] = "parse_limit",
	[AG_R_SOLICITED] = "solicited",
	[AG_R_SERVED] = "served",
	[AG_R_RL_PASS] = "ratelimit_pass",
	[AG_R_RL_AGGREGATE] = "ratelimit_aggregate",
	[AG_R_RL_SOURCE] = "ratelimit_source",
	[AG_R_DENYLIST] = "denylist",
	[AG_R_ALLOWLIST] = "allowlist",
	[AG_R_FRAG_PASS] = "fragment_pass",
	[AG_R_FRAG_DROP] = "fragment_drop",
	[AG_R_ORPHAN_PASS] = "orphan_pass",
	[AG_R_ORPHAN_DROP] = "orphan_drop",
};

const char *ag_action_name(unsigned int action)
{
	return action < AG_ACT__MAX ? action_names[action] : "unknown";
}

/* Actions an operator can set. */
int ag_action_parse(const char *s)
{
	if (!strcmp(s, "pass"))
		return AG_ACT_PASS;
	if (!strcmp(s, "monitor"))
		return AG_ACT_MONITOR;
	if (!strcmp(s, "drop"))
		return AG_ACT_DROP;
	if (!strcmp(s, "ratelimit"))
		return AG_ACT_RATELIMIT;
	return -1;
}

const char *ag_reason_name(unsigned int reason)
{
	return reason < AG_REASON__MAX ? reason_names[reason] : "unknown";
}

const char *ag_mode_name(unsigned int mode)
{
	switch (mode) {
	case AG_MODE_NATIVE:
		return "native";
	case AG_MODE_GENERIC:
		return "generic";
	default:
		return "unknown";
	}
}

/* What an operator asks for: auto (native, else generic) or one mode. */
int ag_attach_mode_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return AG_MODE_AUTO;
	if (!strcmp(s, "native"))
		return AG_MODE_NATIVE;
	if (!strcmp(s, "generic"))
		return AG_MODE_GENERIC;
	return -1;
}

/* Slot of a built-in vector by name, or -1. */
int ag_builtin_slot(const char *name)
{
	unsigned int i;

	for (i = 0; i < ag_nr_builtins; i++)
		if (!strcmp(ag_builtins[i].name, name))
			return i + 1;
	return -1;
}

void ag_vector_name(const struct ag_policy *pol, unsigned int slot, char *buf, size_t len)
{
	if (slot == 0)
		snprintf(buf, len, "other");
	else if (slot <= ag_nr_builtins)
		snprintf(buf, len, "%s", ag_builtins[slot - 1].name);
	else if (pol && pol->port)
		snprintf(buf, len, "port-%u", pol->port);
	else
		snprintf(buf, len, "slot-%u", slot);
}
static const char *const orphan_names[AG_ORPHAN__MAX] = {
	[AG_ORPHAN_PASS] = "pass",
	[AG_ORPHAN_RATELIMIT] = "ratelimit",
	[AG_ORPHAN_DROP] = "drop",
};

const char *ag_orphan_name(unsigned int v)
{
	return v < AG_ORPHAN__MAX ? orphan_names[v] : "unknown";
}

int ag_orphan_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < AG_ORPHAN__MAX; i++)
		if (!strcmp(s, orphan_names[i]))
			return i;
	return -1;
}

/*
 * Orphans are rare in honest traffic (a reordered or lost first fragment)
 * and the whole of a fragment flood: a small budget keeps the former and
 * caps the latter.
 */
void ag_orphan_defaults(struct ag_orphan_cfg *o)
{
	o->mode = AG_ORPHAN_RATELIMIT;
	ag_rate_set(&o->pps, AG_ORPHAN_DEFAULT_PPS, 0, false);
}
void ag_policy_defaults(struct ag_policy tbl[AG_MAX_VECTORS])
{
	unsigned int i;

	memset(tbl, 0, sizeof(*tbl) * AG_MAX_VECTORS);
	for (i = 0; i < ag_nr_builtins; i++) {
		tbl[i + 1].port = ag_builtins[i].port;
		tbl[i + 1].action = ag_builtins[i].action;
		tbl[i + 1].track_timeout_ms = ag_builtins[i].track_timeout_ms;
		tbl[i + 1].in_use = 1;
	}
}

/* Two policies that judge every packet alike. */
bool ag_policy_same(const struct ag_policy *a, const struct ag_policy *b)
{
	return a->in_use == b->in_use && a->port == b->port && a->action == b->action &&
	       a->track_timeout_ms == b->track_timeout_ms && a->src_full == b->src_full &&
	       !memcmp(&a->agg_pps, &b->agg_pps, sizeof(a->agg_pps)) &&
	       !memcmp(&a->agg_bps, &b->agg_bps, sizeof(a->agg_bps)) &&
	       !memcmp(&a->src_pps, &b->src_pps, sizeof(a->src_pps)) &&
	       !memcmp(&a->src_bps, &b->src_bps, sizeof(a->src_bps));
}

/* Any rate budget at all: a ratelimit without one would admit everything. */
bool ag_policy_has_budget(const struct ag_policy *p)
{
	return p->agg_pps.rate || p->agg_bps.rate || p->src_pps.rate || p->src_bps.rate;
}
