#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every verb that 'ampguard --help' lists, and every long option that
# 'ampguard --help' and 'ampguard VERB --help' print, is documented in the
# man page: the verb has a subsection (.Ss) of its own, and each of its long
# options appears as a flag (.Fl \-name) inside that subsection.
#
# usage: test_manpage.sh [AMPGUARD [MANPAGE]]   (default ./ampguard man/ampguard.8)
set -u

bin=${1:-./ampguard}
man=${2:-man/ampguard.8}
pass=0
fail=0

ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }

# --per-source-pps as mdoc writes it (Fl adds the first dash):
# Fl \-per\-source\-pps
as_flag() {
	local o=${1#-}
	printf 'Fl %s' "${o//-/\\-}"
}

long_options() { grep '^  -' | grep -o -- '--[a-z][a-z-]*' | sort -u; }

# The lines of the .Ss subsection that names VERB, up to the next .Ss or .Sh.
section() {
	awk -v verb="$1" '
		/^\.S[sh] / {
			inside = 0
			if ($1 == ".Ss")
				for (i = 2; i <= NF; i++)
					if ($i == verb)
						inside = 1
			next
		}
		inside' "$man"
}

if ! "$bin" --help >/dev/null 2>&1; then
	notok "$bin --help runs"
	echo "$pass passed, $fail failed"
	exit 1
fi
[ -r "$man" ] || { notok "$man is readable"; echo "$pass passed, $fail failed"; exit 1; }

mapfile -t verbs < <("$bin" --help | awk '/^Options:/ { exit } /^  [a-z]/ { print $1 }')
if [ "${#verbs[@]}" -ge 10 ]; then
	ok "ampguard --help lists ${#verbs[@]} verbs"
else
	notok "ampguard --help lists verbs (found ${#verbs[@]})"
fi

# Global options: in the DESCRIPTION's list.
while read -r opt; do
	if grep -qF -- "$(as_flag "$opt")" "$man"; then
		ok "global option $opt"
	else
		notok "global option $opt is not in $man"
	fi
done < <("$bin" --help | sed -n '/^Options:/,$p' | long_options)

for verb in "${verbs[@]}"; do
	body=$(section "$verb")
	if [ -z "$body" ]; then
		notok "verb $verb has no .Ss subsection"
		continue
	fi
	ok "verb $verb"
	while read -r opt; do
		if grep -qF -- "$(as_flag "$opt")" <<<"$body"; then
			ok "$verb $opt"
		else
			notok "$verb $opt is not in its subsection"
		fi
	done < <("$bin" "$verb" --help 2>&1 | long_options | grep -vx -- --help)
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
