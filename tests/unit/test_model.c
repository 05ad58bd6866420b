/* test_model.c — dates, copies and names of the domain model. */
#include "gxtest.h"
#include "model.h"

TEST(dates_round_trip)
{
    int32_t d;
    char buf[11];
    CHECK_EQ_INT(gx_date_parse("2000-01-01", &d), GX_OK);
    CHECK_EQ_INT(d, 10957);
    CHECK_EQ_INT(gx_date_parse("2026-11-25", &d), GX_OK);
    CHECK_EQ_INT(d, 20782); /* date -u -d 2026-11-25 +%s / 86400 */
    gx_date_format(d, buf);
    CHECK_STR(buf, "2026-11-25");
    CHECK_EQ_INT(gx_date_parse("2028-02-29", &d), GX_OK); /* leap year */
    gx_date_format(d, buf);
    CHECK_STR(buf, "2028-02-29");
}

TEST(dates_rejected)
{
    int32_t d = 7;
    CHECK_EQ_INT(gx_date_parse("2027-02-29", &d), GX_ERR_INVALID); /* not a leap year */
    CHECK_EQ_INT(gx_date_parse("2027-13-01", &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse("2027-04-31", &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse("2027-4-1", &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse("2027/04/01", &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse("", &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse(NULL, &d), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_date_parse("1970-01-01", &d), GX_ERR_INVALID); /* day 0 means "no date" */
    CHECK_EQ_INT(d, 7); /* untouched on failure */
}

TEST(date_of_instant_in_china)
{
    /* 2026-11-25 16:30 UTC is already 2026-11-26 00:30 in Hebi (UTC+8). */
    int64_t t = 20782LL * 86400 + 16 * 3600 + 30 * 60;
    CHECK_EQ_INT(gx_date_of(t, 0), 20782);
    CHECK_EQ_INT(gx_date_of(t, 480), 20783);
    CHECK_EQ_INT(gx_date_of(-1, 0), -1);
}

TEST(deep_copy_is_independent)
{
    gx_demand a = {0}, b = {0};
    a.id = 5;
    a.industry = strdup("C3670");
    gx_strv_push(&a.processes, "casting.die.magnesium");
    gx_strv_push(&a.certs, "IATF16949");
    a.details = strdup("drawing 42");
    REQUIRE(gx_demand_copy(&b, &a) == GX_OK);
    gx_demand_fini(&a);
    CHECK_EQ_INT(b.id, 5);
    CHECK_STR(b.industry, "C3670");
    CHECK_STR(b.processes.v[0], "casting.die.magnesium");
    CHECK(gx_strv_has(&b.certs, "IATF16949"));
    CHECK(!gx_strv_has(&b.certs, "ISO9001"));
    CHECK_STR(b.details, "drawing 42");
    gx_demand_fini(&b);
    CHECK(b.industry == NULL && b.processes.n == 0);
    gx_demand_fini(&b); /* tolerates a released struct */
}

TEST(firm_district_prefers_zone)
{
    gx_firm f = {0};
    strcpy(f.county, "410611");
    CHECK_STR(gx_firm_district(&f), "410611");
    f.zone = strdup("hebi.etdz");
    CHECK_STR(gx_firm_district(&f), "hebi.etdz");
    gx_firm g = {0};
    REQUIRE(gx_firm_copy(&g, &f) == GX_OK);
    CHECK_STR(gx_firm_district(&g), "hebi.etdz");
    gx_firm_fini(&f);
    gx_firm_fini(&g);
}

TEST(names)
{
    CHECK_STR(gx_kind_name(GX_KIND_TECH_TRANSFER), "tech_transfer");
    CHECK_STR(gx_rule_name(GX_RULE_CERTIFICATION), "certification");
    CHECK_STR(gx_credit_name(GX_CREDIT_B), "B");
    CHECK_STR(gx_state_name(GX_STATE_AWARDED), "awarded");
    CHECK_STR(gx_term_name(GX_TERM_TRACK_RECORD), "track_record");
    CHECK_STR(gx_kind_name((gx_kind)99), "?");
}

TEST(utf8_validation)
{
    CHECK(gx_utf8_valid("plain ascii", 11));
    CHECK(gx_utf8_valid("镁合金压铸", strlen("镁合金压铸")));
    CHECK(gx_utf8_valid("\xF0\x9F\x98\x80", 4));      /* U+1F600 */
    CHECK(!gx_utf8_valid("\xff\xfe", 2));               /* not UTF-8 at all */
    CHECK(!gx_utf8_valid("\xc0\x80", 2));               /* overlong NUL */
    CHECK(!gx_utf8_valid("\xed\xa0\x80", 3));          /* a surrogate */
    CHECK(!gx_utf8_valid("\xf4\x90\x80\x80", 4));     /* above U+10FFFF */
    CHECK(!gx_utf8_valid("\xe9\x95", 2));               /* truncated */
    CHECK_EQ_INT(gx_utf8_valid_prefix("ab\xe9\x95", 4), 2); /* cut before the broken character */
    CHECK_EQ_INT(gx_utf8_valid_prefix("镁", 3), 3);
}

int main(void)
{
    RUN(dates_round_trip);
    RUN(dates_rejected);
    RUN(date_of_instant_in_china);
    RUN(deep_copy_is_independent);
    RUN(firm_district_prefers_zone);
    RUN(names);
    RUN(utf8_validation);
    return gx_test_done();
}
