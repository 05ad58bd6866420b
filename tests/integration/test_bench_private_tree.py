"""pg_bench, the PostgreSQL side of tests/bench/run, from a tree the postgres user
cannot enter. Run as root, pg_bench runs initdb and the server as postgres; from a
clone under /root (mode 0700) initdb could not reach the cluster's directory under
the build tree, so integration.bench_smoke failed for a newcomer (issue 12). Here the
tree is a root-owned mode-0700 directory in the build's tmp, and pg_bench runs from
inside it: it must still run PostgreSQL, agree with src/rules.c, and clean up."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from gxharness import main

BIN = os.environ.get("GX_BIN", "build")
TMP = os.environ.get("GX_TEST_TMP", tempfile.gettempdir())


class PgBenchPrivateTree(unittest.TestCase):
    def test_pg_bench_runs_from_a_tree_postgres_cannot_enter(self):
        if os.geteuid() != 0:
            self.skipTest("only as root does pg_bench run PostgreSQL as the postgres user")
        pgb = os.path.join(BIN, "tests", "bench", "pg_bench")
        self.assertTrue(os.access(pgb, os.X_OK), "%s is not built (libpq-dev missing?)" % pgb)
        os.makedirs(TMP, exist_ok=True)
        private = tempfile.mkdtemp(prefix="private.", dir=TMP)  # mode 0700, owned by root: like /root
        self.addCleanup(shutil.rmtree, private, True)
        tree = os.path.join(private, "gongxu", "build")
        os.makedirs(tree)
        # the premise: postgres cannot reach the tree (else this test proves nothing)
        r = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", tree], stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0, "the postgres user can reach %s" % tree)

        r = subprocess.run([pgb, "check", "--dir", tree, "--preload", "1000", "--firms", "100", "--samples", "20"],
                           cwd=tree, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=240)
        err = r.stderr.decode(errors="replace")
        print(err)
        self.assertEqual(r.returncode, 0, err[-3000:])
        doc = json.loads(r.stdout.decode().strip().splitlines()[-1])
        self.assertGreater(doc["checked"], 0)
        self.assertGreater(doc["pairs"], 0)  # the SQL side really matched something
        self.assertEqual(doc["mismatches"], 0)
        # it said where the cluster went, outside the tree, and removed it at the end
        self.assertIn("the postgres user cannot reach %s" % tree, err)
        m = re.search(r"data in (\S+)", err)
        self.assertIsNotNone(m, err)
        data = m.group(1)
        self.assertFalse(data.startswith(private), data)
        self.assertFalse(os.path.exists(data), "%s left behind" % data)
        self.assertEqual(os.listdir(tree), [])  # nothing written into the tree either


if __name__ == "__main__":
    main()
