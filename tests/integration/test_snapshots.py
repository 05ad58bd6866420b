"""Engine snapshots while serving and a start from the newest one plus a replay
of what changed since (issue 15), against a real gongxud:

- a snapshot is written a slice per turn of the loop while it goes on
  answering (held at one demand a second, snapshot_write_rate = 1: requests
  are answered and changes made meanwhile, and the file holds the engine as it
  was when the snapshot began);
- kill -9 after a burst of changes (offers and demands posted, updated and
  withdrawn, a firm's certificates and grade changed by the operator, an
  award): the start restores the snapshot and replays the changes;
- kill -9 while a snapshot is written, and kill -9 while the start replays: the
  next start uses the snapshot the store recorded, plus the change log;
- a crash between recording a snapshot and renaming it (engine.snap.next);
- a truncated, a corrupted and a foreign snapshot: every pair is matched and
  the log says why;
- engine_snapshot=false keeps no change log and drops an old one;
- gongxud --verify of a data directory holding a change log.

After every restart the engine must equal one built by matching every pair:
the broker is stopped cleanly (engine.snap is its engine), the snapshot is
dumped (snapdump: eligible count, the first K of the held list with scores,
the near misses), the snapshot files are removed, the broker is started
(matching every pair) and stopped again, and the two dumps must be equal.
near_miss_max is large so that no near-miss list is at its cap (a capped list
depends on history), and only the first K of a held list is compared (its
reserve depends on history)."""
import glob
import os
import re
import signal
import subprocess
import time
import unittest

from gxharness import (ANCHOR, BIN, GONGXUD, SME_CERT, SME_PLAIN, Broker, firm, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms, uscc)

SNAPDUMP = os.environ.get("GX_SNAPDUMP") or os.path.join(BIN, "tests", "integration", "snapdump")
K = 10  # shortlist_k: the part of a held list that must not depend on history
NEAR = ["-o", "near_miss_max=10000"]
SERVING = ["-o", "snapshot_interval_s=1"] + NEAR  # a snapshot a second while anything changes
QUIET = ["-o", "snapshot_interval_s=0", "-o", "snapshot_changes=0"] + NEAR  # only at a clean stop
FAST = ["-o", "rate_per_firm=1000000", "-o", "rate_burst=1000000"]
DEADLINE = 120  # seconds to wait for something the broker logs (an ASan build on a loaded machine)

ANCHOR2 = uscc("91410603MA44ANCH7")  # a second anchor, in Shancheng district
SME_QX = uscc("91410622MA45QXMG5")  # grade A, certified, Qi county
SME_XX = uscc("91410621MA45XXMG4")  # grade C, ISO 9001 only, Xunxian
SME_BAD = uscc("91410611MA45QBDD6")  # on the joint-penalty list (grade D): matched with nobody
SMES = (SME_CERT, SME_PLAIN, SME_QX, SME_XX, SME_BAD)

IATF = ("IATF16949", "2028-06-30")
ISO9001 = ("ISO9001", "2028-06-30")


def day(n):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + n * 86400))


def dump(path):
    r = subprocess.run([SNAPDUMP, path, str(K)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise AssertionError("snapdump %s: %s" % (path, r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def verify(path):
    r = subprocess.run([GONGXUD, "--verify", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def verified_changes(test, data_dir):
    """gongxud --verify of data_dir must pass; returns its count of change log entries."""
    rc, out = verify(data_dir)
    test.assertEqual(rc, 0, out)
    test.assertIn("healthy: every record decodes and every reference resolves", out)
    m = re.search(r"^changes +(\d+) +0$", out, re.M)
    test.assertTrue(m, out)
    return int(m.group(1))


def snap_files(data_dir):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(data_dir, "engine.snap*")))


class World:
    """The firms, the postings the broker acknowledged (and what it said of
    them) and one connection per firm."""

    def __init__(self, broker):
        self.broker = broker
        self.conns = {}
        self.posts = {}  # id -> [owner, "demand" | "offer", revision, state, title]
        self.n = 0

    def c(self, firm_id=""):
        if firm_id not in self.conns:
            self.conns[firm_id] = (self.broker.client(operator=True) if firm_id == ""
                                   else self.broker.client(firm_id))
        return self.conns[firm_id]

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}

    def _title(self, what):
        self.n += 1
        return "%s %d" % (what, self.n)

    def _took(self, ref, owner, what, title):
        self.posts[ref.id] = [owner, what, ref.revision, ref.state, title]
        return ref.id

    def offer(self, owner, **over):
        title = self._title("offer")
        ref = self.c(owner).call(post_offer=pb.PostOffer(offer=mg_offer(title=title, **over))).posting
        return self._took(ref, owner, "offer", title)

    def demand(self, owner, **over):
        title = self._title("demand")
        ref = self.c(owner).call(post_demand=pb.PostDemand(demand=mg_demand(title=title, **over))).posting
        return self._took(ref, owner, "demand", title)

    def update_offer(self, oid, **over):
        owner = self.posts[oid][0]
        title = self._title("offer updated")
        o = mg_offer(title=title, **over)
        o.id = oid
        ref = self.c(owner).call(update_offer=pb.UpdateOffer(offer=o)).posting
        return self._took(ref, owner, "offer", title)

    def update_demand(self, did, **over):
        owner = self.posts[did][0]
        title = self._title("demand updated")
        d = mg_demand(title=title, **over)
        d.id = did
        ref = self.c(owner).call(update_demand=pb.UpdateDemand(demand=d)).posting
        return self._took(ref, owner, "demand", title)

    def withdraw(self, pid):
        owner, what, _, _, title = self.posts[pid]
        ref = self.c(owner).call(withdraw=pb.Withdraw(posting_id=pid)).posting
        return self._took(ref, owner, what, title)

    def award(self, did, sme, oid, quantity):
        """sme's interest in did (with its offer oid), accepted and awarded quantity."""
        owner, _, _, _, title = self.posts[did]
        self.c(sme).call(interest=pb.Interest(demand_id=did, offer_id=oid, message="we can"))
        self.c(owner).call(accept=pb.Accept(demand_id=did, firm_id=sme))
        ref = self.c(owner).call(award=pb.Award(demand_id=did, firm_id=sme, quantity=quantity)).posting
        return self._took(ref, owner, "demand", title)

    def check(self, test):
        """Every acknowledged posting is in the broker as it was acknowledged."""
        for pid, (owner, what, revision, state, title) in sorted(self.posts.items()):
            view = self.c(owner).call(get_posting=pb.GetPosting(posting_id=pid)).view
            test.assertEqual(view.WhichOneof("posting"), what, pid)
            p = getattr(view, what)
            test.assertEqual((p.id, p.revision, p.state, p.title), (pid, revision, state, title))


def register_cast(w):
    op = w.c()
    seed_walkthrough_firms(op)
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        ANCHOR2, "Shancheng Motor Parts", "410603", "", pb.CREDIT_B, lat=35.90, lon=114.19)))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_QX, "Qi County Precision Castings", "410622", "", pb.CREDIT_A, [IATF, ISO9001], 35.61, 114.20)))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_XX, "Xunxian Alloy Parts", "410621", "", pb.CREDIT_C, [ISO9001], 35.67, 114.54)))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_BAD, "Qibin Penalised Castings", "410611", "", pb.CREDIT_D, [IATF], 35.74, 114.31)))


def populate(w):
    """The cast, 15 offers and 10 demands with every kind of outcome: eligible
    pairs of different scores, near misses (a certificate, a lead time, a
    capacity, a credit grade, a minimum order short) and pairs far apart."""
    register_cast(w)
    for i, sme in enumerate(SMES):
        w.offer(sme, monthly_capacity=20000 + 3000 * i, lead_time_days=10 + 3 * i)
        w.offer(sme, monthly_capacity=1500 + 500 * i, lead_time_days=5 + i)  # short of capacity for the big ones
        w.offer(sme, monthly_capacity=50000, min_order=4000 + 100 * i, lead_time_days=30 + 30 * i)
    for i in range(5):
        w.demand(ANCHOR, quantity=1000 * (i + 1), needed_by=day(40 + 20 * i))
        w.demand(ANCHOR2, quantity=800 * (i + 1), certifications=[] if i % 2 else ["ISO9001"],
                 min_credit=pb.CREDIT_B if i < 3 else pb.CREDIT_C, scope=pb.SAME_CITY, needed_by=day(60 + 10 * i))


def burst(w):
    """Changes of every kind the engine replays: 15 writes of a firm, an offer or a demand."""
    offers = [p for p, v in w.posts.items() if v[1] == "offer" and v[3] == pb.OPEN]
    demands = [p for p, v in w.posts.items() if v[1] == "demand" and v[3] == pb.OPEN]
    new_o = w.offer(SME_QX, monthly_capacity=90000, lead_time_days=3)
    w.offer(SME_XX, monthly_capacity=30000, lead_time_days=8)
    w.demand(ANCHOR, quantity=2500, certifications=[], needed_by=day(35))
    w.demand(ANCHOR2, quantity=12000, scope=pb.THREE_DISTRICTS, needed_by=day(90))
    w.update_offer(offers[0], monthly_capacity=60000, lead_time_days=2)
    w.update_offer(offers[4], monthly_capacity=100, lead_time_days=200)
    w.withdraw(offers[1])
    w.withdraw(demands[3])
    w.update_demand(demands[0], quantity=7000, certifications=["ISO9001"], needed_by=day(50))
    op = w.c()
    # SME_PLAIN gets IATF 16949 (its offers now qualify), SME_XX is graded up to B,
    # SME_QX loses its certificates
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_PLAIN, "Qibin Light Alloy Works", "410611", "", pb.CREDIT_B, [IATF, ISO9001], 35.76, 114.28)))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_XX, "Xunxian Alloy Parts", "410621", "", pb.CREDIT_B, [ISO9001], 35.67, 114.54)))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_QX, "Qi County Precision Castings", "410622", "", pb.CREDIT_A, [], 35.61, 114.20)))
    # an award of part of a demand: its quantity drops, the winner's track record grows
    w.award(demands[2], SME_CERT, offers[6] if w.posts[offers[6]][0] == SME_CERT else offers[0], 500)
    w.withdraw(new_o)  # posted and withdrawn since the snapshot: in neither the snapshot nor the engine


class Snapshots(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(extra_args=SERVING)
        self.data = self.broker.data_dir
        self.snap = os.path.join(self.data, "engine.snap")
        self.w = None

    def tearDown(self):
        if self.w:
            self.w.close()
        if self.broker.proc:
            self.broker.kill()
        self.broker.cleanup()

    # ---------------------------------------------------------------- helpers

    def mark(self):
        return len(self.broker.read_log_all())

    def log_since(self, mark):
        return self.broker.read_log_all()[mark:]

    def wait_log(self, mark, pattern, what, poll=0.05):
        """The first match of pattern in the log after mark, polled every poll seconds until DEADLINE."""
        deadline = time.time() + DEADLINE
        while True:
            m = re.search(pattern, self.log_since(mark))
            if m:
                return m
            if time.time() > deadline:
                self.fail("no %s in the log within %d s:\n%s" % (what, DEADLINE, self.log_since(mark)[-3000:]))
            time.sleep(poll)

    def start(self, args=None):
        """Starts the broker (with args instead of its own when given); returns the log mark of the start."""
        if self.w:
            self.w.close()
        if args is not None:
            self.broker.extra_args = list(args)
        mark = self.mark()
        self.broker.start(timeout=DEADLINE)
        self.w = self.w or World(self.broker)
        self.w.broker = self.broker
        return mark

    def stop(self):
        if self.w:
            self.w.close()
        self.assertEqual(self.broker.stop(timeout=DEADLINE), 0)

    def kill(self):
        if self.w:
            self.w.close()
        self.broker.kill()

    def restored(self, mark):
        """The start after mark restored a snapshot: (path, transaction, changed keys replayed)."""
        log = self.log_since(mark)
        m = re.search(r"engine restored from (\S+) \(transaction (\d+)\) in [0-9.]+ s: \d+ demands with their saved "
                      r"lists, \d+ matched afresh; (\d+) changed firms and postings replayed \((\d+) change log "
                      r"entries\)", log)
        self.assertTrue(m, log)
        self.assertNotIn("engine snapshot not used", log)
        self.assertGreaterEqual(int(m.group(4)), int(m.group(3)))
        return m.group(1), int(m.group(2)), int(m.group(3))

    def rebuilt(self, mark, why=None):
        """The start after mark matched every pair (because of why, when given)."""
        log = self.log_since(mark)
        self.assertRegex(log, r"engine rebuilt by matching every pair in [0-9.]+ s")
        self.assertNotIn("engine restored from", log)
        if why is not None:
            self.assertIn("engine snapshot not used: %s; matching every pair" % why, log)

    def stop_and_dump(self):
        self.stop()
        self.assertTrue(os.path.exists(self.snap), snap_files(self.data))
        return dump(self.snap)

    def assert_engine_is_a_rebuild(self):
        """The running broker's engine equals one built by matching every pair
        (see the module's comment). Leaves the broker stopped."""
        engine = self.stop_and_dump()
        for name in ("engine.snap", "engine.snap.next"):
            if os.path.exists(os.path.join(self.data, name)):
                os.unlink(os.path.join(self.data, name))
        mark = self.start()
        self.rebuilt(mark, "no engine.snap")
        self.w.check(self)
        rebuilt = self.stop_and_dump()
        self.assertEqual(engine, rebuilt)
        # and the comparison compared something: shortlists and near misses
        self.assertRegex(rebuilt, r"elig [1-9]\d* top \d+:")
        self.assertRegex(rebuilt, r"near \d+:\d+")
        self.assertGreaterEqual(len(rebuilt.splitlines()), 9)

    def snapshot_while_serving(self, mark, txn=None):
        """Waits for a snapshot begun after mark (of transaction txn when given) to be written
        and recorded; returns its transaction."""
        if txn is None:
            m = self.wait_log(mark, r"engine snapshot of transaction (\d+) begun \(freeze [0-9.]+ ms\)",
                              "snapshot begun")
            txn = m.group(1)
        self.wait_log(mark, r"engine snapshot of transaction %s written in [0-9.]+ s while serving \(longest "
                            r"stall of the loop [0-9.]+ ms\)" % txn, "snapshot %s written" % txn)
        self.wait_log(mark, r"engine snapshot of transaction %s recorded; the change log it covers is dropped"
                      % txn, "snapshot %s recorded" % txn)
        return int(txn)

    def last_recorded(self):
        """The transaction of the last snapshot the log says was recorded."""
        got = re.findall(r"engine snapshot of transaction (\d+) (?:recorded;|saved at the stop)", self.broker.read_log_all())
        self.assertTrue(got)
        return int(got[-1])

    def write_conf(self, rate):
        """The configuration file of start_held: snapshots only when asked (SIGUSR1), each
        written at rate demands a second (snapshot_write_rate; 0: at full speed)."""
        with open(self.conf, "w") as f:
            f.write("near_miss_max = 10000\nsnapshot_interval_s = 0\nsnapshot_changes = 0\n"
                    "snapshot_write_rate = %d\n" % rate)

    def start_held(self):
        """Starts the broker with write_conf(1): a snapshot asked for is held at one demand a
        second until release_write."""
        self.conf = os.path.join(self.broker.tmp, "gongxud.conf")
        self.write_conf(1)
        return self.start(["-c", self.conf])

    def hold_a_write(self):
        """Begins a snapshot (SIGUSR1) that, at one demand a second with 30 open demands and
        more, is still being written for the next half minute; returns (its transaction, the
        log mark before it)."""
        for i in range(20):
            self.w.demand(ANCHOR2, quantity=100 + i, needed_by=day(50 + i))
        mark = self.mark()
        self.broker.proc.send_signal(signal.SIGUSR1)
        txn = int(self.wait_log(mark, r"engine snapshot of transaction (\d+) begun \(freeze [0-9.]+ ms\)",
                                "snapshot begun").group(1))
        self.assertIn("engine.snap.next.tmp", snap_files(self.data))
        return txn, mark

    def release_write(self, rate=0):
        """Lets a held write go at full speed (a reload of snapshot_write_rate = 0), or holds
        the next at rate."""
        self.write_conf(rate)
        mark = self.mark()
        self.broker.proc.send_signal(signal.SIGHUP)
        self.wait_log(mark, r"configuration reloaded", "the reload")

    # ---------------------------------------------------------------- tests

    def test_written_while_serving_and_the_loop_answers_meanwhile(self):
        self.start_held()
        populate(self.w)
        txn, mark = self.hold_a_write()
        # the write is under way, a demand a second: the loop answers, reads and writes
        self.assertEqual(self.w.c(ANCHOR).call(ping=pb.Ping()).WhichOneof("result"), "pong")
        d = self.w.demand(ANCHOR, quantity=3000, needed_by=day(45))
        self.assertGreater(self.w.c(ANCHOR).call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist.eligible, 0)
        # changes to demands not written yet: the file keeps them as they were at the snapshot
        burst(self.w)
        self.w.check(self)
        self.assertNotIn("engine snapshot of transaction %d written" % txn, self.log_since(mark))
        self.assertIn("engine.snap.next.tmp", snap_files(self.data))
        self.release_write()
        self.snapshot_while_serving(mark, txn)
        self.assertNotIn("d %d elig " % d, dump(self.snap))  # posted after the snapshot began
        # what changed while it was written is in the change log: a kill now replays it, and
        # the engine is what matching every pair gives
        self.kill()
        mark = self.start()
        path, txn2, replayed = self.restored(mark)
        self.assertEqual((path, txn2), (self.snap, txn))
        self.assertGreater(replayed, 10)  # the demand and the keys of the burst's 15 writes
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_snapshots_follow_one_another_and_replace_the_older(self):
        self.start(SERVING)
        populate(self.w)
        txn = self.snapshot_while_serving(self.mark())
        mark = self.mark()
        d = self.w.demand(ANCHOR, quantity=3000, needed_by=day(45))
        later = self.snapshot_while_serving(mark)  # the demand posted is a change since: one follows
        self.assertGreater(later, txn)
        self.assertEqual(snap_files(self.data), ["engine.snap"])  # the older one replaced
        self.assertIn("d %d elig " % d, dump(self.snap))
        # nothing changed since: no more snapshots, and the stop has nothing to write
        time.sleep(1.5)  # past snapshot_interval_s: one would have begun
        mark = self.mark()
        self.stop()
        self.assertIn("engine snapshot unchanged since it was last written", self.log_since(mark))
        self.assertNotIn(" begun (freeze", self.log_since(mark))

    def test_kill_9_after_a_burst_replays_only_the_changes(self):
        self.start()
        populate(self.w)
        self.snapshot_while_serving(self.mark())
        self.kill()
        # a start that needs no replay; then a burst with snapshots off, so that none covers it
        mark = self.start(QUIET)
        _, txn, replayed = self.restored(mark)
        self.assertEqual(replayed, 0)
        burst(self.w)
        self.kill()
        mark = self.start()
        path, txn2, replayed = self.restored(mark)
        self.assertEqual((path, txn2), (self.snap, txn))
        self.assertGreater(replayed, 0)
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_kill_9_while_a_snapshot_is_written(self):
        self.start_held()
        populate(self.w)
        self.release_write()
        mark = self.mark()
        self.broker.proc.send_signal(signal.SIGUSR1)
        recorded = self.snapshot_while_serving(mark)
        self.release_write(1)
        txn, mark = self.hold_a_write()
        self.assertGreater(txn, recorded)
        self.w.withdraw(self.w.demand(ANCHOR2, quantity=100, needed_by=day(30)))
        self.w.offer(SME_CERT, monthly_capacity=70000, lead_time_days=4)
        self.kill()
        self.assertEqual(self.last_recorded(), recorded)  # the one being written never finished
        self.assertIn("engine.snap.next.tmp", snap_files(self.data))
        mark = self.start()
        path, txn, replayed = self.restored(mark)
        self.assertEqual((path, txn), (self.snap, recorded))
        self.assertGreater(replayed, 20)
        self.assertIn("removed %s.next.tmp, left by a snapshot that was not finished" % self.snap,
                      self.log_since(mark))
        self.assertNotIn("engine.snap.next.tmp", snap_files(self.data))
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_kill_9_during_the_replay(self):
        self.start(QUIET + FAST)
        populate(self.w)
        self.stop()  # the snapshot, at the stop
        self.start()
        # many changes since the snapshot: the next start has a replay to do
        pid = self.w.offer(SME_CERT, monthly_capacity=1000, lead_time_days=60)
        flood = self.broker.flood_args(SME_BAD, 2, "post", 64)
        out, err = flood.communicate(timeout=DEADLINE)
        self.assertEqual(flood.returncode, 0, err)
        posted = int(re.search(rb"ok (\d+)", out).group(1))
        self.assertGreater(posted, 100, out)
        for i in range(50):
            self.w.update_offer(pid, monthly_capacity=1000 + 100 * i, lead_time_days=60 - i)
        burst(self.w)
        self.kill()
        # start, and kill it as soon as it says it is restoring
        mark = self.mark()
        args = [self.broker.binary, "-d", self.data, "-l", "tcp://127.0.0.1:*", "-m", "tcp://127.0.0.1:*",
                "-o", "http_listen=127.0.0.1:0", "--log-level", "debug"] + self.broker.extra_args
        with open(self.broker.log_path, "ab") as log:
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        try:
            self.wait_log(mark, r"starting: restoring the engine snapshot", "start restoring", poll=0.001)
        finally:
            proc.kill()
            proc.wait()
        landed = "engine restored from" not in self.log_since(mark)
        print("kill -9 landed %s the replay finished" % ("before" if landed else "after"))
        mark = self.start()
        path, txn, replayed = self.restored(mark)
        self.assertEqual(path, self.snap)
        self.assertGreater(replayed, posted)
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_a_crash_between_recording_and_renaming(self):
        self.start()
        populate(self.w)
        txn = self.snapshot_while_serving(self.mark())
        self.w.offer(SME_QX, monthly_capacity=40000, lead_time_days=6)
        self.kill()
        # the store recorded the snapshot; the broker died before renaming it
        os.rename(self.snap, self.snap + ".next")
        mark = self.start()
        path, got, replayed = self.restored(mark)
        self.assertEqual((path, got), (self.snap + ".next", txn))
        self.assertGreater(replayed, 0)
        self.assertIn("engine.snap", snap_files(self.data))
        self.assertNotIn("engine.snap.next", snap_files(self.data))  # renamed now
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_a_truncated_corrupted_or_foreign_snapshot_is_not_used(self):
        other = Broker(extra_args=SERVING)
        try:
            other.start()
            ow = World(other)
            register_cast(ow)
            ow.offer(SME_CERT)
            ow.close()
            self.assertEqual(other.stop(), 0)
            foreign = read_bytes(os.path.join(other.data_dir, "engine.snap"))
        finally:
            other.cleanup()
        self.start(QUIET)
        populate(self.w)
        self.stop()
        cases = [
            ("truncated", lambda b: b[:-16], "%s is cut short or padded" % self.snap),
            ("cut at an odd length", lambda b: b[:len(b) // 2 + 3], "%s is %%d bytes: not a snapshot" % self.snap),
            ("corrupted", lambda b: b[:80] + bytes([b[80] ^ 0x10]) + b[81:], "%s fails its checksum" % self.snap),
            ("foreign", lambda b: foreign,
             "%s was written for another store (its store identity differs)" % self.snap),
        ]
        for i, (what, damage, why) in enumerate(cases):
            with self.subTest(what):
                # a snapshot (of the last clean stop), a change since and a crash: a change log waits too
                self.restored(self.start())
                self.w.offer(SMES[i], monthly_capacity=25000 + i, lead_time_days=9)
                self.kill()
                self.assertEqual(snap_files(self.data), ["engine.snap"])
                bad = damage(read_bytes(self.snap))
                with open(self.snap, "wb") as f:
                    f.write(bad)
                mark = self.start()
                self.rebuilt(mark, why.replace("%d", str(len(bad))))
                self.assertNotIn("engine.snap", snap_files(self.data))  # removed: it could not be used
                self.w.check(self)
                self.stop()  # a snapshot of the rebuilt engine, for the next case
        self.start()
        self.assert_engine_is_a_rebuild()

    def test_engine_snapshot_false_keeps_no_change_log(self):
        self.start()
        populate(self.w)
        self.snapshot_while_serving(self.mark())
        self.w.offer(SME_QX, monthly_capacity=40000, lead_time_days=6)
        self.kill()
        self.assertGreater(verified_changes(self, self.data), 0)
        mark = self.start(["-o", "engine_snapshot=false"] + NEAR)
        self.rebuilt(mark)
        self.assertNotIn("engine snapshot not used", self.log_since(mark))  # not asked for: not a failure
        self.w.offer(SME_XX, monthly_capacity=30000, lead_time_days=8)  # logged nowhere
        self.w.check(self)
        self.stop()
        self.assertEqual(verified_changes(self, self.data), 0)
        # the old snapshot is no longer the store's: a start with snapshots matches every pair
        mark = self.start(SERVING)
        self.rebuilt(mark, "the store records no complete engine snapshot")
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_a_restored_compacted_backup_drops_the_log(self):
        """A compacted copy (gongxu's backup, mdb_copy -c) starts its transaction ids again
        from 1 but keeps the snapshot mark and the change log keyed by the old ones. A
        start on it must not trust them: without the check, a posting made after such a
        restore was logged below the mark and lost from the engine at the next kill -9."""
        self.start(QUIET)
        populate(self.w)
        self.stop()  # the mark and engine.snap of the last transaction
        dest = os.path.join(self.broker.tmp, "backup")
        self.start()
        self.w.c().call(backup=pb.Backup(dest=dest))
        self.kill()
        # data.mdb restored from the backup; engine.snap stays beside it
        os.replace(os.path.join(dest, "data.mdb"), os.path.join(self.data, "data.mdb"))
        mark = self.start()
        self.rebuilt(mark)
        self.assertIn("the store's transaction ids went back", self.log_since(mark))
        demand = next(p for p, v in self.w.posts.items() if v[1] == "demand")
        best = self.w.offer(SME_CERT, monthly_capacity=90000, lead_time_days=2)
        sl = self.w.c(ANCHOR).call(get_shortlist=pb.GetShortlist(demand_id=demand)).shortlist
        self.assertIn(best, [c.offer_id for c in sl.candidates])
        self.kill()
        mark = self.start()
        log = self.log_since(mark)
        self.assertNotIn("went back", log)  # the log and mark are consistent again
        sl = self.w.c(ANCHOR).call(get_shortlist=pb.GetShortlist(demand_id=demand)).shortlist
        self.assertIn(best, [c.offer_id for c in sl.candidates])
        self.w.check(self)
        self.assert_engine_is_a_rebuild()

    def test_a_reload_of_the_weights_is_not_restored_as_the_old_ranking(self):
        """After a reload that changes the weights the engine re-ranks each list at its next
        change; a snapshot written meanwhile must not bring the old ranking back as if it
        were the new one: those demands are left out of it and matched afresh at start."""
        conf = os.path.join(self.broker.tmp, "gongxud.conf")
        with open(conf, "w") as f:
            f.write("near_miss_max = 10000\nsnapshot_interval_s = 0\nsnapshot_changes = 0\n")
        self.start(["-c", conf])
        populate(self.w)
        with open(conf, "a") as f:
            f.write("weight_distance = 0\nweight_capacity = 0\nweight_lead_time = 300\n")
        mark = self.mark()
        self.broker.proc.send_signal(signal.SIGHUP)
        self.wait_log(mark, r"configuration reloaded", "the reload")
        self.stop()  # the snapshot of the stop, under the new options
        mark = self.start()
        self.assertRegex(self.log_since(mark), r"engine restored from .*: 0 demands with their saved lists, [1-9]\d* "
                                               r"matched afresh")
        self.assert_engine_is_a_rebuild()

    def test_verify_passes_with_a_change_log(self):
        self.start(QUIET)
        populate(self.w)
        self.stop()
        self.start()
        burst(self.w)  # 15 writes of firms, offers and demands, none covered by a snapshot
        self.kill()
        self.assertGreaterEqual(verified_changes(self, self.data), 15)


if __name__ == "__main__":
    main()
