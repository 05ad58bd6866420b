"""Smoke test of the benchmark harness (tests/bench/): it runs end to end on a
tiny size and its figures are sane. No timing assertion: performance is measured
by the benchmarks themselves, reported in the README."""
import json
import math
import os
import shutil
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
        with open(out) as f:
            rows = json.load(f)["rows"]
        self.assertEqual([row["clients"] for row in rows], [2])
        for row in rows:
            self.assertGreater(row["batch_max_1"], 0)  # some posts were acknowledged at all
            self.assertGreater(row["group_commit"], 0)
            self.assertLess(row["group_commit"], 10_000_000)  # and no impossible figure


    def test_comparison_benchmark_smoke(self):
        """tests/bench/run --smoke on the suite's own build: every phase runs (the
        engine, the floors, gongxud with gxload, PostgreSQL), every
        row of the table is there and its figures are positive, finite and not
        absurd. Nothing is compared with a target."""
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        out = os.path.join(tmp, "bench.json")
        r = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/bench/run"), "--smoke", "--json", out,
                            "--build-dir", os.environ.get("GX_BIN", "build")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=170)
        print(r.stdout.decode())
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-6000:])
        with open(out) as f:
            doc = json.load(f)
        for k in ("nproc", "cpu", "ram_gib", "kernel", "date"):
            self.assertTrue(doc["machine"][k], k)
        rows = {row["key"]: row for row in doc["rows"]}
        # scripts/deps.sh test installs PostgreSQL 15: its side must run too, not be skipped
        self.assertEqual(doc["errors"], [])
        us, big = 60e6, 1e7  # a minute in microseconds; ten million of anything per second or per posting

        def sane(key, col, hi):
            v = rows[key][col]
            self.assertIsNotNone(v, "%s: no %s figure" % (key, col))
            self.assertTrue(isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < hi,
                            "%s %s = %r" % (key, col, v))
            return v

        for key in ("engine_demand_p50_1000", "engine_demand_p99_1000", "engine_offer_p50", "engine_offer_p99"):
            sane(key, "gongxu", us)
        sane("engine_bytes_per_posting", "gongxu", 1e6)
        for key, hi in (("ingest_acks_per_s", big), ("ingest_ack_p50", us), ("ingest_ack_p99", us),
                        ("notice_p50", us), ("notice_p99", us)):
            sane(key, "gongxu", hi)
            sane(key, "floor", hi)
            sane(key, "ratio_floor", 1e6)
            sane(key, "postgresql", hi)
            sane(key, "ratio_pg", 1e6)
        for key in ("notice_low_p50", "notice_low_p99"):  # gongxu again, at a load it sustains
            sane(key, "gongxu", us)
        for side in ("gongxu", "postgresql"):
            self.assertLessEqual(sane("notice_share", side, 100.0001), 100)
            self.assertLessEqual(rows["notice_p50"][side], rows["notice_p99"][side])
        self.assertLessEqual(rows["ingest_ack_p50"]["gongxu"], rows["ingest_ack_p99"]["gongxu"])
        sane("restart_s", "gongxu", 120)
        sane("start_after_bulk_s", "gongxu", 120)
        sane("snapshot_bytes_per_posting", "gongxu", 1e7)  # the clean stop did save the engine's lists
        # the clean restart came back with every open posting
        g = doc["raw"]["gongxu"]
        self.assertEqual((g["open_restart"]["demands_open"], g["open_restart"]["offers_open"]),
                         (g["open_big"]["demands_open"], g["open_big"]["offers_open"]))
        # issue 15, at both sizes: a snapshot while serving under a steady load of Pings (its window
        # found in the log, Pings inside and outside it, none lost), then a burst, kill -9 and a
        # restart that loaded that snapshot and replayed exactly the burst's postings, back with
        # the same open postings and matches as before the kill
        for size in ("preload", "big"):
            c = g["crash_" + size]
            for key in ("snapshot_stall_p99_", "snapshot_stall_max_", "snapshot_outside_p99_",
                        "snapshot_outside_max_"):
                sane(key + size, "gongxu", us)
            self.assertLessEqual(rows["snapshot_stall_p99_" + size]["gongxu"],
                                 rows["snapshot_stall_max_" + size]["gongxu"])
            self.assertGreaterEqual(rows["snapshot_freeze_ms_" + size]["gongxu"], 0)
            self.assertGreaterEqual(rows["snapshot_stall_ms_" + size]["gongxu"], 0)
            w = rows["snapshot_write_s_" + size]["gongxu"]  # 0.000 s when tiny
            self.assertTrue(isinstance(w, (int, float)) and 0 <= w < 120, w)
            self.assertEqual(c["stall"]["lost"], 0, size)
            self.assertEqual(c["stall"]["steady"]["errors"], 0, size)
            sane("crash_restart_s_" + size, "gongxu", 120)
            self.assertTrue(c["start"]["snapshot"], (size, c["start"]))
            self.assertEqual(rows["crash_replayed_" + size]["gongxu"], c["burst"]["acks"], size)
            self.assertEqual(c["burst"]["acks"], doc["params"]["burst"], size)
            for key in ("demands_open", "offers_open", "matches", "near_misses", "demands_unmatched"):
                self.assertEqual(c["open_after"][key], c["open_before_kill"][key], (size, key))
        # gxbulk writes through the store's change log: the start after it used the stop's snapshot
        # and replayed every bulk posting (the row must not say it matched every pair)
        self.assertTrue(g["start_after_bulk"]["snapshot"], g["start_after_bulk"])
        self.assertEqual(g["start_after_bulk"]["replayed"], g["bulk"]["written"])
        self.assertIn("replayed", rows["start_after_bulk_s"]["metric"])
        sane("engine_rebuild_s", "gongxu", 120)
        sane("engine_rebuild_bytes", "gongxu", 1e6)
        for key in ("rss_mb", "rss_anon_mb", "rss_restart_mb"):
            sane(key, "gongxu", 64 * 1024)
        for key in ("ops_metrics_ms", "ops_snapshot_first_ms", "ops_snapshot_ms", "ops_stats_ms"):
            sane(key, "gongxu", 60 * 1000)
        sane("store_bytes_per_posting", "gongxu", 1e6)
        # issue 14's rows: the store grown through the broker, the cost per evaluated pair, and
        # ingest beside the bare LMDB floor writing gongxu's own records per posting
        sane("store_bytes_per_posting_broker", "gongxu", 1e6)
        self.assertLessEqual(sane("store_table_bytes_per_posting_broker", "gongxu", 1e6),
                             rows["store_bytes_per_posting_broker"]["gongxu"])
        sane("engine_demand_pairs_1000", "gongxu", big)
        sane("engine_us_per_pair", "gongxu", us)
        sane("engine_rebuild_pairs", "gongxu", 1e9)
        for key in ("ingest_vs_records_floor", "ingest_notices_per_s"):
            sane(key, "gongxu", big)
            sane(key, "floor", 1e9)
            sane(key, "ratio_floor", 1e6)
        for key in ("ingest_notices_per_posting", "ingest_records_per_posting"):
            sane(key, "gongxu", 1e6)
        sane("ingest_bytes_per_posting", "gongxu", 1e9)
        self.assertGreaterEqual(sane("ingest_batch", "gongxu", 1e6), 1)
        self.assertEqual(rows["ingest_batch"]["floor"], rows["ingest_batch"]["gongxu"])  # the floor's batch is gongxu's
        per = doc["raw"]["gongxu"]["ingest_records"]["tables"]
        for table in ("inbox", "demands", "offers", "owned"):  # what every posting writes, at least
            self.assertGreater(per[table]["per_posting"], 0, table)
        # issue 17: the federation section (tests/bench/fed.py) ran: cross-city and local
        # post-to-notice with its components, one broker against three, and a catch-up
        for key in ("fed_notice_local_p50_20", "fed_notice_remote_p50_20", "fed_notice_remote_p99_20",
                    "fed_ack_p50_20", "fed_on_nats_p50_20", "fed_nats_to_remote_p50_20"):
            sane(key, "gongxu", us)
        self.assertLessEqual(rows["fed_notice_remote_p50_20"]["gongxu"], rows["fed_notice_remote_p99_20"]["gongxu"])
        for key in ("fed_tput_one", "fed_tput_three", "fed_tput_one_again", "fed_catchup_per_s"):
            sane(key, "gongxu", big)
        fed = doc["raw"]["fed"]
        self.assertEqual([sum(r["missing"].values()) for r in fed["latency"]], [0])  # every Opportunity came
        self.assertTrue(fed["throughput"]["catchup"]["complete"], fed["throughput"]["catchup"])
        sane("rtt_p50", "floor", us)
        sane("rtt_p99", "floor", us)
        g = doc["raw"]["gongxu"]
        self.assertEqual(g["setup"]["errors"], 0)
        self.assertEqual(g["preload"]["acks"], doc["params"]["preload"])  # every preload posting acknowledged
        self.assertEqual(g["ingest"]["errors"], 0)
        self.assertEqual(g["notice"]["errors"], 0)
        self.assertEqual(g["notice"]["acked"], g["notice"]["posted"])
        self.assertEqual(g["open_restart"]["demands_open"] + g["open_restart"]["offers_open"],
                         g["open_postings"])  # the restarted broker has every open posting back
        # growth went store-direct (gxbulk, the default): every posting written is open after the
        # start that followed, and that start matched the same pairs as the snapshot restart holds
        self.assertEqual(g["grow"], "bulk")
        self.assertEqual(g["bulk"]["written"], doc["params"]["big"])
        before, after = g["open_before_grow"], g["open_big"]
        self.assertEqual(after["demands_open"] + after["offers_open"],
                         before["demands_open"] + before["offers_open"] + g["bulk"]["written"])
        self.assertGreater(after["matches"], before["matches"])  # the new postings were matched
        self.assertEqual(g["open_restart"]["matches"], after["matches"])


if __name__ == "__main__":
    main()
