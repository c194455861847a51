#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make bench`: throughput of ampguard beside the bare XDP floor,
# xdp-filter, nftables and iptables, measured in one run on this machine,
# written to docs/BENCHMARKS.md.
#
# Each contender gets its own network namespace with a veth pair, so a rule
# set up for one never sees another's frames:
#   base             ampguard, the XDP_DROP/XDP_PASS floors (no rule at all)
#   nft              netdev ingress chain on the veth: udp sport 53 drop
#   iptables         iptables-nft/ip6tables-nft raw PREROUTING: -p udp --sport 53 -j DROP
#   iptables-legacy  the same rule with the legacy (x_tables) backend
#   xdp-filter       xdp-filter loaded on the veth with a source-port 53 rule
# build/tests/bench_live injects the frames (BPF_PROG_TEST_RUN, live frames)
# and prints the tables; this script checks the rules' own counters against
# the frames it injected. The one-CPU rows run on the last CPU; with two CPUs
# or more, some rows also run on the first and the last at once (the driver
# pins its own threads). Everything made here is removed on exit, Ctrl-C
# included.
#
# Environment: BENCH_ROUNDS (default 9), BENCH_SCALE (frames per row,
# multiplier; default 1), BENCH_OUT (default docs/BENCHMARKS.md), BENCH_ONLY
# (run only the rows whose "IPvN contender path" contains it, or one of its
# '|'-separated alternatives, e.g. "IPv4 floor|IPv4 ampguard vector drop",
# under perf for instance; the two-CPU runs of the rows selected run too;
# the tables are printed, no file is written unless BENCH_OUT is set),
# BENCH_VERBOSE=1 (every measurement on stderr as it is taken).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_OUT:-}
ONLY=${BENCH_ONLY:-}
if [ -z "$OUT" ] && [ -z "$ONLY" ]; then
	OUT=docs/BENCHMARKS.md
fi
ROUNDS=${BENCH_ROUNDS:-9}
SCALE=${BENCH_SCALE:-1}
DRIVER=build/tests/bench_live
DEV=agp
PEER=agq
PREFIX="agb$$"
ROLES=(base nft iptables iptables-legacy xdp-filter)
XF_PINS=/sys/fs/bpf/xdp-filter

tmp=""
xf_loaded=""
xf_made_pins=""
made_ns=()

log() {
	echo "bench: $*" >&2
}

die() {
	log "$*"
	exit 1
}

cleanup() {
	set +e
	if [ -n "$xf_loaded" ]; then
		LIBXDP_BPFFS="$tmp/bpffs" nsenter --net="/run/netns/$PREFIX-xdp-filter" \
			xdp-filter unload "$DEV" >/dev/null 2>&1
	fi
	for ns in "${made_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	# xdp-filter keeps its maps pinned while any interface uses it; the
	# namespace's veth is gone with the namespace.
	if [ -n "$xf_made_pins" ] && [ -d "$XF_PINS" ]; then
		rm -rf "$XF_PINS"
	fi
	if [ -n "$tmp" ]; then
		mountpoint -q "$tmp/bpffs" && umount "$tmp/bpffs"
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'log "failed: $BASH_COMMAND (line $LINENO)"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Namespaces left by a run that was killed outright (agb<pid>-<role>).
remove_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ "$ns" =~ ^agb([0-9]+)-(base|nft|iptables|iptables-legacy|xdp-filter)$ ]] || continue
		pid=${BASH_REMATCH[1]}
		kill -0 "$pid" 2>/dev/null && continue
		log "removing namespace $ns left by an earlier run"
		ip netns del "$ns" || true
	done
}

preflight() {
	local t
	[ "$(id -u)" -eq 0 ] || die "run as root (namespaces, BPF, netfilter)"
	[ -x "$DRIVER" ] || die "$DRIVER is missing: run 'make bench'"
	for t in ip nsenter nft iptables-nft ip6tables-nft iptables-legacy ip6tables-legacy \
		xdp-filter taskset; do
		command -v "$t" >/dev/null || die "$t not found: run 'make deps'"
	done
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

nsx() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# A namespace with the protected veth: the MAC and addresses the frames are
# built for, no reverse-path filter, no route back to the sources.
ns_make() {
	local ns="$PREFIX-$1"
	ip netns add "$ns"
	made_ns+=("$ns")
	ip -n "$ns" link set lo up
	ip -n "$ns" link add "$DEV" type veth peer name "$PEER"
	ip -n "$ns" link set "$DEV" address 02:00:00:00:00:01
	# The peer stays silent (no router solicitations, no MLD), so the
	# protected end receives the injected frames only.
	nsx "$ns" sysctl -qw "net.ipv6.conf.$PEER.disable_ipv6=1" "net.ipv6.conf.$DEV.accept_ra=0"
	nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		"net.ipv4.conf.$DEV.rp_filter=0"
	ip -n "$ns" addr add 198.51.100.1/24 dev "$DEV"
	ip -n "$ns" addr add 2001:db8::1/64 dev "$DEV" nodad
	ip -n "$ns" link set "$DEV" up
	ip -n "$ns" link set "$PEER" up
}

rules_nft() {
	nsx "$PREFIX-nft" nft -f - <<-EOF
		table netdev agbench {
			chain ingress {
				type filter hook ingress device "$DEV" priority 0; policy accept;
				udp sport 53 counter drop
			}
		}
	EOF
}

rules_iptables() {
	local ns="$PREFIX-$1" v4=$2 v6=$3
	nsx "$ns" "$v4" -t raw -A PREROUTING -p udp --sport 53 -j DROP
	nsx "$ns" "$v6" -t raw -A PREROUTING -p udp --sport 53 -j DROP
}

# xdp-filter pins its maps under /sys/fs/bpf/xdp-filter for every interface
# it runs on: a port rule added here would reach an existing deployment.
xdp_filter_free() {
	if [ -e "$XF_PINS" ]; then
		log "xdp-filter is already in use on this host ($XF_PINS): leaving it out" \
			"(left by a bench run that was killed? 'xdp-filter unload --all' clears it)"
		return 1
	fi
}

rules_xdp_filter() {
	local ns="$PREFIX-xdp-filter"
	mkdir -p "$tmp/bpffs"
	mount -t bpf bpf "$tmp/bpffs"
	xf_made_pins=1
	xf_loaded=1
	LIBXDP_BPFFS="$tmp/bpffs" nsx "$ns" xdp-filter load --mode native --features udp "$DEV" ||
		die "xdp-filter load failed"
	LIBXDP_BPFFS="$tmp/bpffs" nsx "$ns" xdp-filter port 53 --mode src --proto udp ||
		die "xdp-filter port failed"
}

# Frames the driver sent into a namespace, per family ("ROLE FAMILY N" lines).
injected() {
	awk -v r="$1" -v f="${2:-}" '$1 == r && (f == "" || $2 == f) { n += $3 } END { print n + 0 }' \
		"$tmp/counts"
}

# The packets column of the first rule of a raw PREROUTING chain.
ipt_count() {
	nsx "$PREFIX-$1" "$2" -t raw -L PREROUTING -v -x -n | awk 'NR == 3 { print $1 }'
}

check() {
	local what=$1 got=$2 want=$3
	if [ "$got" != "$want" ]; then
		log "$what counted $got frames, $want were sent"
		return 1
	fi
	echo "- $what: $got of $want frames"
}

rule_counters() {
	local n
	n=$(nsx "$PREFIX-nft" nft list table netdev agbench |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
	check "nftables netdev ingress rule (IPv4 + IPv6)" "$n" "$(injected nft)"
	check "iptables-nft raw PREROUTING rule" "$(ipt_count iptables iptables-nft)" \
		"$(injected iptables 4)"
	check "ip6tables-nft raw PREROUTING rule" "$(ipt_count iptables ip6tables-nft)" \
		"$(injected iptables 6)"
	check "iptables-legacy raw PREROUTING rule" \
		"$(ipt_count iptables-legacy iptables-legacy)" "$(injected iptables-legacy 4)"
	check "ip6tables-legacy raw PREROUTING rule" \
		"$(ipt_count iptables-legacy ip6tables-legacy)" "$(injected iptables-legacy 6)"
	if [ -n "$xf_loaded" ]; then
		# (xdp-filter 1.3.1 exits 254 after printing its status)
		n=$({ LIBXDP_BPFFS="$tmp/bpffs" nsx "$PREFIX-xdp-filter" xdp-filter status || true; } |
			awk '$1 == "XDP_DROP" { print $2 }')
		check "xdp-filter XDP_DROP counter (IPv4 + IPv6)" "$n" "$(injected xdp-filter)"
	fi
}

version_of() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown
}

machine() {
	local cpu virt
	cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
	virt=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -n 1)
	echo "- CPU: $cpu, $(nproc) cores${virt:+ (virtual machine, $virt)};" \
		"the one-CPU rows run pinned to CPU $1${2:+, the two-CPU rows on CPUs $2 and $1}"
	echo "- Kernel: Linux $(uname -r) ($(uname -m))"
	echo "- clang: $(clang --version | head -n 1)"
	echo "- libbpf: $(pkg-config --modversion libbpf)"
	echo "- bpftool: $(bpftool version | head -n 1)"
	echo "- xdp-tools (xdp-filter): $(version_of xdp-tools)"
	echo "- nftables: $(version_of nftables); iptables: $(version_of iptables)"
}

method() {
	cat <<-'EOF'
		Each contender has its own network namespace holding a veth pair; the protected end
		has the MAC and addresses the frames are sent to (198.51.100.1, 2001:db8::1), no
		reverse-path filter and no route back to the frames' sources, so the stack never
		answers. `build/tests/bench_live` (tests/bench/bench_live.c) enters each namespace in
		turn and injects 64-byte frames (as XDP sees them, without FCS) with
		`BPF_PROG_TEST_RUN` in live-frames mode (`BPF_F_TEST_XDP_LIVE_FRAMES`, `repeat`,
		`batch_size`), with `ctx_in` an `xdp_md` whose `ingress_ifindex` is the protected
		veth. No socket sends anything. Frames the program passes are turned into socket
		buffers and received by that veth's stack inside the same call; dropped frames go
		back to the run's page pool. The program under test runs from the test run, not from
		an attachment.

		Every contender runs behind the same front end, which rewrites the source address
		(rotating over 1, 1k or 1M sources) and tail-calls the program under test:
		`tests/bench/bpf/bench_gen.bpf.c`, its family (IPv4 or IPv6) set before load. The floor
		is that front end plus `return XDP_DROP` (`tests/bench/bpf/xdp_floor.bpf.c`). The nftables
		and iptables rows run the front end plus `return XDP_PASS` with the rule in their namespace;
		"XDP_PASS, no rule" is the stack's own cost. xdp-filter is loaded by `xdp-filter load
		--features udp` and `xdp-filter port 53 --mode src --proto udp`; the program it
		attached is looked up on the veth and tail-called like the others (with libxdp 1.3.1
		on this kernel the dispatcher's compatibility check fails and libxdp attaches
		xdp-filter's program directly, which is what a user of xdp-filter gets here too).
		The "reference" row is `tests/bench/bpf/bench_portfilter.bpf.c`: parse to UDP, one array lookup
		by source port, one per-CPU counter; the least a source-port classifier does.

		Cost per frame: CPU time of the injecting thread during the call divided by the
		frames. It covers the XDP program, the kernel's frame handling in live mode (page
		pool, context reset) and, for passed frames, the receive path up to where the stack
		drops them. The kernel's own `duration` for a live run is timed around whole batches,
		including the stack's processing of the batch's passed frames (whole nanoseconds,
		paused while the thread reschedules but not while it is preempted); the two are
		compared below. Wall-clock time is not used: other tasks on the CPU would count.

		Scaling over two CPUs: the rows listed under "Two CPUs at once" run again right after
		their one-CPU run in each round, on two CPUs at the same time, from two threads pinned
		one to each CPU, each in the row's namespace with its own test run of the same program,
		frame and frame count, started together at a barrier. Each thread's CPU time over its own call
		gives that CPU's cost per frame; the scaling is the two CPUs' frames per CPU-second
		together over the same row's on one CPU in the same round (2.00: no cost from
		sharing). The front end's source cursor is per CPU, and the second CPU starts half-way
		through the source set, so the two never write the same source at once; what the
		program itself writes from both CPUs (a shared bucket, a shared counter) moves between
		them on every write, and that is what the scaling shows. The frames of both are
		checked together like a one-CPU row's, and the report gives the least share of a run's
		wall-clock time during which both were injecting.

		All rows run once per round, in the order of the tables, after a discarded warm-up
		round; tables show the median over the rounds with min-max. "x floor" is the median
		of the per-round ratios to the floor of the same family; "vs XDP_PASS" the median of
		the per-round differences to "XDP_PASS, no rule" with the same transport protocol.
		Each row is checked while it runs: ampguard must count every frame under the
		expected reason, and the namespace's `InReceives` and UDP `NoPorts`/TCP `InSegs` must
		grow by exactly the frames that reach IP and L4 (none for XDP drops and the nftables
		ingress drop, all for passes and the iptables rows' IP layer). After the run the
		rules' own counters are compared with the frames sent ("Rule counters").

		ampguard's policy for the run: ws-discovery (3702) dropped without tracking; dns
		(53) dropped unless solicited; memcached (11211) rate-limited at 100 pps per source
		and 10 kpps in aggregate, so a flood is almost entirely dropped (the verdict mix is
		listed under the tables). Two requests are recorded through the TC egress program:
		one to the front end's source from port 40000, so `udp 53>40000` is a solicited
		reply, and one to another server from port 40002, so `udp 53>40002` arrives at a port
		in use and needs the full tracking lookup, which misses; `udp 53>40001` goes to a
		port without requests, the common case in a flood. With more than one source, the
		front end's rewrite leaves the IPv4 header checksum (and the IPv6 UDP checksum)
		stale; only the few frames the rate limiter admits reach the stack, where IP or UDP
		drops them. The 1k and 1M IPv4 sources are the front end's, counting up from
		198.18.0.0; IPv6 sources are 2001:db8:ffff::/96. The row "rate-limit, 1M sources, no
		clock read" is the same program with its test clock held at one value: the buckets run
		dry and every frame takes the aggregate drop without reading the clock, which prices
		that read. The goal against xdp-filter compares the same frame (`udp 53>40001`): dns
		is a vector at drop with tracking on, xdp-filter drops source port 53.
	EOF
}

# The hand-written analysis at the end of the previous file, kept as it is.
analysis() {
	if [ -f "$OUT" ] && grep -q '^## Analysis' "$OUT"; then
		sed -n '/^## Analysis/,$p' "$OUT"
	else
		printf '## Analysis\n\nNot written yet.\n'
	fi
}

write_doc() {
	local cpu=$1 pair=$2 secs=$3 doc="$tmp/BENCHMARKS.md"
	{
		echo "<!-- SPDX-License-Identifier: GPL-2.0-only -->"
		echo "# Benchmarks"
		echo
		echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC');"
		echo "everything above \"Analysis\" is replaced by the next run."
		echo
		echo "## Machine"
		echo
		machine "$cpu" "$pair"
		echo
		echo "## Method"
		echo
		method
		echo
		echo "## Results"
		echo
		echo "Measured in $secs s."
		echo
		cat "$tmp/results.md"
		echo
		echo "### Rule counters"
		echo
		cat "$tmp/rules.md"
		echo
		analysis
	} >"$doc"
	mkdir -p "$(dirname "$OUT")"
	cp "$doc" "$OUT"
}

main() {
	local role cpu pair start secs
	preflight
	remove_stale
	tmp=$(mktemp -d /tmp/ampguard-bench.XXXXXX)
	for role in "${ROLES[@]}"; do
		ns_make "$role"
	done
	rules_nft
	rules_iptables iptables iptables-nft ip6tables-nft
	rules_iptables iptables-legacy iptables-legacy ip6tables-legacy
	local args=()
	for role in "${ROLES[@]}"; do
		[ "$role" = xdp-filter ] && continue
		args+=(--netns "$role=$PREFIX-$role")
	done
	if xdp_filter_free; then
		rules_xdp_filter
		args+=(--netns "xdp-filter=$PREFIX-xdp-filter")
	fi

	# The driver pins its main thread (the one-CPU rows) to the last CPU and
	# the two threads of a two-CPU row one to each CPU of the pair.
	cpu=$(($(nproc) - 1))
	pair=""
	args+=(--cpu "$cpu")
	if [ "$cpu" -gt 0 ]; then
		pair=0
		args+=(--pair-cpu "$pair")
	fi
	start=$(date +%s)
	log "running $DRIVER on CPU $cpu${pair:+ (and CPUs $pair and $cpu at once)}, $ROUNDS rounds"
	[ -n "$ONLY" ] && args+=(--only "$ONLY")
	taskset -c "${pair:+$pair,}$cpu" "$DRIVER" "${args[@]}" --dev "$DEV" --rounds "$ROUNDS" \
		--scale "$SCALE" --counts "$tmp/counts" >"$tmp/results.md"
	rule_counters >"$tmp/rules.md"
	secs=$(($(date +%s) - start))
	log "measured in $secs s"
	cat "$tmp/results.md" "$tmp/rules.md"
	if [ -n "$OUT" ]; then
		write_doc "$cpu" "$pair" "$secs"
		log "wrote $OUT"
	fi
}

main "$@"
