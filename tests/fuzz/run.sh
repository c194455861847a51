#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A bounded run of the configuration fuzzer (ASan + UBSan), as a test suite:
# passes when libFuzzer finds nothing in FUZZ_SECONDS (default 20).
set -u
cd "$(dirname "$0")/../.." || exit 1
seconds=${FUZZ_SECONDS:-20}
corpus=$(mktemp -d /tmp/ag-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT

if build/fuzz/fuzz_config -max_total_time="$seconds" -print_final_stats=1 \
	-dict=tests/fuzz/config.dict "$corpus" tests/fuzz/seeds 2>"$corpus.log"; then
	grep -E '^stat::number_of_executed_units' "$corpus.log" || true
	echo "ok - config fuzzer: no crash in ${seconds}s"
	echo "1 passed, 0 failed"
else
	tail -n 40 "$corpus.log"
	echo "not ok - config fuzzer found a crash (input saved as crash-* in $(pwd))"
	echo "0 passed, 1 failed"
	rm -f "$corpus.log"
	exit 1
fi
rm -f "$corpus.log"
