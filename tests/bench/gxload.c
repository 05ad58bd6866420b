/* gxload — the gongxu load client of the end-to-end benchmark (tests/bench/run).
 *
 * Talks to a real gongxud over its real socket (DEALER -> ROUTER, CURVE) with
 * postings from the shared deterministic workload (workload.h). Modes:
 *
 *   setup    as the operator, registers firms 0..F-1 of the workload and a new
 *            CURVE key pair for each; writes the pairs to --keys.
 *   preload  posts preload postings g = START .. START+COUNT-1 from their
 *            owners' connections (one per firm), WINDOW in flight in all.
 *   ingest   CLIENTS connections, each a different firm (keys 0..C-1), each
 *            with WINDOW requests in flight, posting for SECONDS.
 *   notice   one connection per firm, each after Resume reading its notices
 *            (and acking them); demands sent open loop at RATE per second
 *            from their owners' connections; latency from each demand's
 *            scheduled send time to the first candidate_added notice about
 *            it (at its owner's connection), and to the first notice of any
 *            kind naming it at any firm.
 *   steady   CLIENTS connections (firms 0..C-1) each sending Pings on a fixed
 *            schedule, RATE per second in all, for SECONDS or, with
 *            --until-eof, until stdin closes; writes each Ping's scheduled
 *            send time and latency to --samples, from which tests/bench/run
 *            reads the loop's stalls while an engine snapshot is written.
 *   ping     as the operator, sends one Ping and waits for the answer (retrying
 *            the connection every 10 ms): how the benchmark sees "ready".
 *   stats    as the operator, GetStats.
 *
 * Which postings (the rules of pg_bench, the PostgreSQL side, so that both
 * post the same postings; i is the workload index of gx_wl_demand /
 * gx_wl_offer; N the preload, --start in ingest and notice):
 *
 *   preload posting g:        g even: demand g/2, g odd: offer g/2, posted by
 *                             the workload owner. Preloading N postings is
 *                             g = 0..N-1; growing to M later is g = N..M-1.
 *   ingest posting k:         k from one counter shared by the clients, in the
 *                             order they take them; k even: demand N/2 + k/2,
 *                             odd: offer N/2 + k/2. Posted by the client's firm
 *                             (workload firm c for client c), which the broker
 *                             makes its owner: a connection acts for one firm.
 *   notice posting k:         the k-th picked demand (pick.h: indexes
 *                             N/2, N/2+1, ... that have an eligible preloaded
 *                             offer), posted by its workload owner at
 *                             t0 + k/RATE. Its notice: the first
 *                             candidate_added naming it, which goes to its
 *                             owner, as pg_bench's "candidate" notice.
 *                             After the last send every reply is waited for,
 *                             then 2 s for notices; a demand still without its
 *                             notice counts with its latency so far (a lower
 *                             bound; "censored" in the JSON).
 *
 * Every mode prints exactly one JSON line on stdout; progress goes to stderr.
 * Every loop is bounded in time. Loopback benchmarks only. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <gongxu/keyfile.h>

#include "codec.h"
#include "gxload_net.h"
#include "pick.h"
#include "model.h"
#include "workload.h"

#define RING 65536u                 /* send-time slots per connection (window must be below) */
#define ACK_RID (UINT64_C(1) << 62) /* request ids of Acks and other side requests */

typedef struct s_opts {
    const char *mode;
    const char *endpoint;     /* broker client endpoint */
    char server_key[41];      /* Z85, "" without CURVE */
    const char *operator_key; /* operator key file */
    const char *keys;         /* firms' key file (setup writes, the rest read) */
    uint64_t seed;            /* workload seed */
    size_t firms;             /* workload firms */
    int64_t now;              /* workload "today" */
    uint64_t start, count;    /* preload range; ingest, notice: the preload N */
    int clients;              /* ingest connections */
    int window;               /* requests in flight */
    double seconds;           /* ingest / notice duration */
    double rate;              /* notice: postings per second */
    double timeout;           /* give up waiting after this many seconds without progress */
    double progress;          /* seconds between progress lines */
    const char *samples;      /* steady: where each Ping's send time and latency go */
    bool until_eof;           /* steady: also stop when stdin closes */
} s_opts;

static void s_usage(FILE *f)
{
    fprintf(f, "usage: gxload MODE --endpoint EP --server-key Z85|FILE [options]\n"
               "modes: setup | preload | ingest | notice | steady | ping | stats\n"
               "  --operator-key FILE   operator key file (setup, ping, stats)\n"
               "  --keys FILE           firms' key file (written by setup, read by the others)\n"
               "  --seed S --firms F --now UNIX   the workload (the same in every mode)\n"
               "  --start G --count N   preload postings G..G+N-1 (ingest, notice: --start is the preload)\n"
               "  --clients C           ingest connections (at most F)\n"
               "  --window W            requests in flight (per client for ingest; in all for preload)\n"
               "  --seconds T           ingest / notice duration\n"
               "  --rate R              notice: postings per second, open loop; steady: Pings per second\n"
               "  --samples FILE        steady: one 'SEND_S LATENCY_US' line per Ping (monotonic clock)\n"
               "  --until-eof           steady: stop when stdin closes (or after --seconds)\n"
               "  --timeout S           give up after S seconds without progress (default 60)\n"
               "  --progress S          seconds between progress lines on stderr (default 2)\n");
}

/* ---------------------------------------------------------------- shared */

static gx_wl_opts s_wl(const s_opts *o)
{
    return (gx_wl_opts){.seed = o->seed, .firms = o->firms, .now = o->now};
}

/* Frames workload posting (demand or offer, index i) as request rid. owner,
 * when not NULL, replaces the posting's owner; owner_out (may be NULL) gets
 * the owner. 0 or -1. */
static int s_posting(const gx_wl_opts *wl, bool demand, uint64_t i, const char *owner, uint64_t rid,
                     gxl_frame *f, char owner_out[19])
{
    gx_buf b = {0};
    gx_err err;
    if (demand) {
        gx_demand d = {0};
        err = gx_wl_demand(wl, i, &d);
        if (!err && owner)
            snprintf(d.owner, sizeof d.owner, "%s", owner);
        if (!err && owner_out)
            memcpy(owner_out, d.owner, 19);
        if (!err)
            err = gx_codec_encode_demand(&d, &b);
        gx_demand_fini(&d);
    } else {
        gx_offer of = {0};
        err = gx_wl_offer(wl, i, &of);
        if (!err && owner)
            snprintf(of.owner, sizeof of.owner, "%s", owner);
        if (!err && owner_out)
            memcpy(owner_out, of.owner, 19);
        if (!err)
            err = gx_codec_encode_offer(&of, &b);
        gx_offer_fini(&of);
    }
    int rc = err ? -1 : gxl_frame_wrap(f, rid, demand ? GXL_F_POST_DEMAND : GXL_F_POST_OFFER, b.data, b.len);
    if (err)
        fprintf(stderr, "gxload: workload %s %" PRIu64 ": %s\n", demand ? "demand" : "offer", i,
                gx_err_str(err));
    gx_buf_fini(&b);
    return rc;
}

/* A decoded answer: reply, error or notice. */
typedef struct s_msg {
    Gongxu__V1__Envelope *env; /* owned; free with s_msg_fini */
    uint64_t rid;              /* request id (0 for notices) */
    bool ok;                   /* a reply */
    bool error;                /* an error */
    bool notice;               /* a notice */
} s_msg;

static int s_msg_decode(const uint8_t *data, size_t len, s_msg *m)
{
    memset(m, 0, sizeof *m);
    m->env = gongxu__v1__envelope__unpack(NULL, len, data);
    if (!m->env)
        return -1;
    m->rid = m->env->request_id;
    m->ok = m->env->body_case == GONGXU__V1__ENVELOPE__BODY_REPLY;
    m->error = m->env->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR && m->env->error;
    m->notice = m->env->body_case == GONGXU__V1__ENVELOPE__BODY_NOTICE && m->env->notice;
    return 0;
}

static void s_msg_fini(s_msg *m)
{
    if (m->env)
        gongxu__v1__envelope__free_unpacked(m->env, NULL);
    m->env = NULL;
}

/* Prints the first few error replies, then only counts them. */
static void s_report_error(atomic_uint *shown, const s_msg *m, const char *what)
{
    if (atomic_fetch_add(shown, 1) < 5)
        fprintf(stderr, "gxload: %s refused: %s %s%s%s\n", what,
                m->env->error->code == GONGXU__V1__ERROR_CODE__ERR_RATE_LIMITED ? "RATE_LIMITED" : "error",
                m->env->error->message ? m->env->error->message : "",
                m->env->error->field && m->env->error->field[0] ? " field " : "",
                m->env->error->field ? m->env->error->field : "");
}
static atomic_uint s_errors_shown;

/* Firm id -> key index, by binary search over a sorted copy. */
typedef struct s_firm_ix {
    char id[19];
    uint32_t ix;
} s_firm_ix;

static int s_cmp_firm(const void *a, const void *b)
{
    return strcmp(((const s_firm_ix *)a)->id, ((const s_firm_ix *)b)->id);
}

static s_firm_ix *s_firm_index(const gxl_key *keys, size_t n)
{
    s_firm_ix *v = malloc(n * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(v[i].id, keys[i].firm, 19);
        v[i].ix = (uint32_t)i;
    }
    qsort(v, n, sizeof *v, s_cmp_firm);
    return v;
}

static long s_firm_lookup(const s_firm_ix *v, size_t n, const char *id)
{
    s_firm_ix k;
    snprintf(k.id, sizeof k.id, "%s", id);
    const s_firm_ix *hit = bsearch(&k, v, n, sizeof *v, s_cmp_firm);
    return hit ? (long)hit->ix : -1;
}

/* One socket per firm of the key file. */
static void **s_connect_all(void *ctx, const s_opts *o, const gxl_key *keys, size_t n)
{
    void **socks = calloc(n, sizeof *socks);
    if (!socks)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(socks[i] = gxl_socket(ctx, o->endpoint, o->server_key, keys[i].pub, keys[i].sec))) {
            for (size_t j = 0; j < i; j++)
                zmq_close(socks[j]);
            free(socks);
            return NULL;
        }
    return socks;
}

static void s_close_all(void **socks, size_t n)
{
    for (size_t i = 0; socks && i < n; i++)
        zmq_close(socks[i]);
    free(socks);
}

static void *s_operator_socket(void *ctx, const s_opts *o)
{
    char pub[41], sec[41], err[256];
    if (!o->operator_key || gx_keyfile_read(o->operator_key, pub, sec, err, sizeof err) != 0 || !sec[0]) {
        fprintf(stderr, "gxload: operator key %s: %s\n", o->operator_key ? o->operator_key : "(none)",
                o->operator_key ? err : "--operator-key is required");
        return NULL;
    }
    return gxl_socket(ctx, o->endpoint, o->server_key, pub, sec);
}

/* Receives one message on sock within timeout seconds into m. 0, or -1. */
static int s_recv(void *sock, double timeout, s_msg *m)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, (long)(timeout * 1000)) <= 0)
        return -1;
    zmq_msg_t z;
    zmq_msg_init(&z);
    int rc =
        zmq_msg_recv(&z, sock, ZMQ_DONTWAIT) < 0 ? -1 : s_msg_decode(zmq_msg_data(&z), zmq_msg_size(&z), m);
    zmq_msg_close(&z);
    return rc;
}

/* One request on sock and its answer within timeout seconds (notices skipped).
 * 0 with *m holding the reply or error, or -1 on timeout. */
static int s_call(void *sock, Gongxu__V1__Envelope *e, double timeout, s_msg *m)
{
    gxl_frame f = {0};
    int rc = gxl_frame_pack(&f, e) == 0 && zmq_send(sock, f.data, f.len, 0) == (int)f.len ? 0 : -1;
    gxl_frame_fini(&f);
    double end = gxl_now() + timeout;
    while (rc == 0) {
        double left = end - gxl_now();
        if (left <= 0 || s_recv(sock, left, m) != 0)
            return -1;
        if (m->rid == e->request_id && (m->ok || m->error))
            return 0;
        s_msg_fini(m);
    }
    return rc;
}

/* ---------------------------------------------------------------- setup */

/* Sends frames 0..n-1 built by build() on sock with `window` in flight;
 * counts replies and errors. 0, or -1 when the broker stops answering. */
typedef int (*s_build_fn)(void *arg, size_t i, uint64_t rid, gxl_frame *f);

static int s_pipeline(void *sock, size_t n, int window, double timeout, s_build_fn build, void *arg,
                      const char *what, size_t *ok, size_t *errors)
{
    gxl_frame f = {0};
    size_t sent = 0, done = 0;
    double last = gxl_now();
    int rc = 0;
    while (done < n) {
        while (sent < n && sent - done < (size_t)window) {
            if (build(arg, sent, sent + 1, &f) != 0) {
                rc = -1;
                goto out;
            }
            if (zmq_send(sock, f.data, f.len, 0) != (int)f.len) {
                rc = -1;
                goto out;
            }
            sent++;
        }
        s_msg m = {0};
        if (s_recv(sock, 0.2, &m) != 0) {
            if (gxl_now() - last > timeout) {
                fprintf(stderr, "gxload: %s: no answer for %.0f s (%zu of %zu answered)\n", what, timeout,
                        done, n);
                rc = -1;
                goto out;
            }
            continue;
        }
        last = gxl_now();
        if (m.ok || m.error) {
            done++;
            if (m.ok)
                (*ok)++;
            else {
                (*errors)++;
                s_report_error(&s_errors_shown, &m, what);
            }
        }
        s_msg_fini(&m);
    }
out:
    gxl_frame_fini(&f);
    return rc;
}

typedef struct s_setup_ctx {
    const s_opts *o;
    gx_wl_opts wl;
    gxl_key *keys;
} s_setup_ctx;

static int s_build_firm(void *arg, size_t i, uint64_t rid, gxl_frame *f)
{
    s_setup_ctx *c = arg;
    gx_firm firm = {0};
    gx_buf b = {0};
    gx_err err = gx_wl_firm(&c->wl, i, &firm);
    if (!err) {
        memcpy(c->keys[i].firm, firm.id, 19);
        err = gx_codec_encode_firm(&firm, &b);
    }
    int rc = err ? -1 : gxl_frame_wrap(f, rid, GXL_F_REGISTER_FIRM, b.data, b.len);
    if (err)
        fprintf(stderr, "gxload: workload firm %zu: %s\n", i, gx_err_str(err));
    gx_firm_fini(&firm);
    gx_buf_fini(&b);
    return rc;
}

static int s_build_key(void *arg, size_t i, uint64_t rid, gxl_frame *f)
{
    s_setup_ctx *c = arg;
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__RegisterKey rk = GONGXU__V1__REGISTER_KEY__INIT;
    rk.firm_id = c->keys[i].firm;
    rk.public_key = c->keys[i].pub;
    e.request_id = rid;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_REGISTER_KEY;
    e.register_key = &rk;
    return gxl_frame_pack(f, &e);
}

static int s_setup(void *ctx, const s_opts *o)
{
    s_setup_ctx c = {.o = o, .wl = s_wl(o), .keys = calloc(o->firms, sizeof(gxl_key))};
    void *sock = s_operator_socket(ctx, o);
    size_t ok_firms = 0, ok_keys = 0, errors = 0;
    int rc = -1;
    double t0 = gxl_now();
    if (!c.keys || !sock)
        goto out;
    for (size_t i = 0; i < o->firms; i++)
        if (gx_keyfile_generate(c.keys[i].pub, c.keys[i].sec) != 0) {
            fprintf(stderr, "gxload: no CURVE in this libzmq\n");
            goto out;
        }
    if (s_pipeline(sock, o->firms, o->window, o->timeout, s_build_firm, &c, "register_firm", &ok_firms,
                   &errors) != 0)
        goto out;
    if (s_pipeline(sock, o->firms, o->window, o->timeout, s_build_key, &c, "register_key", &ok_keys,
                   &errors) != 0)
        goto out;
    if (gxl_keys_write(o->keys, c.keys, o->firms) != 0)
        goto out;
    printf("{\"firms\":%zu,\"keys\":%zu,\"errors\":%zu,\"seconds\":%.3f}\n", ok_firms, ok_keys, errors,
           gxl_now() - t0);
    rc = errors ? -1 : 0;
out:
    if (sock)
        zmq_close(sock);
    free(c.keys);
    return rc;
}

/* ---------------------------------------------------------------- preload */

typedef struct s_preload_ctx {
    double *sent_at; /* RING send times by rid */
    size_t inflight; /* requests without an answer */
    size_t acks, errors;
    gxl_lat lat; /* ack latency */
} s_preload_ctx;

static void s_preload_msg(void *arg, size_t i, const uint8_t *data, size_t len)
{
    s_preload_ctx *c = arg;
    s_msg m = {0};
    double now = gxl_now();
    if (s_msg_decode(data, len, &m) != 0)
        return;
    if (m.ok || m.error) {
        c->inflight--;
        if (m.ok) {
            c->acks++;
            gxl_lat_add(&c->lat, now - c->sent_at[m.rid % RING]);
        } else {
            c->errors++;
            s_report_error(&s_errors_shown, &m, "preload post");
        }
    }
    s_msg_fini(&m);
}

static int s_preload(void *ctx, const s_opts *o)
{
    gxl_key *keys = NULL;
    size_t nk = 0;
    if (gxl_keys_read(o->keys, &keys, &nk) != 0)
        return -1;
    gx_wl_opts wl = s_wl(o);
    s_firm_ix *fix = s_firm_index(keys, nk);
    void **socks = s_connect_all(ctx, o, keys, nk);
    s_preload_ctx c = {.sent_at = calloc(RING, sizeof(double))};
    gxl_set set = {0};
    gxl_frame f = {0};
    int rc = -1;
    if (!fix || !socks || !c.sent_at || gxl_set_init(&set, socks, nk) != 0)
        goto out;
    int window = o->window < (int)RING / 2 ? o->window : (int)RING / 2;
    uint64_t next = 0;
    double t0 = gxl_now(), last_progress = t0, last_answer = t0;
    size_t answered = 0;
    while (c.acks + c.errors < o->count) {
        while (next < o->count && c.inflight < (size_t)window) {
            uint64_t g = o->start + next;
            char owner[19];
            if (s_posting(&wl, g % 2 == 0, g / 2, NULL, next + 1, &f, owner) != 0)
                goto out;
            long ix = s_firm_lookup(fix, nk, owner);
            if (ix < 0) {
                fprintf(stderr, "gxload: posting owner %s is not in %s (same --firms and --seed as setup?)\n",
                        owner, o->keys);
                goto out;
            }
            if (gxl_send(socks[ix], &f) != 0)
                break;
            c.sent_at[(next + 1) % RING] = gxl_now();
            gxl_set_touch(&set, (size_t)ix);
            c.inflight++;
            next++;
        }
        gxl_set_pump(&set, 0.05, s_preload_msg, &c);
        double now = gxl_now();
        if (c.acks + c.errors != answered) {
            answered = c.acks + c.errors;
            last_answer = now;
        } else if (now - last_answer > o->timeout) {
            fprintf(stderr, "gxload: preload: no answer for %.0f s (%zu of %" PRIu64 " answered)\n",
                    o->timeout, answered, o->count);
            goto out;
        }
        if (now - last_progress >= o->progress) {
            fprintf(stderr, "gxload preload: %zu/%" PRIu64 " acked (%.0f%%), %.0f/s, %zu errors\n", c.acks,
                    o->count, 100.0 * (double)c.acks / (double)o->count, (double)c.acks / (now - t0),
                    c.errors);
            last_progress = now;
        }
    }
    double secs = gxl_now() - t0;
    printf("{\"posted\":%" PRIu64 ",\"acks\":%zu,\"errors\":%zu,\"seconds\":%.3f,\"acks_per_s\":%.1f,"
           "\"ack_p50_us\":%.0f,\"ack_p99_us\":%.0f,\"start\":%" PRIu64 "}\n",
           o->count, c.acks, c.errors, secs, secs > 0 ? (double)c.acks / secs : 0,
           gxl_lat_quantile(&c.lat, 0.5), gxl_lat_quantile(&c.lat, 0.99), o->start);
    rc = 0;
out:
    gxl_frame_fini(&f);
    gxl_set_fini(&set);
    gxl_lat_fini(&c.lat);
    free(c.sent_at);
    s_close_all(socks, nk);
    free(fix);
    free(keys);
    return rc;
}

/* ---------------------------------------------------------------- ingest */

typedef struct s_client {
    const s_opts *o;
    const gxl_key *key; /* this client's firm */
    void *ctx;
    int c;                 /* client number */
    pthread_barrier_t *go; /* all connected: start together */
    atomic_ulong *next;    /* the ingest posting counter shared by the clients */
    atomic_ulong acks;     /* ok replies within the timed window */
    atomic_ulong errors;   /* error replies within the window */
    int failed;            /* could not connect or send */
    gxl_lat lat;           /* ack latency, every answered posting */
} s_client;

static void *s_client_run(void *arg)
{
    s_client *cl = arg;
    const s_opts *o = cl->o;
    gx_wl_opts wl = s_wl(o);
    double *sent_at = calloc(RING, sizeof(double));
    gxl_frame f = {0};
    void *sock = gxl_socket(cl->ctx, o->endpoint, o->server_key, cl->key->pub, cl->key->sec);
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    e.request_id = ACK_RID;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
    e.ping = &ping;
    s_msg m = {0};
    /* the CURVE handshake and session before the clock starts */
    if (!sent_at || !sock || s_call(sock, &e, o->timeout, &m) != 0) {
        fprintf(stderr, "gxload: ingest client %d could not reach the broker\n", cl->c);
        cl->failed = 1;
    } else
        s_msg_fini(&m);
    pthread_barrier_wait(cl->go);
    if (cl->failed)
        goto out;
    int window = o->window < (int)RING / 2 ? o->window : (int)RING / 2;
    uint64_t n = 0, inflight = 0;
    double start = gxl_now(), end = start + o->seconds, drain_end = end + o->timeout;
    zmq_msg_t z;
    zmq_msg_init(&z);
    for (;;) {
        double now = gxl_now();
        if (now >= end && (inflight == 0 || now >= drain_end))
            break;
        while (now < end && inflight < (uint64_t)window) {
            uint64_t k = atomic_fetch_add(cl->next, 1);
            if (s_posting(&wl, k % 2 == 0, o->start / 2 + k / 2, cl->key->firm, n + 1, &f, NULL) != 0) {
                cl->failed = 1;
                goto done;
            }
            if (gxl_send(sock, &f) != 0)
                break;
            sent_at[(n + 1) % RING] = gxl_now();
            n++;
            inflight++;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        while (zmq_msg_recv(&z, sock, ZMQ_DONTWAIT) >= 0) {
            double t = gxl_now();
            if (s_msg_decode(zmq_msg_data(&z), zmq_msg_size(&z), &m) != 0)
                continue;
            if ((m.ok || m.error) && m.rid >= 1 && m.rid <= n) {
                inflight--;
                gxl_lat_add(&cl->lat, t - sent_at[m.rid % RING]);
                if (t <= end)
                    atomic_fetch_add(m.ok ? &cl->acks : &cl->errors, 1);
                if (m.error)
                    s_report_error(&s_errors_shown, &m, "ingest post");
            }
            s_msg_fini(&m);
        }
    }
done:
    zmq_msg_close(&z);
out:
    gxl_frame_fini(&f);
    free(sent_at);
    if (sock)
        zmq_close(sock);
    return NULL;
}

static int s_ingest(void *ctx, const s_opts *o)
{
    gxl_key *keys = NULL;
    size_t nk = 0;
    if (gxl_keys_read(o->keys, &keys, &nk) != 0)
        return -1;
    if (o->clients < 1 || (size_t)o->clients > nk) {
        fprintf(stderr, "gxload: --clients must be 1..%zu (the firms set up)\n", nk);
        free(keys);
        return -1;
    }
    size_t C = (size_t)o->clients;
    s_client *cl = calloc(C, sizeof *cl);
    pthread_t *th = calloc(C, sizeof *th);
    pthread_barrier_t go;
    atomic_ulong next = 0;
    int rc = -1;
    size_t started = 0;
    if (!cl || !th || pthread_barrier_init(&go, NULL, (unsigned)C + 1) != 0)
        goto out;
    for (size_t i = 0; i < C; i++) {
        cl[i] = (s_client){.o = o, .key = &keys[i], .ctx = ctx, .c = (int)i, .go = &go, .next = &next};
        if (pthread_create(&th[i], NULL, s_client_run, &cl[i]) != 0) {
            fprintf(stderr, "gxload: cannot start client thread %zu\n", i);
            exit(71); /* the barrier would wait forever for the missing thread */
        }
        started++;
    }
    pthread_barrier_wait(&go);
    double t0 = gxl_now();
    fprintf(stderr, "gxload ingest: %zu clients connected, posting for %.1f s, %d in flight each\n", C,
            o->seconds, o->window);
    for (double tick = t0 + o->progress; gxl_now() < t0 + o->seconds; tick += o->progress) {
        double now = gxl_now(), until = tick < t0 + o->seconds ? tick : t0 + o->seconds;
        if (until > now)
            usleep((useconds_t)((until - now) * 1e6));
        unsigned long acks = 0, errs = 0;
        for (size_t i = 0; i < C; i++) {
            acks += atomic_load(&cl[i].acks);
            errs += atomic_load(&cl[i].errors);
        }
        double el = gxl_now() - t0;
        fprintf(stderr, "gxload ingest: %.0f s, %lu acked (%.0f/s), %lu errors\n", el, acks,
                el > 0 ? (double)acks / el : 0, errs);
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    started = 0;
    unsigned long acks = 0, errs = 0;
    int failed = 0;
    gxl_lat all = {0};
    for (size_t i = 0; i < C; i++) {
        acks += atomic_load(&cl[i].acks);
        errs += atomic_load(&cl[i].errors);
        failed |= cl[i].failed;
        gxl_lat_merge(&all, &cl[i].lat);
        gxl_lat_fini(&cl[i].lat);
    }
    printf("{\"acks_per_s\":%.1f,\"ack_p50_us\":%.0f,\"ack_p99_us\":%.0f,\"acks\":%lu,\"clients\":%zu,"
           "\"errors\":%lu,\"window\":%d,\"seconds\":%.3f}\n",
           (double)acks / o->seconds, gxl_lat_quantile(&all, 0.5), gxl_lat_quantile(&all, 0.99), acks, C,
           errs, o->window, o->seconds);
    gxl_lat_fini(&all);
    rc = failed ? -1 : 0;
    pthread_barrier_destroy(&go);
out:
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(cl);
    free(keys);
    return rc;
}

/* ---------------------------------------------------------------- notice */

/* posting id -> notice posting number, or a notice that came before the reply. */
typedef struct s_slot {
    uint64_t id;      /* broker posting id; 0 = empty */
    int64_t k;        /* posting number, or -1: only notices seen so far */
    double seen_any;  /* k == -1: when a notice naming it arrived */
    double seen_cand; /* k == -1: when a candidate_added about it arrived */
} s_slot;

typedef struct s_notice_ctx {
    const s_opts *o;
    gxl_set *set;
    void **socks;
    size_t n_posts;    /* postings planned */
    double t0;         /* scheduled time of posting 0 */
    uint64_t *picked;  /* per posting: the workload demand index */
    double *first;     /* per posting: first candidate_added, 0 = none yet */
    double *first_any; /* per posting: first notice of any kind naming it */
    double *sent;      /* per posting: actual send time */
    s_slot *map;       /* open addressing, cap a power of two */
    size_t cap, used;
    uint64_t *seq, *acked; /* per socket: highest notice seq, highest acked */
    gxl_lat ack_lat;       /* scheduled send -> reply */
    size_t replies, errors, notice_msgs, notified, notified_any;
    gxl_frame af; /* Ack frames */
    uint64_t ack_rid;
} s_notice_ctx;

static s_slot *s_map_find(s_notice_ctx *c, uint64_t id, bool insert)
{
    size_t h = (size_t)(id * UINT64_C(0x9E3779B97F4A7C15)) & (c->cap - 1);
    for (size_t probe = 0; probe < c->cap; probe++, h = (h + 1) & (c->cap - 1)) {
        if (c->map[h].id == id)
            return &c->map[h];
        if (c->map[h].id == 0) {
            if (!insert || c->used * 2 >= c->cap)
                return NULL;
            c->used++;
            c->map[h].id = id;
            c->map[h].k = -1;
            c->map[h].seen_any = c->map[h].seen_cand = 0;
            return &c->map[h];
        }
    }
    return NULL;
}

static double s_sched(const s_notice_ctx *c, size_t k)
{
    return c->t0 + (double)k / c->o->rate;
}

/* Records the first arrival of a notice (or of a candidate_added) for posting k. */
static void s_first(s_notice_ctx *c, size_t k, double at, bool cand)
{
    if (!c->first_any[k]) {
        c->first_any[k] = at;
        c->notified_any++;
    }
    if (cand && !c->first[k]) {
        c->first[k] = at;
        c->notified++;
    }
}

/* A notice naming demand `id` arrived at `now`; cand: a candidate_added. */
static void s_notice_about(s_notice_ctx *c, uint64_t id, double now, bool cand)
{
    if (!id)
        return;
    s_slot *s = s_map_find(c, id, true);
    if (!s)
        return;
    if (s->k >= 0) {
        s_first(c, (size_t)s->k, now, cand);
        return;
    }
    if (!s->seen_any) /* the reply is not here yet */
        s->seen_any = now;
    if (cand && !s->seen_cand)
        s->seen_cand = now;
}

static void s_notice_msg(void *arg, size_t i, const uint8_t *data, size_t len)
{
    s_notice_ctx *c = arg;
    double now = gxl_now();
    s_msg m = {0};
    if (s_msg_decode(data, len, &m) != 0)
        return;
    if (m.notice) {
        const Gongxu__V1__Notice *n = m.env->notice;
        c->notice_msgs++;
        switch (n->body_case) { /* only demands are posted: the demand id names the posting */
        case GONGXU__V1__NOTICE__BODY_CANDIDATE_ADDED:
            s_notice_about(c, n->candidate_added->demand_id, now, true);
            break;
        case GONGXU__V1__NOTICE__BODY_CANDIDATE_REMOVED:
            s_notice_about(c, n->candidate_removed->demand_id, now, false);
            break;
        case GONGXU__V1__NOTICE__BODY_OPPORTUNITY:
            if (n->opportunity->demand)
                s_notice_about(c, n->opportunity->demand->id, now, false);
            break;
        case GONGXU__V1__NOTICE__BODY_NEAR_MISS:
            if (n->near_miss->demand)
                s_notice_about(c, n->near_miss->demand->id, now, false);
            break;
        default:
            break;
        }
        if (n->seq > c->seq[i])
            c->seq[i] = n->seq;
        if (c->seq[i] - c->acked[i] >= 64) { /* keep the delivery window open, as a real client does */
            Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
            Gongxu__V1__Ack ack = GONGXU__V1__ACK__INIT;
            ack.seq = c->seq[i];
            e.request_id = ACK_RID + ++c->ack_rid;
            e.body_case = GONGXU__V1__ENVELOPE__BODY_ACK;
            e.ack = &ack;
            if (gxl_frame_pack(&c->af, &e) == 0 && gxl_send(c->socks[i], &c->af) == 0) {
                c->acked[i] = c->seq[i];
                gxl_set_touch(c->set, i);
            }
        }
    } else if ((m.ok || m.error) && m.rid >= 1 && m.rid <= c->n_posts) {
        size_t k = (size_t)(m.rid - 1);
        c->replies++;
        if (m.error) {
            c->errors++;
            s_report_error(&s_errors_shown, &m, "notice post");
        } else if (m.env->reply->result_case == GONGXU__V1__REPLY__RESULT_POSTING) {
            gxl_lat_add(&c->ack_lat, now - s_sched(c, k));
            s_slot *s = s_map_find(c, m.env->reply->posting->id, true);
            if (s) {
                if (s->k < 0 && s->seen_any) /* its notices overtook the reply */
                    s_first(c, k, s->seen_any, false);
                if (s->k < 0 && s->seen_cand)
                    s_first(c, k, s->seen_cand, true);
                s->k = (int64_t)k;
            }
        }
    } else if (m.error && m.rid > ACK_RID) {
        c->errors++;
        s_report_error(&s_errors_shown, &m, "ack");
    }
    s_msg_fini(&m);
}

static int s_notice(void *ctx, const s_opts *o)
{
    gxl_key *keys = NULL;
    size_t nk = 0;
    if (o->rate <= 0 || o->rate > 1e6 || o->seconds <= 0) {
        fprintf(stderr, "gxload: notice needs --rate in (0, 1e6] and --seconds > 0\n");
        return -1;
    }
    if (gxl_keys_read(o->keys, &keys, &nk) != 0)
        return -1;
    gx_wl_opts wl = s_wl(o);
    s_firm_ix *fix = s_firm_index(keys, nk);
    void **socks = s_connect_all(ctx, o, keys, nk);
    gxl_set set = {0};
    gxl_frame f = {0};
    s_notice_ctx c = {.o = o, .set = &set, .socks = socks};
    c.n_posts = (size_t)(o->rate * o->seconds);
    c.cap = 1024;
    while (c.cap < 4 * c.n_posts + 65536)
        c.cap *= 2;
    c.first = calloc(c.n_posts + 1, sizeof *c.first);
    c.first_any = calloc(c.n_posts + 1, sizeof *c.first_any);
    c.picked = calloc(c.n_posts + 1, sizeof *c.picked);
    c.sent = calloc(c.n_posts + 1, sizeof *c.sent);
    c.map = calloc(c.cap, sizeof *c.map);
    c.seq = calloc(nk, sizeof *c.seq);
    c.acked = calloc(nk, sizeof *c.acked);
    gxl_lat lat = {0}, lat_any = {0}, lag = {0};
    int rc = -1;
    if (!fix || !socks || !c.first || !c.first_any || !c.picked || !c.sent || !c.map || !c.seq || !c.acked ||
        gxl_set_init(&set, socks, nk) != 0)
        goto out;
    double tp = gxl_now();
    if (gxl_pick(&wl, o->start, c.n_posts, c.picked) != 0)
        goto out;
    fprintf(stderr, "gxload notice: picked %zu demands with an eligible preloaded offer in %.1f s\n",
            c.n_posts, gxl_now() - tp);
    /* every firm online: Resume at the head of its inbox (only new notices) */
    for (size_t i = 0; i < nk; i++) {
        Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
        Gongxu__V1__Resume r = GONGXU__V1__RESUME__INIT;
        r.after_seq = UINT64_MAX;
        e.request_id = ACK_RID;
        e.body_case = GONGXU__V1__ENVELOPE__BODY_RESUME;
        e.resume = &r;
        s_msg m = {0};
        if (s_call(socks[i], &e, o->timeout, &m) != 0 || !m.ok) {
            fprintf(stderr, "gxload: notice: firm %s could not resume\n", keys[i].firm);
            s_msg_fini(&m);
            goto out;
        }
        if (m.env->reply->result_case == GONGXU__V1__REPLY__RESULT_RESUME && m.env->reply->resume)
            c.seq[i] = c.acked[i] = m.env->reply->resume->resumed_after;
        s_msg_fini(&m);
        gxl_set_touch(&set, i);
    }
    fprintf(stderr, "gxload notice: %zu firms online, posting %zu at %.0f/s\n", nk, c.n_posts, o->rate);
    c.t0 = gxl_now() + 0.1;
    size_t k = 0;
    /* After the last send: wait for every reply (giving up after --timeout
     * seconds without one), then up to 2 s more for the notices. A demand
     * still without its notice then counts with its latency so far (a lower
     * bound, "censored"), so an overloaded broker cannot look fast by
     * answering only some of the load. */
    double last_progress = c.t0, last_reply = 0, all_replied = 0;
    size_t replies_seen = 0;
    for (;;) {
        double now = gxl_now();
        while (k < c.n_posts && s_sched(&c, k) <= now) {
            char owner[19];
            if (s_posting(&wl, true, c.picked[k], NULL, k + 1, &f, owner) != 0)
                goto out;
            long ix = s_firm_lookup(fix, nk, owner);
            if (ix < 0) {
                fprintf(stderr, "gxload: posting owner %s is not in %s\n", owner, o->keys);
                goto out;
            }
            if (gxl_send(socks[ix], &f) != 0) {
                fprintf(stderr, "gxload: notice: send refused (high-water mark)\n");
                goto out;
            }
            c.sent[k] = gxl_now();
            gxl_set_touch(&set, (size_t)ix);
            k++;
            now = gxl_now();
        }
        if (k == c.n_posts) {
            if (c.replies != replies_seen || !last_reply) {
                replies_seen = c.replies;
                last_reply = now;
            }
            if (c.replies == c.n_posts && !all_replied)
                all_replied = now;
            if (all_replied &&
                (now >= all_replied + 2.0 || (c.notified == c.n_posts && c.notified_any == c.n_posts)))
                break;
            if (!all_replied && now - last_reply > o->timeout) {
                fprintf(stderr, "gxload notice: %zu of %zu demands unanswered after %.0f s without a reply\n",
                        c.n_posts - c.replies, c.n_posts, o->timeout);
                break;
            }
        }
        if (now - last_progress >= o->progress) {
            fprintf(stderr,
                    "gxload notice: %zu posted, %zu acked, %zu with their candidate notice, %zu notices, "
                    "%zu errors\n",
                    k, c.replies, c.notified, c.notice_msgs, c.errors);
            last_progress = now;
        }
        double wait = k < c.n_posts ? s_sched(&c, k) - now : 0.05;
        gxl_set_pump(&set, wait > 0.05 ? 0.05 : wait, s_notice_msg, &c);
    }
    double t_end = gxl_now();
    size_t censored = 0;
    for (size_t i = 0; i < c.n_posts; i++) {
        censored += !c.first[i];
        gxl_lat_add(&lat, (c.first[i] ? c.first[i] : t_end) - s_sched(&c, i));
        gxl_lat_add(&lat_any, (c.first_any[i] ? c.first_any[i] : t_end) - s_sched(&c, i));
        gxl_lat_add(&lag, c.sent[i] - s_sched(&c, i));
    }
    printf("{\"notice_p50_us\":%.0f,\"notice_p99_us\":%.0f,\"notices\":%zu,\"posted\":%zu,\"rate\":%.1f,"
           "\"any_notice_p50_us\":%.0f,\"any_notice_p99_us\":%.0f,\"notified_any\":%zu,"
           "\"acked\":%zu,\"errors\":%zu,\"ack_p50_us\":%.0f,\"ack_p99_us\":%.0f,\"notice_messages\":%zu,"
           "\"send_lag_p99_us\":%.0f,\"firms_online\":%zu,\"seconds\":%.3f,\"censored\":%zu,"
           "\"wall_seconds\":%.3f}\n",
           gxl_lat_quantile(&lat, 0.5), gxl_lat_quantile(&lat, 0.99), c.notified, c.n_posts, o->rate,
           gxl_lat_quantile(&lat_any, 0.5), gxl_lat_quantile(&lat_any, 0.99), c.notified_any,
           c.replies - c.errors, c.errors, gxl_lat_quantile(&c.ack_lat, 0.5),
           gxl_lat_quantile(&c.ack_lat, 0.99), c.notice_msgs, gxl_lat_quantile(&lag, 0.99), nk, o->seconds,
           censored, t_end - c.t0);
    rc = 0;
out:
    gxl_lat_fini(&lat);
    gxl_lat_fini(&lat_any);
    gxl_lat_fini(&lag);
    gxl_lat_fini(&c.ack_lat);
    gxl_frame_fini(&c.af);
    gxl_frame_fini(&f);
    gxl_set_fini(&set);
    free(c.first);
    free(c.first_any);
    free(c.picked);
    free(c.sent);
    free(c.map);
    free(c.seq);
    free(c.acked);
    s_close_all(socks, nk);
    free(fix);
    free(keys);
    return rc;
}

/* ---------------------------------------------------------------- steady */

/* One steady client: a firm's connection sending Pings on a fixed schedule. */
typedef struct s_steady {
    const s_opts *o;
    const gxl_key *key;    /* this client's firm */
    void *ctx;             /* ZeroMQ context */
    int c;                 /* client number */
    pthread_barrier_t *go; /* all connected: start together */
    atomic_int *stop;      /* main: stop sending */
    double *sched;         /* per request: its scheduled send time (owned) */
    double *lat;           /* per request: latency in seconds, -1 = no answer */
    size_t n, cap;         /* requests sent, allocated */
    size_t errors;         /* error replies */
    int failed;            /* could not connect or send */
} s_steady;

static void *s_steady_run(void *arg)
{
    s_steady *cl = arg;
    const s_opts *o = cl->o;
    void *sock = gxl_socket(cl->ctx, o->endpoint, o->server_key, cl->key->pub, cl->key->sec);
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    e.request_id = ACK_RID;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
    e.ping = &ping;
    gxl_frame f = {0};
    s_msg m = {0};
    if (!sock || s_call(sock, &e, o->timeout, &m) != 0) { /* handshake and session first */
        fprintf(stderr, "gxload: steady client %d could not reach the broker\n", cl->c);
        cl->failed = 1;
    } else
        s_msg_fini(&m);
    pthread_barrier_wait(cl->go);
    if (cl->failed)
        goto out;
    /* client c sends request k at t0 + (k * C + c) / RATE: the clients interleave */
    double step = (double)o->clients / o->rate, first = gxl_now() + (double)cl->c / o->rate;
    size_t answered = 0;
    double drain_end = 0;
    zmq_msg_t z;
    zmq_msg_init(&z);
    for (;;) {
        double now = gxl_now();
        bool stopping = atomic_load(cl->stop) != 0;
        if (stopping && drain_end == 0)
            drain_end = now + o->timeout;
        if (stopping && (answered == cl->n || now >= drain_end))
            break;
        while (!stopping && first + (double)cl->n * step <= now) {
            if (cl->n == cl->cap) {
                size_t cap = cl->cap ? 2 * cl->cap : 4096;
                double *s = realloc(cl->sched, cap * sizeof *s);
                if (s)
                    cl->sched = s;
                double *l = s ? realloc(cl->lat, cap * sizeof *l) : NULL;
                if (!l) {
                    cl->failed = 1;
                    goto done;
                }
                cl->lat = l;
                cl->cap = cap;
            }
            e.request_id = cl->n + 1;
            if (gxl_frame_pack(&f, &e) != 0 || gxl_send(sock, &f) != 0) {
                fprintf(stderr, "gxload: steady client %d cannot send\n", cl->c);
                cl->failed = 1;
                goto done;
            }
            cl->sched[cl->n] = first + (double)cl->n * step; /* latency from the schedule: a stalled
                                                                 broker delays the sends behind it too */
            cl->lat[cl->n] = -1;
            cl->n++;
        }
        double wait = stopping ? 0.01 : first + (double)cl->n * step - gxl_now();
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, wait > 0 ? (long)(wait * 1000) : 0);
        while (zmq_msg_recv(&z, sock, ZMQ_DONTWAIT) >= 0) {
            double t = gxl_now();
            if (s_msg_decode(zmq_msg_data(&z), zmq_msg_size(&z), &m) != 0)
                continue;
            if ((m.ok || m.error) && m.rid >= 1 && m.rid <= cl->n && cl->lat[m.rid - 1] < 0) {
                cl->lat[m.rid - 1] = t - cl->sched[m.rid - 1];
                answered++;
                if (m.error) {
                    cl->errors++;
                    s_report_error(&s_errors_shown, &m, "steady ping");
                }
            }
            s_msg_fini(&m);
        }
    }
done:
    zmq_msg_close(&z);
out:
    gxl_frame_fini(&f);
    if (sock)
        zmq_close(sock);
    return NULL;
}

/* Pings at RATE from CLIENTS firms until SECONDS pass or, with --until-eof,
 * stdin closes; every request's scheduled send time and latency go to
 * --samples (one "SEND_S LATENCY_US" line each, CLOCK_MONOTONIC seconds,
 * latency -1 when unanswered) for tests/bench/run to split around a snapshot. */
static int s_steady_mode(void *ctx, const s_opts *o)
{
    gxl_key *keys = NULL;
    size_t nk = 0;
    if (!o->samples || o->rate <= 0) {
        fprintf(stderr, "gxload: steady needs --samples FILE and --rate > 0\n");
        return -1;
    }
    if (gxl_keys_read(o->keys, &keys, &nk) != 0)
        return -1;
    if (o->clients < 1 || (size_t)o->clients > nk) {
        fprintf(stderr, "gxload: --clients must be 1..%zu (the firms set up)\n", nk);
        free(keys);
        return -1;
    }
    size_t C = (size_t)o->clients, started = 0;
    s_steady *cl = calloc(C, sizeof *cl);
    pthread_t *th = calloc(C, sizeof *th);
    pthread_barrier_t go;
    atomic_int stop = 0;
    bool barrier = false;
    int rc = -1;
    FILE *out = NULL;
    gxl_lat all = {0};
    if (!cl || !th || pthread_barrier_init(&go, NULL, (unsigned)C + 1) != 0)
        goto out;
    barrier = true;
    for (size_t i = 0; i < C; i++) {
        cl[i] = (s_steady){.o = o, .key = &keys[i], .ctx = ctx, .c = (int)i, .go = &go, .stop = &stop};
        if (pthread_create(&th[i], NULL, s_steady_run, &cl[i]) != 0) {
            fprintf(stderr, "gxload: cannot start client thread %zu\n", i);
            exit(71); /* the barrier would wait forever for the missing thread */
        }
        started++;
    }
    pthread_barrier_wait(&go);
    double t0 = gxl_now();
    fprintf(stderr, "gxload steady: %zu clients, %.0f Pings/s%s\n", C, o->rate,
            o->until_eof ? " until stdin closes" : "");
    double end = t0 + o->seconds;
    while (gxl_now() < end) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        double left = end - gxl_now();
        if (!o->until_eof) {
            usleep((useconds_t)((left < 0.1 ? left : 0.1) * 1e6));
            continue;
        }
        if (poll(&p, 1, left < 0.1 ? (int)(left * 1000) : 100) > 0) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0)
                break; /* stdin closed: the run is over */
        }
    }
    double secs = gxl_now() - t0;
    atomic_store(&stop, 1);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    started = 0;
    if (!(out = fopen(o->samples, "w"))) {
        fprintf(stderr, "gxload: %s: cannot write\n", o->samples);
        goto out;
    }
    size_t sent = 0, lost = 0, errors = 0;
    int failed = 0;
    for (size_t i = 0; i < C; i++) {
        failed |= cl[i].failed;
        errors += cl[i].errors;
        sent += cl[i].n;
        for (size_t k = 0; k < cl[i].n; k++) {
            fprintf(out, "%.6f %.1f\n", cl[i].sched[k], cl[i].lat[k] < 0 ? -1.0 : cl[i].lat[k] * 1e6);
            if (cl[i].lat[k] < 0)
                lost++;
            else
                gxl_lat_add(&all, cl[i].lat[k]);
        }
    }
    if (fclose(out) != 0) {
        out = NULL;
        fprintf(stderr, "gxload: %s: cannot write\n", o->samples);
        goto out;
    }
    out = NULL;
    printf("{\"sent\":%zu,\"answered\":%zu,\"lost\":%zu,\"errors\":%zu,\"clients\":%zu,\"rate\":%.1f,"
           "\"seconds\":%.3f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}\n",
           sent, sent - lost, lost, errors, C, o->rate, secs, gxl_lat_quantile(&all, 0.5),
           gxl_lat_quantile(&all, 0.99), gxl_lat_quantile(&all, 1.0));
    rc = failed || errors ? -1 : 0;
out:
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (out)
        fclose(out);
    if (barrier)
        pthread_barrier_destroy(&go);
    for (size_t i = 0; cl && i < C; i++) {
        free(cl[i].sched);
        free(cl[i].lat);
    }
    gxl_lat_fini(&all);
    free(th);
    free(cl);
    free(keys);
    return rc;
}

/* ---------------------------------------------------------------- ping, stats */

static int s_ping(void *ctx, const s_opts *o)
{
    double t0 = gxl_now();
    void *sock = s_operator_socket(ctx, o);
    if (!sock)
        return -1;
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    e.request_id = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
    e.ping = &ping;
    s_msg m = {0};
    int rc = s_call(sock, &e, o->timeout, &m);
    if (rc == 0) {
        printf("{\"ready\":%s,\"seconds\":%.3f}\n", m.ok ? "true" : "false", gxl_now() - t0);
        rc = m.ok ? 0 : -1;
        s_msg_fini(&m);
    } else
        fprintf(stderr, "gxload: ping: no answer within %.0f s\n", o->timeout);
    zmq_close(sock);
    return rc;
}

static int s_stats(void *ctx, const s_opts *o)
{
    void *sock = s_operator_socket(ctx, o);
    if (!sock)
        return -1;
    Gongxu__V1__Envelope e = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__GetStats gs = GONGXU__V1__GET_STATS__INIT;
    e.request_id = 1;
    e.body_case = GONGXU__V1__ENVELOPE__BODY_GET_STATS;
    e.get_stats = &gs;
    s_msg m = {0};
    int rc = s_call(sock, &e, o->timeout, &m);
    if (rc == 0 && m.ok && m.env->reply->result_case == GONGXU__V1__REPLY__RESULT_STATS) {
        const Gongxu__V1__Stats *s = m.env->reply->stats;
        printf("{\"firms\":%" PRIu64 ",\"demands_open\":%" PRIu64 ",\"offers_open\":%" PRIu64
               ",\"matches\":%" PRIu64 ",\"near_misses\":%" PRIu64 ",\"notices\":%" PRIu64
               ",\"requests\":%" PRIu64 ",\"demands_unmatched\":%" PRIu64 "}\n",
               s->firms, s->demands_open, s->offers_open, s->matches, s->near_misses, s->notices, s->requests,
               s->demands_unmatched);
    } else {
        fprintf(stderr, "gxload: stats: no answer\n");
        rc = -1;
    }
    s_msg_fini(&m);
    zmq_close(sock);
    return rc;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        s_usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 64;
    }
    s_opts o = {.mode = argv[1],
                .firms = 100,
                .now = (int64_t)time(NULL),
                .count = 1000,
                .clients = 8,
                .window = 16,
                .seconds = 5,
                .rate = 1000,
                .timeout = 60,
                .progress = 2};
    const char *server_key = NULL;
    static const struct option lo[] = {{"endpoint", 1, 0, 'e'},
                                       {"server-key", 1, 0, 'k'},
                                       {"operator-key", 1, 0, 'O'},
                                       {"keys", 1, 0, 'K'},
                                       {"seed", 1, 0, 's'},
                                       {"firms", 1, 0, 'f'},
                                       {"now", 1, 0, 'n'},
                                       {"start", 1, 0, 'S'},
                                       {"count", 1, 0, 'c'},
                                       {"clients", 1, 0, 'C'},
                                       {"window", 1, 0, 'w'},
                                       {"seconds", 1, 0, 't'},
                                       {"rate", 1, 0, 'r'},
                                       {"timeout", 1, 0, 'T'},
                                       {"progress", 1, 0, 'p'},
                                       {"samples", 1, 0, 'M'},
                                       {"until-eof", 0, 0, 'U'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'e':
            o.endpoint = optarg;
            break;
        case 'k':
            server_key = optarg;
            break;
        case 'O':
            o.operator_key = optarg;
            break;
        case 'K':
            o.keys = optarg;
            break;
        case 's':
            o.seed = strtoull(optarg, NULL, 0);
            break;
        case 'f':
            o.firms = strtoul(optarg, NULL, 10);
            break;
        case 'n':
            o.now = strtoll(optarg, NULL, 10);
            break;
        case 'S':
            o.start = strtoull(optarg, NULL, 10);
            break;
        case 'c':
            o.count = strtoull(optarg, NULL, 10);
            break;
        case 'C':
            o.clients = atoi(optarg);
            break;
        case 'w':
            o.window = atoi(optarg);
            break;
        case 't':
            o.seconds = atof(optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'T':
            o.timeout = atof(optarg);
            break;
        case 'p':
            o.progress = atof(optarg);
            break;
        case 'M':
            o.samples = optarg;
            break;
        case 'U':
            o.until_eof = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 64;
        }
    }
    if (!o.endpoint || !server_key || o.firms < 2 || o.window < 1 || o.seconds <= 0 || o.seconds > 3600 ||
        o.timeout <= 0 || o.progress <= 0 || o.count > (UINT64_C(1) << 39)) {
        fprintf(stderr,
                "gxload: --endpoint and --server-key are required (use --server-key '' without CURVE); "
                "--firms >= 2, --window >= 1, 0 < --seconds <= 3600\n");
        return 64;
    }
    if (server_key[0] && gxl_server_key(server_key, o.server_key) != 0)
        return 66;
    bool needs_keys = strcmp(o.mode, "ping") != 0 && strcmp(o.mode, "stats") != 0;
    if (needs_keys && !o.keys) {
        fprintf(stderr, "gxload: %s needs --keys FILE\n", o.mode);
        return 64;
    }
    void *ctx = zmq_ctx_new();
    int rc;
    if (strcmp(o.mode, "setup") == 0)
        rc = s_setup(ctx, &o);
    else if (strcmp(o.mode, "preload") == 0)
        rc = s_preload(ctx, &o);
    else if (strcmp(o.mode, "ingest") == 0)
        rc = s_ingest(ctx, &o);
    else if (strcmp(o.mode, "notice") == 0)
        rc = s_notice(ctx, &o);
    else if (strcmp(o.mode, "steady") == 0)
        rc = s_steady_mode(ctx, &o);
    else if (strcmp(o.mode, "ping") == 0)
        rc = s_ping(ctx, &o);
    else if (strcmp(o.mode, "stats") == 0)
        rc = s_stats(ctx, &o);
    else {
        fprintf(stderr, "gxload: unknown mode '%s'\n", o.mode);
        s_usage(stderr);
        rc = -2;
    }
    zmq_ctx_term(ctx);
    return rc == 0 ? 0 : rc == -2 ? 64 : 1;
}
