// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the reference classifier used by fuzz_datapath: on
 * any frame it must stay inside the frame's bytes (ASan) and return a
 * verdict consistent with its reason. The first input byte picks parts of
 * the configuration, the rest is the frame, copied to a buffer of exactly
 * its size.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *         -Iinclude -Itests/unit tests/fuzz/fuzz_refclass.c -o build/fuzz/fuzz_refclass
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>

#include "refclass.h"
#include "../unit/refclass.c"

static struct ref_config cfg;
static struct ref_state rs;
static int ready;
static unsigned long calls;

static void setup(void)
{
	static const struct {
		__u16 port;
		__u8 action;
		__u32 ms;
	} v[] = {
		{ 53, AG_ACT_DROP, 5000 },
		{ 123, AG_ACT_MONITOR, 10000 },
		{ 443, AG_ACT_PASS, 60000 },
		{ 1900, AG_ACT_DROP, 0 },
	};
	unsigned int i;

	ref_config_init(&cfg);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cfg.vec[i + 1].port = v[i].port;
		cfg.vec[i + 1].action = v[i].action;
		cfg.vec[i + 1].track_timeout_ms = v[i].ms;
		cfg.vec[i + 1].in_use = 1;
	}
	cfg.deny[0] = (struct ref_cidr){ .family = 4, .prefixlen = 24, .addr = { 203, 0, 113 } };
	cfg.allow[0] = (struct ref_cidr){ .family = 6,
					  .prefixlen = 32,
					  .addr = { 0x20, 0x01, 0x0d, 0xb8 } };
	if (ref_state_init(&rs, 4096))
		abort();
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ref_verdict v;
	struct ag_track_key k;
	__u8 *frame;
	__u8 knobs;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	knobs = data[0];
	cfg.orphan = knobs & 1 ? AG_ORPHAN_DROP : AG_ORPHAN_PASS;
	cfg.nr_deny = knobs >> 1 & 1;
	cfg.nr_allow = knobs >> 2 & 1;
	ref_serve(&cfg, 40000, knobs >> 3 & 1);
	if (++calls % 1000 == 0)
		ref_state_clear(&rs);

	frame = malloc(size - 1 ? size - 1 : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, size - 1);
	if (knobs & 0x80) {
		ref_record_request(&cfg, &rs, frame, size - 1, &k);
	} else {
		ref_classify(&cfg, &rs, frame, size - 1, &v);
		if (v.reason >= AG_REASON__MAX || v.vec >= AG_MAX_VECTORS ||
		    (v.xdp != XDP_PASS && v.xdp != XDP_DROP))
			abort();
		/* Nothing unparsed is dropped unless its source was denied. */
		if ((v.reason == AG_R_TRUNCATED || v.reason == AG_R_MALFORMED ||
		     v.reason == AG_R_PARSE_LIMIT || v.reason == AG_R_NOT_IP) &&
		    (v.xdp != XDP_PASS || v.vec))
			abort();
	}
	free(frame);
	return 0;
}
