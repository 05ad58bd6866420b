/* notify.c — engine effects and state changes turned into notices.
 *
 * Every notice is written to its firm's inbox inside the current request's
 * child transaction, so it exists exactly when the change that caused it is
 * committed. What is written is a compact fact (inbox.h: the type, the ids and
 * revisions it is about, rank, score, rule); gx_notify_render turns it into the
 * wire Notice, explanation and demand summary included, when it is delivered.
 * The "told" table remembers what each firm was told about each demand, so
 * that later changes reach exactly those firms, and nothing is told twice
 * (two offers of one firm matching one demand give one Opportunity; a near
 * miss recomputed after a restart is not repeated). */
#include "notify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules.h"

static void s_told_key(uint8_t k[8 + GX_FIRM_ID_LEN], uint64_t demand_id, const char *firm)
{
    gx_store_be64(k, demand_id);
    memcpy(k + 8, firm, GX_FIRM_ID_LEN);
}

gx_err gx_notify_told_get(gx_ctx *b, uint64_t demand_id, const char *firm, uint8_t *flags, uint8_t *rule)
{
    uint8_t k[8 + GX_FIRM_ID_LEN];
    const void *v;
    size_t vl;
    *flags = *rule = 0;
    s_told_key(k, demand_id, firm);
    gx_err err = gx_store_get(gx_records_txn(b), GX_T_TOLD, k, sizeof k, &v, &vl);
    if (err == GX_ERR_NOT_FOUND)
        return GX_OK;
    if (err)
        return err;
    if (vl >= 2) {
        *flags = ((const uint8_t *)v)[0];
        *rule = ((const uint8_t *)v)[1];
    }
    return GX_OK;
}

/* A firm whose home is another city's broker (federation): its notices, told
 * records and inbox are that broker's to write, never this one's. */
static bool s_remote(const gx_ctx *b, const char *firm)
{
    if (!b->fed.city)
        return false;
    const gx_firm *f = gx_engine_firm(b->engine, firm);
    return f && f->home_city;
}

gx_err gx_notify_told_set(gx_ctx *b, uint64_t demand_id, const char *firm, uint8_t flags, uint8_t rule)
{
    if (s_remote(b, firm))
        return GX_OK;
    uint8_t k[8 + GX_FIRM_ID_LEN], old, old_rule;
    gx_err err = gx_notify_told_get(b, demand_id, firm, &old, &old_rule);
    if (err)
        return err;
    uint8_t v[2] = {(uint8_t)(old | flags), rule ? rule : old_rule};
    if (v[0] == old && v[1] == old_rule)
        return GX_OK;
    s_told_key(k, demand_id, firm);
    return gx_store_put(b->child, GX_T_TOLD, k, sizeof k, v, sizeof v);
}

/* Remembers that firm's inbox grew in this batch. Marking a firm at the end
 * of the batch is idempotent, so only the latest few entries are checked for
 * a repeat: constant time per notice, at worst one entry per notice. */
static void s_touch(gx_ctx *b, const char *firm, uint64_t seq)
{
    for (size_t i = b->n_touched, k = 0; i > 0 && k < 8; i--, k++)
        if (strcmp(b->touched[i - 1].firm, firm) == 0)
            return;
    if (b->n_touched == b->cap_touched) {
        size_t cap = b->cap_touched ? b->cap_touched * 2 : 32;
        void *v = realloc(b->touched, cap * sizeof *b->touched);
        if (!v)
            return; /* delivery then waits for the firm's next notice or resume */
        b->touched = v;
        b->cap_touched = cap;
    }
    snprintf(b->touched[b->n_touched].firm, GX_FIRM_ID_LEN + 1, "%s", firm);
    b->touched[b->n_touched++].seq = seq;
}

/* What of a firm's record a rendered notice may show or be explained by. */
static uint64_t s_firm_sum(uint64_t h, const gx_firm *f)
{
    if (!f)
        return gx_fnv1a(h, "-", 1);
    h = gx_fnv1a_str(h, f->id);
    h = gx_fnv1a_str(h, f->name ? f->name : "");
    h = gx_fnv1a_str(h, f->county);
    h = gx_fnv1a_str(h, f->zone ? f->zone : "");
    /* not its contact: no notice checked against this sum shows it, and a
     * contact released by docking across cities must not mark them changed */
    uint8_t has = f->has_location;
    h = gx_fnv1a(h, &has, 1);
    if (has) {
        h = gx_fnv1a(h, &f->lat, sizeof f->lat);
        h = gx_fnv1a(h, &f->lon, sizeof f->lon);
    }
    uint32_t v[3] = {(uint32_t)f->credit, f->awards, f->n_certs};
    h = gx_fnv1a(h, v, sizeof v);
    for (uint32_t i = 0; i < f->n_certs; i++) {
        h = gx_fnv1a_str(h, f->certs[i].scheme ? f->certs[i].scheme : "");
        h = gx_fnv1a_str(h, f->certs[i].number ? f->certs[i].number : "");
        h = gx_fnv1a(h, &f->certs[i].valid_until, sizeof f->certs[i].valid_until);
    }
    return h;
}

/* The checksum of the firms a notice of this type is rendered from: the
 * demand's firm (summary, explanation), the offer's firm (explanation,
 * candidate) and the named firm (interest, counterpart); NULL for one not
 * used. Written with the fact, compared when it is rendered. */
static uint32_t s_firms_sum(const gx_firm *df, const gx_firm *of, const gx_firm *nf)
{
    uint64_t h = gx_fnv1a(0, "firms", 5);
    h = s_firm_sum(h, df);
    h = s_firm_sum(h, of);
    h = s_firm_sum(h, nf);
    return (uint32_t)(h ^ (h >> 32));
}

/* Which firms notices of type t are rendered from (and so checksummed). */
static bool s_uses_df(int t)
{
    return t != GX_N_CANDIDATE_REMOVED && t != GX_N_INTEREST_DECLINED && t != GX_N_DETAILS_RELEASED &&
           t != GX_N_OFFER_EXPIRED;
}
static bool s_uses_of(int t, bool has_offer)
{
    return has_offer && (t == GX_N_CANDIDATE_ADDED || t == GX_N_OPPORTUNITY || t == GX_N_NEAR_MISS ||
                         t == GX_N_INTEREST_RECEIVED);
}
static bool s_uses_nf(int t)
{
    return t == GX_N_INTEREST_RECEIVED || t == GX_N_DETAILS_RELEASED;
}

/* The fact that stands for n in the inbox: its type, the ids and revisions it
 * is about, and only what cannot be derived from them when it is delivered. */
static void s_fact_of(gx_ctx *b, const gx_notice *n, gx_fact *f)
{
    memset(f, 0, sizeof *f);
    f->type = (uint8_t)n->type;
    f->at = n->at;
    uint64_t did = n->demand ? n->demand->id : n->demand_id;
    const gx_demand *d = NULL;
    const gx_offer *o = NULL;
    if (did) {
        d = n->demand ? n->demand : gx_engine_demand(b->engine, did);
        f->fields |= GX_FACT_DEMAND;
        f->demand_id = did;
        f->demand_rev = d ? d->revision : 0;
    }
    if (n->offer_id && !(n->type == GX_N_OPPORTUNITY && n->sub_id)) {
        o = gx_engine_offer(b->engine, n->offer_id);
        f->fields |= GX_FACT_OFFER;
        f->offer_id = n->offer_id;
        f->offer_rev = o ? o->revision : 0; /* 0: not checked when delivered */
    }
    switch (n->type) {
    case GX_N_CANDIDATE_ADDED:
    case GX_N_NEAR_MISS:
        f->fields |= GX_FACT_RANK;
        f->rank = n->rank;
        f->score = n->score;
        f->code = n->type == GX_N_NEAR_MISS ? (uint8_t)n->rule : 0;
        break;
    case GX_N_CANDIDATE_REMOVED:
        f->code = (uint8_t)n->reason;
        break;
    case GX_N_OPPORTUNITY:
        if (n->sub_id) {
            f->fields |= GX_FACT_SUB;
            f->sub_id = n->sub_id;
        } else {
            f->fields |= GX_FACT_RANK;
            f->rank = n->rank;
            f->score = n->score;
        }
        break;
    case GX_N_INTEREST_RECEIVED:
    case GX_N_DETAILS_RELEASED:
        if (n->firm) {
            f->fields |= GX_FACT_FIRM;
            snprintf(f->firm, sizeof f->firm, "%s", n->firm->id);
        }
        if (n->type == GX_N_INTEREST_RECEIVED && n->expl && (f->fields & GX_FACT_OFFER)) {
            f->fields |= GX_FACT_RANK; /* the pair's score, to tell when its explanation changed */
            f->score = n->expl->score;
        }
        break;
    case GX_N_DEMAND_UPDATED:
        f->code = n->still_eligible;
        break;
    case GX_N_DEMAND_AWARDED:
        if (n->awarded_to) {
            f->fields |= GX_FACT_FIRM | GX_FACT_QTY;
            snprintf(f->firm, sizeof f->firm, "%s", n->awarded_to);
            f->qty = n->awarded_quantity;
        }
        break;
    case GX_N_OFFER_EXPIRED:
        f->code = (uint8_t)n->state;
        break;
    default:
        break;
    }
    if (f->type != GX_N_CANDIDATE_REMOVED && f->type != GX_N_INTEREST_DECLINED &&
        f->type != GX_N_OFFER_EXPIRED) {
        /* Read as gx_notify_render will: from the engine, else the store. */
        gx_firm rec[3];
        memset(rec, 0, sizeof rec);
        const char *ids[3] = {s_uses_df(f->type) && d ? d->owner : NULL,
                              s_uses_of(f->type, o) ? o->owner : NULL,
                              s_uses_nf(f->type) && f->firm[0] ? f->firm : NULL};
        const gx_firm *fr[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 3; i++) {
            if (ids[i] && !(fr[i] = gx_engine_firm(b->engine, ids[i])) &&
                gx_records_get_firm(b, ids[i], &rec[i]) == GX_OK)
                fr[i] = &rec[i];
        }
        f->fields |= GX_FACT_FIRMS;
        f->firms_sum = s_firms_sum(fr[0], fr[1], fr[2]);
        for (int i = 0; i < 3; i++)
            gx_firm_fini(&rec[i]);
    }
    /* Words a firm wrote (an interest message, a decline reason) are kept: they are in no other record. */
    if ((n->type == GX_N_INTEREST_RECEIVED || n->type == GX_N_INTEREST_DECLINED) && n->text && n->text[0]) {
        f->fields |= GX_FACT_TEXT;
        f->text = n->text;
        f->text_len = gx_utf8_valid_prefix(n->text, strnlen(n->text, GX_FACT_TEXT_MAX));
    }
}

gx_err gx_notify_send(gx_ctx *b, const char *firm, gx_notice *n)
{
    if (s_remote(b, firm))
        return GX_OK;
    uint64_t seq;
    gx_fact f;
    gx_err err = gx_inbox_next_seq(b->child, firm, &seq);
    if (err)
        return err;
    n->seq = seq;
    n->at = b->now;
    s_fact_of(b, n, &f);
    size_t len = gx_fact_size(&f);
    uint8_t small[128], *rec = len <= sizeof small ? small : malloc(len);
    if (!rec)
        return GX_ERR_NOMEM;
    gx_fact_encode(&f, rec);
    err = gx_inbox_append(b->child, firm, seq, rec, len);
    if (rec != small)
        free(rec);
    /* A firm that never acknowledges must not fill the store for everyone. */
    if (!err && seq > (uint64_t)b->cfg.inbox_max)
        err = gx_inbox_trim(b->child, firm, (uint64_t)b->cfg.inbox_max, NULL);
    if (!err) {
        b->counters.notices++;
        s_touch(b, firm, seq);
    }
    return err;
}

/* Rank of offer_id in the demand's shortlist (1-based), 0 when outside it. */
static uint32_t s_rank(gx_ctx *b, uint64_t demand_id, uint64_t offer_id)
{
    size_t n;
    const gx_match *m = gx_engine_matches(b->engine, demand_id, &n);
    size_t k = (size_t)b->cfg.shortlist_k;
    for (size_t i = 0; i < n && i < k; i++)
        if (m[i].offer_id == offer_id)
            return (uint32_t)i + 1;
    return 0;
}

static gx_err s_owner_of_offer(gx_ctx *b, uint64_t offer_id, char out[GX_FIRM_ID_LEN + 1])
{
    const gx_offer *o = gx_engine_offer(b->engine, offer_id);
    if (o) {
        memcpy(out, o->owner, GX_FIRM_ID_LEN + 1);
        return GX_OK;
    }
    gx_offer rec;
    gx_err err = gx_records_get_offer(b, offer_id, &rec);
    if (!err) {
        memcpy(out, rec.owner, GX_FIRM_ID_LEN + 1);
        gx_offer_fini(&rec);
    }
    return err;
}

/* What the effects of one request share while they are turned into notices. */
typedef struct s_fxrun {
    gx_explain *x;       /* a near miss's explanation (about 3 KB, for its hint), made once and reused */
    uint64_t first_seen; /* the last demand whose first match was checked (effects come grouped by demand) */
} s_fxrun;

#define S_FIRST_LEN (8 + 8 + GX_COUNTY_LEN)

gx_err gx_first_match_get(gx_txn *t, uint64_t demand_id, gx_first_match *out)
{
    uint8_t key[8];
    const void *v;
    size_t vl;
    gx_store_be64(key, demand_id);
    gx_err err = gx_store_get(t, GX_T_FIRST, key, sizeof key, &v, &vl);
    if (err)
        return err;
    if (vl != S_FIRST_LEN)
        return gx_store_failf(t, GX_ERR_INTERNAL, "first_match %llu: %zu bytes, want %d",
                              (unsigned long long)demand_id, vl, S_FIRST_LEN);
    out->at = (int64_t)gx_store_from_be64(v);
    out->offer_id = gx_store_from_be64((const uint8_t *)v + 8);
    memcpy(out->county, (const uint8_t *)v + 16, GX_COUNTY_LEN);
    out->county[GX_COUNTY_LEN] = '\0';
    return GX_OK;
}

/* Records the demand's first match, once. */
static gx_err s_first_match(gx_ctx *b, uint64_t demand_id, uint64_t offer_id, const gx_firm *of)
{
    uint8_t key[8], val[S_FIRST_LEN] = {0};
    const void *v;
    size_t vl;
    gx_store_be64(key, demand_id);
    gx_err err = gx_store_get(b->child, GX_T_FIRST, key, sizeof key, &v, &vl);
    if (err != GX_ERR_NOT_FOUND)
        return err;
    gx_store_be64(val, (uint64_t)b->now);
    gx_store_be64(val + 8, offer_id);
    if (of)
        memcpy(val + 16, of->county, GX_COUNTY_LEN);
    return gx_store_put(b->child, GX_T_FIRST, key, sizeof key, val, sizeof val);
}

static gx_err s_on_match(gx_ctx *b, s_fxrun *c, const gx_fx *f)
{
    const gx_demand *d = gx_engine_demand(b->engine, f->demand_id);
    const gx_offer *o = gx_engine_offer(b->engine, f->offer_id);
    if (!d || !o)
        return GX_OK;
    const gx_firm *df = gx_engine_firm(b->engine, d->owner);
    const gx_firm *of = gx_engine_firm(b->engine, o->owner);
    gx_monitor_event ev = {.at = b->now, .type = "match", .demand_id = d->id, .offer_id = o->id, .kind = d->kind,
                           .industry = d->industry, .district = df ? gx_firm_district(df) : NULL, .score = f->score,
                           .detail = of ? gx_firm_district(of) : NULL};
    gx_records_event(b, &ev);
    gx_err err = GX_OK;
    if (c->first_seen != d->id) {
        c->first_seen = d->id;
        err = s_first_match(b, d->id, o->id, of);
    }
    uint8_t flags, rule;
    if (!err)
        err = gx_notify_told_get(b, d->id, o->owner, &flags, &rule);
    if (err || (flags & GX_TOLD_MATCH))
        return err;
    /* The explanation is made when the notice is delivered (gx_notify_render). */
    gx_notice n = {.type = GX_N_OPPORTUNITY,
                   .demand = d,
                   .demand_firm = df,
                   .offer_id = o->id,
                   .rank = s_rank(b, d->id, o->id),
                   .score = f->score};
    if (!(err = gx_notify_send(b, o->owner, &n)))
        err = gx_notify_told_set(b, d->id, o->owner, GX_TOLD_MATCH, 0);
    return err;
}

static gx_err s_on_shortlist_add(gx_ctx *b, const gx_fx *f)
{
    const gx_demand *d = gx_engine_demand(b->engine, f->demand_id);
    const gx_offer *o = gx_engine_offer(b->engine, f->offer_id);
    if (!d || !o)
        return GX_OK;
    gx_notice n = {.type = GX_N_CANDIDATE_ADDED,
                   .demand_id = d->id,
                   .offer_id = o->id,
                   .firm = gx_engine_firm(b->engine, o->owner),
                   .rank = f->rank,
                   .score = f->score};
    gx_err err = gx_notify_send(b, d->owner, &n);
    gx_monitor_event ev = {.at = b->now, .type = "shortlist", .demand_id = d->id, .offer_id = o->id,
                           .kind = d->kind, .industry = d->industry, .score = f->score, .state = GX_STATE_OPEN};
    gx_records_event(b, &ev);
    return err;
}

static gx_err s_on_shortlist_remove(gx_ctx *b, const gx_fx *f)
{
    const gx_demand *d = gx_engine_demand(b->engine, f->demand_id);
    if (!d)
        return GX_OK; /* the demand itself closed: its owner knows */
    char owner[GX_FIRM_ID_LEN + 1] = "";
    gx_err err = s_owner_of_offer(b, f->offer_id, owner);
    if (err && err != GX_ERR_NOT_FOUND)
        return err;
    gx_firm anon = {0};
    const gx_firm *of = owner[0] ? gx_engine_firm(b->engine, owner) : NULL;
    if (!of && owner[0]) {
        memcpy(anon.id, owner, sizeof anon.id);
        of = &anon;
    }
    gx_notice n = {.type = GX_N_CANDIDATE_REMOVED, .demand_id = d->id, .offer_id = f->offer_id, .firm = of,
                   .reason = f->reason};
    return gx_notify_send(b, d->owner, &n);
}

/* tell: whether the SME hears of it; one not told is recorded by the engine
 * and counted in Stats, but neither pushed nor put on the monitor stream. */
static gx_err s_on_near_miss(gx_ctx *b, s_fxrun *c, const gx_fx *f, bool tell)
{
    if (!tell)
        return GX_OK;
    const gx_demand *d = gx_engine_demand(b->engine, f->demand_id);
    const gx_offer *o = gx_engine_offer(b->engine, f->offer_id);
    if (!d || !o)
        return GX_OK;
    const gx_firm *df = gx_engine_firm(b->engine, d->owner);
    gx_monitor_event ev = {.at = b->now, .type = "near_miss", .demand_id = d->id, .offer_id = o->id, .kind = d->kind,
                           .industry = d->industry, .district = df ? gx_firm_district(df) : NULL, .rule = f->rule,
                           .score = f->score};
    uint8_t flags, rule;
    gx_err err = gx_notify_told_get(b, d->id, o->owner, &flags, &rule);
    if (err || ((flags & GX_TOLD_NEAR) && rule == (uint8_t)f->rule) || (flags & GX_TOLD_MATCH))
        return err;
    if (!c->x && !(c->x = malloc(sizeof *c->x)))
        return GX_ERR_NOMEM;
    if (!(err = gx_engine_explain(b->engine, d->id, o->id, b->now, c->x))) {
        /* the monitor's readers choose their language: the hint in both */
        char hint[GX_DETAIL_MAX + 64], hint_zh[2 * GX_DETAIL_MAX + 64];
        gx_rules_words zh = {.lang = GX_LANG_ZH, .vocab = b->vocab};
        gx_rules_hint(c->x, f->rule, hint, sizeof hint);
        gx_rules_hint_in(c->x, f->rule, &zh, hint_zh, sizeof hint_zh);
        ev.detail = hint;
        ev.detail_zh = hint_zh;
        gx_records_event(b, &ev);
        gx_notice n = {.type = GX_N_NEAR_MISS,
                       .demand = d,
                       .demand_firm = df,
                       .offer_id = o->id,
                       .rule = f->rule,
                       .score = f->score};
        if (!(err = gx_notify_send(b, o->owner, &n)))
            err = gx_notify_told_set(b, d->id, o->owner, GX_TOLD_NEAR, (uint8_t)f->rule);
    }
    return err;
}

static gx_err s_on_sub_hit(gx_ctx *b, const gx_fx *f)
{
    const gx_demand *d = gx_engine_demand(b->engine, f->demand_id);
    const gx_sub *s = gx_engine_sub(b->engine, f->sub_id);
    if (!d || !s || strcmp(s->owner, d->owner) == 0)
        return GX_OK;
    uint8_t flags, rule;
    gx_err err = gx_notify_told_get(b, d->id, s->owner, &flags, &rule);
    if (err || (flags & (GX_TOLD_MATCH | GX_TOLD_SUB)))
        return err;
    gx_notice n = {.type = GX_N_OPPORTUNITY, .demand = d, .demand_firm = gx_engine_firm(b->engine, d->owner),
                   .sub_id = s->id};
    if (!(err = gx_notify_send(b, s->owner, &n)))
        err = gx_notify_told_set(b, d->id, s->owner, GX_TOLD_SUB, 0);
    return err;
}

static int s_cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* The score a near miss needs to be told (*ties of exactly that score may
 * be): all when there are at most near_miss_tell_max. */
static gx_err s_tell_bar(const gx_ctx *b, const gx_fxv *fx, double *bar, size_t *ties)
{
    size_t n = 0, max = (size_t)b->cfg.near_miss_tell_max;
    for (size_t i = 0; i < fx->n; i++)
        n += fx->v[i].type == GX_FX_NEAR_MISS;
    *bar = -1;
    *ties = SIZE_MAX;
    if (n <= max)
        return GX_OK;
    *bar = HUGE_VAL;
    *ties = 0;
    if (max == 0)
        return GX_OK;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return GX_ERR_NOMEM;
    n = 0;
    for (size_t i = 0; i < fx->n; i++)
        if (fx->v[i].type == GX_FX_NEAR_MISS)
            s[n++] = fx->v[i].score;
    qsort(s, n, sizeof *s, s_cmp_desc);
    *bar = s[max - 1];
    for (size_t i = 0; i < max; i++)
        *ties += s[i] == *bar;
    free(s);
    return GX_OK;
}

gx_err gx_notify_effects(gx_ctx *b, const gx_fxv *fx)
{
    double bar;
    size_t ties;
    s_fxrun xc = {0};
    gx_err err = s_tell_bar(b, fx, &bar, &ties);
    /* Subscription hits go last, so a firm matched by an offer hears of it
     * through the richer Opportunity (with its explanation) first. */
    for (int pass = 0; pass < 2 && !err; pass++) {
        for (size_t i = 0; i < fx->n && !err; i++) {
            const gx_fx *f = &fx->v[i];
            if ((f->type == GX_FX_SUB_HIT) != (pass == 1))
                continue;
            switch (f->type) {
            case GX_FX_MATCH: err = s_on_match(b, &xc, f); break;
            case GX_FX_SHORTLIST_ADD:
                err = s_on_shortlist_add(b, f);
                break;
            case GX_FX_SHORTLIST_REMOVE: err = s_on_shortlist_remove(b, f); break;
            case GX_FX_NEAR_MISS: {
                bool tell = f->score > bar || (f->score == bar && ties > 0);
                ties -= f->score == bar && ties > 0;
                err = s_on_near_miss(b, &xc, f, tell);
                break;
            }
            case GX_FX_SUB_HIT: err = s_on_sub_hit(b, f); break;
            default: break; /* UNMATCH needs no notice; *_CLOSED are handled by the caller */
            }
        }
    }
    free(xc.x);
    return err;
}

typedef struct s_told_list {
    char (*firms)[GX_FIRM_ID_LEN + 1]; /* told firms */
    size_t n, cap;
    bool oom;
} s_told_list;

static bool s_told_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_told_list *l = ctx;
    if (klen != 8 + GX_FIRM_ID_LEN)
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *v = realloc(l->firms, cap * sizeof *l->firms);
        if (!v) {
            l->oom = true;
            return false;
        }
        l->firms = v;
        l->cap = cap;
    }
    memcpy(l->firms[l->n], (const uint8_t *)key + 8, GX_FIRM_ID_LEN);
    l->firms[l->n++][GX_FIRM_ID_LEN] = 0;
    return true;
}

gx_err gx_notify_demand_changed(gx_ctx *b, const gx_demand *d, int type, const char *awarded_to, double qty)
{
    uint8_t prefix[8];
    s_told_list l = {0};
    gx_store_be64(prefix, d->id);
    gx_err err = gx_store_scan(gx_records_txn(b), GX_T_TOLD, prefix, 8, NULL, 0, s_told_visit, &l);
    if (!err && l.oom)
        err = GX_ERR_NOMEM;
    const gx_firm *df = gx_engine_firm(b->engine, d->owner);
    gx_firm owner_rec = {0};
    if (!df && gx_records_get_firm(b, d->owner, &owner_rec) == GX_OK)
        df = &owner_rec;
    for (size_t i = 0; !err && i < l.n; i++) {
        const char *firm = l.firms[i];
        if (strcmp(firm, d->owner) == 0)
            continue;
        bool winner = awarded_to && strcmp(firm, awarded_to) == 0;
        gx_notice n = {.type = (gx_notice_type)type, .demand = d, .demand_firm = df,
                       .still_eligible = type == GX_N_DEMAND_UPDATED && gx_engine_firm_matches(b->engine, d->id, firm, b->now),
                       .awarded_to = winner ? awarded_to : NULL, .awarded_quantity = winner ? qty : 0};
        err = gx_notify_send(b, firm, &n);
    }
    /* The owner hears of changes it did not make itself: expiry, and awards are its own. */
    if (!err && type == GX_N_DEMAND_EXPIRED) {
        gx_notice n = {.type = GX_N_DEMAND_EXPIRED, .demand = d, .demand_firm = df};
        err = gx_notify_send(b, d->owner, &n);
    }
    gx_firm_fini(&owner_rec);
    free(l.firms);
    return err;
}

/* ------------------------------------------------------------------ rendering at delivery */

/* Postings and firms one notice is rendered from: borrowed from the engine
 * while open, else decoded from the store into the holds. */
typedef struct s_view {
    gx_demand d_hold;
    gx_offer o_hold;
    gx_firm f_hold[4]; /* demand's firm, offer's firm, the named firm, the recipient */
} s_view;

static gx_err s_load(gx_txn *t, gx_table tb, const void *key, size_t klen, const void **v, size_t *vl)
{
    gx_err err = gx_store_get(t, tb, key, klen, v, vl);
    return err == GX_ERR_NOT_FOUND ? GX_OK : err;
}

static gx_err s_view_demand(gx_ctx *b, gx_txn *t, uint64_t id, s_view *w, const gx_demand **out)
{
    uint8_t k[8];
    const void *v = NULL;
    size_t vl = 0;
    if ((*out = gx_engine_demand(b->engine, id)))
        return GX_OK;
    gx_store_be64(k, id);
    gx_err err = s_load(t, GX_T_DEMANDS, k, sizeof k, &v, &vl);
    if (!err && v && !(err = gx_codec_decode_demand(v, vl, &w->d_hold)))
        *out = &w->d_hold;
    return err;
}

static gx_err s_view_offer(gx_ctx *b, gx_txn *t, uint64_t id, s_view *w, const gx_offer **out)
{
    uint8_t k[8];
    const void *v = NULL;
    size_t vl = 0;
    if ((*out = gx_engine_offer(b->engine, id)))
        return GX_OK;
    gx_store_be64(k, id);
    gx_err err = s_load(t, GX_T_OFFERS, k, sizeof k, &v, &vl);
    if (!err && v && !(err = gx_codec_decode_offer(v, vl, &w->o_hold)))
        *out = &w->o_hold;
    return err;
}

static gx_err s_view_firm(gx_ctx *b, gx_txn *t, const char *id, gx_firm *hold, const gx_firm **out)
{
    const void *v = NULL;
    size_t vl = 0;
    if (!id[0] || (*out = gx_engine_firm(b->engine, id)))
        return GX_OK;
    gx_err err = s_load(t, GX_T_FIRMS, id, strlen(id), &v, &vl);
    if (!err && v && !(err = gx_codec_decode_firm(v, vl, hold)))
        *out = hold;
    return err;
}

/* A posting's state in lang: the wire's name in English, the catalogue's word
 * (server.state.*) otherwise. */
static const char *s_state(gx_lang lang, gx_state s, char *buf, size_t n)
{
    char id[48];
    snprintf(id, sizeof id, "server.state.%s", gx_state_name(s));
    if (lang == GX_LANG_EN || !gx_msg_has(id))
        return gx_state_name(s);
    gx_msg_format(buf, n, lang, id, NULL, 0);
    return buf;
}

static void s_view_fini(s_view *w)
{
    gx_demand_fini(&w->d_hold);
    gx_offer_fini(&w->o_hold);
    for (int i = 0; i < 4; i++)
        gx_firm_fini(&w->f_hold[i]);
}

static void s_changed(char *buf, size_t n, gx_lang lang, const char *id, ...) __attribute__((sentinel));

/* Appends one clause, catalogue message id (server.changed.*) in lang with
 * name, value pairs ending in NULL, to the changed_since line in buf. */
static void s_changed(char *buf, size_t n, gx_lang lang, const char *id, ...)
{
    size_t used = strlen(buf);
    if (used + 4 >= n)
        return;
    if (used)
        used += gx_msg_format(buf + used, n - used, lang, "server.sep.part", NULL, 0);
    if (used + 1 >= n)
        return;
    gx_msg_arg a[4];
    size_t k = 0;
    va_list ap;
    va_start(ap, id);
    for (const char *name; k < 4 && (name = va_arg(ap, const char *));) {
        a[k].name = name;
        a[k++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    gx_msg_format(buf + used, n - used, lang, id, a, k);
}

static const char *s_u(char buf[24], uint64_t v)
{
    snprintf(buf, 24, "%llu", (unsigned long long)v);
    return buf;
}

gx_err gx_notify_render(gx_ctx *b, gx_txn *t, const gx_rules_opts *ro, const char *firm, uint64_t seq,
                        const void *rec, size_t len, gx_buf *out)
{
    gx_fact f;
    s_view w;
    gx_demand stub = {0};
    gx_firm named_stub = {0}, offer_firm_stub = {0};
    const gx_demand *d = NULL;
    const gx_offer *o = NULL;
    const gx_firm *df = NULL, *of = NULL, *nf = NULL;
    gx_explain *x = NULL,
               *xl = NULL; /* the explanation in English (hints read it), in the recipient's language */
    char changed[768] = "", hint[2 * GX_DETAIL_MAX + 64] = "", *text = NULL;
    char u1[24], u2[24], u3[24], st[64];
    memset(out, 0, sizeof *out);
    memset(&w, 0, sizeof w);
    if (gx_fact_decode(rec, len, &f) != GX_OK)
        return GX_ERR_MALFORMED;
    /* The recipient's language as it is now, not when the notice was written. */
    const gx_firm *rf = NULL;
    gx_err err = firm && firm[0] ? s_view_firm(b, t, firm, &w.f_hold[3], &rf) : GX_OK;
    if (err)
        goto out;
    gx_rules_words words = {.lang = rf ? (gx_lang)rf->lang : GX_LANG_ZH, .vocab = b->vocab};
    bool was_open = f.type == GX_N_CANDIDATE_ADDED || f.type == GX_N_OPPORTUNITY || f.type == GX_N_NEAR_MISS;
    if (f.fields & GX_FACT_DEMAND) {
        if ((err = s_view_demand(b, t, f.demand_id, &w, &d)))
            goto out;
        if (!d) {
            stub.id = f.demand_id;
            stub.revision = f.demand_rev;
            d = &stub;
            s_changed(changed, sizeof changed, words.lang, "server.changed.demand_gone", "id",
                      s_u(u1, f.demand_id), NULL);
        } else if (was_open && d->state != GX_STATE_OPEN) {
            s_changed(changed, sizeof changed, words.lang, "server.changed.demand_state", "id",
                      s_u(u1, d->id), "state", s_state(words.lang, d->state, st, sizeof st), NULL);
        } else if (f.demand_rev && d->revision != f.demand_rev) {
            s_changed(changed, sizeof changed, words.lang, "server.changed.demand_revision", "id",
                      s_u(u1, d->id), "then", s_u(u2, f.demand_rev), "now", s_u(u3, d->revision), NULL);
        }
        if (d->owner[0] && (err = s_view_firm(b, t, d->owner, &w.f_hold[0], &df)))
            goto out;
    }
    if (f.fields & GX_FACT_OFFER) {
        if ((err = s_view_offer(b, t, f.offer_id, &w, &o)))
            goto out;
        if (o && (err = s_view_firm(b, t, o->owner, &w.f_hold[1], &of)))
            goto out;
        if (o && !of) { /* a firm with no record: its id is still known */
            memcpy(offer_firm_stub.id, o->owner, sizeof offer_firm_stub.id);
            of = &offer_firm_stub;
        }
        if (f.type != GX_N_CANDIDATE_REMOVED && f.type != GX_N_OFFER_EXPIRED) {
            if (!o)
                s_changed(changed, sizeof changed, words.lang, "server.changed.offer_gone", "id",
                          s_u(u1, f.offer_id), NULL);
            else if (was_open && o->state != GX_STATE_OPEN)
                s_changed(changed, sizeof changed, words.lang, "server.changed.offer_state", "id",
                          s_u(u1, o->id), "state", s_state(words.lang, o->state, st, sizeof st), NULL);
            else if (f.offer_rev && o->revision != f.offer_rev)
                s_changed(changed, sizeof changed, words.lang, "server.changed.offer_revision", "id",
                          s_u(u1, o->id), "then", s_u(u2, f.offer_rev), "now", s_u(u3, o->revision), NULL);
        }
    }
    if (f.fields & GX_FACT_FIRM) {
        /* The counterpart of a docking as stored: another city's firm's contact,
         * released by docking, is kept in the store only (feddock.c), not put
         * into the engine where it would re-match the firm's postings. */
        const void *v = NULL;
        size_t vl = 0;
        if (f.type == GX_N_DETAILS_RELEASED &&
            !(err = s_load(t, GX_T_FIRMS, f.firm, strlen(f.firm), &v, &vl)) && v &&
            !(err = gx_codec_decode_firm(v, vl, &w.f_hold[2])))
            nf = &w.f_hold[2];
        if (err)
            goto out;
        if (!nf && (err = s_view_firm(b, t, f.firm, &w.f_hold[2], &nf)))
            goto out;
        if (!nf) {
            memcpy(named_stub.id, f.firm, sizeof named_stub.id);
            nf = &named_stub;
        }
    }
    /* The explanation as it read when the notice was written: the same postings
     * and firms evaluated at its `at`, so date-dependent lines read as they did. */
    bool explains = f.type == GX_N_CANDIDATE_ADDED || (f.type == GX_N_OPPORTUNITY && o) ||
                    f.type == GX_N_NEAR_MISS || (f.type == GX_N_INTEREST_RECEIVED && o);
    if (explains && d != &stub && o && df && of != &offer_firm_stub && of) {
        if (!(x = malloc(sizeof *x))) {
            err = GX_ERR_NOMEM;
            goto out;
        }
        gx_rules_evaluate(ro, d, df, o, of, f.at, true, x);
        if (words.lang != GX_LANG_EN) {
            if (!(xl = malloc(sizeof *xl))) {
                err = GX_ERR_NOMEM;
                goto out;
            }
            gx_rules_explain(ro, &words, d, df, o, of, f.at, xl);
        }
    }
    if ((f.fields & GX_FACT_FIRMS) && !changed[0]) {
        const gx_firm *sdf = s_uses_df(f.type) && d != &stub ? df : NULL;
        const gx_firm *sof = s_uses_of(f.type, o) && of != &offer_firm_stub ? of : NULL;
        const gx_firm *snf = s_uses_nf(f.type) && nf != &named_stub ? nf : NULL;
        if (s_firms_sum(sdf, sof, snf) != f.firms_sum)
            s_changed(changed, sizeof changed, words.lang, "server.changed.firm", NULL);
    }
    if (x && (f.fields & GX_FACT_RANK) && !changed[0] && fabs(x->score - f.score) > 1e-6) {
        char then[32], now_[32];
        snprintf(then, sizeof then, "%.2f", f.score);
        snprintf(now_, sizeof now_, "%.2f", x->score);
        s_changed(changed, sizeof changed, words.lang, "server.changed.score", "then", then, "now", now_,
                  NULL);
    }
    if (f.text_len) {
        if (!(text = malloc(f.text_len + 1))) {
            err = GX_ERR_NOMEM;
            goto out;
        }
        memcpy(text, f.text, f.text_len);
        text[gx_utf8_valid_prefix(f.text, f.text_len)] = 0;
    }
    gx_notice n = {.type = (gx_notice_type)f.type,
                   .seq = seq,
                   .at = f.at,
                   .changed = changed,
                   .demand_id = f.demand_id,
                   .offer_id = f.offer_id,
                   .sub_id = f.sub_id,
                   .rank = f.rank,
                   .score = f.score,
                   .expl = xl ? xl : x};
    switch (f.type) {
    case GX_N_CANDIDATE_ADDED:
        n.firm = of;
        n.capacity = x ? x->capacity_until_needed : 0;
        break;
    case GX_N_CANDIDATE_REMOVED:
        n.firm = of;
        n.reason = (gx_reason)f.code;
        break;
    case GX_N_OPPORTUNITY:
        n.demand = d;
        n.demand_firm = df;
        break;
    case GX_N_NEAR_MISS:
        n.demand = d;
        n.demand_firm = df;
        n.rule = (gx_rule)f.code;
        if (x && f.code > 0 && f.code < GX_RULE__COUNT)
            gx_rules_hint_in(x, (gx_rule)f.code, &words, hint, sizeof hint);
        n.text = hint;
        break;
    case GX_N_INTEREST_RECEIVED:
        n.firm = nf;
        n.text = text;
        break;
    case GX_N_INTEREST_DECLINED:
        n.text = text;
        break;
    case GX_N_DETAILS_RELEASED:
        n.firm = nf;
        n.text = d->details;
        break;
    case GX_N_OFFER_EXPIRED:
        n.state = (gx_state)f.code;
        break;
    default: /* DEMAND_* */
        n.demand = d;
        n.demand_firm = df;
        n.still_eligible = f.type == GX_N_DEMAND_UPDATED && f.code;
        n.awarded_to = f.fields & GX_FACT_FIRM ? f.firm : NULL;
        n.awarded_quantity = f.qty;
        break;
    }
    err = gx_codec_encode_notice(&n, out);
out:
    free(x);
    free(xl);
    free(text);
    s_view_fini(&w);
    return err;
}
