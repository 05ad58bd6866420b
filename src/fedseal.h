/* fedseal.h — the sealed boxes of docking messages between cities (libsodium).
 *
 * Every broker of a federation has a key pair (X25519, made by
 * gx_fedseal_keypair at its first federated start and kept in its store) and
 * announces the public key on its own subject. What a docking message carries
 * beyond a posting's public fields (the SME's message, contacts, confidential
 * details) is sealed (crypto_box_seal) to the destination city's public key:
 * the other cities and the nats-servers' disks see only ciphertext, and only
 * the holder of the secret key opens it. The only file that includes sodium.h.
 * Pure functions, any thread. */
#ifndef GX_FEDSEAL_H
#define GX_FEDSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"

#define GX_FEDSEAL_KEY 32      /* public and secret key bytes */
#define GX_FEDSEAL_OVERHEAD 48 /* what sealing adds to the plaintext */

/* Initialises libsodium (idempotent). GX_ERR_INTERNAL when it cannot. */
gx_err gx_fedseal_init(void);
/* A fresh key pair. */
gx_err gx_fedseal_keypair(uint8_t pk[GX_FEDSEAL_KEY], uint8_t sk[GX_FEDSEAL_KEY]);
/* Seals len bytes to public key pk into out (allocated; the caller frees it with gx_buf_fini). */
gx_err gx_fedseal_seal(const uint8_t pk[GX_FEDSEAL_KEY], const void *msg, size_t len, gx_buf *out);
/* Opens a sealed box with the key pair into out (allocated). GX_ERR_MALFORMED
 * when it is too short, not sealed to this key or tampered with. */
gx_err gx_fedseal_open(const uint8_t pk[GX_FEDSEAL_KEY], const uint8_t sk[GX_FEDSEAL_KEY], const void *box,
                       size_t len, gx_buf *out);

#endif
