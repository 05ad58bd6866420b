/* session.c — the session table: chained hashes by routing id and by firm,
 * an LRU list for eviction, and a dirty list for delivery. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

struct gx_sessions {
    gx_session **by_rid;     /* nbuckets chains */
    gx_session **by_firm;    /* nbuckets chains */
    size_t nbuckets;         /* power of two */
    size_t count, max;       /* sessions held, cap */
    gx_session *lru_head;    /* most recently active */
    gx_session *lru_tail;    /* least recently active */
    gx_session **dirty;      /* sessions with dirty set; capacity max */
    size_t ndirty;
    uint64_t evicted;        /* evictions since creation */
};


gx_err gx_sessions_new(size_t max, gx_sessions **out)
{
    gx_sessions *t = calloc(1, sizeof *t);
    if (!t)
        return GX_ERR_NOMEM;
    t->max = max ? max : 1;
    t->nbuckets = 16;
    while (t->nbuckets < t->max * 2)
        t->nbuckets *= 2;
    t->by_rid = calloc(t->nbuckets, sizeof *t->by_rid);
    t->by_firm = calloc(t->nbuckets, sizeof *t->by_firm);
    t->dirty = calloc(t->max, sizeof *t->dirty);
    if (!t->by_rid || !t->by_firm || !t->dirty) {
        gx_sessions_destroy(&t);
        return GX_ERR_NOMEM;
    }
    *out = t;
    return GX_OK;
}

void gx_sessions_destroy(gx_sessions **pt)
{
    gx_sessions *t = *pt;
    if (!t)
        return;
    for (gx_session *s = t->lru_head; s;) {
        gx_session *next = s->lru_next;
        free(s);
        s = next;
    }
    free(t->by_rid);
    free(t->by_firm);
    free(t->dirty);
    free(t);
    *pt = NULL;
}

static gx_session **s_rid_slot(gx_sessions *t, const void *rid, size_t len)
{
    return &t->by_rid[gx_fnv1a(GX_FNV_SEED, rid, len) & (t->nbuckets - 1)];
}

static gx_session **s_firm_slot(gx_sessions *t, const char *firm)
{
    return &t->by_firm[gx_fnv1a(GX_FNV_SEED, firm, strlen(firm)) & (t->nbuckets - 1)];
}

static void s_lru_unlink(gx_sessions *t, gx_session *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        t->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        t->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void s_lru_front(gx_sessions *t, gx_session *s)
{
    s->lru_next = t->lru_head;
    if (t->lru_head)
        t->lru_head->lru_prev = s;
    t->lru_head = s;
    if (!t->lru_tail)
        t->lru_tail = s;
}

static void s_unchain(gx_session **slot, gx_session *s, bool by_firm)
{
    for (gx_session **p = slot; *p; p = by_firm ? &(*p)->firm_next : &(*p)->rid_next) {
        if (*p == s) {
            *p = by_firm ? s->firm_next : s->rid_next;
            return;
        }
    }
}

gx_session *gx_sessions_find(gx_sessions *t, const void *rid, size_t len, int64_t now_ms)
{
    if (len == 0 || len > GX_RID_MAX)
        return NULL;
    for (gx_session *s = *s_rid_slot(t, rid, len); s; s = s->rid_next) {
        if (s->rid_len == len && memcmp(s->rid, rid, len) == 0) {
            s->last_active_ms = now_ms;
            s_lru_unlink(t, s);
            s_lru_front(t, s);
            return s;
        }
    }
    return NULL;
}

void gx_sessions_drop(gx_sessions *t, gx_session *s)
{
    s_unchain(s_rid_slot(t, s->rid, s->rid_len), s, false);
    s_unchain(s_firm_slot(t, s->firm), s, true);
    s_lru_unlink(t, s);
    if (s->dirty) {
        for (size_t i = 0; i < t->ndirty; i++) {
            if (t->dirty[i] == s) {
                t->dirty[i] = t->dirty[--t->ndirty];
                break;
            }
        }
    }
    t->count--;
    free(s);
}

gx_err gx_sessions_bind(gx_sessions *t, const void *rid, size_t len, const char *firm, bool is_operator,
                        int64_t now_ms, gx_session **out)
{
    if (len == 0 || len > GX_RID_MAX || strlen(firm) > GX_FIRM_ID_LEN)
        return GX_ERR_INVALID;
    gx_session *s = gx_sessions_find(t, rid, len, now_ms);
    if (s) {
        gx_sessions_drop(t, s); /* rebinding: start clean */
    } else if (t->count >= t->max) {
        /* Evict the least recently active session that is not following its
         * notices; a live watcher goes only when every session is one. */
        gx_session *victim = t->lru_tail;
        for (gx_session *c = t->lru_tail; c; c = c->lru_prev) {
            if (!c->resumed) {
                victim = c;
                break;
            }
        }
        t->evicted++;
        gx_sessions_drop(t, victim);
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return GX_ERR_NOMEM;
    memcpy(s->rid, rid, len);
    s->rid_len = (uint8_t)len;
    memcpy(s->firm, firm, strlen(firm) + 1);
    s->is_operator = is_operator;
    s->last_active_ms = now_ms;
    gx_session **rs = s_rid_slot(t, rid, len);
    s->rid_next = *rs;
    *rs = s;
    gx_session **fs = s_firm_slot(t, firm);
    s->firm_next = *fs;
    *fs = s;
    s_lru_front(t, s);
    t->count++;
    *out = s;
    return GX_OK;
}

size_t gx_sessions_drop_key(gx_sessions *t, const char *key, void (*fn)(void *ctx, const gx_session *s), void *ctx)
{
    size_t n = 0;
    for (gx_session *s = t->lru_head; s;) {
        gx_session *next = s->lru_next;
        if (s->key[0] && strcmp(s->key, key) == 0) {
            if (fn)
                fn(ctx, s);
            gx_sessions_drop(t, s);
            n++;
        }
        s = next;
    }
    return n;
}

void gx_sessions_mark(gx_sessions *t, gx_session *s)
{
    if (s->dirty || t->ndirty >= t->max)
        return;
    s->dirty = true;
    t->dirty[t->ndirty++] = s;
}

void gx_sessions_mark_firm(gx_sessions *t, const char *firm, uint64_t fresh_from)
{
    for (gx_session *s = *s_firm_slot(t, firm); s; s = s->firm_next)
        if (s->resumed && strcmp(s->firm, firm) == 0) {
            if (fresh_from && (!s->fresh_from || fresh_from < s->fresh_from))
                s->fresh_from = fresh_from;
            gx_sessions_mark(t, s);
        }
}

size_t gx_sessions_take_dirty(gx_sessions *t, gx_session **out, size_t cap)
{
    size_t n = t->ndirty < cap ? t->ndirty : cap;
    for (size_t i = 0; i < n; i++) {
        out[i] = t->dirty[t->ndirty - 1 - i];
        out[i]->dirty = false;
    }
    t->ndirty -= n;
    return n;
}

bool gx_sessions_has_dirty(const gx_sessions *t)
{
    return t->ndirty > 0;
}

size_t gx_sessions_count(const gx_sessions *t)
{
    return t->count;
}

uint64_t gx_sessions_evicted(const gx_sessions *t)
{
    return t->evicted;
}
