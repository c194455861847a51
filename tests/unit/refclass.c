// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reference classifier: see refclass.h. The parser works on byte offsets
 * into the frame and keeps two limits apart: the end of the frame (a header
 * that does not fit in it is "truncated") and the end of the IP datagram as
 * its own length fields declare it (a header that does not fit in that is
 * "malformed"). When both apply, the frame's end is judged first.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include "refclass.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_CTAG 0x8100 /* 802.1Q */
#define ETHERTYPE_STAG 0x88a8 /* 802.1ad */

#define PROTO_HOPOPTS 0
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_DSTOPTS 60

#define ETH_LEN 14
#define TAG_LEN 4
#define IPV4_MIN_LEN 20
#define IPV6_LEN 40
#define FRAGHDR_LEN 8
#define UDP_LEN 8

/* Where parsing ended, besides an enum ag_reason. */
#define OUT_UDP (-1)   /* a UDP header was read: ports are known */
#define OUT_LATER (-2) /* a later fragment: no ports */

enum frag_kind { FK_WHOLE, FK_FIRST, FK_LATER };

struct parsed {
	int out;   /* OUT_UDP, OUT_LATER or an enum ag_reason */
	int ip_ok; /* the IP fixed header was sound: addresses are known */
	int v6;
	int tags;
	int exts;     /* IPv6 extension headers walked */
	__u8 src[16]; /* IPv4-mapped for IPv4 */
	__u8 dst[16];
	int frag; /* enum frag_kind */
	__u32 frag_id;
	__u8 proto;
	__u16 sport, dport;
};

static __u16 rd16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 rd32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static void map4(__u8 out[16], const __u8 *a4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a4, 4);
}

static int is_v6_ext(__u8 nh)
{
	switch (nh) {
	case PROTO_HOPOPTS:
	case PROTO_ROUTING:
	case PROTO_FRAGMENT:
	case PROTO_DSTOPTS:
		return 1;
	default:
		return 0;
	}
}

/* The transport header of a datagram that ends at offset end (<= len). */
static void parse_l4(const __u8 *f, size_t len, size_t pos, size_t end, struct parsed *r)
{
	__u16 ulen;

	if (r->frag == FK_LATER) {
		r->out = OUT_LATER;
		return;
	}
	if (r->proto != PROTO_UDP) {
		r->out = AG_R_NOT_UDP;
		return;
	}
	if (pos + UDP_LEN > len) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	if (pos + UDP_LEN > end) {
		r->out = AG_R_MALFORMED;
		return;
	}
	ulen = rd16(f + pos + 4);
	/* A fragment's UDP length covers the reassembled datagram: only its floor is checked. */
	if (ulen < UDP_LEN || (r->frag == FK_WHOLE && ulen > end - pos)) {
		r->out = AG_R_MALFORMED;
		return;
	}
	r->sport = rd16(f + pos);
	r->dport = rd16(f + pos + 2);
	r->out = OUT_UDP;
}

static void parse_v4(const __u8 *f, size_t len, size_t pos, struct parsed *r)
{
	const __u8 *ip = f + pos;
	size_t room = len - pos, hlen, total;
	__u16 fo;

	if (room < IPV4_MIN_LEN) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5) {
		r->out = AG_R_MALFORMED;
		return;
	}
	r->ip_ok = 1;
	map4(r->src, ip + 12);
	map4(r->dst, ip + 16);

	hlen = (size_t)(ip[0] & 0xf) * 4;
	total = rd16(ip + 2);
	if (hlen > room) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	if (total < hlen) {
		r->out = AG_R_MALFORMED;
		return;
	}
	if (total > room) { /* shorter than it says; longer is Ethernet padding */
		r->out = AG_R_TRUNCATED;
		return;
	}
	fo = rd16(ip + 6);
	if (fo & 0x1fff)
		r->frag = FK_LATER;
	else if (fo & 0x2000)
		r->frag = FK_FIRST;
	r->frag_id = rd16(ip + 4);
	r->proto = ip[9];
	parse_l4(f, len, pos + hlen, pos + total, r);
}

static void parse_v6(const __u8 *f, size_t len, size_t pos, struct parsed *r)
{
	const __u8 *ip = f + pos;
	size_t room = len - pos, end, hl;
	__u16 fo;
	__u8 nh;

	if (room < IPV6_LEN) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	if ((ip[0] >> 4) != 6) {
		r->out = AG_R_MALFORMED;
		return;
	}
	r->ip_ok = 1;
	r->v6 = 1;
	memcpy(r->src, ip + 8, 16);
	memcpy(r->dst, ip + 24, 16);
	if (IPV6_LEN + (size_t)rd16(ip + 4) > room) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	end = pos + IPV6_LEN + rd16(ip + 4);
	nh = ip[6];
	pos += IPV6_LEN;

	/* Past a later fragment's header comes payload, not more headers. */
	while (is_v6_ext(nh) && r->frag != FK_LATER) {
		if (r->exts == AG_MAX_EXT_HDRS) {
			r->out = AG_R_PARSE_LIMIT;
			return;
		}
		r->exts++;
		if (nh == PROTO_FRAGMENT) {
			if (pos + FRAGHDR_LEN > len) {
				r->out = AG_R_TRUNCATED;
				return;
			}
			if (pos + FRAGHDR_LEN > end) {
				r->out = AG_R_MALFORMED;
				return;
			}
			fo = rd16(f + pos + 2);
			if (fo & 0xfff8)
				r->frag = FK_LATER;
			else if (fo & 1)
				r->frag = FK_FIRST;
			r->frag_id = rd32(f + pos + 4);
			nh = f[pos];
			pos += FRAGHDR_LEN;
			continue;
		}
		if (pos + 2 > len) {
			r->out = AG_R_TRUNCATED;
			return;
		}
		hl = ((size_t)f[pos + 1] + 1) * 8;
		if (pos + hl > end) {
			r->out = AG_R_MALFORMED;
			return;
		}
		nh = f[pos];
		pos += hl;
	}
	r->proto = nh;
	parse_l4(f, len, pos, end, r);
}

static void parse(const __u8 *f, size_t len, struct parsed *r)
{
	size_t pos = ETH_LEN;
	__u16 type;

	memset(r, 0, sizeof(*r));
	if (len < ETH_LEN) {
		r->out = AG_R_TRUNCATED;
		return;
	}
	type = rd16(f + 12);
	while (type == ETHERTYPE_CTAG || type == ETHERTYPE_STAG) {
		if (r->tags == AG_MAX_VLAN_TAGS) {
			r->out = AG_R_PARSE_LIMIT;
			return;
		}
		if (pos + TAG_LEN > len) {
			r->out = AG_R_TRUNCATED;
			return;
		}
		type = rd16(f + pos + 2);
		pos += TAG_LEN;
		r->tags++;
	}
	if (type == ETHERTYPE_IPV4)
		parse_v4(f, len, pos, r);
	else if (type == ETHERTYPE_IPV6)
		parse_v6(f, len, pos, r);
	else
		r->out = AG_R_NOT_IP;
}

/* ---- configuration ---- */

void ref_config_init(struct ref_config *c)
{
	memset(c, 0, sizeof(*c));
	c->orphan = AG_ORPHAN_PASS;
}

void ref_serve(struct ref_config *c, __u16 port, int on)
{
	if (on)
		c->served[port / 32] |= 1U << (port % 32);
	else
		c->served[port / 32] &= ~(1U << (port % 32));
}

int ref_served(const struct ref_config *c, __u16 port)
{
	return (c->served[port / 32] >> (port % 32)) & 1;
}

unsigned int ref_vector_slot(const struct ref_config *c, __u16 port)
{
	unsigned int s;

	for (s = 1; s < AG_MAX_VECTORS; s++)
		if (c->vec[s].in_use && c->vec[s].port == port)
			return s;
	return 0;
}

static int cidr_has(const struct ref_cidr *n, int v6, const __u8 src[16])
{
	const __u8 *a = v6 ? src : src + 12;
	unsigned int bits = n->prefixlen, i;

	if (n->family != (v6 ? 6 : 4) || bits > (v6 ? 128u : 32u))
		return 0;
	for (i = 0; i < bits / 8; i++)
		if (a[i] != n->addr[i])
			return 0;
	if (bits % 8) {
		__u8 mask = (__u8)(0xff << (8 - bits % 8));

		if ((a[i] & mask) != (n->addr[i] & mask))
			return 0;
	}
	return 1;
}

static const struct ref_cidr *listed(const struct ref_cidr *l, unsigned int n, int v6,
				     const __u8 src[16])
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (cidr_has(&l[i], v6, src))
			return &l[i];
	return NULL;
}

/* ---- tables ---- */

static size_t hash_bytes(const void *key, size_t n)
{
	const unsigned char *p = key;
	__u64 h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 29));
}

static int table_init(struct ref_table *t, size_t key_size, size_t val_size, size_t want)
{
	size_t cap = 16;

	while (cap < want * 2)
		cap *= 2;
	memset(t, 0, sizeof(*t));
	t->key_size = key_size;
	t->val_size = val_size;
	t->cap = cap;
	t->used = calloc(cap, 1);
	t->keys = calloc(cap, key_size);
	t->vals = calloc(cap, val_size);
	return t->used && t->keys && t->vals ? 0 : -1;
}

static void table_clear(struct ref_table *t)
{
	memset(t->used, 0, t->cap);
	t->n = 0;
}

static size_t table_find(const struct ref_table *t, const void *key)
{
	size_t i = hash_bytes(key, t->key_size) & (t->cap - 1);

	while (t->used[i] && memcmp(t->keys + i * t->key_size, key, t->key_size))
		i = (i + 1) & (t->cap - 1);
	return i;
}

void *ref_table_get(const struct ref_table *t, const void *key)
{
	size_t i = table_find(t, key);

	return t->used[i] ? t->vals + i * t->val_size : NULL;
}

int ref_table_put(struct ref_table *t, const void *key, const void *val)
{
	size_t i = table_find(t, key);

	if (!t->used[i]) {
		if ((t->n + 1) * 4 > t->cap * 3)
			return -1;
		t->used[i] = 1;
		memcpy(t->keys + i * t->key_size, key, t->key_size);
		t->n++;
	}
	memcpy(t->vals + i * t->val_size, val, t->val_size);
	return 0;
}

const void *ref_table_key_at(const struct ref_table *t, size_t i)
{
	return i < t->cap && t->used[i] ? t->keys + i * t->key_size : NULL;
}

void *ref_table_val_at(const struct ref_table *t, size_t i)
{
	return i < t->cap && t->used[i] ? t->vals + i * t->val_size : NULL;
}

int ref_state_init(struct ref_state *s, size_t capacity)
{
	if (table_init(&s->track, sizeof(struct ag_track_key), sizeof(struct ref_track_val),
		       capacity) ||
	    table_init(&s->frags, sizeof(struct ag_frag_key), sizeof(struct ref_frag_val),
		       capacity))
		return -1;
	return 0;
}

void ref_state_clear(struct ref_state *s)
{
	table_clear(&s->track);
	table_clear(&s->frags);
}

static void table_free(struct ref_table *t)
{
	free(t->used);
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

void ref_state_free(struct ref_state *s)
{
	table_free(&s->track);
	table_free(&s->frags);
}

int ref_track_add(struct ref_state *s, const struct ag_track_key *k, int expired)
{
	struct ref_track_val v = { .expired = expired };

	return ref_table_put(&s->track, k, &v);
}

/* ---- names and reports ---- */

const char *ref_reason_name(unsigned int reason)
{
	static const char *const names[AG_REASON__MAX] = {
		"not_ip",
		"not_udp",
		"no_vector",
		"policy_pass",
		"monitor",
		"policy_drop",
		"truncated",
		"malformed",
		"parse_limit",
		"solicited",
		"served",
		"ratelimit_pass",
		"ratelimit_aggregate",
		"ratelimit_source",
		"denylist",
		"allowlist",
		"fragment_pass",
		"fragment_drop",
		"orphan_pass",
		"orphan_drop",
	};

	return reason < AG_REASON__MAX ? names[reason] : "?";
}

void ref_format_addr(const __u8 addr[16], char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(addr, mapped, 12))
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

static const char *action_name(unsigned int a)
{
	static const char *const names[] = { "pass", "monitor", "drop", "ratelimit" };

	return a < 4 ? names[a] : "?";
}

static void note(struct ref_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct ref_verdict *v, const char *fmt, ...)
{
	size_t used = strlen(v->why);
	va_list ap;

	if (used + 1 >= sizeof(v->why))
		return;
	va_start(ap, fmt);
	vsnprintf(v->why + used, sizeof(v->why) - used, fmt, ap);
	va_end(ap);
}

static void describe(const struct parsed *r, struct ref_verdict *v)
{
	static const char *const kinds[] = { "", " first-fragment", " later-fragment" };
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	if (r->tags)
		note(v, "%d tag(s); ", r->tags);
	if (!r->ip_ok)
		return;
	ref_format_addr(r->src, s, sizeof(s));
	ref_format_addr(r->dst, d, sizeof(d));
	note(v, "%s %s > %s", r->v6 ? "ipv6" : "ipv4", s, d);
	if (r->v6)
		note(v, " (%d ext)", r->exts);
	if (r->out != OUT_LATER && r->out != AG_R_TRUNCATED && r->out != AG_R_MALFORMED &&
	    r->out != AG_R_PARSE_LIMIT)
		note(v, " proto %u", r->proto);
	if (r->frag != FK_WHOLE)
		note(v, "%s id %#x", kinds[r->frag], r->frag_id);
	if (r->out == OUT_UDP)
		note(v, " udp %u > %u", r->sport, r->dport);
	note(v, "; ");
}

/* ---- the decision ---- */

static int reason_drops(unsigned int reason)
{
	switch (reason) {
	case AG_R_POLICY_DROP:
	case AG_R_RL_AGGREGATE:
	case AG_R_RL_SOURCE:
	case AG_R_DENYLIST:
	case AG_R_FRAG_DROP:
	case AG_R_ORPHAN_DROP:
		return 1;
	default:
		return 0;
	}
}

static void frag_key_of(const struct parsed *r, struct ag_frag_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, r->src, 16);
	memcpy(k->dst, r->dst, 16);
	k->id = r->frag_id;
	k->proto = r->v6 ? 0 : r->proto;
}

/* Steps 5-9 of the README for a datagram whose ports are known. */
static unsigned int judge(const struct ref_config *c, const struct ref_state *s,
			  const struct parsed *r, __u32 *vec, struct ref_verdict *v)
{
	const struct ref_vector *pv;
	const struct ref_track_val *tv;
	struct ag_track_key k;
	unsigned int slot = ref_vector_slot(c, r->sport);

	*vec = slot;
	if (!slot) {
		note(v, "no vector for port %u", r->sport);
		return AG_R_NO_VECTOR;
	}
	pv = &c->vec[slot];
	note(v, "slot %u (port %u, %s, track %ums)", slot, pv->port, action_name(pv->action),
	     pv->track_timeout_ms);
	if (pv->action == AG_ACT_PASS)
		return AG_R_POLICY_PASS;
	if (ref_served(c, r->dport)) {
		note(v, ", %u served", r->dport);
		return AG_R_SERVED;
	}
	memset(&k, 0, sizeof(k));
	memcpy(k.remote, r->src, 16);
	memcpy(k.local, r->dst, 16);
	k.remote_port = r->sport;
	k.local_port = r->dport;
	tv = ref_table_get(&s->track, &k);
	note(v, ", request %s", !tv ? "not seen" : tv->expired ? "expired" : "live");
	if (pv->track_timeout_ms && tv && !tv->expired)
		return AG_R_SOLICITED;
	return pv->action == AG_ACT_DROP ? AG_R_POLICY_DROP : AG_R_MONITOR;
}

static void decide(struct ref_verdict *v, __u32 vec, unsigned int reason)
{
	v->vec = vec;
	v->reason = reason;
	v->xdp = reason_drops(reason) ? XDP_DROP : XDP_PASS;
	note(v, " => slot %u %s", vec, ref_reason_name(reason));
}

void ref_classify(const struct ref_config *c, struct ref_state *s, const __u8 *frame, size_t len,
		  struct ref_verdict *v)
{
	const struct ref_cidr *n;
	const struct ref_frag_val *fv;
	struct ref_frag_val remember;
	struct ag_frag_key fk;
	struct parsed r;
	unsigned int reason;
	__u32 vec = 0;

	v->why[0] = '\0';
	parse(frame, len, &r);
	describe(&r, v);

	/* 1, 2: the lists judge any frame whose source address could be read. */
	if (r.ip_ok) {
		n = listed(c->deny, c->nr_deny, r.v6, r.src);
		if (n) {
			note(v, "source on denylist (/%u)", n->prefixlen);
			decide(v, 0, AG_R_DENYLIST);
			return;
		}
		n = listed(c->allow, c->nr_allow, r.v6, r.src);
		if (n) {
			note(v, "source on allowlist (/%u)", n->prefixlen);
			decide(v, 0, AG_R_ALLOWLIST);
			return;
		}
	}

	/* 3: a later fragment follows its first, or is an orphan. */
	if (r.out == OUT_LATER) {
		frag_key_of(&r, &fk);
		fv = ref_table_get(&s->frags, &fk);
		if (fv) {
			note(v, "first fragment seen (slot %u, %s)", fv->vec,
			     fv->drop ? "dropped" : "passed");
			decide(v, fv->vec, fv->drop ? AG_R_FRAG_DROP : AG_R_FRAG_PASS);
		} else {
			note(v, "first fragment not seen, orphans %s",
			     c->orphan == AG_ORPHAN_DROP ? "drop" : "pass");
			decide(v, 0,
			       c->orphan == AG_ORPHAN_DROP ? AG_R_ORPHAN_DROP : AG_R_ORPHAN_PASS);
		}
		return;
	}

	/* 4-9 */
	if (r.out == OUT_UDP) {
		reason = judge(c, s, &r, &vec, v);
	} else {
		reason = (unsigned int)r.out;
		note(v, "stopped parsing");
	}

	/* A first fragment's verdict, whatever it was, is what its later ones get. */
	if (r.frag == FK_FIRST && r.ip_ok) {
		frag_key_of(&r, &fk);
		remember.vec = vec;
		remember.drop = reason_drops(reason);
		ref_table_put(&s->frags, &fk, &remember);
	}
	decide(v, vec, reason);
}

int ref_record_request(const struct ref_config *c, struct ref_state *s, const __u8 *frame,
		       size_t len, struct ag_track_key *k)
{
	unsigned int slot;
	struct parsed r;

	parse(frame, len, &r);
	if (r.out != OUT_UDP)
		return 0;
	slot = ref_vector_slot(c, r.dport);
	if (!slot || !c->vec[slot].track_timeout_ms)
		return 0;
	memset(k, 0, sizeof(*k));
	memcpy(k->remote, r.dst, 16);
	memcpy(k->local, r.src, 16);
	k->remote_port = r.dport;
	k->local_port = r.sport;
	ref_track_add(s, k, 0);
	return 1;
}
