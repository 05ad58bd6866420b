"""Docking: interest -> accept or decline -> details released only to the
accepted pair -> award, which closes or reduces the demand."""
import unittest

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, Broker, Client, Refused, body_of, main, mg_demand, mg_offer,
                       pb, seed_walkthrough_firms)


class Docking(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        op = self.broker.client(operator=True)
        seed_walkthrough_firms(op)
        op.close()
        self.anchor = self.broker.client(ANCHOR)
        self.cert = self.broker.client(SME_CERT)
        self.plain = self.broker.client(SME_PLAIN)
        self.offer = self.cert.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        self.demand = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        for c in (self.anchor, self.cert, self.plain):
            c.resume(from_last_ack=True)
            c.drain(0.3)

    def tearDown(self):
        for c in (self.anchor, self.cert, self.plain):
            c.close()
        self.broker.stop()
        self.broker.cleanup()

    def view(self, client):
        return client.call(get_posting=pb.GetPosting(posting_id=self.demand)).view.demand

    def test_accept_releases_details_to_the_pair_only(self):
        self.assertEqual(self.view(self.cert).details, "")  # not before acceptance
        self.cert.call(interest=pb.Interest(demand_id=self.demand, offer_id=self.offer, message="we can"))
        got = [n for n in self.anchor.drain() if body_of(n) == "interest_received"]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].interest_received.firm_id, SME_CERT)
        self.assertEqual(got[0].interest_received.message, "we can")
        self.assertTrue(got[0].interest_received.HasField("explanation"))
        self.anchor.call(accept=pb.Accept(demand_id=self.demand, firm_id=SME_CERT))
        rel = [n for n in self.cert.drain() if body_of(n) == "details_released"]
        self.assertEqual(len(rel), 1)
        self.assertEqual(rel[0].details_released.details, "drawing MG-42 rev C; 0.05 mm")
        self.assertEqual(rel[0].details_released.counterpart_contact, "procurement@anchor.example")
        rel = [n for n in self.anchor.drain() if body_of(n) == "details_released"]
        self.assertEqual(rel[0].details_released.counterpart_contact, "sales@qbmg.example")
        self.assertEqual(self.view(self.cert).details, "drawing MG-42 rev C; 0.05 mm")
        self.assertEqual(self.view(self.plain).details, "")  # a third firm still sees the summary only
        self.assertNotIn("MG-42", str(self.plain.drain()))

    def test_decline_tells_the_sme_and_award_needs_acceptance(self):
        self.plain.call(interest=pb.Interest(demand_id=self.demand, message="please"))
        self.anchor.call(decline=pb.Decline(demand_id=self.demand, firm_id=SME_PLAIN, reason="no IATF 16949"))
        got = [n for n in self.plain.drain() if body_of(n) == "interest_declined"]
        self.assertEqual(got[0].interest_declined.reason, "no IATF 16949")
        with self.assertRaises(Refused) as cm:
            self.anchor.call(award=pb.Award(demand_id=self.demand, firm_id=SME_PLAIN))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
        with self.assertRaises(Refused) as cm:  # answered once only
            self.anchor.call(accept=pb.Accept(demand_id=self.demand, firm_id=SME_PLAIN))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
        self.assertEqual(self.view(self.plain).details, "")

    def test_only_the_owner_answers_and_no_self_interest(self):
        self.cert.call(interest=pb.Interest(demand_id=self.demand))
        with self.assertRaises(Refused) as cm:
            self.plain.call(accept=pb.Accept(demand_id=self.demand, firm_id=SME_CERT))
        self.assertEqual(cm.exception.code, pb.ERR_FORBIDDEN)
        with self.assertRaises(Refused):
            self.anchor.call(interest=pb.Interest(demand_id=self.demand))
        with self.assertRaises(Refused) as cm:  # interest twice
            self.cert.call(interest=pb.Interest(demand_id=self.demand))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)

    def test_partial_then_full_award(self):
        self.cert.call(interest=pb.Interest(demand_id=self.demand, offer_id=self.offer))
        self.anchor.call(accept=pb.Accept(demand_id=self.demand, firm_id=SME_CERT))
        self.cert.drain(0.3)
        ref = self.anchor.call(award=pb.Award(demand_id=self.demand, firm_id=SME_CERT, quantity=2000)).posting
        self.assertEqual(ref.state, pb.OPEN)
        self.assertEqual(self.view(self.anchor).quantity, 3000)
        got = [n for n in self.cert.drain() if body_of(n) == "demand_awarded"]
        self.assertEqual(got[0].demand_awarded.awarded_quantity, 2000)
        ref = self.anchor.call(award=pb.Award(demand_id=self.demand, firm_id=SME_CERT)).posting
        self.assertEqual(ref.state, pb.AWARDED)
        got = [n for n in self.cert.drain() if body_of(n) == "demand_awarded"]
        self.assertEqual(got[0].demand_awarded.awarded_to, SME_CERT)
        self.assertEqual(self.cert.call(get_firm=pb.GetFirm(firm_id=SME_CERT)).firm.awards, 2)
        with self.assertRaises(Refused) as cm:
            self.anchor.call(award=pb.Award(demand_id=self.demand, firm_id=SME_CERT))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)


if __name__ == "__main__":
    main()
