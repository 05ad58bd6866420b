"""Per-firm caps with clear error replies: open postings, request rate, sessions."""
import json
import subprocess
import time
import unittest

from gxharness import ANCHOR, GONGXU, SME_CERT, Broker, Refused, cli_env, main, mg_demand, mg_offer, pb, \
    seed_walkthrough_firms


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

    def test_resumed_watcher_survives_another_firm_opening_many(self):
        """sessions_max reached by ANCHOR's resumed connections: SME_CERT's one watcher stays, ANCHOR's go, told."""
        with Broker(extra_args=["-o", "sessions_max=4"]) as broker:
            op = broker.client(operator=True)  # an operator session too
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.resume(after=0)
            many = []
            for _ in range(8):  # each resumed: as "live" as the watcher
                c = broker.client(ANCHOR)
                c.resume(after=0)
                many.append(c)
            many[-1].call(post_demand=pb.PostDemand(demand=mg_demand()))
            got = sme.wait_notices(1, timeout=5)
            self.assertEqual([n.WhichOneof("body") for n in got], ["opportunity"], "the watcher was evicted")
            told = 0
            for c in many[:-2]:  # the oldest of ANCHOR's were evicted, and each was told
                try:
                    env = c.recv_envelope(2)
                except TimeoutError:
                    continue
                while env.WhichOneof("body") == "notice":
                    env = c.recv_envelope(2)
                self.assertEqual((env.request_id, env.WhichOneof("body"), env.error.code), (0, "error", pb.ERR_EVICTED))
                self.assertIn("sessions_max", env.error.message)
                told += 1
            self.assertGreaterEqual(told, 4)
            for c in many + [sme, op]:
                c.close()

    def test_an_older_client_is_not_told_unasked_and_is_served_again(self):
        """A client whose Hello does not say it handles an unasked ERR_EVICTED (one built before it
        existed) would take it for the answer to its pending call: it is not sent one, and its next
        request opens a new session and is served, as before."""
        with Broker(extra_args=["-o", "sessions_max=2"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            op.close()
            old = broker.client(SME_CERT, evicted_ok=False)
            new = [broker.client(ANCHOR), broker.client(ANCHOR)]  # the second evicts the older client's
            self.assertIn("session of firm %s evicted" % SME_CERT, broker.read_log_all())
            with self.assertRaises(TimeoutError):
                old.recv_envelope(1.0)  # nothing unasked
            got = old.request(ping=pb.Ping())  # served: the key opens a new session
            self.assertEqual(got.WhichOneof("body"), "reply", got)
            for c in new + [old]:
                c.close()

    def test_evicted_watch_resumes_without_loss(self):
        """The client library (gongxu watch) is told it was evicted, says Hello, resumes, and misses nothing."""
        with Broker(extra_args=["-o", "sessions_max=3"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            op.close()
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.close()
            anchor = broker.client(ANCHOR)
            watch = subprocess.Popen([GONGXU, "-s", broker.endpoint, "--key", broker.keyfile(SME_CERT), "--json",
                                      "watch", "--count", "3", "--timeout", "30"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=cli_env(broker))
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="one")))
            time.sleep(1.0)  # the watch has it
            # SME_CERT opens another that follows its notices too, then one more: its firm now
            # holds the most sessions, none of them idle, and the watch is the oldest of them.
            # (When the watch comes back, the idle newcomer makes room for it.)
            others = [broker.client(SME_CERT)]
            others[0].resume(from_last_ack=True)
            others.append(broker.client(SME_CERT))
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="two")))
            time.sleep(1.0)
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="three")))
            out, err = watch.communicate(timeout=40)
            seqs = [json.loads(x)["seq"] for x in out.decode().splitlines() if x.strip()]
            self.assertEqual(watch.returncode, 0, err.decode())
            self.assertEqual([int(s) for s in seqs], [1, 2, 3])
            self.assertIn("evicted (sessions_max 3), a resumed one", broker.read_log_all())  # the watch itself
            for c in others + [anchor]:
                c.close()


if __name__ == "__main__":
    main()
