#!/usr/bin/python3
"""tests/bench/fed.py — the federation benchmark (issue 17, item 7).

  tests/bench/fed.py [--smoke] [--build-dir DIR] [--json OUT] [--rates 50,200] [--seconds 10]

Starts a province on loopback (tests/integration/gxfed.py): three nats-servers in a
cluster with JetStream (file storage, the stream R3) and three gongxud federated over it,
Hebi 4106, Zhengzhou 4101 and Xinxiang 4107, CURVE on, durable commits; stops every one by
PID at the end. tests/bench/run runs the same as its section `fed` (skip it with
--skip fed). It measures:

  1. post-to-notice at a fixed offered load (--rates, open loop): anchors in Hebi post
     province-scoped demands at t0 + k/RATE; each matches the offers of three SMEs, one in
     each city, each connected to its own city's broker. Latency from the demand's scheduled
     send to the Opportunity at the Hebi SME (local, the baseline, same load) and at the
     Zhengzhou and Xinxiang SMEs (cross-city). Components: the post's ack (durable in
     Hebi), the post seen on NATS (a core subscriber on gx.4106.> as a bench user: Hebi
     committed it, put it in its outbox and published it), and from there to the remote
     notice (JetStream stores and replicates it, the receiver's pull consumer fetches it,
     applies it in one LMDB transaction, matches it and pushes the notice). Every time is
     read in this one process with time.monotonic().
  2. throughput (gxload ingest, closed loop, --clients in all with --window in flight
     each): one gongxud taking all of it (Hebi; the other two apply what crosses), then the
     three at once, each with its share of the clients, the cross-city traffic flowing.
     Then the cross-city apply rate: Xinxiang is stopped (SIGTERM), Hebi and Zhengzhou
     ingest for --seconds, and Xinxiang is started again and timed until it has applied
     the backlog (gongxu_federation_applied_total).

One JSON line of raw figures is printed with --json -, else a table; every wait is
bounded. Figures from --smoke are not performance.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
HEBI, ZHENGZHOU, XINXIANG = 4106, 4101, 4107
NAMES = {HEBI: "Hebi", ZHENGZHOU: "Zhengzhou", XINXIANG: "Xinxiang"}
ANCHORS = 4  # Hebi anchors sharing the offered load (each well under rate_per_firm)
BENCH_USER = "bench"

SMOKE = {"rates": "20", "seconds": 1.0, "firms": 20, "clients": 3, "window": 8, "tput_seconds": 1.0}
FULL = {"rates": "50,200", "seconds": 10.0, "firms": 1000, "clients": 12, "window": 16, "tput_seconds": 10.0}


def _log(msg):
    print("[fed] %s" % msg, file=sys.stderr, flush=True)


def _imports(bin_dir):
    """gxharness reads GX_BIN and GX_PY when first imported: set them to bin_dir's tree."""
    os.environ.setdefault("GX_BIN", bin_dir)
    os.environ.setdefault("GX_PY", os.path.join(bin_dir, "python"))
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import gxfed  # noqa: E402
    import gxharness  # noqa: E402
    return gxfed, gxharness


def quantiles(v):
    """p50, p99 and max of samples in seconds, as microseconds; None when there are none."""
    if not v:
        return {"n": 0, "p50_us": None, "p99_us": None, "max_us": None}
    s = sorted(v)

    def q(x):
        return round(s[min(len(s) - 1, int(x * len(s)))] * 1e6)

    return {"n": len(s), "p50_us": q(0.5), "p99_us": q(0.99), "max_us": round(s[-1] * 1e6)}


# ------------------------------------------------------------------ a bare NATS subscriber

class NatsTap:
    """A core NATS subscription on gx.<city>.> as the bench user: when each FedMessage
    reached the server. It reads whatever is there without blocking (fileno for poll)."""

    def __init__(self, url, password, subject):
        host, port = url.replace("nats://", "").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""
        self._line_blocking()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"user":"%s","pass":"%s"}\r\n'
                          b"SUB %s 1\r\nPING\r\n" % (BENCH_USER.encode(), password.encode(), subject.encode()))
        while True:
            line = self._line_blocking()
            if line.startswith(b"PONG"):
                break
            if line.startswith(b"-ERR"):
                raise RuntimeError("NATS refused the bench subscriber: %r" % line)
        self.sock.setblocking(False)

    def _line_blocking(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("NATS closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """The payloads of every whole MSG received so far."""
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                self.buf += chunk
        except BlockingIOError:
            pass
        out = []
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return out
            line = self.buf[:i]
            if line.startswith(b"MSG "):
                n = int(line.split()[-1])
                if len(self.buf) < i + 2 + n + 2:
                    return out
                out.append(self.buf[i + 2:i + 2 + n])
                self.buf = self.buf[i + 2 + n + 2:]
                continue
            self.buf = self.buf[i + 2:]
            if line.startswith(b"PING"):
                self.sock.setblocking(True)
                self.sock.sendall(b"PONG\r\n")
                self.sock.setblocking(False)

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ the province

class Province:
    def __init__(self, bin_dir, tmp, log):
        self.bin_dir, self.log = bin_dir, log
        os.environ.setdefault("GX_TEST_TMP", tmp)
        self.fx, self.hx = _imports(bin_dir)
        self.cluster = None
        self.brokers = {}

    def start(self):
        fx = self.fx
        self.cluster = fx.NatsCluster()
        # a bench user beside the cities' that may only subscribe to the cities' subjects
        self.bench_password = "bench-" + os.path.basename(self.cluster.tmp)
        for s in self.cluster.servers:
            with open(s.conf) as f:
                conf = json.load(f)
            conf["accounts"]["GX"]["users"].append({"user": BENCH_USER, "password": self.bench_password,
                                                    "permissions": {"publish": {"deny": [">"]},
                                                                    "subscribe": {"allow": ["gx.>"]}}})
            with open(s.conf, "w") as f:
                json.dump(conf, f, indent=1)
        self.log("starting three nats-servers (JetStream, R3) and three gongxud: Hebi 4106, Zhengzhou 4101, "
                 "Xinxiang 4107")
        self.cluster.start()
        for city in (HEBI, ZHENGZHOU, XINXIANG):
            # info, not the harness's debug: a log line per request would be part of the figures;
            # no per-firm rate limit: the ingest's few firms post as fast as the broker takes them
            extra = ["--log-level", "info", "-o", "rate_per_firm=1000000", "-o", "rate_burst=10000000",
                     "-o", "max_open_postings=100000000"]
            self.brokers[city] = fx.city_broker(self.cluster, city, extra=extra).start(timeout=90)
        return self

    def stop(self):
        for b in self.brokers.values():
            try:
                if b.proc:
                    b.stop(timeout=60)
            finally:
                b.cleanup()
        if self.cluster:
            self.cluster.cleanup()
        self.fx.stop_leftovers()

    def metric(self, city, name):
        return self.fx.metric(self.brokers[city], name)

    def wait_for(self, what, fn, timeout):
        return self.fx.wait_for(what, fn, timeout, every=0.1)


# ------------------------------------------------------------------ 1. post-to-notice

def _usccs(hx, prefix, n):
    return [hx.uscc("%s%02d" % (prefix, i)) for i in range(n)]


def latency_setup(p):
    """Firms and offers: ANCHORS anchors and one SME in Hebi, one SME each in Zhengzhou and
    Xinxiang, each SME with a province-wide offer that every demand of the run matches."""
    hx, pb = p.hx, p.hx.pb
    certs = [("IATF16949", "2030-06-30"), ("ISO9001", "2030-06-30")]
    anchors = _usccs(hx, "91410611MA47BAN", ANCHORS)  # 15 + 2 characters and the check
    smes = {HEBI: hx.uscc("91410611MA47BDC01"), ZHENGZHOU: hx.uscc("91410102MA48BDC02"),
            XINXIANG: hx.uscc("91410702MA49BDC03")}
    where = {HEBI: ("410611", 35.75, 114.30), ZHENGZHOU: ("410102", 34.75, 113.62),
             XINXIANG: ("410702", 35.30, 113.90)}
    op = p.brokers[HEBI].client(operator=True)
    for i, a in enumerate(anchors):
        op.call(register_firm=pb.RegisterFirm(firm=hx.firm(a, "Bench Anchor %d" % i, "410611", "hebi.etdz",
                                                           pb.CREDIT_A, lat=35.73, lon=114.35)))
    op.close()
    offers = {}
    for city, fid in smes.items():
        county, lat, lon = where[city]
        op = p.brokers[city].client(operator=True)
        op.call(register_firm=pb.RegisterFirm(firm=hx.firm(fid, "Bench SME %s" % NAMES[city], county, "",
                                                           pb.CREDIT_B, certs, lat, lon)))
        op.close()
        c = p.brokers[city].client(fid)
        offers[city] = c.call(post_offer=pb.PostOffer(offer=hx.mg_offer(service_scope=pb.SAME_PROVINCE))).posting.id
        c.close()
    # the two remote offers are in Hebi before the first demand: asked for by their remote ids,
    # another firm's offer is refused as forbidden once it is there, not found before
    c = p.brokers[HEBI].client(anchors[0])

    def there():
        for city in (ZHENGZHOU, XINXIANG):
            try:
                c.call(get_posting=pb.GetPosting(posting_id=city << 48 | offers[city]))
            except hx.Refused as e:
                if e.code != pb.ERR_FORBIDDEN:
                    return False
        return True

    try:
        p.wait_for("the remote offers applied in Hebi", there, 60)
    finally:
        c.close()
    return anchors, smes


def post_to_notice(p, anchors, smes, rate, seconds, log):
    """One open-loop run at `rate` demands/s for `seconds`; returns the raw figures."""
    import zmq
    hx, pb = p.hx, p.hx.pb
    hb = p.brokers[HEBI]
    n = max(1, int(rate * seconds))
    tap = NatsTap(p.cluster.servers[0].url, p.bench_password, "gx.%d.>" % HEBI)
    conns = [hb.client(a) for a in anchors]
    sme = {city: p.brokers[city].client(fid) for city, fid in smes.items()}
    for c in sme.values():
        c.resume(from_last_ack=True)  # not the earlier runs' notices again
    poller = zmq.Poller()
    who = {}
    for i, c in enumerate(conns):
        poller.register(c.sock, zmq.POLLIN)
        who[c.sock] = ("anchor", i)
    for city, c in sme.items():
        poller.register(c.sock, zmq.POLLIN)
        who[c.sock] = ("sme", city)
    poller.register(tap.fileno(), zmq.POLLIN)

    demand = hx.mg_demand(scope=pb.SAME_PROVINCE, title="fed bench").SerializeToString()
    sched = {}            # (anchor, request id) -> k, the demand's place in the schedule
    id_of = {}            # local demand id -> k
    t_sched = [0.0] * n   # k -> scheduled send
    t_ack = [None] * n    # k -> reply
    t_nats = {}           # local demand id -> first seen on NATS
    t_note = {city: {} for city in smes}  # city -> demand id as that city names it -> arrival
    errors, lag_max = [], 0.0
    top_seq = {city: 0 for city in smes}
    acked_seq = dict(top_seq)
    next_rid = 1
    last_ack_send = 0.0

    def remote(did):
        return HEBI << 48 | did

    def done_notices():
        if len(id_of) < n:
            return False
        for city, got in t_note.items():
            want = id_of if city == HEBI else {remote(d) for d in id_of}
            if len(got) < len(want) or any(d not in got for d in want):
                return False
        return True

    t0 = time.monotonic() + 0.2
    k = 0
    end_by = None
    while True:
        now = time.monotonic()
        while k < n and now >= t0 + k / rate:
            ts = t0 + k / rate
            lag_max = max(lag_max, now - ts)
            a = k % len(conns)
            env = pb.Envelope(version=1, request_id=k + 1)
            env.post_demand.demand.ParseFromString(demand)
            conns[a].sock.send(env.SerializeToString())
            sched[(a, k + 1)] = k
            t_sched[k] = ts
            k += 1
            now = time.monotonic()
        if k == n and end_by is None:
            end_by = now + 30.0  # bounded: every reply and notice within 30 s of the last send
        if end_by is not None and (done_notices() or now > end_by):
            break
        if now - last_ack_send > 0.05:  # acknowledge what each SME has read (cumulative)
            for city, c in sme.items():
                if top_seq[city] > acked_seq[city]:
                    c.sock.send(pb.Envelope(version=1, request_id=(1 << 40) + next_rid,
                                            ack=pb.Ack(seq=top_seq[city])).SerializeToString())
                    next_rid += 1
                    acked_seq[city] = top_seq[city]
            last_ack_send = now
        wait = (t0 + k / rate - now) if k < n else 0.05
        for s, _ in poller.poll(max(0, min(wait, 0.05)) * 1000):
            if s == tap.fileno():
                at = time.monotonic()
                for payload in tap.read():
                    m = pb.FedMessage()
                    m.ParseFromString(payload)
                    if m.kind == 1:
                        t_nats.setdefault(m.origin_id, at)
                continue
            kind, x = who[s]
            while s.poll(0):
                frame = s.recv()
                at = time.monotonic()
                env = pb.Envelope()
                env.ParseFromString(frame)
                body = env.WhichOneof("body")
                if kind == "anchor":
                    if body == "notice":
                        continue
                    kk = sched.get((x, env.request_id))
                    if kk is None:
                        continue
                    if body == "error":
                        errors.append(env.error.message)
                        continue
                    t_ack[kk] = at
                    id_of[env.reply.posting.id] = kk
                elif body == "notice":
                    nt = env.notice
                    top_seq[x] = max(top_seq[x], nt.seq)
                    if hx.body_of(nt) == "opportunity":
                        t_note[x].setdefault(nt.opportunity.demand.id, at)
                elif body == "error":
                    errors.append("%s SME: %s" % (NAMES[x], env.error.message))
    for c in conns + list(sme.values()):
        c.close()
    tap.close()

    ack, local, remote_all, nats, nats_to = [], [], [], [], []
    per_city = {ZHENGZHOU: [], XINXIANG: []}
    missing = {NAMES[c]: 0 for c in smes}
    for did, kk in id_of.items():
        ts = t_sched[kk]
        ack.append(t_ack[kk] - ts)
        if did in t_note[HEBI]:
            local.append(t_note[HEBI][did] - ts)
        else:
            missing[NAMES[HEBI]] += 1
        if did in t_nats:
            nats.append(t_nats[did] - ts)
        for city in (ZHENGZHOU, XINXIANG):
            at = t_note[city].get(remote(did))
            if at is None:
                missing[NAMES[city]] += 1
                continue
            per_city[city].append(at - ts)
            remote_all.append(at - ts)
            if did in t_nats:
                nats_to.append(at - t_nats[did])
    out = {"rate": rate, "seconds": seconds, "posted": n, "acked": len(id_of), "errors": len(errors),
           "error_sample": errors[:3], "missing": missing, "send_lag_max_us": round(lag_max * 1e6),
           "ack": quantiles(ack), "local": quantiles(local), "remote": quantiles(remote_all),
           "remote_zhengzhou": quantiles(per_city[ZHENGZHOU]), "remote_xinxiang": quantiles(per_city[XINXIANG]),
           "on_nats": quantiles(nats), "nats_to_remote": quantiles(nats_to)}
    log("  %g/s: %d posted, %d acked; notice p50/p99/max local %s, cross-city %s (ms); missing %s" % (
        rate, n, len(id_of), _pq(out["local"]), _pq(out["remote"]), missing))
    return out


def _pq(q):
    if not q["n"]:
        return "-"
    return "%.1f/%.1f/%.1f" % (q["p50_us"] / 1e3, q["p99_us"] / 1e3, q["max_us"] / 1e3)


# ------------------------------------------------------------------ 2. throughput

COUNTY = {HEBI: "410611", ZHENGZHOU: "410102", XINXIANG: "410702"}


def register_firms(p, city, n):
    """n firms of city's own county (a broker refuses another city's county) and a CURVE
    key each, registered by the operator; their keys written as gxload's key file
    (FIRM PUBLIC SECRET), which gxload ingest reads: client c acts for firm c."""
    import zmq
    hx, pb = p.hx, p.hx.pb
    b = p.brokers[city]
    op = b.client(operator=True)
    lines, t = [], time.monotonic()
    try:
        for i in range(n):
            fid = hx.uscc("91%sMA%07d" % (COUNTY[city], i))
            op.call(register_firm=pb.RegisterFirm(firm=hx.firm(
                fid, "Bench Firm %s %d" % (NAMES[city], i), COUNTY[city], "", pb.CREDIT_B,
                [("ISO9001", "2030-06-30")])))
            pub, sec = zmq.curve_keypair()
            op.call(register_key=pb.RegisterKey(firm_id=fid, public_key=pub.decode()))
            lines.append("%s %s %s\n" % (fid, pub.decode(), sec.decode()))
    finally:
        op.close()
    path = os.path.join(b.tmp, "bench.keys")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.writelines(lines)
    return {"firms": n, "seconds": round(time.monotonic() - t, 3)}



def _gxload(p, city, bin_dir, seed, firms, now, mode, *args, timeout):
    b = p.brokers[city]
    cmd = [os.path.join(bin_dir, "tests", "bench", "gxload"), mode, "--endpoint", b.endpoint,
           "--server-key", os.path.join(b.data_dir, "broker.pub"),
           "--operator-key", os.path.join(b.data_dir, "operator.key"),
           "--keys", os.path.join(b.tmp, "bench.keys"), "--seed", str(seed), "--firms", str(firms),
           "--now", now, "--progress", "5"] + [str(x) for x in args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL), timeout


def _result(proc_timeout):
    proc, timeout = proc_timeout
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("gxload: exit %s" % proc.returncode)
    return json.loads(lines[-1])


def open_postings(p, city):
    """gongxu_postings_open summed over its labels (an offer counts once per kind it serves)."""
    with urllib.request.urlopen(p.brokers[city].http + "/metrics", timeout=30) as r:
        body = r.read().decode(errors="replace")
    return int(sum(float(ln.rsplit(" ", 1)[1]) for ln in body.splitlines()
                   if ln.startswith("gongxu_postings_open{") or ln.startswith("gongxu_postings_open ")))


def _results(procs):
    """_result of each of several gxloads run at once; when one fails, the others are killed
    by PID too (each is bounded by its --seconds anyway)."""
    try:
        return {c: _result(x) for c, x in procs.items()}
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _fed_counts(p, city):
    return {k: int(p.metric(city, "gongxu_federation_%s_total" % k))
            for k in ("outboxed", "published", "applied", "duplicates", "bad", "own")}


def throughput(p, bin_dir, a, log):
    now = str(int(time.time()))
    seeds = {HEBI: a.seed, ZHENGZHOU: a.seed + 1, XINXIANG: a.seed + 2}  # distinct firm ids per city
    out = {"clients": a.clients, "window": a.window, "seconds": a.tput_seconds, "firms": a.firms}
    log("throughput: registering %d firms of its own county and a key for each in each city" % a.clients)
    out["setup"] = {NAMES[c]: register_firms(p, c, a.clients) for c in seeds}

    def ingest(city, clients):
        return _gxload(p, city, bin_dir, seeds[city], a.firms, now, "ingest", "--clients", clients,
                       "--window", a.window, "--seconds", a.tput_seconds, timeout=a.tput_seconds + 300)

    def settle(cities, limit=300):
        """Until every publisher's outbox is empty and every receiver has applied what the
        others published (bounded): the next phase starts from a quiet province."""
        def quiet():
            pub = sum(p.metric(c, "gongxu_federation_published_total") for c in cities)
            depth = sum(p.metric(c, "gongxu_federation_outbox_depth") for c in cities)
            got = [p.metric(c, "gongxu_federation_applied_total") + p.metric(c, "gongxu_federation_own_total")
                   for c in cities]
            return depth == 0 and all(g >= pub for g in got)
        t = time.monotonic()
        p.wait_for("the province quiet", quiet, limit)
        return round(time.monotonic() - t, 2)

    all3 = (HEBI, ZHENGZHOU, XINXIANG)
    out["settle_before_s"] = settle(all3)
    def run_one(what):
        log("throughput: one gongxud (Hebi) takes all the load: %d firms, %d in flight each, %g s (%s)"
            % (a.clients, a.window, a.tput_seconds, what))
        opened = {NAMES[c]: open_postings(p, c) for c in all3}
        c0 = {c: _fed_counts(p, c) for c in all3}
        one = _result(ingest(HEBI, a.clients))
        c1 = {c: _fed_counts(p, c) for c in all3}
        one["open_before"] = opened
        one["outboxed"] = c1[HEBI]["outboxed"] - c0[HEBI]["outboxed"]
        one["published_during"] = c1[HEBI]["published"] - c0[HEBI]["published"]
        one["settle_s"] = settle(all3)
        log("  one: %.0f acknowledged postings/s, %d crossing; open postings before: %s"
            % (one["acks_per_s"], one["outboxed"], opened))
        return one

    out["one"] = run_one("first")

    share = [a.clients // 3 + (1 if i < a.clients % 3 else 0) for i in range(3)]
    log("throughput: three gongxud at once, %s firms each, cross-city traffic flowing" % share)
    c0 = {c: _fed_counts(p, c) for c in all3}
    opened = {NAMES[c]: open_postings(p, c) for c in all3}
    procs = {c: ingest(c, max(1, share[i])) for i, c in enumerate(all3)}
    three = {NAMES[c]: r for c, r in _results(procs).items()}
    c1 = {c: _fed_counts(p, c) for c in all3}
    tot = sum(r["acks_per_s"] for r in three.values())
    applied = sum(c1[c]["applied"] - c0[c]["applied"] for c in all3)
    out["three"] = {"cities": three, "acks_per_s": round(tot, 1),
                    "outboxed": sum(c1[c]["outboxed"] - c0[c]["outboxed"] for c in all3),
                    "applied_during": applied, "applied_per_s_during": round(applied / a.tput_seconds, 1),
                    "errors": sum(r["errors"] for r in three.values()), "open_before": opened}
    out["three"]["settle_s"] = settle(all3)
    log("  three: %.0f acknowledged postings/s in all (%s), %d applied across while they ran; open postings "
        "before: %s" % (tot, ", ".join("%s %.0f" % (k, v["acks_per_s"]) for k, v in three.items()), applied, opened))
    # the brokers grew in each phase (each posting stays open, and what crosses is held by all
    # three): one broker again, now at least as large as the three were, brackets the comparison
    out["one_again"] = run_one("again, after the three")

    # catch-up: Xinxiang away while Hebi and Zhengzhou post, then back
    xx = p.brokers[XINXIANG]
    log("catch-up: Xinxiang stopped (SIGTERM); Hebi and Zhengzhou ingest %g s" % a.tput_seconds)
    xx.stop(timeout=60)
    pub0 = sum(p.metric(c, "gongxu_federation_published_total") for c in (HEBI, ZHENGZHOU))
    procs = {c: ingest(c, max(1, share[i])) for i, c in enumerate((HEBI, ZHENGZHOU))}
    _results(procs)
    p.wait_for("Hebi's and Zhengzhou's outboxes published",
               lambda: sum(p.metric(c, "gongxu_federation_outbox_depth") for c in (HEBI, ZHENGZHOU)) == 0, 300)
    backlog = int(sum(p.metric(c, "gongxu_federation_published_total") for c in (HEBI, ZHENGZHOU)) - pub0)
    log("catch-up: %d messages wait for Xinxiang; starting it" % backlog)
    t_start = time.monotonic()
    xx.start(timeout=120)
    t_ready = time.monotonic()
    samples, first = [], None
    deadline = t_ready + max(300.0, backlog / 20.0)
    while time.monotonic() < deadline:
        got = p.metric(XINXIANG, "gongxu_federation_applied_total") + \
            p.metric(XINXIANG, "gongxu_federation_duplicates_total")
        t = time.monotonic()
        samples.append((round(t - t_ready, 3), int(got)))
        if got and first is None:
            first = t
        if got >= backlog:
            break
        time.sleep(0.05)
    t_done = time.monotonic()
    got = samples[-1][1] if samples else 0
    span = (t_done - first) if first else None
    out["catchup"] = {"backlog": backlog, "applied": got, "complete": got >= backlog,
                      "start_s": round(t_ready - t_start, 3), "until_all_applied_s": round(t_done - t_ready, 3),
                      "applied_per_s_from_start": round(got / (t_done - t_start), 1),
                      "applied_per_s": round(got / (t_done - t_ready), 1) if t_done > t_ready else None,
                      "applied_per_s_after_first": round(got / span, 1) if span else None,
                      "samples": samples[:: max(1, len(samples) // 50)]}
    log("  catch-up: %d of %d applied in %.2f s after ready (%s/s)" % (
        got, backlog, t_done - t_ready, out["catchup"]["applied_per_s"]))
    return out


# ------------------------------------------------------------------ the whole run, rows, table

def measure(bin_dir, tmp, a, log=_log):
    """Every figure above, as a dict; the province is stopped by PID at the end."""
    p = Province(bin_dir, tmp, log)
    raw = {"params": {k: getattr(a, k) for k in ("rates", "seconds", "firms", "clients", "window",
                                                 "tput_seconds", "seed")},
           "loadavg_start": [round(x, 2) for x in os.getloadavg()]}  # a shared machine: say how shared
    try:
        p.start()
        anchors, smes = latency_setup(p)
        raw["latency"] = []
        for rate in [float(x) for x in str(a.rates).split(",") if x]:
            log("post-to-notice at %g province demands/s for %g s (%d anchors in Hebi; SMEs in all three cities)"
                % (rate, a.seconds, ANCHORS))
            raw["latency"].append(post_to_notice(p, anchors, smes, rate, a.seconds, log))
        raw["throughput"] = throughput(p, bin_dir, a, log)
        raw["metrics_after"] = {NAMES[c]: _fed_counts(p, c) for c in p.brokers}
        raw["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        p.stop()
    return raw


def rows(raw):
    """(key, metric, unit, value, note) for tests/bench/run's table and --json."""
    out = []

    def row(key, metric, unit, value, note=None):
        out.append((key, metric, unit, value, note))

    for r in raw.get("latency") or []:
        g = "%g" % r["rate"]
        miss = sum(r["missing"].values())
        for side, label in (("local", "local (a Hebi SME), the baseline"),
                            ("remote", "cross-city (Zhengzhou and Xinxiang SMEs)")):
            q = r[side]
            row("fed_notice_%s_p50_%s" % (side, g), "federation: post-to-notice p50 at %s/s, %s" % (g, label), "us",
                q["p50_us"], "%d notices; %d missing" % (q["n"], miss) if side == "remote" else None)
            row("fed_notice_%s_p99_%s" % (side, g), "  p99", "us", q["p99_us"])
            row("fed_notice_%s_max_%s" % (side, g), "  max", "us", q["max_us"])
        row("fed_ack_p50_%s" % g, "  component: the post acknowledged (durable in Hebi) p50", "us", r["ack"]["p50_us"])
        row("fed_on_nats_p50_%s" % g, "  component: seen on NATS (committed, outboxed, published) p50", "us",
            r["on_nats"]["p50_us"])
        row("fed_nats_to_remote_p50_%s" % g, "  component: from NATS to the remote SME's notice p50", "us",
            r["nats_to_remote"]["p50_us"])
        row("fed_nats_to_remote_p99_%s" % g, "  the same, p99", "us", r["nats_to_remote"]["p99_us"])
    t = raw.get("throughput") or {}
    if t:
        row("fed_tput_one", "federation: acknowledged postings/s, one gongxud takes all (%d firms, %d in flight each)"
            % (t["clients"], t["window"]), "1/s", (t.get("one") or {}).get("acks_per_s"),
            "%s of them crossed; open postings before: %s" % ((t.get("one") or {}).get("outboxed"), ", ".join(
                "%s %s" % kv for kv in ((t.get("one") or {}).get("open_before") or {}).items())))
        th = t.get("three") or {}
        one = t.get("one") or {}
        if one.get("published_during") is not None:
            row("fed_published_per_s_one", "  Hebi's publisher meanwhile: messages/s acknowledged by JetStream", "1/s",
                one["published_during"] / t["seconds"], "%d of %d outboxed; every city had them all %s s after the load stopped" % (
                    one["published_during"], one["outboxed"], one.get("settle_s")))
        row("fed_tput_three", "federation: acknowledged postings/s, three gongxud at once (the firms split)", "1/s",
            th.get("acks_per_s"), ", ".join("%s %.0f (%s open before)" % (k, v["acks_per_s"], (
                th.get("open_before") or {}).get(k)) for k, v in (th.get("cities") or {}).items()))
        row("fed_applied_during", "  messages applied across per second while the three ran", "1/s",
            th.get("applied_per_s_during"))
        row("fed_tput_one_again", "  one gongxud again, after the three (every broker larger)", "1/s",
            (t.get("one_again") or {}).get("acks_per_s"), "open postings before: %s" % ", ".join(
                "%s %s" % kv for kv in ((t.get("one_again") or {}).get("open_before") or {}).items()))
        c = t.get("catchup") or {}
        row("fed_catchup_per_s", "federation: catch-up apply rate, a city back after an outage", "1/s",
            c.get("applied_per_s"), "%s of %s messages in %s s after it was ready" % (
                c.get("applied"), c.get("backlog"), c.get("until_all_applied_s")))
    return out


def problems(raw):
    """What went wrong in a run that finished: errors, notices that never came, a catch-up
    that did not complete. Empty when every figure stands."""
    out = []
    for r in raw.get("latency") or []:
        if r["errors"]:
            out.append("%g/s: %d posts refused (%s)" % (r["rate"], r["errors"], "; ".join(r["error_sample"])))
        if sum(r["missing"].values()):
            out.append("%g/s: Opportunity notices missing after 30 s: %s" % (r["rate"], r["missing"]))
    t = raw.get("throughput") or {}
    errs = [(k, (t.get(k) or {}).get("errors")) for k in ("one", "three", "one_again")]
    if any(e for _, e in errs):
        out.append("ingest errors: %s" % errs)
    if t and not (t.get("catchup") or {}).get("complete"):
        out.append("catch-up incomplete: %s" % {k: v for k, v in (t.get("catchup") or {}).items() if k != "samples"})
    return out


def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "us":
        return "%.2f ms" % (v / 1e3)
    return "{:,.0f}".format(v) if abs(v) >= 100 else "%.2f" % v


def print_table(raw, out=sys.stdout, head=None):
    if head:
        print(head, file=out)
    rs = rows(raw)
    w = max(len(r[1]) for r in rs) if rs else 10
    for key, metric, unit, value, note in rs:
        print("  %s  %12s%s" % (metric.ljust(w), _fmt(value, unit), "  (%s)" % note if note else ""), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs; not performance")
    ap.add_argument("--build-dir", default=os.environ.get("GX_BENCH_BUILD", os.path.join(SRC, "build")),
                    help="a built tree with GX_TESTS=ON (gongxud, gxload, python/) (default build/)")
    ap.add_argument("--json", help="write the raw figures and rows here")
    ap.add_argument("--rates", help="post-to-notice offered loads, demands/s (default 50,200)")
    ap.add_argument("--seconds", type=float, help="each post-to-notice run (default 10)")
    ap.add_argument("--tput-seconds", type=float, help="each throughput phase (default 10)")
    ap.add_argument("--clients", type=int, help="ingest firms in all (default 12)")
    ap.add_argument("--window", type=int, help="ingest requests in flight per firm (default 16)")
    ap.add_argument("--firms", type=int, help="gxload's workload firms, which shape its postings (default 1000); "
                                              "--clients firms are registered in each city")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    for k, v in (SMOKE if a.smoke else FULL).items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    bin_dir = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="fedbench.", dir=os.path.join(bin_dir, "tmp") if os.path.isdir(
        os.path.join(bin_dir, "tmp")) else None)
    try:
        raw = measure(bin_dir, tmp, a)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    commit = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL).stdout.decode().strip()
    raw["commit"], raw["date"], raw["smoke"] = commit, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), a.smoke
    raw["nproc"] = os.cpu_count()
    raw["rows"] = [{"key": k, "metric": m, "unit": u, "gongxu": v, "note": n} for k, m, u, v, n in rows(raw)]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(raw, f, indent=2)
    print_table(raw, head="gongxu federation benchmark%s — %d cores, commit %s, %s, load average %s at the "
                          "start and %s at the end" % (
                              " (SMOKE: tiny sizes, figures are not performance)" if a.smoke else "", raw["nproc"],
                              commit, raw["date"], "/".join("%g" % x for x in raw["loadavg_start"]),
                              "/".join("%g" % x for x in raw.get("loadavg_end", []))))
    for e in problems(raw):
        print("FAILED " + e)
    return 1 if problems(raw) else 0


if __name__ == "__main__":
    sys.exit(main())
