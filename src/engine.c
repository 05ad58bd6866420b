/* engine.c — the matching engine's public calls: life cycle and options,
 * firms, demands, offers, subscriptions, expiry, queries and restore. What
 * each file of the engine does, and how the engine is laid out, is in
 * engine_int.h; engine.h says what the engine promises. */
#include "engine_int.h"

void gx_fxv_fini(gx_fxv *fx)
{
    if (!fx)
        return;
    free(fx->v);
    memset(fx, 0, sizeof *fx);
}

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

/* The prepared form of every held firm under rules options ro, one per slot
 * of the firm map (*out, to be freed): all or nothing. */
static gx_err s_firm_preps(gx_engine *e, const gx_rules_opts *ro, gx_prep_firm **out)
{
    gx_err err = GX_OK;
    *out = e->firms.cap ? calloc(e->firms.cap, sizeof **out) : NULL;
    if (e->firms.cap && !*out)
        return GX_ERR_NOMEM;
    for (size_t i = 0; !err && i < e->firms.cap; i++)
        if (e->firms.s[i].val)
            err = gx_prep_firm_build(&e->intern, ro, e->firms.s[i].val, &(*out)[i]);
    if (err) {
        for (size_t i = 0; i < e->firms.cap; i++)
            gx_prep_firm_fini(&(*out)[i]);
        free(*out);
        *out = NULL;
    }
    return err;
}

/* Whether a and b decide the same lists (a reload that changes nothing). */
static bool s_same_opts(const gx_engine_opts *a, const gx_engine_opts *b)
{
    const gx_rules_opts *x = &a->rules, *y = &b->rules;
    if (a->shortlist_k != b->shortlist_k || a->near_miss_max != b->near_miss_max ||
        memcmp(x->weights, y->weights, sizeof x->weights) != 0 || x->utc_offset_min != y->utc_offset_min ||
        x->distance_full_km != y->distance_full_km || x->n_three_districts != y->n_three_districts)
        return false;
    for (size_t i = 0; i < x->n_three_districts; i++)
        if (!x->three_districts[i] != !y->three_districts[i] ||
            (x->three_districts[i] && strcmp(x->three_districts[i], y->three_districts[i]) != 0))
            return false;
    return true;
}

gx_err gx_engine_set_opts(gx_engine *e, const gx_engine_opts *opts)
{
    if (s_same_opts(&e->opts, opts))
        return GX_OK; /* nothing to re-rank: a reload of other keys costs the engine nothing */
    char **td;
    gx_prep_firm *preps = NULL;
    gx_err err = s_opts_copy(opts, &td);
    if (err)
        return err;
    gx_rules_opts ro = opts->rules; /* a firm's district depends on the three districts */
    ro.three_districts = (const char *const *)td;
    if ((err = s_firm_preps(e, &ro, &preps))) {
        s_td_free(td, opts->rules.n_three_districts);
        return err;
    }
    if (opts->shortlist_k > e->k_scratch) {
        uint64_t *a = malloc(3 * (size_t)opts->shortlist_k * sizeof *a);
        if (!a) {
            s_td_free(td, opts->rules.n_three_districts);
            for (size_t i = 0; i < e->firms.cap; i++)
                gx_prep_firm_fini(&preps[i]);
            free(preps);
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
    for (size_t i = 0; i < e->firms.cap; i++) {
        gx_efirm *fe = e->firms.s[i].val;
        if (fe) {
            gx_prep_firm_fini(&fe->prep);
            fe->prep = preps[i];
        }
    }
    free(preps);
    memset(&e->three, 0, sizeof e->three);
    for (size_t i = 0; i < e->opts.rules.n_three_districts; i++)
        if (td[i])
            gx_sig_add(&e->three, 'd', td[i], strlen(td[i]));
    /* a firm's district depends on the three districts (gx_rules_district),
     * and so does the region key of every demand's mask; offers' signatures
     * hold both zone and county and need nothing */
    for (size_t i = 0; i < e->demands.cap; i++) {
        gx_edem *dem = e->demands.s[i].val;
        if (dem)
            gx_terms_dmask(&e->opts.rules, &dem->d, dem->f, &dem->mask);
    }
    e->gen++;
    e->mut++;
    return GX_OK;
}

gx_err gx_engine_new(const gx_engine_opts *opts, gx_engine **out)
{
    *out = NULL;
    gx_engine *e = calloc(1, sizeof *e);
    if (!e)
        return GX_ERR_NOMEM;
    gx_intern_init(&e->intern);
    gx_err err = gx_index_new(gx_epost_off_refs, &e->oix);
    if (!err)
        err = gx_index_new(gx_epost_dem_refs, &e->dix);
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
            gx_epost_dem_free(e->demands.s[i].val);
    for (size_t i = 0; i < e->offers.cap; i++)
        if (e->offers.s[i].val)
            gx_epost_off_free(e->offers.s[i].val);
    for (size_t i = 0; i < e->firms.cap; i++) {
        gx_efirm *fe = e->firms.s[i].val;
        if (fe) {
            gx_firm_fini(&fe->f);
            gx_prep_firm_fini(&fe->prep);
            free(fe);
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
    free(e->exp);
    free(e->cand);
    free(e->rk);
    free(e->fm);
    gx_index_destroy(&e->oix);
    gx_index_destroy(&e->dix);
    s_td_free(e->td, e->opts.rules.n_three_districts);
    gx_intern_fini(&e->intern);
    free(e);
    *ep = NULL;
}

/* The sorted ids of the postings in map m (demands when is_dem) owned by
 * owner or, when owner is NULL, expired at now (expires_at 0 never expires). */
static gx_err s_collect(const gx_emap *m, bool is_dem, const char *owner, int64_t now, uint64_t **ids,
                        size_t *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const gx_edem *dv = m->s[i].val;
        const gx_eoff *ov = m->s[i].val;
        if (!dv)
            continue;
        int64_t at = is_dem ? dv->d.expires_at : ov->o.expires_at;
        if (owner ? strcmp(is_dem ? dv->d.owner : ov->o.owner, owner) != 0 : (at == 0 || at > now))
            continue;
        if (S_GROW(*ids, cap, *n + 1))
            return GX_ERR_NOMEM;
        (*ids)[(*n)++] = m->s[i].key;
    }
    gx_sv_sort(*ids, *n, sizeof **ids, gx_sv_cmp_u64);
    return GX_OK;
}

gx_err gx_engine_put_firm(gx_engine *e, const gx_firm *f, int64_t now, gx_fxv *fx)
{
    gx_efirm nf = {0}, old = {0};
    uint64_t *dids = NULL, *oids = NULL;
    size_t nd = 0, no = 0;
    gx_err err;
    e->now = now;
    e->mut++;
    if (!f->id[0] || !memchr(f->id, '\0', sizeof f->id))
        return GX_ERR_INVALID;
    if ((err = gx_firm_copy(&nf.f, f)) || (err = gx_prep_firm_build(&e->intern, &e->opts.rules, f, &nf.prep)))
        goto out;
    gx_efirm *fe = (gx_efirm *)gx_epost_firm(e, f->id);
    if (!fe) {
        if ((err = gx_emap_reserve(&e->firms, e->firms.n + 1)) || !(fe = calloc(1, sizeof *fe))) {
            err = GX_ERR_NOMEM;
            goto out;
        }
        *fe = nf;
        memset(&nf, 0, sizeof nf);
        gx_emap_insert(&e->firms, gx_fnv1a_str(GX_FNV_SEED, fe->f.id), fe);
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
        gx_edem *dem = gx_epost_dem(e, dids[i]);
        if (dem && (err = gx_elist_demand_reeval(e, dem, NULL, &old.f, GX_REASON_FIRM_CHANGED, now, fx)))
            goto out;
    }
    e->pend_f = &fe->f;
    e->pend_old = &old.f;
    e->pend_mark = e->mut;
    for (size_t i = 0; i < no; i++) {
        gx_eoff *off = gx_epost_off(e, oids[i]);
        if (off)
            off->pend = e->pend_mark;
        if (off && (err = gx_elist_offer_reeval(e, off, NULL, &old.f, GX_REASON_FIRM_CHANGED, now, fx)))
            goto out;
    }
out:
    e->pend_f = e->pend_old = NULL;
    gx_firm_fini(&nf.f);
    gx_prep_firm_fini(&nf.prep);
    gx_firm_fini(&old.f);
    gx_prep_firm_fini(&old.prep);
    free(dids);
    free(oids);
    return err;
}

void gx_engine_count_award(gx_engine *e, const char *firm_id)
{
    gx_efirm *f = (gx_efirm *)gx_epost_firm(e, firm_id);
    e->mut++;
    if (f && f->f.awards < UINT32_MAX)
        f->prep.fig.awards = ++f->f.awards;
}

/* What every new demand must be: open, of a kind, owned by a held firm (its
 * firm in *fm), with an id not held yet. */
static gx_err s_exp_reserve(gx_engine *e);
static void s_exp_push(gx_engine *e, int64_t at, uint64_t id, bool is_dem);

static gx_err s_demand_new(gx_engine *e, const gx_demand *d, gx_firm **fm)
{
    *fm = gx_epost_firm(e, d->owner);
    if (d->state != GX_STATE_OPEN || !gx_kind_valid(d->kind))
        return GX_ERR_INVALID;
    if (!*fm)
        return GX_ERR_NOT_FOUND;
    return gx_epost_dem(e, d->id) ? GX_ERR_EXISTS : GX_OK;
}

gx_err gx_engine_add_demand(gx_engine *e, gx_demand *in, int64_t now, gx_fxv *fx)
{
    gx_firm *fm = NULL;
    e->now = now;
    e->mut++;
    gx_err err = s_demand_new(e, in, &fm);
    if (!err)
        err = s_exp_reserve(e);
    if (err) {
        gx_demand_fini(in);
        return err;
    }
    int64_t at = in->expires_at;
    uint64_t id = in->id;
    if (!(err = gx_elist_demand_add(e, in, fm, now, fx)))
        s_exp_push(e, at, id, true);
    return err;
}

gx_err gx_engine_update_demand(gx_engine *e, gx_demand *in, int64_t now, gx_fxv *fx)
{
    gx_demand d = *in;
    memset(in, 0, sizeof *in);
    gx_err err;
    e->now = now;
    e->mut++;
    gx_edem *dem = gx_epost_dem(e, d.id);
    if (d.state != GX_STATE_OPEN || !gx_kind_valid(d.kind))
        err = GX_ERR_INVALID;
    else if (!dem || !gx_epost_firm(e, d.owner))
        err = GX_ERR_NOT_FOUND;
    else if ((err = s_exp_reserve(e)))
        ;
    else if (!(err = gx_elist_demand_reeval(e, dem, &d, gx_epost_firm(e, dem->d.owner),
                                            GX_REASON_DEMAND_CHANGED, now, fx)))
        s_exp_push(e, dem->d.expires_at, dem->d.id, true); /* the old time, if it differs, is stale */
    gx_demand_fini(&d);
    return err;
}

gx_err gx_engine_close_demand(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx)
{
    if (state != GX_STATE_AWARDED && state != GX_STATE_WITHDRAWN && state != GX_STATE_EXPIRED)
        return GX_ERR_INVALID;
    gx_edem *dem = gx_epost_dem(e, id);
    if (!dem)
        return GX_ERR_NOT_FOUND;
    e->mut++;
    return gx_elist_demand_close(e, dem, (gx_fx){0}, fx);
}

gx_err gx_engine_add_offer(gx_engine *e, gx_offer *in, int64_t now, gx_fxv *fx)
{
    gx_firm *f = gx_epost_firm(e, in->owner);
    gx_err err = GX_OK;
    e->now = now;
    e->mut++;
    if (in->state != GX_STATE_OPEN)
        err = GX_ERR_INVALID;
    else if (!f)
        err = GX_ERR_NOT_FOUND;
    else if (gx_epost_off(e, in->id))
        err = GX_ERR_EXISTS;
    else
        err = s_exp_reserve(e);
    if (err) {
        gx_offer_fini(in);
        return err;
    }
    int64_t at = in->expires_at;
    uint64_t id = in->id;
    if (!(err = gx_elist_offer_add(e, in, f, now, fx)))
        s_exp_push(e, at, id, false);
    return err;
}

gx_err gx_engine_update_offer(gx_engine *e, gx_offer *in, int64_t now, gx_fxv *fx)
{
    gx_offer o = *in;
    memset(in, 0, sizeof *in);
    gx_err err;
    e->now = now;
    e->mut++;
    gx_eoff *off = gx_epost_off(e, o.id);
    if (o.state != GX_STATE_OPEN)
        err = GX_ERR_INVALID;
    else if (!off || !gx_epost_firm(e, o.owner))
        err = GX_ERR_NOT_FOUND;
    else if ((err = s_exp_reserve(e)))
        ;
    else if (!(err = gx_elist_offer_reeval(e, off, &o, NULL, GX_REASON_OFFER_UPDATED, now, fx)))
        s_exp_push(e, off->o.expires_at, off->o.id, false);
    gx_offer_fini(&o);
    return err;
}

gx_err gx_engine_close_offer(gx_engine *e, uint64_t id, gx_state state, gx_fxv *fx)
{
    if (state != GX_STATE_WITHDRAWN && state != GX_STATE_EXPIRED)
        return GX_ERR_INVALID;
    gx_eoff *off = gx_epost_off(e, id);
    if (!off)
        return GX_ERR_NOT_FOUND;
    e->mut++;
    return gx_elist_offer_close(
        e, off, state == GX_STATE_EXPIRED ? GX_REASON_OFFER_EXPIRED : GX_REASON_OFFER_WITHDRAWN, (gx_fx){0},
        fx);
}

gx_err gx_engine_add_sub(gx_engine *e, gx_sub *in, int64_t now, gx_fxv *fx)
{
    gx_sub s = *in;
    memset(in, 0, sizeof *in);
    gx_sub *se = NULL;
    uint64_t *hits = NULL;
    size_t n = 0, cap = 0;
    gx_err err = GX_OK;
    e->now = now;
    e->mut++;
    if (!gx_epost_firm(e, s.owner))
        err = GX_ERR_NOT_FOUND;
    else if (gx_emap_get(&e->subs, s.id, NULL))
        err = GX_ERR_EXISTS;
    else if (!(se = malloc(sizeof *se)))
        err = GX_ERR_NOMEM;
    for (unsigned k = 1; !err && k < GX_KIND__COUNT; k++) {
        if (s.kinds && !gx_serves(s.kinds, k))
            continue;
        for (size_t i = 0; !err && i < e->dk[k].n; i++) {
            const gx_edem *dem = e->dk[k].v[i];
            const gx_firm *df = gx_epost_firm(e, dem->d.owner);
            if (df && gx_epost_sub_hit(e, &s, &dem->d, df) && !(err = S_GROW(hits, cap, n + 1)))
                hits[n++] = dem->d.id;
        }
    }
    if (!err && !(err = gx_fx_reserve(fx, n)))
        err = gx_emap_reserve(&e->subs, e->subs.n + 1);
    if (err)
        goto out;
    gx_sv_sort(hits, n, sizeof *hits, gx_sv_cmp_u64);
    *se = s;
    memset(&s, 0, sizeof s);
    gx_emap_insert(&e->subs, se->id, se);
    for (size_t i = 0; i < n; i++)
        gx_fx_emit(fx, (gx_fx){.type = GX_FX_SUB_HIT, .demand_id = hits[i], .sub_id = se->id});
    se = NULL;
out:
    free(se);
    free(hits);
    gx_sub_fini(&s);
    return err;
}

gx_err gx_engine_remove_sub(gx_engine *e, uint64_t id)
{
    gx_sub *s = gx_emap_get(&e->subs, id, NULL);
    if (!s)
        return GX_ERR_NOT_FOUND;
    gx_emap_remove(&e->subs, id, NULL);
    gx_sub_fini(s);
    free(s);
    return GX_OK;
}

/* ---- when postings expire: a min-heap of (expires_at, id), so that a sweep
 * costs what expires, not a pass over every posting (at 10^5 open postings
 * that pass stalled the loop some 15 ms a second). Entries are not removed
 * when a posting goes or changes its time: one that comes up is kept only if
 * the posting still has that time; the heap is rebuilt when stale entries
 * outnumber the postings. */

static bool s_exp_before(const gx_eexp *a, const gx_eexp *b)
{
    return a->at < b->at || (a->at == b->at && a->id < b->id);
}

static void s_exp_swap(gx_eexp *h, size_t i, size_t j)
{
    gx_eexp t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void s_exp_up(gx_eexp *h, size_t i)
{
    while (i > 0 && s_exp_before(&h[i], &h[(i - 1) / 2])) {
        s_exp_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void s_exp_down(gx_eexp *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && s_exp_before(&h[l], &h[m]))
            m = l;
        if (r < n && s_exp_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        s_exp_swap(h, i, m);
        i = m;
    }
}

/* Room for one more entry, before a change that may push one (so that the
 * change is all or nothing). */
static gx_err s_exp_reserve(gx_engine *e)
{
    return S_GROW(e->exp, e->cap_exp, e->n_exp + 1);
}

static void s_exp_push(gx_engine *e, int64_t at, uint64_t id, bool is_dem)
{
    if (at == 0)
        return;                   /* never expires */
    if (e->n_exp == e->cap_exp) { /* no room reserved: cannot happen, but never lose a posting's time */
        e->exp_lost = true;
        return;
    }
    e->exp[e->n_exp] = (gx_eexp){.at = at, .id = id, .is_dem = is_dem};
    s_exp_up(e->exp, e->n_exp++);
}

/* The posting's expiry time as the engine holds it; -1 when it is not held. */
static int64_t s_exp_now_at(const gx_engine *e, const gx_eexp *x)
{
    if (x->is_dem) {
        const gx_edem *d = gx_epost_dem(e, x->id);
        return d ? d->d.expires_at : -1;
    }
    const gx_eoff *o = gx_epost_off(e, x->id);
    return o ? o->o.expires_at : -1;
}

/* The heap again from every posting held: after a failed push, or when stale
 * entries outnumber the postings. False when out of memory. */
static bool s_exp_rebuild(gx_engine *e)
{
    size_t n = 0, want = e->demands.n + e->offers.n;
    gx_eexp *h = malloc((want ? want : 1) * sizeof *h);
    if (!h)
        return false;
    for (int pass = 0; pass < 2; pass++) {
        const gx_emap *m = pass == 0 ? &e->demands : &e->offers;
        for (size_t i = 0; i < m->cap; i++) {
            const gx_edem *dv = m->s[i].val;
            const gx_eoff *ov = m->s[i].val;
            if (!dv)
                continue;
            int64_t at = pass == 0 ? dv->d.expires_at : ov->o.expires_at;
            if (at)
                h[n++] = (gx_eexp){.at = at, .id = m->s[i].key, .is_dem = pass == 0};
        }
    }
    for (size_t i = n / 2; i-- > 0;)
        s_exp_down(h, n, i);
    free(e->exp);
    e->exp = h;
    e->n_exp = n;
    e->cap_exp = want ? want : 1;
    e->exp_lost = false;
    return true;
}

/* The ids of the demands (pass 0) and offers (pass 1) due at now, each once,
 * sorted; taken out of the heap. */
static gx_err s_exp_due(gx_engine *e, int64_t now, uint64_t *ids[2], size_t n[2])
{
    size_t cap[2] = {0, 0};
    if ((e->exp_lost || e->n_exp > 2 * (e->demands.n + e->offers.n) + 4096) && !s_exp_rebuild(e))
        return GX_ERR_NOMEM;
    while (e->n_exp && e->exp[0].at <= now) {
        gx_eexp x = e->exp[0];
        int p = x.is_dem ? 0 : 1;
        if (s_exp_now_at(e, &x) == x.at) {
            if (S_GROW(ids[p], cap[p], n[p] + 1))
                return GX_ERR_NOMEM; /* the entry stays: tried again next time */
            ids[p][n[p]++] = x.id;
        }
        e->exp[0] = e->exp[--e->n_exp];
        s_exp_down(e->exp, e->n_exp, 0);
    }
    for (int p = 0; p < 2; p++) { /* a posting pushed twice with one time comes up twice */
        gx_sv_sort(ids[p], n[p], sizeof *ids[p], gx_sv_cmp_u64);
        size_t w = 0;
        for (size_t i = 0; i < n[p]; i++)
            if (!w || ids[p][w - 1] != ids[p][i])
                ids[p][w++] = ids[p][i];
        n[p] = w;
    }
    return GX_OK;
}

size_t gx_engine_expire(gx_engine *e, int64_t now, gx_fxv *fx)
{
    size_t closed = 0;
    bool ok = true;
    e->now = now;
    e->mut++;
    uint64_t *due[2] = {NULL, NULL};
    size_t n_due[2] = {0, 0};
    bool by_heap = s_exp_due(e, now, due, n_due) == GX_OK;
    /* demands first, so closing their offers does not churn their shortlists */
    for (int pass = 0; pass < 2 && ok; pass++) {
        uint64_t *ids = due[pass];
        size_t n = n_due[pass];
        due[pass] = NULL;
        if (!by_heap) { /* out of memory for the heap: every posting read */
            free(ids);
            ids = NULL;
            n = 0;
            ok = s_collect(pass == 0 ? &e->demands : &e->offers, pass == 0, NULL, now, &ids, &n) == GX_OK;
            e->exp_lost = true;
        }
        for (size_t i = 0; ok && i < n; i++) {
            if (pass == 0) {
                gx_fx first = {.type = GX_FX_DEMAND_CLOSED, .demand_id = ids[i], .state = GX_STATE_EXPIRED};
                ok = gx_elist_demand_close(e, gx_epost_dem(e, ids[i]), first, fx) == GX_OK;
            } else {
                gx_fx first = {.type = GX_FX_OFFER_CLOSED, .offer_id = ids[i], .state = GX_STATE_EXPIRED};
                ok = gx_elist_offer_close(e, gx_epost_off(e, ids[i]), GX_REASON_OFFER_EXPIRED, first, fx) ==
                     GX_OK;
            }
            closed += ok;
        }
        free(ids);
    }
    free(due[0]);
    free(due[1]);
    if (!ok) /* some came out of the heap and stay open: the next sweep finds them afresh */
        e->exp_lost = true;
    return closed;
}

const gx_firm *gx_engine_firm(const gx_engine *e, const char *id)
{
    return gx_epost_firm(e, id);
}

const gx_demand *gx_engine_demand(const gx_engine *e, uint64_t id)
{
    const gx_edem *d = gx_epost_dem(e, id);
    return d ? &d->d : NULL;
}

const gx_offer *gx_engine_offer(const gx_engine *e, uint64_t id)
{
    const gx_eoff *o = gx_epost_off(e, id);
    return o ? &o->o : NULL;
}

const gx_sub *gx_engine_sub(const gx_engine *e, uint64_t id)
{
    return gx_emap_get(&e->subs, id, NULL);
}

const gx_match *gx_engine_matches(const gx_engine *e, uint64_t demand_id, size_t *n)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    *n = d ? d->n_m : 0;
    return d ? d->m : NULL;
}

size_t gx_engine_eligible(const gx_engine *e, uint64_t demand_id)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    return d ? d->n_elig : 0;
}

bool gx_engine_ranked(const gx_engine *e, uint64_t demand_id)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    return d && d->gen == e->gen;
}

gx_err gx_engine_rank(gx_engine *e, uint64_t demand_id, int64_t now, const gx_match **m, size_t *n)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    *m = NULL;
    *n = 0;
    if (!d)
        return GX_ERR_NOT_FOUND;
    gx_err err = gx_elist_rank_all(e, d, now);
    if (!err) {
        *m = e->rk;
        *n = e->n_rk;
    }
    return err;
}

gx_err gx_engine_explain(const gx_engine *e, uint64_t demand_id, uint64_t offer_id, int64_t now,
                         gx_explain *out)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    const gx_eoff *o = gx_epost_off(e, offer_id);
    const gx_firm *df = d ? gx_epost_firm(e, d->d.owner) : NULL,
                  *of = o ? gx_epost_firm(e, o->o.owner) : NULL;
    if (!df || !of)
        return GX_ERR_NOT_FOUND;
    gx_rules_evaluate(&e->opts.rules, &d->d, df, &o->o, of, now, true, out);
    return GX_OK;
}

static int s_cmp_fm(const void *a, const void *b)
{
    uint64_t x = ((const struct s_fm *)a)->h, y = ((const struct s_fm *)b)->h;
    return x < y ? -1 : x > y;
}

bool gx_engine_firm_matches(gx_engine *e, uint64_t demand_id, const char *firm_id, int64_t now)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    for (size_t i = 0; d && i < d->n_m; i++) {
        const gx_eoff *o = gx_epost_off(e, d->m[i].offer_id);
        if (o && strcmp(o->o.owner, firm_id) == 0)
            return true;
    }
    if (!d || d->n_elig <= d->n_m)
        return false;
    /* Not among the held: the eligible offers' owners, found once per demand
     * and change (a demand's update is told to many firms in a row). */
    if (e->fm_did != demand_id || e->fm_mut != e->mut) {
        e->fm_did = 0;
        e->n_fm = 0;
        if (gx_elist_rank_all(e, d, now) || S_GROW(e->fm, e->cap_fm, e->n_rk))
            return false;
        for (size_t i = 0; i < e->n_rk; i++) {
            const gx_eoff *o = gx_epost_off(e, e->rk[i].offer_id);
            e->fm[e->n_fm++] = (struct s_fm){.h = gx_fnv1a_str(GX_FNV_SEED, o->o.owner), .off = o};
        }
        gx_sv_sort(e->fm, e->n_fm, sizeof *e->fm, s_cmp_fm);
        e->fm_did = demand_id;
        e->fm_mut = e->mut;
    }
    uint64_t h = gx_fnv1a_str(GX_FNV_SEED, firm_id);
    for (size_t i = gx_sv_lower(e->fm, e->n_fm, sizeof *e->fm, h); i < e->n_fm && e->fm[i].h == h; i++)
        if (strcmp(e->fm[i].off->o.owner, firm_id) == 0)
            return true;
    return false;
}

gx_err gx_engine_proposed_set(gx_engine *e, uint64_t demand_id, int64_t now, uint64_t *ids, size_t cap,
                              size_t *n, double *coverage)
{
    const gx_edem *dem = gx_epost_dem(e, demand_id);
    *n = 0;
    *coverage = 0;
    if (!dem)
        return GX_ERR_NOT_FOUND;
    if (!dem->d.splittable)
        return GX_OK;
    int64_t du = (int64_t)dem->d.needed_by - gx_date_of(now, e->opts.rules.utc_offset_min);
    double days = du > 0 ? (double)du : 0, q = dem->d.quantity, sum = 0;
    size_t limit = dem->d.max_suppliers ? gx_sv_min(cap, dem->d.max_suppliers) : cap;
    bool by_capacity = gx_rules_applies(dem->d.kind, GX_RULE_CAPACITY);
    const gx_match *m = dem->m;
    size_t n_m = dem->n_m;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_m && *n < limit && sum < q; i++) {
            const gx_eoff *o = gx_epost_off(e, m[i].offer_id);
            /* a licence is not produced by the month: one licensor grants all */
            double c = !o ? 0 : by_capacity ? o->o.monthly_capacity * days / 30.0 : q;
            if (!(c > 0))
                continue; /* contributes nothing to the quantity */
            ids[(*n)++] = m[i].offer_id;
            sum += c;
        }
        /* not covered by the held list while more are eligible: rank them all */
        if (pass || *n >= limit || sum >= q || dem->n_elig <= dem->n_m || gx_elist_rank_all(e, dem, now))
            break;
        m = e->rk;
        n_m = e->n_rk;
        *n = 0;
        sum = 0;
    }
    *coverage = q > 0 ? sum / q : 1.0;
    return GX_OK;
}

size_t gx_engine_near_misses(const gx_engine *e, uint64_t demand_id, uint64_t *offer_ids, gx_rule *rules,
                             size_t cap)
{
    const gx_edem *d = gx_epost_dem(e, demand_id);
    size_t n = d ? gx_sv_min(d->n_nm, cap) : 0;
    for (size_t i = 0; i < n; i++) {
        offer_ids[i] = d->nm[i].offer_id;
        rules[i] = d->nm[i].rule;
    }
    return n;
}

static void s_stats(const gx_engine *e, gx_engine_stats *out, bool by_rule);

uint64_t gx_engine_pairs(const gx_engine *e)
{
    return e->pairs;
}

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
    out->refills = e->refills;
    out->pairs_evaluated = e->pairs;
    for (int k = 1; k < GX_KIND__COUNT; k++) {
        out->demands_by_kind[k] = e->dk[k].n;
        for (size_t i = 0; i < e->dk[k].n; i++) {
            const gx_edem *d = e->dk[k].v[i];
            out->matches += d->n_elig;
            out->held += d->n_m;
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
            const gx_edem *d = e->dk[k].v[i];
            uint32_t by_rule[GX_RULE__COUNT] = {0};
            gx_enear_by_rule(d, by_rule);
            fn(ctx, &d->d, d->f, d->n_elig, by_rule);
        }
}

void gx_engine_each_offer(const gx_engine *e, gx_engine_offer_fn fn, void *ctx)
{
    for (size_t i = 0; i < e->offers.cap; i++) {
        const gx_eoff *o = e->offers.s[i].val;
        if (o)
            fn(ctx, &o->o, o->f);
    }
}

const gx_near *gx_engine_near_list(const gx_engine *e, uint64_t demand_id, size_t *n)
{
    const gx_edem *dem = gx_epost_dem(e, demand_id);
    *n = dem ? dem->n_nm : 0;
    return dem ? dem->nm : NULL;
}

/* ---- copy on first change */

static void s_frz_lists(const gx_engine *e, const gx_edem *dem, gx_engine_lists *out)
{
    *out = (gx_engine_lists){.demand_id = dem->d.id,
                             .m = dem->m,
                             .n_m = dem->n_m,
                             .n_elig = dem->n_elig,
                             .nm = dem->nm,
                             .n_nm = dem->n_nm,
                             .ranked = dem->gen == e->frz_gen};
}

void gx_efrz_save(gx_engine *e, gx_edem *dem)
{
    gx_engine_lists l;
    dem->frz = e->frz_no;
    s_frz_lists(e, dem, &l);
    e->frz_save(e->frz_arg, &l);
}

gx_err gx_engine_freeze(gx_engine *e, gx_engine_save_fn save, void *arg, uint64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (e->frozen)
        return GX_ERR_CONFLICT;
    uint64_t *v = malloc((e->demands.n ? e->demands.n : 1) * sizeof *v);
    if (!v)
        return GX_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < e->demands.cap; i++) /* the slots' keys: no demand is read */
        if (e->demands.s[i].val)
            v[k++] = e->demands.s[i].key;
    e->frozen = true;
    e->frz_no++; /* every demand open now differs from it until handed out */
    e->frz_gen = e->gen;
    e->frz_save = save;
    e->frz_arg = arg;
    *ids = v;
    *n = k;
    return GX_OK;
}

bool gx_engine_frozen_take(gx_engine *e, uint64_t demand_id, gx_engine_lists *out)
{
    gx_edem *dem = e->frozen ? gx_epost_dem(e, demand_id) : NULL;
    if (!dem || dem->frz == e->frz_no)
        return false;
    dem->frz = e->frz_no;
    s_frz_lists(e, dem, out);
    return true;
}

void gx_engine_thaw(gx_engine *e)
{
    e->frozen = false;
    e->frz_save = NULL;
    e->frz_arg = NULL;
}

gx_err gx_engine_restore_demand(gx_engine *e, gx_demand *in, const gx_match *m, size_t n_m, size_t n_elig,
                                const gx_near *nm, size_t n_nm, int64_t now)
{
    const gx_demand *d = in; /* taken only once nothing can fail */
    gx_efiling f = {0};
    gx_edem *dem = NULL;
    e->now = now;
    e->mut++;
    gx_firm *fm = NULL;
    gx_err err = s_demand_new(e, d, &fm);
    if (!err && (n_elig < n_m || n_m > gx_hmax(e)))
        err = GX_ERR_INVALID;
    /* The lists must be what an engine could hold: matches best first, near
     * misses by offer id, every offer held, serving the kind, in one list only,
     * and this demand after every demand the offers already link to. */
    uint64_t stamp = ++e->stamp; /* marks the offers seen, to refuse one listed twice */
    for (size_t i = 0; !err && i < n_m + n_nm; i++) {
        uint64_t oid = i < n_m ? m[i].offer_id : nm[i - n_m].offer_id;
        gx_eoff *off = gx_epost_off(e, oid);
        if (!off || off->stamp == stamp || !gx_serves(off->o.kinds, d->kind) ||
            (off->n_l && off->l[off->n_l - 1].demand_id >= d->id))
            err = GX_ERR_INVALID;
        else if (i < n_m && i > 0 && gx_elist_cmp_match(&m[i - 1], &m[i]) >= 0)
            err = GX_ERR_INVALID;
        else if (i > n_m && nm[i - n_m - 1].offer_id >= oid)
            err = GX_ERR_INVALID;
        else if (i >= n_m && (nm[i - n_m].rule <= GX_RULE_NONE || nm[i - n_m].rule >= GX_RULE__COUNT))
            err = GX_ERR_INVALID;
        else
            off->stamp = stamp;
    }
    if (!err)
        err = s_exp_reserve(e);
    if (!err && !(dem = calloc(1, sizeof *dem)))
        err = GX_ERR_NOMEM;
    if (!err && n_m && !(dem->m = malloc(n_m * sizeof *dem->m)))
        err = GX_ERR_NOMEM;
    if (!err && n_nm && !(dem->nm = malloc(n_nm * sizeof *dem->nm)))
        err = GX_ERR_NOMEM;
    if (!err)
        err = gx_prep_demand_build(&e->intern, d, &dem->prep);
    for (size_t i = 0; !err && i < n_m; i++) { /* links: the held only */
        gx_eoff *off = gx_epost_off(e, m[i].offer_id);
        err = S_GROW(off->l, off->cap_l, off->n_l + 1);
    }
    if (!err && !(err = gx_emap_reserve(&e->demands, e->demands.n + 1)) &&
        !(err = gx_epost_demand_filing(e, d, &f)))
        err = S_GROW(e->dk[d->kind].v, e->dk[d->kind].cap, e->dk[d->kind].n + 1);
    if (err)
        goto out;
    /* nothing can fail from here */
    if (n_m)
        memcpy(dem->m, m, n_m * sizeof *m);
    dem->n_m = dem->cap_m = n_m;
    dem->n_elig = n_elig;
    if (n_nm)
        memcpy(dem->nm, nm, n_nm * sizeof *nm);
    dem->n_nm = dem->cap_nm = n_nm;
    for (size_t i = 0; i < n_m; i++) {
        gx_eoff *off = gx_epost_off(e, m[i].offer_id);
        off->l[off->n_l++] = (gx_elink){.demand_id = d->id}; /* demands come in id order: appending keeps
                                                               * the links sorted */
    }
    dem->d = *in;
    memset(in, 0, sizeof *in);
    dem->f = fm;
    gx_terms_dmask(&e->opts.rules, &dem->d, fm, &dem->mask);
    dem->gen = e->gen;
    dem->frz = e->frz_no; /* not in a freeze begun before it */
    dem->t_eval = now; /* a restart: pairs lapsed with the date before it may stay counted */
    dem->k_pub = e->opts.shortlist_k;
    gx_emap_insert(&e->demands, dem->d.id, dem);
    dem->kpos = gx_epost_plist_push(&e->dk[dem->d.kind], dem);
    gx_epost_file(e->dix, dem, &dem->refs, &dem->n_refs, &f);
    s_exp_push(e, dem->d.expires_at, dem->d.id, true);
    dem = NULL;
out:
    if (dem) {
        free(dem->m);
        free(dem->nm);
        gx_prep_demand_fini(&dem->prep);
        free(dem);
    }
    gx_epost_filing_fini(&f);
    return err;
}
