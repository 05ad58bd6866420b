"""A broker restart — clean (SIGTERM) or a crash (SIGKILL) — keeps postings,
shortlists and inboxes: everything acknowledged before it."""
import os
import unittest

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, Broker, body_of, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


class Restart(unittest.TestCase):
    def run_case(self, crash):
        broker = Broker().start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            cert = broker.client(SME_CERT)
            plain = broker.client(SME_PLAIN)
            o1 = cert.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
            plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            before = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            for c in (op, cert, plain, anchor):
                c.close()
            if crash:
                broker.kill()  # kill -9 right after the acknowledged requests
            else:
                self.assertEqual(broker.stop(), 0)
            broker.start()

            anchor = broker.client(ANCHOR)
            after = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            self.assertEqual([c.offer_id for c in after.candidates], [o1])
            self.assertEqual([round(c.score, 6) for c in after.candidates],
                             [round(c.score, 6) for c in before.candidates])
            lst = anchor.call(list_postings=pb.ListPostings()).postings
            self.assertEqual([x.id for x in lst.demands], [d])
            self.assertEqual(lst.demands[0].details, "drawing MG-42 rev C; 0.05 mm")
            # inboxes survived: the certified SME's opportunity and the other's near miss
            cert = broker.client(SME_CERT)
            cert.resume(from_last_ack=True)
            self.assertEqual([body_of(n) for n in cert.wait_notices(1)], ["opportunity"])
            plain = broker.client(SME_PLAIN)
            plain.resume(from_last_ack=True)
            self.assertEqual([body_of(n) for n in plain.wait_notices(1)], ["near_miss"])
            # sequence numbers continue, ids are never reused
            d2 = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="after restart"))).posting.id
            self.assertGreater(d2, d)
            got = cert.wait_notices(1)
            self.assertEqual(got[0].seq, 2)
            for c in (anchor, cert, plain):
                c.close()
            self.assertEqual(broker.stop(), 0)
        finally:
            broker.cleanup()

    def test_clean_restart(self):
        self.run_case(crash=False)

    def test_kill_9_loses_nothing_acknowledged(self):
        self.run_case(crash=True)


class Snapshot(unittest.TestCase):
    """A clean stop saves the engine's lists (engine.snap) and the store records
    it; the next start takes them instead of matching every pair and replays
    what changed since (the store's change log). The file stays: it is the
    snapshot the store records until a newer one replaces it. Other options,
    another vocabulary or a damaged file: every pair is matched, and the log
    says why."""

    def setUp(self):
        self.broker = Broker().start()
        self.snap = os.path.join(self.broker.data_dir, "engine.snap")
        op = self.broker.client(operator=True)
        seed_walkthrough_firms(op)
        cert, plain = self.broker.client(SME_CERT), self.broker.client(SME_PLAIN)
        for i in range(3):
            cert.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=20000 + 1000 * i)))
            plain.call(post_offer=pb.PostOffer(offer=mg_offer(lead_time_days=10 + i)))
        anchor = self.broker.client(ANCHOR)
        self.demands = [anchor.call(post_demand=pb.PostDemand(demand=mg_demand(quantity=1000 * (i + 1)))).posting.id
                        for i in range(4)]
        self.demands.append(anchor.call(post_demand=pb.PostDemand(
            demand=mg_demand(certifications=[], title="no certificate needed"))).posting.id)
        self.before = self.state()
        for c in (op, cert, plain, anchor):
            c.close()

    def tearDown(self):
        self.broker.stop()
        self.broker.cleanup()

    def state(self):
        """Every demand's shortlist (ids, scores, eligible count) as the anchor sees it."""
        anchor = self.broker.client(ANCHOR)
        out = {}
        for d in self.demands:
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            out[d] = ([(c.offer_id, round(c.score, 9)) for c in sl.candidates], sl.eligible)
        anchor.close()
        return out

    def log_since(self, mark):
        return self.broker.read_log_all()[mark:]

    def test_clean_restart_restores_the_lists(self):
        self.assertEqual(self.broker.stop(), 0)
        self.assertTrue(os.path.exists(self.snap))
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.log_since(mark)
        self.assertRegex(log, r"engine restored from .*engine\.snap \(transaction \d+\) in [0-9.]+ s: 5 demands with "
                              r"their saved lists, 0 matched afresh; 0 changed firms and postings replayed \(0 change "
                              r"log entries\)")
        self.assertTrue(os.path.exists(self.snap), "kept: the snapshot the store records")
        self.assertEqual(self.state(), self.before)
        # and the restored engine goes on matching: a new offer joins the shortlists
        cert = self.broker.client(SME_CERT)
        cert.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=90000)))
        cert.close()
        after = self.state()
        self.assertTrue(all(after[d][1] == self.before[d][1] + 1 for d in self.demands), after)

    def test_a_write_after_the_snapshot_is_replayed(self):
        self.assertEqual(self.broker.stop(), 0)
        saved = read_bytes(self.snap)
        self.broker.start()
        # a write after the snapshot, then a crash: the file is as it was, the store's change log has the write
        cert = self.broker.client(SME_CERT)
        cert.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=90000)))
        cert.close()
        expected = self.state()
        self.assertNotEqual(expected, self.before)
        self.broker.kill()
        self.assertEqual(read_bytes(self.snap), saved)
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.log_since(mark)
        self.assertNotIn("engine snapshot not used", log)
        self.assertRegex(log, r"engine restored from .*engine\.snap \(transaction \d+\) in [0-9.]+ s: 5 demands with "
                              r"their saved lists, 0 matched afresh; 1 changed firms and postings replayed \(1 change "
                              r"log entries\)")
        self.assertEqual(self.state(), expected)

    def test_a_start_without_snapshots_voids_it(self):
        self.assertEqual(self.broker.stop(), 0)
        saved = read_bytes(self.snap)
        # a start that does not use it (and keeps no change log), a write, a crash: the file is stale
        self.broker.extra_args = ["-o", "engine_snapshot=false"]
        self.broker.start()
        self.assertTrue(os.path.exists(self.snap))
        cert = self.broker.client(SME_CERT)
        cert.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=90000)))
        cert.close()
        expected = self.state()
        self.broker.kill()
        self.assertEqual(read_bytes(self.snap), saved)
        self.broker.extra_args = []
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.log_since(mark)
        self.assertIn("engine snapshot not used: the store records no complete engine snapshot; matching every pair",
                      log)
        self.assertNotIn("engine restored from", log)
        self.assertEqual(self.state(), expected)

    def test_a_rebuilt_binary_keeps_it(self):
        # a second configure or a rebuild of the same code gives gongxud a new
        # mtime (and here a new size): the lists mean the same, so they are used
        import shutil
        import time
        copy = os.path.join(self.broker.tmp, "gongxud-rebuilt")
        shutil.copy2(self.broker.binary, copy)
        with open(copy, "ab") as f:
            f.write(b"\0" * 16)  # trailing bytes an ELF loader ignores
        later = time.time() + 3600
        os.utime(copy, (later, later))
        self.assertEqual(self.broker.stop(), 0)
        self.broker.binary = copy
        mark = len(self.broker.read_log_all())
        self.broker.start()
        self.assertRegex(self.log_since(mark), r"engine restored from .*engine\.snap")
        self.assertEqual(self.state(), self.before)

    def test_other_options_void_it(self):
        self.assertEqual(self.broker.stop(), 0)
        self.broker.extra_args = ["-o", "shortlist_k=1"]
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.log_since(mark)
        self.assertIn("engine snapshot not used: %s was written under other options or another vocabulary; "
                      "matching every pair" % self.snap, log)
        self.assertIn("removed %s, a snapshot that could not be used" % self.snap, log)
        after = self.state()
        self.assertTrue(all(len(after[d][0]) <= 1 and after[d][1] == self.before[d][1] for d in self.demands))

    def test_a_damaged_file_is_not_used(self):
        self.assertEqual(self.broker.stop(), 0)
        data = bytearray(read_bytes(self.snap))
        data[60] ^= 0x40  # inside the body: an offer id or a score
        write_bytes(self.snap, bytes(data))
        mark = len(self.broker.read_log_all())
        self.broker.start()
        self.assertIn("engine snapshot not used: %s fails its checksum; matching every pair" % self.snap,
                      self.log_since(mark))
        self.assertEqual(self.state(), self.before)
        # and one cut short
        self.assertEqual(self.broker.stop(), 0)
        write_bytes(self.snap, read_bytes(self.snap)[:-16])
        mark = len(self.broker.read_log_all())
        self.broker.start()
        self.assertIn("engine snapshot not used: %s is cut short or padded; matching every pair" % self.snap,
                      self.log_since(mark))
        self.assertEqual(self.state(), self.before)


if __name__ == "__main__":
    main()
