/* cli_check.c — what the gongxu CLI checks in a built request before sending
 * it: the broker's limits (which it tells in its reply to Hello) and
 * certificates already expired.
 *
 * The broker stays the authority: these checks only say earlier, and better,
 * what it would say. The limits mirror its decoder (src/codec.c): a text field
 * (contact, summary, details, message, reason, dest) is bounded by
 * max_text_bytes, every other string by max_string_bytes, every repeated field
 * by max_repeated; strings the broker bounds otherwise (firm ids, county
 * codes, keys) have fixed formats far shorter than any limit. */
#include "cli.h"

#include <string.h>

/* Fields the broker bounds by max_text_bytes instead of max_string_bytes. */
static const char *const s_text_fields[] = {"contact", "summary", "details", "message", "reason", "dest"};

json_t *gx_cli_member(const json_t *obj, const char *proto_name)
{
    char camel[64];
    json_t *v = json_object_get(obj, proto_name);
    if (!v && gx_json_name(proto_name, camel, sizeof camel) < sizeof camel)
        v = json_object_get(obj, camel);
    return v;
}

void gx_cli_warn_expired(const gx_cli *g, const json_t *firm)
{
    char today[11];
    gx_cli_today(today);
    const json_t *certs = gx_cli_member(firm, "certifications");
    size_t i;
    json_t *c;
    json_array_foreach(certs, i, c)
    {
        const char *until = json_string_value(gx_cli_member(c, "valid_until"));
        if (!until || strcmp(until, today) >= 0)
            continue;
        const char *scheme = json_string_value(gx_cli_member(c, "scheme"));
        const char *number = json_string_value(gx_cli_member(c, "number"));
        fprintf(stderr, "%s\n",
                gx_cli_msg(number && *number ? "cli.warn.cert_expired_no" : "cli.warn.cert_expired", "cmd",
                           g->cmd, "scheme", scheme ? scheme : "?", "number", number ? number : "", "date",
                           until, "today", today, NULL));
    }
}

static bool s_is_text(const char *name)
{
    for (size_t i = 0; i < sizeof s_text_fields / sizeof s_text_fields[0]; i++)
        if (strcmp(name, s_text_fields[i]) == 0)
            return true;
    return false;
}

static const void *s_at(const ProtobufCMessage *m, unsigned offset)
{
    return (const char *)m + offset;
}

/* What one walk over a request found. */
typedef struct s_walk {
    const gx_client_limits *lim; /* NULL: only look for the largest string */
    char path[256];              /* the field being looked at: "demand.processes[2]" */
    char bad[256];               /* the first field over a limit, "" if none */
    size_t bad_size;             /* its bytes or entries */
    uint32_t bad_limit;          /* the limit it is over */
    const char *bad_key;         /* the broker's key of that limit */
    char big[256];               /* the largest string field */
    size_t big_size;             /* its bytes */
} s_walk;

static void s_string(s_walk *w, const char *name, const char *v)
{
    size_t len = v ? strlen(v) : 0;
    if (len > w->big_size) {
        w->big_size = len;
        snprintf(w->big, sizeof w->big, "%s", w->path);
    }
    if (!w->lim || w->bad[0])
        return;
    bool text = s_is_text(name);
    uint32_t max = text ? w->lim->max_text_bytes : w->lim->max_string_bytes;
    if (max && len > max) {
        snprintf(w->bad, sizeof w->bad, "%s", w->path);
        w->bad_size = len;
        w->bad_limit = max;
        w->bad_key = text ? "max_text_bytes" : "max_string_bytes";
    }
}

static void s_walk_message(s_walk *w, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    size_t at = strlen(w->path);
    if (depth > 16)
        return;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)s_at(m, f->quantifier_offset) != f->id)
            continue;
        snprintf(w->path + at, sizeof w->path - at, "%s%s", at ? "." : "", f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)s_at(m, f->quantifier_offset);
            if (w->lim && !w->bad[0] && w->lim->max_repeated && n > w->lim->max_repeated) {
                snprintf(w->bad, sizeof w->bad, "%s", w->path);
                w->bad_size = n;
                w->bad_limit = w->lim->max_repeated;
                w->bad_key = "max_repeated";
            }
            size_t base = strlen(w->path);
            for (size_t k = 0; k < n; k++) {
                snprintf(w->path + base, sizeof w->path - base, "[%zu]", k);
                if (f->type == PROTOBUF_C_TYPE_STRING)
                    s_string(w, f->name, (*(char *const *const *)s_at(m, f->offset))[k]);
                else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                    s_walk_message(w, (*(ProtobufCMessage *const *const *)s_at(m, f->offset))[k], depth + 1);
            }
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            s_string(w, f->name, *(char *const *)s_at(m, f->offset));
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)s_at(m, f->offset);
            if (sub)
                s_walk_message(w, sub, depth + 1);
        }
        w->path[at] = '\0';
    }
}

/* The flag (without "--") that sets the field at path ("demand.processes[2]"
 * -> "process"), or NULL. */
static const char *s_flag_at(const char *path)
{
    char last[64];
    const char *dot = strrchr(path, '.');
    const char *name = dot ? dot + 1 : path;
    size_t n = strcspn(name, "[");
    if (n >= sizeof last)
        return NULL;
    memcpy(last, name, n);
    last[n] = '\0';
    return gx_cli_flag_of(last);
}

/* "message" -> "interest.message": a field of the body itself gets its name. */
static void s_prefix(char *path, size_t len, const char *body)
{
    char tmp[600];
    if (!path[0] || strchr(path, '.'))
        return;
    int n = snprintf(tmp, sizeof tmp, "%s.%s", body, path);
    size_t k = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
    memcpy(path, tmp, k);
    path[k] = '\0';
}

/* Walks the request's body, naming fields as the broker does: "demand.details"
 * within PostDemand, "interest.message" for Interest's own fields. */
static void s_walk_body(s_walk *w, const Gongxu__V1__Envelope *req)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&gongxu__v1__envelope__descriptor, (unsigned)req->body_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return;
    const ProtobufCMessage *body = *(ProtobufCMessage *const *)s_at(&req->base, f->offset);
    if (!body)
        return;
    s_walk_message(w, body, 0);
    s_prefix(w->bad, sizeof w->bad, f->name);
    s_prefix(w->big, sizeof w->big, f->name);
}

int gx_cli_check_limits(const gx_cli *g, const Gongxu__V1__Envelope *req, const gx_client_limits *lim)
{
    s_walk w = {.lim = lim};
    s_walk_body(&w, req);
    if (!w.bad[0])
        return 0;
    bool count = strcmp(w.bad_key, "max_repeated") == 0;
    const char *flag = s_flag_at(w.bad);
    gx_cli_error(g, "cli.check.over", "field", w.bad, "flag",
                 flag ? gx_cli_msg("cli.check.flag", "flag", gx_cli_fmt("--%s", flag), NULL) : "", "size",
                 gx_cli_fmt("%zu", w.bad_size), "unit",
                 gx_cli_msg(count ? "cli.unit.entries" : "cli.unit.bytes", NULL), "limit",
                 gx_cli_fmt("%u", (unsigned)w.bad_limit), "key", w.bad_key, NULL);
    return EX_DATAERR;
}

const char *gx_cli_largest_field(const Gongxu__V1__Envelope *req, char *buf, size_t len)
{
    s_walk w = {0};
    s_walk_body(&w, req);
    if (!w.big_size)
        return NULL;
    const char *flag = s_flag_at(w.big);
    if (flag)
        gx_msg_copy(buf, len,
                    gx_cli_msg("cli.check.largest_flag", "field", w.big, "flag", gx_cli_fmt("--%s", flag),
                               "bytes", gx_cli_fmt("%zu", w.big_size), NULL));
    else
        gx_msg_copy(
            buf, len,
            gx_cli_msg("cli.check.largest", "field", w.big, "bytes", gx_cli_fmt("%zu", w.big_size), NULL));
    return buf;
}
