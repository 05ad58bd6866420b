/* auth.h — who a CURVE key is: the key registry behind the ZAP handler.
 *
 * Maps each registered public key (Z85) to its firm, and knows the operator
 * keys (a file of public keys, re-read on SIGHUP). A connection is admitted
 * only when its key is known and not revoked; every request is then checked
 * against the registry again, so revoking a key stops its open connections
 * from their next message on. Also creates the broker's own key pair and the
 * first operator key in the data directory on first start.
 * Single-threaded (the event loop). No sockets. */
#ifndef GX_AUTH_H
#define GX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"

#define GX_KEY_LEN 40 /* Z85 of a 32-byte Curve25519 key */

typedef struct gx_auth gx_auth;

/* What a key stands for. */
typedef struct gx_principal {
    char firm[GX_FIRM_ID_LEN + 1]; /* the key's firm; "" for an operator key */
    bool is_operator;              /* an operator key */
} gx_principal;

gx_err gx_auth_new(gx_auth **out);
void gx_auth_destroy(gx_auth **a);

/* Records (or updates) a firm key. revoked keys stay known, so that a revoked
 * key is told apart from an unknown one. */
gx_err gx_auth_put(gx_auth *a, const char *key, const char *firm, bool revoked);

/* The firm of key, or NULL when the key is not a registered firm key. */
const char *gx_auth_key_firm(const gx_auth *a, const char *key, bool *revoked);

/* Replaces the operator keys by those in path (one Z85 key per line, or
 * `public-key = ...`; '#' comments). GX_ERR_IO / GX_ERR_CONFIG with err. */
gx_err gx_auth_load_operators(gx_auth *a, const char *path, char *err, size_t errlen);

/* Resolves key: GX_OK with *p for an operator key or an active firm key;
 * GX_ERR_UNAUTHENTICATED for an unknown key, GX_ERR_FORBIDDEN for a revoked one. */
gx_err gx_auth_lookup(const gx_auth *a, const char *key, gx_principal *p);

/* Number of firm keys and operator keys. */
size_t gx_auth_count(const gx_auth *a, bool operators);

/* The broker's key pair: read from path (a key file with both keys) or, when it
 * does not exist, generated and written there (mode 0600), with the public key
 * alone in path with ".key" replaced by ".pub" for clients. *created tells. */
gx_err gx_auth_server_key(const char *path, char pub[GX_KEY_LEN + 1], char sec[GX_KEY_LEN + 1], bool *created,
                          char *err, size_t errlen);

/* When the operator keys file at path does not exist: generates an operator
 * key pair into key_path (mode 0600) and writes its public key to path, so a
 * fresh broker has exactly one operator, whose secret key stays in the data
 * directory. *created tells whether it did. */
gx_err gx_auth_bootstrap_operator(const char *path, const char *key_path, bool *created, char *err, size_t errlen);

#endif
