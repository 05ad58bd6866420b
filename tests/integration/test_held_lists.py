"""The engine holds each demand's best 2K eligible offers, not every match: a
broker with shortlist_k 2 (four held) against one with shortlist_k 20 (every
match held) on the same postings, over real sockets. Shortlists, scores, the
eligible count and the proposed set must be the same as the top of the long
list after every change — offers arriving below the held ones, withdrawals
that empty the held list and make the engine find the rest again through its
index, an update that moves an offer down, a restart from the engine snapshot
and a start after kill -9 — and every eligible supplier is told its
Opportunity, held or not."""
import unittest
import urllib.request

from gxharness import ANCHOR, Broker, body_of, firm, main, mg_demand, mg_offer, pb, seed_walkthrough_firms, uscc

SMES = [uscc("91410611MA4%dHLDR%d" % (i, i)) for i in range(8)]


class HeldLists(unittest.TestCase):
    def setUp(self):
        self.small = Broker(extra_args=["-o", "shortlist_k=2"]).start()
        self.big = Broker(extra_args=["-o", "shortlist_k=20"]).start()
        self.clients = []
        for b in (self.small, self.big):
            op = b.client(operator=True)
            seed_walkthrough_firms(op)
            for i, fid in enumerate(SMES):
                op.call(register_firm=pb.RegisterFirm(firm=firm(
                    fid, "Held %d die casting" % i, "410611", "", pb.CREDIT_A if i % 2 else pb.CREDIT_B,
                    [("IATF16949", "2028-06-30")], 35.70 + 0.01 * i, 114.30)))
            op.close()

    def tearDown(self):
        for c in self.clients:
            c.close()
        for b in (self.small, self.big):
            b.stop()
            b.cleanup()

    def both(self, fid, **body):
        """The same request as fid on both brokers; the two replies."""
        out = []
        for b in (self.small, self.big):
            c = b.client(fid)
            out.append(c.call(**body))
            c.close()
        return out

    def offer(self, i, **over):
        o = mg_offer(lead_time_days=10 + 7 * i, monthly_capacity=9000 + 1500 * i, **over)
        a, b = self.both(SMES[i], post_offer=pb.PostOffer(offer=o))
        self.assertEqual(a.posting.id, b.posting.id)  # the same ids on both: the same sequence
        return a.posting.id

    def metrics(self, broker):
        with urllib.request.urlopen(broker.http + "/metrics", timeout=5) as r:
            lines = r.read().decode().splitlines()
        return {ln.split()[0]: float(ln.split()[1]) for ln in lines if ln and not ln.startswith("#")}

    def check(self, did, what):
        s, b = self.both(ANCHOR, get_shortlist=pb.GetShortlist(demand_id=did))
        s, b = s.shortlist, b.shortlist
        got = [(c.offer_id, c.score) for c in s.candidates]
        want = [(c.offer_id, c.score) for c in b.candidates][:2]
        self.assertEqual(got, want, what)
        self.assertEqual(s.eligible, b.eligible, what)
        self.assertEqual(s.eligible, len(b.candidates), what)  # the long list holds them all
        self.assertEqual([(c.offer_id, c.rank) for c in s.proposed_set],
                         [(c.offer_id, c.rank) for c in b.proposed_set], what)
        self.assertAlmostEqual(s.proposed_coverage, b.proposed_coverage, places=9, msg=what)
        return s

    def test_held_lists_equal_the_top_of_every_match(self):
        offers = [self.offer(i) for i in range(5)]
        # splittable, a quantity no one supplier covers by its needed-by date: the proposed set
        # reaches past the four held
        d = mg_demand(quantity=400000, splittable=True)
        a, b = self.both(ANCHOR, post_demand=pb.PostDemand(demand=d))
        did = a.posting.id
        self.assertEqual(a.posting.candidates, 2)
        s = self.check(did, "after the demand")
        self.assertEqual(s.eligible, 5)
        self.assertGreater(len(s.proposed_set), 4)
        # four held of the five, every one counted; the long list holds all five
        small, big = self.metrics(self.small), self.metrics(self.big)
        self.assertEqual((small["gongxu_matches"], small["gongxu_matches_held"]), (5, 4))
        self.assertEqual((big["gongxu_matches"], big["gongxu_matches_held"]), (5, 5))
        offers += [self.offer(i) for i in range(5, 8)]  # three more, some below the held four
        self.check(did, "after three more offers")
        # every eligible supplier was told, held or not
        for fid in SMES:
            c = self.small.client(fid)
            c.resume(after=0)
            told = [n for n in c.drain() if body_of(n) == "opportunity"]
            c.close()
            self.assertEqual(len(told), 1, fid)
        # withdraw from the top until the held list empties and is found again
        for k in range(5):
            top = self.check(did, "before withdrawal %d" % k).candidates[0]
            owner = SMES[offers.index(top.offer_id)]
            self.both(owner, withdraw=pb.Withdraw(posting_id=top.offer_id))
            self.check(did, "after withdrawing %d" % top.offer_id)
        self.assertGreater(self.metrics(self.small)["gongxu_engine_refills_total"], 0)
        # an update that moves a held offer down, below unheld ones
        left = self.check(did, "before the update").candidates
        owner = SMES[offers.index(left[0].offer_id)]
        o = mg_offer(lead_time_days=90, monthly_capacity=500)
        o.id = left[0].offer_id
        self.both(owner, update_offer=pb.UpdateOffer(offer=o))
        self.check(did, "after the update")
        # a restart from the snapshot, then a start that matches afresh after kill -9
        self.small.stop()
        self.small.start()
        self.check(did, "after a restart")
        self.small.kill()
        self.small.start()
        self.check(did, "after kill -9")


if __name__ == "__main__":
    main()
