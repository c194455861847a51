// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attack detection over the counters, one interval at a time. For each
 * protected interface x vector the unsolicited rate is what the vector's
 * policy judged as unsolicited, dropped or not (monitor, policy_drop, the
 * ratelimit verdicts, later fragments of dropped datagrams): solicited and
 * served traffic never counts. An attack starts after `detect` intervals
 * at or above the trigger and ends after `hold` below the release level.
 *
 * Escalation is per vector (policy is shared by every interface): a vector
 * whose auto.escalate is set and whose running action is monitor or
 * ratelimit gets the escalation action while any of its attacks lasts,
 * and its earlier policy back when the last one ends. The operator always
 * wins: once the running policy is no longer what the daemon set, the
 * daemon forgets that escalation and leaves the vector alone until its
 * attacks end. What it escalated and the attacks under way are written to
 * the state directory after every change, so a restarted daemon carries on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "daemon.h"

#define TOP_SOURCES 10

struct thresholds {
	double trigger_pps, trigger_bps;
	double release_pps, release_bps;
	double hold_s;
	int escalate;
};

/* One interface x vector. */
struct track {
	struct ag_attack a;
	unsigned int above; /* consecutive intervals at or above the trigger */
	double below_since; /* monotonic seconds; 0 while at or above release */
	bool have_prev;
	bool seen; /* in this interval's snapshot */
	struct ag_counter prev;
	double pps, bps;
};

struct ag_detector {
	struct ag_conf conf;
	struct track *t;
	size_t n, cap;
	struct ag_escalation esc[AG_MAX_VECTORS];
	size_t nr_esc;
	/* An operator changed the vector during its attacks: no escalation until they end. */
	bool hands_off[AG_MAX_VECTORS];
	double prev_when;
	bool dirty;      /* the records on disk are behind on a start, an end or an escalation */
	bool peaks;      /* only on peak rates: written at most every SAVE_PEAKS_S */
	double saved_at; /* monotonic */
};

#define SAVE_PEAKS_S 10

static double pick(long long own, long long dflt, double fallback)
{
	return own >= 0 ? own : dflt >= 0 ? dflt : fallback;
}

static const struct ag_auto *vector_auto(const struct ag_conf *c, unsigned int slot, __u16 port)
{
	size_t i;

	if (slot < AG_FIRST_CUSTOM_SLOT)
		return &c->builtin_auto[slot];
	for (i = 0; i < c->nr_ports; i++)
		if (c->ports[i].pol.port == port)
			return &c->ports[i].au;
	return NULL;
}

/* The vector's own auto: first, then detection:, then the built-in defaults. */
static void thresholds(const struct ag_conf *c, unsigned int slot, __u16 port, struct thresholds *t)
{
	const struct ag_auto *d = &c->detection.dflt, *v = vector_auto(c, slot, port);
	struct ag_auto none;

	if (!v) {
		ag_auto_init(&none);
		v = &none;
	}
	t->trigger_pps = pick(v->trigger_pps, d->trigger_pps, AG_DETECT_TRIGGER_PPS);
	t->trigger_bps = pick(v->trigger_bps, d->trigger_bps, 0);
	/* A vector's own trigger brings its own default release, not the global one. */
	t->release_pps = v->trigger_pps >= 0 && v->release_pps < 0 ?
				 t->trigger_pps / 2 :
				 pick(v->release_pps, d->release_pps, t->trigger_pps / 2);
	t->release_bps = v->trigger_bps >= 0 && v->release_bps < 0 ?
				 t->trigger_bps / 2 :
				 pick(v->release_bps, d->release_bps, t->trigger_bps / 2);
	/* Released at or below the trigger, never above: an attack can end. */
	if (t->release_pps > t->trigger_pps)
		t->release_pps = t->trigger_pps;
	if (t->release_bps > t->trigger_bps)
		t->release_bps = t->trigger_bps;
	t->hold_s = pick(v->hold_ms, d->hold_ms, AG_DETECT_HOLD_MS) / 1000.0;
	t->escalate = v->escalate >= 0 ? v->escalate : d->escalate;
}

static bool at_trigger(const struct thresholds *t, double pps, double bps)
{
	return (t->trigger_pps > 0 && pps >= t->trigger_pps) ||
	       (t->trigger_bps > 0 && bps >= t->trigger_bps);
}

static bool below_release(const struct thresholds *t, double pps, double bps)
{
	return (t->trigger_pps <= 0 || pps < t->release_pps) &&
	       (t->trigger_bps <= 0 || bps < t->release_bps);
}

static void sum_counters(const struct ag_iface_counters *ifc, unsigned int slot,
			 struct ag_counter *unsol, __u64 *dropped)
{
	unsigned int r;

	memset(unsol, 0, sizeof(*unsol));
	*dropped = 0;
	for (r = 0; r < AG_REASON__MAX; r++) {
		const struct ag_counter *c = &ifc->c[AG_STATS_IDX(slot, r)];

		if (ag_reason_unsolicited(r)) {
			unsol->packets += c->packets;
			unsol->bytes += c->bytes;
		}
		if (ag_reason_drops(r))
			*dropped += c->packets;
	}
}

static struct track *find_track(struct ag_detector *d, const char *ifname, unsigned int slot)
{
	struct track *grown;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->t[i].a.slot == slot && !strcmp(d->t[i].a.ifname, ifname))
			return &d->t[i];
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;

		grown = realloc(d->t, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		d->t = grown;
		d->cap = cap;
	}
	memset(&d->t[d->n], 0, sizeof(d->t[d->n]));
	snprintf(d->t[d->n].a.ifname, sizeof(d->t[d->n].a.ifname), "%s", ifname);
	d->t[d->n].a.slot = slot;
	return &d->t[d->n++];
}

static struct ag_escalation *find_esc(struct ag_detector *d, unsigned int slot)
{
	size_t i;

	for (i = 0; i < d->nr_esc; i++)
		if (d->esc[i].slot == slot)
			return &d->esc[i];
	return NULL;
}

static void drop_esc(struct ag_detector *d, struct ag_escalation *e)
{
	*e = d->esc[--d->nr_esc];
	d->dirty = true;
}

/* ---- events ------------------------------------------------------------ */

static json_object *event_new(const char *name, const struct track *t)
{
	json_object *o = json_object_new_object();
	char when[32];

	ag_fmt_time(when, sizeof(when), time(NULL));
	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "interface", json_object_new_string(t->a.ifname));
	json_object_object_add(o, "vector", json_object_new_string(t->a.vector));
	json_object_object_add(o, "port", json_object_new_int(t->a.port));
	json_object_object_add(o, "pps", json_object_new_int64((long long)(t->pps + 0.5)));
	json_object_object_add(o, "bps", json_object_new_int64((long long)(t->bps + 0.5)));
	return o;
}

static int by_packets(const void *x, const void *y)
{
	const struct ag_src_entry *a = x, *b = y;
	__u64 na = a->dropped + a->admitted, nb = b->dropped + b->admitted;

	return na < nb ? 1 : na > nb ? -1 : 0;
}

/* The vector's busiest sources from the per-source table, busiest first. */
static json_object *top_sources(const struct ag_state *st, unsigned int slot)
{
	struct ag_src_entry *all = ag_src_read(st);
	json_object *arr = json_object_new_array(), *o;
	char addr[INET6_ADDRSTRLEN];
	size_t i, n = 0;

	if (!all)
		return arr;
	for (i = 0; i < AG_SRC_ENTRIES; i++)
		if (all[i].vec == slot)
			all[n++] = all[i];
	ag_sort(all, n, sizeof(*all), by_packets);
	for (i = 0; i < n && i < TOP_SOURCES; i++) {
		ag_fmt_src_addr(all[i].addr, addr, sizeof(addr));
		o = json_object_new_object();
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "dropped", json_object_new_int64(all[i].dropped));
		json_object_object_add(o, "admitted", json_object_new_int64(all[i].admitted));
		json_object_array_add(arr, o);
	}
	free(all);
	return arr;
}

/* ---- escalation ---------------------------------------------------------- */

/*
 * The escalated policy: the running one with the escalation's action, and
 * for ratelimit the budgets the file gives the vector (else those it runs
 * with). false when a ratelimit would have no budget: it would admit all.
 */
static bool escalated_policy(const struct ag_conf *c, const struct ag_policy *run,
			     unsigned int slot, int action, struct ag_policy *out)
{
	const struct ag_policy *cfg = NULL;
	size_t i;

	*out = *run;
	out->action = action;
	if (action != AG_ACT_RATELIMIT)
		return true;
	if (slot < AG_FIRST_CUSTOM_SLOT)
		cfg = &c->builtin[slot];
	for (i = 0; !cfg && i < c->nr_ports; i++)
		if (c->ports[i].pol.port == run->port)
			cfg = &c->ports[i].pol;
	if (!cfg || !ag_policy_has_budget(cfg))
		return ag_policy_has_budget(out);
	out->agg_pps = cfg->agg_pps;
	out->agg_bps = cfg->agg_bps;
	out->src_pps = cfg->src_pps;
	out->src_bps = cfg->src_bps;
	out->src_full = cfg->src_full;
	return true;
}

/*
 * Changes one vector's policy from what the daemon believes runs to what it
 * wants, under the writer lock, only if the belief still holds: an
 * operator's change in between wins. 1 when the belief did not hold.
 */
static int swap_policy(unsigned int slot, const struct ag_policy *from, const struct ag_policy *to)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_state st;
	int err;

	err = ag_state_open(&st, AG_LOCK_WRITE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, tbl);
	if (!err && memcmp(&tbl[slot], from, sizeof(*from)))
		err = 1;
	if (!err) {
		tbl[slot] = *to;
		err = ag_policy_commit(&st, tbl);
		err = err ?: ag_policy_settle(&st, from, to, slot);
	}
	ag_state_close(&st);
	if (err < 0)
		ag_bpf_err(err, "changing a vector's policy");
	return err;
}

static void escalate(struct ag_detector *d, struct track *t, const struct ag_policy *run,
		     int action)
{
	struct ag_escalation *e = &d->esc[d->nr_esc];
	json_object *ev;

	e->slot = t->a.slot;
	snprintf(e->ifname, sizeof(e->ifname), "%s", t->a.ifname);
	e->base = *run;
	if (!escalated_policy(&d->conf, run, t->a.slot, action, &e->set)) {
		ag_log("%s: escalating to ratelimit needs a budget (pps, bps, per-source-*): not escalated",
		       t->a.vector);
		d->hands_off[t->a.slot] = true; /* said once per attack */
		return;
	}
	if (swap_policy(t->a.slot, &e->base, &e->set))
		return;
	d->nr_esc++;
	d->dirty = true;
	ev = event_new("escalate", t);
	json_object_object_add(ev, "from", json_object_new_string(ag_action_name(run->action)));
	json_object_object_add(ev, "action", json_object_new_string(ag_action_name(action)));
	ag_event_publish(ev);
}

static void release(struct ag_detector *d, struct track *t, struct ag_escalation *e)
{
	json_object *ev;
	int err;

	err = swap_policy(e->slot, &e->set, &e->base);
	if (err > 0)
		ag_log("%s: changed by an operator since it was escalated: left as it is",
		       t->a.vector);
	if (err < 0)
		return; /* kept: tried again next interval */
	if (!err) {
		ev = event_new("release", t);
		json_object_object_add(ev, "action",
				       json_object_new_string(ag_action_name(e->base.action)));
		ag_event_publish(ev);
	}
	drop_esc(d, e);
}

/* ---- the state machine ----------------------------------------------------- */

static void attack_start(struct ag_detector *d, struct track *t, const struct ag_state *st,
			 const struct ag_policy *run, __u64 dropped)
{
	json_object *ev;

	t->a.active = true;
	t->a.since = time(NULL);
	t->a.peak_pps = t->pps;
	t->a.peak_bps = t->bps;
	t->a.attacks_total++;
	t->a.dropped_base = dropped;
	t->below_since = 0;
	d->dirty = true;
	ev = event_new("attack_start", t);
	if (ag_policy_src_active(run))
		json_object_object_add(ev, "sources", top_sources(st, t->a.slot));
	ag_event_publish(ev);
}

static void attack_end(struct ag_detector *d, struct track *t, __u64 dropped)
{
	json_object *ev = event_new("attack_end", t);
	__u64 since = t->a.since, now = time(NULL);

	json_object_object_add(ev, "duration_s",
			       json_object_new_int64(now > since ? now - since : 0));
	json_object_object_add(ev, "peak_pps", json_object_new_int64((long long)t->a.peak_pps));
	json_object_object_add(ev, "dropped_packets",
			       json_object_new_int64(dropped >= t->a.dropped_base ?
							     dropped - t->a.dropped_base :
							     dropped));
	t->a.active = false;
	t->above = 0;
	d->dirty = true;
	ag_event_publish(ev);
}

bool ag_detector_attacked(const struct ag_detector *d, unsigned int slot)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->t[i].a.slot == slot && d->t[i].a.active)
			return true;
	return false;
}

/* One track through one interval; counters in, events out. */
static void judge(struct ag_detector *d, struct track *t, const struct ag_state *st,
		  const struct ag_policy *run, __u64 dropped, double now)
{
	struct thresholds th;
	struct ag_escalation *e;

	thresholds(&d->conf, t->a.slot, t->a.port, &th);
	if (!t->a.active) {
		t->above = at_trigger(&th, t->pps, t->bps) ? t->above + 1 : 0;
		if (t->above >= d->conf.detection.detect)
			attack_start(d, t, st, run, dropped);
	} else {
		if (t->pps > t->a.peak_pps || t->bps > t->a.peak_bps)
			d->peaks = true;
		if (t->pps > t->a.peak_pps)
			t->a.peak_pps = t->pps;
		if (t->bps > t->a.peak_bps)
			t->a.peak_bps = t->bps;
		if (!below_release(&th, t->pps, t->bps))
			t->below_since = 0;
		else if (!t->below_since)
			t->below_since = now;
		else if (now - t->below_since >= th.hold_s - 1e-3) {
			t->a.active = false; /* the release comes before the end is announced */
			e = find_esc(d, t->a.slot);
			if (e && !ag_detector_attacked(d, t->a.slot))
				release(d, t, e);
			attack_end(d, t, dropped);
			return;
		}
	}
	if (!t->a.active || d->hands_off[t->a.slot] || th.escalate < 0 || find_esc(d, t->a.slot))
		return;
	if (run->action == AG_ACT_MONITOR || run->action == AG_ACT_RATELIMIT)
		escalate(d, t, run, th.escalate);
}

/* An escalated vector whose policy is not what the daemon set: the operator's now. */
static void check_overrides(struct ag_detector *d, const struct ag_policy tbl[AG_MAX_VECTORS])
{
	char name[32];
	size_t i;

	for (i = 0; i < d->nr_esc;) {
		struct ag_escalation *e = &d->esc[i];

		if (!memcmp(&tbl[e->slot], &e->set, sizeof(e->set))) {
			i++;
			continue;
		}
		ag_vector_name(&tbl[e->slot], e->slot, name, sizeof(name));
		ag_log("%s: changed by an operator since it was escalated: left alone until its attacks end",
		       name);
		d->hands_off[e->slot] = true;
		drop_esc(d, e);
	}
}

static void measure(struct track *t, const struct ag_counter *now, double dt)
{
	if (t->have_prev && dt > 0 && now->packets >= t->prev.packets &&
	    now->bytes >= t->prev.bytes) {
		t->pps = (now->packets - t->prev.packets) / dt;
		t->bps = (now->bytes - t->prev.bytes) * 8.0 / dt;
	} else {
		t->pps = t->bps = 0; /* first look, or counters restarted by a re-attach */
	}
	t->prev = *now;
	t->have_prev = true;
}

static void step_iface(struct ag_detector *d, const struct ag_state *st,
		       const struct ag_snapshot *s, const struct ag_iface_counters *ifc, double dt)
{
	struct ag_counter unsol;
	unsigned int slot;
	struct track *t;
	__u64 dropped;

	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (!s->tbl[slot].in_use)
			continue;
		t = find_track(d, ifc->name, slot);
		if (!t)
			return;
		t->seen = true;
		if (t->a.port && t->a.port != s->tbl[slot].port) {
			/* The slot went to another port: its record is not this one's. */
			memset(t, 0, sizeof(*t));
			snprintf(t->a.ifname, sizeof(t->a.ifname), "%s", ifc->name);
			t->a.slot = slot;
			t->seen = true;
			d->dirty = true;
		}
		t->a.port = s->tbl[slot].port;
		ag_vector_name(&s->tbl[slot], slot, t->a.vector, sizeof(t->a.vector));
		sum_counters(ifc, slot, &unsol, &dropped);
		measure(t, &unsol, dt);
		judge(d, t, st, &s->tbl[slot], dropped, s->when);
	}
}

/* Interfaces detached (or vectors freed) end their attacks without an event. */
static void forget_unseen(struct ag_detector *d)
{
	size_t i = 0;

	while (i < d->n) {
		if (d->t[i].seen) {
			d->t[i++].seen = false;
			continue;
		}
		d->t[i] = d->t[--d->n];
		d->dirty = true;
	}
}

/*
 * Escalations whose attacks are all over, and operators' vetoes likewise:
 * an escalation whose release failed is tried again every interval, and
 * one whose interface went away is released all the same.
 */
static void settle_vectors(struct ag_detector *d, const struct ag_policy tbl[AG_MAX_VECTORS])
{
	struct track t = { 0 };
	unsigned int slot;
	size_t i;

	for (slot = 0; slot < AG_MAX_VECTORS; slot++)
		if (d->hands_off[slot] && !ag_detector_attacked(d, slot))
			d->hands_off[slot] = false;
	for (i = d->nr_esc; i-- > 0;) {
		struct ag_escalation *e = &d->esc[i];

		if (ag_detector_attacked(d, e->slot))
			continue;
		snprintf(t.a.ifname, sizeof(t.a.ifname), "%s", e->ifname);
		t.a.slot = e->slot;
		t.a.port = e->base.port;
		ag_vector_name(&tbl[e->slot], e->slot, t.a.vector, sizeof(t.a.vector));
		release(d, &t, e);
	}
}

static void save(struct ag_detector *d)
{
	struct ag_attacks rec = { .nr_esc = d->nr_esc };
	size_t i;
	int err;

	rec.v = calloc(d->n ? d->n : 1, sizeof(*rec.v));
	if (!rec.v)
		return;
	for (i = 0; i < d->n; i++)
		if (d->t[i].a.active || d->t[i].a.attacks_total)
			rec.v[rec.n++] = d->t[i].a;
	memcpy(rec.esc, d->esc, d->nr_esc * sizeof(d->esc[0]));
	err = ag_attacks_write(&rec);
	if (err) {
		ag_log("writing %s/attacks.json: %s", ag_state_dir(), strerror(-err));
	} else {
		d->dirty = d->peaks = false;
		d->saved_at = ag_mono_s();
	}
	free(rec.v);
}

/* Everything forgotten: the state root is gone, and escalations with it. */
static void forget_all(struct ag_detector *d)
{
	if (!d->n && !d->nr_esc)
		return;
	d->n = 0;
	d->nr_esc = 0;
	memset(d->hands_off, 0, sizeof(d->hands_off));
	d->prev_when = 0;
	d->dirty = true;
}

void ag_detector_step(struct ag_detector *d)
{
	struct ag_snapshot s = { 0 };
	struct ag_state st;
	unsigned int i;
	double dt;
	int err;

	err = ag_state_open_quiet(&st);
	if (err == -ENOENT)
		forget_all(d); /* nothing protected: nothing to watch */
	if (!err && !ag_snapshot_take(&st, NULL, &s)) {
		check_overrides(d, s.tbl);
		dt = d->prev_when ? s.when - d->prev_when : 0;
		for (i = 0; i < s.n; i++)
			step_iface(d, &st, &s, &s.ifs[i], dt);
		forget_unseen(d);
		settle_vectors(d, s.tbl);
		d->prev_when = s.when;
	}
	free(s.ifs);
	if (!err)
		ag_state_close(&st);
	if (d->dirty || (d->peaks && ag_mono_s() - d->saved_at >= SAVE_PEAKS_S))
		save(d);
}

/*
 * Makes a file about to be applied keep what the daemon escalated: a vector
 * the file leaves as it was before the escalation keeps the escalated
 * policy (the attack is not over); a vector the file changes is the
 * operator's (the next interval sees the change and lets go).
 */
void ag_detector_overlay(struct ag_conf *c, void *arg)
{
	const struct ag_detector *d = arg;
	struct ag_policy *p;
	size_t i, j;

	for (i = 0; i < d->nr_esc; i++) {
		const struct ag_escalation *e = &d->esc[i];

		p = e->slot < AG_FIRST_CUSTOM_SLOT ? &c->builtin[e->slot] : NULL;
		for (j = 0; !p && j < c->nr_ports; j++)
			if (c->ports[j].pol.port == e->base.port)
				p = &c->ports[j].pol;
		if (p && ag_policy_same(p, &e->base))
			*p = e->set;
	}
}

/* ---- life ----------------------------------------------------------------- */

/* A detector carrying on from the records a previous daemon left. */
struct ag_detector *ag_detector_new(const struct ag_conf *c)
{
	struct ag_detector *d = calloc(1, sizeof(*d));
	struct ag_attacks rec;
	struct track *t;
	size_t i;

	if (!d)
		return NULL;
	ag_detector_configure(d, c);
	if (ag_attacks_read(&rec)) {
		ag_log("%s/attacks.json is unreadable: starting without its records",
		       ag_state_dir());
		return d;
	}
	for (i = 0; i < rec.n; i++) {
		if (rec.v[i].slot >= AG_MAX_VECTORS)
			continue;
		t = find_track(d, rec.v[i].ifname, rec.v[i].slot);
		if (t) {
			t->a = rec.v[i];
			t->seen = true;
		}
	}
	memcpy(d->esc, rec.esc, rec.nr_esc * sizeof(rec.esc[0]));
	d->nr_esc = rec.nr_esc;
	ag_attacks_free(&rec);
	return d;
}

/* New thresholds apply from the next interval; attacks under way go on. */
void ag_detector_configure(struct ag_detector *d, const struct ag_conf *c)
{
	free(d->conf.ports);
	d->conf = *c;
	d->conf.ports = NULL;
	d->conf.nr_ports = 0;
	d->conf.lists = NULL;
	d->conf.nr_lists = 0;
	d->conf.ifaces = NULL;
	d->conf.nr_ifaces = 0;
	if (c->nr_ports) {
		d->conf.ports = malloc(c->nr_ports * sizeof(*c->ports));
		if (d->conf.ports) {
			memcpy(d->conf.ports, c->ports, c->nr_ports * sizeof(*c->ports));
			d->conf.nr_ports = c->nr_ports;
		}
	}
}

void ag_detector_free(struct ag_detector *d)
{
	if (!d)
		return;
	free(d->conf.ports);
	free(d->t);
	free(d);
}
