/* intern.c — strings to small stable integer ids (see intern.h). */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

#define S_ID_MAX (UINT32_MAX - 1u)

void gx_intern_init(gx_intern *t)
{
    memset(t, 0, sizeof *t);
}

void gx_intern_fini(gx_intern *t)
{
    free(t->bytes);
    free(t->off);
    free(t->hash);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static uint32_t s_hash(const char *p, size_t len)
{
    uint64_t h = gx_fnv1a(GX_FNV_SEED, p, len);
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot holding p[0..len) (hash h), or the empty slot where it would go. */
static size_t s_probe(const gx_intern *t, const char *p, size_t len, uint32_t h)
{
    size_t mask = t->n_slot - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = t->slot[i];
        if (id == 0)
            return i;
        if (t->hash[id] != h)
            continue;
        size_t end = id < t->n ? t->off[id + 1] - 1 : t->len - 1; /* the NUL after it */
        if (end - t->off[id] == len && (len == 0 || memcmp(t->bytes + t->off[id], p, len) == 0))
            return i;
    }
}

uint32_t gx_intern_find(const gx_intern *t, const char *p, size_t len)
{
    if (t->n_slot == 0)
        return 0;
    return t->slot[s_probe(t, p, len, s_hash(p, len))];
}

/* Doubles the slot table (or makes the first) and files every id again. */
static gx_err s_rehash(gx_intern *t)
{
    size_t n = t->n_slot ? t->n_slot * 2 : 64;
    uint32_t *slot = calloc(n, sizeof *slot);
    if (!slot)
        return GX_ERR_NOMEM;
    for (uint32_t id = 1; id <= t->n; id++) {
        size_t i = t->hash[id] & (n - 1);
        while (slot[i])
            i = (i + 1) & (n - 1);
        slot[i] = id;
    }
    free(t->slot);
    t->slot = slot;
    t->n_slot = n;
    return GX_OK;
}

gx_err gx_intern_id(gx_intern *t, const char *p, size_t len, uint32_t *id)
{
    *id = 0;
    uint32_t h = s_hash(p, len);
    if (t->n_slot) {
        size_t i = s_probe(t, p, len, h);
        if (t->slot[i]) {
            *id = t->slot[i];
            return GX_OK;
        }
    }
    if (t->n >= S_ID_MAX || len > SIZE_MAX - t->len - 1)
        return GX_ERR_NOMEM;
    /* room first, so that a failure leaves the table as it was */
    gx_err err = gx_grow(&t->bytes, &t->cap, t->len + len + 1, 1);
    if (!err && t->id_cap < (size_t)t->n + 2) {
        size_t cap = t->id_cap;
        if (!(err = gx_grow(&t->off, &cap, (size_t)t->n + 2, sizeof *t->off)))
            err = gx_grow(&t->hash, &t->id_cap, (size_t)t->n + 2, sizeof *t->hash);
    }
    if (!err && ((size_t)t->n + 1) * 2 > t->n_slot)
        err = s_rehash(t);
    if (err)
        return err;
    uint32_t nid = t->n + 1;
    t->off[nid] = t->len;
    t->hash[nid] = h;
    if (len)
        memcpy(t->bytes + t->len, p, len);
    t->bytes[t->len + len] = '\0';
    t->len += len + 1;
    t->n = nid;
    t->slot[s_probe(t, p, len, h)] = nid;
    *id = nid;
    return GX_OK;
}

const char *gx_intern_str(const gx_intern *t, uint32_t id, size_t *len)
{
    if (id == 0 || id > t->n)
        return NULL;
    if (len)
        *len = (id < t->n ? t->off[id + 1] : t->len) - 1 - t->off[id];
    return t->bytes + t->off[id];
}

uint32_t gx_intern_count(const gx_intern *t)
{
    return t->n;
}
