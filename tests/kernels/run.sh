#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The kernel matrix (make test-kernels): boots each Debian kernel under qemu
# (scripts/vm/run.sh) on this host's root and this tree, and runs there the
# suites that show the datapath works on that kernel: the BPF unit suites,
# differential fuzzing, the kernel suite, the reference scenario with real
# dnsmasq and chronyd through the NAT gateway, rate-limit accuracy, config
# apply atomicity under a flood, and a flood into the guest's virtio_net NIC
# from the host through a tap (tests/kernels/virtio.sh; this script sends
# it). Prints one row per kernel and suite, then the closing
# "N passed, N failed" line; exits non-zero when anything failed.
#
#   tests/kernels/run.sh [KERNEL...]     (default: $AG_KERNELS or 5.10 6.1 6.12)
#   AG_VM_SUITES='tests/kernels/virtio.sh' tests/kernels/run.sh 6.1
#
# Invariants: every namespace, share directory and sender it starts is gone
# when it exits, pass, fail or interrupt; a kernel whose VM dies or times
# out counts as one failure, and the next kernel still runs.
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$(pwd -P)
UDPGEN=$TOP/build/tests/udpgen
VM_TIMEOUT=${AG_VM_TIMEOUT:-1500}
HOST_ADDR=192.0.2.1
TAP=agtap0
SEND_RATE=1000 # pps of the host's flows into the guest: what TCG takes without loss

# What runs in every guest: the datapath's unit suites (the accuracy test's
# high rate scaled to what an emulated CPU can offer), 20000 frames of
# differential fuzzing, the kernel suite and the virtio_net flood.
SUITES=(build/tests/test_xdp build/tests/test_track "AG_RL_HIGH_PPS=10000 build/tests/test_ratelimit"
	build/tests/test_lists_frags build/tests/test_load
	"FUZZ_DATAPATH_FRAMES=20000 tests/fuzz/datapath.sh"
	tests/e2e/test_kernel.sh tests/kernels/virtio.sh)
# The long end-to-end suites, at rates an emulated machine carries without
# loss. Under TCG each takes 5 to 10 minutes, so by default each runs on one
# kernel (AG_KERNEL_MATRIX=full: on every kernel): the scenario and
# upstream mitigation on the oldest (locked buckets, oldest verifier),
# rate-limit accuracy on 6.1, config atomicity and the daemon on 6.12.
SCENARIO="AG_SCENARIO_RATE=100 AG_SCENARIO_FRAG_RATE=10 AG_SCENARIO_LEGIT_ROUNDS=2"
SCENARIO+=" tests/e2e/test_scenario.sh"
DAEMON="AG_DAEMON_FLOOD_PPS=500 AG_DAEMON_TRIGGER_PPS=200 AG_DAEMON_SOLICITED_PPS=1000"
DAEMON+=" AG_DAEMON_IDLE_CONNS=500 tests/e2e/test_daemon.sh"
RATELIMIT="AG_RL_RATES=1000,10000 AG_RL_RATES_1CPU=1000 AG_RL_LIVE_OLD=1000 AG_RL_FLOOD_MAX=40 AG_RL_SENDER_MAX=60"
RATELIMIT+=" AG_RL_CAPACITY_N=20000"
RATELIMIT+=" tests/e2e/test_ratelimit.sh"
ATOMICITY="AG_CONFIG_SECTIONS=atomicity AG_ATOMIC_FLOOD_N=9000 AG_ATOMIC_MIN_APPLIES=10"
# (9000 frames at 250 pps: 36 s, under the senders' 60 s limit even at the 194 pps eight
# senders managed on a loaded emulated machine)
ATOMICITY+=" tests/e2e/test_config.sh"
# Upstream mitigation against a real BIRD, the part that rests on the
# kernel: a flood found by the per-destination sample and
# announced; the rest of the suite is ExaBGP and the CLI. 500 pps of
# 242-byte frames is ~1 Mbit/s, over half of a 1M link. Every check polls
# through Python and the CLI, seconds each under emulation: a longer flood
# and hold, so the attack outlasts the checks made during it.
UPSTREAM="AG_UP_FLOOD_PPS=500 AG_UP_FLOOD_SECONDS=30 AG_UP_LINK_BPS=1M AG_UP_HOLD_S=15"
UPSTREAM+=" AG_UP_SHOW_S=30 AG_UP_SESSION_S=120 AG_UP_ANNOUNCE_S=15"
UPSTREAM+=" AG_UP_TESTS=test_flood_ipv4 tests/e2e/test_upstream.sh"
declare -A LONG=([5.10]="$SCENARIO|$UPSTREAM" [6.1]=$RATELIMIT [6.12]="$ATOMICITY|$DAEMON")

# suites_for KERNEL: SUITES plus the long ones that kernel runs, in KSUITES;
# ACCEL: one TCG thread for all virtual CPUs (programs start faster), or one
# per CPU where the rate-limit suite needs two CPUs sending at once.
suites_for()
{
	KSUITES=("${SUITES[@]}")
	if [ "${AG_KERNEL_MATRIX:-}" = full ]; then
		KSUITES+=("$SCENARIO" "$RATELIMIT" "$ATOMICITY" "$DAEMON" "$UPSTREAM")
	elif [ -n "${LONG[$1]:-}" ]; then
		IFS='|' read -r -a long <<<"${LONG[$1]}"
		KSUITES+=("${long[@]}")
	fi
	ACCEL=tcg
	case " ${KSUITES[*]} " in *" $RATELIMIT "*) ACCEL=tcg-multi ;; esac
}

# AG_VM_SUITES="SUITE|SUITE..." runs those instead (one suite while working on it).
[ -n "${AG_VM_SUITES:-}" ] && IFS='|' read -r -a SUITES <<<"$AG_VM_SUITES" && LONG=()
read -r -a KERNELS <<<"${AG_KERNELS:-5.10 6.1 6.12}"
[ $# -gt 0 ] && KERNELS=("$@")

NS=""
SHARE=""
SENDER=""
LOG=""

cleanup()
{
	[ -n "$SENDER" ] && kill "$SENDER" 2>/dev/null && wait "$SENDER" 2>/dev/null
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "$SHARE" ] && rm -rf "$SHARE"
	[ -n "$LOG" ] && rm -f "$LOG"
	SENDER="" NS="" SHARE="" LOG=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# send_rounds: the host's side of tests/kernels/virtio.sh, for as long as
# the VM runs: each round the guest announces is sent, then the markers.
send_rounds()
{
	local r=1 mac addr sport dport n

	while :; do
		if [ -e "$SHARE/ready.$r" ] && [ -e "$SHARE/flows.$r" ]; then
			read -r mac addr <"$SHARE/ready.$r"
			ip -n "$NS" addr replace $HOST_ADDR/24 dev $TAP &&
				ip -n "$NS" neigh replace "$addr" lladdr "$mac" dev $TAP nud permanent
			: >"$SHARE/sent.$r.tmp"
			while read -r sport dport n; do
				ip netns exec "$NS" "$UDPGEN" -s $HOST_ADDR -d "$addr" --sport "$sport" \
					--dport "$dport" -n "$n" --size 32 --rate $SEND_RATE \
					>>"$SHARE/sent.$r.tmp" 2>&1
			done < <(cat "$SHARE/flows.$r" - <<<"40999 9999 5")
			mv "$SHARE/sent.$r.tmp" "$SHARE/sent.$r"
			r=$((r + 1))
		fi
		sleep 0.2
	done
}

# suite_rows KERNEL: "KERNEL SUITE PASSED FAILED" per suite of a guest's log.
suite_rows()
{
	awk -v k="$1" '
		function flush() { if (suite != "" && row != "") print k, suite, row; row = "" }
		/^=== / { flush(); suite = substr($0, 5); gsub(/ /, "+", suite) }
		/^[0-9]+ passed, [0-9]+ failed/ { row = $1 " " $3 }
		/^suite .* exited .* counted as one failure/ { row = "0 1" }
		END { flush() }' "$LOG" | grep -v "^$1 all-suites "
}

# run_kernel KERNEL: one VM; appends its rows to ROWS.
run_kernel()
{
	local k=$1 rc rows

	NS=ag-k-$$-${k//./-}
	SHARE=$(mktemp -d /tmp/ag-kernel.XXXXXX)
	LOG=$(mktemp /tmp/ag-kernel-log.XXXXXX)
	if ! ip netns add "$NS" ||
	   ! ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv6.conf.all.disable_ipv6=1; then
		ROWS+="$k vm-setup 0 1"$'\n'
		cleanup
		return
	fi
	send_rounds &
	SENDER=$!
	suites_for "$k"
	echo "=== kernel $k"
	scripts/vm/run.sh --kernel "$k" --accel "$ACCEL" --netns "$NS" --tap $TAP --share "$SHARE" \
		--timeout "$VM_TIMEOUT" -- bash tests/run.sh "${KSUITES[@]}" 2>&1 | tee "$LOG"
	rc=${PIPESTATUS[0]}
	rows=$(suite_rows "$k")
	ROWS+=$rows${rows:+$'\n'}
	if [ "$rc" -ne 0 ] && ! grep -q ' [1-9][0-9]*$' <<<"$rows"; then
		# The VM died, timed out, or a suite failed without saying so.
		ROWS+="$k vm-exit-$rc 0 1"$'\n'
	fi
	cleanup
}

[ "$(id -u)" -eq 0 ] || { echo "run as root"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$UDPGEN" ] || { echo "$UDPGEN is missing: run 'make test' first"; echo "0 passed, 1 failed"; exit 1; }

ROWS=""
for k in "${KERNELS[@]}"; do
	run_kernel "$k"
done

echo
printf '%-8s %-52s %7s %7s\n' KERNEL SUITE PASSED FAILED
passed=0
failed=0
while read -r k suite p f; do
	[ -n "$k" ] || continue
	suite=${suite//+/ }
	printf '%-8s %-52s %7s %7s\n' "$k" "$suite" "$p" "$f"
	passed=$((passed + p))
	failed=$((failed + f))
done <<<"$ROWS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
