/* records.h — the layer below the broker: its context (the state a request may
 * touch) and the records kept in the store.
 *
 * broker.c (lifecycle, batches, delivery) owns a gx_ctx and calls down into
 * requests.c, notify.c, report.c and persist.c, which work on it through this
 * header and never call back up. Whatever they need the broker to do afterwards they leave
 * here for broker.c to read when the call returns: replies and monitor events
 * queued for the commit, the firms whose inbox grew (touched), an engine that
 * must be rebuilt (rebuild_now, engine_dirty).
 *
 * records.c keeps postings and firms in the store (the put functions also keep
 * the owner index, owned.h, and note what the engine may be told), the open
 * counts, the undo journal that takes a change the store refused back out of
 * the engine, and the request's transactions and event queue. Not a public
 * header; single-threaded like the broker. */
#ifndef GX_RECORDS_H
#define GX_RECORDS_H

#include <sys/types.h>

#include "auth.h"
#include "codec.h"
#include "config.h"
#include "counters.h"
#include "engine.h"
#include "inbox.h"
#include "limit.h"
#include "owned.h"
#include "session.h"
#include "store.h"
#include "vocab.h"

/* The snapshot writer's state and figures, kept in the broker's context
 * (persist.c writes it; report.c reads its figures). */
typedef struct gx_persist {
    struct gx_snapshot_writer *w; /* a snapshot being written while serving, or NULL */
    bool swept;                   /* its lists are all written: it is being made durable */
    uint64_t to_write;            /* the demands open at its freeze */
    uint64_t mark_due;            /* a snapshot written, to be recorded in the store (persist.c) */
    int64_t mark_due_us;          /* since when */
    uint64_t mark_batch;          /* recorded in the batch being committed */
    uint64_t mark_pruned;         /* and the change log entries that batch dropped */
    uint64_t txnid;        /* the transaction its snapshot is of */
    uint64_t fp;           /* and the fingerprint it carries */
    int64_t started_us;    /* when it began (CLOCK_MONOTONIC) */
    int64_t step_us;       /* when its last slice was written */
    double step_credit;    /* demands snapshot_write_rate allows it now */
    int64_t last_begun_us; /* when the last snapshot began (0: none since start) */
    uint64_t logged_at;    /* gx_store_changes_logged when it began */
    bool due;              /* write one at the next chance (after a start that replayed or rebuilt) */
    bool asked;            /* SIGUSR1 asked for one, whatever the schedule */
    uint64_t prune_upto;   /* the recorded snapshot: change log entries up to it are dropped */
    bool prune_more;       /* some are left (gx_persist_prune) */
    bool current;          /* the recorded snapshot is the engine as of current_logged changes */
    uint64_t current_logged;
    uint64_t current_fp; /* under this fingerprint */
    /* figures (metrics, logs) */
    uint64_t written;      /* snapshots completed while serving */
    uint64_t failed;       /* snapshots that failed */
    double last_seconds;   /* the last completed one, begun to recorded */
    int64_t stall_us_last; /* the loop's longest stall for the last one (its freeze, or one slice) */
    int64_t stall_us_max;  /* the longest such stall */
    uint64_t replayed;     /* changes replayed at start */
    double start_seconds;  /* how long the engine's start took */
} gx_persist;

/* The broker's state as the layers below it see it (broker.h calls the same
 * object gx_broker). Handlers name it b. */
typedef struct gx_ctx gx_ctx;

/* A reply waiting for the batch commit. */
typedef struct gx_pending_reply {
    uint8_t rid[GX_RID_MAX]; /* routing id */
    uint8_t rid_len;
    uint64_t request_id; /* to rewrite it as an error if the commit fails */
    bool is_error;       /* already an error reply */
    uint8_t req_type;    /* gx_req_type answered (NONE when undecodable), for metrics */
    uint8_t err;         /* its wire error code when is_error */
    bool unasked;        /* sent unasked (ERR_EVICTED to a closed session), not a reply */
    gx_buf payload;      /* encoded Envelope */
} gx_pending_reply;

/* A monitor event waiting for the batch commit. */
typedef struct gx_pending_event {
    const char *topic; /* static string */
    gx_buf payload;    /* encoded MonitorEvent */
} gx_pending_event;

/* ---- operator figures (kept by broker.c, rendered by report.c) */

#define GX_HIST_N 14       /* finite buckets of a histogram */
#define GX_FLOW_MINUTES 60 /* minutes of match flow kept */
#define GX_OUTCOMES 17     /* wire error codes 0..15, and 16 for any other */

typedef struct gx_hist {
    const double *le;          /* GX_HIST_N upper bounds, ascending */
    uint64_t n[GX_HIST_N + 1]; /* observations per bucket (the last is +Inf); not cumulative */
    uint64_t count;
    double sum;
} gx_hist;

typedef struct gx_stats_table {
    gx_stats_row *rows;
    size_t n, cap;
} gx_stats_table;

typedef struct gx_obs {
    int64_t started_ms;                       /* broker start */
    uint64_t req[GX_REQ__COUNT][GX_OUTCOMES]; /* replies by request type and outcome */
    uint64_t postings[3];                     /* accepted new demands, offers, subscriptions */
    uint64_t matches, near_misses;            /* MATCH and NEAR_MISS effects committed */
    uint64_t delivered;                       /* notices handed to a connection */
    gx_hist commit_seconds;                   /* duration of each group commit */
    gx_hist batch_requests;                   /* requests per committed batch */
    gx_hist notice_latency;                   /* batch start -> fresh notice handed to ZeroMQ, s */
    int64_t flow_minute[GX_FLOW_MINUTES];     /* unix minute held by each slot */
    uint32_t flow_postings[GX_FLOW_MINUTES];  /* new postings in that minute */
    uint32_t flow_matches[GX_FLOW_MINUTES];   /* matches in that minute */
    bool ready;                               /* serving: sockets bound, not stopping (set by the loop) */
    size_t streams;                           /* /events streams (set by the loop) */
    gx_stats_table last30;                    /* the snapshot's 30-day figures (reused as report.c says) */
    int64_t last30_us;                        /* when made (CLOCK_MONOTONIC); 0 = never */
    int64_t last30_cost_us;                   /* how long the pass took */
    uint64_t last30_commits;                  /* commits counted when it was made */
    char *snapshot; /* the last /api/snapshot body (report.c says when it is reused) */
    size_t snapshot_len;
    int64_t snapshot_us;       /* when it was made (CLOCK_MONOTONIC) */
    int64_t snapshot_cost_us;  /* how long making it took */
    uint64_t snapshot_commits; /* commits counted when it was made */
} gx_obs;

/* Federation state kept in the broker's context (fedapply.c, records.c). */
typedef struct gx_fed_state {
    uint16_t city;        /* this broker's city; 0: not federated (nothing goes to the outbox) */
    struct gx_fed *fed;   /* the federation thread (federation.h), set by the loop; NULL when off */
    uint64_t handed;      /* the highest outbox sequence handed to the publisher */
    uint64_t outboxed;    /* outbox records written */
    uint64_t published;   /* the outbox sequence up to which JetStream acknowledged and the loop dropped */
    uint64_t published_n; /* outbox records dropped so since start */
    uint64_t applied;     /* messages from other cities applied */
    uint64_t duplicates;  /* messages skipped as already applied (stream sequence or revision) */
    uint64_t own;         /* this city's own messages seen on the stream and skipped */
    uint64_t bad;         /* messages skipped as malformed or out of range */
    uint64_t substituted; /* withdrawn substitutes written for posting records NATS refused for good */
    size_t max_payload;   /* the linked servers' max_payload, copied by the loop each turn; 0: not linked */
    size_t largest;       /* the largest outbox record written since gx_records_write_begin */
    bool keyed;           /* this broker's federation key pair is made and announced (feddock.c) */
    int64_t key_retry_ms; /* after a failure to make it: not before then (gx_broker_fed_tick) */
} gx_fed_state;

enum { GX_UNDO_FIRM = 1, GX_UNDO_DEMAND, GX_UNDO_OFFER, GX_UNDO_SUB, GX_UNDO_OPEN };

struct gx_ctx {
    gx_config cfg;                              /* current configuration */
    gx_store *store;                            /* LMDB */
    gx_vocab *vocab;                            /* codes */
    gx_engine *engine;                          /* matching */
    gx_sessions *sessions;                      /* connections */
    gx_auth *auth;                              /* CURVE keys -> firms (unused with insecure_dev) */
    gx_limiter *rates;                          /* per-firm request buckets */
    gx_limiter *handshakes;                     /* one bucket for new connections */
    gx_quota *open;                             /* open postings per firm (rebuilt with the engine) */
    char operator_keys[GX_CONFIG_STR_MAX + 32]; /* resolved operator keys path */
    gx_limits limits;                           /* decode caps */

    int64_t now;         /* batch time, unix seconds */
    int64_t now_ms;      /* batch time, ms */
    gx_txn *txn;         /* the batch's write transaction, opened lazily */
    gx_txn *child;       /* the current request's child transaction */
    bool engine_touched; /* the current request changed the engine */
    bool engine_dirty;   /* the engine may differ from the store: rebuild */
    bool rebuild_now;    /* an undo could not be exact: broker.c rebuilds the engine from the
                            batch as soon as the call below returns, before the next request */
    gx_persist persist;  /* the engine's snapshots (persist.c) */

    gx_pending_reply *replies; /* this batch's replies */
    size_t n_replies, cap_replies;
    gx_pending_event *events; /* this batch's monitor events */
    size_t n_events, cap_events;
    size_t events_mark; /* n_events when the current request began */
    struct gx_touched {
        char firm[GX_FIRM_ID_LEN + 1];
        uint64_t seq; /* the first notice written for it (in this run of entries) */
    } * touched;      /* firms whose inbox grew this batch (repeats possible) */
    size_t n_touched, cap_touched;

    /* What the engine was told since the batch began, so that a request the
     * store refused (or a batch whose commit failed) is taken back out of the
     * engine by putting those few postings and firms back as the store holds
     * them — not by matching every pair again. */
    struct gx_undo {
        uint8_t what;                  /* GX_UNDO_* */
        int8_t delta;                  /* OPEN: what was added to the firm's open count */
        uint64_t id;                   /* DEMAND, OFFER, SUB */
        char firm[GX_FIRM_ID_LEN + 1]; /* FIRM, OPEN */
    } * undo;
    size_t n_undo, cap_undo;
    size_t undo_mark; /* n_undo when the current request began */
    /* counters.notices and fed.outboxed then: a refused request counts
     * neither the notices nor the outbox records its transaction dropped */
    uint64_t notices_mark, outboxed_mark;
    bool undo_lost;   /* an entry could not be kept: only a rebuild is sure */

    gx_fxv fx;                        /* scratch effects list */
    gx_obs obs;                       /* operator figures */
    uint8_t cur_req;                  /* gx_req_type being handled, for metrics */
    gx_counters counters;             /* figures */
    uint64_t rl_unlogged;             /* rate-limit refusals not yet in a log line (broker.c) */
    int64_t rl_logged_ms;             /* when the last such line was written */
    char rl_firm[GX_FIRM_ID_LEN + 1]; /* the firm refused last, for that line */
    uint64_t closed_slow;             /* connections closed for not reading (send queue full) */
    uint64_t sessions_gone;           /* sessions dropped when a probe found their connection gone */
    uint64_t evicted_told;            /* evicted connections told at once (ERR_EVICTED, request_id 0) */
    bool committed;                   /* the last batch_end committed (or had nothing to commit) */
    gx_fed_state fed;                 /* federation (fedapply.c); fed.city 0 when off */
};

/* ---- the request's transactions and monitor events */

/* Opens the current request's child write transaction (and the batch's). */
gx_err gx_records_write_begin(gx_ctx *b);
/* Commits (err == GX_OK) or aborts the child; returns the final error. On
 * failure it takes the request's engine changes back out (gx_records_undo)
 * and drops the request's monitor events. */
gx_err gx_records_write_end(gx_ctx *b, gx_err err);
/* The transaction to read in: the child if open, else the batch txn, else NULL. */
gx_txn *gx_records_txn(gx_ctx *b);
/* Queues a monitor event (dropped if the request or the batch fails). */
void gx_records_event(gx_ctx *b, const gx_monitor_event *ev);
/* Drops the queued monitor events from the n-th on. */
void gx_records_events_truncate(gx_ctx *b, size_t n);

/* ---- postings and firms: read and written in the current child txn (or a
 * read of the batch txn, or a read transaction of their own). *_get return
 * GX_ERR_NOT_FOUND when absent. */
gx_err gx_records_get_demand(gx_ctx *b, uint64_t id, gx_demand *out);
gx_err gx_records_get_offer(gx_ctx *b, uint64_t id, gx_offer *out);
gx_err gx_records_get_sub(gx_ctx *b, uint64_t id, gx_sub *out);
gx_err gx_records_get_firm(gx_ctx *b, const char *id, gx_firm *out);
gx_err gx_records_put_demand(gx_ctx *b, const gx_demand *d);
gx_err gx_records_put_offer(gx_ctx *b, const gx_offer *o);
gx_err gx_records_put_sub(gx_ctx *b, const gx_sub *s);
/* Deletes a subscription's record and its owner index entry. */
gx_err gx_records_del_sub(gx_ctx *b, const gx_sub *s);
gx_err gx_records_put_firm(gx_ctx *b, const gx_firm *f);
/* Counts a posting of firm opening (+1) or closing (-1) for max_open_postings. */
void gx_records_count_open(gx_ctx *b, const char *firm, int delta);

/* ---- the undo journal */

/* Every put and del above, and every open count, is noted so that a refused
 * request or a failed commit can be taken back out of the engine. A change to
 * the engine must follow one of them; gx_broker_expire notes what the engine
 * closed by itself. */
void gx_records_note(gx_ctx *b, uint8_t what, uint64_t id, const char *firm, int delta);
/* Takes the changes noted from entry `from` on back out of the engine, newest
 * first, putting each posting and firm back as t holds it (a read transaction
 * of its own when t is NULL: after a failed commit). When that cannot be exact
 * it sets rebuild_now and engine_dirty: broker.c then rebuilds the engine from
 * the store. why is for the log. */
void gx_records_undo(gx_ctx *b, gx_txn *t, size_t from, const char *why);

/* ---- federation: the outbox and the applied stream sequence (same transaction as the effects) */

/* True for a scope whose postings cross to the other cities (province, anywhere, unset). */
bool gx_records_fed_crosses(gx_scope scope);
/* Drops the outbox records up to sequence upto (JetStream acknowledged them); current child txn. */
gx_err gx_records_fed_outbox_drop(gx_ctx *b, uint64_t upto);
/* Calls fn for up to max outbox records after sequence `after`, in order, in a
 * read transaction of its own (no batch open); fn returns false to stop. */
typedef bool (*gx_records_outbox_fn)(void *ctx, uint64_t seq, const void *rec, size_t len);
gx_err gx_records_fed_outbox_read(gx_ctx *b, uint64_t after, size_t max, gx_records_outbox_fn fn, void *ctx);
/* The last stream sequence applied from stream (0: none); its put in the current child txn. */
gx_err gx_records_fed_applied_get(gx_ctx *b, const char *stream, uint64_t *seq);
gx_err gx_records_fed_applied_put(gx_ctx *b, const char *stream, uint64_t seq);

/* Room a record needs beyond its own bytes to cross: the NATS headers it is
 * published with (federation.c: "NATS/1.0\r\nNats-Msg-Id: <city>-<epoch>-<seq>\r\n\r\n",
 * at most 70 bytes with a 4-digit city, 16 hex digits and a 20-digit
 * sequence), which count against max_payload with the payload itself; the
 * rest is margin. */
#define GX_FED_HEADROOM 128
/* True when the largest outbox record the current request wrote (since
 * gx_records_write_begin) with GX_FED_HEADROOM exceeds the linked servers'
 * max_payload: it could never cross. Its size in *len, the limit in *max.
 * False while max_payload is unknown (not linked). No I/O: records.c and
 * requests.c never call federation.c (the loop copies max_payload). */
bool gx_records_fed_too_large(const gx_ctx *b, size_t *len, size_t *max);
/* For outbox record rec (len bytes) that NATS refused for good, under the
 * servers' max_payload then (0: not known): when it is a demand or an offer,
 * writes a smaller substitute as the next outbox record in the current child
 * txn — the same kind, origin, id and revision, closed (WITHDRAWN when it was
 * open), with its owner's profile as it is now, its texts emptied and, when
 * that is not enough for max_payload, its lists and the owner's profile
 * trimmed too (all of it when max_payload was not known, or the record fitted
 * it) — so that the other cities close their copy. *made tells
 * whether one was written: none for a profile or docking record, nor when the
 * substitute would not be strictly smaller (a refused substitute ends there).
 * What was done in what (cap bytes), for the log once committed.
 * GX_ERR_MALFORMED for bytes that are not a FedMessage (nothing written). */
gx_err gx_records_fed_substitute(gx_ctx *b, uint64_t seq, const void *rec, size_t len, size_t max_payload,
                                 bool *made, char *what, size_t cap);

/* Writes docking message m (feddock.h, requests.c) as the next outbox record, current child txn. */
gx_err gx_records_fed_outbox_put(gx_ctx *b, const gx_fed_msg *m);
/* The federation public key of city (32 bytes; GX_ERR_NOT_FOUND until it announced one), and its
 * put; city 0 is this broker's own key pair (pk then sk, 64 bytes: kept in the store's meta table). */
gx_err gx_records_fed_key_get(gx_ctx *b, unsigned city, uint8_t *key, size_t len);
gx_err gx_records_fed_key_put(gx_ctx *b, unsigned city, const uint8_t *key, size_t len);

/* Files every posting under its owner, once, for a store written before the
 * owner index (marks "owner_index" in meta). */
gx_err gx_records_index_owners(gx_ctx *b);

#endif
