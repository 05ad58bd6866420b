/* snapshot.h — the engine's match state in a file, read back at start so that
 * a restart does not evaluate every pair again (persist.h says when it is
 * written and how the changes since are replayed).
 *
 * One file, written to a temporary name, fsynced and renamed.
 * It holds, per open demand, the matches and near misses the engine held, under a header with the store's
 * identity, its last transaction id and a fingerprint of everything that decides matching (the engine format
 * and options, the vocabulary), and ends with a checksum of every word before
 * it. A reader gets it only when the checksum holds and the identity, the
 * transaction id and the fingerprint are the ones it gives: another data
 * directory's snapshot has another identity, one the store did not record as
 * its last has another transaction id, and the broker then matches every pair. Only a regular file is read,
 * opened without blocking (a FIFO of the name does not hold the start). No protobuf, LMDB or ZeroMQ here:
 * file I/O and the engine's lists only. */
#ifndef GX_SNAPSHOT_H
#define GX_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "err.h"

#define GX_SNAPSHOT_ID_LEN 16 /* bytes of the store identity (GX_STORE_ID_LEN) */

typedef struct gx_snapshot gx_snapshot;

/* Writes the lists of every open demand of e into path (atomically: a new
 * path.tmp, fsync, rename, fsync of the directory), at once. *bytes gets the
 * file's size. GX_ERR_IO (errno says why) or GX_ERR_NOMEM; no file is left on
 * failure. */
gx_err gx_snapshot_write(const char *path, gx_engine *e, const uint8_t store_id[GX_SNAPSHOT_ID_LEN],
                         uint64_t txnid, uint64_t fingerprint, uint64_t *bytes);

/* ---- the same while serving, a little at a time: the lists as they are at
 * gx_snapshot_begin, written over many loop turns while the engine goes on
 * changing (gx_engine_freeze: a demand's lists are written before their first
 * change), then made durable in a thread of the writer's own. Single-threaded
 * otherwise, like the engine. */
typedef struct gx_snapshot_writer gx_snapshot_writer;

/* Opens path.tmp and freezes e (O(open demands), reading ids only).
 * GX_ERR_IO (errno), GX_ERR_NOMEM, or GX_ERR_CONFLICT when e is frozen already. */
gx_err gx_snapshot_begin(const char *path, gx_engine *e, const uint8_t store_id[GX_SNAPSHOT_ID_LEN],
                         uint64_t txnid, uint64_t fingerprint, gx_snapshot_writer **out);

/* Writes the lists of up to max_demands more demands, for about budget_us at
 * most. Once every demand is written (*swept true), e is thawed and the file
 * is being made durable off the loop. The first failure is returned (and by
 * gx_snapshot_ended); the steps after it do nothing. */
gx_err gx_snapshot_step(gx_snapshot_writer *w, int64_t budget_us, size_t max_demands, bool *swept);

/* True once the file is durable under path (its directory fsynced too), or
 * has failed: *err (errno) says which; *bytes gets the file's size. */
bool gx_snapshot_ended(gx_snapshot_writer *w, gx_err *err, uint64_t *bytes);

/* The demands open at the freeze: what the write goes through. */
size_t gx_snapshot_writer_demands(const gx_snapshot_writer *w);

/* Ends w without waiting: a write under way is dropped (path.tmp removed, e
 * thawed: e must still be alive); a sync under way is left to end by itself in
 * its thread, renaming nothing (an fsync cannot be cut short). */
void gx_snapshot_writer_free(gx_snapshot_writer **w);

/* Opens path for reading. GX_ERR_NOT_FOUND when there is no file; GX_ERR_CONFLICT
 * when it was written for another store, transaction id or fingerprint;
 * GX_ERR_INVALID when it is damaged or not a regular file (why says which, for
 * the log). With store_id NULL only the file itself is checked (a dump). */
gx_err gx_snapshot_open(const char *path, const uint8_t store_id[GX_SNAPSHOT_ID_LEN], uint64_t txnid,
                        uint64_t fingerprint, gx_snapshot **out, char *why, size_t whylen);

/* Number of demands the snapshot holds. */
uint64_t gx_snapshot_demands(const gx_snapshot *s);

/* The lists saved for demand_id (held list, eligible count, near misses): ask
 * for ids in increasing order (the store's; the reader sorts the file's). False when the snapshot has no
 * entry for it. *m and *nm are valid until the next call or close. */
bool gx_snapshot_lists(gx_snapshot *s, uint64_t demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                       const gx_near **nm, size_t *n_nm);

/* The next demand's lists by increasing id (*demand_id gets its id); false
 * at the end. For dumps. */
bool gx_snapshot_next(gx_snapshot *s, uint64_t *demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                      const gx_near **nm, size_t *n_nm);

void gx_snapshot_close(gx_snapshot **s);

#endif
