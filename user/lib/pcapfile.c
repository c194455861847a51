// SPDX-License-Identifier: GPL-2.0-only
/*
 * What libpcap does for capture: compiling and matching tcpdump filter
 * expressions, and writing classic pcap. Apart from the rest of the
 * library because libpcap's <pcap/bpf.h> and the kernel's <linux/bpf.h>
 * both define struct bpf_insn: this file includes no project header, and
 * its functions (declared in base.h) take plain C types only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>

struct ag_pcap_filter {
	struct bpf_program prog;
};

struct ag_pcap_out {
	pcap_t *dead;
	pcap_dumper_t *dump;
	FILE *f;
};

/* NULL with the compiler's message in why when the expression is bad. */
struct ag_pcap_filter *ag_pcap_filter_new(const char *expr, unsigned int snaplen, char *why,
					  size_t len)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, snaplen);
	struct ag_pcap_filter *f = calloc(1, sizeof(*f));

	if (!p || !f) {
		snprintf(why, len, "out of memory");
	} else if (pcap_compile(p, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN)) {
		snprintf(why, len, "%s", pcap_geterr(p));
	} else {
		pcap_close(p);
		return f;
	}
	if (p)
		pcap_close(p);
	free(f);
	return NULL;
}

bool ag_pcap_filter_match(const struct ag_pcap_filter *f, const void *data, unsigned int caplen,
			  unsigned int len)
{
	struct pcap_pkthdr hdr = { .caplen = caplen, .len = len };

	return pcap_offline_filter(&f->prog, &hdr, data) != 0;
}

void ag_pcap_filter_free(struct ag_pcap_filter *f)
{
	if (!f)
		return;
	pcap_freecode(&f->prog);
	free(f);
}

/* Classic pcap with nanosecond timestamps on f (not closed by ag_pcap_out_close). */
struct ag_pcap_out *ag_pcap_out_open(FILE *f, unsigned int snaplen)
{
	struct ag_pcap_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->f = f;
	o->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snaplen,
						       PCAP_TSTAMP_PRECISION_NANO);
	o->dump = o->dead ? pcap_dump_fopen(o->dead, f) : NULL;
	if (!o->dump) {
		if (o->dead)
			pcap_close(o->dead);
		free(o);
		return NULL;
	}
	return o;
}

int ag_pcap_out_write(struct ag_pcap_out *o, unsigned long long ts_ns, const void *data,
		      unsigned int caplen, unsigned int len)
{
	struct pcap_pkthdr hdr = { .caplen = caplen, .len = len };

	hdr.ts.tv_sec = ts_ns / 1000000000ULL;
	/* At nanosecond precision libpcap keeps nanoseconds in tv_usec. */
	hdr.ts.tv_usec = ts_ns % 1000000000ULL;
	pcap_dump((unsigned char *)o->dump, &hdr, data);
	return ferror(o->f) ? -EIO : 0;
}

int ag_pcap_out_flush(struct ag_pcap_out *o)
{
	return pcap_dump_flush(o->dump) ? -EIO : 0;
}

void ag_pcap_out_close(struct ag_pcap_out *o)
{
	if (!o)
		return;
	/* The dumper is the caller's stream itself: pcap_dump_close would fclose it. */
	pcap_dump_flush(o->dump);
	pcap_close(o->dead);
	free(o);
}
