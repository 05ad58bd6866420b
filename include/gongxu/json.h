/* gongxu/json.h — the proto3 JSON mapping for any protobuf-c message, with jansson.
 *
 * Field names are lowerCamelCase (the proto name is also accepted on input);
 * enums are their names (numbers accepted on input); 64-bit integers are JSON
 * strings (numbers accepted on input); bytes are base64; fields at their default
 * value are omitted on output; messages nest; repeated fields are arrays; a
 * oneof is the one field set. Unknown fields on input are an error.
 * On input a null value means the default, a field may not be given twice (in
 * either spelling) and at most one member of a oneof may be set; nesting is
 * capped at 32, arrays at 10000 elements, strings at 1 MiB. */
#ifndef GONGXU_JSON_H
#define GONGXU_JSON_H

#include <stddef.h>
#include <stdint.h> /* SIZE_MAX, which gx_json_utf8_bad returns for valid text */

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A new JSON object for msg (caller json_decref's it), or NULL on allocation failure. */
json_t *gx_json_from_message(const ProtobufCMessage *msg);

/* A new message of type desc filled from the JSON object json; the caller frees
 * it with protobuf_c_message_free_unpacked(msg, NULL). NULL on error, with a
 * message naming the field ("demand.quantity: expected a number") in err. */
ProtobufCMessage *gx_json_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json, char *err,
                                     size_t errlen);

/* Writes the JSON name (lowerCamelCase, "max_distance_km" -> "maxDistanceKm") of a
 * proto field name into out, NUL-terminated when outlen > 0, and returns its full
 * length like snprintf (truncated when that is >= outlen). */
size_t gx_json_name(const char *proto_name, char *out, size_t outlen);

/* The offset of the first byte of the NUL-terminated s that is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included, as the
 * broker and jansson refuse them), or SIZE_MAX when s is valid. */
size_t gx_json_utf8_bad(const char *s);

#ifdef __cplusplus
}
#endif
#endif
