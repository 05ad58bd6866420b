#!/usr/bin/python3
"""gen_seeds.py — writes the seed corpora and dictionaries of the fuzz targets.

Usage, from the repository root after a normal build (it needs the generated
build/python/gongxu/v1/gongxu_pb2.py and build/gongxud):

    /usr/bin/python3 tests/fuzz/gen_seeds.py [BUILD_DIR]

It rewrites the files it owns under tests/fuzz/corpus/ and tests/fuzz/dict/ and
leaves any other file there alone. The output is committed; run this again when the
proto, the configuration keys or the vocabulary format change, and commit the result.
Seeds are deterministic: the same inputs give the same bytes.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
from google.protobuf import json_format  # noqa: E402
from gongxu.v1 import gongxu_pb2 as pb  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
DICT = os.path.join(HERE, "dict")

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(body17):
    """The 18-character code for a 17-character body (GB 32100-2015 check)."""
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return body17 + USCC_CHARS[(31 - total % 31) % 31]


ANCHOR = uscc("91410600MA44ANCH0")
SME = uscc("91410611MA45QBMG1")


def write(target, name, data):
    path = os.path.join(CORPUS, target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ messages

def firm():
    f = pb.Firm(id=SME, name="Qibin Magnesium Die Casting 淇滨镁合金压铸", county="410611",
                zone="", credit=pb.CREDIT_B, contact="Zhang Min, +86 392 000 0002")
    f.roles.append(pb.SME)
    f.location.lat, f.location.lon = 35.75, 114.30
    f.certifications.add(scheme="IATF16949", number="IATF-0412", valid_until="2028-06-30")
    f.certifications.add(scheme="ISO9001", number="Q-1077", valid_until="2028-06-30")
    return f


def anchor():
    f = pb.Firm(id=ANCHOR, name="Hebi Auto Electronics", county="410611", zone="hebi.etdz",
                credit=pb.CREDIT_A, contact="Li Wei, procurement")
    f.roles.append(pb.ANCHOR)
    return f


def demand():
    d = pb.Demand(kind=pb.PARTS_SUPPLY, industry="C3670", quantity=5000, unit="pcs",
                  needed_by="2027-03-25", scope=pb.THREE_DISTRICTS, title="Magnesium ECU housings",
                  summary="AZ91D housings for an engine control unit",
                  details="Drawing MG-42 rev C; flatness 0.05 mm; PPAP level 3")
    d.processes.append("casting.die.magnesium")
    d.materials.append("AZ91D")
    d.certifications.append("IATF16949")
    d.budget.min, d.budget.max = 10, 12.5
    return d


def tech_demand():
    d = pb.Demand(kind=pb.TECH_TRANSFER, industry="3670", quantity=1, unit="licence",
                  needed_by="2027-12-31", scope=pb.SAME_PROVINCE, min_trl=6, splittable=True,
                  max_suppliers=2, max_distance_km=150, min_credit=pb.CREDIT_B,
                  title="Micro-arc oxidation know-how", expires_at=1830000000)
    d.ipc.extend(["C25D 11/02", "h01l21/02"])
    d.modes.extend([pb.LICENCE, pb.JOINT_DEVELOPMENT])
    return d


def offer():
    o = pb.Offer(industries=["C3670"], processes=["casting.die.magnesium"], materials=["AZ91D"],
                 monthly_capacity=20000, min_order=500, lead_time_days=20,
                 service_scope=pb.SAME_CITY, service_radius_km=80,
                 title="Magnesium die casting, 280-800 t cells", summary="Two Buhler cells")
    o.kinds.extend([pb.PARTS_SUPPLY, pb.PROCESSING])
    o.price.min, o.price.max = 9, 14
    return o


def tech_offer():
    o = pb.Offer(industries=["C33"], ipc=["C25D 11/02"], trl=7, title="MAO coating licence")
    o.kinds.append(pb.TECH_TRANSFER)
    o.modes.append(pb.LICENCE)
    return o


def sub():
    s = pb.Subscription(industry_prefixes=["C36"], process_prefixes=["casting"],
                        districts=["410611", "hebi.etdz"])
    s.kinds.append(pb.PARTS_SUPPLY)
    return s


def env(request_id, **body):
    e = pb.Envelope(version=1, request_id=request_id)
    (name, msg), = body.items()
    getattr(e, name).CopyFrom(msg)
    return e


def envelopes():
    """One Envelope of every request type, and a few the broker refuses."""
    upd_d = demand()
    upd_d.id, upd_d.revision = 3, 1
    upd_o = offer()
    upd_o.id = 1
    out = {
        "hello": env(1, hello=pb.Hello(firm_id=SME, client="gongxu-cli/0.1")),
        "hello_operator": env(2, hello=pb.Hello(operator=True, client="fuzz seed")),
        "register_firm": env(3, register_firm=pb.RegisterFirm(firm=firm())),
        "register_anchor_override": env(4, register_firm=pb.RegisterFirm(firm=anchor(), override_check=True)),
        "get_firm": env(5, get_firm=pb.GetFirm(firm_id=ANCHOR)),
        "post_demand": env(6, post_demand=pb.PostDemand(demand=demand())),
        "post_demand_tech": env(7, post_demand=pb.PostDemand(demand=tech_demand())),
        "post_offer": env(8, post_offer=pb.PostOffer(offer=offer())),
        "post_offer_tech": env(9, post_offer=pb.PostOffer(offer=tech_offer())),
        "update_demand": env(10, update_demand=pb.UpdateDemand(demand=upd_d)),
        "update_offer": env(11, update_offer=pb.UpdateOffer(offer=upd_o)),
        "withdraw": env(12, withdraw=pb.Withdraw(posting_id=3)),
        "subscribe": env(13, subscribe=pb.Subscribe(subscription=sub())),
        "interest": env(14, interest=pb.Interest(demand_id=3, offer_id=1,
                                                 message="Tooling can start in two weeks")),
        "accept": env(15, accept=pb.Accept(demand_id=3, firm_id=SME)),
        "decline": env(16, decline=pb.Decline(demand_id=3, firm_id=SME, reason="capacity too small")),
        "award": env(17, award=pb.Award(demand_id=3, firm_id=SME, quantity=2500)),
        "ack": env(18, ack=pb.Ack(seq=42)),
        "resume": env(19, resume=pb.Resume(after_seq=7)),
        "resume_from_last_ack": env(20, resume=pb.Resume(from_last_ack=True)),
        "get_shortlist": env(21, get_shortlist=pb.GetShortlist(demand_id=3)),
        "get_posting": env(22, get_posting=pb.GetPosting(posting_id=1)),
        "list_postings": env(23, list_postings=pb.ListPostings(include_closed=True)),
        "get_stats": env(24, get_stats=pb.GetStats()),
        "ping": env(2**64 - 1, ping=pb.Ping()),
        "find_codes": env(28, find_codes=pb.FindCodes(text="magnesium", code_class=pb.CODE_PROCESS, limit=20)),
        "find_codes_zh": env(29, find_codes=pb.FindCodes(text="压铸")),
        # refused: a reply sent to the broker, a future version, no body
        "refused_reply": env(25, reply=pb.Reply(pong=pb.Ping())),
        "refused_version2": pb.Envelope(version=2, request_id=26, ping=pb.Ping()),
        "refused_no_body": pb.Envelope(version=1, request_id=27),
    }
    # requests that only some versions of the proto have
    fields = pb.Envelope.DESCRIPTOR.fields_by_name
    key = "rq7cT0BVTiGd*wd3W5D[=4uoAv/Fd9{yqRWk]XLQ"  # a made-up Z85 key, 40 characters
    if "register_key" in fields:
        out["register_key"] = env(28, register_key=pb.RegisterKey(firm_id=SME, public_key=key))
    if "revoke_key" in fields:
        out["revoke_key"] = env(29, revoke_key=pb.RevokeKey(public_key=key))
    return out


def records():
    """Stored records as the store holds them (broker-maintained fields set)."""
    d = demand()
    d.id, d.revision, d.state, d.owner = 3, 2, pb.OPEN, ANCHOR
    d.created_at, d.expires_at, d.original_quantity = 1795665600, 1803441600, 5000
    o = offer()
    o.id, o.revision, o.state, o.owner = 1, 1, pb.OPEN, SME
    o.created_at, o.expires_at = 1795665600, 1803441600
    s = sub()
    s.id, s.owner = 4, SME
    f = firm()
    f.awards = 3
    closed = tech_demand()
    closed.id, closed.revision, closed.state, closed.owner = 5, 1, pb.AWARDED, ANCHOR
    return {"record_firm": f, "record_demand": d, "record_demand_awarded": closed,
            "record_offer": o, "record_subscription": s}


# ------------------------------------------------------------------ corpora

def gen_envelope():
    for name, m in envelopes().items():
        write("envelope", name + ".bin", m.SerializeToString(deterministic=True))
    for name, m in records().items():
        write("envelope", name + ".bin", m.SerializeToString(deterministic=True))


def json_text(m, snake=False):
    return json_format.MessageToJson(m, preserving_proto_field_name=snake, indent=1, sort_keys=True)


def gen_json():
    # The first byte selects the type (fuzz_json.c): d Demand, e Envelope, f Firm, o Offer.
    write("json", "demand.in", "d" + json_text(demand()))
    write("json", "demand_tech_snake_case.in", "d" + json_text(tech_demand(), snake=True))
    write("json", "demand_numbers_as_strings.in",
          'd{"kind": 1, "industry": "C3670", "quantity": "5000", "expiresAt": 1830000000,'
          ' "minTrl": "0", "budget": {"min": "NaN", "max": "Infinity"}, "processes": null}')
    write("json", "offer.in", "o" + json_text(offer()))
    write("json", "offer_tech.in", "o" + json_text(tech_offer()))
    write("json", "firm.in", "f" + json_text(firm()))
    write("json", "firm_anchor_snake_case.in", "f" + json_text(anchor(), snake=True))
    for name in ("post_demand", "post_offer", "register_firm", "subscribe", "award", "ping", "hello"):
        write("json", "envelope_%s.in" % name, "e" + json_text(envelopes()[name]))
    write("json", "refused_unknown_field.in", 'd{"kind": "PARTS_SUPPLY", "colour": "red"}')
    write("json", "refused_twice.in", 'o{"minOrder": 1, "min_order": 2}')
    write("json", "refused_two_oneof_members.in", 'e{"version": 1, "ping": {}, "getStats": {}}')
    write("json", "allow_nul_string.in", 't{"title": "a\\u0000b", "quantity": 1}')  # 't' = 'd' | 0x10


def gen_config():
    dump = subprocess.run([os.path.join(BUILD, "gongxud"), "--dump-config"], check=True,
                          capture_output=True, text=True).stdout
    write("config", "dump_defaults.conf", dump)
    write("config", "example.conf",
          "# gongxud.conf\n"
          "listen = tcp://127.0.0.1:7450\n"
          "monitor = \"\"\n"
          "data_dir = /var/lib/gongxu\n"
          "vocabulary = /etc/gongxu/vocabulary.tsv\n"
          "log_level = notice\n"
          "shortlist_k = 20   # longer shortlists\n"
          "near_miss_max = 0\n")
    write("config", "weights.conf",
          "weight_industry = 0\nweight_process = 0\nweight_distance = 62.5\nweight_credit = 1e1\n"
          "weight_capacity = 0.5\nweight_lead_time = 0\nweight_price = 1000\nweight_track_record = 0\n"
          "distance_full_km = 20000\n")
    write("config", "limits_crlf.conf",
          "max_frame_bytes = 1024\r\nmax_string_bytes = 16\r\nmax_text_bytes = 64\r\n"
          "max_repeated = 1\r\nbatch_max = 65536\r\nhwm = 10\r\nno_sync = yes\r\n"
          "utc_offset_minutes = -720\r\n")
    write("config", "quoted.conf",
          "data_dir = \"  spaced dir  \"\nlisten = \"\"\"\nlog_level = \"7\"\nmonitor=ipc:///tmp/m\n")
    write("config", "refused_map.conf", "map_size_mb = 2048\nmap_max_mb = 1024\n")
    write("config", "refused_key.conf", "# typo\nshortlist-k = 10\n")
    write("config", "refused_range.conf", "expiry_interval_ms = 9\n")


def vocab_lines():
    with open(os.path.join(ROOT, "src", "data", "vocabulary.tsv"), encoding="utf-8") as f:
        return f.read().split("\n")


def vocab_slice():
    """The header and a self-consistent part of the real vocabulary: die casting, the
    automotive-electronics industries, Hebi's counties and zones, every scheme."""
    lines = vocab_lines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    keep = []
    for line in lines:
        f = line.split("\t")
        if len(f) < 2 or line.startswith("#"):
            continue
        cls, ident = f[0], f[1]
        if ((cls == "process" and ident.split(".")[0] in ("casting", "surface")) or
                (cls == "material" and ident.split(".")[:3] in (["material"], ["material", "metal"],
                                                                 ["material", "metal", "magnesium"])) or
                (cls == "industry" and (ident in ("C", "C33", "C36", "C39") or
                                        ident.startswith(("C336", "C367", "C397")))) or
                (cls == "county" and (ident.startswith("4106") or ident == "410000")) or
                cls in ("zone", "cert")):
            keep.append(line)
    return "\n".join(header[:12] + keep) + "\n"


def gen_vocab():
    T = "\t"
    write("vocab", "slice_of_vocabulary.tsv", vocab_slice())
    write("vocab", "tiny.tsv",
          "# a small but complete vocabulary\n"
          "process" + T + "casting" + T + "铸造" + T + "Casting\n"
          "process" + T + "casting.die" + T + "压铸" + T + "Die casting" + T + "HPDC, die-casting\n"
          "process" + T + "casting.die.magnesium" + T + "镁合金压铸" + T + "Magnesium die casting\n"
          "material" + T + "magnesium" + T + "镁合金" + T + "Magnesium alloy" + T + "Mg\n"
          "material" + T + "magnesium.az91d" + T + "AZ91D镁合金" + T + "AZ91D" + T + "AZ91, ASTM AZ91D\n"
          "industry" + T + "C" + T + "制造业" + T + "Manufacturing\n"
          "industry" + T + "C36" + T + "汽车制造业" + T + "Manufacture of automobiles\n"
          "industry" + T + "C367" + T + "汽车零部件及配件制造" + T + "Auto parts\n"
          "industry" + T + "C3670" + T + "汽车零部件及配件制造" + T + "Auto parts\n"
          "county" + T + "410611" + T + "淇滨区" + T + "Qibin District" + T + "Qibin" + T + T + "three\n"
          "zone" + T + "hebi.etdz" + T + "鹤壁经济技术开发区" + T + "Hebi ETDZ" + T + "ETDZ" + T + "410611"
          + T + "three\n"
          "cert" + T + "IATF16949" + T + "汽车质量管理体系" + T + "IATF 16949" + T + "TS16949\n")
    write("vocab", "crlf_bom.tsv",
          "\ufeff# CRLF and a byte-order mark\r\n"
          "cert" + T + "ISO9001" + T + "质量管理体系" + T + "ISO 9001" + T + " ISO-9001 , GB/T19001 \r\n"
          "county" + T + "410600" + T + "鹤壁市" + T + "Hebi\r\n"
          "  # indented comment\r\n\r\n")
    write("vocab", "refused_missing_parent.tsv",
          "process" + T + "casting.die" + T + "压铸" + T + "Die casting\n")
    write("vocab", "refused_duplicate_alias.tsv",
          "cert" + T + "A" + T + "甲" + T + "Alpha" + T + "X\n"
          "cert" + T + "B" + T + "乙" + T + "Beta" + T + "x\n")
    write("vocab", "shared_names.tsv",
          "industry" + T + "C" + T + "制造业" + T + "Manufacturing\n"
          "industry" + T + "C36" + T + "汽车" + T + "Cars\n"
          "industry" + T + "C367" + T + "零部件" + T + "Parts\n"
          "industry" + T + "C3670" + T + "零部件" + T + "Parts\n"
          "industry" + T + "C39" + T + "电子" + T + "Parts\n")
    write("vocab", "ipc_symbols.txt", "H01L 21/02\nh01l  0021/02\nC25D\nB22D17/00\nA01B 1234/123456\n")


def gen_fed():
    """FedMessages as a home city publishes them (demand, offer, a profile change), and
    some a receiver refuses after decoding (a firm of another city, an id beyond 2^48,
    an unknown kind, a posting of another owner)."""
    HEBI = 4106
    d = demand()
    d.id, d.owner, d.revision, d.state, d.details = 42, ANCHOR, 2, pb.OPEN, ""
    d.scope = pb.SAME_PROVINCE
    o = offer()
    o.id, o.owner, o.revision, o.state, o.service_scope = 43, SME, 1, pb.WITHDRAWN, pb.ANYWHERE
    owner, sme = anchor(), firm()
    for f in (owner, sme):
        f.contact, f.home_city = "", HEBI

    def fed(name, **fields):
        write("fed", name + ".bin", pb.FedMessage(**fields).SerializeToString())

    fed("demand", origin_city=HEBI, kind=1, origin_id=42, revision=2, state=pb.OPEN, demand=d, owner=owner)
    fed("offer_withdrawn", origin_city=HEBI, kind=2, origin_id=43, revision=1, state=pb.WITHDRAWN, offer=o,
        owner=sme)
    fed("firm", origin_city=HEBI, kind=3, owner=sme)
    fed("refused_firm_of_another_city", origin_city=4101, kind=3, owner=sme)
    fed("refused_id_beyond_2_48", origin_city=HEBI, kind=1, origin_id=1 << 48, revision=1, state=pb.OPEN,
        demand=d, owner=owner)
    fed("refused_unknown_kind", origin_city=HEBI, kind=9, origin_id=42, revision=1, state=pb.OPEN, owner=owner)
    fed("refused_posting_of_another_owner", origin_city=HEBI, kind=1, origin_id=42, revision=2,
        state=pb.OPEN, demand=d, owner=sme)


# ------------------------------------------------------------------ dictionaries

def dict_file(name, words):
    os.makedirs(DICT, exist_ok=True)
    seen = []
    for w in words:
        if w not in seen:
            seen.append(w)
    with open(os.path.join(DICT, name + ".dict"), "w", encoding="utf-8") as f:
        f.write("# libFuzzer dictionary, written by gen_seeds.py\n")
        for w in seen:
            f.write('"%s"\n' % "".join(chr(b) if 0x20 <= b < 0x7f and b not in (0x22, 0x5c) else "\\x%02x" % b
                                        for b in w.encode("utf-8")))


def gen_dicts():
    keys = re.findall(r'^\s*\{"([a-z_]+)",', open(os.path.join(ROOT, "src", "config.c")).read(), re.M)
    dict_file("config", keys + [" = ", "\"", "#", "true", "false", "yes", "no", "err", "warning",
                                "notice", "info", "debug", "1e3", "-0", "0x10", "tcp://127.0.0.1:*"])
    words = []
    for m in pb.DESCRIPTOR.message_types_by_name.values():
        for fd in m.fields:
            words += ['"%s":' % fd.json_name, '"%s":' % fd.name]
    for e in pb.DESCRIPTOR.enum_types_by_name.values():
        words += ['"%s"' % v.name for v in e.values]
    words += ["null", "true", "false", "[]", "{}", "\"NaN\"", "\"-Infinity\"", "\"18446744073709551615\"",
              "-9223372036854775808", "1e308", "\\u0000", "\\ud83d\\ude00"]
    dict_file("json", words)
    dict_file("vocab", ["\t", "\n", "\r\n", ",", "#", "\ufeff", "process", "material", "industry",
                        "county", "zone", "cert", "three", "casting", "casting.die", "C36", "C3670",
                        "410611", "hebi.etdz", "IATF16949", "H01L 21/02", "/"])


def main():
    gen_envelope()
    gen_json()
    gen_config()
    gen_vocab()
    gen_fed()
    gen_dicts()


if __name__ == "__main__":
    main()
