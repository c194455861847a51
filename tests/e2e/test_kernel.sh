#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What the running kernel decides: a kernel lacking any feature ampguard
# needs is refused in one line before anything is loaded (each probe made
# to fail in turn); a lack of privilege is told apart from that; the build
# for kernels without BPF atomics protects as the other one does; and
# nothing depends on the kernel's config file; where the driver refuses
# native XDP, auto mode falls back to generic with the driver's reason.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=200
PROBES=(btf xdp tc array percpu_array lru_hash lpm_trie ktime jiffies64 spin_lock skb_pull_data
	xdp_link)

# egress_filters: ampguard's egress filters on IF_P.
egress_filters()
{
	tc -n "$NS_P" filter show dev "$IF_P" egress 2>/dev/null | grep -c 'handle 0xa9a9 ampguard_tc'
}

# nothing_changed WHAT: no pins, no XDP program, no egress filter on IF_P.
nothing_changed()
{
	assert_no_state "after $1: no state directory"
	assert_eq "after $1: no XDP program on $IF_P" none "$(xdp_prog "$NS_P" "$IF_P")"
	assert_eq "after $1: no egress filter on $IF_P" 0 "$(egress_filters)"
}

test_refused_below_floor()
{
	local p re

	re="^ampguard: Linux $(uname -r | sed 's/[.+]/\\&/g') lacks .+ \\(since Linux [0-9]+\\.[0-9]+\\): ampguard needs Linux 5\\.10 or later$"
	for p in "${PROBES[@]}"; do
		AMPGUARD_PROBE_FAIL=$p agrun "$NS_P" attach "$IF_P"
		assert_error "kernel without '$p': attach refused in one line naming kernel, feature, floor" \
			"$re"
	done
	nothing_changed "${#PROBES[@]} refusals"
}

# The privilege hint is for a real lack of privilege, not for the verifier.
test_unprivileged_attach()
{
	local bin out

	bin=$(mktemp /tmp/ampguard-unpriv.XXXXXX) || return
	cp "$AG_BIN" "$bin" && chmod 755 "$bin"
	out=$(nsenter --net="/run/netns/$NS_P" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups --inh-caps=-all --bounding-set=-all "$bin" attach "$IF_P" 2>&1 >/dev/null)
	AG_RC=$?
	rm -f "$bin"
	assert_match "attach as an unprivileged user: permission denied, run as root" \
		"^ampguard: .*permission denied: run as root" "$out"
	assert_eq "... in one line, with a non-zero exit, not a verifier message" "1 nonzero none" \
		"$(nlines "$out") $([ "$AG_RC" -ne 0 ] && echo nonzero) $(grep -c verifier <<<"$out" |
		sed 's/^0$/none/')"
	nothing_changed "an unprivileged attach"
}

# attach_drops WHAT [MODE]: IF_P protected (in MODE, default native); a DNS
# flood dropped, other UDP delivered; detached.
attach_drops()
{
	assert_success "$1: attach" "^$IF_P: protected \\(${2:-native} mode\\)"
	assert_eq "$1: the egress recorder is on $IF_P" 1 "$(egress_filters)"
	traffic 4 "53:9053:$N" "40000:9400:$N"
	snapshot
	assert_eq "$1: 0 of $N from udp/53 arrive" 0 "${RECV[9053]:-}"
	assert_eq "$1: all $N from udp/40000 arrive" "$N" "${RECV[9400]:-}"
	assert_eq "$1: dns counts $N policy drops" \
		"dns 53 policy_drop drop $N $((N * $(frame_len 4)))" "$(counter_line dns policy_drop)"
	agrun "$NS_P" detach "$IF_P"
	assert_success "$1: detach" "^$IF_P: detached"
	nothing_changed "$1"
}

test_locked_build()
{
	AMPGUARD_PROBE_FAIL=atomics agrun "$NS_P" attach "$IF_P"
	attach_drops "build for kernels without BPF atomics"
}

# /boot and /proc/config.gz hidden in a mount namespace of the CLI's own.
test_no_kernel_config()
{
	local hide='mount -t tmpfs none /boot && { [ ! -e /proc/config.gz ] ||
		mount --bind /dev/null /proc/config.gz; } && exec "$@"'

	unshare -m --propagation private sh -c "$hide" sh \
		nsenter --net="/run/netns/$NS_P" "$AG_BIN" attach "$IF_P" \
		>"$E2E_TMP/ag.out" 2>"$E2E_TMP/ag.err"
	AG_RC=$?
	# shellcheck disable=SC2034 # read by assert_success
	AG_OUT=$(<"$E2E_TMP/ag.out") AG_ERR=$(<"$E2E_TMP/ag.err")
	attach_drops "no kernel config readable"
}

# A veth takes native XDP only below a page-sized MTU: auto falls back to
# generic and says why, in the driver's words.
test_auto_fallback()
{
	local mtu

	if ! ip -n "$NS_P" link set "$IF_P" mtu 9000 || ! ip -n "$NS_A" link set "$IF_A" mtu 9000; then
		not_ok "MTU 9000 on the veth" "ip link refused it"
	fi
	agrun "$NS_P" attach "$IF_P"
	assert_match "auto mode, MTU 9000: one warning with the driver's reason" \
		"^ampguard: warning: native XDP unavailable on $IF_P \\(.+: .*MTU.*\\): using generic mode" \
		"$AG_ERR"
	assert_eq "... on one line" 1 "$(nlines "$AG_ERR")"
	AG_ERR=""
	attach_drops "generic fallback" generic
	agrun "$NS_P" attach "$IF_P" --mode native
	assert_error "--mode native, MTU 9000: refused with the driver's reason" \
		"^ampguard: native XDP attach to $IF_P failed: .+: .*MTU.* \\(try --mode generic\\)$"
	nothing_changed "a refused native attach"
	for mtu in "$NS_P $IF_P" "$NS_A $IF_A"; do
		# shellcheck disable=SC2086 # namespace and interface
		ip -n ${mtu% *} link set ${mtu#* } mtu 1500
	done
}

suite_setup()
{
	require
	command -v setpriv >/dev/null || bail "setpriv is missing (util-linux)"
	command -v unshare >/dev/null || bail "unshare is missing (util-linux)"
	setup_pair || bail "cannot build the namespaces"
}

E2E_TESTS=(test_refused_below_floor test_unprivileged_attach test_locked_build
	test_no_kernel_config test_auto_fallback)
e2e_run "$@"
