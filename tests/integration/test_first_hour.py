"""What a newcomer meets in the first hour, on the broker's side: the ready line
pastes into a shell, a second broker on the same HTTP port is refused, a demand
stays open while it can still be met, statistics refuse unknown codes, codes
can be looked up (FindCodes) and a mistyped one gets suggestions, and the
broker tells its limits in the reply to Hello and Ping."""
import os
import re
import shlex
import subprocess
import time

from gxharness import ANCHOR, GONGXUD, SME_CERT, Broker, Refused, SeededBroker, main, mg_demand, pb, run_cli


class FirstHour(SeededBroker):
    def gx(self, *args):
        return run_cli(self.broker, *args)

    def test_ready_line_key_is_quoted_for_a_shell(self):
        tmp = os.path.join(self.broker.tmp, "second")
        proc = subprocess.Popen([GONGXUD, "-d", tmp, "-l", "tcp://127.0.0.1:*", "-m", "",
                                 "-o", "http_listen="], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            line = proc.stdout.readline().decode().strip()
        finally:
            proc.terminate()
            proc.wait(30)
            proc.stdout.close()
        self.assertTrue(line.startswith("gongxud ready "), line)
        m = re.search(r"server_key='([^']{40})'", line)
        self.assertIsNotNone(m, line)
        # the whole line splits as a shell would split it, the key intact
        words = dict(w.split("=", 1) for w in shlex.split(line)[2:])
        self.assertEqual(words["server_key"], m.group(1))
        with open(os.path.join(tmp, "broker.pub")) as f:
            self.assertIn(m.group(1), f.read())

    def test_second_broker_on_the_same_http_port_is_refused(self):
        port = self.broker.http.rsplit(":", 1)[1]
        tmp = os.path.join(self.broker.tmp, "clash")
        r = subprocess.run([GONGXUD, "-d", tmp, "-l", "tcp://127.0.0.1:*", "-m", "",
                            "-o", "http_listen=127.0.0.1:" + port], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(b"gongxud ready", r.stdout)
        self.assertIn("cannot serve HTTP on 127.0.0.1:%s: the port is in use" % port, r.stderr.decode())
        # and the first broker still answers on it
        import urllib.request
        with urllib.request.urlopen(self.broker.http + "/healthz", timeout=10) as got:
            self.assertEqual(got.status, 200)

    def test_demand_stays_open_until_its_needed_by_day_ends(self):
        anchor = self.broker.client(ANCHOR)
        try:
            for days in (20, 400):  # before and after the 90-day default of offers
                needed = time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))
                d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(needed_by=needed))).posting.id
                view = anchor.call(get_posting=pb.GetPosting(posting_id=d)).view
                y, mo, da = (int(x) for x in needed.split("-"))
                day = (time.mktime((y, mo, da, 0, 0, 0, 0, 0, 0)) - time.mktime((1970, 1, 1, 0, 0, 0, 0, 0, 0)))
                end_of_day_china = int(day) + 86400 - 8 * 3600  # utc_offset_minutes = 480
                self.assertEqual(view.demand.expires_at, end_of_day_china, (days, needed))
            # an explicit validity is kept
            at = int(time.time()) + 5 * 86400
            d = anchor.call(post_demand=pb.PostDemand(demand=mg_demand(expires_at=at))).posting.id
            self.assertEqual(anchor.call(get_posting=pb.GetPosting(posting_id=d)).view.demand.expires_at, at)
        finally:
            anchor.close()

    def test_stats_refuse_unknown_codes(self):
        r = self.gx("--operator", "stats", "--district", "nowhere")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("unknown district 'nowhere'", r.stderr.decode())
        r = self.gx("--operator", "stats", "--industry", "ZZZ")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("unknown industry code 'ZZZ'", r.stderr.decode())
        # known ones, at any level and spelling, still work
        for args in (("--district", "hebi.etdz"), ("--district", "city"), ("--industry", "36"),
                     ("--district", "410611", "--industry", "C3670")):
            r = self.gx("--operator", "stats", *args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
        op = self.broker.client(operator=True)
        try:
            with self.assertRaises(Refused) as e:
                op.call(get_stats=pb.GetStats(district="hebi.etd"))
            self.assertEqual(e.exception.code, pb.ERR_UNKNOWN_CODE)
            self.assertIn("hebi.etdz", e.exception.error.suggestions)
            rows = op.call(get_stats=pb.GetStats(industry="36", breakdown=True)).stats.rows
            self.assertTrue(rows and all(r.chain == "C36" for r in rows), rows)
        finally:
            op.close()

    def test_find_codes(self):
        sme = self.broker.client(SME_CERT)
        try:
            got = sme.call(find_codes=pb.FindCodes(text="AZ91D")).codes
            self.assertGreaterEqual(got.total, 1)
            first = got.entries[0]
            self.assertEqual(first.code_class, pb.CODE_MATERIAL)
            self.assertIn("AZ91D", [a.upper() for a in first.aliases] + [first.id.upper()])
            # a Chinese name finds its entry
            got = sme.call(find_codes=pb.FindCodes(text="压铸", code_class=pb.CODE_PROCESS)).codes
            self.assertTrue(got.total >= 1 and all(e.code_class == pb.CODE_PROCESS for e in got.entries))
            self.assertTrue(any(e.id.startswith("casting.die") for e in got.entries), got)
            # zones name their county; the limit bounds the list, total counts all
            got = sme.call(find_codes=pb.FindCodes(code_class=pb.CODE_ZONE)).codes
            etdz = [e for e in got.entries if e.id == "hebi.etdz"]
            self.assertEqual(len(etdz), 1)
            self.assertTrue(etdz[0].county and etdz[0].name_zh)
            got = sme.call(find_codes=pb.FindCodes(text="", limit=3)).codes
            self.assertEqual(len(got.entries), 3)
            self.assertGreater(got.total, 500)
            with self.assertRaises(Refused) as e:
                sme.call(find_codes=pb.FindCodes(limit=5000))
            self.assertEqual(e.exception.code, pb.ERR_INVALID_FIELD)
        finally:
            sme.close()

    def test_unknown_code_suggests_the_closest(self):
        anchor = self.broker.client(ANCHOR)
        try:
            with self.assertRaises(Refused) as e:
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(processes=["casting.die.magnesum"])))
            self.assertEqual(e.exception.code, pb.ERR_UNKNOWN_CODE)
            self.assertEqual(e.exception.error.field, "demand.processes[0]")
            self.assertEqual(e.exception.error.suggestions[0], "casting.die.magnesium")
            with self.assertRaises(Refused) as e:
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(certifications=["IATF1694"])))
            self.assertIn("IATF16949", e.exception.error.suggestions)
            with self.assertRaises(Refused) as e:  # nothing near: no suggestion, still a clear error
                anchor.call(post_demand=pb.PostDemand(demand=mg_demand(industry="Q9Z9Z")))
            self.assertEqual(e.exception.code, pb.ERR_UNKNOWN_CODE)
        finally:
            anchor.close()

    def test_hello_and_ping_tell_the_limits(self):
        b = Broker(extra_args=["-o", "max_frame_bytes=100000", "-o", "max_text_bytes=5000"]).start()
        try:
            c = b.client(operator=True, hello=False)
            hello = c.call(hello=pb.Hello(operator=True)).pong
            self.assertEqual((hello.max_frame_bytes, hello.max_text_bytes), (100000, 5000))
            self.assertEqual(hello.max_string_bytes, 256)
            self.assertEqual(hello.max_repeated, 64)
            self.assertTrue(hello.version)
            self.assertEqual(c.call(ping=pb.Ping()).pong, hello)
            c.close()
        finally:
            b.stop()
            b.cleanup()


if __name__ == "__main__":
    main()
