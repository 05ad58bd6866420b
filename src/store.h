/* store.h — LMDB, the single source of truth. The only file that includes <lmdb.h>.
 *
 * A data directory holds one LMDB environment with named tables (gx_table).
 * Keys and values are opaque bytes to the store; callers encode records (the
 * codec) and build keys (big-endian integers so that byte order is numeric
 * order). Writes happen inside a write transaction that the broker commits
 * once per batch of requests (group commit) with full durability: after
 * gx_store_commit returns GX_OK the batch survives kill -9 and power loss.
 *
 * A schema version is stored in the meta table at creation; opening a data dir
 * written by a newer schema fails with GX_ERR_SCHEMA. Stale readers are cleared
 * (mdb_reader_check) at open. When a write hits the map size, the store grows the
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

typedef enum gx_table {
    GX_T_META = 0,   /* name -> value: "schema", counters */
    GX_T_FIRMS,      /* firm id (18 bytes) -> Firm record */
    GX_T_DEMANDS,    /* id (u64 BE) -> Demand record */
    GX_T_OFFERS,     /* id (u64 BE) -> Offer record */
    GX_T_SUBS,       /* id (u64 BE) -> Subscription record */
    GX_T_INBOX,      /* firm id + seq (u64 BE) -> Envelope bytes of the notice */
    GX_T_CURSORS,    /* firm id -> inbox cursor (inbox.c) */
    GX_T_DOCKING,    /* demand id (u64 BE) + firm id -> docking record (broker) */
    GX_T_TOLD,       /* demand id (u64 BE) + firm id -> what the firm was told (broker) */
    GX_T_KEYS,       /* CURVE public key (Z85, 40 bytes) -> key record (auth) */
    GX_T_FIRST,      /* demand id (u64 BE) -> its first match (notify.c, gx_first_match) */
    GX_T_OWNED,      /* firm id + kind + closed + id (u64 BE) -> state (broker_int.h) */
    GX_T__COUNT
} gx_table;

typedef struct gx_store gx_store;
typedef struct gx_txn gx_txn;

typedef struct gx_store_opts {
    const char *dir;       /* data directory, created (mode 0700) if missing */
    size_t map_size;       /* initial map size in bytes; default 256 MiB */
    size_t map_max;        /* growth limit in bytes; default 16 GiB; >= map_size */
    bool no_sync;          /* tests and benchmarks only: skip fsync (NOT durable) */
} gx_store_opts;

/* Opens (creating when empty) the store in opts->dir. GX_ERR_SCHEMA for a newer
 * schema, GX_ERR_IO when the directory or environment cannot be opened; the
 * reason is logged by the caller from errno/gx_store_last_error(). */
gx_err gx_store_open(const gx_store_opts *opts, gx_store **out);

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

/* Big-endian helpers for keys. */
void gx_store_be64(uint8_t out[8], uint64_t v);
uint64_t gx_store_from_be64(const uint8_t in[8]);

#endif
