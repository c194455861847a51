// SPDX-License-Identifier: GPL-2.0-only
/*
 * Solicited-response tracking, driven through both programs with
 * BPF_PROG_TEST_RUN: a request through the TC egress recorder, then its
 * reply (or a forgery of it) through the XDP classifier.
 *
 * Invariants: both programs share one set of maps, as attach loads them;
 * every test starts from clear_state() (no tracked entries, no served
 * ports, the default policy), so none relies on another's entries.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_tc.skel.h"
#include "frames.h"
#include "fixture.h"

static struct ampguard_xdp *xdp;
static struct ampguard_tc *tc;
static struct ag_state st;

#define DNS_SLOT 1
#define NTP_SLOT 2

static __u64 counter(unsigned int slot, unsigned int reason)
{
	struct ag_counter c[AG_NR_STATS];

	CHECK(ag_stats_read(bpf_map__fd(xdp->maps.stats), c) == 0, "stats");
	return c[AG_STATS_IDX(slot, reason)].packets;
}

/* Sends a request out through the recorder. */
static void request(struct frame_spec s)
{
	struct frame f;
	struct fixture_run r = { .data = f.data };

	s.outgoing = 1;
	r.len = frame_build(&s, &f);
	ASSERT_OK(fixture_run(bpf_program__fd(tc->progs.ampguard_tc_egress), &r), "test run");
	CHECK(r.retval == TC_ACT_OK, "the recorder must never drop");
}

/* Runs a reply through the classifier; checks verdict and reason counter. */
static void reply(struct frame_spec s, int verdict, unsigned int slot, unsigned int reason,
		  const char *what)
{
	__u64 before = counter(slot, reason);
	struct frame f;
	struct fixture_run r = { .data = f.data };

	s.outgoing = 0;
	r.len = frame_build(&s, &f);
	ASSERT_OK(fixture_run(bpf_program__fd(xdp->progs.ampguard_xdp), &r), "test run");
	ASSERT_EQ(r.retval, verdict, what);
	CHECK(counter(slot, reason) == before + 1, "%s: not counted as %s", what,
	      ag_reason_name(reason));
}

static unsigned long entries(void)
{
	unsigned long n;

	CHECK(ag_track_count(st.track_fd, &n) == 0, "counting entries");
	return n;
}

static void clear_state(void)
{
	struct ag_policy tbl[AG_MAX_VECTORS];
	struct ag_track_key key;
	struct ag_served none = { 0 };

	while (!bpf_map_get_next_key(st.track_fd, NULL, &key))
		bpf_map_delete_elem(st.track_fd, &key);
	CHECK(ag_commit(&st, &(struct ag_change){ .served = &none }) == 0, "served reset");
	ag_policy_defaults(tbl);
	CHECK(ag_policy_commit(&st, tbl) == 0, "policy reset");
}

static void set_timeout(unsigned int slot, __u32 ms, int action)
{
	struct ag_policy tbl[AG_MAX_VECTORS];

	CHECK(ag_policy_read(st.config_fd, st.policy_fd, tbl) == 0, "read policy");
	tbl[slot].track_timeout_ms = ms;
	tbl[slot].action = action;
	CHECK(ag_policy_commit(&st, tbl) == 0, "commit");
}

/* Milliseconds on the programs' tracking clock (jiffies). */
static __u64 track_units_ms(__u64 ms)
{
	return ms * (xdp->rodata->kern_hz) / 1000;
}

/* The one entry in the table (tests record one request at a time). */
static int only_entry(struct ag_track_key *key, struct ag_track_val *val)
{
	if (bpf_map_get_next_key(st.track_fd, NULL, key))
		return -ENOENT;
	return bpf_map_lookup_elem(st.track_fd, key, val) ? -errno : 0;
}

static const struct frame_spec dns = { .sport = 53, .dport = 40000, .payload = 40 };

static void test_reply_to_request_passes(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 };

	clear_state();
	reply(dns, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "reply before any request");
	/* A request goes out from local 40000 to remote 53; its reply comes back mirrored. */
	q.outgoing = 1;
	request(q);
	CHECK(entries() == 1, "%lu entries after one request", entries());
	reply(dns, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "reply to the request");
	reply(dns, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "second reply within the timeout");
}

static void test_forged_replies_drop(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 }, r;

	clear_state();
	request(q);
	r = dns;
	r.dport = 40001;
	reply(r, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "reply to another local port");
	r = dns;
	r.saddr_last = 9;
	reply(r, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "reply from another server");
	r = dns;
	r.sport = 123;
	reply(r, XDP_DROP, NTP_SLOT, AG_R_POLICY_DROP, "same server, other port (ntp)");
	r = dns;
	r.ipv6 = 1;
	reply(r, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "same ports over ipv6");
}

static void test_expired_entry_drops(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 };
	struct ag_track_key key;
	struct ag_track_val val;

	clear_state();
	request(q);
	CHECK(only_entry(&key, &val) == 0, "entry recorded");
	/* Age the entry past the 5 s DNS timeout by more than a clock tick. */
	val.last_request -= track_units_ms(5100);
	bpf_map_update_elem(st.track_fd, &key, &val, BPF_EXIST);
	reply(dns, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "reply after expiry");

	/* A longer timeout, set live, revives it: expiry is judged at lookup. */
	set_timeout(DNS_SLOT, 10000, AG_ACT_DROP);
	reply(dns, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "same entry under a 10 s timeout");
	set_timeout(DNS_SLOT, 0, AG_ACT_DROP);
	reply(dns, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "tracking off for the vector");
}

static void test_refresh_only_when_needed(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 };
	struct ag_track_key key;
	struct ag_track_val val, now;
	__u64 recent;

	clear_state();
	request(q);
	CHECK(only_entry(&key, &val) == 0, "entry recorded");
	/* Within the first eighth of the timeout: no write. */
	recent = val.last_request - track_units_ms(100); /* 100 ms ago, of 5 s */
	val.last_request = recent;
	bpf_map_update_elem(st.track_fd, &key, &val, BPF_EXIST);
	request(q);
	only_entry(&key, &now);
	CHECK(now.last_request == recent, "entry rewritten within the refresh interval");
	/* Later than timeout/8 (625 ms): refreshed. */
	val.last_request = recent - track_units_ms(600);
	bpf_map_update_elem(st.track_fd, &key, &val, BPF_EXIST);
	request(q);
	only_entry(&key, &now);
	CHECK(now.last_request > val.last_request, "entry not refreshed");
	CHECK(entries() == 1, "%lu entries", entries());
}

static void test_only_vector_requests_recorded(void)
{
	struct frame_spec web = { .sport = 40000, .dport = 8080, .payload = 30 };
	struct frame_spec tcp = { .l4 = 6, .sport = 40000, .dport = 53 };
	struct frame_spec frag = { .sport = 40000, .dport = 53, .frag = FF_LATER, .payload = 30 };

	clear_state();
	request(web);
	request(tcp);
	request(frag);
	CHECK(entries() == 0, "%lu entries for non-vector requests", entries());
	set_timeout(DNS_SLOT, 0, AG_ACT_DROP);
	request((struct frame_spec){ .sport = 40000, .dport = 53, .payload = 30 });
	CHECK(entries() == 0, "recorded with tracking off");
}

static void test_ipv6_and_vlan(void)
{
	struct frame_spec q = {
		.ipv6 = 1, .ext_hdrs = 1, .sport = 40000, .dport = 53, .payload = 30
	};
	struct frame_spec r = dns;

	clear_state();
	request(q);
	r.ipv6 = 1;
	reply(r, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "ipv6 reply");
	r.ipv6 = 0;
	reply(r, XDP_DROP, DNS_SLOT, AG_R_POLICY_DROP, "ipv4 reply to an ipv6 request");

	q = (struct frame_spec){ .vlan_tags = 1, .sport = 40001, .dport = 53, .payload = 30 };
	request(q);
	r = dns;
	r.dport = 40001;
	reply(r, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "reply to a tagged request, untagged");
}

static void test_served_ports(void)
{
	struct frame_spec peer = { .sport = 123, .dport = 123, .payload = 48 };
	struct ag_served s = { 0 };

	clear_state();
	reply(peer, XDP_DROP, NTP_SLOT, AG_R_POLICY_DROP, "ntp to 123, not served");
	s.bits[123 / 32] |= 1U << (123 % 32);
	CHECK(ag_commit(&st, &(struct ag_change){ .served = &s }) == 0, "served commit");
	reply(peer, XDP_PASS, NTP_SLOT, AG_R_SERVED, "ntp to 123, served");
	peer.dport = 40000;
	reply(peer, XDP_DROP, NTP_SLOT, AG_R_POLICY_DROP, "ntp to another port");
}

static void test_pass_and_monitor_actions(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 };

	clear_state();
	request(q);
	set_timeout(DNS_SLOT, 5000, AG_ACT_MONITOR);
	reply(dns, XDP_PASS, DNS_SLOT, AG_R_SOLICITED, "solicited under monitor");
	reply((struct frame_spec){ .sport = 53, .dport = 40002, .payload = 40 }, XDP_PASS, DNS_SLOT,
	      AG_R_MONITOR, "unsolicited under monitor");
	set_timeout(DNS_SLOT, 5000, AG_ACT_PASS);
	reply(dns, XDP_PASS, DNS_SLOT, AG_R_POLICY_PASS, "pass skips the lookup");
}

/* The kernel's jiffies, from /proc/timer_list; 0 when it cannot be read. */
static __u64 kernel_jiffies(void)
{
	unsigned long long j = 0;
	char line[256];
	FILE *f = fopen("/proc/timer_list", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "jiffies: %llu", &j) == 1)
			break;
	if (f)
		fclose(f);
	return j;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The kernel's jiffies from /proc/timer_list, at the middle of the
 * quickest of ten reads: a busy machine can preempt one read for tens of
 * milliseconds, and over a second that is several percent of the rate.
 */
static int jiffies_at(__u64 *j, double *t)
{
	double before, after, best = 1e9;
	__u64 read;
	int tries;

	for (tries = 0; tries < 10; tries++) {
		before = mono_now();
		read = kernel_jiffies();
		after = mono_now();
		if (!read)
			return -ENOENT;
		if (after - before < best) {
			best = after - before;
			*j = read;
			*t = (before + after) / 2;
		}
	}
	return 0;
}

/* CONFIG_HZ from the kernel's config where it can be read; 0 otherwise. */
static unsigned int config_hz(void)
{
	char path[128], line[256];
	unsigned int hz = 0;
	struct utsname u;
	gzFile f = NULL;

	if (!uname(&u) && snprintf(path, sizeof(path), "/boot/config-%s", u.release) > 0)
		f = gzopen(path, "r");
	if (!f)
		f = gzopen("/proc/config.gz", "r");
	while (f && gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) == 1)
			break;
	if (f)
		gzclose(f);
	return hz;
}

/*
 * The HZ measured at load (no kernel config needed) is the kernel's: the
 * config's where there is one, and in any case the nearest to what
 * /proc/timer_list's jiffies do over a second. 250 and 300, the closest
 * values Linux configures, are 20% apart; a second's reading is off by the
 * lateness of two ticks, which on a busy host can be milliseconds.
 */
static void test_hz_measured(void)
{
	__u32 hz = xdp->rodata->kern_hz, want = config_hz();
	__u64 j0, j1;
	double t0, t1, seen;

	CHECK(hz != 0, "no HZ set at load");
	if (want)
		CHECK(hz == want, "measured HZ %u, kernel config says %u", hz, want);
	CHECK(jiffies_at(&j0, &t0) == 0, "cannot read jiffies from /proc/timer_list");
	usleep(1000000);
	CHECK(jiffies_at(&j1, &t1) == 0, "cannot read jiffies from /proc/timer_list");
	seen = (j1 - j0) / (t1 - t0);
	CHECK(seen > hz * 0.92 && seen < hz * 1.08, "measured HZ %u, jiffies advance at %.1f/s", hz,
	      seen);
}

/* The tracking clock is jiffies: an inlined load, no helper call. */
static void test_clock_is_jiffies(void)
{
	struct frame_spec q = { .sport = 40000, .dport = 53, .payload = 30 };
	struct ag_track_key key;
	struct ag_track_val val;
	__u64 before, after;

	clear_state();
	before = kernel_jiffies();
	request(q);
	after = kernel_jiffies();
	CHECK(before != 0, "cannot read jiffies from /proc/timer_list");
	CHECK(only_entry(&key, &val) == 0, "entry recorded");
	CHECK(val.last_request >= before && val.last_request <= after,
	      "request recorded at %llu, jiffies went %llu..%llu",
	      (unsigned long long)val.last_request, (unsigned long long)before,
	      (unsigned long long)after);
}

int main(void)
{
	xdp = fixture_xdp(&st);
	tc = fixture_tc(&st);

	RUN(test_reply_to_request_passes);
	RUN(test_forged_replies_drop);
	RUN(test_clock_is_jiffies);
	RUN(test_hz_measured);
	RUN(test_expired_entry_drops);
	RUN(test_refresh_only_when_needed);
	RUN(test_only_vector_requests_recorded);
	RUN(test_ipv6_and_vlan);
	RUN(test_served_ports);
	RUN(test_pass_and_monitor_actions);

	ampguard_tc__destroy(tc);
	ampguard_xdp__destroy(xdp);
	return fixture_done();
}
