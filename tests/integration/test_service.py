"""Running gongxud as a service: the example configuration lists every key and
is valid; the systemd unit passes systemd-analyze verify without a complaint;
the watchdog is fed at half of WatchdogSec; a long start reports its progress
and keeps systemd's start timeout from expiring."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from gxharness import BIN, GONGXUD, Broker, Notified, main

SRC = os.environ.get("GX_SOURCE_DIR", ".")
CONF = os.path.join(SRC, "src", "dist", "gongxud.conf")
UNIT = os.path.join(BIN, "gongxud.service")  # configured from src/dist/gongxud.service.in


class Service(unittest.TestCase):
    def test_example_config_has_every_key_and_is_valid(self):
        dump = subprocess.run([GONGXUD, "--dump-config"], stdout=subprocess.PIPE, check=True, timeout=30)
        keys = re.findall(r"^([a-z_]+) = ", dump.stdout.decode(), re.M)
        self.assertGreater(len(keys), 40)
        text = open(CONF).read()
        example = re.findall(r"^([a-z_]+) = ", text, re.M)
        self.assertEqual(sorted(example), sorted(keys), "src/dist/gongxud.conf must list every key once")
        # every key has its comment line just above it
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^[a-z_]+ = ", line):
                self.assertTrue(lines[i - 1].startswith("# "), line)
        r = subprocess.run([GONGXUD, "--config", CONF, "--check-config"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"data_dir=/var/lib/gongxu", r.stdout)

    def test_unit_verifies_cleanly(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze (Debian package systemd) is required")
        unit = open(UNIT).read()
        for want in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=", "StateDirectory=gongxu",
                     "--config /etc/gongxu/gongxud.conf"):
            self.assertIn(want, unit)
        self.assertNotIn("@", unit.replace("$MAINPID", ""), "an unconfigured @VARIABLE@ is left")
        tmp = tempfile.mkdtemp(prefix="gx.unit.", dir=os.environ.get("GX_TEST_TMP"))
        try:
            # verify checks that ExecStart exists: point it at this build's broker
            path = os.path.join(tmp, "gongxud.service")
            with open(path, "w") as f:
                f.write(re.sub(r"^ExecStart=\S+", "ExecStart=" + os.path.abspath(GONGXUD), unit, flags=re.M))
            r = subprocess.run([analyze, "verify", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
            out = r.stdout.decode()
            self.assertEqual((r.returncode, out), (0, ""), "systemd-analyze verify: " + out)
            # and the check is real: a misspelt directive is reported
            with open(path, "w") as f:
                f.write(unit.replace("ProtectHome=", "ProtectHom=").replace(
                    unit.split("ExecStart=")[1].split()[0], os.path.abspath(GONGXUD)))
            r = subprocess.run([analyze, "verify", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
            self.assertIn("ProtectHom", r.stdout.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_watchdog_is_fed(self):
        with Notified(WATCHDOG_USEC="400000") as n:
            seen, ready = [], False
            deadline = time.time() + 10
            while len(seen) < 4 and time.time() < deadline:
                lines = n.recv().split("\n")
                ready |= "READY=1" in lines
                if "WATCHDOG=1" in lines:
                    seen.append(time.time())
            self.assertTrue(ready)
            self.assertEqual(len(seen), 4, "WATCHDOG=1 should come every 200 ms (half of WATCHDOG_USEC)")

    def test_long_start_reports_progress(self):
        """A start that matches every pair (no snapshot) logs where it is and tells
        systemd STATUS= with EXTEND_TIMEOUT_USEC= before READY=1, so that a start
        longer than TimeoutStartSec that keeps reporting is not killed."""
        tmp = tempfile.mkdtemp(prefix="gx.start.", dir=os.environ.get("GX_TEST_TMP"))
        self.addCleanup(shutil.rmtree, tmp, True)
        data, now = os.path.join(tmp, "data"), str(int(time.time()))
        # the workload's firms, registered through a real broker; then 20,000 of their
        # postings written straight to its store (tests/bench/gxbulk), unmatched
        with Broker(data_dir=data) as b:
            subprocess.run([os.path.join(BIN, "tests/bench/gxload"), "setup", "--endpoint", b.endpoint,
                            "--server-key", os.path.join(data, "broker.pub"), "--operator-key",
                            os.path.join(data, "operator.key"), "--keys", os.path.join(tmp, "keys"),
                            "--seed", "1", "--firms", "20", "--now", now], check=True, timeout=120,
                           stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            # not while the broker runs: its engine would never see the postings
            r = subprocess.run([os.path.join(BIN, "tests/bench/gxbulk"), "--data", data, "--now", now, "--count",
                                "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 1)
            self.assertIn("in use by another broker", r.stderr.decode())
        subprocess.run([os.path.join(BIN, "tests/bench/gxbulk"), "--data", data, "--seed", "1", "--firms", "20",
                        "--now", now, "--start", "0", "--count", "20000", "--no-sync"], check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        # the stop above saved an engine snapshot, and gxbulk's postings are in the change log:
        # without the snapshot files the start matches every pair (the replay reports too, see
        # test_snapshots)
        for name in ("engine.snap", "engine.snap.next"):
            if os.path.exists(os.path.join(data, name)):
                os.unlink(os.path.join(data, name))
        with Notified(data_dir=data, extra_args=["-o", "start_progress_ms=100"]) as n:
            n.sock.settimeout(300)  # the start itself may take a while under a sanitizer
            n.until("READY=1")
            starting = [dict(x.split("=", 1) for x in m.split("\n") if "=" in x) for m in n.messages[:-1]]
            self.assertTrue(starting, "no message before READY=1")
            for m in starting:
                self.assertTrue(m["STATUS"].startswith("starting: matching every pair"), m)
                self.assertGreaterEqual(int(m["EXTEND_TIMEOUT_USEC"]), 60 * 10**6, m)
            self.assertIn("10000 demand records to load", starting[0]["STATUS"])
            demands = [m["STATUS"] for m in starting if "of 10000 demand records (" in m["STATUS"]]
            self.assertTrue(demands, "no report while the demands were being matched: %r" % starting)
            self.assertIn("s left", demands[-1])
            print("start reports: %d, the last: %s" % (len(starting), starting[-1]["STATUS"]))


if __name__ == "__main__":
    main()
