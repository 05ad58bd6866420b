/* fedapply.h — what other cities' brokers publish, applied here (federation).
 *
 * Below the broker, beside requests.c: works on the context (records.h) inside
 * the batch's write transaction. One message from the JetStream stream becomes
 * one child transaction that stores the remote owner (a firm record marked with
 * its home city: public profile only, no keys, no inbox), the remote posting
 * under the id city << 48 | origin id, tells the engine (which matches it by
 * the same rules as a local one) and notifies this broker's own firms; and, in
 * the same transaction, the stream sequence applied. Sequences are applied
 * one after the other with no gap (this city's own messages and bad ones only
 * advance it): a sequence beyond the stored one + 1 waits. A sequence at or
 * below the stored one, or a revision at or below the stored posting's, changes nothing:
 * applying is idempotent, so a message delivered twice is applied once.
 * Malformed or out-of-range messages (a wrong city, an id beyond 2^48, a
 * firm of this broker or of a third city claimed by another city) are logged, counted and
 * skipped, their sequence recorded all the same. Loop thread. */
#ifndef GX_FEDAPPLY_H
#define GX_FEDAPPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

typedef enum gx_fedapply_rc {
    GX_FEDAPPLY_APPLIED = 0, /* its effects are in the batch */
    GX_FEDAPPLY_DUPLICATE,   /* already applied (sequence or revision): nothing changed */
    GX_FEDAPPLY_OWN,         /* this city's own message: nothing to do */
    GX_FEDAPPLY_BAD,         /* malformed or out of range: logged, skipped */
    GX_FEDAPPLY_FAILED,      /* the store failed: not applied, not recorded (do not ack) */
    GX_FEDAPPLY_EARLY,       /* beyond the applied sequence + 1: not applied (do not ack, it comes again) */
} gx_fedapply_rc;

/* The checks made of a decoded message (gx_codec_decode_fed) before it is
 * applied, what no decoder can check: a 4-digit origin city publishing on its
 * own subject gx.<city>.post, a known kind, an owner profile in that city, a
 * posting id in 1 .. 2^48-1 with a revision and a state, the posting present
 * and owned by that profile. False with the reason in why (len bytes, may be
 * NULL). Pure: no store, no broker (the fuzz target calls it). */
bool gx_fedapply_check(const gx_fed_msg *m, const char *subject, char *why, size_t len);

/* Applies message data (len bytes) read from stream at stream sequence seq,
 * published on subject, in the current batch (gx_broker_batch_begin). */
gx_fedapply_rc gx_fedapply_one(gx_ctx *b, const char *stream, uint64_t seq, const char *subject,
                               const void *data, size_t len);

#endif
