"""Delivery under stress: a consumer that stops reading never blocks the broker
or other firms, and gets everything later; `gongxu watch` rides out a broker
restart without losing or repeating a notice."""
import os
import subprocess
import time
import unittest
import urllib.request

from gxharness import ANCHOR, GONGXU, SME_CERT, Broker, body_of, free_port, main, mg_demand, mg_offer, pb, seed_walkthrough_firms


class Delivery(unittest.TestCase):
    def test_stalled_consumer_blocks_nobody_and_loses_nothing(self):
        with Broker(extra_args=["-o", "delivery_window=20"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            sme.resume(from_last_ack=True)  # ... and then reads nothing
            anchor = broker.client(ANCHOR)
            slowest = 0
            for i in range(60):
                t = time.perf_counter()
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="d%d" % i)))
                slowest = max(slowest, time.perf_counter() - t)
            self.assertLess(slowest, 2.0)  # not a benchmark: only "never blocked"
            got = sme.drain(0.5)
            self.assertEqual([n.seq for n in got], list(range(1, 21)))  # the window: the rest wait in the inbox
            sme.ack(20)
            got += sme.drain(0.5)
            sme.ack(40)
            got += sme.drain(0.5)
            self.assertEqual([n.seq for n in got], list(range(1, 61)))
            self.assertEqual([n.opportunity.demand.title for n in got], ["d%d" % i for i in range(60)])
            for c in (op, sme, anchor):
                c.close()

    def test_resuming_again_and_again_does_not_reopen_the_window(self):
        # A Resume after the newest notice used to count as an acknowledgement, so
        # Resume(head), Resume(0), Resume(head), ... queued another window each time
        # on a connection that reads nothing.
        with Broker(extra_args=["-o", "delivery_window=10"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            for i in range(30):
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="d%d" % i)))
            head = sme.resume(after=0).head_seq
            self.assertEqual(head, 30)
            for _ in range(20):  # neither reads nor acknowledges
                sme.resume(after=head)
                sme.resume(after=0)
            got = sme.drain(0.5)  # everything queued for this connection arrives now
            self.assertEqual(len([n for n in got if n.seq <= 10]), len(got))
            self.assertLessEqual(len(got), 10, [n.seq for n in got])
            # an acknowledgement is the one thing that opens the window; then a resume is served
            sme.ack(10)
            sme.resume(after=10)
            got = sme.drain(0.5)
            self.assertEqual([n.seq for n in got], list(range(11, 21)))
            for c in (op, sme, anchor):
                c.close()

    def test_connections_gone_with_notices_in_flight_do_not_starve_their_firm(self):
        # ZeroMQ does not tell the broker a client went away: each connection that
        # closed with notices unacknowledged left its session holding its share of
        # the firm's window (firm_window_bytes), and after two of them the firm's
        # next connection got nothing, for ever. Now a firm held back by its window
        # has the sessions holding it probed, and a gone one is dropped.
        with Broker(extra_args=["-o", "delivery_window_bytes=4096", "-o", "firm_window_bytes=8192"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            for i in range(40):
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="d%d" % i)))
            # a watcher that stays, reads and acknowledges nothing: it holds a session window
            stays = broker.client(SME_CERT)
            stays.resume(after=0)
            held = stays.drain(0.5)
            self.assertTrue(held)
            for _ in range(4):  # connections that go away mid-delivery, unacknowledged
                gone = broker.client(SME_CERT)
                gone.resume(after=0)
                gone.drain(0.3)
                gone.close()
            last = broker.client(SME_CERT)
            last.resume(after=0)
            got = last.drain(1.5)
            self.assertTrue(got, "the firm's newest connection got nothing: gone sessions hold its window")
            self.assertEqual([n.seq for n in got], list(range(1, len(got) + 1)))
            # the watcher that stayed was probed, not dropped: it still answers and is served
            sme.close()
            stays.call(ping=pb.Ping())
            stays.ack(held[-1].seq)
            more = stays.drain(1.0)
            self.assertTrue(more and more[0].seq == held[-1].seq + 1, [n.seq for n in more])
            with urllib.request.urlopen(broker.http + "/metrics", timeout=5) as r:
                text = r.read().decode()
            gone_total = [l for l in text.splitlines() if l.startswith("gongxu_sessions_gone_total ")]
            self.assertTrue(gone_total and int(gone_total[0].split()[1]) >= 1, gone_total)
            for c in (op, anchor, stays, last):
                c.close()

    def test_retention_by_age_is_told_not_silent(self):
        with Broker(extra_args=["-o", "inbox_max_age_s=2", "-o", "retention_interval_ms=200"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            for i in range(3):
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="old %d" % i)))
            time.sleep(3.5)  # the three notices pass inbox_max_age_s, unread and unacked
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="young")))
            got = sme.request(resume=pb.Resume(from_last_ack=True))
            self.assertEqual(got.error.code, pb.ERR_RESUME_GAP)  # said so, not silently skipped
            self.assertIn("past retention", got.error.message)
            self.assertEqual(sme.resume(after=3).resumed_after, 3)
            got = sme.wait_notices(1)
            self.assertEqual([(n.seq, n.opportunity.demand.title) for n in got], [(4, "young")])
            self.assertIn("older than 2 s dropped", broker.read_log())
            for c in (op, sme, anchor):
                c.close()

    def test_retention_by_count(self):
        """inbox_max caps a firm that never acks; inbox_keep_acked prunes what was acked."""
        with Broker(extra_args=["-o", "inbox_max=100", "-o", "inbox_keep_acked=5"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            for i in range(110):  # 110 opportunities for an SME that reads nothing
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="n%d" % i)))
            got = sme.request(resume=pb.Resume(after_seq=0))
            self.assertEqual(got.error.code, pb.ERR_RESUME_GAP)  # the oldest ten are gone, and it says so
            info = sme.resume(after=10)
            self.assertEqual((info.resumed_after, info.head_seq), (10, 110))
            got = sme.drain(0.5)
            self.assertEqual([n.seq for n in got], list(range(11, 111)))
            sme.ack(100)  # keep only the last 5 acknowledged: 96..100, and the unacked 101..110
            self.assertEqual(sme.request(resume=pb.Resume(after_seq=90)).error.code, pb.ERR_RESUME_GAP)
            # 101..110 are in flight on this connection: a resume here does not queue them again
            self.assertEqual(sme.resume(after=95).resumed_after, 95)
            self.assertEqual(sme.drain(0.5), [])
            again = broker.client(SME_CERT)  # a new connection replays them
            self.assertEqual(again.resume(after=95).resumed_after, 95)
            self.assertEqual([n.seq for n in again.drain(0.5)], list(range(96, 111)))
            again.close()
            for c in (op, sme, anchor):
                c.close()

    def test_watch_survives_a_broker_restart(self):
        port = free_port()
        endpoint = "tcp://127.0.0.1:%d" % port
        broker = Broker(extra_args=["-l", endpoint]).start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
            keyfile = broker.keyfile(SME_CERT)
            env = dict(os.environ, GONGXU_SERVER_KEY=os.path.join(broker.data_dir, "broker.pub"))
            watch = subprocess.Popen([GONGXU, "-s", endpoint, "--key", keyfile, "--json", "watch", "--count", "3",
                                      "--timeout", "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            anchor = broker.client(ANCHOR)
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="before")))
            time.sleep(1.0)  # watch prints and acks #1
            for c in (op, sme, anchor):
                c.close()
            self.assertEqual(broker.stop(), 0)
            time.sleep(0.5)
            broker.start()  # same data dir, same port, same keys
            anchor = broker.client(ANCHOR)
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="after 1")))
            anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="after 2")))
            out, err = watch.communicate(timeout=60)
            self.assertEqual(watch.returncode, 0, err)
            notices = [l for l in out.decode().splitlines() if l.strip()]
            self.assertEqual(len(notices), 3, out)
            for title in ("before", "after 1", "after 2"):
                self.assertEqual(sum(title in l for l in notices), 1, out)  # each once
            anchor.close()
        finally:
            if broker.proc:
                broker.stop()
            broker.cleanup()


if __name__ == "__main__":
    main()
