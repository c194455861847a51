#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A DNS client with a fixed source port, for the end-to-end tests.

  udpask.py [-6] --src ADDR --port PORT --server ADDR [--server-port PORT]
            [--name NAME] [--also PORT[,PORT...]] --listen SECONDS
            [--ready FILE]

Sends one DNS query for NAME (type A, AAAA with -6) from ADDR:PORT to the
server, then listens on PORT and on every --also port (any local address)
for SECONDS and counts what arrives. --ready FILE is written once the query
is out; it holds the wall-clock time the query was sent, in milliseconds
since the epoch. At the end it prints one line per kind of datagram received,

  DSTADDR DSTPORT SRCADDR SRCPORT COUNT FIRST_MS LAST_MS

(FIRST_MS and LAST_MS: arrival of the first and last one, in milliseconds
after the query), sorted, then "answers N" (datagrams that are DNS answers
to the query) and "total N".
"""
import argparse
import os
import random
import select
import socket
import struct
import sys
import time

IP_PKTINFO = 8  # linux/in.h; the socket module does not export it


def dns_query(qid, name, qtype):
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return header + qname + b"\0" + struct.pack("!HH", qtype, 1)


def is_answer(data, qid):
    if len(data) < 12:
        return False
    rid, flags, _, ancount = struct.unpack("!HHHH", data[:8])
    return rid == qid and flags & 0x8000 and ancount > 0


def open_socket(family, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.bind(("::", port))
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind(("0.0.0.0", port))
    s.setblocking(False)
    return s


def local_addr(family, ancdata):
    """The destination address of a datagram, from its packet info."""
    for level, kind, data in ancdata:
        if family == socket.AF_INET and level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            return socket.inet_ntop(socket.AF_INET, data[8:12])
        if (family == socket.AF_INET6 and level == socket.IPPROTO_IPV6
                and kind == socket.IPV6_PKTINFO):
            return socket.inet_ntop(socket.AF_INET6, data[:16])
    return "?"


def send_query(sock, family, src, server, msg):
    if family == socket.AF_INET6:
        info = struct.pack("=16sI", socket.inet_pton(family, src), 0)
        anc = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info)]
    else:
        info = struct.pack("=I4s4s", 0, socket.inet_pton(family, src), bytes(4))
        anc = [(socket.IPPROTO_IP, IP_PKTINFO, info)]
    sock.sendmsg([msg], anc, 0, server)


def write_ready(path, when):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{int(when * 1000)}\n")
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="DNS query from a fixed port")
    ap.add_argument("-6", dest="v6", action="store_true")
    ap.add_argument("--src", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--server-port", type=int, default=53)
    ap.add_argument("--name", default="example.test")
    ap.add_argument("--also", default="")
    ap.add_argument("--listen", type=float, required=True)
    ap.add_argument("--ready")
    args = ap.parse_args()
    if not 0 < args.listen <= 60:
        ap.error("--listen takes seconds, more than 0, at most 60")

    family = socket.AF_INET6 if args.v6 else socket.AF_INET
    ports = [args.port] + [int(p) for p in args.also.split(",") if p]
    socks = [open_socket(family, p) for p in ports]
    qid = random.randrange(1, 65536)
    msg = dns_query(qid, args.name, 28 if args.v6 else 1)

    sent = time.time()
    t0 = time.monotonic()
    send_query(socks[0], family, args.src, (args.server, args.server_port), msg)
    if args.ready:
        write_ready(args.ready, sent)

    seen = {}
    answers = 0
    deadline = t0 + args.listen
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select(socks, [], [], left)
        for s in readable:
            while True:
                try:
                    data, anc, _, peer = s.recvmsg(65536, 256)
                except BlockingIOError:
                    break
                ms = (time.monotonic() - t0) * 1000
                key = (local_addr(family, anc), s.getsockname()[1], peer[0], peer[1])
                count, first, _ = seen.get(key, (0, ms, ms))
                seen[key] = (count + 1, first, ms)
                if s is socks[0] and peer[1] == args.server_port and is_answer(data, qid):
                    answers += 1
    total = 0
    for key in sorted(seen):
        count, first, last = seen[key]
        total += count
        print(*key, count, f"{first:.0f}", f"{last:.0f}")
    print("answers", answers)
    print("total", total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
