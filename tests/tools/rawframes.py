#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hand-built Ethernet frames for the end-to-end tests, written straight to
an interface through a packet socket, so nothing in the sender's stack
fragments, reassembles, answers or filters them.

  rawframes.py frags [-6] COMMON --sport PORT --dport PORT --size BYTES
               --datagrams N --id ID [--which later|first|all] [--mtu BYTES]
      splits N UDP datagrams of BYTES payload, IP IDs ID, ID+1, ..., into
      fragments for MTU (default 1500) and sends those selected by --which
      (default later: every fragment but the first, i.e. orphans)
  rawframes.py syn [-6] COMMON --sport PORT --dport PORT --count N
      sends N TCP SYNs (sequence numbers differ)

  COMMON: --dev IFACE --src-mac MAC --dst-mac MAC --src ADDR --dst ADDR
          [--rate PPS]

--rate paces the frames (default: as fast as the socket takes them).
SIGTERM stops the sending after the frame in flight, as if the frames had
run out (one before the first frame: none is sent). Prints, once done,
"sent N start_ns T0 end_ns T1 wall_start_us W stalled_ns S": N frames,
CLOCK_MONOTONIC just before the first and just after the last, the wall
clock (CLOCK_REALTIME, microseconds, as bash's EPOCHREALTIME) just before
the first, and the time the sender offered nothing: each wait between two
frames beyond the pace interval, summed over the waits that exceeded it by
10 ms (a process the machine stalled). Errors exit 1 with one line on
stderr.
"""
import argparse
import signal
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
IPPROTO_FRAGMENT = 44
MAX_FRAMES = 100000
STALL_MIN_NS = 10_000_000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise ValueError(f"'{s}' is not a MAC address")
    return b


def pseudo_header(fam, src, dst, proto, length):
    if fam == socket.AF_INET:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def udp_datagram(fam, src, dst, sport, dport, size):
    payload = bytes(i % 251 for i in range(size))
    length = 8 + size
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = csum(pseudo_header(fam, src, dst, socket.IPPROTO_UDP, length) + hdr + payload)
    return struct.pack("!HHHH", sport, dport, length, c or 0xFFFF) + payload


def ipv4_header(src, dst, proto, ident, frag_field, payload_len):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xFFFF,
                      frag_field, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]


def ipv6_header(src, dst, nexthdr, payload_len):
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, nexthdr, 64, src, dst)


def fragments(args, fam, src, dst, ident, data):
    """The IP packets (no Ethernet header) of UDP datagram data, in order."""
    hdr_len = 20 if fam == socket.AF_INET else 40 + 8
    chunk = (args.mtu - hdr_len) // 8 * 8
    out = []
    for off in range(0, len(data), chunk):
        piece = data[off:off + chunk]
        more = off + chunk < len(data)
        if fam == socket.AF_INET:
            field = (off // 8) | (0x2000 if more else 0)
            out.append(ipv4_header(src, dst, socket.IPPROTO_UDP, ident, field, len(piece))
                       + piece)
        else:
            fh = struct.pack("!BxHI", socket.IPPROTO_UDP, off | (1 if more else 0),
                             ident & 0xFFFFFFFF)
            out.append(ipv6_header(src, dst, IPPROTO_FRAGMENT, 8 + len(piece)) + fh + piece)
    if len(out) < 2:
        raise ValueError("the datagram fits the MTU: it would not be fragmented")
    return out


def syn(args, fam, src, dst, seq):
    tcp = struct.pack("!HHIIBBHHH", args.sport, args.dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(pseudo_header(fam, src, dst, socket.IPPROTO_TCP, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    if fam == socket.AF_INET:
        return ipv4_header(src, dst, socket.IPPROTO_TCP, seq, 0x4000, len(tcp)) + tcp
    return ipv6_header(src, dst, socket.IPPROTO_TCP, len(tcp)) + tcp


def build(args):
    fam = socket.AF_INET6 if args.v6 else socket.AF_INET
    src = socket.inet_pton(fam, args.src)
    dst = socket.inet_pton(fam, args.dst)
    eth = mac(args.dst_mac) + mac(args.src_mac) + struct.pack(
        "!H", ETH_P_IPV6 if args.v6 else ETH_P_IP)
    packets = []
    if args.cmd == "frags":
        # Only the IP ID differs from one datagram to the next.
        data = udp_datagram(fam, src, dst, args.sport, args.dport, args.size)
        for i in range(args.datagrams):
            frags = fragments(args, fam, src, dst, args.id + i, data)
            if args.which == "later":
                frags = frags[1:]
            elif args.which == "first":
                frags = frags[:1]
            packets += frags
    else:
        packets = [syn(args, fam, src, dst, 1000 + i) for i in range(args.count)]
    if len(packets) > MAX_FRAMES:
        raise ValueError(f"{len(packets)} frames: at most {MAX_FRAMES}")
    return [eth + p for p in packets]


# Set by SIGTERM, whenever it comes: before the first frame, nothing is sent.
STOP = []


def send_all(dev, frames, rate):
    sent = stalled = 0
    interval = 1_000_000_000 // rate if rate else 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        wall0 = time.time_ns() // 1000
        t0 = prev = time.monotonic_ns()
        for i, f in enumerate(frames):
            if STOP:
                break
            if rate:
                due = t0 + i * 1_000_000_000 // rate
                delay = due - time.monotonic_ns()
                if delay > 0:
                    time.sleep(delay / 1e9)
            now = time.monotonic_ns()
            if i and now - prev >= interval + STALL_MIN_NS:
                stalled += now - prev - interval
            prev = now
            for _ in range(1000):
                try:
                    s.send(f)
                    break
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.001)
                except OSError as e:
                    if e.errno != 105:  # ENOBUFS: the queue is full, wait
                        raise
                    time.sleep(0.001)
            else:
                raise OSError(f"frame {i} could not be sent")
            sent += 1
        t1 = time.monotonic_ns()
    print(f"sent {sent} start_ns {t0} end_ns {t1} wall_start_us {wall0} stalled_ns {stalled}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(True))
    ap = argparse.ArgumentParser(description="hand-built frames for the end-to-end tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("frags")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--datagrams", type=int, required=True)
    p.add_argument("--id", type=int, required=True)
    p.add_argument("--which", choices=("later", "first", "all"), default="later")
    p.add_argument("--mtu", type=int, default=1500)
    p = sub.add_parser("syn")
    p.add_argument("--count", type=int, required=True)
    for p in sub.choices.values():
        p.add_argument("-6", dest="v6", action="store_true")
        p.add_argument("--dev", required=True)
        p.add_argument("--src-mac", required=True)
        p.add_argument("--dst-mac", required=True)
        p.add_argument("--src", required=True)
        p.add_argument("--dst", required=True)
        p.add_argument("--sport", type=int, required=True)
        p.add_argument("--dport", type=int, required=True)
        p.add_argument("--rate", type=int, default=0)
    args = ap.parse_args()
    for name, lo, hi in (("size", 0, 65000), ("datagrams", 0, MAX_FRAMES),
                         ("count", 0, MAX_FRAMES), ("mtu", 1280, 9000),
                         ("rate", 0, 1000000), ("sport", 0, 65535), ("dport", 0, 65535),
                         ("id", 0, 0xFFFFFFFF)):
        v = getattr(args, name, None)
        if v is not None and not lo <= v <= hi:
            ap.error(f"--{name} takes {lo} to {hi}, not {v}")
    try:
        send_all(args.dev, build(args), args.rate)
    except (OSError, ValueError) as e:
        print(f"rawframes.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
