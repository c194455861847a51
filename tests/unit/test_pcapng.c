// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pcapng writer, read back by Wireshark's own tools: every field the
 * writer puts in a file is checked exactly as tshark, capinfos and tcpdump
 * read it, and every block's size against the format's padding rules.
 * Each test writes its own file in one temporary directory. A missing tool
 * fails the tests that need it (its output is then empty), never skips them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ampguard.h"
#include "fixture.h"
#include "frames.h"

#define APP "ampguard test"
#define VERDICT "ampguard verdict=drop reason=policy_drop vector=dns port=53 iface=eth0 sample=1/1"

static char dir[] = "/tmp/ampguard-pcapng-XXXXXX";

/* The path of a test's file in the temporary directory. */
static const char *path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* Runs a shell command; its stdout in out, its exit status (-1: not run). */
static int run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	size_t got = 0, n;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (got + 1 < len && (n = fread(out + got, 1, len - 1 - got, p)) > 0)
		got += n;
	out[got] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* tshark's fields of every packet of a test's file, tab between fields. */
static int fields(char *out, size_t len, const char *name, const char *fields)
{
	return run(out, len, "tshark -r '%s' -T fields -E separator=/t %s 2>/dev/null", path(name),
		   fields);
}

#define OUT_IS(out, want) CHECK(!strcmp(out, want), "got:\n%s\nwanted:\n%s", out, want)

/* A writer on a new file with its Section Header; the FILE in *f. */
static struct ag_pcapng *create(const char *name, FILE **f)
{
	struct ag_pcapng *w;

	*f = fopen(path(name), "wb");
	CHECK(*f, "%s: %s", path(name), strerror(errno));
	if (!*f)
		return NULL;
	w = ag_pcapng_open(*f, APP);
	CHECK(w, "%s", strerror(errno));
	return w;
}

static void finish(struct ag_pcapng *w, FILE *f)
{
	ag_pcapng_close(w);
	if (f)
		fclose(f);
}

/* What the stream has taken so far (blocks are padded, so always 4-aligned). */
static long offset(FILE *f)
{
	return f ? ftell(f) : -1;
}

static const unsigned char zeros[2048];

static void test_tools_present(void)
{
	char out[256];

	ASSERT_EQ(run(out, sizeof(out), "command -v tshark"), 0, "tshark");
	ASSERT_EQ(run(out, sizeof(out), "command -v capinfos"), 0, "capinfos");
	ASSERT_EQ(run(out, sizeof(out), "command -v tcpdump"), 0, "tcpdump");
}

static void test_section_header_and_file_type(void)
{
	char out[1024], want[512];
	struct ag_pcapng *w;
	FILE *f;
	int i;

	w = create("shb.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	/* 28 bytes of header, shb_userappl "ampguard test" (4 + 16), opt_endofopt */
	ASSERT_EQ(offset(f), 28 + 20 + 4, "section header size");
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 65535), 0, "iface");
	for (i = 0; i < 3; i++)
		ASSERT_OK(ag_pcapng_packet(w, 0, 1000000000ULL * (i + 1), zeros, 60, 60, NULL,
					   false, -1, -1),
			  "packet");
	finish(w, f);

	ASSERT_EQ(run(out, sizeof(out), "capinfos -T -r -t -E -c '%s'", path("shb.pcapng")), 0,
		  "capinfos -T");
	snprintf(want, sizeof(want), "%s\tpcapng\tether\t3\n", path("shb.pcapng"));
	OUT_IS(out, want);
	ASSERT_EQ(run(out, sizeof(out), "capinfos -M -F '%s'", path("shb.pcapng")), 0,
		  "capinfos -M -F");
	CHECK(strstr(out, "\nCapture application: " APP "\n"), "got:\n%s", out);
	CHECK(strstr(out, "\nFile timestamp precision:  nanoseconds (9)\n"), "got:\n%s", out);
}

static void test_two_interfaces(void)
{
	char out[4096];
	struct ag_pcapng *w;
	FILE *f;

	w = create("ifaces.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 65535), 0, "first id");
	ASSERT_EQ(ag_pcapng_iface(w, "veth-protect1", 128), 1, "second id");
	ASSERT_OK(ag_pcapng_packet(w, 1, 1, zeros, 60, 60, NULL, false, -1, -1), "packet 1");
	ASSERT_OK(ag_pcapng_packet(w, 0, 2, zeros, 60, 60, NULL, false, -1, -1), "packet 0");
	ASSERT_OK(ag_pcapng_packet(w, 1, 3, zeros, 128, 1514, NULL, false, -1, -1), "at snaplen");
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "ifaces.pcapng",
			 "-e frame.interface_id -e frame.interface_name -e frame.cap_len"),
		  0, "tshark");
	OUT_IS(out, "1\tveth-protect1\t60\n0\teth0\t60\n1\tveth-protect1\t128\n");
	ASSERT_EQ(run(out, sizeof(out), "capinfos -M -I '%s'", path("ifaces.pcapng")), 0,
		  "capinfos -M -I");
	CHECK(strstr(out, "Number of interfaces in file: 2\n"), "got:\n%s", out);
	CHECK(strstr(out, "Interface #0 info:\n                     Name = eth0\n"
			  "                     Encapsulation = Ethernet (1 - ether)\n"
			  "                     Capture length = 65535\n"
			  "                     Time precision = nanoseconds (9)\n"),
	      "got:\n%s", out);
	CHECK(strstr(out, "Interface #1 info:\n                     Name = veth-protect1\n"
			  "                     Encapsulation = Ethernet (1 - ether)\n"
			  "                     Capture length = 128\n"
			  "                     Time precision = nanoseconds (9)\n"),
	      "got:\n%s", out);
}

static void test_nanosecond_timestamps(void)
{
	static const unsigned long long ts[] = {
		1567393445123456789ULL, /* the draft's example second, to the nanosecond */
		1ULL,
		4294967295ULL,          /* the low 32 bits full */
		4294967296ULL,          /* the first carry into the high word */
		1567393446000000000ULL, /* a whole second */
		4102444799999999999ULL, /* 2099-12-31 23:59:59.999999999 */
	};
	char out[1024];
	struct ag_pcapng *w;
	unsigned int i;
	FILE *f;

	w = create("ts.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		ASSERT_OK(ag_pcapng_packet(w, 0, ts[i], zeros, 60, 60, NULL, false, -1, -1),
			  "packet");
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "ts.pcapng", "-e frame.time_epoch"), 0, "tshark");
	OUT_IS(out, "1567393445.123456789\n"
		    "0.000000001\n"
		    "4.294967295\n"
		    "4.294967296\n"
		    "1567393446.000000000\n"
		    "4102444799.999999999\n");
}

static void test_truncated_and_padded_data(void)
{
	static const unsigned int caplen[] = { 0, 1, 2, 3, 4, 5, 13, 60, 61, 62, 63, 64 };
	char out[1024], want[1024];
	size_t used = 0;
	struct ag_pcapng *w;
	unsigned int i;
	long before;
	FILE *f;

	w = create("trunc.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 64), 0, "iface");
	want[0] = '\0';
	for (i = 0; i < sizeof(caplen) / sizeof(caplen[0]); i++) {
		before = offset(f);
		ASSERT_OK(ag_pcapng_packet(w, 0, i + 1, zeros, caplen[i], 1500 + i, NULL, false, -1,
					   -1),
			  "packet");
		/* 28 fixed bytes, the data padded to 32 bits, the trailing length */
		ASSERT_EQ(offset(f) - before, 32 + ((caplen[i] + 3) & ~3U), "block size");
		used += snprintf(want + used, sizeof(want) - used, "%u\t%u\n", 1500 + i, caplen[i]);
	}
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "trunc.pcapng", "-e frame.len -e frame.cap_len"), 0,
		  "tshark");
	OUT_IS(out, want);
}

static void test_comments_every_padding(void)
{
	static const char *const comment[] = { "", "a", "ab", "abc", "abcd", "abcde", VERDICT };
	char out[2048], want[2048];
	size_t used = 0, n;
	struct ag_pcapng *w;
	unsigned int i;
	long before;
	FILE *f;

	w = create("comments.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
	for (i = 0; i < sizeof(comment) / sizeof(comment[0]); i++) {
		n = strlen(comment[i]);
		before = offset(f);
		ASSERT_OK(ag_pcapng_packet(w, 0, i + 1, zeros, 61, 61, comment[i], false, -1, -1),
			  "packet");
		/* 32 + 64 of data, opt_comment padded, opt_endofopt */
		ASSERT_EQ(offset(f) - before, 32 + 64 + 4 + ((n + 3) & ~3UL) + 4, "block size");
		used += snprintf(want + used, sizeof(want) - used, "%s\t61\n", comment[i]);
	}
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "comments.pcapng", "-e frame.comment -e frame.len"), 0,
		  "tshark");
	OUT_IS(out, want);
	/* The empty comment is there, not absent: exactly 7 frames carry one. */
	ASSERT_EQ(run(out, sizeof(out), "tshark -r '%s' -Y frame.comment 2>/dev/null | wc -l",
		      path("comments.pcapng")),
		  0, "tshark -Y");
	OUT_IS(out, "7\n");
}

static void test_packet_without_options(void)
{
	char out[1024];
	struct ag_pcapng *w;
	long before;
	FILE *f;

	w = create("noopt.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
	before = offset(f);
	ASSERT_OK(ag_pcapng_packet(w, 0, 1567393445123456789ULL, zeros, 42, 42, NULL, false, -1,
				   -1),
		  "packet");
	/* no option, so no opt_endofopt either */
	ASSERT_EQ(offset(f) - before, 32 + 44, "block size");
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "noopt.pcapng",
			 "-e frame.time_epoch -e frame.len -e frame.comment "
			 "-e frame.packet_flags_direction -e frame.interface_queue "
			 "-e frame.drop_count"),
		  0, "tshark");
	OUT_IS(out, "1567393445.123456789\t42\t\t\t\t\n");
}

static void test_flags_queue_and_dropcount(void)
{
	char out[1024];
	struct ag_pcapng *w;
	long before;
	FILE *f;

	w = create("epbopts.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
	before = offset(f);
	ASSERT_OK(ag_pcapng_packet(w, 0, 1, zeros, 60, 60, VERDICT, true, 3, 7), "all options");
	/* 32 + 60, comment (4 + 84), flags (8), queue (8), dropcount (12), opt_endofopt */
	ASSERT_EQ(offset(f) - before, 32 + 60 + 88 + 8 + 8 + 12 + 4, "block size");
	ASSERT_OK(ag_pcapng_packet(w, 0, 2, zeros, 60, 60, NULL, true, -1, -1), "inbound only");
	ASSERT_OK(ag_pcapng_packet(w, 0, 3, zeros, 60, 60, NULL, false, 0, -1), "queue 0 only");
	ASSERT_OK(ag_pcapng_packet(w, 0, 4, zeros, 60, 60, NULL, false, -1, 0), "dropcount 0");
	ASSERT_OK(ag_pcapng_packet(w, 0, 5, zeros, 60, 60, NULL, false, 65535, 1LL << 40),
		  "wide values");
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "epbopts.pcapng",
			 "-e frame.comment -e frame.packet_flags_direction "
			 "-e frame.interface_queue -e frame.drop_count"),
		  0, "tshark");
	OUT_IS(out, VERDICT "\t0x00000001\t3\t7\n"
			    "\t0x00000001\t\t\n"
			    "\t\t0\t\n"
			    "\t\t\t0\n"
			    "\t\t65535\t1099511627776\n");
}

static void test_errors_write_nothing(void)
{
	char out[1024];
	struct ag_pcapng *w;
	long before;
	FILE *f;

	w = create("errors.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	before = offset(f);
	ASSERT_EQ(ag_pcapng_packet(w, 0, 1, zeros, 60, 60, NULL, false, -1, -1), -ENODEV,
		  "no interface yet");
	ASSERT_EQ(offset(f), before, "nothing written");
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 64), 0, "iface 0");
	ASSERT_EQ(ag_pcapng_iface(w, "eth1", 1500), 1, "iface 1");
	before = offset(f);
	ASSERT_EQ(ag_pcapng_packet(w, 2, 1, zeros, 60, 60, NULL, false, -1, -1), -ENODEV,
		  "unknown id");
	ASSERT_EQ(ag_pcapng_packet(w, 0, 1, zeros, 65, 1500, VERDICT, true, 1, 1), -EMSGSIZE,
		  "caplen past the snaplen");
	ASSERT_EQ(ag_pcapng_flush(w), 0, "flush");
	ASSERT_EQ(offset(f), before, "nothing written");
	ASSERT_OK(ag_pcapng_packet(w, 1, 2, zeros, 65, 1500, NULL, false, -1, -1),
		  "the other interface's snaplen");
	finish(w, f);

	ASSERT_EQ(fields(out, sizeof(out), "errors.pcapng",
			 "-e frame.interface_id -e frame.cap_len"),
		  0, "tshark");
	OUT_IS(out, "1\t65\n");
}

static void test_write_failure(void)
{
	struct ag_pcapng *w;
	FILE *f;

	f = fopen("/dev/full", "w");
	CHECK(f, "/dev/full: %s", strerror(errno));
	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	errno = 0;
	w = ag_pcapng_open(f, APP);
	CHECK(!w, "the section header went to /dev/full");
	ASSERT_EQ(errno, ENOSPC, "errno");
	ag_pcapng_close(w);
	fclose(f);

	f = fopen("/dev/full", "w");
	CHECK(f, "/dev/full: %s", strerror(errno));
	if (!f)
		return;
	w = ag_pcapng_open(f, APP); /* buffered: the failure shows at the flush */
	CHECK(w, "%s", strerror(errno));
	if (w) {
		ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
		ASSERT_EQ(ag_pcapng_flush(w), -ENOSPC, "flush");
	}
	ag_pcapng_close(w);
	fclose(f);
}

static void test_flush_gives_whole_blocks(void)
{
	char out[256];
	struct ag_pcapng *w;
	FILE *f;

	w = create("flush.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 0), 0, "iface");
	ASSERT_OK(ag_pcapng_packet(w, 0, 1, zeros, 61, 61, "a", true, 1, 0), "packet 1");
	ASSERT_OK(ag_pcapng_packet(w, 0, 2, zeros, 62, 62, NULL, false, -1, -1), "packet 2");
	ASSERT_OK(ag_pcapng_flush(w), "flush");
	/* the file still open: a reader gets both packets and no torn block */
	ASSERT_EQ(fields(out, sizeof(out), "flush.pcapng", "-e frame.len"), 0, "tshark");
	OUT_IS(out, "61\n62\n");
	finish(w, f);
}

static void test_tcpdump_filters_real_frames(void)
{
	struct frame dns, ntp;
	char out[1024];
	struct ag_pcapng *w;
	size_t n_dns, n_ntp;
	FILE *f;

	n_dns = frame_udp4(&dns, 53, 40000);
	n_ntp = frame_udp4(&ntp, 123, 40001);
	w = create("tcpdump.pcapng", &f);
	if (!w) {
		finish(w, f);
		return;
	}
	ASSERT_EQ(ag_pcapng_iface(w, "eth0", 1514), 0, "iface");
	ASSERT_OK(ag_pcapng_packet(w, 0, 1567393445123456789ULL, ntp.data, n_ntp, n_ntp, NULL, true,
				   -1, -1),
		  "ntp");
	ASSERT_OK(ag_pcapng_packet(w, 0, 1567393445223456789ULL, dns.data, n_dns, n_dns, VERDICT,
				   true, 0, 0),
		  "dns");
	finish(w, f);

	ASSERT_EQ(run(out, sizeof(out), "tcpdump -r '%s' -nn 'udp src port 53' 2>/dev/null",
		      path("tcpdump.pcapng")),
		  0, "tcpdump");
	CHECK(strchr(out, '\n') && !strchr(out, '\n')[1], "not one line:\n%s", out);
	CHECK(strstr(out, ".53 > ") && strstr(out, ".40000: "), "got:\n%s", out);
	ASSERT_EQ(run(out, sizeof(out), "tcpdump -r '%s' -nn udp 2>/dev/null | wc -l",
		      path("tcpdump.pcapng")),
		  0, "tcpdump udp");
	OUT_IS(out, "2\n");
	ASSERT_EQ(fields(out, sizeof(out), "tcpdump.pcapng", "-e udp.srcport -e frame.comment"), 0,
		  "tshark");
	OUT_IS(out, "123\t\n53\t" VERDICT "\n");
}

int main(void)
{
	char out[64];

	if (!mkdtemp(dir))
		fixture_fail("creating a temporary directory", errno);
	RUN(test_tools_present);
	RUN(test_section_header_and_file_type);
	RUN(test_two_interfaces);
	RUN(test_nanosecond_timestamps);
	RUN(test_truncated_and_padded_data);
	RUN(test_comments_every_padding);
	RUN(test_packet_without_options);
	RUN(test_flags_queue_and_dropcount);
	RUN(test_errors_write_nothing);
	RUN(test_write_failure);
	RUN(test_flush_gives_whole_blocks);
	RUN(test_tcpdump_filters_real_frames);
	run(out, sizeof(out), "rm -rf '%s'", dir);
	return fixture_done();
}
