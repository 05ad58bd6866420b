/* engine.h — the matching engine: open postings, their shortlists and near misses.
 *
 * Holds every OPEN demand, offer and subscription and every registered firm,
 * and keeps, for each open demand, the best of its eligible offers ranked by
 * score — its top K (the shortlist) and a reserve, at most 2K in all, "the
 * held list" — the number of its eligible offers, and its near misses. Memory
 * grows with postings, not with eligible pairs: an offer links back only to
 * the demands that hold it. When a held list falls below K while more offers
 * are eligible, the engine finds them again through its index (a refill), as
 * for a new demand. Every change is applied through one call that reports what
 * it changed as effects (gx_fx) for the broker to turn into notices; the
 * engine itself knows nothing of ZeroMQ, LMDB, protobuf or who is told what.
 *
 * Invariants: the eligible offers of a demand are the open offers that passed
 * every hard rule at the last change touching the pair (the demand, the offer,
 * either firm) or the demand's last refill; the held list is the first of them
 * in rank order (score descending, then offer id ascending), all of them when
 * there are at most 2K, and at least min(K, eligible) of them unless a refill
 * ran out of memory (it is then retried at the demand's next change); closed
 * postings are not held.
 * A near miss is a pair failing exactly one hard rule other than KIND or
 * VALIDITY (pairs gx_rules_excluded never count); at most near_miss_max are
 * held per demand. Single-threaded: one engine belongs to one event loop. */
#ifndef GX_ENGINE_H
#define GX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rules.h"

typedef struct gx_engine gx_engine;

#define GX_ENGINE_K_MAX 1000            /* largest shortlist_k accepted */
#define GX_ENGINE_NEAR_MISS_MAX 10000   /* largest near_miss_max accepted */

/* What the engine's lists mean, as a number: bump it with every change to a
 * rule, the score, the near-miss test or what the lists hold. The broker's
 * engine snapshot records it and is not used under another one, so an upgraded
 * broker matches afresh exactly when the matching changed — and not when the
 * same code is merely rebuilt. */
#define GX_ENGINE_FORMAT 3

typedef struct gx_engine_opts {
    gx_rules_opts rules;     /* weights, time zone, three districts (copied) */
    unsigned shortlist_k;    /* shortlist length K, >= 1; default 10 */
    unsigned near_miss_max;  /* near misses kept per demand; default 50 */
} gx_engine_opts;

typedef enum gx_fx_type {
    GX_FX_MATCH = 1,        /* (demand_id, offer_id) became eligible; score */
    GX_FX_UNMATCH,          /* (demand_id, offer_id) no longer eligible; reason (a closed
                             * demand reports it for its held offers only) */
    GX_FX_SHORTLIST_ADD,    /* offer entered the demand's top K; rank, score */
    GX_FX_SHORTLIST_REMOVE, /* offer left the demand's top K; reason */
    GX_FX_NEAR_MISS,        /* pair newly fails exactly one rule; rule, score */
    GX_FX_SUB_HIT,          /* demand passes subscription sub_id's filters */
    GX_FX_DEMAND_CLOSED,    /* demand left OPEN by expiry; state */
    GX_FX_OFFER_CLOSED,     /* offer left OPEN by expiry; state */
} gx_fx_type;

/* One effect. Unused ids are 0. */
typedef struct gx_fx {
    gx_fx_type type;
    uint64_t demand_id;
    uint64_t offer_id;
    uint64_t sub_id;
    double score;      /* MATCH, SHORTLIST_ADD, NEAR_MISS */
    uint32_t rank;     /* SHORTLIST_ADD: 1-based */
    gx_rule rule;      /* NEAR_MISS: the failing rule */
    gx_reason reason;  /* UNMATCH, SHORTLIST_REMOVE */
    gx_state state;    /* *_CLOSED */
} gx_fx;

/* A caller-owned growable list of effects. Zero-initialise; gx_fxv_fini frees. */
typedef struct gx_fxv {
    gx_fx *v;     /* n effects in the order they happened */
    size_t n;     /* used */
    size_t cap;   /* allocated */
} gx_fxv;
void gx_fxv_fini(gx_fxv *fx);

/* One ranked entry of a demand's matches. */
typedef struct gx_match {
    uint64_t offer_id;
    double score;
} gx_match;

/* One near miss of a demand. */
typedef struct gx_near {
    uint64_t offer_id; /* first member: the sort key */
    double score;      /* score when recorded */
    gx_rule rule;      /* the one failing rule */
} gx_near;

typedef struct gx_engine_stats {
    uint64_t firms, demands_open, offers_open, subs;
    uint64_t matches;                        /* eligible pairs (sum of the demands' counts) */
    uint64_t held;                           /* of which held in shortlists and reserves */
    uint64_t refills;                        /* held lists found again through the index */
    uint64_t pairs_evaluated;                /* pairs whose rules ran, since the engine began */
    uint64_t near_misses;                    /* near-miss pairs held */
    uint64_t demands_unmatched;              /* open demands with no match */
    uint64_t demands_by_kind[GX_KIND__COUNT];
    uint64_t near_misses_by_rule[GX_RULE__COUNT];
} gx_engine_stats;

/* Defaults: K 10, near_miss_max 50, gx_rules_opts_default. */
void gx_engine_opts_default(gx_engine_opts *o);

/* New empty engine; opts are copied (three_districts strings too).
 * GX_ERR_INVALID when shortlist_k is 0 or above GX_ENGINE_K_MAX, or
 * near_miss_max is above GX_ENGINE_NEAR_MISS_MAX (likewise set_opts). */
gx_err gx_engine_new(const gx_engine_opts *opts, gx_engine **out);
void gx_engine_destroy(gx_engine **e);

/* Replaces weights and K at run time (config reload; options equal to the
 * current ones change nothing); each held list is found
 * again through the index (re-ranked) at its demand's next change. New three districts take effect for every
 * pair evaluated from then on (which pairs match is not recomputed here). */
gx_err gx_engine_set_opts(gx_engine *e, const gx_engine_opts *opts);

/* In every mutating call below: `now` is unix seconds; fx may be NULL to
 * discard effects (used when loading from the store at start); on
 * GX_ERR_NOMEM the engine is left consistent but may have lost the change. */

/* Creates or replaces a firm (copied). When it replaces one, the firm's open
 * postings are re-evaluated (credit grade or certifications may have changed),
 * with FIRM_CHANGED as the reason of any removal. */
gx_err gx_engine_put_firm(gx_engine *e, const gx_firm *f, int64_t now, gx_fxv *fx);

/* Adds an OPEN demand. Takes ownership of *d's contents and zeroes *d.
 * Its owner firm must exist (GX_ERR_NOT_FOUND), its id must be new
 * (GX_ERR_EXISTS). Emits MATCH, SHORTLIST_ADD, NEAR_MISS and SUB_HIT. */
gx_err gx_engine_add_demand(gx_engine *e, gx_demand *d, int64_t now, gx_fxv *fx);

/* Replaces an open demand with the same id (ownership as add). Emits MATCH /
 * UNMATCH(DEMAND_CHANGED), SHORTLIST_ADD / SHORTLIST_REMOVE(DEMAND_CHANGED),
 * NEAR_MISS for pairs newly near, SUB_HIT for subscriptions newly passed. */
gx_err gx_engine_update_demand(gx_engine *e, gx_demand *d, int64_t now, gx_fxv *fx);

/* Removes an open demand (state: AWARDED, WITHDRAWN or EXPIRED). Emits
 * UNMATCH for each of its matches with reason NONE. GX_ERR_NOT_FOUND if not held. */
gx_err gx_engine_close_demand(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx);

/* Adds an OPEN offer (ownership as add_demand). Emits MATCH, SHORTLIST_ADD
 * (and SHORTLIST_REMOVE(DISPLACED) for what it pushes out), NEAR_MISS. */
gx_err gx_engine_add_offer(gx_engine *e, gx_offer *o, int64_t now, gx_fxv *fx);

/* Replaces an open offer. Pairs that stop matching: UNMATCH and, if
 * shortlisted, SHORTLIST_REMOVE(OFFER_UPDATED) followed by the SHORTLIST_ADD of
 * the entry that moves up. */
gx_err gx_engine_update_offer(gx_engine *e, gx_offer *o, int64_t now, gx_fxv *fx);

/* Removes an open offer (WITHDRAWN or EXPIRED): UNMATCH, SHORTLIST_REMOVE with
 * OFFER_WITHDRAWN / OFFER_EXPIRED, and the SHORTLIST_ADD of each replacement. */
gx_err gx_engine_close_offer(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx);

/* Adds a subscription (ownership as add_demand): SUB_HIT for every open demand
 * it passes. Removing emits nothing. */
gx_err gx_engine_add_sub(gx_engine *e, gx_sub *s, int64_t now, gx_fxv *fx);
gx_err gx_engine_remove_sub(gx_engine *e, uint64_t id);

/* Closes every posting whose expires_at <= now, as close_* with EXPIRED, and
 * emits DEMAND_CLOSED / OFFER_CLOSED for each. Returns the number closed; out
 * of memory it stops early (the rest close at a later call). */
size_t gx_engine_expire(gx_engine *e, int64_t now, gx_fxv *fx);

/* Records an award for the track record of firm_id (awards + 1). Held scores
 * take it into account when their pairs are next re-evaluated. */
void gx_engine_count_award(gx_engine *e, const char *firm_id);

/* ---- queries; results are borrowed until the next mutating call */
const gx_firm *gx_engine_firm(const gx_engine *e, const char *id);
const gx_demand *gx_engine_demand(const gx_engine *e, uint64_t id);
const gx_offer *gx_engine_offer(const gx_engine *e, uint64_t id);
const gx_sub *gx_engine_sub(const gx_engine *e, uint64_t id);

/* The held list of an open demand: *n entries, best first (the shortlist is
 * the first min(*n, K)). NULL with *n 0 when the demand is not held. */
const gx_match *gx_engine_matches(const gx_engine *e, uint64_t demand_id, size_t *n);

/* The number of eligible offers of an open demand as kept (see the invariant
 * above: a pair counts as it stood at its last change); 0 when not held. */
size_t gx_engine_eligible(const gx_engine *e, uint64_t demand_id);

/* True when an open demand's held list was ranked under the current options
 * (after set_opts, false until its next change re-ranks it): a snapshot keeps
 * only such lists, and a start matches the others afresh. */
bool gx_engine_ranked(const gx_engine *e, uint64_t demand_id);

/* Every open offer eligible for demand_id at now, best first, found afresh
 * through the index (the cost of one new demand's search): the exact count a
 * reader is told, and ranks beyond the held list. *m is borrowed until the
 * next call into the engine. GX_ERR_NOT_FOUND when the demand is not held. */
gx_err gx_engine_rank(gx_engine *e, uint64_t demand_id, int64_t now, const gx_match **m, size_t *n);

/* Full explanation (with details) of any demand/offer pair held, eligible or
 * not. GX_ERR_NOT_FOUND when either is not held. */
gx_err gx_engine_explain(const gx_engine *e, uint64_t demand_id, uint64_t offer_id, int64_t now,
                         gx_explain *out);

/* True when some open offer of firm_id matches demand_id at now (its held list
 * first, then the firm's own open offers). */
bool gx_engine_firm_matches(gx_engine *e, uint64_t demand_id, const char *firm_id, int64_t now);

/* For a splittable demand: greedily the best-scored matches (the held list,
 * then, when that is not enough, every eligible offer found through the index) whose capacity
 * until needed-by covers the remaining quantity, at most max_suppliers (0 = no
 * limit) and at most cap; for a TECH_TRANSFER demand, where capacity does not
 * apply (gx_rules_applies), the best match alone covers it. Writes up to cap
 * offer ids into ids, their count into *n and capacity/quantity into
 * *coverage (may be < 1 when not coverable). GX_ERR_NOT_FOUND when the demand
 * is not held; *n 0 when not splittable. */
gx_err gx_engine_proposed_set(gx_engine *e, uint64_t demand_id, int64_t now, uint64_t *ids,
                              size_t cap, size_t *n, double *coverage);

/* Near misses of an open demand: up to cap (offer_id, rule) pairs. */
size_t gx_engine_near_misses(const gx_engine *e, uint64_t demand_id, uint64_t *offer_ids,
                             gx_rule *rules, size_t cap);

void gx_engine_stats_get(const gx_engine *e, gx_engine_stats *out);
/* Pairs whose rules ran since the engine began (stats' pairs_evaluated, in
 * constant time): what a read that searches costs. */
uint64_t gx_engine_pairs(const gx_engine *e);
/* The same without near_misses_by_rule (left 0), which costs a look at every
 * near miss: for metrics scrapes. */
void gx_engine_counts(const gx_engine *e, gx_engine_stats *out);

/* ---- saving and restoring the match state (snapshot.h writes it to a file) */

/* The near misses of an open demand, by offer id (*n of them; NULL when the
 * demand is not held). Borrowed until the next mutating call. */
const gx_near *gx_engine_near_list(const gx_engine *e, uint64_t demand_id, size_t *n);

/* Adds an OPEN demand with the held list, eligible count and near misses an
 * engine held for it (gx_engine_matches order: score descending, then offer
 * id; near misses by offer id), without evaluating a pair and without
 * effects: a restart from a snapshot. n_elig must be at least n_m, and n_m at
 * most 2K. Its offers must be held already, and demands must be restored in
 * increasing id order after every offer. GX_ERR_INVALID when the lists could
 * not be an engine's (an offer not held or not serving the kind, a list out
 * of order, an offer twice): the caller then rebuilds by matching. *d is taken
 * (and zeroed) only on GX_OK; on any error it stays the caller's, so that it
 * can still be added by gx_engine_add_demand. */
gx_err gx_engine_restore_demand(gx_engine *e, gx_demand *d, const gx_match *m, size_t n_m, size_t n_elig,
                                const gx_near *nm, size_t n_nm, int64_t now);

/* ---- copy on first change: a snapshot written over many loop turns
 * (snapshot.h's writer) sees every list as it was at one moment.
 *
 * From gx_engine_freeze until gx_engine_thaw, the first change to the lists
 * of a demand open at the freeze, or its removal, first hands those lists,
 * as they were at the freeze, to save(arg, ...). gx_engine_frozen_take hands
 * out the lists of a demand not handed out yet. Either way each such demand
 * is handed out exactly once; a demand added after the freeze never is. The
 * cost is one comparison per change; nothing is copied until something
 * changes. One freeze at a time. */
typedef struct gx_engine_lists {
    uint64_t demand_id;
    const gx_match *m; /* n_m held, best first */
    size_t n_m;
    size_t n_elig;     /* eligible count (gx_engine_eligible) */
    const gx_near *nm; /* n_nm near misses by offer id */
    size_t n_nm;
    bool ranked; /* ranked under the options of the freeze (gx_engine_ranked then) */
} gx_engine_lists;

typedef void (*gx_engine_save_fn)(void *arg, const gx_engine_lists *l);

/* Freezes e; *ids (malloc'd, the caller's) gets the *n demands open now, in
 * no useful order: each is handed out once, by save or gx_engine_frozen_take.
 * O(open demands) reading ids only. GX_ERR_NOMEM, or GX_ERR_CONFLICT when
 * frozen already. */
gx_err gx_engine_freeze(gx_engine *e, gx_engine_save_fn save, void *arg, uint64_t **ids, size_t *n);

/* The lists of demand_id as at the freeze, when they were not handed out yet
 * (they are now): true. False when they were, or it came after the freeze. */
bool gx_engine_frozen_take(gx_engine *e, uint64_t demand_id, gx_engine_lists *out);

/* Ends the freeze (a no-op when not frozen). */
void gx_engine_thaw(gx_engine *e);

/* Visits every open demand (by kind, in no useful order) with its number of
 * eligible offers (gx_engine_eligible) and how many of its near misses failed each rule; and every open
 * offer once. For operator reports: O(open postings). */
typedef void (*gx_engine_demand_fn)(void *ctx, const gx_demand *d, const gx_firm *owner, size_t n_matches,
                                    const uint32_t nm_by_rule[GX_RULE__COUNT]);
typedef void (*gx_engine_offer_fn)(void *ctx, const gx_offer *o, const gx_firm *owner);
void gx_engine_each_demand(const gx_engine *e, gx_engine_demand_fn fn, void *ctx);
void gx_engine_each_offer(const gx_engine *e, gx_engine_offer_fn fn, void *ctx);

#endif
