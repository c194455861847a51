#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The reference attack scenario (scripts/scenario.sh, the one `make demo`
# shows) as a test: under the 2019 campaign's flood, with ampguard's
# default profile on the gateway, every legitimate DNS and NTP exchange of
# the gateway and of the LAN host behind it is answered, every flood packet
# is counted as dropped at XDP under its own vector, and next to nothing
# reaches the gateway's stack.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
SC_PREFIX=$NS_PREFIX
# shellcheck source=../../scripts/scenario.sh
. "$E2E_TOP/scripts/scenario.sh"
trap 'sc_cleanup; e2e_cleanup >/dev/null 2>&1' EXIT

# Per vector; an emulated machine (the kernel matrix) takes less.
RATE=${AG_SCENARIO_RATE:-2000}
FRAG_RATE=${AG_SCENARIO_FRAG_RATE:-100}
RELAX_PPS=$((RATE / 4)) # the dns budget while relaxed: well under the flood
SECONDS_PER_PHASE=6

# reason_total VECTOR REASON: packets under that counter of wan0.
reason_total()
{
	sc_ag stats wan0 --json | python3 "$AGJSON" counters |
		awk -v v="$1" -v r="$2" '$2 == v && $4 == r { n += $6 } END { print n + 0 }'
}

# sc_link_lost: frames the Internet-side veth pair has dropped so far (a
# full ring on a busy machine), which no XDP program could count.
sc_link_lost()
{
	veth_lost "$SC_INET:inet0:tx+rx" "$SC_HOST:wan0:rx+tx"
}

# sc_flood_counters: flood_counters of the gateway's wan0.
sc_flood_counters()
{
	sc_ag stats wan0 --json | flood_counters wan0
}

# flood_phase: floods while exchanging legitimate queries; sets REACHED
# (packets the gateway's stack took in), TOTAL (flood packets sent) and
# LOST (frames the veth pair dropped meanwhile).
flood_phase()
{
	local before lost0

	before=$(sc_stack_in)
	lost0=$(sc_link_lost)
	sc_flood_start "$SECONDS_PER_PHASE" "$RATE" "$FRAG_RATE"
	sleep 1
	sc_legit 5
	sc_flood_wait
	settle sc_flood_counters
	REACHED=$(($(sc_stack_in) - before))
	TOTAL=$(sc_flood_total)
	LOST=$(($(sc_link_lost) - lost0))
}

# assert_counted NAME SENT COUNTED: every packet sent was counted, but for
# what the veth pair lost in the phase, itself at most 0.1% of the flood.
assert_counted()
{
	check "$1: sent $2, counted $3, lost in the veth $LOST" \
		test "$3" -le "$2" -a "$3" -ge $(($2 - LOST)) -a "$LOST" -le $((TOTAL / 1000))
}

test_unprotected()
{
	flood_phase
	check "the generators sent the whole flood ($TOTAL packets)" \
		test "$TOTAL" -ge $((7 * RATE * SECONDS_PER_PHASE * 99 / 100))
	# REACHED also counts the legitimate exchanges' replies.
	check "without ampguard the flood reaches the stack ($REACHED UDP datagrams and fragments taken in; $TOTAL flood packets sent)" \
		test "$REACHED" -ge $((TOTAL * 99 / 100))
}

test_default_profile()
{
	local v name drops want

	agrun_scenario attach wan0
	flood_phase
	assert_eq "every legitimate DNS and NTP exchange answered" \
		"$SC_LEGIT_TOTAL" "$SC_LEGIT_OK"
	for v in "${SC_VECTORS[@]}"; do
		name=${v%%:*}
		want=$((${SC_SENT[$name]:-0} + ${SC_SENT_FRAG[$name]:-0}))
		drops=$(($(reason_total "$name" policy_drop) + $(reason_total "$name" fragment_drop)))
		assert_counted "$name: every flood packet counted as dropped" "$want" "$drops"
	done
	# The stack still gets the gateway's own legitimate replies: a few per exchange.
	check "at most 0.1% of the flood reached the stack ($REACHED packets of $TOTAL, legitimate replies included)" \
		test "$REACHED" -le $((TOTAL / 1000 + 10 * SC_LEGIT_TOTAL))
	check "the LAN host's replies came back through the NAT as solicited" \
		test "$(reason_total dns solicited)" -ge 10
}

test_relax_and_tighten()
{
	local pass agg pol fpass fdrop want

	agrun_scenario set dns ratelimit --pps "$RELAX_PPS"
	pol=$(reason_total dns policy_drop)
	fdrop=$(reason_total dns fragment_drop)
	flood_phase
	pass=$(reason_total dns ratelimit_pass)
	agg=$(reason_total dns ratelimit_aggregate)
	fpass=$(reason_total dns fragment_pass)
	want=$((SC_SENT[dns] + SC_SENT_FRAG[dns]))
	assert_counted "relaxed: every dns flood packet admitted or dropped by the budget" "$want" \
		$((pass + agg + fpass + $(reason_total dns fragment_drop) - fdrop))
	assert_eq "relaxed: nothing more counted as policy_drop" "$pol" "$(reason_total dns policy_drop)"
	check "relaxed: about $RELAX_PPS pps admitted over the phase ($pass)" \
		test "$pass" -ge $((2 * RELAX_PPS)) -a "$pass" -le $((RELAX_PPS * 6 * (SECONDS_PER_PHASE + 2) / 5))
	assert_eq "relaxed: legitimate exchanges still answered" "$SC_LEGIT_TOTAL" "$SC_LEGIT_OK"
	agrun_scenario set dns drop
	pass=$(reason_total dns ratelimit_pass)
	flood_phase
	assert_eq "tightened again: nothing more admitted" "$pass" "$(reason_total dns ratelimit_pass)"
}

# agrun_scenario ARGS: the CLI on the gateway; must succeed.
agrun_scenario()
{
	local out rc

	out=$(sc_ag "$@" 2>&1)
	rc=$?
	check "ampguard $* ($(oneline "$out"))" test "$rc" -eq 0
}

suite_setup()
{
	local cmd

	for cmd in dnsmasq chronyd dig nft python3; do
		command -v "$cmd" >/dev/null || bail "$cmd is missing: run 'make deps'"
	done
	[ -x "$E2E_TOP/build/tests/udpflood" ] || bail "build/tests/udpflood is missing: run 'make test'"
	sc_setup || bail "setting up the scenario failed: $(cat "$SC_TMP"/*.log 2>/dev/null | head -5)"
}

# The scenario's gateway is detached and its namespaces go before the
# leftover checks.
suite_teardown()
{
	sc_ag detach wan0 >/dev/null
	sc_cleanup
}

E2E_TESTS=(test_unprotected test_default_profile test_relax_and_tighten)
E2E_NEEDS[test_relax_and_tighten]=test_default_profile
e2e_run "$@"
