/* pick.h — which demands the post-to-notice benchmark posts, for gxload and
 * pg_bench alike (and pg_bench's `pick` mode).
 *
 * The rule: demand indexes N/2, N/2+1,
 * ... of the workload, in order, keeping each that has at least one eligible
 * offer among the preloaded offers 0 .. N/2-1, eligibility being src/rules.c
 * (defaults, the three districts 410611 / hebi.etdz / hebi.urdz) at time
 * wl->now. So every posted demand is matched, and both systems post the same
 * demands. Pure computation; any thread. */
#ifndef GX_BENCH_PICK_H
#define GX_BENCH_PICK_H

#include <stdbool.h>
#include <stdint.h>

#include "workload.h"

/* Fills out[0..count-1] with the picked demand indexes for a preload of
 * `preload` postings. Progress on stderr. 0, or -1 (message on stderr). */
int gxl_pick(const gx_wl_opts *wl, uint64_t preload, uint64_t count, uint64_t *out);

/* Cheap necessary conditions of eligibility: kind, process and material
 * coverage (src/rules.c's rules 1 and 2). */
bool gxl_quick(const gx_demand *d, const gx_offer *o);

#endif
