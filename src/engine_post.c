/* engine_post.c — the engine's postings: maps by id, the lists of open
 * postings by kind, and the candidate index.
 *
 * Candidates. Two inverted indexes (index.h, keyed as terms.h says) keep
 * evaluation proportional to the plausible candidates, not to the open
 * postings. Offers are filed, per kind they serve, under every dotted prefix
 * of their processes and materials and the section/class/subclass of their
 * IPC classes. A new demand looks up the family keys (gx_rules_family_len) of
 * one of its term rules — process, material or IPC, whichever has the
 * shortest lists — and evaluates only the offers found: any offer that passes
 * that rule, or is a relevant near miss on it (gx_rules_near_relevant), holds
 * one of those keys, and a near miss on any other rule passes it. Demands are
 * filed under the family keys of their first term rule that names terms (or
 * '*'), and a new offer looks up its own keys (and '*') in the kinds it
 * serves. Before any rule runs, each candidate's Bloom signature
 * (gx_terms_plausible) drops the pairs certain to fail two rules, and the
 * rules it proves failed are not evaluated again. Only a demand naming no
 * process, material or IPC class is evaluated against every offer of its
 * kind. Filing and unfiling cost O(keys); the per-kind lists remain for that
 * fallback and for subscriptions. */
#include "engine_int.h"

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
static size_t s_map_find(const gx_emap *m, uint64_t key, const char *sid)
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

void *gx_emap_get(const gx_emap *m, uint64_t key, const char *sid)
{
    size_t i = s_map_find(m, key, sid);
    return i == SIZE_MAX ? NULL : m->s[i].val;
}

void gx_emap_insert(gx_emap *m, uint64_t key, void *val)
{
    size_t mask = m->cap - 1, i = s_mix(key) & mask;
    while (m->s[i].val)
        i = (i + 1) & mask;
    m->s[i].key = key;
    m->s[i].val = val;
    m->n++;
}

/* Makes room for n entries in all; the following inserts cannot fail. */
gx_err gx_emap_reserve(gx_emap *m, size_t n)
{
    if (n <= m->cap / 2)
        return GX_OK;
    size_t nc = m->cap ? m->cap : 16;
    while (n > nc / 2) {
        if (nc > SIZE_MAX / 2 / sizeof(gx_eslot))
            return GX_ERR_NOMEM;
        nc *= 2;
    }
    gx_emap old = *m;
    m->s = calloc(nc, sizeof *m->s);
    if (!m->s) {
        *m = old;
        return GX_ERR_NOMEM;
    }
    m->cap = nc;
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.s[i].val)
            gx_emap_insert(m, old.s[i].key, old.s[i].val);
    free(old.s);
    return GX_OK;
}

void gx_emap_remove(gx_emap *m, uint64_t key, const char *sid)
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

gx_firm *gx_epost_firm(const gx_engine *e, const char *id)
{
    return gx_emap_get(&e->firms, gx_fnv1a_str(GX_FNV_SEED, id), id);
}

gx_edem *gx_epost_dem(const gx_engine *e, uint64_t id)
{
    return gx_emap_get(&e->demands, id, NULL);
}

gx_eoff *gx_epost_off(const gx_engine *e, uint64_t id)
{
    return gx_emap_get(&e->offers, id, NULL);
}

void gx_epost_dem_free(gx_edem *dem)
{
    gx_demand_fini(&dem->d);
    gx_prep_demand_fini(&dem->prep);
    free(dem->m);
    free(dem->nm);
    free(dem->refs);
    free(dem);
}

void gx_epost_off_free(gx_eoff *off)
{
    gx_offer_fini(&off->o);
    gx_prep_offer_fini(&off->prep);
    free(off->l);
    free(off->refs);
    free(off);
}

/* Classifies (d, o) at now: S_MATCH, S_NEAR (with *rule) or S_NONE. */
/* When a pair is judged: now, or the last second both postings were open.
 * A posting stays held until gx_engine_expire closes it, and every pair
 * with it is judged as it stood before it expired, so that a count made in
 * that gap and the offer's close afterwards agree (the date only takes
 * eligibility away, so a pair judged later never counts where an earlier
 * judgement did not). */
static int64_t s_pair_time(int64_t d_expires, int64_t o_expires, int64_t now)
{
    if (d_expires > 0 && d_expires <= now)
        now = d_expires - 1;
    if (o_expires > 0 && o_expires <= now)
        now = o_expires - 1;
    return now;
}

/* Judges a pair on prepared records: no string compared (the firms must be
 * the engine's, or copies of them, so that gx_fprep holds). */
int gx_epost_classify(gx_engine *e, const gx_prep_demand *d, const gx_firm *df, const gx_prep_offer *o,
                      const gx_firm *of, int64_t now, uint32_t known_fail, double *score, gx_rule *rule)
{
    e->pairs++;
    now = s_pair_time(d->fig.expires_at, o->fig.expires_at, now);
    switch (gx_rules_classify_prep(&e->opts.rules, d, gx_fprep(df), o, gx_fprep(of), now, known_fail, score,
                                   rule)) {
    case GX_PAIR_MATCH:
        return S_MATCH;
    case GX_PAIR_NEAR:
        return S_NEAR;
    default:
        return S_NONE;
    }
}

/* Appends p; returns its index. Room was reserved. */
size_t gx_epost_plist_push(gx_eplist *l, void *p)
{
    assert(l->n < l->cap);
    l->v[l->n] = p;
    return l->n++;
}

void gx_epost_dem_unindex(gx_engine *e, gx_edem *dem)
{
    gx_eplist *l = &e->dk[dem->d.kind];
    l->v[dem->kpos] = l->v[--l->n];
    if (dem->kpos < l->n)
        ((gx_edem *)l->v[dem->kpos])->kpos = dem->kpos;
}

static void s_off_unindex_kind(gx_engine *e, gx_eoff *off, unsigned k)
{
    gx_eplist *l = &e->ok[k];
    size_t pos = off->kpos[k];
    l->v[pos] = l->v[--l->n];
    if (pos < l->n)
        ((gx_eoff *)l->v[pos])->kpos[k] = pos;
}

/* Makes room in the kind lists for kinds of `to` that `from` (may be 0) lacks. */
gx_err gx_epost_kinds_reserve(gx_engine *e, uint32_t from, uint32_t to)
{
    for (unsigned k = 1; k < GX_KIND__COUNT; k++)
        if (gx_serves(to, k) && !gx_serves(from, k)) {
            gx_err err = S_GROW(e->ok[k].v, e->ok[k].cap, e->ok[k].n + 1);
            if (err)
                return err;
        }
    return GX_OK;
}

void gx_epost_kinds_move(gx_engine *e, gx_eoff *off, uint32_t from, uint32_t to)
{
    for (unsigned k = 1; k < GX_KIND__COUNT; k++) {
        if (gx_serves(from, k) && !gx_serves(to, k))
            s_off_unindex_kind(e, off, k);
        if (gx_serves(to, k) && !gx_serves(from, k))
            off->kpos[k] = gx_epost_plist_push(&e->ok[k], off);
    }
}

gx_index_ref *gx_epost_off_refs(void *item, uint32_t *n)
{
    gx_eoff *off = item;
    *n = off->n_refs;
    return off->refs;
}

gx_index_ref *gx_epost_dem_refs(void *item, uint32_t *n)
{
    gx_edem *dem = item;
    *n = dem->n_refs;
    return dem->refs;
}

void gx_epost_filing_fini(gx_efiling *f)
{
    free(f->lists);
    free(f->refs);
    memset(f, 0, sizeof *f);
}

/* Plans filing keys k under every kind in `kinds` (GX_BIT set) of ix. */
static gx_err s_filing_plan(gx_index *ix, uint32_t kinds, const gx_keys *k, gx_efiling *f)
{
    size_t n = 0;
    for (unsigned kd = 1; kd < GX_KIND__COUNT; kd++)
        n += (kinds & GX_BIT(kd)) ? k->n : 0;
    if (n > UINT32_MAX ||
        (n && (!(f->lists = malloc(n * sizeof *f->lists)) || !(f->refs = malloc(n * sizeof *f->refs)))))
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
void gx_epost_file(gx_index *ix, void *item, gx_index_ref **refs, uint32_t *n_refs, gx_efiling *f)
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
gx_err gx_epost_offer_filing(gx_engine *e, const gx_offer *o, const gx_keys *k, const gx_sig *sig,
                             gx_efiling *f)
{
    f->sig = *sig;
    return s_filing_plan(e->oix, o->kinds, k, f);
}

gx_err gx_epost_demand_filing(gx_engine *e, const gx_demand *d, gx_efiling *f)
{
    gx_keys k = {0};
    gx_err err = gx_terms_demand_keys(d, &k);
    if (!err)
        err = s_filing_plan(e->dix, gx_kind_valid(d->kind) ? GX_BIT(d->kind) : 0, &k, f);
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
gx_err gx_epost_offer_cands(gx_engine *e, const gx_demand *d, const gx_dmask *mask, void *const **v,
                            size_t *n)
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
            gx_eoff *off = items[j];
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
gx_err gx_epost_demand_cands(gx_engine *e, const gx_offer *o, const gx_keys *k, void *const **v, size_t *n)
{
    gx_err err = GX_OK;
    e->stamp++;
    e->n_cand = 0;
    for (unsigned kd = 1; !err && kd < GX_KIND__COUNT; kd++) {
        if (!gx_serves(o->kinds, kd))
            continue;
        for (size_t i = 0; !err && i <= k->n; i++) { /* its keys, then '*' */
            size_t ln;
            const gx_key *ki = i < k->n ? &k->v[i] : &(gx_key){.p = "", .len = 0, .tag = '*'};
            uint32_t l = gx_index_list(e->dix, kd, ki->tag, ki->p, ki->len, 0);
            void *const *items = gx_index_items(e->dix, l, &ln);
            for (size_t j = 0; !err && j < ln; j++)
                err = s_cand_push(e, items[j], &((gx_edem *)items[j])->stamp);
        }
    }
    *v = e->cand;
    *n = e->n_cand;
    return err;
}

/* Whether sub should hear of demand d of firm df: it passes the filters, is not
 * the subscriber's own, and neither firm is graded D. */
bool gx_epost_sub_hit(const gx_engine *e, const gx_sub *s, const gx_demand *d, const gx_firm *df)
{
    if (strcmp(s->owner, d->owner) == 0 || df->credit == GX_CREDIT_D)
        return false;
    const gx_firm *sf = gx_epost_firm(e, s->owner);
    if (sf && sf->credit == GX_CREDIT_D)
        return false;
    return gx_rules_sub_matches(s, d, df);
}
