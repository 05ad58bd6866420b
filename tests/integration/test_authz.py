"""The authorization matrix, cell by cell, against a real gongxud with CURVE:
a firm changes only its own postings and subscriptions, reads only its own
inbox and shortlists, sees confidential details only after acceptance; the
operator alone registers firms and keys, reads statistics and the monitor.
Every refusal is FORBIDDEN and leaves no trace in the store."""
import unittest

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, Broker, Refused, body_of, firm, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


class Authz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        b = cls.broker = Broker().start()
        cls.op = b.client(operator=True)
        seed_walkthrough_firms(cls.op)
        cls.anchor = b.client(ANCHOR)      # owns the demand
        cls.sme = b.client(SME_CERT)       # owns the offer and the subscription
        cls.other = b.client(SME_PLAIN)    # owns nothing here
        cls.offer = cls.sme.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        cls.sub = cls.sme.call(subscribe=pb.Subscribe(subscription=pb.Subscription(kinds=[pb.PARTS_SUPPLY]))).posting.id
        cls.demand = cls.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id

    @classmethod
    def tearDownClass(cls):
        for c in (cls.op, cls.anchor, cls.sme, cls.other):
            c.close()
        rc = cls.broker.stop()
        cls.broker.cleanup()
        assert rc == 0

    def forbidden(self, client, **body):
        with self.assertRaises(Refused) as cm:
            client.call(**body)
        self.assertEqual(cm.exception.code, pb.ERR_FORBIDDEN, str(cm.exception))

    def snapshot(self):
        """What the store holds, as the operator sees it."""
        d = self.op.call(get_posting=pb.GetPosting(posting_id=self.demand)).view.demand
        o = self.op.call(get_posting=pb.GetPosting(posting_id=self.offer)).view.offer
        s = self.op.call(get_posting=pb.GetPosting(posting_id=self.sub)).view.subscription
        f = self.op.call(get_firm=pb.GetFirm(firm_id=SME_PLAIN)).firm
        return (d.SerializeToString(), o.SerializeToString(), s.SerializeToString(), f.SerializeToString())

    def test_refusals_leave_no_trace(self):
        before = self.snapshot()
        upd_d = mg_demand(quantity=1)
        upd_d.id = self.demand
        upd_o = mg_offer(monthly_capacity=1)
        upd_o.id = self.offer
        cells = [  # (who, request) that must be FORBIDDEN
            (self.other, dict(update_demand=pb.UpdateDemand(demand=upd_d))),
            (self.sme, dict(update_demand=pb.UpdateDemand(demand=upd_d))),
            (self.other, dict(withdraw=pb.Withdraw(posting_id=self.demand))),
            (self.anchor, dict(update_offer=pb.UpdateOffer(offer=upd_o))),
            (self.other, dict(withdraw=pb.Withdraw(posting_id=self.offer))),
            (self.other, dict(withdraw=pb.Withdraw(posting_id=self.sub))),
            (self.anchor, dict(withdraw=pb.Withdraw(posting_id=self.sub))),
            (self.other, dict(get_shortlist=pb.GetShortlist(demand_id=self.demand))),
            (self.sme, dict(get_shortlist=pb.GetShortlist(demand_id=self.demand))),
            (self.other, dict(get_posting=pb.GetPosting(posting_id=self.offer))),
            (self.other, dict(get_posting=pb.GetPosting(posting_id=self.sub))),
            (self.other, dict(accept=pb.Accept(demand_id=self.demand, firm_id=SME_CERT))),
            (self.sme, dict(decline=pb.Decline(demand_id=self.demand, firm_id=SME_CERT))),
            (self.other, dict(award=pb.Award(demand_id=self.demand, firm_id=SME_CERT))),
            (self.other, dict(register_firm=pb.RegisterFirm(firm=firm(SME_PLAIN, "renamed", "410611",
                                                                       credit=pb.CREDIT_A)))),
            (self.anchor, dict(get_stats=pb.GetStats())),
            (self.op, dict(post_demand=pb.PostDemand(demand=mg_demand()))),  # the operator is no firm
            (self.op, dict(post_offer=pb.PostOffer(offer=mg_offer()))),
        ]
        for who, body in cells:
            with self.subTest(request=list(body)[0]):
                self.forbidden(who, **body)
        self.assertEqual(self.snapshot(), before)
        # no id was consumed either: the next posting takes the next number
        nxt = self.other.call(subscribe=pb.Subscribe(subscription=pb.Subscription())).posting.id
        self.assertEqual(nxt, self.demand + 1)
        self.other.call(withdraw=pb.Withdraw(posting_id=nxt))

    def test_owners_and_operator_may(self):
        self.assertEqual(self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=self.demand)).shortlist.demand_id,
                         self.demand)
        self.assertEqual(self.op.call(get_shortlist=pb.GetShortlist(demand_id=self.demand)).shortlist.demand_id,
                         self.demand)
        self.assertEqual(self.sme.call(get_posting=pb.GetPosting(posting_id=self.offer)).view.offer.id, self.offer)
        self.assertEqual(self.op.call(get_posting=pb.GetPosting(posting_id=self.offer)).view.offer.id, self.offer)
        self.assertTrue(self.op.call(get_stats=pb.GetStats()).HasField("stats"))

    def test_confidential_details_and_contacts(self):
        view = lambda c: c.call(get_posting=pb.GetPosting(posting_id=self.demand)).view.demand
        self.assertEqual(view(self.other).details, "")  # public summary only
        self.assertEqual(view(self.other).summary, "AZ91D housings for an engine control unit")
        self.assertEqual(view(self.anchor).details, "drawing MG-42 rev C; 0.05 mm")
        self.assertEqual(view(self.op).details, "drawing MG-42 rev C; 0.05 mm")
        self.assertEqual(self.other.call(get_firm=pb.GetFirm(firm_id=ANCHOR)).firm.contact, "")
        self.assertEqual(self.anchor.call(get_firm=pb.GetFirm(firm_id=ANCHOR)).firm.contact,
                         "procurement@anchor.example")

    def test_each_firm_reads_only_its_own_inbox(self):
        own = [p.id for p in self.other.call(list_postings=pb.ListPostings()).postings.demands]
        self.assertEqual(own, [])
        self.other.resume(from_last_ack=True)
        seen = self.other.drain(0.5)
        self.assertTrue(all(body_of(n) == "near_miss" for n in seen), seen)  # its own near miss, nothing else
        for n in seen:
            self.other.ack(n.seq)
        # acking far ahead moves only its own cursor
        self.other.ack(10 ** 9)
        self.sme.resume(after=0)
        self.assertTrue(self.sme.wait_notices(1))


class DemandFields(unittest.TestCase):
    """Every field of a demand, read by its owner, an operator, a firm whose docking
    was accepted and any other firm: the table of the README's Security section."""
    OWNER_ONLY = {"budget", "min_credit", "max_distance_km", "max_suppliers", "original_quantity", "created_at"}

    def test_each_field_by_reader(self):
        b = Broker().start()
        clients = []
        try:
            op = b.client(operator=True)
            seed_walkthrough_firms(op)
            anchor, partner, other = b.client(ANCHOR), b.client(SME_CERT), b.client(SME_PLAIN)
            clients = [op, anchor, partner, other]
            offer = partner.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
            d = mg_demand(min_credit=pb.CREDIT_B, max_distance_km=80, splittable=True, max_suppliers=3)
            d.budget.min, d.budget.max = 18, 26
            demand = anchor.call(post_demand=pb.PostDemand(demand=d)).posting.id
            view = lambda c: c.call(get_posting=pb.GetPosting(posting_id=demand)).view.demand
            full = view(anchor)
            names = [f.name for f in pb.Demand.DESCRIPTOR.fields if f.name != "withheld"]
            for name in self.OWNER_ONLY | {"details"}:  # set, so that "hidden" is not "empty anyway"
                self.assertTrue(full.HasField(name) if name == "budget" else getattr(full, name), name)
            self.assertEqual(list(full.withheld), [])
            self.assertEqual(view(op), full)
            partner.call(interest=pb.Interest(demand_id=demand, offer_id=offer, message="we can"))
            anchor.call(accept=pb.Accept(demand_id=demand, firm_id=SME_CERT))
            for reader, hidden in ((other, self.OWNER_ONLY | {"details"}), (partner, self.OWNER_ONLY)):
                got = view(reader)
                self.assertEqual(sorted(got.withheld), sorted(hidden))
                for name in names:
                    if name in hidden:
                        if name == "budget":
                            self.assertFalse(got.HasField(name), name)
                        else:
                            self.assertEqual(getattr(got, name), getattr(pb.Demand(), name), name)
                    else:
                        self.assertEqual(getattr(got, name), getattr(full, name), name)
            self.assertEqual(view(other).summary, "AZ91D housings for an engine control unit")
            self.assertEqual(view(partner).details, "drawing MG-42 rev C; 0.05 mm")
        finally:
            for c in clients:
                c.close()
            b.stop()
            b.cleanup()


if __name__ == "__main__":
    main()
