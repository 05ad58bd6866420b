/* broker_int.h — the broker's internals, shared by broker.c (lifecycle,
 * batches, delivery), requests.c (one handler per request) and notify.c
 * (effects and state changes turned into notices). Not a public header. */
#ifndef GX_BROKER_INT_H
#define GX_BROKER_INT_H

#include "auth.h"
#include "broker.h"
#include "codec.h"
#include "engine.h"
#include "inbox.h"
#include "limit.h"
#include "owned.h"
#include "session.h"
#include "store.h"
#include "vocab.h"

/* A reply waiting for the batch commit. */
typedef struct gx_pending_reply {
    uint8_t rid[GX_RID_MAX];   /* routing id */
    uint8_t rid_len;
    uint64_t request_id;       /* to rewrite it as an error if the commit fails */
    bool is_error;             /* already an error reply */
    uint8_t req_type;          /* gx_req_type answered (NONE when undecodable), for metrics */
    uint8_t err;               /* its wire error code when is_error */
    bool unasked;              /* sent unasked (ERR_EVICTED to a closed session), not a reply */
    gx_buf payload;            /* encoded Envelope */
} gx_pending_reply;

/* A monitor event waiting for the batch commit. */
typedef struct gx_pending_event {
    const char *topic;         /* static string */
    gx_buf payload;            /* encoded MonitorEvent */
} gx_pending_event;

/* ---- operator figures (kept by broker.c, rendered by report.c) */

#define GX_HIST_N 14           /* finite buckets of a histogram */
#define GX_FLOW_MINUTES 60     /* minutes of match flow kept */
#define GX_OUTCOMES 17         /* wire error codes 0..15, and 16 for any other */

typedef struct gx_hist {
    const double *le;          /* GX_HIST_N upper bounds, ascending */
    uint64_t n[GX_HIST_N + 1]; /* observations per bucket (the last is +Inf); not cumulative */
    uint64_t count;
    double sum;
} gx_hist;
void gx_hist_observe(gx_hist *h, double v);

/* Statistics by date range (report.c): postings created in [from, to),
 * grouped by district column, industry chain and kind. */
typedef struct gx_stats_filter {
    int64_t from, to;          /* unix seconds; 0 = open end */
    const char *district;      /* a column id ("410611", "hebi.etdz", "city", "other") or a firm district; NULL = all */
    const char *industry;      /* GB/T 4754 prefix; NULL = all */
    gx_kind kind;              /* 0 = all */
    bool kind_only;            /* group by kind alone (district and chain "*") */
} gx_stats_filter;

typedef struct gx_stats_table {
    gx_stats_row *rows;
    size_t n, cap;
} gx_stats_table;

typedef struct gx_obs {
    int64_t started_ms;                          /* broker start */
    uint64_t req[GX_REQ__COUNT][GX_OUTCOMES];    /* replies by request type and outcome */
    uint64_t postings[3];                        /* accepted new demands, offers, subscriptions */
    uint64_t matches, near_misses;               /* MATCH and NEAR_MISS effects committed */
    uint64_t delivered;                          /* notices handed to a connection */
    gx_hist commit_seconds;                      /* duration of each group commit */
    gx_hist batch_requests;                      /* requests per committed batch */
    gx_hist notice_latency;                      /* batch start -> fresh notice handed to ZeroMQ, s */
    int64_t flow_minute[GX_FLOW_MINUTES];        /* unix minute held by each slot */
    uint32_t flow_postings[GX_FLOW_MINUTES];     /* new postings in that minute */
    uint32_t flow_matches[GX_FLOW_MINUTES];      /* matches in that minute */
    bool ready;                                  /* serving: sockets bound, not stopping (set by the loop) */
    size_t streams;                              /* /events streams (set by the loop) */
    gx_stats_table last30;                       /* the snapshot's 30-day figures (reused as report.c says) */
    int64_t last30_us;                           /* when made (CLOCK_MONOTONIC); 0 = never */
    int64_t last30_cost_us;                      /* how long the pass took */
    uint64_t last30_commits;                     /* commits counted when it was made */
    char *snapshot;                              /* the last /api/snapshot body (report.c says when it is reused) */
    size_t snapshot_len;
    int64_t snapshot_us;                         /* when it was made (CLOCK_MONOTONIC) */
    int64_t snapshot_cost_us;                    /* how long making it took */
    uint64_t snapshot_commits;                   /* commits counted when it was made */
} gx_obs;

/* "told" flags: what a firm has been told about a demand (GX_T_TOLD). */
enum {
    GX_TOLD_MATCH = 1,      /* an Opportunity for one of its offers */
    GX_TOLD_NEAR = 2,       /* a NearMiss (rule in the second byte) */
    GX_TOLD_SUB = 4,        /* an Opportunity from a subscription */
    GX_TOLD_INTEREST = 8,   /* it expressed interest */
};

/* Docking states (GX_T_DOCKING). */
enum { GX_DOCK_PENDING = 1, GX_DOCK_ACCEPTED = 2, GX_DOCK_DECLINED = 3 };

enum { GX_UNDO_FIRM = 1, GX_UNDO_DEMAND, GX_UNDO_OFFER, GX_UNDO_SUB, GX_UNDO_OPEN };

struct gx_broker {
    gx_config cfg;                  /* current configuration */
    gx_store *store;                /* LMDB */
    gx_vocab *vocab;                /* codes */
    gx_engine *engine;              /* matching */
    gx_sessions *sessions;          /* connections */
    gx_auth *auth;                  /* CURVE keys -> firms (unused with insecure_dev) */
    gx_limiter *rates;              /* per-firm request buckets */
    gx_limiter *handshakes;         /* one bucket for new connections */
    gx_quota *open;                 /* open postings per firm (rebuilt with the engine) */
    char operator_keys[GX_CONFIG_STR_MAX + 32]; /* resolved operator keys path */
    gx_limits limits;               /* decode caps */

    int64_t now;                    /* batch time, unix seconds */
    int64_t now_ms;                 /* batch time, ms */
    gx_txn *txn;                    /* the batch's write transaction, opened lazily */
    gx_txn *child;                  /* the current request's child transaction */
    bool engine_touched;            /* the current request changed the engine */
    bool engine_dirty;              /* the engine may differ from the store: rebuild */

    gx_pending_reply *replies;      /* this batch's replies */
    size_t n_replies, cap_replies;
    gx_pending_event *events;       /* this batch's monitor events */
    size_t n_events, cap_events;
    size_t events_mark;             /* n_events when the current request began */
    struct gx_touched {
        char firm[GX_FIRM_ID_LEN + 1];
        uint64_t seq;               /* the first notice written for it (in this run of entries) */
    } *touched;                     /* firms whose inbox grew this batch (repeats possible) */
    size_t n_touched, cap_touched;

    /* What the engine was told since the batch began, so that a request the
     * store refused (or a batch whose commit failed) is taken back out of the
     * engine by putting those few postings and firms back as the store holds
     * them — not by matching every pair again. */
    struct gx_undo {
        uint8_t what;               /* GX_UNDO_* */
        int8_t delta;               /* OPEN: what was added to the firm's open count */
        uint64_t id;                /* DEMAND, OFFER, SUB */
        char firm[GX_FIRM_ID_LEN + 1]; /* FIRM, OPEN */
    } *undo;
    size_t n_undo, cap_undo;
    size_t undo_mark;               /* n_undo when the current request began */
    bool undo_lost;                 /* an entry could not be kept: only a rebuild is sure */

    gx_fxv fx;                      /* scratch effects list */
    gx_obs obs;                     /* operator figures */
    uint8_t cur_req;                /* gx_req_type being handled, for metrics */
    gx_broker_counters counters;    /* figures */
    uint64_t rate_limited;          /* requests refused by the rate limit */
    uint64_t rl_unlogged;           /* rate-limit refusals not yet in a log line */
    int64_t rl_logged_ms;           /* when the last such line was written */
    char rl_firm[GX_FIRM_ID_LEN + 1]; /* the firm refused last, for that line */
    uint64_t closed_slow;           /* connections closed for not reading (send queue full) */
    uint64_t evicted_told;          /* evicted connections told at once (ERR_EVICTED, request_id 0) */
};

/* ---- broker.c */
/* Opens the current request's child write transaction (and the batch's). */
gx_err gx_broker_write_begin(gx_broker *b);
/* Commits (err == GX_OK) or aborts the child; returns the final error. */
gx_err gx_broker_write_end(gx_broker *b, gx_err err);
/* Queues a monitor event (dropped if the request or the batch fails). */
void gx_broker_event(gx_broker *b, const gx_monitor_event *ev);
/* Record helpers: read and write postings and firms in the current child txn
 * (or a read of the batch txn). *_get return GX_ERR_NOT_FOUND when absent. */
gx_err gx_broker_get_demand(gx_broker *b, uint64_t id, gx_demand *out);
gx_err gx_broker_get_offer(gx_broker *b, uint64_t id, gx_offer *out);
gx_err gx_broker_get_sub(gx_broker *b, uint64_t id, gx_sub *out);
gx_err gx_broker_get_firm(gx_broker *b, const char *id, gx_firm *out);
gx_err gx_broker_put_demand(gx_broker *b, const gx_demand *d);
gx_err gx_broker_put_offer(gx_broker *b, const gx_offer *o);
gx_err gx_broker_put_sub(gx_broker *b, const gx_sub *s);
/* Deletes a subscription's record and its owner index entry. */
gx_err gx_broker_del_sub(gx_broker *b, const gx_sub *s);
gx_err gx_broker_put_firm(gx_broker *b, const gx_firm *f);
/* Every put and del above, and every open count, is noted so that a refused
 * request or a failed commit can be taken back out of the engine (records.c,
 * gx_records_undo). A change to the engine must follow one of them;
 * gx_broker_expire notes what the engine closed by itself. */
void gx_records_note(gx_broker *b, uint8_t what, uint64_t id, const char *firm, int delta);
/* Takes the changes noted from entry `from` on back out of the engine, newest
 * first, putting each posting and firm back as t holds it (a read transaction
 * of its own when t is NULL: after a failed commit); rebuilds the engine from
 * the store when that cannot be exact. why is for the log. */
void gx_records_undo(gx_broker *b, gx_txn *t, size_t from, const char *why);
/* Files every posting under its owner, once, for a store written before the
 * owner index (marks "owner_index" in meta). */
gx_err gx_records_index_owners(gx_broker *b);
/* Rebuilds the engine (and the key registry and open counts) from the store
 * read in t, or in a read transaction of its own when t is NULL. */
gx_err gx_broker_rebuild_engine(gx_broker *b, gx_txn *t);

/* The transaction to read in: the child if open, else the batch txn, else NULL. */
gx_txn *gx_broker_txn(gx_broker *b);

/* Counts a posting of firm opening (+1) or closing (-1) for max_open_postings. */
void gx_broker_count_open(gx_broker *b, const char *firm, int delta);

/* ---- requests.c */
/* Handles a decoded request for session s (NULL before Hello) from routing id
 * rid; queues exactly one reply. */
void gx_requests_handle(gx_broker *b, gx_session *s, const void *rid, size_t rid_len, gx_request *r);
/* Queues a reply / an error reply for request_id to rid. */
void gx_requests_reply(gx_broker *b, const void *rid, size_t rid_len, const gx_reply *r);
void gx_requests_error(gx_broker *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                       const char *msg, const char *field);
/* gx_requests_error with Error.suggestions (n borrowed ids). */
void gx_requests_error_suggest(gx_broker *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                               const char *msg, const char *field, const char *const *suggest, size_t n);

/* ---- report.c (operator figures; see broker.h for the HTTP pages) */
/* Scans the store for statistics (a read transaction of its own); rows sorted
 * by district, chain, kind. Costs a pass over every stored posting. */
gx_err gx_report_range(gx_broker *b, const gx_stats_filter *f, gx_stats_table *out);
void gx_stats_table_fini(gx_stats_table *t);
/* Fills each row's district and chain names (borrowed from the vocabulary). */
void gx_report_names(const gx_broker *b, gx_stats_table *t);
/* Counts a committed event into the minute flow. */
void gx_report_flow(gx_obs *o, const char *topic, int64_t now);
/* Sets up the histograms' bounds. */
void gx_report_init(gx_obs *o, int64_t now_ms);

/* A demand's first match, kept for time-to-first-match and "found a local
 * supplier" statistics (GX_T_FIRST; 22 bytes on disk, big-endian). */
typedef struct gx_first_match {
    int64_t at;                       /* unix seconds */
    uint64_t offer_id;
    char county[GX_COUNTY_LEN + 1];   /* the supplier's county */
} gx_first_match;
gx_err gx_first_match_get(gx_txn *t, uint64_t demand_id, gx_first_match *out);

/* ---- notify.c (all inside the current child transaction) */
/* Writes one notice to firm's inbox with the next sequence number. */
gx_err gx_notify_send(gx_broker *b, const char *firm, gx_notice *n);
/* Turns engine effects into notices, told records and monitor events. */
gx_err gx_notify_effects(gx_broker *b, const gx_fxv *fx);
/* Tells every firm that was told about demand d (and not its owner) that it
 * changed: type is one of GX_N_DEMAND_*. awarded_to / qty for awards. */
gx_err gx_notify_demand_changed(gx_broker *b, const gx_demand *d, int type, const char *awarded_to, double qty);
/* Renders inbox record rec (a fact, gx_fact_decode) with sequence number seq as
 * the complete notice Envelope into *out (the caller frees it): postings and
 * firms from the engine while open, else from the store read in t; the
 * explanation by gx_rules_evaluate under ro at the notice's `at`. When a
 * posting or firm changed since, the notice shows it as it is now and says so
 * in changed_since. GX_ERR_MALFORMED when rec is not a fact. Loop thread. */
gx_err gx_notify_render(gx_broker *b, gx_txn *t, const gx_rules_opts *ro, uint64_t seq, const void *rec,
                        size_t len, gx_buf *out);
/* Reads / ORs the told flags of (demand, firm). */
gx_err gx_notify_told_get(gx_broker *b, uint64_t demand_id, const char *firm, uint8_t *flags, uint8_t *rule);
gx_err gx_notify_told_set(gx_broker *b, uint64_t demand_id, const char *firm, uint8_t flags, uint8_t rule);

#endif
