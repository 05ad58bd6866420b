/* gongxu/keyfile.h — CURVE key files, shared by the broker, the client library and the CLI.
 *
 * A key file is text: `public-key = <Z85>` and, in a secret file, `secret-key = <Z85>`
 * (40 Z85 characters each, the 32-byte Curve25519 keys of ZeroMQ's CURVE). A line
 * whose first non-blank character is `#` is a comment; so is anything after the
 * key (Z85 itself contains '#' and '=', so they only count where a key cannot
 * be). Secret files are written with mode 0600 and never overwritten. */
#ifndef GONGXU_KEYFILE_H
#define GONGXU_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GX_KEY_Z85_LEN 40

/* Splits one line in place: 0 for a blank or comment line; 1 with *name
 * ("public-key", "secret-key", or "" for a bare key) and *value (the first
 * token after the name and '=', or the line's first token). */
int gx_keyfile_line(char *line, char **name, char **value);

/* True when key is exactly 40 Z85 characters decoding to 32 bytes. */
bool gx_keyfile_valid(const char *key);

/* A new key pair (zmq_curve_keypair). 0, or -1 when CURVE is not available. */
int gx_keyfile_generate(char pub[GX_KEY_Z85_LEN + 1], char sec[GX_KEY_Z85_LEN + 1]);

/* Writes path with the public key and, when sec is not NULL, the secret key
 * (then mode 0600). Refuses to replace an existing file. 0, or -1 with err. */
int gx_keyfile_write(const char *path, const char *pub, const char *sec, const char *comment, char *err,
                     size_t errlen);

/* Reads a key file. pub always; sec (may be NULL) gets the secret key or "" when
 * the file has none. A file holding a bare Z85 key on one line is read as a
 * public key. 0, or -1 with err. */
int gx_keyfile_read(const char *path, char pub[GX_KEY_Z85_LEN + 1], char sec[GX_KEY_Z85_LEN + 1], char *err,
                    size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
