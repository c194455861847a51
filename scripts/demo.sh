#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make demo`: the 2019 extortion campaign's reflection flood, reproduced in
# network namespaces and stopped by ampguard, while the protected host and
# a LAN host behind it keep resolving names and syncing time. Takes about
# 30 s once the packages are installed; Ctrl-C tears everything down.
set -u
cd "$(dirname "$0")/.." || exit
# shellcheck source-path=SCRIPTDIR source=scenario.sh
. scripts/scenario.sh

trap 'sc_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RATE=2000       # pps per vector (7 vectors)
FRAG_RATE=100   # fragmented large replies per second, per large-reply vector
SECONDS_PER_PHASE=8

say()
{
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

die()
{
	echo "demo: $*" >&2
	exit 1
}

# phase NAME: floods for a phase while exchanging legitimate queries, then
# reports what reached the host's stack and how the exchanges fared.
phase()
{
	local before after reached total

	before=$(sc_stack_in)
	sc_flood_legit 5 $SECONDS_PER_PHASE $RATE $FRAG_RATE
	after=$(sc_stack_in)
	total=$(sc_flood_total)
	reached=$((after - before))
	printf '  flood sent: %d packets (%s)\n' "$total" "${SC_VECTORS[*]%%:*}"
	printf '  reached the host'\''s stack: %d packets (legitimate replies included)\n' "$reached"
	printf '  legitimate DNS and NTP exchanges answered: %d of %d\n' "$SC_LEGIT_OK" \
		"$SC_LEGIT_TOTAL"
}

[ "$(id -u)" -eq 0 ] || die "run as root (sudo make demo)"
say "Building the topology: internet (resolver, NTP server, reflectors) | host + NAT | LAN host"
sc_setup || die "setting up the namespaces failed"

say "1. The flood hits the host, unprotected"
phase

say "2. ampguard attach wan0: the default profile, one command"
sc_ag attach wan0
phase
echo
sc_ag stats wan0 | awk 'NR == 1 || /dns|ntp|ws-disc|arms|ssdp|memcached|cldap/'

say "3. Relax DNS live: ampguard set dns ratelimit --pps 500"
sc_ag set dns ratelimit --pps 500
phase
sc_ag stats wan0 | awk 'NR == 1 || /dns/'

say "4. Tighten it again: ampguard set dns drop"
sc_ag set dns drop

say "Tearing down: no namespace, pin or program is left"
