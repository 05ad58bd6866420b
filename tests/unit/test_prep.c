/* test_prep.c — the intern table, and the rules on prepared records giving
 * exactly what the rules on strings give.
 *
 * The randomized comparison builds firms, demands and offers in the style of
 * test_engine.c's generators (parks and zones, unknown locations, grade D,
 * expired and repeated certificates, licensors, IPC at every level, closed
 * and expired postings) plus odd strings the validator would refuse (empty
 * terms, leading and doubled dots, short industry and IPC codes), and checks
 * gx_rules_classify_prep == gx_rules_classify — verdict, rule, score bit for
 * bit — for every pair, under every known_fail mask the engine passes (none,
 * each single term/certificate/region rule) and random others, under several
 * options and days. */
#include "prep.h"

#include "gxtest.h"

/* ---- the intern table */

TEST(intern_ids_are_stable_and_distinct)
{
    gx_intern t;
    gx_intern_init(&t);
    uint32_t a, b, c, e, a2;
    REQUIRE(gx_intern_id(&t, "casting.die", 11, &a) == GX_OK);
    REQUIRE(gx_intern_id(&t, "casting.die.magnesium", 7, &b) == GX_OK); /* "casting" */
    REQUIRE(gx_intern_id(&t, "casting", 7, &c) == GX_OK);
    REQUIRE(gx_intern_id(&t, "", 0, &e) == GX_OK);
    REQUIRE(gx_intern_id(&t, "casting.die", 11, &a2) == GX_OK);
    CHECK(a != 0 && b != 0 && e != 0);
    CHECK_EQ_INT(a, a2);
    CHECK_EQ_INT(b, c);
    CHECK(a != b && a != e && b != e);
    CHECK_EQ_INT(gx_intern_count(&t), 3);
    size_t len;
    CHECK_STR(gx_intern_str(&t, b, &len), "casting");
    CHECK_EQ_INT(len, 7);
    CHECK_STR(gx_intern_str(&t, e, &len), "");
    CHECK_EQ_INT(len, 0);
    CHECK(gx_intern_str(&t, 0, NULL) == NULL && gx_intern_str(&t, 4, NULL) == NULL);
    CHECK_EQ_INT(gx_intern_find(&t, "casting", 7), b);
    CHECK_EQ_INT(gx_intern_find(&t, "castin", 6), 0);
    CHECK_EQ_INT(gx_intern_count(&t), 3); /* find never adds */
    /* many strings: ids in order of first sight, all found again after growth */
    char buf[32];
    bool ok = true;
    for (int i = 0; i < 50000 && ok; i++) {
        uint32_t id;
        int n = snprintf(buf, sizeof buf, "k%d", i);
        ok = gx_intern_id(&t, buf, (size_t)n, &id) == GX_OK && id == (uint32_t)i + 4;
    }
    CHECK(ok);
    for (int i = 0; i < 50000 && ok; i++) {
        int n = snprintf(buf, sizeof buf, "k%d", i);
        const char *s = gx_intern_str(&t, (uint32_t)i + 4, &len);
        ok = gx_intern_find(&t, buf, (size_t)n) == (uint32_t)i + 4 && s && len == (size_t)n &&
             strcmp(s, buf) == 0;
    }
    CHECK(ok);
    CHECK_EQ_INT(gx_intern_find(&t, "casting.die", 11), a);
    gx_intern_fini(&t);
    CHECK_EQ_INT(gx_intern_count(&t), 0);
    CHECK_EQ_INT(gx_intern_find(&t, "casting", 7), 0);
    gx_intern_fini(&t); /* twice is fine */
}

/* ---- generators */

static uint64_t g_rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    g_rng ^= g_rng << 13; /* xorshift64 */
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)((g_rng >> 11) % n);
}
#define PICK(v) ((v)[rnd(sizeof(v) / sizeof *(v))])

#define N_FIRMS 24
#define N_DEMANDS 200
#define N_OFFERS 200

static int32_t g_today;
static int64_t g_now;
static char g_fid[N_FIRMS][GX_FIRM_ID_LEN + 1];

static void push_cert(gx_firm *f, const char *scheme, int32_t until)
{
    f->certs = realloc(f->certs, (f->n_certs + 1) * sizeof *f->certs);
    f->certs[f->n_certs] =
        (gx_cert){.scheme = scheme ? strdup(scheme) : NULL, .number = strdup("C-1"), .valid_until = until};
    f->n_certs++;
}

static void gen_firm(gx_firm *f, int i)
{
    static const char *const counties[] = {"410611", "410611", "410622", "410602",
                                           "410702", "410105", "4106",   ""};
    static const char *const zones[] = {NULL, "hebi.etdz", "hebi.demo", "hebi.qbpark", "", "410611"};
    static const double lat[] = {35.75, 35.70, 35.62, 35.90, 35.30, 34.75, 35.0, 35.1},
                        lon[] = {114.30, 114.25, 114.18, 114.20, 113.93, 113.62, 114.0, 114.1};
    static const char *const schemes[] = {"ISO9001", "IATF16949", "ISO14001", "", NULL};
    memset(f, 0, sizeof *f);
    memcpy(f->id, g_fid[i], sizeof f->id);
    f->name = strdup(g_fid[i]);
    int c = (int)rnd(8);
    snprintf(f->county, sizeof f->county, "%s", counties[c]);
    const char *zone = PICK(zones);
    f->zone = zone ? strdup(zone) : NULL;
    f->has_location = rnd(6) != 0;
    f->lat = lat[c] + rnd(100) / 1000.0;
    f->lon = lon[c] + rnd(100) / 1000.0;
    f->credit = (gx_credit)rnd(5);
    f->awards = rnd(4) ? 0 : rnd(15);
    for (int k = 0, n = (int)rnd(4); k < n; k++) /* expired, repeated, valid until today */
        push_cert(f, PICK(schemes), g_today + (int32_t)rnd(400) - 150);
}

static void push_some(gx_strv *sv, const char *const *v, size_t n, int max)
{
    for (int i = 0, k = (int)rnd((uint32_t)max + 1); i < k; i++)
        gx_strv_push(sv, v[rnd((uint32_t)n)]);
}
#define PUSH_SOME(sv, v, max) push_some(sv, v, sizeof(v) / sizeof *(v), max)

static const char *const g_proc_want[] = {"casting.die",
                                          "casting",
                                          "machining.cnc",
                                          "surface.anodizing",
                                          "casting.die.aluminium",
                                          "machining.cnc.5axis",
                                          "casting.dies",
                                          "",
                                          ".die",
                                          "casting..x",
                                          "casting.",
                                          "machining"};
static const char *const g_proc_have[] = {"casting.die.magnesium",
                                          "casting.die",
                                          "machining.cnc.5axis",
                                          "machining.cnc",
                                          "surface.anodizing",
                                          "casting",
                                          "",
                                          ".die",
                                          "casting..x",
                                          "casting.die.aluminium.hp"};
static const char *const g_mat_want[] = {"magnesium", "aluminium.adc12", "magnesium.am60b", "aluminium", "",
                                         ".x"};
static const char *const g_mat_have[] = {"magnesium.az91d", "magnesium", "aluminium.adc12",
                                         "aluminium",       ".x",        "magnesium.am60b.t6"};
static const char *const g_ipc_want[] = {"B22D", "B22D 17/00", "H01L 21/02", "H",   "C22C",
                                         "H01",  "H01L 21/00", "B22D 17/20", "B22", "H0",
                                         "",     "A/00",       "H01L 21/027"};
static const char *const g_ipc_have[] = {
    "B22D 17/00", "B22D 21/04", "H01L 21/02", "H05K 3/34", "C22C 23/02", "B22D 17/20",   "H01L 21/027",
    "H01",        "H01L 23/00", "H",          "",          "B22D 17/2",  "H01L 21/00/02"};
static const char *const g_ind_want[] = {"C3670", "C3671", "C3360", "C3976", "C36", "C", "C367", "", NULL};
static const char *const g_ind_have[] = {"C3670", "C3679", "C3360", "C39", "C", "D4411", ""};
static const char *const g_schemes[] = {"ISO9001", "IATF16949", "ISO14001", ""};

static void gen_demand(gx_demand *d, uint64_t id)
{
    memset(d, 0, sizeof *d);
    d->id = id;
    d->state = rnd(12) ? GX_STATE_OPEN : (gx_state)(2 + rnd(3));
    memcpy(d->owner, g_fid[rnd(N_FIRMS)], sizeof d->owner);
    d->kind = (gx_kind)(rnd(12) ? 1 + rnd(5) : 0);
    const char *s = PICK(g_ind_want);
    d->industry = s ? strdup(s) : NULL;
    PUSH_SOME(&d->processes, g_proc_want, rnd(2) ? 1 : 2);
    if (rnd(2))
        PUSH_SOME(&d->materials, g_mat_want, 1);
    if (d->kind == GX_KIND_TECH_TRANSFER || !rnd(8)) {
        PUSH_SOME(&d->ipc, g_ipc_want, 2);
        d->min_trl = rnd(2) ? 0 : 1 + rnd(9);
        d->modes = rnd(2) ? 0 : rnd(16);
    }
    if (!rnd(3))
        PUSH_SOME(&d->certs, g_schemes, 2);
    d->quantity = rnd(10) ? 500 + rnd(8) * 500 : 0;
    d->needed_by = g_today + (rnd(8) ? 20 : -5) + (int32_t)rnd(160);
    if ((d->has_budget = rnd(2))) {
        d->budget_min = rnd(10);
        d->budget_max = rnd(3) ? d->budget_min + rnd(10) : 0;
    }
    d->min_credit = rnd(2) ? GX_CREDIT_NONE : (gx_credit)rnd(5);
    d->scope = rnd(2) ? GX_SCOPE_ANYWHERE : (gx_scope)rnd(6);
    d->max_distance_km = rnd(3) ? 0 : 5 + rnd(200);
    d->splittable = rnd(3) == 0;
    d->expires_at = rnd(4) ? 0 : g_now - 86400 * 10 + (int64_t)rnd(40) * 86400;
}

static void gen_offer(gx_offer *o, uint64_t id)
{
    memset(o, 0, sizeof *o);
    o->id = id;
    o->state = rnd(12) ? GX_STATE_OPEN : GX_STATE_WITHDRAWN;
    memcpy(o->owner, g_fid[rnd(N_FIRMS)], sizeof o->owner);
    o->kinds = GX_BIT(1 + rnd(5)) | GX_BIT(1 + rnd(5)) | (rnd(2) ? GX_BIT(1 + rnd(5)) : 0);
    PUSH_SOME(&o->industries, g_ind_have, 2);
    PUSH_SOME(&o->ipc, g_ipc_have, 3);
    o->trl = rnd(10);
    o->modes = rnd(16);
    PUSH_SOME(&o->processes, g_proc_have, 3);
    PUSH_SOME(&o->materials, g_mat_have, 2);
    o->monthly_capacity = 100 + rnd(30) * 100;
    o->min_order = rnd(4) * 500;
    if (o->kinds == GX_BIT(GX_KIND_TECH_TRANSFER) && rnd(2)) { /* a licensor: no capacity, a big minimum */
        o->monthly_capacity = 0;
        o->min_order = rnd(2) ? 0 : 10000;
    }
    o->lead_time_days = rnd(4) ? rnd(30) : rnd(120);
    if ((o->has_price = rnd(2))) {
        o->price_min = rnd(15);
        o->price_max = rnd(3) ? o->price_min + rnd(10) : 0;
    }
    o->service_scope = rnd(2) ? GX_SCOPE_NONE : (gx_scope)rnd(6);
    o->service_radius_km = rnd(3) ? 0 : 5 + rnd(200);
    o->expires_at = rnd(4) ? 0 : g_now - 86400 * 10 + (int64_t)rnd(40) * 86400;
}

/* ---- the comparison */

static const char *const THREE[] = {"410611", "hebi.etdz", "hebi.demo"};
static const char *const THREE_OTHER[] = {"hebi.qbpark", "410622", ""};

typedef struct tally {
    long pairs, calls, match, near[GX_RULE__COUNT], mismatches;
} tally;

/* Compares the two classifications of one pair under known_fail kf. */
static void compare(const gx_rules_opts *ro, const gx_demand *d, const gx_firm *df, const gx_offer *o,
                    const gx_firm *of, const gx_prep_demand *pd, const gx_prep_firm *pdf,
                    const gx_prep_offer *po, const gx_prep_firm *pof, int64_t now, uint32_t kf, tally *t)
{
    double s1 = -1, s2 = -2;
    gx_rule r1 = GX_RULE__COUNT, r2 = GX_RULE__COUNT;
    gx_pair p1 = gx_rules_classify(ro, d, df, o, of, now, kf, &s1, &r1);
    gx_pair p2 = gx_rules_classify_prep(ro, pd, pdf, po, pof, now, kf, &s2, &r2);
    t->calls++;
    if (kf == 0) {
        t->match += p1 == GX_PAIR_MATCH;
        if (p1 == GX_PAIR_NEAR)
            t->near[r1]++;
    }
    if (p1 != p2 || r1 != r2 || memcmp(&s1, &s2, sizeof s1) != 0) {
        if (t->mismatches++ < 5)
            fprintf(stderr,
                    "  demand %llu offer %llu kf %#x: strings %d rule %d score %.17g; prep %d rule %d "
                    "score %.17g\n",
                    (unsigned long long)d->id, (unsigned long long)o->id, kf, p1, r1, s1, p2, r2, s2);
    }
}

/* Every pair of a fresh random population under opts ro at several days. */
static void compare_population(const gx_rules_opts *ro, tally *t)
{
    static gx_firm f[N_FIRMS];
    static gx_demand d[N_DEMANDS];
    static gx_offer o[N_OFFERS];
    static gx_prep_firm pf[N_FIRMS];
    static gx_prep_demand pd[N_DEMANDS];
    static gx_prep_offer po[N_OFFERS];
    gx_intern in;
    gx_intern_init(&in);
    bool ok = true;
    for (int i = 0; i < N_FIRMS; i++) {
        gen_firm(&f[i], i);
        ok &= gx_prep_firm_build(&in, ro, &f[i], &pf[i]) == GX_OK;
    }
    for (int i = 0; i < N_DEMANDS; i++) {
        gen_demand(&d[i], (uint64_t)i + 1);
        ok &= gx_prep_demand_build(&in, &d[i], &pd[i]) == GX_OK;
    }
    for (int i = 0; i < N_OFFERS; i++) {
        gen_offer(&o[i], (uint64_t)i + 1);
        ok &= gx_prep_offer_build(&in, &o[i], &po[i]) == GX_OK;
    }
    CHECK(ok);
    static const uint32_t engine_kf[] = {
        0,
        GX_BIT(GX_RULE_CERTIFICATION),
        GX_BIT(GX_RULE_REGION),
        GX_BIT(GX_RULE_PROCESS),
        GX_BIT(GX_RULE_MATERIAL),
        GX_BIT(GX_RULE_TECHNOLOGY),
    };
    const int64_t days[] = {g_now, g_now + 86400 * 120, g_now - 86400 * 3 + 3600 * 13};
    for (size_t k = 0; ok && k < sizeof days / sizeof *days; k++)
        for (int i = 0; i < N_DEMANDS; i++) {
            int a = 0;
            while (a < N_FIRMS && strcmp(f[a].id, d[i].owner) != 0)
                a++;
            for (int j = 0; j < N_OFFERS; j++) {
                int b = 0;
                while (b < N_FIRMS && strcmp(f[b].id, o[j].owner) != 0)
                    b++;
                t->pairs++;
                for (size_t m = 0; m < sizeof engine_kf / sizeof *engine_kf; m++)
                    compare(ro, &d[i], &f[a], &o[j], &f[b], &pd[i], &pf[a], &po[j], &pf[b], days[k],
                            engine_kf[m], t);
                compare(ro, &d[i], &f[a], &o[j], &f[b], &pd[i], &pf[a], &po[j], &pf[b], days[k],
                        rnd(1u << GX_RULE__COUNT), t);
            }
        }
    for (int i = 0; i < N_FIRMS; i++) {
        gx_prep_firm_fini(&pf[i]);
        gx_firm_fini(&f[i]);
    }
    for (int i = 0; i < N_DEMANDS; i++) {
        gx_prep_demand_fini(&pd[i]);
        gx_demand_fini(&d[i]);
    }
    for (int i = 0; i < N_OFFERS; i++) {
        gx_prep_offer_fini(&po[i]);
        gx_offer_fini(&o[i]);
    }
    gx_intern_fini(&in);
}

TEST(classify_prep_equals_classify_on_random_pairs)
{
    tally t = {0};
    for (int round = 0; round < 4; round++) {
        gx_rules_opts ro;
        gx_rules_opts_default(&ro);
        if (round != 1) {
            ro.three_districts = round == 3 ? THREE_OTHER : THREE;
            ro.n_three_districts = 3;
        }
        if (round == 2) { /* other weights, time zone and distance scale */
            for (int i = 0; i < GX_TERM__COUNT; i++)
                ro.weights[i] = 1 + rnd(30) / 7.0;
            ro.utc_offset_min = -300;
            ro.distance_full_km = 0;
        }
        if (round == 3)
            ro.distance_full_km = 37.5;
        compare_population(&ro, &t);
    }
    fprintf(stderr, "  %ld pairs, %ld calls: %ld matches; near misses by rule:", t.pairs, t.calls, t.match);
    for (int r = 1; r < GX_RULE__COUNT; r++)
        fprintf(stderr, " %s %ld", gx_rule_name((gx_rule)r), t.near[r]);
    fprintf(stderr, "\n");
    CHECK_EQ_INT(t.mismatches, 0);
    /* the population reaches every verdict the comparison is about */
    CHECK(t.match > 100);
    static const gx_rule near[] = {GX_RULE_PROCESS,       GX_RULE_MATERIAL, GX_RULE_TECHNOLOGY,
                                   GX_RULE_CERTIFICATION, GX_RULE_REGION,   GX_RULE_DISTANCE,
                                   GX_RULE_CREDIT,        GX_RULE_LEAD_TIME};
    for (size_t i = 0; i < sizeof near / sizeof *near; i++)
        CHECK(t.near[near[i]] > 10);
}

/* What a prepared record holds, on examples the brief names. */
TEST(prepared_offer_holds_every_covering_id)
{
    gx_intern in;
    gx_intern_init(&in);
    gx_offer o = {0};
    gx_strv_push(&o.processes, "casting.die.magnesium");
    gx_strv_push(&o.ipc, "H01L 21/02");
    gx_prep_offer po;
    REQUIRE(gx_prep_offer_build(&in, &o, &po) == GX_OK);
    const char *const proc[] = {"casting", "casting.die", "casting.die.magnesium"};
    for (size_t i = 0; i < 3; i++) {
        uint32_t id = gx_intern_find(&in, proc[i], strlen(proc[i])), n = po.end[GX_PREP_O_PROCESS];
        bool found = false;
        for (uint32_t k = 0; k < n; k++)
            found |= po.ids[k] == id;
        CHECK(id && found);
    }
    CHECK_EQ_INT(po.end[GX_PREP_O_PROCESS], 3);
    CHECK_EQ_INT(po.end[GX_PREP_O_PROCESS_SUB] - po.end[GX_PREP_O_PROCESS], 2);
    const char *const ipc[] = {"H", "H0", "H01", "H01L", "H01L 21/00", "H01L 21/02"};
    uint32_t from = po.end[GX_PREP_O_IPC - 1];
    CHECK_EQ_INT(po.end[GX_PREP_O_IPC] - from, 6);
    for (size_t i = 0; i < 6; i++) {
        uint32_t id = gx_intern_find(&in, ipc[i], strlen(ipc[i]));
        bool found = false;
        for (uint32_t k = from; k < po.end[GX_PREP_O_IPC]; k++)
            found |= po.ids[k] == id;
        CHECK(id && found);
    }
    gx_prep_offer_fini(&po);
    gx_prep_offer_fini(&po); /* a zeroed record is fine */
    gx_offer_fini(&o);
    gx_intern_fini(&in);
}

int main(void)
{
    if (gx_date_parse("2026-11-25", &g_today) != GX_OK)
        return 2;
    g_now = (int64_t)g_today * 86400 + 2 * 3600; /* 10:00 in China */
    for (int i = 0; i < N_FIRMS; i++)
        snprintf(g_fid[i], sizeof g_fid[i], "91410600FIRM%06d", i);
    RUN(intern_ids_are_stable_and_distinct);
    RUN(prepared_offer_holds_every_covering_id);
    RUN(classify_prep_equals_classify_on_random_pairs);
    return gx_test_done();
}
