/* fuzz_json.c — libFuzzer target: the CLI's JSON input (gongxu --file, --json requests).
 *
 * Input layout: one selector byte, then the JSON text. The selector's two low bits
 * pick the message type the JSON is read as, and are chosen so that the seeds start
 * with a readable letter: 'd' Demand, 'e' Envelope, 'f' Firm, 'o' Offer. Bit 0x10 makes
 * jansson accept "\u0000" in strings (JSON_ALLOW_NUL), which the CLI does not ask for
 * but a program using the client library may build, so gx_json_to_message must refuse
 * it cleanly. The text is parsed like the CLI parses a file (jansson; it has no flag to
 * limit nesting, its compiled-in cap JSON_PARSER_MAX_DEPTH is 2048), then converted
 * by gx_json_to_message. A message that converts must convert back
 * (gx_json_from_message), and that JSON must convert again to a message that packs to
 * the same bytes: what the CLI prints with --json, it must read back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gongxu/json.h>

#include "gongxu/v1/gongxu.pb-c.h"

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_json: invariant broken: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* The packed bytes of m in a new buffer (*len bytes), or NULL when out of memory. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf && protobuf_c_message_pack(m, buf) != *len)
        s_die("protobuf_c_message_pack writes get_packed_size bytes", NULL);
    return buf;
}

/* to_message -> from_message -> to_message: both messages pack to the same bytes. */
static void s_round_trip(const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *m1)
{
    char err[512];
    uint8_t *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    ProtobufCMessage *m2 = NULL;
    json_t *j = gx_json_from_message(m1);
    if (!j)
        return; /* allocation failure */
    m2 = gx_json_to_message(desc, j, err, sizeof err);
    if (!m2) {
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(stderr, "fuzz_json: %s printed as %s\n", desc->short_name, text ? text : "?");
        free(text);
        s_die("JSON printed by gx_json_from_message is read back by gx_json_to_message", err);
    }
    p1 = s_pack(m1, &n1);
    p2 = s_pack(m2, &n2);
    if (p1 && p2 && (n1 != n2 || memcmp(p1, p2, n1) != 0))
        s_die("a message read back from its own JSON packs to the same bytes", desc->short_name);
    free(p1);
    free(p2);
    protobuf_c_message_free_unpacked(m2, NULL);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const descs[4] = {
        &gongxu__v1__demand__descriptor,   /* 'd' = 0x64 */
        &gongxu__v1__envelope__descriptor, /* 'e' = 0x65 */
        &gongxu__v1__firm__descriptor,     /* 'f' = 0x66 */
        &gongxu__v1__offer__descriptor,    /* 'o' = 0x6f */
    };
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *desc = descs[data[0] & 3];
    size_t flags = (data[0] & 0x10) ? JSON_ALLOW_NUL : 0;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data + 1, size - 1, flags, &jerr);
    if (!j)
        return 0;
    char err[512];
    ProtobufCMessage *m = gx_json_to_message(desc, j, err, sizeof err);
    if (m) {
        s_round_trip(desc, m);
        protobuf_c_message_free_unpacked(m, NULL);
    } else if (strnlen(err, sizeof err) == sizeof err || !err[0]) {
        s_die("a refused conversion says why, NUL-terminated", NULL);
    }
    json_decref(j);
    return 0;
}
