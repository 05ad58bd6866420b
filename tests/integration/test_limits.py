"""Per-firm caps with clear error replies: open postings, request rate."""
import time
import unittest

from gxharness import ANCHOR, SME_CERT, Broker, Refused, main, mg_demand, mg_offer, pb, seed_walkthrough_firms


class Limits(unittest.TestCase):
    def test_open_postings_per_firm(self):
        broker = Broker(extra_args=["-o", "max_open_postings=3"]).start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            ids = [sme.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id for _ in range(2)]
            ids.append(sme.call(subscribe=pb.Subscribe(subscription=pb.Subscription())).posting.id)
            with self.assertRaises(Refused) as cm:
                sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            self.assertEqual(cm.exception.code, pb.ERR_TOO_LARGE)
            self.assertIn("max_open_postings", cm.exception.error.message)
            anchor = broker.client(ANCHOR)  # another firm has its own allowance
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand()))
            sme.call(withdraw=pb.Withdraw(posting_id=ids[0]))
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))  # room again
            for c in (op, sme, anchor):
                c.close()
            self.assertEqual(broker.stop(), 0)
            broker.start()  # the count is rebuilt from the store
            sme = broker.client(SME_CERT)
            with self.assertRaises(Refused) as cm:
                sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            self.assertEqual(cm.exception.code, pb.ERR_TOO_LARGE)
            sme.close()
        finally:
            if broker.proc:
                broker.stop()
            broker.cleanup()

    def test_rate_limit_reply(self):
        with Broker(extra_args=["-o", "rate_per_firm=5", "-o", "rate_burst=5"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            codes = [sme.request(ping=pb.Ping()).WhichOneof("body") for _ in range(20)]
            self.assertIn("error", codes)
            got = sme.request(ping=pb.Ping())
            self.assertEqual(got.error.code, pb.ERR_RATE_LIMITED)
            self.assertIn("rate_per_firm", got.error.message)
            op.close()
            sme.close()

    def test_handshake_rate(self):
        """New CURVE connections beyond handshakes_per_second are held back, not
        refused: every client gets in, just not all at once."""
        with Broker(extra_args=["-o", "handshakes_per_second=2"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            for f in (ANCHOR, SME_CERT):
                broker.client(f).close()  # register their keys first
            started = time.time()
            clients = [broker.client(ANCHOR if i % 2 else SME_CERT, hello=False) for i in range(6)]
            for c in clients:
                self.assertTrue(c.call(timeout=15, ping=pb.Ping()).HasField("pong"))
            elapsed = time.time() - started
            self.assertGreater(elapsed, 1.0)  # six handshakes at two a second cannot all pass at once
            self.assertIn("handshake held back", broker.read_log())
            for c in clients + [op]:
                c.close()


if __name__ == "__main__":
    main()
