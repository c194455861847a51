// SPDX-License-Identifier: GPL-2.0-only
/*
 * One capture: take the lease, read samples, write them, give the lease
 * back.
 *
 * Invariants:
 * - One capture at a time: the lease is taken under the writer lock and
 *   only when no live process holds an unexpired one; a second capture is
 *   refused, never mixed in.
 * - The lease is renewed every AG_CAPTURE_RENEW_MS for AG_CAPTURE_LEASE_MS,
 *   so the datapath stops copying within the lease of this process dying
 *   however it dies; a clean end turns it off at once.
 * - The configuration's capture flag is set with the lease and cleared
 *   with it, both under the writer lock; renewals leave it alone.
 * - The rate cap's bucket is written once, at the start; renewals rewrite
 *   only the settings, so a renewal never refills the burst.
 * - Timestamps are the datapath's (CLOCK_MONOTONIC), moved to wall-clock
 *   time by the offset between the two clocks at the start.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"

#define PERF_PAGES 64 /* per CPU */
#define POLL_MS 100
#define MAX_IFACES 64

struct run {
	const struct ag_capture_req *r;
	struct ag_capture_summary *sum;
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_pcapng *ng;
	struct ag_pcap_out *pcap;
	struct ag_pcap_filter *filter;
	FILE *out;
	__u64 wall_offset_ns;
	__u64 lost_since; /* lost since the last packet written */
	unsigned int nr_ifs;
	struct {
		__u32 ifindex;
		char name[IF_NAMESIZE];
		int id; /* pcapng interface */
	} ifs[MAX_IFACES];
	bool done;
	int err;
};

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int ag_capture_filter_check(const char *expr, char *why, size_t len)
{
	struct ag_pcap_filter *f = ag_pcap_filter_new(expr, 65535, why, len);

	ag_pcap_filter_free(f);
	return f ? 0 : -EINVAL;
}

static int iface_of(const struct run *x, __u32 ifindex)
{
	unsigned int i;

	for (i = 0; i < x->nr_ifs; i++)
		if (x->ifs[i].ifindex == ifindex)
			return i;
	return -1;
}

static int add_iface(const char *name, void *arg)
{
	struct run *x = arg;
	unsigned int i = x->nr_ifs;

	if (x->r->iface && strcmp(name, x->r->iface))
		return 0;
	if (i == MAX_IFACES)
		return 0;
	x->ifs[i].ifindex = if_nametoindex(name);
	snprintf(x->ifs[i].name, sizeof(x->ifs[i].name), "%s", name);
	x->nr_ifs++;
	return 0;
}

static int writers_flush(struct run *x);

/* One pcapng interface block per interface captured, then the header is out. */
static int writers_ifaces(struct run *x)
{
	unsigned int i;

	for (i = 0; x->ng && i < x->nr_ifs; i++) {
		x->ifs[i].id = ag_pcapng_iface(x->ng, x->ifs[i].name, x->r->snaplen);
		if (x->ifs[i].id < 0)
			return x->ifs[i].id;
	}
	return writers_flush(x);
}

static void write_sample(struct run *x, const struct ag_capture_meta *m, const __u8 *data)
{
	const struct ag_capture_req *r = x->r;
	char comment[256], vec[32];
	__u64 wall = m->ts_ns + x->wall_offset_ns;
	int i = iface_of(x, m->ifindex), err;

	x->sum->sampled++;
	if (x->filter && !ag_pcap_filter_match(x->filter, data, m->caplen, m->len)) {
		x->sum->filtered++;
		return;
	}
	if (x->pcap) {
		err = ag_pcap_out_write(x->pcap, wall, data, m->caplen, m->len);
	} else {
		ag_vector_name(&x->tbl[m->vec % AG_MAX_VECTORS], m->vec, vec, sizeof(vec));
		snprintf(comment, sizeof(comment),
			 "ampguard verdict=%s reason=%s vector=%s port=%u iface=%s sample=1/%u",
			 ag_reason_drops(m->reason) ? "drop" : "pass", ag_reason_name(m->reason),
			 m->vec ? vec : "-", m->vec ? x->tbl[m->vec % AG_MAX_VECTORS].port : 0,
			 i >= 0 ? x->ifs[i].name : "?", r->sample);
		err = ag_pcapng_packet(x->ng, i >= 0 ? x->ifs[i].id : 0, wall, data, m->caplen,
				       m->len, comment, true, (int)m->rx_queue,
				       x->lost_since ? (long long)x->lost_since : -1);
	}
	if (err) {
		x->err = err;
		x->done = true;
		return;
	}
	x->lost_since = 0;
	x->sum->written++;
	if (r->count && x->sum->written >= r->count)
		x->done = true;
}

static void on_sample(void *arg, int cpu, void *raw, __u32 size)
{
	struct run *x = arg;
	struct ag_capture_meta m;

	(void)cpu;
	if (x->done || size < sizeof(m))
		return;
	/* A perf record is only 4-byte aligned: copy the metadata out. */
	memcpy(&m, raw, sizeof(m));
	if (size < sizeof(m) + m.caplen)
		return;
	/* Samples of interfaces this capture does not write (another's, gone). */
	if (iface_of(x, m.ifindex) < 0)
		return;
	write_sample(x, &m, (const __u8 *)raw + sizeof(m));
}

static void on_lost(void *arg, int cpu, __u64 n)
{
	struct run *x = arg;

	(void)cpu;
	x->sum->lost += n;
	x->lost_since += n;
}

/* Takes the lease, or says who holds it. */
static int lease_take(const struct ag_state *st, struct ag_capture *cap, __u64 max_pps)
{
	struct ag_capture now;
	struct ag_capture_bucket b = { 0 };
	__u32 zero = 0;

	if (bpf_map_lookup_elem(st->capture_fd, &zero, &now))
		return -errno;
	if (now.until_ns > clock_ns(CLOCK_MONOTONIC) && now.owner &&
	    (kill(now.owner, 0) == 0 || errno == EPERM)) {
		ag_err("capture: another capture is running (pid %u): one at a time", now.owner);
		return -EBUSY;
	}
	/* A tenth of a second's worth of burst, at least one sample. */
	b.inc_ns = 1000000000ULL / (max_pps ? max_pps : 1);
	b.tol_ns = b.inc_ns * (max_pps / 10 ? max_pps / 10 : 1);
	if (bpf_map_update_elem(st->capture_bucket_fd, &zero, &b, 0))
		return -errno;
	cap->until_ns = clock_ns(CLOCK_MONOTONIC) + AG_CAPTURE_LEASE_MS * 1000000ULL;
	return ag_capture_set(st, cap);
}

static void lease_renew(const struct ag_state *st, struct ag_capture *cap)
{
	__u32 zero = 0;

	cap->until_ns = clock_ns(CLOCK_MONOTONIC) + AG_CAPTURE_LEASE_MS * 1000000ULL;
	bpf_map_update_elem(st->capture_fd, &zero, cap, 0);
}

/*
 * Off at once, unless another capture took over since. The configuration's
 * flag goes off with the lease under the writer lock; interrupted while
 * waiting for it, the lease alone goes off, and frames pay the capture
 * map's lookup until the next capture ends.
 */
static void lease_drop(const struct ag_state *st)
{
	bool locked = flock(st->lock_fd, LOCK_EX) == 0;
	struct ag_capture now;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(st->capture_fd, &zero, &now) && now.owner == (__u32)getpid()) {
		now.until_ns = 0;
		if (locked)
			ag_capture_set(st, &now);
		else
			bpf_map_update_elem(st->capture_fd, &zero, &now, 0);
	}
	if (locked)
		flock(st->lock_fd, LOCK_UN);
}

static int writers_open(struct run *x)
{
	const struct ag_capture_req *r = x->r;
	char why[256];

	if (r->filter) {
		x->filter = ag_pcap_filter_new(r->filter, r->snaplen, why, sizeof(why));
		if (!x->filter) {
			ag_err("capture: bad filter expression: %s", why);
			return -EINVAL;
		}
	}
	if (r->pcap) {
		x->pcap = ag_pcap_out_open(x->out, r->snaplen);
		return x->pcap ? 0 : -EIO;
	}
	x->ng = ag_pcapng_open(x->out, "ampguard " AG_VERSION);
	return x->ng ? 0 : -EIO;
}

static int writers_flush(struct run *x)
{
	if (x->pcap)
		return ag_pcap_out_flush(x->pcap);
	return x->ng ? ag_pcapng_flush(x->ng) : 0;
}

static void writers_close(struct run *x)
{
	ag_pcap_out_close(x->pcap);
	if (x->ng)
		ag_pcapng_close(x->ng);
	ag_pcap_filter_free(x->filter);
}

/* start: when the lease was taken, so --duration bounds what the datapath sampled. */
static int capture_loop(struct run *x, const struct ag_state *st, struct ag_capture *cap,
			double start)
{
	double renewed = start, left;
	struct perf_buffer *pb;
	int n, wait;

	pb = perf_buffer__new(st->capture_events_fd, PERF_PAGES, on_sample, on_lost, x, NULL);
	if (!pb)
		return -errno;
	while (!x->done && !*x->r->stop) {
		wait = POLL_MS;
		if (x->r->duration_ms) {
			left = x->r->duration_ms - (ag_mono_s() - start) * 1000;
			if (left <= 0)
				break;
			if (left < wait)
				wait = (int)left + 1;
		}
		n = perf_buffer__poll(pb, wait);
		if (n < 0 && n != -EINTR) {
			x->err = n;
			break;
		}
		if (n > 0 && writers_flush(x) < 0)
			x->done = true; /* the reader went away */
		if ((ag_mono_s() - renewed) * 1000 >= AG_CAPTURE_RENEW_MS) {
			lease_renew(st, cap);
			ag_policy_read(st->config_fd, st->policy_fd, x->tbl);
			renewed = ag_mono_s();
		}
	}
	lease_drop(st);
	/* What is already in the buffers is part of the capture. */
	if (!x->done)
		perf_buffer__consume(pb);
	perf_buffer__free(pb);
	return x->err;
}

int ag_capture_run(const struct ag_capture_req *r, struct ag_capture_summary *sum)
{
	struct run x = { .r = r, .sum = sum };
	struct ag_capture cap = {
		.vectors = r->vectors,
		.reasons = r->reasons,
		.sample = r->sample ? r->sample : 1,
		.snaplen = r->snaplen,
		.owner = getpid(),
	};
	struct ag_state st;
	double start;
	int err;

	memset(sum, 0, sizeof(*sum));
	x.wall_offset_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	err = ag_state_open(&st, AG_LOCK_WRITE);
	if (err)
		return err;
	err = ag_policy_read(st.config_fd, st.policy_fd, x.tbl) ?:
		      ag_for_each_iface(&st, add_iface, &x);
	if (!err && !x.nr_ifs) {
		ag_err("capture: %s (see 'ampguard status')",
		       r->iface ? "that interface is not protected by ampguard" :
				  "no interface is protected");
		err = -ENOENT;
	}
	if (!err && r->iface)
		cap.ifindex = x.ifs[0].ifindex;
	start = ag_mono_s();
	err = err ?: lease_take(&st, &cap, r->max_pps);
	/* The lease is held: writers may come and go meanwhile. */
	flock(st.lock_fd, LOCK_UN);
	if (!err) {
		x.out = strcmp(r->path, "-") ? fopen(r->path, "w") : stdout;
		if (!x.out) {
			err = -errno;
			ag_err("capture: cannot write %s: %s", r->path, strerror(errno));
		}
	}
	err = err ?: writers_open(&x) ?: writers_ifaces(&x);
	if (!err)
		err = capture_loop(&x, &st, &cap, start);
	else
		lease_drop(&st);
	writers_close(&x);
	if (x.out && x.out != stdout && fclose(x.out) && !err)
		err = -errno;
	ag_state_close(&st);
	return err;
}
