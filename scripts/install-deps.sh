#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs every Debian package that building, linting, testing, benchmarking
# and the demo need, then the kernels the VM harness boots (scripts/vm).
# Idempotent: packages and kernels already present are left alone.
set -euo pipefail

packages=(
	# build
	make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool
	libjson-c-dev libyaml-dev libmicrohttpd-dev libpcap-dev
	# fuzzing and sanitizers (libFuzzer, ASan and UBSan runtimes for clang)
	libclang-rt-14-dev
	# test hosts, peers and the tools the tests drive them with
	iproute2 iputils-ping util-linux procps python3 curl gawk
	dnsmasq-base chrony bind9-dnsutils prometheus nftables iptables xdp-tools
	# BGP: the speaker the daemon runs, and the two routers the tests peer with
	exabgp bird2 gobgpd
	# reading what ampguard capture writes
	tshark tcpdump
	# the Debian package (make deb, make test-package) and its man page check
	debhelper dpkg-dev lintian mandoc
	# the formatting and shell-script gate (scripts/lint.sh)
	clang-format shellcheck
	# benchmarks and diagnostics
	linux-perf valgrind
	# the VM harness (scripts/vm): Debian kernels under qemu, a busybox
	# initramfs, modules and kernels decompressed on the host
	qemu-system-x86 busybox-static kmod xz-utils zstd binutils
	debian-archive-keyring
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
else
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Services the tests start themselves must not be left running by the
# package's own postinst (they would hold ports the tests use).
for svc in chrony prometheus exabgp bird gobgpd; do
	if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
		systemctl disable -q "$svc" 2>/dev/null || true
	fi
done

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# The kernels the VM harness boots (Debian 11, 12, 13), into a cache outside
# the tree; does nothing when they are there. Without them only the VM tests
# are lost, so a mirror failure is reported, not fatal.
bash "$(dirname "$0")/vm/fetch-kernels.sh" ||
	echo "install-deps: fetching the VM kernels failed: scripts/vm/run.sh cannot boot them" >&2
