// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening and loading the datapath for the running kernel: the classifier
 * build the kernel accepts (with BPF atomics, or with locked buckets
 * before 5.12), its load-time constants (the kernel's HZ), and one line
 * that says what went wrong when a load fails: the verifier's own last
 * line when it rejected a program, the privilege hint when the kernel
 * refused us before verifying anything.
 *
 * The two classifier builds come from one source and differ only in code,
 * so their skeletons have the same maps, programs and global data; the
 * locked one is opened through the atomic one's skeleton with its ELF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "kernel.h"
#include "ampguard_xdp.skel.h"
#include "ampguard_xdp_locked.skel.h"
#include "ampguard_tc.skel.h"

_Static_assert(sizeof(struct ampguard_xdp) == sizeof(struct ampguard_xdp_locked),
	       "the classifier builds must have the same skeleton");
_Static_assert(sizeof(*((struct ampguard_xdp *)0)->bss) ==
		       sizeof(*((struct ampguard_xdp_locked *)0)->bss),
	       "the classifier builds must have the same global data");
_Static_assert(sizeof(*((struct ampguard_xdp *)0)->rodata) ==
		       sizeof(*((struct ampguard_xdp_locked *)0)->rodata),
	       "the classifier builds must have the same load-time constants");

/* Big enough for the path to a rejection on every kernel tested. */
#define VERIFIER_LOG_SIZE (16u << 20)

struct ampguard_xdp *ag_xdp_open(const struct ag_kernel *k)
{
	struct ampguard_xdp *skel = calloc(1, sizeof(*skel));
	size_t size;
	int err;

	if (!skel)
		return NULL;
	err = ampguard_xdp__create_skeleton(skel);
	if (!err && !k->atomics) {
		skel->skeleton->data = ampguard_xdp_locked__elf_bytes(&size);
		skel->skeleton->data_sz = size;
	}
	if (!err)
		err = bpf_object__open_skeleton(skel->skeleton, NULL);
	if (err) {
		ampguard_xdp__destroy(skel);
		errno = -err;
		return NULL;
	}
	skel->rodata->kern_hz = k->hz;
	return skel;
}

struct ampguard_tc *ag_tc_open(const struct ag_kernel *k)
{
	struct ampguard_tc *skel = ampguard_tc__open();

	if (skel)
		skel->rodata->kern_hz = k->hz;
	return skel;
}

/*
 * The verifier's final word: the log's last line but for the statistics
 * it closes with ("processed N insns ..."), without its newline.
 */
static void last_line(const char *log, char *buf, size_t len)
{
	const char *end = log + strlen(log), *start;

	for (;;) {
		while (end > log && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		start = end;
		while (start > log && start[-1] != '\n')
			start--;
		if (start == log || strncmp(start, "processed ", 10))
			break;
		end = start;
	}
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

/* The program whose load failed: the first one to be loaded that has no fd. */
static const struct bpf_program *failed_prog(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
		if (bpf_program__autoload(prog) && bpf_program__fd(prog) < 0)
			return prog;
	return NULL;
}

static int load_failed(struct bpf_object *obj, const char *log, int err, const struct ag_kernel *k)
{
	const struct bpf_program *prog = failed_prog(obj);
	char line[256];

	if (!log || !*log || !prog)
		return ag_bpf_err(err, "loading the BPF programs");
	if (getenv("AMPGUARD_DEBUG"))
		fprintf(stderr, "%s\n", log);
	last_line(log, line, sizeof(line));
	ag_err("the verifier of Linux %s rejected program %s%s: %s (AMPGUARD_DEBUG=1 prints the whole log)",
	       k->release, bpf_program__name(prog), err == -ENOSPC ? " (log truncated)" : "", line);
	return err < 0 ? err : -err;
}

int ag_skel_load(struct bpf_object *obj, int (*load)(void *skel), void *skel,
		 const struct ag_kernel *k)
{
	struct bpf_program *prog;
	char *log = calloc(1, VERIFIER_LOG_SIZE);
	int err;

	if (log)
		bpf_object__for_each_program(prog, obj)
			bpf_program__set_log_buf(prog, log, VERIFIER_LOG_SIZE);
	err = load(skel);
	if (err)
		err = load_failed(obj, log, err, k);
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_log_buf(prog, NULL, 0);
	free(log);
	return err;
}

static int xdp_load(void *skel)
{
	return ampguard_xdp__load(skel);
}

static int tc_load(void *skel)
{
	return ampguard_tc__load(skel);
}

int ag_xdp_load(struct ampguard_xdp *skel, const struct ag_kernel *k)
{
	return ag_skel_load(skel->obj, xdp_load, skel, k);
}

int ag_tc_load(struct ampguard_tc *skel, const struct ag_kernel *k)
{
	return ag_skel_load(skel->obj, tc_load, skel, k);
}
