/* test_inbox.c — per-firm inboxes: gapless sequence numbers, reads, acks, retention,
 * isolation between firms and durability across reopen. */
#include "inbox.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gxtest.h"

/* Two firm ids that agree in their first 17 characters. */
#define FIRM_A "91410600MA44XXXX1A"
#define FIRM_B "91410600MA44XXXX1B"

/* Where a DEMAND + TEXT fact's text length lies: the 12-byte head, then demand id and revision. */
#define S_TEXT_LEN_AT (12 + 12)

static gx_store *s_open(const char *dir)
{
    gx_store_opts o = {.dir = dir, .no_sync = true};
    gx_store *s = NULL;
    gx_err err = gx_store_open(&o, &s);
    if (err)
        fprintf(stderr, "  open %s: %s: %s\n", dir, gx_err_str(err), gx_store_last_error(NULL));
    return s;
}

/* Appends notices "<firm>#<seq>" until head is n. */
static gx_err s_fill(gx_txn *t, const char *firm, uint64_t n)
{
    for (;;) {
        uint64_t seq;
        gx_err err = gx_inbox_next_seq(t, firm, &seq);
        if (err || seq > n)
            return err;
        char body[64];
        int len = snprintf(body, sizeof body, "%s#%llu", firm, (unsigned long long)seq);
        err = gx_inbox_append(t, firm, seq, body, (size_t)len);
        if (err)
            return err;
    }
}

/* Collects "seq,seq,..." and checks each body names its firm and seq. */
typedef struct got_ctx {
    const char *firm; /* the firm whose inbox is read */
    char seqs[512];   /* visited seqs, comma-joined */
    int n;            /* notices visited */
    int stop_after;   /* visitor returns false after this many (0 = never) */
    bool bad_body;    /* a body did not match its firm and seq */
} got_ctx;

static bool s_got(void *ctx, uint64_t seq, const void *bytes, size_t len)
{
    got_ctx *g = ctx;
    char want[64];
    int wlen = snprintf(want, sizeof want, "%s#%llu", g->firm, (unsigned long long)seq);
    if ((size_t)wlen != len || memcmp(want, bytes, len) != 0)
        g->bad_body = true;
    size_t used = strlen(g->seqs);
    snprintf(g->seqs + used, sizeof g->seqs - used, "%s%llu", g->n ? "," : "", (unsigned long long)seq);
    g->n++;
    return g->stop_after == 0 || g->n < g->stop_after;
}

/* Reads firm's inbox after `after` (at most max) into g. */
static gx_err s_read(gx_txn *t, const char *firm, uint64_t after, size_t max, got_ctx *g)
{
    memset(g, 0, sizeof *g);
    g->firm = firm;
    return gx_inbox_read(t, firm, after, max, s_got, g);
}

static gx_inbox_cursor s_cursor(gx_txn *t, const char *firm)
{
    gx_inbox_cursor c = {99, 99, 99};
    if (gx_inbox_cursor_get(t, firm, &c) != GX_OK)
        fprintf(stderr, "  cursor_get %s failed\n", firm);
    return c;
}

TEST(append_assigns_gapless_sequence_numbers)
{
    gx_store *s = s_open(gx_test_dir("inbox_append"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    gx_inbox_cursor c = s_cursor(t, FIRM_A);
    CHECK(c.head == 0 && c.acked == 0 && c.pruned == 0); /* never had a notice */
    for (uint64_t want = 1; want <= 5; want++) {
        uint64_t seq = 0;
        CHECK_EQ_INT(gx_inbox_next_seq(t, FIRM_A, &seq), GX_OK);
        CHECK_EQ_INT(seq, want);
        CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, seq, "n", 1), GX_OK);
    }
    CHECK_EQ_INT(s_cursor(t, FIRM_A).head, 5);
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 7, "n", 1), GX_ERR_CONFLICT); /* skips one */
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 5, "n", 1), GX_ERR_CONFLICT); /* reuses one */
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 0, "n", 1), GX_ERR_CONFLICT);
    CHECK(strstr(gx_store_last_error(s), "next is 6") != NULL);
    CHECK_EQ_INT(s_cursor(t, FIRM_A).head, 5);
    uint64_t seq = 0;
    CHECK_EQ_INT(gx_inbox_next_seq(t, FIRM_A, &seq), GX_OK);
    CHECK_EQ_INT(seq, 6);
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 6, NULL, 0), GX_OK); /* an empty notice is still a notice */
    CHECK_EQ_INT(gx_inbox_append(t, "short", 1, "n", 1), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A "X", 1, "n", 1), GX_ERR_INVALID);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(append_in_an_aborted_child_uses_no_sequence_number)
{
    gx_store *s = s_open(gx_test_dir("inbox_child"));
    REQUIRE(s);
    gx_txn *t = NULL, *c = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 2) == GX_OK);
    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK_EQ_INT(gx_inbox_append(c, FIRM_A, 3, "doomed", 6), GX_OK);
    gx_store_abort(&c);
    CHECK_EQ_INT(s_cursor(t, FIRM_A).head, 2);
    REQUIRE(s_fill(t, FIRM_A, 3) == GX_OK);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3");
    CHECK(!g.bad_body); /* seq 3 is the new notice, not the aborted one */
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(read_visits_in_order_with_after_and_max)
{
    gx_store *s = s_open(gx_test_dir("inbox_read"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 12) == GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);

    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3,4,5,6,7,8,9,10,11,12"); /* numeric, not text, order */
    CHECK(!g.bad_body);
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 3, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3");
    CHECK_EQ_INT(s_read(t, FIRM_A, 9, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "10,11,12");
    CHECK_EQ_INT(s_read(t, FIRM_A, 9, 10, &g), GX_OK);
    CHECK_STR(g.seqs, "10,11,12");
    CHECK_EQ_INT(s_read(t, FIRM_A, 12, 0, &g), GX_OK);
    CHECK_EQ_INT(g.n, 0);
    CHECK_EQ_INT(s_read(t, FIRM_A, 500, 0, &g), GX_OK);
    CHECK_EQ_INT(g.n, 0);
    memset(&g, 0, sizeof g);
    g.firm = FIRM_A;
    g.stop_after = 2;
    CHECK_EQ_INT(gx_inbox_read(t, FIRM_A, 4, 0, s_got, &g), GX_OK);
    CHECK_STR(g.seqs, "5,6");
    CHECK_EQ_INT(s_read(t, FIRM_B, 0, 0, &g), GX_OK); /* a firm with no inbox */
    CHECK_EQ_INT(g.n, 0);
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(ack_prunes_all_but_keep_acked_and_reads_before_them_gap)
{
    gx_store *s = s_open(gx_test_dir("inbox_ack"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 10) == GX_OK);
    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 6, 2), GX_OK);
    gx_inbox_cursor c = s_cursor(t, FIRM_A);
    CHECK(c.head == 10 && c.acked == 6 && c.pruned == 4);
    uint64_t n = 0;
    CHECK_EQ_INT(gx_store_count(t, GX_T_INBOX, &n), GX_OK);
    CHECK_EQ_INT(n, 6); /* 5..10 */

    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 4, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "5,6,7,8,9,10"); /* the two most recent acked ones are kept */
    CHECK_EQ_INT(s_read(t, FIRM_A, 3, 0, &g), GX_ERR_RESUME_GAP);
    CHECK_EQ_INT(g.n, 0);
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_ERR_RESUME_GAP);
    CHECK_EQ_INT(g.n, 0);

    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 3, 2), GX_OK); /* lower ack: ignored */
    c = s_cursor(t, FIRM_A);
    CHECK(c.acked == 6 && c.pruned == 4);
    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 6, 0), GX_OK); /* same ack, keep none: prunes all acked */
    c = s_cursor(t, FIRM_A);
    CHECK(c.acked == 6 && c.pruned == 6);
    CHECK_EQ_INT(s_read(t, FIRM_A, 6, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "7,8,9,10");

    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 1000, 3), GX_OK); /* beyond head: clamped */
    c = s_cursor(t, FIRM_A);
    CHECK(c.head == 10 && c.acked == 10 && c.pruned == 7);
    CHECK_EQ_INT(s_read(t, FIRM_A, 7, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "8,9,10");
    uint64_t seq = 0;
    CHECK_EQ_INT(gx_inbox_next_seq(t, FIRM_A, &seq), GX_OK);
    CHECK_EQ_INT(seq, 11); /* pruning never rewinds numbering */

    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_B, 5, 0), GX_OK); /* a firm with no inbox: nothing to ack */
    c = s_cursor(t, FIRM_B);
    CHECK(c.head == 0 && c.acked == 0 && c.pruned == 0);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(trim_caps_unacked_notices)
{
    gx_store *s = s_open(gx_test_dir("inbox_trim"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 10) == GX_OK);
    uint64_t dropped = 99;
    CHECK_EQ_INT(gx_inbox_trim(t, FIRM_A, 20, &dropped), GX_OK);
    CHECK_EQ_INT(dropped, 0);
    CHECK_EQ_INT(gx_inbox_trim(t, FIRM_A, 3, &dropped), GX_OK);
    CHECK_EQ_INT(dropped, 7);
    gx_inbox_cursor c = s_cursor(t, FIRM_A);
    CHECK(c.head == 10 && c.acked == 0 && c.pruned == 7);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_ERR_RESUME_GAP); /* resuming from its ack finds a gap */
    CHECK_EQ_INT(s_read(t, FIRM_A, 7, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "8,9,10");
    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 9, 5), GX_OK); /* horizon 4 is below pruned: nothing more goes */
    c = s_cursor(t, FIRM_A);
    CHECK(c.acked == 9 && c.pruned == 7);
    CHECK_EQ_INT(gx_inbox_trim(t, FIRM_A, 0, &dropped), GX_OK);
    CHECK_EQ_INT(dropped, 3);
    CHECK_EQ_INT(s_read(t, FIRM_A, 10, 0, &g), GX_OK);
    CHECK_EQ_INT(g.n, 0);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(firms_sharing_17_characters_have_separate_inboxes)
{
    gx_store *s = s_open(gx_test_dir("inbox_two"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 3) == GX_OK);
    REQUIRE(s_fill(t, FIRM_B, 5) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 4) == GX_OK);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3,4");
    CHECK(!g.bad_body);
    CHECK_EQ_INT(s_read(t, FIRM_B, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3,4,5");
    CHECK(!g.bad_body);

    uint64_t dropped = 0;
    /* B sorts after A, so a range below B's horizon would cover all of A's keys. */
    CHECK_EQ_INT(gx_inbox_trim(t, FIRM_B, 1, &dropped), GX_OK);
    CHECK_EQ_INT(dropped, 4);
    CHECK_EQ_INT(s_read(t, FIRM_A, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2,3,4");
    gx_inbox_cursor a = s_cursor(t, FIRM_A);
    CHECK(a.head == 4 && a.acked == 0 && a.pruned == 0);

    CHECK_EQ_INT(gx_inbox_ack(t, FIRM_A, 4, 0), GX_OK);
    CHECK_EQ_INT(s_read(t, FIRM_B, 4, 0, &g), GX_OK); /* B untouched by A's pruning */
    CHECK_STR(g.seqs, "5");
    gx_inbox_cursor b = s_cursor(t, FIRM_B);
    CHECK(b.head == 5 && b.acked == 0 && b.pruned == 4);
    uint64_t n = 0;
    CHECK_EQ_INT(gx_store_count(t, GX_T_INBOX, &n), GX_OK);
    CHECK_EQ_INT(n, 1); /* A: all acked and pruned; B: seq 5 */
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(inboxes_survive_reopen)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("inbox_reopen"));
    gx_store *s = s_open(dir);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(s_fill(t, FIRM_A, 8) == GX_OK);
    REQUIRE(s_fill(t, FIRM_B, 2) == GX_OK);
    REQUIRE(gx_inbox_ack(t, FIRM_A, 5, 1) == GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);

    s = s_open(dir);
    REQUIRE(s);
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    gx_inbox_cursor c = s_cursor(t, FIRM_A);
    CHECK(c.head == 8 && c.acked == 5 && c.pruned == 4);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_A, 4, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "5,6,7,8");
    CHECK(!g.bad_body);
    CHECK_EQ_INT(s_read(t, FIRM_B, 0, 0, &g), GX_OK);
    CHECK_STR(g.seqs, "1,2");
    uint64_t seq = 0;
    CHECK_EQ_INT(gx_inbox_next_seq(t, FIRM_A, &seq), GX_OK);
    CHECK_EQ_INT(seq, 9);
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 9, "n", 1), GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

TEST(corrupt_cursor_is_an_error_not_a_crash)
{
    gx_store *s = s_open(gx_test_dir("inbox_corrupt"));
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_put(t, GX_T_CURSORS, FIRM_A, 18, "short", 5), GX_OK);
    gx_inbox_cursor c;
    CHECK_EQ_INT(gx_inbox_cursor_get(t, FIRM_A, &c), GX_ERR_INTERNAL);
    CHECK(strstr(gx_store_last_error(s), "corrupt") != NULL);
    CHECK_EQ_INT(gx_inbox_append(t, FIRM_A, 1, "n", 1), GX_ERR_INTERNAL);
    uint8_t bad[24] = {0};
    bad[7] = 1;  /* head 1 */
    bad[15] = 2; /* acked 2 > head */
    CHECK_EQ_INT(gx_store_put(t, GX_T_CURSORS, FIRM_B, 18, bad, sizeof bad), GX_OK);
    got_ctx g;
    CHECK_EQ_INT(s_read(t, FIRM_B, 0, 0, &g), GX_ERR_INTERNAL);
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(facts_round_trip_and_a_cut_or_garbled_one_is_refused)
{
    gx_fact f = {.type = 12,
                 .fields = GX_FACT_DEMAND | GX_FACT_OFFER | GX_FACT_RANK | GX_FACT_FIRMS,
                 .at = 1767225600,
                 .demand_id = 7,
                 .demand_rev = 2,
                 .offer_id = 9,
                 .offer_rev = 1,
                 .rank = 3,
                 .score = 71.25,
                 .firms_sum = 0xdeadbeef};
    uint8_t buf[128];
    size_t n = gx_fact_size(&f);
    CHECK_EQ_INT(n, 52);
    gx_fact_encode(&f, buf);
    CHECK(gx_fact_is(buf, n));
    CHECK_EQ_INT(buf[0], GX_FACT_V1);
    gx_fact g;
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_OK);
    CHECK(g.type == 12 && g.at == 1767225600 && g.demand_id == 7 && g.demand_rev == 2 && g.offer_id == 9 &&
          g.offer_rev == 1 && g.rank == 3 && g.score == 71.25 && g.firms_sum == 0xdeadbeef);
    for (size_t cut = 0; cut < n; cut++) /* every prefix is short */
        CHECK_EQ_INT(gx_fact_decode(buf, cut, &g), GX_ERR_MALFORMED);
    uint8_t more[129];
    memcpy(more, buf, n);
    more[n] = 0;
    CHECK_EQ_INT(gx_fact_decode(more, n + 1, &g), GX_ERR_MALFORMED); /* a byte too many */
    buf[1] = 99;                                                     /* no such type */
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_ERR_MALFORMED);
    buf[1] = 21; /* OFFER_EXPIRED has no demand */
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_ERR_MALFORMED);
    buf[1] = 12;
    buf[0] = 0x08; /* an older build's Envelope starts so */
    CHECK(!gx_fact_is(buf, n));
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_ERR_MALFORMED);
    /* a text field: its length must fit the record */
    gx_fact t = {.type = 15,
                 .fields = GX_FACT_DEMAND | GX_FACT_TEXT,
                 .demand_id = 4,
                 .text = "no capacity",
                 .text_len = 11};
    n = gx_fact_size(&t);
    gx_fact_encode(&t, buf);
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_OK);
    CHECK(g.text_len == 11 && memcmp(g.text, "no capacity", 11) == 0);
    buf[S_TEXT_LEN_AT + 3] = 200; /* longer than what follows */
    CHECK_EQ_INT(gx_fact_decode(buf, n, &g), GX_ERR_MALFORMED);
}

int main(void)
{
    RUN(append_assigns_gapless_sequence_numbers);
    RUN(append_in_an_aborted_child_uses_no_sequence_number);
    RUN(read_visits_in_order_with_after_and_max);
    RUN(ack_prunes_all_but_keep_acked_and_reads_before_them_gap);
    RUN(trim_caps_unacked_notices);
    RUN(firms_sharing_17_characters_have_separate_inboxes);
    RUN(inboxes_survive_reopen);
    RUN(corrupt_cursor_is_an_error_not_a_crash);
    RUN(facts_round_trip_and_a_cut_or_garbled_one_is_refused);
    return gx_test_done();
}
