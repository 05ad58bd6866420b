/* gxflood — loads a gongxud the way a careless or hostile client would, for the
 * flood tests and the group-commit benchmark. Usage:
 *   gxflood ENDPOINT SERVER_KEY|- KEYFILE|- SECONDS [MODE] [WINDOW] [RATE]
 * MODE:
 *   ping    Ping requests as fast as one connection can (default);
 *   post    PostOffer requests (durable writes);
 *   list    ListPostings requests;
 *   resume  Resume(after_seq 0) on WINDOW connections, never reading anything;
 *   keys    WINDOW connections, each with a fresh random key the broker does
 *           not know: one CURVE handshake each (no reconnect), nothing sent.
 * WINDOW caps requests in flight for ping/post/list (0 = no cap); RATE caps
 * requests per second over all connections (0 = no cap). Prints "sent N replies
 * R ok K rate_limited L other E seconds S" when done. Bounded in time; loopback
 * only (the tests start the broker it talks to). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include <gongxu/keyfile.h>

#include "gongxu/v1/gongxu.pb-c.h"

#define S_CONNS_MAX 10000

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A DEALER to endpoint; with stingy, it takes in as little as ZeroMQ and the
 * kernel allow, so that what it does not read stays with the broker. */
static void *s_socket(void *ctx, const char *endpoint, const char *server_key, const char *pub,
                      const char *sec, bool stingy)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, one = 1, big = 1000000, never = -1, small = 4096;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &big, sizeof big);
    zmq_setsockopt(s, ZMQ_RCVHWM, stingy ? &one : &big, sizeof big);
    if (stingy)
        zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
    if (server_key) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &never, sizeof never); /* one handshake per socket */
    }
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "gxflood: connect: %s\n", zmq_strerror(zmq_errno()));
        exit(69);
    }
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: gxflood ENDPOINT SERVER_KEY|- KEYFILE|- SECONDS [ping|post|list|resume|keys] "
                        "[WINDOW] [RATE]\n");
        return 64;
    }
    double seconds = atof(argv[4]);
    if (seconds <= 0 || seconds > 120) {
        fprintf(stderr, "gxflood: SECONDS must be in (0, 120]\n");
        return 64;
    }
    const char *mode = argc > 5 ? argv[5] : "ping";
    unsigned long window = argc > 6 ? strtoul(argv[6], NULL, 10) : 0;
    double rate = argc > 7 ? atof(argv[7]) : 0;
    bool keys = strcmp(mode, "keys") == 0, resume = strcmp(mode, "resume") == 0;
    const char *server_key = strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    char pub[41] = "", sec[41] = "", err[256];
    if (server_key && !keys && (gx_keyfile_read(argv[3], pub, sec, err, sizeof err) != 0 || !sec[0])) {
        fprintf(stderr, "gxflood: %s\n", err);
        return 66;
    }
    size_t nconns = keys || resume ? (window ? window : 1) : 1;
    if (nconns > S_CONNS_MAX) {
        fprintf(stderr, "gxflood: at most %d connections\n", S_CONNS_MAX);
        return 64;
    }
    void *ctx = zmq_ctx_new();
    int maxsockets = (int)nconns + 16;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, maxsockets);
    void **socks = calloc(nconns, sizeof *socks);
    for (size_t i = 0; i < nconns; i++) {
        if (keys) /* a key nobody registered */
            zmq_curve_keypair(pub, sec);
        socks[i] = s_socket(ctx, argv[1], server_key, pub, sec, resume);
    }
    double start = s_now(), end = start + seconds;
    unsigned long sent = 0, replies = 0, ok = 0, limited = 0, other = 0;
    if (keys) {
        while (s_now() < end)
            zmq_poll(NULL, 0, 50);
        goto done;
    }
    Gongxu__V1__Envelope env = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    Gongxu__V1__PostOffer po = GONGXU__V1__POST_OFFER__INIT;
    Gongxu__V1__Offer offer = GONGXU__V1__OFFER__INIT;
    Gongxu__V1__ListPostings lp = GONGXU__V1__LIST_POSTINGS__INIT;
    Gongxu__V1__Resume rs = GONGXU__V1__RESUME__INIT;
    Gongxu__V1__Kind kinds[] = {GONGXU__V1__KIND__PROCESSING};
    char *procs[] = {"surface.anodizing"};
    env.version = 1;
    env.request_id = 1;
    if (strcmp(mode, "post") ==
        0) { /* an offer that matches nothing the benchmark posts: the cost is the write */
        offer.n_kinds = 1;
        offer.kinds = kinds;
        offer.n_processes = 1;
        offer.processes = procs;
        offer.monthly_capacity = 1000;
        offer.title = "bench";
        po.offer = &offer;
        env.body_case = GONGXU__V1__ENVELOPE__BODY_POST_OFFER;
        env.post_offer = &po;
    } else if (strcmp(mode, "list") == 0) {
        env.body_case = GONGXU__V1__ENVELOPE__BODY_LIST_POSTINGS;
        env.list_postings = &lp;
    } else if (resume) {
        env.body_case = GONGXU__V1__ENVELOPE__BODY_RESUME;
        env.resume = &rs;
    } else {
        env.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
    }
    uint8_t frame[256];
    size_t len = gongxu__v1__envelope__pack(&env, frame);
    size_t next = 0;
    while (s_now() < end) {
        for (int i = 0; i < 256 && (resume || !window || sent - replies < window); i++) {
            if (rate > 0 && sent >= rate * (s_now() - start))
                break;
            if (zmq_send(socks[next], frame, len, ZMQ_DONTWAIT) == (int)len)
                sent++;
            next = (next + 1) % nconns;
        }
        if (resume || (rate > 0 && sent >= rate * (s_now() - start))) {
            zmq_poll(NULL, 0, 1); /* paced: wait rather than spin */
            if (resume)
                continue; /* never reads */
        }
        if (window && sent - replies >= window) /* wait for a reply rather than spin */
            zmq_poll((zmq_pollitem_t[]){{socks[0], 0, ZMQ_POLLIN, 0}}, 1, 100);
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, socks[0], ZMQ_DONTWAIT) >= 0) {
            Gongxu__V1__Envelope *r = gongxu__v1__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            replies++;
            if (r && r->body_case == GONGXU__V1__ENVELOPE__BODY_REPLY)
                ok++;
            else if (r && r->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR &&
                     r->error->code == GONGXU__V1__ERROR_CODE__ERR_RATE_LIMITED)
                limited++;
            else
                other++;
            if (r)
                gongxu__v1__envelope__free_unpacked(r, NULL);
        }
        zmq_msg_close(&m);
    }
done:
    printf("sent %lu replies %lu ok %lu rate_limited %lu other %lu seconds %.3f\n", sent, replies, ok, limited,
           other, s_now() - start);
    fflush(stdout);
    for (size_t i = 0; i < nconns; i++)
        zmq_close(socks[i]);
    free(socks);
    zmq_ctx_term(ctx);
    return 0;
}
