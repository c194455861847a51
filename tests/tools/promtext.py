#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Reads Prometheus text exposition and Prometheus HTTP API answers for the
exporter's end-to-end test.

  promtext.py value FILE METRIC [LABEL=VALUE...]
        the sum of METRIC's samples in FILE whose labels match; "none"
        when no sample matches
  promtext.py each-value METRIC FILE...
        one line per FILE: the sum of METRIC's samples in it, or "none"
  promtext.py count-labels FILE METRIC LABEL [LABEL=VALUE...]
        how many distinct values LABEL takes in METRIC's matching samples
  promtext.py monotonic FILE...
        FILEs are scrapes in order. Between two consecutive scrapes that
        both list an interface in ampguard_interface_info, none of that
        interface's *_total series may shrink or vanish. Prints
        "ok SCRAPES COMPARISONS", or the first problems and exits 1.
  promtext.py api-value
        a /api/v1/query answer on stdin: the value of its only sample (a
        vector of one element or a scalar), "none" when the vector is
        empty; exits 1 when the query failed or returned several samples
  promtext.py get URL OUT
        fetches URL into OUT without any proxy; prints "CODE SECONDS"
        (code 000 when no answer came), as curl -w '%{http_code}
        %{time_total}' does

Exits 1 with one line on stderr on unreadable input.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def die(msg):
    print(f"promtext.py: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_labels(text, where):
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            die(f"{where}: cannot parse labels '{text}'")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def samples(path):
    """Yields (name, labels, value) for every sample line of a file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        die(f"{path}: {e.strerror}")
    for n, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            die(f"{path}:{n}: not a sample line: '{line}'")
        labels = parse_labels(m.group(3) or "", f"{path}:{n}")
        yield m.group(1), labels, float(m.group(4))


def want(pairs):
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep:
            die(f"'{p}' is not LABEL=VALUE")
        out[k] = v
    return out


def matches(labels, sel):
    return all(labels.get(k) == v for k, v in sel.items())


def fmt(v):
    return str(int(v)) if v == int(v) else repr(v)


def metric_sum(path, metric, sel):
    """The sum of METRIC's samples in PATH that match SEL, as printed; "none" if none."""
    found = [v for n, lab, v in samples(path) if n == metric and matches(lab, sel)]
    return fmt(sum(found)) if found else "none"


def cmd_value(args):
    if len(args) < 2:
        die("usage: value FILE METRIC [LABEL=VALUE...]")
    print(metric_sum(args[0], args[1], want(args[2:])))


def cmd_each_value(args):
    if len(args) < 2:
        die("usage: each-value METRIC FILE...")
    for path in args[1:]:
        print(metric_sum(path, args[0], {}))


def cmd_count_labels(args):
    if len(args) < 3:
        die("usage: count-labels FILE METRIC LABEL [LABEL=VALUE...]")
    sel = want(args[3:])
    seen = {lab.get(args[2]) for n, lab, v in samples(args[0])
            if n == args[1] and matches(lab, sel)}
    seen.discard(None)
    print(len(seen))


def scrape(path):
    ifaces = set()
    series = {}
    for name, lab, v in samples(path):
        if name == "ampguard_interface_info":
            ifaces.add(lab.get("interface"))
        elif name.endswith("_total"):
            key = name + "{" + ",".join(f'{k}="{lab[k]}"' for k in sorted(lab)) + "}"
            series[key] = (lab.get("interface"), v)
    return ifaces, series


def cmd_monotonic(paths):
    problems = []
    compared = 0
    prev = None
    for path in paths:
        cur = scrape(path)
        if prev is not None:
            both = prev[1][0] & cur[0]
            for key, (ifc, old) in prev[1][1].items():
                if ifc not in both:
                    continue
                compared += 1
                if key not in cur[1]:
                    problems.append(f"{key} vanished between {prev[0]} and {path}")
                elif cur[1][key][1] < old:
                    problems.append(f"{key} went from {fmt(old)} in {prev[0]} "
                                    f"to {fmt(cur[1][key][1])} in {path}")
        prev = (path, cur)
    if problems:
        for p in problems[:5]:
            print(p)
        if len(problems) > 5:
            print(f"... and {len(problems) - 5} more")
        sys.exit(1)
    print(f"ok {len(paths)} {compared}")


def cmd_api_value(args):
    try:
        doc = json.load(sys.stdin)
    except ValueError as e:
        die(f"the answer is not JSON: {e}")
    if doc.get("status") != "success":
        die(f"query failed: {doc.get('errorType')}: {doc.get('error')}")
    data = doc["data"]
    if data["resultType"] == "scalar":
        print(data["result"][1])
        return
    res = data["result"]
    if not res:
        print("none")
        return
    if len(res) != 1:
        die(f"{len(res)} samples, wanted one: {res}")
    if "value" not in res[0]:
        die(f"not an instant vector: {res[0]}")
    print(res[0]["value"][1])


def cmd_get(args):
    if len(args) != 2:
        die("usage: get URL OUT")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start = time.monotonic()
    code = "000"
    body = b""
    try:
        with opener.open(args[0], timeout=10) as r:
            body = r.read()
            code = f"{r.status:03d}"
    except urllib.error.HTTPError as e:
        body = e.read()
        code = f"{e.code:03d}"
    except (urllib.error.URLError, OSError):
        pass
    elapsed = time.monotonic() - start
    with open(args[1], "wb") as f:
        f.write(body)
    print(f"{code} {elapsed:.6f}")


COMMANDS = {
    "value": cmd_value,
    "count-labels": cmd_count_labels,
    "monotonic": cmd_monotonic,
    "each-value": cmd_each_value,
    "api-value": cmd_api_value,
    "get": cmd_get,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: promtext.py " + "|".join(COMMANDS) + " ...")
    COMMANDS[sys.argv[1]](sys.argv[2:])
