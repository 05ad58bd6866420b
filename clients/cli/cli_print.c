/* cli_print.c — how the gongxu CLI shows replies and notices.
 *
 * Human output is short lines: one headline per reply or notice, indented
 * detail lines under it. Enum values are shown as the words the flags take
 * (parts_supply, three_districts), credit grades as A..D, instants in UTC.
 * --json output is the proto3 JSON of the message, one object per line.
 * Human words come from the message catalogue (cli.tsv; kinds, states, rules
 * and scopes from server.tsv) in the output language; --json never does. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

#define S_RING 8  /* s_word/s_when results alive at once (within one printf) */
#define S_WORD 48 /* longest enum word shown */
#define S_MSG 1024 /* longest catalogue message shown in one piece */

#define M(...) gx_cli_msg(__VA_ARGS__, NULL)

static int s_cols(uint32_t cp);
static uint32_t s_next(const char **p);

/* ------------------------------------------------------------------ language */

static gx_lang s_lang = GX_LANG_ZH; /* the output language: single-threaded CLI */

void gx_cli_set_lang(gx_lang lang)
{
    s_lang = lang;
}

gx_lang gx_cli_lang(void)
{
    return s_lang;
}

gx_lang gx_cli_env_lang(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        gx_lang l;
        if (v && *v)
            return gx_lang_parse(v, &l) ? l : GX_LANG_EN;
    }
    return GX_LANG_ZH;
}

/* The next of the ring of buffers gx_cli_msg returns. */
static char *s_slot(void)
{
    static char ring[S_RING][S_MSG];
    static unsigned next;
    return ring[next++ % S_RING];
}

const char *gx_cli_vmsg(const char *id, va_list ap)
{
    char *buf = s_slot();
    gx_msg_arg a[12];
    size_t k = 0;
    for (const char *name; k < 12 && (name = va_arg(ap, const char *));) {
        a[k].name = name;
        a[k++].value = va_arg(ap, const char *);
    }
    gx_msg_format(buf, S_MSG, s_lang, id, a, k);
    return buf;
}

const char *gx_cli_msg(const char *id, ...)
{
    va_list ap;
    va_start(ap, id);
    const char *buf = gx_cli_vmsg(id, ap);
    va_end(ap);
    return buf;
}

/* ------------------------------------------------------------------ the library's sentences */

/* The client library's sentences the CLI shows, by their catalogue ids: the
 * English text of each is the library's sentence with {placeholders} for
 * what varies (clients/lib/client.c, keyfile.c). */
static const char *const s_lib_ids[] = {
    "cli.lib.no_reply_hint",  "cli.lib.no_reply_plain", "cli.lib.nothing_answers",
    "cli.lib.zap_busy",       "cli.lib.key_refused",    "cli.lib.not_curve",
    "cli.lib.uses_curve",     "cli.lib.not_gongxu",     "cli.lib.wrong_server_key",
    "cli.lib.zmtp_error",     "cli.lib.zmtp_timeout",   "cli.lib.frame_dropped",
    "cli.lib.frame",          "cli.lib.busy",           "cli.lib.too_large",
    "cli.lib.rebind",         "cli.lib.connect",        "cli.lib.timed_out_send",
    "cli.lib.interrupted",    "cli.lib.no_answer",      "cli.lib.curve_needs_pair",
    "cli.lib.bad_server_key", "cli.lib.bad_public_key", "cli.lib.bad_secret_key",
    "cli.lib.no_curve",       "cli.lib.key_line",       "cli.lib.key_mismatch",
    "cli.lib.no_public",      "cli.lib.not_a_key",
};

#define S_LIB_CAPS 6 /* placeholders of one sentence */

/* One value found in a sentence. */
typedef struct s_cap {
    char name[24];  /* the placeholder's name */
    const char *at; /* where its value starts in the sentence */
    size_t len;     /* its bytes (at least one) */
} s_cap;

/* True when s is pattern p, p's {name}s standing for any non-empty text
 * (tried shortest first); the values in caps[0 .. *n). */
static bool s_match(const char *p, const char *s, s_cap *caps, size_t *n)
{
    for (; *p; p++, s++) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || *n >= S_LIB_CAPS || (size_t)(close - p - 1) >= sizeof caps[0].name)
                return false;
            s_cap *c = &caps[(*n)++];
            memcpy(c->name, p + 1, (size_t)(close - p - 1));
            c->name[close - p - 1] = '\0';
            c->at = s;
            for (c->len = 1; c->len <= strlen(s); c->len++)
                if (s_match(close + 1, s + c->len, caps, n))
                    return true;
            (*n)--;
            return false;
        }
        if (*p != *s)
            return false;
    }
    return *s == '\0';
}

const char *gx_cli_lib_text(const char *english)
{
    char *buf = s_slot();
    gx_msg_copy(buf, S_MSG, english);
    if (s_lang == GX_LANG_EN)
        return buf;
    char pat[S_MSG], vals[S_LIB_CAPS][S_MSG / 2];
    for (size_t i = 0; i < sizeof s_lib_ids / sizeof *s_lib_ids; i++) {
        s_cap caps[S_LIB_CAPS];
        size_t n = 0;
        gx_msg_format(pat, sizeof pat, GX_LANG_EN, s_lib_ids[i], NULL, 0); /* {names} stay as written */
        if (!s_match(pat, english, caps, &n))
            continue;
        gx_msg_arg a[S_LIB_CAPS];
        for (size_t k = 0; k < n; k++) {
            snprintf(vals[k], sizeof vals[k], "%.*s", (int)caps[k].len, caps[k].at);
            if (strcmp(caps[k].name, "why") == 0) /* a sentence of the library within */
                gx_msg_copy(vals[k], sizeof vals[k], gx_cli_lib_text(vals[k]));
            a[k].name = caps[k].name;
            a[k].value = vals[k];
        }
        gx_msg_format(buf, S_MSG, s_lang, s_lib_ids[i], a, n);
        break;
    }
    return buf;
}

/* A number as printf writes it with fmt, for a placeholder (a ring buffer). */
static const char *s_num(const char *fmt, double x)
{
    static char ring[S_RING][48];
    static unsigned next;
    char *buf = ring[next++ % S_RING];
    snprintf(buf, 48, fmt, x);
    return buf;
}

static const char *s_u64(uint64_t x)
{
    static char ring[S_RING][24];
    static unsigned next;
    char *buf = ring[next++ % S_RING];
    snprintf(buf, 24, "%" PRIu64, x);
    return buf;
}

/* A flag word in the output language: prefix + word from the catalogue
 * (server.kind.processing -> 配套加工) in Chinese, the word itself in English. */
static const char *s_loc(const char *prefix, const char *word)
{
    char id[96];
    snprintf(id, sizeof id, "%s%s", prefix, word);
    if (s_lang == GX_LANG_EN || !gx_msg_has(id))
        return word;
    return M(id);
}

/* ------------------------------------------------------------------ words */

/* The flag word of an enum value ("PARTS_SUPPLY" -> "parts_supply"), minus
 * prefix. Returns one of S_RING static buffers: the CLI is single-threaded. */
static const char *s_word(const ProtobufCEnumDescriptor *d, int value, const char *prefix)
{
    static char ring[S_RING][S_WORD];
    static unsigned next;
    char *buf = ring[next++ % S_RING];
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (!v) {
        snprintf(buf, S_WORD, "%d", value);
        return buf;
    }
    const char *name = v->name;
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) == 0)
        name += plen;
    size_t i = 0;
    for (; name[i] && i + 1 < S_WORD; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    buf[i] = '\0';
    return buf;
}

static const char *s_kind(int v)
{
    return s_loc("server.kind.", s_word(&gongxu__v1__kind__descriptor, v, ""));
}

static const char *s_state(int v)
{
    return s_loc("server.state.", s_word(&gongxu__v1__state__descriptor, v, ""));
}

static const char *s_rule(int v)
{
    return s_loc("server.rulename.", s_word(&gongxu__v1__rule__descriptor, v, "RULE_"));
}

static const char *s_scope(int v)
{
    return s_loc("server.scope.", s_word(&gongxu__v1__scope__descriptor, v, ""));
}

static const char *s_credit(int v)
{
    static const char *const grades[] = {"-", "A", "B", "C", "D"};
    return v >= 0 && v <= 4 ? grades[v] : "?";
}

/* "2025-04-01 12:00 UTC" for unix seconds; a ring buffer like s_word. */
static const char *s_when(int64_t at)
{
    static char ring[S_RING][32];
    static unsigned next;
    char *buf = ring[next++ % S_RING];
    time_t t = (time_t)at;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, 32, "%" PRId64, at);
    return buf;
}

/* "  label" padded to 12 terminal columns (Chinese letters take two); label
 * is a catalogue id (cli.label.*). */
static void s_label(const char *id)
{
    const char *label = M(id);
    int w = 0;
    for (const char *p = label; *p;)
        w += s_cols(s_next(&p));
    printf("  %s%*s", label, w < 12 ? 12 - w : 1, "");
}

static void s_list_strings(const char *label, size_t n, char **v)
{
    if (n == 0)
        return;
    s_label(label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", v[i]);
    printf("\n");
}

static void s_list_enums(const char *label, size_t n, const int *v, const ProtobufCEnumDescriptor *d)
{
    if (n == 0)
        return;
    s_label(label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "",
               d == &gongxu__v1__kind__descriptor ? s_kind(v[i]) : s_word(d, v[i], ""));
    printf("\n");
}

static void s_line(const char *label, const char *value)
{
    if (value && *value) {
        s_label(label);
        printf("%s\n", value);
    }
}

const char *gx_cli_error_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&gongxu__v1__error_code__descriptor, code);
    if (!v)
        return "UNKNOWN_ERROR";
    return strncmp(v->name, "ERR_", 4) == 0 ? v->name + 4 : v->name;
}

bool gx_cli_print_json(const ProtobufCMessage *msg)
{
    json_t *j = gx_json_from_message(msg);
    if (!j)
        return false;
    /* 15 significant digits: 84.2 stays 84.2 instead of 84.200000000000003 */
    int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return false;
    return true;
}

/* ------------------------------------------------------------------ explanations */

/* "  certification  FAIL  requires IATF16949; holds ISO9001", one per rule. */
static void s_rules(const Gongxu__V1__Explanation *ex, const char *indent)
{
    if (!ex)
        return;
    for (size_t i = 0; i < ex->n_rules; i++) {
        const Gongxu__V1__RuleCheck *r = ex->rules[i];
        const char *name = s_rule(r->rule);
        int w = 0;
        for (const char *p = name; *p;)
            w += s_cols(s_next(&p));
        const char *verdict = M(r->pass ? "cli.rule.pass" : "cli.rule.fail");
        int vw = 0, vcols = s_lang == GX_LANG_EN ? 4 : 6; /* PASS/FAIL; 通过/未通过 */
        for (const char *p = verdict; *p;)
            vw += s_cols(s_next(&p));
        printf("%s%s%*s  %s%*s  %s\n", indent, name, w < 13 ? 13 - w : 0, "", verdict,
               vw < vcols ? vcols - vw : 0, "", r->detail);
    }
}

static void s_terms(const Gongxu__V1__Explanation *ex, const char *indent)
{
    if (!ex || ex->n_terms == 0)
        return;
    printf("%s%s", indent, M("cli.score.head", "score", s_num("%.1f", ex->score)));
    for (size_t i = 0; i < ex->n_terms; i++)
        printf("%s %s %.2f*%g", i ? " +" : "", s_loc("cli.term.", ex->terms[i]->name), ex->terms[i]->value,
               ex->terms[i]->weight);
    printf("\n");
}

/* ------------------------------------------------------------------ postings */

static void s_demand(const Gongxu__V1__Demand *d)
{
    char rev[16];
    snprintf(rev, sizeof rev, "%u", d->revision);
    printf("%s\n", M("cli.demand.head", "id", s_u64(d->id), "rev", rev, "state", s_state(d->state), "owner",
                     d->owner));
    s_line("cli.label.title", d->title);
    s_label("cli.label.kind");
    printf("%s\n", *d->industry
                       ? M("cli.demand.kind_industry", "kind", s_kind(d->kind), "industry", d->industry)
                       : s_kind(d->kind));
    s_list_strings("cli.label.processes", d->n_processes, d->processes);
    s_list_strings("cli.label.materials", d->n_materials, d->materials);
    if (d->quantity > 0 || *d->needed_by) {
        s_label("cli.label.quantity");
        printf("%.10g %s", d->quantity, d->unit);
        if (d->original_quantity > 0 && d->original_quantity != d->quantity)
            printf("%s", M("cli.demand.of", "qty", s_num("%.10g", d->original_quantity)));
        if (*d->needed_by)
            printf("%s", M("cli.demand.by", "date", d->needed_by));
        printf("\n");
    }
    if (d->budget) {
        s_label("cli.label.budget");
        printf("%s\n", M("cli.price.range", "min", s_num("%.10g", d->budget->min), "max",
                         s_num("%.10g", d->budget->max)));
    }
    s_list_strings("cli.label.requires", d->n_certifications, d->certifications);
    if (d->min_credit) {
        s_label("cli.label.credit");
        printf("%s\n", M("cli.credit.or_better", "grade", s_credit(d->min_credit)));
    }
    if (d->scope || d->max_distance_km > 0) {
        s_label("cli.label.region");
        printf("%s", d->scope ? s_scope(d->scope) : s_loc("server.scope.", "anywhere"));
        if (d->max_distance_km > 0)
            printf("%s", M("cli.region.within", "km", s_num("%.10g", d->max_distance_km)));
        printf("\n");
    }
    if (d->splittable) {
        s_label("cli.label.split");
        if (d->max_suppliers)
            printf("%s\n", M("cli.split.up_to", "n", s_u64(d->max_suppliers)));
        else
            printf("%s\n", M("cli.split.any"));
    }
    s_list_strings("cli.label.ipc", d->n_ipc, d->ipc);
    if (d->min_trl) {
        s_label("cli.label.trl");
        printf("%s\n", M("cli.trl.or_higher", "n", s_u64(d->min_trl)));
    }
    s_list_enums("cli.label.modes", d->n_modes, (const int *)d->modes,
                 &gongxu__v1__transfer_mode__descriptor);
    s_line("cli.label.summary", d->summary);
    s_line("cli.label.details", d->details);
    if (d->created_at)
        s_line("cli.label.created", s_when(d->created_at));
    if (d->expires_at)
        s_line("cli.label.expires", s_when(d->expires_at));
    if (d->n_withheld) /* another firm's demand: say what exists but is not shown */
        s_list_strings("cli.label.withheld", d->n_withheld, d->withheld);
}

static void s_offer(const Gongxu__V1__Offer *o)
{
    char rev[16];
    snprintf(rev, sizeof rev, "%u", o->revision);
    printf("%s\n", M("cli.offer.head", "id", s_u64(o->id), "rev", rev, "state", s_state(o->state), "owner",
                     o->owner));
    s_line("cli.label.title", o->title);
    s_list_enums("cli.label.kinds", o->n_kinds, (const int *)o->kinds, &gongxu__v1__kind__descriptor);
    s_list_strings("cli.label.industries", o->n_industries, o->industries);
    s_list_strings("cli.label.processes", o->n_processes, o->processes);
    s_list_strings("cli.label.materials", o->n_materials, o->materials);
    if (o->monthly_capacity > 0)
        s_line("cli.label.capacity", M("cli.offer.capacity", "n", s_num("%.10g", o->monthly_capacity)));
    if (o->min_order > 0)
        s_line("cli.label.min_order", s_num("%.10g", o->min_order));
    if (o->lead_time_days)
        s_line("cli.label.lead_time", M("cli.offer.lead", "n", s_u64(o->lead_time_days)));
    if (o->price)
        s_line("cli.label.price", M("cli.price.range", "min", s_num("%.10g", o->price->min), "max",
                                    s_num("%.10g", o->price->max)));
    if (o->service_scope || o->service_radius_km > 0) {
        s_label("cli.label.serves");
        printf("%s", o->service_scope ? s_scope(o->service_scope) : s_loc("server.scope.", "anywhere"));
        if (o->service_radius_km > 0)
            printf("%s", M("cli.region.within", "km", s_num("%.10g", o->service_radius_km)));
        printf("\n");
    }
    s_list_strings("cli.label.ipc", o->n_ipc, o->ipc);
    if (o->trl)
        s_line("cli.label.trl", s_u64(o->trl));
    s_list_enums("cli.label.modes", o->n_modes, (const int *)o->modes,
                 &gongxu__v1__transfer_mode__descriptor);
    s_line("cli.label.summary", o->summary);
    if (o->created_at)
        s_line("cli.label.created", s_when(o->created_at));
    if (o->expires_at)
        s_line("cli.label.expires", s_when(o->expires_at));
}

static void s_subscription(const Gongxu__V1__Subscription *s)
{
    printf("%s\n", M("cli.sub.head", "id", s_u64(s->id), "owner", s->owner));
    s_list_enums("cli.label.kinds", s->n_kinds, (const int *)s->kinds, &gongxu__v1__kind__descriptor);
    s_list_strings("cli.label.industries", s->n_industry_prefixes, s->industry_prefixes);
    s_list_strings("cli.label.processes", s->n_process_prefixes, s->process_prefixes);
    s_list_strings("cli.label.districts", s->n_districts, s->districts);
    if (!s->n_kinds && !s->n_industry_prefixes && !s->n_process_prefixes && !s->n_districts)
        printf("  %s\n", M("cli.sub.every"));
}

static void s_firm(const Gongxu__V1__Firm *f)
{
    printf("%s\n", M("cli.firm.head", "id", f->id, "name", f->name));
    s_list_enums("cli.label.roles", f->n_roles, (const int *)f->roles, &gongxu__v1__role__descriptor);
    if (*f->zone)
        s_line("cli.label.county", M("cli.firm.zone", "county", f->county, "zone", f->zone));
    else
        s_line("cli.label.county", f->county);
    if (f->location) {
        s_label("cli.label.location");
        printf("%.6f, %.6f\n", f->location->lat, f->location->lon);
    }
    if (f->credit)
        s_line("cli.label.credit", s_credit(f->credit));
    for (size_t i = 0; i < f->n_certifications; i++) {
        const Gongxu__V1__Certification *c = f->certifications[i];
        if (i)
            printf("  %12s", "");
        else
            s_label("cli.label.certified");
        printf("%s\n", M("cli.firm.cert", "scheme", c->scheme, "number", c->number, "date", c->valid_until));
    }
    s_line("cli.label.contact", f->contact);
    s_line("cli.label.language", f->language);
    if (f->awards)
        s_line("cli.label.awards", s_u64(f->awards));
}

static void s_list(const Gongxu__V1__PostingList *l)
{
    for (size_t i = 0; i < l->n_demands; i++) {
        const Gongxu__V1__Demand *d = l->demands[i];
        printf("demand %" PRIu64 "  r%u  %s  %s  %s  %.10g %s", d->id, d->revision, s_state(d->state),
               s_kind(d->kind), *d->industry ? d->industry : "-", d->quantity, d->unit);
        if (*d->needed_by)
            printf(" by %s", d->needed_by);
        printf("%s%s\n", *d->title ? "  " : "", d->title);
    }
    for (size_t i = 0; i < l->n_offers; i++) {
        const Gongxu__V1__Offer *o = l->offers[i];
        printf("offer %" PRIu64 "  r%u  %s  ", o->id, o->revision, s_state(o->state));
        for (size_t k = 0; k < o->n_kinds; k++)
            printf("%s%s", k ? "," : "", s_kind(o->kinds[k]));
        printf("  ");
        for (size_t k = 0; k < o->n_industries; k++)
            printf("%s%s", k ? "," : "", o->industries[k]);
        printf("%s%s\n", *o->title ? "  " : "", o->title);
    }
    for (size_t i = 0; i < l->n_subscriptions; i++) {
        const Gongxu__V1__Subscription *s = l->subscriptions[i];
        printf("subscription %" PRIu64 "  kinds ", s->id);
        for (size_t k = 0; k < s->n_kinds; k++)
            printf("%s%s", k ? "," : "", s_kind(s->kinds[k]));
        printf("%s  industries ", s->n_kinds ? "" : "any");
        for (size_t k = 0; k < s->n_industry_prefixes; k++)
            printf("%s%s", k ? "," : "", s->industry_prefixes[k]);
        printf("%s\n", s->n_industry_prefixes ? "" : "any");
    }
    if (!l->n_demands && !l->n_offers && !l->n_subscriptions)
        printf("%s\n", M("cli.list.none"));
}

static void s_candidate(const Gongxu__V1__Candidate *c)
{
    char rank[16];
    snprintf(rank, sizeof rank, "%2u", c->rank);
    printf("%s", M("cli.candidate.line", "rank", rank, "id", s_u64(c->offer_id), "name", c->firm_name, "firm",
                   c->firm_id, "score", s_num("%.1f", c->score)));
    if (c->explanation && c->explanation->distance_km >= 0)
        printf("%s", M("cli.candidate.km", "km", s_num("%.1f", c->explanation->distance_km)));
    if (c->capacity_until_needed > 0)
        printf("%s", M("cli.candidate.capacity", "n", s_num("%.10g", c->capacity_until_needed)));
    printf("\n");
    s_rules(c->explanation, "      ");
    s_terms(c->explanation, "      ");
}

static void s_shortlist(const Gongxu__V1__Shortlist *s)
{
    char rev[16];
    snprintf(rev, sizeof rev, "%u", s->revision);
    printf("%s", M("cli.shortlist.head", "id", s_u64(s->demand_id), "rev", rev));
    if (s->n_candidates == 0)
        printf("%s\n", M("cli.shortlist.none"));
    else
        printf("%s\n", M(s->eligible == 1 ? "cli.shortlist.one" : "cli.shortlist.many", "n",
                         s_u64(s->n_candidates), "all", s_u64(s->eligible)));
    for (size_t i = 0; i < s->n_candidates; i++)
        s_candidate(s->candidates[i]);
    if (s->n_proposed_set) {
        printf("%s", M("cli.shortlist.set", "pct", s_num("%.0f", s->proposed_coverage * 100)));
        for (size_t i = 0; i < s->n_proposed_set; i++)
            printf("%s", M("cli.shortlist.set_item", "sep", i ? (s_lang == GX_LANG_EN ? "," : "，") : "",
                           "id", s_u64(s->proposed_set[i]->offer_id), "name", s->proposed_set[i]->firm_name));
        printf("\n");
    }
}

static void s_counts(const char *label, size_t n, Gongxu__V1__Count **v, const char *(*word)(const char *))
{
    if (n == 0)
        return;
    printf("%s:", label);
    for (size_t i = 0; i < n; i++)
        printf("%s %s %" PRIu64, i ? "," : "", word(v[i]->key), v[i]->value);
    printf("\n");
}

/* Count keys are enum names ("PARTS_SUPPLY", "RULE_CERTIFICATION"): shown as words. */
static const char *s_key_word(const char *key)
{
    static char buf[S_WORD];
    const char *k = strncmp(key, "RULE_", 5) == 0 ? key + 5 : key;
    size_t i = 0;
    for (; k[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] - 'A' + 'a' : k[i]);
    buf[i] = '\0';
    return buf;
}

/* One "label           value" line of the statistics, the label padded to 16 columns. */
static void s_stat(const char *id, const char *value)
{
    const char *label = M(id);
    int w = 0;
    for (const char *p = label; *p;)
        w += s_cols(s_next(&p));
    printf("%s%*s%s\n", label, w < 16 ? 16 - w : 1, "", value);
}

static void s_stats(const Gongxu__V1__Stats *s)
{
    if (s->at)
        s_stat("cli.stats.at", s_when(s->at));
    s_stat("cli.stats.firms", s_u64(s->firms));
    s_stat("cli.stats.demands_open",
           M("cli.stats.unmatched", "n", s_u64(s->demands_open), "m", s_u64(s->demands_unmatched)));
    s_stat("cli.stats.offers_open", s_u64(s->offers_open));
    s_stat("cli.stats.subscriptions", s_u64(s->subscriptions));
    s_stat("cli.stats.matches", s_u64(s->matches));
    s_stat("cli.stats.near_misses", s_u64(s->near_misses));
    s_stat("cli.stats.notices", s_u64(s->notices));
    s_stat("cli.stats.requests", s_u64(s->requests));
    s_counts(M("cli.stats.by_kind"), s->n_demands_by_kind, s->demands_by_kind, s_key_word);
    s_counts(M("cli.stats.by_rule"), s->n_near_misses_by_rule, s->near_misses_by_rule, s_key_word);
    if (!s->n_rows && !s->from[0] && !s->to[0])
        return;
    printf("\npostings created %s%s .. %s: %zu row%s\n", s->from[0] ? "from " : "", s->from[0] ? s->from : "the start",
           s->to[0] ? s->to : "today", s->n_rows, s->n_rows == 1 ? "" : "s");
    if (!s->n_rows)
        return;
    printf("%-10s %-5s %-20s %8s %8s %8s %6s %8s %6s %9s %9s\n", "district", "chain", "kind", "demands", "matched",
           "local", "fill", "awarded", "offers", "ttfm p50", "ttfm avg");
    uint64_t tp = 0, tm = 0, tl = 0, ta = 0, to = 0;
    for (size_t i = 0; i < s->n_rows; i++) {
        const Gongxu__V1__StatsRow *r = s->rows[i];
        const ProtobufCEnumValue *k = protobuf_c_enum_descriptor_get_value(&gongxu__v1__kind__descriptor, r->kind);
        char p50[16] = "-", avg[16] = "-";
        if (r->ttfm_p50_s >= 0)
            snprintf(p50, sizeof p50, "%.0fs", r->ttfm_p50_s);
        if (r->ttfm_mean_s >= 0)
            snprintf(avg, sizeof avg, "%.0fs", r->ttfm_mean_s);
        printf("%-10s %-5s %-20s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %5.0f%% %8" PRIu64 " %6" PRIu64 " %9s %9s\n",
               r->district, r->chain, k ? s_key_word(k->name) : "?", r->demands_posted, r->demands_matched,
               r->demands_matched_local, r->fill_rate * 100, r->demands_awarded, r->offers_posted, p50, avg);
        tp += r->demands_posted;
        tm += r->demands_matched;
        tl += r->demands_matched_local;
        ta += r->demands_awarded;
        to += r->offers_posted;
    }
    printf("%-10s %-5s %-20s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %5.0f%% %8" PRIu64 " %6" PRIu64 "\n", "total", "",
           "", tp, tm, tl, tp ? 100.0 * (double)tm / (double)tp : 0.0, ta, to);
    printf("(districts: ");
    const char *sep = "";
    for (size_t i = 0; i < s->n_rows; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(s->rows[j]->district, s->rows[i]->district) == 0;
        if (!seen) {
            printf("%s%s = %s", sep, s->rows[i]->district, s->rows[i]->district_name);
            sep = "; ";
        }
    }
    printf(")\n");
}

/* ------------------------------------------------------------------ vocabulary */

#define S_ZH_COLS 24 /* widest Chinese name shown, in terminal columns */
#define S_EN_COLS 40 /* widest English name shown */
#define S_ID_COLS 32 /* widest id shown */

/* Terminal columns of one code point: East Asian wide and fullwidth forms take two. */
static int s_cols(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
                   (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                   (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                   (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD)
               ? 2
               : 1;
}

/* The next code point of UTF-8 text at *p (the broker sends only valid UTF-8). */
static uint32_t s_next(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    uint32_t cp = s[0];
    size_t n = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
    if (n > 1)
        cp &= 0x3F >> (n - 1);
    for (size_t k = 1; k < n && s[k]; k++)
        cp = (cp << 6) | (s[k] & 0x3F);
    for (size_t k = 0; k < n && **p; k++)
        (*p)++;
    return cp;
}

/* Writes s padded with spaces to cols terminal columns, cut with "…" when
 * wider; the last column (pad false) is written whole. */
static void s_cell(const char *s, int cols, bool pad)
{
    int used = 0, total = 0;
    for (const char *p = s; *p;)
        total += s_cols(s_next(&p));
    if (!pad) {
        fputs(s, stdout);
        return;
    }
    const char *p = s;
    while (*p) {
        const char *at = p;
        int w = s_cols(s_next(&p));
        if (total > cols && used + w > cols - 1) { /* room for the ellipsis */
            fputs("\u2026", stdout);
            used++;
            break;
        }
        fwrite(at, 1, (size_t)(p - at), stdout);
        used += w;
    }
    printf("%*s", cols - used + 2, "");
}

static int s_width(const char *s, int cap)
{
    int w = 0;
    for (const char *p = s; *p;)
        w += s_cols(s_next(&p));
    return w > cap ? cap : w;
}

static void s_codes(const Gongxu__V1__FindCodes *q, const Gongxu__V1__CodeList *l)
{
    if (!l->n_entries) {
        printf("%s\n",
               M("cli.codes.none", "text", q ? q->text : "", "among",
                 q && q->code_class ? M("cli.codes.among", "class",
                                        s_word(&gongxu__v1__code_class__descriptor, q->code_class, "CODE_"))
                                    : ""));
        return;
    }
    int wc = 5, wi = 2, wz = 6, we = 12; /* at least the headers */
    for (size_t i = 0; i < l->n_entries; i++) {
        const Gongxu__V1__CodeEntry *e = l->entries[i];
        int c = s_width(s_word(&gongxu__v1__code_class__descriptor, e->code_class, "CODE_"), 16);
        wc = c > wc ? c : wc;
        wi = s_width(e->id, S_ID_COLS) > wi ? s_width(e->id, S_ID_COLS) : wi;
        wz = s_width(e->name_zh, S_ZH_COLS) > wz ? s_width(e->name_zh, S_ZH_COLS) : wz;
        we = s_width(e->name_en, S_EN_COLS) > we ? s_width(e->name_en, S_EN_COLS) : we;
    }
    s_cell("class", wc, true);
    s_cell("id", wi, true);
    s_cell("\u4e2d\u6587\u540d", wz, true); /* 中文名 */
    s_cell("English name", we, true);
    printf("aliases\n");
    for (size_t i = 0; i < l->n_entries; i++) {
        const Gongxu__V1__CodeEntry *e = l->entries[i];
        s_cell(s_word(&gongxu__v1__code_class__descriptor, e->code_class, "CODE_"), wc, true);
        s_cell(e->id, wi, true);
        s_cell(e->name_zh, wz, true);
        s_cell(e->name_en, we, true);
        for (size_t k = 0; k < e->n_aliases; k++)
            printf("%s%s", k ? ", " : "", e->aliases[k]);
        if (*e->county)
            printf("%s%s", e->n_aliases ? "  " : "", M("cli.codes.in_county", "county", e->county));
        printf("\n");
    }
    if (l->total > l->n_entries)
        printf("%s\n", M("cli.codes.more", "n", s_u64(l->n_entries), "all", s_u64(l->total)));
}

/* ------------------------------------------------------------------ replies */

static const char *s_plural(uint32_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void gx_cli_print_reply(const Gongxu__V1__Envelope *req, const Gongxu__V1__Reply *reply)
{
    const Gongxu__V1__PostingRef *ref =
        reply->result_case == GONGXU__V1__REPLY__RESULT_POSTING ? reply->posting : NULL;
    char rev[16];
    switch (req->body_case) {
    case GONGXU__V1__ENVELOPE__BODY_POST_DEMAND:
    case GONGXU__V1__ENVELOPE__BODY_UPDATE_DEMAND:
        if (!ref)
            break;
        snprintf(rev, sizeof rev, "%u", ref->revision);
        printf("%s\n",
               M(req->body_case == GONGXU__V1__ENVELOPE__BODY_POST_DEMAND
                     ? s_plural(ref->candidates, "cli.reply.posted_demand_one", "cli.reply.posted_demand")
                     : s_plural(ref->candidates, "cli.reply.updated_demand_one", "cli.reply.updated_demand"),
                 "id", s_u64(ref->id), "rev", rev, "n", s_u64(ref->candidates)));
        return;
    case GONGXU__V1__ENVELOPE__BODY_POST_OFFER:
    case GONGXU__V1__ENVELOPE__BODY_UPDATE_OFFER:
        if (!ref)
            break;
        snprintf(rev, sizeof rev, "%u", ref->revision);
        printf("%s\n",
               M(req->body_case == GONGXU__V1__ENVELOPE__BODY_POST_OFFER
                     ? s_plural(ref->candidates, "cli.reply.posted_offer_one", "cli.reply.posted_offer")
                     : s_plural(ref->candidates, "cli.reply.updated_offer_one", "cli.reply.updated_offer"),
                 "id", s_u64(ref->id), "rev", rev, "n", s_u64(ref->candidates)));
        return;
    case GONGXU__V1__ENVELOPE__BODY_SUBSCRIBE:
        if (!ref)
            break;
        printf("%s\n", M(s_plural(ref->candidates, "cli.reply.subscribed_one", "cli.reply.subscribed"), "id",
                         s_u64(ref->id), "n", s_u64(ref->candidates)));
        return;
    case GONGXU__V1__ENVELOPE__BODY_WITHDRAW:
        printf("%s%s\n", M("cli.reply.withdrew", "id", s_u64(req->withdraw->posting_id)),
               ref ? M("cli.reply.now", "state", s_state(ref->state)) : "");
        return;
    case GONGXU__V1__ENVELOPE__BODY_REGISTER_FIRM:
        printf("%s\n", M("cli.reply.registered_firm", "id", req->register_firm->firm->id, "name",
                         req->register_firm->firm->name));
        return;
    case GONGXU__V1__ENVELOPE__BODY_INTEREST:
        printf("%s", M("cli.reply.interest", "id", s_u64(req->interest->demand_id)));
        if (req->interest->offer_id)
            printf("%s", M("cli.reply.interest_offer", "id", s_u64(req->interest->offer_id)));
        printf("\n");
        return;
    case GONGXU__V1__ENVELOPE__BODY_ACCEPT:
        printf("%s\n",
               M("cli.reply.accepted", "firm", req->accept->firm_id, "id", s_u64(req->accept->demand_id)));
        return;
    case GONGXU__V1__ENVELOPE__BODY_DECLINE:
        printf("%s\n",
               M("cli.reply.declined", "firm", req->decline->firm_id, "id", s_u64(req->decline->demand_id)));
        return;
    case GONGXU__V1__ENVELOPE__BODY_AWARD:
        printf("%s", M("cli.reply.awarded", "id", s_u64(req->award->demand_id), "firm", req->award->firm_id));
        if (req->award->quantity > 0)
            printf("%s", M("cli.reply.awarded_qty", "qty", s_num("%.10g", req->award->quantity)));
        if (ref) {
            snprintf(rev, sizeof rev, "%u", ref->revision);
            printf("%s", M("cli.reply.awarded_now", "state", s_state(ref->state), "rev", rev));
        }
        printf("\n");
        return;
    case GONGXU__V1__ENVELOPE__BODY_REGISTER_KEY:
        printf("%s\n", M("cli.reply.registered_key", "key", req->register_key->public_key, "firm",
                         req->register_key->firm_id));
        return;
    case GONGXU__V1__ENVELOPE__BODY_REVOKE_KEY: {
        const Gongxu__V1__KeyInfo *k =
            reply->result_case == GONGXU__V1__REPLY__RESULT_KEY ? reply->key : NULL;
        printf("%s", M("cli.reply.revoked_key", "key", req->revoke_key->public_key));
        if (k && *k->firm_id)
            printf("%s", M("cli.reply.revoked_of", "firm", k->firm_id));
        printf("\n");
        return;
    }
    default:
        break;
    }
    switch (reply->result_case) {
    case GONGXU__V1__REPLY__RESULT_PONG: {
        const Gongxu__V1__Ping *p = reply->pong;
        printf("pong");
        if (p && *p->version)
            printf(" from gongxud %s", p->version);
        if (p && p->max_frame_bytes)
            printf(": max_frame_bytes %u, max_string_bytes %u, max_text_bytes %u, max_repeated %u",
                   p->max_frame_bytes, p->max_string_bytes, p->max_text_bytes, p->max_repeated);
        printf("\n");
        break;
    }
    case GONGXU__V1__REPLY__RESULT_CODES:
        s_codes(req->body_case == GONGXU__V1__ENVELOPE__BODY_FIND_CODES ? req->find_codes : NULL,
                reply->codes);
        break;
    case GONGXU__V1__REPLY__RESULT_POSTING:
        snprintf(rev, sizeof rev, "%u", ref->revision);
        printf("%s\n",
               M("cli.reply.posting", "id", s_u64(ref->id), "rev", rev, "state", s_state(ref->state)));
        break;
    case GONGXU__V1__REPLY__RESULT_SHORTLIST:
        s_shortlist(reply->shortlist);
        break;
    case GONGXU__V1__REPLY__RESULT_VIEW:
        if (reply->view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_DEMAND)
            s_demand(reply->view->demand);
        else if (reply->view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_OFFER)
            s_offer(reply->view->offer);
        else if (reply->view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_SUBSCRIPTION)
            s_subscription(reply->view->subscription);
        else
            printf("%s\n", M("cli.reply.empty"));
        break;
    case GONGXU__V1__REPLY__RESULT_POSTINGS:
        s_list(reply->postings);
        break;
    case GONGXU__V1__REPLY__RESULT_RESUME:
        printf("%s\n", M("cli.reply.resumed", "after", s_u64(reply->resume->resumed_after), "head",
                         s_u64(reply->resume->head_seq)));
        break;
    case GONGXU__V1__REPLY__RESULT_STATS:
        s_stats(reply->stats);
        break;
    case GONGXU__V1__REPLY__RESULT_FIRM:
        s_firm(reply->firm);
        break;
    case GONGXU__V1__REPLY__RESULT_KEY:
        printf("%s\n", M("cli.reply.key", "key", reply->key->public_key, "firm", reply->key->firm_id,
                         "revoked", reply->key->revoked ? M("cli.reply.key_revoked") : "", "when",
                         s_when(reply->key->created_at)));
        break;
    case GONGXU__V1__REPLY__RESULT_BACKUP:
        printf("%s\n",
               M("cli.reply.backup", "dest", reply->backup->dest, "bytes", s_u64(reply->backup->bytes)));
        break;
    case GONGXU__V1__REPLY__RESULT_ACKED:
        printf("%s\n", M("cli.reply.acked", "seq", s_u64(reply->acked->seq)));
        break;
    default:
        printf("%s\n", M("cli.reply.ok"));
        break;
    }
}

/* ------------------------------------------------------------------ notices */

/* ` "title"` after a demand id, when there is a title. */
static void s_title(const Gongxu__V1__DemandSummary *d)
{
    if (d && *d->title)
        printf(" \"%s\"", d->title);
}

static void s_demand_changed(const char *what, const Gongxu__V1__DemandChanged *c)
{
    const Gongxu__V1__DemandSummary *d = c->demand;
    printf("%s", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id", s_u64(d ? d->id : 0)));
    s_title(d);
    if (c->demand && strcmp(what, "demand_updated") == 0) {
        char rev[16];
        snprintf(rev, sizeof rev, "%u", d->revision);
        printf("%s", M("cli.notice.revision", "rev", rev, "what",
                       M(c->still_eligible ? "cli.notice.still" : "cli.notice.updated")));
    }
    if (*c->awarded_to) {
        printf("%s", M("cli.notice.awarded", "firm", c->awarded_to));
        if (c->awarded_quantity > 0)
            printf("%s", M("cli.notice.awarded_qty", "qty", s_num("%.10g", c->awarded_quantity)));
    }
    printf("\n");
}

void gx_cli_print_notice(const Gongxu__V1__Notice *n)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&gongxu__v1__notice__descriptor, (unsigned)n->body_case);
    const char *what = f ? f->name : "notice";
    printf("#%" PRIu64 " ", n->seq);
    switch (n->body_case) {
    case GONGXU__V1__NOTICE__BODY_CANDIDATE_ADDED: {
        const Gongxu__V1__Candidate *c = n->candidate_added->candidate;
        printf("%s", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id",
                       s_u64(n->candidate_added->demand_id)));
        if (c) {
            printf("%s\n", M("cli.notice.candidate", "id", s_u64(c->offer_id), "name",
                             *c->firm_name ? c->firm_name : c->firm_id, "rank", s_u64(c->rank), "score",
                             s_num("%.1f", c->score)));
            s_rules(c->explanation, "  ");
        } else {
            printf("\n");
        }
        break;
    }
    case GONGXU__V1__NOTICE__BODY_CANDIDATE_REMOVED: {
        const Gongxu__V1__CandidateRemoved *r = n->candidate_removed;
        printf("%s%s\n", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id", s_u64(r->demand_id)),
               M("cli.notice.removed", "id", s_u64(r->offer_id), "firm", r->firm_id, "reason",
                 s_word(&gongxu__v1__removed_reason__descriptor, r->reason, "")));
        break;
    }
    case GONGXU__V1__NOTICE__BODY_OPPORTUNITY: {
        const Gongxu__V1__Opportunity *o = n->opportunity;
        const Gongxu__V1__DemandSummary *d = o->demand;
        printf("%s", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id", s_u64(d ? d->id : 0)));
        s_title(d);
        if (d) {
            printf("%s", M("cli.notice.from", "owner", *d->owner_name ? d->owner_name : d->owner, "kind",
                           s_kind(d->kind), "industry", d->industry, "qty", s_num("%.10g", d->quantity),
                           "unit", d->unit));
            if (*d->needed_by)
                printf("%s", M("cli.demand.by", "date", d->needed_by));
        }
        if (o->offer_id)
            printf("%s", M("cli.notice.offer", "id", s_u64(o->offer_id)));
        if (o->subscription_id)
            printf("%s", M("cli.notice.subscription", "id", s_u64(o->subscription_id)));
        if (o->rank)
            printf("%s", M("cli.notice.rank", "rank", s_u64(o->rank)));
        if (o->explanation)
            printf("%s", M("cli.notice.score", "score", s_num("%.1f", o->explanation->score)));
        printf("\n");
        s_rules(o->explanation, "  ");
        break;
    }
    case GONGXU__V1__NOTICE__BODY_NEAR_MISS: {
        const Gongxu__V1__NearMiss *m = n->near_miss;
        printf("%s", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id",
                       s_u64(m->demand ? m->demand->id : 0)));
        s_title(m->demand);
        printf("%s\n", M("cli.notice.fails", "id", s_u64(m->offer_id), "rule", s_rule(m->rule)));
        s_rules(m->explanation, "  ");
        if (*m->hint)
            printf("%s\n", M("cli.notice.hint", "hint", m->hint));
        break;
    }
    case GONGXU__V1__NOTICE__BODY_INTEREST_RECEIVED: {
        const Gongxu__V1__InterestReceived *r = n->interest_received;
        printf("%s%s", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id", s_u64(r->demand_id)),
               M("cli.notice.interest", "name", r->firm_name, "firm", r->firm_id));
        if (r->offer_id)
            printf("%s", M("cli.notice.interest_offer", "id", s_u64(r->offer_id)));
        if (*r->message)
            printf("%s", M("cli.notice.interest_message", "message", r->message));
        printf("\n");
        s_rules(r->explanation, "  ");
        break;
    }
    case GONGXU__V1__NOTICE__BODY_INTEREST_DECLINED:
        printf("%s%s\n",
               M("cli.notice.head", "what", s_loc("cli.notice.", what), "id",
                 s_u64(n->interest_declined->demand_id)),
               *n->interest_declined->reason ? M("cli.notice.reason", "reason", n->interest_declined->reason)
                                             : "");
        break;
    case GONGXU__V1__NOTICE__BODY_DETAILS_RELEASED: {
        const Gongxu__V1__DetailsReleased *r = n->details_released;
        printf("%s%s\n", M("cli.notice.head", "what", s_loc("cli.notice.", what), "id", s_u64(r->demand_id)),
               M("cli.notice.counterpart", "name", r->counterpart_name, "id", r->counterpart_id));
        s_line("cli.label.contact", r->counterpart_contact);
        s_line("cli.label.details", r->details);
        break;
    }
    case GONGXU__V1__NOTICE__BODY_DEMAND_UPDATED:
        s_demand_changed(what, n->demand_updated);
        break;
    case GONGXU__V1__NOTICE__BODY_DEMAND_WITHDRAWN:
        s_demand_changed(what, n->demand_withdrawn);
        break;
    case GONGXU__V1__NOTICE__BODY_DEMAND_AWARDED:
        s_demand_changed(what, n->demand_awarded);
        break;
    case GONGXU__V1__NOTICE__BODY_DEMAND_EXPIRED:
        s_demand_changed(what, n->demand_expired);
        break;
    case GONGXU__V1__NOTICE__BODY_OFFER_EXPIRED:
        printf("%s\n", M("cli.notice.offer_now", "what", s_loc("cli.notice.", what), "id",
                         s_u64(n->offer_expired->offer_id), "state", s_state(n->offer_expired->state)));
        break;
    default:
        printf("%s\n", M("cli.notice.unknown"));
        break;
    }
    if (n->changed_since && *n->changed_since)
        printf("%s\n", M("cli.notice.note", "note", n->changed_since));
    fflush(stdout);
}
