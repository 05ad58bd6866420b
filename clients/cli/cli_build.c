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
} s_flag;

#define S_BIG 1e15 /* upper bound of quantities and distances: beyond it is a typo */
#define S_MAX_FLAGS 40

/* Table rows; designated so unused members stay zero. */
/* clang-format off */
#define S_ONE(n, f, t) {.name = n, .field = f, .type = t}
#define S_MANY(n, f, t) {.name = n, .field = f, .type = t, .repeated = true}
#define S_NUMBER(n, f, t, lo, hi) {.name = n, .field = f, .type = t, .min = lo, .max = hi}
#define S_ENUM_ONE(n, f, en, pre) {.name = n, .field = f, .type = S_ENUM, .e = &en, .prefix = pre}
#define S_ENUM_MANY(n, f, en, pre) {.name = n, .field = f, .type = S_ENUM, .repeated = true, .e = &en, .prefix = pre}
#define S_END {.name = NULL}
/* clang-format on */

static const s_flag s_firm_flags[] = {
    S_ONE("id", "id", S_STR),
    S_ONE("name", "name", S_STR),
    S_ONE("county", "county", S_STR),
    S_ONE("zone", "zone", S_STR),
    S_NUMBER("lat", "location.lat", S_NUM, -90, 90),
    S_NUMBER("lon", "location.lon", S_NUM, -180, 180),
    S_ENUM_ONE("credit", "credit", gongxu__v1__credit__descriptor, "CREDIT_"),
    S_ENUM_MANY("role", "roles", gongxu__v1__role__descriptor, ""),
    S_MANY("cert", "certifications", S_CERT),
    S_ONE("contact", "contact", S_STR),
    S_ONE("override-check", NULL, S_OVERRIDE),
    S_ONE("file", NULL, S_FILE),
    S_END,
};

static const s_flag s_demand_flags[] = {
    S_ENUM_ONE("kind", "kind", gongxu__v1__kind__descriptor, ""),
    S_ONE("industry", "industry", S_STR),
    S_MANY("process", "processes", S_STR),
    S_MANY("material", "materials", S_STR),
    S_NUMBER("quantity", "quantity", S_NUM, 0, S_BIG),
    S_ONE("unit", "unit", S_STR),
    S_ONE("needed-by", "needed_by", S_DATE),
    S_ONE("budget", "budget", S_RANGE),
    S_MANY("cert", "certifications", S_STR),
    S_ENUM_ONE("min-credit", "min_credit", gongxu__v1__credit__descriptor, "CREDIT_"),
    S_ENUM_ONE("scope", "scope", gongxu__v1__scope__descriptor, ""),
    S_NUMBER("max-distance", "max_distance_km", S_NUM, 0, S_BIG),
    S_ONE("split", "splittable", S_FLAG),
    S_NUMBER("max-suppliers", "max_suppliers", S_UINT, 0, UINT32_MAX),
    S_ONE("title", "title", S_STR),
    S_ONE("summary", "summary", S_STR),
    S_ONE("details", "details", S_STR),
    S_ONE("expires-in", "expires_at", S_DURATION),
    S_MANY("ipc", "ipc", S_STR),
    S_NUMBER("min-trl", "min_trl", S_UINT, 1, 9),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, ""),
    S_ONE("revision", "revision", S_REVISION),
    S_ONE("file", NULL, S_FILE),
    S_END,
};

static const s_flag s_offer_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, ""),
    S_MANY("industry", "industries", S_STR),
    S_MANY("process", "processes", S_STR),
    S_MANY("material", "materials", S_STR),
    S_NUMBER("capacity", "monthly_capacity", S_NUM, 0, S_BIG),
    S_NUMBER("min-order", "min_order", S_NUM, 0, S_BIG),
    S_NUMBER("lead-time", "lead_time_days", S_UINT, 0, 36600),
    S_ONE("price", "price", S_RANGE),
    S_ENUM_ONE("service-scope", "service_scope", gongxu__v1__scope__descriptor, ""),
    S_NUMBER("radius", "service_radius_km", S_NUM, 0, S_BIG),
    S_ONE("title", "title", S_STR),
    S_ONE("summary", "summary", S_STR),
    S_ONE("expires-in", "expires_at", S_DURATION),
    S_MANY("ipc", "ipc", S_STR),
    S_NUMBER("trl", "trl", S_UINT, 1, 9),
    S_ENUM_MANY("mode", "modes", gongxu__v1__transfer_mode__descriptor, ""),
    S_ONE("revision", "revision", S_REVISION),
    S_ONE("file", NULL, S_FILE),
    S_END,
};

static const s_flag s_subscription_flags[] = {
    S_ENUM_MANY("kind", "kinds", gongxu__v1__kind__descriptor, ""),
    S_MANY("industry", "industry_prefixes", S_STR),
    S_MANY("process", "process_prefixes", S_STR),
    S_MANY("district", "districts", S_STR),
    S_ONE("file", NULL, S_FILE),
    S_END,
};

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

/* A Certification from SCHEME:NUMBER:YYYY-MM-DD (the number may hold colons). */
static json_t *s_cert(const char *arg)
{
    const char *first = strchr(arg, ':'), *last = strrchr(arg, ':');
    if (!first || first == last || first == arg || last == first + 1 || !gx_cli_date(last + 1))
        return NULL;
    return json_pack("{s:s%, s:s%, s:s}", "scheme", arg, (size_t)(first - arg), "number", first + 1,
                     (size_t)(last - first - 1), "valid_until", last + 1);
}

static int s_on_flag(gx_cli *g, void *state, int val, const char *arg)
{
    s_build *b = state;
    const s_flag *f = &b->flags[val - GX_CLI_OPT_BASE];
    double d, lo, hi;
    uint64_t u;
    int64_t secs;
    char words[256];
    switch (f->type) {
    case S_STR:
        return s_put(g, b, f, json_string(arg));
    case S_NUM:
        if (!gx_cli_double(arg, &d))
            return s_bad(g, f, "a number", arg);
        if (d < f->min || d > f->max)
            return gx_cli_usage(g, "--%s: %s is out of range [%g, %g]", f->name, arg, f->min, f->max);
        return s_put(g, b, f, json_real(d));
    case S_UINT:
        if (!gx_cli_u64(arg, &u))
            return s_bad(g, f, "a whole number", arg);
        if ((double)u < f->min || (double)u > f->max)
            return gx_cli_usage(g, "--%s: %s is out of range [%.0f, %.0f]", f->name, arg, f->min, f->max);
        return s_put(g, b, f, json_integer((json_int_t)u));
    case S_DATE:
        if (!gx_cli_date(arg))
            return s_bad(g, f, "a date YYYY-MM-DD", arg);
        return s_put(g, b, f, json_string(arg));
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
        json_t *cert = s_cert(arg);
        if (!cert)
            return s_bad(g, f, "SCHEME:NUMBER:YYYY-MM-DD", arg);
        return s_put(g, b, f, cert);
    }
    case S_REVISION:
        if (!b->update)
            return gx_cli_usage(g, "--revision belongs to update");
        if (!gx_cli_u64(arg, &u) || u > UINT32_MAX)
            return s_bad(g, f, "a revision number", arg);
        b->has_revision = true;
        return s_put(g, b, f, json_integer((json_int_t)u));
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
        if (jerr.line > 0)
            fprintf(stderr, "gongxu: %s: %s:%d:%d: %s\n", g->cmd, path, jerr.line, jerr.column, jerr.text);
        else
            fprintf(stderr, "gongxu: %s: %s\n", g->cmd, jerr.text);
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

/* Sets every flag-given field over the file's, removing the file's spelling
 * of it (camel or snake) first so the two never both appear. */
static void s_merge(json_t *file, json_t *set)
{
    const char *key;
    json_t *val;
    json_object_foreach(set, key, val)
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
        s_merge(body, b.set);
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
