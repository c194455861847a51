#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turns JSON from ampguard and iproute2 into lines the shell tests can grep.

Reads the JSON document on stdin:

  agjson.py counters     'ampguard stats --json'
                         -> IFACE VECTOR PORT REASON VERDICT PACKETS BYTES
  agjson.py vectors      'ampguard status --json' -> NAME PORT ACTION BUILTIN
  agjson.py interfaces   'ampguard status --json' -> IFACE STATE MODE PROG_ID
  agjson.py check-stats  'ampguard stats --json' -> "ok", or the first schema
                         problem found
  agjson.py xdp          'ip -j link show dev IFACE' -> MODE ID NAME, or "none"

Exits 1 with one line on stderr when the input is not JSON.
"""
import json
import sys

XDP_MODES = {1: "drv", 2: "skb", 3: "hw"}
COUNTER_FIELDS = {
    "vector": str,
    "port": int,
    "reason": str,
    "verdict": str,
    "packets": int,
    "bytes": int,
}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def counters(doc):
    for ifc in doc["interfaces"]:
        for c in ifc["counters"]:
            print(ifc["interface"], c["vector"], c["port"], c["reason"],
                  c["verdict"], c["packets"], c["bytes"])


def vectors(doc):
    for v in doc["vectors"]:
        print(v["name"], v["port"], v["action"], str(v["builtin"]).lower())


def interfaces(doc):
    for i in doc["interfaces"]:
        print(i["interface"], i["state"], i["mode"], i["prog_id"])


def counter_problem(where, c):
    if not isinstance(c, dict):
        return f"{where} is not an object"
    for name, kind in COUNTER_FIELDS.items():
        if name not in c:
            return f"{where} has no \"{name}\""
        ok = is_int(c[name]) if kind is int else isinstance(c[name], kind)
        if not ok:
            return f"{where}.{name} is not a {kind.__name__}"
    if c["verdict"] not in ("pass", "drop"):
        return f"{where}.verdict is '{c['verdict']}', not pass or drop"
    if c["packets"] <= 0 or c["bytes"] < c["packets"]:
        return f"{where} counts {c['packets']} packets in {c['bytes']} bytes"
    return None


def totals_problem(where, ifc):
    """The per-interface totals, when present, must add up the counters."""
    for key, verdict in (("passed_packets", "pass"),
                         ("dropped_packets", "drop")):
        if key not in ifc:
            continue
        want = sum(c["packets"] for c in ifc["counters"]
                   if c["verdict"] == verdict)
        if ifc[key] != want:
            return f"{where}.{key} is {ifc[key]}, counters add up to {want}"
    return None


def iface_problem(where, ifc):
    if not isinstance(ifc, dict):
        return f"{where} is not an object"
    if not isinstance(ifc.get("interface"), str):
        return f"{where} has no \"interface\" string"
    if not isinstance(ifc.get("counters"), list):
        return f"{where} has no \"counters\" list"
    for j, c in enumerate(ifc["counters"]):
        problem = counter_problem(f"{where}.counters[{j}]", c)
        if problem:
            return problem
    return totals_problem(where, ifc)


def stats_problem(doc):
    if not isinstance(doc, dict):
        return "the document is not an object"
    if doc.get("version") != 1 or not is_int(doc.get("version")):
        return f"\"version\" is {doc.get('version')!r}, not 1"
    if not isinstance(doc.get("interfaces"), list):
        return "no \"interfaces\" list"
    for i, ifc in enumerate(doc["interfaces"]):
        problem = iface_problem(f"interfaces[{i}]", ifc)
        if problem:
            return problem
    return None


def check_stats(doc):
    print(stats_problem(doc) or "ok")


def xdp(doc):
    for link in doc:
        prog = link.get("xdp", {}).get("prog")
        if prog:
            mode = XDP_MODES.get(link["xdp"].get("mode"), "other")
            print(mode, prog["id"], prog.get("name", "?"))
            return
    print("none")


COMMANDS = {
    "counters": counters,
    "vectors": vectors,
    "interfaces": interfaces,
    "check-stats": check_stats,
    "xdp": xdp,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print("usage: agjson.py " + "|".join(COMMANDS), file=sys.stderr)
        return 2
    try:
        doc = json.load(sys.stdin)
    except ValueError as e:
        print(f"agjson.py: not JSON: {e}", file=sys.stderr)
        return 1
    try:
        COMMANDS[sys.argv[1]](doc)
    except (KeyError, TypeError) as e:
        print(f"agjson.py: unexpected layout: {e!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
