// SPDX-License-Identifier: GPL-2.0-only
/*
 * `allow` and `deny`: CIDR lists, shown or changed. Every CIDR of one
 * request (arguments and --file) is checked before the state is touched,
 * and the change lands in one commit or not at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "cmd.h"

struct list_args {
	enum ag_list_kind list;
	const char *cidrs[AG_LIST_ENTRIES];
	unsigned int nr_cidrs;
	const char *file;
	bool del;
	bool json;
	struct ag_cidr_set set; /* the request, arguments then file */
};

static const struct ag_opt list_opts[] = {
	{ .name = "file",
	  .letter = 'f',
	  .type = OPT_STRING,
	  .off = offsetof(struct list_args, file),
	  .metavar = "FILE",
	  .help = "one CIDR per line, '#' comments; applied all or nothing" },
	{ .name = "delete",
	  .letter = 'd',
	  .type = OPT_FLAG,
	  .off = offsetof(struct list_args, del),
	  .help = "remove the entries instead" },
	AG_OPT_JSON(struct list_args, "machine-readable list"),
	AG_OPT_END,
};

static const struct ag_opt list_positional[] = {
	{ .name = "CIDR",
	  .type = OPT_CIDR,
	  .off = offsetof(struct list_args, cidrs),
	  .repeat = AG_LIST_ENTRIES,
	  .count_off = offsetof(struct list_args, nr_cidrs),
	  .optional = true,
	  .bad = "bad CIDR '%s': %s; nothing was changed",
	  .help = "192.0.2.0/24, 2001:db8::/32, or a single address" },
	AG_OPT_END,
};

static int show(const struct ag_state *st, enum ag_list_kind list, bool json)
{
	struct ag_cidr_set all = { 0 };
	json_object *arr = NULL;
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;
	int err;

	err = ag_list_collect(st, list, &all);
	if (err) {
		free(all.v);
		return ag_bpf_err(err, ag_list_name(list));
	}
	ag_sort(all.v, all.n, sizeof(*all.v), ag_cidr_cmp);
	if (json)
		arr = json_object_new_array();
	for (i = 0; i < all.n; i++) {
		ag_cidr_str(&all.v[i], buf, sizeof(buf));
		if (json)
			json_object_array_add(arr, json_object_new_string(buf));
		else
			printf("%s\n", buf);
	}
	if (json)
		ag_json_print(arr, false);
	else if (!all.n)
		printf("(%s is empty)\n", ag_list_name(list));
	free(all.v);
	return 0;
}

static bool list_writes(const void *p)
{
	const struct list_args *a = p;

	return a->nr_cidrs || a->file;
}

static int do_list(struct ag_state *st, void *p)
{
	struct list_args *a = p;
	struct ag_list_op *ops = NULL;
	size_t n_ops = 0;
	int err;

	if (!list_writes(a))
		return show(st, a->list, a->json);
	err = ag_list_plan(st, a->list, &a->set, a->del, &ops, &n_ops);
	if (!err) {
		err = ag_commit(st, &(struct ag_change){ .ops = ops, .nr_ops = n_ops });
		if (err)
			ag_bpf_err(err, ag_list_name(a->list));
	}
	if (!err)
		printf("%s: %s %zu of %zu\n", ag_list_name(a->list), a->del ? "removed" : "added",
		       n_ops, a->set.n);
	free(ops);
	return err;
}

/* The request as one set, the file read too, before the state is touched. */
static int request_set(struct list_args *a)
{
	char why[128];
	struct ag_cidr c;
	unsigned int i;
	int err = 0;

	for (i = 0; i < a->nr_cidrs && !err; i++) {
		ag_cidr_parse(a->cidrs[i], &c.family, &c.key, why, sizeof(why));
		err = ag_cidr_set_add(&a->set, &c);
	}
	if (!err && a->file)
		err = ag_cidr_file_read(a->file, &a->set);
	return err;
}

static int check_allow(void *p)
{
	((struct list_args *)p)->list = AG_LIST_ALLOW;
	return request_set(p);
}

static int check_deny(void *p)
{
	((struct list_args *)p)->list = AG_LIST_DENY;
	return request_set(p);
}

static void release_list(void *p)
{
	free(((struct list_args *)p)->set.v);
}

/* allow and deny differ only in their list and their words. */
#define LIST_CMD(verb, check_fn, what, text)                                          \
	{                                                                             \
		.name = verb, .summary = what, .help = text, .opts = list_opts,       \
		.args = list_positional, .size = sizeof(struct list_args),            \
		.state = CMD_READ_OR_WRITE, .check = check_fn, .writes = list_writes, \
		.run = do_list, .release = release_list,                              \
	}

const struct ag_cmd cmd_allow =
	LIST_CMD("allow", check_allow, "CIDRs whose traffic always passes",
		 "  Sources that always pass (checked after the denylist). Without CIDR or --file,\n"
		 "  lists the allowlist.\n");

const struct ag_cmd cmd_deny =
	LIST_CMD("deny", check_deny, "CIDRs whose traffic is always dropped",
		 "  Sources that are always dropped (checked first). Without CIDR or --file, lists\n"
		 "  the denylist.\n");
