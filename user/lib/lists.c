// SPDX-License-Identifier: GPL-2.0-only
/*
 * The allow and deny lists: CIDRs in LPM tries, one per family, keyed by
 * generation. A change is planned whole against the active generation
 * (only new entries added, only present ones removed, capacity checked)
 * before anything is committed (commit.c): packets see all of it or none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "tables.h"

static const char *const list_names[] = {
	[AG_LIST_ALLOW] = "allowlist",
	[AG_LIST_DENY] = "denylist",
};

const char *ag_list_name(enum ag_list_kind list)
{
	return list_names[list];
}

static int kind_fd(const struct ag_state *st, enum ag_list_kind list, int family)
{
	if (list == AG_LIST_ALLOW)
		return family == AF_INET ? st->allow4_fd : st->allow6_fd;
	return family == AF_INET ? st->deny4_fd : st->deny6_fd;
}

int ag_cidr_set_add(struct ag_cidr_set *set, const struct ag_cidr *c)
{
	struct ag_cidr *grown;

	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		grown = realloc(set->v, set->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		set->v = grown;
	}
	set->v[set->n++] = *c;
	return 0;
}

/* One CIDR per line; '#' starts a comment; blank lines are skipped. */
int ag_cidr_file_read(const char *path, struct ag_cidr_set *set)
{
	char line[512], why[128], *p, *end;
	unsigned int lineno = 0;
	struct ag_cidr c;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f) {
		ag_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			ag_err("%s:%u: line too long", path, lineno);
			err = -EINVAL;
			break;
		}
		if ((p = strchr(line, '#')))
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (end = p + strlen(p); end > p && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		if (!*p)
			continue;
		if (ag_cidr_parse(p, &c.family, &c.key, why, sizeof(why))) {
			ag_err("%s:%u: bad CIDR '%s': %s; nothing was changed", path, lineno, p,
			       why);
			err = -EINVAL;
		} else {
			err = ag_cidr_set_add(set, &c);
		}
	}
	fclose(f);
	return err;
}

void ag_cidr_str(const struct ag_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->key.addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->key.prefixlen);
}

/* The entries of one list and family in generation gen, as CIDRs. */
static int collect(int fd, int family, __u32 gen, struct ag_cidr_set *set)
{
	struct ag_lpm6 key, next;
	struct ag_cidr c = { .family = family };
	void *prev = NULL;
	int err = 0;

	/* ag_lpm4 is a prefix of ag_lpm6: one buffer serves both. */
	while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.gen != gen)
			continue;
		memset(&c.key, 0, sizeof(c.key));
		c.key.prefixlen = key.prefixlen - AG_LPM_GEN_BITS;
		memcpy(c.key.addr, key.addr, family == AF_INET ? 4 : 16);
		err = ag_cidr_set_add(set, &c);
	}
	return err;
}

int ag_list_collect(const struct ag_state *st, enum ag_list_kind list, struct ag_cidr_set *all)
{
	__u32 gen = ag_active_gen(st);
	int err;

	err = collect(kind_fd(st, list, AF_INET), AF_INET, gen, all);
	return err ?: collect(kind_fd(st, list, AF_INET6), AF_INET6, gen, all);
}

/* Both lists of the active generation, as list operations (adds). */
int ag_lists_read(const struct ag_state *st, struct ag_list_op **out, size_t *n)
{
	static const enum ag_list_kind kinds[] = { AG_LIST_ALLOW, AG_LIST_DENY };
	struct ag_list_op *ops = NULL;
	struct ag_cidr_set set;
	size_t i, total = 0;
	unsigned int k;
	int err = 0;

	for (k = 0; k < 2 && !err; k++) {
		memset(&set, 0, sizeof(set));
		err = ag_list_collect(st, kinds[k], &set);
		if (!err && set.n) {
			struct ag_list_op *grown = realloc(ops, (total + set.n) * sizeof(*ops));

			if (!grown) {
				err = -ENOMEM;
			} else {
				ops = grown;
				for (i = 0; i < set.n; i++) {
					ops[total + i] = (struct ag_list_op){
						.list = kinds[k],
						.family = set.v[i].family,
						.prefixlen = set.v[i].key.prefixlen
					};
					memcpy(ops[total + i].addr, set.v[i].key.addr, 16);
				}
				total += set.n;
			}
		}
		free(set.v);
	}
	if (err) {
		free(ops);
		return err;
	}
	*out = ops;
	*n = total;
	return 0;
}

int ag_cidr_cmp(const void *a, const void *b)
{
	const struct ag_cidr *x = a, *y = b;
	int d;

	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	d = memcmp(x->key.addr, y->key.addr, 16);
	return d ? d : (int)x->key.prefixlen - (int)y->key.prefixlen;
}

/*
 * The operations that turn the active list into the requested one: new
 * entries only, and deletions only of entries present. Refuses the whole
 * request, naming the first problem, when it cannot apply.
 */
int ag_list_plan(const struct ag_state *st, enum ag_list_kind list, struct ag_cidr_set *req,
		 bool del, struct ag_list_op **ops_out, size_t *n_out)
{
	struct ag_cidr_set cur = { 0 };
	struct ag_list_op *ops;
	size_t i, n = 0, count[2] = { 0 };
	char buf[INET6_ADDRSTRLEN + 8];
	int err;

	err = ag_list_collect(st, list, &cur);
	ops = calloc(req->n ? req->n : 1, sizeof(*ops));
	if (err || !ops) {
		free(cur.v);
		free(ops);
		return err ?: -ENOMEM;
	}
	ag_sort(cur.v, cur.n, sizeof(*cur.v), ag_cidr_cmp);
	for (i = 0; i < cur.n; i++)
		count[cur.v[i].family == AF_INET6]++;
	/* Sorted, duplicates in the request sit side by side. */
	ag_sort(req->v, req->n, sizeof(*req->v), ag_cidr_cmp);
	for (i = 0; i < req->n && !err; i++) {
		const struct ag_cidr *c = &req->v[i];
		bool present = cur.n && bsearch(c, cur.v, cur.n, sizeof(*cur.v), ag_cidr_cmp);

		if (i && !ag_cidr_cmp(c, &req->v[i - 1]))
			continue;
		if (del && !present) {
			ag_cidr_str(c, buf, sizeof(buf));
			ag_err("%s is not on the %s; nothing was changed", buf, ag_list_name(list));
			err = -ENOENT;
		} else if (del || !present) {
			ops[n] = (struct ag_list_op){ .list = list,
						      .del = del,
						      .family = c->family,
						      .prefixlen = c->key.prefixlen };
			memcpy(ops[n++].addr, c->key.addr, 16);
			if (!del && ++count[c->family == AF_INET6] > AG_LIST_ENTRIES) {
				ag_err("the %s would exceed %u %s entries; nothing was changed",
				       ag_list_name(list), AG_LIST_ENTRIES,
				       c->family == AF_INET ? "IPv4" : "IPv6");
				err = -ENOSPC;
			}
		}
	}
	free(cur.v);
	if (err) {
		free(ops);
		return err;
	}
	*ops_out = ops;
	*n_out = n;
	return 0;
}
