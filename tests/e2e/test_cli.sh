#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: the ampguard CLI protecting one end of a veth while the other
# end floods it with spoofed UDP. Deliveries and counters are exact counts.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=200 # datagrams per flow

# Before anything is attached: mistakes fail in one line and leave nothing.
test_errors_unattached()
{
	agrun "$NS_P" attach nosuch0
	assert_error "attach to a missing interface fails in one line" "nosuch0"
	assert_no_state "a failed attach leaves no state directory"

	agrun "$NS_P" set dns frobnicate
	assert_error "'set dns frobnicate' fails in one line" "frobnicate"
	agrun "$NS_P" set frobnicate drop
	assert_error "'set frobnicate drop' fails in one line" "frobnicate"
	agrun "$NS_P" set 65536 drop
	assert_error "'set 65536 drop' fails in one line" "65536"
	agrun "$NS_P" set dns drop
	assert_error "'set' with nothing attached fails in one line" "attach"
	agrun "$NS_P" stats --json
	assert_error "'stats' with nothing attached fails in one line" "attach"
	agrun "$NS_P" detach "$IF_P"
	assert_error "detach of an unprotected interface fails in one line" "$IF_P"
	assert_no_state "failed commands leave no state directory"
}

test_baseline()
{
	flows 4 \
		"- 53    9053 $N all - without ampguard: all $N from udp/53 arrive" \
		"- 40000 9400 $N all - without ampguard: all $N from udp/40000 arrive"
}

test_attach()
{
	local prog

	attach_check "attach $IF_P in the default mode" "^$IF_P: protected \\(native mode\\)"
	check "attach pinned its state under \$AMPGUARD_ROOT" test -d "$AMPGUARD_ROOT/ifaces/$IF_P"
	prog=$(status_ifaces "$NS_P")
	assert_match "status: $IF_P protected in native mode" "^$IF_P protected native [0-9]+$" \
		"$prog"
	assert_eq "the kernel runs ampguard's program natively on $IF_P" \
		"drv ${prog##* } ampguard_xdp" "$(xdp_prog "$NS_P" "$IF_P")"
	MODEL_ON=1
}

# A reader without privileges is told so, not that nothing is attached.
test_unprivileged_reader()
{
	local bin out

	bin=$(mktemp /tmp/ampguard-unpriv.XXXXXX) || return
	cp "$AG_BIN" "$bin" && chmod 755 "$bin"
	out=$(nsenter --net="/run/netns/$NS_P" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups --inh-caps=-all --bounding-set=-all "$bin" status 2>&1 >/dev/null)
	AG_RC=$?
	rm -f "$bin"
	assert_match "status as an unprivileged user fails with one line: permission denied" \
		"^ampguard: .*permission denied: run as root" "$out"
	assert_eq "... in one line, with a non-zero exit" "1 nonzero" \
		"$(nlines "$out") $([ "$AG_RC" -ne 0 ] && echo nonzero)"
}

# The attaching process has returned by now: what follows runs on pins alone.
test_default_drops()
{
	local v

	flows 4 \
		"- 53    9053 $N 0   dns/policy_drop          after attach returned: 0 of $N from udp/53 (dns) arrive" \
		"- 123   9123 $N 0   ntp/policy_drop          0 of $N from udp/123 (ntp) arrive" \
		"- 3702  9702 $N 0   ws-discovery/policy_drop 0 of $N from udp/3702 (ws-discovery) arrive" \
		"- 3283  9283 $N 0   arms/policy_drop         0 of $N from udp/3283 (arms) arrive" \
		"- 40000 9400 $N all other/no_vector          all $N from udp/40000 (no vector) arrive"

	snapshot
	assert_eq "stats --json follows the schema" ok \
		"$(printf '%s\n' "$STATS_JSON" | python3 "$AGJSON" check-stats)"
	assert_match "stats --json has \"version\": 1" '"version": *1[,}]' "$STATS_JSON"
	for v in dns ntp ws-discovery arms; do
		assert_counter "stats: $v counts $N packets as policy_drop, verdict drop" \
			"$v" policy_drop
	done
	assert_counter "stats: other counts the $N from udp/40000 and $MARKER_N end markers as no_vector" \
		other no_vector
	assert_model "stats: no other UDP counter moved"
}

test_tcp()
{
	local before after fam addr pid

	snapshot
	before=$(counter_packets other not_udp)
	for fam in 4 6; do
		addr=$ADDR_P4
		[ "$fam" = 6 ] && addr=$ADDR_P6
		rm -f "$E2E_TMP/tcp.ready"
		ip netns exec "$NS_P" python3 "$TCPECHO" serve "$addr" 8080 "$E2E_TMP/tcp.ready" \
			>/dev/null 2>&1 &
		pid=$!
		E2E_PIDS+=("$pid")
		check "TCP/IPv$fam server listening in the protected namespace" \
			wait_file "$E2E_TMP/tcp.ready"
		check "TCP over IPv$fam crosses the protected interface" \
			ip netns exec "$NS_A" python3 "$TCPECHO" ping "$addr" 8080
		wait "$pid"
		forget_pid "$pid"
	done
	snapshot
	after=$(counter_packets other not_udp)
	check "TCP segments are counted as other/not_udp (at least 6 more, got $((after - before)))" \
		test $((after - before)) -ge 6
}

test_ipv6()
{
	flows 6 \
		"- 53    9053 $N 0   dns/policy_drop IPv6: 0 of $N from udp/53 arrive" \
		"- 123   9123 $N 0   ntp/policy_drop IPv6: 0 of $N from udp/123 arrive" \
		"- 40000 9400 $N all other/no_vector IPv6: all $N from udp/40000 arrive"
	snapshot
	assert_counter "stats: dns adds the $N IPv6 frames and their bytes" dns policy_drop
	assert_model "stats after IPv6: every UDP counter as expected"
}

test_spoofed_sources()
{
	FLOW_OPTS="--sources 50" flows 4 \
		"192.0.2.100 123   9123 $N 0   ntp/policy_drop 50 spoofed IPv4 sources: 0 of $N from udp/123 arrive" \
		"192.0.2.100 40000 9400 $N all other/no_vector 50 spoofed IPv4 sources: all $N from udp/40000 arrive"
	FLOW_OPTS="--sources 50" flows 6 \
		"2001:db8::100 3702  9702 $N 0   ws-discovery/policy_drop 50 spoofed IPv6 sources: 0 of $N from udp/3702 arrive" \
		"2001:db8::100 40000 9400 $N all other/no_vector          50 spoofed IPv6 sources: all $N from udp/40000 arrive"
	snapshot
	assert_model "stats after spoofed floods: every UDP counter as expected"
}

# dns policy_drop packets in a fresh snapshot.
dns_drops()
{
	snapshot
	counter_packets dns policy_drop
}

# A flip while a flood runs: each packet is judged once, by one table.
test_flip_midstream()
{
	local total=2000 drop0 pass0 drop1 pass1 i pid out

	snapshot
	drop0=$(counter_packets dns policy_drop)
	pass0=$(counter_packets dns policy_pass)
	sink_start 4 9053
	ip netns exec "$NS_A" "$UDPGEN" -s "$ADDR_A4" -d "$ADDR_P4" --sport 53 --dport 9053 \
		-n "$total" --size "$PKT_SIZE" --rate "$RATE" >"$E2E_TMP/flood.out" 2>&1 &
	pid=$!
	E2E_PIDS+=("$pid")
	for ((i = 0; i < 200; i++)); do
		[ "$(dns_drops)" -gt "$drop0" ] && break
		sleep 0.05
	done
	agrun "$NS_P" set dns pass
	assert_success "'set dns pass' during a flood" "^dns \\(udp source port 53\\): pass"
	wait "$pid"
	forget_pid "$pid"
	out=$(cat "$E2E_TMP/flood.out")
	[ "$out" == "sent $total" ] || SINK_ERR+="flood: $out; "
	sink_end
	snapshot
	drop1=$(( $(counter_packets dns policy_drop) - drop0 ))
	pass1=$(( $(counter_packets dns policy_pass) - pass0 ))
	assert_eq "flip mid-flood: every one of $total packets counted once ($drop1 dropped + $pass1 passed)" \
		"$total" "$((drop1 + pass1))"
	assert_eq "flip mid-flood: the sink got exactly the $pass1 counted as policy_pass" \
		"$pass1" "${RECV[9053]:-}"
	expect dns 53 policy_drop "$drop1" 4
	expect dns 53 policy_pass "$pass1" 4
	assert_model "stats after the flip: every UDP counter as expected"
}

# set_dns ACTION: sets it and checks what the CLI and status say.
set_dns()
{
	agrun "$NS_P" set dns "$1"
	assert_success "set dns $1" "^dns \\(udp source port 53\\): $1"
	assert_eq "status lists dns once, as $1" "dns 53 $1 true" \
		"$(status_vectors "$NS_P" | grep '^dns ')"
}

test_set_actions()
{
	set_dns pass
	flows 4 "- 53 9053 $N all dns/policy_pass dns pass: all $N from udp/53 arrive"
	snapshot
	assert_counter "dns pass: policy_pass grows by exactly $N" dns policy_pass
	assert_model "dns pass: no other UDP counter moved"

	set_dns monitor
	flows 4 "- 53 9053 $N all dns/monitor dns monitor: all $N from udp/53 arrive"
	snapshot
	assert_counter "dns monitor: $N counted as monitor, verdict pass" dns monitor
	assert_model "dns monitor: no other UDP counter moved"

	set_dns drop
	flows 4 "- 53 9053 $N 0 dns/policy_drop dns drop again: 0 of $N from udp/53 arrive"
	snapshot
	assert_counter "dns drop again: policy_drop keeps counting from where it was" \
		dns policy_drop
	assert_model "dns drop again: no other UDP counter moved"
}

test_custom_port()
{
	agrun "$NS_P" set 5000 drop
	assert_success "set 5000 drop" "^port-5000 \\(udp source port 5000\\): drop"
	assert_eq "status lists port-5000 once, as drop" "port-5000 5000 drop false" \
		"$(status_vectors "$NS_P" | grep '^port-5000 ')"
	flows 4 \
		"- 5000  9500 $N 0   port-5000/policy_drop custom port: 0 of $N from udp/5000 arrive" \
		"- 40000 9400 $N all other/no_vector       custom port: all $N from udp/40000 arrive"
	snapshot
	assert_counter "stats: port-5000 counts $N as policy_drop" port-5000 policy_drop
	assert_model "custom port: no other UDP counter moved"

	agrun "$NS_P" unset 5000
	assert_success "unset 5000" "^port-5000: removed"
	assert_eq "status no longer lists port 5000" "" \
		"$(status_vectors "$NS_P" | awk '$2 == 5000')"
	flows 4 "- 5000 9500 $N all other/no_vector after unset: all $N from udp/5000 arrive"
	snapshot
	assert_model "after unset: udp/5000 counted as no_vector, earlier drops kept under port-5000"
}

# Attaching again swaps the program in place and keeps the counters.
test_reattach()
{
	agrun "$NS_P" attach "$IF_P"
	assert_success "attach an attached interface again" \
		"^$IF_P: already protected \\(native mode\\); programs? replaced in place"
	flows 4 "- 53 9053 $N 0 dns/policy_drop after the swap: 0 of $N from udp/53 arrive"
	snapshot
	assert_model "after the swap: counters carried on"
	assert_match "status: one interface, protected" "^$IF_P protected native [0-9]+$" \
		"$(status_ifaces "$NS_P")"
}

# race ARGS1 -- ARGS2: 'ampguard ARGS1' and 'ampguard ARGS2' at once; failures add to RACE_FAILS.
race()
{
	local a=() b=() pa pb

	while [ "$1" != -- ]; do
		a+=("$1")
		shift
	done
	shift
	b=("$@")
	ag "$NS_P" "${a[@]}" >/dev/null 2>>"$E2E_TMP/race.err" &
	pa=$!
	ag "$NS_P" "${b[@]}" >/dev/null 2>>"$E2E_TMP/race.err" &
	pb=$!
	wait "$pa" || RACE_FAILS=$((RACE_FAILS + 1))
	wait "$pb" || RACE_FAILS=$((RACE_FAILS + 1))
}

# builtin_count VECTOR_LINES: how many are built-in.
builtin_count()
{
	printf '%s\n' "$1" | awk '$4 == "true"' | wc -l
}

test_concurrent_sets()
{
	local rounds=18 last r p want got vecs nb maxv free

	vecs=$(status_vectors "$NS_P")
	nb=$(builtin_count "$vecs")
	maxv=$(awk '$1 == "#define" && $2 == "AG_MAX_VECTORS" { print $3 }' \
		"$E2E_TOP/include/ampguard_abi.h")
	last=$((5000 + 2 * rounds))
	RACE_FAILS=0
	: >"$E2E_TMP/race.err"
	for ((r = 0; r < rounds; r++)); do
		race set $((5001 + 2 * r)) drop -- set $((5002 + 2 * r)) drop
	done
	for ((r = 0; r < 5; r++)); do
		race set dns drop -- set dns pass
		race set 6000 drop -- set 6000 monitor
		race set ntp monitor -- set ssdp pass
	done
	assert_eq "$((rounds + 15)) pairs of concurrent sets all succeed" \
		"0 ''" "$RACE_FAILS '$(oneline "$(cat "$E2E_TMP/race.err")")'"

	vecs=$(status_vectors "$NS_P")
	want=$(for ((p = 5001; p <= last; p++)); do echo "port-$p $p drop false"; done)
	got=$(printf '%s\n' "$vecs" | awk -v last="$last" '$2 >= 5001 && $2 <= last' | sort)
	assert_lines "status lists ports 5001-$last once each, as drop" "$want" "$got"
	assert_match "status lists port 6000 once, as drop or monitor" \
		'^port-6000 6000 (drop|monitor) false$' "$(printf '%s\n' "$vecs" | awk '$2 == 6000')"
	assert_match "status lists dns once, as drop or pass" '^dns 53 (drop|pass) true$' \
		"$(printf '%s\n' "$vecs" | awk '$1 == "dns"')"
	assert_eq "concurrent sets of two vectors both stick" "ntp 123 monitor true|ssdp 1900 pass true" \
		"$(printf '%s\n' "$vecs" | awk '$1 == "ntp" || $1 == "ssdp"' | paste -sd'|')"
	assert_eq "status lists $nb built-in and $((2 * rounds + 1)) custom vectors, no duplicate" \
		"$nb $((2 * rounds + 1)) 0" \
		"$(printf '%s\n' "$vecs" | awk '{ n[$4]++; seen[$1]++ } END {
			d = 0; for (k in seen) if (seen[k] > 1) d++
			print n["true"] + 0, n["false"] + 0, d }')"

	# The datapath agrees with the table status shows.
	traffic 4 5001:9501:20 "$last:9530:20" 6000:9600:20
	assert_eq "udp/5001 and udp/$last are dropped after the races" "0 0" \
		"${RECV[9501]:-} ${RECV[9530]:-}"
	snapshot
	assert_eq "port-5001 counts its 20 drops" \
		"port-5001 5001 policy_drop drop 20 $((20 * $(frame_len 4)))" \
		"$(counter_line port-5001 policy_drop)"
	assert_eq "port-$last counts its 20 drops" \
		"port-$last $last policy_drop drop 20 $((20 * $(frame_len 4)))" \
		"$(counter_line "port-$last" policy_drop)"
	if printf '%s\n' "$vecs" | grep -q '^port-6000 6000 monitor'; then
		assert_eq "udp/6000 follows its action (monitor): 20 arrive" 20 "${RECV[9600]:-}"
	else
		assert_eq "udp/6000 follows its action (drop): 0 arrive" 0 "${RECV[9600]:-}"
	fi

	# Fill the table: the port after the last free slot is refused.
	free=$((maxv - 1 - nb - 2 * rounds - 1))
	RACE_FAILS=0
	for ((p = 7001; p < 7001 + free; p++)); do
		ag "$NS_P" set "$p" drop >/dev/null 2>&1 || RACE_FAILS=$((RACE_FAILS + 1))
	done
	assert_eq "the last $free free slot(s) take ports 7001-$((7000 + free))" 0 "$RACE_FAILS"
	agrun "$NS_P" set 7999 drop
	assert_error "a full table refuses another port in one line" "7999"
	assert_eq "the refused port is not listed" "" \
		"$(status_vectors "$NS_P" | awk '$2 == 7999')"

	RACE_FAILS=0
	: >"$E2E_TMP/race.err"
	for ((r = 0; r < rounds; r++)); do
		race unset $((5001 + 2 * r)) -- unset $((5002 + 2 * r))
	done
	for ((p = 7001; p < 7001 + free; p++)); do
		ag "$NS_P" unset "$p" >/dev/null 2>>"$E2E_TMP/race.err" ||
			RACE_FAILS=$((RACE_FAILS + 1))
	done
	race unset 6000 -- unset ntp
	race unset ssdp -- set dns drop
	assert_eq "every unset succeeds, $((rounds + 2)) pairs of them concurrently" \
		"0 ''" "$RACE_FAILS '$(oneline "$(cat "$E2E_TMP/race.err")")'"
	vecs=$(status_vectors "$NS_P")
	assert_eq "after the unsets: the $nb built-in vectors are left, no custom port" "$nb 0" \
		"$(printf '%s\n' "$vecs" | awk '{ n[$4]++ } END { print n["true"] + 0, n["false"] + 0 }')"
	assert_eq "after the unsets: ntp, ssdp and dns are back to drop" \
		"dns 53 drop true|ntp 123 drop true|ssdp 1900 drop true" \
		"$(printf '%s\n' "$vecs" | awk '$1 == "ntp" || $1 == "ssdp" || $1 == "dns"' | sort | paste -sd'|')"
}

test_detach()
{
	local state

	agrun "$NS_P" detach "$IF_P"
	assert_success "detach $IF_P" "^$IF_P: detached"
	assert_no_state "detach leaves no pins: \$AMPGUARD_ROOT is gone"
	state=$(xdp_prog "$NS_P" "$IF_P")
	assert_eq "no XDP program left on $IF_P" none "$state"
	MODEL_ON=0
	flows 4 \
		"- 53  9053 $N all - after detach: all $N from udp/53 arrive" \
		"- 123 9123 $N all - after detach: all $N from udp/123 arrive"
	agrun "$NS_P" status
	assert_error "status after detach says nothing is attached" "attach"
	agrun "$NS_P" detach "$IF_P"
	assert_error "a second detach fails in one line" "$IF_P"
}

test_foreign_program()
{
	local foreign id now

	ip -n "$NS_P" link set dev "$IF_P" xdpgeneric obj "$FLOOR_OBJ" sec xdp program xdp_drop_all
	foreign=$(xdp_prog "$NS_P" "$IF_P")
	assert_match "a foreign xdp_drop_all runs on $IF_P in generic mode" '^skb [0-9]+ xdp_drop_all$' \
		"$foreign"
	id=$(echo "$foreign" | awk '{ print $2 }')

	agrun "$NS_P" attach "$IF_P"
	assert_error "attach over a foreign program fails in one line naming it" \
		"'xdp_drop_all' \\(id $id\\)"
	assert_no_state "the refused attach leaves no state directory"
	assert_eq "the foreign program is still attached" "$foreign" "$(xdp_prog "$NS_P" "$IF_P")"
	MARKERS=0
	flows 4 "- 40000 9400 $N 0 - and still drops everything: 0 of $N from udp/40000 arrive"
	MARKERS=1

	agrun "$NS_P" attach "$IF_P" --force
	assert_match "attach --force replaces it" "^0\\|$IF_P: protected \\(native mode\\)" \
		"$AG_RC|$AG_OUT"
	assert_match "attach --force warns once, naming the program it removed" \
		"^ampguard: warning: .*'xdp_drop_all' \\(id $id\\)[^|]*$" "$(oneline "$AG_ERR")"
	now=$(xdp_prog "$NS_P" "$IF_P")
	assert_eq "ampguard's program now runs natively on $IF_P" \
		"drv $(status_ifaces "$NS_P" | awk '{ print $4 }') ampguard_xdp" "$now"
	flows 4 \
		"- 53    9053 $N 0   - after --force: 0 of $N from udp/53 arrive" \
		"- 40000 9400 $N all - after --force: all $N from udp/40000 arrive"
	snapshot
	assert_eq "after --force: fresh counters, dns counts $N drops" \
		"dns 53 policy_drop drop $N $((N * $(frame_len 4)))" "$(counter_line dns policy_drop)"

	agrun "$NS_P" detach "$IF_P"
	assert_success "detach after --force" "^$IF_P: detached"
	assert_no_state "and no pins are left"
	assert_eq "and no XDP program" none "$(xdp_prog "$NS_P" "$IF_P")"
}

suite_setup()
{
	require
	setup_pair || bail "cannot build the namespaces"
}

E2E_TESTS=(test_errors_unattached test_baseline test_attach test_unprivileged_reader
	test_default_drops test_tcp test_ipv6 test_spoofed_sources test_flip_midstream
	test_set_actions test_custom_port test_reattach test_concurrent_sets test_detach
	test_foreign_program)
# Everything between attach and detach runs on what test_attach attached;
# the counter model starts there too, so each of them checks every counter
# exactly whether or not the tests before it ran.
for t in test_unprivileged_reader test_default_drops test_tcp test_ipv6 \
	test_spoofed_sources test_flip_midstream test_set_actions test_custom_port \
	test_reattach test_concurrent_sets test_detach; do
	E2E_NEEDS[$t]=test_attach
done
e2e_run "$@"
