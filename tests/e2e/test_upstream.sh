#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: upstream mitigation through real BGP sessions.
#
#   peer: the upstream router (BIRD 2, or gobgpd with AG_UP_ROUTER=gobgp),
#         udpflood from port 53                  ->   prot: ampguard, its daemon and ExaBGP
#
# The daemon peers with the router over the protected link (198.18.0.0/15
# would need another link; the link's own 192.0.2.0/24 does). DNS drops on
# the host; the daemon announces when one destination's unsolicited DNS
# reaches announce-at (50%) of link-bps, withdraws hold after the attack.
#   - a flood makes the rule appear in the router's table within 5 s of the
#     attack's detection, IPv4 and IPv6, and go hold after the attack ends;
#   - manual announce (rate-limit), --for expiry, RTBH with the blackhole
#     community, allowlisted sources kept out by accept rules, max-rules,
#     a destination outside protect refused, withdraw --all;
#   - ExaBGP killed: restarted, rules back; the router restarted: rules
#     re-announced when the session comes back;
#   - a clean stop withdraws everything (events), and the router has nothing.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bgp.sh
. "$(dirname "$0")/bgp.sh"

ROUTER=${AG_UP_ROUTER:-bird}
FLOOD_PPS=${AG_UP_FLOOD_PPS:-4000}
FLOOD_SECONDS=${AG_UP_FLOOD_SECONDS:-8}
FLOOD_SIZE=200
# 4000 pps of 200-byte payloads is ~8 Mbit/s on the wire: over half of 10M.
LINK_BPS=${AG_UP_LINK_BPS:-10M}
TRIGGER_PPS=$((FLOOD_PPS / 4))
DETECT_HOLD_S=2
UP_HOLD_S=${AG_UP_HOLD_S:-4}
LOCAL_AS=65001
PEER_AS=65000
# Time the router's table gets to show a change: the probe measured ms;
# a loaded machine and an emulated one need far more.
SHOW_S=${AG_UP_SHOW_S:-15}
# From the attack's detection to the rule in the router's table, as this
# script sees it (polling included); the daemon's own announce is always
# checked against 5 s. Emulated machines poll slowly.
ANNOUNCE_S=${AG_UP_ANNOUNCE_S:-5}
SESSION_S=${AG_UP_SESSION_S:-60}

r_start() { "${ROUTER}_start" "$NS_A" "$RDIR" "$ADDR_A4" "$PEER_AS" "$ADDR_P4" "$LOCAL_AS"; }
r_stop() { "${ROUTER}_stop" "$RDIR"; }
r_up() { "${ROUTER}_session_up" "$RDIR"; }
r_flow() { "${ROUTER}_flow" "$RDIR" "$1"; }
r_unicast() { "${ROUTER}_unicast" "$RDIR" "$1"; }

# has_flow FAMILY LINE: the router's FlowSpec table holds LINE.
has_flow() { r_flow "$1" | grep -qxF "$2"; }
no_flow() { ! r_flow "$1" | grep -qxF "$2"; }
flow_empty() { [ -z "$(r_flow 4)$(r_flow 6)" ]; }
# flows_are FAMILY N [LINE]: the FlowSpec table holds N routes (N equal to LINE).
flows_are()
{
	if [ $# -gt 2 ]; then
		[ "$(r_flow "$1" | grep -cxF "$3")" -eq "$2" ]
	else
		[ "$(r_flow "$1" | wc -l)" -eq "$2" ]
	fi
}
has_unicast() { r_unicast "$1" | grep -qxF "$2"; }
no_unicast() { ! r_unicast "$1" | grep -qxF "$2"; }

write_conf()
{
	cat >"$CONF" <<EOF
detection:
  interval: 1s
  trigger-pps: $TRIGGER_PPS
  hold: ${DETECT_HOLD_S}s
upstream:
  local-as: $LOCAL_AS
  router-id: $ADDR_P4
  local-address: $ADDR_P4
  next-hop6: $ADDR_P6
  neighbors:
    - { address: $ADDR_A4, peer-as: $PEER_AS }
  protect: [ $ADDR_P4/32, $ADDR_P6/128 ]
  link-bps: $LINK_BPS
  announce-at: 50%
  action: discard
  rate-limit-bps: 100M
  hold: ${UP_HOLD_S}s
  max-rules: ${MAX_RULES:-8}
EOF
}

start_daemon()
{
	nsenter --net="/run/netns/$NS_P" "$AG_BIN" daemon --config "$CONF" \
		--listen "127.0.0.1:19718" >>"$E2E_TMP/daemon.out" 2>>"$E2E_TMP/daemon.err" &
	DAEMON_PID=$!
	E2E_PIDS+=("$DAEMON_PID")
	wait_for 10 test -S "$AMPGUARD_STATE_DIR/upstream.sock"
}

stop_daemon()
{
	daemon_stop "$DAEMON_PID"
	DAEMON_PID=
}

suite_setup()
{
	require
	require_udpflood
	command -v exabgp >/dev/null || bail "exabgp is missing: run 'make deps'"
	command -v "$([ "$ROUTER" = bird ] && echo bird || echo gobgpd)" >/dev/null ||
		bail "$ROUTER is missing: run 'make deps'"
	private_binaries
	export AMPGUARD_STATE_DIR=$E2E_TMP/state
	CONF=$E2E_TMP/ampguard.yaml
	RDIR=$E2E_TMP/router
	mkdir -p "$RDIR" "$AMPGUARD_STATE_DIR" || bail "cannot make $RDIR"
	setup_pair || bail "cannot build the namespaces"
	write_conf
	agrun "$NS_P" attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || bail "attach failed: $AG_ERR"
	r_start || bail "the router ($ROUTER) does not start: $(tail -5 "$RDIR"/*.log 2>/dev/null)"
	start_daemon || bail "the daemon has no control socket: $(cat "$E2E_TMP/daemon.err")"
}

suite_teardown()
{
	[ -n "${DAEMON_PID:-}" ] && stop_daemon
	r_stop
}

up_json() { ag "$NS_P" upstream --json; }

# up_ok NAME ARGS...: 'ampguard upstream ARGS' succeeds with one line.
up_ok()
{
	local name=$1

	shift
	agrun "$NS_P" upstream "$@"
	assert_success "$name" .
}

# up_refused NAME ERE ARGS...: it fails with one line matching ERE.
up_refused()
{
	local name=$1 re=$2

	shift 2
	agrun "$NS_P" upstream "$@"
	assert_error "$name" "$re"
}

# up_field EXPR: a Python expression over the upstream JSON (d).
up_field()
{
	up_json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# events_named NAME: the upstream events NAME in the history, as
# "vector destination action origin[ reason]" lines.
events_named()
{
	ag "$NS_P" events -n 1000 --json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["event"] == sys.argv[1]:
        print(" ".join(str(e[k]) for k in ("vector", "destination", "action", "origin", "reason") if k in e))' "$1"
}

# event_time NAME VECTOR: the unix time of the last event NAME about VECTOR.
event_time()
{
	ag "$NS_P" events -n 1000 --json | python3 -c '
import calendar, json, sys, time
t = [e["time"] for e in json.load(sys.stdin) if e["event"] == sys.argv[1] and e.get("vector") == sys.argv[2]]
print(calendar.timegm(time.strptime(t[-1], "%Y-%m-%dT%H:%M:%SZ")) if t else "")' "$1" "$2"
}

metric()
{
	local want=$1

	[ -n "$2" ] && want="$1{$2}"
	ip netns exec "$NS_P" python3 -c '
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:19718/metrics", timeout=5).read().decode(), end="")' |
		awk -v want="$want" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }'
}

test_session_up()
{
	check "the router sees the session established" wait_for "$SESSION_S" r_up
	check "ampguard upstream says the neighbor is up" wait_for 10 neighbor_up
	assert_eq "ampguard upstream --json: the neighbor's address and peer AS" \
		"$ADDR_A4 $PEER_AS" "$(up_field "d['neighbors'][0]['address'], d['neighbors'][0]['peer_as']" | tr -d "(),'")"
	assert_eq "metrics: ampguard_bgp_session_up is 1" 1 \
		"$(metric ampguard_bgp_session_up "neighbor=\"$ADDR_A4\"")"
}

neighbor_up() { [ "$(up_field "d['neighbors'][0]['state']")" = up ]; }

# flood_test FAMILY DEST: a DNS flood to DEST is announced after detection
# and withdrawn hold after the attack ends. Times come from the daemon's
# events (when it detected, announced, saw the end, withdrew) and from the
# moment the router's table shows the rule.
flood_test()
{
	local fam=$1 dst=$2 six=() src=$ADDR_A4 plen=32 line ends t_attack t_ann t_seen t_end t_wd

	if [ "$fam" = 6 ]; then
		six=(-6)
		src=$ADDR_A6
		plen=128
	fi
	line="$dst/$plen 53 discard"
	ends=$(events_named attack_end | wc -l)
	flood_reset
	flood_start dns "$NS_A" "$UDPFLOOD" "${six[@]}" -s "$src" \
		-d "$dst" --sport 53 --dport 5000 --size "$FLOOD_SIZE" \
		-n $((FLOOD_PPS * FLOOD_SECONDS)) --rate "$FLOOD_PPS"
	check "IPv$fam: the router gets '$line' during the flood" \
		wait_for $((FLOOD_SECONDS + SHOW_S)) has_flow "$fam" "$line"
	t_seen=$(date +%s)
	t_attack=$(event_time attack_start dns)
	t_ann=$(event_time announce dns)
	check "IPv$fam: announced within 5 s of the attack's detection (attack $t_attack, announce $t_ann)" \
		test -n "$t_attack" -a -n "$t_ann" -a $((t_ann - t_attack)) -le 5
	check "IPv$fam: in the router's table within $ANNOUNCE_S s of the attack's detection (seen $t_seen)" \
		test $((t_seen - t_attack)) -le "$ANNOUNCE_S"
	assert_eq "IPv$fam: the announce event names vector, destination, action and origin" \
		"dns $dst discard auto" "$(events_named announce | tail -1)"
	assert_eq "IPv$fam: ampguard upstream --json lists the rule" "dns 53 $dst discard auto" \
		"$(up_field "' '.join(str(r[k]) for r in d['rules'] for k in ('vector', 'port', 'destination', 'action', 'origin'))")"
	assert_eq "metrics: one discard rule" 1 "$(metric ampguard_upstream_rules 'action="discard"')"
	flood_wait
	check "IPv$fam: the attack ends" wait_for $((DETECT_HOLD_S + SHOW_S)) attack_ended "$ends"
	check "IPv$fam: the rule is withdrawn after hold" wait_for $((UP_HOLD_S + SHOW_S)) no_flow "$fam" "$line"
	t_end=$(event_time attack_end dns)
	t_wd=$(event_time withdraw dns)
	check "IPv$fam: withdrawn hold (${UP_HOLD_S} s) after the attack's end (end $t_end, withdraw $t_wd)" \
		test -n "$t_wd" -a $((t_wd - t_end)) -ge $((UP_HOLD_S - 1)) -a $((t_wd - t_end)) -le $((UP_HOLD_S + 2))
	assert_eq "IPv$fam: the withdraw event says why" "dns $dst discard auto attack over" \
		"$(events_named withdraw | tail -1)"
}

# attack_ended N: more than N attack_end events in the history.
attack_ended() { [ "$(events_named attack_end | wc -l)" -gt "$1" ]; }

test_flood_ipv4() { flood_test 4 "$ADDR_P4"; }
test_flood_ipv6() { flood_test 6 "$ADDR_P6"; }

test_manual_rate_limit()
{
	up_ok "announce ntp rate-limit 1M" announce ntp "$ADDR_P4" \
		--action rate-limit --rate 1M
	check "the router gets a 125000 B/s traffic-rate for ntp" \
		wait_for "$SHOW_S" has_flow 4 "$ADDR_P4/32 123 rate-limit:125000"
	assert_eq "listed as manual" "ntp rate-limit manual 1000000" \
		"$(up_field "' '.join(str(r[k]) for r in d['rules'] for k in ('vector', 'action', 'origin', 'rate_bps'))")"
	up_ok "withdraw ntp" withdraw ntp "$ADDR_P4"
	check "the router drops it" wait_for "$SHOW_S" no_flow 4 "$ADDR_P4/32 123 rate-limit:125000"
	assert_eq "no rules left" "[]" "$(up_field "d['rules']")"
}

test_for_expiry()
{
	local t0

	up_ok "announce ws-discovery for 3s" announce ws-discovery \
		"$ADDR_P6" --for 3s
	t0=$(date +%s)
	check "the router gets the IPv6 rule" wait_for "$SHOW_S" has_flow 6 "$ADDR_P6/128 3702 discard"
	check "it expires by itself" wait_for $((3 + SHOW_S)) no_flow 6 "$ADDR_P6/128 3702 discard"
	check "not before its 3 s" test $(($(date +%s) - t0)) -ge 2
	assert_eq "the withdraw event says it expired" "ws-discovery $ADDR_P6 discard manual expired" \
		"$(events_named withdraw | tail -1)"
}

test_rtbh()
{
	up_ok "announce rtbh" announce dns "$ADDR_P4" --action rtbh
	check "the router gets the blackhole route with 65535:666" \
		wait_for "$SHOW_S" has_unicast 4 "$ADDR_P4/32 (65535,666)"
	up_ok "announce rtbh IPv6" announce dns "$ADDR_P6" --action rtbh
	check "the router gets the IPv6 blackhole route" \
		wait_for "$SHOW_S" has_unicast 6 "$ADDR_P6/128 (65535,666)"
	assert_eq "metrics: two rtbh rules" 2 "$(metric ampguard_upstream_rules 'action="rtbh"')"
	up_ok "withdraw --all" withdraw --all
	check "the blackhole routes go" wait_for "$SHOW_S" no_unicast 4 "$ADDR_P4/32 (65535,666)"
	check "the IPv6 one too" wait_for "$SHOW_S" no_unicast 6 "$ADDR_P6/128 (65535,666)"
}

test_allowlisted_sources_accepted()
{
	agrun "$NS_P" allow 198.51.100.53 203.0.113.0/24
	assert_eq "allowlist set" 0 "$AG_RC"
	up_ok "announce dns" announce dns "$ADDR_P4"
	check "the router gets the discard rule" wait_for "$SHOW_S" has_flow 4 "$ADDR_P4/32 53 discard"
	check "and one accept rule per allowlisted source, ordered first by their source component" \
		wait_for "$SHOW_S" flows_are 4 2 "$ADDR_P4/32 53 accept"
	up_ok "withdraw dns" withdraw dns "$ADDR_P4"
	check "all three go" wait_for "$SHOW_S" flow_empty
	agrun "$NS_P" allow --delete 198.51.100.53 203.0.113.0/24
}

test_max_rules_and_protect()
{
	local v

	# max-rules 8: eight vectors fit, the ninth is refused with one line.
	for v in dns ntp ws-discovery arms ssdp memcached cldap chargen; do
		up_ok "announce $v" announce "$v" "$ADDR_P4"
	done
	up_refused "the ninth rule is refused" "max-rules 8 reached" announce qotd "$ADDR_P4"
	check "the router has eight rules" wait_for "$SHOW_S" flows_are 4 8
	up_refused "a destination outside protect is refused" "outside the protected prefixes" \
		announce dns 192.0.2.99
	assert_eq "metrics: the refusals are counted" 2 "$(metric ampguard_upstream_refused_total '')"
	up_ok "withdraw --all" withdraw --all
	check "the router's table empties" wait_for "$SHOW_S" flow_empty
}

test_fragment_rule()
{
	ip netns exec "$NS_A" python3 "$E2E_TOP/tests/tools/rawframes.py" frags --dev "$IF_A" \
		--src-mac "$MAC_A" --dst-mac "$MAC_P" --src "$ADDR_A4" --dst "$ADDR_P4" --sport 53 \
		--dport 9053 --size 3000 --datagrams 20 --id 4000 --which all --rate 200 >/dev/null 2>&1
	# The daemon sees the later fragments dropped at its next interval (1 s):
	# three of them leave room for a busy machine.
	sleep 3
	up_ok "announce dns after dropped DNS fragments" announce dns "$ADDR_P4"
	check "the router gets the port rule" wait_for "$SHOW_S" has_flow 4 "$ADDR_P4/32 53 discard"
	check "and the rule for later fragments, which carry no port" \
		wait_for "$SHOW_S" has_flow 4 "$ADDR_P4/32 - discard fragment"
	up_ok "withdraw dns" withdraw dns "$ADDR_P4"
	check "both go" wait_for "$SHOW_S" flow_empty
}

exabgp_pid() { pgrep -f "exabgp .*$AMPGUARD_STATE_DIR/exabgp.conf" | head -1; }
exabgp_running() { [ -n "$(exabgp_pid)" ]; }

test_exabgp_killed()
{
	local old

	up_ok "announce dns" announce dns "$ADDR_P4"
	check "the router has it" wait_for "$SHOW_S" has_flow 4 "$ADDR_P4/32 53 discard"
	old=$(exabgp_pid)
	check "ExaBGP runs" test -n "$old"
	kill -9 "$old"
	check "the router loses the route with the session" wait_for "$SESSION_S" no_flow 4 \
		"$ADDR_P4/32 53 discard"
	check "the daemon restarts ExaBGP" wait_for 20 exabgp_running
	check "the rule is back at the router" wait_for "$SESSION_S" has_flow 4 "$ADDR_P4/32 53 discard"
	check "the daemon survived" kill -0 "$DAEMON_PID"
}

test_router_restart()
{
	r_stop
	r_start || bail "the router does not start again"
	check "the session comes back" wait_for "$SESSION_S" r_up
	check "the rule is re-announced" wait_for "$SESSION_S" has_flow 4 "$ADDR_P4/32 53 discard"
}

test_clean_stop_withdraws()
{
	stop_daemon
	assert_eq "a clean stop withdraws every rule (events)" "dns $ADDR_P4 discard manual exit" \
		"$(events_named withdraw | tail -1)"
	check "the router has nothing left" wait_for "$SHOW_S" flow_empty
	check "ExaBGP is gone with the daemon" wait_for 10 eval '! exabgp_running'
	up_refused "ampguard upstream says no daemon runs" "is not running"
}

# A stand-in for an operator's ExaBGP: it runs the bridge as ExaBGP would,
# says the neighbor is up, and refuses every announce.
FAKE_EXABGP='
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "upstream", "bridge", sys.argv[2]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
up = {"type": "state", "neighbor": {"address": {"local": sys.argv[4], "peer": sys.argv[3]},
      "state": "up"}}
p.stdin.write(json.dumps(up) + "\n")
log = open(sys.argv[5], "a", buffering=1)
for line in p.stdout:
    log.write(line)
    p.stdin.write(("error" if line.startswith("announce") else "done") + "\n")
'

errors_counted() { [ "$(metric ampguard_upstream_errors_total '')" = 1 ]; }

test_external_speaker_errors()
{
	local ext=$E2E_TMP/ext conf=$E2E_TMP/ext.yaml pid fake

	mkdir -p "$ext"
	sed -e 's/^  max-rules:.*/  speaker: external/' "$CONF" >"$conf"
	AMPGUARD_STATE_DIR=$ext nsenter --net="/run/netns/$NS_P" "$AG_BIN" daemon --config "$conf" \
		--listen 127.0.0.1:19718 >>"$E2E_TMP/ext.out" 2>>"$E2E_TMP/ext.err" &
	pid=$!
	E2E_PIDS+=("$pid")
	check "the daemon waits for an external ExaBGP" wait_for 10 test -S "$ext/exabgp.sock"
	ip netns exec "$NS_P" python3 -c "$FAKE_EXABGP" "$AG_BIN" "$ext/exabgp.sock" "$ADDR_A4" \
		"$ADDR_P4" "$E2E_TMP/fake.log" 2>"$E2E_TMP/fake.err" &
	fake=$!
	E2E_PIDS+=("$fake")
	AMPGUARD_STATE_DIR=$ext wait_for 10 neighbor_up
	check "the state ExaBGP reports through the bridge shows" test $? -eq 0
	AMPGUARD_STATE_DIR=$ext up_ok "announce to the external speaker" announce dns "$ADDR_P4"
	check "the speaker got the command" wait_for 10 grep -q "^announce flow route" "$E2E_TMP/fake.log"
	check "its refusal is in the log, with the command" \
		wait_for 10 grep -q "ExaBGP refused 'announce flow route" "$E2E_TMP/ext.err"
	check "metrics: ampguard_upstream_errors_total counts it" \
		wait_for 5 errors_counted
	check "the daemon is still running" kill -0 "$pid"
	daemon_stop "$pid"
	daemon_stop "$fake"
}

E2E_TESTS=(test_session_up test_flood_ipv4 test_flood_ipv6 test_manual_rate_limit
	test_for_expiry test_rtbh test_allowlisted_sources_accepted test_max_rules_and_protect
	test_fragment_rule test_exabgp_killed test_router_restart test_clean_stop_withdraws
	test_external_speaker_errors)
for t in "${E2E_TESTS[@]:1}"; do
	E2E_NEEDS[$t]=test_session_up
done
E2E_NEEDS[test_router_restart]="test_session_up test_exabgp_killed"
E2E_NEEDS[test_clean_stop_withdraws]="test_session_up test_exabgp_killed"
E2E_NEEDS[test_external_speaker_errors]="test_session_up test_clean_stop_withdraws"
# AG_UP_TESTS=TEST,TEST...: only those (and what they need), for the kernel matrix.
if [ $# -eq 0 ] && [ -n "${AG_UP_TESTS:-}" ]; then
	IFS=, read -r -a only <<<"$AG_UP_TESTS"
	set -- "${only[@]}"
fi
e2e_run "$@"
