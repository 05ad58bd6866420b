"""Crash torture (issue 4, item 2; issue 15): kill -9 at random moments under concurrent
load loses nothing that was acknowledged and half-applies nothing.

Twelve firms near Hebi (8 SMEs, 4 anchors; USCC codes with valid check
characters, some IATF 16949 certified) drive one gongxud, each from a thread of
its own with its own connection, pipelining 1-6 requests at a time: they post,
update and withdraw offers and demands, express interest, accept and decline,
read shortlists and postings, and ack the notices they are pushed. A killer
thread sends SIGKILL to gongxud at random moments (50-400 ms after it became
ready), restarts it on the same data directory, and the workers reconnect with
new Client objects and go on. The broker writes engine snapshots while serving
(snapshot_interval_s=1; and one at once after each start that replayed), and the
killer aims: every third kill waits until a snapshot's temporary file shows (it
is written a slice per turn of the loop, at most 2,000 demands a second, while
the traffic goes on) and kills then; the restart after the kill that
follows is preceded by starts killed as soon as the log shows the load begin
("starting: restoring the engine snapshot"), until one lands before the restore
and replay finished. Where each kill landed is told by the files and the log
(engine.snap.next.tmp left: during a snapshot's write; engine.snap.next: written,
not yet recorded in the store) and counted; the run fails unless a kill landed
during a write and a start was killed while restoring. Once the store recorded a
snapshot, every start must restore it (never match every pair again), and a start
after a kill that interrupted a write must say it removed the leftover file.

Every worker keeps its own record, independent of the broker's code: each
request it sent and what came back -- ok (with ids and revisions), an error,
or nothing because the broker died ("unknown outcome") -- and every notice it
was pushed, byte for byte.

After the last kill the traffic stops, the shortlists of the live broker are
read, and the broker is killed once more and restarted (quietly). Then:

1. postings: every posting in the store (the operator reads ids 1.. until a run
   of misses) is checked against its owner's record of requests by replaying
   that record over the set of states it allows (an acked request is in every
   state, an unknown one may or may not be): the stored revision, state and
   every field must be one of those states -- an acked post, update or
   withdrawal is there, an unknown one all or nothing (a stored posting whose
   fields match no version its owner sent is a half-applied or corrupt one);
   a refused post does not exist; no post exists twice. Every GetPosting reply
   a worker got during the run is checked the same way at its point in time.
2. inboxes: each firm resumes from 0 and reads everything without acking: the
   sequence numbers are 1..head, no gap, no duplicate; every notice a worker
   was pushed during the run, acked or not (a notice leaves the broker only
   after its commit), is still there with identical bytes (or, when a posting
   or firm it is about changed since, about the same things and saying so in
   changed_since: notices are rendered when delivered); the firm's
   ack cursor lies between its highest acked Ack and its highest Ack sent.
   Every notice names postings that exist with titles their owner sent (a
   notice of a rolled-back request would name a reused id); docking notices
   match the docking requests sent (interest_received once per acked Interest,
   at most once per unknown one, never for a refused one; details_released to
   both firms or to neither, and the SME sees the details exactly then), and a
   probe Interest on every still-open demand agrees with the notices.
3. shortlists: every open demand's shortlist equals (a) the live broker's
   before the last kill, (b) what its owner was told: the candidate_added and
   candidate_removed notices in its inbox, replayed (every change to a top K
   was committed with its notice), and (c) the shortlist a second, fresh
   broker computes when the same firms re-post every surviving open offer (in
   id order) and then every surviving open demand: candidates mapped by id,
   order, ranks, eligible count, proposed sets, scores and score terms to 1e-6.
4. the engine: after the quiet restart (which must have restored the snapshot)
   and a clean stop, the engine's lists (snapdump of engine.snap: every demand's
   eligible count, the first shortlist_k of its held list with scores, its near
   misses; near_miss_max=10000 keeps them below the cap) equal those of a start
   on the same store with the snapshots removed (a full rebuild). The same for a
   copy of the data directory kept at the first kill of each kind (during a
   snapshot's write, between its write and its record, elsewhere, during a
   start's restore): started (it must restore), stopped, compared.

It prints what it checked, e.g.
  torture: 20 kills (+1 quiet) in 6.3 s, 16819 requests acked, 166 refused, 804 unknown
  outcomes (of 20691 requests, reads included), 1590 postings checked, 20913 notices over
  12 inboxes (...), 445 docking checks, 29 shortlists compared (62 candidates) ...
  torture: kills landed 5 while a snapshot was being written (...), 2 after a snapshot was
  written and before the store recorded it, 13 elsewhere while serving; 6 starts killed
  (6 while restoring the snapshot and replaying, ...); 18 snapshots written while serving
  torture: 25 starts restored the engine snapshot (4309 changed firms and postings
  replayed), 0 rebuilt it (...); the engine equal to a full rebuild of the store after 5
  restarts (137 demand lists, 228 shortlist entries; 0.6 s)
and fails when a run checked (next to) nothing.

Awards are left out: a firm's award count (track record, a score term) is the
broker's own and cannot be re-created on the fresh broker.

Environment: GX_TORTURE_KILLS (default 20: the CI variant, about 20 s on 2
cores; about 20 s too against the AddressSanitizer build, with less traffic),
GX_SNAPDUMP (the snapdump binary; default GX_BIN/tests/integration/snapdump),
GX_TORTURE_SEED (default 20260412; printed at start: the same seed gives the
same kill delays and workload draws, while thread interleaving and the moment
each kill lands differ from run to run). The long manual variant:

  cd build && GX_TORTURE_KILLS=500 GX_BIN=$PWD GX_PY=$PWD/python GX_TEST_TMP=$PWD/tmp \\
      /usr/bin/python3 ../tests/integration/test_torture.py    # about 4 minutes

Point GX_BIN at an AddressSanitizer build to run it under ASan (the harness
fails the test on any sanitizer report in the broker's log).
"""
import collections
import fcntl
import os
import random
import re
import shutil
import subprocess
import threading
import time
import traceback
import unittest

import zmq
from google.protobuf import text_format

from gxharness import Broker, Client, Refused, body_of, firm, main, pb, uscc

KILLS = int(os.environ.get("GX_TORTURE_KILLS", "20"))
SEED = int(os.environ.get("GX_TORTURE_SEED", "20260412"))
REPLY_TIMEOUT = 20.0  # seconds a running broker may take to answer (ASan builds are slow)
BROKER_ARGS = ["-o", "inbox_keep_acked=1000000",  # nothing acked is pruned: all of it is checked
               "-o", "delivery_window=1000000",   # the final read takes a whole inbox without acks,
               "-o", "delivery_window_bytes=1073741824",  # however many bytes its notices come to
               "-o", "firm_window_bytes=1073741824",
               "-o", "rate_per_firm=1000000", "-o", "rate_burst=1000000",
               "-o", "handshakes_per_second=100000",
               # engine snapshots while serving, often: kills land during their writes
               "-o", "snapshot_interval_s=1", "-o", "snapshot_changes=50",
               # and each written over a while, changes going on meanwhile
               "-o", "snapshot_write_rate=2000",
               # near-miss lists below their cap (at the cap they depend on history), so a
               # restored engine can be compared with a full rebuild
               "-o", "near_miss_max=10000"]
SHORTLIST_K = 10  # the broker's shortlist_k (its default): the part of a held list the dumps compare
SNAPDUMP = os.environ.get("GX_SNAPDUMP") or os.path.join(os.environ.get("GX_BIN", "build"), "tests",
                                                          "integration", "snapdump")
START_TRIES = 8  # spawns a kill-during-the-start may take until one lands in the restore
TOL = 1e-6
CN = 8 * 3600  # 'today' is the civil date in China (utc_offset_minutes = 480)


def cn_date(days=0):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + CN + days * 86400))


# ------------------------------------------------------------------ the cast

IATF = ("IATF16949", "2028-06-30")
ISO9001 = ("ISO9001", "2028-12-31")
ISO14001 = ("ISO14001", "2027-09-30")


def _code(county, n):
    return uscc("91%sMA4%05dX" % (county, 47100 + 37 * n))


SPARE = _code("410602", 40)  # a firm registered at the end only, with no postings


# key, name, county, zone, credit, certifications, lat, lon, families, contact
SMES = [
    ("qbmg", "Qibin Magnesium Die Casting Co., Ltd.", "410611", "", pb.CREDIT_B, [IATF, ISO9001],
     35.751, 114.297, ("mg",), "Zhang Min, +86 392 000 0102"),
    ("jhpm", "Hebi Jinhe Precision Machining Co., Ltd.", "410611", "hebi.etdz", pb.CREDIT_A, [IATF, ISO9001],
     35.722, 114.362, ("cnc", "al"), "Wang Jun, +86 392 000 0103"),
    ("scla", "Shancheng Light Alloy Works", "410603", "hebi.baoshan", pb.CREDIT_C, [ISO9001],
     35.897, 114.183, ("al", "mg"), "Liu Yang, +86 392 000 0104"),
    ("qxsf", "Qi County Surface Technology Co., Ltd.", "410622", "hebi.qixian", pb.CREDIT_B, [ISO9001, ISO14001],
     35.607, 114.197, ("surf",), "Chen Jing, +86 392 000 0105"),
    ("xxpp", "Xunxian Precision Parts Factory", "410621", "hebi.xunxian", pb.CREDIT_B, [],
     35.676, 114.550, ("cnc",), "Zhao Lei, +86 392 000 0106"),
    ("hsmd", "Heshan Mould & Die Co., Ltd.", "410602", "", pb.CREDIT_B, [ISO9001],
     35.936, 114.163, ("cnc", "al"), "Sun Tao, +86 392 000 0107"),
    ("urel", "Hebi URDZ Electronics Assembly Co., Ltd.", "410611", "hebi.urdz", pb.CREDIT_A, [IATF, ISO9001],
     35.705, 114.405, ("pcba",), "Zhou Na, +86 392 000 0108"),
    ("qbtx", "Qibin Thixomolding Technology Co., Ltd.", "410611", "", pb.CREDIT_B, [IATF],
     35.760, 114.281, ("mg", "surf"), "Wu Hao, +86 392 000 0109"),
]
ANCHORS = [
    ("hbae", "Hebi Auto Electronics Co., Ltd.", "410611", "hebi.etdz", pb.CREDIT_A, [IATF, ISO9001],
     35.730, 114.350, ("mg", "al", "pcba"), "Li Wei, procurement, +86 392 000 0001"),
    ("hbmn", "Hebi Magnesium New Materials Group", "410611", "", pb.CREDIT_A, [ISO9001, ISO14001],
     35.745, 114.310, ("mg", "surf"), "Ma Li, supply chain, +86 392 000 0002"),
    ("qxts", "Qi County Smart Terminals Co., Ltd.", "410622", "hebi.qixian", pb.CREDIT_B, [ISO9001],
     35.612, 114.205, ("pcba", "cnc", "surf"), "He Qiang, purchasing, +86 392 000 0003"),
    ("scrb", "Shancheng Robotics Co., Ltd.", "410603", "", pb.CREDIT_B, [IATF],
     35.902, 114.176, ("cnc", "al"), "Guo Fei, sourcing, +86 392 000 0004"),
]

FAMILIES = {
    "mg": dict(kinds=[pb.PARTS_SUPPLY], industries=["C3670"], title="Magnesium die-cast housings",
               offer_proc=[["casting.die.magnesium"], ["casting.die.magnesium", "casting.semisolid.thixomolding"]],
               demand_proc=[["casting.die.magnesium"], ["casting.die"]],
               materials=["material.metal.magnesium.az91d", "material.metal.magnesium.am60b"]),
    "al": dict(kinds=[pb.PARTS_SUPPLY], industries=["C3670", "C3392"], title="Aluminium die-cast brackets",
               offer_proc=[["casting.die.aluminium"], ["casting.die.aluminium", "casting.die.vacuum"]],
               demand_proc=[["casting.die.aluminium"], ["casting.die"]],
               materials=["material.metal.aluminium.adc12", "material.metal.aluminium.a380"]),
    "cnc": dict(kinds=[pb.PARTS_SUPPLY, pb.PROCESSING], industries=["C3670"], title="CNC-machined flanges",
                offer_proc=[["machining.cnc.5axis"], ["machining.cnc.3axis", "machining.turning.cnc"]],
                demand_proc=[["machining.cnc"], ["machining.cnc.5axis"]],
                materials=["material.metal.aluminium.6061", "material.metal.steel.stainless.304"]),
    "surf": dict(kinds=[pb.PROCESSING], industries=["C3670"], title="Hard anodizing of housings",
                 offer_proc=[["surface.anodizing.hard"], ["surface.mao"], ["surface.anodizing.hard", "surface.mao"]],
                 demand_proc=[["surface.anodizing"], ["surface.mao"]],
                 materials=["material.metal.aluminium.6061", "material.metal.magnesium.az91d"]),
    "pcba": dict(kinds=[pb.PARTS_SUPPLY], industries=["C3982", "C3962"], title="ECU controller boards (SMT)",
                 offer_proc=[["electronics.pcba.smt"], ["electronics.pcba.smt", "electronics.pcba.coating"]],
                 demand_proc=[["electronics.pcba.smt"], ["electronics.pcba"]],
                 materials=["material.composite.fr4", "material.electronic.solder"]),
}


class Cast:
    def __init__(self, spec, role):
        (self.key, self.name, self.county, self.zone, self.credit, self.certs, self.lat, self.lon,
         self.families, self.contact) = spec
        self.role = role
        self.id = _code(self.county, [s[0] for s in SMES + ANCHORS].index(self.key))

    def record(self):
        f = firm(self.id, self.name, self.county, self.zone, self.credit, self.certs, self.lat, self.lon,
                 self.contact)
        f.roles.append(pb.ANCHOR if self.role == "anchor" else pb.SME)
        return f


# ------------------------------------------------------------------ the record

BROKER_FIELDS = {"offer": ("id", "revision", "state", "owner", "created_at"),
                 "demand": ("id", "revision", "state", "owner", "created_at", "original_quantity")}
RESTORED = re.compile(r"engine restored from \S+ \(transaction \d+\) in [\d.]+ s: \d+ demands with their saved "
                      r"lists, \d+ matched afresh; (\d+) changed firms and postings replayed")
NOT_USED = re.compile(r"engine snapshot not used: (.*); matching every pair")
SNAP_RECORDED = re.compile(r"engine snapshot of transaction \d+ recorded")
SNAP_BEGUN = re.compile(r"engine snapshot of transaction (\d+) begun")
SNAP_RECORDED_TXN = re.compile(r"engine snapshot of transaction (\d+) recorded")
SNAP_SERVING = re.compile(r"engine snapshot of transaction \d+ written in [\d.]+ s while serving")
KILL_WHERE = {"snapshot write": "while a snapshot was being written",
              "snapshot record": "after a snapshot was written, before the store recorded it",
              "anywhere": "while serving"}
TAG = re.compile(r"\[([OD]\d+-\d+)/v(\d+)\]$")
MUTATIONS = ("post_offer", "post_demand", "update_offer", "update_demand", "withdraw", "interest", "accept",
             "decline", "ack")


def content(msg, kind):
    """The fields a client sets, as bytes: what must match exactly."""
    m = type(msg)()
    m.CopyFrom(msg)
    for f in BROKER_FIELDS[kind]:
        m.ClearField(f)
    return m.SerializeToString(deterministic=True)


AS_OF_NOW = ("explanation", "hint", "firm_name", "counterpart_name", "counterpart_contact", "details",
             "capacity_until_needed")


def _about(raw):
    """A notice with what is rendered as things are now taken out (summaries but
    their ids, explanations, hints, names, contacts, details): what it is about."""
    m = pb.Notice.FromString(raw)
    m.changed_since = ""
    which = body_of(m)
    body = getattr(m, which) if which else None
    for part in (body, getattr(body, "candidate", None) if body is not None else None):
        if part is None:
            continue
        names = part.DESCRIPTOR.fields_by_name
        if "demand" in names and part.HasField("demand"):
            did = part.demand.id
            part.demand.Clear()
            part.demand.id = did
        for f in AS_OF_NOW:
            if f in names:
                part.ClearField(f)
    return m.SerializeToString(deterministic=True)


def same_notice(first, later):
    """Whether `later` may stand for the notice first pushed as `first` (both
    serialized): the same bytes, or, when a posting or firm it is about changed in
    between, shown as things are now and saying so (changed_since), about the same
    things (README, Protocol in brief: notices are rendered when delivered)."""
    if first == later:
        return True
    return bool(pb.Notice.FromString(later).changed_since) and _about(first) == _about(later)


def view_posting(view):
    which = view.WhichOneof("posting")
    return which, getattr(view, which)


class Req:
    """One request a worker sent and what became of it."""
    __slots__ = ("kind", "body", "posting", "version", "expect", "outcome", "reply", "error", "firm", "arg",
                 "obs", "gen")

    def __init__(self, kind, firm_id, posting=None, version=None, expect=0, arg=None, **body):
        self.kind, self.firm, self.posting, self.version, self.expect, self.arg = (
            kind, firm_id, posting, version, expect, arg)
        self.body = body
        self.outcome = None  # "ok", "err" or "unknown"
        self.reply = self.error = self.obs = self.gen = None

    def describe(self):
        what = "%s by %s" % (self.kind, self.firm)
        if self.posting is not None:
            what += " on %s (id %s)" % (self.posting.tag, self.posting.id)
        if self.version is not None:
            what += " version v%d" % self.version
        if self.expect:
            what += " expecting revision %d" % self.expect
        if self.arg is not None:
            what += " %s" % (self.arg,)
        if self.outcome == "ok" and self.reply is not None and self.reply.WhichOneof("result") == "posting":
            ref = self.reply.posting
            what += ": ok id %d revision %d state %s" % (ref.id, ref.revision, pb.State.Name(ref.state))
        elif self.outcome == "err":
            what += ": %s %s" % (pb.ErrorCode.Name(self.error.code), self.error.message)
        else:
            what += ": %s" % self.outcome
        return what


class Posting:
    """A demand or offer as its owner knows it: every version it sent."""

    def __init__(self, kind, owner, tag, family):
        self.kind, self.owner, self.tag, self.family = kind, owner, tag, family
        self.msgs, self.versions, self.titles = [], [], []
        self.events = []  # the Reqs about it, in the order they were sent
        self.id = None
        self.rev = 0
        self.open = False
        self.certain = False  # the owner knows its revision and state
        self.limbo = False    # the post's outcome is unknown: the owner never learns its id
        self.closing = False  # a withdrawal was sent

    def add_version(self, msg, base_title):
        k = len(self.versions)
        msg.title = "%s [%s/v%d]" % (base_title, self.tag, k)
        self.msgs.append(msg)
        self.versions.append(content(msg, self.kind))
        self.titles.append(msg.title)
        return k

    def state_of(self, msg):
        """(revision, version index or -1, state) of a stored record."""
        c = content(msg, self.kind)
        k = self.versions.index(c) if c in self.versions else -1
        return (msg.revision, k, msg.state)

    def active(self):
        return self.id is not None and self.open and self.certain and not self.closing and not self.limbo


# ------------------------------------------------------------------ the plant

class Plant:
    """The broker under torture as the workers see it: up or down, which
    incarnation (gen), where to connect."""

    def __init__(self, broker):
        self.broker = broker
        self.cv = threading.Condition()
        self.gen = 0
        self.up = True
        self.endpoint = broker.endpoint
        self.conns = 0
        self.stop = False
        self.failure = None

    def fail(self, why):
        with self.cv:
            if not self.failure:
                self.failure = why
            self.cv.notify_all()

    def connect(self, fid):
        with self.cv:
            while not (self.up or self.stop or self.failure):
                self.cv.wait(0.5)
            if self.stop or self.failure:
                return None
            self.conns += 1
            gen, endpoint = self.gen, self.endpoint
        return gen, Client(endpoint, fid, hello=False, server_key=self.broker.server_key,
                           keypair=self.broker.keys[fid])

    def disconnect(self, client):
        client.close()
        with self.cv:
            self.conns -= 1
            self.cv.notify_all()

    def alive(self, gen):
        return self.gen == gen and not self.failure

    def kill(self):
        """SIGKILL to the serving broker; returns once no worker holds a connection to it."""
        if self.broker.proc.poll() is not None:
            raise AssertionError("gongxud died by itself (status %s):\n%s" % (self.broker.proc.returncode,
                                                                               self.broker.read_log()))
        proc = self.broker.proc
        self.broker.kill()  # SIGKILL by PID; fails on a sanitizer report in the log
        proc.stdout.close()  # the harness leaves the dead process's pipe open
        with self.cv:
            self.up = False
            self.gen += 1
            self.cv.notify_all()
            # No connection of the dead incarnation may live on: were the kernel to
            # hand the new broker the old port, queued requests would reach it.
            if not self.cv.wait_for(lambda: self.conns == 0, timeout=30):
                raise AssertionError("workers kept %d connections to a dead broker" % self.conns)

    def restart(self):
        self.broker.start(timeout=60)
        with self.cv:
            self.endpoint = self.broker.endpoint
            self.up = True
            self.cv.notify_all()


# ------------------------------------------------------------------ workers

class Worker(threading.Thread):
    def __init__(self, run, cast, index):
        super().__init__(name="worker-" + cast.key, daemon=True)
        self.run_, self.cast, self.fid = run, cast, cast.id
        self.plant = run.plant
        self.rng = random.Random(SEED * 7919 + index)
        self.index = index
        self.postings = []
        self.reqs = []
        self.pending = {}
        self.next_rid = 1
        self.seen = {}      # seq -> serialized Notice, everything pushed to this firm
        self.max_seq = 0
        self.ack_sent = 0
        self.opps = []      # SME: (demand id, offer id) from opportunities
        self.interested = set()
        self.to_answer = []  # anchor: (demand id, SME) from interest_received
        self.answered = set()
        self.violations = []
        self.sessions = 0
        self.n_posts = 0

    # -- the loop
    def run(self):
        try:
            while True:
                got = self.plant.connect(self.fid)
                if got is None:
                    return
                gen, client = got
                try:
                    self.session(client, gen)
                finally:
                    self.abandon()
                    self.plant.disconnect(client)
                if self.plant.stop:
                    return
        except BaseException:
            self.plant.fail("%s: %s" % (self.name, traceback.format_exc()))

    def session(self, c, gen):
        self.sessions += 1
        first = [Req("hello", self.fid, hello=pb.Hello(firm_id=self.fid, client="test_torture")),
                 Req("resume", self.fid, resume=pb.Resume(from_last_ack=True))]
        first += [self.observe(p) for p in self.postings
                  if p.id is not None and not p.certain and not p.limbo]
        if not self.exchange(c, gen, first):
            return
        while not self.plant.stop and self.plant.alive(gen):
            if not self.exchange(c, gen, self.plan()):
                return

    def exchange(self, c, gen, reqs):
        """Sends reqs pipelined, then waits for every reply; False when the broker went down."""
        for i, r in enumerate(reqs):
            if not self.plant.alive(gen):
                for u in reqs[i:]:  # the broker is gone: what was not sent is not recorded
                    self.unsent(u)
                return False
            rid = self.next_rid
            self.next_rid += 1
            self.pending[rid] = r
            r.gen = gen
            self.reqs.append(r)
            if r.posting is not None:
                r.posting.events.append(r)
            try:
                c.sock.send(pb.Envelope(version=1, request_id=rid, **r.body).SerializeToString(), zmq.NOBLOCK)
            except zmq.Again:
                return False
        deadline = time.time() + REPLY_TIMEOUT
        while self.pending:
            if not self.plant.alive(gen):
                self.receive(c, 0.03)  # what was already on its way when the broker died
                return False
            if time.time() > deadline:
                self.violations.append("%s: a running broker did not answer %d requests within %.0f s: %s" % (
                    self.fid, len(self.pending), REPLY_TIMEOUT,
                    "; ".join(r.describe() for r in self.pending.values())))
                self.plant.fail(self.violations[-1])
                return False
            self.receive(c, 0.02)
        return True

    def unsent(self, r):
        if r.kind == "withdraw":
            r.posting.closing = False
        elif r.kind == "interest":
            self.interested.discard(r.arg[0])
        elif r.kind in ("accept", "decline"):
            self.answered.discard(r.arg)
            self.to_answer.append(r.arg)
        elif r.kind == "ack":
            self.ack_sent = 0

    def receive(self, c, timeout):
        if not c.sock.poll(int(timeout * 1000)):
            return
        while True:
            try:
                frame = c.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            env = pb.Envelope()
            env.ParseFromString(frame)
            body = env.WhichOneof("body")
            if body == "notice":
                self.on_notice(env.notice)
            elif body in ("reply", "error"):
                r = self.pending.pop(env.request_id, None)
                if r is None:
                    self.violations.append("%s: a reply to request %d, which is not waiting for one (%s)" % (
                        self.fid, env.request_id, body))
                    continue
                if body == "error":
                    r.outcome, r.error = "err", env.error
                else:
                    r.outcome, r.reply = "ok", env.reply
                self.settle(r)
            else:
                self.violations.append("%s: unexpected envelope %s" % (self.fid, body))

    def abandon(self):
        for r in self.pending.values():
            r.outcome = "unknown"
            self.settle(r)
        self.pending.clear()

    # -- what the replies and notices teach the worker
    def on_notice(self, n):
        raw = n.SerializeToString(deterministic=True)
        prev = self.seen.get(n.seq)
        if prev is not None and not same_notice(prev, raw):
            self.violations.append("%s: notice %d was pushed twice with different contents:\n  %s\n  %s" % (
                self.fid, n.seq, pb.Notice.FromString(prev), n))
        self.seen[n.seq] = raw
        self.max_seq = max(self.max_seq, n.seq)
        which = body_of(n)
        if which == "opportunity" and n.opportunity.demand.id not in self.interested:
            self.opps.append((n.opportunity.demand.id, n.opportunity.offer_id))
            del self.opps[:-40]
        elif which == "interest_received":
            pair = (n.interest_received.demand_id, n.interest_received.firm_id)
            if pair not in self.answered:
                self.to_answer.append(pair)

    def settle(self, r):
        p = r.posting
        if r.kind in ("post_offer", "post_demand"):
            if r.outcome == "ok":
                p.id, p.rev, p.open, p.certain = r.reply.posting.id, r.reply.posting.revision, True, True
            elif r.outcome == "unknown":
                p.limbo = True
            else:
                p.open = False
        elif r.kind in ("update_offer", "update_demand"):
            if r.outcome == "ok":
                p.rev = r.reply.posting.revision
            else:
                p.certain = False
        elif r.kind == "withdraw":
            if r.outcome == "ok":
                p.open = False
            else:
                p.certain = False
                p.closing = False
        elif r.kind == "observe" and r.outcome == "ok":
            _, msg = view_posting(r.reply.view)
            r.obs = p.state_of(msg)
            p.rev, p.open, p.certain = msg.revision, msg.state == pb.OPEN, True
        elif r.kind == "ack" and r.outcome == "ok" and r.reply.acked.seq != r.arg:
            self.violations.append("%s: Ack %d answered with %d" % (self.fid, r.arg, r.reply.acked.seq))

    # -- what to do next
    def plan(self):
        rng = self.rng
        out, used = [], set()
        mine = self.cast.role == "sme"
        for _ in range(rng.randint(1, 6)):
            active = [p for p in self.postings if p.active() and p.tag not in used]
            n_open = sum(1 for p in self.postings if p.open and not p.limbo)
            choices = []
            if n_open < (6 if mine else 8):
                choices.append(("post", 3 if n_open < 3 else 1))
            if active:
                choices += [("update", 4), ("withdraw", 0.6), ("observe", 0.5)]
            if mine and self.opps:
                choices.append(("interest", 1.5))
            if not mine and self.to_answer:
                choices.append(("answer", 2))
            if not mine and active:
                choices.append(("shortlist", 0.6))
            if not choices:
                break
            act = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
            if act == "post":
                out.append(self.post())
            elif act in ("update", "withdraw", "observe"):
                p = rng.choice(active)
                used.add(p.tag)
                out.append(getattr(self, act)(p))
            elif act == "interest":
                d, o = self.opps.pop(rng.randrange(len(self.opps)))
                if d in self.interested:
                    continue
                self.interested.add(d)
                out.append(Req("interest", self.fid, arg=(d, self.fid), interest=pb.Interest(
                    demand_id=d, offer_id=o if rng.random() < 0.5 else 0,
                    message="%s can start tooling within two weeks" % self.cast.name)))
            elif act == "answer":
                d, sme = self.to_answer.pop(rng.randrange(len(self.to_answer)))
                if (d, sme) in self.answered:
                    continue
                self.answered.add((d, sme))
                if rng.random() < 0.6:
                    out.append(Req("accept", self.fid, arg=(d, sme), accept=pb.Accept(demand_id=d, firm_id=sme)))
                else:
                    out.append(Req("decline", self.fid, arg=(d, sme), decline=pb.Decline(
                        demand_id=d, firm_id=sme, reason="capacity already sourced")))
            elif act == "shortlist":
                p = rng.choice(active)
                out.append(Req("get_shortlist", self.fid, get_shortlist=pb.GetShortlist(demand_id=p.id)))
        if self.max_seq > self.ack_sent and rng.random() < 0.5:
            self.ack_sent = self.max_seq
            out.append(Req("ack", self.fid, arg=self.max_seq, ack=pb.Ack(seq=self.max_seq)))
        return out or [Req("ping", self.fid, ping=pb.Ping())]

    def post(self):
        rng = self.rng
        kind = "offer" if self.cast.role == "sme" else "demand"
        self.n_posts += 1
        tag = "%s%d-%d" % (kind[0].upper(), self.index, self.n_posts)
        fam = rng.choice(self.cast.families)
        p = Posting(kind, self.fid, tag, fam)
        twins = [q for q in self.postings if q.family == fam and q.msgs]
        if kind == "offer" and twins and rng.random() < 0.25:
            msg = pb.Offer()  # the same capability twice: equal scores, ordered by id
            msg.CopyFrom(rng.choice(twins).msgs[-1])
        else:
            msg = self.new_offer(fam) if kind == "offer" else self.new_demand(fam)
        k = p.add_version(msg, FAMILIES[fam]["title"])
        self.postings.append(p)
        self.run_.register(p)
        if kind == "offer":
            return Req("post_offer", self.fid, p, k, post_offer=pb.PostOffer(offer=msg))
        return Req("post_demand", self.fid, p, k, post_demand=pb.PostDemand(demand=msg))

    def update(self, p):
        rng = self.rng
        msg = type(p.msgs[-1])()
        msg.CopyFrom(p.msgs[-1])
        self.tweak(msg, p)
        msg.id = p.id
        expect = p.rev if rng.random() < 0.6 else 0
        msg.revision = expect
        k = p.add_version(msg, FAMILIES[p.family]["title"])
        if p.kind == "offer":
            return Req("update_offer", self.fid, p, k, expect, update_offer=pb.UpdateOffer(offer=msg))
        return Req("update_demand", self.fid, p, k, expect, update_demand=pb.UpdateDemand(demand=msg))

    def withdraw(self, p):
        p.closing = True
        return Req("withdraw", self.fid, p, withdraw=pb.Withdraw(posting_id=p.id))

    def observe(self, p):
        return Req("observe", self.fid, p, get_posting=pb.GetPosting(posting_id=p.id))

    def new_offer(self, fam):
        rng, f = self.rng, FAMILIES[fam]
        o = pb.Offer(kinds=f["kinds"], industries=f["industries"][:rng.randint(1, len(f["industries"]))],
                     processes=rng.choice(f["offer_proc"]),
                     materials=rng.sample(f["materials"], rng.randint(1, 2)),
                     monthly_capacity=rng.choice([2000, 5000, 10000, 20000, 50000]),
                     min_order=rng.choice([0, 100, 500, 1000]), lead_time_days=rng.randint(7, 45),
                     service_scope=rng.choice([pb.SCOPE_UNSPECIFIED, pb.THREE_DISTRICTS, pb.SAME_CITY,
                                               pb.SAME_PROVINCE]),
                     service_radius_km=rng.choice([0, 0, 60]),
                     summary="%s: %s for the Hebi chain" % (self.cast.name, f["title"].lower()),
                     expires_at=self.run_.t0 + 60 * 86400 + rng.randint(0, 86400))
        if rng.random() < 0.5:
            lo = rng.choice([8, 12, 20, 35])
            o.price.min, o.price.max = lo, lo * 1.5
        return o

    def new_demand(self, fam):
        rng, f = self.rng, FAMILIES[fam]
        d = pb.Demand(kind=f["kinds"][0], industry=f["industries"][0], processes=rng.choice(f["demand_proc"]),
                      materials=[rng.choice(f["materials"])], quantity=rng.choice([1000, 3000, 5000, 10000, 30000]),
                      unit="pcs", needed_by=cn_date(rng.randint(20, 150)),
                      min_credit=rng.choice([pb.CREDIT_C, pb.CREDIT_B]),
                      scope=rng.choice([pb.THREE_DISTRICTS, pb.SAME_CITY, pb.SAME_PROVINCE, pb.ANYWHERE]),
                      max_distance_km=rng.choice([0, 0, 45]),
                      summary="%s for %s" % (f["title"], self.cast.name),
                      details="drawing %s-%03d rev %s; PPAP level 3" % (fam.upper(), rng.randint(1, 999),
                                                                         rng.choice("ABCD")),
                      expires_at=self.run_.t0 + 60 * 86400 + rng.randint(0, 86400))
        if rng.random() < 0.4:
            d.certifications.append("IATF16949")
        if rng.random() < 0.4:
            hi = rng.choice([10, 15, 25, 40])
            d.budget.min, d.budget.max = hi / 2, hi
        if rng.random() < 0.25:
            d.splittable = True
            d.max_suppliers = rng.choice([0, 3])
        return d

    def tweak(self, m, p):
        rng = self.rng
        f = FAMILIES[p.family]
        for _ in range(rng.randint(1, 3)):
            if p.kind == "offer":
                what = rng.choice(["capacity", "lead", "min_order", "price", "processes", "scope", "summary"])
                if what == "capacity":
                    m.monthly_capacity = rng.choice([1000, 2000, 5000, 10000, 20000, 50000])
                elif what == "lead":
                    m.lead_time_days = rng.randint(5, 60)
                elif what == "min_order":
                    m.min_order = rng.choice([0, 100, 500, 1000, 5000])
                elif what == "price":
                    if m.HasField("price") and rng.random() < 0.3:
                        m.ClearField("price")
                    else:
                        lo = rng.choice([8, 12, 20, 35])
                        m.price.min, m.price.max = lo, lo * rng.choice([1.2, 1.5, 2.0])
                elif what == "processes":
                    m.ClearField("processes")
                    m.processes.extend(rng.choice(f["offer_proc"]))
                elif what == "scope":
                    m.service_scope = rng.choice([pb.SCOPE_UNSPECIFIED, pb.THREE_DISTRICTS, pb.SAME_CITY])
                else:
                    m.summary = "%s (capacity revised %d)" % (m.summary.split(" (")[0], rng.randint(1, 99))
            else:
                what = rng.choice(["quantity", "needed_by", "cert", "scope", "budget", "details", "credit"])
                if what == "quantity":
                    m.quantity = rng.choice([500, 1000, 3000, 5000, 10000, 30000, 60000])
                elif what == "needed_by":
                    m.needed_by = cn_date(rng.randint(15, 160))
                elif what == "cert":
                    if m.certifications:
                        m.ClearField("certifications")
                    else:
                        m.certifications.append("IATF16949")
                elif what == "scope":
                    m.scope = rng.choice([pb.THREE_DISTRICTS, pb.SAME_CITY, pb.SAME_PROVINCE, pb.ANYWHERE])
                elif what == "budget":
                    if m.HasField("budget") and rng.random() < 0.3:
                        m.ClearField("budget")
                    else:
                        hi = rng.choice([10, 15, 25, 40])
                        m.budget.min, m.budget.max = hi / 2, hi
                elif what == "details":
                    m.details = "drawing %s-%03d rev %s; flatness 0.05 mm" % (
                        p.family.upper(), rng.randint(1, 999), rng.choice("ABCDE"))
                else:
                    m.min_credit = rng.choice([pb.CREDIT_C, pb.CREDIT_B, pb.CREDIT_A])


# ------------------------------------------------------------------ checks

def simulate(p, final, final_msg=None):
    """Problems with posting p's history: replays its owner's record over the
    set of states it allows and checks every observation and the final state
    (None: not in the store) against it."""
    problems = []
    post = p.events[0]

    def fail(what):
        problems.append("%s %s owned by %s: %s\n    history:\n      %s" % (
            p.kind, p.tag, p.owner, what, "\n      ".join(r.describe() for r in p.events)))

    def show(ws):
        return sorted(("absent" if w is None else "rev %d v%d %s" % (w[0], w[1], pb.State.Name(w[2])))
                      for w in ws)

    if post.outcome == "ok":
        worlds = {(1, post.version, pb.OPEN)}
        if post.reply.posting.revision != 1:
            fail("a new posting acked with revision %d" % post.reply.posting.revision)
    elif post.outcome == "unknown":
        worlds = {None, (1, post.version, pb.OPEN)}
    else:
        worlds = {None}
    for ev in p.events[1:]:
        if ev.kind in ("update_offer", "update_demand", "withdraw"):
            def step(w, ev=ev):
                if w is None or w[2] != pb.OPEN:
                    return None
                if ev.kind == "withdraw":
                    return (w[0] + 1, w[1], pb.WITHDRAWN)
                if ev.expect and ev.expect != w[0]:
                    return None
                return (w[0] + 1, ev.version, pb.OPEN)
            if ev.outcome == "ok":
                ref = ev.reply.posting
                nw = {s for s in map(step, worlds) if s is not None and s[0] == ref.revision and s[2] == ref.state}
                if not nw:
                    fail("%s was acked, but by the record before it the posting could only be %s" % (
                        ev.describe(), show(worlds)))
                    # go on from what the ack says, with the content the request carried
                    k = ev.version if ev.kind != "withdraw" else None
                    nw = {(ref.revision, k if k is not None else w[1], ref.state) for w in worlds if w is not None}
                worlds = nw or worlds
            elif ev.outcome == "unknown":
                worlds = worlds | {s for s in map(step, worlds) if s is not None}
        elif ev.kind == "observe" and ev.outcome == "ok":
            if ev.obs[1] < 0:
                fail("GetPosting showed fields that match none of the versions sent (revision %d): %s" % (
                    ev.obs[0], text_format.MessageToString(view_posting(ev.reply.view)[1], as_one_line=True)))
            elif ev.obs not in worlds:
                fail("GetPosting during the run showed rev %d v%d %s; the record allows only %s" % (
                    ev.obs[0], ev.obs[1], pb.State.Name(ev.obs[2]), show(worlds)))
            worlds = {ev.obs}
    if final is not None and final[1] < 0:
        fail("the store holds fields that match none of the versions sent (revision %d): %s" % (
            final[0], text_format.MessageToString(final_msg, as_one_line=True)))
    elif final not in worlds:
        fail("the store holds %s; the record allows only %s" % (show([final])[0], show(worlds)))
    return problems


def norm_shortlist(sl, idmap=None, details=False):
    def oid(i):
        return i if idmap is None else idmap.get(i, ("unmapped", i))

    def cand(c):
        x = c.explanation
        rules = [(r.rule, getattr(r, "pass")) + ((r.detail,) if details else ()) for r in x.rules]
        return {"offer": oid(c.offer_id), "firm": c.firm_id, "rank": c.rank, "score": c.score,
                "capacity_until_needed": c.capacity_until_needed, "distance": x.distance_km,
                "explained_score": x.score, "terms": [(t.name, t.value, t.weight) for t in x.terms], "rules": rules}
    return {"candidates": [cand(c) for c in sl.candidates], "eligible": sl.eligible,
            "proposed_set": [cand(c) for c in sl.proposed_set], "coverage": sl.proposed_coverage}


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= TOL
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


class TortureRun:
    def __init__(self, test):
        self.test = test
        self.t0 = int(time.time())
        self.smes = [Cast(s, "sme") for s in SMES]
        self.anchors = [Cast(a, "anchor") for a in ANCHORS]
        self.cast = self.smes + self.anchors
        self.by_tag = {}
        self.lock = threading.Lock()
        self.violations = []
        self.kills = 0
        self.counts = collections.Counter()
        self.landed = collections.Counter()  # (aimed at, landed in) -> kills
        self.recorded = False   # a log said the store recorded a complete snapshot
        self.unfinished = False  # the last kill interrupted a snapshot's write
        self.log_at = self.since_kill = 0
        self.copies = []        # (data directory copy, what left it, recorded)
        self.copied = set()

    def register(self, p):
        with self.lock:
            self.by_tag[p.tag] = p

    def fail(self, what):
        self.violations.append(what)

    # -- setup and torture
    def run(self):
        print("torture: seed %d (replay: GX_TORTURE_SEED=%d), %d kills" % (SEED, SEED, KILLS), flush=True)
        self.day0 = cn_date()
        self.broker = Broker(extra_args=BROKER_ARGS).start()
        op = self.broker.client(operator=True)
        for c in self.cast:
            op.call(register_firm=pb.RegisterFirm(firm=c.record()))
            self.broker.client(c.id).close()  # registers its key
        op.close()
        self.plant = Plant(self.broker)
        self.workers = [Worker(self, c, i) for i, c in enumerate(self.cast)]
        started = time.time()
        for w in self.workers:
            w.start()
        rng = random.Random(SEED)
        try:
            while self.kills < KILLS and not self.plant.failure:
                # Every third kill waits for a snapshot to be under way; the one after it
                # is followed by a start killed while it restores the snapshot and replays.
                if self.kills % 3 == 1:
                    self.kill_during_snapshot(rng)
                    self.after_kill("snapshot")
                else:
                    time.sleep(rng.uniform(0.05, 0.4))
                    self.plant.kill()
                    self.after_kill("anywhere")
                if self.kills % 3 == 2:
                    self.kill_during_start()
                self.restart("restart after kill %d" % (self.kills + 1))
                self.kills += 1
            time.sleep(rng.uniform(0.2, 0.4))  # traffic on the last incarnation, then stop
        except BaseException:
            self.plant.fail("killer: " + traceback.format_exc())
        finally:
            with self.plant.cv:
                self.plant.stop = True
                self.plant.cv.notify_all()
            for w in self.workers:
                w.join(60)
        self.torture_seconds = time.time() - started
        self.quiet_at = self.log_size()  # the traffic has stopped
        if self.plant.failure:
            raise AssertionError("torture stopped: " + self.plant.failure)
        for w in self.workers:
            self.test.assertFalse(w.is_alive(), "%s did not stop" % w.name)
            self.violations += w.violations

    # -- where the kills land
    def log_size(self, broker=None):
        try:
            return os.path.getsize((broker or self.broker).log_path)
        except OSError:
            return 0

    def log_since(self, at, broker=None):
        with open((broker or self.broker).log_path, "rb") as f:
            f.seek(at)
            return f.read().decode(errors="replace")

    def wait_unlocked(self, data_dir):
        """Waits until no process holds the data directory's lock (the killed broker's is
        released when the kernel has reaped it)."""
        deadline = time.time() + 60
        while True:
            try:
                fd = os.open(os.path.join(data_dir, "gongxu.lock"), os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.time() > deadline:
                    raise AssertionError("the data directory stayed locked 60 s after gongxud was killed")
            finally:
                os.close(fd)
            time.sleep(0.002)

    def note_log(self, seg):
        """What an incarnation's log says about its snapshots."""
        if SNAP_RECORDED.search(seg):
            self.recorded = True  # from now on every start must restore, never rebuild
        self.counts["snapshots while serving"] += len(SNAP_SERVING.findall(seg))

    def kill_during_snapshot(self, rng):
        """SIGKILL as soon as a snapshot's temporary file shows: the one a start
        writes at once, or (half the time, after 50-400 ms of traffic) the next one."""
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.05, 0.4))
        tmp = os.path.join(self.broker.data_dir, "engine.snap.next.tmp")
        deadline = time.time() + 5  # snapshot_interval_s=1 and traffic: one comes within a second or two
        while not os.path.exists(tmp) and time.time() < deadline and not self.plant.failure:
            time.sleep(0.0002)
        self.plant.kill()

    def after_kill(self, aim):
        """Where the kill landed, told by the files a snapshot's write leaves: its
        temporary file (killed while writing), engine.snap.next (written, not yet
        recorded in the store), or neither."""
        self.note_log(self.log_since(self.log_at))
        dd = self.broker.data_dir
        self.wait_unlocked(dd)
        if os.path.exists(os.path.join(dd, "engine.snap.next.tmp")):
            where = "snapshot write"
        elif os.path.exists(os.path.join(dd, "engine.snap.next")):
            where = "snapshot record"
        else:
            where = "anywhere"
        self.landed[(aim, where)] += 1
        self.unfinished = where == "snapshot write"
        self.since_kill = self.log_size()
        self.keep_copy(where, "kill %d (%s)" % (self.kills + 1, KILL_WHERE[where]))

    def keep_copy(self, where, what):
        """The data directory as a kill left it, for an engine check after the run:
        the first of each kind of landing."""
        if where in self.copied:
            return
        self.copied.add(where)
        path = os.path.join(self.broker.tmp, "copy%d" % len(self.copies))
        shutil.copytree(self.broker.data_dir, path, symlinks=True)
        self.copies.append((path, what, self.recorded))

    def spawn_args(self):
        b = self.broker  # as gxharness's Broker.start runs it
        return [b.binary, "-d", b.data_dir, "-l", "tcp://127.0.0.1:*", "-m", "tcp://127.0.0.1:*",
                "-o", "http_listen=127.0.0.1:0", "--log-level", "debug"] + b.extra_args

    def kill_during_start(self):
        """Starts gongxud and kills it as soon as its log shows the load begin
        ("starting: restoring the engine snapshot"), until a kill lands before the
        restore and replay finished (at most START_TRIES spawns)."""
        for _ in range(START_TRIES):
            at = self.log_size()
            with open(self.broker.log_path, "ab") as log:
                proc = subprocess.Popen(self.spawn_args(), stdout=subprocess.DEVNULL, stderr=log,
                                        stdin=subprocess.DEVNULL)
            try:
                with open(self.broker.log_path, "rb") as f:
                    f.seek(at)
                    seen, deadline = "", time.time() + 60
                    while "starting: " not in seen and proc.poll() is None and time.time() < deadline:
                        seen += f.read().decode(errors="replace")
                        time.sleep(0.0002)
            finally:
                proc.kill()
                proc.wait()
            self.counts["start kills"] += 1
            self.broker.check_log()  # a sanitizer report fails the test
            if proc.returncode != -9:
                raise AssertionError("gongxud exited by itself (status %s) during its start:\n%s" % (
                    proc.returncode, self.log_since(at)[-4000:]))
            self.wait_unlocked(self.broker.data_dir)
            seg = self.log_since(at)
            self.note_log(seg)
            if "engine restored from" in seg or "engine rebuilt by matching every pair" in seg:
                where = "start after the load"
            elif "starting: restoring the engine snapshot" in seg:
                where = "restore"
            elif "starting: matching every pair" in seg:
                where = "rebuild"
            else:
                where = "start before the load"
            self.landed[("start", where)] += 1
            if where == "restore":
                self.keep_copy(where, "a start killed while restoring the snapshot and replaying (before "
                                      "kill %d)" % (self.kills + 2))
                return

    def restart(self, what):
        self.log_at = self.log_size()
        self.plant.restart()
        seg = self.log_since(self.log_at)
        self.judge_start(seg, what, self.recorded)
        if self.unfinished and "left by a snapshot that was not finished" not in self.log_since(self.since_kill):
            self.fail("%s: the snapshot a kill interrupted left engine.snap.next.tmp, and no start since "
                      "says it removed it" % what)
        self.unfinished = False

    def judge_start(self, seg, what, recorded):
        """Counts how a start built its engine; once the store recorded a snapshot,
        every start must restore it (a kill anywhere never costs a full rebuild)."""
        m = RESTORED.search(seg)
        if m:
            self.counts["starts restored"] += 1
            self.counts["changes replayed"] += int(m.group(1))
            return "restored"
        if "engine rebuilt by matching every pair" not in seg:
            self.fail("%s: the start's log says neither 'engine restored from' nor 'engine rebuilt':\n%s" % (
                what, seg[-3000:]))
            return None
        self.counts["starts rebuilt"] += 1
        if recorded:
            why = NOT_USED.search(seg)
            self.fail("%s: the engine was rebuilt by matching every pair, though the store had recorded "
                      "a snapshot (%s)" % (what, why.group(1) if why else "the log gives no reason"))
        return "rebuilt"

    # -- the engine after a restart equals a full rebuild
    def dump(self, data_dir):
        path = os.path.join(data_dir, "engine.snap")
        if not os.path.exists(path):
            path += ".next"  # recorded, not yet renamed
        got = subprocess.run([SNAPDUMP, path, str(SHORTLIST_K)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if got.returncode != 0:
            raise AssertionError("snapdump %s: %s" % (path, got.stderr.decode(errors="replace")))
        return got.stdout.decode().splitlines()

    def await_covering_snapshot(self):
        """Waits (at most 10 s: then the quiet restart replays a little) until a
        snapshot begun after the traffic stopped is recorded: the quiet restart then
        restores the lists with (next to) nothing to replay, and the engine compared
        with a rebuild is the restored one, not one the replay recomputed."""
        deadline = time.time() + 10
        while time.time() < deadline and self.broker.proc.poll() is None:
            seg = self.log_since(self.quiet_at)
            begun = set(SNAP_BEGUN.findall(seg))
            if begun & set(SNAP_RECORDED_TXN.findall(seg)):
                self.counts["quiet snapshot"] += 1
                return
            time.sleep(0.05)

    def register_spare(self, b):
        """Registers a firm with no postings: a logged change the engine's lists do
        not feel, so the stop writes the engine in memory (the restored one) to
        engine.snap, not 'unchanged since it was last written' (which would leave
        the file the start restored from, and compare that instead)."""
        op = b.client(operator=True)
        f = firm(SPARE, "Heshan Pattern Shop", "410602", "", pb.CREDIT_B, [ISO9001], 35.930, 114.170,
                 "Lin Fang, +86 392 000 0110")
        f.roles.append(pb.SME)
        op.call(register_firm=pb.RegisterFirm(firm=f))
        op.close()

    def check_engine(self, b, what):
        """b was stopped cleanly (its engine in engine.snap): the same store, matched
        every pair afresh, gives the same lists."""
        before = self.dump(b.data_dir)
        for name in ("engine.snap", "engine.snap.next"):
            if os.path.exists(os.path.join(b.data_dir, name)):
                os.unlink(os.path.join(b.data_dir, name))
        at = self.log_size(b)
        b.start(timeout=60)
        seg = self.log_since(at, b)
        b.stop()
        if "engine rebuilt by matching every pair" not in seg:
            self.fail("%s: with the snapshots removed, the start did not rebuild:\n%s" % (what, seg[-2000:]))
            return
        after = self.dump(b.data_dir)
        if self.date_changed("the engine %s" % what):
            return
        if before != after:
            a, z = set(before), set(after)
            self.fail("%s: the engine differs from a full rebuild of the same store (%d demands vs %d)\n"
                      "restored only:\n  %s\nrebuilt only:\n  %s" % (
                          what, len(before), len(after), "\n  ".join(sorted(a - z)[:8]),
                          "\n  ".join(sorted(z - a)[:8])))
            return
        self.counts["engine checks"] += 1
        self.counts["engine demands"] += len(before)
        self.counts["engine candidates"] += sum(len(x.split(" near")[0].split()) - 5 for x in before)

    def check_copies(self):
        """Each kept copy of the data directory: started (it must restore), stopped,
        and compared with a full rebuild."""
        for path, what, recorded in self.copies:
            b = Broker(data_dir=path, extra_args=BROKER_ARGS)
            try:
                b.start(timeout=60)
                how = self.judge_start(self.log_since(0, b), "the restart after " + what, recorded)
                self.register_spare(b)
                b.stop()
                if how == "restored":  # else judge_start failed the run, or no snapshot was recorded yet
                    self.check_engine(b, "after " + what)
            finally:
                b.cleanup()
                shutil.rmtree(b.tmp, ignore_errors=True)
                shutil.rmtree(path, ignore_errors=True)

    # -- after the last kill
    def scan(self, op):
        """Every posting in the store, by id, read by the operator."""
        known = [r.reply.posting.id for w in self.workers for r in w.reqs
                 if r.kind in ("post_offer", "post_demand") and r.outcome == "ok"]
        top = max(known, default=0) + 20
        found, misses, pid = {}, 0, 1
        while pid <= top or misses < 50:
            got = op.request(get_posting=pb.GetPosting(posting_id=pid))
            if got.WhichOneof("body") == "error":
                self.test.assertEqual(got.error.code, pb.ERR_NOT_FOUND, got.error)
                misses += 1
            else:
                found[pid] = got.reply.view
                misses = 0
            pid += 1
        return found

    def shortlists(self, op, demand_ids):
        out = {}
        for d in demand_ids:
            out[d] = op.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
        return out

    def check(self):
        broker = self.broker
        op = broker.client(operator=True)
        live_store = self.scan(op)
        open_demands = sorted(i for i, v in live_store.items()
                              if v.WhichOneof("posting") == "demand" and v.demand.state == pb.OPEN)
        live = self.shortlists(op, open_demands)
        op.close()
        self.await_covering_snapshot()
        broker.kill()  # one more, quiet: the shortlists must come back the same from the store
        self.note_log(self.log_since(self.log_at))
        self.wait_unlocked(broker.data_dir)
        self.log_at = self.log_size()
        broker.start(timeout=60)
        replayed = self.counts["changes replayed"]
        if self.judge_start(self.log_since(self.log_at), "the quiet restart", True) != "restored":
            self.fail("the quiet restart did not restore the engine snapshot: its engine is not compared "
                      "with a rebuild")
        self.quiet_replayed = self.counts["changes replayed"] - replayed
        op = broker.client(operator=True)
        store = self.scan(op)
        if set(store) != set(live_store) or any(store[i].SerializeToString(deterministic=True) !=
                                                live_store[i].SerializeToString(deterministic=True) for i in store):
            changed = sorted(i for i in set(store) | set(live_store)
                             if i not in store or i not in live_store or store[i] != live_store[i])
            self.fail("postings changed by a kill with no traffic: ids %s" % changed[:20])

        self.check_postings(store)
        inbox = self.check_inboxes(broker)
        self.check_references(store, inbox)
        self.check_docking(broker, store, inbox)
        rebuilt = self.shortlists(op, open_demands)
        self.check_told(open_demands, rebuilt, inbox)
        self.check_shortlists(store, open_demands, live, rebuilt)
        op.close()
        self.register_spare(broker)
        broker.stop()  # a clean stop: the engine restored at the quiet restart (and changed since) in engine.snap
        t = time.time()
        self.check_engine(broker, "after the quiet restart")
        self.check_copies()
        self.engine_seconds = time.time() - t
        broker.cleanup()

    def check_postings(self, store):
        seen_tags = collections.defaultdict(list)
        for pid, view in sorted(store.items()):
            kind, msg = view_posting(view)
            m = TAG.search(msg.title) if kind in ("demand", "offer") else None
            p = self.by_tag.get(m.group(1)) if m else None
            if p is None or p.kind != kind:
                self.fail("posting %d (%s %r) was never posted by any client" % (pid, kind, msg.title))
                continue
            seen_tags[p.tag].append(pid)
            if msg.owner != p.owner:
                self.fail("posting %d (%s) is owned by %s, posted by %s" % (pid, p.tag, msg.owner, p.owner))
            if kind == "demand" and abs(msg.original_quantity - p.msgs[0].quantity) > TOL:
                self.fail("demand %d (%s): original_quantity %g, posted %g" % (
                    pid, p.tag, msg.original_quantity, p.msgs[0].quantity))
        for tag, ids in seen_tags.items():
            if len(ids) > 1:
                self.fail("%s was posted once and is in the store %d times: ids %s" % (tag, len(ids), ids))
        for p in self.by_tag.values():
            if not p.events:
                continue  # planned, never sent
            post = p.events[0]
            ids = seen_tags.get(p.tag, [])
            if post.outcome == "ok" and ids and ids[0] != post.reply.posting.id:
                self.fail("%s was acked as id %d but is in the store as id %d" % (
                    p.tag, post.reply.posting.id, ids[0]))
            final = None
            if ids:
                final = p.state_of(view_posting(store[ids[0]])[1])
                self.counts["postings"] += 1
            for problem in simulate(p, final, view_posting(store[ids[0]])[1] if ids else None):
                self.fail(problem)
            self.counts["unknown posts"] += post.outcome == "unknown"

    def check_inboxes(self, broker):
        inbox = {}
        for w in self.workers:
            c = broker.client(w.fid)
            info = c.resume(from_last_ack=True)
            c.close()
            acks = [r for r in w.reqs if r.kind == "ack"]
            lo = max([r.arg for r in acks if r.outcome == "ok"], default=0)
            hi = max([r.arg for r in acks if r.outcome != "err"], default=0)
            if not lo <= info.resumed_after <= max(hi, lo):
                self.fail("%s: the ack cursor is at %d; acked Acks reached %d and Acks sent %d" % (
                    w.fid, info.resumed_after, lo, hi))
            c = broker.client(w.fid)
            first, head = 1, info.head_seq
            try:
                head = c.resume(after=0).head_seq
            except Refused as e:  # retention took acked notices: go on with the rest
                self.fail("%s: resume from 0 with inbox_keep_acked=1000000: %s" % (w.fid, e))
                first = int(re.search(r"resume after (\d+)", e.error.message).group(1)) + 1
                head = c.resume(after=first - 1).head_seq
            if head != info.head_seq:
                self.fail("%s: head moved from %d to %d with no traffic" % (w.fid, info.head_seq, head))
            got = c.wait_notices(head - first + 1, timeout=30)
            got += c.drain(0.3)
            c.close()
            seqs = [n.seq for n in got]
            if seqs != list(range(first, head + 1)):
                dups = sorted(s for s, k in collections.Counter(seqs).items() if k > 1)
                gaps = sorted(set(range(first, head + 1)) - set(seqs))
                self.fail("%s: inbox read from 0 gave %d notices for head %d; duplicates %s, missing %s, "
                          "out of order %s" % (w.fid, len(seqs), head, dups[:10], gaps[:10], seqs != sorted(seqs)))
            stored = {n.seq: n.SerializeToString(deterministic=True) for n in got}
            for seq, raw in sorted(w.seen.items()):
                if seq not in stored:
                    self.fail("%s: notice %d was pushed during the run and is gone:\n%s" % (
                        w.fid, seq, pb.Notice.FromString(raw)))
                elif not same_notice(raw, stored[seq]):
                    self.fail("%s: notice %d was pushed during the run as\n%s\nand is now\n%s" % (
                        w.fid, seq, pb.Notice.FromString(raw), pb.Notice.FromString(stored[seq])))
            self.counts["notices"] += len(got)
            self.counts["notices pushed"] += len(w.seen)
            self.counts["notices acked"] += sum(1 for s in w.seen if s <= lo)
            inbox[w.fid] = got
        return inbox

    def check_references(self, store, inbox):
        """Every notice names postings that exist, with a title their owner sent."""
        def posting(pid, kind, owner=None, title=None):
            view = store.get(pid)
            if view is None or view.WhichOneof("posting") != kind:
                return "%s %d is not in the store" % (kind, pid)
            msg = getattr(view, kind)
            if owner is not None and msg.owner != owner:
                return "%s %d belongs to %s, not %s" % (kind, pid, msg.owner, owner)
            if title is not None:
                m = TAG.search(msg.title)
                p = self.by_tag.get(m.group(1)) if m else None
                if p is None or title not in p.titles:
                    return "%s %d is %r; no client sent it the title %r" % (kind, pid, msg.title, title)
            return None

        for fid, notices in inbox.items():
            for n in notices:
                which = body_of(n)
                b = getattr(n, which)
                probs = []
                if which in ("opportunity", "near_miss"):
                    probs.append(posting(b.demand.id, "demand", b.demand.owner, b.demand.title))
                    if b.offer_id:
                        probs.append(posting(b.offer_id, "offer", fid))
                elif which in ("demand_updated", "demand_withdrawn", "demand_awarded", "demand_expired"):
                    probs.append(posting(b.demand.id, "demand", b.demand.owner, b.demand.title))
                elif which == "candidate_added":
                    probs += [posting(b.demand_id, "demand", fid),
                              posting(b.candidate.offer_id, "offer", b.candidate.firm_id)]
                elif which == "candidate_removed":
                    probs += [posting(b.demand_id, "demand", fid), posting(b.offer_id, "offer", b.firm_id)]
                elif which == "interest_received":
                    probs.append(posting(b.demand_id, "demand", fid))
                elif which in ("details_released", "interest_declined"):
                    probs.append(posting(b.demand_id, "demand"))
                for prob in filter(None, probs):
                    self.fail("%s: notice %d (%s): %s" % (fid, n.seq, which, prob))
                self.counts["notice references"] += 1

    def check_docking(self, broker, store, inbox):
        received = collections.Counter()   # (demand, sme) in the anchor's inbox
        released_sme = collections.Counter()  # (demand, sme) in the SME's inbox
        released_anchor = collections.Counter()  # (demand, sme) in the anchor's inbox
        declined = collections.Counter()
        for fid, notices in inbox.items():
            for n in notices:
                which = body_of(n)
                if which == "interest_received":
                    received[(n.interest_received.demand_id, n.interest_received.firm_id)] += 1
                elif which == "details_released":
                    b = n.details_released
                    anchor = store[b.demand_id].demand.owner if b.demand_id in store else None
                    if fid == anchor:
                        released_anchor[(b.demand_id, b.counterpart_id)] += 1
                    else:
                        released_sme[(b.demand_id, fid)] += 1
                elif which == "interest_declined":
                    declined[(n.interest_declined.demand_id, fid)] += 1
        reqs = [r for w in self.workers for r in w.reqs]
        interests = {r.arg: r for r in reqs if r.kind == "interest"}
        answers = {r.arg: r for r in reqs if r.kind in ("accept", "decline")}

        def expect(count, r, what):
            allowed = {"ok": (1,), "unknown": (0, 1), "err": (0,)}[r.outcome]
            if count not in allowed:
                self.fail("%s: %d %s notices, expected %s" % (r.describe(), count, what, allowed))

        for pair, r in interests.items():
            expect(received[pair], r, "interest_received")
        for pair in received:
            if pair not in interests:
                self.fail("interest_received for demand %d from %s, who never sent an Interest" % pair)
        for pair, r in answers.items():
            if r.kind == "accept":
                expect(released_sme[pair], r, "details_released to the SME")
                expect(released_anchor[pair], r, "details_released to the anchor")
                if released_sme[pair] != released_anchor[pair]:
                    self.fail("%s: details_released to the SME %d times, to the anchor %d times" % (
                        r.describe(), released_sme[pair], released_anchor[pair]))
                c = broker.client(pair[1])
                details = c.call(get_posting=pb.GetPosting(posting_id=pair[0])).view.demand.details
                c.close()
                if bool(details) != (released_sme[pair] > 0):
                    self.fail("%s: the SME %s the details, and holds %d details_released notices" % (
                        r.describe(), "sees" if details else "does not see", released_sme[pair]))
                self.counts["docking checks"] += 1
            else:
                expect(declined[pair], r, "interest_declined")
            if pair not in interests or interests[pair].outcome == "err":
                if r.outcome == "ok":
                    self.fail("%s was acked, but the Interest was %s" % (
                        r.describe(), interests[pair].describe() if pair in interests else "never sent"))
        for pair in set(released_sme) | set(released_anchor) | set(declined):
            if pair not in answers:
                self.fail("docking notices for demand %d and %s, which no Accept or Decline asked for" % pair)
        # Probe: a second Interest is refused exactly when the first one is in the store.
        for (d, sme), r in sorted(interests.items()):
            if d not in store or store[d].demand.state != pb.OPEN:
                continue
            c = broker.client(sme)
            got = c.request(interest=pb.Interest(demand_id=d, message="probe"))
            c.close()
            held = got.WhichOneof("body") == "error" and got.error.code == pb.ERR_CONFLICT and \
                got.error.field == "interest.demand_id"
            if got.WhichOneof("body") == "error" and not held:
                self.fail("probe Interest of %s in demand %d: %s" % (sme, d, got.error))
                continue
            if held != (received[(d, sme)] > 0):
                self.fail("%s: the docking record %s, but the anchor holds %d interest_received notices" % (
                    r.describe(), "exists" if held else "does not exist", received[(d, sme)]))
            self.counts["docking checks"] += 1

    def check_told(self, open_demands, rebuilt, inbox):
        """The candidate_added and candidate_removed notices an anchor holds,
        replayed, give each open demand's shortlist: every change to a top K
        was committed with its notice."""
        if self.date_changed("replayed shortlists"):
            return
        told = collections.defaultdict(dict)  # demand -> offer -> seq of the candidate_added
        for d in open_demands:
            told[d]
        for fid, notices in inbox.items():
            for n in notices:
                which = body_of(n)
                if which == "candidate_added":
                    d, o = n.candidate_added.demand_id, n.candidate_added.candidate.offer_id
                    if d in told and o in told[d]:
                        self.fail("%s: notice %d adds offer %d to demand %d, which notice %d added already" % (
                            fid, n.seq, o, d, told[d][o]))
                    told[d][o] = n.seq
                elif which == "candidate_removed":
                    d, o = n.candidate_removed.demand_id, n.candidate_removed.offer_id
                    if d in told and o not in told[d] and d in open_demands:
                        self.fail("%s: notice %d removes offer %d from demand %d, which was never added" % (
                            fid, n.seq, o, d))
                    told[d].pop(o, None)
        for d in open_demands:
            have = sorted(c.offer_id for c in rebuilt[d].candidates)
            if sorted(told[d]) != have:
                self.fail("demand %d: its owner was told the shortlist %s (added by notices %s), it is %s" % (
                    d, sorted(told[d]), sorted(told[d].values()), have))
            self.counts["shortlists told"] += 1

    def date_changed(self, what):
        """Scores follow 'today': a run across midnight (China time) re-scores
        at its restarts, without notices. Rare; then say so and skip."""
        if cn_date() == self.day0:
            return False
        print("torture: the date changed during the run (%s -> %s); %s not compared" % (
            self.day0, cn_date(), what))
        self.counts["date changed"] += 1
        return True

    def check_shortlists(self, store, open_demands, live, rebuilt):
        if self.date_changed("shortlists"):
            return
        for d in open_demands:
            a, b = norm_shortlist(live[d], details=True), norm_shortlist(rebuilt[d], details=True)
            if not same(a, b):
                self.fail("demand %d: shortlist before the quiet kill\n%s\nafter it\n%s" % (d, live[d], rebuilt[d]))
        # A fresh broker, the same firms, the surviving open postings re-posted in id order.
        problems = []
        fresh = Broker(extra_args=BROKER_ARGS).start()
        try:
            op2 = fresh.client(operator=True)
            for c in self.cast:
                op2.call(register_firm=pb.RegisterFirm(firm=c.record()))
            clients = {c.id: fresh.client(c.id) for c in self.cast}
            idmap = {}
            for kind in ("offer", "demand"):
                for pid, view in sorted(store.items()):
                    if view.WhichOneof("posting") != kind or getattr(view, kind).state != pb.OPEN:
                        continue
                    msg = type(getattr(view, kind))()
                    msg.CopyFrom(getattr(view, kind))
                    owner = msg.owner
                    for f in BROKER_FIELDS[kind]:
                        msg.ClearField(f)
                    body = {"post_offer": pb.PostOffer(offer=msg)} if kind == "offer" else \
                        {"post_demand": pb.PostDemand(demand=msg)}
                    idmap[pid] = clients[owner].call(**body).posting.id
            for d in open_demands:
                ours = norm_shortlist(rebuilt[d], idmap)
                fresh_sl = op2.call(get_shortlist=pb.GetShortlist(demand_id=idmap[d])).shortlist
                theirs = norm_shortlist(fresh_sl)
                if not same(ours, theirs):
                    problems.append("demand %d (fresh %d): shortlist after the kills\n%s\nfresh broker\n%s\n"
                                    "(ids mapped %s)" % (d, idmap[d], rebuilt[d], fresh_sl,
                                                         {k: v for k, v in idmap.items() if k in
                                                          {c.offer_id for c in rebuilt[d].candidates}}))
                self.counts["shortlists"] += 1
                self.counts["candidates"] += len(rebuilt[d].candidates)
            for c in clients.values():
                c.close()
            op2.close()
            fresh.stop()
            if not self.date_changed("the fresh broker's shortlists"):
                self.violations += problems
        finally:
            fresh.cleanup()

    def summary(self):
        reqs = [r for w in self.workers for r in w.reqs]
        mut = [r for r in reqs if r.kind in MUTATIONS]
        by = collections.Counter(r.outcome for r in mut)
        self.counts.update({"acked": by["ok"], "refused": by["err"], "unknown": by["unknown"],
                            "requests": len(reqs)})
        kinds = collections.Counter((r.kind, r.outcome) for r in mut)
        self.counts["kills in flight"] = len({r.gen for r in mut if r.outcome == "unknown"})
        print("torture: %d kills (+1 quiet) in %.1f s, %d requests acked, %d refused, %d unknown outcomes "
              "(of %d requests, reads included), %d postings checked, %d notices over %d inboxes "
              "(%d pushed during the run, %d of them acked, compared byte for byte), %d docking checks, "
              "%d shortlists compared (%d candidates) and replayed from notices; "
              "%d kills caught changes in flight" % (
                  self.kills, self.torture_seconds, by["ok"], by["err"], by["unknown"], len(reqs),
                  self.counts["postings"], self.counts["notices"], len(self.workers),
                  self.counts["notices pushed"], self.counts["notices acked"], self.counts["docking checks"],
                  self.counts["shortlists"], self.counts["candidates"], self.counts["kills in flight"]))
        print("torture: by request: " + ", ".join("%s %s %d" % (k, o, n) for (k, o), n in sorted(kinds.items())))
        land = self.landed
        print("torture: kills landed %d while a snapshot was being written (%d of them aimed there), %d after a "
              "snapshot was written and before the store recorded it, %d elsewhere while serving; %d starts "
              "killed (%d while restoring the snapshot and replaying, %d before the load, %d after it, %d in a "
              "rebuild); %d snapshots written while serving" % (
                  land[("snapshot", "snapshot write")] + land[("anywhere", "snapshot write")],
                  land[("snapshot", "snapshot write")],
                  land[("snapshot", "snapshot record")] + land[("anywhere", "snapshot record")],
                  land[("snapshot", "anywhere")] + land[("anywhere", "anywhere")], self.counts["start kills"],
                  land[("start", "restore")], land[("start", "start before the load")],
                  land[("start", "start after the load")], land[("start", "rebuild")],
                  self.counts["snapshots while serving"]))
        print("torture: %d starts restored the engine snapshot (%d changed firms and postings replayed), %d "
              "rebuilt it (before the first snapshot); the engine equal to a full rebuild of the store after %d "
              "restarts (%d demand lists, %d shortlist entries; %.1f s; the quiet one replayed %d changes)" % (
                  self.counts["starts restored"], self.counts["changes replayed"], self.counts["starts rebuilt"],
                  self.counts["engine checks"], self.counts["engine demands"], self.counts["engine candidates"],
                  getattr(self, "engine_seconds", 0), getattr(self, "quiet_replayed", -1)))


class Torture(unittest.TestCase):
    def test_kill_9_under_load_loses_nothing_acknowledged(self):
        run = TortureRun(self)
        try:
            run.run()
            run.check()
        finally:
            if getattr(run, "broker", None):
                run.broker.cleanup()
        run.summary()
        if run.violations:
            self.fail("%d violations:\n\n%s" % (len(run.violations), "\n\n".join(run.violations[:30])))
        c = run.counts
        self.assertGreaterEqual(run.kills, KILLS)
        self.assertGreater(c["acked"], 5 * KILLS, "too little traffic to mean anything")
        self.assertGreaterEqual(c["kills in flight"], KILLS // 2, "most kills caught no change in flight")
        self.assertGreater(c["postings"], 12)
        self.assertGreater(c["notices pushed"], 0)
        self.assertGreater(c["notices"], 0)
        if not c["date changed"]:
            self.assertGreater(c["shortlists"], 0)
            self.assertGreater(c["candidates"], 0, "no shortlist had a candidate")
        self.assertGreater(c["docking checks"], 0)
        land = run.landed
        self.assertGreater(land[("snapshot", "snapshot write")] + land[("anywhere", "snapshot write")], 0,
                           "no kill landed while a snapshot was being written")
        self.assertGreater(land[("start", "restore")], 0, "no start was killed while restoring and replaying")
        self.assertGreater(c["starts restored"], KILLS // 2)
        self.assertGreater(c["changes replayed"], 0)
        if not c["date changed"]:
            self.assertGreaterEqual(c["engine checks"], 2, "the engine was compared with a rebuild too seldom")
            self.assertGreater(c["engine demands"], 0)


if __name__ == "__main__":
    main()
