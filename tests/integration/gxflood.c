/* gxflood — sends requests to a gongxud as fast as one connection can, for the
 * flood tests and the group-commit benchmark. Usage:
 *   gxflood ENDPOINT SERVER_KEY|- KEYFILE|- SECONDS [ping|post] [WINDOW]
 * ping: Ping requests; post: PostOffer requests (durable writes). WINDOW caps
 * requests in flight (0 = no cap). Prints "sent N replies R ok K rate_limited L
 * other E seconds S" when done. Bounded in time; loopback only (the tests
 * start the broker it talks to). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include <gongxu/keyfile.h>

#include "gongxu/v1/gongxu.pb-c.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: gxflood ENDPOINT SERVER_KEY|- KEYFILE|- SECONDS [ping]\n");
        return 64;
    }
    double seconds = atof(argv[4]);
    if (seconds <= 0 || seconds > 120) {
        fprintf(stderr, "gxflood: SECONDS must be in (0, 120]\n");
        return 64;
    }
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, big = 1000000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &big, sizeof big);
    zmq_setsockopt(s, ZMQ_RCVHWM, &big, sizeof big);
    if (strcmp(argv[2], "-") != 0) {
        char pub[41], sec[41], err[256];
        if (gx_keyfile_read(argv[3], pub, sec, err, sizeof err) != 0 || !sec[0]) {
            fprintf(stderr, "gxflood: %s\n", err);
            return 66;
        }
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, argv[2], 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    if (zmq_connect(s, argv[1]) != 0) {
        fprintf(stderr, "gxflood: connect: %s\n", zmq_strerror(zmq_errno()));
        return 69;
    }
    bool post = argc > 5 && strcmp(argv[5], "post") == 0;
    unsigned long window = argc > 6 ? strtoul(argv[6], NULL, 10) : 0;
    Gongxu__V1__Envelope env = GONGXU__V1__ENVELOPE__INIT;
    Gongxu__V1__Ping ping = GONGXU__V1__PING__INIT;
    Gongxu__V1__PostOffer po = GONGXU__V1__POST_OFFER__INIT;
    Gongxu__V1__Offer offer = GONGXU__V1__OFFER__INIT;
    Gongxu__V1__Kind kinds[] = {GONGXU__V1__KIND__PROCESSING};
    char *procs[] = {"surface.anodizing"};
    env.version = 1;
    env.request_id = 1;
    if (post) { /* an offer that matches nothing the benchmark posts: the cost is the durable write */
        offer.n_kinds = 1;
        offer.kinds = kinds;
        offer.n_processes = 1;
        offer.processes = procs;
        offer.monthly_capacity = 1000;
        offer.title = "bench";
        po.offer = &offer;
        env.body_case = GONGXU__V1__ENVELOPE__BODY_POST_OFFER;
        env.post_offer = &po;
    } else {
        env.body_case = GONGXU__V1__ENVELOPE__BODY_PING;
        env.ping = &ping;
    }
    uint8_t frame[256];
    size_t len = gongxu__v1__envelope__pack(&env, frame);
    unsigned long sent = 0, replies = 0, ok = 0, limited = 0, other = 0;
    double start = s_now(), end = start + seconds;
    while (s_now() < end) {
        for (int i = 0; i < 256 && (!window || sent - replies < window); i++)
            if (zmq_send(s, frame, len, ZMQ_DONTWAIT) == (int)len)
                sent++;
        if (window && sent - replies >= window) /* wait for a reply rather than spin */
            zmq_poll((zmq_pollitem_t[]){{s, 0, ZMQ_POLLIN, 0}}, 1, 100);
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0) {
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
    printf("sent %lu replies %lu ok %lu rate_limited %lu other %lu seconds %.3f\n", sent, replies, ok, limited,
           other, s_now() - start);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
