#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Small queries on the JSON of ampguard and bpftool for tests/e2e/test_faults.sh.

Reads one JSON document on stdin and prints one line:

  faultjson.py state IFACE          'status --json': IFACE's state, or "none"
  faultjson.py action VECTOR        'status --json': the vector's action, or "none"
  faultjson.py lists                'status --json': "ALLOW DENY"
  faultjson.py tables               'status --json': "TRACK_ENTRIES TRACK_CAPACITY
                                    SOURCE_ENTRIES SOURCE_CAPACITY"
  faultjson.py dropped IFACE VECTOR 'stats --json': packets dropped for VECTOR on IFACE
  faultjson.py len                  a JSON array: its length
  faultjson.py memlock              'bpftool -j map show': "BYTES_MEMLOCK MAX_ENTRIES"
  faultjson.py lines                one JSON document per line: how many parse

Prints "error" and exits 1 when the input is not what was asked for.
"""
import json
import sys


def counters(doc, iface):
    for ifc in doc["interfaces"]:
        if ifc["interface"] == iface:
            yield from ifc["counters"]


def main(argv):
    what = argv[1]
    if what == "lines":
        n = 0
        for line in sys.stdin:
            if line.strip():
                json.loads(line)
                n += 1
        return str(n)
    doc = json.load(sys.stdin)
    if what == "state":
        states = [i["state"] for i in doc["interfaces"] if i["interface"] == argv[2]]
        return states[0] if states else "none"
    if what == "action":
        acts = [v["action"] for v in doc["vectors"] if v["name"] == argv[2]]
        return acts[0] if acts else "none"
    if what == "lists":
        return "%d %d" % (doc["lists"]["allow"], doc["lists"]["deny"])
    if what == "tables":
        t, s = doc["tracking"], doc["sources"]
        return "%d %d %d %d" % (t["entries"], t["capacity"], s["entries"], s["capacity"])
    if what == "dropped":
        return str(sum(c["packets"] for c in counters(doc, argv[2])
                       if c["vector"] == argv[3] and c["verdict"] == "drop"))
    if what == "len":
        return str(len(doc))
    if what == "memlock":
        return "%d %d" % (doc["bytes_memlock"], doc["max_entries"])
    raise ValueError(what)


if __name__ == "__main__":
    try:
        print(main(sys.argv))
    except (ValueError, KeyError, IndexError, TypeError):
        print("error")
        sys.exit(1)
