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
SECONDS_PER_PHASE=6 # at least; the flood lasts until the legitimate exchanges are done
# Lookups per phase from each of the two hosts (each also syncs NTP once):
# under emulation a lookup takes seconds, and all must end within the
# generators' SC_FLOOD_CAP.
LEGIT_ROUNDS=${AG_SCENARIO_LEGIT_ROUNDS:-5}

SC_ATTACHED= # set once ampguard protects wan0
COUNTERS=    # wan0's counters after the last phase, as agjson.py's counters rows
STACK_IN=    # the gateway stack's intake after the last phase (sc_stack_in)

# reason_total VECTOR REASON: packets under that counter of wan0 in COUNTERS.
reason_total()
{
	printf '%s\n' "$COUNTERS" |
		awk -v v="$1" -v r="$2" '$2 == v && $4 == r { n += $6 } END { print n + 0 }'
}

# sc_counters: wan0's counters, read now, into COUNTERS.
sc_counters()
{
	COUNTERS=$(sc_ag stats wan0 --json | python3 "$AGJSON" counters)
}

# sc_link_lost: frames the Internet-side veth pair has dropped so far (a
# full ring on a busy machine), which no XDP program could count.
sc_link_lost()
{
	veth_lost "$SC_INET:inet0:tx+rx" "$SC_HOST:wan0:rx+tx"
}

# sc_phase_read: the stack's intake into STACK_IN and, once attached,
# wan0's counters into COUNTERS, both read now.
sc_phase_read()
{
	STACK_IN=$(sc_stack_in)
	[ -z "$SC_ATTACHED" ] || sc_counters
}

# sc_phase_moved: what a flood moves in the last sc_phase_read: the intake
# and wan0's flood_rows.
sc_phase_moved()
{
	echo "$STACK_IN"
	printf '%s\n' "$COUNTERS" | flood_rows wan0
}

# flood_phase [ROUNDS]: floods while exchanging legitimate queries
# (sc_flood_legit; ROUNDS, default LEGIT_ROUNDS, lookups per host), or
# with ROUNDS 0 exactly SECONDS_PER_PHASE's worth of flood;
# once the counts settle, sets REACHED (packets the gateway's stack took
# in), TOTAL (flood packets sent), FLOOD_MS (how long the flood ran, its
# start included), LOST (frames the veth pair dropped meanwhile) and,
# once attached, COUNTERS.
flood_phase()
{
	local before lost0 t0

	before=$(sc_stack_in)
	lost0=$(sc_link_lost)
	t0=$(now_ms)
	if [ "${1:-$LEGIT_ROUNDS}" -gt 0 ]; then
		sc_flood_legit "${1:-$LEGIT_ROUNDS}" "$SECONDS_PER_PHASE" "$RATE" "$FRAG_RATE"
	else
		sc_flood_start "$SECONDS_PER_PHASE" "$RATE" "$FRAG_RATE"
		sc_flood_wait
	fi
	FLOOD_MS=$(($(now_ms) - t0))
	settle_read sc_phase_read sc_phase_moved
	REACHED=$((STACK_IN - before))
	TOTAL=$(sc_flood_total)
	LOST=$(($(sc_link_lost) - lost0))
}

# assert_legit LABEL: every legitimate exchange of the phase was answered,
# and all of them ran while the flood did.
assert_legit()
{
	check "$1: every legitimate DNS and NTP exchange answered ($SC_LEGIT_OK of $SC_LEGIT_TOTAL; failed: ${SC_LEGIT_FAILED:-none})" \
		test "$SC_LEGIT_OK" -eq "$SC_LEGIT_TOTAL"
	assert_eq "$1: the flood ran until the last exchange ended" yes "$SC_LEGIT_IN_FLOOD"
}

# The share of one vector's flood that may go missing in the veth pair. On
# a loaded CI host the pair once lost 355 of a phase's 89400 frames (0.4%);
# an emulated guest's veth lost 6.8% of a flood once. The bound only keeps
# the exact check below from saying nothing.
SC_LOSS_PERMILLE=100

# assert_vector_counted NAME SENT COUNTED: every packet of a vector's flood
# was counted, but for some of the LOST frames of the phase. LOST covers
# the pair's both directions and every vector, so a vector's shortfall is
# bounded by it, not equal to it.
assert_vector_counted()
{
	assert_flood_counted "$1" "$2" "$3" "$LOST" "$SC_LOSS_PERMILLE"
}

test_unprotected()
{
	# No exchanges: under the whole flood an emulated machine's stack took
	# over 45 s for two rounds, and what they show needs ampguard.
	flood_phase 0
	check "the generators sent the whole flood ($TOTAL packets)" \
		test "$TOTAL" -ge $((7 * RATE * SECONDS_PER_PHASE * 99 / 100))
	check "without ampguard the flood reaches the stack ($REACHED UDP datagrams and fragments taken in; $TOTAL flood packets sent, $LOST lost in the veth)" \
		test "$REACHED" -ge $(((TOTAL - LOST) * 99 / 100))
}

test_default_profile()
{
	local v name drops want

	agrun_scenario attach wan0
	SC_ATTACHED=1
	flood_phase
	assert_legit "protected"
	for v in "${SC_VECTORS[@]}"; do
		name=${v%%:*}
		want=$((${SC_SENT[$name]:-0} + ${SC_SENT_FRAG[$name]:-0}))
		drops=$(($(reason_total "$name" policy_drop) + $(reason_total "$name" fragment_drop)))
		assert_vector_counted "$name: every flood packet counted as dropped" "$want" "$drops"
	done
	# The stack still gets the gateway's own legitimate replies: a few per exchange.
	check "at most 0.1% of the flood reached the stack ($REACHED packets of $TOTAL, legitimate replies included)" \
		test "$REACHED" -le $((TOTAL / 1000 + 10 * SC_LEGIT_TOTAL))
	# One reply per lookup, the gateway's own and the LAN host's.
	check "the LAN host's replies came back through the NAT as solicited" \
		test "$(reason_total dns solicited)" -ge $((2 * LEGIT_ROUNDS))
}

test_relax_and_tighten()
{
	local pass pass0 agg pol fpass fdrop want

	agrun_scenario set dns ratelimit --pps "$RELAX_PPS"
	sc_counters
	pol=$(reason_total dns policy_drop)
	fdrop=$(reason_total dns fragment_drop)
	pass0=$(reason_total dns ratelimit_pass)
	flood_phase
	pass=$(($(reason_total dns ratelimit_pass) - pass0))
	agg=$(reason_total dns ratelimit_aggregate)
	fpass=$(reason_total dns fragment_pass)
	want=$((SC_SENT[dns] + SC_SENT_FRAG[dns]))
	assert_vector_counted "relaxed: every dns flood packet admitted or dropped by the budget" "$want" \
		$((pass + agg + fpass + $(reason_total dns fragment_drop) - fdrop))
	assert_eq "relaxed: nothing more counted as policy_drop" "$pol" "$(reason_total dns policy_drop)"
	# At least two seconds' worth; at most 20% over the budget for as long
	# as the flood ran, its burst and two seconds of stragglers included.
	check "relaxed: about $RELAX_PPS pps admitted over the phase's $FLOOD_MS ms ($pass)" \
		test "$pass" -ge $((2 * RELAX_PPS)) \
		-a "$pass" -le $((RELAX_PPS * 6 * (FLOOD_MS / 1000 + 2) / 5))
	assert_legit "relaxed"
	agrun_scenario set dns drop
	sc_counters
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
