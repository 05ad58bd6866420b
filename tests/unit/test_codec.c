/* test_codec.c — request decoding (good, truncated, oversize, wrong version),
 * record round trips, and replies/notices that a client can decode. */
#include "codec.h"
#include "gongxu/v1/gongxu.pb-c.h"
#include "msg.h"
#include "gxtest.h"

static const gx_limits LIM = {64, 1024, 4};

/* Packs an envelope into buf; returns its length. */
static size_t s_pack(Gongxu__V1__Envelope *e, uint8_t *buf)
{
    return gongxu__v1__envelope__pack(e, buf);
}

static Gongxu__V1__Demand s_demand(void)
{
    static char *procs[] = {"casting.die.magnesium", "machining.cnc"};
    static char *certs[] = {"IATF16949"};
    Gongxu__V1__Demand d = GONGXU__V1__DEMAND__INIT;
    d.kind = GONGXU__V1__KIND__PARTS_SUPPLY;
    d.industry = "C3670";
    d.n_processes = 2;
    d.processes = procs;
    d.n_certifications = 1;
    d.certifications = certs;
    d.quantity = 5000;
    d.unit = "pcs";
    d.needed_by = "2027-03-01";
    d.summary = "magnesium housings";
    d.details = "drawing MG-42 rev C";
    return d;
}

TEST(decodes_post_demand)
{
    uint8_t buf[4096];
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__PostDemand pd = GONGXU__V1__POST_DEMAND__INIT;
    Gongxu__V1__Demand d = s_demand();
    Gongxu__V1__PriceRange budget = GONGXU__V1__PRICE_RANGE__INIT;
    budget.min = 10;
    budget.max = 12.5;
    d.budget = &budget;
    pd.demand = &d;
    e.version = 1;
    e.request_id = 77;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_POST_DEMAND;
    e.post_demand = &pd;
    size_t n = s_pack(&e, buf);
    gx_request r;
    char msg[256], field[64];
    REQUIRE(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field) == GX_OK);
    CHECK_EQ_INT(r.request_id, 77);
    CHECK_EQ_INT(r.type, GX_REQ_POST_DEMAND);
    CHECK_EQ_INT(r.demand.kind, GX_KIND_PARTS_SUPPLY);
    CHECK_STR(r.demand.industry, "C3670");
    CHECK_EQ_INT(r.demand.processes.n, 2);
    CHECK_STR(r.demand.processes.v[1], "machining.cnc");
    CHECK(r.demand.has_budget && r.demand.budget_max == 12.5);
    char date[11];
    gx_date_format(r.demand.needed_by, date);
    CHECK_STR(date, "2027-03-01");
    gx_request_fini(&r);
}

TEST(truncated_and_garbage_frames_are_malformed)
{
    uint8_t buf[4096];
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__PostDemand pd = GONGXU__V1__POST_DEMAND__INIT;
    Gongxu__V1__Demand d = s_demand();
    pd.demand = &d;
    e.version = 1;
    e.request_id = 5;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_POST_DEMAND;
    e.post_demand = &pd;
    size_t n = s_pack(&e, buf);
    gx_request r;
    char msg[256], field[64];
    int malformed = 0;
    for (size_t cut = 1; cut < n; cut++) /* every truncation either fails cleanly or is a shorter valid message */
        if (gx_codec_decode_request(buf, cut, &LIM, &r, msg, sizeof msg, field, sizeof field) == GX_ERR_MALFORMED)
            malformed++, gx_request_fini(&r);
        else
            gx_request_fini(&r);
    CHECK(malformed > 0);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    CHECK_EQ_INT(gx_codec_decode_request(junk, sizeof junk, &LIM, &r, msg, sizeof msg, field, sizeof field),
                 GX_ERR_MALFORMED);
    CHECK(strstr(msg, "not a gongxu.v1.Envelope") != NULL);
    CHECK_EQ_INT(r.request_id, 0);
    gx_request_fini(&r);
}

TEST(version_and_empty_body)
{
    uint8_t buf[256];
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    gx_request r;
    char msg[256], field[64];
    e.version = 2;
    e.request_id = 9;
    size_t n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field),
                 GX_ERR_UNSUPPORTED_VERSION);
    CHECK_EQ_INT(r.request_id, 9); /* still answerable */
    e.version = 1;
    n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_BAD_REQUEST);
    gx_request_fini(&r);
}

TEST(limits_name_the_field)
{
    uint8_t buf[8192];
    char longs[200];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__PostDemand pd = GONGXU__V1__POST_DEMAND__INIT;
    Gongxu__V1__Demand d = s_demand();
    pd.demand = &d;
    e.version = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_POST_DEMAND;
    e.post_demand = &pd;
    d.unit = longs; /* over max_string 64 */
    gx_request r;
    char msg[256], field[64];
    size_t n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_TOO_LARGE);
    CHECK_STR(field, "demand.unit");
    d.unit = "pcs";
    char *many[5] = {"a", "b", "c", "d", "e"}; /* over max_repeated 4 */
    d.n_materials = 5;
    d.materials = many;
    n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_TOO_LARGE);
    CHECK_STR(field, "demand.materials");
    d.n_materials = 0;
    d.kind = 42; /* unknown enum value */
    n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_INVALID);
    CHECK_STR(field, "demand.kind");
    d.kind = 1;
    d.needed_by = "2027-02-30";
    n = s_pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_INVALID);
    CHECK_STR(field, "demand.needed_by");
    gx_request_fini(&r);
}

/* protobuf-c packs strings by strlen, so the NUL is put into the packed bytes. */
static void s_poke_nul(uint8_t *buf, size_t n, char mark)
{
    uint8_t *at = memchr(buf, mark, n);
    REQUIRE(at != NULL);
    *at = 0;
}

TEST(nul_in_a_string_is_refused_by_name)
{
    uint8_t buf[8192];
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__PostDemand pd = GONGXU__V1__POST_DEMAND__INIT;
    Gongxu__V1__Demand d = s_demand();
    pd.demand = &d;
    e.version = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_POST_DEMAND;
    e.post_demand = &pd;
    char *procs[2] = {"casting.die.zinc", "casting#.die.zinc"};
    d.n_processes = 2;
    d.processes = procs;
    gx_request r;
    char msg[256], field[64];
    size_t n = s_pack(&e, buf);
    s_poke_nul(buf, n, '#');
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_INVALID);
    CHECK_STR(field, "demand.processes[1]");
    CHECK(strstr(msg, "NUL byte") != NULL);
    d.n_processes = 0;
    d.details = "abc#def";
    n = s_pack(&e, buf);
    s_poke_nul(buf, n, '#');
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_INVALID);
    CHECK_STR(field, "demand.details");
    d.details = "abc-def"; /* and without one, the same request decodes */
    n = s_pack(&e, buf);
    REQUIRE(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field) == GX_OK);
    CHECK_STR(r.demand.details, "abc-def");
    gx_request_fini(&r);
}

TEST(records_round_trip)
{
    gx_demand d = {0}, d2;
    gx_buf b;
    d.id = 12;
    d.revision = 3;
    d.state = GX_STATE_OPEN;
    strcpy(d.owner, "91410600MA44L3F93K");
    d.kind = GX_KIND_TECH_TRANSFER;
    d.industry = strdup("C3976");
    gx_strv_push(&d.ipc, "H01L 21/02");
    d.modes = GX_BIT(GX_MODE_LICENCE) | GX_BIT(GX_MODE_JOINT_DEVELOPMENT);
    d.min_trl = 6;
    d.quantity = 1;
    d.needed_by = 21000;
    d.details = strdup("secret");
    d.expires_at = 1900000000;
    REQUIRE(gx_codec_encode_demand(&d, &b) == GX_OK);
    REQUIRE(gx_codec_decode_demand(b.data, b.len, &d2) == GX_OK);
    CHECK_EQ_INT(d2.id, 12);
    CHECK_EQ_INT(d2.revision, 3);
    CHECK_STR(d2.owner, d.owner);
    CHECK_EQ_INT(d2.modes, d.modes);
    CHECK_EQ_INT(d2.needed_by, 21000);
    CHECK_STR(d2.ipc.v[0], "H01L 21/02");
    CHECK_STR(d2.details, "secret");
    CHECK_EQ_INT(d2.expires_at, 1900000000);
    gx_demand_fini(&d2);
    CHECK(gx_codec_decode_demand(b.data, b.len / 2, &d2) != GX_OK); /* a torn record is refused, not half-read */
    CHECK(d2.industry == NULL);
    gx_buf_fini(&b);
    gx_demand_fini(&d);

    gx_firm f = {0}, f2;
    strcpy(f.id, "91410600MA44L3F93K");
    f.name = strdup("鹤壁镁业");
    strcpy(f.county, "410611");
    f.zone = strdup("hebi.etdz");
    f.has_location = true;
    f.lat = 35.7;
    f.lon = 114.3;
    f.credit = GX_CREDIT_A;
    f.roles = GX_BIT(GX_ROLE_SME);
    f.certs = calloc(1, sizeof *f.certs);
    f.n_certs = 1;
    f.certs[0].scheme = strdup("IATF16949");
    f.certs[0].valid_until = 21500;
    REQUIRE(gx_codec_encode_firm(&f, &b) == GX_OK);
    REQUIRE(gx_codec_decode_firm(b.data, b.len, &f2) == GX_OK);
    CHECK_STR(f2.name, "鹤壁镁业");
    CHECK_STR(f2.zone, "hebi.etdz");
    CHECK(f2.has_location && f2.lat == 35.7);
    CHECK_EQ_INT(f2.n_certs, 1);
    CHECK_STR(f2.certs[0].scheme, "IATF16949");
    CHECK_EQ_INT(f2.certs[0].valid_until, 21500);
    CHECK_EQ_INT(f2.roles, GX_BIT(GX_ROLE_SME));
    CHECK_EQ_INT(f2.lang, GX_LANG_ZH); /* unset reads as zh-CN */
    gx_buf_fini(&b);
    gx_firm_fini(&f2);
    f.lang = GX_LANG_EN;
    REQUIRE(gx_codec_encode_firm(&f, &b) == GX_OK);
    REQUIRE(gx_codec_decode_firm(b.data, b.len, &f2) == GX_OK);
    CHECK_EQ_INT(f2.lang, GX_LANG_EN);
    gx_buf_fini(&b);
    gx_firm_fini(&f);
    gx_firm_fini(&f2);
}

/* A firm's language on the wire: "zh-CN", "en", or empty for zh-CN; any other
 * tag is refused naming firm.language. */
TEST(firm_language_is_zh_cn_or_en)
{
    static const struct {
        const char *tag;
        int want; /* -1: refused */
    } cases[] = {{"", GX_LANG_ZH}, {"zh-CN", GX_LANG_ZH}, {"en", GX_LANG_EN}, {"fr", -1}, {"zh", -1},
                 {"EN", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Gongxu__V1__Firm m = GONGXU__V1__FIRM__INIT;
        m.id = "91410600MA44L3F93K";
        m.name = "x";
        m.county = "410611";
        m.language = (char *)cases[i].tag;
        Gongxu__V1__RegisterFirm rf = GONGXU__V1__REGISTER_FIRM__INIT;
        rf.firm = &m;
        Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
        e.version = 1;
        e.request_id = 9;
        e.body_case = GONGXU__V1__ENVELOPE__BODY_REGISTER_FIRM;
        e.register_firm = &rf;
        uint8_t buf[1024];
        size_t n = s_pack(&e, buf);
        gx_request r;
        char msg[256], field[64];
        gx_err err = gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field);
        if (cases[i].want < 0) {
            CHECK_EQ_INT(err, GX_ERR_INVALID);
            CHECK_STR(field, "firm.language");
        } else {
            CHECK_EQ_INT(err, GX_OK);
            CHECK_EQ_INT(r.firm.lang, cases[i].want);
            gx_request_fini(&r);
        }
    }
}

TEST(error_and_notice_decode_on_the_client_side)
{
    gx_buf b;
    REQUIRE(gx_codec_encode_error(31, GX_ERR_UNKNOWN_CODE, "demand.processes[0]: unknown process 'x'",
                                  "demand.processes[0]", &b) == GX_OK);
    Gongxu__V1__Envelope *e = gongxu__v1__envelope__unpack(NULL, b.len, b.data);
    REQUIRE(e != NULL);
    CHECK_EQ_INT(e->request_id, 31);
    CHECK_EQ_INT(e->body_case, GONGXU__V1__ENVELOPE__BODY_ERROR);
    CHECK_EQ_INT(e->error->code, GONGXU__V1__ERROR_CODE__ERR_UNKNOWN_CODE);
    CHECK_STR(e->error->field, "demand.processes[0]");
    CHECK_EQ_INT(e->error->n_suggestions, 0);
    gongxu__v1__envelope__free_unpacked(e, NULL);
    gx_buf_fini(&b);

    const char *near[] = {"casting.die.magnesium", "casting.die"};
    REQUIRE(gx_codec_encode_error_suggest(32, GX_ERR_UNKNOWN_CODE, "unknown", "demand.processes[0]", near, 2, &b) ==
            GX_OK);
    e = gongxu__v1__envelope__unpack(NULL, b.len, b.data);
    REQUIRE(e != NULL && e->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR);
    REQUIRE(e->error->n_suggestions == 2);
    CHECK_STR(e->error->suggestions[0], "casting.die.magnesium");
    CHECK_STR(e->error->suggestions[1], "casting.die");
    gongxu__v1__envelope__free_unpacked(e, NULL);
    gx_buf_fini(&b);

    gx_explain x = {0};
    x.rules[GX_RULE_CERTIFICATION].pass = false;
    strcpy(x.rules[GX_RULE_CERTIFICATION].detail, "requires IATF16949; holds ISO9001");
    x.n_failed = 1;
    x.score = 71.5;
    gx_demand d = {0};
    d.id = 4;
    d.industry = "C3670";
    gx_notice n = {.type = GX_N_NEAR_MISS, .seq = 8, .demand = &d, .offer_id = 9, .rule = GX_RULE_CERTIFICATION,
                   .text = "add IATF16949 to qualify", .expl = &x};
    REQUIRE(gx_codec_encode_notice(&n, &b) == GX_OK);
    e = gongxu__v1__envelope__unpack(NULL, b.len, b.data);
    REQUIRE(e && e->body_case == GONGXU__V1__ENVELOPE__BODY_NOTICE);
    CHECK_EQ_INT(e->notice->seq, 8);
    REQUIRE(e->notice->body_case == GONGXU__V1__NOTICE__BODY_NEAR_MISS);
    CHECK_STR(e->notice->near_miss->hint, "add IATF16949 to qualify");
    CHECK_EQ_INT(e->notice->near_miss->explanation->n_rules, GX_RULE__COUNT - 1);
    CHECK_STR(e->notice->near_miss->explanation->rules[GX_RULE_CERTIFICATION - 1]->detail,
              "requires IATF16949; holds ISO9001");
    CHECK_EQ_INT(e->notice->near_miss->demand->id, 4);
    gongxu__v1__envelope__free_unpacked(e, NULL);
    gx_buf_fini(&b);
}

TEST(register_key_wants_a_decodable_key)
{
    uint8_t buf[256];
    gx_request r;
    char msg[256], field[64];
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__RegisterKey rk = GONGXU__V1__REGISTER_KEY__INIT;
    e.version = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_REGISTER_KEY;
    e.register_key = &rk;
    rk.firm_id = "91410600MA44ANCH0R";
    rk.public_key = "########################################"; /* Z85 letters, but no 32-byte key */
    size_t n = gongxu__v1__envelope__pack(&e, buf);
    CHECK_EQ_INT(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field), GX_ERR_INVALID);
    CHECK_STR(field, "register_key.public_key");
    gx_request_fini(&r);
    rk.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"; /* ZeroMQ's documented example public key */
    n = gongxu__v1__envelope__pack(&e, buf);
    REQUIRE(gx_codec_decode_request(buf, n, &LIM, &r, msg, sizeof msg, field, sizeof field) == GX_OK);
    CHECK_STR(r.key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    gx_request_fini(&r);
}

int main(void)
{
    RUN(decodes_post_demand);
    RUN(firm_language_is_zh_cn_or_en);
    RUN(truncated_and_garbage_frames_are_malformed);
    RUN(version_and_empty_body);
    RUN(limits_name_the_field);
    RUN(nul_in_a_string_is_refused_by_name);
    RUN(records_round_trip);
    RUN(error_and_notice_decode_on_the_client_side);
    RUN(register_key_wants_a_decodable_key);
    return gx_test_done();
}
