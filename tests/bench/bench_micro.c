// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-packet cost of each datapath path, measured with BPF_PROG_TEST_RUN
 * and `repeat`, beside a program that only returns XDP_DROP. Paths and
 * the floor are interleaved within each round so drift hits them alike;
 * the table shows medians and min-max over the rounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ampguard.h"
#include "ampguard_xdp.skel.h"
#include "xdp_floor.skel.h"
#include "frames.h"

#define ROUNDS 15
#define REPEAT 2000000

struct path {
	const char *name;
	struct frame_spec spec;
	int verdict;
	double ns[ROUNDS];
};

static struct path paths[] = {
	{ "floor: return XDP_DROP", { .sport = 53, .dport = 40000, .payload = 18 }, XDP_DROP },
	{ "vector drop (ipv4 dns)", { .sport = 53, .dport = 40000, .payload = 18 }, XDP_DROP },
	{ "non-vector udp pass", { .sport = 40000, .dport = 53, .payload = 18 }, XDP_PASS },
	{ "tcp pass", { .l4 = 6, .sport = 53, .dport = 40000 }, XDP_PASS },
	{ "ipv6 ext-header drop", { .ipv6 = 1, .ext_hdrs = 2, .sport = 53, .dport = 40000 },
	  XDP_DROP },
};

#define NR_PATHS (sizeof(paths) / sizeof(paths[0]))

static int run(int prog_fd, const struct frame *f, int verdict, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .repeat = REPEAT);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	if ((int)opts.retval != verdict) {
		fprintf(stderr, "unexpected verdict %u (want %d)\n", opts.retval, verdict);
		return -EINVAL;
	}
	*ns = opts.duration;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
	struct ampguard_xdp *ag;
	struct xdp_floor *floor;
	struct frame f[NR_PATHS];
	double floor_med;
	unsigned int p;
	int r, err;

	libbpf_set_print(NULL);
	ag = ampguard_xdp__open_and_load();
	floor = xdp_floor__open_and_load();
	if (!ag || !floor) {
		fprintf(stderr, "loading programs: %s\n", strerror(errno));
		return 1;
	}
	err = ag_state_init_maps(bpf_map__fd(ag->maps.config), bpf_map__fd(ag->maps.port_vec),
				 bpf_map__fd(ag->maps.policy));
	if (err) {
		fprintf(stderr, "initialising maps: %s\n", strerror(-err));
		return 1;
	}
	for (p = 0; p < NR_PATHS; p++)
		frame_build(&paths[p].spec, &f[p]);

	for (r = 0; r < ROUNDS; r++) {
		for (p = 0; p < NR_PATHS; p++) {
			int fd = p == 0 ? bpf_program__fd(floor->progs.xdp_drop_all)
					: bpf_program__fd(ag->progs.ampguard_xdp);

			err = run(fd, &f[p], paths[p].verdict, &paths[p].ns[r]);
			if (err) {
				fprintf(stderr, "%s: %s\n", paths[p].name, strerror(-err));
				return 1;
			}
		}
	}

	printf("BPF_PROG_TEST_RUN, %d rounds x %d repeats, medians (min-max)\n\n", ROUNDS,
	       REPEAT);
	printf("| %-26s | %-18s | %-8s |\n", "path", "ns/pkt", "x floor");
	printf("|----------------------------|--------------------|----------|\n");
	floor_med = 0;
	for (p = 0; p < NR_PATHS; p++) {
		double lo, hi, med;
		char cell[32];

		med = median(paths[p].ns, ROUNDS); /* sorts, so min/max follow */
		lo = paths[p].ns[0];
		hi = paths[p].ns[ROUNDS - 1];
		if (p == 0)
			floor_med = med;
		snprintf(cell, sizeof(cell), "%.1f (%.0f-%.0f)", med, lo, hi);
		printf("| %-26s | %-18s | %8.2f |\n", paths[p].name, cell,
		       floor_med > 0 ? med / floor_med : 0);
	}
	ampguard_xdp__destroy(ag);
	xdp_floor__destroy(floor);
	return 0;
}
