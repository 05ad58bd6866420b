"""One firm floods the broker at full speed; another keeps working. The
flooder is held to its rate limit (RATE_LIMITED), the other firm's requests all
succeed, and their latency under the flood is reported (printed, not asserted:
performance belongs to the benchmarks)."""
import time
import unittest

from gxharness import ANCHOR, SME_CERT, Broker, main, mg_offer, pb, seed_walkthrough_firms


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


class Flood(unittest.TestCase):
    def test_flooding_firm_is_limited_and_others_keep_working(self):
        with Broker(extra_args=["-o", "rate_per_firm=2000", "-o", "rate_burst=2000"]) as broker:
            op = broker.client(operator=True)
            seed_walkthrough_firms(op)
            sme = broker.client(SME_CERT)
            quiet = []
            for _ in range(50):  # the same requests without a flood, for comparison
                t = time.perf_counter()
                sme.call(ping=pb.Ping())
                quiet.append((time.perf_counter() - t) * 1000)
            flood = broker.flood(ANCHOR, 4)
            time.sleep(0.5)
            lat = []
            n = 0
            while flood.poll() is None and n < 2000:  # for as long as the flood lasts
                t = time.perf_counter()
                if n % 10 == 0:
                    sme.call(post_offer=pb.PostOffer(offer=mg_offer()))  # a durable write
                else:
                    sme.call(ping=pb.Ping())
                lat.append((time.perf_counter() - t) * 1000)
                n += 1
            out, err = flood.communicate(timeout=30)
            counts = dict(zip(out.decode().split()[::2], map(float, out.decode().split()[1::2])))
            print("flood: %s" % out.decode().strip())
            print("other firm: %d requests under flood, latency ms p50 %.2f p99 %.2f max %.2f "
                  "(without flood: p50 %.2f p99 %.2f)" % (len(lat), pct(lat, 50), pct(lat, 99), max(lat),
                                                            pct(quiet, 50), pct(quiet, 99)))
            self.assertGreater(counts["rate_limited"], 0, "the flooder was never limited")
            self.assertLess(counts["ok"], counts["sent"])
            # every call above succeeded (call() raises on an error or a timeout), the first of them
            # while the flood was on; how many fit in is a figure, printed above, not a pass mark
            self.assertGreater(len(lat), 0)
            op.close()
            sme.close()


if __name__ == "__main__":
    main()
