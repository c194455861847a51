// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `allow` and `deny` verbs: CIDR lists in LPM tries. Every change is
 * validated whole against the active generation first, then committed
 * (commit.c): packets see all of it or none of it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "ampguard.h"

struct list_kind {
	const char *verb;
	const char *name; /* in messages */
	enum ag_list_kind list;
	size_t fd4, fd6;  /* offsets in struct ag_state */
};

static const struct list_kind allow_kind = {
	"allow", "allowlist", AG_LIST_ALLOW, offsetof(struct ag_state, allow4_fd),
	offsetof(struct ag_state, allow6_fd),
};

static const struct list_kind deny_kind = {
	"deny", "denylist", AG_LIST_DENY, offsetof(struct ag_state, deny4_fd),
	offsetof(struct ag_state, deny6_fd),
};

static int kind_fd(const struct ag_state *st, const struct list_kind *k, int family)
{
	return *(const int *)((const char *)st + (family == AF_INET ? k->fd4 : k->fd6));
}

/* The bits of address byte i that lie past a prefix of plen bits. */
static __u8 host_bits(unsigned int i, unsigned long plen)
{
	if (i * 8 >= plen)
		return 0xff;
	if (i * 8 + 8 <= plen)
		return 0;
	return 0xff >> (plen - i * 8);
}

/*
 * "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). The
 * prefix goes in key->prefixlen, the address in key->addr (4 or 16 bytes).
 */
int ag_cidr_parse(const char *s, int *family, struct ag_lpm6 *key, char *why, size_t why_len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	unsigned long plen, max;
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int i, dirty = 0;

	memset(key, 0, sizeof(*key));
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, why_len, "not an address");
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, key->addr) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, key->addr) == 1) {
		*family = AF_INET6;
		max = 128;
	} else {
		snprintf(why, why_len, "'%s' is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	plen = max;
	if (slash && ag_parse_uint(slash + 1, max, &plen)) {
		snprintf(why, why_len, "prefix length must be 0-%lu", max);
		return -EINVAL;
	}
	for (i = 0; i < max / 8; i++)
		dirty |= key->addr[i] & host_bits(i, plen);
	if (dirty) {
		/* name the network the operator probably meant */
		for (i = 0; i < max / 8; i++)
			key->addr[i] &= ~host_bits(i, plen);
		inet_ntop(*family, key->addr, addr, sizeof(addr));
		snprintf(why, why_len, "host bits are set (did you mean %s/%lu?)", addr, plen);
		return -EINVAL;
	}
	key->prefixlen = plen;
	return 0;
}

struct cidr {
	int family;
	struct ag_lpm6 key; /* an ag_lpm4 prefix when family is AF_INET */
};

struct cidr_set {
	struct cidr *v;
	size_t n, cap;
};

static int set_add(struct cidr_set *set, const struct cidr *c)
{
	struct cidr *grown;

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
static int read_file(const char *path, struct cidr_set *set)
{
	char line[512], why[128], *p, *end;
	unsigned int lineno = 0;
	struct cidr c;
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
			ag_err("%s:%u: bad CIDR '%s': %s; nothing was changed", path, lineno, p, why);
			err = -EINVAL;
		} else {
			err = set_add(set, &c);
		}
	}
	fclose(f);
	return err;
}

static void cidr_str(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->key.addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->key.prefixlen);
}

/* The entries of one list and family in generation gen, as CIDRs. */
static int collect(int fd, int family, __u32 gen, struct cidr_set *set)
{
	struct ag_lpm6 key, next;
	struct cidr c = { .family = family };
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
		err = set_add(set, &c);
	}
	return err;
}

static int collect_list(const struct ag_state *st, const struct list_kind *k, struct cidr_set *all)
{
	__u32 gen = ag_active_gen(st);
	int err;

	err = collect(kind_fd(st, k, AF_INET), AF_INET, gen, all);
	return err ?: collect(kind_fd(st, k, AF_INET6), AF_INET6, gen, all);
}

/* Both lists of the active generation, as list operations (adds). */
int ag_lists_read(const struct ag_state *st, struct ag_list_op **out, size_t *n)
{
	const struct list_kind *kinds[] = { &allow_kind, &deny_kind };
	struct ag_list_op *ops = NULL;
	struct cidr_set set;
	size_t i, total = 0;
	unsigned int k;
	int err = 0;

	for (k = 0; k < 2 && !err; k++) {
		memset(&set, 0, sizeof(set));
		err = collect_list(st, kinds[k], &set);
		if (!err && set.n) {
			struct ag_list_op *grown = realloc(ops, (total + set.n) * sizeof(*ops));

			if (!grown) {
				err = -ENOMEM;
			} else {
				ops = grown;
				for (i = 0; i < set.n; i++) {
					ops[total + i] = (struct ag_list_op){
						.list = kinds[k]->list, .family = set.v[i].family,
						.prefixlen = set.v[i].key.prefixlen };
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

static int cidr_cmp(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;
	int d;

	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	d = memcmp(x->key.addr, y->key.addr, 16);
	return d ? d : (int)x->key.prefixlen - (int)y->key.prefixlen;
}

static int show(const struct ag_state *st, const struct list_kind *k, bool json)
{
	struct cidr_set all = { 0 };
	json_object *arr = NULL;
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;
	int err;

	err = collect_list(st, k, &all);
	if (err) {
		free(all.v);
		return ag_bpf_err(err, k->name);
	}
	ag_sort(all.v, all.n, sizeof(*all.v), cidr_cmp);
	if (json)
		arr = json_object_new_array();
	for (i = 0; i < all.n; i++) {
		cidr_str(&all.v[i], buf, sizeof(buf));
		if (json)
			json_object_array_add(arr, json_object_new_string(buf));
		else
			printf("%s\n", buf);
	}
	if (json) {
		ag_json_print(arr, false);
	} else if (!all.n) {
		printf("(%s is empty)\n", k->name);
	}
	free(all.v);
	return 0;
}

/*
 * The operations that turn the active list into the requested one: new
 * entries only, and deletions only of entries present. Refuses the whole
 * request, naming the first problem, when it cannot apply.
 */
static int plan(const struct ag_state *st, const struct list_kind *k, struct cidr_set *req,
		bool del, struct ag_list_op **ops_out, size_t *n_out)
{
	struct cidr_set cur = { 0 };
	struct ag_list_op *ops;
	size_t i, n = 0, count[2] = { 0 };
	char buf[INET6_ADDRSTRLEN + 8];
	int err;

	err = collect_list(st, k, &cur);
	ops = calloc(req->n ? req->n : 1, sizeof(*ops));
	if (err || !ops) {
		free(cur.v);
		free(ops);
		return err ?: -ENOMEM;
	}
	ag_sort(cur.v, cur.n, sizeof(*cur.v), cidr_cmp);
	for (i = 0; i < cur.n; i++)
		count[cur.v[i].family == AF_INET6]++;
	/* Sorted, duplicates in the request sit side by side. */
	ag_sort(req->v, req->n, sizeof(*req->v), cidr_cmp);
	for (i = 0; i < req->n && !err; i++) {
		const struct cidr *c = &req->v[i];
		bool present = cur.n && bsearch(c, cur.v, cur.n, sizeof(*cur.v), cidr_cmp);

		if (i && !cidr_cmp(c, &req->v[i - 1]))
			continue;
		if (del && !present) {
			cidr_str(c, buf, sizeof(buf));
			ag_err("%s is not on the %s; nothing was changed", buf, k->name);
			err = -ENOENT;
		} else if (del || !present) {
			ops[n] = (struct ag_list_op){ .list = k->list, .del = del, .family = c->family,
						      .prefixlen = c->key.prefixlen };
			memcpy(ops[n++].addr, c->key.addr, 16);
			if (!del && ++count[c->family == AF_INET6] > AG_LIST_ENTRIES) {
				ag_err("the %s would exceed %u %s entries; nothing was changed", k->name,
				       AG_LIST_ENTRIES, c->family == AF_INET ? "IPv4" : "IPv6");
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

static void usage_list(FILE *f, const struct list_kind *k)
{
	fprintf(f, "usage: ampguard %s [CIDR...] [--file FILE] [--delete] [--json]\n"
		   "  %s. Without CIDR or --file, lists the %s.\n"
		   "  CIDR      192.0.2.0/24, 2001:db8::/32, or a single address\n"
		   "  --file    one CIDR per line, '#' comments; applied all or nothing\n"
		   "  --delete  remove the entries instead\n",
		k->verb,
		k == &allow_kind ? "Sources that always pass (checked after the denylist)"
				 : "Sources that are always dropped (checked first)",
		k->name);
}

static int cmd_list(const struct list_kind *k, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "delete", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct cidr_set set = { 0 };
	const char *file = NULL;
	bool del = false, json = false;
	struct ag_list_op *ops = NULL;
	size_t n_ops = 0;
	char why[128];
	struct ag_state st;
	struct cidr c;
	int ch, i, err = 0;

	while ((ch = getopt_long(argc, argv, "f:djh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'd':
			del = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_list(stdout, k);
			return 0;
		default:
			usage_list(stderr, k);
			return -EINVAL;
		}
	}
	for (i = optind; i < argc && !err; i++) {
		if (ag_cidr_parse(argv[i], &c.family, &c.key, why, sizeof(why))) {
			ag_err("bad CIDR '%s': %s; nothing was changed", argv[i], why);
			err = -EINVAL;
		} else {
			err = set_add(&set, &c);
		}
	}
	if (!err && file)
		err = read_file(file, &set);
	if (err)
		goto out_free;

	err = ag_state_open(&st, set.n || file ? AG_LOCK_WRITE : AG_LOCK_NONE);
	if (err)
		goto out_free;
	if (!set.n && !file) {
		err = show(&st, k, json);
		goto out;
	}
	err = plan(&st, k, &set, del, &ops, &n_ops);
	if (err)
		goto out;
	err = ag_commit(&st, &(struct ag_change){ .ops = ops, .nr_ops = n_ops });
	if (err) {
		ag_bpf_err(err, k->name);
		goto out;
	}
	printf("%s: %s %zu of %zu\n", k->name, del ? "removed" : "added", n_ops, set.n);
out:
	ag_state_close(&st);
out_free:
	free(ops);
	free(set.v);
	return err;
}

int cmd_allow(int argc, char **argv)
{
	return cmd_list(&allow_kind, argc, argv);
}

int cmd_deny(int argc, char **argv)
{
	return cmd_list(&deny_kind, argc, argv);
}
