"""What operators read, against a real gongxud: /metrics (checked by Debian's
promtool), /healthz and /readyz, the dashboard's JSON snapshot (industry map,
unmet demand), /events with Last-Event-ID replay, `gongxu stats` by date
range, the loopback-only HTTP bind, and the sd_notify protocol."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from gxharness import (ANCHOR, BIN, GONGXUD, SME_CERT, SME_PLAIN, Broker, Notified, main, mg_demand,
                       mg_offer, pb, seed_walkthrough_firms)

GONGXU = os.path.join(BIN, "gongxu")


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def metric(text, name, **labels):
    """The value of one sample, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted(m.group(2).split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


class SSE:
    """A minimal /events reader over http.client, bounded by timeouts."""

    def __init__(self, base, last_id=None):
        host, port = base.split("//")[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=5)
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", "/events", headers=headers)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        assert self.resp.getheader("Content-Type").startswith("text/event-stream")

    def events(self, count, timeout=5.0):
        """Reads until count events (not comments) arrived; returns [(id, type, data)]."""
        out, cur = [], {}
        deadline = time.time() + timeout
        while len(out) < count:
            if time.time() > deadline:
                raise AssertionError("only %d of %d events: %r" % (len(out), count, out))
            line = self.resp.fp.readline().decode()
            if not line:
                raise AssertionError("stream ended after %r" % out)
            line = line.rstrip("\n")
            if line == "":
                if "data" in cur:
                    out.append((int(cur["id"]) if "id" in cur else None, cur.get("event", "message"),
                                json.loads(cur["data"])))
                cur = {}
            elif not line.startswith(":") and ":" in line:
                k, v = line.split(":", 1)
                cur[k] = v[1:] if v.startswith(" ") else v
        return out

    def close(self):
        self.conn.close()


class Operations(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(extra_args=["-o", "events_replay=16"]).start()
        self.base = self.broker.http
        self.assertTrue(self.base and self.base.startswith("http://127.0.0.1:"), self.base)
        self.op = self.broker.client(operator=True)
        seed_walkthrough_firms(self.op)
        self.anchor = self.broker.client(ANCHOR)
        self.plain = self.broker.client(SME_PLAIN)
        self.cert = self.broker.client(SME_CERT)
        for c in (self.anchor, self.plain, self.cert):
            c.resume(from_last_ack=True)

    def tearDown(self):
        for c in (self.op, self.anchor, self.plain, self.cert):
            c.close()
        self.broker.stop()
        self.broker.cleanup()

    def test_metrics_pass_promtool_and_count_what_happened(self):
        self.plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand()))
        with self.assertRaises(Exception):
            self.anchor.call(get_posting=pb.GetPosting(posting_id=999999))
        self.anchor.drain()
        status, ctype, text = get(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is required")
        r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        self.assertEqual(metric(text, "gongxu_requests_total", type="post_demand", outcome="ok"), 1)
        self.assertEqual(metric(text, "gongxu_requests_total", type="post_offer", outcome="ok"), 2)
        self.assertEqual(metric(text, "gongxu_requests_total", type="get_posting", outcome="not_found"), 1)
        self.assertEqual(metric(text, "gongxu_postings_open", side="demand", kind="parts_supply"), 1)
        self.assertEqual(metric(text, "gongxu_postings_open", side="offer", kind="parts_supply"), 2)
        self.assertEqual(metric(text, "gongxu_matches"), 1)
        self.assertEqual(metric(text, "gongxu_matches_total"), 1)
        self.assertEqual(metric(text, "gongxu_near_misses"), 1)
        self.assertEqual(metric(text, "gongxu_firms"), 3)
        self.assertGreaterEqual(metric(text, "gongxu_commit_duration_seconds_count"), 4)
        self.assertGreater(metric(text, "gongxu_notice_latency_seconds_count"), 0)
        self.assertGreater(metric(text, "gongxu_lmdb_map_used_bytes"), 0)
        self.assertGreaterEqual(metric(text, "gongxu_sessions"), 4)
        self.assertEqual(metric(text, "gongxu_ready"), 1)
        self.assertEqual(metric(text, "gongxu_build_info", version=re.search(r'version="([^"]+)"', text).group(1)), 1)
        # no firm or posting ids as labels
        for fid in (ANCHOR, SME_CERT, SME_PLAIN):
            self.assertNotIn(fid, text)
        self.assertIsNone(re.search(r'(demand|offer|posting|firm)_id=', text))

    def test_health_and_readiness(self):
        self.assertEqual(get(self.base + "/healthz")[:1], (200,))
        status, _, body = get(self.base + "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        status, _, body = get(self.base + "/nope")
        self.assertEqual(status, 404)
        req = urllib.request.Request(self.base + "/metrics", data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(cm.exception.code, 405)

    def test_snapshot_names_the_missing_capability(self):
        # the only offer lacks IATF 16949: the anchor's demand is unmet, for want of it
        self.plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
        d = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting
        self.assertEqual(d.candidates, 0)
        status, ctype, body = get(self.base + "/api/snapshot")
        self.assertEqual((status, ctype), (200, "application/json"))
        snap = json.loads(body)
        self.assertTrue(snap["ready"])
        self.assertEqual(snap["totals"]["demands_open"], 1)
        self.assertEqual(snap["totals"]["demands_unmatched"], 1)
        self.assertEqual(len(snap["unmet"]), 1)
        u = snap["unmet"][0]
        self.assertEqual((u["rule"], u["need"], u["district"], u["demands"], u["near_misses"]),
                         ("certification", "IATF16949", "hebi.etdz", 1, 1))
        self.assertIn("IATF16949", u["text"])
        # and in both languages, for the dashboard (text, need and the ids stay as they were)
        self.assertEqual((u["district_name_zh"], u["district_name_en"], u["process_name_zh"]),
                         ("鹤壁经济技术开发区", "Hebi Economic and Technological Development Zone", "镁合金压铸"))
        self.assertEqual(u["need_terms"], [{"id": "IATF16949", "name_zh": "汽车质量管理体系",
                                            "name_en": "IATF 16949 automotive quality management"}])
        self.assertEqual(u["need_args"], {})
        cells = {(c["chain"], c["district"]): c for c in snap["industry_map"]}
        self.assertEqual(cells[("C36", "hebi.etdz")]["demands_open"], 1)
        self.assertEqual(cells[("C36", "410611")]["offers_open"], 1)
        self.assertEqual(cells[("C36", "hebi.etdz")]["match_rate"], 0)
        self.assertEqual((cells[("C36", "hebi.etdz")]["name_zh"], cells[("C36", "hebi.etdz")]["name_en"]),
                         ("汽车制造业", "Manufacture of motor vehicles"))
        self.assertEqual([x["id"] for x in snap["districts"]][-2:], ["city", "other"])
        names = {x["id"]: (x["name_zh"], x["name_en"], x["name"]) for x in snap["districts"]}
        self.assertEqual(names["410611"], ("淇滨区", "Qibin District", "Qibin District"))
        self.assertEqual(names["hebi.etdz"][0], "鹤壁经济技术开发区")
        self.assertEqual(names["hebi.urdz"][0], "鹤壁市城乡一体化示范区")
        self.assertEqual(sum(m["postings"] for m in snap["flow"]), 2)
        # the broker's own figures, as /metrics has them
        br = snap["broker"]
        self.assertEqual(br["requests"]["post_demand"], {"ok": 1})
        self.assertEqual(br["requests"]["post_offer"], {"ok": 1})
        self.assertGreaterEqual(br["commits"], 2)
        self.assertGreater(br["commit_duration_s"]["count"], 0)
        self.assertIsNotNone(br["commit_duration_s"]["p99_le"])
        self.assertGreater(br["lmdb"]["map_used_bytes"], 0)
        self.assertGreater(br["notices_written"], 0)
        # the certified caster arrives: the demand is met, the unmet table empties (a
        # snapshot may be served again for up to ten times what it cost to make)
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
        deadline = time.time() + 5
        while True:
            snap = json.loads(get(self.base + "/api/snapshot")[2])
            kinds = {k["kind"]: k for k in snap["by_kind"]}
            if (snap["unmet"] == [] and kinds["parts_supply"]["demands_matched"] == 1) or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(snap["unmet"], [])
        # time to first match and fill rate by kind (the last 30 days)
        self.assertEqual(len(kinds), 5)
        pk = kinds["parts_supply"]
        self.assertEqual((pk["demands_posted"], pk["demands_matched"], pk["fill_rate"], pk["offers_posted"]),
                         (1, 1, 1.0, 2))
        self.assertGreaterEqual(pk["ttfm_p50_s"], 0)
        self.assertEqual(pk["ttfm_p50_s"], pk["ttfm_mean_s"])
        self.assertEqual(kinds["processing"]["demands_posted"], 0)
        self.assertIsNone(kinds["processing"]["ttfm_p50_s"])
        self.assertEqual(snap["totals"]["matches"], 1)
        self.assertEqual({(c["chain"], c["district"]): c["match_rate"] for c in snap["industry_map"]}
                         [("C36", "hebi.etdz")], 1.0)
        self.assertEqual(sum(m["matches"] for m in snap["flow"]), 1)

    def test_events_stream_and_replay(self):
        s = SSE(self.base)
        try:
            self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
            d = self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand())).posting
            evs = s.events(1)
            while not {"demand", "match"} <= {t for _, t, _ in evs}:
                evs += s.events(1)
        finally:
            s.close()
        types = [t for _, t, _ in evs]
        self.assertEqual(types[0], "offer")
        ids = [i for i, _, _ in evs]
        self.assertEqual(ids, sorted(ids))
        match = [e for _, t, e in evs if t == "match"][0]
        self.assertEqual((match["demand_id"], match["kind"], match["industry"], match["district"]),
                         (d.id, "parts_supply", "C3670", "hebi.etdz"))
        self.assertGreater(match["score"], 0)
        # reconnecting after the first event replays what followed it
        s = SSE(self.base, last_id=ids[0])
        try:
            again = s.events(2)
        finally:
            s.close()
        self.assertEqual([i for i, _, _ in again], ids[1:3])
        # beyond the replay buffer (events_replay=16) the stream says what was lost
        for _ in range(20):
            self.plain.call(post_offer=pb.PostOffer(offer=mg_offer()))
        s = SSE(self.base, last_id=ids[0])
        try:
            first = s.events(2)
        finally:
            s.close()
        self.assertEqual(first[0][1], "gap")
        self.assertEqual(first[0][2]["missed_from"], ids[0] + 1)
        self.assertEqual(first[1][0], first[0][2]["resumes_at"])

    def test_stats_by_date_range_over_zeromq(self):
        self.cert.call(post_offer=pb.PostOffer(offer=mg_offer()))
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand()))
        self.anchor.call(post_demand=pb.PostDemand(demand=mg_demand(certifications=["ISO14001"])))
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
        args = [GONGXU, "-s", self.broker.endpoint, "--server-key", self.broker.server_key,
                "--key", os.path.join(self.broker.data_dir, "operator.key"), "--operator"]
        r = subprocess.run(args + ["stats", "--from", today, "--to", today, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        stats = json.loads(r.stdout.decode().splitlines()[0])["stats"]
        rows = {(x["district"], x["chain"], x.get("kind")): x for x in stats["rows"]}
        dem = rows[("hebi.etdz", "C36", "PARTS_SUPPLY")]
        self.assertEqual((dem["demandsPosted"], dem.get("demandsMatched"), dem.get("demandsMatchedLocal")),
                         ("2", "1", "1"))
        self.assertEqual(dem["fillRate"], 0.5)
        self.assertGreaterEqual(dem.get("ttfmP50S", 0), 0)  # proto3 JSON leaves out zeros
        self.assertGreaterEqual(dem.get("ttfmMeanS", 0), 0)
        self.assertEqual(rows[("410611", "C36", "PARTS_SUPPLY")]["offersPosted"], "1")
        # text form, a filter that leaves nothing, and a bad range
        r = subprocess.run(args + ["stats", "--from", today, "--district", "hebi.etdz"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("hebi.etdz", r.stdout.decode())
        self.assertNotIn("\n410611 ", r.stdout.decode())
        r = subprocess.run(args + ["stats", "--from", "2001-01-01", "--to", "2001-01-31", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("rows", json.loads(r.stdout.decode().splitlines()[0])["stats"])
        r = subprocess.run(args + ["stats", "--from", "2026-02-30"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 64)
        self.assertIn("--from", r.stderr.decode())
        # the broker checks too
        with self.assertRaises(Exception) as cm:
            self.op.call(get_stats=pb.GetStats(**{"from": "2026-05-02", "to": "2026-05-01"}))
        self.assertIn("before", str(cm.exception))
        # not for firms
        with self.assertRaises(Exception):
            self.anchor.call(get_stats=pb.GetStats(breakdown=True))


class Binding(unittest.TestCase):
    def run_broker(self, *args):
        tmp = tempfile.mkdtemp(prefix="gx.http.", dir=os.environ.get("GX_TEST_TMP"))
        try:
            return subprocess.run([GONGXUD, "-d", os.path.join(tmp, "data"), "-l", "tcp://127.0.0.1:*", "-m", ""]
                                  + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_non_loopback_http_is_refused_unless_allowed(self):
        for addr in ("0.0.0.0:7452", "[::]:7452", "10.1.2.3:80"):
            r = self.run_broker("-o", "http_listen=" + addr)
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn(b"not a loopback address", r.stderr)
            self.assertIn(b"http_allow_remote", r.stderr)
        r = self.run_broker("-o", "http_listen=0.0.0.0:7452", "-o", "http_allow_remote=true", "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        for bad in ("127.0.0.1", "127.0.0.1:99999", "example.com:80", "[::1]7452"):
            r = self.run_broker("-o", "http_listen=" + bad)
            self.assertEqual(r.returncode, 78, (bad, r.stderr))
            self.assertIn(b"http_listen", r.stderr)

    def test_http_can_be_turned_off(self):
        with Broker(extra_args=["-o", "http_listen="]) as b:
            self.assertIsNone(b.http)
            self.assertIsNotNone(b.client(operator=True).call(ping=pb.Ping()))


class Notify(unittest.TestCase):
    """systemd's sd_notify protocol, with a datagram socket standing in for systemd."""

    def test_ready_reloading_stopping(self):
        with Notified() as n:
            ready = n.until("READY=1")
            self.assertIn("MAINPID=%d" % n.proc.pid, ready)
            self.assertIn("STATUS=serving", ready)
            n.proc.send_signal(signal.SIGHUP)
            reloading = n.until("READY=1")
            msgs = n.messages
            self.assertTrue(any(m.startswith("RELOADING=1") and "MONOTONIC_USEC=" in m for m in msgs), msgs)
            self.assertLess(msgs.index([m for m in msgs if m.startswith("RELOADING=1")][-1]), msgs.index(reloading))
            n.proc.send_signal(signal.SIGTERM)
            n.until("STOPPING=1")
            self.assertEqual(n.proc.wait(timeout=15), 0)


if __name__ == "__main__":
    main()
