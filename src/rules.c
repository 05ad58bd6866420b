/* rules.c — the hard rules and the score for one demand/offer pair.
 *
 * Hard rules (DESIGN.md §3), every one evaluated for every pair, in gx_rule
 * order. "Today" is the civil date of `now` at opts->utc_offset_min (UTC+8 by
 * default), and days_until = needed_by - today, never below 0.
 *
 *   kind           the demand's kind is among the offer's kinds
 *   process        every required process is covered by an offered one: equal,
 *   material       or a dotted descendant ("casting.die.magnesium" covers
 *                  "casting.die"; "casting.dies" does not); materials likewise
 *   technology     only for TECH_TRANSFER demands or demands naming IPC codes,
 *                  a minimum TRL or transfer modes: each IPC code covered by
 *                  an offered one equal or below it in the IPC hierarchy
 *                  (gx_rules_ipc_covers: offer "H01L 21/02" covers "H", "H01",
 *                  "H01L", "H01L 21/00" and itself, not "H01L 21/027"), offer
 *                  TRL >= required, and one wanted mode offered
 *   certification  each required scheme held by the offer's firm with
 *                  valid_until >= today; expired certificates do not count
 *   lead_time      today + lead time <= needed_by
 *   min_order      offer minimum order <= demanded quantity; not applicable
 *                  to TECH_TRANSFER (gx_rules_applies: a licence has no
 *                  minimum order, and its quantity counts licences, not the
 *                  units of the offer's figures)
 *   capacity       splittable demands pass; otherwise monthly capacity x
 *                  days_until / 30 >= quantity; not applicable to
 *                  TECH_TRANSFER (a licence is not produced by the month)
 *   region         the demand's scope, measured from the demand firm, holds for
 *                  the offer firm, and the offer's service scope, measured from
 *                  the offer firm, holds for the demand firm (same district =
 *                  equal district, gx_rules_district: a firm's district is its
 *                  zone when that zone is one of opts->three_districts — the
 *                  development and demonstration zones, districts in their own
 *                  right — and its county otherwise, whatever park it sits in;
 *                  three districts = district listed in opts->three_districts;
 *                  same city / province = first 4 / 2 digits of the county
 *                  code; none or anywhere always holds)
 *   distance       great-circle distance within the demand's maximum and the
 *                  offer's service radius, each when set; when a limit is set
 *                  but either firm has no location the rule FAILS ("distance
 *                  unknown"), since a limit the broker cannot check is not met
 *   credit         supplier grade at least the demand's minimum (ungraded
 *                  suppliers and an unset minimum count as C); a firm graded D
 *                  on either side never passes
 *   price          unit price range and budget overlap when both are given (a
 *                  maximum of 0 is open-ended)
 *   validity       both postings OPEN and unexpired (expires_at 0 = never)
 *
 * A rule that does not apply to the demand's kind passes, its detail saying
 * "not applicable to <kind>". Details and hints are the catalogue's texts
 * (src/data/messages/server.tsv, server.rule.* and server.hint.*): English from
 * gx_rules_evaluate, either language from gx_rules_explain and
 * gx_rules_hint_in; hints read their values from the English details. Figures compared are printed with
 * enough digits that the printed values compare as the real ones do (a distance of 10.04 km against a 10 km
 * limit reads "10.04 km", never "10.0 km").
 *
 * Scoring. Every pair gets a score from 0 to 100: the weighted mean of eight
 * terms, each between 0 and 1, score = 100 x sum(w x t) / sum(w). Defaults
 * (weights sum to 100, so each weight is the term's share in points):
 *
 *   industry 15      closeness of GB/T 4754 codes, best over the offer's
 *                    codes: 1.0 when the offer's code equals or lies inside
 *                    the demand's (same class), 0.75 same group (first 4
 *                    characters), 0.5 same division (3), 0.25 same section
 *                    (letter), 0; 1.0 when the demand names no industry
 *   process 15       specificity: the mean, over required processes and
 *                    materials, of 1.0 when a covering offered term is more
 *                    specific than required, 0.8 when only an equal one
 *                    exists, 0 when uncovered; 1.0 when nothing is required
 *   distance 20      1 at 0 km falling linearly to 0 at distance_full_km
 *                    (default 100 km); 0.5 when a location is unknown
 *   credit 15        supplier grade A 1.0, B 0.7, C or ungraded 0.4, D 0
 *   capacity 10      headroom: min(1, r / 2) with r = capacity until
 *                    needed-by / quantity (so twice the need scores 1),
 *                    splittable demands alike; 1 when quantity is 0 or the
 *                    capacity rule does not apply (TECH_TRANSFER)
 *   lead_time 10     slack: (days_until - lead time) / days_until, clamped
 *                    to 0..1; 0 when the needed-by date is today or past
 *   price 10         0.5 without both a budget and a price; 1 when the
 *                    offer's maximum is within the budget's maximum; else
 *                    the fraction of the offer's range inside the budget
 *   track_record 5   min(1, awards won / 10)
 *
 * Pure: no I/O, no globals; any thread. */
#include "rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "prep.h"

#define S_EARTH_KM 6371.0088 /* IUGG mean Earth radius */

/* A bounded writer for one detail string; p NULL means details are off. */
typedef struct s_out {
    char *p;    /* destination, GX_DETAIL_MAX bytes, or NULL */
    size_t len; /* characters written so far */
} s_out;

/* What every rule needs to know about the pair. The figures are all the
 * numeric rules and the score read, so both ways of classifying share them;
 * the strings or the prepared records are for the rules on terms and places. */
typedef struct s_ctx {
    const gx_rules_opts *opts; /* weights, time zone, three districts */
    const gx_dfig *dn;         /* the demand's figures */
    const gx_ofig *on;         /* the offer's */
    const gx_ffig *dfn, *ofn;  /* the firms' */
    const gx_demand *d;        /* the demand (NULL when prepared) */
    const gx_firm *df;         /* its firm */
    const gx_offer *o;         /* the offer */
    const gx_firm *of;         /* its firm */
    const gx_prep_demand *pd;  /* the prepared demand (NULL from strings) */
    const gx_prep_firm *pdf;   /* its firm */
    const gx_prep_offer *po;   /* the prepared offer */
    const gx_prep_firm *pof;   /* its firm */
    int64_t now;               /* unix seconds */
    int32_t today;             /* civil date of now at the configured offset */
    int32_t days_until;        /* needed_by - today, >= 0 */
    double dist;               /* km, -1 when unknown */
    double cap_until;          /* capacity x days_until / 30 */
    const gx_rules_words *wd;  /* language and names of details; NULL: English, ids */
} s_ctx;

/* ------------------------------------------------------------------ helpers */

static void s_put(s_out *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends to the detail; on overflow ends the detail with "...". */
static void s_put(s_out *w, const char *fmt, ...)
{
    if (!w->p || w->len >= GX_DETAIL_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(w->p + w->len, GX_DETAIL_MAX - w->len, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    if ((size_t)r >= GX_DETAIL_MAX - w->len) {
        size_t end = GX_DETAIL_MAX - 4; /* "..." and the NUL; never inside a UTF-8 character */
        while (end > 0 && ((unsigned char)w->p[end] & 0xC0) == 0x80)
            end--;
        memcpy(w->p + end, "...", 4);
        w->len = GX_DETAIL_MAX - 1;
    } else {
        w->len += (size_t)r;
    }
}

/* The language of c's texts: English unless words say otherwise. */
static gx_lang s_lang(const s_ctx *c)
{
    return c->wd ? c->wd->lang : GX_LANG_EN;
}

static void s_putm(s_out *w, gx_lang lang, const char *id, ...) __attribute__((sentinel));

/* Appends catalogue message id (src/data/messages/server.tsv) in lang; the
 * args are name, value pairs ending in NULL. */
static void s_putm(s_out *w, gx_lang lang, const char *id, ...)
{
    if (!w->p)
        return;
    gx_msg_arg a[8];
    size_t k = 0;
    va_list ap;
    va_start(ap, id);
    for (const char *name; k < 8 && (name = va_arg(ap, const char *));) {
        a[k].name = name;
        a[k++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    char t[GX_DETAIL_MAX * 2];
    gx_msg_format(t, sizeof t, lang, id, a, k);
    s_put(w, "%s", t);
}

/* A word of the catalogue (prefix + name, e.g. "server.kind." "processing")
 * in lang; in English, or when the catalogue has no such word, name itself:
 * the English words are the wire's names. */
static const char *s_word(gx_lang lang, const char *prefix, const char *name, char *buf, size_t n)
{
    char id[GX_DETAIL_MAX + 64];
    snprintf(id, sizeof id, "%s%s", prefix, name);
    if (lang == GX_LANG_EN || !gx_msg_has(id))
        return name;
    gx_msg_format(buf, n, lang, id, NULL, 0);
    return buf;
}

/* The name of vocabulary term id of class cl in wd's language: the Chinese
 * name from the vocabulary, else (English, no vocabulary, an unknown term, a
 * certificate, or cl GX_V__COUNT for IPC codes) the id, which is what English
 * texts show. */
static const char *s_term(const gx_rules_words *wd, gx_vclass cl, const char *id)
{
    if (!wd || wd->lang == GX_LANG_EN || !wd->vocab || !id || cl >= GX_V__COUNT || cl == GX_V_CERT)
        return id; /* certificates go by their scheme in Chinese too: IATF16949 */
    const char *name = gx_vocab_name(wd->vocab, cl, id, true);
    return name && *name ? name : id;
}

/* A district (a zone id or a county code) by its name in c's language. */
static const char *s_place(const s_ctx *c, const char *district)
{
    const char *z = s_term(c->wd, GX_V_ZONE, district);
    return z != district ? z : s_term(c->wd, GX_V_COUNTY, district);
}

/* A quantity for humans: integral values without decimals, others with two. */
static const char *s_num(double x, char buf[32])
{
    if (fabs(x) < 1e15 && x == floor(x))
        snprintf(buf, 32, "%.0f", x);
    else
        snprintf(buf, 32, "%.2f", x);
    return buf;
}

/* A figure a posting gives (a limit, a quantity, a price) as s_num writes it
 * when that reads back as exactly x, else with the fewest decimals that do:
 * what a rule compares is printed as it is ("12.345", not "12.35"). */
static const char *s_exact(double x, char buf[32])
{
    s_num(x, buf);
    for (int p = 1; p <= 9 && strtod(buf, NULL) != x; p++)
        snprintf(buf, 32, "%.*f", p, x);
    if (strtod(buf, NULL) != x)
        snprintf(buf, 32, "%.17g", x);
    return buf;
}

/* A computed figure (a distance, a capacity) with at least `decimals`
 * decimals and as many more as it takes for the printed value to compare with
 * each of refs[0..n) — printed by s_exact — as x itself does: "10.04 km" against
 * a 10 km limit, never "10.0 km"; "9.96 km", never "10.0 km", within it. */
static const char *s_vs(double x, int decimals, const double *refs, size_t n, char buf[32])
{
    for (int p = decimals; p <= 12; p++) {
        snprintf(buf, 32, "%.*f", p, x);
        double v = strtod(buf, NULL);
        bool same = true;
        for (size_t i = 0; same && i < n; i++)
            same = (v < refs[i]) == (x < refs[i]) && (v > refs[i]) == (x > refs[i]);
        if (same)
            return buf;
    }
    snprintf(buf, 32, "%.17g", x);
    return buf;
}

/* " pcs" for a demand with a unit, "" otherwise. */
static const char *s_unit(const gx_demand *d, char buf[40])
{
    if (d->unit && d->unit[0])
        snprintf(buf, 40, " %.38s", d->unit);
    else
        buf[0] = '\0';
    return buf;
}

/* The terms of sv (their names in c's language, of class cl) joined into a
 * list in w; "none" when empty. */
static void s_put_list(const s_ctx *c, s_out *w, gx_vclass cl, const gx_strv *sv)
{
    if (!w->p)
        return;
    char sep[16];
    gx_msg_format(sep, sizeof sep, s_lang(c), "server.sep.list", NULL, 0);
    if (sv->n == 0)
        s_putm(w, s_lang(c), "server.none", NULL);
    for (uint32_t i = 0; i < sv->n; i++)
        s_put(w, "%s%s", i ? sep : "", s_term(c->wd, cl, sv->v[i]));
}

static const char *s_mode_name(unsigned m)
{
    static const char *const names[] = {"none", "licence", "assignment", "joint_development"};
    return m <= GX_MODE_JOINT_DEVELOPMENT ? names[m] : "?";
}

static void s_put_modes(const s_ctx *c, s_out *w, uint32_t modes)
{
    if (!w->p)
        return;
    char sep[16], word[64];
    gx_msg_format(sep, sizeof sep, s_lang(c), "server.sep.list", NULL, 0);
    bool any = false;
    for (unsigned m = GX_MODE_LICENCE; m <= GX_MODE_JOINT_DEVELOPMENT; m++)
        if (modes & GX_BIT(m)) {
            s_put(w, "%s%s", any ? sep : "",
                  s_word(s_lang(c), "server.mode.", s_mode_name(m), word, sizeof word));
            any = true;
        }
    if (!any)
        s_putm(w, s_lang(c), "server.none", NULL);
}

static const char *s_scope_name(gx_scope s)
{
    switch (s) {
    case GX_SCOPE_SAME_DISTRICT:
        return "same_district";
    case GX_SCOPE_THREE_DISTRICTS:
        return "three_districts";
    case GX_SCOPE_SAME_CITY:
        return "same_city";
    case GX_SCOPE_SAME_PROVINCE:
        return "same_province";
    default:
        return "anywhere";
    }
}

/* Effective credit: ungraded counts as C. */
static gx_credit s_credit_eff(gx_credit c)
{
    return (c >= GX_CREDIT_A && c <= GX_CREDIT_D) ? c : GX_CREDIT_C;
}

static double s_clamp01(double x)
{
    if (!(x > 0)) /* also NaN */
        return 0;
    return x > 1 ? 1 : x;
}

bool gx_rules_term_covers(const char *have, const char *want)
{
    if (!have || !want || !want[0])
        return false;
    size_t n = strlen(want);
    return strncmp(have, want, n) == 0 && (have[n] == '\0' || have[n] == '.');
}

bool gx_rules_ipc_covers(const char *have, const char *want)
{
    if (!have || !want || !want[0])
        return false;
    size_t n = strlen(want);
    if (n <= 4) /* section, class, subclass: every code that starts with it */
        return strncmp(have, want, n) == 0;
    if (n > 3 && strcmp(want + n - 3, "/00") == 0) /* main group: "H01L 21/" and any subgroup */
        return strncmp(have, want, n - 2) == 0 && have[n - 2] != '\0';
    return strcmp(have, want) == 0; /* a subgroup: itself only */
}

double gx_rules_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a =
        sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    if (a > 1)
        a = 1;
    return 2 * S_EARTH_KM * atan2(sqrt(a), sqrt(1 - a));
}

void gx_rules_opts_default(gx_rules_opts *o)
{
    static const double w[GX_TERM__COUNT] = {
        [GX_TERM_INDUSTRY] = 15, [GX_TERM_PROCESS] = 15,     [GX_TERM_DISTANCE] = 20,
        [GX_TERM_CREDIT] = 15,   [GX_TERM_CAPACITY] = 10,    [GX_TERM_LEAD_TIME] = 10,
        [GX_TERM_PRICE] = 10,    [GX_TERM_TRACK_RECORD] = 5,
    };
    memset(o, 0, sizeof *o);
    memcpy(o->weights, w, sizeof w);
    o->utc_offset_min = 480;
    o->three_districts = NULL;
    o->n_three_districts = 0;
    o->distance_full_km = 100;
}

bool gx_rules_excluded(const gx_firm *demand_firm, const gx_firm *offer_firm)
{
    return strcmp(demand_firm->id, offer_firm->id) == 0 || demand_firm->credit == GX_CREDIT_D ||
           offer_firm->credit == GX_CREDIT_D;
}

/* ------------------------------------------------------------------ figures */

void gx_rules_dfig(const gx_demand *d, gx_dfig *out)
{
    *out = (gx_dfig){
        .kind = d->kind,
        .state = d->state,
        .expires_at = d->expires_at,
        .quantity = d->quantity,
        .needed_by = d->needed_by,
        .has_budget = d->has_budget,
        .splittable = d->splittable,
        .tech = d->kind == GX_KIND_TECH_TRANSFER || d->ipc.n || d->min_trl || d->modes,
        .budget_min = d->budget_min,
        .budget_max = d->budget_max,
        .min_credit = d->min_credit,
        .scope = d->scope,
        .max_distance_km = d->max_distance_km,
        .min_trl = d->min_trl,
        .modes = d->modes,
    };
}

void gx_rules_ofig(const gx_offer *o, gx_ofig *out)
{
    *out = (gx_ofig){
        .kinds = o->kinds,
        .state = o->state,
        .expires_at = o->expires_at,
        .monthly_capacity = o->monthly_capacity,
        .min_order = o->min_order,
        .lead_time_days = o->lead_time_days,
        .has_price = o->has_price,
        .price_min = o->price_min,
        .price_max = o->price_max,
        .service_scope = o->service_scope,
        .service_radius_km = o->service_radius_km,
        .trl = o->trl,
        .modes = o->modes,
    };
}

void gx_rules_ffig(const gx_firm *f, gx_ffig *out)
{
    *out = (gx_ffig){.credit = f->credit,
                     .awards = f->awards,
                     .has_location = f->has_location,
                     .lat = f->lat,
                     .lon = f->lon};
}

/* The verdicts of the rules on figures, shared by both ways of classifying. */

static bool s_ok_kind(const s_ctx *c)
{
    gx_kind k = c->dn->kind;
    return k > GX_KIND_NONE && k < GX_KIND__COUNT && (c->on->kinds & GX_BIT(k));
}

static bool s_ok_trl(const s_ctx *c)
{
    return c->on->trl >= c->dn->min_trl;
}

static bool s_ok_mode(const s_ctx *c)
{
    return c->dn->modes == 0 || (c->dn->modes & c->on->modes) != 0;
}

static bool s_ok_lead_time(const s_ctx *c)
{
    return (int64_t)c->today + c->on->lead_time_days <= c->dn->needed_by;
}

static bool s_ok_min_order(const s_ctx *c)
{
    return !gx_rules_applies(c->dn->kind, GX_RULE_MIN_ORDER) || c->on->min_order <= c->dn->quantity;
}

static bool s_ok_capacity(const s_ctx *c)
{
    return !gx_rules_applies(c->dn->kind, GX_RULE_CAPACITY) || c->dn->splittable ||
           c->cap_until >= c->dn->quantity;
}

static bool s_ok_distance(const s_ctx *c)
{
    double dmax = c->dn->max_distance_km, orad = c->on->service_radius_km;
    if (c->dist < 0)
        return !(dmax > 0 || orad > 0);
    return !(dmax > 0 && c->dist > dmax) && !(orad > 0 && c->dist > orad);
}

/* Effective required grade: unset or D count as C. */
static gx_credit s_credit_need(const s_ctx *c)
{
    gx_credit need = s_credit_eff(c->dn->min_credit);
    return need == GX_CREDIT_D ? GX_CREDIT_C : need;
}

static bool s_ok_credit(const s_ctx *c)
{
    return c->ofn->credit != GX_CREDIT_D && c->dfn->credit != GX_CREDIT_D &&
           s_credit_eff(c->ofn->credit) <= s_credit_need(c);
}

static bool s_ok_price(const s_ctx *c)
{
    if (!c->dn->has_budget || !c->on->has_price)
        return true;
    double dmax = c->dn->budget_max > 0 ? c->dn->budget_max : HUGE_VAL;
    double omax = c->on->price_max > 0 ? c->on->price_max : HUGE_VAL;
    return c->on->price_min <= dmax && c->dn->budget_min <= omax;
}

static bool s_open(gx_state st, int64_t expires_at, int64_t now)
{
    return st == GX_STATE_OPEN && (expires_at == 0 || expires_at > now);
}

static bool s_ok_validity(const s_ctx *c)
{
    return s_open(c->dn->state, c->dn->expires_at, c->now) && s_open(c->on->state, c->on->expires_at, c->now);
}

/* ------------------------------------------------------------------ rules */

static bool s_rule_kind(const s_ctx *c, s_out *w)
{
    gx_kind k = c->d->kind;
    bool ok = s_ok_kind(c);
    if (!w->p)
        return ok;
    char offers[GX_DETAIL_MAX] = "", sep[16], word[64], need[64];
    s_out lw = {.p = offers};
    gx_msg_format(sep, sizeof sep, s_lang(c), "server.sep.list", NULL, 0);
    bool any = false;
    for (unsigned i = 1; i < GX_KIND__COUNT; i++)
        if (c->o->kinds & GX_BIT(i)) {
            s_put(&lw, "%s%s", any ? sep : "",
                  s_word(s_lang(c), "server.kind.", gx_kind_name((gx_kind)i), word, sizeof word));
            any = true;
        }
    if (!any)
        s_putm(&lw, s_lang(c), "server.none", NULL);
    s_putm(w, s_lang(c), "server.rule.kind", "need",
           s_word(s_lang(c), "server.kind.", gx_kind_name(k), need, sizeof need), "offers", offers, NULL);
    return ok;
}

static bool s_covered(const gx_strv *have, const char *want)
{
    for (uint32_t i = 0; i < have->n; i++)
        if (gx_rules_term_covers(have->v[i], want))
            return true;
    return false;
}

/* Process and material: every wanted term covered by a held one. */
/* Process and material: every wanted term covered by a held one. */
static bool s_rule_terms(const s_ctx *c, gx_vclass cl, const gx_strv *want, const gx_strv *have, s_out *w)
{
    bool ok = true;
    for (uint32_t i = 0; ok && i < want->n; i++)
        ok = s_covered(have, want->v[i]);
    if (!w->p)
        return ok;
    if (want->n == 0) {
        s_putm(w, s_lang(c), "server.rule.terms.none", NULL);
        return ok;
    }
    char a[GX_DETAIL_MAX] = "", b[GX_DETAIL_MAX] = "", sep[16];
    s_out aw = {.p = a}, bw = {.p = b};
    gx_msg_format(sep, sizeof sep, s_lang(c), "server.sep.list", NULL, 0);
    s_put_list(c, &bw, cl, have);
    if (ok) {
        s_put_list(c, &aw, cl, want);
        s_putm(w, s_lang(c), "server.rule.terms.ok", "want", a, "have", b, NULL);
    } else {
        bool first = true;
        for (uint32_t i = 0; i < want->n; i++)
            if (!s_covered(have, want->v[i])) {
                s_put(&aw, "%s%s", first ? "" : sep, s_term(c->wd, cl, want->v[i]));
                first = false;
            }
        s_putm(w, s_lang(c), "server.rule.terms.missing", "missing", a, "have", b, NULL);
    }
    return ok;
}

static bool s_ipc_covered(const gx_strv *have, const char *want)
{
    for (uint32_t i = 0; i < have->n; i++)
        if (gx_rules_ipc_covers(have->v[i], want))
            return true;
    return false;
}

static bool s_rule_technology(const s_ctx *c, s_out *w)
{
    const gx_demand *d = c->d;
    const gx_offer *o = c->o;
    gx_lang lang = s_lang(c);
    if (!c->dn->tech) {
        s_putm(w, lang, "server.rule.tech.none", NULL);
        return true;
    }
    bool ipc_ok = true;
    for (uint32_t i = 0; ipc_ok && i < d->ipc.n; i++)
        ipc_ok = s_ipc_covered(&o->ipc, d->ipc.v[i]);
    bool trl_ok = s_ok_trl(c);
    bool mode_ok = s_ok_mode(c);
    if (w->p) {
        char a[GX_DETAIL_MAX] = "", b[GX_DETAIL_MAX] = "", sep[16], part[16], x[16], y[16];
        s_out aw = {.p = a}, bw = {.p = b};
        gx_msg_format(sep, sizeof sep, lang, "server.sep.list", NULL, 0);
        gx_msg_format(part, sizeof part, lang, "server.sep.part", NULL, 0);
        if (d->ipc.n == 0) {
            s_putm(w, lang, "server.rule.tech.ipc_any", NULL);
        } else if (ipc_ok) {
            s_put_list(c, &aw, GX_V__COUNT, &d->ipc);
            s_putm(w, lang, "server.rule.tech.ipc_ok", "ipc", a, NULL);
        } else {
            bool first = true;
            for (uint32_t i = 0; i < d->ipc.n; i++)
                if (!s_ipc_covered(&o->ipc, d->ipc.v[i])) {
                    s_put(&aw, "%s%s", first ? "" : sep, d->ipc.v[i]);
                    first = false;
                }
            s_put_list(c, &bw, GX_V__COUNT, &o->ipc);
            s_putm(w, lang, "server.rule.tech.ipc_missing", "missing", a, "have", b, NULL);
        }
        s_put(w, "%s", part);
        snprintf(x, sizeof x, "%u", o->trl);
        snprintf(y, sizeof y, "%u", d->min_trl);
        s_putm(w, lang,
               d->min_trl == 0 ? "server.rule.tech.trl_any"
               : trl_ok        ? "server.rule.tech.trl_ok"
                               : "server.rule.tech.trl_low",
               "have", x, "need", y, NULL);
        s_put(w, "%s", part);
        a[0] = b[0] = '\0';
        aw.len = bw.len = 0;
        if (d->modes == 0) {
            s_putm(w, lang, "server.rule.tech.mode_any", NULL);
        } else if (mode_ok) {
            s_put_modes(c, &aw, d->modes & o->modes);
            s_putm(w, lang, "server.rule.tech.mode_ok", "modes", a, NULL);
        } else {
            s_put_modes(c, &aw, d->modes);
            s_put_modes(c, &bw, o->modes);
            s_putm(w, lang, "server.rule.tech.mode_missing", "modes", a, "have", b, NULL);
        }
    }
    return ipc_ok && trl_ok && mode_ok;
}

/* 1 held and valid today, -1 held but expired (*until set), 0 not held. */
static int s_cert_state(const gx_firm *f, const char *scheme, int32_t today, int32_t *until)
{
    int st = 0;
    for (uint32_t i = 0; i < f->n_certs; i++) {
        if (!f->certs[i].scheme || strcmp(f->certs[i].scheme, scheme) != 0)
            continue;
        if (f->certs[i].valid_until >= today)
            return 1;
        st = -1;
        *until = f->certs[i].valid_until;
    }
    return st;
}

static bool s_rule_cert(const s_ctx *c, s_out *w)
{
    const gx_strv *want = &c->d->certs;
    gx_lang lang = s_lang(c);
    int32_t until = 0;
    bool ok = true;
    for (uint32_t i = 0; ok && i < want->n; i++)
        ok = s_cert_state(c->of, want->v[i], c->today, &until) == 1;
    if (!w->p)
        return ok;
    if (want->n == 0) {
        s_putm(w, lang, "server.rule.terms.none", NULL);
        return ok;
    }
    char miss[GX_DETAIL_MAX] = "", req[GX_DETAIL_MAX] = "", held[GX_DETAIL_MAX] = "", sep[16], part[16];
    s_out mw = {.p = miss}, rw = {.p = req}, hw = {.p = held};
    gx_msg_format(sep, sizeof sep, lang, "server.sep.list", NULL, 0);
    gx_msg_format(part, sizeof part, lang, "server.sep.part", NULL, 0);
    bool first = true;
    for (uint32_t i = 0; !ok && i < want->n; i++)
        if (s_cert_state(c->of, want->v[i], c->today, &until) != 1) {
            s_put(&mw, "%s%s", first ? "" : sep, s_term(c->wd, GX_V_CERT, want->v[i]));
            first = false;
        }
    s_put_list(c, &rw, GX_V_CERT, want);
    bool any = false;
    for (uint32_t i = 0; i < c->of->n_certs; i++)
        if (c->of->certs[i].scheme && c->of->certs[i].valid_until >= c->today) {
            s_put(&hw, "%s%s", any ? sep : "", s_term(c->wd, GX_V_CERT, c->of->certs[i].scheme));
            any = true;
        }
    if (!any)
        s_putm(&hw, lang, "server.none", NULL);
    if (ok)
        s_putm(w, lang, "server.rule.cert.ok", "want", req, "held", held, NULL);
    else
        s_putm(w, lang, "server.rule.cert.missing", "missing", miss, "want", req, "held", held, NULL);
    for (uint32_t i = 0; i < want->n; i++)
        if (s_cert_state(c->of, want->v[i], c->today, &until) == -1) {
            char date[11];
            gx_date_format(until, date);
            s_put(w, "%s", part);
            s_putm(w, lang, "server.rule.cert.expired", "cert", s_term(c->wd, GX_V_CERT, want->v[i]), "date",
                   date, NULL);
        }
    return ok;
}

static bool s_rule_lead_time(const s_ctx *c, s_out *w)
{
    int64_t ready = (int64_t)c->today + c->o->lead_time_days;
    bool ok = s_ok_lead_time(c);
    if (!w->p)
        return ok;
    gx_lang lang = s_lang(c);
    char needed[11], today[11], rd[64], lead[16], part[16];
    gx_date_format(c->d->needed_by, needed);
    gx_date_format(c->today, today);
    if (ready <= INT32_MAX)
        gx_date_format((int32_t)ready, rd);
    else
        gx_msg_format(rd, sizeof rd, lang, "server.never", NULL, 0);
    snprintf(lead, sizeof lead, "%u", c->o->lead_time_days);
    gx_msg_format(part, sizeof part, lang, "server.sep.part", NULL, 0);
    s_putm(w, lang, "server.rule.lead.line", "needed", needed, "today", today, "lead", lead, "ready", rd,
           NULL);
    if (!ok) {
        char late[32];
        snprintf(late, sizeof late, "%lld", (long long)(ready - c->d->needed_by));
        s_put(w, "%s", part);
        s_putm(w, lang, "server.rule.lead.late", "days", late, NULL);
        if (c->d->needed_by < c->today) {
            s_put(w, "%s", part);
            s_putm(w, lang, "server.rule.lead.passed", NULL);
        }
    }
    return ok;
}

bool gx_rules_applies(gx_kind kind, gx_rule r)
{
    return !(kind == GX_KIND_TECH_TRANSFER && (r == GX_RULE_MIN_ORDER || r == GX_RULE_CAPACITY));
}

static bool s_rule_min_order(const s_ctx *c, s_out *w)
{
    char k[64];
    if (!gx_rules_applies(c->d->kind, GX_RULE_MIN_ORDER)) {
        s_putm(w, s_lang(c), "server.rule.min_order.na", "kind",
               s_word(s_lang(c), "server.kind.", gx_kind_name(c->d->kind), k, sizeof k), NULL);
        return true;
    }
    bool ok = s_ok_min_order(c);
    if (w->p) {
        char a[32], b[32], u[40];
        s_unit(c->d, u);
        s_putm(w, s_lang(c), "server.rule.min_order.line", "min", s_exact(c->o->min_order, a), "unit", u,
               "qty", s_exact(c->d->quantity, b), NULL);
    }
    return ok;
}

static bool s_rule_capacity(const s_ctx *c, s_out *w)
{
    char k[64];
    if (!gx_rules_applies(c->d->kind, GX_RULE_CAPACITY)) {
        s_putm(w, s_lang(c), "server.rule.capacity.na", "kind",
               s_word(s_lang(c), "server.kind.", gx_kind_name(c->d->kind), k, sizeof k), NULL);
        return true;
    }
    bool ok = s_ok_capacity(c);
    if (w->p) {
        char a[32], b[32], q[32], u[40], date[11], days[16], part[16];
        s_unit(c->d, u);
        if (c->d->splittable) {
            gx_msg_format(part, sizeof part, s_lang(c), "server.sep.part", NULL, 0);
            s_putm(w, s_lang(c), "server.rule.capacity.split", NULL);
            s_put(w, "%s", part);
        }
        double x = c->cap_until;
        gx_date_format(c->d->needed_by, date);
        snprintf(days, sizeof days, "%d", c->days_until);
        s_putm(w, s_lang(c), "server.rule.capacity.line", "cap",
               s_vs(x, x == floor(x) ? 0 : 2, &c->d->quantity, 1, a), "unit", u, "date", date, "monthly",
               s_exact(c->o->monthly_capacity, b), "days", days, "qty", s_exact(c->d->quantity, q), NULL);
    }
    return ok;
}

bool gx_rules_in_three(const gx_rules_opts *opts, const char *district)
{
    for (size_t i = 0; i < opts->n_three_districts; i++)
        if (opts->three_districts[i] && strcmp(opts->three_districts[i], district) == 0)
            return true;
    return false;
}

const char *gx_rules_district(const gx_rules_opts *opts, const gx_firm *f)
{
    return f->zone && f->zone[0] && gx_rules_in_three(opts, f->zone) ? f->zone : f->county;
}

static bool s_prefix_eq(const char *a, const char *b, size_t n)
{
    return strlen(a) >= n && strlen(b) >= n && strncmp(a, b, n) == 0;
}

/* Whether firm `other` lies within `scope` measured from firm `home`. */
static bool s_in_scope(const gx_rules_opts *opts, gx_scope scope, const gx_firm *home, const gx_firm *other)
{
    const char *hd = gx_rules_district(opts, home), *od = gx_rules_district(opts, other);
    switch (scope) {
    case GX_SCOPE_SAME_DISTRICT:
        return od[0] && strcmp(hd, od) == 0;
    case GX_SCOPE_THREE_DISTRICTS:
        return gx_rules_in_three(opts, od);
    case GX_SCOPE_SAME_CITY:
        return s_prefix_eq(home->county, other->county, 4);
    case GX_SCOPE_SAME_PROVINCE:
        return s_prefix_eq(home->county, other->county, 2);
    default:
        return true;
    }
}

/* One side of the region rule: "demand scope same_city: offer firm 410611 vs 410602 (outside)". */
/* One side of the region rule: "demand scope same_city: offer firm 410611 vs 410602 (outside)". */
static void s_put_scope(const s_ctx *c, s_out *w, bool demand_side, gx_scope scope, const gx_firm *home,
                        const gx_firm *other, bool ok)
{
    if (!w->p)
        return;
    const gx_rules_opts *opts = c->opts;
    gx_lang lang = s_lang(c);
    char word[64];
    s_putm(w, lang, demand_side ? "server.rule.region.demand" : "server.rule.region.offer", "scope",
           s_word(lang, "server.scope.", s_scope_name(scope), word, sizeof word), NULL);
    const char *in2 = demand_side ? "server.rule.region.in2.offer" : "server.rule.region.in2.demand";
    const char *in1 = demand_side ? "server.rule.region.in1.offer" : "server.rule.region.in1.demand";
    switch (scope) {
    case GX_SCOPE_SAME_DISTRICT:
        s_putm(w, lang, in2, "there", s_place(c, gx_rules_district(opts, other)), "here",
               s_place(c, gx_rules_district(opts, home)), NULL);
        break;
    case GX_SCOPE_THREE_DISTRICTS:
        s_putm(w, lang, in1, "there", s_place(c, gx_rules_district(opts, other)), NULL);
        break;
    case GX_SCOPE_SAME_CITY:
    case GX_SCOPE_SAME_PROVINCE:
        s_putm(w, lang, in2, "there", s_place(c, other->county), "here", s_place(c, home->county), NULL);
        break;
    default:
        break;
    }
    if (!ok)
        s_putm(w, lang, "server.rule.region.outside", NULL);
}

static bool s_rule_region(const s_ctx *c, s_out *w)
{
    bool dok = s_in_scope(c->opts, c->d->scope, c->df, c->of);
    bool ook = s_in_scope(c->opts, c->o->service_scope, c->of, c->df);
    if (w->p) {
        char part[16];
        gx_msg_format(part, sizeof part, s_lang(c), "server.sep.part", NULL, 0);
        s_put_scope(c, w, true, c->d->scope, c->df, c->of, dok);
        s_put(w, "%s", part);
        s_put_scope(c, w, false, c->o->service_scope, c->of, c->df, ook);
    }
    return dok && ook;
}

static bool s_rule_distance(const s_ctx *c, s_out *w)
{
    double dmax = c->d->max_distance_km, orad = c->o->service_radius_km;
    bool limited = dmax > 0 || orad > 0;
    bool ok = s_ok_distance(c);
    if (!w->p)
        return ok;
    gx_lang lang = s_lang(c);
    char part[16];
    gx_msg_format(part, sizeof part, lang, "server.sep.part", NULL, 0);
    if (c->dist < 0) {
        const char *id = !c->df->has_location && !c->of->has_location ? "server.rule.distance.unknown.neither"
                         : !c->df->has_location                       ? "server.rule.distance.unknown.demand"
                                                                      : "server.rule.distance.unknown.offer";
        s_putm(w, lang, id, NULL);
    } else {
        double lim[2];
        size_t n = 0;
        if (dmax > 0)
            lim[n++] = dmax;
        if (orad > 0)
            lim[n++] = orad;
        char a[32];
        s_putm(w, lang, "server.rule.distance.km", "km", s_vs(c->dist, 1, lim, n, a), NULL);
    }
    char b[32];
    if (dmax > 0) {
        s_put(w, "%s", part);
        s_putm(w, lang, "server.rule.distance.limit", "km", s_exact(dmax, b), NULL);
    }
    if (orad > 0) {
        s_put(w, "%s", part);
        s_putm(w, lang, "server.rule.distance.radius", "km", s_exact(orad, b), NULL);
    }
    if (!limited) {
        s_put(w, "%s", part);
        s_putm(w, lang, "server.rule.distance.none", NULL);
    }
    return ok;
}

static bool s_rule_credit(const s_ctx *c, s_out *w)
{
    gx_credit need = s_credit_need(c);
    bool ok = s_ok_credit(c);
    if (!w->p)
        return ok;
    gx_lang lang = s_lang(c);
    s_putm(w, lang, "server.rule.credit.line", "need", gx_credit_name(need), "grade",
           gx_credit_name(c->of->credit), NULL);
    if (c->of->credit == GX_CREDIT_NONE)
        s_putm(w, lang, "server.rule.credit.counts_c", NULL);
    if (c->of->credit == GX_CREDIT_D)
        s_putm(w, lang, "server.rule.credit.penalty", NULL);
    if (c->df->credit == GX_CREDIT_D) {
        char part[16];
        s_put(w, "%s", gx_msg(part, sizeof part, lang, "server.sep.part", NULL));
        s_putm(w, lang, "server.rule.credit.demand_d", NULL);
    }
    return ok;
}

/* A price range "12-14 CNY" (or "12+ CNY") in lang into buf. */
static const char *s_range(gx_lang lang, double lo, double hi, char *buf, size_t n)
{
    char a[32], b[32];
    if (hi > 0)
        gx_msg(buf, n, lang, "server.rule.price.range", "min", s_exact(lo, a), "max", s_exact(hi, b), NULL);
    else
        gx_msg(buf, n, lang, "server.rule.price.from", "min", s_exact(lo, a), NULL);
    return buf;
}

static bool s_rule_price(const s_ctx *c, s_out *w)
{
    const gx_demand *d = c->d;
    const gx_offer *o = c->o;
    gx_lang lang = s_lang(c);
    char p[96], b[96];
    if (!d->has_budget || !o->has_price) {
        if (!w->p)
            return true;
        if (!d->has_budget && !o->has_price)
            s_putm(w, lang, "server.rule.price.neither", NULL);
        else if (d->has_budget)
            s_putm(w, lang, "server.rule.price.no_price", "budget",
                   s_range(lang, d->budget_min, d->budget_max, b, sizeof b), NULL);
        else
            s_putm(w, lang, "server.rule.price.no_budget", "price",
                   s_range(lang, o->price_min, o->price_max, p, sizeof p), NULL);
        return true;
    }
    bool ok = s_ok_price(c);
    if (!w->p)
        return ok;
    s_putm(w, lang, "server.rule.price.line", "price", s_range(lang, o->price_min, o->price_max, p, sizeof p),
           "budget", s_range(lang, d->budget_min, d->budget_max, b, sizeof b), NULL);
    if (!ok) {
        s_put(w, "%s", gx_msg(p, sizeof p, lang, "server.sep.part", NULL));
        s_putm(w, lang, "server.rule.price.no_overlap", NULL);
    }
    return ok;
}

static void s_put_validity(const s_ctx *c, s_out *w, bool demand_side, gx_state st, int64_t expires_at)
{
    if (!w->p)
        return;
    gx_lang lang = s_lang(c);
    char id[48], word[64], date[11];
    const char *side = demand_side ? "demand" : "offer";
    if (st != GX_STATE_OPEN) {
        snprintf(id, sizeof id, "server.rule.valid.%s.closed", side);
        s_putm(w, lang, id, "state", s_word(lang, "server.state.", gx_state_name(st), word, sizeof word),
               NULL);
    } else if (expires_at == 0) {
        snprintf(id, sizeof id, "server.rule.valid.%s.forever", side);
        s_putm(w, lang, id, NULL);
    } else {
        snprintf(id, sizeof id, "server.rule.valid.%s.%s", side, expires_at > c->now ? "until" : "expired");
        gx_date_format(gx_date_of(expires_at, c->opts->utc_offset_min), date);
        s_putm(w, lang, id, "date", date, NULL);
    }
}

static bool s_rule_validity(const s_ctx *c, s_out *w)
{
    if (w->p) {
        char part[16];
        s_put_validity(c, w, true, c->d->state, c->d->expires_at);
        s_put(w, "%s", gx_msg(part, sizeof part, s_lang(c), "server.sep.part", NULL));
        s_put_validity(c, w, false, c->o->state, c->o->expires_at);
    }
    return s_ok_validity(c);
}

/* ------------------------------------------------------------------ score */

static double s_industry_one(const char *want, const char *have)
{
    if (!have)
        return 0;
    size_t n = strlen(want);
    if (strncmp(have, want, n) == 0)
        return 1.0; /* equal, or the offer's code lies inside the demand's */
    size_t k = 0;
    while (want[k] && want[k] == have[k])
        k++;
    return k >= 4 ? 0.75 : k >= 3 ? 0.5 : k >= 1 ? 0.25 : 0;
}

static double s_term_industry(const s_ctx *c)
{
    const char *want = c->d->industry;
    if (!want || !want[0])
        return 1.0;
    double best = 0;
    for (uint32_t i = 0; i < c->o->industries.n; i++) {
        double t = s_industry_one(want, c->o->industries.v[i]);
        if (t > best)
            best = t;
    }
    return best;
}

/* Sum over want of 1.0 (more specific cover), 0.8 (equal) or 0. */
static double s_specificity(const gx_strv *want, const gx_strv *have)
{
    double sum = 0;
    for (uint32_t i = 0; i < want->n; i++) {
        double best = 0;
        for (uint32_t j = 0; j < have->n && best < 1.0; j++) {
            if (!gx_rules_term_covers(have->v[j], want->v[i]))
                continue;
            double t = strlen(have->v[j]) > strlen(want->v[i]) ? 1.0 : 0.8;
            if (t > best)
                best = t;
        }
        sum += best;
    }
    return sum;
}

static double s_term_process(const s_ctx *c)
{
    uint32_t n = c->d->processes.n + c->d->materials.n;
    if (n == 0)
        return 1.0;
    return (s_specificity(&c->d->processes, &c->o->processes) +
            s_specificity(&c->d->materials, &c->o->materials)) /
           n;
}

static double s_term_price(const s_ctx *c)
{
    const gx_dfig *d = c->dn;
    const gx_ofig *o = c->on;
    if (!d->has_budget || !o->has_price)
        return 0.5;
    double dmax = d->budget_max > 0 ? d->budget_max : HUGE_VAL;
    double omax = o->price_max > 0 ? o->price_max : HUGE_VAL;
    if (omax <= dmax)
        return 1.0;
    if (isinf(omax) || omax <= o->price_min)
        return 0; /* unbounded or single price above the budget */
    double lo = o->price_min > d->budget_min ? o->price_min : d->budget_min;
    return s_clamp01((dmax - lo) / (omax - o->price_min));
}

/* The score of the pair in c, given its industry and process terms (which
 * read the strings or the prepared records); the terms and the weights used
 * into t and wout. */
static double s_score(const s_ctx *c, double industry, double process, double t[GX_TERM__COUNT],
                      double wout[GX_TERM__COUNT])
{
    t[GX_TERM_INDUSTRY] = industry;
    t[GX_TERM_PROCESS] = process;
    if (c->dist < 0) {
        t[GX_TERM_DISTANCE] = 0.5;
    } else {
        double full = c->opts->distance_full_km > 0 ? c->opts->distance_full_km : 100;
        t[GX_TERM_DISTANCE] = s_clamp01(1 - c->dist / full);
    }
    static const double credit[] = {0.4, 1.0, 0.7, 0.4, 0};
    gx_credit g = c->ofn->credit;
    t[GX_TERM_CREDIT] = (g >= GX_CREDIT_NONE && g <= GX_CREDIT_D) ? credit[g] : 0.4;
    t[GX_TERM_CAPACITY] = c->dn->quantity > 0 && gx_rules_applies(c->dn->kind, GX_RULE_CAPACITY)
                              ? s_clamp01(c->cap_until / c->dn->quantity / 2)
                              : 1.0;
    t[GX_TERM_LEAD_TIME] =
        c->days_until > 0
            ? s_clamp01((double)((int64_t)c->days_until - c->on->lead_time_days) / c->days_until)
            : 0;
    t[GX_TERM_PRICE] = s_term_price(c);
    t[GX_TERM_TRACK_RECORD] = s_clamp01(c->ofn->awards / 10.0);
    double sw = 0, s = 0;
    for (int i = 0; i < GX_TERM__COUNT; i++) {
        double w = c->opts->weights[i] > 0 ? c->opts->weights[i] : 0;
        wout[i] = w;
        sw += w;
        s += w * t[i];
    }
    return sw > 0 ? 100.0 * s / sw : 0;
}

/* The context of a pair at now from its figures, all but the distance
 * (c->dist -1) and the strings or prepared records. */
static void s_ctx_init(s_ctx *c, const gx_rules_opts *opts, const gx_dfig *dn, const gx_ofig *on,
                       const gx_ffig *dfn, const gx_ffig *ofn, int64_t now)
{
    *c = (s_ctx){.opts = opts, .dn = dn, .on = on, .dfn = dfn, .ofn = ofn, .now = now, .dist = -1};
    c->today = gx_date_of(now, opts->utc_offset_min);
    int64_t du = (int64_t)dn->needed_by - c->today;
    c->days_until = du > 0 ? (int32_t)du : 0;
    c->cap_until = on->monthly_capacity * c->days_until / 30.0;
}

/* The figures of a pair given as strings (s_ctx points into one). */
typedef struct s_figs {
    gx_dfig d;      /* the demand's */
    gx_ofig o;      /* the offer's */
    gx_ffig df, of; /* the firms' */
} s_figs;

/* The context of a pair of postings and their firms at now (figures into f). */
static void s_ctx_strings(s_ctx *c, s_figs *f, const gx_rules_opts *opts, const gx_demand *d,
                          const gx_firm *df, const gx_offer *o, const gx_firm *of, int64_t now)
{
    gx_rules_dfig(d, &f->d);
    gx_rules_ofig(o, &f->o);
    gx_rules_ffig(df, &f->df);
    gx_rules_ffig(of, &f->of);
    s_ctx_init(c, opts, &f->d, &f->o, &f->df, &f->of, now);
    c->d = d, c->df = df, c->o = o, c->of = of;
}

/* Fills c->dist: km between the firms, -1 when either has no location. */
static void s_ctx_distance(s_ctx *c)
{
    c->dist = -1;
    if (c->dfn->has_location && c->ofn->has_location) {
        double km = gx_rules_distance_km(c->dfn->lat, c->dfn->lon, c->ofn->lat, c->ofn->lon);
        if (isfinite(km))
            c->dist = km;
    }
}

/* Rule r of the pair in c; details into w when w->p is set. */
static bool s_rule(const s_ctx *c, gx_rule r, s_out *w)
{
    switch (r) {
    case GX_RULE_KIND:
        return s_rule_kind(c, w);
    case GX_RULE_PROCESS:
        return s_rule_terms(c, GX_V_PROCESS, &c->d->processes, &c->o->processes, w);
    case GX_RULE_MATERIAL:
        return s_rule_terms(c, GX_V_MATERIAL, &c->d->materials, &c->o->materials, w);
    case GX_RULE_TECHNOLOGY:
        return s_rule_technology(c, w);
    case GX_RULE_CERTIFICATION:
        return s_rule_cert(c, w);
    case GX_RULE_LEAD_TIME:
        return s_rule_lead_time(c, w);
    case GX_RULE_MIN_ORDER:
        return s_rule_min_order(c, w);
    case GX_RULE_CAPACITY:
        return s_rule_capacity(c, w);
    case GX_RULE_REGION:
        return s_rule_region(c, w);
    case GX_RULE_DISTANCE:
        return s_rule_distance(c, w);
    case GX_RULE_CREDIT:
        return s_rule_credit(c, w);
    case GX_RULE_PRICE:
        return s_rule_price(c, w);
    case GX_RULE_VALIDITY:
        return s_rule_validity(c, w);
    default:
        return true;
    }
}

static void s_evaluate(const gx_rules_opts *opts, const gx_rules_words *wd, const gx_demand *d,
                       const gx_firm *df, const gx_offer *o, const gx_firm *of, int64_t now, bool details,
                       gx_explain *out)
{
    s_ctx c;
    s_figs f;
    s_ctx_strings(&c, &f, opts, d, df, o, of, now);
    c.wd = wd;
    s_ctx_distance(&c);
    out->distance_km = c.dist;
    out->capacity_until_needed = c.cap_until;
    out->n_failed = 0;
    out->failed = GX_RULE_NONE;
    out->rules[0].pass = true;
    out->rules[0].detail[0] = '\0';
    for (int r = 1; r < GX_RULE__COUNT; r++) {
        s_out w = {.p = details ? out->rules[r].detail : NULL, .len = 0};
        out->rules[r].detail[0] = '\0';
        bool ok = s_rule(&c, (gx_rule)r, &w);
        out->rules[r].pass = ok;
        if (!ok && out->n_failed++ == 0)
            out->failed = (gx_rule)r;
    }
    out->score = s_score(&c, s_term_industry(&c), s_term_process(&c), out->terms, out->weights);
}

void gx_rules_evaluate(const gx_rules_opts *opts, const gx_demand *d, const gx_firm *df, const gx_offer *o,
                       const gx_firm *of, int64_t now, bool details, gx_explain *out)
{
    s_evaluate(opts, NULL, d, df, o, of, now, details, out);
}

void gx_rules_explain(const gx_rules_opts *opts, const gx_rules_words *words, const gx_demand *d,
                      const gx_firm *df, const gx_offer *o, const gx_firm *of, int64_t now, gx_explain *out)
{
    s_evaluate(opts, words, d, df, o, of, now, true, out);
}

/* ------------------------------------------------------------------ classify */

size_t gx_rules_family_len(gx_rule r, const char *want)
{
    size_t n = strlen(want);
    if (r == GX_RULE_TECHNOLOGY) /* subclass, class or section */
        return n >= 4 ? 4 : n >= 3 ? 3 : n >= 1 ? 1 : 0;
    const char *dot = strrchr(want, '.'), *first = strchr(want, '.');
    if (r == GX_RULE_PROCESS && dot == first)
        return n; /* a top-level process is a whole trade: no family above the term */
    return dot ? (size_t)(dot - want) : n;
}

/* True when some term of have lies in the family of want: it is covered by
 * want's family prefix (dotted terms) or starts with it (IPC). */
static bool s_in_family(gx_rule r, const gx_strv *have, const char *want)
{
    size_t n = gx_rules_family_len(r, want);
    if (r == GX_RULE_TECHNOLOGY && n == 0)
        return false;
    for (uint32_t i = 0; i < have->n; i++) {
        const char *h = have->v[i];
        if (strncmp(h, want, n) != 0)
            continue;
        if (r == GX_RULE_TECHNOLOGY || h[n] == '\0' || h[n] == '.')
            return true;
    }
    return false;
}

bool gx_rules_near_relevant(const gx_demand *d, const gx_offer *o, gx_rule failed)
{
    const gx_strv *want = NULL, *have = NULL;
    switch (failed) {
    case GX_RULE_PROCESS:
        want = &d->processes, have = &o->processes;
        break;
    case GX_RULE_MATERIAL:
        want = &d->materials, have = &o->materials;
        break;
    case GX_RULE_TECHNOLOGY:
        want = &d->ipc, have = &o->ipc;
        break;
    default:
        return true;
    }
    if (want->n == 0)
        return true; /* failed on TRL or mode alone */
    for (uint32_t i = 0; i < want->n; i++)
        if (s_in_family(failed, have, want->v[i]))
            return true;
    return false;
}

/* One rule's verdict on the pair in c, without details. */
typedef bool (*s_check)(const s_ctx *c, gx_rule r);

/* The rules of gx_rules_classify on the pair in c: -1 when the pair is none
 * (KIND or VALIDITY fails, or two rules do; *rule then the first failure
 * found, as gx_rules_classify leaves it), else the number of failures, 0 or
 * 1 (*rule the failing one). check gives each rule's verdict. */
static int s_classify(s_ctx *c, s_check check, uint32_t known_fail, gx_rule *rule)
{
    if (!check(c, GX_RULE_KIND) || !check(c, GX_RULE_VALIDITY))
        return -1; /* KIND and VALIDITY failures are never near */
    /* the offer's own figures first, then its firm's; two failures end it */
    static const gx_rule order[] = {GX_RULE_MIN_ORDER, GX_RULE_LEAD_TIME, GX_RULE_CAPACITY,      GX_RULE_PRICE,
                                    GX_RULE_CREDIT,    GX_RULE_REGION,    GX_RULE_CERTIFICATION, GX_RULE_PROCESS,
                                    GX_RULE_MATERIAL,  GX_RULE_TECHNOLOGY, GX_RULE_DISTANCE};
    int failed = 0;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) /* failures the caller proved */
        if (known_fail & GX_BIT(order[i])) {
            if (++failed > 1)
                return -1;
            *rule = order[i];
        }
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        if (known_fail & GX_BIT(order[i]))
            continue;
        if (order[i] == GX_RULE_DISTANCE)
            s_ctx_distance(c); /* only now: most pairs never get here */
        if (!check(c, order[i])) {
            if (++failed > 1)
                return -1;
            *rule = order[i];
        }
    }
    return failed;
}

static bool s_check_strings(const s_ctx *c, gx_rule r)
{
    s_out w = {0};
    return s_rule(c, r, &w);
}

gx_pair gx_rules_classify(const gx_rules_opts *opts, const gx_demand *d, const gx_firm *df, const gx_offer *o,
                          const gx_firm *of, int64_t now, uint32_t known_fail, double *score, gx_rule *rule)
{
    *score = 0;
    *rule = GX_RULE_NONE;
    s_ctx c;
    s_figs f;
    s_ctx_strings(&c, &f, opts, d, df, o, of, now);
    int failed = s_classify(&c, s_check_strings, known_fail, rule);
    if (failed < 0)
        return GX_PAIR_NONE;
    if ((failed && !gx_rules_near_relevant(d, o, *rule)) || gx_rules_excluded(df, of)) {
        *rule = GX_RULE_NONE;
        return GX_PAIR_NONE;
    }
    double t[GX_TERM__COUNT], w[GX_TERM__COUNT];
    *score = s_score(&c, s_term_industry(&c), s_term_process(&c), t, w);
    return failed ? GX_PAIR_NEAR : GX_PAIR_MATCH;
}

/* Rule r on prepared records: the rules on figures as above, the rules on
 * terms, certificates and places through their ids (prep.h). */
static bool s_check_prep(const s_ctx *c, gx_rule r)
{
    switch (r) {
    case GX_RULE_KIND:
        return s_ok_kind(c);
    case GX_RULE_PROCESS:
    case GX_RULE_MATERIAL:
        return gx_prep_terms_ok(c->pd, c->po, r);
    case GX_RULE_TECHNOLOGY:
        return !c->dn->tech || (gx_prep_terms_ok(c->pd, c->po, r) && s_ok_trl(c) && s_ok_mode(c));
    case GX_RULE_CERTIFICATION:
        return gx_prep_certs_ok(c->pd, c->pof, c->today);
    case GX_RULE_LEAD_TIME:
        return s_ok_lead_time(c);
    case GX_RULE_MIN_ORDER:
        return s_ok_min_order(c);
    case GX_RULE_CAPACITY:
        return s_ok_capacity(c);
    case GX_RULE_REGION:
        return gx_prep_in_scope(c->dn->scope, c->pdf, c->pof) &&
               gx_prep_in_scope(c->on->service_scope, c->pof, c->pdf);
    case GX_RULE_DISTANCE:
        return s_ok_distance(c);
    case GX_RULE_CREDIT:
        return s_ok_credit(c);
    case GX_RULE_PRICE:
        return s_ok_price(c);
    case GX_RULE_VALIDITY:
        return s_ok_validity(c);
    default:
        return true;
    }
}

gx_pair gx_rules_classify_prep(const gx_rules_opts *opts, const gx_prep_demand *pd, const gx_prep_firm *pdf,
                               const gx_prep_offer *po, const gx_prep_firm *pof, int64_t now,
                               uint32_t known_fail, double *score, gx_rule *rule)
{
    *score = 0;
    *rule = GX_RULE_NONE;
    s_ctx c;
    s_ctx_init(&c, opts, &pd->fig, &po->fig, &pdf->fig, &pof->fig, now);
    c.pd = pd, c.pdf = pdf, c.po = po, c.pof = pof;
    int failed = s_classify(&c, s_check_prep, known_fail, rule);
    if (failed < 0)
        return GX_PAIR_NONE;
    if ((failed && !gx_prep_near_relevant(pd, po, *rule)) || gx_prep_excluded(pdf, pof)) {
        *rule = GX_RULE_NONE;
        return GX_PAIR_NONE;
    }
    double t[GX_TERM__COUNT], w[GX_TERM__COUNT];
    *score = s_score(&c, gx_prep_term_industry(pd, po), gx_prep_term_process(pd, po), t, w);
    return failed ? GX_PAIR_NEAR : GX_PAIR_MATCH;
}

/* ------------------------------------------------------------------ hints */

/* Copies the text of detail after key up to any of stops (or the end) into
 * out; false when key does not occur. */
static bool s_field(const char *detail, const char *key, const char *stops, char *out, size_t n)
{
    const char *p = strstr(detail, key);
    if (!p || n == 0)
        return false;
    p += strlen(key);
    size_t len = strcspn(p, stops);
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

static void s_trim(char *v)
{
    size_t l = strlen(v);
    while (l && v[l - 1] == ' ')
        v[--l] = '\0';
}

/* An English list of an explanation ("casting.die, machining.cnc") in wd's
 * language into out: each item a term of class cl (GX_V__COUNT: as it is) or,
 * with prefix, a catalogue word (prefix + item). */
static const char *s_list_in(const gx_rules_words *wd, gx_vclass cl, const char *prefix, const char *list,
                             char *out, size_t n)
{
    gx_lang lang = wd ? wd->lang : GX_LANG_EN;
    if (lang == GX_LANG_EN)
        return gx_msg_copy(out, n, list);
    char sep[16], item[GX_DETAIL_MAX], word[64], all[GX_DETAIL_MAX] = "";
    gx_msg_format(sep, sizeof sep, lang, "server.sep.list", NULL, 0);
    s_out w = {.p = all, .len = 0};
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        s_trim(item);
        s_put(&w, "%s%s", w.len ? sep : "",
              prefix ? s_word(lang, prefix, item, word, sizeof word) : s_term(wd, cl, item));
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return gx_msg_copy(out, n, all);
}

static void s_hint_technology(const gx_rules_words *wd, const char *dt, char *buf, size_t n)
{
    gx_lang lang = wd ? wd->lang : GX_LANG_EN;
    char f[GX_DETAIL_MAX] = "", sep[16], part[GX_DETAIL_MAX], m[GX_DETAIL_MAX];
    s_out w = {.p = f, .len = 0}; /* buf may be shorter: compose here, copy at the end */
    gx_msg_format(sep, sizeof sep, lang, "server.sep.clause", NULL, 0);
    char v[GX_DETAIL_MAX];
    if (s_field(dt, "missing IPC ", "(;", v, sizeof v)) {
        s_trim(v);
        s_put(&w, "%s", gx_msg(part, sizeof part, lang, "server.hint.tech.ipc", "ipc", v, NULL));
    }
    unsigned have, need;
    const char *p = strstr(dt, "TRL ");
    if (p && sscanf(p, "TRL %u < %u", &have, &need) == 2) {
        char x[16], y[16];
        snprintf(x, sizeof x, "%u", have);
        snprintf(y, sizeof y, "%u", need);
        s_put(&w, "%s%s", w.len ? sep : "",
              gx_msg(part, sizeof part, lang, "server.hint.tech.trl", "have", x, "need", y, NULL));
    }
    if (s_field(dt, "missing mode ", "(;", v, sizeof v)) {
        s_trim(v);
        s_list_in(wd, GX_V__COUNT, "server.mode.", v, m, sizeof m);
        s_put(&w, "%s%s", w.len ? sep : "",
              gx_msg(part, sizeof part, lang, "server.hint.tech.mode", "modes", m, NULL));
    }
    if (!w.len)
        s_putm(&w, lang, "server.hint.tech.any", NULL);
    gx_msg(buf, n, lang, "server.hint.tech", "what", f, NULL);
}

static void s_hint_price(gx_lang lang, const char *dt, char *buf, size_t n)
{
    const char *p = strstr(dt, "price "), *b = strstr(dt, "budget ");
    if (!p || !b) {
        gx_msg(buf, n, lang, "server.hint.price.any", NULL);
        return;
    }
    char *end;
    double pmin = strtod(p + 6, &end), pmax = *end == '-' ? strtod(end + 1, NULL) : 0;
    double bmin = strtod(b + 7, &end), bmax = *end == '-' ? strtod(end + 1, NULL) : 0;
    char x[32], y[32];
    if (bmax > 0 && pmin > bmax)
        gx_msg(buf, n, lang, "server.hint.price.lower", "max", s_exact(bmax, x), "from", s_exact(pmin, y),
               NULL);
    else if (pmax > 0 && pmax < bmin)
        gx_msg(buf, n, lang, "server.hint.price.below", "max", s_exact(pmax, x), "min", s_exact(bmin, y),
               NULL);
    else
        gx_msg(buf, n, lang, "server.hint.price.any", NULL);
}

static void s_hint_distance(gx_lang lang, const gx_explain *e, const char *dt, char *buf, size_t n)
{
    char v[GX_DETAIL_MAX], x[32], y[32];
    if (s_field(dt, "distance unknown: ", ";", v, sizeof v)) {
        char why[GX_DETAIL_MAX];
        if (lang == GX_LANG_EN)
            gx_msg_copy(why, sizeof why, v);
        else
            gx_msg(why, sizeof why, lang,
                   strncmp(v, "neither", 7) == 0  ? "server.rule.distance.unknown.neither"
                   : strncmp(v, "demand", 6) == 0 ? "server.rule.distance.unknown.demand"
                                                  : "server.rule.distance.unknown.offer",
                   NULL);
        gx_msg(buf, n, lang, "server.hint.distance.unknown", "why", why, NULL);
        return;
    }
    const char *l = strstr(dt, "; limit "), *r = strstr(dt, "; service radius ");
    double lim = l ? strtod(l + 8, NULL) : 0, rad = r ? strtod(r + 17, NULL) : 0;
    if (lim > 0 && e->distance_km > lim) {
        gx_msg(buf, n, lang, "server.hint.distance.limit", "km", s_vs(e->distance_km, 1, &lim, 1, y), "limit",
               s_exact(lim, x), NULL);
    } else if (rad > 0 && e->distance_km > rad) {
        snprintf(y, sizeof y, "%.0f", ceil(e->distance_km));
        gx_msg(buf, n, lang, "server.hint.distance.radius", "from", s_exact(rad, x), "to", y, NULL);
    } else {
        gx_msg(buf, n, lang, "server.hint.distance.any", NULL);
    }
}

/* The scope named at the start of seg ("three_districts: ...") in lang: the
 * English name with '-' for '_', or the catalogue's word. */
static const char *s_scope_in(gx_lang lang, const char *seg, char *out, size_t n)
{
    char name[32] = "";
    sscanf(seg, "%31[a-z_]", name);
    char word[64];
    if (lang != GX_LANG_EN)
        return gx_msg_copy(out, n, s_word(lang, "server.scope.", name, word, sizeof word));
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '-';
    return gx_msg_copy(out, n, name);
}

static void s_hint_region(gx_lang lang, const char *dt, char *buf, size_t n)
{
    char name[64], seg[GX_DETAIL_MAX];
    if (s_field(dt, "demand scope ", ";", seg, sizeof seg) && strstr(seg, "(outside)"))
        gx_msg(buf, n, lang, "server.hint.region.demand", "scope", s_scope_in(lang, seg, name, sizeof name),
               NULL);
    else if (s_field(dt, "offer service scope ", ";", seg, sizeof seg) && strstr(seg, "(outside)"))
        gx_msg(buf, n, lang, "server.hint.region.offer", "scope", s_scope_in(lang, seg, name, sizeof name),
               NULL);
    else
        gx_msg(buf, n, lang, "server.hint.region.any", NULL);
}

const char *gx_rules_hint(const gx_explain *e, gx_rule r, char *buf, size_t n)
{
    return gx_rules_hint_in(e, r, NULL, buf, n);
}

const char *gx_rules_hint_in(const gx_explain *e, gx_rule r, const gx_rules_words *wd, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    buf[0] = '\0';
    if (r <= GX_RULE_NONE || r >= GX_RULE__COUNT)
        return buf;
    gx_lang lang = wd ? wd->lang : GX_LANG_EN;
    char rn[64];
    const char *rule = s_word(lang, "server.rulename.", gx_rule_name(r), rn, sizeof rn);
    if (e->rules[r].pass) {
        gx_msg(buf, n, lang, "server.hint.pass", "rule", rule, NULL);
        return buf;
    }
    const char *dt = e->rules[r].detail;
    if (!dt[0]) { /* a fast-path explanation: no values to work from */
        gx_msg(buf, n, lang, "server.hint.fails", "rule", rule, NULL);
        return buf;
    }
    char v[GX_DETAIL_MAX], v2[GX_DETAIL_MAX], t[GX_DETAIL_MAX], x[32];
    switch (r) {
    case GX_RULE_KIND:
        if (s_field(dt, "needs ", ";", v, sizeof v))
            gx_msg(buf, n, lang, "server.hint.kind", "kind", s_word(lang, "server.kind.", v, t, sizeof t),
                   NULL);
        break;
    case GX_RULE_PROCESS:
    case GX_RULE_MATERIAL:
        if (s_field(dt, "missing ", ";", v, sizeof v))
            gx_msg(buf, n, lang, r == GX_RULE_PROCESS ? "server.hint.process" : "server.hint.material",
                   "terms",
                   s_list_in(wd, r == GX_RULE_PROCESS ? GX_V_PROCESS : GX_V_MATERIAL, NULL, v, t, sizeof t),
                   NULL);
        break;
    case GX_RULE_TECHNOLOGY:
        s_hint_technology(wd, dt, buf, n);
        break;
    case GX_RULE_CERTIFICATION:
        if (s_field(dt, "missing ", ";", v, sizeof v)) {
            s_list_in(wd, GX_V_CERT, NULL, v, t, sizeof t);
            /* the first "; SCHEME expired DATE" segment, if any */
            const char *p = strstr(dt, " expired ");
            while (p && p > dt && !(p[-1] == ' ' && p - 1 > dt && p[-2] == ';'))
                p--;
            char cert[GX_DETAIL_MAX], date[16];
            if (p && p > dt && s_field(p, "", ";", v2, sizeof v2)) {
                if (lang != GX_LANG_EN && sscanf(v2, "%199s expired %15s", cert, date) == 2)
                    gx_msg(v2, sizeof v2, lang, "server.rule.cert.expired", "cert",
                           s_term(wd, GX_V_CERT, cert), "date", date, NULL);
                gx_msg(buf, n, lang, "server.hint.cert_expired", "cert", t, "why", v2, NULL);
            } else {
                gx_msg(buf, n, lang, "server.hint.cert", "cert", t, NULL);
            }
        }
        break;
    case GX_RULE_LEAD_TIME:
        if (strstr(dt, "needed-by date has passed")) {
            gx_msg(buf, n, lang, "server.hint.lead.passed", NULL);
        } else if (s_field(dt, "late by ", ";", v, sizeof v)) {
            snprintf(x, sizeof x, "%lld", strtoll(v, NULL, 10));
            gx_msg(buf, n, lang, "server.hint.lead", "days", x, NULL);
        }
        break;
    case GX_RULE_MIN_ORDER:
        if (s_field(dt, "min order ", ";", v, sizeof v) && s_field(dt, "quantity ", ";", v2, sizeof v2))
            gx_msg(buf, n, lang, "server.hint.min_order", "min", v, "qty", v2, NULL);
        break;
    case GX_RULE_CAPACITY:
        if (s_field(dt, "quantity ", ";", v, sizeof v) && s_field(dt, " by ", " ;(", v2, sizeof v2))
            gx_msg(buf, n, lang, "server.hint.capacity", "cap", s_num(floor(e->capacity_until_needed), x),
                   "qty", v, "date", v2, NULL);
        break;
    case GX_RULE_REGION:
        s_hint_region(lang, dt, buf, n);
        break;
    case GX_RULE_DISTANCE:
        s_hint_distance(lang, e, dt, buf, n);
        break;
    case GX_RULE_CREDIT:
        if (strstr(dt, "graded D")) {
            gx_msg(buf, n, lang, "server.hint.credit.d", NULL);
        } else if (s_field(dt, "requires ", " ", v, sizeof v) &&
                   s_field(dt, "supplier graded ", " ;", v2, sizeof v2)) {
            if (strstr(dt, "counts as C"))
                gx_msg(t, sizeof t, lang, "server.rule.credit.counts_c", NULL);
            else
                t[0] = '\0';
            gx_msg(buf, n, lang, "server.hint.credit", "grade", v2, "note", t, "need", v, NULL);
        }
        break;
    case GX_RULE_PRICE:
        s_hint_price(lang, dt, buf, n);
        break;
    case GX_RULE_VALIDITY:
        gx_msg(buf, n, lang,
               strstr(dt, "demand not open") || strstr(dt, "demand expired") ? "server.hint.validity.demand"
                                                                             : "server.hint.validity.offer",
               NULL);
        break;
    default:
        break;
    }
    if (!buf[0])
        gx_msg(buf, n, lang, "server.hint.fails", "rule", rule, NULL);
    return buf;
}

/* ------------------------------------------------------------------ subscriptions */

bool gx_rules_sub_matches(const gx_sub *s, const gx_demand *d, const gx_firm *df)
{
    if (s->kinds && (d->kind <= GX_KIND_NONE || d->kind >= GX_KIND__COUNT || !(s->kinds & GX_BIT(d->kind))))
        return false;
    if (s->industries.n) {
        bool ok = false;
        for (uint32_t i = 0; !ok && i < s->industries.n; i++)
            ok = d->industry && strncmp(d->industry, s->industries.v[i], strlen(s->industries.v[i])) == 0;
        if (!ok)
            return false;
    }
    if (s->processes.n) {
        bool ok = false;
        for (uint32_t i = 0; !ok && i < s->processes.n; i++)
            ok = s_covered(&d->processes, s->processes.v[i]);
        if (!ok)
            return false;
    }
    if (s->districts.n) {
        const char *dist = gx_firm_district(df);
        bool ok = false;
        for (uint32_t i = 0; !ok && i < s->districts.n; i++)
            ok = strcmp(s->districts.v[i], dist) == 0 || strcmp(s->districts.v[i], df->county) == 0;
        if (!ok)
            return false;
    }
    return true;
}
