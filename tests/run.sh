#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every suite and sums their "N passed, N failed" lines into one.
# Exits non-zero when any test fails or a suite dies without its summary.
#
#   tests/run.sh                       every suite
#   tests/run.sh SUITE...              those suites; an entry may start with
#                                      VAR=VALUE words (see below)
#   tests/run.sh SUITE TEST...         those tests of one end-to-end suite,
#                                      and the tests they need (tests/e2e/lib.sh)
#
# An end-to-end suite may be named by its path or by its bare name
# (test_cli for tests/e2e/test_cli.sh). A word without a slash or an '='
# that names no suite is a test of the suite before it.
set -u
cd "$(dirname "$0")/.." || exit 1

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# An entry may start with VAR=VALUE words: the suite runs with them set.
# AMPGUARD_PROBE_FAIL=atomics runs the build for kernels without BPF atomics.
# First the gates: layering, formatting and shellcheck.
suites=(scripts/check-layers.sh scripts/lint.sh build/tests/test_options build/tests/test_upstream
	build/tests/test_pcapng
	build/tests/test_xdp build/tests/test_track build/tests/test_ratelimit
	build/tests/test_lists_frags build/tests/test_refclass build/tests/test_load
	"AMPGUARD_PROBE_FAIL=atomics build/tests/test_ratelimit"
	"AMPGUARD_PROBE_FAIL=atomics build/tests/test_lists_frags"
	"AMPGUARD_PROBE_FAIL=atomics build/tests/test_load"
	tests/fuzz/datapath.sh
	tests/fuzz/run.sh
	build/asan/test_xdp build/asan/test_track build/asan/test_ratelimit
	build/asan/test_lists_frags tests/sanitize_cli.sh)
for s in tests/e2e/test_*.sh; do
	suites+=("$s")
done

# e2e_suite WORD: the end-to-end suite a bare name stands for, or WORD.
e2e_suite()
{
	if [[ "$1" != */* ]] && [ -f "tests/e2e/$1.sh" ]; then
		echo "tests/e2e/$1.sh"
	elif [[ "$1" != */* ]] && [[ "$1" == *.sh ]] && [ -f "tests/e2e/$1" ]; then
		echo "tests/e2e/$1"
	else
		echo "$1"
	fi
}

tests=()
if [ $# -gt 0 ]; then
	suites=()
	for a in "$@"; do
		read -r -a words <<<"$a"
		words[-1]=$(e2e_suite "${words[-1]}")
		if [ "${#words[@]}" -eq 1 ] && [[ "$a" != */* ]] && [[ "$a" != *=* ]] &&
		   [ ! -e "${words[0]}" ] && [ "${#suites[@]}" -eq 1 ]; then
			tests+=("$a")
		else
			suites+=("${words[*]}")
		fi
	done
	if [ "${#tests[@]}" -gt 0 ] && [[ "${suites[0]}" != *.sh ]]; then
		echo "tests/run.sh: ${suites[0]} is no end-to-end suite: it takes no test names" >&2
		exit 2
	fi
fi

total_pass=0
total_fail=0
for s in "${suites[@]}"; do
	echo "=== $s"
	started=$SECONDS
	log=$(mktemp)
	read -r -a words <<<"$s"
	suite=${words[-1]}
	unset 'words[-1]'
	if [[ "$suite" == *.sh ]]; then
		env "${words[@]}" bash "$suite" "${tests[@]}" 2>&1 | tee "$log"
	else
		env "${words[@]}" "$suite" 2>&1 | tee "$log"
	fi
	rc=${PIPESTATUS[0]}
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	rm -f "$log"
	echo "# $s: $((SECONDS - started)) s"
	if [ -z "$summary" ]; then
		echo "suite $s exited ($rc) without a summary: counted as one failure"
		total_fail=$((total_fail + 1))
		continue
	fi
	p=${summary%% passed*}
	f=${summary#*, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "suite $s exited $rc with no failed test: counted as one failure"
		total_fail=$((total_fail + 1))
	fi
done

echo "=== all-suites"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
