// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading whole array maps on every kernel: in batches where the kernel
 * has batch lookups for the map's type (per-CPU arrays got them after
 * 5.10), element by element where it has not. Values land at their key's
 * index, whichever way was taken. And the buffers per-CPU values are read
 * into, one value per possible CPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's own "not supported", seen by userspace */
#endif

static int read_batched(int fd, __u32 n, char *values, size_t value_size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys = calloc(n, sizeof(*keys)), out = 0, count, done = 0, i;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	while (done < n) {
		count = n - done;
		err = bpf_map_lookup_batch(fd, done ? &out : NULL, &out, keys + done,
					   values + done * value_size, &count, &opts);
		err = err ? -errno : 0;
		done += count;
		if (err)
			break;
	}
	/* ENOENT ends a walk that reached the last element. */
	if (err == -ENOENT)
		err = done == n ? 0 : -EIO;
	for (i = 0; !err && i < n; i++)
		if (keys[i] != i)
			err = -EIO;
	free(keys);
	return err;
}

int ag_array_read(int fd, __u32 n, void *values, size_t value_size)
{
	__u32 key;
	int err = read_batched(fd, n, values, value_size);

	if (err != -ENOTSUPP && err != -EOPNOTSUPP && err != -EINVAL)
		return err;
	for (key = 0; key < n; key++)
		if (bpf_map_lookup_elem(fd, &key, (char *)values + key * value_size))
			return -errno;
	return 0;
}

void *ag_percpu_buf(size_t n, size_t value_size, int *ncpu)
{
	int cpus = libbpf_num_possible_cpus();
	void *buf;

	if (cpus <= 0) {
		*ncpu = cpus ?: -EINVAL;
		return NULL;
	}
	buf = calloc((size_t)cpus * n, value_size);
	*ncpu = buf ? cpus : -ENOMEM;
	return buf;
}
