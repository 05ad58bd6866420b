/* engine.c — the matching engine: open postings, their matches and shortlists.
 *
 * Layout. Firms, demands, offers and subscriptions sit in open-addressing hash
 * maps keyed by id (linear probing, backward-shift deletion, load <= 1/2). Each
 * open demand keeps its matches as a vector sorted by score descending, then
 * offer id ascending (the first K are the shortlist), and its near misses sorted
 * by offer id. Each open offer keeps "links": the demands it matches or nearly
 * matches, sorted by demand id, with the score, so it can be found in a
 * demand's vector by binary search.
 *
 * Candidates. Two inverted indexes (index.h, keyed as terms.h says) keep
 * evaluation proportional to the plausible candidates, not to the open
 * postings. Offers are filed, per
 * kind they serve, under every dotted prefix of their processes and materials
 * and the section/class/subclass of their IPC classes. A new demand looks up
 * the family keys (gx_rules_family_len) of one of its term rules — process,
 * material or IPC, whichever has the shortest lists — and evaluates only the
 * offers found: any offer that passes that rule, or is a relevant near miss on
 * it (gx_rules_near_relevant), holds one of those keys, and a near miss on any
 * other rule passes it. Demands are filed under the family keys of their first
 * term rule that names terms (or '*'), and a new offer looks up its own keys
 * (and '*') in the kinds it serves. Before any rule runs, each candidate's
 * Bloom signature (gx_terms_plausible) drops the pairs certain to fail two
 * rules, and the rules it proves failed are not evaluated again. Only a
 * demand naming no process, material or IPC class is evaluated against every
 * offer of its kind. Filing and
 * unfiling cost O(keys); the per-kind lists remain for that fallback and for
 * subscriptions.
 *
 * Near misses: a pair is a near miss when it fails exactly one hard rule, that
 * rule is neither KIND (another trade entirely) nor VALIDITY (a posting about
 * to expire), and the offer is relevant to it (gx_rules_near_relevant: on a
 * process, material or technology failure it works in the same family). Pairs
 * excluded by gx_rules_excluded (same firm, or a firm graded D) are never
 * evaluated. At most near_miss_max are kept per demand;
 * when a demand is (re)evaluated the best-scored ones are kept, and a near miss
 * arriving at a full demand is neither recorded nor reported.
 *
 * Every mutating call plans first and applies second: it evaluates, allocates
 * every array and reserves every effect slot it will need, and only then
 * changes state, with nothing left that can fail. So GX_ERR_NOMEM leaves the
 * engine exactly as it was (put_firm excepted: it applies the firm, then
 * re-evaluates posting by posting, and stops at the first failure).
 *
 * Effect order, per demand touched (demands in id order): MATCH / UNMATCH,
 * then shortlist changes — first the one concerning the offer that changed,
 * then knock-on removals in old rank order, then additions in new rank order —
 * then NEAR_MISS, then SUB_HIT (subscriptions in id order). Adding or updating
 * a demand emits UNMATCH in old rank order and MATCH in new rank order. A
 * shortlist removal carries the cause's reason when the pair stopped matching
 * or the demand itself changed, DISPLACED when a still-eligible offer was
 * pushed below rank K. */
#include "engine.h"

#include "index.h"
#include "terms.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_NONE 0
#define S_MATCH 1
#define S_NEAR 2

/* ------------------------------------------------------------------ vectors */

#define S_GROW(arr, cap, need) gx_grow(&(arr), &(cap), (need), sizeof *(arr))

/* Index of the first element whose leading u64 key is >= key, in an array of n
 * elements of size bytes sorted by that key. */
static size_t s_lower(const void *base, size_t n, size_t size, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, (const char *)base + mid * size, sizeof k);
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* qsort that accepts an empty (possibly NULL) array. */
static void s_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* Sorted arrays of elements that begin with their u64 key (ids, links, near
 * misses, plan steps): find, insert (room reserved), remove. */
static void *s_kfind(const void *base, size_t n, size_t size, uint64_t key)
{
    size_t i = s_lower(base, n, size, key);
    uint64_t k = 0;
    if (i < n)
        memcpy(&k, (const char *)base + i * size, sizeof k);
    return i < n && k == key ? (char *)base + i * size : NULL;
}

static void s_kinsert(void *base, size_t *n, size_t size, const void *elem)
{
    uint64_t key;
    memcpy(&key, elem, sizeof key);
    char *p = (char *)base + s_lower(base, *n, size, key) * size;
    memmove(p + size, p, (size_t)((char *)base + *n * size - p));
    memcpy(p, elem, size);
    (*n)++;
}

static void s_kremove(void *base, size_t *n, size_t size, uint64_t key)
{
    char *p = s_kfind(base, *n, size, key);
    if (p) {
        memmove(p, p + size, (size_t)((char *)base + (*n - 1) * size - p));
        (*n)--;
    }
}

/* ------------------------------------------------------------------ maps */

typedef struct s_slot {
    uint64_t key; /* id, or hash of a firm id */
    void *val;    /* entry; NULL marks an empty slot */
} s_slot;

typedef struct s_map {
    s_slot *s;  /* cap slots */
    size_t cap; /* 0 or a power of two */
    size_t n;   /* occupied */
} s_map;

static size_t s_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return (size_t)k;
}


/* Slot of key, or SIZE_MAX. For the firm map sid is the firm id, compared with
 * the entry's: a gx_firm, whose first member is the id string. */
static size_t s_map_find(const s_map *m, uint64_t key, const char *sid)
{
    if (!m->cap)
        return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t i = s_mix(key) & mask;; i = (i + 1) & mask) {
        if (!m->s[i].val)
            return SIZE_MAX;
        if (m->s[i].key == key && (!sid || strcmp((const char *)m->s[i].val, sid) == 0))
            return i;
    }
}

static void *s_map_get(const s_map *m, uint64_t key, const char *sid)
{
    size_t i = s_map_find(m, key, sid);
    return i == SIZE_MAX ? NULL : m->s[i].val;
}

static void s_map_insert(s_map *m, uint64_t key, void *val)
{
    size_t mask = m->cap - 1, i = s_mix(key) & mask;
    while (m->s[i].val)
        i = (i + 1) & mask;
    m->s[i].key = key;
    m->s[i].val = val;
    m->n++;
}

/* Makes room for n entries in all; the following inserts cannot fail. */
static gx_err s_map_reserve(s_map *m, size_t n)
{
    if (n <= m->cap / 2)
        return GX_OK;
    size_t nc = m->cap ? m->cap : 16;
    while (n > nc / 2) {
        if (nc > SIZE_MAX / 2 / sizeof(s_slot))
            return GX_ERR_NOMEM;
        nc *= 2;
    }
    s_map old = *m;
    m->s = calloc(nc, sizeof *m->s);
    if (!m->s) {
        *m = old;
        return GX_ERR_NOMEM;
    }
    m->cap = nc;
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.s[i].val)
            s_map_insert(m, old.s[i].key, old.s[i].val);
    free(old.s);
    return GX_OK;
}

static void s_map_remove(s_map *m, uint64_t key, const char *sid)
{
    size_t i = s_map_find(m, key, sid);
    if (i == SIZE_MAX)
        return;
    size_t mask = m->cap - 1, j = i;
    m->s[i].val = NULL;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].val)
            break;
        size_t h = s_mix(m->s[j].key) & mask;
        /* move j back to the hole at i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            m->s[i] = m->s[j];
            m->s[j].val = NULL;
            i = j;
        }
    }
    m->n--;
}

/* ------------------------------------------------------------------ entries */

typedef gx_near s_near; /* engine.h: offer_id first (the sort key), score, rule */

typedef struct s_link {
    uint64_t demand_id; /* first member: sort key */
    double score;       /* the pair's score, as held in the demand's vector */
    gx_rule rule;       /* GX_RULE_NONE: a match; else the near-miss rule */
} s_link;


typedef struct s_dem {
    uint64_t stamp;      /* last candidate search that saw it */
    gx_demand d;         /* the posting */
    gx_match *m;         /* n_m matches, best first */
    size_t n_m, cap_m;   /* used, allocated */
    s_near *nm;          /* n_nm near misses by offer id */
    size_t n_nm, cap_nm; /* used, allocated */
    size_t kpos;         /* index in the engine's list of its kind */
    unsigned k_pub;      /* shortlist length its last shortlist effects used */
    uint64_t gen;        /* options generation its scores were computed with */
    const gx_firm *f;    /* its owner (firms are never freed before the engine) */
    gx_dmask mask;        /* its terms, for the candidate filter */
    gx_index_ref *refs;  /* n_refs places in the demand index */
    uint32_t n_refs;     /* count */
} s_dem;

typedef struct s_off {
    gx_sig sig;                   /* first, on one cache line with the next two: */
    uint64_t stamp;              /* what the candidate search reads */
    const gx_firm *f;            /* its owner */
    gx_offer o;                  /* the posting */
    s_link *l;                   /* n_l links by demand id */
    size_t n_l, cap_l;           /* used, allocated */
    size_t kpos[GX_KIND__COUNT]; /* index in each kind's list it is in */
    gx_index_ref *refs;          /* n_refs places in the offer index */
    uint32_t n_refs;             /* count */
} s_off;

/* A plain pointer list with per-entry position tracking done by the caller. */
typedef struct s_plist {
    void **v;   /* n entries */
    size_t n;   /* used */
    size_t cap; /* allocated */
} s_plist;

struct gx_engine {
    gx_engine_opts opts;        /* copied; opts.rules.three_districts = td */
    char **td;                  /* owned copies of the three districts */
    s_map firms;                /* hash(id) -> gx_firm */
    s_map demands;              /* id -> s_dem */
    s_map offers;               /* id -> s_off */
    s_map subs;                 /* id -> gx_sub */
    s_plist dk[GX_KIND__COUNT]; /* open demands by kind */
    s_plist ok[GX_KIND__COUNT]; /* open offers by each kind they serve */
    uint64_t *snap, *sa, *sb;   /* shortlist diff scratch, k_scratch each, one block */
    size_t n_snap;              /* ids in snap */
    unsigned k_scratch;         /* largest K ever configured */
    uint64_t gen;               /* bumped by set_opts: lazy re-rank */
    int64_t now;                /* latest time given to a mutating call */
    gx_index *oix;              /* open offers by (kind, term family) */
    gx_index *dix;              /* open demands by (kind, term family) */
    uint64_t stamp;             /* candidate searches so far */
    gx_sig three;                /* keys of the three districts */
    void **cand;                /* candidate scratch: n_cand postings */
    size_t n_cand, cap_cand;    /* used, allocated */
    uint64_t pairs_evaluated;   /* calls of gx_rules_classify (gx_engine_stats) */
};

/* One verdict in a plan: the other side of the pair and what it became. */
typedef struct s_step {
    uint64_t id;  /* first member: the other posting's id, sort key */
    void *p;      /* the other posting: s_dem or s_off */
    double score; /* new score */
    gx_rule rule; /* new near-miss rule */
    int ns;       /* new state: S_NONE, S_MATCH, S_NEAR */
} s_step;

typedef struct s_steps {
    s_step *v;  /* n steps */
    size_t n;   /* used */
    size_t cap; /* allocated */
} s_steps;

static gx_firm *s_firm_get(const gx_engine *e, const char *id)
{
    return s_map_get(&e->firms, gx_fnv1a_str(GX_FNV_SEED, id), id);
}
static s_dem *s_dem_get(const gx_engine *e, uint64_t id)
{
    return s_map_get(&e->demands, id, NULL);
}
static s_off *s_off_get(const gx_engine *e, uint64_t id)
{
    return s_map_get(&e->offers, id, NULL);
}

static void s_dem_free(s_dem *dem)
{
    gx_demand_fini(&dem->d);
    free(dem->m);
    free(dem->nm);
    free(dem->refs);
    free(dem);
}

static void s_off_free(s_off *off)
{
    gx_offer_fini(&off->o);
    free(off->l);
    free(off->refs);
    free(off);
}

/* ------------------------------------------------------------------ effects */

void gx_fxv_fini(gx_fxv *fx)
{
    if (!fx)
        return;
    free(fx->v);
    memset(fx, 0, sizeof *fx);
}

static gx_err s_fx_reserve(gx_fxv *fx, size_t more)
{
    if (!fx)
        return GX_OK;
    if (more > SIZE_MAX - fx->n)
        return GX_ERR_NOMEM;
    return S_GROW(fx->v, fx->cap, fx->n + more);
}

/* Appends one effect; room was reserved. */
static void s_emit(gx_fxv *fx, gx_fx f)
{
    if (!fx)
        return;
    assert(fx->n < fx->cap);
    if (fx->n < fx->cap)
        fx->v[fx->n++] = f;
}

static void s_emit_pair(gx_fxv *fx, gx_fx_type t, uint64_t did, uint64_t oid, double score, gx_reason why)
{
    s_emit(fx, (gx_fx){.type = t, .demand_id = did, .offer_id = oid, .score = score, .reason = why});
}

static void s_emit_near(gx_fxv *fx, uint64_t did, const s_near *nr)
{
    gx_fx f = {.type = GX_FX_NEAR_MISS, .demand_id = did, .offer_id = nr->offer_id, .score = nr->score};
    f.rule = nr->rule;
    s_emit(fx, f);
}

/* ------------------------------------------------------------------ pairs */

/* Classifies (d, o) at now: S_MATCH, S_NEAR (with *rule) or S_NONE. */
static int s_classify(const gx_engine *e, const gx_demand *d, const gx_firm *df, const gx_offer *o,
                      const gx_firm *of, int64_t now, uint32_t known_fail, double *score, gx_rule *rule)
{
    ((gx_engine *)e)->pairs_evaluated++; /* a statistic; engines are never const objects */
    switch (gx_rules_classify(&e->opts.rules, d, df, o, of, now, known_fail, score, rule)) {
    case GX_PAIR_MATCH:
        return S_MATCH;
    case GX_PAIR_NEAR:
        return S_NEAR;
    default:
        return S_NONE;
    }
}

static size_t s_m_pos(const s_dem *dem, double score, uint64_t id)
{
    size_t lo = 0, hi = dem->n_m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const gx_match *a = &dem->m[mid]; /* before (score, id) in rank order? */
        if (a->score > score || (a->score == score && a->offer_id < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Inserts a match; room was reserved. */
static void s_m_insert(s_dem *dem, uint64_t id, double score)
{
    assert(dem->n_m < dem->cap_m);
    size_t i = s_m_pos(dem, score, id);
    memmove(dem->m + i + 1, dem->m + i, (dem->n_m - i) * sizeof *dem->m);
    dem->m[i] = (gx_match){.offer_id = id, .score = score};
    dem->n_m++;
}

static void s_m_remove(s_dem *dem, uint64_t id, double score)
{
    size_t i = s_m_pos(dem, score, id);
    assert(i < dem->n_m && dem->m[i].offer_id == id); /* links hold the scores the vector is sorted by */
    if (i >= dem->n_m || dem->m[i].offer_id != id)
        return;
    memmove(dem->m + i, dem->m + i + 1, (dem->n_m - i - 1) * sizeof *dem->m);
    dem->n_m--;
}

static int s_cmp_match(const void *a, const void *b)
{
    const gx_match *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->offer_id < y->offer_id ? -1 : x->offer_id > y->offer_id;
}

/* ------------------------------------------------------------------ shortlists */

static size_t s_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Remembers the shortlist as last published, before a change to it. */
static void s_snap(gx_engine *e, const s_dem *dem)
{
    e->n_snap = s_min(dem->n_m, dem->k_pub);
    for (size_t i = 0; i < e->n_snap; i++)
        e->snap[i] = dem->m[i].offer_id;
}

/* Re-scores a demand's matches after an options change (lazy re-rank); which
 * pairs match is left as it was. Cannot fail. */
static void s_refresh(gx_engine *e, s_dem *dem)
{
    if (dem->gen == e->gen)
        return;
    dem->gen = e->gen;
    const gx_firm *df = s_firm_get(e, dem->d.owner);
    for (size_t i = 0; df && i < dem->n_m; i++) {
        s_off *off = s_off_get(e, dem->m[i].offer_id);
        const gx_firm *of = off ? s_firm_get(e, off->o.owner) : NULL;
        if (!of)
            continue;
        gx_explain x;
        gx_rules_evaluate(&e->opts.rules, &dem->d, df, &off->o, of, e->now, false, &x);
        dem->m[i].score = x.score;
        s_link *l = s_kfind(off->l, off->n_l, sizeof *off->l, dem->d.id);
        if (l)
            l->score = x.score;
    }
    s_sort(dem->m, dem->n_m, sizeof *dem->m, s_cmp_match);
}

static void s_emit_add(gx_fxv *fx, const s_dem *dem, size_t i)
{
    s_emit(fx, (gx_fx){.type = GX_FX_SHORTLIST_ADD,
                       .demand_id = dem->d.id,
                       .offer_id = dem->m[i].offer_id,
                       .score = dem->m[i].score,
                       .rank = (uint32_t)(i + 1)});
}

/* Emits the shortlist changes between the snapshot and the demand's current
 * top K (see the file comment for order and reasons). changed is the offer
 * whose pair changed, NULL when the demand itself changed (every removal then
 * carries cause); changed_matched whether that offer still matches. Needs at
 * most snapshot + K effect slots. */
static void s_diff(gx_engine *e, s_dem *dem, const uint64_t *changed, bool changed_matched, gx_reason cause,
                   gx_fxv *fx)
{
    size_t k = e->opts.shortlist_k, nn = s_min(dem->n_m, k), no = e->n_snap;
    uint64_t did = dem->d.id, cid = changed ? *changed : 0;
    dem->k_pub = (unsigned)k;
    if (!fx)
        return;
    memcpy(e->sa, e->snap, no * sizeof *e->sa);
    s_sort(e->sa, no, sizeof *e->sa, s_cmp_u64);
    for (size_t i = 0; i < nn; i++)
        e->sb[i] = dem->m[i].offer_id;
    s_sort(e->sb, nn, sizeof *e->sb, s_cmp_u64);
    if (changed) {
        bool was = s_kfind(e->sa, no, sizeof *e->sa, cid), is = s_kfind(e->sb, nn, sizeof *e->sb, cid);
        if (was && !is)
            s_emit_pair(fx, GX_FX_SHORTLIST_REMOVE, did, cid, 0,
                        changed_matched ? GX_REASON_DISPLACED : cause);
        for (size_t i = 0; !was && is && i < nn; i++)
            if (dem->m[i].offer_id == cid)
                s_emit_add(fx, dem, i);
    }
    for (size_t i = 0; i < no; i++)
        if (!(changed && e->snap[i] == cid) && !s_kfind(e->sb, nn, sizeof *e->sb, e->snap[i]))
            s_emit_pair(fx, GX_FX_SHORTLIST_REMOVE, did, e->snap[i], 0,
                        changed ? GX_REASON_DISPLACED : cause);
    for (size_t i = 0; i < nn; i++)
        if (!(changed && dem->m[i].offer_id == cid) && !s_kfind(e->sa, no, sizeof *e->sa, dem->m[i].offer_id))
            s_emit_add(fx, dem, i);
}

/* ------------------------------------------------------------------ lists */

/* Appends p; returns its index. Room was reserved. */
static size_t s_plist_push(s_plist *l, void *p)
{
    assert(l->n < l->cap);
    l->v[l->n] = p;
    return l->n++;
}

static void s_dem_unindex(gx_engine *e, s_dem *dem)
{
    s_plist *l = &e->dk[dem->d.kind];
    l->v[dem->kpos] = l->v[--l->n];
    if (dem->kpos < l->n)
        ((s_dem *)l->v[dem->kpos])->kpos = dem->kpos;
}

static void s_off_unindex_kind(gx_engine *e, s_off *off, unsigned k)
{
    s_plist *l = &e->ok[k];
    size_t pos = off->kpos[k];
    l->v[pos] = l->v[--l->n];
    if (pos < l->n)
        ((s_off *)l->v[pos])->kpos[k] = pos;
}

static bool s_serves(uint32_t kinds, unsigned k)
{
    return (kinds & GX_BIT(k)) != 0;
}

static bool s_kind_valid(gx_kind k)
{
    return k > GX_KIND_NONE && k < GX_KIND__COUNT;
}

/* Makes room in the kind lists for kinds of `to` that `from` (may be 0) lacks. */
static gx_err s_off_kinds_reserve(gx_engine *e, uint32_t from, uint32_t to)
{
    for (unsigned k = 1; k < GX_KIND__COUNT; k++)
        if (s_serves(to, k) && !s_serves(from, k)) {
            gx_err err = S_GROW(e->ok[k].v, e->ok[k].cap, e->ok[k].n + 1);
            if (err)
                return err;
        }
    return GX_OK;
}

static void s_off_kinds_move(gx_engine *e, s_off *off, uint32_t from, uint32_t to)
{
    for (unsigned k = 1; k < GX_KIND__COUNT; k++) {
        if (s_serves(from, k) && !s_serves(to, k))
            s_off_unindex_kind(e, off, k);
        if (s_serves(to, k) && !s_serves(from, k))
            off->kpos[k] = s_plist_push(&e->ok[k], off);
    }
}

/* ------------------------------------------------------------------ index */

static gx_index_ref *s_off_refs(void *item, uint32_t *n)
{
    s_off *off = item;
    *n = off->n_refs;
    return off->refs;
}

static gx_index_ref *s_dem_refs(void *item, uint32_t *n)
{
    s_dem *dem = item;
    *n = dem->n_refs;
    return dem->refs;
}

/* Where a posting will be filed: list numbers, created and reserved, and the
 * refs array to fill, allocated. */
typedef struct s_filing {
    uint32_t *lists;    /* n list numbers */
    gx_index_ref *refs; /* n refs, filled by s_file */
    uint32_t n;         /* count */
    gx_sig sig;          /* of the keys */
} s_filing;

static void s_filing_fini(s_filing *f)
{
    free(f->lists);
    free(f->refs);
    memset(f, 0, sizeof *f);
}

/* Plans filing keys k under every kind in `kinds` (GX_BIT set) of ix. */
static gx_err s_filing_plan(gx_index *ix, uint32_t kinds, const gx_keys *k, s_filing *f)
{
    size_t n = 0;
    for (unsigned kd = 1; kd < GX_KIND__COUNT; kd++)
        n += (kinds & GX_BIT(kd)) ? k->n : 0;
    if (n > UINT32_MAX || (n && (!(f->lists = malloc(n * sizeof *f->lists)) ||
                                 !(f->refs = malloc(n * sizeof *f->refs)))))
        return GX_ERR_NOMEM;
    for (unsigned kd = 1; kd < GX_KIND__COUNT; kd++)
        for (size_t i = 0; (kinds & GX_BIT(kd)) && i < k->n; i++) {
            uint32_t l = gx_index_list(ix, kd, k->v[i].tag, k->v[i].p, k->v[i].len, 1);
            if (l == UINT32_MAX || gx_index_reserve(ix, l))
                return GX_ERR_NOMEM;
            f->lists[f->n++] = l;
        }
    return GX_OK;
}

/* Moves a posting from its old places (*refs, *n_refs) to the planned ones. */
static void s_file(gx_index *ix, void *item, gx_index_ref **refs, uint32_t *n_refs, s_filing *f)
{
    for (uint32_t i = *n_refs; i-- > 0;)
        gx_index_del(ix, &(*refs)[i]);
    free(*refs);
    *refs = NULL;
    *n_refs = 0;
    for (uint32_t i = 0; i < f->n; i++)
        gx_index_put(ix, f->lists[i], item, &f->refs[i]);
    *refs = f->refs;
    *n_refs = f->n;
    f->refs = NULL;
}

/* Plans filing offer o under its keys k (gx_terms_offer_keys), with signature sig. */
static gx_err s_offer_filing(gx_engine *e, const gx_offer *o, const gx_keys *k, const gx_sig *sig, s_filing *f)
{
    f->sig = *sig;
    return s_filing_plan(e->oix, o->kinds, k, f);
}

static gx_err s_demand_filing(gx_engine *e, const gx_demand *d, s_filing *f)
{
    gx_keys k = {0};
    gx_err err = gx_terms_demand_keys(d, &k);
    if (!err)
        err = s_filing_plan(e->dix, s_kind_valid(d->kind) ? GX_BIT(d->kind) : 0, &k, f);
    gx_keys_fini(&k);
    return err;
}

/* Adds item to the candidate scratch unless this search has seen it. */
static gx_err s_cand_push(gx_engine *e, void *item, uint64_t *stamp)
{
    if (*stamp == e->stamp)
        return GX_OK;
    *stamp = e->stamp;
    gx_err err = S_GROW(e->cand, e->cap_cand, e->n_cand + 1);
    if (!err)
        e->cand[e->n_cand++] = item;
    return err;
}

/* The open offers that may match demand d or be a near miss of it: those in
 * the family of its term rule with the shortest lists (every candidate must
 * pass that rule or be a relevant near miss on it) and plausible under its
 * mask, or, when d names no terms, every offer of its kind. *v is borrowed
 * until the next search. */
static gx_err s_offer_cands(gx_engine *e, const gx_demand *d, const gx_dmask *mask, void *const **v, size_t *n)
{
    gx_keys best = {0}, k = {0};
    size_t best_cost = SIZE_MAX;
    gx_err err = GX_OK;
    for (size_t r = 0; r < sizeof gx_term_rules / sizeof *gx_term_rules && !err; r++) {
        char tag;
        if (!gx_terms_wanted(d, gx_term_rules[r], &tag)->n)
            continue;
        k.n = 0;
        if ((err = gx_terms_family_keys(d, gx_term_rules[r], &k)))
            break;
        size_t cost = 0, ln;
        for (size_t i = 0; i < k.n; i++) {
            uint32_t l = gx_index_list(e->oix, d->kind, k.v[i].tag, k.v[i].p, k.v[i].len, 0);
            gx_index_items(e->oix, l, &ln);
            cost += ln;
        }
        if (cost < best_cost) {
            gx_keys t = best;
            best = k;
            k = t;
            best_cost = cost;
        }
    }
    if (!err && best_cost == SIZE_MAX) {
        *v = e->ok[d->kind].v;
        *n = e->ok[d->kind].n;
        goto out;
    }
    e->stamp++;
    e->n_cand = 0;
    for (size_t i = 0; !err && i < best.n; i++) {
        size_t ln;
        uint32_t l = gx_index_list(e->oix, d->kind, best.v[i].tag, best.v[i].p, best.v[i].len, 0);
        void *const *items = gx_index_items(e->oix, l, &ln);
        for (size_t j = 0; !err && j < ln; j++) {
            if (j + 8 < ln)
                __builtin_prefetch(items[j + 8]);
            s_off *off = items[j];
            uint32_t kf;
            if (off->stamp != e->stamp && gx_terms_plausible(&e->three, mask, &off->sig, &kf))
                err = s_cand_push(e, off, &off->stamp);
        }
    }
    *v = e->cand;
    *n = e->n_cand;
out:
    gx_keys_fini(&best);
    gx_keys_fini(&k);
    return err;
}

/* The open demands that offer o may match or nearly match: those filed under
 * any of its keys k, or under '*', in the kinds it serves. */
static gx_err s_demand_cands(gx_engine *e, const gx_offer *o, const gx_keys *k, void *const **v, size_t *n)
{
    gx_err err = GX_OK;
    e->stamp++;
    e->n_cand = 0;
    for (unsigned kd = 1; !err && kd < GX_KIND__COUNT; kd++) {
        if (!s_serves(o->kinds, kd))
            continue;
        for (size_t i = 0; !err && i <= k->n; i++) { /* its keys, then '*' */
            size_t ln;
            const gx_key *ki = i < k->n ? &k->v[i] : &(gx_key){.p = "", .len = 0, .tag = '*'};
            uint32_t l = gx_index_list(e->dix, kd, ki->tag, ki->p, ki->len, 0);
            void *const *items = gx_index_items(e->dix, l, &ln);
            for (size_t j = 0; !err && j < ln; j++)
                err = s_cand_push(e, items[j], &((s_dem *)items[j])->stamp);
        }
    }
    *v = e->cand;
    *n = e->n_cand;
    return err;
}

/* ------------------------------------------------------------------ sub hits */

/* Whether sub should hear of demand d of firm df: it passes the filters, is not
 * the subscriber's own, and neither firm is graded D. */
static bool s_sub_hit(const gx_engine *e, const gx_sub *s, const gx_demand *d, const gx_firm *df)
{
    if (strcmp(s->owner, d->owner) == 0 || df->credit == GX_CREDIT_D)
        return false;
    const gx_firm *sf = s_firm_get(e, s->owner);
    if (sf && sf->credit == GX_CREDIT_D)
        return false;
    return gx_rules_sub_matches(s, d, df);
}

/* ------------------------------------------------------------------ demand side */

/* What (re)evaluating one demand will do, computed before anything changes. */
typedef struct s_dplan {
    s_steps st;      /* kept verdicts (matches, retained near misses) by offer id */
    gx_match *m;     /* the new ranked matches */
    size_t n_m;      /* count */
    s_near *nm;      /* the new near misses by offer id */
    size_t n_nm;     /* count */
    uint64_t *subs;  /* subscriptions newly passed, by id */
    size_t n_subs;   /* count */
    size_t cap_subs; /* allocated */
} s_dplan;

static void s_dplan_fini(s_dplan *p)
{
    free(p->st.v);
    free(p->m);
    free(p->nm);
    free(p->subs);
    memset(p, 0, sizeof *p);
}

static int s_cmp_step_near(const void *a, const void *b)
{
    const s_step *x = a, *y = b;
    if (x->ns != y->ns) /* near misses first */
        return x->ns == S_NEAR ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int s_cmp_step_id(const void *a, const void *b)
{
    uint64_t x = ((const s_step *)a)->id, y = ((const s_step *)b)->id;
    return x < y ? -1 : x > y;
}

/* Plans demand d (the content to evaluate, owned by firm df) for entry dem
 * (NULL when new): verdicts against open offers of its kind, new vectors, link
 * room, newly passed subscriptions (old content od of firm odf, NULL when new)
 * and effect room. */
static gx_err s_dplan_build(gx_engine *e, const s_dem *dem, const gx_demand *d, const gx_firm *df,
                            const gx_demand *od, const gx_firm *odf, int64_t now, gx_fxv *fx, s_dplan *p)
{
    size_t n_near = 0, cn;
    void *const *cv;
    gx_dmask mask;
    gx_terms_dmask(&e->opts.rules, d, df, &mask);
    gx_err err = s_offer_cands(e, d, &mask, &cv, &cn);
    for (size_t i = 0; !err && i < cn; i++) {
        s_off *off = cv[i];
        uint32_t kf;
        if (!gx_terms_plausible(&e->three, &mask, &off->sig, &kf))
            continue;
        const gx_firm *of = off->f;
        double score;
        gx_rule rule;
        int ns = of ? s_classify(e, d, df, &off->o, of, now, kf, &score, &rule) : S_NONE;
        if (ns == S_NONE)
            continue;
        if ((err = S_GROW(p->st.v, p->st.cap, p->st.n + 1)))
            goto out;
        p->st.v[p->st.n++] = (s_step){.id = off->o.id, .p = off, .score = score, .rule = rule, .ns = ns};
        n_near += ns == S_NEAR;
    }
    if (err)
        goto out;
    if (n_near > e->opts.near_miss_max) { /* keep the best-scored near misses */
        s_sort(p->st.v, p->st.n, sizeof *p->st.v, s_cmp_step_near);
        memmove(p->st.v + e->opts.near_miss_max, p->st.v + n_near, (p->st.n - n_near) * sizeof *p->st.v);
        p->st.n -= n_near - e->opts.near_miss_max;
        n_near = e->opts.near_miss_max;
    }
    s_sort(p->st.v, p->st.n, sizeof *p->st.v, s_cmp_step_id);
    size_t n_match = p->st.n - n_near;
    if ((n_match && !(p->m = malloc(n_match * sizeof *p->m))) ||
        (n_near && !(p->nm = malloc(n_near * sizeof *p->nm)))) {
        err = GX_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->st.n; i++) {
        s_step *s = &p->st.v[i];
        if (s->ns == S_MATCH)
            p->m[p->n_m++] = (gx_match){.offer_id = s->id, .score = s->score};
        else
            p->nm[p->n_nm++] = (s_near){.offer_id = s->id, .score = s->score, .rule = s->rule};
        s_off *off = s->p;
        if (!dem || !s_kfind(off->l, off->n_l, sizeof *off->l, d->id))
            if ((err = S_GROW(off->l, off->cap_l, off->n_l + 1)))
                goto out;
    }
    s_sort(p->m, p->n_m, sizeof *p->m, s_cmp_match);
    for (size_t i = 0; i < e->subs.cap; i++) {
        const gx_sub *s = e->subs.s[i].val;
        if (!s || !s_sub_hit(e, s, d, df) || (od && s_sub_hit(e, s, od, odf)))
            continue;
        if ((err = S_GROW(p->subs, p->cap_subs, p->n_subs + 1)))
            goto out;
        p->subs[p->n_subs++] = s->id;
    }
    s_sort(p->subs, p->n_subs, sizeof *p->subs, s_cmp_u64);
    size_t old = dem ? dem->n_m + dem->k_pub : 0;
    err = s_fx_reserve(fx, old + p->n_m + e->opts.shortlist_k + p->n_nm + p->n_subs);
out:
    return err;
}

/* Applies a plan to dem (whose content is already the new one). Cannot fail. */
static void s_dplan_commit(gx_engine *e, s_dem *dem, s_dplan *p, gx_reason cause, gx_fxv *fx)
{
    uint64_t did = dem->d.id;
    s_snap(e, dem);
    for (size_t i = 0; i < dem->n_m; i++) {
        const s_step *s = s_kfind(p->st.v, p->st.n, sizeof *p->st.v, dem->m[i].offer_id);
        if (!s || s->ns != S_MATCH)
            s_emit_pair(fx, GX_FX_UNMATCH, did, dem->m[i].offer_id, 0, cause);
    }
    for (size_t i = 0; i < p->n_m; i++) {
        const s_step *s = s_kfind(p->st.v, p->st.n, sizeof *p->st.v, p->m[i].offer_id);
        const s_off *off = s->p;
        const s_link *ol = s_kfind(off->l, off->n_l, sizeof *off->l, did);
        if (!ol || ol->rule != GX_RULE_NONE)
            s_emit_pair(fx, GX_FX_MATCH, did, s->id, s->score, GX_REASON_NONE);
    }
    /* links: drop those no longer kept, then set or add the kept ones */
    for (size_t i = 0; i < dem->n_m + dem->n_nm; i++) {
        uint64_t oid = i < dem->n_m ? dem->m[i].offer_id : dem->nm[i - dem->n_m].offer_id;
        s_off *off = s_off_get(e, oid);
        if (off && !s_kfind(p->st.v, p->st.n, sizeof *p->st.v, oid))
            s_kremove(off->l, &off->n_l, sizeof *off->l, did);
    }
    for (size_t i = 0; i < p->st.n; i++) {
        const s_step *s = &p->st.v[i];
        s_link nl = {.demand_id = did, .score = s->score, .rule = s->ns == S_MATCH ? GX_RULE_NONE : s->rule};
        s_off *off = s->p;
        s_link *ol = s_kfind(off->l, off->n_l, sizeof *off->l, did);
        if (ol)
            *ol = nl;
        else
            s_kinsert(off->l, &off->n_l, sizeof *off->l, &nl);
    }
    gx_match *old_m = dem->m;
    s_near *old_nm = dem->nm;
    size_t old_n_nm = dem->n_nm;
    dem->m = p->m;
    dem->n_m = dem->cap_m = p->n_m;
    dem->nm = p->nm;
    dem->n_nm = dem->cap_nm = p->n_nm;
    p->m = NULL;
    p->nm = NULL;
    dem->gen = e->gen;
    s_diff(e, dem, NULL, false, cause, fx);
    for (size_t i = 0; i < dem->n_nm; i++) {
        const s_near *nr = &dem->nm[i];
        const s_near *was = s_kfind(old_nm, old_n_nm, sizeof *old_nm, nr->offer_id);
        if (was && was->rule == nr->rule)
            continue;
        s_emit_near(fx, did, nr);
    }
    for (size_t i = 0; i < p->n_subs; i++)
        s_emit(fx, (gx_fx){.type = GX_FX_SUB_HIT, .demand_id = did, .sub_id = p->subs[i]});
    free(old_m);
    free(old_nm);
}

/* Re-evaluates a held demand: newd (taken, zeroed) replaces its content, or
 * NULL keeps it; old_df is the demand firm as it was (for subscriptions). */
static gx_err s_demand_reeval(gx_engine *e, s_dem *dem, gx_demand *newd, const gx_firm *old_df,
                              gx_reason cause, int64_t now, gx_fxv *fx)
{
    s_dplan p = {0};
    s_filing f = {0};
    gx_err err;
    const gx_demand *d = newd ? newd : &dem->d;
    gx_firm *nf = s_firm_get(e, d->owner);
    if (!nf)
        return GX_ERR_NOT_FOUND;
    if ((err = s_dplan_build(e, dem, d, nf, &dem->d, old_df, now, fx, &p)) ||
        (newd && (err = s_demand_filing(e, newd, &f))))
        goto out;
    if (newd && newd->kind != dem->d.kind &&
        (err = S_GROW(e->dk[newd->kind].v, e->dk[newd->kind].cap, e->dk[newd->kind].n + 1)))
        goto out;
    if (newd) {
        if (newd->kind != dem->d.kind) {
            s_dem_unindex(e, dem);
            dem->kpos = s_plist_push(&e->dk[newd->kind], dem);
        }
        s_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
        dem->f = nf;
        gx_demand_fini(&dem->d);
        dem->d = *newd;
        memset(newd, 0, sizeof *newd);
    }
    gx_terms_dmask(&e->opts.rules, &dem->d, nf, &dem->mask); /* the demand or its firm changed */
    s_dplan_commit(e, dem, &p, cause, fx);
out:
    s_dplan_fini(&p);
    s_filing_fini(&f);
    return err;
}

/* Removes a held demand, emitting UNMATCH (reason NONE) for its matches;
 * first_fx (type 0 = none) is emitted before them. */
static gx_err s_demand_close(gx_engine *e, s_dem *dem, gx_fx first_fx, gx_fxv *fx)
{
    gx_err err = s_fx_reserve(fx, dem->n_m + 1);
    if (err)
        return err;
    uint64_t did = dem->d.id;
    if (first_fx.type)
        s_emit(fx, first_fx);
    for (size_t i = 0; i < dem->n_m + dem->n_nm; i++) {
        uint64_t oid = i < dem->n_m ? dem->m[i].offer_id : dem->nm[i - dem->n_m].offer_id;
        if (i < dem->n_m)
            s_emit_pair(fx, GX_FX_UNMATCH, did, oid, 0, GX_REASON_NONE);
        s_off *off = s_off_get(e, oid);
        if (off)
            s_kremove(off->l, &off->n_l, sizeof *off->l, did);
    }
    s_file(e->dix, dem, &dem->refs, &dem->n_refs, &(s_filing){0});
    s_dem_unindex(e, dem);
    s_map_remove(&e->demands, did, NULL);
    s_dem_free(dem);
    return GX_OK;
}

/* ------------------------------------------------------------------ offer side */

/* What (re)evaluating one offer will do: per demand touched (old links merged
 * with new verdicts, by demand id) the new state, and the new link list. */
typedef struct s_oplan {
    s_steps st;  /* steps by demand id */
    s_link *l;   /* the new links */
    size_t n_l;  /* count */
    gx_keys keys; /* the offer's index keys (none when closing) */
    gx_sig sig;  /* and its signature */
} s_oplan;

static void s_oplan_fini(s_oplan *p)
{
    free(p->st.v);
    free(p->l);
    gx_keys_fini(&p->keys);
    memset(p, 0, sizeof *p);
}

/* Effect slots one pair change on dem may need: (UN)MATCH, NEAR_MISS and its
 * shortlist changes — one for the changed offer and one knock-on, unless a
 * lazy re-rank or a new K is pending, when the whole shortlist may turn over. */
static size_t s_fx_bound(const gx_engine *e, const s_dem *dem)
{
    if (dem->gen == e->gen && dem->k_pub == e->opts.shortlist_k)
        return 4;
    return 2 + (size_t)dem->k_pub + e->opts.shortlist_k;
}

/* Plans offer o (content to evaluate; NULL when closing) for entry off, with
 * room for extra_fx more effects. */
static gx_err s_oplan_build(gx_engine *e, const s_off *off, const gx_offer *o, int64_t now, size_t extra_fx,
                            gx_fxv *fx, s_oplan *p)
{
    gx_err err = GX_OK;
    size_t n_fx = extra_fx;
    s_steps hits = {0};
    const gx_firm *of = o ? s_firm_get(e, o->owner) : NULL;
    void *const *cv = NULL;
    size_t cn = 0;
    if (o) {
        if ((err = gx_terms_offer_keys(o, &p->keys)))
            goto out;
        gx_terms_offer_sig(&p->keys, of, &p->sig);
    }
    if (of && (err = s_demand_cands(e, o, &p->keys, &cv, &cn)))
        goto out;
    for (size_t i = 0; i < cn; i++) {
        s_dem *dem = cv[i];
        uint32_t kf;
        if (!gx_terms_plausible(&e->three, &dem->mask, &p->sig, &kf))
            continue;
        const gx_firm *df = dem->f;
        double score;
        gx_rule rule;
        int ns = df ? s_classify(e, &dem->d, df, o, of, now, kf, &score, &rule) : S_NONE;
        if (ns == S_NONE)
            continue;
        if ((err = S_GROW(hits.v, hits.cap, hits.n + 1)))
            goto out;
        hits.v[hits.n++] = (s_step){.id = dem->d.id, .p = dem, .score = score, .rule = rule, .ns = ns};
    }
    s_sort(hits.v, hits.n, sizeof *hits.v, s_cmp_step_id);
    /* merge with the old links; decide near-miss room; reserve */
    size_t i = 0, j = 0;
    while (i < hits.n || j < off->n_l) {
        s_step s;
        const s_link *ol = NULL;
        if (j >= off->n_l || (i < hits.n && hits.v[i].id < off->l[j].demand_id)) {
            s = hits.v[i++];
        } else if (i >= hits.n || off->l[j].demand_id < hits.v[i].id) {
            ol = &off->l[j++];
            s = (s_step){.id = ol->demand_id, .p = s_dem_get(e, ol->demand_id), .ns = S_NONE};
            if (!s.p)
                continue;
        } else {
            ol = &off->l[j++];
            s = hits.v[i++];
        }
        s_dem *dem = s.p;
        int os = !ol ? S_NONE : ol->rule == GX_RULE_NONE ? S_MATCH : S_NEAR;
        if (s.ns == S_NEAR && os != S_NEAR && dem->n_nm >= e->opts.near_miss_max)
            s.ns = S_NONE; /* no room: neither recorded nor reported */
        if (s.ns == S_NONE && os == S_NONE)
            continue;
        if (s.ns == S_MATCH && os != S_MATCH && (err = S_GROW(dem->m, dem->cap_m, dem->n_m + 1)))
            goto out;
        if (s.ns == S_NEAR && os != S_NEAR && (err = S_GROW(dem->nm, dem->cap_nm, dem->n_nm + 1)))
            goto out;
        if ((err = S_GROW(p->st.v, p->st.cap, p->st.n + 1)))
            goto out;
        p->st.v[p->st.n++] = s;
        n_fx += s_fx_bound(e, dem);
    }
    size_t n_keep = 0;
    for (i = 0; i < p->st.n; i++)
        n_keep += p->st.v[i].ns != S_NONE;
    if (n_keep && !(p->l = malloc(n_keep * sizeof *p->l))) {
        err = GX_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < p->st.n; i++) {
        const s_step *s = &p->st.v[i];
        if (s->ns != S_NONE)
            p->l[p->n_l++] = (s_link){
                .demand_id = s->id, .score = s->score, .rule = s->ns == S_MATCH ? GX_RULE_NONE : s->rule};
    }
    err = s_fx_reserve(fx, n_fx);
out:
    free(hits.v);
    return err;
}

/* Applies a plan for off (content already the new one). Cannot fail. */
static void s_oplan_commit(gx_engine *e, s_off *off, s_oplan *p, gx_reason cause, gx_fxv *fx)
{
    uint64_t oid = off->o.id;
    for (size_t i = 0; i < p->st.n; i++) {
        const s_step *s = &p->st.v[i];
        s_dem *dem = s->p;
        uint64_t did = dem->d.id;
        const s_link *ol = s_kfind(off->l, off->n_l, sizeof *off->l, did);
        int os = !ol ? S_NONE : ol->rule == GX_RULE_NONE ? S_MATCH : S_NEAR;
        bool sl = os == S_MATCH || s->ns == S_MATCH;
        if (sl) {
            s_snap(e, dem);
            s_refresh(e, dem); /* may re-score ol */
        }
        if (os == S_MATCH)
            s_m_remove(dem, oid, ol->score);
        if (s->ns == S_MATCH)
            s_m_insert(dem, oid, s->score);
        if (os == S_MATCH && s->ns != S_MATCH)
            s_emit_pair(fx, GX_FX_UNMATCH, did, oid, 0, cause);
        if (os != S_MATCH && s->ns == S_MATCH)
            s_emit_pair(fx, GX_FX_MATCH, did, oid, s->score, GX_REASON_NONE);
        if (sl)
            s_diff(e, dem, &oid, s->ns == S_MATCH, cause, fx);
        if (os == S_NEAR && s->ns != S_NEAR)
            s_kremove(dem->nm, &dem->n_nm, sizeof *dem->nm, oid);
        if (s->ns == S_NEAR) {
            s_near *nr = os == S_NEAR ? s_kfind(dem->nm, dem->n_nm, sizeof *dem->nm, oid) : NULL;
            bool fresh = !nr || nr->rule != s->rule;
            if (nr) {
                nr->rule = s->rule;
                nr->score = s->score;
            } else {
                s_near nn = {.offer_id = oid, .score = s->score, .rule = s->rule};
                s_kinsert(dem->nm, &dem->n_nm, sizeof *dem->nm, &nn);
            }
            if (fresh)
                s_emit_near(fx, did, &(s_near){.offer_id = oid, .score = s->score, .rule = s->rule});
        }
    }
    free(off->l);
    off->l = p->l;
    off->n_l = off->cap_l = p->n_l;
    p->l = NULL;
}

/* Re-evaluates a held offer: newo (taken, zeroed) replaces its content, or
 * NULL keeps it. */
static gx_err s_offer_reeval(gx_engine *e, s_off *off, gx_offer *newo, gx_reason cause, int64_t now,
                             gx_fxv *fx)
{
    s_oplan p = {0};
    s_filing f = {0};
    gx_err err;
    const gx_offer *o = newo ? newo : &off->o;
    if (!s_firm_get(e, o->owner))
        return GX_ERR_NOT_FOUND;
    if ((err = s_oplan_build(e, off, o, now, 0, fx, &p)))
        goto out;
    if (newo && ((err = s_off_kinds_reserve(e, off->o.kinds, newo->kinds)) ||
                 (err = s_offer_filing(e, newo, &p.keys, &p.sig, &f))))
        goto out;
    off->sig = p.sig; /* new content, or the same with its firm changed */
    if (newo) {
        s_off_kinds_move(e, off, off->o.kinds, newo->kinds);
        s_file(e->oix, off, &off->refs, &off->n_refs, &f);
        off->f = s_firm_get(e, newo->owner);
        gx_offer_fini(&off->o);
        off->o = *newo;
        memset(newo, 0, sizeof *newo);
    }
    s_oplan_commit(e, off, &p, cause, fx);
out:
    s_oplan_fini(&p);
    s_filing_fini(&f);
    return err;
}

static gx_err s_offer_close(gx_engine *e, s_off *off, gx_reason why, gx_fx first_fx, gx_fxv *fx)
{
    s_oplan p = {0};
    gx_err err = s_oplan_build(e, off, NULL, e->now, 1, fx, &p);
    if (err) {
        s_oplan_fini(&p);
        return err;
    }
    if (first_fx.type)
        s_emit(fx, first_fx);
    s_oplan_commit(e, off, &p, why, fx);
    s_oplan_fini(&p);
    s_off_kinds_move(e, off, off->o.kinds, 0);
    s_file(e->oix, off, &off->refs, &off->n_refs, &(s_filing){0});
    s_map_remove(&e->offers, off->o.id, NULL);
    s_off_free(off);
    return GX_OK;
}

/* ------------------------------------------------------------------ life cycle */

void gx_engine_opts_default(gx_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    gx_rules_opts_default(&o->rules);
    o->shortlist_k = 10;
    o->near_miss_max = 50;
}

static void s_td_free(char **td, size_t n)
{
    for (size_t i = 0; td && i < n; i++)
        free(td[i]);
    free(td);
}

/* Validates opts and copies the three districts into *td. */
static gx_err s_opts_copy(const gx_engine_opts *opts, char ***td)
{
    if (opts->shortlist_k < 1 || opts->shortlist_k > GX_ENGINE_K_MAX ||
        opts->near_miss_max > GX_ENGINE_NEAR_MISS_MAX)
        return GX_ERR_INVALID;
    size_t n = opts->rules.n_three_districts;
    *td = NULL;
    if (n == 0)
        return GX_OK;
    if (!opts->rules.three_districts)
        return GX_ERR_INVALID;
    char **v = calloc(n, sizeof *v);
    if (!v)
        return GX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(opts->rules.three_districts[i] ? opts->rules.three_districts[i] : ""))) {
            s_td_free(v, n);
            return GX_ERR_NOMEM;
        }
    *td = v;
    return GX_OK;
}

gx_err gx_engine_set_opts(gx_engine *e, const gx_engine_opts *opts)
{
    char **td;
    gx_err err = s_opts_copy(opts, &td);
    if (err)
        return err;
    if (opts->shortlist_k > e->k_scratch) {
        uint64_t *a = malloc(3 * (size_t)opts->shortlist_k * sizeof *a);
        if (!a) {
            s_td_free(td, opts->rules.n_three_districts);
            return GX_ERR_NOMEM;
        }
        free(e->snap);
        e->snap = a;
        e->sa = a + opts->shortlist_k;
        e->sb = a + 2 * (size_t)opts->shortlist_k;
        e->k_scratch = opts->shortlist_k;
    }
    s_td_free(e->td, e->opts.rules.n_three_districts);
    e->opts = *opts;
    e->td = td;
    e->opts.rules.three_districts = (const char *const *)td;
    memset(&e->three, 0, sizeof e->three);
    for (size_t i = 0; i < e->opts.rules.n_three_districts; i++)
        if (td[i])
            gx_sig_add(&e->three, 'd', td[i], strlen(td[i]));
    /* a firm's district depends on the three districts (gx_rules_district),
     * and so does the region key of every demand's mask; offers' signatures
     * hold both zone and county and need nothing */
    for (size_t i = 0; i < e->demands.cap; i++) {
        s_dem *dem = e->demands.s[i].val;
        if (dem)
            gx_terms_dmask(&e->opts.rules, &dem->d, dem->f, &dem->mask);
    }
    e->gen++;
    return GX_OK;
}

gx_err gx_engine_new(const gx_engine_opts *opts, gx_engine **out)
{
    *out = NULL;
    gx_engine *e = calloc(1, sizeof *e);
    if (!e)
        return GX_ERR_NOMEM;
    gx_err err = gx_index_new(s_off_refs, &e->oix);
    if (!err)
        err = gx_index_new(s_dem_refs, &e->dix);
    if (!err)
        err = gx_engine_set_opts(e, opts);
    if (err) {
        gx_engine_destroy(&e);
        return err;
    }
    *out = e;
    return GX_OK;
}

void gx_engine_destroy(gx_engine **ep)
{
    gx_engine *e = ep ? *ep : NULL;
    if (!e)
        return;
    for (size_t i = 0; i < e->demands.cap; i++)
        if (e->demands.s[i].val)
            s_dem_free(e->demands.s[i].val);
    for (size_t i = 0; i < e->offers.cap; i++)
        if (e->offers.s[i].val)
            s_off_free(e->offers.s[i].val);
    for (size_t i = 0; i < e->firms.cap; i++) {
        if (e->firms.s[i].val) {
            gx_firm_fini(e->firms.s[i].val);
            free(e->firms.s[i].val);
        }
    }
    for (size_t i = 0; i < e->subs.cap; i++)
        if (e->subs.s[i].val) {
            gx_sub_fini(e->subs.s[i].val);
            free(e->subs.s[i].val);
        }
    free(e->demands.s);
    free(e->offers.s);
    free(e->firms.s);
    free(e->subs.s);
    for (int k = 0; k < GX_KIND__COUNT; k++) {
        free(e->dk[k].v);
        free(e->ok[k].v);
    }
    free(e->snap);
    free(e->cand);
    gx_index_destroy(&e->oix);
    gx_index_destroy(&e->dix);
    s_td_free(e->td, e->opts.rules.n_three_districts);
    free(e);
    *ep = NULL;
}

/* ------------------------------------------------------------------ firms */

/* The sorted ids of the postings in map m (demands when is_dem) owned by
 * owner or, when owner is NULL, expired at now (expires_at 0 never expires). */
static gx_err s_collect(const s_map *m, bool is_dem, const char *owner, int64_t now, uint64_t **ids,
                        size_t *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const s_dem *dv = m->s[i].val;
        const s_off *ov = m->s[i].val;
        if (!dv)
            continue;
        int64_t at = is_dem ? dv->d.expires_at : ov->o.expires_at;
        if (owner ? strcmp(is_dem ? dv->d.owner : ov->o.owner, owner) != 0 : (at == 0 || at > now))
            continue;
        if (S_GROW(*ids, cap, *n + 1))
            return GX_ERR_NOMEM;
        (*ids)[(*n)++] = m->s[i].key;
    }
    s_sort(*ids, *n, sizeof **ids, s_cmp_u64);
    return GX_OK;
}

gx_err gx_engine_put_firm(gx_engine *e, const gx_firm *f, int64_t now, gx_fxv *fx)
{
    gx_firm nf = {0}, old = {0};
    uint64_t *dids = NULL, *oids = NULL;
    size_t nd = 0, no = 0;
    gx_err err;
    e->now = now;
    if (!f->id[0] || !memchr(f->id, '\0', sizeof f->id))
        return GX_ERR_INVALID;
    if ((err = gx_firm_copy(&nf, f)))
        return err;
    gx_firm *fe = s_firm_get(e, f->id);
    if (!fe) {
        if ((err = s_map_reserve(&e->firms, e->firms.n + 1)) || !(fe = calloc(1, sizeof *fe))) {
            err = GX_ERR_NOMEM;
            goto out;
        }
        *fe = nf;
        memset(&nf, 0, sizeof nf);
        s_map_insert(&e->firms, gx_fnv1a_str(GX_FNV_SEED, fe->id), fe);
        goto out;
    }
    if ((err = s_collect(&e->demands, true, f->id, 0, &dids, &nd)) ||
        (err = s_collect(&e->offers, false, f->id, 0, &oids, &no)))
        goto out;
    old = *fe;
    *fe = nf;
    memset(&nf, 0, sizeof nf);
    /* the firm is replaced now; a failure below leaves some pairs as they were */
    for (size_t i = 0; i < nd; i++) {
        s_dem *dem = s_dem_get(e, dids[i]);
        if (dem && (err = s_demand_reeval(e, dem, NULL, &old, GX_REASON_FIRM_CHANGED, now, fx)))
            goto out;
    }
    for (size_t i = 0; i < no; i++) {
        s_off *off = s_off_get(e, oids[i]);
        if (off && (err = s_offer_reeval(e, off, NULL, GX_REASON_FIRM_CHANGED, now, fx)))
            goto out;
    }
out:
    gx_firm_fini(&nf);
    gx_firm_fini(&old);
    free(dids);
    free(oids);
    return err;
}

void gx_engine_count_award(gx_engine *e, const char *firm_id)
{
    gx_firm *f = s_firm_get(e, firm_id);
    if (f && f->awards < UINT32_MAX)
        f->awards++;
}

/* ------------------------------------------------------------------ demands */

/* What every new demand must be: open, of a kind, owned by a held firm (its
 * firm in *fm), with an id not held yet. */
static gx_err s_demand_new(gx_engine *e, const gx_demand *d, gx_firm **fm)
{
    *fm = s_firm_get(e, d->owner);
    if (d->state != GX_STATE_OPEN || !s_kind_valid(d->kind))
        return GX_ERR_INVALID;
    if (!*fm)
        return GX_ERR_NOT_FOUND;
    return s_dem_get(e, d->id) ? GX_ERR_EXISTS : GX_OK;
}

gx_err gx_engine_add_demand(gx_engine *e, gx_demand *in, int64_t now, gx_fxv *fx)
{
    gx_demand d = *in;
    memset(in, 0, sizeof *in);
    s_dplan p = {0};
    s_filing f = {0};
    s_dem *dem = NULL;
    e->now = now;
    gx_firm *fm = NULL;
    gx_err err = s_demand_new(e, &d, &fm);
    if (!err && !(dem = calloc(1, sizeof *dem)))
        err = GX_ERR_NOMEM;
    if (!err && !(err = s_dplan_build(e, NULL, &d, fm, NULL, NULL, now, fx, &p)) &&
             !(err = s_map_reserve(&e->demands, e->demands.n + 1)) && !(err = s_demand_filing(e, &d, &f)))
        err = S_GROW(e->dk[d.kind].v, e->dk[d.kind].cap, e->dk[d.kind].n + 1);
    if (err)
        goto out;
    dem->d = d;
    dem->f = fm;
    gx_terms_dmask(&e->opts.rules, &dem->d, fm, &dem->mask);
    memset(&d, 0, sizeof d);
    dem->gen = e->gen;
    s_map_insert(&e->demands, dem->d.id, dem);
    dem->kpos = s_plist_push(&e->dk[dem->d.kind], dem);
    s_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
    s_dplan_commit(e, dem, &p, GX_REASON_NONE, fx);
    dem = NULL;
out:
    free(dem);
    s_dplan_fini(&p);
    s_filing_fini(&f);
    gx_demand_fini(&d);
    return err;
}

gx_err gx_engine_update_demand(gx_engine *e, gx_demand *in, int64_t now, gx_fxv *fx)
{
    gx_demand d = *in;
    memset(in, 0, sizeof *in);
    gx_err err;
    e->now = now;
    s_dem *dem = s_dem_get(e, d.id);
    if (d.state != GX_STATE_OPEN || !s_kind_valid(d.kind))
        err = GX_ERR_INVALID;
    else if (!dem || !s_firm_get(e, d.owner))
        err = GX_ERR_NOT_FOUND;
    else
        err = s_demand_reeval(e, dem, &d, s_firm_get(e, dem->d.owner), GX_REASON_DEMAND_CHANGED, now, fx);
    gx_demand_fini(&d);
    return err;
}

gx_err gx_engine_close_demand(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx)
{
    if (state != GX_STATE_AWARDED && state != GX_STATE_WITHDRAWN && state != GX_STATE_EXPIRED)
        return GX_ERR_INVALID;
    s_dem *dem = s_dem_get(e, id);
    if (!dem)
        return GX_ERR_NOT_FOUND;
    return s_demand_close(e, dem, (gx_fx){0}, fx);
}

/* ------------------------------------------------------------------ offers */

gx_err gx_engine_add_offer(gx_engine *e, gx_offer *in, int64_t now, gx_fxv *fx)
{
    gx_offer o = *in;
    memset(in, 0, sizeof *in);
    s_oplan p = {0};
    s_filing fl = {0};
    s_off *off = NULL;
    gx_err err;
    e->now = now;
    gx_firm *f = s_firm_get(e, o.owner);
    if (o.state != GX_STATE_OPEN)
        err = GX_ERR_INVALID;
    else if (!f)
        err = GX_ERR_NOT_FOUND;
    else if (s_off_get(e, o.id))
        err = GX_ERR_EXISTS;
    else if (!(off = calloc(1, sizeof *off)))
        err = GX_ERR_NOMEM;
    else if (!(err = s_oplan_build(e, off, &o, now, 0, fx, &p)) &&
             !(err = s_map_reserve(&e->offers, e->offers.n + 1)) && !(err = s_offer_filing(e, &o, &p.keys, &p.sig, &fl)))
        err = s_off_kinds_reserve(e, 0, o.kinds);
    if (err)
        goto out;
    off->o = o;
    off->f = f;
    memset(&o, 0, sizeof o);
    s_map_insert(&e->offers, off->o.id, off);
    s_off_kinds_move(e, off, 0, off->o.kinds);
    off->sig = fl.sig;
    s_file(e->oix, off, &off->refs, &off->n_refs, &fl);
    s_oplan_commit(e, off, &p, GX_REASON_NONE, fx);
    off = NULL;
out:
    free(off);
    s_oplan_fini(&p);
    s_filing_fini(&fl);
    gx_offer_fini(&o);
    return err;
}

gx_err gx_engine_update_offer(gx_engine *e, gx_offer *in, int64_t now, gx_fxv *fx)
{
    gx_offer o = *in;
    memset(in, 0, sizeof *in);
    gx_err err;
    e->now = now;
    s_off *off = s_off_get(e, o.id);
    if (o.state != GX_STATE_OPEN)
        err = GX_ERR_INVALID;
    else if (!off || !s_firm_get(e, o.owner))
        err = GX_ERR_NOT_FOUND;
    else
        err = s_offer_reeval(e, off, &o, GX_REASON_OFFER_UPDATED, now, fx);
    gx_offer_fini(&o);
    return err;
}

gx_err gx_engine_close_offer(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx)
{
    if (state != GX_STATE_WITHDRAWN && state != GX_STATE_EXPIRED)
        return GX_ERR_INVALID;
    s_off *off = s_off_get(e, id);
    if (!off)
        return GX_ERR_NOT_FOUND;
    return s_offer_close(e, off,
                         state == GX_STATE_EXPIRED ? GX_REASON_OFFER_EXPIRED : GX_REASON_OFFER_WITHDRAWN,
                         (gx_fx){0}, fx);
}

/* ------------------------------------------------------------------ subscriptions */

gx_err gx_engine_add_sub(gx_engine *e, gx_sub *in, int64_t now, gx_fxv *fx)
{
    gx_sub s = *in;
    memset(in, 0, sizeof *in);
    gx_sub *se = NULL;
    uint64_t *hits = NULL;
    size_t n = 0, cap = 0;
    gx_err err = GX_OK;
    e->now = now;
    if (!s_firm_get(e, s.owner))
        err = GX_ERR_NOT_FOUND;
    else if (s_map_get(&e->subs, s.id, NULL))
        err = GX_ERR_EXISTS;
    else if (!(se = malloc(sizeof *se)))
        err = GX_ERR_NOMEM;
    for (unsigned k = 1; !err && k < GX_KIND__COUNT; k++) {
        if (s.kinds && !s_serves(s.kinds, k))
            continue;
        for (size_t i = 0; !err && i < e->dk[k].n; i++) {
            const s_dem *dem = e->dk[k].v[i];
            const gx_firm *df = s_firm_get(e, dem->d.owner);
            if (df && s_sub_hit(e, &s, &dem->d, df) && !(err = S_GROW(hits, cap, n + 1)))
                hits[n++] = dem->d.id;
        }
    }
    if (!err && !(err = s_fx_reserve(fx, n)))
        err = s_map_reserve(&e->subs, e->subs.n + 1);
    if (err)
        goto out;
    s_sort(hits, n, sizeof *hits, s_cmp_u64);
    *se = s;
    memset(&s, 0, sizeof s);
    s_map_insert(&e->subs, se->id, se);
    for (size_t i = 0; i < n; i++)
        s_emit(fx, (gx_fx){.type = GX_FX_SUB_HIT, .demand_id = hits[i], .sub_id = se->id});
    se = NULL;
out:
    free(se);
    free(hits);
    gx_sub_fini(&s);
    return err;
}

gx_err gx_engine_remove_sub(gx_engine *e, uint64_t id)
{
    gx_sub *s = s_map_get(&e->subs, id, NULL);
    if (!s)
        return GX_ERR_NOT_FOUND;
    s_map_remove(&e->subs, id, NULL);
    gx_sub_fini(s);
    free(s);
    return GX_OK;
}

/* ------------------------------------------------------------------ expiry */

size_t gx_engine_expire(gx_engine *e, int64_t now, gx_fxv *fx)
{
    size_t closed = 0;
    bool ok = true;
    e->now = now;
    /* demands first, so closing their offers does not churn their shortlists */
    for (int pass = 0; pass < 2 && ok; pass++) {
        uint64_t *ids = NULL;
        size_t n = 0;
        ok = s_collect(pass == 0 ? &e->demands : &e->offers, pass == 0, NULL, now, &ids, &n) == GX_OK;
        for (size_t i = 0; ok && i < n; i++) {
            if (pass == 0) {
                gx_fx first = {.type = GX_FX_DEMAND_CLOSED, .demand_id = ids[i], .state = GX_STATE_EXPIRED};
                ok = s_demand_close(e, s_dem_get(e, ids[i]), first, fx) == GX_OK;
            } else {
                gx_fx first = {.type = GX_FX_OFFER_CLOSED, .offer_id = ids[i], .state = GX_STATE_EXPIRED};
                ok = s_offer_close(e, s_off_get(e, ids[i]), GX_REASON_OFFER_EXPIRED, first, fx) == GX_OK;
            }
            closed += ok;
        }
        free(ids);
    }
    return closed;
}

/* ------------------------------------------------------------------ queries */

const gx_firm *gx_engine_firm(const gx_engine *e, const char *id)
{
    return s_firm_get(e, id);
}

const gx_demand *gx_engine_demand(const gx_engine *e, uint64_t id)
{
    const s_dem *d = s_dem_get(e, id);
    return d ? &d->d : NULL;
}

const gx_offer *gx_engine_offer(const gx_engine *e, uint64_t id)
{
    const s_off *o = s_off_get(e, id);
    return o ? &o->o : NULL;
}

const gx_sub *gx_engine_sub(const gx_engine *e, uint64_t id)
{
    return s_map_get(&e->subs, id, NULL);
}

const gx_match *gx_engine_matches(const gx_engine *e, uint64_t demand_id, size_t *n)
{
    const s_dem *d = s_dem_get(e, demand_id);
    *n = d ? d->n_m : 0;
    return d ? d->m : NULL;
}

gx_err gx_engine_explain(const gx_engine *e, uint64_t demand_id, uint64_t offer_id, int64_t now,
                         gx_explain *out)
{
    const s_dem *d = s_dem_get(e, demand_id);
    const s_off *o = s_off_get(e, offer_id);
    const gx_firm *df = d ? s_firm_get(e, d->d.owner) : NULL, *of = o ? s_firm_get(e, o->o.owner) : NULL;
    if (!df || !of)
        return GX_ERR_NOT_FOUND;
    gx_rules_evaluate(&e->opts.rules, &d->d, df, &o->o, of, now, true, out);
    return GX_OK;
}

bool gx_engine_firm_matches(const gx_engine *e, uint64_t demand_id, const char *firm_id)
{
    const s_dem *d = s_dem_get(e, demand_id);
    for (size_t i = 0; d && i < d->n_m; i++) {
        const s_off *o = s_off_get(e, d->m[i].offer_id);
        if (o && strcmp(o->o.owner, firm_id) == 0)
            return true;
    }
    return false;
}

gx_err gx_engine_proposed_set(const gx_engine *e, uint64_t demand_id, int64_t now, uint64_t *ids, size_t cap,
                              size_t *n, double *coverage)
{
    const s_dem *dem = s_dem_get(e, demand_id);
    *n = 0;
    *coverage = 0;
    if (!dem)
        return GX_ERR_NOT_FOUND;
    if (!dem->d.splittable)
        return GX_OK;
    int64_t du = (int64_t)dem->d.needed_by - gx_date_of(now, e->opts.rules.utc_offset_min);
    double days = du > 0 ? (double)du : 0, q = dem->d.quantity, sum = 0;
    size_t limit = dem->d.max_suppliers ? s_min(cap, dem->d.max_suppliers) : cap;
    bool by_capacity = gx_rules_applies(dem->d.kind, GX_RULE_CAPACITY);
    for (size_t i = 0; i < dem->n_m && *n < limit && sum < q; i++) {
        const s_off *o = s_off_get(e, dem->m[i].offer_id);
        /* a licence is not produced by the month: one licensor grants all */
        double c = !o ? 0 : by_capacity ? o->o.monthly_capacity * days / 30.0 : q;
        if (!(c > 0))
            continue; /* contributes nothing to the quantity */
        ids[(*n)++] = dem->m[i].offer_id;
        sum += c;
    }
    *coverage = q > 0 ? sum / q : 1.0;
    return GX_OK;
}

size_t gx_engine_near_misses(const gx_engine *e, uint64_t demand_id, uint64_t *offer_ids, gx_rule *rules,
                             size_t cap)
{
    const s_dem *d = s_dem_get(e, demand_id);
    size_t n = d ? s_min(d->n_nm, cap) : 0;
    for (size_t i = 0; i < n; i++) {
        offer_ids[i] = d->nm[i].offer_id;
        rules[i] = d->nm[i].rule;
    }
    return n;
}

static void s_stats(const gx_engine *e, gx_engine_stats *out, bool by_rule);

void gx_engine_stats_get(const gx_engine *e, gx_engine_stats *out)
{
    s_stats(e, out, true);
}

void gx_engine_counts(const gx_engine *e, gx_engine_stats *out)
{
    s_stats(e, out, false);
}

static void s_stats(const gx_engine *e, gx_engine_stats *out, bool by_rule)
{
    memset(out, 0, sizeof *out);
    out->firms = e->firms.n;
    out->demands_open = e->demands.n;
    out->offers_open = e->offers.n;
    out->subs = e->subs.n;
    out->pairs_evaluated = e->pairs_evaluated;
    for (int k = 1; k < GX_KIND__COUNT; k++) {
        out->demands_by_kind[k] = e->dk[k].n;
        for (size_t i = 0; i < e->dk[k].n; i++) {
            const s_dem *d = e->dk[k].v[i];
            out->matches += d->n_m;
            out->near_misses += d->n_nm;
            out->demands_unmatched += d->n_m == 0;
            for (size_t j = 0; by_rule && j < d->n_nm; j++)
                if (d->nm[j].rule > GX_RULE_NONE && d->nm[j].rule < GX_RULE__COUNT)
                    out->near_misses_by_rule[d->nm[j].rule]++;
        }
    }
}

void gx_engine_each_demand(const gx_engine *e, gx_engine_demand_fn fn, void *ctx)
{
    for (int k = 1; k < GX_KIND__COUNT; k++)
        for (size_t i = 0; i < e->dk[k].n; i++) {
            const s_dem *d = e->dk[k].v[i];
            uint32_t by_rule[GX_RULE__COUNT] = {0};
            for (size_t j = 0; j < d->n_nm; j++)
                if (d->nm[j].rule > GX_RULE_NONE && d->nm[j].rule < GX_RULE__COUNT)
                    by_rule[d->nm[j].rule]++;
            fn(ctx, &d->d, d->f, d->n_m, by_rule);
        }
}

void gx_engine_each_offer(const gx_engine *e, gx_engine_offer_fn fn, void *ctx)
{
    for (size_t i = 0; i < e->offers.cap; i++) {
        const s_off *o = e->offers.s[i].val;
        if (o)
            fn(ctx, &o->o, o->f);
    }
}

const gx_near *gx_engine_near_list(const gx_engine *e, uint64_t demand_id, size_t *n)
{
    const s_dem *dem = s_dem_get(e, demand_id);
    *n = dem ? dem->n_nm : 0;
    return dem ? dem->nm : NULL;
}

gx_err gx_engine_restore_demand(gx_engine *e, gx_demand *in, const gx_match *m, size_t n_m, const gx_near *nm,
                                size_t n_nm, int64_t now)
{
    const gx_demand *d = in; /* taken only once nothing can fail */
    s_filing f = {0};
    s_dem *dem = NULL;
    e->now = now;
    gx_firm *fm = NULL;
    gx_err err = s_demand_new(e, d, &fm);
    /* The lists must be what an engine could hold: matches best first, near
     * misses by offer id, every offer held, serving the kind, in one list only,
     * and this demand after every demand the offers already link to. */
    uint64_t stamp = ++e->stamp; /* marks the offers seen, to refuse one listed twice */
    for (size_t i = 0; !err && i < n_m + n_nm; i++) {
        uint64_t oid = i < n_m ? m[i].offer_id : nm[i - n_m].offer_id;
        s_off *off = s_off_get(e, oid);
        if (!off || off->stamp == stamp || !s_serves(off->o.kinds, d->kind) ||
            (off->n_l && off->l[off->n_l - 1].demand_id >= d->id))
            err = GX_ERR_INVALID;
        else if (i < n_m && i > 0 && s_cmp_match(&m[i - 1], &m[i]) >= 0)
            err = GX_ERR_INVALID;
        else if (i > n_m && nm[i - n_m - 1].offer_id >= oid)
            err = GX_ERR_INVALID;
        else if (i >= n_m && (nm[i - n_m].rule <= GX_RULE_NONE || nm[i - n_m].rule >= GX_RULE__COUNT))
            err = GX_ERR_INVALID;
        else
            off->stamp = stamp;
    }
    if (!err && !(dem = calloc(1, sizeof *dem)))
        err = GX_ERR_NOMEM;
    if (!err && n_m && !(dem->m = malloc(n_m * sizeof *dem->m)))
        err = GX_ERR_NOMEM;
    if (!err && n_nm && !(dem->nm = malloc(n_nm * sizeof *dem->nm)))
        err = GX_ERR_NOMEM;
    for (size_t i = 0; !err && i < n_m + n_nm; i++) {
        s_off *off = s_off_get(e, i < n_m ? m[i].offer_id : nm[i - n_m].offer_id);
        err = S_GROW(off->l, off->cap_l, off->n_l + 1);
    }
    if (!err && !(err = s_map_reserve(&e->demands, e->demands.n + 1)) && !(err = s_demand_filing(e, d, &f)))
        err = S_GROW(e->dk[d->kind].v, e->dk[d->kind].cap, e->dk[d->kind].n + 1);
    if (err)
        goto out;
    /* nothing can fail from here */
    if (n_m)
        memcpy(dem->m, m, n_m * sizeof *m);
    dem->n_m = dem->cap_m = n_m;
    if (n_nm)
        memcpy(dem->nm, nm, n_nm * sizeof *nm);
    dem->n_nm = dem->cap_nm = n_nm;
    for (size_t i = 0; i < n_m + n_nm; i++) {
        s_link l = i < n_m ? (s_link){.demand_id = d->id, .score = m[i].score, .rule = GX_RULE_NONE}
                           : (s_link){.demand_id = d->id, .score = nm[i - n_m].score, .rule = nm[i - n_m].rule};
        s_off *off = s_off_get(e, i < n_m ? m[i].offer_id : nm[i - n_m].offer_id);
        off->l[off->n_l++] = l; /* demands come in id order: appending keeps the links sorted */
    }
    dem->d = *in;
    memset(in, 0, sizeof *in);
    dem->f = fm;
    gx_terms_dmask(&e->opts.rules, &dem->d, fm, &dem->mask);
    dem->gen = e->gen;
    dem->k_pub = e->opts.shortlist_k;
    s_map_insert(&e->demands, dem->d.id, dem);
    dem->kpos = s_plist_push(&e->dk[dem->d.kind], dem);
    s_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
    dem = NULL;
out:
    if (dem) {
        free(dem->m);
        free(dem->nm);
        free(dem);
    }
    s_filing_fini(&f);
    return err;
}
