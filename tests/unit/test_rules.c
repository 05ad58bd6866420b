/* test_rules.c — every hard rule passing and failing, scores, hints, filters.
 *
 * The baseline is an eligible pair: an anchor in the Hebi ETDZ (county 410611)
 * posting a magnesium die-casting PARTS_SUPPLY demand, and an SME in Qibin
 * (410611, no zone) offering casting.die.magnesium. Each test breaks one thing
 * and checks that exactly that rule fails, with the values in its detail. */
#include "rules.h"

#include "gxtest.h"

static const char *const THREE[] = {"410611", "hebi.etdz", "hebi.demo"};

typedef struct fixture {
    gx_rules_opts opts;
    gx_firm anchor, sme;
    gx_demand d;
    gx_offer o;
    int64_t now;   /* 2026-11-25 10:00 in China */
    int32_t today; /* 2026-11-25 */
} fixture;

static int32_t day(const char *s)
{
    int32_t d = 0;
    if (gx_date_parse(s, &d) != GX_OK)
        abort();
    return d;
}

static void add_cert(gx_firm *f, const char *scheme, int32_t until)
{
    f->certs = realloc(f->certs, (f->n_certs + 1) * sizeof *f->certs);
    f->certs[f->n_certs].scheme = strdup(scheme);
    f->certs[f->n_certs].number = strdup("");
    f->certs[f->n_certs].valid_until = until;
    f->n_certs++;
}

static void set_firm(gx_firm *f, const char *id, const char *county, const char *zone, double lat, double lon,
                     gx_credit credit)
{
    gx_firm_fini(f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->name = strdup(id);
    snprintf(f->county, sizeof f->county, "%s", county);
    f->zone = zone ? strdup(zone) : NULL;
    f->has_location = true;
    f->lat = lat;
    f->lon = lon;
    f->credit = credit;
}

static void setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    gx_rules_opts_default(&fx->opts);
    fx->opts.three_districts = THREE;
    fx->opts.n_three_districts = 3;
    fx->today = day("2026-11-25");
    fx->now = (int64_t)fx->today * 86400 + 2 * 3600; /* 10:00 at UTC+8 */

    set_firm(&fx->anchor, "91410600ANCHOR0001", "410611", "hebi.etdz", 35.7480, 114.2970, GX_CREDIT_A);
    set_firm(&fx->sme, "91410611SME0000002", "410611", NULL, 35.7600, 114.3100, GX_CREDIT_B);
    add_cert(&fx->sme, "ISO9001", fx->today + 365);
    add_cert(&fx->sme, "ISO14001", fx->today + 365);

    gx_demand *d = &fx->d;
    d->id = 1;
    d->revision = 1;
    d->state = GX_STATE_OPEN;
    snprintf(d->owner, sizeof d->owner, "%s", fx->anchor.id);
    d->kind = GX_KIND_PARTS_SUPPLY;
    d->industry = strdup("C3670");
    gx_strv_push(&d->processes, "casting.die");
    gx_strv_push(&d->materials, "magnesium");
    gx_strv_push(&d->certs, "ISO9001");
    d->quantity = d->original_quantity = 5000;
    d->unit = strdup("pcs");
    d->needed_by = day("2027-03-05"); /* 100 days */
    d->has_budget = true;
    d->budget_min = 10;
    d->budget_max = 14;
    d->min_credit = GX_CREDIT_B;
    d->scope = GX_SCOPE_THREE_DISTRICTS;
    d->max_distance_km = 50;
    d->title = strdup("AZ91D housings");

    gx_offer *o = &fx->o;
    o->id = 2;
    o->revision = 1;
    o->state = GX_STATE_OPEN;
    snprintf(o->owner, sizeof o->owner, "%s", fx->sme.id);
    o->kinds = GX_BIT(GX_KIND_PARTS_SUPPLY) | GX_BIT(GX_KIND_PROCESSING);
    gx_strv_push(&o->industries, "C3670");
    gx_strv_push(&o->processes, "casting.die.magnesium");
    gx_strv_push(&o->processes, "machining.cnc");
    gx_strv_push(&o->materials, "magnesium.az91d");
    o->monthly_capacity = 3000; /* 10000 by needed-by */
    o->min_order = 1000;
    o->lead_time_days = 20;
    o->has_price = true;
    o->price_min = 11;
    o->price_max = 13;
    o->service_scope = GX_SCOPE_SAME_PROVINCE;
}

static void teardown(fixture *fx)
{
    gx_firm_fini(&fx->anchor);
    gx_firm_fini(&fx->sme);
    gx_demand_fini(&fx->d);
    gx_offer_fini(&fx->o);
}

static void eval(fixture *fx, gx_explain *x)
{
    gx_rules_evaluate(&fx->opts, &fx->d, &fx->anchor, &fx->o, &fx->sme, fx->now, true, x);
}

static bool has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        fprintf(stderr, "  \"%s\" lacks \"%s\"\n", hay, needle);
        return false;
    }
    return true;
}

static void strv_set(gx_strv *sv, const char *a, const char *b)
{
    gx_strv_fini(sv);
    if (a)
        gx_strv_push(sv, a);
    if (b)
        gx_strv_push(sv, b);
}

/* Exactly rule r fails. */
#define ONLY_FAILS(x, r)                                                                                     \
    do {                                                                                                     \
        CHECK_EQ_INT((x).n_failed, 1);                                                                       \
        CHECK_EQ_INT((x).failed, (r));                                                                       \
        CHECK(!(x).rules[(r)].pass);                                                                         \
    } while (0)

TEST(baseline_is_eligible)
{
    fixture f;
    setup(&f);
    gx_explain x;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK_EQ_INT(x.failed, GX_RULE_NONE);
    for (int r = 1; r < GX_RULE__COUNT; r++) {
        CHECK(x.rules[r].pass);
        CHECK(x.rules[r].detail[0] != '\0');
    }
    CHECK(has(x.rules[GX_RULE_KIND].detail, "needs parts_supply"));
    CHECK(has(x.rules[GX_RULE_PROCESS].detail, "casting.die.magnesium"));
    CHECK(has(x.rules[GX_RULE_TECHNOLOGY].detail, "not a technology demand"));
    CHECK(has(x.rules[GX_RULE_CAPACITY].detail, "capacity 10000 pcs by 2027-03-05"));
    CHECK(x.score > 0 && x.score <= 100);
    CHECK(x.distance_km > 0 && x.distance_km < 5);
    CHECK(fabs(x.capacity_until_needed - 10000) < 1e-9);
    /* the fast path gives the same verdicts and score without text */
    gx_explain y;
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &f.o, &f.sme, f.now, false, &y);
    CHECK_EQ_INT(y.n_failed, 0);
    CHECK(y.score == x.score);
    CHECK(y.rules[GX_RULE_KIND].detail[0] == '\0');
    teardown(&f);
}

TEST(rule_kind)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.kinds = GX_BIT(GX_KIND_PROCESSING);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_KIND);
    CHECK(has(x.rules[GX_RULE_KIND].detail, "needs parts_supply; offers processing"));
    teardown(&f);
}

TEST(rule_process)
{
    fixture f;
    setup(&f);
    gx_explain x;
    strv_set(&f.o.processes, "casting.dies", "machining.cnc"); /* not a dotted descendant */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_PROCESS);
    CHECK(has(x.rules[GX_RULE_PROCESS].detail, "missing casting.die"));
    CHECK(has(x.rules[GX_RULE_PROCESS].detail, "offers casting.dies, machining.cnc"));
    strv_set(&f.o.processes, "casting.die", NULL); /* equal covers */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_PROCESS].pass);
    CHECK(has(x.rules[GX_RULE_PROCESS].detail, "requires casting.die; offers casting.die"));
    teardown(&f);
}

TEST(rule_material)
{
    fixture f;
    setup(&f);
    gx_explain x;
    strv_set(&f.o.materials, "aluminium.adc12", NULL);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_MATERIAL);
    CHECK(has(x.rules[GX_RULE_MATERIAL].detail, "missing magnesium; offers aluminium.adc12"));
    strv_set(&f.d.materials, NULL, NULL); /* nothing required */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_MATERIAL].pass);
    CHECK(has(x.rules[GX_RULE_MATERIAL].detail, "none required"));
    teardown(&f);
}

static void make_tech(fixture *f)
{
    f->d.kind = GX_KIND_TECH_TRANSFER;
    strv_set(&f->d.ipc, "H01L 21/00", NULL); /* a main group */
    f->d.min_trl = 6;
    f->d.modes = GX_BIT(GX_MODE_LICENCE);
    f->o.kinds |= GX_BIT(GX_KIND_TECH_TRANSFER);
    strv_set(&f->o.ipc, "H01L 21/02", NULL);
    f->o.trl = 7;
    f->o.modes = GX_BIT(GX_MODE_LICENCE) | GX_BIT(GX_MODE_JOINT_DEVELOPMENT);
}

TEST(rule_technology)
{
    fixture f;
    setup(&f);
    gx_explain x;
    make_tech(&f);
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(
        has(x.rules[GX_RULE_TECHNOLOGY].detail, "IPC H01L 21/00 covered; TRL 7 >= 6; mode licence offered"));

    f.o.trl = 5;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_TECHNOLOGY);
    CHECK(has(x.rules[GX_RULE_TECHNOLOGY].detail, "TRL 5 < 6"));
    f.o.trl = 7;

    strv_set(&f.d.ipc, "H01L", "G06N 3/08");
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_TECHNOLOGY);
    CHECK(has(x.rules[GX_RULE_TECHNOLOGY].detail, "missing IPC G06N 3/08 (offers H01L 21/02)"));

    strv_set(&f.d.ipc, "H01L 2", NULL); /* not at a symbol boundary */
    eval(&f, &x);
    CHECK(!x.rules[GX_RULE_TECHNOLOGY].pass);
    strv_set(&f.d.ipc, "H01L 21/02", NULL);
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_TECHNOLOGY].pass);

    f.d.modes = GX_BIT(GX_MODE_ASSIGNMENT);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_TECHNOLOGY);
    CHECK(has(x.rules[GX_RULE_TECHNOLOGY].detail,
              "missing mode assignment (offers licence, joint_development)"));
    f.d.modes = 0; /* any mode */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_TECHNOLOGY].pass);
    teardown(&f);
}

/* The IPC hierarchy: a required code is covered by an offered code equal to
 * or below it (regression: "H01L 21/00" did not cover "H01L 21/02"). */
TEST(ipc_covers_along_the_hierarchy)
{
    static const struct {
        const char *have, *want;
        bool covers;
    } cases[] = {
        {"H01L 21/02", "H", true},
        {"H01L 21/02", "H01", true},
        {"H01L 21/02", "H01L", true},
        {"H01L 21/02", "H01L 21/00", true},  /* a main group covers its subgroups */
        {"H01L 21/027", "H01L 21/00", true}, /* at any depth */
        {"H01L 21/00", "H01L 21/00", true},
        {"H01L 21/02", "H01L 21/02", true},
        {"H01", "H01", true},
        {"H01", "H", true},
        {"H01L 21/027", "H01L 21/02", false}, /* subgroup under subgroup: by indentation, not number */
        {"H01L 21/00", "H01L 21/02", false},  /* a main group is above its subgroups */
        {"H01L", "H01L 21/00", false},
        {"H01", "H01L", false},
        {"H01L 210/02", "H01L 21/00", false},
        {"H01L 2/02", "H01L 21/00", false},
        {"H01L 21/02", "H01L 2", false}, /* not a symbol */
        {"H01M 21/02", "H01L", false},
        {"H02J 7/00", "H01", false},
        {"G06N 3/08", "H", false},
        {NULL, "H", false},
        {"H01L", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = gx_rules_ipc_covers(cases[i].have, cases[i].want);
        if (got != cases[i].covers)
            fprintf(stderr, "  \"%s\" covers \"%s\": %d\n", cases[i].have ? cases[i].have : "(null)",
                    cases[i].want, got);
        CHECK(got == cases[i].covers);
    }
}

TEST(rule_technology_at_every_ipc_level)
{
    fixture f;
    setup(&f);
    gx_explain x;
    make_tech(&f);
    static const char *const wants[] = {"H", "H01", "H01L", "H01L 21/00", "H01L 21/02"};
    for (size_t i = 0; i < 5; i++) {
        strv_set(&f.d.ipc, wants[i], NULL);
        eval(&f, &x);
        CHECK_EQ_INT(x.n_failed, 0);
    }
    strv_set(&f.o.ipc, "H01L 21/027", NULL);
    strv_set(&f.d.ipc, "H01L 21/00", "H01L 21/02");
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_TECHNOLOGY);
    CHECK(has(x.rules[GX_RULE_TECHNOLOGY].detail, "missing IPC H01L 21/02 (offers H01L 21/027)"));
    /* a near miss: the offer works in the subclass of what is wanted */
    CHECK(gx_rules_near_relevant(&f.d, &f.o, GX_RULE_TECHNOLOGY));
    strv_set(&f.o.ipc, "H05K 3/34", NULL); /* same section, another subclass: not related */
    CHECK(!gx_rules_near_relevant(&f.d, &f.o, GX_RULE_TECHNOLOGY));
    strv_set(&f.d.ipc, "H01", NULL); /* a whole class: its family is the class */
    CHECK(!gx_rules_near_relevant(&f.d, &f.o, GX_RULE_TECHNOLOGY));
    strv_set(&f.o.ipc, "H01M 10/05", NULL);
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK_EQ_INT(gx_rules_family_len(GX_RULE_TECHNOLOGY, "H01L 21/00"), 4);
    CHECK_EQ_INT(gx_rules_family_len(GX_RULE_TECHNOLOGY, "H01"), 3);
    CHECK_EQ_INT(gx_rules_family_len(GX_RULE_TECHNOLOGY, "H"), 1);
    teardown(&f);
}

/* Which rules apply to which kind (regression: a tech-transfer offer, which
 * may give monthly capacity 0, failed the capacity rule of every
 * non-splittable technology demand and could never match). */
TEST(tech_transfer_offer_without_capacity_matches)
{
    fixture f;
    setup(&f);
    gx_explain x;
    make_tech(&f);
    f.o.kinds = GX_BIT(GX_KIND_TECH_TRANSFER) | GX_BIT(GX_KIND_PARTS_SUPPLY);
    f.o.monthly_capacity = 0;
    f.o.min_order = 1000; /* its parts business's minimum, in pieces */
    f.d.quantity = 1;     /* one licence */
    free(f.d.unit);
    f.d.unit = strdup("licence");
    f.d.splittable = false;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(x.rules[GX_RULE_CAPACITY].pass && x.rules[GX_RULE_MIN_ORDER].pass);
    CHECK(has(x.rules[GX_RULE_CAPACITY].detail, "not applicable to tech_transfer"));
    CHECK(has(x.rules[GX_RULE_MIN_ORDER].detail, "not applicable to tech_transfer"));
    CHECK(x.terms[GX_TERM_CAPACITY] == 1.0); /* nothing to measure, as for an empty requirement */
    CHECK(x.capacity_until_needed == 0);
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_CAPACITY, h, sizeof h), "capacity: no change needed");
    double sc;
    gx_rule r;
    CHECK(gx_rules_classify(&f.opts, &f.d, &f.anchor, &f.o, &f.sme, f.now, 0, &sc, &r) == GX_PAIR_MATCH);
    CHECK(sc == x.score);
    /* every other rule still applies: lead time and price */
    f.o.lead_time_days = 101;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_LEAD_TIME);
    f.o.lead_time_days = 20;
    f.o.price_min = 20;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_PRICE);
    f.o.price_min = 11;
    /* service outsourcing is measured like production: capacity applies */
    f.d.kind = GX_KIND_SERVICE_OUTSOURCING;
    f.o.kinds = GX_BIT(GX_KIND_SERVICE_OUTSOURCING);
    strv_set(&f.d.ipc, NULL, NULL);
    f.d.min_trl = 0;
    f.d.modes = 0;
    f.o.min_order = 0;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CAPACITY);
    CHECK(x.terms[GX_TERM_CAPACITY] == 0);
    for (int k = GX_KIND_PARTS_SUPPLY; k < GX_KIND__COUNT; k++)
        for (int rr = GX_RULE_KIND; rr < GX_RULE__COUNT; rr++)
            CHECK(gx_rules_applies((gx_kind)k, (gx_rule)rr) ==
                  !(k == GX_KIND_TECH_TRANSFER && (rr == GX_RULE_MIN_ORDER || rr == GX_RULE_CAPACITY)));
    teardown(&f);
}

/* The number printed before "km" in a distance detail or hint. */
static double km_of(const char *s)
{
    return strtod(s, NULL);
}

/* A compared figure is printed with enough digits to show the comparison
 * (regression: "10.0 km exceeds the demand's 10 km limit"). */
TEST(distance_prints_enough_digits)
{
    fixture f;
    setup(&f);
    gx_explain x;
    char h[160];
    f.d.scope = GX_SCOPE_SAME_PROVINCE;
    const double per_km = 180 / (M_PI * 6371.0088); /* degrees of latitude per km */
    f.sme.lat = f.anchor.lat + 10.04 * per_km;
    f.sme.lon = f.anchor.lon;
    f.d.max_distance_km = 10;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_DISTANCE);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, "10.04 km; limit 10 km"));
    CHECK_STR(gx_rules_hint(&x, GX_RULE_DISTANCE, h, sizeof h), "10.04 km exceeds the demand's 10 km limit");
    f.sme.lat = f.anchor.lat + 9.96 * per_km; /* within: never printed as 10.0 */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_DISTANCE].pass);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, "9.96 km; limit 10 km"));
    /* a hair over, against a limit with three decimals, and the offer's radius */
    static const double excess[] = {1e-6, 3e-4, 0.02, -0.02, -3e-4, 0};
    static const double limits[] = {10, 12.345, 7.5};
    for (size_t li = 0; li < 3; li++)
        for (size_t i = 0; i < sizeof excess / sizeof excess[0]; i++) {
            f.d.max_distance_km = limits[li];
            f.o.service_radius_km = limits[li] + 1;
            f.sme.lat = f.anchor.lat + (limits[li] + excess[i]) * per_km;
            eval(&f, &x);
            const char *dt = x.rules[GX_RULE_DISTANCE].detail;
            const char *lt = strstr(dt, "; limit ");
            REQUIRE(lt);
            double shown = km_of(dt), lim = km_of(lt + 8);
            CHECK(lim == limits[li]); /* the limit as given */
            bool fails = x.distance_km > limits[li];
            CHECK(x.rules[GX_RULE_DISTANCE].pass == !fails);
            if ((shown > lim) != fails || (shown < lim) != (x.distance_km < limits[li]))
                fprintf(stderr, "  %.17g km against %g reads \"%s\"\n", x.distance_km, limits[li], dt);
            CHECK((shown > lim) == fails);
            CHECK((shown < lim) == (x.distance_km < limits[li]));
            if (fails) {
                gx_rules_hint(&x, GX_RULE_DISTANCE, h, sizeof h);
                CHECK(km_of(h) > limits[li]);
            }
        }
    teardown(&f);
}

TEST(capacity_and_min_order_print_enough_digits)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.monthly_capacity = 1499.9997; /* 4999.999 in 100 days, for 5000 */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CAPACITY);
    CHECK(has(x.rules[GX_RULE_CAPACITY].detail, "capacity 4999.999 pcs by 2027-03-05 (1499.9997 pcs/month"));
    f.o.monthly_capacity = 3000;
    f.o.min_order = 5000.004;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_MIN_ORDER);
    CHECK(has(x.rules[GX_RULE_MIN_ORDER].detail, "min order 5000.004 pcs; quantity 5000 pcs"));
    f.o.min_order = 12.5; /* figures that print exactly keep their usual form */
    eval(&f, &x);
    CHECK(has(x.rules[GX_RULE_MIN_ORDER].detail, "min order 12.50 pcs"));
    teardown(&f);
}

/* A firm's district is its zone only when that zone is one of the three
 * districts; in any other park it is its county (regression: a Qibin firm in
 * a Qibin park outside the two named zones was outside the three districts). */
TEST(rule_region_firm_in_another_park_is_in_its_county)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.d.max_distance_km = 0;
    set_firm(&f.sme, "91410611SME0000002", "410611", "hebi.qbpark", 35.76, 114.31, GX_CREDIT_B);
    add_cert(&f.sme, "ISO9001", f.today + 365);
    CHECK_STR(gx_rules_district(&f.opts, &f.sme), "410611");
    CHECK_STR(gx_rules_district(&f.opts, &f.anchor), "hebi.etdz");
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "demand scope three_districts: offer firm in 410611;"));
    /* same district: with a zoneless Qibin firm yes, with the ETDZ anchor no */
    f.o.service_scope = GX_SCOPE_SAME_DISTRICT;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_REGION);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "demand firm in hebi.etdz vs 410611 (outside)"));
    set_firm(&f.anchor, "91410600ANCHOR0001", "410611", NULL, 35.7480, 114.2970, GX_CREDIT_A);
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(has(x.rules[GX_RULE_REGION].detail,
              "offer service scope same_district: demand firm in 410611 vs 410611"));
    /* Qi County: a firm in the county's industrial cluster is in Qi County */
    set_firm(&f.anchor, "91410600ANCHOR0001", "410622", NULL, 35.61, 114.20, GX_CREDIT_A);
    set_firm(&f.sme, "91410611SME0000002", "410622", "hebi.qixian", 35.62, 114.18, GX_CREDIT_B);
    add_cert(&f.sme, "ISO9001", f.today + 365);
    f.d.scope = GX_SCOPE_SAME_DISTRICT;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "demand scope same_district: offer firm in 410622 vs 410622"));
    f.d.scope = GX_SCOPE_THREE_DISTRICTS; /* and not in the three districts */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_REGION);
    teardown(&f);
}

TEST(rule_certification)
{
    fixture f;
    setup(&f);
    gx_explain x;
    strv_set(&f.d.certs, "IATF16949", NULL);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CERTIFICATION);
    CHECK(has(x.rules[GX_RULE_CERTIFICATION].detail, "requires IATF16949; holds ISO9001, ISO14001"));
    CHECK(has(x.rules[GX_RULE_CERTIFICATION].detail, "missing IATF16949"));
    add_cert(&f.sme, "IATF16949", f.today); /* valid through today, inclusive */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_CERTIFICATION].pass);
    CHECK(has(x.rules[GX_RULE_CERTIFICATION].detail, "holds ISO9001, ISO14001, IATF16949"));
    teardown(&f);
}

TEST(expired_certificate_does_not_count)
{
    fixture f;
    setup(&f);
    gx_explain x;
    strv_set(&f.d.certs, "IATF16949", "ISO9001");
    add_cert(&f.sme, "IATF16949", f.today - 1);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CERTIFICATION);
    CHECK(has(x.rules[GX_RULE_CERTIFICATION].detail, "missing IATF16949;"));
    CHECK(has(x.rules[GX_RULE_CERTIFICATION].detail, "IATF16949 expired 2026-11-24"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_CERTIFICATION, h, sizeof h),
              "add IATF16949 to qualify (IATF16949 expired 2026-11-24)");
    add_cert(&f.sme, "IATF16949", f.today + 30); /* renewed: a second, valid certificate */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_CERTIFICATION].pass);
    teardown(&f);
}

TEST(rule_lead_time)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.lead_time_days = 100; /* ready exactly on the needed-by date */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_LEAD_TIME].pass);
    f.o.lead_time_days = 112;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_LEAD_TIME);
    CHECK(has(x.rules[GX_RULE_LEAD_TIME].detail,
              "needed by 2027-03-05; today 2026-11-25 + lead 112 d = 2027-03-17"));
    CHECK(has(x.rules[GX_RULE_LEAD_TIME].detail, "late by 12 d"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_LEAD_TIME, h, sizeof h), "shorten lead time by 12 d to qualify");
    teardown(&f);
}

TEST(rule_min_order)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.min_order = 6000;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_MIN_ORDER);
    CHECK(has(x.rules[GX_RULE_MIN_ORDER].detail, "min order 6000 pcs; quantity 5000 pcs"));
    f.o.min_order = 5000;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_MIN_ORDER].pass);
    teardown(&f);
}

TEST(rule_capacity)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.monthly_capacity = 1200; /* 4000 in 100 days */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CAPACITY);
    CHECK(fabs(x.capacity_until_needed - 4000) < 1e-9);
    CHECK(has(x.rules[GX_RULE_CAPACITY].detail,
              "capacity 4000 pcs by 2027-03-05 (1200 pcs/month x 100 d); quantity 5000 pcs"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_CAPACITY, h, sizeof h),
              "capacity 4000 short of 5000 pcs by 2027-03-05");
    f.d.splittable = true;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(has(x.rules[GX_RULE_CAPACITY].detail, "split allowed"));
    CHECK(fabs(x.capacity_until_needed - 4000) < 1e-9);
    teardown(&f);
}

TEST(rule_region_three_districts)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.d.max_distance_km = 0; /* isolate the region rule */
    /* county-only Qibin firm: its district is its county, one of the three */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_REGION].pass);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "demand scope three_districts: offer firm in 410611"));
    /* a firm in the ETDZ */
    set_firm(&f.sme, "91410611SME0000002", "410611", "hebi.etdz", 35.70, 114.25, GX_CREDIT_B);
    add_cert(&f.sme, "ISO9001", f.today + 365);
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_REGION].pass);
    /* a firm in Xinxiang */
    set_firm(&f.sme, "91410702SME0000003", "410702", NULL, 35.30, 113.93, GX_CREDIT_B);
    add_cert(&f.sme, "ISO9001", f.today + 365);
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_REGION);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "offer firm in 410702 (outside)"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_REGION, h, sizeof h), "outside the demand's three-districts scope");
    /* same province holds for Xinxiang; same city does not */
    f.d.scope = GX_SCOPE_SAME_PROVINCE;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_REGION].pass);
    f.d.scope = GX_SCOPE_SAME_CITY;
    eval(&f, &x);
    CHECK(!x.rules[GX_RULE_REGION].pass);
    CHECK(has(x.rules[GX_RULE_REGION].detail, "same_city: offer firm in 410702 vs 410611 (outside)"));
    teardown(&f);
}

TEST(rule_region_service_scope)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.service_scope = GX_SCOPE_SAME_DISTRICT; /* SME district 410611, anchor's hebi.etdz */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_REGION);
    CHECK(has(x.rules[GX_RULE_REGION].detail,
              "offer service scope same_district: demand firm in hebi.etdz vs 410611 (outside)"));
    char h[160];
    CHECK(has(gx_rules_hint(&x, GX_RULE_REGION, h, sizeof h),
              "outside the offer's same-district service scope"));
    f.o.service_scope = GX_SCOPE_SAME_CITY;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_REGION].pass);
    teardown(&f);
}

TEST(rule_distance)
{
    fixture f;
    setup(&f);
    gx_explain x;
    /* an SME in Zhengzhou, ~128 km from Hebi */
    set_firm(&f.sme, "91410105SME0000004", "410105", NULL, 34.75, 113.62, GX_CREDIT_B);
    add_cert(&f.sme, "ISO9001", f.today + 365);
    f.anchor.lat = 35.75;
    f.anchor.lon = 114.30;
    f.d.scope = GX_SCOPE_SAME_PROVINCE;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_DISTANCE);
    CHECK(x.distance_km > 125 && x.distance_km < 131);
    char want[64];
    snprintf(want, sizeof want, "%.1f km; limit 50 km", x.distance_km);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, want));
    char h[160];
    CHECK(has(gx_rules_hint(&x, GX_RULE_DISTANCE, h, sizeof h), "exceeds the demand's 50 km limit"));
    f.d.max_distance_km = 150;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_DISTANCE].pass);
    f.o.service_radius_km = 100; /* the offer's own radius */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_DISTANCE);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, "service radius 100 km"));
    CHECK(has(gx_rules_hint(&x, GX_RULE_DISTANCE, h, sizeof h), "widen the service radius from 100 km"));
    teardown(&f);
}

TEST(rule_distance_unknown)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.sme.has_location = false;
    eval(&f, &x); /* a 50 km limit that cannot be checked fails */
    ONLY_FAILS(x, GX_RULE_DISTANCE);
    CHECK(x.distance_km == -1);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, "distance unknown: offer firm has no location; limit 50 km"));
    f.d.max_distance_km = 0;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 0);
    CHECK(has(x.rules[GX_RULE_DISTANCE].detail, "no limit"));
    CHECK(x.terms[GX_TERM_DISTANCE] == 0.5);
    teardown(&f);
}

TEST(rule_credit)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.sme.credit = GX_CREDIT_C;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CREDIT);
    CHECK(has(x.rules[GX_RULE_CREDIT].detail, "requires B or better; supplier graded C"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_CREDIT, h, sizeof h), "credit grade C is below the required B");
    f.sme.credit = GX_CREDIT_NONE; /* ungraded counts as C */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CREDIT);
    CHECK(has(x.rules[GX_RULE_CREDIT].detail, "counts as C"));
    f.d.min_credit = GX_CREDIT_NONE; /* no minimum: C is enough */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_CREDIT].pass);
    f.sme.credit = GX_CREDIT_D; /* never */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_CREDIT);
    CHECK(has(x.rules[GX_RULE_CREDIT].detail, "joint-penalty"));
    CHECK(gx_rules_excluded(&f.anchor, &f.sme));
    f.sme.credit = GX_CREDIT_A;
    CHECK(!gx_rules_excluded(&f.anchor, &f.sme));
    CHECK(gx_rules_excluded(&f.anchor, &f.anchor)); /* same firm */
    teardown(&f);
}

TEST(rule_price)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.price_min = 15;
    f.o.price_max = 18;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_PRICE);
    CHECK(has(x.rules[GX_RULE_PRICE].detail, "price 15-18 CNY; budget 10-14 CNY; no overlap"));
    char h[160];
    CHECK(has(gx_rules_hint(&x, GX_RULE_PRICE, h, sizeof h), "lower the price to at most 14 CNY"));
    f.d.budget_max = 0; /* open-ended budget */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_PRICE].pass);
    CHECK(has(x.rules[GX_RULE_PRICE].detail, "budget 10+ CNY"));
    f.d.budget_max = 14;
    f.o.has_price = false;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_PRICE].pass);
    CHECK(x.terms[GX_TERM_PRICE] == 0.5);
    teardown(&f);
}

TEST(rule_validity)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.expires_at = f.now; /* expires_at <= now: expired */
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_VALIDITY);
    CHECK(has(x.rules[GX_RULE_VALIDITY].detail, "offer expired 2026-11-25"));
    char h[160];
    CHECK_STR(gx_rules_hint(&x, GX_RULE_VALIDITY, h, sizeof h), "renew the offer to qualify");
    f.o.expires_at = f.now + 1;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_VALIDITY].pass);
    f.d.state = GX_STATE_WITHDRAWN;
    eval(&f, &x);
    ONLY_FAILS(x, GX_RULE_VALIDITY);
    CHECK(has(x.rules[GX_RULE_VALIDITY].detail, "demand not open (withdrawn)"));
    CHECK_STR(gx_rules_hint(&x, GX_RULE_VALIDITY, h, sizeof h), "the demand is no longer open");
    teardown(&f);
}

TEST(all_failures_reported)
{
    fixture f;
    setup(&f);
    gx_explain x;
    f.o.kinds = GX_BIT(GX_KIND_PROCESSING);
    f.o.min_order = 9999;
    f.sme.credit = GX_CREDIT_C;
    eval(&f, &x);
    CHECK_EQ_INT(x.n_failed, 3);
    CHECK_EQ_INT(x.failed, GX_RULE_KIND); /* the first in explanation order */
    CHECK(!x.rules[GX_RULE_MIN_ORDER].pass && !x.rules[GX_RULE_CREDIT].pass);
    teardown(&f);
}

TEST(term_covers_edges)
{
    CHECK(gx_rules_term_covers("casting.die", "casting.die"));
    CHECK(gx_rules_term_covers("casting.die.magnesium", "casting.die"));
    CHECK(gx_rules_term_covers("casting.die.magnesium", "casting"));
    CHECK(!gx_rules_term_covers("casting.dies", "casting.die"));
    CHECK(!gx_rules_term_covers("casting", "casting.die")); /* a parent is less specific */
    CHECK(!gx_rules_term_covers("casting.die", "casting.die.magnesium"));
    CHECK(!gx_rules_term_covers("xcasting.die", "casting.die"));
    CHECK(!gx_rules_term_covers("casting.die", ""));
    CHECK(!gx_rules_term_covers(NULL, "casting"));
    CHECK(!gx_rules_term_covers("casting", NULL));
}

TEST(distance_real_coordinates)
{
    double hz = gx_rules_distance_km(35.75, 114.30, 34.75, 113.62); /* Hebi - Zhengzhou */
    CHECK(hz > 125 && hz < 131);
    CHECK(fabs(gx_rules_distance_km(34.75, 113.62, 35.75, 114.30) - hz) < 1e-9);
    CHECK(gx_rules_distance_km(35.75, 114.30, 35.75, 114.30) == 0);
    /* one degree of latitude is ~111.2 km */
    CHECK(fabs(gx_rules_distance_km(0, 0, 1, 0) - 111.195) < 0.01);
}

TEST(score_terms)
{
    fixture f;
    setup(&f);
    gx_explain x;
    eval(&f, &x);
    CHECK(x.terms[GX_TERM_INDUSTRY] == 1.0);
    CHECK(x.terms[GX_TERM_PROCESS] == 1.0);                /* both covers more specific than required */
    CHECK(x.terms[GX_TERM_CREDIT] == 0.7);                 /* B */
    CHECK(x.terms[GX_TERM_CAPACITY] == 1.0);               /* 10000 for 5000: twice the need */
    CHECK(fabs(x.terms[GX_TERM_LEAD_TIME] - 0.8) < 1e-12); /* (100 - 20) / 100 */
    CHECK(x.terms[GX_TERM_PRICE] == 1.0);
    CHECK(x.terms[GX_TERM_TRACK_RECORD] == 0);
    CHECK(fabs(x.terms[GX_TERM_DISTANCE] - (1 - x.distance_km / 100)) < 1e-12);
    double sw = 0, s = 0;
    for (int t = 0; t < GX_TERM__COUNT; t++) {
        sw += x.weights[t];
        s += x.weights[t] * x.terms[t];
    }
    CHECK(sw == 100);
    CHECK(fabs(x.score - 100 * s / sw) < 1e-9);

    strv_set(&f.o.industries, "C3679", NULL);      /* same group */
    strv_set(&f.o.processes, "casting.die", NULL); /* equal: 0.8 */
    f.o.monthly_capacity = 2250;                   /* 7500: ratio 1.5 */
    f.o.price_max = 16;                            /* 11-16 vs max 14: 3/5 inside */
    f.sme.awards = 4;
    eval(&f, &x);
    CHECK(x.terms[GX_TERM_INDUSTRY] == 0.75);
    CHECK(fabs(x.terms[GX_TERM_PROCESS] - 0.9) < 1e-12);
    CHECK(fabs(x.terms[GX_TERM_CAPACITY] - 0.75) < 1e-12);
    CHECK(fabs(x.terms[GX_TERM_PRICE] - 0.6) < 1e-12);
    CHECK(fabs(x.terms[GX_TERM_TRACK_RECORD] - 0.4) < 1e-12);
    strv_set(&f.o.industries, "C3512", "F5161"); /* same section at best */
    eval(&f, &x);
    CHECK(x.terms[GX_TERM_INDUSTRY] == 0.25);
    strv_set(&f.o.industries, "C3611", NULL); /* same division */
    eval(&f, &x);
    CHECK(x.terms[GX_TERM_INDUSTRY] == 0.5);
    teardown(&f);
}

TEST(score_ordering_and_weights)
{
    fixture f;
    setup(&f);
    strv_set(&f.d.certs, NULL, NULL);
    f.d.scope = GX_SCOPE_SAME_PROVINCE;
    f.d.max_distance_km = 0;
    f.d.min_credit = GX_CREDIT_C;
    /* near: A-graded, certified, 1.7 km away */
    gx_firm near = {0}, far = {0};
    set_firm(&near, "91410611NEAR000005", "410611", NULL, 35.7600, 114.3100, GX_CREDIT_A);
    add_cert(&near, "IATF16949", f.today + 300);
    /* far: C-graded, uncertified, in Zhengzhou, with more capacity */
    set_firm(&far, "91410105FAR0000006", "410105", NULL, 34.75, 113.62, GX_CREDIT_C);
    gx_offer ofar = {0};
    gx_offer_copy(&ofar, &f.o);
    ofar.monthly_capacity = 9000;
    f.o.monthly_capacity = 1600; /* 5333 of 5000 */
    gx_explain xn, xf;
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &f.o, &near, f.now, false, &xn);
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &ofar, &far, f.now, false, &xf);
    CHECK_EQ_INT(xn.n_failed, 0);
    CHECK_EQ_INT(xf.n_failed, 0);
    CHECK(xn.score > xf.score);
    /* weigh only capacity headroom: the far one wins */
    for (int t = 0; t < GX_TERM__COUNT; t++)
        f.opts.weights[t] = 0;
    f.opts.weights[GX_TERM_CAPACITY] = 1;
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &f.o, &near, f.now, false, &xn);
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &ofar, &far, f.now, false, &xf);
    CHECK(xf.score > xn.score);
    CHECK(fabs(xf.score - 100) < 1e-9);
    gx_firm_fini(&near);
    gx_firm_fini(&far);
    gx_offer_fini(&ofar);
    teardown(&f);
}

TEST(hints)
{
    fixture f;
    setup(&f);
    gx_explain x;
    char h[200];
    strv_set(&f.d.certs, "IATF16949", NULL);
    eval(&f, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_CERTIFICATION, h, sizeof h), "add IATF16949 to qualify");
    strv_set(&f.d.certs, NULL, NULL);

    f.o.kinds = GX_BIT(GX_KIND_PROCESSING);
    eval(&f, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_KIND, h, sizeof h), "serve parts_supply demands to qualify");
    f.o.kinds |= GX_BIT(GX_KIND_PARTS_SUPPLY);

    strv_set(&f.o.processes, "machining.cnc", NULL);
    eval(&f, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_PROCESS, h, sizeof h), "add process casting.die to qualify");
    strv_set(&f.o.processes, "casting.die", NULL);

    f.o.min_order = 8000;
    eval(&f, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_MIN_ORDER, h, sizeof h),
              "lower the minimum order from 8000 pcs to 5000 pcs to qualify");
    f.o.min_order = 0;

    make_tech(&f);
    f.o.trl = 4;
    strv_set(&f.d.ipc, "G06N", NULL);
    eval(&f, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_TECHNOLOGY, h, sizeof h),
              "cover IPC G06N, raise TRL from 4 to 6 to qualify");

    /* a passing rule, a fast-path explanation, a short buffer */
    CHECK_STR(gx_rules_hint(&x, GX_RULE_KIND, h, sizeof h), "kind: no change needed");
    gx_rules_evaluate(&f.opts, &f.d, &f.anchor, &f.o, &f.sme, f.now, false, &x);
    CHECK_STR(gx_rules_hint(&x, GX_RULE_TECHNOLOGY, h, sizeof h), "fails the technology rule");
    char small[8];
    eval(&f, &x);
    CHECK(strlen(gx_rules_hint(&x, GX_RULE_TECHNOLOGY, small, sizeof small)) == 7);
    teardown(&f);
}

TEST(details_truncate_safely)
{
    fixture f;
    setup(&f);
    gx_explain x;
    gx_strv_fini(&f.d.certs);
    for (int i = 0; i < 40; i++) {
        char s[32];
        snprintf(s, sizeof s, "SCHEME%02d", i);
        gx_strv_push(&f.d.certs, s);
    }
    eval(&f, &x);
    CHECK(!x.rules[GX_RULE_CERTIFICATION].pass);
    size_t n = strlen(x.rules[GX_RULE_CERTIFICATION].detail);
    CHECK(n == GX_DETAIL_MAX - 1);
    CHECK(strcmp(x.rules[GX_RULE_CERTIFICATION].detail + n - 3, "...") == 0);
    teardown(&f);
}

TEST(sub_matches)
{
    fixture f;
    setup(&f);
    gx_sub s = {0};
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor)); /* no filters */
    s.kinds = GX_BIT(GX_KIND_PROCESSING);
    CHECK(!gx_rules_sub_matches(&s, &f.d, &f.anchor));
    s.kinds |= GX_BIT(GX_KIND_PARTS_SUPPLY);
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor));

    gx_strv_push(&s.industries, "C35");
    CHECK(!gx_rules_sub_matches(&s, &f.d, &f.anchor));
    gx_strv_push(&s.industries, "C36");
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor));

    gx_strv_push(&s.processes, "casting.di"); /* not a dotted boundary */
    CHECK(!gx_rules_sub_matches(&s, &f.d, &f.anchor));
    gx_strv_push(&s.processes, "casting");
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor));

    gx_strv_push(&s.districts, "hebi.demo");
    CHECK(!gx_rules_sub_matches(&s, &f.d, &f.anchor));
    gx_strv_push(&s.districts, "410611"); /* the anchor's county also counts */
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor));
    strv_set(&s.districts, "hebi.etdz", NULL); /* its zone */
    CHECK(gx_rules_sub_matches(&s, &f.d, &f.anchor));
    gx_sub_fini(&s);
    teardown(&f);
}

TEST(opts_default)
{
    gx_rules_opts o;
    gx_rules_opts_default(&o);
    CHECK(o.weights[GX_TERM_INDUSTRY] == 15 && o.weights[GX_TERM_PROCESS] == 15);
    CHECK(o.weights[GX_TERM_DISTANCE] == 20 && o.weights[GX_TERM_CREDIT] == 15);
    CHECK(o.weights[GX_TERM_CAPACITY] == 10 && o.weights[GX_TERM_LEAD_TIME] == 10);
    CHECK(o.weights[GX_TERM_PRICE] == 10 && o.weights[GX_TERM_TRACK_RECORD] == 5);
    CHECK_EQ_INT(o.utc_offset_min, 480);
    CHECK(o.distance_full_km == 100);
    CHECK_EQ_INT(o.n_three_districts, 0);
}

TEST(today_uses_utc_offset)
{
    fixture f;
    setup(&f);
    gx_explain x;
    /* 2026-11-24 20:00 UTC is already 2026-11-25 in China */
    f.now = (int64_t)day("2026-11-24") * 86400 + 20 * 3600;
    f.o.lead_time_days = 100;
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_LEAD_TIME].pass);
    f.opts.utc_offset_min = 0; /* in UTC it is the 24th: 101 days to go */
    eval(&f, &x);
    CHECK(x.rules[GX_RULE_LEAD_TIME].pass);
    CHECK(has(x.rules[GX_RULE_LEAD_TIME].detail, "today 2026-11-24"));
    teardown(&f);
}

/* ---- every explanation and hint template in both languages */

extern const char gx_vocab_default[];
extern const unsigned long gx_vocab_default_len;

static bool s_has_cjk(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xE4 && *p <= 0xE9)
            return true;
    return false;
}

/* One way to break the baseline pair, and the rule it breaks (NONE: passes). */
typedef struct s_case {
    const char *what;
    void (*mutate)(fixture *fx);
    gx_rule rule;
} s_case;

static void m_none(fixture *fx)
{
    (void)fx;
}
static void m_kind(fixture *fx)
{
    fx->o.kinds = GX_BIT(GX_KIND_PROCESSING);
}
static void m_process(fixture *fx)
{
    gx_strv_push(&fx->d.processes, "surface.anodizing");
}
static void m_material(fixture *fx)
{
    gx_strv_fini(&fx->d.materials);
    gx_strv_push(&fx->d.materials, "aluminium");
}
static void m_tech(fixture *fx)
{
    fx->d.kind = GX_KIND_TECH_TRANSFER;
    fx->o.kinds |= GX_BIT(GX_KIND_TECH_TRANSFER);
    gx_strv_push(&fx->d.ipc, "H01L 21/00");
    fx->d.min_trl = 7;
    fx->o.trl = 5;
    fx->d.modes = GX_BIT(GX_MODE_ASSIGNMENT);
    fx->o.modes = GX_BIT(GX_MODE_LICENCE);
}
static void m_tech_ok(fixture *fx)
{
    fx->d.kind = GX_KIND_TECH_TRANSFER;
    fx->o.kinds |= GX_BIT(GX_KIND_TECH_TRANSFER);
    gx_strv_push(&fx->d.ipc, "H01L");
    gx_strv_push(&fx->o.ipc, "H01L 21/02");
    fx->d.min_trl = 5;
    fx->o.trl = 7;
    fx->d.modes = GX_BIT(GX_MODE_LICENCE);
    fx->o.modes = GX_BIT(GX_MODE_LICENCE);
}
static void m_cert(fixture *fx)
{
    gx_strv_push(&fx->d.certs, "IATF16949");
}
static void m_cert_expired(fixture *fx)
{
    gx_strv_push(&fx->d.certs, "IATF16949");
    add_cert(&fx->sme, "IATF16949", fx->today - 10);
}
static void m_lead(fixture *fx)
{
    fx->o.lead_time_days = 112;
}
static void m_lead_passed(fixture *fx)
{
    fx->d.needed_by = fx->today - 3;
    fx->d.splittable = true;
}
static void m_min_order(fixture *fx)
{
    fx->o.min_order = 8000;
}
static void m_capacity(fixture *fx)
{
    fx->o.monthly_capacity = 1000;
}
static void m_split(fixture *fx)
{
    fx->o.monthly_capacity = 1000;
    fx->d.splittable = true;
}
static void m_region_demand(fixture *fx)
{
    snprintf(fx->sme.county, sizeof fx->sme.county, "410621");
}
static void m_region_offer(fixture *fx)
{
    fx->o.service_scope = GX_SCOPE_SAME_DISTRICT;
    snprintf(fx->sme.county, sizeof fx->sme.county, "410602");
    fx->d.scope = GX_SCOPE_SAME_CITY;
}
static void m_distance(fixture *fx)
{
    fx->d.max_distance_km = 1;
}
static void m_radius(fixture *fx)
{
    fx->o.service_radius_km = 1;
}
static void m_no_location(fixture *fx)
{
    fx->sme.has_location = false;
}
static void m_no_limit(fixture *fx)
{
    fx->d.max_distance_km = 0;
}
static void m_credit(fixture *fx)
{
    fx->d.min_credit = GX_CREDIT_A;
}
static void m_credit_none(fixture *fx)
{
    fx->sme.credit = GX_CREDIT_NONE;
}
static void m_credit_d(fixture *fx)
{
    fx->anchor.credit = GX_CREDIT_D;
}
static void m_price_high(fixture *fx)
{
    fx->o.price_min = 20;
    fx->o.price_max = 25;
}
static void m_price_low(fixture *fx)
{
    fx->o.price_min = 5;
    fx->o.price_max = 8;
}
static void m_no_price(fixture *fx)
{
    fx->o.has_price = false;
}
static void m_no_budget(fixture *fx)
{
    fx->d.has_budget = false;
    fx->o.price_max = 0;
}
static void m_neither(fixture *fx)
{
    fx->d.has_budget = false;
    fx->o.has_price = false;
}
static void m_demand_closed(fixture *fx)
{
    fx->d.state = GX_STATE_WITHDRAWN;
}
static void m_demand_expired(fixture *fx)
{
    fx->d.expires_at = fx->now - 86400;
}
static void m_offer_expired(fixture *fx)
{
    fx->o.expires_at = fx->now - 86400;
    fx->d.expires_at = fx->now + 86400;
}

static const s_case CASES[] = {
    {"baseline", m_none, GX_RULE_NONE},
    {"kind", m_kind, GX_RULE_KIND},
    {"process", m_process, GX_RULE_PROCESS},
    {"material", m_material, GX_RULE_MATERIAL},
    {"technology", m_tech, GX_RULE_TECHNOLOGY},
    {"technology passes", m_tech_ok, GX_RULE_NONE},
    {"certificate missing", m_cert, GX_RULE_CERTIFICATION},
    {"certificate expired", m_cert_expired, GX_RULE_CERTIFICATION},
    {"lead time", m_lead, GX_RULE_LEAD_TIME},
    {"needed-by passed", m_lead_passed, GX_RULE_LEAD_TIME},
    {"min order", m_min_order, GX_RULE_MIN_ORDER},
    {"capacity", m_capacity, GX_RULE_CAPACITY},
    {"split", m_split, GX_RULE_NONE},
    {"demand scope", m_region_demand, GX_RULE_REGION},
    {"service scope", m_region_offer, GX_RULE_REGION},
    {"distance limit", m_distance, GX_RULE_DISTANCE},
    {"service radius", m_radius, GX_RULE_DISTANCE},
    {"no location", m_no_location, GX_RULE_DISTANCE},
    {"no distance limit", m_no_limit, GX_RULE_NONE},
    {"credit", m_credit, GX_RULE_CREDIT},
    {"credit none", m_credit_none, GX_RULE_NONE},
    {"credit D", m_credit_d, GX_RULE_CREDIT},
    {"price above budget", m_price_high, GX_RULE_PRICE},
    {"price below budget", m_price_low, GX_RULE_PRICE},
    {"no price", m_no_price, GX_RULE_NONE},
    {"no budget", m_no_budget, GX_RULE_NONE},
    {"neither", m_neither, GX_RULE_NONE},
    {"demand withdrawn", m_demand_closed, GX_RULE_VALIDITY},
    {"demand expired", m_demand_expired, GX_RULE_VALIDITY},
    {"offer expired", m_offer_expired, GX_RULE_VALIDITY},
};

TEST(every_template_in_both_languages)
{
    gx_vocab *v = NULL;
    char eb[256];
    REQUIRE(gx_vocab_parse(gx_vocab_default, (size_t)gx_vocab_default_len, &v, eb, sizeof eb) == GX_OK);
    gx_rules_words zh = {.lang = GX_LANG_ZH, .vocab = v}, en = {.lang = GX_LANG_EN, .vocab = v};
    static gx_explain x, xe, xz;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        fixture fx;
        setup(&fx);
        CASES[i].mutate(&fx);
        eval(&fx, &x);
        gx_rules_explain(&fx.opts, &en, &fx.d, &fx.anchor, &fx.o, &fx.sme, fx.now, &xe);
        gx_rules_explain(&fx.opts, &zh, &fx.d, &fx.anchor, &fx.o, &fx.sme, fx.now, &xz);
        if (CASES[i].rule != GX_RULE_NONE)
            CHECK(!x.rules[CASES[i].rule].pass);
        CHECK(x.score == xz.score && x.n_failed == xz.n_failed);
        for (int r = 1; r < GX_RULE__COUNT; r++) {
            bool ok = true;
            /* English through the catalogue is the English of gx_rules_evaluate */
            ok &= strcmp(x.rules[r].detail, xe.rules[r].detail) == 0;
            /* Chinese: same verdict, whole text, every placeholder filled, Chinese words */
            ok &= x.rules[r].pass == xz.rules[r].pass;
            ok &= gx_utf8_valid(xz.rules[r].detail, strlen(xz.rules[r].detail));
            ok &= !strchr(xz.rules[r].detail, '{') && s_has_cjk(xz.rules[r].detail);
            char he[512], hz[512], h0[512];
            gx_rules_hint(&x, (gx_rule)r, h0, sizeof h0);
            gx_rules_hint_in(&x, (gx_rule)r, &en, he, sizeof he);
            gx_rules_hint_in(&x, (gx_rule)r, &zh, hz, sizeof hz);
            ok &= strcmp(h0, he) == 0 && !strchr(hz, '{') && s_has_cjk(hz);
            ok &= !strstr(hz, "fails the") && !strstr(hz, "未满足");
            if (!ok) {
                fprintf(stderr, "  %s, rule %s:\n    en %s\n    zh %s\n    hint en %s\n    hint zh %s\n",
                        CASES[i].what, gx_rule_name((gx_rule)r), x.rules[r].detail, xz.rules[r].detail, h0,
                        hz);
                CHECK(0);
            }
        }
        teardown(&fx);
    }
    gx_vocab_destroy(&v);
}

TEST(zh_texts_read_as_written)
{
    gx_vocab *v = NULL;
    char eb[256], h[512];
    REQUIRE(gx_vocab_parse(gx_vocab_default, (size_t)gx_vocab_default_len, &v, eb, sizeof eb) == GX_OK);
    gx_rules_words zh = {.lang = GX_LANG_ZH, .vocab = v};
    static gx_explain x, xz;
    fixture fx;
    setup(&fx);
    m_cert(&fx);
    m_lead(&fx);
    m_distance(&fx);
    eval(&fx, &x);
    gx_rules_explain(&fx.opts, &zh, &fx.d, &fx.anchor, &fx.o, &fx.sme, fx.now, &xz);
    CHECK_STR(gx_rules_hint_in(&x, GX_RULE_CERTIFICATION, &zh, h, sizeof h),
              "缺少 IATF16949 认证：取得后即可入选");
    CHECK_STR(gx_rules_hint_in(&x, GX_RULE_LEAD_TIME, &zh, h, sizeof h), "交货周期缩短 12 天即可入选");
    CHECK_STR(xz.rules[GX_RULE_CERTIFICATION].detail,
              "缺少 IATF16949；要求 ISO9001、IATF16949；持有有效证书 ISO9001、ISO14001");
    CHECK_STR(xz.rules[GX_RULE_PROCESS].detail, "要求 压铸；具备 镁合金压铸、数控加工");
    CHECK_STR(xz.rules[GX_RULE_REGION].detail,
              "需求范围：“三区”，供给方在 淇滨区；服务范围：同省，需求方在 淇滨区，供给方在 淇滨区");
    CHECK_STR(gx_rules_hint_in(&x, GX_RULE_PROCESS, &zh, h, sizeof h), "工艺：已满足，无需调整");
    /* cut short: whole characters only */
    CHECK(strlen(gx_rules_hint_in(&x, GX_RULE_CERTIFICATION, &zh, h, 8)) == 7);
    CHECK(gx_utf8_valid(h, strlen(h)));
    teardown(&fx);
    gx_vocab_destroy(&v);
}

int main(void)
{
    RUN(every_template_in_both_languages);
    RUN(zh_texts_read_as_written);
    RUN(baseline_is_eligible);
    RUN(rule_kind);
    RUN(rule_process);
    RUN(rule_material);
    RUN(rule_technology);
    RUN(ipc_covers_along_the_hierarchy);
    RUN(rule_technology_at_every_ipc_level);
    RUN(tech_transfer_offer_without_capacity_matches);
    RUN(distance_prints_enough_digits);
    RUN(capacity_and_min_order_print_enough_digits);
    RUN(rule_region_firm_in_another_park_is_in_its_county);
    RUN(rule_certification);
    RUN(expired_certificate_does_not_count);
    RUN(rule_lead_time);
    RUN(rule_min_order);
    RUN(rule_capacity);
    RUN(rule_region_three_districts);
    RUN(rule_region_service_scope);
    RUN(rule_distance);
    RUN(rule_distance_unknown);
    RUN(rule_credit);
    RUN(rule_price);
    RUN(rule_validity);
    RUN(all_failures_reported);
    RUN(term_covers_edges);
    RUN(distance_real_coordinates);
    RUN(score_terms);
    RUN(score_ordering_and_weights);
    RUN(hints);
    RUN(details_truncate_safely);
    RUN(sub_matches);
    RUN(opts_default);
    RUN(today_uses_utc_offset);
    return gx_test_done();
}
