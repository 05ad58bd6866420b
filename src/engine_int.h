/* engine_int.h — the matching engine's internals, shared by its files:
 * engine.c (the public calls: life cycle, firms, postings, queries),
 * engine_post.c (postings, their maps and the candidate index),
 * engine_list.c (held lists: shortlists, reserves and their refill; the plan
 * and apply of every change) and engine_near.c (near misses). Not a public
 * header.
 *
 * Layout. Firms, demands, offers and subscriptions sit in open-addressing hash
 * maps keyed by id (linear probing, backward-shift deletion, load <= 1/2). Each
 * open demand keeps its held list — its best 2K eligible offers — as a vector
 * sorted by score descending, then offer id ascending (the first K are the
 * shortlist), the number of its eligible offers, and its near misses sorted by
 * offer id. Each open offer keeps "links": the demands that hold it among
 * their best 2K, sorted by demand id (whether it is a demand's near miss is
 * read from that demand's list). Each demand and offer also remembers when its
 * pairs were last all judged, so that a pair can be judged again as it was
 * counted (gx_counted_at). */
#ifndef GX_ENGINE_INT_H
#define GX_ENGINE_INT_H

#include "engine.h"

#include "index.h"
#include "intern.h"
#include "prep.h"
#include "terms.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_NONE 0
#define S_MATCH 1 /* eligible; on an offer's side: and held by the demand */
#define S_NEAR 2
#define S_ELIG 3 /* eligible but not held (old states on an offer's side only) */

#define S_GROW(arr, cap, need) gx_grow(&(arr), &(cap), (need), sizeof *(arr))

/* ---- sorted vectors of elements that begin with their u64 key (ids, links,
 * near misses, plan steps), and effects */

/* Index of the first element whose leading u64 key is >= key, in an array of n
 * elements of size bytes sorted by that key. */
static inline size_t gx_sv_lower(const void *base, size_t n, size_t size, uint64_t key)
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

static inline int gx_sv_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* qsort that accepts an empty (possibly NULL) array. */
static inline void gx_sv_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* Sorted arrays of elements that begin with their u64 key (ids, links, near
 * misses, plan steps): find, insert (room reserved), remove. */
static inline void *gx_sv_find(const void *base, size_t n, size_t size, uint64_t key)
{
    size_t i = gx_sv_lower(base, n, size, key);
    uint64_t k = 0;
    if (i < n)
        memcpy(&k, (const char *)base + i * size, sizeof k);
    return i < n && k == key ? (char *)base + i * size : NULL;
}

static inline void gx_sv_insert(void *base, size_t *n, size_t size, const void *elem)
{
    uint64_t key;
    memcpy(&key, elem, sizeof key);
    char *p = (char *)base + gx_sv_lower(base, *n, size, key) * size;
    memmove(p + size, p, (size_t)((char *)base + *n * size - p));
    memcpy(p, elem, size);
    (*n)++;
}

static inline void gx_sv_remove(void *base, size_t *n, size_t size, uint64_t key)
{
    char *p = gx_sv_find(base, *n, size, key);
    if (p) {
        memmove(p, p + size, (size_t)((char *)base + (*n - 1) * size - p));
        (*n)--;
    }
}

static inline size_t gx_sv_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

static inline gx_err gx_fx_reserve(gx_fxv *fx, size_t more)
{
    if (!fx)
        return GX_OK;
    if (more > SIZE_MAX - fx->n)
        return GX_ERR_NOMEM;
    return S_GROW(fx->v, fx->cap, fx->n + more);
}

/* Appends one effect; room was reserved. */
static inline void gx_fx_emit(gx_fxv *fx, gx_fx f)
{
    if (!fx)
        return;
    assert(fx->n < fx->cap);
    if (fx->n < fx->cap)
        fx->v[fx->n++] = f;
}

static inline void gx_fx_pair(gx_fxv *fx, gx_fx_type t, uint64_t did, uint64_t oid, double score,
                              gx_reason why)
{
    gx_fx_emit(fx, (gx_fx){.type = t, .demand_id = did, .offer_id = oid, .score = score, .reason = why});
}

static inline bool gx_serves(uint32_t kinds, unsigned k)
{
    return (kinds & GX_BIT(k)) != 0;
}

static inline bool gx_kind_valid(gx_kind k)
{
    return k > GX_KIND_NONE && k < GX_KIND__COUNT;
}

/* ---- types */

typedef struct gx_eslot {
    uint64_t key; /* id, or hash of a firm id */
    void *val;    /* entry; NULL marks an empty slot */
} gx_eslot;

typedef struct gx_emap {
    gx_eslot *s; /* cap slots */
    size_t cap;  /* 0 or a power of two */
    size_t n;    /* occupied */
} gx_emap;

/* A firm as the engine holds it: the record, and its prepared form for the
 * rules (prep.h), which depends on the options' three districts. The firm
 * map and every gx_firm pointer the engine hands out point at f. */
typedef struct gx_efirm {
    gx_firm f;         /* first member: a gx_efirm is a gx_firm */
    gx_prep_firm prep; /* interned, for gx_rules_classify_prep */
} gx_efirm;

/* The prepared form of a firm the engine holds (or of a gx_efirm's copy). */
static inline const gx_prep_firm *gx_fprep(const gx_firm *f)
{
    return &((const gx_efirm *)(const void *)f)->prep;
}

/* A demand that holds an offer among its best 2K, in the offer's links (a
 * near miss is found in its demand's list instead: no link). */
typedef struct gx_elink {
    uint64_t demand_id; /* first member: sort key */
} gx_elink;

typedef struct gx_edem {
    uint64_t stamp;      /* last candidate search that saw it */
    gx_demand d;         /* the posting */
    gx_prep_demand prep; /* and its prepared form, for the rules */
    gx_match *m;         /* n_m held matches, best first (at most 2K) */
    size_t n_m, cap_m;   /* used, allocated */
    size_t n_elig;       /* eligible offers, held or not (>= n_m) */
    gx_near *nm;         /* n_nm near misses by offer id */
    size_t n_nm, cap_nm; /* used, allocated */
    size_t kpos;         /* index in the engine's list of its kind */
    unsigned k_pub;      /* shortlist length its last shortlist effects used */
    uint64_t gen;        /* options generation its scores were computed with */
    int64_t t_eval;      /* when its pairs were last all judged (added, changed, refilled) */
    const gx_firm *f;    /* its owner (firms are never freed before the engine) */
    gx_dmask mask;       /* its terms, for the candidate filter */
    gx_index_ref *refs;  /* n_refs places in the demand index */
    uint32_t n_refs;     /* count */
    uint32_t frz;        /* the freeze its lists were last handed out for (gx_engine_freeze) */
} gx_edem;

typedef struct gx_eoff {
    gx_sig sig;                  /* first, on one cache line with the next two: */
    uint64_t stamp;              /* what the candidate search reads */
    const gx_firm *f;            /* its owner */
    gx_offer o;                  /* the posting */
    gx_prep_offer prep;          /* and its prepared form, for the rules */
    gx_elink *l;                 /* n_l links by demand id: the demands holding it */
    size_t n_l, cap_l;           /* used, allocated */
    size_t kpos[GX_KIND__COUNT]; /* index in each kind's list it is in */
    gx_index_ref *refs;          /* n_refs places in the offer index */
    uint32_t n_refs;             /* count */
    uint64_t pend;               /* the firm change that last judged it again */
    int64_t t_eval;              /* when its pairs were last all judged (added, changed) */
} gx_eoff;

/* When the pair's verdict as counted was made: the later of the two times
 * its postings' pairs were all judged. Judging it again then gives that
 * verdict back exactly, whatever days have passed since. */
static inline int64_t gx_counted_at(const gx_edem *dem, const gx_eoff *off)
{
    return dem->t_eval > off->t_eval ? dem->t_eval : off->t_eval;
}

/* A plain pointer list with per-entry position tracking done by the caller. */
typedef struct gx_eplist {
    void **v;   /* n entries */
    size_t n;   /* used */
    size_t cap; /* allocated */
} gx_eplist;

struct gx_engine {
    gx_engine_opts opts;          /* copied; opts.rules.three_districts = td */
    char **td;                    /* owned copies of the three districts */
    gx_emap firms;                /* hash(id) -> gx_firm */
    gx_emap demands;              /* id -> gx_edem */
    gx_emap offers;               /* id -> gx_eoff */
    gx_emap subs;                 /* id -> gx_sub */
    gx_eplist dk[GX_KIND__COUNT]; /* open demands by kind */
    gx_eplist ok[GX_KIND__COUNT]; /* open offers by each kind they serve */
    uint64_t *snap, *sa, *sb;     /* shortlist diff scratch, k_scratch each, one block */
    size_t n_snap;                /* ids in snap */
    unsigned k_scratch;           /* largest K ever configured */
    uint64_t gen;                 /* bumped by set_opts: lazy re-rank */
    int64_t now;                  /* latest time given to a mutating call */
    gx_index *oix;                /* open offers by (kind, term family) */
    gx_index *dix;                /* open demands by (kind, term family) */
    gx_intern intern;             /* the ids of every term, code and place in a prepared record */
    uint64_t stamp;               /* candidate searches so far */
    gx_sig three;                 /* keys of the three districts */
    void **cand;                  /* candidate scratch: n_cand postings */
    size_t n_cand, cap_cand;      /* used, allocated */
    gx_match *rk;                 /* ranking scratch: n_rk eligible offers of one demand */
    size_t n_rk, cap_rk;          /* used, allocated */
    uint64_t pairs;               /* pairs evaluated */
    uint64_t refills;             /* held lists found again */
    uint64_t mut;                 /* mutating calls so far (for the firm-match cache) */
    uint64_t fm_did, fm_mut;      /* the demand and call the firm-match cache is for */
    const gx_firm *pend_f;        /* a firm whose offers are being judged again, */
    const gx_firm *pend_old;      /* as it was before the change, */
    uint64_t pend_mark;           /* the change's number (gx_eoff.pend) */
    struct s_fm {
        uint64_t h;         /* hash of the owner's id */
        const gx_eoff *off; /* an eligible offer of that owner */
    } * fm;                 /* n_fm, by h */
    size_t n_fm, cap_fm;    /* used, allocated */
    /* copy on first change (gx_engine_freeze): while frozen, a demand whose
     * frz differs from frz_no hands out its lists before they change */
    struct gx_eexp *exp;   /* when postings expire: a min-heap by time (engine.c) */
    size_t n_exp, cap_exp; /* used, allocated */
    bool exp_lost;         /* a push failed: the next sweep reads every posting */
    bool frozen;
    uint32_t frz_no;  /* the current (or last) freeze; new demands take it */
    uint64_t frz_gen; /* gen at the freeze: its lists' "ranked" */
    gx_engine_save_fn frz_save;
    void *frz_arg;
};

/* Before the lists of dem change or go: hands them out once per freeze. */
void gx_efrz_save(gx_engine *e, gx_edem *dem);

static inline void gx_efrz_touch(gx_engine *e, gx_edem *dem)
{
    if (e->frozen && dem->frz != e->frz_no)
        gx_efrz_save(e, dem);
}

/* A posting's expiry time in the heap; stale once the posting went or its
 * time changed (checked when it comes up). */
typedef struct gx_eexp {
    int64_t at;
    uint64_t id;
    bool is_dem;
} gx_eexp;

/* One verdict in a plan: the other side of the pair and what it became. */
typedef struct gx_estep {
    uint64_t id;  /* first member: the other posting's id, sort key */
    void *p;      /* the other posting: gx_edem or gx_eoff */
    double score; /* new score */
    gx_rule rule; /* new near-miss rule */
    int ns;       /* new state: S_NONE, S_MATCH, S_NEAR */
    int os;       /* offer side: old state (S_ELIG: eligible, not held) */
    bool held;    /* demand side: the match is among the best 2K */
} gx_estep;

typedef struct gx_esteps {
    gx_estep *v; /* n steps */
    size_t n;    /* used */
    size_t cap;  /* allocated */
} gx_esteps;

/* Where a posting will be filed: list numbers, created and reserved, and the
 * refs array to fill, allocated. */
typedef struct gx_efiling {
    uint32_t *lists;    /* n list numbers */
    gx_index_ref *refs; /* n refs, filled by gx_epost_file */
    uint32_t n;         /* count */
    gx_sig sig;         /* of the keys */
} gx_efiling;

/* The longest a held list grows: the shortlist and a reserve as long. */
static inline size_t gx_hmax(const gx_engine *e)
{
    return 2 * (size_t)e->opts.shortlist_k;
}

/* ---- engine_post.c: maps, postings, kind lists, the index, candidates */

void *gx_emap_get(const gx_emap *m, uint64_t key, const char *sid);

void gx_emap_insert(gx_emap *m, uint64_t key, void *val);

/* Makes room for n entries in all; the following inserts cannot fail. */
gx_err gx_emap_reserve(gx_emap *m, size_t n);

void gx_emap_remove(gx_emap *m, uint64_t key, const char *sid);

gx_firm *gx_epost_firm(const gx_engine *e, const char *id);

gx_edem *gx_epost_dem(const gx_engine *e, uint64_t id);

gx_eoff *gx_epost_off(const gx_engine *e, uint64_t id);

void gx_epost_dem_free(gx_edem *dem);

void gx_epost_off_free(gx_eoff *off);

int gx_epost_classify(gx_engine *e, const gx_prep_demand *d, const gx_firm *df, const gx_prep_offer *o,
                      const gx_firm *of, int64_t now, uint32_t known_fail, double *score, gx_rule *rule);

/* Appends p; returns its index. Room was reserved. */
size_t gx_epost_plist_push(gx_eplist *l, void *p);

void gx_epost_dem_unindex(gx_engine *e, gx_edem *dem);

/* Makes room in the kind lists for kinds of `to` that `from` (may be 0) lacks. */
gx_err gx_epost_kinds_reserve(gx_engine *e, uint32_t from, uint32_t to);

void gx_epost_kinds_move(gx_engine *e, gx_eoff *off, uint32_t from, uint32_t to);

gx_index_ref *gx_epost_off_refs(void *item, uint32_t *n);

gx_index_ref *gx_epost_dem_refs(void *item, uint32_t *n);

void gx_epost_filing_fini(gx_efiling *f);

/* Moves a posting from its old places (*refs, *n_refs) to the planned ones. */
void gx_epost_file(gx_index *ix, void *item, gx_index_ref **refs, uint32_t *n_refs, gx_efiling *f);

/* Plans filing offer o under its keys k (gx_terms_offer_keys), with signature sig. */
gx_err gx_epost_offer_filing(gx_engine *e, const gx_offer *o, const gx_keys *k, const gx_sig *sig,
                             gx_efiling *f);

gx_err gx_epost_demand_filing(gx_engine *e, const gx_demand *d, gx_efiling *f);

/* The open offers that may match demand d or be a near miss of it: those in
 * the family of its term rule with the shortest lists (every candidate must
 * pass that rule or be a relevant near miss on it) and plausible under its
 * mask, or, when d names no terms, every offer of its kind. *v is borrowed
 * until the next search. */
gx_err gx_epost_offer_cands(gx_engine *e, const gx_demand *d, const gx_dmask *mask, void *const **v,
                            size_t *n);

/* The open demands that offer o may match or nearly match: those filed under
 * any of its keys k, or under '*', in the kinds it serves. */
gx_err gx_epost_demand_cands(gx_engine *e, const gx_offer *o, const gx_keys *k, void *const **v, size_t *n);

/* Whether sub should hear of demand d of firm df: it passes the filters, is not
 * the subscriber's own, and neither firm is graded D. */
bool gx_epost_sub_hit(const gx_engine *e, const gx_sub *s, const gx_demand *d, const gx_firm *df);

/* ---- engine_list.c: held lists and the plan and apply of every change */

int gx_elist_cmp_match(const void *a, const void *b);

/* Every open offer eligible for dem at now, best first, into e->rk. */
gx_err gx_elist_rank_all(gx_engine *e, const gx_edem *dem, int64_t now);

/* Re-evaluates a held demand: newd (taken, zeroed) replaces its content, or
 * NULL keeps it; old_df is the demand firm as it was (for subscriptions). */
gx_err gx_elist_demand_reeval(gx_engine *e, gx_edem *dem, gx_demand *newd, const gx_firm *old_df,
                              gx_reason cause, int64_t now, gx_fxv *fx);

/* Removes a held demand, emitting UNMATCH (reason NONE) for its held matches;
 * first_fx (type 0 = none) is emitted before them. */
gx_err gx_elist_demand_close(gx_engine *e, gx_edem *dem, gx_fx first_fx, gx_fxv *fx);

/* Re-evaluates a held offer: newo (taken, zeroed) replaces its content, or
 * NULL keeps it; old_of is its firm as it was (NULL: as it is). */
gx_err gx_elist_offer_reeval(gx_engine *e, gx_eoff *off, gx_offer *newo, const gx_firm *old_of,
                             gx_reason cause, int64_t now, gx_fxv *fx);

gx_err gx_elist_offer_close(gx_engine *e, gx_eoff *off, gx_reason why, gx_fx first_fx, gx_fxv *fx);
gx_err gx_elist_demand_add(gx_engine *e, gx_demand *in, gx_firm *fm, int64_t now, gx_fxv *fx);
gx_err gx_elist_offer_add(gx_engine *e, gx_offer *in, gx_firm *f, int64_t now, gx_fxv *fx);

/* ---- engine_near.c: near misses */

/* Emits one NEAR_MISS for demand did. */
void gx_enear_emit(gx_fxv *fx, uint64_t did, const gx_near *nr);
bool gx_enear_room(const gx_engine *e, const gx_edem *dem);
size_t gx_enear_keep(const gx_engine *e, gx_esteps *st, size_t n_near);
void gx_enear_news(const gx_edem *dem, const gx_near *old, size_t n_old, gx_fxv *fx);
void gx_enear_step(gx_edem *dem, uint64_t oid, bool was, gx_rule rule, double score, gx_fxv *fx);
void gx_enear_by_rule(const gx_edem *dem, uint32_t by_rule[GX_RULE__COUNT]);

#endif
