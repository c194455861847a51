#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make test-package: builds the Debian package (make deb), lints it, installs
# it on this machine, checks what it installed and where, runs the man page
# and completion tests against the installed files, and purges it again,
# also when a check fails or the run is interrupted. Needs root (dpkg -i).
# The last line is "N passed, N failed".
# The helpers below are called through check() and the traps, which
# the linter does not follow.
# shellcheck disable=SC2317
set -u
cd "$(dirname "$0")/../.." || exit 1

pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if [ "$(id -u)" -ne 0 ]; then
	echo "test-package: run as root (it installs and purges the package)" >&2
	exit 1
fi
if dpkg-query -W -f='${Status}' ampguard 2>/dev/null | grep -q installed; then
	echo "test-package: ampguard is already installed as a package; purge it first" >&2
	exit 1
fi

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=build/deb/ampguard_${version}_${arch}.deb
changes=build/deb/ampguard_${version}_${arch}.changes

# 1. Build.
# (The log is kept outside the tree: the native source tarball takes the tree.)
log=$(mktemp)
if make -j1 deb >"$log" 2>&1 && [ -f "$deb" ]; then
	ok "make deb built $deb"
	mv "$log" build/deb/build.log
else
	notok "make deb (log: $log)"
	tail -20 "$log"
	finish
fi

# 2. Lint: the .deb, the source package and the .changes, every tag shown
# (info and pedantic too); no errors or warnings.
lint=$(lintian --display-info --pedantic "$changes" 2>&1 | grep -v '^running with root privileges')
while IFS= read -r line; do
	[ -n "$line" ] && echo "  lintian: $line"
done <<<"$lint"
no_errors_or_warnings() { ! grep -q '^[EW]: ' <<<"$lint"; }
check "lintian reports no errors or warnings" no_errors_or_warnings

# 3. Install; purged again on the way out, whatever happens.
purge() {
	if dpkg-query -W ampguard >/dev/null 2>&1; then
		dpkg --purge ampguard >/dev/null 2>&1 || echo "test-package: dpkg --purge ampguard failed" >&2
	fi
}
trap 'purge' EXIT
trap 'purge; exit 130' INT TERM

if dpkg -i "$deb" >/dev/null; then
	ok "dpkg -i $deb"
else
	notok "dpkg -i $deb"
	finish
fi

not_enabled() { ! ls /etc/systemd/system/*.wants/"$1" >/dev/null 2>&1; }
# (By executable: other ampguard binaries, e.g. a test run's, may be running.)
none_running() {
	local e
	for e in /proc/[0-9]*/exe; do
		[ "$(readlink "$e" 2>/dev/null)" = /usr/sbin/ampguard ] && return 1
	done
	return 0
}
no_helper_state() {
	[ -z "$(find /var/lib/systemd/deb-systemd-helper-enabled -name '*ampguard*' 2>/dev/null)" ]
}

unitdir=
for d in /lib/systemd/system /usr/lib/systemd/system; do
	[ -f "$d/ampguard@.service" ] && unitdir=$d
done
check "binary at /usr/sbin/ampguard" test -x /usr/sbin/ampguard
for u in ampguard@.service ampguard-daemon.service ampguard-exporter.service; do
	check "unit $u installed" test -n "$unitdir" -a -f "$unitdir/$u"
	check "unit $u names /usr/sbin/ampguard" grep -q 'ExecStart=/usr/sbin/ampguard' "$unitdir/$u"
	check "unit $u is not enabled" not_enabled "$u"
done
check "no ampguard process was started" none_running
check "man page at /usr/share/man/man8/ampguard.8.gz" test -f /usr/share/man/man8/ampguard.8.gz
check "bash completion at /usr/share/bash-completion/completions/ampguard" \
	test -f /usr/share/bash-completion/completions/ampguard
check "example config at /usr/share/doc/ampguard/examples/ampguard.yaml" \
	test -f /usr/share/doc/ampguard/examples/ampguard.yaml
check "Grafana dashboard at /usr/share/ampguard/grafana/ampguard-dashboard.json" \
	test -f /usr/share/ampguard/grafana/ampguard-dashboard.json
check "README.md the units' Documentation= names" test -f /usr/share/doc/ampguard/README.md

pkgver=$(dpkg-query -W -f='${Version}' ampguard)
binver=$(/usr/sbin/ampguard --version | awk '{ print $2 }')
check "ampguard --version ($binver) equals the package version ($pkgver)" test "$binver" = "$pkgver"

# systemd-analyze verify works offline (no systemd as PID 1 needed). The
# template is checked as an instance for lo; a missing man page of a unit's
# Documentation= is not an error (--man=no).
if command -v systemd-analyze >/dev/null; then
	tmp=$(mktemp -d)
	cp "$unitdir/ampguard@.service" "$tmp/ampguard@lo.service"
	for u in "$unitdir/ampguard-daemon.service" "$unitdir/ampguard-exporter.service" \
		"$tmp/ampguard@lo.service"; do
		out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$u" 2>&1)
		if [ -z "$out" ]; then
			ok "systemd-analyze verify ${u##*/}"
		else
			notok "systemd-analyze verify ${u##*/}: $out"
		fi
	done
	rm -rf "$tmp"
else
	echo "# systemd-analyze not found: units not verified"
fi

# The man page and the completion, as installed.
man=$(mktemp --suffix=.8) # mandoc takes the section from the name
zcat /usr/share/man/man8/ampguard.8.gz >"$man"
if command -v mandoc >/dev/null; then
	check "mandoc -Tlint: no warnings" mandoc -Tlint -Wwarning "$man"
fi
for t in test_manpage.sh:"$man" test_completion.sh:/usr/share/bash-completion/completions/ampguard; do
	script=${t%%:*}
	out=$(bash "tests/package/$script" /usr/sbin/ampguard "${t#*:}")
	echo "$out" | grep -v '^ok' | sed "s/^/  $script: /"
	last=$(tail -1 <<<"$out")
	p=$(awk '{ print $1 }' <<<"$last")
	f=$(awk '{ print $3 }' <<<"$last")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-1}))
	echo "# $script: $last"
done
rm -f "$man"

# 4. The pins are the operator's state. An interface detached before the
# purge leaves nothing; one left attached is still protected after it.
ns=agpkg-$$
pkgroot=/sys/fs/bpf/ampguard-pkg-$$
agi() { AMPGUARD_ROOT=$pkgroot nsenter --net="/run/netns/$ns" /usr/sbin/ampguard "$@" >/dev/null 2>&1; }
xdp_on() { ip -n "$ns" -d link show "$1" | grep -q 'prog/xdp'; }
cleanup_ns() {
	rm -rf "$pkgroot"
	ip netns del "$ns" 2>/dev/null
}
trap 'purge; cleanup_ns' EXIT
trap 'purge; cleanup_ns; exit 130' INT TERM
ip netns add "$ns" && ip -n "$ns" link add pkg0 type veth peer name pkg1 &&
	ip -n "$ns" link set pkg0 up && ip -n "$ns" link set pkg1 up
check "the installed ampguard attaches pkg0" agi attach pkg0
check "and detaches it" agi detach pkg0
check "a detach leaves no pins and no program" eval "! test -e $pkgroot && ! xdp_on pkg0"
check "the installed ampguard attaches pkg1 (left attached for the purge)" agi attach pkg1

# 5. Purge: every file the package installed is gone, and every directory it
# installed is gone unless another package also owns it.
mapfile -t files < <(dpkg -L ampguard)
if dpkg --purge ampguard >/dev/null; then
	ok "dpkg --purge ampguard"
else
	notok "dpkg --purge ampguard"
fi
left=()
for f in "${files[@]}"; do
	[ "$f" = /. ] && continue
	if [ -L "$f" ] && [ -d "$f" ]; then
		continue # a directory the system has as a symlink (merged /usr): not ours
	elif [ -d "$f" ]; then
		dpkg -S "$f" >/dev/null 2>&1 || left+=("$f")
	elif [ -e "$f" ] || [ -L "$f" ]; then
		left+=("$f")
	fi
done
check "purge removed all ${#files[@]} paths the package installed${left[*]:+ (left: ${left[*]})}" \
	test ${#left[@]} -eq 0
check "no unit state left under /var/lib/systemd/deb-systemd-helper-enabled" no_helper_state
check "the purge detached nothing: pkg1 keeps its program and pins" \
	eval "xdp_on pkg1 && test -e $pkgroot/ifaces/pkg1/link"
cleanup_ns

finish
