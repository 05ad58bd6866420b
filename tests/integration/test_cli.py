"""The gongxu CLI against a real broker: exit codes, JSON Lines, --file input,
bounded watch runs, and clear messages for bad command lines."""
import json
import os
import subprocess
import tempfile

from gxharness import ANCHOR, SME_CERT, GONGXU, SeededBroker, main, pb, run_cli


class Cli(SeededBroker):
    def gx(self, *args, firm=None, server=None, stdin=None):
        return run_cli(self.broker, *args, firm=firm, server=server, stdin=stdin)

    def test_post_from_json_file_and_list_as_json(self):
        demand = {"kind": "PARTS_SUPPLY", "industry": "C3670", "processes": ["casting.die.magnesium"],
                  "quantity": 800, "unit": "pcs", "neededBy": "2030-01-31", "title": "from a file",
                  "certifications": ["IATF 16949"]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(demand, f)
        try:
            r = self.gx("--json", "post", "demand", "--file", f.name, firm=ANCHOR)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout.decode().strip().splitlines()[-1])
        posted = reply.get("posting") or reply.get("reply", {}).get("posting")
        self.assertIsNotNone(posted, reply)
        r = self.gx("--json", "list", firm=ANCHOR)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
        text = json.dumps(lines)
        self.assertIn("from a file", text)
        self.assertIn("IATF16949", text)  # the alias was stored as the canonical id

    def test_exit_codes(self):
        r = self.gx("post", "demand", "--kind", "parts_supply", "--industry", "C9999", "--quantity", "1",
                    "--needed-by", "2030-01-01", firm=ANCHOR)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn(b"UNKNOWN_CODE", r.stderr)
        self.assertIn(b"C9999", r.stderr)
        r = self.gx("stats", firm=ANCHOR)
        self.assertEqual(r.returncode, 77, r.stderr)
        r = self.gx("show", "999999", firm=ANCHOR)
        self.assertEqual(r.returncode, 1, r.stderr)
        r = self.gx("post", "demand", "--quantity", "lots", firm=ANCHOR)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"see gongxu help post demand", r.stderr)
        r = self.gx("frobnicate", firm=ANCHOR)
        self.assertEqual(r.returncode, 64)
        r = self.gx("post", "demand", "--file", "/nonexistent.json", firm=ANCHOR)
        self.assertEqual(r.returncode, 66)
        r = self.gx("--timeout", "1", "ping", firm=ANCHOR, server="tcp://127.0.0.1:9")
        self.assertEqual(r.returncode, 69)
        r = self.gx("--operator", "stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"firms", r.stdout)

    def test_watch_is_bounded_and_json_lines(self):
        r = self.gx("watch", "--count", "1", "--timeout", "1", firm=SME_CERT)
        self.assertEqual(r.returncode, 75)  # --count not reached within --timeout
        r = self.gx("watch", "--timeout", "1", firm=SME_CERT)
        self.assertEqual(r.returncode, 0)  # no --count: the timeout is the plan
        self.broker.client(ANCHOR).call(post_demand=pb.PostDemand(demand=pb.Demand(
            kind=pb.PROCESSING, industry="C3670", processes=["surface.anodizing"], quantity=10,
            needed_by="2030-01-01", title="anodizing")))
        self.broker.client(SME_CERT).call(subscribe=pb.Subscribe(subscription=pb.Subscription(
            kinds=[pb.PROCESSING])))
        r = self.gx("--json", "watch", "--count", "1", "--timeout", "5", firm=SME_CERT)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().strip().splitlines()
        self.assertEqual(len(lines), 1)
        notice = json.loads(lines[0])
        self.assertIn("opportunity", json.dumps(notice))
        self.assertIn("anodizing", json.dumps(notice))
        # watch acked it: a second watch sees nothing new
        r = self.gx("--json", "watch", "--timeout", "1", firm=SME_CERT)
        self.assertEqual(r.stdout.decode().strip(), "")

    def test_keygen_register_and_revoke_key(self):
        tmp = tempfile.mkdtemp()
        base = os.path.join(tmp, "firm")
        r = self.gx("keygen", base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(base + ".key").st_mode & 0o777, 0o600)
        self.assertEqual(self.gx("keygen", base).returncode, 73)  # never overwrites a key
        r = self.gx("--operator", "register-key", SME_CERT, base + ".pub")
        self.assertEqual(r.returncode, 0, r.stderr)
        cmd = lambda *a: subprocess.run([GONGXU, "-s", self.broker.endpoint, "--timeout", "2", "--key", base + ".key"]
                                        + list(a), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=dict(os.environ, GONGXU_SERVER_KEY=os.path.join(
                                            self.broker.data_dir, "broker.pub")), timeout=30)
        self.assertEqual(cmd("ping").returncode, 0)
        r = self.gx("--operator", "revoke-key", base + ".pub")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cmd("ping")
        self.assertEqual(r.returncode, 69)  # refused at the handshake: looks unreachable, with a hint
        r = self.gx("register-key", SME_CERT, base + ".pub", firm=SME_CERT)
        self.assertEqual(r.returncode, 77)  # only operators manage keys

    def test_admin_backup(self):
        dest = os.path.join(tempfile.mkdtemp(), "copy")
        r = self.gx("--operator", "admin", "backup", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"backup written to", r.stdout)
        self.assertTrue(os.path.getsize(os.path.join(dest, "data.mdb")) > 0)
        r = self.gx("--operator", "admin", "backup", dest)
        self.assertEqual(r.returncode, 65)  # CONFLICT: never over an existing backup
        r = self.gx("admin", "backup", dest + "2", firm=SME_CERT)
        self.assertEqual(r.returncode, 77)

    def test_help_has_examples(self):
        r = subprocess.run([GONGXU, "--help"], stdout=subprocess.PIPE)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"Examples", r.stdout)
        self.assertIn(b"keygen", r.stdout)
        self.assertIn(b"Exit status:", r.stdout)


if __name__ == "__main__":
    main()
