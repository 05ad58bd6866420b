/* model.c — copies, release, names and dates for the domain types. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Copies an optional string; false only when allocation failed. */
static bool s_dup_into(char **dst, const char *src)
{
    *dst = s_dup(src);
    return src == NULL || *dst != NULL;
}

gx_err gx_strv_push(gx_strv *sv, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return GX_ERR_NOMEM;
    char **v = realloc(sv->v, (sv->n + 1) * sizeof *v);
    if (!v) {
        free(c);
        return GX_ERR_NOMEM;
    }
    v[sv->n++] = c;
    sv->v = v;
    return GX_OK;
}

bool gx_strv_has(const gx_strv *sv, const char *s)
{
    for (uint32_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

gx_err gx_strv_copy(gx_strv *dst, const gx_strv *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        gx_err err = gx_strv_push(dst, src->v[i]);
        if (err) {
            gx_strv_fini(dst);
            return err;
        }
    }
    return GX_OK;
}

void gx_strv_fini(gx_strv *sv)
{
    for (uint32_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

void gx_firm_certs_clear(gx_firm *f)
{
    for (uint32_t i = 0; i < f->n_certs; i++) {
        free(f->certs[i].scheme);
        free(f->certs[i].number);
    }
    free(f->certs);
    f->certs = NULL;
    f->n_certs = 0;
}

void gx_firm_fini(gx_firm *f)
{
    free(f->name);
    free(f->zone);
    free(f->contact);
    gx_firm_certs_clear(f);
    memset(f, 0, sizeof *f);
}

gx_err gx_firm_copy(gx_firm *dst, const gx_firm *src)
{
    *dst = *src;
    dst->name = dst->zone = dst->contact = NULL;
    dst->certs = NULL;
    dst->n_certs = 0;
    bool ok = s_dup_into(&dst->name, src->name) && s_dup_into(&dst->zone, src->zone) &&
              s_dup_into(&dst->contact, src->contact);
    if (ok && src->n_certs) {
        dst->certs = calloc(src->n_certs, sizeof *dst->certs);
        ok = dst->certs != NULL;
        for (uint32_t i = 0; ok && i < src->n_certs; i++) {
            dst->n_certs = i + 1;
            dst->certs[i].valid_until = src->certs[i].valid_until;
            ok = s_dup_into(&dst->certs[i].scheme, src->certs[i].scheme) &&
                 s_dup_into(&dst->certs[i].number, src->certs[i].number);
        }
    }
    if (!ok) {
        gx_firm_fini(dst);
        return GX_ERR_NOMEM;
    }
    return GX_OK;
}

void gx_demand_fini(gx_demand *d)
{
    free(d->industry);
    free(d->unit);
    free(d->title);
    free(d->summary);
    free(d->details);
    gx_strv_fini(&d->processes);
    gx_strv_fini(&d->materials);
    gx_strv_fini(&d->certs);
    gx_strv_fini(&d->ipc);
    memset(d, 0, sizeof *d);
}

gx_err gx_demand_copy(gx_demand *dst, const gx_demand *src)
{
    *dst = *src;
    dst->industry = dst->unit = dst->title = dst->summary = dst->details = NULL;
    memset(&dst->processes, 0, sizeof dst->processes);
    memset(&dst->materials, 0, sizeof dst->materials);
    memset(&dst->certs, 0, sizeof dst->certs);
    memset(&dst->ipc, 0, sizeof dst->ipc);
    bool ok = s_dup_into(&dst->industry, src->industry) && s_dup_into(&dst->unit, src->unit) &&
              s_dup_into(&dst->title, src->title) && s_dup_into(&dst->summary, src->summary) &&
              s_dup_into(&dst->details, src->details) &&
              gx_strv_copy(&dst->processes, &src->processes) == GX_OK &&
              gx_strv_copy(&dst->materials, &src->materials) == GX_OK &&
              gx_strv_copy(&dst->certs, &src->certs) == GX_OK &&
              gx_strv_copy(&dst->ipc, &src->ipc) == GX_OK;
    if (!ok) {
        gx_demand_fini(dst);
        return GX_ERR_NOMEM;
    }
    return GX_OK;
}

void gx_offer_fini(gx_offer *o)
{
    free(o->title);
    free(o->summary);
    gx_strv_fini(&o->industries);
    gx_strv_fini(&o->processes);
    gx_strv_fini(&o->materials);
    gx_strv_fini(&o->ipc);
    memset(o, 0, sizeof *o);
}

gx_err gx_offer_copy(gx_offer *dst, const gx_offer *src)
{
    *dst = *src;
    dst->title = dst->summary = NULL;
    memset(&dst->industries, 0, sizeof dst->industries);
    memset(&dst->processes, 0, sizeof dst->processes);
    memset(&dst->materials, 0, sizeof dst->materials);
    memset(&dst->ipc, 0, sizeof dst->ipc);
    bool ok = s_dup_into(&dst->title, src->title) && s_dup_into(&dst->summary, src->summary) &&
              gx_strv_copy(&dst->industries, &src->industries) == GX_OK &&
              gx_strv_copy(&dst->processes, &src->processes) == GX_OK &&
              gx_strv_copy(&dst->materials, &src->materials) == GX_OK &&
              gx_strv_copy(&dst->ipc, &src->ipc) == GX_OK;
    if (!ok) {
        gx_offer_fini(dst);
        return GX_ERR_NOMEM;
    }
    return GX_OK;
}

void gx_sub_fini(gx_sub *s)
{
    gx_strv_fini(&s->industries);
    gx_strv_fini(&s->processes);
    gx_strv_fini(&s->districts);
    memset(s, 0, sizeof *s);
}

gx_err gx_sub_copy(gx_sub *dst, const gx_sub *src)
{
    *dst = *src;
    memset(&dst->industries, 0, sizeof dst->industries);
    memset(&dst->processes, 0, sizeof dst->processes);
    memset(&dst->districts, 0, sizeof dst->districts);
    if (gx_strv_copy(&dst->industries, &src->industries) || gx_strv_copy(&dst->processes, &src->processes) ||
        gx_strv_copy(&dst->districts, &src->districts)) {
        gx_sub_fini(dst);
        return GX_ERR_NOMEM;
    }
    return GX_OK;
}

size_t gx_utf8_valid_prefix(const char *s, size_t n)
{
    size_t ok = 0;
    while (ok < n) {
        size_t len = 1;
        unsigned c = (unsigned char)s[ok];
        if (c >= 0xF0)
            len = 4;
        else if (c >= 0xE0)
            len = 3;
        else if (c >= 0xC0)
            len = 2;
        if (ok + len > n || !gx_utf8_valid(s + ok, len))
            break;
        ok += len;
    }
    return ok;
}

bool gx_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

const char *gx_firm_district(const gx_firm *f)
{
    return (f->zone && f->zone[0]) ? f->zone : f->county;
}

const char *gx_kind_name(gx_kind k)
{
    static const char *const names[] = {"none", "parts_supply", "processing", "intermediate_goods",
                                        "tech_transfer", "service_outsourcing"};
    return (k >= 0 && k < GX_KIND__COUNT) ? names[k] : "?";
}

const char *gx_state_name(gx_state s)
{
    static const char *const names[] = {"none", "open", "awarded", "withdrawn", "expired"};
    return (s >= 0 && s <= GX_STATE_EXPIRED) ? names[s] : "?";
}

const char *gx_rule_name(gx_rule r)
{
    static const char *const names[] = {"none",          "kind",      "process",   "material", "technology",
                                        "certification", "lead_time", "min_order", "capacity", "region",
                                        "distance",      "credit",    "price",     "validity"};
    return (r >= 0 && r < GX_RULE__COUNT) ? names[r] : "?";
}

const char *gx_term_name(gx_term t)
{
    static const char *const names[] = {"industry", "process",   "distance", "credit",
                                        "capacity", "lead_time", "price",    "track_record"};
    return (t >= 0 && t < GX_TERM__COUNT) ? names[t] : "?";
}

const char *gx_credit_name(gx_credit c)
{
    static const char *const names[] = {"-", "A", "B", "C", "D"};
    return (c >= 0 && c <= GX_CREDIT_D) ? names[c] : "?";
}

/* Days from civil date, after H. Hinnant's public-domain algorithm description. */
static int32_t s_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

static void s_civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)yoe + era * 400 + (*m <= 2);
}

gx_err gx_date_parse(const char *s, int32_t *days)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return GX_ERR_INVALID;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return GX_ERR_INVALID;
    int y = atoi(s);
    unsigned m = (unsigned)atoi(s + 5), d = (unsigned)atoi(s + 8);
    if (y < 2000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        return GX_ERR_INVALID;
    int32_t z = s_days_from_civil(y, m, d);
    int yy;
    unsigned mm, dd;
    s_civil_from_days(z, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) /* 2027-02-30 round-trips to March */
        return GX_ERR_INVALID;
    *days = z;
    return GX_OK;
}

void gx_date_format(int32_t days, char buf[11])
{
    int y;
    unsigned m, d;
    s_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
}

int32_t gx_date_of(int64_t now, int offset_min)
{
    int64_t t = now + (int64_t)offset_min * 60;
    int64_t d = t / 86400;
    if (t < 0 && t % 86400)
        d--;
    return (int32_t)d;
}

gx_err gx_grow(void *pp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return GX_OK;
    size_t nc = *cap ? *cap : 4;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / size)
            return GX_ERR_NOMEM;
        nc *= 2;
    }
    void *old;
    memcpy(&old, pp, sizeof old);
    void *p = realloc(old, nc * size);
    if (!p)
        return GX_ERR_NOMEM;
    memcpy(pp, &p, sizeof p);
    *cap = nc;
    return GX_OK;
}

uint64_t gx_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

uint64_t gx_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
