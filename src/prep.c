/* prep.c — postings and firms prepared for the rules (see prep.h).
 *
 * Each set is built by interning the substrings that answer a rule's question
 * (prep.h lists them; rules.c says what each rule asks of the strings), then
 * sorted, deduplicated and copied into one allocation per record. */
#include "prep.h"

#include <stdlib.h>
#include <string.h>

/* A growable vector of ids while a record is built. */
typedef struct s_vec {
    uint32_t *v;
    size_t n, cap;
} s_vec;

static gx_err s_push(s_vec *x, uint32_t id)
{
    gx_err err = gx_grow(&x->v, &x->cap, x->n + 1, sizeof *x->v);
    if (!err)
        x->v[x->n++] = id;
    return err;
}

/* Interns p[0..len) and appends its id to x. */
static gx_err s_add(gx_intern *t, s_vec *x, const char *p, size_t len)
{
    uint32_t id;
    gx_err err = gx_intern_id(t, p, len, &id);
    return err ? err : s_push(x, id);
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts x and drops duplicates. */
static void s_sort_unique(s_vec *x)
{
    if (x->n < 2)
        return;
    qsort(x->v, x->n, sizeof *x->v, s_cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < x->n; i++)
        if (x->v[i] != x->v[k - 1])
            x->v[k++] = x->v[i];
    x->n = k;
}

/* True when sorted v[0..n) holds id. */
static bool s_has(const uint32_t *v, uint32_t n, uint32_t id)
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 8) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= id)
            lo = mid;
        else
            hi = mid;
    }
    for (; lo < hi && v[lo] <= id; lo++)
        if (v[lo] == id)
            return true;
    return false;
}

/* ------------------------------------------------------------------ offers */

/* Every dotted prefix of term h into all (h[0..i) where h[i] is '.' or the
 * end, the empty one included, which only near-miss families ask for), and
 * those shorter than h into sub. */
static gx_err s_dotted(gx_intern *t, const char *h, s_vec *all, s_vec *sub)
{
    gx_err err = GX_OK;
    size_t n = strlen(h);
    for (size_t i = 0; !err && i < n; i++)
        if (h[i] == '.' && !(err = s_add(t, all, h, i)))
            err = s_add(t, sub, h, i);
    return err ? err : s_add(t, all, h, n);
}

/* Every code gx_rules_ipc_covers finds covering h: its first 1..4 characters,
 * itself, and for each '/' followed by something, the main group "…/00" that
 * ends there when longer than 4 characters. */
static gx_err s_ipc(gx_intern *t, const char *h, s_vec *x)
{
    size_t n = strlen(h);
    if (n == 0)
        return GX_OK; /* an empty code covers nothing */
    gx_err err = GX_OK;
    for (size_t k = 1; !err && k <= n && k <= 4; k++)
        err = s_add(t, x, h, k);
    if (!err && n > 4)
        err = s_add(t, x, h, n);
    char small[64], *buf = small;
    for (size_t j = 0; !err && j + 1 < n; j++) {
        if (h[j] != '/' || j + 3 <= 4)
            continue;
        if (buf == small && j + 3 > sizeof small && !(buf = malloc(n + 3))) {
            err = GX_ERR_NOMEM;
            break;
        }
        memcpy(buf, h, j + 1);
        memcpy(buf + j + 1, "00", 2);
        err = s_add(t, x, buf, j + 3);
    }
    if (buf != small)
        free(buf);
    return err;
}

/* Every prefix of industry code h. */
static gx_err s_prefixes(gx_intern *t, const char *h, s_vec *x)
{
    gx_err err = GX_OK;
    for (size_t k = 1, n = strlen(h); !err && k <= n; k++)
        err = s_add(t, x, h, k);
    return err;
}

gx_err gx_prep_offer_build(gx_intern *t, const gx_offer *o, gx_prep_offer *out)
{
    memset(out, 0, sizeof *out);
    s_vec set[GX_PREP_O__COUNT] = {{0}};
    gx_err err = GX_OK;
    for (uint32_t i = 0; !err && i < o->processes.n; i++)
        if (o->processes.v[i])
            err = s_dotted(t, o->processes.v[i], &set[GX_PREP_O_PROCESS], &set[GX_PREP_O_PROCESS_SUB]);
    for (uint32_t i = 0; !err && i < o->materials.n; i++)
        if (o->materials.v[i])
            err = s_dotted(t, o->materials.v[i], &set[GX_PREP_O_MATERIAL], &set[GX_PREP_O_MATERIAL_SUB]);
    for (uint32_t i = 0; !err && i < o->ipc.n; i++)
        if (o->ipc.v[i])
            err = s_ipc(t, o->ipc.v[i], &set[GX_PREP_O_IPC]);
    for (uint32_t i = 0; !err && i < o->industries.n; i++)
        if (o->industries.v[i])
            err = s_prefixes(t, o->industries.v[i], &set[GX_PREP_O_INDUSTRY]);
    size_t total = 0;
    for (int s = 0; !err && s < GX_PREP_O__COUNT; s++) {
        s_sort_unique(&set[s]);
        total += set[s].n;
    }
    if (!err && total > UINT32_MAX)
        err = GX_ERR_NOMEM;
    if (!err && total && !(out->ids = malloc(total * sizeof *out->ids)))
        err = GX_ERR_NOMEM;
    size_t at = 0;
    for (int s = 0; !err && s < GX_PREP_O__COUNT; s++) {
        if (set[s].n)
            memcpy(out->ids + at, set[s].v, set[s].n * sizeof *set[s].v);
        at += set[s].n;
        out->end[s] = (uint32_t)at;
    }
    for (int s = 0; s < GX_PREP_O__COUNT; s++)
        free(set[s].v);
    if (err)
        gx_prep_offer_fini(out);
    else
        gx_rules_ofig(o, &out->fig);
    return err;
}

void gx_prep_offer_fini(gx_prep_offer *po)
{
    free(po->ids);
    memset(po, 0, sizeof *po);
}

/* Set s of po. */
static const uint32_t *s_oset(const gx_prep_offer *po, gx_prep_oset s, uint32_t *n)
{
    uint32_t from = s ? po->end[s - 1] : 0;
    *n = po->end[s] - from;
    return po->ids + from;
}

static bool s_in_oset(const gx_prep_offer *po, gx_prep_oset s, uint32_t id)
{
    uint32_t n;
    const uint32_t *v = s_oset(po, s, &n);
    return s_has(v, n, id);
}

/* ------------------------------------------------------------------ demands */

/* Appends wanted term w (list under rule r) to x: its id, and its family's. */
static gx_err s_want(gx_intern *t, gx_rule r, const char *w, gx_prep_want **x, size_t *n, size_t *cap)
{
    gx_err err = gx_grow(x, cap, *n + 1, sizeof **x);
    if (err)
        return err;
    gx_prep_want pw = {0};
    if (r == GX_RULE_CERTIFICATION) /* schemes compare as they are, "" too */
        err = gx_intern_id(t, w ? w : "", w ? strlen(w) : 0, &pw.id);
    else if (w && w[0])
        err = gx_intern_id(t, w, strlen(w), &pw.id);
    if (!err && w && r != GX_RULE_CERTIFICATION) {
        size_t fl = gx_rules_family_len(r, w);
        /* an IPC family of no characters is no family; a dotted one is the
         * family of the terms that are empty or start with a dot */
        if (r != GX_RULE_TECHNOLOGY || fl > 0)
            err = gx_intern_id(t, w, fl, &pw.fam);
    }
    if (!err)
        (*x)[(*n)++] = pw;
    return err;
}

gx_err gx_prep_demand_build(gx_intern *t, const gx_demand *d, gx_prep_demand *out)
{
    memset(out, 0, sizeof *out);
    static const gx_rule rule[GX_PREP_W__COUNT] = {GX_RULE_PROCESS, GX_RULE_MATERIAL, GX_RULE_TECHNOLOGY,
                                                   GX_RULE_CERTIFICATION};
    const gx_strv *list[GX_PREP_W__COUNT] = {&d->processes, &d->materials, &d->ipc, &d->certs};
    size_t n = 0, cap = 0;
    gx_err err = GX_OK;
    for (int l = 0; !err && l < GX_PREP_W__COUNT; l++) {
        for (uint32_t i = 0; !err && i < list[l]->n; i++)
            err = s_want(t, rule[l], list[l]->v[i], &out->want, &n, &cap);
        out->end[l] = (uint32_t)n;
    }
    const char *ind = d->industry;
    size_t il = ind ? strlen(ind) : 0;
    if (!err && il) {
        err = gx_intern_id(t, ind, il, &out->industry[0]);
        if (!err && il >= 4)
            err = gx_intern_id(t, ind, 4, &out->industry[1]);
        if (!err && il >= 3)
            err = gx_intern_id(t, ind, 3, &out->industry[2]);
        if (!err)
            err = gx_intern_id(t, ind, 1, &out->industry[3]);
    }
    if (err)
        gx_prep_demand_fini(out);
    else
        gx_rules_dfig(d, &out->fig);
    return err;
}

void gx_prep_demand_fini(gx_prep_demand *pd)
{
    free(pd->want);
    memset(pd, 0, sizeof *pd);
}

/* List l of pd. */
static const gx_prep_want *s_wlist(const gx_prep_demand *pd, gx_prep_wlist l, uint32_t *n)
{
    uint32_t from = l ? pd->end[l - 1] : 0;
    *n = pd->end[l] - from;
    return pd->want + from;
}

/* ------------------------------------------------------------------ firms */

static int s_cmp_cert(const void *a, const void *b)
{
    const gx_prep_cert *x = a, *y = b;
    return x->scheme < y->scheme ? -1 : x->scheme > y->scheme;
}

/* Interns f->county[0..k) into *id when the county is that long. */
static gx_err s_county_prefix(gx_intern *t, const gx_firm *f, size_t k, uint32_t *id)
{
    *id = 0;
    return strlen(f->county) >= k ? gx_intern_id(t, f->county, k, id) : GX_OK;
}

gx_err gx_prep_firm_build(gx_intern *t, const gx_rules_opts *opts, const gx_firm *f, gx_prep_firm *out)
{
    memset(out, 0, sizeof *out);
    const char *dist = gx_rules_district(opts, f);
    gx_err err = gx_intern_id(t, f->id, strlen(f->id), &out->id);
    if (!err && dist[0])
        err = gx_intern_id(t, dist, strlen(dist), &out->district);
    if (!err)
        err = s_county_prefix(t, f, 4, &out->city);
    if (!err)
        err = s_county_prefix(t, f, 2, &out->province);
    out->in_three = gx_rules_in_three(opts, dist);
    if (!err && f->n_certs && !(out->certs = malloc(f->n_certs * sizeof *out->certs)))
        err = GX_ERR_NOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; !err && i < f->n_certs; i++) {
        const gx_cert *c = &f->certs[i];
        if (!c->scheme)
            continue; /* a certificate of no scheme satisfies nothing */
        if (!(err = gx_intern_id(t, c->scheme, strlen(c->scheme), &out->certs[n].scheme)))
            out->certs[n++].valid_until = c->valid_until;
    }
    if (!err && n > 1) { /* one entry per scheme, with its latest date */
        qsort(out->certs, n, sizeof *out->certs, s_cmp_cert);
        uint32_t k = 1;
        for (uint32_t i = 1; i < n; i++) {
            if (out->certs[i].scheme != out->certs[k - 1].scheme)
                out->certs[k++] = out->certs[i];
            else if (out->certs[i].valid_until > out->certs[k - 1].valid_until)
                out->certs[k - 1].valid_until = out->certs[i].valid_until;
        }
        n = k;
    }
    out->n_certs = n;
    if (err)
        gx_prep_firm_fini(out);
    else
        gx_rules_ffig(f, &out->fig);
    return err;
}

void gx_prep_firm_fini(gx_prep_firm *pf)
{
    free(pf->certs);
    memset(pf, 0, sizeof *pf);
}

/* ------------------------------------------------------------------ questions */

/* The offer set a wanted list is looked up in. */
static gx_prep_oset s_set_of(gx_rule r)
{
    return r == GX_RULE_PROCESS    ? GX_PREP_O_PROCESS
           : r == GX_RULE_MATERIAL ? GX_PREP_O_MATERIAL
                                   : GX_PREP_O_IPC;
}

static gx_prep_wlist s_list_of(gx_rule r)
{
    return r == GX_RULE_PROCESS    ? GX_PREP_W_PROCESS
           : r == GX_RULE_MATERIAL ? GX_PREP_W_MATERIAL
                                   : GX_PREP_W_IPC;
}

bool gx_prep_terms_ok(const gx_prep_demand *pd, const gx_prep_offer *po, gx_rule r)
{
    uint32_t nw, ns;
    const gx_prep_want *w = s_wlist(pd, s_list_of(r), &nw);
    const uint32_t *set = s_oset(po, s_set_of(r), &ns);
    for (uint32_t i = 0; i < nw; i++)
        if (!w[i].id || !s_has(set, ns, w[i].id))
            return false;
    return true;
}

bool gx_prep_certs_ok(const gx_prep_demand *pd, const gx_prep_firm *pf, int32_t today)
{
    uint32_t nw;
    const gx_prep_want *w = s_wlist(pd, GX_PREP_W_CERT, &nw);
    for (uint32_t i = 0; i < nw; i++) {
        uint32_t lo = 0, hi = pf->n_certs;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (pf->certs[mid].scheme < w[i].id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == pf->n_certs || pf->certs[lo].scheme != w[i].id || pf->certs[lo].valid_until < today)
            return false;
    }
    return true;
}

bool gx_prep_in_scope(gx_scope scope, const gx_prep_firm *home, const gx_prep_firm *other)
{
    switch (scope) {
    case GX_SCOPE_SAME_DISTRICT:
        return other->district && other->district == home->district;
    case GX_SCOPE_THREE_DISTRICTS:
        return other->in_three;
    case GX_SCOPE_SAME_CITY:
        return home->city && home->city == other->city;
    case GX_SCOPE_SAME_PROVINCE:
        return home->province && home->province == other->province;
    default:
        return true;
    }
}

bool gx_prep_near_relevant(const gx_prep_demand *pd, const gx_prep_offer *po, gx_rule failed)
{
    if (failed != GX_RULE_PROCESS && failed != GX_RULE_MATERIAL && failed != GX_RULE_TECHNOLOGY)
        return true;
    uint32_t nw;
    const gx_prep_want *w = s_wlist(pd, s_list_of(failed), &nw);
    if (nw == 0)
        return true; /* failed on TRL or mode alone */
    for (uint32_t i = 0; i < nw; i++)
        if (w[i].fam && s_in_oset(po, s_set_of(failed), w[i].fam))
            return true;
    return false;
}

bool gx_prep_excluded(const gx_prep_firm *df, const gx_prep_firm *of)
{
    return df->id == of->id || df->fig.credit == GX_CREDIT_D || of->fig.credit == GX_CREDIT_D;
}

double gx_prep_term_industry(const gx_prep_demand *pd, const gx_prep_offer *po)
{
    static const double level[4] = {1.0, 0.75, 0.5, 0.25}; /* as rules.c scores them */
    if (!pd->industry[0])
        return 1.0;
    for (int i = 0; i < 4; i++)
        if (pd->industry[i] && s_in_oset(po, GX_PREP_O_INDUSTRY, pd->industry[i]))
            return level[i];
    return 0;
}

/* Sum over list l of 1.0 (a more specific term covers it), 0.8 (only an
 * equal one) or 0, in the list's order. */
static double s_specificity(const gx_prep_demand *pd, const gx_prep_offer *po, gx_prep_wlist l,
                            gx_prep_oset all, gx_prep_oset sub)
{
    uint32_t nw;
    const gx_prep_want *w = s_wlist(pd, l, &nw);
    double sum = 0;
    for (uint32_t i = 0; i < nw; i++)
        sum += !w[i].id ? 0 : s_in_oset(po, sub, w[i].id) ? 1.0 : s_in_oset(po, all, w[i].id) ? 0.8 : 0;
    return sum;
}

double gx_prep_term_process(const gx_prep_demand *pd, const gx_prep_offer *po)
{
    uint32_t n = pd->end[GX_PREP_W_MATERIAL];
    if (n == 0)
        return 1.0;
    return (s_specificity(pd, po, GX_PREP_W_PROCESS, GX_PREP_O_PROCESS, GX_PREP_O_PROCESS_SUB) +
            s_specificity(pd, po, GX_PREP_W_MATERIAL, GX_PREP_O_MATERIAL, GX_PREP_O_MATERIAL_SUB)) /
           n;
}
