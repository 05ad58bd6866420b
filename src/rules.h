/* rules.h — the hard rules and the score for one demand/offer pair.
 *
 * DESIGN.md §3 in code: a pure function of the two postings, their firms and
 * the time. Every rule is evaluated (not short-circuited) when an explanation is
 * asked for, so the explanation and near-miss analysis see all failures.
 * No I/O, no global state; any thread. */
#ifndef GX_RULES_H
#define GX_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "msg.h"
#include "vocab.h"

typedef struct gx_rules_opts {
    double weights[GX_TERM__COUNT];      /* score weights, >= 0, not all zero */
    int utc_offset_min;                  /* "today" is the civil date at this offset */
    const char *const *three_districts;  /* districts of THREE_DISTRICTS scope (borrowed) */
    size_t n_three_districts;            /* count of three_districts */
    double distance_full_km;             /* distance term is 1 at 0 km, 0 at this; default 100 */
} gx_rules_opts;

/* The figures of a demand the rules read: all of it but its strings. */
typedef struct gx_dfig {
    gx_kind kind;           /* what is needed */
    gx_state state;         /* OPEN until awarded/withdrawn/expired */
    int64_t expires_at;     /* unix seconds, 0 = never */
    double quantity;        /* remaining quantity */
    int32_t needed_by;      /* days since epoch */
    bool has_budget;        /* budget_min/max valid */
    bool splittable;        /* may go to several suppliers */
    bool tech;              /* the technology rule applies (TECH_TRANSFER, IPC, TRL or modes) */
    double budget_min;      /* unit budget, CNY */
    double budget_max;      /* 0 = open-ended */
    gx_credit min_credit;   /* weakest acceptable supplier grade */
    gx_scope scope;         /* region scope */
    double max_distance_km; /* 0 = no limit */
    uint32_t min_trl;       /* 0 or 1..9 */
    uint32_t modes;         /* GX_BIT(gx_mode), 0 = any */
} gx_dfig;

/* The figures of an offer the rules read. */
typedef struct gx_ofig {
    uint32_t kinds;           /* GX_BIT(gx_kind) set served */
    gx_state state;           /* OPEN until withdrawn/expired */
    int64_t expires_at;       /* unix seconds, 0 = never */
    double monthly_capacity;  /* units per 30 days */
    double min_order;         /* minimum order quantity */
    uint32_t lead_time_days;  /* days from order to delivery */
    bool has_price;           /* price_min/max valid */
    double price_min;         /* unit price range, CNY */
    double price_max;         /* 0 = open-ended */
    gx_scope service_scope;   /* where it serves */
    double service_radius_km; /* 0 = no limit */
    uint32_t trl;             /* technology readiness */
    uint32_t modes;           /* GX_BIT(gx_mode) offered */
} gx_ofig;

/* The figures of a firm the rules read. */
typedef struct gx_ffig {
    gx_credit credit;  /* public credit grade */
    uint32_t awards;   /* track record */
    bool has_location; /* lat/lon valid */
    double lat, lon;   /* WGS 84 degrees */
} gx_ffig;

/* Copy the figures out of a posting or a firm (every field above). */
void gx_rules_dfig(const gx_demand *d, gx_dfig *out);
void gx_rules_ofig(const gx_offer *o, gx_ofig *out);
void gx_rules_ffig(const gx_firm *f, gx_ffig *out);

/* Fills o with the documented defaults (weights in README "Scoring"). */
void gx_rules_opts_default(gx_rules_opts *o);

/* True when the pair is never considered at all, not even as a near miss:
 * the same firm on both sides, or either firm graded D. */
bool gx_rules_excluded(const gx_firm *demand_firm, const gx_firm *offer_firm);

/* Evaluates every hard rule and the score of (d, o) at time now (unix seconds).
 * df/of are the owning firms (never NULL). When details is false, the detail
 * strings are left empty (the fast path used while matching); verdicts, terms
 * and score are identical either way. */
void gx_rules_evaluate(const gx_rules_opts *opts, const gx_demand *d, const gx_firm *df,
                       const gx_offer *o, const gx_firm *of, int64_t now, bool details,
                       gx_explain *out);

/* How a pair stands: not considered, eligible, or a near miss. */
typedef enum gx_pair { GX_PAIR_NONE = 0, GX_PAIR_MATCH, GX_PAIR_NEAR } gx_pair;

/* The matching fast path: MATCH (with *score) when every hard rule holds;
 * NEAR (with *score and the one failing *rule) when exactly one rule other than
 * KIND and VALIDITY fails and gx_rules_near_relevant holds; else NONE, also for
 * gx_rules_excluded pairs. Agrees with gx_rules_evaluate on every verdict and
 * score (the engine's property test checks it) but stops at the second failure
 * and writes no details. known_fail (GX_BIT(gx_rule) set) names rules the
 * caller has already proven to fail, which are then not evaluated; pass 0
 * when nothing is known. */
gx_pair gx_rules_classify(const gx_rules_opts *opts, const gx_demand *d, const gx_firm *df, const gx_offer *o,
                          const gx_firm *of, int64_t now, uint32_t known_fail, double *score, gx_rule *rule);

/* The words of explanations and hints: their language and where the names
 * of terms and places come from. English texts show ids and codes
 * ("casting.die", "410611"); Chinese ones the vocabulary's name_zh of each
 * (压铸, 淇滨区), or the id when the vocabulary has none. */
typedef struct gx_rules_words {
    gx_lang lang;          /* the language of the texts */
    const gx_vocab *vocab; /* names in lang (borrowed); NULL: ids */
} gx_rules_words;

/* gx_rules_evaluate with details, written in words' language (the texts of
 * src/data/messages/server.tsv, server.rule.*): verdicts, terms, score and
 * the figures are the same in every language; gx_rules_evaluate's details
 * are these in English. */
void gx_rules_explain(const gx_rules_opts *opts, const gx_rules_words *words, const gx_demand *d,
                      const gx_firm *df, const gx_offer *o, const gx_firm *of, int64_t now, gx_explain *out);

/* Prepared records (prep.h): the postings and firms with their strings as
 * interned ids. */
typedef struct gx_prep_demand gx_prep_demand;
typedef struct gx_prep_offer gx_prep_offer;
typedef struct gx_prep_firm gx_prep_firm;

/* gx_rules_classify on prepared records: the same verdict, the same *score
 * (the same double, bit for bit) and the same *rule as gx_rules_classify on
 * the postings and firms they were built from, at the same now and
 * known_fail, provided pdf and pof were built under opts' three districts and
 * every record with the same intern table. Compares no strings and allocates
 * nothing; any thread, as long as nothing rebuilds the records meanwhile. */
gx_pair gx_rules_classify_prep(const gx_rules_opts *opts, const gx_prep_demand *pd, const gx_prep_firm *pdf,
                               const gx_prep_offer *po, const gx_prep_firm *pof, int64_t now,
                               uint32_t known_fail, double *score, gx_rule *rule);

/* Whether a pair failing only rule `failed` is worth calling a near miss. For
 * PROCESS, MATERIAL and TECHNOLOGY the offer must work in the family of at
 * least one wanted term — cover its family (gx_rules_family_len: its parent,
 * "casting.die" for "casting.die.magnesium" or "magnesium" for
 * "magnesium.am60b"; the term itself when it has no parent, and for a process
 * two levels deep, since a top-level process is a whole trade) or, for IPC,
 * hold a code in its subclass (first 4 characters: "H01L" for "H01L 21/00"
 * or "H01L 21/02"; the class or section itself when that is what is wanted) —
 * so an anodiser is not a "near miss" for a die-casting demand; a TRL or mode
 * failure alone is always relevant, as is every other rule. This is also what
 * lets the engine's index find every near miss without scanning. */
bool gx_rules_near_relevant(const gx_demand *d, const gx_offer *o, gx_rule failed);

/* Length of the family prefix of a wanted term under rule r (MATERIAL: up to
 * its last dot, or all of it; PROCESS: the same when it has two or more dots,
 * else all of it; TECHNOLOGY: 4, 3 or 1 — subclass,
 * class or section — and 0 for an empty term). */
size_t gx_rules_family_len(gx_rule r, const char *want);

/* A one-line hint for an SME whose offer fails only rule r of e, e.g.
 * "add IATF16949 to qualify" or "lead time 30 d is 12 d too long". Writes into
 * buf (n bytes) and returns buf. */
const char *gx_rules_hint(const gx_explain *e, gx_rule r, char *buf, size_t n);

/* gx_rules_hint in words' language (server.hint.* of the catalogue), with the
 * names of terms, scopes and kinds in it; NULL words: English. e must be
 * explained in English (gx_rules_evaluate): the hint reads its values from
 * those details. Cut at a whole UTF-8 character when buf is short. */
const char *gx_rules_hint_in(const gx_explain *e, gx_rule r, const gx_rules_words *words, char *buf,
                             size_t n);

/* True when demand d of firm df passes subscription s's filters (kinds,
 * industry prefixes, process prefixes, districts). */
bool gx_rules_sub_matches(const gx_sub *s, const gx_demand *d, const gx_firm *df);

/* Great-circle distance in km between two WGS 84 points. */
double gx_rules_distance_km(double lat1, double lon1, double lat2, double lon2);

/* True when `have` satisfies `want` in a dotted hierarchy: equal, or `have`
 * is a descendant ("casting.die.magnesium" satisfies "casting.die"). */
bool gx_rules_term_covers(const char *have, const char *want);

/* True when IPC code `have` lies equal to or below `want` in the IPC
 * hierarchy, both in the canonical spelling of gx_vocab_ipc_normalize: a
 * section ("H"), class ("H01") or subclass ("H01L") covers every code that
 * starts with it; a main group ("H01L 21/00") covers itself and every
 * subgroup of it ("H01L 21/02", "H01L 21/027"); a subgroup covers only
 * itself, since which subgroups lie below another is given by indentation in
 * the IPC scheme, not by the numbers, and gongxu does not ship the scheme. */
bool gx_rules_ipc_covers(const char *have, const char *want);

/* Whether rule r applies to demands of this kind. MIN_ORDER and CAPACITY do
 * not apply to TECH_TRANSFER: a licence has no minimum order and is not
 * produced by the month (a technology offer may give 0 for both). Every other
 * rule applies to every kind. A rule that does not apply passes, its detail
 * "not applicable to tech_transfer: ...", and scores its term as 1. */
bool gx_rules_applies(gx_kind kind, gx_rule r);

/* A firm's district for the region rule and the engine's signatures: its
 * zone when that zone is one of opts' three districts (the development and
 * demonstration zones, districts in their own right), else its county —
 * whatever other park or cluster it sits in (a firm in a Qibin park is in
 * Qibin, 410611). Borrowed from f. */
const char *gx_rules_district(const gx_rules_opts *opts, const gx_firm *f);

/* Whether district (a county code or a zone id) is one of opts' three
 * districts. */
bool gx_rules_in_three(const gx_rules_opts *opts, const char *district);

#endif
