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
