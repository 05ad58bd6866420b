/* store.h — LMDB, the single source of truth. The only file that includes <lmdb.h>.
 *
 * A data directory holds one LMDB environment with named tables (gx_table).
 * Keys and values are opaque bytes to the store; callers encode records (the
 * codec) and build keys (big-endian integers so that byte order is numeric
 * order). Writes happen inside a write transaction that the broker commits
 * once per batch of requests (group commit) with full durability: after
 * gx_store_commit returns GX_OK the batch survives kill -9 and power loss.
 *
 * A schema version and a random store identity (16 bytes, "store_id") are stored
 * in the meta table at creation; opening a data dir written by a newer schema
 * fails with GX_ERR_SCHEMA. A store of this schema written before identities
 * existed gets one at its first read-write open. Stale readers are cleared
 * (mdb_reader_check) at open.
 *
 * A damaged store is refused, never served, and never written to: before the
 * read-write open, the store is opened read-only and checked — data.mdb is
 * there and not empty when the directory shows it was initialised (the broker's
 * key files or engine.snap beside it), the file is as long as LMDB's newest
 * meta page says it is in use (or the pages missing at its end are all free),
 * and the tree that meta page points to holds the meta table with a schema
 * record. These checks cost O(1) (the free list only when the file ends
 * short); gongxud --verify walks every record. When a write hits the map size, the store grows the
 * map (doubling, up to opts.map_max) and reports GX_ERR_STORAGE_FULL beyond it.
 *
 * Threads: one write transaction at a time (the event loop); read transactions
 * from the same thread. */
#ifndef GX_STORE_H
#define GX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GX_STORE_SCHEMA 1
#define GX_STORE_MAX_KEY 511              /* longest key (LMDB's limit); longer -> GX_ERR_INVALID */
#define GX_STORE_MAX_VALUE (64u << 20)    /* largest value; larger -> GX_ERR_TOO_LARGE */
#define GX_STORE_ID_LEN 16                /* bytes of the store identity */

typedef enum gx_table {
    GX_T_META = 0, /* name -> value: "schema", "store_id", counters "id:<name>" */
    GX_T_FIRMS,    /* firm id (18 bytes) -> Firm record */
    GX_T_DEMANDS,  /* id (u64 BE) -> Demand record */
    GX_T_OFFERS,   /* id (u64 BE) -> Offer record */
    GX_T_SUBS,     /* id (u64 BE) -> Subscription record */
    GX_T_INBOX,    /* firm id + seq (u64 BE) -> Envelope bytes of the notice */
    GX_T_CURSORS,  /* firm id -> inbox cursor (inbox.c) */
    GX_T_DOCKING,  /* demand id (u64 BE) + firm id -> docking record (broker) */
    GX_T_TOLD,     /* demand id (u64 BE) + firm id -> what the firm was told (broker) */
    GX_T_KEYS,     /* CURVE public key (Z85, 40 bytes) -> key record (auth) */
    GX_T_FIRST,    /* demand id (u64 BE) -> its first match (notify.c, gx_first_match) */
    GX_T_OWNED,    /* firm id + kind + closed + id (u64 BE) -> state (owned.h) */
    GX_T_CHANGES,  /* txnid (u64 BE) + table (1 byte) + key -> the key's value before (the change log) */
    GX_T_OUTBOX,   /* sequence (u64 BE) -> encoded FedMessage waiting for JetStream's ack (records.c) */
    GX_T_FEDSEQ,   /* stream name -> u64 BE: the last stream sequence applied here (records.c) */
    GX_T__COUNT
} gx_table;

typedef struct gx_store gx_store;
typedef struct gx_txn gx_txn;

typedef struct gx_store_opts {
    const char *dir;       /* data directory, created (mode 0700) if missing */
    size_t map_size;       /* initial map size in bytes; default 256 MiB */
    size_t map_max;        /* growth limit in bytes; default 16 GiB; >= map_size */
    bool no_sync;          /* tests and benchmarks only: skip fsync (NOT durable) */
    bool read_only;        /* check and read only (gongxud --verify): never writes, never creates */
    bool no_change_log;    /* keep no change log (a broker without engine snapshots); see below */
} gx_store_opts;

/* Opens (creating when the directory holds no store) the store in opts->dir.
 * GX_ERR_MALFORMED when the store is damaged (see above; the message names the
 * file, what is wrong and what to do), GX_ERR_SCHEMA for another schema,
 * GX_ERR_IO when the directory or environment cannot be opened (or another
 * process holds the directory's lock), GX_ERR_NOT_FOUND with read_only when
 * there is no store. The reason is in gx_store_last_error(NULL). */
gx_err gx_store_open(const gx_store_opts *opts, gx_store **out);

/* gongxud --init-fresh: when the store in opts->dir is refused as damaged (or
 * missing beside the key files), renames data.mdb to data.mdb.damaged-<time>
 * (nothing is deleted; *moved gets the new path, "" when there was no file) and
 * creates an empty store in its place. GX_ERR_EXISTS, changing nothing, when
 * the store is healthy: --init-fresh never discards a store that opens. */
gx_err gx_store_init_fresh(const gx_store_opts *opts, char *moved, size_t movedlen);

/* The store's identity (GX_STORE_ID_LEN bytes), valid while s is open. */
const uint8_t *gx_store_id(const gx_store *s);

/* True when this open wrote the identity into a store an older build created. */
bool gx_store_id_added(const gx_store *s);

/* True when the table does not exist (only a read_only store can miss one: a
 * read-write open creates the tables an older build did not have). */
bool gx_store_table_missing(const gx_store *s, gx_table tb);

/* The on-disk name of a table ("firms"). */
const char *gx_store_table_name(gx_table tb);

/* Closes; the caller must have ended every transaction. NULLs *s, tolerates NULL. */
void gx_store_close(gx_store **s);

/* A human-readable message for the last failure of this store (static buffer in
 * the store; valid until its next failure). With s == NULL: why the last failed
 * gx_store_open of the calling thread failed (it leaves no store to ask). */
const char *gx_store_last_error(const gx_store *s);

/* How many reader slots left by dead processes mdb_reader_check cleared at open. */
unsigned gx_store_stale_readers(const gx_store *s);

/* Records a failure found by a module built on the store (a corrupt record, a bad
 * argument) as the store's last error, so the operator sees one message; returns
 * err. For callers like inbox.c that have no message channel of their own. */
gx_err gx_store_failf(gx_txn *t, gx_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Begins a transaction (write or read-only). */
gx_err gx_store_begin(gx_store *s, bool write, gx_txn **out);

/* Begins a child of a write transaction: its changes become part of the parent
 * when committed and vanish when aborted, so one failed request in a batch does
 * not spoil the others. */
gx_err gx_store_begin_child(gx_txn *parent, gx_txn **out);

/* Commits and frees *t (NULLing it). On failure the transaction is aborted;
 * GX_ERR_STORAGE_FULL when the map or disk is full, GX_ERR_IO otherwise. For a
 * top-level write transaction GX_OK means durable. */
gx_err gx_store_commit(gx_txn **t);

/* Aborts and frees *t (NULLing it); tolerates NULL. */
void gx_store_abort(gx_txn **t);

/* Writes key -> value, replacing. GX_ERR_STORAGE_FULL when the map is full (the
 * transaction must then be aborted; the store grows the map before the next
 * write transaction if map_max allows). */
gx_err gx_store_put(gx_txn *t, gx_table tb, const void *key, size_t klen, const void *val, size_t vlen);

/* Reads key. GX_ERR_NOT_FOUND when absent. *val is borrowed until the
 * transaction ends (it points into the map). */
gx_err gx_store_get(gx_txn *t, gx_table tb, const void *key, size_t klen, const void **val, size_t *vlen);

/* Deletes key; GX_OK also when it was absent. */
gx_err gx_store_del(gx_txn *t, gx_table tb, const void *key, size_t klen);

/* Called for each entry in key order; return false to stop. Pointers are
 * borrowed until the callback returns. */
typedef bool (*gx_store_visit_fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);

/* Visits, in key order, the entries whose key starts with prefix (plen may be 0
 * for all) and is >= from (flen may be 0 for the first of the prefix). */
gx_err gx_store_scan(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *from, size_t flen,
                     gx_store_visit_fn fn, void *ctx);

/* Deletes every entry whose key starts with prefix and is < upto (lexicographic,
 * ulen bytes); returns the count in *n. Used for inbox retention. */
gx_err gx_store_del_range(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *upto,
                          size_t ulen, uint64_t *n);

/* Increments and returns the named 64-bit counter in META (first value 1). */
gx_err gx_store_next_id(gx_txn *t, const char *counter, uint64_t *out);

/* Number of entries in a table. */
gx_err gx_store_count(gx_txn *t, gx_table tb, uint64_t *out);

/* The id of the last committed write transaction: it changes with every
 * commit, so a file that recorded it knows whether the store moved on since. */
uint64_t gx_store_txnid(gx_store *s);

/* Map size and bytes in use (last page used x page size). */
void gx_store_usage(gx_store *s, size_t *map_size, size_t *used);

/* Writes a consistent copy of the environment into directory dest (created;
 * must be empty) while writers go on (mdb_env_copy2 with compaction). */
gx_err gx_store_backup(gx_store *s, const char *dest);

/* ---- the change log: what the engine's inputs were at a snapshot
 *
 * Every put or delete of a firm, demand or offer also writes, in the same
 * transaction, a CHANGES entry keyed by that transaction's id, the table and
 * the key, holding what the key held before (the first change of a key in a
 * transaction wins, so the entry holds its value as of the transaction
 * before); so a key of those tables is at most GX_STORE_MAX_KEY - 9 bytes.
 * Unless no_change_log: then nothing is logged (and an old log can be dropped
 * with gx_store_prune_changes(t, UINT64_MAX, 0, NULL)).
 *
 * A snapshot of derived state (the engine's lists) taken at transaction S is
 * recorded with gx_store_snapshot_mark(S); the entries it covers (txnid <= S)
 * are then dropped with gx_store_prune_changes, a slice at a time so that no
 * transaction holds the writer long. The entries after the recorded mark are complete:
 * a reader loads the snapshot, takes each changed key's oldest before-image as
 * its state at S, and applies the keys' current values. */

/* True for the tables the change log records (firms, demands, offers). */
bool gx_store_logged(gx_table tb);

/* Called for each change after a transaction id, in (txnid, table, key) order:
 * existed says whether the key had a value (before, blen) before txnid's
 * change. Pointers are borrowed until the callback returns; false stops. */
typedef bool (*gx_store_change_fn)(void *ctx, uint64_t txnid, gx_table tb, const void *key, size_t klen,
                                   bool existed, const void *before, size_t blen);

/* Visits the changes of transactions after `after`. GX_ERR_MALFORMED for an
 * entry that cannot be one. */
gx_err gx_store_changes(gx_txn *t, uint64_t after, gx_store_change_fn fn, void *ctx);

/* Records that a snapshot of the store as of transaction txnid is complete
 * (durable); txnid 0: there is none. */
gx_err gx_store_snapshot_mark(gx_txn *t, uint64_t txnid);

/* Drops up to max (0: all) change entries of transaction upto and before —
 * what a recorded snapshot covers — and says how many in *pruned (may be
 * NULL); fewer than max means none is left. */
gx_err gx_store_prune_changes(gx_txn *t, uint64_t upto, uint64_t max, uint64_t *pruned);

/* The transaction id of the newest change log entry (0: the log is empty). A
 * compacted copy of the store (mdb_copy -c, a gongxu backup) starts its
 * transaction ids again from 1 while keeping the log: a log or mark newer than
 * gx_store_txnid says so. */
gx_err gx_store_changes_newest(gx_txn *t, uint64_t *txnid);

/* The transaction id last recorded by gx_store_snapshot_mark; GX_ERR_NOT_FOUND
 * when none is (a store no snapshot was recorded in, or marked 0). */
gx_err gx_store_snapshot_txnid(gx_txn *t, uint64_t *txnid);

/* Change entries written since the store was opened (aborted ones included):
 * what a broker counts to take a snapshot after so many changes. */
uint64_t gx_store_changes_logged(const gx_store *s);

/* The id the write transaction t commits as (its children share it). */
uint64_t gx_store_txn_id(const gx_txn *t);

/* Big-endian helpers for keys. */
void gx_store_be64(uint8_t out[8], uint64_t v);
uint64_t gx_store_from_be64(const uint8_t in[8]);

#endif
