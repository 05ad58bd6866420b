/* test_limit.c — token buckets: burst, refill, isolation between keys, recycling,
 * charging by cost. */
#include "gxtest.h"
#include "limit.h"

TEST(burst_then_refused_then_refilled)
{
    gx_limiter *l;
    REQUIRE(gx_limiter_new(8, &l) == GX_OK);
    gx_limiter_configure(l, 10, 3); /* 10/s, bursts of 3 */
    CHECK(gx_limiter_take(l, "A", 1000));
    CHECK(gx_limiter_take(l, "A", 1000));
    CHECK(gx_limiter_take(l, "A", 1000));
    CHECK(!gx_limiter_take(l, "A", 1000));
    CHECK(gx_limiter_take(l, "B", 1000)); /* another firm is not affected */
    CHECK(!gx_limiter_take(l, "A", 1050)); /* half a token after 50 ms */
    CHECK(gx_limiter_take(l, "A", 1100));  /* one token after 100 ms */
    CHECK(!gx_limiter_take(l, "A", 1100));
    CHECK(gx_limiter_take(l, "A", 10000)); /* refill is capped at the burst */
    CHECK(gx_limiter_take(l, "A", 10000));
    CHECK(gx_limiter_take(l, "A", 10000));
    CHECK(!gx_limiter_take(l, "A", 10000));
    CHECK_EQ_INT(gx_limiter_refused(l), 4);
    gx_limiter_destroy(&l);
    CHECK(l == NULL);
}

TEST(full_table_recycles_idle_keys)
{
    gx_limiter *l;
    char key[16];
    REQUIRE(gx_limiter_new(4, &l) == GX_OK);
    gx_limiter_configure(l, 1, 1);
    for (int i = 0; i < 100; i++) { /* many more keys than the cap: no failure, no growth */
        snprintf(key, sizeof key, "firm%d", i);
        CHECK(gx_limiter_take(l, key, i));
    }
    CHECK(!gx_limiter_take(l, "firm99", 99)); /* the most recent key kept its (empty) bucket */
    gx_limiter_destroy(&l);
}

TEST(a_costly_request_is_charged_into_debt)
{
    gx_limiter *l;
    REQUIRE(gx_limiter_new(8, &l) == GX_OK);
    gx_limiter_configure(l, 10, 5); /* 10/s, bursts of 5 */
    CHECK(gx_limiter_take(l, "A", 1000));
    gx_limiter_charge(l, "A", 1000, 6); /* 4 left, 6 more: 2 in debt */
    CHECK(!gx_limiter_take(l, "A", 1000));
    CHECK(!gx_limiter_take(l, "A", 1250)); /* 2.5 tokens back: 0.5 */
    CHECK(gx_limiter_take(l, "A", 1300));  /* 1 */
    CHECK(gx_limiter_take(l, "B", 1300));  /* another firm is not affected */
    gx_limiter_charge(l, "A", 1300, 1000); /* the debt stops at one burst */
    CHECK(!gx_limiter_take(l, "A", 1750));
    CHECK(gx_limiter_take(l, "A", 1900)); /* -5 + 6 = 1 */
    CHECK(!gx_limiter_take(l, "A", 1900));
    CHECK_EQ_INT(gx_limiter_refused(l), 4); /* a charge is no refusal */
    gx_limiter_destroy(&l);
}

TEST(quotas_count_per_key)
{
    gx_quota *q;
    char key[32];
    REQUIRE(gx_quota_new(&q) == GX_OK);
    CHECK_EQ_INT(gx_quota_get(q, "A"), 0);
    gx_quota_add(q, "A", 2);
    gx_quota_add(q, "B", 1);
    gx_quota_add(q, "A", -1);
    CHECK_EQ_INT(gx_quota_get(q, "A"), 1);
    gx_quota_add(q, "B", -5); /* stops at zero */
    CHECK_EQ_INT(gx_quota_get(q, "B"), 0);
    for (int i = 0; i < 500; i++) { /* growth keeps every count */
        snprintf(key, sizeof key, "firm%d", i);
        REQUIRE(gx_quota_add(q, key, i) == GX_OK);
    }
    CHECK_EQ_INT(gx_quota_get(q, "firm499"), 499);
    CHECK_EQ_INT(gx_quota_get(q, "A"), 1);
    gx_quota_destroy(&q);
    CHECK(q == NULL);
}

int main(void)
{
    RUN(burst_then_refused_then_refilled);
    RUN(full_table_recycles_idle_keys);
    RUN(a_costly_request_is_charged_into_debt);
    RUN(quotas_count_per_key);
    return gx_test_done();
}
