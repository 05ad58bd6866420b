/* limit.c — token buckets in an open-addressing table with idle recycling. */
#include "limit.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define S_KEY_MAX 64

typedef struct s_bucket {
    char key[S_KEY_MAX];  /* "" when free */
    double tokens;        /* tokens left */
    int64_t last_ms;      /* last refill */
} s_bucket;

struct gx_limiter {
    s_bucket *b;          /* cap buckets, power of two, at most half full */
    size_t cap, used, max;
    double rate, burst;   /* tokens per second, bucket size */
    uint64_t refused;     /* refusals */
};


gx_err gx_limiter_new(size_t max_keys, gx_limiter **out)
{
    gx_limiter *l = calloc(1, sizeof *l);
    if (!l)
        return GX_ERR_NOMEM;
    l->max = max_keys ? max_keys : 1;
    l->cap = 16;
    while (l->cap < l->max * 2)
        l->cap *= 2;
    l->b = calloc(l->cap, sizeof *l->b);
    if (!l->b) {
        free(l);
        return GX_ERR_NOMEM;
    }
    l->rate = l->burst = 1;
    *out = l;
    return GX_OK;
}

void gx_limiter_destroy(gx_limiter **pl)
{
    if (!*pl)
        return;
    free((*pl)->b);
    free(*pl);
    *pl = NULL;
}

void gx_limiter_configure(gx_limiter *l, double rate, double burst)
{
    l->rate = rate > 0 ? rate : 1;
    l->burst = burst >= 1 ? burst : 1;
}

/* Rebuilds the table without the idlest half of the buckets. */
static void s_recycle(gx_limiter *l)
{
    int64_t *ages = malloc(l->used * sizeof *ages);
    size_t n = 0;
    for (size_t i = 0; ages && i < l->cap; i++)
        if (l->b[i].key[0])
            ages[n++] = l->b[i].last_ms;
    int64_t cut = INT64_MAX;
    if (ages && n) { /* median by partial selection would do; a sort is simple and rare */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && ages[j - 1] > ages[j]; j--) {
                int64_t t = ages[j];
                ages[j] = ages[j - 1];
                ages[j - 1] = t;
            }
        cut = ages[n / 2];
    }
    free(ages);
    s_bucket *old = l->b;
    s_bucket *fresh = calloc(l->cap, sizeof *fresh);
    if (!fresh) { /* cannot rebuild: forget everyone, which only errs towards serving */
        memset(l->b, 0, l->cap * sizeof *l->b);
        l->used = 0;
        return;
    }
    l->b = fresh;
    l->used = 0;
    for (size_t i = 0; i < l->cap; i++) {
        if (!old[i].key[0] || old[i].last_ms < cut)
            continue;
        size_t j = gx_fnv1a_str(GX_FNV_SEED, old[i].key) & (l->cap - 1);
        while (l->b[j].key[0])
            j = (j + 1) & (l->cap - 1);
        l->b[j] = old[i];
        l->used++;
    }
    free(old);
}

/* key's bucket (a new one full), refilled up to now_ms. */
static s_bucket *s_bucket_at(gx_limiter *l, const char *key, int64_t now_ms)
{
    assert(key[0]); /* "" marks a free slot: a programming error, not input */
    size_t i = gx_fnv1a_str(GX_FNV_SEED, key) & (l->cap - 1);
    while (l->b[i].key[0] && strncmp(l->b[i].key, key, S_KEY_MAX - 1) != 0)
        i = (i + 1) & (l->cap - 1);
    s_bucket *b = &l->b[i];
    if (!b->key[0]) {
        if (l->used >= l->max) {
            s_recycle(l);
            return s_bucket_at(l, key, now_ms);
        }
        strncpy(b->key, key, S_KEY_MAX - 1);
        b->tokens = l->burst;
        b->last_ms = now_ms;
        l->used++;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * l->rate / 1000.0;
        if (b->tokens > l->burst)
            b->tokens = l->burst;
        b->last_ms = now_ms;
    }
    return b;
}

bool gx_limiter_take(gx_limiter *l, const char *key, int64_t now_ms)
{
    s_bucket *b = s_bucket_at(l, key, now_ms);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    l->refused++;
    return false;
}

void gx_limiter_charge(gx_limiter *l, const char *key, int64_t now_ms, double n)
{
    s_bucket *b = s_bucket_at(l, key, now_ms);
    b->tokens -= n;
    if (b->tokens < -l->burst)
        b->tokens = -l->burst;
}

uint64_t gx_limiter_refused(const gx_limiter *l)
{
    return l->refused;
}

/* ------------------------------------------------------------------ quotas */

typedef struct s_count {
    char key[S_KEY_MAX];  /* "" when free */
    uint64_t n;           /* the count */
} s_count;

struct gx_quota {
    s_count *c;           /* cap slots, power of two, at most half full */
    size_t cap, used;
};

gx_err gx_quota_new(gx_quota **out)
{
    gx_quota *q = calloc(1, sizeof *q);
    if (!q)
        return GX_ERR_NOMEM;
    q->cap = 64;
    if (!(q->c = calloc(q->cap, sizeof *q->c))) {
        free(q);
        return GX_ERR_NOMEM;
    }
    *out = q;
    return GX_OK;
}

void gx_quota_destroy(gx_quota **pq)
{
    if (!*pq)
        return;
    free((*pq)->c);
    free(*pq);
    *pq = NULL;
}

static s_count *s_count_slot(s_count *c, size_t cap, const char *key)
{
    size_t i = gx_fnv1a_str(GX_FNV_SEED, key) & (cap - 1);
    while (c[i].key[0] && strncmp(c[i].key, key, S_KEY_MAX - 1) != 0)
        i = (i + 1) & (cap - 1);
    return &c[i];
}

gx_err gx_quota_add(gx_quota *q, const char *key, int64_t delta)
{
    if ((q->used + 1) * 2 > q->cap) {
        size_t cap = q->cap * 2;
        s_count *c = calloc(cap, sizeof *c);
        if (!c)
            return GX_ERR_NOMEM;
        for (size_t i = 0; i < q->cap; i++)
            if (q->c[i].key[0])
                *s_count_slot(c, cap, q->c[i].key) = q->c[i];
        free(q->c);
        q->c = c;
        q->cap = cap;
    }
    s_count *e = s_count_slot(q->c, q->cap, key);
    if (!e->key[0]) {
        strncpy(e->key, key, S_KEY_MAX - 1);
        q->used++;
    }
    if (delta < 0 && (uint64_t)-delta > e->n)
        e->n = 0;
    else
        e->n = (uint64_t)((int64_t)e->n + delta);
    return GX_OK;
}

uint64_t gx_quota_get(const gx_quota *q, const char *key)
{
    s_count *e = s_count_slot(q->c, q->cap, key);
    return e->key[0] ? e->n : 0;
}
