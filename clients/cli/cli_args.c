/* cli_args.c — option parsing, strict value parsers and the CURVE keys of the
 * gongxu CLI. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    S_OPT_OPERATOR = 900, /* long-only global options: below GX_CLI_OPT_BASE */
    S_OPT_JSON,
    S_OPT_TIMEOUT,
    S_OPT_VERSION,
    S_OPT_DRY_RUN,
    S_OPT_LANG,
    S_OPT_KEY,
    S_OPT_SERVER_KEY,
};

#define S_MAX_TIMEOUT_S 86400.0 /* --timeout ceiling */
#define S_MAX_OPTS 64           /* options of one command, globals included */

static const struct option s_global_opts[] = {
    {"server", required_argument, NULL, 's'},
    {"firm", required_argument, NULL, 'f'},
    {"operator", no_argument, NULL, S_OPT_OPERATOR},
    {"json", no_argument, NULL, S_OPT_JSON},
    {"timeout", required_argument, NULL, S_OPT_TIMEOUT},
    {"key", required_argument, NULL, S_OPT_KEY},
    {"server-key", required_argument, NULL, S_OPT_SERVER_KEY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, S_OPT_VERSION},
    {"dry-run", no_argument, NULL, S_OPT_DRY_RUN}, /* hidden: for tests and the curious */
    {"lang", required_argument, NULL, S_OPT_LANG},
    {NULL, 0, NULL, 0},
};

int gx_cli_usage(const gx_cli *g, const char *id, ...)
{
    va_list ap;
    va_start(ap, id);
    const char *msg = gx_cli_vmsg(id, ap);
    va_end(ap);
    if (g && g->cmd[0])
        fprintf(stderr, "%s\n", gx_cli_msg("cli.usage.in_cmd", "cmd", g->cmd, "message", msg, NULL));
    else
        fprintf(stderr, "%s\n", gx_cli_msg("cli.usage.top", "message", msg, NULL));
    return EX_USAGE;
}

void gx_cli_error(const gx_cli *g, const char *id, ...)
{
    va_list ap;
    va_start(ap, id);
    const char *msg = gx_cli_vmsg(id, ap);
    va_end(ap);
    if (g && g->cmd[0])
        fprintf(stderr, "%s\n", gx_cli_msg("cli.error.in_cmd", "cmd", g->cmd, "message", msg, NULL));
    else
        fprintf(stderr, "%s\n", gx_cli_msg("cli.error.top", "message", msg, NULL));
}

const char *gx_cli_fmt(const char *fmt, ...)
{
    static char ring[8][320];
    static unsigned next;
    char *buf = ring[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof ring[0], fmt, ap);
    va_end(ap);
    return buf;
}

/* Applies one global option: 0, -1 (help/version printed) or EX_USAGE. */
static int s_global(gx_cli *g, int val, const char *arg)
{
    double secs;
    switch (val) {
    case 's':
        if (!strstr(arg, "://") || strstr(arg, "://") == arg)
            return gx_cli_usage(g, "cli.usage.server", "got", arg, NULL);
        g->server = arg;
        return 0;
    case 'f':
        if (gx_cli_text(g, "--firm", arg) != 0)
            return EX_USAGE;
        g->firm = arg;
        return 0;
    case S_OPT_OPERATOR:
        g->as_operator = true;
        return 0;
    case S_OPT_JSON:
        g->json = true;
        return 0;
    case S_OPT_DRY_RUN:
        g->dry_run = true;
        return 0;
    case S_OPT_LANG:
        if (strcmp(arg, "zh") != 0 && strcmp(arg, "en") != 0 && !gx_lang_parse(arg, &g->lang))
            return gx_cli_usage(g, "cli.lang.bad", "arg", arg, NULL);
        gx_lang_parse(arg, &g->lang);
        gx_cli_set_lang(g->lang);
        return 0;
    case S_OPT_KEY: /* read when connecting: --dry-run and keygen need no keys */
        if (!*arg)
            return gx_cli_usage(g, "cli.usage.key_empty", NULL);
        g->key = arg;
        g->key_from = "--key";
        return 0;
    case S_OPT_SERVER_KEY:
        if (!*arg)
            return gx_cli_usage(g, "cli.usage.server_key_empty", NULL);
        g->server_key = arg;
        g->server_key_from = "--server-key";
        return 0;
    case S_OPT_TIMEOUT:
        if (!gx_cli_double(arg, &secs) || secs <= 0 || secs > S_MAX_TIMEOUT_S)
            return gx_cli_usage(g, "cli.usage.timeout", "max", gx_cli_fmt("%.0f", S_MAX_TIMEOUT_S), "got",
                                arg, NULL);
        g->timeout_ms = (int)(secs * 1000 + 0.5);
        if (g->timeout_ms < 1)
            g->timeout_ms = 1;
        return 0;
    case 'h': /* after a command word: that command's help */
        if (g->cmd[0]) {
            char name[sizeof g->cmd];
            snprintf(name, sizeof name, "%s", g->cmd);
            char *sub = strchr(name, ' ');
            if (sub)
                *sub++ = '\0';
            if (gx_cli_help_command(stdout, name, sub) == 0)
                return -1;
        }
        gx_cli_help(stdout);
        return -1;
    case S_OPT_VERSION:
        printf("gongxu %s (protocol gongxu.v1)\n", GX_VERSION);
        return -1;
    }
    return gx_cli_usage(g, "cli.usage.unhandled", "opt", gx_cli_fmt("%d", val), NULL);
}

/* The length of an option word's name: "--title=x" -> 5 ("title"). */
static size_t s_name_len(const char *name)
{
    return strcspn(name, "=");
}

/* Edit distance of a and b (short names only), for "did you mean". */
static size_t s_distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b), row[64];
    if (na >= 63 || nb >= 63)
        return 99;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The option of opts named by val (a short option letter or a long option's val). */
static const struct option *s_by_val(const struct option *opts, int val)
{
    for (const struct option *o = opts; o->name; o++)
        if (o->val == val)
            return o;
    return NULL;
}

/* Reports a getopt error ('?' or ':') for the option just read, naming it as
 * it was typed: getopt's optopt is the val of a long option (>= 256 for the
 * commands' own), so it is only printed for short options. */
static int s_opt_error(const gx_cli *g, int c, char **argv, const struct option *opts)
{
    const char *word = optind > 0 ? argv[optind - 1] : "";
    bool is_long = strncmp(word, "--", 2) == 0 && word[2];
    if (c == ':') { /* a missing value: getopt has stepped past the option word */
        const struct option *o = s_by_val(opts, optopt);
        if (is_long && o)
            return gx_cli_usage(g, "cli.usage.needs_value", "opt", gx_cli_fmt("--%s", o->name), NULL);
        return gx_cli_usage(g, "cli.usage.needs_value", "opt", gx_cli_fmt("-%c", optopt), NULL);
    }
    if (is_long && optopt) { /* a known long option that takes no value, given one */
        const struct option *o = s_by_val(opts, optopt);
        if (o && o->has_arg == no_argument && strchr(word, '='))
            return gx_cli_usage(g, "cli.usage.no_value", "opt", gx_cli_fmt("--%s", o->name), "got", word,
                                NULL);
    }
    if (!is_long || optopt) {
        if (optopt > ' ' && optopt < 127)
            return gx_cli_usage(g, "cli.usage.unknown_option", "opt", gx_cli_fmt("-%c", optopt), NULL);
        return gx_cli_usage(g, "cli.usage.unknown_option", "opt", word, NULL);
    }
    /* an unknown or ambiguous long option: getopt sets optopt 0 for both */
    const char *name = word + 2;
    size_t n = s_name_len(name), matches = 0;
    char list[512] = "";
    size_t used = 0;
    for (const struct option *o = opts; o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        matches++;
        int w = snprintf(list + used, sizeof list - used, "%s--%s", used ? ", " : "", o->name);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    if (matches > 1)
        return gx_cli_usage(g, "cli.usage.ambiguous", "opt", gx_cli_fmt("--%.*s", (int)n, name), "list", list,
                            NULL);
    const struct option *best = NULL;
    size_t best_d = n <= 3 ? 1 : 2; /* farther than that is no hint */
    for (const struct option *o = opts; o->name; o++) {
        size_t d = s_distance(name, n, o->name);
        if (d <= best_d && (!best || d < s_distance(name, n, best->name)))
            best = o;
    }
    if (best)
        return gx_cli_usage(g, "cli.usage.unknown_option_mean", "opt", gx_cli_fmt("--%.*s", (int)n, name),
                            "best", gx_cli_fmt("--%s", best->name), NULL);
    return gx_cli_usage(g, "cli.usage.unknown_option", "opt", gx_cli_fmt("--%.*s", (int)n, name), NULL);
}

/* A value read as the next word that is itself one of our long options
 * ("--title --summary x"): almost always a forgotten value. */
static int s_value_is_option(const gx_cli *g, int c, char **argv, const struct option *opts)
{
    if (!optarg || optind < 1 || argv[optind - 1] != optarg || strncmp(optarg, "--", 2) != 0)
        return 0;
    size_t n = s_name_len(optarg + 2);
    for (const struct option *o = opts; o->name; o++) {
        if (strlen(o->name) != n || strncmp(o->name, optarg + 2, n) != 0)
            continue;
        const struct option *self = s_by_val(opts, c);
        const char *typed = optind >= 2 ? argv[optind - 2] : "";
        char me[80];
        if (strncmp(typed, "--", 2) == 0 && self)
            snprintf(me, sizeof me, "--%s", self->name);
        else
            snprintf(me, sizeof me, "-%c", c > ' ' && c < 127 ? c : '?');
        return gx_cli_usage(g, "cli.usage.value_is_option", "opt", me, "value", optarg, "name",
                            self ? self->name : "OPTION", NULL);
    }
    return 0;
}

int gx_cli_parse_global(gx_cli *g, int argc, char **argv, int *cmd_at)
{
    const char *env;
    g->timeout_ms = GX_CLI_DEFAULT_TIMEOUT_MS;
    g->lang = gx_cli_env_lang();
    gx_cli_set_lang(g->lang);
    if ((env = getenv("GONGXU_SERVER")) && *env)
        g->server = env;
    if ((env = getenv("GONGXU_FIRM")) && *env) {
        if (gx_cli_text(g, "$GONGXU_FIRM", env) != 0)
            return EX_USAGE;
        g->firm = env;
    }
    if ((env = getenv("GONGXU_KEY")) && *env) {
        g->key = env;
        g->key_from = "$GONGXU_KEY";
    }
    if ((env = getenv("GONGXU_SERVER_KEY")) && *env) {
        g->server_key = env;
        g->server_key_from = "$GONGXU_SERVER_KEY";
    }
    if ((env = getenv("GONGXU_OPERATOR")) &&
        (strcmp(env, "1") == 0 || strcasecmp(env, "true") == 0 || strcasecmp(env, "yes") == 0))
        g->as_operator = true;

    opterr = 0;
    optind = 0; /* GNU: full re-initialisation */
    int c;
    /* '+': stop at the command word; ':': report missing values as ':' */
    while ((c = getopt_long(argc, argv, "+:s:f:h", s_global_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return s_opt_error(g, c, argv, s_global_opts);
        int rc = s_value_is_option(g, c, argv, s_global_opts);
        if (rc == 0)
            rc = s_global(g, c, optarg);
        if (rc != 0)
            return rc;
    }
    *cmd_at = optind;
    return 0;
}

int gx_cli_getopt(gx_cli *g, int argc, char **argv, const struct option *opts, gx_cli_opt_fn fn, void *state,
                  int *first_pos)
{
    struct option all[S_MAX_OPTS + 1];
    size_t n = 0;
    for (const struct option *o = opts; o && o->name && n < S_MAX_OPTS; o++)
        all[n++] = *o;
    size_t own = n;
    for (const struct option *o = s_global_opts; o->name && n < S_MAX_OPTS; o++) {
        bool shadowed = false;
        for (size_t i = 0; i < own; i++)
            shadowed = shadowed || strcmp(all[i].name, o->name) == 0;
        if (!shadowed)
            all[n++] = *o;
    }
    memset(&all[n], 0, sizeof all[n]);

    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:f:h", all, NULL)) != -1) {
        if (c == '?' || c == ':')
            return s_opt_error(g, c, argv, all);
        int rc = s_value_is_option(g, c, argv, all);
        if (rc == 0)
            rc = c >= GX_CLI_OPT_BASE ? fn(g, state, c, optarg) : s_global(g, c, optarg);
        if (rc != 0)
            return rc;
    }
    *first_pos = optind;
    return 0;
}

/* ------------------------------------------------------------------ keys */

int gx_cli_public_key(const gx_cli *g, const char *what, const char *arg, char out[GX_KEY_Z85_LEN + 1])
{
    if (gx_keyfile_valid(arg)) {
        memcpy(out, arg, GX_KEY_Z85_LEN + 1);
        return 0;
    }
    char err[400];
    if (gx_keyfile_read(arg, out, NULL, err, sizeof err) == 0)
        return 0;
    gx_cli_error(g, "cli.key.bad_public", "what", what, "why", gx_cli_lib_text(err), NULL);
    return EX_NOINPUT;
}

void gx_cli_keys_wipe(gx_cli_keys *k)
{
    explicit_bzero(k->sec, sizeof k->sec);
}

/* "DIR/name" when that file exists, else NULL. */
static const char *s_local(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", GX_CLI_LOCAL_DIR, name);
    return access(buf, F_OK) == 0 ? buf : NULL;
}

/* Warns, as ssh does, when a file holding a secret key can be read (or
 * written) by its group or others; goes on all the same. */
static void s_warn_open_key(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & 077))
        return;
    unsigned mode = (unsigned)(st.st_mode & 07777);
    const char *who = (st.st_mode & S_IROTH)   ? "cli.key.open.others"
                      : (st.st_mode & S_IRGRP) ? "cli.key.open.group"
                                               : "cli.key.open.writable";
    fprintf(stderr, "%s\n",
            gx_cli_msg("cli.key.open", "path", path, "who", gx_cli_msg(who, NULL), "mode",
                       gx_cli_fmt("%04o", mode), NULL));
}

int gx_cli_keys_find(const gx_cli *g, gx_cli_keys *k)
{
    char local_pub[64], local_op[64], err[400];
    const char *server = g->server_key, *server_from = g->server_key_from;
    const char *key = g->key, *key_from = g->key_from, *env;
    memset(k, 0, sizeof *k);
    if (!server && (server = s_local(local_pub, sizeof local_pub, "broker.pub")))
        server_from = server;
    if (!key && g->as_operator) {
        if ((env = getenv("GONGXU_OPERATOR_KEY")) && *env) {
            key = env;
            key_from = "$GONGXU_OPERATOR_KEY";
        } else if ((key = s_local(local_op, sizeof local_op, "operator.key"))) {
            key_from = key;
        }
    }
    if (server && strcmp(server, "none") == 0) /* say so to ignore a stale local broker.pub */
        return 0;
    if (!server) {
        if (g->key) /* asked for CURVE, would get plain text */
            return gx_cli_usage(g, "cli.key.needs_server_key", "from", g->key_from, NULL);
        return 0;
    }
    if (!key && g->as_operator)
        return gx_cli_usage(g, "cli.key.operator_needs_pair", "dir", GX_CLI_LOCAL_DIR, NULL);
    if (!key)
        return gx_cli_usage(g, "cli.key.needs_pair", "from", server_from, NULL);
    /* a default file is named by its path, which the reader's messages hold */
    int rc = gx_cli_public_key(
        g, server_from == server ? gx_cli_msg("cli.key.server_key", NULL) : server_from, server, k->server);
    if (rc != 0)
        return rc;
    const char *from = key_from == key ? "" : key_from, *sep = key_from == key ? "" : ": ";
    if (gx_keyfile_read(key, k->pub, k->sec, err, sizeof err) != 0) {
        gx_cli_error(g, "cli.key.unreadable", "from", gx_cli_fmt("%s%s", from, sep), "why",
                     gx_cli_lib_text(err), NULL);
        rc = EX_NOINPUT;
    } else if (!k->sec[0]) {
        gx_cli_error(g, "cli.key.no_secret", "from", gx_cli_fmt("%s%s", from, sep), "path", key, NULL);
        rc = EX_NOINPUT;
    } else {
        s_warn_open_key(key);
    }
    if (rc != 0) {
        gx_cli_keys_wipe(k);
        k->server[0] = k->pub[0] = '\0';
    }
    return rc;
}

/* ------------------------------------------------------------------ values */

bool gx_cli_double(const char *s, double *out)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) /* no spaces, hex, inf or nan */
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool gx_cli_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

bool gx_cli_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!gx_cli_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

const char *gx_cli_date_problem(const char *s, char *buf, size_t len)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; shape && i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            shape = false;
    if (!shape) {
        gx_msg_copy(buf, len, gx_cli_msg("cli.date.shape", NULL));
        return buf;
    }
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1) {
        gx_msg_copy(buf, len, gx_cli_msg("cli.date.year0", "date", s, NULL));
        return buf;
    }
    if (m < 1 || m > 12) {
        gx_msg_copy(buf, len, gx_cli_msg("cli.date.month", "date", s, "month", gx_cli_fmt("%02d", m), NULL));
        return buf;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = mdays[m - 1] + (m == 2 && leap);
    if (d < 1 || d > max) {
        gx_msg_copy(buf, len,
                    gx_cli_msg("cli.date.days", "date", s, "month",
                               gx_cli_msg(gx_cli_fmt("cli.month.%d", m), NULL), "year", gx_cli_fmt("%04d", y),
                               "days", gx_cli_fmt("%d", max), NULL));
        return buf;
    }
    return NULL;
}

void gx_cli_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
        snprintf(out, 11, "1970-01-01");
}

int gx_cli_text(const gx_cli *g, const char *what, const char *s)
{
    size_t at = gx_json_utf8_bad(s);
    if (at == SIZE_MAX)
        return 0;
    return gx_cli_usage(g, "cli.usage.not_utf8", "what", what, "at", gx_cli_fmt("%zu", at + 1), "byte",
                        gx_cli_fmt("0x%02x", (unsigned char)s[at]), "hint", gx_cli_msg("cli.utf8.hint", NULL),
                        NULL);
}

bool gx_cli_duration(const char *s, int64_t *secs)
{
    size_t len = strlen(s);
    if (len < 2 || len > 32)
        return false;
    double mult;
    switch (s[len - 1]) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    case 'w':
        mult = 7 * 86400;
        break;
    default:
        return false;
    }
    char num[33];
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    double v;
    if (!gx_cli_double(num, &v) || v <= 0)
        return false;
    double total = v * mult;
    if (total < 1 || total > 100.0 * 366 * 86400) /* a century is enough validity */
        return false;
    *secs = (int64_t)(total + 0.5);
    return true;
}

bool gx_cli_range(const char *s, double *min, double *max)
{
    const char *colon = strchr(s, ':');
    if (!colon || strchr(colon + 1, ':'))
        return false;
    char lo[64];
    size_t n = (size_t)(colon - s);
    if (n >= sizeof lo)
        return false;
    memcpy(lo, s, n);
    lo[n] = '\0';
    if (!gx_cli_double(lo, min) || !gx_cli_double(colon + 1, max))
        return false;
    return *min >= 0 && *min <= *max;
}

const ProtobufCEnumValue *gx_cli_enum(const ProtobufCEnumDescriptor *desc, const char *prefix,
                                      const char *arg)
{
    char name[96];
    size_t plen = strlen(prefix);
    if (strncasecmp(arg, prefix, plen) == 0) /* the full name is fine too */
        plen = 0;
    if (plen + strlen(arg) >= sizeof name)
        return NULL;
    memcpy(name, prefix, plen);
    size_t n = plen;
    for (const char *p = arg; *p; p++)
        name[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    name[n] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(desc, name);
    return v && v->value != 0 ? v : NULL;
}

const char *gx_cli_enum_words(const ProtobufCEnumDescriptor *desc, const char *prefix, char *buf, size_t len)
{
    size_t n = 0, plen = strlen(prefix);
    buf[0] = '\0';
    for (unsigned i = 0; i < desc->n_values; i++) {
        const ProtobufCEnumValue *v = &desc->values[i];
        if (v->value == 0)
            continue;
        const char *w = v->name;
        if (strncmp(w, prefix, plen) == 0)
            w += plen;
        for (const char *p = n ? "|" : ""; *p && n + 1 < len; p++)
            buf[n++] = *p;
        for (; *w && n + 1 < len; w++)
            buf[n++] = (char)tolower((unsigned char)*w);
        buf[n] = '\0';
    }
    return buf;
}
