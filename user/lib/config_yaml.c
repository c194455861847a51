// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading a configuration file: libyaml's event stream becomes a small
 * tree that keeps every node's position, then the tree is checked against
 * the schema into a struct ag_conf. Every error is one line,
 * "FILE:LINE:COLUMN: what is wrong"; the first error ends the load.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <yaml.h>

#include "config.h"

enum node_kind { N_SCALAR, N_SEQ, N_MAP };

struct node {
	enum node_kind kind;
	int line, col;
	char *value;         /* scalars */
	struct node **items; /* sequences; mappings as key, value, key, value... */
	size_t n;
};

struct ctx {
	const char *fname;
	char *err;
	size_t errlen;
	bool failed;
	bool read_files;
	struct ag_conf *conf;
	const struct node *dflt_escalate; /* detection: escalate, checked once all is read */
};

/* Records the first error; later ones would only be consequences. */
static int fail(struct ctx *x, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	int o;

	if (x->failed)
		return -EINVAL;
	x->failed = true;
	o = snprintf(x->err, x->errlen, "%s:%d:%d: ", x->fname, at ? at->line : 1,
		     at ? at->col : 1);
	va_start(ap, fmt);
	if (o >= 0 && (size_t)o < x->errlen)
		vsnprintf(x->err + o, x->errlen - o, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

static int node_push(struct node *parent, struct node *child)
{
	struct node **grown = realloc(parent->items, (parent->n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	parent->items = grown;
	parent->items[parent->n++] = child;
	return 0;
}

/* Reads one node whose first event is ev (already taken from the parser). */
static struct node *read_node(yaml_parser_t *p, yaml_event_t *ev, struct ctx *x, int depth)
{
	struct node *n = calloc(1, sizeof(*n)), *child;
	yaml_event_type_t end;
	yaml_event_t next;

	if (!n)
		return NULL;
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->kind = N_SCALAR;
		n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->value || strlen(n->value) != ev->data.scalar.length) {
			fail(x, n, "a value with a NUL byte");
			node_free(n);
			return NULL;
		}
		return n;
	case YAML_SEQUENCE_START_EVENT:
		n->kind = N_SEQ;
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_MAPPING_START_EVENT:
		n->kind = N_MAP;
		end = YAML_MAPPING_END_EVENT;
		break;
	case YAML_ALIAS_EVENT:
		fail(x, n, "aliases are not supported: write the value out");
		node_free(n);
		return NULL;
	default:
		fail(x, n, "unexpected YAML structure");
		node_free(n);
		return NULL;
	}
	if (depth > 16) {
		fail(x, n, "nested too deeply");
		node_free(n);
		return NULL;
	}
	for (;;) {
		if (!yaml_parser_parse(p, &next)) {
			node_free(n);
			return NULL;
		}
		if (next.type == end) {
			yaml_event_delete(&next);
			return n;
		}
		child = read_node(p, &next, x, depth + 1);
		yaml_event_delete(&next);
		if (!child || node_push(n, child)) {
			node_free(child);
			node_free(n);
			return NULL;
		}
	}
}

/* The document's root node, or NULL with the error recorded. */
static struct node *read_tree(const char *buf, size_t len, struct ctx *x)
{
	struct node *root = NULL;
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;

	if (!yaml_parser_initialize(&p)) {
		fail(x, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (root) {
				struct node at = { .line = ev.start_mark.line + 1,
						   .col = ev.start_mark.column + 1 };

				fail(x, &at, "more than one YAML document");
				done = true;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			root = read_node(&p, &ev, x, 0);
			if (!root)
				done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (p.error != YAML_NO_ERROR && !x->failed) {
		struct node at = { .line = p.problem_mark.line + 1,
				   .col = p.problem_mark.column + 1 };

		fail(x, &at, "%s", p.problem ? p.problem : "malformed YAML");
	}
	yaml_parser_delete(&p);
	if (x->failed) {
		node_free(root);
		return NULL;
	}
	return root;
}

/* ---- schema ---------------------------------------------------------- */

static const char *kind_name(enum node_kind k)
{
	return k == N_SCALAR ? "a single value" : k == N_SEQ ? "a list" : "a mapping";
}

static int want(struct ctx *x, const struct node *n, enum node_kind k, const char *what)
{
	if (n->kind == k)
		return 0;
	return fail(x, n, "%s must be %s, not %s", what, kind_name(k), kind_name(n->kind));
}

/*
 * Walks a mapping's keys: unknown and repeated keys are errors. known is a
 * NULL-terminated list; fn gets the index of the key in it.
 */
typedef int (*field_fn)(struct ctx *x, unsigned int field, const struct node *key,
			const struct node *val, void *arg);

static int walk_map(struct ctx *x, const struct node *map, const char *what,
		    const char *const *known, field_fn fn, void *arg)
{
	size_t i, j;
	unsigned int f;
	int err;

	err = want(x, map, N_MAP, what);
	for (i = 0; !err && i + 1 < map->n; i += 2) {
		const struct node *key = map->items[i];

		if ((err = want(x, key, N_SCALAR, "a key")))
			break;
		for (j = 0; j < i; j += 2)
			if (!strcmp(map->items[j]->value, key->value))
				return fail(x, key, "duplicate key '%s' (first at line %d)",
					    key->value, map->items[j]->line);
		if (!known) {
			err = fn(x, 0, key, map->items[i + 1], arg);
			continue;
		}
		for (f = 0; known[f] && strcmp(known[f], key->value); f++)
			;
		if (!known[f])
			return fail(x, key, "unknown key '%s' in %s", key->value, what);
		err = fn(x, f, key, map->items[i + 1], arg);
	}
	return err;
}

static int scalar_rate(struct ctx *x, const struct node *n, const char *what,
		       unsigned long long max, unsigned long long *out)
{
	if (want(x, n, N_SCALAR, what))
		return -EINVAL;
	if (ag_parse_rate(n->value, max, out))
		return fail(x, n, "%s: '%s' is not a whole number up to %llu (k, M, G allowed)",
			    what, n->value, max);
	return 0;
}

enum vec_field {
	VF_ACTION,
	VF_TIMEOUT,
	VF_PPS,
	VF_BURST,
	VF_BPS,
	VF_BPS_BURST,
	VF_SRC_PPS,
	VF_SRC_BURST,
	VF_SRC_BPS,
	VF_SRC_BPS_BURST,
	VF_SRC_FULL,
	VF_AUTO,
};

static const char *const vec_fields[] = {
	"action",
	"track-timeout",
	"pps",
	"burst",
	"bps",
	"bps-burst",
	"per-source-pps",
	"per-source-burst",
	"per-source-bps",
	"per-source-bps-burst",
	"source-table-full",
	"auto",
	NULL,
};

/* Budgets read as (rate, burst) pairs, applied once the mapping is read. */
struct vec_arg {
	struct ag_policy *pol;
	struct ag_auto *au;
	long long v[VF_SRC_BPS_BURST + 1];
	const struct node *at;
};

/* ---- detection: `detection:` and each vector's `auto:` ----------------- */

enum auto_field {
	AF_TRIGGER_PPS,
	AF_TRIGGER_BPS,
	AF_RELEASE_PPS,
	AF_RELEASE_BPS,
	AF_HOLD,
	AF_ESCALATE,
	AF_INTERVAL,
	AF_DETECT,
};

/* `detection:` takes every key; a vector's `auto:` all but the last two. */
static const char *const detection_fields[] = {
	"trigger-pps", "trigger-bps", "release-pps", "release-bps", "hold",
	"escalate",    "interval",    "detect",      NULL,
};

static const char *const auto_fields[] = {
	"trigger-pps", "trigger-bps", "release-pps", "release-bps", "hold", "escalate", NULL,
};

void ag_auto_init(struct ag_auto *au)
{
	au->trigger_pps = au->trigger_bps = au->release_pps = au->release_bps = -1;
	au->hold_ms = -1;
	au->escalate = -1;
}

static int scalar_duration(struct ctx *x, const struct node *n, const char *what, unsigned long *ms)
{
	if (want(x, n, N_SCALAR, what))
		return -EINVAL;
	if (ag_parse_duration_ms(n->value, ms))
		return fail(x, n, "bad %s '%s': use e.g. 500ms, 5s, 2m (at most 1 hour)", what,
			    n->value);
	return 0;
}

static int escalate_parse(struct ctx *x, const struct node *val, int *out)
{
	if (want(x, val, N_SCALAR, "escalate"))
		return -EINVAL;
	if (!strcmp(val->value, "drop"))
		*out = AG_ACT_DROP;
	else if (!strcmp(val->value, "ratelimit"))
		*out = AG_ACT_RATELIMIT;
	else
		return fail(x, val, "bad escalate '%s': use drop or ratelimit", val->value);
	return 0;
}

static const size_t rate_off[] = {
	[AF_TRIGGER_PPS] = offsetof(struct ag_auto, trigger_pps),
	[AF_TRIGGER_BPS] = offsetof(struct ag_auto, trigger_bps),
	[AF_RELEASE_PPS] = offsetof(struct ag_auto, release_pps),
	[AF_RELEASE_BPS] = offsetof(struct ag_auto, release_bps),
};

static int auto_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		      void *arg)
{
	struct ag_auto *au = arg;
	struct ag_detection *d = &x->conf->detection;
	unsigned long long v;
	unsigned long ms;

	(void)key;
	switch (f) {
	case AF_HOLD:
		if (scalar_duration(x, val, "hold", &ms))
			return -EINVAL;
		au->hold_ms = ms;
		return 0;
	case AF_ESCALATE:
		if (au == &d->dflt)
			x->dflt_escalate = val;
		return escalate_parse(x, val, &au->escalate);
	case AF_INTERVAL:
		if (scalar_duration(x, val, "interval", &ms))
			return -EINVAL;
		if (ms < 100 || ms > 60000)
			return fail(x, val, "interval must be from 100ms to 1m");
		d->interval_ms = ms;
		return 0;
	case AF_DETECT:
		if (want(x, val, N_SCALAR, "detect") || ag_parse_uint(val->value, 3600, &ms) || !ms)
			return fail(x, val, "detect must be a count of intervals from 1 to 3600");
		d->detect = ms;
		return 0;
	default:
		if (scalar_rate(x, val, detection_fields[f],
				f == AF_TRIGGER_BPS || f == AF_RELEASE_BPS ? AG_MAX_BITS_RATE :
									     AG_MAX_PKTS_RATE,
				&v))
			return -EINVAL;
		if ((f == AF_RELEASE_PPS || f == AF_RELEASE_BPS) && !v)
			return fail(x, val,
				    "%s must be at least 1 (at 0 an attack would never end)",
				    detection_fields[f]);
		*(long long *)((char *)au + rate_off[f]) = v;
		return 0;
	}
}

static int detection_section(struct ctx *x, const struct node *val)
{
	return walk_map(x, val, "detection", detection_fields, auto_field,
			&x->conf->detection.dflt);
}

static int vec_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		     void *arg)
{
	struct vec_arg *a = arg;
	unsigned long long v, max;
	unsigned long ms;
	int action;

	(void)key;
	switch (f) {
	case VF_ACTION:
		if (want(x, val, N_SCALAR, "action"))
			return -EINVAL;
		action = ag_action_parse(val->value);
		if (action < 0)
			return fail(x, val,
				    "unknown action '%s': use pass, monitor, drop or ratelimit",
				    val->value);
		a->pol->action = action;
		return 0;
	case VF_TIMEOUT:
		if (want(x, val, N_SCALAR, "track-timeout"))
			return -EINVAL;
		if (ag_parse_duration_ms(val->value, &ms))
			return fail(x, val,
				    "bad track-timeout '%s': use e.g. 500ms, 5s, 2m (at most 1 hour) or off",
				    val->value);
		a->pol->track_timeout_ms = ms;
		return 0;
	case VF_SRC_FULL:
		if (want(x, val, N_SCALAR, "source-table-full"))
			return -EINVAL;
		action = ag_src_full_parse(val->value);
		if (action < 0)
			return fail(x, val,
				    "bad source-table-full '%s': use evict, aggregate or drop",
				    val->value);
		a->pol->src_full = action;
		return 0;
	case VF_AUTO:
		return walk_map(x, val, "auto", auto_fields, auto_field, a->au);
	default:
		max = f == VF_BPS || f == VF_BPS_BURST || f == VF_SRC_BPS || f == VF_SRC_BPS_BURST ?
			      AG_MAX_BITS_RATE :
			      AG_MAX_PKTS_RATE;
		if (scalar_rate(x, val, vec_fields[f], max, &v))
			return -EINVAL;
		a->v[f] = v;
		return 0;
	}
}

static int vec_budgets(struct ctx *x, struct vec_arg *a)
{
	static const struct {
		unsigned int rate, burst;
		size_t off;
		bool bits;
	} pairs[] = {
		{ VF_PPS, VF_BURST, offsetof(struct ag_policy, agg_pps), false },
		{ VF_BPS, VF_BPS_BURST, offsetof(struct ag_policy, agg_bps), true },
		{ VF_SRC_PPS, VF_SRC_BURST, offsetof(struct ag_policy, src_pps), false },
		{ VF_SRC_BPS, VF_SRC_BPS_BURST, offsetof(struct ag_policy, src_bps), true },
	};
	struct ag_policy *p = a->pol;
	unsigned int i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		long long rate = a->v[pairs[i].rate], burst = a->v[pairs[i].burst];

		if (burst >= 0 && rate <= 0)
			return fail(x, a->at, "%s needs %s", vec_fields[pairs[i].burst],
				    vec_fields[pairs[i].rate]);
		if (burst == 0)
			return fail(x, a->at, "%s must be at least 1", vec_fields[pairs[i].burst]);
		ag_rate_set((struct ag_rate *)((char *)p + pairs[i].off), rate > 0 ? rate : 0,
			    burst > 0 ? burst : 0, pairs[i].bits);
	}
	if (p->action == AG_ACT_RATELIMIT && !ag_policy_has_budget(p))
		return fail(
			x, a->at,
			"action ratelimit needs a budget: pps, bps, per-source-pps or per-source-bps");
	if (a->au->escalate == AG_ACT_RATELIMIT && !ag_policy_has_budget(p))
		return fail(
			x, a->at,
			"escalate ratelimit needs a budget: pps, bps, per-source-pps or per-source-bps");
	return 0;
}

/* Where each vector was first configured, to report a second mention. */
struct vec_seen {
	int line[AG_MAX_VECTORS];
	int *port_line; /* AG_NR_PORTS entries, for custom ports */
};

static int vector_entry(struct ctx *x, unsigned int f, const struct node *key,
			const struct node *val, void *arg)
{
	struct vec_seen *seen = arg;
	struct ag_conf *c = x->conf;
	struct vec_arg a = { .at = key };
	unsigned long port = 0;
	unsigned int i;
	int slot;
	const char *name = key->value;

	(void)f;
	for (i = 0; i < sizeof(a.v) / sizeof(a.v[0]); i++)
		a.v[i] = -1;
	slot = ag_builtin_slot(name);
	if (slot < 0) {
		if (!strncmp(name, "port-", 5))
			name += 5;
		if (ag_parse_uint(name, 65535, &port) || !port)
			return fail(x, key,
				    "unknown vector '%s': use a name from 'ampguard vectors' or a port number 1-65535",
				    key->value);
		for (i = 0; i < ag_nr_builtins; i++)
			if (ag_builtins[i].port == port)
				slot = i + 1;
	}
	if (slot > 0) {
		if (seen->line[slot])
			return fail(x, key, "vector %s is configured twice (first at line %d)",
				    ag_builtins[slot - 1].name, seen->line[slot]);
		seen->line[slot] = key->line;
		a.pol = &c->builtin[slot];
		a.au = &c->builtin_auto[slot];
	} else {
		struct ag_conf_port *grown;

		if (seen->port_line[port])
			return fail(x, key, "port %lu is configured twice (first at line %d)", port,
				    seen->port_line[port]);
		seen->port_line[port] = key->line;
		if (c->nr_ports >= AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT)
			return fail(x, key, "more than %u custom ports",
				    AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT);
		grown = realloc(c->ports, (c->nr_ports + 1) * sizeof(*grown));
		if (!grown)
			return fail(x, key, "out of memory");
		c->ports = grown;
		a.au = &c->ports[c->nr_ports].au;
		ag_auto_init(a.au);
		a.pol = &c->ports[c->nr_ports++].pol;
		*a.pol = (struct ag_policy){ .port = port,
					     .in_use = 1,
					     .track_timeout_ms = AG_DEFAULT_TRACK_MS };
	}
	if (walk_map(x, val, "a vector", vec_fields, vec_field, &a))
		return -EINVAL;
	return vec_budgets(x, &a);
}

static int add_cidr(struct ctx *x, const struct node *at, const char *text, enum ag_list_kind list,
		    const char *file, unsigned int lineno)
{
	struct ag_conf *c = x->conf;
	struct ag_list_op *grown;
	struct ag_lpm6 key;
	char why[128];
	int family;

	if (ag_cidr_parse(text, &family, &key, why, sizeof(why))) {
		if (file)
			return fail(x, at, "%s:%u: bad CIDR '%s': %s", file, lineno, text, why);
		return fail(x, at, "bad CIDR '%s': %s", text, why);
	}
	if (c->nr_lists % 1024 == 0) {
		grown = realloc(c->lists, (c->nr_lists + 1024) * sizeof(*grown));
		if (!grown)
			return fail(x, at, "out of memory");
		c->lists = grown;
	}
	c->lists[c->nr_lists] =
		(struct ag_list_op){ .list = list, .family = family, .prefixlen = key.prefixlen };
	memcpy(c->lists[c->nr_lists++].addr, key.addr, 16);
	return 0;
}

/* A list file: one CIDR per line, '#' comments; its errors name both files. */
static int read_list_file(struct ctx *x, const struct node *at, enum ag_list_kind list)
{
	char line[512], *p, *end;
	unsigned int lineno = 0;
	FILE *f;
	int err = 0;

	if (!x->read_files)
		return 0;
	f = fopen(at->value, "r");
	if (!f)
		return fail(x, at, "%s: %s", at->value, strerror(errno));
	while (!err && fgets(line, sizeof(line), f)) {
		lineno++;
		if ((p = strchr(line, '#')))
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (end = p + strlen(p); end > p && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		if (*p)
			err = add_cidr(x, at, p, list, at->value, lineno);
	}
	fclose(f);
	return err;
}

static int scalar_list(struct ctx *x, const struct node *n, const char *what,
		       int (*each)(struct ctx *x, const struct node *item, void *arg), void *arg)
{
	size_t i;
	int err;

	err = want(x, n, N_SEQ, what);
	for (i = 0; !err && i < n->n; i++) {
		err = want(x, n->items[i], N_SCALAR, what);
		err = err ?: each(x, n->items[i], arg);
	}
	return err;
}

static int each_served(struct ctx *x, const struct node *item, void *arg)
{
	unsigned long port;

	(void)arg;
	if (ag_parse_uint(item->value, 65535, &port) || !port)
		return fail(x, item, "bad served port '%s': use a number from 1 to 65535",
			    item->value);
	x->conf->served.bits[port / 32] |= 1U << (port % 32);
	return 0;
}

static int each_allow(struct ctx *x, const struct node *item, void *arg)
{
	(void)arg;
	return add_cidr(x, item, item->value, AG_LIST_ALLOW, NULL, 0);
}

static int each_deny(struct ctx *x, const struct node *item, void *arg)
{
	(void)arg;
	return add_cidr(x, item, item->value, AG_LIST_DENY, NULL, 0);
}

static int each_allow_file(struct ctx *x, const struct node *item, void *arg)
{
	(void)arg;
	return read_list_file(x, item, AG_LIST_ALLOW);
}

static int each_deny_file(struct ctx *x, const struct node *item, void *arg)
{
	(void)arg;
	return read_list_file(x, item, AG_LIST_DENY);
}

enum if_field { IF_MODE, IF_TRACK_ON, IF_ORPHANS, IF_ORPHAN_PPS, IF_ORPHAN_BURST };

static const char *const if_fields[] = {
	"mode", "track-on", "orphan-fragments", "orphan-pps", "orphan-burst", NULL,
};

struct if_arg {
	struct ag_conf_iface *ifc;
	long long pps, burst;
};

static int each_track_on(struct ctx *x, const struct node *item, void *arg)
{
	struct ag_conf_iface *ifc = arg;

	if (strlen(item->value) >= IF_NAMESIZE || !*item->value)
		return fail(x, item, "'%s' is not an interface name", item->value);
	if (ifc->nr_track >= AG_MAX_TRACK_IFACES - 1)
		return fail(x, item, "more than %d tracking interfaces", AG_MAX_TRACK_IFACES - 1);
	ifc->track_line[ifc->nr_track] = item->line;
	ifc->track_col[ifc->nr_track] = item->col;
	snprintf(ifc->track_on[ifc->nr_track++], IF_NAMESIZE, "%s", item->value);
	return 0;
}

static int if_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		    void *arg)
{
	struct if_arg *a = arg;
	unsigned long long v;
	int mode;

	(void)key;
	switch (f) {
	case IF_MODE:
		if (want(x, val, N_SCALAR, "mode"))
			return -EINVAL;
		mode = !strcmp(val->value, "auto")    ? AG_MODE_AUTO :
		       !strcmp(val->value, "native")  ? AG_MODE_NATIVE :
		       !strcmp(val->value, "generic") ? AG_MODE_GENERIC :
							-1;
		if (mode < 0)
			return fail(x, val, "unknown mode '%s': use auto, native or generic",
				    val->value);
		a->ifc->mode = mode;
		return 0;
	case IF_TRACK_ON:
		return scalar_list(x, val, "track-on", each_track_on, a->ifc);
	case IF_ORPHANS:
		if (want(x, val, N_SCALAR, "orphan-fragments"))
			return -EINVAL;
		mode = !strcmp(val->value, "pass")      ? AG_ORPHAN_PASS :
		       !strcmp(val->value, "ratelimit") ? AG_ORPHAN_RATELIMIT :
		       !strcmp(val->value, "drop")      ? AG_ORPHAN_DROP :
							  -1;
		if (mode < 0)
			return fail(x, val,
				    "bad orphan-fragments '%s': use pass, ratelimit or drop",
				    val->value);
		a->ifc->orphan.mode = mode;
		return 0;
	default:
		if (scalar_rate(x, val, if_fields[f], AG_MAX_PKTS_RATE, &v))
			return -EINVAL;
		if (!v)
			return fail(x, val, "%s must be at least 1", if_fields[f]);
		*(f == IF_ORPHAN_PPS ? &a->pps : &a->burst) = v;
		return 0;
	}
}

static int iface_entry(struct ctx *x, unsigned int f, const struct node *key,
		       const struct node *val, void *arg)
{
	struct ag_conf *c = x->conf;
	struct ag_conf_iface *grown, *ifc;
	struct if_arg a = { .pps = -1, .burst = -1 };

	(void)f, (void)arg;
	if (strlen(key->value) >= IF_NAMESIZE || !*key->value || strchr(key->value, '/'))
		return fail(x, key, "'%s' is not an interface name", key->value);
	grown = realloc(c->ifaces, (c->nr_ifaces + 1) * sizeof(*grown));
	if (!grown)
		return fail(x, key, "out of memory");
	c->ifaces = grown;
	ifc = &c->ifaces[c->nr_ifaces++];
	memset(ifc, 0, sizeof(*ifc));
	snprintf(ifc->name, sizeof(ifc->name), "%s", key->value);
	ifc->line = key->line;
	ifc->col = key->col;
	ag_orphan_defaults(&ifc->orphan);
	a.ifc = ifc;
	/* "eth0:" with nothing under it takes every default. */
	if (val->kind == N_SCALAR && !*val->value)
		return 0;
	if (walk_map(x, val, "an interface", if_fields, if_field, &a))
		return -EINVAL;
	if (a.pps >= 0 || a.burst >= 0)
		ag_rate_update(&ifc->orphan.pps, a.pps, a.burst, false, "orphan-burst");
	return 0;
}

enum top_field {
	T_IFACES,
	T_VECTORS,
	T_SERVED,
	T_ALLOW,
	T_ALLOW_FILES,
	T_DENY,
	T_DENY_FILES,
	T_EXPORTER,
	T_DETECTION,
	T_NOTIFY,
	T_UPSTREAM,
};

static const char *const top_fields[] = {
	"interfaces", "vectors",  "served-ports", "allow",  "allow-files", "deny",
	"deny-files", "exporter", "detection",    "notify", "upstream",    NULL,
};

static const char *const notify_fields[] = { "webhooks", NULL };

static int each_webhook(struct ctx *x, const struct node *item, void *arg)
{
	struct ag_conf *c = x->conf;
	struct ag_url u;

	(void)arg;
	if (strncmp(item->value, "http://", 7))
		return fail(x, item, "webhook '%s': only http:// URLs are supported", item->value);
	if (ag_url_parse(item->value, &u))
		return fail(x, item, "webhook '%s': use http://HOST[:PORT][/PATH]", item->value);
	if (strlen(item->value) >= sizeof(c->webhooks[0]))
		return fail(x, item, "webhook URL too long");
	if (c->nr_webhooks == AG_MAX_WEBHOOKS)
		return fail(x, item, "more than %d webhooks", AG_MAX_WEBHOOKS);
	snprintf(c->webhooks[c->nr_webhooks++], sizeof(c->webhooks[0]), "%s", item->value);
	return 0;
}

static int notify_field(struct ctx *x, unsigned int f, const struct node *key,
			const struct node *val, void *arg)
{
	(void)f, (void)key, (void)arg;
	return scalar_list(x, val, "webhooks", each_webhook, NULL);
}

/* ---- upstream: ------------------------------------------------------------ */

enum up_field {
	UF_LOCAL_AS,
	UF_ROUTER_ID,
	UF_LOCAL_ADDRESS,
	UF_NEIGHBORS,
	UF_PROTECT,
	UF_LINK_BPS,
	UF_ANNOUNCE_AT,
	UF_ACTION,
	UF_RATE_LIMIT_BPS,
	UF_HOLD,
	UF_MAX_RULES,
	UF_WITHDRAW_ON_EXIT,
	UF_SPEAKER,
	UF_EXABGP,
	UF_NEXT_HOP6,
};

static const char *const up_fields[] = {
	"local-as",    "router-id", "local-address",  "neighbors", "protect",   "link-bps",
	"announce-at", "action",    "rate-limit-bps", "hold",      "max-rules", "withdraw-on-exit",
	"speaker",     "exabgp",    "next-hop6",      NULL,
};

static const char *const up_action_names[AG_UP__MAX] = { "discard", "rate-limit", "rtbh" };

const char *ag_up_action_name(int action)
{
	return action >= 0 && action < AG_UP__MAX ? up_action_names[action] : "?";
}

int ag_up_action_parse(const char *s)
{
	int i;

	for (i = 0; i < AG_UP__MAX; i++)
		if (!strcmp(s, up_action_names[i]))
			return i;
	return -EINVAL;
}

static int scalar_asn(struct ctx *x, const struct node *n, const char *what, unsigned long *out)
{
	if (want(x, n, N_SCALAR, what))
		return -EINVAL;
	if (ag_parse_uint(n->value, 4294967295UL, out) || !*out)
		return fail(x, n, "bad %s '%s': use an AS number from 1 to 4294967295", what,
			    n->value);
	return 0;
}

static int scalar_ip(struct ctx *x, const struct node *n, const char *what, bool v4_only, char *out,
		     size_t len)
{
	unsigned char buf[16];

	if (want(x, n, N_SCALAR, what))
		return -EINVAL;
	if (inet_pton(AF_INET, n->value, buf) != 1 &&
	    (v4_only || inet_pton(AF_INET6, n->value, buf) != 1))
		return fail(x, n, "bad %s '%s': use an %s address", what, n->value,
			    v4_only ? "IPv4" : "IPv4 or IPv6");
	snprintf(out, len, "%s", n->value);
	return 0;
}

enum nb_field { NB_ADDRESS, NB_PEER_AS };
static const char *const nb_fields[] = { "address", "peer-as", NULL };

static int nb_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		    void *arg)
{
	struct ag_up_neighbor *nb = arg;

	(void)key;
	if (f == NB_ADDRESS)
		return scalar_ip(x, val, "neighbor address", false, nb->address,
				 sizeof(nb->address));
	return scalar_asn(x, val, "peer-as", &nb->peer_as);
}

static int up_neighbors(struct ctx *x, const struct node *n)
{
	struct ag_upstream_conf *u = &x->conf->upstream;
	struct ag_up_neighbor *nb;
	size_t i;
	int err;

	err = want(x, n, N_SEQ, "neighbors");
	for (i = 0; !err && i < n->n; i++) {
		if (u->nr_neighbors == AG_UP_MAX_NEIGHBORS)
			return fail(x, n->items[i], "more than %d neighbors", AG_UP_MAX_NEIGHBORS);
		nb = &u->neighbors[u->nr_neighbors];
		memset(nb, 0, sizeof(*nb));
		err = walk_map(x, n->items[i], "a neighbor", nb_fields, nb_field, nb);
		if (!err && (!*nb->address || !nb->peer_as))
			return fail(x, n->items[i], "a neighbor needs address and peer-as");
		u->nr_neighbors += !err;
	}
	return err;
}

static int each_protect(struct ctx *x, const struct node *item, void *arg)
{
	struct ag_upstream_conf *u = &x->conf->upstream;
	char why[128];

	(void)arg;
	if (u->nr_protect == AG_UP_MAX_PROTECT)
		return fail(x, item, "more than %d protect prefixes", AG_UP_MAX_PROTECT);
	if (ag_cidr_parse(item->value, &u->protect[u->nr_protect].family,
			  &u->protect[u->nr_protect].key, why, sizeof(why)))
		return fail(x, item, "bad protect prefix '%s': %s", item->value, why);
	u->nr_protect++;
	return 0;
}

static int scalar_bool(struct ctx *x, const struct node *n, const char *what, bool *out)
{
	if (want(x, n, N_SCALAR, what))
		return -EINVAL;
	if (!strcmp(n->value, "true") || !strcmp(n->value, "yes"))
		*out = true;
	else if (!strcmp(n->value, "false") || !strcmp(n->value, "no"))
		*out = false;
	else
		return fail(x, n, "bad %s '%s': use true or false", what, n->value);
	return 0;
}

static int up_percent(struct ctx *x, const struct node *n, unsigned int *out)
{
	unsigned long v;
	char num[16];
	size_t len;

	if (want(x, n, N_SCALAR, "announce-at"))
		return -EINVAL;
	len = strlen(n->value);
	if (len < 2 || len >= sizeof(num) || n->value[len - 1] != '%')
		return fail(x, n, "bad announce-at '%s': use a percentage of link-bps, e.g. 50%%",
			    n->value);
	memcpy(num, n->value, len - 1);
	num[len - 1] = '\0';
	if (ag_parse_uint(num, 100, &v) || !v)
		return fail(x, n, "bad announce-at '%s': use 1%% to 100%%", n->value);
	*out = v;
	return 0;
}

static int up_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		    void *arg)
{
	struct ag_upstream_conf *u = &x->conf->upstream;
	unsigned long v;
	int action;

	(void)key, (void)arg;
	switch (f) {
	case UF_LOCAL_AS:
		return scalar_asn(x, val, "local-as", &u->local_as);
	case UF_ROUTER_ID:
		return scalar_ip(x, val, "router-id", true, u->router_id, sizeof(u->router_id));
	case UF_LOCAL_ADDRESS:
		return scalar_ip(x, val, "local-address", false, u->local_address,
				 sizeof(u->local_address));
	case UF_NEIGHBORS:
		return up_neighbors(x, val);
	case UF_PROTECT:
		return scalar_list(x, val, "protect", each_protect, NULL);
	case UF_LINK_BPS:
		return scalar_rate(x, val, "link-bps", AG_MAX_BITS_RATE, &u->link_bps);
	case UF_ANNOUNCE_AT:
		return up_percent(x, val, &u->announce_at);
	case UF_ACTION:
		if (want(x, val, N_SCALAR, "action"))
			return -EINVAL;
		action = ag_up_action_parse(val->value);
		if (action < 0)
			return fail(x, val, "bad action '%s': use discard, rate-limit or rtbh",
				    val->value);
		u->action = action;
		return 0;
	case UF_RATE_LIMIT_BPS:
		return scalar_rate(x, val, "rate-limit-bps", AG_MAX_BITS_RATE, &u->rate_limit_bps);
	case UF_HOLD:
		return scalar_duration(x, val, "hold", &u->hold_ms);
	case UF_MAX_RULES:
		if (want(x, val, N_SCALAR, "max-rules") || ag_parse_uint(val->value, 10000, &v) ||
		    !v)
			return fail(x, val, "max-rules must be a count from 1 to 10000");
		u->max_rules = v;
		return 0;
	case UF_WITHDRAW_ON_EXIT:
		return scalar_bool(x, val, "withdraw-on-exit", &u->withdraw_on_exit);
	case UF_SPEAKER:
		if (want(x, val, N_SCALAR, "speaker"))
			return -EINVAL;
		if (strcmp(val->value, "exabgp") && strcmp(val->value, "external"))
			return fail(x, val,
				    "bad speaker '%s': use exabgp (the daemon runs it) or external (you run it)",
				    val->value);
		u->external = !strcmp(val->value, "external");
		return 0;
	case UF_NEXT_HOP6:
		if (scalar_ip(x, val, "next-hop6", false, u->next_hop6, sizeof(u->next_hop6)))
			return -EINVAL;
		if (!strchr(u->next_hop6, ':'))
			return fail(x, val, "next-hop6 must be an IPv6 address");
		return 0;
	default:
		if (want(x, val, N_SCALAR, "exabgp"))
			return -EINVAL;
		if (strlen(val->value) >= sizeof(u->exabgp) || *val->value != '/')
			return fail(x, val, "exabgp must be the program's absolute path");
		snprintf(u->exabgp, sizeof(u->exabgp), "%s", val->value);
		return 0;
	}
}

static int upstream_section(struct ctx *x, const struct node *val)
{
	struct ag_upstream_conf *u = &x->conf->upstream;
	int err;

	u->enabled = true;
	err = walk_map(x, val, "upstream", up_fields, up_field, NULL);
	if (err)
		return err;
	if (!u->local_as || !*u->router_id || !*u->local_address || !u->nr_neighbors)
		return fail(
			x, val,
			"upstream needs local-as, router-id, local-address and at least one neighbor");
	if (u->action == AG_UP_RATE_LIMIT && !u->rate_limit_bps)
		return fail(
			x, val,
			"action rate-limit needs rate-limit-bps (the rate the router lets through)");
	return 0;
}

static const char *const exporter_fields[] = { "listen", NULL };

static int exporter_field(struct ctx *x, unsigned int f, const struct node *key,
			  const struct node *val, void *arg)
{
	(void)f, (void)key, (void)arg;
	if (want(x, val, N_SCALAR, "listen"))
		return -EINVAL;
	if (strlen(val->value) >= sizeof(x->conf->listen))
		return fail(x, val, "listen address too long");
	snprintf(x->conf->listen, sizeof(x->conf->listen), "%s", val->value);
	return 0;
}

static int top_field(struct ctx *x, unsigned int f, const struct node *key, const struct node *val,
		     void *arg)
{
	struct vec_seen *seen = arg;

	(void)key;
	switch (f) {
	case T_IFACES:
		x->conf->has_ifaces = true;
		if (val->kind == N_SCALAR && !*val->value)
			return 0; /* "interfaces:" alone: none */
		return walk_map(x, val, "interfaces", NULL, iface_entry, NULL);
	case T_VECTORS:
		return walk_map(x, val, "vectors", NULL, vector_entry, seen);
	case T_SERVED:
		return scalar_list(x, val, "served-ports", each_served, NULL);
	case T_ALLOW:
		return scalar_list(x, val, "allow", each_allow, NULL);
	case T_ALLOW_FILES:
		return scalar_list(x, val, "allow-files", each_allow_file, NULL);
	case T_DENY:
		return scalar_list(x, val, "deny", each_deny, NULL);
	case T_DENY_FILES:
		return scalar_list(x, val, "deny-files", each_deny_file, NULL);
	case T_DETECTION:
		return detection_section(x, val);
	case T_NOTIFY:
		return walk_map(x, val, "notify", notify_fields, notify_field, NULL);
	case T_UPSTREAM:
		return upstream_section(x, val);
	default:
		return walk_map(x, val, "exporter", exporter_fields, exporter_field, NULL);
	}
}

/* detection: escalate: ratelimit reaches every vector without its own: each needs a budget. */
static int check_dflt_escalate(struct ctx *x)
{
	const struct ag_conf *c = x->conf;
	unsigned int slot;
	size_t i;

	if (!x->dflt_escalate || c->detection.dflt.escalate != AG_ACT_RATELIMIT)
		return 0;
	for (slot = 1; slot < AG_FIRST_CUSTOM_SLOT; slot++)
		if (c->builtin_auto[slot].escalate < 0 && !ag_policy_has_budget(&c->builtin[slot]))
			return fail(x, x->dflt_escalate,
				    "escalate ratelimit reaches %s, which has no budget: give it pps, bps, per-source-pps or per-source-bps, or its own escalate",
				    ag_builtins[slot - 1].name);
	for (i = 0; i < c->nr_ports; i++)
		if (c->ports[i].au.escalate < 0 && !ag_policy_has_budget(&c->ports[i].pol))
			return fail(x, x->dflt_escalate,
				    "escalate ratelimit reaches port %u, which has no budget: give it pps, bps, per-source-pps or per-source-bps, or its own escalate",
				    c->ports[i].pol.port);
	return 0;
}

void ag_conf_init(struct ag_conf *c)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	ag_policy_defaults(c->builtin);
	c->detection.interval_ms = AG_DETECT_INTERVAL_MS;
	c->detection.detect = AG_DETECT_INTERVALS;
	ag_auto_init(&c->detection.dflt);
	c->upstream.announce_at = AG_UP_ANNOUNCE_AT;
	c->upstream.hold_ms = AG_UP_HOLD_MS;
	c->upstream.max_rules = AG_UP_MAX_RULES;
	c->upstream.withdraw_on_exit = true;
	snprintf(c->upstream.exabgp, sizeof(c->upstream.exabgp), "%s", "/usr/sbin/exabgp");
	for (i = 0; i < AG_MAX_VECTORS; i++)
		ag_auto_init(&c->builtin_auto[i]);
}

void ag_conf_free(struct ag_conf *c)
{
	free(c->ports);
	free(c->lists);
	free(c->ifaces);
	memset(c, 0, sizeof(*c));
}

/*
 * Parses a configuration from memory. read_files: also load allow-files and
 * deny-files. On error, err holds "FILE:LINE:COLUMN: ..." and c is freed.
 */
int ag_conf_parse(const char *buf, size_t len, const char *fname, bool read_files,
		  struct ag_conf *c, char *err, size_t errlen)
{
	struct ctx x = {
		.fname = fname, .err = err, .errlen = errlen, .read_files = read_files, .conf = c
	};
	struct vec_seen seen = { 0 };
	struct node *root;
	int ret = 0;

	ag_conf_init(c);
	snprintf(c->fname, sizeof(c->fname), "%s", fname);
	root = read_tree(buf, len, &x);
	if (root && !(root->kind == N_SCALAR && !*root->value)) {
		seen.port_line = calloc(AG_NR_PORTS, sizeof(*seen.port_line));
		if (!seen.port_line)
			ret = fail(&x, root, "out of memory");
		else
			ret = walk_map(&x, root, "the configuration", top_fields, top_field, &seen);
		ret = ret ?: check_dflt_escalate(&x);
		free(seen.port_line);
	}
	node_free(root);
	if (x.failed || ret) {
		if (!x.failed)
			fail(&x, NULL, "%s", strerror(-ret));
		ag_conf_free(c);
		return -EINVAL;
	}
	return 0;
}

int ag_conf_load(const char *path, struct ag_conf *c, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	do {
		if (len == cap) {
			char *grown = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!grown) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -ENOMEM;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	ret = ag_conf_parse(buf, len, path, true, c, err, errlen);
	free(buf);
	return ret;
}
