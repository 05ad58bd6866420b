/* engine_near.c — near misses.
 *
 * A pair is a near miss when it fails exactly one hard rule, that rule is
 * neither KIND (another trade entirely) nor VALIDITY (a posting about to
 * expire), and the offer is relevant to it (gx_rules_near_relevant: on a
 * process, material or technology failure it works in the same family).
 * Pairs excluded by gx_rules_excluded (same firm, or a firm graded D) are
 * never evaluated. At most near_miss_max are kept per demand, every one of
 * them (unlike matches, of which only the best 2K are held), in the demand's
 * list only (an offer that changes looks itself up there); when a demand is
 * (re)evaluated the best-scored ones are kept, and
 * a near miss arriving at a full demand is neither recorded nor reported. */
#include "engine_int.h"

void gx_enear_emit(gx_fxv *fx, uint64_t did, const gx_near *nr)
{
    gx_fx f = {.type = GX_FX_NEAR_MISS, .demand_id = did, .offer_id = nr->offer_id, .score = nr->score};
    f.rule = nr->rule;
    gx_fx_emit(fx, f);
}

static int s_cmp_step_near(const void *a, const void *b)
{
    const gx_estep *x = a, *y = b;
    if (x->ns != y->ns) /* near misses first */
        return x->ns == S_NEAR ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether a near miss not held yet may be recorded for dem. */
bool gx_enear_room(const gx_engine *e, const gx_edem *dem)
{
    return dem->n_nm < e->opts.near_miss_max;
}

/* Keeps, of a demand's planned steps (n_near of them near misses), the
 * near_miss_max best-scored near misses; returns how many are kept. The
 * steps are left in no useful order. */
size_t gx_enear_keep(const gx_engine *e, gx_esteps *st, size_t n_near)
{
    size_t max = e->opts.near_miss_max;
    if (n_near <= max)
        return n_near;
    gx_sv_sort(st->v, st->n, sizeof *st->v, s_cmp_step_near);
    memmove(st->v + max, st->v + n_near, (st->n - n_near) * sizeof *st->v);
    st->n -= n_near - max;
    return max;
}

/* Emits NEAR_MISS for each near miss of dem that is new or fails another
 * rule than in old (n_old of them, by offer id). */
void gx_enear_news(const gx_edem *dem, const gx_near *old, size_t n_old, gx_fxv *fx)
{
    for (size_t i = 0; i < dem->n_nm; i++) {
        const gx_near *nr = &dem->nm[i];
        const gx_near *was = gx_sv_find(old, n_old, sizeof *old, nr->offer_id);
        if (!was || was->rule != nr->rule)
            gx_enear_emit(fx, dem->d.id, nr);
    }
}

/* One offer's pair with dem, as a near miss: was (held as one before) and
 * rule (GX_RULE_NONE: not one now; else the failing rule, with score).
 * Records, moves or drops it and emits NEAR_MISS when it is news. Room was
 * reserved for a new one. */
void gx_enear_step(gx_edem *dem, uint64_t oid, bool was, gx_rule rule, double score, gx_fxv *fx)
{
    if (was && rule == GX_RULE_NONE) {
        gx_sv_remove(dem->nm, &dem->n_nm, sizeof *dem->nm, oid);
        return;
    }
    if (rule == GX_RULE_NONE)
        return;
    gx_near *nr = was ? gx_sv_find(dem->nm, dem->n_nm, sizeof *dem->nm, oid) : NULL;
    gx_near nn = {.offer_id = oid, .score = score, .rule = rule};
    bool fresh = !nr || nr->rule != rule;
    if (nr)
        *nr = nn;
    else
        gx_sv_insert(dem->nm, &dem->n_nm, sizeof *dem->nm, &nn);
    if (fresh)
        gx_enear_emit(fx, dem->d.id, &nn);
}

/* Adds to by_rule how many of dem's near misses fail each rule. */
void gx_enear_by_rule(const gx_edem *dem, uint32_t by_rule[GX_RULE__COUNT])
{
    for (size_t j = 0; j < dem->n_nm; j++)
        if (dem->nm[j].rule > GX_RULE_NONE && dem->nm[j].rule < GX_RULE__COUNT)
            by_rule[dem->nm[j].rule]++;
}
