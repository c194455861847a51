#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Sends orphan IPv4 fragments: later fragments (offset > 0, no more
fragments) of UDP datagrams whose first fragment is never sent, straight to
an interface through a packet socket, paced.

  orphanfrags.py --dev IFACE --dst-mac MAC --src ADDR --dst ADDR
                 --count N --rate PPS [--id FIRST_ID] [--payload BYTES]

Each frame carries the next IP ID (from FIRST_ID, wrapping at 65536), so no
two frames of a run belong to one datagram unless the run sends more than
65536 of them. A run stops after 60 s whatever COUNT says. Prints "sent N";
errors exit 1 with one line on stderr.
"""
import argparse
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
MAX_SECONDS = 60
SRC_MAC = bytes.fromhex("020000000a01")
# 1480 bytes into the datagram: where a second fragment starts on a 1500 MTU.
OFFSET_UNITS = 185


def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(args, ip_id, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ip_id,
                      OFFSET_UNITS, 64, socket.IPPROTO_UDP, 0,
                      socket.inet_aton(args.src), socket.inet_aton(args.dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    dst_mac = bytes.fromhex(args.dst_mac.replace(":", ""))
    if len(dst_mac) != 6:
        raise ValueError(f"'{args.dst_mac}' is not a MAC address")
    return dst_mac + SRC_MAC + struct.pack("!H", ETH_P_IP) + hdr + payload


def main():
    ap = argparse.ArgumentParser(description="orphan IPv4 fragments")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--id", type=int, default=1)
    ap.add_argument("--payload", type=int, default=16)
    args = ap.parse_args()
    if args.count < 0 or args.rate <= 0 or not 8 <= args.payload <= 1400 or args.payload % 8:
        print("orphanfrags.py: --count >= 0, --rate > 0 and --payload a multiple of 8 "
              "from 8 to 1400", file=sys.stderr)
        return 1
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((args.dev, 0))
        payload = bytes(args.payload)
        frames = [frame(args, (args.id + i) % 65536, payload)
                  for i in range(min(args.count, 65536))]
    except (OSError, ValueError) as e:
        print(f"orphanfrags.py: {e}", file=sys.stderr)
        return 1
    start = time.monotonic()
    sent = 0
    while sent < args.count:
        now = time.monotonic()
        if now - start > MAX_SECONDS:
            break
        due = start + sent / args.rate
        if due > now:
            time.sleep(due - now)
        try:
            sock.send(frames[sent % len(frames)])
        except OSError as e:
            print(f"orphanfrags.py: sending on {args.dev}: {e}", file=sys.stderr)
            return 1
        sent += 1
    print(f"sent {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
