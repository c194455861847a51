# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
# The router side of the BGP tests: a BIRD or a GoBGP speaker in a network
# namespace that peers with ampguard's ExaBGP and reports, in one normalized
# form, what it has learned.
#
#   bird_start NS DIR LOCAL_ADDR LOCAL_AS PEER_ADDR PEER_AS
#   bird_stop DIR
#   bird_session_up DIR          exit 0 when the session is Established
#   bird_flow DIR 4|6            FlowSpec routes, one line each, sorted:
#                                  DEST SPORTS ACTION[ fragment]
#   bird_unicast DIR 4|6         unicast routes, one line each, sorted:
#                                  PREFIX COMMUNITIES
#   gobgp_start, gobgp_stop, gobgp_session_up, gobgp_flow, gobgp_unicast:
#                                the same for gobgpd
#
# A FlowSpec line: DEST is the destination prefix (192.0.2.2/32,
# 2001:db8::2/128), SPORTS the source-port match as BIRD writes it (53,
# 3702,3283; "-" without one), ACTION "discard" or "rate-limit:N" with N the
# bytes per second of the traffic-rate extended community (BIRD shows it as
# (generic, 0x80060000, FLOAT); rate 0 is discard; no traffic-rate at all
# reads "accept"). A fragment match follows: " fragment" for a plain
# is-fragment match (ExaBGP's "fragment [ is-fragment ];"), otherwise
# " fragment=TERMS" (e.g. fragment=!is_fragment, fragment=last_fragment;
# only the plain form is known to read the same on both speakers). Both
# speakers print the same line for the same route, so a test compares
# either with one expected string:
#   192.0.2.2/32 53 discard
#   192.0.2.4/32 - discard fragment
#   192.0.2.5/32 123 rate-limit:250000 fragment
#   2001:db8::3/128 3702,3283 rate-limit:125000
# A unicast line: the prefix, then its standard communities the way BIRD
# writes them, sorted, one space apart, "-" without any:
#   192.0.2.2/32 (65535,666)
#   192.0.2.3/32 (65000,100) (65535,666)
# The listing functions fail (and print nothing) when the daemon does not
# answer; a daemon without routes prints nothing and succeeds.
#
# Invariants:
# - Everything a speaker owns lives in DIR (configuration, control socket,
#   pid file, log); DIR must exist and belong to one speaker. Two speakers
#   in different DIRs never share a socket or a port: BIRD's control socket
#   is DIR/bird.ctl, gobgpd's gRPC API the unix socket DIR/gobgp.sock (pprof
#   off), and each BGP port 179 is in its own namespace.
# - The daemons run in the foreground as background jobs of the calling
#   shell; their pids are in DIR/*.pid and, when lib.sh is sourced, in
#   E2E_PIDS, so that lib.sh's cleanup stops them whatever happens. The stop
#   functions kill that pid only and reap it.
# - The router is not passive: it connects to the peer itself as well as
#   accepting the peer's connection, retries every second and holds the
#   session for 3 s (keepalives every second), so a session comes back
#   within a few seconds after either side restarts. (ExaBGP accepts the
#   router's connection only when it listens: exabgp.tcp.bind set; alone,
#   it retries with a backoff that grows to 60 s.)
# - The session carries ipv4 and ipv6 unicast and ipv4 and ipv6 FlowSpec,
#   imports everything and exports nothing: the router only listens. BIRD
#   does not validate FlowSpec routes against unicast ones.
# - The start functions return non-zero when the daemon does not come up
#   within 10 s; they do not wait for the session (use *_session_up with
#   lib.sh's wait_for).

BGP_START_TIMEOUT=10 # seconds a daemon has to answer its control socket

# BGP_NORMALIZE: python3 -c "$BGP_NORMALIZE" MODE turns what a speaker prints
# on stdin into the normalized lines of the header on stdout. MODE is
# bird-flow or bird-unicast (birdc 'show route all'), gobgp-flow or
# gobgp-unicast (gobgp 'global rib -j').
# shellcheck disable=SC2016 # python, not shell
BGP_NORMALIZE='
import json, re, struct, sys

FRAG = [(1, "dont_fragment"), (2, "is_fragment"), (4, "first_fragment"),
        (8, "last_fragment")]

def action(rate):
    if rate is None:
        return "accept"
    return "discard" if rate == 0 else "rate-limit:%d" % round(rate)

def frag(terms):
    # terms: [(negated, name)]; a plain is-fragment match is " fragment"
    if terms == [(False, "is_fragment")]:
        return " fragment"
    return " fragment=" + ",".join(("!" if n else "") + t for n, t in terms)

def line(dest, sports, act, fragment):
    return "%s %s %s%s" % (dest, sports or "-", act, fragment)

def comms(pairs):
    return " ".join("(%d,%d)" % p for p in sorted(pairs)) or "-"

def bird_flow(text):
    out = []
    for block in re.split(r"\n(?=flow[46] )", text):
        m = re.match(r"flow[46] \{(.*?)\}", block)
        if not m:
            continue
        parts = {}
        for item in m.group(1).split(";"):
            key, _, val = item.strip().partition(" ")
            parts[key] = val.strip()
        rate = None
        for hi, lo in re.findall(r"\(generic, 0x([0-9a-f]+), 0x([0-9a-f]+)\)", block):
            if int(hi, 16) >> 16 == 0x8006:
                rate = struct.unpack(">f", struct.pack(">I", int(lo, 16)))[0]
        fragment = ""
        if "fragment" in parts:
            terms = []
            for t in parts["fragment"].split("||"):
                t = t.strip()
                if t.startswith("!!"):
                    terms.append((False, t[2:]))
                elif t.startswith("!"):
                    terms.append((True, t[1:]))
                else:
                    terms.append((False, t))
            fragment = frag(terms)
        sports = parts.get("sport", "").replace(" ", "")
        out.append(line(parts.get("dst", "-").split(" ")[0], sports,
                        action(rate), fragment))
    return out

def bird_unicast(text):
    routes = {}
    cur = None
    for row in text.splitlines():
        m = re.match(r"([0-9a-fA-F.:]+/[0-9]+)\s", row)
        if m:
            cur = m.group(1)
            routes.setdefault(cur, [])
            continue
        m = re.match(r"\s+BGP\.community:(.*)", row)
        if m and cur is not None:
            routes[cur] += [tuple(map(int, c)) for c in
                            re.findall(r"\(([0-9]+),([0-9]+)\)", m.group(1))]
    return ["%s %s" % (p, comms(c)) for p, c in routes.items()]

def gobgp_ports(ops):
    # numeric operators (RFC 8955 4.2.1.1) written the way BIRD writes them
    out = ""
    for i, o in enumerate(ops):
        op, val = o["op"], o["value"]
        if i:
            out += "&&" if op & 0x40 else ","
        cmp = op & 0x07
        out += {1: "", 2: ">", 3: ">=", 4: "<", 5: "<=", 6: "!="}.get(
            cmp, "?%d" % cmp) + str(val)
    return out

def gobgp_flow(text):
    out = []
    for paths in (json.loads(text) if text.strip() else {}).values():
        for path in paths:
            parts = {c["type"]: c for c in path["nlri"]["value"]}
            rate = None
            for attr in path["attrs"]:
                if attr["type"] != 16:
                    continue
                for ec in attr["value"]:
                    if ec.get("type") == 128 and ec.get("subtype") == 6:
                        rate = ec.get("rate", 0)
            fragment = ""
            if 12 in parts:
                terms = []
                for o in parts[12]["value"]:
                    names = [n for b, n in FRAG if o["value"] & b] or ["0x0"]
                    terms.append((bool(o["op"] & 0x02), "&&".join(names)))
                fragment = frag(terms)
            dest = parts[1]["value"]["prefix"] if 1 in parts else "-"
            sports = gobgp_ports(parts[6]["value"]) if 6 in parts else ""
            out.append(line(dest, sports, action(rate), fragment))
    return out

def gobgp_unicast(text):
    out = []
    for prefix, paths in (json.loads(text) if text.strip() else {}).items():
        for path in paths:
            pairs = []
            for attr in path["attrs"]:
                if attr["type"] == 8:
                    pairs += [(c >> 16, c & 0xffff) for c in attr["communities"]]
            out.append("%s %s" % (prefix, comms(pairs)))
    return out

mode = {"bird-flow": bird_flow, "bird-unicast": bird_unicast,
        "gobgp-flow": gobgp_flow, "gobgp-unicast": gobgp_unicast}[sys.argv[1]]
for row in sorted(mode(sys.stdin.read())):
    print(row)
'

# bgp_track_pid PID: hands a daemon to lib.sh's cleanup when it is there.
bgp_track_pid()
{
	if declare -p E2E_PIDS >/dev/null 2>&1; then
		E2E_PIDS+=("$1")
	fi
}

# bgp_stop_pid PIDFILE: stops the daemon of PIDFILE, reaps it and forgets it.
bgp_stop_pid()
{
	local pidfile=$1 pid i

	[ -s "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if declare -F forget_pid >/dev/null; then
		forget_pid "$pid"
	fi
	rm -f "$pidfile"
	return 0
}

# bgp_wait SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
bgp_wait()
{
	local deadline=$((SECONDS + $1))

	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ---- BIRD --------------------------------------------------------------

birdc_dir()
{
	local dir=$1

	shift
	birdc -s "$dir/bird.ctl" "$@"
}

bird_start()
{
	local ns=$1 dir=$2 laddr=$3 las=$4 paddr=$5 pas=$6 pid

	cat >"$dir/bird.conf" <<-EOF
		# generated by tests/e2e/bgp.sh
		log "$dir/bird.log" all;
		router id $laddr;

		protocol device {
			scan time 1;
		}

		flow4 table flowtab4;
		flow6 table flowtab6;

		protocol bgp peer {
			local $laddr as $las;
			neighbor $paddr as $pas;
			hold time 3;
			startup hold time 3;
			keepalive time 1;
			connect delay time 1;
			connect retry time 1;
			error wait time 1, 2;
			ipv4 { import all; export none; };
			ipv6 { import all; export none; };
			flow4 { table flowtab4; import all; export none; };
			flow6 { table flowtab6; import all; export none; };
		}
	EOF
	rm -f "$dir/bird.ctl" "$dir/bird.pid"
	ip netns exec "$ns" bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" \
		>>"$dir/bird.out" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/bird.pid"
	bgp_track_pid "$pid"
	if ! bgp_wait "$BGP_START_TIMEOUT" birdc_dir "$dir" show status; then
		echo "bird in $ns did not start: $(tail -n 5 "$dir/bird.out")" >&2
		bgp_stop_pid "$dir/bird.pid"
		return 1
	fi
}

bird_stop()
{
	bgp_stop_pid "$1/bird.pid"
	rm -f "$1/bird.ctl"
}

bird_session_up()
{
	birdc_dir "$1" show protocols peer 2>/dev/null |
		grep -Eq '^peer[[:space:]]+BGP[[:space:]].*[[:space:]]Established'
}

bird_flow()
{
	local out

	out=$(birdc_dir "$1" show route table "flowtab$2" all) || return 1
	printf '%s\n' "$out" | python3 -c "$BGP_NORMALIZE" bird-flow
}

bird_unicast()
{
	local out

	out=$(birdc_dir "$1" show route table "master$2" all) || return 1
	printf '%s\n' "$out" | python3 -c "$BGP_NORMALIZE" bird-unicast
}

# ---- GoBGP -------------------------------------------------------------

gobgp_dir()
{
	local dir=$1

	shift
	gobgp --target "unix://$dir/gobgp.sock" "$@"
}

gobgp_start()
{
	local ns=$1 dir=$2 laddr=$3 las=$4 paddr=$5 pas=$6 pid afi

	{
		cat <<-EOF
			# generated by tests/e2e/bgp.sh
			[global.config]
			  as = $las
			  router-id = "$laddr"
			  port = 179
			  local-address-list = ["$laddr"]

			[[neighbors]]
			  [neighbors.config]
			    neighbor-address = "$paddr"
			    peer-as = $pas
			  [neighbors.timers.config]
			    connect-retry = 1
			    hold-time = 3
			    keepalive-interval = 1
			    idle-hold-time-after-reset = 1
			  [neighbors.transport.config]
			    local-address = "$laddr"
			    passive-mode = false
		EOF
		for afi in ipv4-unicast ipv6-unicast ipv4-flowspec ipv6-flowspec; do
			printf '  [[neighbors.afi-safis]]\n'
			printf '    [neighbors.afi-safis.config]\n'
			printf '      afi-safi-name = "%s"\n' "$afi"
		done
	} >"$dir/gobgpd.toml"
	rm -f "$dir/gobgp.sock" "$dir/gobgpd.pid"
	ip netns exec "$ns" gobgpd -f "$dir/gobgpd.toml" -p -l info \
		--api-hosts "unix://$dir/gobgp.sock" --pprof-disable \
		>>"$dir/gobgpd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/gobgpd.pid"
	bgp_track_pid "$pid"
	if ! bgp_wait "$BGP_START_TIMEOUT" gobgp_dir "$dir" neighbor "$paddr"; then
		echo "gobgpd in $ns did not start: $(tail -n 5 "$dir/gobgpd.log")" >&2
		bgp_stop_pid "$dir/gobgpd.pid"
		return 1
	fi
	echo "$paddr" >"$dir/gobgp.peer"
}

gobgp_stop()
{
	bgp_stop_pid "$1/gobgpd.pid"
	rm -f "$1/gobgp.sock"
}

gobgp_session_up()
{
	local state

	state=$(gobgp_dir "$1" neighbor "$(cat "$1/gobgp.peer")" -j 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["state"]["session_state"])' \
			2>/dev/null) || return 1
	[ "$state" = 6 ] # ESTABLISHED
}

# gobgp_rib DIR FAMILY: the global RIB of FAMILY, as JSON.
gobgp_rib()
{
	gobgp_dir "$1" global rib -a "$2" -j
}

gobgp_flow()
{
	local out

	out=$(gobgp_rib "$1" "ipv$2-flowspec") || return 1
	printf '%s\n' "$out" | python3 -c "$BGP_NORMALIZE" gobgp-flow
}

gobgp_unicast()
{
	local out

	out=$(gobgp_rib "$1" "ipv$2") || return 1
	printf '%s\n' "$out" | python3 -c "$BGP_NORMALIZE" gobgp-unicast
}
