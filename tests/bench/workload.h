/* workload.h — a deterministic, city-shaped workload for the benchmarks.
 *
 * Every firm, demand and offer is a pure function of (seed, index): the same
 * seed gives the same postings in every program (engine bench, end-to-end
 * load client, PostgreSQL client), in any order and from any thread, so a
 * benchmark can generate posting i without generating 0..i-1.
 *
 * The shape follows DESIGN.md: firms spread over the three districts of Hebi,
 * the rest of the city and the rest of Henan; industries and trades skewed to
 * the local chain (auto parts, magnesium, die casting, machining, electronics);
 * processes and materials from the shipped vocabulary, leaf terms mostly, with
 * their usual pairings; certifications held and required (ISO 9001 common,
 * IATF 16949 in auto parts); credit grades mostly A and B; quantities, needed-
 * by dates, lead times, capacities, prices and budgets in plausible ranges.
 * Every generated posting is valid input for a real gongxud with the embedded
 * vocabulary (a test checks it).
 *
 * Firm ids are valid USCCs (GB 32100 check character), unique within a seed.
 * Posting ids are left 0: the broker assigns them; the engine bench assigns its
 * own. Postings come as the broker would hold them after posting: state OPEN,
 * revision 1, created_at = now, original_quantity = quantity, codes already
 * canonical. Dates ("today", needed_by, certificate validity) are civil dates
 * at UTC+8. The shares and ranges are documented in workload.c and printed by
 * its test (tests/bench/test_workload.c).
 *
 * All three functions are pure and thread-safe; each takes a few microseconds.
 * They return GX_OK, GX_ERR_INVALID for bad arguments (opts NULL, fewer than
 * two firms, firm index out of range) or GX_ERR_NOMEM; on error *out is left
 * zeroed. */
#ifndef GX_WORKLOAD_H
#define GX_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct gx_wl_opts {
    uint64_t seed;  /* any value; 0 is a fine seed */
    size_t firms;   /* number of firms postings are spread over, >= 2 */
    int64_t now;    /* unix seconds: "today" for dates and expiry */
} gx_wl_opts;

/* Fills firm i (0 <= i < opts->firms) into *out (zeroed or fini'd first). */
gx_err gx_wl_firm(const gx_wl_opts *opts, size_t i, gx_firm *out);

/* Fills demand i (any i) into *out; its owner is one of the firms. */
gx_err gx_wl_demand(const gx_wl_opts *opts, uint64_t i, gx_demand *out);

/* Fills offer i (any i) into *out; its owner is one of the firms. */
gx_err gx_wl_offer(const gx_wl_opts *opts, uint64_t i, gx_offer *out);

#endif
