/* gongxu.c — the gongxu command-line tool: main and the commands.
 *
 * Every command builds its request as proto3 JSON, converts it once into an
 * Envelope, and then either prints it (--dry-run) or connects, sends it and
 * prints the reply. Exit codes follow <sysexits.h>; see cli_help.c. */
#include "cli.h"

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gongxu/client.h>

#define S_WATCH_SLICE_MS 3600000 /* longest single wait in watch; it loops to its deadline */

/* ------------------------------------------------------------------ plumbing */

/* The exit code for a broker ErrorCode. */
static int s_exit_for(int code)
{
    switch (code) {
    case GONGXU__V1__ERROR_CODE__ERR_MALFORMED:
    case GONGXU__V1__ERROR_CODE__ERR_BAD_REQUEST:
    case GONGXU__V1__ERROR_CODE__ERR_INVALID_FIELD:
    case GONGXU__V1__ERROR_CODE__ERR_UNKNOWN_CODE:
    case GONGXU__V1__ERROR_CODE__ERR_TOO_LARGE:
    case GONGXU__V1__ERROR_CODE__ERR_CONFLICT:
    case GONGXU__V1__ERROR_CODE__ERR_UNSUPPORTED_VERSION:
    case GONGXU__V1__ERROR_CODE__ERR_RESUME_GAP:
        return EX_DATAERR;
    case GONGXU__V1__ERROR_CODE__ERR_UNAUTHENTICATED:
    case GONGXU__V1__ERROR_CODE__ERR_FORBIDDEN:
        return EX_NOPERM;
    case GONGXU__V1__ERROR_CODE__ERR_NOT_FOUND:
        return GX_CLI_EX_NOT_FOUND;
    case GONGXU__V1__ERROR_CODE__ERR_RATE_LIMITED:
    case GONGXU__V1__ERROR_CODE__ERR_STORAGE_FULL:
        return EX_TEMPFAIL;
    default:
        return EX_SOFTWARE;
    }
}

/* The vocabulary class a field of an UNKNOWN_CODE error names, as vocab
 * --class takes it, or NULL ("demand.processes[0]" -> "process"). */
static const char *s_code_class(const char *field)
{
    static const char *const map[][2] = {
        {"process", "process"},    {"material", "material"}, {"industr", "industry"},
        {"certification", "cert"}, {"county", "county"},     {"zone", "zone"},
    };
    const char *dot = strrchr(field, '.');
    const char *last = dot ? dot + 1 : field;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(last, map[i][0]))
            return map[i][1];
    return NULL;
}

/* Prints a broker Error as "gongxu: CODE (meaning): message" in the output
 * language — the meaning of the stable code from the catalogue
 * (server.err.N), the broker's own words after it — and returns its exit
 * code. UNKNOWN_CODE also gets the broker's suggestions and a pointer at
 * vocab; a FORBIDDEN operator-only command names --operator. */
static int s_broker_error(const gx_cli *g, const Gongxu__V1__Error *e)
{
    char id[32];
    snprintf(id, sizeof id, "server.err.%d", (int)e->code);
    if (!gx_msg_has(id))
        snprintf(id, sizeof id, "server.err.0");
    fprintf(stderr, "%s",
            gx_cli_msg("cli.error.broker", "code", gx_cli_error_name(e->code), "meaning",
                       gx_cli_msg(id, NULL), "message",
                       *e->message ? e->message : gx_cli_msg("cli.error.no_message", NULL), NULL));
    if (*e->field && !strstr(e->message, e->field))
        fprintf(stderr, "%s", gx_cli_msg("cli.error.field", "field", e->field, NULL));
    if (e->code == GONGXU__V1__ERROR_CODE__ERR_FORBIDDEN && g->operator_only && !g->as_operator)
        fprintf(stderr, "%s",
                gx_cli_msg("cli.error.operator", "what", gx_cli_msg(g->operator_only, NULL), NULL));
    fputc('\n', stderr);
    if (e->code == GONGXU__V1__ERROR_CODE__ERR_UNKNOWN_CODE) {
        const char *cls = s_code_class(e->field);
        if (e->n_suggestions) {
            char list[512] = "";
            size_t used = 0;
            for (size_t i = 0; i < e->n_suggestions && used < sizeof list; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                         e->suggestions[i]);
            fprintf(stderr, "%s\n", gx_cli_msg("cli.error.did_you_mean", "list", list, NULL));
        }
        char cmd[64];
        snprintf(cmd, sizeof cmd, "gongxu vocab search TEXT%s%s", cls ? " --class " : "", cls ? cls : "");
        fprintf(stderr, "%s\n", gx_cli_msg("cli.error.vocab", "cmd", cmd, NULL));
    }
    return s_exit_for(e->code);
}

/* Prints a refusal the library reported as "ERR_NAME: message" with the
 * code's meaning in the output language, and an optional hint (a catalogue
 * id) after it on the same line. */
static int s_refused(int code, const char *msg, const char *hint)
{
    char id[32], name[40] = "";
    if (strncmp(msg, "ERR_", 4) == 0)
        msg += 4;
    const char *colon = strstr(msg, ": ");
    if (colon && (size_t)(colon - msg) < sizeof name) { /* the library's "NAME: message" */
        memcpy(name, msg, (size_t)(colon - msg));
        name[colon - msg] = '\0';
        msg = colon + 2;
    } else {
        snprintf(name, sizeof name, "%s", gx_cli_error_name(code));
    }
    snprintf(id, sizeof id, "server.err.%d", code);
    if (!gx_msg_has(id))
        snprintf(id, sizeof id, "server.err.0");
    fprintf(stderr, "%s\n",
            gx_cli_msg("cli.error.refused", "code", name, "meaning", gx_cli_msg(id, NULL), "message", msg,
                       "hint", hint ? gx_cli_msg(hint, NULL) : "", NULL));
    return s_exit_for(code);
}

/* True when req is over the broker's default max_frame_bytes and the broker
 * did not tell its own: the library then explains a timeout by it. */
static bool s_over_default_frame(gx_client *c, const Gongxu__V1__Envelope *req)
{
    gx_client_limits lim;
    gx_client_limits_get(c, &lim);
    return req && !lim.max_frame_bytes &&
           gongxu__v1__envelope__get_packed_size(req) + GX_CLIENT_CURVE_OVERHEAD >
               GX_CLIENT_DEFAULT_MAX_FRAME;
}

/* The exit code for a failed library call about req (may be NULL), after
 * printing why. */
static int s_client_failure(gx_client *c, gx_client_rc rc, const gx_cli *g, const Gongxu__V1__Envelope *req)
{
    char big[160];
    switch (rc) {
    case GX_CLIENT_TOO_LARGE: /* not sent: the library says how large against which limit */
    case GX_CLIENT_TIMEOUT:   /* the library says where, how long and why, as far as it can tell */
        if (rc == GX_CLIENT_TIMEOUT && !s_over_default_frame(c, req)) {
            gx_cli_error(g, "cli.error.plain", "message", gx_cli_lib_text(gx_client_error(c)), NULL);
            return EX_UNAVAILABLE;
        }
        if (req && gx_cli_largest_field(req, big, sizeof big))
            gx_cli_error(g, "cli.error.largest", "message", gx_cli_lib_text(gx_client_error(c)), "field", big,
                         NULL);
        else
            gx_cli_error(g, "cli.error.plain", "message", gx_cli_lib_text(gx_client_error(c)), NULL);
        return EX_DATAERR;
    case GX_CLIENT_REFUSED:
        return s_refused(gx_client_refused_code(c), gx_client_error(c), NULL);
    default:
        gx_cli_error(g, "cli.error.plain", "message", gx_cli_lib_text(gx_client_error(c)), NULL);
        return EX_SOFTWARE;
    }
}

static int s_connect(const gx_cli *g, gx_client **out)
{
    gx_cli_keys keys;
    if (g->operator_only && !g->as_operator && !g->key)
        return gx_cli_usage(g, "cli.usage.operator", "what", gx_cli_msg(g->operator_only, NULL), "dir",
                            GX_CLI_LOCAL_DIR, NULL);
    int rc = gx_cli_keys_find(g, &keys);
    if (rc != 0)
        return rc;
    bool curve = keys.server[0] != '\0';
    gx_client_opts opts = {
        .endpoint = g->server,
        .firm_id = g->firm,
        .as_operator = g->as_operator,
        .client_name = "gongxu-cli/" GX_VERSION,
        .timeout_ms = g->timeout_ms,
        .server_key = curve ? keys.server : NULL,
        .public_key = curve ? keys.pub : NULL,
        .secret_key = curve ? keys.sec : NULL,
    };
    char err[512];
    int code = 0;
    gx_client_rc crc = gx_client_connect(&opts, out, &code, err, sizeof err);
    gx_cli_keys_wipe(&keys); /* the socket has its own copy */
    switch (crc) {
    case GX_CLIENT_OK:
        return 0;
    case GX_CLIENT_REFUSED: /* the Hello: without CURVE most often no firm was named */
        return s_refused(code, err,
                         curve || (g->firm && *g->firm) || g->as_operator ? NULL : "cli.error.name_a_firm");
    default:
        gx_cli_error(g, "cli.error.plain", "message", gx_cli_lib_text(err), NULL);
        return EX_UNAVAILABLE;
    }
}

/* Builds the Envelope {"version": 1, key: body}; steals body. */
static int s_envelope(const gx_cli *g, const char *key, json_t *body, Gongxu__V1__Envelope **out)
{
    *out = NULL;
    json_t *j = json_pack("{s:i, s:o}", "version", 1, key, body);
    if (!j) {
        gx_cli_error(g, "cli.error.oom", NULL);
        return EX_OSERR;
    }
    char err[512];
    *out = (Gongxu__V1__Envelope *)gx_json_to_message(&gongxu__v1__envelope__descriptor, j, err, sizeof err);
    json_decref(j);
    if (!*out) {
        gx_cli_error(g, "cli.error.build", "why", err, NULL);
        return EX_SOFTWARE;
    }
    return 0;
}

static int s_print_json(const ProtobufCMessage *m)
{
    if (gx_cli_print_json(m))
        return 0;
    gx_cli_error(NULL, "cli.error.stdout", NULL);
    return EX_IOERR;
}

/* Sends {key: body} (stolen) and prints the reply; the exit code. */
static int s_request(gx_cli *g, const char *key, json_t *body)
{
    Gongxu__V1__Envelope *req = NULL, *reply = NULL;
    gx_client *c = NULL;
    int rc = s_envelope(g, key, body, &req);
    if (rc != 0)
        goto out;
    if (g->dry_run) {
        rc = s_print_json(&req->base);
        goto out;
    }
    rc = s_connect(g, &c);
    if (rc != 0)
        goto out;
    gx_client_limits lim;
    gx_client_limits_get(c, &lim);
    rc = gx_cli_check_limits(g, req, &lim);
    if (rc != 0)
        goto out;
    gx_client_rc crc = gx_client_call(c, req, &reply, g->timeout_ms);
    if (crc == GX_CLIENT_REFUSED) {
        rc = s_broker_error(g, reply->error);
        goto out;
    }
    if (crc != GX_CLIENT_OK) {
        rc = s_client_failure(c, crc, g, req);
        goto out;
    }
    if (g->json)
        rc = s_print_json(&reply->reply->base);
    else
        gx_cli_print_reply(req, reply->reply);
    if (rc == 0 && reply->reply->result_case == GONGXU__V1__REPLY__RESULT_CODES &&
        !reply->reply->codes->n_entries)
        rc = GX_CLI_EX_NOT_FOUND; /* vocab: nothing matches */
out:
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    gongxu__v1__envelope__free_unpacked(req, NULL);
    gx_client_destroy(&c);
    return rc;
}

/* ------------------------------------------------------------------ arguments */

#define S_MAX_ARGS 8

/* Values of a simple command's options, by index in its option table. */
typedef struct s_args {
    const struct option *opts;   /* the table, for messages */
    const char *val[S_MAX_ARGS]; /* the argument, or "" for a flag; NULL when absent */
} s_args;

static int s_collect(gx_cli *g, void *state, int val, const char *arg)
{
    s_args *a = state;
    int i = val - GX_CLI_OPT_BASE;
    char what[64];
    snprintf(what, sizeof what, "--%s", a->opts[i].name);
    if (arg && gx_cli_text(g, what, arg) != 0)
        return EX_USAGE;
    if (a->val[i])
        return gx_cli_usage(g, "cli.usage.twice", "opt", gx_cli_fmt("--%s", a->opts[i].name), NULL);
    a->val[i] = arg ? arg : "";
    return 0;
}

/* Parses a simple command: opts into *a, then between min and max positional
 * arguments (synopsis names them for the message) into *pos. */
static int s_parse(gx_cli *g, int argc, char **argv, const struct option *opts, s_args *a, int min, int max,
                   const char *synopsis, char ***pos)
{
    int first = 0;
    memset(a, 0, sizeof *a);
    a->opts = opts;
    int rc = gx_cli_getopt(g, argc, argv, opts, s_collect, a, &first);
    if (rc != 0)
        return rc;
    int n = argc - first;
    if (n < min || n > max)
        return gx_cli_usage(g, "cli.usage.expected", "what", synopsis, NULL);
    *pos = argv + first;
    return 0;
}

/* A posting id argument: a positive whole number, as the JSON string of a uint64. */
static int s_id(gx_cli *g, const char *what, const char *arg, json_t **out)
{
    uint64_t id;
    if (!gx_cli_u64(arg, &id) || id == 0)
        return gx_cli_usage(g, "cli.usage.posting_id", "what", what, "got", arg, NULL);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)id);
    *out = json_string(buf);
    return 0;
}

static int s_firm_arg(gx_cli *g, const char *what, const char *arg)
{
    if (!*arg)
        return gx_cli_usage(g, "cli.usage.empty", "what", what, NULL);
    return gx_cli_text(g, what, arg);
}

/* ------------------------------------------------------------------ commands */

static const struct option s_no_opts[] = {{NULL, 0, NULL, 0}};

static int s_cmd_register(gx_cli *g, int argc, char **argv)
{
    gx_cli_posting p;
    int rc = gx_cli_build_posting(g, GX_CLI_FIRM, false, argc, argv, &p);
    if (rc != 0)
        return rc;
    if (p.npos != 0) {
        rc = gx_cli_usage(g, "cli.usage.unexpected", "arg", p.pos[0], NULL);
        goto out;
    }
    gx_cli_warn_expired(g, p.body);
    json_t *body = json_pack("{s:O, s:b}", "firm", p.body, "override_check", p.override_check);
    rc = s_request(g, "register_firm", body);
out:
    gx_cli_posting_fini(&p);
    return rc;
}

/* The fields of a Demand or Offer only the broker sets: dropped from the
 * posting read back before it is sent as an update. */
static const char *const s_broker_set[] = {"owner", "state", "created_at", "original_quantity"};

/* update demand|offer ID with flags: reads the posting, sets the flags over
 * it and sends the whole of it with the revision read (or --revision), so
 * only the fields given change and a change made in between is refused
 * (CONFLICT) rather than overwritten. The owner reads its confidential
 * details too, so they survive. */
static int s_update(gx_cli *g, gx_cli_what what, uint64_t id, gx_cli_posting *p)
{
    const char *noun = what == GX_CLI_DEMAND ? "demand" : "offer";
    char ids[24], key[32];
    gx_client *c = NULL;
    Gongxu__V1__Envelope *get = NULL, *got = NULL, *req = NULL, *reply = NULL;
    json_t *body = NULL;
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    int rc = s_envelope(g, "get_posting", json_pack("{s:s}", "posting_id", ids), &get);
    if (rc == 0)
        rc = s_connect(g, &c); /* --dry-run too: the update is made from what is there */
    if (rc != 0)
        goto out;
    gx_client_rc crc = gx_client_call(c, get, &got, g->timeout_ms);
    if (crc == GX_CLIENT_REFUSED) {
        rc = s_broker_error(g, got->error);
        goto out;
    }
    if (crc != GX_CLIENT_OK) {
        rc = s_client_failure(c, crc, g, NULL);
        goto out;
    }
    const Gongxu__V1__PostingView *view =
        got->reply->result_case == GONGXU__V1__REPLY__RESULT_VIEW ? got->reply->view : NULL;
    const ProtobufCMessage *now = NULL; /* demand and offer share a union: look at the case */
    if (view && what == GX_CLI_DEMAND && view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_DEMAND)
        now = &view->demand->base;
    else if (view && what == GX_CLI_OFFER && view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_OFFER)
        now = &view->offer->base;
    if (!now) {
        const char *is = view && view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_DEMAND
                             ? "cli.noun.a_demand"
                         : view && view->posting_case == GONGXU__V1__POSTING_VIEW__POSTING_OFFER
                             ? "cli.noun.an_offer"
                             : "cli.noun.a_subscription";
        rc = gx_cli_usage(g, "cli.usage.not_kind", "id", ids, "is", gx_cli_msg(is, NULL), "want",
                          gx_cli_msg(what == GX_CLI_DEMAND ? "cli.noun.a_demand" : "cli.noun.an_offer", NULL),
                          NULL);
        goto out;
    }
    uint32_t read_at = what == GX_CLI_DEMAND ? view->demand->revision : view->offer->revision;
    body = gx_json_from_message(now);
    if (!body) {
        rc = EX_OSERR;
        goto out;
    }
    for (size_t i = 0; i < sizeof s_broker_set / sizeof s_broker_set[0]; i++) {
        char camel[64];
        gx_json_name(s_broker_set[i], camel, sizeof camel);
        json_object_del(body, camel);
        json_object_del(body, s_broker_set[i]);
    }
    gx_cli_merge(body, p->body);
    if (!p->has_revision)
        json_object_set_new(body, "revision", json_integer(read_at));
    snprintf(key, sizeof key, "update_%s", noun);
    rc = s_envelope(g, key, json_pack("{s:O}", noun, body), &req);
    if (rc != 0)
        goto out;
    if (g->dry_run) {
        rc = s_print_json(&req->base);
        goto out;
    }
    gx_client_limits lim;
    gx_client_limits_get(c, &lim);
    if ((rc = gx_cli_check_limits(g, req, &lim)) != 0)
        goto out;
    crc = gx_client_call(c, req, &reply, g->timeout_ms);
    if (crc == GX_CLIENT_REFUSED && reply->error->code == GONGXU__V1__ERROR_CODE__ERR_CONFLICT &&
        !p->has_revision && strstr(reply->error->field, "revision")) {
        fprintf(stderr, "%s\n",
                gx_cli_msg("cli.error.update_conflict", "noun",
                           gx_cli_msg(gx_cli_fmt("cli.noun.%s", noun), NULL), "id", ids, "rev",
                           gx_cli_fmt("%u", read_at), "message", reply->error->message, NULL));
        rc = EX_DATAERR;
    } else if (crc == GX_CLIENT_REFUSED) {
        rc = s_broker_error(g, reply->error);
        if (reply->error->code == GONGXU__V1__ERROR_CODE__ERR_CONFLICT && p->has_revision)
            fprintf(stderr, "%s\n", gx_cli_msg("cli.error.conflict_revision", "id", ids, NULL));
    } else if (crc != GX_CLIENT_OK) {
        rc = s_client_failure(c, crc, g, req);
    } else if (g->json) {
        rc = s_print_json(&reply->reply->base);
    } else {
        gx_cli_print_reply(req, reply->reply);
    }
out:
    json_decref(body);
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    gongxu__v1__envelope__free_unpacked(req, NULL);
    gongxu__v1__envelope__free_unpacked(got, NULL);
    gongxu__v1__envelope__free_unpacked(get, NULL);
    gx_client_destroy(&c);
    return rc;
}

static int s_post(gx_cli *g, gx_cli_what what, bool update, int argc, char **argv)
{
    gx_cli_posting p;
    int rc = gx_cli_build_posting(g, what, update, argc, argv, &p);
    if (rc != 0)
        return rc;
    const char *noun = what == GX_CLI_DEMAND ? "demand" : "offer";
    if (p.npos != (update ? 1 : 0)) {
        rc = update ? gx_cli_usage(g, "cli.usage.expected_id", "noun",
                                   gx_cli_msg(gx_cli_fmt("cli.noun.%s", noun), NULL), NULL)
                    : gx_cli_usage(g, "cli.usage.unexpected", "arg", p.pos[0], NULL);
        goto out;
    }
    if (update) {
        json_t *id = NULL;
        rc = s_id(g, "ID", p.pos[0], &id);
        if (rc != 0)
            goto out;
        if (!p.from_file) { /* only the fields given: over what is there */
            uint64_t n = strtoull(json_string_value(id), NULL, 10);
            json_decref(id);
            rc = s_update(g, what, n, &p);
            goto out;
        }
        json_object_set_new(p.body, "id", id); /* "id" is the same in both spellings */
    }
    char key[32];
    snprintf(key, sizeof key, "%s_%s", update ? "update" : "post", noun);
    rc = s_request(g, key, json_pack("{s:O}", noun, p.body));
out:
    gx_cli_posting_fini(&p);
    return rc;
}

static int s_cmd_post_demand(gx_cli *g, int argc, char **argv)
{
    return s_post(g, GX_CLI_DEMAND, false, argc, argv);
}

static int s_cmd_post_offer(gx_cli *g, int argc, char **argv)
{
    return s_post(g, GX_CLI_OFFER, false, argc, argv);
}

static int s_cmd_update_demand(gx_cli *g, int argc, char **argv)
{
    return s_post(g, GX_CLI_DEMAND, true, argc, argv);
}

static int s_cmd_update_offer(gx_cli *g, int argc, char **argv)
{
    return s_post(g, GX_CLI_OFFER, true, argc, argv);
}

static int s_cmd_subscribe(gx_cli *g, int argc, char **argv)
{
    gx_cli_posting p;
    int rc = gx_cli_build_posting(g, GX_CLI_SUBSCRIPTION, false, argc, argv, &p);
    if (rc != 0)
        return rc;
    if (p.npos != 0)
        rc = gx_cli_usage(g, "cli.usage.unexpected", "arg", p.pos[0], NULL);
    else
        rc = s_request(g, "subscribe", json_pack("{s:O}", "subscription", p.body));
    gx_cli_posting_fini(&p);
    return rc;
}

static int s_cmd_firm(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL;
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 1, 1, gx_cli_msg("cli.args.firm", NULL), &pos);
    if (rc == 0)
        rc = s_firm_arg(g, "USCC", pos[0]);
    if (rc != 0)
        return rc;
    return s_request(g, "get_firm", json_pack("{s:s}", "firm_id", pos[0]));
}

/* withdraw, shortlist, show: one posting id into field of request key. */
static int s_one_id(gx_cli *g, int argc, char **argv, const char *what, const char *key, const char *field)
{
    s_args a;
    char **pos = NULL;
    json_t *id = NULL;
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 1, 1, what, &pos);
    if (rc == 0)
        rc = s_id(g, what, pos[0], &id);
    if (rc != 0)
        return rc;
    return s_request(g, key, json_pack("{s:o}", field, id));
}

static int s_cmd_withdraw(gx_cli *g, int argc, char **argv)
{
    return s_one_id(g, argc, argv, "ID", "withdraw", "posting_id");
}

static int s_cmd_shortlist(gx_cli *g, int argc, char **argv)
{
    return s_one_id(g, argc, argv, "DEMAND_ID", "get_shortlist", "demand_id");
}

static int s_cmd_show(gx_cli *g, int argc, char **argv)
{
    return s_one_id(g, argc, argv, "ID", "get_posting", "posting_id");
}

static int s_cmd_interest(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"offer", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {"message", required_argument, NULL, GX_CLI_OPT_BASE + 1},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    char **pos = NULL;
    json_t *demand = NULL, *offer = NULL;
    int rc = s_parse(g, argc, argv, opts, &a, 1, 1, "DEMAND_ID [--offer ID] [--message TEXT]", &pos);
    if (rc == 0)
        rc = s_id(g, "DEMAND_ID", pos[0], &demand);
    if (rc == 0 && a.val[0])
        rc = s_id(g, "--offer", a.val[0], &offer);
    if (rc != 0) {
        json_decref(demand);
        return rc;
    }
    json_t *body = json_pack("{s:o}", "demand_id", demand);
    if (offer)
        json_object_set_new(body, "offer_id", offer);
    if (a.val[1])
        json_object_set_new(body, "message", json_string(a.val[1]));
    return s_request(g, "interest", body);
}

/* accept, decline, award: DEMAND_ID FIRM_ID plus opts. */
static int s_pair(gx_cli *g, int argc, char **argv, const struct option *opts, const char *synopsis,
                  s_args *a, json_t **body)
{
    char **pos = NULL;
    json_t *demand = NULL;
    int rc = s_parse(g, argc, argv, opts, a, 2, 2, synopsis, &pos);
    if (rc == 0)
        rc = s_id(g, "DEMAND_ID", pos[0], &demand);
    if (rc == 0 && (rc = s_firm_arg(g, "FIRM_ID", pos[1])) != 0)
        json_decref(demand);
    if (rc != 0)
        return rc;
    *body = json_pack("{s:o, s:s}", "demand_id", demand, "firm_id", pos[1]);
    return 0;
}

static int s_cmd_accept(gx_cli *g, int argc, char **argv)
{
    s_args a;
    json_t *body = NULL;
    int rc = s_pair(g, argc, argv, s_no_opts, "DEMAND_ID FIRM_ID", &a, &body);
    return rc != 0 ? rc : s_request(g, "accept", body);
}

static int s_cmd_decline(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    json_t *body = NULL;
    int rc = s_pair(g, argc, argv, opts, "DEMAND_ID FIRM_ID [--reason TEXT]", &a, &body);
    if (rc != 0)
        return rc;
    if (a.val[0])
        json_object_set_new(body, "reason", json_string(a.val[0]));
    return s_request(g, "decline", body);
}

static int s_cmd_award(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"quantity", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    json_t *body = NULL;
    double q = 0;
    int rc = s_pair(g, argc, argv, opts, "DEMAND_ID FIRM_ID [--quantity Q]", &a, &body);
    if (rc != 0)
        return rc;
    if (a.val[0] && (!gx_cli_double(a.val[0], &q) || q <= 0)) {
        json_decref(body);
        return gx_cli_usage(g, "cli.usage.award_quantity", "got", a.val[0], NULL);
    }
    if (q > 0)
        json_object_set_new(body, "quantity", json_real(q));
    return s_request(g, "award", body);
}

/* list: a page of your postings (the broker's cursor says where the next
 * starts), or with --all-pages every page on one connection. */
static int s_cmd_list(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, GX_CLI_OPT_BASE + 0},
        {"limit", required_argument, NULL, GX_CLI_OPT_BASE + 1},
        {"cursor", required_argument, NULL, GX_CLI_OPT_BASE + 2},
        {"all-pages", no_argument, NULL, GX_CLI_OPT_BASE + 3},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    char **pos = NULL;
    uint32_t limit = 0;
    int rc = s_parse(g, argc, argv, opts, &a, 0, 0, gx_cli_msg("cli.args.options_only", NULL), &pos);
    if (rc != 0)
        return rc;
    if (a.val[1] && (!gx_cli_u32(a.val[1], &limit) || limit < 1 || limit > 1000))
        return gx_cli_usage(g, "cli.usage.list_limit", "got", a.val[1], NULL);
    bool closed = a.val[0] != NULL, every = a.val[3] != NULL;
    char *cursor = strdup(a.val[2] ? a.val[2] : "");
    Gongxu__V1__Envelope *req = NULL, *reply = NULL;
    gx_client *c = NULL;
    if (!cursor) {
        gx_cli_error(g, "cli.error.oom", NULL);
        return EX_OSERR;
    }
    for (int pages = 0;; pages++) {
        json_t *body = json_pack("{s:b}", "include_closed", closed);
        if (body && limit)
            json_object_set_new(body, "limit", json_integer(limit));
        if (body && *cursor)
            json_object_set_new(body, "cursor", json_string(cursor));
        if ((rc = s_envelope(g, "list_postings", body, &req)) != 0)
            break;
        if (g->dry_run) {
            rc = s_print_json(&req->base);
            break;
        }
        if (!c && (rc = s_connect(g, &c)) != 0)
            break;
        gx_client_rc crc = gx_client_call(c, req, &reply, g->timeout_ms);
        if (crc == GX_CLIENT_REFUSED) {
            rc = s_broker_error(g, reply->error);
            break;
        }
        if (crc != GX_CLIENT_OK) {
            rc = s_client_failure(c, crc, g, req);
            break;
        }
        const Gongxu__V1__PostingList *l =
            reply->reply->result_case == GONGXU__V1__REPLY__RESULT_POSTINGS ? reply->reply->postings : NULL;
        if (g->json)
            rc = s_print_json(&reply->reply->base);
        else if (!pages || (l && (l->n_demands || l->n_offers || l->n_subscriptions)))
            gx_cli_print_reply(req, reply->reply); /* "no postings" only for a first page */
        const char *next = l && l->next_cursor ? l->next_cursor : "";
        if (rc != 0 || !*next)
            break;
        free(cursor);
        if (!(cursor = strdup(next))) {
            gx_cli_error(g, "cli.error.oom", NULL);
            rc = EX_OSERR;
            break;
        }
        if (!every) {
            if (!g->json) {
                char lim[32] = "";
                if (limit)
                    snprintf(lim, sizeof lim, " --limit %u", (unsigned)limit);
                char cmd[512];
                snprintf(cmd, sizeof cmd, "gongxu list%s%s --cursor %s", closed ? " --all" : "", lim, cursor);
                printf("%s\n", gx_cli_msg("cli.list.more", "cmd", cmd, NULL));
            }
            break;
        }
        gongxu__v1__envelope__free_unpacked(reply, NULL);
        gongxu__v1__envelope__free_unpacked(req, NULL);
        reply = req = NULL;
    }
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    gongxu__v1__envelope__free_unpacked(req, NULL);
    gx_client_destroy(&c);
    free(cursor);
    return rc;
}

static int s_cmd_stats(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {"to", required_argument, NULL, GX_CLI_OPT_BASE + 1},
        {"district", required_argument, NULL, GX_CLI_OPT_BASE + 2},
        {"industry", required_argument, NULL, GX_CLI_OPT_BASE + 3},
        {"kind", required_argument, NULL, GX_CLI_OPT_BASE + 4},
        {"breakdown", no_argument, NULL, GX_CLI_OPT_BASE + 5},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    char **pos = NULL;
    int rc = s_parse(g, argc, argv, opts, &a, 0, 0, gx_cli_msg("cli.args.options_only", NULL), &pos);
    if (rc != 0)
        return rc;
    char why[256];
    for (int i = 0; i < 2; i++)
        if (a.val[i] && gx_cli_date_problem(a.val[i], why, sizeof why))
            return gx_cli_usage(g, "cli.usage.flag_why", "opt", gx_cli_fmt("--%s", opts[i].name), "why", why,
                                "got", a.val[i], NULL);
    if (a.val[0] && a.val[1] && strcmp(a.val[1], a.val[0]) < 0)
        return gx_cli_usage(g, "cli.usage.to_before_from", "to", a.val[1], "from", a.val[0], NULL);
    json_t *body = json_object();
    static const char *const keys[] = {"from", "to", "district", "industry"};
    for (int i = 0; i < 4; i++)
        if (a.val[i])
            json_object_set_new(body, keys[i], json_string(a.val[i]));
    if (a.val[4]) {
        const ProtobufCEnumValue *v = gx_cli_enum(&gongxu__v1__kind__descriptor, "", a.val[4]);
        if (!v) {
            char words[256];
            json_decref(body);
            return gx_cli_usage(g, "cli.usage.one_of", "opt", "--kind", "list",
                                gx_cli_enum_words(&gongxu__v1__kind__descriptor, "", words, sizeof words),
                                "got", a.val[4], NULL);
        }
        json_object_set_new(body, "kind", json_string(v->name));
    }
    if (a.val[5])
        json_object_set_new(body, "breakdown", json_true());
    return s_request(g, "get_stats", body);
}

/* help [COMMAND [SUB]]: the overview, or one command's page (both of post's). */
static int s_cmd_help(gx_cli *g, int argc, char **argv)
{
    if (argc < 2) {
        gx_cli_help(stdout);
        return 0;
    }
    if (gx_cli_help_command(stdout, argv[1], argc > 2 ? argv[2] : NULL) == 0)
        return 0;
    g->cmd[0] = '\0';
    return gx_cli_usage(g, "cli.usage.no_command", "name",
                        gx_cli_fmt("%s%s%s", argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : ""), NULL);
}

/* vocab [search] [TEXT] [--class CLASS] [--limit N]: FindCodes. */
static int s_cmd_vocab(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"class", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {"limit", required_argument, NULL, GX_CLI_OPT_BASE + 1},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    char **pos = NULL, words[256];
    uint32_t limit = 0;
    int rc = s_parse(g, argc, argv, opts, &a, 0, 2, "[search] [TEXT]", &pos);
    if (rc != 0)
        return rc;
    int n = argc - (int)(pos - argv);
    bool search = n > 0 && strcmp(pos[0], "search") == 0;
    if (n == 2 && !search)
        return gx_cli_usage(g, "cli.usage.vocab_args", "a", pos[0], "b", pos[1], NULL);
    const char *text = search ? (n == 2 ? pos[1] : "") : (n == 1 ? pos[0] : "");
    if ((rc = gx_cli_text(g, "TEXT", text)) != 0)
        return rc;
    json_t *body = json_pack("{s:s}", "text", text);
    if (a.val[0]) {
        const ProtobufCEnumValue *v = gx_cli_enum(&gongxu__v1__code_class__descriptor, "CODE_", a.val[0]);
        if (!v) {
            json_decref(body);
            return gx_cli_usage(
                g, "cli.usage.one_of", "opt", "--class", "list",
                gx_cli_enum_words(&gongxu__v1__code_class__descriptor, "CODE_", words, sizeof words), "got",
                a.val[0], NULL);
        }
        json_object_set_new(body, "code_class", json_string(v->name));
    }
    if (a.val[1]) {
        if (!gx_cli_u32(a.val[1], &limit) || limit < 1 || limit > 1000) {
            json_decref(body);
            return gx_cli_usage(g, "cli.usage.vocab_limit", "got", a.val[1], NULL);
        }
        json_object_set_new(body, "limit", json_integer(limit));
    }
    return s_request(g, "find_codes", body);
}

static int s_cmd_ping(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL;
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 0, 0, gx_cli_msg("cli.args.none", NULL), &pos);
    return rc != 0 ? rc : s_request(g, "ping", json_object());
}

/* ------------------------------------------------------------------ keys */

static int s_cmd_register_key(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL, key[GX_KEY_Z85_LEN + 1];
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 2, 2, "FIRM_ID KEY|FILE", &pos);
    if (rc == 0)
        rc = s_firm_arg(g, "FIRM_ID", pos[0]);
    if (rc == 0)
        rc = gx_cli_public_key(g, "KEY", pos[1], key);
    if (rc != 0)
        return rc;
    return s_request(g, "register_key", json_pack("{s:s, s:s}", "firm_id", pos[0], "public_key", key));
}

static int s_cmd_revoke_key(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL, key[GX_KEY_Z85_LEN + 1];
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 1, 1, "KEY|FILE", &pos);
    if (rc == 0)
        rc = gx_cli_public_key(g, "KEY", pos[0], key);
    if (rc != 0)
        return rc;
    return s_request(g, "revoke_key", json_pack("{s:s}", "public_key", key));
}

/* admin backup DEST: a consistent copy of the broker's store, written by the
 * broker into DEST on its own host (a relative DEST is taken from here). */
static int s_cmd_backup(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL, dest[2 * PATH_MAX + 2], cwd[PATH_MAX];
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 1, 1, "DEST", &pos);
    if (rc == 0)
        rc = gx_cli_text(g, "DEST", pos[0]); /* the broker takes the path as UTF-8 text */
    if (rc != 0)
        return rc;
    if (pos[0][0] == '/')
        snprintf(dest, sizeof dest, "%s", pos[0]);
    else if (getcwd(cwd, sizeof cwd) && strlen(pos[0]) < PATH_MAX)
        snprintf(dest, sizeof dest, "%s/%s", cwd, pos[0]);
    else
        return gx_cli_usage(g, "cli.usage.dest_long", NULL);
    return s_request(g, "backup", json_pack("{s:s}", "dest", dest));
}

/* keygen PATH: PATH.key (both keys, 0600) and PATH.pub; a PATH already ending
 * in .key or .pub names the pair too. Neither file is ever replaced. */
static int s_cmd_keygen(gx_cli *g, int argc, char **argv)
{
    s_args a;
    char **pos = NULL, pub[GX_KEY_Z85_LEN + 1], sec[GX_KEY_Z85_LEN + 1];
    char base[PATH_MAX - 8], keyp[PATH_MAX], pubp[PATH_MAX], name[PATH_MAX], err[PATH_MAX + 128];
    int rc = s_parse(g, argc, argv, s_no_opts, &a, 1, 1, gx_cli_msg("cli.args.keygen", NULL), &pos);
    if (rc != 0)
        return rc;
    size_t n = strlen(pos[0]);
    if (n > 4 && (strcmp(pos[0] + n - 4, ".key") == 0 || strcmp(pos[0] + n - 4, ".pub") == 0))
        n -= 4;
    if (n == 0 || pos[0][n - 1] == '/' || n >= sizeof base)
        return gx_cli_usage(g, "cli.usage.keygen_path", "got", pos[0], NULL);
    memcpy(base, pos[0], n);
    base[n] = '\0';
    snprintf(keyp, sizeof keyp, "%s.key", base);
    snprintf(pubp, sizeof pubp, "%s.pub", base);
    snprintf(name, sizeof name, "%s", base);
    const char *exists = access(keyp, F_OK) == 0 ? keyp : access(pubp, F_OK) == 0 ? pubp : NULL;
    if (exists) {
        gx_cli_error(g, "cli.keygen.exists", "path", exists, NULL);
        return EX_CANTCREAT;
    }
    if (gx_keyfile_generate(pub, sec) != 0) {
        gx_cli_error(g, "cli.keygen.no_curve", NULL);
        return EX_SOFTWARE;
    }
    const char *comment = basename(name);
    if (gx_keyfile_write(keyp, pub, sec, comment, err, sizeof err) != 0) {
        rc = EX_CANTCREAT;
    } else if (gx_keyfile_write(pubp, pub, NULL, comment, err, sizeof err) != 0) {
        unlink(keyp); /* a pair or nothing */
        rc = EX_CANTCREAT;
    }
    explicit_bzero(sec, sizeof sec);
    if (rc != 0) {
        gx_cli_error(g, "cli.error.plain", "message", gx_cli_lib_text(err), NULL);
        return rc;
    }
    fprintf(stderr, "%s\n", gx_cli_msg("cli.keygen.wrote", "key", keyp, "pub", pubp, NULL));
    if (g->json) {
        Gongxu__V1__KeyInfo info = GONGXU__V1__KEY_INFO__INIT;
        info.public_key = pub;
        return s_print_json(&info.base);
    }
    if (printf("%s\n", pub) < 0 || fflush(stdout) != 0) {
        gx_cli_error(NULL, "cli.error.stdout", NULL);
        return EX_IOERR;
    }
    return 0;
}

/* ------------------------------------------------------------------ watch */

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_cmd_watch(gx_cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, GX_CLI_OPT_BASE + 0},
        {"timeout", required_argument, NULL, GX_CLI_OPT_BASE + 1},
        {"from-seq", required_argument, NULL, GX_CLI_OPT_BASE + 2},
        {"no-ack", no_argument, NULL, GX_CLI_OPT_BASE + 3},
        {NULL, 0, NULL, 0},
    };
    s_args a;
    char **pos = NULL;
    uint64_t count = 0, from = 0, seen = 0;
    double secs = -1;
    gx_client *c = NULL;
    Gongxu__V1__Envelope *req = NULL, *n = NULL;
    int rc = s_parse(g, argc, argv, opts, &a, 0, 0, gx_cli_msg("cli.args.only_options", NULL), &pos);
    if (rc != 0)
        return rc;
    if (a.val[0] && (!gx_cli_u64(a.val[0], &count) || count == 0))
        return gx_cli_usage(g, "cli.usage.watch_count", "got", a.val[0], NULL);
    if (a.val[1] && (!gx_cli_double(a.val[1], &secs) || secs < 0 || secs > 366.0 * 86400))
        return gx_cli_usage(g, "cli.usage.watch_timeout", "got", a.val[1], NULL);
    if (a.val[2] && !gx_cli_u64(a.val[2], &from))
        return gx_cli_usage(g, "cli.usage.watch_from", "got", a.val[2], NULL);
    bool ack = a.val[3] == NULL;

    if (g->dry_run) {
        char after[24];
        snprintf(after, sizeof after, "%llu", (unsigned long long)from);
        json_t *resume =
            a.val[2] ? json_pack("{s:s}", "after_seq", after) : json_pack("{s:b}", "from_last_ack", 1);
        rc = s_envelope(g, "resume", resume, &req);
        if (rc == 0)
            rc = s_print_json(&req->base);
        goto out;
    }
    rc = s_connect(g, &c);
    if (rc != 0)
        goto out;
    gx_client_rc crc = gx_client_resume(c, a.val[2] == NULL, from, NULL);
    if (crc != GX_CLIENT_OK) {
        rc = s_client_failure(c, crc, g, NULL);
        goto out;
    }
    int64_t deadline = secs < 0 ? -1 : s_now_ms() + (int64_t)(secs * 1000 + 0.5);
    while (count == 0 || seen < count) {
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - s_now_ms();
            wait_ms = left <= 0 ? 0 : left > S_WATCH_SLICE_MS ? S_WATCH_SLICE_MS : (int)left;
        }
        crc = gx_client_next_notice(c, &n, wait_ms);
        if (crc == GX_CLIENT_TIMEOUT) {
            if (deadline >= 0 && s_now_ms() >= deadline)
                break;
            continue; /* a slice of a long wait ended */
        }
        if (crc != GX_CLIENT_OK) {
            rc = s_client_failure(c, crc, g, NULL);
            goto out;
        }
        if (g->json) {
            rc = s_print_json(&n->notice->base);
            if (rc != 0)
                goto out;
        } else {
            gx_cli_print_notice(n->notice);
        }
        seen++;
        if (ack) {
            crc = gx_client_ack(c, n->notice->seq);
            if (crc != GX_CLIENT_OK) {
                rc = s_client_failure(c, crc, g, NULL);
                goto out;
            }
        }
        gongxu__v1__envelope__free_unpacked(n, NULL);
        n = NULL;
    }
    if (count > 0 && seen < count) {
        char got[24], want[24];
        snprintf(got, sizeof got, "%llu", (unsigned long long)seen);
        snprintf(want, sizeof want, "%llu", (unsigned long long)count);
        fprintf(stderr, "%s\n", gx_cli_msg("cli.watch.short", "seen", got, "count", want, NULL));
        rc = EX_TEMPFAIL;
    }
out:
    gongxu__v1__envelope__free_unpacked(n, NULL);
    gongxu__v1__envelope__free_unpacked(req, NULL);
    gx_client_destroy(&c);
    return rc;
}

/* ------------------------------------------------------------------ main */

typedef int (*s_run_fn)(gx_cli *g, int argc, char **argv);

typedef struct s_cmd {
    const char *name;     /* first command word */
    const char *sub;      /* second word, or NULL */
    s_run_fn run;         /* gets argv from the last command word on */
    const char *operator; /* operator-only: the catalogue id of what it does ("statistics need"), else NULL */
} s_cmd;

static const s_cmd s_cmds[] = {
    {"register", NULL, s_cmd_register, "cli.op.register"},
    {"firm", NULL, s_cmd_firm, NULL},
    {"post", "demand", s_cmd_post_demand, NULL},
    {"post", "offer", s_cmd_post_offer, NULL},
    {"update", "demand", s_cmd_update_demand, NULL},
    {"update", "offer", s_cmd_update_offer, NULL},
    {"withdraw", NULL, s_cmd_withdraw, NULL},
    {"subscribe", NULL, s_cmd_subscribe, NULL},
    {"watch", NULL, s_cmd_watch, NULL},
    {"interest", NULL, s_cmd_interest, NULL},
    {"accept", NULL, s_cmd_accept, NULL},
    {"decline", NULL, s_cmd_decline, NULL},
    {"award", NULL, s_cmd_award, NULL},
    {"shortlist", NULL, s_cmd_shortlist, NULL},
    {"show", NULL, s_cmd_show, NULL},
    {"list", NULL, s_cmd_list, NULL},
    {"stats", NULL, s_cmd_stats, "cli.op.stats"},
    {"ping", NULL, s_cmd_ping, NULL},
    {"vocab", NULL, s_cmd_vocab, NULL},
    {"keygen", NULL, s_cmd_keygen, NULL},
    {"register-key", NULL, s_cmd_register_key, "cli.op.register_key"},
    {"revoke-key", NULL, s_cmd_revoke_key, "cli.op.revoke_key"},
    {"admin", "backup", s_cmd_backup, "cli.op.backup"},
    {"help", NULL, s_cmd_help, NULL},
};

int main(int argc, char **argv)
{
    gx_cli g = {0};
    int at = 0;
    int rc = gx_cli_parse_global(&g, argc, argv, &at);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (at >= argc)
        return gx_cli_usage(&g, "cli.usage.no_command_given", NULL);
    const char *name = argv[at];
    const char *sub = at + 1 < argc ? argv[at + 1] : NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) {
        const s_cmd *cmd = &s_cmds[i];
        if (strcmp(cmd->name, name) != 0)
            continue;
        known = true;
        if (cmd->sub && (!sub || strcmp(cmd->sub, sub) != 0))
            continue;
        snprintf(g.cmd, sizeof g.cmd, "%s%s%s", name, cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
        g.operator_only = cmd->operator;
        int skip = cmd->sub ? 1 : 0;
        rc = cmd->run(&g, argc - at - skip, argv + at + skip);
        return rc < 0 ? 0 : rc;
    }
    if (known) {
        snprintf(g.cmd, sizeof g.cmd, "%s", name);
        if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0))
            return gx_cli_help_command(stdout, name, NULL) == 0 ? 0 : EX_SOFTWARE;
        if (strcmp(name, "admin") == 0)
            return gx_cli_usage(&g, "cli.usage.admin", NULL);
        return gx_cli_usage(&g, "cli.usage.demand_or_offer", "name", name, NULL);
    }
    return gx_cli_usage(&g, "cli.usage.unknown_command", "name", name, NULL);
}
