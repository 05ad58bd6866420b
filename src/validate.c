/* validate.c — domain checks against the vocabulary. See validate.h. */
#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uscc.h"

static gx_err s_fail(gx_verr *e, gx_err err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gx_err s_fail(gx_verr *e, gx_err err, const char *field, const char *fmt, ...)
{
    int n = snprintf(e->msg, sizeof e->msg, "%s: ", field);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof e->msg)
        vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    e->msg[gx_utf8_valid_prefix(e->msg, strlen(e->msg))] = 0; /* a cut must not split a character */
    snprintf(e->field, sizeof e->field, "%s", field);
    e->n_suggest = 0;
    return err;
}

/* s_fail for a code of class c that is not in the vocabulary, with the closest
 * ids as suggestions. */
static gx_err s_unknown(gx_verr *e, const gx_vocab *v, gx_vclass c, const char *term, const char *field,
                        const char *what)
{
    s_fail(e, GX_ERR_UNKNOWN_CODE, field, "unknown %s '%s'", what, term);
    e->n_suggest = gx_vocab_suggest(v, c, term, e->suggest, GX_VERR_SUGGEST);
    return GX_ERR_UNKNOWN_CODE;
}

static const char *const s_class_name[GX_V__COUNT] = {"process", "material", "industry code",
                                                      "county code", "zone", "certification scheme"};

/* Replaces *term by its canonical id in class c. */
static gx_err s_canon(const gx_vocab *v, gx_vclass c, char **term, const char *field, gx_verr *e)
{
    const char *id = gx_vocab_resolve(v, c, *term);
    if (!id)
        return s_unknown(e, v, c, *term, field, s_class_name[c]);
    if (strcmp(id, *term) != 0) {
        char *copy = strdup(id);
        if (!copy)
            return GX_ERR_NOMEM;
        free(*term);
        *term = copy;
    }
    return GX_OK;
}

static gx_err s_canon_v(const gx_vocab *v, gx_vclass c, gx_strv *sv, const char *field, gx_verr *e)
{
    for (uint32_t i = 0; i < sv->n; i++) {
        char f[96];
        snprintf(f, sizeof f, "%s[%u]", field, i);
        gx_err err = s_canon(v, c, &sv->v[i], f, e);
        if (err)
            return err;
        for (uint32_t j = 0; j < i; j++) /* an alias and its id given together */
            if (strcmp(sv->v[j], sv->v[i]) == 0)
                return s_fail(e, GX_ERR_INVALID, f, "'%s' is listed twice", sv->v[i]);
    }
    return GX_OK;
}

static gx_err s_ipc_v(gx_strv *sv, const char *field, gx_verr *e)
{
    for (uint32_t i = 0; i < sv->n; i++) {
        char norm[64], f[96];
        snprintf(f, sizeof f, "%s[%u]", field, i);
        if (gx_vocab_ipc_normalize(sv->v[i], norm, sizeof norm) != GX_OK)
            return s_fail(e, GX_ERR_INVALID, f,
                          "'%s' is not an IPC symbol: a section (H), class (H01), subclass (H01L), "
                          "main group (H01L 21/00) or subgroup (H01L 21/02)",
                          sv->v[i]);
        char *copy = strdup(norm);
        if (!copy)
            return GX_ERR_NOMEM;
        free(sv->v[i]);
        sv->v[i] = copy;
    }
    return GX_OK;
}

static gx_err s_text_default(char **s, const char *def)
{
    if (*s && **s)
        return GX_OK;
    free(*s);
    *s = strdup(def);
    return *s ? GX_OK : GX_ERR_NOMEM;
}

gx_err gx_validate_firm(const gx_vocab *v, gx_firm *f, bool override_check, gx_verr *e)
{
    gx_err err;
    if (!f->id[0])
        return s_fail(e, GX_ERR_INVALID, "firm.id", "required");
    if (!gx_uscc_syntax_ok(f->id))
        return s_fail(e, GX_ERR_INVALID, "firm.id",
                      "'%s' is not a Unified Social Credit Code (18 characters of 0-9 and A-Y without I O S V Z)",
                      f->id);
    if (!override_check && gx_uscc_validate(f->id) != GX_OK)
        return s_fail(e, GX_ERR_INVALID, "firm.id", "check character of '%s' should be '%c' (operators may override)",
                      f->id, gx_uscc_check_char(f->id));
    if (!f->name || !*f->name)
        return s_fail(e, GX_ERR_INVALID, "firm.name", "required");
    if (!f->county[0])
        return s_fail(e, GX_ERR_INVALID, "firm.county", "required");
    if (!gx_vocab_resolve(v, GX_V_COUNTY, f->county))
        return s_unknown(e, v, GX_V_COUNTY, f->county, "firm.county", "county code");
    if (f->zone) {
        if ((err = s_canon(v, GX_V_ZONE, &f->zone, "firm.zone", e)))
            return err;
        const char *zc = gx_vocab_zone_county(v, f->zone);
        if (zc && strcmp(zc, f->county) != 0)
            return s_fail(e, GX_ERR_INVALID, "firm.zone", "zone '%s' lies in county %s, not %s", f->zone, zc, f->county);
    }
    if (f->credit == GX_CREDIT_NONE)
        f->credit = GX_CREDIT_C;
    for (uint32_t i = 0; i < f->n_certs; i++) {
        char field[64];
        snprintf(field, sizeof field, "firm.certifications[%u].scheme", i);
        if ((err = s_canon(v, GX_V_CERT, &f->certs[i].scheme, field, e)))
            return err;
    }
    return GX_OK;
}

static gx_err s_validity(int64_t *expires_at, int64_t now, int64_t def, const char *field, gx_verr *e)
{
    if (*expires_at == 0)
        *expires_at = now + def;
    else if (*expires_at <= now)
        return s_fail(e, GX_ERR_INVALID, field, "%lld is not in the future", (long long)*expires_at);
    return GX_OK;
}

gx_err gx_validate_demand(const gx_vocab *v, gx_demand *d, int64_t now, int utc_offset_min, gx_verr *e)
{
    gx_err err;
    if (d->kind <= GX_KIND_NONE || d->kind >= GX_KIND__COUNT)
        return s_fail(e, GX_ERR_INVALID, "demand.kind", "required: parts_supply, processing, intermediate_goods, "
                                                       "tech_transfer or service_outsourcing");
    if (!d->industry)
        return s_fail(e, GX_ERR_INVALID, "demand.industry", "required (a GB/T 4754-2017 code such as C3670)");
    if ((err = s_canon(v, GX_V_INDUSTRY, &d->industry, "demand.industry", e)) ||
        (err = s_canon_v(v, GX_V_PROCESS, &d->processes, "demand.processes", e)) ||
        (err = s_canon_v(v, GX_V_MATERIAL, &d->materials, "demand.materials", e)) ||
        (err = s_canon_v(v, GX_V_CERT, &d->certs, "demand.certifications", e)) ||
        (err = s_ipc_v(&d->ipc, "demand.ipc", e)))
        return err;
    if (!(d->quantity > 0))
        return s_fail(e, GX_ERR_INVALID, "demand.quantity", "must be greater than 0");
    if (!d->needed_by)
        return s_fail(e, GX_ERR_INVALID, "demand.needed_by", "required (YYYY-MM-DD)");
    int32_t today = gx_date_of(now, utc_offset_min);
    if (d->needed_by < today) {
        char a[11], b[11];
        gx_date_format(d->needed_by, a);
        gx_date_format(today, b);
        return s_fail(e, GX_ERR_INVALID, "demand.needed_by", "%s is before today (%s)", a, b);
    }
    if (d->has_budget && d->budget_max > 0 && d->budget_min > d->budget_max)
        return s_fail(e, GX_ERR_INVALID, "demand.budget", "min %g is above max %g", d->budget_min, d->budget_max);
    if (d->min_trl > 9)
        return s_fail(e, GX_ERR_INVALID, "demand.min_trl", "%u is outside 1..9", d->min_trl);
    if (d->max_suppliers && !d->splittable)
        return s_fail(e, GX_ERR_INVALID, "demand.max_suppliers", "only a splittable demand has suppliers to count");
    if (d->min_credit == GX_CREDIT_D)
        return s_fail(e, GX_ERR_INVALID, "demand.min_credit", "D firms are never matched; use A, B or C");
    if (d->min_credit == GX_CREDIT_NONE)
        d->min_credit = GX_CREDIT_C;
    /* A demand can be met until the end of its needed-by day (lead time 0), so
     * by default it stays open exactly that long: never closed while a supplier
     * could still deliver, never open after no one can. */
    int64_t until_needed = ((int64_t)d->needed_by + 1) * 86400 - (int64_t)utc_offset_min * 60 - now;
    if ((err = s_validity(&d->expires_at, now, until_needed, "demand.expires_at", e)) ||
        (err = s_text_default(&d->unit, "pcs")))
        return err;
    return GX_OK;
}

gx_err gx_validate_offer(const gx_vocab *v, gx_offer *o, int64_t now, int64_t default_validity_s, gx_verr *e)
{
    gx_err err;
    if (!o->kinds)
        return s_fail(e, GX_ERR_INVALID, "offer.kinds", "required: at least one kind served");
    if ((err = s_canon_v(v, GX_V_INDUSTRY, &o->industries, "offer.industries", e)) ||
        (err = s_canon_v(v, GX_V_PROCESS, &o->processes, "offer.processes", e)) ||
        (err = s_canon_v(v, GX_V_MATERIAL, &o->materials, "offer.materials", e)) ||
        (err = s_ipc_v(&o->ipc, "offer.ipc", e)))
        return err;
    if (o->has_price && o->price_max > 0 && o->price_min > o->price_max)
        return s_fail(e, GX_ERR_INVALID, "offer.price", "min %g is above max %g", o->price_min, o->price_max);
    if (o->lead_time_days > 3650)
        return s_fail(e, GX_ERR_INVALID, "offer.lead_time_days", "%u is more than ten years", o->lead_time_days);
    if (o->trl > 9)
        return s_fail(e, GX_ERR_INVALID, "offer.trl", "%u is outside 1..9", o->trl);
    if ((o->kinds & ~GX_BIT(GX_KIND_TECH_TRANSFER)) && !(o->monthly_capacity > 0))
        return s_fail(e, GX_ERR_INVALID, "offer.monthly_capacity", "required for supply, processing and services");
    return s_validity(&o->expires_at, now, default_validity_s, "offer.expires_at", e);
}

gx_err gx_validate_sub(const gx_vocab *v, gx_sub *s, gx_verr *e)
{
    gx_err err;
    if ((err = s_canon_v(v, GX_V_INDUSTRY, &s->industries, "subscription.industry_prefixes", e)) ||
        (err = s_canon_v(v, GX_V_PROCESS, &s->processes, "subscription.process_prefixes", e)))
        return err;
    for (uint32_t i = 0; i < s->districts.n; i++) {
        char f[96];
        snprintf(f, sizeof f, "subscription.districts[%u]", i);
        if (gx_vocab_resolve(v, GX_V_COUNTY, s->districts.v[i]))
            continue;
        if ((err = s_canon(v, GX_V_ZONE, &s->districts.v[i], f, e)) && err != GX_ERR_UNKNOWN_CODE)
            return err;
        if (err) { /* the suggestions from either class */
            const char *zones[GX_VERR_SUGGEST];
            size_t nz = gx_vocab_suggest(v, GX_V_ZONE, s->districts.v[i], zones, GX_VERR_SUGGEST);
            s_unknown(e, v, GX_V_COUNTY, s->districts.v[i], f, "county code or zone");
            for (size_t j = 0; j < nz && e->n_suggest < GX_VERR_SUGGEST; j++)
                e->suggest[e->n_suggest++] = zones[j];
            return err;
        }
    }
    return GX_OK;
}
