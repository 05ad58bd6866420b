/* counters.h — the broker's figures for logs and tests: kept by the records
 * layer (records.h, in its context) and read through broker.h's
 * gx_broker_counters_get. A header of its own so that both name one struct. */
#ifndef GX_COUNTERS_H
#define GX_COUNTERS_H

#include <stdint.h>

typedef struct gx_counters {
    uint64_t requests;        /* requests handled */
    uint64_t errors;          /* requests answered with an error */
    uint64_t notices;         /* notices written to inboxes */
    uint64_t batches;         /* write transactions committed */
    uint64_t commit_failures; /* batches whose commit failed */
    uint64_t engine_undos;    /* refused requests or failed commits taken back out of the engine */
    uint64_t engine_rebuilds; /* times the engine matched every pair again after start */
    uint64_t rate_limited;    /* requests refused by the per-firm rate limit */
} gx_counters;

#endif
