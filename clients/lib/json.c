/* json.c — the proto3 JSON mapping for any protobuf-c message (see gongxu/json.h).
 *
 * Both directions walk the message descriptor; nothing here knows gongxu's types.
 * Input builds the message top-down with plain malloc and links every sub-object
 * into its parent before filling it, so that protobuf_c_message_free_unpacked(msg,
 * NULL) releases a half-built message at any point of failure. */
#include <gongxu/json.h>

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h> /* classification macros only: no -lm */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GX_JSON_MAX_DEPTH 32          /* nested messages, both directions */
#define GX_JSON_MAX_ARRAY 10000       /* elements of one repeated field on input */
#define GX_JSON_MAX_STRING (1u << 20) /* bytes of one string (or decoded bytes) on input */
#define GX_JSON_MAX_NAME 128          /* longest field name we convert */
#define GX_JSON_MAX_PATH 512          /* longest error path kept */

/* Where an input conversion is and where its error goes. */
typedef struct s_in {
    char path[GX_JSON_MAX_PATH]; /* "demand.processes[2]" of the value being read */
    size_t path_len;             /* strlen(path) */
    char *err;                   /* caller's error buffer, may be NULL */
    size_t errlen;               /* its size */
} s_in;

/* ------------------------------------------------------------------ names */

size_t gx_json_name(const char *proto_name, char *out, size_t outlen)
{
    size_t n = 0;
    bool upper = false;
    for (const char *p = proto_name; *p; p++) {
        char ch = *p;
        if (ch == '_') {
            upper = true;
            continue;
        }
        if (upper && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        upper = false;
        if (outlen && n + 1 < outlen)
            out[n] = ch;
        n++;
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return n;
}

/* ------------------------------------------------------------------ layout */

/* Size of one element of a field of this type in a repeated array. */
static size_t s_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void *s_member(const ProtobufCMessage *msg, unsigned offset)
{
    return (char *)msg + offset;
}

static bool s_is_oneof(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

/* Whether an OPTIONAL field of this type has a has_ flag (strings and messages
 * use their pointer instead). */
static bool s_has_flag(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL && !s_is_oneof(f) && f->type != PROTOBUF_C_TYPE_STRING &&
           f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* ------------------------------------------------------------------ base64 */

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *s_b64_encode(const uint8_t *data, size_t len)
{
    size_t outlen = (len + 2) / 3 * 4;
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

/* Value of a base64 digit (standard or URL-safe alphabet), or -1. */
static int s_b64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 with or without padding into a new malloc'd buffer (NULL for
 * empty input). Returns false on a bad digit, bad length or allocation failure. */
static bool s_b64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return false;
    if (len == 0)
        return true;
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    if (!buf)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int d = s_b64_digit(s[i]);
        if (d < 0) {
            free(buf);
            return false;
        }
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *outlen = o;
    return true;
}

/* ------------------------------------------------------------------ output */

/* The length of the valid UTF-8 sequence at p (at most left bytes), or 0. */
static size_t s_utf8_seq(const unsigned char *p, size_t left)
{
    size_t n = 0;
    if (p[0] < 0x80)
        n = 1;
    else if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    bool ok = n > 0 && n <= left;
    for (size_t k = 1; ok && k < n; k++)
        ok = (p[k] & 0xc0) == 0x80;
    if (ok && n == 3) /* no overlongs, no surrogates */
        ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
    if (ok && n == 4) /* no overlongs, nothing past U+10FFFF */
        ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
    return ok ? n : 0;
}

size_t gx_json_utf8_bad(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = s_utf8_seq(p + i, len - i)))
            return i;
    return SIZE_MAX;
}

/* A JSON string from bytes that should be UTF-8; invalid sequences become
 * U+FFFD so that data from the wire never makes the conversion fail. */
static json_t *s_string_out(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s);
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_seq(p + i, len - i);
        if (n) {
            memcpy(buf + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    buf[o] = '\0';
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

/* Doubles are numbers; the non-finite ones are the strings proto3 JSON names. */
static json_t *s_double_out(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    /* whole values print as 5000, not 5000.0; below 2^53 the integer is exact */
    if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(json_int_t)v &&
        !(v == 0 && signbit(v)))
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *s_message_out(const ProtobufCMessage *msg, int depth);

/* The JSON value of one element of field f stored at p. */
static json_t *s_value_out(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
        return s_double_out(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_double_out(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING:
        return s_string_out(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return s_b64_encode(b->data, b->data ? b->len : 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (!sub)
            return json_object();
        return s_message_out(sub, depth + 1);
    }
    }
    return NULL;
}

/* Whether a proto3 singular field holds its default (and so is omitted). */
static bool s_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    }
    return true;
}

/* Whether field f of msg is present on output. */
static bool s_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const void *p = s_member(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)s_member(msg, f->quantifier_offset) > 0;
    if (s_is_oneof(f)) {
        if (*(const uint32_t *)s_member(msg, f->quantifier_offset) != f->id)
            return false;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
            return *(void *const *)p != NULL;
        return true; /* a oneof member is emitted even at its default */
    }
    if (s_has_flag(f))
        return *(const protobuf_c_boolean *)s_member(msg, f->quantifier_offset);
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return f->type != PROTOBUF_C_TYPE_MESSAGE || *(void *const *)p != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) /* proto2 string or message */
        return *(void *const *)p != NULL;
    return !s_is_default(f, p);
}

static json_t *s_message_out(const ProtobufCMessage *msg, int depth)
{
    if (depth > GX_JSON_MAX_DEPTH)
        return NULL;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!s_present(msg, f))
            continue;
        char name[GX_JSON_MAX_NAME];
        gx_json_name(f->name, name, sizeof name);
        json_t *val;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)s_member(msg, f->quantifier_offset);
            const char *arr = *(char *const *)s_member(msg, f->offset);
            size_t size = s_elem_size(f->type);
            val = json_array();
            for (size_t k = 0; val && arr && k < n; k++) {
                if (json_array_append_new(val, s_value_out(f, arr + k * size, depth)) != 0) {
                    json_decref(val);
                    val = NULL;
                }
            }
        } else {
            val = s_value_out(f, s_member(msg, f->offset), depth);
        }
        if (json_object_set_new(obj, name, val) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *gx_json_from_message(const ProtobufCMessage *msg)
{
    if (!msg || !msg->descriptor)
        return NULL;
    return s_message_out(msg, 0);
}

/* ------------------------------------------------------------------ input */

/* Records "path: message" in the caller's buffer; returns false for chaining. */
static bool s_fail(s_in *in, const char *fmt, ...)
{
    if (!in->err || in->errlen == 0)
        return false;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (in->path_len)
        snprintf(in->err, in->errlen, "%s: %s", in->path, msg);
    else
        snprintf(in->err, in->errlen, "%s", msg);
    return false;
}

/* Appends ".name" (or "name" at the top) to the path; returns the length to restore. */
static size_t s_push_name(s_in *in, const char *name)
{
    size_t saved = in->path_len;
    int n = snprintf(in->path + saved, sizeof in->path - saved, "%s%s", saved ? "." : "", name);
    if (n < 0 || (size_t)n >= sizeof in->path - saved)
        in->path_len = strlen(in->path);
    else
        in->path_len = saved + (size_t)n;
    return saved;
}

static size_t s_push_index(s_in *in, size_t index)
{
    size_t saved = in->path_len;
    int n = snprintf(in->path + saved, sizeof in->path - saved, "[%zu]", index);
    if (n < 0 || (size_t)n >= sizeof in->path - saved)
        in->path_len = strlen(in->path);
    else
        in->path_len = saved + (size_t)n;
    return saved;
}

static void s_pop(s_in *in, size_t saved)
{
    in->path_len = saved;
    in->path[saved] = '\0';
}

/* Reads a whole decimal string into a signed 64-bit value (no spaces, no '+'). */
static bool s_parse_i64(const char *s, int64_t *out)
{
    if (!*s || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool s_parse_u64(const char *s, uint64_t *out)
{
    if (!(*s >= '0' && *s <= '9'))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* A signed integer in [min, max] from a JSON integer, an integral real or a
 * decimal string. */
static bool s_signed_in(s_in *in, const json_t *j, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    if (json_is_integer(j)) {
        v = json_integer_value(j);
    } else if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            return s_fail(in, "out of range");
        v = (int64_t)d;
        if ((double)v != d)
            return s_fail(in, "expected an integer, got %g", d);
    } else if (json_is_string(j)) {
        if (!s_parse_i64(json_string_value(j), &v))
            return s_fail(in, "expected an integer, got \"%.40s\"", json_string_value(j));
    } else {
        return s_fail(in, "expected an integer");
    }
    if (v < min || v > max)
        return s_fail(in, "out of range");
    *out = v;
    return true;
}

static bool s_unsigned_in(s_in *in, const json_t *j, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (json_is_integer(j)) {
        if (json_integer_value(j) < 0)
            return s_fail(in, "out of range");
        v = (uint64_t)json_integer_value(j);
    } else if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!(d > -1 && d < 18446744073709551616.0))
            return s_fail(in, "out of range");
        v = (uint64_t)d;
        if ((double)v != d)
            return s_fail(in, "expected an integer, got %g", d);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (*s == '-')
            return s_fail(in, "out of range");
        if (!s_parse_u64(s, &v))
            return s_fail(in, "expected an integer, got \"%.40s\"", s);
    } else {
        return s_fail(in, "expected an integer");
    }
    if (v > max)
        return s_fail(in, "out of range");
    *out = v;
    return true;
}

static bool s_double_in(s_in *in, const json_t *j, double *out)
{
    if (json_is_number(j)) {
        *out = json_number_value(j);
        return true;
    }
    if (!json_is_string(j))
        return s_fail(in, "expected a number");
    const char *s = json_string_value(j);
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    /* proto3 JSON also takes a number written as a string */
    char *end;
    if (!(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')))
        return s_fail(in, "expected a number, got \"%.40s\"", s);
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(d))
        return s_fail(in, "expected a number, got \"%.40s\"", s);
    *out = d;
    return true;
}

/* A new malloc'd NUL-terminated copy of a JSON string within the caps. */
static bool s_string_in(s_in *in, const json_t *j, char **out)
{
    if (!json_is_string(j))
        return s_fail(in, "expected a string");
    size_t len = json_string_length(j);
    if (len > GX_JSON_MAX_STRING)
        return s_fail(in, "string longer than %u bytes", GX_JSON_MAX_STRING);
    const char *s = json_string_value(j);
    if (memchr(s, '\0', len))
        return s_fail(in, "string contains a NUL character");
    char *copy = malloc(len + 1);
    if (!copy)
        return s_fail(in, "out of memory");
    memcpy(copy, s, len + 1);
    *out = copy;
    return true;
}

static bool s_fill(s_in *in, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg, const json_t *obj,
                   int depth);

/* A new message of type desc linked into *slot before it is filled (so a
 * failure leaves it reachable for free_unpacked). */
static bool s_submessage_in(s_in *in, const ProtobufCMessageDescriptor *desc, const json_t *j,
                            ProtobufCMessage **slot, int depth)
{
    if (!json_is_object(j))
        return s_fail(in, "expected an object");
    if (depth + 1 > GX_JSON_MAX_DEPTH)
        return s_fail(in, "nested deeper than %d", GX_JSON_MAX_DEPTH);
    ProtobufCMessage *sub = malloc(desc->sizeof_message);
    if (!sub)
        return s_fail(in, "out of memory");
    protobuf_c_message_init(desc, sub);
    *slot = sub;
    return s_fill(in, desc, sub, j, depth + 1);
}

/* Reads one element of field f from j into p (which holds the type's default).
 * Strings and bytes are written only on success; messages are linked first. */
static bool s_value_in(s_in *in, const ProtobufCFieldDescriptor *f, const json_t *j, void *p, int depth)
{
    int64_t sv;
    uint64_t uv;
    double d;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!s_signed_in(in, j, INT32_MIN, INT32_MAX, &sv))
            return false;
        *(int32_t *)p = (int32_t)sv;
        return true;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!s_unsigned_in(in, j, UINT32_MAX, &uv))
            return false;
        *(uint32_t *)p = (uint32_t)uv;
        return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!s_signed_in(in, j, INT64_MIN, INT64_MAX, &sv))
            return false;
        *(int64_t *)p = sv;
        return true;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!s_unsigned_in(in, j, UINT64_MAX, &uv))
            return false;
        *(uint64_t *)p = uv;
        return true;
    case PROTOBUF_C_TYPE_FLOAT:
        if (!s_double_in(in, j, &d))
            return false;
        if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
            return s_fail(in, "out of range");
        *(float *)p = (float)d;
        return true;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!s_double_in(in, j, &d))
            return false;
        *(double *)p = d;
        return true;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j))
            return s_fail(in, "expected true or false");
        *(protobuf_c_boolean *)p = json_is_true(j);
        return true;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(j)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
            if (!ev)
                return s_fail(in, "unknown %s value \"%.40s\"", ed->short_name, json_string_value(j));
            *(int *)p = ev->value;
            return true;
        }
        if (!json_is_number(j))
            return s_fail(in, "expected a %s name", ed->short_name);
        if (!s_signed_in(in, j, INT32_MIN, INT32_MAX, &sv))
            return false;
        *(int *)p = (int)sv;
        return true;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char *s = NULL;
        if (!s_string_in(in, j, &s))
            return false;
        *(char **)p = s;
        return true;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(j))
            return s_fail(in, "expected a base64 string");
        size_t len = json_string_length(j);
        if (len > GX_JSON_MAX_STRING / 3 * 4 + 4)
            return s_fail(in, "bytes longer than %u", GX_JSON_MAX_STRING);
        ProtobufCBinaryData *b = p;
        uint8_t *data;
        size_t n;
        if (!s_b64_decode(json_string_value(j), len, &data, &n))
            return s_fail(in, "invalid base64");
        b->data = data;
        b->len = n;
        return true;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_submessage_in(in, f->descriptor, j, (ProtobufCMessage **)p, depth);
    }
    return s_fail(in, "unsupported field type");
}

static bool s_repeated_in(s_in *in, const ProtobufCFieldDescriptor *f, const json_t *j, ProtobufCMessage *msg,
                          int depth)
{
    if (!json_is_array(j))
        return s_fail(in, "expected an array");
    size_t n = json_array_size(j);
    if (n > GX_JSON_MAX_ARRAY)
        return s_fail(in, "array longer than %d elements", GX_JSON_MAX_ARRAY);
    if (n == 0)
        return true;
    size_t size = s_elem_size(f->type);
    char *arr = calloc(n, size);
    if (!arr)
        return s_fail(in, "out of memory");
    size_t *count = s_member(msg, f->quantifier_offset);
    *(char **)s_member(msg, f->offset) = arr;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(j, i);
        size_t saved = s_push_index(in, i);
        void *slot = arr + i * size;
        if (json_is_null(e))
            return s_fail(in, "null in an array");
        /* a message element counts before it is filled so a failure frees it */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            *count = i + 1;
        if (!s_value_in(in, f, e, slot, depth))
            return false;
        *count = i + 1;
        s_pop(in, saved);
    }
    return true;
}

/* The field of desc named key in JSON (lowerCamelCase) or proto (snake_case) form. */
static const ProtobufCFieldDescriptor *s_find_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    if (f)
        return f;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        char name[GX_JSON_MAX_NAME];
        if (gx_json_name(desc->fields[i].name, name, sizeof name) < sizeof name && strcmp(name, key) == 0)
            return &desc->fields[i];
    }
    return NULL;
}

static bool s_fill(s_in *in, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg, const json_t *obj,
                   int depth)
{
    bool ok = false;
    const char **seen = calloc(desc->n_fields ? desc->n_fields : 1, sizeof *seen); /* key that set field i */
    if (!seen)
        return s_fail(in, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        size_t saved = s_push_name(in, key);
        const ProtobufCFieldDescriptor *f = s_find_field(desc, key);
        if (!f) {
            s_fail(in, "unknown field");
            goto out;
        }
        unsigned idx = (unsigned)(f - desc->fields);
        if (seen[idx]) {
            s_fail(in, "field given twice (also as \"%s\")", seen[idx]);
            goto out;
        }
        seen[idx] = key;
        if (json_is_null(val)) { /* proto3 JSON: null is the default */
            s_pop(in, saved);
            continue;
        }
        if (s_is_oneof(f)) {
            uint32_t *which = s_member(msg, f->quantifier_offset);
            if (*which != 0) {
                const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(desc, *which);
                s_fail(in, "only one of a oneof may be set (\"%s\" is too)", other ? other->name : "?");
                goto out;
            }
        }
        void *p = s_member(msg, f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!s_repeated_in(in, f, val, msg, depth))
                goto out;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (s_is_oneof(f))
                *(uint32_t *)s_member(msg, f->quantifier_offset) = f->id;
            if (!s_value_in(in, f, val, p, depth))
                goto out;
        } else {
            if (!s_value_in(in, f, val, p, depth))
                goto out;
            if (s_is_oneof(f))
                *(uint32_t *)s_member(msg, f->quantifier_offset) = f->id;
            else if (s_has_flag(f))
                *(protobuf_c_boolean *)s_member(msg, f->quantifier_offset) = 1;
        }
        s_pop(in, saved);
    }
    ok = true;
out:
    free(seen);
    return ok;
}

ProtobufCMessage *gx_json_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json, char *err,
                                     size_t errlen)
{
    s_in in = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(json)) {
        s_fail(&in, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    if (!msg) {
        s_fail(&in, "out of memory");
        return NULL;
    }
    protobuf_c_message_init(desc, msg);
    if (!s_fill(&in, desc, msg, json, 0)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}
