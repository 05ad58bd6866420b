"""The CLI's language (issue 16): human output follows --lang, else $LC_ALL,
$LC_MESSAGES, $LANG (zh_* Chinese, anything else English, none set Chinese);
--json is byte for byte the same in every language; a broker error shows its
stable code with the code's meaning in the output language; register
--language sets what a firm's notices are written in. Help pages, usage errors
and the client library's connection errors follow the same language."""
import json
import os
import re
import shutil
import tempfile

from gxharness import (ANCHOR, SME_CERT, SME_PLAIN, SeededBroker, cli_env, free_port, main, mg_demand, mg_offer, pb,
                       run_cli, uscc)

NEW_FIRM = uscc("91410611MA45LANG0")
HAN = re.compile(r"[\u4e00-\u9fff]")
# every command with a help page: gongxu help NAME [SUB]
COMMANDS = [("register",), ("firm",), ("post", "demand"), ("post", "offer"), ("update", "demand"),
            ("update", "offer"), ("withdraw",), ("subscribe",), ("watch",), ("interest",), ("accept",),
            ("decline",), ("award",), ("shortlist",), ("show",), ("list",), ("stats",), ("vocab",), ("ping",),
            ("keygen",), ("register-key",), ("revoke-key",), ("admin", "backup"), ("help",)]


def env_with(broker, **locale):
    """cli_env without any locale variable, then locale."""
    env = cli_env(broker)
    for k in ("LC_ALL", "LC_MESSAGES", "LANG"):
        env.pop(k, None)
    env.update(locale)
    return env


class CliLanguage(SeededBroker):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for sme in (SME_CERT, SME_PLAIN):
            c = cls.broker.client(sme)
            c.call(post_offer=pb.PostOffer(offer=mg_offer()))
            c.close()
        anchor = cls.broker.client(ANCHOR)
        cls.demand = anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting.id
        anchor.close()

    def gx(self, *args, firm=ANCHOR, env=None):
        r = run_cli(self.broker, *args, firm=firm, env=env)
        r.out = r.stdout.decode()
        return r

    def test_lang_flag_chooses_the_words(self):
        zh = self.gx("--lang", "zh", "show", str(self.demand))
        en = self.gx("--lang", "en", "show", str(self.demand))
        self.assertEqual((zh.returncode, en.returncode), (0, 0), zh.err + en.err)
        self.assertRegex(zh.out, r"(?m)^需求 %d（第 1 版）开放中，发布方 %s$" % (self.demand, ANCHOR), zh.out)
        self.assertIn("  类型        零部件配套，行业 C3670\n", zh.out)
        self.assertIn("  地域范围    “三区”\n", zh.out)
        self.assertRegex(en.out, r"(?m)^demand %d \(revision 1\) open, owner %s$" % (self.demand, ANCHOR))
        self.assertIn("  kind        parts_supply, industry C3670\n", en.out)
        # after the command word too
        self.assertIn("零部件配套", self.gx("show", str(self.demand), "--lang", "zh").out)

    def test_environment_decides_without_the_flag(self):
        cases = [({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "C"}, "en"), ({}, "zh"),
                 ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C"}, "zh"),
                 ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
                 ({"LC_ALL": "", "LANG": "zh_TW.UTF-8"}, "zh"), ({"LANG": "fr_FR.UTF-8"}, "en")]
        for locale, want in cases:
            r = self.gx("show", str(self.demand), env=env_with(self.broker, **locale))
            self.assertEqual(r.returncode, 0, r.err)
            self.assertEqual("零部件配套" in r.out, want == "zh", (locale, r.out))
            # --lang beats the environment
            r = self.gx("--lang", "en" if want == "zh" else "zh", "show", str(self.demand),
                         env=env_with(self.broker, **locale))
            self.assertEqual("零部件配套" in r.out, want != "zh", (locale, r.out))

    def test_json_is_the_same_in_every_language(self):
        for args in (["show", str(self.demand)], ["shortlist", str(self.demand)], ["list"]):
            outs = {self.gx("--json", "--lang", lang, *args).stdout for lang in ("zh", "en")}
            outs |= {self.gx("--json", *args, env=env_with(self.broker, **loc)).stdout
                     for loc in ({"LANG": "zh_CN.UTF-8"}, {"LANG": "C"}, {})}
            self.assertEqual(len(outs), 1, args)
            json.loads(outs.pop().decode().splitlines()[0])

    def test_broker_errors_keep_their_code_in_either_language(self):
        zh = self.gx("--lang", "zh", "show", "999999")
        en = self.gx("--lang", "en", "show", "999999")
        self.assertEqual((zh.returncode, en.returncode), (1, 1))
        self.assertIn("gongxu：未找到（NOT_FOUND）：", zh.err)
        self.assertIn("gongxu: NOT_FOUND (not found): ", en.err)
        zh = self.gx("--lang", "zh", "post", "demand", "--kind", "parts_supply", "--industry", "C9999",
                     "--quantity", "1", "--needed-by", "2030-01-01")
        self.assertEqual(zh.returncode, 65, zh.err)
        self.assertIn("代码不在词表中（UNKNOWN_CODE）", zh.err)
        self.assertIn("C9999", zh.err)
        self.assertIn("可按代码、别名或名称查找", zh.err)

    def test_watch_cut_short_says_so_in_either_language(self):
        zh = self.gx("--lang", "zh", "watch", "--count", "1000", "--timeout", "1", "--no-ack")
        en = self.gx("--lang", "en", "watch", "--count", "1000", "--timeout", "1", "--no-ack")
        self.assertEqual((zh.returncode, en.returncode), (75, 75))
        self.assertRegex(zh.err, r"gongxu：watch：超时前收到 \d+ / 1000 条通知")
        self.assertRegex(en.err, r"gongxu: watch: \d+ of 1000 notices before the timeout")

    def test_unknown_language_is_a_usage_error(self):
        r = self.gx("--lang", "fr", "show", str(self.demand))
        self.assertEqual(r.returncode, 64)
        self.assertIn("--lang: expected zh or en", r.err)

    def test_register_sets_the_firms_language_and_shows_it(self):
        r = run_cli(self.broker, "--operator", "--lang", "en", "register", "--id", NEW_FIRM, "--name", "Lang Test",
                    "--county", "410611", "--role", "sme", "--language", "en")
        self.assertEqual(r.returncode, 0, r.err)
        op = self.broker.client(operator=True)
        self.assertEqual(op.call(get_firm=pb.GetFirm(firm_id=NEW_FIRM)).firm.language, "en")
        op.close()
        r = run_cli(self.broker, "--operator", "--lang", "zh", "firm", NEW_FIRM)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("  语言        en\n", r.stdout.decode())
        r = run_cli(self.broker, "--operator", "register", "--id", NEW_FIRM, "--name", "Lang Test",
                    "--county", "410611", "--role", "sme", "--language", "fr")
        self.assertEqual(r.returncode, 65, r.err)
        self.assertIn("firm.language", r.err)

    def test_notices_read_in_both_languages(self):
        """The uncertified caster's near miss: the CLI's words in its language, the
        explanation in the firm's (English: the seeded firms read English)."""
        zh = self.gx("--lang", "zh", "watch", "--count", "1", "--timeout", "20", "--no-ack", firm=SME_PLAIN)
        en = self.gx("--lang", "en", "watch", "--count", "1", "--timeout", "20", "--no-ack", firm=SME_PLAIN)
        self.assertEqual((zh.returncode, en.returncode), (0, 0), zh.err + en.err)
        self.assertRegex(zh.out, r"#1 差一项 需求 %d .*未满足“资质认证”" % self.demand)
        self.assertIn("  建议：add IATF16949 to qualify", zh.out)
        self.assertRegex(zh.out, r"资质认证\s+未通过\s+missing IATF16949")
        self.assertRegex(en.out, r"#1 near_miss demand %d .*fails certification" % self.demand)
        self.assertIn("  hint: add IATF16949 to qualify", en.out)
        self.assertNotIn("差一项", en.out)
        ok = self.gx("--lang", "zh", "watch", "--count", "1", "--timeout", "20", "--no-ack", firm=SME_CERT)
        self.assertRegex(ok.out, r"#1 商机 需求 %d" % self.demand)
        # the shortlist's score line
        sl = self.gx("--lang", "zh", "shortlist", str(self.demand))
        self.assertRegex(sl.out, r"1\. 供给 \d+，来自 Qibin Magnesium Die Casting（%s），得分 [\d.]+" % SME_CERT)
        self.assertRegex(sl.out, r"得分 [\d.]+ = 行业 1\.00\*15 \+ 工艺 ")
        sl = self.gx("--lang", "en", "shortlist", str(self.demand))
        self.assertRegex(sl.out, r"score [\d.]+ = industry 1\.00\*15 \+ process ")

    def test_help_pages_in_either_language(self):
        zh = self.gx("--lang", "zh", "help", "post", "demand")
        en = self.gx("--lang", "en", "help", "post", "demand")
        self.assertEqual((zh.returncode, en.returncode), (0, 0), zh.err + en.err)
        self.assertTrue(zh.out.startswith("用法：gongxu [全局选项] post demand FLAGS\n"), zh.out)
        self.assertIn("发布一条需求", zh.out)
        self.assertIn("选项（带 ... 的可重复）：\n", zh.out)
        self.assertRegex(zh.out, r"(?m)^  --needed-by YYYY-MM-DD    交期，即需要交付的日期（必填）$")
        self.assertIn("示例：\n  gongxu post demand --kind parts_supply", zh.out)
        self.assertNotRegex(zh.out, r"usage:|Flags|Example:|required\)")
        self.assertTrue(en.out.startswith("usage: gongxu [global options] post demand FLAGS\n"), en.out)
        self.assertIn("Publishes a demand", en.out)
        self.assertRegex(en.out, r"(?m)^  --needed-by YYYY-MM-DD    the day it is needed by \(required\)$")
        self.assertIsNone(HAN.search(en.out.replace("镁", "")), en.out)
        # the environment decides without the flag, as for the rest; COMMAND --help too
        r = self.gx("watch", "--help", env=env_with(self.broker, LANG="zh_CN.UTF-8"))
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("  --no-ack                  不确认：下次还会收到这些通知\n", r.out)
        r = self.gx("watch", "--help", env=env_with(self.broker, LANG="C"))
        self.assertIn("  --no-ack                  do not acknowledge: the notices come again next time\n", r.out)

    def test_every_help_page_and_the_overview_read_chinese(self):
        for words in COMMANDS:
            r = self.gx("--lang", "zh", "help", *words)
            self.assertEqual(r.returncode, 0, (words, r.err))
            lines = r.out.splitlines()
            self.assertTrue(lines[0].startswith("用法：gongxu [全局选项] "), (words, r.out))
            self.assertTrue(HAN.search(lines[lines.index("") + 1]), (words, r.out))  # what it does
            self.assertIn("示例：", lines, (words, r.out))
            for line in lines:  # every flag line says what it does in Chinese
                if re.match(r"  --[a-z-]+( [A-Z_:|.-]+(\.\.\.)?)? {2,}\S", line):
                    self.assertTrue(HAN.search(line), (words, line))
        zh = self.gx("--lang", "zh", "--help")
        self.assertEqual(zh.returncode, 0, zh.err)
        for want in ("用法：gongxu [全局选项] 命令 [参数]", "全局选项", "命令：", "密钥：", "退出码：", "示例"):
            self.assertIn(want, zh.out)
        self.assertNotRegex(zh.out, r"Global options|Commands:|Exit status:")
        en = self.gx("--lang", "en", "--help")
        for want in ("usage: gongxu [global options] COMMAND [args]", "Global options", "Exit status:"):
            self.assertIn(want, en.out)

    def test_usage_errors_in_either_language(self):
        cases = [
            (("watch", "--count", "x"),
             "gongxu：watch：--count 应为不小于 1 的整数，收到“x”；参见 gongxu help watch\n",
             'gongxu: watch: --count must be a whole number, 1 or more, got "x"; see gongxu help watch\n'),
            (("post", "demand", "--kindd", "processing"),
             "gongxu：post demand：没有选项 --kindd（您是不是要用 --kind？）；参见 gongxu help post demand\n",
             "gongxu: post demand: unknown option --kindd (did you mean --kind?); see gongxu help post demand\n"),
            (("post", "demand", "--needed-by", "2028-02-30"),
             "gongxu：post demand：--needed-by：2028-02-30 不是有效日期：2028 年 2 月只有 29 天；"
             "参见 gongxu help post demand\n",
             "gongxu: post demand: --needed-by: 2028-02-30 is not a date: February 2028 has 29 days; "
             "see gongxu help post demand\n"),
            (("frobnicate",), "gongxu：没有命令“frobnicate”；参见 gongxu --help\n",
             'gongxu: unknown command "frobnicate"; see gongxu --help\n'),
        ]
        for args, want_zh, want_en in cases:
            zh = self.gx("--lang", "zh", *args)
            en = self.gx("--lang", "en", *args)
            self.assertEqual((zh.returncode, en.returncode), (64, 64), args)
            self.assertEqual(zh.err, want_zh)
            self.assertEqual(en.err, want_en)
            # --json changes nothing here: stdout stays empty, the error is the language's
            js = self.gx("--json", "--lang", "zh", *args)
            self.assertEqual((js.returncode, js.stdout, js.err), (64, b"", want_zh))

    def test_connection_and_key_errors_in_either_language(self):
        nowhere = "tcp://127.0.0.1:%d" % free_port()
        for lang, want in (("zh", "gongxu：ping：%s 无人应答：gongxud 是否在运行？这是它的客户端端口吗？"
                                  "（1000 毫秒内未能建立连接）\n" % nowhere),
                           ("en", "gongxu: ping: nothing answers at %s: is gongxud running, and is this its "
                                  "client port? (no connection within 1000 ms)\n" % nowhere)):
            r = run_cli(self.broker, "--lang", lang, "--server-key", "none", "--timeout", "1", "ping",
                        server=nowhere)
            self.assertEqual((r.returncode, r.err), (69, want))
        tmp = tempfile.mkdtemp(prefix="gx.lang.", dir=os.environ.get("GX_TEST_TMP"))
        try:
            path = os.path.join(tmp, "k")
            self.assertEqual(self.gx("--lang", "zh", "keygen", path).returncode, 0)
            zh = self.gx("--lang", "zh", "keygen", path)
            en = self.gx("--lang", "en", "keygen", path)
            self.assertEqual((zh.returncode, en.returncode), (73, 73))
            self.assertEqual(zh.err, "gongxu：keygen：%s.key 已存在；keygen 从不替换密钥文件\n" % path)
            self.assertEqual(en.err, "gongxu: keygen: %s.key exists; keygen never replaces a key file\n" % path)
            # a key the broker does not know: refused in the CURVE handshake, said in Chinese
            zh = self.gx("--lang", "zh", "--key", path + ".key", "ping", firm=None)
            self.assertEqual(zh.returncode, 69, zh.err)
            self.assertIn("的撮合服务在 CURVE 握手时拒绝了这把密钥（ZAP 状态 400）：密钥未登记或已吊销", zh.err)
            bad = os.path.join(tmp, "bad.pub")
            with open(bad, "w") as f:
                f.write("public-key = \"not a key\"\n")
            zh = self.gx("--operator", "--lang", "zh", "register-key", ANCHOR, bad, firm=None)
            self.assertEqual(zh.returncode, 66, zh.err)
            self.assertIn("%s:1：不是 40 个字符的 Z85 CURVE 密钥（应为 40 个字符的 Z85 公钥或密钥文件）" % bad, zh.err)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
