/* pg_lat.h — latency samples and clocks for floor_bench and pg_bench.
 *
 * A sample set is a growable array of nanosecond latencies, one per thread,
 * merged at the end and sorted for exact percentiles. Capped (LAT_CAP samples
 * per set): a run long enough to exceed it keeps counting but stops sampling,
 * and says so on stderr. Header-only: both programs are single files. */
#ifndef GX_BENCH_LAT_H
#define GX_BENCH_LAT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAT_CAP (32u * 1000 * 1000) /* samples per set: 256 MB at most */

typedef struct lat_set {
    uint64_t *v;   /* n samples, ns */
    size_t n;      /* count */
    size_t cap;    /* allocated */
    size_t dropped; /* samples not kept because of LAT_CAP or no memory */
} lat_set;

static inline uint64_t lat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void lat_add(lat_set *s, uint64_t ns)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        if (nc > LAT_CAP)
            nc = LAT_CAP;
        uint64_t *nv = nc > s->cap ? realloc(s->v, nc * sizeof *nv) : NULL;
        if (!nv) {
            s->dropped++;
            return;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = ns;
}

/* Moves every sample of src into dst; src is left empty. */
static inline void lat_merge(lat_set *dst, lat_set *src)
{
    for (size_t i = 0; i < src->n; i++)
        lat_add(dst, src->v[i]);
    dst->dropped += src->dropped;
    free(src->v);
    memset(src, 0, sizeof *src);
}

static int lat_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static inline void lat_sort(lat_set *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, lat_cmp);
}

/* The q-quantile (0..1) of a sorted set, in microseconds; 0 when empty. */
static inline double lat_q_us(const lat_set *s, double q)
{
    if (!s->n)
        return 0;
    size_t i = (size_t)(q * (double)s->n);
    if (i >= s->n)
        i = s->n - 1;
    return (double)s->v[i] / 1000.0;
}

static inline void lat_free(lat_set *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Sleeps until the monotonic clock reads at least t_ns. */
static inline void lat_sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u), .tv_nsec = (long)(t_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

#endif
