/* floor_bench.c — the floors gongxu is compared with (issue 5).
 *
 *   floor_bench rtt --seconds S
 *       A bare ZeroMQ DEALER -> ROUTER round trip over tcp://127.0.0.1 (no CURVE,
 *       one client in lock step, 200-byte frames): the cheapest request/reply
 *       this machine does. JSON: rtt_p50_us, rtt_p99_us, round_trips_per_s.
 *
 *   floor_bench ack --dir D --clients C --seconds S [--window W] [--rate R]
 *                   [--curve] [--map-mb M]
 *       A bare ROUTER server that, per batch of requests it has received (all
 *       that is readable, at most 256), writes each request's 300-byte payload
 *       under a new key into LMDB in one write transaction, commits with full
 *       durability (no MDB_NOSYNC: the commit returns after fsync) and then acks
 *       each request: group commit, the fastest a broker can durably acknowledge
 *       on this disk. C DEALER clients (threads) keep W requests in flight each
 *       (default 32), or with --rate offer R requests/s in all on a fixed
 *       schedule (open loop: latency runs from the scheduled send time, so a
 *       stalled server is not hidden by clients that stop sending). --curve
 *       turns CURVE on (fresh keypairs; no ZAP handler, so any client is let in).
 *       JSON: acks_per_s, ack_p50_us, ack_p99_us, acks, clients, rate.
 *       acks counts acknowledgements received within the S-second window;
 *       latencies cover every request sent in the window (late acks drained).
 *
 *   floor_bench records --dir D --seconds S --batch B [--prefill N] [--firms F]
 *                       [--map-mb M] [--notices NAME]
 *                       --table NAME:PER:KEY:VAL:PATTERN [--table ...]
 *       A bare LMDB loop with no network: per batch, B postings' worth of records
 *       written in one write transaction and committed with full durability
 *       (fsync), batch after batch for S seconds. Each --table says what one
 *       posting writes to one table: PER records (a fraction is carried to the
 *       next posting) with KEY-byte keys and VAL-byte values, and where their
 *       keys fall: "append" (a new key after every other: a new posting's id),
 *       "spread" (a new key under one of F owners chosen at random: a firm's
 *       inbox, its owner index) or "rewrite" (one of F existing keys replaced:
 *       an inbox cursor, a counter). tests/bench/run takes these figures from
 *       a store gongxud grew (storewalk), so this is the fastest any program
 *       can make the same records durable on this disk, in batches of the same
 *       size. --prefill first writes N postings' worth without fsync (one
 *       durable sync at its end), so the tree is as deep as gongxu's.
 *       JSON: postings_per_s, records_per_s, bytes_per_s, notices_per_s (the
 *       records of table --notices, default "inbox"), commits, batch,
 *       commit_p50_us, commit_p99_us, prefill, prefill_s.
 *
 * One JSON line on stdout; progress on stderr; exit 1 with a message on error.
 * Data lives in a fresh directory under D, removed at the end. Bounded in time:
 * at most S seconds plus a 10-second drain (records: plus the prefill). */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "pg_lat.h"

#define RTT_FRAME 200
#define ACK_PAYLOAD 300
#define ACK_REPLY 16     /* the echoed head of a request: send time, sequence */
#define BATCH_MAX 256
#define DRAIN_NS (10ull * 1000000000u)
#define REC_TABLES_MAX 32
#define REC_KEY_MAX 511
#define REC_VAL_MAX (1u << 20)

typedef enum rec_pattern { REC_APPEND, REC_SPREAD, REC_REWRITE } rec_pattern;

typedef struct rec_table {
    char name[32];       /* LMDB database name */
    double per;          /* records per posting */
    unsigned klen, vlen; /* key and value bytes */
    rec_pattern pat;     /* where the keys fall */
} rec_table;

typedef struct opts {
    const char *mode;   /* "rtt" or "ack" */
    const char *dir;    /* parent of the temp data directory */
    double seconds;     /* measured window */
    int clients;        /* ack: client threads */
    int window;         /* ack: requests in flight per client (closed loop) */
    double rate;        /* ack: total offered requests/s, 0 = closed loop */
    bool curve;         /* ack: CURVE on */
    size_t map_mb;      /* ack, records: LMDB map size */
    int batch;          /* records: postings per commit */
    long prefill;       /* records: postings written before the window */
    int firms;          /* records: owners of spread and rewritten keys */
    const char *notices;              /* records: the table whose records are notices */
    rec_table tables[REC_TABLES_MAX]; /* records: what one posting writes */
    int n_tables;
} opts;

static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void s_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("floor_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void s_usage(void)
{
    fputs("usage: floor_bench rtt --seconds S\n"
          "       floor_bench ack --dir D --clients C --seconds S [--window W] [--rate R] [--curve]"
          " [--map-mb M]\n"
          "       floor_bench records --dir D --seconds S --batch B [--prefill N] [--firms F] [--map-mb M]"
          " [--notices NAME] --table NAME:PER:KEY:VAL:append|spread|rewrite ...\n",
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

/* --table NAME:PER:KEY:VAL:PATTERN */
static void s_parse_table(opts *o, const char *v)
{
    if (o->n_tables == REC_TABLES_MAX)
        s_die("at most %d --table", REC_TABLES_MAX);
    rec_table *t = &o->tables[o->n_tables];
    char per[64], klen[32], vlen[32], pat[16];
    if (sscanf(v, "%31[^:]:%63[^:]:%31[^:]:%31[^:]:%15s", t->name, per, klen, vlen, pat) != 5)
        s_die("--table wants NAME:PER:KEY:VAL:append|spread|rewrite, got '%s'", v);
    t->per = s_num_arg("--table PER", per, 0, 1e6);
    t->klen = (unsigned)s_num_arg("--table KEY", klen, 1, REC_KEY_MAX);
    t->vlen = (unsigned)s_num_arg("--table VAL", vlen, 0, REC_VAL_MAX);
    if (strcmp(pat, "append") == 0)
        t->pat = REC_APPEND;
    else if (strcmp(pat, "spread") == 0)
        t->pat = REC_SPREAD;
    else if (strcmp(pat, "rewrite") == 0)
        t->pat = REC_REWRITE;
    else
        s_die("--table %s: pattern '%s' is none of append, spread, rewrite", t->name, pat);
    if (t->pat == REC_APPEND && t->klen < 8)
        s_die("--table %s: append keys need at least 8 bytes (a counter), got %u", t->name, t->klen);
    if (t->pat == REC_SPREAD && t->klen < 10)
        s_die("--table %s: spread keys need at least 10 bytes (an owner and a counter), got %u", t->name,
              t->klen);
    for (int i = 0; i < o->n_tables; i++)
        if (strcmp(o->tables[i].name, t->name) == 0)
            s_die("--table %s given twice", t->name);
    o->n_tables++;
}

static void s_parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->seconds = 5;
    o->clients = 1;
    o->window = 32;
    o->map_mb = 4096;
    o->batch = 1;
    o->firms = 1000;
    o->notices = "inbox";
    if (argc < 2)
        s_usage();
    o->mode = argv[1];
    if (strcmp(o->mode, "rtt") != 0 && strcmp(o->mode, "ack") != 0 && strcmp(o->mode, "records") != 0)
        s_usage();
    if (strcmp(o->mode, "records") == 0)
        o->map_mb = 65536; /* address space only: the file grows with what is written */
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--curve") == 0) {
            o->curve = true;
            continue;
        }
        if (strcmp(a, "--seconds") == 0)
            o->seconds = s_num_arg(a, v, 0.1, 3600);
        else if (strcmp(a, "--dir") == 0 && v)
            o->dir = v;
        else if (strcmp(a, "--clients") == 0)
            o->clients = (int)s_num_arg(a, v, 1, 1024);
        else if (strcmp(a, "--window") == 0)
            o->window = (int)s_num_arg(a, v, 1, 100000);
        else if (strcmp(a, "--rate") == 0)
            o->rate = s_num_arg(a, v, 0, 10000000);
        else if (strcmp(a, "--map-mb") == 0)
            o->map_mb = (size_t)s_num_arg(a, v, 16, 1 << 20);
        else if (strcmp(a, "--batch") == 0)
            o->batch = (int)s_num_arg(a, v, 1, 1000000);
        else if (strcmp(a, "--prefill") == 0)
            o->prefill = (long)s_num_arg(a, v, 0, 1e8);
        else if (strcmp(a, "--firms") == 0)
            o->firms = (int)s_num_arg(a, v, 1, 1e7);
        else if (strcmp(a, "--notices") == 0 && v)
            o->notices = v;
        else if (strcmp(a, "--table") == 0 && v)
            s_parse_table(o, v);
        else
            s_usage();
        i++;
    }
    if (strcmp(o->mode, "rtt") != 0 && !o->dir)
        s_die("%s needs --dir", o->mode);
    if (strcmp(o->mode, "records") == 0 && o->n_tables == 0)
        s_die("records needs at least one --table");
}

/* Sets an int socket option or dies. */
static void s_setint(void *sock, int opt, int v)
{
    if (zmq_setsockopt(sock, opt, &v, sizeof v) != 0)
        s_die("zmq_setsockopt(%d): %s", opt, zmq_strerror(zmq_errno()));
}

static void s_setstr(void *sock, int opt, const char *v)
{
    if (zmq_setsockopt(sock, opt, v, strlen(v)) != 0)
        s_die("zmq_setsockopt(%d): %s", opt, zmq_strerror(zmq_errno()));
}

/* Binds a socket to an ephemeral loopback port and returns its endpoint. */
static void s_bind(void *sock, char *ep, size_t n)
{
    if (zmq_bind(sock, "tcp://127.0.0.1:*") != 0)
        s_die("zmq_bind: %s", zmq_strerror(zmq_errno()));
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &n) != 0)
        s_die("ZMQ_LAST_ENDPOINT: %s", zmq_strerror(zmq_errno()));
}

/* ------------------------------------------------------------------ rtt */

typedef struct rtt_srv {
    void *sock;          /* ROUTER, bound by main */
    atomic_bool stop;    /* set by main */
    int err;             /* zmq errno when the loop failed */
} rtt_srv;

static void *s_rtt_server(void *arg)
{
    rtt_srv *s = arg;
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t it = {.socket = s->sock, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&it, 1, 100);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0) {
            s->err = zmq_errno();
            break;
        }
        while (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_recv(&body, s->sock, 0) < 0 || zmq_msg_send(&id, s->sock, ZMQ_SNDMORE) < 0 ||
                zmq_msg_send(&body, s->sock, 0) < 0) {
                s->err = zmq_errno();
                goto out;
            }
        }
    }
out:
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return NULL;
}

static int s_rtt(const opts *o)
{
    void *ctx = zmq_ctx_new();
    if (!ctx)
        s_die("zmq_ctx_new failed");
    rtt_srv srv = {.sock = zmq_socket(ctx, ZMQ_ROUTER)};
    void *cli = zmq_socket(ctx, ZMQ_DEALER);
    if (!srv.sock || !cli)
        s_die("zmq_socket: %s", zmq_strerror(zmq_errno()));
    s_setint(srv.sock, ZMQ_LINGER, 0);
    s_setint(cli, ZMQ_LINGER, 0);
    s_setint(cli, ZMQ_RCVTIMEO, 5000);
    char ep[256];
    s_bind(srv.sock, ep, sizeof ep);
    if (zmq_connect(cli, ep) != 0)
        s_die("zmq_connect %s: %s", ep, zmq_strerror(zmq_errno()));
    pthread_t th;
    if (pthread_create(&th, NULL, s_rtt_server, &srv) != 0)
        s_die("pthread_create failed");

    char frame[RTT_FRAME], back[RTT_FRAME + 1];
    memset(frame, 'x', sizeof frame);
    lat_set lat = {0};
    int rc = 0;
    /* One round trip outside the window: the TCP connection is made. */
    if (zmq_send(cli, frame, sizeof frame, 0) < 0 || zmq_recv(cli, back, sizeof back, 0) < 0) {
        fprintf(stderr, "floor_bench: first round trip failed: %s\n", zmq_strerror(zmq_errno()));
        rc = 1;
        goto out;
    }
    uint64_t t0 = lat_now_ns(), end = t0 + (uint64_t)(o->seconds * 1e9), n = 0, now = t0, next_note = t0 + 2000000000u;
    while (now < end) {
        uint64_t t = lat_now_ns();
        if (zmq_send(cli, frame, sizeof frame, 0) < 0 || zmq_recv(cli, back, sizeof back, 0) != RTT_FRAME) {
            fprintf(stderr, "floor_bench: round trip failed: %s\n", zmq_strerror(zmq_errno()));
            rc = 1;
            goto out;
        }
        now = lat_now_ns();
        lat_add(&lat, now - t);
        n++;
        if (now >= next_note) {
            fprintf(stderr, "rtt: %" PRIu64 " round trips, %.1f s\n", n, (double)(now - t0) / 1e9);
            next_note += 2000000000u;
        }
    }
    lat_sort(&lat);
    printf("{\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,\"round_trips_per_s\":%.0f}\n", lat_q_us(&lat, 0.5),
           lat_q_us(&lat, 0.99), (double)n / ((double)(now - t0) / 1e9));
out:
    atomic_store(&srv.stop, true);
    pthread_join(th, NULL);
    if (srv.err) {
        fprintf(stderr, "floor_bench: server: %s\n", zmq_strerror(srv.err));
        rc = 1;
    }
    zmq_close(cli);
    zmq_close(srv.sock);
    zmq_ctx_term(ctx);
    lat_free(&lat);
    return rc;
}

/* ------------------------------------------------------------------ ack */

typedef struct ack_run {
    const opts *o;
    void *ctx;                  /* shared ZeroMQ context */
    char ep[256];               /* server endpoint */
    char srv_pub[41];           /* CURVE keys, Z85 */
    char srv_sec[41];
    MDB_env *env;               /* the server's store */
    MDB_dbi dbi;                /* its one database */
    void *srv_sock;             /* ROUTER, bound by main, used by the server thread */
    atomic_bool stop;           /* server: leave the loop */
    atomic_bool failed;         /* someone failed: everyone stops */
    atomic_uint_fast64_t acked; /* acks received by clients (progress) */
    uint64_t commits;           /* server: write transactions committed */
    uint64_t written;           /* server: payloads written */
    pthread_barrier_t ready;    /* clients connected, t0 set after it */
    uint64_t t0, end;           /* window, monotonic ns */
    char err[256];              /* first failure */
    pthread_mutex_t mu;         /* guards err */
} ack_run;

static void s_fail(ack_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_fail(ack_run *r, const char *fmt, ...)
{
    pthread_mutex_lock(&r->mu);
    if (!r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof r->err, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->failed, true);
}

/* Writes the batch's payloads in one transaction and commits (fsync). */
static int s_ack_write(ack_run *r, zmq_msg_t *pay, int n)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(r->env, NULL, 0, &txn);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        uint8_t k[8];
        uint64_t key = ++r->written;
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(key >> (56 - 8 * b));
        MDB_val kv = {.mv_size = sizeof k, .mv_data = k};
        MDB_val vv = {.mv_size = zmq_msg_size(&pay[i]), .mv_data = zmq_msg_data(&pay[i])};
        if ((rc = mdb_put(txn, r->dbi, &kv, &vv, MDB_APPEND)) != 0) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    if ((rc = mdb_txn_commit(txn)) == 0)
        r->commits++;
    return rc;
}

static void *s_ack_server(void *arg)
{
    ack_run *r = arg;
    void *sock = r->srv_sock;
    static zmq_msg_t ids[BATCH_MAX], pay[BATCH_MAX];
    while (!atomic_load(&r->stop)) {
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&it, 1, 100);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0) {
            s_fail(r, "server poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        int n = 0;
        while (n < BATCH_MAX) {
            zmq_msg_init(&ids[n]);
            if (zmq_msg_recv(&ids[n], sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&ids[n]);
                break;
            }
            zmq_msg_init(&pay[n]);
            if (zmq_msg_recv(&pay[n], sock, 0) < 0) {
                s_fail(r, "server recv: %s", zmq_strerror(zmq_errno()));
                zmq_msg_close(&ids[n]);
                zmq_msg_close(&pay[n]);
                break;
            }
            n++;
        }
        int mrc = n ? s_ack_write(r, pay, n) : 0;
        if (mrc)
            s_fail(r, "server LMDB: %s", mdb_strerror(mrc));
        for (int i = 0; i < n; i++) {
            if (!mrc) {
                uint8_t head[ACK_REPLY] = {0};
                size_t hl = zmq_msg_size(&pay[i]) < ACK_REPLY ? zmq_msg_size(&pay[i]) : ACK_REPLY;
                memcpy(head, zmq_msg_data(&pay[i]), hl);
                if (zmq_msg_send(&ids[i], sock, ZMQ_SNDMORE) < 0 || zmq_send(sock, head, sizeof head, 0) < 0)
                    s_fail(r, "server send: %s", zmq_strerror(zmq_errno()));
            }
            zmq_msg_close(&ids[i]);
            zmq_msg_close(&pay[i]);
        }
        if (mrc || atomic_load(&r->failed))
            break;
    }
    return NULL;
}

typedef struct ack_cli {
    ack_run *r;       /* the run */
    int idx;          /* client number */
    lat_set lat;      /* ack latencies, ns */
    uint64_t acks;    /* acks received inside the window */
    uint64_t sent;    /* requests sent inside the window */
    uint64_t late;    /* acks received after the window */
    uint64_t lost;    /* requests never acknowledged */
} ack_cli;

/* Receives every ack that is ready; returns how many, or -1 on error. */
static int s_ack_recv_ready(ack_cli *c, void *sock)
{
    int got = 0;
    for (;;) {
        uint8_t head[ACK_REPLY];
        int n = zmq_recv(sock, head, sizeof head, ZMQ_DONTWAIT);
        if (n < 0) {
            if (zmq_errno() == EAGAIN)
                return got;
            if (zmq_errno() == EINTR)
                continue;
            s_fail(c->r, "client recv: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (n != ACK_REPLY) {
            s_fail(c->r, "client: ack of %d bytes", n);
            return -1;
        }
        uint64_t t, now = lat_now_ns();
        memcpy(&t, head, sizeof t);
        if (t != 0) { /* 0 marks the warm-up request */
            lat_add(&c->lat, now - t);
            if (now <= c->r->end)
                c->acks++;
            else
                c->late++;
            atomic_fetch_add(&c->r->acked, 1);
        }
        got++;
    }
}

/* Sends one request stamped with time t (0 = warm-up); false on EAGAIN. */
static bool s_ack_send(ack_cli *c, void *sock, uint64_t t, uint64_t seq, int flags)
{
    uint8_t buf[ACK_PAYLOAD];
    memset(buf, 'p', sizeof buf);
    memcpy(buf, &t, sizeof t);
    memcpy(buf + 8, &seq, sizeof seq);
    for (;;) {
        if (zmq_send(sock, buf, sizeof buf, flags) == (int)sizeof buf)
            return true;
        if (zmq_errno() == EINTR)
            continue;
        if (zmq_errno() != EAGAIN)
            s_fail(c->r, "client send: %s", zmq_strerror(zmq_errno()));
        return false;
    }
}

/* Waits until the socket may have input or the monotonic time `until` passes. */
static void s_ack_wait(ack_cli *c, void *sock, int fd, uint64_t until)
{
    int ev = 0;
    size_t sz = sizeof ev;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) != 0) {
        s_fail(c->r, "ZMQ_EVENTS: %s", zmq_strerror(zmq_errno()));
        return;
    }
    if (ev & ZMQ_POLLIN)
        return;
    uint64_t now = lat_now_ns();
    if (until <= now)
        return;
    uint64_t d = until - now;
    struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u), .tv_nsec = (long)(d % 1000000000u)};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ppoll(&p, 1, &ts, NULL);
}

static void *s_ack_client(void *arg)
{
    ack_cli *c = arg;
    ack_run *r = c->r;
    const opts *o = r->o;
    void *sock = zmq_socket(r->ctx, ZMQ_DEALER);
    int fd = -1;
    size_t fl = sizeof fd;
    bool ok = sock != NULL;
    if (ok) {
        s_setint(sock, ZMQ_LINGER, 0);
        s_setint(sock, ZMQ_SNDHWM, 1000000);
        s_setint(sock, ZMQ_RCVHWM, 1000000);
        if (o->curve) {
            char pub[41], sec[41];
            if (zmq_curve_keypair(pub, sec) != 0)
                s_die("zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
            s_setstr(sock, ZMQ_CURVE_SERVERKEY, r->srv_pub);
            s_setstr(sock, ZMQ_CURVE_PUBLICKEY, pub);
            s_setstr(sock, ZMQ_CURVE_SECRETKEY, sec);
        }
        ok = zmq_connect(sock, r->ep) == 0 && zmq_getsockopt(sock, ZMQ_FD, &fd, &fl) == 0;
    }
    /* Warm-up: one acknowledged request, so the window starts connected. */
    uint64_t dl = lat_now_ns() + 10000000000ull;
    if (ok && s_ack_send(c, sock, 0, 0, 0)) {
        int got = 0;
        while (got == 0 && !atomic_load(&r->failed) && lat_now_ns() < dl) {
            s_ack_wait(c, sock, fd, lat_now_ns() + 100000000u);
            got = s_ack_recv_ready(c, sock);
        }
        if (got <= 0)
            s_fail(r, "client %d: no ack for the warm-up request", c->idx);
    } else {
        s_fail(r, "client %d: socket/connect failed: %s", c->idx, zmq_strerror(zmq_errno()));
    }
    pthread_barrier_wait(&r->ready);
    pthread_barrier_wait(&r->ready); /* main sets t0/end between the two */
    uint64_t seq = 0, inflight = 0;
    /* open loop: this client's share of the schedule, interleaved with the others */
    double period = o->rate > 0 ? 1e9 * o->clients / o->rate : 0;
    double offset = o->rate > 0 ? 1e9 * c->idx / o->rate : 0;
    uint64_t drain_end = r->end + DRAIN_NS;
    while (!atomic_load(&r->failed)) {
        uint64_t now = lat_now_ns(), next = UINT64_MAX;
        bool sending = now < r->end;
        if (sending && o->rate > 0) {
            for (;;) {
                uint64_t due = r->t0 + (uint64_t)(offset + period * (double)seq);
                if (due >= r->end)
                    break;
                if (due > now) {
                    next = due;
                    break;
                }
                if (!s_ack_send(c, sock, due, seq, ZMQ_DONTWAIT)) {
                    next = now + 100000; /* HWM reached: retry soon, latency keeps counting */
                    break;
                }
                seq++;
                inflight++;
                c->sent++;
            }
        } else if (sending) {
            while (inflight < (uint64_t)o->window && s_ack_send(c, sock, lat_now_ns(), seq, ZMQ_DONTWAIT)) {
                seq++;
                inflight++;
                c->sent++;
            }
        }
        int got = s_ack_recv_ready(c, sock);
        if (got < 0)
            break;
        inflight -= (uint64_t)got;
        if (!sending && inflight == 0)
            break;
        if (!sending && now >= drain_end) {
            c->lost = inflight;
            break;
        }
        if (got > 0)
            continue;
        uint64_t until = sending ? (next < r->end ? next : r->end) : drain_end;
        s_ack_wait(c, sock, fd, until);
    }
    if (sock)
        zmq_close(sock);
    return NULL;
}

static void s_rmtree_lmdb(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static int s_ack(const opts *o)
{
    static ack_run r; /* large; zeroed */
    r.o = o;
    pthread_mutex_init(&r.mu, NULL);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/floor-ack-XXXXXX", o->dir);
    if (!mkdtemp(dir))
        s_die("mkdtemp %s: %s", dir, strerror(errno));
    int rc = mdb_env_create(&r.env);
    if (!rc)
        rc = mdb_env_set_mapsize(r.env, o->map_mb << 20);
    if (!rc) /* flags 0: every commit is fsync()ed (no NOSYNC / NOMETASYNC / WRITEMAP) */
        rc = mdb_env_open(r.env, dir, 0, 0600);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(r.env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, NULL, 0, &r.dbi);
    if (!rc)
        rc = mdb_txn_commit(txn);
    if (rc) {
        s_rmtree_lmdb(dir);
        s_die("LMDB in %s: %s", dir, mdb_strerror(rc));
    }

    r.ctx = zmq_ctx_new();
    if (!r.ctx)
        s_die("zmq_ctx_new failed");
    r.srv_sock = zmq_socket(r.ctx, ZMQ_ROUTER);
    if (!r.srv_sock)
        s_die("zmq_socket: %s", zmq_strerror(zmq_errno()));
    s_setint(r.srv_sock, ZMQ_LINGER, 0);
    s_setint(r.srv_sock, ZMQ_SNDHWM, 1000000);
    s_setint(r.srv_sock, ZMQ_RCVHWM, 1000000);
    s_setint(r.srv_sock, ZMQ_ROUTER_MANDATORY, 1);
    if (o->curve) {
        if (zmq_curve_keypair(r.srv_pub, r.srv_sec) != 0)
            s_die("zmq_curve_keypair: %s (libzmq without CURVE?)", zmq_strerror(zmq_errno()));
        s_setint(r.srv_sock, ZMQ_CURVE_SERVER, 1);
        s_setstr(r.srv_sock, ZMQ_CURVE_SECRETKEY, r.srv_sec);
    }
    s_bind(r.srv_sock, r.ep, sizeof r.ep);

    int nc = o->clients;
    ack_cli *cl = calloc((size_t)nc, sizeof *cl);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    if (!cl || !th)
        s_die("out of memory");
    pthread_barrier_init(&r.ready, NULL, (unsigned)nc + 1);
    pthread_t sth;
    if (pthread_create(&sth, NULL, s_ack_server, &r) != 0)
        s_die("pthread_create failed");
    for (int i = 0; i < nc; i++) {
        cl[i].r = &r;
        cl[i].idx = i;
        if (pthread_create(&th[i], NULL, s_ack_client, &cl[i]) != 0)
            s_die("pthread_create failed");
    }
    pthread_barrier_wait(&r.ready);
    r.t0 = lat_now_ns();
    r.end = r.t0 + (uint64_t)(o->seconds * 1e9);
    fprintf(stderr, "ack: %d client(s)%s, %s, %.1f s, data in %s\n", nc, o->curve ? " over CURVE" : "",
            o->rate > 0 ? "open loop" : "closed loop", o->seconds, dir);
    pthread_barrier_wait(&r.ready);
    uint64_t last = r.t0;
    while (!atomic_load(&r.failed)) {
        uint64_t now = lat_now_ns();
        if (now >= r.end + DRAIN_NS + 1000000000ull)
            break;
        lat_sleep_until(now + 200000000u);
        now = lat_now_ns();
        if (now >= last + 2000000000u && now < r.end) {
            fprintf(stderr, "ack: %" PRIu64 " acks after %.1f s\n", (uint64_t)atomic_load(&r.acked),
                    (double)(now - r.t0) / 1e9);
            last = now;
        }
        if (now >= r.end)
            break;
    }
    for (int i = 0; i < nc; i++)
        pthread_join(th[i], NULL);
    atomic_store(&r.stop, true);
    pthread_join(sth, NULL);

    lat_set all = {0};
    uint64_t acks = 0, sent = 0, late = 0, lost = 0;
    for (int i = 0; i < nc; i++) {
        acks += cl[i].acks;
        sent += cl[i].sent;
        late += cl[i].late;
        lost += cl[i].lost;
        lat_merge(&all, &cl[i].lat);
    }
    lat_sort(&all);
    int ret = 0;
    if (atomic_load(&r.failed)) {
        fprintf(stderr, "floor_bench: %s\n", r.err);
        ret = 1;
    } else {
        fprintf(stderr, "ack: sent %" PRIu64 ", acked in window %" PRIu64 ", late %" PRIu64 ", lost %" PRIu64
                        ", %" PRIu64 " commits (%.1f requests per commit)\n",
                sent, acks, late, lost, r.commits, r.commits ? (double)r.written / (double)r.commits : 0.0);
        if (all.dropped)
            fprintf(stderr, "ack: %zu latency samples not kept\n", all.dropped);
        printf("{\"acks_per_s\":%.0f,\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"acks\":%" PRIu64
               ",\"clients\":%d,\"rate\":%.0f}\n",
               (double)acks / o->seconds, lat_q_us(&all, 0.5), lat_q_us(&all, 0.99), acks, nc, o->rate);
        if (lost) {
            fprintf(stderr, "floor_bench: %" PRIu64 " requests never acknowledged\n", lost);
            ret = 1;
        }
    }
    lat_free(&all);
    zmq_close(r.srv_sock);
    zmq_ctx_term(r.ctx);
    mdb_env_close(r.env);
    s_rmtree_lmdb(dir);
    pthread_barrier_destroy(&r.ready);
    free(cl);
    free(th);
    return ret;
}

/* ------------------------------------------------------------------ records */

typedef struct rec_state {
    MDB_dbi dbi;        /* the table */
    double carry;       /* records owed to the next posting */
    uint64_t next;      /* append: next key */
    uint64_t *per_firm; /* spread: next key under each owner */
    uint64_t written;   /* records written in the window */
} rec_state;

typedef struct rec_run {
    const opts *o;
    MDB_env *env;
    rec_state st[REC_TABLES_MAX];
    uint64_t rng;           /* xorshift64 state */
    uint8_t noise[1 << 16]; /* value bytes, random so that nothing is shared */
    size_t noise_at;
} rec_run;

static uint64_t s_rand(rec_run *r)
{
    uint64_t x = r->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->rng = x;
}

/* A key of t->klen bytes: the owner's number (spread, rewrite) in the head,
 * padded, and the big-endian counter n in the last 8 bytes (append, spread). */
static void s_rec_key(const rec_table *t, uint8_t *k, uint64_t owner, uint64_t n)
{
    memset(k, 0, t->klen);
    unsigned head = t->pat == REC_REWRITE ? t->klen : t->klen - 8;
    for (unsigned b = 0; b < head && b < 8; b++) /* the owner's low bytes end the head, big-endian */
        k[head - 1 - b] = (uint8_t)(owner >> (8 * b));
    if (t->pat != REC_REWRITE)
        for (int b = 0; b < 8; b++)
            k[t->klen - 8 + b] = (uint8_t)(n >> (56 - 8 * b));
}

/* Writes one posting's records; false with *rc set on an LMDB error. */
static bool s_rec_posting(rec_run *r, MDB_txn *txn, int *rc)
{
    const opts *o = r->o;
    uint8_t k[REC_KEY_MAX];
    for (int i = 0; i < o->n_tables; i++) {
        const rec_table *t = &o->tables[i];
        rec_state *st = &r->st[i];
        st->carry += t->per;
        while (st->carry >= 1.0) {
            st->carry -= 1.0;
            uint64_t owner = s_rand(r) % (uint64_t)o->firms;
            if (t->pat == REC_APPEND)
                s_rec_key(t, k, 0, st->next++);
            else if (t->pat == REC_SPREAD)
                s_rec_key(t, k, owner + 1, st->per_firm[owner]++);
            else
                s_rec_key(t, k, owner + 1, 0);
            if (r->noise_at + t->vlen > sizeof r->noise)
                r->noise_at = 0;
            MDB_val kv = {.mv_size = t->klen, .mv_data = k};
            MDB_val vv = {.mv_size = t->vlen,
                          .mv_data = t->vlen <= sizeof r->noise ? r->noise + r->noise_at : NULL};
            if (!vv.mv_data) { /* a value larger than the noise: LMDB fills it in place */
                if ((*rc = mdb_put(txn, st->dbi, &kv, &vv, MDB_RESERVE)) != 0)
                    return false;
                memset(vv.mv_data, 'v', t->vlen);
            } else if ((*rc = mdb_put(txn, st->dbi, &kv, &vv, 0)) != 0) {
                return false;
            }
            r->noise_at += t->vlen % 4093 + 1;
            st->written++;
        }
    }
    return true;
}

/* Writes n postings in one transaction and commits it (durably unless the env is NOSYNC). */
static int s_rec_batch(rec_run *r, long n)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(r->env, NULL, 0, &txn);
    if (rc)
        return rc;
    for (long i = 0; i < n; i++)
        if (!s_rec_posting(r, txn, &rc)) {
            mdb_txn_abort(txn);
            return rc;
        }
    return mdb_txn_commit(txn);
}

static int s_records(const opts *o)
{
    static rec_run r; /* large; zeroed */
    r.o = o;
    r.rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof r.noise; i++)
        r.noise[i] = (uint8_t)s_rand(&r);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/floor-records-XXXXXX", o->dir);
    if (!mkdtemp(dir))
        s_die("mkdtemp %s: %s", dir, strerror(errno));
    int rc = mdb_env_create(&r.env);
    if (!rc)
        rc = mdb_env_set_mapsize(r.env, o->map_mb << 20);
    if (!rc)
        rc = mdb_env_set_maxdbs(r.env, REC_TABLES_MAX);
    if (!rc) /* like gongxud: durable commits, no WRITEMAP; NOSYNC only while prefilling */
        rc = mdb_env_open(r.env, dir, o->prefill ? MDB_NOSYNC : 0, 0600);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(r.env, NULL, 0, &txn);
    for (int i = 0; !rc && i < o->n_tables; i++) {
        rc = mdb_dbi_open(txn, o->tables[i].name, MDB_CREATE, &r.st[i].dbi);
        if (!rc && o->tables[i].pat == REC_SPREAD && !(r.st[i].per_firm = calloc((size_t)o->firms, 8)))
            s_die("out of memory");
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    const char *phase = "opening";
    uint64_t p0 = lat_now_ns(), last = p0;
    for (long done = 0; !rc && done < o->prefill;) {
        phase = "prefilling";
        long n = o->prefill - done < 1000 ? o->prefill - done : 1000;
        rc = s_rec_batch(&r, n);
        done += n;
        if (lat_now_ns() >= last + 5000000000ull || done == o->prefill) {
            last = lat_now_ns();
            fprintf(stderr, "records: prefilled %ld of %ld postings, %.1f s\n", done, o->prefill,
                    (double)(last - p0) / 1e9);
        }
    }
    if (!rc && o->prefill && !(rc = mdb_env_sync(r.env, 1)))
        rc = mdb_env_set_flags(r.env, MDB_NOSYNC, 0); /* every commit from here is fsync()ed */
    double prefill_s = (double)(lat_now_ns() - p0) / 1e9;
    for (int i = 0; i < o->n_tables; i++)
        r.st[i].written = 0;

    lat_set lat = {0};
    uint64_t commits = 0, t0 = lat_now_ns(), end = t0 + (uint64_t)(o->seconds * 1e9), now = t0;
    last = t0;
    if (!rc)
        fprintf(stderr, "records: %d postings per durable commit, %d table(s), %.1f s, data in %s\n",
                o->batch, o->n_tables, o->seconds, dir);
    while (!rc && now < end) {
        phase = "writing";
        uint64_t t = lat_now_ns();
        rc = s_rec_batch(&r, o->batch);
        now = lat_now_ns();
        lat_add(&lat, now - t);
        commits += !rc;
        if (now >= last + 2000000000u) {
            fprintf(stderr, "records: %" PRIu64 " commits after %.1f s\n", commits, (double)(now - t0) / 1e9);
            last = now;
        }
    }
    int ret = 0;
    if (rc) {
        fprintf(stderr, "floor_bench: LMDB in %s while %s: %s\n", dir, phase, mdb_strerror(rc));
        ret = 1;
    } else {
        double secs = (double)(now - t0) / 1e9, postings = (double)commits * o->batch, recs = 0, bytes = 0,
               notices = 0;
        for (int i = 0; i < o->n_tables; i++) {
            const rec_table *t = &o->tables[i];
            recs += (double)r.st[i].written;
            bytes += (double)r.st[i].written * (t->klen + t->vlen);
            if (strcmp(t->name, o->notices) == 0)
                notices = (double)r.st[i].written;
        }
        lat_sort(&lat);
        fprintf(stderr, "records: %" PRIu64 " commits, %.0f postings, %.0f records, %.1f MB in %.1f s\n",
                commits, postings, recs, bytes / 1e6, secs);
        printf("{\"postings_per_s\":%.1f,\"records_per_s\":%.1f,\"bytes_per_s\":%.0f,\"notices_per_s\":%.1f,"
               "\"commits\":%" PRIu64 ",\"batch\":%d,\"commit_p50_us\":%.1f,\"commit_p99_us\":%.1f,"
               "\"prefill\":%ld,\"prefill_s\":%.1f,\"seconds\":%.2f}\n",
               postings / secs, recs / secs, bytes / secs, notices / secs, commits, o->batch,
               lat_q_us(&lat, 0.5), lat_q_us(&lat, 0.99), o->prefill, prefill_s, secs);
    }
    lat_free(&lat);
    for (int i = 0; i < o->n_tables; i++)
        free(r.st[i].per_firm);
    if (r.env)
        mdb_env_close(r.env);
    s_rmtree_lmdb(dir);
    return ret;
}

int main(int argc, char **argv)
{
    opts o;
    s_parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(o.mode, "records") == 0)
        return s_records(&o);
    return strcmp(o.mode, "rtt") == 0 ? s_rtt(&o) : s_ack(&o);
}
