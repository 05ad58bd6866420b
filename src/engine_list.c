/* engine_list.c — held lists: each open demand's shortlist and reserve, its
 * eligible count, and the plan and apply of every change to them.
 *
 * A demand holds its best 2K eligible offers. A new offer that matches is
 * held when it ranks before the last held entry, or after it while every
 * eligible offer is held and there is room; a list grown past 2K drops its
 * last entry. A list that falls below K while more offers are eligible is
 * found again through the index (a refill), as for a new demand, and so is a
 * list whose scores are from older options. The count is kept as pairs come
 * and go: a leaving offer's pairs with demands that do not hold it are found
 * by matching its old content through the index (skipping demands that hold
 * every eligible offer), so the count never needs every pair held.
 *
 * Every mutating call plans first and applies second: it evaluates, allocates
 * every array and reserves every effect slot it will need, and only then
 * changes state, with nothing left that can fail — but a refill, which is
 * allowed to fail (the list then stays a valid prefix of the ranking, short,
 * until the demand's next change). So GX_ERR_NOMEM leaves the engine exactly
 * as it was (put_firm excepted: it applies the firm, then re-evaluates
 * posting by posting, and stops at the first failure).
 *
 * Effect order, per demand touched (demands in id order): MATCH / UNMATCH,
 * then shortlist changes — first the one concerning the offer that changed,
 * then knock-on removals in old rank order, then additions in new rank order —
 * then NEAR_MISS, then SUB_HIT (subscriptions in id order). Adding or updating
 * a demand emits UNMATCH in old rank order and MATCH in new rank order. A
 * shortlist removal carries the cause's reason when the pair stopped matching
 * or the demand itself changed, DISPLACED when a still-eligible offer was
 * pushed below rank K. */
#include "engine_int.h"

static size_t s_m_pos(const gx_edem *dem, double score, uint64_t id)
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
static void s_m_insert(gx_edem *dem, uint64_t id, double score)
{
    assert(dem->n_m < dem->cap_m);
    size_t i = s_m_pos(dem, score, id);
    memmove(dem->m + i + 1, dem->m + i, (dem->n_m - i) * sizeof *dem->m);
    dem->m[i] = (gx_match){.offer_id = id, .score = score};
    dem->n_m++;
}

/* Removes a held match, found by id: a held list is at most 2K long, and its
 * offers' links need not keep the scores it is sorted by. */
static void s_m_remove(gx_edem *dem, uint64_t id)
{
    size_t i = 0;
    while (i < dem->n_m && dem->m[i].offer_id != id)
        i++;
    assert(i < dem->n_m); /* a link as a match means held */
    if (i >= dem->n_m)
        return;
    memmove(dem->m + i, dem->m + i + 1, (dem->n_m - i - 1) * sizeof *dem->m);
    dem->n_m--;
}

int gx_elist_cmp_match(const void *a, const void *b)
{
    const gx_match *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->offer_id < y->offer_id ? -1 : x->offer_id > y->offer_id;
}

/* Remembers the shortlist as last published, before a change to it. */
static void s_snap(gx_engine *e, const gx_edem *dem)
{
    e->n_snap = gx_sv_min(dem->n_m, dem->k_pub);
    for (size_t i = 0; i < e->n_snap; i++)
        e->snap[i] = dem->m[i].offer_id;
}

static void s_emit_add(gx_fxv *fx, const gx_edem *dem, size_t i)
{
    gx_fx_emit(fx, (gx_fx){.type = GX_FX_SHORTLIST_ADD,
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
static void s_diff(gx_engine *e, gx_edem *dem, const uint64_t *changed, bool changed_matched, gx_reason cause,
                   gx_fxv *fx)
{
    size_t k = e->opts.shortlist_k, nn = gx_sv_min(dem->n_m, k), no = e->n_snap;
    uint64_t did = dem->d.id, cid = changed ? *changed : 0;
    dem->k_pub = (unsigned)k;
    if (!fx)
        return;
    memcpy(e->sa, e->snap, no * sizeof *e->sa);
    gx_sv_sort(e->sa, no, sizeof *e->sa, gx_sv_cmp_u64);
    for (size_t i = 0; i < nn; i++)
        e->sb[i] = dem->m[i].offer_id;
    gx_sv_sort(e->sb, nn, sizeof *e->sb, gx_sv_cmp_u64);
    if (changed) {
        bool was = gx_sv_find(e->sa, no, sizeof *e->sa, cid), is = gx_sv_find(e->sb, nn, sizeof *e->sb, cid);
        if (was && !is)
            gx_fx_pair(fx, GX_FX_SHORTLIST_REMOVE, did, cid, 0,
                       changed_matched ? GX_REASON_DISPLACED : cause);
        for (size_t i = 0; !was && is && i < nn; i++)
            if (dem->m[i].offer_id == cid)
                s_emit_add(fx, dem, i);
    }
    for (size_t i = 0; i < no; i++)
        if (!(changed && e->snap[i] == cid) && !gx_sv_find(e->sb, nn, sizeof *e->sb, e->snap[i]))
            gx_fx_pair(fx, GX_FX_SHORTLIST_REMOVE, did, e->snap[i], 0, changed ? GX_REASON_DISPLACED : cause);
    for (size_t i = 0; i < nn; i++)
        if (!(changed && dem->m[i].offer_id == cid) &&
            !gx_sv_find(e->sa, no, sizeof *e->sa, dem->m[i].offer_id))
            s_emit_add(fx, dem, i);
}

/* Whether (sa, ia) ranks before (sb, ib): score descending, then id. */
static bool s_before(double sa, uint64_t ia, double sb, uint64_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* Every open offer eligible for dem at now, best first, into e->rk. */
gx_err gx_elist_rank_all(gx_engine *e, const gx_edem *dem, int64_t now)
{
    void *const *cv;
    size_t cn;
    e->n_rk = 0;
    gx_err err = gx_epost_offer_cands(e, &dem->d, &dem->mask, &cv, &cn);
    for (size_t i = 0; !err && i < cn; i++) {
        gx_eoff *off = cv[i];
        uint32_t kf;
        double score;
        gx_rule rule;
        /* while a firm's offers are judged again one by one, those not yet
         * judged stand as they were, under the firm as it was */
        const gx_firm *of = off->f == e->pend_f && off->pend != e->pend_mark ? e->pend_old : off->f;
        if (!gx_terms_plausible(&e->three, &dem->mask, &off->sig, &kf) || !of ||
            gx_epost_classify(e, &dem->prep, dem->f, &off->prep, of, now, kf, &score, &rule) != S_MATCH)
            continue;
        if (!(err = S_GROW(e->rk, e->cap_rk, e->n_rk + 1)))
            e->rk[e->n_rk++] = (gx_match){.offer_id = off->o.id, .score = score};
    }
    if (!err)
        gx_sv_sort(e->rk, e->n_rk, sizeof *e->rk, gx_elist_cmp_match);
    return err;
}

/* Whether dem's held list must be found again: it fell below K while more
 * offers are eligible, or its scores are from older options. */
static bool s_needs_refill(const gx_engine *e, const gx_edem *dem)
{
    return dem->gen != e->gen || (dem->n_m < e->opts.shortlist_k && dem->n_elig > dem->n_m);
}

/* Finds dem's held list again through the index: its best 2K eligible offers
 * at now, and its eligible count. Out of memory it changes nothing: the list
 * stays as it is (a valid prefix of the ranking) until the demand's next
 * change. Emits nothing; the caller diffs the shortlist. */
static gx_err s_refill(gx_engine *e, gx_edem *dem, int64_t now)
{
    uint64_t did = dem->d.id;
    gx_err err = gx_elist_rank_all(e, dem, now);
    size_t n = err ? 0 : gx_sv_min(e->n_rk, gx_hmax(e));
    for (size_t i = 0; !err && i < n; i++) {
        gx_eoff *off = gx_epost_off(e, e->rk[i].offer_id);
        if (!gx_sv_find(off->l, off->n_l, sizeof *off->l, did))
            err = S_GROW(off->l, off->cap_l, off->n_l + 1);
    }
    if (!err && n > dem->cap_m)
        err = S_GROW(dem->m, dem->cap_m, n);
    if (err)
        return err;
    uint64_t mark = ++e->stamp;
    for (size_t i = 0; i < n; i++)
        gx_epost_off(e, e->rk[i].offer_id)->stamp = mark;
    for (size_t i = 0; i < dem->n_m; i++) { /* held before, not now: lapsed, or re-ranked out */
        gx_eoff *off = gx_epost_off(e, dem->m[i].offer_id);
        if (off && off->stamp != mark)
            gx_sv_remove(off->l, &off->n_l, sizeof *off->l, did);
    }
    for (size_t i = 0; i < n; i++) {
        gx_eoff *off = gx_epost_off(e, e->rk[i].offer_id);
        gx_elink nl = {.demand_id = did};
        /* a near miss that now matches (under new options) is one no more */
        gx_sv_remove(dem->nm, &dem->n_nm, sizeof *dem->nm, off->o.id);
        if (!gx_sv_find(off->l, off->n_l, sizeof *off->l, did))
            gx_sv_insert(off->l, &off->n_l, sizeof *off->l, &nl);
    }
    if (n)
        memcpy(dem->m, e->rk, n * sizeof *dem->m);
    dem->n_m = n;
    dem->n_elig = e->n_rk;
    dem->gen = e->gen;
    dem->t_eval = now;
    e->refills++;
    return GX_OK;
}

/* Holds the eligible offer oid (score) in dem when it belongs among the best
 * held: anywhere before the last held entry, or after it while every other
 * eligible offer is held and there is room. A list grown past 2K loses its
 * last entry (and that offer its link). Room for one more entry was reserved;
 * dem->n_elig already counts oid. */
static void s_hold(gx_engine *e, gx_edem *dem, uint64_t oid, double score)
{
    bool complete = dem->n_m + 1 >= dem->n_elig;
    const gx_match *last = dem->n_m ? &dem->m[dem->n_m - 1] : NULL;
    if (!(last && s_before(score, oid, last->score, last->offer_id)) && !(complete && dem->n_m < gx_hmax(e)))
        return;
    s_m_insert(dem, oid, score);
    if (dem->n_m > gx_hmax(e)) {
        gx_eoff *lo = gx_epost_off(e, dem->m[dem->n_m - 1].offer_id);
        if (lo)
            gx_sv_remove(lo->l, &lo->n_l, sizeof *lo->l, dem->d.id);
        dem->n_m--;
    }
}

/* Whether dem holds oid, at score (found where that score would place it). */
static bool s_holds(const gx_edem *dem, uint64_t oid, double score)
{
    size_t i = s_m_pos(dem, score, oid);
    return i < dem->n_m && dem->m[i].offer_id == oid;
}

/* What (re)evaluating one demand will do, computed before anything changes. */
typedef struct s_dplan {
    gx_esteps st;    /* kept verdicts (matches, retained near misses) by offer id */
    gx_match *m;     /* every new match, ranked (the first n_hold are held) */
    size_t n_m;      /* count */
    size_t n_hold;   /* how many are held: min(n_m, 2K) */
    gx_near *nm;     /* the new near misses by offer id */
    size_t n_nm;     /* count */
    uint64_t *old;   /* offers eligible before but not held, by id */
    size_t n_old;    /* count */
    size_t cap_old;  /* allocated */
    uint64_t *subs;  /* subscriptions newly passed, by id */
    size_t n_subs;   /* count */
    size_t cap_subs; /* allocated */
    gx_prep_demand pd; /* new content's prepared form (when it is not the held one) */
} s_dplan;

static void s_dplan_fini(s_dplan *p)
{
    free(p->st.v);
    free(p->m);
    free(p->nm);
    free(p->old);
    free(p->subs);
    gx_prep_demand_fini(&p->pd);
    memset(p, 0, sizeof *p);
}

static int s_cmp_step_id(const void *a, const void *b)
{
    uint64_t x = ((const gx_estep *)a)->id, y = ((const gx_estep *)b)->id;
    return x < y ? -1 : x > y;
}

/* Whether the demand holds offer off (its link says so). */
static bool s_linked_match(const gx_eoff *off, uint64_t did)
{
    return gx_sv_find(off->l, off->n_l, sizeof *off->l, did) != NULL;
}

/* The offers counted eligible for a held demand before its change but not
 * held: its old content od of firm odf judged through the index as each pair
 * was when it was counted (gx_counted_at), skipped when every eligible offer
 * is held. */
static gx_err s_dplan_old(gx_engine *e, const gx_edem *dem, const gx_demand *od, const gx_firm *odf,
                          s_dplan *p)
{
    if (dem->n_elig <= dem->n_m)
        return GX_OK;
    size_t cn;
    void *const *cv;
    gx_err err = gx_epost_offer_cands(e, od, &dem->mask, &cv, &cn);
    for (size_t i = 0; !err && i < cn; i++) {
        gx_eoff *off = cv[i];
        uint32_t kf;
        double score;
        gx_rule rule;
        if (!gx_terms_plausible(&e->three, &dem->mask, &off->sig, &kf) || !off->f ||
            s_linked_match(off, od->id) ||
            gx_epost_classify(e, &dem->prep, odf, &off->prep, off->f, gx_counted_at(dem, off), kf, &score,
                              &rule) != S_MATCH)
            continue;
        if (!(err = S_GROW(p->old, p->cap_old, p->n_old + 1)))
            p->old[p->n_old++] = off->o.id;
    }
    gx_sv_sort(p->old, p->n_old, sizeof *p->old, gx_sv_cmp_u64);
    return err;
}

/* Plans demand d (the content to evaluate, owned by firm df) for entry dem
 * (NULL when new): verdicts against open offers of its kind, new vectors, link
 * room, newly passed subscriptions (old content od of firm odf, NULL when new)
 * and effect room. */
static gx_err s_dplan_build(gx_engine *e, const gx_edem *dem, const gx_demand *d, const gx_firm *df,
                            const gx_demand *od, const gx_firm *odf, int64_t now, gx_fxv *fx, s_dplan *p)
{
    size_t n_near = 0, cn;
    void *const *cv;
    gx_dmask mask;
    const gx_prep_demand *pd = &p->pd;
    gx_err err = dem ? s_dplan_old(e, dem, od, odf, p) : GX_OK;
    if (!err && dem && d == &dem->d)
        pd = &dem->prep;
    else if (!err)
        err = gx_prep_demand_build(&e->intern, d, &p->pd);
    if (err)
        goto out;
    gx_terms_dmask(&e->opts.rules, d, df, &mask);
    err = gx_epost_offer_cands(e, d, &mask, &cv, &cn);
    for (size_t i = 0; !err && i < cn; i++) {
        gx_eoff *off = cv[i];
        uint32_t kf;
        if (!gx_terms_plausible(&e->three, &mask, &off->sig, &kf))
            continue;
        const gx_firm *of = off->f;
        double score;
        gx_rule rule;
        int ns = of ? gx_epost_classify(e, pd, df, &off->prep, of, now, kf, &score, &rule) : S_NONE;
        if (ns == S_NONE)
            continue;
        if ((err = S_GROW(p->st.v, p->st.cap, p->st.n + 1)))
            goto out;
        p->st.v[p->st.n++] = (gx_estep){.id = off->o.id, .p = off, .score = score, .rule = rule, .ns = ns};
        n_near += ns == S_NEAR;
    }
    if (err)
        goto out;
    n_near = gx_enear_keep(e, &p->st, n_near);
    gx_sv_sort(p->st.v, p->st.n, sizeof *p->st.v, s_cmp_step_id);
    size_t n_match = p->st.n - n_near;
    if ((n_match && !(p->m = malloc(n_match * sizeof *p->m))) ||
        (n_near && !(p->nm = malloc(n_near * sizeof *p->nm)))) {
        err = GX_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->st.n; i++) {
        gx_estep *s = &p->st.v[i];
        if (s->ns == S_MATCH)
            p->m[p->n_m++] = (gx_match){.offer_id = s->id, .score = s->score};
        else
            p->nm[p->n_nm++] = (gx_near){.offer_id = s->id, .score = s->score, .rule = s->rule};
    }
    gx_sv_sort(p->m, p->n_m, sizeof *p->m, gx_elist_cmp_match);
    p->n_hold = gx_sv_min(p->n_m, gx_hmax(e));
    for (size_t i = 0; i < p->n_hold; i++)
        ((gx_estep *)gx_sv_find(p->st.v, p->st.n, sizeof *p->st.v, p->m[i].offer_id))->held = true;
    for (size_t i = 0; i < p->st.n; i++) { /* links for what is held */
        gx_estep *s = &p->st.v[i];
        gx_eoff *off = s->p;
        if (s->held && (!dem || !gx_sv_find(off->l, off->n_l, sizeof *off->l, d->id)))
            if ((err = S_GROW(off->l, off->cap_l, off->n_l + 1)))
                goto out;
    }
    for (size_t i = 0; i < e->subs.cap; i++) {
        const gx_sub *s = e->subs.s[i].val;
        if (!s || !gx_epost_sub_hit(e, s, d, df) || (od && gx_epost_sub_hit(e, s, od, odf)))
            continue;
        if ((err = S_GROW(p->subs, p->cap_subs, p->n_subs + 1)))
            goto out;
        p->subs[p->n_subs++] = s->id;
    }
    gx_sv_sort(p->subs, p->n_subs, sizeof *p->subs, gx_sv_cmp_u64);
    size_t old = dem ? dem->n_m + dem->k_pub + p->n_old : 0;
    err = gx_fx_reserve(fx, old + p->n_m + e->opts.shortlist_k + p->n_nm + p->n_subs);
out:
    return err;
}

/* Applies a plan to dem (whose content is already the new one). Cannot fail. */
static void s_dplan_commit(gx_engine *e, gx_edem *dem, s_dplan *p, gx_reason cause, gx_fxv *fx)
{
    uint64_t did = dem->d.id;
    gx_efrz_touch(e, dem);
    s_snap(e, dem);
    for (size_t i = 0; i < dem->n_m + p->n_old; i++) { /* old rank order, then the unheld by id */
        uint64_t oid = i < dem->n_m ? dem->m[i].offer_id : p->old[i - dem->n_m];
        const gx_estep *s = gx_sv_find(p->st.v, p->st.n, sizeof *p->st.v, oid);
        if (!s || s->ns != S_MATCH)
            gx_fx_pair(fx, GX_FX_UNMATCH, did, oid, 0, cause);
    }
    for (size_t i = 0; i < p->n_m; i++) {
        uint64_t oid = p->m[i].offer_id;
        const gx_estep *s = gx_sv_find(p->st.v, p->st.n, sizeof *p->st.v, oid);
        if (!s_linked_match(s->p, did) && !gx_sv_find(p->old, p->n_old, sizeof *p->old, oid))
            gx_fx_pair(fx, GX_FX_MATCH, did, oid, s->score, GX_REASON_NONE);
    }
    /* links: drop those no longer held, then add the newly held */
    for (size_t i = 0; i < dem->n_m; i++) {
        gx_eoff *off = gx_epost_off(e, dem->m[i].offer_id);
        const gx_estep *s = gx_sv_find(p->st.v, p->st.n, sizeof *p->st.v, dem->m[i].offer_id);
        if (off && !(s && s->held))
            gx_sv_remove(off->l, &off->n_l, sizeof *off->l, did);
    }
    for (size_t i = 0; i < p->st.n; i++) {
        const gx_estep *s = &p->st.v[i];
        gx_eoff *off = s->p;
        gx_elink nl = {.demand_id = did};
        if (s->held && !gx_sv_find(off->l, off->n_l, sizeof *off->l, did))
            gx_sv_insert(off->l, &off->n_l, sizeof *off->l, &nl);
    }
    gx_match *old_m = dem->m;
    gx_near *old_nm = dem->nm;
    size_t old_n_nm = dem->n_nm;
    dem->m = p->m;
    dem->n_m = p->n_hold;
    dem->cap_m = p->n_m;
    dem->n_elig = p->n_m;
    if (p->n_m > p->n_hold) { /* give back what is not held */
        gx_match *shrunk = realloc(dem->m, p->n_hold * sizeof *dem->m);
        if (shrunk || !p->n_hold) {
            dem->m = shrunk;
            dem->cap_m = p->n_hold;
        }
    }
    dem->nm = p->nm;
    dem->n_nm = dem->cap_nm = p->n_nm;
    p->m = NULL;
    p->nm = NULL;
    dem->gen = e->gen;
    dem->t_eval = e->now;
    s_diff(e, dem, NULL, false, cause, fx);
    gx_enear_news(dem, old_nm, old_n_nm, fx);
    for (size_t i = 0; i < p->n_subs; i++)
        gx_fx_emit(fx, (gx_fx){.type = GX_FX_SUB_HIT, .demand_id = did, .sub_id = p->subs[i]});
    free(old_m);
    free(old_nm);
}

/* Re-evaluates a held demand: newd (taken, zeroed) replaces its content, or
 * NULL keeps it; old_df is the demand firm as it was (for subscriptions). */
gx_err gx_elist_demand_reeval(gx_engine *e, gx_edem *dem, gx_demand *newd, const gx_firm *old_df,
                              gx_reason cause, int64_t now, gx_fxv *fx)
{
    s_dplan p = {0};
    gx_efiling f = {0};
    gx_err err;
    const gx_demand *d = newd ? newd : &dem->d;
    gx_firm *nf = gx_epost_firm(e, d->owner);
    if (!nf)
        return GX_ERR_NOT_FOUND;
    if ((err = s_dplan_build(e, dem, d, nf, &dem->d, old_df, now, fx, &p)) ||
        (newd && (err = gx_epost_demand_filing(e, newd, &f))))
        goto out;
    if (newd && newd->kind != dem->d.kind &&
        (err = S_GROW(e->dk[newd->kind].v, e->dk[newd->kind].cap, e->dk[newd->kind].n + 1)))
        goto out;
    if (newd) {
        if (newd->kind != dem->d.kind) {
            gx_epost_dem_unindex(e, dem);
            dem->kpos = gx_epost_plist_push(&e->dk[newd->kind], dem);
        }
        gx_epost_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
        dem->f = nf;
        gx_demand_fini(&dem->d);
        dem->d = *newd;
        memset(newd, 0, sizeof *newd);
        gx_prep_demand_fini(&dem->prep);
        dem->prep = p.pd;
        memset(&p.pd, 0, sizeof p.pd);
    }
    gx_terms_dmask(&e->opts.rules, &dem->d, nf, &dem->mask); /* the demand or its firm changed */
    s_dplan_commit(e, dem, &p, cause, fx);
out:
    s_dplan_fini(&p);
    gx_epost_filing_fini(&f);
    return err;
}

/* Removes a held demand, emitting UNMATCH (reason NONE) for its held matches;
 * first_fx (type 0 = none) is emitted before them. */
gx_err gx_elist_demand_close(gx_engine *e, gx_edem *dem, gx_fx first_fx, gx_fxv *fx)
{
    gx_err err = gx_fx_reserve(fx, dem->n_m + 1);
    if (err)
        return err;
    gx_efrz_touch(e, dem);
    uint64_t did = dem->d.id;
    if (first_fx.type)
        gx_fx_emit(fx, first_fx);
    for (size_t i = 0; i < dem->n_m; i++) {
        uint64_t oid = dem->m[i].offer_id;
        gx_fx_pair(fx, GX_FX_UNMATCH, did, oid, 0, GX_REASON_NONE);
        gx_eoff *off = gx_epost_off(e, oid);
        if (off)
            gx_sv_remove(off->l, &off->n_l, sizeof *off->l, did);
    }
    gx_epost_file(e->dix, dem, &dem->refs, &dem->n_refs, &(gx_efiling){0});
    gx_epost_dem_unindex(e, dem);
    gx_emap_remove(&e->demands, did, NULL);
    gx_epost_dem_free(dem);
    return GX_OK;
}

/* What (re)evaluating one offer will do: per demand touched (old states
 * merged with new verdicts, by demand id) the old and new state, and room for
 * the new link list. */
typedef struct s_oplan {
    gx_esteps st; /* steps by demand id */
    gx_elink *l;  /* room for the new links: one per step */
    gx_keys keys; /* the offer's index keys (none when closing) */
    gx_sig sig;   /* and its signature */
    gx_prep_offer po; /* new content's prepared form (when it is not the held one) */
} s_oplan;

static void s_oplan_fini(s_oplan *p)
{
    free(p->st.v);
    free(p->l);
    gx_keys_fini(&p->keys);
    gx_prep_offer_fini(&p->po);
    memset(p, 0, sizeof *p);
}

/* Effect slots one pair change on dem may need: (UN)MATCH, NEAR_MISS and its
 * shortlist changes, which a refill or a re-rank may turn over entirely. */
static size_t s_fx_bound(const gx_engine *e, const gx_edem *dem)
{
    return 4 + (size_t)dem->k_pub + e->opts.shortlist_k;
}

/* What off's old content (of firm old_of) was to the demands that do not hold
 * it, found through the index: S_NEAR where the demand keeps it as a near
 * miss (its list says so), S_ELIG where it is counted eligible though not held
 * (judged as the pair was when it was counted, gx_counted_at; skipping demands
 * that hold every eligible offer). Into *old by demand id. */
static gx_err s_oplan_old(gx_engine *e, const gx_eoff *off, const gx_firm *old_of, gx_esteps *old)
{
    gx_keys k = {0};
    void *const *cv = NULL;
    size_t cn = 0;
    gx_err err = gx_terms_offer_keys(&off->o, &k);
    if (!err)
        err = gx_epost_demand_cands(e, &off->o, &k, &cv, &cn);
    for (size_t i = 0; !err && i < cn; i++) {
        gx_edem *dem = cv[i];
        uint32_t kf;
        double score;
        gx_rule rule;
        int os = S_NONE;
        if (gx_sv_find(off->l, off->n_l, sizeof *off->l, dem->d.id))
            continue; /* held: its link says so */
        if (gx_sv_find(dem->nm, dem->n_nm, sizeof *dem->nm, off->o.id))
            os = S_NEAR;
        else if (dem->n_elig > dem->n_m && dem->f &&
                 gx_terms_plausible(&e->three, &dem->mask, &off->sig, &kf) &&
                 gx_epost_classify(e, &dem->prep, dem->f, &off->prep, old_of, gx_counted_at(dem, off), kf,
                                   &score, &rule) == S_MATCH)
            os = S_ELIG;
        if (os != S_NONE && !(err = S_GROW(old->v, old->cap, old->n + 1)))
            old->v[old->n++] = (gx_estep){.id = dem->d.id, .p = dem, .os = os};
    }
    gx_sv_sort(old->v, old->n, sizeof *old->v, s_cmp_step_id);
    gx_keys_fini(&k);
    return err;
}

/* Plans offer o (content to evaluate; NULL when closing) for entry off (whose
 * old content, when it has one, is of firm old_of), with room for extra_fx
 * more effects. */
static gx_err s_oplan_build(gx_engine *e, const gx_eoff *off, const gx_offer *o, const gx_firm *old_of,
                            int64_t now, size_t extra_fx, gx_fxv *fx, s_oplan *p)
{
    gx_err err = GX_OK;
    size_t n_fx = extra_fx;
    gx_esteps hits = {0}, old = {0};
    const gx_firm *of = o ? gx_epost_firm(e, o->owner) : NULL;
    void *const *cv = NULL;
    size_t cn = 0;
    const gx_prep_offer *po = o == &off->o ? &off->prep : &p->po;
    if (o) {
        if ((err = gx_terms_offer_keys(o, &p->keys)) ||
            (o != &off->o && (err = gx_prep_offer_build(&e->intern, o, &p->po))))
            goto out;
        gx_terms_offer_sig(&p->keys, of, &p->sig);
    }
    if (of && (err = gx_epost_demand_cands(e, o, &p->keys, &cv, &cn)))
        goto out;
    for (size_t i = 0; i < cn; i++) {
        gx_edem *dem = cv[i];
        uint32_t kf;
        if (!gx_terms_plausible(&e->three, &dem->mask, &p->sig, &kf))
            continue;
        const gx_firm *df = dem->f;
        double score;
        gx_rule rule;
        int ns = df ? gx_epost_classify(e, &dem->prep, df, po, of, now, kf, &score, &rule) : S_NONE;
        if (ns == S_NONE)
            continue;
        if ((err = S_GROW(hits.v, hits.cap, hits.n + 1)))
            goto out;
        hits.v[hits.n++] = (gx_estep){.id = dem->d.id, .p = dem, .score = score, .rule = rule, .ns = ns};
    }
    gx_sv_sort(hits.v, hits.n, sizeof *hits.v, s_cmp_step_id);
    if (off->o.id && old_of && (err = s_oplan_old(e, off, old_of, &old)))
        goto out;
    /* merge new verdicts, links and old unheld matches by demand id; decide
     * near-miss room; reserve */
    size_t i = 0, j = 0, u = 0;
    while (i < hits.n || j < off->n_l || u < old.n) {
        uint64_t id = UINT64_MAX;
        if (i < hits.n)
            id = hits.v[i].id;
        if (j < off->n_l && off->l[j].demand_id < id)
            id = off->l[j].demand_id;
        if (u < old.n && old.v[u].id < id)
            id = old.v[u].id;
        gx_estep s = {.id = id, .ns = S_NONE, .os = S_NONE};
        if (i < hits.n && hits.v[i].id == id)
            s = hits.v[i++];
        if (j < off->n_l && off->l[j].demand_id == id) {
            j++;
            s.os = S_MATCH; /* held */
        } else if (u < old.n && old.v[u].id == id) {
            s.os = old.v[u++].os; /* a near miss held, or eligible and not held */
        }
        if (!s.p && !(s.p = gx_epost_dem(e, id)))
            continue;
        gx_edem *dem = s.p;
        if (s.ns == S_NEAR && s.os != S_NEAR && !gx_enear_room(e, dem))
            s.ns = S_NONE; /* no room: neither recorded nor reported */
        if (s.ns == S_NONE && s.os == S_NONE)
            continue;
        if (s.ns == S_MATCH && s.os != S_MATCH && (err = S_GROW(dem->m, dem->cap_m, dem->n_m + 1)))
            goto out;
        if (s.ns == S_NEAR && s.os != S_NEAR && (err = S_GROW(dem->nm, dem->cap_nm, dem->n_nm + 1)))
            goto out;
        if ((err = S_GROW(p->st.v, p->st.cap, p->st.n + 1)))
            goto out;
        p->st.v[p->st.n++] = s;
        n_fx += s_fx_bound(e, dem);
    }
    if (p->st.n && !(p->l = malloc(p->st.n * sizeof *p->l))) {
        err = GX_ERR_NOMEM;
        goto out;
    }
    err = gx_fx_reserve(fx, n_fx);
out:
    free(hits.v);
    free(old.v);
    return err;
}

/* Applies a plan for off (content already the new one, filed where it now
 * belongs; when closing, no longer filed). Cannot fail: a refill that runs
 * out of memory leaves its list short. */
static void s_oplan_commit(gx_engine *e, gx_eoff *off, s_oplan *p, gx_reason cause, int64_t now, gx_fxv *fx)
{
    uint64_t oid = off->o.id;
    for (size_t i = 0; i < p->st.n; i++) {
        const gx_estep *s = &p->st.v[i];
        gx_edem *dem = s->p;
        uint64_t did = dem->d.id;
        bool was_held = s->os == S_MATCH, was = was_held || s->os == S_ELIG, is = s->ns == S_MATCH;
        gx_efrz_touch(e, dem);
        bool sl = was_held || is || s_needs_refill(e, dem);
        if (sl)
            s_snap(e, dem);
        if (was_held)
            s_m_remove(dem, oid);
        dem->n_elig = dem->n_elig - (was && dem->n_elig) + is;
        if (is && dem->gen == e->gen)
            s_hold(e, dem, oid, s->score);
        if (was && !is)
            gx_fx_pair(fx, GX_FX_UNMATCH, did, oid, 0, cause);
        if (!was && is)
            gx_fx_pair(fx, GX_FX_MATCH, did, oid, s->score, GX_REASON_NONE);
        if (s_needs_refill(e, dem))
            s_refill(e, dem, now);
        if (sl)
            s_diff(e, dem, &oid, is, cause, fx);
        gx_enear_step(dem, oid, s->os == S_NEAR, s->ns == S_NEAR ? s->rule : GX_RULE_NONE, s->score, fx);
    }
    /* the offer's links: the demands that now hold it among their best 2K */
    size_t n_l = 0;
    for (size_t i = 0; i < p->st.n; i++) {
        const gx_estep *s = &p->st.v[i];
        gx_edem *dem = s->p;
        if (s->ns == S_MATCH && s_holds(dem, oid, s->score))
            p->l[n_l++] = (gx_elink){.demand_id = s->id};
    }
    free(off->l);
    off->l = p->l;
    off->n_l = n_l;
    off->t_eval = now;
    off->cap_l = p->st.n;
    p->l = NULL;
}

/* Re-evaluates a held offer: newo (taken, zeroed) replaces its content, or
 * NULL keeps it; old_of is its firm as it was (NULL: as it is). */
gx_err gx_elist_offer_reeval(gx_engine *e, gx_eoff *off, gx_offer *newo, const gx_firm *old_of,
                             gx_reason cause, int64_t now, gx_fxv *fx)
{
    s_oplan p = {0};
    gx_efiling f = {0};
    gx_err err;
    const gx_offer *o = newo ? newo : &off->o;
    if (!gx_epost_firm(e, o->owner))
        return GX_ERR_NOT_FOUND;
    if ((err = s_oplan_build(e, off, o, old_of ? old_of : off->f, now, 0, fx, &p)))
        goto out;
    if (newo && ((err = gx_epost_kinds_reserve(e, off->o.kinds, newo->kinds)) ||
                 (err = gx_epost_offer_filing(e, newo, &p.keys, &p.sig, &f))))
        goto out;
    off->sig = p.sig; /* new content, or the same with its firm changed */
    if (newo) {
        gx_epost_kinds_move(e, off, off->o.kinds, newo->kinds);
        gx_epost_file(e->oix, off, &off->refs, &off->n_refs, &f);
        off->f = gx_epost_firm(e, newo->owner);
        gx_offer_fini(&off->o);
        off->o = *newo;
        memset(newo, 0, sizeof *newo);
        gx_prep_offer_fini(&off->prep);
        off->prep = p.po;
        memset(&p.po, 0, sizeof p.po);
    }
    s_oplan_commit(e, off, &p, cause, now, fx);
out:
    s_oplan_fini(&p);
    gx_epost_filing_fini(&f);
    return err;
}

gx_err gx_elist_offer_close(gx_engine *e, gx_eoff *off, gx_reason why, gx_fx first_fx, gx_fxv *fx)
{
    s_oplan p = {0};
    gx_err err = s_oplan_build(e, off, NULL, off->f, e->now, 1, fx, &p);
    if (err) {
        s_oplan_fini(&p);
        return err;
    }
    if (first_fx.type)
        gx_fx_emit(fx, first_fx);
    /* unfiled first, so that a refill cannot find it again */
    gx_epost_kinds_move(e, off, off->o.kinds, 0);
    gx_epost_file(e->oix, off, &off->refs, &off->n_refs, &(gx_efiling){0});
    s_oplan_commit(e, off, &p, why, e->now, fx);
    s_oplan_fini(&p);
    gx_emap_remove(&e->offers, off->o.id, NULL);
    gx_epost_off_free(off);
    return GX_OK;
}

/* Adds the new OPEN demand *in (taken and zeroed) of firm fm, its id unheld. */
gx_err gx_elist_demand_add(gx_engine *e, gx_demand *in, gx_firm *fm, int64_t now, gx_fxv *fx)
{
    gx_demand d = *in;
    memset(in, 0, sizeof *in);
    s_dplan p = {0};
    gx_efiling f = {0};
    gx_edem *dem = calloc(1, sizeof *dem);
    gx_err err = dem ? GX_OK : GX_ERR_NOMEM;
    if (!err && !(err = s_dplan_build(e, NULL, &d, fm, NULL, NULL, now, fx, &p)) &&
        !(err = gx_emap_reserve(&e->demands, e->demands.n + 1)) && !(err = gx_epost_demand_filing(e, &d, &f)))
        err = S_GROW(e->dk[d.kind].v, e->dk[d.kind].cap, e->dk[d.kind].n + 1);
    if (err)
        goto out;
    dem->d = d;
    dem->f = fm;
    dem->prep = p.pd;
    memset(&p.pd, 0, sizeof p.pd);
    gx_terms_dmask(&e->opts.rules, &dem->d, fm, &dem->mask);
    memset(&d, 0, sizeof d);
    dem->gen = e->gen;
    dem->frz = e->frz_no; /* not in a freeze begun before it */
    gx_emap_insert(&e->demands, dem->d.id, dem);
    dem->kpos = gx_epost_plist_push(&e->dk[dem->d.kind], dem);
    gx_epost_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
    s_dplan_commit(e, dem, &p, GX_REASON_NONE, fx);
    dem = NULL;
out:
    free(dem);
    s_dplan_fini(&p);
    gx_epost_filing_fini(&f);
    gx_demand_fini(&d);
    return err;
}

/* Adds the new OPEN offer *in (taken and zeroed) of firm f, its id unheld. */
gx_err gx_elist_offer_add(gx_engine *e, gx_offer *in, gx_firm *f, int64_t now, gx_fxv *fx)
{
    gx_offer o = *in;
    memset(in, 0, sizeof *in);
    s_oplan p = {0};
    gx_efiling fl = {0};
    gx_eoff *off = calloc(1, sizeof *off);
    gx_err err = off ? GX_OK : GX_ERR_NOMEM;
    if (!err && !(err = s_oplan_build(e, off, &o, NULL, now, 0, fx, &p)) &&
        !(err = gx_emap_reserve(&e->offers, e->offers.n + 1)) &&
        !(err = gx_epost_offer_filing(e, &o, &p.keys, &p.sig, &fl)))
        err = gx_epost_kinds_reserve(e, 0, o.kinds);
    if (err)
        goto out;
    off->o = o;
    off->f = f;
    off->prep = p.po;
    memset(&p.po, 0, sizeof p.po);
    memset(&o, 0, sizeof o);
    gx_emap_insert(&e->offers, off->o.id, off);
    gx_epost_kinds_move(e, off, 0, off->o.kinds);
    off->sig = fl.sig;
    gx_epost_file(e->oix, off, &off->refs, &off->n_refs, &fl);
    s_oplan_commit(e, off, &p, GX_REASON_NONE, now, fx);
    off = NULL;
out:
    free(off);
    s_oplan_fini(&p);
    gx_epost_filing_fini(&fl);
    gx_offer_fini(&o);
    return err;
}
