"""A firm's language (issue 16): the same near miss told to a firm that reads
Chinese and to one that reads English — the hint and the explanation's lines in
each one's language, with vocabulary names in it; the rule, its pass/fail and
the score the same for both. A firm with no language set reads Chinese; a
firm's language as it is when a notice is delivered is the one it is written
in; and a language other than zh-CN or en is refused naming the field."""
import re

from gxharness import ANCHOR, Broker, Refused, body_of, firm, main, mg_demand, mg_offer, pb, uscc
import unittest

SME_ZH = uscc("91410611MA45CN007")
SME_EN = uscc("91410611MA45EN008")
CJK = re.compile(r"[\u4e00-\u9fff]")


def rules_of(expl):
    return {pb.Rule.Name(r.rule): r for r in expl.rules}


class Languages(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.broker.start()
        self.op = self.broker.client(operator=True)
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            ANCHOR, "Hebi Auto Electronics", "410611", "hebi.etdz", pb.CREDIT_A, lat=35.73, lon=114.35)))
        # two uncertified die casters in Qibin: one left at the default language, one English
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_ZH, "淇滨压铸厂", "410611", "", pb.CREDIT_B, lat=35.74, lon=114.30, language="")))
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_EN, "Qibin Casting Works", "410611", "", pb.CREDIT_B, lat=35.74, lon=114.30, language="en")))
        self.anchor = self.broker.client(ANCHOR)

    def tearDown(self):
        for c in (self.op, self.anchor):
            c.close()
        self.broker.cleanup()

    def near_miss(self, fid):
        c = self.broker.client(fid)
        c.resume(from_last_ack=True)
        c.call(post_offer=pb.PostOffer(offer=mg_offer()))
        near = [n.near_miss for n in c.wait_notices(1, timeout=30) if body_of(n) == "near_miss"]
        c.close()
        self.assertEqual(len(near), 1)
        return near[0]

    def test_default_is_zh_cn_and_shown_with_the_firm(self):
        r = self.op.call(get_firm=pb.GetFirm(firm_id=SME_ZH))
        self.assertEqual(r.firm.language, "zh-CN")
        r = self.op.call(get_firm=pb.GetFirm(firm_id=SME_EN))
        self.assertEqual(r.firm.language, "en")

    def test_other_languages_are_refused_naming_the_field(self):
        with self.assertRaises(Refused) as cm:
            self.op.call(register_firm=pb.RegisterFirm(firm=firm(
                SME_EN, "Qibin Casting Works", "410611", "", pb.CREDIT_B, language="fr")))
        self.assertEqual(cm.exception.error.code, pb.ERR_INVALID_FIELD)
        self.assertEqual(cm.exception.error.field, "firm.language")

    def test_the_same_near_miss_in_each_firms_language(self):
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand()))
        zh, en = self.near_miss(SME_ZH), self.near_miss(SME_EN)
        # machine-readable: the same
        self.assertEqual(zh.rule, pb.RULE_CERTIFICATION)
        self.assertEqual(en.rule, pb.RULE_CERTIFICATION)
        self.assertAlmostEqual(zh.explanation.score, en.explanation.score)
        rz, re_ = rules_of(zh.explanation), rules_of(en.explanation)
        self.assertEqual(sorted(rz), sorted(re_))
        for name in rz:
            self.assertEqual(getattr(rz[name], "pass"), getattr(re_[name], "pass"), name)
        # human: each in its own language
        self.assertEqual(en.hint, "add IATF16949 to qualify")
        self.assertEqual(zh.hint, "缺少 IATF16949 认证：取得后即可入选")
        self.assertIn("missing IATF16949; requires IATF16949", re_["RULE_CERTIFICATION"].detail)
        self.assertIn("缺少 IATF16949；要求 IATF16949", rz["RULE_CERTIFICATION"].detail)
        # vocabulary names in the language: 镁合金压铸 for casting.die.magnesium, 淇滨区 for 410611
        self.assertIn("casting.die.magnesium", re_["RULE_PROCESS"].detail)
        self.assertNotIn("casting.die.magnesium", rz["RULE_PROCESS"].detail)
        self.assertRegex(rz["RULE_PROCESS"].detail, CJK)
        for name, r in rz.items():
            if name != "RULE_PRICE" or r.detail:
                self.assertRegex(r.detail, CJK, name)
            self.assertNotIn("{", r.detail, name)

    def test_rendered_in_the_language_of_the_moment(self):
        """A notice waiting in the inbox is written in the language the firm has when
        it is delivered, not when the near miss happened."""
        did = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        c = self.broker.client(SME_EN)
        c.resume(from_last_ack=True)
        c.call(post_offer=pb.PostOffer(offer=mg_offer()))
        c.close()  # offline before reading it
        self.op.call(register_firm=pb.RegisterFirm(firm=firm(
            SME_EN, "Qibin Casting Works", "410611", "", pb.CREDIT_B, lat=35.74, lon=114.30, language="zh-CN")))
        upd = mg_demand(title="Magnesium ECU housings, second lot")
        upd.id = did
        self.assertEqual(self.anchor.call(update_demand=pb.UpdateDemand(demand=upd)).posting.revision, 2)
        c = self.broker.client(SME_EN)
        c.resume(after=0)
        near = [n for n in c.wait_notices(1, timeout=30) if body_of(n) == "near_miss"]
        c.close()
        self.assertEqual(len(near), 1)
        self.assertEqual(near[0].near_miss.hint, "缺少 IATF16949 认证：取得后即可入选")
        # and the note that the demand changed since, in the same language
        self.assertEqual(near[0].changed_since,
                         "需求 %d 在此通知后有改动（当时第 1 版，现为第 2 版）；按现状显示，改动见相应通知" % did)


if __name__ == "__main__":
    main()
