#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A one-connection TCP echo, to show TCP crosses a protected interface.

  tcpecho.py serve ADDR PORT READYFILE   echo one connection, then exit;
                                         writes "ready" to READYFILE once
                                         listening
  tcpecho.py ping ADDR PORT              connect, send a line, expect it
                                         back; prints "echoed"

Both give up after 20 seconds and exit 1 with one line on stderr.
"""
import os
import socket
import sys

TIMEOUT = 20
MESSAGE = b"ampguard e2e\n"


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addr, port, ready):
    with socket.socket(family(addr), socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(TIMEOUT)
        s.bind((addr, port))
        s.listen(1)
        with open(ready + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(ready + ".tmp", ready)
        conn, _ = s.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(data)


def ping(addr, port):
    with socket.create_connection((addr, port), timeout=TIMEOUT) as s:
        s.sendall(MESSAGE)
        data = b""
        while len(data) < len(MESSAGE):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if data != MESSAGE:
        raise OSError(f"got {data!r} back instead of {MESSAGE!r}")
    print("echoed")


def main():
    args = sys.argv[1:]
    try:
        if len(args) == 4 and args[0] == "serve":
            serve(args[1], int(args[2]), args[3])
        elif len(args) == 3 and args[0] == "ping":
            ping(args[1], int(args[2]))
        else:
            print("usage: tcpecho.py serve ADDR PORT READYFILE | ping ADDR PORT",
                  file=sys.stderr)
            return 2
    except (OSError, ValueError) as e:
        print(f"tcpecho.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
