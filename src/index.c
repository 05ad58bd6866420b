/* index.c — posting lists for the matching engine (see index.h).
 *
 * Lists live in one growable array and are never freed before the index (the
 * number of distinct (kind, key) pairs is bounded by the vocabulary); a small
 * open-addressing table (linear probing, load <= 1/2, no deletion) maps the
 * FNV-1a hash of (kind, tag, key) to a list number. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_list {
    char *key;      /* owned, NUL-terminated */
    size_t len;     /* key length */
    unsigned kind;  /* posting kind */
    char tag;       /* key vocabulary */
    uint64_t hash;  /* of (kind, key) */
    void **v;       /* n items */
    uint32_t n;     /* used */
    uint32_t cap;   /* allocated */
} s_list;

struct gx_index {
    gx_index_refs_fn refs_of; /* item -> its refs */
    s_list *lists;            /* n_lists lists */
    uint32_t n_lists, cap_lists;
    uint32_t *tab;            /* cap_tab slots: list number + 1, 0 empty */
    size_t cap_tab;           /* power of two */
};

static uint64_t s_hash(unsigned kind, char tag, const char *key, size_t len)
{
    uint64_t h = (1469598103934665603ull ^ kind) * 1099511628211ull;
    h = (h ^ (unsigned char)tag) * 1099511628211ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

gx_err gx_index_new(gx_index_refs_fn refs_of, gx_index **out)
{
    gx_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->tab = calloc(64, sizeof *ix->tab))) {
        free(ix);
        return GX_ERR_NOMEM;
    }
    ix->cap_tab = 64;
    ix->refs_of = refs_of;
    *out = ix;
    return GX_OK;
}

void gx_index_destroy(gx_index **ixp)
{
    gx_index *ix = ixp ? *ixp : NULL;
    if (!ix)
        return;
    for (uint32_t i = 0; i < ix->n_lists; i++) {
        free(ix->lists[i].key);
        free(ix->lists[i].v);
    }
    free(ix->lists);
    free(ix->tab);
    free(ix);
    *ixp = NULL;
}

/* Slot of (kind, key) in the table: its list's slot, or the empty slot where
 * it would go. */
static size_t s_slot(const gx_index *ix, uint64_t h, unsigned kind, char tag, const char *key, size_t len)
{
    size_t mask = ix->cap_tab - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t t = ix->tab[i];
        if (!t)
            return i;
        const s_list *l = &ix->lists[t - 1];
        if (l->hash == h && l->kind == kind && l->tag == tag && l->len == len && memcmp(l->key, key, len) == 0)
            return i;
    }
}

static gx_err s_rehash(gx_index *ix)
{
    size_t cap = ix->cap_tab * 2;
    uint32_t *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return GX_ERR_NOMEM;
    for (uint32_t l = 0; l < ix->n_lists; l++) {
        size_t i = (size_t)ix->lists[l].hash & (cap - 1);
        while (tab[i])
            i = (i + 1) & (cap - 1);
        tab[i] = l + 1;
    }
    free(ix->tab);
    ix->tab = tab;
    ix->cap_tab = cap;
    return GX_OK;
}

uint32_t gx_index_list(gx_index *ix, unsigned kind, char tag, const char *key, size_t len, int create)
{
    uint64_t h = s_hash(kind, tag, key, len);
    size_t i = s_slot(ix, h, kind, tag, key, len);
    if (ix->tab[i])
        return ix->tab[i] - 1;
    if (!create || ix->n_lists == UINT32_MAX - 1)
        return UINT32_MAX;
    if (2 * ((size_t)ix->n_lists + 1) > ix->cap_tab) {
        if (s_rehash(ix))
            return UINT32_MAX;
        i = s_slot(ix, h, kind, tag, key, len);
    }
    if (ix->n_lists == ix->cap_lists) {
        uint32_t nc = ix->cap_lists ? 2 * ix->cap_lists : 64;
        s_list *nl = realloc(ix->lists, nc * sizeof *nl);
        if (!nl)
            return UINT32_MAX;
        ix->lists = nl;
        ix->cap_lists = nc;
    }
    char *k = malloc(len + 1);
    if (!k)
        return UINT32_MAX;
    memcpy(k, key, len);
    k[len] = '\0';
    ix->lists[ix->n_lists] = (s_list){.key = k, .len = len, .kind = kind, .tag = tag, .hash = h};
    ix->tab[i] = ix->n_lists + 1;
    return ix->n_lists++;
}

gx_err gx_index_reserve(gx_index *ix, uint32_t l)
{
    s_list *li = &ix->lists[l];
    if (li->n < li->cap)
        return GX_OK;
    if (li->cap >= UINT32_MAX / 2)
        return GX_ERR_NOMEM;
    uint32_t nc = li->cap ? 2 * li->cap : 8;
    void **v = realloc(li->v, nc * sizeof *v);
    if (!v)
        return GX_ERR_NOMEM;
    li->v = v;
    li->cap = nc;
    return GX_OK;
}

void gx_index_put(gx_index *ix, uint32_t l, void *item, gx_index_ref *ref)
{
    s_list *li = &ix->lists[l];
    ref->list = l;
    ref->pos = li->n;
    li->v[li->n++] = item;
}

void gx_index_del(gx_index *ix, const gx_index_ref *ref)
{
    s_list *li = &ix->lists[ref->list];
    uint32_t pos = ref->pos, last = --li->n;
    if (pos == last)
        return;
    void *moved = li->v[last];
    li->v[pos] = moved;
    uint32_t n = 0;
    gx_index_ref *r = ix->refs_of(moved, &n);
    for (uint32_t i = 0; i < n; i++)
        if (r[i].list == ref->list && r[i].pos == last) {
            r[i].pos = pos;
            return;
        }
}

void *const *gx_index_items(const gx_index *ix, uint32_t l, size_t *n)
{
    if (l >= ix->n_lists) {
        *n = 0;
        return NULL;
    }
    *n = ix->lists[l].n;
    return ix->lists[l].v;
}

size_t gx_index_bytes(const gx_index *ix)
{
    size_t b = sizeof *ix + ix->cap_tab * sizeof *ix->tab + ix->cap_lists * sizeof *ix->lists;
    for (uint32_t i = 0; i < ix->n_lists; i++)
        b += ix->lists[i].len + 1 + ix->lists[i].cap * sizeof(void *);
    return b;
}
