"""One firm must not stall the others. One firm floods the broker (requests
over its rate, refused RATE_LIMITED), amplifies (pipelined ListPostings within
its rate) and resumes again and again on ten connections without reading;
another firm keeps working. Both firms' latencies and the broker's memory are
printed (performance is a figure, not a pass mark); what is asserted is what a
broken design misses by orders of magnitude: the other firm is served, the
broker's memory stays bounded, and a flood of handshakes with unknown keys does
not keep a registered firm out."""
import os
import subprocess
import time
import unittest

from gxharness import ANCHOR, SME_CERT, SME_PLAIN, Broker, Client, main, mg_demand, mg_offer, pb, \
    seed_walkthrough_firms


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def gxflood(broker, firm_id, seconds, mode, window=0, rate=0):
    """Starts gxflood (see gxflood.c) as firm_id; returns the Popen (stdout: its counts)."""
    keyfile = broker.keyfile(firm_id) if firm_id else "-"
    return subprocess.Popen([os.environ["GX_FLOOD"], broker.endpoint, broker.server_key, keyfile, str(seconds), mode,
                             str(window), str(rate)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def timed(client, n, stop=lambda: False, write_every=0):
    """n calls (or until stop()), every write_every-th a durable write; latencies in ms by kind."""
    lat = {"ping": [], "post": []}
    for i in range(n):
        if stop():
            break
        t = time.perf_counter()
        if write_every and i % write_every == 0:
            client.call(post_offer=pb.PostOffer(offer=mg_offer()))
            lat["post"].append((time.perf_counter() - t) * 1000)
        else:
            client.call(ping=pb.Ping())
            lat["ping"].append((time.perf_counter() - t) * 1000)
    return lat


def line(name, quiet, loaded):
    return "%s: quiet p50 %.2f p99 %.2f ms (%d) | under attack p50 %.2f p99 %.2f ms (%d)" % (
        name, pct(quiet, 50), pct(quiet, 99), len(quiet), pct(loaded, 50), pct(loaded, 99), len(loaded))


class Flood(unittest.TestCase):
    def test_flooding_firm_is_limited_and_others_keep_working(self):
        with Broker(extra_args=["-o", "rate_per_firm=2000", "-o", "rate_burst=2000"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            broker.keyfile(ANCHOR)
            quiet = timed(sme, 500, write_every=10)  # the same requests without a flood, for comparison
            flood = broker.flood(ANCHOR, 4)
            time.sleep(0.5)
            lat = timed(sme, 100000, stop=lambda: flood.poll() is not None, write_every=10)
            out, err = flood.communicate(timeout=30)
            counts = dict(zip(out.decode().split()[::2], map(float, out.decode().split()[1::2])))
            print("flood: %s" % out.decode().strip())
            print(line("other firm, Ping", quiet["ping"], lat["ping"]))
            print(line("other firm, PostOffer (durable)", quiet["post"], lat["post"]))
            self.assertGreater(counts["rate_limited"], 0, "the flooder was never limited")
            self.assertLess(counts["ok"], counts["sent"])
            # every call above succeeded (call() raises on an error or a timeout), while the flood was on
            self.assertGreater(len(lat["ping"]), 0)
            op.close()
            sme.close()

    def test_flood_amplify_and_resume_without_reading(self):
        """SME_PLAIN floods, amplifies and resumes without reading on ten connections while ANCHOR works."""
        # an AddressSanitizer build keeps up to 256 MB of freed memory in its quarantine, so its
        # RSS would say more of the quarantine than of us: this broker's is kept to 8 MB (a build
        # without AddressSanitizer ignores ASAN_OPTIONS)
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "quarantine_size_mb=8"
        try:
            self.amplify_and_resume()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved

    def amplify_and_resume(self):
        with Broker(extra_args=["-o", "rate_per_firm=2000", "-o", "rate_burst=2000",
                                "-o", "max_open_postings=100000"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            attacker = broker.client(SME_PLAIN)
            # SME_PLAIN's inbox: an opportunity (a few kB with its explanation) per demand
            attacker.call(post_offer=pb.PostOffer(offer=mg_offer()))
            anchor = broker.client(ANCHOR)
            n = 1500
            for i in range(n):  # pipelined: group commits
                anchor.sock.send(pb.Envelope(version=1, request_id=100000 + i, post_demand=pb.PostDemand(
                    demand=mg_demand(certifications=[], title="d%d" % i))).SerializeToString())
            got = 0
            while got < n:
                env = anchor.recv_envelope(30)
                if env.WhichOneof("body") == "error":
                    self.fail("posting a demand failed: %s" % env.error.message)
                got += env.WhichOneof("body") == "reply"
            head = attacker.call(resume=pb.Resume(after_seq=0)).resume.head_seq
            self.assertGreaterEqual(head, n)
            attacker.close()
            pid = broker.proc.pid
            broker.keyfile(SME_PLAIN)
            own = broker.client(SME_PLAIN)  # the attacking firm's own well-behaved connection

            q_other = timed(anchor, 400, write_every=0)
            q_own = timed(own, 400, write_every=0)
            before = rss_mb(pid)
            seconds = 8
            attacks = [gxflood(broker, SME_PLAIN, seconds, "ping"),            # flood: refused
                       gxflood(broker, SME_PLAIN, seconds, os.environ.get("GX_AMP", "list"), 64, 1500),  # amplify: pipelined, within rate
                       gxflood(broker, SME_PLAIN, seconds, "resume", 10, 200)]  # resume, never read
            peak = before
            l_other = {"ping": [], "post": []}
            l_own = []
            end = time.time() + seconds - 1
            running = lambda: time.time() < end and any(a.poll() is None for a in attacks)  # noqa: E731
            time.sleep(0.5)
            while running():
                r = timed(anchor, 20, stop=lambda: not running(), write_every=10)
                l_other["ping"] += r["ping"]
                l_other["post"] += r["post"]
                t = time.perf_counter()
                g = own.request(ping=pb.Ping())  # may be refused: its firm is over its rate
                l_own.append((time.perf_counter() - t) * 1000)
                self.assertIn(g.WhichOneof("body"), ("reply", "error"))
                peak = max(peak, rss_mb(pid))
            outs = [a.communicate(timeout=30) for a in attacks]
            for a, (o, e) in zip(attacks, outs):
                self.assertEqual(a.returncode, 0, "gxflood failed: %s" % e.decode())
            outs = [o.decode().strip() for o, e in outs]
            peak = max(peak, rss_mb(pid))
            after = rss_mb(pid)
            deadline = time.time() + 15  # freed memory goes back within a trim interval (10 s)
            while time.time() < deadline and after > before + 20:
                time.sleep(0.5)
                after = rss_mb(pid)
            for name, o in zip(("flood", "amplify", "resume-without-reading"), outs):
                print("%s: %s" % (name, o))
            print(line("other firm (ANCHOR), Ping", q_other["ping"], l_other["ping"]))
            print(line("other firm (ANCHOR), PostOffer (durable)", [], l_other["post"]))
            print(line("attacking firm's own connection, Ping", q_own["ping"], l_own))
            print("broker RSS: before %.0f MB, peak %.0f MB, after %.0f MB" % (before, peak, after))
            self.assertGreater(len(l_other["ping"]), 0)
            # without bounds, ten non-reading connections held gigabytes; with them, tens of MB
            self.assertLess(peak - before, 400, "the broker's memory grew by %.0f MB" % (peak - before))
            anchor.call(ping=pb.Ping())  # still served after
            for c in (op, anchor, own):
                c.close()

    def test_unknown_keys_do_not_keep_a_registered_firm_out(self):
        with Broker(extra_args=["-o", "handshakes_per_second=200"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            broker.client(SME_CERT).close()  # registers its key
            keys = gxflood(broker, "", 20, "keys", 3000)  # 3000 handshakes with keys nobody registered
            time.sleep(3.0)  # the handshakes are under way
            t = time.perf_counter()
            c = Client(broker.endpoint, SME_CERT, hello=False, server_key=broker.server_key,
                       keypair=broker.keys[SME_CERT])
            try:  # held behind 3000 handshakes at handshakes_per_second (200) it would wait 15 s
                c.call(timeout=10.0, hello=pb.Hello(firm_id=SME_CERT, client="gxharness", understands_evicted=True))
            except TimeoutError:
                keys.kill()
                self.fail("a registered firm could not connect within 10 s during a flood of unknown keys")
            took = (time.perf_counter() - t) * 1000
            c.close()
            keys.kill()
            keys.communicate()
            refused = broker.read_log_all().count("refused a client connection")
            print("registered firm connected (handshake + Hello) in %.1f ms during a flood of 3000 unknown-key "
                  "handshakes (%d log lines about refusals)" % (took, refused))
            self.assertLess(refused, 50, "refusals are logged together, not one line each")
            op.close()


if __name__ == "__main__":
    main()
