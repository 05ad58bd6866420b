/* test_validate.c — domain validation against the embedded vocabulary:
 * canonical ids, unknown codes named, required fields, ranges. */
#include "gxtest.h"
#include "validate.h"

static gx_vocab *V;
static const int64_t NOW = 20782LL * 86400 + 3600; /* 2026-11-25 01:00 UTC */

static gx_demand s_demand(void)
{
    gx_demand d = {0};
    d.kind = GX_KIND_PARTS_SUPPLY;
    d.industry = strdup("3670");
    gx_strv_push(&d.processes, "Mg die casting");
    gx_strv_push(&d.materials, "AZ91D");
    gx_strv_push(&d.certs, "IATF 16949");
    d.quantity = 5000;
    gx_date_parse("2027-03-01", &d.needed_by);
    return d;
}

TEST(demand_is_canonicalised)
{
    gx_demand d = s_demand();
    gx_verr e;
    REQUIRE(gx_validate_demand(V, &d, NOW, 480, &e) == GX_OK);
    CHECK_STR(d.industry, "C3670");
    CHECK_STR(d.processes.v[0], "casting.die.magnesium");
    CHECK_STR(d.materials.v[0], "material.metal.magnesium.az91d");
    CHECK_STR(d.certs.v[0], "IATF16949");
    CHECK_STR(d.unit, "pcs");
    CHECK_EQ_INT(d.min_credit, GX_CREDIT_C);
    int32_t next_day; /* open until the needed-by day (2027-03-01) ends in China */
    gx_date_parse("2027-03-02", &next_day);
    CHECK_EQ_INT(d.expires_at, (int64_t)next_day * 86400 - 480 * 60);
    gx_demand_fini(&d);
}

TEST(unknown_codes_are_named)
{
    gx_demand d = s_demand();
    gx_verr e;
    free(d.processes.v[0]);
    d.processes.v[0] = strdup("casting.die.titanium");
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_UNKNOWN_CODE);
    CHECK_STR(e.field, "demand.processes[0]");
    CHECK(strstr(e.msg, "casting.die.titanium") != NULL);
    gx_demand_fini(&d);
    d = s_demand();
    free(d.industry);
    d.industry = strdup("Z9999");
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_UNKNOWN_CODE);
    CHECK(strstr(e.msg, "Z9999") != NULL);
    gx_demand_fini(&d);
}

TEST(demand_domain_checks)
{
    gx_verr e;
    gx_demand d = s_demand();
    d.kind = GX_KIND_NONE;
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "demand.kind");
    gx_demand_fini(&d);
    d = s_demand();
    d.quantity = 0;
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "demand.quantity");
    gx_demand_fini(&d);
    d = s_demand();
    gx_date_parse("2026-11-01", &d.needed_by); /* in the past */
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "demand.needed_by");
    gx_demand_fini(&d);
    d = s_demand();
    d.expires_at = NOW - 1;
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    gx_demand_fini(&d);
    d = s_demand();
    gx_strv_push(&d.processes, "casting.die.magnesium"); /* alias + id = same code twice */
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    gx_demand_fini(&d);
    d = s_demand();
    gx_strv_push(&d.ipc, "not an ipc");
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "demand.ipc[0]");
    gx_demand_fini(&d);
}

/* A demand may ask for an IPC section, class, subclass, main group or
 * subgroup, each stored in one spelling (regression: "H01" and "H01L 21" were
 * refused); an offer likewise. */
TEST(ipc_at_every_level)
{
    static const char *const in[][2] = {
        {"h", "H"},
        {"H01", "H01"},
        {"h01l", "H01L"},
        {"H01L 21", "H01L 21/00"},
        {"H01L21/00", "H01L 21/00"},
        {"H01L 0021/020", "H01L 21/02"},
    };
    gx_verr e;
    gx_demand d = s_demand();
    d.kind = GX_KIND_TECH_TRANSFER;
    gx_offer o = {0};
    o.kinds = GX_BIT(GX_KIND_TECH_TRANSFER);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        gx_strv_push(&d.ipc, in[i][0]);
        gx_strv_push(&o.ipc, in[i][0]);
    }
    REQUIRE(gx_validate_demand(V, &d, NOW, 480, &e) == GX_OK);
    REQUIRE(gx_validate_offer(V, &o, NOW, 86400, &e) == GX_OK);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        CHECK_STR(d.ipc.v[i], in[i][1]);
        CHECK_STR(o.ipc.v[i], in[i][1]);
    }
    gx_demand_fini(&d);
    gx_offer_fini(&o);
    d = s_demand();
    gx_strv_push(&d.ipc, "H01L 21/2"); /* a subgroup has two digits or more */
    CHECK_EQ_INT(gx_validate_demand(V, &d, NOW, 480, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "demand.ipc[0]");
    CHECK(strstr(e.msg, "main group (H01L 21/00) or subgroup (H01L 21/02)") != NULL);
    gx_demand_fini(&d);
}

TEST(firm_checks)
{
    gx_verr e;
    gx_firm f = {0};
    strcpy(f.id, "91350100M000100Y43");
    f.name = strdup("test firm");
    strcpy(f.county, "410611");
    f.zone = strdup("ETDZ");
    REQUIRE(gx_validate_firm(V, &f, false, &e) == GX_OK);
    CHECK_STR(f.zone, "hebi.etdz");
    CHECK_EQ_INT(f.credit, GX_CREDIT_C);
    f.id[17] = '0'; /* wrong check character */
    CHECK_EQ_INT(gx_validate_firm(V, &f, false, &e), GX_ERR_INVALID);
    CHECK(strstr(e.msg, "check character") != NULL);
    CHECK_EQ_INT(gx_validate_firm(V, &f, true, &e), GX_OK); /* operator override for legacy codes */
    f.id[0] = 'I';                                          /* never a valid symbol */
    CHECK_EQ_INT(gx_validate_firm(V, &f, true, &e), GX_ERR_INVALID);
    strcpy(f.id, "91350100M000100Y43");
    strcpy(f.county, "410622"); /* Qi county: the ETDZ is not there */
    CHECK_EQ_INT(gx_validate_firm(V, &f, false, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "firm.zone");
    strcpy(f.county, "999999");
    CHECK_EQ_INT(gx_validate_firm(V, &f, false, &e), GX_ERR_UNKNOWN_CODE);
    gx_firm_fini(&f);
}

TEST(offer_and_subscription)
{
    gx_verr e;
    gx_offer o = {0};
    o.kinds = GX_BIT(GX_KIND_PARTS_SUPPLY);
    gx_strv_push(&o.processes, "5-axis");
    o.monthly_capacity = 0;
    CHECK_EQ_INT(gx_validate_offer(V, &o, NOW, 86400, &e), GX_ERR_INVALID);
    CHECK_STR(e.field, "offer.monthly_capacity");
    o.monthly_capacity = 1000;
    REQUIRE(gx_validate_offer(V, &o, NOW, 86400, &e) == GX_OK);
    CHECK_STR(o.processes.v[0], "machining.cnc.5axis");
    o.kinds = 0;
    CHECK_EQ_INT(gx_validate_offer(V, &o, NOW, 86400, &e), GX_ERR_INVALID);
    gx_offer_fini(&o);

    gx_sub s = {0};
    gx_strv_push(&s.industries, "C36");
    gx_strv_push(&s.districts, "410611");
    gx_strv_push(&s.districts, "经开区");
    REQUIRE(gx_validate_sub(V, &s, &e) == GX_OK);
    CHECK_STR(s.districts.v[1], "hebi.etdz");
    gx_strv_push(&s.districts, "nowhere");
    CHECK_EQ_INT(gx_validate_sub(V, &s, &e), GX_ERR_UNKNOWN_CODE);
    gx_sub_fini(&s);
}

int main(void)
{
    char err[256];
    if (gx_vocab_load(NULL, &V, err, sizeof err) != GX_OK) {
        fprintf(stderr, "embedded vocabulary: %s\n", err);
        return 1;
    }
    RUN(demand_is_canonicalised);
    RUN(unknown_codes_are_named);
    RUN(demand_domain_checks);
    RUN(ipc_at_every_level);
    RUN(firm_checks);
    RUN(offer_and_subscription);
    gx_vocab_destroy(&V);
    return gx_test_done();
}
