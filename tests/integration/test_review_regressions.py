"""Regression tests for defects found in review, each named after what broke."""
import signal
import threading
import time
import unittest

import zmq

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, Broker, Client, Refused, body_of, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


class Regressions(unittest.TestCase):
    def test_refused_request_leaves_no_phantom_for_the_rest_of_its_batch(self):
        """A request refused with STORAGE_FULL had its engine change seen by the
        next request of the same batch: a durable notice about a demand that never
        was, and the refused posting's id handed out again."""
        with Broker(extra_args=["-o", "map_size_mb=1", "-o", "map_max_mb=1", "-o", "max_text_bytes=1048576",
                                "-o", "max_frame_bytes=2097152", "-o", "rate_per_firm=100000",
                                "-o", "rate_burst=100000"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            anchor, plain = broker.client(ANCHOR), broker.client(SME_PLAIN)
            plain.call(post_offer=pb.PostOffer(offer=mg_offer()))  # near-missed by both demands below
            broker.client(SME_CERT).call(post_offer=pb.PostOffer(offer=mg_offer()))  # matched by both
            plain.resume(from_last_ack=True)
            # The map cannot grow (map_max_mb = map_size_mb). A demand whose record
            # (its public summary) just fits leaves no room for what its matching
            # writes after the engine took it in (notices, told records): find that
            # size from above, a page at a time; every refusal leaves the store as it was.
            size, undone = 1000000, False
            while size > 4096 and not undone:
                mark = len(broker.read_log_all())
                try:
                    anchor.call(post_demand=pb.PostDemand(demand=mg_demand(summary="s" * size, title="probe")))
                    self.fail("a %d-byte summary fitted before one was refused after the engine took it" % size)
                except Refused as e:
                    self.assertEqual(e.code, pb.ERR_STORAGE_FULL)
                time.sleep(0.05)  # the log line of the refusal
                undone = "a refused request:" in broker.read_log_all()[mark:]
                size -= 4096 if not undone else 0
            self.assertTrue(undone, "no summary size made the request fail after its engine change")
            huge = mg_demand(summary="s" * size, title="phantom")
            small = mg_demand(title="real")
            # one connection, pipelined: one batch
            for rid, d in ((900, huge), (901, small)):
                anchor.sock.send(pb.Envelope(version=1, request_id=rid,
                                             post_demand=pb.PostDemand(demand=d)).SerializeToString())
            replies = {e.request_id: e for e in (anchor.recv_envelope(), anchor.recv_envelope())}
            self.assertEqual(replies[900].error.code, pb.ERR_STORAGE_FULL)
            self.assertEqual(replies[901].WhichOneof("body"), "reply", replies[901])
            real = replies[901].reply.posting.id
            view = anchor.call(get_posting=pb.GetPosting(posting_id=real)).view.demand
            self.assertEqual(view.title, "real")
            titles = [n.near_miss.demand.title for n in plain.drain(0.5)]
            self.assertEqual(titles, ["real"])  # told of the real demand, never of the phantom
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=real)).shortlist
            self.assertEqual(sl.demand_id, real)
            for c in (op, anchor, plain):
                c.close()

    def test_invalid_utf8_text_is_refused_not_stored(self):
        """Bytes that are not UTF-8 in a string were stored and broke other firms' decoders."""
        with Broker() as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            anchor = broker.client(ANCHOR)
            env = pb.Envelope(version=1, request_id=5, post_demand=pb.PostDemand(demand=mg_demand(title="TITLEX")))
            raw = env.SerializeToString().replace(b"TITLEX", b"\xff\xfe\xc0\x80xx")
            anchor.send_raw(raw)
            got = anchor.recv_envelope()
            self.assertEqual(got.error.code, pb.ERR_INVALID_FIELD)
            self.assertEqual(got.error.field, "demand.title")
            self.assertEqual(len(anchor.call(list_postings=pb.ListPostings()).postings.demands), 0)
            op.close()
            anchor.close()

    def test_eviction_spares_a_live_watcher(self):
        """With sessions_max reached, a new connection evicted a resumed watcher, which then hung."""
        with Broker(extra_args=["-o", "sessions_max=3"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.resume(from_last_ack=True)
            others = [broker.client(ANCHOR) for _ in range(4)]  # more connections than sessions_max
            others[-1].call(post_demand=pb.PostDemand(demand=mg_demand()))
            self.assertEqual([body_of(n) for n in sme.wait_notices(1)], ["opportunity"])
            for c in others + [op, sme]:
                c.close()

    def test_sigterm_stops_even_while_a_client_floods(self):
        """A client sending without pause kept the final drain going for ever."""
        broker = Broker(extra_args=["-o", "rate_per_firm=1000000", "-o", "rate_burst=1000000"]).start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            op.close()
            floods = [broker.flood(ANCHOR, 20) for _ in range(2)]
            time.sleep(1.0)
            started = time.time()
            try:
                self.assertEqual(broker.stop(timeout=10), 0)
            finally:
                for f in floods:
                    f.kill()
                    f.wait()
            self.assertLess(time.time() - started, 5)
        finally:
            broker.cleanup()

    def test_stale_revision_is_a_conflict(self):
        with Broker() as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            anchor = broker.client(ANCHOR)
            d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            upd = mg_demand(quantity=6000)
            upd.id, upd.revision = d, 1
            self.assertEqual(anchor.call(update_demand=pb.UpdateDemand(demand=upd)).posting.revision, 2)
            with self.assertRaises(Refused) as cm:  # still says revision 1
                anchor.call(update_demand=pb.UpdateDemand(demand=upd))
            self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
            op.close()
            anchor.close()


if __name__ == "__main__":
    main()
