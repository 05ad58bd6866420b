/* cli_build.c — the flags and --file of register, post, update and subscribe,
 * turned into the proto3 JSON of a Firm, Demand, Offer or Subscription.
 *
 * Each command's flags are one table: the flag, the proto field it sets, how
 * its argument is read. Flag values are checked here, so a bad one is a usage
 * error naming the flag; the file's JSON is checked against the message type,
 * so a bad file is EX_NOINPUT naming the field. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum s_type {
    S_STR,      /* any text */
    S_NUM,      /* a decimal number within [min, max] */
    S_UINT,     /* a whole number within [min, max] */
    S_DATE,     /* YYYY-MM-DD */
    S_DURATION, /* 30d: the field gets now + the duration, unix seconds */
    S_RANGE,    /* MIN:MAX: a PriceRange */
    S_ENUM,     /* a value name of e without prefix, any case */
    S_FLAG,     /* no argument: the field becomes true */
    S_CERT,     /* SCHEME:NUMBER:YYYY-MM-DD: a Certification */
    S_REVISION, /* update only: the revision last seen */
    S_FILE,     /* --file PATH: proto3 JSON of the whole message */
    S_OVERRIDE, /* register --override-check: outside the Firm */
} s_type;

typedef struct s_flag {
    const char *name;                 /* the long option */
    const char *field;                /* proto field it sets; "a.b" nests; NULL for file/override */
    s_type type;                      /* how the argument is read */
    bool repeated;                    /* each use appends to an array */
    const ProtobufCEnumDescriptor *e; /* S_ENUM: the enum */
    const char *prefix;               /* S_ENUM: prefix the value names carry ("CREDIT_") */
    double min;                       /* S_NUM, S_UINT: lower bound */
    double max;                       /* S_NUM, S_UINT: upper bound */
    bool above;                       /* S_NUM, S_UINT: the value must be above min, not equal to it */
    const char *want;                 /* S_NUM, S_UINT: what the broker takes, in words ("more than 0") */
    const char *arg;                  /* the argument's name in help ("CODE"); NULL for S_FLAG */
    const char *help;                 /* one line of help; S_ENUM adds the accepted words */
} s_flag;

#define S_BIG 1e15 /* upper bound of quantities and distances: beyond it is a typo */
#define S_MAX_FLAGS 40

/* Table rows; designated so unused members stay zero. The bounds of numbers
 * are what the broker accepts (src/codec.c, src/validate.c); S_BIG is ours. */
/* clang-format off */
#define S_ONE(n, f, t, a, h) {.name = n, .field = f, .type = t, .arg = a, .help = h}
#define S_MANY(n, f, t, a, h) {.name = n, .field = f, .type = t, .repeated = true, .arg = a, .help = h}
#define S_NUMBER(n, f, t, lo, hi, w, a, h) {.name = n, .field = f, .type = t, .min = lo, .max = hi, .want = w, .arg = a, .help = h}
#define S_ABOVE(n, f, t, lo, hi, w, a, h) {.name = n, .field = f, .type = t, .min = lo, .max = hi, .above = true, .want = w, .arg = a, .help = h}
#define S_ENUM_ONE(n, f, en, pre, a, h) {.name = n, .field = f, .type = S_ENUM, .e = &en, .prefix = pre, .arg = a, .help = h}
#define S_ENUM_MANY(n, f, en, pre, a, h) {.name = n, .field = f, .type = S_ENUM, .repeated = true, .e = &en, .prefix = pre, .arg = a, .help = h}
#define S_END {.name = NULL}

static const s_flag s_firm_flags[] = {
    S_ONE("id", "id", S_STR, "USCC", "the firm's 18-character Unified Social Credit Code (required)"),
    S_ONE("name", "name", S_STR, "NAME", "the firm's name (required)"),
    S_ONE("county", "county", S_STR, "CODE", "GB/T 2260 county code, e.g. 410611 (required; gongxu vocab --class county)"),
    S_ONE("zone", "zone", S_STR, "ZONE", "the park or zone it is in, e.g. hebi.etdz (gongxu vocab --class zone)"),
    S_NUMBER("lat", "location.lat", S_NUM, -90, 90, "a latitude in degrees from -90 to 90", "DEG", "latitude, with --lon: distances are measured from here"),
    S_NUMBER("lon", "location.lon", S_NUM, -180, 180, "a longitude in degrees from -180 to 180", "DEG", "longitude, with --lat"),
    S_ENUM_ONE("credit", "credit", gongxu__v1__credit__descriptor, "CREDIT_", "GRADE", "public credit grade (default C; D firms are never matched)"),
    S_ENUM_MANY("role", "roles", gongxu__v1__role__descriptor, "", "ROLE", "what the firm does on the platform"),
    S_MANY("cert", "certifications", S_CERT, "SCHEME:NUMBER:YYYY-MM-DD", "a certificate held and its expiry, e.g. IATF16949:0412:2028-06-30"),
    S_ONE("contact", "contact", S_STR, "TEXT", "who to talk to; released to a counterpart only after acceptance"),
    S_ONE("language", "language", S_STR, "zh-CN|en", "what the firm reads: the language of its notices' explanations and hints (default zh-CN)"),
    S_ONE("override-check", NULL, S_OVERRIDE, NULL, "accept an id whose check character fails (legacy codes)"),
    S_ONE("file", NULL, S_FILE, "FILE", "the Firm as proto3 JSON (\"-\": standard input); flags replace its fields"),
    S_END,
};

static const s_flag s_demand_flags[] = {
    S_ENUM_ONE("kind", "kind", gongxu__v1__kind__descriptor, "", "KIND", "what is needed (required)"),
    S_ONE("industry", "industry", S_STR, "CODE", "GB/T 4754 industry code, e.g. C3670 (required; gongxu vocab --class industry)"),
    S_MANY("process", "processes", S_STR, "ID", "a required process, e.g. casting.die.magnesium (gongxu vocab --class process)"),
    S_MANY("material", "materials", S_STR, "ID", "a required material, e.g. AZ91D (gongxu vocab --class material)"),
    S_ABOVE("quantity", "quantity", S_NUM, 0, S_BIG, "a number more than 0", "Q", "how many units (required)"),
    S_ONE("unit", "unit", S_STR, "UNIT", "the unit of the quantity (default pcs)"),
    S_ONE("needed-by", "needed_by", S_DATE, "YYYY-MM-DD", "the day it is needed by (required)"),
    S_ONE("budget", "budget", S_RANGE, "MIN:MAX", "unit budget in CNY"),
    S_MANY("cert", "certifications", S_STR, "SCHEME", "a certificate the supplier must hold, e.g. IATF16949"),
    S_ENUM_ONE("min-credit", "min_credit", gongxu__v1__credit__descriptor, "CREDIT_", "GRADE", "lowest supplier credit grade (default C)"),
    S_ENUM_ONE("scope", "scope", gongxu__v1__scope__descriptor, "", "SCOPE", "where suppliers may be (default anywhere)"),
    S_ABOVE("max-distance", "max_distance_km", S_NUM, 0, S_BIG, "a distance in km more than 0 (leave it out for no limit)", "KM", "farthest a supplier may be"),
    S_ONE("split", "splittable", S_FLAG, NULL, "the quantity may be split across suppliers"),
    S_NUMBER("max-suppliers", "max_suppliers", S_UINT, 1, UINT32_MAX, "a whole number, 1 or more (leave it out for any number)", "N", "with --split: at most this many suppliers"),
    S_ONE("title", "title", S_STR, "TEXT", "a short public title"),
    S_ONE("summary", "summary", S_STR, "TEXT", "the public summary suppliers see"),
    S_ONE("details", "details", S_STR, "TEXT", "confidential: released only to a supplier you accept"),
    S_ONE("expires-in", "expires_at", S_DURATION, "DURATION", "open for this long: 90s, 15m, 12h, 30d, 2w (default: the broker's)"),
    S_MANY("ipc", "ipc", S_STR, "CLASS", "tech_transfer: an IPC patent class, e.g. 'H01L 21/02'"),
    S_NUMBER("min-trl", "min_trl", S_UINT, 1, 9, "a whole number from 1 to 9", "TRL", "tech_transfer: lowest technology readiness level"),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, "", "MODE", "tech_transfer: an acceptable transfer mode"),
    S_ONE("revision", "revision", S_REVISION, "N", "update only if it is still at revision N (default: the one just read)"),
    S_ONE("file", NULL, S_FILE, "FILE", "the Demand as proto3 JSON (\"-\": standard input); flags replace its fields"),
    S_END,
};

static const s_flag s_offer_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, "", "KIND", "a kind of demand served (at least one)"),
    S_MANY("industry", "industries", S_STR, "CODE", "a GB/T 4754 industry code served, e.g. C3670"),
    S_MANY("process", "processes", S_STR, "ID", "a process offered, e.g. casting.die.magnesium"),
    S_MANY("material", "materials", S_STR, "ID", "a material worked, e.g. AZ91D"),
    S_NUMBER("capacity", "monthly_capacity", S_NUM, 0, S_BIG, "a number, 0 or more (0 only for a tech_transfer offer)", "Q", "units per 30 days (required unless tech_transfer only)"),
    S_NUMBER("min-order", "min_order", S_NUM, 0, S_BIG, "a number, 0 or more", "Q", "smallest order taken"),
    S_NUMBER("lead-time", "lead_time_days", S_UINT, 0, 3650, "a whole number of days, 0 or more (at most 3650)", "DAYS", "days from order to delivery"),
    S_ONE("price", "price", S_RANGE, "MIN:MAX", "unit price range in CNY"),
    S_ENUM_ONE("service-scope", "service_scope", gongxu__v1__scope__descriptor, "", "SCOPE", "where customers may be (default anywhere)"),
    S_ABOVE("radius", "service_radius_km", S_NUM, 0, S_BIG, "a distance in km more than 0 (leave it out for no limit)", "KM", "farthest customer served"),
    S_ONE("title", "title", S_STR, "TEXT", "a short title"),
    S_ONE("summary", "summary", S_STR, "TEXT", "a summary of the capability"),
    S_ONE("expires-in", "expires_at", S_DURATION, "DURATION", "open for this long: 90s, 15m, 12h, 30d, 2w (default: the broker's)"),
    S_MANY("ipc", "ipc", S_STR, "CLASS", "tech_transfer: an IPC patent class held"),
    S_NUMBER("trl", "trl", S_UINT, 1, 9, "a whole number from 1 to 9", "TRL", "tech_transfer: technology readiness level"),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, "", "MODE", "tech_transfer: a transfer mode offered"),
    S_ONE("revision", "revision", S_REVISION, "N", "update only if it is still at revision N (default: the one just read)"),
    S_ONE("file", NULL, S_FILE, "FILE", "the Offer as proto3 JSON (\"-\": standard input); flags replace its fields"),
    S_END,
};

static const s_flag s_subscription_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, "", "KIND", "only demands of this kind"),
    S_MANY("industry", "industry_prefixes", S_STR, "PREFIX", "only demands in this industry code or below it, e.g. C36"),
    S_MANY("process", "process_prefixes", S_STR, "PREFIX", "only demands needing this process or below it, e.g. casting"),
    S_MANY("district", "districts", S_STR, "D", "only demands from this county code or zone"),
    S_ONE("file", NULL, S_FILE, "FILE", "the Subscription as proto3 JSON (\"-\": standard input)"),
    S_END,
};
/* clang-format on */

/* The state of one posting command's parse. */
typedef struct s_build {
    const s_flag *flags; /* the command's table */
    bool update;         /* update demand/offer: --revision allowed */
    json_t *set;         /* fields set by flags, by proto name (owned) */
    const char *file;    /* --file PATH, or NULL */
    bool override_check; /* --override-check */
    bool has_revision;   /* --revision */
} s_build;

static const s_flag *s_table(gx_cli_what what)
{
    switch (what) {
    case GX_CLI_FIRM:
        return s_firm_flags;
    case GX_CLI_DEMAND:
        return s_demand_flags;
    case GX_CLI_OFFER:
        return s_offer_flags;
    case GX_CLI_SUBSCRIPTION:
        return s_subscription_flags;
    }
    return s_subscription_flags;
}

static const ProtobufCMessageDescriptor *s_descriptor(gx_cli_what what)
{
    switch (what) {
    case GX_CLI_FIRM:
        return &gongxu__v1__firm__descriptor;
    case GX_CLI_DEMAND:
        return &gongxu__v1__demand__descriptor;
    case GX_CLI_OFFER:
        return &gongxu__v1__offer__descriptor;
    case GX_CLI_SUBSCRIPTION:
        return &gongxu__v1__subscription__descriptor;
    }
    return &gongxu__v1__subscription__descriptor;
}

/* Sets (or, for a repeated flag, appends) value at the flag's field in b->set;
 * steals value. */
static int s_put(gx_cli *g, s_build *b, const s_flag *f, json_t *value)
{
    if (!value)
        return gx_cli_usage(g, "out of memory");
    json_t *obj = b->set;
    char head[64];
    const char *key = f->field;
    const char *dot = strchr(key, '.');
    if (dot) { /* one level of nesting is all the tables use */
        size_t n = (size_t)(dot - key);
        memcpy(head, key, n);
        head[n] = '\0';
        json_t *sub = json_object_get(obj, head);
        if (!sub) {
            sub = json_object();
            json_object_set_new(obj, head, sub);
        }
        obj = sub;
        key = dot + 1;
    }
    if (f->repeated) {
        json_t *arr = json_object_get(obj, key);
        if (!arr) {
            arr = json_array();
            json_object_set_new(obj, key, arr);
        }
        if (json_array_size(arr) >= 10000) {
            json_decref(value);
            return gx_cli_usage(g, "--%s given too often", f->name);
        }
        json_array_append_new(arr, value);
        return 0;
    }
    if (json_object_get(obj, key)) {
        json_decref(value);
        return gx_cli_usage(g, "--%s given twice", f->name);
    }
    json_object_set_new(obj, key, value);
    return 0;
}

static int s_bad(gx_cli *g, const s_flag *f, const char *want, const char *arg)
{
    return gx_cli_usage(g, "--%s: expected %s, got \"%s\"", f->name, want, arg);
}

/* A number flag out of its bounds, or not a number at all: one message, the
 * bounds the broker accepts. Only a value past our own typo ceiling gets
 * another. */
static int s_bad_number(gx_cli *g, const s_flag *f, const char *arg, double v, bool number)
{
    if (number && v > f->max && f->max >= S_BIG)
        return gx_cli_usage(g, "--%s must be at most %g, got \"%s\"", f->name, f->max, arg);
    return gx_cli_usage(g, "--%s must be %s, got \"%s\"", f->name, f->want, arg);
}

/* A Certification from SCHEME:NUMBER:YYYY-MM-DD (the number may hold colons);
 * NULL after printing the problem. */
static json_t *s_cert(gx_cli *g, const s_flag *f, const char *arg, int *rc)
{
    const char *first = strchr(arg, ':'), *last = strrchr(arg, ':');
    char why[160];
    *rc = EX_USAGE;
    if (!first || first == last || first == arg || last == first + 1) {
        s_bad(g, f, "SCHEME:NUMBER:YYYY-MM-DD (e.g. IATF16949:0412-A:2028-06-30)", arg);
        return NULL;
    }
    if (gx_cli_date_problem(last + 1, why, sizeof why)) {
        gx_cli_usage(g, "--%s %s: %s", f->name, arg, why);
        return NULL;
    }
    *rc = 0;
    return json_pack("{s:s%, s:s%, s:s}", "scheme", arg, (size_t)(first - arg), "number", first + 1,
                     (size_t)(last - first - 1), "valid_until", last + 1);
}

static int s_on_flag(gx_cli *g, void *state, int val, const char *arg)
{
    s_build *b = state;
    const s_flag *f = &b->flags[val - GX_CLI_OPT_BASE];
    double d = 0, lo, hi;
    int64_t secs;
    char words[256], what[64];
    int rc;
    snprintf(what, sizeof what, "--%s", f->name);
    if (arg && f->type != S_FILE && (rc = gx_cli_text(g, what, arg)) != 0) /* a path is any bytes */
        return rc;
    switch (f->type) {
    case S_STR:
        return s_put(g, b, f, json_string(arg));
    case S_NUM:
    case S_UINT: {
        bool number = gx_cli_double(arg, &d);
        if (!number || (f->above ? d <= f->min : d < f->min) || d > f->max ||
            (f->type == S_UINT && d != (double)(uint64_t)d))
            return s_bad_number(g, f, arg, d, number);
        return s_put(g, b, f, f->type == S_UINT ? json_integer((json_int_t)d) : json_real(d));
    }
    case S_DATE: {
        const char *why = gx_cli_date_problem(arg, words, sizeof words);
        if (why)
            return strcmp(why, "expected a date YYYY-MM-DD") == 0 ? s_bad(g, f, "a date YYYY-MM-DD", arg)
                                                                  : gx_cli_usage(g, "--%s: %s", f->name, why);
        return s_put(g, b, f, json_string(arg));
    }
    case S_DURATION: {
        if (!gx_cli_duration(arg, &secs))
            return s_bad(g, f, "a duration such as 30d, 12h, 15m or 90s", arg);
        char at[32];
        snprintf(at, sizeof at, "%lld", (long long)time(NULL) + (long long)secs);
        return s_put(g, b, f, json_string(at));
    }
    case S_RANGE:
        if (!gx_cli_range(arg, &lo, &hi))
            return s_bad(g, f, "MIN:MAX with 0 <= MIN <= MAX", arg);
        return s_put(g, b, f, json_pack("{s:f, s:f}", "min", lo, "max", hi));
    case S_ENUM: {
        const ProtobufCEnumValue *v = gx_cli_enum(f->e, f->prefix, arg);
        if (!v)
            return s_bad(g, f, gx_cli_enum_words(f->e, f->prefix, words, sizeof words), arg);
        return s_put(g, b, f, json_string(v->name));
    }
    case S_FLAG:
        return s_put(g, b, f, json_true());
    case S_CERT: {
        json_t *cert = s_cert(g, f, arg, &rc);
        return cert ? s_put(g, b, f, cert) : rc;
    }
    case S_REVISION: {
        uint64_t u;
        if (!b->update)
            return gx_cli_usage(g, "--revision belongs to update");
        if (!gx_cli_u64(arg, &u) || u == 0 || u > UINT32_MAX)
            return s_bad(g, f, "a revision number (1 or more)", arg);
        b->has_revision = true;
        return s_put(g, b, f, json_integer((json_int_t)u));
    }
    case S_FILE:
        if (b->file)
            return gx_cli_usage(g, "--file given twice");
        b->file = arg;
        return 0;
    case S_OVERRIDE:
        b->override_check = true;
        return 0;
    }
    return gx_cli_usage(g, "unhandled flag --%s", f->name);
}

/* Reads --file (or stdin for "-") as a JSON object of type desc; prints the
 * problem and returns EX_NOINPUT when it cannot. */
static int s_load_file(gx_cli *g, const char *path, const ProtobufCMessageDescriptor *desc, json_t **out)
{
    json_error_t jerr;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!j) {
        /* jansson's words for bytes that are not UTF-8: say what to do about them */
        const char *hint = strncmp(jerr.text, "unable to decode byte", 21) == 0
                               ? " (the file is not UTF-8; " GX_CLI_UTF8_HINT ")"
                               : "";
        if (jerr.line > 0)
            fprintf(stderr, "gongxu: %s: %s:%d:%d: %s%s\n", g->cmd, path, jerr.line, jerr.column, jerr.text,
                    hint);
        else
            fprintf(stderr, "gongxu: %s: %s%s\n", g->cmd, jerr.text, hint);
        return EX_NOINPUT;
    }
    if (!json_is_object(j)) {
        fprintf(stderr, "gongxu: %s: %s: expected a JSON object (a %s)\n", g->cmd, path, desc->short_name);
        json_decref(j);
        return EX_NOINPUT;
    }
    char err[512];
    ProtobufCMessage *m = gx_json_to_message(desc, j, err, sizeof err);
    if (!m) {
        fprintf(stderr, "gongxu: %s: %s: %s\n", g->cmd, path, err);
        json_decref(j);
        return EX_NOINPUT;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    *out = j;
    return 0;
}

void gx_cli_merge(json_t *file, const json_t *set)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)set, key, val)
    {
        char camel[64];
        gx_json_name(key, camel, sizeof camel);
        json_object_del(file, camel);
        json_object_set(file, key, val);
    }
}

int gx_cli_build_posting(gx_cli *g, gx_cli_what what, bool update, int argc, char **argv, gx_cli_posting *out)
{
    struct option opts[S_MAX_FLAGS + 1];
    s_build b = {.flags = s_table(what), .update = update, .set = json_object()};
    int rc = 0, first = 0;
    json_t *body = NULL;
    memset(out, 0, sizeof *out);
    memset(opts, 0, sizeof opts);
    if (!b.set)
        return EX_OSERR;
    for (int i = 0; b.flags[i].name && i < S_MAX_FLAGS; i++) {
        opts[i].name = b.flags[i].name;
        opts[i].has_arg =
            b.flags[i].type == S_FLAG || b.flags[i].type == S_OVERRIDE ? no_argument : required_argument;
        opts[i].val = GX_CLI_OPT_BASE + i;
    }
    rc = gx_cli_getopt(g, argc, argv, opts, s_on_flag, &b, &first);
    if (rc != 0)
        goto out;

    json_t *loc = json_object_get(b.set, "location");
    if (loc && json_object_size(loc) != 2) {
        rc = gx_cli_usage(g, "--lat and --lon go together");
        goto out;
    }
    if (b.file) {
        rc = s_load_file(g, b.file, s_descriptor(what), &body);
        if (rc != 0)
            goto out;
        gx_cli_merge(body, b.set);
    } else {
        body = json_incref(b.set);
        size_t given = json_object_size(b.set) - (b.has_revision ? 1 : 0);
        if (what == GX_CLI_FIRM) {
            static const char *const need[] = {"id", "name", "county"};
            for (size_t i = 0; i < 3; i++)
                if (!json_object_get(body, need[i])) {
                    rc = gx_cli_usage(g, "--%s is required (or give --file)", need[i]);
                    goto out;
                }
        } else if (what != GX_CLI_SUBSCRIPTION && given == 0) {
            rc = gx_cli_usage(g, "nothing to %s: give flags or --file", update ? "update" : "post");
            goto out;
        }
    }
    out->body = body;
    body = NULL;
    out->from_file = b.file != NULL;
    out->override_check = b.override_check;
    out->has_revision = b.has_revision;
    out->npos = argc - first;
    out->pos = argv + first;
out:
    json_decref(body);
    json_decref(b.set);
    return rc;
}

void gx_cli_posting_fini(gx_cli_posting *p)
{
    if (!p)
        return;
    json_decref(p->body);
    p->body = NULL;
}

void gx_cli_flags_help(FILE *out, gx_cli_what what, bool update)
{
    char left[96], words[256];
    for (const s_flag *f = s_table(what); f->name; f++) {
        if (f->type == S_REVISION && !update)
            continue;
        snprintf(left, sizeof left, "--%s%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "",
                 f->repeated ? "..." : "");
        if (strlen(left) > 24)
            fprintf(out, "  %s\n  %-24s  ", left, "");
        else
            fprintf(out, "  %-24s  ", left);
        fputs(f->help, out);
        if (f->type == S_ENUM) {
            gx_cli_enum_words(f->e, f->prefix, words, sizeof words);
            if (strlen(f->help) + strlen(words) > 70) /* the words on a line of their own */
                fprintf(out, ":\n  %-24s    %s", "", words);
            else
                fprintf(out, ": %s", words);
        }
        if (f->type == S_FILE && update)
            fputs("; the file is the full replacement", out);
        fputc('\n', out);
    }
}

const char *gx_cli_flag_of(const char *field)
{
    static const gx_cli_what all[] = {GX_CLI_DEMAND, GX_CLI_OFFER, GX_CLI_FIRM, GX_CLI_SUBSCRIPTION};
    static const char *const others[][2] = {{"message", "message"},
                                            {"reason", "reason"}}; /* interest, decline */
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++)
        for (const s_flag *f = s_table(all[t]); f->name; f++) {
            const char *dot = f->field ? strrchr(f->field, '.') : NULL;
            if (f->field && strcmp(dot ? dot + 1 : f->field, field) == 0)
                return f->name;
        }
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (strcmp(others[i][0], field) == 0)
            return others[i][1];
    return NULL;
}
