/* snapshot.c — the engine's lists in a file. See snapshot.h.
 *
 * Layout (8-byte words, this machine's byte order: the file never leaves it):
 *   header   "GXSNAP\0\3", txnid, fingerprint, store identity (2 words), demands,
 *            body bytes
 *   body     per demand, by increasing id: id, n_m (held), n_elig (eligible), n_nm,
 *            n_m x (offer id, score), n_nm x (offer id, score, rule)
 *   trailer  checksum of the body's words, then of the header's */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

typedef struct s_out {
    FILE *f;
    uint64_t sum;
    uint64_t bytes;   /* body bytes written */
    bool bad;
} s_out;

static void s_word(s_out *o, uint64_t w)
{
    o->sum = s_mix(o->sum, w);
    o->bytes += sizeof w;
    if (fwrite(&w, sizeof w, 1, o->f) != 1)
        o->bad = true;
}

static uint64_t s_dbl(double d)
{
    uint64_t w;
    memcpy(&w, &d, sizeof w);
    return w;
}

typedef struct s_ids {
    uint64_t *v;
    size_t n, cap;
    bool oom;
} s_ids;

static void s_collect(void *ctx, const gx_demand *d, const gx_firm *owner, size_t n_matches,
                      const uint32_t nm_by_rule[GX_RULE__COUNT])
{
    s_ids *ids = ctx;
    if (gx_grow(&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v)) {
        ids->oom = true;
        return;
    }
    ids->v[ids->n++] = d->id;
}

static int s_cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
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

gx_err gx_snapshot_write(const char *path, const gx_engine *e, const uint8_t store_id[GX_SNAPSHOT_ID_LEN],
                         uint64_t txnid, uint64_t fingerprint, uint64_t *bytes)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return GX_ERR_IO;
    }
    s_ids ids = {0};
    gx_engine_each_demand(e, s_collect, &ids);
    if (ids.oom) {
        free(ids.v);
        return GX_ERR_NOMEM;
    }
    /* a list still ranked under the options before a reload is left out: the
     * start that reads the file matches that demand afresh, under the new ones */
    size_t w = 0;
    for (size_t i = 0; i < ids.n; i++)
        if (gx_engine_ranked(e, ids.v[i]))
            ids.v[w++] = ids.v[i];
    ids.n = w;
    if (ids.n > 1)
        qsort(ids.v, ids.n, sizeof *ids.v, s_cmp_id);
    /* a new file of our own: never write through whatever else has the name */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    s_out o = {.f = fd >= 0 ? fdopen(fd, "wb") : NULL};
    if (!o.f) {
        if (fd >= 0)
            close(fd);
        free(ids.v);
        return GX_ERR_IO;
    }
    setvbuf(o.f, NULL, _IOFBF, 1 << 20);
    uint64_t header[S_HEADER_WORDS] = {0};
    memcpy(&header[0], s_magic, sizeof s_magic);
    header[S_H_TXNID] = txnid;
    header[S_H_FINGERPRINT] = fingerprint;
    memcpy(&header[S_H_ID], store_id, GX_SNAPSHOT_ID_LEN);
    header[S_H_DEMANDS] = ids.n;
    if (fwrite(header, sizeof header, 1, o.f) != 1)
        o.bad = true;
    for (size_t i = 0; i < ids.n && !o.bad; i++) {
        size_t n_m, n_nm;
        const gx_match *m = gx_engine_matches(e, ids.v[i], &n_m);
        const gx_near *nm = gx_engine_near_list(e, ids.v[i], &n_nm);
        s_word(&o, ids.v[i]);
        s_word(&o, n_m);
        s_word(&o, gx_engine_eligible(e, ids.v[i]));
        s_word(&o, n_nm);
        for (size_t j = 0; j < n_m; j++) {
            s_word(&o, m[j].offer_id);
            s_word(&o, s_dbl(m[j].score));
        }
        for (size_t j = 0; j < n_nm; j++) {
            s_word(&o, nm[j].offer_id);
            s_word(&o, s_dbl(nm[j].score));
            s_word(&o, (uint64_t)nm[j].rule);
        }
    }
    free(ids.v);
    header[S_H_BYTES] = o.bytes;
    uint64_t sum = s_sum_header(o.sum, header);
    if (o.bad || fwrite(&sum, sizeof sum, 1, o.f) != 1 || fseek(o.f, 0, SEEK_SET) != 0 ||
        fwrite(header, sizeof header, 1, o.f) != 1 || fflush(o.f) != 0 || fsync(fileno(o.f)) != 0) {
        int keep = errno;
        fclose(o.f);
        unlink(tmp);
        errno = keep;
        return GX_ERR_IO;
    }
    if (fclose(o.f) != 0 || rename(tmp, path) != 0) {
        int keep = errno;
        unlink(tmp);
        errno = keep;
        return GX_ERR_IO;
    }
    s_sync_dir(path);
    if (bytes)
        *bytes = sizeof header + o.bytes + sizeof sum;
    return GX_OK;
}

/* ------------------------------------------------------------------ reading */

struct gx_snapshot {
    int fd;
    const uint64_t *map;     /* the whole file */
    size_t words;            /* its length in words */
    size_t pos;              /* next body word */
    size_t end;              /* first word after the body */
    uint64_t demands;
    gx_near *near;           /* near misses of the last entry, converted */
    size_t cap_near;
};

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
        s->pos = S_HEADER_WORDS;
        s->end = s->words - 1;
        s->demands = h[S_H_DEMANDS];
        uint64_t sum = 0;
        for (size_t i = s->pos; i < s->end; i++)
            sum = s_mix(sum, s->map[i]);
        if (s_sum_header(sum, h) != s->map[s->end]) {
            snprintf(why, whylen, "%s fails its checksum", path);
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

bool gx_snapshot_lists(gx_snapshot *s, uint64_t demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                       const gx_near **nm, size_t *n_nm)
{
    while (s->pos + 4 <= s->end) {
        uint64_t id = s->map[s->pos], a = s->map[s->pos + 1], el = s->map[s->pos + 2], b = s->map[s->pos + 3];
        size_t left = s->end - s->pos - 4;
        if (a > left / 2 || b > (left - 2 * a) / 3 || el < a) {
            s->pos = s->end; /* the checksum held, so this is not damage: treat as the end */
            return false;
        }
        size_t next = s->pos + 4 + 2 * a + 3 * b;
        if (id > demand_id)
            return false;
        if (id < demand_id) {
            s->pos = next;
            continue;
        }
        if (gx_grow(&s->near, &s->cap_near, b, sizeof *s->near))
            return false;
        const uint64_t *w = s->map + s->pos + 4 + 2 * a;
        for (size_t i = 0; i < b; i++) {
            s->near[i].offer_id = w[3 * i];
            memcpy(&s->near[i].score, &w[3 * i + 1], sizeof(double));
            s->near[i].rule = w[3 * i + 2] < GX_RULE__COUNT ? (gx_rule)w[3 * i + 2] : GX_RULE_NONE;
        }
        /* gx_match is (u64, double): the matches are read in place */
        *m = (const gx_match *)(const void *)(s->map + s->pos + 4);
        *n_m = a;
        *n_elig = el;
        *nm = s->near;
        *n_nm = b;
        s->pos = next;
        return true;
    }
    return false;
}

bool gx_snapshot_next(gx_snapshot *s, uint64_t *demand_id, const gx_match **m, size_t *n_m, size_t *n_elig,
                      const gx_near **nm, size_t *n_nm)
{
    if (s->pos + 4 > s->end)
        return false;
    *demand_id = s->map[s->pos];
    return gx_snapshot_lists(s, *demand_id, m, n_m, n_elig, nm, n_nm);
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
    free(s->near);
    free(s);
    *ps = NULL;
}
