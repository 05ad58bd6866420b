#!/usr/bin/env python3
"""Docking across cities (issue 17, slice 2): three real nats-servers (JetStream, R3) and
three real gongxud — Hebi 4106, Zhengzhou 4101, Xinxiang 4107 — on loopback, stopped by PID.
A Zhengzhou SME's interest in a Hebi province demand reaches the Hebi anchor from Hebi's
broker; acceptance releases the details and each side's contact to the other, each from its
own broker, sealed so that neither the stream nor Xinxiang ever holds them in plaintext; an
award tells the SME and its track record follows in every city. Forged, misplaced and
repeated docking messages are refused or change nothing; a broker killed mid-way loses and
duplicates nothing.
"""
import os
import struct
import time
import unittest

import gxfed
from gxfed import (CITIES, STREAM, NatsCluster, RawNats, metric, start_cities, stop_cities, stored_bytes,
                   stream_bytes, wait_for)
from gxharness import Refused, body_of, firm, mg_demand, mg_offer, pb, uscc

HEBI, ZHENGZHOU, XINXIANG = 4106, 4101, 4107
ANCHOR = uscc("91410611MA47HBAN1")  # Hebi anchor
ZZ_SME = uscc("91410102MA48HGMG3")  # Zhengzhou die caster
XX_SME = uscc("91410702MA49XXMG4")  # Xinxiang die caster
CERTS = [("IATF16949", "2030-06-30"), ("ISO9001", "2030-06-30")]
ANCHOR_CONTACT = "buyer-7731@hebi.example"
SME_CONTACT = "sales-5519@zz.example"
FIRMS = {
    HEBI: [firm(ANCHOR, "Hebi Auto Electronics", "410611", "hebi.etdz", pb.CREDIT_A, lat=35.73, lon=114.35,
                contact=ANCHOR_CONTACT)],
    ZHENGZHOU: [firm(ZZ_SME, "Zhongyuan Magnesium", "410102", "", pb.CREDIT_B, CERTS, 34.75, 113.62,
                     contact=SME_CONTACT)],
    XINXIANG: [firm(XX_SME, "Hongqi Light Alloy", "410702", "", pb.CREDIT_B, CERTS, 35.30, 113.90,
                    contact="xx@xx.example")],
}


def stream_messages(cluster, city):
    """The payloads published on gx.<city>.post, as the first nats-server keeps them in its
    stream's message blocks (nats-server's file store record: length with the headers bit,
    sequence, time, subject length, subject, headers length and headers, payload, hash):
    the exact bytes a city's broker published, to publish again as a genuine copy."""
    subj = b"gx.%d.post" % city
    out = []
    for root, _, files in os.walk(cluster.servers[0].dir):
        for name in files:
            if not name.endswith(".blk"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            i = data.find(subj)
            while i >= 22:
                rl, = struct.unpack_from("<I", data, i - 22)
                slen, = struct.unpack_from("<H", data, i - 2)
                end = i - 22 + (rl & 0x7FFFFFFF)
                if slen == len(subj) and end <= len(data):
                    p = i + slen
                    if rl & 0x80000000:
                        p += 4 + struct.unpack_from("<I", data, p)[0]
                    if p <= end - 8 and data[p:end - 8] not in out:
                        out.append(data[p:end - 8])
                i = data.find(subj, i + 1)
    return out


def published(cluster, city, kind, demand_id):
    """The one message of kind about demand_id that city's broker published (raw bytes)."""
    got = []
    for raw in stream_messages(cluster, city):
        try:
            m = pb.FedMessage.FromString(raw)
        except Exception:
            continue
        if m.origin_city == city and m.kind == kind and m.origin_id == demand_id:
            got.append(raw)
    if len(got) != 1:
        raise AssertionError("%d messages of kind %d about demand %d from city %d in the stream"
                             % (len(got), kind, demand_id, city))
    return got[0]


def collect(client, until=lambda seen: False, timeout=2.0):
    """client's inbox from the start, by sequence number, until until(seen) or timeout."""
    seen = {}
    client.resume(0)
    deadline = time.time() + timeout
    while True:
        for n in client.drain(0.3):
            seen[n.seq] = n
        if until(seen) or time.time() > deadline:
            return seen


def demand_of(n):
    body = getattr(n, body_of(n))
    return body.demand.id if "demand" in body.DESCRIPTOR.fields_by_name else body.demand_id


def about(seen, kind, demand_id):
    return [n for _, n in sorted(seen.items()) if body_of(n) == kind and demand_of(n) == demand_id]


def wait_notices(broker, fid, kind, demand_id, timeout=60):
    c = broker.client(fid)
    try:
        got = about(collect(c, lambda s: about(s, kind, demand_id), timeout), kind, demand_id)
    finally:
        c.close()
    if not got:
        raise AssertionError("no %s notice about demand %d for %s within %ds" % (kind, demand_id, fid, timeout))
    return got


def count_notices(broker, fid, kind, demand_id, settle=2.0):
    c = broker.client(fid)
    try:
        return len(about(collect(c, timeout=settle), kind, demand_id))
    finally:
        c.close()


class Docking(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = NatsCluster().start()
        cls.brokers = {}
        try:
            start_cities(cls.cluster, FIRMS, cls.brokers)
            cls.offers = {}
            for city, fid in ((ZHENGZHOU, ZZ_SME), (XINXIANG, XX_SME)):
                c = cls.brokers[city].client(fid)
                cls.offers[fid] = c.call(post_offer=pb.PostOffer(
                    offer=mg_offer(service_scope=pb.SAME_PROVINCE))).posting.id
                c.close()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cities(getattr(cls, "brokers", {}), cls.cluster)

    def rid(self, local_id):
        return HEBI << 48 | local_id

    def post(self, title, details, quantity=5000):
        """A province demand of the Hebi anchor, once the Zhengzhou SME has its Opportunity."""
        a = self.brokers[HEBI].client(ANCHOR)
        d = a.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, title=title, details=details,
                                                               quantity=quantity))).posting.id
        a.close()
        wait_notices(self.brokers[ZHENGZHOU], ZZ_SME, "opportunity", self.rid(d))
        return d

    def interest(self, d, message):
        c = self.brokers[ZHENGZHOU].client(ZZ_SME)
        try:
            c.call(interest=pb.Interest(demand_id=self.rid(d), offer_id=self.offers[ZZ_SME], message=message))
        finally:
            c.close()

    def anchor_call(self, **body):
        return self.brokers[HEBI].call_as(ANCHOR, **body)

    def awards(self, city):
        op = self.brokers[city].client(operator=True)
        try:
            return op.call(get_firm=pb.GetFirm(firm_id=ZZ_SME)).firm.awards
        finally:
            op.close()

    def diag(self):
        out = []
        for city, b in self.brokers.items():
            lines = [l for l in b.read_log_all().splitlines() if "federation" in l and "applied" not in l]
            out.append("city %d:\n  %s" % (city, "\n  ".join(lines[-12:])))
        return "\n".join(out)

    def deny(self, city, subjects):
        """Reloads every nats-server with city's user denied publishing on subjects (and on the
        JetStream stream-info subject, the probe: harmless, outside the stream); returns once
        every server refuses the probe."""
        probe = "$JS.API.STREAM.INFO.%s" % STREAM
        orig = gxfed.city_permissions

        def perms(c, stream=STREAM):
            p = orig(c, stream)
            if c == city:
                p["publish"]["deny"] = list(subjects) + [probe]
            return p

        gxfed.city_permissions = perms
        try:
            self.cluster.reload()
        finally:
            gxfed.city_permissions = orig
        for srv in self.cluster.servers:
            def refused():
                try:  # a server in the middle of its reload may refuse the connection: not yet
                    raw = RawNats(srv.url, "city%d" % city, self.cluster.password(city))
                except (RuntimeError, OSError):
                    return False
                try:
                    return b"Permissions Violation" in raw.publish(probe, b"")
                finally:
                    raw.close()
            wait_for("%s refuses city %d's probe" % (srv.name, city), refused, timeout=30, every=0.2)

    def allow(self):
        self.cluster.reload()

    def test_a_full_docking_across_cities(self):
        hb, zz, xx = self.brokers[HEBI], self.brokers[ZHENGZHOU], self.brokers[XINXIANG]
        details = "drawing HB-SECRET-4242 rev D"
        message = "we cast AZ91D, private note 8812"
        d = self.post("docked across", details)
        self.interest(d, message)
        # the anchor hears of it from its own broker, with the message and the pair's explanation
        got = wait_notices(hb, ANCHOR, "interest_received", d)
        self.assertEqual(len(got), 1)
        ir = got[0].interest_received
        self.assertEqual((ir.firm_id, ir.firm_name, ir.message), (ZZ_SME, "Zhongyuan Magnesium", message))
        self.assertEqual(ir.offer_id, ZHENGZHOU << 48 | self.offers[ZZ_SME])
        self.assertTrue(ir.explanation.rules)
        # interest again: already pending, in the SME's own broker
        with self.assertRaises(Refused) as e:
            self.interest(d, "again")
        self.assertEqual(e.exception.code, pb.ERR_CONFLICT)
        self.anchor_call(accept=pb.Accept(demand_id=d, firm_id=ZZ_SME))
        # each side gets the other's contact and the details from its own broker
        to_sme = wait_notices(zz, ZZ_SME, "details_released", self.rid(d))
        self.assertEqual(len(to_sme), 1)
        r = to_sme[0].details_released
        self.assertEqual((r.counterpart_id, r.counterpart_contact, r.details), (ANCHOR, ANCHOR_CONTACT, details))
        to_anchor = wait_notices(hb, ANCHOR, "details_released", d)
        r = to_anchor[0].details_released
        self.assertEqual((r.counterpart_id, r.counterpart_contact, r.details), (ZZ_SME, SME_CONTACT, details))
        # the SME's contact, now in Hebi's copy of it, does not mark the anchor's notices about
        # that firm changed (no notice checked against the firm's sum shows a contact)
        ir = wait_notices(hb, ANCHOR, "interest_received", d)
        self.assertEqual([n.changed_since for n in ir], [""])
        # the SME may now read the details of its copy
        c = zz.client(ZZ_SME)
        self.assertEqual(c.call(get_posting=pb.GetPosting(posting_id=self.rid(d))).view.demand.details, details)
        c.close()
        # award: the SME is told from its own broker, and its track record follows everywhere
        self.anchor_call(award=pb.Award(demand_id=d, firm_id=ZZ_SME))
        aw = wait_notices(zz, ZZ_SME, "demand_awarded", self.rid(d))
        self.assertEqual(aw[0].demand_awarded.awarded_to, ZZ_SME)
        for city in CITIES:
            wait_for("awards of %s is 1 in %d" % (ZZ_SME, city), lambda: self.awards(city) == 1, timeout=60)
        time.sleep(1)
        self.assertEqual(count_notices(zz, ZZ_SME, "demand_awarded", self.rid(d)), 1)
        self.assertEqual(count_notices(hb, ANCHOR, "details_released", d), 1)
        self.assertEqual(count_notices(zz, ZZ_SME, "details_released", self.rid(d)), 1)
        # confidentiality: nothing private in plaintext on the nats-servers' disks or in Xinxiang
        wait_for("outboxes drained", lambda: all(metric(b, "gongxu_federation_outbox_depth") == 0
                                                  for b in self.brokers.values()), timeout=60)
        raw = stream_bytes(self.cluster)
        self.assertIn(b"docked across", raw)  # the public title crossed: the bytes read are the stream's
        for secret in (details, message, ANCHOR_CONTACT, SME_CONTACT):
            self.assertFalse(secret.encode() in raw, "%r in the stream's stored messages" % secret)
        xx_disk = stored_bytes(xx.data_dir)
        self.assertIn(b"docked across", xx_disk)  # Xinxiang holds the public demand
        for secret in (details, message, ANCHOR_CONTACT, SME_CONTACT):
            self.assertFalse(secret.encode() in xx_disk, "%r in Xinxiang's data dir" % secret)
        c = xx.client(XX_SME)
        seen = collect(c, timeout=1.0)
        c.close()
        for kind in ("interest_received", "details_released", "interest_declined"):
            self.assertEqual(about(seen, kind, self.rid(d)), [], kind)
        # Xinxiang's SME, told of the demand, hears that it was awarded, not to whom
        self.assertEqual([n.demand_awarded.awarded_to for n in about(seen, "demand_awarded", self.rid(d))], [""])

    def test_b_decline_across_cities(self):
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d = self.post("declined across", "drawing HB-D-1")
        self.interest(d, "please")
        wait_notices(hb, ANCHOR, "interest_received", d)
        self.anchor_call(decline=pb.Decline(demand_id=d, firm_id=ZZ_SME, reason="too far, sorry 5150"))
        got = wait_notices(zz, ZZ_SME, "interest_declined", self.rid(d))
        self.assertEqual(got[0].interest_declined.reason, "too far, sorry 5150")
        with self.assertRaises(Refused) as e:
            self.anchor_call(award=pb.Award(demand_id=d, firm_id=ZZ_SME))
        self.assertEqual(e.exception.code, pb.ERR_CONFLICT)
        time.sleep(1)
        self.assertEqual(count_notices(zz, ZZ_SME, "details_released", self.rid(d)), 0)
        self.assertFalse(b"too far, sorry 5150" in stream_bytes(self.cluster), "the reason in the stream")

    def publish(self, as_city, msg):
        raw = RawNats(self.cluster.servers[0].url, "city%d" % as_city, self.cluster.password(as_city))
        try:
            self.assertEqual(raw.publish("gx.%d.post" % as_city, msg.SerializeToString()), b"+OK")
        finally:
            raw.close()

    def test_c_forged_misplaced_and_garbage_docking_messages_are_refused(self):
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d = self.post("forgeries", "drawing HB-F-1")
        bad_zz, bad_hb = metric(zz, "gongxu_federation_bad_total"), metric(hb, "gongxu_federation_bad_total")
        box = b"\x00" * 80
        # Xinxiang, on its own subject, claims to accept Zhengzhou's SME for Hebi's demand
        self.publish(XINXIANG, pb.FedMessage(origin_city=XINXIANG, kind=5, origin_id=d, dest_city=ZHENGZHOU,
                                             firm_id=ZZ_SME, sealed=box))
        # Hebi accepts an interest that was never expressed
        self.publish(HEBI, pb.FedMessage(origin_city=HEBI, kind=5, origin_id=d, dest_city=ZHENGZHOU,
                                         firm_id=ZZ_SME, sealed=box))
        # Xinxiang speaks for Zhengzhou's SME (interest and contact are its home city's)
        self.publish(XINXIANG, pb.FedMessage(origin_city=XINXIANG, kind=4, origin_id=d, dest_city=HEBI,
                                             firm_id=ZZ_SME, sealed=box, owner=FIRMS[ZHENGZHOU][0]))
        # Zhengzhou's interest with a box that does not open
        owner = pb.Firm()
        owner.CopyFrom(FIRMS[ZHENGZHOU][0])
        owner.contact = ""
        self.publish(ZHENGZHOU, pb.FedMessage(origin_city=ZHENGZHOU, kind=4, origin_id=d, dest_city=HEBI,
                                              firm_id=ZZ_SME, sealed=box, owner=owner))
        wait_for("2 bad in Zhengzhou", lambda: metric(zz, "gongxu_federation_bad_total") >= bad_zz + 2)
        wait_for("2 bad in Hebi", lambda: metric(hb, "gongxu_federation_bad_total") >= bad_hb + 2)
        self.assertIn("federation: skipped", zz.read_log_all())
        time.sleep(1)
        self.assertEqual(count_notices(zz, ZZ_SME, "details_released", self.rid(d)), 0)
        self.assertEqual(count_notices(hb, ANCHOR, "interest_received", d), 0)
        # the real docking still works after them
        self.interest(d, "real one")
        wait_notices(hb, ANCHOR, "interest_received", d)
        # Xinxiang copies Zhengzhou's sealed box (its SME's message) into an interest of its
        # own SME: the box is bound to Zhengzhou's message, Hebi refuses it
        d2 = self.post("replayed box", "drawing HB-F-2")
        self.interest(d2, "private note 6161")
        wait_notices(hb, ANCHOR, "interest_received", d2)
        wait_for("Zhengzhou's outbox drained", lambda: metric(zz, "gongxu_federation_outbox_depth") == 0)
        box = pb.FedMessage.FromString(published(self.cluster, ZHENGZHOU, 4, d2)).sealed
        bad_hb = metric(hb, "gongxu_federation_bad_total")
        self.publish(XINXIANG, pb.FedMessage(origin_city=XINXIANG, kind=4, origin_id=d2, dest_city=HEBI,
                                             firm_id=XX_SME, sealed=box, owner=FIRMS[XINXIANG][0]))
        wait_for("the replayed box refused in Hebi", lambda: metric(hb, "gongxu_federation_bad_total") >= bad_hb + 1)
        self.assertIn("its sealed part belongs to another message", hb.read_log_all())
        c = hb.client(ANCHOR)
        try:
            got = about(collect(c, timeout=2.0), "interest_received", d2)
        finally:
            c.close()
        self.assertEqual([n.interest_received.firm_id for n in got], [ZZ_SME])
        for b in self.brokers.values():
            self.assertIsNone(b.proc.poll())

    def test_d_a_repeated_docking_message_changes_nothing(self):
        """The same docking message again (an outbox record republished under a new id: here
        the exact bytes a broker published, read from the stream and published again by the
        same city) is applied once: the record is already in its state, nobody is told again,
        an award is counted once. A copy whose box does not open is refused before any of it."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d = self.post("repeated", "drawing HB-R-1")
        self.interest(d, "hello")
        wait_notices(hb, ANCHOR, "interest_received", d)
        self.anchor_call(accept=pb.Accept(demand_id=d, firm_id=ZZ_SME))
        wait_notices(hb, ANCHOR, "details_released", d)
        wait_notices(zz, ZZ_SME, "details_released", self.rid(d))
        before = {city: self.awards(city) for city in CITIES}
        self.anchor_call(award=pb.Award(demand_id=d, firm_id=ZZ_SME, quantity=1000))
        wait_notices(zz, ZZ_SME, "demand_awarded", self.rid(d))
        for city in CITIES:
            wait_for("awards of %s + 1 in %d" % (ZZ_SME, city), lambda: self.awards(city) == before[city] + 1,
                     timeout=60)
        wait_for("outboxes drained", lambda: all(metric(b, "gongxu_federation_outbox_depth") == 0
                                                  for b in self.brokers.values()), timeout=60)
        dup_zz, dup_hb = metric(zz, "gongxu_federation_duplicates_total"), metric(hb, "gongxu_federation_duplicates_total")
        bad_zz, bad_hb = metric(zz, "gongxu_federation_bad_total"), metric(hb, "gongxu_federation_bad_total")
        # genuine copies: Zhengzhou's interest and contact, Hebi's acceptance and award
        for city, kind in ((ZHENGZHOU, 4), (ZHENGZHOU, 7), (HEBI, 5), (HEBI, 9), (HEBI, 9)):
            raw = RawNats(self.cluster.servers[0].url, "city%d" % city, self.cluster.password(city))
            try:
                self.assertEqual(raw.publish("gx.%d.post" % city, published(self.cluster, city, kind, d)), b"+OK")
            finally:
                raw.close()
        wait_for("2 duplicates in Hebi", lambda: metric(hb, "gongxu_federation_duplicates_total") >= dup_hb + 2)
        wait_for("3 duplicates in Zhengzhou", lambda: metric(zz, "gongxu_federation_duplicates_total") >= dup_zz + 3)
        # copies with boxes that do not open
        box = b"\x00" * 80
        self.publish(ZHENGZHOU, pb.FedMessage(origin_city=ZHENGZHOU, kind=4, origin_id=d, dest_city=HEBI, sealed=box))
        self.publish(ZHENGZHOU, pb.FedMessage(origin_city=ZHENGZHOU, kind=7, origin_id=d, dest_city=HEBI, sealed=box))
        self.publish(HEBI, pb.FedMessage(origin_city=HEBI, kind=5, origin_id=d, dest_city=ZHENGZHOU, sealed=box))
        wait_for("2 bad in Hebi", lambda: metric(hb, "gongxu_federation_bad_total") >= bad_hb + 2)
        wait_for("1 bad in Zhengzhou", lambda: metric(zz, "gongxu_federation_bad_total") >= bad_zz + 1)
        time.sleep(1)
        self.assertEqual(count_notices(hb, ANCHOR, "interest_received", d), 1)
        self.assertEqual(count_notices(hb, ANCHOR, "details_released", d), 1)
        self.assertEqual(count_notices(zz, ZZ_SME, "details_released", self.rid(d)), 1)
        self.assertEqual(count_notices(zz, ZZ_SME, "demand_awarded", self.rid(d)), 1)
        for city in CITIES:
            self.assertEqual(self.awards(city), before[city] + 1, city)

    def test_e_kill9_of_the_smes_broker_after_accepted_the_anchor_gets_the_contact_once(self):
        """Zhengzhou has applied the acceptance and outboxed its SME's contact, in one
        transaction, and cannot publish it (its NATS user denied gx.4101.>): killed -9 there,
        the contact is neither lost nor sent twice once it restarts."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d = self.post("killed", "drawing HB-K-1")
        self.interest(d, "hi")
        wait_notices(hb, ANCHOR, "interest_received", d)
        wait_for("Zhengzhou's outbox drained", lambda: metric(zz, "gongxu_federation_outbox_depth") == 0, timeout=60)
        self.deny(ZHENGZHOU, ["gx.%d.>" % ZHENGZHOU])
        try:
            self.anchor_call(accept=pb.Accept(demand_id=d, firm_id=ZZ_SME))
            wait_for("the contact outboxed in Zhengzhou, not published",
                     lambda: metric(zz, "gongxu_federation_outbox_depth") >= 1, timeout=60, every=0.2)
            zz.kill()
        finally:
            self.allow()
        zz.start(timeout=60)
        got = wait_notices(hb, ANCHOR, "details_released", d, timeout=90)
        self.assertEqual(got[0].details_released.counterpart_contact, SME_CONTACT)
        wait_for("Zhengzhou's outbox drained", lambda: metric(zz, "gongxu_federation_outbox_depth") == 0, timeout=60)
        time.sleep(2)
        self.assertEqual(count_notices(hb, ANCHOR, "details_released", d), 1, self.diag())
        self.assertEqual(count_notices(zz, ZZ_SME, "details_released", self.rid(d)), 1)

    def test_f_an_interest_in_a_demand_closed_or_narrowed_meanwhile_is_declined(self):
        """Zhengzhou does not hear (its consumer denied) that Hebi withdrew one demand and
        narrowed another to its own city; its SME's interests in both reach Hebi, which declines
        them itself (not counted bad); the SME is told why, and the record is declined in both."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        closed = self.post("withdrawn meanwhile", "drawing HB-W-1")
        narrowed = self.post("narrowed meanwhile", "drawing HB-N-1")
        bad_hb = metric(hb, "gongxu_federation_bad_total")
        self.deny(ZHENGZHOU, ["$JS.API.CONSUMER.MSG.NEXT.%s.city-%d" % (STREAM, ZHENGZHOU)])
        time.sleep(2)  # a pull already waiting (S_FETCH_WAIT_MS, 500 ms: federation.c) expires unanswered
        try:
            self.anchor_call(withdraw=pb.Withdraw(posting_id=closed))
            self.anchor_call(update_demand=pb.UpdateDemand(demand=mg_demand(
                id=narrowed, scope=pb.SAME_CITY, title="narrowed meanwhile", details="drawing HB-N-1")))
            wait_for("Hebi's outbox drained", lambda: metric(hb, "gongxu_federation_outbox_depth") == 0, timeout=60)
            self.interest(closed, "too late")
            self.interest(narrowed, "too late")
            wait_for("Zhengzhou's outbox drained", lambda: metric(zz, "gongxu_federation_outbox_depth") == 0,
                     timeout=60)
        finally:
            self.allow()
        texts = ("the demand closed in its home city before your interest reached it",
                 "the demand is no longer open to your city; your interest did not reach it")
        for d, text in zip((closed, narrowed), texts):
            got = wait_notices(zz, ZZ_SME, "interest_declined", self.rid(d), timeout=90)
            self.assertEqual([n.interest_declined.reason for n in got], [text], self.diag())
        self.assertEqual(metric(hb, "gongxu_federation_bad_total"), bad_hb, self.diag())
        self.assertEqual(count_notices(hb, ANCHOR, "interest_received", closed), 0)
        self.assertEqual(count_notices(hb, ANCHOR, "interest_received", narrowed), 0)
        # declined for good in Zhengzhou: interest again is refused there
        with self.assertRaises(Refused) as e:
            self.interest(narrowed, "again")
        self.assertIn(e.exception.code, (pb.ERR_CONFLICT, pb.ERR_NOT_FOUND))


if __name__ == "__main__":
    unittest.main(verbosity=2)
