#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: `ampguard capture`, the datapath's sampled copies of what it
# decides, written as pcapng (or pcap) and read back by tshark, capinfos
# and tcpdump.
#
#   peer: udpflood from 53,123,1900,11211 (spoofed 192.0.2.64/28),
#         udpgen 40000 -> 5000 (no vector), udpecho on 53
#                                      ->   prot: ampguard (default profile),
#                                             udpgen 41000 -> peer:53 (DNS asks),
#                                             the captures, exporter --once
#
# The four vectors' flood drops as policy_drop while benign traffic passes
# (no_vector, and the echoes of the host's own DNS asks as solicited); all
# of it runs in the background during each test, at modest rates.
#   - --reason policy_drop -c 200 writes exactly 200 packets, each with its
#     comment (verdict, reason, one of the four vectors and its port,
#     interface, sample), inbound, with a queue, on the one protected
#     interface; tcpdump reads the file and its 'udp src port 53' is
#     exactly the packets the comments call dns; the summary line on stderr
#     says written 200;
#   - --verdict pass --vector dns holds only the solicited DNS echoes;
#   - --max-pps 100 --duration 5s writes between 300 and 100*5 + burst,
#     and stops at the end of the duration;
#   - -w - streams: tshark and tcpdump read it from a pipe, and tcpdump
#     has its first packets while the capture still runs;
#   - a filter expression (udp src port 123) keeps only NTP;
#   - --format pcap writes a classic pcap that tcpdump reads;
#   - a capture killed with SIGKILL: the datapath stops copying within 2 s
#     (ampguard_capture_samples_total stops), ampguard_capture_active is 0
#     within 3 s;
#   - a second capture while one runs is refused with one line; the first
#     ends on SIGTERM with exit 0 and its summary line.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# Rates a small machine carries with room to spare; each test starts the
# traffic afresh (a sender stops after 60 s), and it outlasts the test.
FLOOD_PPS=${AG_CAP_FLOOD_PPS:-2000}
BENIGN_PPS=200
ASK_PPS=500
TRAFFIC_SECONDS=50
FLOOD_SRC=192.0.2.64
FLOOD_SOURCES=16
ASK_SPORT=41000
BENIGN_SPORT=40000
BENIGN_DPORT=5000
# No capture of this suite runs longer than this (ag's timeout).
CAP_TIMEOUT=40
# --max-pps' burst allowance, at most max(1, 100/10) + 100/10 at 100 pps.
BURST=20
SUMMARY_RE='^capture: sampled [0-9]+, written [0-9]+, filtered out [0-9]+, lost [0-9]+$'

# cap ARGS...: 'ampguard capture ARGS' in NS_P, bounded, as agrun.
cap()
{
	AG_TIMEOUT=$CAP_TIMEOUT agrun "$NS_P" capture "$@"
}

# cap_bg VAR ERRFILE ARGS...: a capture in the background, its pid (the
# capture itself: nsenter execs it) in VAR and E2E_PIDS, stderr in ERRFILE.
cap_bg()
{
	local _cb_var=$1 err=$2

	shift 2
	nsenter --net="/run/netns/$NS_P" "$AG_BIN" capture "$@" >/dev/null 2>"$err" &
	E2E_PIDS+=("$!")
	printf -v "$_cb_var" '%s' "$!"
}

# pkt_count FILE: packets in FILE as capinfos counts them, or "unreadable".
pkt_count()
{
	capinfos -M -c "$1" 2>/dev/null |
		awk -F: '$1 == "Number of packets" { gsub(/ /, "", $2); print $2; found = 1 }
			END { if (!found) print "unreadable" }'
}

# fields FILE FIELD...: tshark's fields of every packet of FILE, tab-separated.
fields()
{
	local f=$1 args=() x

	shift
	for x in "$@"; do
		args+=(-e "$x")
	done
	tshark -r "$f" -T fields "${args[@]}" 2>/dev/null
}

# iface_blocks FILE: "COUNT|NAME|ENCAPSULATION|SNAPLEN[|...]" of FILE's
# interface blocks, as capinfos tells them.
iface_blocks()
{
	capinfos -M -I "$1" 2>/dev/null | awk '
		/^Number of interfaces in file:/ { n = $NF }
		/^ +Name = / { sub(/^ +Name = /, ""); s = s "|" $0 }
		/^ +Encapsulation = / { sub(/^ +Encapsulation = /, ""); s = s "|" $0 }
		/^ +Capture length = / { s = s "|" $NF }
		END { print n s }'
}

# summary_of TEXT: the numbers of a summary line, "SAMPLED WRITTEN FILTERED LOST".
summary_of()
{
	printf '%s\n' "$1" | sed -nE \
		's/^capture: sampled ([0-9]+), written ([0-9]+), filtered out ([0-9]+), lost ([0-9]+)$/\1 \2 \3 \4/p'
}

# metric NAME: the value of NAME in 'exporter --once', summed over its
# label sets; "absent" when it is not there.
metric()
{
	ag "$NS_P" exporter --once 2>/dev/null | awk -v m="$1" '
		$1 == m || index($1, m "{") == 1 { s += $2; found = 1 }
		END { if (found) printf "%d\n", s; else print "absent" }'
}

metric_is()
{
	[ "$(metric "$1")" = "$2" ]
}

# metric_above NAME VALUE
metric_above()
{
	local v

	v=$(metric "$1")
	[ "$v" != absent ] && [ "$v" -gt "$2" ]
}

# bad_comments EXPECTED_ERE: the lines of 'comment<TAB>srcport' on stdin
# whose comment does not match EXPECTED_ERE (anchored) or whose port= is
# not the vector's port and the packet's source port; at most 3, each
# after its line number. "no packets" when there is no line at all.
bad_comments()
{
	awk -F'\t' -v re="^$1\$" -v ports="dns=53 ntp=123 ssdp=1900 memcached=11211" '
		BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) { split(p[i], kv, "="); port[kv[1]] = kv[2] } }
		{
			ok = $1 ~ re
			v = $1; sub(/.* vector=/, "", v); sub(/ .*/, "", v)
			pt = $1; sub(/.* port=/, "", pt); sub(/ .*/, "", pt)
			if (ok && !((v in port) && pt == port[v] && $2 == pt)) ok = 0
			if (!ok && bad++ < 3) print NR ": " $0
		}
		END { if (NR == 0) print "no packets" }'
}

# tcpdump_lines FILE: the packets tcpdump -nn printed in FILE (one line each).
tcpdump_lines()
{
	grep -cE '^[0-9:.]+ IP ' "$1"
}

# in_range N LO HI: N is a number from LO to HI.
in_range()
{
	[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# traffic_counts: "POLICY_DROP SOLICITED NO_VECTOR" packets of the four
# vectors, of solicited dns and of no_vector, from a fresh snapshot.
traffic_counts()
{
	snapshot
	echo "$(reason_packets policy_drop dns ntp ssdp memcached)" \
		"$(reason_packets solicited dns)" "$(reason_packets no_vector)"
}

# traffic_grew "OLD COUNTS": each of the three counts grew since OLD.
traffic_grew()
{
	local d0 s0 n0 d s n

	read -r d0 s0 n0 <<<"$1"
	read -r d s n <<<"$(traffic_counts)"
	[ "$d" -gt "$d0" ] && [ "$s" -gt "$s0" ] && [ "$n" -gt "$n0" ]
}

# stop_traffic: stops the senders of start_traffic and reaps them.
stop_traffic()
{
	local p

	for p in "${FLOOD_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	flood_wait
	flood_reset
}

# start_traffic: the flood and the benign traffic, afresh (the senders
# stop after 60 s, so each test starts its own); a check that they show.
start_traffic()
{
	local shows=0 before

	stop_traffic
	before=$(traffic_counts)
	flood_start vectors "$NS_A" "$UDPFLOOD" -s "$FLOOD_SRC" --sources "$FLOOD_SOURCES" \
		-d "$ADDR_P4" --sport 53,123,1900,11211 --dport 1024-39999 \
		-n $((FLOOD_PPS * TRAFFIC_SECONDS)) --rate "$FLOOD_PPS"
	flood_start benign "$NS_A" "$UDPGEN" -s "$ADDR_A4" -d "$ADDR_P4" --sport "$BENIGN_SPORT" \
		--dport "$BENIGN_DPORT" -n $((BENIGN_PPS * TRAFFIC_SECONDS)) --rate "$BENIGN_PPS"
	flood_start asks "$NS_P" "$UDPGEN" -s "$ADDR_P4" -d "$ADDR_A4" --sport "$ASK_SPORT" \
		--dport 53 -n $((ASK_PPS * TRAFFIC_SECONDS)) --rate "$ASK_PPS"
	wait_for 10 traffic_grew "$before" && shows=1
	assert_eq "the flood (policy_drop), the no_vector traffic and the solicited echoes show" 1 "$shows"
}

suite_setup()
{
	local t

	require
	require_udpflood
	[ -x "$E2E_TOP/build/tests/udpecho" ] || bail "build/tests/udpecho is missing: run 'make build/tests/udpecho'"
	for t in tshark capinfos tcpdump; do
		command -v "$t" >/dev/null || bail "$t is missing (packages tshark, tcpdump)"
	done
	private_binaries
	cp "$E2E_TOP/build/tests/udpecho" "$E2E_TMP/bin/" || bail "cannot copy udpecho"
	UDPECHO=$E2E_TMP/bin/udpecho
	export AMPGUARD_STATE_DIR=$E2E_TMP/state
	setup_pair || bail "cannot build the namespaces"
	agrun "$NS_P" attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || bail "attach failed: $AG_ERR"
	daemon_start ECHO_PID echo "$NS_A" "$UDPECHO" -p 53 -t "$DAEMON_MAX_SECONDS"
	wait_udp_listen "$NS_A" 0.0.0.0 53 || bail "udpecho does not listen"
}

suite_teardown()
{
	stop_traffic
	[ -n "${ECHO_PID:-}" ] && daemon_stop "$ECHO_PID"
}

test_reason_policy_drop()
{
	local f=$E2E_TMP/drops.pcapng out re dns lines rc

	start_traffic
	cap --reason policy_drop -c 200 -w "$f"
	CASE1_RC=$AG_RC
	CASE1_OUT=$AG_OUT
	CASE1_ERR=$AG_ERR
	assert_eq "--reason policy_drop -c 200 exits 0" 0 "$AG_RC"
	assert_eq "capinfos counts exactly 200 packets" 200 "$(pkt_count "$f")"
	out=$(fields "$f" frame.comment udp.srcport)
	assert_eq "tshark reads 200 packets, each with an ampguard comment" "200 200" \
		"$(printf '%s\n' "$out" | grep -c '') $(printf '%s\n' "$out" | grep -c '^ampguard ')"
	re="ampguard verdict=drop reason=policy_drop vector=(dns|ntp|ssdp|memcached) port=[0-9]+ iface=$IF_P sample=1/1"
	assert_eq "every comment is a policy_drop of one of the four vectors, with its port" "" \
		"$(printf '%s\n' "$out" | bad_comments "$re")"
	assert_eq "the four vectors are all there" "dns memcached ntp ssdp" \
		"$(printf '%s\n' "$out" | sed -n 's/.* vector=\([a-z]*\) .*/\1/p' | sort -u | paste -sd' ')"
	assert_eq "every packet is inbound on $IF_P, with a queue" "200" \
		"$(fields "$f" frame.interface_name frame.packet_flags_direction frame.interface_queue |
			awk -F'\t' -v i="$IF_P" '$1 == i && $2 ~ /^(0x0*)?1$/ && $3 ~ /^[0-9]+$/' | grep -c '')"
	assert_eq "one interface block: $IF_P, Ethernet, snaplen 256 (the default)" \
		"1|$IF_P|Ethernet (1 - ether)|256" "$(iface_blocks "$f")"
	dns=$(printf '%s\n' "$out" | grep -c ' vector=dns ')
	tcpdump -r "$f" -nn 'udp src port 53' >"$E2E_TMP/dns.txt" 2>/dev/null
	rc=$?
	lines=$(tcpdump_lines "$E2E_TMP/dns.txt")
	check "the comments name some dns ($dns)" test "$dns" -gt 0
	assert_eq "tcpdump reads the file; 'udp src port 53' is exactly the dns comments" \
		"0 $dns" "$rc $lines"
}

test_summary_line()
{
	assert_eq "case 1 printed nothing on stdout" "" "$CASE1_OUT"
	assert_eq "case 1 printed one line on stderr" 1 "$(nlines "$CASE1_ERR")"
	assert_match "the summary says written 200" \
		'^capture: sampled [0-9]+, written 200, filtered out [0-9]+, lost [0-9]+$' "$CASE1_ERR"
	assert_eq "and the capture exited 0" 0 "$CASE1_RC"
}

test_pass_solicited_dns()
{
	local f=$E2E_TMP/solicited.pcapng out

	start_traffic
	cap --verdict pass --vector dns -c 50 -w "$f"
	assert_eq "--verdict pass --vector dns -c 50 exits 0" 0 "$AG_RC"
	assert_eq "it wrote 50 packets" 50 "$(pkt_count "$f")"
	out=$(fields "$f" frame.comment udp.srcport)
	assert_eq "every comment is a solicited dns pass" "" \
		"$(printf '%s\n' "$out" | bad_comments "ampguard verdict=pass reason=solicited vector=dns port=53 iface=$IF_P sample=1/1")"
	assert_eq "every packet is an echo of the host's asks ($ADDR_A4:53 -> $ADDR_P4:$ASK_SPORT)" \
		"$ADDR_A4 53 $ADDR_P4 $ASK_SPORT" \
		"$(fields "$f" ip.src udp.srcport ip.dst udp.dstport | tr '\t' ' ' | sort -u)"
}

test_max_pps()
{
	local f=$E2E_TMP/maxpps.pcapng n t0 ms sum

	start_traffic
	t0=$(now_ms)
	cap --max-pps 100 --duration 5s -w "$f"
	ms=$(($(now_ms) - t0))
	assert_eq "--max-pps 100 --duration 5s exits 0" 0 "$AG_RC"
	n=$(pkt_count "$f")
	check "it wrote between 300 and $((100 * 5 + BURST)) packets ($n)" \
		in_range "$n" 300 $((100 * 5 + BURST))
	check "it stopped at the end of the 5 s (${ms} ms)" in_range "$ms" 4500 10000
	sum=$(summary_of "$AG_ERR")
	assert_eq "its summary line's written is what the file holds" "$n" "$(echo "$sum" | awk '{ print $2 }')"
	assert_eq "every packet is a drop (the default verdict)" "$n" \
		"$(fields "$f" frame.comment | grep -c '^ampguard verdict=drop ')"
}

test_pipe()
{
	local out rcs t0 first rc n

	start_traffic
	AG_TIMEOUT=$CAP_TIMEOUT ag "$NS_P" capture -w - -c 50 2>"$E2E_TMP/pipe.err" |
		tshark -r - -T fields -e frame.comment >"$E2E_TMP/pipe.out" 2>/dev/null
	rcs="${PIPESTATUS[*]}"
	out=$(<"$E2E_TMP/pipe.out")
	assert_eq "capture -w - -c 50 | tshark -r -: both exit 0" "0 0" "$rcs"
	assert_eq "tshark prints 50 lines, each an ampguard comment" "50 50" \
		"$(printf '%s\n' "$out" | grep -c '') $(printf '%s\n' "$out" | grep -c '^ampguard verdict=drop ')"
	assert_match "the capture's summary went to stderr" "$SUMMARY_RE" "$(cat "$E2E_TMP/pipe.err")"
	AG_TIMEOUT=$CAP_TIMEOUT ag "$NS_P" capture -w - -c 50 2>/dev/null |
		tcpdump -r - -nn >"$E2E_TMP/pipe.out" 2>/dev/null
	rcs="${PIPESTATUS[*]}"
	assert_eq "capture -w - -c 50 | tcpdump -r - -nn: both exit 0" "0 0" "$rcs"
	assert_eq "tcpdump prints 50 packets" 50 "$(tcpdump_lines "$E2E_TMP/pipe.out")"
	# Flushed per batch: a reader has its packets long before the end.
	t0=$(now_ms)
	AG_TIMEOUT=$CAP_TIMEOUT ag "$NS_P" capture -w - --duration 8s 2>/dev/null |
		{
			tcpdump -r - -nn -c 5 >"$E2E_TMP/first.out" 2>/dev/null
			echo "$? $(now_ms)" >"$E2E_TMP/first.ms"
			cat >/dev/null
		}
	read -r rc first <"$E2E_TMP/first.ms"
	first=$((first - t0))
	n=$(tcpdump_lines "$E2E_TMP/first.out")
	if [ "$rc $n" = "0 5" ]; then
		check "tcpdump -c 5 on the pipe had its packets within 3 s of an 8 s capture's start (${first} ms)" \
			test "$first" -le 3000
	else
		not_ok "tcpdump -c 5 on the pipe had its packets within 3 s" "exit $rc, $n packets"
	fi
}

test_filter_expression()
{
	local f=$E2E_TMP/ntp.pcapng out filtered

	start_traffic
	cap -c 50 -w "$f" udp src port 123
	assert_eq "capture -c 50 udp src port 123 exits 0" 0 "$AG_RC"
	assert_eq "it wrote 50 packets" 50 "$(pkt_count "$f")"
	out=$(fields "$f" frame.comment udp.srcport)
	assert_eq "every one is NTP" "" \
		"$(printf '%s\n' "$out" | bad_comments "ampguard verdict=drop reason=policy_drop vector=ntp port=123 iface=$IF_P sample=1/1")"
	filtered=$(summary_of "$AG_ERR" | awk '{ print $3 }')
	check "the summary counts the other vectors as filtered out (${filtered:-no summary})" \
		test "${filtered:-0}" -gt 0
}

test_pcap_format()
{
	local f=$E2E_TMP/classic.pcap lines rc

	start_traffic
	cap --format pcap -c 20 -w "$f"
	assert_eq "--format pcap -c 20 exits 0" 0 "$AG_RC"
	assert_match "capinfos calls it a classic pcap" '^File type: +Wireshark/tcpdump/\.\.\. - (nanosecond )?pcap$' \
		"$(capinfos -t "$f" 2>&1 | grep '^File type:')"
	assert_eq "capinfos counts 20 packets" 20 "$(pkt_count "$f")"
	tcpdump -r "$f" -nn >"$E2E_TMP/classic.txt" 2>/dev/null
	rc=$?
	lines=$(tcpdump_lines "$E2E_TMP/classic.txt")
	assert_eq "tcpdump reads its 20 packets" "0 20" "$rc $lines"
}

# capture_flag: the configuration's capture flag (ag_config.capture), which
# the classifier reads before it looks at the capture map. By name, through
# the map's BTF, which every supported kernel has.
capture_flag()
{
	bpftool map dump pinned "$AMPGUARD_ROOT/config" -j | python3 -c '
import json, sys
e = json.load(sys.stdin)[0]
if "formatted" not in e:
    sys.exit("bpftool printed the config map without BTF")
print(e["formatted"]["value"]["capture"])'
}

test_sigkill_lease()
{
	local pid before a b killed_at active=0 grew=0

	start_traffic
	before=$(metric ampguard_capture_samples_total)
	assert_match "ampguard_capture_samples_total is exported" '^[0-9]+$' "$before"
	[ "$before" = absent ] && before=0
	cap_bg pid "$E2E_TMP/killed.err" --duration 60s -w /dev/null
	wait_for 10 metric_above ampguard_capture_samples_total "$before" && grew=1
	assert_eq "the samples counter grows while the capture runs" 1 "$grew"
	assert_eq "ampguard_capture_active is 1 while it runs" 1 "$(metric ampguard_capture_active)"
	assert_eq "the configuration's capture flag is set while it runs" 1 "$(capture_flag)"
	# In one block with stderr off: bash would report the kill.
	{
		kill -9 "$pid"
		killed_at=$(now_ms)
		wait "$pid"
	} 2>/dev/null
	forget_pid "$pid"
	# By the clock, not by a count of polls: each scrape takes its time.
	while [ $(($(now_ms) - killed_at)) -le 3000 ]; do
		metric_is ampguard_capture_active 0 && active=1 && break
		sleep 0.1
	done
	assert_eq "ampguard_capture_active is 0 within 3 s of the SIGKILL" 1 "$active"
	ms_sleep $((2500 - ($(now_ms) - killed_at)))
	a=$(metric ampguard_capture_samples_total)
	sleep 1
	b=$(metric ampguard_capture_samples_total)
	if [[ "$a" =~ ^[0-9]+$ ]]; then
		assert_eq "the datapath stopped copying: two scrapes 1 s apart, 2.5 s after the kill" "$a" "$b"
	else
		not_ok "the datapath stopped copying" "ampguard_capture_samples_total is '$a'"
	fi
	assert_eq "a killed capture leaves the flag set (frames look at the expired lease)" 1 \
		"$(capture_flag)"
}

test_second_refused()
{
	local pid rc up=0 f=$E2E_TMP/first.pcapng n sum

	start_traffic
	cap_bg pid "$E2E_TMP/first.err" --duration 30s -w "$f"
	wait_for 10 metric_is ampguard_capture_active 1 && up=1
	assert_eq "the first capture holds the lease" 1 "$up"
	cap -c 1 --duration 2s -w "$E2E_TMP/second.pcapng"
	assert_error "a second capture is refused with one line" 'another capture is running'
	check "the first one still runs" kill -0 "$pid"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	forget_pid "$pid"
	assert_eq "the first one exits 0 on SIGTERM" 0 "$rc"
	assert_eq "its clean end clears the configuration's capture flag" 0 "$(capture_flag)"
	assert_eq "with one line on stderr" 1 "$(nlines "$(cat "$E2E_TMP/first.err")")"
	assert_match "its summary line" "$SUMMARY_RE" "$(cat "$E2E_TMP/first.err")"
	sum=$(summary_of "$(cat "$E2E_TMP/first.err")")
	n=$(pkt_count "$f")
	assert_eq "its summary's written is what its file holds" "$n" "$(echo "$sum" | awk '{ print $2 }')"
}

E2E_TESTS=(test_reason_policy_drop test_summary_line test_pass_solicited_dns test_max_pps
	test_pipe test_filter_expression test_pcap_format test_sigkill_lease test_second_refused)
E2E_NEEDS[test_summary_line]=test_reason_policy_drop
e2e_run "$@"
