/* test_workload.c — the benchmark workload is valid broker input, deterministic
 * and city-shaped.
 *
 * Every generated firm, demand and offer goes the broker's way in: encoded,
 * wrapped in a request envelope, decoded with the default limits, validated
 * against the embedded vocabulary — and must come out unchanged (generated
 * codes are already canonical). Then: same seed and index give the same bytes,
 * another seed other bytes; the shares of kinds, scopes, districts,
 * certifications are near the documented ones (printed, so they can be
 * quoted); and a sample of demands against 20000 offers is as selective as
 * intended, with near misses. */
#include <stdint.h>

#include "codec.h"
#include "gongxu/v1/gongxu.pb-c.h"
#include "gxtest.h"
#include "rules.h"
#include "validate.h"
#include "workload.h"

static gx_vocab *V;
static const int64_t NOW = 20782LL * 86400 + 3600; /* 2026-11-25 01:00 UTC */
static const gx_limits LIM = {256, 16384, 64};     /* the broker's defaults */
static const uint64_t SEEDS[2] = {1, 0xC0FFEE};

#define N_FIRMS 300
#define N_POSTINGS 5000

static bool s_same(const gx_buf *a, const gx_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Wraps an encoded record in a request envelope, decodes it as gongxud does. */
static gx_err s_wire(int body, const gx_buf *rec, gx_request *r)
{
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__RegisterFirm rf = GONGXU__V1__REGISTER_FIRM__INIT;
    Gongxu__V1__PostDemand pd = GONGXU__V1__POST_DEMAND__INIT;
    Gongxu__V1__PostOffer po = GONGXU__V1__POST_OFFER__INIT;
    e.version = 1;
    e.request_id = 7;
    e.body_case = (Gongxu__V1__Envelope__BodyCase)body;
    memset(r, 0, sizeof *r);
    if (body == GONGXU__V1__ENVELOPE__BODY_REGISTER_FIRM) {
        rf.firm = gongxu__v1__firm__unpack(NULL, rec->len, rec->data);
        e.register_firm = &rf;
        if (!rf.firm)
            return GX_ERR_MALFORMED;
    } else if (body == GONGXU__V1__ENVELOPE__BODY_POST_DEMAND) {
        pd.demand = gongxu__v1__demand__unpack(NULL, rec->len, rec->data);
        e.post_demand = &pd;
        if (!pd.demand)
            return GX_ERR_MALFORMED;
    } else {
        po.offer = gongxu__v1__offer__unpack(NULL, rec->len, rec->data);
        e.post_offer = &po;
        if (!po.offer)
            return GX_ERR_MALFORMED;
    }
    size_t n = gongxu__v1__envelope__get_packed_size(&e);
    uint8_t *buf = malloc(n);
    gongxu__v1__envelope__pack(&e, buf);
    gongxu__v1__firm__free_unpacked(rf.firm, NULL);
    gongxu__v1__demand__free_unpacked(pd.demand, NULL);
    gongxu__v1__offer__free_unpacked(po.offer, NULL);
    char msg[256], field[96];
    gx_err err = gx_codec_decode_request(buf, n, &LIM, r, msg, sizeof msg, field, sizeof field);
    if (err)
        fprintf(stderr, "  decode: %s (%s)\n", msg, field);
    free(buf);
    return err;
}

static int s_cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

TEST(every_record_is_valid_canonical_broker_input)
{
    for (int s = 0; s < 2; s++) {
        gx_wl_opts o = {.seed = SEEDS[s], .firms = N_FIRMS, .now = NOW};
        int bad = 0;
        for (size_t i = 0; i < N_FIRMS; i++) {
            gx_firm f;
            gx_request r;
            gx_buf a = {0}, b = {0};
            gx_verr e;
            REQUIRE(gx_wl_firm(&o, i, &f) == GX_OK);
            REQUIRE(gx_codec_encode_firm(&f, &a) == GX_OK);
            gx_err err = s_wire(GONGXU__V1__ENVELOPE__BODY_REGISTER_FIRM, &a, &r);
            if (!err && (err = gx_validate_firm(V, &r.firm, false, &e)))
                fprintf(stderr, "  firm %zu: %s\n", i, e.msg);
            if (!err)
                err = gx_codec_encode_firm(&r.firm, &b);
            if (err || !s_same(&a, &b))
                bad++;
            gx_buf_fini(&a);
            gx_buf_fini(&b);
            gx_request_fini(&r);
            gx_firm_fini(&f);
        }
        CHECK_EQ_INT(bad, 0);
        bad = 0;
        for (uint64_t i = 0; i < N_POSTINGS; i++) {
            gx_demand d;
            gx_request r;
            gx_buf a = {0}, b = {0};
            gx_verr e;
            REQUIRE(gx_wl_demand(&o, i, &d) == GX_OK);
            REQUIRE(gx_codec_encode_demand(&d, &a) == GX_OK);
            gx_err err = s_wire(GONGXU__V1__ENVELOPE__BODY_POST_DEMAND, &a, &r);
            if (!err && (err = gx_validate_demand(V, &r.demand, NOW, 480, &e)))
                fprintf(stderr, "  demand %llu: %s\n", (unsigned long long)i, e.msg);
            if (!err)
                err = gx_codec_encode_demand(&r.demand, &b);
            if (err || !s_same(&a, &b))
                bad++;
            gx_buf_fini(&a);
            gx_buf_fini(&b);
            gx_request_fini(&r);
            gx_demand_fini(&d);
        }
        CHECK_EQ_INT(bad, 0);
        bad = 0;
        for (uint64_t i = 0; i < N_POSTINGS; i++) {
            gx_offer of;
            gx_request r;
            gx_buf a = {0}, b = {0};
            gx_verr e;
            REQUIRE(gx_wl_offer(&o, i, &of) == GX_OK);
            REQUIRE(gx_codec_encode_offer(&of, &a) == GX_OK);
            gx_err err = s_wire(GONGXU__V1__ENVELOPE__BODY_POST_OFFER, &a, &r);
            if (!err && (err = gx_validate_offer(V, &r.offer, NOW, 90 * 86400, &e)))
                fprintf(stderr, "  offer %llu: %s\n", (unsigned long long)i, e.msg);
            if (!err)
                err = gx_codec_encode_offer(&r.offer, &b);
            if (err || !s_same(&a, &b))
                bad++;
            gx_buf_fini(&a);
            gx_buf_fini(&b);
            gx_request_fini(&r);
            gx_offer_fini(&of);
        }
        CHECK_EQ_INT(bad, 0);
    }
}

TEST(bad_arguments_are_refused)
{
    gx_wl_opts o = {.seed = 1, .firms = 1, .now = NOW};
    gx_firm f;
    gx_demand d;
    gx_offer of;
    CHECK_EQ_INT(gx_wl_firm(&o, 0, &f), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_wl_demand(&o, 0, &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_wl_offer(&o, 0, &of), GX_ERR_INVALID);
    o.firms = 10;
    CHECK_EQ_INT(gx_wl_firm(&o, 10, &f), GX_ERR_INVALID);
}

/* Encoded record i of type t (0 firm, 1 demand, 2 offer). */
static gx_buf s_enc(const gx_wl_opts *o, int t, uint64_t i)
{
    gx_buf b = {0};
    if (t == 0) {
        gx_firm f;
        if (gx_wl_firm(o, (size_t)i, &f) == GX_OK)
            gx_codec_encode_firm(&f, &b);
        gx_firm_fini(&f);
    } else if (t == 1) {
        gx_demand d;
        if (gx_wl_demand(o, i, &d) == GX_OK)
            gx_codec_encode_demand(&d, &b);
        gx_demand_fini(&d);
    } else {
        gx_offer of;
        if (gx_wl_offer(o, i, &of) == GX_OK)
            gx_codec_encode_offer(&of, &b);
        gx_offer_fini(&of);
    }
    return b;
}

TEST(same_seed_same_bytes_other_seed_other_bytes)
{
    gx_wl_opts a = {.seed = 42, .firms = N_FIRMS, .now = NOW}, b = a, c = a;
    c.seed = 43;
    int differ = 0, same_other = 0, n = 0;
    for (int t = 0; t < 3; t++)
        for (uint64_t k = 0; k < 200; k++) {
            uint64_t i = t == 0 ? k : (k * 7919 + 1000000007ULL * (k & 1)); /* far indices too */
            uint64_t j = t == 0 ? N_FIRMS - 1 - k : i;                      /* firms: other order */
            gx_buf x = s_enc(&a, t, i), y = s_enc(&b, t, i), z = s_enc(&c, t, i), w = s_enc(&a, t, j);
            REQUIRE(x.len > 0 && z.len > 0 && w.len > 0);
            differ += !s_same(&x, &y);
            same_other += s_same(&x, &z);
            differ += (i == j) != s_same(&x, &w);
            n++;
            gx_buf_fini(&x);
            gx_buf_fini(&y);
            gx_buf_fini(&z);
            gx_buf_fini(&w);
        }
    CHECK_EQ_INT(differ, 0);
    CHECK_EQ_INT(same_other, 0);
    CHECK_EQ_INT(n, 600);
    /* a posting does not depend on how many were generated before, and the
     * owner does not change with `now` */
    gx_demand d1, d2;
    gx_wl_opts later = a;
    later.now += 86400;
    REQUIRE(gx_wl_demand(&a, 123456789, &d1) == GX_OK);
    REQUIRE(gx_wl_demand(&later, 123456789, &d2) == GX_OK);
    CHECK_STR(d1.owner, d2.owner);
    CHECK_EQ_INT(d2.needed_by - d1.needed_by, 1);
    gx_demand_fini(&d1);
    gx_demand_fini(&d2);
}

/* Whether the embedded vocabulary knows a child of process id: we probe the
 * children the generator could name; any known "id.x" counts. */
static bool s_has_child(const char *id)
{
    static const char *const tails[] = {
        "magnesium", "aluminium", "zinc",      "vacuum",    "thixomolding", "progressive", "3axis",
        "cnc",       "swiss",     "surface",   "wire",      "cutting",      "hard",        "zinc",
        "nickel",    "chrome",    "overmould", "precision", "multilayer",   "smt",         "moulding",
        "connector", "xray",      "vibration", "mim",       "metal",        "polymer",     "injection"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s.%s", id, tails[i]);
        if (gx_vocab_resolve(V, GX_V_PROCESS, buf))
            return true;
    }
    return false;
}

static bool s_between(double x, double lo, double hi, const char *what)
{
    bool ok = x >= lo && x <= hi;
    if (!ok)
        fprintf(stderr, "  %s: %.3f outside [%.3f, %.3f]\n", what, x, lo, hi);
    return ok;
}

TEST(shape_is_near_the_documented_shares)
{
    enum { NF = 2000, NP = 20000 };
    gx_wl_opts o = {.seed = 7, .firms = NF, .now = NOW};
    int32_t today = gx_date_of(NOW, 480);
    static char ids[NF][GX_FIRM_ID_LEN + 1];
    double three = 0, hebi = 0, henan = 0, anchors = 0, credit[5] = {0};
    double iso9001 = 0, iso14001 = 0, iso45001 = 0, expired = 0, certs = 0;
    bool loc_ok = true;
    const char *const *td;
    size_t ntd;
    td = gx_vocab_three_districts(V, &ntd);
    for (size_t i = 0; i < NF; i++) {
        gx_firm f;
        REQUIRE(gx_wl_firm(&o, i, &f) == GX_OK);
        memcpy(ids[i], f.id, sizeof ids[i]);
        const char *dist = gx_firm_district(&f);
        for (size_t k = 0; k < ntd; k++)
            three += strcmp(td[k], dist) == 0;
        hebi += strncmp(f.county, "4106", 4) == 0;
        henan += strncmp(f.county, "41", 2) == 0;
        anchors += (f.roles & GX_BIT(GX_ROLE_ANCHOR)) != 0;
        credit[f.credit]++;
        loc_ok = loc_ok && f.has_location && f.lat >= 32 && f.lat <= 36.5 && f.lon >= 111 && f.lon <= 116.5;
        if (strncmp(f.county, "4106", 4) == 0)
            loc_ok = loc_ok && fabs(f.lat - 35.75) < 0.35 && fabs(f.lon - 114.3) < 0.35;
        for (uint32_t c = 0; c < f.n_certs; c++) {
            iso9001 += strcmp(f.certs[c].scheme, "ISO9001") == 0;
            iso14001 += strcmp(f.certs[c].scheme, "ISO14001") == 0;
            iso45001 += strcmp(f.certs[c].scheme, "ISO45001") == 0;
            expired += f.certs[c].valid_until < today;
            certs++;
        }
        gx_firm_fini(&f);
    }
    qsort(ids, NF, sizeof ids[0], s_cmp_id);
    int dup = 0;
    for (size_t i = 1; i < NF; i++)
        dup += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK_EQ_INT(dup, 0);
    CHECK(loc_ok);
    CHECK(s_between(three / NF, 0.40, 0.50, "three districts"));
    CHECK(s_between(hebi / NF, 0.59, 0.71, "Hebi"));
    CHECK(s_between(henan / NF, 1, 1, "Henan"));
    CHECK(s_between(anchors / NF, 0.07, 0.13, "anchors"));
    CHECK(s_between(credit[GX_CREDIT_A] / NF, 0.50, 0.60, "credit A"));
    CHECK(s_between(credit[GX_CREDIT_D] / NF, 0.005, 0.04, "credit D"));
    CHECK(s_between(iso9001 / NF, 0.65, 0.75, "ISO9001"));
    CHECK(s_between(iso14001 / NF, 0.30, 0.40, "ISO14001"));
    CHECK(s_between(iso45001 / NF, 0.20, 0.30, "ISO45001"));
    CHECK(s_between(expired / certs, 0.03, 0.07, "expired certificates"));
    printf("     firms: three districts %.1f%%, rest of Hebi %.1f%%, other Henan %.1f%%; anchors %.1f%%\n",
           100 * three / NF, 100 * (hebi - three) / NF, 100 * (henan - hebi) / NF, 100 * anchors / NF);
    printf("     credit A %.1f%% B %.1f%% C %.1f%% D %.1f%%; ISO9001 %.1f%% ISO14001 %.1f%% ISO45001 %.1f%%; "
           "%.1f%% of certificates expired\n",
           100 * credit[1] / NF, 100 * credit[2] / NF, 100 * credit[3] / NF, 100 * credit[4] / NF,
           100 * iso9001 / NF, 100 * iso14001 / NF, 100 * iso45001 / NF, 100 * expired / certs);

    double kind[GX_KIND__COUNT] = {0}, scope[6] = {0}, okind[GX_KIND__COUNT] = {0}, oscope[6] = {0};
    double c3670 = 0, iatf_auto = 0, n_auto = 0, iso_req = 0, iatf_req = 0, no_cert = 0, budget = 0,
           split = 0, maxd = 0, leaf = 0, procs = 0;
    double price = 0, radius = 0, two_kinds = 0;
    int missing_owner = 0, out_of_range = 0;
    for (uint64_t i = 0; i < NP; i++) {
        gx_demand d;
        REQUIRE(gx_wl_demand(&o, i, &d) == GX_OK);
        missing_owner += !bsearch(d.owner, ids, NF, sizeof ids[0], s_cmp_id);
        kind[d.kind]++;
        scope[d.scope]++;
        c3670 += strcmp(d.industry, "C3670") == 0;
        if (strncmp(d.industry, "C36", 3) == 0) {
            n_auto++;
            iatf_auto += gx_strv_has(&d.certs, "IATF16949");
        }
        iso_req += gx_strv_has(&d.certs, "ISO9001");
        iatf_req += gx_strv_has(&d.certs, "IATF16949");
        no_cert += d.certs.n == 0;
        budget += d.has_budget;
        split += d.splittable;
        maxd += d.max_distance_km > 0;
        for (uint32_t k = 0; k < d.processes.n; k++) {
            leaf += !s_has_child(d.processes.v[k]);
            procs++;
        }
        out_of_range += d.processes.n < 1 || d.processes.n > 3 || d.materials.n > 2 || d.certs.n > 2 ||
                        d.needed_by < today + 20 || d.needed_by > today + 180 ||
                        d.expires_at < NOW + 30 * 86400 || d.expires_at > NOW + 120 * 86400 ||
                        d.min_credit == GX_CREDIT_D ||
                        (d.kind != GX_KIND_TECH_TRANSFER && (d.quantity < 100 || d.quantity > 200000)) ||
                        (d.kind == GX_KIND_TECH_TRANSFER && (d.ipc.n == 0 || d.min_trl < 1)) ||
                        (d.splittable && (d.max_suppliers < 2 || d.max_suppliers > 5));
        gx_demand_fini(&d);

        gx_offer of;
        REQUIRE(gx_wl_offer(&o, i, &of) == GX_OK);
        missing_owner += !bsearch(of.owner, ids, NF, sizeof ids[0], s_cmp_id);
        for (int k = 1; k < GX_KIND__COUNT; k++)
            okind[k] += (of.kinds & GX_BIT(k)) != 0;
        two_kinds += __builtin_popcount(of.kinds) == 2;
        oscope[of.service_scope]++;
        price += of.has_price;
        radius += of.service_radius_km > 0;
        out_of_range +=
            of.processes.n < 1 || of.processes.n > 5 || of.materials.n < 1 || of.materials.n > 3 ||
            of.lead_time_days < 5 || of.lead_time_days > 60 || of.expires_at < NOW + 60 * 86400 ||
            of.expires_at > NOW + 365 * 86400 || __builtin_popcount(of.kinds) > 2 ||
            ((of.kinds & GX_BIT(GX_KIND_TECH_TRANSFER)) && (of.ipc.n == 0 || of.trl < 1 || !of.modes));
        gx_offer_fini(&of);
    }
    CHECK_EQ_INT(missing_owner, 0);
    CHECK_EQ_INT(out_of_range, 0);
    static const double want_kind[GX_KIND__COUNT] = {0, 0.35, 0.35, 0.15, 0.05, 0.10};
    static const double want_scope[6] = {0, 0.10, 0.25, 0.30, 0.25, 0.10};
    static const char *const scope_name[6] = {"-",    "same district", "three districts",
                                              "city", "province",      "anywhere"};
    printf("     demand kinds:");
    for (int k = 1; k < GX_KIND__COUNT; k++) {
        CHECK(s_between(kind[k] / NP, want_kind[k] * 0.8, want_kind[k] * 1.2, gx_kind_name((gx_kind)k)));
        printf(" %s %.1f%%", gx_kind_name((gx_kind)k), 100 * kind[k] / NP);
    }
    printf("\n     demand scopes:");
    for (int k = 1; k < 6; k++) {
        CHECK(s_between(scope[k] / NP, want_scope[k] * 0.8, want_scope[k] * 1.2, scope_name[k]));
        printf(" %s %.1f%%", scope_name[k], 100 * scope[k] / NP);
    }
    printf("\n     demands: C3670 %.1f%%; require ISO9001 %.1f%%, IATF16949 %.1f%% (%.1f%% of C36xx), none "
           "%.1f%%; "
           "budget %.1f%%, splittable %.1f%%, max distance %.1f%%; %.1f%% of required processes are leaf "
           "terms\n",
           100 * c3670 / NP, 100 * iso_req / NP, 100 * iatf_req / NP, 100 * iatf_auto / n_auto,
           100 * no_cert / NP, 100 * budget / NP, 100 * split / NP, 100 * maxd / NP, 100 * leaf / procs);
    printf("     offer kinds served:");
    for (int k = 1; k < GX_KIND__COUNT; k++)
        printf(" %s %.1f%%", gx_kind_name((gx_kind)k), 100 * okind[k] / NP);
    printf("; two kinds %.1f%%\n     offer service scopes:", 100 * two_kinds / NP);
    for (int k = 1; k < 6; k++)
        printf(" %s %.1f%%", scope_name[k], 100 * oscope[k] / NP);
    printf("; price %.1f%%, radius %.1f%%\n", 100 * price / NP, 100 * radius / NP);
    CHECK(s_between(c3670 / NP, 0.15, 0.45, "C3670 demands"));
    CHECK(s_between(iatf_auto / n_auto, 0.4, 0.6, "IATF16949 in C36 demands"));
    CHECK(s_between(budget / NP, 0.55, 0.65, "budget"));
    CHECK(s_between(split / NP, 0.25, 0.32, "splittable"));
    CHECK(s_between(maxd / NP, 0.12, 0.18, "max distance"));
    CHECK(s_between(leaf / procs, 0.75, 0.95, "leaf processes"));
    CHECK(s_between(price / NP, 0.65, 0.75, "price"));
    CHECK(s_between(radius / NP, 0.08, 0.12, "service radius"));
    CHECK(s_between((oscope[3] + oscope[4] + oscope[5]) / NP, 0.8, 0.95, "offers city/province/anywhere"));
}

typedef struct s_firmtab {
    gx_firm *f;
    size_t n;
} s_firmtab;

static const gx_firm *s_find(const s_firmtab *t, const char *id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->f[mid].id, id);
        if (c == 0)
            return &t->f[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int s_cmp_firm(const void *a, const void *b)
{
    return strcmp(((const gx_firm *)a)->id, ((const gx_firm *)b)->id);
}

static int s_cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* 200 demands against 20000 offers of 2000 firms, by the engine's own rules:
 * scaled to 10^5 offers a typical demand has a handful to a few hundred
 * eligible offers, and most demands have near misses (one rule failing). */
TEST(selectivity_and_near_misses)
{
    enum { NF = 2000, NO = 20000, ND = 200 };
    gx_wl_opts o = {.seed = 11, .firms = NF, .now = NOW};
    s_firmtab t = {calloc(NF, sizeof(gx_firm)), NF};
    gx_offer *offers = calloc(NO, sizeof *offers);
    REQUIRE(t.f && offers);
    for (size_t i = 0; i < NF; i++)
        REQUIRE(gx_wl_firm(&o, i, &t.f[i]) == GX_OK);
    qsort(t.f, NF, sizeof *t.f, s_cmp_firm);
    const gx_firm **ofirm = calloc(NO, sizeof *ofirm);
    REQUIRE(ofirm);
    for (uint64_t i = 0; i < NO; i++) {
        REQUIRE(gx_wl_offer(&o, i, &offers[i]) == GX_OK);
        ofirm[i] = s_find(&t, offers[i].owner);
        REQUIRE(ofirm[i]);
    }
    gx_rules_opts ro;
    gx_rules_opts_default(&ro);
    ro.utc_offset_min = 480;
    ro.three_districts = gx_vocab_three_districts(V, &ro.n_three_districts);
    int elig[ND], with_near = 0, demands_near[GX_RULE__COUNT] = {0};
    double near_by_rule[GX_RULE__COUNT] = {0}, near_total = 0, pass[GX_RULE__COUNT] = {0}, pairs = 0;
    for (uint64_t i = 0; i < ND; i++) {
        gx_demand d;
        REQUIRE(gx_wl_demand(&o, i, &d) == GX_OK);
        const gx_firm *df = s_find(&t, d.owner);
        REQUIRE(df);
        int e = 0, near = 0, nr[GX_RULE__COUNT] = {0};
        for (size_t k = 0; k < NO; k++) {
            if (gx_rules_excluded(df, ofirm[k]))
                continue;
            gx_explain x;
            gx_rules_evaluate(&ro, &d, df, &offers[k], ofirm[k], NOW, false, &x);
            for (int r = 1; r < GX_RULE__COUNT; r++)
                pass[r] += x.rules[r].pass;
            pairs++;
            if (x.n_failed == 0)
                e++;
            else if (x.n_failed == 1) {
                near++;
                near_by_rule[x.failed]++;
                nr[x.failed]++;
                near_total++;
            }
        }
        elig[i] = e * (100000 / NO); /* per 10^5 offers */
        with_near += near > 0;
        for (int r = 1; r < GX_RULE__COUNT; r++)
            demands_near[r] += nr[r] > 0;
        gx_demand_fini(&d);
    }
    qsort(elig, ND, sizeof elig[0], s_cmp_int);
    int zero = 0;
    for (int i = 0; i < ND; i++)
        zero += elig[i] == 0;
    printf("     eligible offers per demand, scaled to 10^5 offers: p10 %d, median %d, p90 %d, max %d; "
           "%d%% of demands have none\n",
           elig[ND / 10], elig[ND / 2], elig[ND * 9 / 10], elig[ND - 1], zero * 100 / ND);
    printf("     %d%% of demands have near misses; near misses by rule:", with_near * 100 / ND);
    for (int r = 1; r < GX_RULE__COUNT; r++)
        if (near_by_rule[r] > 0)
            printf(" %s %.1f%%", gx_rule_name((gx_rule)r), 100 * near_by_rule[r] / near_total);
    printf("\n     demands with a near miss on:");
    for (int r = 1; r < GX_RULE__COUNT; r++)
        printf(" %s %d%%", gx_rule_name((gx_rule)r), demands_near[r] * 100 / ND);
    printf("\n     pairs passing each rule:");
    for (int r = 1; r < GX_RULE__COUNT; r++)
        printf(" %s %.1f%%", gx_rule_name((gx_rule)r), 100 * pass[r] / pairs);
    printf("\n");
    CHECK(s_between(elig[ND / 2], 5, 500, "median eligible per 10^5 offers"));
    CHECK(s_between(elig[ND * 9 / 10], 20, 3000, "p90 eligible per 10^5 offers"));
    CHECK(s_between(with_near / (double)ND, 0.6, 1, "demands with near misses"));
    CHECK(s_between(zero / (double)ND, 0, 0.35, "demands without an eligible offer"));
    CHECK(s_between(demands_near[GX_RULE_CERTIFICATION] / (double)ND, 0.2, 1, "near miss on certification"));
    CHECK(s_between(demands_near[GX_RULE_REGION] / (double)ND, 0.2, 1, "near miss on region"));
    CHECK(s_between(demands_near[GX_RULE_LEAD_TIME] / (double)ND, 0.05, 1, "near miss on lead time"));
    for (size_t k = 0; k < NO; k++)
        gx_offer_fini(&offers[k]);
    for (size_t i = 0; i < NF; i++)
        gx_firm_fini(&t.f[i]);
    free(offers);
    free(ofirm);
    free(t.f);
}

int main(void)
{
    char err[256];
    if (gx_vocab_load(NULL, &V, err, sizeof err) != GX_OK) {
        fprintf(stderr, "vocabulary: %s\n", err);
        return 1;
    }
    RUN(every_record_is_valid_canonical_broker_input);
    RUN(bad_arguments_are_refused);
    RUN(same_seed_same_bytes_other_seed_other_bytes);
    RUN(shape_is_near_the_documented_shares);
    RUN(selectivity_and_near_misses);
    gx_vocab_destroy(&V);
    return gx_test_done();
}
