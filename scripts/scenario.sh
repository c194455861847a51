# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The reference attack scenario, shared by the demo (scripts/demo.sh) and
# its end-to-end test (tests/e2e/test_scenario.sh): the 2019 extortion
# campaign's reflection flood (DNS, NTP, WS-Discovery, ARMS, SSDP,
# memcached, CLDAP, with fragmented large replies) against a host that is
# also the NAT gateway of a small LAN, while that host and a LAN host keep
# resolving names and syncing time against real servers.
#
#   [internet]  dnsmasq 192.0.2.53, chronyd 192.0.2.123,
#               reflectors 203.0.113.0/24 (spoofed)
#     inet0 192.0.2.1
#       |
#     wan0 192.0.2.10   [host]  ampguard on wan0, NAT for the LAN
#     lan0 198.51.100.1
#       |
#     lan1 198.51.100.20  [lan]
#
# Everything lives in three network namespaces that sc_cleanup removes;
# traffic never leaves them. Source this file, call sc_setup, and make sure
# sc_cleanup runs on exit.

SC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SC_PREFIX=${SC_PREFIX:-agsc-$$-}
SC_INET=${SC_PREFIX}inet
SC_HOST=${SC_PREFIX}host
SC_LAN=${SC_PREFIX}lan
SC_TMP=$(mktemp -d "/tmp/ag-scenario-$$.XXXXXX")
SC_PIDS=()     # servers
SC_GEN_PIDS=() # flood generators
export AMPGUARD_ROOT=${AMPGUARD_ROOT:-/sys/fs/bpf/ampguard-scenario-$$}

SC_DNS=192.0.2.53
SC_NTP=192.0.2.123
SC_WAN=192.0.2.10
SC_REFLECTORS=203.0.113.1
SC_ZONE=example.test
SC_ZONE_A=192.0.2.80

# name:port of each reflected vector, as in the 2019 campaign.
SC_VECTORS=(dns:53 ntp:123 ws-discovery:3702 arms:3283 ssdp:1900 memcached:11211 cldap:389)
# Large replies arrive fragmented: these vectors also send 3000-byte ones.
SC_FRAG_VECTORS=(memcached:11211 cldap:389 dns:53)

# A generator's own limit in seconds (udpflood's is 120): sc_flood_legit
# stops them once the exchanges are done. Under emulation the flood's
# start took 8 s and its exchanges ended 45 s after it began.
SC_FLOOD_CAP=90

declare -A SC_SENT      # vector -> datagrams (or fragments) the generators sent
declare -A SC_SENT_FRAG # vector -> fragments of large replies

# Private copies: a rebuild while the scenario runs cannot change them.
sc_binaries()
{
	mkdir -p "$SC_TMP/bin" &&
		cp "$SC_TOP/ampguard" "$SC_TOP/build/tests/udpflood" "$SC_TMP/bin/" &&
		cp "$SC_TOP/tests/tools/rawframes.py" "$SC_TMP/bin/"
}

sc_ag()
{
	nsenter --net="/run/netns/$SC_HOST" "$SC_TMP/bin/ampguard" "$@"
}

sc_cleanup()
{
	local pid ns

	for pid in "${SC_GEN_PIDS[@]}" "${SC_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${SC_GEN_PIDS[@]}" "${SC_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	SC_GEN_PIDS=()
	SC_PIDS=()
	if [ -d "$AMPGUARD_ROOT" ]; then
		sc_ag detach wan0 >/dev/null 2>&1
		rm -rf "$AMPGUARD_ROOT"
	fi
	for ns in "$SC_LAN" "$SC_HOST" "$SC_INET"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$SC_TMP"
}

sc_daemon()
{
	local name=$1 ns=$2

	shift 2
	timeout 900 ip netns exec "$ns" "$@" >"$SC_TMP/$name.log" 2>&1 &
	SC_PIDS+=("$!")
}

# Waits (bounded) until something listens on UDP ADDR:PORT in NS.
sc_wait_udp()
{
	local i

	for i in $(seq 50); do
		ip netns exec "$1" ss -Hlun "src $2:$3" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

sc_chrony_conf()
{
	local file=$1 name=$2

	shift 2
	{
		printf '%s\n' "$@"
		echo "cmdport 0"
		echo "bindcmdaddress /"
		echo "pidfile $SC_TMP/$name.pid"
		echo "driftfile $SC_TMP/$name.drift"
	} >"$file"
}

sc_servers()
{
	cat >"$SC_TMP/dnsmasq.conf" <<-EOF
		port=53
		listen-address=$SC_DNS
		bind-interfaces
		no-resolv
		no-hosts
		address=/$SC_ZONE/$SC_ZONE_A
		pid-file=$SC_TMP/dnsmasq.pid
		user=root
		group=root
		log-facility=-
	EOF
	sc_daemon dnsmasq "$SC_INET" dnsmasq -k --conf-file="$SC_TMP/dnsmasq.conf"
	sc_chrony_conf "$SC_TMP/ntpd.conf" ntpd "local stratum 8" allow "bindaddress $SC_NTP" \
		"port 123"
	sc_daemon ntpd "$SC_INET" chronyd -4 -x -d -u root -f "$SC_TMP/ntpd.conf"
	sc_wait_udp "$SC_INET" $SC_DNS 53 && sc_wait_udp "$SC_INET" $SC_NTP 123
}

sc_setup()
{
	local ns

	sc_binaries || return 1
	for ns in "$SC_INET" "$SC_HOST" "$SC_LAN"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
	done
	ip link add inet0 netns "$SC_INET" type veth peer name wan0 netns "$SC_HOST" &&
		ip link add lan0 netns "$SC_HOST" type veth peer name lan1 netns "$SC_LAN" || return 1
	ip -n "$SC_INET" addr add 192.0.2.1/24 dev inet0
	ip -n "$SC_INET" addr add $SC_DNS/24 dev inet0
	ip -n "$SC_INET" addr add $SC_NTP/24 dev inet0
	ip -n "$SC_HOST" addr add $SC_WAN/24 dev wan0
	ip -n "$SC_HOST" addr add 198.51.100.1/24 dev lan0
	ip -n "$SC_LAN" addr add 198.51.100.20/24 dev lan1
	for ns in "$SC_INET:inet0" "$SC_HOST:wan0" "$SC_HOST:lan0" "$SC_LAN:lan1"; do
		ip -n "${ns%%:*}" link set "${ns#*:}" up
	done
	ip -n "$SC_HOST" route add default via 192.0.2.1
	ip -n "$SC_LAN" route add default via 198.51.100.1
	ip netns exec "$SC_HOST" sysctl -qw net.ipv4.ip_forward=1
	# The host's ephemeral ports are where the flood aims too.
	ip netns exec "$SC_HOST" sysctl -qw net.ipv4.ip_local_port_range="50000 50999"
	ip netns exec "$SC_HOST" nft -f - <<-EOF || return 1
		table ip nat {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "wan0" ip saddr 198.51.100.0/24 masquerade
			}
		}
	EOF
	sc_servers
}

sc_mac()
{
	ip -n "$1" -br link show "$2" | awk '{ print $3 }'
}

# Starts the flood: every vector at RATE pps for SECONDS, from 200 spoofed
# reflectors each, at the host's ephemeral ports; plus 3000-byte replies
# (three fragments each) at FRAG_RATE datagrams/s for the large-reply vectors.
sc_flood_start()
{
	local seconds=$1 rate=$2 frag_rate=$3 v name port i=0
	local src_mac dst_mac

	# Counters advance here: a background command expands its words in the child.
	for v in "${SC_VECTORS[@]}"; do
		name=${v%%:*} port=${v#*:}
		i=$((i + 1))
		timeout $((seconds + 30)) ip netns exec "$SC_INET" "$SC_TMP/bin/udpflood" \
			-s $SC_REFLECTORS --sources 200 -d $SC_WAN --sport "$port" \
			--dport 1024-65535 -n $((rate * seconds)) --rate "$rate" --size 400 \
			--seed "$i" >"$SC_TMP/flood-$name.out" 2>&1 &
		SC_GEN_PIDS+=("$!")
	done
	src_mac=$(sc_mac "$SC_INET" inet0)
	dst_mac=$(sc_mac "$SC_HOST" wan0)
	# Each large-reply vector gets its own range of IP IDs.
	i=0
	for v in "${SC_FRAG_VECTORS[@]}"; do
		name=${v%%:*} port=${v#*:}
		timeout $((seconds + 30)) ip netns exec "$SC_INET" python3 "$SC_TMP/bin/rawframes.py" \
			frags --dev inet0 --src-mac "$src_mac" --dst-mac "$dst_mac" \
			--src 203.0.113.77 --dst $SC_WAN --sport "$port" --dport 50500 --size 3000 \
			--datagrams $((frag_rate * seconds)) --id $((1000 + i * frag_rate * seconds)) --which all \
			--rate $((frag_rate * 3)) >"$SC_TMP/frag-$name.out" 2>&1 &
		SC_GEN_PIDS+=("$!")
		i=$((i + 1))
	done
}

# Waits for the generators; fills SC_SENT (single datagrams) and SC_SENT_FRAG.
sc_flood_wait()
{
	local v name pid

	for pid in "${SC_GEN_PIDS[@]}"; do
		wait "$pid"
	done
	SC_GEN_PIDS=()
	for v in "${SC_VECTORS[@]}"; do
		name=${v%%:*}
		SC_SENT[$name]=$(awk '/^sent/ { print $2 }' "$SC_TMP/flood-$name.out")
	done
	for v in "${SC_FRAG_VECTORS[@]}"; do
		name=${v%%:*}
		SC_SENT_FRAG[$name]=$(awk '/^sent/ { print $2 }' "$SC_TMP/frag-$name.out")
	done
}

# sc_flood_running: every generator still sends; each prints only when it ends.
sc_flood_running()
{
	local out

	for out in "$SC_TMP"/flood-*.out "$SC_TMP"/frag-*.out; do
		[ ! -s "$out" ] || return 1
	done
}

# sc_flood_stop: stops the generators still running, then sc_flood_wait.
sc_flood_stop()
{
	local pid

	# timeout passes the signal on to its generator.
	for pid in "${SC_GEN_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sc_flood_wait
}

# sc_flood_legit ROUNDS SECONDS RATE FRAG_RATE: the flood at RATE and
# FRAG_RATE per vector, for at least SECONDS and until sc_legit ROUNDS is
# done, however long a slow machine takes for it. SC_LEGIT_IN_FLOOD is yes
# when every generator still ran as the last exchange ended.
sc_flood_legit()
{
	local start=${EPOCHREALTIME/./} left

	sc_flood_start "$SC_FLOOD_CAP" "$3" "$4"
	sleep 1
	sc_legit "$1"
	# shellcheck disable=SC2034 # read by the scripts that source this one
	if sc_flood_running; then SC_LEGIT_IN_FLOOD=yes; else SC_LEGIT_IN_FLOOD=no; fi
	left=$(($2 * 1000000 - (${EPOCHREALTIME/./} - start)))
	[ "$left" -le 0 ] || sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
	sc_flood_stop
}

sc_flood_total()
{
	local n=0 k

	for k in "${!SC_SENT[@]}"; do
		n=$((n + ${SC_SENT[$k]:-0}))
	done
	for k in "${!SC_SENT_FRAG[@]}"; do
		n=$((n + ${SC_SENT_FRAG[$k]:-0}))
	done
	echo "$n"
}

# Datagrams and fragments the host's stack took in: UDP in (delivered, no
# port, errors) plus fragments handed to reassembly.
sc_stack_in()
{
	# shellcheck disable=SC2016 # an awk program: its $ fields are awk's
	ip netns exec "$SC_HOST" awk '
		/^Udp: / && !u { split($0, h); u = 1; next }
		/^Udp: / { for (i = 2; i <= NF; i++) if (h[i] ~ /^(InDatagrams|NoPorts|InErrors)$/) n += $i }
		/^Ip: / && !p { split($0, g); p = 1; next }
		/^Ip: / { for (i = 2; i <= NF; i++) if (g[i] == "ReasmReqds") n += $i }
		END { print n }' /proc/net/snmp
}

# sc_dig NS: one lookup from NS, asked twice at most as a resolver would: a
# reply the veth pair lost under the flood is not one the filter dropped,
# which the vectors' counts would show (more counted than the flood sent).
sc_dig()
{
	local ns=$1 out

	out=$(ip netns exec "$ns" dig +tries=2 +timeout=2 +short @$SC_DNS $SC_ZONE A 2>&1)
	[ "$out" = "$SC_ZONE_A" ]
}

# sc_ntp NS NAME: one sync from NS by a chronyd that sets no clock; its
# configuration and log are SC_TMP/NAME.conf and .log. The measurement in
# the log is the answer: on a loaded machine chronyd has logged it and its
# exit 5 s after it started, and timeout still ended the run at 20 s.
sc_ntp()
{
	local ns=$1 name=$2

	sc_chrony_conf "$SC_TMP/$name.conf" "$name" "server $SC_NTP iburst maxpoll 6"
	date -u +'started %FT%TZ' >"$SC_TMP/$name.log"
	timeout 20 ip netns exec "$ns" chronyd -4 -Q -t 8 -u root -f "$SC_TMP/$name.conf" \
		>>"$SC_TMP/$name.log" 2>&1
	echo "exit $?" >>"$SC_TMP/$name.log"
	grep -q 'System clock wrong by' "$SC_TMP/$name.log"
}

# sc_now_ms: the wall clock in milliseconds.
sc_now_ms()
{
	local us=${EPOCHREALTIME//[!0-9]/}

	echo $((us / 1000))
}

# sc_legit ROUNDS: from the host and from the LAN host, ROUNDS lookups
# each and one NTP sync each (none at all for 0 rounds); sets SC_LEGIT_OK,
# SC_LEGIT_TOTAL and SC_LEGIT_FAILED, what failed: "dns NS ROUND MS ms; "
# for a lookup (how long it took), "NAME: LOG; " for a sync.
sc_legit()
{
	local ns i t0 ntp_pids=() ntp_ns=()

	SC_LEGIT_OK=0
	SC_LEGIT_TOTAL=0
	SC_LEGIT_FAILED=""
	[ "$1" -gt 0 ] || return 0
	# A sync takes seconds of polling: both run while the lookups do.
	for ns in "$SC_HOST" "$SC_LAN"; do
		ntp_ns+=("ntpq-$ns-$RANDOM")
		sc_ntp "$ns" "${ntp_ns[-1]}" &
		ntp_pids+=("$!")
	done
	for i in $(seq "$1"); do
		for ns in "$SC_HOST" "$SC_LAN"; do
			SC_LEGIT_TOTAL=$((SC_LEGIT_TOTAL + 1))
			t0=$(sc_now_ms)
			if sc_dig "$ns"; then
				SC_LEGIT_OK=$((SC_LEGIT_OK + 1))
			else
				SC_LEGIT_FAILED+="dns $ns $i $(($(sc_now_ms) - t0)) ms; "
			fi
		done
	done
	for i in "${!ntp_pids[@]}"; do
		SC_LEGIT_TOTAL=$((SC_LEGIT_TOTAL + 1))
		if wait "${ntp_pids[$i]}"; then
			SC_LEGIT_OK=$((SC_LEGIT_OK + 1))
		else
			SC_LEGIT_FAILED+="${ntp_ns[$i]}: $(paste -sd' ' "$SC_TMP/${ntp_ns[$i]}.log"); "
		fi
	done
}
