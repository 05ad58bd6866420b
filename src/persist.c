/* persist.c — the engine across restarts: the start (snapshot plus replay, or
 * matching every pair), snapshots while serving and at a clean stop. See
 * persist.h. */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "records.h"
#include "snapshot.h"

static void s_drop_writer(gx_ctx *b);

/* ------------------------------------------------------------------ the changes since a snapshot */

/* A key changed since the snapshot: its state as of the snapshot (the oldest
 * before-image after it). */
typedef struct s_change {
    gx_table tb;
    uint8_t *key;
    size_t klen;
    bool existed; /* it had a value at the snapshot: before */
    uint8_t *before;
    size_t blen;
    uint64_t order; /* position in the log, to keep the oldest */
    bool seen;      /* the table scan met its key */
} s_change;

typedef struct s_changes {
    s_change *v;
    size_t n, cap;
    uint64_t entries; /* log entries read (a key may have several) */
    bool oom;
} s_changes;

static void s_changes_fini(s_changes *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].before);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

static bool s_change_collect(void *ctx, uint64_t txnid, gx_table tb, const void *key, size_t klen,
                             bool existed, const void *before, size_t blen)
{
    (void)txnid;
    s_changes *c = ctx;
    if (gx_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v)) {
        c->oom = true;
        return false;
    }
    s_change *x = &c->v[c->n];
    *x = (s_change){.tb = tb, .klen = klen, .existed = existed, .blen = blen, .order = c->entries++};
    x->key = malloc(klen ? klen : 1);
    x->before = malloc(blen ? blen : 1);
    if (!x->key || !x->before) {
        free(x->key);
        free(x->before);
        c->oom = true;
        return false;
    }
    memcpy(x->key, key, klen);
    if (blen)
        memcpy(x->before, before, blen);
    c->n++;
    return true;
}

static int s_keycmp(gx_table ta, const uint8_t *a, size_t na, gx_table tb, const uint8_t *b, size_t nb)
{
    if (ta != tb)
        return ta < tb ? -1 : 1;
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : na < nb ? -1 : na > nb;
}

static int s_change_cmp(const void *pa, const void *pb)
{
    const s_change *a = pa, *b = pb;
    int c = s_keycmp(a->tb, a->key, a->klen, b->tb, b->key, b->klen);
    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* Reads the changes after txnid into c: one entry per key, sorted by (table,
 * key), holding the key's state as of txnid. */
static gx_err s_changes_read(gx_txn *t, uint64_t txnid, s_changes *c)
{
    gx_err err = gx_store_changes(t, txnid, s_change_collect, c);
    if (!err && c->oom)
        err = GX_ERR_NOMEM;
    if (err)
        return err;
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, s_change_cmp);
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (w && !s_keycmp(c->v[w - 1].tb, c->v[w - 1].key, c->v[w - 1].klen, c->v[i].tb, c->v[i].key,
                           c->v[i].klen)) {
            free(c->v[i].key); /* a later change of the same key: the oldest before-image stands */
            free(c->v[i].before);
            continue;
        }
        c->v[w++] = c->v[i];
    }
    c->n = w;
    return GX_OK;
}

static s_change *s_change_find(s_changes *c, gx_table tb, const void *key, size_t klen)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = s_keycmp(c->v[mid].tb, c->v[mid].key, c->v[mid].klen, tb, key, klen);
        if (r == 0)
            return &c->v[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------ options */

void gx_persist_engine_opts(const gx_ctx *b, gx_engine_opts *o)
{
    gx_engine_opts_default(o);
    const gx_config *c = &b->cfg;
    o->shortlist_k = (unsigned)c->shortlist_k;
    o->near_miss_max = (unsigned)c->near_miss_max;
    o->rules.weights[GX_TERM_INDUSTRY] = c->weight_industry;
    o->rules.weights[GX_TERM_PROCESS] = c->weight_process;
    o->rules.weights[GX_TERM_DISTANCE] = c->weight_distance;
    o->rules.weights[GX_TERM_CREDIT] = c->weight_credit;
    o->rules.weights[GX_TERM_CAPACITY] = c->weight_capacity;
    o->rules.weights[GX_TERM_LEAD_TIME] = c->weight_lead_time;
    o->rules.weights[GX_TERM_PRICE] = c->weight_price;
    o->rules.weights[GX_TERM_TRACK_RECORD] = c->weight_track_record;
    o->rules.distance_full_km = c->distance_full_km;
    o->rules.utc_offset_min = (int)c->utc_offset_minutes;
    o->rules.three_districts = gx_vocab_three_districts(b->vocab, &o->rules.n_three_districts);
}
/* Progress of a start: logged, and told to whoever started us (systemd). */
typedef struct s_progress {
    gx_persist_progress_fn fn; /* may be NULL: then only logged */
    void *arg;
    int64_t interval_ms;      /* between reports */
    double t0;                /* monotonic seconds at the start of the load */
    double demands_t0;        /* when the demand table's turn came */
    double replay_t0;         /* when the replay began */
    double next;              /* when the next report is due */
    const char *how;          /* "matching every pair", "restoring the engine snapshot" */
    uint64_t offers, demands; /* records in the two tables at the start */
} s_progress;

typedef struct s_load {
    gx_ctx *b;         /* broker being loaded */
    gx_table table;    /* table being visited */
    gx_err err;        /* first failure */
    uint64_t loaded;   /* records taken */
    gx_snapshot *snap; /* demands' lists as of the snapshot, or NULL */
    s_changes *chg;    /* keys changed since the snapshot (with snap), or NULL */
    uint64_t restored; /* demands taken from it */
    uint64_t matched;  /* demands it should have had and did not: matched afresh */
    s_progress *pr;    /* a start's progress, or NULL (a rebuild while serving) */
} s_load;

/* Seconds on the monotonic clock (log.h). */
static double s_mono(void)
{
    return (double)gx_mono_us() / 1e6;
}

/* Reports where the load is: which table, how far, how long so far and, once
 * demands are being matched, about how long is left (demands cost nearly all
 * of a start; offers and firms take seconds). */
static void s_progress_report(s_progress *pr, const s_load *l)
{
    double now = s_mono(), secs = now - pr->t0;
    char line[256];
    if (!l) {
        snprintf(line, sizeof line, "starting: %s: %llu offer and %llu demand records to load", pr->how,
                 (unsigned long long)pr->offers, (unsigned long long)pr->demands);
    } else if (l->table == GX_T_DEMANDS && pr->demands) {
        double share = (double)l->loaded / (double)pr->demands;
        double per = l->loaded ? (now - pr->demands_t0) / (double)l->loaded : 0;
        snprintf(line, sizeof line,
                 "starting: %s: %llu of %llu demand records (%.0f%%), %.0f s so far, about %.0f s "
                 "left",
                 pr->how, (unsigned long long)l->loaded, (unsigned long long)pr->demands, 100 * share, secs,
                 per * (double)(pr->demands - (l->loaded < pr->demands ? l->loaded : pr->demands)));
    } else {
        snprintf(line, sizeof line, "starting: %s: %llu %s records loaded, %.0f s so far", pr->how,
                 (unsigned long long)l->loaded,
                 l->table == GX_T_OFFERS    ? "offer"
                 : l->table == GX_T_FIRMS   ? "firm"
                 : l->table == GX_T_DEMANDS ? "demand"
                                            : "subscription",
                 secs);
    }
    gx_log(GX_LOG_NOTICE, "%s", line);
    if (pr->fn)
        pr->fn(pr->arg, line, pr->interval_ms);
    pr->next = now + (double)pr->interval_ms / 1000.0;
}

/* An open demand from the store into the engine: with the lists the snapshot
 * kept for it when there is one the engine accepts, else matched afresh. */
static gx_err s_load_demand(s_load *l, gx_demand *d)
{
    const gx_match *m;
    const gx_near *nm;
    size_t n_m, n_elig, n_nm;
    if (l->snap && gx_snapshot_lists(l->snap, d->id, &m, &n_m, &n_elig, &nm, &n_nm)) {
        gx_err err = gx_engine_restore_demand(l->b->engine, d, m, n_m, n_elig, nm, n_nm, l->b->now);
        if (err != GX_ERR_INVALID) { /* restored (d taken), or a failure the caller reports */
            l->restored += err == GX_OK;
            return err;
        }
    }
    l->matched += l->snap != NULL;
    return gx_engine_add_demand(l->b->engine, d, l->b->now, NULL);
}

/* One record of the table being loaded: counted among its owner's open
 * postings when `count` (a remote posting counts against nothing here, as in
 * gx_records_count_open), put into the engine when `engine`. */
static gx_err s_take(s_load *l, const void *val, size_t vlen, bool count, bool engine)
{
    gx_engine *e = l->b->engine;
    gx_err err = GX_OK;
    switch (l->table) {
    case GX_T_FIRMS: {
        gx_firm f;
        if (engine && (err = gx_codec_decode_firm(val, vlen, &f)) == GX_OK) {
            err = gx_engine_put_firm(e, &f, l->b->now, NULL);
            gx_firm_fini(&f);
        }
        break;
    }
    case GX_T_OFFERS: {
        gx_offer o;
        if ((err = gx_codec_decode_offer(val, vlen, &o)) == GX_OK) {
            if (o.state == GX_STATE_OPEN &&
                !(err = count && !GX_FED_CITY_OF(o.id) ? gx_quota_add(l->b->open, o.owner, 1) : GX_OK) &&
                engine)
                err = gx_engine_add_offer(e, &o, l->b->now, NULL);
            gx_offer_fini(&o);
        }
        break;
    }
    case GX_T_DEMANDS: {
        gx_demand d;
        if ((err = gx_codec_decode_demand(val, vlen, &d)) == GX_OK) {
            if (d.state == GX_STATE_OPEN &&
                !(err = count && !GX_FED_CITY_OF(d.id) ? gx_quota_add(l->b->open, d.owner, 1) : GX_OK) &&
                engine)
                err = s_load_demand(l, &d);
            gx_demand_fini(&d);
        }
        break;
    }
    case GX_T_SUBS: {
        gx_sub s;
        if ((err = gx_codec_decode_sub(val, vlen, &s)) == GX_OK &&
            !(err = gx_quota_add(l->b->open, s.owner, 1))) {
            err = gx_engine_add_sub(e, &s, l->b->now, NULL);
            gx_sub_fini(&s);
        }
        break;
    }
    default:
        break;
    }
    return err;
}

static bool s_load_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_load *l = ctx;
    s_change *c = l->chg ? s_change_find(l->chg, l->table, key, klen) : NULL;
    gx_err err;
    if (!c) {
        err = s_take(l, val, vlen, true, true);
    } else { /* counted as it is now, matched as it was at the snapshot (then replayed) */
        c->seen = true;
        err = s_take(l, val, vlen, true, false);
        if (!err && c->existed)
            err = s_take(l, c->before, c->blen, false, true);
    }
    if (err) {
        gx_log(GX_LOG_ERR, "loading %s record (key %zu bytes): %s",
               l->table == GX_T_FIRMS ? "firm" : "posting", klen, gx_err_str(err));
        l->err = err;
        return false;
    }
    l->loaded++;
    if (l->pr && (l->loaded & 63) == 0 && s_mono() >= l->pr->next)
        s_progress_report(l->pr, l);
    return true;
}

/* Keys of the table loaded that changed since the snapshot and are gone from
 * the store now: into the engine as they were at the snapshot (the replay
 * takes them out again). */
static gx_err s_take_unseen(s_load *l)
{
    for (size_t i = 0; l->chg && i < l->chg->n && !l->err; i++) {
        s_change *c = &l->chg->v[i];
        if (c->tb == l->table && !c->seen && c->existed)
            l->err = s_take(l, c->before, c->blen, false, true);
    }
    return l->err;
}

static bool s_key_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_load *l = ctx;
    char k[GX_KEY_LEN + 1], firm[GX_FIRM_ID_LEN + 1];
    if (klen != GX_KEY_LEN || vlen < GX_FIRM_ID_LEN + 1) {
        l->err = GX_ERR_MALFORMED;
        return false;
    }
    memcpy(k, key, GX_KEY_LEN);
    k[GX_KEY_LEN] = 0;
    memcpy(firm, val, GX_FIRM_ID_LEN);
    firm[GX_FIRM_ID_LEN] = 0;
    l->err = gx_auth_put(l->b->auth, k, firm, ((const uint8_t *)val)[GX_FIRM_ID_LEN] != 0);
    return l->err == GX_OK;
}

/* A fresh key registry: operator keys from their file, firm keys from the store. */
gx_err gx_persist_load_keys(gx_ctx *b, gx_txn *t)
{
    gx_auth *a = NULL;
    char err[512];
    gx_err rc = gx_auth_new(&a);
    if (rc)
        return rc;
    b->auth = a;
    if (b->cfg.insecure_dev)
        return GX_OK;
    if ((rc = gx_auth_load_operators(a, b->operator_keys, err, sizeof err))) {
        gx_log(GX_LOG_ERR, "operator keys: %s", err);
        return rc;
    }
    s_load l = {.b = b, .table = GX_T_KEYS};
    rc = gx_store_scan(t, GX_T_KEYS, NULL, 0, NULL, 0, s_key_visit, &l);
    return rc ? rc : l.err;
}

/* ------------------------------------------------------------------ replay */

/* Applies one changed key's current record (read in t) to the engine loaded
 * as of the snapshot, as the live engine took the change, without effects. */
static gx_err s_replay_one(gx_ctx *b, gx_txn *t, const s_change *c)
{
    gx_engine *e = b->engine;
    const void *v = NULL;
    size_t vl = 0;
    gx_err err = gx_store_get(t, c->tb, c->key, c->klen, &v, &vl);
    bool now_there = err == GX_OK;
    if (err && err != GX_ERR_NOT_FOUND)
        return err;
    if (c->tb == GX_T_FIRMS) {
        gx_firm f;
        if (!now_there || (err = gx_codec_decode_firm(v, vl, &f)))
            return err == GX_ERR_NOT_FOUND ? GX_OK : err; /* firms are never deleted; the engine keeps it */
        err = gx_engine_put_firm(e, &f, b->now, NULL);
        gx_firm_fini(&f);
        return err;
    }
    if (c->klen != 8)
        return GX_ERR_MALFORMED;
    uint64_t id = gx_store_from_be64(c->key);
    if (c->tb == GX_T_OFFERS) {
        gx_offer o = {0};
        if (now_there && (err = gx_codec_decode_offer(v, vl, &o)))
            return err;
        bool open = now_there && o.state == GX_STATE_OPEN, held = gx_engine_offer(e, id) != NULL;
        if (open)
            err =
                held ? gx_engine_update_offer(e, &o, b->now, NULL) : gx_engine_add_offer(e, &o, b->now, NULL);
        else if (held)
            err = gx_engine_close_offer(
                e, id, now_there && o.state == GX_STATE_EXPIRED ? GX_STATE_EXPIRED : GX_STATE_WITHDRAWN,
                NULL);
        gx_offer_fini(&o);
        return err;
    }
    if (c->tb == GX_T_DEMANDS) {
        gx_demand d = {0};
        if (now_there && (err = gx_codec_decode_demand(v, vl, &d)))
            return err;
        bool open = now_there && d.state == GX_STATE_OPEN, held = gx_engine_demand(e, id) != NULL;
        if (open)
            err = held ? gx_engine_update_demand(e, &d, b->now, NULL)
                       : gx_engine_add_demand(e, &d, b->now, NULL);
        else if (held)
            err = gx_engine_close_demand(e, id, now_there ? d.state : GX_STATE_WITHDRAWN, NULL);
        gx_demand_fini(&d);
        return err;
    }
    return GX_OK;
}

static void s_replay_report(s_progress *pr, size_t done, size_t n)
{
    double now = s_mono(), secs = now - pr->t0, per = (now - pr->replay_t0) / (double)done;
    char line[256];
    snprintf(line, sizeof line,
             "starting: replaying the changes since the engine snapshot: %zu of %zu (%.0f%%), "
             "%.0f s so far, about %.0f s left",
             done, n, 100.0 * (double)done / (double)n, secs, per * (double)(n - done));
    gx_log(GX_LOG_NOTICE, "%s", line);
    if (pr->fn)
        pr->fn(pr->arg, line, pr->interval_ms);
    pr->next = now + (double)pr->interval_ms / 1000.0;
}

/* Replays every change: firms first (their postings are judged under them),
 * then offers, then demands. */
static gx_err s_replay(gx_ctx *b, gx_txn *t, const s_changes *chg, s_progress *pr)
{
    size_t done = 0;
    static const gx_table order[] = {GX_T_FIRMS, GX_T_OFFERS, GX_T_DEMANDS};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (size_t i = 0; i < chg->n; i++) {
            if (chg->v[i].tb != order[k])
                continue;
            gx_err err = s_replay_one(b, t, &chg->v[i]);
            if (pr && (++done & 63) == 0 && s_mono() >= pr->next)
                s_replay_report(pr, done, chg->n);
            if (err) {
                gx_log(GX_LOG_ERR, "replaying a change of table '%s' (key %zu bytes): %s",
                       gx_store_table_name(chg->v[i].tb), chg->v[i].klen, gx_err_str(err));
                return err;
            }
        }
    return GX_OK;
}

/* ------------------------------------------------------------------ loading */

/* Builds a fresh engine and key registry from the store — read in t, or in a
 * read transaction of its own when t is NULL — and swaps them in only when
 * both loaded completely; on failure the old ones stay and stay dirty. With a
 * snapshot, the changed keys (chg) are loaded as they were at it and then
 * replayed. */
static gx_err s_rebuild_engine_from(gx_ctx *b, gx_txn *t, gx_snapshot *snap, s_changes *chg, s_progress *pr,
                                    uint64_t *restored, uint64_t *matched)
{
    gx_engine_opts eo;
    s_drop_writer(b); /* it reads the engine this replaces */
    gx_engine *e = NULL, *old_engine = b->engine;
    gx_auth *old_auth = b->auth;
    gx_quota *q = NULL, *old_open = b->open;
    gx_txn *own = NULL;
    gx_persist_engine_opts(b, &eo);
    gx_err err = gx_engine_new(&eo, &e);
    if (!err)
        err = gx_quota_new(&q);
    b->open = q;
    if (!err && !t && !(err = gx_store_begin(b->store, false, &own)))
        t = own;
    b->engine = e; /* s_load_visit and gx_persist_load_keys fill b->engine / b->auth */
    b->auth = NULL;
    if (pr && !err && !(err = gx_store_count(t, GX_T_OFFERS, &pr->offers)) &&
        !(err = gx_store_count(t, GX_T_DEMANDS, &pr->demands)))
        s_progress_report(pr, NULL);
    static const gx_table order[] = {GX_T_FIRMS, GX_T_OFFERS, GX_T_DEMANDS, GX_T_SUBS};
    for (size_t i = 0; !err && i < sizeof order / sizeof order[0]; i++) {
        s_load l = {b, order[i], GX_OK, 0, snap, snap ? chg : NULL, 0, 0, pr};
        if (pr && order[i] == GX_T_DEMANDS)
            pr->demands_t0 = s_mono();
        err = gx_store_scan(t, order[i], NULL, 0, NULL, 0, s_load_visit, &l);
        if (!err)
            err = l.err ? l.err : s_take_unseen(&l);
        if (order[i] == GX_T_DEMANDS && restored)
            *restored = l.restored, *matched = l.matched;
    }
    if (pr)
        pr->replay_t0 = s_mono();
    if (!err && snap && chg)
        err = s_replay(b, t, chg, pr);
    if (!err)
        err = gx_persist_load_keys(b, t);
    gx_store_abort(&own);
    if (err) {
        gx_engine_destroy(&b->engine);
        gx_auth_destroy(&b->auth);
        gx_quota_destroy(&b->open);
        b->engine = old_engine;
        b->auth = old_auth;
        b->open = old_open;
        b->engine_dirty = true;
        return err;
    }
    gx_engine_destroy(&old_engine);
    gx_auth_destroy(&old_auth);
    gx_quota_destroy(&old_open);
    b->engine_dirty = false;
    return GX_OK;
}

gx_err gx_persist_rebuild(gx_ctx *b, gx_txn *t)
{
    b->counters.engine_rebuilds++;
    b->rebuild_now = false; /* asked once; engine_dirty stays set if this fails */
    return s_rebuild_engine_from(b, t, NULL, NULL, NULL, NULL, NULL);
}

/* What the match state depends on besides the store: the engine's format
 * (GX_ENGINE_FORMAT: what its rules and lists mean), the engine options and the
 * vocabulary. A snapshot is used only under the same. Not the binary: a
 * rebuild of the same code (a second configure, a new mtime) keeps the lists. */
static uint64_t s_fingerprint(const gx_ctx *b)
{
    gx_engine_opts o;
    gx_persist_engine_opts(b, &o);
    uint64_t h = GX_FNV_SEED;
    uint32_t format = GX_ENGINE_FORMAT;
    h = gx_fnv1a(h, &format, sizeof format);
    h = gx_fnv1a(h, &o.shortlist_k, sizeof o.shortlist_k);
    h = gx_fnv1a(h, &o.near_miss_max, sizeof o.near_miss_max);
    h = gx_fnv1a(h, o.rules.weights, sizeof o.rules.weights);
    h = gx_fnv1a(h, &o.rules.utc_offset_min, sizeof o.rules.utc_offset_min);
    h = gx_fnv1a(h, &o.rules.distance_full_km, sizeof o.rules.distance_full_km);
    for (size_t i = 0; i < o.rules.n_three_districts; i++)
        h = gx_fnv1a(h, o.rules.three_districts[i], strlen(o.rules.three_districts[i]) + 1);
    uint64_t v = gx_vocab_fingerprint(b->vocab);
    h = gx_fnv1a(h, &v, sizeof v);
    return h;
}

/* ------------------------------------------------------------------ files */

enum { S_CUR, S_NEXT };

/* Change log entries dropped per transaction once a snapshot covers them: a
 * few milliseconds of the writer's time. */
#define S_PRUNE_SLICE 2048

static void s_path(const gx_ctx *b, int which, const char *suffix, char *out, size_t len)
{
    snprintf(out, len, "%s/engine.snap%s%s", b->cfg.data_dir, which == S_NEXT ? ".next" : "", suffix);
}

static void s_fsync_dir(const gx_ctx *b)
{
    int fd = open(b->cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        gx_log(GX_LOG_WARNING, "cannot fsync %s: %s", b->cfg.data_dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void s_unlink(const char *path, const char *what)
{
    if (unlink(path) == 0)
        gx_log(GX_LOG_NOTICE, "removed %s, %s", path, what);
    else if (errno != ENOENT)
        gx_log(GX_LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
}

/* After the commit that recorded the snapshot of txnid in the store (which
 * drops the change log it covers): the file takes its
 * name (no fsync of the directory: a crash before the rename is durable
 * leaves engine.snap.next, which a start uses, its transaction being the
 * mark), and the log it covers goes a slice per batch. */
static void s_recorded(gx_ctx *b, uint64_t txnid, uint64_t pruned)
{
    char next[GX_CONFIG_STR_MAX + 40], cur[GX_CONFIG_STR_MAX + 40];
    s_path(b, S_NEXT, "", next, sizeof next);
    s_path(b, S_CUR, "", cur, sizeof cur);
    if (rename(next, cur) != 0) /* harmless: a start finds the recorded one under either name */
        gx_log(GX_LOG_WARNING, "cannot rename %s to %s: %s", next, cur, strerror(errno));
    b->persist.prune_upto = txnid;
    b->persist.prune_more = pruned == S_PRUNE_SLICE; /* the rest a slice per batch (gx_persist_prune) */
    gx_log(GX_LOG_INFO, "engine snapshot of transaction %llu recorded; the change log it covers is dropped",
           (unsigned long long)txnid);
}

/* Records in the store that the snapshot in engine.snap.next (of transaction
 * txnid) is complete, in a transaction of its own (at a stop, or a snapshot
 * while serving that no write batch came to carry), and makes it engine.snap.
 * On failure the old pair of snapshot and log stays in force. */
static gx_err s_record(gx_ctx *b, uint64_t txnid)
{
    gx_txn *t = NULL;
    uint64_t pruned = 0;
    gx_err err = gx_store_begin(b->store, true, &t);
    if (!err && !(err = gx_store_snapshot_mark(t, txnid)) &&
        !(err = gx_store_prune_changes(t, txnid, S_PRUNE_SLICE, &pruned)))
        err = gx_store_commit(&t);
    gx_store_abort(&t);
    if (err) {
        char next[GX_CONFIG_STR_MAX + 40];
        s_path(b, S_NEXT, "", next, sizeof next);
        gx_log(GX_LOG_WARNING,
               "engine snapshot of transaction %llu not recorded in the store (%s: %s); the one "
               "before stays in force",
               (unsigned long long)txnid, gx_err_str(err), gx_store_last_error(b->store));
        s_unlink(next, "a snapshot the store did not record");
        return err;
    }
    s_recorded(b, txnid, pruned);
    return GX_OK;
}

/* ------------------------------------------------------------------ start */

/* Opens the snapshot the store's mark names (engine.snap.next, then
 * engine.snap); *which gets which. why says why there is none. */
static gx_err s_open_snapshot(gx_ctx *b, uint64_t *mark, gx_snapshot **snap, int *which, char *why,
                              size_t whylen)
{
    gx_txn *t = NULL;
    uint64_t newest = 0, now_at = gx_store_txnid(b->store);
    gx_err err = gx_store_begin(b->store, false, &t);
    if (!err && !(err = gx_store_changes_newest(t, &newest)))
        err = gx_store_snapshot_txnid(t, mark);
    gx_store_abort(&t);
    if ((!err || err == GX_ERR_NOT_FOUND) && (newest > now_at || *mark > now_at)) {
        /* A compacted copy (a restored backup): its transaction ids began again from 1, and
         * neither the log nor the mark fits them. Both go; the next snapshot starts afresh. */
        snprintf(why, whylen,
                 "the store's transaction ids went back (to %llu; its change log reaches %llu, its "
                 "snapshot mark %llu): a compacted copy such as a restored backup; the change log is dropped",
                 (unsigned long long)now_at, (unsigned long long)newest, (unsigned long long)*mark);
        if (!(err = gx_store_begin(b->store, true, &t)) && !(err = gx_store_snapshot_mark(t, 0)) &&
            !(err = gx_store_prune_changes(t, UINT64_MAX, 0, NULL)))
            err = gx_store_commit(&t);
        gx_store_abort(&t);
        *mark = 0;
        return err ? err : GX_ERR_CONFLICT;
    }
    if (err == GX_ERR_NOT_FOUND) {
        snprintf(why, whylen, "the store records no complete engine snapshot");
        return err;
    }
    if (err) {
        snprintf(why, whylen, "cannot read the store's snapshot mark: %s", gx_store_last_error(b->store));
        return err;
    }
    char path[GX_CONFIG_STR_MAX + 40], one[GX_CONFIG_STR_MAX + 240];
    why[0] = 0;
    for (int w = S_NEXT; w >= S_CUR; w--) {
        s_path(b, w, "", path, sizeof path);
        err = gx_snapshot_open(path, gx_store_id(b->store), *mark, s_fingerprint(b), snap, one, sizeof one);
        if (!err) {
            *which = w;
            return GX_OK;
        }
        if (err != GX_ERR_NOT_FOUND || w == S_CUR)
            snprintf(why + strlen(why), whylen - strlen(why), "%s%s", why[0] ? "; " : "",
                     err == GX_ERR_NOT_FOUND ? "no engine.snap" : one);
    }
    return GX_ERR_INVALID;
}

gx_err gx_persist_start(gx_ctx *b, gx_persist_progress_fn progress, void *arg)
{
    char path[GX_CONFIG_STR_MAX + 40], why[2 * GX_CONFIG_STR_MAX + 600];
    gx_persist *p = &b->persist;
    double t0 = s_mono();
    for (int w = S_CUR; w <= S_NEXT; w++) {
        s_path(b, w, ".tmp", path, sizeof path);
        s_unlink(path, "left by a snapshot that was not finished");
    }
    gx_snapshot *snap = NULL;
    s_changes chg = {0};
    uint64_t mark = 0;
    int which = S_CUR;
    gx_err serr = GX_ERR_NOT_FOUND;
    if (!b->cfg.engine_snapshot) {
        /* No snapshots: no change log either; drop one a previous configuration kept. */
        gx_txn *t = NULL;
        gx_err err = gx_store_begin(b->store, true, &t);
        if (!err && !(err = gx_store_snapshot_mark(t, 0)) &&
            !(err = gx_store_prune_changes(t, UINT64_MAX, 0, NULL)))
            err = gx_store_commit(&t);
        gx_store_abort(&t);
        if (err)
            return err;
    } else if ((serr = s_open_snapshot(b, &mark, &snap, &which, why, sizeof why)) == GX_OK) {
        gx_txn *t = NULL;
        gx_err err = gx_store_begin(b->store, false, &t);
        if (!err)
            err = s_changes_read(t, mark, &chg);
        gx_store_abort(&t);
        if (err) {
            snprintf(why, sizeof why, "cannot read the change log: %s", gx_err_str(err));
            gx_snapshot_close(&snap);
            s_changes_fini(&chg);
            serr = err;
        }
    }
    if (serr && b->cfg.engine_snapshot)
        gx_log(GX_LOG_NOTICE, "engine snapshot not used: %s; matching every pair", why);
    uint64_t restored = 0, matched = 0;
    s_progress pr = {.fn = progress,
                     .arg = arg,
                     .interval_ms = b->cfg.start_progress_ms,
                     .t0 = t0,
                     .how = snap ? "restoring the engine snapshot" : "matching every pair"};
    gx_err err = s_rebuild_engine_from(b, NULL, snap, &chg, &pr, &restored, &matched);
    if (err && snap && err != GX_ERR_NOMEM && err != GX_ERR_IO) {
        gx_log(GX_LOG_NOTICE,
               "engine snapshot not used: restoring it and replaying %zu changes failed (%s); "
               "matching every pair",
               chg.n, gx_err_str(err));
        gx_snapshot_close(&snap);
        serr = err;
        pr.how = "matching every pair";
        err = s_rebuild_engine_from(b, NULL, NULL, NULL, &pr, NULL, NULL);
    }
    double secs = s_mono() - t0;
    p->start_seconds = secs;
    if (snap) {
        s_path(b, which, "", path, sizeof path);
        p->replayed = chg.n;
        gx_log(
            GX_LOG_INFO,
            "engine restored from %s (transaction %llu) in %.2f s: %llu demands with their saved "
            "lists, %llu matched afresh; %zu changed firms and postings replayed (%llu change log entries)",
            path, (unsigned long long)mark, secs, (unsigned long long)restored, (unsigned long long)matched,
            chg.n, (unsigned long long)chg.entries);
        gx_snapshot_close(&snap);
        if (which == S_NEXT) { /* recorded, and not renamed before a crash: now */
            char cur[GX_CONFIG_STR_MAX + 40];
            s_path(b, S_CUR, "", cur, sizeof cur);
            if (rename(path, cur) == 0)
                s_fsync_dir(b);
            else /* harmless: the next start finds it under this name again */
                gx_log(GX_LOG_WARNING, "cannot rename %s to %s: %s", path, cur, strerror(errno));
        } else {
            s_path(b, S_NEXT, "", path, sizeof path);
            s_unlink(path, "a snapshot written after the one the store records");
        }
    } else if (!err) {
        gx_log(GX_LOG_INFO, "engine rebuilt by matching every pair in %.2f s", secs);
        if (b->cfg.engine_snapshot && serr != GX_ERR_NOT_FOUND)
            for (int w = S_CUR; w <= S_NEXT; w++) {
                s_path(b, w, "", path, sizeof path);
                s_unlink(path, "a snapshot that could not be used");
            }
    }
    s_changes_fini(&chg);
    p->prune_upto = mark; /* entries a crash left below the mark go with the first batches */
    p->prune_more = mark != 0;
    p->last_begun_us = gx_mono_us();
    p->current = !err && serr == GX_OK && p->replayed == 0 &&
                 matched == 0; /* the recorded snapshot is the engine now */
    p->current_logged = 0;
    p->current_fp = s_fingerprint(b);
    p->due = !err && b->cfg.engine_snapshot &&
             !p->current; /* write one soon: a crash now should not cost this again */
    return err;
}

/* ------------------------------------------------------------------ while serving */

/* Drops a snapshot being written (a stop, a rebuild of the engine, the broker
 * going away): its files go, the one before stays in force. */
static void s_drop_writer(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    if (!p->w)
        return;
    gx_snapshot_writer_free(&p->w); /* a sync under way is left to end by itself */
    p->current = false;             /* the one recorded may be behind: the next tick may write one */
    char path[GX_CONFIG_STR_MAX + 40];
    s_path(b, S_NEXT, ".tmp", path, sizeof path);
    unlink(path);
    s_path(b, S_NEXT, "", path, sizeof path);
    unlink(path);
}

static void s_stall(gx_persist *p, int64_t us)
{
    if (us > p->stall_us_last)
        p->stall_us_last = us;
    if (us > p->stall_us_max)
        p->stall_us_max = us;
}

static void s_begin(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    uint64_t txnid = gx_store_txnid(b->store), fp = s_fingerprint(b);
    char path[GX_CONFIG_STR_MAX + 40];
    s_path(b, S_NEXT, "", path, sizeof path);
    int64_t t0 = gx_mono_us();
    gx_err err = gx_snapshot_begin(path, b->engine, gx_store_id(b->store), txnid, fp, &p->w);
    int64_t t1 = gx_mono_us();
    p->last_begun_us = t0;
    p->due = p->asked = false;
    if (err) {
        p->failed++;
        gx_log(GX_LOG_WARNING, "engine snapshot not begun: %s: %s; next try in snapshot_interval_s",
               gx_err_str(err), strerror(errno));
        return;
    }
    p->swept = false;
    p->txnid = txnid;
    p->fp = fp;
    p->started_us = p->step_us = t0;
    p->step_credit = 0;
    p->logged_at = gx_store_changes_logged(b->store);
    p->stall_us_last = 0;
    p->to_write = gx_snapshot_writer_demands(p->w);
    s_stall(p, t1 - t0);
    gx_log(GX_LOG_DEBUG, "engine snapshot of transaction %llu begun (freeze %.1f ms)",
           (unsigned long long)txnid, (double)(t1 - t0) / 1000.0);
}

/* One slice of the write: about a millisecond of the loop's turn, or what
 * snapshot_write_rate allows since the last. */
static void s_step(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    int64_t now = gx_mono_us();
    size_t max = SIZE_MAX;
    if (b->cfg.snapshot_write_rate > 0) {
        double rate = (double)b->cfg.snapshot_write_rate;
        p->step_credit += rate * (double)(now - p->step_us) / 1e6;
        p->step_us = now;
        if (p->step_credit > rate)
            p->step_credit = rate; /* at most a second's worth at once */
        if (p->step_credit < 1)
            return;
        max = (size_t)p->step_credit;
        p->step_credit -= (double)max;
    }
    p->step_us = now;
    bool swept = false;
    gx_snapshot_step(p->w, 1000, max, &swept);
    s_stall(p, gx_mono_us() - now);
    p->swept = swept;
}

/* A write that ended: records its snapshot, or says why there is none. */
static void s_ended(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    gx_err err = GX_OK;
    if (!gx_snapshot_ended(p->w, &err, NULL))
        return;
    int keep = errno;
    gx_snapshot_writer_free(&p->w);
    double secs = (double)(gx_mono_us() - p->started_us) / 1e6;
    if (err) {
        p->failed++;
        p->current = false; /* tried again after snapshot_interval_s, even with nothing new */
        gx_log(GX_LOG_WARNING,
               "engine snapshot of transaction %llu failed (%s: %s); the one before stays in force",
               (unsigned long long)p->txnid, gx_err_str(err), strerror(keep));
        return;
    }
    p->last_seconds = secs;
    p->mark_due = p->txnid;
    p->mark_due_us = gx_mono_us();
    gx_log(GX_LOG_INFO,
           "engine snapshot of transaction %llu written in %.3f s while serving (longest stall of the loop "
           "%.1f ms)",
           (unsigned long long)p->txnid, secs, (double)p->stall_us_last / 1000.0);
}

/* A snapshot written is recorded by the next write batch, in a child of its
 * transaction: no commit (no fsync) of its own in the loop. When none comes
 * within S_MARK_WAIT_S, or before the next snapshot begins, by one of its own. */
#define S_MARK_WAIT_S 5

/* The snapshot written is the one recorded now. */
static void s_now_current(gx_persist *p)
{
    p->written++;
    p->current = true;
    p->current_logged = p->logged_at;
    p->current_fp = p->fp;
    p->mark_due = p->mark_batch = 0;
}

static void s_mark_alone(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    if (s_record(b, p->mark_due) != GX_OK) {
        p->failed++;
        p->current = false;
        p->mark_due = p->mark_batch = 0;
        return;
    }
    s_now_current(p);
}

void gx_persist_batch_done(gx_ctx *b, bool committed)
{
    gx_persist *p = &b->persist;
    if (!p->mark_batch)
        return;
    if (!committed) {
        p->mark_batch = 0; /* still due: the next batch, or one of its own */
        return;
    }
    s_recorded(b, p->mark_batch, p->mark_pruned);
    s_now_current(p);
}

/* How long a write may take before it is given up: twice what its pace
 * makes it last, and at least S_WRITE_LIMIT_S. */
#define S_WRITE_LIMIT_S 120

void gx_persist_tick(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    if (!b->cfg.engine_snapshot || b->txn)
        return;
    if (p->w) {
        if (!p->swept)
            s_step(b);
        if (p->swept)
            s_ended(b);
        int64_t limit_us = (int64_t)S_WRITE_LIMIT_S * 1000000;
        if (b->cfg.snapshot_write_rate > 0) {
            int64_t paced = 2 * (int64_t)(p->to_write / (uint64_t)b->cfg.snapshot_write_rate + 1);
            if (paced > S_WRITE_LIMIT_S)
                limit_us = paced * 1000000;
        }
        if (p->w && gx_mono_us() - p->started_us > limit_us) {
            p->failed++;
            gx_log(GX_LOG_WARNING,
                   "engine snapshot of transaction %llu given up: %s after %.0f s; the one before stays in "
                   "force",
                   (unsigned long long)p->txnid,
                   p->swept ? "its fsync has not returned" : "still being written",
                   (double)(gx_mono_us() - p->started_us) / 1e6);
            s_drop_writer(b);
        }
        return;
    }
    if (p->mark_due && gx_mono_us() - p->mark_due_us >= (int64_t)S_MARK_WAIT_S * 1000000)
        s_mark_alone(b);
    if (b->engine_dirty || (!p->asked && b->cfg.snapshot_interval_s == 0 && b->cfg.snapshot_changes == 0))
        return;
    uint64_t logged = gx_store_changes_logged(b->store);
    int64_t since_us = gx_mono_us() - p->last_begun_us;
    if (!p->due && !p->asked) {
        if (logged == p->logged_at && p->current)
            return; /* nothing changed since the last (an options reload alone waits for a change) */
        bool by_time = b->cfg.snapshot_interval_s > 0 && since_us >= b->cfg.snapshot_interval_s * 1000000;
        bool by_count = b->cfg.snapshot_changes > 0 &&
                        logged - p->logged_at >= (uint64_t)b->cfg.snapshot_changes &&
                        since_us >= 10 * 1000000;
        if (!by_time && !by_count)
            return;
    }
    if (p->mark_due)
        s_mark_alone(b); /* the one written before: its figures are about to be replaced */
    s_begin(b);
}

int gx_persist_wake_ms(const gx_ctx *b)
{
    return !b->persist.w ? -1 : b->persist.swept ? 10 : 1;
}

void gx_persist_prune(gx_ctx *b, gx_txn *t)
{
    gx_persist *p = &b->persist;
    gx_txn *c = NULL;
    uint64_t n = 0;
    if (p->mark_due && !p->mark_batch && gx_store_begin_child(t, &c) == GX_OK) {
        /* the snapshot written: recorded with this batch (gx_persist_batch_done) */
        if (gx_store_snapshot_mark(c, p->mark_due) == GX_OK &&
            gx_store_prune_changes(c, p->mark_due, S_PRUNE_SLICE, &n) == GX_OK &&
            gx_store_commit(&c) == GX_OK) {
            p->mark_batch = p->mark_due;
            p->mark_pruned = n;
        }
        gx_store_abort(&c);
        return;
    }
    if (!p->prune_more || gx_store_begin_child(t, &c) != GX_OK)
        return;
    if (gx_store_prune_changes(c, p->prune_upto, S_PRUNE_SLICE, &n) == GX_OK && gx_store_commit(&c) == GX_OK)
        p->prune_more = n == S_PRUNE_SLICE;
    gx_store_abort(&c); /* a failure costs the batch nothing: the slice is tried again with the next */
}

void gx_persist_request(gx_ctx *b)
{
    if (!b->cfg.engine_snapshot) {
        gx_log(GX_LOG_NOTICE, "SIGUSR1: no engine snapshot, engine_snapshot is off");
        return;
    }
    gx_log(GX_LOG_NOTICE, "SIGUSR1: an engine snapshot %s",
           b->persist.w ? "after the one being written" : "now");
    b->persist.asked = true; /* one being written may have begun before what the asker wants in */
}

gx_err gx_persist_save(gx_ctx *b)
{
    gx_persist *p = &b->persist;
    s_drop_writer(b);
    if (p->mark_due && !b->txn)
        s_mark_alone(b); /* written while serving: recorded, it may spare the write below */
    if (!b->cfg.engine_snapshot || b->engine_dirty || b->txn)
        return GX_OK;
    uint64_t fp = s_fingerprint(b), txnid = gx_store_txnid(b->store);
    if (p->current && p->current_logged == gx_store_changes_logged(b->store) && p->current_fp == fp) {
        gx_log(GX_LOG_INFO, "engine snapshot unchanged since it was last written");
        return GX_OK;
    }
    char path[GX_CONFIG_STR_MAX + 40];
    s_path(b, S_NEXT, "", path, sizeof path);
    double t0 = s_mono();
    uint64_t bytes = 0;
    gx_err err = gx_snapshot_write(path, b->engine, gx_store_id(b->store), txnid, fp, &bytes);
    if (err) {
        gx_log(GX_LOG_WARNING,
               "engine snapshot not saved (%s: %s); the next start replays the change log since "
               "the last one, or matches every pair",
               gx_err_str(err), strerror(errno));
        return err;
    }
    if ((err = s_record(b, txnid)))
        return err;
    gx_log(GX_LOG_INFO, "engine snapshot of transaction %llu saved at the stop: %llu bytes in %.2f s",
           (unsigned long long)txnid, (unsigned long long)bytes, s_mono() - t0);
    return GX_OK;
}

void gx_persist_fini(gx_ctx *b)
{
    s_drop_writer(b);
}
