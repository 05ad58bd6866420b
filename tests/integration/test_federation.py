#!/usr/bin/env python3
"""Cities federated over NATS JetStream (issue 17, slice 1): three real nats-servers in a
cluster (JetStream, file storage, R3) and three real gongxud — Hebi 4106, Zhengzhou 4101,
Xinxiang 4107 — on loopback, each stopped by PID. A province-scoped demand posted in Hebi is
matched against Zhengzhou's and Xinxiang's offers by the same rules and score, their SMEs
hear of it from their own broker, updates and withdrawals follow, and crashes of a broker or
of a nats-server lose and duplicate nothing.
"""
import os
import signal
import struct
import subprocess
import threading
import time
import unittest

from gxfed import (NatsCluster, RawNats, metric, start_cities, stop_cities, wait_for)
from gxharness import Refused, body_of, firm, mg_demand, mg_offer, pb, uscc
import zmq  # noqa: E402 — the path gxharness sets

HEBI, ZHENGZHOU, XINXIANG = 4106, 4101, 4107
ANCHOR = uscc("91410611MA47HBAN1")     # Hebi anchor, Qibin
HB_SME = uscc("91410611MA47HBDC2")     # Hebi die caster (a local candidate)
ZZ_SME = uscc("91410102MA48HGMG3")     # Zhengzhou die caster, Zhongyuan District
XX_SME = uscc("91410702MA49XXMG4")     # Xinxiang die caster, Hongqi District
XX_CITY = uscc("91410702MA49XXCT5")    # Xinxiang die caster serving its own city only
CERTS = [("IATF16949", "2030-06-30"), ("ISO9001", "2030-06-30")]
FIRMS = {
    HEBI: [firm(ANCHOR, "Hebi Auto Electronics", "410611", "hebi.etdz", pb.CREDIT_A, lat=35.73, lon=114.35,
                contact="buyer@hebi.example"),
           firm(HB_SME, "Qibin Die Casting", "410611", "", pb.CREDIT_B, CERTS, 35.75, 114.30)],
    ZHENGZHOU: [firm(ZZ_SME, "Zhongyuan Magnesium", "410102", "", pb.CREDIT_B, CERTS, 34.75, 113.62,
                     contact="sales@zz.example")],
    XINXIANG: [firm(XX_SME, "Hongqi Light Alloy", "410702", "", pb.CREDIT_B, CERTS, 35.30, 113.90),
               firm(XX_CITY, "Hongqi City Castings", "410702", "", pb.CREDIT_B, CERTS, 35.31, 113.91)],
}


def collect(client, until=lambda seen: False, timeout=2.0):
    """Resumes client's inbox from the start once and gathers its notices by sequence number as
    they come (pushed live after the resume), until until(seen) holds or timeout seconds pass.
    One resume per call: resuming again and again would put the whole inbox in flight each time
    and fill the firm's delivery window. A notice delivered twice has one sequence number."""
    seen = {}
    client.resume(0)
    deadline = time.time() + timeout
    while True:
        for n in client.drain(0.3):
            seen[n.seq] = n
        if until(seen) or time.time() > deadline:
            return seen


def about(seen, kind, demand_id):
    return [n for _, n in sorted(seen.items()) if body_of(n) == kind and getattr(n, kind).demand.id == demand_id]


def notices_of(client, kind, demand_id, timeout=30):
    """The `kind` notices about demand_id in client's inbox, waiting up to timeout for one."""
    got = about(collect(client, lambda seen: about(seen, kind, demand_id), timeout), kind, demand_id)
    if not got:
        raise AssertionError("no %s notice about demand %s within %ds" % (kind, demand_id, timeout))
    return got


class Federation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = NatsCluster().start()
        cls.brokers = {}
        try:
            start_cities(cls.cluster, FIRMS, cls.brokers)
            cls.offers = {}
            for city, fid, scope in ((HEBI, HB_SME, pb.SAME_PROVINCE), (ZHENGZHOU, ZZ_SME, pb.SAME_PROVINCE),
                                     (XINXIANG, XX_SME, pb.ANYWHERE), (XINXIANG, XX_CITY, pb.SAME_CITY)):
                c = cls.brokers[city].client(fid)
                cls.offers[fid] = c.call(post_offer=pb.PostOffer(offer=mg_offer(service_scope=scope))).posting.id
                c.close()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cities(getattr(cls, "brokers", {}), cls.cluster)

    def remote_id(self, city, local_id):
        return city << 48 | local_id

    def shortlist(self, broker, firm_id, demand_id, want, timeout=30):
        c = broker.client(firm_id)
        try:
            return wait_for("shortlist of %d with %d candidates" % (demand_id, want),
                            lambda: (lambda s: s if len(s.candidates) >= want else None)(
                                c.call(get_shortlist=pb.GetShortlist(demand_id=demand_id)).shortlist), timeout)
        finally:
            c.close()

    # (a)
    def test_a_province_demand_gets_remote_offers_and_remote_smes_hear_from_their_own_broker(self):
        hb = self.brokers[HEBI]
        anchor = hb.client(ANCHOR)
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE))).posting.id
        self.assertLess(d, 1 << 48)
        sl = self.shortlist(hb, ANCHOR, d, 3)
        by_firm = {c.firm_id: c for c in sl.candidates}
        self.assertEqual(set(by_firm), {HB_SME, ZZ_SME, XX_SME})  # not XX_CITY: its service stays in Xinxiang
        self.assertEqual(by_firm[ZZ_SME].offer_id, self.remote_id(ZHENGZHOU, self.offers[ZZ_SME]))
        self.assertEqual(by_firm[XX_SME].offer_id, self.remote_id(XINXIANG, self.offers[XX_SME]))
        self.assertEqual(by_firm[ZZ_SME].firm_name, "Zhongyuan Magnesium")
        for c in sl.candidates:
            self.assertTrue(all(getattr(r, "pass") for r in c.explanation.rules), c)
        # the SMEs in the other cities get their Opportunity from their own broker's inbox
        for city, fid in ((ZHENGZHOU, ZZ_SME), (XINXIANG, XX_SME)):
            sme = self.brokers[city].client(fid)
            rid = self.remote_id(HEBI, d)
            ops = notices_of(sme, "opportunity", rid)
            self.assertEqual(len(ops), 1, ops)
            op = ops[0].opportunity
            self.assertEqual(op.demand.owner, ANCHOR)
            self.assertEqual(op.offer_id, self.offers[fid])
            # the same rules and score as Hebi computed for the pair
            self.assertAlmostEqual(op.explanation.score, by_firm[fid].explanation.score, places=6)
            self.assertEqual([getattr(r, "pass") for r in op.explanation.rules],
                             [getattr(r, "pass") for r in by_firm[fid].explanation.rules])
            # the confidential details did not cross
            view = sme.call(get_posting=pb.GetPosting(posting_id=rid)).view
            self.assertEqual(view.demand.details, "")
            # (docking across cities: test_federation_docking.py)
            sme.close()
        # the Xinxiang city-only offer's firm was not told
        xc = self.brokers[XINXIANG].client(XX_CITY)
        self.assertFalse([n for n in collect(xc, timeout=1.0).values() if body_of(n) == "opportunity"])
        xc.close()
        # a CITY-scoped demand does not cross
        before = metric(self.brokers[ZHENGZHOU], "gongxu_federation_applied_total")
        written = metric(self.brokers[ZHENGZHOU], "gongxu_notices_written_total")
        local = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_CITY))).posting.id
        sl = self.shortlist(hb, ANCHOR, local, 1)
        self.assertEqual({c.firm_id for c in sl.candidates}, {HB_SME})
        probe = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.ANYWHERE, title="probe"))).posting.id
        zz = self.brokers[ZHENGZHOU].client(ZZ_SME)
        notices_of(zz, "opportunity", self.remote_id(HEBI, probe))  # a later province demand did arrive
        with self.assertRaises(Refused) as e:
            zz.call(get_posting=pb.GetPosting(posting_id=self.remote_id(HEBI, local)))
        self.assertEqual(e.exception.code, pb.ERR_NOT_FOUND)
        self.assertEqual(metric(self.brokers[ZHENGZHOU], "gongxu_federation_applied_total"), before + 1)
        # Zhengzhou wrote its own SME's Opportunity and nothing for Hebi's anchor (the shortlist
        # notices about its demand are Hebi's to write)
        self.assertEqual(metric(self.brokers[ZHENGZHOU], "gongxu_notices_written_total"), written + 1)
        zz.close()
        anchor.close()

    def count_about(self, broker, fid, kind, demand_id, settle=2.0):
        """How many `kind` notices about demand_id fid's inbox holds (resumed from the start)."""
        c = broker.client(fid)
        try:
            return len(about(collect(c, timeout=settle), kind, demand_id))
        finally:
            c.close()

    def post_province(self, title="province"):
        a = self.brokers[HEBI].client(ANCHOR)
        try:
            return a.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, title=title))).posting.id
        finally:
            a.close()

    # (b)
    def test_b_update_and_withdrawal_cross_and_remote_smes_are_told_by_their_own_broker(self):
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        anchor = hb.client(ANCHOR)
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE))).posting.id
        rid = self.remote_id(HEBI, d)
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", rid)
        anchor.call(update_demand=pb.UpdateDemand(demand=mg_demand(id=d, scope=pb.SAME_PROVINCE, quantity=6000)))
        upd = notices_of(sme, "demand_updated", rid)[0].demand_updated
        self.assertEqual(upd.demand.revision, 2)
        self.assertTrue(upd.still_eligible)
        view = sme.call(get_posting=pb.GetPosting(posting_id=rid)).view.demand
        self.assertEqual((view.revision, view.quantity), (2, 6000))
        anchor.call(withdraw=pb.Withdraw(posting_id=d))
        notices_of(sme, "demand_withdrawn", rid)
        for city in (ZHENGZHOU, XINXIANG):
            c = self.brokers[city].client(ZZ_SME if city == ZHENGZHOU else XX_SME)
            wait_for("demand %d withdrawn in %d" % (rid, city), lambda: c.call(
                get_posting=pb.GetPosting(posting_id=rid)).view.demand.state == pb.WITHDRAWN)
            c.close()
        # each told once
        self.assertEqual(self.count_about(zz, ZZ_SME, "demand_withdrawn", rid), 1)
        self.assertEqual(self.count_about(zz, ZZ_SME, "demand_updated", rid), 1)
        # a profile change of a firm with crossing postings follows: Hebi's shortlist shows the new name
        op = zz.client(operator=True)
        renamed = pb.Firm()
        renamed.CopyFrom(FIRMS[ZHENGZHOU][0])
        renamed.name = "Zhongyuan Magnesium Works"
        op.call(register_firm=pb.RegisterFirm(firm=renamed))
        op.close()
        d2 = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, title="renamed"))).posting.id
        wait_for("the new name in Hebi", lambda: "Zhongyuan Magnesium Works" in [
            c.firm_name for c in anchor.call(get_shortlist=pb.GetShortlist(demand_id=d2)).shortlist.candidates])
        # a firm of another city cannot be registered here
        op = hb.client(operator=True)
        with self.assertRaises(Refused) as e:
            op.call(register_firm=pb.RegisterFirm(firm=renamed))
        self.assertEqual(e.exception.code, pb.ERR_INVALID_FIELD)
        op.close()
        # an offer withdrawn in Xinxiang leaves Hebi's engine too
        xx = self.brokers[XINXIANG].client(XX_SME)
        o = xx.call(post_offer=pb.PostOffer(offer=mg_offer(service_scope=pb.ANYWHERE, title="second line"))).posting.id
        ro = self.remote_id(XINXIANG, o)
        op = hb.client(operator=True)
        wait_for("offer %d in Hebi" % ro, lambda: self._state(op, ro) == pb.OPEN)
        xx.call(withdraw=pb.Withdraw(posting_id=o))
        wait_for("offer %d withdrawn in Hebi" % ro, lambda: self._state(op, ro) == pb.WITHDRAWN)
        op.close()
        xx.close()
        sme.close()
        anchor.close()

    def diag(self):
        """The federation lines of every broker's log and its figures, for a failure's message."""
        out = []
        for city, b in self.brokers.items():
            log = b.read_log_all().splitlines()
            lines = [l for l in log if "federation" in l and "applied" not in l]
            applied = [l for l in log if "federation: applied" in l]
            lines += applied[-3:]
            figures = {}
            if b.proc:
                for m in ("outbox_depth", "outboxed_total", "published_total", "applied_total", "duplicates_total"):
                    figures[m] = metric(b, "gongxu_federation_" + m)
            out.append("city %d %s\n  %s" % (city, figures, "\n  ".join(lines[-15:])))
        return "\n".join(out)

    def _state(self, client, offer_id):
        try:
            return client.call(get_posting=pb.GetPosting(posting_id=offer_id)).view.offer.state
        except Refused:
            return None

    # (c) a broker killed with its outbox full
    def test_c1_kill9_of_a_broker_between_post_and_publish_crosses_exactly_once(self):
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        for s in self.cluster.servers:  # JetStream unreachable: the outbox holds the change
            os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            d = self.post_province("outbox")
            wait_for("outbox non-empty", lambda: metric(hb, "gongxu_federation_outbox_depth") >= 1)
            hb.kill()
        finally:
            for s in self.cluster.servers:
                os.kill(s.proc.pid, signal.SIGCONT)
        hb.start(timeout=60)
        rid = self.remote_id(HEBI, d)
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", rid, timeout=60)
        sme.close()
        wait_for("outbox drained", lambda: metric(hb, "gongxu_federation_outbox_depth") == 0, timeout=60)
        time.sleep(1)
        self.assertEqual(self.count_about(zz, ZZ_SME, "opportunity", rid), 1)
        self.assertEqual(self.count_about(self.brokers[XINXIANG], XX_SME, "opportunity", rid), 1)

    def test_c2_kill9_of_a_nats_server_under_traffic_loses_and_duplicates_nothing(self):
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        log = hb.read_log_all()
        url = log[log.rindex("city 4106 connected to ") + len("city 4106 connected to "):].split()[0]
        victim = next(s for s in self.cluster.servers if s.url == url)
        ids = []
        a = hb.client(ANCHOR)
        for i in range(24):
            if i == 8:
                victim.kill()  # the server Hebi's broker is connected to
            ids.append(a.call(post_demand=pb.PostDemand(
                demand=mg_demand(scope=pb.SAME_PROVINCE, title="traffic %d" % i))).posting.id)
        a.close()
        victim.start()
        self.cluster.wait_healthy(60, [victim])
        rids = [self.remote_id(HEBI, d) for d in ids]
        sme = zz.client(ZZ_SME)

        seen = collect(sme, lambda seen: all(about(seen, "opportunity", r) for r in rids), timeout=120)
        if not all(about(seen, "opportunity", r) for r in rids):
            missing = [r & ((1 << 48) - 1) for r in rids if not about(seen, "opportunity", r)]
            raise AssertionError("opportunities missing in Zhengzhou for Hebi's demands %s\n%s" % (missing, self.diag()))
        sme.close()
        time.sleep(1)
        for r in rids:
            self.assertEqual(len(about(seen, "opportunity", r)), 1, r)
        self.assertEqual(self.count_about(zz, ZZ_SME, "opportunity", rids[-1]), 1)
        wait_for("outbox drained", lambda: metric(hb, "gongxu_federation_outbox_depth") == 0, timeout=60)

    def test_c3_kill9_of_a_receiving_broker_with_a_batch_fetched_loses_and_duplicates_nothing(self):
        """Zhengzhou killed while Hebi keeps posting, so that messages JetStream delivered to it
        are neither applied nor acknowledged, and started again well within the consumer's
        AckWait (30 s): JetStream would redeliver those only after newer ones, and a broker
        that applied the newer ones first dropped the older as already applied. Every
        Opportunity must be in Zhengzhou's inbox exactly once."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        ids, stop, errors = [], threading.Event(), []

        def post():
            a = hb.client(ANCHOR)
            try:
                while not stop.is_set():
                    ids.append(a.call(post_demand=pb.PostDemand(
                        demand=mg_demand(scope=pb.SAME_PROVINCE, title="receiver killed %d" % len(ids)))).posting.id)
                    time.sleep(0.03)
            except Exception as e:  # noqa: BLE001 — reported by the test below
                errors.append(e)
            finally:
                a.close()

        applied = metric(zz, "gongxu_federation_applied_total")
        t = threading.Thread(target=post)
        t.start()
        try:
            wait_for("Zhengzhou applying Hebi's traffic",
                     lambda: metric(zz, "gongxu_federation_applied_total") >= applied + 10, timeout=60)
            # stopped first, so that what JetStream delivers meanwhile is fetched and never
            # committed: in its socket, or in the batch it was applying
            os.kill(zz.proc.pid, signal.SIGSTOP)
            n = len(ids)
            wait_for("Hebi posting while Zhengzhou is stopped", lambda: len(ids) >= n + 10, timeout=60)
            zz.kill()
            n = len(ids)
            wait_for("Hebi posting while Zhengzhou is down", lambda: len(ids) >= n + 10, timeout=60)
            zz.start(timeout=60)
            n = len(ids)
            wait_for("Hebi posting after Zhengzhou is back", lambda: len(ids) >= n + 20, timeout=60)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(errors, [])
        rids = [self.remote_id(HEBI, d) for d in ids]
        sme = zz.client(ZZ_SME)
        seen = collect(sme, lambda seen: all(about(seen, "opportunity", r) for r in rids), timeout=75)
        sme.close()
        missing = [r & ((1 << 48) - 1) for r in rids if not about(seen, "opportunity", r)]
        if missing:
            raise AssertionError("opportunities lost in Zhengzhou for %d of Hebi's %d demands: %s\n%s"
                                 % (len(missing), len(rids), missing, self.diag()))
        time.sleep(1)
        sme = zz.client(ZZ_SME)
        seen = collect(sme, timeout=3)
        sme.close()
        for r in rids:
            self.assertEqual(len(about(seen, "opportunity", r)), 1, r)

    # (d)
    def test_d_a_city_stopped_while_others_post_catches_up_from_the_stream(self):
        xx = self.brokers[XINXIANG]
        self.assertEqual(xx.stop(), 0)
        # a stopped store holding remote firms and postings verifies healthy
        v = subprocess.run([os.path.join(os.environ.get("GX_BIN", "build"), "gongxud"), "--verify", xx.data_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.verify_names_federation_damage(xx.data_dir)
        ids = [self.post_province("while Xinxiang was down %d" % i) for i in range(3)]
        xx.start(timeout=60)
        for d in ids:
            rid = self.remote_id(HEBI, d)
            c = xx.client(XX_SME)
            notices_of(c, "opportunity", rid, timeout=60)
            c.close()
            self.assertEqual(self.count_about(xx, XX_SME, "opportunity", rid), 1)

    def verify_names_federation_damage(self, data_dir):
        """--verify of copies of Xinxiang's stopped store, each damaged in the federation's
        records: outbox records of another city's firm and of no FedMessage, an applied
        sequence of 3 bytes, Xinxiang's own caster marked Hebi's (so its offers, keys, inbox
        and cursor are a remote firm's); and Hebi's anchor marked Zhengzhou's (so Hebi's
        demands here have an owner of another city)."""
        gongxud = os.path.join(os.environ.get("GX_BIN", "build"), "gongxud")
        dump = subprocess.run(["mdb_dump", "-a", data_dir], stdout=subprocess.PIPE, check=True).stdout.decode()

        def damaged(name, edit):
            sections = dump.split("DATA=END\n")

            def table(t):
                return next(i for i, sec in enumerate(sections) if "database=%s\n" % t in sec)

            def rows(t):
                body = sections[table(t)].split("HEADER=END\n")[1].split("\n")[:-1]
                return [(bytes.fromhex(body[j][1:]), bytes.fromhex(body[j + 1][1:])) for j in range(0, len(body), 2)]

            def put(t, pairs):
                i = table(t)
                sections[i] = sections[i].split("HEADER=END\n")[0] + "HEADER=END\n" + "".join(
                    " %s\n %s\n" % (k.hex(), v.hex()) for k, v in sorted(pairs))

            edit(rows, put)
            path = os.path.join(os.path.dirname(data_dir.rstrip("/")), name)
            os.mkdir(path)
            subprocess.run(["mdb_load", path], input="DATA=END\n".join(sections).encode(), check=True)
            v = subprocess.run([gongxud, "--verify", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
            return v.stdout + v.stderr

        def home(rows, put, fid, city):
            out = []
            for k, v in rows("firms"):
                f = pb.Firm.FromString(v)
                if f.id == fid:
                    f.home_city = city
                out.append((k, f.SerializeToString()))
            put("firms", out)

        def caster_and_outbox(rows, put):
            home(rows, put, XX_SME, HEBI)
            zz_firm = pb.Firm()
            zz_firm.CopyFrom(FIRMS[ZHENGZHOU][0])
            zz_firm.contact, zz_firm.home_city = "", ZHENGZHOU
            put("fed_outbox", [(struct.pack(">Q", 1), pb.FedMessage(
                origin_city=ZHENGZHOU, kind=3, owner=zz_firm).SerializeToString()),
                (struct.pack(">Q", 2), b"\xff\x01 not protobuf"),
                # unpublished docking records (a city whose NATS was down) of the store's city
                # (the first record's, Zhengzhou): 3 and 4 are good, 5 is for that city itself
                (struct.pack(">Q", 3), pb.FedMessage(origin_city=ZHENGZHOU, kind=8,
                                                     public_key=b"k" * 32).SerializeToString()),
                (struct.pack(">Q", 4), pb.FedMessage(origin_city=ZHENGZHOU, kind=4, origin_id=1, dest_city=HEBI,
                                                     sealed=b"\x00" * 80).SerializeToString()),
                (struct.pack(">Q", 5), pb.FedMessage(origin_city=ZHENGZHOU, kind=6, origin_id=1,
                                                     dest_city=ZHENGZHOU, sealed=b"\x00" * 80).SerializeToString())])
            put("fed_applied", [(k, v[:3]) for k, v in rows("fed_applied")])

        out = damaged("verify-caster-outbox", caster_and_outbox)
        for want in (r"fed_outbox: outbox record 1 is about firm %s, which is city %d's" % (ZZ_SME, ZHENGZHOU),
                     r"fed_outbox: bad record: outbox record 2 does not decode as a FedMessage",
                     r"fed_applied: bad record: applied sequence: key of \d+ bytes and value of 3",
                     r"offers: offer \d+ is this broker's own, but its owner %s is city %d's" % (XX_SME, HEBI),
                     r"keys: key \S+ is of firm %s, which is city %d's \(a remote firm has no keys here\)"
                     % (XX_SME, HEBI),
                     r"inbox: notice \d+ of %s is of firm %s, which is city %d's" % (XX_SME, XX_SME, HEBI),
                     r"cursors: the inbox cursor of %s is of firm %s, which is city %d's" % (XX_SME, XX_SME, HEBI)):
            self.assertRegex(out, want)
        self.assertRegex(out, r"fed_outbox: bad record: outbox record 5: docking message for city %d" % ZHENGZHOU)
        self.assertNotRegex(out, r"outbox record [34]\b")
        out = damaged("verify-anchor", lambda rows, put: home(rows, put, ANCHOR, ZHENGZHOU))
        self.assertRegex(out, r"demands: demand \d+ is city %d's, but its owner %s is another city's" % (HEBI, ANCHOR))

    # (e)
    def test_e_a_city_cannot_publish_as_another(self):
        n = self.cluster.servers[0]
        raw = RawNats(n.url, "city%d" % XINXIANG, self.cluster.password(XINXIANG))
        try:
            got = raw.publish("gx.%d.post" % ZHENGZHOU, b"pretending")
            self.assertIn(b"Permissions Violation", got)
            got = raw.publish("$JS.API.STREAM.DELETE.GONGXU", b"")
            self.assertIn(b"Permissions Violation", got)
            self.assertEqual(raw.publish("gx.%d.post" % XINXIANG, pb.FedMessage().SerializeToString()), b"+OK")
        finally:
            raw.close()

    # bad input from the stream: logged, counted, skipped; nothing else changes
    def test_f_bad_messages_from_the_stream_are_skipped_and_counted(self):
        hb = self.brokers[HEBI]
        before = metric(hb, "gongxu_federation_bad_total")
        owner = firm(XX_SME, "Hongqi Light Alloy", "410702", "", pb.CREDIT_B, CERTS, 35.30, 113.90)
        wrong_city = pb.FedMessage(origin_city=ZHENGZHOU, kind=2, origin_id=5, revision=1, state=pb.OPEN,
                                   offer=mg_offer(owner=XX_SME, id=5, revision=1, state=pb.OPEN), owner=owner)
        too_big = pb.FedMessage(origin_city=XINXIANG, kind=2, origin_id=1 << 50, revision=1, state=pb.OPEN,
                                offer=mg_offer(owner=XX_SME, revision=1, state=pb.OPEN), owner=owner)
        unknown = pb.FedMessage(origin_city=XINXIANG, kind=99, origin_id=6, revision=1, state=pb.OPEN, owner=owner)
        no_city = pb.FedMessage(origin_city=99999, kind=2, origin_id=7, revision=1, state=pb.OPEN,
                                offer=mg_offer(owner=XX_SME, revision=1, state=pb.OPEN), owner=owner)
        raw = RawNats(self.cluster.servers[1].url, "city%d" % XINXIANG, self.cluster.password(XINXIANG))
        try:
            for payload in (b"\xff\x01 not protobuf", wrong_city.SerializeToString(), too_big.SerializeToString(),
                            unknown.SerializeToString(), no_city.SerializeToString()):
                self.assertEqual(raw.publish("gx.%d.post" % XINXIANG, payload), b"+OK")
        finally:
            raw.close()
        wait_for("5 bad messages counted in Hebi", lambda: metric(hb, "gongxu_federation_bad_total") >= before + 5)
        self.assertIn("federation: skipped", hb.read_log_all())
        # still applying what is good
        d = self.post_province("after the bad ones")
        c = self.brokers[XINXIANG].client(XX_SME)
        # longer than the consumer's AckWait (30 s): a gap is mended in about a second (the
        # consumer made again), but this wait does not hang on that
        notices_of(c, "opportunity", self.remote_id(HEBI, d), timeout=60)
        c.close()
        for b in self.brokers.values():
            self.assertIsNone(b.proc.poll())

    def test_g_a_replayed_change_is_applied_once(self):
        """The same change published again (a repeat after the duplicate window, or a
        message redelivered) changes nothing and tells nobody: applying is idempotent."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d = self.post_province("replayed")
        rid = self.remote_id(HEBI, d)
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", rid)
        sme.close()
        a = hb.client(ANCHOR)
        demand = a.call(get_posting=pb.GetPosting(posting_id=d)).view.demand
        a.close()
        demand.details = ""
        owner = FIRMS[HEBI][0]
        replay = pb.FedMessage(origin_city=HEBI, kind=1, origin_id=d, revision=demand.revision, state=pb.OPEN,
                               demand=demand, owner=owner)
        # A bad message published right after the replay: Zhengzhou applies the stream in
        # order, so once it has skipped this marker it has handled the replay too (a
        # duplicate counted by some redelivery alone proves nothing).
        marker = pb.FedMessage(origin_city=XINXIANG, kind=1, origin_id=d, revision=1, state=pb.OPEN, owner=owner)
        dups = metric(zz, "gongxu_federation_duplicates_total")
        bad = metric(zz, "gongxu_federation_bad_total")
        written = metric(zz, "gongxu_notices_written_total")
        raw = RawNats(self.cluster.servers[2].url, "city%d" % HEBI, self.cluster.password(HEBI))
        try:
            self.assertEqual(raw.publish("gx.%d.post" % HEBI, replay.SerializeToString()), b"+OK")
            self.assertEqual(raw.publish("gx.%d.post" % HEBI, marker.SerializeToString()), b"+OK")
        finally:
            raw.close()
        wait_for("the marker after the replay skipped in Zhengzhou",
                 lambda: metric(zz, "gongxu_federation_bad_total") >= bad + 1)
        self.assertIn("city %d's message on subject gx.%d.post" % (XINXIANG, HEBI), zz.read_log_all())
        self.assertGreaterEqual(metric(zz, "gongxu_federation_duplicates_total"), dups + 1)
        self.assertEqual(metric(zz, "gongxu_notices_written_total"), written)
        self.assertEqual(self.count_about(zz, ZZ_SME, "demand_updated", rid), 0)
        self.assertEqual(self.count_about(zz, ZZ_SME, "opportunity", rid), 1)

    def open_demands(self, broker):
        """Open demands in broker's engine (the gauge summed over kinds)."""
        import urllib.request
        with urllib.request.urlopen(broker.http + "/metrics", timeout=5) as r:
            return sum(float(l.rsplit(" ", 1)[1]) for l in r.read().decode().splitlines()
                       if l.startswith('gongxu_postings_open{side="demand"'))

    def test_h_a_remote_demand_expired_here_and_extended_by_its_home_city_opens_again(self):
        """Zhengzhou's expiry sweep closes Hebi's demand by Zhengzhou's clock while Hebi's
        extension (revision 2) is on its way: the home city is authoritative, so the demand is
        open again in Zhengzhou's engine, not only in its store, and its SME hears of it."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        anchor = hb.client(ANCHOR)
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(
            scope=pb.SAME_PROVINCE, title="extended", expires_at=int(time.time()) + 6))).posting.id
        rid = self.remote_id(HEBI, d)
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", rid)
        open_before = self.open_demands(zz)
        for s in self.cluster.servers:  # the extension waits in Hebi's outbox
            os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            anchor.call(update_demand=pb.UpdateDemand(demand=mg_demand(
                id=d, scope=pb.SAME_PROVINCE, title="extended", expires_at=int(time.time()) + 3600)))
            wait_for("demand %d expired in Zhengzhou" % rid, lambda: sme.call(
                get_posting=pb.GetPosting(posting_id=rid)).view.demand.state == pb.EXPIRED)
            self.assertEqual(self.open_demands(zz), open_before - 1)
        finally:
            for s in self.cluster.servers:
                os.kill(s.proc.pid, signal.SIGCONT)
        wait_for("demand %d open again in Zhengzhou's store" % rid, lambda: (lambda v: (v.revision, v.state))(
            sme.call(get_posting=pb.GetPosting(posting_id=rid)).view.demand) == (2, pb.OPEN), timeout=60)
        self.assertEqual(self.open_demands(zz), open_before, self.diag())
        # told it expired, the SME hears it is open again (as for an extension made here)
        upd = notices_of(sme, "demand_updated", rid)[-1].demand_updated
        self.assertEqual((upd.demand.revision, upd.demand.state), (2, pb.OPEN))
        self.assertEqual(self.count_about(zz, ZZ_SME, "opportunity", rid), 1)
        sme.close()
        anchor.close()

    def test_i_a_city_cannot_rewrite_another_citys_firm(self):
        """Xinxiang's user publishes, on its own subject, a profile for Hebi's anchor with a
        Xinxiang county: Zhengzhou, which holds the anchor as Hebi's, refuses it (logged,
        counted) and keeps Hebi's profile."""
        zz = self.brokers[ZHENGZHOU]
        d = self.post_province("the anchor known in Zhengzhou")
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", self.remote_id(HEBI, d))
        sme.close()
        bad = metric(zz, "gongxu_federation_bad_total")
        forged = firm(ANCHOR, "Forged Anchor", "410702", "", pb.CREDIT_A, lat=35.30, lon=113.90)
        msg = pb.FedMessage(origin_city=XINXIANG, kind=3, owner=forged)
        raw = RawNats(self.cluster.servers[0].url, "city%d" % XINXIANG, self.cluster.password(XINXIANG))
        try:
            self.assertEqual(raw.publish("gx.%d.post" % XINXIANG, msg.SerializeToString()), b"+OK")
        finally:
            raw.close()
        wait_for("the forged profile refused in Zhengzhou",
                 lambda: metric(zz, "gongxu_federation_bad_total") >= bad + 1)
        self.assertIn("firm %s is city %d's, not city %d's" % (ANCHOR, HEBI, XINXIANG), zz.read_log_all())
        op = zz.client(operator=True)
        try:
            f = op.call(get_firm=pb.GetFirm(firm_id=ANCHOR)).firm
            self.assertEqual((f.name, f.county), ("Hebi Auto Electronics", "410611"))
        finally:
            op.close()

    def test_j_no_key_for_another_citys_firm(self):
        """Another city's firm has no sessions here: the operator cannot register a key for it."""
        zz = self.brokers[ZHENGZHOU]
        d = self.post_province("the anchor known in Zhengzhou, for a key")
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", self.remote_id(HEBI, d))
        sme.close()
        op = zz.client(operator=True)
        try:
            with self.assertRaises(Refused) as e:
                op.call(register_key=pb.RegisterKey(firm_id=ANCHOR, public_key=zmq.curve_keypair()[0].decode()))
            self.assertEqual(e.exception.code, pb.ERR_CONFLICT)
        finally:
            op.close()

    def test_k_a_posting_narrowed_to_its_city_closes_its_remote_copies_and_widened_reopens_them(self):
        """An update that stops a demand (or an offer) reaching other cities closes their
        copies, and their SMEs hear it as a withdrawal; widening it again opens them again."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        anchor = hb.client(ANCHOR)
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, title="narrowed"))).posting.id
        rid = self.remote_id(HEBI, d)
        sme = zz.client(ZZ_SME)
        notices_of(sme, "opportunity", rid)
        anchor.call(update_demand=pb.UpdateDemand(demand=mg_demand(id=d, scope=pb.SAME_CITY, title="narrowed")))
        wait_for("demand %d closed in Zhengzhou" % rid, lambda: (lambda v: (v.revision, v.state))(
            sme.call(get_posting=pb.GetPosting(posting_id=rid)).view.demand) == (2, pb.WITHDRAWN), timeout=60)
        notices_of(sme, "demand_withdrawn", rid)
        self.assertEqual(anchor.call(get_posting=pb.GetPosting(posting_id=d)).view.demand.state, pb.OPEN)
        anchor.call(update_demand=pb.UpdateDemand(demand=mg_demand(id=d, scope=pb.SAME_PROVINCE, title="narrowed")))
        wait_for("demand %d open again in Zhengzhou" % rid, lambda: (lambda v: (v.revision, v.state))(
            sme.call(get_posting=pb.GetPosting(posting_id=rid)).view.demand) == (3, pb.OPEN), timeout=60)
        upd = notices_of(sme, "demand_updated", rid)[-1].demand_updated
        self.assertEqual((upd.demand.revision, upd.demand.state), (3, pb.OPEN))
        sme.close()
        anchor.close()
        # an offer whose service stops taking in other cities
        xx = self.brokers[XINXIANG].client(XX_SME)
        o = xx.call(post_offer=pb.PostOffer(offer=mg_offer(service_scope=pb.ANYWHERE, title="narrowed line"))).posting.id
        ro = self.remote_id(XINXIANG, o)
        op = hb.client(operator=True)
        wait_for("offer %d in Hebi" % ro, lambda: self._state(op, ro) == pb.OPEN)
        xx.call(update_offer=pb.UpdateOffer(offer=mg_offer(id=o, service_scope=pb.SAME_CITY, title="narrowed line")))
        wait_for("offer %d closed in Hebi" % ro, lambda: self._state(op, ro) == pb.WITHDRAWN, timeout=60)
        xx.call(update_offer=pb.UpdateOffer(offer=mg_offer(id=o, service_scope=pb.ANYWHERE, title="narrowed line")))
        wait_for("offer %d open again in Hebi" % ro, lambda: self._state(op, ro) == pb.OPEN, timeout=60)
        xx.call(withdraw=pb.Withdraw(posting_id=o))
        op.close()
        xx.close()


class CheckConfig(unittest.TestCase):
    """gongxud --check-config validates the federation keys (no NATS needed)."""

    def check(self, *sets):
        args = [os.path.join(os.environ.get("GX_BIN", "build"), "gongxud"), "--check-config"]
        for kv in sets:
            args += ["-o", kv]
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr

    def test_federation_keys(self):
        rc, out = self.check("federation_url=nats://127.0.0.1:4222")
        self.assertEqual(rc, 78, out)
        self.assertIn("federation_city", out)
        rc, out = self.check("federation_city=4106")
        self.assertEqual(rc, 78, out)
        for city in ("999", "10000", "41x6"):  # not a 4-digit city code
            rc, out = self.check("federation_url=nats://127.0.0.1:4222", "federation_city=" + city)
            self.assertEqual(rc, 78, out)
            self.assertIn("federation_city", out)
        rc, out = self.check("federation_url=http://x", "federation_city=4106")
        self.assertEqual(rc, 78, out)
        rc, out = self.check("federation_url=nats://127.0.0.1:4222", "federation_city=4106",
                             "federation_user=city4106", "federation_password_file=/nonexistent/pw")
        self.assertEqual(rc, 78, out)
        self.assertIn("federation_password_file", out)
        rc, out = self.check("federation_url=nats://127.0.0.1:4222,nats://127.0.0.1:4223", "federation_city=4106")
        self.assertEqual(rc, 0, out)
        self.assertIn("federation: city 4106", out)
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.assertNotIn("federation", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
