"""CURVE keys: a client without a registered key gets not one byte; a revoked
key's open connection stops being served; a second key rotates in; keys survive
a restart; --insecure-dev is explicit and loud."""
import time
import unittest

import zmq

from gxharness import (ANCHOR, SME_CERT, Broker, Client, Refused, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


class Keys(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        self.op = self.broker.client(operator=True)
        seed_walkthrough_firms(self.op)
        self.anchor = self.broker.client(ANCHOR)
        self.demand = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id

    def tearDown(self):
        self.op.close()
        self.anchor.close()
        self.broker.stop()
        self.broker.cleanup()

    def assert_silent(self, client, **body):
        """The request gets no answer at all: the handshake was refused."""
        with self.assertRaises(TimeoutError):
            client.request(timeout=1.5, **body)
        client.close()

    def test_unregistered_key_gets_nothing(self):
        stranger = Client(self.broker.endpoint, hello=False, server_key=self.broker.server_key,
                          keypair=zmq.curve_keypair())
        self.assert_silent(stranger, get_posting=pb.GetPosting(posting_id=self.demand))
        self.assertIn("key not registered", self.broker.read_log())

    def test_null_mechanism_gets_nothing(self):
        plain = Client(self.broker.endpoint, hello=False)  # no CURVE at all
        self.assert_silent(plain, hello=pb.Hello(operator=True))

    def test_wrong_server_key_gets_nothing(self):
        pub, sec = self.broker.keys[ANCHOR]
        wrong = Client(self.broker.endpoint, hello=False, server_key=zmq.curve_keypair()[0], keypair=(pub, sec))
        self.assert_silent(wrong, ping=pb.Ping())

    def test_key_identifies_the_firm_without_hello(self):
        c = Client(self.broker.endpoint, hello=False, server_key=self.broker.server_key,
                   keypair=self.broker.keys[ANCHOR])
        view = c.call(get_posting=pb.GetPosting(posting_id=self.demand)).view
        self.assertEqual(view.demand.details, "drawing MG-42 rev C; 0.05 mm")  # the owner sees its details
        c.close()

    def test_revoked_key_stops_at_once_and_rotation_works(self):
        old = self.broker.keys[ANCHOR]
        new = zmq.curve_keypair()
        self.op.call(register_key=pb.RegisterKey(firm_id=ANCHOR, public_key=new[0].decode()))
        rotated = Client(self.broker.endpoint, ANCHOR, server_key=self.broker.server_key, keypair=new)
        self.anchor.resume(from_last_ack=True)
        info = self.op.call(revoke_key=pb.RevokeKey(public_key=old[0].decode())).key
        self.assertTrue(info.revoked)
        self.assertEqual(info.firm_id, ANCHOR)
        # a connection that only listens is told, unasked
        told = self.anchor.recv_envelope(2.0)
        self.assertEqual((told.request_id, told.error.code), (0, pb.ERR_FORBIDDEN))
        self.assertIn("revoked", told.error.message)
        # the open connection with the old key is refused from its next message on
        got = self.anchor.request(get_posting=pb.GetPosting(posting_id=self.demand))
        self.assertEqual(got.error.code, pb.ERR_FORBIDDEN)
        # and no longer gets notices pushed
        sme = self.broker.client(SME_CERT)
        sme.call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.assertEqual([n for n in self.anchor.drain(0.8)], [])
        # a new connection with the revoked key is refused at the handshake
        again = Client(self.broker.endpoint, hello=False, server_key=self.broker.server_key, keypair=old)
        self.assert_silent(again, ping=pb.Ping())
        # the rotated key works, and sees what the old one missed
        self.assertEqual(rotated.call(get_posting=pb.GetPosting(posting_id=self.demand)).view.demand.id, self.demand)
        rotated.resume(from_last_ack=True)
        self.assertTrue(rotated.wait_notices(1))
        with self.assertRaises(Refused) as cm:  # a revoked key is not re-registered
            self.op.call(register_key=pb.RegisterKey(firm_id=ANCHOR, public_key=old[0].decode()))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
        with self.assertRaises(Refused) as cm:  # nor given to another firm
            self.op.call(register_key=pb.RegisterKey(firm_id=SME_CERT, public_key=new[0].decode()))
        self.assertEqual(cm.exception.code, pb.ERR_CONFLICT)
        rotated.close()
        sme.close()

    def test_only_operators_manage_keys(self):
        with self.assertRaises(Refused) as cm:
            self.anchor.call(register_key=pb.RegisterKey(firm_id=ANCHOR, public_key=zmq.curve_keypair()[0].decode()))
        self.assertEqual(cm.exception.code, pb.ERR_FORBIDDEN)
        with self.assertRaises(Refused) as cm:
            self.anchor.call(revoke_key=pb.RevokeKey(public_key=self.broker.keys[ANCHOR][0].decode()))
        self.assertEqual(cm.exception.code, pb.ERR_FORBIDDEN)
        with self.assertRaises(Refused) as cm:
            self.op.call(register_key=pb.RegisterKey(firm_id=ANCHOR, public_key="not a key"))
        self.assertEqual(cm.exception.code, pb.ERR_INVALID_FIELD)

    def test_keys_and_revocations_survive_restart(self):
        old = self.broker.keys[ANCHOR]
        self.op.call(revoke_key=pb.RevokeKey(public_key=old[0].decode()))
        self.op.close()
        self.anchor.close()
        server_key = self.broker.server_key
        self.assertEqual(self.broker.stop(), 0)
        self.broker.start()
        self.assertEqual(self.broker.server_key, server_key)  # the broker keeps its identity
        again = Client(self.broker.endpoint, hello=False, server_key=self.broker.server_key, keypair=old)
        self.assert_silent(again, ping=pb.Ping())
        sme = self.broker.client(SME_CERT)  # registered before the restart
        self.assertTrue(sme.call(ping=pb.Ping()).HasField("pong"))
        sme.close()
        self.op = self.broker.client(operator=True)
        self.anchor = self.broker.client(SME_CERT)


class InsecureDev(unittest.TestCase):
    def test_insecure_dev_is_explicit_and_loud(self):
        with Broker(insecure=True) as broker:
            self.assertIsNone(broker.server_key)
            op = broker.client(operator=True)  # anyone may claim the operator role
            self.assertTrue(op.call(get_stats=pb.GetStats()).HasField("stats"))
            op.close()
            self.assertIn("INSECURE DEVELOPMENT MODE", broker.read_log())


if __name__ == "__main__":
    main()
