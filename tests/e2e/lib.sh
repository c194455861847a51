# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Helpers and the test runner shared by the end-to-end suites.
#
# A suite is a list of test functions, an optional setup and a last line
# that hands them to the runner:
#
#   . "$(dirname "$0")/lib.sh"
#   suite_setup() { require; setup_pair || bail "cannot build the namespaces"; }
#   test_attach() { ...; }
#   test_set() { ...; }
#   E2E_TESTS=(test_attach test_set)    # the order they run in
#   E2E_NEEDS[test_set]=test_attach     # what a test builds on
#   e2e_run "$@"
#
# 'bash SUITE' runs every test in order; 'bash SUITE TEST...' runs the named
# ones. Tests share one topology and build on each other (one attaches,
# the next sets an action on what is attached), so a test names in
# E2E_NEEDS the earlier tests it builds on; the runner runs those first,
# recursively, and nothing else. A needed test is a test like the others:
# its checks count. suite_setup, when the suite defines one, runs once
# before the first test: prerequisites, namespaces, daemons every test uses;
# suite_teardown, when defined, once after the last, before the leftover
# checks (for what the suite builds beyond lib.sh's own namespaces).
#
# Whatever runs, the run ends with the leftover checks (no namespace, no
# pin under the test root, no process of this run is left; the programs go
# with their pins and namespaces) and, alone on the last line,
# "N passed, N failed" (tests/run.sh sums those lines).
#
# Each run builds its own namespaces (ag-PID-*) and its own ampguard state
# root (/sys/fs/bpf/ampguard-test-PID). Both go away when the test exits,
# whether it passes, fails or is interrupted.
#
# The CLI runs with 'nsenter --net' (see ag): 'ip netns exec' mounts a fresh
# /sys, which would hide the pins in the host's bpffs. Servers and senders
# do not care and run under 'ip netns exec'.

set -u

E2E_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AG_BIN=$E2E_TOP/ampguard
UDPSINK=$E2E_TOP/build/tests/udpsink
UDPGEN=$E2E_TOP/build/tests/udpgen
AGJSON=$E2E_TOP/tests/tools/agjson.py
# shellcheck disable=SC2034 # for the tests that source this file
TCPECHO=$E2E_TOP/tests/tools/tcpecho.py
# Programs of the benchmarks are built under build/bench/; older trees
# built them in build/.
FLOOR_OBJ=$E2E_TOP/build/bench/xdp_floor.bpf.o
[ -e "$FLOOR_OBJ" ] || FLOOR_OBJ=$E2E_TOP/build/xdp_floor.bpf.o

export AMPGUARD_ROOT=/sys/fs/bpf/ampguard-test-$$
NS_PREFIX=ag-$$-

# Traffic: every flow is paced well below what a busy two-core machine
# loses, and ends with a few end markers from a port without a vector.
PKT_SIZE=32
RATE=2000
SINK_TIMEOUT=30
MARKER_SPORT=40999
MARKER_DPORT=9999
MARKER_N=5
# Where nothing can pass, not even markers (a foreign drop-all program),
# set MARKERS=0: the sink then just listens for BLIND_SECONDS.
MARKERS=1
BLIND_SECONDS=2

ADDR_A4=192.0.2.1
ADDR_P4=192.0.2.2
ADDR_A6=2001:db8::1
ADDR_P6=2001:db8::2
MAC_A=02:00:00:00:00:01
MAC_P=02:00:00:00:00:02

E2E_PASSED=0
E2E_FAILED=0
E2E_NAMESPACES=()
E2E_PIDS=()
E2E_TMP=$(mktemp -d "/tmp/ag-e2e-$$.XXXXXX")

declare -A RECV      # destination port -> datagrams the last traffic run delivered
declare -A EXP_PKTS  # "VECTOR PORT REASON" -> packets the XDP counters should hold
declare -A EXP_BYTES # same key -> bytes
MODEL_ON=0           # set once attached: traffic then books its end markers

# ---- results -----------------------------------------------------------

oneline()
{
	printf '%s' "$1" | tr '\n' '|' | cut -c1-400
}

ok()
{
	E2E_PASSED=$((E2E_PASSED + 1))
	echo "ok - $1"
}

not_ok()
{
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "not ok - $1 ($(oneline "$2"))"
}

# check NAME CMD...: passes when CMD exits 0.
check()
{
	local name=$1 out rc

	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "'$*' exited $rc: $out"
	fi
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq()
{
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected '$2', got '$3'"
	fi
}

# assert_match NAME ERE ACTUAL
assert_match()
{
	if printf '%s' "$3" | grep -qE -- "$2"; then
		ok "$1"
	else
		not_ok "$1" "'$3' does not match /$2/"
	fi
}

# assert_lines NAME EXPECTED ACTUAL: multi-line values; the difference on failure.
assert_lines()
{
	local diff

	if [ "$2" == "$3" ]; then
		ok "$1"
		return
	fi
	diff=$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | grep '^[<>]' |
	       sed 's/^</missing:/; s/^>/unexpected:/')
	not_ok "$1" "$diff"
}

# bail REASON: the rest cannot run; report what ran so far.
bail()
{
	not_ok "setup" "$1"
	finish
}

# finish: cleans up, checks nothing was left behind, prints the summary
# as the last line and exits non-zero if anything failed.
finish()
{
	local left procs

	e2e_stop_pids
	procs=$(e2e_ns_pids)
	e2e_cleanup >/dev/null 2>&1
	left=$(ip netns list | awk '{ print $1 }' | grep -- "^$NS_PREFIX")
	assert_eq "no namespace of this run is left" "" "$left"
	check "no ampguard state of this run is left" test ! -e "$AMPGUARD_ROOT"
	assert_eq "no process of this run is left in its namespaces" "" "$procs"
	echo "$E2E_PASSED passed, $E2E_FAILED failed"
	[ "$E2E_FAILED" -eq 0 ]
	exit
}

# ---- the runner --------------------------------------------------------

E2E_TESTS=()
declare -A E2E_NEEDS=()
declare -A E2E_PICKED=()

# e2e_pick TEST: TEST and, first, what it needs.
e2e_pick()
{
	local need

	[ -n "${E2E_PICKED[$1]:-}" ] && return
	E2E_PICKED[$1]=1
	for need in ${E2E_NEEDS[$1]:-}; do
		e2e_pick "$need"
	done
}

# e2e_run [TEST...]: runs the suite (see the top of this file) and exits.
e2e_run()
{
	local t start known=" ${E2E_TESTS[*]} "

	for t in "${E2E_TESTS[@]}"; do
		declare -F "$t" >/dev/null || bail "E2E_TESTS names '$t', which is no function"
	done
	if [ $# -eq 0 ]; then
		set -- "${E2E_TESTS[@]}"
	fi
	for t in "$@"; do
		[[ "$known" == *" $t "* ]] || bail "no test '$t' in $(basename "$0"); it has:$known"
		e2e_pick "$t"
	done
	if declare -F suite_setup >/dev/null; then
		suite_setup
	fi
	for t in "${E2E_TESTS[@]}"; do
		[ -n "${E2E_PICKED[$t]:-}" ] || continue
		echo "# $t"
		start=$SECONDS
		"$t"
		# Where a slow run spends its time.
		echo "# $t: $((SECONDS - start)) s"
	done
	if declare -F suite_teardown >/dev/null; then
		suite_teardown
	fi
	finish
}

# ---- cleanup -----------------------------------------------------------

# e2e_stop_pids: stops and reaps every background process started here.
e2e_stop_pids()
{
	local pid

	for pid in "${E2E_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	E2E_PIDS=()
}

# e2e_ns_pids: "NAMESPACE PID COMMAND" of every process still in a
# namespace of this run; a daemon that escaped its tracking.
e2e_ns_pids()
{
	local ns pid

	for ns in "${E2E_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			echo "$ns $pid $(cat "/proc/$pid/comm" 2>/dev/null)"
		done
	done
}

e2e_cleanup()
{
	local pid dir ns

	e2e_stop_pids
	if [ -d "$AMPGUARD_ROOT/ifaces" ]; then
		for dir in "$AMPGUARD_ROOT"/ifaces/*; do
			[ -e "$dir" ] || continue
			case $dir in *:*) continue ;; esac
			"$AG_BIN" detach "$(basename "$dir")"
		done
	fi
	case $AMPGUARD_ROOT in
	/sys/fs/bpf/ampguard-test-*) rm -rf "$AMPGUARD_ROOT" ;;
	esac
	for ns in "${E2E_NAMESPACES[@]}"; do
		# What escaped its tracking must not outlive the run.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid"
		done
		ip netns del "$ns"
	done
	E2E_NAMESPACES=()
	[ -d "$E2E_TMP" ] && rm -rf "$E2E_TMP"
}

trap 'e2e_cleanup >/dev/null 2>&1' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites and topology ----------------------------------------

# require: root, bpffs and everything 'make' and 'make build/tests/...' build.
require()
{
	local f

	[ "$(id -u)" -eq 0 ] || bail "run as root"
	for f in "$AG_BIN" "$UDPSINK" "$UDPGEN"; do
		[ -x "$f" ] || bail "$f is missing: run 'make ampguard build/tests/udpsink build/tests/udpgen'"
	done
	[ -f "$FLOOR_OBJ" ] || bail "$FLOOR_OBJ is missing: run 'make'"
	command -v python3 >/dev/null || bail "python3 is missing"
	command -v nsenter >/dev/null || bail "nsenter is missing (util-linux)"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || bail "cannot mount bpffs"
}

# new_ns VAR SUFFIX: creates namespace ag-PID-SUFFIX and names it in VAR.
new_ns()
{
	local name=$NS_PREFIX$2

	ip netns add "$name" || return 1
	E2E_NAMESPACES+=("$name")
	ip -n "$name" link set lo up || return 1
	printf -v "$1" '%s' "$name"
}

# nsctl NS SYSCTL=VALUE...
nsctl()
{
	local ns=$1

	shift
	ip netns exec "$ns" sysctl -qw "$@"
}

# setup_pair: two namespaces joined by a veth.
#   NS_P, IF_P: the protected host, ADDR_P4 and ADDR_P6
#   NS_A, IF_A: the peer that floods it, ADDR_A4 and ADDR_A6
# Static neighbour entries keep ARP and ND out of the way, and reverse path
# filtering is off so that spoofed sources of the peer's subnet get in.
setup_pair()
{
	new_ns NS_P prot && new_ns NS_A peer || return 1
	IF_P=prot0
	IF_A=peer0
	ip -n "$NS_A" link add "$IF_A" address $MAC_A type veth \
		peer name "$IF_P" address $MAC_P netns "$NS_P" || return 1
	nsctl "$NS_P" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		"net.ipv4.conf.$IF_P.rp_filter=0" "net.ipv6.conf.$IF_P.router_solicitations=0" ||
		return 1
	nsctl "$NS_A" net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$IF_A.rp_filter=0" \
		"net.ipv6.conf.$IF_A.router_solicitations=0" || return 1
	ip -n "$NS_P" link set "$IF_P" up && ip -n "$NS_A" link set "$IF_A" up || return 1
	ip -n "$NS_P" addr add $ADDR_P4/24 dev "$IF_P" &&
		ip -n "$NS_P" addr add $ADDR_P6/64 dev "$IF_P" nodad &&
		ip -n "$NS_A" addr add $ADDR_A4/24 dev "$IF_A" &&
		ip -n "$NS_A" addr add $ADDR_A6/64 dev "$IF_A" nodad || return 1
	ip -n "$NS_A" neigh replace $ADDR_P4 lladdr $MAC_P dev "$IF_A" nud permanent &&
		ip -n "$NS_A" neigh replace $ADDR_P6 lladdr $MAC_P dev "$IF_A" nud permanent &&
		ip -n "$NS_P" neigh replace $ADDR_A4 lladdr $MAC_A dev "$IF_P" nud permanent &&
		ip -n "$NS_P" neigh replace $ADDR_A6 lladdr $MAC_A dev "$IF_P" nud permanent
}

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1).
wait_for()
{
	local i n=$(($1 * 10))

	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_file FILE: up to 10 s for FILE to appear.
wait_file()
{
	local i

	for ((i = 0; i < 200; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# forget_pid PID: a background process that has been reaped.
forget_pid()
{
	local p keep=()

	for p in "${E2E_PIDS[@]}"; do
		[ "$p" != "$1" ] && keep+=("$p")
	done
	E2E_PIDS=("${keep[@]}")
}

# ---- the CLI -----------------------------------------------------------

# ag NS ARGS...: the ampguard CLI in namespace NS, on the host's bpffs;
# killed after AG_TIMEOUT seconds when that is set.
ag()
{
	local ns=$1

	shift
	if [ -n "${AG_TIMEOUT:-}" ]; then
		timeout -k 2 "$AG_TIMEOUT" nsenter --net="/run/netns/$ns" "$AG_BIN" "$@"
	else
		nsenter --net="/run/netns/$ns" "$AG_BIN" "$@"
	fi
}

# agrun NS ARGS...: ag, with its stdout, stderr and exit code in AG_OUT, AG_ERR, AG_RC.
agrun()
{
	ag "$@" >"$E2E_TMP/ag.out" 2>"$E2E_TMP/ag.err"
	AG_RC=$?
	AG_OUT=$(<"$E2E_TMP/ag.out")
	AG_ERR=$(<"$E2E_TMP/ag.err")
}

nlines()
{
	printf '%s' "$1" | grep -c ''
}

# assert_error NAME [ERE]: the last agrun failed with exactly one line on
# stderr (matching ERE) and printed nothing on stdout.
assert_error()
{
	local name=$1 re=${2:-.}

	if [ "$AG_RC" -ne 0 ] && [ "$(nlines "$AG_ERR")" -eq 1 ] && [ -z "$AG_OUT" ] &&
	   printf '%s' "$AG_ERR" | grep -qE -- "$re"; then
		ok "$name"
	else
		not_ok "$name" "exit $AG_RC, stderr '$AG_ERR', stdout '$AG_OUT', wanted one error line matching /$re/"
	fi
}

# assert_success NAME ERE: the last agrun exited 0, printed one line
# matching ERE and nothing on stderr.
assert_success()
{
	if [ "$AG_RC" -eq 0 ] && [ "$(nlines "$AG_OUT")" -eq 1 ] && [ -z "$AG_ERR" ] &&
	   printf '%s' "$AG_OUT" | grep -qE -- "$2"; then
		ok "$1"
	else
		not_ok "$1" "exit $AG_RC, stdout '$AG_OUT', stderr '$AG_ERR', wanted exit 0 and one line matching /$2/"
	fi
}

# assert_no_state NAME: the state root does not exist.
assert_no_state()
{
	if [ ! -e "$AMPGUARD_ROOT" ]; then
		ok "$1"
	else
		not_ok "$1" "$AMPGUARD_ROOT exists, holding: '$(cd "$AMPGUARD_ROOT" && find . -mindepth 1 | paste -sd' ')'"
	fi
}

# status_vectors NS: "NAME PORT ACTION BUILTIN" per vector of 'status --json'.
status_vectors()
{
	ag "$1" status --json | python3 "$AGJSON" vectors
}

# status_ifaces NS: "IFACE STATE MODE PROG_ID" per protected interface.
status_ifaces()
{
	ag "$1" status --json | python3 "$AGJSON" interfaces
}

# xdp_prog NS IFACE: "MODE ID NAME" of the XDP program on IFACE, or "none".
xdp_prog()
{
	ip -n "$1" -j link show dev "$2" | python3 "$AGJSON" xdp
}

# ---- traffic -----------------------------------------------------------

# frame_len FAMILY: bytes of one udpgen frame with a PKT_SIZE payload,
# Ethernet header included, as XDP counts them.
frame_len()
{
	if [ "$1" = 6 ]; then
		echo $((14 + 40 + 8 + PKT_SIZE))
	else
		echo $((14 + 20 + 8 + PKT_SIZE))
	fi
}

# sink_start FAMILY DPORT...: a udpsink in NS_P on DPORTs and the marker port.
sink_start()
{
	local fam=$1 ports=$MARKER_DPORT p opts=(-t "$SINK_TIMEOUT" -e "$MARKER_DPORT")

	shift
	for p in "$@"; do
		case ",$ports," in *",$p,"*) ;; *) ports=$p,$ports ;; esac
	done
	[ "$fam" = 6 ] && opts+=(-6)
	[ "$MARKERS" -eq 0 ] && opts=(-t "$BLIND_SECONDS")
	rm -f "$E2E_TMP/sink.ready"
	SINK_FAMILY=$fam
	SINK_ERR=""
	ip netns exec "$NS_P" "$UDPSINK" "${opts[@]}" -p "$ports" -r "$E2E_TMP/sink.ready" \
		>"$E2E_TMP/sink.out" 2>&1 &
	SINK_PID=$!
	E2E_PIDS+=("$SINK_PID")
	wait_file "$E2E_TMP/sink.ready" || SINK_ERR="udpsink did not get ready: $(cat "$E2E_TMP/sink.out")"
}

# send_flow FAMILY SPORT DPORT COUNT [UDPGEN OPTIONS...]: from NS_A to NS_P.
send_flow()
{
	local fam=$1 sport=$2 dport=$3 n=$4 out src=$ADDR_A4 dst=$ADDR_P4 v6=()

	shift 4
	if [ "$fam" = 6 ]; then
		src=$ADDR_A6
		dst=$ADDR_P6
		v6=(-6)
	fi
	out=$(ip netns exec "$NS_A" "$UDPGEN" "${v6[@]}" -s $src -d $dst --sport "$sport" \
		--dport "$dport" -n "$n" --size $PKT_SIZE --rate $RATE "$@" 2>&1)
	if [ "$out" != "sent $n" ]; then
		SINK_ERR+="udpgen $sport->$dport: $out; "
		return 1
	fi
}

# sink_end: sends the end markers, waits for the sink and fills RECV.
# Reports a failure when the harness itself broke.
sink_end()
{
	if [ "$MARKERS" -eq 1 ]; then
		send_flow "$SINK_FAMILY" $MARKER_SPORT $MARKER_DPORT $MARKER_N
		[ "$MODEL_ON" -eq 1 ] && expect other 0 no_vector $MARKER_N "$SINK_FAMILY"
	fi
	sink_collect
}

# sink_collect: waits for the sink (someone else sent the markers) and
# fills RECV; reports a failure when the harness itself broke.
sink_collect()
{
	local port count

	wait "$SINK_PID"
	forget_pid "$SINK_PID"
	RECV=()
	while read -r port count; do
		RECV[$port]=$count
	done <"$E2E_TMP/sink.out"
	if [ "$MARKERS" -eq 1 ] && [ "${RECV[$MARKER_DPORT]:-}" != "$MARKER_N" ]; then
		SINK_ERR+="end markers: ${RECV[$MARKER_DPORT]:-none} of $MARKER_N arrived; sink said '$(cat "$E2E_TMP/sink.out")'"
	fi
	if [ -n "$SINK_ERR" ]; then
		not_ok "traffic harness" "$SINK_ERR"
		return 1
	fi
}

# traffic FAMILY FLOW...: one burst from NS_A to a sink in NS_P. A FLOW is
# SPORT:DPORT:COUNT[:UDPGEN OPTIONS]; flows go one after the other, then the
# end markers. RECV[DPORT] holds what each destination port received.
traffic()
{
	local fam=$1 flow dports=() sport dport n extra

	shift
	for flow in "$@"; do
		IFS=: read -r sport dport n extra <<<"$flow"
		dports+=("$dport")
	done
	sink_start "$fam" "${dports[@]}"
	for flow in "$@"; do
		IFS=: read -r sport dport n extra <<<"$flow"
		# shellcheck disable=SC2086 # extra holds options
		send_flow "$fam" "$sport" "$dport" "$n" $extra
	done
	sink_end
}

# flows FAMILY ROW...: one burst of traffic from NS_A to a sink in NS_P,
# then per ROW one check of what arrived and the booking of its packets in
# the counter model. A ROW is
#
#   "SRC SPORT DPORT COUNT ARRIVED COUNTER MESSAGE..."
#
# SRC: the source address, '-' for the peer's own. ARRIVED: datagrams
# DPORT must receive, 'all' for COUNT. COUNTER: VECTOR/REASON, booked with
# COUNT packets under the vector's port (SPORT; 0 for 'other'), or '-'.
# FLOW_OPTS, when set, are udpgen options for every flow of the burst.
# Returns 1, checking nothing, when the harness itself broke.
flows()
{
	local fam=$1 row src sport dport n want counter msg dports=() opts=() port

	shift
	for row in "$@"; do
		read -r src sport dport n want counter msg <<<"$row"
		dports+=("$dport")
	done
	# shellcheck disable=SC2206 # FLOW_OPTS holds options
	opts=(${FLOW_OPTS:-})
	sink_start "$fam" "${dports[@]}"
	for row in "$@"; do
		read -r src sport dport n want counter msg <<<"$row"
		if [ "$src" = - ]; then
			send_flow "$fam" "$sport" "$dport" "$n" "${opts[@]}"
		else
			send_flow "$fam" "$sport" "$dport" "$n" "${opts[@]}" -s "$src"
		fi
	done
	sink_end || return 1
	for row in "$@"; do
		read -r src sport dport n want counter msg <<<"$row"
		[ "$want" = all ] && want=$n
		assert_eq "$msg" "$want" "${RECV[$dport]:-}"
		[ "$counter" = - ] && continue
		port=$sport
		[ "${counter%/*}" = other ] && port=0
		expect "${counter%/*}" "$port" "${counter#*/}" "$n" "$fam"
	done
}

# attach_check MESSAGE ERE [ATTACH OPTIONS...]: attaches IF_P of NS_P and
# checks it printed one line matching ERE.
attach_check()
{
	local msg=$1 re=$2

	shift 2
	agrun "$NS_P" attach "$IF_P" "$@"
	assert_success "$msg" "$re"
}

# ---- floods ------------------------------------------------------------

FLOOD_PIDS=()
FLOOD_NAMES=()

# flood_start NAME NS CMD...: a sender in NS in the background, its output
# in $(flood_out NAME); its pid in FLOOD_PID, FLOOD_PIDS and E2E_PIDS, so
# cleanup stops it whatever happens to the test.
flood_start()
{
	local name=$1 ns=$2

	shift 2
	ip netns exec "$ns" "$@" >"$(flood_out "$name")" 2>&1 &
	FLOOD_PID=$!
	FLOOD_PIDS+=("$FLOOD_PID")
	FLOOD_NAMES+=("$name")
	E2E_PIDS+=("$FLOOD_PID")
}

# flood_out NAME: the file the sender NAME writes.
flood_out()
{
	echo "$E2E_TMP/flood.$1.out"
}

# flood_reset: forgets the senders started so far (reaped or not).
flood_reset()
{
	FLOOD_PIDS=()
	FLOOD_NAMES=()
}

# flood_running: every sender started since flood_reset is still running.
flood_running()
{
	local p

	for p in "${FLOOD_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
}

# flood_wait [PID...]: reaps the given senders (every one since
# flood_reset when none is given). FLOOD_RC is the last non-zero exit, or
# 0; FLOOD_SENT the "sent N" of the last one reaped, empty when it did
# not say so. Not in a subshell: only this shell can reap them.
# shellcheck disable=SC2034 # FLOOD_RC and FLOOD_SENT are for the suites
flood_wait()
{
	local p i

	[ $# -eq 0 ] && set -- "${FLOOD_PIDS[@]}"
	FLOOD_RC=0
	FLOOD_SENT=""
	for p in "$@"; do
		wait "$p" || FLOOD_RC=$?
		forget_pid "$p"
		for i in "${!FLOOD_PIDS[@]}"; do
			[ "${FLOOD_PIDS[$i]}" = "$p" ] || continue
			FLOOD_SENT=$(sed -n 's/^sent \([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' \
				"$(flood_out "${FLOOD_NAMES[$i]}")")
		done
	done
}

# flood_stop_after SECONDS START_MS PID...: lets the senders run until
# SECONDS after START_MS (now_ms), then stops those still running; each
# prints what it sent, as if its count had run out. Floods sized for
# longer than the exchanges under them, stopped once these are done.
flood_stop_after()
{
	local left=$(($1 * 1000 - ($(now_ms) - $2)))

	shift 2
	ms_sleep "$left"
	flood_stop "$@"
}

# flood_stop PID...: stops the senders among PIDs still running; each
# prints what it sent and exits 0, as if its count had run out.
flood_stop()
{
	kill -TERM "$@" 2>/dev/null
	return 0
}

# settle CMD...: waits, up to 10 s, until two runs of CMD 0.2 s apart print
# the same. A sender's last frames can still wait in the veth's ring when
# it exits, for a receive softirq that a busy or emulated machine runs
# late: counts read at once would miss them.
settle()
{
	settle_read : "$@"
}

# settle_read READ CMD...: settle on CMD, running READ in this shell before
# each run of CMD; what READ sets stays from its last run, so that the
# settled counts need no read of their own (seconds under emulation).
settle_read()
{
	local read=$1 prev cur i

	shift
	"$read"
	prev=$("$@")
	for ((i = 0; i < 50; i++)); do
		sleep 0.2
		"$read"
		cur=$("$@")
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
	done
	return 1
}

# settle_stats: settle on IF_P's UDP counters; STATS and STATS_JSON hold
# the last snapshot.
settle_stats()
{
	settle_read snapshot udp_counters
}

# flood_counters IFACE: IFACE's counters in the 'stats --json' on stdin,
# but for those the hosts' own traffic moves (flood_rows).
flood_counters()
{
	python3 "$AGJSON" counters | flood_rows "$1"
}

# flood_rows IFACE: the rows of agjson.py's counters on stdin that are
# IFACE's, but for those the hosts' own traffic moves (not_ip, not_udp,
# solicited).
flood_rows()
{
	awk -v ifc="$1" '$1 == ifc && $4 != "not_ip" && $4 != "not_udp" && $4 != "solicited"'
}

# prot_flood_counters: flood_counters of IF_P.
prot_flood_counters()
{
	ag "$NS_P" stats --json | flood_counters "$IF_P"
}

# veth_drops NS:DEV:DIRS...: per argument, the frames DEV in NS dropped in
# DIRS (tx, rx or tx+rx), which no XDP program could count.
veth_drops()
{
	local arg ns dev dirs out=""

	for arg in "$@"; do
		IFS=: read -r ns dev dirs <<<"$arg"
		out+="$(ip -n "$ns" -s -j link show dev "$dev" | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]
print(sum(s[d]["dropped"] for d in sys.argv[1].split("+")))' "$dirs" ||
			echo 0) "
	done
	echo "${out% }"
}

# veth_lost NS:DEV:DIRS...: the sum of what veth_drops gives per argument.
veth_lost()
{
	local n sum=0

	for n in $(veth_drops "$@"); do
		sum=$((sum + n))
	done
	echo "$sum"
}

# pair_lost: frames the pair of setup_pair (or one like it) has dropped so
# far, the peer's transmit and receive and the protected side's: a full
# ring on a busy machine, which the XDP program never saw.
pair_lost()
{
	veth_lost "$NS_A:$IF_A:tx+rx" "$NS_P:$IF_P:rx+tx"
}

# ---- the counter model -------------------------------------------------

# expect VECTOR PORT REASON PACKETS FAMILY: the XDP counters of IF_P grew so.
expect()
{
	local key="$1 $2 $3"

	EXP_PKTS[$key]=$((${EXP_PKTS[$key]:-0} + $4))
	EXP_BYTES[$key]=$((${EXP_BYTES[$key]:-0} + $4 * $(frame_len "$5")))
}

verdict_of()
{
	if [ "$1" = policy_drop ]; then echo drop; else echo pass; fi
}

# expected_counters: the model as "VECTOR PORT REASON VERDICT PACKETS BYTES" lines.
expected_counters()
{
	local key

	for key in "${!EXP_PKTS[@]}"; do
		echo "$key $(verdict_of "${key##* }") ${EXP_PKTS[$key]} ${EXP_BYTES[$key]}"
	done | sort
}

# snapshot: reads 'stats --json' of NS_P into STATS_JSON and STATS (all
# counters of IF_P, lines as in expected_counters).
snapshot()
{
	STATS_JSON=$(ag "$NS_P" stats --json)
	stats_parse
}

# stats_parse: STATS from STATS_JSON (a snapshot in two steps, to time the read alone).
stats_parse()
{
	STATS=$(printf '%s\n' "$STATS_JSON" | python3 "$AGJSON" counters |
		awk -v ifc="$IF_P" '$1 == ifc { print $2, $3, $4, $5, $6, $7 }' | sort)
}

# udp_counters: the UDP part of STATS; frames that are not UDP (ARP,
# ICMPv6, TCP) are counted too but their number is not the tests' to decide.
udp_counters()
{
	printf '%s\n' "$STATS" | awk '$3 != "not_ip" && $3 != "not_udp" && NF'
}

# counter_line VECTOR REASON: that counter in STATS, or nothing.
counter_line()
{
	printf '%s\n' "$STATS" | awk -v v="$1" -v r="$2" '$1 == v && $3 == r'
}

# counter_packets VECTOR REASON: its packets in STATS, 0 when not counted.
counter_packets()
{
	counter_line "$1" "$2" | awk '{ n = $5 } END { print n + 0 }'
}

# assert_counter NAME VECTOR REASON: STATS holds what the model says.
assert_counter()
{
	assert_eq "$1" "$(expected_counters | awk -v v="$2" -v r="$3" '$1 == v && $3 == r')" \
		"$(counter_line "$2" "$3")"
}

# assert_model NAME: every UDP counter of STATS is what the model says, no more.
assert_model()
{
	assert_lines "$1" "$(expected_counters)" "$(udp_counters)"
}

# ====================================================================
# ---- daemons, stack counters and tracking (added for test_tracking.sh)
# Helpers below only add to the ones above; they change none of them.
# ====================================================================

UDPFLOOD=$E2E_TOP/build/tests/udpflood
# shellcheck disable=SC2034 # for the tests that source this file
UDPASK=$E2E_TOP/tests/tools/udpask.py
# No daemon a test starts outlives this many seconds, even if the test is
# killed before its cleanup runs.
DAEMON_MAX_SECONDS=600

# check_here NAME CMD...: check, with CMD run in this shell rather than a
# subshell, so that the background processes it starts are tracked here.
check_here()
{
	local name=$1 rc

	shift
	"$@" >"$E2E_TMP/check.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "'$*' exited $rc: $(cat "$E2E_TMP/check.out")"
	fi
}

# require_udpflood: builds the flood generator when it is missing or older
# than its source.
require_udpflood()
{
	local src=$E2E_TOP/tests/tools/udpflood.c

	if [ ! -x "$UDPFLOOD" ] || [ "$src" -nt "$UDPFLOOD" ]; then
		make -s -C "$E2E_TOP" build/tests/udpflood >"$E2E_TMP/make.out" 2>&1 ||
			bail "cannot build $UDPFLOOD: $(cat "$E2E_TMP/make.out")"
	fi
}

# private_binaries: runs this test on copies of ampguard and the traffic
# tools, so that a rebuild while it runs cannot mix two builds (a CLI of
# one build reading the pins of another).
private_binaries()
{
	local dir=$E2E_TMP/bin

	if ! mkdir -p "$dir" || ! cp "$AG_BIN" "$UDPGEN" "$UDPSINK" "$UDPFLOOD" "$dir/"; then
		bail "cannot copy the binaries to $dir"
	fi
	AG_BIN=$dir/ampguard
	UDPGEN=$dir/udpgen
	UDPSINK=$dir/udpsink
	UDPFLOOD=$dir/udpflood
}

# daemon_start VAR NAME NS CMD...: runs CMD in the foreground of a
# background job in namespace NS, bounded by DAEMON_MAX_SECONDS, output in
# $E2E_TMP/NAME.log. Its pid goes to VAR and to E2E_PIDS, so cleanup stops
# it whatever happens to the test.
daemon_start()
{
	local _ds_var=$1 _ds_name=$2 _ds_ns=$3

	shift 3
	timeout "$DAEMON_MAX_SECONDS" ip netns exec "$_ds_ns" "$@" >"$E2E_TMP/$_ds_name.log" 2>&1 &
	E2E_PIDS+=("$!")
	printf -v "$_ds_var" '%s' "$!"
}

# daemon_stop PID: stops a daemon started by daemon_start and reaps it.
daemon_stop()
{
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget_pid "$1"
}

# daemon_alive PID
daemon_alive()
{
	kill -0 "$1" 2>/dev/null
}

# wait_udp_listen NS ADDR PORT: up to 10 s for a UDP socket on ADDR:PORT in NS.
wait_udp_listen()
{
	local i addr=$2

	case $addr in *:*) addr="[$addr]" ;; esac
	for ((i = 0; i < 200; i++)); do
		ip netns exec "$1" ss -Hnlu src "$addr:$3" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

# udp_seen NS FAMILY: UDP datagrams the stack of NS took in for FAMILY (4
# or 6), delivered to a socket or not: InDatagrams + NoPorts + InErrors.
# shellcheck disable=SC2016 # awk programs
udp_seen()
{
	if [ "$2" = 6 ]; then
		ip netns exec "$1" awk '$1 == "Udp6InDatagrams" || $1 == "Udp6NoPorts" ||
			$1 == "Udp6InErrors" { n += $2 } END { print n + 0 }' /proc/net/snmp6
	else
		ip netns exec "$1" awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ {
			print $2 + $3 + $4 }' /proc/net/snmp
	fi
}

# reason_packets REASON [VECTOR...]: packets counted for REASON in STATS,
# summed over the VECTORs (every vector when none is given).
reason_packets()
{
	local reason=$1

	shift
	printf '%s\n' "$STATS" | awk -v r="$reason" -v list="$*" '
		BEGIN { n = split(list, v, " "); for (i = 1; i <= n; i++) want[v[i]] = 1 }
		$3 == r && (n == 0 || ($1 in want)) { s += $5 }
		END { print s + 0 }'
}

# counter_deltas OLD NEW: "VECTOR REASON PACKETS" for every UDP counter
# that grew between two STATS snapshots, sorted.
counter_deltas()
{
	awk 'NR == FNR { old[$1 " " $3] = $5; next }
	     $3 != "not_ip" && $3 != "not_udp" && NF && $5 != old[$1 " " $3] {
		print $1, $3, $5 - old[$1 " " $3] }' \
		<(printf '%s\n' "$1") <(printf '%s\n' "$2") | sort
}

# status_field NS EXPR: one value of 'status --json', EXPR a Python
# expression on the document d (e.g. 'd["tracking"]["entries"]').
status_field()
{
	ag "$1" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$2"
}

# track_timeout_ms NS VECTOR: the vector's tracking timeout in 'status --json'.
track_timeout_ms()
{
	status_field "$1" "next(v['track_timeout_ms'] for v in d['vectors'] if v['name'] == '$2')"
}

# at_least_permille PART WHOLE PERMILLE: PART >= WHOLE * PERMILLE / 1000.
at_least_permille()
{
	[ $(($1 * 1000)) -ge $(($2 * $3)) ]
}

# at_most_permille PART WHOLE PERMILLE: PART <= WHOLE * PERMILLE / 1000.
at_most_permille()
{
	[ $(($1 * 1000)) -le $(($2 * $3)) ]
}

# assert_flood_counted LABEL SENT COUNTED LOST [PERMILLE]: the program
# counted every frame of a flood (COUNTED of SENT) but for some of the LOST
# ones a veth dropped before XDP, and those were at most PERMILLE (default
# 20) of SENT. A loaded host's veth pair has lost 0.4% of a flood when the
# sender, late, caught up in one burst; LOST may cover other traffic too,
# so it bounds the shortfall rather than equalling it.
assert_flood_counted()
{
	local max=${5:-20}

	check "$1: counted $3 of $2 sent, $4 lost in the veth" \
		test "$3" -le "$2" -a "$3" -ge $(($2 - $4))
	check "$1: at most $((max / 10)).$((max % 10))% missing ($(($2 - $3)) of $2)" \
		at_most_permille $(($2 - $3)) "$2" "$max"
}

# now_ms: wall-clock milliseconds since the epoch, as udpask.py's ready file.
now_ms()
{
	date +%s%3N
}

# ms_sleep MS: sleeps MS milliseconds; not at all when MS <= 0.
ms_sleep()
{
	[ "$1" -gt 0 ] || return 0
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}
