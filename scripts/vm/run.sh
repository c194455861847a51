#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs a command inside a Debian kernel under qemu, on this host's own root
# file system: the VM harness that proves ampguard on Debian 11 (5.10),
# Debian 12 (6.1) and Debian 13 (6.12).
#
# Usage:
#   scripts/vm/run.sh [--kernel 5.10|6.1|6.12|KVER] [--smp N] [--mem MiB]
#                     [--netns NS --tap TAP [--mac MAC]] [--share DIR]
#                     [--timeout SEC] [--accel tcg|tcg-multi|kvm] [--quiet]
#                     -- CMD ARGS...
#
#   Kernels come from scripts/vm/fetch-kernels.sh (make deps runs it), in
#   $AG_KERNEL_CACHE (default /var/cache/ampguard/kernels). Defaults: 6.1,
#   2 CPUs, 2048 MiB, 1200 s (from qemu's start, boot included), TCG with
#   one thread for all vCPUs (tcg-multi: a thread per vCPU, slower on a
#   2-core host; kvm where it works, it hangs on the development host;
#   AG_VM_ACCEL sets the default).
#
# The guest:
#   - mounts the host's / read-only (9p), and read-write at their host paths
#     the checkout this script belongs to and the share directory, each as
#     its own 9p export (so a checkout under /tmp is not hidden by the
#     guest's tmpfs /tmp); /tmp, /var/tmp, /run, /root, /var/log and the
#     daemons' state directories are empty tmpfs; bpffs is on /sys/fs/bpf;
#   - has this kernel's modules (decompressed virtio and 9p ones in the
#     initramfs, the rest over 9p): the network, tc, netfilter and tun
#     modules the tests use are preloaded, any other loads on demand;
#   - runs CMD as root in the checkout, stdin /dev/null, with PATH, HOME,
#     LANG, the caller's AG_* and AMPGUARD_* variables (and CI), plus
#     AG_VM=1, AG_VM_KVER, AG_VM_SHARE (the share directory) and AG_VM_NIC.
#
#   CMD's output is this script's stdout; this script's own lines start with
#   "vm: " and go to stderr (the boot time, failures). Its exit status is
#   CMD's; 124 on timeout (qemu killed), 125 when the guest could not be
#   set up or died (the kernel log's last lines are printed).
#
#   --netns NS --tap TAP: qemu runs in network namespace NS with a
#   multi-queue tap TAP there (brought up by this script, no address), the
#   guest's end a virtio_net NIC with MAC (default 52:54:00:a6:00:01) and
#   enough queue pairs for native XDP on every CPU; its name is in
#   AG_VM_NIC (eth0, there is no udev renaming) and it is up.
#   --share DIR: host<->guest handshakes; without it a fresh directory is
#   made and removed at exit. The guest writes DIR/.vm-booted (the kernel
#   version) just before CMD starts.
#
# Invariants: qemu, the watchers and the temporary directory never outlive
# this script (EXIT/INT/TERM/HUP traps); the host's root is never written;
# the initramfs is cached next to the kernels, keyed by kernel version and
# a hash of what goes into it, and replaced atomically.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TOP=$(cd "$HERE/../.." && pwd -P)
CACHE=${AG_KERNEL_CACHE:-/var/cache/ampguard/kernels}

# Loaded by the initramfs, with their dependencies, before the command:
# virtio and 9p to reach the host, then the network, tc, netfilter and tun
# modules the tests use (any other loads on demand). Those a kernel lacks
# are named once, when its initramfs is built.
MODULES=(virtio_pci 9pnet_virtio 9p virtio_rng virtio_net
	veth tun 8021q sch_ingress cls_bpf act_bpf
	nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_compat nf_conntrack nf_nat
	ip_tables iptable_filter iptable_raw iptable_nat
	ip6_tables ip6table_filter ip6table_raw ip6table_nat
	xt_MASQUERADE xt_tcpudp xt_conntrack)

kernel=6.1 smp=2 mem=2048 timeout=1200 netns='' tap='' mac=52:54:00:a6:00:01 share=''
accel=${AG_VM_ACCEL:-tcg} quiet=0

say()
{
	echo "vm: $*" >&2
}

die()
{
	say "$*"
	exit 125
}

usage()
{
	sed -n '/^# Usage:/,/^# Invariants:/{/^# Invariants:/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--kernel | --smp | --mem | --netns | --tap | --mac | --share | --timeout | --accel)
		[ $# -ge 2 ] || usage
		declare "${1#--}=$2"
		shift 2
		;;
	--quiet)
		quiet=1
		shift
		;;
	--)
		shift
		break
		;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || die "--smp wants a positive number, not '$smp'"
[[ "$mem" =~ ^[1-9][0-9]*$ ]] || die "--mem wants MiB, not '$mem'"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds, not '$timeout'"
[[ "$mac" =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || die "--mac wants aa:bb:cc:dd:ee:ff, not '$mac'"
if { [ -n "$netns" ] && [ -z "$tap" ]; } || { [ -z "$netns" ] && [ -n "$tap" ]; }; then
	die "--netns and --tap go together"
fi
[ -z "$netns" ] || [ -e "/run/netns/$netns" ] || die "no network namespace $netns"
# One TCG thread for all vCPUs by default: with a thread per vCPU the
# vCPUs and qemu's 9p server fight for the cores, and each program start in
# the guest (9p round trips) took 2-3 times longer on a 2-core host.
case $accel in
tcg) accel_args=(-accel 'tcg,thread=single' -cpu max) ;;
tcg-multi) accel_args=(-accel 'tcg,thread=multi' -cpu max) ;;
kvm) accel_args=(-accel kvm -cpu host) ;;
*) die "--accel is tcg, tcg-multi or kvm, not '$accel'" ;;
esac

if [ -s "$CACHE/$kernel.kver" ]; then
	kver=$(cat "$CACHE/$kernel.kver")
else
	kver=$kernel
fi
kroot=$CACHE/$kver
{ [ -f "$kroot/boot/vmlinuz-$kver" ] && [ -f "$kroot/lib/modules/$kver/modules.dep" ]; } ||
	die "kernel $kernel is not in $CACHE: run scripts/vm/fetch-kernels.sh (make deps does)"
for t in qemu-system-x86_64 busybox gawk xz depmod modprobe; do
	command -v "$t" >/dev/null || die "$t is missing: run 'make deps'"
done

# module_files: the initramfs's module files in load order, one a line.
module_files()
{
	local m deps='' missing=()

	for m in "${MODULES[@]}"; do
		deps+=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null)$'\n' ||
			missing+=("$m")
	done
	[ ${#missing[@]} -eq 0 ] || say "not in $kver: ${missing[*]}"
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' <<<"$deps"
}

# initramfs: prints the path of the cached initramfs, building it if needed.
initramfs()
{
	local mods key out stage f n=0 base

	mods=$(module_files)
	key=$(
		cat "$HERE/init"
		echo "$mods"
		sha256sum </bin/busybox
	) || die "cannot hash the initramfs inputs"
	key=$(echo "$key" | sha256sum | cut -c1-16)
	out=$CACHE/initramfs/$kver-$key.cpio.gz
	if [ ! -f "$out" ]; then
		ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is not static: install busybox-static"
		mkdir -p "$CACHE/initramfs"
		stage=$(mktemp -d "$CACHE/initramfs/.stage.XXXXXX")
		mkdir -p "$stage"/{bin,sbin,dev,proc,sys,newroot,modules}
		cp /bin/busybox "$stage/bin/busybox"
		install -m 0755 "$HERE/init" "$stage/init"
		mknod -m 0600 "$stage/dev/console" c 5 1
		while read -r f; do
			n=$((n + 1))
			base=$(printf '%02d-%s' "$n" "$(basename "$f")")
			base=${base%.xz}
			base=${base%.zst}
			base=${base%.gz}
			case $f in
			*.ko.xz) xz -dc "$f" >"$stage/modules/$base" ;;
			*.ko.zst) zstd -qdc "$f" >"$stage/modules/$base" ;;
			*.ko.gz) gzip -dc "$f" >"$stage/modules/$base" ;;
			*) cp "$f" "$stage/modules/$base" ;;
			esac || die "cannot decompress $f"
			echo "$base" >>"$stage/modules/order"
		done <<<"$mods"
		(cd "$stage" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) \
			>"$stage.img" || die "cannot build the initramfs"
		mv "$stage.img" "$out"
		rm -rf "$stage"
	fi
	echo "$out"
}

img=$(initramfs)
# The decompressed kernel boots seconds faster under TCG (fetch-kernels.sh).
kimage=$kroot/boot/vmlinux-$kver
[ -f "$kimage" ] || kimage=$kroot/boot/vmlinuz-$kver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ag-vm.XXXXXX")
qpid='' tpid='' apid=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
	local p

	for p in $qpid $tpid $apid; do
		kill "$p" 2>/dev/null || true
	done
	for p in $qpid $tpid $apid; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -z "$share" ]; then
	share=$tmp/share
	mkdir "$share"
	[ $quiet -eq 1 ] || say "share directory $share"
fi
share=$(cd "$share" && pwd -P) || die "no share directory $share"

nonce=AGVM$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
ctl=$tmp/ctl
mkdir "$ctl"
{
	printf 'AG_VM_KVER=%q\n' "$kver"
	printf 'AG_VM_TOP=%q\n' "$TOP"
	printf 'AG_VM_SHARE=%q\n' "$share"
	printf 'AG_VM_MAC=%q\n' "$([ -n "$tap" ] && echo "$mac")"
} >"$ctl/config"
while IFS= read -r -d '' v; do
	name=${v%%=*}
	[[ "$name" =~ ^(AG_|AMPGUARD_)[A-Za-z0-9_]*$|^CI$ ]] || continue
	[[ "$name" == AG_VM_* || "$name" == AG_VM ]] && continue
	printf 'export %s=%q\n' "$name" "${v#*=}"
done </proc/self/environ >"$ctl/env"
printf 'exec' >"$ctl/cmd"
printf ' %q' "$@" >>"$ctl/cmd"
echo >>"$ctl/cmd"

fs=()
n=0
# export TAG PATH [ro]: one virtio-9p export.
export9p()
{
	local ro=

	[ "${3:-}" = ro ] && ro=,readonly=on
	n=$((n + 1))
	fs+=(-fsdev "local,id=fs$n,path=$2,security_model=passthrough,multidevs=remap$ro"
		-device "virtio-9p-pci,fsdev=fs$n,mount_tag=$1")
}
export9p agroot / ro
export9p agctl "$ctl"
export9p agmods "$kroot/lib/modules/$kver" ro
export9p agsrc "$TOP"
export9p agshare "$share"

net=()
if [ -n "$tap" ]; then
	# Two queue pairs per CPU: native XDP wants one per CPU beyond the stack's.
	q=$((2 * smp))
	net=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off,queues=$q"
		-device "virtio-net-pci,netdev=n0,mac=$mac,mq=on,vectors=$((2 * q + 2)),romfile=")
fi

launcher=(timeout -k 5 "$timeout")
[ -z "$netns" ] || launcher+=(nsenter "--net=/run/netns/$netns" --)

mkfifo "$tmp/out"
t0=$(date +%s.%N)
"${launcher[@]}" qemu-system-x86_64 -machine q35 -nodefaults -no-user-config -display none \
	"${accel_args[@]}" -smp "$smp" -m "$mem" -no-reboot \
	-kernel "$kimage" -initrd "$img" \
	-append "console=ttyS0 loglevel=4 panic=-1 mitigations=off tsc=reliable ag.nonce=$nonce ag.debug=${AG_VM_DEBUG:-0}" \
	-chardev "file,id=klog,path=$tmp/kernel.log" -serial chardev:klog \
	-chardev stdio,id=out,signal=off -serial chardev:out \
	-device virtio-rng-pci "${fs[@]}" "${net[@]}" \
	</dev/null >"$tmp/out" 2>"$tmp/qemu.err" &
qpid=$!

if [ -n "$tap" ]; then
	(
		for _ in $(seq 300); do
			ip -n "$netns" link set dev "$tap" up 2>/dev/null && exit 0
			sleep 0.1
		done
		say "tap $tap did not appear in $netns"
	) &
	tpid=$!
fi

gawk -v start="$nonce-start" -v end="$nonce-rc=" -v rcfile="$tmp/rc" -v t0="$t0" \
	-v quiet="$quiet" -v kver="$kver" -v smp="$smp" '
	function flush_blanks() {
		for (; blanks > 0; blanks--)
			print ""
	}
	$0 == start {
		"date +%s.%N" | getline now
		close("date +%s.%N")
		if (!quiet)
			printf "vm: %s booted in %.1f s (%s CPUs)\n", kver, now - t0, smp > "/dev/stderr"
		next
	}
	(i = index($0, end)) > 0 {
		if (i > 1) {
			flush_blanks()
			print substr($0, 1, i - 1)
		} else if (blanks > 0) {
			blanks--
			flush_blanks()
		}
		print substr($0, i + length(end)) > rcfile
		close(rcfile)
		fflush()
		exit
	}
	$0 == "" {
		blanks++
		next
	}
	{
		flush_blanks()
		print
		fflush()
	}' <"$tmp/out" &
apid=$!
wait "$apid" || true
apid=

if [ -s "$tmp/rc" ]; then
	# The guest powers itself off; allow it a moment before killing.
	for _ in $(seq 100); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	rc=$(cat "$tmp/rc")
	[[ "$rc" =~ ^[0-9]+$ ]] || die "the guest reported a garbled exit status '$rc'"
	exit "$rc"
fi
qrc=0
wait "$qpid" || qrc=$?
qpid=
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
	say "timeout: $kver still running after $timeout s, qemu killed"
	exit 124
fi
say "the guest ($kver) stopped without reporting an exit status (qemu exit $qrc)"
[ -s "$tmp/qemu.err" ] && sed 's/^/vm: qemu: /' "$tmp/qemu.err" >&2
tail -n 20 "$tmp/kernel.log" 2>/dev/null | sed 's/^/vm: kernel: /' >&2
exit 125
