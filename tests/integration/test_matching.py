"""Two-sided continuous matching against a real gongxud: shortlists with
explanations, near misses naming the missing rule, updates, withdrawals,
subscriptions, the monitor stream; which rules apply to a tech transfer, IPC
codes of every level, distances printed to the digit that decides, and what
a district is."""
import json
import math
import os
import time
import unittest
import urllib.request

import zmq

from gxharness import (ANCHOR, SME_CERT, SME_FAR, SME_PLAIN, Broker, Client, Refused, body_of, firm, main,
                       mg_demand, mg_offer, pb, seed_walkthrough_firms, uscc)

SME_NORTH = uscc("91410611MA49QBNT7")  # die caster 10.04 km north of the anchor
SME_PARK = uscc("91410611MA48QBPK6")  # die caster in a Qibin park that is not one of the two zones
ANCHOR_QX = uscc("91410622MA47QXAN4")  # anchor in Qi County, no zone
SME_QX = uscc("91410622MA47QXMG5")  # die caster in the Qi County industrial cluster
KM_PER_DEGREE = math.pi * 6371.0088 / 180  # of latitude, on the broker's sphere


def tech_demand(**over):
    d = mg_demand(kind=pb.TECH_TRANSFER, processes=[], materials=[], certifications=[], quantity=1,
                  unit="licence", ipc=["H01L"], min_trl=5, modes=[pb.LICENCE],
                  title="Wafer cleaning know-how", summary="a licence for wafer cleaning")
    for k, v in over.items():
        setattr(d, k, v) if not isinstance(v, list) else (d.ClearField(k), getattr(d, k).extend(v))
    return d


def tech_offer(**over):
    o = mg_offer(kinds=[pb.TECH_TRANSFER], processes=[], materials=[], monthly_capacity=0, min_order=0,
                 lead_time_days=30, ipc=["H01L 21/02"], trl=7, modes=[pb.LICENCE],
                 title="Wafer cleaning process, licensed")
    for k, v in over.items():
        setattr(o, k, v) if not isinstance(v, list) else (o.ClearField(k), getattr(o, k).extend(v))
    return o


def rules_of(expl):
    return {pb.Rule.Name(r.rule): r for r in expl.rules}


class Matching(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        self.op = self.broker.client(operator=True)
        seed_walkthrough_firms(self.op)
        self.anchor = self.broker.client(ANCHOR)
        self.cert = self.broker.client(SME_CERT)
        self.plain = self.broker.client(SME_PLAIN)
        for c in (self.anchor, self.cert, self.plain):
            c.resume(from_last_ack=True)

    def tearDown(self):
        for c in (self.op, self.anchor, self.cert, self.plain):
            c.close()
        self.broker.stop()
        self.broker.cleanup()

    def test_demand_after_offers_shortlists_only_the_certified_supplier(self):
        o1 = self.cert.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        o2 = self.plain.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        ref = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting
        self.assertEqual(ref.candidates, 1)
        sl = self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=ref.id)).shortlist
        self.assertEqual([c.offer_id for c in sl.candidates], [o1])
        expl = sl.candidates[0].explanation
        rules = {pb.Rule.Name(r.rule): r for r in expl.rules}
        self.assertTrue(all(r.pass_ if hasattr(r, "pass_") else getattr(r, "pass") for r in expl.rules))
        self.assertIn("IATF16949", rules["RULE_CERTIFICATION"].detail)
        self.assertGreater(expl.score, 0)
        # the anchor was told of the candidate, with the explanation
        added = [n for n in self.anchor.drain() if body_of(n) == "candidate_added"]
        self.assertEqual([n.candidate_added.candidate.offer_id for n in added], [o1])
        self.assertEqual(added[0].candidate_added.candidate.firm_id, SME_CERT)
        # the certified SME gets the opportunity, the other a near miss naming IATF 16949
        opp = [n for n in self.cert.drain() if body_of(n) == "opportunity"]
        self.assertEqual(len(opp), 1)
        self.assertEqual(opp[0].opportunity.demand.id, ref.id)
        self.assertEqual(opp[0].opportunity.demand.summary, "AZ91D housings for an engine control unit")
        self.assertEqual(opp[0].opportunity.rank, 1)
        near = [n for n in self.plain.drain() if body_of(n) == "near_miss"]
        self.assertEqual(len(near), 1)
        self.assertEqual(near[0].near_miss.rule, pb.RULE_CERTIFICATION)
        self.assertIn("IATF16949", near[0].near_miss.hint)
        self.assertEqual(near[0].near_miss.offer_id, o2)
        # confidential details never travel in a summary
        self.assertEqual(near[0].near_miss.demand.summary, "AZ91D housings for an engine control unit")
        self.assertNotIn("MG-42", str(near[0]))

    def test_one_offer_nearly_fitting_many_demands_tells_the_five_best(self):
        """near_miss_tell_max (5): every near miss is recorded and counted, the SME hears of the
        best-scored five that its offer created, each once."""
        demands = []
        for i in range(8):  # quantities from large to small: the capacity term ranks them
            demands.append(self.anchor.call(post_demand=pb.PostDemand(
                demand=mg_demand(quantity=5000 - 500 * i))).posting.id)
        self.plain.drain()
        self.plain.call(post_offer=pb.PostOffer(offer=mg_offer()))  # lacks IATF 16949: near to all eight
        near = [n.near_miss for n in self.plain.drain() if body_of(n) == "near_miss"]
        self.assertEqual(len(near), 5)
        self.assertTrue(all(n.rule == pb.RULE_CERTIFICATION for n in near))
        self.assertEqual(len({n.demand.id for n in near}), 5)
        stats = self.op.call(get_stats=pb.GetStats()).stats
        self.assertEqual(stats.near_misses, 8)  # all recorded for the operator

    def test_offer_after_demand_matches_too_and_update_removes_it(self):
        d = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        self.assertEqual(self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist.eligible, 0)
        o = self.cert.call(post_offer=pb.PostOffer(offer=mg_offer())).posting
        self.assertEqual(o.candidates, 1)  # the offer matched one open demand
        added = [n for n in self.anchor.drain() if body_of(n) == "candidate_added"]
        self.assertEqual(len(added), 1)
        # the SME changes its lead time beyond the needed-by date: out of the shortlist
        upd = mg_offer(lead_time_days=400)
        upd.id = o.id
        self.cert.call(update_offer=pb.UpdateOffer(offer=upd))
        removed = [n for n in self.anchor.drain() if body_of(n) == "candidate_removed"]
        self.assertEqual(len(removed), 1)
        self.assertEqual(removed[0].candidate_removed.reason, pb.OFFER_UPDATED)
        self.assertEqual(self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist.eligible, 0)

    def test_withdrawn_demand_is_told_to_those_told_before(self):
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
        d = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        self.cert.drain()
        self.plain.drain()
        self.anchor.call(withdraw=pb.Withdraw(posting_id=d))
        for c in (self.cert, self.plain):  # the matched SME and the near-missed one were both told
            got = [n for n in c.drain() if body_of(n) == "demand_withdrawn"]
            self.assertEqual(len(got), 1)
            self.assertEqual(got[0].demand_withdrawn.demand.state, pb.WITHDRAWN)
        with self.assertRaises(Exception):
            self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d))

    def test_splittable_demand_gets_a_proposed_set(self):
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_FAR, "Xinxiang Mg Casting", "410702", "", pb.CREDIT_A, [("IATF16949", "2028-06-30")],
            35.30, 113.90)))
        far = self.broker.client(SME_FAR)
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=1000)))
        far.call(post_offer=pb.PostOffer(offer=mg_offer(monthly_capacity=1000)))
        dem = mg_demand(splittable=True, scope=pb.SAME_PROVINCE, quantity=7000)
        d = self.anchor.call(post_demand=pb.PostDemand(demand=dem)).posting.id
        sl = self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
        self.assertEqual(sl.eligible, 2)
        self.assertEqual(len(sl.proposed_set), 2)
        self.assertGreaterEqual(sl.proposed_coverage, 1.0)
        # the local (Qibin) supplier ranks above the Xinxiang one: distance is weighted
        self.assertEqual(sl.candidates[0].firm_id, SME_CERT)
        far.close()

    def test_subscription_sees_new_and_existing_demands(self):
        d1 = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        sub = pb.Subscription(kinds=[pb.PARTS_SUPPLY], industry_prefixes=["C36"], districts=["hebi.etdz"])
        ref = self.plain.call(subscribe=pb.Subscribe(subscription=sub)).posting
        self.assertEqual(ref.candidates, 1)
        d2 = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand(title="second"))).posting.id
        got = [n.opportunity.demand.id for n in self.plain.drain()
               if body_of(n) == "opportunity" and n.opportunity.subscription_id == ref.id]
        self.assertEqual(sorted(got), sorted([d1, d2]))

    def test_tech_transfer_offer_without_capacity_is_shortlisted(self):
        """A licence has no monthly capacity and no minimum order: a tech-transfer offer
        giving neither matches a technology demand that is not splittable."""
        o = self.cert.call(post_offer=pb.PostOffer(offer=tech_offer())).posting.id
        d = self.anchor.call(post_demand=pb.PostDemand(demand=tech_demand())).posting
        self.assertEqual(d.candidates, 1)
        sl = self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d.id)).shortlist
        self.assertEqual([c.offer_id for c in sl.candidates], [o])
        rules = rules_of(sl.candidates[0].explanation)
        for name in ("RULE_CAPACITY", "RULE_MIN_ORDER"):
            self.assertTrue(getattr(rules[name], "pass"))
            self.assertIn("not applicable to tech_transfer", rules[name].detail)
        self.assertFalse([n for n in self.cert.drain() if body_of(n) == "near_miss"])

    def test_ipc_codes_of_every_level_are_accepted_and_covered_along_the_hierarchy(self):
        """A demand may ask for a class and a main group; the offer's subgroup below both
        covers them. A subgroup is not covered by another subgroup."""
        d = self.anchor.call(post_demand=pb.PostDemand(demand=tech_demand(ipc=["h01", "H01L 21"]))).posting.id
        view = self.anchor.call(get_posting=pb.GetPosting(posting_id=d)).view
        self.assertEqual(list(view.demand.ipc), ["H01", "H01L 21/00"])
        o = self.cert.call(post_offer=pb.PostOffer(offer=tech_offer(ipc=["H01L 21/02"]))).posting.id
        sl = self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
        self.assertEqual([c.offer_id for c in sl.candidates], [o])
        self.assertIn("IPC H01, H01L 21/00 covered", rules_of(sl.candidates[0].explanation)["RULE_TECHNOLOGY"].detail)
        d2 = self.anchor.call(post_demand=pb.PostDemand(demand=tech_demand(ipc=["H01L 21/027"]))).posting.id
        self.assertEqual(self.anchor.call(get_shortlist=pb.GetShortlist(demand_id=d2)).shortlist.eligible, 0)
        with self.assertRaises(Refused) as refused:
            self.anchor.call(post_demand=pb.PostDemand(demand=tech_demand(ipc=["H01L 21/2"])))
        self.assertEqual(refused.exception.code, pb.ERR_INVALID_FIELD)
        self.assertIn("main group (H01L 21/00)", refused.exception.error.message)

    def test_a_distance_just_over_the_limit_reads_over_it(self):
        """10.04 km against a 10 km limit is told as 10.04 km, not 10.0 km."""
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_NORTH, "Qibin North Die Casting", "410611", "", pb.CREDIT_B, [("IATF16949", "2028-06-30")],
            35.73 + 10.04 / KM_PER_DEGREE, 114.35)))
        north = self.broker.client(SME_NORTH)
        north.resume(from_last_ack=True)
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand(max_distance_km=10)))
        north.drain()
        north.call(post_offer=pb.PostOffer(offer=mg_offer()))
        near = [n.near_miss for n in north.drain() if body_of(n) == "near_miss"]
        self.assertEqual(len(near), 1)
        self.assertEqual(near[0].rule, pb.RULE_DISTANCE)
        self.assertEqual(near[0].hint, "10.04 km exceeds the demand's 10 km limit")
        self.assertIn("10.04 km; limit 10 km", rules_of(near[0].explanation)["RULE_DISTANCE"].detail)
        north.close()

    def monitor(self, keypair):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.LINGER, 0)
        sub.curve_serverkey = self.broker.server_key.encode()
        sub.curve_publickey, sub.curve_secretkey = keypair
        sub.connect(self.broker.monitor)
        return sub

    def test_monitor_stream_is_for_operators_only(self):
        firm_sub = self.monitor(self.broker.keys[ANCHOR])  # a registered firm key: refused by ZAP
        op_sub = self.monitor(self.broker.operator_keypair())
        time.sleep(0.3)
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand()))
        self.assertTrue(op_sub.poll(3000))
        self.assertFalse(firm_sub.poll(1000))
        firm_sub.close()
        op_sub.close()

    def test_monitor_stream_carries_matches(self):
        sub = self.monitor(self.broker.operator_keypair())
        time.sleep(0.3)  # PUB/SUB joins late
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
        d = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        topics = []
        deadline = time.time() + 5
        while time.time() < deadline and b"match" not in topics:
            if sub.poll(500):
                topic, payload = sub.recv_multipart()
                topics.append(topic)
                if topic == b"match":
                    ev = pb.MonitorEvent()
                    ev.ParseFromString(payload)
                    self.assertEqual(ev.demand_id, d)
                    self.assertEqual(ev.industry, "C3670")
        sub.close()
        self.assertIn(b"match", topics)
        self.assertIn(b"offer", topics)


class Districts(unittest.TestCase):
    """A firm's district is the development or demonstration zone when it is in one, else
    its county, whatever other park it is in. The broker runs a vocabulary that adds a
    Qibin park outside the two zones."""

    def setUp(self):
        self.broker = Broker()
        vocab = os.path.join(self.broker.tmp, "vocabulary.tsv")
        with open(os.path.join(os.environ["GX_SOURCE_DIR"], "src", "data", "vocabulary.tsv"), encoding="utf-8") as f:
            text = f.read()
        with open(vocab, "w", encoding="utf-8") as f:
            f.write(text + "zone\thebi.qbpark\t淇滨测试园区\tQibin Test Park\tQTP\t410611\n")
        self.broker.extra_args += ["-o", "vocabulary=" + vocab]
        self.broker.start()
        self.op = self.broker.client(operator=True)
        seed_walkthrough_firms(self.op)
        self.clients = []

    def tearDown(self):
        for c in [self.op] + self.clients:
            c.close()
        self.broker.stop()
        self.broker.cleanup()

    def join(self, fid, name, county, zone, lat, lon):
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            fid, name, county, zone, pb.CREDIT_B, [("IATF16949", "2028-06-30")], lat, lon)))
        c = self.broker.client(fid)
        self.clients.append(c)
        return c

    def test_a_qibin_firm_in_another_park_is_in_the_three_districts(self):
        park = self.join(SME_PARK, "Qibin Park Die Casting", "410611", "hebi.qbpark", 35.76, 114.31)
        o = park.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        anchor = self.broker.client(ANCHOR)
        self.clients.append(anchor)
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.THREE_DISTRICTS))).posting.id
        sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
        self.assertEqual([c.offer_id for c in sl.candidates], [o])
        self.assertIn("demand scope three_districts: offer firm in 410611",
                      rules_of(sl.candidates[0].explanation)["RULE_REGION"].detail)
        # the dashboard's industry map counts its offer in Qibin's column, not the rest of the city
        with urllib.request.urlopen(self.broker.http + "/api/snapshot", timeout=5) as r:
            snap = json.loads(r.read().decode())
        offers = {c["district"]: c["offers_open"] for c in snap["industry_map"] if c["offers_open"]}
        self.assertEqual(offers, {"410611": 1})

    def test_a_firm_in_the_qi_county_cluster_is_in_qi_county(self):
        anchor = self.join(ANCHOR_QX, "Qi County Auto Parts", "410622", "", 35.61, 114.20)
        sme = self.join(SME_QX, "Qi County Cluster Die Casting", "410622", "hebi.qixian", 35.62, 114.18)
        o = sme.call(post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.SAME_DISTRICT))).posting.id
        sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=d)).shortlist
        self.assertEqual([c.offer_id for c in sl.candidates], [o])
        self.assertIn("demand scope same_district: offer firm in 410622 vs 410622",
                      rules_of(sl.candidates[0].explanation)["RULE_REGION"].detail)
        # and Qi County is not one of the three districts
        d3 = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(scope=pb.THREE_DISTRICTS))).posting.id
        self.assertEqual(anchor.call(get_shortlist=pb.GetShortlist(demand_id=d3)).shortlist.eligible, 0)


if __name__ == "__main__":
    main()
