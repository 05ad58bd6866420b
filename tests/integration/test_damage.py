"""A damaged data directory is refused, never served (issue 13): a zero-length
data.mdb beside the key files, a flipped byte in the newest LMDB meta page, a
truncated data.mdb, a foreign engine.snap and a FIFO named engine.snap, against a
real gongxud; a stale engine.snap.tmp or engine.snap.next.tmp is removed at start;
gongxud --verify of a healthy store, of a backup and of each damaged one."""
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import unittest

from gxharness import (ANCHOR, GONGXUD, SME_CERT, SME_PLAIN, Broker, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)

ADVICE = ("The store was not opened and nothing was written. Restore data.mdb from a backup (made by `gongxu "
          "--operator admin backup` or `mdb_copy`), or start with an empty store: `gongxud --init-fresh` moves the "
          "damaged data.mdb aside and creates a new one (nothing is deleted).")
EX_IOERR = 74

# LMDB 0.9's on-disk meta page (mdb.c: MDB_page header of 16 bytes, then MDB_meta:
# magic u32, version u32, address, mapsize, two MDB_db of 48 bytes each — the free
# list's, then the main tree's, md_root at offset 40 of each —, last page, txnid),
# 64-bit build.
PAGEHDR = 16
META_PSIZE = PAGEHDR + 24
META_MAIN_ROOT = PAGEHDR + 24 + 48 + 40
META_LAST_PG = PAGEHDR + 120
META_TXNID = PAGEHDR + 128
P_LEAF, P_OVERFLOW, P_META = 0x02, 0x04, 0x08


def read_metas(path):
    """(psize, [(page offset, txnid, main root, last page)] for meta pages 0 and 1)."""
    with open(path, "rb") as f:
        data = f.read(2 * 65536)
    psize = struct.unpack_from("<I", data, META_PSIZE)[0]
    metas = []
    for i in (0, 1):
        off = i * psize
        metas.append((off, struct.unpack_from("<Q", data, off + META_TXNID)[0],
                      struct.unpack_from("<Q", data, off + META_MAIN_ROOT)[0],
                      struct.unpack_from("<Q", data, off + META_LAST_PG)[0]))
    return psize, metas


def newest_meta(path):
    psize, metas = read_metas(path)
    return psize, max(metas, key=lambda m: m[1])


def populated(broker, lead_time_days=7):
    """Seeds firms, two offers (one from each die caster) and a demand; returns the
    demand id. lead_time_days decides whether the certified caster's offer is eligible."""
    op = broker.client(operator=True)
    seed_walkthrough_firms(op)
    cert, plain, anchor = broker.client(SME_CERT), broker.client(SME_PLAIN), broker.client(ANCHOR)
    cert.call(post_offer=pb.PostOffer(offer=mg_offer(lead_time_days=lead_time_days)))
    plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
    d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
    for c in (op, cert, plain, anchor):
        c.close()
    return d


def shortlist(broker, demand):
    anchor = broker.client(ANCHOR)
    sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=demand)).shortlist
    anchor.close()
    return [(c.offer_id, round(c.score, 9)) for c in sl.candidates], sl.eligible


def verify(path):
    r = subprocess.run([GONGXUD, "--verify", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


class Damage(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.broker.start()
        self.demand = populated(self.broker)
        self.before = shortlist(self.broker, self.demand)
        self.assertEqual(self.broker.stop(), 0)  # a clean stop: engine.snap is saved
        self.data = os.path.join(self.broker.data_dir, "data.mdb")

    def tearDown(self):
        if self.broker.proc:
            self.broker.kill()
        self.broker.cleanup()

    def refused(self, what):
        """Starts gongxud on the damaged directory: it must exit 74 with one error line
        naming data.mdb, what is wrong and what to do; returns that line."""
        mark = len(self.broker.read_log_all())
        try:
            self.broker.start()
        except RuntimeError:
            pass
        else:
            self.broker.kill()
            self.fail("gongxud served a damaged store (%s)" % what)
        log = self.broker.read_log_all()[mark:]
        self.assertNotIn("Bus error", log)
        lines = [ln for ln in log.splitlines() if " err: " in ln]
        self.assertEqual(len(lines), 1, log)
        return lines[0].split(" err: ", 1)[1]

    def assert_refusal(self, what, path_what):
        msg = self.refused(what)
        self.assertEqual(msg, "refusing to start: %s %s. %s" % (self.data, path_what, ADVICE))
        rc, out = verify(self.broker.data_dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("DAMAGED: %s %s. %s" % (self.data, path_what, ADVICE), out)

    def test_zero_length_data_mdb_beside_the_key_files(self):
        open(self.data, "wb").close()
        self.assert_refusal("empty data.mdb", "is empty (0 bytes), but this data directory was initialised "
                            "(broker.key is there)")
        self.assertEqual(os.path.getsize(self.data), 0)  # nothing written, no fresh store created

    def test_flipped_byte_in_the_newest_meta_page(self):
        psize, (meta_off, txnid, root, last) = newest_meta(self.data)
        with open(self.data, "rb") as f:
            data = bytearray(f.read())
        # point the main root, by its low byte only, at a leaf page of another tree:
        # one that is no copy of the main tree (which names every table)
        target = None
        for low in range(256):
            p = (root & ~0xFF) | low
            if p == root or p < 2 or p > last or (p + 1) * psize > len(data):
                continue
            page = data[p * psize:(p + 1) * psize]
            flags = struct.unpack_from("<H", page, 10)[0]
            if flags & P_LEAF and not flags & (P_META | P_OVERFLOW) and b"first_match" not in page:
                target = p
                break
        self.assertIsNotNone(target, "no leaf page to point the root at")
        at = meta_off + META_MAIN_ROOT
        orig = data[at]
        data[at] = target & 0xFF
        with open(self.data, "wb") as f:
            f.write(data)
        self.assert_refusal("flipped meta byte", "has no 'meta' table in the tree its newest meta page (page %d, "
                            "transaction %d) points to: that meta page or the tree is damaged, or this is not a "
                            "gongxu store" % (meta_off // psize, txnid))
        with open(self.data, "rb") as f:
            self.assertEqual(f.read(), bytes(data))  # not written: the older meta page is intact too
        # the byte restored, everything is there
        data[at] = orig
        with open(self.data, "wb") as f:
            f.write(data)
        self.broker.start()
        self.assertEqual(shortlist(self.broker, self.demand), self.before)
        anchor = self.broker.client(ANCHOR)
        lst = anchor.call(list_postings=pb.ListPostings()).postings
        self.assertEqual([x.id for x in lst.demands], [self.demand])
        anchor.close()
        self.assertEqual(self.broker.stop(), 0)

    def truncated(self, size):
        psize, (_, txnid, _, last) = newest_meta(self.data)
        with open(self.data, "r+b") as f:
            f.truncate(size)
        self.assert_refusal("truncated to %d" % size, "is %d bytes, but its newest meta page (transaction %d) says "
                            "the store uses %d pages of %d bytes (%d bytes): the file was cut short"
                            % (size, txnid, last + 1, psize, (last + 1) * psize))
        self.assertEqual(os.path.getsize(self.data), size)

    def test_truncated_to_half(self):
        self.truncated(os.path.getsize(self.data) // 2)

    def test_truncated_to_8_kib(self):
        self.truncated(8192)

    def test_fifo_engine_snap_does_not_block_the_start(self):
        snap = os.path.join(self.broker.data_dir, "engine.snap")
        os.unlink(snap)
        os.mkfifo(snap)
        mark = len(self.broker.read_log_all())

        def unblock():  # a broker blocked in open() would keep the harness waiting for ever
            try:
                os.close(os.open(snap, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        timer = threading.Timer(20, unblock)
        timer.start()
        try:
            self.broker.start()  # open() must not wait for a writer
        finally:
            timer.cancel()
        log = self.broker.read_log_all()[mark:]
        self.assertIn("engine snapshot not used: %s is not a regular file; matching every pair" % snap, log)
        self.assertFalse(os.path.lexists(snap))
        self.assertEqual(shortlist(self.broker, self.demand), self.before)
        self.assertEqual(self.broker.stop(), 0)

    def test_stale_snapshot_tmp_is_removed_at_start(self):
        # what a crash leaves of a snapshot being written: at a stop (engine.snap.next.tmp
        # since issue 15; engine.snap.tmp from an older build) or by the child while serving
        tmps = [os.path.join(self.broker.data_dir, n) for n in ("engine.snap.tmp", "engine.snap.next.tmp")]
        for tmp in tmps:
            with open(tmp, "wb") as f:
                f.write(b"GXSNAP half written")
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.broker.read_log_all()[mark:]
        for tmp in tmps:
            self.assertIn("removed %s, left by a snapshot that was not finished" % tmp, log)
            self.assertFalse(os.path.lexists(tmp))
        self.assertRegex(log, r"engine restored from %s \(transaction \d+\)"
                         % re.escape(os.path.join(self.broker.data_dir, "engine.snap")))  # the finished one is used
        self.assertEqual(shortlist(self.broker, self.demand), self.before)
        self.assertEqual(self.broker.stop(), 0)

    def test_verify_healthy_and_refused_while_a_broker_runs(self):
        rc, out = verify(self.broker.data_dir)
        self.assertEqual(rc, 0, out)
        self.assertIn("healthy: every record decodes and every reference resolves", out)
        self.assertRegex(out, r"firms +3 +0\n")
        self.assertRegex(out, r"offers +2 +0\n")
        self.assertIn("cross-references: 0 broken", out)
        self.broker.start()
        rc, out = verify(self.broker.data_dir)
        self.assertEqual(rc, 2, out)
        self.assertIn("in use by another broker", out)
        self.assertEqual(self.broker.stop(), 0)
        rc, out = verify(os.path.join(self.broker.tmp, "no-such-dir"))
        self.assertEqual(rc, 2, out)

    def test_init_fresh_moves_a_damaged_store_aside_and_refuses_a_healthy_one(self):
        r = subprocess.run([GONGXUD, "-d", self.broker.data_dir, "--init-fresh", "-l", "tcp://127.0.0.1:*", "-m", "",
                            "-o", "http_listen=127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(r.returncode, EX_IOERR)
        self.assertIn("--init-fresh refused: the store in %s is not damaged, so nothing was changed"
                      % self.broker.data_dir, r.stderr.decode())
        with open(self.data, "r+b") as f:
            f.truncate(8192)
        self.broker.extra_args = ["--init-fresh"]
        mark = len(self.broker.read_log_all())
        self.broker.start()
        log = self.broker.read_log_all()[mark:]
        m = re.search(r"--init-fresh: moved the damaged store to (\S+/data\.mdb\.damaged-\d{8}T\d{6}) and created an "
                      r"empty store in " + re.escape(self.broker.data_dir), log)
        self.assertTrue(m, log)
        self.assertEqual(os.path.getsize(m.group(1)), 8192)
        self.assertIn("engine snapshot not used", log)  # the old store's snapshot is another store's now
        self.assertEqual(self.broker.stop(), 0)
        rc, out = verify(self.broker.data_dir)  # a new, empty store
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"firms +0 +0\n")


class ForeignSnapshot(unittest.TestCase):
    """Two data directories through the same sequence of transactions with
    different content: one's engine.snap, at the same transaction id, would hand
    the other shortlists that are not its own."""

    def test_foreign_snapshot_is_ignored_and_the_engine_rebuilt(self):
        a, b = Broker().start(), Broker().start()
        try:
            da = populated(a, lead_time_days=7)  # eligible
            db = populated(b, lead_time_days=3000)  # too slow for the needed-by date: not eligible
            self.assertEqual(da, db)
            sa, sb = shortlist(a, da), shortlist(b, db)
            self.assertNotEqual(sa, sb)
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            ta = newest_meta(os.path.join(a.data_dir, "data.mdb"))[1][1]
            tb = newest_meta(os.path.join(b.data_dir, "data.mdb"))[1][1]
            self.assertEqual(ta, tb, "the two stores must be at the same transaction id for this test")
            shutil.copyfile(os.path.join(a.data_dir, "engine.snap"), os.path.join(b.data_dir, "engine.snap"))
            mark = len(b.read_log_all())
            b.start()
            self.assertEqual(shortlist(b, db), sb)  # what a rebuild gives, not the other store's list
            log = b.read_log_all()[mark:]
            self.assertIn("engine snapshot not used: %s was written for another store (its store identity differs); "
                          "matching every pair" % os.path.join(b.data_dir, "engine.snap"), log)
            self.assertEqual(b.stop(), 0)
        finally:
            for x in (a, b):
                if x.proc:
                    x.kill()
                x.cleanup()


class VerifyBackup(unittest.TestCase):
    def test_a_backup_passes_verify_and_a_broken_reference_is_named(self):
        with Broker() as broker:
            populated(broker)
            op = broker.client(operator=True)
            dest = os.path.join(tempfile.mkdtemp(dir=broker.tmp), "copy")
            op.call(backup=pb.Backup(dest=dest))
            op.close()
            rc, out = verify(dest)
            self.assertEqual(rc, 0, out)
            self.assertIn("healthy", out)
            self.assertTrue(shutil.which("mdb_dump") and shutil.which("mdb_load"),
                            "mdb_dump/mdb_load: lmdb-utils is a test dependency (scripts/deps.sh test)")
            # the same store without the certified caster's firm record: its offer,
            # keys, cursor and notices now name a firm that does not exist
            dump = subprocess.run(["mdb_dump", "-a", dest], stdout=subprocess.PIPE, check=True).stdout.decode()
            key = " " + SME_CERT.encode().hex() + "\n"
            section = dump.index("database=firms\n")
            at = dump.index(key, section)
            value_end = dump.index("\n", at + len(key))
            broken = dump[:at] + dump[value_end + 1:]
            bad = os.path.join(broker.tmp, "broken")
            os.mkdir(bad)
            subprocess.run(["mdb_load", bad], input=broken.encode(), check=True)
            rc, out = verify(bad)
            self.assertEqual(rc, 1, out)
            self.assertRegex(out, r"offers: offer \d+ names firm %s, which does not exist" % SME_CERT)
            self.assertRegex(out, r"keys: key \S{40} names firm %s, which does not exist" % SME_CERT)
            self.assertRegex(out, r"DAMAGED: 0 bad records, \d+ broken references")
            # and without the first entry of the owner index: that posting is missing from it
            section = dump.index("database=owned\n")
            at = dump.index("\n ", dump.index("HEADER=END\n", section)) + 1
            value_end = dump.index("\n", dump.index("\n", at) + 1)
            unindexed = os.path.join(broker.tmp, "unindexed")
            os.mkdir(unindexed)
            subprocess.run(["mdb_load", unindexed], input=(dump[:at] + dump[value_end + 1:]).encode(), check=True)
            rc, out = verify(unindexed)
            self.assertEqual(rc, 1, out)
            self.assertRegex(out, r"(demand|offer|subscription) \d+ \(open\) is missing from its owner's index")


if __name__ == "__main__":
    main()
