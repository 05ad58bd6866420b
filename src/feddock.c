/* feddock.c — docking across cities (feddock.h). */
#include "feddock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedseal.h"
#include "log.h"
#include "msg.h"
#include "notify.h"

/* ---- the docking record (GX_T_DOCKING): state (1 byte), offer id (8, BE) as
 * requests.c writes it, then what only a docking across cities needs: flags
 * (1 byte, S_CONTACTED) and the demand revision of the last award told (4, BE). */

enum { S_CONTACTED = 1 }; /* the counterpart's contact arrived (the anchor's city) */

typedef struct s_dock {
    int state;          /* GX_DOCK_*; 0: no record */
    uint64_t offer_id;  /* the SME's offer (this broker's id), 0: none */
    uint8_t flags;      /* S_* */
    uint32_t award_rev; /* the demand's revision after the last award told (the SME's city) */
} s_dock;

static void s_key(uint8_t k[8 + GX_FIRM_ID_LEN], uint64_t demand_id, const char *firm)
{
    gx_store_be64(k, demand_id);
    memcpy(k + 8, firm, GX_FIRM_ID_LEN);
}

static gx_err s_dock_get(gx_ctx *b, uint64_t demand_id, const char *firm, s_dock *r)
{
    uint8_t k[8 + GX_FIRM_ID_LEN];
    const void *v;
    size_t vl;
    memset(r, 0, sizeof *r);
    s_key(k, demand_id, firm);
    gx_err err = gx_store_get(gx_records_txn(b), GX_T_DOCKING, k, sizeof k, &v, &vl);
    if (err == GX_ERR_NOT_FOUND)
        return GX_OK;
    if (err)
        return err;
    const uint8_t *p = v;
    if (vl < 9)
        return GX_ERR_MALFORMED;
    r->state = p[0];
    r->offer_id = gx_store_from_be64(p + 1);
    if (vl >= 14) {
        r->flags = p[9];
        r->award_rev = (uint32_t)p[10] << 24 | (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 | p[13];
    }
    return GX_OK;
}

static gx_err s_dock_put(gx_ctx *b, uint64_t demand_id, const char *firm, const s_dock *r)
{
    uint8_t k[8 + GX_FIRM_ID_LEN], v[14];
    s_key(k, demand_id, firm);
    v[0] = (uint8_t)r->state;
    gx_store_be64(v + 1, r->offer_id);
    v[9] = r->flags;
    v[10] = (uint8_t)(r->award_rev >> 24);
    v[11] = (uint8_t)(r->award_rev >> 16);
    v[12] = (uint8_t)(r->award_rev >> 8);
    v[13] = (uint8_t)r->award_rev;
    return gx_store_put(b->child, GX_T_DOCKING, k, sizeof k, v, sizeof v);
}

/* ---- keys */

gx_err gx_feddock_ensure_key(gx_ctx *b)
{
    uint8_t kp[2 * GX_FEDSEAL_KEY];
    gx_err err = gx_records_write_begin(b);
    if (err)
        return gx_records_write_end(b, err);
    err = gx_records_fed_key_get(b, 0, kp, sizeof kp);
    if (err == GX_ERR_NOT_FOUND) {
        if (!(err = gx_fedseal_keypair(kp, kp + GX_FEDSEAL_KEY)) &&
            !(err = gx_records_fed_key_put(b, 0, kp, sizeof kp))) {
            gx_fed_msg m = {.origin_city = b->fed.city, .kind = GX_FED_CITY_KEY, .has_key = true};
            memcpy(m.public_key, kp, GX_FEDSEAL_KEY);
            err = gx_records_fed_outbox_put(b, &m);
            if (!err)
                gx_log(GX_LOG_INFO, "federation: made this broker's key pair for docking; announcing it");
        }
    }
    err = gx_records_write_end(b, err);
    if (!err)
        b->fed.keyed = true;
    return err;
}

bool gx_feddock_can_send(gx_ctx *b, unsigned city, char *why, size_t len)
{
    uint8_t pk[GX_FEDSEAL_KEY];
    gx_err err = gx_records_fed_key_get(b, city, pk, sizeof pk);
    if (!err)
        return true;
    if (err == GX_ERR_NOT_FOUND)
        snprintf(why, len, "city %u's broker has not announced its key yet; try again in a while", city);
    else
        snprintf(why, len, "city %u's key cannot be read: %s", city, gx_err_str(err));
    return false;
}

gx_err gx_feddock_send(gx_ctx *b, uint32_t kind, unsigned dest, uint64_t demand_id, const char *firm,
                       uint64_t offer_id, const gx_fed_sealed *s, double quantity, gx_state state,
                       uint32_t revision)
{
    uint8_t pk[GX_FEDSEAL_KEY];
    gx_buf plain = {0}, box = {0};
    gx_firm sme = {0};
    /* In clear only what routes it (the cities, the demand, its state):
     * who docks with whom, with which offer and how much is sealed, bound
     * to this message by its kind, cities and demand (s_bound). */
    gx_fed_msg m = {.origin_city = b->fed.city,
                    .kind = kind,
                    .origin_id = demand_id & (GX_FED_LOCAL_MAX - 1),
                    .dest_city = dest,
                    .state = state,
                    .revision = revision};
    gx_fed_sealed seal = {0};
    if (s)
        seal = *s; /* borrowed */
    seal.kind = kind;
    seal.origin_city = m.origin_city;
    seal.dest_city = dest;
    seal.demand_id = m.origin_id;
    snprintf(seal.firm_id, sizeof seal.firm_id, "%s", firm);
    seal.offer_id = offer_id;
    seal.quantity = quantity;
    seal.profile = NULL;
    gx_err err = gx_records_fed_key_get(b, dest, pk, sizeof pk);
    if (err)
        goto out;
    if (kind == GX_FED_INTEREST) {
        if ((err = gx_records_get_firm(b, firm, &sme)))
            goto out;
        seal.profile = &sme; /* its public profile: the codec leaves its contact out */
    }
    if ((err = gx_codec_encode_fed_sealed(&seal, &plain)) ||
        (err = gx_fedseal_seal(pk, plain.data, plain.len, &box)))
        goto out;
    m.sealed = box.data;
    m.sealed_len = box.len;
    err = gx_records_fed_outbox_put(b, &m);
out:
    if (plain.data)
        memset(plain.data, 0, plain.len);
    gx_buf_fini(&plain);
    gx_buf_fini(&box);
    gx_firm_fini(&sme);
    return err;
}

/* ---- applying */

bool gx_feddock_check(const gx_fed_msg *m, char *why, size_t len)
{
    if (m->kind == GX_FED_CITY_KEY) {
        if (!m->has_key) {
            snprintf(why, len, "a city key message without a 32-byte key");
            return false;
        }
        return true;
    }
    if (m->dest_city < 1000 || m->dest_city > 9999 || m->dest_city == m->origin_city) {
        snprintf(why, len, "docking message for city %u", m->dest_city);
        return false;
    }
    if (m->origin_id == 0 || m->origin_id >= GX_FED_LOCAL_MAX) {
        snprintf(why, len, "demand id %llu is out of range (1 .. 2^48-1)", (unsigned long long)m->origin_id);
        return false;
    }
    if (!m->sealed) {
        snprintf(why, len, "docking message without its sealed part");
        return false;
    }
    if (m->kind == GX_FED_AWARDED && m->revision == 0) {
        snprintf(why, len, "award without the demand's revision");
        return false;
    }
    return true;
}

bool gx_feddock_check_sealed(const gx_fed_msg *m, const gx_fed_sealed *s, char *why, size_t len)
{
    /* a box copied from another message (another city's, another kind or demand) */
    if (s->kind != m->kind || s->origin_city != m->origin_city || s->dest_city != m->dest_city ||
        s->demand_id != m->origin_id) {
        snprintf(why, len, "its sealed part belongs to another message (kind %u, city %u to %u, demand %llu)",
                 s->kind, s->origin_city, s->dest_city, (unsigned long long)s->demand_id);
        return false;
    }
    if (!s->firm_id[0]) {
        snprintf(why, len, "docking message without its firm");
        return false;
    }
    if (s->offer_id >= GX_FED_LOCAL_MAX) {
        snprintf(why, len, "offer id %llu is out of range (0 .. 2^48-1)", (unsigned long long)s->offer_id);
        return false;
    }
    if (m->kind == GX_FED_INTEREST) {
        char city[5];
        snprintf(city, sizeof city, "%u", m->origin_city);
        if (!s->profile || strcmp(s->profile->id, s->firm_id) != 0) {
            snprintf(why, len, "interest of %s without its profile", s->firm_id);
            return false;
        }
        if (strncmp(s->profile->county, city, 4) != 0) {
            snprintf(why, len, "firm %s (county %s) is not in city %u", s->profile->id, s->profile->county,
                     m->origin_city);
            return false;
        }
    }
    if (m->kind == GX_FED_AWARDED && !(s->quantity > 0)) {
        snprintf(why, len, "award of %g", s->quantity);
        return false;
    }
    return true;
}

/* A sealed part is checked against the same caps as the rest of a FedMessage
 * (codec.h), not this broker's own limits: whatever the sender's city
 * accepted (its max_text_bytes may be larger than ours) must open here. */
static const gx_limits s_caps = {GX_FED_MAX_STRING, GX_FED_MAX_TEXT, GX_FED_MAX_REPEATED};

/* Opens m's sealed part with this broker's key pair. */
static gx_err s_open(gx_ctx *b, const gx_fed_msg *m, gx_fed_sealed *out, char *why, size_t len)
{
    uint8_t kp[2 * GX_FEDSEAL_KEY];
    gx_buf plain = {0};
    memset(out, 0, sizeof *out);
    gx_err err = gx_records_fed_key_get(b, 0, kp, sizeof kp);
    if (err == GX_ERR_NOT_FOUND) {
        snprintf(why, len, "this broker has no key pair to open it");
        return GX_ERR_INVALID;
    }
    if (err)
        return err;
    err = gx_fedseal_open(kp, kp + GX_FEDSEAL_KEY, m->sealed, m->sealed_len, &plain);
    if (err == GX_ERR_MALFORMED) {
        snprintf(why, len, "its sealed part does not open with this broker's key");
        return GX_ERR_INVALID;
    }
    if (!err && (err = gx_codec_decode_fed_sealed(plain.data, plain.len, &s_caps, out)) == GX_ERR_MALFORMED) {
        snprintf(why, len, "its sealed part is not a FedSealed");
        err = GX_ERR_INVALID;
    }
    if (plain.data)
        memset(plain.data, 0, plain.len);
    gx_buf_fini(&plain);
    return err;
}

/* The firm id, which must be this broker's own (the SME of an answer or an award). */
static gx_err s_own_firm(gx_ctx *b, const char *id, gx_firm *f, char *why, size_t len)
{
    gx_err err = gx_records_get_firm(b, id, f);
    if (err == GX_ERR_NOT_FOUND || (!err && f->home_city)) {
        snprintf(why, len, "firm %s is not this broker's", id);
        return GX_ERR_INVALID;
    }
    return err;
}

/* Puts firm f as this broker holds it now into the store and the engine (a
 * remote firm's contact released by docking). */
static gx_err s_put_firm(gx_ctx *b, const gx_firm *f)
{
    gx_err err = gx_records_put_firm(b, f);
    if (err)
        return err;
    b->engine_touched = true;
    b->fx.n = 0;
    if (!(err = gx_engine_put_firm(b->engine, f, b->now, &b->fx)))
        err = gx_notify_effects(b, &b->fx);
    return err;
}

/* Declines the interest of m's SME in this broker's demand did itself (the
 * demand closed, or no longer open to the SME's city): records it declined
 * here, so that a copy changes nothing, and tells the SME's broker, whose SME
 * is told why in its own language. */
static gx_err s_refuse(gx_ctx *b, const gx_fed_msg *m, uint64_t did, uint32_t reason)
{
    char why[160];
    s_dock r = {.state = GX_DOCK_DECLINED};
    gx_err err = s_dock_put(b, did, m->firm_id, &r);
    if (err)
        return err;
    gx_log(GX_LOG_INFO, "federation: city %u's interest in demand %llu declined here: %s", m->origin_city,
           (unsigned long long)did,
           reason == GX_FED_REASON_CLOSED ? "the demand closed" : "it no longer crosses");
    if (!gx_feddock_can_send(b, m->origin_city, why, sizeof why)) {
        gx_log(GX_LOG_WARNING, "federation: cannot answer city %u: %s", m->origin_city, why);
        return GX_OK;
    }
    gx_fed_sealed s = {.reason = reason};
    return gx_feddock_send(b, GX_FED_DECLINED, m->origin_city, did, m->firm_id, 0, &s, 0, GX_STATE_NONE, 0);
}

/* The SME's interest in this broker's demand (from the SME's home city). */
static gx_err s_interest(gx_ctx *b, gx_fed_msg *m, const gx_fed_sealed *s, bool *dup, char *why, size_t len)
{
    uint64_t did = m->origin_id;
    gx_firm cur = {0};
    gx_demand rec = {0};
    s_dock r;
    gx_explain *x = NULL;
    gx_err err;
    if ((err = gx_records_get_firm(b, m->firm_id, &cur)) && err != GX_ERR_NOT_FOUND)
        return err;
    bool known = err == GX_OK;
    if (known && cur.home_city != m->origin_city) {
        snprintf(why, len, "firm %s is %s, not city %u's", m->firm_id,
                 cur.home_city ? "another city's" : "this broker's", m->origin_city);
        err = GX_ERR_INVALID;
        goto out;
    }
    if ((err = s_dock_get(b, did, m->firm_id, &r)))
        goto out;
    if (r.state) {
        *dup = true; /* a copy: the record is pending or answered already */
        goto out;
    }
    const gx_demand *d = gx_engine_demand(b->engine, did);
    if (!d) { /* closed since the SME's city saw it open: declined, not lost */
        if ((err = gx_records_get_demand(b, did, &rec)) == GX_ERR_NOT_FOUND) {
            snprintf(why, len, "interest in demand %llu, which is not known here", (unsigned long long)did);
            err = GX_ERR_INVALID;
        }
        if (!err)
            err = s_refuse(b, m, did, GX_FED_REASON_CLOSED);
        goto out;
    }
    if (!gx_records_fed_crosses(d->scope)) { /* narrowed to this city since */
        err = s_refuse(b, m, did, GX_FED_REASON_NOT_CROSSING);
        goto out;
    }
    uint64_t oid = m->offer_id ? ((uint64_t)m->origin_city << GX_FED_ID_SHIFT) | m->offer_id : 0;
    const gx_offer *o = oid ? gx_engine_offer(b->engine, oid) : NULL;
    if (o && strcmp(o->owner, m->firm_id) != 0) {
        snprintf(why, len, "interest of %s with offer %llu, which is %s's", m->firm_id,
                 (unsigned long long)oid, o->owner);
        err = GX_ERR_INVALID;
        goto out;
    }
    if (!o)
        oid = 0;  /* an offer that does not cross: the record names none */
    if (!known) { /* its public profile, as a posting's owner would be */
        m->owner->home_city = m->origin_city;
        free(m->owner->contact);
        m->owner->contact = NULL;
        if ((err = s_put_firm(b, m->owner)))
            goto out;
    }
    d = gx_engine_demand(b->engine, did);
    if (!d) { /* s_put_firm cannot close it, but be sure */
        snprintf(why, len, "demand %llu closed", (unsigned long long)did);
        err = GX_ERR_INVALID;
        goto out;
    }
    if (oid && (x = malloc(sizeof *x)) && gx_engine_explain(b->engine, did, oid, b->now, x) != GX_OK) {
        free(x);
        x = NULL;
    }
    r = (s_dock){.state = GX_DOCK_PENDING, .offer_id = oid};
    if ((err = s_dock_put(b, did, m->firm_id, &r)))
        goto out;
    gx_notice n = {.type = GX_N_INTEREST_RECEIVED,
                   .demand_id = did,
                   .offer_id = oid,
                   .firm = gx_engine_firm(b->engine, m->firm_id),
                   .text = s->text,
                   .expl = x};
    err = gx_notify_send(b, d->owner, &n);
out:
    free(x);
    gx_demand_fini(&rec);
    gx_firm_fini(&cur);
    return err;
}

/* Stores the confidential details released to this broker in its copy of the demand. */
static gx_err s_keep(gx_ctx *b, uint64_t id, const char *details)
{
    gx_demand d = {0}, copy = {0};
    gx_err err = gx_records_get_demand(b, id, &d);
    if (err == GX_ERR_NOT_FOUND || !details || !details[0])
        return GX_OK;
    if (err)
        return err;
    if (d.details && strcmp(d.details, details) == 0)
        goto out;
    free(d.details);
    if (!(d.details = strdup(details))) {
        err = GX_ERR_NOMEM;
        goto out;
    }
    if ((err = gx_records_put_demand(b, &d)))
        goto out;
    if (gx_engine_demand(b->engine, id)) {
        b->engine_touched = true;
        b->fx.n = 0;
        if (!(err = gx_demand_copy(&copy, &d)) &&
            !(err = gx_engine_update_demand(b->engine, &copy, b->now, &b->fx)))
            err = gx_notify_effects(b, &b->fx);
    }
out:
    gx_demand_fini(&copy);
    gx_demand_fini(&d);
    return err;
}

/* The counterpart's contact, released by docking, kept in this broker's
 * stored copy of it (f: that copy, with the contact, for the notice). Not in
 * the engine: nothing matches on a contact, and putting the firm there would
 * re-match all its postings (the notices' firm checksum leaves contacts out). */
static gx_err s_contact(gx_ctx *b, const char *id, const gx_fed_sealed *s, gx_firm *f)
{
    gx_err err = gx_records_get_firm(b, id, f);
    if (err == GX_ERR_NOT_FOUND || !s->contact || !s->contact[0])
        return err == GX_ERR_NOT_FOUND ? GX_OK : err;
    if (!err && (!f->contact || strcmp(f->contact, s->contact) != 0)) {
        free(f->contact);
        if (!(f->contact = strdup(s->contact)))
            err = GX_ERR_NOMEM;
        else
            err = gx_records_put_firm(b, f);
    }
    return err;
}

/* The demand's city answered this broker's SME (accepted, declined) or awarded it. */
static gx_err s_answer(gx_ctx *b, gx_fed_msg *m, const gx_fed_sealed *sp, bool *dup, char *why, size_t len)
{
    uint64_t did = ((uint64_t)m->origin_city << GX_FED_ID_SHIFT) | m->origin_id;
    gx_firm sme = {0}, anchor = {0};
    gx_demand d = {0};
    const gx_fed_sealed s = *sp; /* borrowed */
    char reason[256];
    s_dock r;
    gx_err err = s_own_firm(b, m->firm_id, &sme, why, len);
    if (err)
        goto out;
    if ((err = gx_records_get_demand(b, did, &d)) == GX_ERR_NOT_FOUND) {
        snprintf(why, len, "demand %llu is not known here", (unsigned long long)did);
        err = GX_ERR_INVALID;
    }
    if (err || (err = s_dock_get(b, did, m->firm_id, &r)))
        goto out;
    int want = m->kind == GX_FED_ACCEPTED   ? GX_DOCK_ACCEPTED
               : m->kind == GX_FED_DECLINED ? GX_DOCK_DECLINED
                                            : 0;
    if (m->kind == GX_FED_AWARDED) {
        if (r.state != GX_DOCK_ACCEPTED) {
            snprintf(why, len, "award of demand %llu to %s, whose interest was not accepted",
                     (unsigned long long)did, m->firm_id);
            err = GX_ERR_INVALID;
        } else if (m->revision <= r.award_rev) {
            *dup = true;
        }
        if (err || *dup)
            goto out;
    } else if (r.state == want) {
        *dup = true; /* a copy of the answer already applied */
        goto out;
    } else if (r.state != GX_DOCK_PENDING) {
        snprintf(why, len, "%s for %s on demand %llu, whose interest is %s",
                 m->kind == GX_FED_ACCEPTED ? "accepted" : "declined", m->firm_id, (unsigned long long)did,
                 r.state ? (r.state == GX_DOCK_ACCEPTED ? "accepted" : "declined") : "not expressed");
        err = GX_ERR_INVALID;
        goto out;
    }
    if (m->kind == GX_FED_DECLINED) {
        r.state = GX_DOCK_DECLINED;
        const char *text = s.text;
        if (s.reason) /* the demand's broker declined itself: why, in the SME's language */
            text = gx_msg(reason, sizeof reason, (gx_lang)sme.lang,
                          s.reason == GX_FED_REASON_CLOSED ? "server.docking.demand_closed"
                                                           : "server.docking.not_crossing",
                          NULL);
        gx_notice n = {.type = GX_N_INTEREST_DECLINED, .demand_id = did, .text = text};
        if (!(err = s_dock_put(b, did, m->firm_id, &r)))
            err = gx_notify_send(b, m->firm_id, &n);
    } else if (m->kind == GX_FED_ACCEPTED) {
        r.state = GX_DOCK_ACCEPTED;
        if ((err = s_dock_put(b, did, m->firm_id, &r)) || (err = s_keep(b, did, s.details)) ||
            (err = s_contact(b, d.owner, &s, &anchor)))
            goto out;
        const gx_firm *af = anchor.id[0] ? &anchor : gx_engine_firm(b->engine, d.owner);
        gx_notice n = {.type = GX_N_DETAILS_RELEASED, .demand_id = did, .firm = af};
        if ((err = gx_notify_send(b, m->firm_id, &n)))
            goto out;
        /* and the SME's contact to the anchor's broker, sealed, in this transaction */
        gx_fed_sealed mine = {.name = sme.name, .contact = sme.contact};
        err = gx_feddock_send(b, GX_FED_CONTACT, m->origin_city, did, m->firm_id, 0, &mine, 0, GX_STATE_NONE,
                              0);
        if (err == GX_ERR_NOT_FOUND) {
            snprintf(why, len, "city %u's key is not known here: the contact cannot be sealed to it",
                     m->origin_city);
            err = GX_ERR_INVALID;
        }
    } else { /* awarded: the SME's home city keeps its track record */
        r.award_rev = m->revision;
        sme.awards++;
        if ((err = s_dock_put(b, did, m->firm_id, &r)) || (err = gx_records_put_firm(b, &sme)))
            goto out;
        b->engine_touched = true;
        gx_engine_count_award(b->engine, sme.id);
        bool have = gx_records_get_firm(b, d.owner, &anchor) == GX_OK;
        gx_notice n = {.type = GX_N_DEMAND_AWARDED,
                       .demand = &d,
                       .demand_firm = have ? &anchor : NULL,
                       .awarded_to = sme.id,
                       .awarded_quantity = m->quantity};
        if ((err = gx_notify_send(b, sme.id, &n)))
            goto out;
        if (m->state != GX_STATE_OPEN) {
            /* Wholly awarded: the demand's closing (the posting message after this
             * one) tells the others; this SME was told here, with its award. */
            uint8_t k[8 + GX_FIRM_ID_LEN];
            s_key(k, did, sme.id);
            if ((err = gx_store_del(b->child, GX_T_TOLD, k, sizeof k)) == GX_ERR_NOT_FOUND)
                err = GX_OK;
        }
    }
out:
    gx_demand_fini(&d);
    gx_firm_fini(&sme);
    gx_firm_fini(&anchor);
    return err;
}

/* The SME's contact, after this broker's anchor accepted it (from the SME's home city). */
static gx_err s_contacted(gx_ctx *b, gx_fed_msg *m, const gx_fed_sealed *s, bool *dup, char *why, size_t len)
{
    uint64_t did = m->origin_id;
    gx_firm sme = {0};
    gx_demand d = {0};
    s_dock r;
    gx_err err = gx_records_get_firm(b, m->firm_id, &sme);
    if (err == GX_ERR_NOT_FOUND || (!err && sme.home_city != m->origin_city)) {
        snprintf(why, len, "contact of %s, which is not city %u's firm here", m->firm_id, m->origin_city);
        err = GX_ERR_INVALID;
    }
    if (err || (err = gx_records_get_demand(b, did, &d)) == GX_ERR_NOT_FOUND) {
        if (err == GX_ERR_NOT_FOUND) {
            snprintf(why, len, "demand %llu is not known here", (unsigned long long)did);
            err = GX_ERR_INVALID;
        }
        goto out;
    }
    if (err || (err = s_dock_get(b, did, m->firm_id, &r)))
        goto out;
    if (r.state != GX_DOCK_ACCEPTED) {
        snprintf(why, len, "contact of %s for demand %llu, whose interest was not accepted", m->firm_id,
                 (unsigned long long)did);
        err = GX_ERR_INVALID;
        goto out;
    }
    if (r.flags & S_CONTACTED) {
        *dup = true;
        goto out;
    }
    r.flags |= S_CONTACTED;
    gx_firm kept = {0};
    if ((err = s_dock_put(b, did, m->firm_id, &r)) || (err = s_contact(b, m->firm_id, s, &kept))) {
        gx_firm_fini(&kept);
        goto out;
    }
    gx_notice n = {.type = GX_N_DETAILS_RELEASED,
                   .demand_id = did,
                   .firm = kept.id[0] ? &kept : gx_engine_firm(b->engine, m->firm_id)};
    err = gx_notify_send(b, d.owner, &n);
    gx_firm_fini(&kept);
out:
    gx_demand_fini(&d);
    gx_firm_fini(&sme);
    return err;
}

static gx_err s_city_key(gx_ctx *b, const gx_fed_msg *m, bool *dup)
{
    uint8_t pk[GX_FEDSEAL_KEY];
    gx_err err = gx_records_fed_key_get(b, m->origin_city, pk, sizeof pk);
    if (!err && memcmp(pk, m->public_key, sizeof pk) == 0) {
        *dup = true;
        return GX_OK;
    }
    if (err && err != GX_ERR_NOT_FOUND && err != GX_ERR_MALFORMED)
        return err;
    gx_log(GX_LOG_INFO, "federation: city %u's broker announced its key%s", m->origin_city,
           err ? "" : " (a new one: it replaces the old)");
    return gx_records_fed_key_put(b, m->origin_city, m->public_key, sizeof pk);
}

gx_err gx_feddock_apply(gx_ctx *b, gx_fed_msg *m, bool *dup, char *why, size_t len)
{
    *dup = false;
    if (m->kind == GX_FED_CITY_KEY)
        return s_city_key(b, m, dup);
    if (m->kind < GX_FED_INTEREST || m->kind > GX_FED_AWARDED) {
        snprintf(why, len, "unknown docking kind %u", m->kind);
        return GX_ERR_INVALID;
    }
    /* The box first: who docks with whom is only inside it, and it must be
     * this message's own (a copy of another message's box is refused). */
    gx_fed_sealed s;
    gx_err err = s_open(b, m, &s, why, len);
    if (err)
        return err;
    if (!gx_feddock_check_sealed(m, &s, why, len)) {
        err = GX_ERR_INVALID;
        goto out;
    }
    memcpy(m->firm_id, s.firm_id, sizeof m->firm_id);
    m->offer_id = s.offer_id;
    m->quantity = s.quantity;
    if (m->owner) { /* anything in clear is not taken */
        gx_firm_fini(m->owner);
        free(m->owner);
    }
    m->owner = s.profile;
    s.profile = NULL;
    switch (m->kind) {
    case GX_FED_INTEREST:
        err = s_interest(b, m, &s, dup, why, len);
        break;
    case GX_FED_CONTACT:
        err = s_contacted(b, m, &s, dup, why, len);
        break;
    default:
        err = s_answer(b, m, &s, dup, why, len);
        break;
    }
out:
    gx_codec_fed_sealed_fini(&s);
    return err;
}

gx_err gx_feddock_keep_details(gx_ctx *b, gx_fed_msg *m, uint64_t id)
{
    if (m->kind != GX_FED_DEMAND || !m->demand || (m->demand->details && m->demand->details[0]))
        return GX_OK;
    gx_demand old = {0};
    gx_err err = gx_records_get_demand(b, id, &old);
    if (!err && old.details && old.details[0]) {
        free(m->demand->details);
        m->demand->details = old.details;
        old.details = NULL;
    }
    gx_demand_fini(&old);
    return err == GX_ERR_NOT_FOUND ? GX_OK : err;
}
