"""Notices are stored as what they are about and rendered when delivered
(issue 14, item 3): the inbox holds compact facts; a delivered Opportunity,
NearMiss and CandidateAdded carry the same explanation, rank, score and hint as
the pair's explanation in the shortlist; a notice delivered after its demand
changed is shown as it is now and says so (Notice.changed_since); notices
survive kill -9 and render the same after it; a damaged record is named by
gongxud --verify and delivered as a notice that says it is damaged, not a
crash; a record written by the previous build (a whole Envelope) is delivered
as it was written."""
import os
import shutil
import subprocess
import time
import unittest

from gxharness import (ANCHOR, GONGXUD, SME_CERT, SME_PLAIN, Broker, body_of, firm, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)

CN = 8 * 3600  # 'today' is the civil date in China (utc_offset_minutes = 480)


def cn_day():
    return int((time.time() + CN) // 86400)


def dump_store(data_dir):
    """mdb_dump -a of a stopped broker's data directory (lmdb-utils is a test dependency)."""
    if not (shutil.which("mdb_dump") and shutil.which("mdb_load")):
        raise AssertionError("mdb_dump/mdb_load: lmdb-utils is a test dependency (scripts/deps.sh test)")
    return subprocess.run(["mdb_dump", "-a", data_dir], stdout=subprocess.PIPE, check=True).stdout.decode()


def inbox_records(dump):
    """[(key hex, value hex)] of the inbox database in an mdb_dump text."""
    section = dump.index("database=inbox\n")
    body = dump.index("HEADER=END\n", section) + len("HEADER=END\n")
    end = dump.index("DATA=END\n", body)
    lines = dump[body:end].split("\n")[:-1]
    return [(lines[i].strip(), lines[i + 1].strip()) for i in range(0, len(lines), 2)]


def replace_inbox_value(dump, key_hex, value_hex):
    section = dump.index("database=inbox\n")
    at = dump.index(" " + key_hex + "\n", section) + len(key_hex) + 2
    end = dump.index("\n", at)
    return dump[:at] + " " + value_hex + dump[end:]


def reload_store(data_dir, dump):
    """Replaces the stopped broker's data.mdb by the dump's (engine.snap goes too: the engine is rebuilt)."""
    for name in ("data.mdb", "lock.mdb", "engine.snap"):
        if os.path.exists(os.path.join(data_dir, name)):
            os.remove(os.path.join(data_dir, name))
    subprocess.run(["mdb_load", data_dir], input=dump.encode(), stderr=subprocess.DEVNULL, check=True)


def verify(path):
    r = subprocess.run([GONGXUD, "--verify", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


class Notices(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        op = self.broker.client(operator=True)
        seed_walkthrough_firms(op)
        op.close()

    def tearDown(self):
        if self.broker.proc:
            self.assertEqual(self.broker.stop(), 0)
        self.broker.cleanup()

    def populate(self):
        """A certified caster's offer (eligible), an uncertified one's (a near miss
        on IATF16949) and the anchor's demand; nobody connected to take notices."""
        cert, plain, anchor = (self.broker.client(f) for f in (SME_CERT, SME_PLAIN, ANCHOR))
        self.o1 = cert.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        self.o2 = plain.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        self.d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        for c in (cert, plain, anchor):
            c.close()

    def notices_of(self, firm, count):
        c = self.broker.client(firm)
        c.resume(after=0)
        got = c.wait_notices(count, timeout=10)
        got += c.drain(0.3)  # and any more than expected
        c.close()
        return got

    def test_delivered_notices_equal_the_explanations_of_the_pairs(self):
        day = cn_day()
        self.populate()
        anchor = self.broker.client(ANCHOR)
        sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=self.d)).shortlist
        anchor.close()
        added = [n for n in self.notices_of(ANCHOR, 1) if body_of(n) == "candidate_added"]
        opp = self.notices_of(SME_CERT, 1)
        near = self.notices_of(SME_PLAIN, 1)
        if cn_day() != day:
            self.skipTest("the day changed in China during the test: date-dependent lines differ")
        self.assertEqual([c.offer_id for c in sl.candidates], [self.o1])
        want = sl.candidates[0]
        # CandidateAdded to the anchor: the shortlist's own candidate, explanation and all
        self.assertEqual(len(added), 1)
        self.assertEqual(added[0].candidate_added.demand_id, self.d)
        self.assertEqual(added[0].candidate_added.candidate, want)
        self.assertEqual(added[0].changed_since, "")
        # Opportunity to the certified caster: the same explanation, its rank, the demand's summary
        self.assertEqual([body_of(n) for n in opp], ["opportunity"])
        o = opp[0].opportunity
        self.assertEqual((o.offer_id, o.rank, o.subscription_id), (self.o1, 1, 0))
        self.assertEqual(o.explanation, want.explanation)
        self.assertEqual((o.demand.id, o.demand.revision, o.demand.state), (self.d, 1, pb.OPEN))
        self.assertEqual((o.demand.owner, o.demand.owner_name, o.demand.owner_district),
                         (ANCHOR, "Hebi Auto Electronics", "hebi.etdz"))
        self.assertEqual((o.demand.title, o.demand.summary, o.demand.quantity, o.demand.unit),
                         ("Magnesium ECU housings", "AZ91D housings for an engine control unit", 5000, "pcs"))
        self.assertEqual(list(o.demand.certifications), ["IATF16949"])
        self.assertEqual(opp[0].changed_since, "")
        # NearMiss to the uncertified caster: one rule short, its hint, the rule's line
        self.assertEqual([body_of(n) for n in near], ["near_miss"])
        m = near[0].near_miss
        self.assertEqual((m.offer_id, m.rule, m.demand.id), (self.o2, pb.RULE_CERTIFICATION, self.d))
        self.assertEqual(m.hint, "add IATF16949 to qualify")
        failed = [r for r in m.explanation.rules if not getattr(r, "pass")]
        self.assertEqual([r.rule for r in failed], [pb.RULE_CERTIFICATION])
        self.assertEqual(near[0].changed_since, "")
        # the lines that do not depend on the firm read as in the eligible pair's explanation
        same = {pb.RULE_KIND, pb.RULE_PROCESS, pb.RULE_MATERIAL}
        self.assertEqual([r for r in m.explanation.rules if r.rule in same],
                         [r for r in want.explanation.rules if r.rule in same])

    def test_notice_delivered_after_its_demand_changed_says_so(self):
        self.populate()
        anchor = self.broker.client(ANCHOR)
        upd = mg_demand(title="Magnesium ECU housings, second lot", quantity=6000)
        upd.id = self.d
        self.assertEqual(anchor.call(update_demand=pb.UpdateDemand(demand=upd)).posting.revision, 2)
        anchor.close()
        got = self.notices_of(SME_CERT, 2)
        self.assertEqual([body_of(n) for n in got], ["opportunity", "demand_updated"])
        opp, updated = got
        # written at revision 1, shown as it is now, and it says so
        self.assertEqual(opp.opportunity.demand.revision, 2)
        self.assertEqual(opp.opportunity.demand.title, "Magnesium ECU housings, second lot")
        self.assertEqual(opp.changed_since,
                         "demand %d changed since this notice (revision 1 then, 2 now); shown as it is now, "
                         "see the notice of that change" % self.d)
        # the change's own notice is current
        self.assertEqual(updated.changed_since, "")
        self.assertEqual(updated.demand_updated.demand.revision, 2)
        self.assertTrue(updated.demand_updated.still_eligible)

    def test_notice_about_a_withdrawn_offer_says_so(self):
        self.populate()
        cert = self.broker.client(SME_CERT)
        cert.call(withdraw=pb.Withdraw(posting_id=self.o1))
        cert.close()
        added = [n for n in self.notices_of(ANCHOR, 2) if body_of(n) == "candidate_added"]
        self.assertEqual(len(added), 1)
        self.assertEqual(added[0].candidate_added.candidate.offer_id, self.o1)
        self.assertEqual(added[0].changed_since, "offer %d is withdrawn now; shown as it is now" % self.o1)

    def test_notice_delivered_after_a_firm_changed_says_so(self):
        self.populate()
        op = self.broker.client(operator=True)
        op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_CERT, "Qibin Magnesium Die Casting Co.", "410611", "", pb.CREDIT_B,
            [("IATF16949", "2028-06-30"), ("ISO9001", "2028-06-30")], 35.75, 114.30,
            contact="sales@qbmg.example")))
        op.close()
        got = [n for n in self.notices_of(SME_CERT, 1) if body_of(n) == "opportunity"]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].changed_since,
                         "a firm's record (name, place, grade, certificates, track record or contact) changed "
                         "since this notice; shown as it is now")

    def test_notices_survive_kill_9_and_render_the_same(self):
        day = cn_day()
        self.populate()
        before = {f: [n.SerializeToString() for n in self.notices_of(f, 1)] for f in (ANCHOR, SME_CERT, SME_PLAIN)}
        self.broker.kill()
        self.broker.start()
        after = {f: [n.SerializeToString() for n in self.notices_of(f, len(before[f]))]
                 for f in (ANCHOR, SME_CERT, SME_PLAIN)}
        if cn_day() != day:
            self.skipTest("the day changed in China during the test")
        self.assertEqual([len(before[f]) for f in (ANCHOR, SME_CERT, SME_PLAIN)], [1, 1, 1])
        self.assertEqual(after, before)

    def test_inbox_records_are_compact_facts(self):
        self.populate()
        self.assertEqual(self.broker.stop(), 0)
        records = inbox_records(dump_store(self.broker.data_dir))
        self.assertGreaterEqual(len(records), 3)  # CandidateAdded, Opportunity, NearMiss
        sizes = [len(v) // 2 for _, v in records]
        print("inbox record sizes (bytes):", sizes)
        for _, v in records:
            self.assertEqual(v[:2], "01")  # format byte: fact, version 1
        self.assertLessEqual(max(sizes), 64)  # a full Notice with its explanation is 1-3 KB

    def damaged_store(self, value_hex_of):
        """Stops the broker, replaces the certified caster's first inbox record by
        value_hex_of(old hex) and loads the result in place."""
        self.populate()
        self.assertEqual(self.broker.stop(), 0)
        dump = dump_store(self.broker.data_dir)
        key = SME_CERT.encode().hex() + (1).to_bytes(8, "big").hex()
        old = dict(inbox_records(dump))[key]
        reload_store(self.broker.data_dir, replace_inbox_value(dump, key, value_hex_of(old)))

    def test_a_damaged_record_is_reported_and_does_not_stop_delivery(self):
        self.damaged_store(lambda old: old[:10])  # cut to 5 bytes
        rc, out = verify(self.broker.data_dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("notice 1 of %s does not decode" % SME_CERT, out)
        self.broker.start()
        got = self.notices_of(SME_CERT, 1)
        self.assertEqual(len(got), 1)
        self.assertEqual((got[0].seq, body_of(got[0])), (1, None))
        self.assertEqual(got[0].changed_since, "notice 1 could not be read: its stored record is damaged")
        self.assertIn("notice 1 in the store is damaged", self.broker.read_log_all())
        # the broker still serves, the other firms' notices too
        self.assertEqual([body_of(n) for n in self.notices_of(SME_PLAIN, 1)], ["near_miss"])

    def test_a_record_of_the_previous_format_is_delivered_as_written(self):
        def old_record():  # an Opportunity as the previous build stored it: the whole Envelope
            return pb.Envelope(version=1, notice=pb.Notice(seq=1, at=1700000000, opportunity=pb.Opportunity(
                demand=pb.DemandSummary(id=self.d, revision=1, title="written by the previous build"),
                offer_id=self.o1, rank=1, explanation=pb.Explanation(score=42.5))))
        self.damaged_store(lambda _: old_record().SerializeToString().hex())
        rc, out = verify(self.broker.data_dir)
        self.assertEqual(rc, 0, out)
        self.broker.start()
        got = self.notices_of(SME_CERT, 1)
        self.assertEqual([n.SerializeToString() for n in got], [old_record().notice.SerializeToString()])


if __name__ == "__main__":
    main()
