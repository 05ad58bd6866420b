/* fuzz_envelope.c — libFuzzer target: the broker's path for one client frame.
 *
 * An input is one ZeroMQ frame as a client sends it. It goes where broker.c sends a
 * frame before any state is touched: gx_codec_decode_request under the limits of the
 * default configuration (and, when a limit refuses it, again under the largest limits
 * the configuration accepts), the error reply when that fails, and otherwise the
 * validation of validate.h against the embedded vocabulary at a fixed "now". A firm,
 * demand, offer or subscription that passes is completed as requests.c completes it
 * and must survive the store's round trip: encoded as a record, decoded, encoded again
 * to the same bytes (a record that cannot be read back stops the broker's rebuild at
 * start).
 * Everything the broker would send back — the error reply to a refused frame or a
 * refused validation, the posting or firm viewed back — must be readable by a proto3
 * client: Python, Go and Java refuse a message whose string fields are not UTF-8, and
 * what one firm posts is relayed to others in notices.
 * The same bytes are also read as each stored record (Firm, Demand, Offer,
 * Subscription): what decodes must re-encode and decode to the same thing.
 *
 * A broken invariant aborts with a message naming it, so libFuzzer keeps the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "codec.h"
#include "gongxu/v1/gongxu.pb-c.h"
#include "config.h"
#include "validate.h"
#include "vocab.h"

/* 2026-11-26T04:00:00Z: a fixed "now" keeps every run of an input the same. */
#define S_NOW INT64_C(1795665600)
/* A made-up Unified Social Credit Code with a correct check character, standing in for
 * the session's firm that requests.c copies into a posting's owner. */
#define S_OWNER "91410600MA44ANCH0R"

static gx_vocab *s_vocab;   /* the embedded default, loaded once */
static gx_limits s_limits;  /* as broker.c derives them from the default configuration */
static gx_limits s_largest; /* from the largest values the configuration accepts */
static gx_config s_cfg;     /* the default configuration */

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_envelope: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/* Whether s is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as proto3 requires of a string field. */
static bool s_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp, min;
        size_t k;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += k + 1;
    }
    return true;
}

/* The name of the first string field of m (recursively) that is not UTF-8, or NULL. */
static const char *s_bad_string(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *at = (const char *)m + f->offset;
        const char *bad = NULL;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        const void *const *v = (const void *const *)at;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            v = *(const void *const *const *)at;
        }
        for (size_t k = 0; !bad && k < n; k++) {
            if (!v[k])
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING)
                bad = s_utf8(v[k]) ? NULL : f->name;
            else
                bad = s_bad_string(v[k]);
        }
        if (bad)
            return bad;
    }
    return NULL;
}

/* buf is an Envelope the broker would send: it must unpack and hold only UTF-8. */
static void s_sendable(const gx_buf *buf, const char *what)
{
    Gongxu__V1__Envelope *e = gongxu__v1__envelope__unpack(NULL, buf->len, buf->data);
    if (!e) /* (under the sanitizers malloc does not return NULL: this is not memory) */
        s_die("what the broker sends unpacks as an Envelope", what);
    const char *bad = s_bad_string(&e->base);
    if (bad) {
        fprintf(stderr, "fuzz_envelope: field %s of %s is not UTF-8\n", bad, what);
        s_die("what the broker sends is readable by a proto3 client", what);
    }
    gongxu__v1__envelope__free_unpacked(e, NULL);
}

/* The error reply requests.c sends for err with msg and field. */
static void s_error_reply(uint64_t request_id, gx_err err, const char *msg, const char *field,
                          const char *const *suggest, size_t n_suggest, const char *what)
{
    gx_buf out = {0};
    gx_err e2 = gx_codec_encode_error_suggest(request_id, err, msg, field, suggest, n_suggest, &out);
    if (e2 && e2 != GX_ERR_NOMEM)
        s_die("encoding an error reply", gx_err_str(e2));
    if (!e2)
        s_sendable(&out, what);
    gx_buf_fini(&out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    gx_config_defaults(&s_cfg);
    s_limits.max_string = (size_t)s_cfg.max_string_bytes;
    s_limits.max_text = (size_t)s_cfg.max_text_bytes;
    s_limits.max_repeated = (size_t)s_cfg.max_repeated;
    gx_config big = s_cfg;
    if (gx_config_set(&big, "max_string_bytes", "65536", err, sizeof err) ||
        gx_config_set(&big, "max_text_bytes", "1048576", err, sizeof err) ||
        gx_config_set(&big, "max_repeated", "10000", err, sizeof err))
        s_die("the largest limits are accepted (update them to config.c's bounds)", err);
    s_largest.max_string = (size_t)big.max_string_bytes;
    s_largest.max_text = (size_t)big.max_text_bytes;
    s_largest.max_repeated = (size_t)big.max_repeated;
    if (gx_vocab_load(NULL, &s_vocab, err, sizeof err) != GX_OK)
        s_die("the embedded vocabulary loads", err);
    return 0;
}

/* Encode, decode, encode again: the record must decode and the two encodings agree.
 * GX_ERR_NOMEM is not a finding (and does not happen: ASan aborts instead). */
#define S_ROUND_TRIP(fn, T, encode, decode, fini)                                                            \
    static void fn(const T *x, const char *what)                                                             \
    {                                                                                                        \
        gx_buf a = {0}, b = {0};                                                                             \
        T y;                                                                                                 \
        memset(&y, 0, sizeof y);                                                                             \
        gx_err err = encode(x, &a);                                                                          \
        if (err == GX_ERR_NOMEM)                                                                             \
            goto out;                                                                                        \
        if (err)                                                                                             \
            s_die(what, "encoding failed");                                                                  \
        err = decode(a.data, a.len, &y);                                                                     \
        if (err == GX_ERR_NOMEM)                                                                             \
            goto out;                                                                                        \
        if (err)                                                                                             \
            s_die(what, "the encoded record does not decode");                                               \
        err = encode(&y, &b);                                                                                \
        if (err == GX_ERR_NOMEM)                                                                             \
            goto out;                                                                                        \
        if (err || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))                          \
            s_die(what, "decoding and encoding again changes the record");                                   \
    out:                                                                                                     \
        fini(&y);                                                                                            \
        gx_buf_fini(&a);                                                                                     \
        gx_buf_fini(&b);                                                                                     \
    }

S_ROUND_TRIP(s_trip_firm, gx_firm, gx_codec_encode_firm, gx_codec_decode_firm, gx_firm_fini)
S_ROUND_TRIP(s_trip_demand, gx_demand, gx_codec_encode_demand, gx_codec_decode_demand, gx_demand_fini)
S_ROUND_TRIP(s_trip_offer, gx_offer, gx_codec_encode_offer, gx_codec_decode_offer, gx_offer_fini)
S_ROUND_TRIP(s_trip_sub, gx_sub, gx_codec_encode_sub, gx_codec_decode_sub, gx_sub_fini)

/* The reply a client would get for a decoded request that passed validation: the
 * posting or firm viewed back (GetPosting, GetFirm). */
static void s_view(gx_reply_type type, const gx_demand *d, const gx_offer *o, const gx_sub *s,
                   const gx_firm *f, uint64_t request_id)
{
    gx_buf out = {0};
    gx_reply r = {.type = type,
                  .request_id = request_id,
                  .demand = d,
                  .offer = o,
                  .sub = s,
                  .firm = f,
                  .with_details = true};
    gx_err err = gx_codec_encode_reply(&r, &out);
    if (err && err != GX_ERR_NOMEM)
        s_die("encoding a reply", gx_err_str(err));
    if (!err)
        s_sendable(&out, "a validated firm or posting viewed back");
    gx_buf_fini(&out);
}

/* What requests.c does with a decoded request before it reaches the store. */
static void s_request(gx_request *r)
{
    gx_verr ve;
    gx_err err;
    int64_t validity = s_cfg.default_validity_days * 86400;
    switch (r->type) {
    case GX_REQ_REGISTER_FIRM:
        if ((err = gx_validate_firm(s_vocab, &r->firm, r->flag, &ve)))
            break;
        r->firm.awards = 0;
        s_trip_firm(&r->firm, "a registered firm as stored");
        s_view(GX_REPLY_FIRM, NULL, NULL, NULL, &r->firm, r->request_id);
        return;
    case GX_REQ_POST_DEMAND:
    case GX_REQ_UPDATE_DEMAND:
        if ((err = gx_validate_demand(s_vocab, &r->demand, S_NOW, (int)s_cfg.utc_offset_minutes, &ve)))
            break;
        memcpy(r->demand.owner, S_OWNER, sizeof r->demand.owner);
        r->demand.state = GX_STATE_OPEN;
        r->demand.revision = r->type == GX_REQ_POST_DEMAND ? 1 : r->demand.revision + 1;
        r->demand.created_at = S_NOW;
        r->demand.original_quantity = r->demand.quantity;
        if (!r->demand.id)
            r->demand.id = 1;
        s_trip_demand(&r->demand, "a posted demand as stored");
        s_view(GX_REPLY_DEMAND, &r->demand, NULL, NULL, NULL, r->request_id);
        return;
    case GX_REQ_POST_OFFER:
    case GX_REQ_UPDATE_OFFER:
        if ((err = gx_validate_offer(s_vocab, &r->offer, S_NOW, validity, &ve)))
            break;
        memcpy(r->offer.owner, S_OWNER, sizeof r->offer.owner);
        r->offer.state = GX_STATE_OPEN;
        r->offer.revision = r->type == GX_REQ_POST_OFFER ? 1 : r->offer.revision + 1;
        r->offer.created_at = S_NOW;
        if (!r->offer.id)
            r->offer.id = 2;
        s_trip_offer(&r->offer, "a posted offer as stored");
        s_view(GX_REPLY_OFFER, NULL, &r->offer, NULL, NULL, r->request_id);
        return;
    case GX_REQ_SUBSCRIBE:
        if ((err = gx_validate_sub(s_vocab, &r->sub, &ve)))
            break;
        memcpy(r->sub.owner, S_OWNER, sizeof r->sub.owner);
        r->sub.id = 3;
        s_trip_sub(&r->sub, "a subscription as stored");
        s_view(GX_REPLY_SUB, NULL, NULL, &r->sub, NULL, r->request_id);
        return;
    case GX_REQ_FIND_CODES: { /* requests.c's s_find_codes, and the suggestions for the same text */
        static gx_vocab_entry found[GX_FIND_CODES_MAX];
        const char *text = r->text ? r->text : "";
        size_t total = gx_vocab_find(s_vocab, r->code_class, text, found, r->limit);
        if (total > gx_vocab_find(s_vocab, GX_V__COUNT, text, found, 0))
            s_die("a class holds no more entries than every class", text);
        gx_reply rep = {.type = GX_REPLY_CODES,
                        .request_id = r->request_id,
                        .entries = found,
                        .n_entries = total < r->limit ? total : r->limit,
                        .total = (uint32_t)total};
        gx_buf out = {0};
        gx_err e2 = gx_codec_encode_reply(&rep, &out);
        if (e2 && e2 != GX_ERR_NOMEM)
            s_die("encoding a code list", gx_err_str(e2));
        if (!e2)
            s_sendable(&out, "the codes found");
        gx_buf_fini(&out);
        const char *near[GX_VERR_SUGGEST];
        for (int c = 0; c < GX_V__COUNT; c++) {
            size_t n = gx_vocab_suggest(s_vocab, (gx_vclass)c, text, near, GX_VERR_SUGGEST);
            if (n > GX_VERR_SUGGEST)
                s_die("suggestions stay within what was asked", text);
            s_error_reply(r->request_id, GX_ERR_UNKNOWN_CODE, "unknown", "find_codes.text", near, n,
                          "suggestions for an unknown code");
        }
        return;
    }
    default:
        return; /* the rest carry ids, a firm id and free text: nothing to validate here */
    }
    if (strnlen(ve.msg, sizeof ve.msg) == sizeof ve.msg ||
        strnlen(ve.field, sizeof ve.field) == sizeof ve.field)
        s_die("a validation error's message and field are NUL-terminated", NULL);
    s_error_reply(r->request_id, err, ve.msg, ve.field, ve.suggest,
                  err == GX_ERR_UNKNOWN_CODE ? ve.n_suggest : 0, "the error reply to a refused validation");
}

/* The same bytes read as a stored record; whatever decodes must round-trip. */
#define S_RECORD(T, decode, trip, fini, what)                                                                \
    do {                                                                                                     \
        T x;                                                                                                 \
        if (decode(data, size, &x) == GX_OK)                                                                 \
            trip(&x, what);                                                                                  \
        fini(&x);                                                                                            \
    } while (0)

/* One frame under limits lim; returns the decode result. */
static gx_err s_frame(const uint8_t *data, size_t size, const gx_limits *lim)
{
    gx_request r;
    char msg[384], field[96]; /* the sizes broker.c uses */
    gx_err err = gx_codec_decode_request(data, size, lim, &r, msg, sizeof msg, field, sizeof field);
    if (err) {
        if (strnlen(msg, sizeof msg) == sizeof msg || strnlen(field, sizeof field) == sizeof field)
            s_die("the decode error message and field are NUL-terminated", NULL);
        s_error_reply(r.request_id, err, msg, field, NULL, 0, "the error reply to a refused frame");
    } else {
        s_request(&r);
    }
    gx_request_fini(&r);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A frame over the default limits goes again as to a broker whose operator raised
     * them as far as the configuration allows. */
    if (s_frame(data, size, &s_limits) == GX_ERR_TOO_LARGE)
        s_frame(data, size, &s_largest);

    S_RECORD(gx_firm, gx_codec_decode_firm, s_trip_firm, gx_firm_fini, "a stored firm");
    S_RECORD(gx_demand, gx_codec_decode_demand, s_trip_demand, gx_demand_fini, "a stored demand");
    S_RECORD(gx_offer, gx_codec_decode_offer, s_trip_offer, gx_offer_fini, "a stored offer");
    S_RECORD(gx_sub, gx_codec_decode_sub, s_trip_sub, gx_sub_fini, "a stored subscription");
    return 0;
}
