#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A real NIC driver: runs inside a VM (tests/kernels/run.sh boots it), where
# ampguard attaches natively to the guest's virtio_net NIC and a flood sent
# by the host into the NIC's tap, from outside the guest, is counted
# exactly per vector and reason and delivered or not as the policy says.
# Then, with an MTU the driver's native XDP does not take, auto mode falls
# back to generic, names the driver's reason, and counts just as exactly.
#
# Handshake with the host through $AG_VM_SHARE, one round R at a time: the
# guest writes flows.R ("SPORT DPORT COUNT" lines) and then ready.R ("MAC
# ADDRESS" of the NIC); the host sends each flow, then the end markers,
# from 192.0.2.1 through the tap and writes sent.R (udpgen's lines).
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

N=200
GUEST_ADDR=192.0.2.2
ROUND=0
ROUND_TIMEOUT=120 # seconds for the host to send a round

# vm_traffic: one round: every vector's flow and a non-vector one, each N
# datagrams, then the markers; RECV as after 'traffic'.
vm_traffic()
{
	local mac waited=0

	ROUND=$((ROUND + 1))
	sink_start 4 9053 9123 9702 9283 9400
	printf '%s\n' "53 9053 $N" "123 9123 $N" "3702 9702 $N" "3283 9283 $N" "40000 9400 $N" \
		>"$AG_VM_SHARE/flows.$ROUND"
	mac=$(ip -n "$NS_P" -j link show dev "$IF_P" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')
	echo "$mac $GUEST_ADDR" >"$AG_VM_SHARE/ready.$ROUND.tmp"
	mv "$AG_VM_SHARE/ready.$ROUND.tmp" "$AG_VM_SHARE/ready.$ROUND"
	while [ ! -e "$AG_VM_SHARE/sent.$ROUND" ] && [ "$waited" -lt $((ROUND_TIMEOUT * 5)) ]; do
		sleep 0.2
		waited=$((waited + 1))
	done
	SINK_ERR=""
	[ -e "$AG_VM_SHARE/sent.$ROUND" ] || SINK_ERR="the host sent nothing in ${ROUND_TIMEOUT} s; "
	grep -qv '^sent ' "$AG_VM_SHARE/sent.$ROUND" 2>/dev/null &&
		SINK_ERR+="host: $(paste -sd' ' "$AG_VM_SHARE/sent.$ROUND"); "
	sink_collect || return 1
	[ "$MODEL_ON" -eq 1 ] && expect other 0 no_vector "$MARKER_N" 4
}

# round_asserts MODE: what a round must show with IF_P protected in MODE.
# Exact counters also prove that nothing was lost before XDP (virtio_net
# counts XDP drops as rx_dropped, so that counter cannot tell).
round_asserts()
{
	MODEL_ON=1
	vm_traffic || return
	expect dns 53 policy_drop "$N" 4
	expect ntp 123 policy_drop "$N" 4
	expect ws-discovery 3702 policy_drop "$N" 4
	expect arms 3283 policy_drop "$N" 4
	expect other 0 no_vector "$N" 4
	assert_eq "$1: 0 of $N from each of udp/53, 123, 3702, 3283 reach their socket" "0 0 0 0" \
		"${RECV[9053]:-0} ${RECV[9123]:-0} ${RECV[9702]:-0} ${RECV[9283]:-0}"
	assert_eq "$1: all $N from udp/40000 arrive" "$N" "${RECV[9400]:-}"
	snapshot
	assert_model "$1: every UDP counter of $IF_P, per vector and reason, is exact"
	MODEL_ON=0
	EXP_PKTS=()
	EXP_BYTES=()
}

setup_nic()
{
	if [ -z "${AG_VM_NIC:-}" ] || [ ! -d "${AG_VM_SHARE:-}" ]; then
		bail "run inside the kernel matrix's VM (tests/kernels/run.sh): no AG_VM_NIC or AG_VM_SHARE"
	fi
	[ "$(readlink "/sys/class/net/$AG_VM_NIC/device/driver" | xargs basename)" = virtio_net ] ||
		bail "$AG_VM_NIC is not driven by virtio_net"
	new_ns NS_P prot || return 1
	IF_P=$AG_VM_NIC
	ip link set "$IF_P" netns "$NS_P" &&
		nsctl "$NS_P" net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$IF_P.rp_filter=0" &&
		ip -n "$NS_P" link set "$IF_P" up &&
		ip -n "$NS_P" addr add $GUEST_ADDR/24 dev "$IF_P" &&
		ip -n "$NS_P" neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev "$IF_P" nud permanent
}

test_native()
{
	agrun "$NS_P" attach "$IF_P" --mode native
	assert_success "attach $IF_P --mode native on virtio_net" "^$IF_P: protected \\(native mode\\)"
	assert_match "the driver runs the program natively" "^drv [0-9]+ ampguard_xdp$" \
		"$(xdp_prog "$NS_P" "$IF_P")"
	round_asserts "native on virtio_net"
	agrun "$NS_P" detach "$IF_P"
	assert_success "detach" "^$IF_P: detached"
}

test_auto_fallback()
{
	ip -n "$NS_P" link set "$IF_P" mtu 9000 || not_ok "MTU 9000 on $IF_P" "ip link refused it"
	agrun "$NS_P" attach "$IF_P"
	assert_match "auto mode, MTU 9000: one warning with virtio_net's reason" \
		"^ampguard: warning: native XDP unavailable on $IF_P \\(.+: .*MTU.*\\): using generic mode" \
		"$AG_ERR"
	assert_match "... and protection in generic mode" "^$IF_P: protected \\(generic mode\\)" "$AG_OUT"
	assert_match "the kernel runs the program in generic mode" "^skb [0-9]+ ampguard_xdp$" \
		"$(xdp_prog "$NS_P" "$IF_P")"
	round_asserts "generic fallback on virtio_net"
	agrun "$NS_P" detach "$IF_P"
	assert_success "detach" "^$IF_P: detached"
	ip -n "$NS_P" link set "$IF_P" mtu 1500
}

suite_setup()
{
	require
	setup_nic || bail "cannot move $AG_VM_NIC into a namespace"
	RATE=1000
}

E2E_TESTS=(test_native test_auto_fallback)
e2e_run "$@"
