/* notify.h — engine effects and state changes turned into notices (notify.c),
 * below the broker: works on the context (records.h), all inside the current
 * request's child transaction. A firm whose inbox grew is left in b->touched
 * for broker.c to wake its sessions after the commit. */
#ifndef GX_NOTIFY_H
#define GX_NOTIFY_H

#include "records.h"

/* "told" flags: what a firm has been told about a demand (GX_T_TOLD). */
enum {
    GX_TOLD_MATCH = 1,    /* an Opportunity for one of its offers */
    GX_TOLD_NEAR = 2,     /* a NearMiss (rule in the second byte) */
    GX_TOLD_SUB = 4,      /* an Opportunity from a subscription */
    GX_TOLD_INTEREST = 8, /* it expressed interest */
};

/* Writes one notice to firm's inbox with the next sequence number. */
gx_err gx_notify_send(gx_ctx *b, const char *firm, gx_notice *n);
/* Turns engine effects into notices, told records and monitor events. */
gx_err gx_notify_effects(gx_ctx *b, const gx_fxv *fx);
/* Tells every firm that was told about demand d (and not its owner) that it
 * changed: type is one of GX_N_DEMAND_*. awarded_to / qty for awards. */
gx_err gx_notify_demand_changed(gx_ctx *b, const gx_demand *d, int type, const char *awarded_to, double qty);
/* Renders inbox record rec (a fact, gx_fact_decode) with sequence number seq as
 * the complete notice Envelope into *out (the caller frees it): postings and
 * firms from the engine while open, else from the store read in t; the
 * explanation by gx_rules_evaluate under ro at the notice's `at`, its details
 * and near-miss hint in the language recipient `firm` has now (zh-CN when it
 * has no record; rules, values and codes the same in every language). When a
 * posting or firm changed since, the notice shows it as it is now and says so
 * in changed_since. GX_ERR_MALFORMED when rec is not a fact. Loop thread. */
gx_err gx_notify_render(gx_ctx *b, gx_txn *t, const gx_rules_opts *ro, const char *firm, uint64_t seq,
                        const void *rec, size_t len, gx_buf *out);
/* Reads / ORs the told flags of (demand, firm). */
gx_err gx_notify_told_get(gx_ctx *b, uint64_t demand_id, const char *firm, uint8_t *flags, uint8_t *rule);
gx_err gx_notify_told_set(gx_ctx *b, uint64_t demand_id, const char *firm, uint8_t flags, uint8_t rule);

/* A demand's first match, kept for time-to-first-match and "found a local
 * supplier" statistics (GX_T_FIRST; 22 bytes on disk, big-endian). Written
 * by notify.c, read by report.c. */
typedef struct gx_first_match {
    int64_t at; /* unix seconds */
    uint64_t offer_id;
    char county[GX_COUNTY_LEN + 1]; /* the supplier's county */
} gx_first_match;
gx_err gx_first_match_get(gx_txn *t, uint64_t demand_id, gx_first_match *out);

#endif
