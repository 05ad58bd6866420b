/* test_terms.c — index keys and signatures: what an offer is filed under,
 * what a demand asks for, and that every conclusion a signature draws is
 * certain. */
#include "gxtest.h"

#include <string.h>

#include "terms.h"

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

    gx_demand d = {0};
    gx_strv_push(&d.processes, "casting.die.magnesium");
    d.scope = GX_SCOPE_SAME_CITY;
    gx_firm df = {0};
    snprintf(df.county, sizeof df.county, "410602");
    gx_dmask m;
    uint32_t fails;
    gx_terms_dmask(&d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails)); /* same city 4106, covered */
    CHECK_EQ_INT(fails, 0);

    gx_strv_push(&d.certs, "IATF16949"); /* the offer's firm holds none: certain failure */
    snprintf(df.county, sizeof df.county, "410105"); /* and Zhengzhou is another city */
    gx_terms_dmask(&d, &df, &m);
    CHECK(!gx_terms_plausible(&three, &m, &sig, &fails)); /* two certain failures */

    gx_demand_fini(&d);
    d = (gx_demand){0};
    gx_strv_push(&d.processes, "surface.anodizing"); /* another trade: outside the family */
    gx_terms_dmask(&d, &df, &m);
    CHECK(!gx_terms_plausible(&three, &m, &sig, &fails));

    gx_demand_fini(&d);
    d = (gx_demand){0};
    gx_strv_push(&d.processes, "casting.die.aluminium"); /* a sibling: in the family, fails PROCESS */
    d.scope = GX_SCOPE_THREE_DISTRICTS;
    gx_terms_dmask(&d, &df, &m);
    CHECK(gx_terms_plausible(&three, &m, &sig, &fails));
    CHECK_EQ_INT(fails, GX_BIT(GX_RULE_PROCESS));
    gx_demand_fini(&d);
    gx_keys_fini(&k);
    gx_offer_fini(&o);
}

int main(void)
{
    RUN(offer_keys_are_every_dotted_prefix_and_ipc_levels);
    RUN(demand_is_filed_by_its_first_rule_naming_terms);
    RUN(signatures_prove_only_absence);
    return gx_test_done();
}
