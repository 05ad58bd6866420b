"""A full store: the map grows up to map_max_mb, then writes are refused with
STORAGE_FULL while reads and deliveries go on; a refused write is never
acknowledged and never shows up later."""
import unittest

from gxharness import ANCHOR, SME_CERT, Broker, body_of, main, mg_demand, mg_offer, pb, seed_walkthrough_firms


class Storage(unittest.TestCase):
    def test_full_map_refuses_writes_keeps_reads_and_deliveries(self):
        broker = Broker(extra_args=["-o", "map_size_mb=1", "-o", "map_max_mb=2", "-o", "max_text_bytes=65536"]).start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme, anchor = broker.client(SME_CERT), broker.client(ANCHOR)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.resume(from_last_ack=True)
            acked, refused = [], 0
            for i in range(200):  # 60 KB each: 2 MiB fills within ~35
                got = anchor.request(post_demand=pb.PostDemand(demand=mg_demand(title="d%d" % i, details="x" * 60000)))
                if got.WhichOneof("body") == "error":
                    self.assertEqual(got.error.code, pb.ERR_STORAGE_FULL)
                    self.assertIn("nothing was changed", got.error.message)
                    refused += 1
                    if refused == 3:
                        break
                else:
                    acked.append(got.reply.posting.id)
            self.assertEqual(refused, 3, "the store never filled")
            self.assertGreater(len(acked), 16)  # the map grew past its first 1 MiB before refusing
            # reads go on
            self.assertEqual(anchor.call(get_posting=pb.GetPosting(posting_id=acked[0])).view.demand.title, "d0")
            self.assertEqual(anchor.call(get_shortlist=pb.GetShortlist(demand_id=acked[-1])).shortlist.eligible, 1)
            # deliveries go on: every acknowledged demand's opportunity reaches the SME
            got = sme.drain(0.5)
            self.assertEqual([n.opportunity.demand.id for n in got if body_of(n) == "opportunity"], acked)
            for c in (op, sme, anchor):
                c.close()
            self.assertEqual(broker.stop(), 0)
            broker.extra_args = ["-o", "map_size_mb=1", "-o", "map_max_mb=64", "-o", "max_text_bytes=65536"]
            broker.start()  # more room: acknowledged data intact, refused writes absent, writes work again
            anchor = broker.client(ANCHOR)
            ids = [d.id for d in anchor.call(list_postings=pb.ListPostings()).postings.demands]
            self.assertEqual(ids[:len(acked)], acked[:len(ids)])
            self.assertEqual(len([d for d in ids if d not in acked]), 0)
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="after", details="x" * 60000)))
            anchor.close()
        finally:
            if broker.proc:
                broker.stop()
            broker.cleanup()


if __name__ == "__main__":
    main()
