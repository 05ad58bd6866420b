/* report.c — what operators read: Prometheus metrics, health, the dashboard's
 * JSON snapshot (industry map, unmet demand, match flow) and statistics by
 * date range. Reads the context (records.h: engine, store, figures); changes
 * nothing but its caches. Runs on the loop's thread like the rest of the
 * broker. */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "federation.h"
#include "log.h"
#include "notify.h"

#define S_UNMET_MAX 50          /* unmet-demand groups in the snapshot */

static const double s_le_seconds[GX_HIST_N] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double s_le_count[GX_HIST_N] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

static const char *const s_outcome[GX_OUTCOMES] = {
    "ok",        "malformed",    "bad_request",  "invalid",  "unknown_code",        "too_large",
    "unauthenticated", "forbidden", "not_found", "conflict", "rate_limited",        "storage_full",
    "internal",  "unsupported_version", "resume_gap", "evicted", "other"};

void gx_hist_observe(gx_hist *h, double v)
{
    size_t i = 0;
    while (i < GX_HIST_N && v > h->le[i])
        i++;
    h->n[i]++;
    h->count++;
    h->sum += v;
}

void gx_report_init(gx_obs *o, int64_t now_ms)
{
    memset(o, 0, sizeof *o);
    o->started_ms = now_ms;
    o->commit_seconds.le = s_le_seconds;
    o->notice_latency.le = s_le_seconds;
    o->batch_requests.le = s_le_count;
}

void gx_report_flow(gx_obs *o, const char *topic, int64_t now)
{
    bool posting = strcmp(topic, "demand") == 0 || strcmp(topic, "offer") == 0;
    bool match = strcmp(topic, "match") == 0;
    if (match)
        o->matches++;
    else if (strcmp(topic, "near_miss") == 0)
        o->near_misses++;
    else if (posting)
        o->postings[topic[0] == 'o']++;
    if (!posting && !match)
        return;
    int64_t minute = now / 60;
    size_t slot = (size_t)(minute % GX_FLOW_MINUTES);
    if (o->flow_minute[slot] != minute) {
        o->flow_minute[slot] = minute;
        o->flow_postings[slot] = o->flow_matches[slot] = 0;
    }
    if (posting)
        o->flow_postings[slot]++;
    else
        o->flow_matches[slot]++;
}

/* ------------------------------------------------------------------ districts and chains */

/* The dashboard's columns: each of the three districts, the rest of the city,
 * and everything outside it. */
typedef struct s_geo {
    const char *const *three;
    size_t n_three;
    char city[5];            /* first four digits of the three districts' county */
} s_geo;

static void s_geo_init(const gx_ctx *b, s_geo *g)
{
    g->three = gx_vocab_three_districts(b->vocab, &g->n_three);
    g->city[0] = '\0';
    for (size_t i = 0; i < g->n_three && !g->city[0]; i++) {
        const char *county = gx_vocab_zone_county(b->vocab, g->three[i]);
        if (!county && strlen(g->three[i]) == GX_COUNTY_LEN)
            county = g->three[i];
        if (county) {
            memcpy(g->city, county, 4);
            g->city[4] = '\0';
        }
    }
}

/* The column of a firm in its county / district: as the region rule has it
 * (gx_rules_district), a firm in a park that is not one of the three districts
 * is in its county's column (a Qibin firm in another Qibin park is in Qibin's). */
static const char *s_geo_of(const s_geo *g, const char *district, const char *county)
{
    for (size_t i = 0; district && i < g->n_three; i++)
        if (strcmp(district, g->three[i]) == 0)
            return g->three[i];
    for (size_t i = 0; county && i < g->n_three; i++)
        if (strcmp(county, g->three[i]) == 0)
            return g->three[i];
    if (g->city[0] && county && strncmp(county, g->city, 4) == 0)
        return "city";
    return "other";
}

/* The name of a dashboard column in Chinese (zh) or English. */
static const char *s_geo_name_in(const gx_ctx *b, const char *id, bool zh)
{
    if (strcmp(id, "city") == 0)
        return zh ? "本市其他区县" : "Rest of the city";
    if (strcmp(id, "other") == 0)
        return zh ? "市外" : "Outside the city";
    const char *n = gx_vocab_name(b->vocab, GX_V_ZONE, id, zh);
    if (!n)
        n = gx_vocab_name(b->vocab, GX_V_COUNTY, id, zh);
    return n ? n : id;
}

static const char *s_geo_name(const gx_ctx *b, const char *id)
{
    return s_geo_name_in(b, id, false);
}

/* The industry chain of a GB/T 4754 code: its section letter and division ("C36"). */
static void s_chain(const char *industry, char out[4])
{
    size_t n = industry ? strlen(industry) : 0;
    if (n >= 3) {
        memcpy(out, industry, 3);
        out[3] = '\0';
    } else {
        snprintf(out, 4, "%s", n ? industry : "-");
    }
}

static const char *s_chain_name_in(const gx_ctx *b, const char *chain, bool zh)
{
    const char *n = gx_vocab_name(b->vocab, GX_V_INDUSTRY, chain, zh);
    return n ? n : chain;
}

static const char *s_chain_name(const gx_ctx *b, const char *chain)
{
    return s_chain_name_in(b, chain, false);
}

/* ------------------------------------------------------------------ grouping by a text key */

#define S_KEY 256 /* longest group key, bytes with its NUL */

/* Text keys -> 0, 1, 2, ... in order of first sight, found by hash in O(1):
 * the grouping behind the industry map, the unmet-demand table and the
 * statistics rows (a pass over 10^5 postings must not compare each with
 * every group). Callers keep their groups in an array indexed the same way. */
typedef struct s_keyix {
    char (*keys)[S_KEY];  /* n keys, by index */
    size_t n, cap;
    uint32_t *slot;       /* scap slots: index + 1, 0 = empty; at most half full */
    size_t scap;
} s_keyix;


static bool s_keyix_grow(s_keyix *ix)
{
    size_t scap = ix->scap ? ix->scap * 2 : 64;
    uint32_t *slot = calloc(scap, sizeof *slot);
    if (!slot)
        return false;
    for (size_t i = 0; i < ix->n; i++) {
        size_t j = (size_t)gx_fnv1a_str(GX_FNV_SEED, ix->keys[i]) & (scap - 1);
        while (slot[j])
            j = (j + 1) & (scap - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(ix->slot);
    ix->slot = slot;
    ix->scap = scap;
    return true;
}

/* The index of key, added as the next one when new (*added true).
 * SIZE_MAX out of memory. */
static size_t s_keyix_get(s_keyix *ix, const char *key, bool *added)
{
    *added = false;
    if ((ix->n + 1) * 2 > ix->scap && !s_keyix_grow(ix))
        return SIZE_MAX;
    size_t j = (size_t)gx_fnv1a_str(GX_FNV_SEED, key) & (ix->scap - 1);
    for (; ix->slot[j]; j = (j + 1) & (ix->scap - 1))
        if (strcmp(ix->keys[ix->slot[j] - 1], key) == 0)
            return ix->slot[j] - 1;
    if (gx_grow(&ix->keys, &ix->cap, ix->n + 1, sizeof *ix->keys))
        return SIZE_MAX;
    snprintf(ix->keys[ix->n], S_KEY, "%s", key);
    ix->slot[j] = (uint32_t)ix->n + 1;
    *added = true;
    return ix->n++;
}

static void s_keyix_fini(s_keyix *ix)
{
    free(ix->keys);
    free(ix->slot);
    memset(ix, 0, sizeof *ix);
}

/* Makes room for an element at index n of the array at *pp. */
static bool s_room(void *pp, size_t *cap, size_t n, size_t size)
{
    return gx_grow(pp, cap, n + 1, size) == GX_OK;
}

/* ------------------------------------------------------------------ statistics by date range */

static int s_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static gx_stats_row *s_row(gx_stats_table *t, s_keyix *ix, const char *district, const char *chain, gx_kind kind)
{
    char key[S_KEY];
    bool added;
    snprintf(key, sizeof key, "%s|%s|%d", district, chain, (int)kind);
    size_t i = s_keyix_get(ix, key, &added);
    if (i == SIZE_MAX || (added && !s_room(&t->rows, &t->cap, i, sizeof *t->rows)))
        return NULL;
    gx_stats_row *r = &t->rows[i];
    if (added) {
        memset(r, 0, sizeof *r);
        snprintf(r->district, sizeof r->district, "%s", district);
        snprintf(r->chain, sizeof r->chain, "%s", chain);
        r->kind = kind;
        t->n = i + 1;
    }
    return r;
}

/* Time-to-first-match samples per row, for the median. */
typedef struct s_ttfm {
    double *v;
    size_t n, cap;
} s_ttfm;

typedef struct s_scan {
    gx_ctx *b;
    gx_txn *t;
    const gx_stats_filter *f;
    s_geo geo;
    gx_stats_table *out;
    s_keyix ix;              /* the rows by district, chain and kind */
    s_ttfm *tt;              /* one per row, grown with out->rows */
    size_t cap_tt;
    gx_err err;
} s_scan;

static bool s_keep(const s_scan *s, int64_t created, const char *geo, const char *district, const char *industry,
                   gx_kind kind)
{
    const gx_stats_filter *f = s->f;
    if ((f->from && created < f->from) || (f->to && created >= f->to))
        return false;
    if (f->kind && kind != f->kind)
        return false;
    if (f->district && f->district[0] && strcmp(f->district, geo) != 0 &&
        (!district || strcmp(f->district, district) != 0))
        return false;
    if (f->industry && f->industry[0] && (!industry || strncmp(industry, f->industry, strlen(f->industry)) != 0))
        return false;
    return true;
}

static gx_stats_row *s_scan_row(s_scan *s, const char *geo, const char *chain, gx_kind kind, size_t *idx)
{
    gx_stats_row *r = s_row(s->out, &s->ix, geo, chain, kind);
    if (!r) {
        s->err = GX_ERR_NOMEM;
        return NULL;
    }
    *idx = (size_t)(r - s->out->rows);
    if (s->cap_tt < s->out->cap) {
        s_ttfm *v = realloc(s->tt, s->out->cap * sizeof *v);
        if (!v) {
            s->err = GX_ERR_NOMEM;
            return NULL;
        }
        memset(v + s->cap_tt, 0, (s->out->cap - s->cap_tt) * sizeof *v);
        s->tt = v;
        s->cap_tt = s->out->cap;
    }
    return r;
}

static bool s_scan_demand(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_scan *s = ctx;
    gx_demand d;
    if (gx_codec_decode_demand(val, vlen, &d) != GX_OK)
        return true; /* a record this broker cannot read is not counted */
    const gx_firm *f = gx_engine_firm(s->b->engine, d.owner);
    const char *district = f ? gx_firm_district(f) : NULL;
    const char *geo = s_geo_of(&s->geo, district, f ? f->county : NULL);
    if (s_keep(s, d.created_at, geo, district, d.industry, d.kind)) {
        char chain[4];
        size_t idx;
        s_chain(d.industry, chain);
        gx_stats_row *r = s->f->kind_only ? s_scan_row(s, "*", "*", d.kind, &idx)
                                          : s_scan_row(s, geo, chain, d.kind, &idx);
        if (r) {
            gx_first_match fm;
            r->demands_posted++;
            r->demands_open += d.state == GX_STATE_OPEN;
            r->demands_awarded += d.state == GX_STATE_AWARDED || d.quantity < d.original_quantity;
            gx_err e = gx_first_match_get(s->t, d.id, &fm);
            if (e == GX_OK) {
                r->demands_matched++;
                r->demands_matched_local += s->geo.city[0] && strncmp(fm.county, s->geo.city, 4) == 0;
                double secs = fm.at > d.created_at ? (double)(fm.at - d.created_at) : 0.0;
                r->ttfm_sum_s += secs;
                s_ttfm *tt = &s->tt[idx];
                if (s_room(&tt->v, &tt->cap, tt->n, sizeof *tt->v))
                    tt->v[tt->n++] = secs;
                else
                    s->err = GX_ERR_NOMEM; /* a median of some samples would be a wrong one */
            } else if (e != GX_ERR_NOT_FOUND) {
                s->err = e;
            }
        }
    }
    gx_demand_fini(&d);
    return !s->err;
}

static bool s_scan_offer(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_scan *s = ctx;
    gx_offer o;
    if (gx_codec_decode_offer(val, vlen, &o) != GX_OK)
        return true;
    const gx_firm *f = gx_engine_firm(s->b->engine, o.owner);
    const char *district = f ? gx_firm_district(f) : NULL;
    const char *geo = s_geo_of(&s->geo, district, f ? f->county : NULL);
    const char *industry = o.industries.n ? o.industries.v[0] : NULL;
    for (int k = 1; k < GX_KIND__COUNT && !s->err; k++) {
        if (!(o.kinds & GX_BIT(k)) || !s_keep(s, o.created_at, geo, district, industry, (gx_kind)k))
            continue;
        char chain[4];
        size_t idx;
        s_chain(industry, chain);
        gx_stats_row *r = s->f->kind_only ? s_scan_row(s, "*", "*", (gx_kind)k, &idx)
                                          : s_scan_row(s, geo, chain, (gx_kind)k, &idx);
        if (r) {
            r->offers_posted++;
            r->offers_open += o.state == GX_STATE_OPEN;
        }
    }
    gx_offer_fini(&o);
    return !s->err;
}

static int s_cmp_row(const void *a, const void *b)
{
    const gx_stats_row *x = a, *y = b;
    int c = strcmp(x->district, y->district);
    if (!c)
        c = strcmp(x->chain, y->chain);
    return c ? c : (int)x->kind - (int)y->kind;
}

gx_err gx_report_range(gx_ctx *b, const gx_stats_filter *f, gx_stats_table *out)
{
    memset(out, 0, sizeof *out);
    s_scan s = {.b = b, .f = f, .out = out};
    s_geo_init(b, &s.geo);
    gx_err err = gx_store_begin(b->store, false, &s.t);
    if (err)
        return err;
    err = gx_store_scan(s.t, GX_T_DEMANDS, NULL, 0, NULL, 0, s_scan_demand, &s);
    if (!err && !s.err)
        err = gx_store_scan(s.t, GX_T_OFFERS, NULL, 0, NULL, 0, s_scan_offer, &s);
    gx_store_abort(&s.t);
    if (!err)
        err = s.err;
    for (size_t i = 0; i < out->n; i++) {
        gx_stats_row *r = &out->rows[i];
        s_ttfm *tt = i < s.cap_tt ? &s.tt[i] : NULL;
        r->fill_rate = r->demands_posted ? (double)r->demands_matched / (double)r->demands_posted : 0;
        r->ttfm_mean_s = r->demands_matched ? r->ttfm_sum_s / (double)r->demands_matched : -1;
        r->ttfm_p50_s = -1;
        if (tt && tt->n) {
            qsort(tt->v, tt->n, sizeof *tt->v, s_cmp_dbl);
            r->ttfm_p50_s = tt->n % 2 ? tt->v[tt->n / 2] : (tt->v[tt->n / 2 - 1] + tt->v[tt->n / 2]) / 2;
        }
    }
    for (size_t i = 0; i < s.cap_tt; i++)
        free(s.tt[i].v);
    free(s.tt);
    s_keyix_fini(&s.ix);
    if (err) {
        gx_stats_table_fini(out);
        return err;
    }
    if (out->n > 1)
        qsort(out->rows, out->n, sizeof *out->rows, s_cmp_row);
    return GX_OK;
}

void gx_report_names(const gx_ctx *b, gx_stats_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        t->rows[i].district_name = s_geo_name(b, t->rows[i].district);
        t->rows[i].chain_name = s_chain_name(b, t->rows[i].chain);
    }
}

void gx_stats_table_fini(gx_stats_table *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ monitor events as JSON */

size_t gx_report_render_event(gx_ctx *b, uint64_t id, const char *type, const void *data, size_t len,
                              char *out, size_t cap)
{
    (void)b;
    gx_monitor_event ev;
    void *hold = NULL;
    size_t n = 0;
    if (gx_codec_decode_monitor(data, len, &ev, &hold) != GX_OK) {
        gx_codec_monitor_release(hold);
        return 0;
    }
    json_t *o = json_pack("{s:I, s:I, s:s, s:I, s:I, s:s, s:s?, s:s?, s:f}", "id", (json_int_t)id, "at",
                          (json_int_t)ev.at, "type", type, "demand_id", (json_int_t)ev.demand_id, "offer_id",
                          (json_int_t)ev.offer_id, "kind", ev.kind ? gx_kind_name(ev.kind) : "", "industry",
                          ev.industry, "district", ev.district, "score", isfinite(ev.score) ? ev.score : 0.0);
    if (o) {
        json_object_set_new(o, "rule", ev.rule ? json_string(gx_rule_name(ev.rule)) : json_null());
        json_object_set_new(o, "state", ev.state ? json_string(gx_state_name(ev.state)) : json_null());
        if (ev.detail)
            json_object_set_new(o, "detail", json_string(ev.detail));
        if (ev.detail_zh)
            json_object_set_new(o, "detail_zh", json_string(ev.detail_zh));
        char *js = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (js) {
            int w = snprintf(out, cap, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)id, type, js);
            n = w > 0 && (size_t)w < cap ? (size_t)w : 0; /* one that does not fit is left out */
            free(js);
        }
    }
    gx_codec_monitor_release(hold);
    return n;
}

/* ------------------------------------------------------------------ Prometheus text */

typedef struct s_text {
    char *p;
    size_t n, cap;
    bool oom;
} s_text;

static void __attribute__((format(printf, 2, 3))) s_put(s_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->n;
        int w = t->p ? vsnprintf(t->p + t->n, room, fmt, ap) : -1;
        va_end(ap);
        if (w >= 0 && (size_t)w < room) {
            t->n += (size_t)w;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (w >= 0 && cap - t->n <= (size_t)w)
            cap *= 2;
        char *p = t->oom ? NULL : realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void s_family(s_text *t, const char *name, const char *type, const char *help)
{
    s_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_hist(s_text *t, const char *name, const char *help, const gx_hist *h)
{
    uint64_t cum = 0;
    s_family(t, name, "histogram", help);
    for (size_t i = 0; i < GX_HIST_N; i++) {
        cum += h->n[i];
        s_put(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
    }
    s_put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, (unsigned long long)h->count, name,
          h->sum, name, (unsigned long long)h->count);
}

typedef struct s_tally {
    uint64_t offers_by_kind[GX_KIND__COUNT];
} s_tally;

static void s_tally_offer(void *ctx, const gx_offer *o, const gx_firm *owner)
{
    s_tally *t = ctx;
    for (int k = 1; k < GX_KIND__COUNT; k++)
        if (o->kinds & GX_BIT(k))
            t->offers_by_kind[k]++;
}

/* Notices written and not yet acknowledged, over every firm's inbox. */
typedef struct s_pending {
    gx_txn *t;
    uint64_t n;
} s_pending;

static bool s_pending_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_pending *p = ctx;
    char firm[GX_FIRM_ID_LEN + 1];
    gx_inbox_cursor c;
    if (klen != GX_FIRM_ID_LEN)
        return true;
    memcpy(firm, key, GX_FIRM_ID_LEN);
    firm[GX_FIRM_ID_LEN] = '\0';
    if (gx_inbox_cursor_get(p->t, firm, &c) == GX_OK) {
        uint64_t from = c.acked > c.pruned ? c.acked : c.pruned;
        p->n += c.head > from ? c.head - from : 0;
    }
    return true;
}

/* True when the store answers a read; with pending, also counts the notices
 * pending over every inbox (a pass over the firms' cursors, which /readyz,
 * asking with NULL, does without). */
static bool s_store_ok(gx_ctx *b, uint64_t *pending)
{
    s_pending p = {0};
    if (gx_store_begin(b->store, false, &p.t) != GX_OK)
        return false;
    gx_err err = pending ? gx_store_scan(p.t, GX_T_CURSORS, NULL, 0, NULL, 0, s_pending_visit, &p) : GX_OK;
    gx_store_abort(&p.t);
    if (pending)
        *pending = p.n;
    return err == GX_OK;
}

static char *s_metrics(gx_ctx *b, size_t *len)
{
    s_text t = {0};
    gx_engine_stats es;
    s_tally tally = {{0}};
    uint64_t pending = 0;
    bool store_ok = s_store_ok(b, &pending);
    gx_engine_counts(b->engine, &es);
    gx_engine_each_offer(b->engine, s_tally_offer, &tally);
    const gx_obs *o = &b->obs;

    s_family(&t, "gongxu_build_info", "gauge", "Build of the running gongxud (always 1).");
    s_put(&t, "gongxu_build_info{version=\"%s\"} 1\n", GX_VERSION);
    s_family(&t, "gongxu_start_time_seconds", "gauge", "When the broker started, unix seconds.");
    s_put(&t, "gongxu_start_time_seconds %.3f\n", o->started_ms / 1e3);
    s_family(&t, "gongxu_ready", "gauge", "1 while the broker serves: store open, sockets bound, not stopping.");
    s_put(&t, "gongxu_ready %d\n", o->ready && store_ok);

    s_family(&t, "gongxu_requests_total", "counter", "Requests answered, by request type and outcome.");
    for (int r = 0; r < GX_REQ__COUNT; r++)
        for (int e = 0; e < GX_OUTCOMES; e++)
            if (o->req[r][e] || (e == 0 && r != GX_REQ_NONE))
                s_put(&t, "gongxu_requests_total{type=\"%s\",outcome=\"%s\"} %llu\n",
                      r == GX_REQ_NONE ? "undecodable" : gx_req_name((gx_req_type)r), s_outcome[e],
                      (unsigned long long)o->req[r][e]);
    s_family(&t, "gongxu_rate_limited_total", "counter", "Requests refused by the per-firm rate limit.");
    s_put(&t, "gongxu_rate_limited_total %llu\n", (unsigned long long)b->counters.rate_limited);

    s_family(&t, "gongxu_postings_open", "gauge", "Open postings by side and kind (an offer counts under each kind it serves).");
    for (int k = 1; k < GX_KIND__COUNT; k++) {
        s_put(&t, "gongxu_postings_open{side=\"demand\",kind=\"%s\"} %llu\n", gx_kind_name((gx_kind)k),
              (unsigned long long)es.demands_by_kind[k]);
        s_put(&t, "gongxu_postings_open{side=\"offer\",kind=\"%s\"} %llu\n", gx_kind_name((gx_kind)k),
              (unsigned long long)tally.offers_by_kind[k]);
    }
    s_family(&t, "gongxu_subscriptions_open", "gauge", "Open subscriptions.");
    s_put(&t, "gongxu_subscriptions_open %llu\n", (unsigned long long)es.subs);
    s_family(&t, "gongxu_firms", "gauge", "Registered firms.");
    s_put(&t, "gongxu_firms %llu\n", (unsigned long long)es.firms);
    s_family(&t, "gongxu_postings_total", "counter", "New postings accepted since start, by side.");
    s_put(&t, "gongxu_postings_total{side=\"demand\"} %llu\ngongxu_postings_total{side=\"offer\"} %llu\n",
          (unsigned long long)o->postings[0], (unsigned long long)o->postings[1]);

    s_family(&t, "gongxu_matches", "gauge", "Eligible demand-offer pairs, as each demand's kept count says.");
    s_put(&t, "gongxu_matches %llu\n", (unsigned long long)es.matches);
    s_family(&t, "gongxu_matches_held", "gauge", "Of those, pairs the engine holds: each demand's best 2K.");
    s_put(&t, "gongxu_matches_held %llu\n", (unsigned long long)es.held);
    s_family(&t, "gongxu_engine_refills_total", "counter",
             "Held lists found again through the index (fallen below K, or new options).");
    s_put(&t, "gongxu_engine_refills_total %llu\n", (unsigned long long)es.refills);
    s_family(&t, "gongxu_engine_pairs_evaluated_total", "counter", "Demand-offer pairs whose rules ran.");
    s_put(&t, "gongxu_engine_pairs_evaluated_total %llu\n", (unsigned long long)es.pairs_evaluated);
    s_family(&t, "gongxu_near_misses", "gauge", "Near-miss pairs currently held.");
    s_put(&t, "gongxu_near_misses %llu\n", (unsigned long long)es.near_misses);
    s_family(&t, "gongxu_demands_unmatched", "gauge", "Open demands with no eligible offer.");
    s_put(&t, "gongxu_demands_unmatched %llu\n", (unsigned long long)es.demands_unmatched);
    s_family(&t, "gongxu_matches_total", "counter", "Pairs that became eligible since start.");
    s_put(&t, "gongxu_matches_total %llu\n", (unsigned long long)o->matches);
    s_family(&t, "gongxu_near_misses_total", "counter",
             "Near misses told to firms since start (at most near_miss_tell_max per request; gongxu_near_misses holds them all).");
    s_put(&t, "gongxu_near_misses_total %llu\n", (unsigned long long)o->near_misses);

    s_family(&t, "gongxu_notices_written_total", "counter", "Notices written durably to firms' inboxes since start.");
    s_put(&t, "gongxu_notices_written_total %llu\n", (unsigned long long)b->counters.notices);
    s_family(&t, "gongxu_notices_sent_total", "counter", "Notices handed to a firm's connection since start.");
    s_put(&t, "gongxu_notices_sent_total %llu\n", (unsigned long long)o->delivered);
    s_family(&t, "gongxu_notices_pending", "gauge", "Notices kept and not yet acknowledged, over every inbox.");
    s_put(&t, "gongxu_notices_pending %llu\n", (unsigned long long)pending);
    s_hist(&t, "gongxu_notice_latency_seconds",
           "From the start of the batch that read a request to its fresh notices handed to ZeroMQ.",
           &o->notice_latency);

    s_family(&t, "gongxu_commits_total", "counter", "Group commits (durable LMDB write transactions).");
    s_put(&t, "gongxu_commits_total %llu\n", (unsigned long long)b->counters.batches);
    s_family(&t, "gongxu_commit_failures_total", "counter", "Group commits that failed (their requests got errors).");
    s_put(&t, "gongxu_commit_failures_total %llu\n", (unsigned long long)b->counters.commit_failures);
    s_family(&t, "gongxu_engine_undos_total", "counter",
             "Refused requests and failed commits whose changes were taken back out of the engine.");
    s_put(&t, "gongxu_engine_undos_total %llu\n", (unsigned long long)b->counters.engine_undos);
    s_family(&t, "gongxu_engine_rebuilds_total", "counter",
             "Times the engine matched every pair again after start (a change it could not take back, a reload).");
    s_put(&t, "gongxu_engine_rebuilds_total %llu\n", (unsigned long long)b->counters.engine_rebuilds);
    if (b->fed.city) {
        uint64_t depth = 0;
        gx_txn *ft = NULL;
        if (gx_store_begin(b->store, false, &ft) == GX_OK)
            gx_store_count(ft, GX_T_OUTBOX, &depth);
        gx_store_abort(&ft);
        s_family(&t, "gongxu_federation_outbox_depth", "gauge",
                 "Changes committed for the other cities and not yet acknowledged by JetStream.");
        s_put(&t, "gongxu_federation_outbox_depth %llu\n", (unsigned long long)depth);
        s_family(&t, "gongxu_federation_outboxed_total", "counter",
                 "Changes written to the federation outbox.");
        s_put(&t, "gongxu_federation_outboxed_total %llu\n", (unsigned long long)b->fed.outboxed);
        s_family(&t, "gongxu_federation_published_total", "counter",
                 "Outbox sequence JetStream acknowledged and the broker dropped (as a count of records since "
                 "start).");
        s_put(&t, "gongxu_federation_published_total %llu\n", (unsigned long long)b->fed.published_n);
        s_family(&t, "gongxu_federation_applied_total", "counter", "Other cities' messages applied here.");
        s_put(&t, "gongxu_federation_applied_total %llu\n", (unsigned long long)b->fed.applied);
        s_family(&t, "gongxu_federation_duplicates_total", "counter",
                 "Messages skipped as already applied (stream sequence or posting revision).");
        s_put(&t, "gongxu_federation_duplicates_total %llu\n", (unsigned long long)b->fed.duplicates);
        s_family(&t, "gongxu_federation_bad_total", "counter",
                 "Messages skipped as malformed or out of range (logged).");
        s_put(&t, "gongxu_federation_bad_total %llu\n", (unsigned long long)b->fed.bad);
        s_family(&t, "gongxu_federation_own_total", "counter",
                 "This city's own messages seen on the stream.");
        s_put(&t, "gongxu_federation_own_total %llu\n", (unsigned long long)b->fed.own);
        uint64_t pub = 0, pub_failed = 0, rejected = 0;
        if (b->fed.fed)
            gx_fed_pub_counts(b->fed.fed, &pub, &pub_failed, &rejected);
        s_family(&t, "gongxu_federation_connected", "gauge",
                 "1 while connected to NATS with the stream and this city's consumer set up, else 0 (this "
                 "city's firms are served either way; changes wait in the outbox).");
        s_put(&t, "gongxu_federation_connected %d\n", b->fed.fed && gx_fed_connected(b->fed.fed) ? 1 : 0);
        s_family(&t, "gongxu_federation_rejected_total", "counter",
                 "Outbox records JetStream refused for good (too large), logged and dropped since start.");
        s_put(&t, "gongxu_federation_rejected_total %llu\n", (unsigned long long)rejected);
        s_family(&t, "gongxu_federation_substituted_total", "counter",
                 "Refused posting records replaced by a small closed substitute (texts emptied) so that the "
                 "other cities close their copy, since start.");
        s_put(&t, "gongxu_federation_substituted_total %llu\n", (unsigned long long)b->fed.substituted);
        s_family(
            &t, "gongxu_federation_publish_failures_total", "counter",
            "Publish attempts that failed and were retried (NATS unreachable, no stream leader, timeouts).");
        s_put(&t, "gongxu_federation_publish_failures_total %llu\n", (unsigned long long)pub_failed);
    }
    const gx_persist *ps = &b->persist;
    s_family(&t, "gongxu_engine_snapshots_total", "counter",
             "Engine snapshots written while serving and recorded in the store (persist.h).");
    s_put(&t, "gongxu_engine_snapshots_total %llu\n", (unsigned long long)ps->written);
    s_family(&t, "gongxu_engine_snapshot_failures_total", "counter",
             "Engine snapshots begun while serving that failed (the one before stays in force).");
    s_put(&t, "gongxu_engine_snapshot_failures_total %llu\n", (unsigned long long)ps->failed);
    s_family(&t, "gongxu_engine_snapshot_seconds", "gauge",
             "The last snapshot while serving, begun to recorded.");
    s_put(&t, "gongxu_engine_snapshot_seconds %.6f\n", ps->last_seconds);
    s_family(&t, "gongxu_engine_snapshot_stall_seconds_max", "gauge",
             "The longest stall of the loop for a snapshot while serving since start (its freeze, or one "
             "slice of its write).");
    s_put(&t, "gongxu_engine_snapshot_stall_seconds_max %.6f\n", (double)ps->stall_us_max / 1e6);
    s_family(&t, "gongxu_change_log_entries_written_total", "counter",
             "Change log entries written since start (what the next start after a crash replays, until a "
             "snapshot).");
    s_put(&t, "gongxu_change_log_entries_written_total %llu\n",
          (unsigned long long)gx_store_changes_logged(b->store));
    s_family(&t, "gongxu_start_seconds", "gauge", "How long this start took to load the engine.");
    s_put(&t, "gongxu_start_seconds %.3f\n", ps->start_seconds);
    s_family(&t, "gongxu_start_replayed_changes", "gauge",
             "Firms and postings this start replayed from the change log after its snapshot.");
    s_put(&t, "gongxu_start_replayed_changes %llu\n", (unsigned long long)ps->replayed);
    s_hist(&t, "gongxu_commit_duration_seconds", "Duration of each group commit, fsync included.", &o->commit_seconds);
    s_hist(&t, "gongxu_commit_batch_requests", "Requests answered per group commit.", &o->batch_requests);

    size_t map = 0, used = 0;
    gx_store_usage(b->store, &map, &used);
    s_family(&t, "gongxu_lmdb_map_size_bytes", "gauge", "LMDB map size (grows up to map_max_mb).");
    s_put(&t, "gongxu_lmdb_map_size_bytes %zu\n", map);
    s_family(&t, "gongxu_lmdb_map_used_bytes", "gauge", "LMDB pages in use times page size.");
    s_put(&t, "gongxu_lmdb_map_used_bytes %zu\n", used);
    s_family(&t, "gongxu_lmdb_map_max_bytes", "gauge", "LMDB growth limit (map_max_mb).");
    s_put(&t, "gongxu_lmdb_map_max_bytes %llu\n", (unsigned long long)b->cfg.map_max_mb << 20);

    s_family(&t, "gongxu_sessions", "gauge", "Connections bound to a firm.");
    s_put(&t, "gongxu_sessions %zu\n", gx_sessions_count(b->sessions));
    s_family(&t, "gongxu_sessions_gone_total", "counter",
             "Sessions dropped because their connection was found gone while their firm's window was full.");
    s_put(&t, "gongxu_sessions_gone_total %llu\n", (unsigned long long)b->sessions_gone);
    s_family(&t, "gongxu_event_streams", "gauge", "Open /events streams.");
    s_put(&t, "gongxu_event_streams %zu\n", o->streams);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    *len = t.n;
    return t.p;
}

/* ------------------------------------------------------------------ the dashboard snapshot */

typedef struct s_cell {
    char chain[4];
    const char *geo;
    uint64_t demands, offers, matched;
} s_cell;

typedef struct s_unmet {
    gx_rule rule;
    char need[160];
    char process[GX_VOCAB_MAX_ID + 1];
    const char *geo;
    uint64_t demands, near_misses;
    /* the values need was written from (equal across a group, as need is), so that
     * the dashboard can say it in either language */
    int32_t needed_by;             /* days since epoch */
    double quantity;               /* remaining quantity, in unit */
    char unit[32];                 /* the demand's unit */
    double max_distance_km;        /* 0 = no limit */
    gx_credit min_credit;          /* weakest acceptable grade */
    double budget_min, budget_max; /* unit budget, CNY */
} s_unmet;

typedef struct s_snap {
    gx_ctx *b;
    s_geo geo;
    s_cell *cells;
    size_t n_cells, cap_cells;
    s_keyix cell_ix;             /* "chain|geo" -> cell */
    s_unmet *unmet;
    size_t n_unmet, cap_unmet;
    s_keyix unmet_ix;            /* "rule|need|process|geo" -> group */
    bool oom;
} s_snap;

static s_cell *s_cell_of(s_snap *s, const char *chain, const char *geo)
{
    char key[S_KEY];
    bool added;
    snprintf(key, sizeof key, "%s|%s", chain, geo);
    size_t i = s_keyix_get(&s->cell_ix, key, &added);
    if (i == SIZE_MAX || (added && !s_room(&s->cells, &s->cap_cells, i, sizeof *s->cells))) {
        s->oom = true;
        return NULL;
    }
    s_cell *c = &s->cells[i];
    if (added) {
        memset(c, 0, sizeof *c);
        memcpy(c->chain, chain, sizeof c->chain);
        c->geo = geo;
        s->n_cells = i + 1;
    }
    return c;
}

static void s_join(char *out, size_t cap, const gx_strv *v)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < v->n && n + 1 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", v->v[i]);
        if (w < 0)
            break;
        n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    }
}

/* What a demand needs that the rule checks, in words. */
static void s_need(const gx_demand *d, gx_rule r, char *out, size_t cap)
{
    char date[11];
    switch (r) {
    case GX_RULE_PROCESS: s_join(out, cap, &d->processes); break;
    case GX_RULE_MATERIAL: s_join(out, cap, &d->materials); break;
    case GX_RULE_TECHNOLOGY: s_join(out, cap, &d->ipc); break;
    case GX_RULE_CERTIFICATION: s_join(out, cap, &d->certs); break;
    case GX_RULE_LEAD_TIME:
        gx_date_format(d->needed_by, date);
        snprintf(out, cap, "delivery by %s", date);
        break;
    case GX_RULE_CAPACITY:
        gx_date_format(d->needed_by, date);
        snprintf(out, cap, "capacity for %g %s by %s", d->quantity, d->unit ? d->unit : "", date);
        break;
    case GX_RULE_MIN_ORDER: snprintf(out, cap, "orders as small as %g %s", d->quantity, d->unit ? d->unit : ""); break;
    case GX_RULE_REGION: snprintf(out, cap, "a supplier within the demand's region scope"); break;
    case GX_RULE_DISTANCE: snprintf(out, cap, "a supplier within %g km", d->max_distance_km); break;
    case GX_RULE_CREDIT: snprintf(out, cap, "credit grade %s or better", gx_credit_name(d->min_credit)); break;
    case GX_RULE_PRICE: snprintf(out, cap, "a price within %g..%g", d->budget_min, d->budget_max); break;
    default: snprintf(out, cap, "any supplier"); break;
    }
}

static void s_snap_demand(void *ctx, const gx_demand *d, const gx_firm *owner, size_t n_matches,
                          const uint32_t nm_by_rule[GX_RULE__COUNT])
{
    s_snap *s = ctx;
    const char *geo = s_geo_of(&s->geo, owner ? gx_firm_district(owner) : NULL, owner ? owner->county : NULL);
    char chain[4];
    s_chain(d->industry, chain);
    s_cell *c = s_cell_of(s, chain, geo);
    if (c) {
        c->demands++;
        c->matched += n_matches > 0;
    }
    if (n_matches)
        return;
    gx_rule top = GX_RULE_NONE;
    uint64_t nm = 0;
    for (int r = 1; r < GX_RULE__COUNT; r++) {
        nm += nm_by_rule[r];
        if (nm_by_rule[r] > (top ? nm_by_rule[top] : 0))
            top = (gx_rule)r;
    }
    s_unmet key = {.rule = top,
                   .geo = geo,
                   .needed_by = d->needed_by,
                   .quantity = d->quantity,
                   .max_distance_km = d->max_distance_km,
                   .min_credit = d->min_credit,
                   .budget_min = d->budget_min,
                   .budget_max = d->budget_max};
    snprintf(key.unit, sizeof key.unit, "%s", d->unit ? d->unit : "");
    s_need(d, top, key.need, sizeof key.need);
    snprintf(key.process, sizeof key.process, "%s",
             d->processes.n ? d->processes.v[0] : d->ipc.n ? d->ipc.v[0] : d->industry ? d->industry : "");
    char k[S_KEY];
    bool added;
    snprintf(k, sizeof k, "%d|%s|%s|%s", (int)key.rule, key.need, key.process, geo);
    size_t i = s_keyix_get(&s->unmet_ix, k, &added);
    if (i == SIZE_MAX || (added && !s_room(&s->unmet, &s->cap_unmet, i, sizeof *s->unmet))) {
        s->oom = true;
        return;
    }
    if (added) {
        s->unmet[i] = key;
        s->n_unmet = i + 1;
    }
    s->unmet[i].demands++;
    s->unmet[i].near_misses += nm;
}

static void s_snap_offer(void *ctx, const gx_offer *o, const gx_firm *owner)
{
    s_snap *s = ctx;
    const char *geo = s_geo_of(&s->geo, owner ? gx_firm_district(owner) : NULL, owner ? owner->county : NULL);
    char chain[4];
    s_chain(o->industries.n ? o->industries.v[0] : NULL, chain);
    s_cell *c = s_cell_of(s, chain, geo);
    if (c)
        c->offers++;
}

static int s_cmp_unmet(const void *a, const void *b)
{
    const s_unmet *x = a, *y = b;
    if (x->demands != y->demands)
        return x->demands < y->demands ? 1 : -1;
    return x->near_misses < y->near_misses ? 1 : x->near_misses > y->near_misses ? -1 : 0;
}

/* The name of a process, material, IPC class or industry code, for people. */
static const char *s_term_name_in(const gx_ctx *b, const char *id, bool zh)
{
    const char *n = gx_vocab_name(b->vocab, GX_V_PROCESS, id, zh);
    if (!n)
        n = gx_vocab_name(b->vocab, GX_V_INDUSTRY, id, zh);
    return n ? n : id;
}

static const char *s_term_name(const gx_ctx *b, const char *id)
{
    return s_term_name_in(b, id, false);
}

/* The terms of a group's need (its ids, as s_join wrote them) with their names in
 * both languages, for the rules that compare terms; NULL for the others. */
static json_t *s_need_terms(const gx_ctx *b, const s_unmet *u)
{
    gx_vclass c;
    switch (u->rule) {
    case GX_RULE_PROCESS:
        c = GX_V_PROCESS;
        break;
    case GX_RULE_MATERIAL:
        c = GX_V_MATERIAL;
        break;
    case GX_RULE_CERTIFICATION:
        c = GX_V_CERT;
        break;
    case GX_RULE_TECHNOLOGY: /* IPC classes have no names: GX_V__COUNT, the id stands */
        c = GX_V__COUNT;
        break;
    default:
        return NULL;
    }
    json_t *a = json_array();
    for (const char *p = u->need; a && *p;) {
        size_t n = strcspn(p, ",");
        char id[sizeof u->need];
        snprintf(id, sizeof id, "%.*s", (int)n, p);
        const char *zh = c == GX_V__COUNT ? NULL : gx_vocab_name(b->vocab, c, id, true);
        const char *en = c == GX_V__COUNT ? NULL : gx_vocab_name(b->vocab, c, id, false);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s}", "id", id, "name_zh", zh ? zh : id, "name_en", en ? en : id));
        p += n;
        p += strspn(p, ", ");
    }
    return a;
}

/* The values a group's need was written from, by rule: what the dashboard puts in
 * its own words (dashboard.need.* in src/data/messages/dashboard.tsv). */
static json_t *s_need_args(const s_unmet *u)
{
    char date[11];
    gx_date_format(u->needed_by, date);
    switch (u->rule) {
    case GX_RULE_LEAD_TIME:
        return json_pack("{s:s}", "date", date);
    case GX_RULE_CAPACITY:
        return json_pack("{s:f, s:s, s:s}", "quantity", u->quantity, "unit", u->unit, "date", date);
    case GX_RULE_MIN_ORDER:
        return json_pack("{s:f, s:s}", "quantity", u->quantity, "unit", u->unit);
    case GX_RULE_DISTANCE:
        return json_pack("{s:f}", "km", u->max_distance_km);
    case GX_RULE_CREDIT:
        return json_pack("{s:s}", "grade", gx_credit_name(u->min_credit));
    case GX_RULE_PRICE:
        return json_pack("{s:f, s:f}", "min", u->budget_min, "max", u->budget_max);
    default:
        return json_object();
    }
}

static json_t *s_unmet_json(const gx_ctx *b, const s_unmet *u)
{
    char text[512];
    const char *pname = s_term_name(b, u->process), *gname = s_geo_name(b, u->geo);
    switch (u->rule) {
    case GX_RULE_NONE:
        snprintf(text, sizeof text, "no %s supplier at all for demand in %s", pname, gname);
        break;
    case GX_RULE_CERTIFICATION:
        snprintf(text, sizeof text, "no %s supplier with %s for demand in %s", pname, u->need, gname);
        break;
    case GX_RULE_PROCESS:
    case GX_RULE_MATERIAL:
    case GX_RULE_TECHNOLOGY:
        snprintf(text, sizeof text, "no supplier of %s (%s) for demand in %s", u->need, gx_rule_name(u->rule), gname);
        break;
    default:
        snprintf(text, sizeof text, "no %s supplier offering %s for demand in %s", pname, u->need, gname);
        break;
    }
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "rule",
                  u->rule ? gx_rule_name(u->rule) : "no_candidate", "need", u->need, "process", u->process,
                  "process_name", pname, "district", u->geo, "district_name", gname, "demands",
                  (json_int_t)u->demands, "near_misses", (json_int_t)u->near_misses, "text", text);
    if (o) {
        /* the same in both languages, for the dashboard (text above stays English) */
        json_object_set_new(o, "process_name_zh", json_string(s_term_name_in(b, u->process, true)));
        json_object_set_new(o, "process_name_en", json_string(s_term_name_in(b, u->process, false)));
        json_object_set_new(o, "district_name_zh", json_string(s_geo_name_in(b, u->geo, true)));
        json_object_set_new(o, "district_name_en", json_string(s_geo_name_in(b, u->geo, false)));
        json_t *terms = s_need_terms(b, u);
        if (terms)
            json_object_set_new(o, "need_terms", terms);
        json_object_set_new(o, "need_args", s_need_args(u));
    }
    return o;
}

/* A dashboard column: its id, its English name (name, as before) and both names. */
static json_t *s_district_json(const gx_ctx *b, const char *id)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", s_geo_name(b, id), "name_zh",
                     s_geo_name_in(b, id, true), "name_en", s_geo_name_in(b, id, false));
}

static json_t *s_row_json(const gx_ctx *b, const gx_stats_row *r, bool with_place)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "kind", gx_kind_name(r->kind),
                          "demands_posted", (json_int_t)r->demands_posted, "demands_open", (json_int_t)r->demands_open,
                          "demands_matched", (json_int_t)r->demands_matched, "demands_matched_local",
                          (json_int_t)r->demands_matched_local, "demands_awarded", (json_int_t)r->demands_awarded,
                          "offers_posted", (json_int_t)r->offers_posted, "offers_open", (json_int_t)r->offers_open,
                          "fill_rate", r->fill_rate);
    if (!o)
        return NULL;
    json_object_set_new(o, "ttfm_p50_s", r->ttfm_p50_s >= 0 ? json_real(r->ttfm_p50_s) : json_null());
    json_object_set_new(o, "ttfm_mean_s", r->ttfm_mean_s >= 0 ? json_real(r->ttfm_mean_s) : json_null());
    if (with_place) {
        json_object_set_new(o, "district", json_string(r->district));
        json_object_set_new(o, "district_name", json_string(s_geo_name(b, r->district)));
        json_object_set_new(o, "chain", json_string(r->chain));
        json_object_set_new(o, "chain_name", json_string(s_chain_name(b, r->chain)));
    }
    return o;
}

/* The by-kind view from a kind_only table: one row per kind, empty ones too. */
static void s_by_kind(const gx_stats_table *t, gx_stats_row out[GX_KIND__COUNT])
{
    memset(out, 0, GX_KIND__COUNT * sizeof *out);
    for (int k = 0; k < GX_KIND__COUNT; k++) {
        out[k].kind = (gx_kind)k;
        out[k].ttfm_p50_s = out[k].ttfm_mean_s = -1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].kind < GX_KIND__COUNT)
            out[t->rows[i].kind] = t->rows[i];
}

/* A histogram for people: count, mean and the bucket bounds that hold the
 * median and the 99th percentile (upper bounds; null beyond the last). */
static json_t *s_hist_json(const gx_hist *h)
{
    json_t *o = json_pack("{s:I, s:f}", "count", (json_int_t)h->count, "mean", h->count ? h->sum / (double)h->count : 0.0);
    static const double q[2] = {0.5, 0.99};
    static const char *const name[2] = {"p50_le", "p99_le"};
    for (int k = 0; k < 2; k++) {
        uint64_t cum = 0, want = (uint64_t)ceil(q[k] * (double)h->count);
        json_t *v = json_null();
        for (size_t i = 0; h->count && i <= GX_HIST_N; i++) {
            cum += h->n[i];
            if (cum >= want) {
                v = i < GX_HIST_N ? json_real(h->le[i]) : json_null();
                break;
            }
        }
        json_object_set_new(o, name[k], v);
    }
    return o;
}

/* The figures of /metrics that are about the broker itself, for the snapshot. */
static json_t *s_broker_json(gx_ctx *b, uint64_t pending)
{
    const gx_obs *o = &b->obs;
    json_t *req = json_object();
    for (int r = 0; r < GX_REQ__COUNT; r++)
        for (int e = 0; e < GX_OUTCOMES; e++) {
            if (!o->req[r][e])
                continue;
            const char *type = r == GX_REQ_NONE ? "undecodable" : gx_req_name((gx_req_type)r);
            json_t *t = json_object_get(req, type);
            if (!t)
                json_object_set_new(req, type, t = json_object());
            json_object_set_new(t, s_outcome[e], json_integer((json_int_t)o->req[r][e]));
        }
    size_t map = 0, used = 0;
    gx_store_usage(b->store, &map, &used);
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:I}", "requests", req,
                     "rate_limited", (json_int_t)b->counters.rate_limited, "notices_written",
                     (json_int_t)b->counters.notices, "notices_sent", (json_int_t)o->delivered, "notices_pending",
                     (json_int_t)pending, "commits", (json_int_t)b->counters.batches, "commit_failures",
                     (json_int_t)b->counters.commit_failures, "notice_latency_s", s_hist_json(&o->notice_latency),
                     "commit_duration_s", s_hist_json(&o->commit_seconds), "commit_batch_requests",
                     s_hist_json(&o->batch_requests), "lmdb", "map_size_bytes", (json_int_t)map, "map_used_bytes",
                     (json_int_t)used, "map_max_bytes", (json_int_t)(b->cfg.map_max_mb << 20), "event_streams",
                     (json_int_t)o->streams);
}

static char *s_snapshot(gx_ctx *b, size_t *len)
{
    int64_t now = (int64_t)time(NULL);
    gx_engine_stats es;
    uint64_t pending = 0;
    bool store_ok = s_store_ok(b, &pending);
    gx_engine_counts(b->engine, &es);
    /* The 30-day figures are a pass over the store: made again when something
     * was committed since, but no sooner than ten times what the last pass cost. */
    gx_obs *o = &b->obs;
    int64_t t0 = gx_mono_us();
    if (!o->last30_us ||
        (o->last30_commits != b->counters.batches && t0 - o->last30_us >= 10 * o->last30_cost_us)) {
        gx_stats_filter f = {.from = now - 30 * 86400, .kind_only = true};
        gx_stats_table t;
        if (gx_report_range(b, &f, &t) == GX_OK) {
            gx_stats_table_fini(&o->last30);
            o->last30 = t;
            o->last30_us = gx_mono_us();
            o->last30_cost_us = o->last30_us - t0;
            o->last30_commits = b->counters.batches;
        }
    }
    s_snap s = {.b = b};
    s_geo_init(b, &s.geo);
    gx_engine_each_demand(b->engine, s_snap_demand, &s);
    gx_engine_each_offer(b->engine, s_snap_offer, &s);

    json_t *root = json_object();
    json_object_set_new(root, "at", json_integer(now));
    json_object_set_new(root, "version", json_string(GX_VERSION));
    json_object_set_new(root, "ready", json_boolean(b->obs.ready && store_ok));
    json_object_set_new(root, "uptime_s", json_integer(now - b->obs.started_ms / 1000));
    json_object_set_new(
        root, "totals",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "firms", (json_int_t)es.firms,
                  "demands_open", (json_int_t)es.demands_open, "offers_open", (json_int_t)es.offers_open,
                  "subscriptions", (json_int_t)es.subs, "matches", (json_int_t)es.matches, "near_misses",
                  (json_int_t)es.near_misses, "demands_unmatched", (json_int_t)es.demands_unmatched, "notices_sent",
                  (json_int_t)b->counters.notices, "notices_pending", (json_int_t)pending, "sessions",
                  (json_int_t)gx_sessions_count(b->sessions), "requests", (json_int_t)b->counters.requests));
    json_t *flow = json_array();
    int64_t minute = now / 60;
    for (int64_t m = minute - GX_FLOW_MINUTES + 1; m <= minute; m++) {
        size_t slot = (size_t)(m % GX_FLOW_MINUTES);
        bool here = b->obs.flow_minute[slot] == m;
        json_array_append_new(flow, json_pack("{s:I, s:I, s:I}", "t", (json_int_t)(m * 60), "postings",
                                              (json_int_t)(here ? b->obs.flow_postings[slot] : 0), "matches",
                                              (json_int_t)(here ? b->obs.flow_matches[slot] : 0)));
    }
    json_object_set_new(root, "flow", flow);
    json_object_set_new(root, "broker", s_broker_json(b, pending));
    json_t *districts = json_array();
    for (size_t i = 0; i < s.geo.n_three; i++)
        json_array_append_new(districts, s_district_json(b, s.geo.three[i]));
    json_array_append_new(districts, s_district_json(b, "city"));
    json_array_append_new(districts, s_district_json(b, "other"));
    json_object_set_new(root, "districts", districts);
    json_t *map = json_array();
    for (size_t i = 0; i < s.n_cells; i++) {
        const s_cell *c = &s.cells[i];
        json_array_append_new(
            map, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f}", "chain", c->chain, "name",
                           s_chain_name(b, c->chain), "name_zh", s_chain_name_in(b, c->chain, true),
                           "name_en", s_chain_name_in(b, c->chain, false), "district", c->geo, "demands_open",
                           (json_int_t)c->demands, "offers_open", (json_int_t)c->offers, "demands_matched",
                           (json_int_t)c->matched, "match_rate",
                           c->demands ? (double)c->matched / (double)c->demands : 0.0));
    }
    json_object_set_new(root, "industry_map", map);
    if (s.n_unmet > 1)
        qsort(s.unmet, s.n_unmet, sizeof *s.unmet, s_cmp_unmet);
    json_t *unmet = json_array();
    for (size_t i = 0; i < s.n_unmet && i < S_UNMET_MAX; i++)
        json_array_append_new(unmet, s_unmet_json(b, &s.unmet[i]));
    json_object_set_new(root, "unmet", unmet);
    gx_stats_row kinds[GX_KIND__COUNT];
    s_by_kind(&b->obs.last30, kinds);
    json_t *bk = json_array();
    for (int k = 1; k < GX_KIND__COUNT; k++)
        json_array_append_new(bk, s_row_json(b, &kinds[k], false));
    json_object_set_new(root, "by_kind", bk);
    free(s.cells);
    free(s.unmet);
    s_keyix_fini(&s.cell_ix);
    s_keyix_fini(&s.unmet_ix);
    char *out = s.oom ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    *len = out ? strlen(out) : 0;
    return out;
}

/* ------------------------------------------------------------------ pages */

static char *s_dup(const char *text, size_t *len)
{
    *len = strlen(text);
    return strdup(text);
}

bool gx_report_page(gx_ctx *b, const char *path, int *status, const char **type, char **body, size_t *len)
{
    *status = 200;
    *type = "text/plain; charset=utf-8";
    if (strcmp(path, "/metrics") == 0) {
        *type = "text/plain; version=0.0.4; charset=utf-8";
        *body = s_metrics(b, len);
    } else if (strcmp(path, "/healthz") == 0) {
        *body = s_dup("ok\n", len);
    } else if (strcmp(path, "/readyz") == 0) {
        bool store_ok = s_store_ok(b, NULL);
        bool ready = b->obs.ready && store_ok;
        *status = ready ? 200 : 503;
        *body = s_dup(ready ? "ready\n" : !store_ok ? "not ready: the store does not answer\n"
                                                    : "not ready: not serving (starting or stopping)\n",
                      len);
    } else if (strcmp(path, "/api/snapshot") == 0) {
        /* A snapshot is a pass over the open postings (README, Operations): the
         * last one is served again while nothing was committed since, or while it
         * is younger than ten times what it cost to make — so however many
         * dashboards poll, making snapshots takes at most a tenth of the loop. */
        gx_obs *o = &b->obs;
        int64_t now_us = gx_mono_us();
        bool same = o->snapshot && o->snapshot_commits == b->counters.batches;
        if (!o->snapshot || (!same && now_us - o->snapshot_us >= 10 * o->snapshot_cost_us)) {
            size_t n = 0;
            char *fresh = s_snapshot(b, &n);
            if (fresh) {
                free(o->snapshot);
                o->snapshot = fresh;
                o->snapshot_len = n;
                o->snapshot_us = gx_mono_us();
                o->snapshot_cost_us = o->snapshot_us - now_us;
                o->snapshot_commits = b->counters.batches;
            }
        }
        *type = "application/json";
        *len = o->snapshot_len;
        *body = o->snapshot ? malloc(o->snapshot_len + 1) : NULL;
        if (*body)
            memcpy(*body, o->snapshot, o->snapshot_len + 1);
    } else {
        return false;
    }
    return true;
}
