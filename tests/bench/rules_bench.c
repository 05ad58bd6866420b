/* rules_bench — the cost of one evaluated pair: gx_rules_classify on the
 * postings' strings against gx_rules_classify_prep on prepared records.
 *
 *   rules_bench [--seed S] [--firms F] [--demands D] [--offers O] [--pairs N]
 *
 * Builds the workload's F firms, D demands and O offers (workload.h), their
 * prepared records in one intern table, then up to N plausible pairs: a
 * demand and an offer that serves its kind and works in one of its process
 * families (the first part of a wanted process, "casting" for
 * "casting.die"), about N/D per demand — the pairs the engine's index hands
 * to the rules. Checks that both ways give the same verdict, rule and score
 * on every pair, then times each over all the pairs, three times, and prints
 * the fastest run as ns per pair, the verdict counts of each (equal when they
 * agree), and what preparing cost; then the same over the pairs that
 * are matches or near misses, for which every rule and the score run. Exits 1 when the two disagree.
 * Progress on stderr; one JSON line on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prep.h"
#include "workload.h"

#define S_NOW 1795000000 /* 2026-11-18, as engine_bench */

static const char *const s_three[] = {"410611", "hebi.etdz", "hebi.urdz"};

static double s_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_die(const char *what, gx_err err)
{
    fprintf(stderr, "rules_bench: %s: %s\n", what, gx_err_str(err));
    exit(2);
}

static size_t s_arg(int argc, char **argv, const char *name, size_t def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            char *end;
            unsigned long long v = strtoull(argv[i + 1], &end, 10);
            if (*end || end == argv[i + 1]) {
                fprintf(stderr, "rules_bench: %s wants a number, got \"%s\"\n", name, argv[i + 1]);
                exit(2);
            }
            return (size_t)v;
        }
    return def;
}

typedef struct s_pair {
    uint32_t d, o;   /* demand and offer index */
    uint32_t df, of; /* their firms' */
} s_pair;

typedef struct s_counts {
    size_t match, near, none; /* verdicts */
    double score_sum;         /* keeps the work observable */
} s_counts;

static const gx_firm *g_firms;
static int s_cmp_firm(const void *key, const void *f)
{
    return strcmp(key, ((const gx_firm *)f)->id);
}
static int s_cmp_firm2(const void *a, const void *b)
{
    return strcmp(((const gx_firm *)a)->id, ((const gx_firm *)b)->id);
}

/* The firm index of owner id, firms sorted by id. */
static uint32_t s_firm_of(const char *owner, size_t n)
{
    const gx_firm *f = bsearch(owner, g_firms, n, sizeof *g_firms, s_cmp_firm);
    if (!f)
        s_die("posting of an unknown firm", GX_ERR_NOT_FOUND);
    return (uint32_t)(f - g_firms);
}

/* True when some process of o starts with the first part of some wanted
 * process of d. */
static bool s_family(const gx_demand *d, const gx_offer *o)
{
    for (uint32_t i = 0; i < d->processes.n; i++) {
        const char *w = d->processes.v[i];
        size_t n = strcspn(w, ".");
        for (uint32_t j = 0; j < o->processes.n; j++)
            if (strncmp(o->processes.v[j], w, n) == 0 &&
                (o->processes.v[j][n] == '\0' || o->processes.v[j][n] == '.'))
                return true;
    }
    return false;
}

static void s_count(s_counts *c, gx_pair p, double score)
{
    c->match += p == GX_PAIR_MATCH;
    c->near += p == GX_PAIR_NEAR;
    c->none += p == GX_PAIR_NONE;
    c->score_sum += score;
}

int main(int argc, char **argv)
{
    gx_wl_opts wl = {
        .seed = s_arg(argc, argv, "--seed", 1), .firms = s_arg(argc, argv, "--firms", 2000), .now = S_NOW};
    size_t nd = s_arg(argc, argv, "--demands", 2000), no = s_arg(argc, argv, "--offers", 5000);
    size_t want = s_arg(argc, argv, "--pairs", 200000);
    if (wl.firms < 2 || !nd || !no || !want || nd > UINT32_MAX || no > UINT32_MAX) {
        fprintf(stderr,
                "rules_bench: --firms must be at least 2, --demands, --offers and --pairs at least 1\n");
        return 2;
    }
    gx_rules_opts ro;
    gx_rules_opts_default(&ro);
    ro.three_districts = s_three;
    ro.n_three_districts = 3;
    gx_firm *f = calloc(wl.firms, sizeof *f);
    gx_demand *d = calloc(nd, sizeof *d);
    gx_offer *o = calloc(no, sizeof *o);
    gx_prep_firm *pf = calloc(wl.firms, sizeof *pf);
    gx_prep_demand *pd = calloc(nd, sizeof *pd);
    gx_prep_offer *po = calloc(no, sizeof *po);
    s_pair *pairs = calloc(want, sizeof *pairs);
    if (!f || !d || !o || !pf || !pd || !po || !pairs)
        s_die("memory", GX_ERR_NOMEM);
    gx_err err;
    for (size_t i = 0; i < wl.firms; i++)
        if ((err = gx_wl_firm(&wl, i, &f[i])))
            s_die("firm", err);
    qsort(f, wl.firms, sizeof *f, s_cmp_firm2);
    g_firms = f;
    for (size_t i = 0; i < nd; i++)
        if ((err = gx_wl_demand(&wl, i, &d[i])))
            s_die("demand", err);
    for (size_t i = 0; i < no; i++)
        if ((err = gx_wl_offer(&wl, i, &o[i])))
            s_die("offer", err);

    /* preparing: what the engine pays once per posting (and per firm) */
    gx_intern in;
    gx_intern_init(&in);
    double t0 = s_mono();
    for (size_t i = 0; i < wl.firms; i++)
        if ((err = gx_prep_firm_build(&in, &ro, &f[i], &pf[i])))
            s_die("prepare firm", err);
    double t1 = s_mono();
    size_t dbytes = 0, obytes = 0;
    for (size_t i = 0; i < nd; i++) {
        if ((err = gx_prep_demand_build(&in, &d[i], &pd[i])))
            s_die("prepare demand", err);
        dbytes += sizeof pd[i] + pd[i].end[GX_PREP_W__COUNT - 1] * sizeof *pd[i].want;
    }
    double t2 = s_mono();
    for (size_t i = 0; i < no; i++) {
        if ((err = gx_prep_offer_build(&in, &o[i], &po[i])))
            s_die("prepare offer", err);
        obytes += sizeof po[i] + po[i].end[GX_PREP_O__COUNT - 1] * sizeof *po[i].ids;
    }
    double t3 = s_mono();

    /* the plausible pairs, spread over the demands */
    size_t np = 0, per = want / nd + 1;
    for (size_t i = 0; i < nd && np < want; i++) {
        size_t k = 0;
        uint32_t df = s_firm_of(d[i].owner, wl.firms);
        for (size_t j = 0; j < no && k < per && np < want; j++) {
            gx_kind kind = d[i].kind;
            if (!(o[j].kinds & GX_BIT(kind)) || !s_family(&d[i], &o[j]))
                continue;
            pairs[np++] = (s_pair){(uint32_t)i, (uint32_t)j, df, s_firm_of(o[j].owner, wl.firms)};
            k++;
        }
    }
    fprintf(stderr, "rules_bench: %zu firms, %zu demands, %zu offers, %zu pairs, %u ids\n", wl.firms, nd, no,
            np, gx_intern_count(&in));

    /* both agree on every pair */
    size_t disagree = 0;
    for (size_t i = 0; i < np; i++) {
        const s_pair *p = &pairs[i];
        double s1, s2;
        gx_rule r1, r2;
        gx_pair v1 = gx_rules_classify(&ro, &d[p->d], &f[p->df], &o[p->o], &f[p->of], S_NOW, 0, &s1, &r1);
        gx_pair v2 =
            gx_rules_classify_prep(&ro, &pd[p->d], &pf[p->df], &po[p->o], &pf[p->of], S_NOW, 0, &s2, &r2);
        if (v1 != v2 || r1 != r2 || memcmp(&s1, &s2, sizeof s1) != 0)
            disagree++;
    }

    /* then the pairs that pass every rule or all but one: every rule and the score evaluated */
    size_t ns2 = 0;
    s_pair *scored = calloc(np ? np : 1, sizeof *scored);
    if (!scored)
        s_die("memory", GX_ERR_NOMEM);
    for (size_t i = 0; i < np; i++) {
        const s_pair *p = &pairs[i];
        double s1;
        gx_rule r1;
        if (gx_rules_classify(&ro, &d[p->d], &f[p->df], &o[p->o], &f[p->of], S_NOW, 0, &s1, &r1) !=
            GX_PAIR_NONE)
            scored[ns2++] = *p;
    }
    double best[2][2] = {{1e300, 1e300}, {1e300, 1e300}};
    s_counts cnt[2];
    for (int run = 0; run < 3; run++)
        for (int set = 0; set < 2; set++)
            for (int way = 0; way < 2; way++) {
                s_counts c = {0};
                const s_pair *pv = set ? scored : pairs;
                size_t n = set ? ns2 : np;
                double a = s_mono();
                for (size_t i = 0; i < n; i++) {
                    const s_pair *p = &pv[i];
                    double s;
                    gx_rule r;
                    gx_pair v = way == 0 ? gx_rules_classify(&ro, &d[p->d], &f[p->df], &o[p->o], &f[p->of],
                                                             S_NOW, 0, &s, &r)
                                         : gx_rules_classify_prep(&ro, &pd[p->d], &pf[p->df], &po[p->o],
                                                                  &pf[p->of], S_NOW, 0, &s, &r);
                    s_count(&c, v, s);
                }
                double el = s_mono() - a;
                if (el < best[set][way])
                    best[set][way] = el;
                if (!set)
                    cnt[way] = c;
            }
    bool same = cnt[0].match == cnt[1].match && cnt[0].near == cnt[1].near && cnt[0].none == cnt[1].none &&
                cnt[0].score_sum == cnt[1].score_sum;
    double ns = np ? 1e9 / (double)np : 0, ns_scored = ns2 ? 1e9 / (double)ns2 : 0;
    printf("{\"seed\":%llu,\"firms\":%zu,\"demands\":%zu,\"offers\":%zu,\"pairs\":%zu,"
           "\"strings_ns_per_pair\":%.1f,\"prep_ns_per_pair\":%.1f,\"scored_pairs\":%zu,"
           "\"strings_ns_per_scored_pair\":%.1f,\"prep_ns_per_scored_pair\":%.1f,"
           "\"strings\":{\"match\":%zu,\"near\":%zu,\"none\":%zu},\"prep\":{\"match\":%zu,\"near\":%zu,"
           "\"none\":%zu},"
           "\"disagree\":%zu,\"prep_firm_ns\":%.0f,\"prep_demand_ns\":%.0f,\"prep_offer_ns\":%.0f,"
           "\"prep_demand_bytes\":%.0f,\"prep_offer_bytes\":%.0f,\"ids\":%u}\n",
           (unsigned long long)wl.seed, wl.firms, nd, no, np, best[0][0] * ns, best[0][1] * ns, ns2,
           best[1][0] * ns_scored, best[1][1] * ns_scored, cnt[0].match, cnt[0].near, cnt[0].none,
           cnt[1].match, cnt[1].near, cnt[1].none, disagree, (t1 - t0) * 1e9 / (double)wl.firms,
           (t2 - t1) * 1e9 / (double)nd, (t3 - t2) * 1e9 / (double)no, (double)dbytes / (double)nd,
           (double)obytes / (double)no, gx_intern_count(&in));

    for (size_t i = 0; i < wl.firms; i++) {
        gx_prep_firm_fini(&pf[i]);
        gx_firm_fini(&f[i]);
    }
    for (size_t i = 0; i < nd; i++) {
        gx_prep_demand_fini(&pd[i]);
        gx_demand_fini(&d[i]);
    }
    for (size_t i = 0; i < no; i++) {
        gx_prep_offer_fini(&po[i]);
        gx_offer_fini(&o[i]);
    }
    gx_intern_fini(&in);
    free(f), free(d), free(o), free(pf), free(pd), free(po), free(pairs), free(scored);
    if (disagree || !same) {
        fprintf(stderr, "rules_bench: the two ways disagree on %zu pairs\n", disagree);
        return 1;
    }
    return 0;
}
