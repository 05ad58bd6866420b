"""A broker restart — clean (SIGTERM) or a crash (SIGKILL) — keeps postings,
shortlists and inboxes: everything acknowledged before it."""
import unittest

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, Broker, Client, body_of, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


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


if __name__ == "__main__":
    main()
