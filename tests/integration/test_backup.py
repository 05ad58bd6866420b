"""Hot backup: an operator asks the running broker for a consistent copy; a
broker started on the copy has everything acknowledged before the backup."""
import os
import tempfile
import unittest

from gxharness import ANCHOR, SME_CERT, Broker, Refused, main, mg_demand, mg_offer, pb, seed_walkthrough_firms


class Backup(unittest.TestCase):
    def test_backup_while_serving_and_start_on_the_copy(self):
        with Broker() as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme, anchor = broker.client(SME_CERT), broker.client(ANCHOR)
            offers = [sme.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id for _ in range(5)]
            demand = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            dest = os.path.join(tempfile.mkdtemp(dir=broker.tmp), "copy")
            # a write and the backup pipelined: in one batch, the write transaction is open
            sme.sock.send(pb.Envelope(version=1, request_id=77, post_offer=pb.PostOffer(
                offer=mg_offer(title="during"))).SerializeToString())
            info = op.call(backup=pb.Backup(dest=dest)).backup
            self.assertEqual(info.dest, dest)
            self.assertGreater(info.bytes, 0)
            during = sme.recv_envelope()
            self.assertEqual(during.request_id, 77)
            after = sme.call(post_offer=pb.PostOffer(offer=mg_offer(title="after"))).posting.id
            with self.assertRaises(Refused) as cm:  # never over an existing backup
                op.call(backup=pb.Backup(dest=dest))
            self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
            with self.assertRaises(Refused) as cm:
                sme.call(backup=pb.Backup(dest=dest + "2"))
            self.assertEqual(cm.exception.code, pb.ERR_FORBIDDEN)
            for c in (op, sme, anchor):
                c.close()

            # key files are not in the store: the operator copies them with the backup
            for name in ("broker.key", "broker.pub", "operator.key", "operator_keys"):
                with open(os.path.join(broker.data_dir, name), "rb") as src, open(os.path.join(dest, name), "wb") as dst:
                    dst.write(src.read())
                os.chmod(os.path.join(dest, name), 0o600)
            copy = Broker(data_dir=dest).start()
            try:
                copy.keys = dict(broker.keys)  # the same firm keys are in the copied store
                op2 = copy.client(operator=True)
                lst = copy.client(SME_CERT).call(list_postings=pb.ListPostings()).postings
                ids = [o.id for o in lst.offers]
                for o in offers:
                    self.assertIn(o, ids)  # everything acknowledged before the backup
                self.assertNotIn(after, ids)  # and nothing after it
                sl = copy.client(ANCHOR).call(get_shortlist=pb.GetShortlist(demand_id=demand)).shortlist
                self.assertGreater(sl.eligible, 0)
                op2.close()
            finally:
                copy.stop()
                copy.cleanup()


if __name__ == "__main__":
    main()
