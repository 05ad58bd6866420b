/* session.c — the session table: chained hashes by routing id and by firm,
 * per-firm figures, an LRU list for eviction, and a dirty list for delivery. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

/* What a firm holds: its sessions and the notice bytes they have in flight. */
struct gx_sess_firm {
    char firm[GX_FIRM_ID_LEN + 1];
    size_t n;                  /* sessions */
    uint64_t out_bytes;        /* sum of its sessions' out_bytes */
    bool blocked;              /* a session was held back for firm_window_bytes */
    int64_t probed_ms;         /* when its sessions were last probed (gx_sessions_probe_due) */
    int64_t probe_every_ms;    /* and the wait before the next probe: doubles while it stays blocked */
    struct gx_sess_firm *next; /* hash chain */
};

#define S_CLOSED_MAX 256 /* routing ids closed untold, remembered */

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
    gx_sess_firm **firms;    /* nbuckets chains of per-firm figures */
    gx_session victim;       /* the last evicted session (copy, links cleared) */
    bool has_victim;         /* not yet taken */
    uint64_t closed[S_CLOSED_MAX]; /* hashes of routing ids closed untold; 0 = free */
    size_t closed_next;            /* ring position */
    size_t n_closed;               /* non-zero entries */
    size_t blocked_from;           /* the firms bucket gx_sessions_blocked_firms starts at */
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
    t->firms = calloc(t->nbuckets, sizeof *t->firms);
    if (!t->by_rid || !t->by_firm || !t->dirty || !t->firms) {
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
    for (size_t i = 0; t->firms && i < t->nbuckets; i++) {
        for (gx_sess_firm *f = t->firms[i]; f;) {
            gx_sess_firm *next = f->next;
            free(f);
            f = next;
        }
    }
    free(t->firms);
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

/* The figures of firm, created when absent (NULL when out of memory). */
static gx_sess_firm *s_firm_get(gx_sessions *t, const char *firm)
{
    gx_sess_firm **slot = &t->firms[gx_fnv1a(GX_FNV_SEED, firm, strlen(firm)) & (t->nbuckets - 1)];
    for (gx_sess_firm *f = *slot; f; f = f->next)
        if (strcmp(f->firm, firm) == 0)
            return f;
    gx_sess_firm *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    memcpy(f->firm, firm, strlen(firm) + 1);
    f->next = *slot;
    *slot = f;
    return f;
}

/* Lets go of one session of f; frees f with its last. */
static void s_firm_put(gx_sessions *t, gx_sess_firm *f)
{
    if (!f || --f->n > 0)
        return;
    gx_sess_firm **slot = &t->firms[gx_fnv1a(GX_FNV_SEED, f->firm, strlen(f->firm)) & (t->nbuckets - 1)];
    for (; *slot; slot = &(*slot)->next) {
        if (*slot == f) {
            *slot = f->next;
            break;
        }
    }
    free(f);
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
    bool wake = false;
    if (s->fr) {
        s->fr->out_bytes -= s->fr->out_bytes < s->out_bytes ? s->fr->out_bytes : s->out_bytes;
        wake = s->fr->blocked && s->out_bytes > 0; /* what it held is free for the firm's others */
        if (wake) {
            s->fr->blocked = false;
            s->fr->probe_every_ms = 0;
        }
        s_firm_put(t, s->fr);
    }
    if (wake)
        gx_sessions_mark_firm(t, s->firm, 0); /* s is off the firm's chain already */
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
        /* Evict fairly: from the firm holding the most sessions, a session
         * that is not following its notices before one that is (a firm's
         * watcher goes only when no firm that many sessions hold has an idle
         * one), the binding firm's first among equals (it makes the pressure),
         * the least recently active first. One pass, oldest first. */
        gx_session *victim = NULL;
        size_t vn = 0;
        bool vmine = false, vidle = false;
        for (gx_session *c = t->lru_tail; c; c = c->lru_prev) {
            size_t n = c->fr ? c->fr->n : 1;
            bool mine = strcmp(c->firm, firm) == 0, idle = !c->resumed;
            if (!victim || n > vn || (n == vn && idle && !vidle) ||
                (n == vn && idle == vidle && mine && !vmine)) {
                victim = c;
                vn = n;
                vmine = mine;
                vidle = idle;
            }
        }
        t->evicted++;
        t->victim = *victim;
        t->victim.rid_next = t->victim.lru_prev = t->victim.lru_next = t->victim.firm_next = NULL;
        t->victim.fr = NULL;
        t->has_victim = true;
        gx_sessions_drop(t, victim);
    }
    gx_sess_firm *fr = s_firm_get(t, firm);
    s = fr ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        if (fr && fr->n == 0) {
            fr->n = 1;
            s_firm_put(t, fr);
        }
        return GX_ERR_NOMEM;
    }
    fr->n++;
    s->fr = fr;
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

bool gx_sessions_take_evicted(gx_sessions *t, gx_session *out)
{
    if (!t->has_victim)
        return false;
    *out = t->victim;
    t->has_victim = false;
    return true;
}

static uint64_t s_rid_hash(const void *rid, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, 64 bits: a false match is one in 2^64 */
    for (size_t i = 0; i < len; i++)
        h = (h ^ ((const uint8_t *)rid)[i]) * 1099511628211ull;
    return h ? h : 1;
}

void gx_sessions_closed(gx_sessions *t, const void *rid, size_t len)
{
    uint64_t *slot = &t->closed[t->closed_next];
    t->n_closed += *slot == 0;
    *slot = s_rid_hash(rid, len);
    t->closed_next = (t->closed_next + 1) % S_CLOSED_MAX;
}

bool gx_sessions_take_closed(gx_sessions *t, const void *rid, size_t len)
{
    if (!t->n_closed)
        return false;
    uint64_t h = s_rid_hash(rid, len);
    for (size_t i = 0; i < S_CLOSED_MAX; i++) {
        if (t->closed[i] == h) {
            t->closed[i] = 0;
            t->n_closed--;
            return true;
        }
    }
    return false;
}

static void s_out_set(gx_session *s, uint64_t bytes)
{
    if (s->fr) {
        s->fr->out_bytes -= s->fr->out_bytes < s->out_bytes ? s->fr->out_bytes : s->out_bytes;
        s->fr->out_bytes += bytes;
    }
    s->out_bytes = bytes;
}

/* Releases the checkpoints s->acked covers: their notices are no longer in flight. */
static void s_release(gx_session *s)
{
    uint8_t k = 0;
    uint64_t freed = 0;
    while (k < s->n_ck && s->ck[k].seq <= s->acked) {
        s->out_n -= s->out_n < s->ck[k].n ? s->out_n : s->ck[k].n;
        freed += s->ck[k++].bytes;
    }
    if (!k)
        return;
    memmove(s->ck, s->ck + k, (size_t)(s->n_ck - k) * sizeof s->ck[0]);
    s->n_ck = (uint8_t)(s->n_ck - k);
    s_out_set(s, s->out_bytes > freed ? s->out_bytes - freed : 0);
}

void gx_sessions_resume(gx_sessions *t, gx_session *s, uint64_t after, uint64_t acked)
{
    if (acked > s->acked)
        s->acked = acked;
    s_release(s); /* what the acknowledgement covers is no longer in flight (the firm's bound: at the pump) */
    if (!s->out_n || after > s->sent) /* a skip ahead: what is in flight still counts until acknowledged */
        s->sent = after;
    s->resumed = true;
    gx_sessions_mark(t, s);
}

void gx_session_sent(gx_session *s, uint64_t seq, size_t len)
{
    s->sent = seq;
    s_out_set(s, s->out_bytes + len);
    if (s->n_ck == GX_SESS_CK) {
        /* Full: merge the two adjacent checkpoints that hold least together, so
         * an ack keeps releasing in steps of about a GX_SESS_CK-th of what is
         * in flight. */
        uint8_t best = 0;
        for (uint8_t i = 1; i + 1 < s->n_ck; i++)
            if (s->ck[i].bytes + s->ck[i + 1].bytes < s->ck[best].bytes + s->ck[best + 1].bytes)
                best = i;
        s->ck[best].seq = s->ck[best + 1].seq;
        s->ck[best].bytes += s->ck[best + 1].bytes;
        s->ck[best].n += s->ck[best + 1].n;
        memmove(s->ck + best + 1, s->ck + best + 2, (size_t)(s->n_ck - best - 2) * sizeof s->ck[0]);
        s->n_ck--;
    }
    s->ck[s->n_ck].seq = seq;
    s->ck[s->n_ck].n = 1;
    s->ck[s->n_ck++].bytes = len;
    s->out_n++;
}

bool gx_session_settle(gx_session *s, uint64_t firm_max)
{
    s_release(s);
    /* whether or not this call freed anything: a Resume may have released
     * bytes before, and the firm's bound is decided here only */
    if (s->fr && s->fr->blocked && s->fr->out_bytes < firm_max) {
        s->fr->blocked = false;
        s->fr->probe_every_ms = 0;
        return true;
    }
    return false;
}

uint64_t gx_session_firm_bytes(const gx_session *s)
{
    return s->fr ? s->fr->out_bytes : s->out_bytes;
}

void gx_session_firm_blocked(gx_session *s)
{
    if (s->fr)
        s->fr->blocked = true;
}

size_t gx_sessions_probe_due(gx_sessions *t, const char *firm, int64_t now_ms, int64_t every_ms,
                             gx_session **out, size_t cap)
{
    gx_sess_firm *fr = t->firms[gx_fnv1a(GX_FNV_SEED, firm, strlen(firm)) & (t->nbuckets - 1)];
    while (fr && strcmp(fr->firm, firm) != 0)
        fr = fr->next;
    if (!fr || !fr->blocked ||
        (now_ms >= fr->probed_ms && now_ms - fr->probed_ms < fr->probe_every_ms)) /* a clock set back: due */
        return 0;
    /* A live session that holds the window while reading nothing would be
     * probed for ever: the wait doubles, up to 64 times the first, until the
     * firm's window opens again. */
    fr->probe_every_ms = fr->probe_every_ms ? fr->probe_every_ms * 2 : every_ms;
    if (fr->probe_every_ms > every_ms * 64)
        fr->probe_every_ms = every_ms * 64;
    fr->probed_ms = now_ms;
    size_t n = 0;
    for (gx_session *s = *s_firm_slot(t, firm); s && n < cap; s = s->firm_next)
        if (s->out_bytes && s->tell_evicted && strcmp(s->firm, firm) == 0)
            out[n++] = s;
    return n;
}

size_t gx_sessions_blocked_firms(gx_sessions *t, char (*out)[GX_FIRM_ID_LEN + 1], size_t cap)
{
    /* From where the last call stopped, so that more than cap firms held back
     * are all visited in turn. */
    size_t n = 0, i = 0;
    for (; i < t->nbuckets && n < cap; i++) {
        size_t b = (t->blocked_from + i) & (t->nbuckets - 1);
        for (const gx_sess_firm *f = t->firms[b]; f; f = f->next)
            if (f->blocked && n < cap)
                memcpy(out[n++], f->firm, sizeof f->firm);
    }
    t->blocked_from = (t->blocked_from + i) & (t->nbuckets - 1);
    return n;
}

size_t gx_session_firm_count(const gx_session *s)
{
    return s->fr ? s->fr->n : 1;
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
