/* pg_bench.c — gongxu's job done the way a competent team would on PostgreSQL 15.
 *
 *   pg_bench ingest --dir D [--seed S] [--firms F] [--preload N] [--clients C] [--seconds T]
 *       Preloads N postings, then C connections (threads, lock step) post new
 *       postings as fast as they can for T seconds, alternating demand / offer
 *       from the workload indexes after the preload. A post is acknowledged
 *       when its one-statement transaction (insert, match, insert matches,
 *       pg_notify) has committed. JSON: acks_per_s, ack_p50_us, ack_p99_us,
 *       acks, clients, preloaded. --no-notify builds the notices but does not
 *       pg_notify them: NOTIFY serialises committing transactions (a database-
 *       wide lock held through the commit's WAL flush), and this shows its cost.
 *
 *   pg_bench notice --dir D [--seed S] [--firms F] [--preload N] --rate R [--seconds T]
 *                   [--posters P]
 *       Preloads N postings, LISTENs on the channels of the firms owning the
 *       demands to be posted, then posts R demands/s on a fixed schedule (P
 *       connections, default 4; latency runs from the scheduled send time) and
 *       measures the time to the first "candidate" notice (the best shortlist
 *       entry, sent to the demand's firm) of each posted demand. Posted demands
 *       are picked by the rule of `pick`. JSON: notice_p50_us, notice_p99_us,
 *       notices, posted, rate.
 *
 *   pg_bench check --dir D [--seed S] [--firms F] [--preload N] [--samples K]
 *       Correctness of the SQL rules against src/rules.c: preloads, posts K
 *       demands and K offers, then compares the stored matches of K preloaded
 *       demands, the K posted demands and the K posted offers with the pairs
 *       gx_rules_evaluate finds eligible. JSON: checked, pairs, mismatches.
 *
 *   pg_bench pick [--seed S] [--firms F] [--preload N] --count K
 *       No database: prints the indexes of the demands `notice` posts. The rule:
 *       demand indexes N/2, N/2+1, ... in order, keeping each that has at least
 *       one eligible offer among the preloaded offers 0 .. N/2-1 (src/rules.c,
 *       the three districts of the shipped vocabulary, now = the run's start).
 *       JSON: {"demands":[...]}.
 *
 * Preload: firms, their certificates, demands 0..N/2-1 and offers 0..N/2-1 of
 * the workload (gx_wl_*, same seed and firm count as gongxu's side) go in with
 * COPY; then matches are computed in bulk with the same SQL rules (two
 * connections, chunks of demands), no notices; then VACUUM ANALYZE and a
 * CHECKPOINT. Defaults: seed 1, firms 2000, preload 10000, clients 8,
 * seconds 10.
 *
 * Own server: pg_srv.h (initdb in a temp dir under D, or under /var/tmp when
 * the postgres user cannot reach D; loopback, stock durability). One JSON line
 * on stdout; progress on stderr; on any failure a message and exit 1, the
 * server stopped and its directory removed. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "pg_lat.h"
#include "pg_sql.h"
#include "pg_srv.h"
#include "pick.h"
#include "rules.h"
#include "workload.h"

#define S_PROGRESS_NS (3ull * 1000000000u)
#define S_DRAIN_NS (10ull * 1000000000u)
#define S_MATCH_CHUNK 500

typedef struct opts {
    const char *mode;   /* ingest | notice | check | pick */
    const char *dir;    /* parent of the server's temp directory */
    uint64_t seed;      /* workload seed */
    size_t firms;       /* workload firms */
    uint64_t preload;   /* postings preloaded: half demands, half offers */
    int clients;        /* ingest connections */
    double seconds;     /* measured window */
    double rate;        /* notice: demands per second */
    int posters;        /* notice: posting connections */
    uint64_t samples;   /* check: postings of each sort checked */
    uint64_t count;     /* pick: demands wanted */
    bool no_notify;     /* ingest: build notices but do not pg_notify */
} opts;

/* Everything a run shares. Globals only for the server (cleanup at exit) and the
 * signal flag. */
typedef struct run {
    const opts *o;
    gx_wl_opts wl;        /* workload options; wl.now is the run's "now" */
    gx_firm *firms;       /* wl.firms firms */
    uint32_t *by_id;      /* firm indexes sorted by USCC */
    gx_rules_opts rules;  /* src/rules.c options: defaults + three districts */
    int32_t today;        /* civil date of wl.now at UTC+8 */
    char *sql_demand;     /* post statements */
    char *sql_offer;
} run;

static pg_srv g_srv;
static volatile sig_atomic_t g_stop;
static const char *const s_three[] = {"410611", "hebi.etdz", "hebi.urdz"};

static void s_cleanup(void)
{
    pg_srv_stop(&g_srv);
}

static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void s_die(const char *fmt, ...)
{
    /* Only the first failing thread reports and exits (exit runs the cleanup);
     * any other thread that fails meanwhile waits for the process to end. */
    static atomic_flag dying = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&dying))
        for (;;)
            pause();
    va_list ap;
    va_start(ap, fmt);
    fputs("pg_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1); /* atexit: stops the server, removes its directory */
}

static void s_on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void s_usage(void)
{
    fputs("usage: pg_bench ingest --dir D [--seed S] [--firms F] [--preload N] [--clients C] [--seconds T]"
          " [--no-notify]\n"
          "       pg_bench notice --dir D [--seed S] [--firms F] [--preload N] --rate R [--seconds T]"
          " [--posters P]\n"
          "       pg_bench check  --dir D [--seed S] [--firms F] [--preload N] [--samples K]\n"
          "       pg_bench pick   [--seed S] [--firms F] [--preload N] --count K\n",
          stderr);
    exit(2);
}

static double s_num_arg(const char *name, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || errno || end == v || *end || !(x >= lo && x <= hi))
        s_die("%s wants a number in %g..%g, got '%s'", name, lo, hi, v ? v : "");
    return x;
}

static void s_parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->firms = 2000;
    o->preload = 10000;
    o->clients = 8;
    o->seconds = 10;
    o->posters = 4;
    o->samples = 200;
    if (argc < 2)
        s_usage();
    o->mode = argv[1];
    if (strcmp(o->mode, "ingest") && strcmp(o->mode, "notice") && strcmp(o->mode, "check") &&
        strcmp(o->mode, "pick") && strcmp(o->mode, "explain"))
        s_usage();
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-notify") == 0) {
            o->no_notify = true;
            i--;
            continue;
        }
        if (strcmp(a, "--dir") == 0 && v)
            o->dir = v;
        else if (strcmp(a, "--seed") == 0)
            o->seed = (uint64_t)s_num_arg(a, v, 0, 1e18);
        else if (strcmp(a, "--firms") == 0)
            o->firms = (size_t)s_num_arg(a, v, 2, 1e7);
        else if (strcmp(a, "--preload") == 0)
            o->preload = (uint64_t)s_num_arg(a, v, 0, 1e8);
        else if (strcmp(a, "--clients") == 0)
            o->clients = (int)s_num_arg(a, v, 1, 500);
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = s_num_arg(a, v, 0.1, 3600);
        else if (strcmp(a, "--rate") == 0)
            o->rate = s_num_arg(a, v, 0.1, 1e6);
        else if (strcmp(a, "--posters") == 0)
            o->posters = (int)s_num_arg(a, v, 1, 200);
        else if (strcmp(a, "--samples") == 0)
            o->samples = (uint64_t)s_num_arg(a, v, 1, 1e6);
        else if (strcmp(a, "--count") == 0)
            o->count = (uint64_t)s_num_arg(a, v, 1, 1e7);
        else if (strcmp(a, "--window") == 0) {
            if (s_num_arg(a, v, 1, 1) != 1)
                s_usage();
        } else
            s_usage();
    }
    if (strcmp(o->mode, "pick") != 0 && !o->dir)
        s_die("%s needs --dir", o->mode);
    if (strcmp(o->mode, "notice") == 0 && o->rate <= 0)
        s_die("notice needs --rate");
    if (o->no_notify && strcmp(o->mode, "ingest") != 0)
        s_die("--no-notify is for ingest only");
    if (strcmp(o->mode, "pick") == 0 && !o->count)
        s_die("pick needs --count");
    o->preload -= o->preload % 2;
}

/* ------------------------------------------------------------------ workload */

static run *s_cmp_run; /* qsort context */

static int s_cmp_firm(const void *a, const void *b)
{
    return strcmp(s_cmp_run->firms[*(const uint32_t *)a].id, s_cmp_run->firms[*(const uint32_t *)b].id);
}

static void s_run_init(run *r, const opts *o)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->wl.seed = o->seed;
    r->wl.firms = o->firms;
    r->wl.now = (int64_t)time(NULL);
    gx_rules_opts_default(&r->rules);
    r->rules.three_districts = s_three;
    r->rules.n_three_districts = sizeof s_three / sizeof s_three[0];
    r->today = gx_date_of(r->wl.now, r->rules.utc_offset_min);
    r->firms = calloc(o->firms, sizeof *r->firms);
    r->by_id = calloc(o->firms, sizeof *r->by_id);
    if (!r->firms || !r->by_id)
        s_die("out of memory");
    for (size_t i = 0; i < o->firms; i++) {
        gx_err e = gx_wl_firm(&r->wl, i, &r->firms[i]);
        if (e)
            s_die("gx_wl_firm(%zu) failed: %d", i, (int)e);
        r->by_id[i] = (uint32_t)i;
    }
    s_cmp_run = r;
    qsort(r->by_id, o->firms, sizeof *r->by_id, s_cmp_firm);
}

static const gx_firm *s_firm(const run *r, const char *id)
{
    size_t lo = 0, hi = r->o->firms;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->firms[r->by_id[mid]].id, id);
        if (c == 0)
            return &r->firms[r->by_id[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void s_demand(const run *r, uint64_t i, gx_demand *d)
{
    gx_err e = gx_wl_demand(&r->wl, i, d);
    if (e)
        s_die("gx_wl_demand(%" PRIu64 ") failed: %d", i, (int)e);
}

static void s_offer(const run *r, uint64_t i, gx_offer *o)
{
    gx_err e = gx_wl_offer(&r->wl, i, o);
    if (e)
        s_die("gx_wl_offer(%" PRIu64 ") failed: %d", i, (int)e);
}

/* src/rules.c's verdict: eligible when not excluded and no hard rule fails. */
static bool s_eligible(const run *r, const gx_demand *d, const gx_offer *o, gx_rule *failed)
{
    const gx_firm *df = s_firm(r, d->owner), *of = s_firm(r, o->owner);
    if (!df || !of)
        s_die("posting owned by an unknown firm");
    *failed = GX_RULE_NONE;
    if (gx_rules_excluded(df, of))
        return false;
    gx_explain x;
    gx_rules_evaluate(&r->rules, d, df, o, of, r->wl.now, false, &x);
    *failed = x.failed;
    return x.n_failed == 0;
}

/* The pick rule (pick.h, shared with gxload). Returns a malloc'd array. */
static uint64_t *s_pick(const run *r, uint64_t count)
{
    uint64_t *out = calloc(count ? count : 1, sizeof *out);
    if (!out)
        s_die("out of memory");
    if (gxl_pick(&r->wl, r->o->preload, count, out) != 0)
        s_die("picking %" PRIu64 " demands failed", count);
    fprintf(stderr, "pick: %" PRIu64 " demands with an eligible preloaded offer\n", count);
    return out;
}

/* ------------------------------------------------------------------ libpq */

static PGconn *s_connect(void)
{
    PGconn *c = PQconnectdb(g_srv.conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        s_die("connect %s: %s", g_srv.conninfo, PQerrorMessage(c));
    return c;
}

/* Runs sql (maybe several statements); dies unless it succeeds. */
static void s_exec(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        s_die("%.80s...: %s", sql, PQerrorMessage(c));
    PQclear(res);
}

static void s_prepare(PGconn *c, const run *r)
{
    PGresult *res = PQprepare(c, "post_demand", r->sql_demand, PG_DEMAND_NPARAMS, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        s_die("prepare post_demand: %s", PQerrorMessage(c));
    PQclear(res);
    res = PQprepare(c, "post_offer", r->sql_offer, PG_OFFER_NPARAMS, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        s_die("prepare post_offer: %s", PQerrorMessage(c));
    PQclear(res);
}

/* Posting counts returned by one post statement. */
typedef struct post_out {
    long long id, matches, opp, cand;
} post_out;

/* Posts demand (is_demand) or offer index i at time now. Returns the latency
 * in ns of the statement (its commit included); fills *out. Dies on error. */
static uint64_t s_post(PGconn *c, const run *r, pg_params *p, bool is_demand, uint64_t i, int64_t now,
                       post_out *out)
{
    int32_t today = gx_date_of(now, r->rules.utc_offset_min);
    int rc;
    if (is_demand) {
        gx_demand d = {0};
        s_demand(r, i, &d);
        rc = pg_demand_params(p, &d, i, now, today);
        gx_demand_fini(&d);
    } else {
        gx_offer o = {0};
        s_offer(r, i, &o);
        rc = pg_offer_params(p, &o, i, now, today);
        gx_offer_fini(&o);
    }
    if (rc)
        s_die("out of memory encoding a posting");
    uint64_t t = lat_now_ns();
    PGresult *res = PQexecPrepared(c, is_demand ? "post_demand" : "post_offer", p->n, p->v, NULL, NULL, 0);
    uint64_t dt = lat_now_ns() - t;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        s_die("post %s %" PRIu64 ": %s", is_demand ? "demand" : "offer", i, PQerrorMessage(c));
    out->id = atoll(PQgetvalue(res, 0, 0));
    out->matches = atoll(PQgetvalue(res, 0, 1));
    out->opp = atoll(PQgetvalue(res, 0, 2));
    out->cand = atoll(PQgetvalue(res, 0, 3));
    PQclear(res);
    return dt;
}

/* ------------------------------------------------------------------ preload */

static void s_copy_begin(PGconn *c, const char *table, const char *cols)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table, cols);
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        s_die("%s: %s", sql, PQerrorMessage(c));
    PQclear(res);
}

static void s_copy_flush(PGconn *c, pg_buf *b)
{
    if (b->len && PQputCopyData(c, b->p, (int)b->len) != 1)
        s_die("COPY data: %s", PQerrorMessage(c));
    b->len = 0;
}

static void s_copy_end(PGconn *c, const char *table)
{
    if (PQputCopyEnd(c, NULL) != 1)
        s_die("COPY %s end: %s", table, PQerrorMessage(c));
    PGresult *res;
    while ((res = PQgetResult(c))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            s_die("COPY %s: %s", table, PQerrorMessage(c));
        PQclear(res);
    }
}

typedef struct match_job {
    const run *r;
    atomic_int_fast64_t next;  /* next demand id to hand out */
    int64_t end;               /* one past the last demand id */
    atomic_int_fast64_t done;  /* demands matched */
    atomic_int_fast64_t pairs; /* matches inserted */
} match_job;

static void *s_match_worker(void *arg)
{
    match_job *j = arg;
    PGconn *c = s_connect();
    for (;;) {
        int64_t lo = atomic_fetch_add(&j->next, S_MATCH_CHUNK);
        if (lo >= j->end || g_stop)
            break;
        int64_t hi = lo + S_MATCH_CHUNK < j->end ? lo + S_MATCH_CHUNK : j->end;
        char *sql = pg_sql_bulk_match(j->r->wl.now, j->r->today, lo, hi);
        if (!sql)
            s_die("out of memory");
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            s_die("bulk match: %s", PQerrorMessage(c));
        atomic_fetch_add(&j->pairs, atoll(PQcmdTuples(res)));
        atomic_fetch_add(&j->done, hi - lo);
        PQclear(res);
        free(sql);
    }
    PQfinish(c);
    return NULL;
}

static void s_preload(PGconn *c, const run *r)
{
    const opts *o = r->o;
    uint64_t half = o->preload / 2, t0 = lat_now_ns(), note = t0 + S_PROGRESS_NS;
    pg_buf b = {0};
    s_copy_begin(c, "firms", PG_FIRM_COLS);
    for (size_t i = 0; i < o->firms; i++)
        if (pg_copy_firm(&b, &r->firms[i]))
            s_die("out of memory");
    s_copy_flush(c, &b);
    s_copy_end(c, "firms");
    s_copy_begin(c, "firm_certs", PG_CERT_COLS);
    for (size_t i = 0; i < o->firms; i++)
        if (pg_copy_certs(&b, &r->firms[i]))
            s_die("out of memory");
    s_copy_flush(c, &b);
    s_copy_end(c, "firm_certs");
    for (int side = 0; side < 2; side++) {
        const char *table = side ? "offers" : "demands";
        s_copy_begin(c, table, side ? PG_OFFER_COLS : PG_DEMAND_COLS);
        for (uint64_t i = 0; i < half && !g_stop; i++) {
            int rc;
            if (side) {
                gx_offer x = {0};
                s_offer(r, i, &x);
                rc = pg_copy_offer(&b, &x, i, r->wl.now);
                gx_offer_fini(&x);
            } else {
                gx_demand x = {0};
                s_demand(r, i, &x);
                rc = pg_copy_demand(&b, &x, i, r->wl.now);
                gx_demand_fini(&x);
            }
            if (rc)
                s_die("out of memory");
            if (b.len > (1u << 20))
                s_copy_flush(c, &b);
            uint64_t now = lat_now_ns();
            if (now >= note) {
                fprintf(stderr, "preload: %s %" PRIu64 "/%" PRIu64 " copied, %.1f s\n", table, i, half,
                        (double)(now - t0) / 1e9);
                note = now + S_PROGRESS_NS;
            }
        }
        s_copy_flush(c, &b);
        s_copy_end(c, table);
    }
    pg_buf_free(&b);
    if (g_stop)
        s_die("interrupted");
    uint64_t t1 = lat_now_ns();
    fprintf(stderr, "preload: %zu firms, %" PRIu64 " demands, %" PRIu64 " offers copied in %.1f s\n", o->firms,
            half, half, (double)(t1 - t0) / 1e9);
    s_exec(c, "ANALYZE");
    /* bulk match: every preloaded demand against every preloaded offer */
    static match_job j;
    j.r = r;
    atomic_store(&j.next, 1);
    j.end = (int64_t)half + 1;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, s_match_worker, &j) != 0)
            s_die("pthread_create failed");
    while (atomic_load(&j.done) < (int64_t)half && !g_stop) {
        lat_sleep_until(lat_now_ns() + 200000000u);
        uint64_t now = lat_now_ns();
        if (now >= note) {
            fprintf(stderr, "preload: matched %" PRIdFAST64 "/%" PRIu64 " demands, %" PRIdFAST64 " pairs, %.1f s\n",
                    atomic_load(&j.done), half, atomic_load(&j.pairs), (double)(now - t1) / 1e9);
            note = now + S_PROGRESS_NS;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (g_stop)
        s_die("interrupted");
    uint64_t t2 = lat_now_ns();
    fprintf(stderr, "preload: bulk match %" PRIdFAST64 " pairs in %.1f s\n", atomic_load(&j.pairs),
            (double)(t2 - t1) / 1e9);
    s_exec(c, "VACUUM (ANALYZE)");
    s_exec(c, "CHECKPOINT");
    fprintf(stderr, "preload: vacuum analyze + checkpoint %.1f s; preload total %.1f s\n",
            (double)(lat_now_ns() - t2) / 1e9, (double)(lat_now_ns() - t0) / 1e9);
}

/* Starts the server, makes the schema and preloads. Returns the admin conn. */
static PGconn *s_setup(run *r, int max_conn)
{
    char err[2048];
    uint64_t t0 = lat_now_ns();
    if (pg_srv_start(&g_srv, r->o->dir, max_conn, 256, err, sizeof err) != 0)
        s_die("%s", err);
    fprintf(stderr, "server: PostgreSQL 15 on 127.0.0.1:%d, data in %s (started in %.1f s)\n", g_srv.port,
            g_srv.root, (double)(lat_now_ns() - t0) / 1e9);
    PGconn *c = s_connect();
    s_exec(c, pg_schema_sql);
    r->sql_demand = pg_sql_post_demand(!r->o->no_notify);
    r->sql_offer = pg_sql_post_offer(!r->o->no_notify);
    if (!r->sql_demand || !r->sql_offer)
        s_die("out of memory");
    s_preload(c, r);
    return c;
}

/* ------------------------------------------------------------------ ingest */

typedef struct ingest {
    const run *r;
    pthread_barrier_t ready;   /* clients connected and prepared */
    uint64_t t0, end;          /* window */
    atomic_uint_fast64_t next; /* next posting number: even demand, odd offer */
    atomic_uint_fast64_t acked;
} ingest;

typedef struct ingest_cli {
    ingest *g;
    lat_set lat;
    uint64_t acks;      /* acknowledged inside the window */
    uint64_t matches;   /* matches created */
    uint64_t notices;   /* notices sent */
} ingest_cli;

static void *s_ingest_client(void *arg)
{
    ingest_cli *ic = arg;
    ingest *g = ic->g;
    const run *r = g->r;
    PGconn *c = s_connect();
    s_prepare(c, r);
    pg_params p = {0};
    uint64_t half = r->o->preload / 2;
    pthread_barrier_wait(&g->ready);
    pthread_barrier_wait(&g->ready);
    while (!g_stop && lat_now_ns() < g->end) {
        uint64_t k = atomic_fetch_add(&g->next, 1);
        post_out po;
        uint64_t dt = s_post(c, r, &p, k % 2 == 0, half + k / 2, (int64_t)time(NULL), &po);
        if (lat_now_ns() <= g->end) {
            ic->acks++;
            atomic_fetch_add(&g->acked, 1);
        }
        lat_add(&ic->lat, dt);
        ic->matches += (uint64_t)po.matches;
        ic->notices += (uint64_t)(po.opp + po.cand);
    }
    pg_params_free(&p);
    PQfinish(c);
    return NULL;
}

static int s_ingest(run *r)
{
    const opts *o = r->o;
    PGconn *admin = s_setup(r, o->clients + 10);
    static ingest g;
    g.r = r;
    int nc = o->clients;
    ingest_cli *cl = calloc((size_t)nc, sizeof *cl);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    if (!cl || !th)
        s_die("out of memory");
    pthread_barrier_init(&g.ready, NULL, (unsigned)nc + 1);
    for (int i = 0; i < nc; i++) {
        cl[i].g = &g;
        if (pthread_create(&th[i], NULL, s_ingest_client, &cl[i]) != 0)
            s_die("pthread_create failed");
    }
    pthread_barrier_wait(&g.ready);
    g.t0 = lat_now_ns();
    g.end = g.t0 + (uint64_t)(o->seconds * 1e9);
    fprintf(stderr, "ingest: %d connection(s), lock step, %.1f s%s\n", nc, o->seconds,
            o->no_notify ? ", notices built but NOT sent (--no-notify)" : "");
    pthread_barrier_wait(&g.ready);
    uint64_t note = g.t0 + S_PROGRESS_NS;
    while (lat_now_ns() < g.end && !g_stop) {
        lat_sleep_until(lat_now_ns() + 100000000u);
        if (lat_now_ns() >= note) {
            fprintf(stderr, "ingest: %" PRIuFAST64 " acks after %.1f s\n", atomic_load(&g.acked),
                    (double)(lat_now_ns() - g.t0) / 1e9);
            note += S_PROGRESS_NS;
        }
    }
    for (int i = 0; i < nc; i++)
        pthread_join(th[i], NULL);
    if (g_stop)
        s_die("interrupted");
    lat_set all = {0};
    uint64_t acks = 0, matches = 0, notices = 0;
    for (int i = 0; i < nc; i++) {
        acks += cl[i].acks;
        matches += cl[i].matches;
        notices += cl[i].notices;
        lat_merge(&all, &cl[i].lat);
    }
    lat_sort(&all);
    fprintf(stderr, "ingest: %" PRIu64 " posts (%" PRIu64 " started), %" PRIu64 " matches, %" PRIu64
                    " notices\n",
            acks, (uint64_t)atomic_load(&g.next), matches, notices);
    printf("{\"acks_per_s\":%.1f,\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"acks\":%" PRIu64
           ",\"clients\":%d,\"preloaded\":%" PRIu64 "}\n",
           (double)acks / o->seconds, lat_q_us(&all, 0.5), lat_q_us(&all, 0.99), acks, nc, o->preload);
    fflush(stdout);
    lat_free(&all);
    free(cl);
    free(th);
    PQfinish(admin);
    pthread_barrier_destroy(&g.ready);
    return 0;
}

/* ------------------------------------------------------------------ notice */

typedef struct notice {
    const run *r;
    const uint64_t *picked;   /* demand indexes to post, ascending */
    uint64_t n;               /* how many */
    double period_ns;         /* 1e9 / rate */
    uint64_t t0;              /* schedule start */
    pthread_barrier_t ready;  /* listener + posters ready */
    uint64_t *first_ns;       /* per slot: first candidate notice latency, 0 = none yet */
    atomic_uint_fast64_t posted;
    atomic_uint_fast64_t no_cand; /* posts whose statement sent no candidate notice */
    atomic_bool posting_done;
} notice;

typedef struct poster {
    notice *g;
    int idx, of;
} poster;

static void *s_poster(void *arg)
{
    poster *ps = arg;
    notice *g = ps->g;
    const run *r = g->r;
    PGconn *c = s_connect();
    s_prepare(c, r);
    pg_params p = {0};
    pthread_barrier_wait(&g->ready);
    pthread_barrier_wait(&g->ready);
    for (uint64_t k = (uint64_t)ps->idx; k < g->n && !g_stop; k += (uint64_t)ps->of) {
        lat_sleep_until(g->t0 + (uint64_t)(g->period_ns * (double)k));
        post_out po;
        s_post(c, r, &p, true, g->picked[k], (int64_t)time(NULL), &po);
        atomic_fetch_add(&g->posted, 1);
        if (po.cand == 0)
            atomic_fetch_add(&g->no_cand, 1);
    }
    pg_params_free(&p);
    PQfinish(c);
    return NULL;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value of "key" : <integer> in a json_build_object payload, or -1. */
static long long s_json_int(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    return (*p >= '0' && *p <= '9') ? atoll(p) : -1;
}

static int s_notice(run *r)
{
    const opts *o = r->o;
    uint64_t n = (uint64_t)ceil(o->rate * o->seconds);
    uint64_t tp = lat_now_ns();
    uint64_t *picked = s_pick(r, n);
    fprintf(stderr, "notice: picked %" PRIu64 " demands in %.1f s\n", n, (double)(lat_now_ns() - tp) / 1e9);
    PGconn *admin = s_setup(r, o->posters + 10);
    static notice g;
    g.r = r;
    g.picked = picked;
    g.n = n;
    g.period_ns = 1e9 / o->rate;
    g.first_ns = calloc(n, sizeof *g.first_ns);
    if (!g.first_ns)
        s_die("out of memory");

    /* the listener: LISTEN on every firm owning a demand to be posted */
    PGconn *lc = s_connect();
    pg_buf sql = {0};
    size_t channels = 0;
    {
        char **owners = calloc(n, sizeof *owners);
        if (!owners)
            s_die("out of memory");
        for (uint64_t k = 0; k < n; k++) {
            gx_demand d = {0};
            s_demand(r, picked[k], &d);
            owners[k] = strdup(d.owner);
            gx_demand_fini(&d);
            if (!owners[k])
                s_die("out of memory");
        }
        qsort(owners, n, sizeof *owners, (int (*)(const void *, const void *))strcmp);
        for (uint64_t k = 0; k < n; k++) {
            if (k > 0 && strcmp(owners[k], owners[k - 1]) == 0)
                continue;
            channels++;
            if (pg_buf_printf(&sql, "LISTEN \"firm_%s\";", owners[k]))
                s_die("out of memory");
        }
        for (uint64_t k = 0; k < n; k++)
            free(owners[k]);
        free(owners);
    }
    s_exec(lc, sql.p);
    pg_buf_free(&sql);
    fprintf(stderr, "notice: listening on %zu firm channels\n", channels);

    int np = o->posters;
    poster *ps = calloc((size_t)np, sizeof *ps);
    pthread_t *th = calloc((size_t)np, sizeof *th);
    if (!ps || !th)
        s_die("out of memory");
    pthread_barrier_init(&g.ready, NULL, (unsigned)np + 1);
    for (int i = 0; i < np; i++) {
        ps[i] = (poster){.g = &g, .idx = i, .of = np};
        if (pthread_create(&th[i], NULL, s_poster, &ps[i]) != 0)
            s_die("pthread_create failed");
    }
    pthread_barrier_wait(&g.ready);
    g.t0 = lat_now_ns() + 100000000u;
    uint64_t end = g.t0 + (uint64_t)(g.period_ns * (double)n), note = g.t0 + S_PROGRESS_NS;
    fprintf(stderr, "notice: posting %" PRIu64 " demands at %.1f/s over %d connection(s)\n", n, o->rate, np);
    pthread_barrier_wait(&g.ready);

    /* listen until every posted demand has its notice, or the drain deadline */
    lat_set lat = {0};
    uint64_t got = 0, other = 0;
    int sock = PQsocket(lc);
    while (got < n && !g_stop) {
        uint64_t now = lat_now_ns();
        if (now > end + S_DRAIN_NS)
            break;
        if (now >= note) {
            fprintf(stderr, "notice: %" PRIuFAST64 " posted, %" PRIu64 " notices, %.1f s\n",
                    atomic_load(&g.posted), got, (double)(now - g.t0) / 1e9);
            note += S_PROGRESS_NS;
        }
        struct pollfd pf = {.fd = sock, .events = POLLIN};
        if (poll(&pf, 1, 50) < 0 && errno != EINTR)
            s_die("poll: %s", strerror(errno));
        if (!PQconsumeInput(lc))
            s_die("listener: %s", PQerrorMessage(lc));
        PGnotify *nf;
        while ((nf = PQnotifies(lc))) {
            uint64_t t = lat_now_ns();
            long long ref = strstr(nf->extra, "\"candidate\"") ? s_json_int(nf->extra, "\"ref\"") : -1;
            const uint64_t key = (uint64_t)ref;
            const uint64_t *hit = ref >= 0 ? bsearch(&key, picked, n, sizeof *picked, s_cmp_u64) : NULL;
            if (hit) {
                uint64_t slot = (uint64_t)(hit - picked);
                if (!g.first_ns[slot]) {
                    uint64_t sched = g.t0 + (uint64_t)(g.period_ns * (double)slot);
                    g.first_ns[slot] = t > sched ? t - sched : 1;
                    lat_add(&lat, g.first_ns[slot]);
                    got++;
                }
            } else {
                other++;
            }
            PQfreemem(nf);
        }
    }
    for (int i = 0; i < np; i++)
        pthread_join(th[i], NULL);
    if (g_stop)
        s_die("interrupted");
    lat_sort(&lat);
    uint64_t posted = atomic_load(&g.posted);
    fprintf(stderr, "notice: %" PRIu64 " posted, %" PRIu64 " first candidate notices, %" PRIu64
                    " other notices, %" PRIuFAST64 " posts without a candidate\n",
            posted, got, other, atomic_load(&g.no_cand));
    printf("{\"notice_p50_us\":%.1f,\"notice_p99_us\":%.1f,\"notices\":%" PRIu64 ",\"posted\":%" PRIu64
           ",\"rate\":%g}\n",
           lat_q_us(&lat, 0.5), lat_q_us(&lat, 0.99), got, posted, o->rate);
    fflush(stdout);
    lat_free(&lat);
    PQfinish(lc);
    PQfinish(admin);
    free(ps);
    free(th);
    free(g.first_ns);
    free(picked);
    pthread_barrier_destroy(&g.ready);
    return 0;
}

/* ------------------------------------------------------------------ check */

/* Stored match refs of a demand (by ref) or of an offer, sorted. */
static uint64_t *s_stored(PGconn *c, bool of_demand, uint64_t ref, size_t *n)
{
    char sql[512];
    if (of_demand)
        snprintf(sql, sizeof sql,
                 "SELECT o.ref FROM matches m JOIN demands d ON d.id = m.demand_id JOIN offers o ON o.id = "
                 "m.offer_id WHERE d.ref = %" PRIu64 " ORDER BY 1",
                 ref);
    else
        snprintf(sql, sizeof sql,
                 "SELECT d.ref FROM matches m JOIN demands d ON d.id = m.demand_id JOIN offers o ON o.id = "
                 "m.offer_id WHERE o.ref = %" PRIu64 " ORDER BY 1",
                 ref);
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        s_die("check query: %s", PQerrorMessage(c));
    *n = (size_t)PQntuples(res);
    uint64_t *v = calloc(*n + 1, sizeof *v);
    if (!v)
        s_die("out of memory");
    for (size_t i = 0; i < *n; i++)
        v[i] = (uint64_t)atoll(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return v;
}

static int s_check(run *r)
{
    const opts *o = r->o;
    uint64_t half = o->preload / 2, k = o->samples;
    if (k > half)
        k = half;
    PGconn *c = s_setup(r, 12);
    s_prepare(c, r);
    pg_params p = {0};
    uint64_t t0 = lat_now_ns();
    /* Post k demands and k offers, alternating, all at the run's "now" so the
     * reference evaluation sees the same clock. */
    for (uint64_t j = 0; j < 2 * k; j++) {
        post_out po;
        s_post(c, r, &p, j % 2 == 0, half + j / 2, r->wl.now, &po);
    }
    pg_params_free(&p);
    fprintf(stderr, "check: posted %" PRIu64 " demands and %" PRIu64 " offers in %.1f s\n", k, k,
            (double)(lat_now_ns() - t0) / 1e9);
    /* every posting either side holds: preloaded 0..half-1, posted half..half+k-1 */
    uint64_t all = half + k;
    gx_demand *ds = calloc(all, sizeof *ds);
    gx_offer *os = calloc(all, sizeof *os);
    if (!ds || !os)
        s_die("out of memory");
    for (uint64_t i = 0; i < all; i++) {
        s_demand(r, i, &ds[i]);
        s_offer(r, i, &os[i]);
    }
    uint64_t checked = 0, pairs = 0, bad = 0;
    /* demands: the first k preloaded and the k posted */
    for (int side = 0; side < 2; side++) {
        for (uint64_t s = 0; s < 2 * k; s++) {
            uint64_t ref = s < k ? s : half + (s - k);
            size_t n;
            uint64_t *st = s_stored(c, side == 0, ref, &n);
            size_t at = 0;
            for (uint64_t x = 0; x < all; x++) {
                const gx_demand *d = side == 0 ? &ds[ref] : &ds[x];
                const gx_offer *of = side == 0 ? &os[x] : &os[ref];
                gx_rule f;
                bool ref_ok = gxl_quick(d, of) && s_eligible(r, d, of, &f);
                if (!ref_ok)
                    s_eligible(r, d, of, &f);
                bool db_ok = at < n && st[at] == x;
                if (db_ok)
                    at++;
                pairs += ref_ok;
                if (ref_ok != db_ok) {
                    if (bad < 10)
                        fprintf(stderr, "check: demand %" PRIu64 " / offer %" PRIu64 ": rules.c %s%s%s, SQL %s\n",
                                side == 0 ? ref : x, side == 0 ? x : ref, ref_ok ? "eligible" : "fails ",
                                ref_ok ? "" : gx_rule_name(f), "", db_ok ? "matched" : "no match");
                    bad++;
                }
            }
            free(st);
            checked++;
            if (side == 1 && s < k)
                s = k - 1; /* offers: only the posted ones */
        }
    }
    for (uint64_t i = 0; i < all; i++) {
        gx_demand_fini(&ds[i]);
        gx_offer_fini(&os[i]);
    }
    free(ds);
    free(os);
    fprintf(stderr, "check: %" PRIu64 " postings, %" PRIu64 " eligible pairs by rules.c, %" PRIu64
                    " disagreements\n",
            checked, pairs, bad);
    printf("{\"checked\":%" PRIu64 ",\"pairs\":%" PRIu64 ",\"mismatches\":%" PRIu64 "}\n", checked, pairs, bad);
    fflush(stdout);
    PQfinish(c);
    return bad ? 1 : 0;
}

/* ------------------------------------------------------------------ explain */

static void s_explain_one(PGconn *c, const char *label, const char *sql, int n, const char *const *v)
{
    pg_buf b = {0};
    if (pg_buf_printf(&b, "EXPLAIN (ANALYZE, BUFFERS) %s", sql))
        s_die("out of memory");
    PGresult *res = PQexecParams(c, b.p, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        s_die("explain %s: %s", label, PQerrorMessage(c));
    fprintf(stderr, "---- %s\n", label);
    for (int i = 0; i < PQntuples(res); i++)
        fprintf(stderr, "%s\n", PQgetvalue(res, i, 0));
    PQclear(res);
    pg_buf_free(&b);
}

/* Diagnostics: the plans of a bulk-match chunk and of one post of each sort. */
static int s_explain(run *r)
{
    PGconn *c = s_setup(r, 12);
    uint64_t half = r->o->preload / 2;
    char *bulk = pg_sql_bulk_match(r->wl.now, r->today, 1, 101);
    s_exec(c, "BEGIN");
    s_exec(c, "DELETE FROM matches WHERE demand_id < 101");
    s_explain_one(c, "bulk match, demands 1..100", bulk, 0, NULL);
    s_exec(c, "ROLLBACK");
    free(bulk);
    pg_params p = {0};
    gx_demand d = {0};
    s_demand(r, half, &d);
    if (pg_demand_params(&p, &d, half, r->wl.now, r->today))
        s_die("out of memory");
    s_exec(c, "BEGIN");
    s_explain_one(c, "post demand", r->sql_demand, p.n, p.v);
    s_exec(c, "ROLLBACK");
    gx_demand_fini(&d);
    gx_offer o = {0};
    s_offer(r, half, &o);
    if (pg_offer_params(&p, &o, half, r->wl.now, r->today))
        s_die("out of memory");
    s_exec(c, "BEGIN");
    s_explain_one(c, "post offer", r->sql_offer, p.n, p.v);
    s_exec(c, "ROLLBACK");
    gx_offer_fini(&o);
    pg_params_free(&p);
    printf("{}\n");
    PQfinish(c);
    return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    opts o;
    s_parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    atexit(s_cleanup);
    static run r;
    s_run_init(&r, &o);
    int rc;
    if (strcmp(o.mode, "pick") == 0) {
        uint64_t *v = s_pick(&r, o.count);
        printf("{\"demands\":[");
        for (uint64_t i = 0; i < o.count; i++)
            printf("%s%" PRIu64, i ? "," : "", v[i]);
        printf("]}\n");
        free(v);
        rc = 0;
    } else if (strcmp(o.mode, "ingest") == 0) {
        rc = s_ingest(&r);
    } else if (strcmp(o.mode, "notice") == 0) {
        rc = s_notice(&r);
    } else if (strcmp(o.mode, "explain") == 0) {
        rc = s_explain(&r);
    } else {
        rc = s_check(&r);
    }
    pg_srv_stop(&g_srv);
    for (size_t i = 0; i < o.firms; i++)
        gx_firm_fini(&r.firms[i]);
    free(r.firms);
    free(r.by_id);
    free(r.sql_demand);
    free(r.sql_offer);
    return rc;
}
