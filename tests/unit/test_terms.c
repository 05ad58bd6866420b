/* test_terms.c — index keys and signatures: what an offer is filed under,
 * what a demand asks for, and that every conclusion a signature draws is
 * certain. */
#include "gxtest.h"

#include <string.h>

#include "terms.h"

static const char *const THREE[] = {"410611", "hebi.etdz", "hebi.urdz"};

static bool has(const gx_keys *k, char tag, const char *text)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].tag == tag && k->v[i].len == strlen(text) && memcmp(k->v[i].p, text, k->v[i].len) == 0)
            return true;
    return false;
}

TEST(offer_keys_are_every_dotted_prefix_and_ipc_levels)
{
    gx_offer o = {0};
    gx_strv_push(&o.processes, "casting.die.magnesium");
    gx_strv_push(&o.processes, "casting.die.aluminium");
    gx_strv_push(&o.materials, "magnesium.az91d");
    gx_strv_push(&o.ipc, "B22D 17/00");
    gx_keys k = {0};
    REQUIRE(gx_terms_offer_keys(&o, &k) == GX_OK);
    CHECK(has(&k, 'p', "casting") && has(&k, 'p', "casting.die") && has(&k, 'p', "casting.die.magnesium"));
    CHECK(has(&k, 'p', "casting.die.aluminium"));
    CHECK(has(&k, 'm', "magnesium") && has(&k, 'm', "magnesium.az91d"));
    CHECK(has(&k, 'i', "B") && has(&k, 'i', "B22") && has(&k, 'i', "B22D"));
    CHECK(!has(&k, 'm', "casting") && !has(&k, 'i', "B22D 17/00"));
    CHECK_EQ_INT(k.n, 9); /* shared prefixes once */
    gx_keys_fini(&k);
    gx_offer_fini(&o);
}

TEST(demand_is_filed_by_its_first_rule_naming_terms)
{
    gx_demand d = {0};
    gx_keys k = {0};
    REQUIRE(gx_terms_demand_keys(&d, &k) == GX_OK);
    CHECK(k.n == 1 && has(&k, '*', ""));
    gx_keys_fini(&k);
    gx_strv_push(&d.materials, "magnesium.am60b");
    REQUIRE(gx_terms_demand_keys(&d, &k) == GX_OK);
    CHECK(k.n == 1 && has(&k, 'm', "magnesium")); /* a material's family is its parent */
    gx_keys_fini(&k);
    gx_strv_push(&d.processes, "machining.turning");
    gx_strv_push(&d.processes, "casting.die.magnesium");
    REQUIRE(gx_terms_demand_keys(&d, &k) == GX_OK);
    CHECK(k.n == 2 && has(&k, 'p', "machining.turning") && has(&k, 'p', "casting.die"));
    gx_keys_fini(&k);
    gx_demand_fini(&d);
}

TEST(signatures_prove_only_absence)
{
    gx_firm f = {0};
    snprintf(f.county, sizeof f.county, "410611");
    gx_offer o = {0};
    gx_strv_push(&o.processes, "casting.die.magnesium");
    gx_keys k = {0};
    REQUIRE(gx_terms_offer_keys(&o, &k) == GX_OK);
    gx_sig sig;
    gx_terms_offer_sig(&k, &f, &sig);
    gx_sig three = {0};
    gx_sig_add(&three, 'd', "410611", 6);
    gx_rules_opts ro;
    gx_rules_opts_default(&ro);

    gx_demand d = {0};
    gx_strv_push(&d.processes, "casting.die.magnesium");
    d.scope = GX_SCOPE_SAME_CITY;
    gx_firm df = {0};
    snprintf(df.county, sizeof df.county, "410602");
    gx_dmask m;
    uint32_t fails;
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails)); /* same city 4106, covered */
    CHECK_EQ_INT(fails, 0);

    gx_strv_push(&d.certs, "IATF16949"); /* the offer's firm holds none: certain failure */
    snprintf(df.county, sizeof df.county, "410105"); /* and Zhengzhou is another city */
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(!gx_terms_plausible(&three, &m, &sig, &fails)); /* two certain failures */

    gx_demand_fini(&d);
    d = (gx_demand){0};
    gx_strv_push(&d.processes, "surface.anodizing"); /* another trade: outside the family */
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(!gx_terms_plausible(&three, &m, &sig, &fails));

    gx_demand_fini(&d);
    d = (gx_demand){0};
    gx_strv_push(&d.processes, "casting.die.aluminium"); /* a sibling: in the family, fails PROCESS */
    d.scope = GX_SCOPE_THREE_DISTRICTS;
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails));
    CHECK_EQ_INT(fails, GX_BIT(GX_RULE_PROCESS));
    gx_demand_fini(&d);
    gx_keys_fini(&k);
    gx_offer_fini(&o);
}

/* Section- and class-level codes are filed under what they have: an offer
 * holding only "H01" is found by a demand for "H01" or "H", not "H01L". */
TEST(offer_keys_of_short_ipc_codes)
{
    gx_offer o = {0};
    gx_strv_push(&o.ipc, "H01");
    gx_strv_push(&o.ipc, "G");
    gx_strv_push(&o.ipc, "B22D 17/00");
    gx_keys k = {0};
    REQUIRE(gx_terms_offer_keys(&o, &k) == GX_OK);
    CHECK(has(&k, 'i', "H") && has(&k, 'i', "H01") && has(&k, 'i', "G"));
    CHECK(has(&k, 'i', "B") && has(&k, 'i', "B22") && has(&k, 'i', "B22D"));
    CHECK(!has(&k, 'i', "H01L"));
    CHECK_EQ_INT(k.n, 6);
    gx_keys_fini(&k);
    gx_offer_fini(&o);
}

/* A firm in a park that is not one of the three districts is in its county:
 * the signatures must not prove a region failure the region rule does not
 * find (regression: they held the park as its district). */
TEST(signature_district_of_a_firm_in_another_park_is_its_county)
{
    gx_rules_opts ro;
    gx_rules_opts_default(&ro);
    ro.three_districts = THREE;
    ro.n_three_districts = 3;
    gx_sig three = {0};
    for (size_t i = 0; i < 3; i++)
        gx_sig_add(&three, 'd', THREE[i], strlen(THREE[i]));

    gx_firm park = {0}; /* a Qibin firm in a Qibin park the vocabulary adds */
    snprintf(park.county, sizeof park.county, "410611");
    park.zone = strdup("hebi.qbpark");
    gx_offer o = {0};
    gx_strv_push(&o.processes, "casting.die.magnesium");
    gx_keys k = {0};
    REQUIRE(gx_terms_offer_keys(&o, &k) == GX_OK);
    gx_sig sig;
    gx_terms_offer_sig(&k, &park, &sig);

    gx_demand d = {0};
    gx_strv_push(&d.processes, "casting.die.magnesium");
    gx_strv_push(&d.certs, "IATF16949"); /* one certain failure, so a second would drop the pair */
    d.scope = GX_SCOPE_THREE_DISTRICTS;
    gx_firm df = {0};
    snprintf(df.county, sizeof df.county, "410611");
    gx_dmask m;
    uint32_t fails;
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails));
    CHECK_EQ_INT(fails, GX_BIT(GX_RULE_CERTIFICATION));
    d.scope = GX_SCOPE_SAME_DISTRICT; /* a zoneless Qibin firm: the same district */
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails));
    CHECK_EQ_INT(fails, GX_BIT(GX_RULE_CERTIFICATION));
    /* a demand firm in the development zone is in another district: provably */
    df.zone = strdup("hebi.etdz");
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(!gx_terms_plausible(&three, &m, &sig, &fails));
    /* and under a list naming the park (a vocabulary that flags it) the park is
     * the firm's district: the same signature serves both */
    static const char *const with_park[] = {"410611", "hebi.etdz", "hebi.qbpark"};
    ro.three_districts = with_park;
    free(df.zone);
    df.zone = strdup("hebi.qbpark");
    gx_terms_dmask(&ro, &d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails));
    CHECK_EQ_INT(fails, GX_BIT(GX_RULE_CERTIFICATION));
    gx_firm_fini(&df);
    gx_firm_fini(&park);
    gx_demand_fini(&d);
    gx_keys_fini(&k);
    gx_offer_fini(&o);
}

int main(void)
{
    RUN(offer_keys_are_every_dotted_prefix_and_ipc_levels);
    RUN(demand_is_filed_by_its_first_rule_naming_terms);
    RUN(signatures_prove_only_absence);
    RUN(offer_keys_of_short_ipc_codes);
    RUN(signature_district_of_a_firm_in_another_park_is_its_county);
    return gx_test_done();
}
