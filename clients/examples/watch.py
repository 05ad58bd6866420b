#!/usr/bin/env python3
"""An integrator's example in Python: follow one firm's notices from gongxud.

Uses only the wire contract (proto/gongxu/v1/gongxu.proto) and ZeroMQ:
  protoc --python_out=OUT -Iproto proto/gongxu/v1/gongxu.proto   # the build does this into build/python
  /usr/bin/python3 clients/examples/watch.py FIRM_ID [ENDPOINT [QUIET_SECONDS]]  # Debian python3-zmq, python3-protobuf

Resumes after the firm's last acknowledged notice, prints each one as text,
acknowledges it, and stops after QUIET_SECONDS (default 30) without a notice.

Against a broker with CURVE set GONGXU_SERVER_KEY (the broker's public key: Z85, or
a key file such as its broker.pub) and GONGXU_KEY (our key file from `gongxu keygen`,
registered for FIRM_ID). Without GONGXU_SERVER_KEY the connection is plain, for a
broker run --insecure-dev.
"""
import os
import sys

sys.path.insert(0, os.environ.get("GX_PY", os.path.join(os.path.dirname(__file__), "../../build/python")))
import zmq  # noqa: E402
from gongxu.v1 import gongxu_pb2 as pb  # noqa: E402


def read_keys(path):
    """A gongxu key file's `public-key = Z85` and `secret-key = Z85` lines. Split on
    blanks only: Z85 itself holds '#' and '='."""
    keys = {}
    with open(path) as f:
        for line in f:
            words = line.split()
            if len(words) >= 3 and words[0] in ("public-key", "secret-key") and words[1] == "=":
                keys[words[0]] = words[2].encode()
    return keys


def main():
    firm = sys.argv[1]
    endpoint = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("GONGXU_SERVER", "tcp://127.0.0.1:7450")
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    server_key = os.environ.get("GONGXU_SERVER_KEY")
    if server_key:  # CURVE: set the keys before connecting
        if not os.environ.get("GONGXU_KEY"):
            sys.exit("GONGXU_SERVER_KEY is set: CURVE needs our key file in GONGXU_KEY too")
        ours = read_keys(os.environ["GONGXU_KEY"])
        if os.path.exists(server_key):
            server_key = read_keys(server_key)["public-key"].decode()
        sock.curve_serverkey = server_key.encode()
        sock.curve_publickey = ours["public-key"]
        sock.curve_secretkey = ours["secret-key"]
    sock.connect(endpoint)
    next_id = iter(range(1, 1 << 62))

    def call(**body):
        req = pb.Envelope(version=1, request_id=next(next_id), **body)
        sock.send(req.SerializeToString())
        while True:  # notices may arrive before the reply: handle them in order
            if not sock.poll(5000):
                sys.exit("gongxud did not answer" + (": is the server key right and is this key registered?"
                                                     if server_key else ""))
            env = pb.Envelope.FromString(sock.recv())
            if env.request_id == req.request_id:
                if env.WhichOneof("body") == "error":
                    sys.exit("refused: %s: %s" % (pb.ErrorCode.Name(env.error.code), env.error.message))
                return env.reply
            show(env.notice)

    def show(notice):
        kind = notice.WhichOneof("body")
        text = str(getattr(notice, kind)).replace("\n", " ")
        print("#%d %s %s" % (notice.seq, kind, text[:300]))
        call(ack=pb.Ack(seq=notice.seq))

    call(hello=pb.Hello(firm_id=firm, client="examples/watch.py"))
    info = call(resume=pb.Resume(from_last_ack=True)).resume
    print("resumed after %d; head %d" % (info.resumed_after, info.head_seq))
    quiet_ms = int(float(sys.argv[3]) * 1000) if len(sys.argv) > 3 else 30000
    while sock.poll(quiet_ms):
        env = pb.Envelope.FromString(sock.recv())
        if env.WhichOneof("body") == "notice":
            show(env.notice)


if __name__ == "__main__":
    main()
