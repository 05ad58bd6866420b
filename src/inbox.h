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

/* Appends one notice (its complete encoded bytes, which must already carry
 * sequence number seq == gx_inbox_next_seq) to firm_id's inbox; advances head.
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

/* Called for each notice in seq order; return false to stop. */
typedef bool (*gx_inbox_visit_fn)(void *ctx, uint64_t seq, const void *bytes, size_t len);

/* Visits firm_id's notices with seq > after, at most max (0 = no limit).
 * GX_ERR_RESUME_GAP when after < pruned (notices in between are gone); nothing
 * is visited then. */
gx_err gx_inbox_read(gx_txn *t, const char *firm_id, uint64_t after, size_t max, gx_inbox_visit_fn fn,
                     void *ctx);

#endif
