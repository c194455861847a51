// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading the per-destination sample of unsolicited traffic (struct
 * ag_dst_key). The map only grows until the LRU evicts: a reader that
 * wants rates keeps the previous read and takes differences
 * (ag_dst_delta), treating an entry that shrank as evicted and re-created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "tables.h"

int ag_dsts_read(int dsts_fd, struct ag_dst_entry **out, size_t *n)
{
	struct ag_dst_entry *v = NULL, *grown;
	size_t cap = 0, len = 0;
	struct ag_dst_key key, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(dsts_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				return -ENOMEM;
			}
			v = grown;
		}
		v[len].key = key;
		/* Evicted between the two calls: skip it. */
		if (bpf_map_lookup_elem(dsts_fd, &key, &v[len].val))
			continue;
		len++;
	}
	if (errno != ENOENT) {
		free(v);
		return -errno;
	}
	*out = v;
	*n = len;
	return 0;
}

static int dst_key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct ag_dst_entry *)a)->key,
		      &((const struct ag_dst_entry *)b)->key, sizeof(struct ag_dst_key));
}

void ag_dsts_sort(struct ag_dst_entry *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), dst_key_cmp);
}

const struct ag_dst_entry *ag_dsts_find(const struct ag_dst_entry *v, size_t n,
					const struct ag_dst_key *key)
{
	struct ag_dst_entry probe = { .key = *key };

	return n ? bsearch(&probe, v, n, sizeof(*v), dst_key_cmp) : NULL;
}

void ag_dst_delta(const struct ag_dst_entry *now, const struct ag_dst_entry *then,
		  struct ag_dst_val *d)
{
	if (!then || now->val.packets < then->val.packets || now->val.bytes < then->val.bytes) {
		*d = now->val;
		return;
	}
	d->packets = now->val.packets - then->val.packets;
	d->bytes = now->val.bytes - then->val.bytes;
}
