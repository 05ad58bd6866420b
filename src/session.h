/* session.h — connections and the firm each acts for.
 *
 * A session is one client connection, keyed by its ROUTER routing id. It is
 * created by gx_sessions_bind, the single place where identity is established
 * (today from the Hello request; with CURVE, from the ZAP User-Id), so request
 * handling never asks how a firm was identified. Each session carries its
 * notice delivery cursor and what it has in flight (frames and bytes, for the
 * delivery window). The table is capped: binding beyond the cap evicts fairly —
 * from the firm holding the most sessions, its least recently active one, a
 * session following its notices (resumed) only when that firm has no other —
 * and keeps the victim for the broker to tell (gx_sessions_take_evicted).
 * Single-threaded (the event loop). */
#ifndef GX_SESSION_H
#define GX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define GX_RID_MAX 255 /* ZeroMQ routing ids are at most 255 bytes */

typedef struct gx_sess_firm gx_sess_firm; /* per-firm figures, private to session.c */

#define GX_SESS_CK 8 /* checkpoints of bytes in flight per session */

typedef struct gx_session {
    uint8_t rid[GX_RID_MAX];            /* ROUTER routing id */
    uint8_t rid_len;                    /* its length */
    char firm[GX_FIRM_ID_LEN + 1];      /* firm acted for; "" for a pure operator */
    char key[41];                       /* CURVE public key (Z85) it connected with; "" insecure */
    bool is_operator;                   /* may make operator requests */
    bool resumed;                       /* asked for notices (Resume) */
    bool tell_evicted;                  /* its Hello said it handles an unasked ERR_EVICTED */
    bool stalled;                       /* last send hit the high-water mark */
    uint64_t sent;                      /* highest notice seq sent */
    uint64_t acked;                     /* highest seq acknowledged (durably, by an Ack or before) */
    int64_t last_active_ms;             /* for eviction */
    bool dirty;                         /* on the dirty list: may have notices to send */
    uint64_t fresh_from;                /* first notice seq the last batch wrote for its firm; 0 = none */
    uint64_t out_bytes;                 /* notice bytes sent and not yet known acknowledged (see gx_session_sent) */
    uint64_t out_n;                     /* notices sent and not yet known acknowledged: the window's count */
    struct {
        uint64_t seq, bytes, n;         /* acknowledging seq releases bytes and n notices */
    } ck[GX_SESS_CK];                   /* oldest first */
    uint8_t n_ck;                       /* checkpoints held */
    gx_sess_firm *fr;                   /* its firm's figures */
    struct gx_session *rid_next;        /* hash chain by routing id */
    struct gx_session *firm_next;       /* hash chain by firm */
    struct gx_session *lru_prev, *lru_next; /* activity order, most recent first */
} gx_session;

typedef struct gx_sessions gx_sessions;

gx_err gx_sessions_new(size_t max, gx_sessions **out);
void gx_sessions_destroy(gx_sessions **t);

/* The session of routing id rid, or NULL. Marks it active at now_ms. */
gx_session *gx_sessions_find(gx_sessions *t, const void *rid, size_t len, int64_t now_ms);

/* Binds routing id rid to firm (may be "" when is_operator), creating the
 * session or rebinding an existing one (which resets its delivery cursor).
 * GX_ERR_INVALID when len is 0 or over GX_RID_MAX. */
gx_err gx_sessions_bind(gx_sessions *t, const void *rid, size_t len, const char *firm, bool is_operator,
                        int64_t now_ms, gx_session **out);

/* The session the last bind evicted, copied into *out (its routing id, firm,
 * whether it was resumed), once: true when there is one to tell. */
bool gx_sessions_take_evicted(gx_sessions *t, gx_session *out);

/* Remembers that routing id rid was closed by the broker and could not be told
 * at once (its queue was full): gx_sessions_take_closed then tells, once. A
 * bounded ring: the oldest are forgotten. */
void gx_sessions_closed(gx_sessions *t, const void *rid, size_t len);
bool gx_sessions_take_closed(gx_sessions *t, const void *rid, size_t len);

/* Resume on s after seq `after`; `acked` is the firm's durable acknowledgement
 * (never the resume point: asking to start later acknowledges nothing). While
 * notices handed to this connection are unacknowledged (in flight), a resume
 * does not queue them again: the cursor stays where it is (a client that wants
 * them again reconnects, or acknowledges first). Otherwise, or when `after` is
 * past the cursor, delivery restarts after `after`. The bytes of notices in
 * flight stay counted until an acknowledgement releases them, whatever the
 * resume: repeating a Resume never opens the byte window. */
void gx_sessions_resume(gx_sessions *t, gx_session *s, uint64_t after, uint64_t acked);

/* Records notice seq of len bytes handed to s's connection. */
void gx_session_sent(gx_session *s, uint64_t seq, size_t len);

/* Releases the bytes of notices up to s->acked; returns true when its firm
 * had been held back by firm_window_bytes and is now below it (the caller
 * marks the firm's sessions). */
bool gx_session_settle(gx_session *s, uint64_t firm_max);

/* Notice bytes in flight over all of s's firm's sessions; *blocked set when
 * the caller holds s back for the firm's bound (cleared by settle). */
uint64_t gx_session_firm_bytes(const gx_session *s);
void gx_session_firm_blocked(gx_session *s);

/* Sessions of s's firm. */
size_t gx_session_firm_count(const gx_session *s);

/* ZeroMQ does not tell a ROUTER that a peer went away: its session stays, and
 * the notice bytes it had in flight count against its firm's window until
 * something sent to it fails. When firm is held back by firm_window_bytes and
 * its wait since the last probe is over (every_ms at first, doubling up to 64
 * times that while it stays held back), stamps now_ms and puts in out (up to
 * cap) its sessions holding bytes in flight whose client handles messages sent
 * unasked (tell_evicted), for the caller to probe; 0 otherwise. */
size_t gx_sessions_probe_due(gx_sessions *t, const char *firm, int64_t now_ms, int64_t every_ms,
                             gx_session **out, size_t cap);
/* The ids of firms held back by firm_window_bytes now, up to cap, each call
 * going on from where the last one stopped. */
size_t gx_sessions_blocked_firms(gx_sessions *t, char (*out)[GX_FIRM_ID_LEN + 1], size_t cap);

/* Removes and frees s (e.g. its peer is gone). */
void gx_sessions_drop(gx_sessions *t, gx_session *s);

/* Drops every session that connected with CURVE key `key` (revocation),
 * calling fn (may be NULL) on each just before; returns how many. */
size_t gx_sessions_drop_key(gx_sessions *t, const char *key, void (*fn)(void *ctx, const gx_session *s), void *ctx);

/* Puts s on the dirty list (idempotent). */
void gx_sessions_mark(gx_sessions *t, gx_session *s);

/* Marks every resumed session of firm dirty; fresh_from (0 = none) is the
 * first notice seq the batch just committed wrote for the firm, so that
 * delivery can time those (and not backlog) for the latency histogram. */
void gx_sessions_mark_firm(gx_sessions *t, const char *firm, uint64_t fresh_from);

/* Takes the dirty list: returns up to cap sessions into out (clearing their
 * dirty flag) and how many were written. Sessions left over stay dirty. */
size_t gx_sessions_take_dirty(gx_sessions *t, gx_session **out, size_t cap);

/* True when the dirty list is not empty. */
bool gx_sessions_has_dirty(const gx_sessions *t);

/* Number of sessions. */
size_t gx_sessions_count(const gx_sessions *t);

/* Sessions evicted because the table was full, since creation. */
uint64_t gx_sessions_evicted(const gx_sessions *t);

#endif
