"""gongxu update and gongxu vocab against a real gongxud (issue 12).

update with flags changes only the fields given: it used to send the flags as the
whole posting ("demand.kind: required"). It reads the posting, sets the flags over
it and sends it with the revision read, so confidential details survive and a
change made in between is refused with a clear message, never overwritten.
vocab looks codes up (FindCodes), and a mistyped code's UNKNOWN_CODE shows the
broker's suggestions."""
import json
import os
import subprocess
import unittest

from gxharness import ANCHOR, GONGXU, SME_CERT, Broker, Client, SeededBroker, main, mg_demand, mg_offer, pb, run_cli
from test_cli_connect import Interposer, seed


class Cli:
    def gx(self, *args, firm=ANCHOR):
        return run_cli(self.broker, *args, firm=firm)

    def call(self, firm, **body):
        c = self.broker.client(firm)
        try:
            return c.call(**body)
        finally:
            c.close()

    def show(self, pid, firm=ANCHOR):
        r = self.gx("--json", "show", str(pid), firm=firm)
        self.assertEqual(r.returncode, 0, r.err)
        view = json.loads(r.stdout)["view"]
        return view.get("demand") or view.get("offer")


class Update(Cli, SeededBroker):
    def post_demand(self, budget=None, **over):
        d = mg_demand(**over)
        if budget:
            d.budget.min, d.budget.max = budget
        return self.call(ANCHOR, post_demand=pb.PostDemand(demand=d)).posting.id

    def test_update_changes_only_the_fields_given(self):
        did = self.post_demand(details="drawing MG-42 rev C; PPAP level 3", budget=(10, 20))
        before = self.show(did)
        r = self.gx("update", "demand", str(did), "--quantity", "10")
        self.assertEqual(r.returncode, 0, r.err)  # it was "demand.kind: required"
        self.assertIn(b"updated demand %d (revision 2)" % did, r.stdout)
        after = self.show(did)
        self.assertEqual(after["quantity"], 10)
        self.assertEqual(after["revision"], 2)
        for field in ("kind", "industry", "processes", "materials", "certifications", "scope", "title", "summary",
                      "neededBy", "budget", "unit", "expiresAt", "createdAt"):
            self.assertEqual(after.get(field), before.get(field), field)
        # only the owner sees details: they survived the round trip
        self.assertEqual(after["details"], "drawing MG-42 rev C; PPAP level 3")

    def test_a_repeated_flag_replaces_the_list_and_json_has_the_same_shape(self):
        did = self.post_demand()
        r = self.gx("--json", "update", "demand", str(did), "--process", "casting.die", "--title", "any die caster")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertEqual(json.loads(r.stdout)["posting"]["revision"], 2)
        after = self.show(did)
        self.assertEqual(after["processes"], ["casting.die"])
        self.assertEqual(after["title"], "any die caster")
        self.assertEqual(after["materials"], ["material.metal.magnesium.az91d"])

    def test_update_offer_keeps_the_rest(self):
        oid = self.call(SME_CERT, post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        r = self.gx("update", "offer", str(oid), "--lead-time", "15", firm=SME_CERT)
        self.assertEqual(r.returncode, 0, r.err)
        after = self.show(oid, firm=SME_CERT)
        self.assertEqual((after["leadTimeDays"], after["monthlyCapacity"], after["minOrder"]), (15, 20000, 500))
        self.assertEqual(after["kinds"], ["PARTS_SUPPLY"])

    def test_a_stale_revision_is_refused(self):
        did = self.post_demand()
        self.assertEqual(self.gx("update", "demand", str(did), "--title", "second").returncode, 0)
        r = self.gx("update", "demand", str(did), "--revision", "1", "--title", "third")
        self.assertEqual(r.returncode, 65, r.err)
        self.assertIn("CONFLICT", r.err)
        self.assertIn("you saw revision 1; it is now 2", r.err)
        self.assertIn("gongxu show %d" % did, r.err)
        self.assertEqual(self.show(did)["title"], "second")

    def test_the_wrong_kind_of_posting_and_someone_elses(self):
        oid = self.call(SME_CERT, post_offer=pb.PostOffer(offer=mg_offer())).posting.id
        r = self.gx("update", "demand", str(oid), "--quantity", "5", firm=SME_CERT)
        self.assertEqual(r.returncode, 64, r.err)
        self.assertIn("posting %d is an offer, not a demand" % oid, r.err)
        did = self.post_demand()
        r = self.gx("update", "demand", str(did), "--quantity", "5", firm=SME_CERT)
        self.assertEqual(r.returncode, 77, r.err)  # the broker's FORBIDDEN
        r = self.gx("update", "demand", "999999", "--quantity", "5")
        self.assertEqual(r.returncode, 1, r.err)

    def test_file_stays_the_full_replacement(self):
        did = self.post_demand(details="secret drawing")
        path = os.path.join(self.broker.tmp, "replacement.json")
        with open(path, "w") as f:
            json.dump({"kind": "PROCESSING", "industry": "C3670", "quantity": 7, "neededBy": "2030-01-31",
                       "title": "replaced"}, f)
        r = self.gx("update", "demand", str(did), "--file", path)
        self.assertEqual(r.returncode, 0, r.err)
        after = self.show(did)
        self.assertEqual((after["kind"], after["quantity"], after["title"]), ("PROCESSING", 7, "replaced"))
        self.assertNotIn("details", after)
        self.assertNotIn("processes", after)


class Race(unittest.TestCase):
    """Someone else updates between the CLI's read and its write."""

    def test_a_change_made_in_between_is_not_overwritten(self):
        with Broker(insecure=True) as b:
            seed(b)
            anchor = b.client(ANCHOR)
            did = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
            raced = []

            def meanwhile(env):
                # the CLI's read (GetPosting) is on its way back: update the demand first
                if env.WhichOneof("body") == "reply" and env.reply.WhichOneof("result") == "view" and not raced:
                    d = pb.Demand()
                    d.CopyFrom(env.reply.view.demand)
                    d.title = "changed meanwhile"
                    other = Client(b.endpoint, ANCHOR)
                    raced.append(other.call(update_demand=pb.UpdateDemand(demand=d)).posting.revision)
                    other.close()
                return env

            hop = Interposer(b.endpoint, on_reply=meanwhile)
            try:
                env = {k: v for k, v in os.environ.items() if not k.startswith("GONGXU_")}
                r = subprocess.run([GONGXU, "-s", hop.endpoint, "--server-key", "none", "-f", ANCHOR, "update",
                                    "demand", str(did), "--quantity", "10"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, timeout=60)
            finally:
                hop.close()
            err = r.stderr.decode()
            self.assertEqual(raced, [2])
            self.assertEqual(r.returncode, 65, err)
            self.assertIn("demand %d changed while this update was being made (it was read at revision 1" % did, err)
            self.assertIn("nothing was changed; run the command again", err)
            now = anchor.call(get_posting=pb.GetPosting(posting_id=did)).view.demand
            anchor.close()
            self.assertEqual((now.title, now.quantity, now.revision), ("changed meanwhile", 5000, 2))


class Vocab(Cli, SeededBroker):
    def test_search_prints_a_table(self):
        r = self.gx("vocab", "search", "AZ91D", firm=SME_CERT)
        self.assertEqual(r.returncode, 0, r.err)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0].split(), ["class", "id", "中文名", "English", "name", "aliases"])
        self.assertTrue(any(l.startswith("material") and "material.metal.magnesium.az91d" in l for l in lines), lines)
        # TEXT without the word search, a Chinese name, one class
        r = self.gx("vocab", "压铸", "--class", "process")
        self.assertEqual(r.returncode, 0, r.err)
        rows = r.stdout.decode().splitlines()[1:]
        self.assertTrue(rows and all(l.startswith("process ") for l in rows if not l.endswith("fewer")), rows)
        self.assertIn("casting.die", r.stdout.decode())

    def test_columns_line_up_with_chinese_names(self):
        r = self.gx("vocab", "--class", "zone")
        lines = r.stdout.decode().splitlines()
        self.assertIn("hebi.etdz", r.stdout.decode())
        self.assertIn("(in county 410611)", r.stdout.decode())

        def col(line, text):  # the terminal column where text starts: CJK characters take two
            head = line[:line.index(text)]
            return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uff60" else 1 for ch in head)

        starts = {col(l, l.split()[3] if i else "English") for i, l in enumerate(lines[:3])}
        self.assertEqual(len(starts), 1, lines)

    def test_limit_json_and_nothing_found(self):
        r = self.gx("vocab", "--limit", "3")
        self.assertEqual(r.returncode, 0, r.err)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 5)  # header, three rows, how many more
        self.assertRegex(lines[-1], r"^3 of \d+ shown")
        r = self.gx("--json", "vocab", "search", "AZ91D")
        got = json.loads(r.stdout)["codes"]
        self.assertEqual(got["entries"][0]["id"], "material.metal.magnesium.az91d")
        self.assertEqual(got["entries"][0]["codeClass"], "CODE_MATERIAL")
        r = self.gx("vocab", "search", "zzqqxx")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'no code matches "zzqqxx"', r.stdout)
        r = self.gx("vocab", "--class", "planet")
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"process|material|industry|county|zone|cert", r.stderr)
        self.assertEqual(self.gx("vocab", "--limit", "0").returncode, 64)

    def test_unknown_code_prints_the_suggestions(self):
        r = self.gx("post", "demand", "--kind", "parts_supply", "--industry", "C3670", "--process",
                    "casting.die.magnesum", "--quantity", "10", "--needed-by", "2030-01-01")
        self.assertEqual(r.returncode, 65, r.err)
        self.assertIn("UNKNOWN_CODE", r.err)
        self.assertIn("did you mean: casting.die.magnesium", r.err)
        self.assertIn("gongxu vocab search TEXT --class process", r.err)
        r = self.gx("post", "demand", "--kind", "parts_supply", "--industry", "C3670", "--cert", "IATF1694",
                    "--quantity", "10", "--needed-by", "2030-01-01")
        self.assertEqual(r.returncode, 65, r.err)
        self.assertRegex(r.err, r"did you mean: [^\n]*IATF16949")
        self.assertIn("--class cert", r.err)


if __name__ == "__main__":
    main()
