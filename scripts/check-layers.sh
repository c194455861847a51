#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Keeps the userspace layering true (README, "Layout"):
#
#   - every user/lib file belongs to one layer below; it includes only the
#     header of its own layer or a lower one, never the whole library
#     (ampguard.h) nor the verbs' cmd.h;
#   - each layer's header includes only the one directly below it;
#   - the verbs (user/cmd) include only cmd.h among the project's headers;
#   - the library never parses argv nor prints usage;
#   - from the built objects (when present): no library file calls a
#     higher layer, and no two library files call each other in a cycle.
#
# Usage: scripts/check-layers.sh [BUILD_DIR]. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:-build}

# Lowest first. A new library file must be placed here.
layers=(
	"base: util names rate cidr pcapng pcapfile"
	"kernel: kernel progs maps"
	"state: state attacks"
	"tables: gen stats srctable dsts lists tc"
	"commit: commit policy"
	"attach: attach repair session"
	"config: config config_yaml metrics exporter"
	"daemon: detect events webhook"
	"upstream: routes speaker bridge upstream"
	"capture: capture"
)

passed=0
failed=0
declare -A layer_of # file stem or header stem -> layer index

pass() { passed=$((passed + 1)); }
fail()
{
	failed=$((failed + 1))
	echo "layering: $1"
}

for i in "${!layers[@]}"; do
	entry=${layers[$i]}
	layer_of[${entry%%:*}]=$i
	for f in ${entry#*:}; do
		layer_of[$f]=$i
	done
done

# Project headers a file includes, one per line.
includes() { sed -n 's/^#include "\([^"]*\)\.h"$/\1/p' "$1"; }

check_lib_file()
{
	local f=$1 stem own inc bad=
	stem=$(basename "$f" .c)
	own=${layer_of[$stem]:-}
	if [ -z "$own" ]; then
		fail "$f is in no layer: add it to scripts/check-layers.sh"
		return
	fi
	for inc in $(includes "$f"); do
		case $inc in
		ampguard_abi | ampguard_vectors | ampguard_xdp.skel | ampguard_tc.skel | \
			ampguard_xdp_locked.skel)
			continue ;;
		esac
		if [ -z "${layer_of[$inc]:-}" ] || [ "${layer_of[$inc]}" -gt "$own" ]; then
			bad+=" $inc.h"
		fi
	done
	if [ -n "$bad" ]; then
		fail "$f (layer ${layers[$own]%%:*}) includes$bad"
	else
		pass
	fi
}

check_layer_header()
{
	local i=$1 name=${layers[$1]%%:*} want='' got
	[ "$i" -gt 0 ] && want=${layers[$((i - 1))]%%:*}
	got=$(includes "user/lib/$name.h" | grep -v '^ampguard_abi$' | tr '\n' ' ')
	if [ "${got% }" = "$want" ]; then
		pass
	else
		fail "user/lib/$name.h includes '${got% }', expected '${want}'"
	fi
}

check_cmd_file()
{
	local f=$1 bad
	bad=$(includes "$f" | grep -v '^cmd$' | tr '\n' ' ')
	if [ -n "$bad" ]; then
		fail "$f includes ${bad}(verbs see the library through cmd.h only)"
	else
		pass
	fi
}

# Calls between library objects, as "caller callee" file pairs.
call_pairs()
{
	local o defs
	defs=$(for o in "$build"/user/lib/*.o; do
		nm --defined-only "$o" | awk -v f="$(basename "$o" .o)" '$2 ~ /[TDRB]/ { print $3, f }'
	done)
	for o in "$build"/user/lib/*.o; do
		nm --undefined-only "$o" | awk '{ print $2 }' |
			awk -v f="$(basename "$o" .o)" 'NR == FNR { def[$1] = $2; next }
				($1 in def) && def[$1] != f { print f, def[$1] }' <(echo "$defs") - |
			sort -u
	done
}

check_objects()
{
	local pairs caller callee bad=0
	pairs=$(call_pairs)
	while read -r caller callee; do
		[ -n "$caller" ] || continue
		if [ "${layer_of[$callee]}" -gt "${layer_of[$caller]}" ]; then
			fail "$caller.c (layer ${layers[${layer_of[$caller]}]%%:*}) calls up into $callee.c"
			bad=1
		fi
	done <<<"$pairs"
	[ "$bad" -eq 0 ] && pass
	# tsort names a loop on stderr when the graph has one.
	if printf '%s\n' "$pairs" | tsort >/dev/null 2>"$build/.layers-cycle"; then
		pass
	else
		fail "library files call each other in a cycle: $(tr '\n' ' ' <"$build/.layers-cycle")"
	fi
	rm -f "$build/.layers-cycle"
}

for f in user/lib/*.c; do
	check_lib_file "$f"
done
for i in "${!layers[@]}"; do
	check_layer_header "$i"
done
for f in user/cmd/*.c; do
	check_cmd_file "$f"
done
if grep -nE '\bgetopt|\bargv\b|usage\(' user/lib/*.c user/lib/*.h; then
	fail "the library parses argv or prints usage (above): that belongs in user/cmd"
else
	pass
fi
if compgen -G "$build/user/lib/*.o" >/dev/null; then
	check_objects
else
	echo "layering: no objects in $build/user/lib: call graph not checked (make first)"
	fail "call graph unchecked"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
