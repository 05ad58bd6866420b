/* codec.c — protobuf-c <-> domain structs. See codec.h. */
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gongxu/keyfile.h>

#include "gongxu/v1/gongxu.pb-c.h"
#include "msg.h"

typedef Gongxu__V1__Envelope s_env;

void gx_buf_fini(gx_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void gx_request_fini(gx_request *r)
{
    gx_firm_fini(&r->firm);
    gx_demand_fini(&r->demand);
    gx_offer_fini(&r->offer);
    gx_sub_fini(&r->sub);
    free(r->text);
    free(r->stats.district);
    free(r->stats.industry);
    memset(r, 0, sizeof *r);
}

const char *gx_req_name(gx_req_type t)
{
    static const char *const names[] = {
        "none",       "hello",         "register_firm", "get_firm",      "post_demand",
        "post_offer", "update_demand", "update_offer",  "withdraw",      "subscribe",
        "interest",   "accept",        "decline",       "award",         "ack",
        "resume",     "get_shortlist", "get_posting",   "list_postings", "get_stats",
        "ping",       "register_key",  "revoke_key",    "backup",        "find_codes"};
    return (t >= 0 && t < GX_REQ__COUNT) ? names[t] : "?";
}

/* ------------------------------------------------------------------ decoding */

/* Where a decode error goes. */
typedef struct s_dec {
    const gx_limits *lim; /* caps; NULL for stored records */
    char *msg;            /* error message buffer */
    size_t msglen;
    char *field;          /* offending field buffer, may be NULL */
    size_t fieldlen;
} s_dec;

static gx_err s_fail(s_dec *d, gx_err err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gx_err s_fail(s_dec *d, gx_err err, const char *field, const char *fmt, ...)
{
    if (d->msg && d->msglen) {
        int n = snprintf(d->msg, d->msglen, "%s: ", field);
        if (n >= 0 && (size_t)n < d->msglen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(d->msg + n, d->msglen - (size_t)n, fmt, ap);
            va_end(ap);
        }
        d->msg[gx_utf8_valid_prefix(d->msg, strlen(d->msg))] = 0; /* never cut inside a character */
    }
    if (d->field && d->fieldlen)
        snprintf(d->field, d->fieldlen, "%s", field);
    return err;
}

/* Copies src (may be NULL) into *dst; empty strings stay NULL. */
static gx_err s_str(s_dec *d, const char *src, bool text, const char *field, char **dst)
{
    *dst = NULL;
    if (!src || !*src)
        return GX_OK;
    size_t n = strlen(src);
    size_t cap = !d->lim ? (size_t)-1 : text ? d->lim->max_text : d->lim->max_string;
    if (n > cap)
        return s_fail(d, GX_ERR_TOO_LARGE, field, "%zu bytes, limit %zu", n, cap);
    if (!gx_utf8_valid(src, n)) /* it would be stored and sent to other firms' clients */
        return s_fail(d, GX_ERR_INVALID, field, "not valid UTF-8");
    *dst = strdup(src);
    return *dst ? GX_OK : GX_ERR_NOMEM;
}

static gx_err s_count(s_dec *d, size_t n, const char *field)
{
    if (d->lim && n > d->lim->max_repeated)
        return s_fail(d, GX_ERR_TOO_LARGE, field, "%zu entries, limit %zu", n, d->lim->max_repeated);
    return GX_OK;
}

static gx_err s_strv(s_dec *d, char **src, size_t n, const char *field, gx_strv *dst)
{
    gx_err err = s_count(d, n, field);
    for (size_t i = 0; !err && i < n; i++) {
        size_t len = strlen(src[i]);
        if (d->lim && len > d->lim->max_string) {
            char f[96];
            snprintf(f, sizeof f, "%s[%zu]", field, i);
            return s_fail(d, GX_ERR_TOO_LARGE, f, "%zu bytes, limit %zu", len, d->lim->max_string);
        }
        if (!len || !gx_utf8_valid(src[i], len)) {
            char f[96];
            snprintf(f, sizeof f, "%s[%zu]", field, i);
            return s_fail(d, GX_ERR_INVALID, f, len ? "not valid UTF-8" : "empty string");
        }
        err = gx_strv_push(dst, src[i]);
    }
    return err;
}

static gx_err s_num(s_dec *d, double v, const char *field)
{
    if (!isfinite(v))
        return s_fail(d, GX_ERR_INVALID, field, "not a finite number");
    if (v < 0)
        return s_fail(d, GX_ERR_INVALID, field, "%g is negative", v);
    return GX_OK;
}

static gx_err s_enum(s_dec *d, int v, int max, const char *field)
{
    if (v < 0 || v > max)
        return s_fail(d, GX_ERR_INVALID, field, "%d is not a known value", v);
    return GX_OK;
}

static gx_err s_date(s_dec *d, const char *s, const char *field, int32_t *out)
{
    *out = 0;
    if (!s || !*s)
        return GX_OK;
    if (gx_date_parse(s, out) != GX_OK) {
        /* echo the value only when it is short, whole UTF-8: the reply must stay sendable */
        size_t n = strlen(s);
        if (n <= 32 && gx_utf8_valid(s, n))
            return s_fail(d, GX_ERR_INVALID, field, "'%s' is not a date YYYY-MM-DD from 2000 on", s);
        return s_fail(d, GX_ERR_INVALID, field, "not a date YYYY-MM-DD from 2000 on");
    }
    return GX_OK;
}

static gx_err s_firm_id(s_dec *d, const char *s, const char *field, char out[GX_FIRM_ID_LEN + 1])
{
    out[0] = 0;
    if (!s || !*s)
        return GX_OK;
    if (!gx_utf8_valid(s, strlen(s)))
        return s_fail(d, GX_ERR_INVALID, field, "not valid UTF-8");
    if (strlen(s) != GX_FIRM_ID_LEN)
        return s_fail(d, GX_ERR_INVALID, field, "a Unified Social Credit Code has 18 characters, got %zu",
                      strlen(s));
    memcpy(out, s, GX_FIRM_ID_LEN + 1);
    return GX_OK;
}

/* Repeated enum -> bitmask. */
static gx_err s_bits(s_dec *d, const int *v, size_t n, int max, const char *field, uint32_t *out)
{
    *out = 0;
    gx_err err = s_count(d, n, field);
    for (size_t i = 0; !err && i < n; i++) {
        if (v[i] <= 0 || v[i] > max)
            return s_fail(d, GX_ERR_INVALID, field, "%d is not a known value", v[i]);
        *out |= GX_BIT(v[i]);
    }
    return err;
}

static gx_err s_dec_firm(s_dec *d, const Gongxu__V1__Firm *m, gx_firm *f)
{
    gx_err err;
    if ((err = s_firm_id(d, m->id, "firm.id", f->id)) || (err = s_str(d, m->name, false, "firm.name", &f->name)) ||
        (err = s_str(d, m->zone, false, "firm.zone", &f->zone)) ||
        (err = s_str(d, m->contact, true, "firm.contact", &f->contact)) ||
        (err = s_bits(d, (const int *)m->roles, m->n_roles, GX_ROLE_OPERATOR, "firm.roles", &f->roles)) ||
        (err = s_enum(d, m->credit, GX_CREDIT_D, "firm.credit")) ||
        (err = s_count(d, m->n_certifications, "firm.certifications")))
        return err;
    if (m->county && *m->county) {
        if (strlen(m->county) != GX_COUNTY_LEN || !gx_utf8_valid(m->county, GX_COUNTY_LEN))
            return s_fail(d, GX_ERR_INVALID, "firm.county", "a GB/T 2260 county code has 6 digits");
        memcpy(f->county, m->county, GX_COUNTY_LEN + 1);
    }
    if (m->location) {
        if (!isfinite(m->location->lat) || !isfinite(m->location->lon) || fabs(m->location->lat) > 90 ||
            fabs(m->location->lon) > 180)
            return s_fail(d, GX_ERR_INVALID, "firm.location", "lat must be within ±90 and lon within ±180");
        f->has_location = true;
        f->lat = m->location->lat;
        f->lon = m->location->lon;
    }
    f->credit = (gx_credit)m->credit;
    f->awards = m->awards;
    if (m->home_city > 9999)
        return s_fail(d, GX_ERR_INVALID, "firm.home_city", "a city code has 4 digits");
    f->home_city = (uint16_t)m->home_city;
    if (m->language && *m->language) {
        if (strcmp(m->language, "zh-CN") == 0)
            f->lang = GX_LANG_ZH;
        else if (strcmp(m->language, "en") == 0)
            f->lang = GX_LANG_EN;
        else
            return s_fail(d, GX_ERR_INVALID, "firm.language", "must be \"zh-CN\" or \"en\"");
    }
    if (m->n_certifications) {
        f->certs = calloc(m->n_certifications, sizeof *f->certs);
        if (!f->certs)
            return GX_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->n_certifications; i++) {
        const Gongxu__V1__Certification *c = m->certifications[i];
        f->n_certs = (uint32_t)i + 1;
        if ((err = s_str(d, c->scheme, false, "firm.certifications.scheme", &f->certs[i].scheme)) ||
            (err = s_str(d, c->number, false, "firm.certifications.number", &f->certs[i].number)) ||
            (err = s_date(d, c->valid_until, "firm.certifications.valid_until", &f->certs[i].valid_until)))
            return err;
        if (!f->certs[i].scheme)
            return s_fail(d, GX_ERR_INVALID, "firm.certifications.scheme", "required");
        if (!c->valid_until || !*c->valid_until)
            return s_fail(d, GX_ERR_INVALID, "firm.certifications.valid_until", "required");
    }
    return GX_OK;
}

/* An optional PriceRange: *has tells whether it was given. */
static gx_err s_range(s_dec *d, const Gongxu__V1__PriceRange *r, const char *field, bool *has, double *min,
                      double *max)
{
    char f[64];
    gx_err err;
    if (!r)
        return GX_OK;
    snprintf(f, sizeof f, "%s.min", field);
    if ((err = s_num(d, r->min, f)))
        return err;
    snprintf(f, sizeof f, "%s.max", field);
    if ((err = s_num(d, r->max, f)))
        return err;
    *has = true;
    *min = r->min;
    *max = r->max;
    return GX_OK;
}

static gx_err s_dec_demand(s_dec *d, const Gongxu__V1__Demand *m, gx_demand *x)
{
    gx_err err;
    x->id = m->id;
    x->revision = m->revision;
    x->kind = (gx_kind)m->kind;
    x->quantity = m->quantity;
    x->original_quantity = m->original_quantity;
    x->min_credit = (gx_credit)m->min_credit;
    x->scope = (gx_scope)m->scope;
    x->max_distance_km = m->max_distance_km;
    x->splittable = m->splittable;
    x->max_suppliers = m->max_suppliers;
    x->min_trl = m->min_trl;
    x->expires_at = m->expires_at;
    x->created_at = m->created_at;
    x->state = (gx_state)m->state;
    if ((err = s_firm_id(d, m->owner, "demand.owner", x->owner)) ||
        (err = s_enum(d, m->kind, GX_KIND__COUNT - 1, "demand.kind")) ||
        (err = s_enum(d, m->state, GX_STATE_EXPIRED, "demand.state")) ||
        (err = s_enum(d, m->min_credit, GX_CREDIT_D, "demand.min_credit")) ||
        (err = s_enum(d, m->scope, GX_SCOPE_ANYWHERE, "demand.scope")) ||
        (err = s_str(d, m->industry, false, "demand.industry", &x->industry)) ||
        (err = s_strv(d, m->processes, m->n_processes, "demand.processes", &x->processes)) ||
        (err = s_strv(d, m->materials, m->n_materials, "demand.materials", &x->materials)) ||
        (err = s_strv(d, m->certifications, m->n_certifications, "demand.certifications", &x->certs)) ||
        (err = s_strv(d, m->ipc, m->n_ipc, "demand.ipc", &x->ipc)) ||
        (err = s_bits(d, (const int *)m->modes, m->n_modes, GX_MODE_JOINT_DEVELOPMENT, "demand.modes", &x->modes)) ||
        (err = s_num(d, m->quantity, "demand.quantity")) ||
        (err = s_num(d, m->original_quantity, "demand.original_quantity")) ||
        (err = s_num(d, m->max_distance_km, "demand.max_distance_km")) ||
        (err = s_str(d, m->unit, false, "demand.unit", &x->unit)) ||
        (err = s_date(d, m->needed_by, "demand.needed_by", &x->needed_by)) ||
        (err = s_str(d, m->title, false, "demand.title", &x->title)) ||
        (err = s_str(d, m->summary, true, "demand.summary", &x->summary)) ||
        (err = s_str(d, m->details, true, "demand.details", &x->details)))
        return err;
    return s_range(d, m->budget, "demand.budget", &x->has_budget, &x->budget_min, &x->budget_max);
}

static gx_err s_dec_offer(s_dec *d, const Gongxu__V1__Offer *m, gx_offer *x)
{
    gx_err err;
    x->id = m->id;
    x->revision = m->revision;
    x->state = (gx_state)m->state;
    x->monthly_capacity = m->monthly_capacity;
    x->min_order = m->min_order;
    x->lead_time_days = m->lead_time_days;
    x->service_scope = (gx_scope)m->service_scope;
    x->service_radius_km = m->service_radius_km;
    x->trl = m->trl;
    x->expires_at = m->expires_at;
    x->created_at = m->created_at;
    if ((err = s_firm_id(d, m->owner, "offer.owner", x->owner)) ||
        (err = s_enum(d, m->state, GX_STATE_EXPIRED, "offer.state")) ||
        (err = s_bits(d, (const int *)m->kinds, m->n_kinds, GX_KIND__COUNT - 1, "offer.kinds", &x->kinds)) ||
        (err = s_enum(d, m->service_scope, GX_SCOPE_ANYWHERE, "offer.service_scope")) ||
        (err = s_strv(d, m->industries, m->n_industries, "offer.industries", &x->industries)) ||
        (err = s_strv(d, m->processes, m->n_processes, "offer.processes", &x->processes)) ||
        (err = s_strv(d, m->materials, m->n_materials, "offer.materials", &x->materials)) ||
        (err = s_strv(d, m->ipc, m->n_ipc, "offer.ipc", &x->ipc)) ||
        (err = s_bits(d, (const int *)m->modes, m->n_modes, GX_MODE_JOINT_DEVELOPMENT, "offer.modes", &x->modes)) ||
        (err = s_num(d, m->monthly_capacity, "offer.monthly_capacity")) ||
        (err = s_num(d, m->min_order, "offer.min_order")) ||
        (err = s_num(d, m->service_radius_km, "offer.service_radius_km")) ||
        (err = s_str(d, m->title, false, "offer.title", &x->title)) ||
        (err = s_str(d, m->summary, true, "offer.summary", &x->summary)))
        return err;
    return s_range(d, m->price, "offer.price", &x->has_price, &x->price_min, &x->price_max);
}

static gx_err s_dec_sub(s_dec *d, const Gongxu__V1__Subscription *m, gx_sub *x)
{
    gx_err err;
    x->id = m->id;
    if ((err = s_firm_id(d, m->owner, "subscription.owner", x->owner)) ||
        (err = s_bits(d, (const int *)m->kinds, m->n_kinds, GX_KIND__COUNT - 1, "subscription.kinds", &x->kinds)) ||
        (err = s_strv(d, m->industry_prefixes, m->n_industry_prefixes, "subscription.industry_prefixes",
                      &x->industries)) ||
        (err = s_strv(d, m->process_prefixes, m->n_process_prefixes, "subscription.process_prefixes",
                      &x->processes)) ||
        (err = s_strv(d, m->districts, m->n_districts, "subscription.districts", &x->districts)))
        return err;
    return GX_OK;
}

/* A CURVE public key in Z85 (the key-file format's own check: 40 characters
 * that decode to 32 bytes). */
static gx_err s_key(s_dec *d, const char *s, const char *field, char out[41])
{
    out[0] = 0;
    if (!gx_keyfile_valid(s))
        return s_fail(d, GX_ERR_INVALID, field, "a CURVE public key is 40 Z85 characters");
    memcpy(out, s, 41);
    return GX_OK;
}

static gx_err s_missing(s_dec *d, const char *field)
{
    return s_fail(d, GX_ERR_BAD_REQUEST, field, "required");
}

static gx_err s_dec_body(s_dec *d, const s_env *e, gx_request *r)
{
    gx_err err = GX_OK;
    switch (e->body_case) {
    case GONGXU__V1__ENVELOPE__BODY_HELLO:
        r->type = GX_REQ_HELLO;
        r->flag = e->hello->operator_;
        r->evicted_ok = e->hello->understands_evicted;
        if ((err = s_firm_id(d, e->hello->firm_id, "hello.firm_id", r->firm_id)))
            return err;
        return s_str(d, e->hello->client, false, "hello.client", &r->text);
    case GONGXU__V1__ENVELOPE__BODY_REGISTER_FIRM:
        r->type = GX_REQ_REGISTER_FIRM;
        r->flag = e->register_firm->override_check;
        if (!e->register_firm->firm)
            return s_missing(d, "register_firm.firm");
        return s_dec_firm(d, e->register_firm->firm, &r->firm);
    case GONGXU__V1__ENVELOPE__BODY_GET_FIRM:
        r->type = GX_REQ_GET_FIRM;
        return s_firm_id(d, e->get_firm->firm_id, "get_firm.firm_id", r->firm_id);
    case GONGXU__V1__ENVELOPE__BODY_POST_DEMAND:
    case GONGXU__V1__ENVELOPE__BODY_UPDATE_DEMAND: {
        bool post = e->body_case == GONGXU__V1__ENVELOPE__BODY_POST_DEMAND;
        const Gongxu__V1__Demand *m = post ? e->post_demand->demand : e->update_demand->demand;
        r->type = post ? GX_REQ_POST_DEMAND : GX_REQ_UPDATE_DEMAND;
        if (!m)
            return s_missing(d, post ? "post_demand.demand" : "update_demand.demand");
        return s_dec_demand(d, m, &r->demand);
    }
    case GONGXU__V1__ENVELOPE__BODY_POST_OFFER:
    case GONGXU__V1__ENVELOPE__BODY_UPDATE_OFFER: {
        bool post = e->body_case == GONGXU__V1__ENVELOPE__BODY_POST_OFFER;
        const Gongxu__V1__Offer *m = post ? e->post_offer->offer : e->update_offer->offer;
        r->type = post ? GX_REQ_POST_OFFER : GX_REQ_UPDATE_OFFER;
        if (!m)
            return s_missing(d, post ? "post_offer.offer" : "update_offer.offer");
        return s_dec_offer(d, m, &r->offer);
    }
    case GONGXU__V1__ENVELOPE__BODY_WITHDRAW:
        r->type = GX_REQ_WITHDRAW;
        r->id = e->withdraw->posting_id;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_SUBSCRIBE:
        r->type = GX_REQ_SUBSCRIBE;
        if (!e->subscribe->subscription)
            return s_missing(d, "subscribe.subscription");
        return s_dec_sub(d, e->subscribe->subscription, &r->sub);
    case GONGXU__V1__ENVELOPE__BODY_INTEREST:
        r->type = GX_REQ_INTEREST;
        r->id = e->interest->demand_id;
        r->offer_id = e->interest->offer_id;
        return s_str(d, e->interest->message, true, "interest.message", &r->text);
    case GONGXU__V1__ENVELOPE__BODY_ACCEPT:
        r->type = GX_REQ_ACCEPT;
        r->id = e->accept->demand_id;
        return s_firm_id(d, e->accept->firm_id, "accept.firm_id", r->firm_id);
    case GONGXU__V1__ENVELOPE__BODY_DECLINE:
        r->type = GX_REQ_DECLINE;
        r->id = e->decline->demand_id;
        if ((err = s_firm_id(d, e->decline->firm_id, "decline.firm_id", r->firm_id)))
            return err;
        return s_str(d, e->decline->reason, true, "decline.reason", &r->text);
    case GONGXU__V1__ENVELOPE__BODY_AWARD:
        r->type = GX_REQ_AWARD;
        r->id = e->award->demand_id;
        r->quantity = e->award->quantity;
        if ((err = s_num(d, r->quantity, "award.quantity")))
            return err;
        return s_firm_id(d, e->award->firm_id, "award.firm_id", r->firm_id);
    case GONGXU__V1__ENVELOPE__BODY_ACK:
        r->type = GX_REQ_ACK;
        r->id = e->ack->seq;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_RESUME:
        r->type = GX_REQ_RESUME;
        r->id = e->resume->after_seq;
        r->flag = e->resume->from_last_ack;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_GET_SHORTLIST:
        r->type = GX_REQ_GET_SHORTLIST;
        r->id = e->get_shortlist->demand_id;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_GET_POSTING:
        r->type = GX_REQ_GET_POSTING;
        r->id = e->get_posting->posting_id;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_LIST_POSTINGS:
        r->type = GX_REQ_LIST_POSTINGS;
        r->flag = e->list_postings->include_closed;
        if (e->list_postings->limit > GX_LIST_MAX)
            return s_fail(d, GX_ERR_INVALID, "list_postings.limit", "at most %d postings a page",
                          GX_LIST_MAX);
        r->limit = e->list_postings->limit ? e->list_postings->limit : GX_LIST_DEFAULT;
        return s_str(d, e->list_postings->cursor, false, "list_postings.cursor", &r->text);
    case GONGXU__V1__ENVELOPE__BODY_GET_STATS: {
        const Gongxu__V1__GetStats *m = e->get_stats;
        gx_stats_req *q = &r->stats;
        r->type = GX_REQ_GET_STATS;
        if ((err = s_enum(d, m->kind, GX_KIND__COUNT - 1, "get_stats.kind")))
            return err;
        q->kind = (gx_kind)m->kind;
        if (m->from && m->from[0] && gx_date_parse(m->from, &q->from_day) != GX_OK)
            return s_fail(d, GX_ERR_INVALID, "get_stats.from", "from: '%.40s' is not a date YYYY-MM-DD", m->from);
        if (m->to && m->to[0] && gx_date_parse(m->to, &q->to_day) != GX_OK)
            return s_fail(d, GX_ERR_INVALID, "get_stats.to", "to: '%.40s' is not a date YYYY-MM-DD", m->to);
        if (q->from_day && q->to_day && q->to_day < q->from_day)
            return s_fail(d, GX_ERR_INVALID, "get_stats.to", "to (%s) is before from (%s)", m->to, m->from);
        if ((m->district && m->district[0] &&
             (err = s_str(d, m->district, false, "get_stats.district", &q->district))) ||
            (m->industry && m->industry[0] &&
             (err = s_str(d, m->industry, false, "get_stats.industry", &q->industry))))
            return err;
        q->breakdown = m->breakdown || q->from_day || q->to_day || q->district || q->industry || q->kind;
        return GX_OK;
    }
    case GONGXU__V1__ENVELOPE__BODY_PING:
        r->type = GX_REQ_PING;
        return GX_OK;
    case GONGXU__V1__ENVELOPE__BODY_REGISTER_KEY:
        r->type = GX_REQ_REGISTER_KEY;
        if ((err = s_firm_id(d, e->register_key->firm_id, "register_key.firm_id", r->firm_id)))
            return err;
        return s_key(d, e->register_key->public_key, "register_key.public_key", r->key);
    case GONGXU__V1__ENVELOPE__BODY_REVOKE_KEY:
        r->type = GX_REQ_REVOKE_KEY;
        return s_key(d, e->revoke_key->public_key, "revoke_key.public_key", r->key);
    case GONGXU__V1__ENVELOPE__BODY_BACKUP:
        r->type = GX_REQ_BACKUP;
        return s_str(d, e->backup->dest, true, "backup.dest", &r->text);
    case GONGXU__V1__ENVELOPE__BODY_FIND_CODES: {
        const Gongxu__V1__FindCodes *m = e->find_codes;
        r->type = GX_REQ_FIND_CODES;
        if ((err = s_enum(d, m->code_class, GX_V__COUNT, "find_codes.code_class")))
            return err;
        /* the wire's classes are ours shifted by one: 0 there is "every class" */
        r->code_class = m->code_class ? (gx_vclass)(m->code_class - 1) : GX_V__COUNT;
        if (m->limit > GX_FIND_CODES_MAX)
            return s_fail(d, GX_ERR_INVALID, "find_codes.limit", "at most %d entries at a time",
                          GX_FIND_CODES_MAX);
        r->limit = m->limit ? m->limit : GX_FIND_CODES_DEFAULT;
        return s_str(d, m->text, false, "find_codes.text", &r->text);
    }
    case GONGXU__V1__ENVELOPE__BODY_REPLY:
    case GONGXU__V1__ENVELOPE__BODY_ERROR:
    case GONGXU__V1__ENVELOPE__BODY_NOTICE:
        return s_fail(d, GX_ERR_BAD_REQUEST, "body", "replies and notices are sent by the broker, not to it");
    case GONGXU__V1__ENVELOPE__BODY__NOT_SET:
    default:
        return s_fail(d, GX_ERR_BAD_REQUEST, "body", "the envelope carries no request (unknown body field %d?)",
                      (int)e->body_case);
    }
}

/* ---- NUL in strings: protobuf-c hands a string field over as a C string, so
 * "abc\0def" would arrive as "abc" and "casting\0.die.zinc" as "casting". The
 * wire still holds the bytes: walk it along the descriptors and name the first
 * string field with a NUL, e.g. "demand.processes[1]". Called only on a frame
 * that unpacked, so the walk sees valid wire data (bounds are checked anyway). */

typedef struct s_wire {
    const uint8_t *p, *end;
} s_wire;

static bool s_wire_varint(s_wire *w, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
        uint8_t b = *w->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* How many times field number num occurs in [start, upto): the index of a repeated entry. */
static size_t s_wire_index(const uint8_t *start, const uint8_t *upto, uint32_t num)
{
    s_wire w = {start, upto};
    size_t k = 0;
    uint64_t tag, n;
    while (w.p < w.end && s_wire_varint(&w, &tag)) {
        switch (tag & 7) {
        case 0: s_wire_varint(&w, &n); break;
        case 1:
        case 5:
            if ((size_t)(w.end - w.p) < ((tag & 7) == 1 ? 8u : 4u))
                return k;
            w.p += (tag & 7) == 1 ? 8 : 4;
            break;
        case 2:
            if (!s_wire_varint(&w, &n) || n > (uint64_t)(w.end - w.p))
                return k;
            w.p += n;
            break;
        default: return k;
        }
        k += (uint32_t)(tag >> 3) == num;
    }
    return k;
}

/* True when a string field in the message md encoded in [p, p + n) holds a NUL;
 * its path is then in path (appended at plen). */
static bool s_wire_nul(const ProtobufCMessageDescriptor *md, const uint8_t *p, size_t n, char *path, size_t cap,
                       size_t plen, int depth)
{
    s_wire w = {p, p + n};
    uint64_t tag, v;
    while (depth < 32 && w.p < w.end) {
        const uint8_t *at = w.p;
        if (!s_wire_varint(&w, &tag))
            return false;
        switch (tag & 7) {
        case 0:
            if (!s_wire_varint(&w, &v))
                return false;
            continue;
        case 1:
        case 5: {
            size_t step = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(w.end - w.p) < step)
                return false;
            w.p += step;
            continue;
        }
        case 2: break;
        default: return false; /* groups: not in our schema, and unpack refused them */
        }
        if (!s_wire_varint(&w, &v) || v > (uint64_t)(w.end - w.p))
            return false;
        const uint8_t *val = w.p;
        w.p += v;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(md, (unsigned)(tag >> 3));
        if (!f || (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE))
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING && !memchr(val, 0, (size_t)v))
            continue;
        size_t len = plen;
        if (depth > 0 && len < cap) { /* the Envelope's body is named by the request, not the path */
            int k = f->label == PROTOBUF_C_LABEL_REPEATED
                        ? snprintf(path + len, cap - len, "%s%s[%zu]", len ? "." : "", f->name,
                                   s_wire_index(p, at, f->id))
                        : snprintf(path + len, cap - len, "%s%s", len ? "." : "", f->name);
            len = k < 0 ? len : (size_t)k + len < cap ? (size_t)k + len : cap - 1;
        }
        if (f->type == PROTOBUF_C_TYPE_STRING)
            return true;
        if (s_wire_nul(f->descriptor, val, (size_t)v, path, cap, len, depth + 1))
            return true;
        path[plen] = 0;
    }
    return false;
}

gx_err gx_codec_decode_request(const void *buf, size_t len, const gx_limits *lim, gx_request *out, char *msg,
                               size_t msglen, char *field, size_t fieldlen)
{
    s_dec d = {lim, msg, msglen, field, fieldlen};
    memset(out, 0, sizeof *out);
    if (msglen)
        msg[0] = 0;
    if (fieldlen)
        field[0] = 0;
    s_env *e = gongxu__v1__envelope__unpack(NULL, len, buf);
    if (!e)
        return s_fail(&d, GX_ERR_MALFORMED, "frame", "%zu bytes that are not a gongxu.v1.Envelope", len);
    out->request_id = e->request_id;
    gx_err err;
    char nul_at[160] = "";
    if (e->version != 1)
        err = s_fail(&d, GX_ERR_UNSUPPORTED_VERSION, "version", "%u; this broker speaks version 1", e->version);
    else if (memchr(buf, 0, len) && s_wire_nul(&gongxu__v1__envelope__descriptor, buf, len, nul_at, sizeof nul_at, 0, 0))
        err = s_fail(&d, GX_ERR_INVALID, nul_at[0] ? nul_at : "frame",
                     "contains a NUL byte (\\0), which would cut the text short; remove it");
    else
        err = s_dec_body(&d, e, out);
    gongxu__v1__envelope__free_unpacked(e, NULL);
    if (err) {
        uint64_t id = out->request_id;
        gx_request_fini(out);
        out->request_id = id;
    }
    return err;
}

/* ------------------------------------------------------------------ encoding */

/* A bump arena for the protobuf-c structs of one encode; freed after packing. */
typedef struct s_chunk {
    struct s_chunk *next; /* older chunk */
    size_t used, cap;     /* bytes used of cap */
    max_align_t data[];   /* storage */
} s_chunk;

typedef struct s_arena {
    s_chunk *head; /* newest chunk */
} s_arena;

static void *s_alloc(s_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        s_chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

static void s_arena_fini(s_arena *a)
{
    while (a->head) {
        s_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* Allocates and initialises one protobuf-c struct of type T, or jumps to oom. */
#define NEW(a, T, INIT, p)                                                                         \
    do {                                                                                           \
        (p) = s_alloc((a), sizeof(T));                                                             \
        if (!(p))                                                                                  \
            goto oom;                                                                              \
        T s_init_ = INIT;                                                                          \
        *(p) = s_init_;                                                                            \
    } while (0)

static char *s_s(const char *s)
{
    return (char *)(s ? s : "");
}

static char *s_datestr(s_arena *a, int32_t days)
{
    if (!days)
        return "";
    char *b = s_alloc(a, 11);
    if (b)
        gx_date_format(days, b);
    return b;
}

/* Bitmask -> repeated enum array (arena). */
static int *s_enums(s_arena *a, uint32_t bits, size_t *n)
{
    *n = 0;
    int *v = s_alloc(a, 32 * sizeof(int));
    if (!v)
        return NULL;
    for (int i = 1; i < 32; i++)
        if (bits & GX_BIT(i))
            v[(*n)++] = i;
    return v;
}

static Gongxu__V1__Firm *s_firm(s_arena *a, const gx_firm *f, bool with_contact)
{
    Gongxu__V1__Firm *m;
    NEW(a, Gongxu__V1__Firm, GONGXU__V1__FIRM__INIT, m);
    m->id = s_s(f->id);
    m->name = s_s(f->name);
    m->county = s_s(f->county);
    m->zone = s_s(f->zone);
    m->credit = (Gongxu__V1__Credit)f->credit;
    m->contact = with_contact ? s_s(f->contact) : "";
    m->awards = f->awards;
    m->home_city = f->home_city;
    m->language = s_s(gx_lang_tag((gx_lang)f->lang));
    if (!(m->roles = (Gongxu__V1__Role *)s_enums(a, f->roles, &m->n_roles)))
        goto oom;
    if (f->has_location) {
        NEW(a, Gongxu__V1__Location, GONGXU__V1__LOCATION__INIT, m->location);
        m->location->lat = f->lat;
        m->location->lon = f->lon;
    }
    if (f->n_certs) {
        m->certifications = s_alloc(a, f->n_certs * sizeof *m->certifications);
        if (!m->certifications)
            goto oom;
        m->n_certifications = f->n_certs;
        for (uint32_t i = 0; i < f->n_certs; i++) {
            Gongxu__V1__Certification *c;
            NEW(a, Gongxu__V1__Certification, GONGXU__V1__CERTIFICATION__INIT, c);
            c->scheme = s_s(f->certs[i].scheme);
            c->number = s_s(f->certs[i].number);
            if (!(c->valid_until = s_datestr(a, f->certs[i].valid_until)))
                goto oom;
            m->certifications[i] = c;
        }
    }
    return m;
oom:
    return NULL;
}

/* What a reader of a demand who is not its owner does not see: each field's
 * name on the wire and whether an accepted docking partner sees it. The public
 * terms (kind, industry, processes, materials, certifications, quantity, unit,
 * needed-by, scope, splitting, title, summary, expiry, the IPC classes, TRL and
 * modes of a technology demand) are what a firm needs to decide whether to
 * answer; the rest is the owner's negotiating position (budget), its screening
 * thresholds (credit grade, distance, number of suppliers), its history
 * (quantity first posted, creation time) and the confidential details, which
 * docking releases to the accepted firm only. */
typedef enum s_held {
    S_HELD_BUDGET,
    S_HELD_MIN_CREDIT,
    S_HELD_MAX_DISTANCE,
    S_HELD_MAX_SUPPLIERS,
    S_HELD_ORIGINAL_QUANTITY,
    S_HELD_CREATED_AT,
    S_HELD_DETAILS,
    S_HELD__COUNT
} s_held;

static const struct {
    const char *field;
    bool partner_sees;
} s_demand_fields[S_HELD__COUNT] = {
    [S_HELD_BUDGET] = {"budget", false},
    [S_HELD_MIN_CREDIT] = {"min_credit", false},
    [S_HELD_MAX_DISTANCE] = {"max_distance_km", false},
    [S_HELD_MAX_SUPPLIERS] = {"max_suppliers", false},
    [S_HELD_ORIGINAL_QUANTITY] = {"original_quantity", false},
    [S_HELD_CREATED_AT] = {"created_at", false},
    [S_HELD_DETAILS] = {"details", true},
};

/* Clears field h of m, which view may not see, and names it in m->withheld. */
static void s_withhold(Gongxu__V1__Demand *m, s_held h)
{
    switch (h) {
    case S_HELD_BUDGET: m->budget = NULL; break;
    case S_HELD_MIN_CREDIT: m->min_credit = GONGXU__V1__CREDIT__CREDIT_UNSPECIFIED; break;
    case S_HELD_MAX_DISTANCE: m->max_distance_km = 0; break;
    case S_HELD_MAX_SUPPLIERS: m->max_suppliers = 0; break;
    case S_HELD_ORIGINAL_QUANTITY: m->original_quantity = 0; break;
    case S_HELD_CREATED_AT: m->created_at = 0; break;
    case S_HELD_DETAILS: m->details = ""; break;
    case S_HELD__COUNT: return;
    }
    m->withheld[m->n_withheld++] = (char *)s_demand_fields[h].field;
}

static Gongxu__V1__Demand *s_demand(s_arena *a, const gx_demand *d, gx_view view)
{
    Gongxu__V1__Demand *m;
    NEW(a, Gongxu__V1__Demand, GONGXU__V1__DEMAND__INIT, m);
    m->id = d->id;
    m->revision = d->revision;
    m->state = (Gongxu__V1__State)d->state;
    m->owner = s_s(d->owner);
    m->kind = (Gongxu__V1__Kind)d->kind;
    m->industry = s_s(d->industry);
    m->n_processes = d->processes.n;
    m->processes = d->processes.v;
    m->n_materials = d->materials.n;
    m->materials = d->materials.v;
    m->n_certifications = d->certs.n;
    m->certifications = d->certs.v;
    m->n_ipc = d->ipc.n;
    m->ipc = d->ipc.v;
    m->quantity = d->quantity;
    m->original_quantity = d->original_quantity;
    m->unit = s_s(d->unit);
    if (!(m->needed_by = s_datestr(a, d->needed_by)))
        goto oom;
    if (d->has_budget) {
        NEW(a, Gongxu__V1__PriceRange, GONGXU__V1__PRICE_RANGE__INIT, m->budget);
        m->budget->min = d->budget_min;
        m->budget->max = d->budget_max;
    }
    m->min_credit = (Gongxu__V1__Credit)d->min_credit;
    m->scope = (Gongxu__V1__Scope)d->scope;
    m->max_distance_km = d->max_distance_km;
    m->splittable = d->splittable;
    m->max_suppliers = d->max_suppliers;
    m->min_trl = d->min_trl;
    if (!(m->modes = (Gongxu__V1__TransferMode *)s_enums(a, d->modes, &m->n_modes)))
        goto oom;
    m->title = s_s(d->title);
    m->summary = s_s(d->summary);
    m->details = s_s(d->details);
    m->expires_at = d->expires_at;
    m->created_at = d->created_at;
    if (view != GX_VIEW_OWNER) {
        if (!(m->withheld = s_alloc(a, S_HELD__COUNT * sizeof *m->withheld)))
            goto oom;
        for (int h = 0; h < S_HELD__COUNT; h++)
            if (!(view == GX_VIEW_PARTNER && s_demand_fields[h].partner_sees))
                s_withhold(m, (s_held)h);
    }
    return m;
oom:
    return NULL;
}

static Gongxu__V1__Offer *s_offer(s_arena *a, const gx_offer *o)
{
    Gongxu__V1__Offer *m;
    NEW(a, Gongxu__V1__Offer, GONGXU__V1__OFFER__INIT, m);
    m->id = o->id;
    m->revision = o->revision;
    m->state = (Gongxu__V1__State)o->state;
    m->owner = s_s(o->owner);
    if (!(m->kinds = (Gongxu__V1__Kind *)s_enums(a, o->kinds, &m->n_kinds)))
        goto oom;
    m->n_industries = o->industries.n;
    m->industries = o->industries.v;
    m->n_processes = o->processes.n;
    m->processes = o->processes.v;
    m->n_materials = o->materials.n;
    m->materials = o->materials.v;
    m->n_ipc = o->ipc.n;
    m->ipc = o->ipc.v;
    m->monthly_capacity = o->monthly_capacity;
    m->min_order = o->min_order;
    m->lead_time_days = o->lead_time_days;
    if (o->has_price) {
        NEW(a, Gongxu__V1__PriceRange, GONGXU__V1__PRICE_RANGE__INIT, m->price);
        m->price->min = o->price_min;
        m->price->max = o->price_max;
    }
    m->service_scope = (Gongxu__V1__Scope)o->service_scope;
    m->service_radius_km = o->service_radius_km;
    m->trl = o->trl;
    if (!(m->modes = (Gongxu__V1__TransferMode *)s_enums(a, o->modes, &m->n_modes)))
        goto oom;
    m->title = s_s(o->title);
    m->summary = s_s(o->summary);
    m->expires_at = o->expires_at;
    m->created_at = o->created_at;
    return m;
oom:
    return NULL;
}

static Gongxu__V1__Subscription *s_sub(s_arena *a, const gx_sub *s)
{
    Gongxu__V1__Subscription *m;
    NEW(a, Gongxu__V1__Subscription, GONGXU__V1__SUBSCRIPTION__INIT, m);
    m->id = s->id;
    m->owner = s_s(s->owner);
    if (!(m->kinds = (Gongxu__V1__Kind *)s_enums(a, s->kinds, &m->n_kinds)))
        goto oom;
    m->n_industry_prefixes = s->industries.n;
    m->industry_prefixes = s->industries.v;
    m->n_process_prefixes = s->processes.n;
    m->process_prefixes = s->processes.v;
    m->n_districts = s->districts.n;
    m->districts = s->districts.v;
    return m;
oom:
    return NULL;
}

static Gongxu__V1__DemandSummary *s_summary(s_arena *a, const gx_demand *d, const gx_firm *owner)
{
    Gongxu__V1__DemandSummary *m;
    NEW(a, Gongxu__V1__DemandSummary, GONGXU__V1__DEMAND_SUMMARY__INIT, m);
    m->id = d->id;
    m->revision = d->revision;
    m->state = (Gongxu__V1__State)d->state;
    m->owner = s_s(d->owner);
    m->owner_name = owner ? s_s(owner->name) : "";
    m->owner_district = owner ? s_s(gx_firm_district(owner)) : "";
    m->kind = (Gongxu__V1__Kind)d->kind;
    m->industry = s_s(d->industry);
    m->n_processes = d->processes.n;
    m->processes = d->processes.v;
    m->n_materials = d->materials.n;
    m->materials = d->materials.v;
    m->quantity = d->quantity;
    m->unit = s_s(d->unit);
    if (!(m->needed_by = s_datestr(a, d->needed_by)))
        goto oom;
    m->n_certifications = d->certs.n;
    m->certifications = d->certs.v;
    m->title = s_s(d->title);
    m->summary = s_s(d->summary);
    m->expires_at = d->expires_at;
    m->splittable = d->splittable;
    return m;
oom:
    return NULL;
}

static Gongxu__V1__Explanation *s_explain(s_arena *a, const gx_explain *x)
{
    Gongxu__V1__Explanation *m;
    NEW(a, Gongxu__V1__Explanation, GONGXU__V1__EXPLANATION__INIT, m);
    m->score = x->score;
    m->distance_km = x->distance_km;
    m->rules = s_alloc(a, GX_RULE__COUNT * sizeof *m->rules);
    m->terms = s_alloc(a, GX_TERM__COUNT * sizeof *m->terms);
    if (!m->rules || !m->terms)
        goto oom;
    for (int r = 1; r < GX_RULE__COUNT; r++) {
        Gongxu__V1__RuleCheck *c;
        NEW(a, Gongxu__V1__RuleCheck, GONGXU__V1__RULE_CHECK__INIT, c);
        c->rule = (Gongxu__V1__Rule)r;
        c->pass = x->rules[r].pass;
        c->detail = (char *)x->rules[r].detail;
        m->rules[m->n_rules++] = c;
    }
    for (int t = 0; t < GX_TERM__COUNT; t++) {
        Gongxu__V1__ScoreTerm *s;
        NEW(a, Gongxu__V1__ScoreTerm, GONGXU__V1__SCORE_TERM__INIT, s);
        s->name = (char *)gx_term_name((gx_term)t);
        s->value = x->terms[t];
        s->weight = x->weights[t];
        m->terms[m->n_terms++] = s;
    }
    return m;
oom:
    return NULL;
}

static Gongxu__V1__Candidate *s_candidate(s_arena *a, const gx_candidate_view *v)
{
    Gongxu__V1__Candidate *m;
    NEW(a, Gongxu__V1__Candidate, GONGXU__V1__CANDIDATE__INIT, m);
    m->offer_id = v->offer_id;
    m->firm_id = v->firm ? s_s(v->firm->id) : "";
    m->firm_name = v->firm ? s_s(v->firm->name) : "";
    m->rank = v->rank;
    m->score = v->score;
    if (v->expl) {
        if (!(m->explanation = s_explain(a, v->expl)))
            goto oom;
        m->capacity_until_needed = v->expl->capacity_until_needed;
    }
    return m;
oom:
    return NULL;
}

static gx_err s_pack(const ProtobufCMessage *m, gx_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    out->data = malloc(n ? n : 1);
    if (!out->data)
        return GX_ERR_NOMEM;
    out->len = protobuf_c_message_pack(m, out->data);
    return GX_OK;
}

static Gongxu__V1__Candidate **s_candidates(s_arena *a, const gx_candidate_view *v, size_t n)
{
    Gongxu__V1__Candidate **arr = s_alloc(a, (n ? n : 1) * sizeof *arr);
    for (size_t i = 0; arr && i < n; i++)
        if (!(arr[i] = s_candidate(a, &v[i])))
            return NULL;
    return arr;
}

static Gongxu__V1__Count **s_counts(s_arena *a, const uint64_t *v, size_t n, const char *(*name)(int), size_t *out_n)
{
    Gongxu__V1__Count **arr = s_alloc(a, n * sizeof *arr);
    *out_n = 0;
    if (!arr)
        return NULL;
    for (size_t i = 1; i < n; i++) {
        if (!v[i])
            continue;
        Gongxu__V1__Count *c = s_alloc(a, sizeof *c);
        if (!c)
            return NULL;
        Gongxu__V1__Count init = GONGXU__V1__COUNT__INIT;
        *c = init;
        c->key = (char *)name((int)i);
        c->value = v[i];
        arr[(*out_n)++] = c;
    }
    return arr;
}

static const char *s_kind_name(int k)
{
    return gx_kind_name((gx_kind)k);
}

static const char *s_rule_name(int r)
{
    return gx_rule_name((gx_rule)r);
}

gx_err gx_codec_encode_reply(const gx_reply *r, gx_buf *out)
{
    s_arena a = {0};
    gx_err err = GX_ERR_NOMEM;
    s_env e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Reply *rep;
    memset(out, 0, sizeof *out);
    e.version = 1;
    e.request_id = r->request_id;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_REPLY;
    NEW(&a, Gongxu__V1__Reply, GONGXU__V1__REPLY__INIT, rep);
    e.reply = rep;
    switch (r->type) {
    case GX_REPLY_PONG:
        rep->result_case = GONGXU__V1__REPLY__RESULT_PONG;
        NEW(&a, Gongxu__V1__Ping, GONGXU__V1__PING__INIT, rep->pong);
        if (r->limits) {
            rep->pong->version = (char *)GX_VERSION;
            rep->pong->max_frame_bytes = r->max_frame;
            rep->pong->max_string_bytes = (uint32_t)r->limits->max_string;
            rep->pong->max_text_bytes = (uint32_t)r->limits->max_text;
            rep->pong->max_repeated = (uint32_t)r->limits->max_repeated;
        }
        break;
    case GX_REPLY_CODES: {
        Gongxu__V1__CodeList *l;
        rep->result_case = GONGXU__V1__REPLY__RESULT_CODES;
        NEW(&a, Gongxu__V1__CodeList, GONGXU__V1__CODE_LIST__INIT, l);
        rep->codes = l;
        l->total = r->total;
        l->entries = s_alloc(&a, (r->n_entries ? r->n_entries : 1) * sizeof *l->entries);
        if (!l->entries)
            goto oom;
        for (size_t i = 0; i < r->n_entries; i++) {
            const gx_vocab_entry *v = &r->entries[i];
            Gongxu__V1__CodeEntry *c;
            NEW(&a, Gongxu__V1__CodeEntry, GONGXU__V1__CODE_ENTRY__INIT, c);
            l->entries[l->n_entries++] = c;
            c->code_class = (Gongxu__V1__CodeClass)(v->cls + 1);
            c->id = s_s(v->id);
            c->name_zh = s_s(v->zh);
            c->name_en = s_s(v->en);
            c->county = s_s(v->county);
            c->n_aliases = v->n_aliases;
            c->aliases = (char **)v->aliases; /* borrowed, read by the packer only */
        }
        break;
    }
    case GX_REPLY_POSTING:
        rep->result_case = GONGXU__V1__REPLY__RESULT_POSTING;
        NEW(&a, Gongxu__V1__PostingRef, GONGXU__V1__POSTING_REF__INIT, rep->posting);
        rep->posting->id = r->id;
        rep->posting->revision = r->revision;
        rep->posting->state = (Gongxu__V1__State)r->state;
        rep->posting->candidates = r->count;
        break;
    case GX_REPLY_SHORTLIST: {
        Gongxu__V1__Shortlist *s;
        rep->result_case = GONGXU__V1__REPLY__RESULT_SHORTLIST;
        NEW(&a, Gongxu__V1__Shortlist, GONGXU__V1__SHORTLIST__INIT, s);
        rep->shortlist = s;
        s->demand_id = r->id;
        s->revision = r->revision;
        s->eligible = r->count;
        s->proposed_coverage = r->coverage;
        if (!(s->candidates = s_candidates(&a, r->cands, r->n_cands)) ||
            !(s->proposed_set = s_candidates(&a, r->set, r->n_set)))
            goto oom;
        s->n_candidates = r->n_cands;
        s->n_proposed_set = r->n_set;
        break;
    }
    case GX_REPLY_DEMAND:
    case GX_REPLY_OFFER:
    case GX_REPLY_SUB: {
        Gongxu__V1__PostingView *v;
        rep->result_case = GONGXU__V1__REPLY__RESULT_VIEW;
        NEW(&a, Gongxu__V1__PostingView, GONGXU__V1__POSTING_VIEW__INIT, v);
        rep->view = v;
        if (r->type == GX_REPLY_DEMAND) {
            v->posting_case = GONGXU__V1__POSTING_VIEW__POSTING_DEMAND;
            if (!(v->demand = s_demand(&a, r->demand, r->view)))
                goto oom;
        } else if (r->type == GX_REPLY_OFFER) {
            v->posting_case = GONGXU__V1__POSTING_VIEW__POSTING_OFFER;
            if (!(v->offer = s_offer(&a, r->offer)))
                goto oom;
        } else {
            v->posting_case = GONGXU__V1__POSTING_VIEW__POSTING_SUBSCRIPTION;
            if (!(v->subscription = s_sub(&a, r->sub)))
                goto oom;
        }
        break;
    }
    case GX_REPLY_LIST: {
        Gongxu__V1__PostingList *l;
        rep->result_case = GONGXU__V1__REPLY__RESULT_POSTINGS;
        NEW(&a, Gongxu__V1__PostingList, GONGXU__V1__POSTING_LIST__INIT, l);
        rep->postings = l;
        l->truncated = r->truncated;
        l->next_cursor = s_s(r->next_cursor);
        l->demands = s_alloc(&a, (r->n_demands + 1) * sizeof *l->demands);
        l->offers = s_alloc(&a, (r->n_offers + 1) * sizeof *l->offers);
        l->subscriptions = s_alloc(&a, (r->n_subs + 1) * sizeof *l->subscriptions);
        if (!l->demands || !l->offers || !l->subscriptions)
            goto oom;
        for (size_t i = 0; i < r->n_demands; i++)
            if (!(l->demands[l->n_demands++] = s_demand(&a, r->demands[i], GX_VIEW_OWNER)))
                goto oom;
        for (size_t i = 0; i < r->n_offers; i++)
            if (!(l->offers[l->n_offers++] = s_offer(&a, r->offers[i])))
                goto oom;
        for (size_t i = 0; i < r->n_subs; i++)
            if (!(l->subscriptions[l->n_subscriptions++] = s_sub(&a, r->subs[i])))
                goto oom;
        break;
    }
    case GX_REPLY_RESUME:
        rep->result_case = GONGXU__V1__REPLY__RESULT_RESUME;
        NEW(&a, Gongxu__V1__ResumeInfo, GONGXU__V1__RESUME_INFO__INIT, rep->resume);
        rep->resume->resumed_after = r->resumed_after;
        rep->resume->head_seq = r->head;
        break;
    case GX_REPLY_STATS: {
        Gongxu__V1__Stats *s;
        const gx_engine_stats *es = r->stats->engine;
        rep->result_case = GONGXU__V1__REPLY__RESULT_STATS;
        NEW(&a, Gongxu__V1__Stats, GONGXU__V1__STATS__INIT, s);
        rep->stats = s;
        s->at = r->stats->at;
        s->firms = es->firms;
        s->demands_open = es->demands_open;
        s->offers_open = es->offers_open;
        s->subscriptions = es->subs;
        s->matches = es->matches;
        s->near_misses = es->near_misses;
        s->demands_unmatched = es->demands_unmatched;
        s->notices = r->stats->notices;
        s->requests = r->stats->requests;
        s->from = s_s(r->stats->from);
        s->to = s_s(r->stats->to);
        if (r->stats->n_rows) {
            s->n_rows = r->stats->n_rows;
            s->rows = s_alloc(&a, s->n_rows * sizeof *s->rows);
            if (!s->rows)
                goto oom;
            for (size_t i = 0; i < s->n_rows; i++) {
                const gx_stats_row *x = &r->stats->rows[i];
                Gongxu__V1__StatsRow *m;
                NEW(&a, Gongxu__V1__StatsRow, GONGXU__V1__STATS_ROW__INIT, m);
                s->rows[i] = m;
                m->district = s_s(x->district);
                m->district_name = s_s(x->district_name);
                m->chain = s_s(x->chain);
                m->chain_name = s_s(x->chain_name);
                m->kind = (Gongxu__V1__Kind)x->kind;
                m->demands_posted = x->demands_posted;
                m->demands_open = x->demands_open;
                m->demands_matched = x->demands_matched;
                m->demands_matched_local = x->demands_matched_local;
                m->demands_awarded = x->demands_awarded;
                m->offers_posted = x->offers_posted;
                m->offers_open = x->offers_open;
                m->fill_rate = x->fill_rate;
                m->ttfm_p50_s = x->ttfm_p50_s;
                m->ttfm_mean_s = x->ttfm_mean_s;
            }
        }
        if (!(s->demands_by_kind = s_counts(&a, es->demands_by_kind, GX_KIND__COUNT, s_kind_name, &s->n_demands_by_kind)) ||
            !(s->near_misses_by_rule =
                  s_counts(&a, es->near_misses_by_rule, GX_RULE__COUNT, s_rule_name, &s->n_near_misses_by_rule)))
            goto oom;
        break;
    }
    case GX_REPLY_FIRM:
        rep->result_case = GONGXU__V1__REPLY__RESULT_FIRM;
        if (!(rep->firm = s_firm(&a, r->firm, r->with_details)))
            goto oom;
        break;
    case GX_REPLY_KEY:
        rep->result_case = GONGXU__V1__REPLY__RESULT_KEY;
        NEW(&a, Gongxu__V1__KeyInfo, GONGXU__V1__KEY_INFO__INIT, rep->key);
        rep->key->public_key = s_s(r->key);
        rep->key->firm_id = s_s(r->key_firm);
        rep->key->revoked = r->revoked;
        rep->key->created_at = r->created_at;
        break;
    case GX_REPLY_BACKUP:
        rep->result_case = GONGXU__V1__REPLY__RESULT_BACKUP;
        NEW(&a, Gongxu__V1__BackupInfo, GONGXU__V1__BACKUP_INFO__INIT, rep->backup);
        rep->backup->dest = s_s(r->dest);
        rep->backup->bytes = r->bytes;
        rep->backup->started_at = r->created_at;
        break;
    case GX_REPLY_ACKED:
        rep->result_case = GONGXU__V1__REPLY__RESULT_ACKED;
        NEW(&a, Gongxu__V1__Ack, GONGXU__V1__ACK__INIT, rep->acked);
        rep->acked->seq = r->seq;
        break;
    }
    err = s_pack(&e.base, out);
oom:
    s_arena_fini(&a);
    return err;
}

/* One base-128 varint at *p (at most 10 bytes); false when cut short. */
static bool s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

bool gx_codec_peek_request_id(const void *buf, size_t len, uint64_t *id)
{
    const uint8_t *p = buf, *end = p + len;
    *id = 0;
    while (p < end) {
        uint64_t tag, v;
        if (!s_varint(&p, end, &tag))
            return false;
        switch (tag & 7) {
        case 0: /* varint */
            if (!s_varint(&p, end, &v))
                return false;
            if (tag >> 3 == 2)
                *id = v;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 2: /* length-delimited */
            if (!s_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            p += v;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return false;
            p += 4;
            break;
        default:
            return false;
        }
    }
    return true;
}

gx_err gx_codec_encode_error(uint64_t request_id, gx_err err, const char *message, const char *field, gx_buf *out)
{
    return gx_codec_encode_error_suggest(request_id, err, message, field, NULL, 0, out);
}

gx_err gx_codec_encode_error_suggest(uint64_t request_id, gx_err err, const char *message, const char *field,
                                     const char *const *suggest, size_t n, gx_buf *out)
{
    s_env e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Error m = GONGXU__V1__ERROR__INIT;
    memset(out, 0, sizeof *out);
    e.version = 1;
    e.request_id = request_id;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_ERROR;
    e.error = &m;
    m.code = (Gongxu__V1__ErrorCode)gx_err_wire(err);
    m.message = s_s(message && *message ? message : gx_err_str(err));
    m.field = s_s(field);
    m.n_suggestions = n;
    m.suggestions = (char **)suggest; /* read, never freed, by s_pack */
    return s_pack(&e.base, out);
}

gx_err gx_codec_encode_notice(const gx_notice *n, gx_buf *out)
{
    s_arena a = {0};
    gx_err err = GX_ERR_NOMEM;
    s_env e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Notice *m;
    memset(out, 0, sizeof *out);
    e.version = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_NOTICE;
    NEW(&a, Gongxu__V1__Notice, GONGXU__V1__NOTICE__INIT, m);
    e.notice = m;
    m->seq = n->seq;
    m->at = n->at;
    m->changed_since = s_s(n->changed);
    m->body_case = (Gongxu__V1__Notice__BodyCase)n->type;
    switch (n->type) {
    case GX_N_CANDIDATE_ADDED: {
        Gongxu__V1__CandidateAdded *x;
        gx_candidate_view v = {n->offer_id, n->firm, n->rank, n->score, n->expl};
        NEW(&a, Gongxu__V1__CandidateAdded, GONGXU__V1__CANDIDATE_ADDED__INIT, x);
        x->demand_id = n->demand_id;
        if (!(x->candidate = s_candidate(&a, &v)))
            goto oom;
        x->candidate->capacity_until_needed = n->capacity;
        m->candidate_added = x;
        break;
    }
    case GX_N_CANDIDATE_REMOVED: {
        Gongxu__V1__CandidateRemoved *x;
        NEW(&a, Gongxu__V1__CandidateRemoved, GONGXU__V1__CANDIDATE_REMOVED__INIT, x);
        x->demand_id = n->demand_id;
        x->offer_id = n->offer_id;
        x->firm_id = n->firm ? s_s(n->firm->id) : "";
        x->reason = (Gongxu__V1__RemovedReason)n->reason;
        m->candidate_removed = x;
        break;
    }
    case GX_N_OPPORTUNITY: {
        Gongxu__V1__Opportunity *x;
        NEW(&a, Gongxu__V1__Opportunity, GONGXU__V1__OPPORTUNITY__INIT, x);
        if (!(x->demand = s_summary(&a, n->demand, n->demand_firm)))
            goto oom;
        x->offer_id = n->offer_id;
        x->subscription_id = n->sub_id;
        x->rank = n->rank;
        if (n->expl && !(x->explanation = s_explain(&a, n->expl)))
            goto oom;
        m->opportunity = x;
        break;
    }
    case GX_N_NEAR_MISS: {
        Gongxu__V1__NearMiss *x;
        NEW(&a, Gongxu__V1__NearMiss, GONGXU__V1__NEAR_MISS__INIT, x);
        if (!(x->demand = s_summary(&a, n->demand, n->demand_firm)))
            goto oom;
        x->offer_id = n->offer_id;
        x->rule = (Gongxu__V1__Rule)n->rule;
        x->hint = s_s(n->text);
        if (n->expl && !(x->explanation = s_explain(&a, n->expl)))
            goto oom;
        m->near_miss = x;
        break;
    }
    case GX_N_INTEREST_RECEIVED: {
        Gongxu__V1__InterestReceived *x;
        NEW(&a, Gongxu__V1__InterestReceived, GONGXU__V1__INTEREST_RECEIVED__INIT, x);
        x->demand_id = n->demand_id;
        x->firm_id = n->firm ? s_s(n->firm->id) : "";
        x->firm_name = n->firm ? s_s(n->firm->name) : "";
        x->offer_id = n->offer_id;
        x->message = s_s(n->text);
        if (n->expl && !(x->explanation = s_explain(&a, n->expl)))
            goto oom;
        m->interest_received = x;
        break;
    }
    case GX_N_INTEREST_DECLINED:
        NEW(&a, Gongxu__V1__InterestDeclined, GONGXU__V1__INTEREST_DECLINED__INIT, m->interest_declined);
        m->interest_declined->demand_id = n->demand_id;
        m->interest_declined->reason = s_s(n->text);
        break;
    case GX_N_DETAILS_RELEASED: {
        Gongxu__V1__DetailsReleased *x;
        NEW(&a, Gongxu__V1__DetailsReleased, GONGXU__V1__DETAILS_RELEASED__INIT, x);
        x->demand_id = n->demand_id;
        x->counterpart_id = n->firm ? s_s(n->firm->id) : "";
        x->counterpart_name = n->firm ? s_s(n->firm->name) : "";
        x->counterpart_contact = n->firm ? s_s(n->firm->contact) : "";
        x->details = s_s(n->text);
        m->details_released = x;
        break;
    }
    case GX_N_DEMAND_UPDATED:
    case GX_N_DEMAND_WITHDRAWN:
    case GX_N_DEMAND_AWARDED:
    case GX_N_DEMAND_EXPIRED: {
        Gongxu__V1__DemandChanged *x;
        NEW(&a, Gongxu__V1__DemandChanged, GONGXU__V1__DEMAND_CHANGED__INIT, x);
        if (!(x->demand = s_summary(&a, n->demand, n->demand_firm)))
            goto oom;
        x->still_eligible = n->still_eligible;
        x->awarded_to = s_s(n->awarded_to);
        x->awarded_quantity = n->awarded_quantity;
        if (n->type == GX_N_DEMAND_UPDATED)
            m->demand_updated = x;
        else if (n->type == GX_N_DEMAND_WITHDRAWN)
            m->demand_withdrawn = x;
        else if (n->type == GX_N_DEMAND_AWARDED)
            m->demand_awarded = x;
        else
            m->demand_expired = x;
        break;
    }
    case GX_N_OFFER_EXPIRED:
        NEW(&a, Gongxu__V1__OfferChanged, GONGXU__V1__OFFER_CHANGED__INIT, m->offer_expired);
        m->offer_expired->offer_id = n->offer_id;
        m->offer_expired->state = (Gongxu__V1__State)n->state;
        break;
    }
    err = s_pack(&e.base, out);
oom:
    s_arena_fini(&a);
    return err;
}

gx_err gx_codec_notice_at(const void *buf, size_t len, int64_t *at)
{
    s_env *e = gongxu__v1__envelope__unpack(NULL, len, buf);
    if (!e)
        return GX_ERR_MALFORMED;
    gx_err err = GX_ERR_MALFORMED;
    if (e->body_case == GONGXU__V1__ENVELOPE__BODY_NOTICE) {
        *at = e->notice->at;
        err = GX_OK;
    }
    gongxu__v1__envelope__free_unpacked(e, NULL);
    return err;
}

gx_err gx_codec_notice_refs(const void *buf, size_t len, uint64_t *demand_id, uint64_t *offer_id)
{
    *demand_id = *offer_id = 0;
    s_env *e = gongxu__v1__envelope__unpack(NULL, len, buf);
    if (!e)
        return GX_ERR_MALFORMED;
    gx_err err = GX_ERR_MALFORMED;
    const Gongxu__V1__Notice *n = e->body_case == GONGXU__V1__ENVELOPE__BODY_NOTICE ? e->notice : NULL;
    const Gongxu__V1__DemandSummary *ds = NULL;
    if (n) {
        err = GX_OK;
        switch (n->body_case) {
        case GONGXU__V1__NOTICE__BODY_CANDIDATE_ADDED:
            *demand_id = n->candidate_added->demand_id;
            *offer_id = n->candidate_added->candidate ? n->candidate_added->candidate->offer_id : 0;
            break;
        case GONGXU__V1__NOTICE__BODY_CANDIDATE_REMOVED:
            *demand_id = n->candidate_removed->demand_id;
            *offer_id = n->candidate_removed->offer_id;
            break;
        case GONGXU__V1__NOTICE__BODY_OPPORTUNITY:
            ds = n->opportunity->demand;
            *offer_id = n->opportunity->offer_id;
            break;
        case GONGXU__V1__NOTICE__BODY_NEAR_MISS:
            ds = n->near_miss->demand;
            *offer_id = n->near_miss->offer_id;
            break;
        case GONGXU__V1__NOTICE__BODY_INTEREST_RECEIVED:
            *demand_id = n->interest_received->demand_id;
            *offer_id = n->interest_received->offer_id;
            break;
        case GONGXU__V1__NOTICE__BODY_INTEREST_DECLINED:
            *demand_id = n->interest_declined->demand_id;
            break;
        case GONGXU__V1__NOTICE__BODY_DETAILS_RELEASED:
            *demand_id = n->details_released->demand_id;
            break;
        case GONGXU__V1__NOTICE__BODY_DEMAND_UPDATED:
        case GONGXU__V1__NOTICE__BODY_DEMAND_WITHDRAWN:
        case GONGXU__V1__NOTICE__BODY_DEMAND_AWARDED:
        case GONGXU__V1__NOTICE__BODY_DEMAND_EXPIRED:
            ds = n->demand_updated->demand; /* the four share DemandChanged */
            break;
        case GONGXU__V1__NOTICE__BODY_OFFER_EXPIRED:
            *offer_id = n->offer_expired->offer_id;
            break;
        default:
            err = GX_ERR_MALFORMED;
        }
    }
    if (ds)
        *demand_id = ds->id;
    gongxu__v1__envelope__free_unpacked(e, NULL);
    return err;
}

gx_err gx_codec_decode_monitor(const void *buf, size_t len, gx_monitor_event *ev, void **hold)
{
    Gongxu__V1__MonitorEvent *m = gongxu__v1__monitor_event__unpack(NULL, len, buf);
    *hold = m;
    memset(ev, 0, sizeof *ev);
    if (!m)
        return GX_ERR_MALFORMED;
    ev->at = m->at;
    ev->type = m->type;
    ev->demand_id = m->demand_id;
    ev->offer_id = m->offer_id;
    ev->kind = (int)m->kind >= 0 && (int)m->kind < GX_KIND__COUNT ? (gx_kind)m->kind : GX_KIND_NONE;
    ev->industry = m->industry && m->industry[0] ? m->industry : NULL;
    ev->district = m->district && m->district[0] ? m->district : NULL;
    ev->score = m->score;
    ev->rule = (int)m->rule >= 0 && (int)m->rule < GX_RULE__COUNT ? (gx_rule)m->rule : GX_RULE_NONE;
    ev->state = (int)m->state >= 0 && (int)m->state <= GX_STATE_EXPIRED ? (gx_state)m->state : GX_STATE_NONE;
    ev->detail = m->detail && m->detail[0] ? m->detail : NULL;
    ev->detail_zh = m->detail_zh && m->detail_zh[0] ? m->detail_zh : NULL;
    return GX_OK;
}

void gx_codec_monitor_release(void *hold)
{
    if (hold)
        gongxu__v1__monitor_event__free_unpacked(hold, NULL);
}

gx_err gx_codec_encode_monitor(const gx_monitor_event *ev, gx_buf *out)
{
    Gongxu__V1__MonitorEvent m = GONGXU__V1__MONITOR_EVENT__INIT;
    memset(out, 0, sizeof *out);
    m.at = ev->at;
    m.type = s_s(ev->type);
    m.demand_id = ev->demand_id;
    m.offer_id = ev->offer_id;
    m.kind = (Gongxu__V1__Kind)ev->kind;
    m.industry = s_s(ev->industry);
    m.district = s_s(ev->district);
    m.score = ev->score;
    m.rule = (Gongxu__V1__Rule)ev->rule;
    m.state = (Gongxu__V1__State)ev->state;
    m.detail = s_s(ev->detail);
    m.detail_zh = s_s(ev->detail_zh);
    return s_pack(&m.base, out);
}

/* ------------------------------------------------------------------ records */

#define S_ENCODE_RECORD(fn, T, build)                                                              \
    gx_err fn(const T *x, gx_buf *out)                                                             \
    {                                                                                              \
        s_arena a = {0};                                                                           \
        gx_err err = GX_ERR_NOMEM;                                                                 \
        memset(out, 0, sizeof *out);                                                               \
        const ProtobufCMessage *m = (const ProtobufCMessage *)(build);                             \
        if (m)                                                                                     \
            err = s_pack(m, out);                                                                  \
        s_arena_fini(&a);                                                                          \
        return err;                                                                                \
    }

S_ENCODE_RECORD(gx_codec_encode_firm, gx_firm, s_firm(&a, x, true))
S_ENCODE_RECORD(gx_codec_encode_demand, gx_demand, s_demand(&a, x, GX_VIEW_OWNER))
S_ENCODE_RECORD(gx_codec_encode_offer, gx_offer, s_offer(&a, x))
S_ENCODE_RECORD(gx_codec_encode_sub, gx_sub, s_sub(&a, x))

/* ------------------------------------------------------------ federation */

gx_err gx_codec_encode_fed(const gx_fed_msg *x, gx_buf *out)
{
    s_arena a = {0};
    gx_err err = GX_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    Gongxu__V1__FedMessage m = GONGXU__V1__FED_MESSAGE__INIT;
    m.origin_city = x->origin_city;
    m.kind = x->kind;
    m.origin_id = x->origin_id;
    m.revision = x->revision;
    m.state = (Gongxu__V1__State)x->state;
    if (x->demand && !(m.demand = s_demand(&a, x->demand, GX_VIEW_OWNER)))
        goto out;
    if (m.demand)
        m.demand->details = ""; /* confidential: crosses only after acceptance (not in slice 1) */
    if (x->offer && !(m.offer = s_offer(&a, x->offer)))
        goto out;
    if (x->owner) {
        if (!(m.owner = s_firm(&a, x->owner, false)))
            goto out;
        m.owner->language = ""; /* the public profile, and the track record its home city keeps */
        m.owner->home_city = x->origin_city;
    }
    m.dest_city = x->dest_city;
    m.firm_id = (char *)x->firm_id;
    m.offer_id = x->offer_id;
    m.quantity = x->quantity;
    m.sealed.data = x->sealed;
    m.sealed.len = x->sealed ? x->sealed_len : 0;
    if (x->has_key) {
        m.public_key.data = (uint8_t *)x->public_key;
        m.public_key.len = sizeof x->public_key;
    }
    err = s_pack(&m.base, out);
out:
    s_arena_fini(&a);
    return err;
}

gx_err gx_codec_decode_fed(const void *buf, size_t len, gx_fed_msg *out)
{
    static const gx_limits lim = {GX_FED_MAX_STRING, GX_FED_MAX_TEXT, GX_FED_MAX_REPEATED};
    char msg[160];
    s_dec d = {&lim, msg, sizeof msg, NULL, 0};
    memset(out, 0, sizeof *out);
    if (len > GX_FED_MAX_BYTES)
        return GX_ERR_MALFORMED;
    Gongxu__V1__FedMessage *m = gongxu__v1__fed_message__unpack(NULL, len, buf);
    if (!m)
        return GX_ERR_MALFORMED;
    gx_err err = GX_OK;
    out->origin_city = m->origin_city;
    out->kind = m->kind;
    out->origin_id = m->origin_id;
    out->revision = m->revision;
    if ((err = s_enum(&d, m->state, GX_STATE_EXPIRED, "fed.state")))
        goto out;
    out->state = (gx_state)m->state;
    if (m->demand) {
        if (!(out->demand = calloc(1, sizeof *out->demand)))
            err = GX_ERR_NOMEM;
        else
            err = s_dec_demand(&d, m->demand, out->demand);
    }
    if (!err && m->offer) {
        if (!(out->offer = calloc(1, sizeof *out->offer)))
            err = GX_ERR_NOMEM;
        else
            err = s_dec_offer(&d, m->offer, out->offer);
    }
    if (!err && m->owner) {
        if (!(out->owner = calloc(1, sizeof *out->owner)))
            err = GX_ERR_NOMEM;
        else
            err = s_dec_firm(&d, m->owner, out->owner);
    }
    out->dest_city = m->dest_city;
    out->offer_id = m->offer_id;
    out->quantity = m->quantity;
    if (!err)
        err = s_firm_id(&d, m->firm_id, "fed.firm_id", out->firm_id);
    if (!err && m->sealed.len) {
        if (!(out->sealed = malloc(m->sealed.len)))
            err = GX_ERR_NOMEM;
        else {
            memcpy(out->sealed, m->sealed.data, m->sealed.len);
            out->sealed_len = m->sealed.len;
        }
    }
    if (!err && m->public_key.len) {
        if (m->public_key.len != sizeof out->public_key)
            err = GX_ERR_MALFORMED;
        else {
            memcpy(out->public_key, m->public_key.data, sizeof out->public_key);
            out->has_key = true;
        }
    }
out:
    gongxu__v1__fed_message__free_unpacked(m, NULL);
    if (err)
        gx_codec_fed_fini(out);
    return err == GX_ERR_NOMEM ? err : err ? GX_ERR_MALFORMED : GX_OK;
}

void gx_codec_fed_fini(gx_fed_msg *m)
{
    if (m->demand) {
        gx_demand_fini(m->demand);
        free(m->demand);
    }
    if (m->offer) {
        gx_offer_fini(m->offer);
        free(m->offer);
    }
    if (m->owner) {
        gx_firm_fini(m->owner);
        free(m->owner);
    }
    free(m->sealed);
    memset(m, 0, sizeof *m);
}

gx_err gx_codec_encode_fed_sealed(const gx_fed_sealed *x, gx_buf *out)
{
    memset(out, 0, sizeof *out);
    Gongxu__V1__FedSealed m = GONGXU__V1__FED_SEALED__INIT;
    m.text = x->text ? x->text : "";
    m.name = x->name ? x->name : "";
    m.contact = x->contact ? x->contact : "";
    m.details = x->details ? x->details : "";
    m.kind = x->kind;
    m.origin_city = x->origin_city;
    m.dest_city = x->dest_city;
    m.demand_id = x->demand_id;
    m.firm_id = (char *)x->firm_id;
    m.offer_id = x->offer_id;
    m.quantity = x->quantity;
    m.reason = x->reason;
    s_arena a = {0};
    gx_err err = GX_ERR_NOMEM;
    if (x->profile) {
        if (!(m.profile = s_firm(&a, x->profile, false)))
            goto out;
        m.profile->language = ""; /* the public profile */
    }
    err = s_pack(&m.base, out);
out:
    s_arena_fini(&a);
    return err;
}

gx_err gx_codec_decode_fed_sealed(const void *buf, size_t len, const gx_limits *lim, gx_fed_sealed *out)
{
    char msg[160];
    s_dec d = {lim, msg, sizeof msg, NULL, 0};
    memset(out, 0, sizeof *out);
    Gongxu__V1__FedSealed *m = gongxu__v1__fed_sealed__unpack(NULL, len, buf);
    if (!m)
        return GX_ERR_MALFORMED;
    gx_err err = s_str(&d, m->text, true, "sealed.text", &out->text);
    if (!err)
        err = s_str(&d, m->name, false, "sealed.name", &out->name);
    if (!err)
        err = s_str(&d, m->contact, true, "sealed.contact", &out->contact);
    if (!err)
        err = s_str(&d, m->details, true, "sealed.details", &out->details);
    out->kind = m->kind;
    out->origin_city = m->origin_city;
    out->dest_city = m->dest_city;
    out->demand_id = m->demand_id;
    out->offer_id = m->offer_id;
    out->quantity = m->quantity;
    out->reason = m->reason;
    if (!err)
        err = s_firm_id(&d, m->firm_id, "sealed.firm_id", out->firm_id);
    if (!err && m->profile) {
        if (!(out->profile = calloc(1, sizeof *out->profile)))
            err = GX_ERR_NOMEM;
        else
            err = s_dec_firm(&d, m->profile, out->profile);
    }
    gongxu__v1__fed_sealed__free_unpacked(m, NULL);
    if (err)
        gx_codec_fed_sealed_fini(out);
    return err == GX_ERR_NOMEM ? err : err ? GX_ERR_MALFORMED : GX_OK;
}

void gx_codec_fed_sealed_fini(gx_fed_sealed *s)
{
    free(s->text);
    free(s->name);
    free(s->contact);
    free(s->details);
    if (s->profile) {
        gx_firm_fini(s->profile);
        free(s->profile);
    }
    memset(s, 0, sizeof *s);
}

#define S_DECODE_RECORD(fn, T, PB, unpack, free_unpacked, conv, fini)                              \
    gx_err fn(const void *buf, size_t len, T *out)                                                 \
    {                                                                                              \
        char msg[160];                                                                             \
        s_dec d = {NULL, msg, sizeof msg, NULL, 0};                                                \
        memset(out, 0, sizeof *out);                                                               \
        PB *m = unpack(NULL, len, buf);                                                            \
        if (!m)                                                                                    \
            return GX_ERR_MALFORMED;                                                               \
        gx_err err = conv(&d, m, out);                                                             \
        free_unpacked(m, NULL);                                                                    \
        if (err)                                                                                   \
            fini(out);                                                                             \
        return err == GX_ERR_NOMEM ? err : err ? GX_ERR_MALFORMED : GX_OK;                         \
    }

S_DECODE_RECORD(gx_codec_decode_firm, gx_firm, Gongxu__V1__Firm, gongxu__v1__firm__unpack,
                gongxu__v1__firm__free_unpacked, s_dec_firm, gx_firm_fini)
S_DECODE_RECORD(gx_codec_decode_demand, gx_demand, Gongxu__V1__Demand, gongxu__v1__demand__unpack,
                gongxu__v1__demand__free_unpacked, s_dec_demand, gx_demand_fini)
S_DECODE_RECORD(gx_codec_decode_offer, gx_offer, Gongxu__V1__Offer, gongxu__v1__offer__unpack,
                gongxu__v1__offer__free_unpacked, s_dec_offer, gx_offer_fini)
S_DECODE_RECORD(gx_codec_decode_sub, gx_sub, Gongxu__V1__Subscription, gongxu__v1__subscription__unpack,
                gongxu__v1__subscription__free_unpacked, s_dec_sub, gx_sub_fini)
