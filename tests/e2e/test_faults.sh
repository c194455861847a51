#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The control plane against faults, under a DNS reflection flood:
#
#   1. kill -9 of ampguard at various moments, after random delays and at
#      exact steps (tests/tools/killat.c): during a first attach, an in-place
#      re-attach and a detach, during set, apply and allow --file of a big
#      list, and of a running exporter and stats --watch. Protection must
#      stay in force (a killed first attach: fully attached, nothing left, or
#      what is left reported by status as an interrupted attach),
#      no lock may outlive its process, the next command must work, and a
#      killed commit must count as all or nothing, even for the commits
#      after it;
#   2. a state directory left half-written (pins removed by hand, a stale
#      staging directory): status, set, attach and detach must repair it or
#      fail with one line, and the documented commands must get back to a
#      clean state;
#   3. the tracking table and the per-source rate-limit table driven far past
#      their 131072 entries: both stay bounded, a fresh request is still
#      tracked, and --source-table-full drop/evict do what they say;
#   4. the protected interface going down and up, and being deleted and
#      re-created under the same name;
#   5. every verb fed bad arguments: a non-zero exit with one line (or the
#      verb's usage), never a crash, never a hang;
#   6. the common verbs under valgrind: no errors, no definite leaks.
#
# Every command is bounded by a timeout; everything runs in namespaces and
# a state root of its own, removed on exit.
#
# Each test attaches afresh: any one runs alone (tests/run.sh SUITE TEST).
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SRCSET=$E2E_TOP/build/tests/srcset
FAULTJSON=$E2E_TOP/tests/tools/faultjson.py
VG_SUPP=$E2E_TOP/tests/tools/valgrind-bpf.supp
PY=$(command -v /usr/bin/python3 || command -v python3)

CMD_TIMEOUT=10     # seconds any ampguard command may take
FLOOD_RATE=2000    # pps of the background DNS reflection flood
BIG_LIST=50000     # CIDRs in the big allow list
EXPORTER_PORT=9817 # inside the protected namespace

# ---- helpers ---------------------------------------------------------------

fj()
{
	"$PY" "$FAULTJSON" "$@"
}

# agt ARGS...: the CLI in NS_P under a timeout; AG_OUT, AG_ERR and AG_RC as agrun.
agt()
{
	AG_TIMEOUT=$CMD_TIMEOUT agrun "$NS_P" "$@"
}

# error_lines: the lines of AG_ERR that are not warnings.
error_lines()
{
	printf '%s' "$AG_ERR" | grep -vc '^ampguard: warning: '
}

# clean_answer: the last agt neither crashed nor hung, and either succeeded
# or failed with exactly one error line. WHY says what was wrong.
clean_answer()
{
	WHY=""
	if [ "$AG_RC" -eq 124 ] || [ "$AG_RC" -eq 137 ]; then
		WHY="hung (killed after ${CMD_TIMEOUT}s)"
	elif [ "$AG_RC" -ge 128 ]; then
		WHY="died of signal $((AG_RC - 128))"
	elif printf '%s' "$AG_ERR" | grep -qE 'Sanitizer|runtime error|double free|corrupted'; then
		WHY="memory error: $(oneline "$AG_ERR")"
	elif [ "$AG_RC" -ne 0 ] && [ "$(error_lines)" -ne 1 ]; then
		WHY="exit $AG_RC with $(error_lines) error lines: $(oneline "$AG_ERR")"
	fi
	[ -z "$WHY" ]
}

# lock_free: nobody holds the writer lock on the state root.
lock_free()
{
	[ ! -d "$AMPGUARD_ROOT" ] || flock -n -E 75 "$AMPGUARD_ROOT" true
}

# iface_state: IF_P's state in 'status --json', "none", or "status-failed".
iface_state()
{
	local out

	out=$(AG_TIMEOUT=$CMD_TIMEOUT ag "$NS_P" status --json 2>/dev/null) ||
		{ echo status-failed; return; }
	printf '%s' "$out" | fj state "$IF_P"
}

# vector_action VECTOR: its action in 'status --json', or "status-failed".
vector_action()
{
	local out

	out=$(AG_TIMEOUT=$CMD_TIMEOUT ag "$NS_P" status --json 2>/dev/null) ||
		{ echo status-failed; return; }
	printf '%s' "$out" | fj action "$1"
}

# dns_dropped: DNS packets IF_P dropped so far, or -1 when stats fails.
dns_dropped()
{
	local out v

	out=$(AG_TIMEOUT=$CMD_TIMEOUT ag "$NS_P" stats --json 2>/dev/null) || { echo -1; return; }
	v=$(printf '%s' "$out" | fj dropped "$IF_P" dns)
	[[ "$v" =~ ^[0-9]+$ ]] || v=-1
	echo "$v"
}

# counting: the DNS drops of IF_P grow under the flood.
counting()
{
	local a b

	a=$(dns_dropped)
	sleep 0.5
	b=$(dns_dropped)
	COUNTS="$a -> $b"
	[ "$a" -ge 0 ] && [ "$b" -gt "$a" ]
}

# xdp_id: id of the XDP program on IF_P, 0 when none.
xdp_id()
{
	local id

	id=$(ip -n "$NS_P" -d link show dev "$IF_P" 2>/dev/null |
		grep -oE 'prog/xdp[a-z]* id [0-9]+' | awk '{ print $3; exit }')
	echo "${id:-0}"
}

# tracker_on: ampguard's egress filter is on IF_P.
tracker_on()
{
	tc -n "$NS_P" filter show dev "$IF_P" egress 2>/dev/null | grep -q ampguard
}

# leftovers: what of ampguard is left on IF_P and in the state root, or nothing.
leftovers()
{
	local out="" pins id

	if [ -d "$AMPGUARD_ROOT" ]; then
		pins=$(cd "$AMPGUARD_ROOT" && find . -mindepth 1 | sed 's|^\./||' | sort | paste -sd' ')
		[ -n "$pins" ] && out+="pins: $pins; "
	fi
	id=$(xdp_id)
	[ "$id" != 0 ] && out+="XDP program $id on $IF_P; "
	tracker_on && out+="ampguard's egress filter on $IF_P; "
	printf '%s' "$out"
}

# is_protected: status says protected, the program is on the link and the
# flood's DNS drops keep being counted. PROT_WHY says what is missing.
is_protected()
{
	local st

	PROT_WHY=""
	st=$(iface_state)
	[ "$st" = protected ] || PROT_WHY+="status says '$st'; "
	[ "$(xdp_id)" != 0 ] || PROT_WHY+="no XDP program on $IF_P; "
	counting || PROT_WHY+="DNS drops not counting ($COUNTS); "
	[ -z "$PROT_WHY" ]
}

# scrub: removes whatever ampguard left, by force, for the next case.
scrub()
{
	AG_TIMEOUT=$CMD_TIMEOUT ag "$NS_P" detach "$IF_P" >/dev/null 2>&1
	tc -n "$NS_P" filter del dev "$IF_P" egress >/dev/null 2>&1
	tc -n "$NS_P" qdisc del dev "$IF_P" clsact >/dev/null 2>&1
	case $AMPGUARD_ROOT in
	/sys/fs/bpf/ampguard-test-*) rm -rf "$AMPGUARD_ROOT" ;;
	esac
}

# fresh_attach: a clean attach of IF_P, whatever came before.
fresh_attach()
{
	scrub
	agt attach "$IF_P"
	[ "$AG_RC" -eq 0 ]
}

# make_link: (re)creates the veth pair between NS_A and NS_P as setup_pair does.
make_link()
{
	ip -n "$NS_A" link add "$IF_A" address "$MAC_A" type veth \
		peer name "$IF_P" address "$MAC_P" netns "$NS_P" || return 1
	nsctl "$NS_P" "net.ipv4.conf.$IF_P.rp_filter=0" \
		"net.ipv6.conf.$IF_P.router_solicitations=0" || return 1
	nsctl "$NS_A" "net.ipv4.conf.$IF_A.rp_filter=0" \
		"net.ipv6.conf.$IF_A.router_solicitations=0" || return 1
	ip -n "$NS_P" link set "$IF_P" up && ip -n "$NS_A" link set "$IF_A" up &&
		ip -n "$NS_P" addr add "$ADDR_P4/24" dev "$IF_P" &&
		ip -n "$NS_P" addr add "$ADDR_P6/64" dev "$IF_P" nodad &&
		ip -n "$NS_A" addr add "$ADDR_A4/24" dev "$IF_A" &&
		ip -n "$NS_A" addr add "$ADDR_A6/64" dev "$IF_A" nodad &&
		ip -n "$NS_A" neigh replace "$ADDR_P4" lladdr "$MAC_P" dev "$IF_A" nud permanent &&
		ip -n "$NS_A" neigh replace "$ADDR_P6" lladdr "$MAC_P" dev "$IF_A" nud permanent &&
		ip -n "$NS_P" neigh replace "$ADDR_A4" lladdr "$MAC_A" dev "$IF_P" nud permanent &&
		ip -n "$NS_P" neigh replace "$ADDR_A6" lladdr "$MAC_A" dev "$IF_P" nud permanent
}

# flood_on: the background flood, from 200 spoofed DNS servers, restarted
# whenever udpflood stops (its 120 s limit, the link going away); started
# unless it runs. flood_off stops it.
flood_on()
{
	[ -n "${FLOOD_PID:-}" ] && daemon_alive "$FLOOD_PID" && return
	flood_start dns "$NS_A" timeout "$DAEMON_MAX_SECONDS" bash -c \
		'while :; do "$@" >/dev/null 2>&1; sleep 0.2; done' flood \
		"$UDPFLOOD" -s 198.51.100.1 --sources 200 -d "$ADDR_P4" --sport 53 \
		--dport 30000-30099 -n $((FLOOD_RATE * 50)) --rate "$FLOOD_RATE"
}

flood_off()
{
	[ -n "${FLOOD_PID:-}" ] || return
	daemon_stop "$FLOOD_PID"
	FLOOD_PID=""
}

# bg_ag VAR ARGS...: the CLI in NS_P in the background, its pid in VAR.
bg_ag()
{
	local _var=$1

	shift
	nsenter --net="/run/netns/$NS_P" "$AG_BIN" "$@" >"$E2E_TMP/bg.out" 2>&1 &
	printf -v "$_var" '%s' "$!"
}

# kill_after PID MS: kill -9 after MS milliseconds, then reap.
kill_after()
{
	ms_sleep "$2"
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# killed_at STEP[:N] ARGS...: runs the CLI in NS_P with killat.so, which
# kill -9s it at STEP (see tests/tools/killat.c). KILLED is empty when it
# was killed there, and says so when the step never came.
killed_at()
{
	local step=$1 rc

	shift
	# timeout re-raises the KILL on itself; the subshell that reports it
	# (the "exit" keeps it from exec'ing timeout) has no stderr.
	(timeout -k 2 "$CMD_TIMEOUT" nsenter --net="/run/netns/$NS_P" \
		env LD_PRELOAD="$KILLAT_SO" KILLAT="$step" "$AG_BIN" "$@" >/dev/null 2>&1
	 exit $?) 2>/dev/null
	rc=$?
	KILLED=""
	[ "$rc" -eq 137 ] || KILLED=" (never reached $step: exit $rc)"
}

# time_ms ARGS...: how long one run of the CLI takes, in TIME_MS.
time_ms()
{
	local t0

	t0=$(now_ms)
	agt "$@"
	TIME_MS=$(($(now_ms) - t0))
}

# allow_counts: "STATUS_COUNT LISTED": the allowlist's size as status
# counts it and as 'allow --json' lists it.
allow_counts()
{
	local c j

	c=$(ag "$NS_P" status --json 2>/dev/null | fj lists | awk '{ print $1 }')
	j=$(ag "$NS_P" allow --json 2>/dev/null | fj len)
	echo "${c:-error} ${j:-error}"
}

# ---- 1. kill -9 --------------------------------------------------------------

# after_first_attach_kill LABEL: a killed first attach left everything or nothing.
after_first_attach_kill()
{
	local label=$1 left outcome="" why=""

	lock_free || why+="the writer lock is still held; "
	left=$(leftovers)
	agt status --json
	if [ "$(iface_state)" = protected ] && [ "$(xdp_id)" != 0 ] && tracker_on; then
		outcome=attached
	elif [ -z "$left" ]; then
		outcome=nothing
	elif [ "$AG_RC" -eq 0 ] && [ "$(printf '%s' "$AG_OUT" | fj state "$IF_P")" = interrupted ]; then
		outcome="what status calls interrupted"
	elif [ "$AG_RC" -ne 0 ] && [ "$(error_lines)" -eq 1 ] &&
	     printf '%s' "$AG_ERR" | grep -q 'interrupted attach'; then
		outcome="what status reports as an interrupted attach"
	fi
	if [ -n "$outcome" ] && [ -z "$why" ]; then
		ok "attach killed $label: left $outcome"
	else
		not_ok "attach killed $label: left fully attached, nothing, or what status reports as interrupted" \
			"$why${left:+left: $left}; status: $(oneline "$AG_OUT$AG_ERR")"
	fi

	why=""
	agt status
	clean_answer || why+="status: $WHY; "
	agt attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || why+="attach exited $AG_RC: $(oneline "$AG_ERR"); "
	is_protected || why+="after attach: $PROT_WHY"
	agt detach "$IF_P"
	[ "$AG_RC" -eq 0 ] || why+="detach exited $AG_RC: $(oneline "$AG_ERR"); "
	left=$(leftovers)
	[ -z "$left" ] || why+="after detach: $left"
	if [ -z "$why" ]; then
		ok "after the attach killed $label: status, attach, detach work"
	else
		not_ok "after the attach killed $label: status, attach, detach work" "$why"
	fi
	scrub
}

kill_attach()
{
	local i d p max why step left

	scrub
	time_ms attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || not_ok "attach before the kills" "exit $AG_RC: $AG_ERR"
	max=$((TIME_MS * 12 / 10 + 1))
	agt detach "$IF_P"
	for i in 1 2 3 4 5; do
		d=$((RANDOM % max))
		bg_ag p attach "$IF_P"
		kill_after "$p" "$d"
		after_first_attach_kill "after $d ms (attach takes $TIME_MS ms)"
	done

	# At each step between the staging directory's creation and its
	# rename into place.
	for step in "mkdir|once its staging directory exists" "pin:1|before its first pin" \
		    "pin:4|before pinning its link" "pin:5|before pinning the shared maps" \
		    "rename|before the rename into place"; do
		killed_at "${step%%|*}" attach "$IF_P"
		after_first_attach_kill "${step#*|}$KILLED"
	done

	# Detach alone removes what a killed first attach left, its egress
	# filter included (killed before its ifinfo, the list of its filters,
	# was pinned).
	for step in "pin:1|before its first pin" "pin:4|before pinning its link"; do
		scrub
		killed_at "${step%%|*}" attach "$IF_P"
		why=""
		tracker_on || why+="(the killed attach had not put its egress filter on) "
		agt detach "$IF_P"
		left=$(leftovers)
		if [ "$AG_RC" -eq 0 ] && [ -z "$left" ]; then
			ok "attach killed ${step#*|}$KILLED: detach alone removes its leftovers $why"
		else
			not_ok "attach killed ${step#*|}$KILLED: detach alone removes its leftovers" \
				"detach exited $AG_RC ($(oneline "$AG_OUT$AG_ERR")); left: $left $why"
		fi
	done
	scrub

	# In-place re-attach of a protected interface.
	fresh_attach || not_ok "attach before the re-attach kills" "$AG_ERR"
	for i in 1 2 3 4; do
		d=$((RANDOM % max))
		bg_ag p attach "$IF_P"
		kill_after "$p" "$d"
		why=""
		lock_free || why+="the writer lock is still held; "
		is_protected || why+="$PROT_WHY"
		agt attach "$IF_P"
		[ "$AG_RC" -eq 0 ] || why+="the next attach exited $AG_RC: $(oneline "$AG_ERR")"
		if [ -z "$why" ]; then
			ok "re-attach killed after $d ms: still protected, the next attach works"
		else
			not_ok "re-attach killed after $d ms: still protected, the next attach works" "$why"
		fi
	done
	killed_at pin:1 attach "$IF_P"
	why=""
	lock_free || why+="the writer lock is still held; "
	is_protected || why+="$PROT_WHY"
	agt detach "$IF_P"
	[ "$AG_RC" -eq 0 ] || why+="detach exited $AG_RC: $(oneline "$AG_ERR"); "
	left=$(leftovers)
	[ -z "$left" ] || why+="after detach, left: $left"
	if [ -z "$why" ]; then
		ok "re-attach killed between unpinning and re-pinning its tracker$KILLED: still protected, detach cleans up"
	else
		not_ok "re-attach killed between unpinning and re-pinning its tracker$KILLED: still protected, detach cleans up" "$why"
	fi
}

# after_set_kill LABEL BEFORE WANT: a killed 'set ntp WANT' left ntp at
# BEFORE or WANT, and later commits of other kinds keep it there.
after_set_kill()
{
	local label=$1 before=$2 want=$3 a1 a2 a3 why=""

	lock_free || why+="the writer lock is still held; "
	a1=$(vector_action ntp)
	agt serve 5353
	[ "$AG_RC" -eq 0 ] || why+="serve exited $AG_RC: $(oneline "$AG_ERR"); "
	a2=$(vector_action ntp)
	agt serve 5353 --delete
	a3=$(vector_action ntp)
	case $a1 in "$before" | "$want") ;; *) why+="ntp is '$a1'; " ;; esac
	[ "$a1" = "$a2" ] && [ "$a2" = "$a3" ] ||
		why+="ntp went $a1 -> $a2 -> $a3 across 'serve 5353' and 'serve 5353 --delete'; "
	counting || why+="DNS drops not counting ($COUNTS)"
	if [ -z "$why" ]; then
		ok "set ntp $want killed $label: ntp stays '$a1' through later commits"
	else
		not_ok "set ntp $want killed $label: all or nothing, through later commits" "$why"
	fi
}

# A killed set: the vector has the old or the new action, and keeps it
# through later commits of other kinds.
kill_set()
{
	local i d p max want before

	fresh_attach || not_ok "attach before the set kills" "$AG_ERR"
	time_ms set ntp pass
	max=$((TIME_MS + 1))
	agt set ntp drop
	for i in 1 2 3 4 5; do
		before=$(vector_action ntp)
		want=pass
		[ "$before" = pass ] && want=drop
		d=$((RANDOM % max))
		bg_ag p set ntp "$want"
		kill_after "$p" "$d"
		after_set_kill "after $d ms (set takes $TIME_MS ms)" "$before" "$want"
	done
	before=$(vector_action ntp)
	want=pass
	[ "$before" = pass ] && want=drop
	killed_at membarrier set ntp "$want"
	after_set_kill "in the grace period after its flip$KILLED" "$before" "$want"
	agt set ntp drop
}

# after_allow_kill LABEL: a killed 'allow --file' of the big list on an
# empty allowlist left all of it or none, also through the next commits,
# and status counts what the list holds.
after_allow_kill()
{
	local label=$1 c1 c2 c3 why=""

	lock_free || why+="the writer lock is still held; "
	c1=$(allow_counts)
	agt allow 203.0.113.77
	[ "$AG_RC" -eq 0 ] || why+="allow 203.0.113.77 exited $AG_RC: $(oneline "$AG_ERR"); "
	c2=$(allow_counts)
	agt allow 203.0.113.77 --delete
	c3=$(allow_counts)
	case $c1 in "0 0" | "$BIG_LIST $BIG_LIST") ;;
	*) why+="after the kill: status counts ${c1% *}, the list holds ${c1#* }; " ;; esac
	case $c2 in "1 1" | "$((BIG_LIST + 1)) $((BIG_LIST + 1))") ;;
	*) why+="after 'allow 203.0.113.77': status counts ${c2% *}, the list holds ${c2#* }; " ;;
	esac
	[ "$c3" = "$c1" ] || why+="after its --delete: status counts ${c3% *}, the list holds ${c3#* }; "
	counting || why+="DNS drops not counting ($COUNTS)"
	if [ -z "$why" ]; then
		ok "allow --file killed $label: the list holds ${c1#* } of $BIG_LIST, through later commits"
	else
		not_ok "allow --file of $BIG_LIST killed $label: all or nothing, through later commits" "$why"
	fi
}

kill_allow_file()
{
	local d p pct total

	fresh_attach || not_ok "attach before the allow kills" "$AG_ERR"
	time_ms allow --file "$E2E_TMP/big.txt"
	[ "$AG_RC" -eq 0 ] || not_ok "allow --file of $BIG_LIST CIDRs" "exit $AG_RC: $AG_ERR"
	total=$TIME_MS
	for pct in 10 30 50 70 90; do
		fresh_attach || not_ok "attach before an allow kill" "$AG_ERR"
		d=$((total * pct / 100 + RANDOM % (total / 10 + 1)))
		bg_ag p allow --file "$E2E_TMP/big.txt"
		kill_after "$p" "$d"
		after_allow_kill "after $d ms (of $total)"
	done
	fresh_attach || not_ok "attach before an allow kill" "$AG_ERR"
	killed_at membarrier allow --file "$E2E_TMP/big.txt"
	after_allow_kill "in the grace period after its flip$KILLED"
}

# after_apply_kill LABEL: applying the file again converges to it, and
# stays there through later commits.
after_apply_kill()
{
	local label=$1 why="" allow act

	lock_free || why+="the writer lock is still held; "
	counting || why+="DNS drops not counting ($COUNTS); "
	agt apply "$E2E_TMP/big.yaml"
	[ "$AG_RC" -eq 0 ] || why+="apply again exited $AG_RC: $(oneline "$AG_ERR"); "
	agt serve 5353
	agt serve 5353 --delete
	allow=$(allow_counts)
	act=$(vector_action ntp)
	[ "$allow" = "$BIG_LIST $BIG_LIST" ] ||
		why+="after applying again, 'serve 5353' and its --delete: status counts ${allow% *}, the list holds ${allow#* } of $BIG_LIST; "
	[ "$act" = pass ] || why+="ntp is '$act', the file says pass"
	if [ -z "$why" ]; then
		ok "apply killed $label: applying again converges to the file"
	else
		not_ok "apply killed $label: applying again converges to the file" "$why"
	fi
}

kill_apply()
{
	local d p pct total

	cat >"$E2E_TMP/big.yaml" <<-EOF
		vectors:
		  ntp: { action: pass }
		allow-files: [$E2E_TMP/big.txt]
	EOF
	fresh_attach || not_ok "attach before the apply kills" "$AG_ERR"
	time_ms apply "$E2E_TMP/big.yaml"
	[ "$AG_RC" -eq 0 ] || not_ok "apply of a file with $BIG_LIST CIDRs" "exit $AG_RC: $AG_ERR"
	total=$TIME_MS
	for pct in 20 50 80; do
		fresh_attach || not_ok "attach before an apply kill" "$AG_ERR"
		d=$((total * pct / 100 + RANDOM % (total / 10 + 1)))
		bg_ag p apply "$E2E_TMP/big.yaml"
		kill_after "$p" "$d"
		after_apply_kill "after $d ms (of $total)"
	done
	fresh_attach || not_ok "attach before an apply kill" "$AG_ERR"
	killed_at membarrier apply "$E2E_TMP/big.yaml"
	after_apply_kill "in the grace period after its flip$KILLED"
}

# A killed detach: running detach again finishes the job, and attach works.
kill_detach()
{
	local step why left

	for step in "unlink:1|before its first unpin" "unlink:3|half-way through its pins" \
		    "unlink:6|before the shared maps go"; do
		fresh_attach || not_ok "attach before a detach kill" "$AG_ERR"
		killed_at "${step%%|*}" detach "$IF_P"
		why=""
		lock_free || why+="the writer lock is still held; "
		agt status
		clean_answer || why+="status: $WHY; "
		agt detach "$IF_P"
		clean_answer || why+="detach again: $WHY; "
		left=$(leftovers)
		[ -z "$left" ] || why+="after detach again, left: $left; "
		agt attach "$IF_P"
		[ "$AG_RC" -eq 0 ] || why+="attach exited $AG_RC: $(oneline "$AG_ERR"); "
		is_protected || why+="$PROT_WHY"
		if [ -z "$why" ]; then
			ok "detach killed ${step#*|}$KILLED: detach again cleans up, attach protects"
		else
			not_ok "detach killed ${step#*|}$KILLED: detach again cleans up, attach protects" "$why"
		fi
	done
}

# scrape: GET /metrics from the exporter in NS_P.
scrape()
{
	# shellcheck disable=SC2016 # $0 is the inner shell's
	ip netns exec "$NS_P" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/$0 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
		"$EXPORTER_PORT" 2>/dev/null
}

wait_tcp_listen()
{
	local i

	for ((i = 0; i < 100; i++)); do
		ip netns exec "$NS_P" ss -Hntl "sport = :$EXPORTER_PORT" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

kill_readers()
{
	local p why="" i

	fresh_attach || not_ok "attach before the reader kills" "$AG_ERR"
	bg_ag p exporter --listen "127.0.0.1:$EXPORTER_PORT"
	E2E_PIDS+=("$p")
	wait_tcp_listen || why+="the exporter did not listen; "
	scrape | grep -q '^ampguard_protected_interfaces 1' || why+="first scrape failed; "
	scrape >/dev/null &
	local s=$!
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	forget_pid "$p"
	wait "$s"
	lock_free || why+="the writer lock is held; "
	agt status
	[ "$AG_RC" -eq 0 ] || why+="status exited $AG_RC: $(oneline "$AG_ERR"); "
	counting || why+="DNS drops not counting ($COUNTS); "
	bg_ag p exporter --listen "127.0.0.1:$EXPORTER_PORT"
	E2E_PIDS+=("$p")
	wait_tcp_listen || why+="a new exporter on the same port did not listen: $(cat "$E2E_TMP/bg.out"); "
	scrape | grep -q '^ampguard_protected_interfaces 1' || why+="the new exporter's scrape failed; "
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	forget_pid "$p"
	if [ -z "$why" ]; then
		ok "exporter killed mid-scrape: protection counts on, a new exporter serves the same port"
	else
		not_ok "exporter killed mid-scrape: protection counts on, a new exporter serves the same port" "$why"
	fi

	why=""
	# Every document on one line (JSON Lines).
	bg_ag p stats --watch 1 --json
	for ((i = 0; i < 60; i++)); do
		[ "$(grep -c '^{"version":1' "$E2E_TMP/bg.out")" -ge 2 ] && break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	[ "$(fj lines <"$E2E_TMP/bg.out")" -ge 2 ] ||
		why+="stats --watch --json did not print a document per line and a refresh: $(oneline "$(head -c 300 "$E2E_TMP/bg.out")"); "
	lock_free || why+="the writer lock is held; "
	agt set ntp pass
	[ "$AG_RC" -eq 0 ] || why+="set exited $AG_RC: $(oneline "$AG_ERR"); "
	agt set ntp drop
	counting || why+="DNS drops not counting ($COUNTS)"
	if [ -z "$why" ]; then
		ok "stats --watch killed: writers and counters go on"
	else
		not_ok "stats --watch killed: writers and counters go on" "$why"
	fi
}

# ---- 2. a half-written state directory ------------------------------------

# damage_case NAME DAMAGE: attaches, runs DAMAGE (shell code), then asks
# status, stats, set, attach and detach what they make of it.
damage_case()
{
	local name=$1 unclean="" repaired="" cmd left

	UNREPAIRED=""

	if ! fresh_attach; then
		not_ok "$name: attach first" "exit $AG_RC: $AG_ERR"
		return
	fi
	eval "$2"
	for cmd in "status" "status --json" "stats --json" "set ntp pass"; do
		# shellcheck disable=SC2086 # cmd holds arguments
		agt $cmd
		clean_answer || unclean+="'$cmd' $WHY; "
		CASE_OUT[$cmd]=$AG_OUT
		CASE_ERR[$cmd]=$AG_ERR
	done
	agt attach "$IF_P"
	if [ "$AG_RC" -eq 0 ]; then
		if is_protected; then
			repaired="attach"
		else
			UNREPAIRED="attach exited 0 but did not repair it: $PROT_WHY"
		fi
	else
		clean_answer || unclean+="'attach' $WHY; "
		CASE_ERR[attach]=$AG_ERR
		agt detach "$IF_P"
		clean_answer || unclean+="'detach' $WHY; "
		agt attach "$IF_P"
		if [ "$AG_RC" -eq 0 ] && is_protected; then
			repaired="detach, then attach"
		else
			repaired=""
			UNREPAIRED="attach then exits $AG_RC ($(oneline "$AG_ERR")) ${PROT_WHY:-}"
		fi
	fi
	if [ -z "$unclean" ]; then
		ok "$name: status, stats, set, attach, detach exit 0 or fail with one line"
	else
		not_ok "$name: status, stats, set, attach, detach exit 0 or fail with one line" "$unclean"
	fi
	if [ -n "$repaired" ]; then
		ok "$name: repaired by $repaired"
	else
		not_ok "$name: repaired by attach, or by detach then attach" \
			"first attach said '$(oneline "${CASE_ERR[attach]:-}")'; $UNREPAIRED"
	fi
	agt detach "$IF_P"
	left=$(leftovers)
	if [ "$AG_RC" -eq 0 ] && [ -z "$left" ]; then
		ok "$name: then detach leaves nothing"
	else
		not_ok "$name: then detach leaves nothing" "detach exited $AG_RC ($(oneline "$AG_ERR")); left: $left"
	fi
	scrub
}

damage_all()
{
	local R=$AMPGUARD_ROOT ifd=$AMPGUARD_ROOT/ifaces/$IF_P
	declare -gA CASE_OUT CASE_ERR

	CASE_OUT=() CASE_ERR=()
	damage_case "link pin removed" "rm -f '$ifd/link'"
	assert_eq "link pin removed: status --json calls the interface broken" broken \
		"$(printf '%s' "${CASE_OUT[status --json]:-}" | fj state "$IF_P")"

	CASE_OUT=() CASE_ERR=()
	damage_case "interface directory removed" "rm -rf '$ifd'"

	CASE_OUT=() CASE_ERR=()
	damage_case "shared map pin 'policy' removed" "rm -f '$R/policy'"
	assert_match "policy pin removed: status names the missing map and the fix" \
		"policy.*detach" "${CASE_ERR[status]:-}"
	assert_match "policy pin removed: the next writer re-pins it from the running program" \
		"restored the missing pin .*/policy" "${CASE_ERR[set ntp pass]:-}"

	CASE_OUT=() CASE_ERR=()
	damage_case "shared map pin 'config' removed" "rm -f '$R/config'"
	if printf '%s' "${CASE_ERR[status]:-}" | grep -q 'config' &&
	   ! printf '%s' "${CASE_ERR[status]:-}" | grep -q 'not attached'; then
		ok "config pin removed: status names the missing map"
	else
		not_ok "config pin removed: status names the missing map" \
			"status said '${CASE_ERR[status]:-}' while $IF_P is attached"
	fi

	CASE_OUT=() CASE_ERR=()
	damage_case "stale staging directory with pins" \
		"mkdir '$R/ifaces/staging:$IF_P:99999' &&
		 bpftool map pin pinned '$ifd/stats' '$R/ifaces/staging:$IF_P:99999/stats'"

	CASE_OUT=() CASE_ERR=()
	damage_case "interface ifinfo pin removed" "rm -f '$ifd/ifinfo'"
	assert_match "ifinfo pin removed: the next writer re-pins it from the running program" \
		"restored the missing pin .*/ifinfo" "${CASE_ERR[set ntp pass]:-}"

	CASE_OUT=() CASE_ERR=()
	damage_case "interface stats pin removed" "rm -f '$ifd/stats'"
	assert_match "stats pin removed: the next writer re-pins it from the running program" \
		"restored the missing pin .*/stats" "${CASE_ERR[set ntp pass]:-}"
}

# ---- 3. tables far past capacity ------------------------------------------

tables()
{
	local before_src before_track after_src after_track t why sources slot
	local ports a b c n cap

	fresh_attach || not_ok "attach before the table floods" "$AG_ERR"
	agt set dns ratelimit --pps 1M --per-source-pps 10 --per-source-burst 10 \
		--source-table-full drop
	[ "$AG_RC" -eq 0 ] || not_ok "set dns ratelimit" "exit $AG_RC: $AG_ERR"
	before_src=$(bpftool -j map show pinned "$AMPGUARD_ROOT/rl_src" | fj memlock)
	before_track=$(bpftool -j map show pinned "$AMPGUARD_ROOT/track" | fj memlock)

	# 300k spoofed DNS servers in, 180k requests to 2.4M (local address,
	# local port) pairs out, at the same time.
	ports=$(seq -s, 40000 40015)
	ip netns exec "$NS_P" "$UDPFLOOD" -6 -s 2001:db8:200::1 --sources 150000 -d "$ADDR_A6" \
		--sport "$ports" --dport 53 -n 180000 --rate 30000 >"$E2E_TMP/out.flood" 2>&1 &
	a=$!
	ip netns exec "$NS_A" "$UDPFLOOD" -6 -s 2001:db8:100::1 --sources 300000 -d "$ADDR_P6" \
		--sport 53 --dport 20000-20999 -n 180000 --rate 30000 >"$E2E_TMP/in.flood" 2>&1 &
	b=$!
	wait "$a" || not_ok "request flood" "$(cat "$E2E_TMP/out.flood")"
	wait "$b" || not_ok "reply flood" "$(cat "$E2E_TMP/in.flood")"

	t=$(ag "$NS_P" status --json | fj tables)
	read -r n cap sources slot <<<"$t"
	[[ "$n$cap$sources$slot" =~ ^[0-9]+$ ]] || { n=-1 cap=0 sources=-1 slot=0; }
	after_src=$(bpftool -j map show pinned "$AMPGUARD_ROOT/rl_src" | fj memlock)
	after_track=$(bpftool -j map show pinned "$AMPGUARD_ROOT/track" | fj memlock)
	why=""
	[ "$cap" = 131072 ] && [ "$n" -le "$cap" ] && [ "$n" -ge 100000 ] ||
		why+="tracking holds $n of $cap; "
	[ "$slot" = 131072 ] && [ "$sources" -le "$slot" ] && [ "$sources" -gt 10000 ] ||
		why+="per-source table holds $sources of $slot; "
	[ "$before_src" = "$after_src" ] || why+="rl_src memlock/entries went $before_src -> $after_src; "
	[ "$before_track" = "$after_track" ] ||
		why+="track memlock/entries went $before_track -> $after_track"
	if [ -z "$why" ]; then
		ok "180k requests and 300k sources: tracking holds $n of $cap, sources $sources of $slot, memory unchanged"
	else
		not_ok "tables stay within capacity and memory under floods past it" "$why"
	fi

	# A full tracking table still takes the newest request.
	snapshot
	a=$(reason_packets solicited dns)
	ip netns exec "$NS_P" "$UDPGEN" -6 -s "$ADDR_P6" -d "$ADDR_A6" --sport 5555 --dport 53 -n 1 \
		>/dev/null
	sleep 0.1
	ip netns exec "$NS_A" "$UDPGEN" -6 -s "$ADDR_A6" -d "$ADDR_P6" --sport 53 --dport 5555 -n 3 \
		>/dev/null
	snapshot
	b=$(reason_packets solicited dns)
	assert_eq "full tracking table: the reply to the newest request is solicited" 3 $((b - a))

	# Three sources that share one set of the per-source table.
	mapfile -t SRC < <("$SRCSET" -s 2001:db8:5:: -v "$DNS_SLOT" -n 3)
	if [ "${#SRC[@]}" -ne 3 ]; then
		not_ok "srcset found three sources of one set" "${SRC[*]}"
		return
	fi
	source_policy drop
	read -r a b c <<<"$POLICY_RECV"
	if [ "$a" -ge 30 ] && [ "$b" -ge 30 ] && [ "$c" -eq 0 ]; then
		ok "--source-table-full drop: the established sources keep getting in ($a, $b), the newcomer gets nothing"
	else
		not_ok "--source-table-full drop: established admitted, newcomer dropped" \
			"admitted: first $a, second $b (at least 30 each), newcomer $c (none)"
	fi
	source_policy evict
	read -r a b c <<<"$POLICY_RECV"
	if [ "$c" -ge 30 ]; then
		ok "--source-table-full evict: the newcomer gets in ($c of 100)"
	else
		not_ok "--source-table-full evict: the newcomer gets in" "admitted: $a, $b, newcomer $c"
	fi
	agt unset dns
}

# source_policy POLICY: two established sources of one set and a newcomer
# of the same set, under the flood of 300k; POLICY_RECV: what each got through.
source_policy()
{
	local sp f g1 g2

	agt set dns ratelimit --pps 1M --per-source-pps 10 --per-source-burst 10 \
		--source-table-full "$1"
	rm -f "$E2E_TMP/sp.ready"
	ip netns exec "$NS_P" "$UDPSINK" -6 -p 5001,5002,5003,9999 -t 20 -e 9999 \
		-r "$E2E_TMP/sp.ready" >"$E2E_TMP/sp.out" 2>&1 &
	sp=$!
	wait_file "$E2E_TMP/sp.ready"
	ip netns exec "$NS_A" "$UDPFLOOD" -6 -s 2001:db8:100::1 --sources 300000 -d "$ADDR_P6" \
		--sport 53 --dport 20000-20999 -n 20000 --rate 5000 >/dev/null 2>&1 &
	f=$!
	ip netns exec "$NS_A" "$UDPGEN" -6 -s "${SRC[0]}" -d "$ADDR_P6" --sport 53 --dport 5001 \
		-n 200 --rate 50 >/dev/null &
	g1=$!
	ip netns exec "$NS_A" "$UDPGEN" -6 -s "${SRC[1]}" -d "$ADDR_P6" --sport 53 --dport 5002 \
		-n 200 --rate 50 >/dev/null &
	g2=$!
	sleep 1
	ip netns exec "$NS_A" "$UDPGEN" -6 -s "${SRC[2]}" -d "$ADDR_P6" --sport 53 --dport 5003 \
		-n 100 --rate 50 >/dev/null
	wait "$g1" "$g2" "$f"
	ip netns exec "$NS_A" "$UDPGEN" -6 -s "$ADDR_A6" -d "$ADDR_P6" --sport 40999 --dport 9999 \
		-n 5 >/dev/null
	wait "$sp"
	POLICY_RECV=$(awk '$1 == 5001 { a = $2 } $1 == 5002 { b = $2 } $1 == 5003 { c = $2 }
		END { print a + 0, b + 0, c + 0 }' "$E2E_TMP/sp.out")
}

# ---- 4. the interface goes down, and away --------------------------------

iface_faults()
{
	local why="" left

	fresh_attach || not_ok "attach before the link faults" "$AG_ERR"
	ip -n "$NS_P" link set "$IF_P" down
	sleep 0.3
	ip -n "$NS_P" link set "$IF_P" up
	sleep 0.5
	if is_protected; then
		ok "$IF_P down and up: still protected, drops counted"
	else
		not_ok "$IF_P down and up: still protected, drops counted" "$PROT_WHY"
	fi

	ip -n "$NS_P" link del "$IF_P"
	assert_eq "$IF_P deleted: status shows it gone" gone "$(iface_state)"
	agt status
	if clean_answer && [ "$AG_RC" -eq 0 ]; then
		ok "$IF_P deleted: status works"
	else
		not_ok "$IF_P deleted: status works" "exit $AG_RC: $AG_ERR"
	fi
	agt detach "$IF_P"
	left=$(leftovers 2>/dev/null)
	if [ "$AG_RC" -eq 0 ] && [ ! -e "$AMPGUARD_ROOT" ]; then
		ok "$IF_P deleted: detach cleans up every pin"
	else
		not_ok "$IF_P deleted: detach cleans up every pin" "exit $AG_RC ($AG_ERR); $left"
	fi
	make_link || bail "cannot re-create $IF_P"
	agt attach "$IF_P"
	if [ "$AG_RC" -eq 0 ] && is_protected; then
		ok "$IF_P re-created: attach protects it"
	else
		not_ok "$IF_P re-created: attach protects it" "exit $AG_RC ($AG_ERR); ${PROT_WHY:-}"
	fi

	# Deleted and re-created without a detach in between.
	ip -n "$NS_P" link del "$IF_P"
	make_link || bail "cannot re-create $IF_P"
	agt attach "$IF_P"
	why=""
	[ "$AG_RC" -eq 0 ] || why+="attach exited $AG_RC: $(oneline "$AG_ERR"); "
	is_protected || why+="$PROT_WHY"
	if [ -z "$why" ]; then
		ok "$IF_P re-created under a stale attach: attach replaces the stale state"
	else
		not_ok "$IF_P re-created under a stale attach: attach replaces the stale state" "$why"
	fi
}

# ---- 5. bad arguments --------------------------------------------------------

# The corpus: one argument vector per line, arguments separated by '|'.
# @NOARGS@ is no argument at all, @EMPTY@ is "", @LONG@ 5000 characters, @BAD@ bytes that are not UTF-8,
# @IF@ the protected interface, @NOFILE@ a missing file, @BADYAML@ a file
# that is not a configuration, @BADLIST@ a CIDR list with a bad line,
# @FILE@ a valid configuration. detach comes last: it is the verb that
# could tear everything down.
corpus()
{
	cat <<-'EOF'
		@NOARGS@
		@EMPTY@
		@LONG@
		@BAD@
		--no-such-option|status
		--root
		--root|@LONG@|status
		--root|@BAD@|set|dns|drop
		attach
		attach|@IF@|extra
		attach|@EMPTY@
		attach|@LONG@
		attach|@BAD@
		attach|-1
		attach|99999999999999999999
		attach|--no-such-option|@IF@
		attach|-Z|@IF@
		attach|@IF@|--mode
		attach|@IF@|--mode|bogus
		attach|@IF@|--mode|@EMPTY@
		attach|@IF@|--track-on|@EMPTY@
		attach|@IF@|--track-on|@LONG@
		attach|@IF@|--track-on|@BAD@
		attach|@IF@|--track-on|@IF@
		attach|@IF@|--config|@NOFILE@
		attach|@IF@|--config|@EMPTY@
		attach|@IF@|--config|@BADYAML@
		status|extra
		status|--no-such-option
		status|-Z
		status|--json|extra
		status|--json=1
		status|@EMPTY@
		status|@LONG@
		status|@BAD@
		stats|@IF@|extra
		stats|@EMPTY@
		stats|@LONG@
		stats|@BAD@
		stats|nosuchif0
		stats|--watch
		stats|--watch|0
		stats|--watch|-1
		stats|--watch|1.5
		stats|--watch|99999999999999999999
		stats|--watch|@EMPTY@
		stats|--watch|@LONG@
		stats|--no-such-option
		stats|-Z
		set
		set|dns
		set|@EMPTY@|drop
		set|@LONG@|drop
		set|@BAD@|drop
		set|bogus|drop
		set|0|drop
		set|-53|drop
		set|65536|drop
		set|99999999999999999999|drop
		set|dns|@EMPTY@
		set|dns|@LONG@
		set|dns|@BAD@
		set|dns|bogus
		set|dns|drop|extra
		set|dns|ratelimit
		set|dns|ratelimit|--pps
		set|dns|ratelimit|--pps|-1
		set|dns|ratelimit|--pps|99999999999999999999
		set|dns|ratelimit|--pps|1e400
		set|dns|ratelimit|--pps|nan
		set|dns|ratelimit|--pps|1.5
		set|dns|ratelimit|--pps|@EMPTY@
		set|dns|ratelimit|--pps|@LONG@
		set|dns|ratelimit|--pps|10|--burst|-5
		set|dns|ratelimit|--pps|10|--burst|0
		set|dns|ratelimit|--per-source-bps|99999999999999999999
		set|dns|--burst|5
		set|dns|--track-timeout|-1s
		set|dns|--track-timeout|2h
		set|dns|--track-timeout|99999999999999999999ms
		set|dns|--track-timeout|@EMPTY@
		set|dns|--track-timeout|@LONG@
		set|dns|--source-table-full|bogus
		set|dns|--source-table-full|@EMPTY@
		set|dns|--no-such-option
		set|dns|drop|-Z
		unset
		unset|@EMPTY@
		unset|@LONG@
		unset|@BAD@
		unset|-1
		unset|65536
		unset|bogus
		unset|27015
		unset|dns|extra
		unset|--no-such-option|dns
		serve|@EMPTY@
		serve|@LONG@
		serve|@BAD@
		serve|0
		serve|-1
		serve|65536
		serve|99999999999999999999
		serve|--delete|bogus
		serve|53|--json=1
		serve|--no-such-option
		serve|-Z
		top|@EMPTY@
		top|@LONG@
		top|@BAD@
		top|bogus
		top|dns|extra
		top|-n
		top|-n|-1
		top|-n|99999999999999999999
		top|-n|@EMPTY@
		top|--interval|-1
		top|--interval|0
		top|--interval|99999999999999999999
		top|--interval|@EMPTY@
		top|--no-such-option
		allow|@EMPTY@
		allow|@LONG@
		allow|@BAD@
		allow|300.1.2.3
		allow|192.0.2.0/33
		allow|192.0.2.0/-1
		allow|192.0.2.0/99999999999999999999
		allow|2001:db8::/129
		allow|192.0.2.1/24
		allow|--file
		allow|--file|@NOFILE@
		allow|--file|@EMPTY@
		allow|--file|@LONG@
		allow|--file|@BADLIST@
		allow|--delete|198.51.100.99
		allow|--no-such-option
		allow|-Z
		deny|@EMPTY@
		deny|@LONG@
		deny|@BAD@
		deny|300.1.2.3
		deny|2001:db8::/129
		deny|198.51.100.1/24
		deny|--file
		deny|--file|@NOFILE@
		deny|--file|@BADLIST@
		deny|--delete|198.51.100.99
		deny|--no-such-option
		fragments|@EMPTY@
		fragments|@LONG@
		fragments|@BAD@
		fragments|nosuchif0
		fragments|@IF@|extra
		fragments|@IF@|--orphans
		fragments|@IF@|--orphans|bogus
		fragments|@IF@|--orphans|@EMPTY@
		fragments|@IF@|--orphans|@LONG@
		fragments|@IF@|--orphans|ratelimit|--pps|-1
		fragments|@IF@|--orphans|ratelimit|--pps|99999999999999999999
		fragments|@IF@|--orphans|ratelimit|--burst|@EMPTY@
		fragments|@IF@|--pps|@LONG@
		fragments|--no-such-option
		exporter|extra
		exporter|--listen
		exporter|--listen|@EMPTY@
		exporter|--listen|@LONG@
		exporter|--listen|@BAD@
		exporter|--listen|127.0.0.1
		exporter|--listen|127.0.0.1:0
		exporter|--listen|127.0.0.1:-1
		exporter|--listen|127.0.0.1:65536
		exporter|--listen|127.0.0.1:99999999999999999999
		exporter|--listen|[::1]
		exporter|--listen|192.0.2.99:9717
		exporter|--config|@NOFILE@
		exporter|--config|@EMPTY@
		exporter|--config|@BADYAML@
		exporter|--once|extra
		exporter|--no-such-option
		exporter|-Z
		apply
		apply|@EMPTY@
		apply|@LONG@
		apply|@BAD@
		apply|@NOFILE@
		apply|@BADYAML@
		apply|@FILE@|extra
		apply|--no-such-option|@FILE@
		apply|--dry-run
		config
		config|@EMPTY@
		config|@LONG@
		config|bogus
		config|show|extra
		config|check
		config|check|@NOFILE@
		config|check|@EMPTY@
		config|check|@LONG@
		config|check|@BAD@
		config|check|@BADYAML@
		config|check|@FILE@|extra
		config|--no-such-option
		vectors|extra
		vectors|--no-such-option
		vectors|-Z
		vectors|--json|extra
		vectors|@EMPTY@
		vectors|@LONG@
		vectors|@BAD@
		detach
		detach|@IF@|extra
		detach|--no-such-option
		detach|-Z|@IF@
		detach|@LONG@
		detach|@BAD@
		detach|nosuchif0
		detach|-1
		detach|@EMPTY@
		detach|/
	EOF
}

VERBS=" attach detach status stats set unset serve top allow deny fragments exporter apply config vectors "

bad_arguments()
{
	local line arg verb long bad n args=() fields=() why
	declare -A tried failed

	long=$(printf 'a%.0s' $(seq 5000))
	bad=$'\xff\xfe\xc3\x28\x80'
	printf 'this: is: [not\n' >"$E2E_TMP/bad.yaml"
	printf '192.0.2.0/24\n192.0.2.300/32\n' >"$E2E_TMP/bad.txt"
	printf 'vectors:\n  ntp: { action: drop }\n' >"$E2E_TMP/good.yaml"

	fresh_attach || not_ok "attach before the bad arguments" "$AG_ERR"
	while IFS= read -r line; do
		args=()
		verb=global
		IFS='|' read -r -a fields <<<"$line"
		for arg in "${fields[@]}"; do
			case $arg in
			@NOARGS@) continue ;;
			@EMPTY@) arg="" ;;
			@LONG@) arg=$long ;;
			@BAD@) arg=$bad ;;
			@IF@) arg=$IF_P ;;
			@NOFILE@) arg=$E2E_TMP/no/such/file.yaml ;;
			@BADYAML@) arg=$E2E_TMP/bad.yaml ;;
			@BADLIST@) arg=$E2E_TMP/bad.txt ;;
			@FILE@) arg=$E2E_TMP/good.yaml ;;
			esac
			[ "$verb" = global ] && [[ "$VERBS" == *" $arg "* ]] && verb=$arg
			args+=("$arg")
		done
		tried[$verb]=$((${tried[$verb]:-0} + 1))
		agt "${args[@]}"
		why=""
		if [ "$AG_RC" -eq 0 ]; then
			why="exited 0 (stdout '$(oneline "$AG_OUT" | cut -c1-80)')"
		elif ! clean_answer; then
			# A usage error may print the verb's whole usage text.
			if [ "$AG_RC" -ge 124 ] || [[ "$WHY" == "memory error"* ]] ||
			   ! printf '%s\n' "$AG_ERR" | grep -q '^usage: ampguard'; then
				why=$WHY
			fi
		fi
		if [ -n "$why" ]; then
			failed[$verb]+="'$(printf '%s' "$line" | cut -c1-60)' $why; "
			# Something that goes through may have changed the state: put it back.
			[ "$(iface_state)" = protected ] || fresh_attach
		fi
	done < <(corpus)

	for verb in global $VERBS; do
		n=${tried[$verb]:-0}
		if [ -z "${failed[$verb]:-}" ]; then
			ok "$verb: $n bad argument vectors fail cleanly (one line or usage, no crash, no hang)"
		else
			not_ok "$verb: $n bad argument vectors fail cleanly" "${failed[$verb]}"
		fi
	done
	if is_protected; then
		ok "after the bad arguments: $IF_P is still protected"
	else
		not_ok "after the bad arguments: $IF_P is still protected" "$PROT_WHY"
	fi
}

# ---- 6. valgrind -------------------------------------------------------------

valgrind_verbs()
{
	local args want rc log errs
	local -a cases=(
		"0 status"
		"0 status --json"
		"0 stats --json"
		"0 set dns monitor"
		"0 allow 192.0.2.128/25"
		"0 config show"
		"0 vectors --json"
		"0 exporter --once"
		"0 top --interval 1 --json"
		"1 set bogus drop"
		"1 allow 192.0.2.1/24"
	)

	if ! command -v valgrind >/dev/null; then
		not_ok "valgrind" "valgrind is missing: run 'make deps'"
		return
	fi
	fresh_attach || not_ok "attach before valgrind" "$AG_ERR"
	agt set dns ratelimit --pps 1M --per-source-pps 10
	agt allow 198.51.100.0/24 2001:db8:77::/48
	for args in "${cases[@]}"; do
		want=${args%% *}
		args=${args#* }
		log=$E2E_TMP/vg.log
		rm -f "$log"
		# shellcheck disable=SC2086 # args holds arguments
		timeout 120 nsenter --net="/run/netns/$NS_P" valgrind -q --leak-check=full \
			--errors-for-leak-kinds=definite --error-exitcode=99 \
			--suppressions="$VG_SUPP" --log-file="$log" \
			"$AG_BIN" $args >/dev/null 2>"$E2E_TMP/vg.err"
		rc=$?
		errs=$(grep -E '^==[0-9]+== ' "$log" 2>/dev/null | head -40)
		if [ "$rc" -eq "$want" ] && [ -z "$errs" ]; then
			ok "valgrind: '$args' exits $want with no error and no definite leak"
		else
			not_ok "valgrind: '$args' exits $want with no error and no definite leak" \
				"exit $rc; $(printf '%s\n' "$errs" | sed 's/^==[0-9]*== //' | grep -v '^$' | head -12 | paste -sd'|')"
		fi
	done
	agt unset dns
}

# ---- main ------------------------------------------------------------------

suite_setup()
{
	require
	require_udpflood
	if [ ! -x "$SRCSET" ] || [ "$E2E_TOP/tests/tools/srcset.c" -nt "$SRCSET" ]; then
		make -s -C "$E2E_TOP" build/tests/srcset >"$E2E_TMP/make.out" 2>&1 ||
			bail "cannot build $SRCSET: $(cat "$E2E_TMP/make.out")"
	fi
	command -v flock >/dev/null || bail "flock is missing (util-linux)"
	command -v bpftool >/dev/null || bail "bpftool is missing: run 'make deps'"
	private_binaries
	cp "$SRCSET" "$E2E_TMP/bin/" && SRCSET=$E2E_TMP/bin/srcset
	KILLAT_SO=$E2E_TMP/bin/killat.so
	cc -O2 -Wall -shared -fPIC "$E2E_TOP/tests/tools/killat.c" -o "$KILLAT_SO" -ldl \
		>"$E2E_TMP/cc.out" 2>&1 || bail "cannot build killat.so: $(cat "$E2E_TMP/cc.out")"
	setup_pair || bail "cannot set up the namespaces"

	# The vector slot of dns, for srcset: built-ins take slots 1.. in the
	# order 'ampguard vectors' lists them.
	DNS_SLOT=$(ag "$NS_P" vectors --json | "$PY" -c 'import json, sys
print([v["name"] for v in json.load(sys.stdin)].index("dns") + 1)')
	awk -v n="$BIG_LIST" 'BEGIN { for (i = 0; i < n; i++)
		printf "2001:db8:%x:%x::/64\n", 0x100 + int(i / 65536), i % 65536 }' >"$E2E_TMP/big.txt"
	SECONDS=0
}

# Each test attaches afresh; the flood is on or off as the test wants it.
# The timing lines say how long the suite has run.
test_kill_attach() { flood_on; kill_attach; }
test_kill_detach() { flood_on; kill_detach; }
test_kill_set() { flood_on; kill_set; }
test_kill_allow_file() { flood_on; kill_allow_file; }
test_kill_apply() { flood_on; kill_apply; }
test_kill_readers() { flood_on; kill_readers; echo "# kill -9: ${SECONDS}s"; }
test_damage() { flood_on; damage_all; echo "# damaged state: ${SECONDS}s"; }
test_tables() { flood_off; tables; echo "# tables: ${SECONDS}s"; }
test_iface_faults() { flood_on; iface_faults; echo "# interface faults: ${SECONDS}s"; }
test_bad_arguments() { flood_on; bad_arguments; echo "# bad arguments: ${SECONDS}s"; }
test_valgrind() { flood_off; valgrind_verbs; echo "# valgrind: ${SECONDS}s"; }

suite_teardown()
{
	flood_off
	scrub
}

E2E_TESTS=(test_kill_attach test_kill_detach test_kill_set test_kill_allow_file test_kill_apply
	test_kill_readers test_damage test_tables test_iface_faults test_bad_arguments test_valgrind)
e2e_run "$@"
