#!/usr/bin/env python3
"""The NATS link made robust (issue 17, slice 2): real nats-servers (a JetStream cluster of
three, max_payload 8 KiB) and real gongxud for Hebi 4106, Zhengzhou 4101 and Xinxiang 4107 on
loopback, each stopped by PID. A city starts and serves its own firms while no nats-server
runs and links up when they come; all nats-servers killed under traffic lose and duplicate
nothing; what could never cross (larger than max_payload) is refused when asked while linked,
and a posting record NATS refuses later is replaced by a small withdrawn substitute that
closes the other cities' copy until a revision that fits opens it again; each
city reads only its own inboxes; a store copied back from an older copy gets its later records
across (message ids carry a per-start epoch); a password file others may read is refused;
a burst of postings, published many at a time, reaches a receiver each exactly once and in
the order it was posted; a server that accepts and never answers, listed among the others
while they are down, does not stall the city's own requests; a message lost in a fetch does
not hold the later ones for the consumer's AckWait; a connection libnats closes for good is
set up again by itself, and its PubAcks come on the new connection.
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import unittest
from contextlib import contextmanager

from gxfed import (CITIES, STREAM, BlackHole, NatsCluster, RawNats, city_broker, metric, start_cities, stop_cities,
                   wait_for)
from gxharness import Refused, firm, mg_demand, mg_offer, pb, uscc

HEBI, ZHENGZHOU, XINXIANG = 4106, 4101, 4107
JIAOZUO = 4108  # a NATS user only, for a broker with the wrong password
ANCHOR = uscc("91410611MA47HBAN1")
ZZ_SME = uscc("91410102MA48HGMG3")
XX_SME = uscc("91410702MA49XXMG4")
JZ_SME = uscc("91410802MA4AJWMG5")
CERTS = [("IATF16949", "2030-06-30"), ("ISO9001", "2030-06-30")]
FIRMS = {
    HEBI: [firm(ANCHOR, "Hebi Auto Electronics", "410611", "hebi.etdz", pb.CREDIT_A, lat=35.73, lon=114.35)],
    ZHENGZHOU: [firm(ZZ_SME, "Zhongyuan Magnesium", "410102", "", pb.CREDIT_B, CERTS, 34.75, 113.62)],
    XINXIANG: [firm(XX_SME, "Hongqi Light Alloy", "410702", "", pb.CREDIT_B, CERTS, 35.30, 113.90)],
}
MAX_PAYLOAD = 8192  # the servers' limit: a posting with a longer summary cannot be published


def rid(city, local_id):
    return city << 48 | local_id


def opportunities(client, ids, timeout):
    """Zhengzhou SME's Opportunity notices by demand id (every one, repeats too), gathered until
    each of ids has one or timeout seconds pass."""
    seen = {}
    client.resume(0)
    deadline = time.time() + timeout
    while True:
        for n in client.drain(0.3):
            seen[n.seq] = n
        got = {}
        for _, n in sorted(seen.items()):
            if n.WhichOneof("body") == "opportunity":
                got.setdefault(n.opportunity.demand.id, []).append(n)
        if all(i in got for i in ids) or time.time() > deadline:
            return got


class Link(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # no_advertise: a broker given one server's URL stays on it (test_k)
        cls.cluster = NatsCluster(cities=tuple(CITIES) + (JIAOZUO,), extra_conf={"max_payload": MAX_PAYLOAD},
                                  no_advertise=True).start()
        cls.brokers = {}
        try:
            start_cities(cls.cluster, FIRMS, cls.brokers)
            for city, fid in ((ZHENGZHOU, ZZ_SME), (XINXIANG, XX_SME)):
                c = cls.brokers[city].client(fid)
                c.call(post_offer=pb.PostOffer(offer=mg_offer(service_scope=pb.SAME_PROVINCE)))
                c.close()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_cities(getattr(cls, "brokers", {}), cls.cluster)

    def setUp(self):
        # each test starts from a running cluster with every city linked
        if any(s.proc is None for s in self.cluster.servers):
            for s in self.cluster.servers:
                if s.proc is None:
                    s.start()
            self.cluster.wait_healthy(60)
        for b in self.brokers.values():
            wait_for("city %d linked" % b.city, lambda b=b: metric(b, "gongxu_federation_connected") == 1, 90)

    def post(self, **over):
        return self.anchor_call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, **over))).posting.id

    def drained(self, b, timeout=90):
        wait_for("city %d's outbox drained" % b.city, lambda: metric(b, "gongxu_federation_outbox_depth") == 0,
                 timeout)

    def view_in(self, city, firm_id, posting_id):
        """posting_id as city's broker shows it to firm_id (None: the operator), or None."""
        c = self.brokers[city].client(firm_id) if firm_id else self.brokers[city].client(operator=True)
        try:
            return c.call(get_posting=pb.GetPosting(posting_id=posting_id)).view
        except Exception:  # noqa: BLE001 — not there (yet)
            return None
        finally:
            c.close()

    def fed_log(self, b):
        return "\n".join(l for l in b.read_log_all().splitlines()
                         if "federation" in l and "federation: applied" not in l)[-4000:]

    # (a)
    def test_a_a_city_started_while_no_nats_server_runs_serves_its_firms_and_links_up_later(self):
        hb = self.brokers[HEBI]
        for s in self.cluster.servers:
            s.kill()
        self.assertEqual(hb.stop(), 0)
        hb.start(timeout=20, linked=False)  # slice 1 waited for NATS here and exited after ~30 s
        self.assertEqual(metric(hb, "gongxu_federation_connected"), 0)
        a = hb.client(ANCHOR)
        d = a.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_PROVINCE, title="NATS down"))).posting.id
        view = a.call(get_posting=pb.GetPosting(posting_id=d)).view.demand
        self.assertEqual((view.id, view.title), (d, "NATS down"))
        a.close()
        wait_for("the change in the outbox", lambda: metric(hb, "gongxu_federation_outbox_depth") >= 1)
        log = hb.read_log_all()
        self.assertIn("no nats-server reachable", log)
        self.assertEqual(log.count("no nats-server reachable"), 1, self.fed_log(hb))  # once, not per attempt
        for s in self.cluster.servers:
            s.start()
        self.cluster.wait_healthy(60)
        wait_for("Hebi linked", lambda: metric(hb, "gongxu_federation_connected") == 1, 90)
        sme = self.brokers[ZHENGZHOU].client(ZZ_SME)
        got = opportunities(sme, [rid(HEBI, d)], 90)
        sme.close()
        self.assertEqual(len(got.get(rid(HEBI, d), [])), 1, self.fed_log(hb))
        self.drained(hb)

    # (b)
    def test_b_every_nats_server_killed_under_traffic_loses_and_duplicates_nothing(self):
        """Every nats-server killed while Hebi posts, Hebi restarted during the outage, the
        servers started again: each of Hebi's demands reaches Zhengzhou exactly once."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        ids, stop, errors = [], threading.Event(), []

        def post():
            a = hb.client(ANCHOR)
            try:
                while not stop.is_set():
                    ids.append(a.call(post_demand=pb.PostDemand(demand=mg_demand(
                        scope=pb.SAME_PROVINCE, title="outage %d" % len(ids)))).posting.id)
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 — reported below
                errors.append(e)
            finally:
                a.close()

        t = threading.Thread(target=post)
        t.start()
        try:
            wait_for("traffic", lambda: len(ids) >= 10, 60)
            for s in self.cluster.servers:
                s.kill()
            n = len(ids)
            wait_for("Hebi serving while NATS is down", lambda: len(ids) >= n + 20, 60)
            wait_for("Hebi unlinked", lambda: metric(hb, "gongxu_federation_connected") == 0, 30)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(errors, [])
        # Hebi restarted during the outage, its outbox full: it must start and serve
        self.assertEqual(hb.stop(), 0)
        hb.start(timeout=20, linked=False)
        a = hb.client(ANCHOR)
        for i in range(10):
            ids.append(a.call(post_demand=pb.PostDemand(demand=mg_demand(
                scope=pb.SAME_PROVINCE, title="outage, restarted %d" % i))).posting.id)
        for s in self.cluster.servers:
            s.start()
        self.cluster.wait_healthy(60)
        for i in range(10):
            ids.append(a.call(post_demand=pb.PostDemand(demand=mg_demand(
                scope=pb.SAME_PROVINCE, title="after the outage %d" % i))).posting.id)
        a.close()
        self.drained(hb)
        rids = [rid(HEBI, d) for d in ids]
        sme = zz.client(ZZ_SME)
        got = opportunities(sme, rids, 120)
        sme.close()
        missing = [r & ((1 << 48) - 1) for r in rids if r not in got]
        self.assertEqual(missing, [], self.fed_log(hb))
        time.sleep(1)
        sme = zz.client(ZZ_SME)
        got = opportunities(sme, rids, 3)
        sme.close()
        self.assertEqual({r: len(got[r]) for r in rids if len(got[r]) != 1}, {})

    # (c)
    def test_c_what_could_never_cross_is_refused_when_asked_and_nothing_changes(self):
        """While linked, a demand, an update, an interest or an accept whose record for the
        other cities is larger than the servers' max_payload is refused with TOO_LARGE and
        both sizes; nothing is stored, and the next request goes through as usual."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        before = self.anchor_postings()
        with self.assertRaises(Refused) as e:
            self.post(title="too large to cross", summary="x" * (2 * MAX_PAYLOAD))
        self.assertTooLarge(e.exception)
        self.assertEqual(self.anchor_postings(), before)
        # an update the same: the demand stays as it was (its details do not cross with it)
        details = "d" * (MAX_PAYLOAD + 512)
        d = self.post(title="kept small", details=details)
        a = hb.client(ANCHOR)
        try:
            with self.assertRaises(Refused) as e:
                a.call(update_demand=pb.UpdateDemand(demand=mg_demand(
                    id=d, scope=pb.SAME_PROVINCE, title="kept small", details=details,
                    summary="y" * (2 * MAX_PAYLOAD))))
            self.assertTooLarge(e.exception)
            view = a.call(get_posting=pb.GetPosting(posting_id=d)).view.demand
            self.assertEqual((view.revision, view.summary), (1, mg_demand().summary))
        finally:
            a.close()
        # it crossed at revision 1; an interest whose message makes the docking record too
        # large is refused by the SME's own broker, and the anchor hears nothing of it
        wait_for("the demand in Zhengzhou", lambda: self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d)), 60)
        sme = zz.client(ZZ_SME)
        try:
            with self.assertRaises(Refused) as e:
                sme.call(interest=pb.Interest(demand_id=rid(HEBI, d), message="m" * (MAX_PAYLOAD + 512)))
            self.assertTooLarge(e.exception)
            # nothing pending: a short interest goes through (not "already pending")
            sme.call(interest=pb.Interest(demand_id=rid(HEBI, d), message="a short note"))
        finally:
            sme.close()
        self.assertEqual(self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d)).demand.revision, 1)
        # accepting it would release the demand's details to Zhengzhou, sealed: too large too;
        # the interest stays pending, and a decline (a short reason) goes through
        def accept():
            try:
                return self.anchor_call(accept=pb.Accept(demand_id=d, firm_id=ZZ_SME)) or "accepted"
            except Refused as e:
                return None if e.code == pb.ERR_NOT_FOUND else e  # the interest not there yet
        got = wait_for("the interest in Hebi", accept, 60)
        self.assertIsInstance(got, Refused)
        self.assertTooLarge(got)
        self.anchor_call(decline=pb.Decline(demand_id=d, firm_id=ZZ_SME, reason="not now"))
        self.drained(hb)

    def anchor_call(self, **body):
        return self.brokers[HEBI].call_as(ANCHOR, **body)

    def assertTooLarge(self, refused):
        """refused is TOO_LARGE and names the record's size (over the limit) and the limit."""
        self.assertEqual(refused.code, pb.ERR_TOO_LARGE, refused)
        msg = refused.error.message
        sizes = [int(n) for n in re.findall(r"\d+", msg)]
        self.assertIn(MAX_PAYLOAD, sizes, msg)
        self.assertTrue(any(n > MAX_PAYLOAD - 128 and n != MAX_PAYLOAD for n in sizes), msg)
        self.assertIn("nothing was changed", msg)

    def anchor_postings(self):
        """Every posting of the Hebi anchor, closed ones too: (id, revision, state, summary)."""
        a = self.brokers[HEBI].client(ANCHOR)
        out, cursor = [], ""
        try:
            for _ in range(100):
                page = a.call(list_postings=pb.ListPostings(include_closed=True, limit=1000, cursor=cursor)).postings
                out += [(d.id, d.revision, d.state, d.summary) for d in page.demands]
                cursor = page.next_cursor
                if not cursor:
                    return sorted(out)
        finally:
            a.close()
        raise AssertionError("more than 100 pages of postings")

    # (d)
    def test_d_a_city_reads_only_its_own_inboxes(self):
        raw = RawNats(self.cluster.servers[0].url, "city%d" % XINXIANG, self.cluster.password(XINXIANG))
        try:
            for other in ("_INBOX.>", "_INBOX_%d.>" % HEBI, "_INBOX_%d.x" % ZHENGZHOU, ">"):
                self.assertIn(b"Permissions Violation", raw.subscribe(other, sid=1), other)
            self.assertEqual(raw.subscribe("_INBOX_%d.>" % XINXIANG, sid=2), b"+OK")
        finally:
            raw.close()
        # and Xinxiang itself still works both ways under that permission
        xx = self.brokers[XINXIANG].client(XX_SME)
        o = xx.call(post_offer=pb.PostOffer(offer=mg_offer(service_scope=pb.ANYWHERE, title="own inbox"))).posting.id
        xx.close()
        wait_for("Xinxiang's offer in Hebi", lambda: self.view_in(HEBI, None, rid(XINXIANG, o)), 60)
        d = self.post(title="to Xinxiang")
        wait_for("Hebi's demand in Xinxiang", lambda: self.view_in(XINXIANG, XX_SME, rid(HEBI, d)), 60)
        self.assertIn("connected to", self.brokers[XINXIANG].read_log_all())

    # (e)
    def test_e_a_store_copied_back_gets_its_later_records_across(self):
        """Hebi's store copied while stopped, two more records published (outbox sequences s+1,
        s+2), the copy put back: its next records reuse s+1... within JetStream's 2-minute
        duplicate window. With ids <city>-<seq> the stream dropped them as repeats; with the
        per-start epoch they cross."""
        hb = self.brokers[HEBI]
        d, e = self.post(title="kept D"), self.post(title="kept E")
        for p in (d, e):
            wait_for("%d in Zhengzhou" % p, lambda p=p: self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, p)), 60)
        self.drained(hb)
        self.assertEqual(hb.stop(), 0)
        copy = hb.data_dir + ".copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(hb.data_dir, copy)
        hb.start(timeout=30)
        a = hb.client(ANCHOR)
        for q in (6000, 7000):  # two records after the copy
            a.call(update_demand=pb.UpdateDemand(demand=mg_demand(id=d, scope=pb.SAME_PROVINCE, title="kept D",
                                                                  quantity=q)))
        a.close()
        wait_for("D revision 3 in Zhengzhou",
                 lambda: (lambda v: v and v.demand.revision == 3)(self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d))), 60)
        self.drained(hb)
        self.assertEqual(hb.stop(), 0)
        shutil.rmtree(hb.data_dir)
        shutil.copytree(copy, hb.data_dir)  # the copy put back
        hb.start(timeout=30)
        a = hb.client(ANCHOR)
        a.call(update_demand=pb.UpdateDemand(demand=mg_demand(id=e, scope=pb.SAME_PROVINCE, title="kept E",
                                                              quantity=8000)))
        a.close()
        wait_for("E's update in Zhengzhou",
                 lambda: (lambda v: v and v.demand.quantity == 8000)(self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, e))),
                 60)
        self.drained(hb)
        shutil.rmtree(copy, ignore_errors=True)


    # a wrong password: said plainly, retried, and linked once the servers accept it
    def test_g_a_wrong_password_is_logged_as_such_and_retried_until_the_servers_accept_it(self):
        path = os.path.join(self.cluster.tmp, "city%d.password" % JIAOZUO)
        with open(path, "w") as f:
            f.write("not-the-password\n")
        os.chmod(path, 0o600)
        jz = city_broker(self.cluster, JIAOZUO)
        try:
            jz.start(timeout=20, linked=False)
            wait_for("the refusal logged", lambda: "authorization violation" in jz.read_log_all(), 30)
            time.sleep(3)  # several more attempts
            log = jz.read_log_all()
            self.assertEqual(log.count("authorization violation"), 1, log[-3000:])  # once, not per attempt
            self.assertIn("NATS refused user city%d" % JIAOZUO, log)
            self.assertNotIn("not-the-password", log)
            self.assertEqual(metric(jz, "gongxu_federation_connected"), 0)
            self.assertIsNone(jz.proc.poll())
            # the operator makes the servers take that password: the broker links up by itself
            self.cluster.passwords[JIAOZUO] = "not-the-password"
            self.cluster.reload()
            wait_for("Jiaozuo linked", lambda: metric(jz, "gongxu_federation_connected") == 1, 60)
        finally:
            jz.cleanup()


    # (i) a server that accepts and never answers, among the others, while the others are down
    def test_i_a_silent_server_in_the_list_does_not_stall_the_citys_own_requests(self):
        """libnats holds its connection lock through each reconnect attempt (2 s against a
        server that never sends INFO): the city's own requests must not wait for it."""
        holes = [BlackHole() for _ in range(3)]
        jz = city_broker(self.cluster, JIAOZUO, extra=[
            "-o", "federation_url=%s,%s" % (",".join(h.url for h in holes), self.cluster.urls)])
        try:
            jz.start(timeout=60)
            op = jz.client(operator=True)
            op.call(register_firm=pb.RegisterFirm(
                firm=firm(JZ_SME, "Jiaozuo Wheel Hub", "410802", "", pb.CREDIT_B, CERTS, 35.22, 113.24)))
            op.close()
            for s in self.cluster.servers:
                s.kill()
            wait_for("Jiaozuo sees the link down", lambda: metric(jz, "gongxu_federation_connected") == 0, 30)
            c = jz.client(JZ_SME)
            posted = []
            for i in range(8):  # a few reconnect cycles through the silent server
                # each answers within the harness's normal reply timeout (5 s)
                self.assertTrue(c.call(ping=pb.Ping()).HasField("pong"))
                posted.append(c.call(post_offer=pb.PostOffer(offer=mg_offer(title="partition %d" % i))).posting.id)
                self.assertEqual(metric(jz, "gongxu_federation_connected"), 0)
                time.sleep(0.5)
            c.close()
            self.assertIsNone(jz.proc.poll())
            for s in self.cluster.servers:
                s.start()
            self.cluster.wait_healthy(60)
            wait_for("Jiaozuo linked again", lambda: metric(jz, "gongxu_federation_connected") == 1, 90)
            self.drained(jz)
        finally:
            jz.stop()
            jz.cleanup()
            for h in holes:
                h.close()

    # (j) a message JetStream counts delivered that never reached the broker
    def test_j_a_message_lost_in_a_fetch_does_not_hold_the_later_ones_for_the_ack_wait(self):
        """A message delivered into a fetch its client had given up on is, for JetStream,
        delivered: sent again only after the consumer's AckWait (30 s), while the later ones
        wait behind the gap. Zhengzhou's broker is paused (its pending fetch expires), a bare
        connection as Zhengzhou takes the next message from its consumer and never acks it;
        once the broker runs again, that message and the next cross well before AckWait."""
        zz = self.brokers[ZHENGZHOU]
        inbox = "_INBOX_%d.lost" % ZHENGZHOU
        raw = RawNats(self.cluster.servers[0].url, "city%d" % ZHENGZHOU, self.cluster.password(ZHENGZHOU))
        zz.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(1.5)  # the paused broker's fetch (500 ms) expires at the server
            self.assertEqual(raw.subscribe(inbox), b"+OK")
            raw.pull(STREAM, "city-%d" % ZHENGZHOU, inbox)
            lost = self.post(title="delivered into a lost fetch")
            self.assertEqual(raw.next_msg(30), "gx.%d.post" % HEBI)
            after = self.post(title="after the lost one")
        finally:
            zz.proc.send_signal(signal.SIGCONT)
            raw.close()
        # both cross long before AckWait (30 s) would send the lost one again (the later one
        # waits behind it: applied in stream order)
        for d in (lost, after):
            wait_for("demand %d in Zhengzhou before AckWait" % d,
                     lambda d=d: self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d)), 20)
        self.assertIn("making the consumer city-%d again" % ZHENGZHOU, zz.read_log_all())
        # the lost one the last posted: no later message shows the gap, the consumer's own
        # count of what it delivered does
        raw = RawNats(self.cluster.servers[0].url, "city%d" % ZHENGZHOU, self.cluster.password(ZHENGZHOU))
        zz.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(1.5)
            self.assertEqual(raw.subscribe(inbox), b"+OK")
            raw.pull(STREAM, "city-%d" % ZHENGZHOU, inbox)
            last = self.post(title="the last, delivered into a lost fetch")
            self.assertEqual(raw.next_msg(30), "gx.%d.post" % HEBI)
        finally:
            zz.proc.send_signal(signal.SIGCONT)
            raw.close()
        wait_for("demand %d in Zhengzhou before AckWait" % last,
                 lambda: self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, last)), 20)

    @contextmanager
    def hebi_on_a_follower(self):
        """Hebi restarted with one URL, a server that leads neither the stream nor Hebi's
        consumer (the servers do not advertise each other: it connects and reconnects there
        only), so that its PubAcks and fetched messages cross a route. Yields (follower,
        connections: the URLs Hebi connected to since this start); Hebi is restarted as
        before at the end."""
        hb = self.brokers[HEBI]
        leader = wait_for("the stream's leader", self.cluster.stream_leader, 30)
        follower = next(s for s in self.cluster.servers if s.name != leader)
        was = list(hb.extra_args)
        hb.stop()
        hb.extra_args += ["-o", "federation_url=" + follower.url]
        at = len(hb.read_log_all())  # what this start logs, not an earlier one

        def connections():
            return re.findall(r"city %d (?:re)?connected to (\S+)" % HEBI, hb.read_log_all()[at:])

        def consumer_leader():
            return self.cluster.stream_leader(consumer="city-%d" % HEBI)

        # each start makes the consumer afresh, its leader chosen by the cluster: start again
        # until the follower does not lead it
        for _ in range(8):
            hb.start(timeout=30)
            if wait_for("Hebi's consumer's leader", consumer_leader, 30) != follower.name:
                break
            hb.stop()
        try:
            self.assertNotEqual(consumer_leader(), follower.name, "the follower kept leading Hebi's consumer")
            self.assertEqual(set(connections()), {follower.url})
            yield follower, connections
            # what crossed, crossed a route: every connection was to the follower, the stream
            # led elsewhere
            self.assertEqual(set(connections()), {follower.url})
            self.assertNotEqual(self.cluster.stream_leader(), follower.name)
        finally:
            hb.stop()
            hb.extra_args = was
            hb.start(timeout=30)

    # (k) a connection libnats closes for good is made again, and its PubAcks come
    def test_k_a_connection_closed_for_good_is_set_up_again_and_what_was_posted_crosses_once(self):
        """The servers reloaded with another password for Hebi: libnats, refused the same way
        twice on reconnecting, closes the connection for good. The broker sets the link up
        again by itself (reading its password file again) once the servers take its
        password back; what it posted meanwhile crosses exactly once, and JetStream's
        PubAcks reach it on the new connection, so its outbox drains. Hebi is pointed at a
        server that does not lead the stream, where the PubAcks cross a route: there,
        nats-server 2.9.10 did not carry to the other servers a new subscription on the same
        subject as one the reload had closed, and the outbox stayed held. Twice over."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        with self.hebi_on_a_follower() as (follower, connections):
            for attempt in range(2):
                closed = hb.read_log_all().count("closed the connection for good")
                self.cluster.passwords[HEBI] = "not-hebis-password-%d" % attempt
                self.cluster.reload()
                try:
                    wait_for("Hebi's connection closed for good",
                             lambda: hb.read_log_all().count("closed the connection for good") > closed, 60)
                    wait_for("Hebi unlinked", lambda: metric(hb, "gongxu_federation_connected") == 0, 30)
                    d = self.post(title="posted while refused %d" % attempt)
                finally:
                    del self.cluster.passwords[HEBI]
                    self.cluster.reload()
                wait_for("Hebi linked again", lambda: metric(hb, "gongxu_federation_connected") == 1, 90)
                # read on from the last acknowledged notice, acknowledging as it goes: the SME
                # may hold more Opportunities (test_h's) than its delivery window lets through
                sme = zz.client(ZZ_SME)
                sme.resume(from_last_ack=True)
                mine, deadline = [], time.time() + 90
                while time.time() < deadline and not mine:
                    got = sme.drain(0.3)
                    mine += [n for n in got if n.WhichOneof("body") == "opportunity"
                             and n.opportunity.demand.id == rid(HEBI, d)]
                    if got:
                        sme.ack(got[-1].seq)
                later = sme.drain(2.0)  # a repeat would come with what follows
                mine += [n for n in later if n.WhichOneof("body") == "opportunity"
                         and n.opportunity.demand.id == rid(HEBI, d)]
                sme.close()
                self.assertEqual(len(mine), 1, self.fed_log(hb))
                try:
                    self.drained(hb, 60)
                except AssertionError as e:
                    raise AssertionError("%s (the stream led by %s)\n%s" % (e, self.cluster.stream_leader(),
                                                                           self.fed_log(hb)))
                # the PubAcks crossed a route: the new connection was to the follower, the
                # stream led elsewhere
                self.assertEqual(set(connections()), {follower.url})
                self.assertNotEqual(self.cluster.stream_leader(), follower.name)

    # (m) libnats reconnects by itself after a reload: the link is set up again anyway
    def test_m_after_libnats_reconnects_by_itself_both_ways_still_cross(self):
        """The server Hebi is on reloads with another password for it, and 150 ms later with
        its own again: the reload closes Hebi's connection, and libnats, reconnecting after
        its 250 ms wait, is let in again on the same server with the same subscriptions.
        nats-server 2.9.10 did not carry those to the rest of the cluster: Hebi's fetches and
        JetStream API calls got no answer, for ever and with nothing logged. The broker sets
        the link up again on a new connection whenever libnats reconnects: what Zhengzhou
        posts then reaches Hebi, and what Hebi posts reaches Zhengzhou. Three times."""
        hb = self.brokers[HEBI]
        with self.hebi_on_a_follower() as (follower, connections):
            for attempt in range(3):
                refused = self.cluster.read_log(follower, None).count('authentication error - User "city%d"' % HEBI)
                remade = hb.read_log_all().count("libnats reconnected to")
                closed = hb.read_log_all().count("closed the connection for good")
                self.cluster.passwords[HEBI] = "not-hebis-password-m%d" % attempt
                try:
                    self.cluster.reload(servers=[follower])
                    time.sleep(0.15)
                finally:
                    del self.cluster.passwords[HEBI]
                    self.cluster.reload(servers=[follower])
                wait_for("the reload closed Hebi's connection", lambda: self.cluster.read_log(follower, None).count(
                    'authentication error - User "city%d"' % HEBI) > refused, 30)
                o = self.zz_offer(title="after reconnect %d" % attempt)
                d = self.post(title="after reconnect %d" % attempt)
                wait_for("Zhengzhou's offer %d applied in Hebi" % o,
                         lambda: "city %d offer %d revision 1" % (ZHENGZHOU, rid(ZHENGZHOU, o)) in hb.read_log_all(),
                         30)
                wait_for("Hebi's demand %d in Zhengzhou" % d,
                         lambda: self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d)), 30)
                self.drained(hb, 30)
                # libnats got in again by itself (the case this test is for, not a close for
                # good), and the broker set the link up again on a new connection
                self.assertEqual(hb.read_log_all().count("closed the connection for good"), closed)
                self.assertGreater(hb.read_log_all().count("libnats reconnected to"), remade)

    # (l)
    def test_l_a_posting_refused_later_closes_the_other_cities_copy_until_a_revision_fits(self):
        """Demands that crossed are updated while Hebi is not linked (nothing can be refused
        when asked then) with a summary too large to cross. Once linked, NATS refuses those
        records for good; Hebi publishes in their place a small withdrawn substitute at the
        same revision, so Zhengzhou closes its copy and tells its SME as for a withdrawal. A
        withdrawal is never refused for size, even of a posting whose record is too large. A
        later revision that fits opens the copy again."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        d, w = self.post(title="to grow while unlinked"), self.post(title="to withdraw, large")
        for p in (d, w):
            wait_for("%d open in Zhengzhou" % p, lambda p=p: self.zz_state(p) == (1, pb.OPEN), 60)
        rejected = metric(hb, "gongxu_federation_rejected_total")
        substituted = metric(hb, "gongxu_federation_substituted_total")
        closed = hb.read_log_all().count("closed the connection for good")
        self.cluster.passwords[HEBI] = "not-hebis-password-l"
        self.cluster.reload()
        big = "z" * (MAX_PAYLOAD + 1024)
        try:
            wait_for("Hebi's connection closed for good",
                     lambda: hb.read_log_all().count("closed the connection for good") > closed, 60)
            self.assertEqual(metric(hb, "gongxu_federation_connected"), 0)
            a = hb.client(ANCHOR)
            try:
                for p in (d, w):
                    a.call(update_demand=pb.UpdateDemand(demand=mg_demand(
                        id=p, scope=pb.SAME_PROVINCE, title="grown", summary=big)))
            finally:
                a.close()
        finally:
            del self.cluster.passwords[HEBI]
            self.cluster.reload()
        wait_for("Hebi linked again", lambda: metric(hb, "gongxu_federation_connected") == 1, 90)
        wait_for("the two records refused",
                 lambda: metric(hb, "gongxu_federation_rejected_total") >= rejected + 2, 90)
        self.drained(hb)
        # Zhengzhou's copies are closed, at the revision Hebi holds, and its SME was told
        for p in (d, w):
            try:
                wait_for("%d withdrawn in Zhengzhou" % p, lambda p=p: self.zz_state(p) == (2, pb.WITHDRAWN), 60)
            except AssertionError as e:
                raise AssertionError("%s: %s\nHebi:\n%s\nZhengzhou:\n%s" % (e, self.zz_state(p), self.fed_log(hb),
                                                                      self.fed_log(zz)))
        self.assertTrue(self.sme_told("demand_withdrawn", rid(HEBI, d)), self.fed_log(hb))
        self.assertEqual(metric(hb, "gongxu_federation_substituted_total"), substituted + 2, self.fed_log(hb))
        self.assertIn("replaced refused outbox record", hb.read_log_all())
        # at home they are open, as updated
        self.assertEqual(self.view_in(HEBI, ANCHOR, d).demand.summary, big)
        # a withdrawal is never refused for size, though its record is as large
        a = hb.client(ANCHOR)
        try:
            a.call(withdraw=pb.Withdraw(posting_id=w))
            # a later revision that fits opens Zhengzhou's copy again
            a.call(update_demand=pb.UpdateDemand(demand=mg_demand(
                id=d, scope=pb.SAME_PROVINCE, title="small again", summary="fits")))
        finally:
            a.close()
        wait_for("%d open again in Zhengzhou" % d, lambda: self.zz_state(d) == (3, pb.OPEN), 60)
        view = self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, d)).demand
        self.assertEqual((view.title, view.summary), ("small again", "fits"))
        self.drained(hb)
        self.assertEqual(self.view_in(HEBI, ANCHOR, w).demand.state, pb.WITHDRAWN)
        self.assertEqual(self.zz_state(w)[1], pb.WITHDRAWN)

    def zz_offer(self, **over):
        """An offer Zhengzhou's SME posts, reaching the province; its local id."""
        return self.brokers[ZHENGZHOU].call_as(
            ZZ_SME, post_offer=pb.PostOffer(offer=mg_offer(service_scope=pb.SAME_PROVINCE, **over))).posting.id

    def zz_state(self, local_id):
        """(revision, state) of Hebi's demand local_id as Zhengzhou shows it, or None."""
        v = self.view_in(ZHENGZHOU, ZZ_SME, rid(HEBI, local_id))
        return (v.demand.revision, v.demand.state) if v else None

    def sme_told(self, kind, demand_id, timeout=90):
        """Whether Zhengzhou's SME gets a `kind` notice about demand_id, read on from its last
        acknowledged notice (acknowledging as it goes: test_h leaves more than a window)."""
        sme = self.brokers[ZHENGZHOU].client(ZZ_SME)
        try:
            sme.resume(from_last_ack=True)
            deadline = time.time() + timeout
            while time.time() < deadline:
                got = sme.drain(0.3)
                if any(n.WhichOneof("body") == kind and getattr(n, kind).demand.id == demand_id for n in got):
                    return True
                if got:
                    sme.ack(got[-1].seq)
            return False
        finally:
            sme.close()

    # (h)
    def test_h_a_burst_crosses_each_posting_exactly_once_and_in_posting_order(self):
        """2,000 demands posted fast in Hebi (four clients at once, the rate limit raised), so
        the publisher has many records in flight: Zhengzhou applies each exactly once, and in
        the order Hebi committed them (stream sequence rising with the posting id)."""
        hb, zz = self.brokers[HEBI], self.brokers[ZHENGZHOU]
        hb.stop()
        hb.extra_args += ["-o", "rate_per_firm=1000000", "-o", "rate_burst=1000000"]
        hb.start(timeout=30)
        ids, errors, lock = [], [], threading.Lock()

        def post(k):
            a = hb.client(ANCHOR)
            try:
                for i in range(500):
                    d = a.call(post_demand=pb.PostDemand(demand=mg_demand(
                        scope=pb.SAME_PROVINCE, title="burst %d.%d" % (k, i)))).posting.id
                    with lock:
                        ids.append(d)
            except Exception as e:  # noqa: BLE001 — reported below
                errors.append(e)
            finally:
                a.close()

        threads = [threading.Thread(target=post, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual(errors, [])
        self.assertEqual(len(ids), 2000)
        self.drained(hb, 180)
        want = set(ids)
        line = re.compile(r"federation: applied \S+ seq (\d+): city %d demand (\d+) revision \d+ \S+"
                          r"( \(already had it\))?" % HEBI)

        def applied():
            out = []
            for l in zz.read_log_all().splitlines():
                m = line.search(l)
                if m and int(m.group(2)) & ((1 << 48) - 1) in want:
                    out.append((int(m.group(1)), int(m.group(2)) & ((1 << 48) - 1), bool(m.group(3))))
            return out

        wait_for("Zhengzhou applied the burst", lambda: {d for _, d, _ in applied()} >= want, 180)
        got = applied()
        first = [(seq, d) for seq, d, dup in got if not dup]
        counts = {}
        for _, d in first:
            counts[d] = counts.get(d, 0) + 1
        self.assertEqual({d: n for d, n in counts.items() if n != 1}, {})  # applied once each
        self.assertEqual(len(first), 2000)
        by_seq = [d for _, d in sorted(first)]
        out_of_order = [(a, b) for a, b in zip(by_seq, by_seq[1:]) if b < a]
        self.assertEqual(out_of_order[:10], [], self.fed_log(hb))
        # no repeat reached the stream either (the publisher resent nothing JetStream had)
        self.assertEqual([d for _, d, dup in got if dup], [])


class PasswordFile(unittest.TestCase):
    """The password file is refused when others may read it; no URL's password is printed."""

    def check(self, *sets):
        args = [os.path.join(os.environ.get("GX_BIN", "build"), "gongxud"), "--check-config"]
        for kv in sets:
            args += ["-o", kv]
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr

    # (f)
    def test_f_a_group_readable_password_file_is_refused_with_how_to_fix(self):
        base = os.environ.get("GX_TEST_TMP", "/tmp")
        os.makedirs(base, exist_ok=True)
        path = os.path.join(base, "gxlink-%d.password" % os.getpid())
        with open(path, "w") as f:
            f.write("secret-pw\n")
        try:
            keys = ("federation_url=nats://127.0.0.1:4222", "federation_city=4106", "federation_user=city4106",
                    "federation_password_file=" + path)
            os.chmod(path, 0o640)
            rc, out = self.check(*keys)
            self.assertEqual(rc, 78, out)
            self.assertIn("chmod 600 " + path, out)
            self.assertIn("0640", out)
            os.chmod(path, 0o604)
            rc, out = self.check(*keys)
            self.assertEqual(rc, 78, out)
            # and at start, before serving anything
            import gxharness
            b = gxharness.Broker(extra_args=[a for k in keys for a in ("-o", k)])
            try:
                with self.assertRaises(RuntimeError) as e:
                    b.start(timeout=30)
                self.assertIn("exited with 78", str(e.exception))
                self.assertIn("chmod 600", str(e.exception))
            finally:
                b.cleanup()
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
            rc, out = self.check(*keys)
            self.assertEqual(rc, 0, out)
            # a password in a URL is never printed
            rc, out = self.check("federation_url=nats://city4106:hunter2@127.0.0.1:4222,nats://127.0.0.1:4223",
                                 "federation_city=4106")
            self.assertEqual(rc, 0, out)
            self.assertIn("nats://city4106:***@127.0.0.1:4222,nats://127.0.0.1:4223", out)
            self.assertNotIn("hunter2", out)
            rc, out = self.check("federation_url=nats://s3cret-token@127.0.0.1:4222", "federation_city=4106")
            self.assertEqual(rc, 0, out)
            self.assertIn("servers nats://***@127.0.0.1:4222", out)
            self.assertNotIn("s3cret", out)
        finally:
            os.unlink(path)

    def test_g_every_url_needs_a_scheme_and_no_form_of_password_is_printed(self):
        # a later URL without nats:// (libnats would take user:pw@host:port) is refused too,
        # its password not printed
        rc, out = self.check("federation_url=nats://127.0.0.1:4222,city4106:hunter2@127.0.0.1:4223",
                             "federation_city=4106")
        self.assertEqual(rc, 78, out)
        self.assertIn("is not a list of nats:// URLs", out)
        self.assertIn("city4106:***@127.0.0.1:4223", out)
        self.assertNotIn("hunter2", out)
        rc, out = self.check("federation_url=nats://127.0.0.1:4222, http://127.0.0.1:4223", "federation_city=4106")
        self.assertEqual(rc, 78, out)
        # a password holding / or @ is hidden whole
        rc, out = self.check("federation_url=nats://city4106:hun/ter@2@127.0.0.1:4222", "federation_city=4106")
        self.assertEqual(rc, 0, out)
        self.assertIn("nats://city4106:***@127.0.0.1:4222", out)
        self.assertNotIn("hun/", out)
        self.assertNotIn("ter@2", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
