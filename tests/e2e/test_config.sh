#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Declarative configuration end to end: 'ampguard apply', 'config show',
# 'config check', 'attach --config' and 'exporter --config' with SIGHUP.
#
#   - attach --config with a bad file attaches nothing and leaves no state;
#   - counters survive applies;
#   - 'config show > f && apply f' changes nothing (status and stats alike);
#     applying a file twice changes nothing the second time; the example
#     configuration applies and reads back as written;
#   - every kind of invalid file is refused with its exact FILE:LINE:COLUMN
#     line, and changes neither the running state nor any counter;
#   - an interfaces section attaches and detaches, and a failure half-way
#     (an attach refused after another one succeeded) takes everything back;
#   - under a flood, alternating applies of two configurations never judge a
#     packet by a mix of the two (see the flood section for the design);
#   - the exporter applies its file at start and on SIGHUP, logs a bad file,
#     keeps the running state and keeps serving.
#
# Run alone: bash tests/run.sh tests/e2e/test_config.sh [SECTION...], e.g.
# section_round_trip. A section goes on from the state the one before it
# left (see E2E_NEEDS at the end), except the atomicity section, which
# builds its own from a fresh one.

# shellcheck disable=SC2317 # the sections run through e2e_run
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# ---- helpers -------------------------------------------------------------

# show: the running state as 'config show' prints it.
show()
{
	ag "$NS_P" config show 2>&1
}

# stats_doc: 'stats --json' without its timestamp, keys sorted.
stats_doc()
{
	ag "$NS_P" stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d.pop("timestamp", None)
print(json.dumps(d, sort_keys=True))'
}

# quiesce: until 'stats --json' holds still for half a second (the last
# IPv6 neighbour and multicast frames of a new link), at most 5 s.
quiesce()
{
	local a b i

	a=$(stats_doc)
	for ((i = 0; i < 10; i++)); do
		sleep 0.5
		b=$(stats_doc)
		[ "$a" == "$b" ] && return 0
		a=$b
	done
	return 1
}

# apply_ok NAME FILE EXPECTED_STDOUT: 'apply FILE' exits 0, prints exactly
# EXPECTED_STDOUT and nothing on stderr.
apply_ok()
{
	local diff

	agrun "$NS_P" apply "$2"
	if [ "$AG_RC" -eq 0 ] && [ -z "$AG_ERR" ] && [ "$AG_OUT" == "$3" ]; then
		ok "$1"
		return
	fi
	diff=$(diff <(printf '%s\n' "$3") <(printf '%s\n' "$AG_OUT") | grep '^[<>]' |
	       sed 's/^</missing:/; s/^>/unexpected:/')
	not_ok "$1" "exit $AG_RC, stderr '$AG_ERR', stdout: $diff"
}

NONE=$'changes:\n  none: the running state already matches'

# changes LINE...: the stdout of an apply that makes these changes.
changes()
{
	local l out="changes:"

	for l in "$@"; do
		out+=$'\n'"  $l"
	done
	printf '%s' "$out"
}

# refused NAME FILE LINE: FILE is refused by 'apply' with exactly one line
# on stderr, LINE, and nothing on stdout; 'config check' says the same;
# neither the running state nor a counter changed.
refused()
{
	local name=$1 file=$2 line=$3 before stats_before

	before=$(show)
	snapshot
	stats_before=$(udp_counters)
	agrun "$NS_P" apply "$file"
	if [ "$AG_RC" -ne 0 ] && [ -z "$AG_OUT" ] && [ "$AG_ERR" == "$line" ]; then
		ok "$name: apply refuses it with its line"
	else
		not_ok "$name: apply refuses it with its line" \
			"exit $AG_RC, stderr '$AG_ERR', stdout '$AG_OUT', wanted a failure, stderr '$line' and no stdout"
	fi
	assert_eq "$name: the running state is byte-identical" "$before" "$(show)"
	snapshot
	assert_eq "$name: no counter changed" "$stats_before" "$(udp_counters)"
}

# refused_check NAME FILE LINE: 'config check FILE' fails with LINE alone.
refused_check()
{
	agrun "$NS_P" config check "$2"
	if [ "$AG_RC" -ne 0 ] && [ -z "$AG_OUT" ] && [ "$AG_ERR" == "$3" ]; then
		ok "$1: config check says the same"
	else
		not_ok "$1: config check says the same" \
			"exit $AG_RC, stderr '$AG_ERR', stdout '$AG_OUT', wanted stderr '$3'"
	fi
}

# invalid NAME FILE LINE: refused and refused_check.
invalid()
{
	refused "$@"
	refused_check "$@"
}

# iface_pins IFACE: whether the state root holds pins for IFACE.
iface_pins()
{
	if [ -e "$AMPGUARD_ROOT/ifaces/$1" ]; then echo present; else echo absent; fi
}

# xdp_name IFACE: "MODE NAME" of the XDP program on IFACE in NS_P, or "none".
xdp_name()
{
	xdp_prog "$NS_P" "$1" | awk '{ print ($1 == "none") ? "none" : $1 " " $3 }'
}

# reason_if IFACE VECTOR REASON: packets of that counter of IFACE in STATS_ALL.
reason_if()
{
	printf '%s\n' "$STATS_ALL" |
		awk -v i="$1" -v v="$2" -v r="$3" '$1 == i && $2 == v && $4 == r { n += $6 }
			END { print n + 0 }'
}

# udp_total_if IFACE: packets of every UDP-level counter of IFACE in STATS_ALL.
udp_total_if()
{
	printf '%s\n' "$STATS_ALL" |
		awk -v i="$1" '$1 == i && $4 != "not_ip" && $4 != "not_udp" { n += $6 }
			END { print n + 0 }'
}

snapshot_all()
{
	STATS_ALL=$(ag "$NS_P" stats --json | python3 "$AGJSON" counters)
}

# metrics_get PORT FILE: GET /metrics inside NS_P; prints the HTTP status.
metrics_get()
{
	ip netns exec "$NS_P" python3 -c '
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5) as r:
        open(sys.argv[2], "wb").write(r.read())
        print(r.status)
except Exception as e:
    print("error: %s" % e)' "$1" "$2"
}

# wait_grep FILE ERE: up to 10 s for a line of FILE to match ERE.
wait_grep()
{
	local i

	for ((i = 0; i < 200; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# default_vectors_except NAME...: the built-in vectors of the example
# configuration (the defaults, one "NAME: { action: A, track-timeout: T }"
# line each) as 'config show' prints them, leaving out the NAMEs.
default_vectors_except()
{
	sed -nE 's/^  ([a-z0-9-]+): *\{ action: ([a-z]+), track-timeout: ([0-9a-z]+) \}.*/\1 \2 \3/p' \
		"$EXAMPLE" | while read -r name action timeout; do
		case " $* " in *" $name "*) continue ;; esac
		printf '  %s:\n    action: %s\n    track-timeout: %s\n' "$name" "$action" "$timeout"
	done
}

# ---- attach --config: a bad file leaves nothing ------------------------------
section_attach_config()
{

cat >a-bad.yaml <<'EOF'
vectors:
  dns: { action: explode }
EOF
agrun "$NS_P" attach "$IF_P" --config a-bad.yaml
assert_error "attach --config with an invalid file fails with one line" \
	"^ampguard: a-bad\.yaml:2:18: unknown action 'explode': use pass, monitor, drop or ratelimit$"
assert_no_state "attach --config with an invalid file leaves no state"
assert_eq "attach --config with an invalid file attaches no program" "none" "$(xdp_name "$IF_P")"

cat >a-track.yaml <<'EOF'
interfaces:
  prot0:
    track-on: [nope0]
EOF
agrun "$NS_P" attach "$IF_P" --config a-track.yaml
assert_error "attach --config naming a missing track-on interface fails with one line" \
	"no such interface 'nope0'"
assert_no_state "attach --config naming a missing track-on interface leaves no state"
assert_eq "attach --config naming a missing track-on interface attaches no program" \
	"none" "$(xdp_name "$IF_P")"

# The file's entry for the interface gives its orphan policy; the other
# interface it names is left alone.
cat >a-good.yaml <<'EOF'
interfaces:
  prot0:
    orphan-fragments: drop
  prot1:
    orphan-fragments: pass
vectors:
  ntp: { action: monitor }
served-ports: [7003]
EOF
agrun "$NS_P" attach "$IF_P" --config a-good.yaml
assert_eq "attach --config with a valid file succeeds" "0" "$AG_RC"
assert_eq "attach --config protects only the interface it names" \
	"$IF_P protected" "$(status_ifaces "$NS_P" | awk '{ print $1, $2 }')"
assert_eq "attach --config leaves the file's other interface alone" "none" "$(xdp_name "$IF_P1")"
assert_eq "attach --config applies the interface's orphan policy" "drop" \
	"$(status_field "$NS_P" 'd["interfaces"][0]["orphan_fragments"]')"
assert_eq "attach --config applies the file's vectors" "ntp 123 monitor true" \
	"$(status_vectors "$NS_P" | grep '^ntp ')"
assert_eq "attach --config applies the file's served ports" "[7003]" \
	"$(status_field "$NS_P" 'd["served_ports"]')"
[ "$(status_ifaces "$NS_P" | wc -l)" -eq 1 ] || bail "$IF_P is not protected"

}

# ---- counters survive applies ------------------------------------------------
section_counters()
{

MODEL_ON=1
# dns drops (default), ntp monitors, 7002 is not served.
traffic 4 "53:7001:40" "123:7002:30"
expect dns 53 policy_drop 40 4
expect ntp 123 monitor 30 4
assert_eq "before the apply: monitored ntp reaches its socket" "30" "${RECV[7002]:-0}"
snapshot
assert_model "before the apply: the counters are the traffic's"
before_apply=$(udp_counters)

cat >c3.yaml <<'EOF'
vectors:
  dns: { action: monitor }
  ntp: { action: drop }
served-ports: [7002]
EOF
apply_ok "an apply that changes actions and served ports" c3.yaml "$(changes \
	"dns: drop, tracking 5s -> monitor, tracking 5s" \
	"ntp: monitor, tracking 10s -> drop, tracking 10s" \
	"served port 7002: added" "served port 7003: removed")"
snapshot
assert_eq "the counters of before the apply are all still there, unchanged" \
	"$before_apply" "$(udp_counters)"

traffic 4 "53:7001:20" "123:7002:10"
expect dns 53 monitor 20 4
expect ntp 123 served 10 4
assert_eq "after the apply: dns is monitored" "20" "${RECV[7001]:-0}"
assert_eq "after the apply: ntp to a served port passes" "10" "${RECV[7002]:-0}"
snapshot
assert_model "after the apply: old and new counters add up"

}

# ---- round trip ---------------------------------------------------------------
section_round_trip()
{

# shellcheck disable=SC2015 # a chain of steps: any failure bails
ag "$NS_P" set dns ratelimit --pps 20000 --per-source-pps 200 >/dev/null &&
	ag "$NS_P" set ntp --track-timeout 2m >/dev/null &&
	ag "$NS_P" set 27015 drop >/dev/null &&
	ag "$NS_P" serve 123 520 >/dev/null &&
	ag "$NS_P" allow 203.0.113.53 2001:db8:53::/48 >/dev/null &&
	ag "$NS_P" deny 198.51.100.0/24 2001:db8:bad::/48 >/dev/null &&
	ag "$NS_P" fragments "$IF_P" --orphans ratelimit --pps 500 --burst 50 >/dev/null ||
	bail "cannot build the round-trip state with the CLI"
traffic 4 "27015:7001:25"
expect port-27015 27015 policy_drop 25 4
snapshot
assert_model "the custom port's drops are counted"

show >rt.yaml
{
	cat <<'EOF'
# ampguard configuration (ampguard config show)
interfaces:
  "prot0":
    mode: native
    orphan-fragments: ratelimit
    orphan-pps: 500
    orphan-burst: 50
vectors:
  dns:
    action: ratelimit
    track-timeout: 5s
    pps: 20000
    burst: 2000
    per-source-pps: 200
    per-source-burst: 20
    source-table-full: evict
  ntp:
    action: drop
    track-timeout: 120s
EOF
	default_vectors_except dns ntp
	cat <<'EOF'
  27015:
    action: drop
    track-timeout: 5s
served-ports: [123, 520, 7002]
allow:
  - 203.0.113.53/32
  - 2001:db8:53::/48
deny:
  - 198.51.100.0/24
  - 2001:db8:bad::/48
EOF
} >rt.expected
assert_lines "config show prints the state the CLI built" "$(cat rt.expected)" "$(cat rt.yaml)"

quiesce || not_ok "the counters hold still" "stats kept changing for 5 s"
status_before=$(ag "$NS_P" status --json)
stats_before=$(stats_doc)
apply_ok "applying what config show printed changes nothing" rt.yaml "$NONE"
assert_eq "status --json is unchanged by the round trip" "$status_before" \
	"$(ag "$NS_P" status --json)"
assert_eq "stats --json is unchanged by the round trip" "$stats_before" "$(stats_doc)"
assert_eq "config show reads back byte-identical" "$(cat rt.yaml)" "$(show)"
agrun "$NS_P" config check rt.yaml
assert_success "config check accepts what config show printed" "^rt\.yaml: valid$"

# --dry-run lists the changes and makes none.
sed -e 's/^served-ports: .*/served-ports: [123, 520]/' rt.yaml >dry.yaml
agrun "$NS_P" apply dry.yaml --dry-run
assert_eq "apply --dry-run lists what it would change" \
	$'0\nwould change:\n  served port 7002: removed\n' "$AG_RC"$'\n'"$AG_OUT"$'\n'"$AG_ERR"
assert_eq "apply --dry-run changes nothing" "$(cat rt.yaml)" "$(show)"

# A file applied twice: the second apply is a no-op.
cat >twice.yaml <<'EOF'
vectors:
  dns: { action: ratelimit, pps: 10k, per-source-pps: 100, per-source-burst: 5 }
  ntp: { action: drop }
  27015: { action: monitor, track-timeout: 500ms }
  40000: { action: drop }
served-ports: [123, 520]
allow: [203.0.113.53/32, 2001:db8:53::/48, 192.0.2.128/25]
deny: [198.51.100.0/24]
EOF
apply_ok "applying a new file makes exactly its changes" twice.yaml "$(changes \
	"dns: ratelimit, tracking 5s, 20.00 kpps (burst 2.00 kpkts), per source 200 pps (burst 20 pkts), table full: evict -> ratelimit, tracking 5s, 10.00 kpps (burst 1.00 kpkts), per source 100 pps (burst 5 pkts), table full: evict" \
	"ntp: drop, tracking 120s -> drop, tracking 10s" \
	"port-27015: drop, tracking 5s -> monitor, tracking 500ms" \
	"port-40000: added (drop, tracking 5s)" \
	"served port 7002: removed" \
	"allowlist: +1 -0" "denylist: +0 -1")"
apply_ok "applying the same file again changes nothing" twice.yaml "$NONE"
snapshot
assert_model "counters survive the applies of the round trip"

# The example configuration, for this interface: it is the default profile.
sed -e 's/^  eth0:/  prot0:/' "$EXAMPLE" >example.yaml
agrun "$NS_P" apply example.yaml
assert_eq "the example configuration applies" "0 changes:" "$AG_RC $(head -n 1 <<<"$AG_OUT")"
assert_eq "the example configuration applies without a word on stderr" "" "$AG_ERR"
apply_ok "the example configuration applied again changes nothing" example.yaml "$NONE"
{
	printf '# ampguard configuration (ampguard config show)\n'
	printf 'interfaces:\n  "prot0":\n    mode: native\n    orphan-fragments: ratelimit\n'
	printf '    orphan-pps: 1000\n    orphan-burst: 100\nvectors:\n'
	default_vectors_except
	printf 'served-ports: []\nallow: []\ndeny: []\n'
} >example.expected
assert_lines "config show reads the example configuration back" "$(cat example.expected)" "$(show)"
snapshot
assert_model "counters survive the example configuration"

}

# ---- invalid files ------------------------------------------------------------
section_invalid_files()
{

# A state that is not the default, so that a partial apply would show.
cat >base.yaml <<'EOF'
vectors:
  dns: { action: monitor }
  ntp: { action: ratelimit, pps: 1k }
  27015: { action: drop }
served-ports: [7002]
allow: [203.0.113.53/32, 2001:db8:53::/48]
deny: [198.51.100.0/24, 2001:db8:bad::/48]
EOF
agrun "$NS_P" apply base.yaml
assert_eq "a non-default state applies" "0" "$AG_RC"

# Each file starts with valid content that would change the state.
cat >e-syntax.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns: { action: drop
served-ports: []
EOF
invalid "YAML syntax error" e-syntax.yaml \
	"ampguard: e-syntax.yaml:4:13: did not find expected ',' or '}'"

printf 'served-ports: [4444]\nvectors:\n  dns:\n    action: drop\n   track-timeout: 5s\n' >e-indent.yaml
invalid "YAML indentation error" e-indent.yaml \
	"ampguard: e-indent.yaml:5:4: did not find expected key"

cat >e-type.yaml <<'EOF'
allow: [203.0.113.99/32]
served-ports: 123
EOF
invalid "wrong type (a value for a list)" e-type.yaml \
	"ampguard: e-type.yaml:2:15: served-ports must be a list, not a single value"

cat >e-type2.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns: drop
EOF
invalid "wrong type (a value for a mapping)" e-type2.yaml \
	"ampguard: e-type2.yaml:3:8: a vector must be a mapping, not a single value"

cat >e-range.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns:
    action: ratelimit
    pps: 2000000000
EOF
invalid "out-of-range rate" e-range.yaml \
	"ampguard: e-range.yaml:5:10: pps: '2000000000' is not a whole number up to 1000000000 (k, M, G allowed)"

cat >e-timeout.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns: { action: drop, track-timeout: 2h }
EOF
invalid "out-of-range tracking timeout" e-timeout.yaml \
	"ampguard: e-timeout.yaml:3:39: bad track-timeout '2h': use e.g. 500ms, 5s, 2m (at most 1 hour) or off"

cat >e-action.yaml <<'EOF'
vectors:
  dns:
    action: explode
served-ports: [4444]
EOF
invalid "unknown action" e-action.yaml \
	"ampguard: e-action.yaml:3:13: unknown action 'explode': use pass, monitor, drop or ratelimit"

cat >e-key.yaml <<'EOF'
served-ports: [4444]
vectorz:
  dns: { action: drop }
EOF
invalid "unknown top-level key" e-key.yaml \
	"ampguard: e-key.yaml:2:1: unknown key 'vectorz' in the configuration"

cat >e-key2.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns: { action: drop, colour: red }
EOF
invalid "unknown key in a vector" e-key2.yaml \
	"ampguard: e-key2.yaml:3:24: unknown key 'colour' in a vector"

cat >e-key3.yaml <<'EOF'
served-ports: [4444]
interfaces:
  prot0:
    orphans: drop
EOF
invalid "unknown key in an interface" e-key3.yaml \
	"ampguard: e-key3.yaml:4:5: unknown key 'orphans' in an interface"

cat >e-dup.yaml <<'EOF'
served-ports: [4444]
vectors:
  dns: { action: drop }
  53: { action: pass }
EOF
invalid "a vector by name and by port" e-dup.yaml \
	"ampguard: e-dup.yaml:4:3: vector dns is configured twice (first at line 3)"

cat >e-dup2.yaml <<'EOF'
served-ports: [4444]
vectors:
  27015: { action: drop }
  port-27015: { action: pass }
EOF
invalid "a custom port twice" e-dup2.yaml \
	"ampguard: e-dup2.yaml:4:3: port 27015 is configured twice (first at line 3)"

cat >e-escalate.yaml <<'EOF'
served-ports: [4444]
vectors:
  dtls-quic: { action: monitor, auto: { escalate: ratelimit } }
EOF
invalid "escalation to ratelimit without a budget" e-escalate.yaml \
	"ampguard: e-escalate.yaml:3:3: escalate ratelimit needs a budget: pps, bps, per-source-pps or per-source-bps"

cat >e-interval.yaml <<'EOF'
served-ports: [4444]
detection: { interval: 10ms }
EOF
invalid "a detection interval under 100 ms" e-interval.yaml \
	"ampguard: e-interval.yaml:2:24: interval must be from 100ms to 1m"

cat >e-webhook.yaml <<'EOF'
served-ports: [4444]
notify: { webhooks: [ "https://hooks.example/ampguard" ] }
EOF
invalid "a webhook that is not http://" e-webhook.yaml \
	"ampguard: e-webhook.yaml:2:23: webhook 'https://hooks.example/ampguard': only http:// URLs are supported"

cat >e-release.yaml <<'EOF'
served-ports: [4444]
detection: { release-pps: 0 }
EOF
invalid "a release level of 0" e-release.yaml \
	"ampguard: e-release.yaml:2:27: release-pps must be at least 1 (at 0 an attack would never end)"

cat >e-escalate2.yaml <<'EOF'
served-ports: [4444]
detection: { escalate: ratelimit }
EOF
invalid "escalation to ratelimit for every vector, dns without a budget" e-escalate2.yaml \
	"ampguard: e-escalate2.yaml:2:24: escalate ratelimit reaches dns, which has no budget: give it pps, bps, per-source-pps or per-source-bps, or its own escalate"

cat >e-cidr.yaml <<'EOF'
served-ports: [4444]
allow:
  - 203.0.113.53/32
  - 192.0.2.300/32
EOF
invalid "bad IPv4 CIDR" e-cidr.yaml \
	"ampguard: e-cidr.yaml:4:5: bad CIDR '192.0.2.300/32': '192.0.2.300' is not an IPv4 or IPv6 address"

cat >e-cidr6.yaml <<'EOF'
served-ports: [4444]
deny: [2001:db8::/129]
EOF
invalid "bad IPv6 prefix length" e-cidr6.yaml \
	"ampguard: e-cidr6.yaml:2:8: bad CIDR '2001:db8::/129': prefix length must be 0-128"

cat >e-host.yaml <<'EOF'
served-ports: [4444]
deny:
  - 198.51.100.1/24
EOF
invalid "IPv4 CIDR with host bits set" e-host.yaml \
	"ampguard: e-host.yaml:3:5: bad CIDR '198.51.100.1/24': host bits are set (did you mean 198.51.100.0/24?)"

cat >e-host6.yaml <<'EOF'
served-ports: [4444]
allow: ["2001:db8::1/64"]
EOF
invalid "IPv6 CIDR with host bits set" e-host6.yaml \
	"ampguard: e-host6.yaml:2:9: bad CIDR '2001:db8::1/64': host bits are set (did you mean 2001:db8::/64?)"

cat >e-served.yaml <<'EOF'
allow: [203.0.113.99/32]
served-ports: [123, 0]
EOF
invalid "served port 0" e-served.yaml \
	"ampguard: e-served.yaml:2:21: bad served port '0': use a number from 1 to 65535"

cat >e-served2.yaml <<'EOF'
allow: [203.0.113.99/32]
served-ports: [123, 70000]
EOF
invalid "served port above 65535" e-served2.yaml \
	"ampguard: e-served2.yaml:2:21: bad served port '70000': use a number from 1 to 65535"

cat >e-rl.yaml <<'EOF'
served-ports: [4444]
vectors:
  ntp:
    action: ratelimit
    track-timeout: 10s
EOF
invalid "ratelimit without a budget" e-rl.yaml \
	"ampguard: e-rl.yaml:3:3: action ratelimit needs a budget: pps, bps, per-source-pps or per-source-bps"

printf '# resolvers\n203.0.113.53\n\n2001:db8::/32   # documentation\n198.51.100.0/33\n' >list.txt
cat >e-listfile.yaml <<'EOF'
served-ports: [4444]
allow: []
allow-files:
  - list.txt
EOF
invalid "a bad line in an allow-files file" e-listfile.yaml \
	"ampguard: e-listfile.yaml:4:5: list.txt:5: bad CIDR '198.51.100.0/33': prefix length must be 0-32"

cat >e-nofile.yaml <<'EOF'
served-ports: [4444]
deny-files: [missing.txt]
EOF
invalid "a missing deny-files file" e-nofile.yaml \
	"ampguard: e-nofile.yaml:2:14: missing.txt: No such file or directory"

# An interface that does not exist is an error of the file: it names the
# file, line and column like any other, and nothing is printed on stdout.
cat >e-iface.yaml <<'EOF'
served-ports: [4444]
interfaces:
  prot0:
  nope0:
    orphan-fragments: drop
EOF
refused "unknown interface under interfaces" e-iface.yaml \
	"ampguard: e-iface.yaml:4:3: no such interface 'nope0': see 'ip link'"

snapshot
assert_model "no invalid file reset or changed a counter"
apply_ok "after every refusal the state is still exactly base.yaml" base.yaml "$NONE"

}

# ---- the interfaces section ---------------------------------------------------
section_interfaces()
{

cat >i-two.yaml <<'EOF'
interfaces:
  prot0:
    orphan-fragments: drop
  prot1:
    orphan-fragments: pass
vectors:
  dns: { action: monitor }
  ntp: { action: ratelimit, pps: 1k }
  27015: { action: drop }
served-ports: [7002]
allow: [203.0.113.53/32, 2001:db8:53::/48]
deny: [198.51.100.0/24, 2001:db8:bad::/48]
EOF
apply_ok "a file naming a second interface attaches it" i-two.yaml "$(changes \
	"prot0: orphan fragments ratelimit -> drop" "prot1: attach")"
assert_eq "both interfaces are protected" "$IF_P protected|$IF_P1 protected" \
	"$(status_ifaces "$NS_P" | awk '{ print $1, $2 }' | sort | paste -sd'|')"
assert_match "the second interface runs ampguard's program" "^(drv|skb) ampguard" \
	"$(xdp_name "$IF_P1")"
assert_eq "each interface has the orphan policy of its entry" "prot0 drop|prot1 pass" \
	"$(status_field "$NS_P" '"|".join(sorted(i["interface"] + " " + i["orphan_fragments"] for i in d["interfaces"]))')"
apply_ok "the same interfaces again change nothing" i-two.yaml "$NONE"

sed -e '/^  prot1:/,/^    orphan-fragments: pass/d' i-two.yaml >i-one.yaml
apply_ok "a file without the second interface detaches it" i-one.yaml "$(changes "prot1: detach")"
assert_eq "only the first interface is protected" "$IF_P protected" \
	"$(status_ifaces "$NS_P" | awk '{ print $1, $2 }')"
assert_eq "the second interface runs no XDP program" "none" "$(xdp_name "$IF_P1")"
assert_eq "the second interface's pins are gone" "absent" "$(iface_pins "$IF_P1")"
snapshot
assert_model "attaching and detaching another interface changes no counter of this one"

# A name that does not exist: nothing is attached, nothing changes.
sed -e 's/^interfaces:/interfaces:\n  prot1:\n  nope0:/' i-one.yaml >i-missing.yaml
refused "an interfaces section naming a missing interface" i-missing.yaml \
	"ampguard: i-missing.yaml:3:3: no such interface 'nope0': see 'ip link'"
assert_eq "after the refused file the second interface is still unprotected" "none" \
	"$(xdp_name "$IF_P1")"
assert_eq "after the refused file the second interface has no pins" "absent" "$(iface_pins "$IF_P1")"

# Half-way: prot1 is attached, then prot2 is refused (a foreign XDP
# program). Everything is taken back.
ip -n "$NS_P" link set dev "$IF_P2" xdpgeneric obj "$FLOOR_OBJ" sec xdp program xdp_drop_all ||
	bail "cannot attach the foreign XDP program to $IF_P2"
foreign=$(xdp_prog "$NS_P" "$IF_P2")
foreign_id=$(awk '{ print $2 }' <<<"$foreign")
sed -e 's/^interfaces:/interfaces:\n  prot1:\n  prot2:/' i-one.yaml >i-midway.yaml
before=$(show)
snapshot
stats_before=$(udp_counters)
agrun "$NS_P" apply i-midway.yaml
assert_eq "a failure half-way fails, naming the foreign program first" \
	"1 ampguard: prot2 already runs XDP program 'xdp_drop_all' (id $foreign_id) that ampguard did not attach: remove it, or replace it with 'ampguard attach prot2 --force'" \
	"$([ "$AG_RC" -ne 0 ] && echo 1 || echo 0) $(head -n 1 <<<"$AG_ERR")"
assert_eq "after the half-way failure the running state is byte-identical" "$before" "$(show)"
assert_eq "after the half-way failure the interface attached first is detached again" "none" \
	"$(xdp_name "$IF_P1")"
assert_eq "after the half-way failure the interface attached first has no pins" "absent" \
	"$(iface_pins "$IF_P1")"
assert_eq "after the half-way failure the foreign program is untouched" "$foreign" \
	"$(xdp_prog "$NS_P" "$IF_P2")"
snapshot
assert_eq "after the half-way failure no counter changed" "$stats_before" "$(udp_counters)"
ip -n "$NS_P" link set dev "$IF_P2" xdpgeneric off

}

# ---- atomicity under load ------------------------------------------------------
section_atomicity()
{
#
# A packet reads its generation once, then: the list flags and the entry of
# its source (L), the policy slot of its source port (P), the served bit of
# its destination port (V), or for an orphan fragment its interface's
# orphan policy (O). Configurations A and B differ in all of them. A verdict
# is a chain (deny, allow, fragments, vector, served, action), so a flow can
# only expose a mix in one direction: each ordered pair "item X from A, item
# Y from B" of items one packet reads together has its own flow, whose mixed
# verdict is one that neither A nor B ever gives that flow, and whose counter
# belongs to that flow alone (any mix has some item from A and another from
# B, so it shows in at least one flow):
#
#  flow (source, sport -> dport)   under A             under B             mix only
#  F   S2  53 -> 7001 on prot0     allowlist           dns monitor         dns policy_drop      (L=B, P=A)
#  F'  S3 123 -> 7001 on prot0     ntp policy_drop     denylist            ntp monitor          (L=A, P=B)
#  G   S4 161 -> 7101 on prot0     snmp policy_drop    snmp served         snmp monitor         (P=B, V=A)
#  G'  S4 389 -> 7102 on prot0     cldap served        cldap policy_drop   cldap monitor        (P=A, V=B)
#  H   S5 1900 -> 7103 on prot0    allowlist           ssdp served         ssdp monitor         (L=B, V=A)
#  H'  S6 11211 -> 7104 on prot0   memcached served    denylist            memcached monitor    (L=A, V=B)
#  Of  X   orphans on prot0        allowlist           orphan_pass         orphan_drop (prot0)  (L=B, O=A)
#  Og  Y   orphans on prot1        orphan_drop         denylist            orphan_pass (prot1)  (L=A, O=B)
#
# A allows and B denies, so the list flags differ too (A: allow4, B: deny4):
# flags of one with entries of the other let F or F' through to a mixed
# verdict. Every packet is counted exactly once, so the counters must add
# up to what was sent.

S2=203.0.113.2
S3=203.0.113.3
S4=203.0.113.4
S5=203.0.113.5
S6=203.0.113.6
SX=203.0.113.10
SY=198.51.100.20
DST1=198.51.100.2
FLOOD_RATE=250
# An emulated machine (the kernel matrix) applies more slowly: a longer flood, fewer applies.
FLOOD_N=${AG_ATOMIC_FLOOD_N:-2000}
MIN_APPLIES=${AG_ATOMIC_MIN_APPLIES:-50}
MAX_APPLIES=400

cat >flood-a.yaml <<EOF
interfaces:
  prot0: { orphan-fragments: drop }
  prot1: { orphan-fragments: drop }
vectors:
  dns: { action: drop }
  ntp: { action: drop }
  snmp: { action: drop }
  cldap: { action: monitor }
  ssdp: { action: monitor }
  memcached: { action: monitor }
served-ports: [7102, 7104]
allow: [$S2/32, $S5/32, $SX/32]
deny: []
EOF
cat >flood-b.yaml <<EOF
interfaces:
  prot0: { orphan-fragments: pass }
  prot1: { orphan-fragments: pass }
vectors:
  dns: { action: monitor }
  ntp: { action: monitor }
  snmp: { action: monitor }
  cldap: { action: drop }
  ssdp: { action: monitor }
  memcached: { action: monitor }
served-ports: [7101, 7103]
allow: []
deny: [$S3/32, $S6/32, $SY/32]
EOF
agrun "$NS_P" apply flood-a.yaml
assert_eq "configuration A applies (attaching $IF_P1 again)" "0" "$AG_RC"
agrun "$NS_P" apply flood-b.yaml
assert_eq "configuration B applies" "0" "$AG_RC"

# senders_start N: the eight senders, N frames each at FLOOD_RATE: six UDP
# flows to prot0, orphans to prot0 and to prot1.
senders_start()
{
	local n=$1 flow src sport dport

	flood_reset
	for flow in "$S2 53 7001" "$S3 123 7001" "$S4 161 7101" "$S4 389 7102" \
		"$S5 1900 7103" "$S6 11211 7104"; do
		read -r src sport dport <<<"$flow"
		flood_start "${#FLOOD_PIDS[@]}" "$NS_A" "$UDPGEN" -s "$src" -d "$ADDR_P4" \
			--sport "$sport" --dport "$dport" -n "$n" --size "$PKT_SIZE" --rate "$FLOOD_RATE"
	done
	flood_start "${#FLOOD_PIDS[@]}" "$NS_A" python3 "$ORPHANS" --dev "$IF_A" --dst-mac "$MAC_P" \
		--src "$SX" --dst "$ADDR_P4" --count "$n" --rate "$FLOOD_RATE" --id 1000
	flood_start "${#FLOOD_PIDS[@]}" "$NS_A" python3 "$ORPHANS" --dev "$IF_A1" --dst-mac "$MAC_P1" \
		--src "$SY" --dst "$DST1" --count "$n" --rate "$FLOOD_RATE" --id 5000
	sleep 0.3
}

# senders_end N: waits for the senders; checks each sent N frames.
senders_end()
{
	local name out=""

	flood_wait
	for name in "${FLOOD_NAMES[@]}"; do
		out+="$(cat "$(flood_out "$name")")|"
	done
	assert_eq "every sender sent its $1 frames" "$(printf "sent $1|%.0s" 1 2 3 4 5 6 7 8)" "$out"
	sleep 0.3
}

# flood_deltas OLD: STATS_ALL becomes the growth of every counter since OLD.
flood_deltas()
{
	snapshot_all
	STATS_ALL=$(awk 'NR == FNR { old[$1 " " $2 " " $4] = $6; next }
		{ print $1, $2, $3, $4, $5, $6 - old[$1 " " $2 " " $4], $7 }' \
		<(printf '%s\n' "$1") <(printf '%s\n' "$STATS_ALL"))
}

# links_lost: frames the senders' links dropped on their way to prot0
# and prot1 ("PEER0 PEER1"), which no XDP program could count.
links_lost()
{
	veth_drops "$NS_A:$IF_A:tx" "$NS_A:$IF_A1:tx"
}

# Counters only a mix gives, and counters of what A and B give.
MIXED="prot0 dns policy_drop|prot0 ntp monitor|prot0 snmp monitor|prot0 cldap monitor"
MIXED+="|prot0 ssdp monitor|prot0 memcached monitor|prot0 other orphan_drop|prot1 other orphan_pass"
PURE="prot0 other allowlist|prot0 dns monitor|prot0 ntp policy_drop|prot0 other denylist"
PURE+="|prot0 snmp policy_drop|prot0 snmp served|prot0 cldap served|prot0 cldap policy_drop"
PURE+="|prot0 ssdp served|prot0 memcached served|prot0 other orphan_pass"
PURE+="|prot1 other orphan_drop|prot1 other denylist"

# counters_of LIST: "IFACE VECTOR REASON=PACKETS" for each of LIST in STATS_ALL.
counters_of()
{
	local c out=""

	while read -r c; do
		# shellcheck disable=SC2086 # three words
		out+="$c=$(reason_if $c) "
	done < <(tr '|' '\n' <<<"$1")
	printf '%s' "${out% }"
}

quiesce
snapshot_all
stats_flood_before=$STATS_ALL
read -r drops0_before drops1_before <<<"$(links_lost)"
senders_start "$FLOOD_N"
applies=0
applies_under_load=0
apply_failures=""
while [ "$applies" -lt "$MAX_APPLIES" ]; do
	under=0
	flood_running && under=1
	[ "$under" -eq 0 ] && [ "$applies" -ge "$MIN_APPLIES" ] && break
	if [ $((applies % 2)) -eq 0 ]; then f=flood-a.yaml; else f=flood-b.yaml; fi
	agrun "$NS_P" apply "$f"
	if [ "$AG_RC" -ne 0 ] || [ -n "$AG_ERR" ] || [ "$AG_OUT" == "$NONE" ]; then
		apply_failures+="apply $f #$applies: exit $AG_RC, '$(oneline "$AG_OUT$AG_ERR")'; "
	fi
	applies=$((applies + 1))
	flood_running && [ "$under" -eq 1 ] && applies_under_load=$((applies_under_load + 1))
done
senders_end "$FLOOD_N"
assert_eq "every apply under the flood succeeded and changed something" "" "$apply_failures"
check "at least $MIN_APPLIES applies ran while every sender was sending ($applies_under_load of $applies)" \
	test "$applies_under_load" -ge "$MIN_APPLIES"
flood_deltas "$stats_flood_before"
read -r drops0 drops1 <<<"$(links_lost)"
drops0=$((drops0 - drops0_before))
drops1=$((drops1 - drops1_before))
[ "$drops0" -eq 0 ] && [ "$drops1" -eq 0 ] ||
	echo "# note: the veth links dropped $drops0 and $drops1 frames before XDP (a busy machine)"

assert_eq "no packet was judged by a mix of A and B" "$(sed 's/|/=0 /g; s/$/=0/' <<<"$MIXED")" \
	"$(counters_of "$MIXED")"
missing=""
while read -r c; do
	# shellcheck disable=SC2086 # three words
	[ "$(reason_if $c)" -gt 0 ] || missing+="$c; "
done < <(tr '|' '\n' <<<"$PURE")
assert_eq "every verdict of A and every verdict of B was given" "" "$missing"
# Every frame that reached an interface is counted exactly once.
g=$(($(reason_if prot0 snmp policy_drop) + $(reason_if prot0 snmp served) + $(reason_if prot0 snmp monitor)))
g2=$(($(reason_if prot0 cldap served) + $(reason_if prot0 cldap policy_drop) + $(reason_if prot0 cldap monitor)))
check "flow G is counted whole under snmp ($g of $FLOOD_N, $drops0 lost on the link)" \
	test "$g" -le "$FLOOD_N" -a "$g" -ge $((FLOOD_N - drops0))
check "flow G' is counted whole under cldap ($g2 of $FLOOD_N, $drops0 lost on the link)" \
	test "$g2" -le "$FLOOD_N" -a "$g2" -ge $((FLOOD_N - drops0))
assert_eq "every frame that reached $IF_P was counted exactly once" "$((7 * FLOOD_N - drops0))" \
	"$(udp_total_if prot0)"
assert_eq "every frame that reached $IF_P1 was counted exactly once" "$((FLOOD_N - drops1))" \
	"$(udp_total_if prot1)"

# The control: the same switch made one item at a time, with the single
# commands (each atomic on its own), must be caught. This shows the
# counters above can see a mix at all.
CONTROL_N=1000
ab_steps=(
	"allow $S2/32 $S5/32 $SX/32 --delete" "deny $S3/32 $S6/32 $SY/32"
	"set dns monitor" "set ntp monitor" "set snmp monitor" "set cldap drop"
	"serve 7101 7103" "serve 7102 7104 --delete"
	"fragments $IF_P --orphans pass" "fragments $IF_P1 --orphans pass"
)
ba_steps=(
	"deny $S3/32 $S6/32 $SY/32 --delete" "allow $S2/32 $S5/32 $SX/32"
	"set dns drop" "set ntp drop" "set snmp drop" "set cldap monitor"
	"serve 7102 7104" "serve 7101 7103 --delete"
	"fragments $IF_P --orphans drop" "fragments $IF_P1 --orphans drop"
)
agrun "$NS_P" apply flood-b.yaml
quiesce
snapshot_all
stats_control_before=$STATS_ALL
senders_start "$CONTROL_N"
switches=0
step_failures=""
while flood_running && [ "$switches" -lt 20 ]; do
	if [ $((switches % 2)) -eq 0 ]; then steps=("${ba_steps[@]}"); else steps=("${ab_steps[@]}"); fi
	for step in "${steps[@]}"; do
		# shellcheck disable=SC2086 # a command line
		ag "$NS_P" $step >/dev/null 2>"$E2E_TMP/step.err" || step_failures+="$step: $(cat "$E2E_TMP/step.err"); "
		sleep 0.02
	done
	switches=$((switches + 1))
done
senders_end "$CONTROL_N"
assert_eq "control: every single command succeeded" "" "$step_failures"
flood_deltas "$stats_control_before"
mixed_total=0
while read -r c; do
	# shellcheck disable=SC2086 # three words
	mixed_total=$((mixed_total + $(reason_if $c)))
done < <(tr '|' '\n' <<<"$MIXED")
check "control: switching one command at a time is caught ($mixed_total mixed verdicts in $switches switches)" \
	test "$mixed_total" -gt 0

}

# ---- exporter --config and SIGHUP ---------------------------------------------
section_exporter()
{

EXP_PORT=$(ip netns exec "$NS_P" python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
cat >exp.yaml <<EOF
interfaces:
  prot0:
  prot1:
vectors:
  dns: { action: monitor }
exporter:
  listen: 127.0.0.1:1
EOF
timeout "$DAEMON_MAX_SECONDS" nsenter --net="/run/netns/$NS_P" "$AG_BIN" exporter --config exp.yaml \
	--listen "127.0.0.1:$EXP_PORT" >"$E2E_TMP/exp.out" 2>"$E2E_TMP/exp.err" &
EXP_TIMEOUT_PID=$!
E2E_PIDS+=("$EXP_TIMEOUT_PID")
EXP_PID=""
for ((i = 0; i < 100; i++)); do
	EXP_PID=$(pgrep -P "$EXP_TIMEOUT_PID")
	[ -n "$EXP_PID" ] && break
	sleep 0.05
done
[ -n "$EXP_PID" ] || bail "the exporter did not start"
wait_grep "$E2E_TMP/exp.err" "listening on http://127\.0\.0\.1:$EXP_PORT/metrics" ||
	not_ok "the exporter starts" "$(oneline "$(cat "$E2E_TMP/exp.err")")"
assert_eq "the exporter applied its file at start" "ampguard: applying exp.yaml|changes:" \
	"$(head -n 2 "$E2E_TMP/exp.out" | paste -sd'|')"
assert_eq "the exporter's file is the running state" "dns 53 monitor true" \
	"$(status_vectors "$NS_P" | grep '^dns ')"
assert_eq "the exporter serves /metrics" "200" "$(metrics_get "$EXP_PORT" "$E2E_TMP/m1.txt")"

sed -e 's/action: monitor/action: pass/' exp.yaml >exp.new && mv exp.new exp.yaml
kill -HUP "$EXP_PID"
wait_grep "$E2E_TMP/exp.out" "^  dns: monitor, tracking 5s -> pass, tracking 5s$" ||
	not_ok "SIGHUP re-applies the file" "$(oneline "$(cat "$E2E_TMP/exp.out" "$E2E_TMP/exp.err")")"
assert_eq "SIGHUP re-applied the edited file" \
	"ampguard: reloading exp.yaml|changes:|  dns: monitor, tracking 5s -> pass, tracking 5s" \
	"$(sed -n '/^ampguard: reloading/,$p' "$E2E_TMP/exp.out" | paste -sd'|')"
assert_eq "after SIGHUP the running state is the edited file's" "dns 53 pass true" \
	"$(status_vectors "$NS_P" | grep '^dns ')"

before=$(show)
printf 'interfaces:\n  prot0:\n  prot1:\nvectors:\n  dns: { action: explode }\n' >exp.yaml
kill -HUP "$EXP_PID"
wait_grep "$E2E_TMP/exp.err" "exp\.yaml" ||
	not_ok "SIGHUP with a bad file logs it" "$(oneline "$(cat "$E2E_TMP/exp.err")")"
assert_eq "SIGHUP with a bad file logs its line" \
	"ampguard: exp.yaml:5:18: unknown action 'explode': use pass, monitor, drop or ratelimit; keeping the running configuration" \
	"$(grep 'exp\.yaml' "$E2E_TMP/exp.err")"
assert_eq "SIGHUP with a bad file keeps the running state" "$before" "$(show)"
check "the exporter is still running" kill -0 "$EXP_PID"
assert_eq "the exporter still serves /metrics" "200" "$(metrics_get "$EXP_PORT" "$E2E_TMP/m2.txt")"
assert_eq "the metrics show the running action" 'ampguard_vector_action{vector="dns",port="53",action="pass"} 1' \
	"$(grep -E '^ampguard_vector_action\{vector="dns",.*action="pass"' "$E2E_TMP/m2.txt")"
kill "$EXP_PID" 2>/dev/null
wait "$EXP_TIMEOUT_PID"
assert_eq "the exporter stops cleanly on SIGTERM" "0" "$?"
forget_pid "$EXP_TIMEOUT_PID"

}

# ---- the end: an empty interfaces section detaches everything ----------------
section_the_end()
{

# The file names no vector either: dns returns to its default.
printf 'interfaces: {}\n' >none.yaml
agrun "$NS_P" apply none.yaml
assert_eq "an empty interfaces section detaches every interface" \
	"0||changes:|  dns: pass, tracking 5s -> drop, tracking 5s|  prot0: detach|  prot1: detach" \
	"$AG_RC|$AG_ERR|$(head -n 1 <<<"$AG_OUT")|$(tail -n +2 <<<"$AG_OUT" | sort | paste -sd'|')"
assert_no_state "with nothing protected, no state is left"
assert_eq "no XDP program is left on $IF_P" "none" "$(xdp_name "$IF_P")"

}

suite_setup()
{
	require
	require_udpflood
	private_binaries
	ORPHANS=$E2E_TMP/bin/orphanfrags.py
	cp "$E2E_TOP/tests/tools/orphanfrags.py" "$ORPHANS" || bail "cannot copy orphanfrags.py"
	EXAMPLE=$E2E_TMP/bin/ampguard.yaml
	cp "$E2E_TOP/examples/ampguard.yaml" "$EXAMPLE" || bail "cannot copy examples/ampguard.yaml"

	# Every file lives here and is named relative to it, as the errors name it.
	W=$E2E_TMP/cfg
	# shellcheck disable=SC2015 # either step failing bails
	mkdir -p "$W" && cd "$W" || bail "cannot make $W"

	setup_pair || bail "cannot build the namespaces"
	# A second protected link (prot1), and a third one (prot2) that runs a
	# foreign XDP program, so that attaching it fails.
	IF_P1=prot1
	IF_A1=peer1
	IF_P2=prot2
	IF_A2=peer2
	# shellcheck disable=SC2015 # a chain of steps: any failure bails
	ip -n "$NS_P" link add "$IF_P1" type veth peer name "$IF_A1" netns "$NS_A" &&
		ip -n "$NS_P" link add "$IF_P2" type veth peer name "$IF_A2" netns "$NS_A" &&
		ip -n "$NS_P" link set "$IF_P1" up && ip -n "$NS_P" link set "$IF_P2" up &&
		ip -n "$NS_A" link set "$IF_A1" up && ip -n "$NS_A" link set "$IF_A2" up ||
		bail "cannot add the second and third links"
	MAC_P1=$(ip -n "$NS_P" -j link show dev "$IF_P1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])') ||
		bail "cannot read the MAC address of $IF_P1"
}

E2E_TESTS=(section_attach_config section_counters section_round_trip section_invalid_files
	section_interfaces section_atomicity section_exporter section_the_end)
E2E_NEEDS[section_counters]=section_attach_config
E2E_NEEDS[section_round_trip]=section_counters
E2E_NEEDS[section_invalid_files]=section_round_trip
E2E_NEEDS[section_interfaces]=section_invalid_files
E2E_NEEDS[section_exporter]="section_interfaces section_atomicity"
E2E_NEEDS[section_the_end]=section_exporter
# AG_CONFIG_SECTIONS="NAME..." (attach_config, counters, ...) runs only those
# sections, as naming section_NAME... does.
if [ $# -eq 0 ] && [ -n "${AG_CONFIG_SECTIONS:-}" ]; then
	read -r -a sections <<<"$AG_CONFIG_SECTIONS"
	set -- "${sections[@]/#/section_}"
fi
e2e_run "$@"
