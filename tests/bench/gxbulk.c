/* gxbulk — writes workload postings straight into a stopped broker's store.
 *
 * Growing a broker to 10^6 open postings through its socket takes hours on a
 * small machine (every posting is matched and its notices written durably);
 * the restart and memory rows of tests/bench/run need that size, not that
 * history. gxbulk appends preload postings g = START .. START+COUNT-1 (the
 * numbering of gxload: g even is workload demand g/2, g odd offer g/2, owned
 * by its workload firm) to the data directory of a STOPPED gongxud, through
 * the broker's own store and record encoders, as the broker would hold them
 * after posting: ids from the store's posting counter, state OPEN, revision 1.
 * Nothing is matched and no notice is written: the next start of gongxud
 * finds no usable engine snapshot (the store moved on) and matches every pair,
 * as after a crash. The firms must already be registered (gxload setup) with
 * the same --seed, --firms and --now. A running gongxud holds the store's
 * lock, and gxbulk then refuses to start: a live engine would not see the
 * postings, and the snapshot of its next clean stop would claim it had.
 *
 * Commits every --batch postings (durably unless --no-sync); prints one JSON
 * line on stdout, progress on stderr. Loopback-free: it only touches files. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "store.h"
#include "workload.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_usage(FILE *to)
{
    fprintf(to, "usage: gxbulk --data DIR --now T [--seed S] [--firms F] --start G --count N\n"
                "              [--batch B] [--map-max-mb M] [--no-sync] [--progress S]\n"
                "  writes preload postings G..G+N-1 (gxload's numbering) into the store of a\n"
                "  stopped gongxud; see the comment at the top of tests/bench/gxbulk.c\n");
}

static bool s_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* Puts posting g (new id from the counter) into t: its record under its id in
 * the demands or offers table, as the broker's put does. */
static gx_err s_put(gx_txn *t, const gx_wl_opts *wl, uint64_t g)
{
    bool demand = g % 2 == 0;
    gx_demand d = {0};
    gx_offer o = {0};
    gx_buf rec = {0};
    uint64_t id = 0;
    gx_err err = gx_store_next_id(t, "posting", &id);
    if (!err && demand && !(err = gx_wl_demand(wl, g / 2, &d))) {
        d.id = id;
        err = gx_codec_encode_demand(&d, &rec);
    } else if (!err && !demand && !(err = gx_wl_offer(wl, g / 2, &o))) {
        o.id = id;
        err = gx_codec_encode_offer(&o, &rec);
    }
    if (!err) {
        uint8_t k[8];
        gx_store_be64(k, id);
        err = gx_store_put(t, demand ? GX_T_DEMANDS : GX_T_OFFERS, k, 8, rec.data, rec.len);
    }
    gx_demand_fini(&d);
    gx_offer_fini(&o);
    gx_buf_fini(&rec);
    return err;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t seed = 1, firms = 1000, now = 0, start = 0, count = 0, batch = 10000, map_max_mb = 65536;
    bool no_sync = false, have_now = false, have_count = false;
    double progress = 5;
    static const struct option lo[] = {
        {"data", 1, 0, 'd'},   {"seed", 1, 0, 's'},  {"firms", 1, 0, 'f'},      {"now", 1, 0, 'n'},
        {"start", 1, 0, 'g'},  {"count", 1, 0, 'c'}, {"batch", 1, 0, 'b'},      {"map-max-mb", 1, 0, 'm'},
        {"no-sync", 0, 0, 'S'}, {"progress", 1, 0, 'p'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, li = 0;
    while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
        bool ok = true;
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': ok = s_u64(optarg, &seed); break;
        case 'f': ok = s_u64(optarg, &firms) && firms >= 2; break;
        case 'n': ok = have_now = s_u64(optarg, &now); break;
        case 'g': ok = s_u64(optarg, &start); break;
        case 'c': ok = have_count = s_u64(optarg, &count); break;
        case 'b': ok = s_u64(optarg, &batch) && batch >= 1; break;
        case 'm': ok = s_u64(optarg, &map_max_mb) && map_max_mb >= 1; break;
        case 'S': no_sync = true; break;
        case 'p': progress = atof(optarg); ok = progress > 0; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 64;
        }
        if (!ok) {
            fprintf(stderr, "gxbulk: bad value for --%s: '%s'\n", lo[li].name, optarg ? optarg : "");
            s_usage(stderr);
            return 64;
        }
    }
    if (!dir || !have_now || !have_count || optind != argc) {
        s_usage(stderr);
        return 64;
    }
    gx_store_opts so = {.dir = dir, .map_size = 256u << 20, .map_max = (size_t)map_max_mb << 20, .no_sync = no_sync};
    gx_store *st = NULL;
    gx_err err = gx_store_open(&so, &st);
    if (err) {
        fprintf(stderr, "gxbulk: cannot open the store in %s: %s (%s)\n", dir, gx_err_str(err),
                gx_store_last_error(NULL));
        return 1;
    }
    gx_wl_opts wl = {.seed = seed, .firms = (size_t)firms, .now = (int64_t)now};
    double t0 = s_now(), last = t0;
    uint64_t done = 0;
    while (!err && done < count) {
        gx_txn *t = NULL;
        if ((err = gx_store_begin(st, true, &t)))
            break;
        uint64_t n = count - done < batch ? count - done : batch;
        for (uint64_t i = 0; !err && i < n; i++)
            err = s_put(t, &wl, start + done + i);
        if (err) {
            fprintf(stderr, "gxbulk: posting %" PRIu64 ": %s (%s)\n", start + done, gx_err_str(err),
                    gx_store_last_error(st));
            gx_store_abort(&t);
            break;
        }
        if ((err = gx_store_commit(&t))) {
            fprintf(stderr, "gxbulk: commit: %s (%s)\n", gx_err_str(err), gx_store_last_error(st));
            break;
        }
        done += n;
        double tn = s_now();
        if (tn - last >= progress || done == count) {
            fprintf(stderr, "gxbulk: %" PRIu64 "/%" PRIu64 " postings written, %.0f/s\n", done, count,
                    (double)done / (tn - t0 > 0 ? tn - t0 : 1e-9));
            last = tn;
        }
    }
    double secs = s_now() - t0;
    gx_store_close(&st);
    if (err)
        return 1;
    printf("{\"written\":%" PRIu64 ",\"start\":%" PRIu64 ",\"seconds\":%.3f,\"per_s\":%.1f}\n", done, start, secs,
           secs > 0 ? (double)done / secs : 0.0);
    return 0;
}
