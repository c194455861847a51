#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: `ampguard daemon`, with real floods through a veth.
#
#   peer: udpflood from port 443 (dtls-quic), udpecho on 53   ->   prot: ampguard, the daemon,
#                                                                    a webhook receiver
#
# The daemon runs in the protected namespace (nsenter: it keeps the host's
# bpffs) with dtls-quic at monitor, escalating to drop on 2 kpps, hold 5 s.
#   - a 5 kpps flood is escalated within 3 intervals of its start, counted
#     from the counters (what passed as monitor before the drops began),
#     and released hold after it stops; the webhook, the history, stdout,
#     status and the metrics all tell the same four events;
#   - an operator's `set` during an escalation is never undone;
#   - 20 kpps of solicited replies (the host's own requests, echoed) start
#     no attack, with every vector's trigger at half that rate;
#   - a daemon killed with SIGKILL during an escalation and started again
#     still releases the vector when the attack ends;
#   - a bad file on SIGHUP keeps what runs;
#   - 2000 idle connections do not keep a scrape out.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# Rates an emulated machine carries are set lower by the kernel matrix;
# the default trigger is half the solicited rate, so that the solicited
# load would start an attack if it counted.
FLOOD_PPS=${AG_DAEMON_FLOOD_PPS:-5000}
FLOOD_SECONDS=8
TRIGGER_PPS=${AG_DAEMON_TRIGGER_PPS:-2000}
HOLD_S=5
INTERVAL_S=1
HOOK_PORT=18080
METRICS_PORT=19717
SOLICITED_PPS=${AG_DAEMON_SOLICITED_PPS:-20000}
SOLICITED_SECONDS=5
IDLE_CONNS=${AG_DAEMON_IDLE_CONNS:-2000}

# start_daemon: the daemon in the background, its stdout (events) and
# stderr (log) in daemon.out and daemon.err, appended across restarts.
start_daemon()
{
	# nsenter execs the daemon: $! is the daemon itself, for kill -9.
	nsenter --net="/run/netns/$NS_P" "$AG_BIN" daemon --config "$CONF" \
		--listen "127.0.0.1:$METRICS_PORT" >>"$E2E_TMP/daemon.out" 2>>"$E2E_TMP/daemon.err" &
	DAEMON_PID=$!
	E2E_PIDS+=("$DAEMON_PID")
	wait_for 10 scrape_ok
}

scrape_ok()
{
	scrape >/dev/null 2>&1
}

scrape()
{
	ip netns exec "$NS_P" python3 -c '
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode(), end="")' \
		"$METRICS_PORT"
}

# metric NAME LABELS: the value of one sample, or "absent".
metric()
{
	scrape | awk -v want="$1{$2}" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }'
}

write_conf()
{
	cat >"$CONF" <<EOF
detection:
  interval: ${INTERVAL_S}s
  trigger-pps: $((SOLICITED_PPS / 2))
vectors:
  dtls-quic:
    action: monitor
    auto: { trigger-pps: $TRIGGER_PPS, hold: ${HOLD_S}s, escalate: drop }
notify:
  webhooks: [ "http://127.0.0.1:$HOOK_PORT/ampguard" ]
EOF
}

# The receiver appends each POSTed body as one line of hooks.jsonl.
start_receiver()
{
	ip netns exec "$NS_P" python3 -c '
import http.server, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        out.write(body.strip() + "\n"); out.flush()
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' \
		"$HOOK_PORT" "$E2E_TMP/hooks.jsonl" &
	E2E_PIDS+=("$!")
}

suite_setup()
{
	require
	require_udpflood
	[ -x "$E2E_TOP/build/tests/udpecho" ] || bail "build/tests/udpecho is missing: run 'make build/tests/udpecho'"
	private_binaries
	cp "$E2E_TOP/build/tests/udpecho" "$E2E_TMP/bin/" || bail "cannot copy udpecho"
	UDPECHO=$E2E_TMP/bin/udpecho
	export AMPGUARD_STATE_DIR=$E2E_TMP/state
	CONF=$E2E_TMP/ampguard.yaml
	: >"$E2E_TMP/hooks.jsonl"
	setup_pair || bail "cannot build the namespaces"
	write_conf
	agrun "$NS_P" attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || bail "attach failed: $AG_ERR"
	start_receiver
	start_daemon || bail "the daemon does not serve metrics: $(cat "$E2E_TMP/daemon.err")"
}

suite_teardown()
{
	[ -n "${DAEMON_PID:-}" ] && daemon_stop "$DAEMON_PID"
}

# dtls_packets REASON: packets of dtls-quic counted for REASON on IF_P.
dtls_packets()
{
	snapshot
	reason_packets "$1" dtls-quic
}

vector_action()
{
	status_field "$NS_P" "next(v['action'] for v in d['vectors'] if v['name'] == '$1')"
}

# action_is VECTOR ACTION
action_is()
{
	[ "$(vector_action "$1")" = "$2" ]
}

# events_of FILE EVENT...: the "event" fields of FILE's JSON lines about dtls-quic, in order.
events_of()
{
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        e = json.loads(line)
        if e.get("vector") == "dtls-quic":
            print(e["event"])' "$1" | paste -sd' '
}

flood_dtls()
{
	flood_reset
	flood_start dtls "$NS_A" "$UDPFLOOD" -s "$ADDR_A4" -d "$ADDR_P4" --sport 443 --dport 5000 \
		-n $((FLOOD_PPS * FLOOD_SECONDS)) --rate "$FLOOD_PPS"
}

test_escalates_and_releases()
{
	local monitor drop released=0 want="attack_start escalate release attack_end" lost0

	lost0=$(pair_lost)
	flood_dtls
	wait_for $((FLOOD_SECONDS - 2)) action_is dtls-quic drop
	assert_eq "status: dtls-quic is escalated while the flood lasts" \
		"True True" "$(status_field "$NS_P" \
		"' '.join(str(v['detection'][k]) for v in d['vectors'] if v['name'] == 'dtls-quic' for k in ('attack', 'escalated'))")"
	assert_eq "metrics: ampguard_attack_active is 1 during the attack" 1 \
		"$(metric ampguard_attack_active "interface=\"$IF_P\",vector=\"dtls-quic\"")"
	assert_eq "metrics: ampguard_escalated is 1 during the attack" 1 \
		"$(metric ampguard_escalated "interface=\"$IF_P\",vector=\"dtls-quic\"")"
	flood_wait
	settle prot_flood_counters
	monitor=$(dtls_packets monitor)
	drop=$(dtls_packets policy_drop)
	assert_flood_counted "the flood as monitor or policy_drop" "${FLOOD_SENT:-0}" \
		"$((monitor + drop))" $(($(pair_lost) - lost0))
	check "escalated within 3 intervals of the flood's start ($monitor packets passed as monitor at $FLOOD_PPS pps)" \
		test "$monitor" -le $((3 * INTERVAL_S * FLOOD_PPS))
	wait_for $((HOLD_S + 5 * INTERVAL_S)) action_is dtls-quic monitor && released=1
	assert_eq "dtls-quic is back to monitor hold after the flood" 1 "$released"
	wait_for 10 has_lines "$E2E_TMP/hooks.jsonl" 4
	assert_eq "the webhook received the four events in order" "$want" \
		"$(events_of "$E2E_TMP/hooks.jsonl")"
	assert_eq "the daemon printed the same four events on stdout" "$want" \
		"$(events_of "$E2E_TMP/daemon.out")"
	ag "$NS_P" events --json | python3 -c 'import json,sys; [print(json.dumps(e)) for e in json.load(sys.stdin)]' \
		>"$E2E_TMP/history.jsonl"
	assert_eq "'ampguard events' holds the same four events" "$want" \
		"$(events_of "$E2E_TMP/history.jsonl")"
	check_fields "$E2E_TMP/hooks.jsonl" "$drop"
	assert_eq "metrics: ampguard_attack_active is 0 after the attack" 0 \
		"$(metric ampguard_attack_active "interface=\"$IF_P\",vector=\"dtls-quic\"")"
	assert_eq "metrics: ampguard_attacks_total counts the attack" 1 \
		"$(metric ampguard_attacks_total "interface=\"$IF_P\",vector=\"dtls-quic\"")"
}

# has_lines FILE N: FILE holds N lines or more.
has_lines()
{
	[ "$(grep -c . "$1")" -ge "$2" ]
}

# check_fields FILE DROPPED: the events' fields, and attack_end's count of drops.
check_fields()
{
	local out

	out=$(python3 -c '
import json, re, sys
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["vector"] != "dtls-quic":
        continue
    need = ["event", "time", "interface", "vector", "port", "pps", "bps"]
    if e["event"] == "attack_end":
        need += ["duration_s", "peak_pps", "dropped_packets"]
    missing = [k for k in need if k not in e]
    bad = []
    if not rfc3339.match(e["time"]): bad.append("time")
    if e["interface"] != sys.argv[2] or e["port"] != 443: bad.append("interface/port")
    if e["event"] == "attack_start" and e["pps"] < int(sys.argv[4]): bad.append("pps")
    if e["event"] == "attack_end":
        if e["dropped_packets"] != int(sys.argv[3]): bad.append("dropped_packets %d" % e["dropped_packets"])
        if e["peak_pps"] < int(sys.argv[4]): bad.append("peak_pps")
    print(e["event"], "missing", missing, "bad", bad)' "$1" "$IF_P" "$2" "$TRIGGER_PPS")
	assert_eq "every event has its fields; attack_end counts exactly the drops" \
		"attack_start missing [] bad []
escalate missing [] bad []
release missing [] bad []
attack_end missing [] bad []" "$out"
}

test_operator_wins()
{
	local kept=1 i

	: >"$E2E_TMP/hooks.jsonl"
	flood_dtls
	wait_for $((FLOOD_SECONDS - 2)) action_is dtls-quic drop
	agrun "$NS_P" set dtls-quic ratelimit --pps 100
	assert_success "the operator sets dtls-quic to ratelimit mid-attack" "ratelimit"
	flood_wait
	# The attack ends hold after the flood; the daemon must not touch the vector.
	for ((i = 0; i < (HOLD_S + 5 * INTERVAL_S) * 10; i++)); do
		[ "$(vector_action dtls-quic)" = ratelimit ] || kept=0
		grep -q attack_end "$E2E_TMP/hooks.jsonl" && break
		sleep 0.1
	done
	assert_eq "the daemon never undid the operator's ratelimit" 1 "$kept"
	assert_eq "the attack started and ended without a release" \
		"attack_start escalate attack_end" "$(events_of "$E2E_TMP/hooks.jsonl")"
	check "the daemon logged that the operator changed the vector" \
		grep -q "changed by an operator" "$E2E_TMP/daemon.err"
	# Back to exactly what the file says (a rate of 0 removes the budget).
	agrun "$NS_P" set dtls-quic monitor --pps 0
}

test_solicited_starts_nothing()
{
	local before solicited sent echoed lost0

	daemon_start ECHO_PID echo "$NS_A" "$UDPECHO" -p 53 -t 60
	wait_udp_listen "$NS_A" 0.0.0.0 53 || bail "udpecho does not listen"
	snapshot
	before=$(reason_packets solicited dns)
	lost0=$(pair_lost)
	flood_reset
	flood_start asks "$NS_P" "$UDPGEN" -s "$ADDR_P4" -d "$ADDR_A4" --sport 41000 --dport 53 \
		-n $((SOLICITED_PPS * SOLICITED_SECONDS)) --rate "$SOLICITED_PPS"
	flood_wait
	sleep $((2 * INTERVAL_S + 1))
	daemon_stop "$ECHO_PID"
	snapshot
	solicited=$(($(reason_packets solicited dns) - before))
	sent=$((SOLICITED_PPS * SOLICITED_SECONDS))
	echoed=$(sed -n 's/^echoed \([0-9]*\)$/\1/p' "$E2E_TMP/echo.log")
	check "udpecho answered at least half of the $sent requests (${echoed:-none})" \
		at_least_permille "${echoed:-0}" "$sent" 500
	assert_flood_counted "the echoes as solicited dns" "${echoed:-0}" "$solicited" \
		$(($(pair_lost) - lost0))
	check "no attack started on dns" \
		bash -c "! grep -q '\"vector\":\"dns\"' '$E2E_TMP/daemon.out'"
	assert_eq "status: dns has no attack" False \
		"$(status_field "$NS_P" "next(v['detection']['attack'] for v in d['vectors'] if v['name'] == 'dns')")"
}

test_restart_releases()
{
	local released=0

	: >"$E2E_TMP/hooks.jsonl"
	flood_dtls
	wait_for $((FLOOD_SECONDS - 2)) action_is dtls-quic drop
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	forget_pid "$DAEMON_PID"
	assert_eq "dtls-quic stays escalated with the daemon dead" drop "$(vector_action dtls-quic)"
	start_daemon || bail "the daemon does not come back"
	flood_wait
	wait_for $((HOLD_S + 6 * INTERVAL_S)) action_is dtls-quic monitor && released=1
	assert_eq "the restarted daemon released dtls-quic when the attack ended" 1 "$released"
	wait_for 10 has_lines "$E2E_TMP/hooks.jsonl" 4
	assert_eq "the events across the restart" "attack_start escalate release attack_end" \
		"$(events_of "$E2E_TMP/hooks.jsonl")"
}

test_bad_reload_keeps_running()
{
	cp "$CONF" "$E2E_TMP/good.yaml"
	printf 'detection:\n  trigger-pps: lots\n' >"$CONF"
	kill -HUP "$DAEMON_PID"
	sleep $((2 * INTERVAL_S))
	check "the daemon lives on after a bad file on SIGHUP" daemon_alive "$DAEMON_PID"
	check "it says the file is bad and keeps the running configuration" \
		grep -q "trigger-pps.*keeping the running configuration" "$E2E_TMP/daemon.err"
	assert_eq "dtls-quic's policy is untouched" monitor "$(vector_action dtls-quic)"
	cp "$E2E_TMP/good.yaml" "$CONF"
}

test_idle_connections()
{
	local out

	out=$(ip netns exec "$NS_P" python3 -c '
import resource, socket, sys, urllib.request
n, port = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
idle = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    idle.append(s)
body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
print("open", len(idle), "scrape", "ok" if "ampguard_build_info" in body else "bad")' \
		"$IDLE_CONNS" "$METRICS_PORT" 2>&1 | tail -n 1)
	assert_eq "a scrape is answered while $IDLE_CONNS idle connections are open" \
		"open $IDLE_CONNS scrape ok" "$out"
	check "the daemon survived them" daemon_alive "$DAEMON_PID"
	check "and logged nothing about FD_SETSIZE" \
		bash -c "! grep -q FD_SETSIZE '$E2E_TMP/daemon.err'"
}

E2E_TESTS=(test_escalates_and_releases test_operator_wins test_solicited_starts_nothing
	test_restart_releases test_bad_reload_keeps_running test_idle_connections)
e2e_run "$@"
