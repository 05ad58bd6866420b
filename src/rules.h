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

typedef struct gx_rules_opts {
    double weights[GX_TERM__COUNT];      /* score weights, >= 0, not all zero */
    int utc_offset_min;                  /* "today" is the civil date at this offset */
    const char *const *three_districts;  /* districts of THREE_DISTRICTS scope (borrowed) */
    size_t n_three_districts;            /* count of three_districts */
    double distance_full_km;             /* distance term is 1 at 0 km, 0 at this; default 100 */
} gx_rules_opts;

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

/* A one-line hint for an SME whose offer fails only rule r of e, e.g.
 * "add IATF16949 to qualify" or "lead time 30 d is 12 d too long". Writes into
 * buf (n bytes) and returns buf. */
const char *gx_rules_hint(const gx_explain *e, gx_rule r, char *buf, size_t n);

/* True when demand d of firm df passes subscription s's filters (kinds,
 * industry prefixes, process prefixes, districts). */
bool gx_rules_sub_matches(const gx_sub *s, const gx_demand *d, const gx_firm *df);

/* Great-circle distance in km between two WGS 84 points. */
double gx_rules_distance_km(double lat1, double lon1, double lat2, double lon2);

/* True when `have` satisfies `want` in a dotted hierarchy: equal, or `have`
 * is a descendant ("casting.die.magnesium" satisfies "casting.die"). */
bool gx_rules_term_covers(const char *have, const char *want);

#endif
