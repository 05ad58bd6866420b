/* engine_bench — the matching engine alone, on the city-shaped workload.
 *
 *   engine_bench [--seed S] [--sizes N1,N2,...] [--demands M] [--samples X]
 *   engine_bench --rebuild N [--seed S]
 *
 * For each size N: an engine with the workload's firms and N open offers
 * (loaded as at start, effects discarded), then X new demands, each timed
 * from the call to its return with every effect collected (matches, shortlist,
 * near misses): p50/p99/max per demand, matches and near misses found, and the
 * heap bytes per open offer (glibc mallinfo2, or anonymous RSS where a
 * sanitizer replaces the allocator; firms excluded). Then the other
 * side: an engine with M open demands and X new offers timed the same way.
 * Progress on stderr; one JSON line on stdout:
 *   {"seed":S,"rows":[{"open_offers":N,"demand_p50_us":..,"demand_p99_us":..,
 *     "demand_max_us":..,"matches_per_demand":..,"near_per_demand":..,
 *     "bytes_per_posting":..,"load_s":..,"pairs_per_demand":..}],
 *    "offer":{"open_demands":M,"offer_p50_us":..,"offer_p99_us":..,
 *     "offer_max_us":..,"matches_per_offer":..,"bytes_per_posting":..,"load_s":..}}
 *
 * --rebuild N: what gongxud does at start, without the store: N/2 offers,
 * then N/2 demands (each matched against the offers), effects discarded.
 * Prints {"postings":N,"rebuild_s":..,"offers_s":..,"demands_s":..,
 * "bytes_per_posting":..,"matches":..,"pairs_evaluated":..,"us_per_pair":..} — a
 * lower bound of restart-to-ready; us_per_pair is the demands' time over the pairs
 * they evaluated (gx_engine_stats.pairs_evaluated: calls of gx_rules_classify), so
 * it carries the index lookups, ranking and linking too. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "workload.h"

#define S_NOW 1795000000 /* 2026-11-18: fixed, so runs are comparable */
#define S_MAX_SIZES 8

static const char *const s_three[] = {"410611", "hebi.etdz", "hebi.urdz"};

static double s_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes allocated from the heap: glibc's own count, or, where another
 * allocator stands in (ASan's reports nothing to mallinfo2), the process's
 * anonymous resident memory, a coarser upper bound. */
static size_t s_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    if (mi.uordblks + mi.hblkhd > 0)
        return mi.uordblks + mi.hblkhd;
    size_t kb = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void s_die(const char *what, gx_err err)
{
    fprintf(stderr, "engine_bench: %s: %s\n", what, gx_err_str(err));
    exit(1);
}

static size_t s_firms_for(size_t n)
{
    size_t f = n / 20;
    return f < 500 ? 500 : f > 50000 ? 50000 : f;
}

static gx_engine *s_engine(const gx_wl_opts *wl)
{
    gx_engine_opts o;
    gx_engine_opts_default(&o);
    o.rules.three_districts = s_three;
    o.rules.n_three_districts = 3;
    gx_engine *e;
    gx_err err = gx_engine_new(&o, &e);
    if (err)
        s_die("engine", err);
    for (size_t i = 0; i < wl->firms; i++) {
        gx_firm f = {0};
        if ((err = gx_wl_firm(wl, i, &f)) || (err = gx_engine_put_firm(e, &f, wl->now, NULL)))
            s_die("firm", err);
        gx_firm_fini(&f);
    }
    return e;
}

/* Loads n postings (offers when offers, else demands) with ids from 1, index
 * base 0, printing progress. Returns seconds taken. */
static double s_load(gx_engine *e, const gx_wl_opts *wl, size_t n, int offers)
{
    double t0 = s_mono(), last = t0;
    for (size_t i = 0; i < n; i++) {
        gx_err err;
        if (offers) {
            gx_offer o = {0};
            if ((err = gx_wl_offer(wl, i, &o)))
                s_die("workload offer", err);
            o.id = i + 1;
            err = gx_engine_add_offer(e, &o, wl->now, NULL);
            gx_offer_fini(&o);
        } else {
            gx_demand d = {0};
            if ((err = gx_wl_demand(wl, i, &d)))
                s_die("workload demand", err);
            d.id = i + 1;
            err = gx_engine_add_demand(e, &d, wl->now, NULL);
            gx_demand_fini(&d);
        }
        if (err)
            s_die("load", err);
        double t = s_mono();
        if (t - last >= 5) {
            fprintf(stderr, "engine_bench:   loaded %zu of %zu %s (%.0f/s)\n", i + 1, n, offers ? "offers" : "demands",
                    (double)(i + 1) / (t - t0));
            last = t;
        }
    }
    return s_mono() - t0;
}

typedef struct s_result {
    double p50, p99, max, matches, near, bytes, load_s;
    double pairs; /* pairs evaluated (gx_rules_classify calls) per sample */
} s_result;

/* Times `samples` new postings of the other side against an engine holding n. */
static s_result s_run(const gx_wl_opts *wl, size_t n, size_t samples, int demands_new)
{
    s_result r = {0};
    gx_engine *e = s_engine(wl);
    size_t h0 = s_heap();
    fprintf(stderr, "engine_bench: %zu open %s, %zu firms\n", n, demands_new ? "offers" : "demands", wl->firms);
    r.load_s = s_load(e, wl, n, demands_new);
    size_t h1 = s_heap();
    r.bytes = n && h1 > h0 ? (double)(h1 - h0) / (double)n : 0;
    double *lat = calloc(samples ? samples : 1, sizeof *lat);
    gx_fxv fx = {0};
    size_t matches = 0, near = 0;
    gx_engine_stats st0, st1;
    gx_engine_counts(e, &st0);
    for (size_t i = 0; i < samples; i++) {
        uint64_t idx = (uint64_t)n + 1000000000ull + i; /* postings never loaded */
        uint64_t id = (uint64_t)n + 1 + i;
        gx_err err;
        fx.n = 0;
        double t0;
        if (demands_new) {
            gx_demand d = {0};
            if ((err = gx_wl_demand(wl, idx, &d)))
                s_die("workload demand", err);
            d.id = id;
            t0 = s_mono();
            err = gx_engine_add_demand(e, &d, wl->now, &fx);
            lat[i] = (s_mono() - t0) * 1e6;
            gx_demand_fini(&d);
        } else {
            gx_offer o = {0};
            if ((err = gx_wl_offer(wl, idx, &o)))
                s_die("workload offer", err);
            o.id = id;
            t0 = s_mono();
            err = gx_engine_add_offer(e, &o, wl->now, &fx);
            lat[i] = (s_mono() - t0) * 1e6;
            gx_offer_fini(&o);
        }
        if (err)
            s_die("sample", err);
        for (size_t j = 0; j < fx.n; j++) {
            matches += fx.v[j].type == GX_FX_MATCH;
            near += fx.v[j].type == GX_FX_NEAR_MISS;
        }
    }
    qsort(lat, samples, sizeof *lat, s_cmp_d);
    r.p50 = s_pct(lat, samples, 0.50);
    r.p99 = s_pct(lat, samples, 0.99);
    r.max = samples ? lat[samples - 1] : 0;
    r.matches = samples ? (double)matches / (double)samples : 0;
    r.near = samples ? (double)near / (double)samples : 0;
    gx_engine_counts(e, &st1);
    r.pairs = samples ? (double)(st1.pairs_evaluated - st0.pairs_evaluated) / (double)samples : 0;
    fprintf(stderr, "engine_bench:   p50 %.1f us p99 %.1f us max %.1f us; %.1f matches, %.1f near misses each\n", r.p50,
            r.p99, r.max, r.matches, r.near);
    gx_fxv_fini(&fx);
    free(lat);
    gx_engine_destroy(&e);
    return r;
}

static int s_rebuild(gx_wl_opts *wl, size_t n)
{
    wl->firms = s_firms_for(n);
    gx_engine *e = s_engine(wl);
    size_t h0 = s_heap();
    fprintf(stderr, "engine_bench: rebuild of %zu postings (%zu firms)\n", n, wl->firms);
    double off_s = s_load(e, wl, n / 2, 1);
    fprintf(stderr, "engine_bench:   %zu offers in %.1f s\n", n / 2, off_s);
    double t0 = s_mono(), last = t0;
    for (size_t i = 0; i < n - n / 2; i++) {
        gx_demand d = {0};
        gx_err err = gx_wl_demand(wl, i, &d);
        d.id = (uint64_t)n + 1 + i; /* after the offers' ids */
        if (err || (err = gx_engine_add_demand(e, &d, wl->now, NULL)))
            s_die("rebuild demand", err);
        gx_demand_fini(&d);
        if (s_mono() - last >= 10) {
            last = s_mono();
            fprintf(stderr, "engine_bench:   %zu of %zu demands (%.0f/s)\n", i + 1, n - n / 2,
                    (double)(i + 1) / (last - t0));
        }
    }
    double dem_s = s_mono() - t0;
    size_t h1 = s_heap();
    gx_engine_stats st;
    gx_engine_stats_get(e, &st);
    /* every pair is evaluated while the demands go in (no demand is open while the offers load) */
    printf("{\"postings\":%zu,\"rebuild_s\":%.3f,\"offers_s\":%.3f,\"demands_s\":%.3f,"
           "\"bytes_per_posting\":%.0f,\"matches\":%llu,\"pairs_evaluated\":%llu,\"us_per_pair\":%.3f}\n",
           n, off_s + dem_s, off_s, dem_s, h1 > h0 ? (double)(h1 - h0) / (double)n : 0.0,
           (unsigned long long)st.matches, (unsigned long long)st.pairs_evaluated,
           st.pairs_evaluated ? dem_s * 1e6 / (double)st.pairs_evaluated : 0.0);
    gx_engine_destroy(&e);
    return 0;
}

int main(int argc, char **argv)
{
    gx_wl_opts wl = {.seed = 1, .now = S_NOW};
    size_t sizes[S_MAX_SIZES] = {10000, 100000, 1000000}, n_sizes = 3, demands = 100000, samples = 1000;
    size_t rebuild = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--seed") && v) {
            wl.seed = strtoull(v, NULL, 10);
        } else if (!strcmp(argv[i], "--sizes") && v) {
            n_sizes = 0;
            for (char *p = (char *)v; *p && n_sizes < S_MAX_SIZES; p += *p == ',')
                sizes[n_sizes++] = strtoul(p, &p, 10);
        } else if (!strcmp(argv[i], "--demands") && v) {
            demands = strtoul(v, NULL, 10);
        } else if (!strcmp(argv[i], "--rebuild") && v) {
            rebuild = strtoul(v, NULL, 10);
        } else if (!strcmp(argv[i], "--samples") && v) {
            samples = strtoul(v, NULL, 10);
        } else {
            fprintf(stderr, "usage: engine_bench [--seed S] [--sizes N,..] [--demands M] [--samples X]\n");
            return 64;
        }
    }
    if (rebuild)
        return s_rebuild(&wl, rebuild);
    if (!samples || samples > 1000000 || !n_sizes) {
        fprintf(stderr, "engine_bench: --samples must be 1..1000000 and --sizes non-empty\n");
        return 64;
    }
    printf("{\"seed\":%llu,\"rows\":[", (unsigned long long)wl.seed);
    for (size_t s = 0; s < n_sizes; s++) {
        wl.firms = s_firms_for(sizes[s]);
        s_result r = s_run(&wl, sizes[s], samples, 1);
        printf("%s{\"open_offers\":%zu,\"firms\":%zu,\"demand_p50_us\":%.2f,\"demand_p99_us\":%.2f,"
               "\"demand_max_us\":%.2f,\"matches_per_demand\":%.2f,\"near_per_demand\":%.2f,"
               "\"bytes_per_posting\":%.0f,\"load_s\":%.2f,\"pairs_per_demand\":%.1f}",
               s ? "," : "", sizes[s], wl.firms, r.p50, r.p99, r.max, r.matches, r.near, r.bytes, r.load_s,
               r.pairs);
        fflush(stdout);
    }
    wl.firms = s_firms_for(demands);
    s_result r = s_run(&wl, demands, samples, 0);
    printf("],\"offer\":{\"open_demands\":%zu,\"firms\":%zu,\"offer_p50_us\":%.2f,\"offer_p99_us\":%.2f,"
           "\"offer_max_us\":%.2f,\"matches_per_offer\":%.2f,\"bytes_per_posting\":%.0f,\"load_s\":%.2f}}\n",
           demands, wl.firms, r.p50, r.p99, r.max, r.matches, r.bytes, r.load_s);
    return 0;
}
