// SPDX-License-Identifier: GPL-2.0-only
/*
 * Differential test of the XDP classifier: random configurations and random
 * or mutated frames go through the real program (BPF_PROG_TEST_RUN) and
 * through the reference model in refclass.c; the verdict, and the one
 * counter (slot, reason) the frame must land in, have to agree. Requests go
 * out through the real TC recorder so that replies find tracked entries;
 * the model mirrors them, and the fragment and tracking tables themselves
 * are compared with the model after every batch.
 *
 *   fuzz_datapath [-x] [-t SECONDS] [-r REPORTS] FRAMES [SEED]
 *
 * -x reads every counter after every frame (slower; by default only the
 * expected counter is read per frame and all of them once per batch).
 * -t stops after SECONDS even if fewer frames were run. FRAMES takes k and
 * M suffixes. The last line is "1 passed, 0 failed", or "0 passed, 1
 * failed" when anything disagreed.
 *
 * Invariants: the model is never corrected from the program: after a
 * disagreement the expected counters carry on from what the program
 * counted, so one fault is reported once, not on every later frame. The
 * seed is printed, so any run can be repeated.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"
#include "refclass.h"
#include "fixture.h"

#define MAX_FRAME 400 /* bytes; frames are at least 14 */
#define BUF_LEN 1024  /* room to build before clipping */
#define MAX_EXT 10
#define RING 64
#define MAX_LIST 4 /* CIDRs per list and family */
#define BATCH_MIN 300
#define BATCH_MAX 4000
#define BATCH_SECONDS 2.0 /* well under the shortest tracking timeout used (5 s) */
#define STALE_S 7200      /* older than any timeout (1 h at most) */
#define HOUR_S 3600
/* The programs' tracking clock stands still here: entries age only as written. */
#define TRACK_CLOCK (1ULL << 40)

/* ---- random numbers ---- */

static __u64 rng;

static __u64 rnd(void)
{
	__u64 z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 below(__u32 n)
{
	return n ? (__u32)(rnd() % n) : 0;
}

static int chance(unsigned int pct)
{
	return below(100) < pct;
}

static void fill_rand(__u8 *p, size_t n)
{
	while (n--)
		*p++ = (__u8)rnd();
}

/* ---- the programs and the model ---- */

static struct ampguard_xdp *xdp;
static struct ampguard_tc *tc;
static struct ag_state st;
static int xdp_fd, tc_fd, stats_fd, ifinfo_fd, track_ports_fd = -1, ncpu;
static struct ag_counter *percpu; /* ncpu values of one counter, or of all */

static struct ref_config cfg;
static struct ref_state model;
static struct ag_counter expected[AG_NR_STATS]; /* what the counters must hold */
static struct ag_policy cur_tbl[AG_MAX_VECTORS];
static struct ag_list_op cur_lists[4 * MAX_LIST];
static size_t nr_cur_lists;

static int exact, max_reports = 20;

/* Totals */
static unsigned long long n_frames, n_requests, n_recorded, n_refused, n_injected, n_batches,
	n_commits;
static unsigned long long n_disagree, n_verdict, n_counter, n_table, n_harness;
static unsigned long long cover[AG_REASON__MAX];
static unsigned long long pairs[AG_REASON__MAX][AG_REASON__MAX]; /* reference x program */
static int batch_dirty; /* a disagreement: start over with fresh tables */

/* ---- address and port pools ---- */

static const char *const remote4_s[] = { "192.0.2.1",    "192.0.2.7",   "192.0.2.200",
					 "198.51.100.9", "203.0.113.5", "203.0.113.77",
					 "10.1.2.3" };
static const char *const local4_s[] = { "198.51.100.1", "198.51.100.2" };
static const char *const remote6_s[] = { "2001:db8::2",      "2001:db8::7", "2001:db8:1::5",
					 "2001:db8:ffff::1", "fe80::1",     "2001:db8:53::35" };
static const char *const local6_s[] = { "2001:db8::1", "2001:db8:2::1" };
static const __u16 client_ports[] = { 40000, 40001, 40002, 53000 };
static const __u16 custom_ports[] = { 1, 1000, 1001, 5000, 6000, 8080, 27015, 40000, 65535 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static __u8 remote4[NELEM(remote4_s)][16], local4[NELEM(local4_s)][16];
static __u8 remote6[NELEM(remote6_s)][16], local6[NELEM(local6_s)][16];

static void pools_init(void)
{
	unsigned int i;

	for (i = 0; i < NELEM(remote4_s); i++) {
		remote4[i][10] = remote4[i][11] = 0xff;
		inet_pton(AF_INET, remote4_s[i], remote4[i] + 12);
	}
	for (i = 0; i < NELEM(local4_s); i++) {
		local4[i][10] = local4[i][11] = 0xff;
		inet_pton(AF_INET, local4_s[i], local4[i] + 12);
	}
	for (i = 0; i < NELEM(remote6_s); i++)
		inet_pton(AF_INET6, remote6_s[i], remote6[i]);
	for (i = 0; i < NELEM(local6_s); i++)
		inet_pton(AF_INET6, local6_s[i], local6[i]);
}

/* An address in the IPv4-mapped form for IPv4, mostly from the pools. */
static void pick_addr(int v6, int remote, __u8 out[16])
{
	memset(out, 0, 16);
	if (chance(88)) {
		if (v6)
			memcpy(out,
			       remote ? remote6[below(NELEM(remote6))] :
					local6[below(NELEM(local6))],
			       16);
		else
			memcpy(out,
			       remote ? remote4[below(NELEM(remote4))] :
					local4[below(NELEM(local4))],
			       16);
		if (chance(8)) /* a neighbour of a pool address */
			out[15] ^= (__u8)(1 + below(255));
		return;
	}
	if (v6) {
		fill_rand(out, 16);
	} else {
		out[10] = out[11] = 0xff;
		fill_rand(out + 12, 4);
	}
}

static __u16 vector_port(void)
{
	unsigned int slot, tries;

	for (tries = 0; tries < 8; tries++) {
		slot = 1 + below(AG_MAX_VECTORS - 1);
		if (cfg.vec[slot].in_use)
			return cfg.vec[slot].port;
	}
	return 53;
}

static __u16 served_port(void)
{
	unsigned int w, start = below(AG_NR_PORTS / 32), i;

	for (i = 0; i < AG_NR_PORTS / 32; i++) {
		w = (start + i) % (AG_NR_PORTS / 32);
		if (cfg.served[w])
			return (__u16)(w * 32 + __builtin_ctz(cfg.served[w]));
	}
	return 123;
}

static __u16 pick_sport(void)
{
	unsigned int r = below(100);

	if (r < 52)
		return vector_port();
	if (r < 57) /* custom ports come and go: this one may have lost its slot */
		return custom_ports[below(NELEM(custom_ports))];
	if (r < 65)
		return served_port();
	if (r < 75)
		return client_ports[below(NELEM(client_ports))];
	return (__u16)rnd();
}

static __u16 pick_dport(void)
{
	unsigned int r = below(100);

	if (r < 45)
		return client_ports[below(NELEM(client_ports))];
	if (r < 65)
		return served_port();
	if (r < 80)
		return vector_port();
	return (__u16)rnd();
}

/* ---- frames ---- */

enum { BODY_V4, BODY_V6, BODY_OTHER };

struct ext {
	__u8 type;   /* 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options */
	__u8 hdrlen; /* 8-byte units past the first 8 (not for fragment headers) */
	__u16 fo;    /* fragment header: offset << 3 | M */
	__u32 id;
};

struct spec {
	int tags;
	__u16 tag_type[3];
	__u16 ethertype;
	int body; /* BODY_* */
	__u8 src[16], dst[16];
	int opt_words; /* IPv4 options */
	__u16 id;      /* IPv4 ID */
	__u16 fo;      /* IPv4 flags and fragment offset */
	int nexts;
	struct ext ext[MAX_EXT];
	__u8 proto;
	__u16 sport, dport;
	int payload;
	int pad_min; /* zero padding up to this length */
	int trailer; /* random bytes after the datagram (and padding) */
};

struct frm {
	__u8 d[BUF_LEN];
	size_t len;
	size_t l3, l4, l3_end; /* header offsets, end of the IP datagram */
	size_t ext_off[MAX_EXT];
	int nexts;
	int v6;
	char what[96]; /* how it was made, for reports */
};

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = (__u8)v;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, (__u16)v);
}

static void whatf(struct frm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void whatf(struct frm *f, const char *fmt, ...)
{
	size_t used = strlen(f->what);
	va_list ap;

	if (used + 1 >= sizeof(f->what))
		return;
	va_start(ap, fmt);
	vsnprintf(f->what + used, sizeof(f->what) - used, fmt, ap);
	va_end(ap);
}

static size_t put_l4(const struct spec *s, __u8 *p, int later)
{
	size_t n = 0;

	if (!later) {
		switch (s->proto) {
		case 17:
			put16(p, s->sport);
			put16(p + 2, s->dport);
			put16(p + 4, (__u16)(8 + s->payload));
			put16(p + 6, 0);
			n = 8;
			break;
		case 6:
			memset(p, 0, 20);
			put16(p, s->sport);
			put16(p + 2, s->dport);
			p[12] = 0x50;
			p[13] = 0x02;
			n = 20;
			break;
		case 1:
		case 58:
			memset(p, 0, 8);
			p[0] = s->proto == 1 ? 8 : 128;
			n = 8;
			break;
		}
	}
	if (chance(50))
		memset(p + n, 0xab, s->payload);
	else
		fill_rand(p + n, s->payload);
	return n + s->payload;
}

static void build(const struct spec *s, struct frm *f)
{
	static const __u8 macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	size_t off = 12, hlen, l4len;
	__u8 *p, *nh;
	int i, later = 0;

	f->len = 0;
	f->nexts = 0;
	f->v6 = s->body == BODY_V6;
	memcpy(f->d, macs, 12);
	for (i = 0; i < s->tags; i++) {
		put16(f->d + off, s->tag_type[i]);
		put16(f->d + off + 2, (__u16)below(4096));
		off += 4;
	}
	put16(f->d + off, s->ethertype);
	off += 2;
	f->l3 = f->l4 = f->l3_end = off;
	p = f->d + off;

	if (s->body == BODY_OTHER) {
		hlen = below(64);
		fill_rand(p, hlen);
		off += hlen;
	} else if (s->body == BODY_V4) {
		hlen = 20 + 4 * (size_t)s->opt_words;
		memset(p, 0, 20);
		p[0] = (__u8)(0x40 | hlen / 4);
		put16(p + 4, s->id);
		put16(p + 6, s->fo);
		p[8] = 64;
		p[9] = s->proto;
		memcpy(p + 12, s->src + 12, 4);
		memcpy(p + 16, s->dst + 12, 4);
		if (chance(60))
			memset(p + 20, 1, hlen - 20); /* NOPs */
		else
			fill_rand(p + 20, hlen - 20);
		later = (s->fo & 0x1fff) != 0;
		l4len = put_l4(s, p + hlen, later);
		put16(p + 2, (__u16)(hlen + l4len));
		f->l4 = off + hlen;
		off += hlen + l4len;
		f->l3_end = off;
	} else {
		memset(p, 0, 40);
		p[0] = 0x60;
		p[7] = 64;
		memcpy(p + 8, s->src, 16);
		memcpy(p + 24, s->dst, 16);
		nh = &p[6];
		hlen = 40;
		for (i = 0; i < s->nexts; i++) {
			__u8 *q = p + hlen;

			*nh = s->ext[i].type;
			f->ext_off[f->nexts++] = off + hlen;
			if (s->ext[i].type == 44) {
				q[1] = 0;
				put16(q + 2, s->ext[i].fo);
				put32(q + 4, s->ext[i].id);
				if (s->ext[i].fo & 0xfff8)
					later = 1;
				hlen += 8;
			} else {
				size_t n = 8 * ((size_t)s->ext[i].hdrlen + 1);

				q[1] = s->ext[i].hdrlen;
				if (chance(70)) {
					q[2] = 1; /* PadN over the rest */
					q[3] = (__u8)(n - 4);
					memset(q + 4, 0, n - 4);
				} else {
					fill_rand(q + 2, n - 2);
				}
				hlen += n;
			}
			nh = q;
		}
		*nh = s->proto == 1 ? 58 : s->proto;
		l4len = put_l4(s, p + hlen, later);
		put16(p + 4, (__u16)(hlen - 40 + l4len));
		f->l4 = off + hlen;
		off += hlen + l4len;
		f->l3_end = off;
	}
	if ((int)off < s->pad_min) {
		memset(f->d + off, 0, s->pad_min - off);
		off = s->pad_min;
	}
	fill_rand(f->d + off, s->trailer);
	off += s->trailer;
	f->len = off > MAX_FRAME ? MAX_FRAME : off;
}

static const __u8 v6_ext_types[] = { 0, 43, 60 };

/* A random frame arriving at the host. */
static void gen_base(struct spec *s, int v6)
{
	int i, r;

	memset(s, 0, sizeof(*s));
	r = below(100);
	s->tags = r < 70 ? 0 : r < 85 ? 1 : r < 96 ? 2 : 3;
	for (i = 0; i < 3; i++)
		s->tag_type[i] = chance(50) ? 0x8100 : 0x88a8;
	s->body = v6 ? BODY_V6 : BODY_V4;
	s->ethertype = v6 ? 0x86dd : 0x0800;
	pick_addr(v6, 1, s->src);
	pick_addr(v6, 0, s->dst);
	if (chance(5)) { /* the other way round */
		__u8 t[16];

		memcpy(t, s->src, 16);
		memcpy(s->src, s->dst, 16);
		memcpy(s->dst, t, 16);
	}
	s->opt_words = chance(80) ? 0 : 1 + (int)below(10);
	s->id = chance(70) ? (__u16)(0x1234 + below(3)) : (__u16)rnd();
	s->fo = chance(50) ? 0x4000 : 0;
	r = below(100);
	s->nexts = r < 60 ? 0 : r < 90 ? 1 + (int)below(3) : 4 + (int)below(MAX_EXT - 3);
	for (i = 0; i < s->nexts; i++) {
		s->ext[i].type = v6_ext_types[below(3)];
		s->ext[i].hdrlen = chance(75) ? 0 : (__u8)(1 + below(2));
	}
	r = below(100);
	s->proto = r < 78 ? 17 : r < 88 ? 6 : r < 94 ? 1 : (__u8)rnd();
	s->sport = pick_sport();
	s->dport = pick_dport();
	s->payload = chance(85) ? (int)below(80) : (int)below(260);
	s->pad_min = chance(50) ? 60 : 0;
	s->trailer = chance(10) ? 1 + (int)below(16) : 0;
}

enum { FRAG_WHOLE, FRAG_FIRST, FRAG_LATER };

static void set_frag(struct spec *s, int kind, __u32 id)
{
	int i, at = -1;
	__u16 later = (__u16)((1 + below(8190)) << 3);

	if (s->body == BODY_V4) {
		s->id = (__u16)id;
		s->fo = kind == FRAG_FIRST ? 0x2000 :
			kind == FRAG_LATER ? (__u16)((later >> 3) | (chance(50) ? 0x2000 : 0)) :
					     0;
		return;
	}
	for (i = 0; i < s->nexts; i++)
		if (s->ext[i].type == 44)
			at = i;
	if (at < 0) {
		if (s->nexts == MAX_EXT)
			s->nexts--;
		at = (int)below(s->nexts + 1);
		memmove(&s->ext[at + 1], &s->ext[at], sizeof(s->ext[0]) * (s->nexts - at));
		s->nexts++;
	}
	s->ext[at].type = 44;
	s->ext[at].hdrlen = 0;
	s->ext[at].id = id;
	s->ext[at].fo = kind == FRAG_FIRST ? 1 :
			kind == FRAG_LATER ? later | (chance(50) ? 1 : 0) :
					     0;
}

/* ---- rings of recent datagrams, so fragments and replies find their partners ---- */

struct ident {
	int v6;
	__u8 src[16], dst[16];
	__u32 id;
	__u8 proto;
};

static struct ident firsts[RING];
static unsigned int nr_firsts;
static struct ag_track_key requests[RING];
static unsigned int nr_requests;

static int is_mapped(const __u8 a[16])
{
	static const __u8 pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pfx, 12);
}

/* ---- mutations ---- */

static void mutate_field(struct frm *f)
{
	static const __u16 ethertypes[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };
	static const __u8 v4_first[] = { 0x45, 0x4f, 0x44, 0x40, 0x65, 0x35, 0x46 };
	static const __u16 v4_frag[] = { 0, 0x2000, 0x4000, 0x0001, 0x1fff, 0x2001, 0x8000 };
	static const __u8 protos[] = { 17, 6, 1, 44, 0, 58, 43, 60 };
	static const __u8 nexthdrs[] = { 0, 43, 44, 60, 17, 59, 6 };
	size_t at, dgram = f->l3_end - f->l3, ulen = f->l3_end > f->l4 ? f->l3_end - f->l4 : 0;
	__u16 v;
	unsigned int r = below(11);

	switch (r) {
	case 0: /* ethertype */
		at = f->l3 - 2;
		put16(f->d + at, chance(80) ? ethertypes[below(NELEM(ethertypes))] : (__u16)rnd());
		whatf(f, " ethertype@%zu", at);
		return;
	case 1: /* version / IHL */
		at = f->l3;
		f->d[at] = f->v6      ? (__u8)((f->d[at] & 0xf) | below(16) << 4) :
			   chance(70) ? v4_first[below(NELEM(v4_first))] :
					(__u8)rnd();
		whatf(f, " version@%zu", at);
		return;
	case 2: /* IPv4 total length / IPv6 payload length */
		at = f->l3 + (f->v6 ? 4 : 2);
		v = f->v6 ? (__u16)(dgram - 40) : (__u16)dgram;
		v = chance(30) ? (__u16)rnd() :
		    chance(50) ? (__u16)(v + below(9) - 4) :
				 (__u16)below(64);
		put16(f->d + at, v);
		whatf(f, " iplen@%zu=%u", at, v);
		return;
	case 3: /* IPv4 flags and offset */
		if (f->v6)
			break;
		at = f->l3 + 6;
		put16(f->d + at, chance(70) ? v4_frag[below(NELEM(v4_frag))] : (__u16)rnd());
		whatf(f, " frag@%zu", at);
		return;
	case 4: /* protocol / next header */
		at = f->l3 + (f->v6 ? 6 : 9);
		f->d[at] = f->v6 ? nexthdrs[below(NELEM(nexthdrs))] : protos[below(NELEM(protos))];
		whatf(f, " proto@%zu", at);
		return;
	case 5: /* an extension header's length */
	case 6: /* or its next header */
		if (!f->nexts)
			break;
		at = f->ext_off[below(f->nexts)] + (r == 5 ? 1 : 0);
		f->d[at] = r == 5 ? (chance(60) ? (__u8)below(4) : (__u8)rnd()) :
				    nexthdrs[below(NELEM(nexthdrs))];
		whatf(f, " ext@%zu", at);
		return;
	case 7: /* a fragment header's offset and M */
		if (!f->nexts)
			break;
		at = f->ext_off[below(f->nexts)] + 2;
		put16(f->d + at, chance(50) ? (__u16)below(2) : (__u16)rnd());
		whatf(f, " fragoff@%zu", at);
		return;
	case 8: /* UDP length */
		at = f->l4 + 4;
		v = chance(25) ? (__u16)below(9) :
		    chance(40) ? (__u16)(ulen + below(5) - 2) :
		    chance(50) ? 0xffff :
				 (__u16)rnd();
		put16(f->d + at, v);
		whatf(f, " udplen@%zu=%u", at, v);
		return;
	case 9: /* ports */
		at = f->l4 + 2 * below(2);
		put16(f->d + at, chance(50) ? vector_port() : (__u16)rnd());
		whatf(f, " port@%zu", at);
		return;
	default: /* any byte of the headers */
		at = below((__u32)(f->l4 + 8 < f->len ? f->l4 + 8 : f->len));
		f->d[at] = (__u8)rnd();
		whatf(f, " byte@%zu", at);
		return;
	}
	at = below((__u32)f->len);
	f->d[at] ^= (__u8)(1 + below(255));
	whatf(f, " xor@%zu", at);
}

static void mutate(struct frm *f)
{
	size_t old = f->len, n, at;
	unsigned int r = below(100), i;

	if (r < 28) {
		f->len = 14 + below((__u32)(f->len - 14 + 1));
		whatf(f, " cut %zu>%zu", old, f->len);
	} else if (r < 48) {
		n = 1 + below(4);
		for (i = 0; i < n; i++) {
			at = below((__u32)(f->l4 + 8 < f->len ? f->l4 + 8 : f->len));
			f->d[at] ^= (__u8)(1 << below(8));
		}
		whatf(f, " %zu bitflips", n);
	} else if (r < 85) {
		n = 1 + below(2);
		for (i = 0; i < n; i++)
			mutate_field(f);
	} else if (r < 95) {
		n = 1 + below(40);
		if (f->len + n > MAX_FRAME)
			n = MAX_FRAME - f->len;
		fill_rand(f->d + f->len, n);
		f->len += n;
		whatf(f, " +%zu bytes", n);
	} else {
		n = 14 + below(MAX_FRAME - 14 + 1);
		if (n > f->len)
			fill_rand(f->d + f->len, n - f->len);
		f->len = n;
		whatf(f, " length %zu", n);
	}
	/* Header offsets stay as built: a later mutation may land past a cut, harmlessly. */
}

/* ---- the generators ---- */

static void gen_generic(struct frm *f)
{
	struct spec s;
	int v6 = chance(50);

	gen_base(&s, v6);
	if (chance(10)) {
		static const __u16 other[] = { 0x0806, 0x88cc, 0x8847, 0x0842 };

		s.ethertype = chance(80) ? other[below(NELEM(other))] : (__u16)rnd();
		s.body = chance(50) ? BODY_OTHER : s.body;
	} else if (chance(3)) {
		s.ethertype = v6 ? 0x0800 : 0x86dd; /* the other family's header */
	}
	if (chance(6))
		set_frag(&s, FRAG_WHOLE, (__u32)rnd()); /* IPv6 atomic fragment */
	build(&s, f);
	snprintf(f->what, sizeof(f->what), "generic");
	if (chance(35))
		mutate(f);
}

static void remember_first(const struct spec *s)
{
	struct ident *id = &firsts[nr_firsts++ % RING];

	id->v6 = s->body == BODY_V6;
	memcpy(id->src, s->src, 16);
	memcpy(id->dst, s->dst, 16);
	id->proto = s->proto;
	id->id = s->body == BODY_V4 ? s->id : 0;
	for (int i = 0; i < s->nexts; i++)
		if (s->ext[i].type == 44)
			id->id = s->ext[i].id;
}

static void gen_first(struct frm *f)
{
	struct spec s;

	gen_base(&s, chance(50));
	if (chance(85))
		s.proto = 17;
	s.payload = 8 + (int)below(200);
	set_frag(&s, FRAG_FIRST, chance(70) ? 0x100 + below(6) : (__u32)rnd());
	if (s.body == BODY_V4 && chance(20))
		s.fo |= 0x4000;
	/* A first fragment's UDP length covers the datagram: longer than this piece. */
	build(&s, f);
	if (s.proto == 17 && chance(70))
		put16(f->d + f->l4 + 4, (__u16)(8 + s.payload + 8 * (1 + below(100))));
	remember_first(&s);
	snprintf(f->what, sizeof(f->what), "first fragment");
	if (chance(20))
		mutate(f);
}

static void gen_later(struct frm *f)
{
	struct spec s;
	const struct ident *id;

	if (nr_firsts && chance(70)) {
		id = &firsts[below(nr_firsts < RING ? nr_firsts : RING)];
		gen_base(&s, id->v6);
		memcpy(s.src, id->src, 16);
		memcpy(s.dst, id->dst, 16);
		s.proto = id->proto;
		set_frag(&s, FRAG_LATER, id->id);
		snprintf(f->what, sizeof(f->what), "later fragment of a first");
		if (chance(15)) {
			switch (below(3)) {
			case 0:
				set_frag(&s, FRAG_LATER, id->id + 1);
				break;
			case 1:
				s.proto = s.proto == 17 ? 6 : 17;
				break;
			default:
				pick_addr(id->v6, 1, s.src);
			}
		}
	} else {
		gen_base(&s, chance(50));
		set_frag(&s, FRAG_LATER, chance(70) ? 0x100 + below(6) : (__u32)rnd());
		snprintf(f->what, sizeof(f->what), "later fragment");
	}
	s.payload = (int)below(200);
	build(&s, f);
	if (chance(20))
		mutate(f);
}

/* A reply (or a forgery of one) to a request the recorder has seen. */
static void gen_reply(struct frm *f)
{
	const struct ag_track_key *k;
	struct spec s;
	int v6;

	if (!nr_requests) {
		gen_generic(f);
		return;
	}
	k = &requests[below(nr_requests < RING ? nr_requests : RING)];
	v6 = !is_mapped(k->remote);
	gen_base(&s, v6);
	memcpy(s.src, k->remote, 16);
	memcpy(s.dst, k->local, 16);
	s.proto = 17;
	s.sport = k->remote_port;
	s.dport = k->local_port;
	if (v6 && chance(50))
		s.nexts = 0;
	snprintf(f->what, sizeof(f->what), "reply");
	if (chance(25)) {
		switch (below(4)) {
		case 0:
			s.sport = vector_port();
			break;
		case 1:
			s.dport++;
			break;
		case 2:
			pick_addr(v6, 1, s.src);
			break;
		default:
			pick_addr(v6, 0, s.dst);
		}
		snprintf(f->what, sizeof(f->what), "forged reply");
	}
	if (chance(10))
		set_frag(&s, FRAG_FIRST, 0x200 + below(4));
	build(&s, f);
	if (chance(12))
		mutate(f);
}

static void gen_random(struct frm *f)
{
	f->len = 14 + below(300);
	fill_rand(f->d, f->len);
	f->l3 = 14;
	f->l4 = f->l3_end = f->len;
	f->nexts = 0;
	f->v6 = 0;
	if (chance(60)) {
		f->v6 = chance(50);
		put16(f->d + 12, f->v6 ? 0x86dd : 0x0800);
		f->d[14] = (__u8)((f->v6 ? 0x60 : 0x40) | (f->d[14] & 0xf));
	}
	snprintf(f->what, sizeof(f->what), "random bytes");
}

/* A request this host sends: from a local address to a remote one. */
static void gen_request(struct frm *f)
{
	struct spec s;
	int v6 = chance(50);

	gen_base(&s, v6);
	pick_addr(v6, 0, s.src);
	pick_addr(v6, 1, s.dst);
	s.proto = chance(92) ? 17 : 6;
	/* A few busy local ports, and ephemeral ones that send one request each. */
	s.sport = chance(60) ? client_ports[below(NELEM(client_ports))] :
		  chance(75) ? (__u16)(32768 + below(28232)) :
			       (__u16)rnd();
	s.dport = chance(80) ? vector_port() : pick_sport();
	if (s.tags > 2)
		s.tags = 2;
	if (chance(8))
		set_frag(&s, chance(50) ? FRAG_FIRST : FRAG_LATER, (__u32)rnd());
	build(&s, f);
	snprintf(f->what, sizeof(f->what), "request");
	if (chance(10))
		mutate(f);
}

/* ---- configuration ---- */

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_datapath: %s: %s\n", what, strerror(err < 0 ? -err : err));
	printf("0 passed, 1 failed\n");
	exit(2);
}

static const __u32 timeouts[] = { 0, 5000, 10000, 60000, 3600000 };

static __u8 random_action(void)
{
	unsigned int r = below(100);

	return r < 45 ? AG_ACT_DROP : r < 70 ? AG_ACT_MONITOR : AG_ACT_PASS;
}

static void random_cidr(struct ag_list_op *op, int family, int list)
{
	static const __u8 plen4[] = { 0, 8, 16, 24, 24, 28, 30, 31, 32, 32, 32 };
	static const __u8 plen6[] = { 0, 16, 32, 48, 64, 120, 127, 128, 128, 128 };
	__u8 a[16];
	unsigned int bits, i;

	memset(op, 0, sizeof(*op));
	op->list = list;
	op->family = family;
	pick_addr(family == AF_INET6, 1, a);
	if (family == AF_INET) {
		memcpy(op->addr, a + 12, 4);
		bits = plen4[below(NELEM(plen4))];
		if (bits == 0 && chance(70))
			bits = 32;
	} else {
		memcpy(op->addr, a, 16);
		bits = plen6[below(NELEM(plen6))];
		if (bits == 0 && chance(70))
			bits = 128;
	}
	op->prefixlen = bits;
	for (i = 0; i < 16; i++) {
		if (i * 8 >= bits)
			op->addr[i] = 0;
		else if (i * 8 + 8 > bits)
			op->addr[i] &= (__u8)(0xff << (8 - (bits - i * 8)));
	}
}

static void write_orphans(__u32 mode)
{
	struct ag_ifinfo info;
	int err;

	if (bpf_map_lookup_elem(ifinfo_fd, &(__u32){ 0 }, &info))
		die("reading ifinfo", errno);
	memset(&info.orphan, 0, sizeof(info.orphan));
	info.orphan[0].mode = info.orphan[1].mode = mode;
	info.orphan_tat = 0;
	err = bpf_map_update_elem(ifinfo_fd, &(__u32){ 0 }, &info, 0);
	if (err)
		die("writing ifinfo", errno);
}

/*
 * A new configuration: every built-in's action and timeout, custom ports
 * (kept, or dealt anew into random free slots so that slots change hands),
 * served ports, lists and the orphan policy; committed through the library.
 */
static void random_config(int keep_custom)
{
	struct ag_policy t[AG_MAX_VECTORS];
	struct ag_served sv;
	struct ag_list_op lists[4 * MAX_LIST], ops[8 * MAX_LIST];
	size_t nr_lists = 0, nr_ops = 0, i;
	unsigned int slot, n, tries, l, fam;
	struct ref_config c;
	int err;

	ag_policy_defaults(t);
	for (slot = 1; slot < AG_FIRST_CUSTOM_SLOT; slot++) {
		t[slot].action = random_action();
		if (chance(60))
			t[slot].track_timeout_ms = timeouts[below(NELEM(timeouts))];
	}
	if (keep_custom) {
		for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++)
			if (cur_tbl[slot].in_use)
				t[slot] = cur_tbl[slot];
	} else {
		n = below(9);
		for (i = 0; i < n; i++) {
			__u16 port = chance(60) ? custom_ports[below(NELEM(custom_ports))] :
						  (__u16)(1 + below(65535));
			int taken = 0;

			for (slot = 1; slot < AG_MAX_VECTORS; slot++)
				taken |= t[slot].in_use && t[slot].port == port;
			if (taken)
				continue;
			for (tries = 0; tries < 16; tries++) {
				slot = AG_FIRST_CUSTOM_SLOT +
				       below(AG_MAX_VECTORS - AG_FIRST_CUSTOM_SLOT);
				if (!t[slot].in_use)
					break;
			}
			if (t[slot].in_use)
				continue;
			t[slot] = (struct ag_policy){ .port = port,
						      .in_use = 1,
						      .track_timeout_ms = AG_DEFAULT_TRACK_MS };
		}
	}
	for (slot = AG_FIRST_CUSTOM_SLOT; slot < AG_MAX_VECTORS; slot++) {
		if (!t[slot].in_use)
			continue;
		t[slot].action = random_action();
		if (chance(50))
			t[slot].track_timeout_ms = timeouts[below(NELEM(timeouts))];
	}

	ref_config_init(&c);
	for (slot = 1; slot < AG_MAX_VECTORS; slot++) {
		c.vec[slot].port = t[slot].port;
		c.vec[slot].in_use = t[slot].in_use;
		c.vec[slot].action = t[slot].action;
		c.vec[slot].track_timeout_ms = t[slot].track_timeout_ms;
	}
	memcpy(cfg.vec, c.vec, sizeof(c.vec)); /* served ports are drawn from the new table */

	memset(&sv, 0, sizeof(sv));
	n = below(5);
	for (i = 0; i < n; i++) {
		unsigned int r = below(100);
		__u16 port = r < 40 ? vector_port() :
			     r < 70 ? client_ports[below(NELEM(client_ports))] :
			     r < 85 ? 123 :
				      (__u16)rnd();

		sv.bits[port / 32] |= 1U << (port % 32);
		ref_serve(&c, port, 1);
	}

	for (l = 0; l < 2; l++) {
		for (fam = 0; fam < 2; fam++) {
			n = chance(70) ? 0 : 1 + below(MAX_LIST - 1);
			for (i = 0; i < n; i++) {
				struct ag_list_op *op = &lists[nr_lists++];
				struct ref_cidr *rc = l == AG_LIST_ALLOW ? &c.allow[c.nr_allow++] :
									   &c.deny[c.nr_deny++];

				random_cidr(op, fam ? AF_INET6 : AF_INET, l);
				rc->family = fam ? 6 : 4;
				rc->prefixlen = (__u8)op->prefixlen;
				memcpy(rc->addr, op->addr, 16);
			}
		}
	}
	for (i = 0; i < nr_cur_lists; i++) {
		ops[nr_ops] = cur_lists[i];
		ops[nr_ops++].del = 1;
	}
	for (i = 0; i < nr_lists; i++)
		ops[nr_ops++] = lists[i];
	c.orphan = chance(50) ? AG_ORPHAN_PASS : AG_ORPHAN_DROP;

	err = ag_commit(&st, &(struct ag_change){
				     .tbl = t, .served = &sv, .ops = ops, .nr_ops = nr_ops });
	if (err)
		die("committing a configuration", err);
	write_orphans(c.orphan);
	n_commits++;

	cfg = c;
	memcpy(cur_tbl, t, sizeof(t));
	memcpy(cur_lists, lists, sizeof(lists[0]) * nr_lists);
	nr_cur_lists = nr_lists;
}

static void print_config(FILE *o)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int i, p;

	fprintf(o, "  config: orphans %s; served:", cfg.orphan == AG_ORPHAN_DROP ? "drop" : "pass");
	for (p = 0; p < AG_NR_PORTS; p++)
		if (ref_served(&cfg, (__u16)p))
			fprintf(o, " %u", p);
	fprintf(o, "; allow:");
	for (i = 0; i < cfg.nr_allow; i++) {
		__u8 m[16] = { 0 };

		if (cfg.allow[i].family == 4) {
			m[10] = m[11] = 0xff;
			memcpy(m + 12, cfg.allow[i].addr, 4);
		} else {
			memcpy(m, cfg.allow[i].addr, 16);
		}
		ref_format_addr(m, a, sizeof(a));
		fprintf(o, " %s/%u", a, cfg.allow[i].prefixlen);
	}
	fprintf(o, "; deny:");
	for (i = 0; i < cfg.nr_deny; i++) {
		__u8 m[16] = { 0 };

		if (cfg.deny[i].family == 4) {
			m[10] = m[11] = 0xff;
			memcpy(m + 12, cfg.deny[i].addr, 4);
		} else {
			memcpy(m, cfg.deny[i].addr, 16);
		}
		ref_format_addr(m, a, sizeof(a));
		fprintf(o, " %s/%u", a, cfg.deny[i].prefixlen);
	}
	fprintf(o, "\n  custom ports:");
	for (i = AG_FIRST_CUSTOM_SLOT; i < AG_MAX_VECTORS; i++)
		if (cfg.vec[i].in_use)
			fprintf(o, " %u@slot%u(a%u,t%u)", cfg.vec[i].port, i, cfg.vec[i].action,
				cfg.vec[i].track_timeout_ms);
	fprintf(o, "\n");
}

/* ---- running frames ---- */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds on the programs' tracking clock (jiffies). */
static __u64 track_units(__u64 seconds)
{
	return seconds * (xdp->rodata->kern_hz);
}

static void hexdump(FILE *o, const __u8 *d, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(o, "%s%02x", i % 32 == 0 ? "\n    " : "", d[i]);
	fprintf(o, "\n");
}

static int read_all(struct ag_counter out[AG_NR_STATS])
{
	int err = ag_stats_read(stats_fd, out);

	if (err)
		die("reading counters", err);
	return 0;
}

static int read_one(__u32 idx, struct ag_counter *out)
{
	int cpu;

	if (bpf_map_lookup_elem(stats_fd, &idx, percpu))
		die("reading a counter", errno);
	*out = (struct ag_counter){ 0 };
	for (cpu = 0; cpu < ncpu; cpu++) {
		out->packets += percpu[cpu].packets;
		out->bytes += percpu[cpu].bytes;
	}
	return 0;
}

static int reporting(void)
{
	return n_disagree <= (unsigned long long)max_reports;
}

static void disagree_frame(const struct frm *f, const struct ref_verdict *want, int retval, int err,
			   const struct ag_counter *now)
{
	unsigned int idx, got_reason = AG_REASON__MAX, moved = 0;

	for (idx = 0; idx < AG_NR_STATS; idx++) {
		if (now[idx].packets != expected[idx].packets) {
			if (!moved++)
				got_reason = idx % AG_REASON__MAX;
		}
	}
	n_disagree++;
	n_verdict++;
	if (got_reason < AG_REASON__MAX && want->reason < AG_REASON__MAX)
		pairs[want->reason][got_reason]++;
	batch_dirty = 1;
	if (!reporting())
		return;
	printf("DISAGREEMENT %llu: frame %llu (%s), %zu bytes:", n_disagree, n_frames, f->what,
	       f->len);
	hexdump(stdout, f->d, f->len);
	printf("  reference: %s slot %u %s\n    %s\n", want->xdp == XDP_DROP ? "DROP" : "PASS",
	       want->vec, ref_reason_name(want->reason), want->why);
	printf("  program:   %s (retval %d, err %d), counted:",
	       retval == XDP_DROP ? "DROP" :
	       retval == XDP_PASS ? "PASS" :
				    "?",
	       retval, err);
	for (idx = 0; idx < AG_NR_STATS; idx++)
		if (now[idx].packets != expected[idx].packets)
			printf(" slot %u %s %+lld pkt %+lld bytes;", idx / AG_REASON__MAX,
			       ref_reason_name(idx % AG_REASON__MAX),
			       (long long)(now[idx].packets - expected[idx].packets),
			       (long long)(now[idx].bytes - expected[idx].bytes));
	printf("\n");
	print_config(stdout);
	fflush(stdout);
}

static void run_xdp(struct frm *f)
{
	struct fixture_run run = { .data = f->d, .len = f->len };
	static struct ag_counter now[AG_NR_STATS];
	struct ref_verdict want;
	struct ag_counter one;
	__u32 idx;
	int err, ok;

	ref_classify(&cfg, &model, f->d, f->len, &want);
	cover[want.reason]++;
	n_frames++;
	err = fixture_run(xdp_fd, &run);
	idx = AG_STATS_IDX(want.vec, want.reason);
	if (exact) {
		read_all(now);
		ok = 1;
		for (__u32 i = 0; i < AG_NR_STATS && ok; i++)
			ok = i == idx ? now[i].packets == expected[i].packets + 1 &&
						now[i].bytes == expected[i].bytes + f->len :
					now[i].packets == expected[i].packets &&
						now[i].bytes == expected[i].bytes;
	} else {
		read_one(idx, &one);
		ok = one.packets == expected[idx].packets + 1 &&
		     one.bytes == expected[idx].bytes + f->len;
	}
	if (!err && (int)run.retval == want.xdp && ok) {
		expected[idx].packets++;
		expected[idx].bytes += f->len;
		return;
	}
	if (!exact)
		read_all(now);
	disagree_frame(f, &want, (int)run.retval, err, now);
	memcpy(expected, now, sizeof(expected)); /* carry on from what the program counted */
}

static void run_tc(struct frm *f)
{
	struct fixture_run run = { .data = f->d, .len = f->len };
	struct ag_track_key k;
	struct ag_track_val v;
	int rec, err;

	n_requests++;
	err = fixture_run(tc_fd, &run);
	/*
	 * The kernel's skb test runner refuses some frames whose IP header is
	 * cut short (EINVAL) before the program runs; the stack never sends
	 * such a frame, so they are only counted.
	 */
	if (err == -EINVAL) {
		n_refused++;
		return;
	}
	rec = ref_record_request(&cfg, &model, f->d, f->len, &k);
	if (err || run.retval != TC_ACT_OK) {
		n_disagree++;
		n_harness++;
		batch_dirty = 1;
		if (reporting()) {
			printf("DISAGREEMENT %llu: the recorder returned %d (err %d) for a request:",
			       n_disagree, run.retval, err);
			hexdump(stdout, f->d, f->len);
		}
		return;
	}
	if (!rec)
		return;
	n_recorded++;
	requests[nr_requests++ % RING] = k;
	if (bpf_map_lookup_elem(st.track_fd, &k, &v)) {
		n_disagree++;
		n_table++;
		batch_dirty = 1;
		if (reporting()) {
			printf("DISAGREEMENT %llu: request not recorded (%s):", n_disagree,
			       f->what);
			hexdump(stdout, f->d, f->len);
			print_config(stdout);
		}
	}
}

/*
 * A table entry written directly: a request seen long ago (past every
 * timeout) or just now, for any vector port, even one whose tracking is off.
 */
static void inject_entry(void)
{
	struct ag_track_key k;
	struct ag_track_val v = { .last_request = TRACK_CLOCK };
	int v6 = chance(50), stale = chance(50);

	if (stale)
		v.last_request -= track_units(STALE_S);
	memset(&k, 0, sizeof(k));
	pick_addr(v6, 1, k.remote);
	pick_addr(v6, 0, k.local);
	k.remote_port = vector_port();
	k.local_port = client_ports[below(NELEM(client_ports))];
	if (bpf_map_update_elem(st.track_fd, &k, &v, BPF_ANY))
		die("writing a track entry", errno);
	/*
	 * The recorder also notes when each local port last sent a request
	 * (where the program has that map): what it writes along with an
	 * entry, a test that writes entries must write too.
	 */
	if (track_ports_fd >= 0 && !stale) {
		__u32 port = k.local_port;

		if (bpf_map_update_elem(track_ports_fd, &port, &v.last_request, BPF_ANY))
			die("writing a port's latest request", errno);
	}
	ref_track_add(&model, &k, stale);
	requests[nr_requests++ % RING] = k;
	n_injected++;
}

/* ---- batch boundaries: compare the tables, then empty them ---- */

static int table_bad; /* mismatches in the table being checked */

/* Counted once per table and batch; the first few keys are shown. */
static void table_mismatch(const char *what, const void *key, size_t klen)
{
	if (!table_bad++) {
		n_disagree++;
		n_table++;
	}
	if (reporting() && table_bad <= 3) {
		printf("DISAGREEMENT %llu: %s; key:", n_disagree, what);
		hexdump(stdout, key, klen);
	}
}

/* Every key of a hash map (malloc'd array of *n keys of ksize bytes). */
static void *map_keys(int fd, size_t ksize, size_t *n)
{
	unsigned char *keys = NULL, *prev = NULL;
	size_t cap = 0;

	*n = 0;
	for (;;) {
		if (*n == cap) {
			size_t at = prev ? (size_t)(prev - keys) : 0;

			cap = cap ? cap * 2 : 256;
			keys = realloc(keys, cap * ksize);
			if (!keys)
				die("memory", ENOMEM);
			if (prev)
				prev = keys + at;
		}
		if (bpf_map_get_next_key(fd, prev, keys + *n * ksize))
			break;
		prev = keys + *n * ksize;
		(*n)++;
	}
	return keys;
}

static void check_frags(void)
{
	struct ag_frag_key *keys;
	struct ag_frag_val v;
	const struct ref_frag_val *m;
	const void *mk;
	size_t n, i;

	keys = map_keys(st.frags_fd, sizeof(*keys), &n);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(st.frags_fd, &keys[i], &v))
			continue;
		m = ref_table_get(&model.frags, &keys[i]);
		if (!m)
			table_mismatch("first fragment remembered by the program only", &keys[i],
				       sizeof(keys[i]));
		else if (m->vec != v.vec || !m->drop != !v.drop)
			table_mismatch("first fragment remembered with another verdict", &keys[i],
				       sizeof(keys[i]));
	}
	for (i = 0; i < model.frags.cap; i++) {
		mk = ref_table_key_at(&model.frags, i);
		if (mk && bpf_map_lookup_elem(st.frags_fd, mk, &v))
			table_mismatch("first fragment remembered by the reference only", mk,
				       sizeof(*keys));
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(st.frags_fd, &keys[i]);
	free(keys);
}

static void check_track(void)
{
	struct ag_track_key *keys;
	struct ag_track_val v;
	const struct ref_track_val *m;
	const void *mk;
	size_t n, i;
	__u64 now = TRACK_CLOCK;

	keys = map_keys(st.track_fd, sizeof(*keys), &n);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(st.track_fd, &keys[i], &v))
			continue;
		m = ref_table_get(&model.track, &keys[i]);
		if (!m)
			table_mismatch("request recorded by the program only", &keys[i],
				       sizeof(keys[i]));
		else if (m->expired != (now - v.last_request > track_units(HOUR_S)))
			table_mismatch("tracked request of another age", &keys[i], sizeof(keys[i]));
	}
	for (i = 0; i < model.track.cap; i++) {
		mk = ref_table_key_at(&model.track, i);
		if (mk && bpf_map_lookup_elem(st.track_fd, mk, &v))
			table_mismatch("request recorded by the reference only", mk, sizeof(*keys));
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(st.track_fd, &keys[i]);
	free(keys);
}

static void check_counters(void)
{
	static struct ag_counter now[AG_NR_STATS];
	unsigned int idx;
	int bad = 0;

	read_all(now);
	for (idx = 0; idx < AG_NR_STATS; idx++) {
		if (now[idx].packets == expected[idx].packets &&
		    now[idx].bytes == expected[idx].bytes)
			continue;
		if (!bad++) {
			n_disagree++;
			n_counter++;
		}
		if (reporting())
			printf("DISAGREEMENT %llu: counter slot %u %s holds %llu pkts %llu bytes, "
			       "expected %llu %llu\n",
			       n_disagree, idx / AG_REASON__MAX,
			       ref_reason_name(idx % AG_REASON__MAX),
			       (unsigned long long)now[idx].packets,
			       (unsigned long long)now[idx].bytes,
			       (unsigned long long)expected[idx].packets,
			       (unsigned long long)expected[idx].bytes);
	}
	memcpy(expected, now, sizeof(expected));
}

static void end_batch(void)
{
	check_counters();
	table_bad = 0;
	check_frags();
	table_bad = 0;
	check_track();
	ref_state_clear(&model);
	nr_firsts = nr_requests = 0;
	batch_dirty = 0;
}

/* ---- main ---- */

static unsigned long long parse_count(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1000000, end++;
	if (*end || end == s) {
		fprintf(stderr,
			"fuzz_datapath: '%s' is not a frame count (e.g. 200000, 200k, 10M)\n", s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: fuzz_datapath [-x] [-t SECONDS] [-r REPORTS] FRAMES [SEED]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bpf_map *track_ports;
	unsigned long long frames, seed, next_progress;
	double t0, tb, limit = 0, el;
	int opt;
	unsigned int r, i, j, batch_len, config_at;
	struct frm f;

	while ((opt = getopt(argc, argv, "xt:r:h")) != -1) {
		switch (opt) {
		case 'x':
			exact = 1;
			break;
		case 't':
			limit = atof(optarg);
			break;
		case 'r':
			max_reports = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || argc - optind > 2)
		usage();
	frames = parse_count(argv[optind]);
	seed = optind + 1 < argc ? strtoull(argv[optind + 1], NULL, 0) :
				   (unsigned long long)time(NULL) ^ ((__u64)getpid() << 32);
	rng = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fuzz_datapath: %llu frames, seed %llu%s%s\n", frames, seed,
	       exact ? ", every counter checked per frame" : "",
	       limit > 0 ? ", time limit set" : "");

	xdp = fixture_xdp(&st);
	tc = fixture_tc(&st);
	xdp->bss->jiffies_override = TRACK_CLOCK;
	tc->bss->jiffies_override = TRACK_CLOCK;
	xdp_fd = bpf_program__fd(xdp->progs.ampguard_xdp);
	tc_fd = bpf_program__fd(tc->progs.ampguard_tc_egress);
	stats_fd = bpf_map__fd(xdp->maps.stats);
	ifinfo_fd = bpf_map__fd(xdp->maps.ifinfo);
	track_ports = bpf_object__find_map_by_name(xdp->obj, "track_ports");
	if (track_ports)
		track_ports_fd = bpf_map__fd(track_ports);
	ncpu = libbpf_num_possible_cpus();
	percpu = calloc(ncpu > 0 ? ncpu : 1, sizeof(*percpu));
	if (ncpu <= 0 || !percpu || ref_state_init(&model, 4 * BATCH_MAX))
		die("setting up", ENOMEM);
	pools_init();
	ag_policy_read(st.config_fd, st.policy_fd, cur_tbl);
	read_all(expected);

	t0 = mono();
	next_progress = 0;
	while (n_frames < frames) {
		el = mono() - t0;
		if (limit > 0 && el >= limit) {
			printf("time limit reached after %.0f s\n", el);
			break;
		}
		if (n_frames >= next_progress) {
			printf("progress: %llu frames, %llu disagreements, %.0f frames/s\n",
			       n_frames, n_disagree, el > 0 ? n_frames / el : 0.0);
			next_progress += frames / 10 > 100000 ? 100000 : frames / 10 + 1;
		}

		random_config(n_batches && chance(30));
		n_batches++;
		batch_len = BATCH_MIN + below(BATCH_MAX - BATCH_MIN);
		config_at = chance(30) ? below(batch_len) : batch_len;
		tb = mono();
		for (i = 0; i < batch_len && n_frames < frames && !batch_dirty; i++) {
			if (i == config_at)
				random_config(chance(70));
			if ((i & 31) == 0 && mono() - tb > BATCH_SECONDS)
				break;
			r = below(1000);
			if (r < 80) {
				gen_request(&f);
				run_tc(&f);
				continue;
			}
			if (r < 90) {
				inject_entry();
				continue;
			}
			if (r < 220)
				gen_reply(&f);
			else if (r < 340)
				gen_first(&f);
			else if (r < 460)
				gen_later(&f);
			else if (r < 510)
				gen_random(&f);
			else
				gen_generic(&f);
			run_xdp(&f);
		}
		end_batch();
	}
	el = mono() - t0;

	printf("reference verdicts:");
	for (i = 0, j = 0; i < AG_REASON__MAX; i++)
		if (cover[i])
			printf("%s %s %llu", j++ ? "," : "", ref_reason_name(i), cover[i]);
	printf("\n");
	if (n_verdict) {
		printf("disagreements by reason (reference -> program):");
		for (i = 0; i < AG_REASON__MAX; i++)
			for (j = 0; j < AG_REASON__MAX; j++)
				if (pairs[i][j])
					printf(" %s->%s %llu;", ref_reason_name(i),
					       ref_reason_name(j), pairs[i][j]);
		printf("\n");
	}
	printf("%llu batches, %llu configurations, %llu requests (%llu recorded, %llu refused by "
	       "the test runner), %llu entries written directly, %.1f s, %.0f frames/s, seed %llu\n",
	       n_batches, n_commits, n_requests, n_recorded, n_refused, n_injected, el,
	       el > 0 ? n_frames / el : 0, seed);
	if (n_disagree)
		printf("disagreements: %llu verdict, %llu counter, %llu table, %llu recorder\n",
		       n_verdict, n_counter, n_table, n_harness);
	printf("%llu frames, %llu disagreements\n", n_frames, n_disagree);

	ampguard_tc__destroy(tc);
	ampguard_xdp__destroy(xdp);
	ref_state_free(&model);
	free(percpu);
	printf("%d passed, %d failed\n", n_disagree ? 0 : 1, n_disagree ? 1 : 0);
	return n_disagree ? 1 : 0;
}
