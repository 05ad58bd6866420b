/* snapshot.c — the engine's lists in a file. See snapshot.h.
 *
 * Layout (8-byte words, this machine's byte order: the file never leaves it):
 *   header   "GXSNAP\0\3", txnid, fingerprint, store identity (2 words), demands,
 *            body bytes
 *   body     per demand, in the order written (a reader sorts them by id): id,
 *            n_m (held), n_elig (eligible), n_nm, n_m x (offer id, score),
 *            n_nm x (offer id, score, rule)
 *   trailer  checksum of the body's words, then of the header's */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char s_magic[8] = {'G', 'X', 'S', 'N', 'A', 'P', 0, 3};

/* The matches are read in place from the mapped file. */
_Static_assert(sizeof(gx_match) == 16 && offsetof(gx_match, score) == 8, "gx_match is (u64 offer_id, double score)");
#define S_HEADER_WORDS 7
enum { S_H_TXNID = 1, S_H_FINGERPRINT = 2, S_H_ID = 3, S_H_DEMANDS = 5, S_H_BYTES = 6 };
_Static_assert(GX_SNAPSHOT_ID_LEN == 2 * sizeof(uint64_t), "the identity is two header words");

static uint64_t s_mix(uint64_t h, uint64_t w)
{
    return (h ^ w) * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
}

static uint64_t s_sum_header(uint64_t h, const uint64_t header[S_HEADER_WORDS])
{
    for (int i = 0; i < S_HEADER_WORDS; i++)
        h = s_mix(h, header[i]);
    return h;
}

/* ------------------------------------------------------------------ writing */

#define S_BUF_WORDS (1u << 17) /* 1 MiB written at a time */

enum { S_SWEEP, S_SYNC, S_ENDED };
enum { S_RUNNING, S_DONE, S_LEFT };

struct gx_snapshot_writer {
    gx_engine *e; /* frozen while sweeping */
    int fd;       /* path.tmp, until the sync closes it */
    char path[4096], tmp[4100];
    uint64_t header[S_HEADER_WORDS];
    uint64_t *ids;      /* the demands open at the freeze, */
    size_t n_ids, next; /* swept in this order */
    uint64_t *buf;      /* words not yet written */
    size_t n_buf;
    off_t at;            /* where they go in the file */
    uint64_t sum, bytes; /* body checksum so far, body bytes */
    uint64_t demands;    /* entries written */
    int phase;
    gx_err err; /* the first failure (errno in err_no) */
    int err_no;
    pthread_t thread;  /* the sync, off the loop */
    atomic_int sync;   /* S_RUNNING, S_DONE, or S_LEFT: given up, the thread frees w */
};

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_fail(gx_snapshot_writer *w, gx_err err)
{
    if (!w->err) {
        w->err = err;
        w->err_no = errno;
    }
}

static void s_flush(gx_snapshot_writer *w)
{
    const char *p = (const char *)w->buf;
    size_t left = w->n_buf * sizeof *w->buf;
    while (left && !w->err) {
        ssize_t k = pwrite(w->fd, p, left, w->at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            s_fail(w, GX_ERR_IO);
            break;
        }
        p += k;
        left -= (size_t)k;
        w->at += k;
    }
    w->n_buf = 0;
}

static void s_word(gx_snapshot_writer *w, uint64_t v)
{
    w->sum = s_mix(w->sum, v);
    w->bytes += sizeof v;
    if (w->n_buf == S_BUF_WORDS)
        s_flush(w);
    w->buf[w->n_buf++] = v;
}

static uint64_t s_dbl(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

/* One demand's entry; a list still ranked under the options before a reload
 * is left out: the start that reads the file matches that demand afresh. */
static void s_entry(void *arg, const gx_engine_lists *l)
{
    gx_snapshot_writer *w = arg;
    if (!l->ranked || w->err)
        return;
    s_word(w, l->demand_id);
    s_word(w, l->n_m);
    s_word(w, l->n_elig);
    s_word(w, l->n_nm);
    for (size_t j = 0; j < l->n_m; j++) {
        s_word(w, l->m[j].offer_id);
        s_word(w, s_dbl(l->m[j].score));
    }
    for (size_t j = 0; j < l->n_nm; j++) {
        s_word(w, l->nm[j].offer_id);
        s_word(w, s_dbl(l->nm[j].score));
        s_word(w, (uint64_t)l->nm[j].rule);
    }
    w->demands++;
}

/* fsyncs the directory that holds path, so that a rename in it is durable. */
static int s_sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return -1;
    if (n)
        memcpy(dir, path, n);
    else
        dir[n++] = '.';
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The file made durable under its name: fsync, close, rename, fsync of the
 * directory. Runs in a thread of its own while serving (it may take long and
 * touches nothing but the file). */
static void s_free(gx_snapshot_writer *w)
{
    free(w->ids);
    free(w->buf);
    free(w);
}

static void *s_sync(void *arg)
{
    gx_snapshot_writer *w = arg;
    if (!w->err && fsync(w->fd) != 0)
        s_fail(w, GX_ERR_IO);
    if (close(w->fd) != 0)
        s_fail(w, GX_ERR_IO);
    w->fd = -1;
    bool left = atomic_load(&w->sync) == S_LEFT; /* given up: its name may be another's now */
    if (!w->err && !left && rename(w->tmp, w->path) != 0)
        s_fail(w, GX_ERR_IO);
    if (!w->err && !left && s_sync_dir(w->path) != 0)
        s_fail(w, GX_ERR_IO); /* the rename may not survive a power loss: not a snapshot to record */
    if (w->err && !left)
        unlink(w->tmp);
    if (atomic_exchange(&w->sync, S_DONE) == S_LEFT)
        s_free(w); /* nobody waits for it any more */
    return NULL;
}

gx_err gx_snapshot_begin(const char *path, gx_engine *e, const uint8_t store_id[GX_SNAPSHOT_ID_LEN],
                         uint64_t txnid, uint64_t fingerprint, gx_snapshot_writer **out)
{
    *out = NULL;
    gx_snapshot_writer *w = calloc(1, sizeof *w);
    if (!w)
        return GX_ERR_NOMEM;
    w->fd = -1;
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
        snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path) >= (int)sizeof w->tmp) {
        free(w);
        errno = ENAMETOOLONG;
        return GX_ERR_IO;
    }
    if (!(w->buf = malloc(S_BUF_WORDS * sizeof *w->buf))) {
        free(w);
        return GX_ERR_NOMEM;
    }
    /* a new file of our own: never write through whatever else has the name */
    unlink(w->tmp);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    gx_err err = w->fd < 0 ? GX_ERR_IO : gx_engine_freeze(e, s_entry, w, &w->ids, &w->n_ids);
    if (err) {
        int keep = errno;
        if (w->fd >= 0) {
            close(w->fd);
            unlink(w->tmp);
        }
        free(w->buf);
        free(w);
        errno = keep;
        return err;
    }
    w->e = e;
    memcpy(&w->header[0], s_magic, sizeof s_magic);
    w->header[S_H_TXNID] = txnid;
    w->header[S_H_FINGERPRINT] = fingerprint;
    memcpy(&w->header[S_H_ID], store_id, GX_SNAPSHOT_ID_LEN);
    w->at = sizeof w->header; /* the header goes last, at 0, with the counts */
    *out = w;
    return GX_OK;
}

/* The sweep's end: the last words out, the trailer, the header. */
static void s_seal(gx_snapshot_writer *w)
{
    gx_engine_thaw(w->e);
    w->e = NULL;
    w->header[S_H_DEMANDS] = w->demands;
    w->header[S_H_BYTES] = w->bytes;
    uint64_t sum = s_sum_header(w->sum, w->header);
    if (w->n_buf == S_BUF_WORDS)
        s_flush(w);
    w->buf[w->n_buf++] = sum;
    s_flush(w);
    if (!w->err && pwrite(w->fd, w->header, sizeof w->header, 0) != (ssize_t)sizeof w->header)
        s_fail(w, GX_ERR_IO);
}

gx_err gx_snapshot_step(gx_snapshot_writer *w, int64_t budget_us, size_t max_demands, bool *swept)
{
    *swept = w->phase != S_SWEEP;
    if (w->phase != S_SWEEP)
        return GX_OK;
    int64_t t0 = s_now_us();
    for (size_t k = 0; w->next < w->n_ids && !w->err && k < max_demands; k++) {
        gx_engine_lists l;
        if (gx_engine_frozen_take(w->e, w->ids[w->next++], &l))
            s_entry(w, &l); /* a demand's lists can be long: the clock is read after each */
        if (s_now_us() - t0 >= budget_us)
            break;
    }
    gx_err err = w->err; /* read before the thread may write it */
    if (w->next == w->n_ids || err) {
        s_seal(w);
        err = w->err;
        w->phase = S_SYNC;
        *swept = true;
        if (err || pthread_create(&w->thread, NULL, s_sync, w) != 0) {
            s_sync(w); /* a failure, or no thread: here, then */
            w->phase = S_ENDED;
            err = w->err;
        }
    }
    return err;
}

bool gx_snapshot_ended(gx_snapshot_writer *w, gx_err *err, uint64_t *bytes)
{
    if (w->phase == S_SWEEP || (w->phase == S_SYNC && atomic_load(&w->sync) != S_DONE))
        return false;
    if (w->phase == S_SYNC) {
        pthread_join(w->thread, NULL);
        w->phase = S_ENDED;
    }
    *err = w->err;
    errno = w->err_no;
    if (bytes)
        *bytes = sizeof w->header + w->bytes + sizeof(uint64_t);
    return true;
}

size_t gx_snapshot_writer_demands(const gx_snapshot_writer *w)
{
    return w->n_ids;
}

void gx_snapshot_writer_free(gx_snapshot_writer **pw)
{
    gx_snapshot_writer *w = *pw;
    if (!w)
        return;
    *pw = NULL;
    if (w->phase == S_SWEEP) {
        gx_engine_thaw(w->e);
        close(w->fd);
        unlink(w->tmp);
    } else if (w->phase == S_SYNC) {
        /* an fsync cannot be cut short, nor waited for here (a stuck disk would
         * stop the loop): the thread is left to end by itself, renames nothing,
         * and frees w */
        if (atomic_exchange(&w->sync, S_LEFT) == S_RUNNING) {
            pthread_detach(w->thread);
            return;
        }
        pthread_join(w->thread, NULL);
    }
    s_free(w);
}

gx_err gx_snapshot_write(const char *path, gx_engine *e, const uint8_t store_id[GX_SNAPSHOT_ID_LEN],
                         uint64_t txnid, uint64_t fingerprint, uint64_t *bytes)
{
    gx_snapshot_writer *w = NULL;
    gx_err err = gx_snapshot_begin(path, e, store_id, txnid, fingerprint, &w);
    if (err)
        return err;
    bool swept = false;
    while (!swept)
        gx_snapshot_step(w, INT64_MAX, SIZE_MAX, &swept);
    if (w->phase == S_SYNC) {
        pthread_join(w->thread, NULL);
        w->phase = S_ENDED;
    }
    err = w->err;
    int keep = w->err_no;
    if (!err && bytes)
        *bytes = sizeof w->header + w->bytes + sizeof(uint64_t);
    gx_snapshot_writer_free(&w);
    errno = keep;
    return err;
}

/* ------------------------------------------------------------------ reading */

/* An entry found in the body: the demand and where its words begin. */
typedef struct s_at {
    uint64_t id;
    size_t pos;
} s_at;

struct gx_snapshot {
    int fd;
    const uint64_t *map;     /* the whole file */
    size_t words;            /* its length in words */
    size_t end;              /* first word after the body */
    uint64_t demands;
    s_at *idx;               /* the entries by demand id (the file has them in the order written) */
    size_t next;             /* the next to read, in idx */
    gx_near *near;           /* near misses of the last entry, converted */
    size_t cap_near;
};

static int s_cmp_at(const void *a, const void *b)
{
    uint64_t x = ((const s_at *)a)->id, y = ((const s_at *)b)->id;
    return x < y ? -1 : x > y;
}

/* Finds every entry of the body (whose checksum held) and sorts them by
 * demand id: a snapshot written while serving has them in the order the
 * demands were first changed or reached. False with why when the body is not
 * a sequence of well-formed entries, one per demand. */
static bool s_index(gx_snapshot *s, const char *path, char *why, size_t whylen)
{
    if (s->demands > (s->end - S_HEADER_WORDS) / 4) {
        snprintf(why, whylen, "%s counts more demands than it holds", path);
        return false;
    }
    if (s->demands && !(s->idx = malloc(s->demands * sizeof *s->idx))) {
        snprintf(why, whylen, "%s: out of memory for its index", path);
        return false;
    }
    size_t pos = S_HEADER_WORDS, n = 0;
    bool sorted = true;
    while (pos < s->end) {
        size_t left = s->end - pos;
        if (left < 4 || n == s->demands)
            break;
        uint64_t a = s->map[pos + 1], el = s->map[pos + 2], b = s->map[pos + 3];
        left -= 4;
        if (a > left / 2 || b > (left - 2 * a) / 3 || el < a)
            break;
        s->idx[n] = (s_at){.id = s->map[pos], .pos = pos};
        sorted = sorted && (n == 0 || s->idx[n - 1].id < s->idx[n].id);
        n++;
        pos += 4 + 2 * a + 3 * b;
    }
    if (pos != s->end || n != s->demands) {
        snprintf(why, whylen, "%s: its entries do not fill its body", path);
        return false;
    }
    if (!sorted && n > 1)
        qsort(s->idx, n, sizeof *s->idx, s_cmp_at);
    for (size_t i = 1; i < n; i++)
        if (s->idx[i - 1].id == s->idx[i].id) {
            snprintf(why, whylen, "%s holds demand %llu twice", path, (unsigned long long)s->idx[i].id);
            return false;
        }
    return true;
}

gx_err gx_snapshot_open(const char *path, const uint8_t store_id[GX_SNAPSHOT_ID_LEN], uint64_t txnid,
                        uint64_t fingerprint, gx_snapshot **out, char *why, size_t whylen)
{
    *out = NULL;
    why[0] = '\0';
    /* O_NONBLOCK: a FIFO (or device) with the name must not hold the start in open();
     * O_NOFOLLOW: the broker writes a regular file here, never a link */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return GX_ERR_NOT_FOUND;
        snprintf(why, whylen, "cannot open %s: %s", path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return GX_ERR_INVALID;
    }
    struct stat st;
    size_t min = (S_HEADER_WORDS + 1) * sizeof(uint64_t);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s is not a regular file", path);
        close(fd);
        return GX_ERR_INVALID;
    }
    if ((size_t)st.st_size < min || st.st_size % 8) {
        snprintf(why, whylen, "%s is %lld bytes: not a snapshot", path, (long long)st.st_size);
        close(fd);
        return GX_ERR_INVALID;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(why, whylen, "cannot map %s: %s", path, strerror(errno));
        close(fd);
        return GX_ERR_INVALID;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    gx_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(map, (size_t)st.st_size);
        close(fd);
        return GX_ERR_NOMEM;
    }
    s->fd = fd;
    s->map = map;
    s->words = (size_t)st.st_size / 8;
    const uint64_t *h = s->map;
    gx_err err = GX_OK;
    /* Damage first (the checksum covers every word before it), then whose it is. */
    if (memcmp(h, s_magic, sizeof s_magic) != 0) {
        snprintf(why, whylen, "%s: not a snapshot of this format", path);
        err = GX_ERR_INVALID;
    } else if (h[S_H_BYTES] % 8 || h[S_H_BYTES] / 8 != s->words - S_HEADER_WORDS - 1) {
        snprintf(why, whylen, "%s is cut short or padded", path);
        err = GX_ERR_INVALID;
    } else {
        s->end = s->words - 1;
        s->demands = h[S_H_DEMANDS];
        uint64_t sum = 0;
        for (size_t i = S_HEADER_WORDS; i < s->end; i++)
            sum = s_mix(sum, s->map[i]);
        madvise((void *)s->map, s->words * 8, MADV_NORMAL); /* read by id from here: in no file order */
        if (s_sum_header(sum, h) != s->map[s->end]) {
            snprintf(why, whylen, "%s fails its checksum", path);
            err = GX_ERR_INVALID;
        } else if (!s_index(s, path, why, whylen)) {
            err = GX_ERR_INVALID;
        } else if (!store_id) {
            /* a reader that checks only the file (a dump) */
        } else if (memcmp(&h[S_H_ID], store_id, GX_SNAPSHOT_ID_LEN) != 0) {
            snprintf(why, whylen, "%s was written for another store (its store identity differs)", path);
            err = GX_ERR_CONFLICT;
        } else if (h[S_H_TXNID] != txnid) {
            snprintf(why, whylen,
                     "%s is of transaction %llu, not of %llu, the last snapshot the store recorded", path,
                     (unsigned long long)h[S_H_TXNID], (unsigned long long)txnid);
            err = GX_ERR_CONFLICT;
        } else if (h[S_H_FINGERPRINT] != fingerprint) {
            snprintf(why, whylen, "%s was written under other options or another vocabulary", path);
            err = GX_ERR_CONFLICT;
        }
    }
    if (err) {
        gx_snapshot_close(&s);
        return err;
    }
    *out = s;
    return GX_OK;
}

uint64_t gx_snapshot_demands(const gx_snapshot *s)
{
    return s->demands;
}

/* The entry at idx[i], converted. */
static bool s_read(gx_snapshot *s, size_t i, const gx_match **m, size_t *n_m, size_t *n_elig,
                   const gx_near **nm, size_t *n_nm)
{
    size_t pos = s->idx[i].pos;
    uint64_t a = s->map[pos + 1], el = s->map[pos + 2], b = s->map[pos + 3];
    if (gx_grow(&s->near, &s->cap_near, b, sizeof *s->near))
        return false;
    const uint64_t *w = s->map + pos + 4 + 2 * a;
    for (size_t j = 0; j < b; j++) {
        s->near[j].offer_id = w[3 * j];
        memcpy(&s->near[j].score, &w[3 * j + 1], sizeof(double));
        s->near[j].rule = w[3 * j + 2] < GX_RULE__COUNT ? (gx_rule)w[3 * j + 2] : GX_RULE_NONE;
    }
    /* gx_match is (u64, double): the matches are read in place */
    *m = (const gx_match *)(const void *)(s->map + pos + 4);
    *n_m = a;
    *n_elig = el;
    *nm = s->near;
    *n_nm = b;
    return true;
}

bool gx_snapshot_lists(gx_snapshot *s, uint64_t demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                       const gx_near **nm, size_t *n_nm)
{
    while (s->next < s->demands && s->idx[s->next].id < demand_id)
        s->next++;
    if (s->next == s->demands || s->idx[s->next].id != demand_id)
        return false;
    return s_read(s, s->next++, m, n_m, n_elig, nm, n_nm);
}

bool gx_snapshot_next(gx_snapshot *s, uint64_t *demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                      const gx_near **nm, size_t *n_nm)
{
    if (s->next == s->demands)
        return false;
    *demand_id = s->idx[s->next].id;
    return s_read(s, s->next++, m, n_m, n_elig, nm, n_nm);
}

void gx_snapshot_close(gx_snapshot **ps)
{
    gx_snapshot *s = *ps;
    if (!s)
        return;
    if (s->map)
        munmap((void *)s->map, s->words * 8);
    if (s->fd >= 0)
        close(s->fd);
    free(s->idx);
    free(s->near);
    free(s);
    *ps = NULL;
}
