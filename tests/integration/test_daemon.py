"""gongxud as an operator runs it: config file and flags, --check-config,
SIGHUP reload, graceful SIGTERM, and validity expiry enforced by its timer."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from gxharness import (ANCHOR, GONGXUD, SME_CERT, SME_PLAIN, Broker, Client, body_of, main, mg_demand, mg_offer,
                       pb, seed_walkthrough_firms)


def run(*args):
    return subprocess.run([GONGXUD] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


class Daemon(unittest.TestCase):
    def test_check_config(self):
        r = run("--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"configuration ok", r.stdout)
        self.assertIn(b"processes", r.stdout)
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("shortlist_k = 5\nweight_distance = -3\n")
        try:
            r = run("-c", f.name, "--check-config")
            self.assertEqual(r.returncode, 78)
            self.assertIn(b"line 2", r.stderr)
            self.assertIn(b"weight_distance", r.stderr)
        finally:
            os.unlink(f.name)
        r = run("-o", "no_such_key=1", "--check-config")
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"no such key", r.stderr)
        r = run("-o", "vocabulary=/nonexistent/vocab.tsv", "--check-config")
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"/nonexistent/vocab.tsv", r.stderr)
        r = run("--frobnicate")
        self.assertEqual(r.returncode, 64)

    def test_dump_config_documents_every_key(self):
        r = run("--dump-config")
        self.assertEqual(r.returncode, 0)
        for key in (b"listen", b"data_dir", b"shortlist_k", b"weight_distance", b"batch_max", b"no_sync"):
            self.assertIn(key + b" = ", r.stdout)

    def test_sighup_reloads_shortlist_k_and_sigterm_stops_cleanly(self):
        tmp = tempfile.mkdtemp()
        conf = os.path.join(tmp, "gongxud.conf")
        with open(conf, "w") as f:
            f.write("shortlist_k = 2\n")
        broker = Broker(extra_args=["-c", conf]).start()
        try:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            anchor = broker.client(ANCHOR)
            for sme in (SME_CERT, SME_CERT, SME_CERT):
                broker.client(sme).call(post_offer=pb.PostOffer(offer=mg_offer()))
            d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            self.assertEqual((len(sl.candidates), sl.eligible), (2, 3))
            with open(conf, "w") as f:
                f.write("shortlist_k = 3\nhwm = 5000\n")  # hwm needs a restart
            broker.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline:
                sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
                if len(sl.candidates) == 3:
                    break
                time.sleep(0.05)
            self.assertEqual(len(sl.candidates), 3)
            self.assertIn("need a restart: hwm", broker.read_log())
            for c in (op, anchor):
                c.close()
            self.assertEqual(broker.stop(), 0)
            self.assertIn("stopped after", broker.read_log())
        finally:
            broker.cleanup()

    def test_newer_schema_is_refused_with_a_clear_message(self):
        broker = Broker().start()
        try:
            self.assertEqual(broker.stop(), 0)
            # raise the stored schema version with Debian's lmdb-utils, as a newer broker would have
            dump = subprocess.run(["mdb_dump", "-s", "meta", broker.data_dir], stdout=subprocess.PIPE, check=True)
            lines = dump.stdout.decode().splitlines()
            at = lines.index(" " + b"schema".hex())
            self.assertEqual(lines[at + 1].strip(), "00000001")
            lines[at + 1] = " 00000063"  # schema 99
            subprocess.run(["mdb_load", "-s", "meta", broker.data_dir], input="\n".join(lines).encode() + b"\n",
                           check=True)
            r = subprocess.run([GONGXUD, "-d", broker.data_dir, "-l", "tcp://127.0.0.1:*", "-m", "",
                                "-o", "http_listen=127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(r.returncode, 74)
            self.assertIn(b"schema 99 is newer than this broker's 1", r.stderr)
        finally:
            broker.cleanup()

    def test_idle_broker_does_not_commit_on_expiry_ticks(self):
        broker = Broker(extra_args=["-o", "expiry_interval_ms=20"]).start()
        try:
            broker.client(operator=True).call(ping=pb.Ping())
            time.sleep(1.0)  # some fifty expiry ticks with nothing to expire
            self.assertEqual(broker.stop(), 0)
            self.assertRegex(broker.read_log(), r"stopped after \d+ requests, 0 notices, 0 commits")
        finally:
            broker.cleanup()

    def test_expiry_takes_postings_out_and_says_so(self):
        with Broker(extra_args=["-o", "expiry_interval_ms=100"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            cert = broker.client(SME_CERT)
            plain = broker.client(SME_PLAIN)
            anchor = broker.client(ANCHOR)
            plain.call(post_offer=pb.PostOffer(offer=mg_offer()))  # near-missed: lacks IATF 16949
            short = cert.call(post_offer=pb.PostOffer(offer=mg_offer(expires_at=int(time.time()) + 2))).posting.id
            lasting = cert.call(post_offer=pb.PostOffer(offer=mg_offer(lead_time_days=30))).posting.id
            d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            d2 = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(
                expires_at=int(time.time()) + 2, title="short-lived"))).posting.id
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            self.assertEqual(sorted(c.offer_id for c in sl.candidates), sorted([short, lasting]))
            for c in (anchor, cert, plain):
                c.resume(from_last_ack=True)
                c.drain(0.2)
            time.sleep(3.5)
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
            self.assertEqual([c.offer_id for c in sl.candidates], [lasting])
            got = anchor.drain(0.5)
            removed = [n.candidate_removed for n in got if body_of(n) == "candidate_removed"]
            self.assertIn((d, short, pb.OFFER_EXPIRED), [(r.demand_id, r.offer_id, r.reason) for r in removed])
            self.assertIn(d2, [n.demand_expired.demand.id for n in got if body_of(n) == "demand_expired"])
            got = cert.drain(0.5)
            self.assertIn(short, [n.offer_expired.offer_id for n in got if body_of(n) == "offer_expired"])
            self.assertIn(d2, [n.demand_expired.demand.id for n in got if body_of(n) == "demand_expired"])
            got = plain.drain(0.5)  # the near-missed SME was told of d2 too, so it hears it expired
            self.assertIn(d2, [n.demand_expired.demand.id for n in got if body_of(n) == "demand_expired"])
            view = anchor.call(get_posting=pb.GetPosting(posting_id=d2)).view.demand
            self.assertEqual(view.state, pb.EXPIRED)
            for c in (op, anchor, cert, plain):
                c.close()


if __name__ == "__main__":
    main()
