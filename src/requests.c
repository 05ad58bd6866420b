/* requests.c — one handler per request type.
 *
 * Each handler authorises (the session's firm and role), validates, then, for
 * a change, writes the records, applies it to the engine and turns the effects
 * into notices inside one child transaction, and queues exactly one reply. The
 * reply leaves only after the batch commits (broker.c). */
#include "requests.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "feddock.h"
#include "log.h"
#include "msg.h"
#include "notify.h"
#include "persist.h"
#include "report.h"
#include "validate.h"

/* The context of one request. */
typedef struct s_req {
    gx_ctx *b;
    gx_session *s;        /* NULL before Hello */
    const void *rid;      /* routing id */
    size_t rid_len;
    gx_request *r;        /* the decoded request */
    const char *fed_what; /* what its outbox record carries (server.fed.what.*), for the size check */
    const char *fed_fix;  /* and how to make it smaller (server.fed.fix.*) */
    size_t fed_len;       /* set when that record was too large to cross: its size */
    size_t fed_max;       /* and the servers' max_payload */
} s_req;

static void s_error(s_req *q, gx_err err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_error(s_req *q, gx_err err, const char *field, const char *fmt, ...)
{
    char msg[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    gx_requests_error(q->b, q->rid, q->rid_len, q->r->request_id, err, msg[0] ? msg : NULL, field);
}

/* The error reply for a failed validation, with its suggestions. */
static void s_verror(s_req *q, gx_err err, const gx_verr *ve)
{
    if (err == GX_ERR_NOMEM) { /* validation wrote no message */
        s_error(q, GX_ERR_INTERNAL, NULL, "out of memory; nothing was changed");
        return;
    }
    gx_requests_error_suggest(q->b, q->rid, q->rid_len, q->r->request_id, err, ve->msg, ve->field,
                              ve->suggest, ve->n_suggest);
}

static void s_reply(s_req *q, gx_reply *rep)
{
    rep->request_id = q->r->request_id;
    gx_requests_reply(q->b, q->rid, q->rid_len, rep);
}

/* The reply to Hello and Ping: a Ping with the broker's version and limits. */
static void s_reply_limits(s_req *q)
{
    gx_reply rep = {.type = GX_REPLY_PONG, .limits = &q->b->limits, .max_frame = (uint32_t)q->b->cfg.max_frame_bytes};
    s_reply(q, &rep);
}

/* The asker's language: its firm's, zh-CN for an operator (error messages, explanations). */
static gx_lang s_lang(const s_req *q)
{
    const gx_firm *f = q->s && q->s->firm[0] ? gx_engine_firm(q->b->engine, q->s->firm) : NULL;
    return f ? (gx_lang)f->lang : GX_LANG_ZH;
}

/* Before committing a request that puts content on the wire to the other
 * cities (what: server.fed.what.*, fix: server.fed.fix.*): GX_ERR_TOO_LARGE,
 * so that the child transaction aborts and nothing changes, when the largest
 * outbox record it wrote could never cross — larger, with room for its NATS
 * headers, than the linked servers' max_payload. Nothing is refused while not
 * linked (max_payload unknown): the publisher's substitute is the backstop.
 * State changes that add no content never come here. */
static gx_err s_fed_fits(s_req *q, gx_err err, const char *what, const char *fix)
{
    size_t len, max;
    if (err || !gx_records_fed_too_large(q->b, &len, &max))
        return err;
    q->fed_what = what;
    q->fed_fix = fix;
    q->fed_len = len;
    q->fed_max = max;
    return GX_ERR_TOO_LARGE;
}

/* Reports a failed write: store errors are logged, the client gets the code. */
static void s_write_failed(s_req *q, gx_err err)
{
    if (err == GX_ERR_TOO_LARGE && q->fed_len) {
        gx_lang lang = s_lang(q);
        char what[64], fix[160], len[24], max[24], room[24], msg[512];
        snprintf(len, sizeof len, "%zu", q->fed_len);
        snprintf(max, sizeof max, "%zu", q->fed_max);
        snprintf(room, sizeof room, "%d", GX_FED_HEADROOM);
        gx_msg(what, sizeof what, lang, q->fed_what, NULL);
        gx_msg(fix, sizeof fix, lang, q->fed_fix, NULL);
        gx_msg(msg, sizeof msg, lang, "server.fed.too_large", "what", what, "len", len, "max", max,
               "headroom", room, "fix", fix, NULL);
        s_error(q, err, NULL, "%s", msg);
    } else if (err == GX_ERR_STORAGE_FULL)
        s_error(q, err, NULL, "storage is full; nothing was changed (the operator must raise map_max_mb or free disk)");
    else {
        gx_log(GX_LOG_ERR, "%s: %s (%s)", gx_req_name(q->r->type), gx_err_str(err), gx_store_last_error(q->b->store));
        s_error(q, err == GX_ERR_NOMEM ? GX_ERR_INTERNAL : err, NULL, "%s; nothing was changed", gx_err_str(err));
    }
}

/* ---------------------------------------------------------------- auth */

static bool s_need_firm(s_req *q)
{
    if (!q->s) {
        s_error(q, GX_ERR_UNAUTHENTICATED, NULL, "say Hello with your firm id first");
        return false;
    }
    if (!q->s->firm[0]) {
        s_error(q, GX_ERR_FORBIDDEN, NULL, "this connection acts for no firm (operator only)");
        return false;
    }
    return true;
}

static bool s_need_operator(s_req *q)
{
    if (!q->s) {
        s_error(q, GX_ERR_UNAUTHENTICATED, NULL, "say Hello first");
        return false;
    }
    if (!q->s->is_operator) {
        s_error(q, GX_ERR_FORBIDDEN, NULL, "%s is for platform operators", gx_req_name(q->r->type));
        return false;
    }
    return true;
}

/* A new posting must stay within max_open_postings for its firm. */
static bool s_need_room(s_req *q)
{
    uint64_t n = gx_quota_get(q->b->open, q->s->firm);
    if (n < (uint64_t)q->b->cfg.max_open_postings)
        return true;
    s_error(q, GX_ERR_TOO_LARGE, NULL, "firm %s already has %llu open postings (max_open_postings); withdraw some first",
            q->s->firm, (unsigned long long)n);
    return false;
}

static bool s_is_operator(const s_req *q)
{
    return q->s && q->s->is_operator;
}

static bool s_owns(const s_req *q, const char *owner)
{
    return q->s && q->s->firm[0] && strcmp(q->s->firm, owner) == 0;
}

/* ---------------------------------------------------------------- hello, firms */

static void s_hello(s_req *q)
{
    gx_request *r = q->r;
    gx_session *s;
    if (!q->b->cfg.insecure_dev) {
        /* With CURVE the key already said who this is; Hello may only agree. */
        if (r->firm_id[0] && strcmp(r->firm_id, q->s->firm) != 0) {
            s_error(q, GX_ERR_FORBIDDEN, "hello.firm_id", "this key belongs to %s, not %s",
                    q->s->firm[0] ? q->s->firm : "an operator", r->firm_id);
            return;
        }
        if (r->flag && !q->s->is_operator) {
            s_error(q, GX_ERR_FORBIDDEN, "hello.operator", "this key is not an operator key");
            return;
        }
        q->s->tell_evicted = r->evicted_ok;
        s_reply_limits(q);
        return;
    }
    if (!r->firm_id[0] && !r->flag) {
        s_error(q, GX_ERR_INVALID, "hello.firm_id", "name your firm (or ask for the operator role)");
        return;
    }
    if (r->firm_id[0] && !gx_engine_firm(q->b->engine, r->firm_id)) {
        s_error(q, GX_ERR_NOT_FOUND, "hello.firm_id", "firm %s is not registered", r->firm_id);
        return;
    }
    /* Identity is established here and only here; CURVE (ZAP User-Id) replaces this. */
    gx_err err = gx_sessions_bind(q->b->sessions, q->rid, q->rid_len, r->firm_id, r->flag, q->b->now_ms, &s);
    if (err) {
        s_error(q, err, NULL, "cannot open a session");
        return;
    }
    s->tell_evicted = r->evicted_ok;
    gx_log(GX_LOG_DEBUG, "session for %s%s (%s)", r->firm_id[0] ? r->firm_id : "-", r->flag ? " as operator" : "",
           r->text ? r->text : "");
    s_reply_limits(q);
}

static void s_register_firm(s_req *q)
{
    gx_ctx *b = q->b;
    gx_verr ve;
    if (!s_need_operator(q))
        return;
    gx_err err = gx_validate_firm(b->vocab, &q->r->firm, q->r->flag, &ve);
    if (err) {
        s_verror(q, err, &ve);
        return;
    }
    const gx_firm *old = gx_engine_firm(b->engine, q->r->firm.id);
    q->r->firm.home_city = 0; /* broker-maintained: a firm registered here is this broker's */
    if (b->fed.city) {
        char city[8];
        snprintf(city, sizeof city, "%u", b->fed.city);
        if (strncmp(q->r->firm.county, city, 4) != 0) {
            s_error(q, GX_ERR_INVALID, "firm.county",
                    "this broker serves city %s; county %s belongs to another city's broker", city,
                    q->r->firm.county);
            return;
        }
        if (old && old->home_city) {
            s_error(q, GX_ERR_CONFLICT, "firm.id", "firm %s belongs to city %u's broker", q->r->firm.id,
                    old->home_city);
            return;
        }
    }
    if (old)
        q->r->firm.awards = old->awards; /* the track record is the broker's, not the operator's */
    else
        q->r->firm.awards = 0;
    b->fx.n = 0;
    if (!(err = gx_records_write_begin(b)) && !(err = gx_records_put_firm(b, &q->r->firm))) {
        b->engine_touched = true;
        if (!(err = gx_engine_put_firm(b->engine, &q->r->firm, b->now, &b->fx)))
            err = gx_notify_effects(b, &b->fx);
    }
    err = s_fed_fits(q, err, "server.fed.what.firm", "server.fed.fix.firm");
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        return;
    }
    gx_log(GX_LOG_INFO, "firm %s registered (%s, %s, credit %s)", q->r->firm.id, q->r->firm.name,
           gx_firm_district(&q->r->firm), gx_credit_name(q->r->firm.credit));
    gx_reply rep = {.type = GX_REPLY_FIRM, .firm = gx_engine_firm(b->engine, q->r->firm.id), .with_details = true};
    s_reply(q, &rep);
}

static void s_get_firm(s_req *q)
{
    if (!q->s) {
        s_error(q, GX_ERR_UNAUTHENTICATED, NULL, "say Hello first");
        return;
    }
    const char *id = q->r->firm_id[0] ? q->r->firm_id : q->s->firm;
    const gx_firm *f = gx_engine_firm(q->b->engine, id);
    if (!f) {
        s_error(q, GX_ERR_NOT_FOUND, "get_firm.firm_id", "firm %s is not registered", id);
        return;
    }
    /* contacts are released by docking, not by lookup */
    gx_reply rep = {.type = GX_REPLY_FIRM, .firm = f, .with_details = s_is_operator(q) || s_owns(q, f->id)};
    s_reply(q, &rep);
}

/* ---------------------------------------------------------------- keys */

/* Key record: firm id (18 bytes), revoked (1), created_at (8, BE). */
static void s_key_reply(s_req *q, const char *key, const char *firm, bool revoked, int64_t created_at)
{
    gx_reply rep = {.type = GX_REPLY_KEY, .key = key, .key_firm = firm, .revoked = revoked, .created_at = created_at};
    s_reply(q, &rep);
}

static void s_register_key(s_req *q)
{
    gx_ctx *b = q->b;
    uint8_t rec[GX_FIRM_ID_LEN + 9];
    bool revoked = false;
    if (!s_need_operator(q))
        return;
    const gx_firm *f = gx_engine_firm(b->engine, q->r->firm_id);
    if (!f) {
        s_error(q, GX_ERR_NOT_FOUND, "register_key.firm_id", "firm %s is not registered", q->r->firm_id);
        return;
    }
    if (f->home_city) { /* another city's firm: its sessions are its own city's broker's */
        s_error(q, GX_ERR_CONFLICT, "register_key.firm_id", "firm %s belongs to city %u's broker",
                q->r->firm_id, f->home_city);
        return;
    }
    const char *holder = gx_auth_key_firm(b->auth, q->r->key, &revoked);
    if (holder && (strcmp(holder, q->r->firm_id) != 0 || revoked)) {
        s_error(q, GX_ERR_CONFLICT, "register_key.public_key", "this key %s",
                revoked ? "was revoked and cannot be registered again" : "belongs to another firm");
        return;
    }
    memcpy(rec, q->r->firm_id, GX_FIRM_ID_LEN);
    rec[GX_FIRM_ID_LEN] = 0;
    gx_store_be64(rec + GX_FIRM_ID_LEN + 1, (uint64_t)b->now);
    gx_err err = gx_records_write_begin(b);
    if (!err)
        err = gx_store_put(b->child, GX_T_KEYS, q->r->key, GX_KEY_LEN, rec, sizeof rec);
    if ((err = gx_records_write_end(b, err)) ||
        (err = gx_auth_put(b->auth, q->r->key, q->r->firm_id, false))) {
        s_write_failed(q, err);
        return;
    }
    gx_log(GX_LOG_INFO, "key %.8s... registered for firm %s", q->r->key, q->r->firm_id);
    s_key_reply(q, q->r->key, q->r->firm_id, false, b->now);
}

/* Tells a connection of a revoked key, unasked (request id 0), so that a
 * client only listening for notices stops instead of waiting for ever. */
static void s_tell_revoked(void *ctx, const gx_session *s)
{
    gx_requests_error(ctx, s->rid, s->rid_len, 0, GX_ERR_FORBIDDEN, "this key was revoked; this connection is no "
                                                                    "longer served", NULL);
}

static void s_revoke_key(s_req *q)
{
    gx_ctx *b = q->b;
    const void *v;
    size_t vl;
    uint8_t rec[GX_FIRM_ID_LEN + 9];
    if (!s_need_operator(q))
        return;
    gx_err err = gx_records_write_begin(b);
    if (!err && (err = gx_store_get(b->child, GX_T_KEYS, q->r->key, GX_KEY_LEN, &v, &vl)) == GX_OK) {
        if (vl != sizeof rec) {
            err = GX_ERR_INTERNAL;
        } else {
            memcpy(rec, v, sizeof rec);
            rec[GX_FIRM_ID_LEN] = 1;
            err = gx_store_put(b->child, GX_T_KEYS, q->r->key, GX_KEY_LEN, rec, sizeof rec);
        }
    }
    if ((err = gx_records_write_end(b, err))) {
        if (err == GX_ERR_NOT_FOUND)
            s_error(q, err, "revoke_key.public_key", "no such firm key");
        else
            s_write_failed(q, err);
        return;
    }
    char firm[GX_FIRM_ID_LEN + 1];
    memcpy(firm, rec, GX_FIRM_ID_LEN);
    firm[GX_FIRM_ID_LEN] = 0;
    gx_auth_put(b->auth, q->r->key, firm, true); /* the key exists: cannot fail for room */
    size_t dropped = gx_sessions_drop_key(b->sessions, q->r->key, s_tell_revoked, b);
    gx_log(GX_LOG_NOTICE, "key %.8s... of firm %s revoked; %zu open connection(s) no longer served", q->r->key, firm,
           dropped);
    s_key_reply(q, q->r->key, firm, true, (int64_t)gx_store_from_be64(rec + GX_FIRM_ID_LEN + 1));
}

/* ---------------------------------------------------------------- backup */

static void s_backup(s_req *q)
{
    gx_ctx *b = q->b;
    struct stat st;
    if (!s_need_operator(q))
        return;
    const char *dest = q->r->text;
    if (!dest || dest[0] != '/') {
        s_error(q, GX_ERR_INVALID, "backup.dest", "an absolute directory path on the broker's host");
        return;
    }
    /* Everything acknowledged so far is committed (replies leave after their
     * batch commits); a backup taken now holds it all, and LMDB copies a
     * consistent snapshot while writers go on. */
    int64_t started = b->now;
    gx_err err = gx_store_backup(b->store, dest);
    if (err) {
        s_error(q, err == GX_ERR_EXISTS ? GX_ERR_CONFLICT : err == GX_ERR_IO ? GX_ERR_INVALID : err, "backup.dest",
                "%s", gx_store_last_error(b->store));
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dest);
    uint64_t bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    gx_log(GX_LOG_NOTICE, "backup written to %s (%llu bytes)", dest, (unsigned long long)bytes);
    gx_reply rep = {.type = GX_REPLY_BACKUP, .dest = dest, .bytes = bytes, .created_at = started};
    s_reply(q, &rep);
}

/* ---------------------------------------------------------------- postings */

static uint32_t s_candidates(gx_ctx *b, uint64_t demand_id)
{
    size_t n;
    gx_engine_matches(b->engine, demand_id, &n);
    return (uint32_t)(n < (size_t)b->cfg.shortlist_k ? n : (size_t)b->cfg.shortlist_k);
}

static void s_post_event(gx_ctx *b, const char *type, uint64_t demand_id, uint64_t offer_id, gx_kind kind,
                         const char *industry, const char *owner, gx_state state)
{
    const gx_firm *f = gx_engine_firm(b->engine, owner);
    gx_monitor_event ev = {.at = b->now, .type = type, .demand_id = demand_id, .offer_id = offer_id, .kind = kind,
                           .industry = industry, .district = f ? gx_firm_district(f) : NULL, .state = state};
    gx_records_event(b, &ev);
}

static void s_post_demand(s_req *q, bool update)
{
    gx_ctx *b = q->b;
    gx_demand *d = &q->r->demand;
    gx_demand old = {0};
    gx_verr ve;
    gx_err err;
    uint64_t id = 0;
    uint32_t revision = 0;
    if (!s_need_firm(q) || (!update && !s_need_room(q)))
        return;
    if (update) {
        if (!d->id) {
            s_error(q, GX_ERR_INVALID, "demand.id", "name the demand to update");
            goto out;
        }
        if ((err = gx_records_get_demand(b, d->id, &old))) {
            s_error(q, err == GX_ERR_NOT_FOUND ? err : GX_ERR_INTERNAL, "demand.id", "no demand %llu",
                    (unsigned long long)d->id);
            goto out;
        }
        if (!s_owns(q, old.owner)) {
            s_error(q, GX_ERR_FORBIDDEN, "demand.id", "demand %llu belongs to another firm", (unsigned long long)d->id);
            goto out;
        }
        if (old.state != GX_STATE_OPEN) {
            s_error(q, GX_ERR_CONFLICT, "demand.id", "demand %llu is %s", (unsigned long long)d->id,
                    gx_state_name(old.state));
            goto out;
        }
        if (d->revision && d->revision != old.revision) {
            s_error(q, GX_ERR_CONFLICT, "demand.revision", "you saw revision %u; it is now %u", d->revision,
                    old.revision);
            goto out;
        }
    }
    if ((err = gx_validate_demand(b->vocab, d, b->now, (int)b->cfg.utc_offset_minutes, &ve))) {
        s_verror(q, err, &ve);
        goto out;
    }
    memcpy(d->owner, q->s->firm, sizeof d->owner);
    d->state = GX_STATE_OPEN;
    if (update) {
        d->revision = old.revision + 1;
        d->created_at = old.created_at;
        d->original_quantity = old.original_quantity;
    } else {
        d->revision = 1;
        d->created_at = b->now;
        d->original_quantity = d->quantity;
    }
    b->fx.n = 0;
    if ((err = gx_records_write_begin(b)))
        goto failed;
    if (!update && (err = gx_store_next_id(b->child, "posting", &d->id)))
        goto failed;
    if ((err = gx_records_put_demand(b, d)))
        goto failed;
    id = d->id;
    revision = d->revision;
    gx_demand copy;
    if ((err = gx_demand_copy(&copy, d)))
        goto failed;
    b->engine_touched = true;
    err = update ? gx_engine_update_demand(b->engine, &copy, b->now, &b->fx)
                 : gx_engine_add_demand(b->engine, &copy, b->now, &b->fx);
    gx_demand_fini(&copy);
    if (err || (err = gx_notify_effects(b, &b->fx)))
        goto failed;
    const gx_demand *held = gx_engine_demand(b->engine, id);
    if (update && held && (err = gx_notify_demand_changed(b, held, GX_N_DEMAND_UPDATED, NULL, 0)))
        goto failed;
    err = s_fed_fits(q, err, "server.fed.what.demand", "server.fed.fix.posting");
failed:
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        goto out;
    }
    if (!update)
        gx_records_count_open(b, d->owner, 1);
    s_post_event(b, update ? "state" : "demand", id, 0, d->kind, d->industry, d->owner, GX_STATE_OPEN);
    gx_reply rep = {.type = GX_REPLY_POSTING, .id = id, .revision = revision, .state = GX_STATE_OPEN,
                    .count = s_candidates(b, id)};
    s_reply(q, &rep);
out:
    gx_demand_fini(&old);
}

static void s_post_offer(s_req *q, bool update)
{
    gx_ctx *b = q->b;
    gx_offer *o = &q->r->offer;
    gx_offer old = {0};
    gx_verr ve;
    gx_err err;
    if (!s_need_firm(q) || (!update && !s_need_room(q)))
        return;
    if (update) {
        if (!o->id) {
            s_error(q, GX_ERR_INVALID, "offer.id", "name the offer to update");
            goto out;
        }
        if ((err = gx_records_get_offer(b, o->id, &old))) {
            s_error(q, err == GX_ERR_NOT_FOUND ? err : GX_ERR_INTERNAL, "offer.id", "no offer %llu",
                    (unsigned long long)o->id);
            goto out;
        }
        if (!s_owns(q, old.owner)) {
            s_error(q, GX_ERR_FORBIDDEN, "offer.id", "offer %llu belongs to another firm", (unsigned long long)o->id);
            goto out;
        }
        if (old.state != GX_STATE_OPEN) {
            s_error(q, GX_ERR_CONFLICT, "offer.id", "offer %llu is %s", (unsigned long long)o->id,
                    gx_state_name(old.state));
            goto out;
        }
        if (o->revision && o->revision != old.revision) {
            s_error(q, GX_ERR_CONFLICT, "offer.revision", "you saw revision %u; it is now %u", o->revision,
                    old.revision);
            goto out;
        }
    }
    if ((err = gx_validate_offer(b->vocab, o, b->now, b->cfg.default_validity_days * 86400, &ve))) {
        s_verror(q, err, &ve);
        goto out;
    }
    memcpy(o->owner, q->s->firm, sizeof o->owner);
    o->state = GX_STATE_OPEN;
    o->revision = update ? old.revision + 1 : 1;
    o->created_at = update ? old.created_at : b->now;
    b->fx.n = 0;
    if ((err = gx_records_write_begin(b)))
        goto failed;
    if (!update && (err = gx_store_next_id(b->child, "posting", &o->id)))
        goto failed;
    if ((err = gx_records_put_offer(b, o)))
        goto failed;
    gx_offer copy;
    if ((err = gx_offer_copy(&copy, o)))
        goto failed;
    b->engine_touched = true;
    err = update ? gx_engine_update_offer(b->engine, &copy, b->now, &b->fx)
                 : gx_engine_add_offer(b->engine, &copy, b->now, &b->fx);
    gx_offer_fini(&copy);
    if (!err)
        err = gx_notify_effects(b, &b->fx);
    err = s_fed_fits(q, err, "server.fed.what.offer", "server.fed.fix.posting");
failed:
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        goto out;
    }
    if (!update)
        gx_records_count_open(b, o->owner, 1);
    uint32_t matched = 0;
    for (size_t i = 0; i < b->fx.n; i++)
        matched += b->fx.v[i].type == GX_FX_MATCH;
    s_post_event(b, update ? "state" : "offer", 0, o->id, GX_KIND_NONE, o->industries.n ? o->industries.v[0] : NULL,
                 o->owner, GX_STATE_OPEN);
    gx_reply rep = {.type = GX_REPLY_POSTING, .id = o->id, .revision = o->revision, .state = GX_STATE_OPEN,
                    .count = matched};
    s_reply(q, &rep);
out:
    gx_offer_fini(&old);
}

static void s_subscribe(s_req *q)
{
    gx_ctx *b = q->b;
    gx_sub *s = &q->r->sub;
    gx_verr ve;
    gx_err err;
    if (!s_need_firm(q) || !s_need_room(q))
        return;
    if ((err = gx_validate_sub(b->vocab, s, &ve))) {
        s_verror(q, err, &ve);
        return;
    }
    memcpy(s->owner, q->s->firm, sizeof s->owner);
    b->fx.n = 0;
    gx_sub copy = {0};
    if (!(err = gx_records_write_begin(b)) && !(err = gx_store_next_id(b->child, "posting", &s->id)) &&
        !(err = gx_records_put_sub(b, s)) && !(err = gx_sub_copy(&copy, s))) {
        b->engine_touched = true;
        if (!(err = gx_engine_add_sub(b->engine, &copy, b->now, &b->fx)))
            err = gx_notify_effects(b, &b->fx);
    }
    gx_sub_fini(&copy);
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        return;
    }
    gx_records_count_open(b, s->owner, 1);
    uint32_t hits = 0;
    for (size_t i = 0; i < b->fx.n; i++)
        hits += b->fx.v[i].type == GX_FX_SUB_HIT;
    gx_reply rep = {.type = GX_REPLY_POSTING, .id = s->id, .revision = 1, .state = GX_STATE_OPEN, .count = hits};
    s_reply(q, &rep);
}

/* Closes a demand in the engine and the store, telling everyone told. */
static gx_err s_close_demand(gx_ctx *b, gx_demand *d, gx_state state, const char *awarded_to, double qty)
{
    gx_err err;
    d->state = state;
    d->revision++;
    if ((err = gx_records_put_demand(b, d)))
        return err;
    b->engine_touched = true;
    b->fx.n = 0;
    if ((err = gx_engine_close_demand(b->engine, d->id, state, &b->fx)) && err != GX_ERR_NOT_FOUND)
        return err;
    int type = state == GX_STATE_AWARDED ? GX_N_DEMAND_AWARDED : GX_N_DEMAND_WITHDRAWN;
    return gx_notify_demand_changed(b, d, type, awarded_to, qty);
}

static void s_withdraw(s_req *q)
{
    gx_ctx *b = q->b;
    uint64_t id = q->r->id;
    gx_demand d = {0};
    gx_offer o = {0};
    gx_sub sub = {0};
    gx_err err;
    const char *what = "demand";
    if (!s_need_firm(q))
        return;
    if ((err = gx_records_get_demand(b, id, &d)) == GX_OK) {
        if (!s_owns(q, d.owner))
            goto forbidden;
        if (d.state != GX_STATE_OPEN)
            goto closed;
        if (!(err = gx_records_write_begin(b)))
            err = s_close_demand(b, &d, GX_STATE_WITHDRAWN, NULL, 0);
        s_post_event(b, "state", d.id, 0, d.kind, d.industry, d.owner, GX_STATE_WITHDRAWN);
    } else if (err == GX_ERR_NOT_FOUND && (err = gx_records_get_offer(b, id, &o)) == GX_OK) {
        what = "offer";
        if (!s_owns(q, o.owner))
            goto forbidden;
        if (o.state != GX_STATE_OPEN)
            goto closed;
        o.state = GX_STATE_WITHDRAWN;
        o.revision++;
        b->fx.n = 0;
        if (!(err = gx_records_write_begin(b)) && !(err = gx_records_put_offer(b, &o))) {
            b->engine_touched = true;
            if (!(err = gx_engine_close_offer(b->engine, id, GX_STATE_WITHDRAWN, &b->fx)) || err == GX_ERR_NOT_FOUND)
                err = gx_notify_effects(b, &b->fx);
        }
        s_post_event(b, "state", 0, o.id, GX_KIND_NONE, NULL, o.owner, GX_STATE_WITHDRAWN);
    } else if (err == GX_ERR_NOT_FOUND && (err = gx_records_get_sub(b, id, &sub)) == GX_OK) {
        what = "subscription";
        if (!s_owns(q, sub.owner))
            goto forbidden;
        if (!(err = gx_records_write_begin(b)) && !(err = gx_records_del_sub(b, &sub))) {
            b->engine_touched = true;
            if ((err = gx_engine_remove_sub(b->engine, id)) == GX_ERR_NOT_FOUND)
                err = GX_OK;
        }
    } else {
        if (err == GX_ERR_NOT_FOUND)
            s_error(q, err, "withdraw.posting_id", "no posting %llu", (unsigned long long)id);
        else
            s_write_failed(q, err);
        goto out;
    }
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        goto out;
    }
    gx_records_count_open(b, q->s->firm, -1);
    gx_reply rep = {.type = GX_REPLY_POSTING, .id = id, .state = GX_STATE_WITHDRAWN,
                    .revision = d.revision ? d.revision : o.revision};
    s_reply(q, &rep);
    goto out;
forbidden:
    s_error(q, GX_ERR_FORBIDDEN, "withdraw.posting_id", "%s %llu belongs to another firm", what, (unsigned long long)id);
    goto out;
closed:
    s_error(q, GX_ERR_CONFLICT, "withdraw.posting_id", "%s %llu is already %s", what, (unsigned long long)id,
            gx_state_name(d.state ? d.state : o.state));
out:
    gx_demand_fini(&d);
    gx_offer_fini(&o);
    gx_sub_fini(&sub);
}

/* ---------------------------------------------------------------- docking */

/* Docking states (GX_T_DOCKING): feddock.h. Docking on another city's demand,
 * or with another city's SME, goes on across cities there. */

static void s_dock_key(uint8_t k[8 + GX_FIRM_ID_LEN], uint64_t demand_id, const char *firm)
{
    gx_store_be64(k, demand_id);
    memcpy(k + 8, firm, GX_FIRM_ID_LEN);
}

/* Docking record: state (1 byte), offer id (8 bytes BE). */
static gx_err s_dock_get(gx_ctx *b, uint64_t demand_id, const char *firm, int *state, uint64_t *offer_id)
{
    uint8_t k[8 + GX_FIRM_ID_LEN];
    const void *v;
    size_t vl;
    gx_txn *own = NULL, *t = gx_records_txn(b);
    *state = 0;
    *offer_id = 0;
    s_dock_key(k, demand_id, firm);
    if (!t) {
        gx_err err = gx_store_begin(b->store, false, &own);
        if (err)
            return err;
        t = own;
    }
    gx_err err = gx_store_get(t, GX_T_DOCKING, k, sizeof k, &v, &vl);
    if (!err && vl >= 9) {
        *state = ((const uint8_t *)v)[0];
        *offer_id = gx_store_from_be64((const uint8_t *)v + 1);
    }
    gx_store_abort(&own);
    return err == GX_ERR_NOT_FOUND ? GX_OK : err;
}

static gx_err s_dock_put(gx_ctx *b, uint64_t demand_id, const char *firm, int state, uint64_t offer_id)
{
    uint8_t k[8 + GX_FIRM_ID_LEN], v[9];
    s_dock_key(k, demand_id, firm);
    v[0] = (uint8_t)state;
    gx_store_be64(v + 1, offer_id);
    return gx_store_put(b->child, GX_T_DOCKING, k, sizeof k, v, sizeof v);
}

/* The open demand of a docking request, checked for ownership: the owner for
 * accept/decline/award (owner_side), anyone else for interest. */
static const gx_demand *s_dock_demand(s_req *q, bool owner_side)
{
    const gx_demand *d = gx_engine_demand(q->b->engine, q->r->id);
    if (!d) {
        gx_demand rec;
        if (gx_records_get_demand(q->b, q->r->id, &rec) == GX_OK) {
            s_error(q, GX_ERR_CONFLICT, "demand_id", "demand %llu is %s", (unsigned long long)q->r->id,
                    gx_state_name(rec.state));
            gx_demand_fini(&rec);
        } else {
            s_error(q, GX_ERR_NOT_FOUND, "demand_id", "no open demand %llu", (unsigned long long)q->r->id);
        }
        return NULL;
    }
    char why[160];
    if (GX_FED_CITY_OF(d->id) && !owner_side &&
        !gx_feddock_can_send(q->b, GX_FED_CITY_OF(d->id), why, sizeof why)) {
        s_error(q, GX_ERR_CONFLICT, "demand_id", "demand %llu belongs to city %u's broker: %s",
                (unsigned long long)d->id, GX_FED_CITY_OF(d->id), why);
        return NULL;
    }
    if (owner_side && !s_owns(q, d->owner)) {
        s_error(q, GX_ERR_FORBIDDEN, "demand_id", "demand %llu belongs to another firm", (unsigned long long)d->id);
        return NULL;
    }
    if (!owner_side && s_owns(q, d->owner)) {
        s_error(q, GX_ERR_INVALID, "demand_id", "a firm cannot dock with its own demand");
        return NULL;
    }
    return d;
}

static void s_interest(s_req *q)
{
    gx_ctx *b = q->b;
    int state;
    uint64_t prev_offer;
    if (!s_need_firm(q))
        return;
    const gx_demand *d = s_dock_demand(q, false);
    if (!d)
        return;
    const char *me = q->s->firm;
    if (q->r->offer_id) {
        const gx_offer *o = gx_engine_offer(b->engine, q->r->offer_id);
        if (!o || strcmp(o->owner, me) != 0) {
            s_error(q, GX_ERR_INVALID, "interest.offer_id", "offer %llu is not an open offer of yours",
                    (unsigned long long)q->r->offer_id);
            return;
        }
    }
    gx_err err = s_dock_get(b, d->id, me, &state, &prev_offer);
    if (!err && state) {
        s_error(q, GX_ERR_CONFLICT, "interest.demand_id", "your interest in demand %llu is already %s",
                (unsigned long long)d->id,
                state == GX_DOCK_PENDING ? "pending" : state == GX_DOCK_ACCEPTED ? "accepted" : "declined");
        return;
    }
    gx_explain *x = NULL;
    if (!err && q->r->offer_id && (x = malloc(sizeof *x)) &&
        gx_engine_explain(b->engine, d->id, q->r->offer_id, b->now, x) != GX_OK) {
        free(x);
        x = NULL;
    }
    if (!err && !(err = gx_records_write_begin(b)) &&
        !(err = s_dock_put(b, d->id, me, GX_DOCK_PENDING, q->r->offer_id)) &&
        !(err = gx_notify_told_set(b, d->id, me, GX_TOLD_INTEREST, 0))) {
        gx_notice n = {.type = GX_N_INTEREST_RECEIVED, .demand_id = d->id, .offer_id = q->r->offer_id,
                       .firm = gx_engine_firm(b->engine, me), .text = q->r->text, .expl = x};
        err = gx_notify_send(b, d->owner, &n); /* nothing here for another city's anchor: */
        gx_fed_sealed sealed = {.text = q->r->text};
        if (!err && GX_FED_CITY_OF(d->id)) /* its broker hears of it, sealed to it */
            err = gx_feddock_send(b, GX_FED_INTEREST, GX_FED_CITY_OF(d->id), d->id, me, q->r->offer_id,
                                  &sealed, 0, GX_STATE_NONE, 0);
    }
    free(x);
    err = s_fed_fits(q, err, "server.fed.what.interest", "server.fed.fix.message");
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        return;
    }
    gx_monitor_event ev = {.at = b->now, .type = "docking", .demand_id = d->id, .offer_id = q->r->offer_id,
                           .kind = d->kind, .industry = d->industry, .detail = "interest"};
    gx_records_event(b, &ev);
    gx_reply rep = {.type = GX_REPLY_PONG};
    s_reply(q, &rep);
}

static void s_answer(s_req *q, bool accept)
{
    gx_ctx *b = q->b;
    int state;
    uint64_t offer_id;
    if (!s_need_firm(q))
        return;
    const gx_demand *d = s_dock_demand(q, true);
    if (!d)
        return;
    const char *sme = q->r->firm_id;
    gx_err err = s_dock_get(b, d->id, sme, &state, &offer_id);
    if (!err && state != GX_DOCK_PENDING) {
        s_error(q, state ? GX_ERR_CONFLICT : GX_ERR_NOT_FOUND, "firm_id",
                state ? "the interest of %s in demand %llu was already answered"
                      : "%s has expressed no interest in demand %llu",
                sme, (unsigned long long)d->id);
        return;
    }
    const gx_firm *anchor = gx_engine_firm(b->engine, d->owner);
    const gx_firm *smef = gx_engine_firm(b->engine, sme);
    unsigned home = smef ? smef->home_city : 0; /* another city's SME: its broker is told, sealed */
    char why[160];
    if (!err && home && !gx_feddock_can_send(b, home, why, sizeof why)) {
        s_error(q, GX_ERR_CONFLICT, "firm_id", "%s belongs to city %u's broker: %s", sme, home, why);
        return;
    }
    if (!err && !(err = gx_records_write_begin(b)) &&
        !(err = s_dock_put(b, d->id, sme, accept ? GX_DOCK_ACCEPTED : GX_DOCK_DECLINED, offer_id))) {
        if (home) {
            /* the anchor's DetailsReleased comes with the SME's contact (feddock.c) */
            gx_fed_sealed sealed = {.text = q->r->text};
            if (accept && anchor)
                sealed =
                    (gx_fed_sealed){.name = anchor->name, .contact = anchor->contact, .details = d->details};
            err = gx_feddock_send(b, accept ? GX_FED_ACCEPTED : GX_FED_DECLINED, home, d->id, sme, 0, &sealed,
                                  0, GX_STATE_NONE, 0);
        } else if (accept) {
            /* Details and contacts go to the accepted pair only, in both directions. */
            gx_notice to_sme = {.type = GX_N_DETAILS_RELEASED, .demand_id = d->id, .firm = anchor, .text = d->details};
            gx_notice to_anchor = {.type = GX_N_DETAILS_RELEASED, .demand_id = d->id, .firm = smef, .text = d->details};
            if (!(err = gx_notify_send(b, sme, &to_sme)))
                err = gx_notify_send(b, d->owner, &to_anchor);
        } else {
            gx_notice n = {.type = GX_N_INTEREST_DECLINED, .demand_id = d->id, .text = q->r->text};
            err = gx_notify_send(b, sme, &n);
        }
    }
    err = s_fed_fits(q, err, "server.fed.what.answer",
                     accept ? "server.fed.fix.details" : "server.fed.fix.message");
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        return;
    }
    gx_monitor_event ev = {.at = b->now, .type = "docking", .demand_id = d->id, .offer_id = offer_id, .kind = d->kind,
                           .industry = d->industry, .detail = accept ? "accepted" : "declined"};
    gx_records_event(b, &ev);
    gx_reply rep = {.type = GX_REPLY_PONG};
    s_reply(q, &rep);
}

static void s_award(s_req *q)
{
    gx_ctx *b = q->b;
    int state;
    uint64_t offer_id;
    gx_demand d = {0};
    gx_firm winner = {0};
    if (!s_need_firm(q))
        return;
    const gx_demand *held = s_dock_demand(q, true);
    if (!held)
        return;
    const char *sme = q->r->firm_id;
    gx_err err = s_dock_get(b, held->id, sme, &state, &offer_id);
    if (!err && state != GX_DOCK_ACCEPTED) {
        s_error(q, GX_ERR_CONFLICT, "award.firm_id", "award only a firm whose interest you accepted (%s: %s)", sme,
                state == GX_DOCK_PENDING ? "pending" : state == GX_DOCK_DECLINED ? "declined" : "no interest");
        return;
    }
    double qty = q->r->quantity > 0 ? q->r->quantity : held->quantity;
    if (qty > held->quantity * (1 + 1e-9)) {
        s_error(q, GX_ERR_INVALID, "award.quantity", "%g is more than the %g %s still open", qty, held->quantity,
                held->unit ? held->unit : "");
        return;
    }
    if (err || (err = gx_demand_copy(&d, held)) || (err = gx_records_write_begin(b)))
        goto done;
    d.quantity -= qty;
    if ((err = gx_records_get_firm(b, sme, &winner)))
        goto done;
    winner.awards++;
    if ((err = gx_records_put_firm(b, &winner)))
        goto done;
    /* another city's SME: its broker tells it and keeps its track record (feddock.h) */
    bool whole = d.quantity <= d.original_quantity * 1e-9;
    if (winner.home_city &&
        (err = gx_feddock_send(b, GX_FED_AWARDED, winner.home_city, d.id, sme, 0, NULL, qty,
                               whole ? GX_STATE_AWARDED : GX_STATE_OPEN, d.revision + 1)))
        goto done;
    b->engine_touched = true;
    gx_engine_count_award(b->engine, sme); /* held is not to be used after this */
    if (d.quantity <= d.original_quantity * 1e-9) {
        d.quantity = 0;
        err = s_close_demand(b, &d, GX_STATE_AWARDED, sme, qty);
    } else {
        /* Partly awarded: the rest stays open and is re-matched. */
        d.revision++;
        gx_demand copy;
        b->fx.n = 0;
        if (!(err = gx_records_put_demand(b, &d)) && !(err = gx_demand_copy(&copy, &d))) {
            err = gx_engine_update_demand(b->engine, &copy, b->now, &b->fx);
            gx_demand_fini(&copy);
            if (!err && !(err = gx_notify_effects(b, &b->fx))) {
                gx_notice n = {.type = GX_N_DEMAND_AWARDED, .demand = &d,
                               .demand_firm = gx_engine_firm(b->engine, d.owner), .awarded_to = sme,
                               .awarded_quantity = qty};
                if (!(err = gx_notify_send(b, sme, &n)))
                    err = gx_notify_demand_changed(b, &d, GX_N_DEMAND_UPDATED, NULL, 0);
            }
        }
    }
done:
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
    } else {
        if (d.state == GX_STATE_AWARDED)
            gx_records_count_open(b, d.owner, -1);
        s_post_event(b, "state", d.id, offer_id, d.kind, d.industry, d.owner, d.state);
        gx_reply rep = {.type = GX_REPLY_POSTING, .id = d.id, .revision = d.revision, .state = d.state};
        s_reply(q, &rep);
    }
    gx_demand_fini(&d);
    gx_firm_fini(&winner);
}

/* ---------------------------------------------------------------- notices */

static void s_ack(s_req *q)
{
    gx_ctx *b = q->b;
    if (!s_need_firm(q))
        return;
    gx_err err = gx_records_write_begin(b);
    if (!err)
        err = gx_inbox_ack(b->child, q->s->firm, q->r->id, (uint64_t)b->cfg.inbox_keep_acked);
    if ((err = gx_records_write_end(b, err))) {
        s_write_failed(q, err);
        return;
    }
    gx_inbox_cursor c;
    uint64_t acked = q->r->id;
    if (b->txn && gx_inbox_cursor_get(b->txn, q->s->firm, &c) == GX_OK && acked > c.head)
        acked = c.head; /* an ack beyond what exists must not open the window forever */
    if (acked > q->s->acked)
        q->s->acked = acked;
    gx_sessions_mark(b->sessions, q->s); /* the delivery window may have opened */
    gx_reply rep = {.type = GX_REPLY_ACKED, .seq = q->r->id};
    s_reply(q, &rep);
}

static void s_resume(s_req *q)
{
    gx_ctx *b = q->b;
    gx_inbox_cursor c;
    gx_txn *t = NULL;
    if (!s_need_firm(q))
        return;
    gx_err err = gx_store_begin(b->store, false, &t);
    if (!err)
        err = gx_inbox_cursor_get(t, q->s->firm, &c);
    gx_store_abort(&t);
    if (err) {
        s_write_failed(q, err);
        return;
    }
    uint64_t after = q->r->flag ? c.acked : q->r->id;
    if (after < c.pruned) {
        s_error(q, GX_ERR_RESUME_GAP, "resume.after_seq",
                "notices %llu..%llu are past retention; resume after %llu to get the rest",
                (unsigned long long)after + 1, (unsigned long long)c.pruned, (unsigned long long)c.pruned);
        return;
    }
    if (after > c.head)
        after = c.head;
    gx_sessions_resume(b->sessions, q->s, after, c.acked);
    gx_reply rep = {.type = GX_REPLY_RESUME, .resumed_after = after, .head = c.head};
    s_reply(q, &rep);
}

/* ---------------------------------------------------------------- reads */

static void s_charge(s_req *q, size_t work, size_t per);
#define S_RANK_PER_TOKEN 2000 /* pairs judged afresh per extra rate-limit token */

static void s_get_shortlist(s_req *q)
{
    gx_ctx *b = q->b;
    if (!q->s) {
        s_error(q, GX_ERR_UNAUTHENTICATED, NULL, "say Hello first");
        return;
    }
    const gx_demand *d = gx_engine_demand(b->engine, q->r->id);
    if (!d) {
        s_error(q, GX_ERR_NOT_FOUND, "get_shortlist.demand_id", "no open demand %llu", (unsigned long long)q->r->id);
        return;
    }
    if (!s_owns(q, d->owner) && !s_is_operator(q)) {
        s_error(q, GX_ERR_FORBIDDEN, "get_shortlist.demand_id", "only the demand's owner sees its shortlist");
        return;
    }
    size_t n, k = (size_t)b->cfg.shortlist_k, n_set = 0;
    const gx_match *held = gx_engine_matches(b->engine, d->id, &n);
    size_t nc = n < k ? n : k;
    uint64_t set_ids[256], shortlist[GX_ENGINE_K_MAX];
    double coverage = 0;
    for (size_t i = 0; i < nc; i++)
        shortlist[i] = held[i].offer_id;
    uint64_t pairs = gx_engine_pairs(b->engine);
    if (d->splittable)
        gx_engine_proposed_set(b->engine, d->id, b->now, set_ids, 256, &n_set, &coverage);
    /* The count and the ranks beyond the held list, afresh through the index:
     * exact now, whatever dates have passed since the pairs were matched. */
    const gx_match *m;
    if (gx_engine_rank(b->engine, d->id, b->now, &m, &n) != GX_OK) {
        s_error(q, GX_ERR_INTERNAL, NULL, "out of memory");
        return;
    }
    /* those searches cost what a new demand's does: a firm that polls pays for them */
    s_charge(q, (size_t)(gx_engine_pairs(b->engine) - pairs), S_RANK_PER_TOKEN);
    gx_explain *x = calloc(nc + n_set + 1, sizeof *x);
    gx_candidate_view *v = calloc(nc + n_set + 1, sizeof *v);
    if (!x || !v) {
        s_error(q, GX_ERR_INTERNAL, NULL, "out of memory");
        goto out;
    }
    /* Explained in the asking firm's language (an operator's: zh-CN). */
    gx_rules_words words = {.lang = s_lang(q), .vocab = b->vocab};
    gx_engine_opts eo;
    gx_persist_engine_opts(b, &eo);
    /* The proposed set is taken from the matches in rank order, so one forward
     * pass over them finds every rank: the cost is O(matches), not O(set x matches). */
    for (size_t i = 0, j = 0; i < nc + n_set; i++) {
        uint64_t oid = i < nc ? shortlist[i] : set_ids[i - nc];
        const gx_offer *o = gx_engine_offer(b->engine, oid);
        const gx_firm *df = gx_engine_firm(b->engine, d->owner),
                      *of = o ? gx_engine_firm(b->engine, o->owner) : NULL;
        if (words.lang != GX_LANG_EN && o && df && of)
            gx_rules_explain(&eo.rules, &words, d, df, o, of, b->now, &x[i]);
        else
            gx_engine_explain(b->engine, d->id, oid, b->now, &x[i]);
        v[i].offer_id = oid;
        v[i].firm = o ? gx_engine_firm(b->engine, o->owner) : NULL;
        v[i].score = x[i].score;
        v[i].expl = &x[i];
        v[i].rank = 0;
        if (i == nc)
            j = 0;
        size_t from = j;
        while (j < n && m[j].offer_id != oid)
            j++;
        if (j == n && from) /* not in rank order after all: look from the top */
            for (j = 0; j < from && m[j].offer_id != oid; j++)
                ;
        if (j < n && m[j].offer_id == oid) {
            v[i].rank = (uint32_t)j + 1;
            v[i].score = m[j].score;
            j++;
        } else {
            j = from;
        }
    }
    gx_reply rep = {.type = GX_REPLY_SHORTLIST, .id = d->id, .revision = d->revision, .count = (uint32_t)n,
                    .cands = v, .n_cands = nc, .set = v + nc, .n_set = n_set, .coverage = coverage};
    s_reply(q, &rep);
out:
    free(x);
    free(v);
}

static void s_get_posting(s_req *q)
{
    gx_ctx *b = q->b;
    gx_demand d = {0};
    gx_offer o = {0};
    gx_sub s = {0};
    gx_reply rep = {0};
    if (!s_is_operator(q) && !s_need_firm(q))
        return;
    const char *me = q->s->firm;
    gx_err err = gx_records_get_demand(b, q->r->id, &d);
    if (!err) {
        int state = 0;
        uint64_t offer_id;
        if (!s_owns(q, d.owner) && !s_is_operator(q))
            s_dock_get(b, d.id, me, &state, &offer_id);
        rep.type = GX_REPLY_DEMAND;
        rep.demand = &d;
        rep.view = s_owns(q, d.owner) || s_is_operator(q) ? GX_VIEW_OWNER
                   : state == GX_DOCK_ACCEPTED            ? GX_VIEW_PARTNER
                                                          : GX_VIEW_PUBLIC;
    } else if (err == GX_ERR_NOT_FOUND && !(err = gx_records_get_offer(b, q->r->id, &o))) {
        if (!s_owns(q, o.owner) && !s_is_operator(q)) {
            s_error(q, GX_ERR_FORBIDDEN, "get_posting.posting_id", "offer %llu belongs to another firm",
                    (unsigned long long)o.id);
            goto out;
        }
        rep.type = GX_REPLY_OFFER;
        rep.offer = &o;
    } else if (err == GX_ERR_NOT_FOUND && !(err = gx_records_get_sub(b, q->r->id, &s))) {
        if (!s_owns(q, s.owner) && !s_is_operator(q)) {
            s_error(q, GX_ERR_FORBIDDEN, "get_posting.posting_id", "subscription %llu belongs to another firm",
                    (unsigned long long)s.id);
            goto out;
        }
        rep.type = GX_REPLY_SUB;
        rep.sub = &s;
    }
    if (err) {
        s_error(q, err == GX_ERR_NOT_FOUND ? err : GX_ERR_INTERNAL, "get_posting.posting_id", "no posting %llu",
                (unsigned long long)q->r->id);
        goto out;
    }
    s_reply(q, &rep);
out:
    gx_demand_fini(&d);
    gx_offer_fini(&o);
    gx_sub_fini(&s);
}

/* ---- ListPostings: a page of the owner index (GX_T_OWNED, owned.h).
 *
 * Groups in key order: demands open, demands closed, offers open, offers
 * closed, subscriptions; each by id. A cursor is the index key (without the
 * firm) of the first posting of the next page, in hex: kind, closed, id. The
 * work is the entries read, at most limit + 1 (and about max_frame_bytes / 2
 * of records), whatever else the store holds. */

#define S_LIST_PER_TOKEN 100 /* postings read per request of the rate limit */
#define S_CURSOR_BYTES (GX_OWNED_KEY_LEN - GX_FIRM_ID_LEN)
#define S_CURSOR_LEN (2 * S_CURSOR_BYTES) /* hex digits */

typedef struct s_list {
    gx_txn *t;          /* read transaction */
    const char *owner;  /* whose postings */
    size_t max;         /* most postings in the page */
    size_t budget;      /* bytes of records after which the page ends */
    size_t bytes;       /* of the records taken */
    size_t n;           /* postings taken */
    size_t read;        /* index entries read */
    gx_demand *demands; /* decoded, owned */
    gx_offer *offers;
    gx_sub *subs;
    size_t n_demands, n_offers, n_subs;
    char next[S_CURSOR_LEN + 1]; /* the next page's cursor once the page is full */
    gx_err err;
} s_list;

static void s_cursor_format(const uint8_t *k, char out[S_CURSOR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < S_CURSOR_BYTES; i++) {
        out[2 * i] = hex[k[i] >> 4];
        out[2 * i + 1] = hex[k[i] & 15];
    }
    out[S_CURSOR_LEN] = 0;
}

/* Reads a cursor into the key suffix k (kind, closed, id); false when it is not
 * one s_cursor_format could have written. */
static bool s_cursor_parse(const char *c, uint8_t k[S_CURSOR_BYTES])
{
    if (strlen(c) != S_CURSOR_LEN)
        return false;
    for (size_t i = 0; i < S_CURSOR_LEN; i++) {
        int ch = c[i], v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return false;
        k[i / 2] = (uint8_t)(i % 2 ? (k[i / 2] << 4) | v : v);
    }
    return k[0] >= GX_OWNED_DEMAND && k[0] <= GX_OWNED_SUB && k[1] <= (k[0] != GX_OWNED_SUB);
}

/* Appends one slot to *arr (n used); NULL when out of memory. */
static void *s_list_slot(void **arr, size_t n, size_t size)
{
    if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) { /* capacity 8, 16, 32, ...: full */
        void *v = realloc(*arr, (n ? 2 * n : 8) * size);
        if (!v)
            return NULL;
        *arr = v;
    }
    return (char *)*arr + n * size;
}

/* One index entry: the page's next posting, or the first of the next page. */
static bool s_list_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_list *l = ctx;
    const uint8_t *k = key;
    (void)val;
    (void)vlen;
    if (klen != GX_OWNED_KEY_LEN) {
        l->err = gx_store_failf(l->t, GX_ERR_MALFORMED, "owner index: a key of %zu bytes", klen);
        return false;
    }
    l->read++;
    if (l->n >= l->max || (l->n && l->bytes >= l->budget)) {
        s_cursor_format(k + GX_FIRM_ID_LEN, l->next);
        return false;
    }
    uint8_t kind = k[GX_FIRM_ID_LEN];
    bool closed = k[GX_FIRM_ID_LEN + 1];
    gx_table tb = kind == GX_OWNED_DEMAND ? GX_T_DEMANDS : kind == GX_OWNED_OFFER ? GX_T_OFFERS : GX_T_SUBS;
    const void *rec;
    size_t rlen;
    gx_err err = gx_store_get(l->t, tb, k + GX_FIRM_ID_LEN + 2, 8, &rec, &rlen);
    if (err == GX_ERR_NOT_FOUND) /* never: the record and its entry change together */
        return true;
    const char *owner = NULL;
    gx_state state = GX_STATE_OPEN;
    if (!err && tb == GX_T_DEMANDS) {
        gx_demand *d = s_list_slot((void **)&l->demands, l->n_demands, sizeof *d);
        if (!d)
            err = GX_ERR_NOMEM;
        else if (!(err = gx_codec_decode_demand(rec, rlen, d)))
            owner = d->owner, state = d->state, l->n_demands++;
    } else if (!err && tb == GX_T_OFFERS) {
        gx_offer *o = s_list_slot((void **)&l->offers, l->n_offers, sizeof *o);
        if (!o)
            err = GX_ERR_NOMEM;
        else if (!(err = gx_codec_decode_offer(rec, rlen, o)))
            owner = o->owner, state = o->state, l->n_offers++;
    } else if (!err) {
        gx_sub *s = s_list_slot((void **)&l->subs, l->n_subs, sizeof *s);
        if (!s)
            err = GX_ERR_NOMEM;
        else if (!(err = gx_codec_decode_sub(rec, rlen, s)))
            owner = s->owner, l->n_subs++;
    }
    if (err) {
        l->err = err;
        return false;
    }
    /* What the entry says must be what the record says; never list what is not ours. */
    if (strcmp(owner, l->owner) != 0 || (state != GX_STATE_OPEN) != closed) {
        gx_log(GX_LOG_WARNING, "owner index: entry for %s %llu disagrees with its record; not listed",
               l->owner, (unsigned long long)gx_store_from_be64(k + GX_FIRM_ID_LEN + 2));
        if (tb == GX_T_DEMANDS)
            gx_demand_fini(&l->demands[--l->n_demands]);
        else if (tb == GX_T_OFFERS)
            gx_offer_fini(&l->offers[--l->n_offers]);
        else
            gx_sub_fini(&l->subs[--l->n_subs]);
        return true;
    }
    l->n++;
    l->bytes += rlen;
    return true;
}

/* Charges a request whose work grew with what it returned: one more request of
 * the firm's rate limit for every `per` units of work beyond the first `per`
 * (which the token taken at dispatch paid). Operators are not limited. */
static void s_charge(s_req *q, size_t work, size_t per)
{
    if (!q->s || q->s->is_operator || !q->s->firm[0] || work <= per)
        return;
    gx_limiter_charge(q->b->rates, q->s->firm, q->b->now_ms, (double)((work - 1) / per));
}

static void s_list_postings(s_req *q)
{
    gx_ctx *b = q->b;
    uint8_t from[GX_OWNED_KEY_LEN], prefix[GX_FIRM_ID_LEN + 2];
    s_list l = {.owner = NULL};
    const gx_demand **dp = NULL;
    const gx_offer **op = NULL;
    const gx_sub **sp = NULL;
    if (!s_need_firm(q))
        return;
    gx_owned_key(from, q->s->firm, GX_OWNED_DEMAND, false, 0);
    if (q->r->text && !s_cursor_parse(q->r->text, from + GX_FIRM_ID_LEN)) {
        s_error(q, GX_ERR_INVALID, "list_postings.cursor",
                "'%.40s' is not a cursor from this broker: give the next_cursor of the previous page, "
                "or none for the first page",
                q->r->text);
        return;
    }
    l.owner = q->s->firm;
    l.max = q->r->limit ? q->r->limit : GX_LIST_DEFAULT;
    l.budget = (size_t)b->cfg.max_frame_bytes / 2;
    memcpy(prefix, from, GX_FIRM_ID_LEN);
    gx_err err = gx_store_begin(b->store, false, &l.t);
    /* Each (kind, closed) group from the cursor's on is one key range; closed
     * groups are skipped, not read, unless asked for. */
    for (uint8_t kind = GX_OWNED_DEMAND; !err && kind <= GX_OWNED_SUB; kind++)
        for (uint8_t closed = 0; !err && closed <= (kind != GX_OWNED_SUB); closed++) {
            int group = kind * 2 + closed, at = from[GX_FIRM_ID_LEN] * 2 + from[GX_FIRM_ID_LEN + 1];
            if (group < at || (closed && !q->r->flag) || l.next[0] || l.err)
                continue;
            prefix[GX_FIRM_ID_LEN] = kind;
            prefix[GX_FIRM_ID_LEN + 1] = closed;
            err = gx_store_scan(l.t, GX_T_OWNED, prefix, sizeof prefix, group == at ? from : NULL,
                                group == at ? sizeof from : 0, s_list_visit, &l);
        }
    gx_store_abort(&l.t);
    s_charge(q, l.read - (l.next[0] != 0), S_LIST_PER_TOKEN); /* the look past the page is free */
    if (!err)
        err = l.err;
    dp = calloc(l.n_demands + 1, sizeof *dp);
    op = calloc(l.n_offers + 1, sizeof *op);
    sp = calloc(l.n_subs + 1, sizeof *sp);
    if (!err && (!dp || !op || !sp))
        err = GX_ERR_NOMEM;
    if (err) {
        gx_log(GX_LOG_ERR, "listing the postings of %s: %s (%s)", q->s->firm, gx_err_str(err),
               gx_store_last_error(b->store));
        s_error(q, GX_ERR_INTERNAL, NULL, "listing postings: %s", gx_err_str(err));
        goto out;
    }
    for (size_t i = 0; i < l.n_demands; i++)
        dp[i] = &l.demands[i];
    for (size_t i = 0; i < l.n_offers; i++)
        op[i] = &l.offers[i];
    for (size_t i = 0; i < l.n_subs; i++)
        sp[i] = &l.subs[i];
    gx_reply rep = {.type = GX_REPLY_LIST,
                    .demands = dp,
                    .n_demands = l.n_demands,
                    .offers = op,
                    .n_offers = l.n_offers,
                    .subs = sp,
                    .n_subs = l.n_subs,
                    .truncated = l.next[0] != 0,
                    .next_cursor = l.next};
    s_reply(q, &rep);
out:
    for (size_t i = 0; i < l.n_demands; i++)
        gx_demand_fini(&l.demands[i]);
    for (size_t i = 0; i < l.n_offers; i++)
        gx_offer_fini(&l.offers[i]);
    for (size_t i = 0; i < l.n_subs; i++)
        gx_sub_fini(&l.subs[i]);
    free(l.demands);
    free(l.offers);
    free(l.subs);
    free(dp);
    free(op);
    free(sp);
}

/* Replaces *filter by its canonical id (borrowed from the vocabulary). */
static bool s_set_filter(s_req *q, char **filter, const char *id)
{
    char *copy = strdup(id);
    if (!copy) {
        s_error(q, GX_ERR_INTERNAL, NULL, "out of memory");
        return false;
    }
    free(*filter);
    *filter = copy;
    return true;
}

/* The district and industry filters of GetStats must name something: a county
 * or zone of the vocabulary or a column ("city", "other"), an industry code at
 * any level (made canonical: "36" is "C36"). An unknown one is UNKNOWN_CODE
 * with suggestions, not an empty table. */
static bool s_stats_filters(s_req *q)
{
    gx_stats_req *sr = &q->r->stats;
    const gx_vocab *v = q->b->vocab;
    const char *sug[GX_VERR_SUGGEST], *id;
    char msg[256];
    size_t n;
    if (sr->district && strcmp(sr->district, "city") != 0 && strcmp(sr->district, "other") != 0) {
        if (!(id = gx_vocab_resolve(v, GX_V_COUNTY, sr->district)))
            id = gx_vocab_resolve(v, GX_V_ZONE, sr->district);
        if (!id) {
            n = gx_vocab_suggest(v, GX_V_ZONE, sr->district, sug, GX_VERR_SUGGEST);
            n += gx_vocab_suggest(v, GX_V_COUNTY, sr->district, sug + n, GX_VERR_SUGGEST - n);
            snprintf(msg, sizeof msg,
                     "get_stats.district: unknown district '%.64s': give a county code (410611), "
                     "a zone (hebi.etdz), \"city\" or \"other\"",
                     sr->district);
            gx_requests_error_suggest(q->b, q->rid, q->rid_len, q->r->request_id, GX_ERR_UNKNOWN_CODE, msg,
                                      "get_stats.district", sug, n);
            return false;
        }
        if (!s_set_filter(q, &sr->district, id))
            return false;
    }
    if (sr->industry) {
        if (!(id = gx_vocab_resolve(v, GX_V_INDUSTRY, sr->industry))) {
            n = gx_vocab_suggest(v, GX_V_INDUSTRY, sr->industry, sug, GX_VERR_SUGGEST);
            snprintf(msg, sizeof msg,
                     "get_stats.industry: unknown industry code '%.64s' (GB/T 4754-2017, at any "
                     "level: C, C36, C367, C3670)",
                     sr->industry);
            gx_requests_error_suggest(q->b, q->rid, q->rid_len, q->r->request_id, GX_ERR_UNKNOWN_CODE, msg,
                                      "get_stats.industry", sug, n);
            return false;
        }
        if (!s_set_filter(q, &sr->industry, id))
            return false;
    }
    return true;
}

static void s_get_stats(s_req *q)
{
    if (!s_need_operator(q) || !s_stats_filters(q))
        return;
    gx_engine_stats es;
    gx_engine_stats_get(q->b->engine, &es);
    const gx_stats_req *sr = &q->r->stats;
    char from[11] = "", to[11] = "";
    gx_stats_view sv = {.at = q->b->now, .engine = &es, .notices = q->b->counters.notices,
                        .requests = q->b->counters.requests, .from = from, .to = to};
    gx_stats_table t = {0};
    if (sr->breakdown) {
        int64_t off = q->b->cfg.utc_offset_minutes * 60;
        gx_stats_filter f = {.from = sr->from_day ? (int64_t)sr->from_day * 86400 - off : 0,
                             .to = sr->to_day ? ((int64_t)sr->to_day + 1) * 86400 - off : 0,
                             .district = sr->district, .industry = sr->industry, .kind = sr->kind};
        if (sr->from_day)
            gx_date_format(sr->from_day, from);
        if (sr->to_day)
            gx_date_format(sr->to_day, to);
        gx_err err = gx_report_range(q->b, &f, &t);
        if (err) {
            s_error(q, err, NULL, "could not read the statistics from the store: %s", gx_err_str(err));
            return;
        }
        gx_report_names(q->b, &t);
        sv.rows = t.rows;
        sv.n_rows = t.n;
    }
    gx_reply rep = {.type = GX_REPLY_STATS, .stats = &sv};
    s_reply(q, &rep);
    gx_stats_table_fini(&t);
}

/* FindCodes: the vocabulary, searched; for anyone connected. */
static void s_find_codes(s_req *q)
{
    if (!q->s) {
        s_error(q, GX_ERR_UNAUTHENTICATED, NULL, "say Hello first");
        return;
    }
    gx_vocab_entry *found = malloc(q->r->limit * sizeof *found);
    if (!found) {
        s_error(q, GX_ERR_INTERNAL, NULL, "out of memory");
        return;
    }
    const char *text = q->r->text ? q->r->text : "";
    size_t total = gx_vocab_find(q->b->vocab, q->r->code_class, text, found, q->r->limit);
    gx_reply rep = {.type = GX_REPLY_CODES,
                    .entries = found,
                    .n_entries = total < q->r->limit ? total : q->r->limit,
                    .total = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total};
    s_reply(q, &rep);
    free(found);
}

void gx_requests_handle(gx_ctx *b, gx_session *s, const void *rid, size_t rid_len, gx_request *r)
{
    s_req q = {.b = b, .s = s, .rid = rid, .rid_len = rid_len, .r = r};
    switch (r->type) {
    case GX_REQ_HELLO: s_hello(&q); break;
    case GX_REQ_REGISTER_FIRM: s_register_firm(&q); break;
    case GX_REQ_GET_FIRM: s_get_firm(&q); break;
    case GX_REQ_POST_DEMAND: s_post_demand(&q, false); break;
    case GX_REQ_UPDATE_DEMAND: s_post_demand(&q, true); break;
    case GX_REQ_POST_OFFER: s_post_offer(&q, false); break;
    case GX_REQ_UPDATE_OFFER: s_post_offer(&q, true); break;
    case GX_REQ_WITHDRAW: s_withdraw(&q); break;
    case GX_REQ_SUBSCRIBE: s_subscribe(&q); break;
    case GX_REQ_INTEREST: s_interest(&q); break;
    case GX_REQ_ACCEPT: s_answer(&q, true); break;
    case GX_REQ_DECLINE: s_answer(&q, false); break;
    case GX_REQ_AWARD: s_award(&q); break;
    case GX_REQ_ACK: s_ack(&q); break;
    case GX_REQ_RESUME: s_resume(&q); break;
    case GX_REQ_GET_SHORTLIST: s_get_shortlist(&q); break;
    case GX_REQ_GET_POSTING: s_get_posting(&q); break;
    case GX_REQ_LIST_POSTINGS: s_list_postings(&q); break;
    case GX_REQ_GET_STATS: s_get_stats(&q); break;
    case GX_REQ_REGISTER_KEY: s_register_key(&q); break;
    case GX_REQ_REVOKE_KEY: s_revoke_key(&q); break;
    case GX_REQ_BACKUP: s_backup(&q); break;
    case GX_REQ_PING: s_reply_limits(&q); break;
    case GX_REQ_FIND_CODES:
        s_find_codes(&q);
        break;
    default: s_error(&q, GX_ERR_BAD_REQUEST, "body", "unsupported request"); break;
    }
}

/* ---------------------------------------------------------------- replies */

/* Replies wait in b->replies until broker.c commits the batch and sends them. */
static gx_pending_reply *s_reply_slot(gx_ctx *b, const void *rid, size_t rid_len, uint64_t request_id)
{
    if (b->n_replies == b->cap_replies) {
        size_t cap = b->cap_replies ? b->cap_replies * 2 : 64;
        gx_pending_reply *v = realloc(b->replies, cap * sizeof *v);
        if (!v)
            return NULL;
        b->replies = v;
        b->cap_replies = cap;
    }
    gx_pending_reply *p = &b->replies[b->n_replies];
    memset(p, 0, sizeof *p);
    memcpy(p->rid, rid, rid_len);
    p->rid_len = (uint8_t)rid_len;
    p->request_id = request_id;
    p->req_type = b->cur_req;
    return p;
}

void gx_requests_reply(gx_ctx *b, const void *rid, size_t rid_len, const gx_reply *r)
{
    gx_pending_reply *p = s_reply_slot(b, rid, rid_len, r->request_id);
    if (!p)
        return;
    gx_err err = gx_codec_encode_reply(r, &p->payload);
    if (err) {
        gx_requests_error(b, rid, rid_len, r->request_id, err, "could not encode the reply", NULL);
        return;
    }
    b->n_replies++;
}

void gx_requests_error(gx_ctx *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                       const char *msg, const char *field)
{
    gx_requests_error_suggest(b, rid, rid_len, request_id, err, msg, field, NULL, 0);
}

void gx_requests_error_suggest(gx_ctx *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                               const char *msg, const char *field, const char *const *suggest, size_t n)
{
    b->counters.errors++;
    gx_pending_reply *p = s_reply_slot(b, rid, rid_len, request_id);
    if (!p || gx_codec_encode_error_suggest(request_id, err, msg, field, suggest, n, &p->payload) != GX_OK)
        return; /* out of memory: the client times out, the broker keeps serving */
    p->is_error = true;
    p->err = (unsigned)err < GX_OUTCOMES - 1 ? (uint8_t)err : GX_OUTCOMES - 1;
    b->n_replies++;
}
