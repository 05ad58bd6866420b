/* test_session.c — the session table: binding, lookup, eviction, dirty list. */
#include "gxtest.h"
#include "session.h"

TEST(bind_find_rebind)
{
    gx_sessions *t;
    gx_session *s, *s2;
    REQUIRE(gx_sessions_new(4, &t) == GX_OK);
    CHECK(gx_sessions_find(t, "r1", 2, 0) == NULL);
    REQUIRE(gx_sessions_bind(t, "r1", 2, "91410600MA00000001", false, 0, &s) == GX_OK);
    CHECK(gx_sessions_find(t, "r1", 2, 1) == s);
    s->resumed = true;
    s->sent = 9;
    REQUIRE(gx_sessions_bind(t, "r1", 2, "91410600MA00000002", false, 2, &s2) == GX_OK);
    CHECK_STR(s2->firm, "91410600MA00000002");
    CHECK(!s2->resumed && s2->sent == 0); /* rebinding starts clean */
    CHECK_EQ_INT(gx_sessions_count(t), 1);
    CHECK_EQ_INT(gx_sessions_bind(t, "", 0, "x", false, 0, &s), GX_ERR_INVALID);
    gx_sessions_destroy(&t);
    CHECK(t == NULL);
}

TEST(evicts_least_recently_active)
{
    gx_sessions *t;
    gx_session *s;
    REQUIRE(gx_sessions_new(2, &t) == GX_OK);
    gx_sessions_bind(t, "a", 1, "A", false, 1, &s);
    gx_sessions_bind(t, "b", 1, "B", false, 2, &s);
    gx_sessions_find(t, "a", 1, 3); /* a is now more recent than b */
    gx_sessions_bind(t, "c", 1, "C", false, 4, &s);
    CHECK(gx_sessions_find(t, "a", 1, 5) != NULL);
    CHECK(gx_sessions_find(t, "b", 1, 5) == NULL);
    CHECK(gx_sessions_find(t, "c", 1, 5) != NULL);
    CHECK_EQ_INT(gx_sessions_evicted(t), 1);
    gx_sessions_destroy(&t);
}

TEST(mark_firm_reaches_only_resumed_sessions_of_that_firm)
{
    gx_sessions *t;
    gx_session *a1, *a2, *b1, *out[8];
    REQUIRE(gx_sessions_new(8, &t) == GX_OK);
    gx_sessions_bind(t, "1", 1, "FIRMA", false, 0, &a1);
    gx_sessions_bind(t, "2", 1, "FIRMA", false, 0, &a2);
    gx_sessions_bind(t, "3", 1, "FIRMB", false, 0, &b1);
    a1->resumed = b1->resumed = true;
    gx_sessions_mark_firm(t, "FIRMA", 0);
    gx_sessions_mark_firm(t, "FIRMA", 0); /* idempotent */
    CHECK(gx_sessions_has_dirty(t));
    size_t n = gx_sessions_take_dirty(t, out, 8);
    CHECK_EQ_INT(n, 1);
    CHECK(out[0] == a1);
    CHECK(!gx_sessions_has_dirty(t));
    gx_sessions_mark(t, b1);
    gx_sessions_drop(t, b1); /* dropping removes it from the dirty list */
    CHECK(!gx_sessions_has_dirty(t));
    gx_sessions_destroy(&t);
}

TEST(a_firm_held_back_is_released_when_a_resume_freed_its_bytes)
{
    gx_sessions *t;
    gx_session *a1, *a2, *out[8];
    REQUIRE(gx_sessions_new(8, &t) == GX_OK);
    gx_sessions_bind(t, "1", 1, "FIRMA", false, 0, &a1);
    gx_sessions_bind(t, "2", 1, "FIRMA", false, 0, &a2);
    gx_sessions_resume(t, a1, 0, 0);
    gx_session_sent(a1, 1, 1000);
    gx_session_sent(a1, 2, 1000);
    CHECK_EQ_INT(a1->out_n, 2);
    CHECK_EQ_INT(gx_session_firm_bytes(a2), 2000);
    gx_session_firm_blocked(a2); /* the firm is at its bound: a2 is held back */
    gx_sessions_resume(t, a1, 0, 0);
    CHECK_EQ_INT(a1->sent, 2); /* in flight: a resume does not rewind */
    gx_sessions_resume(t, a1, 0, 2); /* acknowledged through 2 (an Ack in the same batch) */
    CHECK_EQ_INT(a1->out_n, 0);
    CHECK_EQ_INT(a1->sent, 0); /* nothing in flight: the resume is served from 0 */
    CHECK_EQ_INT(gx_session_firm_bytes(a2), 0);
    gx_sessions_take_dirty(t, out, 8);
    /* the pump's settle still sees the firm held back and now below the bound:
     * it says so, so the firm's other sessions are woken */
    CHECK(gx_session_settle(a1, 1500));
    CHECK(!gx_session_settle(a1, 1500)); /* once */
    gx_sessions_destroy(&t);
}

int main(void)
{
    RUN(bind_find_rebind);
    RUN(evicts_least_recently_active);
    RUN(mark_firm_reaches_only_resumed_sessions_of_that_firm);
    RUN(a_firm_held_back_is_released_when_a_resume_freed_its_bytes);
    return gx_test_done();
}
