// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writing pcapng (draft-ietf-opsawg-pcapng): one Section Header Block, then
 * Interface Description Blocks and Enhanced Packet Blocks, in the host's
 * byte order, which the Section Header's byte-order magic tells readers.
 *
 * Invariants:
 * - A block is built whole in the writer's buffer and handed to stdio in
 *   one fwrite: a call that fails its checks (unknown interface, caplen
 *   past the interface's snaplen, a field too long for its length) writes
 *   nothing, and after ag_pcapng_flush() a reader sees only whole blocks.
 * - Every block is a multiple of 4 bytes: the packet data and every option
 *   value are padded with zeros to 32 bits, the option list (when there is
 *   one) ends with opt_endofopt, and the block's total length is written
 *   first and again last.
 * - Interface ids are given out 0, 1, ... in the order of the Interface
 *   Description Blocks written; each remembers its snaplen (0: no limit,
 *   as the format says). Every interface has if_tsresol 9, so an Enhanced
 *   Packet Block's timestamp is nanoseconds since the Unix epoch.
 * - Functions return 0 (an interface id for ag_pcapng_iface) or a negative
 *   errno; ag_pcapng_open() returns NULL with errno set. The FILE is the
 *   caller's: the writer never closes it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

#define PCAPNG_SHB 0x0A0D0D0AU
#define PCAPNG_IDB 0x00000001U
#define PCAPNG_EPB 0x00000006U
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4DU
#define PCAPNG_LINKTYPE_ETHERNET 1

/* Option codes: common, then per block. */
#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_TSRESOL 9
#define EPB_FLAGS 2
#define EPB_DROPCOUNT 4
#define EPB_QUEUE 6

#define EPB_FLAG_INBOUND 0x1U /* bits 0-1: 01 inbound, 10 outbound */

#define PCAPNG_OPT_MAX 0xffffU /* an option's value length is 16 bits */
#define PCAPNG_BLOCK_MAX 0xfffffffcU

struct ag_pcapng {
	FILE *f;
	unsigned char *buf; /* the block being built */
	size_t buf_len, buf_cap;
	unsigned int *snaplen; /* per interface id */
	unsigned int n_ifaces, ifaces_cap;
};

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* The room an option of len value bytes takes, header and padding included. */
static size_t opt_size(size_t len)
{
	return 4 + pad4(len);
}

/* Makes room for a block of size bytes and starts it empty. */
static int block_begin(struct ag_pcapng *w, size_t size)
{
	unsigned char *p;

	if (size > w->buf_cap) {
		p = realloc(w->buf, size);
		if (!p)
			return -ENOMEM;
		w->buf = p;
		w->buf_cap = size;
	}
	w->buf_len = 0;
	return 0;
}

/* The put_* helpers write into room block_begin() made. */
static void put(struct ag_pcapng *w, const void *data, size_t len)
{
	if (len)
		memcpy(w->buf + w->buf_len, data, len);
	w->buf_len += len;
}

static void put_zeros(struct ag_pcapng *w, size_t len)
{
	memset(w->buf + w->buf_len, 0, len);
	w->buf_len += len;
}

static void put16(struct ag_pcapng *w, uint16_t v)
{
	put(w, &v, sizeof(v));
}

static void put32(struct ag_pcapng *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

static void put64(struct ag_pcapng *w, uint64_t v)
{
	put(w, &v, sizeof(v));
}

/* Data followed by zeros up to the next multiple of 4 bytes. */
static void put_padded(struct ag_pcapng *w, const void *data, size_t len)
{
	put(w, data, len);
	put_zeros(w, pad4(len) - len);
}

static void put_opt(struct ag_pcapng *w, uint16_t code, const void *val, size_t len)
{
	put16(w, code);
	put16(w, (uint16_t)len);
	put_padded(w, val, len);
}

/* Hands the built block, which must be size bytes, to stdio in one write. */
static int block_end(struct ag_pcapng *w, size_t size)
{
	if (w->buf_len != size)
		return -EFAULT;
	errno = 0;
	if (fwrite(w->buf, 1, w->buf_len, w->f) != w->buf_len)
		return errno ? -errno : -EIO;
	return 0;
}

struct ag_pcapng *ag_pcapng_open(FILE *f, const char *app)
{
	size_t app_len = app ? strlen(app) : 0;
	size_t size = 28 + 4; /* the fixed part and opt_endofopt */
	struct ag_pcapng *w;
	int err;

	if (!f || app_len > PCAPNG_OPT_MAX) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->f = f;
	if (app)
		size += opt_size(app_len);
	err = block_begin(w, size);
	if (!err) {
		put32(w, PCAPNG_SHB);
		put32(w, (uint32_t)size);
		put32(w, PCAPNG_BYTE_ORDER_MAGIC);
		put16(w, 1);          /* major version */
		put16(w, 0);          /* minor version */
		put64(w, UINT64_MAX); /* section length: not given (-1) */
		if (app)
			put_opt(w, SHB_USERAPPL, app, app_len);
		put_opt(w, OPT_ENDOFOPT, NULL, 0);
		put32(w, (uint32_t)size);
		err = block_end(w, size);
	}
	if (err) {
		free(w->buf);
		free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

int ag_pcapng_iface(struct ag_pcapng *w, const char *name, unsigned int snaplen)
{
	size_t name_len = name ? strlen(name) : 0;
	size_t size = 20 + opt_size(1) + 4; /* fixed part, if_tsresol, opt_endofopt */
	uint8_t tsresol = 9;                /* 10^-9 s */
	unsigned int *s;
	int err;

	if (!w || name_len > PCAPNG_OPT_MAX)
		return -EINVAL;
	if (w->n_ifaces >= (unsigned int)INT32_MAX)
		return -ENOSPC;
	if (w->n_ifaces == w->ifaces_cap) {
		s = realloc(w->snaplen, (w->ifaces_cap ? w->ifaces_cap * 2 : 4) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		w->snaplen = s;
		w->ifaces_cap = w->ifaces_cap ? w->ifaces_cap * 2 : 4;
	}
	if (name)
		size += opt_size(name_len);
	err = block_begin(w, size);
	if (err)
		return err;
	put32(w, PCAPNG_IDB);
	put32(w, (uint32_t)size);
	put16(w, PCAPNG_LINKTYPE_ETHERNET);
	put16(w, 0); /* reserved */
	put32(w, snaplen);
	if (name)
		put_opt(w, IF_NAME, name, name_len);
	put_opt(w, IF_TSRESOL, &tsresol, 1);
	put_opt(w, OPT_ENDOFOPT, NULL, 0);
	put32(w, (uint32_t)size);
	err = block_end(w, size);
	if (err)
		return err;
	w->snaplen[w->n_ifaces] = snaplen;
	return (int)w->n_ifaces++;
}

int ag_pcapng_packet(struct ag_pcapng *w, unsigned int iface, unsigned long long ts_ns,
		     const void *data, unsigned int caplen, unsigned int origlen,
		     const char *comment, bool inbound, int queue, long long dropcount)
{
	size_t comment_len = comment ? strlen(comment) : 0;
	size_t opts = 0, size;
	uint32_t flags = EPB_FLAG_INBOUND, q = (uint32_t)queue;
	uint64_t drops = (uint64_t)dropcount;
	int err;

	if (!w || (!data && caplen))
		return -EINVAL;
	if (iface >= w->n_ifaces)
		return -ENODEV;
	if (w->snaplen[iface] && caplen > w->snaplen[iface])
		return -EMSGSIZE;
	if (comment_len > PCAPNG_OPT_MAX)
		return -EINVAL;
	if (comment)
		opts += opt_size(comment_len);
	if (inbound)
		opts += opt_size(sizeof(flags));
	if (queue >= 0)
		opts += opt_size(sizeof(q));
	if (dropcount >= 0)
		opts += opt_size(sizeof(drops));
	if (opts)
		opts += 4; /* opt_endofopt */
	if ((uint64_t)pad4(caplen) + opts + 32 > PCAPNG_BLOCK_MAX)
		return -EMSGSIZE;
	size = 32 + pad4(caplen) + opts;

	err = block_begin(w, size);
	if (err)
		return err;
	put32(w, PCAPNG_EPB);
	put32(w, (uint32_t)size);
	put32(w, iface);
	put32(w, (uint32_t)(ts_ns >> 32));
	put32(w, (uint32_t)ts_ns);
	put32(w, caplen);
	put32(w, origlen);
	put_padded(w, data, caplen);
	if (comment)
		put_opt(w, OPT_COMMENT, comment, comment_len);
	if (inbound)
		put_opt(w, EPB_FLAGS, &flags, sizeof(flags));
	if (queue >= 0)
		put_opt(w, EPB_QUEUE, &q, sizeof(q));
	if (dropcount >= 0)
		put_opt(w, EPB_DROPCOUNT, &drops, sizeof(drops));
	if (opts)
		put_opt(w, OPT_ENDOFOPT, NULL, 0);
	put32(w, (uint32_t)size);
	return block_end(w, size);
}

int ag_pcapng_flush(struct ag_pcapng *w)
{
	if (!w)
		return -EINVAL;
	errno = 0;
	if (fflush(w->f))
		return errno ? -errno : -EIO;
	return 0;
}

void ag_pcapng_close(struct ag_pcapng *w)
{
	if (!w)
		return;
	ag_pcapng_flush(w);
	free(w->snaplen);
	free(w->buf);
	free(w);
}
