// SPDX-License-Identifier: GPL-2.0-only
/*
 * Declarative configuration: the running state as a struct ag_conf, its
 * YAML form (`config show`), and `apply`, which makes the running state
 * equal to a file. An apply validates everything first, attaches what is
 * missing, commits the whole policy in one generation flip, then detaches
 * what the file no longer names; a failure takes back what it attached.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "config.h"

/* ---- the running state ------------------------------------------------ */

struct iface_arg {
	const struct ag_state *st;
	struct ag_conf *c;
	__u32 gen;
	int err;
};

static int add_running_iface(const char *ifname, void *arg)
{
	struct iface_arg *a = arg;
	struct ag_conf_iface *grown, *ifc;
	struct ag_ifinfo info = { 0 };
	char name[IF_NAMESIZE];
	unsigned int i;

	ag_iface_info(a->st, ifname, &info);
	grown = realloc(a->c->ifaces, (a->c->nr_ifaces + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	a->c->ifaces = grown;
	ifc = &grown[a->c->nr_ifaces++];
	memset(ifc, 0, sizeof(*ifc));
	snprintf(ifc->name, sizeof(ifc->name), "%s", ifname);
	ifc->mode = info.mode;
	ifc->orphan = info.orphan[a->gen];
	for (i = 1; i < AG_MAX_TRACK_IFACES && info.track_ifindex[i]; i++)
		if (if_indextoname(info.track_ifindex[i], name))
			snprintf(ifc->track_on[ifc->nr_track++], IF_NAMESIZE, "%s", name);
	return 0;
}

static int conf_from_state(const struct ag_state *st, struct ag_conf *c)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct iface_arg a = { .st = st, .c = c, .gen = ag_active_gen(st) };
	unsigned int slot;
	int err;

	ag_conf_init(c);
	err = ag_policy_read(st->config_fd, st->policy_fd, tbl);
	err = err ?: ag_served_read(st, &c->served);
	err = err ?: ag_lists_read(st, &c->lists, &c->nr_lists);
	if (err)
		return err;
	for (slot = 1; slot <= ag_nr_builtins; slot++)
		c->builtin[slot] = tbl[slot];
	for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++) {
		struct ag_conf_port *grown;

		if (!tbl[slot].in_use)
			continue;
		grown = realloc(c->ports, (c->nr_ports + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->ports = grown;
		c->ports[c->nr_ports++].pol = tbl[slot];
	}
	c->has_ifaces = true;
	return ag_for_each_iface(st, add_running_iface, &a);
}

/* ---- YAML out ----------------------------------------------------------- */

static void emit_budget(FILE *f, const char *rate_key, const char *burst_key,
			const struct ag_rate *r)
{
	if (!r->rate)
		return;
	fprintf(f, "    %s: %llu\n    %s: %llu\n", rate_key, (unsigned long long)r->rate, burst_key,
		(unsigned long long)r->burst);
}

static void emit_vector(FILE *f, const char *name, const struct ag_policy *p)
{
	char timeout[16];

	ag_fmt_duration(timeout, sizeof(timeout), p->track_timeout_ms);
	fprintf(f, "  %s:\n    action: %s\n    track-timeout: %s\n", name,
		ag_action_name(p->action), timeout);
	emit_budget(f, "pps", "burst", &p->agg_pps);
	emit_budget(f, "bps", "bps-burst", &p->agg_bps);
	emit_budget(f, "per-source-pps", "per-source-burst", &p->src_pps);
	emit_budget(f, "per-source-bps", "per-source-bps-burst", &p->src_bps);
	if (p->src_pps.rate || p->src_bps.rate)
		fprintf(f, "    source-table-full: %s\n", ag_src_full_name(p->src_full));
}

static void emit_cidrs(FILE *f, const char *key, const struct ag_conf *c, enum ag_list_kind list)
{
	char addr[INET6_ADDRSTRLEN];
	size_t i, n = 0;

	fprintf(f, "%s:", key);
	for (i = 0; i < c->nr_lists; i++) {
		const struct ag_list_op *e = &c->lists[i];

		if (e->list != list)
			continue;
		inet_ntop(e->family, e->addr, addr, sizeof(addr));
		fprintf(f, "\n  - %s/%u", addr, e->prefixlen);
		n++;
	}
	fprintf(f, n ? "\n" : " []\n");
}

static void emit(FILE *f, const struct ag_conf *c)
{
	unsigned int i, port, n = 0;
	char name[16];

	fprintf(f, "# ampguard configuration (ampguard config show)\n");
	fprintf(f, "interfaces:%s\n", c->nr_ifaces ? "" : " {}");
	for (i = 0; i < c->nr_ifaces; i++) {
		const struct ag_conf_iface *ifc = &c->ifaces[i];
		unsigned int t;

		fprintf(f, "  \"%s\":\n    mode: %s\n", ifc->name,
			ifc->mode ? ag_mode_name(ifc->mode) : "auto");
		if (ifc->nr_track) {
			fprintf(f, "    track-on: [");
			for (t = 0; t < ifc->nr_track; t++)
				fprintf(f, "%s\"%s\"", t ? ", " : "", ifc->track_on[t]);
			fprintf(f, "]\n");
		}
		fprintf(f, "    orphan-fragments: %s\n", ag_orphan_name(ifc->orphan.mode));
		if (ifc->orphan.pps.rate)
			fprintf(f, "    orphan-pps: %llu\n    orphan-burst: %llu\n",
				(unsigned long long)ifc->orphan.pps.rate,
				(unsigned long long)ifc->orphan.pps.burst);
	}
	fprintf(f, "vectors:\n");
	for (i = 1; i <= ag_nr_builtins; i++)
		emit_vector(f, ag_builtins[i - 1].name, &c->builtin[i]);
	for (i = 0; i < c->nr_ports; i++) {
		snprintf(name, sizeof(name), "%u", c->ports[i].pol.port);
		emit_vector(f, name, &c->ports[i].pol);
	}
	fprintf(f, "served-ports: [");
	for (port = 0; port < AG_NR_PORTS; port++)
		if ((c->served.bits[port / 32] >> (port % 32)) & 1)
			fprintf(f, "%s%u", n++ ? ", " : "", port);
	fprintf(f, "]\n");
	emit_cidrs(f, "allow", c, AG_LIST_ALLOW);
	emit_cidrs(f, "deny", c, AG_LIST_DENY);
	if (*c->listen)
		fprintf(f, "exporter:\n  listen: \"%s\"\n", c->listen);
}

/* ---- planning an apply -------------------------------------------------- */

struct plan {
	FILE *log; /* the change lines, printed once the plan holds */
	char *log_buf;
	size_t log_len;
	struct ag_policy old[AG_MAX_VECTORS];
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_served served;
	bool served_changed;
	struct ag_list_op *ops;
	size_t nr_ops;
	struct ag_orphan_op *orphans;
	size_t nr_orphans;
	const struct ag_conf_iface **attach; /* targets not attached yet */
	size_t nr_attach;
	const char **detach; /* attached, not named */
	size_t nr_detach;
	unsigned int changes;
};

static void note(struct plan *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct plan *pl, const char *fmt, ...)
{
	va_list ap;

	pl->changes++;
	if (!pl->log)
		return;
	va_start(ap, fmt);
	fprintf(pl->log, "  ");
	vfprintf(pl->log, fmt, ap);
	fprintf(pl->log, "\n");
	va_end(ap);
}

static void describe(const struct ag_policy *p, char *buf, size_t len)
{
	char timeout[16], limits[200] = "";

	ag_fmt_duration(timeout, sizeof(timeout), p->track_timeout_ms);
	ag_fmt_limits(p, limits, sizeof(limits));
	snprintf(buf, len, "%s, tracking %s%s%s", ag_action_name(p->action), timeout,
		 *limits ? ", " : "", limits);
}

static int plan_vectors(const struct ag_state *st, const struct ag_conf *c, struct plan *pl)
{
	char was[256], now[256], name[32];
	unsigned int slot;
	size_t i;
	int s, port;

	memcpy(pl->tbl, pl->old, sizeof(pl->tbl));
	for (slot = 1; slot <= ag_nr_builtins; slot++)
		pl->tbl[slot] = c->builtin[slot];
	/* Ports the file no longer names give up their slots (keeping their name). */
	for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++) {
		bool kept = false;

		for (i = 0; i < c->nr_ports && pl->old[slot].in_use; i++)
			kept |= c->ports[i].pol.port == pl->old[slot].port;
		if (pl->old[slot].in_use && !kept)
			pl->tbl[slot] = (struct ag_policy){ .port = pl->old[slot].port };
	}
	for (i = 0; i < c->nr_ports; i++) {
		port = c->ports[i].pol.port;
		for (s = AG_FIRST_CUSTOM_SLOT; s < AG_MAX_VECTORS; s++)
			if (pl->tbl[s].in_use && pl->tbl[s].port == port)
				break;
		if (s == AG_MAX_VECTORS)
			s = ag_policy_alloc(st, pl->tbl, port);
		if (s < 0)
			return s;
		pl->tbl[s] = c->ports[i].pol;
	}
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		if (ag_policy_same(&pl->old[slot], &pl->tbl[slot]))
			continue;
		ag_vector_name(&pl->tbl[slot], slot, name, sizeof(name));
		describe(&pl->old[slot], was, sizeof(was));
		describe(&pl->tbl[slot], now, sizeof(now));
		if (!pl->old[slot].in_use && pl->tbl[slot].in_use)
			note(pl, "%s: added (%s)", name, now);
		else if (pl->old[slot].in_use && !pl->tbl[slot].in_use)
			note(pl, "%s: removed", name);
		else if (pl->tbl[slot].in_use)
			note(pl, "%s: %s -> %s", name, was, now);
	}
	return 0;
}

static void plan_served(const struct ag_conf *cur, const struct ag_conf *c, struct plan *pl)
{
	unsigned int port;

	pl->served = c->served;
	for (port = 0; port < AG_NR_PORTS; port++) {
		bool a = (cur->served.bits[port / 32] >> (port % 32)) & 1;
		bool b = (c->served.bits[port / 32] >> (port % 32)) & 1;

		if (a != b) {
			pl->served_changed = true;
			note(pl, "served port %u: %s", port, b ? "added" : "removed");
		}
	}
}

static int op_cmp(const void *x, const void *y)
{
	const struct ag_list_op *a = x, *b = y;
	int d;

	if (a->list != b->list)
		return a->list - b->list;
	if (a->family != b->family)
		return a->family - b->family;
	d = memcmp(a->addr, b->addr, 16);
	return d ? d : (int)a->prefixlen - (int)b->prefixlen;
}

/* Additions and removals that turn the current lists into the file's. */
static int plan_lists(struct ag_conf *cur, struct ag_conf *c, struct plan *pl)
{
	size_t i = 0, j = 0, n, counts[2][2] = { { 0 } }, add[2] = { 0 }, del[2] = { 0 };
	static const char *const names[] = { "allowlist", "denylist" };
	struct ag_list_op *want = c->lists;
	int d;

	ag_sort(cur->lists, cur->nr_lists, sizeof(*cur->lists), op_cmp);
	ag_sort(c->lists, c->nr_lists, sizeof(*c->lists), op_cmp);
	/* Drop duplicates in the file. */
	for (n = 0, i = 0; i < c->nr_lists; i++)
		if (!n || op_cmp(&want[n - 1], &want[i]))
			want[n++] = want[i];
	c->nr_lists = n;
	for (i = 0; i < n; i++)
		if (++counts[want[i].list][want[i].family == AF_INET6] > AG_LIST_ENTRIES) {
			ag_err("the %s would exceed %u %s entries", names[want[i].list],
			       AG_LIST_ENTRIES, want[i].family == AF_INET ? "IPv4" : "IPv6");
			return -ENOSPC;
		}
	pl->ops = calloc(cur->nr_lists + n + 1, sizeof(*pl->ops));
	if (!pl->ops)
		return -ENOMEM;
	for (i = 0, j = 0; i < cur->nr_lists || j < n;) {
		d = i == cur->nr_lists ? 1 : j == n ? -1 : op_cmp(&cur->lists[i], &want[j]);
		if (d < 0) {
			pl->ops[pl->nr_ops] = cur->lists[i++];
			pl->ops[pl->nr_ops++].del = 1;
			del[pl->ops[pl->nr_ops - 1].list]++;
		} else if (d > 0) {
			pl->ops[pl->nr_ops++] = want[j++];
			add[pl->ops[pl->nr_ops - 1].list]++;
		} else {
			i++, j++;
		}
	}
	for (i = 0; i < 2; i++)
		if (add[i] || del[i])
			note(pl, "%s: +%zu -%zu", names[i], add[i], del[i]);
	return 0;
}

static const struct ag_conf_iface *find_iface(const struct ag_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nr_ifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return &c->ifaces[i];
	return NULL;
}

/* "FILE:LINE:COLUMN: " for a position in the file, or nothing when there is none. */
static const char *where(const struct ag_conf *c, int line, int col, char *buf, size_t len)
{
	if (line)
		snprintf(buf, len, "%s:%d:%d: ", c->fname, line, col);
	else
		buf[0] = '\0';
	return buf;
}

static int check_target(const struct ag_conf *c, const struct ag_conf_iface *want,
			const struct ag_conf_iface *have)
{
	char at[300];
	unsigned int i;

	if (!if_nametoindex(want->name)) {
		ag_err("%sno such interface '%s': see 'ip link'",
		       where(c, want->line, want->col, at, sizeof(at)), want->name);
		return -ENODEV;
	}
	for (i = 0; i < want->nr_track; i++) {
		if (!if_nametoindex(want->track_on[i])) {
			ag_err("%sno such interface '%s' (track-on of %s)",
			       where(c, want->track_line[i], want->track_col[i], at, sizeof(at)),
			       want->track_on[i], want->name);
			return -ENODEV;
		}
	}
	if (!have)
		return 0;
	if (want->mode != AG_MODE_AUTO && want->mode != have->mode) {
		ag_err("%s runs in %s mode, the configuration asks %s: detach it first to change the mode",
		       want->name, ag_mode_name(have->mode), ag_mode_name(want->mode));
		return -EEXIST;
	}
	if (want->nr_track != have->nr_track ||
	    memcmp(want->track_on, have->track_on, sizeof(want->track_on[0]) * want->nr_track)) {
		ag_err("%s tracks requests on other interfaces than the configuration says: detach it first to change track-on",
		       want->name);
		return -EEXIST;
	}
	return 0;
}

static bool same_orphan(const struct ag_orphan_cfg *a, const struct ag_orphan_cfg *b)
{
	return a->mode == b->mode && a->pps.rate == b->pps.rate && a->pps.burst == b->pps.burst;
}

static int plan_ifaces(const struct ag_conf *cur, const struct ag_conf *c, const char *only,
		       struct plan *pl)
{
	size_t i;
	int err;

	pl->attach = calloc(c->nr_ifaces + 1, sizeof(*pl->attach));
	pl->detach = calloc(cur->nr_ifaces + 1, sizeof(*pl->detach));
	pl->orphans = calloc(c->nr_ifaces + 1, sizeof(*pl->orphans));
	if (!pl->attach || !pl->detach || !pl->orphans)
		return -ENOMEM;
	for (i = 0; i < c->nr_ifaces; i++) {
		const struct ag_conf_iface *want = &c->ifaces[i];
		const struct ag_conf_iface *have = find_iface(cur, want->name);

		if (only && strcmp(only, want->name))
			continue;
		err = check_target(c, want, have);
		if (err)
			return err;
		if (!have) {
			pl->attach[pl->nr_attach++] = want;
			note(pl, "%s: attach", want->name);
		}
		if (!have || !same_orphan(&have->orphan, &want->orphan)) {
			pl->orphans[pl->nr_orphans++] =
				(struct ag_orphan_op){ .ifname = want->name, .cfg = want->orphan };
			if (have)
				note(pl, "%s: orphan fragments %s -> %s", want->name,
				     ag_orphan_name(have->orphan.mode),
				     ag_orphan_name(want->orphan.mode));
		}
	}
	for (i = 0; !only && c->has_ifaces && i < cur->nr_ifaces; i++) {
		if (find_iface(c, cur->ifaces[i].name))
			continue;
		pl->detach[pl->nr_detach++] = cur->ifaces[i].name;
		note(pl, "%s: detach", cur->ifaces[i].name);
	}
	return 0;
}

static void plan_free(struct plan *pl)
{
	if (pl->log)
		fclose(pl->log);
	free(pl->log_buf);
	free(pl->ops);
	free(pl->orphans);
	free(pl->attach);
	free(pl->detach);
}

static int plan_all(const struct ag_state *st, struct ag_conf *cur, struct ag_conf *c,
		    const char *only, struct plan *pl)
{
	int err;

	err = plan_ifaces(cur, c, only, pl);
	err = err ?: plan_vectors(st, c, pl);
	if (!err)
		plan_served(cur, c, pl);
	return err ?: plan_lists(cur, c, pl);
}

/* ---- applying ------------------------------------------------------------ */

static int attach_targets(const struct ag_state *st, const struct plan *pl, size_t *done)
{
	struct ag_attach_req req;
	unsigned int t;
	int err = 0;

	for (*done = 0; *done < pl->nr_attach && !err; (*done)++) {
		const struct ag_conf_iface *ifc = pl->attach[*done];

		memset(&req, 0, sizeof(req));
		req.quiet = true;
		req.ifname = ifc->name;
		req.mode = ifc->mode;
		req.track_names[0] = ifc->name;
		req.nr_track = 1;
		for (t = 0; t < ifc->nr_track; t++)
			req.track_names[req.nr_track++] = ifc->track_on[t];
		err = ag_attach_resolve(&req) ?: ag_attach_locked(st, &req);
		if (err)
			break;
	}
	return err;
}

static int commit_plan(struct ag_state *st, struct plan *pl)
{
	struct ag_change ch = {
		.tbl = pl->tbl,
		.served = pl->served_changed ? &pl->served : NULL,
		.ops = pl->ops,
		.nr_ops = pl->nr_ops,
		.orphans = pl->orphans,
		.nr_orphans = pl->nr_orphans,
	};
	unsigned int slot;
	int err;

	err = ag_commit(st, &ch);
	for (slot = 1; !err && slot < AG_MAX_VECTORS; slot++)
		err = ag_policy_settle(st, &pl->old[slot], &pl->tbl[slot], slot);
	return err;
}

/*
 * Makes the running state equal to c. only: act on that interface alone
 * (attach --config); the others are neither attached nor detached.
 */
int ag_conf_apply(struct ag_conf *c, const char *only, bool dry_run)
{
	struct ag_state st;
	struct ag_conf cur;
	struct plan pl = { 0 };
	size_t attached = 0, i;
	bool had_state;
	int err;

	ag_state_reset(&st);

	err = ag_state_lock_create(&st);
	if (err)
		return err;
	err = ag_state_open_maps(&st);
	had_state = !err;
	if (err == -ENOENT) {
		ag_conf_init(&cur);
		memcpy(pl.old, cur.builtin, sizeof(pl.old));
		err = 0;
	} else if (!err) {
		err = conf_from_state(&st, &cur);
		err = err ?: ag_policy_read(st.config_fd, st.policy_fd, pl.old);
	}
	if (err) {
		if (err != -EPROTO && err != -EUCLEAN)
			ag_bpf_err(err, "reading the running state");
		goto out_unlock;
	}
	if (!had_state && !c->nr_ifaces) {
		ag_err("ampguard is not attached anywhere and the configuration names no interface: add one under 'interfaces:'");
		err = -ENOENT;
		goto out;
	}

	pl.log = open_memstream(&pl.log_buf, &pl.log_len);
	err = pl.log ? plan_all(&st, &cur, c, only, &pl) : -ENOMEM;
	if (err)
		goto out;
	fflush(pl.log);
	printf("%s:\n%s", dry_run ? "would change" : "changes",
	       pl.changes ? pl.log_buf : "  none: the running state already matches\n");
	if (!pl.changes || dry_run)
		goto out;

	err = attach_targets(&st, &pl, &attached);
	if (!err && !had_state)
		err = ag_state_open_maps(&st);
	err = err ?: commit_plan(&st, &pl);
	if (err) {
		ag_err("the configuration was not applied; nothing was changed");
		for (i = 0; i < attached; i++)
			ag_detach_locked(&st, pl.attach[i]->name);
		goto out;
	}
	for (i = 0; i < pl.nr_detach; i++)
		ag_detach_locked(&st, pl.detach[i]);
out:
	ag_conf_free(&cur);
	plan_free(&pl);
out_unlock:
	/* A failed first apply leaves no empty state root behind. */
	if (err && !had_state)
		ag_state_remove_if_unused(&st);
	ag_state_close(&st);
	return err;
}

int ag_conf_apply_file(const char *path, const char *only_iface, bool dry_run)
{
	struct ag_conf c;
	char err[512];
	int ret;

	ret = ag_conf_load(path, &c, err, sizeof(err));
	if (ret) {
		ag_err("%s", err);
		return ret;
	}
	ret = ag_conf_apply(&c, only_iface, dry_run);
	ag_conf_free(&c);
	return ret;
}

/*
 * attach IFACE --config FILE: the file's entry for IFACE, or one made of the
 * command line's options, then the file's policy.
 */
int ag_conf_attach(const struct ag_attach_req *req)
{
	struct ag_conf_iface *ifc, *grown;
	struct ag_conf c;
	char err[512];
	unsigned int t;
	int ret;

	ret = ag_conf_load(req->config, &c, err, sizeof(err));
	if (ret) {
		ag_err("%s", err);
		return ret;
	}
	if (!find_iface(&c, req->ifname)) {
		grown = realloc(c.ifaces, (c.nr_ifaces + 1) * sizeof(*grown));
		if (!grown) {
			ag_conf_free(&c);
			return -ENOMEM;
		}
		c.ifaces = grown;
		ifc = &c.ifaces[c.nr_ifaces++];
		memset(ifc, 0, sizeof(*ifc));
		snprintf(ifc->name, sizeof(ifc->name), "%s", req->ifname);
		ifc->mode = req->mode;
		for (t = 1; t < req->nr_track; t++)
			snprintf(ifc->track_on[ifc->nr_track++], IF_NAMESIZE, "%s",
				 req->track_names[t]);
		ag_orphan_defaults(&ifc->orphan);
	}
	ret = ag_conf_apply(&c, req->ifname, false);
	ag_conf_free(&c);
	return ret;
}

/* The running state as a configuration file: applying it changes nothing. */
int ag_conf_write_running(const struct ag_state *st, FILE *f)
{
	struct ag_conf c;
	int ret;

	ret = conf_from_state(st, &c);
	if (!ret)
		emit(f, &c);
	else
		ag_bpf_err(ret, "reading the running state");
	ag_conf_free(&c);
	return ret;
}

/*
 * Loads and applies a file for a long-running process, saying what it does
 * on stdout; adjust, when given, may change the loaded file before it is
 * applied. On failure the running state stays as it was (a reload keeps
 * what runs); on success *c holds the file's settings, to be freed.
 */
int ag_conf_apply_logged(const char *path, struct ag_conf *c, bool reload,
			 void (*adjust)(struct ag_conf *c, void *arg), void *arg)
{
	char err[512];
	int ret;

	ret = ag_conf_load(path, c, err, sizeof(err));
	if (ret) {
		ag_err("%s%s", err, reload ? "; keeping the running configuration" : "");
		return ret;
	}
	if (adjust)
		adjust(c, arg);
	printf("ampguard: %s %s\n", reload ? "reloading" : "applying", path);
	ret = ag_conf_apply(c, NULL, false);
	fflush(stdout);
	if (ret)
		ag_conf_free(c);
	return ret;
}
