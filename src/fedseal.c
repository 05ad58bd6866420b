/* fedseal.c — sealed boxes between cities' brokers (fedseal.h). */
#include "fedseal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(GX_FEDSEAL_KEY == crypto_box_PUBLICKEYBYTES, "X25519 public key");
_Static_assert(GX_FEDSEAL_KEY == crypto_box_SECRETKEYBYTES, "X25519 secret key");
_Static_assert(GX_FEDSEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");

gx_err gx_fedseal_init(void)
{
    return sodium_init() < 0 ? GX_ERR_INTERNAL : GX_OK; /* 1: already initialised */
}

gx_err gx_fedseal_keypair(uint8_t pk[GX_FEDSEAL_KEY], uint8_t sk[GX_FEDSEAL_KEY])
{
    if (gx_fedseal_init())
        return GX_ERR_INTERNAL;
    return crypto_box_keypair(pk, sk) == 0 ? GX_OK : GX_ERR_INTERNAL;
}

gx_err gx_fedseal_seal(const uint8_t pk[GX_FEDSEAL_KEY], const void *msg, size_t len, gx_buf *out)
{
    memset(out, 0, sizeof *out);
    if (gx_fedseal_init())
        return GX_ERR_INTERNAL;
    if (len > SIZE_MAX - GX_FEDSEAL_OVERHEAD)
        return GX_ERR_TOO_LARGE;
    if (!(out->data = malloc(len + GX_FEDSEAL_OVERHEAD)))
        return GX_ERR_NOMEM;
    if (crypto_box_seal(out->data, msg, len, pk) != 0) {
        gx_buf_fini(out);
        return GX_ERR_INTERNAL;
    }
    out->len = len + GX_FEDSEAL_OVERHEAD;
    return GX_OK;
}

gx_err gx_fedseal_open(const uint8_t pk[GX_FEDSEAL_KEY], const uint8_t sk[GX_FEDSEAL_KEY], const void *box,
                       size_t len, gx_buf *out)
{
    memset(out, 0, sizeof *out);
    if (gx_fedseal_init())
        return GX_ERR_INTERNAL;
    if (len < GX_FEDSEAL_OVERHEAD)
        return GX_ERR_MALFORMED;
    if (!(out->data = malloc(len - GX_FEDSEAL_OVERHEAD + 1)))
        return GX_ERR_NOMEM;
    if (crypto_box_seal_open(out->data, box, len, pk, sk) != 0) {
        gx_buf_fini(out);
        return GX_ERR_MALFORMED;
    }
    out->len = len - GX_FEDSEAL_OVERHEAD;
    return GX_OK;
}
