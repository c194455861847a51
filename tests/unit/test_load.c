// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loading for the running kernel: what a load failure says. A program the
 * verifier rejects is reported as a rejection, with the kernel, the
 * program and the verifier's last line, never as a privilege problem; the
 * whole log only with AMPGUARD_DEBUG=1. The classifier build loaded is
 * the one the kernel's BPF atomics call for.
 *
 * Invariants: rejected.bpf.c is built only for this test and every
 * verifier rejects it, so its load failing is the expected outcome.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "fixture.h"
#include "rejected.skel.h"

static int load_rejected(void *skel)
{
	return rejected__load(skel);
}

/* What ag_skel_load() writes to stderr while loading the rejected program. */
static int rejected_stderr(char *buf, size_t len)
{
	struct rejected *skel = rejected__open();
	FILE *tmp = tmpfile();
	int saved, err, n;

	if (!skel || !tmp)
		return -errno;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	err = ag_skel_load(skel->obj, load_rejected, skel, fixture_kernel());
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	rejected__destroy(skel);
	return err;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The line the one-line report must carry: the log's last but for statistics. */
static void final_line(const char *log, char *buf, size_t len)
{
	const char *p = log, *next, *best = "";
	size_t best_len = 0;

	for (; *p; p = next) {
		next = strchr(p, '\n');
		next = next ? next + 1 : p + strlen(p);
		if (next - p > 1 && strncmp(p, "processed ", 10)) {
			best = p;
			best_len = next - p - (next[-1] == '\n');
		}
	}
	snprintf(buf, len, "%.*s", (int)best_len, best);
}

static char log_out[1 << 20], line_out[1 << 16];

/* With AMPGUARD_DEBUG=1 the whole log comes first, the report last. */
static void test_debug_prints_the_log(void)
{
	setenv("AMPGUARD_DEBUG", "1", 1);
	CHECK(rejected_stderr(log_out, sizeof(log_out)) < 0, "the rejected program loaded");
	unsetenv("AMPGUARD_DEBUG");
	CHECK(count_lines(log_out) > 3, "%u lines: %s", count_lines(log_out), log_out);
	CHECK(strstr(log_out, "invalid access to map value"), "got: %s", log_out);
}

static void test_rejection_is_one_line(void)
{
	char want[256], verdict[512];
	const char *report;
	int err;

	err = rejected_stderr(line_out, sizeof(line_out));
	CHECK(err < 0, "the rejected program loaded");
	snprintf(want, sizeof(want),
		 "ampguard: the verifier of Linux %s rejected program rejected_xdp: ",
		 fixture_kernel()->release);
	CHECK(!strncmp(line_out, want, strlen(want)), "got: %s", line_out);
	/* The debug run's log ends with the report itself: take the log before it. */
	report = strstr(log_out, "ampguard: the verifier");
	CHECK(report != NULL, "no report after the log: %s", log_out);
	if (report) {
		*(char *)report = '\0';
		final_line(log_out, verdict, sizeof(verdict));
		CHECK(*verdict && strstr(line_out, verdict), "'%s' not in: %s", verdict, line_out);
	}
	CHECK(strstr(line_out, "AMPGUARD_DEBUG=1 prints the whole log"), "got: %s", line_out);
	CHECK(!strstr(line_out, "permission denied"), "taken for a privilege problem: %s",
	      line_out);
	CHECK(count_lines(line_out) == 1, "%u lines: %s", count_lines(line_out), line_out);
}

/* Compare-and-swap instructions in a loaded program. */
static int cmpxchg_count(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n, i;
	struct bpf_insn *insns;
	int count = 0;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	n = info.xlated_prog_len / sizeof(*insns);
	insns = calloc(n, sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = n * sizeof(*insns);
	info.xlated_prog_insns = (__u64)(unsigned long)insns;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len)) {
		free(insns);
		return -errno;
	}
	for (i = 0; i < n; i++)
		count += insns[i].code == (BPF_STX | BPF_DW | BPF_ATOMIC) &&
			 insns[i].imm == BPF_CMPXCHG;
	free(insns);
	return count;
}

/* Atomic kernels run compare-and-swap buckets; the others the locked build. */
static void test_build_matches_kernel(void)
{
	const struct ag_kernel *k = fixture_kernel();
	struct ag_state st;
	struct ampguard_xdp *xdp = fixture_xdp(&st);
	int n = cmpxchg_count(bpf_program__fd(xdp->progs.ampguard_xdp));

	printf("# Linux %s, HZ %u, %s buckets\n", k->release, k->hz,
	       k->atomics ? "compare-and-swap" : "locked");
	CHECK(n >= 0, "reading the program: %s", strerror(-n));
	if (k->atomics)
		CHECK(n > 0, "no compare-and-swap in the program loaded for an atomic kernel");
	else
		CHECK(n == 0, "%d compare-and-swap instructions in the locked build", n);
	ampguard_xdp__destroy(xdp);
}

int main(void)
{
	libbpf_set_print(NULL);
	RUN(test_debug_prints_the_log);
	RUN(test_rejection_is_one_line);
	RUN(test_build_matches_kernel);
	return fixture_done();
}
