"""The gongxu CLI's words (issue 12): every bad command line names what is wrong
in words a user can act on. Each test is a regression test of one message that
was wrong: a garbage option byte, "out of memory" for text that is not UTF-8,
"the format is wrong" for a date that does not exist, bounds the broker does not
use, a key pair asked for where the operator's key was meant, a key file open to
others accepted silently, and help that was the same page for every command."""
import os
import re
import subprocess
import tempfile
import unittest

from gxharness import ANCHOR, GONGXU, SeededBroker, main


def gx(*args, env=None, stdin=None):
    """Runs the CLI without any GONGXU_ variable and without a broker."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GONGXU_")}
    base.update(env or {})
    return subprocess.run([GONGXU] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base,
                          input=stdin, timeout=60, cwd=tempfile.gettempdir())


class Options(unittest.TestCase):
    """Every path of the option-error report, each naming the option as typed."""

    def usage(self, *args):
        r = gx(*args)
        self.assertEqual(r.returncode, 64, r)
        err = r.stderr.decode("utf-8")  # never a garbage byte
        self.assertNotIn("\ufffd", err)
        return err

    def test_missing_value_of_a_long_option_names_it(self):
        # it printed "option -\xf6 needs a value": the long option's val cast to char
        self.assertIn("--title needs a value", self.usage("post", "demand", "--kind", "parts_supply", "--title"))
        self.assertIn("--summary needs a value", self.usage("post", "demand", "--summary"))
        self.assertIn("--title needs a value", self.usage("post", "demand", "--tit"))  # an abbreviation
        self.assertIn("--server needs a value", self.usage("post", "demand", "--server"))
        self.assertIn("--firm needs a value", self.usage("--firm"))

    def test_missing_value_of_a_short_option(self):
        self.assertIn("-s needs a value", self.usage("-s"))
        self.assertIn("-f needs a value", self.usage("post", "offer", "-f"))

    def test_unknown_options(self):
        self.assertIn("unknown option --frob", self.usage("post", "demand", "--frob", "1"))
        self.assertIn("unknown option -x", self.usage("post", "demand", "-x"))
        self.assertIn("unknown option -x", self.usage("-x", "ping"))
        err = self.usage("post", "demand", "--titel", "x")
        self.assertIn("unknown option --titel (did you mean --title?)", err)
        self.assertIn("unknown option --jsn (did you mean --json?)", self.usage("--jsn", "ping"))

    def test_ambiguous_abbreviation_lists_the_candidates(self):
        err = self.usage("post", "demand", "--ma", "x")
        self.assertIn("--ma is ambiguous", err)
        for name in ("--material", "--max-distance", "--max-suppliers"):
            self.assertIn(name, err)

    def test_a_value_that_is_an_option_and_a_value_given_to_a_flag(self):
        err = self.usage("post", "demand", "--title", "--summary", "x")
        self.assertIn("--title needs a value", err)
        self.assertIn("--title=--summary", err)
        self.assertIn("--split takes no value", self.usage("post", "demand", "--split=yes"))

    def test_errors_point_at_the_command_help(self):
        self.assertIn("see gongxu help post demand", self.usage("post", "demand", "--frob"))


class Text(unittest.TestCase):
    """Text that is not UTF-8 (a GBK terminal) is named, never "out of memory"."""

    GBK = "合金".encode("gbk")  # b"\xba\xcf\xbd\xf0": no UTF-8 lead byte

    def refused(self, *args, what):
        r = gx("--dry-run", *args)
        self.assertEqual(r.returncode, 64, r)
        err = r.stderr.decode()
        self.assertNotIn("out of memory", err)
        self.assertIn(what + " is not valid UTF-8", err)
        self.assertIn("byte 1 is 0x", err)
        return err

    def test_every_string_flag_and_text_argument(self):
        g = self.GBK
        self.refused("post", "demand", "--title", g, what="--title")
        self.refused("post", "demand", "--kind", "processing", "--summary", g, what="--summary")
        self.refused("post", "demand", "--details", g, what="--details")
        self.refused("post", "demand", "--unit", g, what="--unit")
        self.refused("post", "demand", "--process", "casting", "--process", g, what="--process")
        self.refused("post", "offer", "--title", g, what="--title")
        self.refused("update", "offer", "3", "--summary", g, what="--summary")
        self.refused("register", "--id", ANCHOR, "--name", g, "--county", "410611", what="--name")
        self.refused("register", "--contact", g, what="--contact")
        self.refused("register", "--cert", g + b":1:2028-01-01", what="--cert")
        self.refused("subscribe", "--district", g, what="--district")
        self.refused("interest", "3", "--message", g, what="--message")
        self.refused("decline", "3", ANCHOR, "--reason", g, what="--reason")
        self.refused("accept", "3", g, what="FIRM_ID")
        self.refused("firm", g, what="USCC")
        self.refused("stats", "--district", g, what="--district")
        self.refused("admin", "backup", g, what="DEST")
        self.refused("vocab", "search", g, what="TEXT")
        self.refused("-f", g, "ping", what="--firm")
        r = gx("--dry-run", "ping", env={"GONGXU_FIRM": g})
        self.assertEqual(r.returncode, 64, r)
        self.assertIn(b"$GONGXU_FIRM is not valid UTF-8", r.stderr)

    def test_the_position_of_the_bad_byte(self):
        r = gx("--dry-run", "post", "demand", "--title", b"Mg housing " + self.GBK)
        self.assertIn(b"byte 12 is 0xba", r.stderr)
        self.assertIn(b"iconv", r.stderr)  # what to do about it

    def test_a_file_that_is_not_utf8(self):
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
            f.write(b'{"kind": "PARTS_SUPPLY", "title": "' + self.GBK + b'"}')
        try:
            r = gx("--dry-run", "post", "demand", "--file", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 66, r)
        self.assertIn(b"unable to decode byte 0xba", r.stderr)  # where: jansson's line and column
        self.assertIn(b"the file is not UTF-8", r.stderr)

    def test_utf8_text_passes(self):
        r = gx("--dry-run", "post", "demand", "--title", "镁合金壳体")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("镁合金壳体", r.stdout.decode())


class Values(unittest.TestCase):
    """Dates that do not exist and numbers out of the broker's bounds."""

    def usage(self, *args):
        r = gx("--dry-run", *args)
        self.assertEqual(r.returncode, 64, r)
        return r.stderr.decode()

    def test_certificate_with_a_day_that_does_not_exist(self):
        err = self.usage("register", "--id", ANCHOR, "--name", "x", "--county", "410611",
                         "--cert", "ISO9001:Q:2028-02-30")
        self.assertIn("2028-02-30 is not a date: February 2028 has 29 days", err)
        self.assertNotIn("expected SCHEME", err)
        err = self.usage("register", "--cert", "ISO9001:Q:2027-02-29")
        self.assertIn("February 2027 has 28 days", err)
        err = self.usage("register", "--cert", "ISO9001:Q:2027-13-01")
        self.assertIn("there is no month 13", err)
        err = self.usage("register", "--cert", "ISO9001")  # the shape itself is wrong
        self.assertIn("expected SCHEME:NUMBER:YYYY-MM-DD", err)
        err = self.usage("post", "demand", "--needed-by", "2027-04-31")
        self.assertIn("2027-04-31 is not a date: April 2027 has 30 days", err)
        err = self.usage("stats", "--from", "2026-02-29")
        self.assertIn("February 2026 has 28 days", err)

    def test_lead_time_below_zero_says_zero_or_more(self):
        err = self.usage("post", "offer", "--lead-time", "-10")
        self.assertIn("--lead-time must be a whole number of days, 0 or more", err)
        self.assertNotIn("expected a whole number", err)
        err = self.usage("post", "offer", "--lead-time", "3651")  # the broker's own bound: ten years
        self.assertIn("at most 3650", err)

    def test_quantity_has_one_message_for_zero_and_below(self):
        for q in ("-5", "0", "lots"):
            err = self.usage("post", "demand", "--quantity", q)
            self.assertIn('--quantity must be a number more than 0, got "%s"' % q, err)
            self.assertNotIn("out of range", err)
        self.assertIn("--quantity must be a number more than 0",
                      self.usage("award", "3", ANCHOR, "--quantity", "0"))

    def test_every_numeric_flag_names_the_broker_bounds(self):
        cases = [
            (("post", "offer", "--capacity", "-1"), "--capacity must be a number, 0 or more"),
            (("post", "offer", "--min-order", "-1"), "--min-order must be a number, 0 or more"),
            (("post", "offer", "--trl", "0"), "--trl must be a whole number from 1 to 9"),
            (("post", "offer", "--trl", "10"), "--trl must be a whole number from 1 to 9"),
            (("post", "offer", "--radius", "0"), "--radius must be a distance in km more than 0"),
            (("post", "demand", "--min-trl", "0"), "--min-trl must be a whole number from 1 to 9"),
            (("post", "demand", "--max-distance", "-3"), "--max-distance must be a distance in km more than 0"),
            (("post", "demand", "--max-suppliers", "0"), "--max-suppliers must be a whole number, 1 or more"),
            (("register", "--lat", "91", "--lon", "0"), "--lat must be a latitude in degrees from -90 to 90"),
            (("watch", "--count", "0"), "--count must be a whole number, 1 or more"),
            (("--timeout", "0", "ping"), "--timeout must be a number of seconds more than 0"),
        ]
        for args, words in cases:
            self.assertIn(words, self.usage(*args), args)
        # the edges the broker accepts pass
        for args in (("post", "offer", "--kind", "tech_transfer", "--lead-time", "0", "--capacity", "0"),
                     ("post", "offer", "--kind", "processing", "--lead-time", "3650", "--capacity", "1"),
                     ("post", "demand", "--kind", "processing", "--quantity", "0.5", "--min-trl", "9")):
            r = gx("--dry-run", *args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))


class Help(unittest.TestCase):
    """Each command has its own page: synopsis, its flags, one example."""

    PAGES = [("register",), ("firm",), ("post", "demand"), ("post", "offer"), ("update", "demand"),
             ("update", "offer"), ("withdraw",), ("subscribe",), ("watch",), ("interest",), ("accept",),
             ("decline",), ("award",), ("shortlist",), ("show",), ("list",), ("stats",), ("vocab",), ("ping",),
             ("keygen",), ("register-key",), ("revoke-key",), ("admin", "backup")]

    def test_every_command_has_its_own_page_both_ways(self):
        overview = gx("--help").stdout
        for words in self.PAGES:
            a = gx("help", *words)
            b = gx(*words, "--help")
            self.assertEqual(a.returncode, 0, (words, a.stderr))
            self.assertEqual(b.returncode, 0, (words, b.stderr))
            self.assertEqual(a.stdout, b.stdout, words)
            page = a.stdout.decode()
            self.assertNotEqual(a.stdout, overview)
            self.assertTrue(page.startswith("usage: gongxu [global options] " + " ".join(words)), page)
            self.assertIn("\nExample:\n  gongxu", page)
            self.assertLess(len(page.splitlines()), 60, words)

    def test_post_demand_page_lists_its_flags_one_line_each(self):
        page = gx("post", "demand", "--help").stdout.decode()
        for flag in ("--kind KIND", "--industry CODE", "--quantity Q", "--needed-by YYYY-MM-DD", "--details TEXT",
                     "--file FILE"):
            self.assertRegex(page, r"\n  %s\s+\S" % re.escape(flag))
        self.assertIn("parts_supply|processing", page)
        self.assertNotIn("--revision", page)  # that is update's
        self.assertNotIn("--capacity", page)  # an offer's
        self.assertIn("--revision N", gx("help", "update", "demand").stdout.decode())
        self.assertIn("--count N", gx("help", "watch").stdout.decode())

    def test_help_post_shows_both_subcommands(self):
        page = gx("help", "post").stdout.decode()
        self.assertIn("usage: gongxu [global options] post demand", page)
        self.assertIn("usage: gongxu [global options] post offer", page)
        self.assertEqual(gx("post", "--help").stdout.decode(), page)

    def test_overview_is_short_and_points_at_command_help(self):
        for args in (("--help",), ("help",), ()):
            r = gx(*args)
            if not args:  # no command: a usage error that points at the help
                self.assertEqual(r.returncode, 64)
                continue
            self.assertEqual(r.returncode, 0)
            text = r.stdout.decode()
            self.assertIn("gongxu help COMMAND", text)
            self.assertIn("Exit status:", text)
            self.assertLess(len(text.splitlines()), 90)
            self.assertNotIn("--max-suppliers", text)  # flags live on the command's page
        r = gx("help", "frobnicate")
        self.assertEqual(r.returncode, 64)
        self.assertIn(b'no command "frobnicate"', r.stderr)


class Keys(SeededBroker):
    """Operator-only commands without --operator, and key files open to others."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = {"GONGXU_SERVER": cls.broker.endpoint,
                   "GONGXU_SERVER_KEY": os.path.join(cls.broker.data_dir, "broker.pub"),
                   "GONGXU_OPERATOR_KEY": os.path.join(cls.broker.data_dir, "operator.key")}

    def test_operator_only_commands_name_operator(self):
        pub = os.path.join(self.broker.data_dir, "broker.pub")
        cases = [(("stats",), "statistics need the operator key: add --operator"),
                 (("register", "--id", ANCHOR, "--name", "x", "--county", "410611"),
                  "registering a firm needs the operator key: add --operator"),
                 (("register-key", ANCHOR, pub), "registering a key needs the operator key: add --operator"),
                 (("revoke-key", pub), "revoking a key needs the operator key: add --operator"),
                 (("admin", "backup", "/tmp/nowhere"), "a backup needs the operator key: add --operator")]
        for args, words in cases:
            r = gx(*args, env=self.env)
            self.assertEqual(r.returncode, 64, (args, r.stderr))
            self.assertIn(words, r.stderr.decode(), args)
            self.assertNotIn("key pair too", r.stderr.decode())
        r = gx("--operator", "stats", env=self.env)  # and with it, it works
        self.assertEqual(r.returncode, 0, r.stderr)
        # a firm's key is refused by the broker, and told what would do
        r = gx("--key", self.broker.keyfile(ANCHOR), "stats", env=self.env)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn(b"statistics need the operator key: --operator", r.stderr)

    def test_operator_without_an_operator_key_says_where_it_is(self):
        env = dict(self.env)
        del env["GONGXU_OPERATOR_KEY"]
        r = gx("--operator", "stats", env=env)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"--operator needs the operator's key pair", r.stderr)
        self.assertIn(b"$GONGXU_OPERATOR_KEY", r.stderr)

    def test_key_file_readable_by_others_is_warned_about(self):
        tmp = tempfile.mkdtemp(dir=self.broker.tmp)
        with open(self.broker.keyfile(ANCHOR)) as f:
            text = f.read()
        for mode, words in ((0o644, "readable by others (mode 0644)"), (0o640, "readable by its group (mode 0640)")):
            path = os.path.join(tmp, "anchor-%o.key" % mode)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
            r = gx("--key", path, "ping", env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr)  # it goes on
            self.assertIn("WARNING: key file %s is %s; chmod 600 %s" % (path, words, path), r.stderr.decode())
        os.chmod(path, 0o600)
        r = gx("--key", path, "ping", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(b"WARNING", r.stderr)

    def test_expired_certificate_is_registered_with_a_warning(self):
        from gxharness import uscc
        firm = uscc("91410611MA47EXPD1")
        r = gx("--operator", "register", "--id", firm, "--name", "Expired Works", "--county", "410611",
               "--cert", "ISO9001:Q-1:2020-01-31", "--cert", "IATF16949:I-2:2099-12-31", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        err = r.stderr.decode()
        self.assertIn("warning: certificate ISO9001 no. Q-1 expired on 2020-01-31", err)
        self.assertIn("will not count for matching", err)
        self.assertNotIn("IATF16949", err)
        r = gx("--operator", "firm", firm, env=self.env)
        self.assertIn(b"ISO9001", r.stdout)  # registered all the same


if __name__ == "__main__":
    main()
