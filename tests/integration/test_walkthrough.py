"""The README walkthrough, run verbatim from README.md against a fresh gongxud,
then checked both from its output and from the broker's own answers."""
import os
import re
import subprocess
import unittest

from gxharness import BIN, Broker, Client, body_of, main, pb

SRC = os.environ.get("GX_SOURCE_DIR", ".")
ANCHOR, QBMG, QBLA = "91410600MA44ANCH0R", "91410611MA45QBMG1C", "91410611MA45QBLA2K"


def walkthrough_script():
    text = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- walkthrough:begin -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert m, "README.md has no walkthrough block"
    return m.group(1)


class Walkthrough(unittest.TestCase):
    def test_readme_walkthrough_runs_as_written(self):
        with Broker() as broker:
            env = dict(os.environ, GONGXU_SERVER=broker.endpoint,
                       GONGXU_SERVER_KEY=os.path.join(broker.data_dir, "broker.pub"),
                       GONGXU_OPERATOR_KEY=os.path.join(broker.data_dir, "operator.key"),
                       PATH=os.path.abspath(BIN) + os.pathsep + os.environ["PATH"])
            for k in ("GONGXU_FIRM", "GONGXU_OPERATOR", "GONGXU_KEY"):
                env.pop(k, None)
            run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", walkthrough_script()], cwd=SRC, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                                 stdin=subprocess.DEVNULL)
            out = run.stdout.decode()
            self.assertEqual(run.returncode, 0, out + broker.read_log())
            demand = int(re.search(r"^需求 (\d+) 已发布$", out, re.M).group(1))
            # the anchor's shortlist holds the certified caster, explained (in Chinese: the
            # walkthrough asks for --lang zh, and firms read zh-CN unless registered otherwise)
            self.assertRegex(out, r"1\. 供给 \d+，来自 Qibin Magnesium Die Casting")
            self.assertRegex(out, r"资质认证\s+通过\s+要求 IATF16949；持有有效证书 IATF16949")
            self.assertNotRegex(out, r"供给 \d+，来自 Qibin Light Alloy Works（")
            # the certified SME: an opportunity; the other: a near miss naming the certificate
            self.assertRegex(out, r"#1 商机 需求 %d" % demand)
            self.assertRegex(out, r"#1 差一项 需求 %d .*未满足“资质认证”" % demand)
            self.assertIn("建议：缺少 IATF16949 认证：取得后即可入选", out)
            # interest reaches the anchor; acceptance releases details and contacts
            self.assertRegex(out, r"收到合作意向 需求 %d：Qibin Magnesium Die Casting" % demand)
            self.assertIn("详情        Drawing MG-42 rev C; flatness 0.05 mm; PPAP level 3", out)
            self.assertIn("联系方式    Li Wei, procurement, +86 392 000 0001", out)

            # the broker's own state agrees with what was printed (from other keys of the same firms)
            anchor = broker.client(ANCHOR)
            sl = anchor.call(get_shortlist=pb.GetShortlist(demand_id=demand)).shortlist
            self.assertEqual([c.firm_id for c in sl.candidates], [QBMG])
            anchor.resume(from_last_ack=True)
            got = [body_of(n) for n in anchor.drain(0.5)]
            self.assertEqual(got, ["details_released"])  # the two earlier notices were acked by watch
            qbla = broker.client(QBLA)
            view = qbla.call(get_posting=pb.GetPosting(posting_id=demand)).view.demand
            self.assertEqual(view.details, "")  # the near-missed firm never sees the drawing
            for c in (anchor, qbla):
                c.close()


if __name__ == "__main__":
    main()
