/* broker.h — the broker: requests in, durable state changes, replies and notices out.
 *
 * The broker owns the store, the engine, the vocabulary and the session table,
 * but no socket: the event loop hands it frames and gives it a gx_broker_io to
 * send through. Work is done in batches (group commit): every request handled
 * between gx_broker_batch_begin and gx_broker_batch_end shares one LMDB write
 * transaction (each request in a child transaction of its own, so one failure
 * spoils nothing else); batch_end commits durably and only then sends the
 * replies, publishes monitor events and delivers notices. If the commit fails,
 * every reply of the batch becomes an error and the engine is rebuilt from the
 * store, so nothing unacknowledged is visible and nothing acknowledged is lost.
 * Single-threaded: one broker belongs to one event loop. */
#ifndef GX_BROKER_H
#define GX_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"
#include "err.h"

/* The broker is its context (records.h, the layer below it), opaque here. */
typedef struct gx_ctx gx_broker;

typedef enum gx_send_rc {
    GX_SEND_OK = 0,
    GX_SEND_FULL,  /* the peer's queue is at its high-water mark: try later */
    GX_SEND_GONE,  /* the peer is no longer connected */
} gx_send_rc;

/* How the broker reaches the network; provided by the event loop. */
typedef struct gx_broker_io {
    void *ctx;
    /* Sends one frame to the client with routing id rid. */
    gx_send_rc (*send)(void *ctx, const void *rid, size_t rid_len, const void *data, size_t len);
    /* Publishes one monitor event (an encoded MonitorEvent) under topic, a
     * static string: on the monitor stream and on /events, whichever are on. */
    void (*publish)(void *ctx, const char *topic, const void *data, size_t len);
} gx_broker_io;

/* How a long start is going, told every cfg->start_progress_ms while the
 * engine is loaded (and once as it begins): status is one line for people
 * ("starting: matching every pair: 120000 of 500000 demands (24%), ...");
 * the next call comes about next_ms later unless the start ends first. */
typedef void (*gx_broker_progress_fn)(void *arg, const char *status, int64_t next_ms);

/* Opens the store in cfg->data_dir, loads the vocabulary, rebuilds the engine
 * from the store (from the newest engine snapshot and the changes logged since
 * when there is a usable one; progress, when not NULL, hears how that goes and the
 * same lines are logged) and enforces validity expired while the broker was down
 * (those notices are committed before this returns). err receives a message on
 * failure. */
gx_err gx_broker_new(const gx_config *cfg, int64_t now, gx_broker_progress_fn progress, void *arg, gx_broker **out,
                     char *err, size_t errlen);

/* At a clean stop, after the last batch: saves the engine's lists to
 * <data_dir>/engine.snap (persist.h) when engine_snapshot is on, so the next
 * start need not match every pair. A failure is logged and only costs that. */
gx_err gx_broker_save_snapshot(gx_broker *b);

/* Between batches: begins an engine snapshot when one is due
 * (snapshot_interval_s, snapshot_changes), writes a slice of one under way,
 * and records one that is durable (persist.h). */
void gx_broker_snapshot_tick(gx_broker *b);

/* While a snapshot is under way, how soon (ms) the loop should tick again;
 * -1 when none is (persist.h). */
int gx_broker_snapshot_wake_ms(const gx_broker *b);

/* SIGUSR1: an engine snapshot at the next tick, whatever the schedule (an
 * operator before planned work, a benchmark). */
void gx_broker_snapshot_now(gx_broker *b);

/* Frees everything; the caller has ended any batch. NULLs *b, tolerates NULL. */
void gx_broker_destroy(gx_broker **b);

/* Starts a batch at time now (unix seconds; now_ms for session activity). */
void gx_broker_batch_begin(gx_broker *b, int64_t now, int64_t now_ms);

/* Handles one client message: rid is the routing id, user_id the connection's
 * CURVE public key (Z85, from the ZAP User-Id; NULL in --insecure-dev mode),
 * frame the payload. frames is the number of payload frames the message had;
 * anything but 1 gets a MALFORMED reply. Always produces exactly one reply. */
void gx_broker_handle(gx_broker *b, const void *rid, size_t rid_len, const char *user_id, const void *frame,
                      size_t len, int frames);

/* The ZAP decision for a CURVE handshake with public key `key` (Z85): GX_OK to
 * admit; GX_ERR_UNAUTHENTICATED / GX_ERR_FORBIDDEN for unknown or revoked keys,
 * and for non-operators on the monitor stream (ZAP 400). */
gx_err gx_broker_admit(gx_broker *b, bool monitor, const char *key);

/* Takes one token of the handshake rate (handshakes_per_second) at now_ms;
 * false when the loop must hold the handshake back for now. */
bool gx_broker_handshake_token(gx_broker *b, int64_t now_ms);

/* Commits the batch, then sends its replies and events and delivers notices. */
void gx_broker_batch_end(gx_broker *b, const gx_broker_io *io);

/* Enforces validity periods (its own batch). Returns postings expired. */
size_t gx_broker_expire(gx_broker *b, int64_t now, const gx_broker_io *io);

/* Drops, in every firm's inbox, the notices older than inbox_max_age_s
 * (acknowledged or not; its own batch). Returns how many went. */
uint64_t gx_broker_retention(gx_broker *b, int64_t now, const gx_broker_io *io);

/* Delivers pending notices to sessions that can take them (after a stall). */
void gx_broker_pump(gx_broker *b, const gx_broker_io *io);

/* Probes the sessions holding the window of firms held back by
 * firm_window_bytes (a second after the last probe, then 2, 4 .. 64 s while
 * the firm stays held back): one whose connection is gone is dropped, freeing
 * the window for the firm's other sessions. Called by the loop every second. */
void gx_broker_probe_tick(gx_broker *b, int64_t now_ms, const gx_broker_io *io);

/* True when some session still has notices waiting because its queue was full. */
bool gx_broker_pending(const gx_broker *b);

/* Applies the reloadable keys of next (weights, K, limits, vocabulary, log
 * level). err names what could not be applied, "" when all went well. */
gx_err gx_broker_reload(gx_broker *b, const gx_config *next, char *err, size_t errlen);

/* ---- federation (federation.h, fedapply.h): off unless federation_url is set */

/* With federation configured: refuses a store whose posting ids reach 2^48,
 * then connects to NATS and starts the federation threads (gx_fed_new). GX_OK
 * and nothing done without federation. */
gx_err gx_broker_fed_start(gx_broker *b, char *err, size_t errlen);

/* The fd the loop polls for federation work; -1 without federation. */
int gx_broker_fed_fd(const gx_broker *b);

/* Between batches, when the fd is readable and after every batch: drops the
 * outbox records JetStream acknowledged (a batch), applies what other cities
 * sent (a batch; acknowledged to JetStream only once committed) and hands new
 * outbox records to the publisher. */
void gx_broker_fed_tick(gx_broker *b, int64_t now_ms, const gx_broker_io *io);

/* ---- what operators read (report.c) */

/* Tells the broker what the loop knows: whether it is serving (sockets bound,
 * not stopping) and how many /events streams are open. */
void gx_broker_set_serving(gx_broker *b, bool ready, size_t streams);

/* Answers an operator HTTP page: "/metrics" (Prometheus text format 0.0.4),
 * "/healthz", "/readyz" (503 unless serving and the store answers),
 * "/api/snapshot" (the dashboard's JSON). Same contract as gx_http_page_fn. */
bool gx_broker_http_page(void *broker, const char *path, int *status, const char **type, char **body, size_t *len);

/* Writes an encoded MonitorEvent as one server-sent event of /events (the
 * JSON of the monitor stream's fields); gx_http_render_fn's contract. */
size_t gx_broker_render_event(void *broker, uint64_t id, const char *type, const void *data, size_t len, char *out,
                              size_t cap);

/* Figures for logs and tests (counters.h). */
typedef gx_counters gx_broker_counters;
void gx_broker_counters_get(const gx_broker *b, gx_broker_counters *out);

#endif
