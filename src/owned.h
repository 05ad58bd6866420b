/* owned.h — the owner index's key (table GX_T_OWNED), shared by the records
 * that keep it (records.c), the request that pages through it (requests.c) and
 * gongxud --verify (verify.c), which reads a store without a broker.
 *
 * Kept by the put functions in the same transaction as the record: key = owner
 * firm id (18 bytes, NUL-padded) + kind (GX_OWNED_*) + closed (0 open, 1
 * awarded/withdrawn/expired) + posting id (u64 BE), value = the state byte. A
 * firm's open postings of a kind are one key range, so listing them reads only
 * them, never its closed ones or others'. */
#ifndef GX_OWNED_H
#define GX_OWNED_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

#define GX_OWNED_KEY_LEN (GX_FIRM_ID_LEN + 2 + 8)
enum { GX_OWNED_DEMAND = 1, GX_OWNED_OFFER = 2, GX_OWNED_SUB = 3 };

/* Builds the key of posting id (of kind, open or closed) under firm. */
void gx_owned_key(uint8_t k[GX_OWNED_KEY_LEN], const char *firm, uint8_t kind, bool closed, uint64_t id);

#endif
