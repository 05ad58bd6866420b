"""Smoke test of the benchmark harness (tests/bench/): it runs end to end on a
tiny size and its figures are sane. No timing assertion: performance is measured
by the benchmarks themselves, reported in the README."""
import json
import os
import subprocess
import tempfile
import unittest

from gxharness import main

SRC = os.environ.get("GX_SOURCE_DIR", ".")


class BenchSmoke(unittest.TestCase):
    def test_group_commit_benchmark_runs(self):
        out = os.path.join(tempfile.mkdtemp(), "gc.json")
        r = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/bench/group_commit.py"), "--seconds", "0.5",
                            "--clients", "2", "--json", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        print(r.stdout.decode())
        rows = json.load(open(out))["rows"]
        self.assertEqual([row["clients"] for row in rows], [2])
        for row in rows:
            self.assertGreater(row["batch_max_1"], 0)  # some posts were acknowledged at all
            self.assertGreater(row["group_commit"], 0)
            self.assertLess(row["group_commit"], 10_000_000)  # and no impossible figure


if __name__ == "__main__":
    main()
