"""The gongxu CLI when the connection goes wrong (issue 12), against a real gongxud
on loopback: each failure that used to read "is the server key right and is this
key registered?" is told apart by the client library's socket monitor — nothing
listening, a port that is not a ZeroMQ broker (the broker's own HTTP port), a key
the broker refused, a wrong server key — and a request too large for the broker,
which used to wait for the timeout and say "no reply", is refused at once with
the size, the limit and the key that raises it."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import unittest

from gxharness import ANCHOR, GONGXU, Broker, SeededBroker, cli_env, free_port, main, pb, run_cli, seed_walkthrough_firms, zmq


class Interposer:
    """A plain ZeroMQ hop between the CLI and an --insecure-dev broker: a ROUTER
    for clients, one DEALER to the broker per client. on_reply(env) may change
    an Envelope from the broker (and return it) before it goes on. It relays
    real traffic; it imitates nothing."""

    def __init__(self, broker_endpoint, on_reply=None):
        self.ctx = zmq.Context()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.front.linger = 0
        port = self.front.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.backend = broker_endpoint
        self.on_reply = on_reply
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        dealers = {}  # client identity -> DEALER to the broker
        idents = {}  # DEALER -> client identity
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        while not self.stop:
            for sock, _ in poller.poll(50):
                if sock is self.front:
                    ident, payload = self.front.recv_multipart()
                    d = dealers.get(ident)
                    if d is None:
                        d = dealers[ident] = self.ctx.socket(zmq.DEALER)
                        d.linger = 0
                        d.connect(self.backend)
                        idents[d] = ident
                        poller.register(d, zmq.POLLIN)
                    d.send(payload)
                else:
                    payload = sock.recv()
                    env = pb.Envelope()
                    env.ParseFromString(payload)
                    if self.on_reply:
                        env = self.on_reply(env) or env
                    self.front.send_multipart([idents[sock], env.SerializeToString()])
        for d in dealers.values():
            d.close(0)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.front.close(0)
        self.ctx.term()


def seed(broker):
    op = broker.client(operator=True)
    seed_walkthrough_firms(op)
    op.close()


def old_broker_reply(env):
    """What a broker from before the limits said to Hello and Ping: an empty Ping."""
    if env.WhichOneof("body") == "reply" and env.reply.WhichOneof("result") == "pong":
        env.reply.pong.Clear()
    return env


class Connect(SeededBroker):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pub = os.path.join(cls.broker.data_dir, "broker.pub")

    def gx(self, *args, server=None, server_key=None, key=None, timeout="1"):
        return run_cli(self.broker, "--timeout", timeout, "--key", key or self.broker.keyfile(ANCHOR), *args,
                       server=server, env=cli_env(self.broker, GONGXU_SERVER_KEY=server_key or self.pub))

    def unavailable(self, r, words):
        self.assertEqual(r.returncode, 69, r.err)
        self.assertIn(words, r.err)
        self.assertNotIn("is the server key right", r.err)

    def test_closed_port_says_nothing_answers(self):
        port = free_port()
        r = self.gx("ping", server="tcp://127.0.0.1:%d" % port)
        self.unavailable(r, "nothing answers at tcp://127.0.0.1:%d: is gongxud running, and is this its client "
                            "port?" % port)

    def test_the_brokers_http_port_is_not_a_broker(self):
        port = self.broker.http.rstrip("/").rsplit(":", 1)[1]
        r = self.gx("ping", server="tcp://127.0.0.1:" + port)
        self.unavailable(r, "tcp://127.0.0.1:%s is not a gongxu broker (ZeroMQ handshake failed); the client "
                            "port is 7450 by default" % port)

    def test_a_server_that_answers_in_text_and_hangs_up_is_not_a_broker(self):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]

        def serve():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                c.close()

        threading.Thread(target=serve, daemon=True).start()
        try:
            r = self.gx("ping", server="tcp://127.0.0.1:%d" % port)
        finally:
            lsock.close()
        self.unavailable(r, "is not a gongxu broker (ZeroMQ handshake failed)")

    def test_unregistered_key_is_refused_by_the_broker(self):
        tmp = tempfile.mkdtemp(dir=self.broker.tmp)
        subprocess.run([GONGXU, "keygen", os.path.join(tmp, "stranger")], check=True, capture_output=True)
        r = self.gx("ping", key=os.path.join(tmp, "stranger.key"))
        self.unavailable(r, "refused this key in the CURVE handshake (ZAP status 400): it is not registered, "
                            "or it was revoked")
        self.assertIn("register-key", r.err)

    def test_wrong_server_key_is_named(self):
        other = zmq.curve_keypair()[0].decode()
        r = self.gx("ping", server_key=other)
        self.unavailable(r, "hung up during the CURVE handshake: the server key given is not this broker's")

    def test_a_good_connection_still_works_and_ping_shows_the_limits(self):
        r = self.gx("ping")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn(b"max_frame_bytes 262144", r.stdout)
        r = self.gx("--json", "ping")
        self.assertEqual(json.loads(r.stdout)["pong"]["maxFrameBytes"], 262144)


class TooLarge(unittest.TestCase):
    """A request the broker would drop the connection for is refused before sending."""

    def demand_file(self, tmp, details_bytes):
        path = os.path.join(tmp, "demand.json")
        with open(path, "w") as f:
            json.dump({"kind": "PARTS_SUPPLY", "industry": "C3670", "quantity": 10, "neededBy": "2030-01-31",
                       "title": "big", "details": "x" * details_bytes}, f)
        return path

    def run_cli(self, broker, *args, timeout="5", insecure=False):
        if insecure:  # no keys: a plain connection that names its firm
            return run_cli(broker, "--server-key", "none", "-f", ANCHOR, "--timeout", timeout, *args, env=cli_env())
        return run_cli(broker, "--key", broker.keyfile(ANCHOR), "--timeout", timeout, *args)

    def test_a_megabyte_of_details_is_refused_at_once_naming_the_limit(self):
        with Broker() as b:
            seed(b)
            r = self.run_cli(b, "post", "demand", "--file", self.demand_file(b.tmp, 1000000))
            self.assertEqual(r.returncode, 65, r.err)
            self.assertIn("demand.details (--details) has 1000000 bytes; the broker takes at most 16384 "
                          "(its max_text_bytes); nothing was sent", r.err)
            self.assertNotIn("no reply", r.err)

    def test_over_max_frame_bytes_is_refused_by_the_library(self):
        # the text limit raised as far as the frame's: the whole message is what is too large
        with Broker(extra_args=["-o", "max_text_bytes=262144"]) as b:
            seed(b)
            r = self.run_cli(b, "post", "demand", "--file", self.demand_file(b.tmp, 262144))
            self.assertEqual(r.returncode, 65, r.err)
            self.assertRegex(r.err, r"the request is \d+ bytes, more than the broker at tcp://127\.0\.0\.1:\d+ reads "
                                    r"in one message: 262144 bytes \(its max_frame_bytes\); "
                                    r"nothing was sent; the largest field is demand\.details \(--details, 262144 bytes\)")
            # just under the limit goes through, and the connection stays usable
            r = self.run_cli(b, "post", "demand", "--file", self.demand_file(b.tmp, 200000))
            self.assertEqual(r.returncode, 0, r.err)

    def test_a_broker_that_did_not_tell_its_limits_gets_the_default_explained(self):
        with Broker(insecure=True) as b:
            seed(b)
            hop = Interposer(b.endpoint, on_reply=old_broker_reply)
            try:
                hop_broker = type("B", (), {"endpoint": hop.endpoint})
                r = self.run_cli(hop_broker, "ping", insecure=True)
                self.assertEqual(r.returncode, 0, r.err)
                self.assertEqual(r.stdout, b"pong\n")  # no limits told
                r = self.run_cli(hop_broker, "post", "demand", "--file", self.demand_file(b.tmp, 1000000),
                                 timeout="2", insecure=True)
            finally:
                hop.close()
            self.assertEqual(r.returncode, 65, r.err)
            self.assertIn("the request was", r.err)
            self.assertIn("more than the default max_frame_bytes (262144)", r.err)
            self.assertIn("the largest field is demand.details (--details, 1000000 bytes)", r.err)


if __name__ == "__main__":
    main()
