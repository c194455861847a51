#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: solicited-response tracking with real peers. An "internet"
# namespace runs a DNS server (dnsmasq) and an NTP server (chronyd) and
# floods the protected namespace from reflector addresses; the protected
# namespace runs ampguard with the default profile and keeps resolving
# names and reading the time through the flood.
#
#   NS_A (internet)                          NS_P (protected, ampguard)
#   192.0.2.1, 2001:db8::1                   192.0.2.2, 192.0.2.3, 2001:db8::2
#   dnsmasq  192.0.2.53, 2001:db8::53  ----  dig, udpask.py, chronyd -Q
#   chronyd  192.0.2.123                     ephemeral ports 50000-50199
#   reflectors 203.0.113.0/24 (dns), 198.51.100.0/24 (ntp), 2001:db8:f::/64
#
# Counts are exact where the test controls every datagram; under the
# flood, at least 99.9% of it must be dropped and every legitimate query
# must succeed.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DNS4=192.0.2.53
DNS6=2001:db8::53
NTP4=192.0.2.123
OTHER4=192.0.2.54    # an address of the internet side that runs no server
NTPCLI4=192.0.2.61   # an NTP client of the protected host's NTP server
ADDR_P4B=192.0.2.3   # a second address of the protected host
ZONE=example.test
ZONE_A=192.0.2.80
ZONE_AAAA=2001:db8::80
EPH_LO=50000         # the protected host's ephemeral ports...
EPH_HI=50199         # ...which the flood sweeps

DIG_N=50             # IPv4 queries through the flood
DIG6_N=20            # IPv6 queries through the flood
FLOOD_SECONDS=8      # at least; until the exchanges under the flood are done
FLOOD_DNS_RATE=15000 # pps from udp/53 reflectors
FLOOD_NTP_RATE=10000 # pps from udp/123 reflectors
FLOOD6_SECONDS=5
FLOOD6_RATE=20000
FLOOD_CAP=100        # seconds: the senders' count (udpflood stops at 120 s)
N=20                 # datagrams per spoofed probe

# ---- topology and daemons ----------------------------------------------

setup_internet()
{
	local a

	setup_pair || return 1
	for a in $DNS4 $NTP4 $OTHER4 $NTPCLI4; do
		ip -n "$NS_A" addr add "$a/32" dev "$IF_A" || return 1
		ip -n "$NS_P" neigh replace "$a" lladdr $MAC_A dev "$IF_P" nud permanent || return 1
	done
	ip -n "$NS_A" addr add $DNS6/128 dev "$IF_A" nodad &&
		ip -n "$NS_P" neigh replace $DNS6 lladdr $MAC_A dev "$IF_P" nud permanent || return 1
	ip -n "$NS_P" addr add $ADDR_P4B/24 dev "$IF_P" &&
		ip -n "$NS_A" neigh replace $ADDR_P4B lladdr $MAC_P dev "$IF_A" nud permanent ||
		return 1
	# Reflectors sit behind the internet side; routes back to them let
	# anything that got through reach the UDP layer, where it is counted.
	ip -n "$NS_P" route add 203.0.113.0/24 via $ADDR_A4 &&
		ip -n "$NS_P" route add 198.51.100.0/24 via $ADDR_A4 &&
		ip -n "$NS_P" -6 route add 2001:db8:f::/64 via $ADDR_A6 || return 1
	nsctl "$NS_P" "net.ipv4.ip_local_port_range=$EPH_LO $EPH_HI"
}

start_dnsmasq()
{
	cat >"$E2E_TMP/dnsmasq.conf" <<-EOF
		port=53
		listen-address=$DNS4
		listen-address=$DNS6
		bind-interfaces
		no-resolv
		no-hosts
		address=/$ZONE/$ZONE_A
		address=/$ZONE/$ZONE_AAAA
		pid-file=$E2E_TMP/dnsmasq.pid
		user=root
		group=root
		log-facility=-
	EOF
	daemon_start DNSMASQ_PID dnsmasq "$NS_A" dnsmasq -k --conf-file="$E2E_TMP/dnsmasq.conf"
	wait_udp_listen "$NS_A" $DNS4 53 && wait_udp_listen "$NS_A" $DNS6 53
}

# chrony_conf FILE NAME DIRECTIVE...: a chronyd configuration that keeps
# every file in the test's directory and opens no command socket.
chrony_conf()
{
	local file=$1 name=$2

	shift 2
	{
		printf '%s\n' "$@"
		echo "cmdport 0"
		echo "bindcmdaddress /"
		echo "pidfile $E2E_TMP/$name.pid"
		echo "driftfile $E2E_TMP/$name.drift"
	} >"$file"
}

# start_ntp_server VAR NS NAME ADDR: chronyd serving its local clock on
# ADDR:123, in the foreground, never touching the system clock (-x).
start_ntp_server()
{
	local conf=$E2E_TMP/$3.conf

	chrony_conf "$conf" "$3" "local stratum 8" "allow" "bindaddress $4" "port 123"
	daemon_start "$1" "$3" "$2" chronyd -4 -x -d -u root -f "$conf"
	wait_udp_listen "$2" "$4" 123 || {
		cat "$E2E_TMP/$3.log"
		return 1
	}
}

# ntp_query_start VAR NS NAME TIMEOUT DIRECTIVE...: one 'chronyd -Q'
# measurement in the background, for at most TIMEOUT seconds; its pid goes
# to VAR, its output to $E2E_TMP/NAME.log.
ntp_query_start()
{
	local _nq_var=$1 ns=$2 name=$3 t=$4 conf=$E2E_TMP/$3.conf

	shift 4
	chrony_conf "$conf" "$name" "$@"
	timeout $((t + 10)) ip netns exec "$ns" chronyd -4 -Q -t "$t" -u root -f "$conf" \
		>"$E2E_TMP/$name.log" 2>&1 &
	E2E_PIDS+=("$!")
	printf -v "$_nq_var" '%s' "$!"
}

# ntp_query_end PID NAME: reaps it; succeeds when chronyd got the time.
ntp_query_end()
{
	local rc

	wait "$1"
	rc=$?
	forget_pid "$1"
	[ "$rc" -eq 0 ] && grep -q 'System clock wrong by' "$E2E_TMP/$2.log"
}

# ntp_query NS NAME TIMEOUT DIRECTIVE...: the same in the foreground.
# shellcheck disable=SC2317 # called through check_here
ntp_query()
{
	local pid

	ntp_query_start pid "$@"
	ntp_query_end "$pid" "$2"
}

# ntp_no_time ARGS...: ntp_query ARGS... gets no time.
# shellcheck disable=SC2317 # called through check_here
ntp_no_time()
{
	! ntp_query "$@"
}

# dig_ok FAMILY: one lookup at the DNS server from the protected host,
# asked twice at most as a resolver would (a reply the veth pair lost under
# a flood; one the filter dropped would make policy_drop exceed the flood);
# succeeds when the answer is exactly the zone's address.
dig_ok()
{
	local out

	if [ "$1" = 6 ]; then
		out=$(ip netns exec "$NS_P" dig -6 +tries=2 +timeout=2 +short @"$DNS6" "$ZONE" AAAA 2>&1)
		[ "$out" = "$ZONE_AAAA" ]
	else
		out=$(ip netns exec "$NS_P" dig +tries=2 +timeout=2 +short @"$DNS4" "$ZONE" A 2>&1)
		[ "$out" = "$ZONE_A" ]
	fi || {
		echo "$out" >>"$E2E_TMP/dig.fail"
		return 1
	}
}

# ---- floods ------------------------------------------------------------

# flood NAME UDPFLOOD-ARGS...: a flood from NS_A in the background (see
# flood_start); its pid goes to FLOOD_PID.
flood()
{
	local name=$1

	shift
	flood_start "$name" "$NS_A" "$UDPFLOOD" "$@"
}

# wait_drops VECTOR BEFORE: up to 5 s for VECTOR's policy_drop to pass BEFORE.
# shellcheck disable=SC2317 # called through check
wait_drops()
{
	local i

	for ((i = 0; i < 100; i++)); do
		snapshot
		[ "$(counter_packets "$1" policy_drop)" -gt "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---- fixed-port exchanges ----------------------------------------------

# ask_start FAMILY PORT LISTEN [ALSO]: udpask.py in NS_P sends a DNS query
# from PORT to the DNS server and listens LISTEN seconds. Sets ASK_PID and
# ASK_SENT_MS (when the query left), or returns 1.
ask_start()
{
	local fam=$1 src=$ADDR_P4 dst=$DNS4 v6=()

	if [ "$fam" = 6 ]; then
		src=$ADDR_P6
		dst=$DNS6
		v6=(-6)
	fi
	rm -f "$E2E_TMP/ask.ready"
	ip netns exec "$NS_P" python3 "$UDPASK" "${v6[@]}" --src "$src" --port "$2" --server "$dst" \
		--listen "$3" --also "${4:-}" --ready "$E2E_TMP/ask.ready" \
		>"$E2E_TMP/ask.out" 2>&1 &
	ASK_PID=$!
	E2E_PIDS+=("$ASK_PID")
	wait_file "$E2E_TMP/ask.ready" || return 1
	ASK_SENT_MS=$(<"$E2E_TMP/ask.ready")
}

# ask_end: waits for udpask.py; its report lines go to ASK_OUT.
ask_end()
{
	wait "$ASK_PID"
	forget_pid "$ASK_PID"
	ASK_OUT=$(cat "$E2E_TMP/ask.out")
}

# ask_received DST DPORT SRC SPORT: datagrams udpask.py got on DST:DPORT from SRC:SPORT.
ask_received()
{
	printf '%s\n' "$ASK_OUT" | awk -v d="$1" -v dp="$2" -v s="$3" -v sp="$4" '
		$1 == d && $2 == dp && $3 == s && $4 == sp { n += $5 } END { print n + 0 }'
}

ask_line()
{
	printf '%s\n' "$ASK_OUT" | awk -v k="$1" '$1 == k { print $2 }'
}

# spoof FAMILY SRC SPORT DST DPORT COUNT: datagrams from NS_A with any source.
spoof()
{
	local v6=() out

	[ "$1" = 6 ] && v6=(-6)
	out=$(ip netns exec "$NS_A" "$UDPGEN" "${v6[@]}" -s "$2" --sport "$3" -d "$4" \
		--dport "$5" -n "$6" --size "$PKT_SIZE" --rate "$RATE" 2>&1)
	[ "$out" = "sent $6" ] || SPOOF_ERR+="udpgen $2:$3 -> $4:$5: $out; "
}

# ---- the tests ---------------------------------------------------------

test_baseline()
{
	local before after sent lost0

	check "without ampguard: dig @$DNS4 $ZONE answers $ZONE_A" dig_ok 4
	check "without ampguard: dig -6 @$DNS6 $ZONE AAAA answers $ZONE_AAAA" dig_ok 6

	# The stack counters see a flood that nothing filters.
	before=$(udp_seen "$NS_P" 4)
	lost0=$(pair_lost)
	flood flood0 -s 203.0.113.1 --sources 254 -d "$ADDR_P4" --sport 53,123 \
		--dport "$EPH_LO"-"$EPH_HI" -n 20000 --rate 20000 --seed 7
	flood_wait "$FLOOD_PID"
	sent=$FLOOD_SENT
	settle udp_seen "$NS_P" 4 >/dev/null
	after=$(udp_seen "$NS_P" 4)
	assert_eq "without ampguard: the flood sent its 20000 datagrams" 20000 "${sent:-none}"
	assert_flood_counted "without ampguard: the protected stack took in the flood" \
		"${sent:-0}" $((after - before)) $(($(pair_lost) - lost0))
}

test_attach()
{
	attach_check "attach $IF_P with the default profile" "^$IF_P: protected"
	assert_eq "default tracking timeouts: dns 5000 ms, ntp 10000 ms" "5000 10000" \
		"$(track_timeout_ms "$NS_P" dns) $(track_timeout_ms "$NS_P" ntp)"
}

# A reflection flood from udp/53 and udp/123 while the host resolves names
# and reads the time.
test_flood_v4()
{
	local s0 seen0 seen1 dpid npid dalive nalive dsent nsent sent drops sol_dns sol_ntp
	local sol_all got through i ok=0 ntp_rc qpid lost0 lost t0

	snapshot
	s0=$STATS
	seen0=$(udp_seen "$NS_P" 4)
	lost0=$(pair_lost)
	rm -f "$E2E_TMP/dig.fail"
	t0=$(now_ms)
	flood flood-dns -s 203.0.113.1 --sources 254 -d "$ADDR_P4" --sport 53 \
		--dport "$EPH_LO"-"$EPH_HI" -n $((FLOOD_DNS_RATE * FLOOD_CAP)) \
		--rate "$FLOOD_DNS_RATE" --seed 1
	dpid=$FLOOD_PID
	flood flood-ntp -s 198.51.100.1 --sources 254 -d "$ADDR_P4" --sport 123 \
		--dport "$EPH_LO"-"$EPH_HI" -n $((FLOOD_NTP_RATE * FLOOD_CAP)) \
		--rate "$FLOOD_NTP_RATE" --seed 2
	npid=$FLOOD_PID
	check "the flood reaches the protected interface" wait_drops dns \
		"$(STATS=$s0 counter_packets dns policy_drop)"

	# The legitimate traffic: one NTP measurement beside $DIG_N lookups.
	ntp_query_start qpid "$NS_P" ntp-flood 10 "server $NTP4 iburst"
	for ((i = 0; i < DIG_N; i++)); do
		dig_ok 4 && ok=$((ok + 1))
	done
	ntp_query_end "$qpid" ntp-flood
	ntp_rc=$?
	daemon_alive "$dpid" && dalive=yes || dalive=no
	daemon_alive "$npid" && nalive=yes || nalive=no
	flood_stop_after "$FLOOD_SECONDS" "$t0" "$dpid" "$npid"
	flood_wait "$dpid"
	dsent=$FLOOD_SENT
	flood_wait "$npid"
	nsent=$FLOOD_SENT
	settle_stats
	seen1=$(udp_seen "$NS_P" 4)
	lost=$(($(pair_lost) - lost0))

	assert_eq "both floods were still on when the lookups and the NTP query ended" \
		"yes yes" "$dalive $nalive"
	check "each flood stopped cleanly, saying what it sent (${dsent:-?} from udp/53, ${nsent:-?} from udp/123)" \
		test -n "$dsent" -a -n "$nsent"
	sent=$((${dsent:-0} + ${nsent:-0}))
	drops=$(($(reason_packets policy_drop dns ntp) - $(STATS=$s0 reason_packets policy_drop dns ntp)))
	sol_dns=$(($(reason_packets solicited dns) - $(STATS=$s0 reason_packets solicited dns)))
	sol_ntp=$(($(reason_packets solicited ntp) - $(STATS=$s0 reason_packets solicited ntp)))
	sol_all=$(($(reason_packets solicited) - $(STATS=$s0 reason_packets solicited)))
	got=$((seen1 - seen0))
	through=$((got - sol_all))
	echo "# IPv4 flood: sent $sent ($dsent from udp/53, $nsent from udp/123), lost $lost," \
		"policy_drop $drops, stack took in $got of which $sol_all solicited;" \
		"dig $ok/$DIG_N, ntp rc $ntp_rc"

	assert_eq "all $DIG_N lookups through the flood succeed" \
		"$DIG_N" "$ok$( [ -f "$E2E_TMP/dig.fail" ] && echo " ($(oneline "$(sort "$E2E_TMP/dig.fail" | uniq -c)"))")"
	if [ "$ntp_rc" -eq 0 ]; then
		ok "the NTP query to $NTP4 through the flood succeeds"
	else
		not_ok "the NTP query to $NTP4 through the flood succeeds" \
			"$(cat "$E2E_TMP/ntp-flood.log")"
	fi
	assert_flood_counted "the flood as policy_drop" "$sent" "$drops" "$lost"
	check "at most 0.1% of the flood reaches the protected stack ($through of $sent)" \
		at_most_permille "$through" "$sent" 1
	check "dns counts at least $DIG_N solicited replies ($sol_dns)" test "$sol_dns" -ge "$DIG_N"
	check "ntp counts the NTP server's replies as solicited ($sol_ntp)" test "$sol_ntp" -ge 1
}

# Forged replies: right server, wrong port; right server, another local port
# or address; another server. Only the exact 4-tuple gets in.
test_forged_replies()
{
	local s0 want

	snapshot
	s0=$STATS
	SPOOF_ERR=""
	if ! ask_start 4 40053 3 40054; then
		not_ok "udpask.py sends its query" "$(cat "$E2E_TMP/ask.out")"
		return
	fi
	spoof 4 "$DNS4" 53 "$ADDR_P4" 40053 "$N"     # the real reply's 4-tuple
	spoof 4 "$DNS4" 123 "$ADDR_P4" 40053 "$N"    # right server, ntp port
	spoof 4 "$DNS4" 5353 "$ADDR_P4" 40053 "$N"   # right server, mdns port
	spoof 4 "$DNS4" 53 "$ADDR_P4" 40054 "$N"     # another local port
	spoof 4 "$DNS4" 53 "$ADDR_P4B" 40053 "$N"    # another local address
	spoof 4 "$OTHER4" 53 "$ADDR_P4" 40053 "$N"   # another server
	ask_end
	snapshot
	assert_eq "spoofed probes were all sent" "" "$SPOOF_ERR"
	assert_eq "the DNS server answered the query from port 40053" 1 "$(ask_line answers)"
	assert_eq "$N replies on the request's 4-tuple arrive, with the real answer" \
		$((N + 1)) "$(ask_received "$ADDR_P4" 40053 "$DNS4" 53)"
	assert_eq "nothing else arrives: not from $DNS4:123 or :5353, not to :40054 or $ADDR_P4B, not from $OTHER4" \
		$((N + 1)) "$(ask_line total)"
	want=$(printf '%s\n' "dns policy_drop $((3 * N))" "dns solicited $((N + 1))" \
		"mdns policy_drop $N" "ntp policy_drop $N")
	assert_lines "counters: exactly $((N + 1)) dns solicited; every forged reply a policy_drop" \
		"$want" "$(counter_deltas "$s0" "$STATS")"
}

# A reply after its entry expired is dropped; one within the timeout passes.
# The timeout is 2 s so that the in-time replies, sent by forked tools on a
# busy machine, have 1.5 s to leave; the late ones leave after 3 s.
test_expiry()
{
	local s0 late want

	agrun "$NS_P" set dns --track-timeout 2s
	assert_success "set dns --track-timeout 2s" "^dns \\(udp source port 53\\): drop.*2s"
	assert_eq "status: dns tracking timeout 2000 ms" 2000 "$(track_timeout_ms "$NS_P" dns)"

	snapshot
	s0=$STATS
	SPOOF_ERR=""
	if ! ask_start 4 40153 5; then
		not_ok "udpask.py sends its query" "$(cat "$E2E_TMP/ask.out")"
		return
	fi
	spoof 4 "$DNS4" 53 "$ADDR_P4" 40153 "$N"
	late=$(($(now_ms) - ASK_SENT_MS))
	check "harness: the in-time replies left within 1.5 s of the query (${late} ms)" \
		test "$late" -lt 1500
	ms_sleep $((3000 - late))
	late=$(($(now_ms) - ASK_SENT_MS))
	spoof 4 "$DNS4" 53 "$ADDR_P4" 40153 "$N"
	ask_end
	snapshot
	check "harness: the late replies left at least 3 s after the query (${late} ms)" \
		test "$late" -ge 3000
	assert_eq "spoofed replies were all sent" "" "$SPOOF_ERR"
	assert_eq "the real answer and the $N replies within 2 s arrive; the $N after 3 s do not" \
		"$((N + 1)) $((N + 1))" "$(ask_received "$ADDR_P4" 40153 "$DNS4" 53) $(ask_line total)"
	want=$(printf '%s\n' "dns policy_drop $N" "dns solicited $((N + 1))")
	assert_lines "counters: $((N + 1)) solicited within the timeout, $N expired ones policy_drop" \
		"$want" "$(counter_deltas "$s0" "$STATS")"

	# Timeouts are judged at lookup: a shorter one applies to a request
	# recorded before the change.
	agrun "$NS_P" set dns --track-timeout 5s
	assert_success "set dns --track-timeout 5s" "^dns \\(udp source port 53\\): drop.*5s"
	snapshot
	s0=$STATS
	SPOOF_ERR=""
	if ! ask_start 4 40253 1.5; then
		not_ok "udpask.py sends its query" "$(cat "$E2E_TMP/ask.out")"
		return
	fi
	agrun "$NS_P" set dns --track-timeout 500ms
	sleep 0.8
	spoof 4 "$DNS4" 53 "$ADDR_P4" 40253 "$N"
	ask_end
	snapshot
	assert_eq "a request recorded under 5s, answered 0.8 s later under 500ms: only the real answer arrives" \
		"1" "$(ask_received "$ADDR_P4" 40253 "$DNS4" 53)"
	want=$(printf '%s\n' "dns policy_drop $N" "dns solicited 1")
	assert_lines "counters: the late replies are policy_drop under the new timeout" \
		"$want" "$(counter_deltas "$s0" "$STATS")"

	agrun "$NS_P" set dns --track-timeout 5s
	assert_success "set dns --track-timeout 5s again" "^dns \\(udp source port 53\\): drop.*5s"
	assert_eq "status: dns tracking timeout back to 5000 ms" 5000 "$(track_timeout_ms "$NS_P" dns)"
}

# IPv6: lookups succeed while an IPv6 flood from udp/53 is dropped; a forged
# reply from the server's NTP port is dropped.
test_flood_v6()
{
	local s0 seen0 seen1 fpid alive fsent drops sol through got i ok=0 want lost0 lost t0

	snapshot
	s0=$STATS
	seen0=$(udp_seen "$NS_P" 6)
	lost0=$(pair_lost)
	rm -f "$E2E_TMP/dig.fail"
	t0=$(now_ms)
	flood flood6 -6 -s 2001:db8:f::1 --sources 1000 -d "$ADDR_P6" --sport 53 \
		--dport "$EPH_LO"-"$EPH_HI" -n $((FLOOD6_RATE * FLOOD_CAP)) --rate "$FLOOD6_RATE" \
		--seed 3
	fpid=$FLOOD_PID
	check "the IPv6 flood reaches the protected interface" wait_drops dns \
		"$(STATS=$s0 counter_packets dns policy_drop)"
	for ((i = 0; i < DIG6_N; i++)); do
		dig_ok 6 && ok=$((ok + 1))
	done
	daemon_alive "$fpid" && alive=yes || alive=no
	flood_stop_after "$FLOOD6_SECONDS" "$t0" "$fpid"
	flood_wait "$fpid"
	fsent=$FLOOD_SENT
	settle_stats
	seen1=$(udp_seen "$NS_P" 6)
	lost=$(($(pair_lost) - lost0))

	assert_eq "the IPv6 flood was still on when the lookups ended" yes "$alive"
	check "the IPv6 flood stopped cleanly, saying what it sent (${fsent:-?})" test -n "$fsent"
	drops=$(($(counter_packets dns policy_drop) - $(STATS=$s0 counter_packets dns policy_drop)))
	sol=$(($(reason_packets solicited) - $(STATS=$s0 reason_packets solicited)))
	got=$((seen1 - seen0))
	through=$((got - sol))
	fsent=${fsent:-0}
	echo "# IPv6 flood: sent $fsent from udp/53, lost $lost, policy_drop $drops," \
		"stack took in $got of which $sol solicited; dig -6 $ok/$DIG6_N"
	assert_eq "all $DIG6_N IPv6 lookups (AAAA) through the flood succeed" \
		"$DIG6_N" "$ok$( [ -f "$E2E_TMP/dig.fail" ] && echo " ($(oneline "$(sort "$E2E_TMP/dig.fail" | uniq -c)"))")"
	assert_flood_counted "the IPv6 flood as policy_drop" "$fsent" "$drops" "$lost"
	check "at most 0.1% of the IPv6 flood reaches the protected stack ($through of $fsent)" \
		at_most_permille "$through" "$fsent" 1
	check "dns counts at least $DIG6_N solicited IPv6 replies ($sol)" test "$sol" -ge "$DIG6_N"

	snapshot
	s0=$STATS
	SPOOF_ERR=""
	if ! ask_start 6 40653 1.5; then
		not_ok "udpask.py -6 sends its query" "$(cat "$E2E_TMP/ask.out")"
		return
	fi
	spoof 6 "$DNS6" 53 "$ADDR_P6" 40653 "$N"
	spoof 6 "$DNS6" 123 "$ADDR_P6" 40653 "$N"
	ask_end
	snapshot
	assert_eq "IPv6 spoofed probes were all sent" "" "$SPOOF_ERR"
	assert_eq "IPv6: the real answer and $N replies on the 4-tuple arrive, none from [$DNS6]:123" \
		"$((N + 1)) $((N + 1))" "$(ask_received "$ADDR_P6" 40653 "$DNS6" 53) $(ask_line total)"
	want=$(printf '%s\n' "dns solicited $((N + 1))" "ntp policy_drop $N")
	assert_lines "IPv6 counters: $((N + 1)) dns solicited, $N ntp policy_drop" \
		"$want" "$(counter_deltas "$s0" "$STATS")"
}

# An NTP server on the protected host: requests from udp/123 to udp/123 pass
# when the port is served, and are dropped when it is not.
test_served()
{
	local s0 want srv

	assert_eq "no port is served by default" "[]" "$(status_field "$NS_P" 'd["served_ports"]')"

	snapshot
	s0=$STATS
	traffic 4 123:123:"$N"
	snapshot
	assert_eq "not served: 0 of $N NTP requests from udp/123 reach udp/123" 0 "${RECV[123]:-}"
	assert_lines "not served: the $N are ntp policy_drop" \
		"$(printf '%s\n' "ntp policy_drop $N" "other no_vector $MARKER_N")" \
		"$(counter_deltas "$s0" "$STATS")"

	check_here "chronyd serves NTP on the protected host ($ADDR_P4)" \
		start_ntp_server srv "$NS_P" ntpd-prot "$ADDR_P4"
	snapshot
	s0=$STATS
	check_here "not served: a real NTP client on $NTPCLI4:123 gets no time from the protected host" \
		ntp_no_time "$NS_A" ntp-unserved 3 "server $ADDR_P4 iburst" "acquisitionport 123" \
		"bindacqaddress $NTPCLI4"
	snapshot
	check "not served: its requests are ntp policy_drop" \
		test "$(counter_packets ntp policy_drop)" -gt \
		"$(STATS=$s0 counter_packets ntp policy_drop)"
	assert_eq "not served: nothing counted as served" 0 "$(reason_packets served)"

	agrun "$NS_P" serve 123
	assert_success "serve 123" "^udp port 123: served"
	assert_eq "status lists port 123 as served" "[123]" \
		"$(status_field "$NS_P" 'd["served_ports"]')"
	snapshot
	s0=$STATS
	check_here "served: a real NTP client on $ADDR_A4:123 gets the time from the protected host" \
		ntp_query "$NS_A" ntp-served 5 "server $ADDR_P4 iburst" "acquisitionport 123" \
		"bindacqaddress $ADDR_A4"
	snapshot
	check "served: its requests are counted as ntp served" \
		test "$(reason_packets served ntp)" -gt "$(STATS=$s0 reason_packets served ntp)"
	daemon_stop "$srv"

	snapshot
	s0=$STATS
	traffic 4 123:123:"$N"
	snapshot
	assert_eq "served: all $N NTP requests from udp/123 reach udp/123" "$N" "${RECV[123]:-}"
	assert_lines "served: the $N are ntp served" \
		"$(printf '%s\n' "ntp served $N" "other no_vector $MARKER_N")" \
		"$(counter_deltas "$s0" "$STATS")"

	agrun "$NS_P" serve 123 --delete
	assert_success "serve 123 --delete" "^udp port 123: no longer served"
	assert_eq "status lists no served port" "[]" "$(status_field "$NS_P" 'd["served_ports"]')"
	snapshot
	s0=$STATS
	# A fresh client: the NTP server above answered $ADDR_A4:123, which
	# the recorder saw as a request to it.
	traffic 4 "123:123:$N:-s 192.0.2.62"
	snapshot
	assert_eq "no longer served: 0 of $N NTP requests from udp/123 reach udp/123" 0 \
		"${RECV[123]:-}"
	assert_lines "no longer served: the $N are ntp policy_drop again" \
		"$(printf '%s\n' "ntp policy_drop $N" "other no_vector $MARKER_N")" \
		"$(counter_deltas "$s0" "$STATS")"
}

# The tracking table after all of this.
test_status_tracking()
{
	local entries capacity

	entries=$(status_field "$NS_P" 'd["tracking"]["entries"]')
	capacity=$(status_field "$NS_P" 'd["tracking"]["capacity"]')
	echo "# tracking: $entries entries of $capacity"
	check "status: tracking entries > 0 after the exchanges ($entries)" test "${entries:-0}" -gt 0
	assert_eq "status: tracking capacity" 131072 "$capacity"
	check "dnsmasq ran through the whole test" daemon_alive "$DNSMASQ_PID"
	check "the internet side's chronyd ran through the whole test" daemon_alive "$NTPD_PID"
}

# The internet side's servers run from here on, for every test.
suite_setup()
{
	require
	require_udpflood
	private_binaries
	for cmd in dnsmasq chronyd dig ss; do
		command -v $cmd >/dev/null || bail "$cmd is missing: run 'make deps'"
	done
	setup_internet || bail "cannot build the namespaces"
	# Not under 'check': that runs its command in a subshell, which would
	# lose the daemons' pids.
	start_dnsmasq || bail "dnsmasq does not start: $(cat "$E2E_TMP/dnsmasq.log")"
	start_ntp_server NTPD_PID "$NS_A" ntpd-inet $NTP4 ||
		bail "chronyd does not start: $(cat "$E2E_TMP/ntpd-inet.log")"
}

E2E_TESTS=(test_baseline test_attach test_flood_v4 test_forged_replies test_expiry
	test_flood_v6 test_served test_status_tracking)
# Everything after test_attach runs on what it attached; the closing
# status test looks back on the exchanges of all the others.
for t in "${E2E_TESTS[@]:2}"; do
	E2E_NEEDS[$t]=test_attach
done
E2E_NEEDS[test_status_tracking]="${E2E_TESTS[*]:0:7}"
e2e_run "$@"
