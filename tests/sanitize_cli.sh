#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The ASan/UBSan build of ampguard through its verbs, on a veth pair of its
# own: any sanitizer report (leaks included) fails the verb's check.
set -u
cd "$(dirname "$0")/.." || exit 1
AG=build/asan/ampguard
export AMPGUARD_ROOT=/sys/fs/bpf/ampguard-sanitize-$$
export ASAN_OPTIONS=detect_leaks=1:exitcode=97
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
NS=agsan-$$
passed=0
failed=0

cleanup()
{
	nsenter --net=/run/netns/$NS "$AG" detach san0 >/dev/null 2>&1
	rm -rf "$AMPGUARD_ROOT"
	ip netns del $NS 2>/dev/null
}
trap cleanup EXIT

# run EXPECT ARGS...: EXPECT is ok (exit 0) or fail (a clean non-zero exit).
run()
{
	local expect=$1 rc out

	shift
	out=$(nsenter --net=/run/netns/$NS "$AG" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 97 ] || [ $rc -eq 98 ] || [ $rc -ge 128 ] || grep -q 'Sanitizer' <<<"$out" ||
		{ [ "$expect" = ok ] && [ $rc -ne 0 ]; } || { [ "$expect" = fail ] && [ $rc -eq 0 ]; }; then
		failed=$((failed + 1))
		echo "not ok - ampguard $* (exit $rc)"
		printf '%s\n' "$out" | head -20
	else
		passed=$((passed + 1))
		echo "ok - ampguard $*"
	fi
}

# shellcheck disable=SC2015 # a chain of steps: any failure ends the suite
ip netns add $NS && ip -n $NS link add san0 type veth peer name san1 &&
	ip -n $NS link set san0 up && ip -n $NS link set san1 up || {
	echo "0 passed, 1 failed"
	exit 1
}
printf 'vectors:\n  dns: {action: ratelimit, pps: 1k, per-source-pps: 10}\nserved-ports: [123]\nallow: [192.0.2.0/24]\n' \
	>/tmp/agsan-$$.yaml
run ok --help
run ok vectors --json
run fail status
run ok attach san0
run ok attach san0
run ok status --json
run ok stats --json
run ok set dns monitor
run ok set 5000 ratelimit --pps 100 --per-source-pps 10
run ok unset 5000
run fail set bogus drop
run fail set dns ratelimit --pps 5X
run ok serve 123
run ok allow 192.0.2.0/24 2001:db8::/48
run fail allow 192.0.2.1/24
run ok deny --json
run ok fragments san0 --orphans drop
run ok apply /tmp/agsan-$$.yaml
run ok config show
run ok top --interval 1 --json
run ok exporter --once
run ok capture --duration 1s -w /dev/null
run ok capture --duration 1s --verdict all --vector dns,ntp -w /dev/null udp port 53
run ok capture --duration 1s --format pcap -w /dev/null
run fail capture -w /dev/null --reason bogus
run fail capture -w /dev/null not a filter
run fail upstream
run fail upstream announce dns 192.0.2.2
run fail exporter --listen nonsense
run ok detach san0
run fail detach san0
rm -f /tmp/agsan-$$.yaml
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
