/* validate.h — domain checks of a decoded firm or posting, against the vocabulary.
 *
 * The codec guarantees syntax and sizes; this module guarantees meaning: codes
 * exist (aliases and names are replaced by canonical ids, in place), numbers are
 * in range, dates make sense, required fields are there. Each function returns
 * GX_OK or the error for the reply, with a message naming the field and the
 * value ("demand.processes[1]: unknown process 'casting.die.titanium'").
 * Pure: no I/O; any thread. */
#ifndef GX_VALIDATE_H
#define GX_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "vocab.h"

/* Where a validation error is written. */
#define GX_VERR_SUGGEST 5 /* closest ids offered for an unknown code */

typedef struct gx_verr {
    char msg[320];                        /* human message */
    char field[96];                       /* offending field */
    const char *suggest[GX_VERR_SUGGEST]; /* GX_ERR_UNKNOWN_CODE: the closest ids, best first,
                                             borrowed from the vocabulary */
    size_t n_suggest;                     /* entries in suggest (0 for other errors) */
} gx_verr;

/* A firm being registered. override_check accepts a USCC whose check character
 * fails (legacy codes) but never one with bad syntax. */
gx_err gx_validate_firm(const gx_vocab *v, gx_firm *f, bool override_check, gx_verr *e);

/* A demand being posted or updated at time now; fills expires_at when 0 with
 * the end of the needed-by day (in utc_offset_min: the last day a supplier
 * with no lead time can still deliver), the unit when empty ("pcs"), and
 * min_credit C when unspecified. */
gx_err gx_validate_demand(const gx_vocab *v, gx_demand *d, int64_t now, int utc_offset_min, gx_verr *e);

/* An offer being posted or updated at time now; fills expires_at when 0 with
 * now + default_validity_s. */
gx_err gx_validate_offer(const gx_vocab *v, gx_offer *o, int64_t now, int64_t default_validity_s, gx_verr *e);

/* A subscription: prefixes must be known codes (any level) and districts known
 * counties or zones. */
gx_err gx_validate_sub(const gx_vocab *v, gx_sub *s, gx_verr *e);

#endif
