#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end: the Prometheus exporter. The exporter and a real Prometheus
# server run on the host's loopback (127.0.0.1, free high ports picked at
# start); the exporter reads the pins of this run's state root, which are
# global, while the protected interfaces live in the test's namespaces.
#
#   NS_A (peer)                         NS_P (protected, ampguard)
#   peer0 192.0.2.1      ---- veth ---- prot0 192.0.2.2
#   peerK 198.51.100.4K+1 --- veth ---- protK 198.51.100.4K+2   (K = 1..3)
#
#   host: ampguard exporter 127.0.0.1:EXP_PORT <- prometheus 127.0.0.1:PROM_PORT
#
# What it shows:
#   - 'promtool check metrics' accepts --once and HTTP output, with no
#     state, with nothing attached and with interfaces attached after traffic;
#   - Prometheus scrapes the exporter during a DNS reflection flood: the
#     rate of dropped packets is above 0, and once a scrape has followed
#     the flood, Prometheus holds exactly what 'ampguard stats --json' says;
#   - the scrape time with 4 protected interfaces and a full vector table
#     (printed; the median must stay under 100 ms);
#   - scrapes keep answering 200 with valid output while interfaces are
#     attached and detached, and no counter goes backwards while its pins
#     persist;
#   - bad --listen values and a busy port are refused with one line.
# shellcheck disable=SC2317 # the tests run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PROMTEXT=$E2E_TOP/tests/tools/promtext.py
NOSTATE_ROOT=/sys/fs/bpf/ampguard-test-$$-none

FLOOD_RATE=4000       # pps of the DNS flood Prometheus watches
FLOOD_SECONDS=10
FLOOD_N=$((FLOOD_RATE * FLOOD_SECONDS))
CHURN_RATE=2000       # pps on prot0 while other interfaces come and go
CHURN_N=16000
CHURN_CYCLES=3
EXTRA=3               # protected interfaces besides prot0
CUSTOM_PORT_FIRST=30001
LATENCY_SCRAPES=10
LATENCY_LIMIT_MS=100
SCRAPER_PERIOD=0.05
SCRAPER_MAX=1200      # bounds the background scraper to about a minute
PORT_LO=20000         # free ports are picked below the ephemeral range
PORT_SPAN=12000

# HTTP goes through curl, or python3 urllib where curl is missing (or
# when NO_CURL=1 asks for it).
HAVE_CURL=0
[ "${NO_CURL:-0}" != 1 ] && command -v curl >/dev/null && HAVE_CURL=1
PICKED_PORTS=()

# ---- helpers ------------------------------------------------------------

# free_port VAR: a TCP port on which nothing listens or connects, not
# picked before by this run.
free_port()
{
	local p i

	for ((i = 0; i < 200; i++)); do
		p=$((PORT_LO + RANDOM % PORT_SPAN))
		case " ${PICKED_PORTS[*]} " in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			PICKED_PORTS+=("$p")
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	return 1
}

# host_daemon VAR NAME CMD...: CMD in the background in the host's
# namespace, bounded by DAEMON_MAX_SECONDS, output in $E2E_TMP/NAME.log;
# cleanup stops it whatever happens to the test.
host_daemon()
{
	local _hd_var=$1 _hd_name=$2

	shift 2
	timeout "$DAEMON_MAX_SECONDS" "$@" >"$E2E_TMP/$_hd_name.log" 2>&1 &
	E2E_PIDS+=("$!")
	printf -v "$_hd_var" '%s' "$!"
}

# stop_host_daemon PID: SIGTERM, up to 10 s to exit, then SIGKILL; its
# exit code in STOP_RC.
stop_host_daemon()
{
	local i

	kill "$1" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	STOP_RC=$?
	forget_pid "$1"
}

# http_get URL OUT: the body into OUT; HTTP_CODE (000 when nothing
# answered) and HTTP_TIME (seconds) describe the exchange.
http_get()
{
	local res

	if [ "$HAVE_CURL" -eq 1 ]; then
		res=$(curl -s --noproxy '*' --max-time 10 -o "$2" -w '%{http_code} %{time_total}' "$1")
	else
		res=$(python3 "$PROMTEXT" get "$1" "$2")
	fi
	read -r HTTP_CODE HTTP_TIME <<<"$res"
	HTTP_CODE=${HTTP_CODE:-000}
	HTTP_TIME=${HTTP_TIME:-0}
}

# wait_http URL: up to 15 s for URL to answer 200.
wait_http()
{
	local i

	for ((i = 0; i < 150; i++)); do
		http_get "$1" "$E2E_TMP/wait.body"
		[ "$HTTP_CODE" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# promtool_file FILE: 'promtool check metrics' on FILE.
promtool_file()
{
	promtool check metrics <"$1"
}

# promtool_complaint FILE: nothing when FILE is valid, else "FILE: <what
# promtool says>; " (its start), for many files checked at once.
promtool_complaint()
{
	local out

	out=$(promtool_file "$1" 2>&1) || printf "%s: %.200s; " "${1##*/}" "$out"
}

# metric FILE NAME [LABEL=VALUE...]: the sum of matching samples, or "none".
metric()
{
	python3 "$PROMTEXT" value "$@"
}

# prom_query EXPR: the value of the only sample EXPR yields in Prometheus
# now, "none" when it yields nothing.
prom_query()
{
	if [ "$HAVE_CURL" -eq 1 ]; then
		curl -s --noproxy '*' --max-time 5 -G --data-urlencode "query=$1" \
			"$PROM_URL/api/v1/query" | python3 "$PROMTEXT" api-value
	else
		python3 "$PROMTEXT" get "$PROM_URL/api/v1/query?query=$(python3 -c \
			'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")" \
			"$E2E_TMP/query.json" >/dev/null &&
			python3 "$PROMTEXT" api-value <"$E2E_TMP/query.json"
	fi
}

# gt A B: A > B, as numbers.
gt()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'
}

# hostrun CMD...: CMD in the host's namespace, bounded by 5 s; stdout,
# stderr and exit code in AG_OUT, AG_ERR, AG_RC (as agrun).
hostrun()
{
	timeout 5 "$@" >"$E2E_TMP/host.out" 2>"$E2E_TMP/host.err"
	AG_RC=$?
	AG_OUT=$(<"$E2E_TMP/host.out")
	AG_ERR=$(<"$E2E_TMP/host.err")
}

# assert_refused NAME ERE: the last hostrun failed by itself (it did not
# hang until killed) with one stderr line matching ERE and no stdout.
assert_refused()
{
	if [ "$AG_RC" -eq 124 ] || [ "$AG_RC" -gt 128 ]; then
		not_ok "$1" "still running after 5 s (exit $AG_RC), stderr '$AG_ERR'"
		return
	fi
	assert_error "$@"
}

# once FILE: 'ampguard exporter --once' into FILE; its exit code.
once()
{
	"$AG_BIN" exporter --once >"$1" 2>"$E2E_TMP/once.err"
}

# check_exposition WHAT FILE IFACES: FILE is valid text exposition with
# build_info and protected_interfaces IFACES.
check_exposition()
{
	check "$1: promtool check metrics accepts it" promtool_file "$2"
	assert_eq "$1: ampguard_build_info is 1" 1 "$(metric "$2" ampguard_build_info)"
	assert_eq "$1: ampguard_protected_interfaces" "$3" \
		"$(metric "$2" ampguard_protected_interfaces)"
}

# scrape_check WHAT IFACES: one HTTP scrape of the exporter, checked.
scrape_check()
{
	local f=$E2E_TMP/scrape.$RANDOM.prom

	http_get "$EXP_URL" "$f"
	assert_eq "$1: HTTP status" 200 "$HTTP_CODE"
	check_exposition "$1" "$f" "$2"
	LAST_SCRAPE=$f
}

# stats_value VECTOR REASON FIELD: packets or bytes of prot0 in 'stats --json'.
stats_value()
{
	snapshot
	counter_line "$1" "$2" | awk -v f="$3" '{ n = (f == "bytes") ? $6 : $5 } END { print n + 0 }'
}

# add_pair K: veth protK (NS_P) <-> peerK (NS_A) on 198.51.100.4K+1/30.
add_pair()
{
	local k=$1 a p ma mp

	a=198.51.100.$((4 * k + 1))
	p=198.51.100.$((4 * k + 2))
	ma=02:00:00:00:0$k:01
	mp=02:00:00:00:0$k:02
	ip -n "$NS_A" link add "peer$k" address "$ma" type veth \
		peer name "prot$k" address "$mp" netns "$NS_P" || return 1
	nsctl "$NS_P" "net.ipv4.conf.prot$k.rp_filter=0" \
		"net.ipv6.conf.prot$k.router_solicitations=0" || return 1
	nsctl "$NS_A" "net.ipv6.conf.peer$k.router_solicitations=0" || return 1
	ip -n "$NS_P" link set "prot$k" up && ip -n "$NS_A" link set "peer$k" up &&
		ip -n "$NS_P" addr add "$p/30" dev "prot$k" &&
		ip -n "$NS_A" addr add "$a/30" dev "peer$k" &&
		ip -n "$NS_A" neigh replace "$p" lladdr "$mp" dev "peer$k" nud permanent &&
		ip -n "$NS_P" neigh replace "$a" lladdr "$ma" dev "prot$k" nud permanent
}

# send_pair K SPORT COUNT: datagrams from peerK to protK.
send_pair()
{
	ip netns exec "$NS_A" "$UDPGEN" -s "198.51.100.$((4 * $1 + 1))" \
		-d "198.51.100.$((4 * $1 + 2))" --sport "$2" --dport 5000 -n "$3" \
		--size "$PKT_SIZE" --rate "$RATE"
}

# ---- the background scraper (attach/detach churn) -----------------------

# scraper DIR: scrapes the exporter every SCRAPER_PERIOD into DIR/scrape.NNNN,
# one "N CODE" line per scrape in DIR/codes, until DIR/stop appears.
scraper()
{
	local dir=$1 i

	for ((i = 0; i < SCRAPER_MAX; i++)); do
		[ -e "$dir/stop" ] && break
		http_get "$EXP_URL" "$(printf '%s/scrape.%04d' "$dir" "$i")"
		echo "$i $HTTP_CODE" >>"$dir/codes"
		sleep "$SCRAPER_PERIOD"
	done
}

# scrapes_done DIR
scrapes_done()
{
	if [ -f "$1/codes" ]; then grep -c '' "$1/codes"; else echo 0; fi
}

# wait_scrapes DIR N: up to 10 s for N more scrapes to complete.
wait_scrapes()
{
	local i want

	want=$(($(scrapes_done "$1") + $2))
	for ((i = 0; i < 200; i++)); do
		[ "$(scrapes_done "$1")" -ge "$want" ] && return 0
		sleep 0.05
	done
	return 1
}

# Setup.
suite_setup()
{
	require
	command -v promtool >/dev/null || bail "promtool is missing: run scripts/install-deps.sh"
	command -v prometheus >/dev/null || bail "prometheus is missing: run scripts/install-deps.sh"
	command -v ss >/dev/null || bail "ss is missing (iproute2)"
	[ "$HAVE_CURL" -eq 1 ] || echo "# without curl: HTTP goes through python3 urllib"
	setup_pair || bail "cannot build the namespaces"
	if ! free_port EXP_PORT || ! free_port PROM_PORT; then
		bail "no free port found for the exporter and Prometheus"
	fi
	EXP_URL=http://127.0.0.1:$EXP_PORT/metrics
	PROM_URL=http://127.0.0.1:$PROM_PORT
	echo "# exporter on 127.0.0.1:$EXP_PORT, Prometheus on 127.0.0.1:$PROM_PORT"
}

# No state, bad --listen values.
test_no_state()
{
	AMPGUARD_ROOT=$NOSTATE_ROOT "$AG_BIN" exporter --once >"$E2E_TMP/nostate.prom" 2>"$E2E_TMP/nostate.err"
	assert_eq "--once with no state exits 0" 0 "$?"
	assert_eq "--once with no state prints nothing on stderr" "" "$(cat "$E2E_TMP/nostate.err")"
	check_exposition "--once with no state" "$E2E_TMP/nostate.prom" 0
	check "--once with no state creates no state root" test ! -e "$NOSTATE_ROOT"
	[ -d "$NOSTATE_ROOT" ] && rm -rf "$NOSTATE_ROOT"

	for bad in foo 127.0.0.1:0 127.0.0.1:99999 '[::1]'; do
		hostrun "$AG_BIN" exporter --listen "$bad"
		assert_refused "--listen '$bad' is refused with one line" \
			"'$(printf '%s' "$bad" | sed 's/[][\.*^$+?(){}|]/\\&/g')'"
	done
}

# Nothing attached.
test_nothing_attached()
{
	once "$E2E_TMP/empty.prom"
	assert_eq "--once with nothing attached exits 0" 0 "$?"
	check_exposition "--once with nothing attached" "$E2E_TMP/empty.prom" 0

	host_daemon EXP_PID exporter "$AG_BIN" exporter --listen "127.0.0.1:$EXP_PORT"
	wait_http "$EXP_URL" || bail "the exporter does not answer on $EXP_URL: $(cat "$E2E_TMP/exporter.log")"
	scrape_check "HTTP scrape with nothing attached" 0
	http_get "http://127.0.0.1:$EXP_PORT/nothing" "$E2E_TMP/404.body"
	assert_eq "an unknown path answers 404" 404 "$HTTP_CODE"

	hostrun "$AG_BIN" exporter --listen "127.0.0.1:$EXP_PORT"
	assert_refused "a second exporter on the same port is refused with one line" \
		"127\.0\.0\.1:$EXP_PORT.*in use"
}

# Prometheus watches a flood.
test_prometheus_flood()
{
	local lost0 lost

	agrun "$NS_P" attach "$IF_P"
	[ "$AG_RC" -eq 0 ] || bail "attach $IF_P: $AG_ERR"

	cat >"$E2E_TMP/prometheus.yml" <<-EOF
		global:
		  scrape_interval: 1s
		  scrape_timeout: 1s
		  evaluation_interval: 1s
		scrape_configs:
		  - job_name: ampguard
		    static_configs:
		      - targets: ['127.0.0.1:$EXP_PORT']
	EOF
	mkdir -p "$E2E_TMP/tsdb"
	host_daemon PROM_PID prometheus prometheus --config.file="$E2E_TMP/prometheus.yml" \
		--storage.tsdb.path="$E2E_TMP/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" \
		--storage.tsdb.retention.time=1h
	wait_http "$PROM_URL/-/ready" ||
		bail "Prometheus is not ready on $PROM_URL: $(tail -n 3 "$E2E_TMP/prometheus.log")"

	hostrun "$AG_BIN" exporter --listen "127.0.0.1:$PROM_PORT"
	assert_refused "an exporter on a port Prometheus holds is refused with one line" \
		"127\.0\.0\.1:$PROM_PORT.*in use"

	for ((i = 0; i < 100; i++)); do
		[ "$(prom_query 'up{job="ampguard"}')" = 1 ] && break
		sleep 0.2
	done
	assert_eq "Prometheus scrapes the exporter (up is 1)" 1 "$(prom_query 'up{job="ampguard"}')"

	lost0=$(pair_lost)
	flood_start dns "$NS_A" timeout 30 "$UDPGEN" -s "$ADDR_A4" -d "$ADDR_P4" --sport 53 \
		--dport 5353 -n "$FLOOD_N" --size "$PKT_SIZE" --rate "$FLOOD_RATE"

	RATE_EXPR='sum(rate(ampguard_packets_total{vector="dns",reason="policy_drop"}[5s]))'
	rate=none
	for ((i = 0; i < 60; i++)); do
		rate=$(prom_query "$RATE_EXPR")
		[ "$rate" != none ] && gt "$rate" 0 && break
		sleep 0.25
	done
	echo "# early in the flood ($FLOOD_RATE pps sent): $RATE_EXPR = $rate"
	check "Prometheus sees dns policy_drop at a rate above 0 during the flood" gt "$rate" 0
	# Once the 5 s window lies wholly inside the flood, for the record.
	sleep 5
	if daemon_alive "$FLOOD_PID"; then
		echo "# mid-flood: $RATE_EXPR = $(prom_query "$RATE_EXPR")"
	fi

	flood_wait "$FLOOD_PID"
	assert_eq "the flood was sent" "sent $FLOOD_N" "$(cat "$(flood_out dns)")"

	lost=$(($(pair_lost) - lost0))
	for ((i = 0; i < 50; i++)); do
		[ "$(stats_value dns policy_drop packets)" = $((FLOOD_N - lost)) ] && break
		sleep 0.1
	done
	assert_flood_counted "stats: the flood as dns policy_drop" "$FLOOD_N" \
		"$(stats_value dns policy_drop packets)" "$lost"

	# A scrape that started after the counters settled.
	SERIES='ampguard_packets_total{interface="'$IF_P'",vector="dns",reason="policy_drop"}'
	BSERIES='ampguard_bytes_total{interface="'$IF_P'",vector="dns",reason="policy_drop"}'
	settled=$(date +%s.%N)
	ts=none
	for ((i = 0; i < 60; i++)); do
		ts=$(prom_query "timestamp($SERIES)")
		[ "$ts" != none ] && gt "$ts" "$settled" && break
		sleep 0.25
	done
	check "Prometheus scraped after the flood ended" gt "$ts" "$settled"
	prom_pkts=$(prom_query "$SERIES")
	prom_bytes=$(prom_query "$BSERIES")
	assert_eq "Prometheus holds the packets stats --json counts" \
		"$(stats_value dns policy_drop packets)" "$prom_pkts"
	assert_eq "Prometheus holds the bytes stats --json counts" \
		"$(stats_value dns policy_drop bytes)" "$prom_bytes"
	snapshot
	echo "# after the flood: Prometheus $prom_pkts packets, $prom_bytes bytes; stats --json: $(counter_line dns policy_drop)"

	stop_host_daemon "$PROM_PID"
	assert_eq "Prometheus stops on SIGTERM" 0 "$STOP_RC"
}

# Attached, after traffic.
test_attached_traffic()
{
	once "$E2E_TMP/attached.prom"
	assert_eq "--once with $IF_P attached exits 0" 0 "$?"
	check_exposition "--once after traffic" "$E2E_TMP/attached.prom" 1
	assert_eq "--once after traffic: dns policy_drop matches stats --json" \
		"$(stats_value dns policy_drop packets)" \
		"$(metric "$E2E_TMP/attached.prom" ampguard_packets_total interface="$IF_P" vector=dns \
			reason=policy_drop verdict=drop port=53)"
	scrape_check "HTTP scrape after traffic" 1
	assert_eq "HTTP scrape after traffic: dns policy_drop matches stats --json" \
		"$(stats_value dns policy_drop packets)" \
		"$(metric "$LAST_SCRAPE" ampguard_packets_total interface="$IF_P" vector=dns \
			reason=policy_drop verdict=drop port=53)"
	assert_eq "HTTP scrape after traffic: $IF_P is described" 1 \
		"$(metric "$LAST_SCRAPE" ampguard_interface_info interface="$IF_P")"
}

# Scrape latency: 4 interfaces, a full vector table.
test_scrape_latency()
{
	for ((k = 1; k <= EXTRA; k++)); do
		add_pair "$k" || bail "cannot build pair $k"
		agrun "$NS_P" attach "prot$k"
		[ "$AG_RC" -eq 0 ] || bail "attach prot$k: $AG_ERR"
		send_pair "$k" 123 100 >/dev/null
	done

	port=$CUSTOM_PORT_FIRST
	added=0
	for ((i = 0; i < 80; i++)); do
		agrun "$NS_P" set "$port" drop
		[ "$AG_RC" -ne 0 ] && break
		added=$((added + 1))
		port=$((port + 1))
	done
	assert_error "set PORT drop with the table full is refused with one line" "no free"
	nvec=$(status_vectors "$NS_P" | grep -c '')
	echo "# vector table: $nvec vectors in status --json ($added custom ports added)"
	assert_eq "status --json lists 63 vectors" 63 "$nvec"

	LAT=$E2E_TMP/latency
	mkdir -p "$LAT"
	times=()
	codes=""
	for ((i = 0; i < LATENCY_SCRAPES; i++)); do
		http_get "$EXP_URL" "$LAT/s$i"
		codes+="$HTTP_CODE "
		times+=("$HTTP_TIME")
	done
	assert_eq "latency scrapes all answer 200" "$(printf '200 %.0s' $(seq "$LATENCY_SCRAPES"))" "$codes"
	check_exposition "the scrape with 4 interfaces and 64 vectors" "$LAT/s0" 4
	assert_eq "the scrape shows 64 vectors (63 and 'other') on $IF_P" 64 \
		"$(python3 "$PROMTEXT" count-labels "$LAT/s0" ampguard_packets_total vector interface="$IF_P")"
	assert_eq "the scrape shows 63 vector actions" 63 \
		"$(python3 "$PROMTEXT" count-labels "$LAT/s0" ampguard_vector_action vector)"
	read -r median lo hi all < <(printf '%s\n' "${times[@]}" | sort -g | awk '
		{ t[NR] = $1 * 1000; s = s sprintf("%.1f ", $1 * 1000) }
		END {
			m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f %s\n", m, t[1], t[NR], s
		}')
	echo "# scrape latency ($([ "$HAVE_CURL" -eq 1 ] && echo curl time_total || echo urllib)), 4 interfaces, 64 vectors, $(grep -c '' "$LAT/s0") lines, $(wc -c <"$LAT/s0") bytes:" \
		"median $median ms, min $lo ms, max $hi ms (sorted: $all)"
	check "median scrape time ($median ms) is under $LATENCY_LIMIT_MS ms" \
		awk -v m="$median" -v l="$LATENCY_LIMIT_MS" 'BEGIN { exit !(m < l) }'
}

# Interfaces come and go while the exporter is scraped.
test_churn()
{
	CH=$E2E_TMP/churn
	mkdir -p "$CH"
	ip netns exec "$NS_A" timeout 30 "$UDPGEN" -s "$ADDR_A4" -d "$ADDR_P4" --sport 53 --dport 5353 \
		-n "$CHURN_N" --size "$PKT_SIZE" --rate "$CHURN_RATE" >"$E2E_TMP/churnflood.out" 2>&1 &
	CFLOOD_PID=$!
	E2E_PIDS+=("$CFLOOD_PID")
	scraper "$CH" &
	SCRAPER_PID=$!
	E2E_PIDS+=("$SCRAPER_PID")
	wait_scrapes "$CH" 3 || not_ok "the scraper runs" "no scrape in 10 s"

	churn_err=""
	for ((c = 0; c < CHURN_CYCLES; c++)); do
		for ((k = 1; k <= EXTRA; k++)); do
			agrun "$NS_P" detach "prot$k"
			[ "$AG_RC" -eq 0 ] || churn_err+="detach prot$k: $AG_ERR; "
		done
		# A whole scrape without them, so that a new attach is not taken for
		# the same pins.
		wait_scrapes "$CH" 2 || churn_err+="no scrape after the detaches; "
		for ((k = 1; k <= EXTRA; k++)); do
			agrun "$NS_P" attach "prot$k"
			[ "$AG_RC" -eq 0 ] || churn_err+="attach prot$k: $AG_ERR; "
		done
		send_pair 1 123 200 >/dev/null || churn_err+="traffic on prot1; "
		wait_scrapes "$CH" 2 || churn_err+="no scrape after the attaches; "
	done
	assert_eq "interfaces were attached and detached $CHURN_CYCLES times" "" "$churn_err"

	wait "$CFLOOD_PID"
	forget_pid "$CFLOOD_PID"
	assert_eq "the flood during the churn was sent" "sent $CHURN_N" "$(cat "$E2E_TMP/churnflood.out")"
	wait_scrapes "$CH" 2
	for ((k = EXTRA; k >= 0; k--)); do
		agrun "$NS_P" detach "prot$k"
		[ "$AG_RC" -eq 0 ] || not_ok "detach prot$k" "$AG_ERR"
	done
	wait_scrapes "$CH" 3
	touch "$CH/stop"
	wait "$SCRAPER_PID"
	forget_pid "$SCRAPER_PID"

	check "the exporter is still running" daemon_alive "$EXP_PID"
	nscrapes=$(scrapes_done "$CH")
	bad_codes=$(awk '$2 != 200' "$CH/codes" | head -n 5 | paste -sd' ')
	echo "# churn: $nscrapes scrapes"
	check "the churn was scraped at least 10 times" test "$nscrapes" -ge 10
	assert_eq "every scrape during the churn answered 200" "" "$bad_codes"
	scrapes=("$CH"/scrape.*)
	# One promtool per CPU and one Python for all: a run of each per scrape
	# was most of this test's time.
	export -f promtool_file promtool_complaint
	# shellcheck disable=SC2016 # the inner script's $1 is its own
	invalid=$(printf '%s\0' "${scrapes[@]}" | xargs -0 -n 1 -P "$(nproc)" bash -c \
		'promtool_complaint "$1"' bash)
	assert_eq "every scrape during the churn is valid" "" "$invalid"
	mapfile -t seen < <(python3 "$PROMTEXT" each-value ampguard_protected_interfaces "${scrapes[@]}")
	seen_set=$(printf '%s\n' "${seen[@]}" | sort -u | paste -sd' ')
	echo "# protected_interfaces seen while scraping: $seen_set"
	assert_eq "the first churn scrape shows 4 protected interfaces" 4 "${seen[0]:-none}"
	check "scrapes were taken with only some interfaces attached" \
		grep -qE '^[123]$' <<<"$(printf '%s\n' "${seen[@]}")"
	last=${scrapes[-1]}
	assert_eq "the last scrape shows no protected interface" 0 \
		"$(metric "$last" ampguard_protected_interfaces)"
	mono=$(python3 "$PROMTEXT" monotonic "${scrapes[@]}" 2>&1)
	assert_match "no counter went backwards while its pins persisted" '^ok ' "$mono"
	echo "# monotonic: $mono (scrapes, series comparisons)"
}

# State root present, nothing attached.
test_detached()
{
	once "$E2E_TMP/detached.prom"
	assert_eq "--once after the last detach exits 0" 0 "$?"
	check_exposition "--once after the last detach" "$E2E_TMP/detached.prom" 0
	scrape_check "HTTP scrape after the last detach" 0

	stop_host_daemon "$EXP_PID"
	assert_eq "the exporter exits 0 on SIGTERM" 0 "$STOP_RC"
}

E2E_TESTS=(test_no_state test_nothing_attached test_prometheus_flood test_attached_traffic
	test_scrape_latency test_churn test_detached)
# From the exporter test_nothing_attached starts on, each test builds on
# what the one before it left: the exporter, the attached interface, its
# counters.
E2E_NEEDS[test_prometheus_flood]=test_nothing_attached
E2E_NEEDS[test_attached_traffic]=test_prometheus_flood
E2E_NEEDS[test_scrape_latency]=test_attached_traffic
E2E_NEEDS[test_churn]=test_scrape_latency
E2E_NEEDS[test_detached]=test_churn
e2e_run "$@"
