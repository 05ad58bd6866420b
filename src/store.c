/* store.c — the LMDB environment behind store.h. The only file that includes <lmdb.h>:
 * every MDB_* code is translated into a gx_err here (s_fail) and never leaves. */
#include "store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_DEFAULT_MAP_SIZE ((size_t)256 << 20)
#define S_DEFAULT_MAP_MAX ((size_t)16 << 30)
#define S_MAX_READERS 126u
#define S_PATH_MAX 1024 /* longest data or backup directory we accept */
#define S_LOCK_NAME "gongxu.lock"
#define S_DATA_NAME "data.mdb"
#define S_ERR_LEN 1024 /* a refusal names a path, what is wrong and what to do */
#define S_ID_KEY "store_id"

/* Files the broker keeps beside data.mdb once it has run on a directory (its key
 * pair, the first operator key and its list, the engine snapshot). Any of them
 * shows that a store was created there, so a missing or empty data.mdb beside
 * them is damage, not a fresh start. */
static const char *const s_evidence[] = {"broker.key", "broker.pub", "operator.key", "operator_keys",
                                         "engine.snap"};

/* What to do about a damaged store, the end of every refusal. */
static const char s_advice[] =
    "The store was not opened and nothing was written. Restore data.mdb from a backup (made by `gongxu "
    "--operator admin backup` or `mdb_copy`), or start with an empty store: `gongxud --init-fresh` moves the "
    "damaged data.mdb aside and creates a new one (nothing is deleted).";

/* LMDB table names, indexed by gx_table; they are the on-disk names. */
static const char *const s_table_names[GX_T__COUNT] = {
    [GX_T_META] = "meta",       [GX_T_FIRMS] = "firms",       [GX_T_DEMANDS] = "demands",
    [GX_T_OFFERS] = "offers",   [GX_T_SUBS] = "subs",         [GX_T_INBOX] = "inbox",
    [GX_T_CURSORS] = "cursors", [GX_T_DOCKING] = "docking",   [GX_T_TOLD] = "told",
    [GX_T_KEYS] = "keys",       [GX_T_FIRST] = "first_match", [GX_T_OWNED] = "owned",
    [GX_T_CHANGES] = "changes", [GX_T_OUTBOX] = "fed_outbox", [GX_T_FEDSEQ] = "fed_applied",
};

/* The tables whose changes the change log records: the engine's inputs. */
#define S_LOGGED ((1u << GX_T_FIRMS) | (1u << GX_T_DEMANDS) | (1u << GX_T_OFFERS))
#define S_SNAP_KEY "snapshot" /* meta: txnid of the last complete snapshot (gx_store_snapshot_mark) */

struct gx_store {
    MDB_env *env;             /* the environment; NULL until created */
    MDB_dbi dbi[GX_T__COUNT]; /* table handles, valid once open succeeded */
    char *dir;                /* data directory (owned) */
    int lock_fd;              /* flock()ed S_LOCK_NAME keeping other brokers out; -1 if none */
    bool no_sync;             /* opened with MDB_NOSYNC (tests and benchmarks) */
    size_t map_size;          /* current map size in bytes */
    size_t map_max;           /* growth limit in bytes, a multiple of page_size */
    size_t page_size;         /* LMDB page size in bytes */
    size_t max_key;           /* longest key the library accepts */
    unsigned open_txns;       /* top-level transactions begun and not yet ended */
    bool writing;             /* a top-level write transaction is active */
    bool wants_growth;        /* a write hit MDB_MAP_FULL: grow before the next write txn */
    unsigned stale_readers;   /* reader slots of dead processes cleared at open */
    bool read_only;           /* opened to check and read only (verify): no write, ever */
    bool damaged;             /* the last failure was a damage check (GX_ERR_MALFORMED) */
    bool id_added;            /* this open wrote the identity into an older build's store */
    unsigned missing;         /* bit per gx_table absent from a read-only store */
    bool no_change_log;       /* opts.no_change_log */
    uint64_t logged;          /* change entries written since open */
    uint8_t *scratch;         /* a change entry being built */
    size_t scratch_cap;
    uint8_t id[GX_STORE_ID_LEN]; /* the store identity */
    char err[S_ERR_LEN];         /* message of the last failure */
};

struct gx_txn {
    MDB_txn *txn;   /* the LMDB transaction */
    gx_store *s;    /* the store it belongs to */
    gx_txn *parent; /* enclosing write transaction; NULL at top level */
    bool write;     /* a write transaction (children always are) */
    bool has_child; /* a child is active: this one must not be used until it ends */
};

/* Why a failed gx_store_open failed: there is no store to hold the message then, so
 * gx_store_last_error(NULL) reads it from here. Per thread, so no locking. */
static _Thread_local char s_open_err[S_ERR_LEN];

/* ---- errors */

/* Records a message that carries no LMDB code; returns err. */
static gx_err s_failf(gx_store *s, gx_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static gx_err s_failf(gx_store *s, gx_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return err;
}

/* Translates a failed LMDB (or errno) code rc and records "<what> (<dir>): <reason>".
 * The one place MDB_* codes become gx_err values. */
static gx_err s_fail(gx_store *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static gx_err s_fail(gx_store *s, int rc, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(s->err, sizeof s->err, "%s (%s): %s", what, s->dir ? s->dir : "?", mdb_strerror(rc));

    switch (rc) {
    case MDB_NOTFOUND:
        return GX_ERR_NOT_FOUND;
    case MDB_MAP_FULL:
        s->wants_growth = true;
        return GX_ERR_STORAGE_FULL;
    case ENOSPC:
    case EDQUOT:
        return GX_ERR_STORAGE_FULL;
    case MDB_KEYEXIST:
        return GX_ERR_EXISTS;
    case MDB_BAD_VALSIZE:
        return GX_ERR_INVALID;
    case MDB_TXN_FULL: /* too many dirty pages in one transaction: the batch is too big */
        return GX_ERR_TOO_LARGE;
    case ENOMEM:
        return GX_ERR_NOMEM;
    default:
        return GX_ERR_IO;
    }
}

/* ---- helpers */

static size_t s_round_up(size_t v, size_t unit)
{
    if (v % unit == 0)
        return v;
    if (v > SIZE_MAX - unit)
        return v - v % unit;
    return v + (unit - v % unit);
}

/* memcmp order with the shorter key first on a tie: LMDB's default key order. */
static int s_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool s_has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
    return k->mv_size >= plen && (plen == 0 || memcmp(k->mv_data, prefix, plen) == 0);
}

static gx_err s_check_key(gx_store *s, const char *op, gx_table tb, size_t klen)
{
    if (klen == 0)
        return s_failf(s, GX_ERR_INVALID, "%s in table '%s': empty key", op, s_table_names[tb]);
    if (klen > s->max_key)
        return s_failf(s, GX_ERR_INVALID, "%s in table '%s': key of %zu bytes exceeds the %zu-byte limit", op,
                       s_table_names[tb], klen, s->max_key);
    return GX_OK;
}

/* mkdir -p; the last component gets mode, missing parents 0755 (minus umask). */
static gx_err s_mkdirs(gx_store *s, const char *path, mode_t mode)
{
    char buf[S_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return s_failf(s, GX_ERR_INVALID, "directory path of %zu bytes is empty or too long", n);
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return s_fail(s, errno, "cannot create directory %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return s_fail(s, errno, "cannot create directory %s", buf);
    struct stat st;
    if (stat(buf, &st) != 0)
        return s_fail(s, errno, "cannot stat %s", buf);
    if (!S_ISDIR(st.st_mode))
        return s_failf(s, GX_ERR_IO, "%s exists and is not a directory", buf);
    return GX_OK;
}

/* Flushes a file or directory entry to disk. */
static gx_err s_fsync_path(gx_store *s, const char *path, bool dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return s_fail(s, errno, "cannot open %s to sync it", path);
    gx_err err = GX_OK;
    if (fsync(fd) != 0)
        err = s_fail(s, errno, "cannot sync %s", path);
    close(fd);
    return err;
}

/* Takes an exclusive lock on the data dir so that a second broker (or a second
 * gx_store_open in this process, which LMDB forbids) fails cleanly instead of
 * sharing the environment with us. Released by close(). */
static gx_err s_lock_dir(gx_store *s)
{
    char path[S_PATH_MAX + sizeof S_LOCK_NAME + 1];
    snprintf(path, sizeof path, "%s/%s", s->dir, S_LOCK_NAME);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return s_fail(s, errno, "cannot open lock file %s", path);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return s_failf(s, GX_ERR_IO, "data dir %s is in use by another broker (%s is locked)", s->dir,
                           path);
        return s_fail(s, errno, "cannot lock %s", path);
    }
    return GX_OK;
}

/* Reads the map size LMDB is using into s->map_size. */
static gx_err s_refresh_map(gx_store *s)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc)
        return s_fail(s, rc, "cannot read environment info");
    s->map_size = info.me_mapsize;
    return GX_OK;
}

/* Sets the map size; only with no transaction of this process active. */
static gx_err s_set_map(gx_store *s, size_t size)
{
    int rc = mdb_env_set_mapsize(s->env, size);
    if (rc)
        return s_fail(s, rc, "cannot set the map size to %zu bytes", size);
    return s_refresh_map(s);
}

/* After open: a data dir that grew in an earlier run keeps its larger map (LMDB
 * adopted the size stored in the file), clamped to map_max; a fresh one got
 * opts.map_size before open. LMDB raises any size below the data in use. */
static gx_err s_fit_map(gx_store *s, size_t want_min)
{
    gx_err err = s_refresh_map(s);
    if (err)
        return err;
    size_t want = s->map_size > want_min ? s->map_size : want_min;
    if (want > s->map_max)
        want = s->map_max;
    if (want == s->map_size)
        return GX_OK;
    return s_set_map(s, want);
}

/* Doubles the map (capped at map_max) before a write transaction begins. */
static gx_err s_grow(gx_store *s)
{
    s->wants_growth = false;
    if (s->map_size >= s->map_max)
        return GX_OK; /* at the limit: writes keep failing with GX_ERR_STORAGE_FULL */
    size_t want = s->map_size > s->map_max / 2 ? s->map_max : s->map_size * 2;
    return s_set_map(s, want);
}

/* ---- damage checks (before any write; see store.h) */

/* Records a refusal of a damaged store: "<dir>/data.mdb <what>. <advice>". */
static gx_err s_damaged(gx_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gx_err s_damaged(gx_store *s, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(s->err, sizeof s->err, "%s/%s %s. %s", s->dir, S_DATA_NAME, what, s_advice);
    s->damaged = true;
    return GX_ERR_MALFORMED;
}

/* The first file of s_evidence present in dir (any type), or NULL. */
static const char *s_evidence_in(const char *dir)
{
    char path[S_PATH_MAX + 32];
    struct stat st;
    for (size_t i = 0; i < sizeof s_evidence / sizeof s_evidence[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, s_evidence[i]);
        if (lstat(path, &st) == 0)
            return s_evidence[i];
    }
    return NULL;
}

/* The fields of an LMDB meta page this file checks. On-disk layout of LMDB 0.9
 * (mdb.c, data version 1) on a 64-bit machine: a page starts with a 16-byte
 * header (MDB_page up to mp_ptrs); the meta (MDB_meta) follows it: magic u32,
 * version u32, address, map size, then two MDB_db of 48 bytes each (the free
 * list's, the main tree's; md_root at offset 40 of each), last page, txnid. */
enum {
    S_PAGEHDR = 16,
    S_META_MAGIC = 0,
    S_META_VERSION = 4,
    S_META_PSIZE = 24,      /* mm_psize: md_pad of the free list's MDB_db */
    S_META_FREE_ROOT = 64,  /* 24 + 40 */
    S_META_MAIN_ROOT = 112, /* 24 + 48 + 40 */
    S_META_LAST_PG = 120,
    S_META_TXNID = 128,
    S_META_LEN = 136,
};
#define S_MDB_MAGIC 0xBEEFC0DEu
#define S_P_INVALID UINT64_MAX /* an empty tree's root */

typedef struct s_meta {
    bool ok;            /* magic and version are LMDB 0.9's */
    uint32_t psize;     /* page size */
    uint64_t free_root; /* root page of the free list, S_P_INVALID when empty */
    uint64_t main_root; /* root page of the main tree (the named tables) */
    uint64_t last_pg;   /* last page in use */
    uint64_t txnid;     /* transaction that wrote this meta */
} s_meta;

static uint64_t s_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t s_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Reads the meta of the page at off with pread (never through a map: a file
 * shorter than a page reads short instead of raising SIGBUS). */
static void s_read_meta(int fd, off_t off, s_meta *m)
{
    uint8_t b[S_PAGEHDR + S_META_LEN];
    memset(m, 0, sizeof *m);
    if (sizeof(size_t) != 8 || pread(fd, b, sizeof b, off) != (ssize_t)sizeof b)
        return;
    const uint8_t *p = b + S_PAGEHDR;
    m->ok = s_u32(p + S_META_MAGIC) == S_MDB_MAGIC && s_u32(p + S_META_VERSION) == 1;
    m->psize = s_u32(p + S_META_PSIZE);
    m->free_root = s_u64(p + S_META_FREE_ROOT);
    m->main_root = s_u64(p + S_META_MAIN_ROOT);
    m->last_pg = s_u64(p + S_META_LAST_PG);
    m->txnid = s_u64(p + S_META_TXNID);
}

/* In a child process: exit status 0 when every page first..last is listed in the
 * free list of the store in dir, 1 when one is not, 2 when it cannot tell. */
static int s_child_tail_free(const char *dir, uint64_t first, uint64_t last)
{
    if (last - first >= (uint64_t)1 << 28)
        return 1; /* more than a terabyte missing: not free pages at the end */
    size_t n = (size_t)(last - first + 1), seen = 0;
    uint8_t *mark = calloc(n, 1);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    if (!mark || mdb_env_create(&env) || mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600) ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_cursor_open(txn, 0 /* the free list */, &cur))
        return 2;
    /* each record: the pages a transaction freed, as an ID list (count, then ids) */
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        if (v.mv_size < sizeof(size_t))
            return 2;
        size_t count = (size_t)s_u64(p);
        if (count > v.mv_size / sizeof(size_t) - 1)
            return 2;
        for (size_t i = 1; i <= count; i++) {
            uint64_t pg = s_u64(p + i * sizeof(size_t));
            if (pg >= first && pg <= last && !mark[pg - first]) {
                mark[pg - first] = 1;
                seen++;
            }
        }
    }
    return rc == MDB_NOTFOUND && seen == n ? 0 : rc == MDB_NOTFOUND ? 1 : 2;
}

/* True when the pages first..last, past the end of data.mdb, are all free: LMDB
 * does not write a page it allocated and freed in one transaction, so a healthy
 * file may end a few pages short of the last page in use. The free list is read
 * in a child process: if a page of the free list itself lies past the end, the
 * map access kills the child (SIGBUS), which is then the answer. The store is
 * opened before the broker starts any thread (ZeroMQ's context comes later, in
 * the loop), so the fork copies a single-threaded process. */
static bool s_tail_free(gx_store *s, uint64_t first, uint64_t last)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        _exit(s_child_tail_free(s->dir, first, last));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Opens every table in the read transaction txn of a checked store; a table an
 * older build did not have is noted in s->missing. */
static gx_err s_open_tables_ro(gx_store *s, MDB_txn *txn)
{
    for (int i = 0; i < GX_T__COUNT; i++) {
        int rc = mdb_dbi_open(txn, s_table_names[i], 0, &s->dbi[i]);
        if (rc == MDB_NOTFOUND && i != GX_T_META) {
            s->missing |= 1u << i;
            continue;
        }
        if (rc)
            return s_damaged(s, "cannot open its table '%s' (%s)", s_table_names[i], mdb_strerror(rc));
    }
    return GX_OK;
}

/* Checks the schema record and reads the identity (*has_id false when an older
 * build wrote the store). */
static gx_err s_check_meta(gx_store *s, MDB_txn *txn, bool *has_id)
{
    MDB_val k = {sizeof "schema" - 1, (void *)"schema"}, v;
    int rc = mdb_get(txn, s->dbi[GX_T_META], &k, &v);
    if (rc == MDB_NOTFOUND)
        return s_damaged(s,
                         "has a 'meta' table without the schema record every gongxu store gets at creation");
    if (rc)
        return s_damaged(s, "cannot read its schema record (%s)", mdb_strerror(rc));
    if (v.mv_size != 4)
        return s_damaged(s, "has a corrupt schema record (%zu bytes, want 4)", v.mv_size);
    const uint8_t *p = v.mv_data;
    uint32_t found = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (found > GX_STORE_SCHEMA)
        return s_failf(s, GX_ERR_SCHEMA, "data dir schema %u is newer than this broker's %d (%s)", found,
                       GX_STORE_SCHEMA, s->dir);
    if (found < GX_STORE_SCHEMA) /* no older schema was ever released: nothing to migrate from */
        return s_failf(s, GX_ERR_SCHEMA,
                       "data dir schema %u is older than this broker's %d and has no upgrade (%s)", found,
                       GX_STORE_SCHEMA, s->dir);
    k.mv_size = sizeof S_ID_KEY - 1;
    k.mv_data = (void *)S_ID_KEY;
    rc = mdb_get(txn, s->dbi[GX_T_META], &k, &v);
    *has_id = rc == 0;
    if (rc == MDB_NOTFOUND)
        return GX_OK;
    if (rc)
        return s_damaged(s, "cannot read its store identity (%s)", mdb_strerror(rc));
    if (v.mv_size != GX_STORE_ID_LEN)
        return s_damaged(s, "has a corrupt store identity (%zu bytes, want %d)", v.mv_size, GX_STORE_ID_LEN);
    memcpy(s->id, v.mv_data, GX_STORE_ID_LEN);
    return GX_OK;
}

/* The damage checks of store.h, on a read-only environment that never writes
 * (not even the lock file: MDB_NOLOCK, the directory lock keeps writers out).
 * *fresh when the directory holds no store to check (no data.mdb, an empty one,
 * or one whose creation never committed) and nothing shows it was initialised;
 * *has_id when the store has its identity. With s->read_only the environment
 * stays open for reading; otherwise it is closed again. */
static gx_err s_check(gx_store *s, bool *fresh, bool *has_id)
{
    char path[S_PATH_MAX + sizeof S_DATA_NAME + 1];
    snprintf(path, sizeof path, "%s/%s", s->dir, S_DATA_NAME);
    *fresh = *has_id = false;
    const char *evidence = s_evidence_in(s->dir);
    MDB_txn *txn = NULL;
    gx_err err = GX_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st = {0};
    if (fd < 0 && errno != ENOENT)
        return errno == ELOOP ? s_damaged(s, "is a symbolic link; the store must be a regular file")
                              : s_fail(s, errno, "cannot open %s", path);
    if (fd >= 0 && fstat(fd, &st) != 0) {
        err = s_fail(s, errno, "cannot stat %s", path);
        goto out;
    }
    if (fd >= 0 && !S_ISREG(st.st_mode)) {
        err = s_damaged(s, "is not a regular file");
        goto out;
    }
    if (fd < 0 || st.st_size == 0) {
        if (evidence)
            err = s_damaged(s, "is %s, but this data directory was initialised (%s is there)",
                            fd < 0 ? "missing" : "empty (0 bytes)", evidence);
        else if (s->read_only)
            err = s_failf(s, GX_ERR_NOT_FOUND, "%s holds no store (no %s)", s->dir,
                          fd < 0 ? S_DATA_NAME : "data");
        *fresh = true;
        goto out;
    }

    s_meta m[2];
    s_read_meta(fd, 0, &m[0]);
    if (!m[0].ok || m[0].psize < 512 || m[0].psize > (1u << 20) || (m[0].psize & (m[0].psize - 1))) {
        err = s_damaged(s, "does not start with an LMDB meta page (%lld bytes)", (long long)st.st_size);
        goto out;
    }
    uint64_t psize = m[0].psize;
    if ((uint64_t)st.st_size < 2 * psize) {
        err = s_damaged(s,
                        "is %lld bytes, less than the two %llu-byte meta pages every LMDB file starts with: "
                        "the file was cut short",
                        (long long)st.st_size, (unsigned long long)psize);
        goto out;
    }
    s_read_meta(fd, (off_t)psize, &m[1]);

    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        err = s_fail(s, rc, "cannot create the LMDB environment");
        goto out;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, GX_T__COUNT + 2)) ||
        (rc = mdb_env_open(s->env, s->dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600))) {
        err = s_damaged(s, "cannot be read by LMDB (%s)", mdb_strerror(rc));
        goto out;
    }
    MDB_envinfo info;
    MDB_stat est;
    if ((rc = mdb_env_info(s->env, &info)) || (rc = mdb_env_stat(s->env, &est))) {
        err = s_fail(s, rc, "cannot read environment information");
        goto out;
    }
    s->page_size = est.ms_psize;
    /* the meta LMDB chose: the one with the larger transaction id */
    const s_meta *nm = m[1].ok && m[1].txnid == (uint64_t)info.me_last_txnid ? &m[1] : &m[0];
    int nm_page = nm == &m[1];
    uint64_t pages = (uint64_t)st.st_size / psize, last = (uint64_t)info.me_last_pgno;
    if (last < 1 || (nm->main_root != S_P_INVALID && nm->main_root > last) ||
        (nm->free_root != S_P_INVALID && nm->free_root > last)) {
        err = s_damaged(
            s,
            "has a damaged meta page: its newest (page %d, transaction %llu) points to page %llu, "
            "beyond the last page in use (%llu)",
            nm_page, (unsigned long long)info.me_last_txnid,
            (unsigned long long)(nm->main_root != S_P_INVALID && nm->main_root > last ? nm->main_root
                                                                                      : nm->free_root),
            (unsigned long long)last);
        goto out;
    }
    /* Every page LMDB may read must lie inside the file: a read past its end through
     * the map raises SIGBUS. Pages past the end are allowed only when free. */
    if ((uint64_t)st.st_size % psize != 0 ||
        (last >= pages &&
         ((nm->main_root != S_P_INVALID && nm->main_root >= pages) ||
          (nm->free_root != S_P_INVALID && nm->free_root >= pages) || !s_tail_free(s, pages, last)))) {
        err = s_damaged(s,
                        "is %lld bytes, but its newest meta page (transaction %llu) says the store uses %llu "
                        "pages of %llu bytes (%llu bytes): the file was cut short",
                        (long long)st.st_size, (unsigned long long)info.me_last_txnid,
                        (unsigned long long)(last + 1), (unsigned long long)psize,
                        (unsigned long long)((last + 1) * psize));
        goto out;
    }

    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
        err = s_damaged(s, "cannot be read (%s)", mdb_strerror(rc));
        goto out;
    }
    rc = mdb_dbi_open(txn, s_table_names[GX_T_META], 0, &s->dbi[GX_T_META]);
    if (rc == MDB_NOTFOUND && info.me_last_txnid == 0 && !evidence && !s->read_only) {
        *fresh = true; /* created, but the first transaction never committed: nothing to lose */
        goto out;
    }
    if (rc == MDB_NOTFOUND) {
        err = s_damaged(s,
                        "has no 'meta' table in the tree its newest meta page (page %d, transaction %llu) "
                        "points to: that meta page or the tree is damaged, or this is not a gongxu store",
                        nm_page, (unsigned long long)info.me_last_txnid);
        goto out;
    }
    if (rc) {
        err = s_damaged(s, "cannot open its 'meta' table (%s)", mdb_strerror(rc));
        goto out;
    }
    if ((err = s_check_meta(s, txn, has_id)) || (err = s_open_tables_ro(s, txn)))
        goto out;
    if (s->read_only) {
        rc = mdb_txn_commit(txn); /* keeps the table handles */
        txn = NULL;
        if (rc)
            err = s_fail(s, rc, "cannot end the check transaction");
    }
out:
    if (txn)
        mdb_txn_abort(txn);
    if (fd >= 0)
        close(fd);
    if ((err || !s->read_only || *fresh) && s->env) {
        mdb_env_close(s->env);
        s->env = NULL;
        s->missing = 0;
    }
    return err;
}

/* Opens every table (creating the ones missing), and writes the schema version
 * and identity of a new store (the identity also into a store an older build
 * created), in one write txn. */
static gx_err s_open_tables(gx_store *s, bool fresh, bool has_id)
{
    gx_err err = GX_OK;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) {
        err = s_fail(s, rc, "cannot begin the open transaction");
        goto out;
    }
    for (int i = 0; i < GX_T__COUNT; i++) {
        rc = mdb_dbi_open(txn, s_table_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc) {
            err = s_fail(s, rc, "cannot open table '%s'", s_table_names[i]);
            goto out;
        }
    }
    if (fresh) {
        uint8_t be[4] = {(uint8_t)(GX_STORE_SCHEMA >> 24), (uint8_t)(GX_STORE_SCHEMA >> 16),
                         (uint8_t)(GX_STORE_SCHEMA >> 8), (uint8_t)GX_STORE_SCHEMA};
        MDB_val k = {sizeof "schema" - 1, (void *)"schema"}, v = {sizeof be, be};
        rc = mdb_put(txn, s->dbi[GX_T_META], &k, &v, MDB_NOOVERWRITE);
        if (rc) {
            err = s_fail(s, rc, "cannot write the schema version");
            goto out;
        }
    }
    if (!has_id) {
        if (getrandom(s->id, sizeof s->id, 0) != (ssize_t)sizeof s->id) {
            err = s_fail(s, errno, "cannot draw a random store identity");
            goto out;
        }
        MDB_val k = {sizeof S_ID_KEY - 1, (void *)S_ID_KEY}, v = {sizeof s->id, s->id};
        rc = mdb_put(txn, s->dbi[GX_T_META], &k, &v, MDB_NOOVERWRITE);
        if (rc) {
            err = s_fail(s, rc, "cannot write the store identity");
            goto out;
        }
        s->id_added = !fresh;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        err = s_fail(s, rc, "cannot commit the open transaction");
out:
    if (txn)
        mdb_txn_abort(txn);
    return err;
}

static void s_free(gx_store *s)
{
    if (!s)
        return;
    if (s->env) {
        if (s->no_sync && !s->read_only)
            mdb_env_sync(s->env, 1); /* a clean shutdown is durable even without per-commit fsync */
        mdb_env_close(s->env);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    free(s->scratch);
    free(s);
}

/* ---- lifecycle */

/* The store with its options checked, its directory locked: not yet opened. */
static gx_err s_prepare(const gx_store_opts *opts, gx_store **out)
{
    *out = NULL;
    gx_err err = GX_OK;
    gx_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(s_open_err, sizeof s_open_err, "out of memory opening the store");
        return GX_ERR_NOMEM;
    }
    s->lock_fd = -1;

    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    size_t map_size = opts->map_size ? opts->map_size : S_DEFAULT_MAP_SIZE;
    size_t map_max = opts->map_max ? opts->map_max : S_DEFAULT_MAP_MAX;
    map_size = s_round_up(map_size, page);
    map_max -= map_max % page;
    if (!opts->dir || !opts->dir[0]) {
        err = s_failf(s, GX_ERR_CONFIG, "no data directory given");
        goto out;
    }
    if (strlen(opts->dir) >= S_PATH_MAX - 32) {
        err = s_failf(s, GX_ERR_CONFIG, "data directory path is longer than %d bytes", S_PATH_MAX - 32);
        goto out;
    }
    if (map_max < map_size) {
        err =
            s_failf(s, GX_ERR_CONFIG, "map_max %zu is below map_size %zu (%s)", map_max, map_size, opts->dir);
        goto out;
    }
    s->dir = strdup(opts->dir);
    if (!s->dir) {
        err = s_failf(s, GX_ERR_NOMEM, "out of memory opening the store");
        goto out;
    }
    s->map_size = map_size; /* what a new store gets; s_fit_map reads the real one */
    s->map_max = map_max;
    s->no_sync = opts->no_sync;
    s->no_change_log = opts->no_change_log;
    s->read_only = opts->read_only;

    struct stat st;
    if (s->read_only && (stat(s->dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        err = stat(s->dir, &st) != 0 ? s_fail(s, errno, "cannot open data directory %s", s->dir)
                                     : s_failf(s, GX_ERR_IO, "%s is not a directory", s->dir);
    else
        err = s_mkdirs(s, s->dir, 0700);
    if (!err)
        err = s_lock_dir(s);
out:
    if (err) {
        memcpy(s_open_err, s->err, sizeof s_open_err);
        s_free(s);
        return err;
    }
    *out = s;
    return GX_OK;
}

/* Opens the checked store read-write (creating it when fresh). */
static gx_err s_open_rw(gx_store *s, bool fresh, bool has_id)
{
    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        return s_fail(s, rc, "cannot create the LMDB environment");
    }
    size_t map_size = s->map_size;
    rc = mdb_env_set_maxdbs(s->env, GX_T__COUNT + 2);
    if (!rc)
        rc = mdb_env_set_maxreaders(s->env, S_MAX_READERS);
    if (!rc && fresh)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc)
        return s_fail(s, rc, "cannot configure the LMDB environment");
    /* MDB_NOTLS ties reader slots to transactions instead of the thread, which lifts
     * LMDB's one-transaction-per-thread rule for read-only ones: the event loop may
     * hold a read snapshot while a write batch is open, and gx_store_backup's own
     * reader runs while the caller holds one. Costless for a single thread.
     * No MDB_NOSYNC/MDB_NOMETASYNC/MDB_WRITEMAP: a commit returns only once fsync()ed. */
    unsigned flags = MDB_NOTLS | (s->no_sync ? MDB_NOSYNC : 0);
    rc = mdb_env_open(s->env, s->dir, flags, 0600);
    if (rc)
        return s_fail(s, rc, "cannot open the LMDB environment");

    int maxkey = mdb_env_get_maxkeysize(s->env);
    s->max_key = maxkey > 0 && maxkey < GX_STORE_MAX_KEY ? (size_t)maxkey : GX_STORE_MAX_KEY;
    MDB_stat st;
    rc = mdb_env_stat(s->env, &st);
    if (rc)
        return s_fail(s, rc, "cannot read environment statistics");
    s->page_size = st.ms_psize;

    int dead = 0;
    rc = mdb_reader_check(s->env, &dead);
    if (rc)
        return s_fail(s, rc, "cannot check the reader table");
    s->stale_readers = dead > 0 ? (unsigned)dead : 0;

    gx_err err = s_fit_map(s, map_size);
    if (!err)
        err = s_open_tables(s, fresh, has_id);
    if (!err && fresh && !s->no_sync)
        err = s_fsync_path(s, s->dir, true); /* make the new data file's directory entry durable */
    return err;
}

gx_err gx_store_open(const gx_store_opts *opts, gx_store **out)
{
    assert(opts && out);
    *out = NULL;
    gx_store *s = NULL;
    gx_err err = s_prepare(opts, &s);
    if (err)
        return err;
    bool fresh = false, has_id = false;
    err = s_check(s, &fresh, &has_id);
    if (!err && s->read_only) {
        int maxkey = mdb_env_get_maxkeysize(s->env);
        s->max_key = maxkey > 0 && maxkey < GX_STORE_MAX_KEY ? (size_t)maxkey : GX_STORE_MAX_KEY;
        if (!has_id)
            memset(s->id, 0, sizeof s->id);
    } else if (!err) {
        err = s_open_rw(s, fresh, has_id);
    }
    if (err) {
        memcpy(s_open_err, s->err, sizeof s_open_err);
        s_free(s);
        return err;
    }
    *out = s;
    return GX_OK;
}

gx_err gx_store_init_fresh(const gx_store_opts *opts, char *moved, size_t movedlen)
{
    assert(opts && !opts->read_only && moved && movedlen);
    moved[0] = '\0';
    gx_store *s = NULL;
    gx_err err = s_prepare(opts, &s);
    if (err)
        return err;
    bool fresh = false, has_id = false;
    err = s_check(s, &fresh, &has_id);
    if (!err && !fresh) {
        err = s_failf(
            s, GX_ERR_EXISTS,
            "--init-fresh refused: the store in %s is not damaged, so nothing was "
            "changed; start without --init-fresh (to start afresh on purpose, move the directory aside "
            "yourself)",
            s->dir);
        goto out;
    }
    if (err && err != GX_ERR_MALFORMED)
        goto out; /* not damage (another schema, no permission): nothing to replace */
    char path[S_PATH_MAX + sizeof S_DATA_NAME + 1], aside[S_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", s->dir, S_DATA_NAME);
    struct stat st;
    if (lstat(path, &st) == 0) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
        snprintf(aside, sizeof aside, "%s/%s.damaged-%s", s->dir, S_DATA_NAME, stamp);
        if (lstat(aside, &st) == 0 || rename(path, aside) != 0) {
            err = lstat(aside, &st) == 0
                      ? s_failf(s, GX_ERR_EXISTS, "%s already exists; try again in a second", aside)
                      : s_fail(s, errno, "cannot move %s aside", path);
            goto out;
        }
        snprintf(moved, movedlen, "%s", aside);
        s_fsync_path(s, s->dir, true);
    }
    s->damaged = false;
    err = s_open_rw(s, true, false);
out:
    if (err)
        memcpy(s_open_err, s->err, sizeof s_open_err);
    s_free(s);
    return err;
}

void gx_store_close(gx_store **sp)
{
    if (!sp || !*sp)
        return;
    assert((*sp)->open_txns == 0);
    s_free(*sp);
    *sp = NULL;
}

const char *gx_store_last_error(const gx_store *s)
{
    return s ? s->err : s_open_err;
}

const uint8_t *gx_store_id(const gx_store *s)
{
    assert(s);
    return s->id;
}

bool gx_store_id_added(const gx_store *s)
{
    assert(s);
    return s->id_added;
}

bool gx_store_table_missing(const gx_store *s, gx_table tb)
{
    assert(s && tb < GX_T__COUNT);
    return (s->missing >> tb) & 1u;
}

const char *gx_store_table_name(gx_table tb)
{
    assert(tb < GX_T__COUNT);
    return s_table_names[tb];
}

unsigned gx_store_stale_readers(const gx_store *s)
{
    assert(s);
    return s->stale_readers;
}

gx_err gx_store_failf(gx_txn *t, gx_err err, const char *fmt, ...)
{
    assert(t && fmt);
    gx_store *s = t->s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return err;
}

/* ---- transactions */

gx_err gx_store_begin(gx_store *s, bool write, gx_txn **out)
{
    assert(s && out);
    assert(!(write && s->writing)); /* one write transaction at a time */
    *out = NULL;
    if (write && s->read_only)
        return s_failf(s, GX_ERR_INVALID, "the store in %s was opened read-only", s->dir);
    gx_err err = GX_OK;
    gx_txn *t = calloc(1, sizeof *t);
    if (!t) {
        err = s_failf(s, GX_ERR_NOMEM, "out of memory beginning a transaction");
        goto out;
    }
    /* Changing the map needs every transaction of this process ended. Grow
     * ahead of need (at three quarters full) so that a request does not fail
     * merely because it crossed a doubling; MAP_FULL is the backstop. */
    if (write && s->open_txns == 0) {
        size_t map = 0, used = 0;
        if (!s->wants_growth)
            gx_store_usage(s, &map, &used);
        if (s->wants_growth || used > map / 4 * 3) {
            err = s_grow(s);
            if (err)
                goto out;
        }
    }
    unsigned flags = write ? 0 : MDB_RDONLY;
    int rc = mdb_txn_begin(s->env, NULL, flags, &t->txn);
    if (rc == MDB_MAP_RESIZED && s->open_txns == 0) {
        /* Another process (a copy tool) grew the map: adopt its size and retry once. */
        err = s_set_map(s, 0);
        if (err)
            goto out;
        rc = mdb_txn_begin(s->env, NULL, flags, &t->txn);
    }
    if (rc) {
        t->txn = NULL;
        err = s_fail(s, rc, "cannot begin a %s transaction", write ? "write" : "read");
        goto out;
    }
    t->s = s;
    t->write = write;
    s->open_txns++;
    if (write)
        s->writing = true;
out:
    if (err) {
        free(t);
        return err;
    }
    *out = t;
    return GX_OK;
}

gx_err gx_store_begin_child(gx_txn *parent, gx_txn **out)
{
    assert(parent && out);
    assert(parent->write && !parent->has_child);
    *out = NULL;
    gx_store *s = parent->s;
    gx_err err = GX_OK;
    gx_txn *t = calloc(1, sizeof *t);
    if (!t) {
        err = s_failf(s, GX_ERR_NOMEM, "out of memory beginning a child transaction");
        goto out;
    }
    int rc = mdb_txn_begin(s->env, parent->txn, 0, &t->txn);
    if (rc) {
        t->txn = NULL;
        err = s_fail(s, rc, "cannot begin a child transaction");
        goto out;
    }
    t->s = s;
    t->parent = parent;
    t->write = true;
    parent->has_child = true;
out:
    if (err) {
        free(t);
        return err;
    }
    *out = t;
    return GX_OK;
}

/* Forgets t after LMDB ended it. */
static void s_txn_ended(gx_txn *t)
{
    if (t->parent) {
        t->parent->has_child = false;
    } else {
        t->s->open_txns--;
        if (t->write)
            t->s->writing = false;
    }
    free(t);
}

gx_err gx_store_commit(gx_txn **tp)
{
    assert(tp && *tp);
    gx_txn *t = *tp;
    *tp = NULL;
    assert(!t->has_child);
    gx_store *s = t->s;
    bool child = t->parent != NULL;
    int rc = mdb_txn_commit(t->txn); /* frees the LMDB txn, aborting it on failure */
    s_txn_ended(t);
    if (!rc)
        return GX_OK;
    gx_err err = s_fail(s, rc, "cannot commit a %s", child ? "child transaction" : "transaction");
    return err == GX_ERR_STORAGE_FULL ? err : GX_ERR_IO;
}

void gx_store_abort(gx_txn **tp)
{
    if (!tp || !*tp)
        return;
    gx_txn *t = *tp;
    *tp = NULL;
    assert(!t->has_child);
    mdb_txn_abort(t->txn);
    s_txn_ended(t);
}

/* ---- records */

/* The change log entry for a put or delete of key in tb by t: what the key
 * holds now, unless this transaction logged it already (store.h). */
static gx_err s_log_change(gx_txn *t, gx_table tb, const void *key, size_t klen)
{
    gx_store *s = t->s;
    if (s->no_change_log || !gx_store_logged(tb))
        return GX_OK;
    if (9 + klen > s->max_key)
        return s_failf(s, GX_ERR_INVALID, "change log of table '%s': key of %zu bytes is too long",
                       s_table_names[tb], klen);
    MDB_val k = {klen, (void *)key}, old;
    int rc = mdb_get(t->txn, s->dbi[tb], &k, &old);
    if (rc && rc != MDB_NOTFOUND)
        return s_fail(s, rc, "cannot read table '%s' for the change log", s_table_names[tb]);
    size_t blen = rc ? 0 : old.mv_size;
    /* The key, then the value copied out of the map before the log's put moves pages. */
    if (s->scratch_cap < 9 + klen + 1 + blen) {
        size_t cap = 9 + klen + 1 + blen + 256;
        uint8_t *p = realloc(s->scratch, cap);
        if (!p)
            return s_failf(s, GX_ERR_NOMEM, "out of memory logging a change of table '%s'",
                           s_table_names[tb]);
        s->scratch = p;
        s->scratch_cap = cap;
    }
    uint8_t *lk = s->scratch, *lv = s->scratch + 9 + klen;
    gx_store_be64(lk, gx_store_txn_id(t));
    lk[8] = (uint8_t)tb;
    memcpy(lk + 9, key, klen);
    lv[0] = rc ? 0 : 1;
    if (blen)
        memcpy(lv + 1, old.mv_data, blen);
    MDB_val ck = {9 + klen, lk}, cv = {1 + blen, lv};
    rc = mdb_put(t->txn, s->dbi[GX_T_CHANGES], &ck, &cv, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return GX_OK; /* changed before in this transaction: the first before-image stands */
    if (rc)
        return s_fail(s, rc, "cannot write the change log");
    s->logged++;
    return GX_OK;
}

gx_err gx_store_put(gx_txn *t, gx_table tb, const void *key, size_t klen, const void *val, size_t vlen)
{
    assert(t && t->write && !t->has_child && tb < GX_T__COUNT);
    assert(key || klen == 0);
    assert(val || vlen == 0);
    gx_store *s = t->s;
    gx_err err = s_check_key(s, "put", tb, klen);
    if (err)
        return err;
    if (vlen > GX_STORE_MAX_VALUE)
        return s_failf(s, GX_ERR_TOO_LARGE, "put in table '%s': value of %zu bytes exceeds the %u-byte limit",
                       s_table_names[tb], vlen, (unsigned)GX_STORE_MAX_VALUE);
    if ((err = s_log_change(t, tb, key, klen)))
        return err;
    MDB_val k = {klen, (void *)key};
    MDB_val v = {vlen, (void *)val};
    int rc = mdb_put(t->txn, s->dbi[tb], &k, &v, 0);
    if (rc)
        return s_fail(s, rc, "cannot put into table '%s'", s_table_names[tb]);
    return GX_OK;
}

gx_err gx_store_get(gx_txn *t, gx_table tb, const void *key, size_t klen, const void **val, size_t *vlen)
{
    assert(t && !t->has_child && tb < GX_T__COUNT && val && vlen);
    assert(key || klen == 0);
    gx_store *s = t->s;
    *val = NULL;
    *vlen = 0;
    gx_err err = s_check_key(s, "get", tb, klen);
    if (err)
        return err;
    if (s->missing & (1u << tb))
        return GX_ERR_NOT_FOUND;
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, s->dbi[tb], &k, &v);
    if (rc == MDB_NOTFOUND)
        return GX_ERR_NOT_FOUND; /* an answer, not a failure: last_error is left alone */
    if (rc)
        return s_fail(s, rc, "cannot get from table '%s'", s_table_names[tb]);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return GX_OK;
}

gx_err gx_store_del(gx_txn *t, gx_table tb, const void *key, size_t klen)
{
    assert(t && t->write && !t->has_child && tb < GX_T__COUNT);
    assert(key || klen == 0);
    gx_store *s = t->s;
    gx_err err = s_check_key(s, "del", tb, klen);
    if (err || (err = s_log_change(t, tb, key, klen)))
        return err;
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, s->dbi[tb], &k, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return s_fail(s, rc, "cannot delete from table '%s'", s_table_names[tb]);
    return GX_OK;
}

/* Opens a cursor on the first key >= max(prefix, from) (or the first key). */
static gx_err s_seek(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *from, size_t flen,
                     MDB_cursor **cur, MDB_val *k, MDB_val *v, int *rc)
{
    gx_store *s = t->s;
    if (plen > s->max_key || flen > s->max_key)
        return s_failf(s, GX_ERR_INVALID,
                       "scan of table '%s': prefix or start key exceeds the %zu-byte limit",
                       s_table_names[tb], s->max_key);
    int r = mdb_cursor_open(t->txn, s->dbi[tb], cur);
    if (r) {
        *cur = NULL;
        return s_fail(s, r, "cannot open a cursor on table '%s'", s_table_names[tb]);
    }
    const void *start = prefix;
    size_t slen = plen;
    if (s_keycmp(from, flen, prefix, plen) > 0) {
        start = from;
        slen = flen;
    }
    k->mv_size = slen;
    k->mv_data = (void *)start;
    *rc = mdb_cursor_get(*cur, k, v, slen ? MDB_SET_RANGE : MDB_FIRST);
    return GX_OK;
}

gx_err gx_store_scan(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *from, size_t flen,
                     gx_store_visit_fn fn, void *ctx)
{
    assert(t && !t->has_child && tb < GX_T__COUNT && fn);
    assert((prefix || plen == 0) && (from || flen == 0));
    gx_store *s = t->s;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0;
    if (s->missing & (1u << tb))
        return GX_OK; /* a table an older build did not have, in a read-only store: empty */
    gx_err err = s_seek(t, tb, prefix, plen, from, flen, &cur, &k, &v, &rc);
    if (err)
        goto out;
    while (rc == 0) {
        if (!s_has_prefix(&k, prefix, plen))
            break;
        if (!fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND)
        err = s_fail(s, rc, "cannot scan table '%s'", s_table_names[tb]);
out:
    if (cur)
        mdb_cursor_close(cur);
    return err;
}

/* gx_store_del_range deleting at most max entries (0: no limit). */
static gx_err s_del_range(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *upto,
                          size_t ulen, uint64_t max, uint64_t *n);

gx_err gx_store_del_range(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *upto,
                          size_t ulen, uint64_t *n)
{
    return s_del_range(t, tb, prefix, plen, upto, ulen, 0, n);
}

static gx_err s_del_range(gx_txn *t, gx_table tb, const void *prefix, size_t plen, const void *upto,
                          size_t ulen, uint64_t max, uint64_t *n)
{
    assert(t && t->write && !t->has_child && tb < GX_T__COUNT);
    assert((prefix || plen == 0) && (upto || ulen == 0));
    gx_store *s = t->s;
    uint64_t count = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0;
    gx_err err = s_seek(t, tb, prefix, plen, NULL, 0, &cur, &k, &v, &rc);
    if (err)
        goto out;
    while (rc == 0) {
        if (!s_has_prefix(&k, prefix, plen) || s_keycmp(k.mv_data, k.mv_size, upto, ulen) >= 0 ||
            (max && count == max))
            break;
        rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
        count++;
        /* After a delete the cursor already sits on the successor; MDB_NEXT yields it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND)
        err = s_fail(s, rc, "cannot delete a range from table '%s'", s_table_names[tb]);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (n)
        *n = count;
    return err;
}

gx_err gx_store_next_id(gx_txn *t, const char *counter, uint64_t *out)
{
    assert(t && t->write && counter && out);
    gx_store *s = t->s;
    char key[GX_STORE_MAX_KEY];
    size_t nlen = strlen(counter);
    if (nlen == 0 || nlen + 3 > s->max_key)
        return s_failf(s, GX_ERR_INVALID, "counter name of %zu bytes is empty or too long", nlen);
    memcpy(key, "id:", 3);
    memcpy(key + 3, counter, nlen);

    const void *val;
    size_t vlen;
    uint64_t cur = 0;
    gx_err err = gx_store_get(t, GX_T_META, key, nlen + 3, &val, &vlen);
    if (err == GX_OK) {
        if (vlen != 8)
            return s_failf(s, GX_ERR_INTERNAL, "counter '%s' is corrupt (%zu bytes, want 8) (%s)", counter,
                           vlen, s->dir);
        cur = gx_store_from_be64(val);
    } else if (err != GX_ERR_NOT_FOUND) {
        return err;
    }
    if (cur == UINT64_MAX)
        return s_failf(s, GX_ERR_INTERNAL, "counter '%s' is exhausted", counter);
    uint8_t be[8];
    gx_store_be64(be, cur + 1);
    err = gx_store_put(t, GX_T_META, key, nlen + 3, be, sizeof be);
    if (err)
        return err;
    *out = cur + 1;
    return GX_OK;
}

gx_err gx_store_count(gx_txn *t, gx_table tb, uint64_t *out)
{
    assert(t && !t->has_child && tb < GX_T__COUNT && out);
    *out = 0;
    if (t->s->missing & (1u << tb))
        return GX_OK;
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[tb], &st);
    if (rc)
        return s_fail(t->s, rc, "cannot count table '%s'", s_table_names[tb]);
    *out = st.ms_entries;
    return GX_OK;
}

/* ---- the change log (store.h) */

uint64_t gx_store_txn_id(const gx_txn *t)
{
    assert(t && t->write);
    return (uint64_t)mdb_txn_id(t->txn);
}

bool gx_store_logged(gx_table tb)
{
    return tb < GX_T__COUNT && ((S_LOGGED >> tb) & 1u);
}

uint64_t gx_store_changes_logged(const gx_store *s)
{
    return s->logged;
}

typedef struct s_changes {
    uint64_t after;
    gx_store_change_fn fn;
    void *ctx;
    bool bad;
} s_changes;

static bool s_change_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_changes *c = ctx;
    const uint8_t *k = key, *v = val;
    if (klen < 10 || !gx_store_logged((gx_table)k[8]) || vlen < 1 || v[0] > 1 || (v[0] == 0 && vlen != 1)) {
        c->bad = true;
        return false;
    }
    return c->fn(c->ctx, gx_store_from_be64(k), (gx_table)k[8], k + 9, klen - 9, v[0] == 1, v + 1, vlen - 1);
}

gx_err gx_store_changes(gx_txn *t, uint64_t after, gx_store_change_fn fn, void *ctx)
{
    assert(t && fn);
    if (after == UINT64_MAX)
        return GX_OK;
    uint8_t from[8];
    gx_store_be64(from, after + 1);
    s_changes c = {after, fn, ctx, false};
    gx_err err = gx_store_scan(t, GX_T_CHANGES, NULL, 0, from, sizeof from, s_change_visit, &c);
    if (!err && c.bad)
        err = s_failf(t->s, GX_ERR_MALFORMED, "the change log holds an entry that cannot be one (%s)",
                      t->s->dir);
    return err;
}

gx_err gx_store_snapshot_mark(gx_txn *t, uint64_t txnid)
{
    assert(t && t->write && !t->has_child);
    if (txnid == 0)
        return gx_store_del(t, GX_T_META, S_SNAP_KEY, sizeof S_SNAP_KEY - 1);
    uint8_t be[8];
    gx_store_be64(be, txnid);
    return gx_store_put(t, GX_T_META, S_SNAP_KEY, sizeof S_SNAP_KEY - 1, be, sizeof be);
}

gx_err gx_store_prune_changes(gx_txn *t, uint64_t upto, uint64_t max, uint64_t *pruned)
{
    assert(t && t->write && !t->has_child);
    uint8_t end[8];
    gx_store_be64(end, upto == UINT64_MAX ? UINT64_MAX : upto + 1);
    return s_del_range(t, GX_T_CHANGES, NULL, 0, end, sizeof end, max, pruned);
}

gx_err gx_store_changes_newest(gx_txn *t, uint64_t *txnid)
{
    assert(t && txnid);
    *txnid = 0;
    gx_store *s = t->s;
    if (s->missing & (1u << GX_T_CHANGES))
        return GX_OK;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, s->dbi[GX_T_CHANGES], &cur);
    if (rc)
        return s_fail(s, rc, "cannot open a cursor on the change log");
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return GX_OK;
    if (rc)
        return s_fail(s, rc, "cannot read the change log");
    if (k.mv_size < 8)
        return s_failf(s, GX_ERR_MALFORMED, "the change log holds a key of %zu bytes (%s)", k.mv_size,
                       s->dir);
    *txnid = gx_store_from_be64(k.mv_data);
    return GX_OK;
}

gx_err gx_store_snapshot_txnid(gx_txn *t, uint64_t *txnid)
{
    const void *v;
    size_t vlen;
    *txnid = 0;
    gx_err err = gx_store_get(t, GX_T_META, S_SNAP_KEY, sizeof S_SNAP_KEY - 1, &v, &vlen);
    if (err)
        return err;
    if (vlen != 8)
        return s_failf(t->s, GX_ERR_MALFORMED, "the snapshot mark is %zu bytes, want 8 (%s)", vlen,
                       t->s->dir);
    *txnid = gx_store_from_be64(v);
    return GX_OK;
}

/* ---- environment */

uint64_t gx_store_txnid(gx_store *s)
{
    assert(s);
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) == 0 ? (uint64_t)info.me_last_txnid : 0;
}

void gx_store_usage(gx_store *s, size_t *map_size, size_t *used)
{
    assert(s);
    MDB_envinfo info;
    MDB_stat st;
    size_t m = 0, u = 0;
    if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
        m = info.me_mapsize;
        u = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    }
    if (map_size)
        *map_size = m;
    if (used)
        *used = u;
}

/* GX_OK when dir holds nothing but "." and "..". */
static gx_err s_check_empty(gx_store *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return s_fail(s, errno, "cannot open backup directory %s", dir);
    gx_err err = GX_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            err = s_failf(s, GX_ERR_EXISTS, "backup directory %s is not empty (it holds %s)", dir, e->d_name);
            break;
        }
    }
    closedir(d);
    return err;
}

gx_err gx_store_backup(gx_store *s, const char *dest)
{
    assert(s && dest);
    char file[S_PATH_MAX + sizeof S_DATA_NAME + 1];
    bool started = false;
    gx_err err = GX_OK;
    if (strlen(dest) >= S_PATH_MAX - 32) {
        err = s_failf(s, GX_ERR_INVALID, "backup directory path is longer than %d bytes", S_PATH_MAX - 32);
        goto out;
    }
    snprintf(file, sizeof file, "%s/%s", dest, S_DATA_NAME);
    err = s_mkdirs(s, dest, 0700);
    if (err)
        goto out;
    err = s_check_empty(s, dest);
    if (err)
        goto out;
    started = true;
    int rc = mdb_env_copy2(s->env, dest, MDB_CP_COMPACT);
    if (rc) {
        err = s_fail(s, rc, "cannot back up into %s", dest);
        goto out;
    }
    /* mdb_env_copy2 does not fsync; a backup is only a backup once it is on disk. */
    err = s_fsync_path(s, file, false);
    if (!err)
        err = s_fsync_path(s, dest, true);
out:
    if (err && started)
        unlink(file); /* never leave a partial copy that looks like a good one */
    return err;
}

/* ---- keys */

void gx_store_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t gx_store_from_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}
