#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fetches the Debian kernels that the VM harness (scripts/vm/run.sh) boots:
# the current linux-image-*-amd64 of bullseye (5.10), bookworm (6.1) and
# trixie (6.12), each resolved through its suite's linux-image-amd64
# metapackage (the ABI number is never pinned), downloaded with apt from the
# Debian mirror and extracted into a cache outside the tree.
#
#   scripts/vm/fetch-kernels.sh [--update] [SHORT...]   SHORT: 5.10 6.1 6.12
#
# Layout of the cache ($AG_KERNEL_CACHE, default /var/cache/ampguard/kernels):
#   SHORT.kver          the exact kernel version (KVER) for that short name,
#                       one line; written last, so it only ever names a
#                       complete tree
#   KVER/boot/vmlinuz-KVER, KVER/boot/vmlinux-KVER (its payload, booted
#                       directly: see extract_vmlinux),
#   KVER/lib/modules/KVER/ (depmod run on it; a
#                       package that ships usr/lib/modules is moved to
#                       lib/modules), KVER/SOURCE (package, version, suite)
#   .apt/SUITE/         apt's own sources list, lists and caches for SUITE:
#                       the host's apt configuration and state are never used
#                       or touched
#
# Invariants: idempotent, a short name whose tree is complete is left alone
# without any network access (--update resolves the metapackage again and
# fetches a newer kernel if it moved); a partial download never replaces a
# complete tree; only the cache directory is written.
set -euo pipefail

CACHE=${AG_KERNEL_CACHE:-/var/cache/ampguard/kernels}
MIRROR=${AG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${AG_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# short name -> suite
declare -A SUITE=([5.10]=bullseye [6.1]=bookworm [6.12]=trixie)
ORDER=(5.10 6.1 6.12)

die()
{
	echo "fetch-kernels: $*" >&2
	exit 1
}

usage()
{
	echo "usage: $0 [--update] [5.10|6.1|6.12 ...]" >&2
	exit 2
}

# complete SHORT: the short name's tree is there in full.
complete()
{
	local kver

	[ -s "$CACHE/$1.kver" ] || return 1
	kver=$(cat "$CACHE/$1.kver")
	[ -f "$CACHE/$kver/SOURCE" ] && [ -f "$CACHE/$kver/boot/vmlinuz-$kver" ] &&
		[ -f "$CACHE/$kver/lib/modules/$kver/modules.dep" ]
}

# apt_suite SUITE CMD ARGS: apt-get/apt-cache CMD against SUITE alone, with
# the private sources list, lists and caches under .apt/SUITE.
apt_suite()
{
	local tool=$2 dir=$CACHE/.apt/$1

	shift 2
	"$tool" -q -o Dir::Etc::sourcelist="$dir/sources.list" \
		-o Dir::Etc::sourceparts="$dir/none" -o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache="$dir/cache" -o Dir::State::status=/dev/null \
		-o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts="$dir/none" \
		-o APT::Sandbox::User=root -o Acquire::Languages=none "$@"
}

# prepare_suite SUITE: its sources list (the release, its updates and its
# security suite) and a fresh index.
prepare_suite()
{
	local suite=$1 dir=$CACHE/.apt/$1

	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/none"
	cat >"$dir/sources.list" <<-EOF
		deb [signed-by=$KEYRING] $MIRROR $suite main
		deb [signed-by=$KEYRING] $MIRROR $suite-updates main
		deb [signed-by=$KEYRING] $SECURITY $suite-security main
	EOF
	apt_suite "$suite" apt-get update >"$dir/update.log" 2>&1 ||
		die "apt-get update for $suite failed: $(tail -3 "$dir/update.log" | tr '\n' ' ')"
}

# image_package SUITE: the linux-image-KVER package that the suite's
# linux-image-amd64 metapackage depends on (candidate version).
image_package()
{
	apt_suite "$1" apt-cache show --no-all-versions linux-image-amd64 |
		sed -n 's/^Depends: *//p' | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[^ ]*-amd64\)\( .*\)\{0,1\}$/\1/p' | head -1
}

# u32 FILE OFFSET: the little-endian 32-bit number at OFFSET.
u32()
{
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

# extract_vmlinux ROOT KVER: ROOT/boot/vmlinux-KVER, the bzImage's payload
# decompressed (boot protocol 2.08+: payload_offset at 0x248, length at
# 0x24c, the last 4 bytes the decompressed size). qemu boots it through its
# PVH entry, skipping the decompression that takes seconds under TCG; kept
# only when it has that entry and the size matches.
extract_vmlinux()
{
	local root=$1 kver=$2 z out setup off len magic dec

	z=$root/boot/vmlinuz-$kver
	out=$root/boot/vmlinux-$kver
	[ -f "$out" ] || [ -f "$root/boot/no-vmlinux" ] && return 0
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$z" | tr -d ' ')
	off=$(((setup + 1) * 512 + $(u32 "$z" $((0x248)))))
	len=$(($(u32 "$z" $((0x24c))) - 4))
	magic=$(od -An -tx1 -j "$off" -N4 "$z" | tr -d ' ')
	case $magic in
	fd377a58) dec=(xz -qdc) ;;
	28b52ffd) dec=(zstd -qdc) ;;
	1f8b*) dec=(gzip -qdc) ;;
	*)
		echo "fetch-kernels: $kver: payload format $magic unknown, booting the bzImage" >&2
		touch "$root/boot/no-vmlinux"
		return 0
		;;
	esac
	dd if="$z" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none |
		"${dec[@]}" >"$out.tmp" &&
		[ "$(stat -c %s "$out.tmp")" = "$(u32 "$z" $((off + len)))" ] &&
		readelf -n "$out.tmp" 2>/dev/null | grep -q 'Xen.*0x00000012' &&
		mv "$out.tmp" "$out" && return 0
	rm -f "$out.tmp"
	echo "fetch-kernels: $kver: no PVH vmlinux from the bzImage, booting the bzImage" >&2
	touch "$root/boot/no-vmlinux"
}

fetch()
{
	local short=$1 suite=${SUITE[$1]} pkg kver tmp deb version url

	prepare_suite "$suite"
	pkg=$(image_package "$suite")
	[ -n "$pkg" ] || die "$suite: linux-image-amd64 names no linux-image-*-amd64 package"
	# linux-image-5.10.0-35-amd64 -> 5.10.0-35-amd64 (bullseye's is the
	# signed build under the same name).
	kver=${pkg#linux-image-}
	kver=${kver%-unsigned}
	if [ -f "$CACHE/$kver/SOURCE" ]; then
		echo "$kver" >"$CACHE/$short.kver.new"
		mv "$CACHE/$short.kver.new" "$CACHE/$short.kver"
		echo "fetch-kernels: $short ($suite): $kver already there"
		return 0
	fi
	tmp=$(mktemp -d "$CACHE/.fetch-$short.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the trap must name this run's directory
	trap "rm -rf '$tmp'" EXIT
	url=$(apt_suite "$suite" apt-get download --print-uris "$pkg" | sed -n "s/^'\([^']*\)'.*/\1/p")
	(cd "$tmp" && apt_suite "$suite" apt-get download "$pkg") >"$tmp/download.log" 2>&1 ||
		die "$suite: apt-get download $pkg failed: $(tail -3 "$tmp/download.log" | tr '\n' ' ')"
	deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -1)
	[ -n "$deb" ] || die "$suite: no .deb after downloading $pkg"
	version=$(dpkg-deb -f "$deb" Version)
	dpkg-deb -x "$deb" "$tmp/root"
	rm -f "$deb"
	if [ -d "$tmp/root/usr/lib/modules/$kver" ] && [ ! -e "$tmp/root/lib/modules/$kver" ]; then
		mkdir -p "$tmp/root/lib/modules"
		mv "$tmp/root/usr/lib/modules/$kver" "$tmp/root/lib/modules/$kver"
	fi
	[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$pkg ships no boot/vmlinuz-$kver"
	[ -d "$tmp/root/lib/modules/$kver/kernel" ] || die "$pkg ships no modules for $kver"
	depmod -b "$tmp/root" "$kver" || die "depmod failed on $pkg"
	extract_vmlinux "$tmp/root" "$kver"
	printf 'package %s\nversion %s\nsuite %s\nurl %s\n' "$pkg" "$version" "$suite" "$url" \
		>"$tmp/root/SOURCE"
	rm -rf "${CACHE:?}/$kver"
	mv "$tmp/root" "$CACHE/$kver"
	echo "$kver" >"$CACHE/$short.kver.new"
	mv "$CACHE/$short.kver.new" "$CACHE/$short.kver"
	rm -rf "$tmp"
	trap - EXIT
	echo "fetch-kernels: $short ($suite): $pkg $version"
}

update=0
shorts=()
for a in "$@"; do
	case $a in
	--update) update=1 ;;
	-h | --help) usage ;;
	*)
		[ -n "${SUITE[$a]:-}" ] || usage
		shorts+=("$a")
		;;
	esac
done
[ ${#shorts[@]} -gt 0 ] || shorts=("${ORDER[@]}")

todo=()
for s in "${shorts[@]}"; do
	if [ $update -eq 0 ] && complete "$s"; then
		# A tree from before the vmlinux was kept: add it (no download).
		k=$(cat "$CACHE/$s.kver")
		extract_vmlinux "$CACHE/$k" "$k"
		continue
	fi
	todo+=("$s")
done
if [ ${#todo[@]} -eq 0 ]; then
	echo "fetch-kernels: ${shorts[*]} present in $CACHE"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get download into $CACHE)"
for t in apt-get apt-cache dpkg-deb depmod; do
	command -v "$t" >/dev/null || die "$t is missing: run 'make deps'"
done
[ -f "$KEYRING" ] || die "$KEYRING is missing: install debian-archive-keyring"
mkdir -p "$CACHE"
for s in "${todo[@]}"; do
	fetch "$s"
done
