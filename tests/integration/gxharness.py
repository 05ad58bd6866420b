"""gxharness — start a real gongxud and talk to it, for the integration tests.

A Broker is a gongxud process on a fresh data directory, bound to loopback ports
the kernel picks (tcp://127.0.0.1:*), stopped by PID. A Client is one ZeroMQ
DEALER connection speaking gongxu.v1 Envelopes. Nothing here imitates the broker:
every test talks to the real one over real sockets.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.environ.get("GX_PY", "build/python"))
import zmq  # noqa: E402
from gongxu.v1 import gongxu_pb2 as pb  # noqa: E402

_running = set()  # brokers started and not yet stopped: none outlives the test process


@atexit.register
def _stop_leftovers():
    """A test that failed before its cleanup (say, in setUpClass) still stops its broker by PID."""
    for b in list(_running):
        if b.proc and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
        _running.discard(b)

BIN = os.environ.get("GX_BIN", "build")
GONGXUD = os.path.join(BIN, "gongxud")
GONGXU = os.path.join(BIN, "gongxu")

# Real Unified Social Credit Codes are not ours to use; these are made-up codes
# whose check characters are computed by the standard's algorithm.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(body17):
    """The 18-character code for a 17-character body (GB 32100-2015 check)."""
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    check = (31 - total % 31) % 31
    return body17 + USCC_CHARS[check]


ANCHOR = uscc("91410600MA44ANCH0")  # anchor firm in the development zone
SME_CERT = uscc("91410611MA45QBMG1")  # certified die caster, Qibin
SME_PLAIN = uscc("91410611MA45QBLA2")  # uncertified die caster, Qibin
SME_FAR = uscc("91410700MA46XXMG3")  # Xinxiang die caster


class Broker:
    """A gongxud process. Use as a context manager or call start/stop."""

    def __init__(self, data_dir=None, extra_args=(), keep_dir=False, insecure=False):
        base = os.environ.get("GX_TEST_TMP", tempfile.gettempdir())
        os.makedirs(base, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="gx.", dir=base)
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.extra_args = list(extra_args) + (["--insecure-dev"] if insecure else [])
        self.insecure = insecure
        self.server_key = None
        self.keys = {}  # firm id -> (public, secret) registered for it
        self.keep_dir = keep_dir or data_dir is not None
        self.proc = None
        self.endpoint = None
        self.monitor = None
        self.http = None
        self.log_path = os.path.join(self.tmp, "gongxud.log")
        self.binary = GONGXUD  # a test may run a copy (a rebuilt binary)

    def start(self, timeout=10):
        args = [self.binary, "-d", self.data_dir, "-l", "tcp://127.0.0.1:*", "-m", "tcp://127.0.0.1:*",
                "-o", "http_listen=127.0.0.1:0", "--log-level", "debug"] + self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        _running.add(self)
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"gongxud ready"):
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError("gongxud exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
        else:
            self.kill()
            raise RuntimeError("gongxud did not become ready:\n" + self.read_log())
        fields = dict(f.split("=", 1) for f in line.decode().split()[2:])
        self.endpoint, self.monitor = fields["listen"], fields["monitor"]
        self.http = fields.get("http") or None  # operator HTTP base URL
        self.server_key = fields.get("server_key", "").strip("'") or None  # quoted: Z85 has shell characters
        return self

    def operator_keypair(self):
        return read_keyfile(os.path.join(self.data_dir, "operator.key"))

    def keyfile(self, firm_id):
        """Path of a gongxu key file holding firm_id's registered key pair."""
        self.client(firm_id).close()  # registers a key if it has none yet
        pub, sec = self.keys[firm_id]
        path = os.path.join(self.tmp, firm_id + ".key")
        # written aside and renamed: a flooder still reading the file from an
        # earlier call never sees it empty or half written
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("public-key = %s\nsecret-key = %s\n" % (pub.decode(), sec.decode()))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def flood(self, firm_id, seconds):
        """Starts gxflood (pings) as firm_id; returns the Popen (stdout: its counts)."""
        return self.flood_args(firm_id, seconds, "ping", 0)

    def flood_args(self, firm_id, seconds, mode, window):
        """Starts gxflood as firm_id sending `mode` requests with at most `window` in flight."""
        return subprocess.Popen([os.environ["GX_FLOOD"], self.endpoint, self.server_key or "-",
                                 self.keyfile(firm_id) if self.server_key else "-", str(seconds), mode, str(window)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def client(self, firm_id="", operator=False, hello=True, keypair=None, evicted_ok=True):
        """A connection as firm_id (or the operator). With CURVE, the firm gets a
        key pair registered for it by the operator on first use."""
        if self.insecure:
            return Client(self.endpoint, firm_id, operator, hello, evicted_ok=evicted_ok)
        if operator and not firm_id:
            keypair = keypair or self.operator_keypair()
        elif keypair is None:
            keypair = self.keys.get(firm_id)
            if keypair is None:
                keypair = zmq.curve_keypair()
                op = Client(self.endpoint, operator=True, server_key=self.server_key,
                            keypair=self.operator_keypair())
                op.call(register_key=pb.RegisterKey(firm_id=firm_id, public_key=keypair[0].decode()))
                op.close()
                self.keys[firm_id] = keypair
        return Client(self.endpoint, firm_id, operator, hello, server_key=self.server_key, keypair=keypair,
                      evicted_ok=evicted_ok)

    def call_as(self, firm_id, **body):
        """One request as firm_id on a connection of its own, closed after; its reply (Refused
        raised as call raises it)."""
        c = self.client(firm_id)
        try:
            return c.call(**body)
        finally:
            c.close()

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def check_log(self):
        """Fails the test when the broker's log holds a sanitizer report."""
        log = self.read_log_all()
        for mark in self.SANITIZER_MARKS:
            if mark in log:
                at = log.index(mark)
                raise AssertionError("gongxud sanitizer report:\n" + log[max(0, at - 200):at + 3000])

    def read_log_all(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=10):
        """SIGTERM by PID and wait; returns the exit status."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("gongxud ignored SIGTERM")
        self.proc.stdout.close()
        self.proc = None
        _running.discard(self)
        self.log.close()
        self.check_log()
        return rc

    def kill(self):
        """SIGKILL by PID: the crash case."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            _running.discard(self)
            self.log.close()
            self.check_log()

    def cleanup(self):
        if self.proc:
            self.kill()
        if not self.keep_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            if self.proc:
                self.stop()
        finally:
            self.cleanup()


class SeededBroker(unittest.TestCase):
    """Base of a test class that shares one broker with the README's cast
    registered (seed_walkthrough_firms); extra_args go to gongxud. The broker is
    stopped by PID after the class, and the class fails if it did not stop
    cleanly."""

    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(extra_args=cls.extra_args).start()
        op = cls.broker.client(operator=True)
        seed_walkthrough_firms(op)
        op.close()

    @classmethod
    def tearDownClass(cls):
        rc = cls.broker.stop()
        cls.broker.cleanup()
        assert rc == 0, rc


def free_port():
    """A loopback port nothing listens on (the kernel's pick, closed again)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli_env(broker=None, **extra):
    """The environment of a gongxu run: the caller's without any GONGXU_
    variable, in the C.UTF-8 locale (English); with a broker, its public key and its operator key pair (so
    --operator works); then extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGXU_")}
    env["LC_ALL"] = "C.UTF-8"  # English human output, whatever the caller's locale (the tests read it)
    if broker:
        env["GONGXU_SERVER_KEY"] = os.path.join(broker.data_dir, "broker.pub")
        env["GONGXU_OPERATOR_KEY"] = os.path.join(broker.data_dir, "operator.key")
    env.update(extra)
    return env


def run_cli(broker, *args, firm=None, server=None, env=None, stdin=None):
    """Runs `gongxu -s ENDPOINT [--key FIRM's key] ARGS` against broker (server
    overrides its endpoint) in cli_env(broker) (env overrides it). Returns the
    CompletedProcess, with stderr decoded as .err and the run's length as
    .seconds."""
    cmd = [GONGXU, "-s", server or broker.endpoint]
    if firm:
        cmd += ["--key", broker.keyfile(firm)]
    t0 = time.time()
    r = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env if env is not None else cli_env(broker), input=stdin, timeout=60)
    r.seconds = time.time() - t0
    r.err = r.stderr.decode(errors="replace")
    return r


class Notified:
    """gongxud under a stand-in for systemd: a datagram socket at NOTIFY_SOCKET
    that receives its sd_notify messages (env adds variables such as
    WATCHDOG_USEC; data_dir, when given, is used instead of a fresh one, and
    extra_args are added to the command line). A context manager; stops the
    broker by PID."""

    def __init__(self, data_dir=None, extra_args=(), **env):
        self.tmp = tempfile.mkdtemp(prefix="gx.notify.", dir=os.environ.get("GX_TEST_TMP"))
        path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(10)
        full = dict(os.environ, NOTIFY_SOCKET=path, **env)
        full.pop("WATCHDOG_PID", None)
        self.proc = subprocess.Popen([GONGXUD, "-d", data_dir or os.path.join(self.tmp, "data"), "-l",
                                      "tcp://127.0.0.1:*", "-m", "", "-o", "http_listen=127.0.0.1:0"]
                                     + list(extra_args), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=full)
        self.messages = []

    def recv(self):
        """The next message (raises socket.timeout after 10 s)."""
        m = self.sock.recv(4096).decode()
        self.messages.append(m)
        return m

    def until(self, word):
        """Reads messages until one has the line word; returns that message."""
        while True:
            m = self.recv()
            if word in m.split("\n"):
                return m

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Refused(Exception):
    """The broker answered with an Error envelope."""

    def __init__(self, error):
        super().__init__("%s: %s" % (pb.ErrorCode.Name(error.code), error.message))
        self.error = error
        self.code = error.code


class Client:
    """One DEALER connection. call() returns the Reply or raises Refused."""

    _ctx = zmq.Context.instance()

    def __init__(self, endpoint, firm_id="", operator=False, hello=True, server_key=None, keypair=None,
                 evicted_ok=True):
        """evicted_ok: the Hello says the client handles an unasked ERR_EVICTED (False: an older client)."""
        self.sock = self._ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if server_key:
            self.sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
            self.sock.curve_publickey, self.sock.curve_secretkey = [
                k.encode() if isinstance(k, str) else k for k in keypair]
        self.sock.connect(endpoint)
        self.next_id = 1
        self.notices = []
        self.probes = 0  # unasked empty replies: the broker checking the connection (gx_broker_probe_tick)
        if hello:
            self.call(hello=pb.Hello(firm_id=firm_id, operator=operator, client="gxharness",
                                     understands_evicted=evicted_ok))

    def close(self):
        self.sock.close(0)

    def send_raw(self, *frames):
        self.sock.send_multipart(list(frames))

    def recv_envelope(self, timeout=5.0):
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError("no message within %.1fs" % timeout)
        frame = self.sock.recv()
        env = pb.Envelope()
        env.ParseFromString(frame)
        return env

    def request(self, timeout=5.0, **body):
        """Sends one request; returns the whole reply Envelope (reply or error)."""
        env = pb.Envelope(version=1, request_id=self.next_id, **body)
        self.next_id += 1
        self.sock.send(env.SerializeToString())
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no reply to request %d" % env.request_id)
            got = self.recv_envelope(left)
            if got.WhichOneof("body") == "notice":
                self.notices.append(got.notice)
                continue
            if got.request_id == 0 and got.WhichOneof("body") == "reply":
                self.probes += 1  # the broker checking this connection is still there
                continue
            assert got.request_id == env.request_id, (got.request_id, env.request_id)
            return got

    def call(self, timeout=5.0, **body):
        got = self.request(timeout, **body)
        if got.WhichOneof("body") == "error":
            raise Refused(got.error)
        return got.reply

    def resume(self, after=0, from_last_ack=False):
        return self.call(resume=pb.Resume(after_seq=after, from_last_ack=from_last_ack)).resume

    def wait_notices(self, count, timeout=5.0):
        """Collects notices until `count` are held; returns and clears them."""
        deadline = time.time() + timeout
        while len(self.notices) < count:
            left = deadline - time.time()
            if left <= 0:
                break
            try:
                got = self.recv_envelope(left)
            except TimeoutError:
                break
            if got.WhichOneof("body") == "notice":
                self.notices.append(got.notice)
        out, self.notices = self.notices, []
        return out

    def drain(self, quiet=0.5):
        """Every notice that arrives until `quiet` seconds pass without one."""
        out = list(self.notices)
        self.notices = []
        until = time.time() + quiet
        while True:
            try:
                got = self.recv_envelope(max(until - time.time(), 0.001))
            except TimeoutError:
                return out
            if got.WhichOneof("body") == "notice":
                out.append(got.notice)
                until = time.time() + quiet
            elif got.request_id == 0 and got.WhichOneof("body") == "reply":
                self.probes += 1

    def ack(self, seq):
        return self.call(ack=pb.Ack(seq=seq))


def read_keyfile(path):
    """(public, secret) from a gongxu key file (`public-key = Z85`, `secret-key = Z85`)."""
    pub = sec = None
    with open(path) as f:
        lines = f.readlines()
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=":
            if parts[0] == "public-key":
                pub = parts[2].encode()
            elif parts[0] == "secret-key":
                sec = parts[2].encode()
    return pub, sec


def firm(fid, name, county, zone="", credit=pb.CREDIT_B, certs=(), lat=None, lon=None, contact="", language="en"):
    """A Firm record. language "en" by default: the tests read the English texts of
    explanations and hints; "" leaves it unset (the broker's default, zh-CN)."""
    f = pb.Firm(id=fid, name=name, county=county, zone=zone, credit=credit, contact=contact, language=language)
    for scheme, until in certs:
        f.certifications.add(scheme=scheme, number="N-" + scheme, valid_until=until)
    if lat is not None:
        f.location.lat, f.location.lon = lat, lon
    return f


def seed_walkthrough_firms(op):
    """The README's cast: an anchor in the ETDZ and three die casters."""
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        ANCHOR, "Hebi Auto Electronics", "410611", "hebi.etdz", pb.CREDIT_A, lat=35.73, lon=114.35,
        contact="procurement@anchor.example")))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_CERT, "Qibin Magnesium Die Casting", "410611", "", pb.CREDIT_B,
        [("IATF16949", "2028-06-30"), ("ISO9001", "2028-06-30")], 35.75, 114.30, contact="sales@qbmg.example")))
    op.call(register_firm=pb.RegisterFirm(firm=firm(
        SME_PLAIN, "Qibin Light Alloy Works", "410611", "", pb.CREDIT_B,
        [("ISO9001", "2028-06-30")], 35.76, 114.28, contact="boss@qbla.example")))


def mg_offer(**over):
    o = pb.Offer(kinds=[pb.PARTS_SUPPLY], industries=["C3670"], processes=["casting.die.magnesium"],
                 materials=["material.metal.magnesium.az91d"], monthly_capacity=20000, min_order=500,
                 lead_time_days=20, title="Mg die casting up to 800 t")
    for k, v in over.items():
        setattr(o, k, v) if not isinstance(v, list) else (o.ClearField(k), getattr(o, k).extend(v))
    return o


def mg_demand(**over):
    d = pb.Demand(kind=pb.PARTS_SUPPLY, industry="C3670", processes=["casting.die.magnesium"],
                  materials=["material.metal.magnesium.az91d"], quantity=5000, unit="pcs",
                  needed_by=time.strftime("%Y-%m-%d", time.gmtime(time.time() + 120 * 86400)),
                  certifications=["IATF16949"], scope=pb.THREE_DISTRICTS, title="Magnesium ECU housings",
                  summary="AZ91D housings for an engine control unit", details="drawing MG-42 rev C; 0.05 mm")
    for k, v in over.items():
        setattr(d, k, v) if not isinstance(v, list) else (d.ClearField(k), getattr(d, k).extend(v))
    return d


def body_of(notice):
    return notice.WhichOneof("body")


def main():
    unittest.main(verbosity=2)
