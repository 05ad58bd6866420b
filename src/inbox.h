/* inbox.h — each firm's durable, ordered inbox of notices.
 *
 * A firm's notices get sequence numbers 1, 2, 3, ... with no gaps, assigned in
 * the write transaction that appends them, so a notice exists exactly when the
 * change that caused it was committed. A cursor per firm records the next
 * sequence number, the highest acknowledged one, and the retention horizon
 * (everything at or below it has been pruned). Built on the store's generic
 * tables; no LMDB types here. Single-threaded (the event loop). */
#ifndef GX_INBOX_H
#define GX_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct gx_inbox_cursor {
    uint64_t head;    /* last sequence assigned (0 = none yet) */
    uint64_t acked;   /* highest sequence the firm acknowledged */
    uint64_t pruned;  /* every seq <= pruned is gone (retention) */
} gx_inbox_cursor;

/* The firm's cursor; all zero for a firm that never had a notice. */
gx_err gx_inbox_cursor_get(gx_txn *t, const char *firm_id, gx_inbox_cursor *out);

/* The sequence number the next append for firm_id will get (head + 1). */
gx_err gx_inbox_next_seq(gx_txn *t, const char *firm_id, uint64_t *out);

/* Appends one notice record (a fact, gx_fact_encode) with sequence number
 * seq == gx_inbox_next_seq to firm_id's inbox; advances head.
 * GX_ERR_CONFLICT when seq is not the next one (a programming error upstream). */
gx_err gx_inbox_append(gx_txn *t, const char *firm_id, uint64_t seq, const void *bytes, size_t len);

/* Records that firm_id processed everything up to seq (clamped to head; an ack
 * lower than the current one is ignored). Then prunes acknowledged notices
 * beyond keep_acked (the most recent keep_acked acknowledged ones are kept for
 * re-reading; 0 prunes all acknowledged). */
gx_err gx_inbox_ack(gx_txn *t, const char *firm_id, uint64_t seq, uint64_t keep_acked);

/* Retention cap for firms that do not ack: drops firm_id's oldest notices, acked
 * or not, so that at most max_kept remain, and advances pruned past them; a later
 * read from before the new horizon gets GX_ERR_RESUME_GAP. The number dropped goes
 * to *dropped (may be NULL). max_kept 0 drops everything up to head. */
gx_err gx_inbox_trim(gx_txn *t, const char *firm_id, uint64_t max_kept, uint64_t *dropped);

/* ---- the inbox record: what a notice is about, not its rendered text
 *
 * A notice is stored as a compact fact, and the broker renders the wire Notice
 * (explanation, demand summary, hint) from it when it delivers it. Layout,
 * big-endian, version GX_FACT_V1:
 *
 *   u8 format (GX_FACT_V1), u8 type (gx_notice_type), u8 fields (GX_FACT_*),
 *   u8 code (NEAR_MISS: rule; CANDIDATE_REMOVED: reason; OFFER_EXPIRED: state;
 *   DEMAND_UPDATED: 1 when one of the firm's offers still qualifies),
 *   i64 at, then only the fields named in `fields`, in this order:
 *   DEMAND  u64 demand id, u32 its revision then
 *   OFFER   u64 offer id, u32 its revision then
 *   SUB     u64 subscription id
 *   RANK    u32 rank, f64 score (IEEE 754 bits)
 *   FIRM    18 bytes: a firm id (interested firm, counterpart, awarded to)
 *   QTY     f64 awarded quantity
 *   TEXT    u32 length, that many bytes (an interest message, a decline reason)
 *   FIRMS   u32: a checksum of the firms' records the rendering reads (names,
 *           place, grade, certificates, track record, contact), to tell when
 *           one changed since
 *
 * Records written before this format are whole encoded Envelopes; their first
 * byte is a protobuf tag (0x08), never GX_FACT_V1 (1 would be field 0, which
 * protobuf does not allow), so the two cannot be confused. */
#define GX_FACT_V1 1
#define GX_FACT_TEXT_MAX (1u << 20) /* longest text a fact carries (max_text_bytes' bound) */

enum {
    GX_FACT_DEMAND = 1,
    GX_FACT_OFFER = 2,
    GX_FACT_SUB = 4,
    GX_FACT_RANK = 8,
    GX_FACT_FIRM = 16,
    GX_FACT_QTY = 32,
    GX_FACT_TEXT = 64,
    GX_FACT_FIRMS = 128,
};

typedef struct gx_fact {
    uint8_t type;        /* gx_notice_type */
    uint8_t fields;      /* GX_FACT_* present */
    uint8_t code;        /* rule, reason or state, by type; else 0 */
    int64_t at;          /* unix seconds */
    uint64_t demand_id;  /* DEMAND */
    uint32_t demand_rev; /* DEMAND: the demand's revision when written */
    uint64_t offer_id;   /* OFFER */
    uint32_t offer_rev;  /* OFFER: the offer's revision when written */
    uint64_t sub_id;     /* SUB */
    uint32_t rank;       /* RANK: 1-based, 0 = outside the shortlist */
    double score;        /* RANK: the pair's score when written */
    char firm[18 + 1];   /* FIRM, NUL-terminated; "" when absent */
    double qty;          /* QTY */
    const char *text;    /* TEXT: borrowed (encode: from the caller; decode: from the record) */
    size_t text_len;     /* TEXT */
    uint32_t firms_sum;  /* FIRMS */
} gx_fact;

/* Size of f encoded. */
size_t gx_fact_size(const gx_fact *f);

/* Writes f into buf (gx_fact_size(f) bytes). */
void gx_fact_encode(const gx_fact *f, uint8_t *buf);

/* Whether a stored record is a fact (else it is an old encoded Envelope). */
bool gx_fact_is(const void *rec, size_t len);

/* Decodes a fact; GX_ERR_MALFORMED (nothing else) when the record is short,
 * long, of another format, of an unknown type, or names fields its type does
 * not use. f->text points into rec. */
gx_err gx_fact_decode(const void *rec, size_t len, gx_fact *f);

/* Called for each notice in seq order; return false to stop. */
typedef bool (*gx_inbox_visit_fn)(void *ctx, uint64_t seq, const void *bytes, size_t len);

/* Visits firm_id's notices with seq > after, at most max (0 = no limit).
 * GX_ERR_RESUME_GAP when after < pruned (notices in between are gone); nothing
 * is visited then. */
gx_err gx_inbox_read(gx_txn *t, const char *firm_id, uint64_t after, size_t max, gx_inbox_visit_fn fn,
                     void *ctx);

#endif
