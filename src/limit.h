/* limit.h — token buckets keyed by name: per-firm request rates, handshake rate.
 *
 * Each key has a bucket of `burst` tokens refilled at `rate` per second; a
 * request takes one token or is refused. The table is capped: when full, the
 * bucket idle longest is recycled (a recycled firm starts with a full bucket,
 * which only errs towards serving). Pure: time comes in as an argument.
 * Single-threaded. */
#ifndef GX_LIMIT_H
#define GX_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct gx_limiter gx_limiter;

/* A table of at most max_keys buckets (keys up to 63 bytes). */
gx_err gx_limiter_new(size_t max_keys, gx_limiter **out);
void gx_limiter_destroy(gx_limiter **l);

/* Sets rate (tokens per second) and burst (bucket size) for every key. */
void gx_limiter_configure(gx_limiter *l, double rate, double burst);

/* Takes one token from key's bucket at now_ms: true when there was one. key
 * must not be empty. */
bool gx_limiter_take(gx_limiter *l, const char *key, int64_t now_ms);

/* Takes n more tokens from key's bucket, for a request found to cost more than
 * the one token it took (work that grows with what it returned). The bucket may
 * go into debt, down to -burst: the key's next requests wait for the refill. */
void gx_limiter_charge(gx_limiter *l, const char *key, int64_t now_ms, double n);

/* Refusals since creation. */
uint64_t gx_limiter_refused(const gx_limiter *l);

/* ---- quotas: a count per key (open postings per firm) */

typedef struct gx_quota gx_quota;

gx_err gx_quota_new(gx_quota **out);
void gx_quota_destroy(gx_quota **q);
/* Adds delta (may be negative; counts stop at 0) to key's count. */
gx_err gx_quota_add(gx_quota *q, const char *key, int64_t delta);
/* key's count (0 when never seen). */
uint64_t gx_quota_get(const gx_quota *q, const char *key);

#endif
