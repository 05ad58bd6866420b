/* test_json.c — the proto3 JSON mapping of clients/lib/json.c. */
#include "gxtest.h"

#include <gongxu/json.h>
#include <gongxu/v1/gongxu.pb-c.h>

#include <stdint.h>

/* Packs a message into a new malloc'd buffer; *len gets its size. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        protobuf_c_message_pack(m, buf);
    return buf;
}

static int s_same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = s_pack(a, &la), *pb = s_pack(b, &lb);
    int same = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return same;
}

/* msg -> JSON text -> JSON -> message of the same type; NULL on any failure. */
static ProtobufCMessage *s_through_text(const ProtobufCMessage *msg, char **text)
{
    json_t *j = gx_json_from_message(msg);
    if (!j)
        return NULL;
    *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!*text)
        return NULL;
    json_error_t jerr;
    json_t *back = json_loads(*text, 0, &jerr);
    if (!back)
        return NULL;
    char err[256];
    ProtobufCMessage *out = gx_json_to_message(msg->descriptor, back, err, sizeof err);
    if (!out)
        fprintf(stderr, "  to_message: %s\n", err);
    json_decref(back);
    return out;
}

/* Parses text as JSON and converts it to desc; err gets the message on failure. */
static ProtobufCMessage *s_parse(const ProtobufCMessageDescriptor *desc, const char *text, char *err,
                                 size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "bad test JSON: %s", jerr.text);
        return NULL;
    }
    ProtobufCMessage *m = gx_json_to_message(desc, j, err, errlen);
    json_decref(j);
    return m;
}

/* The compact, key-sorted JSON text of msg (caller frees). */
static char *s_text(const ProtobufCMessage *msg)
{
    json_t *j = gx_json_from_message(msg);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static char *s_processes[] = {"casting.die.magnesium", "machining.cnc.5axis"};
static char *s_materials[] = {"magnesium.az91d"};
static char *s_certs[] = {"IATF16949", "ISO9001"};
static char *s_ipc[] = {"H01L 21/02"};
static Gongxu__V1__TransferMode s_modes[] = {GONGXU__V1__TRANSFER_MODE__LICENCE,
                                             GONGXU__V1__TRANSFER_MODE__JOINT_DEVELOPMENT};

/* A Demand with every field set to a non-default value. */
static void s_full_demand(Gongxu__V1__Demand *d, Gongxu__V1__PriceRange *budget)
{
    gongxu__v1__demand__init(d);
    gongxu__v1__price_range__init(budget);
    budget->min = 12.5;
    budget->max = 20.25;
    d->id = UINT64_C(18446744073709551610);
    d->revision = 3;
    d->state = GONGXU__V1__STATE__OPEN;
    d->owner = "91410600MA44XXXX0X";
    d->kind = GONGXU__V1__KIND__TECH_TRANSFER;
    d->industry = "C3670";
    d->n_processes = 2;
    d->processes = s_processes;
    d->n_materials = 1;
    d->materials = s_materials;
    d->quantity = 12000.75;
    d->unit = "pcs";
    d->needed_by = "2031-02-28";
    d->budget = budget;
    d->n_certifications = 2;
    d->certifications = s_certs;
    d->min_credit = GONGXU__V1__CREDIT__CREDIT_B;
    d->scope = GONGXU__V1__SCOPE__THREE_DISTRICTS;
    d->max_distance_km = 0.1;
    d->splittable = 1;
    d->max_suppliers = 4;
    d->summary = "镁合金压铸壳体 \"quoted\" \\ tab\t";
    d->details = "drawing rev C";
    d->expires_at = INT64_C(-9223372036854775807) - 1;
    d->n_ipc = 1;
    d->ipc = s_ipc;
    d->min_trl = 6;
    d->n_modes = 2;
    d->modes = s_modes;
    d->title = "Die-cast housings";
    d->created_at = INT64_C(1700000000);
    d->original_quantity = 1.0 / 3.0;
}

TEST(round_trip_full_demand)
{
    Gongxu__V1__Demand d;
    Gongxu__V1__PriceRange budget;
    s_full_demand(&d, &budget);
    char *text = NULL;
    ProtobufCMessage *back = s_through_text(&d.base, &text);
    REQUIRE(back != NULL);
    CHECK(s_same_bytes(&d.base, back));
    CHECK(strstr(text, "\"maxDistanceKm\":") != NULL);
    CHECK(strstr(text, "\"id\":\"18446744073709551610\"") != NULL);
    CHECK(strstr(text, "\"expiresAt\":\"-9223372036854775808\"") != NULL);
    CHECK(strstr(text, "\"modes\":[\"LICENCE\",\"JOINT_DEVELOPMENT\"]") != NULL);
    CHECK(strstr(text, "\"splittable\":true") != NULL);
    CHECK(strstr(text, "\"budget\":{\"max\":20.25,\"min\":12.5}") != NULL);
    free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

TEST(round_trip_full_offer)
{
    static Gongxu__V1__Kind kinds[] = {GONGXU__V1__KIND__PARTS_SUPPLY, GONGXU__V1__KIND__PROCESSING};
    static char *industries[] = {"C3670", "C3399"};
    Gongxu__V1__Offer o = GONGXU__V1__OFFER__INIT;
    Gongxu__V1__PriceRange price = GONGXU__V1__PRICE_RANGE__INIT;
    price.min = 9;
    price.max = 14.5;
    o.id = 7;
    o.revision = 1;
    o.state = GONGXU__V1__STATE__EXPIRED;
    o.owner = "91410611MA0000000X";
    o.n_kinds = 2;
    o.kinds = kinds;
    o.n_industries = 2;
    o.industries = industries;
    o.n_processes = 2;
    o.processes = s_processes;
    o.n_materials = 1;
    o.materials = s_materials;
    o.monthly_capacity = 50000;
    o.min_order = 100;
    o.lead_time_days = 21;
    o.price = &price;
    o.service_scope = GONGXU__V1__SCOPE__SAME_PROVINCE;
    o.service_radius_km = 150.5;
    o.summary = "压铸 + CNC";
    o.expires_at = 1800000000;
    o.n_ipc = 1;
    o.ipc = s_ipc;
    o.trl = 9;
    o.n_modes = 1;
    o.modes = s_modes;
    o.title = "Magnesium die casting";
    o.created_at = 1700000001;
    char *text = NULL;
    ProtobufCMessage *back = s_through_text(&o.base, &text);
    REQUIRE(back != NULL);
    CHECK(s_same_bytes(&o.base, back));
    CHECK(strstr(text, "\"kinds\":[\"PARTS_SUPPLY\",\"PROCESSING\"]") != NULL);
    CHECK(strstr(text, "\"leadTimeDays\":21") != NULL);
    CHECK(strstr(text, "\"monthlyCapacity\":50000,") != NULL); /* a whole double has no ".0" */
    CHECK(strstr(text, "\"serviceRadiusKm\":150.5") != NULL);
    CHECK(strstr(text, "\"serviceScope\":\"SAME_PROVINCE\"") != NULL);
    free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

TEST(round_trip_notice_envelope_with_oneof)
{
    Gongxu__V1__RuleCheck r1 = GONGXU__V1__RULE_CHECK__INIT, r2 = GONGXU__V1__RULE_CHECK__INIT;
    r1.rule = GONGXU__V1__RULE__RULE_KIND;
    r1.pass = 1;
    r1.detail = "PARTS_SUPPLY among PARTS_SUPPLY,PROCESSING";
    r2.rule = GONGXU__V1__RULE__RULE_CERTIFICATION;
    r2.detail = "requires IATF16949; holds ISO9001";
    Gongxu__V1__RuleCheck *rules[] = {&r1, &r2};
    Gongxu__V1__ScoreTerm t = GONGXU__V1__SCORE_TERM__INIT;
    t.name = "distance";
    t.value = 0.75;
    t.weight = 2;
    Gongxu__V1__ScoreTerm *terms[] = {&t};
    Gongxu__V1__Explanation ex = GONGXU__V1__EXPLANATION__INIT;
    ex.n_rules = 2;
    ex.rules = rules;
    ex.n_terms = 1;
    ex.terms = terms;
    ex.score = 84.2;
    ex.distance_km = -1;
    Gongxu__V1__DemandSummary ds = GONGXU__V1__DEMAND_SUMMARY__INIT;
    ds.id = 12;
    ds.revision = 2;
    ds.state = GONGXU__V1__STATE__OPEN;
    ds.owner_name = "鹤壁汽车电子";
    ds.kind = GONGXU__V1__KIND__PARTS_SUPPLY;
    ds.quantity = 500;
    ds.n_certifications = 1;
    ds.certifications = s_certs;
    Gongxu__V1__NearMiss nm = GONGXU__V1__NEAR_MISS__INIT;
    nm.demand = &ds;
    nm.offer_id = 7;
    nm.rule = GONGXU__V1__RULE__RULE_CERTIFICATION;
    nm.hint = "add IATF16949 to qualify";
    nm.explanation = &ex;
    Gongxu__V1__Notice n = GONGXU__V1__NOTICE__INIT;
    n.seq = 3;
    n.at = 1700000123;
    n.body_case = GONGXU__V1__NOTICE__BODY_NEAR_MISS;
    n.near_miss = &nm;
    Gongxu__V1__Envelope env = GONGXU__V1__ENVELOPE__INIT;
    env.version = 1;
    env.body_case = GONGXU__V1__ENVELOPE__BODY_NOTICE;
    env.notice = &n;

    char *text = NULL;
    ProtobufCMessage *back = s_through_text(&env.base, &text);
    REQUIRE(back != NULL);
    CHECK(s_same_bytes(&env.base, back));
    Gongxu__V1__Envelope *be = (Gongxu__V1__Envelope *)back;
    CHECK_EQ_INT(be->body_case, GONGXU__V1__ENVELOPE__BODY_NOTICE);
    REQUIRE(be->notice != NULL);
    CHECK_EQ_INT(be->notice->body_case, GONGXU__V1__NOTICE__BODY_NEAR_MISS);
    CHECK(strstr(text, "\"notice\":{") != NULL);
    CHECK(strstr(text, "\"nearMiss\":{") != NULL);
    CHECK(strstr(text, "\"rule\":\"RULE_CERTIFICATION\"") != NULL);
    CHECK(strstr(text, "\"seq\":\"3\"") != NULL);
    CHECK(strstr(text, "requestId") == NULL); /* zero: omitted */
    free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

TEST(oneof_member_at_default_is_kept)
{
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    Gongxu__V1__Envelope env = GONGXU__V1__ENVELOPE__INIT;
    env.version = 1;
    env.request_id = 2;
    env.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
    env.ping = &ping;
    char *text = s_text(&env.base);
    CHECK_STR(text, "{\"ping\":{},\"requestId\":\"2\",\"version\":1}");
    free(text);

    char err[256];
    ProtobufCMessage *m =
        s_parse(&gongxu__v1__envelope__descriptor, "{\"version\":1,\"ping\":{}}", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(((Gongxu__V1__Envelope *)m)->body_case, GONGXU__V1__ENVELOPE__BODY_PING);
    CHECK(s_same_bytes(&env.base, m) == 0); /* request_id differs */
    protobuf_c_message_free_unpacked(m, NULL);
}

TEST(defaults_are_omitted)
{
    Gongxu__V1__Demand d = GONGXU__V1__DEMAND__INIT;
    char *text = s_text(&d.base);
    CHECK_STR(text, "{}");
    free(text);
    d.unit = "";
    d.quantity = 0;
    d.n_processes = 0;
    d.splittable = 0;
    d.kind = GONGXU__V1__KIND__KIND_UNSPECIFIED;
    d.scope = GONGXU__V1__SCOPE__SAME_CITY;
    text = s_text(&d.base);
    CHECK_STR(text, "{\"scope\":\"SAME_CITY\"}");
    free(text);
}

TEST(enum_names_out_and_numbers_in)
{
    char err[256];
    Gongxu__V1__Demand *d = (Gongxu__V1__Demand *)s_parse(
        &gongxu__v1__demand__descriptor, "{\"kind\":\"PROCESSING\",\"scope\":5,\"modes\":[\"ASSIGNMENT\",3]}",
        err, sizeof err);
    REQUIRE(d != NULL);
    CHECK_EQ_INT(d->kind, GONGXU__V1__KIND__PROCESSING);
    CHECK_EQ_INT(d->scope, GONGXU__V1__SCOPE__ANYWHERE);
    REQUIRE(d->n_modes == 2);
    CHECK_EQ_INT(d->modes[0], GONGXU__V1__TRANSFER_MODE__ASSIGNMENT);
    CHECK_EQ_INT(d->modes[1], GONGXU__V1__TRANSFER_MODE__JOINT_DEVELOPMENT);
    char *text = s_text(&d->base);
    CHECK_STR(
        text,
        "{\"kind\":\"PROCESSING\",\"modes\":[\"ASSIGNMENT\",\"JOINT_DEVELOPMENT\"],\"scope\":\"ANYWHERE\"}");
    free(text);
    protobuf_c_message_free_unpacked(&d->base, NULL);

    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"kind\":\"MACHINING\"}", err, sizeof err) == NULL);
    CHECK_STR(err, "kind: unknown Kind value \"MACHINING\"");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"kind\":true}", err, sizeof err) == NULL);
    CHECK_STR(err, "kind: expected a Kind name");
}

TEST(uint64_as_string)
{
    Gongxu__V1__Withdraw w = GONGXU__V1__WITHDRAW__INIT;
    w.posting_id = UINT64_MAX;
    char *text = s_text(&w.base);
    CHECK_STR(text, "{\"postingId\":\"18446744073709551615\"}");
    free(text);

    char err[256];
    Gongxu__V1__Withdraw *m = (Gongxu__V1__Withdraw *)s_parse(
        &gongxu__v1__withdraw__descriptor, "{\"postingId\":\"18446744073709551615\"}", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK(m->posting_id == UINT64_MAX);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    m = (Gongxu__V1__Withdraw *)s_parse(&gongxu__v1__withdraw__descriptor, "{\"posting_id\":42}", err,
                                        sizeof err);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(m->posting_id, 42);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    CHECK(s_parse(&gongxu__v1__withdraw__descriptor, "{\"postingId\":\"-1\"}", err, sizeof err) == NULL);
    CHECK_STR(err, "postingId: out of range");
    CHECK(s_parse(&gongxu__v1__withdraw__descriptor, "{\"postingId\":\"12x\"}", err, sizeof err) == NULL);
    CHECK_STR(err, "postingId: expected an integer, got \"12x\"");
    CHECK(s_parse(&gongxu__v1__withdraw__descriptor, "{\"postingId\":\"18446744073709551616\"}", err,
                  sizeof err) == NULL);
    CHECK(s_parse(&gongxu__v1__withdraw__descriptor, "{\"postingId\":1.5}", err, sizeof err) == NULL);
    CHECK_STR(err, "postingId: expected an integer, got 1.5");
    /* uint32 bounds */
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"revision\":4294967296}", err, sizeof err) == NULL);
    CHECK_STR(err, "revision: out of range");
}

TEST(unknown_field_rejected_with_its_path)
{
    char err[256];
    CHECK(s_parse(&gongxu__v1__post_demand__descriptor, "{\"demand\":{\"quantity\":5,\"colour\":\"red\"}}",
                  err, sizeof err) == NULL);
    CHECK_STR(err, "demand.colour: unknown field");
    CHECK(s_parse(&gongxu__v1__envelope__descriptor,
                  "{\"notice\":{\"nearMiss\":{\"explanation\":{\"rules\":[{},{\"pas\":true}]}}}}", err,
                  sizeof err) == NULL);
    CHECK_STR(err, "notice.nearMiss.explanation.rules[1].pas: unknown field");
}

TEST(wrong_type_rejected_with_its_path)
{
    char err[256];
    CHECK(s_parse(&gongxu__v1__post_demand__descriptor, "{\"demand\":{\"quantity\":\"lots\"}}", err,
                  sizeof err) == NULL);
    CHECK_STR(err, "demand.quantity: expected a number, got \"lots\"");
    CHECK(s_parse(&gongxu__v1__post_demand__descriptor, "{\"demand\":{\"quantity\":[1]}}", err, sizeof err) ==
          NULL);
    CHECK_STR(err, "demand.quantity: expected a number");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"processes\":\"casting\"}", err, sizeof err) == NULL);
    CHECK_STR(err, "processes: expected an array");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"processes\":[\"a\",7]}", err, sizeof err) == NULL);
    CHECK_STR(err, "processes[1]: expected a string");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"splittable\":1}", err, sizeof err) == NULL);
    CHECK_STR(err, "splittable: expected true or false");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"budget\":[]}", err, sizeof err) == NULL);
    CHECK_STR(err, "budget: expected an object");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "[]", err, sizeof err) == NULL);
    CHECK_STR(err, "expected an object");
    /* numbers as strings are proto3 JSON */
    Gongxu__V1__Demand *d = (Gongxu__V1__Demand *)s_parse(&gongxu__v1__demand__descriptor,
                                                          "{\"quantity\":\"2.5\"}", err, sizeof err);
    REQUIRE(d != NULL);
    CHECK(d->quantity == 2.5);
    protobuf_c_message_free_unpacked(&d->base, NULL);
}

TEST(snake_case_accepted)
{
    char err[256];
    Gongxu__V1__Demand *d =
        (Gongxu__V1__Demand *)s_parse(&gongxu__v1__demand__descriptor,
                                      "{\"needed_by\":\"2030-01-01\",\"max_distance_km\":25,\"min_credit\":"
                                      "\"CREDIT_A\",\"maxSuppliers\":2}",
                                      err, sizeof err);
    REQUIRE(d != NULL);
    CHECK_STR(d->needed_by, "2030-01-01");
    CHECK(d->max_distance_km == 25);
    CHECK_EQ_INT(d->min_credit, GONGXU__V1__CREDIT__CREDIT_A);
    CHECK_EQ_INT(d->max_suppliers, 2);
    protobuf_c_message_free_unpacked(&d->base, NULL);

    CHECK(s_parse(&gongxu__v1__demand__descriptor,
                  "{\"needed_by\":\"2030-01-01\",\"neededBy\":\"2030-01-02\"}", err, sizeof err) == NULL);
    CHECK(strstr(err, "given twice") != NULL);
}

TEST(oneof_takes_one_member)
{
    char err[256];
    CHECK(s_parse(&gongxu__v1__envelope__descriptor, "{\"ping\":{},\"getStats\":{}}", err, sizeof err) ==
          NULL);
    CHECK(strstr(err, "only one of a oneof") != NULL);
    /* null is "not given", so it does not count */
    ProtobufCMessage *m =
        s_parse(&gongxu__v1__envelope__descriptor, "{\"ping\":null,\"getStats\":{}}", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(((Gongxu__V1__Envelope *)m)->body_case, GONGXU__V1__ENVELOPE__BODY_GET_STATS);
    protobuf_c_message_free_unpacked(m, NULL);
}

TEST(failure_half_way_frees_everything)
{
    /* runs under ASan/LSan: a leak here fails the build's sanitizer pass */
    char err[256];
    CHECK(s_parse(
              &gongxu__v1__envelope__descriptor,
              "{\"notice\":{\"candidateAdded\":{\"candidate\":{\"firmName\":\"x\",\"explanation\":{\"rules\":"
              "[{\"detail\":\"a\"},{\"detail\":\"b\",\"rule\":\"NOPE\"}]}}}}}",
              err, sizeof err) == NULL);
    CHECK_STR(err, "notice.candidateAdded.candidate.explanation.rules[1].rule: unknown Rule value \"NOPE\"");
    CHECK(s_parse(&gongxu__v1__demand__descriptor, "{\"processes\":[\"a\",\"b\",null]}", err, sizeof err) ==
          NULL);
    CHECK_STR(err, "processes[2]: null in an array");
}

TEST(caps_are_enforced)
{
    char err[256];
    json_t *arr = json_array();
    for (int i = 0; i < 10001; i++)
        json_array_append_new(arr, json_string("x"));
    json_t *obj = json_pack("{so}", "processes", arr);
    CHECK(gx_json_to_message(&gongxu__v1__demand__descriptor, obj, err, sizeof err) == NULL);
    CHECK_STR(err, "processes: array longer than 10000 elements");
    json_decref(obj);

    size_t big = (1u << 20) + 1;
    char *s = malloc(big + 1);
    REQUIRE(s != NULL);
    memset(s, 'a', big);
    s[big] = '\0';
    obj = json_pack("{ss}", "title", s);
    free(s);
    CHECK(gx_json_to_message(&gongxu__v1__demand__descriptor, obj, err, sizeof err) == NULL);
    CHECK_STR(err, "title: string longer than 1048576 bytes");
    json_decref(obj);

    obj = json_pack("{so}", "title", json_stringn("a\0b", 3));
    CHECK(gx_json_to_message(&gongxu__v1__demand__descriptor, obj, err, sizeof err) == NULL);
    CHECK_STR(err, "title: string contains a NUL character");
    json_decref(obj);
}

TEST(utf8_bad_finds_the_first_bad_byte)
{
    CHECK(gx_json_utf8_bad("") == SIZE_MAX);
    CHECK(gx_json_utf8_bad("AZ91D 镁合金压铸 \xf0\x9f\x98\x80") == SIZE_MAX);
    CHECK_EQ_INT(gx_json_utf8_bad("ab\xff"), 2);           /* never a lead byte */
    CHECK_EQ_INT(gx_json_utf8_bad("\xc0\xaf"), 0);         /* overlong '/' */
    CHECK_EQ_INT(gx_json_utf8_bad("x\xe0\x80\xaf"), 1);    /* overlong, three bytes */
    CHECK_EQ_INT(gx_json_utf8_bad("\xed\xa0\x80"), 0);     /* a surrogate */
    CHECK_EQ_INT(gx_json_utf8_bad("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
    CHECK_EQ_INT(gx_json_utf8_bad("镁\xe5\x90"), 3);       /* cut short at the end */
    CHECK_EQ_INT(gx_json_utf8_bad("\xd6\xd0\xce\xc4"), 0); /* GBK for 中文 */
}

TEST(non_finite_doubles_and_bad_utf8)
{
    Gongxu__V1__Location loc = GONGXU__V1__LOCATION__INIT;
    loc.lat = NAN;
    loc.lon = -INFINITY;
    char *text = s_text(&loc.base);
    CHECK_STR(text, "{\"lat\":\"NaN\",\"lon\":\"-Infinity\"}");
    free(text);
    char err[256];
    Gongxu__V1__Location *back = (Gongxu__V1__Location *)s_parse(
        &gongxu__v1__location__descriptor, "{\"lat\":\"NaN\",\"lon\":\"-Infinity\"}", err, sizeof err);
    REQUIRE(back != NULL);
    CHECK(isnan(back->lat));
    CHECK(isinf(back->lon) && back->lon < 0);
    protobuf_c_message_free_unpacked(&back->base, NULL);

    Gongxu__V1__Error e = GONGXU__V1__ERROR__INIT;
    e.message = "bad \xff byte";
    text = s_text(&e.base);
    CHECK_STR(text, "{\"message\":\"bad \xef\xbf\xbd byte\"}");
    free(text);
}

TEST(json_names)
{
    char buf[64];
    CHECK_EQ_INT(gx_json_name("max_distance_km", buf, sizeof buf), 13);
    CHECK_STR(buf, "maxDistanceKm");
    gx_json_name("ipc", buf, sizeof buf);
    CHECK_STR(buf, "ipc");
    CHECK_EQ_INT(gx_json_name("needed_by", buf, 4), 8);
    CHECK_STR(buf, "nee");
}

/* A Z85 key uses '#', '=', '$' and friends: they must pass through unescaped and intact. */
#define S_KEY "g/n)fQcXpPLAai@Yxc59Zkr0s2.iK.F-:zCXL{v#"

TEST(key_requests_and_key_info)
{
    Gongxu__V1__RegisterKey rk = GONGXU__V1__REGISTER_KEY__INIT;
    rk.firm_id = "91410600MA44RC6H3W";
    rk.public_key = S_KEY;
    Gongxu__V1__Envelope env = GONGXU__V1__ENVELOPE__INIT;
    env.version = 1;
    env.request_id = 7;
    env.body_case = GONGXU__V1__ENVELOPE__BODY_REGISTER_KEY;
    env.register_key = &rk;
    char *text = s_text(&env.base);
    CHECK_STR(text, "{\"registerKey\":{\"firmId\":\"91410600MA44RC6H3W\",\"publicKey\":\"" S_KEY
                    "\"},\"requestId\":\"7\",\"version\":1}");
    free(text);
    ProtobufCMessage *back = s_through_text(&env.base, &text);
    REQUIRE(back != NULL);
    CHECK(s_same_bytes(&env.base, back));
    protobuf_c_message_free_unpacked(back, NULL);
    free(text);

    char err[256];
    Gongxu__V1__Envelope *rv = (Gongxu__V1__Envelope *)s_parse(
        &gongxu__v1__envelope__descriptor, "{\"version\":1,\"revoke_key\":{\"public_key\":\"" S_KEY "\"}}",
        err, sizeof err);
    REQUIRE(rv != NULL);
    CHECK_EQ_INT(rv->body_case, GONGXU__V1__ENVELOPE__BODY_REVOKE_KEY);
    CHECK_STR(rv->revoke_key->public_key, S_KEY);
    protobuf_c_message_free_unpacked(&rv->base, NULL);

    Gongxu__V1__KeyInfo key = GONGXU__V1__KEY_INFO__INIT;
    key.public_key = S_KEY;
    key.firm_id = "91410600MA44RC6H3W";
    key.revoked = 1;
    key.created_at = INT64_C(1795628923);
    Gongxu__V1__Reply reply = GONGXU__V1__REPLY__INIT;
    reply.result_case = GONGXU__V1__REPLY__RESULT_KEY;
    reply.key = &key;
    text = s_text(&reply.base);
    CHECK_STR(
        text,
        "{\"key\":{\"createdAt\":\"1795628923\",\"firmId\":\"91410600MA44RC6H3W\",\"publicKey\":\"" S_KEY
        "\",\"revoked\":true}}");
    free(text);
}

int main(void)
{
    RUN(round_trip_full_demand);
    RUN(round_trip_full_offer);
    RUN(round_trip_notice_envelope_with_oneof);
    RUN(oneof_member_at_default_is_kept);
    RUN(defaults_are_omitted);
    RUN(enum_names_out_and_numbers_in);
    RUN(uint64_as_string);
    RUN(unknown_field_rejected_with_its_path);
    RUN(wrong_type_rejected_with_its_path);
    RUN(snake_case_accepted);
    RUN(oneof_takes_one_member);
    RUN(failure_half_way_frees_everything);
    RUN(caps_are_enforced);
    RUN(utf8_bad_finds_the_first_bad_byte);
    RUN(non_finite_doubles_and_bad_utf8);
    RUN(json_names);
    RUN(key_requests_and_key_info);
    return gx_test_done();
}
