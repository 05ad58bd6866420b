/* records.c — postings and firms in the store: reading and writing them (the
 * put functions also keep the owner index and note what the engine may be
 * told), the one-time owner index of older stores, the open-posting counts, and
 * the undo journal that takes a change the store refused back out of the
 * engine. See records.h. */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Seconds on the monotonic clock (log.h). */
static double s_mono(void)
{
    return (double)gx_mono_us() / 1e6;
}

/* ------------------------------------------------------------------ the request's transactions and events */

gx_err gx_records_write_begin(gx_ctx *b)
{
    gx_err err;
    b->engine_touched = false;
    b->events_mark = b->n_events;
    b->undo_mark = b->n_undo;
    b->notices_mark = b->counters.notices;
    b->outboxed_mark = b->fed.outboxed;
    b->fed.largest = 0;
    if (!b->txn && (err = gx_store_begin(b->store, true, &b->txn)))
        return err;
    return gx_store_begin_child(b->txn, &b->child);
}

gx_err gx_records_write_end(gx_ctx *b, gx_err err)
{
    if (!err && b->child)
        err = gx_store_commit(&b->child);
    if (err) {
        gx_store_abort(&b->child);
        /* The engine may have seen a change the store did not keep: put what
         * this request touched back as the batch holds it, so the rest of the
         * batch never sees the change. Nothing touched, nothing to do. */
        if (b->engine_touched)
            gx_records_undo(b, b->txn, b->undo_mark, "a refused request");
        else
            b->n_undo = b->undo_mark;
        gx_records_events_truncate(b, b->events_mark);
        b->counters.notices = b->notices_mark;
        b->fed.outboxed = b->outboxed_mark;
    }
    b->engine_touched = false;
    return err;
}

void gx_records_event(gx_ctx *b, const gx_monitor_event *ev)
{
    if (!b->cfg.monitor[0] && !b->cfg.http_listen[0])
        return;
    if (b->n_events == b->cap_events) {
        size_t cap = b->cap_events ? b->cap_events * 2 : 64;
        gx_pending_event *v = realloc(b->events, cap * sizeof *v);
        if (!v)
            return; /* the monitor stream is best effort; the store is not */
        b->events = v;
        b->cap_events = cap;
    }
    gx_pending_event *pe = &b->events[b->n_events];
    if (gx_codec_encode_monitor(ev, &pe->payload) == GX_OK) {
        pe->topic = ev->type;
        b->n_events++;
    }
}

void gx_records_events_truncate(gx_ctx *b, size_t n)
{
    while (b->n_events > n) {
        gx_pending_event *e = &b->events[--b->n_events];
        gx_buf_fini(&e->payload);
    }
}

/* ------------------------------------------------------------------ records */

gx_txn *gx_records_txn(gx_ctx *b)
{
    return b->child ? b->child : b->txn;
}

static void s_key64(uint8_t k[8], uint64_t id)
{
    gx_store_be64(k, id);
}

/* Reads record key of table tb in t into a malloc'd copy; GX_ERR_NOT_FOUND when absent. */
static gx_err s_read(gx_txn *t, gx_table tb, const void *key, size_t klen, gx_buf *copy)
{
    const void *v;
    size_t vl;
    gx_err err = gx_store_get(t, tb, key, klen, &v, &vl);
    if (err)
        return err;
    if (!(copy->data = malloc(vl ? vl : 1)))
        return GX_ERR_NOMEM;
    memcpy(copy->data, v, vl);
    copy->len = vl;
    return GX_OK;
}

/* Reads a record in the current transaction, or a read transaction of its own. */
static gx_err s_get(gx_ctx *b, gx_table tb, const void *key, size_t klen, gx_buf *copy)
{
    gx_txn *t = gx_records_txn(b), *own = NULL;
    gx_err err;
    if (!t) {
        if ((err = gx_store_begin(b->store, false, &own)))
            return err;
        t = own;
    }
    err = s_read(t, tb, key, klen, copy);
    gx_store_abort(&own);
    return err;
}

static gx_err s_get_by_id(gx_ctx *b, gx_table tb, uint64_t id, gx_buf *raw)
{
    uint8_t k[8];
    s_key64(k, id);
    return s_get(b, tb, k, 8, raw);
}

gx_err gx_records_get_demand(gx_ctx *b, uint64_t id, gx_demand *out)
{
    gx_buf raw = {0};
    gx_err err = s_get_by_id(b, GX_T_DEMANDS, id, &raw);
    if (!err)
        err = gx_codec_decode_demand(raw.data, raw.len, out);
    gx_buf_fini(&raw);
    return err;
}

gx_err gx_records_get_offer(gx_ctx *b, uint64_t id, gx_offer *out)
{
    gx_buf raw = {0};
    gx_err err = s_get_by_id(b, GX_T_OFFERS, id, &raw);
    if (!err)
        err = gx_codec_decode_offer(raw.data, raw.len, out);
    gx_buf_fini(&raw);
    return err;
}

gx_err gx_records_get_sub(gx_ctx *b, uint64_t id, gx_sub *out)
{
    gx_buf raw = {0};
    gx_err err = s_get_by_id(b, GX_T_SUBS, id, &raw);
    if (!err)
        err = gx_codec_decode_sub(raw.data, raw.len, out);
    gx_buf_fini(&raw);
    return err;
}

gx_err gx_records_get_firm(gx_ctx *b, const char *id, gx_firm *out)
{
    gx_buf raw = {0};
    gx_err err = s_get(b, GX_T_FIRMS, id, strlen(id), &raw);
    if (!err)
        err = gx_codec_decode_firm(raw.data, raw.len, out);
    gx_buf_fini(&raw);
    return err;
}

static gx_err s_put(gx_ctx *b, gx_table tb, const void *key, size_t klen, gx_buf *rec, gx_err enc)
{
    gx_err err = enc ? enc : gx_store_put(b->child, tb, key, klen, rec->data, rec->len);
    gx_buf_fini(rec);
    return err;
}

/* Notes that the engine may be told about this posting, firm or open count. */
void gx_records_note(gx_ctx *b, uint8_t what, uint64_t id, const char *firm, int delta)
{
    if (b->n_undo == b->cap_undo) {
        size_t cap = b->cap_undo ? 2 * b->cap_undo : 64;
        struct gx_undo *v = realloc(b->undo, cap * sizeof *v);
        if (!v) {
            b->undo_lost = true;
            return;
        }
        b->undo = v;
        b->cap_undo = cap;
    }
    struct gx_undo *u = &b->undo[b->n_undo++];
    *u = (struct gx_undo){.what = what, .delta = (int8_t)delta, .id = id};
    if (firm)
        snprintf(u->firm, sizeof u->firm, "%s", firm);
}

void gx_owned_key(uint8_t k[GX_OWNED_KEY_LEN], const char *firm, uint8_t kind, bool closed, uint64_t id)
{
    size_t n = strnlen(firm, GX_FIRM_ID_LEN);
    memcpy(k, firm, n);
    memset(k + n, 0, GX_FIRM_ID_LEN - n); /* a shorter id is padded with NULs */
    k[GX_FIRM_ID_LEN] = kind;
    k[GX_FIRM_ID_LEN + 1] = closed;
    gx_store_be64(k + GX_FIRM_ID_LEN + 2, id);
}

/* Files posting id under its owner in t: the entry of the other state goes
 * (a posting that closed leaves the open range), so each posting has one. */
static gx_err s_owned_put(gx_txn *t, const char *owner, uint8_t kind, gx_state state, uint64_t id)
{
    uint8_t k[GX_OWNED_KEY_LEN], v = (uint8_t)state;
    bool closed = state != GX_STATE_OPEN;
    gx_owned_key(k, owner, kind, !closed, id);
    gx_err err = gx_store_del(t, GX_T_OWNED, k, sizeof k);
    if (err)
        return err;
    gx_owned_key(k, owner, kind, closed, id);
    return gx_store_put(t, GX_T_OWNED, k, sizeof k, &v, 1);
}

static gx_err s_outbox_posting(gx_ctx *b, uint32_t kind, const gx_demand *d, const gx_offer *o);

gx_err gx_records_put_demand(gx_ctx *b, const gx_demand *d)
{
    gx_buf rec;
    uint8_t k[8];
    s_key64(k, d->id);
    gx_records_note(b, GX_UNDO_DEMAND, d->id, NULL, 0);
    gx_err err = s_outbox_posting(b, GX_FED_DEMAND, d, NULL);
    if (!err)
        err = s_put(b, GX_T_DEMANDS, k, 8, &rec, gx_codec_encode_demand(d, &rec));
    return err ? err : s_owned_put(b->child, d->owner, GX_OWNED_DEMAND, d->state, d->id);
}

gx_err gx_records_put_offer(gx_ctx *b, const gx_offer *o)
{
    gx_buf rec;
    uint8_t k[8];
    s_key64(k, o->id);
    gx_records_note(b, GX_UNDO_OFFER, o->id, NULL, 0);
    gx_err err = s_outbox_posting(b, GX_FED_OFFER, NULL, o);
    if (!err)
        err = s_put(b, GX_T_OFFERS, k, 8, &rec, gx_codec_encode_offer(o, &rec));
    return err ? err : s_owned_put(b->child, o->owner, GX_OWNED_OFFER, o->state, o->id);
}

gx_err gx_records_put_sub(gx_ctx *b, const gx_sub *s)
{
    gx_buf rec;
    uint8_t k[8];
    s_key64(k, s->id);
    gx_records_note(b, GX_UNDO_SUB, s->id, NULL, 0);
    gx_err err = s_put(b, GX_T_SUBS, k, 8, &rec, gx_codec_encode_sub(s, &rec));
    return err ? err : s_owned_put(b->child, s->owner, GX_OWNED_SUB, GX_STATE_OPEN, s->id);
}

gx_err gx_records_del_sub(gx_ctx *b, const gx_sub *s)
{
    gx_records_note(b, GX_UNDO_SUB, s->id, NULL, 0);
    uint8_t k[GX_OWNED_KEY_LEN];
    s_key64(k, s->id);
    gx_err err = gx_store_del(b->child, GX_T_SUBS, k, 8);
    if (err)
        return err;
    gx_owned_key(k, s->owner, GX_OWNED_SUB, false, s->id);
    return gx_store_del(b->child, GX_T_OWNED, k, sizeof k);
}

static gx_err s_outbox_firm(gx_ctx *b, const gx_firm *f);

gx_err gx_records_put_firm(gx_ctx *b, const gx_firm *f)
{
    gx_buf rec;
    gx_records_note(b, GX_UNDO_FIRM, 0, f->id, 0);
    gx_err err = s_outbox_firm(b, f);
    return err ? err : s_put(b, GX_T_FIRMS, f->id, strlen(f->id), &rec, gx_codec_encode_firm(f, &rec));
}

/* ---- taking a change back out of the engine */

/* Puts one posting or firm back into the engine as t holds it: added, updated
 * or closed, whatever makes the engine's copy the store's. Effects go to fx
 * and are dropped: nobody was told of the change being taken back. */
static gx_err s_undo_one(gx_ctx *b, gx_txn *t, const struct gx_undo *u, gx_fxv *fx)
{
    gx_engine *e = b->engine;
    gx_buf raw = {0};
    uint8_t k[8];
    s_key64(k, u->id);
    gx_err err;
    fx->n = 0;
    switch (u->what) {
    case GX_UNDO_FIRM: {
        gx_firm f;
        if ((err = s_read(t, GX_T_FIRMS, u->firm, strlen(u->firm), &raw)) == GX_ERR_NOT_FOUND)
            return gx_engine_firm(e, u->firm) ? GX_ERR_INTERNAL : GX_OK; /* a firm cannot be taken out */
        if (err || (err = gx_codec_decode_firm(raw.data, raw.len, &f)))
            break;
        err = gx_engine_put_firm(e, &f, b->now, fx);
        gx_firm_fini(&f);
        break;
    }
    case GX_UNDO_DEMAND: {
        gx_demand d = {0};
        bool held = gx_engine_demand(e, u->id) != NULL;
        err = s_read(t, GX_T_DEMANDS, k, 8, &raw);
        if (!err && !(err = gx_codec_decode_demand(raw.data, raw.len, &d)) && d.state == GX_STATE_OPEN)
            err = held ? gx_engine_update_demand(e, &d, b->now, fx) : gx_engine_add_demand(e, &d, b->now, fx);
        else if ((!err || err == GX_ERR_NOT_FOUND) && held)
            err = gx_engine_close_demand(e, u->id, err ? GX_STATE_WITHDRAWN : d.state, fx);
        else if (err == GX_ERR_NOT_FOUND)
            err = GX_OK;
        gx_demand_fini(&d);
        break;
    }
    case GX_UNDO_OFFER: {
        gx_offer o = {0};
        bool held = gx_engine_offer(e, u->id) != NULL;
        err = s_read(t, GX_T_OFFERS, k, 8, &raw);
        if (!err && !(err = gx_codec_decode_offer(raw.data, raw.len, &o)) && o.state == GX_STATE_OPEN)
            err = held ? gx_engine_update_offer(e, &o, b->now, fx) : gx_engine_add_offer(e, &o, b->now, fx);
        else if ((!err || err == GX_ERR_NOT_FOUND) && held)
            err = gx_engine_close_offer(e, u->id, err ? GX_STATE_WITHDRAWN : o.state, fx);
        else if (err == GX_ERR_NOT_FOUND)
            err = GX_OK;
        gx_offer_fini(&o);
        break;
    }
    case GX_UNDO_SUB: {
        gx_sub s = {0};
        bool held = gx_engine_sub(e, u->id) != NULL;
        err = s_read(t, GX_T_SUBS, k, 8, &raw);
        if (!err && !held && !(err = gx_codec_decode_sub(raw.data, raw.len, &s)))
            err = gx_engine_add_sub(e, &s, b->now, fx);
        else if (err == GX_ERR_NOT_FOUND)
            err = held ? gx_engine_remove_sub(e, u->id) : GX_OK;
        gx_sub_fini(&s);
        break;
    }
    case GX_UNDO_OPEN:
        err = gx_quota_add(b->open, u->firm, -u->delta);
        break;
    default: err = GX_ERR_INTERNAL;
    }
    gx_buf_fini(&raw);
    return err;
}

/* Takes the changes noted from entry `from` on back out of the engine, newest
 * first, reading what the store holds in t (or in a read transaction of its own
 * when t is NULL: after a failed commit). When that cannot be done exactly it
 * asks broker.c to rebuild the engine from the store, which always can. */
void gx_records_undo(gx_ctx *b, gx_txn *t, size_t from, const char *why)
{
    gx_txn *own = NULL, *read = t;
    gx_fxv fx = {0};
    gx_err err = b->undo_lost ? GX_ERR_NOMEM : GX_OK;
    size_t n = b->n_undo - from;
    if (!err && !read && !(err = gx_store_begin(b->store, false, &own)))
        read = own;
    for (size_t i = b->n_undo; !err && i > from; i--)
        err = s_undo_one(b, read, &b->undo[i - 1], &fx);
    gx_fxv_fini(&fx);
    gx_store_abort(&own);
    b->n_undo = from;
    b->undo_lost = false;
    if (!err) {
        b->counters.engine_undos++;
        gx_log(GX_LOG_INFO, "%s: %zu changes taken back out of the engine", why, n);
        return;
    }
    gx_log(GX_LOG_WARNING, "%s: the engine could not take its change back (%s); matching every pair again", why,
           gx_err_str(err));
    /* broker.c rebuilds it from the store as soon as this call returns to it,
     * before the next request; engine_dirty keeps it owed until one succeeds. */
    b->rebuild_now = b->engine_dirty = true;
}

void gx_records_count_open(gx_ctx *b, const char *firm, int delta)
{
    const gx_firm *f = gx_engine_firm(b->engine, firm);
    if (f && f->home_city)
        return; /* a remote firm's postings count against nothing here */
    gx_records_note(b, GX_UNDO_OPEN, 0, firm, delta);
    if (gx_quota_add(b->open, firm, delta) != GX_OK)
        b->engine_dirty = true; /* recounted with the next rebuild */
}

/* ------------------------------------------------------------------ owner index of older stores */

/* The one-time build of the owner index (GX_T_OWNED) for a store written before
 * it had one: every posting filed under its owner in one write transaction
 * that also writes the mark "owner_index" in meta, so it runs at most once. */
typedef struct s_index_build {
    gx_txn *t;      /* the write transaction */
    gx_table table; /* being walked */
    uint64_t n;     /* postings filed */
    gx_err err;
} s_index_build;

static bool s_index_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_index_build *ib = ctx;
    char owner[GX_FIRM_ID_LEN + 1] = "";
    uint8_t kind;
    gx_state state = GX_STATE_OPEN;
    gx_err err = GX_ERR_MALFORMED;
    if (klen != 8)
        goto out;
    if (ib->table == GX_T_DEMANDS) {
        gx_demand d;
        kind = GX_OWNED_DEMAND;
        if (!(err = gx_codec_decode_demand(val, vlen, &d))) {
            memcpy(owner, d.owner, sizeof owner);
            state = d.state;
            gx_demand_fini(&d);
        }
    } else if (ib->table == GX_T_OFFERS) {
        gx_offer o;
        kind = GX_OWNED_OFFER;
        if (!(err = gx_codec_decode_offer(val, vlen, &o))) {
            memcpy(owner, o.owner, sizeof owner);
            state = o.state;
            gx_offer_fini(&o);
        }
    } else {
        gx_sub s;
        kind = GX_OWNED_SUB;
        if (!(err = gx_codec_decode_sub(val, vlen, &s))) {
            memcpy(owner, s.owner, sizeof owner);
            gx_sub_fini(&s);
        }
    }
    if (!err)
        err = s_owned_put(ib->t, owner, kind, state, gx_store_from_be64(key));
out:
    if (err) {
        gx_log(GX_LOG_ERR, "indexing postings by owner: a record of table %s (key %zu bytes): %s",
               ib->table == GX_T_DEMANDS  ? "demands"
               : ib->table == GX_T_OFFERS ? "offers"
                                          : "subs",
               klen, gx_err_str(err));
        ib->err = err;
        return false;
    }
    ib->n++;
    return true;
}

gx_err gx_records_index_owners(gx_ctx *b)
{
    static const char mark[] = "owner_index";
    static const gx_table tables[] = {GX_T_DEMANDS, GX_T_OFFERS, GX_T_SUBS};
    const uint8_t one = 1;
    const void *v;
    size_t vl;
    gx_err err;
    /* A full map is grown by the store before the next write transaction. */
    for (int attempt = 0;; attempt++) {
        gx_txn *t = NULL;
        double t0 = s_mono();
        if ((err = gx_store_begin(b->store, true, &t)))
            return err;
        if ((err = gx_store_get(t, GX_T_META, mark, sizeof mark - 1, &v, &vl)) != GX_ERR_NOT_FOUND) {
            gx_store_abort(&t);
            return err; /* GX_OK: indexed already */
        }
        s_index_build ib = {.t = t};
        err = GX_OK;
        for (size_t i = 0; !err && i < sizeof tables / sizeof tables[0]; i++) {
            ib.table = tables[i];
            if (!(err = gx_store_scan(t, tables[i], NULL, 0, NULL, 0, s_index_visit, &ib)))
                err = ib.err;
        }
        if (!err)
            err = gx_store_put(t, GX_T_META, mark, sizeof mark - 1, &one, 1);
        if (!err)
            err = gx_store_commit(&t);
        gx_store_abort(&t);
        if (err == GX_ERR_STORAGE_FULL && attempt < 8)
            continue;
        if (!err && ib.n)
            gx_log(GX_LOG_NOTICE,
                   "indexed %llu postings by owner in %.2f s (once, for a store written before the "
                   "owner index)",
                   (unsigned long long)ib.n, s_mono() - t0);
        return err;
    }
}

/* ------------------------------------------------------------------ federation: outbox and applied sequence
 */

bool gx_records_fed_crosses(gx_scope scope)
{
    return scope == GX_SCOPE_SAME_PROVINCE || scope == GX_SCOPE_ANYWHERE || scope == GX_SCOPE_NONE;
}

/* Writes rec as the next outbox record in the current child transaction; its sequence in *seq. */
static gx_err s_outbox_write(gx_ctx *b, const gx_buf *rec, uint64_t *seq)
{
    gx_err err = gx_store_next_id(b->child, "fed_outbox", seq);
    if (err)
        return err;
    uint8_t k[8];
    s_key64(k, *seq);
    if (!(err = gx_store_put(b->child, GX_T_OUTBOX, k, 8, rec->data, rec->len)))
        b->fed.outboxed++;
    return err;
}

/* Writes m as the next outbox record in the current child transaction; when
 * sized, notes its size for gx_records_fed_too_large (a record that closes a
 * posting is never refused for its size: gx_records_fed_substitute covers it). */
static gx_err s_outbox_put(gx_ctx *b, const gx_fed_msg *m, bool sized)
{
    uint64_t seq;
    gx_buf rec = {0};
    gx_err err = gx_codec_encode_fed(m, &rec);
    if (!err && (err = s_outbox_write(b, &rec, &seq)) == GX_OK && sized && rec.len > b->fed.largest)
        b->fed.largest = rec.len;
    gx_buf_fini(&rec);
    return err;
}

bool gx_records_fed_too_large(const gx_ctx *b, size_t *len, size_t *max)
{
    *len = b->fed.largest;
    *max = b->fed.max_payload;
    return *max && *len && *len + GX_FED_HEADROOM > *max;
}

/* Cuts UTF-8 text s in place to at most max bytes, at a character boundary. */
static void s_cut(char *s, size_t max)
{
    if (!s || strlen(s) <= max)
        return;
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

/* How much of a title a substitute keeps: enough for the receivers' notices to name it. */
#define S_SUB_TITLE 200

/* Trims decoded posting message m one step further (level 1: its texts; 2:
 * its lists; 3: its owner's profile to id, name, place and grade). */
static void s_trim(gx_fed_msg *m, int level)
{
    gx_demand *d = m->demand;
    gx_offer *o = m->offer;
    if (level == 1) {
        if (d) {
            s_cut(d->title, S_SUB_TITLE);
            s_cut(d->summary, 0);
            s_cut(d->details, 0);
        }
        if (o) {
            s_cut(o->title, S_SUB_TITLE);
            s_cut(o->summary, 0);
        }
    } else if (level == 2) {
        if (d) {
            gx_strv_fini(&d->processes);
            gx_strv_fini(&d->materials);
            gx_strv_fini(&d->certs);
            gx_strv_fini(&d->ipc);
        }
        if (o) {
            gx_strv_fini(&o->industries);
            gx_strv_fini(&o->processes);
            gx_strv_fini(&o->materials);
            gx_strv_fini(&o->ipc);
        }
    } else if (m->owner) {
        gx_firm *f = m->owner;
        s_cut(f->name, S_SUB_TITLE);
        s_cut(f->zone, S_SUB_TITLE);
        gx_firm_certs_clear(f);
    }
}

gx_err gx_records_fed_substitute(gx_ctx *b, uint64_t seq, const void *rec, size_t len, size_t max_payload,
                                 bool *made, char *what, size_t cap)
{
    gx_fed_msg m = {0};
    gx_buf sub = {0};
    *made = false;
    if (cap)
        what[0] = '\0';
    gx_err err = gx_codec_decode_fed(rec, len, &m);
    if (err)
        return err;
    bool posting = (m.kind == GX_FED_DEMAND && m.demand) || (m.kind == GX_FED_OFFER && m.offer);
    if (!posting || !m.owner)
        goto out;
    /* the owner as it is now, not as when the refused record was written: a
     * profile record written since has crossed before this one (receivers take
     * no profile of a known firm from a closed posting anyway: fedapply.c) */
    gx_firm cur = {0};
    if ((err = gx_records_get_firm(b, m.owner->id, &cur)) == GX_OK) {
        gx_firm_fini(m.owner);
        *m.owner = cur;
    } else if (err != GX_ERR_NOT_FOUND)
        goto out;
    err = GX_OK;
    /* closed at the same revision: the receivers close their copy (an open one
     * as withdrawn), and a later revision that fits opens it again */
    if (m.state == GX_STATE_OPEN)
        m.state = GX_STATE_WITHDRAWN;
    if (m.demand)
        m.demand->state = m.state;
    else
        m.offer->state = m.state;
    /* the first step that fits the max_payload the record was refused under;
     * the smallest when none was known, or when the record fitted it (refused
     * for another reason: the stream's own maximum, say) */
    bool fitted = max_payload && len + GX_FED_HEADROOM <= max_payload;
    for (int level = 1; level <= 3; level++) {
        s_trim(&m, level);
        gx_buf_fini(&sub);
        if ((err = gx_codec_encode_fed(&m, &sub)))
            goto out;
        if (max_payload && !fitted && sub.len + GX_FED_HEADROOM <= max_payload)
            break;
    }
    if (sub.len >= len)
        goto out; /* no smaller: a refused substitute makes no other */
    uint64_t at = 0;
    if ((err = s_outbox_write(b, &sub, &at)))
        goto out;
    *made = true;
    snprintf(what, cap,
             "outbox record %llu (%s %llu revision %u of firm %s, %zu bytes) as record %llu, %s, %zu bytes",
             (unsigned long long)seq, m.kind == GX_FED_DEMAND ? "demand" : "offer",
             (unsigned long long)m.origin_id, m.revision, m.owner->id, len, (unsigned long long)at,
             gx_state_name(m.state), sub.len);
out:
    gx_buf_fini(&sub);
    gx_codec_fed_fini(&m);
    return err;
}

/* A change of this broker's posting whose reach leaves the city goes to the
 * outbox with its owner's public profile, in the same transaction. One whose
 * reach left the city before this change and no longer does goes as withdrawn
 * at its new revision: the other cities close their copies (and tell their
 * firms as for a withdrawal); widening it again, a later revision, reopens
 * them. */
static gx_err s_outbox_posting(gx_ctx *b, uint32_t kind, const gx_demand *d, const gx_offer *o)
{
    if (!b->fed.city)
        return GX_OK;
    uint64_t id = d ? d->id : o->id;
    if (GX_FED_CITY_OF(id))
        return GX_OK; /* a remote posting: its home city tells the others */
    bool crosses = gx_records_fed_crosses(d ? d->scope : o->service_scope);
    gx_state state = d ? d->state : o->state;
    if (!crosses) {
        gx_demand od = {0};
        gx_offer oo = {0};
        if (d && gx_records_get_demand(b, id, &od) == GX_OK)
            crosses = gx_records_fed_crosses(od.scope);
        if (o && gx_records_get_offer(b, id, &oo) == GX_OK)
            crosses = gx_records_fed_crosses(oo.service_scope);
        gx_demand_fini(&od);
        gx_offer_fini(&oo);
        if (!crosses)
            return GX_OK;
        if (state == GX_STATE_OPEN)
            state = GX_STATE_WITHDRAWN; /* open here, closed to the other cities */
    }
    gx_firm owner = {0};
    gx_err err = gx_records_get_firm(b, d ? d->owner : o->owner, &owner);
    if (err)
        return err;
    gx_fed_msg m = {.origin_city = b->fed.city,
                    .kind = kind,
                    .origin_id = id,
                    .revision = d ? d->revision : o->revision,
                    .state = state,
                    .demand = (gx_demand *)d,
                    .offer = (gx_offer *)o,
                    .owner = &owner};
    err = s_outbox_put(b, &m, state == GX_STATE_OPEN);
    gx_firm_fini(&owner);
    return err;
}

typedef struct s_cross_scan {
    gx_ctx *b;
    uint8_t kind; /* GX_OWNED_DEMAND or _OFFER */
    bool found;
} s_cross_scan;

static bool s_cross_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_cross_scan *c = ctx;
    if (klen != GX_OWNED_KEY_LEN)
        return true;
    uint64_t id = gx_store_from_be64((const uint8_t *)key + GX_FIRM_ID_LEN + 2);
    if (c->kind == GX_OWNED_DEMAND) {
        const gx_demand *d = gx_engine_demand(c->b->engine, id);
        c->found = d && gx_records_fed_crosses(d->scope);
    } else {
        const gx_offer *o = gx_engine_offer(c->b->engine, id);
        c->found = o && gx_records_fed_crosses(o->service_scope);
    }
    return !c->found;
}

/* A profile change of this broker's firm with open postings that cross goes
 * to the outbox, so the other cities' copies of its owner follow. */
static gx_err s_outbox_firm(gx_ctx *b, const gx_firm *f)
{
    if (!b->fed.city || f->home_city)
        return GX_OK;
    s_cross_scan c = {.b = b};
    for (uint8_t kind = GX_OWNED_DEMAND; kind <= GX_OWNED_OFFER && !c.found; kind++) {
        uint8_t prefix[GX_OWNED_KEY_LEN];
        gx_owned_key(prefix, f->id, kind, false, 0);
        c.kind = kind;
        gx_err err =
            gx_store_scan(b->child, GX_T_OWNED, prefix, GX_FIRM_ID_LEN + 2, NULL, 0, s_cross_visit, &c);
        if (err)
            return err;
    }
    if (!c.found)
        return GX_OK;
    gx_fed_msg m = {.origin_city = b->fed.city, .kind = GX_FED_FIRM, .owner = (gx_firm *)f};
    return s_outbox_put(b, &m, true);
}

gx_err gx_records_fed_outbox_drop(gx_ctx *b, uint64_t upto)
{
    uint8_t k[8];
    uint64_t n = 0;
    s_key64(k, upto + 1);
    gx_err err = gx_store_del_range(b->child, GX_T_OUTBOX, NULL, 0, k, 8, &n);
    if (!err)
        b->fed.published_n += n;
    return err;
}

typedef struct s_outbox_read {
    gx_records_outbox_fn fn;
    void *ctx;
    size_t left;
} s_outbox_read;

static bool s_outbox_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_outbox_read *r = ctx;
    if (klen != 8)
        return true;
    if (!r->fn(r->ctx, gx_store_from_be64(key), val, vlen))
        return false;
    return --r->left > 0;
}

gx_err gx_records_fed_outbox_read(gx_ctx *b, uint64_t after, size_t max, gx_records_outbox_fn fn, void *ctx)
{
    if (!max)
        return GX_OK;
    gx_txn *t = NULL;
    gx_err err = gx_store_begin(b->store, false, &t);
    if (err)
        return err;
    uint8_t from[8];
    s_key64(from, after + 1);
    s_outbox_read r = {.fn = fn, .ctx = ctx, .left = max};
    err = gx_store_scan(t, GX_T_OUTBOX, NULL, 0, from, 8, s_outbox_visit, &r);
    gx_store_abort(&t);
    return err;
}

gx_err gx_records_fed_applied_get(gx_ctx *b, const char *stream, uint64_t *seq)
{
    const void *v;
    size_t vlen;
    *seq = 0;
    gx_txn *t = gx_records_txn(b), *own = NULL;
    gx_err err = GX_OK;
    if (!t && (err = gx_store_begin(b->store, false, &own)))
        return err;
    err = gx_store_get(t ? t : own, GX_T_FEDSEQ, stream, strlen(stream), &v, &vlen);
    if (err == GX_ERR_NOT_FOUND)
        err = GX_OK;
    else if (!err && vlen == 8)
        *seq = gx_store_from_be64(v);
    else if (!err)
        err = GX_ERR_MALFORMED;
    gx_store_abort(&own);
    return err;
}

gx_err gx_records_fed_applied_put(gx_ctx *b, const char *stream, uint64_t seq)
{
    uint8_t v[8];
    s_key64(v, seq);
    return gx_store_put(b->child, GX_T_FEDSEQ, stream, strlen(stream), v, 8);
}

gx_err gx_records_fed_outbox_put(gx_ctx *b, const gx_fed_msg *m)
{
    return s_outbox_put(b, m, true);
}

static size_t s_fed_key_name(char *k, size_t cap, unsigned city)
{
    int n = city ? snprintf(k, cap, "fedkey:%u", city) : snprintf(k, cap, "fedkey:self");
    return n > 0 ? (size_t)n : 0;
}

gx_err gx_records_fed_key_get(gx_ctx *b, unsigned city, uint8_t *key, size_t len)
{
    char k[32];
    const void *v;
    size_t vlen;
    gx_txn *t = gx_records_txn(b), *own = NULL;
    gx_err err = GX_OK;
    if (!t && (err = gx_store_begin(b->store, false, &own)))
        return err;
    err = gx_store_get(t ? t : own, GX_T_META, k, s_fed_key_name(k, sizeof k, city), &v, &vlen);
    if (!err && vlen != len)
        err = GX_ERR_MALFORMED;
    if (!err)
        memcpy(key, v, len);
    gx_store_abort(&own);
    return err;
}

gx_err gx_records_fed_key_put(gx_ctx *b, unsigned city, const uint8_t *key, size_t len)
{
    char k[32];
    return gx_store_put(b->child, GX_T_META, k, s_fed_key_name(k, sizeof k, city), key, len);
}
