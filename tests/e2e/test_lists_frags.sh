#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: allow and deny lists, fragments and orphan fragments, with
# real packets across a veth. What the protected side's sockets and IP
# stack receive is compared with 'ampguard stats --json', exactly.
#
#   NS_A (peer)  peer0 ----------- prot0  NS_P (protected, ampguard)
#   192.0.2.1, 2001:db8::1                192.0.2.2, 2001:db8::2
#   spoofed sources: 203.0.113.0/24, 198.51.100.0/24, 2001:db8:xxxx::
#
# Large datagrams are sent from ordinary sockets, so the peer's kernel
# fragments them; orphan fragments and TCP SYNs are hand-built frames
# (tests/tools/rawframes.py); sockets on the protected side come from
# udpsink and tests/tools/sockpeer.py.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SOCKPEER=$E2E_TOP/tests/tools/sockpeer.py
RAWFRAMES=$E2E_TOP/tests/tools/rawframes.py

N=50            # datagrams per UDP flow, SYNs per TCP probe
BIG=4000        # UDP payload of a large datagram: 3 fragments at MTU 1500
BIG_N=5         # large datagrams per unsolicited run
REPLIES=3       # large replies to one solicited request
ORPHAN_DGRAMS=20      # datagrams whose later fragments are sent (2 each)
BURST_DGRAMS=250      # the same for the orphan rate limit: 500 orphans
ORPHAN_PPS=100
ORPHAN_BURST=10
RL_MARGIN=5     # orphans admitted beyond burst + rate x elapsed, at most
# The least admitted counts the rate over the send time less the time the
# sender reports it stalled: a stall longer than burst / rate (0.1 s)
# wastes the tokens the full bucket cannot hold. It also allows a tenth of
# rate x send time for what the sender cannot see: frames held between its
# socket and the program when the machine defers the receiving softirq.
RL_SHORT_PERMILLE=100
BURST_PPS=500   # the paced orphan run: 500 orphans in about a second
BULK=100000     # entries in the bulk denylist file
FRAME_RATE=2000 # pps of paced hand-built frames

# Sources. Peer-side addresses that sockets use are assigned in NS_A.
DENY4=203.0.113.0/24
DENIED4=203.0.113.7          # inside DENY4
DENIED_ALLOWED4=203.0.113.9  # inside DENY4 and on the allowlist
ALLOWED4=198.51.100.53       # on the allowlist, sends from port 53
UNLISTED4=198.51.100.54
ORPHAN_SRC4=198.51.100.20
DENY6=2001:db8:bad::/48
DENIED6=2001:db8:bad::7
DENIED_ALLOWED6=2001:db8:bad::9
ALLOWED6=2001:db8:a11::53
UNLISTED6=2001:db8:a11::54
ORPHAN_SRC6=2001:db8:f::20

TCP_CLOSED=8081 # no listener on the protected side: a SYN earns a RST
TCP_OPEN=8080

# ---- helpers -----------------------------------------------------------

# setup_routes: the spoofed and extra sources live behind the peer, so
# what gets through reaches the protected side's sockets and can be
# answered; the peer owns DENIED* and ALLOWED* for real connections and
# for large datagrams its kernel fragments.
setup_routes()
{
	ip -n "$NS_P" route add 203.0.113.0/24 via $ADDR_A4 &&
		ip -n "$NS_P" route add 198.51.100.0/24 via $ADDR_A4 &&
		ip -n "$NS_P" -6 route add 2001:db8::/32 via $ADDR_A6 &&
		ip -n "$NS_A" addr add $DENIED4/32 dev "$IF_A" &&
		ip -n "$NS_A" addr add $DENIED6/128 dev "$IF_A" nodad &&
		ip -n "$NS_A" addr add $ALLOWED4/32 dev "$IF_A" &&
		ip -n "$NS_A" addr add $ALLOWED6/128 dev "$IF_A" nodad
}

# begin: the counters before a step, for deltas.
begin()
{
	snapshot
	BEFORE=$STATS
}

# deltas: "VECTOR REASON PACKETS" per UDP-path counter that moved since begin.
deltas()
{
	counter_deltas "$BEFORE" "$STATS"
}

# bytes_delta VECTOR REASON: bytes the counter grew by since begin.
bytes_delta()
{
	local old new

	old=$(printf '%s\n' "$BEFORE" | awk -v v="$1" -v r="$2" '$1 == v && $3 == r { n = $6 } END { print n + 0 }')
	new=$(printf '%s\n' "$STATS" | awk -v v="$1" -v r="$2" '$1 == v && $3 == r { n = $6 } END { print n + 0 }')
	echo $((new - old))
}

# lines ARGS...: one argument per line, sorted (an expected delta set).
lines()
{
	printf '%s\n' "$@" | sort
}

# snmp NS KEY...: values of /proc/net/snmp ("Ip:ReasmReqds", "Tcp:InSegs")
# and /proc/net/snmp6 ("Ip6ReasmReqds") counters in NS, space-separated.
# shellcheck disable=SC2016 # awk program
snmp()
{
	local ns=$1

	shift
	ip netns exec "$ns" awk -v keys="$*" '
		FILENAME ~ /snmp6$/ { v[$1] = $2; next }
		{
			if (!($1 in hdr)) {
				hdr[$1] = 1
				for (i = 2; i <= NF; i++) name[$1, i] = $i
				next
			}
			for (i = 2; i <= NF; i++) v[$1 name[$1, i]] = $i
		}
		END {
			n = split(keys, k, " ")
			for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), v[k[i]] + 0
			print ""
		}' /proc/net/snmp /proc/net/snmp6
}

# reasm NS FAMILY: "REQDS OKS FAILS" of the IP reassembly counters.
reasm()
{
	if [ "$2" = 6 ]; then
		snmp "$1" Ip6ReasmReqds Ip6ReasmOKs Ip6ReasmFails
	else
		snmp "$1" Ip:ReasmReqds Ip:ReasmOKs Ip:ReasmFails
	fi
}

# reasm_delta OLD NEW: "dREQDS dOKS dFAILS".
reasm_delta()
{
	local a b c x y z

	read -r a b c <<<"$1"
	read -r x y z <<<"$2"
	echo "$((x - a)) $((y - b)) $((z - c))"
}

# raw FAMILY SUBCOMMAND ARGS...: rawframes.py on the peer's side of the
# veth; its "sent ..." line goes to RAW_OUT. Fails unless it sent.
raw()
{
	local fam=$1 cmd=$2 v6=()

	shift 2
	[ "$fam" = 6 ] && v6=(-6)
	RAW_OUT=$(ip netns exec "$NS_A" python3 "$RAWFRAMES" "$cmd" "${v6[@]}" --dev "$IF_A" \
		--src-mac "$MAC_A" --dst-mac "$MAC_P" "$@" 2>&1)
	[[ "$RAW_OUT" == sent\ * ]]
}

# big_first_bytes FAMILY, big_later_bytes FAMILY: frame bytes (Ethernet
# header included) of the first fragment, and of the two later ones
# together, of a BIG-byte UDP datagram fragmented at MTU 1500.
big_first_bytes()
{
	if [ "$1" = 6 ]; then echo $((14 + 40 + 8 + 1448)); else echo $((14 + 1500)); fi
}

big_later_bytes()
{
	local udp=$((8 + BIG))

	if [ "$1" = 6 ]; then
		echo $((14 + 40 + 8 + 1448 + 14 + 40 + 8 + udp - 2 * 1448))
	else
		echo $((14 + 1500 + 14 + 20 + udp - 2 * 1480))
	fi
}

# list_json VERB: the list as 'VERB --json' gives it, one CIDR per line.
list_json()
{
	ag "$NS_P" "$1" --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert isinstance(doc, list) and all(isinstance(x, str) for x in doc), "not a list of strings"
print("\n".join(doc))'
}

# sockpeer NS FAMILY COMMAND ARGS...: tests/tools/sockpeer.py in NS.
sockpeer()
{
	local ns=$1 fam=$2 cmd=$3 v6=()

	shift 3
	[ "$fam" = 6 ] && v6=(-6)
	ip netns exec "$ns" python3 "$SOCKPEER" "$cmd" "${v6[@]}" "$@"
}

# ere STRING: STRING quoted for an extended regular expression.
ere()
{
	printf '%s' "$1" | sed 's/[].[^$*+?(){}|\\/]/\\&/g'
}

# tcp_listen ADDR PORT: a one-connection TCP echo in NS_P (pid in TCP_PID).
tcp_listen()
{
	rm -f "$E2E_TMP/tcp.ready"
	daemon_start TCP_PID tcp "$NS_P" python3 "$TCPECHO" serve "$1" "$2" "$E2E_TMP/tcp.ready"
	wait_file "$E2E_TMP/tcp.ready"
}

# ---- before attach -----------------------------------------------------

# The measuring stick: without ampguard a large datagram from udp/53 is
# fragmented, reassembled and delivered; the reassembly counters see it.
test_baseline()
{
	local fam dst src r0 d out

	for fam in 4 6; do
		src=$ADDR_A4 dst=$ADDR_P4
		[ "$fam" = 6 ] && src=$ADDR_A6 dst=$ADDR_P6
		r0=$(reasm "$NS_P" "$fam")
		sink_start "$fam" 9053
		out=$(sockpeer "$NS_A" "$fam" send \
			--src "$src" --sport 53 --dst "$dst" --dport 9053 --size "$BIG" --count "$BIG_N" 2>&1)
		[ "$out" = "sent $BIG_N" ] || SINK_ERR+="sockpeer send: $out; "
		sink_end || continue
		d=$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")")
		assert_eq "IPv$fam without ampguard: all $BIG_N datagrams of $BIG bytes from udp/53 arrive" \
			"$BIG_N" "${RECV[9053]:-}"
		assert_eq "IPv$fam without ampguard: the stack reassembles them (3 fragments each)" \
			"$((3 * BIG_N)) $BIG_N 0" "$d"
	done
}

test_attach()
{
	attach_check "attach $IF_P with the default profile" "^$IF_P: protected"
	agrun "$NS_P" fragments "$IF_P" --json
	assert_eq "the default orphan policy is ratelimit 1000 pps, burst 100" \
		"[{'interface': '$IF_P', 'orphans': 'ratelimit', 'pps': 1000, 'burst': 100}]" \
		"$(printf '%s' "$AG_OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin))')"
}

# ---- lists -------------------------------------------------------------

# test_lists_udp FAMILY: deny a range, allow a source inside it and one
# that sends from udp/53, and see who gets through.
test_lists_udp()
{
	local fam=$1 deny=$DENY4 denied=$DENIED4 dal=$DENIED_ALLOWED4 allowed=$ALLOWED4
	local unlisted=$UNLISTED4 peer=$ADDR_A4

	if [ "$fam" = 6 ]; then
		deny=$DENY6 denied=$DENIED6 dal=$DENIED_ALLOWED6 allowed=$ALLOWED6
		unlisted=$UNLISTED6 peer=$ADDR_A6
	fi
	agrun "$NS_P" deny "$deny"
	assert_success "IPv$fam: deny $deny" "^denylist: added 1 of 1$"
	agrun "$NS_P" allow "$dal" "$allowed"
	assert_success "IPv$fam: allow $dal (inside $deny) and $allowed" "^allowlist: added 2 of 2$"

	begin
	flows "$fam" \
		"$denied   40000 9400 $N 0   - IPv$fam: 0 of $N from $denied (denied) udp/40000 arrive" \
		"$peer     40000 9401 $N all - IPv$fam: all $N from $peer (not listed) udp/40000 arrive" \
		"$dal      53    9053 $N 0   - IPv$fam: 0 of $N from $dal (denied and allowed) arrive: deny wins" \
		"$allowed  53    9054 $N all - IPv$fam: all $N from allowlisted $allowed udp/53 arrive" \
		"$unlisted 53    9055 $N 0   - IPv$fam: 0 of $N from unlisted $unlisted udp/53 arrive" ||
		return
	snapshot
	assert_lines "IPv$fam: counters: denylist $((2 * N)) and allowlist $N under 'other', the unlisted one policy_drop" \
		"$(lines "other denylist $((2 * N))" "other allowlist $N" "dns policy_drop $N" \
			"other no_vector $((N + MARKER_N))")" "$(deltas)"
	assert_eq "IPv$fam: denylist drops have verdict drop" "drop" \
		"$(counter_line other denylist | awk '{ print $4 }')"
}

# test_lists_tcp FAMILY: a denied source's TCP is dropped at the NIC, as
# hand-built SYNs (exact count) and as a real connection attempt.
test_lists_tcp()
{
	local fam=$1 denied=$DENIED4 dst=$ADDR_P4 peer=$ADDR_A4 t0 out

	if [ "$fam" = 6 ]; then
		denied=$DENIED6 dst=$ADDR_P6 peer=$ADDR_A6
	fi
	begin
	t0=$(snmp "$NS_P" Tcp:InSegs)
	raw "$fam" syn --src "$denied" --dst "$dst" --sport 41000 --dport "$TCP_CLOSED" --count "$N" \
		--rate "$FRAME_RATE"
	assert_match "IPv$fam: $N TCP SYNs from $denied sent" "^sent $N " "$RAW_OUT"
	settle_stats
	assert_lines "IPv$fam: all $N TCP SYNs from $denied counted as denylist" \
		"other denylist $N" "$(deltas)"
	assert_eq "IPv$fam: none of them reached the protected TCP stack" 0 \
		"$(($(snmp "$NS_P" Tcp:InSegs) - t0))"

	tcp_listen "$dst" "$TCP_OPEN" || {
		not_ok "IPv$fam: TCP listener" "$(cat "$E2E_TMP/tcp.log")"
		return
	}
	out=$(sockpeer "$NS_A" "$fam" connect \
		--src "$denied" --dst "$dst" --dport "$TCP_OPEN" --timeout 2 2>&1)
	assert_eq "IPv$fam: a TCP connection from $denied times out" "failed: timed out" "$out"
	out=$(ip netns exec "$NS_A" python3 "$TCPECHO" ping "$dst" "$TCP_OPEN" 2>&1)
	assert_eq "IPv$fam: a TCP connection from $peer (not listed) echoes" echoed "$out"
	daemon_stop "$TCP_PID"
}

# test_lists_delete FAMILY: --delete gives the sources back their usual fate.
test_lists_delete()
{
	local fam=$1 deny=$DENY4 denied=$DENIED4 dal=$DENIED_ALLOWED4 allowed=$ALLOWED4
	local dst=$ADDR_P4 t0 out

	if [ "$fam" = 6 ]; then
		deny=$DENY6 denied=$DENIED6 dal=$DENIED_ALLOWED6 allowed=$ALLOWED6 dst=$ADDR_P6
	fi
	agrun "$NS_P" deny "$deny" --delete
	assert_success "IPv$fam: deny $deny --delete" "^denylist: removed 1 of 1$"
	agrun "$NS_P" allow "$allowed" --delete
	assert_success "IPv$fam: allow $allowed --delete" "^allowlist: removed 1 of 1$"

	begin
	flows "$fam" \
		"$denied  40000 9400 $N all - IPv$fam after --delete: all $N from $denied udp/40000 arrive" \
		"$dal     53    9053 $N all - IPv$fam after --delete: all $N from $dal (still allowed) udp/53 arrive" \
		"$allowed 53    9054 $N 0   - IPv$fam after --delete: 0 of $N from $allowed (no longer allowed) udp/53 arrive" ||
		return
	snapshot
	assert_lines "IPv$fam after --delete: no_vector, allowlist and policy_drop, no denylist" \
		"$(lines "other no_vector $((N + MARKER_N))" "other allowlist $N" \
			"dns policy_drop $N")" "$(deltas)"

	begin
	t0=$(snmp "$NS_P" Tcp:InSegs)
	raw "$fam" syn --src "$denied" --dst "$dst" --sport 41001 --dport "$TCP_CLOSED" --count "$N" \
		--rate "$FRAME_RATE"
	settle_stats
	assert_eq "IPv$fam after --delete: all $N TCP SYNs from $denied reach the TCP stack" \
		"$N" "$(($(snmp "$NS_P" Tcp:InSegs) - t0))"
	assert_eq "IPv$fam after --delete: no UDP-path counter moved for them" "" "$(deltas)"
	tcp_listen "$dst" "$TCP_OPEN" || {
		not_ok "IPv$fam: TCP listener" "$(cat "$E2E_TMP/tcp.log")"
		return
	}
	out=$(sockpeer "$NS_A" "$fam" connect \
		--src "$denied" --dst "$dst" --dport "$TCP_OPEN" --timeout 5 2>&1)
	assert_eq "IPv$fam after --delete: a TCP connection from $denied succeeds" connected "$out"
	daemon_stop "$TCP_PID"

	agrun "$NS_P" allow "$dal" --delete
	assert_success "IPv$fam: allow $dal --delete" "^allowlist: removed 1 of 1$"
}

test_lists_json()
{
	agrun "$NS_P" deny "$DENY4" "$DENY6" "$DENIED_ALLOWED4"
	assert_success "deny three CIDRs at once" "^denylist: added 3 of 3$"
	assert_lines "deny --json lists them as CIDR strings" \
		"$(lines "$DENIED_ALLOWED4/32" "$DENY4" "$DENY6")" "$(list_json deny | sort)"
	agrun "$NS_P" deny "$DENY4" "$DENY6" "$DENIED_ALLOWED4" --delete
	assert_success "and removes them at once" "^denylist: removed 3 of 3$"
	agrun "$NS_P" deny --json
	assert_eq "deny --json on an empty list: []" "[]" "$(printf '%s' "$AG_OUT" | tr -d ' \n')"
}

# Bad input: one line naming it, non-zero exit, nothing applied.
test_lists_bad_input()
{
	local verb bad before ok_cidr=198.51.100.128/25

	agrun "$NS_P" deny "$DENY4"
	assert_success "deny $DENY4 (for the rollback checks)" "^denylist: added 1 of 1$"
	for verb in deny allow; do
		before=$(list_json "$verb")
		for bad in 300.1.2.3/8 2001:db8::/129 192.0.2.1/24 2001:db8::1/64 192.0.2.0/33 \
			not-an-address; do
			agrun "$NS_P" "$verb" "$ok_cidr" "$bad"
			assert_error "$verb $ok_cidr $bad: one line naming '$bad'" "$(ere "$bad")"
			assert_lines "$verb $ok_cidr $bad: the $verb list is unchanged" "$before" \
				"$(list_json "$verb")"
		done
	done
	agrun "$NS_P" deny 192.0.2.1/24
	assert_error "deny 192.0.2.1/24 says the host bits are set" "192\\.0\\.2\\.1/24.*host bits"

	before=$(list_json deny)
	agrun "$NS_P" deny "$DENY4" 198.51.100.77 --delete
	assert_error "deny --delete of an entry not on the list fails naming it" "198\\.51\\.100\\.77"
	assert_lines "and the entry deleted before it is back: the list is unchanged" "$before" \
		"$(list_json deny)"
	agrun "$NS_P" deny --file "$E2E_TMP/no-such-file"
	assert_error "deny --file of a missing file fails naming it" "no-such-file"
	agrun "$NS_P" deny "$DENY4" --delete
	assert_success "deny $DENY4 --delete" "^denylist: removed 1 of 1$"
}

# make_bulk FILE: BULK entries, IPv4 /32s and IPv6 /128s, with comments.
make_bulk()
{
	awk -v total="$BULK" 'BEGIN {
		print "# bulk denylist for the end-to-end test"
		print ""
		for (i = 128; i < 256; i++)
			print "192.0.2." i (i % 2 ? "" : "/32")
		print "   # indented comment"
		for (i = 1; i <= total - 128; i++)
			printf "2001:db8:1::%x:%x/128%s\n", int(i / 65536), i % 65536,
				(i % 1000 ? "" : "   # a comment")
	}' >"$1"
}

test_lists_bulk()
{
	local f=$E2E_TMP/bulk.txt bad=$E2E_TMP/bulk-bad.txt more=$E2E_TMP/bulk-more.txt
	local before after badline=54321

	make_bulk "$f"
	before=$(list_json deny)
	agrun "$NS_P" deny --file "$f"
	assert_success "deny --file with $BULK CIDRs" "^denylist: added $BULK of $BULK$"
	after=$(list_json deny)
	assert_eq "deny --json lists all $BULK" "$BULK" "$(printf '%s\n' "$after" | grep -c /)"
	assert_lines "the list holds the file's IPv4 /32s and IPv6 /128s, e.g." \
		"$(lines 192.0.2.129/32 192.0.2.200/32 2001:db8:1::beef/128)" \
		"$(printf '%s\n' "$after" | grep -xE '192\.0\.2\.(129|200)/32|2001:db8:1::beef/128' | sort)"
	assert_eq "status --json counts $BULK denylist entries" "$BULK" \
		"$(status_field "$NS_P" 'd["lists"]["deny"]')"

	begin
	flows 6 \
		"2001:db8:1::beef  40000 9600 $N 0   - bulk: 0 of $N from 2001:db8:1::beef (on the list) arrive" \
		"2001:db8:1:0:1::1 40000 9601 $N all - bulk: all $N from 2001:db8:1:0:1::1 (not on it) arrive" ||
		return
	flows 4 "192.0.2.200 40000 9400 $N 0 - bulk: 0 of $N from 192.0.2.200 (on the list) arrive" ||
		return
	snapshot
	assert_lines "bulk: $((2 * N)) counted as denylist" \
		"$(lines "other denylist $((2 * N))" "other no_vector $((N + 2 * MARKER_N))")" \
		"$(deltas)"

	# A bad line deep in a large file: nothing of the file is applied.
	awk -v n="$badline" 'NR == n { print "2001:db8:2::/129"; next } { sub(/^2001:db8:1::/, "2001:db8:3::"); print }' \
		"$f" >"$bad"
	agrun "$NS_P" deny --file "$bad"
	assert_error "a bad line $badline fails with '$bad:$badline:'" "$(ere "$bad"):$badline: "
	assert_lines "and the denylist is unchanged" "$after" "$(list_json deny)"
	printf '%s\n' "198.51.100.0/25 # fine" "# comment" "192.0.2.1/24" >"$bad"
	agrun "$NS_P" deny --file "$bad"
	assert_error "host bits set on line 3 fail with '$bad:3:'" "$(ere "$bad"):3:.*192\\.0\\.2\\.1/24"
	assert_lines "and line 1 was not applied" "$after" "$(list_json deny)"

	# More than the list holds: the part that went in is taken back.
	awk 'BEGIN { for (i = 1; i <= 40000; i++) printf "2001:db8:2::%x\n", i }' >"$more"
	agrun "$NS_P" deny --file "$more"
	assert_error "40000 more IPv6 entries overflow the list in one line" "full|exceed|131072"
	assert_lines "and the denylist is unchanged" "$after" "$(list_json deny)"

	agrun "$NS_P" deny --file "$f" --delete
	assert_success "deny --file --delete removes all $BULK" "^denylist: removed $BULK of $BULK$"
	assert_lines "the denylist is back to what it was" "$before" "$(list_json deny)"
	assert_eq "status --json counts 0 denylist entries" 0 \
		"$(status_field "$NS_P" 'd["lists"]["deny"]')"
}

# ---- fragments ---------------------------------------------------------

# test_frags_unsolicited FAMILY: large datagrams from udp/53 that nobody
# asked for: every fragment dropped at the NIC, nothing reassembled.
test_frags_unsolicited()
{
	local fam=$1 src=$ADDR_A4 dst=$ADDR_P4 r0 out

	[ "$fam" = 6 ] && src=$ADDR_A6 dst=$ADDR_P6
	r0=$(reasm "$NS_P" "$fam")
	begin
	sink_start "$fam" 9053
	out=$(sockpeer "$NS_A" "$fam" send \
		--src "$src" --sport 53 --dst "$dst" --dport 9053 --size "$BIG" --count "$BIG_N" 2>&1)
	[ "$out" = "sent $BIG_N" ] || SINK_ERR+="sockpeer send: $out; "
	sink_end || return
	snapshot
	assert_eq "IPv$fam: 0 of $BIG_N unsolicited $BIG-byte datagrams from udp/53 arrive" 0 \
		"${RECV[9053]:-}"
	assert_eq "IPv$fam: no fragment reached reassembly (reqds, oks, fails unchanged)" "0 0 0" \
		"$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")")"
	assert_lines "IPv$fam: $BIG_N first fragments policy_drop, $((2 * BIG_N)) later ones fragment_drop" \
		"$(lines "dns policy_drop $BIG_N" "dns fragment_drop $((2 * BIG_N))" \
			"other no_vector $MARKER_N")" "$(deltas)"
	assert_eq "IPv$fam: policy_drop bytes are the first fragments' frames" \
		$((BIG_N * $(big_first_bytes "$fam"))) "$(bytes_delta dns policy_drop)"
	assert_eq "IPv$fam: fragment_drop bytes are the later fragments' frames" \
		$((BIG_N * $(big_later_bytes "$fam"))) "$(bytes_delta dns fragment_drop)"
	assert_eq "IPv$fam: fragment_drop has verdict drop" drop \
		"$(counter_line dns fragment_drop | awk '{ print $4 }')"
}

# test_frags_solicited FAMILY: the protected host asks the peer's udp/53
# from a fixed port; the large replies pass whole.
test_frags_solicited()
{
	local fam=$1 src=$ADDR_A4 dst=$ADDR_P4 r0 out pid want port=40053 v6=()

	[ "$fam" = 6 ] && src=$ADDR_A6 dst=$ADDR_P6
	rm -f "$E2E_TMP/serve.ready"
	[ "$fam" = 6 ] && v6=(-6)
	daemon_start pid serve "$NS_A" python3 "$SOCKPEER" serve "${v6[@]}" \
		--bind "$src" --port 53 --size "$BIG" --replies "$REPLIES" --timeout 20 \
		--ready "$E2E_TMP/serve.ready"
	wait_file "$E2E_TMP/serve.ready" || {
		not_ok "IPv$fam: udp/53 responder" "$(cat "$E2E_TMP/serve.log")"
		return
	}
	r0=$(reasm "$NS_P" "$fam")
	begin
	out=$(sockpeer "$NS_P" "$fam" ask --bind "$dst" \
		--port "$port" --server "$src" --server-port 53 --timeout 10 --expect "$REPLIES" 2>&1)
	wait "$pid"
	forget_pid "$pid"
	settle_stats
	want=$(for ((i = 0; i < REPLIES; i++)); do echo "got $BIG intact"; done; echo "total $REPLIES")
	assert_lines "IPv$fam: the $REPLIES solicited $BIG-byte replies from udp/53 arrive intact" \
		"$want" "$out"
	assert_eq "IPv$fam: the responder answered $dst:$port" \
		"answered $dst $port $REPLIES" "$(cat "$E2E_TMP/serve.log")"
	assert_eq "IPv$fam: the stack reassembled them ($((3 * REPLIES)) fragments, $REPLIES datagrams)" \
		"$((3 * REPLIES)) $REPLIES 0" "$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")")"
	assert_lines "IPv$fam: $REPLIES first fragments solicited, $((2 * REPLIES)) later ones fragment_pass" \
		"$(lines "dns solicited $REPLIES" "dns fragment_pass $((2 * REPLIES))")" "$(deltas)"
	assert_eq "IPv$fam: fragment_pass bytes are the later fragments' frames" \
		$((REPLIES * $(big_later_bytes "$fam"))) "$(bytes_delta dns fragment_pass)"
}

# test_frags_lists FAMILY: the lists come before fragments: every
# fragment of a denied source's datagram is dropped as denylist, every
# fragment of an allowed source's datagram passes as allowlist.
test_frags_lists()
{
	local fam=$1 deny=$DENY4 denied=$DENIED4 allowed=$ALLOWED4 dst=$ADDR_P4 r0 out

	if [ "$fam" = 6 ]; then
		deny=$DENY6 denied=$DENIED6 allowed=$ALLOWED6 dst=$ADDR_P6
	fi
	agrun "$NS_P" deny "$deny"
	assert_success "IPv$fam: deny $deny" "^denylist: added 1 of 1$"
	agrun "$NS_P" allow "$allowed"
	assert_success "IPv$fam: allow $allowed" "^allowlist: added 1 of 1$"
	r0=$(reasm "$NS_P" "$fam")
	begin
	sink_start "$fam" 9400 9053
	out=$(sockpeer "$NS_A" "$fam" send --src "$denied" --sport 40000 --dst "$dst" \
		--dport 9400 --size "$BIG" --count "$BIG_N" 2>&1)
	[ "$out" = "sent $BIG_N" ] || SINK_ERR+="sockpeer send: $out; "
	out=$(sockpeer "$NS_A" "$fam" send --src "$allowed" --sport 53 --dst "$dst" \
		--dport 9053 --size "$BIG" --count "$BIG_N" 2>&1)
	[ "$out" = "sent $BIG_N" ] || SINK_ERR+="sockpeer send: $out; "
	sink_end || return
	snapshot
	assert_eq "IPv$fam: 0 of $BIG_N large datagrams from denied $denied udp/40000 arrive" 0 \
		"${RECV[9400]:-}"
	assert_eq "IPv$fam: all $BIG_N large datagrams from allowed $allowed udp/53 arrive" \
		"$BIG_N" "${RECV[9053]:-}"
	assert_lines "IPv$fam: every fragment counted by the list it matched" \
		"$(lines "other denylist $((3 * BIG_N))" "other allowlist $((3 * BIG_N))" \
			"other no_vector $MARKER_N")" "$(deltas)"
	assert_eq "IPv$fam: only the allowed source's fragments were reassembled" \
		"$((3 * BIG_N)) $BIG_N 0" "$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")")"
	agrun "$NS_P" deny "$deny" --delete
	assert_success "IPv$fam: deny $deny --delete" "^denylist: removed 1 of 1$"
	agrun "$NS_P" allow "$allowed" --delete
	assert_success "IPv$fam: allow $allowed --delete" "^allowlist: removed 1 of 1$"
}

# ---- orphans -----------------------------------------------------------

# orphans FAMILY POLICY REASON ID: later fragments only, under POLICY.
test_orphans()
{
	local fam=$1 policy=$2 reason=$3 id=$4 src=$ORPHAN_SRC4 dst=$ADDR_P4 r0 n reached

	[ "$fam" = 6 ] && src=$ORPHAN_SRC6 dst=$ADDR_P6
	n=$((2 * ORPHAN_DGRAMS))
	agrun "$NS_P" fragments "$IF_P" --orphans "$policy"
	assert_success "fragments $IF_P --orphans $policy" "^$IF_P: orphan fragments $policy$"
	r0=$(reasm "$NS_P" "$fam")
	begin
	raw "$fam" frags --src "$src" --dst "$dst" --sport 53 --dport 9053 --size "$BIG" \
		--datagrams "$ORPHAN_DGRAMS" --id "$id" --rate "$FRAME_RATE"
	assert_match "IPv$fam: $n orphan fragments sent" "^sent $n " "$RAW_OUT"
	settle_stats
	assert_lines "IPv$fam orphans $policy: all $n counted as $reason under 'other'" \
		"other $reason $n" "$(deltas)"
	reached=0
	[ "$policy" = pass ] && reached=$n
	assert_eq "IPv$fam orphans $policy: $reached reached reassembly, none completed" \
		"$reached 0" "$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")" | cut -d' ' -f1,2)"
}

# wait_orphans N: polls the counters (at most 5 s) until N more orphans
# than at begin are counted, into ADMITTED and DROPPED; ORPHANS_AT_US is
# the wall clock right after the counters were read.
wait_orphans()
{
	local i json

	for ((i = 0; i < 50; i++)); do
		json=$(ag "$NS_P" stats --json)
		ORPHANS_AT_US=${EPOCHREALTIME//[.,]/}
		STATS=$(printf '%s\n' "$json" | python3 "$AGJSON" counters |
			awk -v ifc="$IF_P" '$1 == ifc { print $2, $3, $4, $5, $6, $7 }' | sort)
		ADMITTED=$(deltas | awk '$1 == "other" && $2 == "orphan_pass" { n = $3 } END { print n + 0 }')
		DROPPED=$(deltas | awk '$1 == "other" && $2 == "orphan_drop" { n = $3 } END { print n + 0 }')
		[ $((ADMITTED + DROPPED)) -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# test_orphan_ratelimit FAMILY ID [PPS]: the orphan rate limit admits the
# burst plus the rate over the time the orphans took, sent as fast as the
# socket goes (or paced at PPS, well above the limit, for about a second).
# The upper bound runs from the first frame sent until every frame was
# seen counted; the lower one over the time the sender took.
test_orphan_ratelimit()
{
	local fam=$1 id=$2 pps=${3:-0} src=$ORPHAN_SRC4 dst=$ADDR_P4 r0 n t0 t1 w0 span max min how
	local lost0 lost stall

	[ "$fam" = 6 ] && src=$ORPHAN_SRC6 dst=$ADDR_P6
	n=$((2 * BURST_DGRAMS))
	how="as fast as possible"
	[ "$pps" -gt 0 ] && how="at $pps pps"
	agrun "$NS_P" fragments "$IF_P" --orphans ratelimit --pps "$ORPHAN_PPS" --burst "$ORPHAN_BURST"
	assert_success "fragments $IF_P --orphans ratelimit --pps $ORPHAN_PPS --burst $ORPHAN_BURST" \
		"^$IF_P: orphan fragments ratelimit $ORPHAN_PPS pps \\(burst $ORPHAN_BURST\\)$"
	r0=$(reasm "$NS_P" "$fam")
	begin
	lost0=$(pair_lost)
	raw "$fam" frags --src "$src" --dst "$dst" --sport 53 --dport 9053 --size "$BIG" \
		--datagrams "$BURST_DGRAMS" --id "$id" --rate "$pps"
	assert_match "IPv$fam: $n orphan fragments sent $how" "^sent $n " "$RAW_OUT"
	lost=$(($(pair_lost) - lost0))
	wait_orphans $((n - lost))
	read -r _ _ _ t0 _ t1 _ w0 _ stall <<<"$RAW_OUT"
	span=$((ORPHANS_AT_US - w0))
	max=$((ORPHAN_BURST + (ORPHAN_PPS * span + 999999) / 1000000 + RL_MARGIN))
	min=$(((ORPHAN_BURST + ORPHAN_PPS * (t1 - t0 - stall) / 1000000000) - RL_MARGIN -
		ORPHAN_PPS * (t1 - t0) * RL_SHORT_PERMILLE / 1000000000000))
	[ "$min" -lt "$ORPHAN_BURST" ] && min=$ORPHAN_BURST
	echo "# IPv$fam: $n orphans sent in $(((t1 - t0) / 1000)) us (stalled $((stall / 1000)) us)," \
		"all counted after $span us: $ADMITTED admitted, $DROPPED dropped (allowed: $min-$max)"
	assert_flood_counted "IPv$fam orphans $how as orphan_pass or orphan_drop" "$n" \
		"$((ADMITTED + DROPPED))" "$lost"
	check "IPv$fam orphans $how: at least burst + rate x (send time - stalls) - $RL_MARGIN - a tenth of rate x send time ($min) admitted, got $ADMITTED" \
		test "$ADMITTED" -ge "$min"
	check "IPv$fam orphans $how: at most burst + rate x time until counted + $RL_MARGIN ($max) admitted, got $ADMITTED" \
		test "$ADMITTED" -le "$max"
	assert_eq "IPv$fam orphans $how: only the admitted ones reached reassembly" \
		"$ADMITTED" "$(reasm_delta "$r0" "$(reasm "$NS_P" "$fam")" | cut -d' ' -f1)"
}

test_fragments_errors()
{
	agrun "$NS_P" fragments "$IF_P" --orphans sometimes
	assert_error "fragments --orphans sometimes fails in one line naming it" "sometimes"
	agrun "$NS_P" fragments nosuch0 --orphans drop
	assert_error "fragments of an unprotected interface fails in one line naming it" "nosuch0"
	agrun "$NS_P" fragments "$IF_P" --json
	assert_match "and the orphan policy is unchanged" "\"orphans\": *\"drop\"" "$AG_OUT"
}

# One test per family of the tests that take one.
test_lists_udp_v4() { test_lists_udp 4; }
test_lists_tcp_v4() { test_lists_tcp 4; }
test_lists_delete_v4() { test_lists_delete 4; }
test_lists_udp_v6() { test_lists_udp 6; }
test_lists_tcp_v6() { test_lists_tcp 6; }
test_lists_delete_v6() { test_lists_delete 6; }
test_frags_unsolicited_v4() { test_frags_unsolicited 4; }
test_frags_solicited_v4() { test_frags_solicited 4; }
test_frags_lists_v4() { test_frags_lists 4; }
test_frags_unsolicited_v6() { test_frags_unsolicited 6; }
test_frags_solicited_v6() { test_frags_solicited 6; }
test_frags_lists_v6() { test_frags_lists 6; }
test_orphans_v4_pass() { test_orphans 4 pass orphan_pass 1000; }
test_orphans_v4_drop() { test_orphans 4 drop orphan_drop 2000; }
test_orphans_v6_pass() { test_orphans 6 pass orphan_pass 3000; }
test_orphans_v6_drop() { test_orphans 6 drop orphan_drop 4000; }
test_orphan_ratelimit_v4() { test_orphan_ratelimit 4 10000; }
test_orphan_ratelimit_v6() { test_orphan_ratelimit 6 20000; }
test_orphan_ratelimit_v4_paced() { test_orphan_ratelimit 4 30000 "$BURST_PPS"; }

# The lists are empty again once the list tests are over.
test_lists_empty()
{
	agrun "$NS_P" deny --json
	assert_eq "the denylist is empty before the fragment tests" "[]" "$(printf '%s' "$AG_OUT" | tr -d ' \n')"
	agrun "$NS_P" allow --json
	assert_eq "the allowlist is empty before the fragment tests" "[]" "$(printf '%s' "$AG_OUT" | tr -d ' \n')"
}

suite_setup()
{
	require
	setup_pair || bail "cannot build the namespaces"
	setup_routes || bail "cannot add the routes and peer addresses"
}

E2E_TESTS=(test_baseline test_attach
	test_lists_udp_v4 test_lists_tcp_v4 test_lists_delete_v4
	test_lists_udp_v6 test_lists_tcp_v6 test_lists_delete_v6
	test_lists_json test_lists_bad_input test_lists_bulk test_lists_empty
	test_frags_unsolicited_v4 test_frags_solicited_v4 test_frags_lists_v4
	test_frags_unsolicited_v6 test_frags_solicited_v6 test_frags_lists_v6
	test_orphans_v4_pass test_orphans_v4_drop test_orphans_v6_pass test_orphans_v6_drop
	test_fragments_errors
	test_orphan_ratelimit_v4 test_orphan_ratelimit_v6 test_orphan_ratelimit_v4_paced)
# Everything runs on what test_attach attached; the list tests of a family
# go on with the entries its UDP test added, and the last orphan test
# leaves the policy the errors test expects to find unchanged.
for t in "${E2E_TESTS[@]:2}"; do
	E2E_NEEDS[$t]=test_attach
done
for fam in 4 6; do
	E2E_NEEDS[test_lists_tcp_v$fam]=test_lists_udp_v$fam
	E2E_NEEDS[test_lists_delete_v$fam]="test_lists_udp_v$fam test_lists_tcp_v$fam"
done
E2E_NEEDS[test_fragments_errors]=test_orphans_v6_drop
e2e_run "$@"
