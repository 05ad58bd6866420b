/* persist.h — the engine across restarts: loaded from the store at start,
 * from the newest snapshot plus a replay of what changed since when one is
 * usable; snapshots written while serving and at a clean stop.
 *
 * The store keeps a change log (store.h): every transaction that puts a firm,
 * demand or offer also records what the key held before. A snapshot
 * (snapshot.h) of the engine's lists is tagged with the store's transaction
 * id S; once it is durable, gx_store_snapshot_mark(S) records S in the store
 * and drops the log entries it covers. At start the snapshot whose tag equals
 * the store's mark is loaded with the postings and firms as they were at S
 * (the oldest before-image of each key changed since), and then each changed
 * key's current record is applied through the engine's ordinary calls: the
 * lists end as the live engine's would. With no usable snapshot the engine is
 * built by matching every pair, and the log says why.
 *
 * Files in the data directory: engine.snap (the current snapshot),
 * engine.snap.next (a newer one written and not yet recorded in the store;
 * renamed over engine.snap once it is) and their .tmp while being written.
 * Whichever of the two carries the store's mark is used, so a crash at any
 * point leaves a usable pair of snapshot and log.
 *
 * While serving, a snapshot is written a slice at a time between batches (about
 * 1 ms of each turn of the loop, or snapshot_write_rate): the engine is frozen
 * (engine.h: a demand's lists are handed to the writer before their first
 * change), so the file holds every list as of one transaction however long the
 * write takes; the fsync and rename run in a thread of the writer's. Below the
 * broker; single-threaded like it otherwise. */
#ifndef GX_PERSIST_H
#define GX_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "err.h"

struct gx_ctx;
struct gx_txn;

/* Its state and figures (gx_persist) live in the broker's context, records.h. */

/* How a long start is going (broker.h's gx_broker_progress_fn). */
typedef void (*gx_persist_progress_fn)(void *arg, const char *status, int64_t next_ms);

/* The engine's options from the configuration. */
void gx_persist_engine_opts(const struct gx_ctx *b, gx_engine_opts *o);

/* The engine at start (see above); progress, when not NULL, hears how it goes. */
gx_err gx_persist_start(struct gx_ctx *b, gx_persist_progress_fn progress, void *arg);

/* Builds a fresh engine (and key registry and open counts) from the store read
 * in t, or in a read transaction of its own when t is NULL, by matching every
 * pair; swaps it in only when complete (else the old stays, engine_dirty). */
gx_err gx_persist_rebuild(struct gx_ctx *b, struct gx_txn *t);

/* A fresh key registry into b->auth (which must be NULL): operator keys from
 * their file, firm keys from the store read in t. */
gx_err gx_persist_load_keys(struct gx_ctx *b, struct gx_txn *t);

/* Between batches (no transaction open): writes a slice of the snapshot
 * under way, records one that is durable, or begins one when due. Cheap when
 * there is nothing to do. */
void gx_persist_tick(struct gx_ctx *b);

/* While a snapshot is under way, how soon (ms) the loop should come back to
 * gx_persist_tick: 1 while its lists are written, 10 while it is made durable;
 * -1 when none is. A write paced by snapshot_write_rate, or a sync that does
 * not return, is given up after twice its paced length and at least 120 s. */
int gx_persist_wake_ms(const struct gx_ctx *b);

/* In the batch's write transaction t, before its commit, in a child
 * transaction (a failure costs the batch nothing): records a snapshot written
 * while serving (no commit of its own), or drops a slice of the change log the
 * recorded snapshot covers. */
void gx_persist_prune(struct gx_ctx *b, struct gx_txn *t);

/* After the batch's commit (committed) or its failure: a snapshot the batch
 * recorded (gx_persist_prune) takes its name. */
void gx_persist_batch_done(struct gx_ctx *b, bool committed);

/* Asks for a snapshot at the next tick (SIGUSR1), even when snapshots while
 * serving are off (snapshot_interval_s and snapshot_changes 0). */
void gx_persist_request(struct gx_ctx *b);

/* At a clean stop, after the last batch: drops a snapshot under way, writes
 * the snapshot at once and records it. A failure is logged and costs only a slower start. */
gx_err gx_persist_save(struct gx_ctx *b);

/* Drops a snapshot under way (the broker going away without a clean stop). */
void gx_persist_fini(struct gx_ctx *b);

#endif
