#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The differential test of the XDP classifier as a test suite: random
# configurations and frames through the real program and the reference
# model (tests/unit/refclass.c). FUZZ_DATAPATH_FRAMES (default 200000) and
# FUZZ_DATAPATH_SEED (default: random, printed) choose the run; a failure
# prints its seed, so `build/tests/fuzz_datapath FRAMES SEED` replays it.
set -u
cd "$(dirname "$0")/../.." || exit 1
bin=build/tests/fuzz_datapath
if [ ! -x "$bin" ]; then
	echo "not ok - $bin is not built (make $bin)"
	echo "0 passed, 1 failed"
	exit 1
fi
exec "$bin" -r 20 "${FUZZ_DATAPATH_FRAMES:-200000}" ${FUZZ_DATAPATH_SEED:+"$FUZZ_DATAPATH_SEED"}
