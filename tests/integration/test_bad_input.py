"""Bad input gets a clear error reply — never a crash, a hang, or a changed
store — while the broker keeps serving everyone else."""
import unittest

from gxharness import (ANCHOR, SME_CERT, Broker, Client, Refused, main, mg_demand, mg_offer, pb,
                       seed_walkthrough_firms)


def _varint(n):
    out = b""
    while True:
        b, n = n & 0x7f, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(extra_args=["-o", "max_string_bytes=64", "-o", "max_frame_bytes=65536"]).start()
        op = cls.broker.client(operator=True)
        seed_walkthrough_firms(op)
        op.close()
        cls.good = cls.broker.client(ANCHOR)

    @classmethod
    def tearDownClass(cls):
        cls.good.close()
        rc = cls.broker.stop()
        cls.broker.cleanup()
        assert rc == 0, rc

    def setUp(self):
        self.bad = self.broker.client(SME_CERT)

    def tearDown(self):
        self.bad.close()
        # the well-behaved client is served after every bad request
        self.assertTrue(self.good.call(ping=pb.Ping()).HasField("pong"))

    def error_of(self, **body):
        got = self.bad.request(**body)
        self.assertEqual(got.WhichOneof("body"), "error", got)
        return got.error

    def raw_error(self, *frames):
        self.bad.send_raw(*frames)
        got = self.bad.recv_envelope()
        self.assertEqual(got.WhichOneof("body"), "error")
        return got

    def test_truncated_protobuf(self):
        env = pb.Envelope(version=1, request_id=41, post_demand=pb.PostDemand(demand=mg_demand()))
        raw = env.SerializeToString()
        got = self.raw_error(raw[: len(raw) // 2])
        self.assertIn(got.error.code, (pb.ERR_MALFORMED, pb.ERR_INVALID_FIELD, pb.ERR_BAD_REQUEST))

    def test_garbage_and_multipart(self):
        got = self.raw_error(b"\xff\xff\xff\xff\x0f\x01")
        self.assertEqual(got.error.code, pb.ERR_MALFORMED)
        self.assertIn("Envelope", got.error.message)
        got = self.raw_error(b"a", b"b")
        self.assertEqual(got.error.code, pb.ERR_MALFORMED)
        got = self.raw_error(b"")  # an empty frame is an empty Envelope: version 0, no request
        self.assertEqual(got.error.code, pb.ERR_UNSUPPORTED_VERSION)

    def test_wrong_version(self):
        self.bad.send_raw(pb.Envelope(version=7, request_id=3, ping=pb.Ping()).SerializeToString())
        got = self.bad.recv_envelope()
        self.assertEqual(got.request_id, 3)
        self.assertEqual(got.error.code, pb.ERR_UNSUPPORTED_VERSION)

    def test_unknown_kind(self):
        d = mg_demand()
        d.kind = 42
        err = self.error_of(post_demand=pb.PostDemand(demand=d))
        self.assertEqual(err.code, pb.ERR_INVALID_FIELD)
        self.assertEqual(err.field, "demand.kind")

    def test_oversize_string(self):
        err = self.error_of(post_demand=pb.PostDemand(demand=mg_demand(unit="x" * 100)))
        self.assertEqual(err.code, pb.ERR_TOO_LARGE)
        self.assertEqual(err.field, "demand.unit")

    def test_oversize_frame_drops_only_that_peer(self):
        victim = self.broker.client(SME_CERT)
        victim.send_raw(b"x" * 200000)  # over ZMQ_MAXMSGSIZE: libzmq closes that connection
        with self.assertRaises(TimeoutError):
            victim.recv_envelope(1.0)
        victim.close()

    def test_nul_in_a_string_is_refused_by_name(self):
        # "casting\0.die.zinc" used to be stored as "casting" and then matched every casting offer
        mine = lambda: len(self.bad.call(list_postings=pb.ListPostings(include_closed=True)).postings.demands)
        before = mine()
        for field, demand, where in (
                ("processes", mg_demand(processes=["casting.die.magnesium", "casting#.die.zinc"]),
                 "demand.processes[1]"),
                ("details", mg_demand(details="abc#def"), "demand.details")):
            raw = bytearray(pb.Envelope(version=1, request_id=77, post_demand=pb.PostDemand(demand=demand))
                            .SerializeToString())
            raw[raw.index(b"#")] = 0
            got = self.raw_error(bytes(raw))
            self.assertEqual(got.request_id, 77)
            self.assertEqual(got.error.code, pb.ERR_INVALID_FIELD, field)
            self.assertEqual(got.error.field, where)
            self.assertIn("NUL byte", got.error.message)
        self.assertEqual(mine(), before)  # nothing was stored

    def test_a_message_of_exactly_max_frame_bytes_is_read(self):
        # max_frame_bytes (65536 here) counts the message as written, before CURVE adds 33 bytes
        def padded(total):
            env = pb.Envelope(version=1, request_id=5, ping=pb.Ping()).SerializeToString()
            # an unknown field 900 (length-delimited) pads the frame to the exact size
            for body in range(total, 0, -1):
                pad = b"\xa2\x38" + _varint(body) + b"p" * body
                if len(env) + len(pad) == total:
                    return env + pad
            raise AssertionError("cannot pad to %d" % total)
        c = self.broker.client(SME_CERT)
        try:
            c.send_raw(padded(65536))
            got = c.recv_envelope(5.0)
            self.assertEqual(got.request_id, 5)
            self.assertTrue(got.reply.HasField("pong"), got)
            c.send_raw(padded(65537))  # one byte more: libzmq drops the connection, no reply
            with self.assertRaises(TimeoutError):
                c.recv_envelope(1.0)
        finally:
            c.close()

    def test_unknown_codes_are_named(self):
        err = self.error_of(post_offer=pb.PostOffer(offer=mg_offer(processes=["casting.die.unobtainium"])))
        self.assertEqual(err.code, pb.ERR_UNKNOWN_CODE)
        self.assertIn("casting.die.unobtainium", err.message)
        self.assertEqual(err.field, "offer.processes[0]")
        err = self.error_of(post_demand=pb.PostDemand(demand=mg_demand(industry="C9999")))
        self.assertEqual(err.code, pb.ERR_UNKNOWN_CODE)
        self.assertIn("C9999", err.message)

    def test_another_firms_posting(self):
        d = self.good.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        err = self.error_of(withdraw=pb.Withdraw(posting_id=d))
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)
        upd = mg_demand()
        upd.id = d
        err = self.error_of(update_demand=pb.UpdateDemand(demand=upd))
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)
        err = self.error_of(get_shortlist=pb.GetShortlist(demand_id=d))
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)
        # and the demand is untouched
        view = self.good.call(get_posting=pb.GetPosting(posting_id=d)).view
        self.assertEqual(view.demand.state, pb.OPEN)
        self.assertEqual(view.demand.revision, 1)

    def test_not_operator_and_hello_for_another_firm(self):
        err = self.error_of(get_stats=pb.GetStats())
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)
        err = self.error_of(hello=pb.Hello(firm_id=ANCHOR))  # the key is SME_CERT's
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)
        err = self.error_of(hello=pb.Hello(operator=True))
        self.assertEqual(err.code, pb.ERR_FORBIDDEN)

    def test_reply_sent_to_broker_is_refused(self):
        err = self.error_of(reply=pb.Reply(pong=pb.Ping()))
        self.assertEqual(err.code, pb.ERR_BAD_REQUEST)

    def test_past_needed_by_and_nan(self):
        err = self.error_of(post_demand=pb.PostDemand(demand=mg_demand(needed_by="2020-01-01")))
        self.assertEqual(err.field, "demand.needed_by")
        err = self.error_of(post_demand=pb.PostDemand(demand=mg_demand(quantity=float("nan"))))
        self.assertEqual(err.code, pb.ERR_INVALID_FIELD)


if __name__ == "__main__":
    main()
