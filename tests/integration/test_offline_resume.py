"""An SME that was offline while matches happened gets every notice it missed,
in order, exactly once, when it resumes from its last ack."""
import unittest

from gxharness import (ANCHOR, SME_CERT, Broker, Client, body_of, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


class OfflineResume(unittest.TestCase):
    def test_offline_sme_resumes_in_order_once(self):
        with Broker() as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.close()  # the SME's laptop goes off

            anchor = broker.client(ANCHOR)
            ids = [anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="need %d" % i))).posting.id
                   for i in range(5)]
            anchor.call(withdraw=pb.Withdraw(posting_id=ids[4]))

            sme = broker.client(SME_CERT)
            info = sme.resume(from_last_ack=True)
            self.assertEqual(info.resumed_after, 0)
            self.assertEqual(info.head_seq, 6)
            got = sme.wait_notices(6)
            self.assertEqual([n.seq for n in got], [1, 2, 3, 4, 5, 6])
            self.assertEqual([n.opportunity.demand.id for n in got[:5]], ids)
            self.assertEqual(body_of(got[5]), "demand_withdrawn")
            self.assertEqual(sme.drain(0.5), [])  # nothing twice
            sme.ack(4)  # processed up to 4, then the laptop dies again
            sme.close()

            sme = broker.client(SME_CERT)
            info = sme.resume(from_last_ack=True)
            self.assertEqual(info.resumed_after, 4)
            got = sme.wait_notices(2)
            self.assertEqual([n.seq for n in got], [5, 6])
            sme.ack(6)
            sme.close()

            # a live session gets new notices pushed at once
            sme = broker.client(SME_CERT)
            sme.resume(from_last_ack=True)
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="live")))
            got = sme.wait_notices(1)
            self.assertEqual([n.seq for n in got], [7])
            self.assertEqual(got[0].opportunity.demand.title, "live")
            for c in (op, anchor, sme):
                c.close()

    def test_resume_after_explicit_seq_and_window(self):
        with Broker(extra_args=["-o", "delivery_window=3"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            for i in range(8):
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="n%d" % i)))
            sme.resume(after=2)
            first = sme.drain(0.5)  # the window lets three through without acks
            self.assertEqual([n.seq for n in first], [3, 4, 5])
            sme.ack(5)
            rest = sme.drain(0.5)
            self.assertEqual([n.seq for n in rest], [6, 7, 8])
            for c in (op, anchor, sme):
                c.close()


if __name__ == "__main__":
    main()
