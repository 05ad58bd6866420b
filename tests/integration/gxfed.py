"""gxfed — a province of cities for the federation tests: real nats-servers and real gongxud.

NatsCluster writes a config for each of n nats-servers (JetStream with file storage under
the test's temporary directory, a cluster of them on loopback ports chosen free, one NATS
user per city whose publish permission is its own subjects gx.<city>.> plus the JetStream
API subjects its broker uses, and nothing else, and whose subscribe permission is its own
inbox prefix _INBOX_<city>.>), starts them, waits for JetStream to be ready, and stops each
by PID. city_broker makes one gongxud per city (gxharness.Broker with the federation keys).
Every nats-server and gongxud started here is also stopped, by PID, when the interpreter
exits. Every wait is bounded; nothing here imitates either program.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from gxharness import Broker, free_port, pb, uscc  # noqa: F401

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
STREAM = "GONGXU"
CITIES = {4106: "Hebi", 4101: "Zhengzhou", 4107: "Xinxiang"}
_started = set()
_brokers = []  # every gongxud city_broker made, stopped at exit if still running


def city_permissions(city, stream=STREAM):
    """What city's NATS user may publish and subscribe: its own subjects, and the JetStream
    API of the stream and of its own durable consumer. This is the narrowest set gongxud
    (libnats 3.4) needs: stream info and create, the consumer's info, delete (it is made
    afresh at every start, from the sequence after the one applied), create and next
    message, and acknowledging its own consumer's messages. Replies (PubAcks, fetched
    messages, API answers) come to its own inbox prefix _INBOX_<city> (libnats'
    natsOptions_SetCustomInboxPrefix), the only subjects it may subscribe to: no city reads
    another's deliveries or acks."""
    durable = "city-%d" % city
    return {
        "publish": {"allow": [
            "gx.%d.>" % city,
            "$JS.API.STREAM.INFO.%s" % stream,
            "$JS.API.STREAM.CREATE.%s" % stream,
            "$JS.API.CONSUMER.INFO.%s.%s" % (stream, durable),
            "$JS.API.CONSUMER.DELETE.%s.%s" % (stream, durable),
            "$JS.API.CONSUMER.DURABLE.CREATE.%s.%s" % (stream, durable),
            "$JS.API.CONSUMER.MSG.NEXT.%s.%s" % (stream, durable),
            "$JS.ACK.%s.%s.>" % (stream, durable),
        ]},
        "subscribe": {"allow": ["_INBOX_%d.>" % city]},
    }


class NatsServer:
    def __init__(self, cluster, i):
        self.cluster, self.i = cluster, i
        self.name = "n%d" % (i + 1)
        self.port, self.cport, self.mport = free_port(), free_port(), free_port()
        self.dir = os.path.join(cluster.tmp, self.name)
        self.conf = os.path.join(cluster.tmp, self.name + ".conf")
        self.log_path = os.path.join(cluster.tmp, self.name + ".log")
        self.proc = None

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def write_conf(self):
        users = []
        for city in self.cluster.cities:
            perms = city_permissions(city)
            users.append({"user": "city%d" % city, "password": self.cluster.password(city), "permissions": perms})
        routes = ["nats-route://127.0.0.1:%d" % s.cport for s in self.cluster.servers if s is not self]
        conf = {
            "server_name": self.name,
            "listen": "127.0.0.1:%d" % self.port,
            "http": "127.0.0.1:%d" % self.mport,
            "jetstream": {"store_dir": self.dir, "max_memory_store": 64 << 20, "max_file_store": 1 << 30},
            "accounts": {"GX": {"jetstream": "enabled", "users": users}},
        }
        conf.update(self.cluster.extra_conf)
        if len(self.cluster.servers) > 1:
            conf["cluster"] = {"name": "gx", "listen": "127.0.0.1:%d" % self.cport, "routes": routes,
                               "no_advertise": self.cluster.no_advertise}
        with open(self.conf, "w") as f:
            json.dump(conf, f, indent=1)  # the NATS config format reads JSON

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", self.conf], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        _started.add(self)

    def healthy(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.mport, timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()
            _started.discard(self)

    def stop(self, timeout=10):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
            _started.discard(self)


class NatsCluster:
    """n nats-servers with JetStream, clustered, on loopback; per-city users."""

    def __init__(self, n=3, cities=tuple(CITIES), extra_conf=None, no_advertise=False):
        if not os.path.exists(NATS_SERVER):
            raise RuntimeError("nats-server is not installed (scripts/deps.sh test installs it)")
        base = os.environ.get("GX_TEST_TMP", tempfile.gettempdir())
        os.makedirs(base, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="gxfed.", dir=base)
        self.cities = list(cities)
        self.extra_conf = dict(extra_conf or {})  # top-level server settings, e.g. max_payload
        # no_advertise: the servers tell clients nothing of the others, so a broker given one URL
        # connects (and reconnects) to that server only
        self.no_advertise = no_advertise
        self.passwords = {}  # city -> a password other than the default (reload() applies it)
        self.servers = []
        self.servers = [NatsServer(self, i) for i in range(n)]
        for s in self.servers:
            s.write_conf()

    def password(self, city):
        return self.passwords.get(city) or "pw-%d-%s" % (city, os.path.basename(self.tmp))

    def reload(self, servers=None):
        """Writes every server's config again (the users' passwords as self.passwords says) and
        makes each running server of servers (default: all) read it (SIGHUP)."""
        for s in self.servers:
            s.write_conf()
        for s in servers or self.servers:
            if s.proc:
                s.proc.send_signal(signal.SIGHUP)

    def password_file(self, city):
        path = os.path.join(self.tmp, "city%d.password" % city)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(self.password(city) + "\n")
            os.chmod(path, 0o600)
        return path

    @property
    def urls(self):
        return ",".join(s.url for s in self.servers)

    def start(self, timeout=60):
        for s in self.servers:
            s.start()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=60, servers=None):
        deadline = time.time() + timeout
        for s in servers or self.servers:
            while not s.healthy():
                if s.proc and s.proc.poll() is not None:
                    raise RuntimeError("nats-server %s exited:\n%s" % (s.name, self.read_log(s)))
                if time.time() > deadline:
                    raise RuntimeError("nats-server %s not healthy in %ds:\n%s" % (s.name, timeout, self.read_log(s)))
                time.sleep(0.2)

    def stream_leader(self, stream=STREAM, account="GX", consumer=None):
        """The name of the server leading stream, or its consumer when named (from a running
        server's /jsz), or None."""
        for s in self.servers:
            if not s.proc:
                continue
            try:
                url = "http://127.0.0.1:%d/jsz?acc=%s&streams=1&consumers=1" % (s.mport, account)
                with urllib.request.urlopen(url, timeout=3) as r:
                    jsz = json.loads(r.read())
            except Exception:  # noqa: BLE001 — try the next server
                continue
            for acc in jsz.get("account_details") or []:
                for st in acc.get("stream_detail") or []:
                    if st.get("name") != stream:
                        continue
                    if consumer is None and (st.get("cluster") or {}).get("leader"):
                        return st["cluster"]["leader"]
                    for c in st.get("consumer_detail") or []:
                        if c.get("name") == consumer and (c.get("cluster") or {}).get("leader"):
                            return c["cluster"]["leader"]
        return None

    def read_log(self, s, tail=3000):
        """Server s's log: its last tail characters (None: all of it)."""
        try:
            with open(s.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
                return text[-tail:] if tail else text
        except OSError:
            return ""

    def stop(self):
        for s in self.servers:
            s.stop()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class CityBroker(Broker):
    """A federated gongxud. It serves as soon as it is ready, whether NATS is reachable or not;
    start() then also waits until it is linked (connected, the stream and its consumer set
    up: gongxu_federation_connected 1), so that what a test publishes by hand has a stream
    to land in. start(linked=False) does not wait."""

    def start(self, timeout=10, linked=True):
        super().start(timeout)
        if linked:
            wait_for("city %d linked to NATS" % self.city,
                     lambda: self.proc is None or metric(self, "gongxu_federation_connected") == 1,
                     max(timeout, 30))
        return self


def city_broker(cluster, city, replicas=3, extra=()):
    """A gongxud for city federated over cluster (not started)."""
    args = ["-o", "federation_url=" + cluster.urls, "-o", "federation_city=%d" % city,
            "-o", "federation_user=city%d" % city,
            "-o", "federation_password_file=" + cluster.password_file(city),
            "-o", "federation_replicas=%d" % replicas] + list(extra)
    b = CityBroker(extra_args=args)
    b.city = city
    _brokers.append(b)
    return b


def metric(broker, name):
    """A counter from the broker's /metrics (0 when absent)."""
    with urllib.request.urlopen(broker.http + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_for(what, fn, timeout=30, every=0.1):
    """Polls fn until it returns something true; fails naming `what` after timeout seconds."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError("%s: not within %ds (last: %r)" % (what, timeout, last))


def stop_leftovers():
    """Kills, by PID, every gongxud and nats-server started here that still runs."""
    for b in _brokers:
        if b.proc and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
    for s in list(_started):
        s.kill()


def start_cities(cluster, firms, brokers):
    """A test class's start: a broker for each city of CITIES over cluster, put into the dict
    brokers as it starts (so that stop_cities stops what started if a later one fails), and the
    firms of each city (firms: {city: [pb.Firm]}) registered through its operator."""
    for city in CITIES:
        brokers[city] = city_broker(cluster, city).start(timeout=60)
    for city, fs in firms.items():
        op = brokers[city].client(operator=True)
        for f in fs:
            op.call(register_firm=pb.RegisterFirm(firm=f))
        op.close()


def stop_cities(brokers, cluster):
    """A test class's end: stops each broker of the dict brokers by PID and removes its
    files, then the cluster's, then anything started here that still runs."""
    for b in brokers.values():
        try:
            if b.proc:
                b.stop()
        finally:
            b.cleanup()
    cluster.cleanup()
    stop_leftovers()


atexit.register(stop_leftovers)  # a test that failed or was interrupted leaves nothing running


class RawNats:
    """A bare NATS protocol connection (CONNECT, PUB, PING) for what a broker never does:
    publishing by hand as a city's user, to see the server's permissions and the brokers'
    handling of bad messages. verbose mode: every PUB is answered +OK or -ERR."""

    def __init__(self, url, user, password, timeout=5):
        import socket
        host, port = url.replace("nats://", "").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":true,"pedantic":false,"user":"%s","pass":"%s"}\r\n'
                          % (user.encode(), password.encode()))
        line = self._line()
        if not line.startswith(b"+OK"):
            raise RuntimeError("CONNECT refused: %r" % line)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def publish(self, subject, payload):
        """Returns the server's answer: b"+OK" or the -ERR line."""
        self.sock.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
        return self._answer()

    def _answer(self):
        """The server's next line that is not a PING (answered) or an INFO."""
        while True:
            line = self._line()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"INFO"):
                continue
            return line

    def subscribe(self, subject, sid=1):
        """Returns the server's answer to SUB: b"+OK" or the -ERR line (a refused subscription is
        answered -ERR 'Permissions Violation for Subscription to ...')."""
        self.sock.sendall(b"SUB %s %d\r\n" % (subject.encode(), sid))
        return self._answer()

    def pull(self, stream, durable, inbox, expires_s=30):
        """Asks durable (a pull consumer) for one message, delivered to inbox (subscribed to
        before), and does not acknowledge it: JetStream counts it delivered, as it does one
        sent into a fetch its client has already given up on."""
        req = b'{"batch":1,"expires":%d}' % int(expires_s * 1e9)
        subj = "$JS.API.CONSUMER.MSG.NEXT.%s.%s" % (stream, durable)
        self.sock.sendall(b"PUB %s %s %d\r\n%s\r\n" % (subj.encode(), inbox.encode(), len(req), req))

    def next_msg(self, timeout=30):
        """The subject of the next message delivered to a subscription (MSG or HMSG)."""
        self.sock.settimeout(timeout)
        while True:
            line = self._line()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                size = int(line.split()[-1])
                while len(self.buf) < size + 2:
                    self.buf += self.sock.recv(65536)
                body, self.buf = self.buf[:size], self.buf[size + 2:]
                if line.startswith(b"HMSG ") and body.split(b"\r\n", 1)[0].strip() != b"NATS/1.0":
                    continue  # "NATS/1.0 408 Request Timeout" and the like: a status, not a message
                return line.split()[1].decode()

    def close(self):
        self.sock.close()


def stored_bytes(*dirs):
    """Every byte of every file under dirs (a nats-server's JetStream store, a broker's data
    dir): what an operator of that disk could read. For asserting that a secret never lies
    there in plaintext."""
    out = []
    for top in dirs:
        for root, _, files in os.walk(top):
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as f:
                        out.append(f.read())
                except OSError:
                    pass
    return b"".join(out)


def stream_bytes(cluster):
    """The raw messages of the stream as the nats-servers keep them on disk (every replica)."""
    return stored_bytes(*[s.dir for s in cluster.servers])


class BlackHole:
    """A listener on loopback that accepts connections and never writes a byte (a server
    behind a partition that drops packets, as a client sees it: the connect attempt waits
    its whole timeout for the INFO line). Its url goes in a federation_url; close() ends it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "nats://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.held = []  # accepted and left silent
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.done.set()
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()
