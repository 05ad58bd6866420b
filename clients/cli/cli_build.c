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
    const char *want;                 /* S_NUM, S_UINT: catalogue id of what the broker takes, in words */
    const char *arg;                  /* the argument's name in help ("CODE"); NULL for S_FLAG */
} s_flag;

/* A flag's line of help is cli.flag.<table>.<name> of the catalogue (cli.tsv),
 * '-' in the name read as '_'; S_ENUM adds the accepted words. */

#define S_BIG 1e15 /* upper bound of quantities and distances: beyond it is a typo */
#define S_MAX_FLAGS 40

/* Table rows; designated so unused members stay zero. The bounds of numbers
 * are what the broker accepts (src/codec.c, src/validate.c); S_BIG is ours. */
/* clang-format off */
#define S_ONE(n, f, t, a) {.name = n, .field = f, .type = t, .arg = a}
#define S_MANY(n, f, t, a) {.name = n, .field = f, .type = t, .repeated = true, .arg = a}
#define S_NUMBER(n, f, t, lo, hi, w, a) {.name = n, .field = f, .type = t, .min = lo, .max = hi, .want = w, .arg = a}
#define S_ABOVE(n, f, t, lo, hi, w, a) {.name = n, .field = f, .type = t, .min = lo, .max = hi, .above = true, .want = w, .arg = a}
#define S_ENUM_ONE(n, f, en, pre, a) {.name = n, .field = f, .type = S_ENUM, .e = &en, .prefix = pre, .arg = a}
#define S_ENUM_MANY(n, f, en, pre, a) {.name = n, .field = f, .type = S_ENUM, .repeated = true, .e = &en, .prefix = pre, .arg = a}
#define S_END {.name = NULL}

static const s_flag s_firm_flags[] = {
    S_ONE("id", "id", S_STR, "USCC"),
    S_ONE("name", "name", S_STR, "NAME"),
    S_ONE("county", "county", S_STR, "CODE"),
    S_ONE("zone", "zone", S_STR, "ZONE"),
    S_NUMBER("lat", "location.lat", S_NUM, -90, 90, "cli.want.firm.lat", "DEG"),
    S_NUMBER("lon", "location.lon", S_NUM, -180, 180, "cli.want.firm.lon", "DEG"),
    S_ENUM_ONE("credit", "credit", gongxu__v1__credit__descriptor, "CREDIT_", "GRADE"),
    S_ENUM_MANY("role", "roles", gongxu__v1__role__descriptor, "", "ROLE"),
    S_MANY("cert", "certifications", S_CERT, "SCHEME:NUMBER:YYYY-MM-DD"),
    S_ONE("contact", "contact", S_STR, "TEXT"),
    S_ONE("language", "language", S_STR, "zh-CN|en"),
    S_ONE("override-check", NULL, S_OVERRIDE, NULL),
    S_ONE("file", NULL, S_FILE, "FILE"),
    S_END,
};

static const s_flag s_demand_flags[] = {
    S_ENUM_ONE("kind", "kind", gongxu__v1__kind__descriptor, "", "KIND"),
    S_ONE("industry", "industry", S_STR, "CODE"),
    S_MANY("process", "processes", S_STR, "ID"),
    S_MANY("material", "materials", S_STR, "ID"),
    S_ABOVE("quantity", "quantity", S_NUM, 0, S_BIG, "cli.want.demand.quantity", "Q"),
    S_ONE("unit", "unit", S_STR, "UNIT"),
    S_ONE("needed-by", "needed_by", S_DATE, "YYYY-MM-DD"),
    S_ONE("budget", "budget", S_RANGE, "MIN:MAX"),
    S_MANY("cert", "certifications", S_STR, "SCHEME"),
    S_ENUM_ONE("min-credit", "min_credit", gongxu__v1__credit__descriptor, "CREDIT_", "GRADE"),
    S_ENUM_ONE("scope", "scope", gongxu__v1__scope__descriptor, "", "SCOPE"),
    S_ABOVE("max-distance", "max_distance_km", S_NUM, 0, S_BIG, "cli.want.demand.max_distance", "KM"),
    S_ONE("split", "splittable", S_FLAG, NULL),
    S_NUMBER("max-suppliers", "max_suppliers", S_UINT, 1, UINT32_MAX, "cli.want.demand.max_suppliers", "N"),
    S_ONE("title", "title", S_STR, "TEXT"),
    S_ONE("summary", "summary", S_STR, "TEXT"),
    S_ONE("details", "details", S_STR, "TEXT"),
    S_ONE("expires-in", "expires_at", S_DURATION, "DURATION"),
    S_MANY("ipc", "ipc", S_STR, "CLASS"),
    S_NUMBER("min-trl", "min_trl", S_UINT, 1, 9, "cli.want.demand.min_trl", "TRL"),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, "", "MODE"),
    S_ONE("revision", "revision", S_REVISION, "N"),
    S_ONE("file", NULL, S_FILE, "FILE"),
    S_END,
};

static const s_flag s_offer_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, "", "KIND"),
    S_MANY("industry", "industries", S_STR, "CODE"),
    S_MANY("process", "processes", S_STR, "ID"),
    S_MANY("material", "materials", S_STR, "ID"),
    S_NUMBER("capacity", "monthly_capacity", S_NUM, 0, S_BIG, "cli.want.offer.capacity", "Q"),
    S_NUMBER("min-order", "min_order", S_NUM, 0, S_BIG, "cli.want.offer.min_order", "Q"),
    S_NUMBER("lead-time", "lead_time_days", S_UINT, 0, 3650, "cli.want.offer.lead_time", "DAYS"),
    S_ONE("price", "price", S_RANGE, "MIN:MAX"),
    S_ENUM_ONE("service-scope", "service_scope", gongxu__v1__scope__descriptor, "", "SCOPE"),
    S_ABOVE("radius", "service_radius_km", S_NUM, 0, S_BIG, "cli.want.offer.radius", "KM"),
    S_ONE("title", "title", S_STR, "TEXT"),
    S_ONE("summary", "summary", S_STR, "TEXT"),
    S_ONE("expires-in", "expires_at", S_DURATION, "DURATION"),
    S_MANY("ipc", "ipc", S_STR, "CLASS"),
    S_NUMBER("trl", "trl", S_UINT, 1, 9, "cli.want.offer.trl", "TRL"),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, "", "MODE"),
    S_ONE("revision", "revision", S_REVISION, "N"),
    S_ONE("file", NULL, S_FILE, "FILE"),
    S_END,
};

static const s_flag s_subscription_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, "", "KIND"),
    S_MANY("industry", "industry_prefixes", S_STR, "PREFIX"),
    S_MANY("process", "process_prefixes", S_STR, "PREFIX"),
    S_MANY("district", "districts", S_STR, "D"),
    S_ONE("file", NULL, S_FILE, "FILE"),
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
        return gx_cli_usage(g, "cli.error.oom", NULL);
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
            return gx_cli_usage(g, "cli.usage.too_often", "opt", gx_cli_fmt("--%s", f->name), NULL);
        }
        json_array_append_new(arr, value);
        return 0;
    }
    if (json_object_get(obj, key)) {
        json_decref(value);
        return gx_cli_usage(g, "cli.usage.twice", "opt", gx_cli_fmt("--%s", f->name), NULL);
    }
    json_object_set_new(obj, key, value);
    return 0;
}

static int s_bad(gx_cli *g, const s_flag *f, const char *want, const char *arg)
{
    return gx_cli_usage(g, "cli.usage.flag_expected", "opt", gx_cli_fmt("--%s", f->name), "want", want, "got",
                        arg, NULL);
}

/* A number flag out of its bounds, or not a number at all: one message, the
 * bounds the broker accepts. Only a value past our own typo ceiling gets
 * another. */
static int s_bad_number(gx_cli *g, const s_flag *f, const char *arg, double v, bool number)
{
    if (number && v > f->max && f->max >= S_BIG)
        return gx_cli_usage(g, "cli.usage.at_most", "opt", gx_cli_fmt("--%s", f->name), "max",
                            gx_cli_fmt("%g", f->max), "got", arg, NULL);
    return gx_cli_usage(g, "cli.usage.must_be", "opt", gx_cli_fmt("--%s", f->name), "want",
                        gx_cli_msg(f->want, NULL), "got", arg, NULL);
}

/* A Certification from SCHEME:NUMBER:YYYY-MM-DD (the number may hold colons);
 * NULL after printing the problem. */
static json_t *s_cert(gx_cli *g, const s_flag *f, const char *arg, int *rc)
{
    const char *first = strchr(arg, ':'), *last = strrchr(arg, ':');
    char why[256];
    *rc = EX_USAGE;
    if (!first || first == last || first == arg || last == first + 1) {
        s_bad(g, f, gx_cli_msg("cli.want.cert", NULL), arg);
        return NULL;
    }
    if (gx_cli_date_problem(last + 1, why, sizeof why)) {
        gx_cli_usage(g, "cli.usage.flag_arg_why", "opt", gx_cli_fmt("--%s", f->name), "arg", arg, "why", why,
                     NULL);
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
            return strcmp(why, gx_cli_msg("cli.date.shape", NULL)) == 0
                       ? s_bad(g, f, gx_cli_msg("cli.want.date", NULL), arg)
                       : gx_cli_usage(g, "cli.usage.flag_why_only", "opt", gx_cli_fmt("--%s", f->name), "why",
                                      why, NULL);
        return s_put(g, b, f, json_string(arg));
    }
    case S_DURATION: {
        if (!gx_cli_duration(arg, &secs))
            return s_bad(g, f, gx_cli_msg("cli.want.duration", NULL), arg);
        char at[32];
        snprintf(at, sizeof at, "%lld", (long long)time(NULL) + (long long)secs);
        return s_put(g, b, f, json_string(at));
    }
    case S_RANGE:
        if (!gx_cli_range(arg, &lo, &hi))
            return s_bad(g, f, gx_cli_msg("cli.want.range", NULL), arg);
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
            return gx_cli_usage(g, "cli.usage.revision_update", NULL);
        if (!gx_cli_u64(arg, &u) || u == 0 || u > UINT32_MAX)
            return s_bad(g, f, gx_cli_msg("cli.want.revision", NULL), arg);
        b->has_revision = true;
        return s_put(g, b, f, json_integer((json_int_t)u));
    }
    case S_FILE:
        if (b->file)
            return gx_cli_usage(g, "cli.usage.twice", "opt", "--file", NULL);
        b->file = arg;
        return 0;
    case S_OVERRIDE:
        b->override_check = true;
        return 0;
    }
    return gx_cli_usage(g, "cli.usage.unhandled", "opt", gx_cli_fmt("--%s", f->name), NULL);
}

/* Reads --file (or stdin for "-") as a JSON object of type desc; prints the
 * problem and returns EX_NOINPUT when it cannot. */
static int s_load_file(gx_cli *g, const char *path, const ProtobufCMessageDescriptor *desc, json_t **out)
{
    json_error_t jerr;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!j) {
        /* jansson's words for bytes that are not UTF-8: say what to do about them */
        const char *hint =
            strncmp(jerr.text, "unable to decode byte", 21) == 0
                ? gx_cli_msg("cli.file.not_utf8", "hint", gx_cli_msg("cli.utf8.hint", NULL), NULL)
                : "";
        if (jerr.line > 0)
            gx_cli_error(g, "cli.file.json_at", "path", path, "line", gx_cli_fmt("%d", jerr.line), "column",
                         gx_cli_fmt("%d", jerr.column), "why", jerr.text, "hint", hint, NULL);
        else
            gx_cli_error(g, "cli.file.json", "why", jerr.text, "hint", hint, NULL);
        return EX_NOINPUT;
    }
    if (!json_is_object(j)) {
        gx_cli_error(g, "cli.file.not_object", "path", path, "type", desc->short_name, NULL);
        json_decref(j);
        return EX_NOINPUT;
    }
    char err[512];
    ProtobufCMessage *m = gx_json_to_message(desc, j, err, sizeof err);
    if (!m) {
        gx_cli_error(g, "cli.file.invalid", "path", path, "why", err, NULL);
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
        rc = gx_cli_usage(g, "cli.usage.lat_lon", NULL);
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
                    rc = gx_cli_usage(g, "cli.usage.required", "opt", gx_cli_fmt("--%s", need[i]), NULL);
                    goto out;
                }
        } else if (what != GX_CLI_SUBSCRIPTION && given == 0) {
            rc = gx_cli_usage(g, update ? "cli.usage.nothing_to_update" : "cli.usage.nothing_to_post", NULL);
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
    static const char *const table[] = {[GX_CLI_FIRM] = "firm",
                                        [GX_CLI_DEMAND] = "demand",
                                        [GX_CLI_OFFER] = "offer",
                                        [GX_CLI_SUBSCRIPTION] = "sub"};
    char left[96], words[256], id[96];
    for (const s_flag *f = s_table(what); f->name; f++) {
        if (f->type == S_REVISION && !update)
            continue;
        snprintf(left, sizeof left, "--%s%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "",
                 f->repeated ? "..." : "");
        if (strlen(left) > 24)
            fprintf(out, "  %s\n  %-24s  ", left, "");
        else
            fprintf(out, "  %-24s  ", left);
        snprintf(id, sizeof id, "cli.flag.%s.%s", table[what], f->name);
        for (char *c = id; *c; c++)
            *c = *c == '-' ? '_' : *c;
        const char *help = gx_cli_msg(id, NULL);
        fputs(help, out);
        if (f->type == S_ENUM) {
            gx_cli_enum_words(f->e, f->prefix, words, sizeof words);
            const char *colon = gx_cli_msg("cli.flag.colon", NULL);
            if (strlen(help) + strlen(words) > 70) /* the words on a line of their own */
                fprintf(out, "%s\n  %-24s    %s", colon, "", words);
            else
                fprintf(out, "%s%s%s", colon, gx_cli_lang() == GX_LANG_EN ? " " : "", words);
        }
        if (f->type == S_FILE && update)
            fputs(gx_cli_msg("cli.flag.file_update", NULL), out);
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
