#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Drives the bash completion function _ampguard in a fresh bash: sets
# COMP_WORDS and COMP_CWORD as readline would, calls it, and compares
# COMPREPLY (sorted) with the exact expected words. 'ampguard' is found on
# PATH as a shim that answers 'status --json' with a fixed document (two
# protected interfaces, and an attack record whose "interface" must not be
# offered) and passes everything else to the real binary.
#
# usage: test_completion.sh [AMPGUARD [COMPLETION]]
#        (default ./ampguard contrib/bash-completion/ampguard)
set -u

bin=$(realpath "${1:-./ampguard}")
completion=$(realpath "${2:-contrib/bash-completion/ampguard}")
pass=0
fail=0

shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
cat >"$shim/ampguard" <<SHIM
#!/bin/sh
root=default
if [ "\$1" = --root ]; then root=\$2; shift 2; fi
if [ "\$1" = status ] && [ "\$2" = --json ]; then
	if [ "\$root" = default ]; then a=wan0; b=lan0; else a=other0; b=other1; fi
	cat <<JSON
{
  "version": 1,
  "root": "/sys/fs/bpf/ampguard",
  "interfaces": [
    { "interface": "\$a", "state": "protected", "mode": "native", "track_on": [ "\$a" ] },
    { "interface": "\$b", "state": "gone", "mode": "generic", "track_on": [ ] }
  ],
  "vectors": [
    { "name": "dns", "port": 53, "detection": { "attacks": [ { "interface": "eth9", "pps": 1 } ] } }
  ]
}
JSON
	exit 0
fi
exec "$bin" "\$@"
SHIM
chmod +x "$shim/ampguard"

# complete WORD... : the sorted COMPREPLY, space-separated, for the command
# line "WORD..." with the cursor at the end of the last word.
complete_line() {
	PATH="$shim:$PATH" bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_ampguard
		[ ${#COMPREPLY[@]} -gt 0 ] && printf "%s\n" "${COMPREPLY[@]}"
		exit 0' _ "$completion" "$@" | LC_ALL=C sort | paste -sd' '
}

# expect "EXPECTED WORDS" WORD... (the last WORD is the one being completed)
expect() {
	local want=$1 got
	shift
	got=$(complete_line "$@")
	if [ "$got" = "$want" ]; then
		echo "ok - '$*' -> ${want:-(nothing)}"
		pass=$((pass + 1))
	else
		echo "not ok - '$*': want '$want', got '$got'"
		fail=$((fail + 1))
	fi
}

netdevs=$(find /sys/class/net -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | paste -sd' ')

expect "allow apply attach capture config daemon deny detach events exporter fragments serve set stats status top unset upstream vectors" ampguard ''
expect "stats status" ampguard st
expect "--help --root --state-dir --version" ampguard --
expect "detach" ampguard --root /tmp/x det
expect "--help --json --watch" ampguard stats --
expect "--config --force --help --mode --track-on" ampguard attach eth0 --
expect "--per-source-bps --per-source-bps-burst --per-source-burst --per-source-pps" ampguard set dns --per
expect "--duration --format --help --max-pps --reason --sample --snaplen --vector --verdict -c -w" ampguard capture -
expect "--action --all --for --help --json --rate" ampguard upstream withdraw --
expect "--help --interval --json -n" ampguard top -
expect "dns dtls-quic" ampguard set d
expect "ratelimit" ampguard set dns r
expect "drop monitor pass ratelimit" ampguard set 27015 ''
expect "" ampguard set dns drop ''
expect "mdns memcached mssql" ampguard unset m
expect "auto generic native" ampguard attach eth0 --mode ''
expect "$netdevs" ampguard attach ''
expect "$netdevs" ampguard attach eth0 --track-on ''
expect "lan0 wan0" ampguard detach ''
expect "wan0" ampguard stats w
expect "lan0 wan0" ampguard fragments ''
expect "lan0 wan0" ampguard capture ''
expect "other0 other1" ampguard --root /tmp/x detach ''
expect "" ampguard detach wan0 ''
expect "all drop pass" ampguard capture --verdict ''
expect "pcap pcapng" ampguard capture --format pcap
expect "mdns memcached mssql" ampguard capture --vector m
expect "" ampguard stats --watch ''
expect "aggregate drop evict" ampguard set dns --source-table-full ''
expect "drop pass ratelimit" ampguard fragments wan0 --orphans ''
expect "announce bridge withdraw" ampguard upstream ''
expect "nat-pmp netbios ntp" ampguard upstream announce n
expect "discard rate-limit rtbh" ampguard upstream announce ntp 192.0.2.1 --action ''
expect "check show" ampguard config ''

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
