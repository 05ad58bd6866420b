#!/usr/bin/env python3
"""Benchmark: what group commit buys. Durable PostOffer requests from C clients
(gxflood, WINDOW requests in flight each), against gongxud with batch_max=1 (one
fsync per request) and with the default batch_max (one fsync per batch), both
with full durability and CURVE. Prints a table and writes it as JSON.

  /usr/bin/python3 tests/bench/group_commit.py [--seconds 5] [--clients 1,8,32] [--json out.json]

Run from the repository top after a build (build/). Loopback only; bounded in time.
Not part of the test suite: the suite runs it once at --seconds 1 as a smoke
check that it runs and prints sane numbers (tests/integration/test_bench_smoke.py)."""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ.setdefault("GX_BIN", os.path.join(HERE, "..", "..", "build"))
os.environ.setdefault("GX_PY", os.path.join(os.environ["GX_BIN"], "python"))
os.environ.setdefault("GX_FLOOD", os.path.join(os.environ["GX_BIN"], "tests", "integration", "gxflood"))
from gxharness import Broker, firm, pb, uscc  # noqa: E402


def run(batch_max, clients, seconds, window):
    args = ["-o", "rate_per_firm=1000000", "-o", "rate_burst=1000000", "-o", "max_open_postings=100000000",
            "--log-level", "warning"]
    if batch_max:
        args += ["-o", "batch_max=%d" % batch_max]
    with Broker(extra_args=args) as broker:
        op = broker.client(operator=True)
        ids = []
        for i in range(clients):
            fid = uscc("91410611MA5B%05d" % i)
            op.call(register_firm=pb.RegisterFirm(firm=firm(fid, "bench %d" % i, "410611")))
            ids.append(fid)
        op.close()
        floods = [broker.flood_args(fid, seconds, "post", window) for fid in ids]
        total, wall = 0, 0.0
        for p in floods:
            out, _ = p.communicate(timeout=seconds + 60)
            f = out.decode().split()
            counts = dict(zip(f[::2], f[1::2]))
            total += int(counts["ok"])
            wall = max(wall, float(counts["seconds"]))
        return total / wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    print("durable acknowledged PostOffer/s (CURVE on, fsync per commit), %g s per cell, %d in flight per client"
          % (a.seconds, a.window))
    print("%8s %16s %16s %8s" % ("clients", "batch_max=1", "group commit", "ratio"))
    for c in [int(x) for x in a.clients.split(",")]:
        one = run(1, c, a.seconds, a.window)
        group = run(0, c, a.seconds, a.window)
        rows.append({"clients": c, "batch_max_1": round(one), "group_commit": round(group),
                     "ratio": round(group / one, 1) if one else None})
        print("%8d %16.0f %16.0f %7.1fx" % (c, one, group, group / one if one else 0), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"benchmark": "group_commit", "seconds": a.seconds, "window": a.window, "rows": rows}, f,
                      indent=2)


if __name__ == "__main__":
    main()
