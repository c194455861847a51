#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Checks the VM harness (scripts/vm/run.sh) on each kernel it boots:
#   - CMD's exit status and exact output come back, nothing else on stdout;
#     AG_* variables pass through; the guest has the checkout read-write at
#     its path, bpffs, a writable /tmp and a read-only root;
#   - a clone under /tmp runs its own harness and sees itself there;
#   - with --netns/--tap, traffic from the namespace reaches the guest's
#     virtio_net NIC, and once native XDP (build/bench/xdp_floor.bpf.o, which drops
#     everything) is attached in the guest it no longer answers;
#   - --timeout stops a guest that runs too long, with status 124.
#
#   scripts/vm/selftest.sh [5.10 6.1 6.12 ...]    (default: all three)
#
# Invariants: addresses only from 192.0.2.0/24, inside its own network
# namespace; the namespace, the clone and the temporary directory are removed
# on exit; prints one "ok"/"not ok" line per check and exits non-zero if any
# failed.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
RUN=$TOP/scripts/vm/run.sh
NS=agvm-selftest-$$
TAP=agvmtap$$
tmp=$(mktemp -d /tmp/ag-vm-selftest.XXXXXX)
failed=0

cleanup()
{
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# check NAME CMD...: runs CMD, reports it.
check()
{
	local name=$1

	shift
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

# wait_file PATH: up to 120 s for PATH to appear.
wait_file()
{
	local _

	for _ in $(seq 1200); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

basics()
{
	local k=$1 out rc

	# shellcheck disable=SC2016 # expanded in the guest
	out=$(AG_SELFTEST='a b$c' "$RUN" --kernel "$k" --quiet -- bash -c '
		echo "first line"
		printf "%s\n" "$AG_SELFTEST"
		[ -n "$AG_VM_KVER" ] && [ "$(uname -r)" = "$AG_VM_KVER" ] && echo kver
		[ "$(pwd -P)" = "$1" ] && echo cwd
		mountpoint -q /sys/fs/bpf && echo bpffs
		touch /tmp/x && echo tmp
		touch /usr/ag-vm-selftest 2>/dev/null || echo root-ro
		f=$(mktemp "$1/.vm-selftest.XXXXXX") && rm -f "$f" && echo checkout-rw
		exit 7' ag "$TOP" 2>"$tmp/err")
	rc=$?
	check "$k: CMD's exit status (7, got $rc)" test $rc -eq 7
	check "$k: CMD's output exactly, variables passed, guest mounts ($(echo "$out" | tr '\n' ' '))" \
		test "$out" = $'first line\na b$c\nkver\ncwd\nbpffs\ntmp\nroot-ro\ncheckout-rw'
	check "$k: nothing on stderr with --quiet ($(head -c 300 "$tmp/err"))" test ! -s "$tmp/err"
}

clone_under_tmp()
{
	local k=$1 out

	rm -rf "$tmp/clone"
	git clone -q "$TOP" "$tmp/clone" || {
		check "$k: git clone into $tmp" false
		return
	}
	out=$("$tmp/clone/scripts/vm/run.sh" --kernel "$k" --quiet -- \
		bash -c 'pwd -P; test -f scripts/vm/run.sh && echo found' 2>&1)
	check "$k: a clone under /tmp sees itself in the guest ($(echo "$out" | tr '\n' ' '))" \
		test "$out" = "$tmp/clone"$'\nfound'
}

nic_xdp()
{
	local k=$1 share=$tmp/share-$1 pid rc

	mkdir -p "$share"
	ip netns add "$NS" || {
		check "$k: network namespace $NS" false
		return
	}
	# shellcheck disable=SC2016 # the guest's script is expanded there
	"$RUN" --kernel "$k" --quiet --netns "$NS" --tap "$TAP" --share "$share" -- bash -c '
		s=$AG_VM_SHARE
		ip addr add 192.0.2.2/24 dev "$AG_VM_NIC" || exit 1
		touch "$s/ready"
		for i in $(seq 1200); do [ -e "$s/attach" ] && break; sleep 0.1; done
		ip link set dev "$AG_VM_NIC" xdpdrv obj build/bench/xdp_floor.bpf.o sec xdp || exit 2
		touch "$s/attached"
		for i in $(seq 1200); do [ -e "$s/done" ] && break; sleep 0.1; done
		ip link show dev "$AG_VM_NIC" | grep -q "prog/xdp" || exit 3' \
		>"$tmp/nic.out" 2>&1 &
	pid=$!
	if wait_file "$share/ready"; then
		ip -n "$NS" addr add 192.0.2.1/24 dev "$TAP"
		check "$k: the guest answers through the tap (virtio_net)" \
			bash -c "ip netns exec '$NS' ping -q -c 2 -W 5 192.0.2.2 >/dev/null"
		touch "$share/attach"
		if wait_file "$share/attached"; then
			check "$k: native XDP attached in the guest drops what the tap sends" \
				bash -c "! ip netns exec '$NS' ping -q -c 2 -W 2 192.0.2.2 >/dev/null"
		else
			check "$k: native XDP attach in the guest ($(tail -3 "$tmp/nic.out" | tr '\n' ' '))" false
		fi
	else
		check "$k: the guest with a NIC came up ($(tail -3 "$tmp/nic.out" | tr '\n' ' '))" false
	fi
	touch "$share/done"
	wait "$pid"
	rc=$?
	check "$k: the NIC run ended cleanly (status $rc)" test $rc -eq 0
	ip netns del "$NS"
}

timeout_stops()
{
	local k=$1 rc start

	start=$(date +%s)
	"$RUN" --kernel "$k" --quiet --timeout 30 -- sleep 300 >/dev/null 2>"$tmp/err"
	rc=$?
	check "$k: --timeout 30 stops the guest with 124 (got $rc after $(($(date +%s) - start)) s: $(cat "$tmp/err"))" \
		test $rc -eq 124
}

[ "$(id -u)" -eq 0 ] || {
	echo "selftest: run as root" >&2
	exit 1
}
[ -f "$TOP/build/bench/xdp_floor.bpf.o" ] || {
	echo "selftest: build/bench/xdp_floor.bpf.o is missing: make build/bench/xdp_floor.bpf.o" >&2
	exit 1
}
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12)
for k in "${kernels[@]}"; do
	basics "$k"
	clone_under_tmp "$k"
	nic_xdp "$k"
	timeout_stops "$k"
done
echo "$failed failed"
[ $failed -eq 0 ]
