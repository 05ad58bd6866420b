/* fedapply.c — applying other cities' postings (fedapply.h). */
#include "fedapply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feddock.h"
#include "log.h"
#include "notify.h"

/* Why a message is refused, for the log. */
typedef struct s_why {
    char text[200];
} s_why;

/* Checks what no decoder can: that the message is its city's to send. */
static bool s_check(const gx_ctx *b, const gx_fed_msg *m, const char *subject, s_why *w)
{
    char want[32];
    if (m->origin_city < 1000 || m->origin_city > 9999) {
        snprintf(w->text, sizeof w->text, "origin city %u is not a 4-digit code", m->origin_city);
        return false;
    }
    snprintf(want, sizeof want, "gx.%u.post", m->origin_city);
    if (!subject || strcmp(subject, want) != 0) {
        snprintf(w->text, sizeof w->text, "city %u's message on subject %s", m->origin_city,
                 subject ? subject : "-");
        return false;
    }
    if (m->kind < GX_FED_DEMAND || m->kind > GX_FED_AWARDED) {
        snprintf(w->text, sizeof w->text, "unknown kind %u", m->kind);
        return false;
    }
    if (m->kind >= GX_FED_INTEREST)
        return gx_feddock_check(m, w->text, sizeof w->text);
    if (!m->owner) {
        snprintf(w->text, sizeof w->text, "no owner profile");
        return false;
    }
    char city[5];
    snprintf(city, sizeof city, "%u", m->origin_city);
    if (strncmp(m->owner->county, city, 4) != 0) {
        snprintf(w->text, sizeof w->text, "firm %s (county %s) is not in city %u", m->owner->id,
                 m->owner->county, m->origin_city);
        return false;
    }
    if (m->kind == GX_FED_FIRM)
        return true;
    if (m->origin_id == 0 || m->origin_id >= GX_FED_LOCAL_MAX) {
        snprintf(w->text, sizeof w->text, "posting id %llu is out of range (1 .. 2^48-1)",
                 (unsigned long long)m->origin_id);
        return false;
    }
    if (m->revision == 0 || m->state == GX_STATE_NONE) {
        snprintf(w->text, sizeof w->text, "posting %llu has no revision or state",
                 (unsigned long long)m->origin_id);
        return false;
    }
    const char *owner = m->kind == GX_FED_DEMAND ? (m->demand ? m->demand->owner : NULL)
                                                 : (m->offer ? m->offer->owner : NULL);
    if (!owner) {
        snprintf(w->text, sizeof w->text, "a %s message without its posting",
                 m->kind == GX_FED_DEMAND ? "demand" : "offer");
        return false;
    }
    if (strcmp(owner, m->owner->id) != 0) {
        snprintf(w->text, sizeof w->text, "posting owned by %s carries the profile of %s", owner,
                 m->owner->id);
        return false;
    }
    (void)b;
    return true;
}

bool gx_fedapply_check(const gx_fed_msg *m, const char *subject, char *why, size_t len)
{
    s_why w = {{0}};
    bool ok = s_check(NULL, m, subject, &w);
    if (why && len)
        snprintf(why, len, "%s", w.text);
    return ok;
}

/* Stores the remote owner's profile and tells the engine, when it changed;
 * of a firm already known here, only when refresh (a profile record, or an
 * open posting: a closed one needs no profile, and the substitute for a
 * posting record NATS refused may carry a trimmed one, records.h).
 * GX_ERR_CONFLICT when the id is a firm of another city here (*home: 0 for
 * this broker's own): only a firm's home city speaks for it. */
static gx_err s_owner(gx_ctx *b, gx_firm *f, uint16_t city, unsigned *home, bool refresh)
{
    gx_firm cur = {0};
    gx_buf a = {0}, c = {0};
    gx_err err = gx_records_get_firm(b, f->id, &cur);
    if (err == GX_OK && cur.home_city != city) {
        *home = cur.home_city;
        err = GX_ERR_CONFLICT;
        goto out;
    }
    if (err && err != GX_ERR_NOT_FOUND)
        goto out;
    bool known = err == GX_OK;
    if (known && !refresh)
        goto out;
    f->home_city = city; /* its awards as its home city counts them (the track record's authority) */
    free(f->contact);
    f->contact = NULL;
    if (known && cur.contact && !(f->contact = strdup(cur.contact))) { /* released by docking (feddock.c) */
        err = GX_ERR_NOMEM;
        goto out;
    }
    if (known && !(err = gx_codec_encode_firm(f, &a)) && !(err = gx_codec_encode_firm(&cur, &c)) &&
        a.len == c.len && memcmp(a.data, c.data, a.len) == 0)
        goto out; /* as it was: no need to match its postings again */
    b->fx.n = 0;
    if ((err = gx_records_put_firm(b, f)))
        goto out;
    b->engine_touched = true;
    if (!(err = gx_engine_put_firm(b->engine, f, b->now, &b->fx)))
        err = gx_notify_effects(b, &b->fx);
out:
    gx_buf_fini(&a);
    gx_buf_fini(&c);
    gx_firm_fini(&cur);
    return err;
}

/* True when the stored copy (revision rev, state st) is as new as the message:
 * a higher revision is newer, and so is a close at the same revision (expiry
 * closes a posting without a new revision). */
static bool s_stale(uint32_t rev, gx_state st, const gx_fed_msg *m)
{
    if (m->revision != rev)
        return m->revision < rev;
    return !(st == GX_STATE_OPEN && m->state != GX_STATE_OPEN);
}

/* What the store held of a posting before a message about it. */
typedef struct s_prior {
    bool known;        /* stored here before */
    uint32_t revision; /* its revision and state then */
    gx_state state;
} s_prior;

static gx_err s_prior_get(gx_ctx *b, uint32_t kind, uint64_t id, s_prior *p)
{
    gx_demand d = {0};
    gx_offer o = {0};
    gx_err err = kind == GX_FED_DEMAND ? gx_records_get_demand(b, id, &d) : gx_records_get_offer(b, id, &o);
    *p = (s_prior){.known = err == GX_OK};
    if (p->known) {
        p->revision = kind == GX_FED_DEMAND ? d.revision : o.revision;
        p->state = kind == GX_FED_DEMAND ? d.state : o.state;
    }
    gx_demand_fini(&d);
    gx_offer_fini(&o);
    return err == GX_ERR_NOT_FOUND ? GX_OK : err;
}

/* Sets *stale when the stored copy of the posting is as new as the message. */
static gx_err s_known_stale(gx_ctx *b, const gx_fed_msg *m, uint64_t id, bool *stale)
{
    s_prior p;
    gx_err err = s_prior_get(b, m->kind, id, &p);
    *stale = !err && p.known && s_stale(p.revision, p.state, m);
    return err;
}

/* The engine takes the open posting: added when it was not open here (new, or
 * open after closed: the home city is authoritative, this broker's expiry
 * sweep goes by its own clock and the home city may have extended it
 * meanwhile), updated when it was. */
static gx_err s_engine_open(gx_ctx *b, gx_demand *d, gx_offer *o, bool was_open)
{
    gx_demand dc = {0};
    gx_offer oc = {0};
    gx_err err = GX_ERR_INTERNAL;
    if (d && !(err = gx_demand_copy(&dc, d)))
        err = was_open ? gx_engine_update_demand(b->engine, &dc, b->now, &b->fx)
                       : gx_engine_add_demand(b->engine, &dc, b->now, &b->fx);
    else if (o && !(err = gx_offer_copy(&oc, o)))
        err = was_open ? gx_engine_update_offer(b->engine, &oc, b->now, &b->fx)
                       : gx_engine_add_offer(b->engine, &oc, b->now, &b->fx);
    gx_demand_fini(&dc);
    gx_offer_fini(&oc);
    return err;
}

/* Stores a demand's or an offer's copy (m->demand or m->offer) as id and
 * tells the engine and this broker's firms, as for a change made here. */
static gx_err s_posting(gx_ctx *b, gx_fed_msg *m, uint64_t id, bool *dup)
{
    gx_demand *d = m->kind == GX_FED_DEMAND ? m->demand : NULL;
    gx_offer *o = d ? NULL : m->offer;
    s_prior p;
    gx_err err = s_prior_get(b, m->kind, id, &p);
    if (err)
        return err;
    if (p.known && s_stale(p.revision, p.state, m)) {
        *dup = true;
        return GX_OK;
    }
    if (d) {
        d->id = id;
        d->revision = m->revision;
        d->state = m->state;
        err = gx_records_put_demand(b, d);
    } else {
        o->id = id;
        o->revision = m->revision;
        o->state = m->state;
        err = gx_records_put_offer(b, o);
    }
    if (err)
        return err;
    bool was_open = p.known && p.state == GX_STATE_OPEN;
    b->fx.n = 0;
    b->engine_touched = true;
    if (m->state == GX_STATE_OPEN) {
        if ((err = s_engine_open(b, d, o, was_open)) || (err = gx_notify_effects(b, &b->fx)))
            return err;
        /* The firms told of a demand hear of its change, as for a change here;
         * so do they when it opens again here (they heard it closed). */
        const gx_demand *held = d && p.known ? gx_engine_demand(b->engine, id) : NULL;
        return held ? gx_notify_demand_changed(b, held, GX_N_DEMAND_UPDATED, NULL, 0) : GX_OK;
    }
    if (!was_open)
        return GX_OK;
    err = d ? gx_engine_close_demand(b->engine, id, m->state, &b->fx)
            : gx_engine_close_offer(b->engine, id, m->state, &b->fx);
    if (err && err != GX_ERR_NOT_FOUND)
        return err;
    if (o)
        return gx_notify_effects(b, &b->fx);
    int type = m->state == GX_STATE_AWARDED   ? GX_N_DEMAND_AWARDED
               : m->state == GX_STATE_EXPIRED ? GX_N_DEMAND_EXPIRED
                                              : GX_N_DEMAND_WITHDRAWN;
    return gx_notify_demand_changed(b, d, type, NULL, 0);
}

/* gx_fedapply_one's names for the two kinds. */
static gx_err s_demand(gx_ctx *b, gx_fed_msg *m, uint64_t id, bool *dup)
{
    return s_posting(b, m, id, dup);
}

static gx_err s_offer(gx_ctx *b, gx_fed_msg *m, uint64_t id, bool *dup)
{
    return s_posting(b, m, id, dup);
}

/* Records seq as applied in a child transaction of its own (after a skip). */
static gx_err s_mark(gx_ctx *b, const char *stream, uint64_t seq)
{
    gx_err err = gx_records_write_begin(b);
    if (!err)
        err = gx_records_fed_applied_put(b, stream, seq);
    return gx_records_write_end(b, err);
}

gx_fedapply_rc gx_fedapply_one(gx_ctx *b, const char *stream, uint64_t seq, const char *subject,
                               const void *data, size_t len)
{
    gx_fed_msg m = {0};
    s_why w = {{0}};
    uint64_t applied = 0;
    gx_fedapply_rc rc = GX_FEDAPPLY_APPLIED;
    gx_err err = gx_records_fed_applied_get(b, stream, &applied);
    if (err) {
        gx_log(GX_LOG_ERR, "federation: cannot read the applied sequence of %s: %s", stream, gx_err_str(err));
        return GX_FEDAPPLY_FAILED;
    }
    if (seq <= applied) {
        b->fed.duplicates++;
        return GX_FEDAPPLY_DUPLICATE;
    }
    /* The consumer delivers every stream sequence (its own city's too); one
     * beyond the next is a redelivery's reordering or a fetch partly lost:
     * applying it would move applied past the missing ones, lost for ever. */
    if (seq > applied + 1) {
        gx_log(GX_LOG_DEBUG, "federation: %s seq %llu before %llu: not yet, it comes again", stream,
               (unsigned long long)seq, (unsigned long long)applied + 1);
        return GX_FEDAPPLY_EARLY;
    }
    if ((err = gx_codec_decode_fed(data, len, &m))) {
        snprintf(w.text, sizeof w.text, "%zu bytes that are not a FedMessage", len);
        goto bad;
    }
    if (!s_check(b, &m, subject, &w))
        goto bad;
    if (m.origin_city == b->fed.city) {
        b->fed.own++;
        rc = GX_FEDAPPLY_OWN;
        goto mark;
    }
    bool dup = false;
    if (m.kind >= GX_FED_INTEREST) { /* docking (feddock.h): for one city */
        if (m.dest_city && m.dest_city != b->fed.city) { /* another city's: skipped, counted as own */
            b->fed.own++;
            rc = GX_FEDAPPLY_OWN;
            goto mark;
        }
        if ((err = gx_records_write_begin(b)))
            goto failed;
        if (!(err = gx_feddock_apply(b, &m, &dup, w.text, sizeof w.text)))
            err = gx_records_fed_applied_put(b, stream, seq);
        gx_err derr = gx_records_write_end(b, err);
        if (derr == GX_ERR_STORAGE_FULL || derr == GX_ERR_IO || derr == GX_ERR_NOMEM) {
            err = derr;
            goto failed;
        }
        if (derr) {
            if (!w.text[0])
                snprintf(w.text, sizeof w.text, "could not be applied: %s", gx_err_str(derr));
            goto bad;
        }
        if (dup)
            b->fed.duplicates++;
        else
            b->fed.applied++;
        gx_log(GX_LOG_DEBUG,
               "federation: applied %s seq %llu: city %u docking kind %u about demand %llu and %s%s", stream,
               (unsigned long long)seq, m.origin_city, m.kind, (unsigned long long)m.origin_id, m.firm_id,
               dup ? " (already had it)" : "");
        gx_codec_fed_fini(&m);
        return dup ? GX_FEDAPPLY_DUPLICATE : GX_FEDAPPLY_APPLIED;
    }
    uint64_t id = ((uint64_t)m.origin_city << GX_FED_ID_SHIFT) | m.origin_id;
    unsigned home = 0;
    if ((err = gx_records_write_begin(b)))
        goto failed;
    if (m.kind == GX_FED_DEMAND) /* the details a docking released here stay with the copy */
        err = gx_feddock_keep_details(b, &m, id);
    /* an old revision must not bring back its owner's old profile either */
    if (!err && m.kind != GX_FED_FIRM && (err = s_known_stale(b, &m, id, &dup)) == GX_OK && dup)
        err = gx_records_fed_applied_put(b, stream, seq);
    else if (!err)
        err = s_owner(b, m.owner, (uint16_t)m.origin_city, &home,
                      m.kind == GX_FED_FIRM || m.state == GX_STATE_OPEN);
    if (!dup) {
        if (!err && m.kind == GX_FED_DEMAND)
            err = s_demand(b, &m, id, &dup);
        else if (!err && m.kind == GX_FED_OFFER)
            err = s_offer(b, &m, id, &dup);
        if (!err)
            err = gx_records_fed_applied_put(b, stream, seq);
    }
    gx_err werr = gx_records_write_end(b, err);
    if (err == GX_ERR_CONFLICT) {
        if (home)
            snprintf(w.text, sizeof w.text, "firm %s is city %u's, not city %u's", m.owner->id, home,
                     m.origin_city);
        else
            snprintf(w.text, sizeof w.text, "firm %s is this broker's own, not city %u's", m.owner->id,
                     m.origin_city);
        goto bad;
    }
    if (werr == GX_ERR_STORAGE_FULL || werr == GX_ERR_IO || werr == GX_ERR_NOMEM)
        goto failed;
    if (werr) {
        snprintf(w.text, sizeof w.text, "could not be applied: %s", gx_err_str(werr));
        goto bad;
    }
    if (dup) {
        b->fed.duplicates++;
        rc = GX_FEDAPPLY_DUPLICATE;
    } else {
        b->fed.applied++;
    }
    gx_log(GX_LOG_DEBUG, "federation: applied %s seq %llu: city %u %s %llu revision %u %s%s", stream,
           (unsigned long long)seq, m.origin_city,
           m.kind == GX_FED_DEMAND  ? "demand"
           : m.kind == GX_FED_OFFER ? "offer"
                                    : "firm",
           (unsigned long long)(m.kind == GX_FED_FIRM ? 0 : id), m.revision, gx_state_name(m.state),
           dup ? " (already had it)" : "");
    gx_codec_fed_fini(&m);
    return rc;
bad:
    b->fed.bad++;
    rc = GX_FEDAPPLY_BAD;
    gx_log(GX_LOG_WARNING, "federation: skipped %s seq %llu (subject %s): %s", stream,
           (unsigned long long)seq, subject ? subject : "-", w.text);
mark:
    gx_codec_fed_fini(&m);
    if (s_mark(b, stream, seq))
        return GX_FEDAPPLY_FAILED;
    return rc;
failed:
    gx_codec_fed_fini(&m);
    gx_log(GX_LOG_ERR, "federation: %s seq %llu not applied: %s (%s); it comes again", stream,
           (unsigned long long)seq, gx_err_str(err), gx_store_last_error(b->store));
    return GX_FEDAPPLY_FAILED;
}
