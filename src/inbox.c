/* inbox.c — per-firm notice inboxes on the store's generic tables.
 *
 * GX_T_CURSORS: firm id (18 bytes) -> head, acked, pruned (three u64 BE, 24 bytes).
 * GX_T_INBOX:   firm id (18 bytes) + seq (u64 BE) -> the notice's encoded bytes.
 * Every firm id is exactly 18 bytes, so one firm's key prefix never matches another's
 * keys, and big-endian seqs make key order sequence order. */
#include "inbox.h"

#include <assert.h>
#include <string.h>

#define S_ID_LEN 18              /* a Unified Social Credit Code */
#define S_KEY_LEN (S_ID_LEN + 8) /* inbox key: firm id + seq */
#define S_CURSOR_LEN 24          /* cursor value: head, acked, pruned */

static gx_err s_check_id(gx_txn *t, const char *firm_id)
{
    if (strnlen(firm_id, S_ID_LEN + 1) != S_ID_LEN)
        return gx_store_failf(t, GX_ERR_INVALID, "inbox: firm id must be %d bytes", S_ID_LEN);
    return GX_OK;
}

static void s_key(uint8_t key[S_KEY_LEN], const char *firm_id, uint64_t seq)
{
    memcpy(key, firm_id, S_ID_LEN);
    gx_store_be64(key + S_ID_LEN, seq);
}

/* Loads the cursor (zero when absent); a record that cannot be ours is GX_ERR_INTERNAL. */
static gx_err s_load(gx_txn *t, const char *firm_id, gx_inbox_cursor *c)
{
    memset(c, 0, sizeof *c);
    gx_err err = s_check_id(t, firm_id);
    if (err)
        return err;
    const void *v;
    size_t vlen;
    err = gx_store_get(t, GX_T_CURSORS, firm_id, S_ID_LEN, &v, &vlen);
    if (err == GX_ERR_NOT_FOUND)
        return GX_OK;
    if (err)
        return err;
    if (vlen != S_CURSOR_LEN)
        return gx_store_failf(t, GX_ERR_INTERNAL, "inbox cursor of %.18s is corrupt (%zu bytes, want %d)",
                              firm_id, vlen, S_CURSOR_LEN);
    const uint8_t *p = v;
    c->head = gx_store_from_be64(p);
    c->acked = gx_store_from_be64(p + 8);
    c->pruned = gx_store_from_be64(p + 16);
    if (c->acked > c->head || c->pruned > c->head || c->head == UINT64_MAX) {
        gx_err bad = gx_store_failf(t, GX_ERR_INTERNAL,
                                    "inbox cursor of %.18s is corrupt (head %llu, acked %llu, pruned %llu)",
                                    firm_id, (unsigned long long)c->head, (unsigned long long)c->acked,
                                    (unsigned long long)c->pruned);
        memset(c, 0, sizeof *c);
        return bad;
    }
    return GX_OK;
}

static gx_err s_save(gx_txn *t, const char *firm_id, const gx_inbox_cursor *c)
{
    uint8_t v[S_CURSOR_LEN];
    gx_store_be64(v, c->head);
    gx_store_be64(v + 8, c->acked);
    gx_store_be64(v + 16, c->pruned);
    return gx_store_put(t, GX_T_CURSORS, firm_id, S_ID_LEN, v, sizeof v);
}

/* Deletes the firm's notices with seq <= horizon and moves pruned there. */
static gx_err s_prune(gx_txn *t, const char *firm_id, gx_inbox_cursor *c, uint64_t horizon, uint64_t *n)
{
    uint8_t upto[S_KEY_LEN];
    s_key(upto, firm_id, horizon + 1); /* horizon <= head < UINT64_MAX: no wrap */
    gx_err err = gx_store_del_range(t, GX_T_INBOX, firm_id, S_ID_LEN, upto, sizeof upto, n);
    if (err)
        return err;
    c->pruned = horizon;
    return GX_OK;
}

gx_err gx_inbox_cursor_get(gx_txn *t, const char *firm_id, gx_inbox_cursor *out)
{
    assert(t && firm_id && out);
    return s_load(t, firm_id, out);
}

gx_err gx_inbox_next_seq(gx_txn *t, const char *firm_id, uint64_t *out)
{
    assert(t && firm_id && out);
    gx_inbox_cursor c;
    gx_err err = s_load(t, firm_id, &c);
    if (err)
        return err;
    *out = c.head + 1;
    return GX_OK;
}

gx_err gx_inbox_append(gx_txn *t, const char *firm_id, uint64_t seq, const void *bytes, size_t len)
{
    assert(t && firm_id && (bytes || len == 0));
    gx_inbox_cursor c;
    gx_err err = s_load(t, firm_id, &c);
    if (err)
        goto out;
    if (c.head + 1 == UINT64_MAX) {
        err = gx_store_failf(t, GX_ERR_INTERNAL, "inbox of %.18s has run out of sequence numbers", firm_id);
        goto out;
    }
    if (seq != c.head + 1) {
        err = gx_store_failf(t, GX_ERR_CONFLICT, "inbox of %.18s: append of seq %llu, next is %llu", firm_id,
                             (unsigned long long)seq, (unsigned long long)(c.head + 1));
        goto out;
    }
    uint8_t key[S_KEY_LEN];
    s_key(key, firm_id, seq);
    err = gx_store_put(t, GX_T_INBOX, key, sizeof key, bytes, len);
    if (err)
        goto out;
    c.head = seq;
    err = s_save(t, firm_id, &c);
out:
    return err;
}

gx_err gx_inbox_ack(gx_txn *t, const char *firm_id, uint64_t seq, uint64_t keep_acked)
{
    assert(t && firm_id);
    gx_inbox_cursor c;
    gx_err err = s_load(t, firm_id, &c);
    if (err)
        goto out;
    gx_inbox_cursor was = c;
    if (seq > c.head)
        seq = c.head;
    if (seq > c.acked)
        c.acked = seq;
    /* Pruning runs on every ack, so a lowered keep_acked takes effect at the next one. */
    uint64_t horizon = c.acked > keep_acked ? c.acked - keep_acked : 0;
    if (horizon > c.pruned) {
        err = s_prune(t, firm_id, &c, horizon, NULL);
        if (err)
            goto out;
    }
    if (memcmp(&was, &c, sizeof c) != 0)
        err = s_save(t, firm_id, &c);
out:
    return err;
}

gx_err gx_inbox_trim(gx_txn *t, const char *firm_id, uint64_t max_kept, uint64_t *dropped)
{
    assert(t && firm_id);
    uint64_t n = 0;
    gx_inbox_cursor c;
    gx_err err = s_load(t, firm_id, &c);
    if (err)
        goto out;
    uint64_t horizon = c.head > max_kept ? c.head - max_kept : 0;
    if (horizon <= c.pruned)
        goto out;
    err = s_prune(t, firm_id, &c, horizon, &n);
    if (err)
        goto out;
    err = s_save(t, firm_id, &c);
out:
    if (dropped)
        *dropped = err ? 0 : n;
    return err;
}

typedef struct s_read_ctx {
    gx_inbox_visit_fn fn; /* the caller's visitor */
    void *ctx;            /* its context */
    size_t max;           /* stop after this many (0 = no limit) */
    size_t seen;          /* notices visited so far */
    bool corrupt;         /* a key was not firm id + seq */
} s_read_ctx;

static bool s_read_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_read_ctx *r = ctx;
    if (klen != S_KEY_LEN) {
        r->corrupt = true;
        return false;
    }
    uint64_t seq = gx_store_from_be64((const uint8_t *)key + S_ID_LEN);
    r->seen++;
    if (!r->fn(r->ctx, seq, val, vlen))
        return false;
    return r->max == 0 || r->seen < r->max;
}

gx_err gx_inbox_read(gx_txn *t, const char *firm_id, uint64_t after, size_t max, gx_inbox_visit_fn fn,
                     void *ctx)
{
    assert(t && firm_id && fn);
    gx_inbox_cursor c;
    gx_err err = s_load(t, firm_id, &c);
    if (err)
        goto out;
    if (after < c.pruned) {
        err = gx_store_failf(t, GX_ERR_RESUME_GAP,
                             "inbox of %.18s: resume after %llu, but %llu and below are pruned", firm_id,
                             (unsigned long long)after, (unsigned long long)c.pruned);
        goto out;
    }
    if (after >= c.head)
        goto out;
    uint8_t from[S_KEY_LEN];
    s_key(from, firm_id, after + 1);
    s_read_ctx r = {.fn = fn, .ctx = ctx, .max = max};
    err = gx_store_scan(t, GX_T_INBOX, firm_id, S_ID_LEN, from, sizeof from, s_read_visit, &r);
    if (!err && r.corrupt)
        err = gx_store_failf(t, GX_ERR_INTERNAL, "inbox of %.18s holds a corrupt key", firm_id);
out:
    return err;
}

/* ------------------------------------------------------------------ facts */

#define S_FACT_HEAD 12 /* format, type, fields, code, at */

/* Fields each notice type may carry, and those it must (types 10..21). */
#define D GX_FACT_DEMAND
#define O GX_FACT_OFFER
#define R GX_FACT_RANK
#define F GX_FACT_FIRM
#define C GX_FACT_FIRMS
static const struct {
    uint8_t allowed, required;
} s_shape[] = {
    {D | O | R | C, D | O | R},            /* 10 CANDIDATE_ADDED */
    {D | O, D | O},                        /* 11 CANDIDATE_REMOVED */
    {D | O | R | GX_FACT_SUB | C, D},      /* 12 OPPORTUNITY: O and R, or SUB */
    {D | O | R | C, D | O | R},            /* 13 NEAR_MISS */
    {D | O | R | F | GX_FACT_TEXT | C, D}, /* 14 INTEREST_RECEIVED */
    {D | GX_FACT_TEXT, D},                 /* 15 INTEREST_DECLINED */
    {D | F | C, D},                        /* 16 DETAILS_RELEASED */
    {D | C, D},                            /* 17 DEMAND_UPDATED */
    {D | C, D},                            /* 18 DEMAND_WITHDRAWN */
    {D | F | GX_FACT_QTY | C, D},          /* 19 DEMAND_AWARDED */
    {D | C, D},                            /* 20 DEMAND_EXPIRED */
    {O, O},                                /* 21 OFFER_EXPIRED */
};
#undef D
#undef O
#undef R
#undef F
#undef C
#define S_TYPE_MIN 10
#define S_TYPE_N (sizeof s_shape / sizeof s_shape[0])

static void s_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t s_from_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void s_bef64(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    gx_store_be64(p, u);
}

static double s_from_bef64(const uint8_t *p)
{
    uint64_t u = gx_store_from_be64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

size_t gx_fact_size(const gx_fact *f)
{
    size_t n = S_FACT_HEAD;
    n += f->fields & GX_FACT_DEMAND ? 12 : 0;
    n += f->fields & GX_FACT_OFFER ? 12 : 0;
    n += f->fields & GX_FACT_SUB ? 8 : 0;
    n += f->fields & GX_FACT_RANK ? 12 : 0;
    n += f->fields & GX_FACT_FIRM ? S_ID_LEN : 0;
    n += f->fields & GX_FACT_QTY ? 8 : 0;
    n += f->fields & GX_FACT_TEXT ? 4 + f->text_len : 0;
    n += f->fields & GX_FACT_FIRMS ? 4 : 0;
    return n;
}

void gx_fact_encode(const gx_fact *f, uint8_t *buf)
{
    assert(f->text_len <= GX_FACT_TEXT_MAX);
    uint8_t *p = buf;
    *p++ = GX_FACT_V1;
    *p++ = f->type;
    *p++ = f->fields;
    *p++ = f->code;
    gx_store_be64(p, (uint64_t)f->at);
    p += 8;
    if (f->fields & GX_FACT_DEMAND) {
        gx_store_be64(p, f->demand_id);
        s_be32(p + 8, f->demand_rev);
        p += 12;
    }
    if (f->fields & GX_FACT_OFFER) {
        gx_store_be64(p, f->offer_id);
        s_be32(p + 8, f->offer_rev);
        p += 12;
    }
    if (f->fields & GX_FACT_SUB) {
        gx_store_be64(p, f->sub_id);
        p += 8;
    }
    if (f->fields & GX_FACT_RANK) {
        s_be32(p, f->rank);
        s_bef64(p + 4, f->score);
        p += 12;
    }
    if (f->fields & GX_FACT_FIRM) {
        memset(p, 0, S_ID_LEN);
        memcpy(p, f->firm, strnlen(f->firm, S_ID_LEN));
        p += S_ID_LEN;
    }
    if (f->fields & GX_FACT_QTY) {
        s_bef64(p, f->qty);
        p += 8;
    }
    if (f->fields & GX_FACT_TEXT) {
        s_be32(p, (uint32_t)f->text_len);
        if (f->text_len)
            memcpy(p + 4, f->text, f->text_len);
        p += 4 + f->text_len;
    }
    if (f->fields & GX_FACT_FIRMS) {
        s_be32(p, f->firms_sum);
        p += 4;
    }
    assert((size_t)(p - buf) == gx_fact_size(f));
}

bool gx_fact_is(const void *rec, size_t len)
{
    return len > 0 && *(const uint8_t *)rec == GX_FACT_V1;
}

gx_err gx_fact_decode(const void *rec, size_t len, gx_fact *f)
{
    const uint8_t *p = rec, *end = p + len;
    memset(f, 0, sizeof *f);
    if (len < S_FACT_HEAD || p[0] != GX_FACT_V1 || p[1] < S_TYPE_MIN || p[1] >= S_TYPE_MIN + S_TYPE_N)
        return GX_ERR_MALFORMED;
    f->type = p[1];
    f->fields = p[2];
    f->code = p[3];
    f->at = (int64_t)gx_store_from_be64(p + 4);
    uint8_t allowed = s_shape[f->type - S_TYPE_MIN].allowed,
            required = s_shape[f->type - S_TYPE_MIN].required;
    if ((f->fields & ~allowed) || (f->fields & required) != required)
        return GX_ERR_MALFORMED;
    bool sub = f->fields & GX_FACT_SUB, offer = f->fields & GX_FACT_OFFER, rank = f->fields & GX_FACT_RANK;
    if (f->type == 12 && (sub == offer || offer != rank))
        return GX_ERR_MALFORMED; /* an Opportunity is for an offer (with its rank) or from a subscription */
    p += S_FACT_HEAD;
    f->text = NULL;
    gx_fact probe = *f; /* the fixed part's size, with an empty text */
    if ((size_t)(end - p) < gx_fact_size(&probe) - S_FACT_HEAD)
        return GX_ERR_MALFORMED;
    if (f->fields & GX_FACT_DEMAND) {
        f->demand_id = gx_store_from_be64(p);
        f->demand_rev = s_from_be32(p + 8);
        p += 12;
    }
    if (f->fields & GX_FACT_OFFER) {
        f->offer_id = gx_store_from_be64(p);
        f->offer_rev = s_from_be32(p + 8);
        p += 12;
    }
    if (f->fields & GX_FACT_SUB) {
        f->sub_id = gx_store_from_be64(p);
        p += 8;
    }
    if (f->fields & GX_FACT_RANK) {
        f->rank = s_from_be32(p);
        f->score = s_from_bef64(p + 4);
        p += 12;
    }
    if (f->fields & GX_FACT_FIRM) {
        memcpy(f->firm, p, S_ID_LEN);
        f->firm[S_ID_LEN] = 0;
        if (strlen(f->firm) != S_ID_LEN)
            return GX_ERR_MALFORMED;
        p += S_ID_LEN;
    }
    if (f->fields & GX_FACT_QTY) {
        f->qty = s_from_bef64(p);
        p += 8;
    }
    if (f->fields & GX_FACT_TEXT) {
        f->text_len = s_from_be32(p);
        p += 4;
        if (f->text_len > GX_FACT_TEXT_MAX || (size_t)(end - p) < f->text_len)
            return GX_ERR_MALFORMED;
        f->text = (const char *)p;
        p += f->text_len;
    }
    if (f->fields & GX_FACT_FIRMS) {
        if (end - p < 4)
            return GX_ERR_MALFORMED;
        f->firms_sum = s_from_be32(p);
        p += 4;
    }
    if (p != end)
        return GX_ERR_MALFORMED;
    if ((f->fields & GX_FACT_DEMAND && !f->demand_id) || (f->fields & GX_FACT_OFFER && !f->offer_id) ||
        (f->fields & GX_FACT_SUB && !f->sub_id) || (f->fields & GX_FACT_RANK && f->score != f->score))
        return GX_ERR_MALFORMED;
    return GX_OK;
}
