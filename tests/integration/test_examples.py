"""The integrator examples in clients/examples work against a real broker:
the C one (through the client library) and the Python one (ZeroMQ + protobuf only)."""
import json
import os
import subprocess
import sys
import time
import unittest

from gxharness import ANCHOR, BIN, SME_CERT, Broker, Client, main, mg_demand, mg_offer, pb, seed_walkthrough_firms

SRC = os.environ.get("GX_SOURCE_DIR", ".")


class Examples(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        op = self.broker.client(operator=True)
        seed_walkthrough_firms(op)
        self.broker.client(SME_CERT).call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.demand = self.broker.client(ANCHOR).call(
            post_demand=pb.PostDemand(demand=mg_demand())).posting.id

    def tearDown(self):
        self.broker.stop()
        self.broker.cleanup()

    def test_c_example_prints_and_acks(self):
        env = dict(os.environ, GONGXU_SERVER=self.broker.endpoint, GONGXU_KEY=self.broker.keyfile(SME_CERT),
                   GONGXU_SERVER_KEY=self.broker.server_key)
        p = subprocess.Popen([os.path.join(BIN, "example_watch"), SME_CERT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        try:
            line = p.stdout.readline()  # the opportunity, as one line of proto3 JSON
        finally:
            time.sleep(0.3)  # let its ack reach the broker
            p.terminate()
            p.wait(5)
        notice = json.loads(line)
        self.assertEqual(notice["seq"], "1")
        self.assertEqual(notice["opportunity"]["demand"]["id"], str(self.demand))
        c = self.broker.client(SME_CERT)
        self.assertEqual(c.resume(from_last_ack=True).resumed_after, 1)  # the example acked it
        c.close()

    def test_python_example_prints_and_acks(self):
        env = dict(os.environ, GX_PY=os.environ.get("GX_PY", ""), GONGXU_KEY=self.broker.keyfile(SME_CERT),
                   GONGXU_SERVER_KEY=self.broker.server_key)
        r = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "clients/examples/watch.py"), SME_CERT,
                            self.broker.endpoint, "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("resumed after 0; head 1", out)
        self.assertIn("#1 opportunity", out)
        c = self.broker.client(SME_CERT)
        self.assertEqual(c.resume(from_last_ack=True).resumed_after, 1)
        c.close()


if __name__ == "__main__":
    main()
