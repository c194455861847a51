#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Ordinary sockets for the end-to-end tests: large UDP datagrams that the
kernel fragments on its own, a request/reply pair from fixed ports, and a
TCP connection attempt from a chosen source address.

  sockpeer.py send [-6] --src ADDR --sport PORT --dst ADDR --dport PORT
                   --size BYTES --count N [--gap SECONDS]
      sends N datagrams of BYTES payload from ADDR:PORT; prints "sent N"
  sockpeer.py serve [-6] --bind ADDR --port PORT --size BYTES --replies N
                    --timeout SECONDS [--ready FILE]
      waits for one request on ADDR:PORT and answers it with N datagrams of
      BYTES payload; prints "answered ADDR PORT N"
  sockpeer.py ask [-6] --bind ADDR --port PORT --server ADDR
                  --server-port PORT --timeout SECONDS [--expect N]
      sends one small request from ADDR:PORT, then collects what comes back
      for SECONDS (or until N datagrams came, plus a short linger); prints
      "got LENGTH intact|corrupt" per datagram, then "total N"
  sockpeer.py connect [-6] --src ADDR --dst ADDR --dport PORT
                      --timeout SECONDS
      one TCP connection attempt from ADDR; prints "connected" or
      "failed: REASON" and exits 0 either way

Payloads follow a fixed byte pattern, so a receiver can tell a datagram
that was put back together whole from one that was not. Any setup error
exits 1 with one line on stderr.
"""
import argparse
import os
import select
import socket
import sys
import time

LINGER = 0.3
# linux/in.h and linux/in6.h; the socket module does not export them
IP_MTU_DISCOVER = 10
IPV6_MTU_DISCOVER = 23
PMTUDISC_DONT = 0
REQUEST = b"ampguard e2e request\n"


def pattern(size):
    return bytes(i % 251 for i in range(size))


def family_of(args):
    return socket.AF_INET6 if args.v6 else socket.AF_INET


def udp_socket(args, addr, port):
    fam = family_of(args)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if fam == socket.AF_INET:
        # fragment locally whatever the path MTU cache says
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_DONT)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_DONT)
    s.bind((addr, port))
    return s


def write_ready(path):
    with open(path + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(path + ".tmp", path)


def cmd_send(args):
    payload = pattern(args.size)
    with udp_socket(args, args.src, args.sport) as s:
        for i in range(args.count):
            if i and args.gap:
                time.sleep(args.gap)
            s.sendto(payload, (args.dst, args.dport))
    print(f"sent {args.count}")
    return 0


def cmd_serve(args):
    payload = pattern(args.size)
    with udp_socket(args, args.bind, args.port) as s:
        if args.ready:
            write_ready(args.ready)
        readable, _, _ = select.select([s], [], [], args.timeout)
        if not readable:
            print("sockpeer.py: no request came", file=sys.stderr)
            return 1
        _, peer = s.recvfrom(65536)
        for i in range(args.replies):
            if i:
                time.sleep(0.01)
            s.sendto(payload, peer[:2])
    print(f"answered {peer[0]} {peer[1]} {args.replies}")
    return 0


def cmd_ask(args):
    got = []
    with udp_socket(args, args.bind, args.port) as s:
        s.setblocking(False)
        s.sendto(REQUEST, (args.server, args.server_port))
        deadline = time.monotonic() + args.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([s], [], [], left)
            if not readable:
                continue
            while True:
                try:
                    data, peer = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if peer[1] != args.server_port:
                    continue
                got.append(data)
                if args.expect and len(got) == args.expect:
                    deadline = min(deadline, time.monotonic() + LINGER)
    for data in got:
        state = "intact" if data == pattern(len(data)) else "corrupt"
        print(f"got {len(data)} {state}")
    print(f"total {len(got)}")
    return 0


def cmd_connect(args):
    fam = family_of(args)
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(args.timeout)
        s.bind((args.src, 0))
        try:
            s.connect((args.dst, args.dport))
        except OSError as e:
            reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
            print(f"failed: {reason}")
            return 0
    print("connected")
    return 0


def main():
    ap = argparse.ArgumentParser(description="sockets for the end-to-end tests")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("send")
    p.add_argument("--src", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--gap", type=float, default=0.01)

    p = sub.add_parser("serve")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--replies", type=int, default=1)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--ready")

    p = sub.add_parser("ask")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--server-port", type=int, required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--expect", type=int, default=0)

    p = sub.add_parser("connect")
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--timeout", type=float, required=True)

    for p in sub.choices.values():
        p.add_argument("-6", dest="v6", action="store_true")
    args = ap.parse_args()

    for name, lo, hi in (("timeout", 0.001, 60), ("size", 0, 65000), ("count", 0, 10000),
                         ("replies", 0, 100)):
        v = getattr(args, name, None)
        if v is not None and not lo <= v <= hi:
            ap.error(f"--{name} takes {lo} to {hi}, not {v}")

    cmds = {"send": cmd_send, "serve": cmd_serve, "ask": cmd_ask, "connect": cmd_connect}
    try:
        return cmds[args.cmd](args)
    except OSError as e:
        print(f"sockpeer.py {args.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
