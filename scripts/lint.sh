#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The formatting gate, one of the suites `make test` runs. Checks
#   - every C source and header (*.c, *.h) against .clang-format (Linux kernel
#     style, 100 columns) with clang-format --dry-run -Werror, so a change is
#     formatted before review rather than argued over in it;
#   - every shell script (*.sh, and any other file whose #! line names sh,
#     bash, dash, ksh or busybox sh) with shellcheck, following the files it
#     sources, each in the shell its #! line or "# shellcheck shell=" names
#     (busybox sh as dash, shellcheck's model of its ash).
# The files are those git tracks (build/ is not tracked); outside a git
# checkout, every file under the top directory except build/ and .git/.
# Vendored or generated files would be listed in EXCLUDE below; there are
# none. With FILE arguments only those are checked.
#
# Prints one line per failing file and, last, "N passed, N failed" (one per
# file checked; a missing tool fails every file it would check). Exits
# non-zero when anything failed. --verbose also prints each failure's
# diagnostics; --fix first rewrites the C files in place with clang-format
# -i (shellcheck's findings are left to fix by hand).
#
# clang-format's output differs between major versions: the gate is set to
# Debian 12's clang-format 14 (scripts/install-deps.sh). CLANG_FORMAT and
# SHELLCHECK name other binaries.
#
# usage: scripts/lint.sh [--fix] [--verbose] [FILE...]
set -u
cd "$(dirname "$0")/.." || exit 1

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
SHELLCHECK=${SHELLCHECK:-shellcheck}
# Glob patterns (relative paths) never checked: vendored or generated files.
EXCLUDE=()

fix=0
verbose=0
args=()
for a in "$@"; do
	case "$a" in
	--fix) fix=1 ;;
	--verbose | -v) verbose=1 ;;
	-h | --help)
		sed -n '3,/^# usage/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "lint: unknown option $a (--fix, --verbose, FILE...)" >&2
		exit 2
		;;
	*) args+=("$a") ;;
	esac
done

# The candidate files, NUL-separated, relative to the top.
list_files()
{
	if [ ${#args[@]} -gt 0 ]; then
		printf '%s\0' "${args[@]}"
	elif ! git ls-files -z 2>/dev/null; then
		find . \( -path ./build -o -path ./.git \) -prune -o -type f -print0 |
			sed -z 's|^\./||' | sort -z
	fi
}

excluded()
{
	local pat

	for pat in "${EXCLUDE[@]}"; do
		# shellcheck disable=SC2053 # pat is a glob
		[[ "$1" == $pat ]] && return 0
	done
	return 1
}

# The shell a script runs in, from its #! line ("" when it has none or it
# names something else): /bin/sh, /usr/bin/env bash, /bin/busybox sh, ...
shebang_shell()
{
	local line='' words prog

	IFS= read -r line <"$1" 2>/dev/null || [ -n "$line" ] || return 0
	[[ "$line" == '#!'* ]] || return 0
	read -r -a words <<<"${line#'#!'}"
	[ ${#words[@]} -gt 0 ] || return 0
	prog=${words[0]##*/}
	if [ "$prog" = env ]; then
		words=("${words[@]:1}")
		[ "${words[0]:-}" = -S ] && words=("${words[@]:1}")
		prog=${words[0]:-}
		prog=${prog##*/}
	fi
	if [ "$prog" = busybox ]; then
		prog=${words[1]:-}
		[ "$prog" = sh ] && prog=ash
	fi
	case "$prog" in
	sh | bash | dash | ksh | mksh | ash) echo "$prog" ;;
	esac
}

c_files=()
missing=()
sh_files=()
sh_shells=()
while IFS= read -r -d '' f; do
	if [ ! -f "$f" ]; then
		# A tracked file deleted in the work tree is not checked; a named
		# one that does not exist is a failure.
		[ ${#args[@]} -gt 0 ] && missing+=("$f")
		continue
	fi
	excluded "$f" && continue
	case "$f" in
	*.c | *.h)
		c_files+=("$f")
		continue
		;;
	esac
	shell=$(shebang_shell "$f")
	if [ -n "$shell" ] || [[ "$f" == *.sh ]]; then
		sh_files+=("$f")
		sh_shells+=("$shell")
	fi
done < <(list_files)

passed=0
failed=${#missing[@]}
for f in "${missing[@]}"; do
	echo "FAIL $f: no such file"
done

plural()
{
	[ "$1" -eq 1 ] && echo "$1 $2" || echo "$1 ${2}s"
}

# check_c FILE / check_sh FILE SHELL: prints nothing and succeeds when FILE
# passes, else the file's one line and (--verbose) the tool's diagnostics.
check_c()
{
	local out n

	out=$("$CLANG_FORMAT" --dry-run -Werror --style=file "$1" 2>&1) && return 0
	n=$(printf '%s\n' "$out" | grep -E '^[^ ].*:[0-9]+:[0-9]+: error: .*clang-format-violations' |
		cut -d: -f2 | sort -u | wc -l)
	if [ "$n" -gt 0 ]; then
		echo "FAIL $1: clang-format: $(plural "$n" line) to reformat"
	else
		echo "FAIL $1: clang-format failed: $(printf '%s\n' "$out" | head -n 1)"
	fi
	[ "$verbose" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
	return 1
}

check_sh()
{
	local out codes opts=(-x -f gcc)

	# busybox's ash is checked as dash unless the script names its shell
	# itself (--shell would override that).
	if [ "${2:-}" = ash ] && ! grep -q '^# shellcheck shell=' "$1"; then
		opts+=(-s dash)
	fi
	out=$("$SHELLCHECK" "${opts[@]}" "$1" 2>&1) && return 0
	codes=$(printf '%s\n' "$out" | grep -oE '\[SC[0-9]+\]$' | tr -d '[]' | sort | uniq -c |
		awk '{ printf "%s%s%s", sep, $2, ($1 > 1 ? " x" $1 : ""); sep = ", " }')
	if [ -n "$codes" ]; then
		echo "FAIL $1: shellcheck: $codes"
	else
		echo "FAIL $1: shellcheck failed: $(printf '%s\n' "$out" | head -n 1)"
	fi
	[ "$verbose" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
	return 1
}

# The checks to run: "check_c FILE" or "check_sh FILE SHELL", the words
# joined by the unit separator (file names may hold spaces).
checks=()
if [ ${#c_files[@]} -gt 0 ]; then
	if ! command -v "$CLANG_FORMAT" >/dev/null; then
		echo "FAIL $(plural ${#c_files[@]} "C file"): $CLANG_FORMAT not found (scripts/install-deps.sh installs it)"
		failed=$((failed + ${#c_files[@]}))
	elif [ ! -f .clang-format ]; then
		echo "FAIL $(plural ${#c_files[@]} "C file"): no .clang-format at the top of the tree"
		failed=$((failed + ${#c_files[@]}))
	else
		if [ "$fix" -eq 1 ]; then
			"$CLANG_FORMAT" -i --style=file "${c_files[@]}" ||
				echo "lint: $CLANG_FORMAT -i failed" >&2
		fi
		for f in "${c_files[@]}"; do
			checks+=("check_c"$'\x1f'"$f")
		done
	fi
fi
if [ ${#sh_files[@]} -gt 0 ]; then
	if ! command -v "$SHELLCHECK" >/dev/null; then
		echo "FAIL $(plural ${#sh_files[@]} "shell script"): $SHELLCHECK not found (scripts/install-deps.sh installs it)"
		failed=$((failed + ${#sh_files[@]}))
	else
		for i in "${!sh_files[@]}"; do
			checks+=("check_sh"$'\x1f'"${sh_files[$i]}"$'\x1f'"${sh_shells[$i]}")
		done
	fi
fi

# A shellcheck run takes seconds on the larger scripts (and on each script
# that sources them): the checks run in parallel, one per CPU, and report in
# the order of the list.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
running=0
for i in "${!checks[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	IFS=$'\x1f' read -r -a words <<<"${checks[$i]}"
	{
		"${words[@]}" >"$tmp/$i.out"
		echo $? >"$tmp/$i.rc"
	} &
	running=$((running + 1))
done
wait
for i in "${!checks[@]}"; do
	if [ "$(cat "$tmp/$i.rc" 2>/dev/null)" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		cat "$tmp/$i.out" 2>/dev/null
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
